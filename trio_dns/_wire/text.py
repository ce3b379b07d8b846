"""Presentation form: splitting zone-file text into tokens, and reading them back.

Theory of operation: RFC 1035 section 5.1 text is a sequence of logical lines.
`tokenize` turns text into `Line`s of `Token`s, handling comments (`;`), quoted
strings, backslash escapes and parentheses (which let one logical line span many
physical ones). Escapes are left in the token text, because their meaning depends
on what the token is (a name keeps `\\.` as a literal dot inside a label); `unescape`
decodes them for character-strings. `TokenStream` is the cursor that rdata
parsers consume, raising `InvalidRdata` with a readable message.

Syntax errors from `tokenize` are `TextSyntaxError`s carrying the physical line
where the problem is, so the zone-file reader can say which line to fix.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence

import attrs

from .._errors import InvalidName, InvalidRdata
from .name import ROOT, Name


class TextSyntaxError(InvalidRdata):
    """Bad quoting or parentheses; `lineno` is the 1-based physical line."""

    def __init__(self, problem: str, lineno: int) -> None:
        self.problem = problem
        self.lineno = lineno
        super().__init__(f"line {lineno}: {problem}")


@attrs.frozen
class Token:
    text: str
    quoted: bool = False


@attrs.frozen
class Line:
    tokens: tuple[Token, ...]
    leading_blank: bool  # the owner field was left empty: use the previous owner
    lineno: int  # where the logical line starts (1-based)


def tokenize(text: str) -> Iterator[Line]:
    """Split text into logical lines of tokens. Raises TextSyntaxError on bad
    quoting or parentheses."""
    tokens: list[Token] = []
    depth = 0
    lineno = 1
    start_line = 1
    open_line = 1  # where the outermost '(' still open was opened
    leading_blank = False
    at_line_start = True
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if at_line_start and depth == 0:
            start_line = lineno
            leading_blank = ch in " \t"
            at_line_start = False
        if ch == "\n":
            lineno += 1
            if depth == 0:
                if tokens:
                    yield Line(tuple(tokens), leading_blank, start_line)
                tokens = []
                at_line_start = True
            i += 1
        elif ch in " \t\r":
            i += 1
        elif ch == ";":
            while i < n and text[i] != "\n":
                i += 1
        elif ch == "(":
            if depth == 0:
                open_line = lineno
            depth += 1
            i += 1
        elif ch == ")":
            if depth == 0:
                raise TextSyntaxError("')' without '('", lineno)
            depth -= 1
            i += 1
        elif ch == '"':
            quote_line = lineno
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                # Counted after the skip too, so an escaped newline still moves on a line.
                if j < n and text[j] == "\n":
                    lineno += 1
                j += 1
            if j >= n:
                raise TextSyntaxError("unterminated quoted string", quote_line)
            tokens.append(Token(text[i + 1 : j], True))
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in ' \t\r\n;()"':
                if text[j] == "\\":
                    j += 1
                    if j < n and text[j] == "\n":
                        lineno += 1
                j += 1
            tokens.append(Token(text[i:j], False))
            i = j
    if depth:
        raise TextSyntaxError("'(' without ')'", open_line)
    if tokens:
        yield Line(tuple(tokens), leading_blank, start_line)


def is_relative(text: str) -> bool:
    """Is this presentation-form name relative (to be completed by an origin)?

    `@` is the origin itself; a name is absolute when it ends in a dot that is not
    escaped, which is when an even number of backslashes precedes it.
    """
    if text == "@":
        return True
    if not text.endswith("."):
        return True
    backslashes = len(text) - 1 - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 1


def unescape(text: str) -> bytes:
    """Decode `\\X` and `\\DDD` escapes of a character-string into octets."""
    if "\\" not in text:
        try:
            return text.encode("ascii")
        except UnicodeEncodeError:
            return text.encode("utf-8")
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n:
                raise InvalidRdata(f"dangling backslash in {text!r}")
            if text[i + 1].isdigit():
                digits = text[i + 1 : i + 4]
                if len(digits) != 3 or not digits.isdigit() or int(digits) > 255:
                    raise InvalidRdata(f"bad \\DDD escape in {text!r}")
                out.append(int(digits))
                i += 4
                continue
            out += text[i + 1].encode("utf-8")
            i += 2
        else:
            out += ch.encode("utf-8")
            i += 1
    return bytes(out)


def escape_string(data: bytes) -> str:
    """A character-string in quotes, escaping what must be."""
    out = ['"']
    for octet in data:
        if octet in (0x22, 0x5C):
            out.append("\\" + chr(octet))
        elif 0x20 <= octet <= 0x7E:
            out.append(chr(octet))
        else:
            out.append(f"\\{octet:03d}")
    out.append('"')
    return "".join(out)


class TokenStream:
    """The tokens of one record's rdata, consumed left to right.

    With `origin` None (a zone file with no $ORIGIN yet) relative names are
    refused rather than silently completed with the root.
    """

    __slots__ = ("_has_origin", "_pos", "_tokens", "origin")

    def __init__(self, tokens: Sequence[Token], origin: Name | None) -> None:
        self._tokens = tokens
        self._pos = 0
        self._has_origin = origin is not None
        self.origin = origin if origin is not None else ROOT

    @classmethod
    def from_text(cls, text: str, origin: Name | None) -> TokenStream:
        lines = list(tokenize(text))
        tokens = tuple(token for line in lines for token in line.tokens)
        return cls(tokens, origin)

    def at_end(self) -> bool:
        return self._pos >= len(self._tokens)

    def token(self, what: str = "value") -> Token:
        if self._pos >= len(self._tokens):
            raise InvalidRdata(f"missing {what}")
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def string(self, what: str = "value") -> str:
        return self.token(what).text

    def integer(self, what: str = "number", maximum: int = 0xFFFF) -> int:
        text = self.string(what)
        if not text.isdigit() or not text.isascii():
            raise InvalidRdata(f"{what}: expected a number, got {text!r}")
        value = int(text)
        if value > maximum:
            raise InvalidRdata(f"{what}: {value} is larger than {maximum}")
        return value

    def name(self, what: str = "name") -> Name:
        text = self.string(what)
        if not self._has_origin and is_relative(text):
            raise InvalidRdata(f"{what}: relative name {text!r} and no origin to complete it")
        try:
            return Name.from_text(text, self.origin)
        except InvalidName as exc:
            raise InvalidRdata(f"{what}: {exc}") from None

    def character_string(self, what: str = "string") -> bytes:
        data = unescape(self.string(what))
        if len(data) > 255:
            raise InvalidRdata(f"{what}: string of {len(data)} octets is longer than 255")
        return data

    def rest(self) -> list[Token]:
        tokens = list(self._tokens[self._pos :])
        self._pos = len(self._tokens)
        return tokens

    def rest_joined(self) -> str:
        return "".join(token.text for token in self.rest())

    def base64(self, what: str = "base64 data") -> bytes:
        text = self.rest_joined()
        if text == "-":  # an empty field, as some tools print it
            return b""
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRdata(f"{what}: not valid base64") from None

    def hex(self, what: str = "hex data", text: str | None = None) -> bytes:
        if text is None:
            text = self.rest_joined()
        if text == "-":
            return b""
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise InvalidRdata(f"{what}: not valid hex: {text!r}") from None

    def finish(self) -> None:
        if self._pos < len(self._tokens):
            extra = " ".join(t.text for t in self._tokens[self._pos :])
            raise InvalidRdata(f"unexpected trailing text {extra!r}")

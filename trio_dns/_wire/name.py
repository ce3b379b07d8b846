"""Domain names.

Theory of operation: a `Name` is the tuple of its labels as bytes, in their original
case, always absolute (the root label is implied, so the root is `()`). Alongside
the labels it keeps two byte strings computed once: its uncompressed wire form and
that form lowercased. The lowercased form is the key for equality and hashing (DNS
names compare case-insensitively, RFC 4343), and each of its suffixes is the key
of an ancestor name, which is what name compression looks up. Keeping the
original case matters because replies should echo names as the zone spells them.

Internationalised names live on the wire as ASCII "xn--" labels (A-labels). Text
with non-ASCII characters is converted label by label as browsers do, by IDNA
2008 with the UTS 46 mapping (the `idna` package): `bücher.example` and
`BÜCHER.example` are both `xn--bcher-kva.example.`; `to_unicode()` goes back.
Text that IDNA refuses is an `InvalidName`, like any other bad name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import idna

from .._errors import InvalidName

MAX_LABEL = 63
MAX_NAME = 255  # octets of wire form, including length octets and the root label

# Octets printed with a backslash in presentation form, as zone files require.
_SPECIAL = frozenset(b'"().;\\@$')
# What UTS 46 reads as a label separator besides ".": the ideographic, fullwidth
# and halfwidth full stops (a Japanese keyboard types the first).
_UNICODE_DOTS = frozenset("\u3002\uff0e\uff61")
_ACE_PREFIX = b"xn--"
_set = object.__setattr__


def _escape_label(label: bytes) -> str:
    out = []
    for octet in label:
        if octet in _SPECIAL:
            out.append("\\" + chr(octet))
        elif 0x21 <= octet <= 0x7E:
            out.append(chr(octet))
        else:
            out.append(f"\\{octet:03d}")
    return "".join(out)


def _lowered(wire: bytes) -> bytes:
    # Most names are lowercase already: then the key is the wire form itself, not
    # a second copy of it (a cache of 100,000 names holds 100,000 of them).
    key = wire.lower()
    return wire if key == wire else key


def wire_at_or_below(name: bytes, zone: bytes) -> bool:
    """Whether the name whose canonical wire form is `name` is the name `zone` (in
    the same form) or below it."""
    skip = len(name) - len(zone)
    if skip < 0 or not name.endswith(zone):
        return False
    # The tail matching is not enough: a label may contain bytes that look like a
    # length octet. The match must start on a label boundary.
    pos = 0
    while pos < skip:
        pos += name[pos] + 1
    return pos == skip


def wire_and_ancestors(wire: bytes) -> Iterator[bytes]:
    """The wire forms of a name (given in wire form) and of each of its ancestors,
    root last: each one a suffix of the name's, found by stepping over the length
    octets, so that no ancestor Name is made."""
    yield wire
    pos = 0
    while length := wire[pos]:
        pos += length + 1
        yield wire[pos:]


def _encode(labels: tuple[bytes, ...]) -> bytes:
    return b"".join([bytes((len(label),)) + label for label in labels]) + b"\0"


@attrs.frozen(eq=False, order=False, repr=False)
class Name:
    """An absolute domain name: `Name.from_text("www.example.com")`."""

    labels: tuple[bytes, ...]
    _wire: bytes = attrs.field(init=False)
    _key: bytes = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        labels = self.labels
        if not isinstance(labels, tuple):
            labels = tuple(labels)
            _set(self, "labels", labels)
        for label in labels:
            if not isinstance(label, bytes):
                raise InvalidName(f"label {label!r} is not bytes")
            if not 0 < len(label) <= MAX_LABEL:
                raise InvalidName(
                    f"label of {len(label)} octets (must be 1 to {MAX_LABEL}): {label!r}"
                )
        wire = _encode(labels)
        if len(wire) > MAX_NAME:
            raise InvalidName(f"name of {len(wire)} octets is longer than {MAX_NAME}")
        _set(self, "_wire", wire)
        _set(self, "_key", _lowered(wire))

    @classmethod
    def _trusted(cls, labels: tuple[bytes, ...], wire: bytes) -> Name:
        # The wire parser has already checked every bound; skip the checks and the
        # re-encoding, which dominate the cost of parsing a message.
        name = object.__new__(cls)
        _set(name, "labels", labels)
        _set(name, "_wire", wire)
        key = wire.lower()  # _lowered, without a call: this runs for every name parsed
        _set(name, "_key", wire if key == wire else key)
        return name

    def _suffix(self, labels: tuple[bytes, ...], offset: int) -> Name:
        # An ancestor's key is the tail of this name's: no lowering, and no second
        # copy where this name's key is its wire form.
        name = object.__new__(Name)
        wire = self._wire[offset:]
        _set(name, "labels", labels)
        _set(name, "_wire", wire)
        _set(name, "_key", wire if self._key is self._wire else self._key[offset:])
        return name

    # -- constructors ----------------------------------------------------------

    @classmethod
    def from_text(cls, text: str, origin: Name | None = None) -> Name:
        """Parse presentation form (`www.example.com.`, with `\\.` and `\\DDD` escapes).

        A name without a final dot is relative to `origin` (the root if not given).
        `@` is the origin itself.
        """
        if not isinstance(text, str):
            raise InvalidName(f"name must be text, not {type(text).__name__}")
        if origin is None:
            origin = ROOT
        if text == "@":
            return origin
        if text == ".":
            return ROOT
        if not text:
            raise InvalidName("empty name")
        if text.isascii() and "\\" not in text:
            # The common case, without escapes or Unicode: a split does it.
            absolute = text.endswith(".")
            parts = (text[:-1] if absolute else text).split(".")
            if "" in parts:
                raise InvalidName(f"empty label in {text!r}")
            ascii_labels = tuple([part.encode("ascii") for part in parts])
            return cls(ascii_labels if absolute else ascii_labels + origin.labels)
        labels: list[bytes] = []
        current = bytearray()
        # A label with non-ASCII characters is kept as UTF-8 until it ends, then
        # converted to its A-label; escapes have no meaning inside one.
        escaped = unicode = False
        absolute = False
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if ch == "." or ch in _UNICODE_DOTS:
                if not current:
                    raise InvalidName(f"empty label in {text!r}")
                labels.append(_a_label(current, text) if unicode else bytes(current))
                current = bytearray()
                escaped = unicode = False
                if i == n - 1:
                    absolute = True
                i += 1
            elif ch == "\\":
                if i + 1 >= n:
                    raise InvalidName(f"dangling backslash in {text!r}")
                escaped = True
                if text[i + 1].isdigit():
                    digits = text[i + 1 : i + 4]
                    if len(digits) != 3 or not digits.isdigit() or int(digits) > 255:
                        raise InvalidName(f"bad \\DDD escape in {text!r}")
                    current.append(int(digits))
                    i += 4
                else:
                    if ord(text[i + 1]) >= 128:
                        raise InvalidName(f"escaped non-ASCII character in {text!r}")
                    current += text[i + 1].encode("ascii")
                    i += 2
            else:
                if ord(ch) >= 128:
                    unicode = True
                current += ch.encode("utf-8", "surrogatepass")
                i += 1
            if escaped and unicode:
                raise InvalidName(f"a label with non-ASCII characters has an escape: {text!r}")
        if current:
            labels.append(_a_label(current, text) if unicode else bytes(current))
        if absolute:
            return cls(tuple(labels))
        return cls(tuple(labels) + origin.labels)

    @classmethod
    def make(cls, value: Name | str) -> Name:
        """Accept a Name or text: what API callers naturally pass."""
        if isinstance(value, Name):
            return value
        return cls.from_text(value)

    # -- forms -----------------------------------------------------------------

    def to_wire(self) -> bytes:
        """Uncompressed wire form, original case."""
        return self._wire

    def canonical_wire(self) -> bytes:
        """Uncompressed, lowercased wire form (RFC 4034 section 6.2)."""
        return self._key

    def to_text(self, omit_final_dot: bool = False) -> str:
        if not self.labels:
            return "."
        text = ".".join(_escape_label(label) for label in self.labels)
        return text if omit_final_dot else text + "."

    def to_unicode(self, omit_final_dot: bool = False) -> str:
        """Presentation form with each valid A-label ("xn--") shown as Unicode:
        `xn--bcher-kva.example.` is `bücher.example.`. A label that is not valid
        IDNA stays as `to_text` spells it."""
        if not self.labels:
            return "."
        text = ".".join(_u_label(label) for label in self.labels)
        return text if omit_final_dot else text + "."

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Name({self.to_text()!r})"

    # -- comparison ------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Name):
            return self._key == other._key
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Name):
            return self._key != other._key
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key)

    def _canonical_key(self) -> tuple[bytes, ...]:
        # RFC 4034 section 6.1: compare label by label from the right, lowercased.
        return tuple(label.lower() for label in reversed(self.labels))

    def __lt__(self, other: Name) -> bool:
        return self._canonical_key() < other._canonical_key()

    def __le__(self, other: Name) -> bool:
        return self._canonical_key() <= other._canonical_key()

    def __gt__(self, other: Name) -> bool:
        return self._canonical_key() > other._canonical_key()

    def __ge__(self, other: Name) -> bool:
        return self._canonical_key() >= other._canonical_key()

    # -- relations -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.labels)

    def is_root(self) -> bool:
        return not self.labels

    def is_wild(self) -> bool:
        return bool(self.labels) and self.labels[0] == b"*"

    def is_subdomain(self, other: Name) -> bool:
        """True if self is `other` or lies below it, compared label by label."""
        return wire_at_or_below(self._key, other._key)

    def parent(self) -> Name:
        if not self.labels:
            raise InvalidName("the root name has no parent")
        return self._suffix(self.labels[1:], len(self.labels[0]) + 1)

    def ancestor(self, depth: int) -> Name:
        """The name made of this name's last `depth` labels (0 is the root)."""
        if not 0 <= depth <= len(self.labels):
            raise InvalidName(f"{self} has no ancestor {depth} labels deep")
        skip = len(self.labels) - depth
        offset = sum(len(label) + 1 for label in self.labels[:skip])
        return self._suffix(self.labels[skip:], offset)

    def child(self, label: bytes | str) -> Name:
        """This name with one more label on the left."""
        if isinstance(label, str):
            label = label.encode("ascii")
        return Name((label, *self.labels))

    def concatenate(self, prefix: Iterable[bytes]) -> Name:
        return Name((*prefix, *self.labels))

    def relativize(self, origin: Name) -> str:
        """Text of this name relative to `origin`: `www` for www.example.com. in
        example.com., `@` for the origin itself; absolute text if not below it."""
        if self == origin:
            return "@"
        if not self.is_subdomain(origin):
            return self.to_text()
        keep = self.labels[: len(self.labels) - len(origin.labels)]
        return ".".join(_escape_label(label) for label in keep)

    def __getstate__(self) -> Any:
        return self.labels

    def __setstate__(self, state: Any) -> None:
        _set(self, "labels", state)
        self.__attrs_post_init__()


def _a_label(utf8: bytearray, text: str) -> bytes:
    """The A-label of a label typed in Unicode (IDNA 2008, UTS 46 non-transitional
    mapping, as browsers do: `ß` stays `ß`)."""
    label = utf8.decode("utf-8", "surrogatepass")
    try:
        encoded = idna.encode(label, uts46=True, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise InvalidName(f"invalid internationalised label {label!r} in {text!r}: {exc}") from None
    # The mapping can turn one character into several labels (U+2488 is "1."):
    # those are not what anyone typed.
    if b"." in encoded:
        raise InvalidName(f"internationalised label {label!r} in {text!r} maps to a dot")
    return encoded


def _u_label(label: bytes) -> str:
    if label[:4].lower() == _ACE_PREFIX:
        try:
            return idna.decode(label)
        except (idna.IDNAError, UnicodeError, ValueError):
            pass
    return _escape_label(label)


ROOT = Name(())

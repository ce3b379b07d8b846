"""Zone files: the master-file format of RFC 1035 section 5, read and written.

Theory of operation: `tokenize` has already turned the text into logical lines
(comments gone, parentheses joined). `read_zone` walks them once, keeping the
state the format leaves implicit: the current $ORIGIN, the previous owner (for
lines that start with a blank), the $TTL and the last TTL written out (for records
that omit theirs). Each record line is `[owner] [ttl] [class] type rdata`, TTL and
class in either order; the rdata tokens go to `rdata_from_tokens`, which knows
every type's presentation form and the RFC 3597 `\\# len hex` one.

Omitted TTLs follow RFC 2308 section 4 as BIND and dnspython do: a $TTL wins,
then the last explicit TTL (RFC 1035), then the SOA's MINIMUM (the pre-2308
convention, used only when there is neither).

Every problem, whichever layer found it, leaves as one `ZoneFileError` naming
the file, the line and what is wrong, because a zone file is written by a person
who needs to know which line to fix. $INCLUDE reads another file, so it is off
unless the caller opts in; included files are bounded in depth to stop loops.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import attrs

from .._errors import InvalidName, InvalidRdata, UnknownType, ZoneFileError
from .enums import RRClass, RRType
from .message import Record
from .name import Name
from .rdata import rdata_from_tokens
from .rdtypes.soa import SOA
from .text import Line, TextSyntaxError, Token, TokenStream, is_relative, tokenize

MAX_TTL = 0x7FFFFFFF  # RFC 2181 section 8
MAX_INCLUDE_DEPTH = 8

_TTL_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_TTL_PART = re.compile(r"([0-9]+)([wdhms])", re.IGNORECASE)
# Classes that only make sense in queries and updates (RFC 2136), never in a zone;
# left out so `ANY` on a record line reads as the (refused) meta type.
_QUERY_CLASSES = (RRClass.NONE, RRClass.ANY)


def ttl_from_text(text: str) -> int:
    """A TTL in seconds from `3600` or BIND's unit form `1h30m` (w, d, h, m, s).

    Raises ValueError for anything else, or a value outside 0..2**31-1.
    """
    if text.isdigit() and text.isascii():
        value = int(text)
    else:
        parts = _TTL_PART.findall(text)
        if not parts or "".join(number + unit for number, unit in parts) != text:
            raise ValueError(f"bad TTL {text!r}")
        value = sum(int(number) * _TTL_UNITS[unit.lower()] for number, unit in parts)
    if value > MAX_TTL:
        raise ValueError(f"TTL {text!r} is out of range (0 to {MAX_TTL})")
    return value


def read_zone(
    text: str,
    *,
    origin: Name | str | None = None,
    filename: str = "<string>",
    default_ttl: int | None = None,
    allow_include: bool = False,
    rclass: RRClass = RRClass.IN,
) -> list[Record]:
    """The records of a zone file, in file order.

    `origin` is the starting $ORIGIN (without one, relative names are an error
    until the file sets it); `default_ttl` acts as a $TTL at the top of the file.
    Records must be of class `rclass`. Raises ZoneFileError.
    """
    if isinstance(origin, str):
        try:
            origin = Name.from_text(origin)
        except InvalidName as exc:
            raise ZoneFileError(f"bad origin {origin!r}: {exc}", filename) from None
    if default_ttl is not None and not 0 <= default_ttl <= MAX_TTL:
        raise ZoneFileError(f"default TTL {default_ttl} is out of range", filename)
    reader = _Reader(
        filename=filename,
        origin=origin,
        rclass=rclass,
        allow_include=allow_include,
        depth=0,
        default_ttl=default_ttl,
        records=[],
    )
    reader.read(text)
    return reader.records


def read_zone_file(
    path: str | os.PathLike[str],
    *,
    origin: Name | str | None = None,
    default_ttl: int | None = None,
    allow_include: bool = False,
    rclass: RRClass = RRClass.IN,
) -> list[Record]:
    """`read_zone` on a file; $INCLUDEs are found relative to its directory."""
    filename = os.fspath(path)
    text = _read_text(filename, filename, None)
    return read_zone(
        text,
        origin=origin,
        filename=filename,
        default_ttl=default_ttl,
        allow_include=allow_include,
        rclass=rclass,
    )


def zone_to_text(records: Iterable[Record], origin: Name | str | None = None) -> str:
    """Records in zone-file syntax, one per line, that `read_zone` reads back.

    With `origin`, the text starts with $ORIGIN and owners below it are relative.
    Every line states its TTL and class, so the text does not depend on defaults.
    """
    lines = []
    if origin is not None:
        origin = Name.make(origin)
        lines.append(f"$ORIGIN {origin}")
    for record in records:
        owner = record.name.relativize(origin) if origin is not None else record.name.to_text()
        lines.append(
            f"{owner}\t{record.ttl}\t{record.rclass.name}\t{record.rtype.name}\t"
            f"{record.rdata.to_text()}"
        )
    return "\n".join(lines) + "\n"


def _read_text(path: str, filename: str, line: int | None) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as exc:
        raise ZoneFileError(f"cannot read {path!r}: {exc.strerror}", filename, line) from None
    except UnicodeDecodeError:
        raise ZoneFileError(f"{path!r} is not UTF-8 text", filename, line) from None


@attrs.define(eq=False)
class _Reader:
    """The state that carries from one line of a zone file to the next."""

    filename: str
    origin: Name | None
    rclass: RRClass
    allow_include: bool
    depth: int
    default_ttl: int | None  # from $TTL, the caller, or the SOA's MINIMUM
    records: list[Record]  # shared with included files, so order is file order
    default_from_soa: bool = False
    last_ttl: int | None = None
    last_owner: Name | None = None

    def read(self, text: str) -> None:
        try:
            for line in tokenize(text):
                self._line(line)
        except TextSyntaxError as exc:
            raise ZoneFileError(exc.problem, self.filename, exc.lineno) from None

    def _fail(self, problem: str, line: Line) -> ZoneFileError:
        return ZoneFileError(problem, self.filename, line.lineno)

    def _line(self, line: Line) -> None:
        first = line.tokens[0]
        if not line.leading_blank and not first.quoted and first.text.startswith("$"):
            self._directive(first.text.upper(), [t.text for t in line.tokens[1:]], line)
        else:
            self._record(line)

    # -- directives ------------------------------------------------------------

    def _directive(self, directive: str, args: list[str], line: Line) -> None:
        if directive == "$ORIGIN":
            if len(args) != 1:
                raise self._fail("$ORIGIN takes one domain name", line)
            self.origin = self._name(args[0], "$ORIGIN", line)
        elif directive == "$TTL":
            if len(args) != 1:
                raise self._fail("$TTL takes one TTL", line)
            self.default_ttl = self._ttl(args[0], line)
            self.default_from_soa = False
        elif directive == "$INCLUDE":
            self._include(args, line)
        else:
            raise self._fail(f"unknown directive {directive!r}", line)

    def _include(self, args: list[str], line: Line) -> None:
        if not self.allow_include:
            raise self._fail(
                "$INCLUDE is not allowed (read_zone(..., allow_include=True) permits it)", line
            )
        if not 1 <= len(args) <= 2:
            raise self._fail("$INCLUDE takes a file name and an optional origin", line)
        if self.depth >= MAX_INCLUDE_DEPTH:
            raise self._fail(f"$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep", line)
        # RFC 1035 section 5.1: relative to the including file; "<string>" has no
        # directory, so its includes are relative to the working directory.
        path = Path(self.filename).parent / args[0]
        origin = self._name(args[1], "$INCLUDE origin", line) if len(args) == 2 else self.origin
        text = _read_text(str(path), self.filename, line.lineno)
        # The included file starts with this file's state, but what it changes
        # (origin, $TTL, owner) stays in it: the origin reverts per RFC 1035.
        child = attrs.evolve(self, filename=str(path), origin=origin, depth=self.depth + 1)
        child.read(text)

    # -- records ---------------------------------------------------------------

    def _record(self, line: Line) -> None:
        tokens = line.tokens
        index = 0
        if line.leading_blank:
            if self.last_owner is None:
                raise self._fail("line starts with a blank but there is no previous owner", line)
            owner = self.last_owner
        else:
            owner = self._name(self._plain(tokens[0], "owner name", line), "owner", line)
            index = 1
        ttl: int | None = None
        rclass: RRClass | None = None
        while index < len(tokens):
            text = tokens[index].text
            if ttl is None and text[:1].isdigit():
                ttl = self._ttl(text, line)
            elif rclass is None and (found := _class(text)) is not None:
                rclass = found
            else:
                break
            index += 1
        if index >= len(tokens):
            raise self._fail("missing type", line)
        rtype = self._type(tokens[index], line)
        if rclass is None:
            rclass = self.rclass
        elif rclass != self.rclass:
            raise self._fail(
                f"class {rclass.name} does not match the zone's class {self.rclass.name}", line
            )
        stream = TokenStream(tokens[index + 1 :], self.origin)
        try:
            rdata = rdata_from_tokens(rtype, stream)
        except (InvalidRdata, InvalidName, UnknownType) as exc:
            problem = str(exc)
            if not problem.startswith(f"bad {rtype.name} rdata"):
                problem = f"bad {rtype.name} rdata: {problem}"
            raise self._fail(problem, line) from None

        if ttl is not None:
            self.last_ttl = ttl
        else:
            ttl = self._implicit_ttl()
        if isinstance(rdata, SOA) and self.default_ttl is None:
            self.default_ttl = rdata.minimum
            self.default_from_soa = True
            if ttl is None:
                ttl = rdata.minimum
        if ttl is None:
            raise self._fail("no TTL given, and no $TTL or earlier TTL to use", line)
        self.last_owner = owner
        self.records.append(Record(owner, rtype, rclass, ttl, rdata))

    def _implicit_ttl(self) -> int | None:
        if self.default_ttl is not None and not self.default_from_soa:
            return self.default_ttl
        if self.last_ttl is not None:
            return self.last_ttl
        return self.default_ttl

    # -- fields ----------------------------------------------------------------

    def _plain(self, token: Token, what: str, line: Line) -> str:
        if token.quoted:
            raise self._fail(f"quoted text {token.text!r} where the {what} belongs", line)
        return token.text

    def _name(self, text: str, what: str, line: Line) -> Name:
        if self.origin is None and is_relative(text):
            raise self._fail(f"relative {what} name {text!r} and no $ORIGIN", line)
        try:
            return Name.from_text(text, self.origin)
        except InvalidName as exc:
            raise self._fail(f"bad {what} name {text!r}: {exc}", line) from None

    def _ttl(self, text: str, line: Line) -> int:
        try:
            return ttl_from_text(text)
        except ValueError as exc:
            raise self._fail(str(exc), line) from None

    def _type(self, token: Token, line: Line) -> RRType:
        text = self._plain(token, "type", line)
        try:
            rtype = RRType.from_text(text)
        except UnknownType:
            raise self._fail(f"unknown type {text!r}", line) from None
        if rtype.is_meta():  # OPT, TSIG, ANY, AXFR...: not data a zone holds
            raise self._fail(f"type {rtype.name} cannot appear in a zone file", line)
        return rtype


def _class(text: str) -> RRClass | None:
    try:
        rclass = RRClass.from_text(text)
    except UnknownType:
        return None
    return None if rclass in _QUERY_CLASSES else rclass

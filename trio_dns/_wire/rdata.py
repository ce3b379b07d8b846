"""Record data: the base class, the type registry and the RFC 3597 opaque form.

Theory of operation: each record type is one small frozen attrs class that knows
its wire and presentation forms, registered by its `RRType` with `@register`. Any
type without a class, and every class-specific parse of an unknown class, is kept
as `GenericRdata`: opaque octets that print as `\\# <length> <hex>` (RFC 3597), so
a resolver can pass along types invented after it was written.

Wire parsers are handed a reader confined to the rdata and must raise only
`MalformedMessage`; `parse_rdata_untrusted` turns the ValueErrors that field
validators raise into that too.
"""

from __future__ import annotations

from typing import ClassVar, Self, TypeVar

import attrs

from .._errors import InvalidRdata, MalformedMessage
from .enums import RRType
from .name import Name
from .reader import WireReader
from .text import TokenStream
from .writer import WireWriter


class Rdata:
    """Base of every rdata class."""

    __slots__ = ()

    rtype: ClassVar[RRType]
    # May names inside this rdata be compressed when writing? Only for the types of
    # RFC 1035 (RFC 3597 section 4).
    compress_names: ClassVar[bool] = False
    # Are names inside lowercased in the DNSSEC canonical form (RFC 4034 section 6.2,
    # as amended by RFC 6840 section 5.1)?
    canonical_lowercase: ClassVar[bool] = False

    @property
    def type(self) -> RRType:
        return self.rtype

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        raise NotImplementedError

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        raise NotImplementedError

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        raise NotImplementedError

    def to_text(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.to_text()

    def to_bytes(self) -> bytes:
        """Uncompressed wire form of the rdata alone."""
        writer = WireWriter()
        self.to_wire(writer, compress=False)
        return writer.getvalue()

    def to_canonical_wire(self) -> bytes:
        """RFC 4034 section 6.2 form, as signed by DNSSEC."""
        writer = WireWriter(lowercase=self.canonical_lowercase)
        self.to_wire(writer, compress=False)
        return writer.getvalue()


_REGISTRY: dict[int, type[Rdata]] = {}


_R = TypeVar("_R", bound=type[Rdata])


def register(cls: _R) -> _R:
    """Class decorator: make `cls` the rdata class of its `rtype`."""
    _REGISTRY[cls.rtype] = cls
    return cls


def rdata_class(rtype: int) -> type[Rdata] | None:
    return _REGISTRY.get(rtype)


def registered_types() -> list[RRType]:
    return sorted(RRType(t) for t in _REGISTRY)


@attrs.frozen
class GenericRdata(Rdata):
    """Rdata of a type this library has no class for, kept as opaque octets."""

    rtype: RRType  # type: ignore[misc]
    data: bytes

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(self.data)

    def to_text(self) -> str:
        if not self.data:
            return "\\# 0"
        return f"\\# {len(self.data)} {self.data.hex().upper()}"


def parse_rdata_untrusted(rtype: int, reader: WireReader, length: int) -> Rdata:
    """Parse `length` octets of rdata of type `rtype` at the reader's position."""
    start = reader.pos
    end = start + length
    if end > reader.end:
        raise MalformedMessage(f"rdata length {length} runs past the end", start)
    cls = _REGISTRY.get(rtype)
    if cls is None:
        reader.pos = end
        return GenericRdata(RRType(rtype), reader.data[start:end])
    saved_end = reader.end
    reader.end = end
    try:
        rdata = cls.from_wire_untrusted(reader)
    except ValueError as exc:  # a field validator refused a value read off the wire
        raise MalformedMessage(f"bad {RRType(rtype).name} rdata: {exc}", start) from None
    finally:
        reader.end = saved_end
    if reader.pos != end:
        raise MalformedMessage(f"{end - reader.pos} octets left over in rdata", reader.pos)
    return rdata


def rdata_from_tokens(rtype: RRType, tokens: TokenStream) -> Rdata:
    """Rdata from presentation-form tokens, including the `\\# len hex` form."""
    if not tokens.at_end() and tokens._tokens[tokens._pos].text == "\\#":
        tokens.string()
        length = tokens.integer("rdata length")
        data = tokens.hex("rdata") if length else b""
        if not length:
            tokens.finish()
        if len(data) != length:
            raise InvalidRdata(f"\\# says {length} octets but {len(data)} follow")
        cls = _REGISTRY.get(rtype)
        if cls is None:
            return GenericRdata(rtype, data)
        # A known type in generic form is converted to its own class (RFC 3597 section 5).
        try:
            return parse_rdata_untrusted(rtype, WireReader(data), len(data))
        except MalformedMessage as exc:
            raise InvalidRdata(f"bad {rtype.name} rdata in generic form: {exc.reason}") from None
    cls = _REGISTRY.get(rtype)
    if cls is None:
        raise InvalidRdata(f"type {rtype.name} has no presentation form here; use \\# <len> <hex>")
    try:
        rdata = cls.from_tokens(tokens)
    except InvalidRdata:
        raise
    except ValueError as exc:
        raise InvalidRdata(f"bad {rtype.name} rdata: {exc}") from None
    tokens.finish()
    return rdata


def rdata_from_text(rtype: RRType | str, text: str, origin: Name | None = None) -> Rdata:
    """`rdata_from_text("MX", "10 mail.example.com.")`."""
    from .name import ROOT

    rtype = RRType.make(rtype)
    return rdata_from_tokens(rtype, TokenStream.from_text(text, origin or ROOT))

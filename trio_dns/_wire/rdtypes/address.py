"""A and AAAA: an IPv4 or IPv6 address (RFC 1035 section 3.4.1, RFC 3596)."""

from __future__ import annotations

import socket
from typing import Self

import attrs

from ..._errors import MalformedMessage
from ..enums import RRType
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter


def _check_ipv4(instance: object, attribute: object, value: str) -> None:
    try:
        socket.inet_pton(socket.AF_INET, value)
    except (OSError, TypeError, ValueError):
        raise ValueError(f"{value!r} is not a valid IPv4 address") from None


def _normalise_ipv6(text: str) -> str:
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
    except (OSError, TypeError, ValueError):
        raise ValueError(f"{text!r} is not a valid IPv6 address") from None


@register
@attrs.frozen
class A(Rdata):
    rtype = RRType.A
    address: str = attrs.field(validator=_check_ipv4)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        if reader.remaining() != 4:
            raise MalformedMessage("A rdata is not 4 octets", reader.pos)
        # The octets are valid by construction: skip the validator.
        rdata = object.__new__(cls)
        object.__setattr__(rdata, "address", socket.inet_ntop(socket.AF_INET, reader.read(4)))
        return rdata

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(socket.inet_pton(socket.AF_INET, self.address))

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(tokens.string("IPv4 address"))

    def to_text(self) -> str:
        return self.address


@register
@attrs.frozen
class AAAA(Rdata):
    rtype = RRType.AAAA
    # One spelling per address, so equal addresses compare equal.
    address: str = attrs.field(converter=_normalise_ipv6)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        if reader.remaining() != 16:
            raise MalformedMessage("AAAA rdata is not 16 octets", reader.pos)
        rdata = object.__new__(cls)
        object.__setattr__(rdata, "address", socket.inet_ntop(socket.AF_INET6, reader.read(16)))
        return rdata

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(socket.inet_pton(socket.AF_INET6, self.address))

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        return cls(tokens.string("IPv6 address"))

    def to_text(self) -> str:
        return self.address

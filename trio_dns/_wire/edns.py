"""EDNS(0): the OPT pseudo-record and its options (RFC 6891).

Theory of operation: on the wire EDNS is an OPT record in the additional section
whose CLASS is the sender's UDP payload size and whose TTL packs the upper 8 bits
of the rcode, a version and flags (DO). Here it is lifted out into `Edns`, a field
of `Message`; the extended rcode is merged into `Message.rcode` on parsing and split
out again on writing. Options with a known meaning (cookies, RFC 7873; extended
errors, RFC 8914) get classes; all others are kept as `GenericOption` octets.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from .._errors import MalformedMessage
from .enums import EdeCode, EdnsOptionCode
from .reader import WireReader
from .writer import WireWriter

DO_BIT = 0x8000
DEFAULT_PAYLOAD = 1232  # DNS flag day 2020: avoids IP fragmentation on nearly every path


class EdnsOption:
    __slots__ = ()
    code: ClassVar[EdnsOptionCode]

    def option_data(self) -> bytes:
        raise NotImplementedError

    def to_text(self) -> str:
        raise NotImplementedError


@attrs.frozen
class GenericOption(EdnsOption):
    code: EdnsOptionCode  # type: ignore[misc]
    data: bytes

    def option_data(self) -> bytes:
        return self.data

    def to_text(self) -> str:
        return f"{self.code.name}: {self.data.hex()}"


def _check_cookie(instance: Cookie, attribute: object, value: bytes) -> None:
    if len(instance.client) != 8:
        raise ValueError("a client cookie is 8 octets")
    if instance.server and not 8 <= len(instance.server) <= 32:
        raise ValueError("a server cookie is 8 to 32 octets")


@attrs.frozen
class Cookie(EdnsOption):
    """DNS cookies (RFC 7873): 8 octets from the client, 8-32 from the server."""

    code = EdnsOptionCode.COOKIE
    client: bytes
    server: bytes = attrs.field(default=b"", validator=_check_cookie)

    def option_data(self) -> bytes:
        return self.client + self.server

    def to_text(self) -> str:
        return f"COOKIE: {self.client.hex()}{self.server.hex()}"


@attrs.frozen
class ExtendedError(EdnsOption):
    """An Extended DNS Error (RFC 8914): why a query failed, for humans and tools."""

    code = EdnsOptionCode.EDE
    info_code: EdeCode
    extra_text: str = ""

    def option_data(self) -> bytes:
        return self.info_code.to_bytes(2, "big") + self.extra_text.encode("utf-8")

    def to_text(self) -> str:
        words = self.info_code.name.replace("_", " ").title()
        extra = f": ({self.extra_text})" if self.extra_text else ""
        return f"EDE: {int(self.info_code)} ({words}){extra}"


def _option_from_wire(code: int, data: bytes, offset: int) -> EdnsOption:
    if code == EdnsOptionCode.COOKIE and (len(data) == 8 or 16 <= len(data) <= 40):
        return Cookie(data[:8], data[8:])
    if code == EdnsOptionCode.EDE and len(data) >= 2:
        try:
            text = data[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedMessage("EDE extra text is not UTF-8", offset) from None
        return ExtendedError(EdeCode(int.from_bytes(data[:2], "big")), text)
    return GenericOption(EdnsOptionCode(code), data)


@attrs.frozen
class Edns:
    """The EDNS fields of a message."""

    payload: int = DEFAULT_PAYLOAD
    version: int = 0
    dnssec_ok: bool = False
    options: tuple[EdnsOption, ...] = ()
    # The flag bits other than DO, kept so a message round-trips exactly.
    z: int = 0

    def option(self, option_type: type[EdnsOption]) -> EdnsOption | None:
        """The first option of the given class, if any."""
        for option in self.options:
            if type(option) is option_type:
                return option
        return None

    @classmethod
    def from_opt_untrusted(
        cls, rclass: int, ttl: int, reader: WireReader, rdlength: int
    ) -> tuple[Edns, int]:
        """Read an OPT record's fields; returns the Edns and the extended rcode bits."""
        start = reader.pos
        end = start + rdlength
        if end > reader.end:
            raise MalformedMessage("OPT rdata runs past the end", start)
        options: list[EdnsOption] = []
        pos = start
        data = reader.data
        while pos < end:
            if pos + 4 > end:
                raise MalformedMessage("EDNS option header cut short", pos)
            code = (data[pos] << 8) | data[pos + 1]
            length = (data[pos + 2] << 8) | data[pos + 3]
            pos += 4
            if pos + length > end:
                raise MalformedMessage("EDNS option runs past the OPT record", pos)
            options.append(_option_from_wire(code, data[pos : pos + length], pos))
            pos += length
        reader.pos = end
        edns = cls(
            payload=rclass,
            version=(ttl >> 16) & 0xFF,
            dnssec_ok=bool(ttl & DO_BIT),
            options=tuple(options),
            z=ttl & 0x7FFF,
        )
        return edns, ttl >> 24

    def to_wire(self, writer: WireWriter, extended_rcode: int) -> None:
        """Write the whole OPT record."""
        writer.u8(0)  # owner: the root
        writer.u16(41)
        writer.u16(self.payload)
        writer.u32(
            (extended_rcode << 24)
            | (self.version << 16)
            | (DO_BIT if self.dnssec_ok else 0)
            | (self.z & 0x7FFF)
        )
        rdata = b"".join(
            option.code.to_bytes(2, "big")
            + len(data := option.option_data()).to_bytes(2, "big")
            + data
            for option in self.options
        )
        writer.u16(len(rdata))
        writer.write(rdata)

    def to_text(self) -> str:
        flags = " do" if self.dnssec_ok else ""
        lines = [f"; EDNS: version: {self.version}, flags:{flags}; udp: {self.payload}"]
        lines.extend(f"; {option.to_text()}" for option in self.options)
        return "\n".join(lines)

"""RRSIG: a DNSSEC signature over one RRset (RFC 4034 section 3).

Times are kept as the 32-bit numbers of the wire form: seconds since 1970 modulo
2**32, compared with serial number arithmetic by the validator (RFC 4034 section
3.1.5), which is why this class does not turn them into datetimes. In text they are
printed as YYYYMMDDHHmmSS in UTC, as BIND and dnspython print them; plain numbers
of seconds are accepted too (RFC 4034 section 3.2).

The signer's name is never compressed and is lowercased in the canonical form
(RFC 4034 section 6.2, RFC 6840 section 5.1).
"""

from __future__ import annotations

import calendar
import struct
import time
from typing import Self

import attrs

from ..._errors import InvalidRdata, UnknownType
from ..enums import RRType
from ..name import Name
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream
from ..writer import WireWriter
from ._fields import U8, U16, U32, algorithm_from_tokens, base64_text, join_fields, to_bytes

_FIXED = struct.Struct("!HBBIIIH")
_U32_MAX = 0xFFFFFFFF


def time_from_text(text: str) -> int:
    """A signature time: YYYYMMDDHHmmSS (UTC) or a number of seconds."""
    if not text.isascii() or not text.isdigit():
        raise InvalidRdata(f"bad signature time {text!r}")
    if len(text) == 14:
        try:
            fields = time.strptime(text, "%Y%m%d%H%M%S")
        except ValueError:
            raise InvalidRdata(f"bad signature time {text!r}") from None
        value = calendar.timegm(fields)
    elif len(text) <= 10:
        value = int(text)
    else:
        raise InvalidRdata(f"bad signature time {text!r}")
    if not 0 <= value <= _U32_MAX:
        raise InvalidRdata(f"signature time {text!r} does not fit in 32 bits")
    return value


def time_to_text(value: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(value))


def _to_rrtype(value: int) -> RRType:
    return RRType.make(value)


@register
@attrs.frozen
class RRSIG(Rdata):
    rtype = RRType.RRSIG
    canonical_lowercase = True

    type_covered: RRType = attrs.field(converter=_to_rrtype)
    algorithm: int = attrs.field(validator=U8)
    labels: int = attrs.field(validator=U8)
    original_ttl: int = attrs.field(validator=U32)
    expiration: int = attrs.field(validator=U32)
    inception: int = attrs.field(validator=U32)
    key_tag: int = attrs.field(validator=U16)
    signer: Name = attrs.field(validator=attrs.validators.instance_of(Name))
    signature: bytes = attrs.field(converter=to_bytes)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        covered, algorithm, labels, ttl, expiration, inception, key_tag = reader.unpack(_FIXED)
        signer = reader.name()
        return cls(
            RRType(covered),
            algorithm,
            labels,
            ttl,
            expiration,
            inception,
            key_tag,
            signer,
            reader.rest(),
        )

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.write(
            _FIXED.pack(
                self.type_covered,
                self.algorithm,
                self.labels,
                self.original_ttl,
                self.expiration,
                self.inception,
                self.key_tag,
            )
        )
        writer.name(self.signer, compress=False)
        writer.write(self.signature)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        covered_text = tokens.string("type covered")
        try:
            covered = RRType.from_text(covered_text)
        except UnknownType:
            raise InvalidRdata(f"unknown type covered {covered_text!r}") from None
        return cls(
            covered,
            algorithm_from_tokens(tokens),
            tokens.integer("labels", 0xFF),
            tokens.integer("original TTL", _U32_MAX),
            time_from_text(tokens.string("expiration")),
            time_from_text(tokens.string("inception")),
            tokens.integer("key tag"),
            tokens.name("signer"),
            tokens.base64("signature"),
        )

    def to_text(self) -> str:
        return join_fields(
            self.type_covered.name,
            self.algorithm,
            self.labels,
            self.original_ttl,
            time_to_text(self.expiration),
            time_to_text(self.inception),
            self.key_tag,
            self.signer,
            base64_text(self.signature),
        )

"""The numbers of the DNS protocol, as enums that still accept any value.

A resolver meets types, classes and rcodes that did not exist when it was written,
so every enum here is *open*: `RRType(65280)` works and prints as `TYPE65280`
(the RFC 3597 spelling), instead of raising. Members are ints, so they cost
nothing to compare and pack.
"""

from __future__ import annotations

import enum
from typing import Self

from .._errors import UnknownType


class _OpenIntEnum(enum.IntEnum):
    """An IntEnum that makes a pseudo-member for any value in range."""

    # Subclasses set these: the largest value and the RFC 3597-style prefix.
    @classmethod
    def _maximum(cls) -> int:
        return 0xFFFF

    @classmethod
    def _prefix(cls) -> str:
        return cls.__name__.upper()

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if isinstance(value, int) and 0 <= value <= cls._maximum():
            member = int.__new__(cls, value)
            member._name_ = f"{cls._prefix()}{value}"
            member._value_ = value
            # Remember it, so the next lookup of the same number is a dict hit.
            return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]
        return None

    @classmethod
    def from_text(cls, text: str) -> Self:
        """Parse a mnemonic (`MX`) or the generic form (`TYPE15`), case-insensitively."""
        upper = text.upper()
        member = cls.__members__.get(upper)
        if member is not None:
            return member
        prefix = cls._prefix()
        if upper.startswith(prefix) and upper[len(prefix) :].isdigit():
            value = int(upper[len(prefix) :])
            if value <= cls._maximum():
                return cls(value)
        raise UnknownType(f"unknown {cls.__name__} {text!r}")

    @classmethod
    def make(cls, value: int | str) -> Self:
        """Accept a member, a number or text: what API callers naturally pass."""
        if type(value) is cls:
            return value  # the usual case, and calling cls costs more than the rest
        if isinstance(value, str):
            return cls.from_text(value)
        try:
            return cls(value)
        except ValueError:
            raise UnknownType(f"{cls.__name__} value out of range: {value!r}") from None

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class RRType(_OpenIntEnum):
    @classmethod
    def _prefix(cls) -> str:
        return "TYPE"

    A = 1
    NS = 2
    MD = 3
    MF = 4
    CNAME = 5
    SOA = 6
    MB = 7
    MG = 8
    MR = 9
    NULL = 10
    WKS = 11
    PTR = 12
    HINFO = 13
    MINFO = 14
    MX = 15
    TXT = 16
    RP = 17
    AFSDB = 18
    SIG = 24
    KEY = 25
    AAAA = 28
    LOC = 29
    NXT = 30
    SRV = 33
    NAPTR = 35
    KX = 36
    CERT = 37
    A6 = 38
    DNAME = 39
    OPT = 41
    APL = 42
    DS = 43
    SSHFP = 44
    IPSECKEY = 45
    RRSIG = 46
    NSEC = 47
    DNSKEY = 48
    DHCID = 49
    NSEC3 = 50
    NSEC3PARAM = 51
    TLSA = 52
    SMIMEA = 53
    HIP = 55
    CDS = 59
    CDNSKEY = 60
    OPENPGPKEY = 61
    CSYNC = 62
    ZONEMD = 63
    SVCB = 64
    HTTPS = 65
    SPF = 99
    TKEY = 249
    TSIG = 250
    IXFR = 251
    AXFR = 252
    MAILB = 253
    MAILA = 254
    ANY = 255
    URI = 256
    CAA = 257
    TA = 32768
    DLV = 32769

    def is_meta(self) -> bool:
        """Types that only appear in questions or as pseudo-records (RFC 6895 section 3.1)."""
        return self == RRType.OPT or 128 <= self <= 255


class RRClass(_OpenIntEnum):
    @classmethod
    def _prefix(cls) -> str:
        return "CLASS"

    IN = 1
    CH = 3
    HS = 4
    NONE = 254
    ANY = 255


class Opcode(_OpenIntEnum):
    @classmethod
    def _maximum(cls) -> int:
        return 15

    QUERY = 0
    IQUERY = 1
    STATUS = 2
    NOTIFY = 4
    UPDATE = 5
    DSO = 6


class Rcode(_OpenIntEnum):
    """Response codes: the 4 header bits, extended to 12 by EDNS (RFC 6891 section 6.1.3)."""

    @classmethod
    def _maximum(cls) -> int:
        return 0xFFF

    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5
    YXDOMAIN = 6
    YXRRSET = 7
    NXRRSET = 8
    NOTAUTH = 9
    NOTZONE = 10
    DSOTYPENI = 11
    BADVERS = 16
    BADKEY = 17
    BADTIME = 18
    BADMODE = 19
    BADNAME = 20
    BADALG = 21
    BADTRUNC = 22
    BADCOOKIE = 23


class Flag(enum.IntFlag):
    """Header flag bits, in their position in the 16-bit flags word."""

    QR = 0x8000
    AA = 0x0400
    TC = 0x0200
    RD = 0x0100
    RA = 0x0080
    AD = 0x0020
    CD = 0x0010

    def to_text(self) -> str:
        """The dig spelling: lowercase flag names in header order."""
        return " ".join(f.name.lower() for f in _FLAG_ORDER if f in self and f.name)


_FLAG_ORDER = (Flag.QR, Flag.AA, Flag.TC, Flag.RD, Flag.RA, Flag.AD, Flag.CD)

# The bits of the flags word that hold other fields.
OPCODE_SHIFT = 11
OPCODE_MASK = 0x7800
RCODE_MASK = 0x000F
FLAGS_MASK = 0x87F0  # QR, AA, TC, RD, RA, Z, AD, CD


class EdnsOptionCode(_OpenIntEnum):
    @classmethod
    def _prefix(cls) -> str:
        return "OPTION"

    NSID = 3
    CLIENT_SUBNET = 8
    EXPIRE = 9
    COOKIE = 10
    TCP_KEEPALIVE = 11
    PADDING = 12
    CHAIN = 13
    KEY_TAG = 14
    EDE = 15


class EdeCode(_OpenIntEnum):
    """Extended DNS Error info codes (RFC 8914 section 4)."""

    @classmethod
    def _prefix(cls) -> str:
        return "EDE"

    OTHER = 0
    UNSUPPORTED_DNSKEY_ALGORITHM = 1
    UNSUPPORTED_DS_DIGEST_TYPE = 2
    STALE_ANSWER = 3
    FORGED_ANSWER = 4
    DNSSEC_INDETERMINATE = 5
    DNSSEC_BOGUS = 6
    SIGNATURE_EXPIRED = 7
    SIGNATURE_NOT_YET_VALID = 8
    DNSKEY_MISSING = 9
    RRSIGS_MISSING = 10
    NO_ZONE_KEY_BIT_SET = 11
    NSEC_MISSING = 12
    CACHED_ERROR = 13
    NOT_READY = 14
    BLOCKED = 15
    CENSORED = 16
    FILTERED = 17
    PROHIBITED = 18
    STALE_NXDOMAIN_ANSWER = 19
    NOT_AUTHORITATIVE = 20
    NOT_SUPPORTED = 21
    NO_REACHABLE_AUTHORITY = 22
    NETWORK_ERROR = 23
    INVALID_DATA = 24
    SIGNATURE_EXPIRED_BEFORE_VALID = 25
    TOO_EARLY = 26
    UNSUPPORTED_NSEC3_ITERATIONS = 27
    UNABLE_TO_CONFORM_TO_POLICY = 28
    SYNTHESIZED = 29
    INVALID_QUERY_TYPE = 30

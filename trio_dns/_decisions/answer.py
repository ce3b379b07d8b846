"""What a resolution produces: `Answer`, and the trace of how it was found."""

from __future__ import annotations

import attrs

from .._address import Address
from .._trust import Validation
from .._wire.edns import ExtendedError
from .._wire.enums import EdeCode, Rcode, RRClass, RRType
from .._wire.message import Record
from .._wire.name import Name


@attrs.frozen
class TraceEvent:
    """One step of a resolution: a cache hit, or one query to one server."""

    time: float  # seconds since the resolution started
    kind: str  # "cache", "query", "glueless", "note", "dnssec"
    qname: Name
    qtype: RRType
    zone: Name | None = None
    server: Address | None = None
    outcome: str = ""
    rtt: float | None = None
    winner: bool = False

    def to_text(self) -> str:
        where = ""
        if self.server is not None:
            host, port = self.server
            where = f" @{host}" + (f"#{port}" if port != 53 else "")
        zone = f" [{self.zone}]" if self.zone is not None else ""
        rtt = f" {self.rtt * 1000:.0f} ms" if self.rtt is not None else ""
        won = " (won race)" if self.winner else ""
        return (
            f"{self.time * 1000:8.1f} ms  {self.kind:<8} {self.qname} {self.qtype.name}"
            f"{zone}{where}: {self.outcome}{rtt}{won}"
        )


@attrs.frozen
class Answer:
    """The result of resolving one question. Failure is SERVFAIL with a reason."""

    qname: Name
    qtype: RRType
    qclass: RRClass
    rcode: Rcode
    # The answer section: any CNAME/DNAME chain, then the data.
    records: tuple[Record, ...] = ()
    # For NXDOMAIN and NODATA: the zone's SOA (RFC 2308).
    soa: Record | None = None
    # Seconds this answer may still be used; for negative answers the SOA's.
    ttl: int = 0
    # Why it failed (RFC 8914), for SERVFAIL.
    error: ExtendedError | None = None
    trace: tuple[TraceEvent, ...] = ()
    from_cache: bool = False
    # Answered wholly from a local zone: the server sets AA.
    authoritative: bool = False
    # DNSSEC (RFC 4035 section 4.3): SECURE answers get AD; INDETERMINATE when the
    # resolver does not validate or the client set CD. BOGUS ones are SERVFAIL.
    validation: Validation = Validation.INDETERMINATE
    # The RRSIGs over `records`, for clients that set DO.
    rrsigs: tuple[Record, ...] = ()
    # For negative answers and wildcard expansions: the NSEC/NSEC3 records that
    # prove them, their RRSIGs and the SOA's RRSIG (the authority section for DO).
    proof: tuple[Record, ...] = ()

    @property
    def failed(self) -> bool:
        return self.rcode == Rcode.SERVFAIL

    def rrset(self, rtype: RRType | None = None) -> tuple[Record, ...]:
        """The records of the wanted type (the chain's end), without the CNAMEs."""
        wanted = self.qtype if rtype is None else rtype
        return tuple(r for r in self.records if r.rtype == wanted or wanted == RRType.ANY)

    def to_text(self) -> str:
        lines = [f";; status: {self.rcode.name}, {self.qname} {self.qclass.name} {self.qtype.name}"]
        if self.error is not None:
            lines.append(f";; {self.error.to_text()}")
        if self.validation is not Validation.INDETERMINATE:
            lines.append(f";; dnssec: {self.validation.value}")
        lines.extend(record.to_text() for record in self.records)
        if self.soa is not None:
            lines.append(self.soa.to_text())
        return "\n".join(lines) + "\n"


def servfail(
    qname: Name,
    qtype: RRType,
    qclass: RRClass,
    code: EdeCode,
    text: str,
    validation: Validation = Validation.INDETERMINATE,
) -> Answer:
    return Answer(
        qname,
        qtype,
        qclass,
        Rcode.SERVFAIL,
        error=ExtendedError(code, text),
        validation=validation,
    )

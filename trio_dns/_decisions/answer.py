"""What a resolution produces: `Answer`, and the trace of how it was found.

An `Answer` is a value, whatever the outcome: NXDOMAIN and SERVFAIL are answers a
server passes on. For programs it also reads as a result: iterating it gives the
rdata of the type asked for (`for a in answer: print(a.address)`),
`canonical_name` is where the CNAME/DNAME chain ended, `expires` when it stops
being true, and `raise_for_status()` turns every outcome without data into an
exception (`resolution_errors.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from .._address import Address
from .._trust import Validation
from .._wire.edns import ExtendedError
from .._wire.enums import EdeCode, Rcode, RRClass, RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdata import Rdata
from .._wire.rdtypes.single_name import CNAME, DNAME
from .resolution_errors import (
    BOGUS_CODES,
    BogusAnswer,
    NoData,
    NoSuchName,
    ResolutionFailed,
    ResolutionTimeout,
)


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
    # Failed for want of time: the resolver's deadline or the caller's lifetime
    # ran out, or every server stayed silent.
    timed_out: bool = False
    # Wall-clock seconds since 1970 when this answer stops being true (the
    # resolution's time plus `ttl`); None when not made by `Resolver.resolve`.
    expires: float | None = None
    # For a negative answer fresh from a server: its SOA and the zone's NS set as
    # that server sent them, passed on as they came (TTLs too). Empty when the
    # answer is made from the cache: then the SOA is shown with `ttl`.
    authority: tuple[Record, ...] = ()

    @property
    def failed(self) -> bool:
        return self.rcode == Rcode.SERVFAIL

    @property
    def validated(self) -> bool:
        """DNSSEC proved this answer (SECURE): what a server signals with AD."""
        return self.validation is Validation.SECURE

    @property
    def canonical_name(self) -> Name:
        """The name the data is at: `qname` after the CNAMEs and DNAMEs of the answer."""
        name = self.qname
        # Bounded: each record is used at most once, so a loop in the chain ends.
        unused = list(self.records)
        progress = True
        while progress:
            progress = False
            for record in unused:
                rdata = record.rdata
                if isinstance(rdata, CNAME) and record.name == name:
                    name = rdata.target
                elif (
                    isinstance(rdata, DNAME)
                    and name != record.name
                    and name.is_subdomain(record.name)
                ):
                    prefix = name.labels[: len(name.labels) - len(record.name.labels)]
                    name = rdata.target.concatenate(prefix)
                else:
                    continue
                unused.remove(record)
                progress = True
                break
        return name

    def __iter__(self) -> Iterator[Rdata]:
        """The rdata of the records of the type asked for, as dnspython's answers give."""
        return iter([record.rdata for record in self.rrset()])

    def raise_for_status(self) -> Answer:
        """This answer if it has data of the type asked for; else raise NoSuchName,
        NoData, BogusAnswer, ResolutionTimeout or ResolutionFailed (all
        ResolutionError), carrying the answer and its Extended DNS Error."""
        if self.rcode == Rcode.NOERROR:
            if self.rrset():
                return self
            raise NoData(self)
        if self.rcode == Rcode.NXDOMAIN:
            raise NoSuchName(self)
        if self.validation is Validation.BOGUS or (
            self.error is not None and self.error.info_code in BOGUS_CODES
        ):
            raise BogusAnswer(self)
        if self.timed_out:
            raise ResolutionTimeout(self)
        raise ResolutionFailed(self)

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
    *,
    timed_out: bool = False,
) -> Answer:
    return Answer(
        qname,
        qtype,
        qclass,
        Rcode.SERVFAIL,
        error=ExtendedError(code, text),
        validation=validation,
        timed_out=timed_out,
    )

"""Denial of existence with NSEC records (RFC 4035 sections 3.1.3 and 5.4, RFC 6840 4.1-4.4).

Theory of operation: an NSEC record at a name lists the types there and names the
next name of the zone in canonical order (RFC 4034 section 6.1), so it proves two
things: which types its owner lacks (a *match*), and that no name lies strictly
between the two (a *cover*). The last NSEC of a zone points back at the apex.

- NXDOMAIN: an NSEC covers the name, and another (or the same) covers the wildcard
  at the closest encloser, which is the deepest ancestor the name shares with
  either end of the covering NSEC: both ends exist, so their ancestors do too.
- NODATA: the NSEC at the name lacks the type and CNAME; or the name is an empty
  non-terminal (a covering NSEC whose next name lies below it); or the wildcard
  that would have matched has no such type.
- A wildcard answer: the name itself is covered and the closest encloser it gives
  is the wildcard's parent, so no closer name could have matched.
- An insecure delegation: the NSEC at the cut has NS but neither DS nor SOA.

Two traps from RFC 6840: an NSEC at a zone cut (NS without SOA) or at a DNAME
comes from the parent side and says nothing about names below it (section 4.1),
and the child's NSEC at its apex (with SOA) cannot deny the DS the parent holds
(section 4.4 - the same idea for the other side of the cut).
"""

from __future__ import annotations

from collections.abc import Sequence

from .._wire.enums import EdeCode, RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdtypes.nsec import NSEC
from .denial import DenialResult, bitmap_gap, common_ancestor, not_proven, proven


def _nsec(record: Record) -> NSEC | None:
    return record.rdata if isinstance(record.rdata, NSEC) else None


def _delegation_or_dname(rdata: NSEC) -> bool:
    # The parent side of a zone cut, or a DNAME: nothing below it is this zone's.
    return (rdata.has_type(RRType.NS) and not rdata.has_type(RRType.SOA)) or rdata.has_type(
        RRType.DNAME
    )


def _between(record: Record, rdata: NSEC, name: Name) -> bool:
    owner, following = record.name, rdata.next
    if not owner < name:
        return False
    if owner < following:
        return name < following
    # The last NSEC of the zone: its next name is the apex, and it spans everything
    # after its owner up to the end of the zone.
    return name.is_subdomain(following)


def nsec_covers(record: Record, name: Name) -> bool:
    """Does this NSEC record prove that `name` does not exist?"""
    rdata = _nsec(record)
    if rdata is None or not _between(record, rdata, name):
        return False
    if rdata.next.is_subdomain(name):
        return False  # a name below `name` exists: it is an empty non-terminal
    return not (name.is_subdomain(record.name) and _delegation_or_dname(rdata))


def _matching(nsecs: Sequence[Record], name: Name) -> Record | None:
    return next((r for r in nsecs if _nsec(r) is not None and r.name == name), None)


def _covering(nsecs: Sequence[Record], name: Name) -> Record | None:
    return next((r for r in nsecs if nsec_covers(r, name)), None)


def _implied_encloser(record: Record, name: Name) -> Name:
    rdata = _nsec(record)
    assert rdata is not None
    first = common_ancestor(name, record.name)
    second = common_ancestor(name, rdata.next)
    return first if len(first) >= len(second) else second


def nsec_nxdomain(nsecs: Sequence[Record], qname: Name) -> DenialResult:
    """Do these (verified) NSEC records prove that `qname` does not exist?"""
    if _matching(nsecs, qname) is not None:
        return not_proven(f"an NSEC shows {qname} exists", EdeCode.DNSSEC_BOGUS)
    cover = _covering(nsecs, qname)
    if cover is None:
        return not_proven(f"no NSEC covers {qname}")
    encloser = _implied_encloser(cover, qname)
    wildcard = encloser.child(b"*")
    if _matching(nsecs, wildcard) is not None:
        return not_proven(f"an NSEC shows the wildcard {wildcard} exists", EdeCode.DNSSEC_BOGUS)
    if _covering(nsecs, wildcard) is None:
        return not_proven(f"no NSEC covers the wildcard {wildcard}")
    return proven(f"NSEC proves {qname} does not exist", encloser)


def nsec_nodata(nsecs: Sequence[Record], qname: Name, qtype: RRType) -> DenialResult:
    """Do these (verified) NSEC records prove `qname` has no `qtype` records?"""
    match = _matching(nsecs, qname)
    if match is not None:
        rdata = _nsec(match)
        assert rdata is not None
        problem = bitmap_gap(rdata, qtype)
        if problem is not None:
            return not_proven(problem, EdeCode.DNSSEC_BOGUS)
        return proven(f"NSEC proves {qname} has no {qtype.name}", qname)
    for record in nsecs:
        rdata = _nsec(record)
        if (
            rdata is not None
            and _between(record, rdata, qname)
            and rdata.next.is_subdomain(qname)
            and not (qname.is_subdomain(record.name) and _delegation_or_dname(rdata))
        ):
            return proven(f"NSEC proves {qname} is an empty non-terminal", qname)
    cover = _covering(nsecs, qname)
    if cover is not None:
        # No such name, but a wildcard may have been the source of the answer.
        encloser = _implied_encloser(cover, qname)
        match = _matching(nsecs, encloser.child(b"*"))
        rdata = None if match is None else _nsec(match)
        if rdata is not None and bitmap_gap(rdata, qtype) is None:
            return proven(f"NSEC proves the wildcard for {qname} has no {qtype.name}", encloser)
    return not_proven(f"no NSEC proves {qname} has no {qtype.name}")


def nsec_wildcard(nsecs: Sequence[Record], qname: Name, wildcard: Name) -> DenialResult:
    """For an answer synthesised from `wildcard` (`VerifyResult.wildcard`): do
    these NSEC records prove no closer name than the wildcard's matched `qname`?"""
    cover = _covering(nsecs, qname)
    if cover is None:
        return not_proven(f"no NSEC covers {qname}, the wildcard answer is unproven")
    encloser = _implied_encloser(cover, qname)
    if encloser != wildcard.parent():
        return not_proven(
            f"{wildcard} is not the source of synthesis for {qname} (encloser {encloser})",
            EdeCode.DNSSEC_BOGUS,
        )
    return proven(f"NSEC proves no name closer to {qname} than {wildcard}", encloser)


def nsec_insecure_delegation(nsecs: Sequence[Record], cut: Name) -> DenialResult:
    """Do these (verified) NSEC records prove the delegation at `cut` has no DS,
    making the child zone insecure?"""
    match = _matching(nsecs, cut)
    rdata = None if match is None else _nsec(match)
    if rdata is None:
        return not_proven(f"no NSEC at the delegation {cut}")
    if not rdata.has_type(RRType.NS) or rdata.has_type(RRType.SOA):
        return not_proven(f"the NSEC at {cut} is not a delegation's", EdeCode.DNSSEC_BOGUS)
    if rdata.has_type(RRType.DS):
        return not_proven(f"the NSEC at {cut} shows a DS exists", EdeCode.DNSSEC_BOGUS)
    return proven(f"NSEC proves the delegation {cut} is unsigned", cut)

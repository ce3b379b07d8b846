"""Denial of existence with NSEC3 records (RFC 5155 section 8, RFC 9276).

Theory of operation: NSEC3 is NSEC over hashed names. Each name of the zone is
hashed (SHA-1 of its canonical wire form and a salt, then again over the result
and the salt `iterations` more times, section 5) and the hash, in base32hex, is the
first label of the NSEC3 record's owner, under the zone's apex. The records form
a ring in hash order, so one *matches* a name when its owner hash is the name's
hash and *covers* it when the name's hash falls strictly between its owner hash
and its next hash (wrapping at the end).

Hashes hide the order of names, so the closest encloser cannot be read off a
covering record as with NSEC: it must be shown (section 8.3): the closest encloser
is an ancestor of the name that some NSEC3 matches, and the *next closer* name,
one label longer towards the queried name, is covered. Then:

- NXDOMAIN (8.4): a closest encloser proof, and the wildcard at the encloser covered.
- NODATA (8.5, 8.6): the NSEC3 matching the name lacks the type and CNAME; for DS,
  a next closer name covered by an opt-out NSEC3 also does, insecurely (8.6).
- A wildcard answer (8.7): the next closer name is covered.
- Wildcard NODATA (8.8): a closest encloser proof, and the NSEC3 matching the
  wildcard lacks the type.
- An insecure delegation (8.9): the NSEC3 at the cut has NS without DS or SOA, or
  the cut falls into an opt-out span.

An opt-out span may hide unsigned delegations, so a proof that rests on one is
INSECURE, never PROVEN (as Unbound does). RFC 9276 section 3.2: hashing costs
the validator, so records with more than `max_iterations` iterations make the
answer insecure (EDE 27) before anything is hashed. Records of an unknown hash
algorithm or with unknown flags are ignored (RFC 5155 section 8.1, 8.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import attrs

from .._errors import InvalidRdata
from .._wire.enums import EdeCode, RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdtypes.nsec3 import NSEC3, OPT_OUT, base32hex_decode, base32hex_text
from .denial import DenialResult, bitmap_gap, insecure, not_proven, proven

SHA1 = 1  # the only NSEC3 hash algorithm (RFC 5155 section 11)
# RFC 9276 section 3.2 leaves the number to implementations; 150 is what the big
# validators settled on in 2021, and what RFC 9276 Appendix A reports.
DEFAULT_MAX_ITERATIONS = 150


def nsec3_hash(name: Name, salt: bytes, iterations: int, algorithm: int = SHA1) -> bytes:
    """The hash of `name` (RFC 5155 section 5); ValueError for an unknown algorithm."""
    if algorithm != SHA1:
        raise ValueError(f"unknown NSEC3 hash algorithm {algorithm}")
    digest = hashlib.sha1(name.canonical_wire() + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return digest


def hashed_owner(name: Name, zone: Name, salt: bytes, iterations: int) -> Name:
    """The owner name of the NSEC3 record for `name` in `zone`."""
    return zone.child(base32hex_text(nsec3_hash(name, salt, iterations)).encode("ascii"))


@attrs.frozen
class _Link:
    """One usable NSEC3 record of the ring, decoded."""

    record: Record
    rdata: NSEC3
    zone: Name
    owner_hash: bytes

    def key(self, name: Name) -> tuple[Name, bytes, int]:
        return (name, self.rdata.salt, self.rdata.iterations)


def _links(records: Sequence[Record]) -> list[_Link]:
    links = []
    for record in records:
        rdata = record.rdata
        if not isinstance(rdata, NSEC3) or not record.name.labels:
            continue
        if rdata.hash_algorithm != SHA1 or rdata.flags & ~OPT_OUT:
            continue
        try:
            owner_hash = base32hex_decode(record.name.labels[0].decode("ascii"))
        except (InvalidRdata, UnicodeDecodeError):
            continue
        if len(owner_hash) != len(rdata.next):
            continue
        links.append(_Link(record, rdata, record.name.parent(), owner_hash))
    return links


@attrs.define
class _Ring:
    """The usable records of a response, with the hashes computed so far."""

    links: list[_Link]
    _hashes: dict[tuple[Name, bytes, int], bytes] = attrs.Factory(dict)

    def _hash(self, link: _Link, name: Name) -> bytes:
        key = link.key(name)
        digest = self._hashes.get(key)
        if digest is None:
            digest = self._hashes[key] = nsec3_hash(name, link.rdata.salt, link.rdata.iterations)
        return digest

    def matching(self, name: Name) -> _Link | None:
        for link in self.links:
            if name.is_subdomain(link.zone) and self._hash(link, name) == link.owner_hash:
                return link
        return None

    def covering(self, name: Name) -> _Link | None:
        for link in self.links:
            if not name.is_subdomain(link.zone):
                continue
            digest = self._hash(link, name)
            owner, following = link.owner_hash, link.rdata.next
            if owner < following:
                if owner < digest < following:
                    return link
            elif digest > owner or digest < following:  # the last record wraps around
                return link
        return None


def _ring(records: Sequence[Record], max_iterations: int) -> _Ring | DenialResult:
    links = _links(records)
    if not links:
        return not_proven("no usable NSEC3 records")
    worst = max(link.rdata.iterations for link in links)
    if worst > max_iterations:
        return insecure(
            f"NSEC3 with {worst} iterations (more than {max_iterations})",
            EdeCode.UNSUPPORTED_NSEC3_ITERATIONS,
        )
    return _Ring(links)


@attrs.frozen
class _Encloser:
    name: Name
    next_closer: Name
    cover: _Link


def _closest_encloser(ring: _Ring, qname: Name) -> _Encloser | DenialResult:
    """The closest encloser proof of RFC 5155 section 8.3, for a `qname` with no
    matching NSEC3."""
    zones = [link.zone for link in ring.links if qname.is_subdomain(link.zone)]
    if not zones:
        return not_proven(f"no NSEC3 of a zone above {qname}")
    apex_depth = max(len(zone) for zone in zones)
    for depth in range(len(qname) - 1, apex_depth - 1, -1):
        candidate = qname.ancestor(depth)
        match = ring.matching(candidate)
        if match is None:
            continue
        types = match.rdata
        if depth > apex_depth and (
            types.has_type(RRType.DNAME)
            or (types.has_type(RRType.NS) and not types.has_type(RRType.SOA))
        ):
            # The parent side of a cut or a DNAME: names below are not this zone's.
            return not_proven(
                f"the closest encloser {candidate} is a delegation or DNAME", EdeCode.DNSSEC_BOGUS
            )
        next_closer = qname.ancestor(depth + 1)
        cover = ring.covering(next_closer)
        if cover is None:
            return not_proven(f"no NSEC3 covers the next closer name {next_closer}")
        return _Encloser(candidate, next_closer, cover)
    return not_proven(f"no NSEC3 matches an ancestor of {qname}")


def nsec3_nxdomain(
    records: Sequence[Record], qname: Name, *, max_iterations: int = DEFAULT_MAX_ITERATIONS
) -> DenialResult:
    """Do these (verified) NSEC3 records prove `qname` does not exist (section 8.4)?"""
    ring = _ring(records, max_iterations)
    if isinstance(ring, DenialResult):
        return ring
    if ring.matching(qname) is not None:
        return not_proven(f"an NSEC3 shows {qname} exists", EdeCode.DNSSEC_BOGUS)
    encloser = _closest_encloser(ring, qname)
    if isinstance(encloser, DenialResult):
        return encloser
    wildcard = encloser.name.child(b"*")
    if ring.covering(wildcard) is None:
        if ring.matching(wildcard) is not None:
            return not_proven(f"an NSEC3 shows {wildcard} exists", EdeCode.DNSSEC_BOGUS)
        return not_proven(f"no NSEC3 covers the wildcard {wildcard}")
    if encloser.cover.rdata.opt_out:
        return insecure(
            f"{encloser.next_closer} lies in an opt-out span",
            closest_encloser=encloser.name,
            opt_out=True,
        )
    return proven(f"NSEC3 proves {qname} does not exist", encloser.name)


def nsec3_nodata(
    records: Sequence[Record],
    qname: Name,
    qtype: RRType,
    *,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> DenialResult:
    """Do these (verified) NSEC3 records prove `qname` has no `qtype` records
    (sections 8.5, 8.6 and 8.8)?"""
    ring = _ring(records, max_iterations)
    if isinstance(ring, DenialResult):
        return ring
    match = ring.matching(qname)
    if match is not None:
        problem = bitmap_gap(match.rdata, qtype)
        if problem is not None:
            return not_proven(problem, EdeCode.DNSSEC_BOGUS)
        return proven(f"NSEC3 proves {qname} has no {qtype.name}", qname)
    encloser = _closest_encloser(ring, qname)
    if isinstance(encloser, DenialResult):
        return encloser
    wildcard = ring.matching(encloser.name.child(b"*"))
    if wildcard is not None and bitmap_gap(wildcard.rdata, qtype) is None:
        return proven(f"NSEC3 proves the wildcard for {qname} has no {qtype.name}", encloser.name)
    if qtype == RRType.DS and encloser.cover.rdata.opt_out:
        return insecure(
            f"{qname} lies in an opt-out span: no DS, and no proof",
            closest_encloser=encloser.name,
            opt_out=True,
        )
    return not_proven(f"no NSEC3 matches {qname}")


def nsec3_wildcard(
    records: Sequence[Record],
    qname: Name,
    wildcard: Name,
    *,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> DenialResult:
    """For an answer synthesised from `wildcard` (`VerifyResult.wildcard`): do
    these NSEC3 records prove no closer name exists (section 8.7)?"""
    ring = _ring(records, max_iterations)
    if isinstance(ring, DenialResult):
        return ring
    encloser = wildcard.parent()
    if not qname.is_subdomain(encloser) or len(qname) <= len(encloser):
        return not_proven(f"{wildcard} cannot expand to {qname}", EdeCode.DNSSEC_BOGUS)
    next_closer = qname.ancestor(len(encloser) + 1)
    cover = ring.covering(next_closer)
    if cover is None:
        return not_proven(f"no NSEC3 covers the next closer name {next_closer}")
    if cover.rdata.opt_out:
        return insecure(
            f"{next_closer} lies in an opt-out span", closest_encloser=encloser, opt_out=True
        )
    return proven(f"NSEC3 proves no name closer to {qname} than {wildcard}", encloser)


def nsec3_insecure_delegation(
    records: Sequence[Record], cut: Name, *, max_iterations: int = DEFAULT_MAX_ITERATIONS
) -> DenialResult:
    """Do these (verified) NSEC3 records prove the delegation at `cut` has no DS
    (section 8.9)? PROVEN for a matching NSEC3, INSECURE with `opt_out` for a cut
    inside an opt-out span: either way the child zone is insecure."""
    ring = _ring(records, max_iterations)
    if isinstance(ring, DenialResult):
        return ring
    match = ring.matching(cut)
    if match is not None:
        rdata = match.rdata
        if not rdata.has_type(RRType.NS) or rdata.has_type(RRType.SOA):
            return not_proven(f"the NSEC3 for {cut} is not a delegation's", EdeCode.DNSSEC_BOGUS)
        if rdata.has_type(RRType.DS):
            return not_proven(f"the NSEC3 for {cut} shows a DS exists", EdeCode.DNSSEC_BOGUS)
        return proven(f"NSEC3 proves the delegation {cut} is unsigned", cut)
    encloser = _closest_encloser(ring, cut)
    if isinstance(encloser, DenialResult):
        return encloser
    if not encloser.cover.rdata.opt_out:
        return not_proven(f"{cut} is neither matched nor in an opt-out span")
    return insecure(
        f"the delegation {cut} lies in an opt-out span",
        closest_encloser=encloser.name,
        opt_out=True,
    )

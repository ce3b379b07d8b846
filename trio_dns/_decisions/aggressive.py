"""Aggressive use of the DNSSEC-validated cache (RFC 8198): denials made from
validated NSEC and NSEC3 ranges, without asking.

Theory of operation: a validated NSEC record says that no name lies between its
owner and its next name, and which types its owner has; a validated NSEC3
record says the same of hashes. So once a secure answer has shown a range, every
other name in that range is known not to exist, and every type missing from the
bitmap is known to be absent, for as long as the record lives. Unbound
(`aggressive-nsec: yes`) and Knot Resolver answer such questions from what they
hold, and so does this module.

`AggressiveCache` keeps, per zone, the zone's SOA and its NSEC ranges sorted in
canonical order (RFC 4034 section 6.1), and its NSEC3 ranges per set of hash
parameters sorted by hash, each record with its RRSIG and an expiry: the least of
its TTL, its signature's remaining validity and, for the SOA, its MINIMUM field
(RFC 8198 section 5.4, RFC 9077). `remember_secure` fills it after an answer
validated SECURE, but only with records it verifies once more itself with the
zone's trusted keys: a secure verdict does not vouch for every record of the
authority section (the validator skips records of unsupported algorithms).

`synthesised_answer` runs when the cache has nothing for a name. It picks the
deepest zone at or above the name that it holds ranges for (for DS, strictly
above it: DS lives on the parent side of a cut), finds the few records that
could matter by bisection (the range at or before the name; the one for the
wildcard at the closest encloser; for NSEC3, the matching record of the closest
encloser and the ranges around the next closer name and the wildcard), and lets
the same proof checks that judge answers from the network (`_dnssec.nsec`,
`_dnssec.nsec3`) decide whether they prove NXDOMAIN or NODATA. Only PROVEN
counts: a proof resting on an NSEC3 opt-out range never synthesises anything
(RFC 8198 section 5.1: the range may hide an unsigned delegation). The answer
carries the SOA and the records used, with their RRSIGs, as its proof, so a DO
client gets the same authority section a server would have sent.

Wildcards too (RFC 8198 section 5.3): a secure answer expanded from a wildcard
leaves the wildcard's RRset here (under the wildcard's own name, with the RRSIG
that signed it), and a later name that held ranges prove absent, with that
wildcard at its closest encloser, gets the expansion: the RRset renamed, and the
range that covers the name (or its next closer name, for NSEC3) as the proof. A
CNAME expansion is followed on through the cache; if the chain's end is not
known here, nothing is synthesised and the question goes to the network.

A positive answer that is a wildcard expansion is also kept in the cache with
its proof (`Cache.put_rrset(proof=...)`), for the RRset's lifetime, however short
the NSEC's own TTL: a DO client asking later gets the proof as well.

Pure: no trio, no clock; every method takes `now` (the cache's wall clock).
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from .._dnssec import (
    DEFAULT_MAX_ITERATIONS,
    nsec3_hash,
    nsec3_nodata,
    nsec3_nxdomain,
    nsec3_wildcard,
    nsec_nodata,
    nsec_nxdomain,
    nsec_wildcard,
    verify_rrset,
)
from .._dnssec.denial import common_ancestor
from .._dnssec.verify import VerifyResult, signature_labels
from .._errors import InvalidRdata
from .._trust import Validation
from .._wire.enums import Rcode, RRClass, RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdtypes.nsec import NSEC
from .._wire.rdtypes.nsec3 import NSEC3, OPT_OUT, base32hex_decode
from .._wire.rdtypes.rrsig import RRSIG
from .._wire.rdtypes.single_name import CNAME
from .._wire.rdtypes.soa import SOA
from .._wire.rrset import covering, rrsets
from .answer import Answer

if TYPE_CHECKING:
    from .iteration import Context, Work
    from .validation import ZoneKeys

SHA1 = 1  # the only NSEC3 hash algorithm (RFC 5155 section 11)
DEFAULT_MAX_RECORDS = 20_000
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
_RECORD_OVERHEAD = 16  # beyond the wire octets, as the cache counts

K = TypeVar("K", tuple[bytes, ...], bytes)
_ParamKey = tuple[int, bytes, int]  # NSEC3 hash algorithm, salt, iterations
_SOA_KEY = "SOA"
_NSEC_KEY = "NSEC"
_WILDCARD_KEY = "*"
_Where = tuple[Name, object, object]  # zone, which chain ("SOA", "NSEC", or params), key


def canonical_key(name: Name) -> tuple[bytes, ...]:
    """A sort key for RFC 4034 section 6.1's canonical order."""
    return tuple(label.lower() for label in reversed(name.labels))


@attrs.define(eq=False)
class _Held:
    """One validated record (an NSEC, NSEC3 or SOA RRset has one), its RRSIGs,
    and when it stops being usable."""

    record: Record
    rrsigs: tuple[Record, ...]
    expires: float


@attrs.define(eq=False)
class _Chain(Generic[K]):
    """The ranges held of one chain, sorted: NSEC owners in canonical order, or
    NSEC3 owner hashes."""

    keys: list[K] = attrs.Factory(list)
    held: dict[K, _Held] = attrs.Factory(dict)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def put(self, key: K, held: _Held) -> None:
        if key not in self.held:
            bisect.insort(self.keys, key)
        self.held[key] = held

    def remove(self, key: K) -> None:
        if self.held.pop(key, None) is not None:
            index = bisect.bisect_left(self.keys, key)
            del self.keys[index]

    def _live(self, key: K, now: float) -> _Held | None:
        held = self.held.get(key)
        if held is not None and held.expires - now < 1:
            return None  # expired: it goes when the store next evicts
        return held

    def at(self, key: K, now: float) -> _Held | None:
        """The record whose owner is exactly `key`."""
        return self._live(key, now)

    def at_or_before(self, key: K, now: float) -> _Held | None:
        """The record with the greatest owner at or before `key` (NSEC: the only one
        that can match or cover a name)."""
        index = bisect.bisect_right(self.keys, key) - 1
        return None if index < 0 else self._live(self.keys[index], now)

    def before_wrapping(self, key: K, now: float) -> _Held | None:
        """The record with the greatest owner strictly before `key`, or else the last
        one, whose range wraps around (NSEC3: the only one that can cover a hash)."""
        if not self.keys:
            return None
        index = bisect.bisect_left(self.keys, key) - 1
        return self._live(self.keys[index], now)  # index -1: the last, wrapping


@attrs.define(eq=False)
class _Wildcard:
    """A wildcard's RRset (owned by the wildcard name) and the RRSIG over it."""

    records: tuple[Record, ...]
    rrsig: Record
    expires: float


@attrs.define(eq=False)
class _ZoneProofs:
    soa: _Held | None = None
    nsec: _Chain[tuple[bytes, ...]] = attrs.Factory(_Chain)
    nsec3: dict[_ParamKey, _Chain[bytes]] = attrs.Factory(dict)
    wildcards: dict[tuple[Name, RRType], _Wildcard] = attrs.Factory(dict)

    def empty(self) -> bool:
        return (
            self.soa is None
            and not self.nsec
            and not any(self.nsec3.values())
            and not self.wildcards
        )


@attrs.frozen
class Denial:
    """A denial made from held records: NXDOMAIN or NODATA, the zone's SOA and the
    proof (the records used and their RRSIGs, then the SOA's RRSIGs), every TTL
    the answer's."""

    nxdomain: bool
    soa: Record
    proof: tuple[Record, ...]
    ttl: int


@attrs.frozen
class Expansion:
    """A wildcard's RRset expanded to the name asked (records and RRSIG renamed),
    and the proof that no closer name exists; every TTL the answer's."""

    records: tuple[Record, ...]
    rrsigs: tuple[Record, ...]
    proof: tuple[Record, ...]
    ttl: int


def _with_ttl(record: Record, ttl: int, name: Name | None = None) -> Record:
    return Record(
        record.name if name is None else name, record.rtype, record.rclass, ttl, record.rdata
    )


@attrs.define(eq=False)
class AggressiveCache:
    """Validated NSEC and NSEC3 ranges, zone SOAs and wildcard RRsets, and the
    denials and expansions they prove.

    At most `max_records` records (a wildcard's RRset counts as one) and about
    `max_bytes` of them are held; the oldest stored go first. NSEC3
    chains with more than `max_iterations` iterations are not kept (no answer
    resting on them is secure anyway, RFC 9276), nor are names under
    `insecure_domains` answered (RFC 7646: they are not validated at all)."""

    max_records: int = DEFAULT_MAX_RECORDS
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    insecure_domains: tuple[Name, ...] = ()
    _zones: dict[Name, _ZoneProofs] = attrs.field(init=False, factory=dict)
    max_bytes: int = DEFAULT_MAX_BYTES
    # Where each held record is, oldest first, and its size.
    _order: OrderedDict[_Where, int] = attrs.field(init=False, factory=OrderedDict)
    _bytes: int = attrs.field(init=False, default=0)
    _adds: int = attrs.field(init=False, default=0)  # since the last purge

    def __len__(self) -> int:
        return len(self._order)

    @property
    def size_bytes(self) -> int:
        """The records' wire length (and RRSIGs'), as counted against max_bytes."""
        return self._bytes

    def zones(self) -> tuple[Name, ...]:
        return tuple(self._zones)

    def flush(self) -> None:
        self._zones.clear()
        self._order.clear()
        self._bytes = 0

    # -- storing ---------------------------------------------------------------------

    def add(
        self, zone: Name, record: Record, rrsigs: Sequence[Record], ttl: int, now: float
    ) -> bool:
        """Hold one record of `zone` (its SOA, an NSEC or an NSEC3) that the caller
        has verified with the zone's trusted keys, for at most `ttl` seconds.
        False for anything that does not belong, or will not be used."""
        rdata = record.rdata
        if isinstance(rdata, SOA):
            if record.name != zone:
                return False
            ttl = min(ttl, rdata.minimum)
        elif isinstance(rdata, NSEC):
            if not record.name.is_subdomain(zone):
                return False
        elif isinstance(rdata, NSEC3):
            if not self._usable_nsec3(record, rdata, zone):
                return False
        else:
            return False
        if ttl < 1:
            return False
        held = _Held(record, tuple(rrsigs), now + ttl)
        proofs = self._zones.setdefault(zone, _ZoneProofs())
        where: _Where
        if isinstance(rdata, SOA):
            proofs.soa = held
            where = (zone, _SOA_KEY, None)
        elif isinstance(rdata, NSEC):
            key = canonical_key(record.name)
            proofs.nsec.put(key, held)
            where = (zone, _NSEC_KEY, key)
        else:
            assert isinstance(rdata, NSEC3)
            params = (rdata.hash_algorithm, rdata.salt, rdata.iterations)
            owner_hash = base32hex_decode(record.name.labels[0].decode("ascii"))
            proofs.nsec3.setdefault(params, _Chain()).put(owner_hash, held)
            where = (zone, params, owner_hash)
        self._note(where, now, _size((record, *held.rrsigs)))
        return True

    def purge(self, now: float) -> None:
        """Drop every record that has expired."""
        self._adds = 0
        for where in [w for w in self._order if self._expired(w, now)]:
            self._bytes -= self._order.pop(where)
            self._forget(where)

    def _expired(self, where: _Where, now: float) -> bool:
        zone, chain, key = where
        proofs = self._zones.get(zone)
        if proofs is None:
            return True
        held: _Held | _Wildcard | None
        if chain == _SOA_KEY:
            held = proofs.soa
        elif chain == _WILDCARD_KEY:
            held = proofs.wildcards.get(key)  # type: ignore[call-overload]
        elif chain == _NSEC_KEY:
            assert isinstance(key, tuple)
            held = proofs.nsec.held.get(key)
        else:
            assert isinstance(chain, tuple) and isinstance(key, bytes)
            nsec3 = proofs.nsec3.get(chain)
            held = None if nsec3 is None else nsec3.held.get(key)
        return held is None or held.expires - now < 1

    def add_wildcard(
        self,
        zone: Name,
        wildcard: Name,
        rrset: Sequence[Record],
        rrsig: Record,
        ttl: int,
        now: float,
    ) -> bool:
        """Hold the RRset of `wildcard` in `zone`, as a secure expansion of it showed
        (records and the RRSIG the caller verified, any owner), for `ttl` seconds."""
        if not rrset or ttl < 1 or not wildcard.is_wild() or not wildcard.is_subdomain(zone):
            return False
        rtype = rrset[0].rtype
        if rtype in (RRType.DNAME, RRType.DS, RRType.NSEC, RRType.NSEC3, RRType.SOA):
            return False  # no wildcard stands for these (RFC 4592 section 4, RFC 6672)
        records = tuple(_with_ttl(r, r.ttl, wildcard) for r in rrset)
        held = _Wildcard(records, _with_ttl(rrsig, rrsig.ttl, wildcard), now + ttl)
        self._zones.setdefault(zone, _ZoneProofs()).wildcards[(wildcard, rtype)] = held
        self._note((zone, _WILDCARD_KEY, (wildcard, rtype)), now, _size((*records, held.rrsig)))
        return True

    def _note(self, where: _Where, now: float, size: int) -> None:
        self._bytes += size - self._order.get(where, 0)
        self._order[where] = size
        self._order.move_to_end(where)
        self._adds += 1
        if self._adds >= max(64, len(self._order) // 4):
            self.purge(now)  # amortised: expired records go without a sweep per add
        while len(self._order) > self.max_records or self._bytes > self.max_bytes:
            oldest, oldest_size = self._order.popitem(last=False)
            self._bytes -= oldest_size
            self._forget(oldest)

    def holds(self, record: Record, now: float) -> bool:
        """Is this very record (an SOA, NSEC or NSEC3) held, and alive?"""
        rdata = record.rdata
        held: _Held | None = None
        if isinstance(rdata, SOA):
            proofs = self._zones.get(record.name)
            held = None if proofs is None else proofs.soa
        elif isinstance(rdata, NSEC):
            key = canonical_key(record.name)
            for depth in range(len(record.name), -1, -1):
                proofs = self._zones.get(record.name.ancestor(depth))
                if proofs is not None and key in proofs.nsec.held:
                    held = proofs.nsec.held[key]
                    break
        elif isinstance(rdata, NSEC3) and record.name.labels:
            proofs = self._zones.get(record.name.parent())
            chain = None
            if proofs is not None:
                chain = proofs.nsec3.get((rdata.hash_algorithm, rdata.salt, rdata.iterations))
            if chain is not None:
                try:
                    held = chain.held.get(base32hex_decode(record.name.labels[0].decode("ascii")))
                except (InvalidRdata, UnicodeDecodeError):
                    held = None
        return held is not None and held.record == record and held.expires - now >= 1

    def _usable_nsec3(self, record: Record, rdata: NSEC3, zone: Name) -> bool:
        if not record.name.labels or record.name.parent() != zone:
            return False
        if rdata.hash_algorithm != SHA1 or rdata.flags & ~OPT_OUT:
            return False  # RFC 5155 sections 8.1 and 8.2: ignored
        if rdata.iterations > self.max_iterations:
            return False
        try:
            owner_hash = base32hex_decode(record.name.labels[0].decode("ascii"))
        except (InvalidRdata, UnicodeDecodeError):
            return False
        return len(owner_hash) == len(rdata.next)

    def _forget(self, where: _Where) -> None:
        zone, chain, key = where
        proofs = self._zones.get(zone)
        if proofs is None:
            return
        if chain == _SOA_KEY:
            proofs.soa = None
        elif chain == _WILDCARD_KEY:
            proofs.wildcards.pop(key, None)  # type: ignore[call-overload]
        elif chain == _NSEC_KEY:
            assert isinstance(key, tuple)
            proofs.nsec.remove(key)
        else:
            assert isinstance(chain, tuple) and isinstance(key, bytes)
            nsec3 = proofs.nsec3.get(chain)
            if nsec3 is not None:
                nsec3.remove(key)
                if not nsec3:
                    del proofs.nsec3[chain]
        if proofs.empty():
            del self._zones[zone]

    # -- synthesising ----------------------------------------------------------------

    def synthesise(
        self, qname: Name, qtype: RRType, now: float, max_ttl: int | None = None
    ) -> Denial | Expansion | None:
        """What the held records prove of (qname, qtype): its denial, or its
        expansion from a wildcard; None if they prove neither.

        Types without data of their own (ANY and the other meta-types) are never
        denied from a bitmap; call this only for real types."""
        if not self._zones or any(qname.is_subdomain(d) for d in self.insecure_domains):
            return None
        if qtype == RRType.DS:
            if qname.is_root():
                return None
            home = qname.parent()  # the parent side of the cut holds DS
        else:
            home = qname
        proofs = None
        zone = home
        for depth in range(len(home), -1, -1):
            zone = home.ancestor(depth)
            proofs = self._zones.get(zone)
            if proofs is not None:
                break
        if proofs is None:
            return None
        denial = self._denial(proofs, zone, qname, qtype, now, max_ttl)
        if denial is not None or qtype == RRType.DS:
            return denial
        return self._expansion(proofs, zone, qname, qtype, now, max_ttl)

    def _denial(
        self,
        proofs: _ZoneProofs,
        zone: Name,
        qname: Name,
        qtype: RRType,
        now: float,
        max_ttl: int | None,
    ) -> Denial | None:
        soa = proofs.soa
        if soa is None or soa.expires - now < 1:
            return None
        found = self._by_nsec(proofs.nsec, qname, qtype, now)
        if found is None:
            found = self._by_nsec3(proofs.nsec3, zone, qname, qtype, now)
        if found is None:
            return None
        nxdomain, used = found
        ttl = _ttl((soa, *used), now, max_ttl)
        if ttl < 1:
            return None
        proof: list[Record] = []
        for held in used:
            proof.append(_with_ttl(held.record, ttl))
            proof.extend(_with_ttl(sig, ttl) for sig in held.rrsigs)
        proof.extend(_with_ttl(sig, ttl) for sig in soa.rrsigs)
        return Denial(nxdomain, _with_ttl(soa.record, ttl), tuple(proof), ttl)

    def _expansion(
        self,
        proofs: _ZoneProofs,
        zone: Name,
        qname: Name,
        qtype: RRType,
        now: float,
        max_ttl: int | None,
    ) -> Expansion | None:
        if not proofs.wildcards or qname == zone:
            return None
        limit = self.max_iterations
        # The deepest wildcard that could be the source: a closer one wins, and the
        # proof below shows no name lies between it and the name asked.
        for depth in range(len(qname) - 1, len(zone) - 1, -1):
            encloser = qname.ancestor(depth)
            wildcard = encloser.child(b"*")
            held = proofs.wildcards.get((wildcard, qtype))
            if held is None and qtype != RRType.CNAME:
                held = proofs.wildcards.get((wildcard, RRType.CNAME))
            if held is None or held.expires - now < 1:
                continue
            cover = None
            if proofs.nsec:
                cover = proofs.nsec.at_or_before(canonical_key(qname), now)
                if cover is not None and not nsec_wildcard([cover.record], qname, wildcard).proven:
                    cover = None
            if cover is None:
                next_closer = qname.ancestor(depth + 1)
                for (algorithm, salt, iterations), chain in proofs.nsec3.items():
                    hashed = nsec3_hash(next_closer, salt, iterations, algorithm)
                    found = chain.before_wrapping(hashed, now)
                    if (
                        found is not None
                        and not _opt_out(found)
                        and nsec3_wildcard(
                            [found.record], qname, wildcard, max_iterations=limit
                        ).proven
                    ):
                        cover = found
                        break
            if cover is None:
                return None  # the closest wildcard is not proven the source: ask
            ttl = _ttl((held, cover), now, max_ttl)
            if ttl < 1:
                return None
            return Expansion(
                tuple(_with_ttl(r, ttl, qname) for r in held.records),
                (_with_ttl(held.rrsig, ttl, qname),),
                (_with_ttl(cover.record, ttl), *(_with_ttl(sig, ttl) for sig in cover.rrsigs)),
                ttl,
            )
        return None

    def _by_nsec(
        self, chain: _Chain[tuple[bytes, ...]], qname: Name, qtype: RRType, now: float
    ) -> tuple[bool, list[_Held]] | None:
        if not chain:
            return None
        before = chain.at_or_before(canonical_key(qname), now)
        if before is None:
            return None
        used = [before]
        if nsec_nodata([before.record], qname, qtype).proven:
            # The name's own NSEC, an empty non-terminal, or a wildcard NSEC
            # whose range covers the name.
            return False, used
        if before.record.name == qname:
            return None
        rdata = before.record.rdata
        assert isinstance(rdata, NSEC)
        # The closest encloser a covering NSEC implies (as _dnssec.nsec works it out).
        first = common_ancestor(qname, before.record.name)
        second = common_ancestor(qname, rdata.next)
        encloser = first if len(first) >= len(second) else second
        wildcard = chain.at_or_before(canonical_key(encloser.child(b"*")), now)
        if wildcard is not None and wildcard is not before:
            used.append(wildcard)
        records = [held.record for held in used]
        if nsec_nxdomain(records, qname).proven:
            return True, used
        if nsec_nodata(records, qname, qtype).proven:
            return False, used
        return None

    def _by_nsec3(
        self,
        chains: Mapping[_ParamKey, _Chain[bytes]],
        zone: Name,
        qname: Name,
        qtype: RRType,
        now: float,
    ) -> tuple[bool, list[_Held]] | None:
        for params, chain in chains.items():
            if chain:
                found = self._by_nsec3_chain(params, chain, zone, qname, qtype, now)
                if found is not None:
                    return found
        return None

    def _by_nsec3_chain(
        self,
        params: _ParamKey,
        chain: _Chain[bytes],
        zone: Name,
        qname: Name,
        qtype: RRType,
        now: float,
    ) -> tuple[bool, list[_Held]] | None:
        algorithm, salt, iterations = params
        limit = self.max_iterations

        def hashed(name: Name) -> bytes:
            return nsec3_hash(name, salt, iterations, algorithm)

        match = chain.at(hashed(qname), now)
        if match is not None:
            if nsec3_nodata([match.record], qname, qtype, max_iterations=limit).proven:
                return False, [match]
            return None
        # The closest encloser proof (RFC 5155 section 8.3), from what is held.
        encloser: tuple[Name, _Held] | None = None
        for depth in range(len(qname) - 1, len(zone) - 1, -1):
            candidate = qname.ancestor(depth)
            held = chain.at(hashed(candidate), now)
            if held is not None:
                encloser = (candidate, held)
                break
        if encloser is None:
            return None
        closest, closest_held = encloser
        next_closer = chain.before_wrapping(hashed(qname.ancestor(len(closest) + 1)), now)
        if next_closer is None or _opt_out(next_closer):
            return None  # RFC 8198 section 5.1: opt-out ranges prove no absence
        wildcard_hash = hashed(closest.child(b"*"))
        wildcard = chain.at(wildcard_hash, now)
        wildcard_exists = wildcard is not None
        if wildcard is None:
            wildcard = chain.before_wrapping(wildcard_hash, now)
            if wildcard is None or _opt_out(wildcard):
                return None
        used: list[_Held] = []
        for held in (closest_held, next_closer, wildcard):
            if all(held is not other for other in used):
                used.append(held)
        records = [held.record for held in used]
        if not wildcard_exists and nsec3_nxdomain(records, qname, max_iterations=limit).proven:
            return True, used
        if nsec3_nodata(records, qname, qtype, max_iterations=limit).proven:
            return False, used  # the wildcard has no such type
        return None


def _size(records: Iterable[Record]) -> int:
    return sum(
        len(r.name.to_wire()) + 10 + len(r.rdata.to_bytes()) + _RECORD_OVERHEAD for r in records
    )


def _ttl(held: Sequence[_Held | _Wildcard], now: float, max_ttl: int | None) -> int:
    """RFC 8198 section 5.4: no longer than any record the answer rests on."""
    ttl = math.floor(min(h.expires for h in held) - now)
    return ttl if max_ttl is None else min(ttl, max_ttl)


def _opt_out(held: _Held) -> bool:
    rdata = held.record.rdata
    return isinstance(rdata, NSEC3) and rdata.opt_out


# -- what the resolver calls -----------------------------------------------------------


def remember_secure(ctx: Context, answer: Answer, zones: Mapping[Name, ZoneKeys]) -> None:
    """After `answer` validated SECURE: keep each wildcard expansion's proof with
    its RRset in the cache; and in `ctx.aggressive`, the answer's NSEC/NSEC3
    records, its SOA and the wildcards it expanded, each verified once more here
    with the trusted keys in `zones` (the validator's)."""
    now = ctx.clock()
    _keep_wildcard_proof(ctx, answer, now)
    store = ctx.aggressive
    if store is None:
        return
    signatures = (*answer.proof, *answer.rrsigs)
    denials = [r for r in answer.proof if r.rtype in (RRType.NSEC, RRType.NSEC3)]
    proven = [tuple(rs) for rs in rrsets(denials).values()]
    if answer.soa is not None:
        proven.append((answer.soa,))
    for rrset in proven:
        if len(rrset) != 1:
            continue  # an NSEC, NSEC3 or SOA RRset has one record
        if store.holds(rrset[0], now):
            continue  # most negative answers repeat the zone's SOA: verified already
        verified = _verified(rrset, signatures, zones, now)
        if verified is not None and verified[1].wildcard is None:
            signer, result = verified
            assert result.rrsig is not None and result.ttl is not None
            store.add(signer, rrset[0], (result.rrsig,), result.ttl, now)
    if answer.proof and answer.rcode == Rcode.NOERROR:
        for rrset in map(tuple, rrsets(answer.records, signatures=False).values()):
            if not _expanded_from_wildcard(rrset, answer.rrsigs):
                continue
            verified = _verified(rrset, answer.rrsigs, zones, now)
            if verified is not None:
                signer, result = verified
                wildcard = result.wildcard
                if wildcard is not None:
                    assert result.rrsig is not None and result.ttl is not None
                    store.add_wildcard(signer, wildcard, rrset, result.rrsig, result.ttl, now)


def _verified(
    rrset: Sequence[Record],
    signatures: Sequence[Record],
    zones: Mapping[Name, ZoneKeys],
    now: float,
) -> tuple[Name, VerifyResult] | None:
    """The signer and the verification, if `rrset` verifies now with the keys the
    validator trusts for the zone its RRSIGs name."""
    sigs = covering(rrset, signatures)
    signer = next((s.rdata.signer for s in sigs if isinstance(s.rdata, RRSIG)), None)
    if signer is None:
        return None
    keys = zones.get(signer)
    if (
        keys is None
        or keys.verdict.validation is not Validation.SECURE
        or keys.expires <= now
        or not keys.keys
        or any(key.name != signer for key in keys.keys)
    ):
        return None  # not a zone whose keys are trusted now
    result = verify_rrset(rrset, sigs, keys.keys, int(now))
    if not result.secure or result.rrsig is None or result.ttl is None:
        return None
    return signer, result


def _expanded_from_wildcard(rrset: Sequence[Record], rrsigs: Sequence[Record]) -> bool:
    """Does an RRSIG over `rrset` count fewer labels than its owner has (RFC 4035
    section 5.3.4)? Whether it verifies is another matter."""
    labels = signature_labels(rrset[0].name)
    return any(
        isinstance(sig.rdata, RRSIG) and sig.rdata.labels < labels
        for sig in covering(rrset, rrsigs)
    )


def _keep_wildcard_proof(ctx: Context, answer: Answer, now: float) -> None:
    """Store the proof with each wildcard-expanded RRset of a secure answer, so the
    cache can hand it to a DO client later (it lives as long as the RRset)."""
    if answer.rcode != Rcode.NOERROR or not answer.records:
        return
    proof = tuple(
        r
        for r in answer.proof
        if r.rtype in (RRType.NSEC, RRType.NSEC3)
        or (isinstance(r.rdata, RRSIG) and r.rdata.type_covered in (RRType.NSEC, RRType.NSEC3))
    )
    if not proof:
        return
    for rrset in map(tuple, rrsets(answer.records, signatures=False).values()):
        if not _expanded_from_wildcard(rrset, answer.rrsigs):
            continue
        first = rrset[0]
        cached = ctx.cache.get_rrset(first.name, first.rtype, first.rclass, now)
        if (
            cached is None
            or cached.validation is not Validation.SECURE
            or {r.rdata for r in cached.records} != {r.rdata for r in rrset}
        ):
            continue
        ctx.cache.put_rrset(
            cached.records,
            cached.rank,
            now,
            rrsigs=cached.rrsigs,
            validation=cached.validation,
            proof=proof,
        )


def synthesised_answer(
    ctx: Context,
    qname: Name,
    current: Name,
    qtype: RRType,
    qclass: RRClass,
    chain: Sequence[Record],
    sigs: Sequence[Record],
    seen: set[Name],
    work: Work,
) -> Answer | None:
    """The answer validated NSEC/NSEC3 ranges and wildcards prove for `current`
    (where the chain from `qname` has got to), as a cached answer; or None.

    Not for CD questions: a client that validates for itself asks for what the
    servers say, not for what this resolver concluded."""
    store = ctx.aggressive
    if store is None or work.cd or qclass != RRClass.IN or qtype == RRType.ANY:
        return None
    now = ctx.clock()
    found = store.synthesise(current, qtype, now, ctx.cache.max_negative_ttl)
    if found is None:
        return None
    if isinstance(found, Expansion):
        return _expanded(ctx, qname, current, qtype, qclass, chain, sigs, seen, work, found)
    validation = _chain_validation(ctx, chain, now)
    if validation is None:
        return None  # a bogus link: let resolution say so
    kind = "NXDOMAIN" if found.nxdomain else "NODATA"
    work.event("cache", current, qtype, outcome=f"{kind} from validated denials (RFC 8198)")
    ctx.stats.aggressive_answers += 1
    return Answer(
        qname,
        qtype,
        qclass,
        Rcode.NXDOMAIN if found.nxdomain else Rcode.NOERROR,
        tuple(chain),
        soa=found.soa,
        ttl=min(found.ttl, *(r.ttl for r in chain)) if chain else found.ttl,
        from_cache=True,
        validation=validation,
        rrsigs=tuple(sigs),
        proof=found.proof,
    )


def _expanded(
    ctx: Context,
    qname: Name,
    current: Name,
    qtype: RRType,
    qclass: RRClass,
    chain: Sequence[Record],
    sigs: Sequence[Record],
    seen: set[Name],
    work: Work,
    expansion: Expansion,
) -> Answer | None:
    """The answer a wildcard expansion gives: the data, or a CNAME followed on
    through the cache (all of the chain from here, or nothing).

    Left INDETERMINATE: the resolver validates it as it would the same answer from
    the network (the RRSIG and the proof are all here), so made-up data is never
    served on this module's word alone, and what judges validated answers (the
    RFC 8509 sentinel) judges these too."""
    records = expansion.records
    target = records[0].rdata
    answer: Answer | None
    if qtype != RRType.CNAME and isinstance(target, CNAME):
        from .cache_path import follow  # the cache path calls this module

        # Copies: if the chain's end is not known here, the resolution goes on
        # from `current` with the chain as it was.
        known = follow(
            ctx,
            qname,
            qtype,
            qclass,
            target.target,
            [*chain, *records],
            [*sigs, *expansion.rrsigs],
            set(seen),
            work,
        )
        answer = known.answer
        if answer is None or answer.failed:
            return None
        proof = (*expansion.proof, *answer.proof)
    else:
        answer = Answer(
            qname,
            qtype,
            qclass,
            Rcode.NOERROR,
            (*chain, *records),
            ttl=min(r.ttl for r in (*chain, *records)),
            from_cache=True,
            rrsigs=(*sigs, *expansion.rrsigs),
        )
        proof = expansion.proof
    work.event("cache", current, records[0].rtype, outcome="expanded a wildcard (RFC 8198)")
    ctx.stats.aggressive_answers += 1
    return attrs.evolve(answer, proof=proof, validation=Validation.INDETERMINATE)


def _chain_validation(ctx: Context, chain: Sequence[Record], now: float) -> Validation | None:
    """What the CNAMEs leading to a synthesised answer were found to be: None if
    bogus, INDETERMINATE if one was never validated (the resolver then validates
    the whole answer)."""
    states = set()
    for rrset in map(tuple, rrsets(chain, signatures=False).values()):
        first = rrset[0]
        cached = ctx.cache.get_rrset(first.name, first.rtype, first.rclass, now)
        if cached is None or {r.rdata for r in cached.records} != {r.rdata for r in rrset}:
            states.add(Validation.INDETERMINATE)
        else:
            states.add(cached.validation)
    if Validation.BOGUS in states:
        return None
    for state in (Validation.INDETERMINATE, Validation.INSECURE):
        if state in states:
            return state
    return Validation.SECURE

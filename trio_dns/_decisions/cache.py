"""The resolver's cache: RRsets and negative answers with TTLs that count down.

Theory of operation: one `OrderedDict` holds every entry, least recently used
first, keyed by (owner name, type, class). A positive RRset and a NODATA entry
for the same name and type share a key, so storing one replaces the other. An
NXDOMAIN covers every type at its name, so it has its own key with a type
number no RRType can have. Entries remember when they expire (`now + ttl`,
absolute, in whatever clock the caller uses); nothing here reads a clock, so
every method takes `now` and tests can name the instant they mean.

Remaining TTLs are rounded down: the TTL handed out never claims more life than
the entry has left, and an entry with less than one second left counts as
expired, so no lookup ever returns a TTL of 0 (or below). Expired entries are
dropped lazily, when a lookup or an insert meets them, or by LRU eviction,
which keeps both the entry count and an approximate byte count (the records'
uncompressed wire length plus a fixed overhead per entry and per record) under
their limits.

Serve-stale (RFC 8767): with `stale_retention` above 0, an expired entry is
kept that many seconds past its expiry (LRU eviction still applies, and takes
the unasked first). Ordinary lookups never see it: only `get_stale_rrset` and
`get_stale_negative` do, for the resolver to answer with when it cannot
reach the authorities. `lifetime` tells how much of its TTL a live entry has
left, for prefetching it before it expires.

Trust follows RFC 2181 section 5.4.1: every entry carries a `Rank`, and new
data replaces an unexpired entry only if it ranks at least as high. Glue never
overwrites what an authoritative server said, and callers answering clients
ask for `min_rank=Rank.ANSWER` so glue is never served as an answer.

A zone's NS set is the one exception to "new data restarts the clock": while
the NS set at a name is alive, no store there, of the same data or new, of any
rank, makes it live longer than it already would. The parent's referral sets
the delegation's lifetime, and the child cannot renew it (its NS set in every
answer would otherwise keep a domain that its parent has removed alive for as
long as its own servers answer: the "ghost domain" names of CVE-2012-1033, fixed
the same way in BIND). Once it expires, the next walk goes back to the parent.

Positive data at a name (and a NODATA, which proves the name exists too) also
removes the NXDOMAIN entries at that name and its ancestors, which it
contradicts; if one of those outranks it, the new data is refused instead. An
NXDOMAIN removes nothing: the data cached for the name's types simply ages out,
and lookups of it are still answered (callers ask for positive data first).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from .._trust import NegativeKind, Rank, Validation
from .._wire.enums import RRClass, RRType
from .._wire.message import Record
from .._wire.name import Name, wire_and_ancestors, wire_at_or_below
from .._wire.rdtypes.soa import SOA


@attrs.frozen
class CachedRRset:
    """An RRset as a lookup returns it: every TTL is what remains at that instant."""

    name: Name
    rtype: RRType
    rclass: RRClass
    records: tuple[Record, ...]
    rank: Rank
    ttl: int
    validation: Validation = Validation.INDETERMINATE
    rrsigs: tuple[Record, ...] = ()
    # For a wildcard expansion: the NSEC/NSEC3 records (and RRSIGs) proving it,
    # each TTL no more than its own nor the RRset's.
    proof: tuple[Record, ...] = ()
    # From a serve-stale lookup, and expired: ordinary lookups would not return it.
    stale: bool = False


@attrs.frozen
class NegativeEntry:
    """A cached negative answer. `rtype` is None for NXDOMAIN, which covers every type."""

    name: Name
    rtype: RRType | None
    rclass: RRClass
    kind: NegativeKind
    soa: Record | None
    ttl: int
    rank: Rank = Rank.AUTH_ANSWER
    validation: Validation = Validation.INDETERMINATE
    proof: tuple[Record, ...] = ()
    stale: bool = False  # as CachedRRset's


@attrs.frozen
class CacheStats:
    """A snapshot of a cache's size and counters."""

    entries: int
    bytes: int
    hits: int
    misses: int
    negative_hits: int
    inserts: int
    refused: int
    evictions: int
    expired: int


# A type number outside 0..65535: the key of a name's NXDOMAIN entry.
_NXDOMAIN = -1
# Rough per-entry and per-record costs beyond the wire octets, so that many tiny
# entries still count for something against max_bytes.
ENTRY_OVERHEAD = 128
RECORD_OVERHEAD = 16
# Record wire form after the owner name: type, class, TTL, rdlength.
_FIXED = 10

# (owner's canonical wire form, type or _NXDOMAIN, class). The owner's key bytes,
# not the Name: a bytes object hashes and compares in C (and remembers its hash),
# where a Name's __hash__ and __eq__ are Python calls, several per lookup; and an
# ancestor's key is a slice of its descendant's, where an ancestor Name is an
# object to build.
_Key = tuple[bytes, int, int]


def _remaining(expires: float, now: float) -> int:
    # Rounded down: a TTL handed out never outlives the entry.
    return math.floor(expires - now)


def _stale_ttl(expires: float, now: float, ttl: int) -> int:
    left = _remaining(expires, now)
    return min(left, ttl) if left >= 1 else ttl


def _stale_negative(entry: _Negative, now: float, ttl: int, name: Name) -> NegativeEntry:
    view = entry.view(_stale_ttl(entry.expires, now, ttl), name)
    return attrs.evolve(view, stale=True) if _remaining(entry.expires, now) < 1 else view


def _with_ttl(records: tuple[Record, ...], ttl: int) -> tuple[Record, ...]:
    return tuple(Record(r.name, r.rtype, r.rclass, ttl, r.rdata) for r in records)


def _at_most(records: tuple[Record, ...], ttl: int) -> tuple[Record, ...]:
    return tuple(Record(r.name, r.rtype, r.rclass, min(r.ttl, ttl), r.rdata) for r in records)


def _record_size(record: Record, rdata: bytes) -> int:
    """What one record is counted as, given its rdata's wire form."""
    return len(record.name.to_wire()) + _FIXED + len(rdata) + RECORD_OVERHEAD


def _records_size(records: Sequence[Record]) -> int:
    return sum(_record_size(r, r.rdata.to_bytes()) for r in records)


@attrs.define(eq=False)
class _Positive:
    records: tuple[Record, ...]
    rrsigs: tuple[Record, ...]
    rank: Rank
    validation: Validation
    expires: float
    size: int
    # The last answer built, reused while the remaining TTL stays the same second.
    memo: CachedRRset | None = None
    proof: tuple[Record, ...] = ()
    stored: float = 0.0  # when the TTL last started: expires - stored is the whole of it

    def view(self, ttl: int) -> CachedRRset:
        memo = self.memo
        if memo is None or memo.ttl != ttl:
            first = self.records[0]
            memo = self.memo = CachedRRset(
                first.name,
                first.rtype,
                first.rclass,
                _with_ttl(self.records, ttl),
                self.rank,
                ttl,
                self.validation,
                _with_ttl(self.rrsigs, ttl),
                _at_most(self.proof, ttl) if self.proof else (),
            )
        return memo


@attrs.define(eq=False)
class _Negative:
    name: Name
    rtype: RRType | None
    rclass: RRClass
    kind: NegativeKind
    soa: Record | None
    proof: tuple[Record, ...]
    rank: Rank
    validation: Validation
    expires: float
    size: int
    stored: float = 0.0

    def view(self, ttl: int, name: Name | None = None) -> NegativeEntry:
        soa = self.soa
        if soa is not None:
            soa = Record(soa.name, soa.rtype, soa.rclass, ttl, soa.rdata)
        return NegativeEntry(
            self.name if name is None else name,
            self.rtype,
            self.rclass,
            self.kind,
            soa,
            ttl,
            self.rank,
            self.validation,
            _with_ttl(self.proof, ttl),
        )


_Entry = _Positive | _Negative


def _at_least(minimum: int) -> Callable[[Any, attrs.Attribute[int], int], None]:
    def check(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
        if value < minimum:
            raise ValueError(f"{attribute.name} must be at least {minimum}, not {value}")

    return check


# Validators run once, in __init__: hooks on every attribute write would tax each
# counter increment on the lookup path.
@attrs.define(eq=False, on_setattr=attrs.setters.NO_OP)
class Cache:
    """A bounded TTL cache of RRsets and negative answers; every method takes `now`.

    `max_bytes` bounds an estimate (records' wire length plus `ENTRY_OVERHEAD` per
    entry and `RECORD_OVERHEAD` per record), not the process's memory. Negative
    answers without an SOA are cached for `no_soa_negative_ttl` seconds (0: not
    cached at all, the default). Settings are checked when the cache is made;
    a limit lowered later takes effect at the next insert.
    """

    max_entries: int = attrs.field(default=100_000, kw_only=True, validator=_at_least(1))
    max_bytes: int = attrs.field(default=64 * 1024 * 1024, kw_only=True, validator=_at_least(0))
    min_ttl: int = attrs.field(default=0, kw_only=True, validator=_at_least(0))
    max_ttl: int = attrs.field(default=86400, kw_only=True, validator=_at_least(1))
    max_negative_ttl: int = attrs.field(default=3600, kw_only=True, validator=_at_least(0))
    no_soa_negative_ttl: int = attrs.field(default=0, kw_only=True, validator=_at_least(0))
    # Seconds an expired entry is kept for serve-stale lookups (0: dropped at once).
    # Set by the resolver from its stale_max_age setting when serve_stale is on.
    stale_retention: int = attrs.field(default=0, init=False)

    # Counters. A lookup is one get_rrset or get_negative call; closest_delegation
    # and closest_above are walks, not lookups, and count nothing.
    hits: int = attrs.field(default=0, init=False)
    misses: int = attrs.field(default=0, init=False)
    negative_hits: int = attrs.field(default=0, init=False)  # the hits of get_negative
    inserts: int = attrs.field(default=0, init=False)
    refused: int = attrs.field(default=0, init=False)  # puts turned down by rank
    evictions: int = attrs.field(default=0, init=False)  # dropped for room (LRU)
    expired: int = attrs.field(default=0, init=False)  # dropped when found expired

    _entries: OrderedDict[_Key, _Entry] = attrs.field(init=False, factory=OrderedDict)
    _bytes: int = attrs.field(default=0, init=False)
    _nxdomains: int = attrs.field(default=0, init=False)
    # How many DNAME RRsets are here: with none (the usual case), no name needs
    # the walk up its ancestors that looks for one.
    _dnames: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if self.max_ttl < self.min_ttl:
            raise ValueError(f"max_ttl {self.max_ttl} is below min_ttl {self.min_ttl}")

    # -- size --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """The approximate size of everything stored, as counted against max_bytes."""
        return self._bytes

    def stats(self) -> CacheStats:
        return CacheStats(
            entries=len(self._entries),
            bytes=self._bytes,
            hits=self.hits,
            misses=self.misses,
            negative_hits=self.negative_hits,
            inserts=self.inserts,
            refused=self.refused,
            evictions=self.evictions,
            expired=self.expired,
        )

    def flush(self) -> None:
        """Forget every entry (the counters stay)."""
        self._entries.clear()
        self._bytes = 0
        self._nxdomains = 0
        self._dnames = 0

    def remove(self, name: Name, rtype: RRType | None, rclass: RRClass = RRClass.IN) -> bool:
        """Forget the entry for (name, rtype, rclass), positive or negative.

        `rtype=None` removes the name's NXDOMAIN entry. True if there was one.
        """
        key = (name.canonical_wire(), _NXDOMAIN if rtype is None else rtype, rclass)
        if key not in self._entries:
            return False
        self._drop(key)
        return True

    def remove_name(
        self, name: Name, rtype: RRType | None = None, rclass: RRClass = RRClass.IN
    ) -> int:
        """Forget what is cached at `name` (not below it): every entry there, or with
        `rtype` that type's RRset or NODATA entry. The name's NXDOMAIN goes either
        way, since it answers every type. How many entries went."""
        owner = name.canonical_wire()
        doomed = [
            key
            for key in self._entries
            if key[0] == owner
            and key[2] == rclass
            and (rtype is None or key[1] in (rtype, _NXDOMAIN))
        ]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def remove_subtree(self, name: Name, rclass: RRClass = RRClass.IN) -> int:
        """Forget every entry at `name` and below it (a zone, and whatever was
        cached from the zones it delegates to). How many entries went."""
        zone = name.canonical_wire()
        doomed = [
            key for key in self._entries if key[2] == rclass and wire_at_or_below(key[0], zone)
        ]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def dump(self, now: float) -> list[CachedRRset | NegativeEntry]:
        """Every unexpired entry, least recently used first, its TTLs counted down.

        A snapshot, for operators: it counts no hit and moves nothing in the LRU
        order, and the list is made at once, so the cache may change while the
        caller goes through it."""
        out: list[CachedRRset | NegativeEntry] = []
        for entry in self._entries.values():
            ttl = _remaining(entry.expires, now)
            if ttl >= 1:
                out.append(entry.view(ttl))
        return out

    # -- positive data -------------------------------------------------------------

    def put_rrset(
        self,
        records: Sequence[Record],
        rank: Rank,
        now: float,
        *,
        rrsigs: Sequence[Record] = (),
        validation: Validation = Validation.INDETERMINATE,
        proof: Sequence[Record] = (),
    ) -> bool:
        """Store one RRset (records sharing name, type and class). True if stored.

        `proof` is kept with the RRset for its lifetime and handed out with it
        (a wildcard expansion's NSEC/NSEC3 records and their RRSIGs); its TTLs do
        not shorten the RRset's.

        The TTL is the least of the records' (and the RRSIGs') TTLs, clamped to
        [min_ttl, max_ttl]; a TTL of 0 means "do not cache" and is honoured even
        when min_ttl is higher; an NS set never outlives the live NS set it
        replaces or refreshes. Duplicate records are stored once. Not stored
        (False): an empty set, TTL 0, an entry bigger than max_bytes, and data
        outranked by an unexpired entry for the same key or by an unexpired
        NXDOMAIN at the name or an ancestor.
        """
        if not records:
            return False
        first = records[0]
        name, rtype, rclass = first.name, first.rtype, first.rclass
        ttl = first.ttl
        for record in records[1:]:
            if record.rtype != rtype or record.rclass != rclass or record.name != name:
                raise ValueError(f"{record} is not in the RRset of {name} {rclass} {rtype}")
            ttl = min(ttl, record.ttl)
        signatures = tuple(rrsigs)
        for sig in signatures:
            if sig.rtype != RRType.RRSIG or sig.rclass != rclass or sig.name != name:
                raise ValueError(f"{sig} is not an RRSIG for {name} {rclass}")
            ttl = min(ttl, sig.ttl)
        if ttl <= 0:
            return False
        ttl = min(max(ttl, self.min_ttl), self.max_ttl)
        owner = name.canonical_wire()
        key = (owner, rtype, rclass)
        unique = tuple(records)
        old = self._live(key, now)
        expires = now + ttl
        if rtype == RRType.NS and isinstance(old, _Positive):
            expires = min(expires, old.expires)  # a delegation is not renewed from below
        kept = tuple(proof)
        if (
            isinstance(old, _Positive)
            and old.records == unique
            and old.rrsigs == signatures
            and old.proof == kept
            and (len(unique) == 1 or len(set(unique)) == len(unique))
        ):
            # Every referral and authoritative answer repeats the zone's NS set and
            # glue, so most puts re-store what is already here: refresh the entry
            # in place. Its memoised view survives too (while rank and validation
            # do), so the next lookup of a zone's servers builds no new records.
            if rank < old.rank or not self._clear_nxdomains(owner, rclass, rank, now):
                self.refused += 1
                return False
            if rank != old.rank or validation != old.validation:
                old.rank, old.validation, old.memo = rank, validation, None
            if expires != old.expires:
                old.expires, old.stored = expires, now
            self._entries.move_to_end(key)
            self.inserts += 1
            return True
        # An RRset is a set (RFC 2181 section 5): keep the first of any duplicates.
        by_rdata: dict[bytes, Record] = {}
        for record in records:
            by_rdata.setdefault(record.rdata.to_bytes(), record)
        unique = tuple(by_rdata.values())
        # From the rdata encoded once already, for the duplicates above.
        size = ENTRY_OVERHEAD + sum(_record_size(r, rdata) for rdata, r in by_rdata.items())
        if signatures:
            size += _records_size(signatures)
        if kept:
            size += _records_size(kept)
        if size > self.max_bytes:
            return False
        if not self._may_replace(key, rank, now) or not self._clear_nxdomains(
            owner, rclass, rank, now
        ):
            self.refused += 1
            return False
        entry = _Positive(
            unique, signatures, rank, validation, expires, size, proof=kept, stored=now
        )
        self._insert(key, entry)
        return True

    def get_rrset(
        self,
        name: Name,
        rtype: RRType,
        rclass: RRClass,
        now: float,
        *,
        min_rank: Rank = Rank.ADDITIONAL,
    ) -> CachedRRset | None:
        """The unexpired RRset of at least `min_rank`, its TTLs counted down; or None.

        Callers answering clients pass `min_rank=Rank.ANSWER`, so that glue and
        referral NS sets are never handed out as answers.
        """
        key = (name.canonical_wire(), rtype, rclass)
        entry = self._entries.get(key)
        # Only an entry past its time needs _live (its drop, or serve-stale's
        # keeping): the call is skipped for the rest, on every lookup.
        if entry is not None and entry.expires - now < 1:
            entry = self._live(key, now)
        if isinstance(entry, _Positive) and entry.rank >= min_rank:
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.view(_remaining(entry.expires, now))
        self.misses += 1
        return None

    def closest_delegation(self, name: Name, rclass: RRClass, now: float) -> CachedRRset | None:
        """The unexpired NS RRset (any rank) at `name` or its deepest ancestor that has one.

        That is the zone cut where iterative resolution of `name` can start.
        """
        ancestors = wire_and_ancestors(name.canonical_wire())
        return self._closest(ancestors, RRType.NS, rclass, now, Rank.ADDITIONAL)

    def closest_above(
        self, name: Name, rtype: RRType, rclass: RRClass, now: float, *, min_rank: Rank
    ) -> CachedRRset | None:
        """The unexpired RRset of `rtype` and at least `min_rank` at the deepest
        ancestor of `name` (not `name` itself) that has one: a DNAME above a name.
        A walk, like `closest_delegation`."""
        if rtype == RRType.DNAME and not self._dnames:
            return None
        ancestors = wire_and_ancestors(name.canonical_wire())
        next(ancestors)
        return self._closest(ancestors, rtype, rclass, now, min_rank)

    def _closest(
        self, owners: Iterator[bytes], rtype: RRType, rclass: RRClass, now: float, min_rank: Rank
    ) -> CachedRRset | None:
        # A walk, not a lookup: it counts no hit and no miss.
        entries = self._entries
        for owner in owners:
            key = (owner, rtype, rclass)
            entry = entries.get(key)
            if entry is None:
                continue  # most steps of a walk
            if entry.expires - now < 1:
                entry = self._live(key, now)
            if isinstance(entry, _Positive) and entry.rank >= min_rank:
                self._entries.move_to_end(key)
                return entry.view(_remaining(entry.expires, now))
        return None

    # -- negative answers ----------------------------------------------------------

    def put_negative(
        self,
        name: Name,
        rtype: RRType | None,
        rclass: RRClass,
        soa: Record | None,
        now: float,
        *,
        kind: NegativeKind,
        proof: Sequence[Record] = (),
        rank: Rank = Rank.AUTH_ANSWER,
        validation: Validation = Validation.INDETERMINATE,
    ) -> bool:
        """Store an NXDOMAIN (for every type at `name`; `rtype` is ignored) or NODATA.

        The TTL is RFC 2308 section 5's: the lesser of the SOA record's TTL and its
        MINIMUM field, at most max_negative_ttl; without an SOA it is
        no_soa_negative_ttl (0 by default: not cached). `proof` holds the NSEC or
        NSEC3 records and RRSIGs that prove the denial, kept for DNSSEC. The rank
        rules are put_rrset's; negative answers come from authoritative servers,
        hence the default rank. True if stored.
        """
        if kind is NegativeKind.NODATA and rtype is None:
            raise ValueError("a NODATA entry needs the type that has no data")
        if soa is None:
            ttl = self.no_soa_negative_ttl
        else:
            if not isinstance(soa.rdata, SOA):
                raise ValueError(f"{soa} is not an SOA record")
            ttl = min(soa.ttl, soa.rdata.minimum)
        ttl = min(ttl, self.max_negative_ttl)
        if ttl <= 0:
            return False
        size = ENTRY_OVERHEAD + _records_size(proof) + (_records_size((soa,)) if soa else 0)
        if size > self.max_bytes:
            return False
        owner = name.canonical_wire()
        if kind is NegativeKind.NXDOMAIN:
            rtype = None
            key = (owner, _NXDOMAIN, rclass)
            allowed = self._may_replace(key, rank, now)
        else:
            assert rtype is not None
            key = (owner, rtype, rclass)
            # NODATA says the name exists, which contradicts NXDOMAINs at or above it.
            allowed = self._may_replace(key, rank, now) and self._clear_nxdomains(
                owner, rclass, rank, now
            )
        if not allowed:
            self.refused += 1
            return False
        entry = _Negative(
            name, rtype, rclass, kind, soa, tuple(proof), rank, validation, now + ttl, size, now
        )
        self._insert(key, entry)
        return True

    def get_negative(
        self, name: Name, rtype: RRType | None, rclass: RRClass, now: float
    ) -> NegativeEntry | None:
        """A cached negative answer for (name, rtype), its TTLs counted down; or None.

        An NXDOMAIN at the name answers every type. So does one at an ancestor
        (RFC 8020: nothing exists below a name that does not exist); the entry
        returned then names `name` and carries the ancestor's SOA, proof and TTL.
        """
        owner = name.canonical_wire()
        for ancestor in wire_and_ancestors(owner) if self._nxdomains else ():
            key = (ancestor, _NXDOMAIN, rclass)
            entry = self._live(key, now)
            if isinstance(entry, _Negative):
                self._entries.move_to_end(key)
                self.hits += 1
                self.negative_hits += 1
                return entry.view(_remaining(entry.expires, now), name)
        if rtype is not None:
            key = (owner, rtype, rclass)
            entry = self._entries.get(key)
            if entry is not None and entry.expires - now < 1:
                entry = self._live(key, now)
            if isinstance(entry, _Negative):
                self._entries.move_to_end(key)
                self.hits += 1
                self.negative_hits += 1
                return entry.view(_remaining(entry.expires, now))
        self.misses += 1
        return None

    # -- serve-stale and prefetch (RFC 8767) -----------------------------------------

    def get_stale_rrset(
        self,
        name: Name,
        rtype: RRType,
        rclass: RRClass,
        now: float,
        *,
        ttl: int,
        min_rank: Rank = Rank.ADDITIONAL,
    ) -> CachedRRset | None:
        """The RRset at (name, rtype), expired or not, while the cache keeps it;
        every TTL `ttl`, or what a live entry has left if that is less.

        For serve-stale only: ordinary answers use `get_rrset`, which never
        returns expired data. Counts neither a hit nor a miss."""
        key = (name.canonical_wire(), rtype, rclass)
        entry = self._kept(key, now)
        if isinstance(entry, _Positive) and entry.rank >= min_rank:
            self._entries.move_to_end(key)
            view = entry.view(_stale_ttl(entry.expires, now, ttl))
            return attrs.evolve(view, stale=True) if _remaining(entry.expires, now) < 1 else view
        return None

    def get_stale_negative(
        self, name: Name, rtype: RRType | None, rclass: RRClass, now: float, *, ttl: int
    ) -> NegativeEntry | None:
        """`get_negative`, expired entries kept for serve-stale included; TTLs as
        `get_stale_rrset` gives them."""
        owner = name.canonical_wire()
        for ancestor in wire_and_ancestors(owner) if self._nxdomains else ():
            key = (ancestor, _NXDOMAIN, rclass)
            entry = self._kept(key, now)
            if isinstance(entry, _Negative):
                self._entries.move_to_end(key)
                return _stale_negative(entry, now, ttl, name)
        if rtype is not None:
            key = (owner, rtype, rclass)
            entry = self._kept(key, now)
            if isinstance(entry, _Negative):
                self._entries.move_to_end(key)
                return _stale_negative(entry, now, ttl, name)
        return None

    def lifetime(
        self, name: Name, rtype: RRType | None, rclass: RRClass, now: float
    ) -> tuple[int, int] | None:
        """(seconds left, seconds its TTL was) of the live entry at (name, rtype),
        positive or negative (`rtype=None`: the name's NXDOMAIN); None if there is
        none. Counts nothing and moves nothing, for deciding to prefetch it."""
        key = (name.canonical_wire(), _NXDOMAIN if rtype is None else rtype, rclass)
        entry = self._entries.get(key)
        if entry is None:
            return None
        left = _remaining(entry.expires, now)
        if left < 1:
            return None
        return left, round(entry.expires - entry.stored)

    # -- bookkeeping -----------------------------------------------------------------

    def _live(self, key: _Key, now: float) -> _Entry | None:
        """The entry at `key` unless it has expired (then it is dropped, unless
        kept for serve-stale)."""
        entry = self._entries.get(key)
        # _remaining(...) < 1 without the call: floor(x) < 1 exactly when x < 1.
        if entry is not None and entry.expires - now < 1:
            retention = self.stale_retention
            if not retention or now >= entry.expires + retention:
                self._drop(key)
                self.expired += 1
            return None
        return entry

    def _kept(self, key: _Key, now: float) -> _Entry | None:
        """The entry at `key`, live or expired within `stale_retention`."""
        entry = self._entries.get(key)
        if entry is None or self._live(key, now) is not None:
            return entry
        return self._entries.get(key)  # still there if kept for serve-stale

    def _may_replace(self, key: _Key, rank: Rank, now: float) -> bool:
        entry = self._live(key, now)
        return entry is None or rank >= entry.rank

    def _clear_nxdomains(self, owner: bytes, rclass: RRClass, rank: Rank, now: float) -> bool:
        """Drop the NXDOMAINs at `owner` (a canonical wire form) and above that
        data at `owner` contradicts.

        Changes nothing and returns False if one of them outranks `rank`.
        """
        if not self._nxdomains:
            return True
        found = []
        for ancestor in wire_and_ancestors(owner):
            key = (ancestor, _NXDOMAIN, rclass)
            entry = self._live(key, now)
            if entry is not None:
                if entry.rank > rank:
                    return False
                found.append(key)
            elif key in self._entries:
                found.append(key)  # expired, kept for serve-stale: contradicted now
        for key in found:
            self._drop(key)
        return True

    def _insert(self, key: _Key, entry: _Entry) -> None:
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        self._bytes += entry.size
        if key[1] == _NXDOMAIN:
            self._nxdomains += 1
        elif key[1] == RRType.DNAME:
            self._dnames += 1
        self.inserts += 1
        # The new entry is last and fits alone, so eviction stops before reaching it.
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            old_key, old = self._entries.popitem(last=False)
            self._forget(old_key, old)
            self.evictions += 1

    def _drop(self, key: _Key) -> None:
        self._forget(key, self._entries.pop(key))

    def _forget(self, key: _Key, entry: _Entry) -> None:
        self._bytes -= entry.size
        if key[1] == _NXDOMAIN:
            self._nxdomains -= 1
        elif key[1] == RRType.DNAME:
            self._dnames -= 1

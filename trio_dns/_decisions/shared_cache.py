"""Cache entries as bytes, for a cache that many resolvers share (Redis).

Theory of operation: a fleet of resolvers shares answers through a key-value
store. Each entry of the process's own cache (`Cache`) that is stored is also
written there: one key per (name, class, type), the same keys the cache uses
(an NXDOMAIN has a key of its own, since it answers every type), and a value
that is a small fixed header (magic and version, what kind of entry, its
`Rank` and `Validation`, its type, its absolute expiry in wall-clock seconds)
followed by a DNS message in wire format: the question names the entry, the
answer section holds the RRset (or a negative answer's SOA), the authority
section its RRSIGs, the additional section the NSEC/NSEC3 proof kept with it.
The store's own expiry is set to match, so that it forgets what the resolvers
would no longer serve.

A value read back is input like any packet: another program, an older
version, or an attacker with access to the store may have written it.
`decode_entry_untrusted` parses it with the message parser the resolver uses
for the network and then checks that it is what the key promises (the name,
class and type asked for; only RRSIGs beside the records; only denial records
in the proof; a real SOA), that it is still alive, and that its header holds
known values. Anything else is None, a miss, never an exception.

`SharingCache` is a `Cache` that hands each entry it stores to a callback
(the network layer queues it, and encodes it when it writes), and what an
operator removes from it (a name, a zone) to another, so that a flush reaches
the store too; `insert_shared` puts entries read from the store into it without
handing them back. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable, Sequence

import attrs

from .._errors import MalformedMessage
from .._trust import NegativeKind, Rank, Validation
from .._wire.enums import Flag, RRClass, RRType
from .._wire.message import Header, Message, Question, Record
from .._wire.name import Name
from .._wire.rdtypes.soa import SOA
from .cache import _NXDOMAIN, Cache, CachedRRset, NegativeEntry

_MAGIC = b"TDC1"  # trio-dns cache entry, version 1
# magic, kind, rank, validation, type (0 for NXDOMAIN), expiry (wall-clock seconds)
_HEADER = struct.Struct("!4sBBBHd")
_VALIDATIONS = tuple(Validation)
_VALIDATION_CODES = {validation: code for code, validation in enumerate(_VALIDATIONS)}
_RANKS = {int(rank): rank for rank in Rank}
_PROOF_TYPES = frozenset((RRType.NSEC, RRType.NSEC3, RRType.RRSIG))
KEY_PREFIX = "trio-dns:1:"

# A value bigger than this is not written, nor parsed when read: a DNS message
# cannot be bigger, and a shared store should not make us read megabytes.
MAX_VALUE = _HEADER.size + 65535


class Kind(enum.IntEnum):
    POSITIVE = 0
    NXDOMAIN = 1
    NODATA = 2


@attrs.frozen
class SharedEntry:
    """One cache entry as the shared store holds it. `rtype` is None for NXDOMAIN."""

    name: Name
    rtype: RRType | None
    rclass: RRClass
    kind: Kind
    rank: Rank
    validation: Validation
    expires: float  # absolute: wall-clock seconds
    records: tuple[Record, ...] = ()  # the RRset (positive entries)
    rrsigs: tuple[Record, ...] = ()
    proof: tuple[Record, ...] = ()
    soa: Record | None = None  # a negative answer's

    @classmethod
    def from_rrset(cls, rrset: CachedRRset, expires: float) -> SharedEntry:
        return cls(
            rrset.name,
            rrset.rtype,
            rrset.rclass,
            Kind.POSITIVE,
            rrset.rank,
            rrset.validation,
            expires,
            rrset.records,
            rrset.rrsigs,
            rrset.proof,
        )

    @classmethod
    def from_negative(cls, negative: NegativeEntry, expires: float) -> SharedEntry:
        nxdomain = negative.kind is NegativeKind.NXDOMAIN
        return cls(
            negative.name,
            None if nxdomain else negative.rtype,
            negative.rclass,
            Kind.NXDOMAIN if nxdomain else Kind.NODATA,
            negative.rank,
            negative.validation,
            expires,
            proof=negative.proof,
            soa=negative.soa,
        )

    @property
    def key(self) -> bytes:
        return entry_key(self.name, self.rtype, self.rclass)


def entry_key(name: Name, rtype: RRType | None, rclass: RRClass = RRClass.IN) -> bytes:
    """The store's key for the entry at (name, type, class); `rtype` None: the NXDOMAIN.

    Readable (`trio-dns:1:IN:A:www.example.com.`), so that an operator can look
    with redis-cli; lowercase, as names compare."""
    kind = "NXDOMAIN" if rtype is None else rtype.name
    return f"{KEY_PREFIX}{rclass.name}:{kind}:{name.to_text().lower()}".encode()


def _glob_escaped(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def forget_patterns(name: Name, rclass: RRClass, subtree: bool) -> tuple[bytes, ...]:
    """Glob patterns (Redis's SCAN MATCH) of the keys of every entry at `name`, and
    with `subtree` below it too. They may match a few more (a label with a dot or a
    colon in it): too much forgotten from a cache costs a lookup, never an answer."""
    text = _glob_escaped(name.to_text().lower())
    base = f"{KEY_PREFIX}{rclass.name}:"
    if subtree and name.is_root():
        return (f"{base}*".encode(),)
    at = f"{base}*:{text}".encode()
    return (at, f"{base}*:*.{text}".encode()) if subtree else (at,)


def keys_for(
    name: Name, rtype: RRType, rclass: RRClass = RRClass.IN
) -> tuple[tuple[RRType | None, bytes], ...]:
    """The entries that can answer (name, rtype), as (type, key): its RRset or
    NODATA, a CNAME, an NXDOMAIN (type None)."""
    types: list[RRType | None] = [rtype]
    if rtype != RRType.CNAME:
        types.append(RRType.CNAME)
    types.append(None)
    return tuple((t, entry_key(name, t, rclass)) for t in types)


def encode_entry(entry: SharedEntry) -> bytes:
    """The value stored for `entry` (see the module's docstring for its layout)."""
    qtype = RRType(0) if entry.rtype is None else entry.rtype
    message = Message(
        Header(flags=Flag.QR),
        (Question(entry.name, qtype, entry.rclass),),
        entry.records
        if entry.kind is Kind.POSITIVE
        else (() if entry.soa is None else (entry.soa,)),
        entry.rrsigs,
        entry.proof,
    )
    header = _HEADER.pack(
        _MAGIC,
        entry.kind,
        entry.rank,
        _VALIDATION_CODES[entry.validation],
        int(qtype),
        entry.expires,
    )
    return header + message.to_wire()


def decode_entry_untrusted(
    data: bytes, name: Name, rtype: RRType | None, rclass: RRClass, now: float
) -> SharedEntry | None:
    """The live entry that `data`, read from the store at (name, rtype, rclass)'s key,
    holds; None for anything else: garbage, another entry, an expired one."""
    if not isinstance(data, bytes) or not _HEADER.size < len(data) <= MAX_VALUE:
        return None
    magic, kind_code, rank_code, validation_code, type_code, expires = _HEADER.unpack_from(data)
    if (
        magic != _MAGIC
        or kind_code not in Kind._value2member_map_
        or rank_code not in _RANKS
        or validation_code >= len(_VALIDATIONS)
        or not math.isfinite(expires)
        or expires - now < 1
    ):
        return None
    kind = Kind(kind_code)
    if (kind is Kind.NXDOMAIN) != (rtype is None):
        return None
    if type_code != (0 if rtype is None else rtype):
        return None
    try:
        message = Message.from_wire(data[_HEADER.size :])
    except (MalformedMessage, ValueError):
        return None
    if (
        len(message.question) != 1
        or message.question[0].name != name
        or message.question[0].rclass != rclass
        or message.edns is not None
    ):
        return None
    if not all(_is_rrsig_at(r, name, rclass) for r in message.authority):
        return None
    if not all(r.rtype in _PROOF_TYPES and r.rclass == rclass for r in message.additional):
        return None
    records: tuple[Record, ...] = ()
    soa: Record | None = None
    if kind is Kind.POSITIVE:
        assert rtype is not None
        if not message.answer or not all(
            r.name == name and r.rtype == rtype and r.rclass == rclass for r in message.answer
        ):
            return None
        records = message.answer
    else:
        if message.authority or len(message.answer) > 1:
            return None
        if message.answer:
            soa = message.answer[0]
            if not isinstance(soa.rdata, SOA) or soa.rclass != rclass:
                return None
    return SharedEntry(
        name,
        rtype,
        rclass,
        kind,
        _RANKS[rank_code],
        _VALIDATIONS[validation_code],
        expires,
        records,
        message.authority,
        message.additional,
        soa,
    )


def _is_rrsig_at(record: Record, name: Name, rclass: RRClass) -> bool:
    return record.rtype == RRType.RRSIG and record.name == name and record.rclass == rclass


def _with_ttl(records: Sequence[Record], ttl: int) -> list[Record]:
    return [Record(r.name, r.rtype, r.rclass, min(r.ttl, ttl), r.rdata) for r in records]


def _remaining(expires: float, now: float) -> int:
    return math.floor(expires - now)


# A store's entry point: an entry, and the milliseconds the store should keep it.
# Encoding is the store's to do, off the path of the resolution that stored it.
Share = Callable[[SharedEntry, int], None]
# And to forget: (name, type or None for every type, class, the subtree below too).
Forget = Callable[[Name, RRType | None, RRClass, bool], None]


# Validators run once, in __init__, as in Cache.
@attrs.define(eq=False, on_setattr=attrs.setters.NO_OP)
class SharingCache(Cache):
    """A `Cache` that hands each entry it stores to `share`, with its lifetime.

    `insert_shared` stores entries that came from the shared store without
    handing them back."""

    share: Share | None = attrs.field(default=None, kw_only=True)
    # What an operator flushes (remove_name, remove_subtree) goes from the store too.
    forget: Forget | None = attrs.field(default=None, kw_only=True)
    _quiet: bool = attrs.field(default=False, init=False)

    def remove_name(
        self, name: Name, rtype: RRType | None = None, rclass: RRClass = RRClass.IN
    ) -> int:
        removed = super().remove_name(name, rtype, rclass)
        if self.forget is not None:
            self.forget(name, rtype, rclass, False)
        return removed

    def remove_subtree(self, name: Name, rclass: RRClass = RRClass.IN) -> int:
        removed = super().remove_subtree(name, rclass)
        if self.forget is not None:
            self.forget(name, None, rclass, True)
        return removed

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
        stored = super().put_rrset(
            records, rank, now, rrsigs=rrsigs, validation=validation, proof=proof
        )
        if stored and not self._quiet and self.share is not None:
            first = records[0]
            self._share(first.name, first.rtype, first.rclass, now)
        return stored

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
        stored = super().put_negative(
            name, rtype, rclass, soa, now, kind=kind, proof=proof, rank=rank, validation=validation
        )
        if stored and not self._quiet and self.share is not None:
            type_key = _NXDOMAIN if kind is NegativeKind.NXDOMAIN or rtype is None else rtype
            self._share(name, type_key, rclass, now)
        return stored

    def _share(self, name: Name, type_key: int, rclass: RRClass, now: float) -> None:
        assert self.share is not None
        entry = self._entries.get((name.canonical_wire(), type_key, rclass))
        if entry is None:
            return
        ttl = _remaining(entry.expires, now)
        if ttl < 1:
            return
        view = entry.view(ttl)
        if isinstance(view, CachedRRset):
            shared = SharedEntry.from_rrset(view, entry.expires)
        else:
            shared = SharedEntry.from_negative(view, entry.expires)
        # The store forgets it when we would: at the entry's expiry.
        self.share(shared, math.floor((entry.expires - now) * 1000))

    def insert_shared(self, entries: Sequence[SharedEntry], now: float) -> int:
        """Store entries read from the shared store without handing them back."""
        self._quiet = True
        try:
            return _insert(self, entries, now)
        finally:
            self._quiet = False


def insert_shared(cache: Cache, entries: Sequence[SharedEntry], now: float) -> int:
    """Store entries read from the shared store in `cache` (each TTL what is left of
    its life), by the usual rules of rank; how many were stored. A SharingCache
    does not hand them back."""
    if isinstance(cache, SharingCache):
        return cache.insert_shared(entries, now)
    return _insert(cache, entries, now)


def _insert(cache: Cache, entries: Sequence[SharedEntry], now: float) -> int:
    stored = 0
    for entry in entries:
        ttl = _remaining(entry.expires, now)
        if ttl < 1:
            continue
        if entry.kind is Kind.POSITIVE:
            ok = cache.put_rrset(
                _with_ttl(entry.records, ttl),
                entry.rank,
                now,
                rrsigs=_with_ttl(entry.rrsigs, ttl),
                validation=entry.validation,
                proof=_with_ttl(entry.proof, ttl),
            )
        else:
            soa = entry.soa
            if soa is not None:
                soa = Record(soa.name, soa.rtype, soa.rclass, ttl, soa.rdata)
            ok = cache.put_negative(
                entry.name,
                entry.rtype,
                entry.rclass,
                soa,
                now,
                kind=NegativeKind.NXDOMAIN if entry.kind is Kind.NXDOMAIN else NegativeKind.NODATA,
                proof=_with_ttl(entry.proof, ttl),
                rank=entry.rank,
                validation=entry.validation,
            )
        stored += ok
    return stored

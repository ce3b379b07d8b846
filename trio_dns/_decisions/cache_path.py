"""The one way to an answer already known: local zones, then the cache.

Theory of operation: `follow` walks a question's chain as far as what is held
here allows. At each name it asks the local zones first (they answer with
authority, ahead of anything cached), then the cache: the data itself, else a
CNAME to follow, else a cached NXDOMAIN or NODATA. It stops at the first name
nothing here knows, and says so (`Known.current`), or with a whole answer.

`answer_from_cache` is the same walk for a question that must not go to the
network (RD=0, the server's cache-only answers); `referral_from_cache` the
closest zone cut known, for RD=0 questions the cache cannot answer. The
resolver uses `follow` at every step of every resolution, so there is one place
where a cached answer is made, and a cached answer carries the validation state
cached with its parts (`cached_validation`), so nothing is verified twice.
The one answer made elsewhere is the stale one (`stale.py`, for serve-stale):
the same walk through data expired, which nothing here ever sees.

Pure: everything here reads the clock the context was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from .._trust import NegativeKind, Rank, Validation
from .._wire.edns import ExtendedError
from .._wire.enums import EdeCode, Flag, Rcode, RRClass, RRType
from .._wire.message import Message, Record
from .._wire.name import Name
from .._wire.rdtypes.single_name import CNAME, NS
from .aggressive import synthesised_answer
from .answer import Answer, servfail
from .authority import answer_query
from .local_zones import closest_zone
from .recursion import Outcome, classify_reply, describe, synthesise_from_dname

if TYPE_CHECKING:
    from .iteration import Context, Work

# What an ANY question is answered with from the cache, as Unbound does (RFC 8482
# lets a resolver give a subset); a CNAME too, for at an alias it is all there is.
ANY_FROM_CACHE = (
    RRType.A,
    RRType.AAAA,
    RRType.MX,
    RRType.SOA,
    RRType.NS,
    RRType.DNAME,
    RRType.CNAME,
)


@attrs.frozen
class Known:
    """Where `follow` stopped: a whole answer, or the name to resolve on from."""

    answer: Answer | None
    current: Name


def follow(
    ctx: Context,
    qname: Name,
    qtype: RRType,
    qclass: RRClass,
    current: Name,
    chain: list[Record],
    sigs: list[Record],
    seen: set[Name],
    work: Work,
) -> Known:
    """Follow (qname, qtype) from `current` through local zones and the cache.

    `chain`, `sigs` and `seen` are the resolution's own: the CNAMEs followed so
    far, their RRSIGs, and the names visited (a loop is SERVFAIL)."""
    max_chain = ctx.settings.max_chain
    while True:
        if current in seen:
            # SERVFAIL, with the chain that came round (RFC 1034 section 3.6.2).
            loop = servfail(qname, qtype, qclass, EdeCode.OTHER, f"CNAME loop at {current}")
            return Known(attrs.evolve(loop, records=tuple(chain)), current)
        seen.add(current)
        if sum(1 for r in chain if r.rtype == RRType.CNAME) > max_chain:
            too_long = servfail(
                qname, qtype, qclass, EdeCode.OTHER, f"CNAME chain longer than {max_chain}"
            )
            return Known(too_long, current)
        local = _from_local_zones(ctx, qname, current, qtype, qclass, chain, work)
        if isinstance(local, Answer):
            return Known(local, current)
        if local is not None:
            chain.extend(local[0])
            current = local[1]  # the chain left the local zone: resolve on
            continue
        cached = _from_cache(ctx, qname, current, qtype, qclass, chain, work, sigs)
        if cached is None and qtype != RRType.DNAME:
            cached = _from_cached_dname(ctx, current, qclass, chain, work, sigs)
            if cached is not None and qtype == RRType.CNAME:
                # The CNAME a DNAME implies is itself the answer to a CNAME question.
                chain.append(cached)
                cached = Answer(
                    qname,
                    qtype,
                    qclass,
                    Rcode.NOERROR,
                    tuple(chain),
                    ttl=min(r.ttl for r in chain),
                    from_cache=True,
                    rrsigs=tuple(sigs),
                )
        if isinstance(cached, Answer):
            if work.cd:
                return Known(cached, current)
            return Known(cached_validation(ctx, cached, current), current)
        if cached is None:
            denied = synthesised_answer(ctx, qname, current, qtype, qclass, chain, sigs, seen, work)
            return Known(denied, current)  # RFC 8198: a validated denial, else ask
        chain.append(cached)
        assert isinstance(cached.rdata, CNAME)
        current = cached.rdata.target


def answer_from_cache(
    ctx: Context, qname: Name, qtype: RRType, qclass: RRClass, work: Work
) -> Answer | None:
    """The answer local zones and the cache alone can give, or None."""
    known = follow(ctx, qname, qtype, qclass, qname, [], [], set(), work)
    return known.answer


def referral_from_cache(ctx: Context, name: Name) -> tuple[tuple[Record, ...], tuple[Record, ...]]:
    """The NS set of the closest zone cut known above `name`, and its glue: what a
    resolver answers to RD=0 when it has nothing better (as Unbound does)."""
    now = ctx.clock()
    cut = ctx.cache.closest_delegation(name, RRClass.IN, now)
    if cut is not None:
        glue: list[Record] = []
        for record in cut.records:
            if isinstance(record.rdata, NS):
                for rtype in (RRType.A, RRType.AAAA):
                    found = ctx.cache.get_rrset(record.rdata.target, rtype, RRClass.IN, now)
                    if found is not None:
                        glue.extend(found.records)
        return cut.records, tuple(glue)
    return ctx.hint_ns, ctx.hint_glue


def cached_validation(ctx: Context, answer: Answer, final: Name) -> Answer:
    """A cached answer with the validation state its cached parts hold:
    INDETERMINATE if any part was never validated, BOGUS as SERVFAIL."""
    if answer.authoritative or answer.failed:
        return answer
    now = ctx.clock()
    states: list[Validation] = []
    sets: dict[tuple[Name, RRType], list[Record]] = {}
    for record in answer.records:
        sets.setdefault((record.name, record.rtype), []).append(record)
    for rrset in sets.values():
        states.append(known_validation(ctx, rrset))
    if answer.rcode == Rcode.NXDOMAIN or not answer.rrset():
        negative = ctx.cache.get_negative(final, answer.qtype, answer.qclass, now)
        states.append(Validation.INDETERMINATE if negative is None else negative.validation)
    if Validation.BOGUS in states:
        return servfail(
            answer.qname,
            answer.qtype,
            answer.qclass,
            EdeCode.DNSSEC_BOGUS,
            "cached data failed validation",
            Validation.BOGUS,
        )
    if not states or Validation.INDETERMINATE in states:
        return answer
    validation = Validation.INSECURE if Validation.INSECURE in states else Validation.SECURE
    return attrs.evolve(answer, validation=validation)


def known_validation(ctx: Context, rrset: Sequence[Record]) -> Validation:
    """The validation state the cache holds for exactly this RRset."""
    first = rrset[0]
    cached = ctx.cache.get_rrset(first.name, first.rtype, first.rclass, ctx.clock())
    if cached is None or {r.rdata for r in cached.records} != {r.rdata for r in rrset}:
        return Validation.INDETERMINATE
    return cached.validation


def _from_local_zones(
    ctx: Context,
    qname: Name,
    current: Name,
    qtype: RRType,
    qclass: RRClass,
    chain: list[Record],
    work: Work,
) -> Answer | tuple[tuple[Record, ...], Name] | None:
    """An authoritative Answer from a local zone; or the CNAME chain that leads
    out of it and where it leads; or None when no local zone answers the name."""
    if not ctx.local_zones:
        return None
    zone = closest_zone(ctx.local_zones, current, qtype)
    if zone is None or zone.rclass != qclass:
        return None
    forwarded = ctx.upstreams_for(current)
    if (
        forwarded is not None
        and forwarded[0] != zone.origin
        and forwarded[0].is_subdomain(zone.origin)
    ):
        return None  # a forward zone inside the local one: its upstreams speak for it
    query = Message.make_query(current, qtype, qclass, id=0, flags=Flag(0), edns=None)
    reply = answer_query((zone,), query)
    result = classify_reply(reply, current, qtype, zone.origin)
    work.event("local", current, qtype, zone=zone.origin, outcome=describe(result))
    local = not chain or all(r.name.is_subdomain(zone.origin) for r in chain)
    records = (*chain, *result.answer)
    if result.outcome == Outcome.ANSWER:
        ttl = min(r.ttl for r in result.answer)
        return Answer(qname, qtype, qclass, Rcode.NOERROR, records, ttl=ttl, authoritative=local)
    if result.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
        rcode = Rcode.NXDOMAIN if result.outcome == Outcome.NXDOMAIN else Rcode.NOERROR
        return Answer(
            qname,
            qtype,
            qclass,
            rcode,
            records,
            soa=result.soa,
            ttl=negative_ttl(result.soa),
            authoritative=local,
        )
    if result.outcome == Outcome.CNAME:
        assert result.target is not None
        return result.answer, result.target
    if result.outcome == Outcome.REFERRAL:
        # A delegation inside a local zone: the zone's word for where the names
        # below the cut are, so iteration starts there (not at the root, which
        # must neither hear private names nor answer for them).
        ctx.store(result)
    return None


def _from_cache(
    ctx: Context,
    qname: Name,
    current: Name,
    qtype: RRType,
    qclass: RRClass,
    chain: list[Record],
    work: Work,
    sigs: list[Record],
) -> Answer | Record | None:
    """An Answer from cache, a cached CNAME to follow, or None (go and ask).
    The RRSIGs of a cached CNAME are added to `sigs`."""
    cache, now = ctx.cache, ctx.clock()
    if qtype == RRType.ANY:
        return _any_from_cache(ctx, qname, current, qclass, chain, work, sigs)
    hit = cache.get_rrset(current, qtype, qclass, now, min_rank=Rank.ANSWER)
    if hit is not None:
        work.event("cache", current, qtype, outcome="answer")
        ctx.stats.cache_answers += 1
        return Answer(
            qname,
            qtype,
            qclass,
            Rcode.NOERROR,
            (*chain, *hit.records),
            # An answer lives no longer than any link of its chain.
            ttl=min(hit.ttl, *(r.ttl for r in chain)) if chain else hit.ttl,
            from_cache=True,
            rrsigs=(*sigs, *hit.rrsigs),
            proof=hit.proof,  # a wildcard expansion's, for DO clients
        )
    if qtype != RRType.CNAME:
        cname = cache.get_rrset(current, RRType.CNAME, qclass, now, min_rank=Rank.ANSWER)
        if cname is not None:
            work.event("cache", current, RRType.CNAME, outcome="CNAME")
            sigs.extend(cname.rrsigs)
            return cname.records[0]
    return _cached_negative(ctx, qname, current, qtype, qclass, chain, work, sigs)


def _cached_negative(
    ctx: Context,
    qname: Name,
    current: Name,
    qtype: RRType,
    qclass: RRClass,
    chain: list[Record],
    work: Work,
    sigs: list[Record],
) -> Answer | None:
    """A cached NXDOMAIN or NODATA at `current`, as the answer to `qname`."""
    negative = ctx.cache.get_negative(current, qtype, qclass, ctx.clock())
    if negative is None:
        return None
    work.event("cache", current, qtype, outcome=negative.kind.name)
    ctx.stats.cache_answers += 1
    rcode = Rcode.NXDOMAIN if negative.kind == NegativeKind.NXDOMAIN else Rcode.NOERROR
    return Answer(
        qname,
        qtype,
        qclass,
        rcode,
        tuple(chain),
        soa=negative.soa,
        ttl=negative.ttl,
        from_cache=True,
        rrsigs=tuple(sigs),
        proof=negative.proof,
    )


def _from_cached_dname(
    ctx: Context,
    current: Name,
    qclass: RRClass,
    chain: list[Record],
    work: Work,
    sigs: list[Record],
) -> Record | None:
    """The CNAME a cached DNAME above `current` implies (RFC 6672 section 3.4), with
    the DNAME put on the chain before it; None if no DNAME above is cached."""
    found = ctx.cache.closest_above(
        current, RRType.DNAME, qclass, ctx.clock(), min_rank=Rank.ANSWER
    )
    if found is None:
        return None
    dname = found.records[0]
    cname = synthesise_from_dname(dname, current)
    if cname is None:
        return None
    work.event("cache", dname.name, RRType.DNAME, outcome=f"DNAME to {cname.rdata}")
    if dname not in chain:
        chain.append(dname)
        sigs.extend(found.rrsigs)
    return cname


def _any_from_cache(
    ctx: Context,
    qname: Name,
    current: Name,
    qclass: RRClass,
    chain: list[Record],
    work: Work,
    sigs: list[Record],
) -> Answer | None:
    """An ANY question answered from the cache: the answer-section RRsets of the
    common types at the name, if there are any (as Unbound does), or a cached
    negative answer; None sends it upstream."""
    cache, now = ctx.cache, ctx.clock()
    records: list[Record] = []
    rrsigs: list[Record] = list(sigs)
    ttl: int | None = None
    for rtype in ANY_FROM_CACHE:
        hit = cache.get_rrset(current, rtype, qclass, now, min_rank=Rank.ANSWER)
        if hit is not None:
            records.extend(hit.records)
            rrsigs.extend(hit.rrsigs)
            ttl = hit.ttl if ttl is None else min(ttl, hit.ttl)
    if ttl is not None:
        work.event("cache", current, RRType.ANY, outcome="answer")
        ctx.stats.cache_answers += 1
        return Answer(
            qname,
            RRType.ANY,
            qclass,
            Rcode.NOERROR,
            (*chain, *records),
            ttl=ttl,
            from_cache=True,
            rrsigs=tuple(rrsigs),
        )
    return _cached_negative(ctx, qname, current, RRType.ANY, qclass, chain, work, sigs)


def denied_any(qname: Name, qclass: RRClass) -> Answer:
    """NOTIMP for ANY, as Unbound's deny-any answers (and Knot Resolver's any_notimp
    module, with the same Extended DNS Error)."""
    return Answer(
        qname,
        RRType.ANY,
        qclass,
        Rcode.NOTIMP,
        error=ExtendedError(EdeCode.NOT_SUPPORTED, "ANY is not answered here (RFC 8482)"),
    )


def negative_ttl(soa: Record | None) -> int:
    if soa is None:
        return 0
    minimum = getattr(soa.rdata, "minimum", soa.ttl)
    return int(min(soa.ttl, minimum))

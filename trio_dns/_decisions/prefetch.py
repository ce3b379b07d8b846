"""Prefetch: refresh a cached RRset that is asked for shortly before it expires.

Theory of operation: an answer given from the cache in the last tenth of one of
its RRsets' TTLs (Unbound's `prefetch: yes` uses the same tenth) names that
RRset in `due_for_refresh`; the resolver then asks for it again in the
background while the client has its answer at once, so that a popular name is
fresh in the cache when its old TTL runs out, instead of costing the next
client a whole resolution. A negative answer's entry (NXDOMAIN or NODATA) is
refreshed the same way.

`Refresh` is that background question: an `Iteration` that goes straight to
the network for (name, type) instead of reading the answer from the cache (the
cache's zone cuts and addresses still serve it), and stores what comes back
as any resolution does, which restarts the cached TTL. Pure, like `Iteration`:
the driver gives it to the network.
"""

from __future__ import annotations

from collections.abc import Generator

from .._wire.enums import Rcode, RRType
from .._wire.name import Name
from .._wire.rdtypes.single_name import CNAME
from .._wire.rrset import covering, rrsets
from .answer import Answer
from .cache import Cache
from .cache_path import negative_ttl
from .iteration import Event, Iteration, Step, remember_negative
from .recursion import Outcome

# Refreshed when no more than this share of the TTL is left (Unbound's tenth).
PREFETCH_SHARE = 0.1


def due_for_refresh(cache: Cache, answer: Answer, now: float) -> tuple[tuple[Name, RRType], ...]:
    """The (owner, type) of each RRset of `answer` (and of its negative entry)
    that the cache holds with no more than `PREFETCH_SHARE` of its TTL left."""
    if answer.failed or answer.authoritative:
        return ()
    qclass = answer.qclass
    due: list[tuple[Name, RRType]] = []
    final = answer.qname
    for owner, rtype, _ in rrsets(answer.records, signatures=False):
        # An NS set is not renewed from below (cache.py): asking again gains nothing.
        if rtype != RRType.NS and _expiring(cache.lifetime(owner, rtype, qclass, now)):
            due.append((owner, rtype))
    for record in answer.records:
        if isinstance(record.rdata, CNAME):
            final = record.rdata.target
    negative = None
    if answer.rcode == Rcode.NXDOMAIN:
        negative = cache.lifetime(final, None, qclass, now)
    elif answer.rcode == Rcode.NOERROR and not answer.rrset():
        negative = cache.lifetime(final, answer.qtype, qclass, now)
    if _expiring(negative):
        due.append((final, answer.qtype))
    return tuple(due)


def _expiring(lifetime: tuple[int, int] | None) -> bool:
    return lifetime is not None and lifetime[0] <= lifetime[1] * PREFETCH_SHARE


class Refresh(Iteration):
    """Ask for (qname, qtype) again, past the cached answer, and cache the reply."""

    def _resolve(self) -> Generator[Step, Event, Answer]:
        ctx, qname, qtype, qclass = self.context, self.qname, self.qtype, self.qclass
        upstreams = ctx.upstreams_for(qname)
        if upstreams is None:
            result = yield from self._iterate(qname)
        else:
            result = yield from self._forward(qname, *upstreams)
        if result.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
            nxdomain = result.outcome == Outcome.NXDOMAIN
            remember_negative(ctx, qname, qtype, qclass, result)
            return Answer(
                qname,
                qtype,
                qclass,
                Rcode.NXDOMAIN if nxdomain else Rcode.NOERROR,
                soa=result.soa,
                ttl=min(negative_ttl(result.soa), ctx.cache.max_negative_ttl),
                proof=result.proof,
            )
        # An answer (or the CNAME the name is): cached by the iteration already;
        # given back with its signatures, for the validator.
        records = result.answer
        sigs = tuple(
            sig for rrset in rrsets(records).values() for sig in covering(rrset, result.rrsigs)
        )
        ttl = min((r.ttl for r in records), default=0)
        return Answer(
            qname,
            qtype,
            qclass,
            Rcode.NOERROR,
            records,
            ttl=ttl,
            rrsigs=sigs,
            proof=result.proof,
        )


def before_prefetch(ttl: int) -> int:
    """How long an answer with `ttl` may be given without asking the cache it came
    from, when that cache prefetches: until the last tenth of the TTL begins."""
    return ttl - int(ttl * PREFETCH_SHARE)

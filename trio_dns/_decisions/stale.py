"""Serve-stale (RFC 8767): the answer expired data still gives, for when no
authority can be reached.

Theory of operation: `stale_answer` walks a question's chain as `follow`
(`cache_path.py`) does for live data, but through the cache's stale lookups,
which also see entries expired less than `stale_retention` seconds ago: the
data itself, else a CNAME to follow, else a cached NXDOMAIN or NODATA. It
gives an answer only if some part of it has expired (an answer wholly alive is
the ordinary path's to give), every TTL the short `ttl` the operator chose
(RFC 8767 section 4 suggests 30 seconds), and an Extended DNS Error saying it
is stale: 3 (Stale Answer), or 19 (Stale NXDOMAIN Answer) for a name that did
not exist. Validation states come with the cached parts: a part once found
bogus is never served stale, and a validating resolver serves only parts it
judged (secure or insecure).

Local zones never need it (they always answer), nor do DNAMEs and ANY, which
are left to the ordinary path. Pure: the caller says what time it is.
"""

from __future__ import annotations

import attrs

from .._trust import NegativeKind, Rank, Validation
from .._wire.edns import ExtendedError
from .._wire.enums import EdeCode, Rcode, RRClass, RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdtypes.single_name import CNAME
from .answer import Answer
from .cache import Cache

STALE_TEXT = "expired data: no authority answered"


def stale_answer(
    cache: Cache,
    qname: Name,
    qtype: RRType,
    qclass: RRClass,
    now: float,
    *,
    ttl: int,
    max_chain: int,
    validating: bool,
) -> Answer | None:
    """The answer the cache's expired data gives to (qname, qtype), or None:
    nothing kept, nothing of it expired, or a part that may not be served."""
    if qtype == RRType.ANY or cache.lifetime(qname, qtype, qclass, now) is not None:
        # Alive at the name itself, the common case: one look, no records built.
        return None
    chain: list[Record] = []
    sigs: list[Record] = []
    states: list[Validation] = []
    expired = False
    seen: set[Name] = set()
    current = qname
    while current not in seen and len(chain) <= max_chain:
        seen.add(current)
        hit = cache.get_stale_rrset(current, qtype, qclass, now, ttl=ttl, min_rank=Rank.ANSWER)
        if hit is not None:
            if not (expired or hit.stale):
                return None  # alive, every part of it: the ordinary path's answer
            states.append(hit.validation)
            records = (*chain, *hit.records)
            return _served(
                Answer(
                    qname,
                    qtype,
                    qclass,
                    Rcode.NOERROR,
                    records,
                    ttl=min(r.ttl for r in records),
                    from_cache=True,
                    rrsigs=(*sigs, *hit.rrsigs),
                    proof=hit.proof,
                ),
                states,
                validating,
            )
        if qtype != RRType.CNAME:
            alias = cache.get_stale_rrset(
                current, RRType.CNAME, qclass, now, ttl=ttl, min_rank=Rank.ANSWER
            )
            if alias is not None:
                states.append(alias.validation)
                expired = expired or alias.stale
                chain.append(alias.records[0])
                sigs.extend(alias.rrsigs)
                target = alias.records[0].rdata
                assert isinstance(target, CNAME)
                current = target.target
                continue
        negative = cache.get_stale_negative(current, qtype, qclass, now, ttl=ttl)
        if negative is None or not (expired or negative.stale):
            return None
        states.append(negative.validation)
        nxdomain = negative.kind is NegativeKind.NXDOMAIN
        return _served(
            Answer(
                qname,
                qtype,
                qclass,
                Rcode.NXDOMAIN if nxdomain else Rcode.NOERROR,
                tuple(chain),
                soa=negative.soa,
                ttl=min(negative.ttl, *(r.ttl for r in chain)) if chain else negative.ttl,
                from_cache=True,
                rrsigs=tuple(sigs),
                proof=negative.proof,
            ),
            states,
            validating,
        )
    return None  # a loop, or a chain too long: the ordinary path says SERVFAIL


def _served(answer: Answer, states: list[Validation], validating: bool) -> Answer | None:
    if Validation.BOGUS in states:
        return None
    if Validation.INDETERMINATE in states:
        if validating:
            return None  # never judged, and no way to judge it now
        validation = Validation.INDETERMINATE
    elif Validation.INSECURE in states:
        validation = Validation.INSECURE
    else:
        validation = Validation.SECURE
    code = EdeCode.STALE_NXDOMAIN_ANSWER if answer.rcode == Rcode.NXDOMAIN else EdeCode.STALE_ANSWER
    return attrs.evolve(answer, error=ExtendedError(code, STALE_TEXT), validation=validation)


def is_stale(answer: Answer) -> bool:
    """Whether `answer` was made from expired data (its EDE says so)."""
    error = answer.error
    return error is not None and error.info_code in (
        EdeCode.STALE_ANSWER,
        EdeCode.STALE_NXDOMAIN_ANSWER,
    )

"""The pure halves of serve-stale and prefetch: `stale_answer` and
`due_for_refresh`, over a cache at explicit instants."""

from __future__ import annotations

from trio_dns import Name, Rcode, Record, RRClass, RRType, rdata_from_text
from trio_dns._decisions.answer import Answer
from trio_dns._decisions.cache import Cache
from trio_dns._decisions.prefetch import before_prefetch, due_for_refresh
from trio_dns._decisions.stale import stale_answer
from trio_dns._trust import NegativeKind, Rank, Validation
from trio_dns._wire.enums import EdeCode

IN = RRClass.IN


def n(text: str) -> Name:
    return Name.from_text(text)


def rr(name: str, rtype: RRType, text: str, ttl: int = 300) -> Record:
    return Record(n(name), rtype, IN, ttl, rdata_from_text(rtype, text))


def soa(zone: str) -> Record:
    return rr(zone, RRType.SOA, f"ns.{zone} host.{zone} 1 7200 900 1209600 300", 3600)


def kept() -> Cache:
    cache = Cache()
    cache.stale_retention = 86400
    return cache


def stale(cache: Cache, name: str, now: float, *, validating: bool = False) -> Answer | None:
    return stale_answer(
        cache, n(name), RRType.A, IN, now, ttl=30, max_chain=12, validating=validating
    )


def test_nothing_expired_is_no_stale_answer() -> None:
    cache = kept()
    cache.put_rrset([rr("www.example", RRType.A, "192.0.2.1")], Rank.AUTH_ANSWER, 0.0)
    assert stale(cache, "www.example", 100.0) is None  # the ordinary path's to answer
    answer = stale(cache, "www.example", 400.0)
    assert answer is not None and answer.error is not None
    assert answer.error.info_code == EdeCode.STALE_ANSWER and answer.ttl == 30


def test_a_chain_of_live_and_expired_links() -> None:
    cache = kept()
    cache.put_rrset(
        [rr("alias.example", RRType.CNAME, "www.example.", 3600)], Rank.AUTH_ANSWER, 0.0
    )
    cache.put_rrset([rr("www.example", RRType.A, "192.0.2.1", 60)], Rank.AUTH_ANSWER, 0.0)
    answer = stale(cache, "alias.example", 100.0)
    assert answer is not None
    assert [r.rtype for r in answer.records] == [RRType.CNAME, RRType.A]
    assert [r.ttl for r in answer.records] == [30, 30]
    # The chain's live link with less than the stale TTL left keeps what it has.
    answer = stale(cache, "alias.example", 3590.5)
    assert answer is not None
    assert [r.ttl for r in answer.records] == [9, 30] and answer.ttl == 9


def test_a_cname_loop_or_a_gap_gives_nothing() -> None:
    cache = kept()
    cache.put_rrset([rr("a.example", RRType.CNAME, "b.example.")], Rank.AUTH_ANSWER, 0.0)
    cache.put_rrset([rr("b.example", RRType.CNAME, "a.example.")], Rank.AUTH_ANSWER, 0.0)
    assert stale(cache, "a.example", 400.0) is None
    cache.put_rrset([rr("c.example", RRType.CNAME, "unknown.example.")], Rank.AUTH_ANSWER, 0.0)
    assert stale(cache, "c.example", 400.0) is None


def test_validation_states_decide_what_may_be_served() -> None:
    cache = kept()
    for name, state in (
        ("secure.example", Validation.SECURE),
        ("plain.example", Validation.INDETERMINATE),
        ("bogus.example", Validation.BOGUS),
    ):
        cache.put_rrset([rr(name, RRType.A, "192.0.2.1")], Rank.AUTH_ANSWER, 0.0, validation=state)
    secure = stale(cache, "secure.example", 400.0, validating=True)
    assert secure is not None and secure.validation is Validation.SECURE
    assert stale(cache, "plain.example", 400.0, validating=True) is None  # never judged
    plain = stale(cache, "plain.example", 400.0, validating=False)
    assert plain is not None and plain.validation is Validation.INDETERMINATE
    assert stale(cache, "bogus.example", 400.0) is None


def test_stale_negative_answers() -> None:
    cache = kept()
    cache.put_negative(n("gone.example"), None, IN, soa("example"), 0.0, kind=NegativeKind.NXDOMAIN)
    answer = stale(cache, "gone.example", 400.0)
    assert answer is not None and answer.rcode == Rcode.NXDOMAIN
    assert answer.error is not None and answer.error.info_code == EdeCode.STALE_NXDOMAIN_ANSWER
    assert answer.soa is not None and answer.soa.ttl == 30


def answer_of(cache: Cache, name: str, rtype: RRType, now: float) -> Answer:
    hit = cache.get_rrset(n(name), rtype, IN, now)
    assert hit is not None
    return Answer(n(name), rtype, IN, Rcode.NOERROR, hit.records, ttl=hit.ttl, from_cache=True)


def test_due_for_refresh_in_the_last_tenth_only() -> None:
    cache = Cache()
    cache.put_rrset([rr("www.example", RRType.A, "192.0.2.1", 1000)], Rank.AUTH_ANSWER, 0.0)
    www = (n("www.example"), RRType.A)
    assert due_for_refresh(cache, answer_of(cache, "www.example", RRType.A, 0.0), 0.0) == ()
    assert due_for_refresh(cache, answer_of(cache, "www.example", RRType.A, 899.0), 899.0) == ()
    assert due_for_refresh(cache, answer_of(cache, "www.example", RRType.A, 900.0), 900.0) == (www,)
    # The fast path stops where prefetching starts.
    assert before_prefetch(1000) == 900 and before_prefetch(5) == 5


def test_due_for_refresh_names_each_link_and_negative_entry_due() -> None:
    cache = Cache()
    cache.put_rrset(
        [rr("alias.example", RRType.CNAME, "gone.example.", 100)], Rank.AUTH_ANSWER, 0.0
    )
    cache.put_negative(n("gone.example"), None, IN, soa("example"), 0.0, kind=NegativeKind.NXDOMAIN)
    alias = cache.get_rrset(n("alias.example"), RRType.CNAME, IN, 95.0)
    assert alias is not None
    answer = Answer(n("alias.example"), RRType.A, IN, Rcode.NXDOMAIN, alias.records)
    assert due_for_refresh(cache, answer, 95.0) == ((n("alias.example"), RRType.CNAME),)
    assert due_for_refresh(cache, answer, 290.0) == ((n("gone.example"), RRType.A),)


def test_ns_sets_and_failures_are_never_due() -> None:
    cache = Cache()
    cache.put_rrset([rr("example", RRType.NS, "ns.example.", 100)], Rank.AUTH_ANSWER, 0.0)
    answer = answer_of(cache, "example", RRType.NS, 95.0)
    assert due_for_refresh(cache, answer, 95.0) == ()
    failed = Answer(n("example"), RRType.A, IN, Rcode.SERVFAIL)
    assert due_for_refresh(cache, failed, 95.0) == ()

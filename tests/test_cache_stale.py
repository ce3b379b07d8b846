"""The cache's side of serve-stale and prefetch (RFC 8767): expired entries kept
for `stale_retention` seconds, seen only by the stale lookups; `lifetime` for
prefetching. Time is explicit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trio_dns import Name, Record, RRClass, RRType, rdata_from_text
from trio_dns._decisions.cache import Cache
from trio_dns._trust import NegativeKind, Rank, Validation

IN = RRClass.IN
NX = NegativeKind.NXDOMAIN
NODATA = NegativeKind.NODATA
DAY = 86400


def n(text: str) -> Name:
    return Name.from_text(text)


def a(name: str, address: str = "192.0.2.1", ttl: int = 300) -> Record:
    return Record(n(name), RRType.A, IN, ttl, rdata_from_text(RRType.A, address))


def soa(zone: str, ttl: int = 3600, minimum: int = 300) -> Record:
    text = f"ns.{zone} host.{zone} 1 7200 900 1209600 {minimum}"
    return Record(n(zone), RRType.SOA, IN, ttl, rdata_from_text(RRType.SOA, text))


WWW = n("www.example.com")


def kept() -> Cache:
    """A cache that keeps expired entries a day, as serve_stale has it do."""
    cache = Cache()
    cache.stale_retention = DAY
    return cache


def test_without_retention_expired_data_is_dropped_and_not_stale() -> None:
    cache = Cache()
    cache.put_rrset([a("www.example.com")], Rank.AUTH_ANSWER, 1000.0)
    assert cache.get_stale_rrset(WWW, RRType.A, IN, 1300.0, ttl=30) is None
    assert len(cache) == 0 and cache.expired == 1


def test_expired_data_is_kept_for_stale_lookups_only() -> None:
    cache = kept()
    cache.put_rrset([a("www.example.com")], Rank.AUTH_ANSWER, 1000.0)
    # Live: the stale lookup gives it too, with no more TTL than it has left (nor
    # than the stale TTL), and says it is not stale.
    live = cache.get_stale_rrset(WWW, RRType.A, IN, 1100.0, ttl=30)
    assert live is not None and not live.stale and live.ttl == 30
    live = cache.get_stale_rrset(WWW, RRType.A, IN, 1290.0, ttl=30)
    assert live is not None and live.ttl == 10
    # Expired: never in an ordinary answer...
    assert cache.get_rrset(WWW, RRType.A, IN, 1300.0) is None
    assert cache.get_rrset(WWW, RRType.A, IN, 1300.0 + 3600) is None
    # ...but kept, and a stale lookup has it, every TTL the stale TTL.
    assert len(cache) == 1
    stale = cache.get_stale_rrset(WWW, RRType.A, IN, 1300.0 + 3600, ttl=30)
    assert stale is not None and stale.stale
    assert stale.ttl == 30 and [r.ttl for r in stale.records] == [30]
    assert [r.rdata.to_text() for r in stale.records] == ["192.0.2.1"]
    # Until stale_retention past its expiry: then it is gone.
    assert cache.get_stale_rrset(WWW, RRType.A, IN, 1300.0 + DAY - 1, ttl=30) is not None
    assert cache.get_stale_rrset(WWW, RRType.A, IN, 1300.0 + DAY, ttl=30) is None
    assert len(cache) == 0 and cache.expired == 1


def test_stale_lookups_respect_rank() -> None:
    cache = kept()
    cache.put_rrset([a("ns.example.com")], Rank.ADDITIONAL, 1000.0)
    later = 2000.0
    found = cache.get_stale_rrset(n("ns.example.com"), RRType.A, IN, later, ttl=30)
    assert found is not None
    assert (
        cache.get_stale_rrset(
            n("ns.example.com"), RRType.A, IN, later, ttl=30, min_rank=Rank.ANSWER
        )
        is None
    )


def test_new_data_replaces_stale_data_of_any_rank() -> None:
    cache = kept()
    cache.put_rrset([a("www.example.com", "192.0.2.1")], Rank.AUTH_ANSWER, 1000.0)
    assert cache.put_rrset([a("www.example.com", "192.0.2.9")], Rank.ADDITIONAL, 2000.0)
    hit = cache.get_rrset(WWW, RRType.A, IN, 2000.0)
    assert hit is not None and hit.records[0].rdata.to_text() == "192.0.2.9"
    assert len(cache) == 1


def test_negative_answers_can_be_stale() -> None:
    cache = kept()
    cache.put_negative(n("gone.example.com"), None, IN, soa("example.com"), 1000.0, kind=NX)
    cache.put_negative(WWW, RRType.AAAA, IN, soa("example.com"), 1000.0, kind=NODATA)
    later = 1000.0 + 300 + 60
    assert cache.get_negative(n("gone.example.com"), RRType.A, IN, later) is None
    assert cache.get_negative(WWW, RRType.AAAA, IN, later) is None
    nx = cache.get_stale_negative(n("below.gone.example.com"), RRType.A, IN, later, ttl=30)
    assert nx is not None and nx.stale and nx.kind is NX and nx.ttl == 30
    assert nx.name == n("below.gone.example.com")  # RFC 8020, as get_negative
    assert nx.soa is not None and nx.soa.ttl == 30
    nodata = cache.get_stale_negative(WWW, RRType.AAAA, IN, later, ttl=30)
    assert nodata is not None and nodata.stale and nodata.kind is NODATA
    assert cache.get_stale_negative(WWW, RRType.MX, IN, later, ttl=30) is None


def test_data_below_a_stale_nxdomain_removes_it() -> None:
    cache = kept()
    cache.put_negative(n("example.com"), None, IN, soa("example.com"), 1000.0, kind=NX)
    # Expired, kept for serve-stale; then the name turns out to exist after all.
    assert cache.put_rrset([a("www.example.com")], Rank.AUTH_ANSWER, 5000.0)
    assert cache.get_stale_negative(WWW, RRType.A, IN, 5000.0, ttl=30) is None


def test_stale_entries_are_evicted_first() -> None:
    cache = Cache(max_entries=2)
    cache.stale_retention = DAY
    cache.put_rrset([a("old.example.com", ttl=10)], Rank.AUTH_ANSWER, 1000.0)
    cache.put_rrset([a("new.example.com", ttl=3600)], Rank.AUTH_ANSWER, 1100.0)
    cache.put_rrset([a("www.example.com", ttl=3600)], Rank.AUTH_ANSWER, 1200.0)
    assert cache.get_stale_rrset(n("old.example.com"), RRType.A, IN, 1200.0, ttl=30) is None
    assert cache.evictions == 1 and len(cache) == 2


def test_stale_data_keeps_its_validation_state() -> None:
    cache = kept()
    cache.put_rrset([a("www.example.com")], Rank.AUTH_ANSWER, 1000.0, validation=Validation.SECURE)
    stale = cache.get_stale_rrset(WWW, RRType.A, IN, 2000.0, ttl=30)
    assert stale is not None and stale.validation is Validation.SECURE


def test_lifetime_says_how_much_ttl_is_left_of_how_much() -> None:
    cache = kept()
    cache.put_rrset([a("www.example.com", ttl=300)], Rank.AUTH_ANSWER, 1000.0)
    assert cache.lifetime(WWW, RRType.A, IN, 1000.0) == (300, 300)
    assert cache.lifetime(WWW, RRType.A, IN, 1270.5) == (29, 300)
    assert cache.lifetime(WWW, RRType.A, IN, 1300.0) is None  # expired: nothing to prefetch
    assert cache.lifetime(WWW, RRType.AAAA, IN, 1000.0) is None
    # Storing the same data again restarts the clock, and the whole TTL with it.
    cache.put_rrset([a("www.example.com", ttl=600)], Rank.AUTH_ANSWER, 1280.0)
    assert cache.lifetime(WWW, RRType.A, IN, 1290.0) == (590, 600)
    cache.put_negative(n("gone.example.com"), None, IN, soa("example.com"), 1000.0, kind=NX)
    assert cache.lifetime(n("gone.example.com"), None, IN, 1100.0) == (200, 300)
    # Counts nothing.
    assert cache.hits == cache.misses == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a.example", "b.example", "c.example"]),
            st.integers(min_value=1, max_value=100),  # TTL
            st.integers(min_value=0, max_value=150),  # seconds until the next step
        ),
        max_size=30,
    )
)
def test_ordinary_lookups_never_see_expired_data(steps: list[tuple[str, int, int]]) -> None:
    cache = Cache(max_entries=2)
    cache.stale_retention = 1000
    expiry: dict[str, float] = {}
    now = 0.0
    for name, ttl, wait in steps:
        cache.put_rrset([a(name, ttl=ttl)], Rank.AUTH_ANSWER, now)
        expiry[name] = now + ttl
        now += wait
        for other in expiry:
            hit = cache.get_rrset(n(other), RRType.A, IN, now)
            if hit is not None:
                assert now + hit.ttl <= expiry[other]
                assert hit.ttl >= 1
            stale = cache.get_stale_rrset(n(other), RRType.A, IN, now, ttl=30)
            if stale is not None:
                assert stale.stale == (expiry[other] - now < 1)
                assert now < expiry[other] + 1000

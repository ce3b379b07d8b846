"""The resolver's cache: TTLs, ranks, negative answers, eviction. Time is explicit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_dns import Name, Record, RRClass, RRType, rdata_from_text
from trio_dns._decisions.cache import ENTRY_OVERHEAD, Cache, CachedRRset, CacheStats
from trio_dns._trust import NegativeKind, Rank, Validation

IN = RRClass.IN
NX = NegativeKind.NXDOMAIN
NODATA = NegativeKind.NODATA


def n(text: str) -> Name:
    return Name.from_text(text)


def rec(text: str) -> Record:
    name, ttl, rclass, rtype, rdata = text.split(None, 4)
    rtype_ = RRType.from_text(rtype)
    return Record(
        n(name), rtype_, RRClass.from_text(rclass), int(ttl), rdata_from_text(rtype_, rdata)
    )


def a(name: str, address: str = "192.0.2.1", ttl: int = 300) -> Record:
    return rec(f"{name} {ttl} IN A {address}")


def soa(zone: str, ttl: int = 3600, minimum: int = 300) -> Record:
    return rec(f"{zone} {ttl} IN SOA ns.{zone} host.{zone} 1 7200 900 1209600 {minimum}")


def addresses(hit: CachedRRset | None) -> list[str]:
    assert hit is not None
    return sorted(r.rdata.to_text() for r in hit.records)


# -- TTLs ------------------------------------------------------------------------------


def test_ttl_counts_down_and_rounds_down() -> None:
    cache = Cache()
    assert cache.put_rrset([a("www.example.com", ttl=300)], Rank.AUTH_ANSWER, 1000.0)
    hit = cache.get_rrset(n("www.example.com"), RRType.A, IN, 1000.0)
    assert hit is not None and hit.ttl == 300 and hit.records[0].ttl == 300
    hit = cache.get_rrset(n("WWW.Example.COM"), RRType.A, IN, 1100.0)
    assert hit is not None and hit.ttl == 200
    assert [r.ttl for r in hit.records] == [200]
    # Part of a second used up already counts: never claim more life than is left.
    hit = cache.get_rrset(n("www.example.com"), RRType.A, IN, 1100.5)
    assert hit is not None and hit.ttl == 199
    hit = cache.get_rrset(n("www.example.com"), RRType.A, IN, 1299.0)
    assert hit is not None and hit.ttl == 1


def test_expired_entry_is_gone_and_dropped() -> None:
    cache = Cache()
    cache.put_rrset([a("www.example.com", ttl=10)], Rank.AUTH_ANSWER, 0.0)
    # Less than a second left is as good as expired: no TTL 0 is handed out.
    assert cache.get_rrset(n("www.example.com"), RRType.A, IN, 9.5) is None
    assert len(cache) == 0
    assert cache.size_bytes == 0
    assert cache.expired == 1


def test_rrset_ttl_is_the_least_record_ttl() -> None:
    cache = Cache()
    records = [a("x.example", "192.0.2.1", 100), a("x.example", "192.0.2.2", 50)]
    cache.put_rrset(records, Rank.AUTH_ANSWER, 0.0)
    hit = cache.get_rrset(n("x.example"), RRType.A, IN, 10.0)
    assert hit is not None
    assert hit.ttl == 40
    assert [r.ttl for r in hit.records] == [40, 40]
    assert addresses(hit) == ["192.0.2.1", "192.0.2.2"]


def test_duplicate_records_are_stored_once() -> None:
    cache = Cache()
    cache.put_rrset([a("x.example"), a("x.example"), a("x.example", "192.0.2.9")], Rank.ANSWER, 0.0)
    assert addresses(cache.get_rrset(n("x.example"), RRType.A, IN, 0.0)) == [
        "192.0.2.1",
        "192.0.2.9",
    ]


def test_ttl_clamps() -> None:
    cache = Cache(min_ttl=60, max_ttl=1000)
    cache.put_rrset([a("short.example", ttl=5)], Rank.ANSWER, 0.0)
    cache.put_rrset([a("long.example", ttl=999_999)], Rank.ANSWER, 0.0)
    short = cache.get_rrset(n("short.example"), RRType.A, IN, 0.0)
    long = cache.get_rrset(n("long.example"), RRType.A, IN, 0.0)
    assert short is not None and short.ttl == 60
    assert long is not None and long.ttl == 1000
    assert cache.get_rrset(n("long.example"), RRType.A, IN, 1000.0) is None


def test_ttl_zero_is_not_stored_even_with_min_ttl() -> None:
    cache = Cache(min_ttl=30)
    assert not cache.put_rrset([a("zero.example", ttl=0)], Rank.AUTH_ANSWER, 0.0)
    assert not cache.put_rrset([], Rank.AUTH_ANSWER, 0.0)
    assert len(cache) == 0
    assert cache.inserts == 0


def test_mixed_rrset_is_refused() -> None:
    cache = Cache()
    with pytest.raises(ValueError):
        cache.put_rrset([a("x.example"), a("y.example")], Rank.ANSWER, 0.0)
    with pytest.raises(ValueError):
        cache.put_rrset(
            [a("x.example"), rec("x.example 300 IN AAAA 2001:db8::1")], Rank.ANSWER, 0.0
        )
    with pytest.raises(ValueError):
        cache.put_rrset([a("x.example")], Rank.ANSWER, 0.0, rrsigs=[a("x.example")])
    with pytest.raises(ValueError):
        Cache(min_ttl=100, max_ttl=10)
    with pytest.raises(ValueError):
        Cache(max_entries=0)


def test_classes_are_kept_apart() -> None:
    cache = Cache()
    cache.put_rrset([rec("x.example 300 CH A 192.0.2.7")], Rank.ANSWER, 0.0)
    assert cache.get_rrset(n("x.example"), RRType.A, IN, 0.0) is None
    hit = cache.get_rrset(n("x.example"), RRType.A, RRClass.CH, 0.0)
    assert hit is not None and hit.rclass == RRClass.CH


# -- ranks -------------------------------------------------------------------------------


def test_glue_does_not_replace_authoritative_data() -> None:
    cache = Cache()
    assert cache.put_rrset([a("ns1.example.com", "192.0.2.1")], Rank.AUTH_ANSWER, 0.0)
    assert not cache.put_rrset([a("ns1.example.com", "203.0.113.66")], Rank.ADDITIONAL, 1.0)
    assert cache.refused == 1
    hit = cache.get_rrset(n("ns1.example.com"), RRType.A, IN, 2.0)
    assert addresses(hit) == ["192.0.2.1"]
    assert hit is not None and hit.rank == Rank.AUTH_ANSWER


def test_authoritative_replaces_glue_and_equal_rank_replaces() -> None:
    cache = Cache()
    cache.put_rrset([a("ns1.example.com", "203.0.113.66", ttl=172800)], Rank.ADDITIONAL, 0.0)
    assert cache.put_rrset([a("ns1.example.com", "192.0.2.1", ttl=60)], Rank.AUTH_ANSWER, 1.0)
    hit = cache.get_rrset(n("ns1.example.com"), RRType.A, IN, 1.0)
    assert addresses(hit) == ["192.0.2.1"]
    assert hit is not None and hit.ttl == 60
    assert cache.put_rrset([a("ns1.example.com", "192.0.2.2")], Rank.AUTH_ANSWER, 2.0)
    assert addresses(cache.get_rrset(n("ns1.example.com"), RRType.A, IN, 2.0)) == ["192.0.2.2"]
    assert len(cache) == 1


def test_expired_higher_rank_entry_gives_way() -> None:
    cache = Cache()
    cache.put_rrset([a("x.example", "192.0.2.1", ttl=10)], Rank.AUTH_ANSWER, 0.0)
    assert cache.put_rrset([a("x.example", "192.0.2.2")], Rank.ADDITIONAL, 10.0)
    assert addresses(cache.get_rrset(n("x.example"), RRType.A, IN, 10.0)) == ["192.0.2.2"]


def test_min_rank_hides_glue() -> None:
    cache = Cache()
    cache.put_rrset([a("ns1.example.com")], Rank.ADDITIONAL, 0.0)
    assert cache.get_rrset(n("ns1.example.com"), RRType.A, IN, 0.0, min_rank=Rank.ANSWER) is None
    assert cache.get_rrset(n("ns1.example.com"), RRType.A, IN, 0.0) is not None
    cache.put_rrset([a("ns1.example.com")], Rank.ANSWER, 0.0)
    hit = cache.get_rrset(n("ns1.example.com"), RRType.A, IN, 0.0, min_rank=Rank.ANSWER)
    assert hit is not None and hit.rank == Rank.ANSWER


def test_validation_and_rrsigs_are_kept() -> None:
    cache = Cache()
    sig = rec(
        "x.example 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 12345 example. "
        "c2lnbmF0dXJl"
    )
    cache.put_rrset(
        [a("x.example")], Rank.AUTH_ANSWER, 0.0, rrsigs=[sig], validation=Validation.SECURE
    )
    hit = cache.get_rrset(n("x.example"), RRType.A, IN, 100.0)
    assert hit is not None
    assert hit.validation is Validation.SECURE
    assert [(r.rtype, r.ttl, r.rdata) for r in hit.rrsigs] == [(RRType.RRSIG, 200, sig.rdata)]
    plain = Cache()
    plain.put_rrset([a("x.example")], Rank.ANSWER, 0.0)
    hit = plain.get_rrset(n("x.example"), RRType.A, IN, 0.0)
    assert hit is not None and hit.validation is Validation.INDETERMINATE and hit.rrsigs == ()


# -- negative answers ---------------------------------------------------------------------


def test_nxdomain_answers_every_type_with_soa_ttl() -> None:
    cache = Cache()
    cache.put_negative(n("nope.example.com"), None, IN, soa("example.com", 3600, 300), 0.0, kind=NX)
    for rtype in (RRType.A, RRType.MX, RRType.TXT):
        entry = cache.get_negative(n("nope.example.com"), rtype, IN, 100.0)
        assert entry is not None
        assert entry.kind is NX and entry.rtype is None
        # RFC 2308 section 5: min(SOA TTL, MINIMUM) = 300, counted down.
        assert entry.ttl == 200
        assert entry.soa is not None and entry.soa.ttl == 200
        assert entry.soa.name == n("example.com")
    assert cache.get_negative(n("nope.example.com"), RRType.A, IN, 300.0) is None


def test_nodata_covers_only_its_type() -> None:
    cache = Cache()
    cache.put_negative(
        n("www.example.com"), RRType.AAAA, IN, soa("example.com", 60, 300), 0.0, kind=NODATA
    )
    entry = cache.get_negative(n("www.example.com"), RRType.AAAA, IN, 0.0)
    assert entry is not None and entry.kind is NODATA and entry.rtype == RRType.AAAA
    assert entry.ttl == 60  # the SOA's own TTL is the smaller here
    assert cache.get_negative(n("www.example.com"), RRType.A, IN, 0.0) is None
    assert cache.get_negative(n("sub.www.example.com"), RRType.AAAA, IN, 0.0) is None
    assert cache.get_rrset(n("www.example.com"), RRType.AAAA, IN, 0.0) is None


def test_negative_ttl_is_clamped_and_needs_an_soa() -> None:
    cache = Cache(max_negative_ttl=100)
    cache.put_negative(n("a.example"), None, IN, soa("example", 86400, 86400), 0.0, kind=NX)
    entry = cache.get_negative(n("a.example"), RRType.A, IN, 0.0)
    assert entry is not None and entry.ttl == 100
    assert entry.soa is not None and entry.soa.ttl == 100
    assert not cache.put_negative(n("b.example"), None, IN, None, 0.0, kind=NX)
    assert cache.get_negative(n("b.example"), RRType.A, IN, 0.0) is None
    assert not cache.put_negative(n("c.example"), None, IN, soa("example", 0, 300), 0.0, kind=NX)
    with_default = Cache(no_soa_negative_ttl=5)
    with_default.put_negative(n("b.example"), RRType.A, IN, None, 0.0, kind=NODATA)
    entry = with_default.get_negative(n("b.example"), RRType.A, IN, 1.0)
    assert entry is not None and entry.ttl == 4 and entry.soa is None
    with pytest.raises(ValueError):
        cache.put_negative(n("b.example"), None, IN, soa("example"), 0.0, kind=NODATA)
    with pytest.raises(ValueError):
        cache.put_negative(n("b.example"), None, IN, a("example"), 0.0, kind=NX)


def test_rfc8020_nxdomain_at_an_ancestor_covers_descendants() -> None:
    cache = Cache()
    cache.put_negative(n("gone.example.com"), None, IN, soa("example.com"), 0.0, kind=NX)
    entry = cache.get_negative(n("a.b.GONE.example.com"), RRType.AAAA, IN, 10.0)
    assert entry is not None
    assert entry.name == n("a.b.gone.example.com") and entry.kind is NX and entry.ttl == 290
    assert cache.get_negative(n("example.com"), RRType.A, IN, 10.0) is None
    assert cache.get_negative(n("other.example.com"), RRType.A, IN, 10.0) is None
    # A suffix that is not on a label boundary is not a descendant.
    assert cache.get_negative(n("notgone.example.com"), RRType.A, IN, 10.0) is None


def test_positive_and_nodata_replace_each_other() -> None:
    cache = Cache()
    cache.put_rrset([a("x.example")], Rank.AUTH_ANSWER, 0.0)
    cache.put_negative(n("x.example"), RRType.A, IN, soa("example"), 1.0, kind=NODATA)
    assert cache.get_rrset(n("x.example"), RRType.A, IN, 1.0) is None
    assert cache.get_negative(n("x.example"), RRType.A, IN, 1.0) is not None
    assert len(cache) == 1
    cache.put_rrset([a("x.example")], Rank.AUTH_ANSWER, 2.0)
    assert cache.get_negative(n("x.example"), RRType.A, IN, 2.0) is None
    assert cache.get_rrset(n("x.example"), RRType.A, IN, 2.0) is not None
    assert len(cache) == 1


def test_glue_does_not_replace_a_negative_answer() -> None:
    cache = Cache()
    cache.put_negative(n("ns.example"), RRType.A, IN, soa("example"), 0.0, kind=NODATA)
    assert not cache.put_rrset([a("ns.example")], Rank.ADDITIONAL, 0.0)
    assert cache.get_negative(n("ns.example"), RRType.A, IN, 0.0) is not None


def test_data_below_an_nxdomain_removes_it() -> None:
    cache = Cache()
    cache.put_negative(n("new.example"), None, IN, soa("example"), 0.0, kind=NX)
    cache.put_negative(n("x.new.example"), None, IN, soa("example"), 0.0, kind=NX)
    # Glue cannot overrule the authoritative denial ...
    assert not cache.put_rrset([a("www.x.new.example")], Rank.ADDITIONAL, 1.0)
    assert len(cache) == 2
    # ... but an authoritative answer proves the name and its ancestors exist.
    assert cache.put_rrset([a("www.x.new.example")], Rank.AUTH_ANSWER, 1.0)
    assert cache.get_negative(n("www.x.new.example"), RRType.MX, IN, 1.0) is None
    assert cache.get_negative(n("new.example"), RRType.MX, IN, 1.0) is None
    assert len(cache) == 1


def test_nxdomain_leaves_other_data_alone() -> None:
    cache = Cache()
    cache.put_rrset([a("x.example")], Rank.AUTH_ANSWER, 0.0)
    cache.put_negative(n("x.example"), None, IN, soa("example"), 1.0, kind=NX)
    assert cache.get_rrset(n("x.example"), RRType.A, IN, 1.0) is not None
    entry = cache.get_negative(n("x.example"), RRType.A, IN, 1.0)
    assert entry is not None and entry.kind is NX


def test_nodata_removes_an_nxdomain_at_the_name() -> None:
    cache = Cache()
    cache.put_negative(n("x.example"), None, IN, soa("example"), 0.0, kind=NX)
    cache.put_negative(n("x.example"), RRType.A, IN, soa("example"), 1.0, kind=NODATA)
    entry = cache.get_negative(n("x.example"), RRType.MX, IN, 1.0)
    assert entry is None
    entry = cache.get_negative(n("x.example"), RRType.A, IN, 1.0)
    assert entry is not None and entry.kind is NODATA


def test_negative_proof_is_kept() -> None:
    cache = Cache()
    nsec = rec("a.example 300 IN NSEC c.example A RRSIG NSEC")
    cache.put_negative(n("b.example"), None, IN, soa("example"), 0.0, kind=NX, proof=[nsec])
    entry = cache.get_negative(n("b.example"), RRType.A, IN, 50.0)
    assert entry is not None
    assert [(r.name, r.rtype, r.ttl) for r in entry.proof] == [(n("a.example"), RRType.NSEC, 250)]
    assert entry.validation is Validation.INDETERMINATE


# -- delegation ------------------------------------------------------------------------------


def test_closest_delegation() -> None:
    cache = Cache()
    root = [rec(". 518400 IN NS a.root-servers.net.")]
    com = [rec("com. 172800 IN NS a.gtld-servers.net.")]
    example = [rec("example.com. 100 IN NS ns1.example.com.")]
    cache.put_rrset(root, Rank.AUTH_ANSWER, 0.0)
    cache.put_rrset(com, Rank.AUTHORITY, 0.0)
    cache.put_rrset(example, Rank.AUTHORITY, 0.0)
    found = cache.closest_delegation(n("a.b.www.example.com"), IN, 50.0)
    assert found is not None and found.name == n("example.com") and found.ttl == 50
    found = cache.closest_delegation(n("example.com"), IN, 50.0)
    assert found is not None and found.name == n("example.com")
    found = cache.closest_delegation(n("example.org"), IN, 50.0)
    assert found is not None and found.name == n(".")
    # When example.com's NS set expires, the search starts at com.
    found = cache.closest_delegation(n("www.example.com"), IN, 100.0)
    assert found is not None and found.name == n("com")
    assert cache.closest_delegation(n("www.example.com"), RRClass.CH, 0.0) is None


# -- size and eviction -------------------------------------------------------------------------


def test_eviction_by_count_is_lru() -> None:
    cache = Cache(max_entries=3)
    for name in ("a.example", "b.example", "c.example"):
        cache.put_rrset([a(name)], Rank.ANSWER, 0.0)
    # Touch a, so b is now the least recently used.
    assert cache.get_rrset(n("a.example"), RRType.A, IN, 1.0) is not None
    cache.put_rrset([a("d.example")], Rank.ANSWER, 2.0)
    assert len(cache) == 3 and cache.evictions == 1
    assert cache.get_rrset(n("b.example"), RRType.A, IN, 2.0) is None
    cache.put_rrset([a("e.example")], Rank.ANSWER, 3.0)
    present = [
        name
        for name in ("a.example", "b.example", "c.example", "d.example", "e.example")
        if cache.get_rrset(n(name), RRType.A, IN, 3.0) is not None
    ]
    assert present == ["a.example", "d.example", "e.example"]
    assert cache.evictions == 2


def test_eviction_by_bytes_is_lru() -> None:
    probe = Cache()
    probe.put_rrset([a("a.example")], Rank.ANSWER, 0.0)
    one = probe.size_bytes
    assert one > ENTRY_OVERHEAD
    cache = Cache(max_bytes=3 * one)
    for name in ("a.example", "b.example", "c.example"):
        cache.put_rrset([a(name)], Rank.ANSWER, 0.0)
    assert cache.size_bytes == 3 * one
    cache.get_rrset(n("a.example"), RRType.A, IN, 0.0)
    cache.get_negative(n("b.example"), RRType.A, IN, 0.0)  # a miss touches nothing
    cache.put_rrset([a("d.example")], Rank.ANSWER, 0.0)
    assert cache.size_bytes == 3 * one and cache.evictions == 1
    assert cache.get_rrset(n("b.example"), RRType.A, IN, 0.0) is None
    # A big RRset evicts as many entries as it needs, oldest first.
    big = [a("big.example", f"192.0.2.{i}") for i in range(1, 3)]
    assert cache.put_rrset(big, Rank.ANSWER, 0.0)
    assert cache.size_bytes <= 3 * one
    assert cache.get_rrset(n("c.example"), RRType.A, IN, 0.0) is None
    assert cache.get_rrset(n("big.example"), RRType.A, IN, 0.0) is not None


def test_entry_larger_than_the_cache_is_not_stored() -> None:
    cache = Cache(max_bytes=ENTRY_OVERHEAD + 50)
    cache.put_rrset([a("small.example")], Rank.ANSWER, 0.0)
    many = [a("x.example", f"192.0.2.{i}") for i in range(1, 20)]
    assert not cache.put_rrset(many, Rank.ANSWER, 0.0)
    assert cache.get_rrset(n("small.example"), RRType.A, IN, 0.0) is not None


def test_counters_and_stats() -> None:
    cache = Cache()
    cache.put_rrset([a("x.example")], Rank.ANSWER, 0.0)
    cache.put_negative(n("y.example"), None, IN, soa("example"), 0.0, kind=NX)
    cache.get_rrset(n("x.example"), RRType.A, IN, 1.0)  # hit
    cache.get_rrset(n("x.example"), RRType.MX, IN, 1.0)  # miss
    cache.get_rrset(n("x.example"), RRType.A, IN, 1.0, min_rank=Rank.AUTH_ANSWER)  # miss
    cache.get_negative(n("y.example"), RRType.A, IN, 1.0)  # hit
    cache.get_negative(n("x.example"), RRType.A, IN, 1.0)  # miss
    cache.put_rrset([a("x.example")], Rank.ADDITIONAL, 1.0)  # refused
    stats = cache.stats()
    assert stats == CacheStats(
        entries=2,
        bytes=cache.size_bytes,
        hits=2,
        misses=3,
        negative_hits=1,
        inserts=2,
        refused=1,
        evictions=0,
        expired=0,
    )
    cache.get_rrset(n("x.example"), RRType.A, IN, 1000.0)
    assert cache.expired == 1 and cache.misses == 4


def test_restoring_an_unchanged_rrset_refreshes_it_in_place() -> None:
    cache = Cache()
    glue = [a("ns.example", "192.0.2.1", 3600), a("ns.example", "192.0.2.2", 3600)]
    assert cache.put_rrset(glue, Rank.ADDITIONAL, 0.0)
    first = cache.get_rrset(n("ns.example"), RRType.A, IN, 1000.0)
    assert first is not None and first.ttl == 2600
    # The same set again, 1000 s later: the clock restarts, and while rank and
    # validation stay, the view built for that TTL is the one handed out before.
    same = [a("ns.example", "192.0.2.1", 3600), a("ns.example", "192.0.2.2", 3600)]
    assert cache.put_rrset(same, Rank.ADDITIONAL, 1000.0)
    again = cache.get_rrset(n("ns.example"), RRType.A, IN, 1000.0)
    assert again is not None and again.ttl == 3600
    assert cache.get_rrset(n("ns.example"), RRType.A, IN, 1000.0) is again
    assert cache.get_rrset(n("ns.example"), RRType.A, IN, 4599.0) is not None
    assert cache.get_rrset(n("ns.example"), RRType.A, IN, 4600.0) is None
    assert len(cache) == 0 and cache.size_bytes == 0


# -- delegations: the ghost-domain rule (CVE-2012-1033) ---------------------------------------


def ns_set(zone: str, ttl: int, *targets: str) -> list[Record]:
    return [rec(f"{zone} {ttl} IN NS {target}") for target in targets or (f"ns1.{zone}",)]


def test_an_unchanged_ns_set_is_not_kept_alive_by_storing_it_again() -> None:
    cache = Cache()
    assert cache.put_rrset(ns_set("ghost.example.", 3600), Rank.AUTHORITY, 0.0)  # the referral
    # The child's servers repeat the set in their answers, at every rank they can.
    for when, rank in ((1000.0, Rank.AUTHORITY), (2000.0, Rank.AUTH_AUTHORITY)):
        assert cache.put_rrset(ns_set("ghost.example.", 86400), rank, when)
    kept = cache.get_rrset(n("ghost.example"), RRType.NS, IN, 3000.0)
    assert kept is not None and kept.ttl == 600 and kept.rank == Rank.AUTH_AUTHORITY
    assert cache.put_rrset(ns_set("ghost.example.", 86400), Rank.AUTH_ANSWER, 3500.0)
    assert cache.closest_delegation(n("www.ghost.example"), IN, 3599.0) is not None
    # Gone when the parent said it would be: the next walk asks the parent again.
    assert cache.closest_delegation(n("www.ghost.example"), IN, 3600.0) is None


def test_a_changed_ns_set_does_not_outlive_the_one_it_replaces() -> None:
    cache = Cache()
    assert cache.put_rrset(ns_set("ghost.example.", 3600), Rank.AUTHORITY, 0.0)
    new = ns_set("ghost.example.", 86400, "ns.elsewhere.example.")
    assert cache.put_rrset(new, Rank.AUTH_ANSWER, 1800.0)
    hit = cache.get_rrset(n("ghost.example"), RRType.NS, IN, 1800.0)
    assert hit is not None and hit.ttl == 1800
    assert [r.rdata.to_text() for r in hit.records] == ["ns.elsewhere.example."]
    assert cache.get_rrset(n("ghost.example"), RRType.NS, IN, 3600.0) is None


def test_an_expired_ns_set_is_stored_anew_with_its_own_ttl() -> None:
    cache = Cache()
    assert cache.put_rrset(ns_set("example.", 300), Rank.AUTHORITY, 0.0)
    assert cache.put_rrset(ns_set("example.", 3600), Rank.AUTHORITY, 300.0)
    hit = cache.get_rrset(n("example"), RRType.NS, IN, 300.0)
    assert hit is not None and hit.ttl == 3600
    # A shorter TTL from the child is taken as it is.
    assert cache.put_rrset(ns_set("example.", 60), Rank.AUTH_AUTHORITY, 400.0)
    short = cache.get_rrset(n("example"), RRType.NS, IN, 400.0)
    assert short is not None and short.ttl == 60


def test_restoring_unchanged_data_respects_rank_and_takes_the_new_validation() -> None:
    cache = Cache()
    ns = [rec("example. 3600 IN NS ns1.example.")]
    assert cache.put_rrset(ns, Rank.AUTH_AUTHORITY, 0.0, validation=Validation.SECURE)
    # Lower-ranked copies of the same data (glue-side NS from a referral) neither
    # replace it nor keep it alive.
    assert not cache.put_rrset(ns, Rank.AUTHORITY, 3000.0)
    assert cache.get_rrset(n("example"), RRType.NS, IN, 3600.0) is None
    assert cache.put_rrset(ns, Rank.AUTH_AUTHORITY, 4000.0, validation=Validation.SECURE)
    secure = cache.get_rrset(n("example"), RRType.NS, IN, 4000.0)
    assert secure is not None and secure.validation is Validation.SECURE
    assert cache.put_rrset(ns, Rank.AUTH_ANSWER, 4000.0)
    higher = cache.get_rrset(n("example"), RRType.NS, IN, 4000.0)
    assert higher is not None
    assert higher.rank == Rank.AUTH_ANSWER
    assert higher.validation is Validation.INDETERMINATE


def test_remove_and_flush() -> None:
    cache = Cache()
    cache.put_rrset([a("x.example")], Rank.ANSWER, 0.0)
    cache.put_negative(n("y.example"), None, IN, soa("example"), 0.0, kind=NX)
    cache.put_negative(n("z.example"), RRType.A, IN, soa("example"), 0.0, kind=NODATA)
    assert cache.remove(n("x.example"), RRType.A, IN)
    assert not cache.remove(n("x.example"), RRType.A, IN)
    assert cache.remove(n("y.example"), None, IN)
    assert cache.get_negative(n("y.example"), RRType.A, IN, 0.0) is None
    assert len(cache) == 1
    cache.flush()
    assert len(cache) == 0 and cache.size_bytes == 0
    assert cache.get_negative(n("z.example"), RRType.A, IN, 0.0) is None
    assert cache.inserts == 3


# -- properties -------------------------------------------------------------------------------

_NAMES = ["example", "a.example", "x.a.example", "b.example"]
_RANKS = list(Rank)

_put = st.tuples(
    st.just("put"),
    st.sampled_from(_NAMES),
    st.sampled_from([RRType.A, RRType.NS]),
    st.lists(st.integers(1, 5), min_size=1, max_size=4),
    st.integers(0, 200),
    st.sampled_from(_RANKS),
)
_negative = st.tuples(
    st.just("neg"),
    st.sampled_from(_NAMES),
    st.sampled_from([None, RRType.A]),
    st.integers(0, 120),
    st.integers(0, 120),
    st.sampled_from(_RANKS),
)
_get = st.tuples(st.just("get"), st.sampled_from(_NAMES), st.sampled_from([RRType.A, RRType.NS]))
_delegation = st.tuples(st.just("delegation"), st.sampled_from(_NAMES))
# Puts and gets are drawn most often, so that lookups find something.
_ops = st.sampled_from([_put, _get, _put, _get, _get, _negative, _delegation]).flatmap(
    lambda op: op
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20).map(lambda quarters: quarters / 4), _ops),
        min_size=5,
        max_size=80,
    ),
    st.integers(1, 12),
    st.integers(200, 3000),
)
def test_random_use_never_serves_stale_data(
    steps: list[tuple[float, tuple[object, ...]]], max_entries: int, max_bytes: int
) -> None:
    cache = Cache(max_entries=max_entries, max_bytes=max_bytes, min_ttl=2, max_ttl=150)
    # (name, type) -> (stored at, ttl, addresses) for the last accepted put.
    model: dict[tuple[Name, RRType], tuple[float, int, set[str]]] = {}
    # (name, type or None for NXDOMAIN) -> (stored at, ttl) of the last negative put.
    negatives: dict[tuple[Name, RRType | None], tuple[float, int]] = {}
    now = 0.0
    for delta, op in steps:
        now += delta
        kind, name_text = op[0], op[1]
        assert isinstance(name_text, str)
        name = n(name_text)
        if kind == "put":
            _, _, rtype, hosts, ttl, rank = op
            assert isinstance(rtype, RRType) and isinstance(hosts, list)
            assert isinstance(ttl, int) and isinstance(rank, Rank)
            if rtype == RRType.A:
                records = [a(name_text, f"192.0.2.{h}", ttl) for h in hosts]
            else:
                records = [rec(f"{name_text} {ttl} IN NS ns{h}.example.") for h in hosts]
            if cache.put_rrset(records, rank, now):
                assert ttl > 0
                clamped = min(max(ttl, 2), 150)
                model[(name, rtype)] = (now, clamped, {r.rdata.to_text() for r in records})
        elif kind == "neg":
            _, _, rtype, soa_ttl, minimum, rank = op
            assert isinstance(soa_ttl, int) and isinstance(minimum, int)
            assert isinstance(rank, Rank)
            assert rtype is None or isinstance(rtype, RRType)
            stored = cache.put_negative(
                name,
                rtype,
                IN,
                soa("example", soa_ttl, minimum),
                now,
                kind=NX if rtype is None else NODATA,
                rank=rank,
            )
            if stored:
                negatives[(name, rtype)] = (now, min(soa_ttl, minimum))
        elif kind == "get":
            rtype = op[2]
            assert isinstance(rtype, RRType)
            hit = cache.get_rrset(name, rtype, IN, now)
            if hit is not None:
                stored_at, ttl, data = model[(name, rtype)]
                assert 1 <= hit.ttl <= stored_at + ttl - now
                assert all(r.ttl == hit.ttl for r in hit.records)
                assert {r.rdata.to_text() for r in hit.records} == data
            negative = cache.get_negative(name, rtype, IN, now)
            if negative is not None:
                assert negative.name == name
                assert negative.soa is not None and negative.soa.ttl == negative.ttl
                # The entry answering is the name's NODATA, or an NXDOMAIN at the
                # name or above (RFC 8020); either way it has not outlived its TTL.
                if negative.kind is NODATA:
                    sources = [(name, rtype)]
                else:
                    sources = [(name.ancestor(depth), None) for depth in range(len(name) + 1)]
                assert any(
                    1 <= negative.ttl <= negatives[source][0] + negatives[source][1] - now
                    for source in sources
                    if source in negatives
                )
        else:
            found = cache.closest_delegation(name, IN, now)
            if found is not None:
                assert name.is_subdomain(found.name) and found.rtype == RRType.NS
                stored_at, ttl, data = model[(found.name, RRType.NS)]
                assert 1 <= found.ttl <= stored_at + ttl - now
        assert len(cache) <= cache.max_entries
        assert 0 <= cache.size_bytes <= cache.max_bytes
        # The bookkeeping agrees with what is stored (private, but an invariant).
        assert cache.size_bytes == sum(entry.size for entry in cache._entries.values())
        assert cache._nxdomains == sum(1 for key in cache._entries if key[1] < 0)
        assert cache._dnames == sum(1 for key in cache._entries if key[1] == RRType.DNAME)


# -- a wildcard expansion's proof, kept with its RRset --------------------------------


def test_a_proof_lives_as_long_as_its_rrset_whatever_its_own_ttl() -> None:
    cache = Cache()
    proof = [
        rec("*.example.com. 0 IN NSEC z.example.com. A RRSIG NSEC"),
        rec("other.example.com. 7200 IN NSEC p.example.com. A RRSIG NSEC"),
    ]
    assert cache.put_rrset([a("x.example.com", ttl=300)], Rank.AUTH_ANSWER, 1000.0, proof=proof)
    hit = cache.get_rrset(n("x.example.com"), RRType.A, IN, 1100.0)
    assert hit is not None and hit.ttl == 200  # the proof's TTL 0 shortened nothing
    # Each proof record no longer than its own TTL nor the RRset's remaining life.
    assert [r.ttl for r in hit.proof] == [0, 200]
    assert [r.rdata for r in hit.proof] == [r.rdata for r in proof]
    assert cache.get_rrset(n("x.example.com"), RRType.A, IN, 1300.0) is None


def test_a_proof_counts_against_the_size_and_goes_with_a_new_store() -> None:
    proof = [rec("*.example.com. 300 IN NSEC z.example.com. A RRSIG NSEC")]
    plain, proven = Cache(), Cache()
    assert plain.put_rrset([a("x.example.com")], Rank.AUTH_ANSWER, 1000.0)
    assert proven.put_rrset([a("x.example.com")], Rank.AUTH_ANSWER, 1000.0, proof=proof)
    assert proven.size_bytes > plain.size_bytes
    # The same records stored again without it: the entry is what was stored last.
    assert proven.put_rrset([a("x.example.com")], Rank.AUTH_ANSWER, 1001.0)
    hit = proven.get_rrset(n("x.example.com"), RRType.A, IN, 1001.0)
    assert hit is not None and hit.proof == ()
    assert proven.size_bytes == plain.size_bytes


def test_a_subtree_ends_at_label_boundaries_whatever_the_labels_hold() -> None:
    cache = Cache()
    # b"x\x01b" ends in octets that spell the label "b": it is not below b.c for that.
    lookalike = Name((b"x\x01b", b"c"))
    below, zone, other = Name.from_text("a.B.c"), Name.from_text("b.c"), Name.from_text("bb.c")
    for name in (lookalike, below, zone, other):
        cache.put_rrset([Record(name, RRType.A, RRClass.IN, 300, A_RDATA)], Rank.ANSWER, 0.0)
    assert cache.remove_subtree(Name.from_text("B.C")) == 2
    assert cache.get_rrset(lookalike, RRType.A, RRClass.IN, 1.0) is not None
    assert cache.get_rrset(other, RRType.A, RRClass.IN, 1.0) is not None
    assert cache.get_rrset(below, RRType.A, RRClass.IN, 1.0) is None


def test_an_nxdomain_answers_below_it_across_case_and_only_at_label_boundaries() -> None:
    cache = Cache()
    cache.put_negative(
        n("Gone.Example"), None, RRClass.IN, soa("example"), 0.0, kind=NegativeKind.NXDOMAIN
    )
    assert cache.get_negative(n("deep.below.gone.EXAMPLE"), RRType.A, RRClass.IN, 1.0)
    assert cache.get_negative(Name((b"x\x04gone", b"example")), RRType.A, RRClass.IN, 1.0) is None
    assert cache.get_negative(n("notgone.example"), RRType.A, RRClass.IN, 1.0) is None
    # Data at a name below it contradicts it: the NXDOMAIN goes.
    assert cache.put_rrset([a("x.gone.example")], Rank.AUTH_ANSWER, 2.0)
    assert cache.get_negative(n("gone.example"), RRType.A, RRClass.IN, 3.0) is None


A_RDATA = rdata_from_text("A", "192.0.2.7")


def test_closest_above_finds_the_deepest_ancestor_not_the_name_and_minds_the_rank() -> None:
    cache = Cache()

    def dname(owner: str, target: str) -> Record:
        return rec(f"{owner} 300 IN DNAME {target}")

    cache.put_rrset([dname("example", "example.net.")], Rank.AUTH_ANSWER, 0.0)
    cache.put_rrset([dname("sub.example", "sub.example.org.")], Rank.AUTH_ANSWER, 0.0)
    cache.put_rrset([dname("glue.sub.example", "x.")], Rank.ADDITIONAL, 0.0)
    found = cache.closest_above(
        n("a.glue.sub.example"), RRType.DNAME, RRClass.IN, 1.0, min_rank=Rank.ANSWER
    )
    assert found is not None and found.name == n("sub.example")  # the glue ranks too low
    assert found.ttl == 299
    at = cache.closest_above(n("sub.example"), RRType.DNAME, RRClass.IN, 1.0, min_rank=Rank.ANSWER)
    assert at is not None and at.name == n("example")  # not the name itself
    assert (
        cache.closest_above(n("example"), RRType.DNAME, RRClass.IN, 1.0, min_rank=Rank.ANSWER)
        is None
    )
    assert (
        cache.closest_above(
            n("a.sub.example"), RRType.DNAME, RRClass.IN, 301.0, min_rank=Rank.ANSWER
        )
        is None
    )


def test_a_dname_is_found_above_a_name_however_often_dnames_come_and_go() -> None:
    # The walk for a DNAME is skipped while none is cached: the count behind that
    # must follow every way an entry arrives and leaves.
    cache = Cache(max_entries=2)
    dname = rec("example 300 IN DNAME example.net.")

    def found() -> bool:
        above = cache.closest_above(
            n("www.example"), RRType.DNAME, RRClass.IN, 1.0, min_rank=Rank.ANSWER
        )
        return above is not None and [r.rdata for r in above.records] == [dname.rdata]

    assert not found()
    cache.put_rrset([dname], Rank.AUTH_ANSWER, 0.0)
    assert found()
    cache.put_rrset([dname], Rank.AUTH_ANSWER, 0.0)  # stored again: still one
    cache.put_rrset([rec("a.test 300 IN A 192.0.2.1")], Rank.AUTH_ANSWER, 0.0)
    cache.put_rrset([rec("b.test 300 IN A 192.0.2.2")], Rank.AUTH_ANSWER, 0.0)
    assert not found()  # evicted, least recently used
    cache.put_rrset([dname], Rank.AUTH_ANSWER, 0.0)
    assert found()
    assert cache.remove(n("example"), RRType.DNAME)
    assert not found()
    cache.put_rrset([dname], Rank.AUTH_ANSWER, 0.0)
    cache.flush()
    assert not found()
    cache.put_rrset([dname], Rank.AUTH_ANSWER, 0.0)
    assert found()
    assert not cache.closest_above(
        n("www.example"), RRType.DNAME, RRClass.IN, 301.0, min_rank=Rank.ANSWER
    )  # expired
    cache.put_rrset([dname], Rank.AUTH_ANSWER, 301.0)  # the expired entry replaced
    assert cache._dnames == 1

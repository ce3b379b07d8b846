"""The recursive resolver against a tree of real NSD and Knot servers (see hierarchy.py).

Every test takes a fresh Resolver (empty cache, no RTT history) whose root hints
name only the tree's root server, and asserts both the answer and, from its
trace, how it was found: which server was asked what, and what each said.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio

from trio_dns import Answer, EdeCode, Name, Rcode, Record, RRType
from trio_dns._network.exchange import ExchangeStats
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._network.transport import SocketTransport

from .hierarchy import BIG_TXT_COUNT, Hierarchy
from .servers import PORT, ServerPool

NET = "127.53.10"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hierarchy]:
    with ServerPool(tmp_path_factory.mktemp("hierarchy")) as pool:
        yield Hierarchy.start(pool, NET)


def make(tree: Hierarchy, **settings: Any) -> Resolver:
    """A fresh resolver for the tree; the nameservers all listen on the harness port."""
    return Resolver(
        root_hints=tree.root_hints(),
        transport=SocketTransport(),
        settings=attrs.evolve(ResolverSettings(port=PORT, deadline=5.0), **settings),
    )


def rrs(records: tuple[Record, ...]) -> list[tuple[str, str, str]]:
    """Records without their TTLs, which count down in the cache."""
    return [(str(r.name), r.rtype.name, r.rdata.to_text()) for r in records]


async def resolve(resolver: Resolver, name: str, qtype: str = "A") -> Answer:
    with trio.fail_after(10):  # a hang is a failure, not a stuck test run
        return await resolver.resolve(name, qtype, trace=True)


Query = tuple[tuple[str, int] | None, str, str, str]


def queries(answer: Answer) -> list[Query]:
    """(server, qname, qtype, outcome) of every query in the trace, in order."""
    return [
        (event.server, str(event.qname), event.qtype.name, event.outcome)
        for event in answer.trace
        if event.kind == "query"
    ]


def asked(answer: Answer, server: tuple[str, int]) -> list[tuple[str, str]]:
    """What one server was asked, in order."""
    return [(qname, qtype) for where, qname, qtype, _ in queries(answer) if where == server]


def texts(records: object) -> list[str]:
    return [record.rdata.to_text() for record in records]  # type: ignore[attr-defined]


def steps(answer: Answer) -> list[tuple[str, str, tuple[str, int] | None, str]]:
    """(kind, qname, server, outcome) of the queries and glueless lookups, in order."""
    return [
        (e.kind, str(e.qname), e.server, e.outcome)
        for e in answer.trace
        if e.kind in ("query", "glueless")
    ]


def servers(answer: Answer) -> list[tuple[tuple[str, int] | None, str, bool]]:
    """(server, outcome, won a race) of every query in the trace, in order."""
    return [(e.server, e.outcome, e.winner) for e in answer.trace if e.kind == "query"]


def exchange_stats(resolver: Resolver) -> ExchangeStats:
    stats = resolver.exchange_stats
    assert isinstance(stats, ExchangeStats)
    return stats


async def test_happy_path_from_the_root_then_from_cache(tree: Hierarchy) -> None:
    resolver = make(tree)
    answer = await resolve(resolver, "www.leaf.test")
    assert answer.rcode == Rcode.NOERROR
    assert sorted(texts(answer.rrset())) == ["192.0.2.1", "192.0.2.2"]
    assert answer.ttl == 300
    assert not answer.from_cache
    # Priming (RFC 8109), then one question per zone cut, each to the right server
    # on the harness port: the root hints' address was given that port too.
    assert queries(answer) == [
        (tree.root, ".", "NS", "answer"),
        (tree.root, "test.", "NS", "referral to test."),
        (tree.test_tld, "leaf.test.", "NS", "referral to leaf.test."),
        (tree.leaf, "www.leaf.test.", "A", "answer"),
    ]
    assert resolver.stats.upstream_queries == 4

    again = await resolve(resolver, "www.leaf.test")
    assert again.from_cache
    assert again.rcode == Rcode.NOERROR
    assert sorted(texts(again.rrset())) == ["192.0.2.1", "192.0.2.2"]
    assert 0 < again.ttl <= 300
    assert [(e.kind, e.outcome) for e in again.trace] == [("cache", "answer")]
    assert resolver.stats.upstream_queries == 4
    assert resolver.stats.cache_answers == 1

    # Another name in the same zone starts at the cached delegation: no root, no TLD.
    other = await resolve(resolver, "x.y.leaf.test")
    assert texts(other.rrset()) == ["192.0.2.3"]
    assert {server for server, *_ in queries(other)} == {tree.leaf}


async def test_qname_minimisation_shows_in_what_each_server_was_asked(tree: Hierarchy) -> None:
    answer = await resolve(make(tree), "x.y.leaf.test")
    assert texts(answer.rrset()) == ["192.0.2.3"]
    # RFC 9156, probing with NS: the root hears only the TLD, the TLD only the next label, and the
    # empty non-terminal y.leaf.test is a NODATA that reveals one more label.
    assert asked(answer, tree.root) == [(".", "NS"), ("test.", "NS")]
    assert asked(answer, tree.test_tld) == [("leaf.test.", "NS")]
    assert queries(answer)[-2:] == [
        (tree.leaf, "y.leaf.test.", "NS", "nodata"),
        (tree.leaf, "x.y.leaf.test.", "A", "answer"),
    ]


async def test_without_minimisation_every_server_hears_the_full_name(tree: Hierarchy) -> None:
    answer = await resolve(make(tree, qname_minimisation=False), "x.y.leaf.test", "A")
    assert texts(answer.rrset()) == ["192.0.2.3"]
    assert asked(answer, tree.root) == [(".", "NS"), ("x.y.leaf.test.", "A")]
    assert asked(answer, tree.test_tld) == [("x.y.leaf.test.", "A")]
    assert asked(answer, tree.leaf) == [("x.y.leaf.test.", "A")]


async def test_a_dead_server_is_raced_past(tree: Hierarchy) -> None:
    resolver = make(tree)
    # partly.test has two servers; nothing listens at the first. Make the live one
    # look slower than an unknown server, so the dead one is certainly tried first.
    live = tree.glueless
    resolver.servers.record_success(live, 0.5)
    answer = await resolve(resolver, "www.partly.test")
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer.rrset()) == ["192.0.2.50"]
    final = [
        e for e in answer.trace if e.kind == "query" and e.zone == Name.from_text("partly.test")
    ]
    # The live server was started alongside after the stagger delay and won; the
    # dead server's attempt was cancelled then (five upstream queries, four answered).
    first = final[0]
    assert (first.server, first.outcome, first.winner) == (live, "answer", True)
    (cancelled,) = final[1:]
    assert cancelled.server != live and cancelled.outcome.startswith("cancelled, no reply after")
    assert len(queries(answer)) == 5
    assert resolver.stats.upstream_queries == 5
    assert resolver.stats.timeouts == 0  # raced past, not waited out


async def test_a_dead_server_raced_past_is_not_tried_first_again(tree: Hierarchy) -> None:
    resolver = make(tree)
    live = tree.glueless
    # A live server farther away than the 376 ms guessed for an unknown one.
    resolver.servers.record_success(live, 0.5)
    first = await resolve(resolver, "www.partly.test")
    assert (live, "answer", True) in servers(first)
    # The dead server was outstanding for the whole stagger delay (400 ms) without
    # a word: it must now rank behind the live server.
    again = await resolve(resolver, "nope.partly.test")
    assert again.rcode == Rcode.NXDOMAIN
    assert servers(again) == [(live, "nxdomain", False)]


async def test_a_zone_with_only_a_dead_server_times_out_to_servfail(tree: Hierarchy) -> None:
    resolver = make(tree, deadline=1.5)
    answer = await resolve(resolver, "www.dead.test")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.records == ()
    assert answer.error is not None
    assert answer.error.info_code == EdeCode.NO_REACHABLE_AUTHORITY
    assert "deadline" in answer.error.extra_text
    to_dead = [q for q in queries(answer) if q[:3] == (tree.dead, "www.dead.test.", "A")]
    assert any(outcome.startswith("timeout after") for *_, outcome in to_dead)
    assert resolver.stats.timeouts >= 1
    assert resolver.stats.servfails == 1


async def test_an_answer_too_big_for_udp_is_fetched_over_tcp(tree: Hierarchy) -> None:
    resolver = make(tree)
    answer = await resolve(resolver, "big.leaf.test", "TXT")
    assert answer.rcode == Rcode.NOERROR
    chunks = sorted(texts(answer.rrset()))
    assert len(chunks) == BIG_TXT_COUNT
    assert chunks[0] == '"chunk 00 ' + "y" * 40 + '"'
    assert sum(len(chunk) for chunk in chunks) > 1232
    assert queries(answer)[-1] == (tree.leaf, "big.leaf.test.", "TXT", "answer")
    # The trace has one query per server question; the exchange beneath it saw the
    # truncated UDP reply and asked again over TCP, once.
    stats = exchange_stats(resolver)
    assert stats.truncated_replies == 1
    assert stats.queries_tcp == 1


async def test_a_glueless_delegation_resolves_its_nameserver_first(tree: Hierarchy) -> None:
    resolver = make(tree)
    answer = await resolve(resolver, "www.glueless.test")
    assert texts(answer.rrset()) == ["192.0.2.40"]
    # test. refers to glueless.test with NS ns-glueless.example. and (it cannot)
    # no glue; the resolver looks that name up through the other TLD, then asks it.
    assert steps(answer)[2:] == [
        ("query", "glueless.test.", tree.test_tld, "referral to glueless.test."),
        ("glueless", "ns-glueless.example.", None, "resolving"),
        ("query", "example.", tree.root, "referral to example."),
        ("query", "ns-glueless.example.", tree.example_tld, "answer"),
        ("query", "www.glueless.test.", tree.glueless, "answer"),
    ]
    # The nameserver's address is now cached, for the next question to that zone.
    nameserver = await resolve(resolver, "ns-glueless.example")
    assert nameserver.from_cache
    assert texts(nameserver.rrset()) == [f"{NET}.6"]


async def test_a_double_glueless_delegation(tree: Hierarchy) -> None:
    answer = await resolve(make(tree), "www.double.example")
    assert texts(answer.rrset()) == ["192.0.2.70"]
    # double.example's server is ns.glueless.test, whose own zone's server is
    # ns-glueless.example: two lookups nested, each through the other TLD.
    assert steps(answer)[3:] == [
        ("glueless", "ns.glueless.test.", None, "resolving"),
        ("query", "test.", tree.root, "referral to test."),
        ("query", "glueless.test.", tree.test_tld, "referral to glueless.test."),
        ("glueless", "ns-glueless.example.", None, "resolving"),
        ("query", "ns-glueless.example.", tree.example_tld, "answer"),
        ("query", "ns.glueless.test.", tree.glueless, "answer"),
        ("query", "www.double.example.", tree.glueless, "answer"),
    ]


async def test_a_dead_glued_server_then_the_glueless_one(tree: Hierarchy) -> None:
    # mixed.test has ns1.mixed.test (glue: nothing listens there) and
    # ns-glueless.example (no glue). The glueless name is looked up only once the
    # server with an address has failed.
    resolver = make(tree, deadline=3.0)
    answer = await resolve(resolver, "www.mixed.test")
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer.rrset()) == ["192.0.2.60"]
    after = steps(answer)[3:]
    assert after[0][:3] == ("query", "www.mixed.test.", tree.dead)
    assert after[0][3].startswith("timeout after")
    assert after[1:] == [
        ("glueless", "ns-glueless.example.", None, "resolving"),
        ("query", "example.", tree.root, "referral to example."),
        ("query", "ns-glueless.example.", tree.example_tld, "answer"),
        ("query", "www.mixed.test.", tree.glueless, "answer"),
    ]
    assert resolver.stats.timeouts == 1


async def test_nameservers_inside_each_others_zones_fail_fast(tree: Hierarchy) -> None:
    # cycle.test is served by ns.cycle.example, and cycle.example by ns.cycle.test.
    resolver = make(tree)
    answer = await resolve(resolver, "www.cycle.test")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None
    assert answer.error.info_code == EdeCode.NO_REACHABLE_AUTHORITY
    assert "cycle.test." in answer.error.extra_text
    lookups = [(qname, outcome) for kind, qname, _, outcome in steps(answer) if kind == "glueless"]
    assert ("ns.cycle.example.", "resolving") in lookups
    assert ("ns.cycle.test.", "resolving") in lookups
    # Nobody serves either zone; no query ever went below the two TLDs.
    assert {server for server, *_ in queries(answer)} <= {
        tree.root,
        tree.test_tld,
        tree.example_tld,
    }
    assert resolver.stats.timeouts == 0


async def test_a_cname_chain_across_three_zones_on_three_servers(tree: Hierarchy) -> None:
    resolver = make(tree)
    answer = await resolve(resolver, "alias.leaf.test")
    assert answer.rcode == Rcode.NOERROR
    assert [(str(r.name), r.rtype.name, r.rdata.to_text()) for r in answer.records] == [
        ("alias.leaf.test.", "CNAME", "web.other.example."),
        ("web.other.example.", "CNAME", "host.glueless.test."),
        ("host.glueless.test.", "A", "192.0.2.41"),
    ]
    assert texts(answer.rrset()) == ["192.0.2.41"]
    outcomes = [(server, qname, outcome) for server, qname, _, outcome in queries(answer)]
    assert (tree.leaf, "alias.leaf.test.", "CNAME to web.other.example.") in outcomes
    assert (tree.other, "web.other.example.", "CNAME to host.glueless.test.") in outcomes
    assert outcomes[-1] == (tree.glueless, "host.glueless.test.", "answer")

    again = await resolve(resolver, "alias.leaf.test")
    assert again.from_cache
    assert rrs(again.records) == rrs(answer.records)
    assert queries(again) == []


async def test_a_cname_loop_is_servfail(tree: Hierarchy) -> None:
    answer = await resolve(make(tree), "loop1.leaf.test")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None
    assert "loop" in answer.error.extra_text
    assert queries(answer)[-1][0] == tree.leaf


async def test_nxdomain_and_nodata_carry_the_soa_and_are_cached(tree: Hierarchy) -> None:
    resolver = make(tree)
    nxdomain = await resolve(resolver, "nope.leaf.test")
    assert nxdomain.rcode == Rcode.NXDOMAIN
    assert nxdomain.records == ()
    assert nxdomain.soa is not None
    assert (str(nxdomain.soa.name), nxdomain.soa.rtype) == ("leaf.test.", RRType.SOA)
    assert nxdomain.ttl == 60  # the SOA minimum (RFC 2308)
    assert queries(nxdomain)[-1] == (tree.leaf, "nope.leaf.test.", "A", "nxdomain")

    cached = await resolve(resolver, "nope.leaf.test")
    assert cached.rcode == Rcode.NXDOMAIN
    assert cached.from_cache
    assert cached.soa is not None
    assert rrs((cached.soa,)) == rrs((nxdomain.soa,))
    assert 0 < cached.ttl <= 60
    assert [(e.kind, e.outcome) for e in cached.trace] == [("cache", "NXDOMAIN")]

    nodata = await resolve(resolver, "www.leaf.test", "MX")
    assert nodata.rcode == Rcode.NOERROR
    assert nodata.records == ()
    assert nodata.soa is not None
    assert rrs((nodata.soa,)) == rrs((nxdomain.soa,))
    assert queries(nodata) == [(tree.leaf, "www.leaf.test.", "MX", "nodata")]
    cached_nodata = await resolve(resolver, "www.leaf.test", "MX")
    assert cached_nodata.from_cache
    assert [(e.kind, e.outcome) for e in cached_nodata.trace] == [("cache", "NODATA")]

    # NXDOMAIN from a TLD on the other server software carries that TLD's SOA.
    tld = await resolve(resolver, "nope.test")
    assert tld.rcode == Rcode.NXDOMAIN
    assert tld.soa is not None and str(tld.soa.name) == "test."
    assert queries(tld) == [(tree.test_tld, "nope.test.", "A", "nxdomain")]


async def test_a_lame_server_is_skipped_for_the_other(tree: Hierarchy) -> None:
    resolver = make(tree)
    lame, good = tree.example_tld, tree.other  # example.'s server does not load lame.test.
    resolver.servers.record_success(good, 0.5)  # so the lame one is certainly asked first
    answer = await resolve(resolver, "www.lame.test")
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer.rrset()) == ["192.0.2.30"]
    assert servers(answer)[-2:] == [
        (lame, "lame: REFUSED for lame.test.", False),
        (good, "answer", True),
    ]
    assert resolver.stats.lame_replies == 1
    assert resolver.servers.is_lame(lame, Name.from_text("lame.test").canonical_wire())

    # Once known to be lame, it is not asked about that zone again.
    soa = await resolve(resolver, "lame.test", "SOA")
    assert soa.rcode == Rcode.NOERROR
    assert [server for server, *_ in servers(soa)] == [good]


async def test_a_zone_whose_only_server_is_lame_is_servfail(tree: Hierarchy) -> None:
    resolver = make(tree)
    answer = await resolve(resolver, "www.broken.test")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None
    assert answer.error.info_code == EdeCode.NO_REACHABLE_AUTHORITY
    last = [q for q in queries(answer) if q[1] == "www.broken.test."]
    assert last
    assert all(q[0] == tree.example_tld and q[3].startswith("lame: REFUSED") for q in last)


async def test_identical_questions_in_flight_share_one_resolution(tree: Hierarchy) -> None:
    resolver = make(tree)
    answers: list[Answer] = []

    async def ask() -> None:
        with trio.fail_after(10):
            answers.append(await resolver.resolve("www.leaf.test", "A"))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(ask)
    assert len(answers) == 5
    assert all(sorted(texts(a.rrset())) == ["192.0.2.1", "192.0.2.2"] for a in answers)
    assert resolver.stats.shared == 4
    assert resolver.stats.upstream_queries == 4

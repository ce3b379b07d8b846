"""Serve-stale (RFC 8767) and prefetch on the sandbox internet, in virtual time.

The upstreams are killed (`Behaviour(dead=True)`) or slowed after the cache is
filled; the clock is Trio's MockClock, which the fake network's wall clock follows.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio

from trio_dns import EdeCode, Rcode, RRType
from trio_dns._decisions.answer import Answer
from trio_dns._decisions.cache import Cache
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._trust import Validation
from trio_dns.testing import Behaviour, Sandbox, build_sandbox

STALE = ResolverSettings(serve_stale=True, prefetch=False)


def make(settings: ResolverSettings = STALE, **kw: object) -> tuple[Sandbox, Resolver]:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        cache=Cache(),
        settings=settings,
        **kw,  # type: ignore[arg-type]
    )
    return sandbox, resolver


@asynccontextmanager
async def background(resolver: Resolver) -> AsyncIterator[None]:
    """The resolver's background tasks running, as the server runs them."""
    async with resolver.freshness.running():
        yield


def kill_all(sandbox: Sandbox) -> None:
    for server in sandbox.network.servers:
        server.set_behaviour(Behaviour(dead=True))


def slow_all(sandbox: Sandbox, latency: float) -> None:
    for server in sandbox.network.servers:
        server.set_behaviour(Behaviour(latency=latency))


def texts(answer: Answer) -> list[str]:
    return [record.rdata.to_text() for record in answer.records]


def stale_code(answer: Answer) -> EdeCode | None:
    return None if answer.error is None else answer.error.info_code


async def test_dead_upstreams_get_the_expired_answer_with_ede_3_and_ttl_30(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make()
    fresh = await resolver.resolve("www.example.com", "A")
    assert fresh.ttl == 3600 and fresh.error is None
    await trio.sleep(3600 + 600)  # expired ten minutes ago
    kill_all(sandbox)
    # Kept for serve-stale, but never an answer of the cache's own (RD=0).
    assert resolver.cached("www.example.com", "A") is None
    started = trio.current_time()
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer) == ["198.51.100.80"]
    assert answer.ttl == 30 and [r.ttl for r in answer.records] == [30]
    assert stale_code(answer) == EdeCode.STALE_ANSWER
    # No background here: the client waited for the resolution to fail first.
    assert 0 < trio.current_time() - started <= resolver.settings.deadline
    assert resolver.freshness.stats.stale_answers == 1


async def test_after_a_failure_stale_answers_come_at_once_until_the_recheck_time(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make()
    await resolver.resolve("www.example.com", "A")
    await trio.sleep(3601)
    kill_all(sandbox)
    first = await resolver.resolve("www.example.com", "A")
    assert stale_code(first) == EdeCode.STALE_ANSWER
    # Within stale_answer_ttl (30 s) of the failure: stale at once, nothing asked.
    sent = len(sandbox.network.exchanges)
    started = trio.current_time()
    await trio.sleep(20)
    again = await resolver.resolve("www.example.com", "A")
    assert stale_code(again) == EdeCode.STALE_ANSWER
    assert trio.current_time() - started == 20
    assert len(sandbox.network.exchanges) == sent
    # Then it is tried again.
    await trio.sleep(11)
    later = await resolver.resolve("www.example.com", "A")
    assert stale_code(later) == EdeCode.STALE_ANSWER
    assert len(sandbox.network.exchanges) > sent
    assert resolver.freshness.stats.stale_answers == 3


async def test_expired_data_is_never_served_without_serve_stale(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make(ResolverSettings(prefetch=False))
    await resolver.resolve("www.example.com", "A")
    await trio.sleep(3601)
    kill_all(sandbox)
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert stale_code(answer) == EdeCode.NO_REACHABLE_AUTHORITY
    assert resolver.freshness.stats.stale_answers == 0


async def test_with_serve_stale_live_upstreams_answer_afresh(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make()
    await resolver.resolve("www.example.com", "A")
    await trio.sleep(3601)
    before = len(sandbox.network.queries_for("www.example.com", "A"))
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.error is None and answer.ttl == 3600
    assert len(sandbox.network.queries_for("www.example.com", "A")) == before + 1
    # And the expired entry is not what the cache answers with afterwards.
    again = resolver.cached("www.example.com", "A")
    assert again is not None and again.error is None and again.ttl == 3600


async def test_data_older_than_stale_max_age_is_not_served(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make(attrs.evolve(STALE, stale_max_age=1800))
    await resolver.resolve("www.example.com", "A")
    await trio.sleep(3600 + 1800)
    kill_all(sandbox)
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.rcode == Rcode.SERVFAIL


async def test_a_stale_nxdomain_has_ede_19_and_a_nodata_ede_3(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make(attrs.evolve(STALE, stale_answer_ttl=20))
    nx = await resolver.resolve("nothing.example.com", "A")
    nodata = await resolver.resolve("mail.example.com", "TXT")
    assert nx.rcode == Rcode.NXDOMAIN and nodata.rcode == Rcode.NOERROR and not nodata.records
    await trio.sleep(400)  # negative TTL: the SOA minimum, 300
    kill_all(sandbox)
    nx = await resolver.resolve("nothing.example.com", "A")
    assert nx.rcode == Rcode.NXDOMAIN
    assert stale_code(nx) == EdeCode.STALE_NXDOMAIN_ANSWER
    assert nx.soa is not None and nx.soa.ttl == 20 and nx.ttl == 20
    nodata = await resolver.resolve("mail.example.com", "TXT")
    assert nodata.rcode == Rcode.NOERROR and not nodata.records
    assert stale_code(nodata) == EdeCode.STALE_ANSWER


async def test_a_chain_with_expired_links_is_served_stale(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make()
    await resolver.resolve("shop.example.com", "A")
    await trio.sleep(400)  # cdn.net's records (TTL 300) expired; shop's CNAME (3600) not
    kill_all(sandbox)
    answer = await resolver.resolve("shop.example.com", "A")
    assert [r.rtype for r in answer.records] == [RRType.CNAME, RRType.CNAME, RRType.A]
    assert texts(answer)[-1] == "198.51.100.41"
    assert answer.ttl == 30 and all(r.ttl == 30 for r in answer.records)
    assert stale_code(answer) == EdeCode.STALE_ANSWER


async def test_client_timeout_answers_stale_while_resolution_goes_on(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make(attrs.evolve(STALE, stale_answer_client_timeout=0.1))
    async with background(resolver):
        await resolver.resolve("www.example.com", "A")
        await trio.sleep(3601)
        before = len(sandbox.network.queries_for("www.example.com", "A"))
        slow_all(sandbox, 0.15)  # alive, but each answer takes longer than a client waits
        started = trio.current_time()
        answers: list[Answer] = []

        async def client() -> None:
            answers.append(await resolver.resolve("www.example.com", "A"))

        async with trio.open_nursery() as clients:
            clients.start_soon(client)
            await trio.sleep(0.05)
            clients.start_soon(client)  # joins the same resolution
        assert trio.current_time() - started == pytest.approx(0.1)
        assert [stale_code(a) for a in answers] == [EdeCode.STALE_ANSWER] * 2
        assert [a.ttl for a in answers] == [30, 30]
        # The resolution went on, one race (each server asked once), and
        # refreshed the cache.
        await trio.sleep(10)
        new = sandbox.network.queries_for("www.example.com", "A")[before:]
        assert new and len({e.server for e in new}) == len(new)
        fresh = await resolver.resolve("www.example.com", "A")
        assert fresh.error is None and fresh.from_cache
        assert 3600 - 10 <= fresh.ttl < 3600
        assert resolver.freshness.stats.stale_answers == 1  # one question, shared


async def test_without_the_background_the_client_waits_for_the_fresh_answer(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make(attrs.evolve(STALE, stale_answer_client_timeout=0.1))
    await resolver.resolve("www.example.com", "A")
    await trio.sleep(3601)
    slow_all(sandbox, 0.15)
    started = trio.current_time()
    answer = await resolver.resolve("www.example.com", "A")
    assert trio.current_time() - started >= 0.15
    assert answer.error is None and answer.ttl == 3600


async def test_no_client_timeout_waits_then_serves_stale_on_failure(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make(attrs.evolve(STALE, stale_answer_client_timeout=0, deadline=4.0))
    async with background(resolver):
        await resolver.resolve("www.example.com", "A")
        await trio.sleep(3601)
        kill_all(sandbox)
        started = trio.current_time()
        answer = await resolver.resolve("www.example.com", "A")
        assert trio.current_time() - started > 1.8
        assert stale_code(answer) == EdeCode.STALE_ANSWER


async def test_a_bogus_answer_is_not_replaced_by_stale_data(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=attrs.evolve(STALE, trust_anchors=sandbox.trust_anchor),
    )
    answer = await resolver.resolve("www.bogus.example", "A")
    assert answer.rcode == Rcode.SERVFAIL and answer.validation is Validation.BOGUS
    await trio.sleep(3600)
    again = await resolver.resolve("www.bogus.example", "A")
    assert again.rcode == Rcode.SERVFAIL and stale_code(again) != EdeCode.STALE_ANSWER


async def test_validated_data_is_served_stale_with_its_validation(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=attrs.evolve(STALE, trust_anchors=sandbox.trust_anchor),
    )
    answer = await resolver.resolve("www.secure.example", "A")
    assert answer.validation is Validation.SECURE
    await trio.sleep(3601)
    kill_all(sandbox)
    stale = await resolver.resolve("www.secure.example", "A")
    assert stale_code(stale) == EdeCode.STALE_ANSWER
    assert stale.validation is Validation.SECURE and stale.rrsigs


# -- prefetch ------------------------------------------------------------------------

PREFETCH = ResolverSettings(prefetch=True)


async def test_prefetch_sends_one_query_near_expiry_and_refreshes_the_ttl(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make(PREFETCH)
    net = sandbox.network
    async with background(resolver):
        await resolver.resolve("www.example.com", "A")
        asked = len(net.queries_for("www.example.com", "A"))
        await trio.sleep(3000)  # 600 s of 3600 left: more than a tenth
        assert (await resolver.resolve("www.example.com", "A")).ttl == 600
        await trio.sleep(0.5)
        assert len(net.queries_for("www.example.com", "A")) == asked
        assert resolver.freshness.stats.prefetches == 0
        await trio.sleep(300)  # 300 left: inside the last tenth
        started = trio.current_time()
        answers = [await resolver.resolve("www.example.com", "A") for _ in range(5)]
        # Answered at once from the cache, while the refresh takes its time.
        assert trio.current_time() == started
        assert [a.ttl for a in answers] == [299] * 5 and all(a.from_cache for a in answers)
        await trio.sleep(10)
        # One refresh for the five asks.
        assert len(net.queries_for("www.example.com", "A")) == asked + 1
        assert resolver.freshness.stats.prefetches == 1
        refreshed = await resolver.resolve("www.example.com", "A")
        assert refreshed.from_cache and 3600 - 10 <= refreshed.ttl < 3600


async def test_prefetch_refreshes_a_negative_answer(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make(PREFETCH)
    async with background(resolver):
        await resolver.resolve("nothing.example.com", "A")
        await trio.sleep(280)  # 20 of 300 left
        before = len(sandbox.network.queries_for("nothing.example.com"))
        answer = await resolver.resolve("nothing.example.com", "A")
        assert answer.rcode == Rcode.NXDOMAIN and answer.ttl == 20
        await trio.sleep(5)
        assert len(sandbox.network.queries_for("nothing.example.com")) == before + 1
        again = await resolver.resolve("nothing.example.com", "A")
        assert again.rcode == Rcode.NXDOMAIN and again.ttl > 290


async def test_prefetches_at_once_are_bounded(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make(attrs.evolve(PREFETCH, max_prefetches=1))
    async with background(resolver):
        await resolver.resolve("www.example.com", "A")
        await resolver.resolve("mail.example.com", "A")
        await trio.sleep(3500)
        await resolver.resolve("www.example.com", "A")
        await resolver.resolve("mail.example.com", "A")
        stats = resolver.freshness.stats
        assert stats.prefetches == 1 and stats.prefetches_skipped == 1


async def test_no_prefetch_without_the_background_or_when_off(
    autojump_clock: trio.abc.Clock,
) -> None:
    for settings, run in ((PREFETCH, False), (ResolverSettings(prefetch=False), True)):
        sandbox, resolver = make(settings)
        async with contextlib.AsyncExitStack() as stack:
            if run:
                await stack.enter_async_context(resolver.freshness.running())
            await resolver.resolve("www.example.com", "A")
            await trio.sleep(3500)
            asked = len(sandbox.network.queries_for("www.example.com", "A"))
            await resolver.resolve("www.example.com", "A")
            await trio.sleep(10)
            assert len(sandbox.network.queries_for("www.example.com", "A")) == asked
            assert resolver.freshness.stats.prefetches == 0


def test_stale_max_age_sets_the_cache_retention() -> None:
    sandbox = build_sandbox()
    cache = Cache()
    Resolver(root_hints=sandbox.root_hints, transport=sandbox.network, cache=cache)
    assert cache.stale_retention == 0
    Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        cache=cache,
        settings=attrs.evolve(STALE, stale_max_age=7200),
    )
    assert cache.stale_retention == 7200

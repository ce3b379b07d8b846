"""Serve-stale and prefetch through the server, its fast path included.

Real loopback sockets in front of the sandbox internet, queried by dnspython
from a thread; the clock keeps real time (MockClock(rate=1)) and is jumped by
hand to age the caches, as in tests/test_server.py.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest
import trio
from trio.testing import MockClock

from trio_dns._address import Address
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._server.metrics import metrics_registry
from trio_dns._server.server import Server, ServerSettings
from trio_dns.testing import Behaviour, Sandbox, build_sandbox


@pytest.fixture
def clock() -> MockClock:
    return MockClock(rate=1.0)


@asynccontextmanager
async def running(settings: ResolverSettings) -> AsyncIterator[tuple[Server, Address, Sandbox]]:
    sandbox = build_sandbox()
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network, settings=settings)
    server = Server(resolver, ServerSettings(listen=(("127.0.0.1", 0),), query_log=True))
    async with trio.open_nursery() as nursery:
        (address,) = await nursery.start(server.serve)
        yield server, address, sandbox
        server.shutdown()


async def ask(name: str, address: Address) -> dns.message.Message:
    query = dns.message.make_query(name, "A", use_edns=0)
    call = functools.partial(dns.query.udp, query, address[0], port=address[1], timeout=5.0)
    return await trio.to_thread.run_sync(call)


def ede_codes(reply: dns.message.Message) -> list[int]:
    return [int(o.code) for o in reply.options if isinstance(o, dns.edns.EDEOption)]


def ttls(reply: dns.message.Message) -> set[int]:
    return {rrset.ttl for rrset in reply.answer}


async def test_dead_upstreams_get_stale_answers_with_ede_3_past_the_fast_path(
    clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trio_dns.query")
    settings = ResolverSettings(serve_stale=True, stale_answer_client_timeout=0.2)
    async with running(settings) as (server, address, sandbox):
        fresh = await ask("www.example.com", address)
        assert ttls(fresh) == {3600} and not ede_codes(fresh)
        clock.jump(3601)
        for upstream in sandbox.network.servers:
            upstream.set_behaviour(Behaviour(dead=True))
        fast = server.stats.fast_path
        stale = await ask("www.example.com", address)
        assert stale.rcode() == dns.rcode.NOERROR
        assert [rr.to_text() for rr in stale.answer[0]] == ["198.51.100.80"]
        assert ttls(stale) == {30}
        assert ede_codes(stale) == [3]
        # The expired reply was not given by the fast path, nor is the stale one
        # kept there: the next ask comes to the resolver again.
        again = await ask("www.example.com", address)
        assert ede_codes(again) == [3]
        assert server.stats.fast_path == fast
        assert server.resolver.freshness.stats.stale_answers == 2
        scrape = metrics_registry(server, process=False).get_sample_value
        assert scrape("trio_dns_stale_answers_total") == 2
        # The query log says how they were answered.
        hows = [r.getMessage().split()[5] for r in caplog.records if r.name == "trio_dns.query"]
        assert hows == ["resolved", "stale", "stale"]


async def test_fast_path_hands_the_last_tenth_to_the_resolver_which_prefetches(
    clock: MockClock,
) -> None:
    async with running(ResolverSettings(prefetch=True)) as (server, address, sandbox):
        await ask("www.example.com", address)
        clock.jump(3000)
        reply = await ask("www.example.com", address)
        assert 599 <= min(ttls(reply)) <= 600 and server.stats.fast_path == 1
        clock.jump(300)  # 300 of 3600 left: the fast path's entry has ended
        sent = len(sandbox.network.queries_for("www.example.com", "A"))
        reply = await ask("www.example.com", address)
        assert 299 <= min(ttls(reply)) <= 300
        assert server.stats.fast_path == 1
        # The refresh runs in the background (sandbox hops take ~20 ms); then
        # the answer is the new one.
        await trio.sleep(0.5)
        reply = await ask("www.example.com", address)
        assert min(ttls(reply)) >= 3590
        assert len(sandbox.network.queries_for("www.example.com", "A")) == sent + 1
        assert server.resolver.freshness.stats.prefetches == 1
        scrape = metrics_registry(server, process=False).get_sample_value
        assert scrape("trio_dns_prefetches_total", {"outcome": "started"}) == 1
        assert scrape("trio_dns_prefetches_total", {"outcome": "skipped"}) == 0
        assert scrape("trio_dns_background_errors_total") == 0

"""The Prometheus endpoint: scraped over HTTP, its numbers checked against the queries sent.

Like test_server.py, the DNS server and the metrics endpoint listen on real
loopback sockets and resolve in the sandbox; dnspython asks from a worker
thread, so the clock is a MockClock keeping real time. The scraper is a raw
HTTP/1.1 GET on a Trio socket, and prometheus_client's own parser reads the
text back, so the format is checked by the library that defines it.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import dns.message
import dns.query
import dns.rcode
import pytest
import trio
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from trio.testing import MockClock

from trio_dns._address import Address
from trio_dns._network.resolver import Resolver
from trio_dns._server.metrics import metrics_registry, respond_untrusted, serve_metrics
from trio_dns._server.server import LATENCY_BUCKETS, Latency, Server, ServerSettings
from trio_dns.testing import Behaviour, Forgery, Lame, Sandbox, build_sandbox
from trio_dns.testing._sandbox import LAME_ZONE

TIMEOUT = 5.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def clock() -> MockClock:
    return MockClock(rate=1.0)


@asynccontextmanager
async def running(
    lame: bool = False, prepare: Callable[[Sandbox], None] | None = None
) -> AsyncIterator[tuple[Server, Address, Address]]:
    sandbox = build_sandbox()
    if prepare is not None:
        prepare(sandbox)
    if lame:
        # Both of lame.com's servers lame, so www.lame.com must meet one.
        good = sandbox.network.server_at("198.51.100.21")
        assert good is not None
        sandbox.network.remove(good)
        sandbox.network.add_server(
            ["198.51.100.21"], [LAME_ZONE], behaviour=Behaviour(lame=Lame.NOT_AUTHORITATIVE)
        )
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
    server = Server(resolver, ServerSettings(listen=(("127.0.0.1", 0),)))
    async with trio.open_nursery() as nursery:
        (dns_address,) = await nursery.start(server.serve)
        http_address = await nursery.start(
            serve_metrics, metrics_registry(server), ("127.0.0.1", 0)
        )
        yield server, dns_address, http_address
        server.shutdown()
        nursery.cancel_scope.cancel()


async def ask(address: Address, name: str, rtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rtype, use_edns=0)
    udp = functools.partial(dns.query.udp, query, address[0], port=address[1], timeout=TIMEOUT)
    return await trio.to_thread.run_sync(udp)


async def http(address: Address, request: bytes) -> bytes:
    """Send `request` as it is; everything the server says until it closes."""
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream(*address)
        response = b""
        async with stream:
            try:
                await stream.send_all(request)
                while chunk := await stream.receive_some(65536):
                    response += chunk
            except trio.BrokenResourceError:  # reset by the server: what came is the answer
                pass
    return response


async def scrape(address: Address) -> Samples:
    response = await http(address, b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Type: text/plain; version=" in head
    assert f"Content-Length: {len(body)}\r\n".encode() in head
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_counters_match_the_queries_sent(clock: MockClock) -> None:
    async with running() as (server, dns_address, http_address):
        before = await scrape(http_address)
        assert value(before, "trio_dns_resolution_seconds_count") == 0
        assert ("trio_dns_queries_total", (("type", "A"),)) not in before
        for _ in range(3):  # resolved once, then twice from the fast path
            reply = await ask(dns_address, "www.example.com", "A")
            assert reply.rcode() == dns.rcode.NOERROR
        reply = await ask(dns_address, "nope.example.com", "TXT")
        assert reply.rcode() == dns.rcode.NXDOMAIN
        samples = await scrape(http_address)

    assert value(samples, "trio_dns_queries_total", type="A") == 3
    assert value(samples, "trio_dns_queries_total", type="TXT") == 1
    assert value(samples, "trio_dns_responses_total", rcode="NOERROR") == 3
    assert value(samples, "trio_dns_responses_total", rcode="NXDOMAIN") == 1
    assert value(samples, "trio_dns_fast_path_answers_total") == 2
    assert value(samples, "trio_dns_cache_hits_total", cache="answers") == 2
    # The fast path missed for the first of each question.
    assert value(samples, "trio_dns_cache_misses_total", cache="answers") == 2
    assert value(samples, "trio_dns_cache_entries", cache="answers") == 2
    assert value(samples, "trio_dns_resolutions_total") == 2
    assert value(samples, "trio_dns_in_flight") == 0
    # Only the two resolved queries are in the histogram, not the fast-path hits.
    assert value(samples, "trio_dns_resolution_seconds_count") == 2
    assert value(samples, "trio_dns_resolution_seconds_bucket", le="+Inf") == 2
    assert value(samples, "trio_dns_resolution_seconds_sum") > 0
    # The resolver's own numbers, as they stood when scraped.
    stats = server.resolver.stats
    upstream = value(samples, "trio_dns_upstream_queries_total")
    assert upstream == stats.upstream_queries >= 3  # root, com, example.com at least
    assert value(samples, "trio_dns_upstream_timeouts_total") == stats.timeouts
    cache = server.resolver.cache
    assert value(samples, "trio_dns_cache_entries", cache="records") == len(cache) > 0
    assert value(samples, "trio_dns_cache_bytes") == cache.size_bytes > 0
    assert value(samples, "trio_dns_cache_misses_total", cache="records") == cache.misses > 0


async def test_lame_servers_are_counted(clock: MockClock) -> None:
    async with running(lame=True) as (server, dns_address, http_address):
        reply = await ask(dns_address, "www.lame.com")
        assert reply.rcode() == dns.rcode.SERVFAIL
        samples = await scrape(http_address)
    assert value(samples, "trio_dns_lame_replies_total") == server.resolver.stats.lame_replies >= 2
    assert value(samples, "trio_dns_responses_total", rcode="SERVFAIL") == 1


async def test_forgeries_and_broken_upstreams_are_counted(clock: MockClock) -> None:
    def prepare(sandbox: Sandbox) -> None:
        # example.com's server is raced by a blind forger; cdn.net's (its only
        # one) answers with garbage.
        forged = sandbox.network.server_at("198.51.100.10")
        assert forged is not None
        forged.set_behaviour(Behaviour(forge=Forgery(count=3)))
        broken = sandbox.network.server_at("198.51.100.40")
        assert broken is not None
        broken.set_behaviour(Behaviour(garbage=True))

    async with running(prepare=prepare) as (server, dns_address, http_address):
        reply = await ask(dns_address, "www.example.com")
        assert reply.rcode() == dns.rcode.NOERROR
        assert [rr.to_text() for rrset in reply.answer for rr in rrset] == ["198.51.100.80"]
        reply = await ask(dns_address, "edge.cdn.net")
        assert reply.rcode() == dns.rcode.SERVFAIL
        samples = await scrape(http_address)
    exchanges = server.resolver.exchange_stats
    assert value(samples, "trio_dns_upstream_ignored_datagrams_total") >= 3
    assert value(samples, "trio_dns_upstream_ignored_datagrams_total") == exchanges.ignored_replies
    malformed = value(samples, "trio_dns_upstream_malformed_replies_total")
    assert malformed == exchanges.malformed_replies >= 1
    failures = value(samples, "trio_dns_upstream_failures_total")
    assert failures == server.resolver.stats.failures >= malformed


async def test_other_requests(clock: MockClock) -> None:
    async with running() as (_, _, http_address):
        missing = await http(http_address, b"GET / HTTP/1.1\r\n\r\n")
        assert missing.startswith(b"HTTP/1.1 404 Not Found\r\n")
        post = await http(http_address, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        assert post.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
        assert b"Allow: GET, HEAD\r\n" in post
        garbage = await http(http_address, b"\x00\xff nonsense\r\n\r\n")
        assert garbage.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        head = await http(http_address, b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
        # A client that sends an endless head is cut off, not buffered for ever.
        endless = await http(http_address, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000)
        assert endless == b""
        # And the endpoint still answers afterwards.
        assert (await scrape(http_address))[("trio_dns_in_flight", ())] == 0


def test_respond_untrusted_is_pure() -> None:
    registry = CollectorRegistry()
    ok = respond_untrusted(b"GET /metrics HTTP/1.1\r\n\r\n", registry)
    assert ok.startswith(b"HTTP/1.1 200 OK\r\n") and ok.endswith(b"\r\n\r\n")  # empty registry
    assert respond_untrusted(b"GET /metrics\r\n\r\n", registry).startswith(b"HTTP/1.1 400")
    assert respond_untrusted(b"", registry).startswith(b"HTTP/1.1 400")


def test_latency_buckets() -> None:
    latency = Latency()
    for seconds in (0.0005, 0.001, 0.02, 0.02, 30.0):
        latency.observe(seconds)
    assert len(latency.counts) == len(LATENCY_BUCKETS) + 1
    assert latency.counts[0] == 2  # an upper bound is inclusive, as Prometheus's "le"
    assert latency.counts[LATENCY_BUCKETS.index(0.025)] == 2
    assert latency.counts[-1] == 1
    assert latency.total == pytest.approx(30.0415)


async def test_each_scrape_reads_the_counters_afresh(clock: MockClock) -> None:
    # The collector builds its families when scraped, from the server's plain
    # counters: a burst of fast-path hits between two scrapes shows in the second.
    async with running() as (server, dns_address, http_address):
        await ask(dns_address, "www.example.com")
        first = await scrape(http_address)
        for _ in range(5):
            await ask(dns_address, "www.example.com")
        second = await scrape(http_address)
        assert server.stats.fast_path == 5
    assert value(second, "trio_dns_fast_path_answers_total") == 5
    assert value(first, "trio_dns_fast_path_answers_total") == 0
    assert value(second, "trio_dns_resolution_seconds_count") == 1
    assert value(second, "trio_dns_queries_total", type="A") == 6
    assert server.stats.queries_by_type() == {1: 6}
    assert server.stats.replies_by_rcode() == {0: 6}

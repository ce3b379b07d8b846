"""Prometheus metrics for `trio-dns serve --metrics ADDR:PORT`.

Theory of operation: the server never touches a metric object while answering.
It keeps plain counters (`ServerStats`, the resolver's `ResolverStats`, the two
caches' hit and miss counts), small dicts (queries by type and replies by rcode;
on the fast path one dict keyed by both at once) and a bucket list for the
latency of resolved queries, all updated with an addition or two. `ServerCollector` is a custom prometheus_client collector
that reads those numbers when Prometheus scrapes and turns them into metric
families, so a cache hit costs the same whether anyone is watching or not, and
a quiet server costs nothing between scrapes.

The endpoint is a deliberately tiny HTTP/1.1 server on a Trio socket, run in the
serve command's nursery: no thread to stop at shutdown, and it is cancelled with
everything else. It answers `GET /metrics` (and HEAD) with `generate_latest` of
its registry, closes the connection after each reply, reads at most a few
kilobytes of request head within a timeout and writes the response within
another, and keeps a handful of connections at most, since only a scraper is
expected to call: when they are all taken, a new one closes the oldest, so that
clients which connect and stall cannot keep the scraper out. Each connection is
an error boundary, as the DNS server's are: a reset or broken pipe ends that
connection only, counted in `ServerStats.metrics_closed`. `respond_untrusted`
is the protocol half: request head in, response bytes out, no I/O.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable, Iterable

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from .._address import Address, format_address
from .._errors import DNSError
from .._network.redis_cache import RedisCache, SharedCacheStats
from .._wire.enums import Rcode, RRType
from .server import CLOSE_REASONS, Server, caused_by_peer, first_error, listen_tcp

log = logging.getLogger("trio_dns.metrics")

MAX_REQUEST_HEAD = 8192  # octets of request line and headers read before giving up
REQUEST_TIMEOUT = 5.0  # seconds a client gets to send its request
SEND_TIMEOUT = 5.0  # seconds to write the response to a client that reads slowly, or not
MAX_CONNECTIONS = 8  # scrapers at once; one more closes the oldest
_BACKLOG = 16


class ServerCollector(Collector):
    """The server's and its resolver's counters, read at scrape time."""

    def __init__(self, server: Server) -> None:
        self._server = server

    def collect(self) -> Iterable[Metric]:
        server = self._server
        stats = server.stats
        resolver = server.resolver
        rstats = resolver.stats
        cache = resolver.cache
        answers = server.answers

        queries = CounterMetricFamily(
            "trio_dns_queries",
            "Queries from allowed clients, by question type (fast path included); "
            "types without a mnemonic are counted together as 'other'.",
            labels=["type"],
        )
        by_type: dict[str, int] = {}
        for qtype, count in sorted(stats.queries_by_type().items()):
            # A client picks the type: one label per number it tries would let it
            # grow the scrape (and the time series) without bound.
            name = RRType(qtype).name
            label = name if name in RRType.__members__ else "other"
            by_type[label] = by_type.get(label, 0) + count
        for label, count in by_type.items():
            queries.add_metric([label], count)
        yield queries

        responses = CounterMetricFamily(
            "trio_dns_responses", "Replies sent, by the rcode in their header.", labels=["rcode"]
        )
        for rcode, count in sorted(stats.replies_by_rcode().items()):
            responses.add_metric([Rcode(rcode).name], count)
        yield responses

        yield _counter("trio_dns_tcp_queries", "Queries received over TCP.", stats.tcp_queries)
        yield _counter(
            "trio_dns_fast_path_answers",
            "Queries answered from the cache of encoded replies, without parsing.",
            stats.fast_path,
        )
        yield _counter(
            "trio_dns_resolutions",
            "Queries (RD=1) that went to the resolver: the slow path.",
            stats.resolved,
        )

        hits = CounterMetricFamily(
            "trio_dns_cache_hits",
            "Lookups that found an entry: 'answers' is the fast path's cache of "
            "encoded replies, 'records' the resolver's RRset cache.",
            labels=["cache"],
        )
        hits.add_metric(["answers"], answers.hits)
        hits.add_metric(["records"], cache.hits)
        yield hits
        misses = CounterMetricFamily(
            "trio_dns_cache_misses", "Lookups that found no live entry.", labels=["cache"]
        )
        misses.add_metric(["answers"], answers.misses)
        misses.add_metric(["records"], cache.misses)
        yield misses
        entries = GaugeMetricFamily(
            "trio_dns_cache_entries", "Entries held in each cache.", labels=["cache"]
        )
        entries.add_metric(["answers"], len(answers))
        entries.add_metric(["records"], len(cache))
        yield entries
        yield GaugeMetricFamily(
            "trio_dns_cache_bytes",
            "Approximate size of the resolver's RRset cache, in octets.",
            value=cache.size_bytes,
        )
        yield _counter(
            "trio_dns_cache_evictions",
            "RRset cache entries evicted to stay within the size limits.",
            cache.evictions,
        )
        yield from _shared_cache_metrics(resolver.shared_cache)

        yield _counter(
            "trio_dns_upstream_queries",
            "Queries sent to authoritative servers or forwarders.",
            rstats.upstream_queries,
        )
        yield _counter(
            "trio_dns_upstream_timeouts",
            "Upstream queries that got no reply in time.",
            rstats.timeouts,
        )
        yield _counter(
            "trio_dns_lame_replies",
            "Upstream replies showing a lame server: REFUSED, no authority for the zone "
            "asked about, a referral upwards, or a forwarder that does not recurse.",
            rstats.lame_replies,
        )
        yield _counter(
            "trio_dns_upstream_errors",
            "Upstream replies unusable for another reason: SERVFAIL, FORMERR and the like.",
            rstats.server_errors,
        )
        yield _counter(
            "trio_dns_upstream_failures",
            "Upstream queries that failed outright: unreachable, refused (ICMP), a "
            "malformed reply, a broken TCP connection.",
            rstats.failures,
        )
        exchanges = resolver.exchange_stats
        yield _counter(
            "trio_dns_upstream_tcp_queries",
            "Upstream queries sent over TCP (after a truncated reply, or asked so).",
            exchanges.queries_tcp,
        )
        yield _counter(
            "trio_dns_upstream_ignored_datagrams",
            "Datagrams on an upstream query's socket that did not answer it (wrong "
            "source, ID or question): late replies, or attempts to forge one.",
            exchanges.ignored_replies,
        )
        yield _counter(
            "trio_dns_upstream_malformed_replies",
            "Upstream replies with our ID that did not parse.",
            exchanges.malformed_replies,
        )
        yield _counter(
            "trio_dns_upstream_truncated_replies",
            "Upstream UDP replies with TC set, asked again over TCP.",
            exchanges.truncated_replies,
        )
        yield _counter(
            "trio_dns_upstream_edns_fallbacks",
            "Upstream servers found not to understand EDNS, asked again without it.",
            exchanges.edns_fallbacks,
        )
        yield _counter(
            "trio_dns_upstream_case_mismatches",
            "Upstream replies whose question did not echo the query's random case "
            "(0x20): ignored as forgery attempts, the question asked again over TCP.",
            exchanges.case_mismatches,
        )
        yield _counter(
            "trio_dns_upstream_case_fallbacks",
            "Upstream servers found not to echo the query's case, asked without 0x20 since.",
            exchanges.case_fallbacks,
        )
        yield _counter(
            "trio_dns_unwanted_reply_flushes",
            "Times the unwanted-reply threshold was reached and the cache flushed.",
            exchanges.unwanted_flushes,
        )
        yield _counter(
            "trio_dns_rebinding_removed",
            "Private addresses taken out of upstream answers (private_address).",
            exchanges.rebinding_removed,
        )
        yield _counter(
            "trio_dns_aggressive_answers",
            "Negative answers and wildcard expansions made from validated NSEC/NSEC3 "
            "records already held (RFC 8198), without asking.",
            rstats.aggressive_answers,
        )
        freshness = resolver.freshness.stats
        yield _counter(
            "trio_dns_stale_answers",
            "Questions answered from expired data (serve_stale, RFC 8767): EDE 3, or 19 "
            "for NXDOMAIN; clients that shared one question count once.",
            freshness.stale_answers,
        )
        prefetches = CounterMetricFamily(
            "trio_dns_prefetches",
            "Cached RRsets asked for in the last tenth of their TTL: refreshed in the "
            "background (started), or not because max_prefetches were running (skipped).",
            labels=["outcome"],
        )
        prefetches.add_metric(["started"], freshness.prefetches)
        prefetches.add_metric(["skipped"], freshness.prefetches_skipped)
        yield prefetches
        yield _counter(
            "trio_dns_background_errors",
            "Bugs met in the resolver's background tasks (prefetches, resolutions going "
            "on after a stale answer); logged, worth a report.",
            freshness.errors,
        )

        validation = CounterMetricFamily(
            "trio_dns_dnssec_answers",
            "Answers by DNSSEC outcome: secure (validated), insecure (provably unsigned), "
            "bogus (failed validation: answered SERVFAIL).",
            labels=["outcome"],
        )
        for outcome in ("secure", "insecure", "bogus"):
            validation.add_metric([outcome], getattr(rstats, outcome))
        yield validation

        yield GaugeMetricFamily(
            "trio_dns_in_flight", "Resolutions running now.", value=server.in_flight
        )
        dropped = CounterMetricFamily(
            "trio_dns_dropped", "Queries dropped without a reply, by reason.", labels=["reason"]
        )
        dropped.add_metric(["malformed"], stats.dropped_malformed)
        dropped.add_metric(["over_limit"], stats.dropped_over_limit)
        dropped.add_metric(["denied"], stats.denied)
        dropped.add_metric(["ip_ratelimit"], stats.ip_ratelimited - stats.ip_ratelimit_slipped)
        yield dropped
        limited = CounterMetricFamily(
            "trio_dns_ratelimited",
            "Queries over a rate limit: ip (UDP queries over ip_ratelimit for their "
            "client address: dropped, or answered TC=1) and zone (upstream questions "
            "over ratelimit for their zone, not asked: SERVFAIL).",
            labels=["limit"],
        )
        limited.add_metric(["ip"], stats.ip_ratelimited)
        limited.add_metric(["zone"], resolver.ratelimited)
        yield limited
        yield _counter(
            "trio_dns_ratelimit_slipped",
            "Queries over ip_ratelimit answered TC=1 (ip_ratelimit_slip), not dropped.",
            stats.ip_ratelimit_slipped,
        )
        yield _counter(
            "trio_dns_truncated", "UDP replies sent with TC=1 (too big).", stats.truncated
        )
        yield _counter(
            "trio_dns_tcp_connections", "TCP connections accepted.", stats.tcp_connections
        )
        yield GaugeMetricFamily(
            "trio_dns_tcp_open", "TCP connections open now.", value=server.tcp_open
        )
        yield _counter(
            "trio_dns_tcp_rejected",
            "TCP connections closed at once: all max_tcp_connections busy, none idle.",
            stats.tcp_rejected,
        )
        closed = CounterMetricFamily(
            "trio_dns_tcp_closed",
            "TCP connections ended other than by the client closing between queries: "
            "peer_error (a reset or broken pipe), mid_message (closed halfway through a "
            "query), idle, send_timeout (the client did not read its replies), lifetime, "
            "evicted (idle longest when the cap was reached).",
            labels=["reason"],
        )
        for reason in CLOSE_REASONS:
            closed.add_metric([reason], stats.tcp_closed.get(reason, 0))
        yield closed
        endpoint = CounterMetricFamily(
            "trio_dns_metrics_connections_closed",
            "Connections to this endpoint that ended badly: peer_error (a reset or broken "
            "pipe), timeout (request or response too slow), evicted (oldest, to make room).",
            labels=["reason"],
        )
        for reason in _METRICS_CLOSE_REASONS:
            endpoint.add_metric([reason], stats.metrics_closed.get(reason, 0))
        yield endpoint
        yield _counter(
            "trio_dns_internal_errors",
            "Bugs met while answering a query (answered SERVFAIL); worth a report.",
            stats.internal_errors,
        )

        latency = stats.latency
        buckets: list[tuple[str, float]] = []
        cumulative = 0
        for bound, count in zip(latency.bounds, latency.counts, strict=False):
            cumulative += count
            buckets.append((_bound_text(bound), cumulative))
        buckets.append(("+Inf", cumulative + latency.counts[-1]))
        yield HistogramMetricFamily(
            "trio_dns_resolution_seconds",
            "Time from a query's arrival to its reply, for queries that were resolved "
            "(not those answered by the fast path or from the cache alone).",
            buckets=buckets,
            sum_value=latency.total,
        )


def _shared_cache_metrics(shared: RedisCache | None) -> Iterable[Metric]:
    """The shared cache's counters (cache_backend); zero without one."""
    stats = SharedCacheStats() if shared is None else shared.stats
    lookups = CounterMetricFamily(
        "trio_dns_shared_cache_lookups",
        "Misses of the resolver's own cache looked up in the shared cache (Redis): "
        "hit (an entry was used), miss (none, garbage, or Redis did not answer in time).",
        labels=["outcome"],
    )
    lookups.add_metric(["hit"], stats.hits)
    lookups.add_metric(["miss"], stats.misses)
    yield lookups
    yield _counter(
        "trio_dns_shared_cache_garbage",
        "Values in the shared cache that were not the entry their key names: misses.",
        stats.garbage,
    )
    yield _counter(
        "trio_dns_shared_cache_errors",
        "Reads and writes of the shared cache that failed or timed out.",
        stats.errors,
    )
    yield _counter(
        "trio_dns_shared_cache_breaker_opens",
        "Times the shared cache failed often enough in a row to be left alone a while.",
        stats.breaker_opens,
    )
    writes = CounterMetricFamily(
        "trio_dns_shared_cache_writes",
        "Entries written to the shared cache, and those dropped (queue full, breaker "
        "open, or the write failed).",
        labels=["outcome"],
    )
    writes.add_metric(["written"], stats.writes)
    writes.add_metric(["dropped"], stats.dropped_writes)
    yield writes


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _bound_text(bound: float) -> str:
    return repr(float(bound))


_METRICS_CLOSE_REASONS = ("peer_error", "timeout", "evicted")


class MetricsRegistry(CollectorRegistry):
    """A registry that knows its server, so that `serve_metrics` can count its own
    troubles in the server's stats."""

    def __init__(self, server: Server) -> None:
        super().__init__(auto_describe=True)
        self.server = server


def metrics_registry(server: Server, *, process: bool = True) -> MetricsRegistry:
    """A registry of `server`'s metrics (and the process's CPU and memory, on Linux)."""
    registry = MetricsRegistry(server)
    registry.register(ServerCollector(server))
    if process:
        ProcessCollector(registry=registry)
    return registry


# -- the HTTP endpoint ------------------------------------------------------------------


def _response(status: str, body: bytes, content_type: str, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{extra}"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def respond_untrusted(head: bytes, registry: CollectorRegistry) -> bytes:
    """The whole response to a request whose head (up to its blank line) is `head`."""
    text = "text/plain; charset=utf-8"
    first = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = first.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return _response("400 Bad Request", b"bad request\n", text)
    method, target = parts[0], parts[1]
    path = target.split(b"?", 1)[0]
    if method not in (b"GET", b"HEAD"):
        return _response("405 Method Not Allowed", b"GET only\n", text, "Allow: GET, HEAD\r\n")
    if path != b"/metrics":
        return _response("404 Not Found", b"metrics are at /metrics\n", text)
    body = generate_latest(registry)
    response = _response("200 OK", body, CONTENT_TYPE_LATEST)
    if method == b"HEAD":
        return response[: len(response) - len(body)]
    return response


async def _read_head(stream: trio.SocketStream) -> bytes | None:
    buffer = b""
    while b"\r\n\r\n" not in buffer and b"\n\n" not in buffer:
        if len(buffer) > MAX_REQUEST_HEAD:
            return None
        chunk = await stream.receive_some(4096)
        if not chunk:
            return buffer or None
        buffer += chunk
    return buffer


async def _bind(address: Address) -> trio.socket.SocketType:
    try:
        return await listen_tcp(address, _BACKLOG)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise DNSError(
                f"cannot serve metrics on {format_address(address)}: {exc.strerror}"
            ) from None
        raise


async def serve_metrics(
    registry: CollectorRegistry,
    address: Address,
    refresh: Callable[[], Awaitable[None]] | None = None,
    closed: dict[str, int] | None = None,
    *,
    task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `GET /metrics` on `address` until cancelled; reports the bound address.
    `refresh`, if given, is awaited before each response (the supervisor of
    `--workers` collects its workers' numbers then); connections that end badly
    are counted by reason in `closed`, else in the registry's server's stats."""
    sock = await _bind(address)
    listener = trio.SocketListener(sock)
    bound: Address = (address[0], sock.getsockname()[1])
    counts = closed
    if counts is None:
        counts = (
            registry.server.stats.metrics_closed if isinstance(registry, MetricsRegistry) else {}
        )
    # Each connection's cancel scope, oldest first.
    connections: dict[trio.CancelScope, None] = {}

    def count(reason: str) -> None:
        counts[reason] = counts.get(reason, 0) + 1

    async def handle(stream: trio.SocketStream, scope: trio.CancelScope) -> None:
        try:
            with scope:
                async with stream:
                    head = None
                    with trio.move_on_after(REQUEST_TIMEOUT) as reading:
                        head = await _read_head(stream)
                    if reading.cancelled_caught:
                        count("timeout")
                    if head is None:
                        return  # too slow, too big, or nothing at all
                    if refresh is not None:
                        await refresh()
                    with trio.move_on_after(SEND_TIMEOUT) as sending:
                        await stream.send_all(respond_untrusted(head, registry))
                    if sending.cancelled_caught:
                        count("timeout")
        except BaseException as exc:
            if not caused_by_peer(exc):
                raise
            count("peer_error")
            log.debug("metrics connection failed: %s", first_error(exc))
        finally:
            connections.pop(scope, None)

    async with listener, trio.open_nursery() as nursery:
        task_status.started(bound)
        log.info("metrics on http://%s/metrics", format_address(bound))
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # out of file descriptors, most likely
                log.debug("metrics accept failed: %s", exc)
                await trio.sleep(0.1)
                continue
            if len(connections) >= MAX_CONNECTIONS:
                oldest = next(iter(connections))
                del connections[oldest]
                oldest.cancel()
                count("evicted")
            scope = trio.CancelScope()
            connections[scope] = None
            nursery.start_soon(handle, stream, scope)

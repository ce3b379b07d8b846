"""A cache shared by many resolvers, in a real `redis-server` on loopback.

Each test starts its own redis-server (Debian's package; scripts/test installs
it) on a 127.x.y.z address of its own, from a temporary directory, and stops it
by its PID. In-process tests put two Resolvers on one simulated internet (real
time: Redis is a real socket) and look at their counters; the last ones run
the real `trio-dns serve` twice, sharing one Redis, and look at the metrics.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import coredis
import dns.message
import dns.rcode
import pytest
import trio

from trio_dns import Name, Record, RRClass, RRType, rdata_from_text
from trio_dns._config import ConfigError, ServeConfig
from trio_dns._decisions.cache import Cache
from trio_dns._decisions.shared_cache import Kind, SharedEntry, entry_key
from trio_dns._network.redis_cache import MAX_READS, Breaker, RedisAddress, RedisCache
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._trust import Rank, Validation
from trio_dns.testing import build_sandbox

from .hostile.conftest import Serve, make_query, random_loopback, serve
from .integration.servers import require_tool
from .test_validation import HINTS, NOW, World, build

__all__ = ["serve"]  # the fixture, imported for these tests

# coredis leaves the AnyIO memory streams of a connection that failed to open for
# the garbage collector to find (a ResourceWarning, ignored outside tests). The
# fixtures collect them before the test ends, so that no later test meets them.
pytestmark = pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning")

START_TIMEOUT = 10.0


@attrs.define
class RedisServer:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def alive(self) -> bool:
        return self.process.poll() is None

    def pause(self) -> None:
        """SIGSTOP: Redis stalls, its sockets stay open (a slow Redis)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.alive():
            os.kill(self.process.pid, signal.SIGCONT)
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(START_TIMEOUT)

    def command(self, *args: bytes) -> bytes:
        """One command, spoken the simplest way (RESP), for the test's own look."""
        request = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        with socket.create_connection((self.host, self.port), timeout=2) as sock:
            sock.sendall(request)
            return sock.recv(65536)


def _start_redis(directory: Path, host: str | None = None) -> RedisServer:
    binary = require_tool("redis-server", "redis-server")
    host = host or random_loopback()
    port = 6379
    process = subprocess.Popen(
        [
            binary,
            "--bind", host,
            "--port", str(port),
            "--dir", str(directory),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "no",
            "--logfile", str(directory / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = RedisServer(process, host, port, directory)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if server.command(b"PING").startswith(b"+PONG"):
                return server
        except OSError:
            pass
        if not server.alive() or time.monotonic() > deadline:
            server.kill()
            log = directory / "redis.log"
            pytest.fail(f"redis-server did not start:\n{log.read_text() if log.exists() else ''}")
        time.sleep(0.05)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = _start_redis(directory)
    try:
        yield server
    finally:
        server.kill()


@asynccontextmanager
async def fleet_member(
    redis: RedisServer, sandbox_seed: int = 0, world: World | None = None, **shared_options: Any
) -> AsyncIterator[tuple[Resolver, RedisCache]]:
    """A resolver sharing `redis`'s cache: in a sandbox internet of its own, or
    validating in the signed `world` (whose clock stands still)."""
    shared = RedisCache.from_url(redis.url, **shared_options)
    cache = shared.sharing(Cache(max_ttl=3600))
    if world is None:
        sandbox = build_sandbox(seed=sandbox_seed)
        resolver = Resolver(
            root_hints=sandbox.root_hints,
            transport=sandbox.network,
            cache=cache,
            shared_cache=shared,
        )
    else:
        resolver = Resolver(
            root_hints=HINTS,
            transport=world.network,
            cache=cache,
            settings=ResolverSettings(trust_anchors=(world.anchor,)),
            clock=lambda: NOW,
            shared_cache=shared,
        )
    async with trio.open_nursery() as nursery:
        await nursery.start(shared.run)
        await until(lambda: shared.connected)
        yield resolver, shared
        nursery.cancel_scope.cancel()
    _collect_coredis_leftovers()


def _collect_coredis_leftovers() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unclosed <MemoryObject", ResourceWarning)
        gc.collect()


async def until(condition: Callable[[], bool]) -> None:
    """Poll: the shared cache's background task sets no event for tests to wait on."""
    with trio.fail_after(5):
        while not condition():  # noqa: ASYNC110
            await trio.sleep(0.01)


async def written(shared: RedisCache) -> None:
    await until(lambda: shared.idle)


# -- two resolvers, one Redis ------------------------------------------------------------


async def test_what_one_resolver_learnt_answers_another_without_upstream(
    redis: RedisServer,
) -> None:
    async with fleet_member(redis) as (first, first_shared):
        www = await first.resolve("www.example.com", "A")
        missing = await first.resolve("nothing-here.example.com", "A")
        nodata = await first.resolve("www.example.com", "MX")
        alias = await first.resolve("shop.example.com", "A")
        await written(first_shared)
    assert missing.rcode == dns.rcode.NXDOMAIN
    assert first_shared.stats.writes > 0 and first_shared.stats.errors == 0
    stored = redis.command(b"PTTL", entry_key(Name.from_text("www.example.com"), RRType.A))
    assert stored.startswith(b":") and 0 < int(stored[1:]) <= 3600_000  # Redis forgets it too

    # A longer read timeout than the 50 ms default: a loaded machine must not turn
    # a hit into a miss here (the stalled-Redis test holds the default to account).
    async with fleet_member(redis, sandbox_seed=1, read_timeout=1.0) as (second, shared):
        again = await second.resolve("www.example.com", "A")
        assert [r.rdata for r in again.records] == [r.rdata for r in www.records]
        assert 0 < again.ttl <= www.ttl  # what is left of the life, not a new one
        gone = await second.resolve("nothing-here.example.com", "A")
        assert gone.rcode == dns.rcode.NXDOMAIN and gone.soa is not None
        empty = await second.resolve("www.example.com", "MX")
        assert empty.rcode == nodata.rcode == dns.rcode.NOERROR and not empty.records
        chain = await second.resolve("shop.example.com", "A")
        assert [r.rdata for r in chain.records] == [r.rdata for r in alias.records]
        assert second.stats.upstream_queries == 0
        assert shared.stats.hits >= 6  # three names, and the CNAME chain's three links
        assert shared.stats.errors == 0


async def test_a_trace_tells_the_cache_path_once(redis: RedisServer) -> None:
    async with fleet_member(redis) as (first, first_shared):
        await first.resolve("shop.example.com", "A")
        await written(first_shared)
    async with fleet_member(redis, sandbox_seed=1, read_timeout=1.0) as (second, _):
        await second.resolve("shop.example.com", "CNAME")  # the first link, held locally
        answer = await second.resolve("shop.example.com", "A", trace=True)
        steps = [(e.kind, str(e.qname), e.outcome) for e in answer.trace if e.kind == "cache"]
        assert ("cache", "shop.example.com.", "CNAME") in steps
        assert len(steps) == len(set(steps)), steps
        assert second.stats.upstream_queries == 0


async def test_validation_state_travels_with_the_entries(redis: RedisServer) -> None:
    world = build()
    async with fleet_member(redis, world=world) as (first, first_shared):
        secure = await first.resolve("www.example.test", "A")
        insecure = await first.resolve("www.insecure.test", "A")
        await written(first_shared)
    assert secure.validation is Validation.SECURE
    assert insecure.validation is Validation.INSECURE
    async with fleet_member(redis, world=world, read_timeout=1.0) as (second, _):
        again = await second.resolve("www.example.test", "A")
        assert again.validation is Validation.SECURE and again.rrsigs
        assert (await second.resolve("www.insecure.test", "A")).validation is Validation.INSECURE
        # Not validated again: no DNSKEY or DS asked for, nothing asked at all.
        assert second.stats.upstream_queries == 0


async def test_garbage_in_redis_is_a_miss(redis: RedisServer) -> None:
    name = Name.from_text("www.example.com")
    for rtype in (RRType.A, RRType.CNAME, None):
        assert redis.command(b"SET", entry_key(name, rtype), b"\x00garbage\xff" * 7) == b"+OK\r\n"
    # A real entry, copied to another name's key: the name inside does not match.
    async with fleet_member(redis) as (first, first_shared):
        await first.resolve("www.lame.com", "A")
        await written(first_shared)
    real = redis.command(b"GET", entry_key(Name.from_text("www.lame.com"), RRType.A))
    value = real.split(b"\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    assert redis.command(b"SET", entry_key(name, RRType.AAAA), value) == b"+OK\r\n"

    async with fleet_member(redis, sandbox_seed=1) as (second, shared):
        answer = await second.resolve(name, "A")
        assert [r.rdata.to_text() for r in answer.records] == ["198.51.100.80"]
        answer = await second.resolve(name, "AAAA")
        assert answer.rcode == dns.rcode.NOERROR
        assert second.stats.upstream_queries > 0  # resolved, as if Redis had nothing
        assert shared.stats.garbage >= 4 and shared.stats.errors == 0
        await written(shared)
    # ...and the good entry written over the garbage.
    async with fleet_member(redis, sandbox_seed=2, read_timeout=1.0) as (third, _):
        await third.resolve(name, "A")
        assert third.stats.upstream_queries == 0


async def test_a_stalled_redis_costs_a_timeout_then_nothing(redis: RedisServer) -> None:
    async with fleet_member(redis) as (resolver, shared):
        await resolver.resolve("www.example.com", "A")
        await written(shared)
        redis.pause()
        try:
            for name in ("www.lame.com", "www.glueless.org", "www.double.org", "www.cdn.net"):
                answer = await resolver.resolve(name, "A")
                assert answer.rcode == dns.rcode.NOERROR and answer.records, name
        finally:
            redis.resume()
        # Three reads timed out (a write may have too), then the breaker stopped asking.
        assert shared.stats.breaker_opens == 1
        assert shared.stats.errors in (3, 4)
        assert shared.stats.misses > shared.stats.errors


async def test_a_killed_redis_changes_only_the_counters(redis: RedisServer) -> None:
    async with fleet_member(redis, max_pending=5) as (resolver, shared):
        redis.kill()
        names = ["www.example.com", "www.lame.com", "www.glueless.org", "shop.example.com"]
        for name in names:
            answer = await resolver.resolve(name, "A")
            assert answer.rcode == dns.rcode.NOERROR and answer.records, name
        await written(shared)
        assert shared.stats.errors >= 1 and shared.stats.breaker_opens >= 1
        assert shared.stats.dropped_writes > 0 and shared.stats.writes == 0
        # The answers are the ones a resolver without a shared cache gives.
        sandbox = build_sandbox()
        plain = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
        for name in names:
            expected = await plain.resolve(name, "A")
            got = await resolver.resolve(name, "A")
            assert {r.rdata for r in got.records} == {r.rdata for r in expected.records}


async def test_a_flushed_name_or_zone_is_deleted_from_redis_too(redis: RedisServer) -> None:
    def stored(name: str, rtype: RRType | None = RRType.A) -> bool:
        return redis.command(b"EXISTS", entry_key(Name.from_text(name), rtype)) == b":1\r\n"

    async with fleet_member(redis) as (resolver, shared):
        for name in ("www.example.com", "shop.example.com", "www.lame.com"):
            await resolver.resolve(name, "A")
        await resolver.resolve("www.example.com", "MX")
        await written(shared)
        assert stored("www.example.com") and stored("www.example.com", RRType.MX)
        assert stored("shop.example.com", RRType.CNAME) and stored("example.com", RRType.NS)

        resolver.flush_name(Name.from_text("www.example.com"), RRType.MX)
        await written(shared)
        assert stored("www.example.com") and not stored("www.example.com", RRType.MX)
        resolver.flush_name(Name.from_text("www.example.com"))
        await written(shared)
        assert not stored("www.example.com")
        resolver.flush_zone(Name.from_text("example.com"))
        await written(shared)
        assert not stored("shop.example.com", RRType.CNAME)
        assert not stored("example.com", RRType.NS)
        assert stored("www.lame.com")  # another zone: kept
        assert shared.stats.deleted >= 3 and shared.stats.dropped_deletes == 0


async def test_after_redis_comes_back_it_is_used_again(redis: RedisServer) -> None:
    async with fleet_member(redis, breaker=Breaker(open_for=0.5)) as (resolver, shared):
        redis.kill()
        await resolver.resolve("www.example.com", "A")
        await written(shared)
        assert shared.stats.errors >= 1 and shared.stats.writes == 0
        restarted = _start_redis(redis.directory, redis.host)
        try:
            await trio.sleep(0.6)  # the breaker's pause
            await resolver.resolve("www.lame.com", "A")
            await written(shared)
            assert shared.stats.writes > 0
            key = entry_key(Name.from_text("www.lame.com"), RRType.A)
            assert restarted.command(b"EXISTS", key) == b":1\r\n"
        finally:
            restarted.kill()


async def test_lookups_beyond_the_ones_in_flight_are_misses_at_once(redis: RedisServer) -> None:
    async with fleet_member(redis) as (_, shared):
        redis.pause()  # every lookup sent waits for its timeout
        try:
            results: list[object] = []

            async def lookup() -> None:
                results.append(await shared.fetch([b"k"]))

            async with trio.open_nursery() as nursery:
                for _ in range(MAX_READS + 8):
                    nursery.start_soon(lookup)
        finally:
            redis.resume()
        assert results == [None] * (MAX_READS + 8)
        assert shared.stats.busy == 8  # not sent at all
        assert shared.stats.errors == MAX_READS  # sent, and timed out
        assert shared.stats.breaker_opens == 1


# -- the parts on their own -----------------------------------------------------------------


def test_the_breaker_opens_after_failures_and_half_opens_after_a_while() -> None:
    breaker = Breaker(failures_to_open=3, open_for=5.0)
    assert breaker.allows(0.0)
    assert not breaker.failed(0.0) and not breaker.failed(0.1)
    breaker.succeeded()  # a success in between starts the count again
    assert not breaker.failed(0.2) and not breaker.failed(0.3)
    assert breaker.failed(0.4)
    assert not breaker.allows(0.5) and not breaker.allows(5.3)
    assert not breaker.failed(1.0)  # a request from before it opened: still open till 5.4
    assert not breaker.allows(5.3)
    assert breaker.allows(5.4)
    assert breaker.failed(5.4)  # the first try after the pause fails: open again at once
    assert not breaker.allows(10.0) and breaker.allows(10.4)
    breaker.succeeded()
    assert not breaker.failed(10.5)
    assert breaker.opens == 2


def test_a_full_write_queue_drops_new_keys_and_counts_them() -> None:
    shared = RedisCache.from_url("redis://127.0.0.1", max_pending=2)

    def entry(name: str, address: str) -> SharedEntry:
        record = Record(
            Name.from_text(name), RRType.A, RRClass.IN, 300, rdata_from_text(RRType.A, address)
        )
        return SharedEntry(
            record.name, RRType.A, RRClass.IN, Kind.POSITIVE, Rank.ANSWER,
            Validation.INDETERMINATE, time.time() + 300, (record,),
        )  # fmt: skip

    async def main() -> None:
        shared.enqueue(entry("a.example", "192.0.2.1"), 1000)
        shared.enqueue(entry("b.example", "192.0.2.2"), 1000)
        # The same entry again replaces the write waiting: no room needed.
        shared.enqueue(entry("A.example", "192.0.2.3"), 1000)
        shared.enqueue(entry("c.example", "192.0.2.4"), 1000)

    trio.run(main)
    assert shared.stats.dropped_writes == 1 and not shared.idle


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("redis://127.0.0.1", RedisAddress("127.0.0.1", 6379, 0)),
        ("redis://10.1.2.3:6380/2", RedisAddress("10.1.2.3", 6380, 2)),
        ("redis://[::1]:7000/0", RedisAddress("::1", 7000, 0)),
        (
            "redis://:s%40cret@cache.internal/1",
            RedisAddress("cache.internal", 6379, 1, None, "s@cret"),
        ),
    ],
)
def test_backend_urls(url: str, address: RedisAddress) -> None:
    assert RedisAddress.from_url(url) == address


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1", "redis://", "redis://host:99999", "redis://host/x", "redis://h/1?a=b"],
)
def test_bad_backend_urls(url: str) -> None:
    from trio_dns._network.redis_cache import BadBackend

    with pytest.raises(BadBackend):
        RedisAddress.from_url(url)


def test_coredis_itself_runs_under_trio(redis: RedisServer) -> None:
    async def main() -> list[bytes | None]:
        async with coredis.Redis(redis.host, redis.port) as client:
            await client.set(b"k", b"\x00v\xff", px=5000)
            return list(await client.mget([b"k", b"missing"]))

    assert trio.run(main) == [b"\x00v\xff", None]


# -- the real server, twice ------------------------------------------------------------------


def _answers(reply: dns.message.Message) -> list[str]:
    return sorted(rdata.to_text() for rrset in reply.answer for rdata in rrset)


def _wait_for_key(redis: RedisServer, key: bytes) -> None:
    deadline = time.monotonic() + 5
    while redis.command(b"EXISTS", key) != b":1\r\n":
        assert time.monotonic() < deadline, f"{key!r} was never written"
        time.sleep(0.05)


def test_two_servers_share_what_they_learn(serve: Serve, redis: RedisServer) -> None:
    first = serve("--cache-backend", redis.url)
    second = serve("--cache-backend", redis.url)
    learnt = first.udp(make_query("www.example.com", "A"))
    assert _answers(learnt) == ["198.51.100.80"]
    missing = first.udp(make_query("nope.example.com", "A"))
    assert missing.rcode() == dns.rcode.NXDOMAIN
    _wait_for_key(redis, entry_key(Name.from_text("www.example.com"), RRType.A))
    _wait_for_key(redis, entry_key(Name.from_text("nope.example.com"), None))

    assert _answers(second.udp(make_query("www.example.com", "A"))) == ["198.51.100.80"]
    assert second.udp(make_query("nope.example.com", "A")).rcode() == dns.rcode.NXDOMAIN
    assert second.metric("trio_dns_upstream_queries") == 0  # nothing asked upstream
    assert second.metric("trio_dns_shared_cache_lookups", outcome="hit") >= 2
    assert first.metric("trio_dns_upstream_queries") > 0
    assert first.metric("trio_dns_shared_cache_writes", outcome="written") > 0
    for server in (first, second):
        assert server.metric("trio_dns_shared_cache_errors") == 0


def test_redis_killed_under_a_running_server_changes_only_the_metrics(
    serve: Serve, redis: RedisServer
) -> None:
    server = serve("--cache-backend", redis.url)
    assert _answers(server.udp(make_query("www.example.com", "A"))) == ["198.51.100.80"]
    _wait_for_key(redis, entry_key(Name.from_text("www.example.com"), RRType.A))
    redis.kill()
    for name in ("www.lame.com", "www.glueless.org", "shop.example.com", "www.cdn.net"):
        reply = server.udp(make_query(name, "A"))
        assert reply.rcode() == dns.rcode.NOERROR and reply.answer, name
    server.assert_serving()
    assert server.metric("trio_dns_shared_cache_errors") >= 1
    assert server.metric("trio_dns_shared_cache_breaker_opens") >= 1
    assert "shared cache at" in server.log()  # one line, no traceback (the fixture checks)


def test_garbage_in_redis_is_a_miss_on_the_real_server(serve: Serve, redis: RedisServer) -> None:
    name = Name.from_text("www.example.com")
    for rtype in (RRType.A, RRType.CNAME, None):
        redis.command(b"SET", entry_key(name, rtype), bytes(range(256)) * 3)
    server = serve("--cache-backend", redis.url)
    assert _answers(server.udp(make_query("www.example.com", "A"))) == ["198.51.100.80"]
    assert server.metric("trio_dns_shared_cache_garbage") == 3
    assert server.metric("trio_dns_shared_cache_lookups", outcome="hit") == 0
    assert server.metric("trio_dns_upstream_queries") > 0


# -- configuration and start-up --------------------------------------------------------------


def test_the_key_and_its_one_line_error(tmp_path: Path) -> None:
    config_file = tmp_path / "serve.toml"
    config_file.write_text('cache_backend = "redis://10.0.0.7:6380/3"\n')
    config = ServeConfig.load({}, config_file)
    assert config.cache_backend == "redis://10.0.0.7:6380/3"
    assert ServeConfig.load({}).cache_backend is None
    given = ServeConfig.load({"cache_backend": "redis://127.0.0.1"}, config_file)
    assert given.cache_backend == "redis://127.0.0.1"  # the command line wins
    with pytest.raises(ConfigError) as caught:
        ServeConfig.load({"cache_backend": "memcached://127.0.0.1"})
    assert str(caught.value) == (
        "--cache-backend must be a redis://HOST[:PORT][/DB] URL, not 'memcached://127.0.0.1'"
    )


def test_resolvers_without_a_shared_cache_never_load_the_client() -> None:
    code = "import sys, trio_dns, trio_dns._cli, trio_dns._network.resolver; print('coredis' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_the_clients_errors_are_one_line_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    import trio_dns._network.redis_cache  # noqa: F401 (installs the filter)

    caplog.set_level(logging.DEBUG)
    try:
        raise ConnectionResetError("reset by peer\nmore")
    except ConnectionResetError:
        logging.getLogger("coredis").exception("Connection attempt failed unexpectedly!")
    [record] = [r for r in caplog.records if r.name == "coredis"]
    assert record.levelname == "DEBUG" and record.exc_info is None
    assert record.getMessage() == (
        "Connection attempt failed unexpectedly! (failed: ConnectionResetError: reset by peer)"
    )
    assert "Traceback" not in caplog.text

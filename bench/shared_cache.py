"""What the shared cache (cache_backend, Redis) costs a resolver.

Starts its own redis-server on a loopback address from a temporary directory
(stopped by PID at the end), then measures in one process:

- a store into the resolver's own cache, plain (`Cache`) and sharing
  (`SharingCache`, which hands each entry on to be written);
- a lookup in Redis for a question (`RedisCache.fill`: one MGET of the
  question's three keys, decoded and put into a cache), hit and miss;
- the baseline no client can skip: the same MGET over a plain socket, and
  through coredis alone.

    .venv/bin/python bench/shared_cache.py [--rounds 300]

The machine is shared and its speed drifts; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trio_dns import Name, Record, RRClass, RRType, rdata_from_text
from trio_dns._decisions.cache import Cache
from trio_dns._decisions.shared_cache import SharingCache, keys_for
from trio_dns._network.redis_cache import RedisCache
from trio_dns._trust import Rank

HOST, PORT = "127.83.0.1", 6379
NAME = Name.from_text("www.example.com")


def _records(index: int) -> list[Record]:
    name = Name.from_text(f"host{index}.example.com")
    return [
        Record(name, RRType.A, RRClass.IN, 300, rdata_from_text(RRType.A, f"192.0.2.{i}"))
        for i in (1, 2)
    ]


def _per_call(seconds: float, rounds: int) -> str:
    return f"{seconds / rounds * 1e6:8.1f} us"


def stores(rounds: int) -> tuple[float, float]:
    sets = [_records(i) for i in range(rounds)]
    plain, sharing = Cache(), SharingCache(share=lambda entry, ms: None)
    started = time.perf_counter()
    for records in sets:
        plain.put_rrset(records, Rank.AUTH_ANSWER, 1000.0)
    middle = time.perf_counter()
    for records in sets:
        sharing.put_rrset(records, Rank.AUTH_ANSWER, 1000.0)
    return middle - started, time.perf_counter() - middle


def raw_mget(rounds: int) -> float:
    keys = [key for _, key in keys_for(NAME, RRType.A)]
    request = b"*%d\r\n$4\r\nMGET\r\n" % (len(keys) + 1) + b"".join(
        b"$%d\r\n%s\r\n" % (len(k), k) for k in keys
    )
    with socket.create_connection((HOST, PORT)) as sock:
        started = time.perf_counter()
        for _ in range(rounds):
            sock.sendall(request)
            sock.recv(65536)
        return time.perf_counter() - started


async def through_the_client(rounds: int) -> dict[str, float]:  # seconds, or a count
    import coredis

    shared = RedisCache.from_url(f"redis://{HOST}:{PORT}/0")
    results: dict[str, float] = {}
    async with trio.open_nursery() as nursery:
        await nursery.start(shared.run)
        while not shared.connected:  # noqa: ASYNC110 (no event to wait on)
            await trio.sleep(0.01)
        writer = SharingCache(share=shared.enqueue)
        www = Record(NAME, RRType.A, RRClass.IN, 3600, rdata_from_text(RRType.A, "192.0.2.80"))
        writer.put_rrset([www], Rank.AUTH_ANSWER, time.time())
        while not shared.idle:  # noqa: ASYNC110
            await trio.sleep(0.01)
        keys = [key for _, key in keys_for(NAME, RRType.A)]
        async with coredis.Redis(HOST, PORT) as client:
            started = time.perf_counter()
            for _ in range(rounds):
                await client.mget(keys)
            results["coredis MGET"] = time.perf_counter() - started
        for label, name in (("fill, hit", NAME), ("fill, miss", Name.from_text("nx.example"))):
            started = time.perf_counter()
            for _ in range(rounds):
                await shared.fill(Cache(), name, RRType.A, RRClass.IN, time.time)
            results[label] = time.perf_counter() - started
        # Lookups over the 50 ms read timeout (a loaded machine) count as misses.
        results["timed out (count)"] = shared.stats.errors
        nursery.cancel_scope.cancel()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen(
            ["redis-server", "--bind", HOST, "--port", str(PORT), "--dir", directory,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(100):
                try:
                    socket.create_connection((HOST, PORT)).close()
                    break
                except OSError:
                    time.sleep(0.05)
            plain, sharing = stores(rounds)
            print(f"store, Cache          {_per_call(plain, rounds)}")
            print(f"store, SharingCache   {_per_call(sharing, rounds)}  ({sharing / plain:.1f}x)")
            raw = raw_mget(rounds)
            print(f"MGET, plain socket    {_per_call(raw, rounds)}")
            for label, seconds in trio.run(through_the_client, rounds).items():
                if label.endswith("(count)"):
                    print(f"{label:<21} {seconds:8.0f}")
                    continue
                print(
                    f"{label:<21} {_per_call(seconds, rounds)}  ({seconds / raw:.1f}x the socket)"
                )
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait()


if __name__ == "__main__":
    main()

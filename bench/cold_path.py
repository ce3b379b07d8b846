"""The cold path in one process: the CPU a cache miss costs trio-dns itself.

No sockets and no other programs: the server's slow path and the resolver run
against an in-memory authority that answers at once. It serves bench/serve.py's
zones; the replies of leaf.lab.'s server are spliced from bytes, so the fake
costs next to nothing. Every query is a new name under the wildcard in leaf.lab.,
so each one costs one upstream exchange, as in serve.py's cold test.

The baseline, run in the same process, is the DNS work that no resolver can
skip, done with the same code: parse the client's query, encode the upstream
query, parse the upstream reply, and encode the answer. The ratio says how much
everything else adds: the cache, server selection, classification, and Trio's
tasks and cancel scopes.

    .venv/bin/python bench/cold_path.py [--queries 20000] [--wire-only]

`--wire-only` runs the baseline alone and prints its figure as one number (µs
per query): bench/serve.py runs it beside the floor, on the same CPU, to say in
the same run how much of the floor's cost the unavoidable DNS work is.
`--cold-only` runs the cold path alone. `--default-zones` gives the resolver
the hundred default local zones that `trio-dns serve` has on the public root
(bench/serve.py's own root leaves only the loopback ones), which every
question must be checked against.

This machine's speed drifts by tens of percent over minutes. To see a change
of a few percent, count instructions instead. Run this under `valgrind
--tool=callgrind` with two sizes (say --queries 500 and 2500, with
PYTHONHASHSEED=0) and divide the difference of the totals by the difference
of the sizes. Compile first (`python -m compileall trio_dns bench`): otherwise
the first size also pays for compiling what the second finds compiled. Even
so, runs of the same code have differed by up to 3.6%: compare changes larger
than that, or take several runs. Without --cold-only or --wire-only it counts
both, the baseline's share included.
"""

from __future__ import annotations

import argparse
import gc
import struct
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve import LEAF_ADDR, LEAF_ZONE, ROOT_ADDR, ROOT_ZONE, TLD_ADDR, TLD_ZONE
from trio_dns import Edns, Flag, Message, Name
from trio_dns._address import Address
from trio_dns._decisions.local_zones import local_zones
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._server.server import Server, ServerSettings, _Pending
from trio_dns._wire.message import Header, Question, Record
from trio_dns._wire.rdtypes.address import A
from trio_dns._wire.zone import read_zone
from trio_dns.testing import Zone, answer_query

ZONES = {
    ROOT_ADDR: Zone.from_text(ROOT_ZONE, origin="."),
    TLD_ADDR: Zone.from_text(TLD_ZONE, origin="lab."),
    LEAF_ADDR: Zone.from_text(LEAF_ZONE, origin="leaf.lab."),
}
_RR = struct.Struct("!HHIH")


def _leaf_tail() -> bytes:
    """What follows the question in leaf.lab.'s answer to `<anything>.cold.leaf.lab A`:
    the wildcard's A record (owner: a pointer to the question), the zone's NS
    record, its glue and an OPT record. NSD sends the same records but compresses
    the names after the question (96 octets to this reply's 123 for q1.x...);
    spelled out, they need no offsets fixed when the question changes."""
    leaf = Name.make("leaf.lab").to_wire()
    ns = Name.make("ns.leaf.lab").to_wire()
    return (
        b"\xc0\x0c"
        + _RR.pack(1, 1, 3600, 4)
        + bytes([192, 0, 2, 99])
        + leaf
        + _RR.pack(2, 1, 3600, len(ns))
        + ns
        + ns
        + _RR.pack(1, 1, 3600, 4)
        + bytes(int(octet) for octet in LEAF_ADDR.split("."))
        + b"\x00"
        + _RR.pack(41, 1232, 0, 0)
    )


_TAIL = _leaf_tail()
_A_IN = struct.pack("!HH", 1, 1)


def _question_end(query: bytes) -> int:
    end = 12
    while query[end]:
        end += 1 + query[end]
    return end + 5  # the root label, type and class


def leaf_reply(query: bytes) -> bytes:
    end = _question_end(query)
    # QR AA, one question, one answer, one authority, two additional.
    return query[:2] + b"\x84\x00\x00\x01\x00\x01\x00\x01\x00\x02" + query[12:end] + _TAIL


class _Endpoint:
    def __init__(self) -> None:
        self._replies: list[tuple[bytes, Address]] = []

    async def send(self, data: bytes, address: Address) -> None:
        if address[0] == LEAF_ADDR and data.startswith(_A_IN, _question_end(data) - 4):
            reply = leaf_reply(data)
        else:
            # The root, lab. and the minimised probes for NS (a no-data each) are
            # asked only while warming up: their answers are cached.
            reply = answer_query([ZONES[address[0]]], Message.from_wire(data)).to_wire()
        self._replies.append((reply, address))

    async def receive(self) -> tuple[bytes, Address]:
        await trio.lowlevel.checkpoint()  # as a real wait would
        return self._replies.pop()


class InstantNetwork:
    """A Transport whose servers answer at once, from the benchmark's zones."""

    @asynccontextmanager
    async def open_udp(self, remote: Address) -> AsyncIterator[_Endpoint]:
        yield _Endpoint()

    async def connect_tcp(self, remote: Address) -> trio.abc.Stream:
        raise OSError("no TCP here")


def client_queries(count: int, tag: str) -> list[bytes]:
    return [
        Message.make_query(f"q{i}.{tag}.cold.leaf.lab", "A", edns=Edns()).to_wire()
        for i in range(count)
    ]


async def cold_path(count: int, default_zones: bool = False) -> float:
    """CPU seconds per cold query through Server and Resolver."""
    hints = read_zone(f". 3600000 NS ns.root.\nns.root. 3600000 A {ROOT_ADDR}\n", origin=".")
    resolver = Resolver(
        settings=ResolverSettings(use_ipv6=False),
        transport=InstantNetwork(),
        root_hints=hints,
        local_zones=local_zones([]) if default_zones else (),
    )
    if default_zones:
        gc.freeze()  # as `trio-dns serve` freezes what start-up loaded
    server = Server(resolver, ServerSettings())
    warm = await resolver.resolve("warm.x.cold.leaf.lab", "A")
    assert [r.rdata.to_text() for r in warm.records] == ["192.0.2.99"], warm
    queries = client_queries(count, "x")
    replies: list[bytes] = []

    async def resolve(pending: _Pending) -> None:
        replies.append(await server._resolve(pending))

    started = time.process_time()
    async with trio.open_nursery() as nursery:
        for i, query in enumerate(queries):
            pending = server._handle(query, "127.0.0.1", False)
            assert isinstance(pending, _Pending)
            nursery.start_soon(resolve, pending)
            if i % 50 == 49:  # dnsperf keeps 50 in flight
                await trio.lowlevel.checkpoint()
    elapsed = time.process_time() - started
    assert resolver.stats.upstream_queries >= count
    assert all(Message.from_wire(reply).answer for reply in replies[-10:])
    return elapsed / count


def wire_work(count: int) -> float:
    """CPU seconds per query for the parsing and encoding any resolver must do."""
    queries = client_queries(count, "y")
    edns = Edns(payload=1232)
    started = time.process_time()
    for data in queries:
        query = Message.from_wire(data)
        question = query.question[0]
        upstream = Message.make_query(question.name, question.rtype, flags=Flag(0), edns=edns)
        reply = Message.from_wire(leaf_reply(upstream.to_wire()))
        answer = Message(
            Header(id=query.id, flags=Flag.QR | Flag.RD | Flag.RA),
            (Question(question.name, question.rtype, question.rclass),),
            tuple(Record(r.name, r.rtype, r.rclass, r.ttl, r.rdata) for r in reply.answer),
            edns=edns,
        )
        answer.to_wire(1232)
    elapsed = time.process_time() - started
    assert isinstance(reply.answer[0].rdata, A)
    return elapsed / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20_000)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--wire-only", action="store_true", help="the baseline alone, in µs")
    only.add_argument("--cold-only", action="store_true", help="the cold path alone")
    parser.add_argument(
        "--default-zones", action="store_true", help="the public root's local zones"
    )
    args = parser.parse_args()
    # As `trio-dns serve` runs: see _cli._tune_garbage_collector.
    gc.freeze()
    gc.set_threshold(20_000, *gc.get_threshold()[1:])
    if args.cold_only:
        cold = trio.run(cold_path, args.queries, args.default_zones)
        print(f"{'cold path, server and resolver':32}{cold * 1e6:10.1f} µs per query")
        return
    baseline = wire_work(args.queries)
    if args.wire_only:
        print(f"{baseline * 1e6:.1f}")
        return
    cold = trio.run(cold_path, args.queries, args.default_zones)
    print(f"{'wire work alone (baseline)':32}{baseline * 1e6:10.1f} µs per query")
    print(f"{'cold path, server and resolver':32}{cold * 1e6:10.1f} µs per query")
    print(f"{'ratio':32}{cold / baseline:10.2f}")


if __name__ == "__main__":
    main()

"""A long fuzz run: generated and mutated packets through the server's front door
and through the reply parser and classifier, counting anything that escapes.

    .venv/bin/python bench/fuzz.py [--packets 1000000] [--seed 0] [--resolve-every 64]

Not part of CI (it takes minutes); tests/hostile/test_fuzz_short.py runs the same
generator for a few thousand packets. Each packet goes

- through the front door, `Server._handle_logged` (the UDP and TCP handler, with
  the query log's work too), alternately as UDP and TCP and now and then from a
  client outside the access list. It may answer (the reply must then parse, carry
  the query's ID and fit the transport), drop, or hand the query to the resolver;
  every `resolve_every`-th such query is resolved in the sandbox internet (on a
  virtual clock) and its reply checked the same way. Anything raised, and any bug
  the server's own error boundary caught (`ServerStats.internal_errors`), is a
  crash;
- through `Message.from_wire`, where only `MalformedMessage` is allowed, and, when
  it parses, through `classify_reply` for its question (or the root) from a zone
  chosen among the name's ancestors, where nothing may be raised. The server's
  replies are fed to the parser as well.

The generator (`packets`) mixes well-formed queries, cycling through every
combination of question type, header flag set and EDNS variant (versions,
payload sizes, DO, cookies of every length, padding, client subnet, unknown and
overlong options, two OPT records), with random names, classes, opcodes and
counts; mutations (byte edits, insertions, deletions, duplicated ranges, count
fields) and bit flips of the golden packets in tests/data/ and of generated
queries; truncations of both; random bytes; and compression pointer tricks
(loops, forward pointers, pointers into the header).

Prints packets, crashes, seconds, the front door's rcode mix and the parser's
outcomes; exits 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import attrs
import trio
from trio.testing import MockClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.data import NAMES as GOLDEN_NAMES
from tests.data import load as load_golden
from trio_dns._decisions.recursion import classify_reply
from trio_dns._errors import MalformedMessage
from trio_dns._network.resolver import Resolver
from trio_dns._server.server import Server, ServerSettings, _Pending
from trio_dns._wire.enums import EdnsOptionCode, RRType
from trio_dns._wire.message import Message
from trio_dns._wire.name import ROOT
from trio_dns.testing import build_sandbox

_HEADER = struct.Struct("!HHHHHH")

# Every type the library knows, the meta and obsolete ones a client can still ask
# for, and numbers nobody assigned.
_ODD_TYPES = {0, 3, 4, 41, 249, 250, 251, 252, 253, 254, 255, 256, 32768, 65280, 65534, 65535}
TYPES: tuple[int, ...] = tuple(sorted({int(t) for t in RRType} | _ODD_TYPES))
CLASSES = (1,) * 20 + (3, 4, 254, 255, 0, 2, 65535)  # mostly IN
# The bits a client may set or get wrong in a query; QR (a response, dropped unread),
# RA and the Z bit are added at random.
_FLAG_BITS = (0x0400, 0x0200, 0x0100, 0x0020, 0x0010)  # AA TC RD AD CD
FLAG_SETS: tuple[int, ...] = tuple(
    sum(bit for i, bit in enumerate(_FLAG_BITS) if combo >> i & 1) for combo in range(32)
)

NAMES = (
    "www.example.com",
    "example.com",
    "big.example.com",
    "alias.example.com",
    "shop.example.com",
    "loop1.example.com",
    "x.wild.example.com",
    "nowhere.example.com",
    "www.cdn.net",
    "www.glueless.org",
    "www.double.org",
    "cycle-a.com",
    "www.v6only.net",
    "www.lame.com",
    "com",
    "net",
    "arpa",
    "1.0.0.127.in-addr.arpa",
)


def _option(code: int, data: bytes, length: int | None = None) -> bytes:
    return struct.pack("!HH", code, len(data) if length is None else length) + data


def _edns_variants() -> tuple[tuple[int, int, int, bytes] | None, ...]:
    """(payload, version, flags, options) of an OPT record; None: no OPT at all."""
    cookie = int(EdnsOptionCode.COOKIE)
    options = [
        b"",
        _option(cookie, b"c" * 8),  # a client cookie alone
        _option(cookie, b"c" * 8 + b"s" * 16),  # with a server cookie
        _option(cookie, b"c" * 8 + b"s" * 32),  # the longest allowed
        _option(cookie, b"c" * 5),  # too short (FORMERR)
        _option(cookie, b"c" * 8 + b"s" * 4),  # a server cookie too short
        _option(cookie, b"c" * 8 + b"s" * 33),  # too long
        _option(cookie, b""),
        _option(int(EdnsOptionCode.NSID), b""),
        _option(int(EdnsOptionCode.PADDING), b"\x00" * 64),
        _option(int(EdnsOptionCode.CLIENT_SUBNET), b"\x00\x01\x18\x00\xc0\x00\x02"),
        _option(int(EdnsOptionCode.CLIENT_SUBNET), b"\x00\x02\x81\x00" + b"\xff" * 17),
        _option(int(EdnsOptionCode.TCP_KEEPALIVE), b""),
        _option(int(EdnsOptionCode.TCP_KEEPALIVE), b"\x00\x64"),
        _option(int(EdnsOptionCode.EDE), b"\x00\x06hello"),
        _option(int(EdnsOptionCode.EDE), b"\x00"),
        _option(int(EdnsOptionCode.KEY_TAG), b"\x4f\x66"),
        _option(int(EdnsOptionCode.CHAIN), b"\x00"),
        _option(65001, b"unknown"),
        _option(cookie, b"c" * 8, length=200),  # longer than what follows
        _option(cookie, b"c" * 8) + _option(cookie, b"d" * 8),  # two cookies
    ]
    variants: list[tuple[int, int, int, bytes] | None] = [None]
    for data in options:
        variants.append((1232, 0, 0, data))
        variants.append((4096, 0, 0x8000, data))  # DO
    for payload in (0, 511, 512, 65535):
        variants.append((payload, 0, 0, b""))
    for version in (1, 255):
        variants.append((1232, version, 0, b""))
    variants.append((1232, 0, 0x7FFF, b""))  # every Z bit of the OPT TTL
    variants.append((-1, 0, 0, b""))  # marker: two OPT records
    return tuple(variants)


EDNS_VARIANTS = _edns_variants()
COMBINATIONS = len(TYPES) * len(FLAG_SETS) * len(EDNS_VARIANTS)


def _random_name(rng: random.Random) -> bytes:
    """A name in wire form, sometimes odd: binary labels, 63-octet labels, 255 octets."""
    pick = rng.random()
    if pick < 0.45:
        text = rng.choice(NAMES)
        if rng.random() < 0.3:
            text = "".join(c.upper() if rng.random() < 0.5 else c for c in text)
        if rng.random() < 0.3:
            text = f"r{rng.randrange(10**6)}." + text
        labels = [label.encode() for label in text.split(".")]
    elif pick < 0.55:
        labels = []
    elif pick < 0.8:
        alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789-_*"
        labels = [
            bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
            for _ in range(rng.randint(1, 6))
        ]
    elif pick < 0.9:
        labels = [rng.randbytes(rng.randint(1, 63)) for _ in range(rng.randint(1, 4))]
    else:
        # As long as a name may be (255 octets), or one octet longer.
        size = rng.choice((63, 62))
        labels = [b"x" * size] * 3 + [b"y" * (253 - 3 * (size + 1) - rng.randint(0, 1))]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


def _query(rng: random.Random, index: int) -> tuple[bytes, tuple[int, int, int]]:
    """A well-formed query (as far as the wire goes); the (type, flags, EDNS) indices
    cycle through every combination in turn."""
    t = index % len(TYPES)
    f = (index // len(TYPES)) % len(FLAG_SETS)
    e = (index // (len(TYPES) * len(FLAG_SETS))) % len(EDNS_VARIANTS)
    flags = FLAG_SETS[f]
    if rng.random() < 0.05:
        flags |= 0x8000  # QR
    if rng.random() < 0.1:
        flags |= 0x0080  # RA
    if rng.random() < 0.05:
        flags |= 0x0040  # Z
    if rng.random() < 0.05:
        flags |= rng.randrange(16) << 11  # an opcode other than QUERY
    if rng.random() < 0.02:
        flags |= rng.randrange(16)  # an rcode in a query
    qclass = rng.choice(CLASSES)
    questions = [_random_name(rng) + struct.pack("!HH", TYPES[t], qclass)]
    if rng.random() < 0.03:
        questions = [] if rng.random() < 0.5 else questions * 2
    additional = b""
    arcount = 0
    edns = EDNS_VARIANTS[e]
    if edns is not None:
        payload, version, edns_flags, options = edns
        count = 1
        if payload < 0:
            payload, count = 1232, 2
        ttl = (version << 16) | edns_flags
        record = b"\x00" + struct.pack("!HHIH", 41, payload, ttl, len(options)) + options
        additional = record * count
        arcount = count
    header = _HEADER.pack(rng.randrange(65536), flags, len(questions), 0, 0, arcount)
    return header + b"".join(questions) + additional, (t, f, e)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(7)
        position = rng.randrange(len(out) + 1)
        if op == 0 and out:  # overwrite a byte
            out[min(position, len(out) - 1)] = rng.randrange(256)
        elif op == 1:  # insert
            out[position:position] = rng.randbytes(rng.randint(1, 16))
        elif op == 2 and out:  # delete a range
            del out[position : position + rng.randint(1, 16)]
        elif op == 3 and out:  # duplicate a range
            end = min(len(out), position + rng.randint(1, 32))
            out[end:end] = out[position:end]
        elif op == 4 and len(out) >= 12:  # a count field, to anything
            field = rng.randrange(4)
            out[4 + 2 * field : 6 + 2 * field] = struct.pack(
                "!H", rng.choice((0, 1, 2, 255, 65535, rng.randrange(65536)))
            )
        elif op == 5 and out:  # a special byte: a pointer or length octet
            out[min(position, len(out) - 1)] = rng.choice((0xC0, 0xFF, 0x3F, 0x40, 0x00))
        elif op == 6 and len(out) > 12:  # two bytes swapped
            i, j = rng.randrange(len(out)), rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
    return bytes(out)


def _bitflip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        bit = rng.randrange(len(out) * 8)
        out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _pointers(rng: random.Random) -> bytes:
    """Compression pointers that loop, point forward, past the end or into the header."""
    qd = rng.choice(
        (
            b"\xc0\x0c",  # to itself
            b"\x03www\xc0\x0c",  # to its own start
            b"\xc0\x0e\xc0\x0c",  # two pointing at each other
            b"\xc0\x02",  # into the header
            b"\xc0\xff",  # past the end
            b"\xff\xff",  # a pointer past 16 KB
            b"\x03www\xc0\x12\x00",  # forward
            b"\x40abc\x00",  # label type 01 (extended)
            b"\x80abc\x00",  # label type 10
        )
    )
    flags = rng.choice((0x0100, 0x8180, 0x8400))
    ancount = rng.choice((0, 1))
    body = qd + b"\x00\x01\x00\x01"
    if ancount:
        body += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x01"
        if rng.random() < 0.5:
            body += (
                b"\xc0"
                + bytes([rng.randrange(256)])
                + b"\x00\x05\x00\x01\x00\x00\x00\x01\x00\x02\xc0\x0c"
            )
    return _HEADER.pack(rng.randrange(65536), flags, 1, ancount, 0, 0) + body


def _random(rng: random.Random) -> bytes:
    data = rng.randbytes(rng.choice((0, 1, 2, 11, 12, 13, rng.randint(0, 600))))
    if len(data) >= 12 and rng.random() < 0.3:
        # A plausible header in front of the noise.
        data = _HEADER.pack(rng.randrange(65536), 0x0100, 1, 0, 0, rng.choice((0, 1))) + data[12:]
    return data


KINDS = ("query", "mutated", "bitflip", "truncated", "random", "pointers")
_WEIGHTS = (40, 20, 15, 10, 10, 5)


def packets(seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """An endless stream of (kind, packet): see the module docstring. The same seed
    gives the same stream."""
    rng = random.Random(seed)
    golden = [load_golden(name) for name in GOLDEN_NAMES]
    recent: list[bytes] = []
    index = 0
    while True:
        kind = rng.choices(KINDS, _WEIGHTS)[0]
        if kind == "query":
            packet, _ = _query(rng, index)
            index += 1
            if len(recent) < 64:
                recent.append(packet)
            else:
                recent[rng.randrange(64)] = packet
            yield kind, packet
            continue
        base = rng.choice(golden) if rng.random() < 0.5 or not recent else rng.choice(recent)
        if kind == "mutated":
            yield kind, _mutate(rng, base)
        elif kind == "bitflip":
            yield kind, _bitflip(rng, base)
        elif kind == "truncated":
            yield kind, base[: rng.randrange(len(base) + 1)]
        elif kind == "random":
            yield kind, _random(rng)
        else:
            yield kind, _pointers(rng)


# -- the run -----------------------------------------------------------------------


@attrs.define
class Report:
    packets: int = 0
    seconds: float = 0.0
    crashes: int = 0
    # The first few crashes: where, the packet's kind, its hex, the error.
    examples: list[str] = attrs.Factory(list)
    kinds: Counter[str] = attrs.Factory(Counter)
    rcodes: Counter[str] = attrs.Factory(Counter)  # the front door: replies by rcode, or else
    parser: Counter[str] = attrs.Factory(Counter)  # parsed/malformed, and classifier outcomes
    combinations: set[tuple[int, int, int]] = attrs.Factory(set)

    def crash(self, where: str, kind: str, packet: bytes, error: str) -> None:
        self.crashes += 1
        if len(self.examples) < 20:
            self.examples.append(f"{where} [{kind}] {packet.hex()}: {error}")

    def text(self) -> str:
        def mix(counter: Counter[str]) -> str:
            total = sum(counter.values()) or 1
            return ", ".join(
                f"{name} {count} ({100 * count / total:.1f}%)"
                for name, count in counter.most_common()
            )

        lines = [
            f"packets: {self.packets}",
            f"crashes: {self.crashes}",
            f"seconds: {self.seconds:.1f}",
            f"kinds: {mix(self.kinds)}",
            f"front door: {mix(self.rcodes)}",
            f"parser: {mix(self.parser)}",
            f"type x flags x EDNS combinations of well-formed queries: "
            f"{len(self.combinations)} of {COMBINATIONS}",
        ]
        lines += [f"  crash: {example}" for example in self.examples]
        return "\n".join(lines)


def fuzz(count: int, seed: int = 0, resolve_every: int = 64) -> Report:
    """Send `count` packets of `packets(seed)` through the front door and the parser."""
    report = Report()
    started = time.perf_counter()
    trio.run(_run, count, seed, resolve_every, report, clock=MockClock(autojump_threshold=0))
    report.seconds = time.perf_counter() - started
    return report


def _check_reply(report: Report, kind: str, query: bytes, wire: bytes, tcp: bool) -> str:
    """The rcode name of a reply of ours, after checking it as a client would."""
    try:
        reply = Message.from_wire(wire)
    except Exception as exc:
        report.crash("reply does not parse", kind, query, repr(exc))
        return "unparseable"
    if wire[:2] != query[:2]:
        report.crash("reply has another ID", kind, query, wire[:2].hex())
    if len(wire) > (65535 if tcp else 1232):
        report.crash("reply too long", kind, query, str(len(wire)))
    _parse(report, kind, wire)
    return reply.rcode.name


async def _run(count: int, seed: int, resolve_every: int, report: Report) -> None:
    sandbox = build_sandbox(seed=seed)
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
    server = Server(resolver, ServerSettings(query_log=True))
    stats = server.stats
    pending_seen = 0
    index = 0
    for kind, packet in islice(packets(seed), count):
        report.packets += 1
        report.kinds[kind] += 1
        if kind == "query":
            report.combinations.add(_combination(index))
            index += 1
        tcp = bool(report.packets & 1)
        client = "192.0.2.99" if report.packets % 16 == 0 else "127.0.0.1"
        bugs = stats.internal_errors
        try:
            result = server._handle_logged(packet, client, tcp)
        except Exception:
            report.crash("front door", kind, packet, traceback.format_exc(limit=-3))
            result = None
        if result is None:
            report.rcodes["dropped"] += 1
        elif isinstance(result, bytes):
            report.rcodes[_check_reply(report, kind, packet, result, tcp)] += 1
        else:
            assert isinstance(result, _Pending)
            report.rcodes["to the resolver"] += 1
            pending_seen += 1
            if pending_seen % resolve_every == 0:
                try:
                    wire = await server._resolve(result)
                except Exception:
                    report.crash("resolving", kind, packet, traceback.format_exc(limit=-3))
                else:
                    name = _check_reply(report, kind, packet, wire, tcp)
                    report.rcodes[f"resolved {name}"] += 1
                if pending_seen % (resolve_every * 64) == 0:
                    sandbox.network.clear_log()  # the fake network keeps every exchange
        if stats.internal_errors != bugs:
            report.crash("caught by the error boundary", kind, packet, "see the server log")
        _parse(report, kind, packet)


def _combination(index: int) -> tuple[int, int, int]:
    return (
        index % len(TYPES),
        (index // len(TYPES)) % len(FLAG_SETS),
        (index // (len(TYPES) * len(FLAG_SETS))) % len(EDNS_VARIANTS),
    )


def _parse(report: Report, kind: str, packet: bytes) -> None:
    try:
        message = Message.from_wire(packet)
    except MalformedMessage:
        report.parser["malformed"] += 1
        return
    except Exception:
        report.crash("Message.from_wire", kind, packet, traceback.format_exc(limit=-3))
        return
    report.parser["parsed"] += 1
    if message.question:
        qname, qtype = message.question[0].name, message.question[0].rtype
    else:
        qname, qtype = ROOT, RRType.A
    # A zone among the name's ancestors, from the root to the name itself.
    depth = (packet[0] if packet else 0) % (len(qname) + 1)
    zone = qname.ancestor(depth)
    authoritative = not packet or packet[1] & 1 == 0
    try:
        outcome = classify_reply(message, qname, qtype, zone, authoritative=authoritative)
    except Exception:
        report.crash("classify_reply", kind, packet, traceback.format_exc(limit=-3))
        return
    report.parser[f"classified {outcome.outcome.value}"] += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolve-every", type=int, default=64, metavar="N")
    args = parser.parse_args()
    report = fuzz(args.packets, args.seed, args.resolve_every)
    print(report.text())
    return 1 if report.crashes else 0


if __name__ == "__main__":
    sys.exit(main())

"""Build it yourself, the attack chapter: poison chapter 5's resolver, then stop it.

    python attacks.py            every attack against every stage of defence, as a table
    python attacks.py --trace    the same, with what the resolver did in each run
    python attacks.py --seed 7   other random choices (the table does not change)

Chapter 5's resolver (`ch5_recursive.py`, beside this file) has four defences
against a forged answer, each in a function of its own: random query IDs
(`new_query_id`), a random source port per query (`open_udp_socket`), strict
matching of a reply to its query (the source check in `query_udp`, and
`reply_problem`), and the bailiwick rule (`in_bailiwick`). This program takes
them out, to get the resolver a first draft would be, and puts them back one at
a time, adding a fifth, 0x20 case randomisation, at the end. At each stage it
runs four attacks, and a victim then asks for `www.example.com`: the real
address is 198.51.100.80, the attacker's 203.0.113.66.

1. Guess the ID and port: a blind forger learns the resolver's port and its
   last ID by making it ask the attacker's own nameserver, then races forged
   referrals for a name it makes the resolver look up (Kaminsky, 2008).
2. See the query, but cannot spoof: an attacker on the path who reads the
   query, but whose network drops packets with forged source addresses, answers
   from its own address.
3. Out-of-bailiwick glue: the attacker's own zone delegates to a nameserver
   named `www.example.com`, and "helpfully" adds its address.
4. Know the port, win the ID: the port has leaked (the SAD DNS side channel of
   chapter 2) and one forgery of a flood has the right ID; it spells the name
   in lowercase, since it never saw the query.

Everything runs in one process, on a simulated network of Trio sockets
(`Internet`, installed with Trio's `set_custom_socket_factory`, so chapter 5's
code runs unchanged) and in Trio's virtual time. The authoritative servers are
those of trio-dns's sandbox (`trio_dns.testing.build_sandbox`, with the same
latency, and the same dead server), plus the attacker's. The resolver's random
numbers come from a generator seeded with `--seed`, so that every run is the
same; in real life they come from `secrets`, and nobody knows the seed.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import random
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import attrs
import trio
import trio.testing

from trio_dns import Flag, Message, Name, Record, RRClass, RRType, rdata_from_text, read_zone
from trio_dns.testing import AuthoritativeServer, Behaviour, Zone, build_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ch5_recursive as ch5  # beside this file, not installed

RESOLVER = "192.0.2.53"  # the resolver's own address on the simulated network
RESOLVER_V6 = "2001:db8::53"
ATTACKER = "203.0.113.66"  # the attacker's machine, which also serves its zone
REAL = "198.51.100.80"  # www.example.com, really
VICTIM_NAME = "www.example.com."
EXAMPLE_SERVER = ("198.51.100.10", 53)  # ns1.example.com, the live server of example.com
FIXED_PORT = 20053  # the naive resolver's one source port
FIRST_ID = 0x1000  # and where its counter of IDs starts
LEAD = 0.001  # seconds after the query that a forgery arrives; real replies take 0.020

EVIL_ZONE = """
$ORIGIN evil.
$TTL 3600
@     SOA ns hostmaster 1 7200 900 1209600 300
@     NS  ns
ns    A   203.0.113.66
probe A   203.0.113.66
"""
# Added to the sandbox's root zone: anyone can register a domain.
EVIL_DELEGATION = "evil. 172800 NS ns.evil.\nns.evil. 172800 A 203.0.113.66"


# -- The simulated network ------------------------------------------------------------


@dataclass
class Datagram:
    time: float
    source: tuple[str, int]
    destination: tuple[str, int]
    data: bytes
    forged: bool = False


Tap = Callable[["Internet", Datagram], None]
Address = tuple[str, int]


class FakeUDPSocket:
    """Just enough of a Trio UDP socket for chapter 5: bind, sendto, recvfrom, close."""

    def __init__(self, network: Internet, family: socket.AddressFamily) -> None:
        self.network = network
        self.family = family
        self.type = socket.SOCK_DGRAM
        self.local: tuple[str, int] | None = None
        self._send, self._receive = trio.open_memory_channel[tuple[bytes, tuple[str, int]]](
            1_000_000
        )

    async def bind(self, address: tuple[str, int]) -> None:
        await trio.lowlevel.checkpoint()
        host = RESOLVER_V6 if self.family == socket.AF_INET6 else RESOLVER
        port = address[1] or self.network.rng.randrange(1024, 65536)
        if (host, port) in self.network.sockets:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        self.local = (host, port)
        self.network.sockets[self.local] = self

    async def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        await trio.lowlevel.checkpoint()
        if self.local is None:
            await self.bind(("", 0))
        assert self.local is not None
        self.network.send(Datagram(trio.current_time(), self.local, address, bytes(data)))
        return len(data)

    async def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        data, source = await self._receive.receive()
        return data[:size], source

    def deliver(self, data: bytes, source: tuple[str, int]) -> None:
        self._send.send_nowait((data, source))

    def close(self) -> None:
        if self.local is not None and self.network.sockets.get(self.local) is self:
            del self.network.sockets[self.local]
        self.local = None

    def __enter__(self) -> FakeUDPSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Internet(trio.abc.SocketFactory):
    """The sandbox's servers and the attacker's, and the resolver's sockets.

    Every datagram sent is logged, shown to the taps (attackers watching the
    wire), and then delivered: to a server, which answers as trio-dns's fake
    network would (its latency, its behaviour), or to a resolver socket bound to
    the destination port, or to nobody."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sockets: dict[tuple[str, int], FakeUDPSocket] = {}
        self.log: list[Datagram] = []
        self.taps: list[Tap] = []
        self.nursery: trio.Nursery | None = None
        self.forgeries_received = 0  # forged datagrams that found a socket listening
        # Datagrams on their way, by the moment they arrive. All that arrive at one
        # moment are delivered together, in the order sent, as into a socket's
        # receive buffer, before the resolver reads the first.
        self._arriving: dict[float, list[tuple[bytes, Address, Address, bool]]] = {}
        sandbox = build_sandbox(seed=seed)
        self.root_hints = ch5.read_records("\n".join(str(r) for r in sandbox.root_hints))
        extra = tuple(read_zone(EVIL_DELEGATION, origin=".", default_ttl=172800))
        self.servers: dict[tuple[str, int], AuthoritativeServer] = {}
        for server in sandbox.network.servers:
            server.zones = tuple(
                Zone(zone.origin, zone.records + extra)
                if zone.origin == Name.from_text(".")
                else zone
                for zone in server.zones
            )
            for address in server.addresses:
                self.servers[address] = server
        evil = AuthoritativeServer.make([ATTACKER], [EVIL_ZONE], name="ns.evil")
        evil.set_behaviour(Behaviour(handler=_attackers_nameserver(evil)))
        self.servers[evil.addresses[0]] = evil

    def socket(
        self,
        family: socket.AddressFamily | int = socket.AF_INET,
        type: socket.SocketKind | int = socket.SOCK_DGRAM,
        proto: int = 0,
    ) -> trio.socket.SocketType:
        if type != socket.SOCK_DGRAM:
            raise OSError(errno.ECONNREFUSED, "this network carries UDP only")
        # Duck-typed: it has the few methods chapter 5 calls.
        return cast(trio.socket.SocketType, FakeUDPSocket(self, socket.AddressFamily(family)))

    def send(self, datagram: Datagram, delay: float = 0.0) -> None:
        """Put a datagram on the wire; it arrives after `delay` seconds."""
        self.log.append(datagram)
        for tap in list(self.taps):
            tap(self, datagram)
        server = self.servers.get(datagram.destination)
        if server is not None and not datagram.forged:
            response = server.respond(
                datagram.data, address=datagram.destination, tcp=False, rng=self.rng
            )
            for packet in response.packets:
                self._later(packet.delay, packet.data, packet.source, datagram.source)
            return
        self._later(delay, datagram.data, datagram.source, datagram.destination, datagram.forged)

    def forge(self, data: bytes, source: tuple[str, int], destination: tuple[str, int]) -> None:
        """An attacker's datagram, with whatever source address it chose to write."""
        datagram = Datagram(trio.current_time(), source, destination, data, forged=True)
        self.send(datagram, LEAD)

    def _later(
        self, delay: float, data: bytes, source: Address, destination: Address, forged: bool = False
    ) -> None:
        when = trio.current_time() + delay
        batch = self._arriving.get(when)
        if batch is not None:
            batch.append((data, source, destination, forged))
            return
        self._arriving[when] = [(data, source, destination, forged)]

        # One task per moment, not per datagram: Trio runs tasks that wake at the
        # same moment in a random order, on purpose, and this must repeat exactly.
        async def arrive() -> None:
            await trio.sleep_until(when)
            for data, source, destination, forged in self._arriving.pop(when):
                sock = self.sockets.get(destination)
                if sock is not None:
                    self.forgeries_received += forged
                    sock.deliver(data, source)

        assert self.nursery is not None
        self.nursery.start_soon(arrive)

    def queries_to(self, address: tuple[str, int]) -> list[Datagram]:
        return [d for d in self.log if d.destination == address and not d.forged]

    @property
    def forgeries(self) -> list[Datagram]:
        return [d for d in self.log if d.forged]


def _attackers_nameserver(server: AuthoritativeServer) -> Callable[[Message], Message]:
    """The attacker's server answers its own zone, delegates `sub.evil` to a
    nameserver with a name in someone else's zone (attack 3), and says that any
    other name it is asked about lives at its own address."""

    def answer(query: Message) -> Message:
        question = query.question[0]
        if question.name.is_subdomain(Name.from_text("sub.evil")):
            return attrs.evolve(
                query.make_response(),
                authority=(_record("sub.evil.", "NS", VICTIM_NAME),),
                additional=(_record(VICTIM_NAME, "A", ATTACKER),),
            )
        if question.name.is_subdomain(Name.from_text("evil")):
            return server.answer(query)
        reply = query.make_response(flags=Flag.AA)
        return attrs.evolve(reply, answer=(_record(str(question.name), "A", ATTACKER),))

    return answer


def _record(name: str, rtype: str, data: str, ttl: int = 86400) -> Record:
    return Record(
        Name.from_text(name), RRType[rtype], RRClass.IN, ttl, rdata_from_text(rtype, data)
    )


def _peek(data: bytes) -> tuple[int, str]:
    """A query's ID and question name, as anyone who sees the datagram can read them."""
    message = Message.from_wire(data)
    return message.id, str(message.question[0].name)


# -- The defences, out and in -----------------------------------------------------------


@dataclass(frozen=True)
class Defences:
    random_id_and_port: bool = False
    strict_matching: bool = False
    bailiwick: bool = False
    case_randomisation: bool = False

    def __str__(self) -> str:
        names = [
            name
            for name, on in (
                ("random ID and port", self.random_id_and_port),
                ("strict matching", self.strict_matching),
                ("bailiwick rule", self.bailiwick),
                ("0x20", self.case_randomisation),
            )
            if on
        ]
        return ", ".join(names) or "no defences"


NAIVE = Defences()
# Each stage adds one defence to the one before; the names head the table's columns.
STAGES = (
    ("none", NAIVE),
    ("+ID/port", Defences(random_id_and_port=True)),
    ("+strict", Defences(random_id_and_port=True, strict_matching=True)),
    ("+bailiwick", Defences(True, True, True)),
    ("+0x20", Defences(True, True, True, True)),
)
ALL = STAGES[-1][1]

# Chapter 5's own functions, to put back.
_PATCHED = ("new_query_id", "open_udp_socket", "query_udp", "reply_problem", "in_bailiwick")
_ORIGINAL: dict[str, Any] = {
    name: getattr(ch5, name) for name in (*_PATCHED, "query", "secrets", "trace")
}


class _SeededSecrets:
    """`secrets.randbelow`, from a seeded generator: the same run every time."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)


def _counter_ids() -> Callable[[], int]:
    next_id = FIRST_ID

    def new_query_id() -> int:
        # One more than the last: BIND 4 did this, and anyone could predict it.
        nonlocal next_id
        next_id = (next_id + 1) & 0xFFFF
        return next_id

    return new_query_id


async def fixed_port_socket(family: socket.AddressFamily) -> trio.socket.SocketType:
    """Every query from one port, as resolvers did until 2008."""
    sock = trio.socket.socket(family, socket.SOCK_DGRAM)
    host = "::" if family == socket.AF_INET6 else "0.0.0.0"
    await sock.bind((host, FIXED_PORT))
    return sock


def id_only_problem(reply: ch5.Message, query_id: int, question: ch5.Question) -> str | None:
    """The first draft's idea of a matching reply: the right ID."""
    if reply.header.id != query_id:
        return f"wrong ID {reply.header.id} (expected {query_id})"
    return None


async def loose_query_udp(
    server: tuple[str, int], question: ch5.Question, recursion_desired: bool = True
) -> ch5.Message:
    """Chapter 5's query_udp without its source check: any sender will do."""
    query_id = ch5.new_query_id()
    data = ch5.build_query(query_id, question, recursion_desired)
    host, port = server
    with await ch5.open_udp_socket(ch5.family_of(host)) as sock:
        await sock.sendto(data, (host, port))
        with trio.move_on_after(ch5.QUERY_TIMEOUT):
            while True:
                packet, source = await sock.recvfrom(65535)
                try:
                    reply = ch5.parse_message(packet)
                except ch5.ParseError as exc:
                    ch5.trace(f"ignored a malformed reply from {source[0]}: {exc}")
                    continue
                problem = ch5.reply_problem(reply, query_id, question)
                if problem is not None:
                    ch5.trace(f"ignored a reply from {source[0]}: {problem}")
                    continue
                return reply
    raise ch5.NoReply(f"no reply from {host}#{port} within {ch5.QUERY_TIMEOUT} seconds")


def _with_random_case(rng: random.Random) -> Callable[..., Awaitable[ch5.Message]]:
    query: Callable[..., Awaitable[ch5.Message]] = _ORIGINAL["query"]

    async def query_0x20(
        server: tuple[str, int], name: str, rtype: int, recursion_desired: bool = True
    ) -> ch5.Message:
        """Ask with the name's letters in random case: the reply must repeat them."""
        mixed = "".join(c.upper() if c.isalpha() and rng.random() < 0.5 else c for c in name)
        return await query(server, mixed, rtype, recursion_desired)

    return query_0x20


def exact_problem(reply: ch5.Message, query_id: int, question: ch5.Question) -> str | None:
    """Strict matching, and the question spelled exactly as we asked it (0x20)."""
    problem: str | None = _ORIGINAL["reply_problem"](reply, query_id, question)
    if problem is None and reply.questions[0].name != question.name:
        return f"question spelled {reply.questions[0].name}, we asked {question.name}"
    return problem


@contextlib.contextmanager
def installed(defences: Defences, rng: random.Random, log: list[str]) -> Iterator[None]:
    """Chapter 5's resolver with these defences, an empty cache, and its trace in `log`."""
    ch5.CACHE.clear()
    ch5.secrets = _SeededSecrets(rng)  # type: ignore[attr-defined,assignment]
    ch5.trace = log.append  # type: ignore[assignment]
    if not defences.random_id_and_port:
        ch5.new_query_id = _counter_ids()
        ch5.open_udp_socket = fixed_port_socket
    if not defences.strict_matching:
        ch5.query_udp = loose_query_udp
        ch5.reply_problem = id_only_problem
    if not defences.bailiwick:
        ch5.in_bailiwick = lambda record, zone: True
    if defences.case_randomisation:
        ch5.query = _with_random_case(rng)  # type: ignore[assignment]
        ch5.reply_problem = exact_problem
    try:
        yield
    finally:
        for name, value in _ORIGINAL.items():
            setattr(ch5, name, value)
        ch5.CACHE.clear()


# -- The attacks ------------------------------------------------------------------------

Attack = Callable[[Internet], Awaitable[None]]


async def ask(network: Internet, name: str) -> ch5.Answer:
    """What a client of the resolver does (the attacker is one too)."""
    return await ch5.resolve(name, ch5.TYPE_A, network.root_hints)


async def guess_id_and_port(network: Internet) -> None:
    """1. A blind forger: it sees nothing, but the resolver talks to it too."""
    # Make the resolver ask our nameserver something, and note its port and ID.
    await ask(network, "probe.evil.")
    probe = network.queries_to((ATTACKER, 53))[-1]
    last_id, _ = _peek(probe.data)
    port = probe.source[1]

    def burst(network: Internet, datagram: Datagram) -> None:
        # We know *when*: we asked the question a moment ago. For each of the next
        # few IDs, a referral for the name we made up, from example.com's server,
        # that hands its own nameserver's name a new address: ours.
        if datagram.destination != EXAMPLE_SERVER or datagram.forged:
            return
        network.taps.remove(burst)
        for guess in range(1, 11):
            query = Message.make_query(
                "x1.example.com", "A", id=(last_id + guess) & 0xFFFF, flags=Flag(0), edns=None
            )
            reply = attrs.evolve(
                query.make_response(),
                authority=(_record("x1.example.com.", "NS", "ns1.example.com."),),
                additional=(_record("ns1.example.com.", "A", ATTACKER),),
            )
            network.forge(reply.to_wire(), EXAMPLE_SERVER, (datagram.source[0], port))

    network.taps.append(burst)
    await ask(network, "x1.example.com.")  # a name nobody has asked for: not cached


async def see_the_query(network: Internet) -> None:
    """2. On the path: it reads the query, but its packets leave with its own address.
    It waits for the victim's own question."""

    def answer_first(network: Internet, datagram: Datagram) -> None:
        if datagram.destination != EXAMPLE_SERVER or datagram.forged:
            return
        query = Message.from_wire(datagram.data)  # everything: ID, port, question
        reply = query.make_response(flags=Flag.AA)
        record = _record(str(query.question[0].name), "A", ATTACKER)
        reply = attrs.evolve(reply, answer=(record,))
        network.forge(reply.to_wire(), (ATTACKER, 53), datagram.source)

    network.taps.append(answer_first)
    await trio.lowlevel.checkpoint()


async def out_of_bailiwick_glue(network: Internet) -> None:
    """3. No forgery at all: the attacker's own nameserver says too much."""
    await ask(network, "www.sub.evil.")


async def know_the_port_win_the_id(network: Internet) -> None:
    """4. The port has leaked, and one forgery in 65,536 has the right ID: this one.
    It too waits for the victim's question."""

    def lucky(network: Internet, datagram: Datagram) -> None:
        if datagram.destination != EXAMPLE_SERVER or datagram.forged:
            return
        query_id, _ = _peek(datagram.data)  # the flood's one right guess
        query = Message.make_query(VICTIM_NAME, "A", id=query_id, flags=Flag(0), edns=None)
        reply = attrs.evolve(
            query.make_response(flags=Flag.AA), answer=(_record(VICTIM_NAME, "A", ATTACKER),)
        )
        network.forge(reply.to_wire(), EXAMPLE_SERVER, datagram.source)

    network.taps.append(lucky)
    await trio.lowlevel.checkpoint()


ATTACKS: tuple[tuple[str, Attack], ...] = (
    ("1. guess the ID and port", guess_id_and_port),
    ("2. see the query, cannot spoof", see_the_query),
    ("3. out-of-bailiwick glue", out_of_bailiwick_glue),
    ("4. know the port, win the ID", know_the_port_win_the_id),
)


# -- Running them ----------------------------------------------------------------------


@dataclass
class Result:
    attack: str
    defences: Defences
    addresses: list[str]  # what the victim got for www.example.com
    forgeries: int  # datagrams the attacker sent
    reached: int  # of those, how many arrived at a socket of the resolver's
    trace: list[str] = field(default_factory=list)
    cache: dict[str, list[str]] = field(default_factory=dict)  # what it held, after

    @property
    def poisoned(self) -> bool:
        return ATTACKER in self.addresses

    def ignored(self) -> list[str]:
        return [line for line in self.trace if line.startswith("ignored")]

    def __str__(self) -> str:
        verdict = "POISONED" if self.poisoned else "safe"
        return (
            f"{self.attack} against {self.defences}: {self.forgeries} forged, "
            f"{self.reached} reached the resolver, {len(self.ignored())} ignored; "
            f"www.example.com is {', '.join(self.addresses) or 'unknown'}: {verdict}"
        )


def run_attack(attack: Attack, defences: Defences, seed: int = 1) -> Result:
    """Attack a fresh resolver with these defences, then let the victim ask."""
    network = Internet(seed)
    trace: list[str] = []
    name = next((name for name, a in ATTACKS if a is attack), attack.__name__)

    async def main() -> list[str]:
        trio.socket.set_custom_socket_factory(network)
        async with trio.open_nursery() as nursery:
            network.nursery = nursery
            await attack(network)
            answer = await ask(network, VICTIM_NAME)
            nursery.cancel_scope.cancel()
        return [str(r.data) for r in answer.records if r.rtype == ch5.TYPE_A]

    with installed(defences, random.Random(seed), trace):
        addresses = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
        cache = {
            f"{owner} {ch5.type_name(rtype)}": [str(r.data) for r in records]
            for (owner, rtype), (_, records) in ch5.CACHE.items()
        }
    return Result(
        name,
        defences,
        addresses,
        len(network.forgeries),
        network.forgeries_received,
        trace,
        cache,
    )


def table(seed: int = 1, trace: bool = False) -> list[list[Result]]:
    rows = []
    for _, attack in ATTACKS:
        row = []
        for _, defences in STAGES:
            result = run_attack(attack, defences, seed)
            if trace:
                print(f";; {result}")
                for line in result.trace:
                    print(f";;   {line}")
            row.append(result)
        rows.append(row)
    return rows


def table_text(rows: list[list[Result]]) -> str:
    width = max(len(name) for name, _ in ATTACKS)
    lines = [" " * width + "  " + "  ".join(f"{stage:<10}" for stage, _ in STAGES)]
    for (name, _), row in zip(ATTACKS, rows, strict=True):
        cells = "  ".join(f"{'POISONED' if r.poisoned else 'safe':<10}" for r in row)
        lines.append(f"{name:<{width}}  {cells}")
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args(argv)
    print(table_text(table(args.seed, args.trace)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The sandbox on real sockets: every server of `build_sandbox()` on a loopback address.

Theory of operation: `LoopbackSandbox.build()` takes the simulated internet of
`build_sandbox()` and moves each of its servers from its documentation address
to one on loopback, keeping the last two octets: `192.0.2.1` becomes
`127.54.2.1`, `198.51.100.10` becomes `127.54.100.10`. The A and AAAA records
that name a server (glue, and the nameservers' own addresses in their zones) are
rewritten the same way, and so are the root hints, so any resolver that starts
from those hints walks the sandbox's hierarchy without leaving the machine.
The signed zones are signed again after the move (their servers' own addresses
are signed data), with the same keys, so `trust_anchor` is the in-memory
sandbox's and a validator that starts from it validates `www.secure.example`. The
data the zones serve (`www.example.com A 198.51.100.80`) keeps its documentation
addresses: a resolver's answers are the ones the guide shows, and nothing ever
connects to them.

Loopback has one IPv6 address, and a glue record carries no port, so only one
server can live on `::1`: the one that has nothing but IPv6 (`ns1.v6only.net`).
The AAAA addresses of servers that also have IPv4 are dropped, with their
records, rather than left pointing off the machine.

Two additions make the sandbox a place to experiment: servers named in `dead`
stop answering (to meet a dead server where the resolver will notice it), and
each zone of `zones` gets a server of its own at `<prefix>.200.N`, called
`ns.<zone>`, with NS and glue for it added to the closest enclosing zone the
sandbox serves (the zone's own apex NS records are replaced: they would name
servers that are not there).

`serve()` binds UDP and TCP on every address and hands each query, as bytes, to
`AuthoritativeServer.respond`, the same code that answers on the fake network,
so the servers keep their behaviours: the dead one reads queries and says
nothing (its TCP connections are accepted and never answered), the lame one
says REFUSED, and each reply goes out after its simulated latency. One task per
UDP reply and per TCP connection; a query the server cannot answer costs that
query only.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import random
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs
import trio

from .._address import Address, format_address, normalize_address
from .._decisions.authority import Zone
from .._errors import DNSError
from .._wire.enums import RRClass, RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdtypes.address import AAAA, A
from .._wire.rdtypes.single_name import NS
from ._log import Action
from ._sandbox import build_sandbox
from ._sandbox_dnssec import sign, trust_anchor
from ._server import AuthoritativeServer

DEFAULT_PREFIX = "127.54"
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
_TCP_IDLE_TIMEOUT = 30.0  # seconds a TCP connection may sit without a whole query
_TCP_BACKLOG = 64
_MAX_MESSAGE = 65535

logger = logging.getLogger("trio_dns.sandbox")

QueryLog = Callable[[str], None]


def _moved_ipv4(address: str, prefix: str) -> str:
    octets = address.split(".")
    return f"{prefix}.{octets[2]}.{octets[3]}"


def server_names() -> list[str]:
    """The names of the sandbox's servers, as `describe` and `dead` spell them."""
    return [server.name for server in build_sandbox().network.servers]


def ipv6_loopback_available() -> bool:
    """Can this machine bind ::1? (Some containers have no IPv6 at all.)"""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def check_prefix(prefix: str) -> str:
    """`127.54`: the first two octets of every server's loopback address."""
    try:
        network = ipaddress.IPv4Network(f"{prefix}.0.0/16")
    except ValueError:
        raise ValueError(f"invalid prefix {prefix!r} (expected two octets, like 127.54)") from None
    if not network.subnet_of(_LOOPBACK):
        raise ValueError(f"prefix {prefix!r} is not on loopback (127.x)")
    return str(network.network_address).rsplit(".", 2)[0]


def _move_records(records: Iterable[Record], moved: Mapping[str, str | None]) -> list[Record]:
    """Records with every server address replaced by its loopback one (or dropped)."""
    result = []
    for record in records:
        rdata = record.rdata
        if isinstance(rdata, A | AAAA) and rdata.address in moved:
            target = moved[rdata.address]
            if target is None:
                continue
            new = A(target) if ":" not in target else AAAA(target)
            record = attrs.evolve(record, rtype=new.rtype, rdata=new)
        result.append(record)
    return result


@attrs.frozen
class LoopbackSandbox:
    """The servers of the sandbox at loopback addresses, and hints that lead to them."""

    servers: tuple[AuthoritativeServer, ...]
    root_hints: tuple[Record, ...]
    # Each server's documentation address, and where it went (None: dropped).
    moved: Mapping[str, str | None]
    seed: int = 0

    @classmethod
    def build(
        cls,
        *,
        prefix: str = DEFAULT_PREFIX,
        port: int = 53,
        ipv6: str | None = "::1",
        dead: Iterable[str] = (),
        zones: Sequence[Zone] = (),
        seed: int = 0,
    ) -> LoopbackSandbox:
        """The sandbox moved to `prefix`.x.y on `port`; the IPv6-only server on
        `ipv6` (None: it is dropped, and its zone cannot be reached); the servers
        named in `dead` dead, besides the one that always is; and `zones` of
        your own, each on a server of its own, delegated from its parent."""
        prefix = check_prefix(prefix)
        extra = list(zones)
        sandbox = build_sandbox(seed=seed)
        originals = sandbox.network.servers
        dead = set(dead)
        unknown = dead - {server.name for server in originals}
        if unknown:
            names = ", ".join(server.name for server in originals)
            raise ValueError(f"no sandbox server is called {', '.join(sorted(unknown))} ({names})")
        moved: dict[str, str | None] = {}
        for server in originals:
            hosts = [host for host, _ in server.addresses]
            has_ipv4 = any(":" not in host for host in hosts)
            for host in hosts:
                if ":" not in host:
                    moved[host] = _moved_ipv4(host, prefix)
                elif not has_ipv4 and ipv6 is not None and ipv6 not in moved.values():
                    moved[host] = normalize_address(ipv6, port)[0]
                else:
                    moved[host] = None
        targets = [target for target in moved.values() if target is not None]
        if len(set(targets)) != len(targets):
            raise ValueError("two sandbox servers would share a loopback address")
        servers: list[AuthoritativeServer] = []
        for server in originals:
            addresses = tuple(
                (target, port)
                for host, _ in server.addresses
                if (target := moved[host]) is not None
            )
            # Signed zones are signed again: the addresses moved are signed data.
            zones = tuple(
                Zone.from_records(
                    zone.origin, sign(zone.origin, _move_records(zone.records, moved))
                )
                for zone in server.zones
            )
            links = {
                (target, port): behaviour
                for (host, _), behaviour in server.links.items()
                if (target := moved[host]) is not None
            }
            behaviour = server.behaviour
            if server.name in dead:
                behaviour = attrs.evolve(behaviour, dead=True)
            servers.append(
                AuthoritativeServer(
                    addresses=addresses,
                    zones=zones,
                    behaviour=behaviour,
                    links=links,
                    name=server.name,
                )
            )
        for index, zone in enumerate(extra, 1):
            servers = _add_zone(servers, zone, (f"{prefix}.200.{index}", port))
        hints = tuple(_move_records(sandbox.root_hints, moved))
        return cls(tuple(servers), hints, moved, seed)

    @property
    def root_addresses(self) -> list[str]:
        """The root servers' addresses, from the hints."""
        return [r.rdata.to_text() for r in self.root_hints if isinstance(r.rdata, A | AAAA)]

    @property
    def trust_anchor(self) -> tuple[Record, ...]:
        """The DS of the root's key, where validation of the signed zones starts."""
        return trust_anchor()

    def trust_anchor_text(self) -> str:
        """The trust anchor as a zone file, for `--trust-anchor`."""
        lines = ["; Trust anchor for trio-dns sandbox: the DS of its root's key."]
        lines += [record.to_text() for record in self.trust_anchor]
        return "\n".join(lines) + "\n"

    def hints_text(self) -> str:
        """The root hints as a zone file, for `--root-hints`."""
        lines = ["; Root hints for trio-dns sandbox: the simulated internet on loopback."]
        lines += [record.to_text() for record in self.root_hints]
        return "\n".join(lines) + "\n"

    def describe(self) -> list[tuple[str, list[Address], list[Name], str]]:
        """Each server: its name, addresses, zones, and how it misbehaves ("" if not)."""
        return [
            (
                server.name,
                list(server.addresses),
                [zone.origin for zone in server.zones],
                _misbehaviour(server),
            )
            for server in self.servers
        ]

    async def serve(
        self,
        *,
        query_log: QueryLog | None = None,
        task_status: trio.TaskStatus[list[Address]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve every server until cancelled; `started()` with the bound addresses.

        A socket that cannot be bound is a `DNSError` naming the address."""
        bound: list[
            tuple[AuthoritativeServer, Address, trio.socket.SocketType, trio.socket.SocketType]
        ]
        bound = []
        try:
            for server in self.servers:
                for address in server.addresses:
                    udp, tcp = await _bind(address)
                    bound.append((server, address, udp, tcp))
        except BaseException:
            for _, _, udp, tcp in bound:
                udp.close()
                tcp.close()
            raise
        udp_sockets = {address: udp for _, address, udp, _ in bound}
        async with trio.open_nursery() as nursery:
            for server, address, udp, tcp in bound:
                link = _Link(server, address, random.Random(f"{self.seed}:{address[0]}"), query_log)
                nursery.start_soon(link.udp_loop, udp, udp_sockets)
                nursery.start_soon(link.tcp_loop, trio.SocketListener(tcp))
            task_status.started([address for _, address, _, _ in bound])


def _add_zone(
    servers: list[AuthoritativeServer], zone: Zone, address: Address
) -> list[AuthoritativeServer]:
    """`servers` plus one for `zone` at `address`, named ns.<zone>, and the
    delegation to it (NS and glue) in the closest enclosing zone they serve."""
    served = {z.origin for server in servers for z in server.zones}
    if zone.origin in served:
        raise ValueError(f"{zone.origin} is in the sandbox already")
    parent = max(
        (origin for origin in served if zone.origin.is_subdomain(origin)),
        key=lambda origin: len(origin.labels),
    )
    nameserver = Name.from_text(f"ns.{zone.origin}")
    ns = Record(zone.origin, RRType.NS, RRClass.IN, zone.soa.ttl, NS(nameserver))
    glue = Record(nameserver, RRType.A, RRClass.IN, zone.soa.ttl, A(address[0]))
    # Its own NS records would name servers that are not there: ours replace them.
    own = [r for r in zone.records if not (r.rtype == RRType.NS and r.name == zone.origin)]
    child = Zone.from_records(zone.origin, [*own, ns, glue])
    result = []
    for server in servers:
        if any(z.origin == parent for z in server.zones):
            # A signed parent is signed again, for its NSEC chain to cover the new cut.
            zones = tuple(
                Zone.from_records(z.origin, sign(z.origin, [*z.records, ns, glue]))
                if z.origin == parent
                else z
                for z in server.zones
            )
            server = attrs.evolve(server, zones=zones)
        result.append(server)
    name = nameserver.to_text(omit_final_dot=True)
    return [*result, AuthoritativeServer(addresses=(address,), zones=(child,), name=name)]


def _misbehaviour(server: AuthoritativeServer) -> str:
    behaviour = server.behaviour
    if behaviour.dead:
        return "dead: never answers"
    if behaviour.lame is not None:
        return f"lame: {behaviour.lame}"
    return ""


async def _bind(address: Address) -> tuple[trio.socket.SocketType, trio.socket.SocketType]:
    host = address[0]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    udp = trio.socket.socket(family, socket.SOCK_DGRAM)
    tcp = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            for sock in (udp, tcp):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        await udp.bind(address)
        await tcp.bind(address)
        tcp.listen(_TCP_BACKLOG)
    except OSError as exc:
        udp.close()
        tcp.close()
        hint = ""
        if exc.errno == errno.EACCES:
            hint = " (ports below 1024 need privileges: try --port 5353)"
        elif exc.errno == errno.EADDRINUSE:
            hint = " (another sandbox or server is there: try another --prefix or --port)"
        raise DNSError(
            f"cannot listen on {format_address(address)}: {exc.strerror}{hint}"
        ) from None
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


def _client(sockaddr: tuple[object, ...]) -> Address:
    # IPv6 socket addresses are 4-tuples; the flow label and scope mean nothing here.
    assert isinstance(sockaddr[0], str) and isinstance(sockaddr[1], int)
    return normalize_address(sockaddr[0], sockaddr[1])


@attrs.define(eq=False)
class _Link:
    """One address of one server: its sockets' loops."""

    server: AuthoritativeServer
    address: Address
    rng: random.Random
    query_log: QueryLog | None

    def _respond(
        self, data: bytes, client: Address, tcp: bool
    ) -> list[tuple[bytes, float, Address]]:
        try:
            response = self.server.respond(data, address=self.address, tcp=tcp, rng=self.rng)
        except Exception as exc:  # a packet no zone can answer must not end the sandbox
            logger.warning("%s: query from %s not answered: %r", self.server.name, client, exc)
            return []
        if self.query_log is not None:
            query = response.query
            if isinstance(query, bytes) or len(query.question) != 1:
                what = "(unparsed)"
            else:
                what = f"{query.question[0].name} {query.question[0].rtype.name}"
            if response.action == Action.ANSWERED and not isinstance(response.reply, bytes | None):
                outcome = response.reply.rcode.name
            else:
                outcome = str(response.action)
            self.query_log(
                f"{format_address(client)} -> {self.server.name} "
                f"{format_address(self.address)} {'tcp' if tcp else 'udp'} {what}: {outcome}"
            )
        return [(packet.data, packet.delay, packet.source) for packet in response.packets]

    async def udp_loop(
        self, sock: trio.socket.SocketType, sockets: Mapping[Address, trio.socket.SocketType]
    ) -> None:
        with sock:
            async with trio.open_nursery() as replies:
                while True:
                    try:
                        data, sockaddr = await sock.recvfrom(_MAX_MESSAGE)
                    except OSError:
                        continue  # an ICMP error for an earlier reply: nothing to do
                    client = _client(sockaddr)
                    for wire, delay, source in self._respond(data, client, tcp=False):
                        # A reply "from" another address goes out of that server's
                        # socket when the sandbox has one, as a spoofer's would.
                        out = sockets.get(source, sock)
                        replies.start_soon(_send_later, out, wire, delay, sockaddr)

    async def tcp_loop(self, listener: trio.SocketListener) -> None:
        async with listener:
            await trio.serve_listeners(self._connection, [listener])

    async def _connection(self, stream: trio.SocketStream) -> None:
        try:
            client = _client(stream.socket.getpeername())
        except OSError:
            await stream.aclose()
            return
        if not self.server.behaviour_at(self.address).tcp:
            await stream.aclose()
            return
        send_lock = trio.Lock()

        async def reply(wire: bytes, delay: float) -> None:
            await trio.sleep(delay)
            async with send_lock:
                await stream.send_all(len(wire).to_bytes(2, "big") + wire)

        buffer = bytearray()
        try:
            async with stream, trio.open_nursery() as queries:
                while True:
                    with trio.move_on_after(_TCP_IDLE_TIMEOUT) as idle:
                        chunk = await stream.receive_some(_MAX_MESSAGE)
                    if idle.cancelled_caught:
                        queries.cancel_scope.cancel()
                        break
                    if not chunk:
                        break  # the replies still due go out before the stream closes
                    buffer += chunk
                    while len(buffer) >= 2 and len(buffer) >= 2 + int.from_bytes(buffer[:2], "big"):
                        size = int.from_bytes(buffer[:2], "big")
                        data = bytes(buffer[2 : 2 + size])
                        del buffer[: 2 + size]
                        for wire, delay, _ in self._respond(data, client, tcp=True):
                            queries.start_soon(reply, wire, delay)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the client went away: that connection is all it costs


async def _send_later(
    sock: trio.socket.SocketType, data: bytes, delay: float, sockaddr: tuple[object, ...]
) -> None:
    await trio.sleep(delay)
    try:
        await sock.sendto(data, sockaddr)
    except OSError as exc:
        logger.debug("reply to %s not sent: %s", sockaddr, exc)

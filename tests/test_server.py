"""The server on real loopback sockets, resolving through the sandbox internet.

The server's upstream is the in-memory FakeNetwork; its listeners are real
sockets on 127.0.0.1, queried by dnspython (the client under test's eyes) from a
worker thread. Real sockets and an autojumping clock do not mix (the clock would
jump while a thread waits), so these tests run on a MockClock that keeps real
time (`rate=1`) and jump it by hand to age the caches. Sandbox hops take ~20 ms.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from trio.testing import MockClock

from trio_dns._address import Address
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._server.answer_cache import AnswerCache, peek_query_untrusted, ttl_fields
from trio_dns._server.server import Server, ServerSettings
from trio_dns._wire.enums import Rcode, RRType
from trio_dns._wire.message import Message
from trio_dns._wire.name import Name
from trio_dns._wire.rdtypes.address import AAAA, A
from trio_dns.testing import Behaviour, Sandbox, Zone, answer_query, build_sandbox
from trio_dns.testing._sandbox import CDN_ZONE

TIMEOUT = 5.0


@pytest.fixture
def clock() -> MockClock:
    return MockClock(rate=1.0)


@asynccontextmanager
async def running(
    sandbox: Sandbox | None = None, **settings: Any
) -> AsyncIterator[tuple[Server, Address, Sandbox]]:
    sandbox = sandbox or build_sandbox()
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
    server = Server(resolver, ServerSettings(listen=(("127.0.0.1", 0),), **settings))
    async with trio.open_nursery() as nursery:
        (address,) = await nursery.start(server.serve)
        yield server, address, sandbox
        server.shutdown()


def slow_cdn(sandbox: Sandbox, latency: float = 0.4) -> None:
    """Make cdn.net's only server answer after `latency` seconds."""
    network = sandbox.network
    old = network.server_at("198.51.100.40")
    assert old is not None
    network.remove(old)
    network.add_server(["198.51.100.40"], [CDN_ZONE], behaviour=Behaviour(latency=latency))


async def udp(query: dns.message.Message, address: Address) -> dns.message.Message:
    ask = functools.partial(dns.query.udp, query, address[0], port=address[1], timeout=TIMEOUT)
    return await trio.to_thread.run_sync(ask)


async def tcp(query: dns.message.Message, address: Address) -> dns.message.Message:
    ask = functools.partial(dns.query.tcp, query, address[0], port=address[1], timeout=TIMEOUT)
    return await trio.to_thread.run_sync(ask)


def _exchange_raw(packets: list[bytes], address: Address, replies: int) -> list[bytes]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(address)
        for packet in packets:
            sock.send(packet)
        return [sock.recv(65535) for _ in range(replies)]


async def raw_udp(packets: list[bytes], address: Address, replies: int = 1) -> list[bytes]:
    """Send datagrams as they are; return the first `replies` datagrams back."""
    return await trio.to_thread.run_sync(_exchange_raw, packets, address, replies)


def _tcp_raw(packets: list[bytes], address: Address, replies: int) -> list[bytes]:
    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        sock.sendall(b"".join(len(p).to_bytes(2, "big") + p for p in packets))
        out = []
        buffer = b""
        while len(out) < replies:
            chunk = sock.recv(65535)
            assert chunk, "connection closed early"
            buffer += chunk
            while len(buffer) >= 2 and len(buffer) >= 2 + int.from_bytes(buffer[:2], "big"):
                size = int.from_bytes(buffer[:2], "big")
                out.append(buffer[2 : 2 + size])
                buffer = buffer[2 + size :]
        return out


async def started(server: Server) -> None:
    """Until the server has a resolution in flight (it offers no event to wait on)."""
    with trio.fail_after(TIMEOUT):
        while server.in_flight == 0:  # noqa: ASYNC110
            await trio.sleep(0.01)


def query(name: str, rtype: str = "A", **kwargs: Any) -> dns.message.Message:
    kwargs.setdefault("use_edns", 0)  # dnspython's default is no EDNS; most clients send it
    return dns.message.make_query(name, rtype, **kwargs)


def texts(reply: dns.message.Message) -> list[str]:
    return [rdata.to_text() for rrset in reply.answer for rdata in rrset]


# -- recursion and the fast path ----------------------------------------------------


async def test_recursion_then_fast_path_with_id_case_and_ttl_patched(clock: MockClock) -> None:
    async with running() as (server, address, _):
        first = await udp(query("www.example.com"), address)
        assert first.rcode() == dns.rcode.NOERROR
        assert texts(first) == ["198.51.100.80"]
        assert first.flags & dns.flags.RA and first.flags & dns.flags.RD
        assert not first.flags & dns.flags.AA
        assert server.stats.fast_path == 0
        assert server.stats.resolved == 1

        second = query("WwW.ExAmPlE.CoM")
        reply = await udp(second, address)
        assert server.stats.fast_path == 1
        assert server.stats.resolved == 1
        assert reply.id == second.id != first.id
        assert reply.question[0].name.to_text() == "WwW.ExAmPlE.CoM."  # the client's spelling
        assert texts(reply) == ["198.51.100.80"]
        assert reply.answer[0].ttl == 3600

        clock.jump(100)
        aged = await udp(query("www.example.com"), address)
        assert server.stats.fast_path == 2
        assert aged.answer[0].ttl == 3500
        assert texts(aged) == ["198.51.100.80"]


async def test_fast_path_entries_expire_with_the_ttl(clock: MockClock) -> None:
    sandbox = build_sandbox()
    async with running(sandbox) as (server, address, _):
        # The fast path's own expiry: prefetching would end it at the last tenth
        # of the TTL (tests/test_server_stale.py).
        server.resolver.settings = attrs.evolve(server.resolver.settings, prefetch=False)
        await udp(query("www.cdn.net"), address)  # www CNAME edge, TTL 300
        clock.jump(299.5)
        reply = await udp(query("www.cdn.net"), address)
        assert server.stats.fast_path == 1
        assert {rrset.ttl for rrset in reply.answer} == {1}
        clock.jump(1)
        sandbox.network.clear_log()
        reply = await udp(query("www.cdn.net"), address)
        assert server.stats.fast_path == 1  # expired: resolved again
        assert texts(reply) == ["edge.cdn.net.", "198.51.100.41"]
        assert sandbox.network.exchanges


async def test_rd0_answers_from_the_cache_only(clock: MockClock) -> None:
    async with running() as (server, address, sandbox):
        cold = await udp(query("www.example.com", flags=0), address)
        # Like Unbound: nothing cached, so a referral to the closest known cut.
        assert cold.rcode() == dns.rcode.NOERROR
        assert not cold.answer
        assert cold.authority and cold.authority[0].rdtype == dns.rdatatype.NS
        assert cold.authority[0].name.to_text() == "."
        assert not sandbox.network.exchanges  # nothing was asked upstream

        await udp(query("www.example.com"), address)
        warm = await udp(query("www.example.com", flags=0), address)
        assert texts(warm) == ["198.51.100.80"]
        assert not warm.flags & dns.flags.RD
        cut = await udp(query("nothing-cached.example.com", "MX", flags=0), address)
        assert not cut.answer
        assert cut.authority[0].name.to_text() == "example.com."
        assert server.stats.cache_only == 3


async def test_nxdomain_carries_the_soa(clock: MockClock) -> None:
    async with running() as (server, address, _):
        for _ in range(2):
            reply = await udp(query("nope.example.com"), address)
            assert reply.rcode() == dns.rcode.NXDOMAIN
            assert not reply.answer
            (soa,) = reply.authority
            assert soa.rdtype == dns.rdatatype.SOA
            assert soa.name.to_text() == "example.com."
            assert soa.ttl == 300
        assert server.stats.fast_path == 1


async def test_a_fresh_negative_answer_passes_the_servers_soa_and_ns_on(clock: MockClock) -> None:
    # example.com's servers add the zone's NS set to their NXDOMAIN replies. A
    # fresh answer passes the authority on as it came, and the fast path replays
    # that reply aged; made from the resolver's cache, it is the SOA alone, with
    # the negative TTL counting down.
    sandbox = build_sandbox()
    origin = Name.from_text("example.com")
    for authority in sandbox.network.servers:
        zone = next((z for z in authority.zones if z.origin == origin), None)
        if zone is None:
            continue

        def with_ns(query: Message, zone: Zone = zone) -> Message:
            response = answer_query((zone,), query)
            if response.rcode != Rcode.NXDOMAIN:
                return response
            ns = tuple(r for r in zone.records if r.rtype == RRType.NS and r.name == origin)
            return attrs.evolve(response, authority=(*response.authority, *ns))

        authority.set_behaviour(attrs.evolve(authority.behaviour, handler=with_ns))
    async with running(sandbox) as (server, address, _):
        fresh = await udp(query("nope.example.com"), address)
        assert fresh.rcode() == dns.rcode.NXDOMAIN
        assert [r.rdtype for r in fresh.authority] == [dns.rdatatype.SOA, dns.rdatatype.NS]
        clock.jump(100)
        replayed = await udp(query("nope.example.com"), address)
        assert server.stats.fast_path == 1
        assert [(r.rdtype, r.ttl) for r in replayed.authority] == [
            (dns.rdatatype.SOA, 200),
            (dns.rdatatype.NS, 3500),
        ]
        cached = await server.resolver.resolve("nope.example.com", "A")
        assert cached.from_cache and not cached.authority
        assert cached.soa is not None and 199 <= cached.ttl <= 200
        clock.jump(250)  # past the negative TTL (the SOA's minimum, 300)
        sandbox.network.clear_log()
        again = await udp(query("nope.example.com"), address)
        assert again.rcode() == dns.rcode.NXDOMAIN and sandbox.network.exchanges


async def test_servfail_carries_an_extended_error(clock: MockClock) -> None:
    async with running() as (server, address, _):
        reply = await udp(query("www.cycle-a.com"), address)
        assert reply.rcode() == dns.rcode.SERVFAIL
        (error,) = reply.extended_errors()
        assert error.code == 22  # No Reachable Authority
        plain = await udp(query("www.cycle-a.com", use_edns=False), address)
        assert plain.rcode() == dns.rcode.SERVFAIL
        assert plain.edns < 0  # no OPT record for a client that sent none
        assert server.stats.servfail == 2
        assert server.stats.fast_path == 0  # failures are not kept


async def test_the_resolver_deadline_bounds_a_query_to_a_silent_internet(
    clock: MockClock,
) -> None:
    # Every root server swallows queries: only the deadline ends the resolution,
    # and the server has no timer of its own on top of the resolver's.
    sandbox = build_sandbox()
    roots = [r.rdata for r in sandbox.root_hints if isinstance(r.rdata, A | AAAA)]
    assert roots
    for rdata in roots:
        root = sandbox.network.server_at(rdata.address)
        assert root is not None
        root.set_behaviour(Behaviour(dead=True), rdata.address)
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=ResolverSettings(deadline=1.0),
    )
    server = Server(resolver, ServerSettings(listen=(("127.0.0.1", 0),)))
    async with trio.open_nursery() as nursery:
        (address,) = await nursery.start(server.serve)
        started = trio.current_time()
        reply = await udp(query("www.example.com"), address)
        elapsed = trio.current_time() - started
        server.shutdown()
    assert reply.rcode() == dns.rcode.SERVFAIL
    (error,) = reply.extended_errors()
    assert error.code == 22  # No Reachable Authority
    assert 0.9 <= elapsed < 2.0


# -- protocol errors ----------------------------------------------------------------


async def test_malformed_query_with_a_header_gets_formerr(clock: MockClock) -> None:
    async with running() as (server, address, _):
        # One question promised, a name that runs off the end.
        packet = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0) + b"\x07example"
        (data,) = await raw_udp([packet], address)
        reply = dns.message.from_wire(data)
        assert reply.id == 0xBEEF
        assert reply.rcode() == dns.rcode.FORMERR
        assert reply.flags & dns.flags.QR
        assert server.stats.formerr == 1


async def test_junk_shorter_than_a_header_is_dropped(clock: MockClock) -> None:
    async with running() as (server, address, _):
        good = query("www.example.com")
        # A response (QR set) is dropped too: answering it could start a loop.
        response = dns.message.make_response(query("x.example")).to_wire()
        (data,) = await raw_udp([b"\x01\x02\x03", response, good.to_wire()], address)
        # The only datagram back is the reply to the good query.
        assert dns.message.from_wire(data).id == good.id
        assert server.stats.dropped_malformed == 2


async def test_other_opcodes_get_notimp(clock: MockClock) -> None:
    async with running() as (server, address, _):
        notify = query("example.com", "SOA")
        notify.set_opcode(dns.opcode.NOTIFY)
        reply = await udp(notify, address)
        assert reply.rcode() == dns.rcode.NOTIMP
        assert reply.opcode() == dns.opcode.NOTIFY
        assert server.stats.notimp == 1


async def test_unknown_edns_version_gets_badvers(clock: MockClock) -> None:
    async with running() as (server, address, _):
        reply = await udp(query("www.example.com", use_edns=1), address)
        assert reply.rcode() == dns.rcode.BADVERS
        assert reply.edns == 0
        assert server.stats.badvers == 1


async def test_clients_outside_the_allow_list_are_refused(clock: MockClock) -> None:
    async with running(allow=(ipaddress.ip_network("10.0.0.0/8"),)) as (server, address, sandbox):
        for ask in (udp, tcp):
            reply = await ask(query("www.example.com"), address)
            assert reply.rcode() == dns.rcode.REFUSED
            assert not reply.answer
        assert server.stats.refused == 2
        assert server.stats.queries == 0
        assert not sandbox.network.exchanges


# -- sizes, TCP ---------------------------------------------------------------------


async def test_truncated_over_udp_and_whole_over_tcp(clock: MockClock) -> None:
    async with running() as (server, address, _):
        for ask in (
            query("big.example.com", "TXT"),
            query("big.example.com", "TXT", use_edns=False),
        ):
            reply = await udp(ask, address)
            assert reply.flags & dns.flags.TC
            assert not reply.answer
            assert len(reply.to_wire()) <= (1232 if ask.edns == 0 else 512)
        whole = await tcp(query("big.example.com", "TXT"), address)
        assert not whole.flags & dns.flags.TC
        assert len(whole.answer[0]) == 12
        again = await tcp(query("big.example.com", "TXT"), address)
        assert len(again.answer[0]) == 12
        assert server.stats.truncated == 2
        assert server.stats.fast_path >= 1
        assert server.stats.tcp_queries == 2


async def test_pipelined_tcp_queries_are_answered_out_of_order(clock: MockClock) -> None:
    sandbox = build_sandbox()
    slow_cdn(sandbox)
    async with running(sandbox) as (server, address, _):
        slow = query("www.cdn.net")
        fast = query("www.example.com")
        replies = await trio.to_thread.run_sync(
            _tcp_raw, [slow.to_wire(), fast.to_wire()], address, 2
        )
        first, second = (dns.message.from_wire(data) for data in replies)
        assert (first.id, second.id) == (fast.id, slow.id)
        assert texts(first) == ["198.51.100.80"]
        assert texts(second) == ["edge.cdn.net.", "198.51.100.41"]
        assert server.stats.tcp_connections == 1


async def test_cookies_are_echoed_with_a_server_cookie(clock: MockClock) -> None:
    async with running() as (server, address, _):
        cookies = []
        for client in (b"\x01" * 8, b"\x01" * 8, b"\x02" * 8):
            ask = query("www.example.com", options=[dns.edns.CookieOption(client, b"")])
            reply = await udp(ask, address)
            (cookie,) = (o for o in reply.options if o.otype == dns.edns.OptionType.COOKIE)
            assert isinstance(cookie, dns.edns.CookieOption)
            assert cookie.client == client
            assert len(cookie.server) == 8
            assert texts(reply) == ["198.51.100.80"]
            cookies.append(cookie.server)
        assert cookies[0] == cookies[1] != cookies[2]
        assert server.stats.fast_path == 2  # the fast path patches the cookie in


# -- limits and shutdown ------------------------------------------------------------


async def test_queries_over_the_in_flight_cap_are_dropped(clock: MockClock) -> None:
    sandbox = build_sandbox()
    slow_cdn(sandbox)
    async with running(sandbox, max_in_flight=1) as (server, address, _):
        first = query("www.cdn.net")
        second = query("edge.cdn.net")
        (data,) = await raw_udp([first.to_wire(), second.to_wire()], address)
        assert dns.message.from_wire(data).id == first.id
        assert server.stats.dropped_over_limit == 1
        assert server.stats.resolved == 1


async def test_shutdown_lets_a_query_in_flight_finish(clock: MockClock) -> None:
    sandbox = build_sandbox()
    slow_cdn(sandbox)
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
    server = Server(resolver, ServerSettings(listen=(("127.0.0.1", 0),)))
    replies: list[dns.message.Message] = []
    async with trio.open_nursery() as nursery:
        (address,) = await nursery.start(server.serve)

        async def ask() -> None:
            replies.append(await udp(query("www.cdn.net"), address))

        nursery.start_soon(ask)
        await started(server)
        # Cancelling the server's task (not only shutdown()) gives the same grace.
        nursery.cancel_scope.cancel()
    # The client waits in a thread, which a cancel does not stop: it got its answer.
    assert [texts(r) for r in replies] == [["edge.cdn.net.", "198.51.100.41"]]
    assert server.stats.resolved == 1
    assert server.in_flight == 0


async def test_a_held_server_reads_no_query_until_it_begins(clock: MockClock) -> None:
    # What `trio-dns serve --user` relies on: bound as root, answering only later.
    sandbox = build_sandbox()
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
    server = Server(resolver, ServerSettings(listen=(("127.0.0.1", 0),)))
    async with trio.open_nursery() as nursery:
        (address,) = await nursery.start(functools.partial(server.serve, hold=True))
        replies: list[dns.message.Message] = []
        answered = trio.Event()

        async def ask() -> None:
            replies.append(await udp(query("www.example.com"), address))
            answered.set()

        nursery.start_soon(ask)
        await trio.sleep(0.5)
        assert (server.stats.queries, replies) == (0, [])  # waiting in the socket
        server.begin()
        await answered.wait()
        assert server.stats.queries == 1
        assert texts(replies[0]) == ["198.51.100.80"]
        server.shutdown()


async def test_a_held_server_shut_down_before_it_began_stops(clock: MockClock) -> None:
    sandbox = build_sandbox()
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
    server = Server(resolver, ServerSettings(listen=(("127.0.0.1", 0),)))
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(server.serve, hold=True))
        server.shutdown()
    assert server.stats.queries == 0


async def test_shutdown_answers_the_query_in_flight(clock: MockClock) -> None:
    sandbox = build_sandbox()
    slow_cdn(sandbox)
    async with running(sandbox) as (server, address, _):
        async with trio.open_nursery() as nursery:
            results: list[dns.message.Message] = []

            async def ask() -> None:
                results.append(await udp(query("www.cdn.net"), address))

            nursery.start_soon(ask)
            await started(server)
            server.shutdown()
        assert texts(results[0]) == ["edge.cdn.net.", "198.51.100.41"]
        with pytest.raises(OSError):  # nobody listens any more
            await trio.to_thread.run_sync(
                lambda: socket.create_connection(address, timeout=TIMEOUT).close()
            )


def _reset(sock: socket.socket) -> None:
    """Close with a reset (RST) rather than a FIN, as a crashed or hostile client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _frame(message: dns.message.Message) -> bytes:
    wire = message.to_wire()
    return len(wire).to_bytes(2, "big") + wire


def _read_reply(sock: socket.socket) -> bytes:
    """One framed reply, or b"" if the server closed the connection first."""
    buffer = b""
    while len(buffer) < 2 or len(buffer) < 2 + int.from_bytes(buffer[:2], "big"):
        try:
            chunk = sock.recv(65535)
        except ConnectionResetError:
            return b""
        if not chunk:
            return b""
        buffer += chunk
    return buffer[2:]


async def until(condition: Any) -> None:
    """Until `condition()` holds (the server offers no event to wait on)."""
    with trio.fail_after(TIMEOUT):
        while not condition():  # noqa: ASYNC110
            await trio.sleep(0.01)


async def test_a_new_tcp_client_closes_the_idlest_connection_at_the_cap(
    clock: MockClock,
) -> None:
    async with running(max_tcp_connections=2) as (server, address, _):

        def connect_three() -> tuple[bytes, bytes, bytes]:
            with (
                socket.create_connection(address, timeout=TIMEOUT) as oldest,
                socket.create_connection(address, timeout=TIMEOUT) as newer,
            ):
                # The newer one has been answered since: it is the less idle.
                newer.sendall(_frame(query("www.example.com")))
                assert _read_reply(newer)
                with socket.create_connection(address, timeout=TIMEOUT) as third:
                    third.sendall(_frame(query("www.example.com")))
                    answered = _read_reply(third)
                    return oldest.recv(10), answered, _read_reply_after(newer)

        def _read_reply_after(sock: socket.socket) -> bytes:
            sock.sendall(_frame(query("www.example.com")))
            return _read_reply(sock)

        closed, third, newer = await trio.to_thread.run_sync(connect_three)
    assert closed == b""  # the oldest idle connection made room
    assert dns.message.from_wire(third).rcode() == dns.rcode.NOERROR
    assert dns.message.from_wire(newer).rcode() == dns.rcode.NOERROR
    assert server.stats.tcp_closed == {"evicted": 1}
    assert server.stats.tcp_rejected == 0
    assert server.stats.tcp_connections == 3


async def test_a_new_tcp_client_is_refused_when_every_connection_is_busy(
    clock: MockClock,
) -> None:
    sandbox = build_sandbox()
    slow_cdn(sandbox)
    async with running(sandbox, max_tcp_connections=1) as (server, address, _):
        busy = socket.create_connection(address, timeout=TIMEOUT)
        with busy:
            busy.sendall(_frame(query("www.cdn.net")))  # 0.4 s to resolve
            await until(lambda: server.in_flight == 1)

            def another() -> bytes:
                with socket.create_connection(address, timeout=TIMEOUT) as sock:
                    return _read_reply(sock)

            refused = await trio.to_thread.run_sync(another)
            answered = await trio.to_thread.run_sync(_read_reply, busy)
    assert refused == b""
    assert texts(dns.message.from_wire(answered)) == ["edge.cdn.net.", "198.51.100.41"]
    assert server.stats.tcp_rejected == 1
    assert "evicted" not in server.stats.tcp_closed


async def test_tcp_idle_timeout(clock: MockClock) -> None:
    async with running(tcp_idle_timeout=10.0) as (server, address, _):
        async with trio.open_nursery() as nursery:
            result: list[bytes] = []

            def idle() -> None:
                with socket.create_connection(address, timeout=TIMEOUT) as sock:
                    result.append(sock.recv(10))

            nursery.start_soon(trio.to_thread.run_sync, idle)
            await until(lambda: server.tcp_open == 1)
            clock.jump(11)
        assert result == [b""]
        assert server.stats.tcp_closed == {"idle": 1}
        assert server.tcp_open == 0


async def test_a_busy_tcp_connection_is_read_for_its_lifetime_only(clock: MockClock) -> None:
    async with running(tcp_lifetime=30.0) as (server, address, _):
        sock = trio.socket.socket()
        with sock:
            await sock.connect(address)
            replies = []
            for _ in range(5):
                # Never idle for long (the idle timeout is 10 s), but too old at the end.
                await sock.send(_frame(query("www.example.com")))
                with trio.fail_after(TIMEOUT):
                    replies.append(await sock.recv(65535))
                clock.jump(8)
                await trio.sleep(0.01)
        assert all(replies[:4]) and replies[4] == b""
        assert server.stats.tcp_closed == {"lifetime": 1}


async def test_a_tcp_client_that_does_not_read_is_closed(clock: MockClock) -> None:
    async with running(tcp_send_timeout=2.0) as (server, address, _):
        await tcp(query("big.example.com", "TXT"), address)  # cached: answered inline
        big = _frame(query("big.example.com", "TXT"))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        with sock:
            await trio.to_thread.run_sync(lambda: sock.connect_ex(address))
            await until(lambda: server.tcp_open == 1)
            sent = 0
            with trio.move_on_after(TIMEOUT):
                while "send_timeout" not in server.stats.tcp_closed:
                    try:  # queries until the server, unable to reply, stops reading
                        sent += sock.send(big)
                    except BlockingIOError:
                        await trio.sleep(0.05)
                        clock.jump(1)
                    except OSError:
                        break
                    await trio.lowlevel.checkpoint()
        assert server.stats.tcp_closed == {"send_timeout": 1}
        assert server.tcp_open == 0
        assert sent > 64 * 1024  # the server read a good deal before it gave up


# -- a peer's errors cost its connection only ------------------------------------------


async def test_resets_before_during_and_after_a_reply_cost_one_connection(
    clock: MockClock,
) -> None:
    sandbox = build_sandbox()
    slow_cdn(sandbox)
    async with running(sandbox) as (server, address, _):
        await tcp(query("big.example.com", "TXT"), address)

        def abuse() -> None:
            # Before the reply: the query is still being resolved.
            with socket.create_connection(address, timeout=TIMEOUT) as sock:
                sock.sendall(_frame(query("www.cdn.net")) + _frame(query("edge.cdn.net")))
                _reset(sock)
            # After the reply.
            sock = socket.create_connection(address, timeout=TIMEOUT)
            sock.sendall(_frame(query("www.example.com")))
            assert _read_reply(sock)
            _reset(sock)
            # During replies: many large ones, a few octets read, then a reset.
            sock = socket.create_connection(address, timeout=TIMEOUT)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(_frame(query("big.example.com", "TXT")) * 200)
            sock.recv(100)
            _reset(sock)
            # Halfway through a query, with a reset and with a FIN.
            for close in (_reset, socket.socket.close):
                sock = socket.create_connection(address, timeout=TIMEOUT)
                sock.sendall(_frame(query("www.example.com"))[:9])
                close(sock)

        await trio.to_thread.run_sync(abuse)
        await until(lambda: server.tcp_open == 0)
        # Still serving, over both transports.
        assert texts(await tcp(query("www.example.com"), address)) == ["198.51.100.80"]
        assert texts(await udp(query("www.example.com"), address)) == ["198.51.100.80"]
        closed = server.stats.tcp_closed
        assert closed.get("peer_error", 0) >= 3
        assert closed["mid_message"] == 1
        assert set(closed) <= {"peer_error", "mid_message"}
    assert server.in_flight == 0


async def test_a_bug_answering_one_query_costs_that_query_only(
    clock: MockClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running() as (server, address, _):

        def broken(*args: object) -> object:
            raise RuntimeError("a bug")

        with monkeypatch.context() as patch:
            patch.setattr(Server, "_slow_path", broken)
            for _ in range(5):
                reply = await udp(query("www.example.com"), address)
                assert reply.rcode() == dns.rcode.SERVFAIL
        with monkeypatch.context() as patch:
            patch.setattr(Resolver, "resolve", broken)
            reply = await tcp(query("mail.example.com"), address)
            assert reply.rcode() == dns.rcode.SERVFAIL
        assert texts(await udp(query("www.example.com"), address)) == ["198.51.100.80"]
        assert server.stats.internal_errors == 6
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        # The 1st, 2nd and 4th time; one line each, no traceback.
        assert len(errors) == 3
        assert all(not r.exc_info and "a bug" in r.getMessage() for r in errors)


# -- shutdown ------------------------------------------------------------------------


async def test_queries_unanswered_at_the_end_of_the_grace_period_get_servfail(
    clock: MockClock,
) -> None:
    sandbox = build_sandbox()
    slow_cdn(sandbox, latency=30.0)
    replies: list[dns.message.Message] = []

    async def ask(transport: Any, name: str, address: Address) -> None:
        replies.append(await transport(query(name), address))

    async with (
        running(sandbox, grace_period=1.0) as (server, address, _),
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(ask, udp, "www.cdn.net", address)
        nursery.start_soon(ask, tcp, "edge.cdn.net", address)
        await until(lambda: server.in_flight == 2)
        server.shutdown()
    assert sorted(r.rcode() for r in replies) == [dns.rcode.SERVFAIL] * 2
    for reply in replies:
        assert reply.question[0].name.to_text() in ("www.cdn.net.", "edge.cdn.net.")
        assert [o.text for o in reply.options if isinstance(o, dns.edns.EDEOption)] == [
            "shutting down"
        ]
    assert server.in_flight == 0
    assert server.stats.servfail == 2


# -- the fast path's parser, on its own ---------------------------------------------


def test_peek_keys_ordinary_queries_and_refuses_the_rest() -> None:
    plain = Message.make_query("WWW.example.com", "A", id=1).to_wire()
    peek = peek_query_untrusted(plain, tcp=False, max_udp=1232)
    assert peek is not None
    key, question_end, cookie = peek
    assert key[0].startswith(b"\x03www\x07example\x03com\x00")
    assert (key[2], key[3], key[4], cookie) == (1232, False, False, None)
    assert question_end == 12 + 17 + 4
    other = Message.make_query("www.EXAMPLE.com", "A", id=2).to_wire()
    assert peek_query_untrusted(other, tcp=False, max_udp=1232) == peek
    # Different type, TCP, no EDNS: different keys.
    assert peek_query_untrusted(other, tcp=True, max_udp=1232) != peek
    aaaa = Message.make_query("www.example.com", "AAAA").to_wire()
    assert peek_query_untrusted(aaaa, tcp=False, max_udp=1232)[0] != key  # type: ignore[index]
    # Anything odd is left for the slow path.
    assert peek_query_untrusted(plain[:-1], tcp=False, max_udp=1232) is None
    assert peek_query_untrusted(plain + b"\0", tcp=False, max_udp=1232) is None
    response = bytearray(plain)
    response[2] |= 0x80
    assert peek_query_untrusted(bytes(response), tcp=False, max_udp=1232) is None


@given(st.binary(max_size=80))
def test_peek_never_raises(data: bytes) -> None:
    peek = peek_query_untrusted(data, tcp=False, max_udp=1232)
    if peek is not None:
        assert 12 < peek[1] <= len(data)


def test_answer_cache_patches_id_question_and_ttls() -> None:
    cache = AnswerCache(max_entries=2)
    query = Message.make_query("www.example.com", "A", id=7)
    wire = query.to_wire()
    key, end, _ = peek_query_untrusted(wire, tcp=False, max_udp=1232)  # type: ignore[misc]
    reply = dns.message.make_response(dns.message.from_wire(wire))
    reply.answer.append(dns.rrset.from_text("www.example.com.", 60, "IN", "A", "192.0.2.1"))
    encoded = reply.to_wire()
    assert [ttl for _, ttl in ttl_fields(encoded)] == [60]
    assert cache.store(key, encoded, now=1000.0)
    other = Message.make_query("WWW.example.com", "A", id=9).to_wire()
    patched = cache.reply(key, other, end, None, now=1010.5)
    assert patched is not None
    parsed = dns.message.from_wire(patched)
    assert parsed.id == 9
    assert parsed.question[0].name.to_text() == "WWW.example.com."
    assert parsed.answer[0].ttl == 50
    assert cache.reply(key, other, end, None, now=1060.0) is None  # expired
    assert len(cache) == 0


def test_answer_cache_told_the_lifetime_walks_the_reply_only_once_it_ages() -> None:
    cache = AnswerCache()
    query = Message.make_query("www.example.com", "A", id=7).to_wire()
    key, end, _ = peek_query_untrusted(query, tcp=False, max_udp=1232)  # type: ignore[misc]
    reply = dns.message.make_response(dns.message.from_wire(query))
    reply.answer.append(dns.rrset.from_text("www.example.com.", 60, "IN", "A", "192.0.2.1"))
    encoded = reply.to_wire()
    assert cache.store(key, encoded, now=1000.0, lifetime=60)
    # The same second: the reply as stored, and still unwalked.
    assert cache.reply(key, query, end, None, now=1000.5) == encoded
    assert cache._entries[key].fields is None
    aged = cache.reply(key, query, end, None, now=1030.0)
    assert aged is not None
    assert dns.message.from_wire(aged).answer[0].ttl == 30
    assert cache._entries[key].fields is not None
    # A stored reply that does not walk is dropped when it first needs to.
    assert cache.store(key, encoded + b"junk", now=2000.0, lifetime=60)
    assert cache.reply(key, query, end, None, now=2000.0) is not None
    assert cache.reply(key, query, end, None, now=2001.0) is None
    assert len(cache) == 0
    assert not cache.store(key, encoded, now=3000.0, lifetime=0)

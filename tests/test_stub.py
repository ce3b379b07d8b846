"""StubResolver on the fake network: the query it builds, retries after loss, giving up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from trio_dns import Edns, Flag, Message, Name, Rcode, RRType
from trio_dns._network.exchange import ExchangeError
from trio_dns._network.stub import QueryTimeout, StubResolver
from trio_dns._network.transport import Address, DatagramEndpoint, SocketTransport
from trio_dns.testing import Action, Behaviour, FakeNetwork

ZONE = """\
$ORIGIN example.
$TTL 300
@    SOA ns1 hostmaster 1 7200 3600 1209600 300
@    NS ns1
ns1  A 192.0.2.53
www  A 192.0.2.1
www  MX 10 mail
"""
SERVER: Address = ("192.0.2.53", 53)
WWW = Name.from_text("www.example.")


def network(behaviour: Behaviour | None = None) -> FakeNetwork:
    net = FakeNetwork()
    net.add_server([SERVER[0]], [ZONE], behaviour=behaviour)
    return net


def sent_queries(net: FakeNetwork) -> list[Message]:
    queries = [exchange.query for exchange in net.exchanges]
    assert all(isinstance(query, Message) for query in queries)
    return [query for query in queries if isinstance(query, Message)]


async def test_query_defaults_rd_edns_and_a() -> None:
    net = network()
    reply = await StubResolver(net).query(SERVER, "www.example")
    [query] = sent_queries(net)
    assert net.exchanges[0].server == SERVER
    assert query.flags == Flag.RD
    assert (query.question[0].name, query.question[0].rtype) == (WWW, RRType.A)
    assert query.edns == Edns(payload=1232, dnssec_ok=False)
    assert reply.id == query.id
    assert Flag.AA in reply.flags
    assert [record.rdata.to_text() for record in reply.answer] == ["192.0.2.1"]


async def test_query_norecurse_and_dnssec() -> None:
    net = network()
    reply = await StubResolver(net).query(SERVER, WWW, "MX", dnssec=True, recurse=False)
    [query] = sent_queries(net)
    assert Flag.RD not in query.flags
    assert query.edns is not None and query.edns.dnssec_ok
    assert query.question[0].rtype == RRType.MX
    assert [record.rdata.to_text() for record in reply.answer] == ["10 mail.example."]


async def test_error_rcodes_are_answers_not_exceptions() -> None:
    reply = await StubResolver(network()).query(SERVER, "nope.example")
    assert reply.rcode == Rcode.NXDOMAIN
    lame = network(Behaviour(handler=lambda query: query.make_response(Rcode.SERVFAIL)))
    reply = await StubResolver(lame).query(SERVER, WWW)
    assert reply.rcode == Rcode.SERVFAIL


async def test_lost_queries_are_sent_again(autojump_clock: trio.testing.MockClock) -> None:
    seen: list[Message] = []

    def lose_the_first_two(query: Message) -> Message | None:
        seen.append(query)
        return None if len(seen) <= 2 else query.make_response(flags=Flag.AA)

    net = network(Behaviour(handler=lose_the_first_two))
    start = trio.current_time()
    reply = await StubResolver(net, timeout=2.0, attempts=3).query(SERVER, WWW)
    assert reply.rcode == Rcode.NOERROR
    assert [exchange.action for exchange in net.exchanges] == [
        Action.DROPPED,
        Action.DROPPED,
        Action.ANSWERED,
    ]
    # Each lost attempt waited out its own timeout (virtual time: exact, not a race).
    assert trio.current_time() - start == pytest.approx(4.0, abs=0.1)
    # Each attempt went out from a fresh endpoint, so a fresh source port.
    assert len({exchange.client for exchange in net.exchanges}) == 3


async def test_gives_up_with_query_timeout(autojump_clock: trio.testing.MockClock) -> None:
    net = network(Behaviour(dead=True))
    stub = StubResolver(net, timeout=5.0, attempts=3)
    with pytest.raises(QueryTimeout) as info:
        await stub.query(SERVER, WWW)
    assert str(info.value) == "no reply from 192.0.2.53:53 after 3 attempts"
    assert info.value.server == SERVER
    assert len(net.exchanges) == 3


async def test_timeout_names_ipv6_servers_in_brackets(
    autojump_clock: trio.testing.MockClock,
) -> None:
    stub = StubResolver(FakeNetwork(), timeout=1.0, attempts=1)
    with pytest.raises(QueryTimeout, match=r"no reply from \[2001:db8::1\]:5353 after 1 attempt$"):
        await stub.query(("2001:db8::1", 5353), WWW)


async def test_server_address_spelling_does_not_matter() -> None:
    net = FakeNetwork()
    net.add_server(["2001:db8::53"], [ZONE])
    reply = await StubResolver(net).query(("2001:DB8:0::53", 53), WWW)
    assert [record.rdata.to_text() for record in reply.answer] == ["192.0.2.1"]
    with pytest.raises(ValueError, match="not an IP address"):
        await StubResolver(net).query(("ns1.example", 53), WWW)


async def test_garbage_reply_raises_at_once_without_retrying() -> None:
    net = network(Behaviour(garbage=True))
    with pytest.raises(ExchangeError, match="malformed"):
        await StubResolver(net, attempts=3).query(SERVER, WWW)
    assert len(net.exchanges) == 1


async def test_truncated_reply_is_asked_again_over_tcp() -> None:
    net = network(Behaviour(truncate_udp=True))
    stub = StubResolver(net)
    reply = await stub.query(SERVER, WWW)
    assert Flag.TC not in reply.flags
    assert [exchange.transport for exchange in net.exchanges] == ["udp", "tcp"]
    assert [record.rdata.to_text() for record in reply.answer] == ["192.0.2.1"]


async def test_tcp_connection_refused_raises_exchange_error() -> None:
    net = network(Behaviour(tcp=False))
    with pytest.raises(ExchangeError, match="cannot connect"):
        await StubResolver(net).query(SERVER, WWW, tcp=True)


class _UnreachableEndpoint:
    async def send(self, data: bytes, address: Address) -> None:
        await trio.lowlevel.checkpoint()
        raise OSError(101, "Network is unreachable")

    async def receive(self) -> tuple[bytes, Address]:
        await trio.sleep_forever()
        raise AssertionError("not reached")


class _Unreachable:
    """A transport whose every UDP send fails, as with no route to the host."""

    @asynccontextmanager
    async def open_udp(self, remote: Address) -> AsyncIterator[DatagramEndpoint]:
        yield _UnreachableEndpoint()

    async def connect_tcp(self, remote: Address) -> trio.abc.Stream:
        raise AssertionError("not used")


async def test_send_failure_is_an_exchange_error() -> None:
    with pytest.raises(
        ExchangeError, match=r"cannot send to 192\.0\.2\.53:53: Network is unreachable"
    ):
        await StubResolver(_Unreachable()).query(SERVER, WWW)


def test_settings_are_checked_and_default_transport_is_sockets() -> None:
    assert isinstance(StubResolver().transport, SocketTransport)
    stub = StubResolver(None, timeout=0.5, attempts=1)
    assert (stub.timeout, stub.attempts) == (0.5, 1)
    with pytest.raises(ValueError):
        StubResolver(attempts=0)
    with pytest.raises(ValueError):
        StubResolver(timeout=0)

"""Exchanger and SocketTransport against real NSD and Knot, with dnspython as the oracle."""

from __future__ import annotations

from collections.abc import Iterator

import dns.message
import dns.query
import pytest
import trio

from trio_dns import Edns, Flag, Message, Name, Rcode, RRType
from trio_dns._network.exchange import Exchanger
from trio_dns._network.transport import Address, SocketTransport

from . import zones
from .servers import KINDS, Kind, ServerPool
from .zones import ORIGIN, ZONE

HOSTS: dict[Kind, str] = {"nsd": "127.53.1.1", "knot": "127.53.1.2"}


@pytest.fixture(scope="module", params=KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Address]:
    kind: Kind = request.param
    with ServerPool(tmp_path_factory.mktemp(kind)) as pool:
        yield pool.start(kind, HOSTS[kind], {ORIGIN: ZONE}).address


def query(name: str, rtype: str) -> Message:
    # An iterative resolver's query: no RD, EDNS with the flag-day payload.
    return Message.make_query(name, rtype, flags=Flag(0))


async def oracle(server: Address, request: Message) -> dns.message.Message:
    """The same question asked by dnspython over TCP."""
    theirs = dns.message.from_wire(request.to_wire())
    return await trio.to_thread.run_sync(
        lambda: dns.query.tcp(theirs, server[0], port=server[1], timeout=5)
    )


def as_dnspython(reply: Message) -> dns.message.Message:
    return dns.message.from_wire(reply.to_wire())


def rdata_texts(reply: Message, rtype: RRType) -> set[str]:
    return {record.rdata.to_text() for record in reply.answer if record.rtype == rtype}


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_a_mx_txt_answers(server: Address, tcp: bool) -> None:
    exchanger = Exchanger(SocketTransport())
    cases = [
        ("www.example.test", "A", {"192.0.2.10", "192.0.2.11"}),
        (ORIGIN, "MX", {"10 mail.example.test.", "20 backup.example.net."}),
        ("txt.example.test", "TXT", {'"hello world" "second string"', '"v=spf1 -all"'}),
    ]
    for name, rtype, expected in cases:
        request = query(name, rtype)
        with trio.fail_after(5):
            reply = await exchanger.exchange(server, request, tcp=tcp)
        assert reply.rcode == Rcode.NOERROR
        assert Flag.AA in reply.flags
        assert Flag.TC not in reply.flags
        assert rdata_texts(reply, RRType.make(rtype)) == expected
        assert all(record.ttl == 3600 for record in reply.answer)
        assert as_dnspython(reply).answer == (await oracle(server, request)).answer
    stats = exchanger.stats
    assert (stats.queries_udp, stats.queries_tcp) == ((0, 3) if tcp else (3, 0))
    assert stats.ignored_replies == stats.malformed_replies == 0


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_nxdomain_and_nodata_carry_the_soa(server: Address, tcp: bool) -> None:
    exchanger = Exchanger(SocketTransport())
    for name, rtype, rcode in [
        ("nope.example.test", "A", Rcode.NXDOMAIN),
        ("www.example.test", "MX", Rcode.NOERROR),
    ]:
        with trio.fail_after(5):
            reply = await exchanger.exchange(server, query(name, rtype), tcp=tcp)
        assert reply.rcode == rcode
        assert reply.answer == ()
        assert [record.rtype for record in reply.authority] == [RRType.SOA]
        assert reply.authority[0].name == Name.from_text(ORIGIN)


async def test_edns_payload_is_advertised_back(server: Address) -> None:
    with trio.fail_after(5):
        reply = await Exchanger(SocketTransport()).exchange(server, query("www.example.test", "A"))
    assert reply.edns is not None
    assert reply.edns.payload >= 512


async def test_large_answer_is_truncated_over_udp_then_fetched_over_tcp(server: Address) -> None:
    request = query("big.example.test", "TXT")
    assert request.edns == Edns(payload=1232)
    exchanger = Exchanger(SocketTransport())
    with trio.fail_after(5):
        truncated = await exchanger.exchange_udp(server, request)
    assert Flag.TC in truncated.flags
    assert len(truncated.answer) < 60

    exchanger = Exchanger(SocketTransport())
    with trio.fail_after(5):
        reply = await exchanger.exchange(server, request)
    assert Flag.TC not in reply.flags
    assert len(reply.answer) == 60
    assert len(reply.to_wire()) > 1232
    stats = exchanger.stats
    assert (stats.queries_udp, stats.truncated_replies, stats.queries_tcp) == (1, 1, 1)

    theirs = await oracle(server, request)
    assert as_dnspython(reply).answer == theirs.answer
    assert len(theirs.answer[0]) == 60


async def test_query_without_edns_gets_a_plain_reply(server: Address) -> None:
    exchanger = Exchanger(SocketTransport())
    plain = Message.make_query("www.example.test", "A", flags=Flag(0), edns=None)
    with trio.fail_after(5):
        reply = await exchanger.exchange(server, plain)
    assert reply.edns is None
    assert rdata_texts(reply, RRType.A) == {"192.0.2.10", "192.0.2.11"}


async def test_a_parent_on_one_server_refers_to_a_child_on_another(
    server_pool: ServerPool,
) -> None:
    parent, child = server_pool.start_many(
        [
            ("nsd", zones.PARENT_HOST, {zones.PARENT_ORIGIN: zones.PARENT_ZONE}),
            ("knot", zones.CHILD_HOST, {zones.CHILD_ORIGIN: zones.CHILD_ZONE}),
        ]
    )
    exchanger = Exchanger(SocketTransport())
    with trio.fail_after(5):
        referral = await exchanger.exchange(parent.address, query("www.child.test", "A"))
    assert referral.rcode == Rcode.NOERROR
    assert Flag.AA not in referral.flags
    assert referral.answer == ()
    assert [(r.name, r.rtype) for r in referral.authority] == [
        (Name.from_text(zones.CHILD_ORIGIN), RRType.NS)
    ]
    glue = {r.rdata.to_text() for r in referral.additional if r.rtype == RRType.A}
    assert glue == {zones.CHILD_HOST}

    with trio.fail_after(5):
        answer = await exchanger.exchange(child.address, query("www.child.test", "A"))
    assert Flag.AA in answer.flags
    assert rdata_texts(answer, RRType.A) == {"192.0.2.80"}

"""The fake network itself: virtual-time latency, loss, dead servers, the log."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import trio

from trio_dns import Edns, Flag, Message, Rcode, RRType
from trio_dns.testing import (
    Action,
    AuthoritativeServer,
    Behaviour,
    FakeNetwork,
    ForgedCase,
    Forgery,
    Lame,
    Zone,
)

ZONE = """
$ORIGIN example.
$TTL 3600
@    SOA  ns1 hostmaster 1 7200 900 1209600 300
@    NS   ns1
ns1  A    192.0.2.1
ns1  AAAA 2001:db8::1
www  A    192.0.2.10
big  TXT  "{filler}"
""".replace("{filler}", "x" * 200)
BIG = "\n".join(f'big TXT "{i:03d}{"y" * 200}"' for i in range(10))

SERVER = ("192.0.2.1", 53)


def network(behaviour: Behaviour | None = None, seed: int = 0) -> FakeNetwork:
    net = FakeNetwork(seed=seed)
    net.add_server(["192.0.2.1", "2001:db8::1"], [ZONE + BIG], behaviour=behaviour)
    return net


def query(
    name: str = "www.example.",
    rtype: str = "A",
    *,
    id: int | None = None,
    edns: Edns | None = Edns(),  # noqa: B008 (an immutable value)
) -> Message:
    return Message.make_query(name, rtype, id=id, edns=edns)


async def ask_udp(
    net: FakeNetwork, message: Message, address: tuple[str, int] = SERVER
) -> tuple[Message, tuple[str, int]]:
    async with net.open_udp(address) as endpoint:
        await endpoint.send(message.to_wire(), address)
        data, source = await endpoint.receive()
    return Message.from_wire(data), source


async def test_udp_reply_arrives_after_exactly_the_latency(autojump_clock: trio.abc.Clock) -> None:
    net = network(Behaviour(latency=0.25))
    start = trio.current_time()
    reply, source = await ask_udp(net, query())
    assert trio.current_time() - start == pytest.approx(0.25)
    assert source == SERVER
    assert Flag.AA in reply.flags
    assert [r.rdata.to_text() for r in reply.answer] == ["192.0.2.10"]


async def test_latency_can_be_a_function_of_the_seeded_random(
    autojump_clock: trio.abc.Clock,
) -> None:
    def latency(rng: random.Random) -> float:
        return rng.choice([0.1, 0.2, 0.3])

    async def elapsed_times(seed: int) -> list[float]:
        net = network(Behaviour(latency=latency), seed=seed)
        times = []
        for _ in range(6):
            start = trio.current_time()
            await ask_udp(net, query())
            times.append(round(trio.current_time() - start, 6))
        return times

    first = await elapsed_times(1)
    assert set(first) <= {0.1, 0.2, 0.3} and len(set(first)) > 1
    assert await elapsed_times(1) == first


async def test_ipv6_address_of_the_same_server(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    address = ("2001:DB8:0::1", 53)
    reply, source = await ask_udp(net, query(), address)
    assert source == ("2001:db8::1", 53)
    assert reply.rcode == Rcode.NOERROR
    (exchange,) = net.exchanges
    assert exchange.client[0] == net.client_v6
    assert exchange.server == ("2001:db8::1", 53)


async def test_loss_is_seeded_and_repeatable(autojump_clock: trio.abc.Clock) -> None:
    async def outcomes(seed: int) -> list[bool]:
        net = network(Behaviour(loss=0.5), seed=seed)
        results = []
        for _ in range(40):
            with trio.move_on_after(1):
                await ask_udp(net, query())
                results.append(True)
                continue
            results.append(False)
        assert [e.action == Action.ANSWERED for e in net.exchanges] == results
        return results

    first = await outcomes(7)
    assert 5 < first.count(False) < 35
    assert await outcomes(7) == first
    assert await outcomes(8) != first


async def test_dead_server_never_answers_udp_and_tcp_hangs(
    autojump_clock: trio.abc.Clock,
) -> None:
    net = network(Behaviour(dead=True))
    start = trio.current_time()
    with trio.move_on_after(30) as scope:
        await ask_udp(net, query())
    assert scope.cancelled_caught
    assert trio.current_time() - start == pytest.approx(30)
    with trio.move_on_after(30) as scope:
        await net.connect_tcp(SERVER)
    assert scope.cancelled_caught
    assert [e.action for e in net.exchanges] == [Action.DEAD]


async def test_no_server_drops_udp_and_refuses_tcp(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    with trio.move_on_after(5) as scope:
        await ask_udp(net, query(), ("192.0.2.99", 53))
    assert scope.cancelled_caught
    with pytest.raises(OSError, match="refused"):
        await net.connect_tcp(("192.0.2.99", 53))
    # A server on port 53 does not listen on other ports.
    with pytest.raises(OSError):
        await net.connect_tcp(("192.0.2.1", 5353))
    assert [e.action for e in net.exchanges] == [Action.NO_SERVER]


async def test_tcp_frames_queries_and_replies(autojump_clock: trio.abc.Clock) -> None:
    net = network(Behaviour(latency=0.1))
    start = trio.current_time()
    stream = await net.connect_tcp(SERVER)
    assert trio.current_time() - start == pytest.approx(0.1)  # the handshake
    first, second = query(), query("big.example.", "TXT")
    # Two queries in one write, the second split across writes.
    payload = b"".join(len(w).to_bytes(2, "big") + w for w in (first.to_wire(), second.to_wire()))
    async with stream:
        await stream.send_all(payload[:-5])
        await stream.send_all(payload[-5:])
        received = b""
        replies: list[Message] = []
        while len(replies) < 2:
            received += await stream.receive_some(100)
            while len(received) >= 2 and len(received) >= 2 + int.from_bytes(received[:2], "big"):
                size = int.from_bytes(received[:2], "big")
                replies.append(Message.from_wire(received[2 : 2 + size]))
                received = received[2 + size :]
    assert [r.id for r in replies] == [first.id, second.id]
    assert len(replies[1].answer) == 11  # too big for UDP, whole over TCP
    assert [e.transport for e in net.exchanges] == ["tcp", "tcp"]


async def test_big_udp_reply_is_truncated_to_the_payload(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    reply, _ = await ask_udp(net, query("big.example.", "TXT"))
    assert Flag.TC in reply.flags
    assert len(reply.to_wire()) <= 1232
    plain, _ = await ask_udp(net, query("big.example.", "TXT", edns=None))
    assert Flag.TC in plain.flags and len(plain.to_wire()) <= 512


async def test_truncate_udp_behaviour(autojump_clock: trio.abc.Clock) -> None:
    net = network(Behaviour(truncate_udp=True))
    reply, _ = await ask_udp(net, query())
    assert Flag.TC in reply.flags
    assert reply.answer == reply.authority == reply.additional == ()
    assert reply.question == query().question


async def test_duplicates_arrive_later(autojump_clock: trio.abc.Clock) -> None:
    net = network(Behaviour(duplicate=1.0, latency=0.1))
    message = query()
    async with net.open_udp(SERVER) as endpoint:
        await endpoint.send(message.to_wire(), SERVER)
        start = trio.current_time()
        first = await endpoint.receive()
        second = await endpoint.receive()
        assert trio.current_time() - start == pytest.approx(0.2)
    assert first == second


async def test_jitter_reorders_replies(autojump_clock: trio.abc.Clock) -> None:
    net = network(Behaviour(latency=0.05, jitter=0.5), seed=3)
    messages = [query(id=i) for i in range(20)]
    async with net.open_udp(SERVER) as endpoint:
        for message in messages:
            await endpoint.send(message.to_wire(), SERVER)
        ids = [Message.from_wire((await endpoint.receive())[0]).id for _ in messages]
    assert sorted(ids) == list(range(20))
    assert ids != list(range(20))


async def test_a_later_sooner_packet_wakes_the_receiver(autojump_clock: trio.abc.Clock) -> None:
    net = FakeNetwork()
    net.add_server(["192.0.2.1"], [ZONE], behaviour=Behaviour(latency=1.0))
    net.add_server(["192.0.2.2"], [ZONE], behaviour=Behaviour(latency=0.1))
    async with net.open_udp(SERVER) as endpoint:
        await endpoint.send(query().to_wire(), ("192.0.2.1", 53))
        async with trio.open_nursery() as nursery:
            got: list[tuple[str, int]] = []

            async def receive() -> None:
                got.append((await endpoint.receive())[1])

            nursery.start_soon(receive)
            await trio.sleep(0.2)
            await endpoint.send(query().to_wire(), ("192.0.2.2", 53))
        # Sent at 0.2 with latency 0.1, the second reply overtakes the first (due at
        # 1.0) and wakes the receiver that was sleeping until 1.0.
        assert got == [("192.0.2.2", 53)]
        assert trio.current_time() == pytest.approx(0.3)


async def test_lame_and_edns_intolerant_servers(autojump_clock: trio.abc.Clock) -> None:
    refused, _ = await ask_udp(network(Behaviour(lame=Lame.REFUSED)), query())
    assert refused.rcode == Rcode.REFUSED
    not_aa, _ = await ask_udp(network(Behaviour(lame=Lame.NOT_AUTHORITATIVE)), query())
    assert Flag.AA not in not_aa.flags and not_aa.answer == () and not_aa.authority
    assert {r.rtype for r in not_aa.authority} == {RRType.NS}
    upward, _ = await ask_udp(network(Behaviour(lame=Lame.UPWARD_REFERRAL)), query())
    assert upward.answer == () and str(upward.authority[0].name) == "."
    old = network(Behaviour(edns=False))
    formerr, _ = await ask_udp(old, query())
    assert formerr.rcode == Rcode.FORMERR and formerr.edns is None
    plain, _ = await ask_udp(old, query(edns=None))
    assert plain.rcode == Rcode.NOERROR


async def test_wrong_id_wrong_source_and_garbage(autojump_clock: trio.abc.Clock) -> None:
    message = query()
    reply, _ = await ask_udp(network(Behaviour(wrong_id=True)), message)
    assert reply.id != message.id
    _, source = await ask_udp(network(Behaviour(reply_from=("192.0.2.77", 53))), message)
    assert source == ("192.0.2.77", 53)
    net = network(Behaviour(garbage=True))
    async with net.open_udp(SERVER) as endpoint:
        await endpoint.send(message.to_wire(), SERVER)
        data, _ = await endpoint.receive()
    assert data[:2] == message.to_wire()[:2]
    with pytest.raises(Exception, match="malformed"):
        Message.from_wire(data)


async def test_forged_reply_arrives_first(autojump_clock: trio.abc.Clock) -> None:
    net = network(Behaviour(forge=Forgery(address="203.0.113.66", count=2)))
    message = query()
    async with net.open_udp(SERVER) as endpoint:
        await endpoint.send(message.to_wire(), SERVER)
        replies = [Message.from_wire((await endpoint.receive())[0]) for _ in range(3)]
    assert [r.answer[0].rdata.to_text() for r in replies] == [
        "203.0.113.66",
        "203.0.113.66",
        "192.0.2.10",
    ]
    assert [r.id == message.id for r in replies] == [False, False, True]


async def test_handler_decides_the_reply(autojump_clock: trio.abc.Clock) -> None:
    def handler(message: Message) -> Message | bytes | None:
        if message.question[0].rtype == RRType.AAAA:
            return None  # a middlebox that eats AAAA queries
        return message.make_response(Rcode.SERVFAIL)

    net = network(Behaviour(handler=handler))
    reply, _ = await ask_udp(net, query())
    assert reply.rcode == Rcode.SERVFAIL
    with trio.move_on_after(10) as scope:
        await ask_udp(net, query(rtype="AAAA"))
    assert scope.cancelled_caught
    assert [e.action for e in net.exchanges] == [Action.ANSWERED, Action.DROPPED]


async def test_unparseable_query_gets_formerr(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    async with net.open_udp(SERVER) as endpoint:
        await endpoint.send(b"\x12\x34" + b"\xff" * 20, SERVER)
        data, _ = await endpoint.receive()
    reply = Message.from_wire(data)
    assert reply.id == 0x1234 and reply.rcode == Rcode.FORMERR
    assert net.exchanges[0].query == b"\x12\x34" + b"\xff" * 20


async def test_behaviour_per_address(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    server = net.server_at("192.0.2.1")
    assert server is not None
    server.set_behaviour(Behaviour(dead=True), "2001:db8::1")
    reply, _ = await ask_udp(net, query())
    assert reply.rcode == Rcode.NOERROR
    with trio.move_on_after(3) as scope:
        await ask_udp(net, query(), ("2001:db8::1", 53))
    assert scope.cancelled_caught
    with pytest.raises(ValueError, match="not an address"):
        server.set_behaviour(Behaviour(), "192.0.2.200")


async def test_the_log_records_every_exchange_in_order(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    net.add_server(["192.0.2.2"], [ZONE])
    await ask_udp(net, query("www.example.", "A"))
    await trio.sleep(1)
    await ask_udp(net, query("ns1.example.", "AAAA", edns=Edns(dnssec_ok=True)), ("192.0.2.2", 53))
    await ask_udp(net, query("www.example.", "TXT", edns=None))
    log = net.exchanges
    assert [(e.server[0], str(e.qname), e.qtype) for e in log] == [
        ("192.0.2.1", "www.example.", RRType.A),
        ("192.0.2.2", "ns1.example.", RRType.AAAA),
        ("192.0.2.1", "www.example.", RRType.TXT),
    ]
    assert [e.time - log[0].time for e in log] == pytest.approx([0.0, 1.02, 1.04])
    assert [e.edns for e in log] == [True, True, False]
    assert all(e.transport == "udp" and e.client[0] == net.client_v4 for e in log)
    assert len({e.client for e in log}) == 3  # a fresh source port per endpoint
    assert isinstance(log[0].reply, Message) and log[0].reply.answer
    assert len(net.queries_to("192.0.2.1")) == 2
    assert len(net.queries_to(("192.0.2.2", 53))) == 1
    assert len(net.queries_for("www.example.")) == 2
    assert len(net.queries_for("www.example.", "TXT")) == 1
    assert "192.0.2.2:53 ns1.example. AAAA: answered" in str(log[1])
    net.clear_log()
    assert net.exchanges == ()


async def test_the_log_keeps_the_latest_exchanges_only(autojump_clock: trio.abc.Clock) -> None:
    net = FakeNetwork(log_limit=5)
    net.add_server(["192.0.2.1"], [ZONE])
    for i in range(20):
        await ask_udp(net, query(id=i))
    assert net.carried == 20
    assert [e.query.id for e in net.exchanges if isinstance(e.query, Message)] == [
        15,
        16,
        17,
        18,
        19,
    ]
    silent = FakeNetwork(log_limit=0)
    silent.add_server(["192.0.2.1"], [ZONE])
    reply, _ = await ask_udp(silent, query())
    assert reply.answer and silent.exchanges == () and silent.carried == 1
    with pytest.raises(ValueError, match="number of exchanges"):
        FakeNetwork(log_limit=-1)


async def test_a_long_lived_network_stays_the_same_size(autojump_clock: trio.abc.Clock) -> None:
    # What `serve --sandbox` used to do: keep every exchange (1.5 kB each) forever.
    import gc
    import tracemalloc

    net = network()
    assert net.log_limit == 10_000
    net = FakeNetwork(log_limit=100)
    net.add_server(["192.0.2.1"], [ZONE])

    async def many(count: int) -> None:
        for i in range(count):
            await ask_udp(net, query(id=i & 0xFFFF))

    tracemalloc.start()
    try:
        await many(200)  # the log is full from here on, of exchanges traced
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        await many(1000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Unbounded, 1,000 more exchanges would hold about 1.5 MB.
    assert grown < 100_000, grown
    assert len(net.exchanges) == 100 and net.carried == 1200


async def test_a_server_that_does_not_echo_case(autojump_clock: trio.abc.Clock) -> None:
    asked = query("WwW.ExAmPlE.", "A")
    echoed, _ = await ask_udp(network(), asked)
    assert str(echoed.question[0].name) == "WwW.ExAmPlE."
    assert str(echoed.answer[0].name) == "WwW.ExAmPlE."  # compressed against the question
    net = network(Behaviour(echo_case=False))
    lowered, _ = await ask_udp(net, asked)
    assert str(lowered.question[0].name) == "www.example."
    assert str(lowered.answer[0].name) == "www.example."
    (exchange,) = net.exchanges
    assert str(exchange.sent_name) == "WwW.ExAmPlE."  # the log has the query as sent
    assert str(exchange.qname) == "www.example."  # and its name in lower case


@pytest.mark.parametrize(
    ("case", "spelled"),
    [
        (ForgedCase.LOWER, lambda sent, forged: forged == sent.lower()),
        (ForgedCase.ECHO, lambda sent, forged: forged == sent),
        (ForgedCase.RANDOM, lambda sent, forged: forged.lower() == sent.lower()),
    ],
)
async def test_how_a_forger_spells_the_name(
    autojump_clock: trio.abc.Clock, case: ForgedCase, spelled: Callable[[str, str], bool]
) -> None:
    sent = "CaseBitsToGuessForAForger.Example."
    net = FakeNetwork()
    net.add_server(["192.0.2.1"], [ZONE], behaviour=Behaviour(forge=Forgery(case=case, count=4)))
    message = query(sent)
    async with net.open_udp(SERVER) as endpoint:
        await endpoint.send(message.to_wire(), SERVER)
        forged = [Message.from_wire((await endpoint.receive())[0]) for _ in range(4)]
    names = [str(f.question[0].name) for f in forged]
    assert all(spelled(sent, name) for name in names), names
    assert [str(f.answer[0].name) for f in forged] == names
    if case == ForgedCase.RANDOM:
        assert len(set(names)) == 4  # a fresh guess each time


def test_servers_are_built_from_text_or_zones() -> None:
    net = FakeNetwork()
    zone = Zone.from_text(ZONE)
    server = net.add(AuthoritativeServer.make(["192.0.2.5", ("192.0.2.6", 5353)], [zone]))
    assert server.addresses == (("192.0.2.5", 53), ("192.0.2.6", 5353))
    assert net.server_at("192.0.2.5") is server
    assert net.server_at(("192.0.2.6", 5353)) is server
    assert net.servers == [server]
    with pytest.raises(ValueError, match="already in use"):
        net.add_server(["192.0.2.5"], [ZONE])
    net.remove(server)
    assert net.server_at("192.0.2.5") is None
    with pytest.raises(ValueError, match="probability"):
        Behaviour(loss=1.5)


def test_the_network_opens_no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(trio.socket, "socket", refuse)

    async def main() -> None:
        net = network()
        await ask_udp(net, query())
        stream = await net.connect_tcp(SERVER)
        await stream.aclose()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_endpoint_sends_only_to_its_own_family(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    async with net.open_udp(SERVER) as endpoint:
        with pytest.raises(OSError):
            await endpoint.send(query().to_wire(), ("2001:db8::1", 53))


async def test_replies_sent_to_the_server_are_not_answered(
    autojump_clock: trio.abc.Clock,
) -> None:
    net = network()
    reply = query().make_response()
    with trio.move_on_after(5) as scope:
        await ask_udp(net, reply)
    assert scope.cancelled_caught
    assert [e.action for e in net.exchanges] == [Action.DROPPED]


async def test_two_receivers_on_one_endpoint(autojump_clock: trio.abc.Clock) -> None:
    net = network(Behaviour(latency=0.5))
    async with net.open_udp(SERVER) as endpoint:
        got: list[int] = []

        async def receive() -> None:
            got.append(Message.from_wire((await endpoint.receive())[0]).id)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            nursery.start_soon(receive)
            await trio.sleep(0.1)
            await endpoint.send(query(id=1).to_wire(), SERVER)
            await endpoint.send(query(id=2).to_wire(), SERVER)
    assert sorted(got) == [1, 2]
    assert trio.current_time() == pytest.approx(0.6)


def test_public_names() -> None:
    import trio_dns.testing

    public = {name for name in dir(trio_dns.testing) if not name.startswith("_")}
    assert public == {
        "Action",
        "AuthoritativeServer",
        "Behaviour",
        "Exchange",
        "FakeNetwork",
        "ForgedCase",
        "Forgery",
        "Sandbox",
        "build_sandbox",
        "Handler",
        "Lame",
        "Zone",
        "answer_query",
        # DNSSEC signing for tests (_signing.py)
        "NSEC3Parameters",
        "SigningKey",
        "make_ds",
        "sign_rrset",
        "sign_zone",
    }

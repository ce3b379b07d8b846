"""The exchange layer (reply matching, TC to TCP, EDNS fallback) on the fake network."""

from __future__ import annotations

import pytest
import trio

from trio_dns import Flag, Message, Rcode
from trio_dns._exchange import ExchangeError, Exchanger
from trio_dns.testing import Action, Behaviour, FakeNetwork, Forgery

ZONE = """
$ORIGIN example.
$TTL 3600
@    SOA  ns1 hostmaster 1 7200 900 1209600 300
@    NS   ns1
ns1  A    192.0.2.1
www  A    192.0.2.10
""" + "\n".join(f'big TXT "{i:03d}{"y" * 200}"' for i in range(10))

SERVER = ("192.0.2.1", 53)


def setup(behaviour: Behaviour | None = None) -> tuple[FakeNetwork, Exchanger]:
    net = FakeNetwork()
    net.add_server(["192.0.2.1", "2001:db8::1"], [ZONE], behaviour=behaviour)
    return net, Exchanger(net)


def www() -> Message:
    return Message.make_query("www.example.", "A")


def addresses(reply: Message) -> list[str]:
    return [record.rdata.to_text() for record in reply.answer]


async def test_normal_udp_answer(autojump_clock: trio.abc.Clock) -> None:
    net, exchanger = setup()
    query = www()
    reply = await exchanger.exchange(SERVER, query)
    assert reply.id == query.id
    assert Flag.AA in reply.flags
    assert addresses(reply) == ["192.0.2.10"]
    assert exchanger.stats.queries_udp == 1
    assert exchanger.stats.ignored_replies == 0
    (exchange,) = net.queries_to("192.0.2.1")
    assert exchange.transport == "udp" and exchange.query == query


async def test_ipv6_server(autojump_clock: trio.abc.Clock) -> None:
    net, exchanger = setup()
    reply = await exchanger.exchange(("2001:db8::1", 53), www())
    assert addresses(reply) == ["192.0.2.10"]
    assert [e.server for e in net.exchanges] == [("2001:db8::1", 53)]


@pytest.mark.parametrize(
    "forgery",
    [
        Forgery(),  # wrong ID
        Forgery(correct_id=True, source=("192.0.2.66", 53)),  # wrong source address
        Forgery(correct_id=True, source=("192.0.2.1", 5353)),  # wrong source port
        Forgery(correct_id=True, wrong_question=True),  # wrong question
        Forgery(count=20),  # a flood of ID guesses
    ],
)
async def test_forged_replies_racing_ahead_are_ignored_and_counted(
    autojump_clock: trio.abc.Clock, forgery: Forgery
) -> None:
    _net, exchanger = setup(Behaviour(forge=forgery))
    reply = await exchanger.exchange(SERVER, www())
    assert addresses(reply) == ["192.0.2.10"]
    assert exchanger.stats.ignored_replies == forgery.count


async def test_a_forger_who_guesses_everything_wins(autojump_clock: trio.abc.Clock) -> None:
    # Why the ID and port must be unguessable: a reply that matches is accepted.
    _, exchanger = setup(Behaviour(forge=Forgery(correct_id=True)))
    reply = await exchanger.exchange(SERVER, www())
    assert addresses(reply) == ["203.0.113.66"]


@pytest.mark.parametrize(
    "behaviour", [Behaviour(wrong_id=True), Behaviour(reply_from=("192.0.2.99", 53))]
)
async def test_a_reply_that_never_matches_is_never_accepted(
    autojump_clock: trio.abc.Clock, behaviour: Behaviour
) -> None:
    _, exchanger = setup(behaviour)
    with trio.move_on_after(5) as scope:
        await exchanger.exchange(SERVER, www())
    assert scope.cancelled_caught
    assert exchanger.stats.ignored_replies == 1


async def test_late_reply_to_an_earlier_query_is_ignored(autojump_clock: trio.abc.Clock) -> None:
    _net, exchanger = setup(Behaviour(late_replies=True))
    first = await exchanger.exchange(SERVER, www())
    second = await exchanger.exchange(SERVER, Message.make_query("ns1.example.", "A"))
    assert addresses(first) == ["192.0.2.10"]
    assert addresses(second) == ["192.0.2.1"]
    assert exchanger.stats.ignored_replies == 1


async def test_late_duplicate_is_not_taken_for_the_next_answer(
    autojump_clock: trio.abc.Clock,
) -> None:
    net, exchanger = setup(Behaviour(duplicate=1.0, latency=0.1))
    start = trio.current_time()
    first = await exchanger.exchange(SERVER, www())
    assert trio.current_time() - start == pytest.approx(0.1)
    second = await exchanger.exchange(SERVER, Message.make_query("ns1.example.", "A"))
    assert addresses(first) == ["192.0.2.10"]
    assert addresses(second) == ["192.0.2.1"]
    assert len(net.exchanges) == 2


async def test_garbage_from_the_server_raises(autojump_clock: trio.abc.Clock) -> None:
    _, exchanger = setup(Behaviour(garbage=True))
    with pytest.raises(ExchangeError, match="malformed"):
        await exchanger.exchange(SERVER, www())
    assert exchanger.stats.malformed_replies == 1
    with pytest.raises(ExchangeError, match="malformed reply over TCP"):
        await exchanger.exchange(SERVER, www(), tcp=True)


async def test_truncated_reply_is_asked_again_over_tcp(autojump_clock: trio.abc.Clock) -> None:
    net, exchanger = setup(Behaviour(truncate_udp=True))
    reply = await exchanger.exchange(SERVER, www())
    assert Flag.TC not in reply.flags
    assert addresses(reply) == ["192.0.2.10"]
    assert [e.transport for e in net.exchanges] == ["udp", "tcp"]
    assert exchanger.stats.truncated_replies == 1
    assert exchanger.stats.queries_tcp == 1


async def test_answer_too_big_for_udp_comes_whole_over_tcp(
    autojump_clock: trio.abc.Clock,
) -> None:
    net, exchanger = setup()
    reply = await exchanger.exchange(SERVER, Message.make_query("big.example.", "TXT"))
    assert len(reply.answer) == 10
    assert [e.transport for e in net.exchanges] == ["udp", "tcp"]


async def test_tcp_refused_is_an_exchange_error(autojump_clock: trio.abc.Clock) -> None:
    _, exchanger = setup(Behaviour(truncate_udp=True, tcp=False))
    with pytest.raises(ExchangeError, match="cannot connect"):
        await exchanger.exchange(SERVER, www())


async def test_tcp_only(autojump_clock: trio.abc.Clock) -> None:
    net, exchanger = setup()
    reply = await exchanger.exchange(SERVER, www(), tcp=True)
    assert addresses(reply) == ["192.0.2.10"]
    assert [e.transport for e in net.exchanges] == ["tcp"]


async def test_edns_fallback_is_remembered_for_the_server(autojump_clock: trio.abc.Clock) -> None:
    net, exchanger = setup(Behaviour(edns=False))
    first = await exchanger.exchange(SERVER, www())
    assert first.rcode == Rcode.NOERROR
    assert addresses(first) == ["192.0.2.10"]
    assert [e.edns for e in net.exchanges] == [True, False]
    assert exchanger.edns_refused(SERVER)
    assert exchanger.stats.edns_fallbacks == 1
    net.clear_log()
    second = await exchanger.exchange(SERVER, Message.make_query("ns1.example.", "A"))
    assert addresses(second) == ["192.0.2.1"]
    assert [e.edns for e in net.exchanges] == [False]
    # Only that server: its other address still gets EDNS.
    net.clear_log()
    await exchanger.exchange(("2001:db8::1", 53), www())
    assert [e.edns for e in net.exchanges] == [True, False]


async def test_dead_server_times_out_on_virtual_time(autojump_clock: trio.abc.Clock) -> None:
    net, exchanger = setup(Behaviour(dead=True))
    start = trio.current_time()
    with trio.move_on_after(30) as scope:
        await exchanger.exchange(SERVER, www())
    assert scope.cancelled_caught
    assert trio.current_time() - start == pytest.approx(30)
    assert [e.action for e in net.exchanges] == [Action.DEAD]


async def test_lost_queries_are_retried_by_the_caller(autojump_clock: trio.abc.Clock) -> None:
    net, exchanger = setup(Behaviour(loss=0.6))
    reply = None
    for _ in range(50):
        with trio.move_on_after(1):
            reply = await exchanger.exchange(SERVER, www())
        if reply is not None:
            break
    assert reply is not None and addresses(reply) == ["192.0.2.10"]
    actions = [e.action for e in net.exchanges]
    assert actions[-1] == Action.ANSWERED
    assert set(actions[:-1]) <= {Action.LOST}
    assert exchanger.stats.queries_udp == len(actions)

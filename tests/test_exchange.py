"""The exchange layer (reply matching, TC to TCP, EDNS fallback, 0x20, the
unwanted-reply threshold, bounded per-server memory, rebinding) on the fake network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio

from trio_dns import A, Flag, Message, Name, Rcode, Record, RRClass, RRType
from trio_dns._decisions.rebinding import PRIVATE_NETWORKS, Rebinding
from trio_dns._network.exchange import ExchangeError, Exchanger, ExchangeSettings, randomise_case
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns.testing import (
    Action,
    AuthoritativeServer,
    Behaviour,
    FakeNetwork,
    ForgedCase,
    Forgery,
    Sandbox,
    Zone,
    build_sandbox,
)

# 32 letters of name before the zone's 7: a forger who spells it in lower case
# (or any one way) matches our random case once in 2**39 tries, never in a test.
LONG = "casebitsforanoffpathforgertoguess.example."

ZONE = """
$ORIGIN example.
$TTL 3600
@    SOA  ns1 hostmaster 1 7200 900 1209600 300
@    NS   ns1
ns1  A    192.0.2.1
www  A    192.0.2.10
alias CNAME www
casebitsforanoffpathforgertoguess A 192.0.2.10
mixed A    10.0.0.1
mixed A    192.0.2.7
inside A   192.168.1.1
v6   AAAA  fd00::1
v6   AAAA  2001:db8::7
mapped AAAA ::ffff:192.168.1.1
intranet A 10.1.1.1
""" + "\n".join(f'big TXT "{i:03d}{"y" * 200}"' for i in range(10))

SERVER = ("192.0.2.1", 53)


def setup(
    behaviour: Behaviour | None = None, settings: ExchangeSettings | None = None
) -> tuple[FakeNetwork, Exchanger]:
    net = FakeNetwork()
    net.add_server(["192.0.2.1", "2001:db8::1"], [ZONE], behaviour=behaviour)
    return net, Exchanger(net, settings or ExchangeSettings())


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


async def test_without_0x20_a_forger_who_guesses_id_and_port_wins(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Why the ID and port must be unguessable: without 0x20 they are all there is.
    _, exchanger = setup(
        Behaviour(forge=Forgery(correct_id=True)), ExchangeSettings(case_randomisation=False)
    )
    reply = await exchanger.exchange(SERVER, Message.make_query(LONG, "A"))
    assert addresses(reply) == ["203.0.113.66"]


@pytest.mark.parametrize(
    "forgery",
    [
        Forgery(correct_id=True),  # the name as the forger knows it, in lower case
        Forgery(correct_id=True, case=ForgedCase.RANDOM, count=50),  # guessing the case
    ],
)
async def test_with_0x20_a_forger_must_guess_the_case_too(
    autojump_clock: trio.abc.Clock, forgery: Forgery
) -> None:
    net, exchanger = setup(Behaviour(forge=forgery))
    reply = await exchanger.exchange(SERVER, Message.make_query(LONG, "A"))
    assert addresses(reply) == ["192.0.2.10"]
    # The first forgery that is right but for the case is counted, and the question
    # asked again over TCP, where no off-path forger can answer.
    assert exchanger.stats.case_mismatches == 1
    assert exchanger.stats.ignored_replies == 1
    assert [e.transport for e in net.exchanges] == ["udp", "tcp"]
    # The server echoed our case over TCP: it keeps getting 0x20.
    assert exchanger.echoes_case(SERVER)
    assert exchanger.stats.case_fallbacks == 0


async def test_an_on_path_forger_who_copies_the_query_still_wins(
    autojump_clock: trio.abc.Clock,
) -> None:
    # What 0x20 cannot do: an attacker who sees the query copies its case too.
    _, exchanger = setup(Behaviour(forge=Forgery(correct_id=True, case=ForgedCase.ECHO)))
    reply = await exchanger.exchange(SERVER, Message.make_query(LONG, "A"))
    assert addresses(reply) == ["203.0.113.66"]


async def test_the_case_is_random_on_the_wire_and_the_asked_spelling_comes_back(
    autojump_clock: trio.abc.Clock,
) -> None:
    net, exchanger = setup()
    asked = Name.from_text("CaseBitsForAnOffPathForgerToGuess.Example.")
    reply = await exchanger.exchange(SERVER, Message.make_query(asked, "A"))
    (exchange,) = net.exchanges
    sent = exchange.sent_name
    assert sent == asked and sent is not None and sent.labels != asked.labels
    # The reply's question and the answer's owner name (compressed against the
    # question) read as the caller spelled them, not as sent.
    assert reply.question[0].name.labels == asked.labels
    assert [r.name.labels for r in reply.answer] == [asked.labels]
    assert exchanger.stats.case_mismatches == 0 and exchanger.stats.ignored_replies == 0


async def test_names_the_server_spells_itself_keep_its_spelling(
    autojump_clock: trio.abc.Clock,
) -> None:
    _, exchanger = setup()
    reply = await exchanger.exchange(SERVER, Message.make_query("ALIAS.EXAMPLE.", "A"))
    assert [str(r.name) for r in reply.answer] == ["ALIAS.EXAMPLE.", "www.EXAMPLE."]


def test_each_letter_gets_a_random_case_and_nothing_else_changes() -> None:
    wire = Name.from_text("abcdefghij-0123.xyz.").to_wire()
    draws = [randomise_case(wire) for _ in range(400)]
    assert all(d.lower() == wire for d in draws)
    letters = [i for i, octet in enumerate(wire) if chr(octet).isalpha()]
    upper = [sum(1 for d in draws if chr(d[i]).isupper()) for i in letters]
    # 400 draws a letter: about 200 upper; never far from it for a fair coin.
    assert all(140 < count < 260 for count in upper), upper
    # 13 letters, 8,192 spellings: 400 draws repeat about 10 of them (birthdays).
    assert len(set(draws)) > 360
    assert (
        randomise_case(Name.from_text("1.2.3.4.").to_wire()) == Name.from_text("1.2.3.4.").to_wire()
    )


async def test_a_server_that_does_not_echo_case_is_found_and_asked_without_0x20(
    autojump_clock: trio.abc.Clock,
) -> None:
    net, exchanger = setup(Behaviour(echo_case=False))
    first = await exchanger.exchange(SERVER, Message.make_query(LONG, "A"))
    assert addresses(first) == ["192.0.2.10"]
    assert [e.transport for e in net.exchanges] == ["udp", "tcp"]
    assert exchanger.stats.case_mismatches == 1
    assert exchanger.stats.case_fallbacks == 1
    assert not exchanger.echoes_case(SERVER)
    net.clear_log()
    asked = Message.make_query(LONG, "A")
    second = await exchanger.exchange(SERVER, asked)
    assert addresses(second) == ["192.0.2.10"]
    (exchange,) = net.exchanges
    assert exchange.transport == "udp"
    assert exchange.sent_name is not None
    assert exchange.sent_name.labels == asked.question[0].name.labels  # as asked
    assert exchanger.stats.case_mismatches == 1
    # Only that address: the server's other one is still asked with 0x20.
    assert exchanger.echoes_case(("2001:db8::1", 53))


async def test_without_tcp_to_tell_the_question_is_asked_once_more_without_0x20(
    autojump_clock: trio.abc.Clock,
) -> None:
    net, exchanger = setup(Behaviour(echo_case=False, tcp=False))
    asked = Message.make_query(LONG, "A")
    reply = await exchanger.exchange(SERVER, asked)
    assert addresses(reply) == ["192.0.2.10"]
    first, second = net.exchanges
    assert first.transport == second.transport == "udp"
    assert second.sent_name is not None
    assert second.sent_name.labels == asked.question[0].name.labels
    # Not learnt: without TCP a forger and a server that does not echo look alike.
    assert exchanger.echoes_case(SERVER)


async def test_over_tcp_a_reply_in_another_case_is_the_servers_own(
    autojump_clock: trio.abc.Clock,
) -> None:
    net, exchanger = setup(Behaviour(echo_case=False))
    reply = await exchanger.exchange(SERVER, Message.make_query(LONG, "A"), tcp=True)
    assert addresses(reply) == ["192.0.2.10"]
    assert [e.transport for e in net.exchanges] == ["tcp"]
    assert not exchanger.echoes_case(SERVER)
    assert exchanger.stats.case_mismatches == 0 and exchanger.stats.case_fallbacks == 1


async def test_ptr_questions_keep_their_case(autojump_clock: trio.abc.Clock) -> None:
    # As Unbound: middleboxes that rewrite reverse names break 0x20 for PTR.
    net, exchanger = setup()
    asked = Message.make_query("10.2.0.192.In-Addr.Arpa.", "PTR")
    await exchanger.exchange(SERVER, asked)
    (exchange,) = net.exchanges
    assert exchange.sent_name is not None
    assert exchange.sent_name.labels == asked.question[0].name.labels


async def test_0x20_can_be_turned_off(autojump_clock: trio.abc.Clock) -> None:
    net, exchanger = setup(settings=ExchangeSettings(case_randomisation=False))
    asked = Message.make_query(LONG, "A")
    await exchanger.exchange(SERVER, asked)
    (exchange,) = net.exchanges
    assert exchange.sent_name is not None
    assert exchange.sent_name.labels == asked.question[0].name.labels


# -- the unwanted-reply threshold -----------------------------------------------------


async def test_crossing_the_unwanted_reply_threshold_calls_for_a_flush(
    autojump_clock: trio.abc.Clock,
) -> None:
    flushes: list[int] = []
    net = FakeNetwork()
    net.add_server(["192.0.2.1"], [ZONE], behaviour=Behaviour(forge=Forgery(count=12)))
    exchanger = Exchanger(
        net,
        ExchangeSettings(unwanted_reply_threshold=5),
        on_unwanted_threshold=lambda: flushes.append(exchanger.stats.ignored_replies),
    )
    reply = await exchanger.exchange(SERVER, www())
    assert addresses(reply) == ["192.0.2.10"]
    assert flushes == [5, 10]
    assert exchanger.stats.unwanted_flushes == 2
    # The count starts again after each flush: 2 so far towards the next.
    await exchanger.exchange(SERVER, www())
    assert flushes == [5, 10, 15, 20]


async def test_late_and_case_mismatched_replies_count_towards_the_threshold(
    autojump_clock: trio.abc.Clock,
) -> None:
    flushes: list[None] = []
    net = FakeNetwork()
    net.add_server(["192.0.2.1"], [ZONE], behaviour=Behaviour(late_replies=True))
    net.add_server(["192.0.2.2"], [ZONE], behaviour=Behaviour(forge=Forgery(correct_id=True)))
    exchanger = Exchanger(
        net,
        ExchangeSettings(unwanted_reply_threshold=3),
        on_unwanted_threshold=lambda: flushes.append(None),
    )
    for _ in range(3):
        await exchanger.exchange(SERVER, www())  # a late reply before each but the first
    assert exchanger.stats.ignored_replies == 2 and not flushes
    await exchanger.exchange(("192.0.2.2", 53), Message.make_query(LONG, "A"))
    assert exchanger.stats.case_mismatches == 1
    assert flushes == [None]


async def test_threshold_zero_never_flushes(autojump_clock: trio.abc.Clock) -> None:
    flushes: list[None] = []
    net = FakeNetwork()
    net.add_server(["192.0.2.1"], [ZONE], behaviour=Behaviour(forge=Forgery(count=50)))
    exchanger = Exchanger(
        net,
        ExchangeSettings(unwanted_reply_threshold=0),
        on_unwanted_threshold=lambda: flushes.append(None),
    )
    await exchanger.exchange(SERVER, www())
    assert exchanger.stats.ignored_replies == 50
    assert flushes == [] and exchanger.stats.unwanted_flushes == 0


def test_the_default_threshold_is_unbounds_suggested_value() -> None:
    assert ExchangeSettings().unwanted_reply_threshold == 10_000_000
    with pytest.raises(ValueError):
        ExchangeSettings(unwanted_reply_threshold=-1)


# -- bounded per-server memory --------------------------------------------------------


def server_farm(count: int, behaviour: Behaviour) -> tuple[FakeNetwork, list[tuple[str, int]]]:
    net = FakeNetwork()
    addresses = [(f"192.0.2.{100 + i}", 53) for i in range(count)]
    for address in addresses:
        net.add_server([address], [ZONE], behaviour=behaviour)
    return net, addresses


async def test_the_no_edns_memory_is_bounded_least_recently_used_first(
    autojump_clock: trio.abc.Clock,
) -> None:
    net, servers = server_farm(4, Behaviour(edns=False))
    exchanger = Exchanger(net, ExchangeSettings(max_servers=3))
    for server in servers[:3]:
        await exchanger.exchange(server, www())
    assert [exchanger.edns_refused(s) for s in servers] == [True, True, True, False]
    await exchanger.exchange(servers[0], www())  # used again: now the most recent
    await exchanger.exchange(servers[3], www())
    assert [exchanger.edns_refused(s) for s in servers] == [True, False, True, True]
    assert exchanger.remembered == (3, 0)


async def test_the_no_0x20_memory_is_bounded(autojump_clock: trio.abc.Clock) -> None:
    net, servers = server_farm(50, Behaviour(echo_case=False))
    exchanger = Exchanger(net, ExchangeSettings(max_servers=10))
    for server in servers:
        await exchanger.exchange(server, Message.make_query(LONG, "A"))
    assert exchanger.stats.case_fallbacks == 50
    assert exchanger.remembered == (0, 10)
    assert [exchanger.echoes_case(s) for s in servers] == [True] * 40 + [False] * 10


# -- rebinding ------------------------------------------------------------------------


def rebinding_setup() -> tuple[FakeNetwork, Exchanger]:
    policy = Rebinding(PRIVATE_NETWORKS, [Name.from_text("intranet.example.")])
    return setup(settings=ExchangeSettings(rebinding=policy))


@pytest.mark.parametrize(
    ("name", "rtype", "kept"),
    [
        ("mixed.example.", "A", ["192.0.2.7"]),  # the public address stays
        ("inside.example.", "A", []),  # nothing left: NODATA, not SERVFAIL
        ("v6.example.", "AAAA", ["2001:db8::7"]),
        ("mapped.example.", "AAAA", []),  # an IPv4-mapped private address
        ("intranet.example.", "A", ["10.1.1.1"]),  # a private domain may
        ("www.example.", "A", ["192.0.2.10"]),
    ],
)
async def test_private_addresses_are_taken_out_of_upstream_replies(
    autojump_clock: trio.abc.Clock, name: str, rtype: str, kept: list[str]
) -> None:
    _, exchanger = rebinding_setup()
    reply = await exchanger.exchange(SERVER, Message.make_query(name, rtype))
    assert reply.rcode == Rcode.NOERROR
    assert addresses(reply) == kept


async def test_private_glue_goes_too(autojump_clock: trio.abc.Clock) -> None:
    net = FakeNetwork()
    net.add_server(
        ["192.0.2.1"],
        ["$ORIGIN example.\n@ 3600 SOA ns1 h 1 2 3 4 5\n@ 3600 NS ns1\nns1 3600 A 10.9.9.9\n"],
    )
    exchanger = Exchanger(net, ExchangeSettings(rebinding=Rebinding(PRIVATE_NETWORKS)))
    reply = await exchanger.exchange(SERVER, Message.make_query("example.", "NS"))
    assert [r.rdata.to_text() for r in reply.answer] == ["ns1.example."]
    assert reply.additional == ()
    assert exchanger.stats.rebinding_removed == 1


async def test_without_a_policy_nothing_is_removed(autojump_clock: trio.abc.Clock) -> None:
    _, exchanger = setup()
    reply = await exchanger.exchange(SERVER, Message.make_query("mixed.example.", "A"))
    assert sorted(addresses(reply)) == ["10.0.0.1", "192.0.2.7"]
    assert exchanger.stats.rebinding_removed == 0


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


# -- through the resolver ---------------------------------------------------------------


def resolver_on_sandbox(
    settings: ExchangeSettings | None = None, **options: Any
) -> tuple[Sandbox, Resolver]:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=ResolverSettings(exchange=settings or ExchangeSettings()),
        **options,
    )
    return sandbox, resolver


def cached(resolver: Resolver, name: str, rtype: str = "A") -> tuple[Record, ...] | None:
    found = resolver.cache.get_rrset(
        Name.from_text(name), RRType.make(rtype), RRClass.IN, trio.current_time()
    )
    return None if found is None else found.records


async def test_the_resolver_sends_random_case_and_keeps_the_clients_spelling(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = resolver_on_sandbox()
    asked = Name.from_text("WWW.Example.COM.")
    answer = await resolver.resolve(asked, "A")
    assert [r.rdata.to_text() for r in answer.records] == ["198.51.100.80"]
    assert [r.name.labels for r in answer.records] == [asked.labels]
    # What the cache holds is spelled as asked too, not as sent.
    records = cached(resolver, "www.example.com.")
    assert records is not None and [r.name.labels for r in records] == [asked.labels]
    sent = [e.sent_name for e in sandbox.network.exchanges]
    # Every question went out with its own random case (minimised ones included).
    assert all(name is not None for name in sent)
    spellings = {name.to_text() for name in sent if name is not None}
    assert not spellings <= {"COM.", "Example.COM.", "WWW.Example.COM.", "."}
    assert resolver.exchange_stats.case_mismatches == 0


async def test_the_resolver_gets_past_a_server_that_does_not_echo_case(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = resolver_on_sandbox()
    server = sandbox.network.server_at("198.51.100.10")
    assert server is not None
    server.set_behaviour(Behaviour(echo_case=False))
    for name in ("www.example.com", "mail.example.com", "example.com"):
        answer = await resolver.resolve(name, "A")
        assert answer.rcode == Rcode.NOERROR and answer.records, name
    stats = resolver.exchange_stats
    assert stats.case_fallbacks == 1  # found once, then asked without 0x20
    assert stats.case_mismatches == 1


async def test_a_forger_racing_the_resolver_must_guess_the_case(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = resolver_on_sandbox()
    server = sandbox.network.server_at("198.51.100.10")
    assert server is not None
    # A forger who knows the ID and port: it answers every question first.
    server.set_behaviour(Behaviour(forge=Forgery(correct_id=True, case=ForgedCase.RANDOM)))
    answer = await resolver.resolve(LONG.replace("example.", "example.com."), "A")
    assert answer.rcode == Rcode.NXDOMAIN  # the real answer, not the forged address
    answer = await resolver.resolve("www.example.com", "A")
    assert [r.rdata.to_text() for r in answer.records] == ["198.51.100.80"]
    assert resolver.exchange_stats.case_mismatches >= 2
    off = resolver_on_sandbox(ExchangeSettings(case_randomisation=False))
    server = off[0].network.server_at("198.51.100.10")
    assert server is not None
    server.set_behaviour(Behaviour(forge=Forgery(correct_id=True, case=ForgedCase.RANDOM)))
    answer = await off[1].resolve("www.example.com", "A")
    assert [r.rdata.to_text() for r in answer.records] == ["203.0.113.66"]  # poisoned


async def test_the_resolver_flushes_its_cache_at_the_threshold(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = resolver_on_sandbox(ExchangeSettings(unwanted_reply_threshold=10))
    await resolver.resolve("www.example.com", "A")
    assert cached(resolver, "www.example.com.") is not None
    assert cached(resolver, "example.com.", "NS") is not None
    server = sandbox.network.server_at("198.51.100.10")
    assert server is not None
    server.set_behaviour(Behaviour(forge=Forgery(count=10)))  # blind ID guesses
    answer = await resolver.resolve("mail.example.com", "A")
    assert [r.rdata.to_text() for r in answer.records] == ["198.51.100.25"]
    assert resolver.exchange_stats.unwanted_flushes == 1
    # Whatever the guesses might have planted is gone, with everything else.
    assert cached(resolver, "www.example.com.") is None
    assert cached(resolver, "example.com.", "NS") is None


async def test_the_threshold_flushes_the_servers_encoded_replies_too(
    autojump_clock: trio.abc.Clock,
) -> None:
    from trio_dns._server.server import Server

    sandbox, resolver = resolver_on_sandbox(ExchangeSettings(unwanted_reply_threshold=10))
    server = Server(resolver)
    query = Message.make_query("www.example.com", "A", id=1)
    record = Record(Name.from_text("www.example.com"), RRType.A, RRClass.IN, 300, A("192.0.2.1"))
    wire = attrs.evolve(query.make_response(), answer=(record,)).to_wire()
    assert server.answers.store((b"\x03www", 1, 1, False, False), wire, resolver.now(), 300)
    assert len(server.answers) == 1
    await resolver.resolve("www.example.com", "A")
    blind = sandbox.network.server_at("198.51.100.10")
    assert blind is not None
    blind.set_behaviour(Behaviour(forge=Forgery(count=10)))
    await resolver.resolve("mail.example.com", "A")
    assert resolver.exchange_stats.unwanted_flushes == 1
    assert len(server.answers) == 0


def rebinding_handler(server: AuthoritativeServer) -> Callable[[Message], Message]:
    """example.com's server, with a name that points into a home network."""

    def handler(query: Message) -> Message:
        if query.question[0].name == Name.from_text("rebind.example.com."):
            reply = query.make_response(flags=Flag.AA)
            record = Record(query.question[0].name, RRType.A, RRClass.IN, 60, A("192.168.1.1"))
            return attrs.evolve(reply, answer=(record,))
        return server.answer(query)

    return handler


async def test_the_resolver_drops_private_addresses_from_upstream_only(
    autojump_clock: trio.abc.Clock,
) -> None:
    home = Zone.from_text(
        "$ORIGIN home.\n@ 3600 SOA ns h 1 2 3 4 5\n@ 3600 NS ns\nnas 3600 A 192.168.1.10\n"
    )
    sandbox, resolver = resolver_on_sandbox(
        ExchangeSettings(rebinding=Rebinding(PRIVATE_NETWORKS)), local_zones=[home]
    )
    server = sandbox.network.server_at("198.51.100.10")
    assert server is not None
    server.set_behaviour(Behaviour(handler=rebinding_handler(server)))
    rebind = await resolver.resolve("rebind.example.com", "A")
    assert rebind.rcode == Rcode.NOERROR and rebind.records == ()
    assert cached(resolver, "rebind.example.com.") is None
    www = await resolver.resolve("www.example.com", "A")
    assert [r.rdata.to_text() for r in www.records] == ["198.51.100.80"]
    local = await resolver.resolve("nas.home", "A")  # the operator's own data
    assert [r.rdata.to_text() for r in local.records] == ["192.168.1.10"]
    assert resolver.exchange_stats.rebinding_removed == 1

"""Recursive resolution on the sandbox internet, in virtual time."""

from __future__ import annotations

import attrs
import pytest
import trio

from trio_dns import (
    NS,
    A,
    DNSError,
    EdeCode,
    Flag,
    Message,
    Name,
    Rcode,
    Record,
    ResolutionTimeout,
    RRClass,
    RRType,
)
from trio_dns._decisions.cache import Cache
from trio_dns._decisions.iteration import Iteration
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns.testing import Behaviour, Forgery, Lame, Sandbox, Zone, answer_query, build_sandbox
from trio_dns.testing._sandbox import COM_ZONE, EXAMPLE_ZONE, ROOT_ZONE, SANDBOX_ZONE


def make(settings: ResolverSettings | None = None, **cache: int) -> tuple[Sandbox, Resolver]:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        cache=Cache(**cache),  # type: ignore[arg-type]
        settings=settings or ResolverSettings(),
    )
    return sandbox, resolver


def texts(answer: object) -> list[str]:
    return [record.rdata.to_text() for record in answer.records]  # type: ignore[attr-defined]


def server_of(sandbox: Sandbox, host: str):  # type: ignore[no-untyped-def]
    server = sandbox.network.server_at(host)
    assert server is not None
    return server


async def test_happy_path_from_the_root(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer) == ["198.51.100.80"]
    assert answer.ttl == 3600
    net = sandbox.network
    # Priming, then one query per zone cut: root, com, example.com.
    asked = [(e.server[0], str(e.qname), e.qtype) for e in net.exchanges]
    assert asked[0] == ("192.0.2.1", ".", RRType.NS) or asked[0][2] == RRType.NS
    assert ("198.51.100.10", "www.example.com.", RRType.A) in asked
    # QNAME minimisation: the root only ever heard "com.", and com only "example.com.".
    for exchange in net.queries_to("192.0.2.1") + net.queries_to("192.0.2.2"):
        assert exchange.qname in (Name.from_text("."), Name.from_text("com."))
    for exchange in net.queries_to("192.0.2.10") + net.queries_to("192.0.2.11"):
        assert exchange.qname == Name.from_text("example.com.")
        assert exchange.qtype == RRType.NS  # a probe for a cut asks NS


async def test_minimisation_off_sends_the_full_name(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make(ResolverSettings(qname_minimisation=False))
    answer = await resolver.resolve("www.example.com", "A")
    assert texts(answer) == ["198.51.100.80"]
    root_questions = {str(e.qname) for e in sandbox.network.queries_to("192.0.2.1")}
    root_questions |= {str(e.qname) for e in sandbox.network.queries_to("192.0.2.2")}
    assert "www.example.com." in root_questions


async def test_second_question_is_answered_from_cache(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    await resolver.resolve("www.example.com", "A")
    sent = len(sandbox.network.exchanges)
    await trio.sleep(100)
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.from_cache
    assert answer.ttl == 3600 - 100  # counted down
    assert answer.records[0].ttl == 3600 - 100
    assert len(sandbox.network.exchanges) == sent
    # A sibling name needs only the example.com servers now.
    await resolver.resolve("mail.example.com", "A")
    new = sandbox.network.exchanges[sent:]
    assert [e.server[0] for e in new] == ["198.51.100.10"]


async def test_cname_chain_across_zones(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make()
    answer = await resolver.resolve("shop.example.com", "A")
    assert answer.rcode == Rcode.NOERROR
    assert [r.rtype for r in answer.records] == [RRType.CNAME, RRType.CNAME, RRType.A]
    assert texts(answer) == ["www.cdn.net.", "edge.cdn.net.", "198.51.100.41"]
    assert [r.rdata.to_text() for r in answer.rrset()] == ["198.51.100.41"]


async def test_cname_loop_fails_cleanly(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make()
    answer = await resolver.resolve("loop1.example.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None and "loop" in answer.error.extra_text


async def test_cname_chain_length_is_bounded(autojump_clock: trio.abc.Clock) -> None:
    _, two = make(ResolverSettings(max_chain=2))
    answer = await two.resolve("shop.example.com", "A")
    assert answer.rcode == Rcode.NOERROR  # a chain of two links is allowed
    _, one = make(ResolverSettings(max_chain=1))
    answer = await one.resolve("shop.example.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None and "chain" in answer.error.extra_text


async def test_glueless_and_double_glueless(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    answer = await resolver.resolve("www.glueless.org", "A")
    assert texts(answer) == ["198.51.100.83"]
    # The nameserver's address was looked up in net. before asking glueless.org.
    asked = [str(e.qname) for e in sandbox.network.exchanges]
    assert asked.index("ns.dns-host.net.") < asked.index("www.glueless.org.")
    answer = await resolver.resolve("www.double.org", "A")
    assert texts(answer) == ["198.51.100.84"]


async def test_ns_cycle_fails_without_looping(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    answer = await resolver.resolve("www.cycle-a.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None
    assert answer.error.info_code == EdeCode.NO_REACHABLE_AUTHORITY
    assert trio.current_time() < 5  # noticed, not timed out
    assert len(sandbox.network.exchanges) < 30


async def test_dead_server_loses_the_race(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    # Make the dead server look best, so it is asked first.
    resolver.servers.record_success(("198.51.100.11", 53), 0.001)
    start = trio.current_time()
    answer = await resolver.resolve("www.example.com", "A")
    assert texts(answer) == ["198.51.100.80"]
    to_dead = sandbox.network.queries_to("198.51.100.11")
    to_live = sandbox.network.queries_to("198.51.100.10")
    assert len(to_dead) == 1 and len(to_live) == 1
    # The live server was started after the stagger delay, not after a timeout.
    assert to_live[0].time - to_dead[0].time == pytest.approx(0.05)
    assert trio.current_time() - start < 0.5


async def test_losers_are_cancelled(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    slow = server_of(sandbox, "198.51.100.11")
    slow.set_behaviour(Behaviour(latency=20.0))
    resolver.servers.record_success(("198.51.100.11", 53), 0.001)
    answer = await resolver.resolve("www.example.com", "A")
    assert texts(answer) == ["198.51.100.80"]
    # Had the slow attempt not been cancelled, the race's nursery would have
    # waited for it, about 20 virtual seconds.
    assert trio.current_time() < 1


async def test_lame_server_is_skipped_and_remembered(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    resolver.servers.record_success(("198.51.100.20", 53), 0.001)  # the lame one first
    answer = await resolver.resolve("www.lame.com", "A")
    assert texts(answer) == ["198.51.100.82"]
    assert resolver.stats.lame_replies == 1
    lame_zone = Name.from_text("lame.com").canonical_wire()
    assert resolver.servers.is_lame(("198.51.100.20", 53), lame_zone)
    await resolver.resolve("other.lame.com", "A")
    assert len(sandbox.network.queries_to("198.51.100.20")) == 1


@pytest.mark.parametrize("lame", list(Lame))
async def test_every_kind_of_lameness(autojump_clock: trio.abc.Clock, lame: Lame) -> None:
    sandbox, resolver = make()
    server_of(sandbox, "198.51.100.20").set_behaviour(Behaviour(lame=lame))
    resolver.servers.record_success(("198.51.100.20", 53), 0.001)
    answer = await resolver.resolve("www.lame.com", "A")
    assert texts(answer) == ["198.51.100.82"]


async def test_all_servers_lame_is_servfail(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    server_of(sandbox, "198.51.100.21").set_behaviour(Behaviour(lame=Lame.REFUSED))
    answer = await resolver.resolve("www.lame.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None and "lame" in answer.error.extra_text


async def test_packet_loss_is_retried(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    for host in ("192.0.2.10", "192.0.2.11", "198.51.100.10"):
        server_of(sandbox, host).set_behaviour(Behaviour(loss=0.3))
    answers = [await resolver.resolve(f"n{i}.example.com", "A") for i in range(10)]
    assert all(a.rcode == Rcode.NXDOMAIN for a in answers)
    assert resolver.stats.timeouts > 0  # some packets really were lost


async def test_spoofed_replies_are_ignored(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    for host in ("198.51.100.10",):
        server_of(sandbox, host).set_behaviour(Behaviour(forge=Forgery(count=5)))
    answer = await resolver.resolve("www.example.com", "A")
    assert texts(answer) == ["198.51.100.80"]
    assert resolver.exchange_stats.ignored_replies >= 5  # type: ignore[attr-defined]


async def test_nxdomain_is_cached_until_it_expires(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    answer = await resolver.resolve("nope.example.com", "A")
    assert answer.rcode == Rcode.NXDOMAIN
    assert answer.soa is not None and answer.ttl == 300
    sent = len(sandbox.network.exchanges)
    again = await resolver.resolve("nope.example.com", "AAAA")  # NXDOMAIN covers every type
    assert again.rcode == Rcode.NXDOMAIN and again.from_cache
    below = await resolver.resolve("deeper.nope.example.com", "A")  # RFC 8020
    assert below.rcode == Rcode.NXDOMAIN and below.from_cache
    assert len(sandbox.network.exchanges) == sent
    await trio.sleep(301)
    await resolver.resolve("nope.example.com", "A")
    assert len(sandbox.network.exchanges) > sent


async def test_nodata_is_cached_per_type(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    answer = await resolver.resolve("mail.example.com", "AAAA")
    assert answer.rcode == Rcode.NOERROR and answer.records == () and answer.soa is not None
    sent = len(sandbox.network.exchanges)
    again = await resolver.resolve("mail.example.com", "AAAA")
    assert again.from_cache and again.rcode == Rcode.NOERROR
    assert len(sandbox.network.exchanges) == sent
    other = await resolver.resolve("mail.example.com", "A")
    assert texts(other) == ["198.51.100.25"]


async def test_big_answer_comes_over_tcp(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    answer = await resolver.resolve("big.example.com", "TXT")
    assert len(answer.records) == 12
    assert any(e.transport == "tcp" for e in sandbox.network.queries_to("198.51.100.10"))


async def test_ipv6_only_nameserver(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make()
    answer = await resolver.resolve("www.v6only.net", "A")
    assert texts(answer) == ["198.51.100.86"]
    _, v4only = make(ResolverSettings(use_ipv6=False))
    answer = await v4only.resolve("www.v6only.net", "A")
    assert answer.rcode == Rcode.SERVFAIL


async def test_deadline_bounds_a_hopeless_question(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make(ResolverSettings(deadline=4.0))
    for host in ("192.0.2.10", "192.0.2.11"):
        server_of(sandbox, host).set_behaviour(Behaviour(dead=True))
    start = trio.current_time()
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None
    assert answer.error.info_code == EdeCode.NO_REACHABLE_AUTHORITY
    assert trio.current_time() - start <= 4.0 + 1e-9


async def test_the_deadline_cuts_the_last_query_short_and_blames_no_server(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Servers slower than the question may wait: the query under way when the
    # deadline comes ends then, as a timed-out answer, not as a server timeout.
    sandbox, resolver = make(ResolverSettings(deadline=1.5))
    for host in ("192.0.2.10", "192.0.2.11"):
        server_of(sandbox, host).set_behaviour(Behaviour(latency=30.0))
    start = trio.current_time()
    answer = await resolver.resolve("www.example.com", "A")
    assert trio.current_time() - start == pytest.approx(1.5)
    assert answer.timed_out and answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None
    assert answer.error.info_code == EdeCode.NO_REACHABLE_AUTHORITY
    assert answer.error.extra_text == "no answer within the 1.5 s deadline"
    timeouts = resolver.stats.timeouts
    asked = resolver.stats.upstream_queries
    # Every query but those the deadline cut short timed out on its own.
    assert 0 < timeouts < asked
    with pytest.raises(ResolutionTimeout):
        answer.raise_for_status()


async def test_query_budget(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make(ResolverSettings(max_queries=2))
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert (
        answer.error is not None and answer.error.extra_text == "gave up after 2 upstream queries"
    )
    assert answer.error.info_code == EdeCode.OTHER


NXNS_ROOT = """
$ORIGIN .
$TTL 86400
@          SOA  a.root. hostmaster.root. 1 1800 900 604800 86400
@          NS   a.root.
a.root.    A    192.0.2.1
evil.      NS   ns.evil.
ns.evil.   A    192.0.2.66
victim.    NS   ns.victim.
ns.victim. A    192.0.2.99
"""


async def test_nxns_limit_on_nameserver_names(autojump_clock: trio.abc.Clock) -> None:
    # attack.evil is delegated to 30 glueless names inside victim.: a resolver that
    # chased them all would be an amplifier aimed at victim's servers (NXNSAttack).
    from trio_dns import read_zone
    from trio_dns.testing import FakeNetwork

    evil = "$ORIGIN evil.\n$TTL 60\n@ SOA ns hm 1 1 1 1 60\n@ NS ns\nns A 192.0.2.66\n"
    evil += "\n".join(f"attack NS ns{i}.victim." for i in range(30))
    victim = "$ORIGIN victim.\n$TTL 60\n@ SOA ns hm 1 1 1 1 60\n@ NS ns\nns A 192.0.2.99\n"
    net = FakeNetwork()
    net.add_server(["192.0.2.1"], [NXNS_ROOT])
    net.add_server(["192.0.2.66"], [evil])
    net.add_server(["192.0.2.99"], [victim])
    hints = read_zone(". NS a.root.\na.root. A 192.0.2.1", origin=".", default_ttl=3600000)
    resolver = Resolver(root_hints=hints, transport=net)
    answer = await resolver.resolve("www.attack.evil", "A")
    assert answer.rcode == Rcode.SERVFAIL
    to_victim = {str(e.qname) for e in net.queries_to("192.0.2.99")}
    # The attack really was attempted (the names were looked up), and bounded.
    assert 0 < len(to_victim) <= resolver.settings.max_glueless_per_delegation
    assert all(name.endswith(".victim.") for name in to_victim)


async def test_identical_questions_share_one_resolution(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    answers = []

    async def ask() -> None:
        answers.append(await resolver.resolve("www.example.com", "A"))

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(ask)
    assert len(answers) == 10 and all(texts(a) == ["198.51.100.80"] for a in answers)
    assert len(sandbox.network.queries_for("www.example.com", "A")) == 1
    assert resolver.stats.shared == 9


async def test_broken_minimisation_falls_back_to_the_full_name(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make()
    server = server_of(sandbox, "198.51.100.10")
    from trio_dns.testing import answer_query

    zones = server.zones

    def broken(query: Message) -> Message:
        # Says NXDOMAIN for every name it has no records at, even when names
        # exist below it (an empty non-terminal): what RFC 9156 warns about.
        reply = answer_query(zones, query)
        if (
            reply.rcode == Rcode.NOERROR
            and not reply.answer
            and str(query.question[0].name) == "wild.example.com."
        ):
            return attrs.evolve(reply, header=attrs.evolve(reply.header, rcode=Rcode.NXDOMAIN))
        return reply

    server.set_behaviour(Behaviour(handler=broken))
    answer = await resolver.resolve("x.y.wild.example.com", "A")
    assert texts(answer) == ["198.51.100.99"]
    asked = [str(e.qname) for e in sandbox.network.queries_to("198.51.100.10")]
    assert "x.y.wild.example.com." in asked


async def test_trace_shows_every_hop(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make()
    answer = await resolver.resolve("www.example.com", "A", trace=True)
    queries = [e for e in answer.trace if e.kind == "query"]
    assert [str(e.zone) for e in queries][-3:] == [".", "com.", "example.com."]
    assert all(e.rtt is not None for e in queries)
    text = "\n".join(e.to_text() for e in answer.trace)
    assert "referral to com." in text and "answer" in text


async def test_invalid_arguments_raise(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make()
    with pytest.raises(DNSError):
        await resolver.resolve("bad..name", "A")
    with pytest.raises(DNSError):
        await resolver.resolve("example.com", "NOSUCHTYPE")
    with pytest.raises(DNSError):
        await resolver.resolve("example.com", "AXFR")


async def test_eviction_under_a_small_cache(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make(max_entries=8)
    for i in range(10):
        await resolver.resolve(f"n{i}.example.com", "A")
    assert len(resolver.cache) <= 8
    assert resolver.cache.evictions > 0
    answer = await resolver.resolve("www.example.com", "A")
    assert texts(answer) == ["198.51.100.80"]


async def test_default_resolver_flags_and_ids(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    await resolver.resolve("www.example.com", "A")
    queries = [e.query for e in sandbox.network.exchanges if isinstance(e.query, Message)]
    assert all(Flag.RD not in q.flags for q in queries)  # iterative queries
    assert len({q.id for q in queries}) > 1  # random IDs


async def test_cache_only_lookups_never_touch_the_network(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    assert resolver.cached("shop.example.com", "A") is None
    assert sandbox.network.exchanges == ()
    await resolver.resolve("shop.example.com", "A")
    sent = len(sandbox.network.exchanges)
    answer = resolver.cached("shop.example.com", "A")
    assert answer is not None and answer.from_cache
    assert texts(answer) == ["www.cdn.net.", "edge.cdn.net.", "198.51.100.41"]
    negative = await resolver.resolve("nope.example.com", "A")
    assert negative.rcode == Rcode.NXDOMAIN
    cached = resolver.cached("nope.example.com", "A")
    assert cached is not None and cached.rcode == Rcode.NXDOMAIN
    assert len(sandbox.network.exchanges) == sent + 1


async def test_garbage_from_one_server_is_survived(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    server_of(sandbox, "192.0.2.10").set_behaviour(Behaviour(garbage=True))
    resolver.servers.record_success(("192.0.2.10", 53), 0.001)  # the broken one first
    answer = await resolver.resolve("www.example.com", "A")
    assert texts(answer) == ["198.51.100.80"]
    assert resolver.exchange_stats.malformed_replies >= 1  # type: ignore[attr-defined]


async def test_upward_referral_loop_is_lame_not_a_loop(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    # Both com servers send everyone back to the root: nothing can be found.
    for host in ("192.0.2.10", "192.0.2.11"):
        server_of(sandbox, host).set_behaviour(Behaviour(lame=Lame.UPWARD_REFERRAL))
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert len(sandbox.network.exchanges) <= 2 * resolver.settings.rounds + 4


async def test_endless_delegation_chain_is_bounded(autojump_clock: trio.abc.Clock) -> None:
    sandbox = build_sandbox()
    qname = Name.from_text(".".join(f"l{i}" for i in range(60)) + ".example.com")
    referrals = 0

    def always_deeper(query: Message) -> Message:
        # Refers each question one label further down than the last, to itself
        # again (glue in bailiwick), for as long as the name lasts.
        nonlocal referrals
        referrals += 1
        cut = qname.ancestor(len(Name.from_text("example.com")) + referrals)
        ns_name = cut.child(b"ns")
        reply = query.make_response()
        return attrs.evolve(
            reply,
            authority=(Record(cut, RRType.NS, RRClass.IN, 60, NS(ns_name)),),
            additional=(Record(ns_name, RRType.A, RRClass.IN, 60, A("198.51.100.10")),),
        )

    server_of(sandbox, "198.51.100.10").set_behaviour(Behaviour(handler=always_deeper))
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=ResolverSettings(qname_minimisation=False),
    )
    answer = await resolver.resolve(qname, "A")
    assert answer.rcode == Rcode.SERVFAIL
    # A budget stopped it (30 referrals, or the 32 queries), not the name's end.
    assert answer.error is not None and answer.error.info_code == EdeCode.OTHER
    assert referrals < 60
    assert resolver.stats.upstream_queries <= resolver.settings.max_queries == 32


async def test_minimisation_skips_steps_already_answered(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make()
    await resolver.resolve("a.wild.example.com", "A")
    first = [str(e.qname) for e in sandbox.network.queries_to("198.51.100.10")]
    assert first == ["wild.example.com.", "a.wild.example.com."]
    sandbox.network.clear_log()
    answer = await resolver.resolve("b.wild.example.com", "A")
    assert texts(answer) == ["198.51.100.99"]
    # wild.example.com was found to be no zone cut (NODATA) the first time.
    assert [str(e.qname) for e in sandbox.network.exchanges] == ["b.wild.example.com."]


async def test_minimisation_skips_to_the_full_name_when_the_parent_is_known(
    autojump_clock: trio.abc.Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, resolver = make()
    await resolver.resolve("x.y.wild.example.com", "A")
    first = [str(e.qname) for e in sandbox.network.queries_to("198.51.100.10")]
    assert first == ["wild.example.com.", "y.wild.example.com.", "x.y.wild.example.com."]
    # Only the full name is known to exist: a sibling still walks the labels,
    # but finds them all cached, so asks the full name straight away.
    sandbox.network.clear_log()
    await resolver.resolve("z.y.wild.example.com", "A")
    assert [str(e.qname) for e in sandbox.network.exchanges] == ["z.y.wild.example.com."]
    # Under a name already answered, one look-up of the parent replaces the
    # walk down from the zone, label by label.
    asked: list[str] = []
    no_cut_below = Iteration._no_cut_below

    def spy(self: Iteration, name: Name) -> bool:
        asked.append(str(name))
        return no_cut_below(self, name)

    monkeypatch.setattr(Iteration, "_no_cut_below", spy)
    sandbox.network.clear_log()
    await resolver.resolve("deep.x.y.wild.example.com", "A")
    assert [str(e.qname) for e in sandbox.network.exchanges] == ["deep.x.y.wild.example.com."]
    assert asked == ["x.y.wild.example.com."]


# -- hardening (issue 11): old data, cut chains, the root's word, the budget ----------------


def replace(sandbox: Sandbox, hosts: list[str], zones: list[str], **behaviour: object) -> None:
    """Put new servers (zones, behaviour) at the addresses of old ones."""
    for host in hosts:
        old = sandbox.network.server_at(host)
        assert old is not None
        sandbox.network.remove(old)
        sandbox.network.add_server([host], zones, behaviour=Behaviour(**behaviour))  # type: ignore[arg-type]


def knot_like(zones: list[str], links: int = 5):  # type: ignore[no-untyped-def]
    """A handler answering from `zones` that stops a CNAME chain after `links`
    links, as Knot DNS does: the reply ends at a CNAME, with no data, no SOA."""
    served = [Zone.from_text(text) for text in zones]

    def handler(query: Message) -> Message:
        reply = answer_query(served, query)
        cnames = [r for r in reply.answer if r.rtype == RRType.CNAME]
        if len(cnames) <= links:
            return reply
        return attrs.evolve(reply, answer=tuple(cnames[:links]), authority=())

    return handler


async def test_a_chain_cut_short_by_the_server_is_followed(autojump_clock: trio.abc.Clock) -> None:
    chain = "".join(f"k{i} CNAME k{i + 1}\n" for i in range(9)) + "k9 A 198.51.100.99\n"
    zone = EXAMPLE_ZONE + "\n" + chain
    sandbox, resolver = make()
    replace(sandbox, ["198.51.100.10"], [], handler=knot_like([zone]))
    answer = await resolver.resolve("k0.example.com", "A")
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer)[-2:] == ["k9.example.com.", "198.51.100.99"]
    assert len(answer.records) == 10
    # Asked again from k5, where the first reply stopped: one more question.
    asked = [str(e.qname) for e in sandbox.network.queries_to("198.51.100.10")]
    assert asked[-2:] == ["k0.example.com.", "k5.example.com."]
    # The cut end was never taken for NODATA.
    now = trio.current_time()
    assert (
        resolver.cache.get_negative(Name.from_text("k5.example.com"), RRType.A, RRClass.IN, now)
        is None
    )
    again = await resolver.resolve("k3.example.com", "A")
    assert again.from_cache and texts(again)[-1] == "198.51.100.99"


async def test_a_domain_removed_by_its_parent_dies_with_the_delegation(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Ghost domains (CVE-2012-1033): the child repeats its NS set, with a long
    TTL, in every answer; once the parent drops the delegation it must be gone
    when the parent's TTL says, however often the child is asked meanwhile."""
    delegation = "ghost 3600 NS ns1.ghost.com.\nns1.ghost 3600 A 198.51.100.50\n"
    ghost = Zone.from_text(
        "$ORIGIN ghost.com.\n$TTL 86400\n@ SOA ns1 hostmaster 1 7200 900 1209600 60\n"
        "@ NS ns1\nns1 A 198.51.100.50\n* 60 A 198.51.100.51\n"
    )

    def with_ns_in_authority(query: Message) -> Message:
        # As BIND does without minimal-responses.
        reply = answer_query([ghost], query)
        if reply.answer:
            reply = attrs.evolve(reply, authority=ghost.rrset(ghost.origin, RRType.NS))
        return reply

    sandbox, resolver = make()
    replace(sandbox, ["192.0.2.10", "192.0.2.11"], [COM_ZONE + delegation])
    sandbox.network.add_server(
        ["198.51.100.50"], [], behaviour=Behaviour(handler=with_ns_in_authority)
    )
    first = await resolver.resolve("h0.ghost.com", "A")
    assert texts(first) == ["198.51.100.51"]
    replace(sandbox, ["192.0.2.10", "192.0.2.11"], [COM_ZONE])  # the registry removes it
    seen = {}
    for i in range(1, 13):  # a new name every ten minutes, for two hours
        await trio.sleep(600)
        answer = await resolver.resolve(f"h{i}.ghost.com", "A")
        seen[i * 600] = answer.rcode
    assert all(rcode == Rcode.NOERROR for when, rcode in seen.items() if when < 3600)
    assert all(rcode == Rcode.NXDOMAIN for when, rcode in seen.items() if when > 3600)


async def test_priming_learns_the_root_servers_from_the_priming_reply(
    autojump_clock: trio.abc.Clock,
) -> None:
    """RFC 8109: the root's own NS set and its servers' addresses (additional
    section) replace the hints; the root speaks for the whole namespace, but
    what it adds beside them is not kept."""
    hints_ns = "@ 518400 NS a.root-servers.sandbox.\n@ 518400 NS b.root-servers.sandbox."
    assert hints_ns in ROOT_ZONE
    renamed = ROOT_ZONE.replace(hints_ns, "@ 518400 NS x.root.test.") + (
        "test. NS x.root.test.\nx.root.test. A 192.0.2.2\n"
    )
    root = Zone.from_text(renamed)
    sandbox_zone = Zone.from_text(SANDBOX_ZONE)
    forged = Record(Name.from_text("bank.test"), RRType.A, RRClass.IN, 86400, A("203.0.113.66"))

    def priming(query: Message) -> Message:
        reply = answer_query([root, sandbox_zone], query)
        return attrs.evolve(reply, additional=(*reply.additional, forged))

    sandbox, resolver = make()
    replace(sandbox, ["192.0.2.1"], [renamed], dead=True)  # the hints' first server is gone
    replace(sandbox, ["192.0.2.2"], [], handler=priming)
    answer = await resolver.resolve("www.example.com", "A")
    assert texts(answer) == ["198.51.100.80"]
    now = trio.current_time()
    root_ns = resolver.cache.get_rrset(Name.from_text("."), RRType.NS, RRClass.IN, now)
    assert root_ns is not None and [str(r.rdata) for r in root_ns.records] == ["x.root.test."]
    x = resolver.cache.get_rrset(Name.from_text("x.root.test"), RRType.A, RRClass.IN, now)
    assert x is not None and [str(r.rdata) for r in x.records] == ["192.0.2.2"]
    # The priming reply's extra address was not kept, not even as glue.
    assert resolver.cache.get_rrset(Name.from_text("bank.test"), RRType.A, RRClass.IN, now) is None


async def test_one_question_costs_at_most_32_upstream_queries(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Forty nameservers, each answering SERVFAIL at once: without a budget the
    # resolver would go through all of them, four rounds over.
    many = "".join(
        f"many NS ns{i}.many.com.\nns{i}.many A 198.51.100.{100 + i}\n" for i in range(40)
    )
    sandbox, resolver = make()
    replace(sandbox, ["192.0.2.10", "192.0.2.11"], [COM_ZONE + many])

    def servfail(query: Message) -> Message:
        return query.make_response(Rcode.SERVFAIL, Flag.AA)

    sandbox.network.add_server(
        [f"198.51.100.{100 + i}" for i in range(40)], [], behaviour=Behaviour(handler=servfail)
    )
    answer = await resolver.resolve("www.many.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None
    assert answer.error.extra_text == "gave up after 32 upstream queries"
    assert resolver.stats.upstream_queries == len(sandbox.network.exchanges) == 32


def test_loopback_nameservers_are_asked_only_when_the_root_or_upstream_is_on_loopback() -> None:
    def hints(address: str) -> list[Record]:
        return [
            Record(Name.from_text("."), RRType.NS, RRClass.IN, 3600, NS(Name.from_text("a.root."))),
            Record(Name.from_text("a.root."), RRType.A, RRClass.IN, 3600, A(address)),
        ]

    def asks_loopback(resolver: Resolver) -> bool:
        return resolver._context.query_loopback

    assert not asks_loopback(Resolver(root_hints=hints("192.0.2.1")))
    assert asks_loopback(Resolver(root_hints=hints("127.54.0.1")))
    forwarded = ResolverSettings(forwarders=(("127.0.0.53", 53),))
    assert asks_loopback(Resolver(root_hints=hints("192.0.2.1"), settings=forwarded))
    # Said outright, either way.
    never = ResolverSettings(query_loopback=False)
    assert not asks_loopback(Resolver(root_hints=hints("127.54.0.1"), settings=never))
    always = ResolverSettings(query_loopback=True)
    assert asks_loopback(Resolver(root_hints=hints("192.0.2.1"), settings=always))

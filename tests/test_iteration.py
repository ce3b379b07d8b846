"""The resolution state machine, walked step by step: no network, no trio.

Each test builds a resolver's state by hand (tests/iteration_util.py), asks an
`Iteration` for its next step, checks that step exactly, and feeds back what a
server said (judged by the step itself, as the driver's race does), a failure,
or the addresses a sub-lookup found.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.iteration_util import (
    COM,
    COM_GLUE,
    COM_NS,
    EXAMPLE,
    EXAMPLE_GLUE,
    EXAMPLE_NS,
    EXAMPLE_SOA,
    ROOT_A,
    ROOT_A6,
    ROOT_B,
    ROOT_SERVERS,
    Setup,
    addr,
    answer_with,
    ask,
    done,
    n,
    reply,
    resolve_step,
    setup,
    texts,
)
from trio_dns._address import Address
from trio_dns._decisions.authority import Zone
from trio_dns._decisions.iteration import (
    MAX_MINIMISE_COUNT,
    Addresses,
    Ask,
    Context,
    Failed,
    Iteration,
    NoServers,
    OutOfBudget,
    Prime,
    Primed,
    Replied,
    Resolve,
    Unreachable,
    Work,
)
from trio_dns._decisions.local_zones import default_zones
from trio_dns._decisions.recursion import Outcome
from trio_dns._network.resolver import ResolverSettings
from trio_dns._trust import NegativeKind, Rank
from trio_dns._wire.enums import EdeCode, Rcode, RRClass, RRType
from trio_dns._wire.name import ROOT, Name

IN = RRClass.IN
A = RRType.A
NS = RRType.NS
EXAMPLE2 = addr("192.0.2.21")
HOST_NET = addr("198.51.100.53")  # ns.dns-host.net, found by a glueless lookup


def with_com(s: Setup) -> Setup:
    s.delegate(COM_NS, COM_GLUE)
    return s


def with_example(s: Setup, *more_ns: str) -> Setup:
    with_com(s)
    s.delegate((*EXAMPLE_NS, *more_ns), EXAMPLE_GLUE)
    return s


def timeouts(*servers: tuple[str, int]) -> Failed:
    return Failed(tuple((server, TimeoutError()) for server in servers))


# -- priming and the root ------------------------------------------------------------


def test_priming_comes_first_when_the_root_ns_set_is_not_cached() -> None:
    s = setup(primed=False)
    it = s.iteration("www.example.com")
    assert it.next_step() == Prime()
    assert it.next_step() == Prime()  # the same step until something is received

    priming = Iteration.priming(s.context, it.work)
    step = ask(priming)
    # The hinted servers at their hinted addresses, IPv6 too.
    assert step == Ask(ROOT, ROOT_SERVERS, ROOT, RRType.NS, IN)
    renumbered = reply(
        ".",
        "NS",
        answer=[". 518400 IN NS a.root-servers.test.", ". 518400 IN NS b.root-servers.test."],
        additional=[
            "a.root-servers.test. 518400 IN A 192.0.2.1",
            "b.root-servers.test. 518400 IN A 192.0.2.3",
        ],
    )
    priming.receive(Replied(step.judge(renumbered)))
    primed = done(priming)
    assert (primed.qname, primed.qtype, primed.rcode) == (ROOT, RRType.NS, Rcode.NOERROR)
    root_ns = s.cache.get_rrset(ROOT, RRType.NS, IN, s.clock())
    assert root_ns is not None and root_ns.rank == Rank.AUTH_ANSWER

    it.receive(Primed())
    # Now the primed root: b's new address; a's address from the reply (its
    # hinted AAAA is no longer used, for the priming reply gave a an address).
    assert ask(it) == Ask(ROOT, (ROOT_A, addr("192.0.2.3")), n("com"), NS, IN, minimised=True)

    # The next question does not prime again.
    assert ask(s.iteration("www.example.org")) == Ask(
        ROOT, (ROOT_A, addr("192.0.2.3")), n("org"), NS, IN, minimised=True
    )


def test_priming_that_fails_every_round_falls_back_to_the_hints() -> None:
    s = setup(primed=False)
    it = s.iteration("www.example.com")
    assert it.next_step() == Prime()
    work = it.work
    priming = Iteration.priming(s.context, work)
    for _ in range(s.context.settings.rounds):
        assert ask(priming) == Ask(ROOT, ROOT_SERVERS, ROOT, RRType.NS, IN)
        priming.receive(timeouts(*ROOT_SERVERS))
    assert done(priming).rcode == Rcode.NOERROR
    assert work.trace is not None
    assert [(e.kind, e.outcome) for e in work.trace] == [("note", "priming failed")]
    assert s.cache.get_rrset(ROOT, RRType.NS, IN, s.clock()) is None

    it.receive(Primed())
    assert ask(it) == Ask(ROOT, ROOT_SERVERS, n("com"), NS, IN, minimised=True)
    # Nothing was learnt, so the next question primes again.
    assert s.iteration("www.example.org").next_step() == Prime()


def test_root_servers_are_asked_best_ranked_first() -> None:
    s = setup(primed=False)
    now = s.monotonic()
    s.servers.record_success(ROOT_B, 0.010)
    s.servers.record_timeout(ROOT_A, now)  # its estimate doubles, above a never-tried one
    priming = Iteration.priming(s.context, s.work())
    assert ask(priming) == Ask(ROOT, (ROOT_B, ROOT_A6, ROOT_A), ROOT, RRType.NS, IN)

    # Held down after repeated failures: last, however fast it once was.
    for _ in range(3):
        s.servers.record_failure(ROOT_B, now)
    assert ask(Iteration.priming(s.context, s.work())).servers == (ROOT_A6, ROOT_A, ROOT_B)


def test_a_cached_root_ns_set_without_addresses_is_asked_at_the_hinted_ones() -> None:
    s = setup(primed=False)
    s.put(". 86400 IN NS a.root-servers.test.", ". 86400 IN NS b.root-servers.test.")
    assert ask(s.iteration("www.example.com")) == Ask(
        ROOT, ROOT_SERVERS, n("com"), NS, IN, minimised=True
    )


def test_ipv6_off_leaves_out_the_ipv6_addresses() -> None:
    s = setup(ResolverSettings(use_ipv6=False), primed=False)
    assert ask(Iteration.priming(s.context, s.work())).servers == (ROOT_A, ROOT_B)


# -- referrals and glue --------------------------------------------------------------


def test_referrals_lead_down_to_each_child_zones_servers_at_their_glue() -> None:
    s = setup()
    it = s.iteration("www.example.com")
    step = answer_with(it, reply("com", "A", aa=False, authority=COM_NS, additional=COM_GLUE))
    assert step == Ask(ROOT, ROOT_SERVERS, n("com"), NS, IN, minimised=True)
    step = answer_with(
        it, reply("example.com", "A", aa=False, authority=EXAMPLE_NS, additional=EXAMPLE_GLUE)
    )
    assert step == Ask(n("com"), (COM,), n("example.com"), NS, IN, minimised=True)
    step = answer_with(
        it, reply("www.example.com", "A", answer=["www.example.com. 300 IN A 192.0.2.80"])
    )
    assert step == Ask(n("example.com"), (EXAMPLE,), n("www.example.com"), A, IN)
    answer = done(it)
    assert answer.rcode == Rcode.NOERROR and not answer.from_cache
    assert texts(answer.records) == ["www.example.com.\t300\tIN\tA\t192.0.2.80"]
    assert answer.ttl == 300
    assert it.next_step() == it.next_step()  # Done stays Done
    with pytest.raises(RuntimeError):
        it.receive(Primed())

    # What the walk left: the cut with its glue, below the authoritative answer.
    now = s.clock()
    cut = s.cache.get_rrset(n("example.com"), RRType.NS, IN, now)
    glue = s.cache.get_rrset(n("ns1.example.com"), A, IN, now)
    data = s.cache.get_rrset(n("www.example.com"), A, IN, now)
    assert cut is not None and cut.rank == Rank.AUTHORITY
    assert glue is not None and glue.rank == Rank.ADDITIONAL
    assert data is not None and data.rank == Rank.AUTH_ANSWER

    # The next name in the zone starts at the cut, and the cached name needs no step.
    assert ask(s.iteration("mail.example.com")) == Ask(
        n("example.com"), (EXAMPLE,), n("mail.example.com"), A, IN
    )
    cached = done(s.iteration("www.example.com"))
    assert cached.from_cache and texts(cached.records) == texts(answer.records)


def test_referral_glue_outside_the_referring_zone_is_not_used() -> None:
    s = with_com(setup())
    it = s.iteration("www.example.com")
    answer_with(
        it,
        reply(
            "example.com",
            "A",
            aa=False,
            authority=["example.com. 86400 IN NS ns.example.net."],
            # com's servers cannot vouch for an address in net.
            additional=["ns.example.net. 86400 IN A 203.0.113.66"],
        ),
    )
    assert resolve_step(it) == Resolve(
        (n("ns.example.net"),), n("example.com"), ((n("www.example.com"), A),)
    )


# -- glueless delegations ------------------------------------------------------------


def test_a_glueless_delegation_asks_for_its_nameservers_addresses() -> None:
    s = with_com(setup())
    it = s.iteration("www.example.com")
    step = answer_with(
        it,
        reply(
            "example.com",
            "A",
            aa=False,
            authority=[
                "example.com. 86400 IN NS ns.dns-host.net.",
                "example.com. 86400 IN NS ns2.example.com.",  # in the zone, but no glue
            ],
        ),
    )
    assert step == Ask(n("com"), (COM,), n("example.com"), NS, IN, minimised=True)
    # Only the out-of-zone name: asking example.com where its own server is would loop.
    assert resolve_step(it) == Resolve(
        (n("ns.dns-host.net"),), n("example.com"), ((n("www.example.com"), A),)
    )
    it.receive(Addresses((HOST_NET,)))
    assert ask(it) == Ask(n("example.com"), (HOST_NET,), n("www.example.com"), A, IN)


def test_glueless_names_are_resolved_only_once_the_glued_servers_fail() -> None:
    s = with_example(setup(), "example.com. 86400 IN NS ns.dns-host.net.")
    it = s.iteration("www.example.com")
    assert ask(it) == Ask(n("example.com"), (EXAMPLE,), n("www.example.com"), A, IN)
    s.servers.record_timeout(EXAMPLE, s.monotonic())  # as the driver's race would
    it.receive(timeouts(EXAMPLE))
    assert resolve_step(it) == Resolve(
        (n("ns.dns-host.net"),), n("example.com"), ((n("www.example.com"), A),)
    )
    it.receive(Addresses((HOST_NET,)))
    # Both now, the one that timed out last.
    assert ask(it) == Ask(n("example.com"), (HOST_NET, EXAMPLE), n("www.example.com"), A, IN)


def test_an_in_zone_nameserver_known_as_an_alias_is_resolved_once_the_others_fail() -> None:
    # ns.example.com's glue has expired, and the zone's other server fails. An
    # in-zone name is normally only glue's to tell, but the cache knows it as an
    # alias for a name outside the zone: that can be looked up without asking
    # example.com (Deckard's iter_cname_cache).
    s = with_example(setup(), "example.com. 86400 IN NS ns.example.com.")
    s.put("ns.example.com. 3600 IN CNAME ns.example.net.", rank=Rank.ANSWER)
    it = s.iteration("www.example.com")
    assert ask(it) == Ask(n("example.com"), (EXAMPLE,), n("www.example.com"), A, IN)
    s.servers.record_timeout(EXAMPLE, s.monotonic())
    it.receive(timeouts(EXAMPLE))
    assert resolve_step(it) == Resolve(
        (n("ns.example.com"),), n("example.com"), ((n("www.example.com"), A),)
    )


def test_an_in_zone_nameserver_without_glue_or_alias_is_not_looked_up() -> None:
    s = with_example(setup(), "example.com. 86400 IN NS ns.example.com.")
    it = s.iteration("www.example.com")
    assert ask(it) == Ask(n("example.com"), (EXAMPLE,), n("www.example.com"), A, IN)
    s.servers.record_timeout(EXAMPLE, s.monotonic())
    it.receive(timeouts(EXAMPLE))
    # Nothing to resolve: the same server again, the next round.
    assert ask(it) == Ask(n("example.com"), (EXAMPLE,), n("www.example.com"), A, IN)


def test_nameservers_at_loopback_and_impossible_addresses_are_never_asked() -> None:
    # A referral that names this host's loopback (a blocklist's 127.0.0.2, or a
    # forger aiming the resolver at itself) or addresses no server can have.
    s = with_com(setup())
    it = s.iteration("www.example.com")
    step = answer_with(
        it,
        reply(
            "example.com",
            "A",
            aa=False,
            authority=[
                "example.com. 86400 IN NS ns1.example.com.",
                "example.com. 86400 IN NS ns2.example.com.",
                "example.com. 86400 IN NS ns3.example.com.",
            ],
            additional=[
                "ns1.example.com. 86400 IN A 127.0.0.2",
                "ns1.example.com. 86400 IN AAAA ::1",
                "ns2.example.com. 86400 IN A 255.255.255.255",
                "ns2.example.com. 86400 IN A 0.0.0.0",
                "ns3.example.com. 86400 IN A 224.0.0.1",
            ],
        ),
    )
    assert step == Ask(n("com"), (COM,), n("example.com"), NS, IN, minimised=True)
    with pytest.raises(NoServers):
        it.next_step()


def test_loopback_nameservers_are_asked_when_the_internet_is_on_loopback() -> None:
    s = with_com(setup())
    s.context.query_loopback = True
    s.delegate(
        ("example.com. 86400 IN NS ns1.example.com.",), ("ns1.example.com. 86400 IN A 127.0.0.2",)
    )
    it = s.iteration("www.example.com")
    assert ask(it) == Ask(n("example.com"), (addr("127.0.0.2"),), n("www.example.com"), A, IN)


def test_a_name_already_being_resolved_up_the_path_is_not_asked_again() -> None:
    s = with_com(setup())
    s.delegate(
        (
            "example.com. 86400 IN NS ns.example.net.",
            "example.com. 86400 IN NS ns.example.com.",
            "example.com. 86400 IN NS ns.example.org.",
        )
    )
    # This lookup is itself the sub-lookup of ns.example.net's address.
    path = ((n("ns.example.net"), A),)
    it = s.iteration("www.example.com", path=path)
    step = resolve_step(it)
    assert step == Resolve(
        (n("ns.example.org"),), n("example.com"), (*path, (n("www.example.com"), A))
    )
    it.receive(Addresses(()))
    with pytest.raises(NoServers):
        it.next_step()


def test_a_delegation_whose_only_nameserver_is_a_cycle_has_no_servers() -> None:
    s = with_com(setup())
    s.delegate(("example.com. 86400 IN NS ns.example.net.",))
    it = s.iteration("ns.example.com", path=((n("www.example.net"), A), (n("ns.example.net"), A)))
    with pytest.raises(NoServers):
        it.next_step()


def test_glueless_lookups_are_limited_in_width_and_depth() -> None:
    s = with_com(setup(ResolverSettings(max_glueless_per_delegation=2)))
    s.delegate(tuple(f"example.com. 86400 IN NS ns{i}.host{i}.net." for i in range(3)))
    step = resolve_step(s.iteration("www.example.com"))
    assert step.names == (n("ns0.host0.net"), n("ns1.host1.net"))

    deep = tuple((n(f"ns.level{i}.net"), A) for i in range(4))  # max_glueless_depth is 4
    with pytest.raises(OutOfBudget, match="nested too deeply"):
        s.iteration("www.example.com", path=deep).next_step()


def test_a_glueless_delegation_is_resolved_even_with_one_round() -> None:
    s = with_com(setup(ResolverSettings(rounds=1)))
    s.delegate(("example.com. 86400 IN NS ns.dns-host.net.",))
    assert resolve_step(s.iteration("www.example.com")) == Resolve(
        (n("ns.dns-host.net"),), n("example.com"), ((n("www.example.com"), A),)
    )


# -- QNAME minimisation --------------------------------------------------------------


def test_minimisation_reveals_one_label_at_a_time_asking_for_ns() -> None:
    s = with_example(setup())
    it = s.iteration("a.b.c.example.com", RRType.AAAA)
    zone, servers = n("example.com"), (EXAMPLE,)
    assert answer_with(it, reply("c.example.com", "A", authority=[EXAMPLE_SOA])) == Ask(
        zone, servers, n("c.example.com"), NS, IN, minimised=True
    )
    assert answer_with(it, reply("b.c.example.com", "A", authority=[EXAMPLE_SOA])) == Ask(
        zone, servers, n("b.c.example.com"), NS, IN, minimised=True
    )
    final = reply(
        "a.b.c.example.com", "AAAA", answer=["a.b.c.example.com. 300 IN AAAA 2001:db8::80"]
    )
    assert answer_with(it, final) == Ask(zone, servers, n("a.b.c.example.com"), RRType.AAAA, IN)
    assert texts(done(it).records) == ["a.b.c.example.com.\t300\tIN\tAAAA\t2001:db8::80"]

    # The empty non-terminals were remembered as NODATA for A...
    for name in ("c.example.com", "b.c.example.com"):
        negative = s.cache.get_negative(n(name), NS, IN, s.clock())
        assert negative is not None and negative.kind == NegativeKind.NODATA
    # ...so a name below them skips the steps already taken.
    assert ask(s.iteration("x.b.c.example.com", RRType.AAAA)) == Ask(
        zone, servers, n("x.b.c.example.com"), RRType.AAAA, IN
    )
    assert ask(s.iteration("y.c.example.com", RRType.AAAA)) == Ask(
        zone, servers, n("y.c.example.com"), RRType.AAAA, IN
    )


def test_nxdomain_for_a_minimised_name_switches_to_the_full_name() -> None:
    s = with_example(setup())
    it = s.iteration("a.b.example.com")
    zone, servers = n("example.com"), (EXAMPLE,)
    # A broken server: NXDOMAIN for an empty non-terminal.
    broken = reply("b.example.com", "A", rcode=Rcode.NXDOMAIN, authority=[EXAMPLE_SOA])
    assert answer_with(it, broken) == Ask(zone, servers, n("b.example.com"), NS, IN, minimised=True)
    full = reply("a.b.example.com", "A", answer=["a.b.example.com. 300 IN A 192.0.2.81"])
    assert answer_with(it, full) == Ask(zone, servers, n("a.b.example.com"), A, IN)
    assert done(it).rcode == Rcode.NOERROR
    # The minimised NXDOMAIN was not believed, let alone cached (RFC 8020 would
    # then deny everything below it).
    assert s.cache.get_negative(n("b.example.com"), NS, IN, s.clock()) is None


def test_a_dname_shown_at_a_minimised_name_switches_to_the_full_name() -> None:
    # The probe's no-data proof lists a DNAME at b.example.com: every name below
    # is redirected, so no cut can be there to find, and probing the next label
    # would only ask for a name that exists as a synthesis (Deckard's val_dname).
    s = with_example(setup())
    it = s.iteration("x.a.b.example.com")
    zone, servers = n("example.com"), (EXAMPLE,)
    nodata = reply(
        "b.example.com",
        "NS",
        authority=[EXAMPLE_SOA, "b.example.com. 300 IN NSEC c.example.com. DNAME RRSIG NSEC"],
    )
    assert answer_with(it, nodata) == Ask(zone, servers, n("b.example.com"), NS, IN, minimised=True)
    assert ask(it) == Ask(zone, servers, n("x.a.b.example.com"), A, IN)


def test_yxdomain_from_a_dname_is_the_answer_with_the_dname() -> None:
    s = with_example(setup(ResolverSettings(qname_minimisation=False)))
    prefix = "a" * 63 + "." + "b" * 63
    qname = f"{prefix}.example.com"
    it = s.iteration(qname)
    target = ".".join(["x" * 63] * 3) + "."
    overflow = reply(
        qname, "A", rcode=Rcode.YXDOMAIN, answer=[f"example.com. 300 IN DNAME {target}"]
    )
    answer_with(it, overflow)
    answer = done(it)
    assert answer.rcode == Rcode.YXDOMAIN
    assert [(str(r.name), r.rtype) for r in answer.records] == [("example.com.", RRType.DNAME)]


def test_minimisation_stops_after_its_step_limit() -> None:
    s = with_example(setup())
    labels = ".".join(f"l{i}" for i in range(MAX_MINIMISE_COUNT + 2))
    qname = f"{labels}.example.com"
    it = s.iteration(qname)
    asked = []
    while True:
        step = ask(it)
        asked.append(step.qname)
        if step.qname == n(qname):
            break
        it.receive(Replied(step.judge(reply(step.qname, "A", authority=[EXAMPLE_SOA]))))
    assert len(asked) == MAX_MINIMISE_COUNT + 1
    assert [len(name) for name in asked[:-1]] == list(range(3, 3 + MAX_MINIMISE_COUNT))


def test_without_minimisation_every_zone_is_asked_the_full_question() -> None:
    s = setup(ResolverSettings(qname_minimisation=False))
    it = s.iteration("www.example.com", RRType.MX)
    step = answer_with(
        it, reply("www.example.com", "MX", aa=False, authority=COM_NS, additional=COM_GLUE)
    )
    assert step == Ask(ROOT, ROOT_SERVERS, n("www.example.com"), RRType.MX, IN)
    assert ask(it) == Ask(n("com"), (COM,), n("www.example.com"), RRType.MX, IN)


# -- chains --------------------------------------------------------------------------


def test_a_cname_leaving_the_zone_restarts_at_its_target() -> None:
    s = with_example(setup())
    s.delegate(
        ("provider.net. 86400 IN NS ns.provider.net.",),
        ("ns.provider.net. 86400 IN A 192.0.2.30",),
    )
    it = s.iteration("www.example.com")
    answer_with(
        it,
        reply(
            "www.example.com",
            "A",
            answer=[
                "www.example.com. 300 IN CNAME cdn.provider.net.",
                # Not example.com's to say: ignored.
                "cdn.provider.net. 300 IN A 203.0.113.66",
            ],
        ),
    )
    step = ask(it)
    assert step == Ask(n("provider.net"), (addr("192.0.2.30"),), n("cdn.provider.net"), A, IN)
    it.receive(
        Replied(
            step.judge(
                reply("cdn.provider.net", "A", answer=["cdn.provider.net. 60 IN A 203.0.113.1"])
            )
        )
    )
    answer = done(it)
    assert (answer.qname, answer.rcode) == (n("www.example.com"), Rcode.NOERROR)
    assert texts(answer.records) == [
        "www.example.com.\t300\tIN\tCNAME\tcdn.provider.net.",
        "cdn.provider.net.\t60\tIN\tA\t203.0.113.1",
    ]


def test_an_answer_lives_no_longer_than_the_shortest_link_of_its_chain() -> None:
    s = with_example(setup())
    s.delegate(
        ("provider.net. 86400 IN NS ns.provider.net.",),
        ("ns.provider.net. 86400 IN A 192.0.2.30",),
    )
    it = s.iteration("www.example.com")
    answer_with(
        it,
        reply("www.example.com", "A", answer=["www.example.com. 30 IN CNAME cdn.provider.net."]),
    )
    answer_with(
        it, reply("cdn.provider.net", "A", answer=["cdn.provider.net. 300 IN A 203.0.113.1"])
    )
    assert done(it).ttl == 30


def test_a_cname_to_a_cached_target_is_answered_from_the_cache() -> None:
    s = with_example(setup())
    s.put("cdn.provider.net. 600 IN A 203.0.113.1")
    s.clock.advance(100)
    it = s.iteration("www.example.com")
    answer_with(
        it,
        reply("www.example.com", "A", answer=["www.example.com. 300 IN CNAME cdn.provider.net."]),
    )
    answer = done(it)  # no step to provider.net
    assert answer.from_cache
    assert texts(answer.records) == [
        "www.example.com.\t300\tIN\tCNAME\tcdn.provider.net.",
        "cdn.provider.net.\t500\tIN\tA\t203.0.113.1",
    ]


def test_a_cname_loop_across_zones_is_servfail() -> None:
    s = with_example(setup())
    s.delegate(
        ("provider.net. 86400 IN NS ns.provider.net.",),
        ("ns.provider.net. 86400 IN A 192.0.2.30",),
    )
    it = s.iteration("www.example.com")
    answer_with(
        it,
        reply("www.example.com", "A", answer=["www.example.com. 300 IN CNAME www.provider.net."]),
    )
    answer_with(
        it,
        reply("www.provider.net", "A", answer=["www.provider.net. 300 IN CNAME www.example.com."]),
    )
    answer = done(it)
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None and "loop" in answer.error.extra_text


def test_a_chain_longer_than_max_chain_is_servfail() -> None:
    s = with_example(setup(ResolverSettings(max_chain=1)))
    s.delegate(
        ("provider.net. 86400 IN NS ns.provider.net.",),
        ("ns.provider.net. 86400 IN A 192.0.2.30",),
    )
    it = s.iteration("www.example.com")
    answer_with(
        it,
        reply("www.example.com", "A", answer=["www.example.com. 300 IN CNAME a.provider.net."]),
    )
    answer_with(
        it, reply("a.provider.net", "A", answer=["a.provider.net. 300 IN CNAME b.example.org."])
    )
    answer = done(it)
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None and answer.error.extra_text == "CNAME chain longer than 1"


def test_ds_is_asked_at_the_parent_side_of_the_cut() -> None:
    s = with_example(setup())
    it = s.iteration("example.com", RRType.DS)
    ds = "example.com. 86400 IN DS 12345 13 2 " + "ab" * 32
    assert answer_with(it, reply("example.com", "DS", answer=[ds])) == Ask(
        n("com"), (COM,), n("example.com"), RRType.DS, IN
    )
    assert [r.rtype for r in done(it).records] == [RRType.DS]
    # Any other type at the apex goes to the zone's own servers.
    assert ask(s.iteration("example.com", RRType.DNSKEY)) == Ask(
        n("example.com"), (EXAMPLE,), n("example.com"), RRType.DNSKEY, IN
    )


# -- forwarding ----------------------------------------------------------------------

FWD1, FWD2 = addr("192.0.2.53"), addr("192.0.2.54")
CORP = addr("10.0.0.53")


def test_forwarding_asks_the_forwarders_without_priming() -> None:
    s = setup(ResolverSettings(forwarders=(FWD1, FWD2)), primed=False)
    s.servers.record_success(FWD2, 0.005)
    it = s.iteration("www.example.com")
    step = ask(it)
    assert step == Ask(ROOT, (FWD2, FWD1), n("www.example.com"), A, IN, forward=True)
    it.receive(
        Replied(
            step.judge(
                reply(
                    "www.example.com",
                    "A",
                    aa=False,
                    ra=True,
                    answer=["www.example.com. 300 IN A 192.0.2.80"],
                )
            )
        )
    )
    assert texts(done(it).records) == ["www.example.com.\t300\tIN\tA\t192.0.2.80"]
    # A forwarder's word ranks below what an authoritative server says.
    cached = s.cache.get_rrset(n("www.example.com"), A, IN, s.clock())
    assert cached is not None and cached.rank == Rank.ANSWER


def test_a_forward_zone_has_its_forwarder_and_is_outside_the_roots_bailiwick() -> None:
    corp = (n("corp.example"), (CORP,))
    s = setup(ResolverSettings(forward_zones=(corp,)))
    assert ask(s.iteration("host.corp.example")) == Ask(
        n("corp.example"), (CORP,), n("host.corp.example"), A, IN, forward=True
    )
    # Everything else is iterated, and the root does not speak for corp.example:
    # the glue it gives for a name there is not believed...
    it = s.iteration("www.widgets.example")
    step = ask(it)
    assert step == Ask(
        ROOT, ROOT_SERVERS, n("example"), NS, IN, minimised=True, exclude=(n("corp.example"),)
    )
    result = step.judge(
        reply(
            "example",
            "A",
            aa=False,
            authority=["example. 172800 IN NS ns.corp.example."],
            additional=["ns.corp.example. 172800 IN A 192.0.2.99"],
        )
    )
    assert result.outcome == Outcome.REFERRAL
    assert result.referral is not None and result.referral.glue == ()
    it.receive(Replied(result))
    # ...and the name is looked up from its own source, though it lies inside `example`.
    assert resolve_step(it) == Resolve(
        (n("ns.corp.example"),), n("example"), ((n("www.widgets.example"), A),)
    )


def test_a_forwarded_cname_into_a_forward_zone_goes_to_that_zones_forwarder() -> None:
    corp = (n("corp.example"), (CORP,))
    s = setup(ResolverSettings(forwarders=(FWD1,), forward_zones=(corp,)))
    it = s.iteration("www.example.com")
    step = ask(it)
    assert step == Ask(
        ROOT, (FWD1,), n("www.example.com"), A, IN, forward=True, exclude=(n("corp.example"),)
    )
    planted = reply(
        "www.example.com",
        "A",
        aa=False,
        ra=True,
        answer=[
            "www.example.com. 300 IN CNAME app.corp.example.",
            "app.corp.example. 300 IN A 203.0.113.9",  # not the global forwarder's to say
        ],
    )
    it.receive(Replied(step.judge(planted)))
    step = ask(it)
    assert step == Ask(n("corp.example"), (CORP,), n("app.corp.example"), A, IN, forward=True)
    it.receive(
        Replied(
            step.judge(
                reply(
                    "app.corp.example",
                    "A",
                    aa=False,
                    ra=True,
                    answer=["app.corp.example. 300 IN A 10.1.1.1"],
                )
            )
        )
    )
    assert [r.rdata.to_text() for r in done(it).records] == ["app.corp.example.", "10.1.1.1"]


def test_a_forward_zone_inside_a_local_zone_is_forwarded() -> None:
    local = Zone.from_text(
        "$ORIGIN example.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\n"
        "ns A 192.168.1.1\n"
    )
    corp = (n("corp.example"), (CORP,))
    s = setup(ResolverSettings(forward_zones=(corp,)), local_zones=[local])
    assert s.context.upstreams_for(n("host.corp.example")) == corp
    assert ask(s.iteration("host.corp.example")) == Ask(
        n("corp.example"), (CORP,), n("host.corp.example"), A, IN, forward=True
    )


def test_an_upstream_that_does_not_recurse_is_lame() -> None:
    s = setup(ResolverSettings(forwarders=(FWD1,)))
    step = ask(s.iteration("www.example.com"))
    data = ["www.example.com. 300 IN A 192.0.2.80"]
    no_ra = step.judge(reply("www.example.com", "A", aa=False, ra=False, answer=data))
    assert no_ra.outcome == Outcome.LAME
    assert no_ra.reason == "upstream does not recurse (RA clear)"
    nx = reply("www.example.com", "A", aa=False, ra=False, rcode=Rcode.NXDOMAIN)
    assert step.judge(nx).outcome == Outcome.LAME
    assert step.judge(reply("www.example.com", "A", aa=False, ra=True, answer=data)).outcome == (
        Outcome.ANSWER
    )
    # An authoritative server used as a forwarder sets AA, not RA: its answer stands.
    assert step.judge(reply("www.example.com", "A", aa=True, ra=False, answer=data)).outcome == (
        Outcome.ANSWER
    )


def test_a_delegation_inside_a_local_zone_is_iterated_from_its_cut() -> None:
    home = Zone.from_text(
        "$ORIGIN home.arpa.\n$TTL 300\n@ SOA router hostmaster 1 3600 600 86400 60\n"
        "@ NS router\nrouter A 192.168.1.1\nlab NS ns.lab\nns.lab A 192.168.1.53\n"
    )
    s = setup(primed=False, local_zones=[home])
    # Neither the root nor priming: the local zone's word for where lab.home.arpa is.
    assert ask(s.iteration("host.lab.home.arpa")) == Ask(
        n("lab.home.arpa"), (addr("192.168.1.53"),), n("host.lab.home.arpa"), A, IN
    )


# -- failure, lameness, budgets ------------------------------------------------------


def test_failures_move_on_round_by_round_then_unreachable() -> None:
    s = with_example(setup(), "example.com. 86400 IN NS ns2.example.com.")
    s.put("ns2.example.com. 86400 IN A 192.0.2.21", rank=Rank.ADDITIONAL)
    it = s.iteration("www.example.com")
    order = []
    for _ in range(s.context.settings.rounds):
        step = ask(it)
        assert (step.zone, step.qname, step.qtype) == (n("example.com"), n("www.example.com"), A)
        order.append(step.servers)
        s.servers.record_timeout(step.servers[0], s.monotonic())  # the first one timed out
        it.receive(timeouts(*step.servers))
    # Each round ranks afresh: the server that just timed out goes to the back.
    assert order == [
        (EXAMPLE, EXAMPLE2),
        (EXAMPLE2, EXAMPLE),
        (EXAMPLE, EXAMPLE2),
        (EXAMPLE2, EXAMPLE),
    ]
    with pytest.raises(Unreachable) as caught:
        it.next_step()
    assert len(caught.value.errors) == 2 * s.context.settings.rounds
    assert all(isinstance(why, TimeoutError) for _, why in caught.value.errors)


def test_an_iteration_that_stopped_short_does_not_claim_to_be_done() -> None:
    s = with_com(setup())
    s.delegate(("example.com. 86400 IN NS ns.example.com.",))  # in-zone, no glue
    it = s.iteration("www.example.com")
    with pytest.raises(NoServers):
        it.next_step()
    with pytest.raises((NoServers, RuntimeError)):
        it.next_step()


def test_lame_replies_are_judged_lame() -> None:
    s = with_example(setup())
    step = ask(s.iteration("www.example.com"))
    refused = step.judge(reply("www.example.com", "A", rcode=Rcode.REFUSED))
    assert refused.outcome == Outcome.LAME
    # A resolver answering from its cache where a server of the zone should be:
    # its data is still taken (as Unbound and Knot Resolver do when every server
    # is so), but only as non-authoritative data, and its authority section not.
    recursive = step.judge(
        reply(
            "www.example.com",
            "A",
            aa=False,
            ra=True,
            answer=["www.example.com. 300 IN A 192.0.2.80"],
            authority=["example.com. 300 IN NS ns.evil.example."],
        )
    )
    assert recursive.outcome == Outcome.ANSWER
    assert [(records[0].rtype, rank) for records, rank in recursive.to_cache] == [
        (RRType.A, Rank.ANSWER)
    ]
    # No data, no SOA, only the zone's own NS set, AA clear: no authority here.
    stale = step.judge(
        reply(
            "www.example.com", "A", aa=False, authority=["example.com. 300 IN NS ns1.example.com."]
        )
    )
    assert stale.outcome == Outcome.LAME
    upwards = step.judge(reply("www.example.com", "A", aa=False, authority=COM_NS))
    assert upwards.outcome == Outcome.LAME
    servfail = step.judge(reply("www.example.com", "A", rcode=Rcode.SERVFAIL))
    assert servfail.outcome == Outcome.SERVER_ERROR


def test_servers_known_lame_for_the_zone_are_left_out_until_all_are() -> None:
    s = with_example(setup(), "example.com. 86400 IN NS ns2.example.com.")
    s.put("ns2.example.com. 86400 IN A 192.0.2.21", rank=Rank.ADDITIONAL)
    zone_key = n("example.com").canonical_wire()
    s.servers.mark_lame(EXAMPLE, zone_key)
    s.servers.mark_lame(EXAMPLE, n("other.com").canonical_wire())
    assert ask(s.iteration("www.example.com")).servers == (EXAMPLE2,)
    # Lame for another zone is not lame here.
    s.servers.mark_lame(EXAMPLE2, n("example.net").canonical_wire())
    assert ask(s.iteration("www.example.com")).servers == (EXAMPLE2,)

    s.servers.mark_lame(EXAMPLE2, zone_key)
    it = s.iteration("www.example.com")
    assert ask(it).servers == (EXAMPLE, EXAMPLE2)  # nothing better left
    it.receive(timeouts(EXAMPLE, EXAMPLE2))
    # Asking lame servers again will not make them serve the zone: no second round.
    with pytest.raises(Unreachable):
        it.next_step()


def test_the_referral_budget_is_out_of_budget() -> None:
    s = setup(ResolverSettings(qname_minimisation=False, max_referrals=3))
    it = s.iteration("a.b.c.d.test")
    cuts = ["test", "d.test", "c.d.test"]
    for i, cut in enumerate(cuts):
        server = f"192.0.2.{100 + i}"
        answer_with(
            it,
            reply(
                "a.b.c.d.test",
                "A",
                aa=False,
                authority=[f"{cut}. 86400 IN NS ns.{cut}."],
                additional=[f"ns.{cut}. 86400 IN A {server}"],
            ),
        )
    with pytest.raises(OutOfBudget, match="more than 3 referrals") as caught:
        it.next_step()
    assert caught.value.code == EdeCode.OTHER


def test_the_query_budget_is_shared_and_out_of_budget() -> None:
    s = setup(ResolverSettings(max_queries=2))
    work = s.work()
    work.spend_query()
    work.spend_query()
    work.check()  # still within budget
    with pytest.raises(OutOfBudget, match="2 upstream queries"):
        work.spend_query()
    assert work.exhausted is not None
    # Once hit, it stays hit, for every sub-lookup sharing the work.
    with pytest.raises(OutOfBudget):
        work.check()


def test_work_traces_only_when_asked() -> None:
    s = setup()
    silent = Work(s.context.settings, s.monotonic(), s.monotonic, None)
    silent.event("note", ROOT, A, outcome="x")
    assert silent.trace is None
    traced = s.work()
    s.monotonic.advance(0.25)
    traced.event("note", ROOT, A, outcome="x")
    assert traced.trace is not None and traced.trace[0].time == 0.25


# -- negative answers ----------------------------------------------------------------


def test_nxdomain_is_done_and_cached_for_every_type_and_below() -> None:
    s = with_example(setup())
    it = s.iteration("nx.example.com")
    answer_with(it, reply("nx.example.com", "A", rcode=Rcode.NXDOMAIN, authority=[EXAMPLE_SOA]))
    answer = done(it)
    assert answer.rcode == Rcode.NXDOMAIN and answer.records == ()
    assert answer.soa is not None and answer.soa.name == n("example.com")
    assert answer.ttl == 300  # the SOA's minimum, below its TTL
    for name, rtype in (("nx.example.com", RRType.MX), ("deep.nx.example.com", A)):
        negative = s.cache.get_negative(n(name), rtype, IN, s.clock())
        assert negative is not None and negative.kind == NegativeKind.NXDOMAIN
    again = done(s.iteration("nx.example.com", RRType.TXT))
    assert again.rcode == Rcode.NXDOMAIN and again.from_cache


def test_nodata_is_done_and_cached_for_its_type_only() -> None:
    s = with_example(setup())
    s.cache.max_negative_ttl = 60
    it = s.iteration("www.example.com", RRType.MX)
    answer_with(it, reply("www.example.com", "MX", authority=[EXAMPLE_SOA]))
    answer = done(it)
    assert (answer.rcode, answer.records, answer.ttl) == (Rcode.NOERROR, (), 60)
    negative = s.cache.get_negative(n("www.example.com"), RRType.MX, IN, s.clock())
    assert negative is not None and negative.kind == NegativeKind.NODATA
    assert s.cache.get_negative(n("www.example.com"), A, IN, s.clock()) is None
    s.clock.advance(61)
    assert s.cache.get_negative(n("www.example.com"), RRType.MX, IN, s.clock()) is None


def test_nxdomain_at_the_end_of_a_chain_is_cached_at_the_target() -> None:
    s = with_example(setup())
    it = s.iteration("www.example.com")
    answer_with(
        it,
        reply(
            "www.example.com",
            "A",
            rcode=Rcode.NXDOMAIN,
            answer=["www.example.com. 300 IN CNAME gone.example.com."],
            authority=[EXAMPLE_SOA],
        ),
    )
    answer = done(it)
    assert answer.rcode == Rcode.NXDOMAIN
    assert texts(answer.records) == ["www.example.com.\t300\tIN\tCNAME\tgone.example.com."]
    gone = s.cache.get_negative(n("gone.example.com"), A, IN, s.clock())
    assert gone is not None and gone.kind == NegativeKind.NXDOMAIN
    assert s.cache.get_negative(n("www.example.com"), A, IN, s.clock()) is None


# -- purity --------------------------------------------------------------------------


def test_the_decisions_import_no_trio() -> None:
    # The modules themselves, whatever the package's __init__ imports for its
    # public API.
    code = (
        "import sys, types\n"
        "package = types.ModuleType('trio_dns')\n"
        f"package.__path__ = [{str(Path(__file__).parents[1] / 'trio_dns')!r}]\n"
        "sys.modules['trio_dns'] = package\n"
        "import trio_dns._decisions.iteration, trio_dns._decisions.cache_path\n"
        "print(sorted(m for m in sys.modules if m == 'trio' or m.startswith('trio.')))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_importing_the_decisions_through_the_package_imports_no_trio() -> None:
    code = "import sys, trio_dns._decisions.iteration, trio_dns._decisions.cache_path\nprint('trio' in sys.modules)\n"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


# -- forwarded and local zones: found by walking up a name, not by a scan ---------------


LAB_ZONE = """$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A 192.0.2.60
"""


def _scanned_upstreams(ctx: Context, qname: Name) -> tuple[Name, tuple[Address, ...]] | None:
    # The plain reading of upstreams_for's rule, zone by zone.
    best = None
    for zone, addresses in ctx.settings.forward_zones:
        if qname.is_subdomain(zone) and (best is None or len(zone) > len(best[0])):
            best = (zone, addresses)
    depth = -1 if best is None else len(best[0])
    if any(len(z.origin) > depth and qname.is_subdomain(z.origin) for z in ctx.local_zones):
        return None
    if best is not None:
        return best
    return (ROOT, ctx.settings.forwarders) if ctx.settings.forwarders else None


def test_forwarded_and_local_zones_are_found_as_a_scan_of_every_zone_would_find_them() -> None:
    forward = (
        (n("corp.example"), (("192.0.2.53", 53),)),
        (n("10.in-addr.arpa"), (("192.0.2.54", 53),)),  # inside a default local zone's tree
        (n("deep.lab.corp.example"), (("192.0.2.55", 53),)),
    )
    zones = (*default_zones(public_root=True), Zone.from_text(LAB_ZONE, "lab.corp.example."))
    s = setup(ResolverSettings(forward_zones=forward), local_zones=zones)
    ctx = s.context
    names = [
        "www.example.com",
        "corp.example",
        "a.corp.example",
        "lab.corp.example",
        "x.lab.corp.example",
        "deep.lab.corp.example",
        "y.deep.lab.corp.example",
        "localhost",
        "a.b.localhost",
        "1.0.0.127.in-addr.arpa",
        "5.0.0.10.in-addr.arpa",
        "10.in-addr.arpa",
        "in-addr.arpa",
        "test",
        "foo.invalid",
        "home.arpa",
        "nas.home.arpa",
        ".",
    ]
    for name in names:
        assert ctx.upstreams_for(n(name)) == _scanned_upstreams(ctx, n(name)), name
    own = [zone for zone, _ in forward] + [zone.origin for zone in zones]
    for name in [*names, "arpa", "ip6.arpa", "example"]:
        zone = n(name)
        expected = tuple(x for x in own if x != zone and x.is_subdomain(zone))
        assert ctx.exclusions(zone) == expected, name
        assert ctx.exclusions(zone) == expected, name  # remembered, the same
    assert len(ctx.exclusions(ROOT)) == len(own)

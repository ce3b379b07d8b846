"""Forwarding: asking upstream resolvers instead of iterating from the root."""

from __future__ import annotations

import attrs
import trio

from trio_dns import EdeCode, Flag, Message, Name, Rcode, ResolverSettings, RRClass, RRType
from trio_dns._network.resolver import Resolver
from trio_dns._trust import Rank
from trio_dns._wire.zone import read_zone
from trio_dns.testing import Behaviour, Lame, Sandbox, Zone, answer_query, build_sandbox

CORP = """
$ORIGIN corp.example.
$TTL 600
@ SOA ns hostmaster 1 7200 900 1209600 300
@ NS ns
ns A 192.0.2.54
intranet A 10.1.2.3
"""

UPSTREAM_A = ("192.0.2.53", 53)
UPSTREAM_B = ("192.0.2.63", 53)


def setup(**settings: object) -> tuple[Sandbox, Resolver]:
    sandbox = build_sandbox()
    # Upstream "resolvers" that know the sandbox's zones (and answer with authority).
    from trio_dns.testing._sandbox import CDN_ZONE, EXAMPLE_ZONE

    for host in (UPSTREAM_A[0], UPSTREAM_B[0]):
        sandbox.network.add_server([host], [EXAMPLE_ZONE, CDN_ZONE])
    sandbox.network.add_server(["192.0.2.54"], [CORP])
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=ResolverSettings(**settings),  # type: ignore[arg-type]
    )
    return sandbox, resolver


async def test_forwarders_are_asked_with_rd_and_nobody_else(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = setup(forwarders=(UPSTREAM_A,))
    answer = await resolver.resolve("www.example.com", "A")
    assert [str(r.rdata) for r in answer.records] == ["198.51.100.80"]
    servers = {e.server for e in sandbox.network.exchanges}
    assert servers == {UPSTREAM_A}
    (exchange,) = sandbox.network.exchanges
    assert isinstance(exchange.query, Message) and Flag.RD in exchange.query.flags
    again = await resolver.resolve("www.example.com", "A")
    assert again.from_cache and len(sandbox.network.exchanges) == 1


async def test_forwarded_negative_answers(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = setup(forwarders=(UPSTREAM_A,))
    answer = await resolver.resolve("nope.example.com", "A")
    assert answer.rcode == Rcode.NXDOMAIN and answer.soa is not None
    nodata = await resolver.resolve("mail.example.com", "AAAA")
    assert nodata.rcode == Rcode.NOERROR and not nodata.records


async def test_dead_forwarder_loses_the_race(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = setup(forwarders=(UPSTREAM_A, UPSTREAM_B))
    dead = sandbox.network.server_at(UPSTREAM_A[0])
    assert dead is not None
    dead.set_behaviour(Behaviour(dead=True))
    start = trio.current_time()
    answer = await resolver.resolve("www.example.com", "A")
    assert [str(r.rdata) for r in answer.records] == ["198.51.100.80"]
    assert trio.current_time() - start < 1.0  # staggered, not waiting for a timeout
    assert len(sandbox.network.queries_to(UPSTREAM_B[0])) == 1


async def test_all_forwarders_dead_is_servfail_in_time(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = setup(forwarders=(UPSTREAM_A,), deadline=3.0)
    server = sandbox.network.server_at(UPSTREAM_A[0])
    assert server is not None
    server.set_behaviour(Behaviour(dead=True))
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None and answer.error.info_code == EdeCode.NO_REACHABLE_AUTHORITY
    assert trio.current_time() <= 3.0 + 1e-9


async def test_upstream_that_does_not_recurse_is_skipped(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = setup(forwarders=(UPSTREAM_A, UPSTREAM_B))
    server = sandbox.network.server_at(UPSTREAM_A[0])
    assert server is not None
    server.set_behaviour(Behaviour(lame=Lame.NO_FLAGS))
    resolver.servers.record_success(UPSTREAM_A, 0.001)  # ask the bad one first
    answer = await resolver.resolve("www.example.com", "A")
    assert [str(r.rdata) for r in answer.records] == ["198.51.100.80"]
    assert resolver.stats.lame_replies == 1


async def test_forward_zone_goes_upstream_the_rest_iterates(autojump_clock: trio.abc.Clock) -> None:
    corp = (Name.from_text("corp.example"), (("192.0.2.54", 53),))
    sandbox, resolver = setup(forward_zones=(corp,))
    answer = await resolver.resolve("intranet.corp.example", "A")
    assert [str(r.rdata) for r in answer.records] == ["10.1.2.3"]
    assert {e.server[0] for e in sandbox.network.exchanges} == {"192.0.2.54"}
    sandbox.network.clear_log()
    answer = await resolver.resolve("www.example.com", "A")
    assert [str(r.rdata) for r in answer.records] == ["198.51.100.80"]
    asked = {e.server[0] for e in sandbox.network.exchanges}
    assert "192.0.2.1" in asked or "192.0.2.2" in asked  # from the root
    assert "192.0.2.54" not in asked


async def test_deepest_forward_zone_wins(autojump_clock: trio.abc.Clock) -> None:
    zones = (
        (Name.from_text("example"), (UPSTREAM_A,)),
        (Name.from_text("corp.example"), (("192.0.2.54", 53),)),
    )
    sandbox, resolver = setup(forward_zones=zones)
    await resolver.resolve("intranet.corp.example", "A")
    assert {e.server for e in sandbox.network.exchanges} == {("192.0.2.54", 53)}


# -- bailiwick: a forwarder speaks for its zone only ----------------------------------

CORP_TLD = """
$ORIGIN corp.
$TTL 600
@ SOA ns hostmaster 1 7200 900 1209600 300
@ NS ns
ns A 192.0.2.54
host A 10.1.2.3
alias CNAME www.example.com.
"""

FORGED = "203.0.113.66"
# What a malicious (or merely careless) upstream adds to each of its answers: an
# address for a name outside the zone it is asked about and for a name the
# question never touched, and a root NS set with its glue.
PLANTED_ANSWER = f"www.example.com. 86400 IN A {FORGED}\nbank.test. 86400 IN A {FORGED}\n"
PLANTED_AUTHORITY = ". 86400 IN NS ns.evil.test.\n"
PLANTED_ADDITIONAL = f"ns.evil.test. 86400 IN A {FORGED}\n"


def replace_server(
    sandbox: Sandbox, host: str, zones: list[str], behaviour: Behaviour | None = None
) -> None:
    old = sandbox.network.server_at(host)
    if old is not None:
        sandbox.network.remove(old)
    sandbox.network.add_server([host], zones, behaviour=behaviour)


def poisoning(zones: list[str], extra: str = "") -> Behaviour:
    """An upstream that answers from `zones` (with AA, and RA) and adds the PLANTED
    records, and `extra` ones in the answer section."""

    served = [Zone.from_text(text) for text in zones]
    answer, authority, additional = (
        tuple(read_zone(text, origin=None))
        for text in (PLANTED_ANSWER + extra, PLANTED_AUTHORITY, PLANTED_ADDITIONAL)
    )

    def handler(query: Message) -> Message:
        reply = answer_query(served, query)
        return attrs.evolve(
            reply,
            answer=(*reply.answer, *answer),
            authority=(*reply.authority, *authority),
            additional=(*reply.additional, *additional),
        ).evolve_header(flags=reply.flags | Flag.RA)

    return Behaviour(handler=handler)


def forged_in_cache(resolver: Resolver) -> list[str]:
    """Every cached record that carries the forged address or names the evil server."""
    now = trio.current_time()
    found = []
    for name in ("www.example.com", "bank.test", "ns.evil.test", "nas.home.arpa", "y.corp.example"):
        hit = resolver.cache.get_rrset(Name.from_text(name), RRType.A, RRClass.IN, now)
        if hit is not None and any(str(r.rdata) == FORGED for r in hit.records):
            found.append(name)
    root = resolver.cache.get_rrset(Name.from_text("."), RRType.NS, RRClass.IN, now)
    if root is not None and any("evil" in str(r.rdata) for r in root.records):
        found.append(". NS")
    return found


async def test_a_forward_zone_upstream_is_believed_only_inside_its_zone(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = setup(forward_zones=((Name.from_text("corp"), (("192.0.2.54", 53),)),))
    replace_server(sandbox, "192.0.2.54", [], poisoning([CORP_TLD]))
    host = await resolver.resolve("host.corp", "A")
    assert [str(r.rdata) for r in host.records] == ["10.1.2.3"]
    # The chain leaves corp: its target is resolved from the root, not taken on
    # the upstream's word.
    alias = await resolver.resolve("alias.corp", "A")
    assert [str(r.rdata) for r in alias.records] == ["www.example.com.", "198.51.100.80"]
    assert forged_in_cache(resolver) == []
    answer = await resolver.resolve("www.example.com", "A")
    assert [str(r.rdata) for r in answer.records] == ["198.51.100.80"]
    # The root's NS set is still the root's: the next new name resolves.
    mail = await resolver.resolve("mail.example.com", "A")
    assert [str(r.rdata) for r in mail.records] == ["198.51.100.25"]
    assert not any(e.server[0] == FORGED for e in sandbox.network.exchanges)


async def test_a_deeper_forward_zone_keeps_its_own_upstream(autojump_clock: trio.abc.Clock) -> None:
    sub = """
$ORIGIN corp.example.
$TTL 600
@ SOA ns hostmaster 1 7200 900 1209600 300
@ NS ns
y A 10.9.9.9
"""
    outer = f"""
$ORIGIN example.
$TTL 600
@ SOA ns hostmaster 1 7200 900 1209600 300
@ NS ns
x CNAME y.corp.example.
y.corp 600 A {FORGED}
"""
    zones = (
        (Name.from_text("example"), (UPSTREAM_A,)),
        (Name.from_text("corp.example"), (("192.0.2.54", 53),)),
    )
    sandbox, resolver = setup(forward_zones=zones)
    replace_server(sandbox, UPSTREAM_A[0], [outer])
    replace_server(sandbox, "192.0.2.54", [sub])
    answer = await resolver.resolve("x.example", "A")
    # example.'s upstream does not answer for corp.example., which has its own.
    assert [str(r.rdata) for r in answer.records] == ["y.corp.example.", "10.9.9.9"]
    assert forged_in_cache(resolver) == []


async def test_a_global_forwarder_does_not_speak_for_local_zones(
    autojump_clock: trio.abc.Clock,
) -> None:
    home = """
$ORIGIN home.arpa.
$TTL 300
@ SOA router hostmaster 1 3600 600 86400 60
@ NS router
router A 192.168.1.1
nas A 192.168.1.10
"""
    tricky = """
$ORIGIN example.com.
$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 60
@ NS ns
ns A 192.0.2.53
files CNAME nas.home.arpa.
"""
    sandbox = build_sandbox()
    planted = poisoning([tricky], f"nas.home.arpa. 300 IN A {FORGED}\n")
    sandbox.network.add_server([UPSTREAM_A[0]], [], behaviour=planted)
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=ResolverSettings(forwarders=(UPSTREAM_A,)),
        local_zones=[Zone.from_text(home)],
    )
    answer = await resolver.resolve("files.example.com", "A")
    assert [str(r.rdata) for r in answer.records] == ["nas.home.arpa.", "192.168.1.10"]
    # Nor is its word for the local name kept; what it added beside the chain
    # never was.
    assert forged_in_cache(resolver) == []


async def test_what_a_forwarder_says_ranks_below_authoritative_data(
    autojump_clock: trio.abc.Clock,
) -> None:
    _, resolver = setup(forwarders=(UPSTREAM_A,))
    # The sandbox's upstreams set AA (they answer from the zones themselves).
    answer = await resolver.resolve("www.example.com", "A")
    assert answer.records
    now = trio.current_time()
    hit = resolver.cache.get_rrset(Name.from_text("www.example.com"), RRType.A, RRClass.IN, now)
    assert hit is not None and hit.rank == Rank.ANSWER
    await resolver.resolve("nope.example.com", "A")
    negative = resolver.cache.get_negative(
        Name.from_text("nope.example.com"), None, RRClass.IN, now
    )
    assert negative is not None and negative.rank == Rank.ANSWER
    # So an authoritative answer for the same name replaces it.
    better = [attrs.evolve(r, ttl=60) for r in hit.records]
    assert resolver.cache.put_rrset(better, Rank.AUTH_ANSWER, now)

"""Forwarding: asking upstream resolvers instead of iterating from the root."""

from __future__ import annotations

import trio

from trio_dns import EdeCode, Flag, Message, Name, Rcode, ResolverSettings
from trio_dns._resolver import Resolver
from trio_dns.testing import Behaviour, Lame, Sandbox, build_sandbox

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
    server.set_behaviour(Behaviour(lame=Lame.NOT_AUTHORITATIVE))
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

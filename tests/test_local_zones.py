"""Local zones: answered with authority, ahead of the cache and of recursion."""

from __future__ import annotations

import trio

from trio_dns import Rcode, RRType
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns.testing import Sandbox, Zone, build_sandbox

HOME = """
$ORIGIN home.arpa.
$TTL 300
@        SOA  router hostmaster 1 3600 600 86400 60
@        NS   router
router   A    192.168.1.1
nas      A    192.168.1.10
printer  CNAME nas
web      CNAME www.example.com.
*.iot    A    192.168.1.99
"""

# A blocklist: the zone exists and holds nothing, so every name below is NXDOMAIN.
BLOCK = """
$ORIGIN tracker.example.
$TTL 3600
@ SOA localhost. nobody.invalid. 1 3600 600 86400 3600
@ NS  localhost.
"""

# Overrides a name the (simulated) internet also has.
OVERRIDE = """
$ORIGIN cdn.net.
$TTL 60
@ SOA localhost. nobody.invalid. 1 3600 600 86400 60
@ NS localhost.
www CNAME edge
edge A 10.0.0.1
"""


def setup() -> tuple[Sandbox, Resolver]:
    sandbox = build_sandbox()
    zones = [Zone.from_text(text) for text in (HOME, BLOCK, OVERRIDE)]
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network, local_zones=zones)
    return sandbox, resolver


def texts(records: object) -> list[str]:
    return [str(r.rdata) for r in records]  # type: ignore[attr-defined]


async def test_local_names_are_answered_with_authority(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = setup()
    answer = await resolver.resolve("nas.home.arpa", "A")
    assert answer.rcode == Rcode.NOERROR and answer.authoritative
    assert texts(answer.records) == ["192.168.1.10"]
    printer = await resolver.resolve("printer.home.arpa", "A")
    assert [r.rtype for r in printer.records] == [RRType.CNAME, RRType.A]
    wild = await resolver.resolve("bulb.iot.home.arpa", "A")
    assert texts(wild.records) == ["192.168.1.99"]
    assert sandbox.network.exchanges == ()  # nothing went out


async def test_local_negative_answers_carry_the_soa(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = setup()
    missing = await resolver.resolve("nothing.home.arpa", "A")
    assert missing.rcode == Rcode.NXDOMAIN and missing.authoritative
    assert missing.soa is not None and missing.ttl == 60
    nodata = await resolver.resolve("nas.home.arpa", "AAAA")
    assert nodata.rcode == Rcode.NOERROR and nodata.records == () and nodata.soa is not None
    blocked = await resolver.resolve("pixel.ads.tracker.example", "A")
    assert blocked.rcode == Rcode.NXDOMAIN
    assert sandbox.network.exchanges == ()


async def test_a_cname_leaving_the_zone_is_resolved_recursively(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = setup()
    answer = await resolver.resolve("web.home.arpa", "A")
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer.records) == ["www.example.com.", "198.51.100.80"]
    assert not answer.authoritative  # part of it came from the internet
    assert len(sandbox.network.exchanges) > 0


async def test_local_zones_come_before_cache_and_internet(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = setup()
    # shop.example.com -> www.cdn.net -> edge.cdn.net: the last link is overridden.
    answer = await resolver.resolve("shop.example.com", "A")
    assert texts(answer.records)[-1] == "10.0.0.1"
    assert not any(e.server[0] == "198.51.100.40" for e in sandbox.network.exchanges)


async def test_cache_only_lookups_see_local_zones(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = setup()
    answer = resolver.cached("router.home.arpa", "A")
    assert answer is not None and texts(answer.records) == ["192.168.1.1"]


# -- a local zone is the one source for its names ------------------------------------

LAB = """
$ORIGIN lab.home.arpa.
$TTL 300
@    SOA ns hostmaster 1 3600 600 86400 60
@    NS  ns
ns   A   192.0.2.77
www  A   10.7.7.7
"""

DELEGATING = HOME + "lab NS ns.lab\nns.lab A 192.0.2.77\n"


async def test_a_delegation_inside_a_local_zone_leads_to_its_servers(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox = build_sandbox()
    sandbox.network.add_server(["192.0.2.77"], [LAB])
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        local_zones=[Zone.from_text(DELEGATING)],
        # Even with a forwarder for everything else.
        settings=ResolverSettings(forwarders=(("192.0.2.53", 53),)),
    )
    answer = await resolver.resolve("www.lab.home.arpa", "A")
    assert answer.rcode == Rcode.NOERROR and texts(answer.records) == ["10.7.7.7"]
    assert not answer.authoritative  # it came from the lab's server, not the local zone
    # Neither the root nor the forwarder heard the private name.
    assert {e.server[0] for e in sandbox.network.exchanges} == {"192.0.2.77"}


async def test_the_root_does_not_speak_for_a_local_zones_names(
    autojump_clock: trio.abc.Clock,
) -> None:
    from trio_dns.testing._sandbox import ROOT_ZONE, SANDBOX_ZONE

    # A root that names com's server inside home.arpa and gives it a bad address.
    root = ROOT_ZONE.replace(
        "com.                NS ns1.nic.com.\ncom.                NS ns2.nic.com.",
        "com. NS ns.home.arpa.\nns.home.arpa. A 203.0.113.66",
    )
    assert root != ROOT_ZONE
    sandbox = build_sandbox()
    for host in ("192.0.2.1", "192.0.2.2"):
        old = sandbox.network.server_at(host)
        assert old is not None
        sandbox.network.remove(old)
        sandbox.network.add_server([host], [root, SANDBOX_ZONE])
    home = Zone.from_text(HOME + "ns A 192.0.2.10\n")  # where com's server really is
    resolver = Resolver(
        root_hints=sandbox.root_hints, transport=sandbox.network, local_zones=[home]
    )
    answer = await resolver.resolve("www.example.com", "A")
    assert texts(answer.records) == ["198.51.100.80"]
    assert not sandbox.network.queries_to("203.0.113.66")


async def test_a_long_local_chain_is_followed_to_its_end(autojump_clock: trio.abc.Clock) -> None:
    # Longer than one answer of the local zone goes (trio_dns._decisions.authority.MAX_CHAIN).
    links = "".join(f"c{i} CNAME c{i + 1}\n" for i in range(11))
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        local_zones=[Zone.from_text(HOME + links + "c11 A 192.168.1.11\n")],
    )
    answer = await resolver.resolve("c0.home.arpa", "A")
    assert answer.rcode == Rcode.NOERROR and answer.authoritative
    assert texts(answer.rrset()) == ["192.168.1.11"]
    assert len(answer.records) == 12 and sandbox.network.exchanges == ()

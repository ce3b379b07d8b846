"""Policy, the pure half: access rules, token buckets, default local zones, local_data.

The real server's side of each (what a client sees over loopback) is in
tests/test_policy_serve.py."""

from __future__ import annotations

import ipaddress

import pytest
import trio

from trio_dns._decisions.access import AccessControl, Action, parse_rule
from trio_dns._decisions.authority import Zone, answer_query, choose_zone
from trio_dns._decisions.local_zones import (
    closest_zone,
    default_zones,
    local_zones,
    parse_local_zone,
    read_local_data,
)
from trio_dns._decisions.ratelimit import TokenBuckets, slip
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._wire.enums import Rcode, RRType
from trio_dns._wire.message import Message
from trio_dns._wire.name import Name
from trio_dns.testing import build_sandbox

# -- access control ----------------------------------------------------------------


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_the_most_specific_network_decides_whatever_the_order() -> None:
    rules = [parse_rule("10.1.0.0/16 deny"), parse_rule("10.0.0.0/8 allow")]
    for ordered in (rules, rules[::-1]):
        access = AccessControl.build((), ordered)
        assert access.decide("10.2.3.4") is Action.ALLOW
        assert access.decide("10.1.3.4") is Action.DENY


def test_an_address_no_rule_covers_is_refused() -> None:
    access = AccessControl.build((), [parse_rule("10.0.0.0/8 allow")])
    assert access.decide("192.0.2.1") is Action.REFUSE
    assert access.decide("::1") is Action.REFUSE
    assert access.decide("not an address") is Action.REFUSE


def test_the_allow_list_still_allows_and_a_rule_for_the_same_network_wins() -> None:
    loopback = (net("127.0.0.0/8"), net("::1/128"))
    access = AccessControl.build(loopback, [parse_rule("127.0.0.2/32 refuse")])
    assert access.decide("127.0.0.1") is Action.ALLOW
    assert access.decide("::1") is Action.ALLOW
    assert access.decide("127.0.0.2") is Action.REFUSE
    shut = AccessControl.build(loopback, [parse_rule("127.0.0.0/8 deny")])
    assert shut.decide("127.0.0.1") is Action.DENY


def test_ipv6_rules_and_unbound_spellings() -> None:
    access = AccessControl.build(
        (), [parse_rule("2001:db8::/32 allow_snoop"), parse_rule("2001:db8:1::/48 REFUSE")]
    )
    assert access.decide("2001:db8::5") is Action.ALLOW
    assert access.decide("2001:db8:1::5") is Action.REFUSE


@pytest.mark.parametrize("text", ["10.0.0.0/8", "10.0.0.0/8 permit", "banana allow", ""])
def test_a_bad_rule_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rule(text)


# -- token buckets ------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    buckets: TokenBuckets[str] = TokenBuckets(rate=10, burst=10)
    assert sum(buckets.allow("a", 0.0) for _ in range(25)) == 10
    assert buckets.limited == 15
    # A second later, ten more; half a second, five.
    assert sum(buckets.allow("a", 1.0) for _ in range(25)) == 10
    assert sum(buckets.allow("a", 1.5) for _ in range(25)) == 5
    # A long pause refills no more than the burst.
    assert sum(buckets.allow("a", 100.0) for _ in range(25)) == 10


def test_one_key_flooding_leaves_the_others_their_rate() -> None:
    buckets: TokenBuckets[str] = TokenBuckets(rate=5, burst=5)
    allowed = {"flood": 0, "quiet": 0}
    for step in range(100):  # ten seconds: the flood asks 100 times a second
        now = step / 10
        for _ in range(10):
            allowed["flood"] += buckets.allow("flood", now)
        allowed["quiet"] += buckets.allow("quiet", now)  # 10 a second, over its 5 too
    assert allowed["flood"] <= 5 + 5 * 10
    assert allowed["quiet"] >= 5 * 10  # its own rate, unaffected by the flood
    assert allowed["quiet"] <= 5 + 5 * 10


def test_memory_is_bounded_and_the_least_recently_used_goes() -> None:
    buckets: TokenBuckets[int] = TokenBuckets(rate=1, burst=1, max_keys=100)
    assert buckets.allow(-1, 0.0)
    assert not buckets.allow(-1, 0.0)  # empty now
    for source in range(10_000):  # spoofed sources, one packet each
        buckets.allow(source, 0.0)
    assert len(buckets) == 100
    # The busy key was pushed out: it starts again with a full bucket, no worse.
    assert buckets.allow(-1, 0.0)
    # A key in use stays while others come and go.
    for source in range(20_000, 20_050):
        buckets.allow(source, 0.0)
    assert not buckets.allow(-1, 0.0)


def test_a_clock_going_back_refills_nothing() -> None:
    buckets: TokenBuckets[str] = TokenBuckets(rate=1, burst=1)
    assert buckets.allow("a", 10.0)
    assert not buckets.allow("a", 5.0)
    assert not buckets.allow("a", 5.5)
    assert buckets.allow("a", 6.5)


def test_rates_must_make_sense() -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBuckets(rate=1, burst=0.5)


def test_slip_answers_every_nth_query_over_the_limit() -> None:
    assert [n for n in range(1, 11) if slip(n, 2)] == [2, 4, 6, 8, 10]
    assert all(slip(n, 1) for n in range(1, 11))
    assert not any(slip(n, 0) for n in range(1, 11))


# -- default local zones ---------------------------------------------------------------


def ask(zones: tuple[Zone, ...], name: str, rtype: RRType) -> Message:
    return answer_query(zones, Message.make_query(name, rtype))


def texts(message: Message) -> list[str]:
    return [record.to_text() for record in message.answer]


def test_localhost_is_loopback_and_so_is_everything_below_it() -> None:
    zones = default_zones()
    assert texts(ask(zones, "localhost.", RRType.A)) == ["localhost.\t10800\tIN\tA\t127.0.0.1"]
    assert texts(ask(zones, "localhost.", RRType.AAAA)) == ["localhost.\t10800\tIN\tAAAA\t::1"]
    below = ask(zones, "db.app.localhost.", RRType.A)
    assert texts(below) == ["db.app.localhost.\t10800\tIN\tA\t127.0.0.1"]
    soa = ask(zones, "localhost.", RRType.SOA)
    assert texts(soa) == [
        "localhost.\t10800\tIN\tSOA\tlocalhost. nobody.invalid. 1 3600 1200 604800 10800"
    ]
    assert texts(ask(zones, "localhost.", RRType.NS)) == ["localhost.\t10800\tIN\tNS\tlocalhost."]


def test_loopback_reverse_names_point_at_localhost() -> None:
    zones = default_zones()
    v4 = ask(zones, "1.0.0.127.in-addr.arpa.", RRType.PTR)
    assert texts(v4) == ["1.0.0.127.in-addr.arpa.\t10800\tIN\tPTR\tlocalhost."]
    v6_name = "1." + "0." * 31 + "ip6.arpa."
    assert texts(ask(zones, v6_name, RRType.PTR)) == [f"{v6_name}\t10800\tIN\tPTR\tlocalhost."]
    assert ask(zones, "2.0.0.127.in-addr.arpa.", RRType.PTR).rcode == Rcode.NXDOMAIN


@pytest.mark.parametrize(
    ("name", "apex"),
    [
        ("5.4.3.10.in-addr.arpa.", "10.in-addr.arpa."),
        ("1.0.20.172.in-addr.arpa.", "20.172.in-addr.arpa."),
        ("1.1.168.192.in-addr.arpa.", "168.192.in-addr.arpa."),
        ("1.1.254.169.in-addr.arpa.", "254.169.in-addr.arpa."),
        ("1.0.64.100.in-addr.arpa.", "64.100.in-addr.arpa."),
        ("4.3.2.1.d.f.ip6.arpa.", "d.f.ip6.arpa."),
        ("1.0.0.0.0.8.e.f.ip6.arpa.", "8.e.f.ip6.arpa."),
        ("1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."),
        ("printer.home.arpa.", "home.arpa."),
        ("hidden.onion.", "onion."),
        ("www.example.test.", "test."),
        ("nothing.invalid.", "invalid."),
    ],
)
def test_private_and_special_use_names_are_nxdomain_with_an_soa(name: str, apex: str) -> None:
    reply = ask(default_zones(), name, RRType.PTR)
    assert reply.rcode == Rcode.NXDOMAIN
    assert [(r.name, r.rtype) for r in reply.authority] == [(Name.from_text(apex), RRType.SOA)]


def test_public_reverse_space_is_not_a_default_zone() -> None:
    for name in ("1.0.15.172.in-addr.arpa.", "1.0.32.172.in-addr.arpa.", "8.8.8.8.in-addr.arpa."):
        assert ask(default_zones(), name, RRType.PTR).rcode == Rcode.REFUSED  # no zone holds it


CORP = Zone.from_text(
    "$ORIGIN 10.in-addr.arpa.\n@ 300 SOA ns.corp. admin.corp. 1 3600 600 86400 60\n"
    "@ 300 NS ns.corp.\n5.0.0 300 PTR host.corp.\n"
)


def origins(zones: tuple[Zone, ...]) -> set[str]:
    return {zone.origin.to_text() for zone in zones}


def test_a_zone_file_replaces_the_default_zone_of_its_name_and_below() -> None:
    arpa = Zone.from_text("$ORIGIN 172.in-addr.arpa.\n@ 300 SOA ns. admin. 1 3600 600 86400 60\n")
    zones = local_zones((CORP, arpa))
    served = [zone for zone in zones if zone.origin == CORP.origin]
    assert served == [CORP]
    assert "20.172.in-addr.arpa." not in origins(zones)
    assert "168.192.in-addr.arpa." in origins(zones)
    assert texts(ask(zones, "5.0.0.10.in-addr.arpa.", RRType.PTR)) == [
        "5.0.0.10.in-addr.arpa.\t300\tIN\tPTR\thost.corp."
    ]


def test_forward_zones_and_no_default_zone_turn_defaults_off_at_and_below() -> None:
    zones = local_zones(
        (),
        forward_zones=[Name.from_text("168.192.in-addr.arpa.")],
        no_default=[Name.from_text("ip6.arpa."), Name.from_text("onion.")],
    )
    served = origins(zones)
    assert "168.192.in-addr.arpa." not in served
    assert "onion." not in served
    assert not any(origin.endswith("ip6.arpa.") for origin in served)
    assert {"10.in-addr.arpa.", "localhost.", "test."} <= served


def test_defaults_can_be_off_altogether() -> None:
    assert local_zones((CORP,), defaults=False) == (CORP,)


def test_local_data_joins_the_zone_that_holds_it() -> None:
    data = [
        read_local_data("nas.home.arpa. 60 A 192.168.1.2"),
        read_local_data("7.0.0.10.in-addr.arpa PTR printer.corp."),
    ]
    zones = local_zones((CORP,), data)
    assert texts(ask(zones, "nas.home.arpa.", RRType.A)) == [
        "nas.home.arpa.\t60\tIN\tA\t192.168.1.2"
    ]
    # The rest of home.arpa. is still NXDOMAIN, and the zone file gained a record.
    assert ask(zones, "tv.home.arpa.", RRType.A).rcode == Rcode.NXDOMAIN
    assert ask(zones, "nas.home.arpa.", RRType.AAAA).rcode == Rcode.NOERROR
    assert texts(ask(zones, "7.0.0.10.in-addr.arpa.", RRType.PTR)) == [
        "7.0.0.10.in-addr.arpa.\t3600\tIN\tPTR\tprinter.corp."
    ]
    assert ask(zones, "5.0.0.10.in-addr.arpa.", RRType.PTR).answer  # the file's own, still
    assert not any(zone.transparent for zone in zones)


def test_local_data_elsewhere_makes_a_transparent_zone_per_name() -> None:
    data = [
        read_local_data("printer.example.com A 192.0.2.5"),
        read_local_data("printer.example.com. 120 IN AAAA 2001:db8::5"),
        read_local_data('mail.example.com. TXT "hello"'),
    ]
    zones = local_zones((), data, defaults=False)
    assert [(zone.origin.to_text(), zone.transparent) for zone in zones] == [
        ("printer.example.com.", True),
        ("mail.example.com.", True),
    ]
    printer = zones[0]
    assert printer.exists(Name.from_text("printer.example.com."))
    assert not printer.exists(Name.from_text("tray.printer.example.com."))
    assert texts(ask(zones, "printer.example.com.", RRType.A)) == [
        "printer.example.com.\t3600\tIN\tA\t192.0.2.5"
    ]
    nodata = ask(zones, "printer.example.com.", RRType.MX)
    assert nodata.rcode == Rcode.NOERROR and not nodata.answer and nodata.authority


@pytest.mark.parametrize(
    "entry",
    ["printer.example.com A", "printer.example.com A 1.2.3.4 5.6.7.8 9", "x A 1.2.3.4\ny A 1"],
)
def test_a_bad_local_data_entry_is_a_value_error(entry: str) -> None:
    with pytest.raises(ValueError):
        read_local_data(entry)


@pytest.mark.parametrize(
    "qname",
    [
        "www.example.com.",
        "printer.example.com.",
        "tray.printer.example.com.",
        "Printer.EXAMPLE.com.",
        "localhost.",
        "a.b.localhost.",
        "5.0.0.10.in-addr.arpa.",
        "10.in-addr.arpa.",
        ".",
    ],
)
@pytest.mark.parametrize("qtype", [RRType.A, RRType.DS])
def test_the_zone_index_picks_what_choose_zone_would(qname: str, qtype: RRType) -> None:
    zones = local_zones((CORP,), [read_local_data("printer.example.com A 192.0.2.5")])
    name = Name.from_text(qname)
    speaking = [zone for zone in zones if not zone.transparent or zone.exists(name)]
    assert closest_zone(zones, name, qtype) is choose_zone(speaking, name, qtype)


# -- local_zone: zones declared without a file ------------------------------------------


def test_a_static_local_zone_is_a_blocklist_and_can_hold_local_data() -> None:
    data = [read_local_data("ok.tracker.example. A 192.0.2.1")]
    zones = local_zones((), data, declared=[parse_local_zone("tracker.example. static")])
    assert ask(zones, "ads.tracker.example.", RRType.A).rcode == Rcode.NXDOMAIN
    assert ask(zones, "tracker.example.", RRType.A).rcode == Rcode.NOERROR  # NODATA
    assert texts(ask(zones, "ok.tracker.example.", RRType.A)) == [
        "ok.tracker.example.\t3600\tIN\tA\t192.0.2.1"
    ]


def test_a_redirect_zone_answers_every_name_below_with_the_apex_data() -> None:
    data = [read_local_data("portal.example. A 192.0.2.9")]
    zones = local_zones((), data, declared=[parse_local_zone("portal.example. redirect")])
    for name in ("portal.example.", "a.portal.example.", "x.y.portal.example."):
        assert texts(ask(zones, name, RRType.A)) == [f"{name}\t3600\tIN\tA\t192.0.2.9"]


def test_transparent_and_nodefault_replace_a_default_zone() -> None:
    declared = [parse_local_zone("home.arpa. transparent"), parse_local_zone("onion. nodefault")]
    data = [read_local_data("nas.home.arpa. A 192.168.1.2")]
    zones = local_zones((), data, declared=declared)
    assert "onion." not in origins(zones)
    nas = [zone for zone in zones if zone.origin == Name.from_text("nas.home.arpa.")]
    assert len(nas) == 1 and nas[0].transparent
    assert "home.arpa." not in origins(zones)  # the rest of it is resolved


def test_a_declared_zone_a_file_also_serves_is_an_error() -> None:
    with pytest.raises(ValueError, match="served twice"):
        local_zones((CORP,), declared=[parse_local_zone("10.in-addr.arpa. static")])


@pytest.mark.parametrize("text", ["tracker.example.", "tracker.example. deny", "a..b static"])
def test_a_bad_local_zone_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_local_zone(text)


# -- the per-zone ratelimit, in the resolver (virtual time) -------------------------------


async def test_a_zone_over_its_ratelimit_costs_servfail_and_other_zones_are_untouched(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=ResolverSettings(ratelimit=2),
    )
    await resolver.resolve("www.example.com", "A")  # the root and com. referrals, once
    await trio.sleep(1)
    sent = len(sandbox.network.exchanges)
    answers = [await resolver.resolve(f"n{i}.example.com", "A") for i in range(6)]
    rcodes = [answer.rcode for answer in answers]
    # The burst of two, then SERVFAIL at once: nothing more goes to example.com.
    assert rcodes == [Rcode.NXDOMAIN] * 2 + [Rcode.SERVFAIL] * 4
    assert len(sandbox.network.exchanges) == sent + 2
    assert resolver.ratelimited == 4
    assert answers[-1].error is not None and "ratelimit" in answers[-1].error.extra_text
    # Another zone has a bucket of its own...
    assert (await resolver.resolve("www.cdn.net", "A")).rcode == Rcode.NOERROR
    # ...and example.com.'s refills with time.
    await trio.sleep(1)
    assert (await resolver.resolve("later.example.com", "A")).rcode == Rcode.NXDOMAIN

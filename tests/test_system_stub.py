"""The system resolver on the fake network: search list, exceptions, lifetime,
addresses, reverse, and the Answer API. (Against real servers on loopback:
tests/integration/test_system_stub_real.py.)"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import pytest
import trio

import trio_dns
from trio_dns import (
    BogusAnswer,
    EdeCode,
    Edns,
    ExtendedError,
    Flag,
    Message,
    Name,
    NoData,
    NoSuchName,
    Rcode,
    ResolutionError,
    ResolutionFailed,
    ResolutionTimeout,
    Resolver,
    SystemConfig,
    SystemResolver,
)
from trio_dns._network import resolver as resolver_module
from trio_dns._network import system
from trio_dns._network.lookups import interleave
from trio_dns.testing import Behaviour, FakeNetwork

NAMESERVER = "192.0.2.53"
SECOND = "192.0.2.54"

CORP = """
$ORIGIN corp.example.
$TTL 600
@ SOA ns hostmaster 1 7200 900 1209600 300
@ NS ns
ns A 192.0.2.1
www A 10.0.0.80
www AAAA 2001:db8::80
www AAAA 2001:db8::81
dual A 10.0.0.1
dual A 10.0.0.2
dual A 10.0.0.3
dual AAAA 2001:db8::1
alias CNAME www
v4only A 10.0.0.4
mx MX 10 www
"""

LAB = """
$ORIGIN lab.example.
$TTL 300
@ SOA ns hostmaster 1 7200 900 1209600 60
@ NS ns
ns A 192.0.2.1
printer A 10.9.0.7
v4only AAAA 2001:db8::4
sub DNAME corp.example.
"""

REVERSE = """
$ORIGIN 10.in-addr.arpa.
$TTL 300
@ SOA ns.corp.example. hostmaster.corp.example. 1 7200 900 1209600 60
@ NS ns.corp.example.
80.0.0 PTR www.corp.example.
"""

REVERSE6 = """
$ORIGIN 8.b.d.0.1.0.0.2.ip6.arpa.
$TTL 300
@ SOA ns.corp.example. hostmaster.corp.example. 1 7200 900 1209600 60
@ NS ns.corp.example.
0.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR www.corp.example.
"""

# The upstream is authoritative for the root too, so that every name has an answer
# (here NXDOMAIN) rather than a refusal.
ROOT_ZONE = """
$ORIGIN .
$TTL 86400
@ SOA a.root. hostmaster. 1 7200 900 1209600 300
@ NS a.root.
a.root. A 192.0.2.53
"""

ZONES = [ROOT_ZONE, CORP, LAB, REVERSE, REVERSE6]


def make(conf: str, zones: list[str] = ZONES) -> tuple[FakeNetwork, SystemResolver]:
    network = FakeNetwork()
    network.add_server([NAMESERVER], zones)
    resolver = SystemResolver.from_config(SystemConfig.from_text(conf), transport=network)
    return network, resolver


def asked(network: FakeNetwork) -> list[str]:
    return [str(e.qname) for e in network.exchanges]


# -- the search list and ndots, as glibc applies them ------------------------------


async def test_a_short_name_is_tried_under_the_search_domains_first(
    autojump_clock: trio.abc.Clock,
) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch lab.example corp.example\n")
    answer = await resolver.resolve("www", "A")
    assert [str(r) for r in answer] == ["10.0.0.80"]
    assert answer.qname == Name.from_text("www.corp.example")
    # lab.example said NXDOMAIN, so corp.example was next; "www." was never asked.
    assert asked(network) == ["www.lab.example.", "www.corp.example."]


async def test_enough_dots_asks_the_name_as_typed_first(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch corp.example\noptions ndots:2\n")
    answer = await resolver.resolve("printer.lab.example", "A")
    assert [str(r) for r in answer] == ["10.9.0.7"]
    assert asked(network) == ["printer.lab.example."]
    # One dot is fewer than two: the search list first.
    await resolver.resolve("ns.lab", "A")
    assert asked(network)[1:] == ["ns.lab.corp.example.", "ns.lab."]


async def test_a_trailing_dot_skips_the_search_list(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch corp.example\n")
    answer = await resolver.resolve("www.", "A")
    assert answer.rcode == Rcode.NXDOMAIN
    assert asked(network) == ["www."]
    with pytest.raises(NoSuchName):
        answer.raise_for_status()


async def test_a_name_object_is_absolute(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch corp.example\n")
    await resolver.resolve(Name.from_text("www"), "A")
    assert asked(network) == ["www."]


async def test_when_every_name_fails_nodata_is_reported(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch corp.example lab.example\n")
    # www.corp.example has no MX (NODATA); www.lab.example and www. do not exist.
    answer = await resolver.resolve("www", "MX")
    assert asked(network) == ["www.corp.example.", "www.lab.example.", "www."]
    assert answer.rcode == Rcode.NOERROR and answer.qname == Name.from_text("www.corp.example")
    with pytest.raises(NoData):
        answer.raise_for_status()


async def test_when_the_typed_name_went_first_its_failure_is_reported(
    autojump_clock: trio.abc.Clock,
) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch corp.example\n")
    answer = await resolver.resolve("nope.example", "A")
    assert asked(network) == ["nope.example.", "nope.example.corp.example."]
    assert answer.qname == Name.from_text("nope.example")


# -- the exceptions -------------------------------------------------------------------


def _servfail_with(code: EdeCode, text: str) -> Behaviour:
    def handler(query: Message) -> Message:
        reply = query.make_response(Rcode.SERVFAIL, Flag.RA)
        return attrs.evolve(reply, edns=Edns(options=(ExtendedError(code, text),)))

    return Behaviour(handler=handler)


async def test_a_forwarders_servfail_reason_is_passed_on(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\n")
    server = network.server_at(NAMESERVER)
    assert server is not None
    server.set_behaviour(_servfail_with(EdeCode.NETWORK_ERROR, "upstream unreachable"))
    answer = await resolver.resolve("www.corp.example", "A")
    assert answer.rcode == Rcode.SERVFAIL
    with pytest.raises(ResolutionFailed) as caught:
        answer.raise_for_status()
    assert type(caught.value) is ResolutionFailed
    assert caught.value.error == ExtendedError(EdeCode.NETWORK_ERROR, "upstream unreachable")
    assert caught.value.answer is answer
    assert "upstream unreachable" in str(caught.value)


async def test_a_bogus_verdict_upstream_is_bogus_answer(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\n")
    server = network.server_at(NAMESERVER)
    assert server is not None
    server.set_behaviour(_servfail_with(EdeCode.SIGNATURE_EXPIRED, "RRSIG expired"))
    answer = await resolver.resolve("www.corp.example", "A")
    with pytest.raises(BogusAnswer) as caught:
        answer.raise_for_status()
    assert caught.value.error is not None
    assert caught.value.error.info_code == EdeCode.SIGNATURE_EXPIRED
    assert isinstance(caught.value, ResolutionFailed)


async def test_a_silent_nameserver_is_a_timeout(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\noptions timeout:1 attempts:2\n")
    server = network.server_at(NAMESERVER)
    assert server is not None
    server.set_behaviour(Behaviour(dead=True))
    start = trio.current_time()
    answer = await resolver.resolve("www.corp.example", "A")
    # timeout times attempts is the deadline of the question.
    assert trio.current_time() - start <= 2.0 + 1e-6
    assert answer.timed_out
    with pytest.raises(ResolutionTimeout) as caught:
        answer.raise_for_status()
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, ResolutionError)


async def test_lifetime_bounds_one_call(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch lab.example corp.example\n")
    server = network.server_at(NAMESERVER)
    assert server is not None
    server.set_behaviour(Behaviour(latency=0.7))
    start = trio.current_time()
    # Two names of the search list, 0.7 s each, do not fit in one second.
    answer = await resolver.resolve("www", "A", lifetime=1.0)
    assert trio.current_time() - start == pytest.approx(1.0)
    assert answer.timed_out and answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None and "1 s lifetime" in answer.error.extra_text
    with pytest.raises(ResolutionTimeout):
        answer.raise_for_status()
    # Enough time: the same call answers.
    found = await resolver.resolve("www", "A", lifetime=5.0)
    assert [str(r) for r in found.raise_for_status()] == ["10.0.0.80"]
    with pytest.raises(ValueError):
        await resolver.resolve("www", "A", lifetime=0)


async def test_lifetime_on_the_recursive_resolver(
    autojump_clock: trio.abc.Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = FakeNetwork()
    network.add_server(["192.0.2.99"], [], behaviour=Behaviour(dead=True))
    hints = trio_dns.read_zone(". 3600 NS a.root.\na.root. 3600 A 192.0.2.99\n", origin=".")
    resolver = Resolver(root_hints=hints, transport=network)
    answer = await resolver.resolve("www.example", "A", lifetime=0.5)
    assert trio.current_time() == pytest.approx(0.5)
    with pytest.raises(ResolutionTimeout):
        answer.raise_for_status()
    # trio_dns.resolve, the process-wide recursive resolver, takes it too.
    monkeypatch.setattr(resolver_module, "_default", resolver)
    start = trio.current_time()
    again = await trio_dns.resolve("www.example", "AAAA", lifetime=0.25)
    assert trio.current_time() - start == pytest.approx(0.25) and again.timed_out


# -- the Answer API -------------------------------------------------------------------


async def test_answer_names_the_end_of_the_chain_and_when_it_expires(
    autojump_clock: trio.abc.Clock,
) -> None:
    _, resolver = make(f"nameserver {NAMESERVER}\n")
    answer = await resolver.resolve("alias.corp.example.", "AAAA")
    assert answer.canonical_name == Name.from_text("www.corp.example")
    assert sorted(r.address for r in answer) == ["2001:db8::80", "2001:db8::81"]  # type: ignore[attr-defined]
    assert not answer.from_cache and not answer.validated
    assert answer.expires == pytest.approx(resolver.now() + 600)
    await trio.sleep(100)
    again = await resolver.resolve("alias.corp.example.", "AAAA")
    assert again.from_cache
    assert again.expires == pytest.approx(answer.expires, abs=1)
    dname = await resolver.resolve("www.sub.lab.example.", "A")
    assert dname.canonical_name == Name.from_text("www.corp.example")
    assert [str(r) for r in dname] == ["10.0.0.80"]


# -- addresses and reverse ------------------------------------------------------------


def test_interleave_puts_ipv6_first_and_alternates() -> None:
    assert interleave(["::1", "::2"], ["1.0.0.1", "1.0.0.2", "1.0.0.3"]) == [
        "::1",
        "1.0.0.1",
        "::2",
        "1.0.0.2",
        "1.0.0.3",
    ]
    assert interleave([], ["1.0.0.1"]) == ["1.0.0.1"]


async def test_addresses_asks_both_families_at_once(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch corp.example\n")
    found = await trio_dns.addresses("dual", resolver=resolver)
    assert found[0] == "2001:db8::1"
    assert sorted(found[1:]) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    # Sent together: the A and AAAA queries left at the same instant.
    times = {e.time for e in network.exchanges}
    assert len(network.exchanges) == 2 and len(times) == 1
    # v4only.corp.example has no AAAA, v4only.lab.example has one: the addresses
    # come from the first name of the search list that has any, as getaddrinfo's do.
    assert await trio_dns.addresses("v4only", resolver=resolver) == ["10.0.0.4"]
    searched = make(f"nameserver {NAMESERVER}\nsearch lab.example corp.example\n")[1]
    assert await trio_dns.addresses("v4only", resolver=searched) == ["2001:db8::4"]
    assert await trio_dns.addresses("2001:DB8::0:1", resolver=resolver) == ["2001:db8::1"]


async def test_addresses_raise_when_there_are_none(autojump_clock: trio.abc.Clock) -> None:
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch lab.example\n")
    with pytest.raises(NoSuchName):
        await trio_dns.addresses("nope.corp.example", resolver=resolver)
    with pytest.raises(NoData):
        await trio_dns.addresses("corp.example.", resolver=resolver)

    # A slow nameserver, new to the resolver: www.lab.example (0.7 s, NXDOMAIN),
    # then www.: past the lifetime.
    network, resolver = make(f"nameserver {NAMESERVER}\nsearch lab.example\n")
    server = network.server_at(NAMESERVER)
    assert server is not None
    server.set_behaviour(Behaviour(latency=0.7))
    start = trio.current_time()
    with pytest.raises(ResolutionTimeout) as caught:
        await trio_dns.addresses("www", resolver=resolver, lifetime=1.0)
    assert trio.current_time() - start == pytest.approx(1.0)
    assert caught.value.error is not None and "1 s lifetime" in caught.value.error.extra_text


async def test_reverse(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make(f"nameserver {NAMESERVER}\n")
    assert await trio_dns.reverse("10.0.0.80", resolver=resolver) == [
        Name.from_text("www.corp.example")
    ]
    assert await trio_dns.reverse("2001:db8::80", resolver=resolver) == [
        Name.from_text("www.corp.example")
    ]
    with pytest.raises(NoSuchName):
        await trio_dns.reverse("10.0.0.81", resolver=resolver)
    with pytest.raises(ValueError):
        await trio_dns.reverse("www.corp.example", resolver=resolver)


# -- reading the file -----------------------------------------------------------------


def test_from_system_reads_the_file_once(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.53\nsearch corp.example\noptions ndots:2 attempts:3\n")
    resolver = Resolver.from_system(conf, port=5353)
    assert isinstance(resolver, SystemResolver)
    assert resolver.settings.forwarders == (("127.0.0.53", 5353),)
    assert resolver.settings.rounds == 3 and resolver.settings.deadline == 15.0
    conf.write_text("nameserver 127.0.0.99\n")
    assert resolver.settings.forwarders == (("127.0.0.53", 5353),)
    assert resolver.config.search == (Name.from_text("corp.example"),)
    assert not resolver.validating


@pytest.mark.parametrize("text", [None, "", "# nothing\nsearch corp.example\n"])
def test_no_nameserver_falls_back_to_recursion_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str | None
) -> None:
    conf = tmp_path / "resolv.conf"
    if text is not None:
        conf.write_text(text)
    with caplog.at_level(logging.WARNING, logger="trio_dns.system"):
        resolver = Resolver.from_system(conf)
    assert resolver.settings.forwarders == ()
    assert resolver.validating  # recursion from IANA's root, with its keys
    (record,) = caplog.records
    assert str(conf) in record.getMessage() and "root servers" in record.getMessage()


def test_one_system_resolver_per_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.53\n")
    monkeypatch.setattr(system, "RESOLV_CONF", conf)
    monkeypatch.setattr(system, "_system", None)
    first = trio_dns.system_resolver()
    conf.write_text("nameserver 127.0.0.54\n")
    assert trio_dns.system_resolver() is first
    assert first.settings.forwarders == (("127.0.0.53", 53),)

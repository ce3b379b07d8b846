"""The system resolver against real servers: NSD serving a signed root (and a
zone whose signatures have expired), `trio-dns serve` validating from it, and a
resolv.conf written by the test that names `trio-dns serve` as its nameserver.

What this shows that the fake network cannot: the search list and ndots applied
to a real recursive server's answers, the validating server's bogus verdict
(SERVFAIL with EDE 7) arriving as `BogusAnswer`, a truncated reply asked again
over TCP, and a nameserver that never answers (a UDP socket the test holds open)
losing the race, or, alone, making the call a `ResolutionTimeout`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio

import trio_dns
from trio_dns import (
    BogusAnswer,
    EdeCode,
    Name,
    NoData,
    NoSuchName,
    Record,
    ResolutionTimeout,
    Resolver,
    SystemResolver,
    read_zone,
)
from trio_dns import _cli as cli
from trio_dns._dnssec import Algorithm
from trio_dns.testing import SigningKey, sign_zone

from .servers import PORT, ServerPool, require

NET = "127.53.60"
ROOT_SERVER = f"{NET}.1"
BAD_SERVER = f"{NET}.2"
RESOLVER = f"{NET}.100"  # trio-dns serve
SILENT = f"{NET}.3"  # a socket that never answers

ROOT = f"""
. 86400 IN SOA a.root. hostmaster.root. 1 1800 900 604800 300
. 86400 IN NS a.root.
a.root. 86400 IN A {ROOT_SERVER}
www.corp.example. 300 IN A 10.0.0.80
www.corp.example. 300 IN AAAA 2001:db8::80
dual.corp.example. 300 IN A 10.0.0.1
dual.corp.example. 300 IN A 10.0.0.2
dual.corp.example. 300 IN AAAA 2001:db8::1
dual.corp.example. 300 IN AAAA 2001:db8::2
printer.lab.example. 300 IN A 10.9.0.7
80.0.0.10.in-addr.arpa. 300 IN PTR www.corp.example.
bad.example. 86400 IN NS ns.bad.example.
ns.bad.example. 86400 IN A {BAD_SERVER}
""" + "".join(f'big.corp.example. 300 IN TXT "{i:02d} {"b" * 180}"\n' for i in range(12))

BAD = f"""
bad.example. 3600 IN SOA ns.bad.example. hostmaster.bad.example. 1 7200 900 1209600 300
bad.example. 3600 IN NS ns.bad.example.
ns.bad.example. 3600 IN A {BAD_SERVER}
www.bad.example. 3600 IN A 192.0.2.81
"""


@attrs.frozen
class Network:
    directory: Path


def _text(records: list[Record]) -> str:
    return "".join(record.to_text() + "\n" for record in records)


def _wait_serving(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    if "serving on" not in line:
        process.kill()
        raise AssertionError(f"trio-dns serve did not start: {line}{process.stdout.read()}")


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    require("nsd")
    now = int(time.time())
    root_key = SigningKey.generate(".", Algorithm.ECDSAP256SHA256, ksk=True)
    bad_key = SigningKey.generate("bad.example.", Algorithm.ECDSAP256SHA256, ksk=True)
    root = sign_zone(
        [*read_zone(ROOT, origin="."), bad_key.ds()],
        [root_key],
        inception=now - 3600,
        expiration=now + 86400,
    )
    bad = sign_zone(
        read_zone(BAD, origin="bad.example."),
        [bad_key],
        inception=now - 7200,
        expiration=now - 3600,
    )
    directory = tmp_path_factory.mktemp("system-stub")
    hints = directory / "root.hints"
    hints.write_text(f". 3600 IN NS a.root.\na.root. 3600 IN A {ROOT_SERVER}\n")
    anchor = directory / "root.ds"
    anchor.write_text(root_key.ds().to_text() + "\n")
    with ServerPool(directory / "nsd") as pool:
        pool.start_many(
            [
                ("nsd", ROOT_SERVER, {".": _text(root)}),
                ("nsd", BAD_SERVER, {"bad.example.": _text(bad)}),
            ]
        )
        argv = [sys.executable, "-m", "trio_dns", "serve", "--listen", f"{RESOLVER}:{PORT}"]
        argv += ["--root-hints", str(hints), "--trust-anchor", str(anchor)]
        argv += ["--upstream-port", str(PORT), "--allow", "127.0.0.0/8"]
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            try:
                _wait_serving(process)
                yield Network(directory)
            finally:
                process.terminate()
                process.wait(10)


@pytest.fixture
def silent() -> Iterator[None]:
    """A nameserver address that takes queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((SILENT, PORT))
        yield


def system(network: Network, text: str) -> Resolver:
    conf = network.directory / "resolv.conf"
    conf.write_text(text)
    return Resolver.from_system(conf, port=PORT)


async def test_the_search_list_and_ndots_through_a_real_resolver(network: Network) -> None:
    resolver = system(network, f"nameserver {RESOLVER}\nsearch lab.example corp.example\n")
    assert isinstance(resolver, SystemResolver)
    with trio.fail_after(10):
        answer = (await resolver.resolve("www", "A")).raise_for_status()
    assert answer.qname == Name.from_text("www.corp.example")
    assert [str(rdata) for rdata in answer] == ["10.0.0.80"]
    assert not answer.from_cache and answer.expires is not None
    assert answer.expires == pytest.approx(time.time() + 300, abs=5)
    with trio.fail_after(10):
        again = await resolver.resolve("www", "A")
        printer = await resolver.resolve("printer", "A")
    assert again.from_cache
    assert [str(rdata) for rdata in printer] == ["10.9.0.7"]
    # Two dots reach ndots:1, so the name goes as typed, and is found as typed.
    with trio.fail_after(10):
        typed = await resolver.resolve("printer.lab.example", "A")
    assert typed.from_cache and typed.qname == Name.from_text("printer.lab.example")


async def test_every_negative_outcome_raises(network: Network) -> None:
    resolver = system(network, f"nameserver {RESOLVER}\nsearch corp.example\n")
    with trio.fail_after(20):
        with pytest.raises(NoSuchName) as nx:
            (await resolver.resolve("nope", "A")).raise_for_status()
        with pytest.raises(NoData):
            (await resolver.resolve("www.corp.example.", "MX")).raise_for_status()
        bogus = await resolver.resolve("www.bad.example.", "A")
    assert nx.value.answer.rcode == trio_dns.Rcode.NXDOMAIN
    with pytest.raises(BogusAnswer) as caught:
        bogus.raise_for_status()
    # The validating server's reason, passed on by the stub.
    assert caught.value.error is not None
    assert caught.value.error.info_code == EdeCode.SIGNATURE_EXPIRED


async def test_addresses_and_reverse(network: Network) -> None:
    resolver = system(network, f"nameserver {RESOLVER}\nsearch corp.example\n")
    with trio.fail_after(10):
        found = await trio_dns.addresses("dual", resolver=resolver)
        names = await trio_dns.reverse("10.0.0.80", resolver=resolver)
    assert [":" in address for address in found] == [True, False, True, False]
    assert set(found) == {"2001:db8::1", "2001:db8::2", "10.0.0.1", "10.0.0.2"}
    assert names == [Name.from_text("www.corp.example")]


async def test_a_truncated_reply_is_asked_again_over_tcp(network: Network) -> None:
    resolver = system(network, f"nameserver {RESOLVER}\n")
    with trio.fail_after(10):
        answer = await resolver.resolve("big.corp.example", "TXT")
    assert len(answer.raise_for_status().rrset()) == 12
    assert resolver.exchange_stats.truncated_replies == 1
    assert resolver.exchange_stats.queries_tcp == 1


async def test_a_silent_nameserver_loses_the_race(network: Network, silent: None) -> None:
    resolver = system(network, f"nameserver {SILENT}\nnameserver {RESOLVER}\n")
    start = trio.current_time()
    with trio.fail_after(10):
        answer = await resolver.resolve("www.corp.example", "AAAA")
    assert [str(rdata) for rdata in answer] == ["2001:db8::80"]
    assert trio.current_time() - start < 2.0  # staggered, not a timeout


async def test_a_lone_silent_nameserver_is_out_of_time(network: Network, silent: None) -> None:
    resolver = system(network, f"nameserver {SILENT}\noptions timeout:1 attempts:2\n")
    start = trio.current_time()
    with pytest.raises(ResolutionTimeout):
        (await resolver.resolve("www.corp.example", "A")).raise_for_status()
    assert trio.current_time() - start <= 2.5
    start = trio.current_time()
    with pytest.raises(ResolutionTimeout):
        await trio_dns.addresses("www.corp.example", resolver=resolver, lifetime=0.5)
    assert trio.current_time() - start == pytest.approx(0.5, abs=0.2)


def test_query_without_a_server_asks_the_system_resolver(
    network: Network, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = network.directory / "cli-resolv.conf"
    conf.write_text(f"nameserver {RESOLVER}\nsearch lab.example corp.example\n")
    monkeypatch.setattr(cli, "_RESOLV_CONF", conf)
    assert cli.main(["query", "www", "AAAA", "-p", str(PORT)]) == 0
    out = capsys.readouterr().out
    assert ";; status: NOERROR, www.corp.example. IN AAAA" in out
    assert "2001:db8::80" in out
    assert f";; SERVERS: {RESOLVER}#{PORT} (from {conf})" in out


def test_query_without_a_server_out_of_time(
    network: Network,
    silent: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conf = network.directory / "cli-silent.conf"
    conf.write_text(f"nameserver {SILENT}\n")
    monkeypatch.setattr(cli, "_RESOLV_CONF", conf)
    argv = ["query", "www.corp.example", "-p", str(PORT), "--timeout", "0.3", "--attempts", "1"]
    assert cli.main(argv) == 1
    out = capsys.readouterr().out
    assert "status: SERVFAIL" in out and "0.3 s lifetime" in out

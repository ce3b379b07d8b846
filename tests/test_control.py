"""`trio-dns control`: the control socket of a running `trio-dns serve`, and reload.

The server tests run the real server (the hostile suite's `serve` fixture: its
own process, loopback sockets, the sandbox internet) with a config file and a
zone file of their own, and drive it with the real `trio-dns control` command;
whether a flush worked is read from the upstream query counter, and a reload
from the answers. The cache's and server selection's new methods are pinned
down without sockets first.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_dns._decisions.cache import Cache
from trio_dns._decisions.servers import ServerSelection
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._server.control import REQUEST_TIMEOUT, SEND_TIMEOUT, Control
from trio_dns._server.server import Server
from trio_dns._trust import NegativeKind, Rank
from trio_dns._wire.enums import RRClass, RRType
from trio_dns._wire.message import Record
from trio_dns._wire.name import Name
from trio_dns._wire.rdtypes.address import A
from trio_dns._wire.rdtypes.soa import SOA
from trio_dns._wire.zone import read_zone
from trio_dns.testing import build_sandbox

from .hostile.conftest import Serve, Served, make_query, serve

__all__ = ["serve"]  # the fixture, imported for these tests

# -- the pure parts ---------------------------------------------------------------------


def a(name: str, address: str = "192.0.2.1", ttl: int = 300) -> Record:
    return Record(Name.from_text(name), RRType.A, RRClass.IN, ttl, A(address))


def soa(zone: str) -> Record:
    rdata = SOA(Name.from_text(f"ns.{zone}"), Name.from_text(f"h.{zone}"), 1, 2, 3, 4, 60)
    return Record(Name.from_text(zone), RRType.SOA, RRClass.IN, 60, rdata)


def test_the_cache_forgets_a_name_a_type_or_a_subtree() -> None:
    cache = Cache()
    for name in ("example.com", "www.example.com", "a.b.example.com", "example.net"):
        cache.put_rrset([a(name)], Rank.AUTH_ANSWER, 0.0)
    www = Name.from_text("www.example.com")
    cache.put_negative(
        www, RRType.AAAA, RRClass.IN, soa("example.com"), 0.0, kind=NegativeKind.NODATA
    )
    assert cache.remove_name(www, RRType.MX) == 0
    assert cache.remove_name(www, RRType.AAAA) == 1  # the NODATA entry
    assert cache.get_rrset(www, RRType.A, RRClass.IN, 1.0) is not None
    assert cache.remove_name(www) == 1
    assert cache.get_rrset(www, RRType.A, RRClass.IN, 1.0) is None
    # Label by label: evilexample.com is not below example.com.
    cache.put_rrset([a("evilexample.com")], Rank.AUTH_ANSWER, 0.0)
    assert cache.remove_subtree(Name.from_text("example.com")) == 2
    assert [str(entry.name) for entry in cache.dump(1.0)] == ["example.net.", "evilexample.com."]


def test_the_cache_dump_has_remaining_ttls_and_skips_the_expired() -> None:
    cache = Cache()
    cache.put_rrset([a("long.example", ttl=300)], Rank.AUTH_ANSWER, 0.0)
    cache.put_rrset([a("short.example", ttl=10)], Rank.AUTH_ANSWER, 0.0)
    hits = cache.hits
    (entry,) = cache.dump(100.0)
    assert entry.name == Name.from_text("long.example")
    assert entry.ttl == 200
    assert cache.hits == hits  # a dump is no lookup


def test_server_selection_forgets_one_server_or_all() -> None:
    servers = ServerSelection()
    one, two = ("192.0.2.1", 53), ("192.0.2.2", 53)
    servers.record_success(one, 0.010)
    servers.record_timeout(two, 0.0)
    assert servers.forget(("192.0.2.9", 53)) == 0
    assert servers.forget(one) == 1
    assert servers.known(one) is None
    assert servers.timeout(one) == 1.0  # never tried, again
    assert servers.known(two) is not None
    assert servers.forget() == 1
    assert servers.known(two) is None


# -- the real server ----------------------------------------------------------------------

ZONE = """$ORIGIN home.test.
$TTL 3600
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A 192.0.2.53
www A {address}
"""
TIMEOUT = 20.0


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory for control sockets (a Unix socket's path is at most
    107 octets, and pytest's tmp_path can be longer than that)."""
    directory = Path(tempfile.mkdtemp(prefix="tdc-"))
    yield directory
    for path in sorted(directory.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    directory.rmdir()


def control(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`trio-dns control --control-socket PATH ARGS...`"""
    command = [sys.executable, "-m", "trio_dns", "control", "--control-socket", str(path)]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def ok(path: Path, *args: str) -> list[str]:
    result = control(path, *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def wait_for_control(path: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while (result := control(path, "status")).returncode != 0:
        assert time.monotonic() < deadline, f"the control socket never answered: {result.stderr}"
        time.sleep(0.1)


def start(
    serve: Serve, tmp_path: Path, socket_dir: Path, extra: str = ""
) -> tuple[Served, Path, Path, Path]:
    """A server with a config file naming a zone file and the control socket;
    (server, socket, config file, zone file)."""
    zone = tmp_path / "home.zone"
    zone.write_text(ZONE.format(address="192.0.2.80"))
    sock = socket_dir / "run" / "control.sock"
    config = f'zone = ["{zone}"]\ncontrol_socket = "{sock}"\n{extra}'
    served = serve(config=config, zone=False)
    wait_for_control(sock)
    return served, sock, tmp_path / "hostile-0.toml", zone


def home(served: Served) -> list[str]:
    reply = served.udp(make_query("www.home.test"))
    return [r.to_text() for rrset in reply.answer for r in rrset]


def upstream(served: Served) -> float:
    return served.metric("trio_dns_upstream_queries")


def test_the_socket_is_owner_only(serve: Serve, tmp_path: Path, socket_dir: Path) -> None:
    _, sock, _, _ = start(serve, tmp_path, socket_dir)
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700


def test_status_and_stats(serve: Serve, tmp_path: Path, socket_dir: Path) -> None:
    served, sock, config, _ = start(serve, tmp_path, socket_dir)
    assert home(served) == ["192.0.2.80"]
    status = ok(sock, "status")
    host, port = served.address
    assert f"pid: {served.pid}" in status
    assert f"config file: {config}" in status
    assert f"listening on: {host}:{port}" in status
    assert f"zone files: {tmp_path / 'home.zone'}" in status
    assert any(line.startswith("version: ") for line in status)
    # The client finds the socket in the server's config file too.
    command = [sys.executable, "-m", "trio_dns", "control", "--config", str(config), "status"]
    found = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert found.returncode == 0, found.stderr
    assert f"pid: {served.pid}" in found.stdout.splitlines()
    stats = ok(sock, "stats")
    values = dict(line.rsplit(" ", 1) for line in stats)
    # The same numbers as the metrics endpoint's.
    assert float(values['trio_dns_queries_total{type="A"}']) == served.metric(
        "trio_dns_queries", type="A"
    )
    assert float(values["trio_dns_upstream_queries_total"]) == upstream(served)


def test_flush_sends_the_next_query_upstream(
    serve: Serve, tmp_path: Path, socket_dir: Path
) -> None:
    served, sock, _, _ = start(serve, tmp_path, socket_dir)

    def ask(name: str) -> float:
        """Upstream queries the question cost."""
        before = upstream(served)
        reply = served.udp(make_query(name))
        assert reply.answer, reply
        return upstream(served) - before

    assert ask("www.example.com") > 0
    assert ask("www.example.com") == 0  # cached
    assert ask("www.cdn.net") > 0
    assert ok(sock, "flush", "www.example.com", "AAAA") == [
        "flushed www.example.com. AAAA: 0 entries"
    ]
    assert ask("www.example.com") == 0
    assert ok(sock, "flush", "www.example.com", "A") == ["flushed www.example.com. A: 1 entries"]
    # Only the answer went: the zone's servers are known, one query does it.
    assert ask("www.example.com") == 1
    assert ask("www.cdn.net") == 0
    (line,) = ok(sock, "flush-zone", "example.com")
    assert line.startswith("flushed example.com. and below: ")
    assert ask("www.example.com") > 1  # the delegation had to be found again
    assert ask("www.cdn.net") == 0
    ok(sock, "flush-all")
    assert ask("www.cdn.net") > 1
    # What a user gets wrong is one line and exit status 1.
    result = control(sock, "flush", "www..example.com")
    assert result.returncode == 1
    assert result.stderr.startswith("trio-dns control: invalid name")
    assert len(result.stderr.splitlines()) == 1


def test_dump_cache_reads_back_as_a_zone_file(
    serve: Serve, tmp_path: Path, socket_dir: Path
) -> None:
    served, sock, _, _ = start(serve, tmp_path, socket_dir)
    served.udp(make_query("www.example.com"))
    served.udp(make_query("nowhere.example.com"))
    text = "\n".join(ok(sock, "dump-cache")) + "\n"
    records = read_zone(text, origin=".")
    found = {(str(r.name), r.rtype): r for r in records}
    www = found[("www.example.com.", RRType.A)]
    assert www.rdata == A("198.51.100.80")
    assert 0 < www.ttl <= 3600
    assert ("example.com.", RRType.NS) in found
    assert "; NXDOMAIN nowhere.example.com." in text


def test_lookup_shows_the_servers_and_flush_infra_forgets_them(
    serve: Serve, tmp_path: Path, socket_dir: Path
) -> None:
    served, sock, _, _ = start(serve, tmp_path, socket_dir)
    served.udp(make_query("www.example.com"))
    lines = ok(sock, "lookup", "mail.example.com")
    assert lines[0].startswith("mail.example.com.: closest zone cut example.com. (cached, TTL ")
    asked = [line for line in lines[1:] if " ms ok" in line]
    assert asked, lines  # the server that answered, with its smoothed RTT
    assert all("example.com." in line for line in lines[1:])
    assert ok(sock, "lookup", "www.home.test")[0].startswith(
        "www.home.test. is in the local zone home.test."
    )
    (line,) = ok(sock, "flush-infra")
    assert line.startswith("forgot every server: ")
    lines = ok(sock, "lookup", "mail.example.com")
    assert not any(" ms " in line for line in lines[1:])
    assert all("never tried" in line for line in lines[1:])


def test_reload_and_sighup_apply_new_files_and_keep_the_cache(
    serve: Serve, tmp_path: Path, socket_dir: Path
) -> None:
    served, sock, config, zone = start(serve, tmp_path, socket_dir)
    served.udp(make_query("www.example.com"))
    assert home(served) == ["192.0.2.80"]
    zone.write_text(ZONE.format(address="192.0.2.81"))
    moved = socket_dir / "elsewhere.sock"
    settings = "deny_any = true\nmax_ttl = 60\nquery_log = true\n"
    config.write_text(config.read_text().replace(str(sock), str(moved)) + settings)
    assert "www.home.test. A NOERROR" not in served.log()
    lines = ok(sock, "reload")
    assert lines[0] == f"reloaded {config}: 1 zone files"
    assert lines[1] == "changed: max_ttl, query_log, deny_any, zone files"
    assert lines[2] == "not changed until a restart: control_socket"
    assert home(served) == ["192.0.2.81"]
    assert served.udp(make_query("anything.example", "ANY")).rcode() == 4  # NOTIMP
    before = upstream(served)
    (answer,) = served.udp(make_query("www.example.com")).answer
    assert upstream(served) == before  # the cache survived
    assert answer.ttl <= 60  # under the new max_ttl
    assert "www.home.test. A NOERROR" in served.log()  # the query log, turned on
    # SIGHUP does the same, and no longer ends the server.
    zone.write_text(ZONE.format(address="192.0.2.82"))
    os.kill(served.pid, signal.SIGHUP)
    deadline = time.monotonic() + TIMEOUT
    while home(served) != ["192.0.2.82"]:
        assert time.monotonic() < deadline, served.tail()
        time.sleep(0.05)
    assert served.alive()
    assert "reloads: 2" in ok(sock, "status")


def test_a_bad_config_is_reported_and_the_old_one_keeps_serving(
    serve: Serve, tmp_path: Path, socket_dir: Path
) -> None:
    served, sock, config, zone = start(serve, tmp_path, socket_dir)
    good = config.read_text()
    for bad in ("deadline = [", "deadline = -1\n", f'zone = ["{zone}.missing"]\n'):
        config.write_text(good + bad)
        zone.write_text(ZONE.format(address="192.0.2.99"))
        result = control(sock, "reload")
        assert result.returncode == 1
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"trio-dns control: {config}: ")
        assert home(served) == ["192.0.2.80"]
    zone.write_text("garbage that is no zone\n")
    config.write_text(good)
    result = control(sock, "reload")
    assert result.returncode == 1 and str(zone) in result.stderr
    os.kill(served.pid, signal.SIGHUP)
    time.sleep(0.5)
    assert served.alive()
    assert home(served) == ["192.0.2.80"]
    assert served.log().count("reload failed, the old configuration keeps serving") == 5


def test_abusive_control_clients_cost_only_their_connection(
    serve: Serve, tmp_path: Path, socket_dir: Path
) -> None:
    served, sock, _, _ = start(serve, tmp_path, socket_dir)

    def connect() -> socket.socket:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(TIMEOUT)
        client.connect(str(sock))
        return client

    def reply(request: bytes) -> bytes:
        """What the server sends back; b"" if it closes (or resets) first."""
        chunks = []
        with connect() as client:
            try:
                client.sendall(request)
                client.shutdown(socket.SHUT_WR)
                while chunk := client.recv(65536):
                    chunks.append(chunk)
            except (ConnectionResetError, BrokenPipeError):
                pass  # the server stopped reading a request too long
        return b"".join(chunks)

    assert reply(b"\xff\xfe\x00garbage\n") == b"error: request is not UTF-8 text\n"
    assert reply(b"status\x07\n") == b"error: request has control characters\n"
    assert reply(b"x" * 100_000) in (b"", b"error: request line too long\n")
    assert reply(b"x" * 5000 + b"\n") == b"error: request line too long\n"
    assert reply(b"\n") == b"error: empty request\n"
    assert reply(b"shutdown now\n").startswith(b"error: unknown command 'shutdown'")
    assert reply(b"flush a b c\n") == b"error: flush: wrong number of arguments\n"
    assert reply(b"").startswith(b"") and served.alive()  # closed at once
    # Stalled clients, more than the connections served at once: the oldest go,
    # and the operator still gets in.
    stalled = [connect() for _ in range(12)]
    assert ok(sock, "status")
    # A client that asks for a big reply and disconnects without reading it.
    for _ in range(20):
        served.udp(make_query(f"n{_}.example.com"))
    with connect() as client:
        client.sendall(b"dump-cache\n")
    for client in stalled:
        client.close()
    assert ok(sock, "status")
    assert home(served) == ["192.0.2.80"]
    assert "Traceback" not in served.log()


def test_no_server_is_one_line_and_exit_1(socket_dir: Path) -> None:
    result = control(socket_dir / "nobody.sock", "status")
    assert result.returncode == 1
    assert result.stderr == (
        f"trio-dns: no control socket at {socket_dir / 'nobody.sock'} "
        "(is trio-dns serve running?)\n"
    )


def test_a_directory_others_can_write_to_is_refused(socket_dir: Path) -> None:
    shared = socket_dir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    command = [sys.executable, "-m", "trio_dns", "serve", "--listen", "127.0.0.1:0"]
    command += ["--sandbox", "--control-socket", str(shared / "c.sock")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"trio-dns: control socket directory {shared} is writable by others; "
        "use a directory only its owner can write to"
    )
    assert "Traceback" not in result.stderr


# -- the commands in process, on the fake network ------------------------------------------


def sandbox_control(cache: Cache | None = None, **settings: object) -> Control:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        cache=Cache() if cache is None else cache,
        settings=ResolverSettings(**settings),  # type: ignore[arg-type]
    )
    return Control(Server(resolver))


async def test_flush_infra_forgets_one_address(autojump_clock: trio.abc.Clock) -> None:
    control = sandbox_control()
    resolver = control.server.resolver
    await resolver.resolve("www.example.com", "A")
    ns1 = ("198.51.100.10", 53)
    assert resolver.servers.known(ns1) is not None
    assert await control.respond("flush-infra 198.51.100.10") == [
        "forgot 198.51.100.10:53: 1 entries",
        "ok",
    ]
    assert resolver.servers.known(ns1) is None
    assert resolver.servers.known(("192.0.2.10", 53)) is not None  # a .com server: kept
    reply = await control.respond("flush-infra not-an-address")
    assert reply == ["error: invalid address 'not-an-address'"]


async def test_lookup_of_a_forwarded_name_shows_the_upstreams(
    autojump_clock: trio.abc.Clock,
) -> None:
    control = sandbox_control(
        forward_zones=((Name.from_text("corp.example"), (("192.0.2.99", 53),)),)
    )
    lines = await control.respond("lookup intranet.corp.example")
    assert lines == [
        "intranet.corp.example. is forwarded (zone corp.example.); upstream resolvers:",
        "  192.0.2.99:53 rtt - never tried",
        "ok",
    ]
    lines = await control.respond("lookup www.example.com")
    assert lines[0] == "www.example.com.: closest zone cut . (root hints), 2 nameservers:"


async def test_a_bug_in_a_command_is_its_error_reply(
    autojump_clock: trio.abc.Clock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class BrokenCache(Cache):
        def remove_subtree(self, name: Name, rclass: RRClass = RRClass.IN) -> int:
            raise RuntimeError("oops")

    control = sandbox_control(BrokenCache())
    assert await control.respond("flush-zone example.com") == [
        "error: internal error: RuntimeError('oops')"
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "internal error in control command flush-zone: RuntimeError('oops')"
    ]
    assert not any(r.exc_info for r in caplog.records)
    assert await control.respond("reload") == ["error: this server has no configuration to reload"]


async def test_reconfigure_keeps_questions_in_flight_and_the_cache(
    autojump_clock: trio.abc.Clock,
) -> None:
    control = sandbox_control()
    resolver = control.server.resolver
    answers = []

    async def ask(name: str) -> None:
        answers.append(await resolver.resolve(name, "A"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, "www.example.com")
        await trio.sleep(0.001)  # on its way: the root has been asked, not yet answered
        assert resolver.stats.upstream_queries >= 1 and not answers
        resolver.reconfigure(ResolverSettings(deny_any=True), root_hints=resolver.root_hints)
    (answer,) = answers
    assert [r.rdata for r in answer.records] == [A("198.51.100.80")]
    # The new settings hold for the next question, the cache for every one.
    assert (await resolver.resolve("www.example.com", "ANY")).rcode == 4  # NOTIMP
    before = resolver.stats.upstream_queries
    assert (await resolver.resolve("www.example.com", "A")).from_cache
    assert resolver.stats.upstream_queries == before


async def test_a_client_that_stalls_or_does_not_read_is_closed_in_time(
    autojump_clock: trio.abc.Clock,
) -> None:
    control = sandbox_control()
    await control.server.resolver.resolve("www.example.com", "A")
    # Silent: closed once REQUEST_TIMEOUT has passed.
    client, server_side = trio.testing.lockstep_stream_pair()
    started = trio.current_time()
    await control.converse(server_side)
    assert trio.current_time() - started == pytest.approx(REQUEST_TIMEOUT)
    assert control.errors == 1
    # Asks, and never reads the reply: given up after SEND_TIMEOUT.
    client, server_side = trio.testing.lockstep_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.send_all, b"dump-cache\n")
        started = trio.current_time()
        await control.converse(server_side)
    assert trio.current_time() - started == pytest.approx(SEND_TIMEOUT)
    assert control.errors == 2
    # A client that closes before asking anything is no error.
    closing, closed = trio.testing.memory_stream_pair()
    await closing.aclose()
    await control.converse(closed)
    assert control.errors == 2


async def test_flush_all_forgets_the_validated_denials_too(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=ResolverSettings(trust_anchors=sandbox.trust_anchor),
    )
    control = Control(Server(resolver))
    first = await resolver.resolve("nothing.secure.example", "A")
    assert first.rcode == 3  # NXDOMAIN, proved by the zone's NSEC records
    assert first.validation.name == "SECURE"
    # Another name in the proved range: answered from the NSEC records held.
    aggressive = resolver.stats.aggressive_answers
    await resolver.resolve("nothing2.secure.example", "A")
    assert resolver.stats.aggressive_answers == aggressive + 1
    assert (await control.respond("flush-all"))[-1] == "ok"
    before = resolver.stats.upstream_queries
    await resolver.resolve("nothing3.secure.example", "A")
    assert resolver.stats.aggressive_answers == aggressive + 1
    assert resolver.stats.upstream_queries > before

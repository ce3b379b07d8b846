"""`trio-dns sandbox`: the simulated internet on loopback sockets, as a user runs it.

The sandbox runs as a subprocess on its own addresses (127.55.x.y, on a port
free at the time, and ::1 for the IPv6-only server); dig and dnspython walk it from the root, and
the real `trio-dns serve --root-hints` resolves through it.
"""

from __future__ import annotations

import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from tests.integration.servers import require_tool
from trio_dns import Zone, read_zone, read_zone_file
from trio_dns._wire.enums import RRType
from trio_dns.testing._loopback import LoopbackSandbox, check_prefix, ipv6_loopback_available


def free_port() -> int:
    """A port that nothing on loopback uses now, for sandboxes of this run's own:
    several runs of the suite may share a machine, and ours must not meet theirs."""
    choose = random.SystemRandom()
    places = [(socket.AF_INET, "127.0.0.1")]
    if ipv6_loopback_available():
        places.append((socket.AF_INET6, "::1"))
    for _ in range(200):
        port = choose.randrange(20000, 30000)  # below the kernel's ephemeral ports
        try:
            for family, host in places:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(family, kind) as sock:
                        sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port on loopback")


PREFIX = "127.55"
PORT = free_port()
ROOT = f"{PREFIX}.2.1"
STARTUP_TIMEOUT = 30.0
TIMEOUT = 5.0


# -- running processes -----------------------------------------------------------------


@attrs.define(eq=False)
class Process:
    """A subprocess whose output is read as it comes, by threads."""

    popen: subprocess.Popen[str]
    stdout: queue.Queue[str] = attrs.Factory(queue.Queue)
    stderr: queue.Queue[str] = attrs.Factory(queue.Queue)
    seen: list[str] = attrs.Factory(list)

    threads: list[threading.Thread] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        for stream, lines in ((self.popen.stdout, self.stdout), (self.popen.stderr, self.stderr)):
            thread = threading.Thread(target=_pump, args=(stream, lines), daemon=True)
            thread.start()
            self.threads.append(thread)

    def wait_for(self, text: str, stream: str = "stdout", timeout: float = STARTUP_TIMEOUT) -> None:
        """Read lines until one contains `text`; fail (with what was seen) if none does."""
        lines = self.stdout if stream == "stdout" else self.stderr
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                exited = self.popen.poll() is not None and all(
                    not t.is_alive() for t in self.threads
                )
                if exited or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"no {text!r}; seen: {self.seen}, stderr: {drain(self.stderr)}")
                continue
            self.seen.append(line)
            if text in line:
                return

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise
        finally:
            for thread in self.threads:
                thread.join(timeout=5)  # the pipes are at their end once the process is gone
            for stream in (self.popen.stdout, self.popen.stderr):
                if stream is not None:
                    stream.close()


def _pump(stream: object, lines: queue.Queue[str]) -> None:
    assert stream is not None
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


def drain(lines: queue.Queue[str]) -> list[str]:
    out = []
    while True:
        try:
            out.append(lines.get_nowait())
        except queue.Empty:
            return out


def start(*args: str) -> Process:
    popen = subprocess.Popen(
        [sys.executable, "-m", "trio_dns", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Process(popen)


@contextmanager
def running_sandbox(
    hints: Path, *args: str, prefix: str = PREFIX, port: int = PORT
) -> Iterator[Process]:
    """`trio-dns sandbox` on `prefix`.x.y:`port`, ready; stopped (SIGTERM) after.

    Stopping checks what a user would see: exit status 0, no traceback."""
    process = start(
        "sandbox", "--prefix", prefix, "--port", str(port), "--hints", str(hints), *args
    )
    process.wait_for("Ctrl-C stops")
    try:
        yield process
    finally:
        status = process.stop()
        errors = "".join(drain(process.stderr))
        assert status == 0, errors
        assert "Traceback" not in errors


@pytest.fixture(scope="module")
def hints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("sandbox") / "root.hints"
    with running_sandbox(path) as process:
        assert process.popen.poll() is None
        yield path


# -- asking it ---------------------------------------------------------------------------


def ask(server: str, name: str, rtype: str = "A", *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    query.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(query, server, timeout=TIMEOUT, port=PORT)
    return dns.query.udp(query, server, timeout=TIMEOUT, port=PORT)


def section(records: list[dns.rrset.RRset]) -> set[str]:
    return {
        f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
        for rrset in records
        for rdata in rrset
    }


@attrs.frozen
class Dig:
    status: str
    flags: tuple[str, ...]
    records: frozenset[str]  # "name TYPE rdata", every section


def dig(server: str, name: str, rtype: str = "A") -> Dig:
    """dig +norecurse, as the guide runs it; its records as "name TYPE rdata"."""
    path = require_tool("dig", "dnsutils")
    result = subprocess.run(
        [path, f"@{server}", "-p", str(PORT), name, rtype, "+norecurse", "+tries=1", "+time=5"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # dig reports failures on stdout: insist on a header.
    header = re.search(r"status: (\w+)", result.stdout)
    flags = re.search(r";; flags: ([a-z ]*);", result.stdout)
    assert header and flags, result.stdout
    text = "\n".join(
        line for line in result.stdout.splitlines() if line and not line.startswith(";")
    )
    records = frozenset(
        f"{r.name} {r.rtype.name} {r.rdata.to_text()}" for r in read_zone(text, origin=None)
    )
    return Dig(header.group(1), tuple(flags.group(1).split()), records)


# -- what it prints and writes ------------------------------------------------------------


def test_it_prints_every_server_and_writes_hints_that_lead_to_them(hints: Path) -> None:
    sandbox = LoopbackSandbox.build(prefix=PREFIX, port=PORT)
    records = read_zone_file(hints)
    addresses = {
        (r.name.to_text(), r.rtype, r.rdata.to_text()) for r in records if r.rtype != RRType.NS
    }
    assert addresses == {
        ("a.root-servers.sandbox.", RRType.A, ROOT),
        ("b.root-servers.sandbox.", RRType.A, f"{PREFIX}.2.2"),
    }
    assert {r.rdata.to_text() for r in records if r.rtype == RRType.NS} == {
        "a.root-servers.sandbox.",
        "b.root-servers.sandbox.",
    }
    # Every server, listed once, with its addresses and zones; the misbehaving ones say so.
    with running_sandbox(hints.with_name("listing.hints"), "--no-ipv6", prefix="127.57") as process:
        listing = "".join(process.seen)
    assert "19 servers on loopback" in listing
    assert re.search(rf"ns2\.example\.com +127\.57\.100\.11:{PORT} +example\.com\. \(dead", listing)
    assert re.search(
        rf"ns1\.lame\.com +127\.57\.100\.20:{PORT} +lame\.com\. \(lame: refused\)", listing
    )
    assert re.search(rf"a\.root +127\.57\.2\.1:{PORT} +\. sandbox\.", listing)
    assert f"dig @127.57.2.1 -p {PORT} www.example.com +norecurse" in listing
    assert len(sandbox.servers) == 19


def test_every_nameserver_address_in_every_zone_is_on_loopback() -> None:
    sandbox = LoopbackSandbox.build(prefix=PREFIX, port=PORT)
    zones = [zone for server in sandbox.servers for zone in server.zones]
    nameservers = {
        r.rdata.to_text() for zone in zones for r in zone.records if r.rtype == RRType.NS
    }
    glue = [
        r
        for zone in zones
        for r in zone.records
        if r.rtype in (RRType.A, RRType.AAAA) and r.name.to_text() in nameservers
    ]
    assert len(glue) > 20
    for record in glue:
        address = record.rdata.to_text()
        assert address.startswith(f"{PREFIX}.") or address == "::1", record
    # The data stays as the guide shows it: only the infrastructure moved.
    example = next(zone for zone in zones if zone.origin.to_text() == "example.com.")
    www = [r.rdata.to_text() for r in example.records if r.name.to_text() == "www.example.com."]
    assert set(www) == {"198.51.100.80", "2001:db8:80::80"}


def test_prefixes_must_be_on_loopback() -> None:
    assert check_prefix("127.60") == "127.60"
    for bad in ("10.0", "127", "127.300", "127.060", "127.1.2", "loopback"):
        with pytest.raises(ValueError):
            check_prefix(bad)
    result = subprocess.run(
        [sys.executable, "-m", "trio_dns", "sandbox", "--prefix", "192.168"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "is not on loopback" in result.stderr


# -- walking it with dig, as the guide does -------------------------------------------------


def test_dig_walks_from_the_root_to_the_answer(hints: Path) -> None:
    root = dig(ROOT, "www.example.com")
    assert root.status == "NOERROR" and "aa" not in root.flags
    assert root.records == {
        "com. NS ns1.nic.com.",
        "com. NS ns2.nic.com.",
        f"ns1.nic.com. A {PREFIX}.2.10",
        f"ns2.nic.com. A {PREFIX}.2.11",
    }
    com = dig(f"{PREFIX}.2.10", "www.example.com")
    assert com.records == {
        "example.com. NS ns1.example.com.",
        "example.com. NS ns2.example.com.",
        f"ns1.example.com. A {PREFIX}.100.10",
        f"ns2.example.com. A {PREFIX}.100.11",
    }
    leaf = dig(f"{PREFIX}.100.10", "www.example.com")
    assert leaf.status == "NOERROR" and "aa" in leaf.flags
    assert leaf.records == {"www.example.com. A 198.51.100.80"}


def test_dig_walks_a_glueless_delegation(hints: Path) -> None:
    assert dig(ROOT, "www.glueless.org").records == {
        "org. NS ns1.nic.org.",
        f"ns1.nic.org. A {PREFIX}.2.30",
    }
    # org's server names glueless.org's nameserver, in net: no address with it.
    assert dig(f"{PREFIX}.2.30", "www.glueless.org").records == {
        "glueless.org. NS ns.dns-host.net."
    }
    # So the nameserver's address is a walk of its own.
    assert dig(ROOT, "ns.dns-host.net").records >= {"net. NS ns1.nic.net."}
    assert dig(f"{PREFIX}.2.20", "ns.dns-host.net").records == {
        "dns-host.net. NS ns1.dns-host.net.",
        f"ns1.dns-host.net. A {PREFIX}.100.30",
    }
    assert dig(f"{PREFIX}.100.30", "ns.dns-host.net").records == {
        f"ns.dns-host.net. A {PREFIX}.100.31"
    }
    assert dig(f"{PREFIX}.100.31", "www.glueless.org").records == {
        "www.glueless.org. A 198.51.100.83"
    }


def test_a_cname_into_another_zone_and_a_wildcard(hints: Path) -> None:
    shop = dig(f"{PREFIX}.100.10", "shop.example.com")
    assert shop.records == {"shop.example.com. CNAME www.cdn.net."}
    cdn = dig(f"{PREFIX}.100.40", "www.cdn.net")
    assert cdn.records == {"www.cdn.net. CNAME edge.cdn.net.", "edge.cdn.net. A 198.51.100.41"}
    assert dig(f"{PREFIX}.100.10", "y.wild.example.com").records == {
        "y.wild.example.com. A 198.51.100.99"
    }
    nothing = dig(f"{PREFIX}.100.10", "nope.example.com")
    assert nothing.status == "NXDOMAIN"


# -- behaviours ------------------------------------------------------------------------------


def test_the_dead_server_says_nothing_over_udp_or_tcp(hints: Path) -> None:
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(
            dns.message.make_query("www.example.com", "A"),
            f"{PREFIX}.100.11",
            timeout=0.5,
            port=PORT,
        )
    # TCP connects (the kernel accepts), but the query is never answered.
    with pytest.raises(dns.exception.Timeout):
        dns.query.tcp(
            dns.message.make_query("www.example.com", "A"),
            f"{PREFIX}.100.11",
            timeout=0.5,
            port=PORT,
        )


def test_the_lame_server_refuses_and_its_sibling_answers(hints: Path) -> None:
    assert ask(f"{PREFIX}.100.20", "www.lame.com").rcode() == dns.rcode.REFUSED
    reply = ask(f"{PREFIX}.100.21", "www.lame.com")
    assert section(reply.answer) == {"www.lame.com. A 198.51.100.82"}


def test_a_big_answer_is_truncated_over_udp_and_whole_over_tcp(hints: Path) -> None:
    query = dns.message.make_query("big.example.com", "TXT")  # no EDNS: 512 octets
    udp = dns.query.udp(query, f"{PREFIX}.100.10", timeout=TIMEOUT, port=PORT)
    assert udp.flags & dns.flags.TC
    tcp = dns.query.tcp(query, f"{PREFIX}.100.10", timeout=TIMEOUT, port=PORT)
    assert len(section(tcp.answer)) == 12


def test_hostile_packets_cost_the_sandbox_nothing(hints: Path) -> None:
    query = dns.message.make_query("www.example.com", "A")
    wire = query.to_wire()
    junk = [b"", b"\x00", wire[:5], wire[:12] + b"\xc0\x0c", b"\xff" * 600]
    # A question whose name is a pointer to itself.
    junk.append(wire[:12] + b"\xc0\x0c\x00\x01\x00\x01")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        for datagram in junk:
            sock.sendto(datagram, (ROOT, PORT))
        replies = []
        with pytest.raises(TimeoutError):
            while True:
                replies.append(sock.recv(65535))
    # What a server can say to a query it cannot read: FORMERR with the ID, if it has one.
    assert sorted(reply[:2] for reply in replies) == sorted(d[:2] for d in junk if len(d) >= 2)
    assert all(reply[3] & 0x0F == dns.rcode.FORMERR for reply in replies)
    for abuse in (b"\x00", b"\x00\x40" + wire, b"\x00\x00", b"\xff\xff" + b"x" * 100):
        with socket.create_connection((ROOT, PORT), timeout=2) as conn:
            conn.sendall(abuse)
    with socket.create_connection((ROOT, PORT), timeout=2) as conn:
        # A reset instead of a close.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.sendall(b"\x00\x20half a query")
    reply = ask(ROOT, "www.example.com")
    assert "com. NS ns1.nic.com." in section(reply.authority)


# -- the real resolver, through it ----------------------------------------------------------


def test_trio_dns_serve_resolves_through_the_sandbox(hints: Path) -> None:
    listen = f"{PREFIX}.0.53"
    serve = start(
        "serve",
        "--root-hints",
        str(hints),
        "--upstream-port",
        str(PORT),
        "--listen",
        f"{listen}:{PORT}",
        "--allow",
        "127.0.0.0/8",
    )
    try:
        serve.wait_for("serving on", stream="stderr")

        def resolve(name: str, rtype: str = "A") -> dns.message.Message:
            query = dns.message.make_query(name, rtype)
            return dns.query.udp(query, listen, timeout=TIMEOUT, port=PORT)

        expected = {
            "www.example.com": {"www.example.com. A 198.51.100.80"},
            "www.glueless.org": {"www.glueless.org. A 198.51.100.83"},
            "www.double.org": {"www.double.org. A 198.51.100.84"},
            "www.lame.com": {"www.lame.com. A 198.51.100.82"},
            "y.wild.example.com": {"y.wild.example.com. A 198.51.100.99"},
            "shop.example.com": {
                "shop.example.com. CNAME www.cdn.net.",
                "www.cdn.net. CNAME edge.cdn.net.",
                "edge.cdn.net. A 198.51.100.41",
            },
        }
        for name, records in expected.items():
            reply = resolve(name)
            assert reply.rcode() == dns.rcode.NOERROR, name
            assert section(reply.answer) == records
        assert resolve("nope.example.com").rcode() == dns.rcode.NXDOMAIN
        assert resolve("www.cycle-a.com").rcode() == dns.rcode.SERVFAIL
        big = dns.query.tcp(
            dns.message.make_query("big.example.com", "TXT"), listen, timeout=TIMEOUT, port=PORT
        )
        assert len(section(big.answer)) == 12
        if ipv6_loopback_available():
            assert section(resolve("www.v6only.net").answer) == {"www.v6only.net. A 198.51.100.86"}
    finally:
        assert serve.stop() == 0


# -- starting and stopping --------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly_and_removes_its_temporary_hints(sig: signal.Signals) -> None:
    process = start("sandbox", "--prefix", "127.58", "--port", str(PORT), "--no-ipv6")
    process.wait_for("Ctrl-C stops")
    listing = "".join(process.seen)
    path = Path(re.search(r"root hints: (\S+)", listing).group(1))  # type: ignore[union-attr]
    assert path.exists()
    assert process.stop(sig) == 0
    assert not path.exists()
    assert "Traceback" not in "".join(drain(process.stderr))


def test_an_address_in_use_is_one_line_and_exit_1(hints: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trio_dns",
            "sandbox",
            "--prefix",
            PREFIX,
            "--port",
            str(PORT),
            "--hints",
            str(tmp_path / "h"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"trio-dns: cannot listen on {ROOT}:{PORT}: Address already in use "
        "(another sandbox or server is there: try another --prefix or --port)\n"
    )


# -- zones of your own ------------------------------------------------------------------------

OWN_ZONE = """
mine.org. 600 IN SOA ns.mine.org. me.mine.org. 1 7200 900 1209600 300
mine.org. 600 IN NS ns.elsewhere.example.
www.mine.org. 600 IN A 192.0.2.99
"""


def test_a_zone_of_your_own_is_delegated_from_its_parent() -> None:
    sandbox = LoopbackSandbox.build(prefix=PREFIX, port=PORT, zones=[Zone.from_text(OWN_ZONE)])
    own = sandbox.servers[-1]
    assert own.name == "ns.mine.org" and own.addresses == ((f"{PREFIX}.200.1", PORT),)
    (zone,) = own.zones
    apex_ns = [r.rdata.to_text() for r in zone.records if r.rtype == RRType.NS]
    assert apex_ns == ["ns.mine.org."]  # the NS that named nobody is gone
    org = next(z for s in sandbox.servers for z in s.zones if z.origin.to_text() == "org.")
    delegation = {
        r.to_text() for r in org.records if r.name.to_text() in ("mine.org.", "ns.mine.org.")
    }
    assert delegation == {
        "mine.org.\t600\tIN\tNS\tns.mine.org.",
        f"ns.mine.org.\t600\tIN\tA\t{PREFIX}.200.1",
    }


SANDBOX = [sys.executable, "-m", "trio_dns", "sandbox"]


def test_zones_the_sandbox_cannot_take_are_one_line(tmp_path: Path) -> None:
    existing = tmp_path / "example.zone"
    existing.write_text("example.com. 60 IN SOA ns.example.com. me.example.com. 1 2 3 4 5\n")
    broken = tmp_path / "broken.zone"
    broken.write_text("mine.org. 60 IN SOA ns.mine.org.\n")
    for zone, status, message in [
        (tmp_path / "missing.zone", 2, "No such file or directory"),
        (broken, 2, "--zone"),
        (existing, 1, "example.com. is in the sandbox already"),
    ]:
        result = subprocess.run(
            [*SANDBOX, "--prefix", "127.63", "--port", str(PORT), "--no-ipv6", "--zone", str(zone)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == status, result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr

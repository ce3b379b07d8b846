"""`trio-dns serve` as an operator runs it, in front of a tree of real NSD and Knot
servers (hierarchy.py), queried with `dig` and `kdig` over UDP and TCP."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trio_dns import Flag, Message, Rcode

from .hierarchy import BIG_TXT_COUNT, Hierarchy
from .servers import PORT, ServerPool, require_tool

NET = "127.53.21"
HOST = "127.53.20.1"
SERVE_PORT = 10054
_ROOT_DS = Path(__file__).parents[2] / "trio_dns" / "data" / "root.ds"


tool = require_tool


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hierarchy]:
    with ServerPool(tmp_path_factory.mktemp("serve-tree")) as pool:
        yield Hierarchy.start(pool, NET)


def _answering(address: tuple[str, int]) -> bool:
    query = Message.make_query("leaf.test", "SOA")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.connect(address)
            sock.send(query.to_wire())
            reply = Message.from_wire(sock.recv(65535))
        except OSError:
            return False
    return reply.id == query.id and reply.rcode == Rcode.NOERROR


def start_serve(directory: Path, tree: Hierarchy, host: str, *extra: str) -> subprocess.Popen[str]:
    hints = directory / "root.hints"
    hints.write_text(tree.root_hints_text())
    argv = [
        sys.executable,
        "-m",
        "trio_dns",
        "serve",
        "--listen",
        f"{host}:{SERVE_PORT}",
        "--root-hints",
        str(hints),
        "--trust-anchor",
        str(_ROOT_DS),
        # IANA's anchor cannot vouch for this private, unsigned root: every answer
        # would be bogus. test_dnssec_real.py serves a signed one with its anchor.
        "--no-dnssec",
        "--upstream-port",
        str(PORT),
        "--deadline",
        "3",
        *extra,
    ]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 10
    while not _answering((host, SERVE_PORT)):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"trio-dns serve did not start:\n{err}")
        time.sleep(0.05)
    return process


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, err


@pytest.fixture(scope="module")
def server(tree: Hierarchy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = start_serve(tmp_path_factory.mktemp("serve"), tree, HOST)
    try:
        yield HOST
    finally:
        if process.poll() is None:
            stop(process)


def dig(*args: str, kind: str = "dig") -> str:
    retries = "+tries=1" if kind == "dig" else "+retry=0"
    argv = [tool(kind), f"@{HOST}", "-p", str(SERVE_PORT), "+time=5", retries, *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def short(*args: str, kind: str = "dig") -> list[str]:
    return sorted(dig("+short", *args, kind=kind).split())


@pytest.mark.parametrize("kind", ["dig", "kdig"])
@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_recursion_over_udp_and_tcp(server: str, kind: str, transport: str) -> None:
    assert short("www.leaf.test", "A", transport, kind=kind) == ["192.0.2.1", "192.0.2.2"]
    # A chain across three zones, one of them glueless.
    assert short("alias.leaf.test", "A", transport, kind=kind) == [
        "192.0.2.41",
        "host.glueless.test.",
        "web.other.example.",
    ]


def test_negative_answers_and_servfail(server: str) -> None:
    text = dig("nope.leaf.test", "A")
    assert "status: NXDOMAIN" in text
    assert "leaf.test.\t" in text and "SOA" in text
    text = dig("www.broken.test", "A")
    assert "status: SERVFAIL" in text
    assert "EDE: 22" in text  # No Reachable Authority


def test_truncation_then_the_whole_answer_over_tcp(server: str) -> None:
    udp = dig("big.leaf.test", "TXT", "+ignore", "+bufsize=1232")
    assert " tc " in udp.split("flags:")[1].split(";")[0] + " "
    assert len(short("big.leaf.test", "TXT", "+tcp")) >= BIG_TXT_COUNT
    # dig's default: retry over TCP on TC.
    text = dig("big.leaf.test", "TXT")
    assert f"ANSWER: {BIG_TXT_COUNT}," in text
    assert f"ANSWER: {BIG_TXT_COUNT};" in dig("big.leaf.test", "TXT", "+tcp", kind="kdig")


def test_rd0_is_answered_from_the_cache(server: str) -> None:
    assert short("x.y.leaf.test", "A") == ["192.0.2.3"]
    cached = dig("+norecurse", "x.y.leaf.test", "A")
    assert "status: NOERROR" in cached and "192.0.2.3" in cached
    assert " rd" not in cached.split("flags:")[1].split(";")[0]
    # Never asked: a referral to the closest cut the cache knows, nothing fetched.
    cold = dig("+norecurse", "never-asked.lame.test", "A")
    assert "ANSWER: 0," in cold
    assert "AUTHORITY SECTION" in cold and "\tNS\t" in cold


def test_malformed_and_hostile_packets(server: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.connect((HOST, SERVE_PORT))
        good = Message.make_query("www.leaf.test", "A")
        sock.send(b"\xff")  # dropped
        sock.send(good.to_wire()[:14])  # a header, then garbage: FORMERR
        sock.send(good.to_wire())
        formerr = Message.from_wire(sock.recv(65535))
        assert (formerr.id, formerr.rcode) == (good.id, Rcode.FORMERR)
        reply = Message.from_wire(sock.recv(65535))
        assert reply.id == good.id and reply.rcode == Rcode.NOERROR
        assert Flag.RA in reply.flags and Flag.AA not in reply.flags


def test_sigterm_exits_zero(tree: Hierarchy, tmp_path: Path) -> None:
    process = start_serve(tmp_path, tree, "127.53.20.2")
    status, err = stop(process)
    assert status == 0, err
    assert "Traceback" not in err

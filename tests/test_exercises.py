"""The exercises at the end of chapters 1 to 5, and their answers in docs/build/answers/.

Each test does what its exercise asks, as a reader would, and holds the result
against the answer: the hex dumps are taken from the chapters themselves, the
patches are applied to copies of the programs with `git apply`, and the
predictions are compared with what really happens on `trio-dns sandbox` (its own
addresses here: 127.61.x.y and, for the dead-server one, 127.62.x.y).
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest

from tests.test_build_along import check_parser, resolve_lines, start_server
from tests.test_sandbox_loopback import free_port, running_sandbox, section
from trio_dns import MalformedMessage, Message, RRType

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
BUILD = DOCS / "build"
ANSWERS = BUILD / "answers"
PREFIX = "127.61"
PORT = free_port()
EXAMPLE_NS = f"{PREFIX}.100.10"
TIMEOUT = 5.0


def exercises(chapter: str) -> str:
    """The Exercises part of a chapter of the guide."""
    text = (DOCS / chapter).read_text(encoding="utf-8")
    return text[text.rindex("\n## Exercises\n") :]


def expected(answer: str, heading: str = "Expected output:") -> list[str]:
    """The indented block after `heading` in an answer file, as lines."""
    text = (ANSWERS / answer).read_text(encoding="utf-8")
    block = text.split(f"\n{heading}\n", 1)[1]
    return [line[4:] for line in block.splitlines()]


def run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=60, check=False
    )


def trio_dns(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def patched(program: str, answer: str, directory: Path) -> Path:
    """A copy of a chapter's program with an answer's patch applied, as a reader would."""
    git = shutil.which("git")
    assert git, "git is needed to apply the answers' patches"
    shutil.copy(BUILD / program, directory / program)
    result = subprocess.run(
        [git, "apply", str(ANSWERS / answer)],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{answer} no longer applies to {program}: {result.stderr}"
    return directory / program


@pytest.fixture(scope="module")
def hints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("exercises") / "sandbox.hints"
    zone = str(BUILD / "old.org.zone")
    with running_sandbox(path, "--no-ipv6", "--zone", zone, prefix=PREFIX, port=PORT):
        yield path


# -- chapter 1 ---------------------------------------------------------------------------------


def test_1_1_decode_the_hex_dump(tmp_path: Path) -> None:
    dump = re.search(r"```text\n(.*?)```", exercises("01-wire-protocol.md"), re.S)
    assert dump
    path = tmp_path / "dump.hex"
    path.write_text(dump.group(1))
    result = run(BUILD / "ch1_parse.py", "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected("ch1_decode.txt")
    data = bytes.fromhex("".join(line.split("#")[0] for line in dump.group(1).splitlines()))
    check_parser(1, data, result.stdout)
    # The answer's claims about where the names are.
    message = Message.from_wire(data)
    assert message.id == 11037
    assert [r.rdata.to_text() for r in message.authority] == [
        "ns1.example.com.",
        "ns2.example.com.",
    ]
    assert data[16:29] == b"\x07example\x03com\x00"
    assert data[45:51] == b"\x03ns1\xc0\x10" and data[63:69] == b"\x03ns2\xc0\x10"
    assert data[69:71] == b"\xc0\x2d" and data[85:87] == b"\xc0\x3f"
    assert [r.rdata.to_text() for r in message.additional] == ["127.54.100.10", "127.54.100.11"]


def test_1_2_the_message_that_is_refused() -> None:
    blocks = re.findall(r"```text\n(.*?)```", exercises("01-wire-protocol.md"), re.S)
    assert len(blocks) == 2
    found = re.fullmatch(r"\s*([0-9a-f ]+)\n\s*", blocks[1])
    assert found
    data = bytes.fromhex("".join(found.group(1).split()))
    with pytest.raises(MalformedMessage):
        Message.from_wire(data)
    result = run(BUILD / "ch1_parse.py", data.hex())
    assert result.returncode == 1
    assert result.stderr.splitlines() == expected("ch1_malformed.txt")


# -- chapter 2 ---------------------------------------------------------------------------------


def test_2_1_which_replies_are_believed() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_port,
    ):
        server.bind((f"{PREFIX}.9.1", 0))
        other_port.bind((f"{PREFIX}.9.1", 0))
        server.settimeout(10)
        port = server.getsockname()[1]
        process = subprocess.Popen(
            [
                sys.executable,
                str(BUILD / "ch2_stub.py"),
                "www.example.com",
                f"@{PREFIX}.9.1",
                *["-p", str(port), "--trace"],
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        data, client = server.recvfrom(65535)
        query = dns.message.from_wire(data)

        def reply(
            address: str, name: str = "www.example.com.", *, query_id: int | None = None
        ) -> bytearray:
            response = dns.message.make_response(dns.message.make_query(name, "A"))
            response.id = query.id if query_id is None else query_id
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", address))
            return bytearray(response.to_wire())

        not_a_response = reply("203.0.113.3")
        not_a_response[2] &= 0x7F
        other_port.sendto(reply("203.0.113.1"), client)  # (a)
        server.sendto(reply("203.0.113.2", query_id=(query.id + 1) % 65536), client)  # (b)
        server.sendto(not_a_response, client)  # (c)
        server.sendto(reply("203.0.113.4", "www.example.net."), client)  # (d)
        server.sendto(reply("198.51.100.5", "WWW.EXAMPLE.COM."), client)  # (e)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    ignored = [line for line in out.splitlines() if line.startswith(";; ignored")]
    reasons = expected("ch2_replies.txt", "Expected trace:")
    assert len(ignored) == len(reasons) - 1
    for line, reason in zip(ignored, reasons, strict=False):
        assert reason.split(") ", 1)[1] in line
    assert reasons[-1] == "(e) believed"
    assert "WWW.EXAMPLE.COM.\t60\tIN\tA\t198.51.100.5" in out
    assert "198.51.100.5" in (ANSWERS / "ch2_replies.txt").read_text()


# -- chapter 3 ---------------------------------------------------------------------------------


def test_3_1_add_srv(tmp_path: Path) -> None:
    dump = re.search(r"```text\n\s*([0-9a-f]+)\n", exercises("03-record-types.md"))
    assert dump
    data = bytes.fromhex(dump.group(1))
    before = run(BUILD / "ch3_types.py", "--decode", data.hex())
    assert "\\# 23 000A003C13C4" in before.stdout  # the exercise's starting point
    program = patched("ch3_types.py", "ch3_srv.diff", tmp_path)
    result = run(program, "--decode", data.hex())
    assert result.returncode == 0, result.stderr
    assert "_sip._udp.example.com.\t3600\tIN\tSRV\t10 60 5060 sip.example.com." in result.stdout
    message = Message.from_wire(data)
    srv = [r.to_text() for r in message.answer if r.rtype == RRType.SRV]
    assert len(srv) == 2 and all(line in result.stdout for line in srv)
    assert result.stdout.rstrip().endswith("parses back the same")
    # The patched program is still a whole chapter 3: it carries on asking servers.
    assert run(program, "--help").returncode == 0


# -- chapter 4 ---------------------------------------------------------------------------------


def test_4_1_speak_edns(hints: Path, tmp_path: Path) -> None:
    def big(listen: str, payload: int | None) -> dns.message.Message:
        query = dns.message.make_query(
            "big.example.com", "TXT", use_edns=payload is not None, payload=payload or 512
        )
        return dns.query.udp(query, listen, timeout=TIMEOUT, port=PORT)

    program = patched("ch4_server.py", "ch4_edns.diff", tmp_path)
    for path, listen in ((BUILD / "ch4_server.py", f"{PREFIX}.0.40"), (program, f"{PREFIX}.0.41")):
        server = start_server(
            path, "--listen", f"{listen}:{PORT}", "--forward", f"{EXAMPLE_NS}:{PORT}"
        )
        try:
            if path == program:
                reply = big(listen, 4096)
                assert not reply.flags & dns.flags.TC
                assert len(section(reply.answer)) == 12
                assert reply.edns == 0 and reply.payload == 4096
                assert big(listen, 1232).flags & dns.flags.TC  # 2.3 kB does not fit in 1232
                assert big(listen, None).flags & dns.flags.TC and big(listen, None).edns == -1
            else:
                assert big(listen, 4096).flags & dns.flags.TC  # what the exercise sets out to fix
        finally:
            server.stop(signal.SIGINT)


def test_4_2_a_dead_upstream() -> None:
    """One task per query: the local answer does not wait for the dead upstream."""
    listen = f"{PREFIX}.0.42"
    server = start_server(
        BUILD / "ch4_server.py",
        "--listen",
        f"{listen}:{PORT}",
        "--forward",
        f"{PREFIX}.100.11:{PORT}",  # nothing answers there: as dead as ns2.example.com
        "--zone",
        str(BUILD / "home.zone"),
    )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(10)
            slow = dns.message.make_query("www.example.com", "A")
            fast = dns.message.make_query("nas.home.arpa", "A")
            sent = time.monotonic()
            sock.sendto(slow.to_wire(), (listen, PORT))
            sock.sendto(fast.to_wire(), (listen, PORT))
            first = dns.message.from_wire(sock.recv(512))
            second = dns.message.from_wire(sock.recv(512))
            waited = time.monotonic() - sent
    finally:
        server.stop(signal.SIGINT)
    assert expected("ch4_dead_upstream.txt", "Expected:") == [
        "first reply: the local answer, at once",
        "second reply: SERVFAIL, after QUERY_TIMEOUT",
    ]
    assert first.id == fast.id and section(first.answer) == {"nas.home.arpa. A 192.168.1.30"}
    assert second.id == slow.id and second.rcode() == dns.rcode.SERVFAIL
    assert waited >= 2.0  # QUERY_TIMEOUT: the forwarder waited it out before SERVFAIL


# -- chapter 5 ---------------------------------------------------------------------------------


def test_5_1_follow_a_dname(hints: Path, tmp_path: Path) -> None:
    args = ["--root-hints", str(hints), "--port", str(PORT)]
    package = trio_dns("resolve", "www.old.org", *args)
    status, records = resolve_lines(package.stdout)
    assert records[0] == "old.org.\t3600\tIN\tDNAME\tcdn.net."
    before = run(BUILD / "ch5_recursive.py", "www.old.org", *args)
    assert resolve_lines(before.stdout) == (status, records[1:])  # no DNAME: the exercise
    program = patched("ch5_recursive.py", "ch5_dname.diff", tmp_path)
    assert resolve_lines(run(program, "www.old.org", *args).stdout) == (status, records)
    # Remembered: in one process, edge.old.org after www.old.org asks old.org's server nothing.
    script = f"""
import sys, trio
sys.path.insert(0, {str(tmp_path)!r})
import ch5_recursive as r
r.NAMESERVER_PORT, r.VERBOSE = {PORT}, True
hints = r.read_records(open({str(hints)!r}).read())
async def main():
    await r.resolve("www.old.org", r.TYPE_A, hints)
    print("--")
    answer = await r.resolve("edge.old.org", r.TYPE_A, hints)
    print(r.answer_to_text("edge.old.org", r.TYPE_A, answer), end="")
trio.run(main)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.split("--\n")
    assert "[old.org.] ns.old.org." in first
    assert "[old.org.]" not in second and "old.org. DNAME cdn.net. (cached)" in second
    assert resolve_lines(second) == resolve_lines(trio_dns("resolve", "edge.old.org", *args).stdout)


def test_5_2_the_trace_when_a_server_is_dead(hints: Path, tmp_path: Path) -> None:
    # In the sandbox as it comes, ns1.example.com answers first: ns2 never shows.
    normal = run(
        BUILD / "ch5_recursive.py",
        "www.example.com",
        "--root-hints",
        str(hints),
        "--port",
        str(PORT),
        "--trace",
    )
    assert "ns1.example.com" in normal.stdout and "ns2.example.com" not in normal.stdout
    prefix, port = "127.62", free_port()
    dead_hints = tmp_path / "dead.hints"
    with running_sandbox(
        dead_hints, "--no-ipv6", "--dead", "ns1.example.com", prefix=prefix, port=port
    ):
        started = time.monotonic()
        result = run(
            BUILD / "ch5_recursive.py",
            "www.example.com",
            "--root-hints",
            str(dead_hints),
            "--port",
            str(port),
            "--trace",
        )
        took = time.monotonic() - started
    assert result.returncode == 0
    prediction = [line.replace("127.54.", f"{prefix}.") for line in expected("ch5_dead_trace.txt")]
    assert result.stdout.splitlines() == prediction
    assert took >= 4.0  # two timeouts of QUERY_TIMEOUT, as the answer says

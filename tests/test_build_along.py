"""The build-along programs of docs/build/ run, and agree with the package.

Each chapter's program runs as a reader runs it (`python docs/build/chN_*.py`),
against `trio-dns sandbox` on its own loopback addresses (127.56.x.y, on a
port free at the time), and its output is compared with the package's on the same bytes or the
same question: the parsers with `Message.from_wire`, the stubs with `trio-dns
query`, the server through dnspython, the recursive resolver with `trio-dns
resolve --root-hints`.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
import signal
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import attrs
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from tests.data import NAMES, load
from tests.integration.servers import environment_gap
from tests.test_sandbox_loopback import Process, free_port, running_sandbox, section
from trio_dns import MalformedMessage, Message, Name, Record, RRClass, RRType, rdata_from_text
from trio_dns.testing._loopback import ipv6_loopback_available

BUILD = Path(__file__).parent.parent / "docs" / "build"
CHAPTERS = sorted(BUILD.glob("ch[0-9]_*.py"))
PREFIX = "127.56"
PORT = free_port()
ROOT = f"{PREFIX}.2.1"
EXAMPLE_NS = f"{PREFIX}.100.10"
TIMEOUT = 5.0


def chapter(number: int) -> Path:
    (path,) = [path for path in CHAPTERS if path.name.startswith(f"ch{number}_")]
    return path


def run(path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def trio_dns(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def hints_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build-along") / "sandbox.hints"


@pytest.fixture(scope="module")
def sandbox(hints_path: Path) -> Iterator[Process]:
    with running_sandbox(hints_path, prefix=PREFIX, port=PORT) as process:
        yield process


@pytest.fixture(scope="module")
def hints(sandbox: Process, hints_path: Path) -> Path:
    """The root hints of the running sandbox."""
    return hints_path


# -- the programs themselves ---------------------------------------------------------------


def definitions(path: Path) -> dict[str, str]:
    """Top-level functions, classes and assignments, by name, as source text."""
    source = path.read_text()
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        text = "\n".join(lines[first - 1 : node.end_lineno])
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = text
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = text
    return found


def test_there_is_a_program_for_each_of_the_five_chapters() -> None:
    assert [path.name[:3] for path in CHAPTERS] == ["ch1", "ch2", "ch3", "ch4", "ch5"]


@pytest.mark.parametrize("number", [2, 3, 4, 5])
def test_each_program_carries_the_previous_one_forward(number: int) -> None:
    """Everything of chapter N-1 is in chapter N, unchanged unless its docstring
    names it under "Changed from chapter N-1"."""
    before, after = definitions(chapter(number - 1)), definitions(chapter(number))
    docstring = ast.get_docstring(ast.parse(chapter(number).read_text())) or ""
    match = re.search(rf"Changed from chapter {number - 1}:(.*?)(?:\n\n|$)", docstring, re.S)
    assert match, "the docstring says what changed"
    changed = set(re.findall(r"`(\w+)`", match.group(1)))
    assert changed <= set(before), "only what existed can have changed"
    missing = set(before) - set(after)
    assert not missing
    for name in set(before) - changed:
        assert after[name] == before[name], f"{name} changed without saying so"
    for name in changed:
        assert after[name] != before[name], f"{name} is listed as changed but is not"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_programs_need_only_the_standard_library_and_trio(path: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported - set(sys.stdlib_module_names) <= {"trio"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_programs_explain_themselves(path: Path) -> None:
    result = run(path, "--help")
    assert result.returncode == 0
    assert "usage:" in result.stdout


# -- chapter 1 and 3: the parsers against Message.from_wire ---------------------------------

CH1_TYPES = {RRType.A}
CH3_TYPES = {RRType.A, RRType.AAAA, RRType.NS, RRType.CNAME, RRType.MX, RRType.SOA, RRType.TXT}
# The types the programs know by name, and those with a (compressible) name inside.
NAMED = CH3_TYPES | {RRType.PTR, RRType.SRV, RRType.DNAME}
NAMES_INSIDE = {
    RRType.NS,
    RRType.CNAME,
    RRType.SOA,
    RRType.MX,
    RRType.PTR,
    RRType.SRV,
    RRType.DNAME,
}


def expected_lines(message: Message, understood: set[RRType]) -> tuple[list[str], list[str]]:
    """The package's reading of a message in the programs' layout: the full lines
    the program must print, and the starts (name, TTL, class, type) of record
    lines whose data it keeps as octets with the names in them compressed, as
    they came, which the package no longer has."""
    blocks = message.to_text().split("\n\n")
    lines = [
        line for block in blocks if "OPT PSEUDOSECTION" not in block for line in block.splitlines()
    ]
    texts = {record.to_text(): record for _, rs in message.sections() for record in rs}
    exact, prefixes = [], []
    for line in lines:
        record = texts.get(line)
        if record is None or record.rtype in understood:
            exact.append(line)
            continue
        start = f"{record.name}\t{record.ttl}\t{record.rclass.name}\t"
        if record.rtype in NAMES_INSIDE:
            prefixes.append(start)
        else:
            data = record.rdata.to_bytes()
            generic = f"\\# {len(data)} {data.hex().upper()}" if data else "\\# 0"
            rtype = record.rtype.name if record.rtype in NAMED else f"TYPE{int(record.rtype)}"
            exact.append(f"{start}{rtype}\t{generic}")
    return exact, prefixes


@functools.cache
def load_chapter(number: int) -> types.ModuleType:
    """The chapter's program as a module, to call its parser on many packets
    without starting Python for each (the tests below also run it as a program)."""
    spec = importlib.util.spec_from_file_location(f"build_ch{number}", chapter(number))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def decoded(number: int, data: bytes) -> str:
    """What the chapter's program prints for these bytes, as `main` would."""
    program = load_chapter(number)
    text: str = program.message_to_text(program.parse_message(data))
    if number == 3:
        text += program.check_round_trip(program.parse_message(data)) + "\n"
    return text


def check_parser(number: int, data: bytes, printed_text: str | None = None) -> None:
    if printed_text is None:
        printed_text = decoded(number, data)
    printed = [line for line in printed_text.splitlines() if line]
    message = Message.from_wire(data)
    exact, prefixes = expected_lines(message, CH1_TYPES if number == 1 else CH3_TYPES)
    opt = [line for line in printed if line.startswith("; EDNS") or "OPT PSEUDO" in line]
    assert len(opt) == (2 if message.edns is not None else 0)
    rest = [line for line in printed if line not in opt]
    if number == 3:
        assert re.fullmatch(r";; re-encoded in \d+ octets: parses back the same", rest.pop())
    for line in exact:
        assert line in rest, f"missing: {line!r}"
    for prefix in prefixes:
        assert any(line.startswith(prefix) for line in rest), f"missing: {prefix!r}"
    assert len(rest) == len([line for line in exact if line]) + len(prefixes)


def synthetic_packets() -> dict[str, bytes]:
    """Messages the package writes, with compression, escapes and odd strings."""
    reply = Message.make_query("a\\.b.Example.COM", "TXT", id=4321)
    reply = reply.evolve_header(flags=reply.flags | reply.flags.QR | reply.flags.AA)
    owner = Name.from_text("a\\.b.Example.COM")

    def record(name: Name | str, rtype: str, text: str) -> Record:
        return Record(
            Name.make(name), RRType.make(rtype), RRClass.IN, 300, rdata_from_text(rtype, text)
        )

    reply = attrs.evolve(
        reply,
        answer=(
            record(owner, "TXT", '"say \\"hi\\"" "back\\\\slash" "\\000\\255" ""'),
            record(owner, "MX", "0 mail.example.com."),
        ),
        authority=(
            record("example.com", "NS", "ns1.example.com."),
            record("example.com", "SOA", "ns1.example.com. host\\.master.example.com. 1 2 3 4 5"),
        ),
        additional=(
            record("mail.example.com", "AAAA", "2001:db8::25"),
            record("ns1.example.com", "A", "192.0.2.53"),
            record("ns1.example.com", "TYPE65280", "\\# 3 010203"),
        ),
    )
    return {"escapes and compression": reply.to_wire()}


def live_packets(hints: Path) -> dict[str, bytes]:
    """Replies from the sandbox's servers, as they came over the wire."""
    questions = {
        "root referral": (ROOT, "www.example.com", "A"),
        "com referral": (f"{PREFIX}.2.10", "www.example.com", "A"),
        "MX": (EXAMPLE_NS, "example.com", "MX"),
        "SOA": (EXAMPLE_NS, "example.com", "SOA"),
        "AAAA": (EXAMPLE_NS, "www.example.com", "AAAA"),
        "NXDOMAIN": (EXAMPLE_NS, "nope.example.com", "A"),
        "CNAME out of zone": (EXAMPLE_NS, "shop.example.com", "A"),
        "CNAME chain": (f"{PREFIX}.100.40", "www.cdn.net", "A"),
        "loop": (EXAMPLE_NS, "loop1.example.com", "A"),
    }
    packets = {}
    for label, (server, name, rtype) in questions.items():
        query = dns.message.make_query(name, rtype, use_edns=label == "MX")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.sendto(query.to_wire(), (server, PORT))
            packets[label] = sock.recv(65535)
    query = dns.message.make_query("big.example.com", "TXT")
    with socket.create_connection((EXAMPLE_NS, PORT), timeout=TIMEOUT) as conn:
        wire = query.to_wire()
        conn.sendall(len(wire).to_bytes(2, "big") + wire)
        data = b""
        while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
            data += conn.recv(65535)
        packets["TCP TXT"] = data[2:]
    return packets


@pytest.mark.parametrize("number", [1, 3])
def test_the_parsers_read_the_golden_packets_as_the_package_does(number: int) -> None:
    for name in NAMES:
        check_parser(number, load(name))


@pytest.mark.parametrize("number", [1, 3])
def test_the_parsers_read_what_the_sandbox_sends_as_the_package_does(
    number: int, hints: Path
) -> None:
    for data in [*live_packets(hints).values(), *synthetic_packets().values()]:
        check_parser(number, data)


@pytest.mark.parametrize("name", ["referral", "nxdomain_nsec3"])
def test_the_parsers_run_as_programs(name: str) -> None:
    data = load(name)
    from_file = run(chapter(1), "--file", str(Path(__file__).parent / "data" / f"{name}.hex"))
    assert from_file.returncode == 0, from_file.stderr
    check_parser(1, data, from_file.stdout)
    decoded = run(chapter(3), "--decode", data.hex())
    assert decoded.returncode == 0, decoded.stderr
    check_parser(3, data, decoded.stdout)


def test_chapter_1_decodes_its_own_example() -> None:
    result = run(chapter(1))
    assert result.returncode == 0
    namespace: dict[str, object] = {}
    exec(compile(_example_source(), "ch1", "exec"), namespace)
    data = namespace["EXAMPLE"]
    assert isinstance(data, bytes)
    message = Message.from_wire(data)
    assert [line for line in result.stdout.splitlines() if line] == [
        line for line in message.to_text().splitlines() if line
    ]


def _example_source() -> str:
    source = chapter(1).read_text()
    start = source.index("EXAMPLE = bytes.fromhex(")
    return source[start : source.index(")\n", start) + 2]


MALFORMED = {
    "a pointer to itself": "000100000001000000000000c00c00010001",
    "a forward pointer": "000100000001000000000000c02000010001",
    "a label running off the end": "0001000000010000000000000577",
    "an undefined label type": "000100000001000000000000410000010001",
    # The example reply of chapter 1, its last record one octet short.
    "record data cut short": "7a3e8500000100010000000103777777076578616d706c6503636f6d0000010001c00c0001000100000e100004c6336450036e7331c0100001000100000e100004c63364",
    "octets after the last record": "000100000001000000000000037777770000010001ff",
    "a name longer than 255 octets": "000100000001000000000000"
    + "3f"
    + "61" * 63
    + "3f"
    + "61" * 63
    + "3f"
    + "61" * 63
    + "3f"
    + "61" * 63
    + "0000010001",
    "a header cut short": "00010000",
}


@pytest.mark.parametrize("number", [1, 3])
@pytest.mark.parametrize("label", sorted(MALFORMED))
def test_the_parsers_reject_what_the_package_rejects(number: int, label: str) -> None:
    data = bytes.fromhex(MALFORMED[label])
    with pytest.raises(MalformedMessage):
        Message.from_wire(data)
    program = load_chapter(number)
    with pytest.raises(program.ParseError):
        program.parse_message(data)


def test_a_malformed_packet_is_one_line_and_exit_1() -> None:
    for number in (1, 3):
        args = [MALFORMED["a forward pointer"]]
        result = run(chapter(number), *(["--decode", *args] if number == 3 else args))
        assert result.returncode == 1
        assert result.stdout == ""
        assert (
            result.stderr
            == "malformed message: compression pointer at 12 does not point backwards\n"
        )


def test_the_loop_guard_names_the_loop() -> None:
    result = run(chapter(1), MALFORMED["a pointer to itself"])
    assert (
        result.stderr == "malformed message: compression pointer at 12 does not point backwards\n"
    )


# -- chapters 2 and 3: the stubs against trio-dns query --------------------------------------


def records(output: str) -> list[str]:
    """The record lines of dig-style output, sorted."""
    return sorted(line for line in output.splitlines() if line and not line.startswith(";"))


def status(output: str) -> str:
    found = re.search(r"status: (\w+)", output)
    assert found, output
    return found.group(1)


@functools.cache
def package_query(name: str, rtype: str, server: str) -> subprocess.CompletedProcess[str]:
    return trio_dns("query", name, rtype, f"@{server}", "-p", str(PORT), "--norecurse")


STUB_QUESTIONS = [
    ("www.example.com", "A", EXAMPLE_NS),
    ("example.com", "MX", EXAMPLE_NS),
    ("example.com", "SOA", EXAMPLE_NS),
    ("www.example.com", "AAAA", EXAMPLE_NS),
    ("big.example.com", "TXT", EXAMPLE_NS),  # truncated over UDP: TCP
    ("nope.example.com", "A", EXAMPLE_NS),
    ("shop.example.com", "A", EXAMPLE_NS),
    ("www.example.com", "A", ROOT),  # a referral, with glue
    ("www.glueless.org", "A", f"{PREFIX}.2.30"),  # a referral without
]


@pytest.mark.parametrize("number", [2, 3])
@pytest.mark.parametrize(("name", "rtype", "server"), STUB_QUESTIONS)
def test_the_stubs_get_the_answers_trio_dns_query_gets(
    number: int, name: str, rtype: str, server: str, hints: Path
) -> None:
    ours = run(chapter(number), name, rtype, f"@{server}", "-p", str(PORT), "--norecurse")
    theirs = package_query(name, rtype, server)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert status(ours.stdout) == status(theirs.stdout)
    if number == 3:
        assert records(ours.stdout) == records(theirs.stdout)
        assert ours.stdout.rstrip().endswith("parses back the same")
    else:
        # Chapter 2 prints only A records' data; the rest as octets.
        mine, package = records(ours.stdout), records(theirs.stdout)
        assert len(mine) == len(package)
        for line, expected in zip(mine, package, strict=True):
            fields = expected.split("\t")
            if fields[3] == "A":
                assert line == expected
            else:
                assert line.split("\t")[:4] == fields[:4]


def test_the_stub_ignores_every_reply_but_the_real_one() -> None:
    """Strict matching, against a server of our own that sends impostors first."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as impostor,
    ):
        server.bind((f"{PREFIX}.9.1", 0))
        impostor.bind((f"{PREFIX}.9.1", 0))
        server.settimeout(10)
        port = server.getsockname()[1]
        process = start_program(
            chapter(2), "www.example.com", f"@{PREFIX}.9.1", "-p", str(port), "--trace"
        )
        data, client = server.recvfrom(65535)
        query = dns.message.from_wire(data)

        def reply(
            address: str, query_id: int | None = None, name: str = "www.example.com"
        ) -> bytes:
            question = dns.message.make_query(name, "A")
            response = dns.message.make_response(question)
            response.id = query.id if query_id is None else query_id
            response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "A", address))
            return response.to_wire()

        impostor.sendto(reply("203.0.113.1"), client)  # right ID, wrong port
        server.sendto(reply("203.0.113.2", (query.id + 1) % 65536), client)  # wrong ID
        server.sendto(reply("203.0.113.3", name="www.example.net"), client)  # not our question
        server.sendto(b"\x00\x01garbage", client)
        wire = bytearray(reply("203.0.113.4"))
        wire[2] &= 0x7F  # QR clear: a query, not a response
        server.sendto(bytes(wire), client)
        server.sendto(reply("192.0.2.80"), client)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert records(out) == ["www.example.com.\t60\tIN\tA\t192.0.2.80"]
    ignored = [line for line in out.splitlines() if line.startswith(";; ignored")]
    assert len(ignored) == 5
    assert "not the server" in ignored[0]
    assert f"wrong ID {(query.id + 1) % 65536} (expected {query.id})" in ignored[1]
    assert "not our question" in ignored[2]
    assert "malformed" in ignored[3]
    assert "not a response" in ignored[4]


def start_program(path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_stub_uses_a_new_random_id_and_port_each_time() -> None:
    seen = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((f"{PREFIX}.9.2", 0))
        server.settimeout(10)
        port = server.getsockname()[1]
        for _ in range(3):
            process = start_program(
                chapter(2), "x.example", f"@{PREFIX}.9.2", "-p", str(port), "--timeout", "0.2"
            )
            data, client = server.recvfrom(65535)
            seen.add((data[:2], client[1]))
            process.communicate(timeout=30)
            assert process.returncode == 1  # no reply: we sent none
    ids, ports = {i for i, _ in seen}, {p for _, p in seen}
    assert len(ids) == 3 and len(ports) == 3  # a repeat has odds of about 1 in 20,000


def test_the_stub_says_when_nobody_answers(hints: Path) -> None:
    result = run(
        chapter(2), "www.example.com", f"@{PREFIX}.100.11", "-p", str(PORT), "--timeout", "0.3"
    )
    assert result.returncode == 1
    assert result.stderr == f";; no reply from {PREFIX}.100.11#{PORT} within 0.3 seconds\n"


# -- chapter 4: the server --------------------------------------------------------------------

HOME_ZONE = """\
; a zone of our own
home.arpa. 3600 IN SOA ns.home.arpa. admin.home.arpa. 1 7200 900 1209600 300
home.arpa. NS ns.home.arpa.
ns.home.arpa. A 192.168.1.1
nas.home.arpa. 300 IN A 192.168.1.30
nas.home.arpa. AAAA fd00::30
files.home.arpa. CNAME nas.home.arpa.
web.home.arpa. CNAME www.example.com.
deep.down.home.arpa. A 192.168.1.40
home.arpa. MX 10 nas.home.arpa.
home.arpa. TXT "v=spf1 -all" "two; strings"
"""


def start_server(path: Path, *args: str) -> Process:
    popen = subprocess.Popen(
        [sys.executable, str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process = Process(popen)
    process.wait_for("Ctrl-C stops")
    return process


def ask(
    server: str, name: str, rtype: str = "A", *, tcp: bool = False, port: int = PORT
) -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    if tcp:
        return dns.query.tcp(query, server, timeout=TIMEOUT, port=port)
    return dns.query.udp(query, server, timeout=TIMEOUT, port=port)


def test_the_server_forwards_and_answers_its_own_zone(hints: Path, tmp_path: Path) -> None:
    zone = tmp_path / "home.zone"
    zone.write_text(HOME_ZONE)
    listen = f"{PREFIX}.0.4"
    server = start_server(
        chapter(4),
        "--listen",
        f"{listen}:{PORT}",
        "--forward",
        f"{EXAMPLE_NS}:{PORT}",
        "--zone",
        str(zone),
    )
    try:
        # Forwarded: what the upstream says, RA set, AA not.
        for name, rtype in [
            ("www.example.com", "A"),
            ("example.com", "MX"),
            ("nope.example.com", "A"),
        ]:
            reply = ask(listen, name, rtype)
            direct = ask(EXAMPLE_NS, name, rtype)
            assert reply.rcode() == direct.rcode()
            assert section(reply.answer) == section(direct.answer)
            assert reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
        # Ours: with authority.
        files = ask(listen, "files.home.arpa")
        assert files.flags & dns.flags.AA
        assert section(files.answer) == {
            "files.home.arpa. CNAME nas.home.arpa.",
            "nas.home.arpa. A 192.168.1.30",
        }
        assert section(ask(listen, "web.home.arpa").answer) == {
            "web.home.arpa. CNAME www.example.com."
        }
        assert section(ask(listen, "home.arpa", "TXT").answer) == {
            'home.arpa. TXT "v=spf1 -all" "two; strings"'
        }
        assert section(ask(listen, "home.arpa", "MX").answer) == {"home.arpa. MX 10 nas.home.arpa."}
        nxdomain = ask(listen, "nope.home.arpa")
        assert nxdomain.rcode() == dns.rcode.NXDOMAIN
        assert section(nxdomain.authority) == {
            "home.arpa. SOA ns.home.arpa. admin.home.arpa. 1 7200 900 1209600 300"
        }
        nodata = ask(listen, "nas.home.arpa", "MX")
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer and nodata.authority
        empty_non_terminal = ask(listen, "down.home.arpa")
        assert empty_non_terminal.rcode() == dns.rcode.NOERROR and not empty_non_terminal.answer
        # Too big for UDP: TC, then the whole answer over TCP.
        query = dns.message.make_query("big.example.com", "TXT")
        assert dns.query.udp(query, listen, timeout=TIMEOUT, port=PORT).flags & dns.flags.TC
        assert len(section(ask(listen, "big.example.com", "TXT", tcp=True).answer)) == 12
        # What it cannot read is FORMERR with the ID; a reply is not answered at all.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1)
            sock.sendto(b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c", (listen, PORT))
            formerr = sock.recv(512)
            assert formerr[:2] == b"\xab\xcd" and formerr[3] & 0x0F == dns.rcode.FORMERR
            sock.sendto(
                dns.message.make_response(dns.message.make_query("x.home.arpa", "A")).to_wire(),
                (listen, PORT),
            )
            with pytest.raises(TimeoutError):
                sock.recv(512)
        assert section(ask(listen, "nas.home.arpa", "AAAA").answer) == {
            "nas.home.arpa. AAAA fd00::30"
        }
    finally:
        server.stop(signal.SIGINT)
    assert "Traceback" not in "".join(server.seen)


# -- chapter 5: the resolver against trio-dns resolve -------------------------------------------

RESOLVE = [
    ("www.example.com", "A"),  # with glue; one of example.com's servers is dead
    ("www.glueless.org", "A"),  # the nameserver's address is a resolution of its own
    ("www.double.org", "A"),  # and that one is glueless too
    ("shop.example.com", "A"),  # a CNAME chain across zones
    ("alias.example.com", "A"),  # a CNAME inside one zone
    ("nope.example.com", "A"),  # NXDOMAIN
    ("wild.example.com", "A"),  # NODATA, at an empty non-terminal
    ("y.wild.example.com", "A"),  # a wildcard
    ("www.lame.com", "A"),  # one server REFUSES
    ("example.com", "MX"),
    ("www.example.com", "AAAA"),
    ("big.example.com", "TXT"),  # truncated over UDP
]


def resolve_lines(output: str) -> tuple[str, list[str]]:
    """The status line, and the records after it (a trace before it is left out)."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(";; status: ")]
    assert starts, output
    rest = lines[starts[0] + 1 :]
    return lines[starts[0]], [line for line in rest if line and not line.startswith(";")]


@pytest.mark.parametrize(("name", "rtype"), RESOLVE)
def test_the_resolver_agrees_with_trio_dns_resolve(name: str, rtype: str, hints: Path) -> None:
    ours = run(
        chapter(5), name, rtype, "--root-hints", str(hints), "--port", str(PORT), "--timeout", "1"
    )
    theirs = trio_dns("resolve", name, rtype, "--root-hints", str(hints), "--port", str(PORT))
    assert ours.returncode == 0 == theirs.returncode, ours.stderr + theirs.stderr
    assert resolve_lines(ours.stdout) == resolve_lines(theirs.stdout)


def test_the_resolver_fails_where_the_package_does(hints: Path) -> None:
    for name in ("www.cycle-a.com", "loop1.example.com"):
        ours = run(
            chapter(5), name, "--root-hints", str(hints), "--port", str(PORT), "--timeout", "1"
        )
        theirs = trio_dns("resolve", name, "--root-hints", str(hints), "--port", str(PORT))
        assert ours.returncode == theirs.returncode == 0
        assert (
            resolve_lines(ours.stdout)[0]
            == resolve_lines(theirs.stdout)[0]
            == f";; status: SERVFAIL, {name}. IN A"
        )


def test_the_resolver_over_ipv6(hints: Path) -> None:
    if not ipv6_loopback_available():
        environment_gap("no ::1 here (some containers have none), so no IPv6-only server")
    ours = run(
        chapter(5), "www.v6only.net", "--root-hints", str(hints), "--port", str(PORT), "--trace"
    )
    assert "ns1.v6only.net. ::1: www.v6only.net. A -> answer" in ours.stdout
    assert resolve_lines(ours.stdout)[1] == ["www.v6only.net.\t3600\tIN\tA\t198.51.100.86"]


def test_the_trace_shows_the_glueless_detour(hints: Path) -> None:
    result = run(
        chapter(5), "www.glueless.org", "--root-hints", str(hints), "--port", str(PORT), "--trace"
    )
    trace = [
        line
        for line in result.stdout.splitlines()
        if line.startswith(";; ") and "status" not in line
    ]
    assert trace == [
        f";; [.] a.root-servers.sandbox. {ROOT}: www.glueless.org. A -> referral to org.",
        f";; [org.] ns1.nic.org. {PREFIX}.2.30: www.glueless.org. A -> referral to glueless.org.",
        ";; ns.dns-host.net. has no known address: resolving it first",
        f";;   [.] a.root-servers.sandbox. {ROOT}: ns.dns-host.net. A -> referral to net.",
        f";;   [net.] ns1.nic.net. {PREFIX}.2.20: ns.dns-host.net. A -> referral to dns-host.net.",
        f";;   [dns-host.net.] ns1.dns-host.net. {PREFIX}.100.30: ns.dns-host.net. A -> answer",
        f";; [glueless.org.] ns.dns-host.net. {PREFIX}.100.31: www.glueless.org. A -> answer",
    ]


def test_the_recursive_server_answers_dnspython(hints: Path) -> None:
    listen = f"{PREFIX}.0.6"
    server = start_server(
        chapter(5),
        "--serve",
        "--listen",
        f"{listen}:{PORT}",
        "--root-hints",
        str(hints),
        "--port",
        str(PORT),
    )
    try:
        shop = ask(listen, "shop.example.com")
        assert shop.flags & dns.flags.RA
        assert section(shop.answer) == {
            "shop.example.com. CNAME www.cdn.net.",
            "www.cdn.net. CNAME edge.cdn.net.",
            "edge.cdn.net. A 198.51.100.41",
        }
        assert section(ask(listen, "www.double.org").answer) == {"www.double.org. A 198.51.100.84"}
        assert ask(listen, "nope.example.com").rcode() == dns.rcode.NXDOMAIN
        # Asked again: the cache answers, and the answer is the same.
        assert section(ask(listen, "www.double.org").answer) == {"www.double.org. A 198.51.100.84"}
        norecurse = dns.message.make_query("www.example.com", "A")
        norecurse.flags &= ~dns.flags.RD
        assert (
            dns.query.udp(norecurse, listen, timeout=TIMEOUT, port=PORT).rcode()
            == dns.rcode.REFUSED
        )
    finally:
        server.stop(signal.SIGINT)


def test_the_cache_starts_the_next_question_lower_down(hints: Path) -> None:
    """resolve() twice in one process: the second walk starts at example.com's servers."""
    script = f"""
import sys, trio
sys.path.insert(0, {str(BUILD)!r})
import ch5_recursive as r
r.NAMESERVER_PORT, r.VERBOSE = {PORT}, True
hints = r.read_records(open({str(hints)!r}).read())
async def main():
    first = await r.resolve("www.example.com", r.TYPE_A, hints)
    print("--")
    second = await r.resolve("mail.example.com", r.TYPE_A, hints)
    print("--")
    third = await r.resolve("www.example.com", r.TYPE_A, hints)
    print([r.record_to_text(x) for x in first.records + second.records + third.records])
trio.run(main)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    first, second, third = result.stdout.split("--\n")
    assert first.count("->") == 3
    assert second.splitlines() == [
        f";; [example.com.] ns1.example.com. {EXAMPLE_NS}: mail.example.com. A -> answer"
    ]
    assert third.splitlines()[0] == ";; www.example.com. A: from the cache"
    assert "198.51.100.25" in third


# -- the transcripts of the guide's build-it-yourself parts ------------------------------------

GUIDE = BUILD.parent
_CONSOLE = re.compile(r"^```console\n(.*?)^```", re.M | re.S)


def transcripts() -> list[tuple[str, str, str]]:
    """(chapter, command, what the guide shows it printing), from the console
    blocks after "## Build it yourself" in chapters 1 to 5."""
    found = []
    for chapter in sorted(GUIDE.glob("0[1-5]-*.md")):
        text = chapter.read_text(encoding="utf-8")
        part = text[text.index("\n## Build it yourself") :]
        for block in _CONSOLE.findall(part):
            lines = block.splitlines()
            starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
            for i, start in enumerate(starts):
                end = starts[i + 1] if i + 1 < len(starts) else len(lines)
                found.append((chapter.name, lines[start][2:], "\n".join(lines[start + 1 : end])))
    return found


def test_the_transcripts_are_found() -> None:
    chapters = {chapter for chapter, _, _ in transcripts()}
    assert chapters == {
        f"0{n}-{name}.md"
        for n, name in [
            (1, "wire-protocol"),
            (2, "stub-resolver"),
            (3, "record-types"),
            (4, "server"),
            (5, "recursion"),
        ]
    }


def to_here(command: str, hints: Path) -> list[str]:
    """The guide's command (for the sandbox at 127.54.x.y on port 53) for this
    test's sandbox, as a list of arguments."""
    words = command.replace("127.54.", f"{PREFIX}.").replace("sandbox.hints", str(hints)).split()
    if words[0] == "python":
        words[0] = sys.executable
    if any(word.startswith("--forward") for word in words):
        index = words.index("--forward") + 1
        words[index] += f":{PORT}"
    elif "--root-hints" in words:
        words += ["--port", str(PORT)]
    elif any(word.startswith("@") for word in words) and words[0] != "dig":
        words += ["-p", str(PORT)]
    return words


def as_guide_shows(output: str, hints: Path) -> str:
    """Output from this test's sandbox, written as the guide's sandbox prints it."""
    for here, there in [
        (str(hints), "sandbox.hints"),
        (str(hints.with_suffix(".anchor")), "sandbox.anchor"),
        (f" --upstream-port {PORT}", ""),
        (f" --port {PORT}", ""),
        (f" -p {PORT}", ""),
        (f":{PORT}", ":53"),
        (f"#{PORT}", "#53"),
        (f"{PREFIX}.", "127.54."),
    ]:
        output = output.replace(here, there)
    output = re.sub(r"\bid: \d+", "id: N", output)
    output = re.sub(r"(?<=\S) {2,}", " ", output)  # columns padded to the longer port
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


def test_the_guide_shows_what_the_programs_print(sandbox: Process, hints: Path) -> None:
    servers: list[Process] = []
    failures = []
    try:
        for chapter, command, shown in transcripts():
            expected = as_guide_shows(shown, Path("sandbox.hints"))
            if command.startswith("trio-dns sandbox"):
                if shown:  # the listing: the one this test's sandbox printed
                    actual = as_guide_shows("".join(sandbox.seen), hints)
                    if not ipv6_loopback_available():
                        expected = "\n".join(
                            line for line in expected.splitlines() if "::1" not in line
                        )
                        actual = "\n".join(
                            line for line in actual.splitlines() if "v6only" not in line
                        )
                    if actual != expected:
                        failures.append(
                            f"{chapter}: $ {command}\n{expected}\n--- printed:\n{actual}"
                        )
                continue
            words = to_here(command, hints)
            if "Ctrl-C stops" in shown:
                server = start_server(Path(words[1]), *words[2:])
                servers.append(server)
                actual = as_guide_shows("".join(server.seen), hints)
            else:
                result = subprocess.run(
                    words, cwd=GUIDE.parent, capture_output=True, text=True, timeout=60, check=False
                )
                actual = as_guide_shows(result.stdout + result.stderr, hints)
            if actual != expected:
                failures.append(f"{chapter}: $ {command}\n{expected}\n--- printed:\n{actual}")
    finally:
        for server in servers:
            server.stop(signal.SIGINT)
    assert not failures, "\n\n".join(failures)

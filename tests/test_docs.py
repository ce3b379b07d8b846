"""Checks on the guide in docs/ that its doctests cannot make themselves.

The `>>>` examples run as doctests (pytest collects docs/*.md). Code the guide
quotes from the library or from its programs, in a fenced block whose first
line is `# From trio_dns/...:` or `# From docs/build/...:`, is not run; instead
it must still appear, verbatim, in the file it names, so a listing cannot go
stale. Links between chapters must
point at files that exist, and at headings that exist in them.

The `console` blocks are transcripts: `$ command` lines, each followed by what
it printed. Those that need nothing but this machine are run again here and
compared with what the guide shows, with the parts that change from run to run
masked (timings, query IDs, cookies, dates, TTLs counted down by a cache):
`trio-dns resolve --sandbox`, the commands that stop with a usage or
configuration error, and `dig` against `trio-dns serve --sandbox`. A server
command (one whose output says it is serving) is started in the background on
a free port, the `dig`s after it in the same chapter ask it, and it is stopped
with SIGTERM when the next server starts, at an `echo $?` right after it (which
asks for its exit status), or at the end of the chapter; its output is compared then. Every
other command must be excused in `_EXCUSED` with the reason it cannot run
here, so that a new transcript is either checked or visibly not.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHAPTERS = sorted(DOCS.glob("*.md"))

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_QUOTE = re.compile(r"\A# From ((?:trio_dns|docs/build)/[\w/.]+\.py):\n")
# [text](target), [text](target.md#anchor) or [text](#anchor); not URLs (nor mailto:).
# A target is any file of the repository: a chapter, a program, a test.
_LINK = re.compile(r"\]\((?!\w+:)([^)#\s]*)(?:#([^)\s]+))?\)")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
_CONSOLE = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _quoted_listings() -> list[tuple[str, str, str]]:
    listings = []
    for chapter in CHAPTERS:
        for block in _FENCE.findall(chapter.read_text(encoding="utf-8")):
            match = _QUOTE.match(block)
            if match:
                listings.append((chapter.name, match.group(1), block[match.end() :]))
    return listings


def test_guide_has_chapters() -> None:
    names = {chapter.name for chapter in CHAPTERS}
    assert {"README.md", "01-wire-protocol.md", "03-record-types.md"} <= names


def test_there_are_quoted_listings() -> None:
    # Guards the check below against a regex that silently matches nothing.
    assert _quoted_listings()


@pytest.mark.parametrize(
    ("chapter", "path", "listing"),
    _quoted_listings(),
    ids=[f"{chapter}:{path}" for chapter, path, _ in _quoted_listings()],
)
def test_quoted_listing_matches_source(chapter: str, path: str, listing: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    assert listing in source, f"{chapter} quotes {path}, but the file no longer contains it"


# -- links and anchors ------------------------------------------------------------------


def _without_code(text: str) -> str:
    """Markdown outside fenced blocks, where `# ...` lines are headings."""
    return _FENCE.sub("", text)


def _anchors(document: Path) -> set[str]:
    """The anchors GitHub gives the document's headings (duplicates get -1, -2...)."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_without_code(document.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_anchors_follow_github() -> None:
    anchors = _anchors(DOCS / "04-server.md")
    assert "extended-dns-errors-on-servfail-rfc-8914" in anchors
    assert "configuration-options-a-toml-file-one-line-errors" in anchors


_LINKING = [*CHAPTERS, ROOT / "README.md"]


@pytest.mark.parametrize("document", _LINKING, ids=[d.name for d in _LINKING])
def test_links_resolve(document: Path) -> None:
    text = _without_code(document.read_text(encoding="utf-8"))
    links = _LINK.findall(text)
    for target, anchor in links:
        if not target and not anchor:
            continue
        path = (document.parent / target) if target else document
        assert path.exists(), f"{document.name} links to missing {target}"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{document.name} links to {target}#{anchor}"


def test_links_are_found() -> None:
    text = (DOCS / "README.md").read_text(encoding="utf-8")
    assert ("01-wire-protocol.md", "") in _LINK.findall(text)
    # Links to the tests and programs are checked too, not only those to chapters.
    attacks = _without_code((DOCS / "09-attacks.md").read_text(encoding="utf-8"))
    assert ("../tests/hostile/test_tcp_abuse.py", "") in _LINK.findall(attacks)
    assert not _LINK.findall("[RFC 8482](https://www.rfc-editor.org/rfc/rfc8482)")


# -- the metrics of chapter 7 ---------------------------------------------------------------


def _metric_families() -> set[str]:
    from trio_dns import Resolver
    from trio_dns._server.metrics import metrics_registry
    from trio_dns._server.server import Server, ServerSettings
    from trio_dns.testing import build_sandbox

    sandbox = build_sandbox()
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
    server = Server(resolver, ServerSettings(listen=(("127.0.0.1", 0),)))
    registry = metrics_registry(server, process=False)
    return {family.name for family in registry.collect()}


def _chapter_7() -> str:
    return (DOCS / "07-operating.md").read_text(encoding="utf-8")


def test_metrics_table_lists_every_metric() -> None:
    table = re.search(r"^\| metric \| what it counts \|\n(.*?)\n\n", _chapter_7(), re.M | re.S)
    assert table is not None
    documented = set()
    for row in table.group(1).splitlines()[1:]:
        for name in re.findall(r"`(trio_dns_\w+)", row.split("|")[1]):
            documented.add(name.removesuffix("_total"))
    assert documented == _metric_families()


def test_metrics_sample_names_real_metrics() -> None:
    block = _chapter_7().split("$ curl -s http://127.0.0.1:9153/metrics", 1)[1].split("```")[0]
    families = _metric_families()
    samples = [re.match(r"\w+", line).group() for line in block.splitlines()[1:]]  # type: ignore[union-attr]
    bases = {re.sub(r"_(total|bucket|count|sum)$", "", s) for s in samples}
    # Only the process_ metrics (and some histogram buckets) are left out of the scrape.
    assert {base for base in bases if not base.startswith("process_")} == families


# -- console transcripts ----------------------------------------------------------------------


@attrs.frozen
class Command:
    chapter: str
    line: int  # of the `$ ` line in the chapter, for messages
    text: str  # continuation lines joined
    expected: str


def _commands(chapter: Path) -> list[Command]:
    text = chapter.read_text(encoding="utf-8")
    commands = []
    for match in _CONSOLE.finditer(text):
        first_line = text.count("\n", 0, match.start(1)) + 1
        lines = match.group(1).splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                raise AssertionError(f"{chapter.name}:{first_line + i}: output before a command")
            start = i
            command = lines[i][2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            i += 1
            output = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i])
                i += 1
            commands.append(Command(chapter.name, first_line + start, command, "\n".join(output)))
    return commands


# Commands the test cannot run, and why. A key is a regular expression that must
# match the start of the command.
_EXCUSED = {
    r"trio-dns query (www|big)\.example .*@127\.53\.9\.1 -p 10053": (
        "asks NSD serving the test zone of tests/integration, shown as the CLI tests run it"
    ),
    r"(cat anchor|trio-dns resolve \S+ --trace --root-hints hints)": (
        "needs the signed zones of tests/integration/test_dnssec_real.py on NSD and Knot"
    ),
    r"trio-dns serve --listen 127\.0\.0\.1:5300 --forward 192\.0\.2\.53": (
        "forwards to resolvers that are not on this machine"
    ),
    r"trio-dns serve --forward-zone": "a deployment: listens on port 53 and forwards to a LAN",
    r"curl -s http://127\.0\.0\.1:9153/metrics": (
        "a scrape after queries the text describes; the metric names are checked above"
    ),
    r"trio-dns serve --sandbox --listen 127\.0\.0\.1:5300 --zone home\.zone --query-log": (
        "the queries that made these log lines are described, not shown"
    ),
    r"(trio-dns serve --root-hints sandbox\.hints --trust-anchor|dig @127\.0\.0\.1 -p 5300 www\.secure)": (
        "asks trio-dns sandbox; tests/test_sandbox_dnssec.py runs these against one on a port"
        " of its own and checks the RRSIG the guide shows"
    ),
    # The build-along track: its programs and the loopback sandbox they talk to.
    r"(trio-dns sandbox|python3? (docs/build/)?ch\d_\w+\.py|dig @127\.5[0-9]\.)": (
        "trio-dns sandbox on port 53 needs root; tests/test_build_along.py runs these"
        " programs against one on a port of its own"
    ),
}

# Files that commands read, as the guide describes them.
_FILES: dict[str, Callable[[], str]] = {
    # Chapter 4's configuration example after the typo of its doctest.
    "serve.toml": lambda: "max_inflight = 500\n",
    # Chapter 7's zone file, and the same with a typo in line 6.
    "home.zone": lambda: _zone_file_of_chapter_7(),
    "typo.zone": lambda: _zone_file_of_chapter_7().replace("192.168.1.10", "999.1.1.10"),
}


def _zone_file_of_chapter_7() -> str:
    blocks = [b for b in _FENCE.findall(_chapter_7()) if b.startswith("$ORIGIN home.arpa.")]
    assert len(blocks) == 1
    return str(blocks[0])


_MASKS = [
    (re.compile(r"\s*\d+(\.\d+)? ?ms\b"), " N ms"),  # traces, and the query log
    (re.compile(r"Query time: \d+ msec"), "Query time: N msec"),
    (re.compile(r";; WHEN: .*"), ";; WHEN: (date)"),
    (re.compile(r"\bid: \d+"), "id: N"),
    (re.compile(r"COOKIE: [0-9a-f]+"), "COOKIE: (cookie)"),
    (re.compile(r"<<>> DiG \S+ <<>>"), "<<>> DiG (version) <<>>"),
    (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.M), "(time) "),
]
# A cache counts TTLs down, so in replies from a running server they vary.
_DIG_TTL = re.compile(r"^(\S+\t+)\d+(\tIN\t)", re.M)


def _mask(text: str, *, dig: bool) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    if dig:
        text = _DIG_TTL.sub(r"\1TTL\2", text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


_COMMAND_TIMEOUT = 30  # seconds; a resolution in the sandbox takes well under one


def _free_port() -> int:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
    ):
        tcp.bind(("127.0.0.1", 0))
        port: int = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", port))
        return port


def _is_server(command: Command) -> bool:
    return command.text.startswith("trio-dns serve") and "serving on" in command.expected


def _excuse(command: Command) -> str | None:
    for pattern, reason in _EXCUSED.items():
        if re.match(pattern, command.text):
            return reason
    return None


def _runnable(command: Command) -> bool:
    text = command.text
    if _excuse(command) is not None:
        return False
    return (
        _is_server(command)
        or text == "echo $?"
        or text.startswith(("trio-dns resolve --sandbox", "dig @127.0.0.1 -p 5300 "))
        or text.startswith("python docs/build/attacks.py")
        or text == "python docs/build/ch1_parse.py"  # its built-in example: no network
        or (text.startswith("trio-dns serve") and "serving on" not in command.expected)
        or bool(re.match(r"trio-dns query \S+ @127\.53\.9\.[12]\b", text))
    )


def _console_chapters() -> list[Path]:
    return [c for c in CHAPTERS if any(_runnable(cmd) for cmd in _commands(c))]


def test_every_console_command_is_run_or_excused() -> None:
    loose = [
        f"{c.chapter}:{c.line}: $ {c.text}"
        for chapter in CHAPTERS
        for c in _commands(chapter)
        if not _runnable(c) and _excuse(c) is None
    ]
    assert not loose, "run these in test_console_transcripts, or excuse them:\n" + "\n".join(loose)


def test_transcripts_are_found() -> None:
    commands = [c.text for c in _commands(DOCS / "05-recursion.md")]
    assert "trio-dns resolve --sandbox --trace www.example.com" in commands


@attrs.define
class _Server:
    command: Command
    process: subprocess.Popen[bytes]
    output: Path

    def stop(self) -> tuple[str, int]:
        """SIGTERM, as chapter 4 does with kill; what it printed, and its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.command.text}: did not stop on SIGTERM") from None
        return self.output.read_text(encoding="utf-8"), status


class _Session:
    """Runs one chapter's commands in order, in a directory of the test's own."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.server: _Server | None = None
        self.status: int | None = None
        self.failures: list[str] = []
        self.environment = dict(os.environ)
        self.environment["PATH"] = os.pathsep.join(
            [str(Path(sys.executable).parent), self.environment.get("PATH", ""), "/usr/sbin"]
        )
        self.environment["PYTHONUNBUFFERED"] = "1"  # the server's lines in the order written
        self.servers = 0
        self.last: Command | None = None

    def _local(self, text: str) -> str:
        """The guide's port 5300 is this session's free port."""
        port = str(self.port)
        text = text.replace("127.0.0.1:5300", f"127.0.0.1:{port}")
        text = text.replace("-p 5300 ", f"-p {port} ")
        return text.replace("127.0.0.1#5300", f"127.0.0.1#{port}")

    def _compare(self, command: Command, actual: str) -> None:
        dig = command.text.startswith("dig ")
        expected = _mask(self._local(command.expected), dig=dig)
        actual = _mask(actual, dig=dig)
        if expected != actual:
            self.failures.append(
                f"{command.chapter}:{command.line}: $ {command.text}\n"
                f"--- the guide shows:\n{expected}\n--- it prints:\n{actual}\n"
            )

    def run(self, command: Command) -> None:
        if command.text == "echo $?":
            if self.server is not None and self.server.command == self.last:
                self.stop_server()  # asks for the status of the server just started
            self._compare(command, str(self.status))
            return
        self.last = command
        if _is_server(command):
            self.stop_server()
            self.start_server(command)
            return
        for name in re.findall(r"\b[\w.]+\.(?:toml|zone)\b", command.text):
            if name in _FILES:
                (self.directory / name).write_text(_FILES[name](), encoding="utf-8")
        if command.text.startswith("dig ") and (self.server is None):
            self.failures.append(f"{command.chapter}:{command.line}: dig without a server")
            return
        process = subprocess.Popen(
            ["bash", "-c", self._local(command.text)],
            # The guide's programs are run from the top of the repository.
            cwd=ROOT if command.text.startswith("python docs/") else self.directory,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, to end it whole
        )
        try:
            output, _ = process.communicate(timeout=_COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            # Say, a server the guide shows failing to start, which started.
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            self.failures.append(f"{command.chapter}:{command.line}: $ {command.text}: hung")
        self.status = process.returncode
        self._compare(command, output.decode())

    def start_server(self, command: Command) -> None:
        for name in re.findall(r"\b[\w.]+\.(?:toml|zone)\b", command.text):
            (self.directory / name).write_text(_FILES[name](), encoding="utf-8")
        self.servers += 1
        output = self.directory / f"server-{self.servers}.out"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                ["bash", "-c", "exec " + self._local(command.text)],
                cwd=self.directory,
                env=self.environment,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.server = _Server(command, process, output)
        deadline = time.monotonic() + 30
        while "serving on" not in output.read_text(encoding="utf-8"):
            if process.poll() is not None or time.monotonic() > deadline:
                text, _ = self.server.stop()
                self.server = None
                raise AssertionError(f"{command.text}: did not start:\n{text}")
            time.sleep(0.05)

    def stop_server(self) -> None:
        if self.server is None:
            return
        server, self.server = self.server, None
        output, self.status = server.stop()
        self._compare(server.command, output)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[_Session]:
    session = _Session(tmp_path)
    try:
        yield session
    finally:
        if session.server is not None:
            session.server.stop()


@pytest.mark.parametrize("chapter", _console_chapters(), ids=lambda c: c.name)
def test_console_transcripts(chapter: Path, session: _Session) -> None:
    commands = [c for c in _commands(chapter) if _runnable(c)]
    if any(c.text.startswith("dig ") for c in commands):
        from tests.integration.servers import require_tool

        require_tool("dig", "bind9-dnsutils")
    for command in commands:
        session.run(command)
    session.stop_server()
    assert not session.failures, "\n".join(session.failures)

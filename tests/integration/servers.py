"""Real authoritative servers (NSD, Knot) started for a test and stopped after it.

Theory of operation: `start_server` writes a configuration and the given zone
texts into a directory of the test's own, starts the daemon in the foreground on
a loopback address and port, polls it with a UDP SOA query until it answers with
authority for every zone (bounded), and at teardown stops it by the PID it
started. Every path the daemon could write to (pid file, database, journal, logs,
control socket) is set inside that directory, so a test never touches the system
installation. `ServerPool` starts several at once (say a root, a TLD and a leaf)
and stops them all, in reverse order, when its block ends.

Addresses: tests use 127.53.0.0/16, one address per server, so no test collides
with another or with a resolver on the machine. Linux routes all of 127/8 to the
loopback interface, so any of them can be bound without configuration.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal, NoReturn

import attrs
import pytest

from trio_dns import Flag, Message, Rcode

Kind = Literal["nsd", "knot"]
KINDS: tuple[Kind, ...] = ("nsd", "knot")

# One high fixed port for every test server: no root needed to bind it, and each
# server has an address of its own, so they do not collide.
PORT = 10053

_BINARIES: dict[Kind, str] = {"nsd": "nsd", "knot": "knotd"}
_START_TIMEOUT = 10.0  # seconds until a server that has not answered is a failure
_STOP_TIMEOUT = 5.0
# Daemons live in sbin, which an ordinary user's PATH may lack.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


class ServerStartError(Exception):
    """The daemon exited or did not answer in time; the message carries its log."""


def binary(kind: Kind) -> str | None:
    """The daemon's full path, or None if it is not installed."""
    return shutil.which(_BINARIES[kind], path=_SEARCH_PATH)


def require(kind: Kind) -> str:
    """The daemon's path; see `require_tool`."""
    return require_tool(_BINARIES[kind])


def require_tool(name: str, package: str | None = None) -> str:
    """A program's path (nsd, dig, ldns-signzone, ...). Without it the calling test is
    skipped on a developer's machine, where scripts/test (as root) installs it; in CI
    (CI set), which runs scripts/test, a missing program is a broken install step and
    fails instead, so it cannot hide as a skip."""
    path = shutil.which(name, path=_SEARCH_PATH)
    if path is None:
        environment_gap(
            f"{name} not installed: run scripts/test as root to install {package or 'it'}"
        )
    return path


def environment_gap(message: str) -> NoReturn:
    """What this machine lacks for a test (a program, ::1): a skip on a developer's
    machine, a failure in CI, where scripts/test installs everything and a gap is a
    broken machine that must not hide as a skip."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@attrs.define(eq=False)
class RunningServer:
    kind: Kind
    host: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the daemon we started, by its PID; SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _zone_file_name(origin: str) -> str:
    return (origin.rstrip(".") or "root") + ".zone"


def _absolute(origin: str) -> str:
    return origin if origin.endswith(".") else origin + "."


def _nsd_config(directory: Path, host: str, port: int, zones: Iterable[str]) -> str:
    d = directory
    lines = [
        "server:",
        f"    ip-address: {host}@{port}",
        f"    port: {port}",
        '    username: ""',
        '    chroot: ""',
        f'    zonesdir: "{d}"',
        '    database: ""',
        f'    pidfile: "{d}/nsd.pid"',
        f'    xfrdfile: "{d}/xfrd.state"',
        f'    zonelistfile: "{d}/zone.list"',
        f'    xfrdir: "{d}"',
        f'    logfile: "{d}/server.log"',
        "    server-count: 1",
        "    verbosity: 1",
        # Response rate limiting would throttle load tests from one address.
        "    rrl-ratelimit: 0",
        "    hide-version: yes",
        "    reuseport: no",
        "    do-ip6: no" if ":" not in host else "    do-ip4: no",
        "remote-control:",
        "    control-enable: no",
    ]
    for origin in zones:
        lines += ["zone:", f'    name: "{origin}"', f'    zonefile: "{_zone_file_name(origin)}"']
    return "\n".join(lines) + "\n"


def _knot_config(directory: Path, host: str, port: int, zones: Iterable[str]) -> str:
    d = directory
    lines = [
        "server:",
        f'    rundir: "{d}"',
        f'    pidfile: "{d}/knot.pid"',
        f"    listen: {host}@{port}",
        "control:",
        f'    listen: "{d}/knot.sock"',
        "log:",
        f'  - target: "{d}/server.log"',
        "    any: info",
        "database:",
        f'    storage: "{d}/db"',
        "template:",
        "  - id: default",
        f'    storage: "{d}"',
        '    file: "%s.zone"',
        "    zonefile-sync: -1",
        "    zonefile-load: whole",
        "    journal-content: none",
        "zone:",
    ]
    for origin in zones:
        lines += [f"  - domain: {origin}", f'    file: "{d}/{_zone_file_name(origin)}"']
    return "\n".join(lines) + "\n"


def _launch(
    kind: Kind, host: str, port: int, zones: Mapping[str, str], directory: Path
) -> RunningServer:
    path = require(kind)
    directory.mkdir(parents=True, exist_ok=True)
    origins = [_absolute(origin) for origin in zones]
    for origin, text in zip(origins, zones.values(), strict=True):
        (directory / _zone_file_name(origin)).write_text(text)
    config = directory / f"{kind}.conf"
    if kind == "nsd":
        config.write_text(_nsd_config(directory, host, port, origins))
        argv = [path, "-d", "-c", str(config)]
    else:
        (directory / "db").mkdir(exist_ok=True)
        config.write_text(_knot_config(directory, host, port, origins))
        argv = [path, "-c", str(config)]
    with (directory / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            argv, cwd=directory, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr
        )
    return RunningServer(kind, host, port, directory, process)


def _soa_answered(address: tuple[str, int], origin: str) -> bool:
    """One UDP SOA query: did the server answer it with authority?"""
    query = Message.make_query(origin, "SOA", flags=Flag(0))
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.1)
        try:
            sock.connect(address)  # so only that address's replies are received
            sock.send(query.to_wire())
            data = sock.recv(65535)
        except OSError:  # timeout, or ICMP port unreachable while still starting
            return False
    reply = Message.from_wire(data)
    return (
        reply.id == query.id
        and reply.rcode == Rcode.NOERROR
        and Flag.AA in reply.flags
        and len(reply.answer) > 0
    )


def _wait_until_answering(server: RunningServer, origins: Iterable[str]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    pending = [_absolute(origin) for origin in origins]
    while pending:
        if server.process.poll() is not None:
            raise ServerStartError(
                f"{server.kind} on {server.host}@{server.port} exited with status "
                f"{server.process.returncode}:\n{_logs(server)}"
            )
        if _soa_answered(server.address, pending[0]):
            pending.pop(0)
            continue
        # A zone that fails to load is logged at once; no need to wait it out.
        if time.monotonic() > deadline or "error:" in server.log():
            raise ServerStartError(
                f"{server.kind} on {server.host}@{server.port} is not answering for "
                f"{pending[0]} (waited at most {_START_TIMEOUT} s):\n{_logs(server)}"
            )
        time.sleep(0.02)


def _logs(server: RunningServer) -> str:
    stderr = server.directory / "stderr.log"
    text = stderr.read_text(errors="replace") if stderr.exists() else ""
    return text + server.log()


@contextlib.contextmanager
def start_server(
    kind: Kind,
    host: str,
    zones: Mapping[str, str],
    directory: Path,
    *,
    port: int = PORT,
) -> Iterator[RunningServer]:
    """Run `kind` on host@port serving `zones` (origin -> zone-file text) until
    the block ends. `directory` holds everything the daemon writes."""
    with ServerPool(directory) as pool:
        yield pool.start(kind, host, zones, port=port)


class ServerPool:
    """Several servers at once; all stopped, in reverse order, when the block ends.

    with ServerPool(tmp_path) as pool:
        root = pool.start("nsd", "127.53.1.1", {".": ROOT_ZONE})
        tld = pool.start("knot", "127.53.1.2", {"example.": TLD_ZONE})
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._servers: list[RunningServer] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def black_hole(self, host: str, port: int = PORT) -> socket.socket:
        """A UDP socket on (host, port) that is never read, kept until the pool closes.

        What a dead host on a real network is: queries vanish, with no ICMP
        "port unreachable" (which a resolver's connected socket would turn into
        an instant refusal), so only timeouts can tell."""
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind((host, port))
        self._stack.callback(sink.close)
        return sink

    @property
    def servers(self) -> tuple[RunningServer, ...]:
        return tuple(self._servers)

    def start(
        self, kind: Kind, host: str, zones: Mapping[str, str], *, port: int = PORT
    ) -> RunningServer:
        """Start one server and wait until it answers for all its zones."""
        return self.start_many([(kind, host, zones)], port=port)[0]

    def start_many(
        self, specs: Iterable[tuple[Kind, str, Mapping[str, str]]], *, port: int = PORT
    ) -> list[RunningServer]:
        """Launch every server first and then wait for each, so start-up overlaps."""
        started = []
        for kind, host, zones in specs:
            directory = self._directory / f"{kind}-{host}-{port}"
            server = _launch(kind, host, port, zones, directory)
            self._stack.callback(server.stop)
            self._servers.append(server)
            started.append((server, zones))
        for server, zones in started:
            _wait_until_answering(server, zones)
        return [server for server, _ in started]

"""The hostile suite's fixture: the real `trio-dns serve`, in its own process.

Every test here attacks the server as a stranger would, from outside: over
loopback sockets, against `python -m trio_dns serve`, so that what is tested is
what an operator runs (the command line, the configuration, logging, signals).
`serve(...)` starts one on a random 127.x.y.z address (port 0, so tests never
collide), resolving in the sandbox internet (`--sandbox`) with the metrics
endpoint on and a small local zone (`LOCAL_ZONE`) that answers without any
upstream, and waits until it answers a query. After the test the fixture checks
that every server it started is still alive (no attack may end it), stops it by
its PID with SIGTERM, and checks that it exited cleanly and that its log (stderr,
at debug level so that no swallowed traceback hides) holds no "Traceback".

Other test files reuse it with their own arguments or configuration:

    def test_something(serve: Serve) -> None:
        server = serve("--max-tcp-connections", "4", config="deadline = 2.0\n")
        reply = server.udp(make_query("www.hostile.test", "A"))
        assert server.metric("trio_dns_tcp_closed", reason="idle") == 0

`serve(..., sandbox=False)` leaves the sandbox out (say, to `--forward` to a
fake upstream of the test's own); `server.stop()` stops it early (a shutdown
test), and the same checks then apply.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from trio_dns.testing._loopback import LoopbackSandbox

Address = tuple[str, int]

TIMEOUT = 5.0  # seconds any one client operation may take
START_TIMEOUT = 20.0  # seconds for the process to start answering (2 shared cores)
STOP_TIMEOUT = 20.0  # seconds from SIGTERM to exit: grace period plus send timeout, and slack

# Names that answer at once, without upstream: alive-checks and replies of known sizes.
LOCAL_ZONE = (
    "$ORIGIN hostile.test.\n$TTL 3600\n"
    "@ SOA ns hostmaster 1 3600 600 86400 300\n"
    "@ NS ns\n"
    "ns A 192.0.2.53\n"
    "www A 192.0.2.80\n"
    # About 2.5 kB: too big for UDP, a few TCP segments.
    + "".join(f'big TXT "{i:02d} {"b" * 200}"\n' for i in range(12))
    # About 30 kB: one reply fills a small receive window many times over.
    + "".join(f'huge TXT "{i:03d} {"h" * 200}"\n' for i in range(150))
)
LOCAL_ANSWER = "192.0.2.80"


def make_query(name: str, rtype: str | int = "A", **kwargs: object) -> dns.message.Message:
    kwargs.setdefault("use_edns", 0)
    return dns.message.make_query(name, rtype, **kwargs)  # type: ignore[arg-type]


def frame(message: dns.message.Message | bytes) -> bytes:
    """A message with its 2-octet TCP length prefix (RFC 1035 section 4.2.2)."""
    wire = message if isinstance(message, bytes) else message.to_wire()
    return len(wire).to_bytes(2, "big") + wire


def reset(sock: socket.socket) -> None:
    """Close with a reset (RST) rather than a FIN, as a crashed or hostile client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_frame(sock: socket.socket) -> bytes | None:
    """One framed message from `sock`, or None if the server closed (or reset) first.
    Reads no further than the message, so that pipelined replies can be read in turn."""
    prefix = _read_exactly(sock, 2)
    if prefix is None:
        return None
    return _read_exactly(sock, int.from_bytes(prefix, "big"))


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    buffer = b""
    while len(buffer) < size:
        try:
            chunk = sock.recv(size - len(buffer))
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        buffer += chunk
    return buffer


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` within `within` seconds (whatever it sends first)."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65535):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
    return False


def random_loopback() -> str:
    """A 127.x.y.z address of its own, so parallel servers and other tests never meet."""
    pick = random.SystemRandom()
    return f"127.{pick.randint(1, 254)}.{pick.randint(0, 255)}.{pick.randint(1, 254)}"


@attrs.define
class Served:
    """One running `trio-dns serve` process, and a client's-eye view of it."""

    process: subprocess.Popen[bytes]
    address: Address  # DNS, UDP and TCP
    metrics_address: Address | None
    log_file: Path
    stopped: int | None = None  # the exit status, once stopped

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    # -- asking ------------------------------------------------------------------

    def udp(self, query: dns.message.Message, timeout: float = TIMEOUT) -> dns.message.Message:
        return dns.query.udp(query, self.address[0], port=self.address[1], timeout=timeout)

    def tcp(self, query: dns.message.Message, timeout: float = TIMEOUT) -> dns.message.Message:
        return dns.query.tcp(query, self.address[0], port=self.address[1], timeout=timeout)

    def connect(self, *, receive_buffer: int | None = None) -> socket.socket:
        """A TCP connection to the server (with a small receive buffer, if asked, set
        before connecting so that the window is small from the start)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.settimeout(TIMEOUT)
        sock.connect(self.address)
        return sock

    def assert_serving(self) -> None:
        """A polite client is answered, over UDP and over TCP."""
        assert self.alive(), self.tail()
        for ask in (self.udp, self.tcp):
            reply = ask(make_query("www.hostile.test"))
            assert reply.rcode() == dns.rcode.NOERROR
            assert [r.to_text() for rrset in reply.answer for r in rrset] == [LOCAL_ANSWER]

    # -- the metrics endpoint ------------------------------------------------------

    def http(self, request: bytes, timeout: float = TIMEOUT) -> bytes:
        """Send `request` to the metrics endpoint; everything it sends back."""
        assert self.metrics_address is not None, "started with metrics=False"
        with socket.create_connection(self.metrics_address, timeout=timeout) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics, by name and sorted labels."""
        response = self.http(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        samples = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def metric(self, name: str, **labels: str) -> float:
        """One sample's value (counters by their `_total` name or without it)."""
        samples = self.scrape()
        key = tuple(sorted(labels.items()))
        for candidate in (name, name + "_total"):
            if (candidate, key) in samples:
                return samples[(candidate, key)]
        raise KeyError(f"no sample {name}{labels}")

    def wait_for_metric(
        self, name: str, condition: Callable[[float], bool], within: float = TIMEOUT, **labels: str
    ) -> float:
        """Poll a sample until `condition` holds for it; its last value either way."""
        deadline = time.monotonic() + within
        while True:
            value = self.metric(name, **labels)
            if condition(value) or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    # -- stopping ------------------------------------------------------------------

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM to this process (by PID), and its exit status."""
        if self.stopped is None:
            assert self.alive(), f"the server had died before it was stopped:\n{self.tail()}"
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.stopped = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
                pytest.fail(f"no exit within {timeout} s of SIGTERM:\n{self.tail()}")
        return self.stopped

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


Serve = Callable[..., Served]


def _start(tmp_path: Path, index: int, args: tuple[str, ...], **options: object) -> Served:
    host = random_loopback()
    command = [sys.executable, "-m", "trio_dns", "serve", "--listen", f"{host}:0"]
    command += ["--log-level", str(options.get("log_level", "debug"))]
    if options.get("sandbox", True):
        command.append("--sandbox")
    if options.get("metrics", True):
        command += ["--metrics", f"{host}:0"]
    if options.get("zone", True):
        zone = tmp_path / f"hostile-{index}.zone"
        zone.write_text(LOCAL_ZONE)
        command += ["--zone", str(zone)]
    config = options.get("config")
    if config is not None:
        config_file = tmp_path / f"hostile-{index}.toml"
        config_file.write_text(str(config))
        command += ["--config", str(config_file)]
    command += args
    log_file = tmp_path / f"hostile-{index}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    served = Served(process, ("", 0), None, log_file)
    try:
        _wait_until_answering(served, bool(options.get("metrics", True)))
    except BaseException:
        if served.alive():
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        raise
    return served


def _wait_until_answering(served: Served, metrics: bool) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    serving = re.compile(r"serving on (\S+):(\d+)$", re.MULTILINE)
    metrics_on = re.compile(r"metrics on http://(\S+):(\d+)/metrics$", re.MULTILINE)
    while True:
        if not served.alive():
            pytest.fail(f"trio-dns serve exited with {served.process.returncode}:\n{served.log()}")
        if time.monotonic() > deadline:
            pytest.fail(f"trio-dns serve did not start answering:\n{served.tail()}")
        text = served.log()
        where = serving.search(text)
        metrics_where = metrics_on.search(text)
        if where and (metrics_where or not metrics):
            served.address = (where.group(1), int(where.group(2)))
            if metrics_where:
                served.metrics_address = (metrics_where.group(1), int(metrics_where.group(2)))
            try:
                # RD=0, so that no upstream is involved: any reply means it answers.
                served.udp(make_query("probe.invalid", flags=0), timeout=0.5)
            except (TimeoutError, OSError, dns.exception.DNSException):
                pass
            else:
                return
        time.sleep(0.05)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """`serve(*extra_args, config=None, sandbox=True, metrics=True, zone=True,
    log_level="debug")`: start the real server; checked and stopped after the test."""
    started: list[Served] = []

    def start(*args: str, **options: object) -> Served:
        served = _start(tmp_path, len(started), args, **options)
        started.append(served)
        return served

    yield start
    problems = []
    for served in started:
        if served.stopped is None and not served.alive():
            problems.append(f"server {served.pid} died:\n{served.tail()}")
            continue
        status = served.stop()
        if status != 0:
            problems.append(f"server {served.pid} exited with {status}:\n{served.tail()}")
        if "Traceback" in served.log():
            problems.append(f"server {served.pid} logged a traceback:\n{served.log()[-4000:]}")
    if problems:
        pytest.fail("\n\n".join(problems))


@contextmanager
def internet(
    tmp_path: Path, change: Callable[[LoopbackSandbox, str, int], LoopbackSandbox]
) -> Iterator[tuple[Path, int, str]]:
    """The sandbox on its own 127.x addresses and a high port, as `change` makes
    it (given the sandbox, the prefix and the port); yields the hints file, the
    port and the prefix."""
    pick = random.SystemRandom()
    port = pick.randint(20000, 60000)
    prefix = f"127.{pick.randint(100, 250)}"
    sandbox = change(LoopbackSandbox.build(prefix=prefix, port=port, ipv6=None), prefix, port)
    hints = tmp_path / "loopback.hints"
    hints.write_text(sandbox.hints_text())
    ready = threading.Event()
    control: list[tuple[trio.lowlevel.TrioToken, trio.CancelScope]] = []
    failure: list[BaseException] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            control.append((trio.lowlevel.current_trio_token(), nursery.cancel_scope))
            await nursery.start(sandbox.serve)
            ready.set()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # reported by the test, not lost in a thread
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="loopback-internet", daemon=True)
    thread.start()
    assert ready.wait(20), "the loopback sandbox did not start"
    assert not failure, failure
    try:
        yield hints, port, prefix
    finally:
        if control:
            token, scope = control[0]
            token.run_sync_soon(scope.cancel)
        thread.join(20)
        assert not thread.is_alive()
    assert not failure, failure

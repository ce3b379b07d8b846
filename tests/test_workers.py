"""`trio-dns serve --workers N`: N processes sharing the ports, one supervisor.

The real server on loopback (the hostile suite's `serve` fixture): the kernel
spreads UDP queries and TCP connections over the workers, the parent holds no
DNS socket, a worker killed with SIGKILL costs only its own connections and is
started again, and SIGTERM to the parent drains every worker and exits 0. The
metrics merging is tested on its own too, without processes.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
import trio
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from trio_dns._cli import build_parser
from trio_dns._config import ConfigError, ServeConfig
from trio_dns._errors import DNSError
from trio_dns._server.workers import (
    INITIAL_BACKOFF,
    Supervisor,
    WorkerPlan,
    cpu_count,
    merge_metrics,
)

from .hostile.conftest import (
    TIMEOUT,
    Serve,
    Served,
    frame,
    make_query,
    random_loopback,
    read_frame,
    serve,
)

__all__ = ["serve"]  # the fixture, imported for these tests

# No server on port 9 in the sandbox: every resolution waits for its 30 s deadline.
SILENT_UPSTREAMS = ("--upstream-port", "9", "--deadline", "30")
QUERY = make_query("www.hostile.test", "AAAA")  # NODATA from the local zone, no upstream


def per_worker(server: Served, name: str) -> list[float]:
    samples = server.scrape()
    return [samples[(name, (("worker", str(i)),))] for i in range(2)]


# -- who holds which socket ------------------------------------------------------------


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _bound_inodes(table: str, address: tuple[str, int], listening: bool) -> set[int]:
    """Inodes of the IPv4 sockets bound to `address` in /proc/net/`table`."""
    host, port = address
    local = "".join(f"{int(octet):02X}" for octet in reversed(host.split("."))) + f":{port:04X}"
    inodes = set()
    for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and (not listening or fields[3] == "0A"):
            inodes.add(int(fields[9]))
    return inodes


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            children.append(int(stat.parent.name))
    return children


def _wait_gone(pid: int) -> None:
    """Until `pid` has exited (a zombie has closed its sockets already)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            # Gone before the open, or reaped between the open and the read (ESRCH).
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)
    pytest.fail(f"process {pid} did not die")


def test_the_workers_share_the_ports_and_the_parent_holds_none(serve: Serve) -> None:
    server = serve("--workers", "2")
    workers = sorted(int(pid) for pid in per_worker(server, "trio_dns_worker_pid"))
    assert sorted(_children(server.pid)) == workers
    udp = _bound_inodes("udp", server.address, listening=False)
    tcp = _bound_inodes("tcp", server.address, listening=True)
    assert len(udp) == len(tcp) == 2  # one of each per worker: SO_REUSEPORT
    for pid in workers:
        held = _socket_inodes(pid)
        assert len(held & udp) == len(held & tcp) == 1
    assert not _socket_inodes(server.pid) & (udp | tcp)


def test_one_worker_is_todays_single_process(serve: Serve) -> None:
    server = serve()
    assert _children(server.pid) == []
    held = _socket_inodes(server.pid)
    assert held & _bound_inodes("udp", server.address, listening=False)
    assert held & _bound_inodes("tcp", server.address, listening=True)
    assert not any(name.startswith("trio_dns_worker") for name, _ in server.scrape())


# -- spreading, dying, draining -----------------------------------------------------------


def test_queries_and_connections_spread_over_the_workers(serve: Serve) -> None:
    server = serve("--workers", "2")
    # Each query from a socket of its own, so from a port of its own: the kernel
    # picks the worker by a hash of the client's address and port.
    for _ in range(40):
        assert server.udp(QUERY).rcode() == dns.rcode.NOERROR
    for _ in range(20):
        assert server.tcp(QUERY).rcode() == dns.rcode.NOERROR
    samples = server.scrape()
    queries = [samples[("trio_dns_worker_queries_total", (("worker", w),))] for w in "01"]
    tcp = [samples[("trio_dns_worker_tcp_queries_total", (("worker", w),))] for w in "01"]
    assert min(queries) > 0 and min(tcp) > 0, (queries, tcp)
    # The merged families add up to what was sent, under a single process's names.
    assert samples[("trio_dns_queries_total", (("type", "AAAA"),))] == 60
    assert samples[("trio_dns_tcp_queries_total", ())] == 20
    assert sum(tcp) == 20
    assert samples[("trio_dns_workers", ())] == 2
    assert per_worker(server, "trio_dns_worker_up") == [1, 1]


def test_a_killed_worker_costs_only_its_own_connections_and_comes_back(serve: Serve) -> None:
    server = serve("--workers", "2")
    connections = [server.connect() for _ in range(16)]
    for sock in connections:
        sock.sendall(frame(QUERY))
        assert read_frame(sock) is not None
    on_first = int(per_worker(server, "trio_dns_worker_tcp_open")[0])
    assert 0 < on_first < len(connections)
    victim = int(per_worker(server, "trio_dns_worker_pid")[0])

    os.kill(victim, signal.SIGKILL)
    _wait_gone(victim)
    # Its socket is gone from the group: every query goes to a live worker.
    for _ in range(30):
        assert server.udp(QUERY, timeout=2).rcode() == dns.rcode.NOERROR
    answered = 0
    for sock in connections:
        try:
            sock.sendall(frame(QUERY))
            data = read_frame(sock)
        except OSError:
            data = None
        answered += data is not None
        sock.close()
    assert answered == len(connections) - on_first

    # It comes back, under a new PID, and is given queries again.
    deadline = time.monotonic() + 30
    while per_worker(server, "trio_dns_worker_up")[0] != 1:
        assert time.monotonic() < deadline, server.tail()
        time.sleep(0.1)
    assert per_worker(server, "trio_dns_worker_pid")[0] not in (victim, 0)
    assert per_worker(server, "trio_dns_worker_restarts_total") == [1, 0]
    assert f"worker 0 (pid {victim}) was killed by SIGKILL" in server.log()
    before = per_worker(server, "trio_dns_worker_queries_total")[0]
    for _ in range(40):
        assert server.udp(QUERY).rcode() == dns.rcode.NOERROR
    assert per_worker(server, "trio_dns_worker_queries_total")[0] > before
    # The dead worker's counts are kept in the sums.
    assert server.metric("trio_dns_queries", type="AAAA") == 16 * 2 - on_first + 30 + 40


def test_sigterm_drains_every_worker_and_exits_0(serve: Serve) -> None:
    server = serve("--workers", "2", *SILENT_UPSTREAMS, "--grace-period", "0.5")
    workers = [int(pid) for pid in per_worker(server, "trio_dns_worker_pid")]
    socks = []
    for i in range(16):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(TIMEOUT)
        sock.connect(server.address)
        sock.send(make_query(f"u{i}.example.com", id=100 + i).to_wire())
        socks.append(sock)
    server.wait_for_metric("trio_dns_in_flight", lambda value: value == 16)
    assert min(per_worker(server, "trio_dns_worker_in_flight")) > 0

    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < TIMEOUT
    for i, sock in enumerate(socks):
        reply = dns.message.from_wire(sock.recv(65535))
        assert reply.id == 100 + i
        assert reply.rcode() == dns.rcode.SERVFAIL
        texts = [o.text for o in reply.options if isinstance(o, dns.edns.EDEOption)]
        assert texts == ["shutting down"]
        sock.close()
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()
    log = server.log()
    assert log.count("SIGTERM: shutting down") == 2


def _notification(listener: socket.socket) -> tuple[bytes, int]:
    """One datagram from the notify socket, and the PID that sent it."""
    size = socket.CMSG_SPACE(struct.calcsize("3i"))
    message, ancillary, _, _ = listener.recvmsg(4096, size)
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, _, _ = struct.unpack("3i", data[: struct.calcsize("3i")])
            return message, pid
    raise AssertionError("no credentials")


def test_systemd_hears_from_the_supervisor_alone(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        listener.bind(str(path))
        listener.settimeout(30)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        server = serve("--workers", "2")
        # Ready once every worker serves, from the process systemd started.
        assert _notification(listener) == (b"READY=1", server.pid)
        assert per_worker(server, "trio_dns_worker_up") == [1, 1]
        assert server.stop() == 0
        assert _notification(listener) == (b"STOPPING=1", server.pid)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.recv(4096)


def test_a_worker_that_cannot_start_stops_the_server(tmp_path: Path) -> None:
    host = random_loopback()
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind((host, 0))  # without SO_REUSEPORT: no worker can join it
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "trio_dns",
                "serve",
                "--sandbox",
                "--workers",
                "2",
                "--listen",
                f"{host}:{taken.getsockname()[1]}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        taken.close()
    assert result.returncode == 1
    assert "cannot listen on" in result.stderr
    assert "trio-dns: worker 0 exited with status 1 before serving" in result.stderr
    assert "Traceback" not in result.stderr


# -- settings ------------------------------------------------------------------------------


def parse(*argv: str) -> ServeConfig:
    args = build_parser().parse_args(["serve", *argv])
    return ServeConfig.load(vars(args), args.config)


def test_the_workers_setting(tmp_path: Path) -> None:
    assert parse().workers == 1
    assert not parse().server_settings().reuse_port
    assert parse("--workers", "3").workers == 3
    assert parse("--workers", "3").server_settings().reuse_port
    assert parse("--workers", "auto").workers == cpu_count() == len(os.sched_getaffinity(0))
    config_file = tmp_path / "serve.toml"
    config_file.write_text('workers = "auto"\n')
    assert parse("--config", str(config_file)).workers == cpu_count()
    config_file.write_text("workers = 2\n")
    assert parse("--config", str(config_file)).workers == 2
    for bad in ("0", "many", "-1"):
        with pytest.raises(ConfigError, match="--workers must be a number of processes"):
            parse("--workers", bad)


# -- merging the workers' metrics --------------------------------------------------------


def _families(queries: float, by_type: dict[str, float], in_flight: float) -> list[Metric]:
    total = CounterMetricFamily("trio_dns_queries", "Queries.", labels=["type"])
    for label, value in by_type.items():
        total.add_metric([label], value)
    return [
        total,
        GaugeMetricFamily("trio_dns_in_flight", "Running.", value=in_flight),
        CounterMetricFamily("trio_dns_worker_queries", "By worker.", value=queries),
    ]


def _samples(families: list[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def test_merging_sums_samples_and_labels_the_per_worker_families() -> None:
    merged = _samples(
        merge_metrics(
            [
                (0, _families(5, {"A": 3, "MX": 2}, 1)),
                (1, _families(4, {"A": 4}, 2)),
            ],
            # Counters of a worker that died: carried on, also where no live worker has them.
            {"trio_dns_queries": {("trio_dns_queries_total", (("type", "A"),)): 10.0}},
        )
    )
    assert merged[("trio_dns_queries_total", (("type", "A"),))] == 3 + 4 + 10
    assert merged[("trio_dns_queries_total", (("type", "MX"),))] == 2
    assert merged[("trio_dns_in_flight", ())] == 3
    assert merged[("trio_dns_worker_queries_total", (("worker", "0"),))] == 5
    assert merged[("trio_dns_worker_queries_total", (("worker", "1"),))] == 4


# -- reload and control, relayed to every worker -----------------------------------------


def control(path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", "control", "--control-socket", str(path), *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sighup_reloads_every_worker(serve: Serve, tmp_path: Path) -> None:
    server = serve("--workers", "2")
    pids = per_worker(server, "trio_dns_worker_pid")
    for _ in range(10):
        assert [r.to_text() for r in server.udp(make_query("www.hostile.test")).answer[0]] == [
            "192.0.2.80"
        ]
    zone = tmp_path / "hostile-0.zone"
    zone.write_text(zone.read_text().replace("www A 192.0.2.80", "www A 192.0.2.81"))
    os.kill(server.pid, signal.SIGHUP)
    deadline = time.monotonic() + TIMEOUT
    while server.log().count("reload: reloaded") < 2:
        assert time.monotonic() < deadline, server.tail()
        time.sleep(0.05)
    # Both workers answer from the new zone (their encoded replies went too).
    for _ in range(40):
        answer = server.udp(make_query("www.hostile.test")).answer
        assert [r.to_text() for rrset in answer for r in rrset] == ["192.0.2.81"]
    assert per_worker(server, "trio_dns_worker_pid") == pids  # reloaded, not restarted
    assert per_worker(server, "trio_dns_worker_restarts_total") == [0, 0]


def test_control_commands_go_to_every_worker(serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    server = serve("--workers", "2", "--control-socket", str(path))
    assert f"control socket {path}" in server.log()
    for _ in range(20):
        assert server.udp(QUERY).rcode() == dns.rcode.NOERROR
    pids = [int(pid) for pid in per_worker(server, "trio_dns_worker_pid")]

    status = control(path, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[:2] == [f"supervisor pid: {server.pid}", "workers: 2"]
    for index, pid in enumerate(pids):
        assert f"worker {index}: pid {pid}, serving, 0 restarts" in lines
        assert f"; worker {index} (pid {pid})" in lines
        assert f"pid: {pid}" in lines

    stats = control(path, "stats")
    assert stats.returncode == 0, stats.stderr
    assert 'trio_dns_queries_total{type="AAAA"} 20' in stats.stdout.splitlines()

    flushed = control(path, "flush-all")
    assert flushed.returncode == 0, flushed.stderr
    assert flushed.stdout.count("flushed") == 2

    bad = control(path, "flush")  # a name is needed: every worker says so, once shown
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert "wrong number of arguments" in bad.stderr


# -- the supervisor with stand-in workers ------------------------------------------------

# Speaks a worker's side of the channel: notes when it started, reads the hello,
# says it is ready, and then exits with status 3 after a moment (or at once,
# without a word, if told to fail; or never says it is ready, if told to hang).
STAND_IN = """
import json, socket, sys, time
fd = int(sys.argv[sys.argv.index("--worker-of") + 1])
mode, starts = sys.argv[1], sys.argv[2]
with open(starts, "a") as file:
    file.write(f"{time.monotonic()}\\n")
if mode == "fail":
    sys.exit(3)
channel = socket.socket(fileno=fd)
hello = json.loads(channel.makefile().readline())
if mode == "hang":  # starting for ever
    time.sleep(60)
channel.sendall(json.dumps({"ready": hello["listen"]}).encode() + b"\\n")
time.sleep(0.05)
sys.exit(3)
"""


def _plan(tmp_path: Path, mode: str) -> tuple[WorkerPlan, Path]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    starts = tmp_path / "starts.txt"
    command = (sys.executable, str(script), mode, str(starts))
    return WorkerPlan(command, 1, (("127.0.0.1", 5300),)), starts


async def test_a_worker_that_keeps_dying_is_started_again_ever_more_slowly(
    tmp_path: Path,
) -> None:
    plan, starts = _plan(tmp_path, "die")
    supervisor = Supervisor(plan)
    worker = supervisor.workers[0]
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(supervisor._keep, worker, plan.listen)
        assert bound == (("127.0.0.1", 5300),)
        while worker.restarts < 3:  # noqa: ASYNC110 (the supervisor counts, nothing signals)
            await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    times = [float(line) for line in starts.read_text().split()]
    assert len(times) >= 3
    # Each start waits out a back-off twice the one before (lower bounds only:
    # a busy machine can only make the gaps longer).
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    for gap, backoff in zip(gaps, (INITIAL_BACKOFF, 2 * INITIAL_BACKOFF), strict=False):
        assert gap >= backoff


async def test_a_worker_that_never_serves_is_not_started_again(tmp_path: Path) -> None:
    plan, starts = _plan(tmp_path, "fail")
    with pytest.RaisesGroup(
        pytest.RaisesExc(DNSError, match="worker 0 exited with status 3 before serving"),
        flatten_subgroups=True,
    ):
        await Supervisor(plan).run()
    assert len(starts.read_text().split()) == 1


def test_each_worker_picks_its_own_query_ids_and_ports(serve: Serve) -> None:
    """Workers are fresh interpreters, not forks sharing one store of random
    numbers: no two upstream queries share a source port and an ID."""
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind((random_loopback(), 0))
    upstream.settimeout(0.2)
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def answer() -> None:
        while not done.is_set():
            try:
                data, source = upstream.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            seen.append((source[1], query.id))
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.RA
            reply.answer.append(
                dns.rrset.from_text(query.question[0].name, 300, "IN", "A", "192.0.2.1")
            )
            upstream.sendto(reply.to_wire(), source)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        host, port = upstream.getsockname()
        server = serve(
            "--workers", "2", "--forward", f"{host}:{port}", "--no-dnssec", sandbox=False
        )
        for i in range(40):
            reply = server.udp(make_query(f"n{i}.example.com", "A"))
            assert [r.to_text() for rrset in reply.answer for r in rrset] == ["192.0.2.1"]
        assert min(per_worker(server, "trio_dns_worker_queries_total")) > 0
    finally:
        done.set()
        thread.join(5)
        upstream.close()
    assert len(seen) >= 40
    assert len(set(seen)) == len(seen)
    assert len({query_id for _, query_id in seen}) > len(seen) - 3  # 16 bits each


def test_the_supervisors_metrics_endpoint_counts_its_own_troubles(serve: Serve) -> None:
    server = serve("--workers", "2")
    assert server.metrics_address is not None
    idle = [socket.create_connection(server.metrics_address, timeout=TIMEOUT) for _ in range(8)]
    time.sleep(0.5)  # all eight accepted before the scrape comes as the ninth
    # A scraper beyond the endpoint's eight connections closes the oldest idle one.
    assert server.metric("trio_dns_metrics_connections_closed", reason="evicted") == 1
    for sock in idle:
        sock.close()
    server.assert_serving()


async def test_sigterm_while_the_workers_start_stops_at_once(tmp_path: Path) -> None:
    """A stop does not wait for a slow start (a large blocklist, say)."""
    plan, starts = _plan(tmp_path, "hang")
    supervisor = Supervisor(plan)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            outcome: list[int] = []

            async def run() -> None:
                outcome.append(await supervisor.run())

            nursery.start_soon(run)
            while not starts.exists():  # noqa: ASYNC110 (a file, nothing to wait on)
                await trio.sleep(0.05)
            os.kill(os.getpid(), signal.SIGTERM)  # caught by the supervisor's receiver
    assert outcome == [0]
    process = supervisor.workers[0].process
    assert process is not None and process.returncode == -signal.SIGKILL


def test_every_worker_gives_a_client_the_same_server_cookie(serve: Serve) -> None:
    """One service address, one server cookie (RFC 7873 section 6), whichever
    worker the kernel hands the query to."""
    server = serve("--workers", "2")
    client_cookie = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    server_cookies = set()
    for _ in range(40):
        query = make_query("www.hostile.test", options=[dns.edns.CookieOption(client_cookie, b"")])
        reply = server.udp(query)
        cookies = [o for o in reply.options if isinstance(o, dns.edns.CookieOption)]
        assert len(cookies) == 1 and cookies[0].client == client_cookie
        server_cookies.add(cookies[0].server)
    assert min(per_worker(server, "trio_dns_worker_queries_total")) > 0
    assert len(server_cookies) == 1 and len(server_cookies.pop()) == 8

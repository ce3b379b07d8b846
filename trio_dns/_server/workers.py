"""Every core: `trio-dns serve --workers N`, N processes sharing the listening ports.

Theory of operation: a Trio program runs on one core, so to use more the server
runs as several processes, as Knot Resolver does: each worker is a whole
`trio-dns serve` (its own Trio loop, resolver, caches and server) whose UDP and
TCP sockets are bound with SO_REUSEPORT, so the kernel spreads datagrams and
connections over them by a hash of the client's address and port. Nothing is
shared between workers but the ports and the DNS cookie secret (a client sees
one server): no lock, no shared cache, no hand-off.

The parent is a supervisor and serves no DNS. It starts each worker with
`sys.executable -m trio_dns serve ... --worker-of FD` (a fresh interpreter,
never a fork of a running Trio loop, so each worker's unpredictable numbers are
its own), FD being its end of a socket pair. Over that pair the parent says
which addresses to bind (the first worker gets the configured ones; if a port
was 0 the rest, and every restart, get the port it was given) and the worker
says when it is serving; afterwards the parent asks it for its metrics. The
pair also ties the worker to the parent: when the parent dies, the worker reads
the end of the channel and shuts down. A worker that dies is started again after
a back-off that doubles from `INITIAL_BACKOFF` to `MAX_BACKOFF` (reset once a
worker has lived `STABLE_AFTER` seconds; one started again reads the
configuration as it is then). SIGTERM and SIGINT are forwarded to every worker
as SIGTERM, and the parent exits once they have drained (each its own grace
period; during the start, at once); SIGHUP is forwarded as it is to the workers
that serve, for each to reload (one still starting would die of it).

Metrics are served once, by the parent: when scraped, it asks every worker for
its metrics text over its channel, then sums each sample across workers, so the
names and labels are those of a single process and dashboards need not change
with --workers. A worker that does not answer a scrape counts with the numbers
it last sent, and the counters of one that died are kept at those values, so
that no sum goes down (Prometheus would take that for a reset of the whole). The families named `trio_dns_worker_*` are not
summed but labelled by worker (queries, TCP queries, in flight, TCP open, and
each worker's CPU and memory), and the parent adds whether each worker is up,
its PID and its restarts. Asking at scrape time keeps the numbers exact and
costs nothing between scrapes, and needs no port or socket file per worker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import trio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from .._address import Address, format_address
from .._errors import DNSError
from .control import ERROR, OK, Control, SocketInUse
from .metrics import metrics_registry, serve_metrics
from .server import Server
from .systemd import notify

log = logging.getLogger("trio_dns.workers")

WORKER_PREFIX = "trio_dns_worker_"  # families labelled by worker, not summed
INITIAL_BACKOFF = 0.5  # seconds before the first restart of a worker that died
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0  # a worker that lived this long starts its back-off afresh
SCRAPE_TIMEOUT = 2.0  # seconds a worker has to send its metrics
CONTROL_TIMEOUT = 60.0  # seconds a worker has to answer a control command (dump-cache)
_MAX_MESSAGE = 1 << 28  # octets of one message on a channel (a whole cache dump)
# Monotonic sample types: their values from a dead worker are carried on.
_MONOTONIC = frozenset({"counter", "histogram", "summary"})
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


def cpu_count() -> int:
    """The CPUs this process may run on (`--workers auto`): taskset's too."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _Channel:
    """Newline-delimited JSON objects over a socket pair between parent and worker.
    Both ends are our own code; the size bound is against a bug, not a peer."""

    def __init__(self, sock: socket.socket) -> None:
        self._stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
        self._buffer = bytearray()

    async def send(self, message: Mapping[str, Any]) -> None:
        await self._stream.send_all(json.dumps(message).encode() + b"\n")

    async def receive(self) -> dict[str, Any] | None:
        """The next message; None once the other end has closed."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                message = json.loads(line)
                if not isinstance(message, dict):
                    raise ValueError("a channel message is a JSON object")
                return message
            if len(self._buffer) > _MAX_MESSAGE:
                raise ValueError("a channel message is too long")
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                return None
            self._buffer += chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


_CHANNEL_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ValueError)


# -- the worker's side ----------------------------------------------------------------


class _WorkerCollector(Collector):
    """This worker's own numbers, which the parent labels with its index."""

    def __init__(self, server: Server) -> None:
        self._server = server

    def collect(self) -> Iterable[Metric]:
        server = self._server
        yield CounterMetricFamily(
            WORKER_PREFIX + "queries",
            "Queries from allowed clients, by the worker the kernel gave them to.",
            value=server.stats.queries,
        )
        yield CounterMetricFamily(
            WORKER_PREFIX + "tcp_queries",
            "Queries over TCP, by worker.",
            value=server.stats.tcp_queries,
        )
        yield GaugeMetricFamily(
            WORKER_PREFIX + "in_flight",
            "Resolutions running now, by worker.",
            value=server.in_flight,
        )
        yield GaugeMetricFamily(
            WORKER_PREFIX + "tcp_open",
            "TCP connections open now, by worker.",
            value=server.tcp_open,
        )


def worker_registry(server: Server) -> CollectorRegistry:
    """What a worker reports: the server's metrics, its own, and its process's
    (as trio_dns_worker_process_*: per worker, since CPU and memory are a process's)."""
    registry = metrics_registry(server, process=False)
    registry.register(_WorkerCollector(server))
    ProcessCollector(namespace=WORKER_PREFIX.rstrip("_"), registry=registry)
    return registry


@attrs.define(eq=False)
class WorkerLink:
    """A worker's end of the channel to its supervisor."""

    index: int
    listen: tuple[Address, ...]  # where to bind, as the supervisor said
    cookie_secret: bytes  # the same in every worker: one server, as clients see it
    _channel: _Channel

    @classmethod
    async def open(cls, fd: int) -> WorkerLink:
        """Take over the inherited socket `fd` and read the supervisor's hello."""
        hello = None
        try:
            channel = _Channel(socket.socket(fileno=fd))
            hello = await channel.receive()
        except _CHANNEL_ERRORS:
            pass
        if hello is None or not {"index", "listen", "cookie_secret"} <= hello.keys():
            raise DNSError("no word from the supervisor: run `trio-dns serve --workers N`")
        listen = tuple((str(host), int(port)) for host, port in hello["listen"])
        secret = bytes.fromhex(hello["cookie_secret"])
        return cls(int(hello["index"]), listen, secret, channel)

    async def ready(self, bound: Sequence[Address]) -> None:
        """Tell the supervisor this worker is serving, and on which addresses."""
        await self._channel.send({"ready": [list(address) for address in bound]})

    async def serve(
        self,
        server: Server,
        stop: trio.CancelScope,
        reload: Callable[[], Sequence[str]] | None = None,
        describe: Callable[[], Sequence[str]] = lambda: (),
    ) -> None:
        """Answer the supervisor's requests (metrics, and the control commands it
        relays, with `reload` and `describe` as a control socket would); once it
        is gone, cancel `stop` (which shuts this worker down: nothing would
        restart or scrape it any more)."""
        registry = worker_registry(server)
        control = Control(server, reload, describe)
        try:
            while (request := await self._channel.receive()) is not None:
                reply: dict[str, Any] = {"id": request.get("id")}
                if request.get("metrics"):
                    reply["metrics"] = generate_latest(registry).decode()
                elif isinstance(request.get("control"), str):
                    reply["lines"] = await control.respond(request["control"])
                else:
                    reply["error"] = "unknown request"
                await self._channel.send(reply)
        except _CHANNEL_ERRORS as exc:
            log.debug("channel to the supervisor failed: %r", exc)
        log.warning("worker %d: the supervisor is gone; shutting down", self.index)
        stop.cancel()


# -- the supervisor's side ------------------------------------------------------------


@attrs.frozen
class WorkerPlan:
    """What the supervisor runs."""

    command: tuple[str, ...]  # one worker's command line; `--worker-of FD` is added
    count: int
    listen: tuple[Address, ...]
    metrics: Address | None = None
    control: Path | None = None  # the control socket, relayed to every worker
    control_configured: bool = False  # else a default, left to a server already on it
    stop_timeout: float = 30.0  # seconds from SIGTERM until a worker is killed


@attrs.define(eq=False)
class _Worker:
    index: int
    process: trio.Process | None = None
    channel: _Channel | None = None
    lock: trio.Lock = attrs.Factory(trio.Lock)
    up: bool = False  # said it was serving, and has not died since
    answered: bool = False  # sent its metrics at the last scrape
    restarts: int = 0
    families: list[Metric] = attrs.Factory(list)  # from the last scrape
    requests: int = 0

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


class _WorkerFailed(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def describe_status(status: int) -> str:
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


def merge_metrics(
    parts: Sequence[tuple[int, Sequence[Metric]]],
    retired: Mapping[str, Mapping[SampleKey, float]] | None = None,
) -> list[Metric]:
    """One set of families from each worker's (index, families): samples summed
    across workers (plus `retired`, the counters of dead workers, by family),
    except `trio_dns_worker_*` families, whose samples get a `worker` label."""
    retired = retired or {}
    out: dict[str, Metric] = {}
    sums: dict[str, dict[SampleKey, float]] = {}
    for index, families in parts:
        for family in families:
            merged = out.get(family.name)
            if merged is None:
                merged = out[family.name] = Metric(family.name, family.documentation, family.type)
                sums[family.name] = {}
            if family.name.startswith(WORKER_PREFIX):
                for sample in family.samples:
                    labels = {**sample.labels, "worker": str(index)}
                    merged.add_sample(sample.name, labels, sample.value)
                continue
            totals = sums[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                totals[key] = totals.get(key, 0.0) + sample.value
    for name, totals in sums.items():
        for key, value in retired.get(name, {}).items():
            totals[key] = totals.get(key, 0.0) + value
        for (sample_name, pairs), value in totals.items():
            out[name].add_sample(sample_name, dict(pairs), value)
    return list(out.values())


class _SupervisorCollector(Collector):
    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterable[Metric]:
        supervisor = self._supervisor
        workers = supervisor.workers
        # A worker too slow for this scrape, or dead and not yet noticed, counts with
        # its last numbers: a total that dipped would look like a counter reset.
        parts = [(w.index, w.families) for w in workers if w.families]
        carried = dict(supervisor.retired)
        name = "trio_dns_metrics_connections_closed"
        own: dict[SampleKey, float] = {
            (name + "_total", (("reason", reason),)): float(count)
            for reason, count in supervisor.metrics_closed.items()
        }
        for key, value in carried.get(name, {}).items():
            own[key] = own.get(key, 0.0) + value
        carried[name] = own
        yield from merge_metrics(parts, carried)
        yield GaugeMetricFamily(
            "trio_dns_workers", "Worker processes configured (--workers).", value=len(workers)
        )
        up = GaugeMetricFamily(
            WORKER_PREFIX + "up",
            "1 if the worker sent its metrics for this scrape; 0 if it is starting, "
            "restarting after it died, or too slow to answer.",
            labels=["worker"],
        )
        pid = GaugeMetricFamily(
            WORKER_PREFIX + "pid",
            "The worker's process ID (it changes on restart).",
            labels=["worker"],
        )
        restarts = CounterMetricFamily(
            WORKER_PREFIX + "restarts",
            "Times the worker died and was started again.",
            labels=["worker"],
        )
        for worker in workers:
            label = [str(worker.index)]
            up.add_metric(label, 1 if worker.answered else 0)
            if worker.pid is not None:
                pid.add_metric(label, worker.pid)
            restarts.add_metric(label, worker.restarts)
        yield from (up, pid, restarts)


@attrs.define(eq=False)
class Supervisor:
    """Runs `plan.count` workers and keeps them running until SIGTERM."""

    plan: WorkerPlan
    announce: Callable[[str], None] = print  # one line for the operator
    workers: list[_Worker] = attrs.field(init=False)
    bound: tuple[Address, ...] = attrs.field(init=False, default=())
    # The last scraped counters of workers that died, by family.
    retired: dict[str, dict[SampleKey, float]] = attrs.field(init=False, factory=dict)
    # Connections to the supervisor's metrics endpoint that ended badly, by reason:
    # the workers' trio_dns_metrics_connections_closed is about no endpoint of theirs.
    metrics_closed: dict[str, int] = attrs.field(init=False, factory=dict)
    # For every worker's DNS cookies, so that a client's server cookie does not
    # change with the worker its query happens to reach (RFC 7873 section 6).
    cookie_secret: bytes = attrs.field(init=False, factory=lambda: secrets.token_bytes(16))
    _stopping: trio.Event = attrs.field(init=False, factory=trio.Event)

    def __attrs_post_init__(self) -> None:
        self.workers = [_Worker(index) for index in range(self.plan.count)]

    async def run(self) -> int:
        """Start the workers, serve metrics, forward signals; the exit status."""
        # Open before any worker starts, so that a signal is never fatal to the parent.
        with trio.open_signal_receiver(*_STOP_SIGNALS, signal.SIGHUP) as signals:
            async with trio.open_nursery() as nursery:
                if await self._start_all(nursery, signals):
                    async with trio.open_nursery() as endpoints:
                        await self._serve_endpoints(endpoints)
                        # Ready for systemd once every worker serves. The supervisor
                        # keeps its privileges (a worker it starts again binds the
                        # ports again); each worker gives up its own with --user.
                        notify("READY=1")
                        await self._until_stopped(signals)
                        notify("STOPPING=1")
                        endpoints.cancel_scope.cancel()
                status = await self._stop()
                nursery.cancel_scope.cancel()
        return status

    async def _start_all(self, nursery: trio.Nursery, signals: AsyncIterator[int]) -> bool:
        """Start every worker, with its keeper in `nursery`; False if a stop signal
        came first (a worker still starting is then killed: it served nothing)."""
        serving = False

        async def start(race: trio.CancelScope) -> None:
            nonlocal serving
            self.bound = await nursery.start(self._keep, self.workers[0], self.plan.listen)
            async with trio.open_nursery() as starting:
                for worker in self.workers[1:]:
                    starting.start_soon(nursery.start, self._keep, worker, self.bound)
            serving = True
            race.cancel()

        async def watch(race: trio.CancelScope) -> None:
            async for signum in signals:
                if signum in _STOP_SIGNALS:
                    log.info("%s while starting: stopping", signal.Signals(signum).name)
                    race.cancel()
                    return
                self._signal_all(signum, serving_only=True)

        async with trio.open_nursery() as race:
            race.start_soon(start, race.cancel_scope)
            race.start_soon(watch, race.cancel_scope)
        if serving:
            pids = ", ".join(str(worker.pid) for worker in self.workers)
            self.announce(f"{len(self.workers)} workers (pids {pids})")
            self.announce("serving on " + ", ".join(format_address(a) for a in self.bound))
        return serving

    async def _serve_endpoints(self, endpoints: trio.Nursery) -> None:
        """The metrics endpoint and the control socket, if configured, in `endpoints`."""
        if self.plan.metrics is not None:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_SupervisorCollector(self))
            ProcessCollector(registry=registry)
            address = await endpoints.start(
                serve_metrics, registry, self.plan.metrics, self.scrape, self.metrics_closed
            )
            self.announce(f"metrics on http://{format_address(address)}/metrics")
        if self.plan.control is not None:
            where = await self._start_control(endpoints, self.plan.control)
            if where is not None:
                self.announce(f"control socket {where}")

    async def _until_stopped(self, signals: AsyncIterator[int]) -> None:
        """Pass SIGHUP on, until SIGTERM or SIGINT."""
        async for signum in signals:
            if signum in _STOP_SIGNALS:
                log.info("%s: stopping the workers", signal.Signals(signum).name)
                return
            log.info("SIGHUP: passed on to every worker")
            self._signal_all(signum, serving_only=True)

    def _signal_all(self, signum: int, *, serving_only: bool = False) -> None:
        """Signal every worker's process (only those that serve, if asked: one
        still starting may not handle the signal yet, and SIGHUP would end it)."""
        for worker in self.workers:
            if worker.process is not None and worker.running() and (worker.up or not serving_only):
                worker.process.send_signal(signum)

    async def _stop(self) -> int:
        """SIGTERM to every worker, and wait for them to drain; 0 if all did."""
        self._stopping.set()
        processes = [w.process for w in self.workers if w.process is not None and w.running()]
        self._signal_all(signal.SIGTERM)
        with trio.move_on_after(self.plan.stop_timeout):
            for process in processes:
                await process.wait()
        clean = True
        for process in processes:
            if process.returncode is None:
                log.error("worker pid %d did not stop in time: killed", process.pid)
                process.kill()
                await process.wait()
                clean = False
            # SIGTERM itself: a worker that was still starting, before its handler.
            elif process.returncode not in (0, -signal.SIGTERM):
                log.error("worker pid %d %s", process.pid, describe_status(process.returncode))
                clean = False
        return 0 if clean else 1

    async def _keep(
        self,
        worker: _Worker,
        listen: tuple[Address, ...],
        *,
        task_status: trio.TaskStatus[tuple[Address, ...]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start `worker`, report where it serves, and start it again each time it dies."""
        delay = INITIAL_BACKOFF
        serving = False
        try:
            while True:
                began = trio.current_time()
                try:
                    bound = await self._start(worker, listen)
                except _WorkerFailed as exc:
                    if not serving:
                        raise DNSError(
                            f"worker {worker.index} {describe_status(exc.status)} before serving"
                        ) from None
                    status = exc.status
                else:
                    if not serving:
                        task_status.started(bound)
                        serving = True
                        listen = bound  # the ports it got, for its restarts
                    assert worker.process is not None
                    status = await worker.process.wait()
                await self._forget(worker)
                if self._stopping.is_set():
                    return
                if trio.current_time() - began >= STABLE_AFTER:
                    delay = INITIAL_BACKOFF
                log.warning(
                    "worker %d (pid %s) %s; starting it again in %.1f s",
                    worker.index,
                    worker.pid,
                    describe_status(status),
                    delay,
                )
                with trio.move_on_after(delay):
                    await self._stopping.wait()
                if self._stopping.is_set():
                    return
                delay = min(delay * 2, MAX_BACKOFF)
                worker.restarts += 1
        finally:
            # Cancelled (the supervisor failed): no worker outlives it.
            with trio.CancelScope(shield=True):
                if worker.process is not None and worker.running():
                    worker.process.kill()
                    await worker.process.wait()
                await self._forget(worker)

    async def _start(self, worker: _Worker, listen: tuple[Address, ...]) -> tuple[Address, ...]:
        """Start the worker's process; where it serves, once it says it does."""
        ours, theirs = socket.socketpair()
        try:
            command = [*self.plan.command, "--worker-of", str(theirs.fileno())]
            worker.process = await trio.lowlevel.open_process(
                command, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),)
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        channel = worker.channel = _Channel(ours)
        log.info("worker %d started: pid %d", worker.index, worker.process.pid)
        hello = {
            "index": worker.index,
            "listen": [list(address) for address in listen],
            "cookie_secret": self.cookie_secret.hex(),
        }
        try:
            await channel.send(hello)
            ready = await channel.receive()
        except _CHANNEL_ERRORS:
            ready = None
        if ready is None or not isinstance(ready.get("ready"), list):
            status = await worker.process.wait()
            await self._forget(worker)
            raise _WorkerFailed(status)
        worker.up = True
        return tuple((str(host), int(port)) for host, port in ready["ready"])

    async def _forget(self, worker: _Worker) -> None:
        """The worker has died: keep its counters, close its channel."""
        worker.up = worker.answered = False
        for family in worker.families:
            if family.type in _MONOTONIC and not family.name.startswith(WORKER_PREFIX):
                kept = self.retired.setdefault(family.name, {})
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    kept[key] = kept.get(key, 0.0) + sample.value
        worker.families = []
        if worker.channel is not None:
            channel, worker.channel = worker.channel, None
            with trio.CancelScope(shield=True):
                await channel.aclose()

    async def scrape(self) -> None:
        """Ask every worker for its metrics, at once (before a scrape is answered)."""
        async with trio.open_nursery() as nursery:
            for worker in self.workers:
                nursery.start_soon(self._scrape_one, worker)

    async def _request(self, worker: _Worker, message: Mapping[str, Any]) -> dict[str, Any] | None:
        """Ask `worker`; its reply, or None if it is not up (or goes)."""
        channel = worker.channel
        if channel is None or not worker.up:
            return None
        async with worker.lock:
            worker.requests += 1
            request = worker.requests
            try:
                await channel.send({**message, "id": request})
                while (reply := await channel.receive()) is not None:
                    # Replies to requests given up on may come first: skip them.
                    if reply.get("id") == request:
                        return reply
            except _CHANNEL_ERRORS as exc:
                log.debug("worker %d: no reply: %r", worker.index, exc)
        return None

    async def _scrape_one(self, worker: _Worker) -> None:
        worker.answered = False
        reply = None
        with trio.move_on_after(SCRAPE_TIMEOUT):
            reply = await self._request(worker, {"metrics": True})
        text = None if reply is None else reply.get("metrics")
        if isinstance(text, str) and worker.up:
            try:
                worker.families = list(text_string_to_metric_families(text))
            except ValueError as exc:  # a bug, but one that must not end the endpoint
                log.error("worker %d sent metrics that do not parse: %s", worker.index, exc)
                return
            worker.answered = True

    # -- the control socket: every command to every worker --------------------------

    async def _start_control(self, nursery: trio.Nursery, path: Path) -> Path | None:
        # No server of its own: Control reads one only in `respond`, which relays.
        control = _RelayedControl(cast(Server, None), supervisor=self)
        try:
            where: Path = await nursery.start(control.serve, path)
        except SocketInUse as exc:
            if self.plan.control_configured:
                raise
            log.warning("%s; this one has no control socket", exc)
            return None
        return where

    async def relay(self, line: str) -> list[str]:
        """The reply to a control command, asked of every worker at once: each
        one's lines under a `; worker N` heading (a comment, in dump-cache's zone
        file text), or for `stats` the samples summed; ok if every worker said ok."""
        replies: dict[int, list[str] | None] = {}

        async def ask(worker: _Worker) -> None:
            reply = None
            with trio.move_on_after(CONTROL_TIMEOUT):
                reply = await self._request(worker, {"control": line})
            lines = None if reply is None else reply.get("lines")
            ok = isinstance(lines, list) and all(isinstance(x, str) for x in lines) and lines
            replies[worker.index] = lines if ok else None

        async with trio.open_nursery() as nursery:
            for worker in self.workers:
                nursery.start_soon(ask, worker)
        words = line.split()
        command = words[0].lower() if words else ""
        answered = {index: lines for index, lines in replies.items() if lines is not None}
        statuses = {lines[-1] for lines in answered.values()}
        if (
            len(statuses) == 1
            and OK not in statuses
            and not any(len(lines) > 1 for lines in answered.values())
        ):
            return [statuses.pop()]  # the same complaint from every worker: a bad request
        out: list[str] = []
        if command == "status":
            out += [f"supervisor pid: {os.getpid()}", f"workers: {len(self.workers)}"]
            for worker in self.workers:
                state = "serving" if worker.up else "starting"
                out.append(
                    f"worker {worker.index}: pid {worker.pid}, {state}, {worker.restarts} restarts"
                )
        error = None
        totals: dict[str, float] = {}
        for worker in self.workers:
            lines = replies[worker.index]
            if lines is None:
                out.append(f"; worker {worker.index}: not answering (starting, or restarting)")
                continue
            *body, status = lines
            if status != OK and error is None:
                error = f"{status} (worker {worker.index})"
            if command == "stats" and status == OK:
                for entry in body:
                    key, _, value = entry.rpartition(" ")
                    with contextlib.suppress(ValueError):
                        totals[key] = totals.get(key, 0.0) + float(value)
                continue
            out.append(f"; worker {worker.index} (pid {worker.pid})")
            out += body
        for key, total in totals.items():
            out.append(f"{key} {int(total)}" if total.is_integer() else f"{key} {total:g}")
        if not answered:
            error = ERROR + "no worker is answering"
        return [*out, error or OK]


@attrs.define(eq=False)
class _RelayedControl(Control):
    """The supervisor's control socket: Control's socket handling, with every
    command relayed to the workers (which own the caches and settings)."""

    supervisor: Supervisor | None = attrs.field(default=None, kw_only=True)

    async def respond(self, line: str) -> list[str]:
        assert self.supervisor is not None
        return await self.supervisor.relay(line)


async def supervise(plan: WorkerPlan, announce: Callable[[str], None]) -> int:
    """Run `plan` until SIGTERM or SIGINT; the exit status."""
    return await Supervisor(plan, announce).run()

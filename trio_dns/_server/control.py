"""The control socket: `trio-dns control COMMAND` talking to a running server.

Theory of operation: the server listens on a Unix socket (never a network port),
made owner-only (0600, in a directory no one else can write to), so that who may
flush or reload is whoever may open the file. The protocol is one line each way
and then some: the client sends one request line (`flush www.example.com A`),
the server writes the reply's lines and a last status line, `ok` or
`error: why`, and closes. The client prints the lines, and the status decides
its exit code; a reply cut short (no status line) is an error too.

Each connection is an error boundary, as the DNS server's are: a client that
sends garbage gets an error line; one that stalls, sends a line longer than
`MAX_REQUEST` or does not read its reply is closed when its deadline passes;
a reset costs its own connection. At most `MAX_CONNECTIONS` are served at
once, and one more closes the oldest, so stalled clients cannot lock the
operator out. A bug met while answering a command becomes an error reply and
one log line, never the server's end.

The commands (`COMMANDS`) are Unbound's `unbound-control` ones, small: status,
stats (the metrics' samples as text), flush NAME [TYPE], flush-zone NAME,
flush-all, flush-infra [ADDR], dump-cache (zone-file text, remaining TTLs),
lookup NAME (the servers that would be asked) and reload, which the process
that assembled the server provides (`Control.reload`): this layer knows
nothing of configuration files.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import socket
import stat
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import attrs
import trio

from .. import __version__
from .._address import format_address, normalize_address
from .._decisions.cache import CachedRRset, NegativeEntry
from .._errors import DNSError, InvalidName, UnknownType
from .._trust import NegativeKind
from .._wire.enums import RRType
from .._wire.name import Name
from .._wire.rdtypes.address import AAAA, A
from .._wire.rdtypes.single_name import NS
from .server import Server, caused_by_peer, first_error

log = logging.getLogger("trio_dns.control")

MAX_REQUEST = 4096  # octets of request line read before giving up on the client
REQUEST_TIMEOUT = 5.0  # seconds a client gets to send its request line
SEND_TIMEOUT = 5.0  # seconds for each chunk of the reply to be taken by the client
MAX_CONNECTIONS = 8  # clients at once; one more closes the oldest
_CHUNK = 65536
_BACKLOG = 16
_DUMP_BATCH = 1000  # cache entries written between checkpoints

OK = "ok"
ERROR = "error: "


class ControlError(DNSError):
    """A command that cannot be done as asked; the message is the reply's one line."""


def default_control_socket() -> Path:
    """Where the control socket goes unless configured: /run/trio-dns for root,
    else the user's runtime directory, else a directory of the user's own in the
    temporary directory."""
    if os.geteuid() == 0:
        return Path("/run/trio-dns/control.sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "trio-dns" / "control.sock"
    return Path(tempfile.gettempdir()) / f"trio-dns-{os.geteuid()}" / "control.sock"


def _check_directory(directory: Path) -> None:
    """Make `directory` (0700) if it is missing; refuse one that someone else could
    use to put a socket of theirs in our place."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        raise DNSError(f"control socket directory {directory}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise DNSError(f"control socket directory {directory} is not a directory")
    if info.st_uid not in (os.geteuid(), 0):
        raise DNSError(f"control socket directory {directory} belongs to another user")
    open_to_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if open_to_others and not info.st_mode & stat.S_ISVTX:
        raise DNSError(
            f"control socket directory {directory} is writable by others; "
            "use a directory only its owner can write to"
        )


def _in_use(path: Path) -> bool:
    """Whether a server answers on the socket at `path` (False for a stale one)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


class SocketInUse(DNSError):
    """Another server listens on this control socket."""


def bind_control_socket(path: Path) -> socket.socket:
    """A listening Unix socket at `path`, 0600; a stale socket file left by a
    server that died is replaced, one in use is not (`SocketInUse`)."""
    _check_directory(path.parent)
    try:
        info = path.lstat()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DNSError(f"control socket {path}: {exc.strerror or exc}") from None
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise DNSError(f"control socket {path}: a file that is not a socket is there")
        if _in_use(path):
            raise SocketInUse(f"control socket {path} is in use by another server")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # The umask makes the socket owner-only from its first instant; chmod makes
    # sure of it whatever the umask did.
    old_mask = os.umask(0o177)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        raise DNSError(f"cannot listen on control socket {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old_mask)
    sock.setblocking(False)
    return sock


# -- the commands ---------------------------------------------------------------------


def _name(text: str) -> Name:
    try:
        return Name.from_text(text)
    except InvalidName as exc:
        raise ControlError(f"invalid name {text!r}: {exc}") from None


def _type(text: str) -> RRType:
    try:
        return RRType.from_text(text)
    except UnknownType:
        raise ControlError(f"unknown type {text!r}") from None


def _address(text: str, port: int) -> tuple[str, int]:
    try:
        return normalize_address(text, port)
    except ValueError:
        raise ControlError(f"invalid address {text!r}") from None


def _entry_lines(entry: CachedRRset | NegativeEntry) -> list[str]:
    if isinstance(entry, CachedRRset):
        return [record.to_text() for record in (*entry.records, *entry.rrsigs)]
    what = "NXDOMAIN" if entry.kind is NegativeKind.NXDOMAIN else "NODATA"
    rtype = "" if entry.rtype is None else f" {entry.rtype.name}"
    line = f"; {what} {entry.name}{rtype} {entry.ttl}"
    if entry.soa is not None:
        line += f" (SOA {entry.soa.name})"
    return [line]


@attrs.define(eq=False)
class Control:
    """What the control socket's commands act on: `server` (and its resolver), and
    from whoever assembled them, `reload` (returns the reply's lines, or an
    awaitable of them, or raises a DNSError whose message says why nothing
    changed) and `describe` (the status lines only the assembler knows: config
    file, listeners, workers)."""

    server: Server
    reload: Callable[[], Sequence[str] | Awaitable[Sequence[str]]] | None = None
    describe: Callable[[], Sequence[str]] = lambda: ()
    started: float = attrs.Factory(time.monotonic)
    errors: int = 0  # connections that ended badly (peer errors, timeouts, bugs)

    @property
    def commands(self) -> dict[str, tuple[int, int, Callable[[list[str]], Awaitable[list[str]]]]]:
        """name: (least arguments, most arguments, handler)."""
        return {
            "status": (0, 0, self._status),
            "stats": (0, 0, self._stats),
            "flush": (1, 2, self._flush),
            "flush-zone": (1, 1, self._flush_zone),
            "flush-all": (0, 0, self._flush_all),
            "flush-infra": (0, 1, self._flush_infra),
            "dump-cache": (0, 0, self._dump_cache),
            "lookup": (1, 1, self._lookup),
            "reload": (0, 0, self._reload),
        }

    async def respond(self, line: str) -> list[str]:
        """The reply to one request line, its status line last."""
        words = line.split()
        if not words:
            return [ERROR + "empty request"]
        command, args = words[0].lower(), words[1:]
        known = self.commands
        if command not in known:
            return [ERROR + f"unknown command {command[:40]!r} (commands: {', '.join(known)})"]
        least, most, handler = known[command]
        if not least <= len(args) <= most:
            return [ERROR + f"{command}: wrong number of arguments"]
        try:
            lines = await handler(args)
        except DNSError as exc:
            return [ERROR + " ".join(str(exc).split())]
        except Exception as exc:
            # A bug: the command fails, not the server.
            log.error("internal error in control command %s: %r", command, exc)
            return [ERROR + f"internal error: {exc!r}"]
        return [*lines, OK]

    async def _status(self, args: list[str]) -> list[str]:
        uptime = time.monotonic() - self.started
        server = self.server
        return [
            f"version: {__version__}",
            f"pid: {os.getpid()}",
            f"uptime: {uptime:.0f} s",
            *self.describe(),
            f"queries: {server.stats.queries}",
            f"in flight: {server.in_flight}",
            f"tcp connections: {server.tcp_open}",
            f"cache entries: {len(server.resolver.cache)}",
        ]

    async def _stats(self, args: list[str]) -> list[str]:
        from .metrics import ServerCollector

        lines = []
        for family in ServerCollector(self.server).collect():
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                where = f"{{{labels}}}" if labels else ""
                value = sample.value
                shown = f"{int(value)}" if float(value).is_integer() else f"{value:g}"
                lines.append(f"{sample.name}{where} {shown}")
        return lines

    async def _flush(self, args: list[str]) -> list[str]:
        name = _name(args[0])
        rtype = _type(args[1]) if len(args) > 1 else None
        removed = self.server.resolver.flush_name(name, rtype)
        what = f"{name} {rtype.name}" if rtype is not None else str(name)
        return [f"flushed {what}: {removed} entries"]

    async def _flush_zone(self, args: list[str]) -> list[str]:
        zone = _name(args[0])
        removed = self.server.resolver.flush_zone(zone)
        return [f"flushed {zone} and below: {removed} entries"]

    async def _flush_all(self, args: list[str]) -> list[str]:
        count = self.server.resolver.flush_all()
        return [f"flushed the cache: {count} entries"]

    async def _flush_infra(self, args: list[str]) -> list[str]:
        resolver = self.server.resolver
        if not args or args[0] == "all":
            removed = resolver.flush_infra()
            return [f"forgot every server: {removed} entries"]
        address = _address(args[0], resolver.settings.port)
        removed = resolver.flush_infra(address)
        return [f"forgot {format_address(address)}: {removed} entries"]

    async def _dump_cache(self, args: list[str]) -> list[str]:
        resolver = self.server.resolver
        entries = resolver.cache.dump(resolver.now())
        lines = [f"; {len(entries)} cache entries, remaining TTLs"]
        for index, entry in enumerate(entries):
            lines += _entry_lines(entry)
            if index % _DUMP_BATCH == _DUMP_BATCH - 1:
                await trio.lowlevel.checkpoint()  # a big cache must not stall the queries
        return lines

    async def _lookup(self, args: list[str]) -> list[str]:
        name = _name(args[0])
        resolver = self.server.resolver
        # A transparent zone (inline local_data) answers only the names it holds,
        # and lets the rest be resolved: it does not settle who is asked.
        zones = [
            zone.origin
            for zone in resolver.local_zones
            if name.is_subdomain(zone.origin) and not zone.transparent
        ]
        if zones:
            deepest = max(zones, key=len)
            return [f"{name} is in the local zone {deepest}: answered here, no server asked"]
        now = trio.current_time()
        forwarded = resolver.upstreams_for(name)
        if forwarded is not None:
            zone, upstreams = forwarded
            lines = [f"{name} is forwarded (zone {zone}); upstream resolvers:"]
            lines += [f"  {self._server_line(address, zone, now)}" for address in upstreams]
            return lines
        ns, glue = resolver.referral(name)
        if not ns:
            return [f"no zone cut known above {name}"]
        zone = ns[0].name
        hints = ns == resolver.root_ns
        source = "root hints" if hints else f"cached, TTL {ns[0].ttl}"
        lines = [f"{name}: closest zone cut {zone} ({source}), {len(ns)} nameservers:"]
        port = resolver.settings.port
        for record in ns:
            if not isinstance(record.rdata, NS):
                continue
            target = record.rdata.target
            addresses = [
                (r.rdata.address, port)
                for r in glue
                if r.name == target and isinstance(r.rdata, A | AAAA)
            ]
            if not addresses:
                lines.append(f"  {target} (no address known)")
                continue
            for index, address in enumerate(addresses):
                shown = str(target) if index == 0 else " " * len(str(target))
                lines.append(f"  {shown} {self._server_line(address, zone, now)}")
        return lines

    def _server_line(self, address: tuple[str, int], zone: Name, now: float) -> str:
        resolver = self.server.resolver
        info = resolver.servers.known(address)
        no_edns, no_caps = resolver.server_memory(address)
        states = []
        if info is None or not info.tried:
            rtt = "rtt -"
            states.append("never tried")
        else:
            rtt = f"rtt {info.srtt * 1000:.0f} ms"
            if info.held_until > now:
                states.append(f"held down for {info.held_until - now:.0f} s")
            elif info.failures:
                states.append(f"{info.failures} failures in a row")
            else:
                states.append("ok")
        if info is not None and zone.canonical_wire() in info.lame_zones:
            states.append(f"lame for {zone}")
        if no_edns:
            states.append("no EDNS")
        if no_caps:
            states.append("no 0x20")
        return f"{format_address(address)} {rtt} {', '.join(states)}"

    async def _reload(self, args: list[str]) -> list[str]:
        if self.reload is None:
            raise ControlError("this server has no configuration to reload")
        result = self.reload()
        if inspect.isawaitable(result):
            result = await result
        return list(result)

    # -- the socket ----------------------------------------------------------------

    async def serve(
        self, path: Path, *, task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on the Unix socket `path` until cancelled; the socket file is
        removed at the end (if it is still ours)."""
        sock = bind_control_socket(path)
        ours = os.stat(path).st_ino
        listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
        open_scopes: list[trio.CancelScope] = []
        try:
            task_status.started(path)
            log.debug("control socket on %s", path)
            async with listener, trio.open_nursery() as nursery:
                while True:
                    try:
                        stream = await listener.accept()
                    except OSError as exc:  # out of file descriptors: wait a little
                        log.debug("control accept failed: %s", exc)
                        await trio.sleep(0.1)
                        continue
                    if len(open_scopes) >= MAX_CONNECTIONS:
                        open_scopes.pop(0).cancel()
                        self.errors += 1
                    scope = trio.CancelScope()
                    open_scopes.append(scope)
                    nursery.start_soon(self._connection, stream, scope, open_scopes)
        finally:
            with contextlib.suppress(OSError):
                if os.stat(path).st_ino == ours:
                    os.unlink(path)

    async def _connection(
        self,
        stream: trio.SocketStream,
        scope: trio.CancelScope,
        open_scopes: list[trio.CancelScope],
    ) -> None:
        try:
            with scope:
                async with stream:
                    await self.converse(stream)
        except BaseException as exc:
            if not caused_by_peer(exc):
                raise
            self.errors += 1
            log.debug("control connection failed: %s", first_error(exc))
        finally:
            with contextlib.suppress(ValueError):
                open_scopes.remove(scope)

    async def converse(self, stream: trio.abc.Stream) -> None:
        """One request and its reply on `stream` (the caller closes it)."""
        line = None
        with trio.move_on_after(REQUEST_TIMEOUT) as reading:
            line = await _read_line_untrusted(stream)
        if reading.cancelled_caught:
            self.errors += 1
            log.debug("control client sent no request line in time: closed")
            return
        if line is None:
            return  # it closed without asking anything
        if isinstance(line, str):
            reply = await self.respond(line)
        else:
            reply = [ERROR + line.decode()]
        log.info("control: %s: %s", _shown(line), reply[-1])
        data = "".join(f"{text}\n" for text in reply).encode("utf-8", errors="replace")
        for start in range(0, len(data), _CHUNK):
            with trio.move_on_after(SEND_TIMEOUT) as sending:
                await stream.send_all(data[start : start + _CHUNK])
            if sending.cancelled_caught:
                self.errors += 1
                log.debug("control client does not read its reply: closed")
                return


def _shown(line: str | bytes) -> str:
    text = line if isinstance(line, str) else "(bad request)"
    return text[:80]


async def _read_line_untrusted(stream: trio.abc.ReceiveStream) -> str | bytes | None:
    """The request line as text; bytes saying what is wrong with it if it is not a
    line of UTF-8 within `MAX_REQUEST` octets; None if the client closed first."""
    buffer = bytearray()
    while b"\n" not in buffer:
        if len(buffer) > MAX_REQUEST:
            return b"request line too long"
        chunk = await stream.receive_some(MAX_REQUEST)
        if not chunk:
            if not buffer:
                return None
            break  # a last line without its newline is still a request
        buffer += chunk
    raw = bytes(buffer).split(b"\n", 1)[0]
    if len(raw) > MAX_REQUEST:
        return b"request line too long"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return b"request is not UTF-8 text"
    if not text.isprintable():
        return b"request has control characters"
    return text.rstrip("\r")


# -- the client -----------------------------------------------------------------------


async def request(path: Path, line: str) -> tuple[list[str], str | None]:
    """Send one request line to the server at `path`: the reply's lines, and None
    if it says ok, else its error. Raises DNSError if there is no server to ask,
    or its reply is cut short."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.connect(str(path))
    except FileNotFoundError:
        sock.close()
        raise DNSError(f"no control socket at {path} (is trio-dns serve running?)") from None
    except OSError as exc:
        sock.close()
        raise DNSError(f"cannot connect to {path}: {exc.strerror or exc}") from None
    stream = trio.SocketStream(sock)
    async with stream:
        try:
            await stream.send_all(line.encode() + b"\n")
            chunks = []
            while chunk := await stream.receive_some(_CHUNK):
                chunks.append(chunk)
        except (trio.BrokenResourceError, OSError) as exc:
            raise DNSError(f"the server closed the control connection: {exc}") from None
    lines = b"".join(chunks).decode("utf-8", errors="replace").splitlines()
    if not lines or not (lines[-1] == OK or lines[-1].startswith(ERROR)):
        raise DNSError("the server's reply was cut short")
    status = lines.pop()
    return lines, None if status == OK else status[len(ERROR) :]

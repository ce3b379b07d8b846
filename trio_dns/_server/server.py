"""The DNS server: UDP and TCP listeners in front of a `Resolver`.

Theory of operation: each UDP socket has one receive loop that waits until the
socket is readable and then drains it with non-blocking `recvfrom`, at most
`batch` datagrams before letting other tasks run, so one scheduler round trip is
paid per batch rather than per packet and a flood cannot starve anything else.
Every datagram is first checked against the access rules (`access.py`: the
client is allowed, REFUSED, or if denied dropped unanswered) and, over UDP,
against the client's rate limit (`ratelimit.py`: over it, dropped, or now and
then answered TC=1), then looked up in the `AnswerCache` of encoded replies
(`_answer_cache.py`): a hit is patched for this query and sent inline, with no
task and no parsing beyond the header and question. A miss takes the slow path: the full
`Message.from_wire`, the protocol checks (FORMERR, NOTIMP, BADVERS), and then
either a reply from the resolver's cache alone (RD=0) or a resolution task in
the server's nursery (RD=1), if fewer than `max_in_flight` are running; excess
queries are dropped and counted, never queued. A resolved reply is built from
the `Answer`, fitted to the client's payload size (TC=1 if it does not fit) and,
if it is a plain positive or negative answer, stored for the fast path.

TCP follows RFC 7766: an accept loop capped at `max_tcp_connections`, and per
connection a task that reads 2-octet-framed queries and answers each as soon as
it is ready (pipelined, out of order), with at most `max_tcp_queries` unanswered
at once (then it stops reading). Everything a TCP peer controls has a deadline:
each query must arrive whole within `tcp_idle_timeout` of the last, each reply
must be written within `tcp_send_timeout` (a peer that stops reading is closed),
and a connection is read for `tcp_lifetime` at most. When the cap is reached a
new connection closes the one that has been idle longest (nothing being resolved
or sent for it) instead of being turned away, so idle clients cannot lock out
new ones; only when every connection is busy is the newcomer refused.

Every task that serves one peer (a TCP connection, a query) is an error boundary:
what the peer can cause (a reset, a broken pipe: `BrokenResourceError`,
`ClosedResourceError`, `OSError`, or an exception group of only those) ends that
connection, is counted in `ServerStats.tcp_closed` and logged in one debug line.

Shutdown (`shutdown()`, or cancelling `serve`) stops the listeners and the TCP
readers, then gives queries in flight `grace_period` seconds to be answered;
those still unanswered then get SERVFAIL, not silence. Malformed packets and
failing upstreams are counted in `ServerStats` and logged at debug level at most;
a bug met while answering one query costs that query a SERVFAIL and one log line
(a traceback only at debug level), not the server.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import struct
from bisect import bisect_left
from collections.abc import Awaitable, Callable

import attrs
import trio

from .._address import Address, format_address
from .._decisions.access import AccessControl, Action
from .._decisions.answer import Answer, servfail
from .._decisions.ratelimit import TokenBuckets, slip
from .._decisions.stale import is_stale
from .._errors import DNSError, MalformedMessage
from .._network.resolver import Resolver
from .._trust import Validation
from .._wire.edns import Cookie, Edns, EdnsOption, GenericOption
from .._wire.enums import EdeCode, EdnsOptionCode, Flag, Opcode, Rcode, RRClass, RRType
from .._wire.message import Header, Message, Record
from .._wire.reader import WireReader
from .answer_cache import (
    MIN_UDP_PAYLOAD,
    TCP_LIMIT,
    AnswerCache,
    AnswerKey,
    peek_query_untrusted,
    question_end_untrusted,
)

log = logging.getLogger("trio_dns.server")
query_log = logging.getLogger("trio_dns.query")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_LISTEN: tuple[Address, ...] = (("127.0.0.1", 53), ("::1", 53))
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)

_HEADER = struct.Struct("!HHHHHH")
_RECV_SIZE = 4096  # a larger query is cut short by the kernel and then fails to parse
_SOCKET_BUFFER = 1 << 20  # room for a burst while the loop is busy
_TCP_BACKLOG = 128
_ALLOW_MEMO = 4096  # client addresses whose access decision is remembered
# Every reply of ours is a response from a server that recurses; RD and CD are the
# client's, copied back (RFC 1035 section 4.1.1, RFC 4035 section 3.2.2).
_RESPONSE_FLAGS = Flag.QR | Flag.RA
_COPIED_FLAGS = Flag.RD | Flag.CD

# Types no client may ask a recursive resolver for: REFUSED like Unbound.
_REFUSED_TYPES = frozenset({RRType.AXFR, RRType.IXFR})
_FORMERR_TYPES = frozenset({RRType.OPT, RRType.TSIG, RRType.TKEY})
# The last option of a query with our cookie: COOKIE, 16 octets (client and ours).
_COOKIE_OF_16 = b"\x00\x0a\x00\x10"


@attrs.frozen
class ServerSettings:
    listen: tuple[Address, ...] = DEFAULT_LISTEN
    allow: tuple[Network, ...] = LOOPBACK
    max_in_flight: int = 1000  # resolution tasks at once; excess queries are dropped
    max_tcp_connections: int = 128
    max_tcp_queries: int = 32  # unanswered queries per TCP connection before reading stops
    # Seconds for each whole query to arrive after the previous one (or the connection):
    # RFC 7766 section 6.2.3 asks for an idle timeout "on the order of seconds".
    tcp_idle_timeout: float = 10.0
    # Seconds to write one reply: bounds a peer that stops reading (Knot's tcp-io-timeout
    # plays this part). Long enough for 64 KiB on a slow link.
    tcp_send_timeout: float = 5.0
    # Seconds a connection is read at all, however busy (RFC 7766 section 10 suggests a
    # limit on a connection's duration); RFC 1035's two minutes of idling as the ceiling.
    tcp_lifetime: float = 120.0
    grace_period: float = 5.0  # for queries in flight at shutdown
    max_udp_payload: int = 1232  # the largest UDP reply sent, whatever the client offers
    answer_cache_entries: int = 10_000
    batch: int = 64  # datagrams handled per wakeup of a UDP loop
    query_log: bool = False  # one line per answered query to the "trio_dns.query" logger
    # SO_REUSEPORT on the UDP and TCP sockets: set in each of `--workers N`'s
    # processes, so that they share the ports and the kernel spreads the clients.
    reuse_port: bool = False
    # Rules ("10.0.0.0/8 deny"...) on top of `allow`; the most specific network wins.
    access_control: tuple[tuple[Network, Action], ...] = ()
    # UDP queries a second per client address (0: no limit; TCP and queries with our
    # DNS cookie are not counted: their source is proven); of those over it,
    # every `ip_ratelimit_slip`-th is answered TC=1 (so a real client retries over
    # TCP), the rest dropped; 0 drops them all.
    ip_ratelimit: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    ip_ratelimit_slip: int = attrs.field(default=2, validator=attrs.validators.ge(0))


# Upper bounds (seconds) of the resolution latency histogram's buckets.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0
)  # fmt: skip


@attrs.define
class Latency:
    """A histogram of seconds taken: a count per bucket (the last one unbounded)
    and the sum. Plain numbers, so observing costs a bisect and two additions;
    the metrics endpoint turns them into Prometheus's cumulative form."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = attrs.field(init=False)
    total: float = 0.0

    def __attrs_post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds


@attrs.define
class ServerStats:
    queries: int = 0  # every query from an allowed client, UDP and TCP
    tcp_queries: int = 0
    cache_only: int = 0  # RD=0 queries answered from the cache
    resolved: int = 0  # resolution tasks finished
    dropped_malformed: int = 0  # not even a header (or a response): no reply
    dropped_over_limit: int = 0  # max_in_flight reached
    refused: int = 0
    formerr: int = 0
    notimp: int = 0
    badvers: int = 0
    servfail: int = 0
    truncated: int = 0
    send_errors: int = 0
    tcp_connections: int = 0
    tcp_rejected: int = 0  # connections closed at once: the cap reached and none idle
    # TCP connections that ended other than by the client closing between queries, by
    # reason: see `CLOSE_REASONS`.
    tcp_closed: dict[str, int] = attrs.Factory(dict)
    # Connections to the metrics endpoint that ended badly, by reason ("peer_error",
    # "timeout", "evicted").
    metrics_closed: dict[str, int] = attrs.Factory(dict)
    internal_errors: int = 0  # bugs met while answering a query: SERVFAIL, one log line
    denied: int = 0  # queries dropped unanswered by an access_control deny rule
    ip_ratelimited: int = 0  # UDP queries over ip_ratelimit: dropped, or slipped...
    ip_ratelimit_slipped: int = 0  # ...answered TC=1 instead
    # Slow path only, by type number: queries whose question could be read.
    qtypes: dict[int, int] = attrs.Factory(dict)
    # Slow path only, by the header's rcode: replies sent, REFUSED to strangers included.
    rcodes: dict[int, int] = attrs.Factory(dict)
    # Fast path: replies by `qtype << 4 | rcode`, one increment per hit.
    fast_path_by: dict[int, int] = attrs.Factory(dict)
    # Seconds from a query's arrival to its reply, for queries that were resolved.
    latency: Latency = attrs.Factory(Latency)

    @property
    def fast_path(self) -> int:
        """Queries answered from the encoded-reply cache."""
        return sum(self.fast_path_by.values())

    def queries_by_type(self) -> dict[int, int]:
        """Queries whose question could be read, by type number, fast path included."""
        counts = dict(self.qtypes)
        for kind, count in self.fast_path_by.items():
            counts[kind >> 4] = counts.get(kind >> 4, 0) + count
        return counts

    def replies_by_rcode(self) -> dict[int, int]:
        """Replies sent, by the rcode in their header, fast path included."""
        counts = dict(self.rcodes)
        for kind, count in self.fast_path_by.items():
            counts[kind & 0x0F] = counts.get(kind & 0x0F, 0) + count
        return counts


# Why the server ended a TCP connection, as counted in `ServerStats.tcp_closed`.
CLOSE_REASONS: tuple[str, ...] = (
    "peer_error",  # a reset or broken pipe, reading or writing
    "mid_message",  # the client closed halfway through a query
    "idle",  # no whole query within tcp_idle_timeout
    "send_timeout",  # a reply not written within tcp_send_timeout: a peer not reading
    "lifetime",  # open for tcp_lifetime
    "evicted",  # idle longest when a new client came and the cap was reached
)

# What a peer can cause on a socket: a connection's end, never the server's.
_PEER_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


def caused_by_peer(exc: BaseException) -> bool:
    """Whether `exc` (or every exception of a group, however nested) is one a peer
    can cause on its socket. Trio reports what goes wrong inside a nursery as an
    exception group, so an except clause for these alone would miss them there."""
    if isinstance(exc, BaseExceptionGroup):
        return all(caused_by_peer(inner) for inner in exc.exceptions)
    return isinstance(exc, _PEER_ERRORS)


def _cancellation(exc: BaseException) -> bool:
    """Whether `exc` is Trio's Cancelled, bare or in a group from the nurseries it
    came through."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


def first_error(exc: BaseException) -> BaseException:
    """The first exception of a group (or `exc` itself), for a one-line log."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


@attrs.frozen
class _Pending:
    """A query that needs the resolver: what building its reply will need."""

    query: Message
    key: AnswerKey | None
    limit: int
    client: str
    tcp: bool
    started: float


class _Frames:
    """2-octet length-prefixed messages from a stream (RFC 1035 section 4.2.2)."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self.closed = False  # the peer closed its side

    @property
    def partial(self) -> bool:
        """Whether part of a message has arrived and the rest not (yet)."""
        return bool(self._buffer)

    async def next(self) -> bytes | None:
        """The next message; None when the peer closed (between messages or not)."""
        while True:
            if len(self._buffer) >= 2:
                size = 2 + ((self._buffer[0] << 8) | self._buffer[1])
                if len(self._buffer) >= size:
                    data = bytes(self._buffer[2:size])
                    del self._buffer[:size]
                    return data
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                self.closed = True
                return None
            self._buffer += chunk


@attrs.define(eq=False)
class _Connection:
    """An open TCP connection, as the accept loop sees it when choosing one to close."""

    scope: trio.CancelScope  # the whole connection's: cancelled to close it at once
    send_lock: trio.Lock
    slots: trio.Semaphore  # one per query that may be unanswered at once
    max_queries: int
    idle_since: float  # when it opened, or last finished sending a reply
    closed: bool = False  # and its slot given back

    @property
    def idle(self) -> bool:
        """Nothing of its own being resolved or sent: it only waits for a query."""
        return self.slots.value == self.max_queries and not self.send_lock.locked()


def _error_reply(data: bytes, rcode: Rcode, question_end: int | None) -> bytes:
    """A header-only reply (plus the question, if there is one to echo)."""
    flags = (data[2] << 8) | data[3]
    word = 0x8000 | (flags & 0x7800) | (flags & (Flag.RD | Flag.CD)) | Flag.RA | int(rcode)
    question = data[12:question_end] if question_end is not None else b""
    return _HEADER.pack((data[0] << 8) | data[1], word, 1 if question else 0, 0, 0, 0) + question


@attrs.define(eq=False)
class Server:
    """Serves `resolver` to clients: `await server.serve()` (or `nursery.start`)."""

    resolver: Resolver
    settings: ServerSettings = attrs.Factory(ServerSettings)
    stats: ServerStats = attrs.Factory(ServerStats)
    answers: AnswerCache = attrs.field(init=False)
    _secret: bytes = attrs.field(init=False, factory=lambda: secrets.token_bytes(16))
    _stop: trio.Event = attrs.field(init=False, factory=trio.Event)
    _begun: trio.Event = attrs.field(init=False, factory=trio.Event)
    _in_flight: int = attrs.field(init=False, default=0)
    _connections: set[_Connection] = attrs.field(init=False, factory=set)
    _readers: set[trio.CancelScope] = attrs.field(init=False, factory=set)
    _allowed: dict[str, Action] = attrs.field(init=False, factory=dict)
    # Built from the settings they were built for, again when those change (a reload).
    _access: tuple[ServerSettings, AccessControl] | None = attrs.field(init=False, default=None)
    _ip_limit: tuple[ServerSettings, TokenBuckets[str]] | None = attrs.field(
        init=False, default=None
    )
    # The reply's OPT record when it carries no options, by the query's DO bit.
    _plain_edns: dict[bool, Edns] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.answers = AnswerCache(self.settings.answer_cache_entries)
        # Replies encoded from the resolver's cache go when it goes (the
        # unwanted-reply threshold's defence would be half done otherwise).
        self.resolver.on_flush(self.answers.clear)
        payload = self.settings.max_udp_payload
        self._plain_edns = {do: Edns(payload=payload, dnssec_ok=do) for do in (False, True)}

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def tcp_open(self) -> int:
        """TCP connections open now."""
        return len(self._connections)

    def shutdown(self) -> None:
        """Stop accepting queries; `serve` returns once those in flight are answered."""
        self._stop.set()
        self._begun.set()

    def begin(self) -> None:
        """Start answering, when `serve(hold=True)` was asked to wait."""
        self._begun.set()

    def share_cookie_secret(self, secret: bytes) -> None:
        """Make server cookies with `secret` (16 octets) rather than a random one of
        this server's own: servers answering on one address should share theirs
        (RFC 7873 section 6), as the workers of `--workers` do."""
        if len(secret) != 16:
            raise ValueError("a cookie secret is 16 octets")
        self._secret = secret

    def reconfigure(self, settings: ServerSettings) -> None:
        """Serve with `settings` from the next query on (the next connection, for a
        TCP connection's limits). The addresses listened on stay as they are: they
        are bound. Replies encoded under the old settings and local zones go."""
        self.settings = attrs.evolve(settings, listen=self.settings.listen)
        self._allowed.clear()
        self.answers.clear()
        payload = settings.max_udp_payload
        self._plain_edns = {do: Edns(payload=payload, dnssec_ok=do) for do in (False, True)}

    # -- listening -------------------------------------------------------------------

    async def serve(
        self,
        *,
        hold: bool = False,
        task_status: trio.TaskStatus[tuple[Address, ...]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on every configured address (UDP and TCP) until shut down.

        Reports the bound addresses (with the real port where 0 was asked for).
        With `hold`, the sockets are bound but nothing is read from them until
        `begin()`: a server that gives up root answers no query as root.
        """
        udp, tcp, bound = await self._bind()
        try:
            task_status.started(bound)
            for address in bound:
                log.info("listening on %s (UDP and TCP)", format_address(address))
            if hold:
                await self._begun.wait()
            async with trio.open_nursery() as watcher:
                watcher.start_soon(self._stop_when_cancelled)
                # Shielded, so that cancelling serve() still lets queries finish.
                # Prefetches, and resolutions going on after a stale answer, run in
                # the watcher and end with it (at once if serve() is cancelled).
                with trio.CancelScope(shield=True), self.resolver.freshness.background(watcher):
                    await self._run(udp, tcp)
                watcher.cancel_scope.cancel()
        finally:
            for sock in udp:
                sock.close()
            for listener in tcp:
                listener.socket.close()

    async def _stop_when_cancelled(self) -> None:
        try:
            await trio.sleep_forever()
        finally:
            self._stop.set()

    async def _run(self, udp: list[socket.socket], tcp: list[trio.SocketListener]) -> None:
        async with trio.open_nursery() as work:
            async with trio.open_nursery() as listeners:
                for sock in udp:
                    listeners.start_soon(self._udp_loop, sock, work)
                for listener in tcp:
                    listeners.start_soon(self._tcp_loop, listener, work)
                await self._stop.wait()
                listeners.cancel_scope.cancel()
            for reader in list(self._readers):
                reader.cancel()
            if self._in_flight:
                log.info("shutting down: %d queries in flight", self._in_flight)
            work.cancel_scope.deadline = trio.current_time() + self.settings.grace_period
        log.info("stopped")

    async def _bind(
        self,
    ) -> tuple[list[socket.socket], list[trio.SocketListener], tuple[Address, ...]]:
        udp: list[socket.socket] = []
        tcp: list[trio.SocketListener] = []
        bound: list[Address] = []
        try:
            for address in self.settings.listen:
                try:
                    pair = await self._bind_one(address)
                except OSError as exc:
                    if address == ("::1", 53) and exc.errno in (
                        errno.EADDRNOTAVAIL,
                        errno.EAFNOSUPPORT,
                    ):
                        log.warning("IPv6 loopback unavailable, not listening on [::1]:53")
                        continue
                    raise DNSError(
                        f"cannot listen on {format_address(address)}: {exc.strerror or exc}"
                    ) from None
                udp.append(pair[0])
                tcp.append(pair[1])
                bound.append(pair[2])
        except BaseException:
            for sock in udp:
                sock.close()
            for listener in tcp:
                listener.socket.close()
            raise
        if not bound:
            raise DNSError("no address to listen on")
        return udp, tcp, tuple(bound)

    async def _bind_one(
        self, address: Address
    ) -> tuple[socket.socket, trio.SocketListener, Address]:
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # With port 0 the kernel picks the UDP port; TCP then wants the same one,
        # which can be taken: try a few times.
        for attempt in range(8 if port == 0 else 1):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                if family == socket.AF_INET6:
                    udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                with contextlib.suppress(OSError):  # a smaller buffer still works
                    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
                if self.settings.reuse_port:
                    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                udp.setblocking(False)
                udp.bind((host, port))
                actual = udp.getsockname()[1]
                tcp = await listen_tcp(
                    (host, actual), _TCP_BACKLOG, reuse_port=self.settings.reuse_port
                )
            except OSError as exc:
                udp.close()
                if port == 0 and exc.errno == errno.EADDRINUSE and attempt < 7:
                    continue
                raise
            except BaseException:
                udp.close()
                raise
            return udp, trio.SocketListener(tcp), (host, actual)
        raise AssertionError("unreachable")

    # -- UDP -------------------------------------------------------------------------

    async def _udp_loop(self, sock: socket.socket, work: trio.Nursery) -> None:
        recvfrom = sock.recvfrom
        sendto = sock.sendto
        batch = self.settings.batch
        stats = self.stats
        while True:
            await trio.lowlevel.wait_readable(sock)
            # Decided once per wakeup, so that the query log costs nothing when off
            # and a reload can turn it on.
            handle = self._handle_logged if self.settings.query_log else self._handle
            for _ in range(batch):
                try:
                    data, source = recvfrom(_RECV_SIZE)
                except BlockingIOError:
                    break
                except OSError as exc:  # e.g. an ICMP error reported on the socket
                    log.debug("UDP receive error: %s", exc)
                    continue
                result = handle(data, source[0], False)
                if result is None:
                    continue
                if type(result) is bytes:
                    try:
                        sendto(result, source)
                    except OSError:
                        stats.send_errors += 1
                    continue
                assert isinstance(result, _Pending)
                if self._in_flight >= self.settings.max_in_flight:
                    stats.dropped_over_limit += 1
                    continue
                self._in_flight += 1
                work.start_soon(self._resolve_udp, result, sock, source)

    async def _resolve_udp(self, pending: _Pending, sock: socket.socket, source: object) -> None:
        try:
            wire = await self._resolve(pending)
        except BaseException as exc:
            if _cancellation(exc):
                # The grace period is over: SERVFAIL, not silence (sendto needs no await).
                try:
                    sock.sendto(self._shutdown_reply(pending), source)  # type: ignore[call-overload]
                except OSError:
                    self.stats.send_errors += 1
            raise
        finally:
            self._in_flight -= 1
        try:
            sock.sendto(wire, source)  # type: ignore[call-overload]
        except BlockingIOError:
            try:
                await trio.lowlevel.wait_writable(sock)
                sock.sendto(wire, source)  # type: ignore[call-overload]
            except OSError:
                self.stats.send_errors += 1
        except OSError:
            self.stats.send_errors += 1

    # -- TCP -------------------------------------------------------------------------

    async def _tcp_loop(self, listener: trio.SocketListener, work: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # out of file descriptors, most likely: wait a little
                log.debug("TCP accept failed: %s", exc)
                await trio.sleep(0.1)
                continue
            full = len(self._connections) >= self.settings.max_tcp_connections
            if full and not self._close_idlest():
                self.stats.tcp_rejected += 1
                stream.socket.close()
                continue
            max_queries = self.settings.max_tcp_queries
            conn = _Connection(
                trio.CancelScope(),
                trio.Lock(),
                trio.Semaphore(max_queries),
                max_queries,
                trio.current_time(),
            )
            self._connections.add(conn)
            self.stats.tcp_connections += 1
            work.start_soon(self._serve_connection, stream, conn)

    def _close_idlest(self) -> bool:
        """Close the connection idle longest, if any is idle, to make room for a new
        one: an idle client then costs nothing to a new one, as with Unbound (whose
        tcp-idle-timeout shrinks towards nothing as its TCP slots fill up)."""
        idle = [conn for conn in self._connections if conn.idle]
        if not idle:
            return False
        self._close(min(idle, key=lambda conn: conn.idle_since), "evicted")
        return True

    def _close(self, conn: _Connection, reason: str | None) -> None:
        """Give back `conn`'s slot (once) and end its task, counting why (if not the
        client's doing)."""
        if conn.closed:
            return
        conn.closed = True
        self._connections.discard(conn)
        if reason is not None:
            closed = self.stats.tcp_closed
            closed[reason] = closed.get(reason, 0) + 1
        conn.scope.cancel()

    async def _serve_connection(self, stream: trio.SocketStream, conn: _Connection) -> None:
        try:
            client = stream.socket.getpeername()[0]
        except OSError:
            client = ""
        if self._action(client) is Action.DENY:
            # Closed unread: a denied client holds no connection slot for its idle time.
            self.stats.denied += 1
            self._close(conn, None)
            stream.socket.close()
            return
        send_timeout = self.settings.tcp_send_timeout

        async def send(wire: bytes) -> None:
            """Write one reply, or close the connection if that fails or takes too long."""
            async with conn.send_lock:
                if conn.closed:
                    return
                # Shielded so that no cancel cuts a reply in half (the client would
                # misread everything after it); the deadline still bounds it.
                with trio.CancelScope(shield=True) as sending:
                    sending.deadline = trio.current_time() + send_timeout
                    try:
                        await stream.send_all(len(wire).to_bytes(2, "big") + wire)
                    except _PEER_ERRORS as exc:
                        self.stats.send_errors += 1
                        log.debug("cannot send a TCP reply to %s: %s", client, exc)
                        self._close(conn, "peer_error")
                        return
            if sending.cancelled_caught:
                log.debug("TCP client %s does not read its replies: closed", client)
                self._close(conn, "send_timeout")
            else:
                conn.idle_since = trio.current_time()

        frames = _Frames(stream)
        reason: str | None = None
        try:
            with conn.scope:
                async with stream, trio.open_nursery() as queries:
                    lifetime = trio.current_time() + self.settings.tcp_lifetime
                    with trio.CancelScope(deadline=lifetime) as reading:
                        self._readers.add(reading)
                        if self._stop.is_set():
                            reading.cancel()
                        try:
                            await self._read_queries(frames, client, send, conn.slots, queries)
                        finally:
                            self._readers.discard(reading)
                    # The replies under way are still sent (bounded by the resolver's
                    # deadline and the send timeout); then the connection is closed.
                    if reading.cancelled_caught:
                        reason = None if self._stop.is_set() else "lifetime"
                    elif not frames.closed:
                        reason = "idle"
                    elif frames.partial:
                        reason = "mid_message"
        except BaseException as exc:
            if not caused_by_peer(exc):
                raise
            reason = "peer_error"
            log.debug("TCP connection from %s failed: %s", client, first_error(exc))
        finally:
            self._close(conn, reason)

    async def _read_queries(
        self,
        frames: _Frames,
        client: str,
        send: Callable[[bytes], Awaitable[None]],
        slots: trio.Semaphore,
        queries: trio.Nursery,
    ) -> None:
        handle = self._handle_logged if self.settings.query_log else self._handle
        while True:
            data = None
            with trio.move_on_after(self.settings.tcp_idle_timeout):
                data = await frames.next()
            if data is None:
                return  # closed by the client, or idle
            result = handle(data, client, True)
            if result is None:
                continue
            if isinstance(result, bytes):
                await send(result)
                continue
            if self._in_flight >= self.settings.max_in_flight:
                self.stats.dropped_over_limit += 1
                continue
            await slots.acquire()
            self._in_flight += 1
            queries.start_soon(self._resolve_tcp, result, send, slots)

    async def _resolve_tcp(
        self, pending: _Pending, send: Callable[[bytes], Awaitable[None]], slots: trio.Semaphore
    ) -> None:
        try:
            wire = await self._resolve(pending)
        except BaseException as exc:
            # Cancelled after shutdown began: by the end of the grace period, since
            # a connection the server closes itself is marked closed first.
            if _cancellation(exc) and self._stop.is_set():
                # The grace period is over: SERVFAIL, not silence. `send` gives up
                # at once if the connection is closed, and within its own timeout
                # otherwise; the lock may be held by another reply, hence this one.
                with trio.CancelScope(shield=True) as last:
                    last.deadline = trio.current_time() + self.settings.tcp_send_timeout
                    await send(self._shutdown_reply(pending))
            raise
        finally:
            self._in_flight -= 1
            slots.release()
        await send(wire)

    # -- one query -------------------------------------------------------------------

    def _action(self, host: str) -> Action:
        """What access control says of `host` (remembered per address)."""
        action = self._allowed.get(host)
        if action is None:
            settings = self.settings
            if self._access is None or self._access[0] is not settings:
                access = AccessControl.build(settings.allow, settings.access_control)
                self._access = (settings, access)
            action = self._access[1].decide(host)
            if len(self._allowed) >= _ALLOW_MEMO:
                self._allowed.clear()
            self._allowed[host] = action
        return action

    def _over_ip_limit(self, client: str) -> bool:
        """Whether a UDP query from `client` is over ip_ratelimit (and counted so)."""
        settings = self.settings
        if self._ip_limit is None or self._ip_limit[0] is not settings:
            rate = settings.ip_ratelimit
            self._ip_limit = (settings, TokenBuckets(rate=rate, burst=rate))
        return not self._ip_limit[1].allow(client, trio.current_time())

    def _cookie_proves(self, data: bytes, client: str) -> bool:
        """Whether the query carries the server cookie we gave `client` (RFC 7873):
        its source address is then no forgery, and it is no reflection, like TCP's."""
        if data[-20:-16] != _COOKIE_OF_16:
            return False  # cheaply, for the flood this mostly is
        peek = peek_query_untrusted(data, tcp=False, max_udp=self.settings.max_udp_payload)
        if peek is None or peek[2] is None or data[-16:-8] != peek[2]:
            return False  # no cookie, or not the 16 octets ours make
        return hmac.compare_digest(self._cookie(peek[2], client)[8:], data[-8:])

    def _slip_reply(self, data: bytes) -> bytes | None:
        """For a query over the limit: TC=1 and the question, or (mostly) nothing."""
        if len(data) < 12 or data[2] & 0x80:
            return None
        if not slip(self.stats.ip_ratelimited, self.settings.ip_ratelimit_slip):
            return None
        self.stats.ip_ratelimit_slipped += 1
        reply = bytearray(_error_reply(data, Rcode.NOERROR, question_end_untrusted(data)))
        reply[2] |= 0x02  # TC
        return bytes(reply)

    def _cookie(self, client_cookie: bytes, client: str) -> bytes:
        """The client cookie and ours after it (RFC 7873 section 4.2)."""
        ours = hashlib.blake2b(
            client_cookie + client.encode(), key=self._secret, digest_size=8
        ).digest()
        return client_cookie + ours

    def _handle(self, data: bytes, client: str, tcp: bool) -> bytes | _Pending | None:
        """The reply to one query, or a resolution to start, or None (drop it)."""
        action = self._allowed.get(client) or self._action(client)
        if action is not Action.ALLOW:
            if action is Action.DENY:
                self.stats.denied += 1
                return None
            if len(data) < 12 or data[2] & 0x80:
                self.stats.dropped_malformed += 1
                return None
            self.stats.refused += 1
            rcodes = self.stats.rcodes
            rcodes[Rcode.REFUSED] = rcodes.get(Rcode.REFUSED, 0) + 1
            return _error_reply(data, Rcode.REFUSED, question_end_untrusted(data))
        if (
            not tcp
            and self.settings.ip_ratelimit
            and self._over_ip_limit(client)
            and not self._cookie_proves(data, client)
        ):
            self.stats.ip_ratelimited += 1
            return self._slip_reply(data)
        self.stats.queries += 1
        if tcp:
            self.stats.tcp_queries += 1
        peek = peek_query_untrusted(data, tcp=tcp, max_udp=self.settings.max_udp_payload)
        if peek is not None:
            key, question_end, client_cookie = peek
            cookie = None if client_cookie is None else self._cookie(client_cookie, client)
            reply = self.answers.reply(key, data, question_end, cookie, self.resolver.now())
            if reply is not None:
                # One dict increment, by qtype and rcode at once; the metrics
                # endpoint reads it when scraped.
                question = key[0]
                kind = (question[-4] << 12) | (question[-3] << 4) | (reply[3] & 0x0F)
                fast = self.stats.fast_path_by
                fast[kind] = fast.get(kind, 0) + 1
                return reply
        try:
            result = self._slow_path(data, client, tcp, None if peek is None else peek[0])
        except Exception as exc:
            self._bug(f"handling a query from {client}", exc)
            result = None
            if len(data) >= 12 and not data[2] & 0x80:
                result = _error_reply(data, Rcode.SERVFAIL, None)
        if type(result) is bytes:
            self._count_reply(result)
        return result

    def _count_reply(self, wire: bytes) -> None:
        rcodes = self.stats.rcodes
        rcode = wire[3] & 0x0F
        rcodes[rcode] = rcodes.get(rcode, 0) + 1

    def _handle_logged(self, data: bytes, client: str, tcp: bool) -> bytes | _Pending | None:
        """`_handle`, and a query log line for a reply given at once."""
        started = trio.current_time()
        # Which path answered shows in the counters; cheaper than asking _handle.
        fast, cache_only = self.answers.hits, self.stats.cache_only
        result = self._handle(data, client, tcp)
        if type(result) is bytes:
            if self.answers.hits != fast:
                how = "fast"
            elif self.stats.cache_only != cache_only:
                how = "local" if result[2] & 0x04 else "cache"
            else:
                how = "error"
            end = question_end_untrusted(data)
            question = "-"
            if end is not None:
                try:
                    name = WireReader(data, 12, end).name()
                except MalformedMessage:
                    pass
                else:
                    qtype = (data[end - 4] << 8) | data[end - 3]
                    question = f"{name} {RRType(qtype).name}"
            _log_query(client, tcp, question, result[3] & 0x0F, how, started)
        return result

    def _slow_path(
        self, data: bytes, client: str, tcp: bool, key: AnswerKey | None
    ) -> bytes | _Pending | None:
        if len(data) < 12 or data[2] & 0x80:
            # No header to answer, or a response: replying could start a loop.
            self.stats.dropped_malformed += 1
            log.debug("dropped a %d-octet packet from %s", len(data), client)
            return None
        if (data[2] >> 3) & 0x0F != Opcode.QUERY:
            self.stats.notimp += 1
            return _error_reply(data, Rcode.NOTIMP, question_end_untrusted(data))
        try:
            query = Message.from_wire(data)
        except MalformedMessage as exc:
            self.stats.formerr += 1
            log.debug("malformed query from %s: %s", client, exc)
            return _error_reply(data, Rcode.FORMERR, None)
        if len(query.question) != 1:
            self.stats.formerr += 1
            return _error_reply(data, Rcode.FORMERR, None)
        edns = query.edns
        if tcp:
            limit = TCP_LIMIT
        elif edns is None:
            limit = MIN_UDP_PAYLOAD
        else:
            limit = min(max(edns.payload, MIN_UDP_PAYLOAD), self.settings.max_udp_payload)
        if edns is not None and edns.version != 0:
            self.stats.badvers += 1
            reply = query.make_response(Rcode.BADVERS, Flag.RA)
            return attrs.evolve(reply, edns=self._reply_edns(query, client)).to_wire(limit)
        if edns is not None and any(
            isinstance(o, GenericOption) and o.code == EdnsOptionCode.COOKIE for o in edns.options
        ):
            self.stats.formerr += 1  # a cookie of the wrong length (RFC 7873 section 5.2.2)
            return _error_reply(data, Rcode.FORMERR, None)
        question = query.question[0]
        qtypes = self.stats.qtypes
        qtypes[question.rtype] = qtypes.get(question.rtype, 0) + 1
        if question.rtype in _FORMERR_TYPES:
            self.stats.formerr += 1
            return self._encode(query.make_response(Rcode.FORMERR, Flag.RA), query, client, limit)
        if question.rclass != RRClass.IN or question.rtype in _REFUSED_TYPES:
            self.stats.refused += 1
            return self._encode(query.make_response(Rcode.REFUSED, Flag.RA), query, client, limit)
        pending = _Pending(query, key, limit, client, tcp, trio.current_time())
        if Flag.RD not in query.flags:
            self.stats.cache_only += 1
            return self._cache_only(pending)
        return pending

    # -- building replies ------------------------------------------------------------

    def _reply_edns(
        self, query: Message, client: str, extra: tuple[EdnsOption, ...] = ()
    ) -> Edns | None:
        if query.edns is None:
            return None
        options = extra
        cookie = query.edns.option(Cookie)
        if isinstance(cookie, Cookie):
            # Always last, where the fast path expects to patch it.
            both = self._cookie(cookie.client, client)
            options += (Cookie(both[:8], both[8:]),)
        if not options:
            # The common case: one of two ready-made records, not a new one.
            return self._plain_edns[query.edns.dnssec_ok]
        return Edns(
            payload=self.settings.max_udp_payload,
            dnssec_ok=query.edns.dnssec_ok,
            options=options,
        )

    def _encode(self, reply: Message, query: Message, client: str, limit: int) -> bytes:
        extra: tuple[EdnsOption, ...] = ()
        if reply.edns is not None:
            extra = reply.edns.options
        reply = attrs.evolve(reply, edns=self._reply_edns(query, client, extra))
        return self._to_wire(reply, limit)

    def _to_wire(self, reply: Message, limit: int) -> bytes:
        if reply.rcode == Rcode.SERVFAIL:
            self.stats.servfail += 1
        wire = reply.to_wire(limit)
        if wire[2] & 0x02:
            self.stats.truncated += 1
        return wire

    def _answer_reply(self, pending: _Pending, answer: Answer) -> bytes:
        query = pending.query
        dnssec_ok = query.edns is not None and query.edns.dnssec_ok
        # Built in one go, not as make_response plus changes: this runs for every
        # cache miss, and each intermediate Message costs an attrs instance.
        flags = _RESPONSE_FLAGS | (query.flags & _COPIED_FLAGS)
        if answer.authoritative:
            flags |= Flag.AA
        # RFC 6840 section 5.7: AD for validated data, to clients that show they
        # understand it (DO or AD in the query).
        if answer.validation is Validation.SECURE and (dnssec_ok or Flag.AD in query.flags):
            flags |= Flag.AD
        cache = self.resolver.cache
        shown = answer.records + answer.rrsigs if dnssec_ok else answer.records
        low, high = cache.min_ttl, cache.max_ttl
        records = tuple(_clamp(r, low, high) for r in shown)
        authority: tuple[Record, ...] = ()
        if answer.authority and answer.rcode != Rcode.SERVFAIL:
            # Fresh from the server: its SOA and NS set as it sent them.
            authority = tuple(_clamp(r, low, high) for r in answer.authority)
        elif answer.soa is not None and answer.rcode != Rcode.SERVFAIL:
            soa = answer.soa
            authority = (Record(soa.name, soa.rtype, soa.rclass, answer.ttl, soa.rdata),)
        if dnssec_ok and answer.rcode != Rcode.SERVFAIL:
            # RFC 4035 section 3.2.1: the proofs of denial and the SOA's RRSIG.
            authority += tuple(_clamp(r, low, high) for r in answer.proof)
        extra = () if answer.error is None else (answer.error,)
        header = Header(id=query.id, flags=flags, opcode=query.opcode, rcode=answer.rcode)
        reply = Message(
            header,
            query.question,
            records,
            authority,
            (),
            self._reply_edns(query, pending.client, extra),
        )
        wire = self._to_wire(reply, pending.limit)
        cacheable = answer.rcode in (Rcode.NOERROR, Rcode.NXDOMAIN) and answer.error is None
        if cacheable and pending.key is not None and (records or authority):
            # The least TTL of all we wrote (of more, if TC dropped some: no harm,
            # the entry just expires a little early).
            lifetime = min(r.ttl for r in (*records, *authority))
            if answer.soa is not None:
                # A negative answer lives as long as its negative TTL, whatever
                # the TTLs of the SOA and NS records it shows.
                lifetime = min(lifetime, answer.ttl)
            # Shorter when prefetching: the resolver must see the asks near expiry.
            lifetime = self.resolver.freshness.fast_path_lifetime(answer, lifetime)
            self.answers.store(pending.key, wire, self.resolver.now(), lifetime)
        return wire

    async def _resolve(self, pending: _Pending) -> bytes:
        question = pending.query.question[0]
        # No deadline of our own: the resolver's bounds every resolution, and a
        # cancel scope per query costs more than its parsing does.
        try:
            answer = await self.resolver.resolve(
                question.name,
                question.rtype,
                question.rclass,
                cd=Flag.CD in pending.query.flags,
            )
        except DNSError as exc:
            log.debug("cannot resolve %s %s: %s", question.name, question.rtype.name, exc)
            answer = servfail(
                question.name, question.rtype, question.rclass, EdeCode.OTHER, str(exc)
            )
        except Exception as exc:
            # A bug, not the network: one SERVFAIL and a log line, not the server.
            self._bug(f"resolving {question.name} {question.rtype.name}", exc)
            answer = servfail(
                question.name, question.rtype, question.rclass, EdeCode.OTHER, "internal error"
            )
        stats = self.stats
        stats.resolved += 1
        if answer.failed:
            log.debug(
                "SERVFAIL for %s %s: %s",
                question.name,
                question.rtype.name,
                answer.error.to_text() if answer.error else "",
            )
        wire = self._finish(pending, answer)
        stats.latency.observe(trio.current_time() - pending.started)
        return wire

    def _finish(self, pending: _Pending, answer: Answer, how: str | None = None) -> bytes:
        """The reply to a resolved query, counted (and logged, if asked)."""
        try:
            wire = self._answer_reply(pending, answer)
        except Exception as exc:
            self._bug(f"answering {answer.qname} {answer.qtype.name}", exc)
            query = pending.query
            reply = query.make_response(Rcode.SERVFAIL, Flag.RA)
            wire = self._encode(reply, query, pending.client, pending.limit)
        self._count_reply(wire)
        if self.settings.query_log:
            if how is None:
                how = (
                    "local"
                    if answer.authoritative
                    else "stale"
                    if is_stale(answer)
                    else "cache"
                    if answer.from_cache
                    else "resolved"
                )
            _log_query(
                pending.client,
                pending.tcp,
                f"{answer.qname} {answer.qtype.name}",
                wire[3] & 0x0F,
                how,
                pending.started,
            )
        return wire

    def _shutdown_reply(self, pending: _Pending) -> bytes:
        """SERVFAIL for a query still unanswered when the grace period ends."""
        question = pending.query.question[0]
        answer = servfail(
            question.name, question.rtype, question.rclass, EdeCode.OTHER, "shutting down"
        )
        return self._finish(pending, answer, "shutdown")

    def _bug(self, what: str, exc: Exception) -> None:
        """Count a bug met while answering one query, and log it in one line: the 1st,
        2nd, 4th, 8th... time only, so that no client can flood the log with it. The
        traceback is there at debug level."""
        self.stats.internal_errors += 1
        count = self.stats.internal_errors
        if count & (count - 1) == 0:
            log.error(
                "internal error %s (%d so far): %r",
                what,
                count,
                exc,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )

    # -- RD=0: the cache alone -------------------------------------------------------

    def _cache_only(self, pending: _Pending) -> bytes:
        """What the cache knows, like Unbound: the answer (or a cached negative
        answer) if it has one, else a referral to the closest zone cut it knows."""
        question = pending.query.question[0]
        answer = self.resolver.cached(question.name, question.rtype, question.rclass)
        if answer is not None:
            return self._answer_reply(pending, answer)
        ns, glue = self.resolver.referral(question.name)
        reply = pending.query.make_response(Rcode.NOERROR, Flag.RA)
        reply = attrs.evolve(reply, authority=ns, additional=glue)
        return self._encode(reply, pending.query, pending.client, pending.limit)


async def listen_tcp(
    address: Address, backlog: int, *, reuse_port: bool = False
) -> trio.socket.SocketType:
    """A listening TCP socket on `address`; the socket is closed if any step fails.

    SO_REUSEADDR so a restart need not wait out TIME_WAIT; IPv6 sockets only
    IPv6, so `[::]` and `0.0.0.0` can both be served; SO_REUSEPORT if asked, so
    that several processes can listen on the port (the kernel spreads connections)."""
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        await sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _log_query(client: str, tcp: bool, question: str, rcode: int, how: str, started: float) -> None:
    """One query log line: client, protocol, question, rcode, how it was answered, time."""
    elapsed = (trio.current_time() - started) * 1000
    query_log.info(
        "%s %s %s %s %s %.1fms",
        client,
        "tcp" if tcp else "udp",
        question,
        Rcode(rcode).name,
        how,
        elapsed,
    )


def _clamp(record: Record, low: int, high: int) -> Record:
    ttl = min(max(record.ttl, low), high)
    if ttl == record.ttl:
        return record
    return Record(record.name, record.rtype, record.rclass, ttl, record.rdata)

"""A cache shared by many resolvers, in Redis (`cache_backend = "redis://HOST:PORT/DB"`).

Theory of operation: a fleet of resolvers behind one address answers better
when what one of them learnt serves them all, as Unbound's cachedb module does.
Each resolver keeps its own cache (a `SharingCache`), and Redis is a second
level behind it. On a miss in its own cache, before iterating, the resolver
asks Redis (`fill`) for the entries that could answer: the question's RRset or
NODATA, a CNAME at the name (followed, a few links at most), an NXDOMAIN;
what decodes (`shared_cache.decode_entry_untrusted`: garbage is a miss) goes
into its own cache with its rank and validation state, and the resolver's cache
path runs again. Every entry the resolver stores is written to Redis, with
Redis's own expiry set to the entry's.

Redis must never make answers slower than they would be without it, nor stop
them. A read gets `READ_TIMEOUT` (50 ms) and then counts as a miss, and at most
`MAX_READS` are in flight (the client sends them one after another down one
connection): one more is a miss at once. Writes
never wait in a resolution: `enqueue` puts them in a bounded dict by key (a
later write of the same key replaces the one waiting; a new key when it is full
is dropped and counted), and one background task (`run`) sends them in
pipelined batches. After `FAILURES_TO_OPEN` failures in a row (errors or
timeouts, reads or writes) the circuit breaker opens: for `OPEN_FOR` seconds
nothing is asked and writes are dropped, then one request may try again, and
its failure opens the breaker at once. Everything is counted in
`SharedCacheStats` for the metrics; the log gets one line each time the
breaker opens, not one per failure.

What an operator flushes from the resolver's own cache (a name, a zone: the
control socket's `flush` and `flush-zone`) is deleted from Redis too, by the
same task: a type's keys by name, every type's (and a zone's) by a SCAN for
their pattern. `flush-all`, and the flush of the unwanted-reply defence, stay
local: one resolver under attack does not empty the fleet's cache.

The client is coredis, which runs under Trio through AnyIO. It is imported
when `run` starts, so that resolvers without a shared cache never load it.
"""

from __future__ import annotations

import logging
import math
import urllib.parse
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._decisions.cache import Cache
from .._decisions.shared_cache import (
    MAX_VALUE,
    SharedEntry,
    SharingCache,
    decode_entry_untrusted,
    encode_entry,
    entry_key,
    forget_patterns,
    insert_shared,
    keys_for,
)
from .._errors import DNSError
from .._wire.enums import RRClass, RRType
from .._wire.name import Name
from .._wire.rdtypes.single_name import CNAME

if TYPE_CHECKING:
    from collections.abc import Callable

    import coredis

log = logging.getLogger("trio_dns.shared_cache")


class _ClientLogInOneLine(logging.Filter):
    """coredis logs a connection attempt that failed or was cut short by our
    timeouts as an error, with a traceback. Those are counted, and the breaker
    logs one line when they add up; the client's own record becomes one line at
    debug level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({_describe(record.exc_info[1])})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


_client_log = logging.getLogger("coredis")
_client_log.addFilter(_ClientLogInOneLine())

READ_TIMEOUT = 0.05  # seconds a lookup may wait for Redis before it is a miss
WRITE_TIMEOUT = 1.0  # seconds for one pipelined batch of writes
CONNECT_TIMEOUT = 0.5
FAILURES_TO_OPEN = 3  # failures in a row that open the breaker
OPEN_FOR = 5.0  # seconds the breaker stays open
MAX_PENDING = 10_000  # writes waiting to be sent; more are dropped
BATCH = 500  # writes sent in one pipeline
MAX_CHAIN = 8  # CNAME links followed through the shared cache
# Lookups in flight at once. The client sends them all down one connection, one
# after another: past this many, a lookup would wait behind the others until its
# timeout, and a burst of cold questions would open the breaker of a healthy
# Redis. A lookup finding no room is a miss at once instead.
MAX_READS = 32
DELETE_TIMEOUT = 10.0  # seconds for one flush's scan and deletes
MAX_FORGETTING = 100  # flushes waiting to be passed on; more are dropped


class BadBackend(DNSError):
    """A cache_backend that is not a redis:// URL we can use."""


@attrs.frozen
class RedisAddress:
    host: str
    port: int = 6379
    db: int = 0
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        """`redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`; BadBackend if it is not one."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "redis":
            raise BadBackend(f"{url!r} is not a redis:// URL")
        try:
            port = parts.port or 6379
        except ValueError:
            raise BadBackend(f"{url!r} has a bad port") from None
        if not parts.hostname:
            raise BadBackend(f"{url!r} names no host")
        path = parts.path.strip("/")
        if path and not (path.isdigit() and path.isascii()):
            raise BadBackend(f"{url!r}: the database must be a number, not {path!r}")
        if parts.query or parts.fragment:
            raise BadBackend(f"{url!r}: no query or fragment is understood")
        return cls(
            parts.hostname,
            port,
            int(path) if path else 0,
            urllib.parse.unquote(parts.username) if parts.username else None,
            urllib.parse.unquote(parts.password) if parts.password is not None else None,
        )


@attrs.define(eq=False)
class SharedCacheStats:
    hits: int = 0  # lookups that found an entry to use
    misses: int = 0  # lookups that found none (garbage and busy included)
    busy: int = 0  # lookups not sent: MAX_READS were in flight already
    garbage: int = 0  # values that did not decode as the entry their key names
    errors: int = 0  # reads and writes that failed or timed out
    breaker_opens: int = 0
    writes: int = 0  # entries written
    dropped_writes: int = 0  # not written: queue full, breaker open, or a failed batch
    deleted: int = 0  # keys deleted for flushes
    dropped_deletes: int = 0  # flushes not passed on: too many waiting, or Redis failing


@attrs.define(eq=False)
class Breaker:
    """A circuit breaker; `now` is Trio's clock, passed in."""

    failures_to_open: int = FAILURES_TO_OPEN
    open_for: float = OPEN_FOR
    opens: int = 0
    _failures: int = 0
    _open_until: float = -math.inf

    def allows(self, now: float) -> bool:
        return now >= self._open_until

    def succeeded(self) -> None:
        self._failures = 0

    def failed(self, now: float) -> bool:
        """Count a failure; True if it opened the breaker."""
        if now < self._open_until:
            return False  # a request from before it opened: it is open already
        self._failures += 1
        if self._failures < self.failures_to_open:
            return False
        self._open_until = now + self.open_for
        self.opens += 1
        # Half-open afterwards: the first request then decides.
        self._failures = self.failures_to_open - 1
        return True


@attrs.define(eq=False)
class RedisCache:
    """Redis behind the resolver's own cache. `await nursery.start(shared.run)`,
    then `Resolver(cache=shared.sharing(Cache(...)), shared_cache=shared)`."""

    address: RedisAddress
    read_timeout: float = READ_TIMEOUT
    write_timeout: float = WRITE_TIMEOUT
    max_pending: int = MAX_PENDING
    breaker: Breaker = attrs.Factory(Breaker)
    stats: SharedCacheStats = attrs.Factory(SharedCacheStats)
    _client: coredis.Redis[bytes] | None = attrs.field(init=False, default=None)
    # (name, type, class) -> (entry, milliseconds to keep it, Trio time it was queued)
    _pending: dict[tuple[Name, RRType | None, RRClass], tuple[SharedEntry, int, float]] = (
        attrs.field(init=False, factory=dict)
    )
    _wakeup: trio.Event = attrs.field(init=False, factory=trio.Event)
    _sending: bool = attrs.field(init=False, default=False)
    _reads: trio.CapacityLimiter = attrs.field(
        init=False, factory=lambda: trio.CapacityLimiter(MAX_READS)
    )
    # Flushes to pass on: (name, type or None, class, subtree).
    _forgetting: list[tuple[Name, RRType | None, RRClass, bool]] = attrs.field(
        init=False, factory=list
    )

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCache:
        return cls(RedisAddress.from_url(url), **kwargs)

    def sharing(self, like: Cache | None = None) -> SharingCache:
        """A resolver's own cache (with the limits of `like`) whose every store is
        written here too."""
        limits = (
            {}
            if like is None
            else {
                "max_entries": like.max_entries,
                "max_bytes": like.max_bytes,
                "min_ttl": like.min_ttl,
                "max_ttl": like.max_ttl,
                "max_negative_ttl": like.max_negative_ttl,
                "no_soa_negative_ttl": like.no_soa_negative_ttl,
            }
        )
        return SharingCache(share=self.enqueue, forget=self.forget, **limits)

    @property
    def connected(self) -> bool:
        """Is `run` holding a client (not whether Redis answers)?"""
        return self._client is not None

    @property
    def idle(self) -> bool:
        """No write waiting or being sent."""
        return not self._pending and not self._sending and not self._forgetting

    # -- writing ---------------------------------------------------------------------

    def enqueue(self, entry: SharedEntry, milliseconds: int) -> None:
        """Write `entry` for `milliseconds`, soon, in the background (a later write
        of the same entry replaces this one if it has not gone yet)."""
        pending = self._pending
        key = (entry.name, entry.rtype, entry.rclass)
        if key not in pending and len(pending) >= self.max_pending:
            self.stats.dropped_writes += 1
            return
        pending[key] = (entry, milliseconds, trio.current_time())
        self._wakeup.set()

    def forget(self, name: Name, rtype: RRType | None, rclass: RRClass, subtree: bool) -> None:
        """Delete from Redis, soon, the entries at `name` (of `rtype`, and the name's
        NXDOMAIN; or of every type), and with `subtree` those below it too."""
        for key in [
            key
            for key in self._pending
            if key[2] == rclass
            and (key[0].is_subdomain(name) if subtree else key[0] == name)
            and (rtype is None or key[1] in (rtype, None))
        ]:
            del self._pending[key]
        if len(self._forgetting) < MAX_FORGETTING:
            self._forgetting.append((name, rtype, rclass, subtree))
        else:
            self.stats.dropped_deletes += 1
        self._wakeup.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the connection to Redis and send the writes queued, until cancelled.

        Started once the first connection is made or has failed (within
        `CONNECT_TIMEOUT`), so that a server that starts it before its other
        endpoints asks Redis from its first lookups on."""
        started = False
        while True:
            try:
                async with self._connect() as client:
                    # Connect here, not inside the first lookup's 50 ms.
                    with trio.move_on_after(CONNECT_TIMEOUT):
                        try:
                            await client.ping()
                        except Exception as exc:  # Redis down: the lookups will say so
                            self._failed(trio.current_time(), exc)
                    self._client = client
                    if not started:
                        started = True
                        task_status.started()
                    await self._send_forever()
            except Exception as exc:  # the client's own tasks failed
                # Redis is a peer: whatever it does ends this connection, not the server.
                self._client = None
                self._failed(trio.current_time(), exc)
                if not started:
                    started = True
                    task_status.started()
                await trio.sleep(self.breaker.open_for)
            finally:
                self._client = None

    def _connect(self) -> coredis.Redis[bytes]:
        import coredis
        from coredis.retry import NoRetryPolicy

        address = self.address
        return coredis.Redis(
            address.host,
            address.port,
            address.db,
            username=address.username,
            password=address.password,
            connect_timeout=CONNECT_TIMEOUT,
            # Our own timeouts and breaker decide; a retry would only wait longer.
            retry_policy=NoRetryPolicy(),
        )

    async def _send_forever(self) -> None:
        while True:
            if not self._pending and not self._forgetting:
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            while self._forgetting:
                self._sending = True
                try:
                    await self._delete(*self._forgetting.pop(0))
                finally:
                    self._sending = False
            while self._pending:
                batch = []
                for key in list(self._pending)[:BATCH]:
                    batch.append(self._pending.pop(key))
                self._sending = True
                try:
                    await self._send(batch)
                finally:
                    self._sending = False

    async def _send(self, batch: list[tuple[SharedEntry, int, float]]) -> None:
        client = self._client
        now = trio.current_time()
        if client is None or not self.breaker.allows(now):
            self.stats.dropped_writes += len(batch)
            return
        writes = []
        for entry, milliseconds, queued in batch:
            left = milliseconds - math.ceil((now - queued) * 1000)
            value = encode_entry(entry)
            if left > 0 and len(value) <= MAX_VALUE:
                writes.append((entry.key, value, left))
        if not writes:
            return
        try:
            with trio.fail_after(self.write_timeout):
                async with client.pipeline(transaction=False) as pipe:
                    for key, value, left in writes:
                        pipe.set(key, value, px=left)
        except Exception as exc:  # Redis's failure is not ours: count it
            self.stats.dropped_writes += len(writes)
            self._failed(trio.current_time(), exc)
            return
        self.breaker.succeeded()
        self.stats.writes += len(writes)

    async def _delete(
        self, name: Name, rtype: RRType | None, rclass: RRClass, subtree: bool
    ) -> None:
        client = self._client
        if client is None or not self.breaker.allows(trio.current_time()):
            self.stats.dropped_deletes += 1
            return
        deleted = 0
        try:
            with trio.fail_after(DELETE_TIMEOUT):
                if rtype is not None:
                    keys = [entry_key(name, rtype, rclass), entry_key(name, None, rclass)]
                    deleted += await client.delete(keys)
                else:
                    # Every type at the name: only a scan of the keys finds them all.
                    for pattern in forget_patterns(name, rclass, subtree):
                        found: list[bytes] = []
                        async for key in client.scan_iter(match=pattern, count=1000):
                            found.append(key)
                            if len(found) >= BATCH:
                                deleted += await client.delete(found)
                                found = []
                        if found:
                            deleted += await client.delete(found)
        except Exception as exc:  # Redis's failure is not ours: count it
            self.stats.dropped_deletes += 1
            self._failed(trio.current_time(), exc)
            return
        self.breaker.succeeded()
        self.stats.deleted += deleted
        log.info(
            "shared cache: %s%s flushed, %d keys deleted",
            name,
            " and below" if subtree else "",
            deleted,
        )

    # -- reading ---------------------------------------------------------------------

    async def fetch(self, keys: list[bytes]) -> list[bytes | None] | None:
        """The values at `keys`, or None if Redis cannot say within the read timeout."""
        client = self._client
        if client is None or not self.breaker.allows(trio.current_time()):
            return None
        try:
            self._reads.acquire_nowait()
        except trio.WouldBlock:
            self.stats.busy += 1
            return None
        values: list[bytes | None] | None = None
        try:
            with trio.move_on_after(self.read_timeout):
                values = list(await client.mget(keys))
        except Exception as exc:  # a miss, not an error of ours
            self._failed(trio.current_time(), exc)
            return None
        finally:
            self._reads.release()
        if values is None or len(values) != len(keys):
            self._failed(trio.current_time(), None)
            return None
        self.breaker.succeeded()
        return values

    async def fill(
        self, cache: Cache, name: Name, rtype: RRType, rclass: RRClass, now: Callable[[], float]
    ) -> int:
        """Put into `cache` what Redis holds that answers (name, rtype, rclass),
        following CNAMEs; how many entries were stored. `now`: the cache's clock."""
        stored = 0
        for _ in range(MAX_CHAIN):
            wanted = keys_for(name, rtype, rclass)
            values = await self.fetch([key for _, key in wanted])
            if values is None:
                self.stats.misses += 1
                return stored
            found: list[SharedEntry] = []
            moment = now()
            for (key_type, _), value in zip(wanted, values, strict=True):
                if value is None:
                    continue
                entry = decode_entry_untrusted(value, name, key_type, rclass, moment)
                if entry is None:
                    self.stats.garbage += 1
                else:
                    found.append(entry)
            if not found:
                self.stats.misses += 1
                return stored
            self.stats.hits += 1
            stored += insert_shared(cache, found, moment)
            aliases = [e for e in found if e.rtype == RRType.CNAME and e.records]
            if rtype == RRType.CNAME or len(found) != len(aliases) or not aliases:
                return stored  # the answer itself, or a "no": nothing more to follow
            target = aliases[0].records[0].rdata
            if not isinstance(target, CNAME):
                return stored
            name = target.target
        return stored

    def _failed(self, now: float, exc: BaseException | None) -> None:
        self.stats.errors += 1
        if self.breaker.failed(now):
            self.stats.breaker_opens += 1
            why = "timed out" if exc is None else _describe(exc)
            log.warning(
                "shared cache at %s:%d %s; not asked for %g s",
                self.address.host,
                self.address.port,
                why,
                self.breaker.open_for,
            )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

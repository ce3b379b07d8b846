"""Reloading `trio-dns serve`: a new configuration applied to the running server.

Theory of operation: `Reloader.reload` reads the configuration again as start-up
did (the same command-line options on top of the same `--config` file, and
every zone, hints and anchor file it names), so a broken file is a
`ConfigError` before anything changes and the old configuration keeps serving.
A configuration that loads is applied by swapping settings objects (they are
frozen values): `Resolver.reconfigure` and `Server.reconfigure` take effect from
the next question, while questions in flight finish with what they started
with. The cache, what was learnt of nameservers and the open connections stay.

Some settings are fixed once the process runs (`RESTART_KEYS`: the sockets
bound, the simulated internet, the number of processes): a changed one keeps
its old value, and the reply names it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from ._address import Address, format_address
from ._config import KEYS, ConfigError, ServeConfig
from ._errors import DNSError
from ._network.resolver import Resolver
from ._server.control import Control, SocketInUse, default_control_socket
from ._server.server import Server

log = logging.getLogger("trio_dns.server")

# Settings that need a restart: what is bound (listen, metrics, the control
# socket), what the process was built around (the simulated internet, workers,
# the user it became, the shared cache's connection), and the sizes of tables
# made at start (the encoded replies, the servers remembered) and of the UDP
# loops' batches, read when they start.
RESTART_KEYS: tuple[str, ...] = (
    "listen",
    "metrics",
    "control",
    "control_socket",
    "sandbox",
    "workers",
    "user",
    "cache_backend",
    "answer_cache_entries",
    "max_remembered_servers",
    "udp_batch",
)

# The cache's settings that the configuration gives.
_CACHE_LIMITS = (
    "max_entries",
    "max_bytes",
    "max_ttl",
    "min_ttl",
    "max_negative_ttl",
    "no_soa_negative_ttl",
)


def control_socket_path(config: ServeConfig) -> Path | None:
    """Where `config` puts the control socket; None if it has none."""
    if not config.control:
        return None
    return config.control_socket or default_control_socket()


@attrs.define(eq=False)
class Reloader:
    """Applies the configuration, read again, to `resolver` and `server`."""

    options: Mapping[str, Any]  # the command line's, as given to ServeConfig.load
    config_file: Path | None
    config: ServeConfig
    resolver: Resolver
    server: Server
    bound: tuple[Address, ...] = ()  # the addresses served on, for status
    reloads: int = 0
    _lock: trio.Lock = attrs.field(init=False, factory=trio.Lock)

    def describe(self) -> list[str]:
        """Status lines: what only the assembler of the server knows."""
        config = self.config
        metrics = "off" if config.metrics is None else format_address(config.metrics)
        return [
            f"config file: {self.config_file or '(none)'}",
            f"listening on: {' '.join(format_address(a) for a in self.bound)}",
            f"metrics: {metrics}",
            f"workers: {getattr(config, 'workers', 1)}",
            f"zone files: {' '.join(str(path) for path in config.zone) or '(none)'}",
            f"reloads: {self.reloads}",
        ]

    def reload(self) -> list[str]:
        """Read and apply the configuration; the reply's lines. Raises ConfigError
        (one line) and changes nothing if it does not load."""
        return self.apply(self.read())

    async def reload_async(self) -> list[str]:
        """`reload`, with the files read in a worker thread: a zone file of a
        million blocked names takes seconds to parse, and the server keeps
        answering meanwhile. One reload at a time."""
        async with self._lock:
            new = await trio.to_thread.run_sync(self.read)
            return self.apply(new)

    async def reload_logged(self) -> None:
        """`reload_async` for SIGHUP: the outcome goes to the log only."""
        try:
            await self.reload_async()
        except ConfigError:
            pass  # logged already
        except Exception as exc:
            # A bug: the reload fails, not the server.
            log.error("internal error while reloading: %r", exc)

    def read(self) -> ServeConfig:
        """The configuration as the files say now; touches nothing that runs."""
        try:
            return ServeConfig.load(self.options, self.config_file)
        except ConfigError as exc:
            log.error("reload failed, the old configuration keeps serving: %s", exc)
            raise

    def apply(self, new: ServeConfig) -> list[str]:
        """Run with `new` (from `read`); the reply's lines."""
        old = self.config
        fixed = [
            key for key in RESTART_KEYS if key in KEYS and getattr(new, key) != getattr(old, key)
        ]
        new = attrs.evolve(new, **{key: getattr(old, key) for key in fixed})
        changed = [key for key in KEYS if getattr(new, key) != getattr(old, key)]
        if _zone_contents(new) != _zone_contents(old) and "zone" not in changed:
            changed.append("zone files")
        hints: Sequence[Any] | None = list(new.hints) if new.hints is not None else None
        if new.sandbox:
            hints = self.resolver.root_hints  # the simulated internet's, as at start
        try:
            self.resolver.reconfigure(
                new.resolver_settings(), root_hints=hints, local_zones=new.zones
            )
        except DNSError as exc:
            log.error("reload failed, the old configuration keeps serving: %s", exc)
            raise ConfigError(str(exc)) from None
        # The cache's limits apply from its next insert; its entries stay. (Its
        # stale retention is the resolver's to set, in reconfigure.)
        cache, fresh = self.resolver.cache, new.cache()
        for limit in _CACHE_LIMITS:
            setattr(cache, limit, getattr(fresh, limit))
        self.server.reconfigure(new.server_settings())
        logging.getLogger().setLevel(new.logging_level)
        logging.getLogger("trio_dns.query").setLevel(
            logging.INFO if new.query_log else logging.NOTSET
        )
        self.config = new
        self.reloads += 1
        where = self.config_file or "the command line"
        lines = [
            f"reloaded {where}: {len(new.zone)} zone files",
            f"changed: {', '.join(changed) or 'nothing'}",
        ]
        if fixed:
            lines.append(f"not changed until a restart: {', '.join(fixed)}")
        for line in lines:
            log.warning("reload: %s", line)
        return lines


def _zone_contents(config: ServeConfig) -> list[tuple[object, ...]]:
    return [(zone.origin, zone.transparent, set(zone.records)) for zone in config.zones]


async def start_control(nursery: trio.Nursery, reloader: Reloader) -> Path | None:
    """Serve the control socket in `nursery`, if the configuration has one; where
    it is. At the default location, a socket another server answers on is left
    to it (this server then has none); a configured one must be free."""
    path = control_socket_path(reloader.config)
    if path is None:
        return None
    control = Control(reloader.server, reloader.reload_async, reloader.describe)
    try:
        where: Path = await nursery.start(control.serve, path)
    except SocketInUse as exc:
        if reloader.config.control_socket is not None:
            raise
        # Quietly: at the default place that is normal for a second server (tests,
        # a second instance); `trio-dns control status` tells whose it is.
        log.debug("%s; this one has no control socket", exc)
        return None
    return where

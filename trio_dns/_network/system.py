"""The system's resolver: what /etc/resolv.conf says, as a `Resolver`.

Theory of operation: a stub resolver, in the C library's sense, is a recursive
resolver's forwarding mode at the root: every question goes, with RD set, to the
nameservers resolv.conf lists, raced as forward zones' upstreams are, answers
cached, truncated replies asked again over TCP, no validation of its own (the
upstream's SERVFAIL and its Extended DNS Error are passed on). So
`SystemResolver` is a `Resolver` whose settings come from resolv.conf, read once
when it is made (`_decisions/resolv_conf.py` parses it). What it adds is the
search list: `resolve` takes the name as the user typed it and tries the names
glibc's res_search would, in its order, until one has data; a `Name` is
absolute and is asked as it is. `timeout` times `attempts` is the deadline of one
name, `attempts` the rounds through the servers; the per-server timeouts follow
the measured RTTs, as every race does. `rotate` and `edns0` are read but change
nothing: the race orders the servers by RTT, and EDNS0 is always on (dropped
only for a server that rejects it).

A missing file, or one without a usable nameserver, is logged as a warning and
leaves the resolver recursing from the root servers, search list and all.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import attrs

from .._decisions.answer import Answer
from .._decisions.resolv_conf import SystemConfig, keeps_searching, search_outcome
from .._wire.enums import RRClass, RRType
from .._wire.name import Name
from .lifetime import check_lifetime, within_lifetime
from .resolver import Resolver, ResolverSettings
from .transport import Transport

log = logging.getLogger("trio_dns.system")

RESOLV_CONF = Path("/etc/resolv.conf")


@attrs.define(eq=False)
class SystemResolver(Resolver):
    """A `Resolver` that asks the system's nameservers and applies its search list."""

    config: SystemConfig = attrs.field(factory=SystemConfig, kw_only=True)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str] = RESOLV_CONF,
        *,
        port: int = 53,
        transport: Transport | None = None,
    ) -> SystemResolver:
        """Read resolv.conf (once) and make the resolver it describes; `port` is
        the nameservers' port (53: resolv.conf cannot say)."""
        try:
            text = Path(path).read_text(errors="replace")
            config = SystemConfig.from_text(text, os.environ, socket.gethostname())
        except OSError as exc:
            log.warning(
                "cannot read %s (%s): resolving from the root servers", path, exc.strerror or exc
            )
            config = SystemConfig.from_text("", os.environ, socket.gethostname())
        else:
            if not config.nameservers:
                log.warning("%s names no usable nameserver: resolving from the root servers", path)
        return cls.from_config(config, port=port, transport=transport)

    @classmethod
    def from_config(
        cls, config: SystemConfig, *, port: int = 53, transport: Transport | None = None
    ) -> SystemResolver:
        settings = ResolverSettings()
        if config.nameservers:
            settings = ResolverSettings(
                forwarders=tuple((host, port) for host in config.nameservers),
                deadline=config.timeout * config.attempts,
                rounds=config.attempts,
            )
        if transport is None:
            return cls(settings=settings, config=config)
        return cls(transport=transport, settings=settings, config=config)

    async def resolve(
        self,
        name: Name | str,
        qtype: RRType | str | int = RRType.A,
        qclass: RRClass | str | int = RRClass.IN,
        *,
        trace: bool = False,
        cd: bool = False,
        lifetime: float | None = None,
    ) -> Answer:
        """Resolve `name` as typed, through the search list (see `SystemConfig`);
        `lifetime` bounds the whole search. Otherwise as `Resolver.resolve`."""
        candidates: tuple[Name, ...]
        if isinstance(name, Name):
            candidates, as_typed_first = (name,), True
        else:
            candidates = self.config.candidates(name)
            as_typed_first = self.config.as_typed_first(name)
        rtype = RRType.make(qtype)
        rclass = RRClass.make(qclass)
        check_lifetime(lifetime)
        search = self._search(candidates, as_typed_first, rtype, rclass, trace, cd)
        if lifetime is None:
            return await search
        return await within_lifetime(lifetime, search, candidates[0], rtype, rclass)

    async def _search(
        self,
        candidates: tuple[Name, ...],
        as_typed_first: bool,
        rtype: RRType,
        rclass: RRClass,
        trace: bool,
        cd: bool,
    ) -> Answer:
        answers: list[Answer] = []
        for candidate in candidates:
            # Not super(): attrs makes a new class for the slots.
            answer = await Resolver.resolve(self, candidate, rtype, rclass, trace=trace, cd=cd)
            answers.append(answer)
            if not keeps_searching(answer):
                break
        return search_outcome(answers, as_typed_first)


_system: Resolver | None = None


def system_resolver() -> Resolver:
    """The process-wide resolver made from /etc/resolv.conf (read on first use),
    behind `trio_dns.addresses` and `trio_dns.reverse`."""
    global _system
    if _system is None:
        _system = SystemResolver.from_file(RESOLV_CONF)
    return _system

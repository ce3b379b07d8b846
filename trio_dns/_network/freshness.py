"""Keeping answers coming when the cache ages: serve-stale and prefetch, driven.

Theory of operation: `Freshness` sits between `Resolver.resolve` and the
resolution of each client question it does not share with another.

Serve-stale (RFC 8767, with `serve_stale`): the cache keeps expired entries
for `stale_max_age` seconds. If the question's answer would be built from some
of them (`stale_answer`), the resolution runs as a background task and the
client waits `stale_answer_client_timeout` seconds for it at most; then it is
given the stale answer (TTL `stale_answer_ttl`, EDE 3) while the resolution
goes on, bounded by its deadline, and refreshes the cache when it succeeds.
Other clients asking meanwhile join that same background resolution. Without
the background (see below) or without a client timeout, the client waits for
the resolution as always. Either way, a resolution that fails (SERVFAIL other
than for DNSSEC: the authorities unreachable, lame, out of time) is answered
stale if the cache has the data, and for `stale_answer_ttl` seconds after that
the question is answered stale at once, without asking again (RFC 8767's
failure recheck timer).

Prefetch (`prefetch`): when an answer is given from RRsets in the last tenth
of their TTLs (`due_for_refresh`), each is refreshed by a background `Refresh`
(and validated, when the resolver validates): one task per RRset at a time, at
most `max_prefetches` at once (more are counted and skipped), never delaying
the answer.

Background tasks need a nursery: the server lends its own (`background`) for
as long as it serves, and `running()` opens one. A resolver used as a library
without either still serves stale answers after failures, but neither
prefetches nor answers early. A background task is an error boundary: a bug in
one is logged and counted (`FreshnessStats.errors`), never raised into the
server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import attrs
import trio

from .._decisions.answer import Answer, servfail
from .._decisions.prefetch import Refresh, before_prefetch, due_for_refresh
from .._decisions.stale import stale_answer
from .._trust import Validation
from .._wire.enums import EdeCode, RRClass, RRType
from .._wire.name import Name

if TYPE_CHECKING:
    from .resolver import Resolver

log = logging.getLogger("trio_dns.resolver")

_Key = tuple[Name, RRType, RRClass]

MAX_FAILURES_KEPT = 10_000  # questions remembered as failing, for the recheck timer


@attrs.define
class FreshnessStats:
    # Answers made from expired data (EDE 3 or 19); clients sharing one count once.
    stale_answers: int = 0
    prefetches: int = 0  # background refreshes started
    prefetches_skipped: int = 0  # due, but max_prefetches were running already
    errors: int = 0  # bugs met in background tasks


@attrs.define(eq=False)
class _Continuing:
    """A resolution that goes on in the background after a stale answer."""

    done: trio.Event = attrs.Factory(trio.Event)
    answer: Answer | None = None


@attrs.define(eq=False)
class Freshness:
    """Serve-stale and prefetch for one resolver; see the module docstring."""

    resolver: Resolver
    stats: FreshnessStats = attrs.Factory(FreshnessStats)
    _nursery: trio.Nursery | None = attrs.field(init=False, default=None)
    _continuing: dict[_Key, _Continuing] = attrs.field(init=False, factory=dict)
    _prefetching: set[_Key] = attrs.field(init=False, factory=set)
    # Questions whose resolution failed and was answered stale, and when (oldest first).
    _failed: dict[_Key, float] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._retain()

    def _retain(self) -> None:
        """Have the cache keep expired data as long as it may be served."""
        settings, cache = self.resolver.settings, self.resolver.cache
        if settings.serve_stale and cache.stale_retention < settings.stale_max_age:
            cache.stale_retention = settings.stale_max_age

    @property
    def prefetching(self) -> bool:
        """Whether cached answers near expiry are refreshed in the background
        (`prefetch` on, and `running()`)."""
        return self._nursery is not None and self.resolver.settings.prefetch

    @contextmanager
    def background(self, nursery: trio.Nursery) -> Iterator[None]:
        """Start background tasks in `nursery` while the body runs. The nursery's
        owner ends them (by cancelling it); none start once the body is over."""
        self._nursery = nursery
        try:
            yield
        finally:
            self._nursery = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Background tasks in a nursery of their own, cancelled when the body ends."""
        async with trio.open_nursery() as nursery:
            with self.background(nursery):
                try:
                    yield
                finally:
                    nursery.cancel_scope.cancel()

    # -- one client question ----------------------------------------------------------

    async def resolve(self, qname: Name, qtype: RRType, qclass: RRClass) -> Answer:
        """The answer to a client question: resolved, or stale when it must be."""
        resolver = self.resolver
        settings = resolver.settings
        if not settings.serve_stale:
            answer = await resolver._resolve_with_deadline(qname, qtype, qclass, False)
            self._prefetch_if_due(answer)
            return answer
        self._retain()  # the settings may have changed (Resolver.reconfigure)
        key = (qname, qtype, qclass)
        timeout = settings.stale_answer_client_timeout
        stale = self._stale(qname, qtype, qclass)
        if stale is not None and self._failed_lately(key):
            self.stats.stale_answers += 1
            return stale  # no asking again until the recheck time is up
        if stale is not None and timeout > 0 and self._nursery is not None:
            continuing = self._continuing.get(key)
            if continuing is None:
                continuing = self._continuing[key] = _Continuing()
                self._nursery.start_soon(self._continue, key, continuing)
            with trio.move_on_after(timeout):
                await continuing.done.wait()
            if continuing.answer is None:
                self.stats.stale_answers += 1
                return stale
            answer = continuing.answer
        else:
            answer = await resolver._resolve_with_deadline(qname, qtype, qclass, False)
        if answer.failed and answer.validation is not Validation.BOGUS:
            stale = self._stale(qname, qtype, qclass)
            if stale is not None:
                self._failed_at(key)
                self.stats.stale_answers += 1
                return stale
        self._prefetch_if_due(answer)
        return answer

    def _failed_lately(self, key: _Key) -> bool:
        """Whether resolving `key` failed less than `stale_answer_ttl` seconds ago
        and was answered stale: RFC 8767 section 4's failure recheck timer (30 s
        suggested, as that TTL), so that clients are not each kept waiting, and
        the unreachable servers asked again, for every stale answer."""
        failed = self._failed.get(key)
        if failed is None:
            return False
        if self.resolver.now() < failed + self.resolver.settings.stale_answer_ttl:
            return True
        del self._failed[key]
        return False

    def _failed_at(self, key: _Key) -> None:
        failed = self._failed
        failed.pop(key, None)
        failed[key] = self.resolver.now()
        if len(failed) > MAX_FAILURES_KEPT:
            del failed[next(iter(failed))]  # the oldest: its recheck time is up first

    def _stale(self, qname: Name, qtype: RRType, qclass: RRClass) -> Answer | None:
        resolver = self.resolver
        return stale_answer(
            resolver.cache,
            qname,
            qtype,
            qclass,
            resolver.now(),
            ttl=resolver.settings.stale_answer_ttl,
            max_chain=resolver.settings.max_chain,
            validating=resolver.validating,
        )

    async def _continue(self, key: _Key, continuing: _Continuing) -> None:
        qname, qtype, qclass = key
        try:
            answer = await self.resolver._resolve_with_deadline(qname, qtype, qclass, False)
            if answer.failed and answer.validation is not Validation.BOGUS:
                self._failed_at(key)  # its clients had stale answers meanwhile
            continuing.answer = answer
        except Exception as exc:
            self._bug(f"resolving {qname} {qtype.name} in the background", exc)
            continuing.answer = servfail(qname, qtype, qclass, EdeCode.OTHER, "internal error")
        finally:
            del self._continuing[key]
            continuing.done.set()

    # -- prefetch ---------------------------------------------------------------------

    def fast_path_lifetime(self, answer: Answer, lifetime: int) -> int:
        """How long a server may give the reply made from `answer` without asking
        the resolver again (its encoded-reply cache): `lifetime`, or while
        prefetching only until the last tenth of it, and not at all (0) once
        there, since a refresh is under way and the next answer is the new one."""
        if not self.prefetching:
            return lifetime
        if due_for_refresh(self.resolver.cache, answer, self.resolver.now()):
            return 0
        return before_prefetch(lifetime)

    def _prefetch_if_due(self, answer: Answer) -> None:
        nursery = self._nursery
        if nursery is None or not self.resolver.settings.prefetch or answer.failed:
            return
        resolver = self.resolver
        for name, rtype in due_for_refresh(resolver.cache, answer, resolver.now()):
            key = (name, rtype, answer.qclass)
            if key in self._prefetching:
                continue  # one refresh per RRset at a time
            if len(self._prefetching) >= resolver.settings.max_prefetches:
                self.stats.prefetches_skipped += 1
                continue
            self._prefetching.add(key)
            self.stats.prefetches += 1
            nursery.start_soon(self._prefetch, key)

    async def _prefetch(self, key: _Key) -> None:
        resolver = self.resolver
        name, rtype, rclass = key
        try:
            with trio.move_on_after(resolver.settings.deadline):
                work = resolver._work(None)
                refresh = Refresh(resolver._context, name, rtype, rclass, work)
                answer = await resolver._guarded(resolver._drive(refresh), name, rtype, rclass)
                if resolver.validating and not answer.failed:
                    # Kept with the refreshed data, so the next answer from it is
                    # not validated again.
                    await resolver._guarded(resolver._validated(answer, work), name, rtype, rclass)
        except Exception as exc:
            self._bug(f"prefetching {name} {rtype.name}", exc)
        finally:
            self._prefetching.discard(key)

    def _bug(self, what: str, exc: Exception) -> None:
        self.stats.errors += 1
        count = self.stats.errors
        if count & (count - 1) == 0:  # the 1st, 2nd, 4th... time: no flooding the log
            log.error(
                "internal error %s (%d so far): %r",
                what,
                count,
                exc,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )

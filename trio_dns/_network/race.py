"""Racing nameservers, happy-eyeballs style.

Theory of operation: the candidates are tried in order of preference, one task
each, all inside one nursery. The first starts at once; each next one starts when
the previous has failed or when its stagger delay has passed without an answer,
whichever is first. The first attempt to succeed wins: it cancels the nursery, so
every other attempt still running is really cancelled (its socket closed, its
timer gone). If every attempt fails, the race raises one `RaceFailed` that carries
each candidate's error. This is the shape of Trio's own `open_tcp_stream`.

Only the errors that mean "this server did not give us a usable answer" count as
an attempt failing; anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import attrs
import trio

from .._address import format_address
from .._errors import DNSError

T = TypeVar("T")
C = TypeVar("C")

# What an attempt may raise to say "not this one": DNS-level trouble, a network
# error (unreachable, refused) or its own timeout.
ATTEMPT_ERRORS = (DNSError, OSError, trio.TooSlowError)


class RaceFailed(DNSError):
    """Every candidate failed; `errors` pairs each one with why."""

    def __init__(self, errors: list[tuple[object, BaseException]]) -> None:
        self.errors = errors
        detail = "; ".join(f"{_name(candidate)}: {_why(error)}" for candidate, error in errors)
        super().__init__(
            f"all {len(errors)} attempts failed ({detail})" if errors else "no candidates"
        )


def _name(candidate: object) -> str:
    if isinstance(candidate, tuple) and len(candidate) == 2:
        host, port = candidate
        if isinstance(host, str) and isinstance(port, int):
            return format_address((host, port))
    return str(candidate)


def _why(error: BaseException) -> str:
    if isinstance(error, trio.TooSlowError):
        return "timed out"
    return str(error) or type(error).__name__


@attrs.frozen
class RaceResult(Generic[C, T]):
    winner: C
    value: T
    started: int  # how many attempts were started before the winner finished


async def race(
    candidates: Sequence[C],
    attempt: Callable[[C], Awaitable[T]],
    stagger: Callable[[C], float],
) -> RaceResult[C, T]:
    """Run `attempt` over `candidates`, staggered; return the first success."""
    if len(candidates) == 1:
        # Nothing to race: skip the nursery and the extra task, the common case
        # for zones with one server left to try.
        (only,) = candidates
        try:
            return RaceResult(only, await attempt(only), 1)
        except ATTEMPT_ERRORS as exc:
            raise RaceFailed([(only, exc)]) from None
    results: list[tuple[C, T]] = []
    errors: list[tuple[object, BaseException]] = []
    started = 0

    async with trio.open_nursery() as nursery:

        async def run(candidate: C, failed: trio.Event) -> None:
            try:
                value = await attempt(candidate)
            except ATTEMPT_ERRORS as exc:
                errors.append((candidate, exc))
                failed.set()
                return
            if not results:
                results.append((candidate, value))
                nursery.cancel_scope.cancel()

        for candidate in candidates:
            failed = trio.Event()
            started += 1
            nursery.start_soon(run, candidate, failed)
            with trio.move_on_after(stagger(candidate)):
                await failed.wait()

    if results:
        winner, value = results[0]
        return RaceResult(winner, value, started)
    raise RaceFailed(errors)

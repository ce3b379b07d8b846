"""A per-call time limit for a resolution: `lifetime=` seconds, start to finish.

Trio's way is the caller's own cancel scope, and that still works; but a scope
that fires leaves the caller with `Cancelled` caught and no answer at all. A
`lifetime` ends the same way as the resolver's own deadline does: an `Answer`,
SERVFAIL with an Extended DNS Error and `timed_out` set, which
`raise_for_status()` turns into `ResolutionTimeout`.
"""

from __future__ import annotations

from collections.abc import Awaitable

import trio

from .._decisions.answer import Answer, servfail
from .._wire.enums import EdeCode, RRClass, RRType
from .._wire.name import Name


def check_lifetime(lifetime: float | None) -> None:
    if lifetime is not None and not lifetime > 0:
        raise ValueError(f"lifetime must be a positive number of seconds, not {lifetime!r}")


async def within_lifetime(
    lifetime: float, resolution: Awaitable[Answer], qname: Name, qtype: RRType, qclass: RRClass
) -> Answer:
    """The resolution's answer, or a timed-out SERVFAIL after `lifetime` seconds."""
    with trio.move_on_after(lifetime):
        return await resolution
    return servfail(
        qname,
        qtype,
        qclass,
        EdeCode.NO_REACHABLE_AUTHORITY,
        f"no answer within the {lifetime:g} s lifetime",
        timed_out=True,
    )

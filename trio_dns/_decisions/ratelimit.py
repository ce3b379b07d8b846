"""Rate limits: a token bucket per key (a client address, a zone), in bounded memory.

Theory of operation: each key has a bucket of up to `burst` tokens that refills
at `rate` tokens per second of `now`; a query takes a token, and a query that
finds none is over the limit (counted in `limited`). So a key is allowed `rate`
queries a second on average and `burst` at once, and one key's flood empties
only its own bucket: every other key keeps its own rate.

Buckets are kept in least-recently-used order, at most `max_keys` of them. A
new key past that evicts the one used least recently, so sources spoofed by
the million cost a bounded dict. Eviction only ever forgets a bucket, and a
forgotten key starts again with a full one: the worst an attacker gains by
churning the table is `burst` more queries for a key whose bucket it pushed
out, and pushing out a key that is itself busy takes `max_keys` other keys
between two of its queries.

`slip` is NSD's and Knot's answer to spoofing for the queries over the limit:
every `every`-th one is answered with TC=1 instead of dropped, so a real client
whose address a flood borrowed still gets through over TCP, while a reflection
attack gains only small empty replies, and few.

Pure: no clock of its own (`now` passed in, in seconds), no I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

import attrs

Key = TypeVar("Key", bound=Hashable)

DEFAULT_MAX_KEYS = 100_000  # buckets kept: some 25 MB at most, however many sources


@attrs.define(eq=False)
class TokenBuckets(Generic[Key]):
    """`allow(key, now)`: whether one more query for `key` is within the limit."""

    rate: float  # tokens added per second
    burst: float  # the most a bucket holds: queries allowed at once
    max_keys: int = DEFAULT_MAX_KEYS
    limited: int = 0  # queries found over the limit, ever
    # key -> [tokens, when last refilled]; a list, so refilling changes it in place.
    _buckets: OrderedDict[Key, list[float]] = attrs.field(init=False, factory=OrderedDict)

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1 or self.max_keys < 1:
            raise ValueError("a rate limit needs rate > 0, burst >= 1 and room for one key")

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: Key, now: float) -> bool:
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_keys:
                buckets.popitem(last=False)
            buckets[key] = [self.burst - 1.0, now]
            return True
        buckets.move_to_end(key)
        # A clock that steps back refills nothing (and takes nothing away).
        elapsed = max(now - bucket[1], 0.0)
        tokens = min(self.burst, bucket[0] + elapsed * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        self.limited += 1
        return False


def slip(limited: int, every: int) -> bool:
    """Whether the `limited`-th query over the limit (counting from 1) is answered
    with TC=1 rather than dropped: every `every`-th one; none when `every` is 0."""
    return every > 0 and limited % every == 0

"""Unpredictable numbers for query IDs, source ports and 0x20 case bits, cheaply.

Every upstream query needs a fresh ID and a fresh source port that an off-path
attacker cannot guess (RFC 5452), and a random case for each letter of its name
(draft-vixie-dnsext-dns0x20). `secrets` gives exactly that, but asks the
kernel (a getrandom system call) for every number; at thousands of queries a
second those calls cost more than building the query. So the same kernel
randomness is fetched a few thousand numbers at a time and handed out in order.
Nothing is derived or stretched: each number is two fresh octets from the
kernel's CSPRNG. After a fork the child throws its copy away, so parent and
child never hand out the same numbers.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator

_BATCH = 4096  # octets fetched at once: 2,048 numbers
_PORT_FLOOR = 1024  # below this are the ports reserved for servers


def _refill() -> Iterator[int]:
    return iter(array("H", os.urandom(_BATCH)))


_numbers = _refill()
_octets = b""  # random octets not yet handed out by random_bytes, and where they start
_offset = 0


def _forget() -> None:
    global _numbers, _octets, _offset
    _numbers = _refill()
    _octets, _offset = b"", 0


os.register_at_fork(after_in_child=_forget)


def random_u16() -> int:
    """A uniformly random number in [0, 65535]."""
    global _numbers
    try:
        return next(_numbers)
    except StopIteration:
        _numbers = _refill()
        return next(_numbers)


def random_port() -> int:
    """A uniformly random port in [1024, 65535]."""
    while True:
        port = random_u16()
        if port >= _PORT_FLOOR:  # rejection, not modulo, keeps it uniform
            return port


def random_bytes(count: int) -> bytes:
    """`count` uniformly random octets from the kernel's CSPRNG."""
    global _octets, _offset
    if count > _BATCH:
        return os.urandom(count)
    if _offset + count > len(_octets):
        _octets, _offset = os.urandom(_BATCH), 0
    start = _offset
    _offset += count
    return _octets[start:_offset]

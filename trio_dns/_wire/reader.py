"""A bounds-checked cursor over untrusted bytes.

Theory of operation: every read checks the bytes are there and raises
`MalformedMessage` (with the offset) if not, so the code that builds messages on
top of it never sees IndexError or struct.error. `restrict_to(n)` narrows the end
to the rdata being parsed, so an rdata parser cannot read into the next record.

Names may be compressed (RFC 1035 section 4.1.4). A pointer must point strictly
backwards from the start of the name that contains it, which makes every chain of
pointers finite; on top of that the number of jumps per name is capped and names
already decoded are remembered by offset, so a hostile packet cannot make parsing
deep, slow or quadratic.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager

from .._errors import MalformedMessage
from .name import MAX_NAME, Name

_MAX_JUMPS = 128  # a name has at most 127 labels; a longer chain is an attack
_HEADER_SIZE = 12
# Labels seen lately, each kept once: the names a cache holds share their
# suffixes ("com", "example"), and a label parsed from every reply again would
# otherwise be a new copy each time. Bounded (cleared when full) against a flood
# of names made up to fill it.
_LABELS: dict[bytes, bytes] = {}
_MAX_LABELS = 8192

_u16 = struct.Struct("!H").unpack_from
_u32 = struct.Struct("!I").unpack_from


class WireReader:
    __slots__ = ("_names", "data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self._names: dict[int, tuple[Name, int]] = {}

    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int) -> int:
        pos = self.pos
        if pos + n > self.end:
            raise MalformedMessage(f"needed {n} more octets, {self.end - pos} left", pos)
        self.pos = pos + n
        return pos

    def u8(self) -> int:
        return self.data[self._need(1)]

    def u16(self) -> int:
        return int(_u16(self.data, self._need(2))[0])

    def u32(self) -> int:
        return int(_u32(self.data, self._need(4))[0])

    def read(self, n: int) -> bytes:
        pos = self._need(n)
        return self.data[pos : pos + n]

    def rest(self) -> bytes:
        pos = self.pos
        self.pos = self.end
        return self.data[pos : self.end]

    def unpack(self, fmt: struct.Struct) -> tuple[int, ...]:
        pos = self._need(fmt.size)
        return fmt.unpack_from(self.data, pos)

    def counted_bytes(self) -> bytes:
        """A <character-string>: one length octet, then that many octets."""
        return self.read(self.u8())

    @contextmanager
    def restrict_to(self, length: int) -> Iterator[None]:
        """Confine reads to the next `length` octets, which must all be consumed."""
        start = self.pos
        if start + length > self.end:
            raise MalformedMessage(f"length {length} runs past the end", start)
        saved_end = self.end
        self.end = start + length
        try:
            yield
            if self.pos != self.end:
                raise MalformedMessage(f"{self.end - self.pos} octets left over", self.pos)
        finally:
            self.end = saved_end

    def name(self) -> Name:
        """Read a possibly compressed name."""
        name, self.pos = self._name_at(self.pos, self.end, 0)
        return name

    def _name_at(self, start: int, limit: int, jumps: int) -> tuple[Name, int]:
        cached = self._names.get(start)
        if cached is not None and cached[1] <= limit:
            return cached
        data = self.data
        labels: list[bytes] = []
        pos = start
        while True:
            if pos >= limit:
                raise MalformedMessage("name runs past the end", pos)
            length = data[pos]
            if length == 0:
                wire = data[start : pos + 1]
                after = pos + 1
                break
            if length <= 63:
                pos += 1
                label_end = pos + length
                if label_end > limit:
                    raise MalformedMessage("label runs past the end", pos - 1)
                label = data[pos:label_end]
                kept = _LABELS.get(label)
                if kept is None:
                    if len(_LABELS) >= _MAX_LABELS:
                        _LABELS.clear()
                    _LABELS[label] = kept = label
                labels.append(kept)
                pos = label_end
                if pos - start >= MAX_NAME:
                    raise MalformedMessage("name longer than 255 octets", start)
            elif length >= 0xC0:
                if pos + 1 >= limit:
                    raise MalformedMessage("compression pointer cut short", pos)
                target = ((length & 0x3F) << 8) | data[pos + 1]
                if target < _HEADER_SIZE:
                    raise MalformedMessage("compression pointer into the header", pos)
                if target >= start:
                    raise MalformedMessage("compression pointer does not point backwards", pos)
                if jumps >= _MAX_JUMPS:
                    raise MalformedMessage("too many compression pointers", pos)
                suffix, _ = self._name_at(target, len(data), jumps + 1)
                wire = data[start:pos] + suffix._wire
                if len(wire) > MAX_NAME:
                    raise MalformedMessage("name longer than 255 octets", start)
                labels.extend(suffix.labels)
                after = pos + 2
                break
            else:
                raise MalformedMessage(f"unknown label type 0x{length:02x}", pos)
        result = (Name._trusted(tuple(labels), wire), after)
        self._names[start] = result
        return result

"""Building wire-format messages, with name compression.

Theory of operation: bytes accumulate in one bytearray. Each name written with
compression allowed registers the offsets of all its suffixes, keyed by their
lowercased wire form (a slice of `Name`'s key), so a later name that shares a
suffix writes a 2-octet pointer instead. Offsets past 0x3FFF cannot be pointed at
and are not registered.
"""

from __future__ import annotations

import struct

from .name import Name

_u16 = struct.Struct("!H")
_u32 = struct.Struct("!I")


class WireWriter:
    __slots__ = ("_table", "buf", "lowercase")

    def __init__(self, lowercase: bool = False) -> None:
        self.buf = bytearray()
        self._table: dict[bytes, int] = {}
        # Set when writing the DNSSEC canonical form of rdata that lowercases names.
        self.lowercase = lowercase

    def __len__(self) -> int:
        return len(self.buf)

    def u8(self, value: int) -> None:
        self.buf.append(value)

    def u16(self, value: int) -> None:
        self.buf += _u16.pack(value)

    def u32(self, value: int) -> None:
        self.buf += _u32.pack(value)

    def write(self, data: bytes) -> None:
        self.buf += data

    def counted_bytes(self, data: bytes) -> None:
        if len(data) > 255:
            raise ValueError(f"character-string of {len(data)} octets is longer than 255")
        self.buf.append(len(data))
        self.buf += data

    def name(self, name: Name, compress: bool = True) -> None:
        buf = self.buf
        wire = name._key if self.lowercase else name._wire
        if not compress or len(wire) == 1:
            buf += wire
            return
        key = name._key
        table = self._table
        start = len(buf)
        offset = 0
        pointer = None
        for label in name.labels:
            pointer = table.get(key[offset:])
            if pointer is not None:
                break
            offset += len(label) + 1
        # Register the suffixes this name writes out in full.
        written = 0
        for label in name.labels:
            if written >= offset or start + written > 0x3FFF:
                break
            table[key[written:]] = start + written
            written += len(label) + 1
        if pointer is None:
            buf += wire
        else:
            buf += wire[:offset]
            buf += _u16.pack(0xC000 | pointer)

    def truncate(self, length: int) -> None:
        """Drop everything from `length` on, forgetting compression targets there."""
        del self.buf[length:]
        self._table = {k: v for k, v in self._table.items() if v < length}

    def getvalue(self) -> bytes:
        return bytes(self.buf)

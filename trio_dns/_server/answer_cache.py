"""The server's fast path: whole encoded replies, keyed by the question's own bytes.

Theory of operation: most queries a resolver serves are repeats. For those it
should not parse the query into objects, resolve, build a `Message` and encode
it again: `peek_query_untrusted` reads just the header, the question and an
optional OPT record straight from the datagram and returns a key made of the
qname's lowercased wire form, qtype, qclass and everything else that changes the
reply (RD and CD, the DO bit, the size limit the reply had to fit, whether a
cookie is echoed). Anything unusual (other EDNS options, compression in the
question, more than one record...) gives None, and the caller takes the slow
path, which parses everything and answers in full.

`AnswerCache` maps a key to the reply encoded by the slow path, with the offset
of each record's TTL field and the TTL it had when stored (found by walking the
reply the first time its TTLs need counting down: most replies stored after a
cache miss are never asked for again, so they are never walked). A hit costs a few
slices: the stored reply with the query's ID and question (so the client sees
its own spelling of the name), the TTLs counted down by the whole seconds the
entry has aged (recomputed once a second, not per query), and, if the query
carried a cookie, the client's cookie and our server cookie in place of the
last 16 octets, where the slow path always puts them. An entry lives as long as
its smallest TTL, so no reply ever carries a TTL of 0 or less. Eviction is
oldest-first (entries expire by TTL anyway), from an OrderedDict: a hit is a
plain dict look-up, an eviction O(1).
Nothing here reads a clock or touches a socket; callers pass `now`.
"""

from __future__ import annotations

import struct
from collections import OrderedDict

import attrs

_OPT_FIXED = struct.Struct("!HHIH")  # type, class (payload size), TTL (flags), rdlength
_U32 = struct.Struct("!I")
_COUNTS_ONE_QUESTION = b"\x00\x01\x00\x00\x00\x00\x00"  # QD=1, AN=0, NS=0, AR high octet 0
# QR, opcode, TC and rcode must all be zero in a query the fast path will take.
_REJECT_FLAGS = 0xFA0F
# The flags that change the reply: RD (recursion or cache only), CD (validation
# off), and AD (whether AD may be set in the reply).
KEY_FLAGS = 0x0130
COOKIE_OPTION = 10
# A cookie option as the server writes it: code, length 16, client (8), server (8).
COOKIE_TAIL = 16
_COOKIE_HEADER = b"\x00\x0a\x00\x10"
TCP_LIMIT = 65535
MIN_UDP_PAYLOAD = 512

# (qname lowercased + qtype + qclass, RD|CD bits, size limit, DO, has cookie)
AnswerKey = tuple[bytes, int, int, bool, bool]
# The key, where the question ends, and the client cookie (8 octets) or None.
QueryPeek = tuple[AnswerKey, int, bytes | None]


def question_end_untrusted(data: bytes) -> int | None:
    """Offset just past the first question, if it is there and uncompressed."""
    n = len(data)
    if n < 12 or data[4] == data[5] == 0:
        return None
    pos = 12
    while pos < n:
        length = data[pos]
        if length == 0:
            end = pos + 5
            return end if end <= n and pos + 1 - 12 <= 255 else None
        if length > 63:  # a pointer (nothing to point back to) or a reserved label type
            return None
        pos += length + 1
    return None


def peek_query_untrusted(data: bytes, *, tcp: bool, max_udp: int) -> QueryPeek | None:
    """The fast-path key of an ordinary query, or None for anything else."""
    n = len(data)
    if n < 17 or data[4:11] != _COUNTS_ONE_QUESTION:
        return None
    flags = (data[2] << 8) | data[3]
    arcount = data[11]
    if flags & _REJECT_FLAGS or arcount > 1:
        return None
    qend = question_end_untrusted(data)
    if qend is None:
        return None
    name_end = qend - 4
    question = data[12:name_end].lower() + data[name_end:qend]
    cookie = None
    dnssec_ok = False
    if arcount == 0:
        if qend != n:
            return None
        limit = TCP_LIMIT if tcp else MIN_UDP_PAYLOAD
    else:
        options = qend + 11
        if options > n or data[qend] != 0:
            return None
        rtype, payload, ttl, rdlength = _OPT_FIXED.unpack_from(data, qend + 1)
        # Extended rcode and version 0, no flags but DO.
        if rtype != 41 or ttl & 0xFFFF7FFF or options + rdlength != n:
            return None
        dnssec_ok = bool(ttl & 0x8000)
        if rdlength:
            if rdlength < 4:
                return None
            code = (data[options] << 8) | data[options + 1]
            length = (data[options + 2] << 8) | data[options + 3]
            if code != COOKIE_OPTION or length + 4 != rdlength:
                return None
            if length != 8 and not 16 <= length <= 40:
                return None
            cookie = data[options + 4 : options + 12]
        limit = TCP_LIMIT if tcp else min(max(payload, MIN_UDP_PAYLOAD), max_udp)
    key = (question, flags & KEY_FLAGS, limit, dnssec_ok, cookie is not None)
    return key, qend, cookie


def ttl_fields(wire: bytes) -> list[tuple[int, int]]:
    """(offset, TTL) of every record's TTL field except OPT's, in an encoded message.

    Raises ValueError if the message does not walk cleanly (it is then not cached).
    """
    n = len(wire)
    if n < 12:
        raise ValueError("shorter than a header")
    qdcount, ancount, nscount, arcount = struct.unpack_from("!HHHH", wire, 4)
    pos = 12
    fields = []
    for index in range(qdcount + ancount + nscount + arcount):
        while True:  # skip the owner name
            if pos >= n:
                raise ValueError("name runs past the end")
            length = wire[pos]
            if length >= 0xC0:
                pos += 2
                break
            pos += length + 1
            if length == 0:
                break
        if index < qdcount:
            pos += 4
            continue
        if pos + 10 > n:
            raise ValueError("record cut short")
        rtype = (wire[pos] << 8) | wire[pos + 1]
        if rtype != 41:
            fields.append((pos + 4, _U32.unpack_from(wire, pos + 4)[0]))
        pos += 10 + ((wire[pos + 8] << 8) | wire[pos + 9])
    if pos != n:
        raise ValueError("octets after the last record")
    return fields


@attrs.define(eq=False)
class _Entry:
    wire: bytes
    # Where the TTL fields are and what they said; None until first needed,
    # since most replies stored on a cache miss are never asked for again.
    fields: tuple[tuple[int, int], ...] | None
    stored: float
    expires: float
    cookie_at: int  # where the cookie option's client cookie starts; -1: none
    age: int = 0  # whole seconds `current` has been counted down by
    current: bytes = b""


@attrs.define(eq=False)
class AnswerCache:
    """Encoded replies by `AnswerKey`; see the module docstring."""

    max_entries: int = 10_000
    hits: int = 0
    misses: int = 0
    expired: int = 0
    inserts: int = 0
    # Ordered for eviction: deleting a plain dict's first key again and again
    # leaves a growing run of dead slots that every next(iter(...)) must skip
    # (about 4 µs a store at 10,000 entries); popitem(last=False) is O(1), and a
    # hit costs the same dict look-up.
    _entries: OrderedDict[AnswerKey, _Entry] = attrs.field(init=False, factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def reply(
        self, key: AnswerKey, query: bytes, question_end: int, cookie: bytes | None, now: float
    ) -> bytes | None:
        """The stored reply for this query, patched for it; None on a miss.

        `cookie` is the client cookie followed by the server cookie (16 octets),
        for a key that says the query has one.
        """
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if now >= entry.expires:
            del self._entries[key]
            self.expired += 1
            self.misses += 1
            return None
        age = int(now - entry.stored)
        if age != entry.age:
            if entry.fields is None:
                try:
                    entry.fields = tuple(ttl_fields(entry.wire))
                except ValueError:
                    del self._entries[key]
                    self.misses += 1
                    return None
            entry.current = _count_down(entry.wire, entry.fields, age)
            entry.age = age
        self.hits += 1
        wire = entry.current
        if entry.cookie_at >= 0 and cookie is not None:
            return (
                query[:2]
                + wire[2:12]
                + query[12:question_end]
                + wire[question_end : entry.cookie_at]
                + cookie
            )
        return query[:2] + wire[2:12] + query[12:question_end] + wire[question_end:]

    def store(self, key: AnswerKey, wire: bytes, now: float, lifetime: int | None = None) -> bool:
        """Keep `wire` (encoded at `now`) as the reply for `key`. True if stored.

        `lifetime` is the smallest TTL in the reply, if the caller knows it; then
        the reply is not walked until its TTLs first need counting down. Not
        stored: a reply with no records to time it (nothing says how long it is
        good for), a TTL under one second, or one that does not walk cleanly.
        """
        fields: tuple[tuple[int, int], ...] | None = None
        if lifetime is None:
            try:
                fields = tuple(ttl_fields(wire))
            except ValueError:
                return False
            if not fields:
                return False
            lifetime = min(ttl for _, ttl in fields)
        if lifetime < 1 or self.max_entries < 1:
            return False
        cookie_at = -1
        if key[4]:
            cookie_at = len(wire) - COOKIE_TAIL
            if wire[cookie_at - 4 : cookie_at] != _COOKIE_HEADER:
                return False
        if key not in self._entries and len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
        self._entries[key] = _Entry(wire, fields, now, now + lifetime, cookie_at, 0, wire)
        self.inserts += 1
        return True


def _count_down(wire: bytes, fields: tuple[tuple[int, int], ...], age: int) -> bytes:
    aged = bytearray(wire)
    pack = _U32.pack_into
    for offset, ttl in fields:
        pack(aged, offset, max(0, ttl - age))
    return bytes(aged)

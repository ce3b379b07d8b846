"""Build it yourself, chapter 5: a recursive resolver, from the root down.

    python ch5_recursive.py www.example.com --root-hints sandbox.hints
    python ch5_recursive.py shop.example.com --root-hints sandbox.hints --trace
    python ch5_recursive.py --serve --listen 127.0.0.1:5300 --root-hints sandbox.hints

(`trio-dns sandbox` runs a small simulated internet on loopback addresses and
prints the path of its root hints file.)

A recursive resolver knows nothing at first but the root servers' addresses
(the *root hints*). It asks one of them the whole question; a root server does
not know the answer, but it knows who is responsible for `com.` and says so: a
*referral*, the NS records of the zone `com.` and, usually, their addresses
(*glue*). Ask one of those, get referred to `example.com.`'s servers, ask one of
them, get the answer. Along the way:

- a referral may come without glue (the nameserver's name is in another zone,
  like `glueless.org.`, served by `ns.dns-host.net.`): the resolver must first
  resolve the nameserver's address, a whole resolution of its own;
- the answer may be a CNAME into another zone (`shop.example.com.` is
  `www.cdn.net.`): the resolver starts again with the new name;
- a server may be dead, or lame (it answers REFUSED): try the next one;
- a server may say things about names it is not responsible for, and those are
  not believed. This is the *bailiwick* check: records in a reply from the
  servers of zone Z are kept only if their names are at or below Z. Without it,
  any server could fill our cache with an answer for any name.

What it learns goes in `CACHE`, so the next question about `example.com.` starts
at its servers instead of at the root.

Interface, for programs that import or copy this one (the attack chapter does):

    root_hints = read_records(open(path).read())
    answer = await resolve(name, rtype, root_hints)    # -> Answer(rcode, records, authority)
    CACHE                  # {(lowercase name, type): (expiry time, [Record, ...])}
    NAMESERVER_PORT, QUERY_TIMEOUT, VERBOSE            # settings; VERBOSE prints the trace

The defences are each one function that a test (or an attacker's experiment)
can replace: `new_query_id` and `open_udp_socket` (chapter 2), `reply_problem`
(chapter 2) and `in_bailiwick` (here).

Needs Python and Trio. Everything from chapter 4 is carried forward; new:
`Answer`, `CACHE` and its functions, `in_bailiwick`, `ask_nameservers`,
`iterate`, `resolve`, and a `--serve` mode that puts `resolve` behind chapter
4's server.

Changed from chapter 4: `main`.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import secrets
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

# -- Numbers from the RFCs ----------------------------------------------------------

# Record types (RFC 1035 section 3.2.2, and later RFCs). Only A is understood in
# this chapter; the others are named so that they print readably.
TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_DNAME = 39
TYPE_OPT = 41
TYPE_NAMES = {
    TYPE_A: "A",
    TYPE_NS: "NS",
    TYPE_CNAME: "CNAME",
    TYPE_SOA: "SOA",
    TYPE_PTR: "PTR",
    TYPE_MX: "MX",
    TYPE_TXT: "TXT",
    TYPE_AAAA: "AAAA",
    TYPE_SRV: "SRV",
    TYPE_DNAME: "DNAME",
    TYPE_OPT: "OPT",
}

CLASS_IN = 1  # the Internet; the only class anyone uses
CLASS_NAMES = {CLASS_IN: "IN", 3: "CH", 4: "HS", 255: "ANY"}

RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
OPCODE_NAMES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}

# The flag bits of the header's second 16-bit word (RFC 1035 section 4.1.1, with
# AD and CD from RFC 4035). The word also holds the opcode (4 bits) and rcode (4).
FLAG_QR = 0x8000  # this message is a response
FLAG_AA = 0x0400  # authoritative answer
FLAG_TC = 0x0200  # truncated: the reply did not fit, ask again over TCP
FLAG_RD = 0x0100  # recursion desired (set by the asker)
FLAG_RA = 0x0080  # recursion available (set by the server)
FLAG_AD = 0x0020  # authentic data (DNSSEC)
FLAG_CD = 0x0010  # checking disabled (DNSSEC)
FLAG_ORDER = [
    (FLAG_QR, "qr"),
    (FLAG_AA, "aa"),
    (FLAG_TC, "tc"),
    (FLAG_RD, "rd"),
    (FLAG_RA, "ra"),
    (FLAG_AD, "ad"),
    (FLAG_CD, "cd"),
]

MAX_NAME_LENGTH = 255  # octets, in wire form (RFC 1035 section 2.3.4)
MAX_LABEL_LENGTH = 63


def type_name(rtype: int) -> str:
    return TYPE_NAMES.get(rtype, f"TYPE{rtype}")


def class_name(rclass: int) -> str:
    return CLASS_NAMES.get(rclass, f"CLASS{rclass}")


# -- The message, as Python objects -------------------------------------------------


class ParseError(Exception):
    """The bytes are not a well-formed DNS message."""


@dataclass
class Header:
    id: int
    flags: int  # the whole second word: flag bits, opcode and rcode
    qdcount: int = 0
    ancount: int = 0
    nscount: int = 0
    arcount: int = 0

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


@dataclass
class Question:
    name: str  # always absolute, with the final dot: "www.example.com."
    rtype: int
    rclass: int = CLASS_IN


@dataclass
class Record:
    name: str
    rtype: int
    rclass: int
    ttl: int
    # What the record says, in a form that suits its type: for A, the address as
    # text; for a type this program does not understand, the raw octets.
    data: object


@dataclass
class Message:
    header: Header
    questions: list[Question] = field(default_factory=list)
    answers: list[Record] = field(default_factory=list)
    authorities: list[Record] = field(default_factory=list)
    additionals: list[Record] = field(default_factory=list)

    @property
    def rcode(self) -> int:
        return self.header.rcode


# -- Reading ------------------------------------------------------------------------


class Reader:
    """A cursor over the packet. Every read checks that the octets are there.

    Hostile input is normal on the Internet: a packet may claim a record of 300
    octets and stop after 20. Python would not crash on a short slice, it would
    silently give fewer octets, so each read compares lengths itself.
    """

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def read(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise ParseError(f"message ends at octet {len(self.data)}, needed {self.pos + count}")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def u8(self) -> int:
        return self.read(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("!H", self.read(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("!I", self.read(4))[0]
        return value

    def name(self) -> str:
        """A domain name, following compression pointers (RFC 1035 section 4.1.4).

        A label starts with a length octet. If its top two bits are 11, it is not a
        length but the first half of a 14-bit pointer: the rest of the name is
        whatever is written at that offset. The loop guard: every pointer must
        point before the place the previous jump landed (the first before the
        pointer itself). The jumps then go strictly backwards, and a packet has
        only so many octets to go back through, so even a packet built to send
        us round in circles (a pointer to itself, two pointing at each other)
        ends in an error, not a hang.
        """
        labels: list[bytes] = []
        wire_length = 1  # the final empty label counts too
        pos = self.pos
        limit = pos  # a pointer must point before this
        jumped = False
        while True:
            if pos >= len(self.data):
                raise ParseError("name runs past the end of the message")
            length = self.data[pos]
            if length & 0xC0 == 0xC0:
                if pos + 1 >= len(self.data):
                    raise ParseError("compression pointer cut short")
                target = ((length & 0x3F) << 8) | self.data[pos + 1]
                if target >= limit:
                    raise ParseError(f"compression pointer at {pos} does not point backwards")
                if not jumped:
                    self.pos = pos + 2  # the name, in this place, ends with the pointer
                    jumped = True
                pos = limit = target
                continue
            if length & 0xC0:
                raise ParseError(f"label type {length >> 6:#04b} is not defined")
            pos += 1
            if length == 0:
                break
            label = self.data[pos : pos + length]
            if len(label) < length:
                raise ParseError("label runs past the end of the message")
            wire_length += 1 + length
            if wire_length > MAX_NAME_LENGTH:
                raise ParseError("name longer than 255 octets")
            labels.append(label)
            pos += length
        if not jumped:
            self.pos = pos
        return name_to_text(labels)


def escape_label(label: bytes) -> str:
    """A label as text: special characters get a backslash, others \\DDD."""
    out = []
    for octet in label:
        if chr(octet) in '"().;\\@$':
            out.append("\\" + chr(octet))
        elif 0x21 <= octet <= 0x7E:
            out.append(chr(octet))
        else:
            out.append(f"\\{octet:03d}")
    return "".join(out)


def name_to_text(labels: list[bytes]) -> str:
    if not labels:
        return "."
    return ".".join(escape_label(label) for label in labels) + "."


def read_question(reader: Reader) -> Question:
    name = reader.name()
    return Question(name, reader.u16(), reader.u16())


def read_record(reader: Reader) -> Record:
    name = reader.name()
    rtype = reader.u16()
    rclass = reader.u16()
    ttl = reader.u32()
    length = reader.u16()
    end = reader.pos + length
    if end > len(reader.data):
        raise ParseError(f"{type_name(rtype)} record data runs past the end of the message")
    data = read_rdata(reader, rtype, length)
    if reader.pos != end:
        raise ParseError(f"{type_name(rtype)} record data is not {length} octets long")
    return Record(name, rtype, rclass, ttl, data)


@dataclass(frozen=True)
class MX:
    preference: int  # lower is preferred
    exchange: str  # the mail server's name


@dataclass(frozen=True)
class SOA:
    """The start of a zone of authority (RFC 1035 section 3.3.13)."""

    mname: str  # the primary nameserver
    rname: str  # the administrator's mailbox, with the @ as the first dot
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int  # how long to remember that a name does not exist (RFC 2308)


def read_rdata(reader: Reader, rtype: int, length: int) -> object:
    """The record's data; `reader` is at its first octet and it is `length` long.

    The types with names inside (NS, CNAME, SOA, MX) may compress them, so those
    names are read with `reader.name()`, which follows pointers anywhere in the
    message; the caller checks that exactly `length` octets were used."""
    if rtype == TYPE_A:
        if length != 4:
            raise ParseError("A record data is not 4 octets")
        return socket.inet_ntop(socket.AF_INET, reader.read(4))
    if rtype == TYPE_AAAA:
        if length != 16:
            raise ParseError("AAAA record data is not 16 octets")
        return socket.inet_ntop(socket.AF_INET6, reader.read(16))
    if rtype in (TYPE_NS, TYPE_CNAME):
        return reader.name()
    if rtype == TYPE_MX:
        return MX(reader.u16(), reader.name())
    if rtype == TYPE_SOA:
        mname, rname = reader.name(), reader.name()
        return SOA(mname, rname, *struct.unpack("!5I", reader.read(20)))
    if rtype == TYPE_TXT:
        # One or more character-strings: a length octet, then that many octets.
        end = reader.pos + length
        strings = []
        while reader.pos < end:
            strings.append(reader.read(reader.u8()))
        if not strings:
            raise ParseError("TXT record with no strings")
        return tuple(strings)
    # Any other type: keep the octets (RFC 3597 says how to print them).
    return reader.read(length)


def parse_message(data: bytes) -> Message:
    """Parse one DNS message; raise ParseError if it is malformed."""
    reader = Reader(data)
    if len(data) < 12:
        raise ParseError("shorter than a DNS header (12 octets)")
    header = Header(*struct.unpack("!6H", reader.read(12)))
    message = Message(header)
    message.questions = [read_question(reader) for _ in range(header.qdcount)]
    message.answers = [read_record(reader) for _ in range(header.ancount)]
    message.authorities = [read_record(reader) for _ in range(header.nscount)]
    message.additionals = [read_record(reader) for _ in range(header.arcount)]
    if reader.pos != len(data):
        raise ParseError(f"{len(data) - reader.pos} octets left over after the last record")
    return message


# -- Printing (the layout of dig and trio-dns query) --------------------------------


def quote_string(data: bytes) -> str:
    """A character-string as text: in quotes, with \\" and \\\\ and \\DDD escapes."""
    out = ['"']
    for octet in data:
        if octet in b'"\\':
            out.append("\\" + chr(octet))
        elif 0x20 <= octet <= 0x7E:
            out.append(chr(octet))
        else:
            out.append(f"\\{octet:03d}")
    return "".join(out) + '"'


def rdata_to_text(record: Record) -> str:
    data = record.data
    if isinstance(data, MX):
        return f"{data.preference} {data.exchange}"
    if isinstance(data, SOA):
        return (
            f"{data.mname} {data.rname} {data.serial} {data.refresh} "
            f"{data.retry} {data.expire} {data.minimum}"
        )
    if isinstance(data, tuple):  # TXT
        return " ".join(quote_string(item) for item in data)
    if isinstance(data, str):  # A, AAAA, NS, CNAME
        return data
    assert isinstance(data, bytes)
    if not data:
        return "\\# 0"
    return f"\\# {len(data)} {data.hex().upper()}"


def record_to_text(record: Record) -> str:
    return (
        f"{record.name}\t{record.ttl}\t{class_name(record.rclass)}\t"
        f"{type_name(record.rtype)}\t{rdata_to_text(record)}"
    )


def flags_to_text(flags: int) -> str:
    return " ".join(name for bit, name in FLAG_ORDER if flags & bit)


def message_to_text(message: Message) -> str:
    header = message.header
    opcode = OPCODE_NAMES.get(header.opcode, f"OPCODE{header.opcode}")
    rcode = RCODE_NAMES.get(header.rcode, f"RCODE{header.rcode}")
    lines = [
        f";; ->>HEADER<<- opcode: {opcode}, status: {rcode}, id: {header.id}",
        f";; flags: {flags_to_text(header.flags)}; QUERY: {len(message.questions)}, "
        f"ANSWER: {len(message.answers)}, AUTHORITY: {len(message.authorities)}, "
        f"ADDITIONAL: {len(message.additionals)}",
    ]
    # EDNS (RFC 6891) is carried as an OPT pseudo-record in the additional
    # section, which reuses the class field for the largest UDP reply the sender
    # can take. dig prints it apart from the real records, and so do we.
    for record in message.additionals:
        if record.rtype == TYPE_OPT:
            lines += ["", ";; OPT PSEUDOSECTION:", f"; EDNS: udp: {record.rclass}"]
    if message.questions:
        lines += ["", ";; QUESTION SECTION:"]
        for question in message.questions:
            lines.append(
                f";{question.name}\t\t{class_name(question.rclass)}\t{type_name(question.rtype)}"
            )
    for title, records in (
        ("ANSWER", message.answers),
        ("AUTHORITY", message.authorities),
        ("ADDITIONAL", [r for r in message.additionals if r.rtype != TYPE_OPT]),
    ):
        if records:
            lines += ["", f";; {title} SECTION:"]
            lines += [record_to_text(record) for record in records]
    return "\n".join(lines) + "\n"


# -- Writing a query ----------------------------------------------------------------


class Writer:
    """Builds a message in a growing buffer of octets, compressing names.

    `offsets` remembers where each name written so far, and each of its tails,
    begins: after writing www.example.com at offset 12, example.com is at 16 and
    com at 24. A later name that ends in one of those is written as its own
    first labels and then a pointer (RFC 1035 section 4.1.4). Pointers have 14
    bits, so only the first 16 kilobytes can be pointed at."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.offsets: dict[tuple[bytes, ...], int] = {}

    def u8(self, value: int) -> None:
        self.buffer.append(value)

    def u16(self, value: int) -> None:
        self.buffer += struct.pack("!H", value)

    def u32(self, value: int) -> None:
        self.buffer += struct.pack("!I", value)

    def write(self, data: bytes) -> None:
        self.buffer += data

    def name(self, name: str, compress: bool = True) -> None:
        labels = name_to_labels(name)
        for index, label in enumerate(labels):
            # Names compare without regard to case, so the key is lowercase.
            tail = tuple(item.lower() for item in labels[index:])
            if compress and tail in self.offsets:
                self.u16(0xC000 | self.offsets[tail])
                return
            if len(self.buffer) < 0x4000:
                self.offsets.setdefault(tail, len(self.buffer))
            self.u8(len(label))
            self.write(label)
        self.u8(0)


def name_to_labels(name: str) -> list[bytes]:
    """`www.example.com.` as [b"www", b"example", b"com"], undoing the escapes
    that `escape_label` writes (`\\.` for a dot inside a label, `\\DDD`)."""
    if name in (".", ""):
        return []
    labels: list[bytes] = []
    label = bytearray()
    index = 0
    while index < len(name):
        char = name[index]
        if char == "\\":
            digits = name[index + 1 : index + 4]
            if len(digits) == 3 and digits.isdigit():
                label.append(int(digits))
                index += 4
                continue
            if index + 1 >= len(name):
                raise ValueError(f"{name!r} ends in a backslash")
            label += name[index + 1].encode("latin-1")
            index += 2
            continue
        if char == ".":
            if not label:
                raise ValueError(f"empty label in {name!r}")
            labels.append(bytes(label))
            label = bytearray()
        else:
            label += char.encode("ascii")
        index += 1
    if label:
        labels.append(bytes(label))
    wire_length = 1
    for item in labels:
        if len(item) > MAX_LABEL_LENGTH:
            raise ValueError(f"label {item!r} is longer than 63 octets")
        wire_length += 1 + len(item)
    if wire_length > MAX_NAME_LENGTH:
        raise ValueError(f"{name!r} is longer than 255 octets")
    return labels


def encode_name(name: str) -> bytes:
    """`www.example.com` (final dot optional) as length-prefixed labels."""
    return b"".join(bytes([len(label)]) + label for label in name_to_labels(name)) + b"\0"


def absolute(name: str) -> str:
    """The name with its final dot, as the parser writes names."""
    return name if name.endswith(".") else name + "."


def build_query(query_id: int, question: Question, recursion_desired: bool = True) -> bytes:
    writer = Writer()
    flags = FLAG_RD if recursion_desired else 0
    for value in (query_id, flags, 1, 0, 0, 0):  # one question, no records
        writer.u16(value)
    writer.name(question.name)
    writer.u16(question.rtype)
    writer.u16(question.rclass)
    return bytes(writer.buffer)


# -- Asking a server ----------------------------------------------------------------

QUERY_TIMEOUT = 2.0  # seconds to wait for a reply before giving up
VERBOSE = False  # --trace: say what is ignored, and why


def trace(text: str) -> None:
    if VERBOSE:
        print(f";; {text}", flush=True)


class NoReply(Exception):
    """The server did not answer (in time, or at all)."""


def new_query_id() -> int:
    # From the operating system's cryptographic generator: Python's `random` can
    # be predicted from a few of its outputs, and the ID is half our defence.
    return secrets.randbelow(65536)


async def open_udp_socket(family: socket.AddressFamily) -> trio.socket.SocketType:
    """A UDP socket bound to a random port: the other half of the defence.

    An attacker who wants to forge a reply must guess the port and the ID: about
    one chance in 2**32 instead of 2**16. (The kernel would pick a random port for
    us too; we do it ourselves to show it.)"""
    sock = trio.socket.socket(family, socket.SOCK_DGRAM)
    host = "::" if family == socket.AF_INET6 else "0.0.0.0"
    for _ in range(20):
        try:
            await sock.bind((host, 1024 + secrets.randbelow(65536 - 1024)))
            return sock
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                sock.close()
                raise
    sock.close()
    raise OSError(errno.EADDRINUSE, "no free port found")


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def same_question(reply: Message, question: Question) -> bool:
    if len(reply.questions) != 1:
        return False
    asked = reply.questions[0]
    # Names compare without regard to case (RFC 4343).
    return (
        asked.name.lower() == question.name.lower()
        and asked.rtype == question.rtype
        and asked.rclass == question.rclass
    )


def reply_problem(reply: Message, query_id: int, question: Question) -> str | None:
    """Why this reply is not the answer to our query, or None if it is."""
    if reply.header.id != query_id:
        return f"wrong ID {reply.header.id} (expected {query_id})"
    if not reply.header.has(FLAG_QR):
        return "not a response"
    if not same_question(reply, question):
        return "not our question"
    return None


async def query_udp(
    server: tuple[str, int], question: Question, recursion_desired: bool = True
) -> Message:
    """Send the question to the server over UDP and wait for its matching reply."""
    query_id = new_query_id()
    data = build_query(query_id, question, recursion_desired)
    host, port = server
    with await open_udp_socket(family_of(host)) as sock:
        await sock.sendto(data, (host, port))
        with trio.move_on_after(QUERY_TIMEOUT):
            while True:
                try:
                    packet, source = await sock.recvfrom(65535)
                except ConnectionRefusedError:
                    # An ICMP "port unreachable": nobody listens there.
                    raise NoReply(f"{host}#{port} refused the query") from None
                if (source[0], source[1]) != (host, port):
                    trace(f"ignored a datagram from {source[0]}#{source[1]}: not the server")
                    continue
                try:
                    reply = parse_message(packet)
                except ParseError as exc:
                    trace(f"ignored a malformed reply from {host}: {exc}")
                    continue
                problem = reply_problem(reply, query_id, question)
                if problem is not None:
                    trace(f"ignored a reply from {host}: {problem}")
                    continue
                return reply
    raise NoReply(f"no reply from {host}#{port} within {QUERY_TIMEOUT} seconds")


async def receive_exactly(stream: trio.SocketStream, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = await stream.receive_some(count - len(data))
        if not chunk:
            raise NoReply("the server closed the connection")
        data += chunk
    return bytes(data)


async def query_tcp(
    server: tuple[str, int], question: Question, recursion_desired: bool = True
) -> Message:
    """The same over TCP, where each message is preceded by its length in 2 octets.

    TCP cannot be forged blind (the handshake proves the address), but we check
    the reply the same way: the server may be confused, if not malicious."""
    query_id = new_query_id()
    data = build_query(query_id, question, recursion_desired)
    host, port = server
    with trio.move_on_after(QUERY_TIMEOUT):
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError as exc:
            raise NoReply(f"cannot connect to {host}#{port}: {exc.strerror}") from None
        async with stream:
            try:
                await stream.send_all(struct.pack("!H", len(data)) + data)
                length = struct.unpack("!H", await receive_exactly(stream, 2))[0]
                packet = await receive_exactly(stream, length)
            except (trio.BrokenResourceError, OSError) as exc:
                raise NoReply(f"TCP connection to {host}#{port} failed: {exc}") from None
        try:
            reply = parse_message(packet)
        except ParseError as exc:
            raise NoReply(f"malformed reply from {host}#{port}: {exc}") from None
        problem = reply_problem(reply, query_id, question)
        if problem is not None:
            raise NoReply(f"bad reply from {host}#{port}: {problem}")
        return reply
    raise NoReply(f"no reply from {host}#{port} over TCP within {QUERY_TIMEOUT} seconds")


async def query(
    server: tuple[str, int], name: str, rtype: int, recursion_desired: bool = True
) -> Message:
    """Ask one server one question: over UDP, and again over TCP if truncated."""
    question = Question(absolute(name), rtype, CLASS_IN)
    reply = await query_udp(server, question, recursion_desired)
    if reply.header.has(FLAG_TC):
        trace(f"{server[0]} truncated its reply: asking again over TCP")
        reply = await query_tcp(server, question, recursion_desired)
    return reply


def parse_type(text: str) -> int:
    """`MX`, `mx` or `TYPE15` as a number."""
    for number, name in TYPE_NAMES.items():
        if name == text.upper():
            return number
    if text.upper().startswith("TYPE") and text[4:].isdigit():
        return int(text[4:])
    raise ValueError(f"unknown type {text!r}")


# -- Writing records and messages ---------------------------------------------------


def write_rdata(writer: Writer, record: Record) -> None:
    data = record.data
    if record.rtype == TYPE_A:
        assert isinstance(data, str)
        writer.write(socket.inet_pton(socket.AF_INET, data))
    elif record.rtype == TYPE_AAAA:
        assert isinstance(data, str)
        writer.write(socket.inet_pton(socket.AF_INET6, data))
    elif record.rtype in (TYPE_NS, TYPE_CNAME):
        assert isinstance(data, str)
        writer.name(data)
    elif record.rtype == TYPE_MX:
        assert isinstance(data, MX)
        writer.u16(data.preference)
        writer.name(data.exchange)
    elif record.rtype == TYPE_SOA:
        assert isinstance(data, SOA)
        writer.name(data.mname)
        writer.name(data.rname)
        for value in (data.serial, data.refresh, data.retry, data.expire, data.minimum):
            writer.u32(value)
    elif record.rtype == TYPE_TXT:
        assert isinstance(data, tuple)
        for item in data:
            writer.u8(len(item))
            writer.write(item)
    else:
        assert isinstance(data, bytes)
        writer.write(data)


def write_record(writer: Writer, record: Record) -> None:
    writer.name(record.name)
    writer.u16(record.rtype)
    writer.u16(record.rclass)
    writer.u32(record.ttl)
    # The length comes before the data, but is known only after: leave room for
    # it, write the data, then fill it in.
    length_at = len(writer.buffer)
    writer.u16(0)
    write_rdata(writer, record)
    struct.pack_into("!H", writer.buffer, length_at, len(writer.buffer) - length_at - 2)


def write_message(message: Message, limit: int | None = None) -> bytes:
    """The message in wire form. With `limit`, a message that would be longer is
    cut to its header and question with TC set, telling the asker to use TCP."""
    writer = Writer()
    header = message.header
    counts = (
        len(message.questions),
        len(message.answers),
        len(message.authorities),
        len(message.additionals),
    )
    writer.write(struct.pack("!6H", header.id, header.flags, *counts))
    for question in message.questions:
        writer.name(question.name)
        writer.u16(question.rtype)
        writer.u16(question.rclass)
    for record in message.answers + message.authorities + message.additionals:
        write_record(writer, record)
    if limit is not None and len(writer.buffer) > limit:
        truncated = Header(header.id, header.flags | FLAG_TC)
        return write_message(Message(truncated, message.questions))
    return bytes(writer.buffer)


# -- Records from text ----------------------------------------------------------------

RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
RCODE_REFUSED = 5

DEFAULT_TTL = 3600


def tokenize(line: str) -> list[str]:
    """The words of one line of a zone file; a quoted string is one word (quotes
    kept, so TXT can tell), and `;` outside quotes starts a comment."""
    words: list[str] = []
    word = ""
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line):
            word += line[index : index + 2]  # an escape: keep it for later
            index += 2
            continue
        if char == '"':
            quoted = not quoted
            word += char
        elif quoted:
            word += char
        elif char == ";":
            break
        elif char.isspace():
            if word:
                words.append(word)
            word = ""
        else:
            word += char
        index += 1
    if quoted:
        raise ValueError("unterminated quoted string")
    if word:
        words.append(word)
    return words


def unquote(word: str) -> bytes:
    """A character-string from text: `"v=spf1 -all"` or a bare word; undoes escapes."""
    if word.startswith('"'):
        word = word[1:-1]
    out = bytearray()
    index = 0
    while index < len(word):
        if word[index] == "\\":
            digits = word[index + 1 : index + 4]
            if len(digits) == 3 and digits.isdigit():
                out.append(int(digits))
                index += 4
                continue
            index += 1
        out += word[index].encode("latin-1")
        index += 1
    if len(out) > 255:
        raise ValueError("a character-string is at most 255 octets")
    return bytes(out)


def rdata_from_text(rtype: int, words: list[str]) -> object:
    """The record data, as `read_rdata` would give it, from its text."""
    if rtype == TYPE_TXT:
        if not words:
            raise ValueError("TXT needs at least one string")
        return tuple(unquote(word) for word in words)
    expected = {TYPE_A: 1, TYPE_AAAA: 1, TYPE_NS: 1, TYPE_CNAME: 1, TYPE_MX: 2, TYPE_SOA: 7}
    if rtype not in expected:
        raise ValueError(f"this program cannot read {type_name(rtype)} records from text")
    if len(words) != expected[rtype]:
        raise ValueError(f"{type_name(rtype)} takes {expected[rtype]} fields, not {len(words)}")
    if rtype == TYPE_A:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, words[0]))
    if rtype == TYPE_AAAA:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, words[0]))
    if rtype in (TYPE_NS, TYPE_CNAME):
        return checked_name(words[0])
    if rtype == TYPE_MX:
        return MX(int(words[0]), checked_name(words[1]))
    return SOA(checked_name(words[0]), checked_name(words[1]), *(int(w) for w in words[2:]))


def checked_name(word: str) -> str:
    if not word.endswith("."):
        raise ValueError(f"{word!r}: names must be absolute (end in a dot)")
    name_to_labels(word)  # raises ValueError if it is not a valid name
    return word


def record_from_text(line: str) -> Record | None:
    """`www.example.com. 3600 IN A 192.0.2.1` as a Record; None for a blank line."""
    words = tokenize(line)
    if not words:
        return None
    name = checked_name(words.pop(0))
    ttl = DEFAULT_TTL
    if words and words[0].isdigit():
        ttl = int(words.pop(0))
    if words and words[0].upper() == "IN":
        words.pop(0)
    if not words:
        raise ValueError("no type")
    rtype = parse_type(words.pop(0))
    return Record(name, rtype, CLASS_IN, ttl, rdata_from_text(rtype, words))


def read_records(text: str) -> list[Record]:
    """Every record of a (simplified) zone file; ValueError names the bad line."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            record = record_from_text(line)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        if record is not None:
            records.append(record)
    return records


# -- Answering ------------------------------------------------------------------------

Handler = Callable[[Message], Awaitable[Message]]


def make_reply(query: Message, rcode: int = RCODE_NOERROR, flags: int = 0) -> Message:
    """An empty reply to `query`: its ID and question, RD copied, QR set."""
    word = FLAG_QR | (query.header.flags & FLAG_RD) | flags | rcode
    return Message(Header(query.header.id, word), list(query.questions))


def same_name(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def is_subdomain(name: str, zone: str) -> bool:
    """Is `name` at or below `zone`? (www.example.com. is below com. and .)"""
    name, zone = name.lower(), zone.lower()
    return zone == "." or name == zone or name.endswith("." + zone)


class LocalZones:
    """Zones this server answers for with authority, from a list of records.

    A zone is everything at and below a name that has an SOA record. This is a
    small authoritative server: it follows CNAMEs inside its zones and tells
    NXDOMAIN (no such name) from NODATA (the name exists, without that type), but
    knows nothing of delegations, wildcards or DNSSEC."""

    def __init__(self, records: list[Record]) -> None:
        self.rrsets: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            self.rrsets.setdefault((record.name.lower(), record.rtype), []).append(record)
        self.names = {name for name, _ in self.rrsets}
        self.origins = [r.name for r in records if r.rtype == TYPE_SOA]

    def zone_for(self, name: str) -> str | None:
        """The closest enclosing zone we serve, or None."""
        candidates = [origin for origin in self.origins if is_subdomain(name, origin)]
        return max(candidates, key=len, default=None)

    def exists(self, name: str) -> bool:
        """Does the name own records, or have names below it that do?"""
        name = name.lower()
        return any(known == name or known.endswith("." + name) for known in self.names)

    def answer(self, query: Message) -> Message | None:
        """Our authoritative reply, or None if the name is in none of our zones."""
        question = query.questions[0]
        zone = self.zone_for(question.name)
        if zone is None:
            return None
        reply = make_reply(query, flags=FLAG_AA)
        name = question.name
        for _ in range(8):  # a zone may hold a CNAME loop: stop somewhere
            records = self.rrsets.get((name.lower(), question.rtype))
            if records:
                reply.answers += records
                return reply
            cname = self.rrsets.get((name.lower(), TYPE_CNAME))
            if not cname:
                break
            reply.answers += cname
            target = cname[0].data
            assert isinstance(target, str)
            if not is_subdomain(target, zone):
                return reply  # the asker follows it from here
            name = target
        if not self.exists(name):
            reply.header.flags |= RCODE_NXDOMAIN
        reply.authorities += self.rrsets[(zone.lower(), TYPE_SOA)]
        return reply


def forward_to(upstream: tuple[str, int]) -> Handler:
    """A handler that asks `upstream` every question, as a forwarding proxy does."""

    async def forward(request: Message) -> Message:
        question = request.questions[0]
        try:
            upstream_reply = await query(upstream, question.name, question.rtype)
        except NoReply as exc:
            trace(f"forwarding {question.name} failed: {exc}")
            return make_reply(request, RCODE_SERVFAIL, FLAG_RA)
        reply = make_reply(request, upstream_reply.rcode, FLAG_RA)
        reply.answers = upstream_reply.answers
        reply.authorities = upstream_reply.authorities
        # The OPT record is about the upstream's conversation with us, not ours
        # with the client: it stays behind.
        reply.additionals = [r for r in upstream_reply.additionals if r.rtype != TYPE_OPT]
        return reply

    return forward


def local_then_forward(zones: LocalZones | None, upstream: tuple[str, int] | None) -> Handler:
    """Our own zones first; then the upstream, if there is one; else REFUSED."""
    forward = forward_to(upstream) if upstream is not None else None

    async def answer(request: Message) -> Message:
        if zones is not None:
            reply = zones.answer(request)
            if reply is not None:
                return reply
        if forward is not None:
            return await forward(request)
        return make_reply(request, RCODE_REFUSED)

    return answer


# -- Serving ----------------------------------------------------------------------------

UDP_LIMIT = 512  # octets: the most a UDP reply may hold without EDNS (RFC 1035)
TCP_IDLE_TIMEOUT = 10.0  # seconds a client may keep a connection without asking


def error_reply(data: bytes, rcode: int) -> bytes | None:
    """A reply to a query we could not parse: its ID and the error, nothing else.
    None if it is too short to have an ID, or is itself a reply."""
    if len(data) < 12 or data[2] & 0x80:
        return None
    query_id, flags = struct.unpack("!HH", data[:4])
    return struct.pack("!6H", query_id, FLAG_QR | (flags & FLAG_RD) | rcode, 0, 0, 0, 0)


async def handle(data: bytes, handler: Handler, limit: int | None) -> bytes | None:
    """The reply to one query, in wire form; None to say nothing at all."""
    try:
        request = parse_message(data)
    except ParseError as exc:
        trace(f"malformed query: {exc}")
        return error_reply(data, RCODE_FORMERR)
    if request.header.has(FLAG_QR):
        return None  # never answer a reply: two servers could bounce it forever
    if request.header.opcode != 0:
        return write_message(make_reply(request, RCODE_NOTIMP))
    if len(request.questions) != 1:
        return write_message(make_reply(request, RCODE_FORMERR))
    try:
        reply = await handler(request)
    except Exception as exc:
        # A bug in answering one query must not end the server: say so and move on.
        print(f"error answering {request.questions[0].name}: {exc!r}", file=sys.stderr)
        reply = make_reply(request, RCODE_SERVFAIL)
    return write_message(reply, limit)


async def answer_datagram(
    sock: trio.socket.SocketType, data: bytes, client: object, handler: Handler
) -> None:
    reply = await handle(data, handler, UDP_LIMIT)
    if reply is not None:
        with contextlib.suppress(OSError):  # the client may be gone
            await sock.sendto(reply, client)


async def serve_udp(sock: trio.socket.SocketType, handler: Handler) -> None:
    async with trio.open_nursery() as nursery:
        while True:
            try:
                data, client = await sock.recvfrom(65535)
            except OSError:
                continue  # an ICMP error about an earlier reply: nothing to do
            # One task per query: a slow answer holds up nobody else.
            nursery.start_soon(answer_datagram, sock, data, client, handler)


async def read_framed(stream: trio.SocketStream) -> bytes | None:
    """The next length-prefixed message; None if the client closed or went idle."""
    with trio.move_on_after(TCP_IDLE_TIMEOUT):
        try:
            length = struct.unpack("!H", await receive_exactly(stream, 2))[0]
            return await receive_exactly(stream, length)
        except (NoReply, trio.BrokenResourceError, OSError):
            return None
    return None


async def serve_tcp_connection(stream: trio.SocketStream, handler: Handler) -> None:
    """Queries from one TCP client, one after another."""
    async with stream:
        while (data := await read_framed(stream)) is not None:
            reply = await handle(data, handler, None)
            if reply is None:
                continue
            try:
                await stream.send_all(struct.pack("!H", len(reply)) + reply)
            except (trio.BrokenResourceError, OSError):
                return


async def serve(
    address: tuple[str, int],
    handler: Handler,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Answer queries on UDP and TCP at `address` until cancelled."""
    host, port = address
    udp = trio.socket.socket(family_of(host), socket.SOCK_DGRAM)
    await udp.bind(address)
    listeners = await trio.open_tcp_listeners(port, host=host)
    with udp:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_udp, udp, handler)
            nursery.start_soon(
                trio.serve_listeners,
                functools.partial(serve_tcp_connection, handler=handler),
                listeners,
            )
            task_status.started()


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """`127.0.0.1`, `127.0.0.1:5300`, `::1` or `[::1]:5300`."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.lstrip(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    socket.inet_pton(family_of(host), host)  # raises OSError if not an address
    return host, int(port) if port else default_port


# -- Remembering: the cache -------------------------------------------------------------

# What the resolver has learnt: (lowercase name, type) -> (expiry time, records).
# Expiry is on time.monotonic(), which no change of the wall clock can move.
CACHE: dict[tuple[str, int], tuple[float, list[Record]]] = {}


def cache_put(records: list[Record]) -> None:
    """Remember each RRset (the records of one name and type) for its lowest TTL."""
    rrsets: dict[tuple[str, int], list[Record]] = {}
    for record in records:
        rrsets.setdefault((record.name.lower(), record.rtype), []).append(record)
    now = time.monotonic()
    for key, rrset in rrsets.items():
        CACHE[key] = (now + min(record.ttl for record in rrset), rrset)


def cache_get(name: str, rtype: int) -> list[Record] | None:
    entry = CACHE.get((name.lower(), rtype))
    if entry is None:
        return None
    expires, records = entry
    if time.monotonic() >= expires:
        del CACHE[(name.lower(), rtype)]
        return None
    return records


# -- Resolving --------------------------------------------------------------------------

NAMESERVER_PORT = 53
MAX_REFERRALS = 16  # zone cuts on the way down: more than any real name has
MAX_CNAMES = 8  # links in a CNAME chain before we call it a loop
MAX_DEPTH = 4  # nameserver lookups inside nameserver lookups (glueless)


@dataclass
class Answer:
    rcode: int
    records: list[Record] = field(default_factory=list)  # the CNAME chain, then the answer
    authority: list[Record] = field(default_factory=list)  # the SOA, for a negative answer
    problem: str = ""  # why it failed, for SERVFAIL


def in_bailiwick(record: Record, zone: str) -> bool:
    """May the servers of `zone` tell us about this record? Only if it is theirs."""
    return is_subdomain(record.name, zone)


def root_servers(root_hints: list[Record]) -> tuple[str, list[str]]:
    return ".", [str(r.data) for r in root_hints if r.rtype == TYPE_NS and r.name == "."]


def closest_servers(name: str, root_hints: list[Record]) -> tuple[str, list[str]]:
    """The deepest zone above `name` whose nameservers we know, and their names."""
    labels = name.rstrip(".").split(".")
    for index in range(len(labels)):
        zone = ".".join(labels[index:]) + "."
        nameservers = cache_get(zone, TYPE_NS)
        if nameservers:
            return zone, [str(record.data) for record in nameservers]
    return root_servers(root_hints)


def known_addresses(nameserver: str, root_hints: list[Record]) -> list[str]:
    """The addresses we have for a nameserver: from the cache, or the hints."""
    addresses = []
    for rtype in (TYPE_A, TYPE_AAAA):
        records = cache_get(nameserver, rtype) or [
            r for r in root_hints if r.rtype == rtype and same_name(r.name, nameserver)
        ]
        addresses += [str(record.data) for record in records]
    return addresses


def indent(depth: int) -> str:
    return "  " * depth


async def ask_nameservers(
    zone: str, nameservers: list[str], question: Question, root_hints: list[Record], depth: int
) -> Message | None:
    """Ask the zone's nameservers in turn until one gives a usable reply.

    Nameservers whose addresses we know come first; the others (glueless) are
    resolved only if those all fail, since that costs a resolution each."""
    with_address = [ns for ns in nameservers if known_addresses(ns, root_hints)]
    without = [ns for ns in nameservers if ns not in with_address]
    for nameserver in with_address + without:
        addresses = known_addresses(nameserver, root_hints)
        if not addresses:
            if depth >= MAX_DEPTH:
                trace(f"{indent(depth)}{nameserver}: too deep to look up its address")
                continue
            trace(f"{indent(depth)}{nameserver} has no known address: resolving it first")
            found = await resolve(nameserver, TYPE_A, root_hints, depth + 1)
            addresses = [str(r.data) for r in found.records if r.rtype == TYPE_A]
        for address in addresses:
            where = f"{indent(depth)}[{zone}] {nameserver} {address}: {question.name} {type_name(question.rtype)}"
            try:
                reply = await query(
                    (address, NAMESERVER_PORT), question.name, question.rtype, False
                )
            except NoReply:
                trace(f"{where} -> no reply")
                continue
            if reply.rcode not in (RCODE_NOERROR, RCODE_NXDOMAIN):
                # Lame (REFUSED: "not my zone"), or broken: the next one may do better.
                rcode = RCODE_NAMES.get(reply.rcode, str(reply.rcode))
                trace(f"{where} -> {rcode}, trying the next server")
                continue
            trace(f"{where} -> {describe(reply)}")
            return reply
    return None


def describe(reply: Message) -> str:
    """A few words on a reply, for the trace."""
    if reply.rcode == RCODE_NXDOMAIN:
        return "NXDOMAIN"
    if reply.answers:
        return "answer"
    zones = {r.name for r in reply.authorities if r.rtype == TYPE_NS}
    if zones:
        return f"referral to {', '.join(sorted(zones))}"
    return "no data"


async def iterate(
    name: str, rtype: int, root_hints: list[Record], depth: int
) -> tuple[Answer, str | None]:
    """Follow referrals down from the closest known zone to the servers of `name`.

    Returns the answer, and the name to continue with when the answer ended in
    a CNAME whose target those servers could not answer for."""
    question = Question(name, rtype, CLASS_IN)
    zone, nameservers = closest_servers(name, root_hints)
    for _ in range(MAX_REFERRALS):
        reply = await ask_nameservers(zone, nameservers, question, root_hints, depth)
        if reply is None:
            return Answer(RCODE_SERVFAIL, problem=f"no server of {zone} answered"), None
        # The bailiwick check, once for the whole reply.
        answers = [r for r in reply.answers if in_bailiwick(r, zone)]
        authority = [r for r in reply.authorities if in_bailiwick(r, zone)]
        additional = [r for r in reply.additionals if in_bailiwick(r, zone)]

        # Walk the answer: the records asked for, or a CNAME chain leading to them.
        chain: list[Record] = []
        current = name
        while True:
            found = [r for r in answers if same_name(r.name, current) and r.rtype == rtype]
            if found:
                cache_put(chain + found)
                return Answer(RCODE_NOERROR, chain + found), None
            cnames = [r for r in answers if same_name(r.name, current) and r.rtype == TYPE_CNAME]
            if not cnames:
                break
            if len(chain) == MAX_CNAMES or any(same_name(r.name, current) for r in chain):
                return Answer(RCODE_SERVFAIL, chain, problem=f"CNAME loop at {current}"), None
            chain.append(cnames[0])
            current = str(cnames[0].data)
        cache_put(chain)
        soa = [r for r in authority if r.rtype == TYPE_SOA]
        if reply.rcode == RCODE_NXDOMAIN:
            return Answer(RCODE_NXDOMAIN, chain, soa), None
        if chain:
            return Answer(RCODE_NOERROR, chain), current  # the rest is another zone's

        # A referral: NS records for a zone below the one we asked, above the name.
        cuts = [
            r
            for r in authority
            if r.rtype == TYPE_NS
            and is_subdomain(name, r.name)
            and is_subdomain(r.name, zone)
            and not same_name(r.name, zone)
        ]
        if not cuts:
            return Answer(RCODE_NOERROR, [], soa), None  # NODATA: the name has no such type
        zone = cuts[0].name
        delegation = [r for r in cuts if same_name(r.name, zone)]
        nameservers = [str(r.data) for r in delegation]
        cache_put(delegation)
        # Glue: addresses of the new zone's nameservers. Only in-bailiwick glue got
        # this far; a nameserver outside the zone we asked is looked up separately.
        cache_put(
            [
                r
                for r in additional
                if r.rtype in (TYPE_A, TYPE_AAAA)
                and any(same_name(r.name, ns) for ns in nameservers)
            ]
        )
    return Answer(RCODE_SERVFAIL, problem="too many referrals"), None


async def resolve(name: str, rtype: int, root_hints: list[Record], depth: int = 0) -> Answer:
    """Resolve a name from the root hints (or what the cache knows), following
    CNAMEs across zones."""
    name = absolute(name)
    chain: list[Record] = []
    seen: set[str] = set()
    for _ in range(MAX_CNAMES):
        if name.lower() in seen:
            return Answer(RCODE_SERVFAIL, chain, problem=f"CNAME loop at {name}")
        seen.add(name.lower())
        cached = cache_get(name, rtype)
        if cached:
            trace(f"{indent(depth)}{name} {type_name(rtype)}: from the cache")
            return Answer(RCODE_NOERROR, chain + cached)
        cname = cache_get(name, TYPE_CNAME) if rtype != TYPE_CNAME else None
        if cname:
            chain += cname
            name = str(cname[0].data)
            continue
        answer, follow = await iterate(name, rtype, root_hints, depth)
        chain += answer.records
        if follow is None:
            return Answer(answer.rcode, chain, answer.authority, answer.problem)
        trace(f"{indent(depth)}following the CNAME to {follow}")
        name = follow
    return Answer(RCODE_SERVFAIL, chain, problem="CNAME chain too long")


def answer_to_text(name: str, rtype: int, answer: Answer) -> str:
    """The layout of `trio-dns resolve`."""
    rcode = RCODE_NAMES.get(answer.rcode, str(answer.rcode))
    lines = [f";; status: {rcode}, {absolute(name)} IN {type_name(rtype)}"]
    if answer.problem:
        lines.append(f";; problem: {answer.problem}")
    lines += [record_to_text(record) for record in answer.records + answer.authority]
    return "\n".join(lines) + "\n"


def recursive_handler(root_hints: list[Record]) -> Handler:
    """Chapter 4's server, answering from `resolve` instead of an upstream."""

    async def answer(request: Message) -> Message:
        question = request.questions[0]
        if not request.header.has(FLAG_RD):
            return make_reply(request, RCODE_REFUSED, FLAG_RA)  # we only recurse
        result = await resolve(question.name, question.rtype, root_hints)
        reply = make_reply(request, result.rcode, FLAG_RA)
        reply.answers = result.records
        reply.authorities = result.authority
        return reply

    return answer


# -- The program --------------------------------------------------------------------

# A reply from the sandbox's example.com server for www.example.com A: the answer,
# and the address of the server ns1.example.com. Names after the first are compressed:
# c00c is a pointer to offset 12, where the question's name is written in full.
EXAMPLE = bytes.fromhex(
    "7a3e 8500 0001 0001 0000 0001"  # header: id, flags (qr aa rd), counts
    "03 777777 07 6578616d706c65 03 636f6d 00 0001 0001"  # www.example.com. A IN
    "c00c 0001 0001 00000e10 0004 c6336450"  # www.example.com. 3600 IN A 198.51.100.80
    "03 6e7331 c010 0001 0001 00000e10 0004 c633640a"  # ns1 + pointer to example.com.
)


def hex_to_bytes(text: str) -> bytes:
    """Hex digits, in any spacing; anything after a # on a line is a comment."""
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    return bytes.fromhex("".join("".join(lines).split()))


def parse_command_line(argv: list[str] | None, description: str) -> argparse.Namespace:
    """NAME [TYPE] @SERVER [-p PORT] [--norecurse] [--trace], as dig takes them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("words", nargs="+", metavar="NAME [TYPE] @SERVER")
    parser.add_argument("-p", "--port", type=int, default=53)
    parser.add_argument("--norecurse", action="store_true", help="clear RD in the query")
    parser.add_argument("--timeout", type=float, default=QUERY_TIMEOUT)
    parser.add_argument("--trace", action="store_true", help="say what was ignored, and why")
    args = parser.parse_args(argv)
    servers = [word[1:] for word in args.words if word.startswith("@")]
    rest = [word for word in args.words if not word.startswith("@")]
    if len(servers) != 1 or not 1 <= len(rest) <= 2:
        parser.error("expected NAME [TYPE] @SERVER")
    args.server = (servers[0], args.port)
    args.name = rest[0]
    try:
        args.rtype = parse_type(rest[1]) if len(rest) == 2 else TYPE_A
        encode_name(args.name)
    except ValueError as exc:
        parser.error(str(exc))
    return args


async def run_query(args: argparse.Namespace) -> int:
    try:
        reply = await query(args.server, args.name, args.rtype, not args.norecurse)
    except NoReply as exc:
        print(f";; {exc}", file=sys.stderr)
        return 1
    print(message_to_text(reply), end="")
    print(f";; SERVER: {args.server[0]}#{args.server[1]}")
    print(check_round_trip(reply))
    return 0


def check_round_trip(message: Message) -> str:
    """Write the message and parse it again: the two must be equal."""
    written = write_message(message)
    if parse_message(written) != message:
        return ";; re-encoded: MISMATCH (the writer and the reader disagree)"
    return f";; re-encoded in {len(written)} octets: parses back the same"


async def start_serving(address: tuple[str, int], handler: Handler, doing: str) -> int:
    """Serve until Ctrl-C; exit status 1, with a message, if the address is taken."""
    host, port = address
    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(serve, address, handler)
        except OSError as exc:
            print(f"cannot listen on {host}#{port}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"{doing} on {host}#{port} (UDP and TCP); Ctrl-C stops", flush=True)
    return 0


async def run_server(args: argparse.Namespace) -> int:
    handler = local_then_forward(args.zones, args.forward)
    return await start_serving(args.listen, handler, "listening")


async def run_resolve(args: argparse.Namespace) -> int:
    answer = await resolve(args.name, args.rtype, args.root_hints)
    print(answer_to_text(args.name, args.rtype, answer), end="")
    return 0  # SERVFAIL too: "I could not find out" is an answer, as trio-dns resolve says


async def run_recursive_server(args: argparse.Namespace) -> int:
    return await start_serving(args.listen, recursive_handler(args.root_hints), "resolving")


def main(argv: list[str] | None = None) -> int:
    global NAMESERVER_PORT, QUERY_TIMEOUT, VERBOSE
    parser = argparse.ArgumentParser(description="Resolve a name from the root servers down.")
    parser.add_argument("name", nargs="?", metavar="NAME")
    parser.add_argument("type", nargs="?", default="A", metavar="TYPE")
    parser.add_argument("--root-hints", required=True, metavar="FILE")
    parser.add_argument("--port", type=int, default=53, help="port the nameservers listen on")
    parser.add_argument("--timeout", type=float, default=QUERY_TIMEOUT)
    parser.add_argument("--trace", action="store_true", help="print every step")
    parser.add_argument("--serve", action="store_true", help="run as a server instead")
    parser.add_argument("--listen", default="127.0.0.1:5300", help="ADDRESS[:PORT] to serve on")
    args = parser.parse_args(argv)
    try:
        with open(args.root_hints) as file:
            args.root_hints = read_records(file.read())
    except (OSError, ValueError) as exc:
        parser.error(f"{args.root_hints}: {exc}")
    NAMESERVER_PORT, QUERY_TIMEOUT, VERBOSE = args.port, args.timeout, args.trace
    if args.serve:
        try:
            args.listen = parse_address(args.listen, 53)
        except (OSError, ValueError):
            parser.error("--listen takes an IP address, with an optional :PORT")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the normal way to stop
            return trio.run(run_recursive_server, args)
        return 0
    if args.name is None:
        parser.error("a NAME to resolve is required (or --serve)")
    try:
        args.rtype = parse_type(args.type)
        encode_name(args.name)
    except ValueError as exc:
        parser.error(str(exc))
    return trio.run(run_resolve, args)


if __name__ == "__main__":
    sys.exit(main())

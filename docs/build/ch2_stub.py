"""Build it yourself, chapter 2: a stub resolver that asks one server.

    python ch2_stub.py www.example.com @127.54.100.10
    python ch2_stub.py example.com MX @127.54.100.10 -p 53
    python ch2_stub.py www.example.com @127.0.0.1 -p 5300 --trace

A stub resolver (what your C library uses) sends one question to one server and
waits for the answer. Over UDP that is one datagram each way, and anybody on the
path, or anybody who can guess, can send a datagram that looks like the answer.
So the query goes out with a random 16-bit ID from a random source port, and a
reply is believed only if it comes from the server's address and port, carries
the same ID, is a response, and repeats our question; anything else is ignored
and we keep waiting until the timeout. When the reply does not fit in a
datagram (the TC flag), we ask again over TCP.

Needs Python and Trio (`pip install trio`), nothing else. Everything from
chapter 1 is here unchanged; new: `Writer`, `build_query`, `query_udp`,
`query_tcp`, and `query(server, name, rtype) -> Message`, the entry point of
the later chapters.

Changed from chapter 1: `main`.
"""

from __future__ import annotations

import argparse
import errno
import secrets
import socket
import struct
import sys
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


def read_rdata(reader: Reader, rtype: int, length: int) -> object:
    """The record's data; `reader` is at its first octet and it is `length` long."""
    if rtype == TYPE_A:
        if length != 4:
            raise ParseError("A record data is not 4 octets")
        return socket.inet_ntop(socket.AF_INET, reader.read(4))
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


def rdata_to_text(record: Record) -> str:
    if record.rtype == TYPE_A:
        return str(record.data)
    assert isinstance(record.data, bytes)
    if not record.data:
        return "\\# 0"
    return f"\\# {len(record.data)} {record.data.hex().upper()}"


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
    """Builds a message in a growing buffer of octets."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def u8(self, value: int) -> None:
        self.buffer.append(value)

    def u16(self, value: int) -> None:
        self.buffer += struct.pack("!H", value)

    def u32(self, value: int) -> None:
        self.buffer += struct.pack("!I", value)

    def write(self, data: bytes) -> None:
        self.buffer += data

    def name(self, name: str) -> None:
        self.write(encode_name(name))


def encode_name(name: str) -> bytes:
    """`www.example.com` (final dot optional) as length-prefixed labels.

    Backslash escapes are not handled: a name with a dot inside a label, or other
    unusual octets, cannot be typed in here."""
    wire = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            if name in (".", ""):
                break
            raise ValueError(f"empty label in {name!r}")
        encoded = label.encode("ascii")
        if len(encoded) > MAX_LABEL_LENGTH:
            raise ValueError(f"label {label!r} is longer than 63 octets")
        wire += bytes([len(encoded)]) + encoded
    wire.append(0)
    if len(wire) > MAX_NAME_LENGTH:
        raise ValueError(f"{name!r} is longer than 255 octets")
    return bytes(wire)


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
    return 0


def main(argv: list[str] | None = None) -> int:
    global QUERY_TIMEOUT, VERBOSE
    args = parse_command_line(argv, "Ask one DNS server one question, like dig.")
    QUERY_TIMEOUT, VERBOSE = args.timeout, args.trace
    return trio.run(run_query, args)


if __name__ == "__main__":
    sys.exit(main())

"""Build it yourself, chapter 1: read a DNS message off the wire.

    python ch1_parse.py                     decode a built-in example reply
    python ch1_parse.py 7a3e81800001...     decode a packet given in hex (spaces allowed)
    python ch1_parse.py --file reply.hex    decode a hex dump (lines starting with # are skipped)

A DNS message is a 12-octet header, then four sections: the questions, and
three lists of resource records (answer, authority, additional). Names are
sequences of length-prefixed labels, and to save space a name may end in a
*compression pointer* to an earlier copy of its tail. This program reads all of
that from bytes, checking every length against what is actually there, and
prints the message in the same layout as `dig` and `trio-dns query`.

It needs nothing but Python's standard library. Chapter 2 carries all of this
code forward unchanged; the entry point later chapters use is
`parse_message(data) -> Message`, which raises `ParseError` for anything that is
not a well-formed message.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
from dataclasses import dataclass, field

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Decode a DNS message given in hex.")
    parser.add_argument("hex", nargs="*", help="the message in hex (default: a built-in example)")
    parser.add_argument("--file", help="read the hex from this file instead")
    args = parser.parse_args(argv)
    try:
        if args.file:
            with open(args.file) as file:
                data = hex_to_bytes(file.read())
        elif args.hex:
            data = hex_to_bytes(" ".join(args.hex))
        else:
            data = EXAMPLE
    except ValueError as exc:
        parser.error(f"not hex: {exc}")
    try:
        message = parse_message(data)
    except ParseError as exc:
        print(f"malformed message: {exc}", file=sys.stderr)
        return 1
    print(message_to_text(message), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

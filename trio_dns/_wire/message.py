"""DNS messages: header, question and the three record sections (RFC 1035 section 4).

Theory of operation: `Message.from_wire` walks the packet once with a `WireReader`,
building immutable `Question`s and `Record`s; the OPT record is lifted out into
`Message.edns` and its extended rcode merged into `Header.rcode`. `to_wire` writes
it back with name compression and, given `max_size`, drops whole RRsets from the
end: leaving out additional data is silent (RFC 2181 section 9), leaving out an
answer or authority RRset sets TC, and the OPT record always stays (RFC 6891
section 7).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import attrs

from .._errors import MalformedMessage
from .._unpredictable import random_u16
from .edns import DO_BIT, Edns
from .enums import (
    FLAGS_MASK,
    OPCODE_MASK,
    OPCODE_SHIFT,
    RCODE_MASK,
    Flag,
    Opcode,
    Rcode,
    RRClass,
    RRType,
)
from .name import Name
from .rdata import Rdata, parse_rdata_untrusted
from .reader import WireReader
from .writer import WireWriter

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_QUESTION_FIXED = struct.Struct("!HH")
# An OPT record without options: the root owner, type, payload, TTL, rdlength.
_OPT_FIXED = struct.Struct("!BHHIH")
# TTLs seen lately, each kept once (see _read_records); bounded like the labels.
_TTLS: dict[int, int] = {}
_MAX_TTLS = 1024
_TYPES = RRType._value2member_map_
_CLASSES = RRClass._value2member_map_
_new = object.__new__
_set = object.__setattr__


@attrs.frozen
class Header:
    id: int = 0
    flags: Flag = Flag(0)  # noqa: RUF009 (an immutable value)
    opcode: Opcode = Opcode.QUERY
    rcode: Rcode = Rcode.NOERROR


@attrs.frozen
class Question:
    name: Name
    rtype: RRType = RRType.A
    rclass: RRClass = RRClass.IN

    def to_text(self) -> str:
        return f";{self.name}\t\t{self.rclass.name}\t{self.rtype.name}"


@attrs.frozen
class Record:
    """One resource record: owner name, type, class, TTL and rdata."""

    name: Name
    rtype: RRType
    rclass: RRClass
    ttl: int
    rdata: Rdata

    def to_text(self) -> str:
        return f"{self.name}\t{self.ttl}\t{self.rclass.name}\t{self.rtype.name}\t{self.rdata.to_text()}"

    def __str__(self) -> str:
        return self.to_text()


def _rrtype(value: int) -> RRType:
    member = _TYPES.get(value)
    return member if member is not None else RRType(value)  # type: ignore[return-value]


def _rrclass(value: int) -> RRClass:
    member = _CLASSES.get(value)
    return member if member is not None else RRClass(value)  # type: ignore[return-value]


# Calling an enum class costs more than parsing the header it came from; the
# members seen before (every one, after a few messages) are a dict lookup away.
_FLAG_MEMBERS = Flag._value2member_map_
_OPCODES = Opcode._value2member_map_
_RCODES = Rcode._value2member_map_


def _flag(value: int) -> Flag:
    member = _FLAG_MEMBERS.get(value)
    return member if member is not None else Flag(value)  # type: ignore[return-value]


def _opcode(value: int) -> Opcode:
    member = _OPCODES.get(value)
    return member if member is not None else Opcode(value)  # type: ignore[return-value]


def _rcode(value: int) -> Rcode:
    member = _RCODES.get(value)
    return member if member is not None else Rcode(value)  # type: ignore[return-value]


def _read_records(
    reader: WireReader, count: int, section: str, opt: list[tuple[Edns, int]] | None = None
) -> tuple[Record, ...]:
    """The section's records. An OPT record is an error, unless `opt` is given (the
    additional section): then its Edns and extended rcode bits go there."""
    records = []
    data = reader.data
    unpack = _RR_FIXED.unpack_from
    for _ in range(count):
        start = reader.pos
        name = reader.name()
        pos = reader.pos
        if pos + 10 > reader.end:
            raise MalformedMessage(f"{section} record cut short", pos)
        rtype, rclass, ttl, rdlength = unpack(data, pos)
        reader.pos = pos + 10
        if rtype == 41:
            if opt is None:
                raise MalformedMessage(f"OPT record in the {section} section", pos)
            if opt:
                raise MalformedMessage("more than one OPT record", start)
            if not name.is_root():
                raise MalformedMessage("OPT record not owned by the root", start)
            opt.append(Edns.from_opt_untrusted(rclass, ttl, reader, rdlength))
            continue
        if ttl > 0x7FFFFFFF:
            ttl = 0  # RFC 2181 section 8: a TTL with the top bit set means zero
        elif ttl > 256:
            # Past CPython's small integers every TTL read is a new int object:
            # the few values zones use (300, 3600, 86400) are kept once instead.
            ttl = _TTLS.setdefault(ttl, ttl)
            if len(_TTLS) > _MAX_TTLS:
                _TTLS.clear()
        rdata = parse_rdata_untrusted(rtype, reader, rdlength)
        record = _new(Record)
        _set(record, "name", name)
        _set(record, "rtype", _rrtype(rtype))
        _set(record, "rclass", _rrclass(rclass))
        _set(record, "ttl", ttl)
        _set(record, "rdata", rdata)
        records.append(record)
    return tuple(records)


@attrs.frozen
class Message:
    """A DNS message. Build queries with `Message.make_query`, parse with `from_wire`."""

    header: Header = Header()
    question: tuple[Question, ...] = ()
    answer: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()
    edns: Edns | None = None

    # -- conveniences ----------------------------------------------------------

    @property
    def id(self) -> int:
        return self.header.id

    @property
    def flags(self) -> Flag:
        return self.header.flags

    @property
    def rcode(self) -> Rcode:
        return self.header.rcode

    @property
    def opcode(self) -> Opcode:
        return self.header.opcode

    @classmethod
    def make_query(
        cls,
        name: Name | str,
        rtype: RRType | str | int = RRType.A,
        rclass: RRClass | str | int = RRClass.IN,
        *,
        id: int | None = None,
        flags: Flag = Flag.RD,
        edns: Edns | None = Edns(),  # noqa: B008 (an immutable value)
    ) -> Message:
        """A query with a random ID, RD set and EDNS0 on, unless told otherwise."""
        question = Question(Name.make(name), RRType.make(rtype), RRClass.make(rclass))
        if id is None:
            id = random_u16()
        return cls(Header(id=id, flags=flags), (question,), edns=edns)

    def make_response(self, rcode: Rcode = Rcode.NOERROR, flags: Flag = Flag(0)) -> Message:  # noqa: B008
        """An empty reply to this query: same ID, question and opcode; RD copied."""
        reply_flags = Flag.QR | (self.flags & (Flag.RD | Flag.CD)) | flags
        edns = Edns() if self.edns is not None else None
        header = Header(id=self.id, flags=reply_flags, opcode=self.opcode, rcode=rcode)
        return Message(header, self.question, edns=edns)

    def evolve_header(self, **changes: Any) -> Message:
        return attrs.evolve(self, header=attrs.evolve(self.header, **changes))

    def sections(self) -> Iterable[tuple[str, tuple[Record, ...]]]:
        return (
            ("ANSWER", self.answer),
            ("AUTHORITY", self.authority),
            ("ADDITIONAL", self.additional),
        )

    # -- wire form -------------------------------------------------------------

    @classmethod
    def from_wire(cls, data: bytes) -> Message:
        """Parse a message; anything malformed raises MalformedMessage."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("from_wire takes bytes")
        data = bytes(data)
        if len(data) < 12:
            raise MalformedMessage("shorter than a header", 0)
        msg_id, flags_word, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data, 0)
        reader = WireReader(data, 12)
        questions = []
        for _ in range(qdcount):
            name = reader.name()
            pos = reader.pos
            if pos + 4 > reader.end:
                raise MalformedMessage("question cut short", pos)
            rtype, rclass = _QUESTION_FIXED.unpack_from(data, pos)
            reader.pos = pos + 4
            questions.append(Question(name, _rrtype(rtype), _rrclass(rclass)))
        answer = _read_records(reader, ancount, "answer")
        authority = _read_records(reader, nscount, "authority")
        additional, edns, ext_rcode = _read_additional(reader, arcount)
        if reader.pos != len(data):
            raise MalformedMessage(
                f"{len(data) - reader.pos} octets after the last record", reader.pos
            )
        header = Header(
            id=msg_id,
            flags=_flag(flags_word & FLAGS_MASK & ~0x0040),
            opcode=_opcode((flags_word & OPCODE_MASK) >> OPCODE_SHIFT),
            rcode=_rcode((ext_rcode << 4) | (flags_word & RCODE_MASK)),
        )
        return cls(header, tuple(questions), answer, authority, additional, edns)

    def to_wire(self, max_size: int | None = None) -> bytes:
        """Encode with name compression. With `max_size`, leave out whole RRsets
        from the end to fit, setting TC if an answer or authority RRset was left out."""
        header = self.header
        rcode = int(header.rcode)
        edns = self.edns
        if rcode > 15 and edns is None:
            raise ValueError(f"rcode {header.rcode.name} needs EDNS")
        if (
            len(self.question) == 1
            and not (self.answer or self.authority or self.additional)
            and (edns is None or not edns.options)
        ):
            # Every upstream query: one name, nothing to compress it against, and
            # nothing that could need truncating.
            question = self.question[0]
            word = (
                int(header.flags)
                | ((int(header.opcode) << OPCODE_SHIFT) & OPCODE_MASK)
                | (rcode & RCODE_MASK)
            )
            wire = (
                _HEADER.pack(header.id, word, 1, 0, 0, 0 if edns is None else 1)
                + question.name._wire
                + _QUESTION_FIXED.pack(question.rtype, question.rclass)
            )
            if edns is None:
                return wire
            ttl = (
                ((rcode >> 4) << 24)
                | (edns.version << 16)
                | (DO_BIT if edns.dnssec_ok else 0)
                | (edns.z & 0x7FFF)
            )
            return wire + _OPT_FIXED.pack(0, 41, edns.payload, ttl, 0)
        writer = WireWriter()
        writer.write(bytes(12))
        for question in self.question:
            writer.name(question.name)
            writer.u16(question.rtype)
            writer.u16(question.rclass)
        opt_size = 0
        if self.edns is not None:
            opt_size = 11 + sum(4 + len(option.option_data()) for option in self.edns.options)
        limit = None if max_size is None else max_size - opt_size
        counts = []
        truncated = False
        for index, records in enumerate((self.answer, self.authority, self.additional)):
            written = 0
            if not truncated:
                written, truncated = _write_section(writer, records, limit, index == 2)
            counts.append(written)
        if self.edns is not None:
            self.edns.to_wire(writer, rcode >> 4)
            counts[2] += 1
        flags = int(header.flags) | (Flag.TC if truncated else 0)
        word = flags | ((int(header.opcode) << OPCODE_SHIFT) & OPCODE_MASK) | (rcode & RCODE_MASK)
        _HEADER.pack_into(writer.buf, 0, header.id, word, len(self.question), *counts)
        return writer.getvalue()

    # -- presentation form -----------------------------------------------------

    def to_text(self) -> str:
        """dig-style text."""
        header = self.header
        counts = (
            len(self.question),
            len(self.answer),
            len(self.authority),
            len(self.additional) + (1 if self.edns else 0),
        )
        lines = [
            f";; ->>HEADER<<- opcode: {header.opcode.name}, status: {header.rcode.name}, id: {header.id}",
            f";; flags: {header.flags.to_text()}; QUERY: {counts[0]}, ANSWER: {counts[1]}, "
            f"AUTHORITY: {counts[2]}, ADDITIONAL: {counts[3]}",
        ]
        if self.edns is not None:
            lines += ["", ";; OPT PSEUDOSECTION:", self.edns.to_text()]
        if self.question:
            lines += ["", ";; QUESTION SECTION:"]
            lines += [question.to_text() for question in self.question]
        for title, records in self.sections():
            if records:
                lines += ["", f";; {title} SECTION:"]
                lines += [record.to_text() for record in records]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_text()


def _read_additional(reader: WireReader, count: int) -> tuple[tuple[Record, ...], Edns | None, int]:
    opt: list[tuple[Edns, int]] = []
    records = _read_records(reader, count, "additional", opt)
    if not opt:
        return records, None, 0
    edns, ext_rcode = opt[0]
    return records, edns, ext_rcode


def _write_section(
    writer: WireWriter, records: tuple[Record, ...], limit: int | None, is_additional: bool
) -> tuple[int, bool]:
    """Write records until one does not fit; returns (count written, truncated)."""
    rrset_mark = len(writer)
    rrset_start = 0
    previous: tuple[Name, int, int] | None = None
    for index, record in enumerate(records):
        key = (record.name, record.rtype, record.rclass)
        if key != previous:
            rrset_mark, rrset_start, previous = len(writer), index, key
        writer.name(record.name)
        writer.write(_RR_FIXED.pack(record.rtype, record.rclass, record.ttl, 0)[:8])
        length_at = len(writer)
        writer.u16(0)
        record.rdata.to_wire(writer)
        rdlength = len(writer) - length_at - 2
        writer.buf[length_at : length_at + 2] = rdlength.to_bytes(2, "big")
        if limit is not None and len(writer) > limit:
            # Leave out the whole RRset this record belongs to, never part of one.
            writer.truncate(rrset_mark)
            return rrset_start, not is_additional
    return len(records), False

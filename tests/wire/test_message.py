"""Whole messages: golden packets, compression, truncation, EDNS, and round trips.

dnspython is the oracle: the golden packets in tests/data were encoded by it, and
whatever we encode must parse in dnspython to the same message.
"""

from __future__ import annotations

import itertools
import struct

import attrs
import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.data import NAMES, load
from tests.data.make_golden import COOKIE_CLIENT, COOKIE_SERVER, EDE_TEXT, GTLD_SERVERS
from tests.wire import strategies
from trio_dns import (
    Cookie,
    EdeCode,
    Edns,
    EdnsOptionCode,
    ExtendedError,
    Flag,
    GenericOption,
    GenericRdata,
    Header,
    Message,
    Name,
    Opcode,
    Question,
    Rcode,
    Record,
    RRClass,
    RRType,
    rdata_from_text,
)


def n(text: str) -> Name:
    return Name.from_text(text)


def record(owner: str, rtype: str, rdata: str, ttl: int = 3600) -> Record:
    kind = RRType.from_text(rtype)
    return Record(n(owner), kind, RRClass.IN, ttl, rdata_from_text(kind, rdata))


def uncompressed_size(message: Message) -> int:
    size = 12 + sum(len(q.name.to_wire()) + 4 for q in message.question)
    for _, records in message.sections():
        size += sum(len(r.name.to_wire()) + 10 + len(r.rdata.to_bytes()) for r in records)
    if message.edns is not None:
        size += 11 + sum(4 + len(option.option_data()) for option in message.edns.options)
    return size


def check_against_dnspython(message: Message, wire: bytes) -> None:
    """Every record of `message` (parsed from `wire`) is the one dnspython sees there."""
    theirs = dns.message.from_wire(wire)
    assert message.id == theirs.id
    assert int(message.rcode) == theirs.rcode()
    assert [(str(q.name).lower(), int(q.rtype), int(q.rclass)) for q in message.question] == [
        (rrset.name.to_text().lower(), int(rrset.rdtype), int(rrset.rdclass))
        for rrset in theirs.question
    ]
    for ours, their_section in zip(
        (message.answer, message.authority, message.additional),
        (theirs.answer, theirs.authority, theirs.additional),
        strict=True,
    ):
        flat = [(rrset, rdata) for rrset in their_section for rdata in rrset]
        assert len(ours) == len(flat)
        for mine, (rrset, rdata) in zip(ours, flat, strict=True):
            assert dns.name.from_wire(mine.name.to_wire(), 0)[0] == rrset.name
            mine_fields = (int(mine.rtype), int(mine.rclass), mine.ttl)
            assert mine_fields == (int(rrset.rdtype), int(rrset.rdclass), rrset.ttl)
            assert mine.rdata.to_bytes() == rdata.to_wire()
            if not isinstance(mine.rdata, GenericRdata):
                # Our presentation form means the same thing to dnspython.
                again = dns.rdata.from_text(rrset.rdclass, rrset.rdtype, mine.rdata.to_text())
                assert again == rdata


# -- every golden packet -------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_golden_round_trip(name: str) -> None:
    wire = load(name)
    message = Message.from_wire(wire)
    encoded = message.to_wire()
    assert Message.from_wire(encoded) == message
    # dnspython and we compress the same way, so the octets are the same too.
    assert encoded == wire
    assert dns.message.from_wire(encoded) == dns.message.from_wire(wire)
    check_against_dnspython(message, wire)
    assert len(message.to_text().splitlines()) >= 3


def test_golden_files_are_all_tested() -> None:
    assert set(NAMES) == {
        "referral",
        "dnssec_answer",
        "nxdomain_nsec3",
        "truncated",
        "ede_cookie",
        "cname_chain",
    }


# -- known answers ---------------------------------------------------------------


def test_referral_from_a_root_server() -> None:
    wire = load("referral")
    message = Message.from_wire(wire)
    assert message.header == Header(id=0x4F1A, flags=Flag.QR, opcode=Opcode.QUERY)
    assert message.question == (Question(n("www.example.com"), RRType.A, RRClass.IN),)
    assert message.answer == ()
    assert len(message.authority) == 13
    assert {(r.name, r.rtype, r.ttl) for r in message.authority} == {(n("com"), RRType.NS, 172800)}
    # The NS rdata comes in whatever order the server rotated it to.
    targets = sorted(r.rdata.to_bytes() for r in message.authority)
    assert targets == [n(f"{letter}.gtld-servers.net").to_wire() for letter in GTLD_SERVERS]
    glue = {(str(r.name), r.rtype): r.rdata.to_text() for r in message.additional}
    assert len(message.additional) == 26
    for letter, (v4, v6) in GTLD_SERVERS.items():
        assert glue[f"{letter}.gtld-servers.net.", RRType.A] == v4
        assert glue[f"{letter}.gtld-servers.net.", RRType.AAAA] == v6
    assert message.edns == Edns(payload=1232)
    # 39 records whose names share two suffixes: compression saves over 40%.
    assert len(wire) == 840
    assert len(wire) < 0.6 * uncompressed_size(message)


def test_dnssec_signed_answer() -> None:
    message = Message.from_wire(load("dnssec_answer"))
    assert message.flags == Flag.QR | Flag.RD | Flag.RA | Flag.AD
    assert message.rcode == Rcode.NOERROR
    assert message.edns is not None and message.edns.dnssec_ok
    address, signature = message.answer
    assert (address.name, address.rtype, address.ttl) == (n("example.com"), RRType.A, 3600)
    assert address.rdata.to_text() == "93.184.215.14"
    assert (signature.name, signature.rtype, signature.ttl) == (
        n("example.com"),
        RRType.RRSIG,
        3600,
    )
    # Read the RRSIG fields from its octets, which works with or without an RRSIG class.
    rdata = signature.rdata.to_bytes()
    covered, algorithm, label_count, original_ttl, expiration, inception, key_tag = (
        struct.unpack_from("!HBBIIIH", rdata)
    )
    assert (covered, algorithm, label_count, original_ttl) == (RRType.A, 13, 2, 3600)
    assert (expiration, inception) == (1732233600, 1730419200)  # 2024-11-22, 2024-11-01
    signer_wire = n("example.com").to_wire()
    assert rdata[18 : 18 + len(signer_wire)] == signer_wire
    assert len(rdata) == 18 + len(signer_wire) + 64  # an ECDSA P-256 signature
    assert key_tag == 42446


def test_nxdomain_with_nsec3_proof() -> None:
    message = Message.from_wire(load("nxdomain_nsec3"))
    assert message.rcode == Rcode.NXDOMAIN
    assert message.flags == Flag.QR | Flag.AA
    assert message.question[0].name == n("doesnotexist.example.com")
    assert message.answer == ()
    kinds = [r.rtype for r in message.authority]
    assert kinds == [RRType.SOA, RRType.RRSIG] + [RRType.NSEC3, RRType.RRSIG] * 3
    soa = message.authority[0]
    assert soa.rdata == rdata_from_text(
        "SOA", "ns.icann.org. noc.dns.icann.org. 2024081475 7200 3600 1209600 3600"
    )
    nsec3s = [r for r in message.authority if r.rtype == RRType.NSEC3]
    for nsec3 in nsec3s:
        assert nsec3.name.parent() == n("example.com")
        assert len(nsec3.name.labels[0]) == 32  # base32hex of a SHA-1 hash
        # SHA-1, no opt-out, no extra iterations, no salt, a 20-octet next hash.
        assert nsec3.rdata.to_bytes()[:6] == bytes([1, 0, 0, 0, 0, 20])
    # The first one matches the closest encloser, example.com itself.
    hashed = dns.dnssec.nsec3_hash("example.com.", b"", 0, 1).lower()
    assert nsec3s[0].name.labels[0] == hashed.encode()
    covered = [r.rdata.to_bytes()[:2] for r in message.authority if r.rtype == RRType.RRSIG]
    assert covered == [b"\x00\x06"] + [b"\x00\x32"] * 3  # SOA, then NSEC3 x3


def test_truncated_reply() -> None:
    message = Message.from_wire(load("truncated"))
    assert message.flags == Flag.QR | Flag.AA | Flag.TC
    assert message.question == (Question(n("example.com"), RRType.TXT),)
    assert (message.answer, message.authority, message.additional) == ((), (), ())
    assert message.edns == Edns(payload=1232)


def test_cookie_and_extended_error() -> None:
    message = Message.from_wire(load("ede_cookie"))
    assert message.rcode == Rcode.SERVFAIL
    assert message.flags == Flag.QR | Flag.RD | Flag.RA
    assert message.edns is not None
    assert message.edns.options == (
        Cookie(COOKIE_CLIENT, COOKIE_SERVER),
        ExtendedError(EdeCode.DNSKEY_MISSING, EDE_TEXT),
    )
    cookie = message.edns.option(Cookie)
    assert isinstance(cookie, Cookie) and len(cookie.server) == 16
    assert "EDE: 9" in message.to_text()


def test_cname_chain() -> None:
    message = Message.from_wire(load("cname_chain"))
    chain = message.answer
    assert [r.rtype for r in chain] == [RRType.CNAME] * 3 + [RRType.A]
    assert [r.ttl for r in chain] == [3600, 900, 900, 20]
    assert chain[0].name == message.question[0].name == n("www.microsoft.com")
    for alias, target in itertools.pairwise(chain):
        assert alias.rdata.to_bytes() == target.name.to_wire()
    assert chain[-1].rdata.to_text() == "23.50.124.205"


# -- compression -----------------------------------------------------------------


def mail_answer() -> Message:
    query = Message.make_query("Example.COM", "MX", id=7)
    return with_sections(
        query.make_response(flags=Flag.AA | Flag.RA),
        answer=tuple(
            record("example.com", "MX", f"{pref} mx{pref}.mail.example.com.")
            for pref in (10, 20, 30)
        ),
        authority=(
            record("example.com", "NS", "ns1.example.com."),
            record("example.com", "NS", "NS2.EXAMPLE.COM."),
        ),
        additional=tuple(
            record(f"mx{pref}.mail.example.com", "A", f"192.0.2.{pref}") for pref in (10, 20, 30)
        ),
    )


def with_sections(
    message: Message,
    answer: tuple[Record, ...] | None = None,
    authority: tuple[Record, ...] | None = None,
    additional: tuple[Record, ...] | None = None,
) -> Message:
    return attrs.evolve(
        message,
        answer=message.answer if answer is None else answer,
        authority=message.authority if authority is None else authority,
        additional=message.additional if additional is None else additional,
    )


def test_compression_matches_dnspython() -> None:
    message = mail_answer()
    wire = message.to_wire()
    assert len(wire) < 0.6 * uncompressed_size(message)
    # dnspython, re-encoding what it parsed, produces the very same octets.
    assert dns.message.from_wire(wire).to_wire(want_shuffle=False) == wire
    # A name that differs only in case is still compressed, to its first spelling.
    again = Message.from_wire(wire)
    assert again == message
    assert again.authority[1].rdata.to_bytes() == n("NS2.Example.COM").to_wire()


def test_compression_octets_match_dnspython() -> None:
    # One record per RRset, so dnspython keeps the order and the octets must agree.
    message = Message(
        Header(id=0x2222, flags=Flag.QR | Flag.AA),
        (Question(n("Mail.Example.ORG"), RRType.MX),),
        (
            record("mail.example.org", "CNAME", "mx.hosting.example.net."),
            record("mx.hosting.example.net", "MX", "10 in1.smtp.hosting.example.net."),
        ),
        (
            record(
                "hosting.example.net", "SOA", "ns.example.net. admin.hosting.example.net. 1 2 3 4 5"
            ),
        ),
        (
            record("in1.smtp.hosting.example.net", "A", "198.51.100.7"),
            record("in1.smtp.hosting.example.net", "AAAA", "2001:db8::7"),
        ),
        Edns(payload=1400, options=(Cookie(b"12345678"),)),
    )
    wire = message.to_wire()
    assert dns.message.from_wire(wire).to_wire(want_shuffle=False) == wire
    assert len(wire) < 0.6 * uncompressed_size(message)


def test_rdata_names_of_later_types_are_not_compressed() -> None:
    # RFC 3597 section 4: only the RFC 1035 types may have compressed rdata names.
    dname = record("alias.example.com", "DNAME", "example.com.")
    message = Message(Header(id=1, flags=Flag.QR), answer=(dname,))
    wire = message.to_wire()
    assert wire.endswith(n("example.com").to_wire())


# -- truncation ------------------------------------------------------------------


def big_answer() -> Message:
    """20 RRsets of 3 addresses each: about 1200 octets."""
    answer = tuple(
        record(f"host{i}.example.com", "A", f"192.0.2.{i * 3 + j}", ttl=300)
        for i in range(20)
        for j in range(3)
    )
    authority = (record("example.com", "NS", "ns1.example.com."),)
    edns = Edns(payload=4096, options=(Cookie(b"c" * 8, b"s" * 16),))
    return Message(Header(id=99, flags=Flag.QR | Flag.AA), (), answer, authority, (), edns)


def assert_whole_rrsets(kept: tuple[Record, ...], original: tuple[Record, ...]) -> None:
    assert kept == original[: len(kept)]
    if 0 < len(kept) < len(original):
        last, following = kept[-1], original[len(kept)]
        key = (last.name, last.rtype, last.rclass)
        assert key != (following.name, following.rtype, following.rclass)


def test_truncation_drops_whole_rrsets_and_sets_tc() -> None:
    message = big_answer()
    assert len(message.to_wire()) > 1000
    wire = message.to_wire(max_size=512)
    assert len(wire) <= 512
    cut = Message.from_wire(wire)
    assert Flag.TC in cut.flags
    assert 0 < len(cut.answer) < len(message.answer)
    assert_whole_rrsets(cut.answer, message.answer)
    # Once the answer is cut short nothing after it is sent, but OPT always is.
    assert cut.authority == ()
    assert cut.edns == message.edns
    # dnspython agrees it is a truncated reply.
    theirs = dns.message.from_wire(wire)
    assert theirs.flags & dns.flags.TC
    assert theirs.opt is not None


def test_truncation_in_authority_sets_tc() -> None:
    message = with_sections(big_answer(), answer=(), authority=big_answer().answer)
    cut = Message.from_wire(message.to_wire(max_size=512))
    assert Flag.TC in cut.flags
    assert_whole_rrsets(cut.authority, message.authority)


def test_dropping_additional_records_does_not_set_tc() -> None:
    message = big_answer()
    message = with_sections(message, answer=message.answer[:3], additional=message.answer[3:])
    wire = message.to_wire(max_size=512)
    assert len(wire) <= 512
    cut = Message.from_wire(wire)
    assert Flag.TC not in cut.flags
    assert cut.answer == message.answer
    assert cut.authority == message.authority
    assert 0 < len(cut.additional) < len(message.additional)
    assert_whole_rrsets(cut.additional, message.additional)
    assert cut.edns == message.edns


def test_a_message_that_fits_is_unchanged() -> None:
    message = mail_answer()
    assert message.to_wire(max_size=512) == message.to_wire()
    assert Flag.TC not in Message.from_wire(message.to_wire(max_size=512)).flags


# -- EDNS ------------------------------------------------------------------------


def test_extended_rcode_goes_through_the_opt_ttl() -> None:
    message = Message(Header(id=5, flags=Flag.QR, rcode=Rcode.BADVERS), edns=Edns())
    wire = message.to_wire()
    flags_word = int.from_bytes(wire[2:4], "big")
    assert flags_word & 0xF == 0  # BADVERS is 16: its low four bits are 0
    opt_ttl = int.from_bytes(wire[-6:-2], "big")
    assert opt_ttl >> 24 == 1
    assert Message.from_wire(wire).rcode == Rcode.BADVERS
    assert dns.message.from_wire(wire).rcode() == dns.rcode.BADVERS


def test_extended_rcode_needs_edns() -> None:
    with pytest.raises(ValueError, match="EDNS"):
        Message(Header(rcode=Rcode.BADCOOKIE)).to_wire()


def test_edns_fields_round_trip_and_match_dnspython() -> None:
    unknown = GenericOption(EdnsOptionCode(65001), b"\x01\x02\x03")
    nsid = GenericOption(EdnsOptionCode.NSID, b"")
    edns = Edns(payload=4000, version=0, dnssec_ok=True, options=(unknown, nsid), z=0x0001)
    message = Message.make_query("example.org", "DNSKEY", id=3, edns=edns)
    wire = message.to_wire()
    again = Message.from_wire(wire)
    assert again == message
    assert again.edns is not None and again.edns.options == (unknown, nsid)
    theirs = dns.message.from_wire(wire)
    assert theirs.payload == 4000
    assert theirs.ednsflags & dns.flags.DO
    assert [(int(o.otype), o.to_wire()) for o in theirs.options] == [
        (65001, b"\x01\x02\x03"),
        (3, b""),
    ]


def test_edns_version_and_no_do_bit() -> None:
    message = Message.make_query("example.org", id=3, edns=Edns(payload=512, version=1))
    theirs = dns.message.from_wire(message.to_wire())
    assert theirs.edns == 1
    assert not theirs.ednsflags & dns.flags.DO


def test_parser_clears_the_z_flag() -> None:
    wire = bytearray(Message.make_query("example.org", id=3, edns=None).to_wire())
    wire[3] |= 0x40
    assert Message.from_wire(bytes(wire)).flags == Flag.RD


def test_opcode_and_all_flags_survive() -> None:
    everything = Flag.QR | Flag.AA | Flag.TC | Flag.RD | Flag.RA | Flag.AD | Flag.CD
    message = Message(
        Header(id=0xFFFF, flags=everything, opcode=Opcode.NOTIFY, rcode=Rcode.REFUSED)
    )
    wire = message.to_wire()
    assert Message.from_wire(wire) == message
    theirs = dns.message.from_wire(wire)
    assert theirs.opcode() == 4 and theirs.rcode() == 5
    assert theirs.flags & 0x87B0 == 0x87B0


# -- hypothesis ------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(strategies.messages())
def test_any_message_round_trips(message: Message) -> None:
    wire = message.to_wire()
    again = Message.from_wire(wire)
    assert again == message
    # Encoding what we parsed gives the same octets: compression is deterministic.
    assert again.to_wire() == wire


@settings(max_examples=100, deadline=None)
@given(strategies.messages(rclass_strategy=st.just(RRClass.IN)))
def test_dnspython_reads_what_we_write(message: Message) -> None:
    # dnspython reads other opcodes (UPDATE) with their own rules.
    message = message.evolve_header(opcode=Opcode.QUERY)
    wire = message.to_wire()
    theirs = dns.message.from_wire(wire)
    assert theirs.id == message.id
    assert int(theirs.rcode()) == int(message.rcode)
    assert int(theirs.opcode()) == int(message.opcode)
    assert theirs.flags & 0x87B0 == message.flags
    assert len(theirs.question) <= len(message.question)
    if message.edns is None:
        assert theirs.opt is None
    else:
        assert theirs.payload == message.edns.payload
        assert bool(theirs.ednsflags & dns.flags.DO) == message.edns.dnssec_ok
        assert len(theirs.options) == len(message.edns.options)


@settings(max_examples=100, deadline=None)
@given(strategies.messages(), st.integers(12, 600))
def test_truncated_encoding_is_a_valid_prefix(message: Message, max_size: int) -> None:
    full = message.to_wire()
    wire = message.to_wire(max_size=max_size)
    cut = Message.from_wire(wire)
    assert cut.header.id == message.id and cut.question == message.question
    assert cut.edns == message.edns
    if len(full) <= max_size:
        assert wire == full
    fixed = len(Message(message.header, message.question, edns=message.edns).to_wire())
    if fixed <= max_size:
        assert len(wire) <= max_size
    kept = (cut.answer, cut.authority, cut.additional)
    for mine, original in zip(
        kept, (message.answer, message.authority, message.additional), strict=True
    ):
        assert_whole_rrsets(mine, original)
    dropped_main = len(cut.answer) < len(message.answer) or len(cut.authority) < len(
        message.authority
    )
    assert (Flag.TC in cut.flags) == (dropped_main or Flag.TC in message.flags)


# -- what a parsed message shares with the ones before it (the cache's memory) -----


def _answer_for(owner: str, ttl: int) -> bytes:
    query = Message.make_query(owner, "A", edns=None)
    record = Record(
        Name.from_text(owner), RRType.A, RRClass.IN, ttl, rdata_from_text("A", "192.0.2.1")
    )
    return attrs.evolve(query, answer=(record,)).to_wire()


def test_parsed_names_share_suffix_labels_and_ttls_across_messages() -> None:
    first = Message.from_wire(_answer_for("one.Example.com", 3600)).answer[0]
    second = Message.from_wire(_answer_for("two.Example.com", 3600)).answer[0]
    assert first.name.labels[1:] == second.name.labels[1:] == (b"Example", b"com")
    assert all(a is b for a, b in zip(first.name.labels[1:], second.name.labels[1:], strict=True))
    assert first.name.labels[0] is not second.name.labels[0]
    assert first.ttl is second.ttl
    # Case is kept: a label spelled otherwise is its own object, with its own case.
    other = Message.from_wire(_answer_for("three.EXAMPLE.com", 3600)).answer[0]
    assert other.name.labels[1] == b"EXAMPLE"


def test_a_lowercase_name_keeps_one_copy_of_its_wire_form() -> None:
    lower = Message.from_wire(_answer_for("www.example.com", 300)).answer[0].name
    assert lower.canonical_wire() is lower.to_wire()
    built = Name.from_text("a.b")
    assert built.canonical_wire() is built.to_wire()
    mixed = Message.from_wire(_answer_for("WWW.example.com", 300)).answer[0].name
    assert mixed.to_wire() == b"\x03WWW\x07example\x03com\x00"
    assert mixed.canonical_wire() == b"\x03www\x07example\x03com\x00"
    assert mixed == lower and hash(mixed) == hash(lower)


@pytest.mark.parametrize(
    ("edns", "dnspython_edns"),
    [
        (None, {"use_edns": False}),
        (Edns(payload=1232), {"use_edns": 0, "payload": 1232}),
        (Edns(payload=4096, dnssec_ok=True), {"use_edns": 0, "payload": 4096, "want_dnssec": True}),
    ],
)
def test_a_query_encodes_as_dnspython_encodes_it(
    edns: Edns | None, dnspython_edns: dict[str, object]
) -> None:
    # Queries take a shortcut past the compressing writer: the same octets.
    ours = Message.make_query(
        "WwW.Example.org", "MX", id=0x1234, flags=Flag.RD | Flag.CD, edns=edns
    )
    theirs = dns.message.make_query("WwW.Example.org", "MX", **dnspython_edns)  # type: ignore[arg-type]
    theirs.id = 0x1234
    theirs.flags = dns.flags.RD | dns.flags.CD
    assert ours.to_wire() == theirs.to_wire()
    assert Message.from_wire(ours.to_wire()) == ours

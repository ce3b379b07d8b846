"""The authoritative answers of `answer_query`, one kind of answer per test."""

from __future__ import annotations

import ast
import pathlib
import struct

import pytest

import trio_dns._decisions.authority
from trio_dns import Edns, Flag, Message, Name, Opcode, Rcode, RRType, ZoneFileError
from trio_dns._decisions.authority import MAX_CHAIN, Zone, answer_query, choose_zone
from trio_dns._wire.message import Header, Question

EXAMPLE = """
$ORIGIN example.
$TTL 3600
@           SOA   ns1 hostmaster 1 7200 900 1209600 300
@           NS    ns1
@           NS    ns2.elsewhere.
ns1         A     192.0.2.1
ns1         AAAA  2001:db8::1
www         A     192.0.2.10
www         A     192.0.2.11
www         TXT   "hello"
alias       CNAME www
outside     CNAME www.other.
dangling    CNAME nothere
loop1       CNAME loop2
loop2       CNAME loop1
a.b.c       A     192.0.2.20
*.wild      A     192.0.2.30
*.wild      TXT   "wild"
*.wildalias CNAME www
sub         NS    ns.sub
sub         NS    ns.other.
sub         DS    \\# 36 30390802ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB
ns.sub      A     192.0.2.40
ns.sub      AAAA  2001:db8::40
tocut       CNAME host.sub
old         DNAME new.example.
new         NS    ns1
"""

SUB = """
$ORIGIN sub.example.
@   3600 SOA ns.sub hostmaster 1 7200 900 1209600 60
@   3600 NS  ns.sub
ns  3600 A   192.0.2.40
www 3600 A   192.0.2.41
"""

ZONES = (Zone.from_text(EXAMPLE, "example."), Zone.from_text(SUB, "sub.example."))


def ask(
    name: str, rtype: str = "A", *, edns: Edns | None = None, zones: tuple[Zone, ...] = ZONES
) -> Message:
    return answer_query(zones, Message.make_query(name, rtype, id=4242, edns=edns))


def texts(records: tuple[object, ...]) -> list[str]:
    return [str(record) for record in records]


def test_answer_is_authoritative_and_echoes_the_query() -> None:
    reply = ask("www.example.", "A")
    assert reply.id == 4242
    assert reply.rcode == Rcode.NOERROR
    assert Flag.AA in reply.flags and Flag.QR in reply.flags and Flag.RD in reply.flags
    assert reply.question == (Question(Name.from_text("www.example."), RRType.A),)
    assert sorted(r.rdata.to_text() for r in reply.answer) == ["192.0.2.10", "192.0.2.11"]
    assert reply.authority == () and reply.additional == ()
    assert reply.edns is None


def test_names_compare_without_case_and_keep_the_zone_spelling() -> None:
    reply = ask("WWW.EXAMPLE.", "TXT")
    assert texts(reply.answer) == ['www.example.\t3600\tIN\tTXT\t"hello"']


def test_cname_is_followed_inside_the_zone() -> None:
    reply = ask("alias.example.", "A")
    assert Flag.AA in reply.flags
    assert [r.rtype for r in reply.answer] == [RRType.CNAME, RRType.A, RRType.A]
    assert reply.answer[0].name == Name.from_text("alias.example.")


def test_cname_query_returns_the_cname_alone() -> None:
    reply = ask("alias.example.", "CNAME")
    assert [r.rtype for r in reply.answer] == [RRType.CNAME]


def test_cname_out_of_zone_is_left_for_the_asker() -> None:
    reply = ask("outside.example.", "A")
    assert reply.rcode == Rcode.NOERROR
    assert texts(reply.answer) == ["outside.example.\t3600\tIN\tCNAME\twww.other."]
    assert reply.authority == ()


def test_cname_to_a_missing_name_is_nxdomain_with_the_cname() -> None:
    reply = ask("dangling.example.", "A")
    assert reply.rcode == Rcode.NXDOMAIN  # RFC 6604: the rcode is for the last name
    assert [r.rtype for r in reply.answer] == [RRType.CNAME]
    assert [r.rtype for r in reply.authority] == [RRType.SOA]


def test_cname_loop_stops() -> None:
    reply = ask("loop1.example.", "A")
    assert [str(r.name) for r in reply.answer] == ["loop1.example.", "loop2.example."]
    assert len(reply.answer) <= MAX_CHAIN + 1


def test_long_cname_chain_is_bounded() -> None:
    lines = [f"c{i} CNAME c{i + 1}" for i in range(3 * MAX_CHAIN)]
    zone = Zone.from_text("@ 60 SOA ns h 1 1 1 1 1\n$TTL 60\n" + "\n".join(lines), "chain.")
    reply = ask("c0.chain.", "A", zones=(zone,))
    assert 0 < len(reply.answer) <= MAX_CHAIN + 1


def test_nxdomain_carries_the_soa_with_the_negative_ttl() -> None:
    reply = ask("nothere.example.", "A")
    assert reply.rcode == Rcode.NXDOMAIN
    assert Flag.AA in reply.flags
    assert reply.answer == ()
    (soa,) = reply.authority
    assert soa.rtype == RRType.SOA and soa.name == Name.from_text("example.")
    assert soa.ttl == 300  # min(SOA TTL 3600, MINIMUM 300)


def test_negative_ttl_is_the_soa_ttl_when_lower() -> None:
    zone = Zone.from_text("@ 30 SOA ns h 1 1 1 1 600\n", "low.")
    (soa,) = ask("x.low.", zones=(zone,)).authority
    assert soa.ttl == 30


def test_nodata_for_a_missing_type() -> None:
    reply = ask("www.example.", "MX")
    assert reply.rcode == Rcode.NOERROR
    assert Flag.AA in reply.flags
    assert reply.answer == ()
    assert [r.rtype for r in reply.authority] == [RRType.SOA]


def test_empty_non_terminal_is_nodata_not_nxdomain() -> None:
    for name in ("b.c.example.", "c.example."):
        reply = ask(name, "A")
        assert reply.rcode == Rcode.NOERROR, name
        assert reply.answer == ()
        assert [r.rtype for r in reply.authority] == [RRType.SOA]


def test_wildcard_answer_is_synthesised_with_the_query_name() -> None:
    reply = ask("anything.wild.example.", "A")
    assert Flag.AA in reply.flags
    assert texts(reply.answer) == ["anything.wild.example.\t3600\tIN\tA\t192.0.2.30"]


def test_wildcard_covers_deeper_names_too() -> None:
    reply = ask("a.b.wild.example.", "TXT")
    assert [str(r.name) for r in reply.answer] == ["a.b.wild.example."]


def test_wildcard_nodata() -> None:
    reply = ask("x.wild.example.", "MX")
    assert reply.rcode == Rcode.NOERROR
    assert reply.answer == ()
    assert [r.rtype for r in reply.authority] == [RRType.SOA]


def test_wildcard_does_not_apply_below_an_existing_name() -> None:
    # RFC 4592: the closest encloser of x.www.example is www.example, which has
    # no wildcard child, so *.wild does not matter and neither does the apex.
    reply = ask("x.www.example.", "A")
    assert reply.rcode == Rcode.NXDOMAIN


def test_wildcard_does_not_answer_for_the_empty_non_terminal_parent() -> None:
    reply = ask("wild.example.", "A")
    assert reply.rcode == Rcode.NOERROR
    assert reply.answer == ()


def test_wildcard_cname_is_synthesised_and_followed() -> None:
    reply = ask("foo.wildalias.example.", "A")
    assert str(reply.answer[0]) == "foo.wildalias.example.\t3600\tIN\tCNAME\twww.example."
    assert [r.rtype for r in reply.answer[1:]] == [RRType.A, RRType.A]


def test_referral_at_a_zone_cut() -> None:
    zone = Zone.from_text(EXAMPLE, "example.")
    reply = ask("www.sub.example.", "A", zones=(zone,))
    assert reply.rcode == Rcode.NOERROR
    assert Flag.AA not in reply.flags
    assert reply.answer == ()
    assert sorted(r.rdata.to_text() for r in reply.authority) == ["ns.other.", "ns.sub.example."]
    assert all(r.rtype == RRType.NS for r in reply.authority)
    # Glue only for the nameserver inside the zone; both address types.
    assert sorted(r.rdata.to_text() for r in reply.additional) == ["192.0.2.40", "2001:db8::40"]


def test_referral_for_the_cut_itself_and_its_ns() -> None:
    zone = Zone.from_text(EXAMPLE, "example.")
    for rtype in ("A", "NS"):
        reply = ask("sub.example.", rtype, zones=(zone,))
        assert Flag.AA not in reply.flags
        assert reply.answer == ()
        assert {r.rtype for r in reply.authority} == {RRType.NS}


def test_ds_is_answered_by_the_parent_side() -> None:
    zone = Zone.from_text(EXAMPLE, "example.")
    for zones in ((zone,), ZONES):
        reply = ask("sub.example.", "DS", zones=zones)
        assert Flag.AA in reply.flags
        assert [r.rtype for r in reply.answer] == [RRType.DS]


def test_ds_without_the_parent_served_is_nodata_from_the_child() -> None:
    reply = ask("sub.example.", "DS", zones=(ZONES[1],))
    assert reply.answer == ()
    assert str(reply.authority[0].name) == "sub.example."


def test_cname_into_a_delegation_gives_the_cname_and_the_referral() -> None:
    zone = Zone.from_text(EXAMPLE, "example.")
    reply = ask("tocut.example.", "A", zones=(zone,))
    assert [r.rtype for r in reply.answer] == [RRType.CNAME]
    assert {r.rtype for r in reply.authority} == {RRType.NS}
    assert Flag.AA in reply.flags


def test_the_closest_enclosing_zone_answers() -> None:
    reply = ask("www.sub.example.", "A")
    assert Flag.AA in reply.flags
    assert [r.rdata.to_text() for r in reply.answer] == ["192.0.2.41"]
    assert choose_zone(ZONES, Name.from_text("www.sub.example."), RRType.A) is ZONES[1]
    assert choose_zone(ZONES, Name.from_text("example."), RRType.A) is ZONES[0]
    assert choose_zone(ZONES, Name.from_text("org."), RRType.A) is None


def test_ns_answer_at_the_apex_has_glue() -> None:
    reply = ask("example.", "NS")
    assert Flag.AA in reply.flags
    assert len(reply.answer) == 2
    assert sorted(r.rdata.to_text() for r in reply.additional) == ["192.0.2.1", "2001:db8::1"]


def test_dname_rewrites_names_below_it() -> None:
    reply = ask("www.old.example.", "A")
    assert str(reply.answer[0]) == "old.example.\t3600\tIN\tDNAME\tnew.example."
    assert str(reply.answer[1]) == "www.old.example.\t3600\tIN\tCNAME\twww.new.example."
    # The rewritten name is below a zone cut (new. has NS): a referral follows.
    assert {r.rtype for r in reply.authority} == {RRType.NS}


def test_dname_owner_itself_is_not_rewritten() -> None:
    reply = ask("old.example.", "DNAME")
    assert [r.rtype for r in reply.answer] == [RRType.DNAME]


def test_dname_that_makes_a_name_too_long_is_yxdomain() -> None:
    long_target = ".".join(["x" * 60] * 3) + ".example."
    zone = Zone.from_text(f"@ 60 SOA ns h 1 1 1 1 1\nd 60 DNAME {long_target}\n", "example.")
    qname = ".".join(["y" * 60] * 2) + ".d.example."
    reply = ask(qname, "A", zones=(zone,))
    assert reply.rcode == Rcode.YXDOMAIN
    assert [r.rtype for r in reply.answer] == [RRType.DNAME]


def test_any_returns_every_rrset() -> None:
    reply = ask("www.example.", "ANY")
    assert sorted({r.rtype for r in reply.answer}) == [RRType.A, RRType.TXT]


def test_names_in_no_zone_are_refused() -> None:
    reply = ask("www.example.org.", "A")
    assert reply.rcode == Rcode.REFUSED
    assert Flag.AA not in reply.flags
    assert reply.answer == reply.authority == ()


def test_other_classes_are_refused() -> None:
    reply = answer_query(ZONES, Message.make_query("www.example.", "A", "CH", edns=None))
    assert reply.rcode == Rcode.REFUSED


def test_zone_transfers_are_refused() -> None:
    assert ask("example.", "AXFR").rcode == Rcode.REFUSED


def test_other_opcodes_are_not_implemented() -> None:
    query = Message.make_query("www.example.", "A").evolve_header(opcode=Opcode.NOTIFY)
    reply = answer_query(ZONES, query)
    assert reply.rcode == Rcode.NOTIMP
    assert reply.opcode == Opcode.NOTIFY
    assert reply.question == query.question


@pytest.mark.parametrize("count", [0, 2])
def test_no_question_or_several_is_formerr(count: int) -> None:
    question = Question(Name.from_text("www.example."), RRType.A)
    query = Message(Header(id=7, flags=Flag.RD), (question,) * count)
    reply = answer_query(ZONES, query)
    assert reply.rcode == Rcode.FORMERR
    assert reply.id == 7 and Flag.QR in reply.flags
    assert reply.question == ()


def test_edns_is_echoed_with_our_payload_and_the_do_bit() -> None:
    reply = ask("www.example.", "A", edns=Edns(payload=4096, dnssec_ok=True))
    assert reply.edns == Edns(payload=1232, dnssec_ok=True)
    plain = ask("www.example.", "A", edns=Edns(payload=512))
    assert plain.edns == Edns(payload=1232)
    # The reply survives the wire.
    assert Message.from_wire(reply.to_wire()) == reply


def test_unknown_edns_version_is_badvers() -> None:
    reply = ask("www.example.", "A", edns=Edns(version=1))
    assert reply.rcode == Rcode.BADVERS
    assert reply.edns is not None
    assert Message.from_wire(reply.to_wire()).rcode == Rcode.BADVERS


def rrsig(covered: RRType) -> str:
    """An RRSIG in the generic form, which reads whether or not RRSIG has a class."""
    fixed = struct.pack("!HBBIIIH", covered, 8, 2, 3600, 2**31, 2**30, 12345)
    data = fixed + Name.from_text("example.").to_wire() + bytes(64)
    return f"\\# {len(data)} {data.hex()}"


def test_rrsigs_ride_along_when_do_is_set() -> None:
    text = EXAMPLE + f"www RRSIG {rrsig(RRType.A)}\n*.wild RRSIG {rrsig(RRType.TXT)}\n"
    zone = Zone.from_text(text, "example.")
    signed = ask("www.example.", "A", edns=Edns(dnssec_ok=True), zones=(zone,))
    assert [r.rtype for r in signed.answer] == [RRType.A, RRType.A, RRType.RRSIG]
    unsigned = ask("www.example.", "A", edns=Edns(), zones=(zone,))
    assert [r.rtype for r in unsigned.answer] == [RRType.A, RRType.A]
    # Not the signature covering another type.
    assert [
        r.rtype for r in ask("www.example.", "TXT", edns=Edns(dnssec_ok=True), zones=(zone,)).answer
    ] == [RRType.TXT]
    wild = ask("q.wild.example.", "TXT", edns=Edns(dnssec_ok=True), zones=(zone,))
    assert [(str(r.name), r.rtype) for r in wild.answer] == [
        ("q.wild.example.", RRType.TXT),
        ("q.wild.example.", RRType.RRSIG),
    ]


def test_zone_from_records_checks_its_records() -> None:
    zone = Zone.from_text(EXAMPLE, "example.")
    assert Zone.from_records("example.", zone.records).rrset(
        Name.from_text("www.example."), RRType.A
    ) == zone.rrset(Name.from_text("www.example."), RRType.A)
    with pytest.raises(ValueError, match="outside the zone"):
        Zone.from_records("other.", zone.records)
    with pytest.raises(ValueError, match="exactly one SOA"):
        Zone.from_records("example.", [r for r in zone.records if r.rtype != RRType.SOA])


def test_zone_from_text_finds_its_origin_and_reports_problems() -> None:
    zone = Zone.from_text("example. 60 IN SOA ns.example. h.example. 1 1 1 1 1\n")
    assert zone.origin == Name.from_text("example.")
    with pytest.raises(ZoneFileError, match="no SOA"):
        Zone.from_text("www.example. 60 IN A 192.0.2.1\n")
    with pytest.raises(ZoneFileError, match=r"zone\.txt"):
        Zone.from_text("www 60 A 192.0.2.1\n", "example.", filename="zone.txt")


def test_duplicate_records_are_kept_once() -> None:
    zone = Zone.from_text("@ 60 SOA ns h 1 1 1 1 1\nw 60 A 192.0.2.1\nw 60 A 192.0.2.1\n", "d.")
    assert len(zone.rrset(Name.from_text("w.d."), RRType.A)) == 1


def test_the_module_is_pure() -> None:
    # The answer logic will also serve local zones in the real server: it may use
    # the wire format and nothing that does I/O.
    tree = ast.parse(pathlib.Path(trio_dns._decisions.authority.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    allowed = ("_wire.", "_dnssec.", "_errors", "collections.", "bisect", "__future__", "attrs")
    assert imported and all(str(name).startswith(allowed) for name in imported), imported


# -- DNSSEC denial proofs (DO set, signed zones) ----------------------------------------

SIGNED = """
$ORIGIN signed.
$TTL 3600
@           SOA   ns1 hostmaster 1 7200 900 1209600 300
@           NS    ns1
ns1         A     192.0.2.1
www         A     192.0.2.10
a.deep      A     192.0.2.11
*.wild      A     192.0.2.30
secure      NS    ns.secure
secure      DS    1 13 2 ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB
ns.secure   A     192.0.2.40
plain       NS    ns.plain
ns.plain    A     192.0.2.41
"""
_NOW = 1_750_000_000


def _signed_zone(denial: str, *, opt_out: bool = False) -> Zone:
    from trio_dns.testing import NSEC3Parameters, SigningKey, sign_zone

    key = SigningKey.generate("signed.", 15)
    records = Zone.from_text(SIGNED).records
    signed = sign_zone(
        records,
        [key],
        inception=_NOW - 60,
        expiration=_NOW + 60,
        denial="nsec3" if denial == "nsec3" else "nsec",
        nsec3=NSEC3Parameters(opt_out=opt_out),
    )
    return Zone.from_records("signed.", signed)


def _ask_do(zone: Zone, qname: str, qtype: str) -> Message:
    return answer_query((zone,), Message.make_query(qname, qtype, edns=Edns(dnssec_ok=True)))


def _of(reply: Message, rtype: RRType) -> list[trio_dns.Record]:
    return [r for r in reply.authority if r.rtype == rtype]


def _covers(reply: Message, rtype: RRType) -> set[RRType]:
    covered = set()
    for record in reply.authority:
        if record.rtype == RRType.RRSIG:
            covered.add(RRType(int.from_bytes(record.rdata.to_bytes()[:2], "big")))
    return covered


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_denial_proofs_prove_what_they_must(denial: str) -> None:
    from trio_dns import _dnssec

    zone = _signed_zone(denial)
    nx_name, nodata_name = Name.from_text("nope.signed."), Name.from_text("www.signed.")
    nx = _ask_do(zone, "nope.signed.", "A")
    nodata = _ask_do(zone, "www.signed.", "MX")
    ent = _ask_do(zone, "deep.signed.", "A")
    wild = _ask_do(zone, "x.wild.signed.", "A")
    wild_nodata = _ask_do(zone, "x.wild.signed.", "MX")
    unsigned = _ask_do(zone, "www.plain.signed.", "A")
    rtype = RRType.NSEC if denial == "nsec" else RRType.NSEC3
    for reply in (nx, nodata, ent, wild, wild_nodata, unsigned):
        assert _of(reply, rtype), reply
        assert rtype in _covers(reply, rtype)
    assert nx.rcode == Rcode.NXDOMAIN and RRType.SOA in _covers(nx, RRType.SOA)
    if denial == "nsec":
        assert _dnssec.nsec_nxdomain(_of(nx, rtype), nx_name).proven
        assert _dnssec.nsec_nodata(_of(nodata, rtype), nodata_name, RRType.MX).proven
        assert _dnssec.nsec_nodata(_of(ent, rtype), Name.from_text("deep.signed."), RRType.A).proven
        assert _dnssec.nsec_wildcard(
            _of(wild, rtype), Name.from_text("x.wild.signed."), Name.from_text("*.wild.signed.")
        ).proven
        assert _dnssec.nsec_nodata(
            _of(wild_nodata, rtype), Name.from_text("x.wild.signed."), RRType.MX
        ).proven
        assert _dnssec.nsec_insecure_delegation(
            _of(unsigned, rtype), Name.from_text("plain.signed.")
        ).proven
    else:
        assert _dnssec.nsec3_nxdomain(_of(nx, rtype), nx_name).proven
        assert _dnssec.nsec3_nodata(_of(nodata, rtype), nodata_name, RRType.MX).proven
        assert _dnssec.nsec3_nodata(
            _of(ent, rtype), Name.from_text("deep.signed."), RRType.A
        ).proven
        assert _dnssec.nsec3_wildcard(
            _of(wild, rtype), Name.from_text("x.wild.signed."), Name.from_text("*.wild.signed.")
        ).proven
        assert _dnssec.nsec3_nodata(
            _of(wild_nodata, rtype), Name.from_text("x.wild.signed."), RRType.MX
        ).proven
        assert _dnssec.nsec3_insecure_delegation(
            _of(unsigned, rtype), Name.from_text("plain.signed.")
        ).proven


def test_opt_out_delegation_gets_a_closest_encloser_proof() -> None:
    from trio_dns import _dnssec

    zone = _signed_zone("nsec3", opt_out=True)
    reply = _ask_do(zone, "www.plain.signed.", "A")
    result = _dnssec.nsec3_insecure_delegation(
        _of(reply, RRType.NSEC3), Name.from_text("plain.signed.")
    )
    assert result.status is _dnssec.ProofStatus.INSECURE and result.opt_out


def test_signed_referral_carries_the_ds_and_its_rrsig() -> None:
    zone = _signed_zone("nsec")
    reply = _ask_do(zone, "www.secure.signed.", "A")
    assert Flag.AA not in reply.flags
    assert [r.name for r in _of(reply, RRType.DS)] == [Name.from_text("secure.signed.")]
    assert RRType.DS in _covers(reply, RRType.DS)
    assert not _of(reply, RRType.NSEC)


def test_no_proofs_without_do() -> None:
    zone = _signed_zone("nsec3")
    reply = answer_query((zone,), Message.make_query("nope.signed.", "A"))
    assert reply.rcode == Rcode.NXDOMAIN
    assert [r.rtype for r in reply.authority] == [RRType.SOA]


def test_nsec3_owner_names_are_not_names_of_the_zone() -> None:
    zone = _signed_zone("nsec3")
    hashed = next(r.name for r in zone.records if r.rtype == RRType.NSEC3)
    assert not zone.exists(hashed)
    reply = answer_query((zone,), Message.make_query(hashed, "A"))
    assert reply.rcode == Rcode.NXDOMAIN
    # The NSEC3 record itself is still there for whoever asks for it by type.
    assert zone.rrset(hashed, RRType.NSEC3)

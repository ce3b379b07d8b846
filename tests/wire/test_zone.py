from pathlib import Path

import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_dns import GenericRdata, Name, Record, RRClass, RRType, ZoneFileError
from trio_dns._wire.rdata import Rdata, parse_rdata_untrusted
from trio_dns._wire.rdtypes.address import AAAA, A
from trio_dns._wire.rdtypes.ds import DS
from trio_dns._wire.rdtypes.mx import MX
from trio_dns._wire.rdtypes.single_name import CNAME, NS
from trio_dns._wire.rdtypes.soa import SOA
from trio_dns._wire.rdtypes.txt import TXT
from trio_dns._wire.reader import WireReader
from trio_dns._wire.root_data import root_hints, root_trust_anchors
from trio_dns._wire.zone import (
    MAX_TTL,
    read_zone,
    read_zone_file,
    ttl_from_text,
    zone_to_text,
)


def n(text: str) -> Name:
    return Name.from_text(text)


def rr(name: str, ttl: int, rdata: Rdata, rclass: RRClass = RRClass.IN) -> Record:
    return Record(n(name), rdata.type, rclass, ttl, rdata)


# -- TTLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("3600", 3600),
        ("1h30m", 5400),
        ("1W", 604800),
        ("2d3h4m5s", 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ("90s", 90),
        (str(MAX_TTL), MAX_TTL),
    ],
)
def test_ttl_from_text(text: str, seconds: int) -> None:
    assert ttl_from_text(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1h30", "1.5h", "-1", "1x", "2147483648", "9999w"])
def test_bad_ttls(text: str) -> None:
    with pytest.raises(ValueError, match="TTL"):
        ttl_from_text(text)


# -- directives and shorthands ----------------------------------------------

SHORTHANDS = """\
$ORIGIN example.com.
$TTL 1h30m
; the apex, with its SOA over several lines
@   IN  SOA ns1 hostmaster.example.com. (
            2024010101 ; serial
            7200       ; refresh
            900 1209600
            300 )      ; minimum
    IN  NS  ns1                ; owner carried over, TTL from $TTL
        NS  ns2.example.net.   ; class omitted too
www 300 IN  A   192.0.2.1
    IN  600 AAAA 2001:db8::1   ; class before TTL
    CNAME\tTYPE1  ; not a real zone, but TYPE1 is a name here
mail    MX  10 @
$ORIGIN sub
host    CLASS1  TYPE1  192.0.2.3
gen     TYPE65280   \\# 3 ABCDEF
known   A   \\# 4 C0000205
empty   TYPE65281   \\# 0
text    TXT "a \\"quoted\\" string" plain "semi;colon" "(paren)" \\065\\066
"""


def test_every_shorthand() -> None:
    records = read_zone(SHORTHANDS)
    soa = SOA(
        n("ns1.example.com"), n("hostmaster.example.com"), 2024010101, 7200, 900, 1209600, 300
    )
    assert records == [
        rr("example.com", 5400, soa),
        rr("example.com", 5400, NS(n("ns1.example.com"))),
        rr("example.com", 5400, NS(n("ns2.example.net"))),
        rr("www.example.com", 300, A("192.0.2.1")),
        rr("www.example.com", 600, AAAA("2001:db8::1")),
        rr("www.example.com", 5400, CNAME(n("TYPE1.example.com"))),
        rr("mail.example.com", 5400, MX(10, n("example.com"))),
        rr("host.sub.example.com", 5400, A("192.0.2.3")),
        rr("gen.sub.example.com", 5400, GenericRdata(RRType(65280), b"\xab\xcd\xef")),
        rr("known.sub.example.com", 5400, A("192.0.2.5")),
        rr("empty.sub.example.com", 5400, GenericRdata(RRType(65281), b"")),
        rr(
            "text.sub.example.com",
            5400,
            TXT((b'a "quoted" string', b"plain", b"semi;colon", b"(paren)", b"AB")),
        ),
    ]
    # Names keep the case the file spelled them in.
    assert records[5].rdata == CNAME(n("type1.example.com"))
    assert str(records[5].rdata) == "TYPE1.example.com."


def test_origin_argument_and_at() -> None:
    records = read_zone("@ 60 NS ns\nwww 60 A 192.0.2.1\n", origin="example.org")
    assert records == [
        rr("example.org", 60, NS(n("ns.example.org"))),
        rr("www.example.org", 60, A("192.0.2.1")),
    ]
    assert read_zone("x 1 A 192.0.2.1", origin=n("a.b")) == [rr("x.a.b", 1, A("192.0.2.1"))]


def test_absolute_origin_directive_replaces_and_relative_one_extends() -> None:
    text = "$ORIGIN a.example.\nx 1 A 192.0.2.1\n$ORIGIN b.example.\ny 1 A 192.0.2.2\n$ORIGIN c\nz 1 A 192.0.2.3\n"
    assert [record.name for record in read_zone(text)] == [
        n("x.a.example"),
        n("y.b.example"),
        n("z.c.b.example"),
    ]


def test_ttl_in_either_order_with_class() -> None:
    text = "a. 1h IN A 192.0.2.1\nb. IN 2m A 192.0.2.2\nc. 3 A 192.0.2.3\nd. CH 4 A 192.0.2.4\n"
    records = read_zone(text.replace("CH", "IN"))
    assert [record.ttl for record in records] == [3600, 120, 3, 4]
    assert {record.rclass for record in records} == {RRClass.IN}
    chaos = read_zone("version.bind. 0 CH TXT x\n", rclass=RRClass.CH)
    assert chaos == [rr("version.bind", 0, TXT((b"x",)), RRClass.CH)]


def test_dollar_ttl_wins_over_the_last_explicit_ttl() -> None:
    # RFC 2308 section 4, as BIND and dnspython read it.
    text = "$TTL 100\na. 5 A 192.0.2.1\nb. A 192.0.2.2\n"
    assert [record.ttl for record in read_zone(text)] == [5, 100]


def test_without_dollar_ttl_the_last_explicit_ttl_carries_on() -> None:
    text = "a. 5 A 192.0.2.1\nb. A 192.0.2.2\nc. 7 A 192.0.2.3\nd. A 192.0.2.4\n"
    assert [record.ttl for record in read_zone(text)] == [5, 5, 7, 7]


def test_soa_minimum_is_the_last_resort() -> None:
    text = "a. SOA ns. host. 1 2 3 4 600\na. NS ns.\nb. 30 A 192.0.2.1\nc. A 192.0.2.2\n"
    assert [record.ttl for record in read_zone(text)] == [600, 600, 30, 30]
    # ...and never overrides a $TTL.
    assert [record.ttl for record in read_zone("$TTL 9\n" + text)] == [9, 9, 30, 9]


def test_default_ttl_argument_acts_as_dollar_ttl() -> None:
    text = "a. A 192.0.2.1\nb. 3 A 192.0.2.2\nc. A 192.0.2.3\n"
    assert [record.ttl for record in read_zone(text, default_ttl=42)] == [42, 3, 42]
    with pytest.raises(ZoneFileError, match="out of range"):
        read_zone(text, default_ttl=-1)


def test_empty_zone() -> None:
    assert read_zone("") == []
    assert read_zone("; nothing\n\n   \n") == []


# -- $INCLUDE ---------------------------------------------------------------


def test_include_is_refused_by_default(tmp_path: Path) -> None:
    (tmp_path / "other.zone").write_text("x. 1 A 192.0.2.1\n")
    main = tmp_path / "main.zone"
    main.write_text("a. 1 A 192.0.2.9\n$INCLUDE other.zone\n")
    with pytest.raises(ZoneFileError) as info:
        read_zone_file(main)
    assert info.value.filename == str(main)
    assert info.value.line == 2
    assert "$INCLUDE is not allowed" in info.value.problem
    assert "allow_include=True" in str(info.value)


def test_include_reads_relative_to_the_including_file(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "hosts.zone").write_text("$TTL 7\nwww A 192.0.2.1\n$ORIGIN elsewhere.\nq A 192.0.2.4\n")
    (sub / "mail.zone").write_text("mx 1 A 192.0.2.2\n")
    main = tmp_path / "main.zone"
    main.write_text(
        "$ORIGIN example.com.\n$TTL 60\n"
        "$INCLUDE sub/hosts.zone\n"
        "$INCLUDE sub/mail.zone mail\n"
        "after A 192.0.2.3\n"
    )
    records = read_zone_file(main, allow_include=True)
    assert records == [
        rr("www.example.com", 7, A("192.0.2.1")),
        rr("q.elsewhere", 7, A("192.0.2.4")),
        rr("mx.mail.example.com", 1, A("192.0.2.2")),
        # The included files' $ORIGIN and $TTL did not leak back.
        rr("after.example.com", 60, A("192.0.2.3")),
    ]


def test_include_depth_is_bounded(tmp_path: Path) -> None:
    loop = tmp_path / "loop.zone"
    loop.write_text("a. 1 A 192.0.2.1\n$INCLUDE loop.zone\n")
    with pytest.raises(ZoneFileError, match="nested more than 8 deep") as info:
        read_zone_file(loop, allow_include=True)
    assert info.value.line == 2


def test_include_of_a_missing_file(tmp_path: Path) -> None:
    main = tmp_path / "main.zone"
    main.write_text("\n$INCLUDE nope.zone\n")
    with pytest.raises(ZoneFileError, match="cannot read") as info:
        read_zone_file(main, allow_include=True)
    assert (info.value.filename, info.value.line) == (str(main), 2)


def test_errors_in_included_files_name_that_file(tmp_path: Path) -> None:
    (tmp_path / "bad.zone").write_text("ok. 1 A 192.0.2.1\nbad. 1 A nope\n")
    main = tmp_path / "main.zone"
    main.write_text("$INCLUDE bad.zone\n")
    with pytest.raises(ZoneFileError) as info:
        read_zone_file(main, allow_include=True)
    assert info.value.filename == str(tmp_path / "bad.zone")
    assert info.value.line == 2


def test_read_zone_file_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "db.example"
    path.write_text("$ORIGIN example.\n\nwww 1 IN AAA 192.0.2.1\n")
    with pytest.raises(ZoneFileError) as info:
        read_zone_file(path)
    assert str(info.value) == f"{path}:3: unknown type 'AAA'"
    (tmp_path / "latin1").write_bytes(b"a. 1 TXT \xe9\n")
    with pytest.raises(ZoneFileError, match="not UTF-8"):
        read_zone_file(tmp_path / "latin1")


# -- errors -----------------------------------------------------------------

ERRORS = [
    ("$ORIGIN example.com.\n\nwww IN AAA 192.0.2.1\n", 3, "unknown type 'AAA'"),
    ("a. 1 IN A 192.0.2\n", 1, "bad A rdata: '192.0.2' is not a valid IPv4 address"),
    ("\n\nwww 1 IN A 192.0.2.1\n", 3, "relative owner name 'www' and no $ORIGIN"),
    ("@ 1 IN A 192.0.2.1\n", 1, "relative owner name '@' and no $ORIGIN"),
    ("a. 1 IN NS ns1\n", 1, "bad NS rdata: name: relative name 'ns1' and no origin"),
    ("a. 2147483648 IN A 192.0.2.1\n", 1, "TTL '2147483648' is out of range"),
    ("$TTL 1x\n", 1, "bad TTL '1x'"),
    ('a. 1 TXT ok\nb. 1 TXT "open\n', 2, "unterminated quoted string"),
    ("a. 1 A ( 192.0.2.1\n\n", 1, "'(' without ')'"),
    ("a. 1 A 192.0.2.1 )\n", 1, "')' without '('"),
    ("$GENERATE 1-3 h$ A 192.0.2.$\n", 1, "unknown directive '$GENERATE'"),
    ("a. 1 CH A 192.0.2.1\n", 1, "class CH does not match the zone's class IN"),
    ("a. 1 IN\n", 1, "missing type"),
    ("  1 IN A 192.0.2.1\n", 1, "no previous owner"),
    ("a. 1 IN ANY \\# 0\n", 1, "type ANY cannot appear in a zone file"),
    ("a. 1 IN OPT \\# 0\n", 1, "type OPT cannot appear in a zone file"),
    ("a. 1 IN SOA ns. host. (\n 1 2\n 3 4 )\n", 1, "bad SOA rdata: missing minimum"),
    ("a. 1 MX x y.\n", 1, "preference: expected a number, got 'x'"),
    ("a. 1 TYPE65280 1 2\n", 1, "has no presentation form"),
    ("a. 1 A \\# 3 010203\n", 1, "bad A rdata in generic form"),
    ("a. 1 A \\# 2 010203\n", 1, "\\# says 2 octets but 3 follow"),
    ("a. 1 A 192.0.2.1 extra\n", 1, "unexpected trailing text 'extra'"),
    ("a..b. 1 A 192.0.2.1\n", 1, "bad owner name 'a..b.'"),
    ('"a." 1 A 192.0.2.1\n', 1, "quoted text 'a.' where the owner name belongs"),
    ('a. 1 "A" 192.0.2.1\n', 1, "quoted text 'A' where the type belongs"),
    ("a. 1 TXT \\300\n", 1, "bad TXT rdata: bad \\DDD escape"),
    ("$ORIGIN\n", 1, "$ORIGIN takes one domain name"),
    ("$TTL 1 2\n", 1, "$TTL takes one TTL"),
    ("$ORIGIN rel\n", 1, "relative $ORIGIN name 'rel' and no $ORIGIN"),
    ("a. A 192.0.2.1\n", 1, "no TTL given"),
    ("a. 1 A 192.0.2.1\nb. 1 1 A 192.0.2.1\n", 2, "unknown type '1'"),
]


@pytest.mark.parametrize(("text", "line", "problem"), ERRORS)
def test_errors_name_file_line_and_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(ZoneFileError) as info:
        read_zone(text, filename="zone.txt")
    error = info.value
    assert error.filename == "zone.txt"
    assert error.line == line
    assert problem in error.problem
    assert str(error) == f"zone.txt:{line}: {error.problem}"


def test_bad_origin_argument() -> None:
    with pytest.raises(ZoneFileError, match=r"bad origin 'a\.\.b'"):
        read_zone("", origin="a..b")


# -- round trip -------------------------------------------------------------

ORIGIN = n("example.com")

_label = st.binary(min_size=1, max_size=8)
_relative = st.lists(_label, min_size=0, max_size=3)
_names = st.one_of(
    _relative.map(lambda labels: ORIGIN.concatenate(labels)),
    st.lists(_label, min_size=0, max_size=3).map(lambda labels: Name(tuple(labels))),
)
_u32 = st.integers(0, 0xFFFFFFFF)
_rdata: st.SearchStrategy[Rdata] = st.one_of(
    st.ip_addresses(v=4).map(lambda address: A(str(address))),
    st.ip_addresses(v=6).map(lambda address: AAAA(str(address))),
    _names.map(NS),
    _names.map(CNAME),
    st.builds(MX, st.integers(0, 0xFFFF), _names),
    st.lists(st.binary(max_size=255), min_size=1, max_size=3).map(lambda s: TXT(tuple(s))),
    st.lists(
        st.sampled_from([b'"', b"\\", b";", b"(", b")", b" ", b"\n", b"\\#", b"$", b"@", b"a"]),
        min_size=1,
        max_size=12,
    ).map(lambda parts: TXT((b"".join(parts),))),
    st.builds(SOA, _names, _names, _u32, _u32, _u32, _u32, _u32),
    st.builds(GenericRdata, st.integers(65280, 65534).map(RRType), st.binary(max_size=20)),
)
_records = st.lists(
    st.builds(
        Record,
        _names,
        st.just(RRType.A),  # replaced below by the rdata's own type
        st.just(RRClass.IN),
        st.integers(0, MAX_TTL),
        _rdata,
    ).map(
        lambda record: Record(
            record.name, record.rdata.type, record.rclass, record.ttl, record.rdata
        )
    ),
    max_size=8,
)


@settings(max_examples=200)
@given(_records, st.booleans())
def test_zone_to_text_round_trips(records: list[Record], with_origin: bool) -> None:
    origin = ORIGIN if with_origin else None
    text = zone_to_text(records, origin=origin)
    assert read_zone(text) == records
    # Names keep their case through the text, though equality ignores it.
    assert [r.name.labels for r in read_zone(text)] == [r.name.labels for r in records]


def test_zone_to_text_with_origin_writes_relative_owners() -> None:
    records = [
        rr("example.com", 60, NS(n("ns.example.com"))),
        rr("www.example.com", 60, A("192.0.2.1")),
        rr("other.example.net", 60, TXT((b'say "hi"',))),
    ]
    assert zone_to_text(records, origin="example.com") == (
        "$ORIGIN example.com.\n"
        "@\t60\tIN\tNS\tns.example.com.\n"
        "www\t60\tIN\tA\t192.0.2.1\n"
        'other.example.net.\t60\tIN\tTXT\t"say \\"hi\\""\n'
    )


# -- the embedded IANA data -------------------------------------------------


def test_root_hints() -> None:
    records = root_hints()
    ns = [r for r in records if r.rtype == RRType.NS]
    letters = "abcdefghijklm"
    assert [r.rdata for r in ns] == [NS(n(f"{x}.root-servers.net")) for x in letters]
    assert all(r.name == n(".") and r.ttl == 3600000 for r in ns)
    for letter in letters:
        server = n(f"{letter}.root-servers.net")
        types = sorted(r.rtype for r in records if r.name == server)
        assert types == [RRType.A, RRType.AAAA], server
    assert rr("a.root-servers.net", 3600000, A("198.41.0.4")) in records
    assert len(records) == 39
    # Each call gives a fresh list, so a caller cannot spoil the next one's.
    records.clear()
    assert len(root_hints()) == 39


def test_root_trust_anchors() -> None:
    anchors = root_trust_anchors()
    assert len(anchors) == 2
    assert all(r.rtype == RRType.DS and r.name == n(".") for r in anchors)
    assert all(isinstance(r.rdata, DS) for r in anchors)
    assert {r.rdata.key_tag for r in anchors if isinstance(r.rdata, DS)} >= {20326}  # 2017 KSK
    digest = "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
    assert any(r.rdata.to_bytes() == b"\x4f\x66\x08\x02" + bytes.fromhex(digest) for r in anchors)


# -- against dnspython ------------------------------------------------------

REALISTIC = """\
$ORIGIN example.com.
$TTL 1h
; example.com, as a small business might run it
@       IN  SOA ns1.example.com. hostmaster (
                2024060101 ; serial
                7200       ; refresh (2 hours)
                900        ; retry
                1209600    ; expire (2 weeks)
                300        ; negative caching
                )
        IN  NS  ns1
        IN  NS  ns2.example.net.
        IN  MX  10 mail
        IN  MX  20 mail.backup.example.org.
        IN  TXT "v=spf1 mx -all"
ns1     300 IN  A     192.0.2.1
        300 IN  AAAA  2001:db8::1
mail    IN  600 A     192.0.2.2
www         CNAME @
ftp     2h  CNAME www
$TTL 30m
_sip._tcp   TYPE65280 \\# 3 abcdef
quotes  TXT "a \\"quoted\\" word" "semi;colon" "(paren)" \\065bc
$ORIGIN lab.example.com.
host    A   192.0.2.3
*       MX  5 host
"""


def _from_dnspython(text: str) -> set[Record]:
    zone = dns.zone.from_text(text, origin="example.com.", relativize=False)
    out = set()
    for name, ttl, rd in zone.iterate_rdatas():
        data = rd.to_wire()
        assert data is not None
        rdata = parse_rdata_untrusted(rd.rdtype, WireReader(data), len(data))
        out.add(Record(n(name.to_text()), RRType(rd.rdtype), RRClass(rd.rdclass), ttl, rdata))
    return out


def test_same_records_as_dnspython() -> None:
    ours = read_zone(REALISTIC)
    theirs = _from_dnspython(REALISTIC)
    assert len(ours) == 15
    assert set(ours) == theirs
    assert len(theirs) == len(ours)

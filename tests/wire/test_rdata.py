"""Rdata classes on their own: wire and text round trips, hostile input, and the
details each RFC pins down (key tags, type bitmaps, SvcParams, canonical form).

`CASES` is the table of realistic presentation strings per type; the dnspython
differential tests in test_rdata_dnspython.py use it too.
"""

from __future__ import annotations

import base64

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.wire.strategies import names
from trio_dns import GenericRdata, InvalidRdata, MalformedMessage, Name, Rdata, RRType
from trio_dns._wire.rdata import parse_rdata_untrusted, rdata_from_text, registered_types
from trio_dns._wire.rdtypes.caa import CAA
from trio_dns._wire.rdtypes.dnskey import CDNSKEY, DNSKEY
from trio_dns._wire.rdtypes.ds import CDS, DS
from trio_dns._wire.rdtypes.mx import MX
from trio_dns._wire.rdtypes.naptr import NAPTR
from trio_dns._wire.rdtypes.nsec import NSEC
from trio_dns._wire.rdtypes.nsec3 import NSEC3, NSEC3PARAM
from trio_dns._wire.rdtypes.rrsig import RRSIG
from trio_dns._wire.rdtypes.srv import SRV
from trio_dns._wire.rdtypes.sshfp import SSHFP
from trio_dns._wire.rdtypes.svcb import HTTPS, SVCB, SvcParam, SvcParamKey
from trio_dns._wire.rdtypes.tlsa import SMIMEA, TLSA
from trio_dns._wire.reader import WireReader
from trio_dns._wire.writer import WireWriter


def n(text: str) -> Name:
    return Name.from_text(text)


def b64(octets: bytes) -> str:
    return base64.b64encode(octets).decode()


# The root zone's 2017 KSK (key tag 20326), as IANA publishes it.
ROOT_KSK = (
    "257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5e"
    "mLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8"
    "efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/i"
    "lBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU="
)
P256_KEY = b64(bytes(range(7, 71)))  # 64 octets, the size of an ECDSA P-256 public key
P256_SIG = b64(bytes(range(100, 164)))
ECH = (
    "AEn+DQBFKwAgACABWIHUGj4u+PIggYXcR5JF0gYk3dCRioBW8uJq9H4mKAAIAAEAAQABAANAEnB1YmxpYy50bHMtZW"
    "NoLmRldgAA"
)

CASES: dict[str, list[str]] = {
    "A": ["192.0.2.1", "0.0.0.0"],
    "AAAA": ["2001:db8::1", "::ffff:192.0.2.1"],
    "NS": ["ns1.Example.COM."],
    "CNAME": ["www.example.org."],
    "PTR": ["host.Example.net."],
    "DNAME": ["Target.Example."],
    "MX": ["10 Mail.Example.COM.", "0 ."],
    "SOA": ["ns.icann.org. noc.dns.icann.org. 2024081475 7200 3600 1209600 3600"],
    "TXT": ['"v=spf1 -all"', '"hello world" "a \\"quoted\\" word" "\\200\\255" ""'],
    "SRV": ["10 60 5060 SIPServer.Example.COM.", "0 0 0 ."],
    "NAPTR": [
        '100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .',
        '102 10 "S" "SIP+D2U" "" _sip._udp.Example.COM.',
    ],
    "CAA": [
        '0 issue "letsencrypt.org"',
        '0 issuewild ";"',
        '128 tbs "Unknown"',
        '0 iodef "mailto:security@example.com"',
    ],
    "TLSA": [
        "3 1 1 0B9FA5A59EED715C26C1020C711B4F6EC42D58B0015E14337A39DAD301C5AFC3",
        "2 0 2 " + "AB" * 64,
    ],
    "SMIMEA": ["3 0 1 " + "0123456789ABCDEF" * 4],
    "SSHFP": [
        "1 1 DD465C09CFA51FB45020CC83316FFF21B9EC74AC",
        "4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789",
    ],
    "DS": [
        "20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
        "370 13 4 " + "C0" * 48,
    ],
    "CDS": ["0 0 0 00", "2371 13 2 1F987CC6583E92DF0890718C42" + "0" * 38],
    "DNSKEY": [ROOT_KSK, f"256 3 13 {P256_KEY}", f"385 3 15 {b64(bytes(32))}"],
    "CDNSKEY": ["0 3 0 AA==", f"257 3 13 {P256_KEY}"],
    "RRSIG": [
        f"A 13 2 3600 20241122000000 20241101000000 42446 Example.COM. {P256_SIG}",
        f"NSEC3 8 3 86400 21060207062815 19700101000000 12345 Example. {P256_SIG}",
        f"TYPE65280 15 0 0 20300101000000 20250101000000 1 . {b64(bytes(64))}",
    ],
    "NSEC": [
        "Host.Example.COM. A MX RRSIG NSEC TYPE1234",
        "a.example. NS DS RRSIG NSEC CAA TYPE65534",
        "zz.example. NSEC",
    ],
    "NSEC3": [
        "1 1 12 AABBCCDD 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG",
        "1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s NS SOA MX TXT AAAA RRSIG DNSKEY NSEC3PARAM",
        "1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s",
    ],
    "NSEC3PARAM": ["1 0 0 -", "1 0 10 AABBCCDD"],
    "SVCB": [
        "0 svc4.Example.NET.",
        "1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1,192.0.2.2",
        "16 foo.example.org. mandatory=alpn,ipv4hint alpn=h2,h3-19 ipv4hint=192.0.2.1",
        '1 Foo.Example.COM. key667="hello\\210qoo"',
        "1 . key65000 ipv6hint=2001:db8::1,2001:db8::53:1",
        "1 . alpn=h2 no-default-alpn port=53",
    ],
    "HTTPS": [
        "1 . alpn=h3,h2 ipv4hint=104.16.132.229,104.16.133.229 ipv6hint=2606:4700::6810:84e5",
        "0 www.example.com.",
        f'1 . alpn="f\\\\\\\\oo\\\\,bar,h2" ech={ECH}',
    ],
}

FLAT_CASES = [(rtype, text) for rtype, texts in CASES.items() for text in texts]


def parse(rtype: RRType | str, wire: bytes) -> Rdata:
    return parse_rdata_untrusted(RRType.make(rtype), WireReader(wire), len(wire))


# -- every type: round trips ---------------------------------------------------


def test_cases_cover_every_registered_type() -> None:
    assert {RRType.from_text(rtype) for rtype in CASES} == set(registered_types())


@pytest.mark.parametrize(("rtype", "text"), FLAT_CASES)
def test_wire_and_text_round_trip(rtype: str, text: str) -> None:
    rdata = rdata_from_text(rtype, text)
    assert rdata.rtype == RRType.from_text(rtype)
    assert type(rdata).rtype == rdata.rtype
    wire = rdata.to_bytes()
    assert parse(rtype, wire) == rdata
    assert rdata_from_text(rtype, rdata.to_text()) == rdata
    # The RFC 3597 generic form of a known type becomes the type's own class.
    generic = GenericRdata(rdata.rtype, wire).to_text()
    assert rdata_from_text(rtype, generic) == rdata
    # Values are immutable.
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        rdata.foo = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("rtype", "text"), FLAT_CASES)
def test_truncated_rdata_is_refused_or_self_consistent(rtype: str, text: str) -> None:
    """Cut short, rdata is refused with MalformedMessage, or (where the layout ends
    in a list, as TXT strings or NSEC windows do) parses to exactly the octets left."""
    wire = rdata_from_text(rtype, text).to_bytes()
    for cut in range(len(wire)):
        try:
            rdata = parse(rtype, wire[:cut])
        except MalformedMessage:
            continue
        assert rdata.to_bytes() == wire[:cut]


# -- hostile wire data ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "hexdata"),
    [
        ("SRV", "000a003c13"),  # fixed fields cut short
        ("SRV", "000a003c13c4" + "0378797a00" + "ff"),  # an octet after the target
        ("SRV", "000a003c13c4" + "0378"),  # target runs past the rdata
        ("NAPTR", "0064000a" + "0155" + "07452b"),  # services string runs past
        ("CAA", "0000"),  # empty tag
        ("CAA", "00022d2d"),  # tag not letters and digits
        ("CAA", "000569737375"),  # tag runs past the end
        ("TLSA", "0301"),
        ("SSHFP", "01"),
        ("DS", "4f6608"),
        ("DNSKEY", "010103"),
        ("RRSIG", "0001" + "0d02" + "00" * 13),  # 17 octets, no signer
        ("RRSIG", "0001" + "0d02" + "00" * 14 + "03"),  # signer runs past
        ("NSEC", "00" + "0500"),  # window 5 with an empty bitmap
        ("NSEC", "00" + "0021" + "ff" * 33),  # a 33-octet window
        ("NSEC", "00" + "000240" + "00"),  # a window with a trailing zero octet
        ("NSEC", "00" + "010140" + "000140"),  # windows out of order
        ("NSEC", "00" + "000140" + "000120"),  # a window repeated
        ("NSEC", "00" + "0003ff"),  # bitmap runs past the end
        ("NSEC", "00" + "00"),  # window number without a length
        ("NSEC3", "01000000" + "00" + "00"),  # empty next hashed owner
        ("NSEC3", "01000000" + "05aabb"),  # salt runs past
        ("NSEC3", "01000000" + "00" + "14" + "00" * 19),  # next hash runs past
        ("NSEC3PARAM", "01000000" + "00" + "ff"),  # an octet left over
        ("NSEC3PARAM", "010000"),
    ],
)
def test_malformed_wire(rtype: str, hexdata: str) -> None:
    with pytest.raises(MalformedMessage):
        parse(rtype, bytes.fromhex(hexdata))


def _svcb(*params: tuple[int, bytes]) -> bytes:
    wire = b"\x00\x01\x00"
    for key, value in params:
        wire += key.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value
    return wire


@pytest.mark.parametrize(
    "wire",
    [
        _svcb((3, b"\x01\xbb"), (1, b"\x02h2")),  # keys out of order
        _svcb((3, b"\x01\xbb"), (3, b"\x01\xbb")),  # a key repeated
        _svcb((3, b"\x01\xbb\x00")),  # port of 3 octets
        _svcb((1, b"")),  # alpn with no id
        _svcb((1, b"\x00")),  # an empty alpn id
        _svcb((1, b"\x05h2")),  # an alpn id running past the value
        _svcb((1, b"\x02h2"), (2, b"x")),  # no-default-alpn with a value
        _svcb((4, b"\xc0\x00\x02\x01\x01")),  # ipv4hint of 5 octets
        _svcb((6, bytes(15))),  # ipv6hint of 15 octets
        _svcb((4, b"")),  # ipv4hint with no address
        _svcb((0, b"\x00")),  # mandatory of an odd length
        _svcb((0, b"\x00\x00")),  # mandatory listing itself
        _svcb((0, b"\x00\x03")),  # mandatory key absent
        _svcb((0, b"\x00\x03\x00\x01"), (1, b"\x02h2"), (3, b"\x01\xbb")),  # not sorted
        _svcb((0, b"")),  # empty mandatory
        _svcb()[:-1],  # target cut off
        _svcb() + b"\x00\x03\x00\x02\x01",  # value runs past the end
        _svcb() + b"\x00\x03\x00",  # length cut off
    ],
)
@pytest.mark.parametrize("rtype", [RRType.SVCB, RRType.HTTPS])
def test_malformed_svcb_wire(rtype: RRType, wire: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse(rtype, wire)


@given(st.sampled_from(registered_types()), st.binary(max_size=80))
def test_garbage_raises_only_malformed_message(rtype: RRType, wire: bytes) -> None:
    try:
        rdata = parse(rtype, wire)
    except MalformedMessage:
        return
    # Whatever is accepted re-encodes to the same octets: nothing is lost or invented.
    # (A compression pointer cannot appear: it would have to point before the rdata.)
    assert rdata.to_bytes() == wire
    assert rdata_from_text(rtype, rdata.to_text()) == rdata


# -- bad presentation form -----------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "text"),
    [
        ("SRV", "10 60 99999 sip.example."),
        ("SRV", "10 60 5060"),
        ("SRV", "10 60 5060 a. b."),
        ("NAPTR", f'100 10 "{"x" * 256}" "" "" .'),
        ("NAPTR", '100 10 "U" "E2U+sip" "regexp"'),
        ("CAA", '0 is-sue "ca.example"'),
        ("CAA", '256 issue "ca.example"'),
        ("CAA", "0 issue"),
        ("TLSA", "3 1 1 XYZ"),
        ("TLSA", "300 1 1 00"),
        ("SMIMEA", "3 1"),
        ("SSHFP", "1 1 zz"),
        ("DS", "20326 8 2 0G"),
        ("DS", "70000 8 2 00"),
        ("DS", "x 8 2 00"),
        ("CDS", "1 NOSUCHALG 2 00"),
        ("DNSKEY", "257 3 8 !!!"),
        ("DNSKEY", "257 3 BOGUS AA=="),
        ("CDNSKEY", "257 256 8 AA=="),
        ("RRSIG", f"BOGUS 8 2 3600 20241122000000 20241101000000 1 example. {P256_SIG}"),
        ("RRSIG", f"A 8 2 3600 2024112200000 20241101000000 1 example. {P256_SIG}"),
        ("RRSIG", f"A 8 2 3600 20241322000000 20241101000000 1 example. {P256_SIG}"),
        ("RRSIG", f"A 8 2 3600 99999999999 20241101000000 1 example. {P256_SIG}"),
        ("RRSIG", f"A 8 2 3600 5000000000 20241101000000 1 example. {P256_SIG}"),
        ("RRSIG", f"A 8 2 3600 21070101000000 20241101000000 1 example. {P256_SIG}"),
        ("RRSIG", f"A 8 2 3600 -1 20241101000000 1 example. {P256_SIG}"),
        ("RRSIG", "A 8 2 3600 20241122000000 20241101000000 1 example. ***"),
        ("NSEC", "next.example. A BOGUS"),
        ("NSEC", ""),
        ("NSEC3", "1 0 0 GG 2vptu5timamqttgl4luu9kg21e0aor3s A"),
        ("NSEC3", "1 0 0 - !!!! A"),
        ("NSEC3", "1 0 0 - abc A"),  # not a valid base32 length
        ("NSEC3", "1 0 0 -"),
        ("NSEC3", "1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s NOTATYPE"),
        ("NSEC3PARAM", "1 0 70000 -"),
        ("NSEC3PARAM", f"1 0 0 {'AB' * 256}"),
        ("NSEC3PARAM", "1 0 0 - extra"),
        ("SVCB", "1 . alpn"),
        ("SVCB", "1 . port=abc"),
        ("SVCB", "1 . port=70000"),
        ("SVCB", "1 . port"),
        ("SVCB", "1 . bogus=1"),
        ("SVCB", "1 . Alpn=h2"),
        ("SVCB", "1 . key01=x"),
        ("SVCB", "1 . no_default_alpn"),
        ("SVCB", "1 . key65536=x"),
        ("SVCB", "1 . ipv4hint=1.2.3"),
        ("SVCB", "1 . ipv6hint=192.0.2.1"),
        ("SVCB", "1 . alpn=h2 alpn=h3"),
        ("SVCB", "1 . alpn=h2,,h3"),
        ("SVCB", "1 . alpn=h2\\\\"),
        ("SVCB", "1 . mandatory=port alpn=h2"),
        ("SVCB", "1 . mandatory=alpn,alpn alpn=h2"),
        ("SVCB", "1 . mandatory=mandatory"),
        ("SVCB", '1 . "h2"'),
        ("HTTPS", "1 . no-default-alpn=x"),
        ("HTTPS", "1 . ech=!!!"),
        ("HTTPS", "1"),
    ],
)
def test_bad_text(rtype: str, text: str) -> None:
    with pytest.raises(InvalidRdata):
        rdata_from_text(rtype, text)


def test_generic_form_of_a_known_type() -> None:
    ds = rdata_from_text("DS", "\\# 12 4f660802e06d44b80b8f1d39")
    assert ds == DS(20326, 8, 2, bytes.fromhex("e06d44b80b8f1d39"))
    srv = rdata_from_text("SRV", "\\# 9 0001 0002 0035 0161 00")
    assert srv == SRV(1, 2, 53, n("a."))
    with pytest.raises(InvalidRdata):
        rdata_from_text("SRV", "\\# 2 0001")
    with pytest.raises(InvalidRdata):
        rdata_from_text("NSEC", "\\# 4 00 00 05 00")


# -- per-type behaviour --------------------------------------------------------


def test_srv_and_naptr_names_are_never_compressed() -> None:
    target = n("sip.example.com")
    for rdata in (
        SRV(10, 60, 5060, target),
        NAPTR(100, 10, b"S", b"SIP+D2U", b"", target),
        RRSIG(RRType.A, 13, 3, 3600, 2, 1, 7, target, b"sig"),
        NSEC(target, (RRType.A,)),
        SVCB(1, target),
    ):
        writer = WireWriter()
        writer.name(target, compress=True)
        rdata.to_wire(writer, compress=True)
        assert writer.getvalue() == target.to_wire() + rdata.to_bytes()
        assert target.to_wire() in rdata.to_bytes()
    # MX, an RFC 1035 type, does compress: the contrast shows the test can fail.
    writer = WireWriter()
    writer.name(target, compress=True)
    MX(10, target).to_wire(writer, compress=True)
    assert len(writer.getvalue()) == len(target.to_wire()) + 4


def test_compressed_name_in_rdata_is_read() -> None:
    # Some servers compress SRV targets anyway; a reader decompresses them.
    message = bytes(12) + n("example.com").to_wire()
    rdata = b"\x00\x01\x00\x02\x00\x03\x03sip\xc0\x0c"
    reader = WireReader(message + rdata, pos=len(message))
    assert parse_rdata_untrusted(RRType.SRV, reader, len(rdata)) == SRV(
        1, 2, 3, n("sip.example.com")
    )


def test_canonical_form_lowercases_only_where_rfc_6840_says() -> None:
    upper = n("Sig.EXAMPLE")
    rrsig = RRSIG(RRType.A, 13, 2, 3600, 2, 1, 7, upper, b"sig")
    assert upper.canonical_wire() in rrsig.to_canonical_wire()
    assert upper.to_wire() in rrsig.to_bytes()
    srv = SRV(1, 2, 3, upper)
    assert srv.to_canonical_wire() == srv.to_bytes()[:6] + upper.canonical_wire()
    # NSEC's next name (RFC 6840 section 5.1) and SVCB's target are signed as spelled.
    for rdata in (NSEC(upper, (RRType.A,)), SVCB(1, upper), HTTPS(0, upper)):
        assert rdata.to_canonical_wire() == rdata.to_bytes()
        assert upper.to_wire() in rdata.to_canonical_wire()


def test_dnskey_key_tag_and_flags() -> None:
    ksk = rdata_from_text("DNSKEY", ROOT_KSK)
    assert isinstance(ksk, DNSKEY)
    assert ksk.key_tag() == 20326
    assert (ksk.zone_key, ksk.sep, ksk.revoked) == (True, True, False)
    zsk = DNSKEY(256, 3, 13, bytes(64))
    assert (zsk.zone_key, zsk.sep, zsk.revoked) == (True, False, False)
    assert DNSKEY(385, 3, 13, bytes(64)).revoked
    # Appendix B.1: for RSA/MD5 the tag is taken from the end of the modulus.
    assert DNSKEY(256, 3, 1, bytes.fromhex("0103aabbccddeeff")).key_tag() == 0xDDEE
    # The rdata 0000 030d 0001 02 summed as 16-bit words, the odd octet padded.
    assert CDNSKEY(0, 3, 13, b"\x00\x01\x02").key_tag() == 0x050E


def test_dnskey_algorithm_mnemonics() -> None:
    assert rdata_from_text("DNSKEY", f"257 3 ECDSAP256SHA256 {P256_KEY}") == rdata_from_text(
        "DNSKEY", f"257 3 13 {P256_KEY}"
    )
    assert rdata_from_text("DS", "1 rsasha256 2 00") == DS(1, 8, 2, b"\x00")


def test_field_validators_refuse_unencodable_values() -> None:
    with pytest.raises(ValueError):
        SRV(70000, 0, 0, n("a"))
    with pytest.raises(ValueError):
        DS(-1, 8, 2, b"")
    with pytest.raises(ValueError):
        CAA(0, b"is sue", b"x")
    with pytest.raises(ValueError):
        NSEC3(1, 0, 0, b"", b"", ())
    with pytest.raises(ValueError):
        NSEC3PARAM(1, 0, 0, bytes(256))
    with pytest.raises(ValueError):
        RRSIG(RRType.A, 13, 2, 2**32, 0, 0, 0, n("a"), b"")
    with pytest.raises(TypeError):
        SRV(1, 2, 3, "not a name")  # type: ignore[arg-type]


def test_rrsig_times() -> None:
    text = f"A 13 2 3600 1732233600 20241101000000 42446 example.com. {P256_SIG}"
    rrsig = rdata_from_text("RRSIG", text)
    assert isinstance(rrsig, RRSIG)
    assert (rrsig.expiration, rrsig.inception) == (1732233600, 1730419200)
    assert rrsig.type_covered is RRType.A
    assert rrsig.to_text().split()[4:6] == ["20241122000000", "20241101000000"]
    last = RRSIG(RRType.A, 13, 2, 0, 0xFFFFFFFF, 0, 0, n("a"), b"")
    assert last.to_text().split()[4:6] == ["21060207062815", "19700101000000"]


def test_nsec_types_are_a_sorted_set() -> None:
    nsec = NSEC(n("b.example"), [RRType.MX, RRType.A, 1, RRType.NSEC])  # type: ignore[arg-type]
    assert nsec.types == (RRType.A, RRType.MX, RRType.NSEC)
    assert all(type(t) is RRType for t in nsec.types)
    assert nsec.has_type(RRType.MX) and not nsec.has_type(RRType.AAAA)
    assert nsec.to_text() == "b.example. A MX NSEC"


def test_type_bitmap_windows() -> None:
    # RFC 4034 section 4.3's example, plus types in windows 1 and 255.
    nsec = rdata_from_text("NSEC", "host.example.com. A MX RRSIG NSEC TYPE1234")
    window_0 = "00 06 40 01 00 00 00 03"
    window_4 = "04 1b" + " 00" * 26 + " 20"
    assert nsec.to_bytes() == n("host.example.com").to_wire() + bytes.fromhex(window_0 + window_4)
    nsec = NSEC(n("."), (RRType(256), RRType(0xFFFF), RRType(0)))
    assert nsec.to_bytes() == bytes.fromhex(
        "00" + "00 01 80" + "01 01 80" + "ff 20" + " 00" * 31 + " 01"
    )
    assert parse("NSEC", nsec.to_bytes()) == nsec


def test_nsec3_fields() -> None:
    nsec3 = rdata_from_text("NSEC3", "1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG")
    assert isinstance(nsec3, NSEC3)
    assert nsec3.opt_out
    assert nsec3.salt == bytes.fromhex("aabbccdd")
    assert len(nsec3.next) == 20
    assert nsec3.to_text() == "1 1 12 AABBCCDD 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG"
    assert not NSEC3(1, 0, 0, b"", b"\x00", ()).opt_out
    assert NSEC3(1, 0, 0, b"", b"\x00", ()).to_text() == "1 0 0 - 00"
    assert NSEC3PARAM(1, 0, 0, b"").to_text() == "1 0 0 -"


def test_caa_fields() -> None:
    caa = rdata_from_text("CAA", '128 issue "ca.example; account=230123"')
    assert caa == CAA(128, b"issue", b"ca.example; account=230123")
    assert caa.critical
    assert caa.to_text() == '128 issue "ca.example; account=230123"'
    long_value = CAA(0, b"iodef", b"x" * 300)  # the value is not a character-string
    assert parse("CAA", long_value.to_bytes()) == long_value
    assert rdata_from_text("CAA", long_value.to_text()) == long_value


def test_cert_and_fingerprint_types_share_a_shape() -> None:
    tlsa = rdata_from_text("TLSA", "3 1 1 0B9F A5A5")
    assert tlsa == TLSA(3, 1, 1, bytes.fromhex("0b9fa5a5"))
    assert tlsa != SMIMEA(3, 1, 1, bytes.fromhex("0b9fa5a5"))
    assert SSHFP(4, 2, b"\x12").to_text() == "4 2 12"
    assert CDS(0, 0, 0, b"\x00").to_text() == "0 0 0 00"


def test_svcb_params_and_views() -> None:
    https = rdata_from_text(
        "HTTPS", "1 . port=8443 alpn=h3,h2 ipv6hint=2001:db8::1 ipv4hint=192.0.2.1 ech=AAEC"
    )
    assert isinstance(https, HTTPS)
    assert [param.key for param in https.params] == [1, 3, 4, 5, 6]
    assert https.alpn == (b"h3", b"h2")
    assert https.port == 8443
    assert https.ipv4hint == ("192.0.2.1",)
    assert https.ipv6hint == ("2001:db8::1",)
    assert https.ech == b"\x00\x01\x02"
    assert not https.no_default_alpn
    assert not https.alias_mode
    assert https.mandatory == ()
    assert https.to_text() == (
        '1 . alpn="h3,h2" port=8443 ipv4hint=192.0.2.1 ech=AAEC ipv6hint=2001:db8::1'
    )
    alias = SVCB(0, n("pool.example"))
    assert alias.alias_mode and alias.port is None and alias.alpn == ()
    built = SVCB(
        1,
        n("."),
        (SvcParam.port(53), SvcParam.mandatory([SvcParamKey.PORT]), SvcParam.no_default_alpn()),
    )
    assert built.to_text() == "1 . mandatory=port no-default-alpn port=53"
    assert built.mandatory == (SvcParamKey.PORT,)
    with pytest.raises(ValueError):
        SVCB(1, n("."), (SvcParam.port(53), SvcParam.port(54)))
    with pytest.raises(ValueError):
        SvcParam(SvcParamKey.PORT, b"\x00")
    with pytest.raises(ValueError):
        SvcParam.ipv4hint(["2001:db8::1"])


def test_svcb_alpn_escaping() -> None:
    # RFC 9460 Appendix D.2, figure 11: a comma and a backslash inside an alpn id.
    svcb = rdata_from_text("SVCB", '16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"')
    assert isinstance(svcb, SVCB)
    assert svcb.alpn == (b"f\\oo,bar", b"h2")
    assert svcb.to_bytes()[-16:] == b"\x00\x01\x00\x0c\x08f\\oo,bar\x02h2"
    assert rdata_from_text("SVCB", svcb.to_text()) == svcb
    # The same value written with single escapes outside quotes.
    assert rdata_from_text("SVCB", "16 foo.example.org. alpn=f\\\\\\\\oo\\\\,bar,h2") == svcb


def test_svcb_unknown_keys_survive() -> None:
    svcb = rdata_from_text("SVCB", '1 . key7="/dns-query{?dns}" key65000 key9="\\000"')
    assert svcb.to_text() == '1 . key7="/dns-query{?dns}" key9="\\000" key65000'
    assert isinstance(svcb, SVCB)
    assert svcb.param(7) == b"/dns-query{?dns}"
    assert svcb.param(65000) == b""
    assert svcb.param(8) is None
    assert SvcParamKey(7).to_text() == "key7"
    assert SvcParamKey.NO_DEFAULT_ALPN.to_text() == "no-default-alpn"


# -- property tests ------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
type_sets = st.lists(u16.map(RRType), max_size=12)
tags = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=15
)
alpn_ids = st.lists(st.binary(min_size=1, max_size=20), min_size=1, max_size=4)


@st.composite
def svc_params(draw: st.DrawFn) -> tuple[SvcParam, ...]:
    params = {}
    if draw(st.booleans()):
        params[1] = SvcParam.alpn(draw(alpn_ids))
        if draw(st.booleans()):
            params[2] = SvcParam.no_default_alpn()
    if draw(st.booleans()):
        params[3] = SvcParam.port(draw(u16))
    if draw(st.booleans()):
        v4 = draw(st.lists(st.ip_addresses(v=4), min_size=1, max_size=3))
        params[4] = SvcParam.ipv4hint([str(a) for a in v4])
    if draw(st.booleans()):
        params[5] = SvcParam.ech(draw(st.binary(min_size=1, max_size=30)))
    if draw(st.booleans()):
        v6 = draw(st.lists(st.ip_addresses(v=6), min_size=1, max_size=3))
        params[6] = SvcParam.ipv6hint([str(a) for a in v6])
    for key in draw(st.sets(st.integers(7, 0xFFFE), max_size=3)):
        params[key] = SvcParam(SvcParamKey(key), draw(st.binary(max_size=20)))
    if params and draw(st.booleans()):
        listed = draw(st.sets(st.sampled_from(sorted(params)), min_size=1))
        params[0] = SvcParam.mandatory(listed)
    # Given in any order: the class sorts them.
    return tuple(draw(st.permutations(list(params.values()))))


rdatas = st.one_of(
    st.builds(SRV, u16, u16, u16, names),
    st.builds(
        NAPTR,
        u16,
        u16,
        st.binary(max_size=255),
        st.binary(max_size=255),
        st.binary(max_size=255),
        names,
    ),
    st.builds(CAA, u8, tags.map(str.encode), st.binary(max_size=300)),
    st.builds(TLSA, u8, u8, u8, st.binary(max_size=64)),
    st.builds(SSHFP, u8, u8, st.binary(max_size=64)),
    st.builds(DS, u16, u8, u8, st.binary(max_size=64)),
    st.builds(CDNSKEY, u16, u8, u8, st.binary(max_size=64)),
    st.builds(RRSIG, u16, u8, u8, u32, u32, u32, u16, names, st.binary(max_size=64)),
    st.builds(NSEC, names, type_sets),
    st.builds(
        NSEC3,
        u8,
        u8,
        u16,
        st.binary(max_size=255),
        st.binary(min_size=1, max_size=64),
        type_sets,
    ),
    st.builds(NSEC3PARAM, u8, u8, u16, st.binary(max_size=255)),
    st.builds(SVCB, u16, names, svc_params()),
    st.builds(HTTPS, u16, names, svc_params()),
)


@given(rdatas)
def test_random_rdata_round_trips(rdata: Rdata) -> None:
    wire = rdata.to_bytes()
    again = parse(rdata.rtype, wire)
    assert again == rdata
    assert again.to_bytes() == wire
    assert rdata_from_text(rdata.rtype, rdata.to_text()) == rdata


@given(st.builds(DNSKEY, u16, u8, st.integers(2, 0xFF), st.binary(max_size=300)))
def test_key_tag_matches_the_reference_loop(key: DNSKEY) -> None:
    # RFC 4034 Appendix B, transcribed: one octet at a time.
    accumulator = 0
    for index, octet in enumerate(key.to_bytes()):
        accumulator += octet if index & 1 else octet << 8
    accumulator += (accumulator >> 16) & 0xFFFF
    assert key.key_tag() == accumulator & 0xFFFF
    assert parse("DNSKEY", key.to_bytes()) == key

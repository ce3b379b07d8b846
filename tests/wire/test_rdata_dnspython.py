"""Differential tests: every rdata class against dnspython, the oracle.

For each presentation string in `CASES` (every supported type, several per type):

1. our wire form equals dnspython's `to_wire()`;
2. our parser, given dnspython's wire form, gives rdata whose text dnspython parses
   to an equal rdata (so our presentation form means the same thing);
3. our DNSSEC canonical form equals dnspython's `to_digestable()`, which is what
   decides whether a signature verifies (names lowercased or not, RFC 6840 5.1).
"""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.wire.strategies import names
from tests.wire.test_rdata import CASES, FLAT_CASES, parse
from trio_dns import RRType
from trio_dns._wire.rdata import rdata_from_text
from trio_dns._wire.rdtypes.dnskey import DNSKEY
from trio_dns._wire.rdtypes.nsec import NSEC
from trio_dns._wire.rdtypes.rrsig import RRSIG
from trio_dns._wire.rdtypes.svcb import SVCB, SvcParam


def theirs_from_text(rtype: str, text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text)


def test_every_type_has_cases() -> None:
    expected = [
        "A",
        "AAAA",
        "NS",
        "CNAME",
        "PTR",
        "DNAME",
        "MX",
        "SOA",
        "TXT",
        "SRV",
        "NAPTR",
        "CAA",
        "TLSA",
        "SMIMEA",
        "SSHFP",
        "DS",
        "CDS",
        "DNSKEY",
        "CDNSKEY",
        "RRSIG",
        "NSEC",
        "NSEC3",
        "NSEC3PARAM",
        "SVCB",
        "HTTPS",
    ]
    assert set(CASES) == set(expected)
    assert all(len(CASES[rtype]) >= 1 for rtype in expected)


@pytest.mark.parametrize(("rtype", "text"), FLAT_CASES)
def test_same_wire_as_dnspython(rtype: str, text: str) -> None:
    ours = rdata_from_text(rtype, text)
    theirs = theirs_from_text(rtype, text)
    assert ours.to_bytes() == theirs.to_wire()


@pytest.mark.parametrize(("rtype", "text"), FLAT_CASES)
def test_our_parse_of_their_wire_reads_back_in_dnspython(rtype: str, text: str) -> None:
    theirs = theirs_from_text(rtype, text)
    ours = parse(rtype, theirs.to_wire())
    assert theirs_from_text(rtype, ours.to_text()) == theirs
    # And dnspython's text means the same to us.
    assert rdata_from_text(rtype, theirs.to_text()) == ours


@pytest.mark.parametrize(("rtype", "text"), FLAT_CASES)
def test_same_canonical_form_as_dnspython(rtype: str, text: str) -> None:
    ours = rdata_from_text(rtype, text)
    theirs = theirs_from_text(rtype, text)
    assert ours.to_canonical_wire() == theirs.to_digestable()


@pytest.mark.parametrize("text", CASES["DNSKEY"] + CASES["CDNSKEY"])
def test_key_tag_matches_dnspython(text: str) -> None:
    ours = rdata_from_text("DNSKEY", text)
    assert isinstance(ours, DNSKEY)
    theirs = theirs_from_text("DNSKEY", text)
    assert isinstance(theirs, dns.rdtypes.ANY.DNSKEY.DNSKEY)
    assert ours.key_tag() == dns.dnssec.key_id(theirs)


def test_rsamd5_key_tag_matches_dnspython() -> None:
    text = "256 3 1 AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w=="
    ours = rdata_from_text("DNSKEY", text)
    assert isinstance(ours, DNSKEY)
    theirs = theirs_from_text("DNSKEY", text)
    assert isinstance(theirs, dns.rdtypes.ANY.DNSKEY.DNSKEY)
    assert ours.key_tag() == dns.dnssec.key_id(theirs)


@given(
    st.builds(
        DNSKEY,
        st.integers(0, 0xFFFF),
        st.just(3),
        st.integers(0, 255),
        st.binary(min_size=3, max_size=200),
    )
)
def test_random_key_tags_match_dnspython(key: DNSKEY) -> None:
    theirs = dns.rdata.from_wire(
        dns.rdataclass.IN, dns.rdatatype.DNSKEY, key.to_bytes(), 0, len(key.to_bytes())
    )
    assert isinstance(theirs, dns.rdtypes.ANY.DNSKEY.DNSKEY)
    assert key.key_tag() == dns.dnssec.key_id(theirs)


@given(
    st.builds(
        RRSIG,
        st.integers(1, 0xFFFF),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 0xFFFF),
        names,
        st.binary(min_size=1, max_size=80),
    )
    | st.builds(NSEC, names, st.lists(st.integers(1, 0xFFFF).map(RRType), max_size=10))
    | st.builds(
        SVCB,
        st.integers(1, 0xFFFF),
        names,
        st.tuples(
            st.lists(st.binary(min_size=1, max_size=10), min_size=1, max_size=3).map(SvcParam.alpn),
            st.integers(0, 0xFFFF).map(SvcParam.port),
        ),
    )
)
def test_random_rdata_agrees_with_dnspython(rdata: RRSIG | NSEC | SVCB) -> None:
    wire = rdata.to_bytes()
    rdtype = dns.rdatatype.RdataType(rdata.rtype)
    theirs = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, wire, 0, len(wire))
    assert theirs.to_wire() == wire
    assert theirs.to_digestable() == rdata.to_canonical_wire()
    assert dns.rdata.from_text(dns.rdataclass.IN, rdtype, rdata.to_text()) == theirs

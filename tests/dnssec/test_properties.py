"""The denial proofs against the zone itself as oracle: for any name, NXDOMAIN is
proven exactly when the name does not exist and no wildcard answers for it."""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.dnssec.util import name, of_type, records
from trio_dns import Name, Record, RRType
from trio_dns._dnssec import Algorithm, nsec3_nodata, nsec3_nxdomain, nsec_nodata, nsec_nxdomain
from trio_dns.testing import NSEC3Parameters, SigningKey, Zone, sign_zone

ZONE = """
example.          3600 IN SOA ns1.example. hostmaster.example. 1 7200 900 1209600 300
example.          3600 IN NS  ns1.example.
ns1.example.      3600 IN A   192.0.2.1
a.example.        3600 IN A   192.0.2.2
*.w.example.      3600 IN TXT "wild"
x.w.example.      3600 IN A   192.0.2.3
d.e.example.      3600 IN A   192.0.2.4
*.d.e.example.    3600 IN A   192.0.2.5
b.example.        3600 IN NS  ns.b.example.
ns.b.example.     3600 IN A   192.0.2.6
"""
APEX = name("example.")
CUT = name("b.example.")
LABELS = ["a", "b", "d", "e", "w", "x", "y", "ns1", "zz", "*", "0"]


def chain(denial: Literal["nsec", "nsec3"]) -> tuple[Zone, list[Record]]:
    key = SigningKey.generate("example.", Algorithm.ED25519)
    signed = sign_zone(
        records(ZONE),
        [key],
        inception=0,
        expiration=1,
        denial=denial,
        nsec3=NSEC3Parameters(iterations=1, salt=b"\x01"),
    )
    rtype = RRType.NSEC if denial == "nsec" else RRType.NSEC3
    return Zone.from_records(APEX, records(ZONE)), of_type(signed, rtype)


CHAINS = {denial: chain(denial) for denial in ("nsec", "nsec3")}


def nonexistent_and_no_wildcard(zone: Zone, qname: Name) -> bool:
    if zone.exists(qname):
        return False
    encloser = qname.parent()
    while not zone.exists(encloser):
        encloser = encloser.parent()
    return not zone.exists(encloser.child(b"*"))


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
@settings(max_examples=150, deadline=None)
@given(labels=st.lists(st.sampled_from(LABELS), min_size=1, max_size=3))
def test_nxdomain_proven_exactly_when_true(
    denial: Literal["nsec", "nsec3"], labels: list[str]
) -> None:
    zone, found = CHAINS[denial]
    qname = APEX.concatenate(label.encode() for label in labels)
    if qname.is_subdomain(CUT) and qname != CUT:
        return  # the child zone's business
    prove = nsec_nxdomain if denial == "nsec" else nsec3_nxdomain
    assert prove(found, qname).proven == nonexistent_and_no_wildcard(zone, qname)


QTYPES = [RRType.A, RRType.AAAA, RRType.TXT, RRType.MX, RRType.NS, RRType.SOA]


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
@settings(max_examples=150, deadline=None)
@given(
    labels=st.lists(st.sampled_from(LABELS), min_size=0, max_size=3), qtype=st.sampled_from(QTYPES)
)
def test_nodata_proven_exactly_when_true(
    denial: Literal["nsec", "nsec3"], labels: list[str], qtype: RRType
) -> None:
    zone, found = CHAINS[denial]
    qname = APEX.concatenate(label.encode() for label in labels)
    if qname.is_subdomain(CUT):
        return  # the cut and below: referrals, not answers
    node = qname
    if not zone.exists(qname):
        encloser = qname.parent()
        while not zone.exists(encloser):
            encloser = encloser.parent()
        node = encloser.child(b"*")  # the wildcard that would answer, if any
    expected = zone.exists(node) and not zone.rrset(node, qtype)
    prove = nsec_nodata if denial == "nsec" else nsec3_nodata
    assert prove(found, qname, qtype).proven == expected

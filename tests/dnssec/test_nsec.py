"""NSEC denial proofs over a zone signed by the test signer."""

from __future__ import annotations

import pytest

from tests.dnssec.util import name, of_type, records
from trio_dns import EdeCode, Record, RRType
from trio_dns._dnssec import (
    Algorithm,
    ProofStatus,
    nsec_covers,
    nsec_insecure_delegation,
    nsec_nodata,
    nsec_nxdomain,
    nsec_wildcard,
    verify_rrset,
)
from trio_dns._trust import Validation
from trio_dns._wire.rdtypes.nsec import NSEC
from trio_dns.testing import SigningKey, sign_zone

NOW = 1_750_000_000

ZONE = """
example.        3600 IN SOA ns1.example. hostmaster.example. 1 7200 900 1209600 300
example.        3600 IN NS  ns1.example.
ns1.example.    3600 IN A   192.0.2.1
a.example.      3600 IN A   192.0.2.2
*.w.example.    3600 IN TXT "wild"
x.w.example.    3600 IN A   192.0.2.3
d.e.example.    3600 IN A   192.0.2.4
b.example.      3600 IN NS  ns.b.example.
ns.b.example.   3600 IN A   192.0.2.5
c.example.      3600 IN NS  ns.c.example.
c.example.      3600 IN DS  12345 13 2 0000000000000000000000000000000000000000000000000000000000000000
ns.c.example.   3600 IN A   192.0.2.6
alias.example.  3600 IN CNAME a.example.
dn.example.     3600 IN DNAME elsewhere.net.
"""


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("example.", Algorithm.ED25519, ksk=True)


@pytest.fixture(scope="module")
def signed(key: SigningKey) -> list[Record]:
    return sign_zone(records(ZONE), [key], inception=NOW - 3600, expiration=NOW + 3600)


@pytest.fixture(scope="module")
def nsecs(signed: list[Record]) -> list[Record]:
    return of_type(signed, RRType.NSEC)


def nsec_at(nsecs: list[Record], owner: str) -> Record:
    return next(r for r in nsecs if r.name == name(owner))


def test_the_chain(nsecs: list[Record], signed: list[Record], key: SigningKey) -> None:
    owners = [r.name.to_text() for r in nsecs]
    # Canonical order; glue below the cuts and empty non-terminals have no NSEC.
    assert owners == [
        "example.",
        "a.example.",
        "alias.example.",
        "b.example.",
        "c.example.",
        "dn.example.",
        "d.e.example.",
        "ns1.example.",
        "*.w.example.",
        "x.w.example.",
    ]
    last = nsecs[-1].rdata
    assert isinstance(last, NSEC) and last.next == name("example.")
    apex = nsec_at(nsecs, "example.").rdata
    assert isinstance(apex, NSEC)
    assert set(apex.types) == {RRType.SOA, RRType.NS, RRType.DNSKEY, RRType.NSEC, RRType.RRSIG}
    unsigned = nsec_at(nsecs, "b.example.").rdata
    assert isinstance(unsigned, NSEC)
    assert set(unsigned.types) == {RRType.NS, RRType.NSEC, RRType.RRSIG}
    # Every NSEC record is signed, with the TTL of the SOA minimum (RFC 9077).
    rrsigs = of_type(signed, RRType.RRSIG)
    for record in nsecs:
        assert record.ttl == 300
        assert verify_rrset([record], rrsigs, [key.record()], NOW).secure


def test_covers(nsecs: list[Record]) -> None:
    apex = nsec_at(nsecs, "example.")
    assert nsec_covers(apex, name("0.example."))
    assert not nsec_covers(apex, name("example."))  # matches, does not cover
    assert not nsec_covers(apex, name("a.example."))  # its next name
    assert not nsec_covers(apex, name("b.example."))
    last = nsec_at(nsecs, "x.w.example.")
    assert nsec_covers(last, name("y.w.example."))
    assert nsec_covers(last, name("zzz.example."))  # wraps to the apex
    assert not nsec_covers(last, name("zzz.example.net."))
    # The parent side of a cut says nothing about the names below it.
    assert not nsec_covers(nsec_at(nsecs, "b.example."), name("www.b.example."))
    assert not nsec_covers(nsec_at(nsecs, "dn.example."), name("www.dn.example."))
    # An empty non-terminal exists.
    assert not nsec_covers(nsec_at(nsecs, "dn.example."), name("e.example."))


def test_nxdomain(nsecs: list[Record]) -> None:
    result = nsec_nxdomain(nsecs, name("nosuch.example."))
    assert result.status is ProofStatus.PROVEN, result.reason
    assert result.status.validation is Validation.SECURE
    assert result.closest_encloser == name("example.")
    deep = nsec_nxdomain(nsecs, name("q.r.x.w.example."))
    assert deep.proven and deep.closest_encloser == name("x.w.example.")


def test_nxdomain_needs_the_wildcard_denied(nsecs: list[Record]) -> None:
    # "nosuch" is covered by d.e->ns1, "*.example" by example->a: both are needed.
    covering = [nsec_at(nsecs, "d.e.example.")]
    result = nsec_nxdomain(covering, name("nosuch.example."))
    assert result.status is ProofStatus.NOT_PROVEN
    assert result.status.validation is Validation.BOGUS
    assert result.ede is EdeCode.NSEC_MISSING
    assert "wildcard" in result.reason


def test_nxdomain_refused(nsecs: list[Record]) -> None:
    # A name that exists, an empty non-terminal, a name a wildcard answers for.
    for qname in ("a.example.", "e.example.", "q.w.example."):
        result = nsec_nxdomain(nsecs, name(qname))
        assert result.status is ProofStatus.NOT_PROVEN, qname
    # A non-covering NSEC proves nothing.
    result = nsec_nxdomain([nsec_at(nsecs, "a.example.")], name("nosuch.example."))
    assert result.status is ProofStatus.NOT_PROVEN and result.ede is EdeCode.NSEC_MISSING
    # Nor does the parent side of a delegation, for names in the child.
    result = nsec_nxdomain(nsecs, name("www.b.example."))
    assert result.status is ProofStatus.NOT_PROVEN
    assert nsec_nxdomain([], name("nosuch.example.")).status is ProofStatus.NOT_PROVEN


def test_nodata(nsecs: list[Record]) -> None:
    assert nsec_nodata(nsecs, name("a.example."), RRType.MX).proven
    assert nsec_nodata(nsecs, name("example."), RRType.A).proven
    assert nsec_nodata(nsecs, name("alias.example."), RRType.CNAME).status is ProofStatus.NOT_PROVEN
    refused = {
        ("a.example.", RRType.A): "exists",
        ("alias.example.", RRType.A): "CNAME",
        ("b.example.", RRType.A): "parent-side",
        ("example.", RRType.DS): "apex",
    }
    for (qname, qtype), why in refused.items():
        result = nsec_nodata(nsecs, name(qname), qtype)
        assert result.status is ProofStatus.NOT_PROVEN, qname
        assert why in result.reason
    assert nsec_nodata(nsecs, name("nosuch.example."), RRType.A).ede is EdeCode.NSEC_MISSING


def test_nodata_at_an_empty_non_terminal(nsecs: list[Record]) -> None:
    result = nsec_nodata(nsecs, name("e.example."), RRType.A)
    assert result.proven and "non-terminal" in result.reason
    assert not nsec_nodata([nsec_at(nsecs, "a.example.")], name("e.example."), RRType.A).proven


def test_nodata_from_a_wildcard(nsecs: list[Record]) -> None:
    result = nsec_nodata(nsecs, name("q.w.example."), RRType.AAAA)
    assert result.proven and result.closest_encloser == name("w.example.")
    assert not nsec_nodata(nsecs, name("q.w.example."), RRType.TXT).proven


def test_ds_nodata_and_insecure_delegation(nsecs: list[Record]) -> None:
    assert nsec_nodata(nsecs, name("b.example."), RRType.DS).proven
    result = nsec_insecure_delegation(nsecs, name("b.example."))
    assert result.proven and result.status.validation is Validation.SECURE
    signed = nsec_insecure_delegation(nsecs, name("c.example."))
    assert signed.status is ProofStatus.NOT_PROVEN and "DS exists" in signed.reason
    assert not nsec_insecure_delegation(nsecs, name("a.example.")).proven  # no NS
    assert not nsec_insecure_delegation(nsecs, name("example.")).proven  # the apex
    assert not nsec_insecure_delegation(nsecs, name("zz.example.")).proven  # no such name


def test_wildcard_answer(nsecs: list[Record]) -> None:
    result = nsec_wildcard(nsecs, name("q.w.example."), name("*.w.example."))
    assert result.proven and result.closest_encloser == name("w.example.")
    assert nsec_wildcard(nsecs, name("a.b.q.w.example."), name("*.w.example.")).proven
    # x.w.example exists, so no wildcard answers for names below it...
    refused = nsec_wildcard(nsecs, name("q.x.w.example."), name("*.w.example."))
    assert refused.status is ProofStatus.NOT_PROVEN and refused.ede is EdeCode.DNSSEC_BOGUS
    # ... nor for the name itself, and without a covering NSEC nothing is shown.
    assert not nsec_wildcard(nsecs, name("x.w.example."), name("*.w.example.")).proven
    assert not nsec_wildcard([], name("q.w.example."), name("*.w.example.")).proven

"""NSEC3 denial proofs: the example zone and responses of RFC 5155 Appendices A and B,
and a zone signed here without opt-out."""

from __future__ import annotations

import attrs
import pytest

from tests.dnssec.util import name, of_type, records
from trio_dns import EdeCode, Record, RRType
from trio_dns._dnssec import (
    Algorithm,
    ProofStatus,
    nsec3_insecure_delegation,
    nsec3_nodata,
    nsec3_nxdomain,
    nsec3_wildcard,
    verify_rrset,
)
from trio_dns._trust import Validation
from trio_dns._wire.rdtypes.nsec3 import NSEC3, base32hex_text
from trio_dns.testing import NSEC3Parameters, SigningKey, sign_zone

NOW = 1_750_000_000

# RFC 5155 Appendix A, without its DNSSEC records (which we make again); HINFO in
# the generic form, as this library has no HINFO class.
RFC5155_ZONE = """
example. 3600 IN SOA ns1.example. bugs.x.w.example. 1 3600 300 3600000 3600
example. 3600 IN NS ns1.example.
example. 3600 IN NS ns2.example.
example. 3600 IN MX 1 xx.example.
2t7b4g4vsa5smi47k61mv5bv1a22bojr.example. 3600 IN A 192.0.2.127
a.example. 3600 IN NS ns1.a.example.
a.example. 3600 IN NS ns2.a.example.
a.example. 3600 IN DS 58470 5 1 3079F1593EBAD6DC121E202A8B766A6A4837206C
ns1.a.example. 3600 IN A 192.0.2.5
ns2.a.example. 3600 IN A 192.0.2.6
ai.example. 3600 IN A 192.0.2.9
ai.example. 3600 IN HINFO \\# 11 064B4C482D3130 03495453
ai.example. 3600 IN AAAA 2001:db8::f00:baa9
c.example. 3600 IN NS ns1.c.example.
c.example. 3600 IN NS ns2.c.example.
ns1.c.example. 3600 IN A 192.0.2.7
ns2.c.example. 3600 IN A 192.0.2.8
ns1.example. 3600 IN A 192.0.2.1
ns2.example. 3600 IN A 192.0.2.2
*.w.example. 3600 IN MX 1 ai.example.
x.w.example. 3600 IN MX 1 xx.example.
x.y.w.example. 3600 IN MX 1 xx.example.
xx.example. 3600 IN A 192.0.2.10
xx.example. 3600 IN HINFO \\# 15 064B4C482D3130 07544F50532D3230
xx.example. 3600 IN AAAA 2001:db8::f00:baaa
"""

# The hashed owners of Appendix A in chain order, with the names they stand for.
RFC5155_CHAIN = [
    ("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "example."),
    ("2t7b4g4vsa5smi47k61mv5bv1a22bojr", "ns1.example."),
    ("2vptu5timamqttgl4luu9kg21e0aor3s", "x.y.w.example."),
    ("35mthgpgcu1qg68fab165klnsnk3dpvl", "a.example."),
    ("b4um86eghhds6nea196smvmlo4ors995", "x.w.example."),
    ("gjeqe526plbf1g8mklp59enfd789njgi", "ai.example."),
    ("ji6neoaepv8b5o6k4ev33abha8ht9fgc", "y.w.example."),
    ("k8udemvp1j2f7eg6jebps17vp3n8i58h", "w.example."),
    ("kohar7mbb8dc2ce8a9qvl8hon4k53uhi", "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example."),
    ("q04jkcevqvmu85r014c7dkba38o0ji5r", "ns2.example."),
    ("r53bq7cc2uvmubfu5ocmm6pers9tk9en", "*.w.example."),
    ("t644ebqk9bibcna874givr6joj62mlhv", "xx.example."),
]

# Appendix B.1, the authority section of the name error for a.c.x.w.example.
RFC5155_B1 = """
0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 3600 IN NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG
b4um86eghhds6nea196smvmlo4ors995.example. 3600 IN NSEC3 1 1 12 aabbccdd gjeqe526plbf1g8mklp59enfd789njgi MX RRSIG
35mthgpgcu1qg68fab165klnsnk3dpvl.example. 3600 IN NSEC3 1 1 12 aabbccdd b4um86eghhds6nea196smvmlo4ors995 NS DS RRSIG
"""

RFC_PARAMETERS = NSEC3Parameters(iterations=12, salt=bytes.fromhex("aabbccdd"), opt_out=True)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("example.", Algorithm.ED25519, ksk=True)


@pytest.fixture(scope="module")
def rfc_signed(key: SigningKey) -> list[Record]:
    return sign_zone(
        records(RFC5155_ZONE),
        [key],
        inception=NOW - 3600,
        expiration=NOW + 3600,
        denial="nsec3",
        nsec3=RFC_PARAMETERS,
    )


@pytest.fixture(scope="module")
def rfc(rfc_signed: list[Record]) -> list[Record]:
    return of_type(rfc_signed, RRType.NSEC3)


def without_opt_out(found: list[Record]) -> list[Record]:
    out = []
    for record in found:
        assert isinstance(record.rdata, NSEC3)
        out.append(attrs.evolve(record, rdata=attrs.evolve(record.rdata, flags=0)))
    return out


def at(found: list[Record], label: str) -> Record:
    return next(r for r in found if r.name.labels[0] == label.encode())


def test_the_chain_is_the_rfc_chain(
    rfc: list[Record], rfc_signed: list[Record], key: SigningKey
) -> None:
    ordered = sorted(rfc, key=lambda r: r.name.labels[0])
    assert [r.name.labels[0].decode() for r in ordered] == [owner for owner, _ in RFC5155_CHAIN]
    for index, record in enumerate(ordered):
        rdata = record.rdata
        assert isinstance(rdata, NSEC3)
        following = RFC5155_CHAIN[(index + 1) % len(RFC5155_CHAIN)][0]
        assert base32hex_text(rdata.next) == following
        assert (rdata.hash_algorithm, rdata.flags, rdata.iterations) == (1, 1, 12)
        assert rdata.salt == bytes.fromhex("aabbccdd")
    # The three records of Appendix B.1 are ours, to the type bitmap.
    for published in records(RFC5155_B1):
        assert published in rfc
    rrsigs = of_type(rfc_signed, RRType.RRSIG)
    for record in rfc:
        assert verify_rrset([record], rrsigs, [key.record()], NOW).secure
    params = of_type(rfc_signed, RRType.NSEC3PARAM)
    assert [p.rdata.to_text().lower() for p in params] == ["1 0 12 aabbccdd"]


def test_b1_name_error(rfc: list[Record]) -> None:
    # All of Appendix A's NSEC3s have opt-out: c.x.w.example may be an unsigned
    # delegation, so the name error is proven only insecurely.
    response = records(RFC5155_B1)
    result = nsec3_nxdomain(response, name("a.c.x.w.example."))
    assert result.status is ProofStatus.INSECURE
    assert result.status.validation is Validation.INSECURE
    assert result.opt_out and result.closest_encloser == name("x.w.example.")
    result = nsec3_nxdomain(without_opt_out(response), name("a.c.x.w.example."))
    assert result.status is ProofStatus.PROVEN, result.reason
    assert result.closest_encloser == name("x.w.example.")
    assert not result.opt_out


def test_b1_needs_all_three_records() -> None:
    response = without_opt_out(records(RFC5155_B1))
    for index in range(3):
        partial = response[:index] + response[index + 1 :]
        result = nsec3_nxdomain(partial, name("a.c.x.w.example."))
        assert result.status is ProofStatus.NOT_PROVEN
        assert result.ede is EdeCode.NSEC_MISSING


def test_nxdomain_refused_for_names_that_exist(rfc: list[Record]) -> None:
    plain = without_opt_out(rfc)
    for qname in ("ai.example.", "w.example.", "example."):
        result = nsec3_nxdomain(plain, name(qname))
        assert result.status is ProofStatus.NOT_PROVEN
        assert result.ede is EdeCode.DNSSEC_BOGUS
    # A name a wildcard answers for.
    result = nsec3_nxdomain(plain, name("z.w.example."))
    assert result.status is ProofStatus.NOT_PROVEN and "*.w.example." in result.reason
    # Names outside the zone, or under a delegation, are not this zone's to deny.
    assert nsec3_nxdomain(plain, name("nosuch.example.net.")).status is ProofStatus.NOT_PROVEN
    under_cut = nsec3_nxdomain(plain, name("www.a.example."))
    assert under_cut.status is ProofStatus.NOT_PROVEN and "delegation" in under_cut.reason


def test_b2_no_data(rfc: list[Record]) -> None:
    ns1 = [at(rfc, "2t7b4g4vsa5smi47k61mv5bv1a22bojr")]
    result = nsec3_nodata(ns1, name("ns1.example."), RRType.MX)
    assert result.proven and result.closest_encloser == name("ns1.example.")
    refused = nsec3_nodata(ns1, name("ns1.example."), RRType.A)
    assert refused.status is ProofStatus.NOT_PROVEN and refused.ede is EdeCode.DNSSEC_BOGUS
    assert not nsec3_nodata(ns1, name("ns2.example."), RRType.MX).proven


def test_b21_no_data_at_an_empty_non_terminal(rfc: list[Record]) -> None:
    y_w = [at(rfc, "ji6neoaepv8b5o6k4ev33abha8ht9fgc")]
    assert nsec3_nodata(y_w, name("y.w.example."), RRType.A).proven


def test_b3_referral_to_an_opt_out_unsigned_zone(rfc: list[Record]) -> None:
    response = [
        at(rfc, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
        at(rfc, "35mthgpgcu1qg68fab165klnsnk3dpvl"),
    ]
    result = nsec3_insecure_delegation(response, name("c.example."))
    assert result.status is ProofStatus.INSECURE and result.opt_out
    assert result.closest_encloser == name("example.")
    # Without opt-out the span really holds no delegation: the referral is bogus.
    plain = nsec3_insecure_delegation(without_opt_out(response), name("c.example."))
    assert plain.status is ProofStatus.NOT_PROVEN
    # So is a DS query for c.example answered with the same records.
    result = nsec3_nodata(response, name("c.example."), RRType.DS)
    assert result.status is ProofStatus.INSECURE and result.opt_out
    assert not nsec3_nodata(without_opt_out(response), name("c.example."), RRType.DS).proven


def test_delegation_with_ds_is_not_insecure(rfc: list[Record]) -> None:
    result = nsec3_insecure_delegation(rfc, name("a.example."))
    assert result.status is ProofStatus.NOT_PROVEN and "DS exists" in result.reason
    assert not nsec3_insecure_delegation(rfc, name("ai.example.")).proven  # not a cut


def test_b4_wildcard_expansion(rfc: list[Record]) -> None:
    response = [at(rfc, "q04jkcevqvmu85r014c7dkba38o0ji5r")]
    result = nsec3_wildcard(response, name("a.z.w.example."), name("*.w.example."))
    assert result.status is ProofStatus.INSECURE and result.opt_out
    plain = nsec3_wildcard(without_opt_out(response), name("a.z.w.example."), name("*.w.example."))
    assert plain.proven and plain.closest_encloser == name("w.example.")
    # The next closer name must be covered: here it is x.w.example, which exists.
    refused = nsec3_wildcard(without_opt_out(rfc), name("a.x.w.example."), name("*.w.example."))
    assert refused.status is ProofStatus.NOT_PROVEN
    wrong = nsec3_wildcard(without_opt_out(rfc), name("a.z.w.example."), name("*.example."))
    assert wrong.status is ProofStatus.NOT_PROVEN
    assert not nsec3_wildcard(rfc, name("example."), name("*.w.example.")).proven


def test_b5_wildcard_no_data(rfc: list[Record]) -> None:
    response = [
        at(rfc, "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
        at(rfc, "q04jkcevqvmu85r014c7dkba38o0ji5r"),
        at(rfc, "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
    ]
    result = nsec3_nodata(response, name("a.z.w.example."), RRType.AAAA)
    assert result.proven and result.closest_encloser == name("w.example.")
    assert not nsec3_nodata(response, name("a.z.w.example."), RRType.MX).proven
    # Without the record matching the wildcard nothing is shown.
    assert not nsec3_nodata(response[:2], name("a.z.w.example."), RRType.AAAA).proven


def test_b6_ds_denied_by_the_child_apex(rfc: list[Record]) -> None:
    # The NSEC3 at a zone's apex cannot deny the DS in its parent.
    apex = [at(rfc, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom")]
    result = nsec3_nodata(apex, name("example."), RRType.DS)
    assert result.status is ProofStatus.NOT_PROVEN
    assert nsec3_nodata(apex, name("example."), RRType.A).proven


def test_iteration_limit(rfc: list[Record]) -> None:
    response = records(RFC5155_B1)
    heavy = [attrs.evolve(r, rdata=attrs.evolve(r.rdata, iterations=151)) for r in response]
    for result in (
        nsec3_nxdomain(heavy, name("a.c.x.w.example.")),
        nsec3_nodata(heavy, name("ns1.example."), RRType.MX),
        nsec3_wildcard(heavy, name("a.z.w.example."), name("*.w.example.")),
        nsec3_insecure_delegation(heavy, name("c.example.")),
    ):
        assert result.status is ProofStatus.INSECURE
        assert result.ede is EdeCode.UNSUPPORTED_NSEC3_ITERATIONS
    # 150 is still hashed (and, with the wrong iterations, proves nothing).
    at_limit = [attrs.evolve(r, rdata=attrs.evolve(r.rdata, iterations=150)) for r in response]
    assert nsec3_nxdomain(at_limit, name("a.c.x.w.example.")).status is ProofStatus.NOT_PROVEN
    # The limit is a setting.
    strict = nsec3_nxdomain(response, name("a.c.x.w.example."), max_iterations=10)
    assert strict.ede is EdeCode.UNSUPPORTED_NSEC3_ITERATIONS


def test_unusable_records_are_ignored() -> None:
    response = without_opt_out(records(RFC5155_B1))
    other_hash = [attrs.evolve(r, rdata=attrs.evolve(r.rdata, hash_algorithm=2)) for r in response]
    unknown_flags = [attrs.evolve(r, rdata=attrs.evolve(r.rdata, flags=2)) for r in response]
    bad_label = [attrs.evolve(r, name=name("not-base32!.example.")) for r in response]
    for found in (
        other_hash,
        unknown_flags,
        bad_label,
        records("example. 3600 IN A 192.0.2.1"),
        [],
    ):
        result = nsec3_nxdomain(found, name("a.c.x.w.example."))
        assert result.status is ProofStatus.NOT_PROVEN
        assert result.ede is EdeCode.NSEC_MISSING


ZONE = """
example.        3600 IN SOA ns1.example. hostmaster.example. 1 7200 900 1209600 300
example.        3600 IN NS  ns1.example.
ns1.example.    3600 IN A   192.0.2.1
a.example.      3600 IN A   192.0.2.2
*.w.example.    3600 IN TXT "wild"
d.e.example.    3600 IN A   192.0.2.4
b.example.      3600 IN NS  ns.b.example.
ns.b.example.   3600 IN A   192.0.2.5
"""


@pytest.mark.parametrize("opt_out", [False, True])
def test_a_zone_signed_here(key: SigningKey, opt_out: bool) -> None:
    signed = sign_zone(
        records(ZONE),
        [key],
        inception=NOW - 3600,
        expiration=NOW + 3600,
        denial="nsec3",
        nsec3=NSEC3Parameters(opt_out=opt_out),
    )
    chain = of_type(signed, RRType.NSEC3)
    # example, ns1, a, *.w, w, d.e, e, and b unless opted out.
    assert len(chain) == (7 if opt_out else 8)
    assert all(r.ttl == 300 for r in chain)
    secure = ProofStatus.INSECURE if opt_out else ProofStatus.PROVEN
    assert nsec3_nxdomain(chain, name("nosuch.example.")).status is secure
    assert nsec3_nodata(chain, name("a.example."), RRType.MX).proven
    assert nsec3_nodata(chain, name("e.example."), RRType.A).proven
    assert nsec3_nodata(chain, name("q.w.example."), RRType.A).proven
    assert nsec3_wildcard(chain, name("q.w.example."), name("*.w.example.")).status is secure
    delegation = nsec3_insecure_delegation(chain, name("b.example."))
    assert delegation.status is secure
    assert delegation.opt_out is opt_out

"""dnspython as the oracle: it validates what our signer makes, we validate what it
signs, and our DS digests and NSEC3 hashes are its."""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.dnssec.util import records
from tests.wire.strategies import names
from trio_dns import Name, Record, RRType
from trio_dns._dnssec import Algorithm, DigestType, nsec3_hash, verify_rrset
from trio_dns._wire.rdtypes.nsec3 import base32hex_text
from trio_dns.testing import SigningKey, make_ds, sign_rrset

NOW = 1_750_000_000
ALGORITHMS = [
    Algorithm.RSASHA256,
    Algorithm.RSASHA512,
    Algorithm.ECDSAP256SHA256,
    Algorithm.ECDSAP384SHA384,
    Algorithm.ED25519,
    Algorithm.ED448,
]
RRSET = """
www.Example.com. 300 IN MX 10 mail.example.com.
www.Example.com. 300 IN MX 20 Backup.Example.com.
"""


@pytest.fixture(scope="module", params=ALGORITHMS, ids=[a.name for a in ALGORITHMS])
def key(request: pytest.FixtureRequest) -> SigningKey:
    return SigningKey.generate("example.com.", request.param, ksk=True)


def to_dnspython(found: list[Record]) -> dns.rrset.RRset:
    first = found[0]
    return dns.rrset.from_text_list(
        first.name.to_text(),
        first.ttl,
        "IN",
        first.rtype.name,
        [record.rdata.to_text() for record in found],
    )


def test_dnspython_validates_our_signatures(key: SigningKey) -> None:
    rrset = records(RRSET)
    sig = sign_rrset(rrset, key, inception=NOW - 3600, expiration=NOW + 3600)
    keys = {dns.name.from_text("example.com."): to_dnspython([key.record()])}
    dns.dnssec.validate(to_dnspython(rrset), to_dnspython([sig]), keys, now=NOW)
    # And refuses them over other data, as we do.
    other = records("www.example.com. 300 IN MX 10 mail.example.net.")
    with pytest.raises(dns.dnssec.ValidationFailure):
        dns.dnssec.validate(to_dnspython(other), to_dnspython([sig]), keys, now=NOW)
    assert not verify_rrset(other, [sig], [key.record()], NOW).secure


def test_we_validate_dnspython_signatures(key: SigningKey) -> None:
    rrset = records(RRSET)
    dnskey = dns.rdata.from_text("IN", "DNSKEY", key.dnskey.to_text())
    rrsig = dns.dnssec.sign(
        to_dnspython(rrset),
        key.private,
        dns.name.from_text("example.com."),
        dnskey,  # type: ignore[arg-type]
        inception=NOW - 3600,
        expiration=NOW + 3600,
    )
    sig = records(f"www.example.com. 300 IN RRSIG {rrsig.to_text()}")
    result = verify_rrset(rrset, sig, [key.record()], NOW)
    assert result.secure, result.reason
    assert not verify_rrset(rrset, sig, [key.record()], NOW + 7200).secure


def test_wildcard_signatures_agree() -> None:
    key = SigningKey.generate("example.com.", Algorithm.ED25519)
    wildcard = records("*.example.com. 300 IN TXT hi")
    sig = sign_rrset(wildcard, key, inception=NOW - 3600, expiration=NOW + 3600)
    expanded = records("a.b.example.com. 300 IN TXT hi")
    moved = records(f"a.b.example.com. 300 IN RRSIG {sig.rdata.to_text()}")
    keys = {dns.name.from_text("example.com."): to_dnspython([key.record()])}
    dns.dnssec.validate(to_dnspython(expanded), to_dnspython(moved), keys, now=NOW)
    assert verify_rrset(expanded, moved, [key.record()], NOW).wildcard == Name.from_text(
        "*.example.com."
    )


@pytest.mark.parametrize("digest_type", [DigestType.SHA1, DigestType.SHA256, DigestType.SHA384])
def test_ds_agrees(key: SigningKey, digest_type: int) -> None:
    ours = make_ds(key.record(), digest_type)
    dnskey = dns.rdata.from_text("IN", "DNSKEY", key.dnskey.to_text())
    theirs = dns.dnssec.make_ds(
        "example.com.", dnskey, digest_type, policy=dns.dnssec.allow_all_policy
    )
    assert ours.rdata.to_text().lower() == theirs.to_text().lower()
    assert dns.dnssec.key_id(dnskey) == key.key_tag  # type: ignore[arg-type]
    assert ours.rtype == RRType.DS


@settings(max_examples=50, deadline=None)
@given(names, st.binary(max_size=8), st.integers(0, 20))
def test_nsec3_hash_agrees(owner: Name, salt: bytes, iterations: int) -> None:
    theirs = dns.dnssec.nsec3_hash(dns.name.from_wire(owner.to_wire(), 0)[0], salt, iterations, 1)
    assert base32hex_text(nsec3_hash(owner, salt, iterations)).upper() == theirs

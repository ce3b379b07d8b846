"""RSA/SHA-1 (5, and 7 for NSEC3 zones; RFC 3110, RFC 8624 section 3.1) and DSA
(3, and 6; RFC 2536), with keys made here and dnspython as the second opinion."""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdata
import pytest
from cryptography.hazmat.primitives.asymmetric import dsa

from tests.dnssec.test_dnspython import to_dnspython
from tests.dnssec.util import LegacyKey, records
from trio_dns._dnssec import Algorithm, VerifyStatus, algorithm_supported, verify_rrset
from trio_dns._dnssec import verify_signature as verify
from trio_dns._dnssec.verify import signed_data
from trio_dns._wire.rdtypes.rrsig import RRSIG
from trio_dns.testing import sign_rrset

NOW = 1_750_000_000
LEGACY = [
    Algorithm.DSA,
    Algorithm.RSASHA1,
    Algorithm.DSA_NSEC3_SHA1,
    Algorithm.RSASHA1_NSEC3_SHA1,
]
RRSET = """
www.example.com. 300 IN A 192.0.2.1
www.example.com. 300 IN A 192.0.2.2
"""


@pytest.fixture(scope="module", params=LEGACY, ids=[a.name for a in LEGACY])
def key(request: pytest.FixtureRequest) -> LegacyKey:
    return LegacyKey.legacy("example.com.", request.param)


def signed(key: LegacyKey) -> tuple[list, list]:  # type: ignore[type-arg]
    rrset = records(RRSET)
    return rrset, [sign_rrset(rrset, key, inception=NOW - 3600, expiration=NOW + 3600)]


def test_supported(key: LegacyKey) -> None:
    assert algorithm_supported(key.algorithm)


def test_signatures_verify(key: LegacyKey) -> None:
    rrset, sigs = signed(key)
    result = verify_rrset(rrset, sigs, [key.record()], NOW)
    assert result.status is VerifyStatus.SECURE, result.reason
    # Over other data, or by another key of the same algorithm: bogus.
    other = records("www.example.com. 300 IN A 192.0.2.3")
    assert verify_rrset(other, sigs, [key.record()], NOW).status is VerifyStatus.BOGUS
    stranger = LegacyKey.legacy("example.com.", key.algorithm)
    forged = sign_rrset(rrset, stranger, inception=NOW - 3600, expiration=NOW + 3600)
    assert not verify_rrset(rrset, [forged], [key.record()], NOW).secure
    assert verify_rrset(rrset, [forged], [stranger.record()], NOW).secure


def test_damaged_signatures_and_keys_fail_without_raising(key: LegacyKey) -> None:
    rrset, sigs = signed(key)
    rrsig = sigs[0].rdata
    assert isinstance(rrsig, RRSIG)
    data = signed_data(rrsig, rrset)
    field = key.dnskey.key
    assert verify(key.algorithm, field, data, rrsig.signature)
    last = rrsig.signature[-1] ^ 1
    assert not verify(key.algorithm, field, data, rrsig.signature[:-1] + bytes((last,)))
    assert not verify(key.algorithm, field, data + b"x", rrsig.signature)
    assert not verify(key.algorithm, field, data, rrsig.signature[:-1])
    assert not verify(key.algorithm, field, data, rrsig.signature + b"\0")
    for damaged in (b"", field[:1], field[:-1], field + b"\0"):
        assert not verify(key.algorithm, damaged, data, rrsig.signature)
    # The SHA-1 algorithms are not the SHA-2 ones: the same key under 8 fails.
    if key.algorithm in (Algorithm.RSASHA1, Algorithm.RSASHA1_NSEC3_SHA1):
        assert not verify(Algorithm.RSASHA256, field, data, rrsig.signature)


def test_dnspython_validates_our_signatures(key: LegacyKey) -> None:
    rrset, sigs = signed(key)
    keys = {dns.name.from_text("example.com."): to_dnspython([key.record()])}
    policy = dns.dnssec.allow_all_policy
    dns.dnssec.validate(to_dnspython(rrset), to_dnspython(sigs), keys, now=NOW, policy=policy)


def test_we_validate_dnspython_signatures(key: LegacyKey) -> None:
    # dnspython encodes the public key itself: a check of our reading of the
    # DNSKEY field (RFC 3110 section 2, RFC 2536 section 2) as well.
    theirs = dns.dnssec.make_dnskey(key.private.public_key(), key.algorithm, flags=257)  # type: ignore[arg-type]
    dnskey = records(f"example.com. 3600 IN DNSKEY {theirs.to_text()}")
    assert dnskey[0].rdata == key.dnskey
    rrset = records(RRSET)
    rrsig = dns.dnssec.sign(
        to_dnspython(rrset),
        key.private,  # type: ignore[arg-type]
        dns.name.from_text("example.com."),
        theirs,
        inception=NOW - 3600,
        expiration=NOW + 3600,
        policy=dns.dnssec.allow_all_policy,
    )
    sig = records(f"www.example.com. 300 IN RRSIG {rrsig.to_text()}")
    result = verify_rrset(rrset, sig, dnskey, NOW)
    assert result.secure, result.reason


def test_dsa_keys_cryptography_cannot_use_are_bogus_not_errors() -> None:
    # T = 0 (512-bit P) is valid RFC 2536 but below what `cryptography` accepts:
    # such a key cannot verify anything, and nothing raises.
    parameters = dsa.generate_parameters(1024).parameter_numbers()
    q = parameters.q.to_bytes(20, "big")
    field = b"\x00" + q + b"\x01" * 64 * 3
    assert not verify(Algorithm.DSA, field, b"data", b"\x00" + b"\x01" * 40)
    # T above 8 is no RFC 2536 key at all.
    assert not verify(Algorithm.DSA, b"\x09" + q + b"\x01" * 136 * 3, b"data", b"\x09" * 41)

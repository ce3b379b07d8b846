"""verify_rrset and verify_dnskeys: secure, bogus for each reason, unsupported."""

from __future__ import annotations

import attrs
import pytest

from tests.dnssec.util import name, records
from trio_dns import EdeCode, Record, root_trust_anchors
from trio_dns._dnssec import (
    Algorithm,
    DigestType,
    VerifyStatus,
    capped_ttl,
    keys_matching_anchors,
    serial_lt,
    verify_dnskeys,
    verify_rrset,
)
from trio_dns._dnssec.verify import seconds_left, usable_ds
from trio_dns._trust import Validation
from trio_dns._wire.rdtypes.dnskey import REVOKE, ZONE_KEY
from trio_dns._wire.rdtypes.ds import DS
from trio_dns._wire.rdtypes.rrsig import RRSIG
from trio_dns.testing import SigningKey, make_ds, sign_rrset

NOW = 1_750_000_000
DAY = 86400


@pytest.fixture(scope="module")
def ksk() -> SigningKey:
    return SigningKey.generate("example.", Algorithm.ED25519, ksk=True)


@pytest.fixture(scope="module")
def zsk() -> SigningKey:
    return SigningKey.generate("example.", Algorithm.ECDSAP256SHA256)


@pytest.fixture(scope="module")
def keys(ksk: SigningKey, zsk: SigningKey) -> list[Record]:
    return [ksk.record(), zsk.record()]


A_RRSET = """
www.example. 3600 IN A 192.0.2.3
www.example. 3600 IN A 192.0.2.1
www.example. 3600 IN A 192.0.2.2
"""


def sign(
    rrset: list[Record], key: SigningKey, start: int = NOW - DAY, end: int = NOW + DAY
) -> Record:
    return sign_rrset(rrset, key, inception=start, expiration=end)


def rrsig_of(record: Record) -> RRSIG:
    assert isinstance(record.rdata, RRSIG)
    return record.rdata


def test_secure(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk)
    result = verify_rrset(rrset, [sig], keys, NOW)
    assert result.status is VerifyStatus.SECURE
    assert result.status.validation is Validation.SECURE
    assert result.secure and result.ede is None
    assert result.rrsig == sig and result.key == zsk.record()
    assert result.ttl == 3600
    # The order the records arrive in does not matter: they are signed sorted.
    assert verify_rrset(rrset[::-1], [sig], keys, NOW).secure
    # Nor does the case of the owner name (RFC 4034 section 6.2).
    shouting = [attrs.evolve(r, name=name("WWW.EXAMPLE.")) for r in rrset]
    assert verify_rrset(shouting, [sig], keys, NOW).secure
    # Duplicates are signed once (RFC 4034 section 6.3).
    assert verify_rrset([*rrset, rrset[0]], [sig], keys, NOW).secure


def test_a_subset_of_the_rrset_is_bogus(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    result = verify_rrset(rrset[:2], [sign(rrset, zsk)], keys, NOW)
    assert result.status is VerifyStatus.BOGUS
    assert result.ede is EdeCode.DNSSEC_BOGUS


def test_tampered_rdata(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk)
    tampered = [*rrset[:2], records("www.example. 3600 IN A 203.0.113.1")[0]]
    result = verify_rrset(tampered, [sig], keys, NOW)
    assert result.status is VerifyStatus.BOGUS
    assert result.status.validation is Validation.BOGUS
    assert result.ede is EdeCode.DNSSEC_BOGUS


def test_tampered_rrsig_fields(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk)
    # The RRSIG's own fields are signed too: a longer original TTL is caught.
    longer = attrs.evolve(sig, rdata=attrs.evolve(rrsig_of(sig), original_ttl=7200))
    assert verify_rrset(rrset, [longer], keys, NOW).ede is EdeCode.DNSSEC_BOGUS


def test_expired(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk, NOW - 2 * DAY, NOW - DAY)
    result = verify_rrset(rrset, [sig], keys, NOW)
    assert result.status is VerifyStatus.BOGUS
    assert result.ede is EdeCode.SIGNATURE_EXPIRED
    # The last second of the period still counts.
    assert verify_rrset(rrset, [sig], keys, NOW - DAY).secure


def test_not_yet_valid(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk, NOW + 10, NOW + DAY)
    result = verify_rrset(rrset, [sig], keys, NOW)
    assert result.ede is EdeCode.SIGNATURE_NOT_YET_VALID
    assert verify_rrset(rrset, [sig], keys, NOW + 10).secure


def test_expires_before_valid(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk, NOW + DAY, NOW - DAY)
    assert verify_rrset(rrset, [sig], keys, NOW).ede is EdeCode.SIGNATURE_EXPIRED_BEFORE_VALID


def test_validity_across_the_32_bit_wrap(zsk: SigningKey, keys: list[Record]) -> None:
    # In 2106 the 32-bit times wrap; serial arithmetic keeps them ordered.
    rrset = records(A_RRSET)
    wrap = 1 << 32
    sig = sign(rrset, zsk, wrap - 1000, wrap + 1000)
    assert rrsig_of(sig).expiration == 1000
    assert verify_rrset(rrset, [sig], keys, wrap + 10).secure
    assert verify_rrset(rrset, [sig], keys, wrap + 2000).ede is EdeCode.SIGNATURE_EXPIRED
    assert verify_rrset(rrset, [sig], keys, wrap - 2000).ede is EdeCode.SIGNATURE_NOT_YET_VALID


def test_serial_arithmetic() -> None:
    assert serial_lt(1, 2) and not serial_lt(2, 1) and not serial_lt(5, 5)
    assert serial_lt(0xFFFFFFFF, 0)  # wraps
    assert serial_lt(0xFFFFFF00, 0x100)
    assert not serial_lt(0x100, 0xFFFFFF00)
    assert seconds_left(100, 40) == 60
    assert seconds_left(40, 100) == 0
    assert seconds_left(10, (1 << 32) - 5) == 15


def test_wrong_key(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    stranger = SigningKey.generate("example.", Algorithm.ECDSAP256SHA256)
    result = verify_rrset(rrset, [sign(rrset, stranger)], keys, NOW)
    assert result.status is VerifyStatus.BOGUS
    assert result.ede is EdeCode.DNSKEY_MISSING
    # A forger who copies the key tag of a trusted key still fails the signature.
    forged = sign(rrset, stranger)
    forged = attrs.evolve(forged, rdata=attrs.evolve(rrsig_of(forged), key_tag=zsk.key_tag))
    assert verify_rrset(rrset, [forged], keys, NOW).ede is EdeCode.DNSSEC_BOGUS


def test_wrong_signer_name(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk)
    elsewhere = attrs.evolve(sig, rdata=attrs.evolve(rrsig_of(sig), signer=name("example.net.")))
    result = verify_rrset(rrset, [elsewhere], keys, NOW)
    assert result.status is VerifyStatus.BOGUS and result.ede is EdeCode.DNSSEC_BOGUS
    # A key of another zone with the right tag does not count.
    other = SigningKey.generate("www.example.", Algorithm.ECDSAP256SHA256)
    by_child = sign_rrset(rrset, other, inception=NOW - DAY, expiration=NOW + DAY)
    assert verify_rrset(rrset, [by_child], keys, NOW).ede is EdeCode.DNSKEY_MISSING
    assert verify_rrset(rrset, [by_child], [*keys, other.record()], NOW).secure
    # The signer must be at or above the owner.
    sibling = SigningKey.generate("other.example.", Algorithm.ED25519)
    by_sibling = sign(rrset, sibling)
    result = verify_rrset(rrset, [by_sibling], [sibling.record()], NOW)
    assert result.ede is EdeCode.DNSSEC_BOGUS


def test_missing_rrsig(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    other = records("mail.example. 3600 IN A 192.0.2.9")
    other_sig = sign(other, zsk)
    mx = records("www.example. 3600 IN MX 10 mail.example.")
    mx_sig = sign(mx, zsk)
    for sigs in ([], [other_sig], [mx_sig]):
        result = verify_rrset(rrset, sigs, keys, NOW)
        assert result.status is VerifyStatus.BOGUS
        assert result.ede is EdeCode.RRSIGS_MISSING


def test_unsupported_algorithm_is_insecure(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk)
    old = attrs.evolve(sig, rdata=attrs.evolve(rrsig_of(sig), algorithm=12))  # GOST
    result = verify_rrset(rrset, [old], keys, NOW)
    assert result.status is VerifyStatus.UNSUPPORTED
    assert result.status.validation is Validation.INSECURE
    assert result.ede is EdeCode.UNSUPPORTED_DNSKEY_ALGORITHM
    # With one good signature beside it, the RRset is secure.
    assert verify_rrset(rrset, [old, sig], keys, NOW).secure
    # With a bad one beside it, the bad one explains the failure.
    expired = sign(rrset, zsk, NOW - 2 * DAY, NOW - DAY)
    assert verify_rrset(rrset, [old, expired], keys, NOW).ede is EdeCode.SIGNATURE_EXPIRED


def test_keys_that_may_not_sign() -> None:
    rrset = records(A_RRSET)
    for flags in (0, ZONE_KEY | REVOKE):
        key = SigningKey.generate("example.", Algorithm.ED25519, flags=flags)
        result = verify_rrset(rrset, [sign(rrset, key)], [key.record()], NOW)
        assert result.status is VerifyStatus.BOGUS
        assert result.ede is EdeCode.NO_ZONE_KEY_BIT_SET


def test_wildcard_expansion(zsk: SigningKey, keys: list[Record]) -> None:
    wildcard = records("*.example. 300 IN TXT hello")
    sig = sign(wildcard, zsk)
    assert rrsig_of(sig).labels == 1
    for owner in ("foo.example.", "a.b.c.example."):
        expanded = [attrs.evolve(r, name=name(owner)) for r in wildcard]
        sig_there = attrs.evolve(sig, name=name(owner))
        result = verify_rrset(expanded, [sig_there], keys, NOW)
        assert result.secure, result.reason
        assert result.wildcard == name("*.example.")
    # Not expanded: the wildcard itself, asked for literally.
    assert verify_rrset(wildcard, [sig], keys, NOW).wildcard is None


def test_labels_field_checks(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    sig = sign(rrset, zsk)
    too_many = attrs.evolve(sig, rdata=attrs.evolve(rrsig_of(sig), labels=3))
    assert verify_rrset(rrset, [too_many], keys, NOW).ede is EdeCode.DNSSEC_BOGUS
    # A lower count claims a wildcard expansion that was not signed.
    fewer = attrs.evolve(sig, rdata=attrs.evolve(rrsig_of(sig), labels=1))
    assert verify_rrset(rrset, [fewer], keys, NOW).ede is EdeCode.DNSSEC_BOGUS
    # And none may put the wildcard above the signer.
    above = attrs.evolve(sig, rdata=attrs.evolve(rrsig_of(sig), labels=0))
    assert "above" in verify_rrset(rrset, [above], keys, NOW).reason


def test_ttl_is_capped(zsk: SigningKey, keys: list[Record]) -> None:
    rrset = records(A_RRSET)
    soon = sign(rrset, zsk, NOW - DAY, NOW + 100)
    assert verify_rrset(rrset, [soon], keys, NOW).ttl == 100
    # A cache that counted down the TTL keeps its lower value.
    aged = [attrs.evolve(r, ttl=50) for r in rrset]
    assert verify_rrset(aged, [sign(rrset, zsk)], keys, NOW).ttl == 50
    # A TTL raised above the signed original TTL falls back to it.
    raised = [attrs.evolve(r, ttl=86400) for r in rrset]
    sig = sign(rrset, zsk)
    result = verify_rrset(raised, [attrs.evolve(sig, ttl=86400)], keys, NOW)
    assert result.secure and result.ttl == 3600
    assert capped_ttl(raised, attrs.evolve(sig, ttl=60), NOW) == 60


def test_misuse() -> None:
    with pytest.raises(ValueError, match="empty"):
        verify_rrset([], [], [], NOW)
    with pytest.raises(ValueError, match="more than one"):
        verify_rrset(records(A_RRSET + "www.example. IN MX 1 mx.example."), [], [], NOW)


# -- DS to DNSKEY -------------------------------------------------------------------


def dnskey_rrsigs(keys: list[Record], *signers: SigningKey, end: int = NOW + DAY) -> list[Record]:
    return [sign_rrset(keys, key, inception=NOW - DAY, expiration=end) for key in signers]


def test_dnskeys_trusted_through_ds(ksk: SigningKey, zsk: SigningKey, keys: list[Record]) -> None:
    result = verify_dnskeys(keys, dnskey_rrsigs(keys, ksk), [ksk.ds()], NOW)
    assert result.status is VerifyStatus.SECURE, result.reason
    assert result.keys == tuple(keys)
    assert result.ttl == 3600
    # Any supported digest type will do, SHA-1 included.
    for digest_type in (DigestType.SHA1, DigestType.SHA384):
        assert verify_dnskeys(keys, dnskey_rrsigs(keys, ksk), [ksk.ds(digest_type)], NOW).secure


def test_dnskeys_trusted_through_a_dnskey_anchor(ksk: SigningKey, keys: list[Record]) -> None:
    assert verify_dnskeys(keys, dnskey_rrsigs(keys, ksk), [ksk.record()], NOW).secure


def test_dnskeys_with_a_bad_ds_digest(ksk: SigningKey, keys: list[Record]) -> None:
    ds = ksk.ds()
    assert isinstance(ds.rdata, DS)
    bad = attrs.evolve(ds, rdata=attrs.evolve(ds.rdata, digest=bytes(32)))
    result = verify_dnskeys(keys, dnskey_rrsigs(keys, ksk), [bad], NOW)
    assert result.status is VerifyStatus.BOGUS
    assert result.ede is EdeCode.DNSKEY_MISSING
    assert result.keys == ()


def test_dnskeys_signed_by_a_key_the_ds_does_not_name(
    ksk: SigningKey, zsk: SigningKey, keys: list[Record]
) -> None:
    result = verify_dnskeys(keys, dnskey_rrsigs(keys, zsk), [ksk.ds()], NOW)
    assert result.status is VerifyStatus.BOGUS
    assert result.ede is EdeCode.DNSKEY_MISSING
    expired = dnskey_rrsigs(keys, ksk, end=NOW - 1)
    assert verify_dnskeys(keys, expired, [ksk.ds()], NOW).ede is EdeCode.SIGNATURE_EXPIRED
    assert verify_dnskeys(keys, [], [ksk.ds()], NOW).ede is EdeCode.RRSIGS_MISSING
    assert verify_dnskeys([], [], [ksk.ds()], NOW).ede is EdeCode.DNSKEY_MISSING


def test_sha1_ds_is_ignored_beside_a_stronger_one(ksk: SigningKey, keys: list[Record]) -> None:
    # RFC 4509 section 3: a good SHA-1 digest cannot outvote a bad SHA-256 one.
    good_sha1 = ksk.ds(DigestType.SHA1)
    ds = ksk.ds()
    assert isinstance(ds.rdata, DS)
    bad_sha256 = attrs.evolve(ds, rdata=attrs.evolve(ds.rdata, digest=bytes(32)))
    assert usable_ds([good_sha1, bad_sha256]) == [bad_sha256]
    result = verify_dnskeys(keys, dnskey_rrsigs(keys, ksk), [good_sha1, bad_sha256], NOW)
    assert result.status is VerifyStatus.BOGUS


def test_unsupported_ds_makes_the_zone_insecure(ksk: SigningKey, keys: list[Record]) -> None:
    ds = ksk.ds()
    assert isinstance(ds.rdata, DS)
    gost = attrs.evolve(ds, rdata=attrs.evolve(ds.rdata, digest_type=3))
    result = verify_dnskeys(keys, dnskey_rrsigs(keys, ksk), [gost], NOW)
    assert result.status is VerifyStatus.UNSUPPORTED
    assert result.status.validation is Validation.INSECURE
    assert result.ede is EdeCode.UNSUPPORTED_DS_DIGEST_TYPE
    gost_key = attrs.evolve(ds, rdata=attrs.evolve(ds.rdata, algorithm=12))
    result = verify_dnskeys(keys, dnskey_rrsigs(keys, ksk), [gost_key], NOW)
    assert result.status is VerifyStatus.UNSUPPORTED
    assert result.ede is EdeCode.UNSUPPORTED_DNSKEY_ALGORITHM
    # One supported DS among unsupported ones is enough to require a valid chain.
    bad = attrs.evolve(ds, rdata=attrs.evolve(ds.rdata, digest=bytes(32)))
    result = verify_dnskeys(keys, dnskey_rrsigs(keys, ksk), [gost, bad], NOW)
    assert result.status is VerifyStatus.BOGUS


def test_root_trust_anchors_are_usable() -> None:
    anchors = root_trust_anchors()
    assert len(usable_ds(anchors)) == len(anchors) >= 1


def test_make_ds_matches_the_key(ksk: SigningKey) -> None:
    ds = make_ds(ksk.record())
    assert isinstance(ds.rdata, DS)
    assert ds.name == ksk.zone
    assert (ds.rdata.key_tag, ds.rdata.algorithm, ds.rdata.digest_type) == (
        ksk.key_tag,
        Algorithm.ED25519,
        DigestType.SHA256,
    )
    with pytest.raises(ValueError, match="digest type"):
        make_ds(ksk.record(), 3)
    with pytest.raises(TypeError):
        make_ds(records(A_RRSET)[0])


def test_keys_matching_anchors(ksk: SigningKey, zsk: SigningKey, keys: list[Record]) -> None:
    assert keys_matching_anchors(keys, [ksk.ds()]) == [ksk.record()]
    assert keys_matching_anchors(keys, [zsk.record()]) == [zsk.record()]
    assert keys_matching_anchors(keys, [ksk.ds(), zsk.ds()]) == keys
    stranger = SigningKey.generate("example.", Algorithm.ED25519, ksk=True)
    assert keys_matching_anchors(keys, [stranger.ds(), stranger.record()]) == []
    # A DS for the same key at another name does not match.
    moved = attrs.evolve(ksk.ds(), name=name("other."))
    assert keys_matching_anchors(keys, [moved]) == []

"""Known answers from the RFCs: signatures (RFC 5702, 6605, 8080), DS digests
(RFC 4034, 4509, 6605, 8080) and NSEC3 hashes (RFC 5155 Appendix A)."""

from __future__ import annotations

import attrs
import pytest

from tests.dnssec.util import name, of_type, records, when
from trio_dns import RRType
from trio_dns._dnssec import (
    VerifyStatus,
    algorithm_supported,
    digest_supported,
    ds_digest,
    hashed_owner,
    nsec3_hash,
    verify_rrset,
    verify_signature,
)
from trio_dns._dnssec.verify import signed_data
from trio_dns._wire.rdtypes.dnskey import DNSKEY
from trio_dns._wire.rdtypes.nsec3 import base32hex_text
from trio_dns._wire.rdtypes.rrsig import RRSIG

# (description, zone text with the DNSKEY, RRset and RRSIG, a time inside the validity)
SIGNED = [
    (
        "RFC 5702 6.1 RSA/SHA-256 (512 bits)",
        """
        example.net. 3600 IN DNSKEY 256 3 8 AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=
        www.example.net. 3600 IN A 192.0.2.91
        www.example.net. 3600 IN RRSIG A 8 3 3600 20300101000000 20000101000000 9033 example.net. kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg==
        """,
        "20100101000000",
    ),
    (
        "RFC 5702 6.2 RSA/SHA-512",
        """
        example.net. 3600 IN DNSKEY 256 3 10 AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL
        www.example.net. 3600 IN A 192.0.2.91
        www.example.net. 3600 IN RRSIG A 10 3 3600 20300101000000 20000101000000 3740 example.net. tsb4wnjRUDnB1BUi+t6TMTXThjVnG+eCkWqjvvjhzQL1d0YRoOe0CbxrVDYd0xDtsuJRaeUw1ep94PzEWzr0iGYgZBWm/zpq+9fOuagYJRfDqfReKBzMweOLDiNa8iP5g9vMhpuv6OPlvpXwm9Sa9ZXIbNl1MBGk0fthPgxdDLw=
        """,
        "20100101000000",
    ),
    (
        "RFC 6605 6.1 ECDSA P-256",
        """
        example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==
        www.example.net. 3600 IN A 192.0.2.1
        www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==
        """,
        "20100901000000",
    ),
    (
        "RFC 6605 6.2 ECDSA P-384",
        """
        example.net. 3600 IN DNSKEY 257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40
        www.example.net. 3600 IN A 192.0.2.1
        www.example.net. 3600 IN RRSIG A 14 3 3600 20100909102025 20100812102025 10771 example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm
        """,
        "20100901000000",
    ),
    (
        "RFC 8080 6.1 Ed25519, key 3613",
        """
        example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
        example.com. 3600 IN MX 10 mail.example.com.
        example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example.com. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==
        """,
        "20150801000000",
    ),
    (
        "RFC 8080 6.1 Ed25519, key 35217",
        """
        example.com. 3600 IN DNSKEY 257 3 15 zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=
        example.com. 3600 IN MX 10 mail.example.com.
        example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 35217 example.com. zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==
        """,
        "20150801000000",
    ),
    (
        "RFC 8080 6.2 Ed448, key 9713",
        """
        example.com. 3600 IN DNSKEY 257 3 16 3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA
        example.com. 3600 IN MX 10 mail.example.com.
        example.com. 3600 IN RRSIG MX 16 2 3600 1440021600 1438207200 9713 example.com. 3cPAHkmlnxcDHMyg7vFC34l0blBhuG1qpwLmjInI8w1CMB29FkEAIJUA0amxWndkmnBZ6SKiwZSAxGILn/NBtOXft0+Gj7FSvOKxE/07+4RQvE581N3Aj/JtIyaiYVdnYtyMWbSNyGEY2213WKsJlwEA
        """,
        "20150801000000",
    ),
    (
        "RFC 8080 6.2 Ed448, key 38353",
        """
        example.com. 3600 IN DNSKEY 257 3 16 kkreGWoccSDmUBGAe7+zsbG6ZAFQp+syPmYUurBRQc3tDjeMCJcVMRDmgcNLp5HlHAMy12VoISsA
        example.com. 3600 IN MX 10 mail.example.com.
        example.com. 3600 IN RRSIG MX 16 2 3600 1440021600 1438207200 38353 example.com. E1/oLjSGIbmLny/4fcgM1z4oL6aqo+izT3urCyHyvEp4Sp8Syg1eI+lJ57CSnZqjJP41O/9l4m0AsQ4f7qI1gVnML8vWWiyW2KXhT9kuAICUSxv5OWbf81Rq7Yu60npabODB0QFPb/rkW3kUZmQ0YQUA
        """,
        "20150801000000",
    ),
]
IDS = [case[0] for case in SIGNED]


def split(text: str) -> tuple[list, list, list]:  # type: ignore[type-arg]
    found = records(text)
    keys = of_type(found, RRType.DNSKEY)
    sigs = of_type(found, RRType.RRSIG)
    data = [r for r in found if r.rtype not in (RRType.DNSKEY, RRType.RRSIG)]
    return data, sigs, keys


@pytest.mark.parametrize(("description", "text", "now"), SIGNED, ids=IDS)
def test_published_signatures_verify(description: str, text: str, now: str) -> None:
    rrset, sigs, keys = split(text)
    result = verify_rrset(rrset, sigs, keys, when(now))
    assert result.status is VerifyStatus.SECURE, result.reason
    assert result.key == keys[0]
    assert result.rrsig == sigs[0]
    assert result.wildcard is None


@pytest.mark.parametrize(("description", "text", "now"), SIGNED, ids=IDS)
def test_published_signatures_fail_over_other_data(description: str, text: str, now: str) -> None:
    rrset, sigs, keys = split(text)
    changed = records(rrset[0].to_text().replace("192.0.2.", "198.51.100.").replace("mail.", "mx."))
    assert changed != rrset
    result = verify_rrset(changed, sigs, keys, when(now))
    assert result.status is VerifyStatus.BOGUS
    assert result.ede is not None and result.ede.name == "DNSSEC_BOGUS"


@pytest.mark.parametrize(("description", "text", "now"), SIGNED, ids=IDS)
def test_published_signatures_at_the_low_level(description: str, text: str, now: str) -> None:
    rrset, sigs, keys = split(text)
    rrsig, dnskey = sigs[0].rdata, keys[0].rdata
    assert isinstance(rrsig, RRSIG) and isinstance(dnskey, DNSKEY)
    assert algorithm_supported(rrsig.algorithm)
    data = signed_data(rrsig, rrset)
    assert verify_signature(rrsig.algorithm, dnskey.key, data, rrsig.signature)
    assert not verify_signature(rrsig.algorithm, dnskey.key, data + b"x", rrsig.signature)
    broken = bytes([rrsig.signature[0] ^ 1]) + rrsig.signature[1:]
    assert not verify_signature(rrsig.algorithm, dnskey.key, data, broken)
    # A key that does not parse is a failed check, not an exception.
    assert not verify_signature(rrsig.algorithm, dnskey.key[:5], data, rrsig.signature)
    assert not verify_signature(rrsig.algorithm, b"", data, rrsig.signature)
    # So is an algorithm we do not know, whatever the key (12 is GOST).
    assert not verify_signature(12, dnskey.key, data, rrsig.signature)


def test_rsa_sha512_refuses_a_512_bit_key() -> None:
    # RFC 5702 section 2: RSA/SHA-512 keys are 1024 bits or more.
    rrset, sigs, keys = split(SIGNED[0][1])
    rrsig = sigs[0].rdata
    dnskey = keys[0].rdata
    assert isinstance(rrsig, RRSIG) and isinstance(dnskey, DNSKEY)
    data = signed_data(rrsig, rrset)
    assert verify_signature(8, dnskey.key, data, rrsig.signature)
    assert not verify_signature(10, dnskey.key, data, rrsig.signature)


def test_signed_data_is_case_and_order_independent() -> None:
    rrset, sigs, keys = split(SIGNED[4][1])
    shouting = [attrs.evolve(r, name=name("EXAMPLE.COM")) for r in rrset]
    result = verify_rrset(shouting, sigs, keys, when("20150801000000"))
    assert result.secure


# (owner, DNSKEY rdata, key tag, digest type, digest)
DS_VECTORS = [
    (  # RFC 4034 section 5.4
        "dskey.example.com.",
        "256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
        60485,
        1,
        "2BB183AF5F22588179A53B0A98631FAD1A292118",
    ),
    (  # RFC 4509 section 2.3
        "dskey.example.com.",
        "256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
        60485,
        2,
        "D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A",
    ),
    (  # RFC 6605 section 6.1
        "example.net.",
        "257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
        55648,
        2,
        "b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17",
    ),
    (  # RFC 6605 section 6.2
        "example.net.",
        "257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
        10771,
        4,
        "72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0563a9b5f4d288405c3008a946df983d6",
    ),
    (  # RFC 8080 section 6.1
        "example.com.",
        "257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
        3613,
        2,
        "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
    ),
    (  # RFC 8080 section 6.2
        "example.com.",
        "257 3 16 3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA",
        9713,
        2,
        "6ccf18d5bc5d7fc2fceb1d59d17321402f2aa8d368048db93dd811f5cb2b19c7",
    ),
]


@pytest.mark.parametrize(("owner", "key", "tag", "digest_type", "digest"), DS_VECTORS)
def test_ds_digests(owner: str, key: str, tag: int, digest_type: int, digest: str) -> None:
    record = records(f"{owner} IN DNSKEY {key}")[0]
    assert isinstance(record.rdata, DNSKEY)
    assert record.rdata.key_tag() == tag
    assert digest_supported(digest_type)
    assert ds_digest(name(owner), record.rdata, digest_type) == bytes.fromhex(digest)
    # The owner counts, in canonical (lowercase) form.
    assert ds_digest(name(owner.upper()), record.rdata, digest_type) == bytes.fromhex(digest)
    assert ds_digest(name("other." + owner), record.rdata, digest_type) != bytes.fromhex(digest)


def test_unknown_digest_types_are_unsupported() -> None:
    record = records(f"example.com. IN DNSKEY {DS_VECTORS[4][1]}")[0]
    assert isinstance(record.rdata, DNSKEY)
    for digest_type in (0, 3, 5, 200):  # 3 is GOST, which we do not do
        assert not digest_supported(digest_type)
        assert ds_digest(record.name, record.rdata, digest_type) is None


def test_supported_algorithms() -> None:
    # RFC 8624 section 3.1: 5 and 7 MUST be validated; DSA (3, 6) is validated too,
    # against the RFC's advice (see algorithms.py).
    assert [a for a in range(256) if algorithm_supported(a)] == [3, 5, 6, 7, 8, 10, 13, 14, 15, 16]


# RFC 5155 Appendix A: salt aabbccdd, 12 extra iterations.
NSEC3_HASHES = {
    "example": "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
    "a.example": "35mthgpgcu1qg68fab165klnsnk3dpvl",
    "ai.example": "gjeqe526plbf1g8mklp59enfd789njgi",
    "ns1.example": "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
    "ns2.example": "q04jkcevqvmu85r014c7dkba38o0ji5r",
    "w.example": "k8udemvp1j2f7eg6jebps17vp3n8i58h",
    "*.w.example": "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
    "x.w.example": "b4um86eghhds6nea196smvmlo4ors995",
    "y.w.example": "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
    "x.y.w.example": "2vptu5timamqttgl4luu9kg21e0aor3s",
    "xx.example": "t644ebqk9bibcna874givr6joj62mlhv",
}


@pytest.mark.parametrize(("owner", "expected"), NSEC3_HASHES.items())
def test_nsec3_hashes(owner: str, expected: str) -> None:
    salt = bytes.fromhex("aabbccdd")
    assert base32hex_text(nsec3_hash(name(owner), salt, 12)) == expected
    assert base32hex_text(nsec3_hash(name(owner.upper()), salt, 12)) == expected
    assert hashed_owner(name(owner), name("example"), salt, 12) == name(f"{expected}.example")
    assert base32hex_text(nsec3_hash(name(owner), salt, 11)) != expected


def test_nsec3_hash_of_an_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        nsec3_hash(name("example"), b"", 0, algorithm=2)

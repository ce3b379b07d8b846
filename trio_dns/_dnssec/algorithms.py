"""DNSSEC signature algorithms and DS digests, checked with `cryptography`.

Theory of operation: a validator meets numbers, not keys. `verify_signature` takes
the algorithm number, the public key field of a DNSKEY as it is on the wire, the
octets that were signed and the signature field of an RRSIG, and answers True or
False: a key that does not parse is as useless as a signature that does not
verify, and neither may raise. Each algorithm turns its DNSKEY field into a
`cryptography` key its own way: RSA keys are an exponent length, exponent and
modulus (RFC 3110 section 2), ECDSA keys the two coordinates of the point and its
signatures r and s side by side (RFC 6605 section 4), EdDSA keys and signatures
the raw octets (RFC 8080 section 3), DSA keys T, Q, P, G and Y and its signatures
T, R and S (RFC 2536). The NSEC3 aliases (6 and 7, RFC 5155 section 2) are the
same algorithms under numbers that tell old validators the zone uses NSEC3.

An algorithm or digest type this module does not know is not a failed check but an
unknown one: RFC 6840 section 5.2 and RFC 4035 section 5.2 make a zone signed only
with such algorithms insecure, not bogus, so callers ask `algorithm_supported` and
`digest_supported` before they judge.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .._wire.name import Name
from .._wire.rdtypes.dnskey import DNSKEY


class Algorithm(enum.IntEnum):
    """The DNSSEC algorithms validated here (IANA "DNS Security Algorithm Numbers")."""

    DSA = 3
    RSASHA1 = 5
    DSA_NSEC3_SHA1 = 6
    RSASHA1_NSEC3_SHA1 = 7
    RSASHA256 = 8
    RSASHA512 = 10
    ECDSAP256SHA256 = 13
    ECDSAP384SHA384 = 14
    ED25519 = 15
    ED448 = 16


class DigestType(enum.IntEnum):
    """DS digest types (IANA "Delegation Signer (DS) Resource Record Type Digest Algorithms")."""

    SHA1 = 1  # RFC 4034: still accepted when checking, never made
    SHA256 = 2  # RFC 4509
    SHA384 = 4  # RFC 6605


# RFC 3110 section 2 and RFC 5702 section 2: RSA/SHA-1 and RSA/SHA-256 keys of 512
# to 4096 bits, RSA/SHA-512 of 1024 to 4096. A larger modulus would only cost CPU.
_RSA_MAX_BITS = 4096


def _rsa_public_key(key: bytes, min_bits: int) -> rsa.RSAPublicKey | None:
    if not key:
        return None
    if key[0]:
        exponent_length, offset = key[0], 1
    else:
        # A zero first octet means the length is in the next two (RFC 3110 section 2).
        if len(key) < 3:
            return None
        exponent_length, offset = int.from_bytes(key[1:3], "big"), 3
    exponent = key[offset : offset + exponent_length]
    modulus = key[offset + exponent_length :]
    if len(exponent) != exponent_length or not modulus:
        return None
    n = int.from_bytes(modulus, "big")
    if not min_bits <= n.bit_length() <= _RSA_MAX_BITS:
        return None
    try:
        return rsa.RSAPublicNumbers(int.from_bytes(exponent, "big"), n).public_key()
    except ValueError:
        return None


def _verify_rsa(
    hash_algorithm: hashes.HashAlgorithm, min_bits: int
) -> Callable[[bytes, bytes, bytes], bool]:
    def verify(key: bytes, data: bytes, signature: bytes) -> bool:
        public_key = _rsa_public_key(key, min_bits)
        if public_key is None:
            return False
        public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        return True

    return verify


def _verify_ecdsa(
    curve: ec.EllipticCurve, hash_algorithm: hashes.HashAlgorithm, size: int
) -> Callable[[bytes, bytes, bytes], bool]:
    def verify(key: bytes, data: bytes, signature: bytes) -> bool:
        if len(key) != 2 * size or len(signature) != 2 * size:
            return False
        # The DNSKEY holds the uncompressed point without SEC1's leading 4.
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + key)
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_algorithm))
        return True

    return verify


# RFC 2536 sections 2 and 3: Q and the signature's R and S are 20 octets (SHA-1
# sized); P, G and Y are 64 + 8 * T octets, T from 0 to 8 (512 to 1024 bits).
_DSA_Q = 20
_DSA_MAX_T = 8


def _verify_dsa(key: bytes, data: bytes, signature: bytes) -> bool:
    # RFC 8624 section 3.1 says MUST NOT validate DSA (3, 6): it is weak, and a zone
    # signed with it would be insecure. We validate it anyway, as Unbound still
    # does: the DSA-anchored Deckard scenarios (val_positive_nosigs,
    # val_nsec3_nods_soa, val_deleg_nons, black_ds, ...) configure a DSA trust
    # anchor and expect forged or unsigned data below it to be caught (SERVFAIL),
    # where "unsupported, so insecure" would serve it. `cryptography` takes only
    # P of 1024 bits (T = 8) or more; a smaller key is one it cannot use, so its
    # signatures fail like any key that does not parse: bogus, never insecure.
    # (Those scenarios' keys are such 512-bit ones: bogus is what they expect.)
    if not key or key[0] > _DSA_MAX_T or len(signature) != 1 + 2 * _DSA_Q:
        return False
    size = 64 + 8 * key[0]
    if len(key) != 1 + _DSA_Q + 3 * size:
        return False
    fields = [key[1 : 1 + _DSA_Q]]
    fields += [key[1 + _DSA_Q + i * size : 1 + _DSA_Q + (i + 1) * size] for i in range(3)]
    q, p, g, y = (int.from_bytes(field, "big") for field in fields)
    public_key = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
    # The signature's own T octet says nothing the key does not.
    r = int.from_bytes(signature[1 : 1 + _DSA_Q], "big")
    s = int.from_bytes(signature[1 + _DSA_Q :], "big")
    public_key.verify(encode_dss_signature(r, s), data, hashes.SHA1())
    return True


def _verify_ed25519(key: bytes, data: bytes, signature: bytes) -> bool:
    Ed25519PublicKey.from_public_bytes(key).verify(signature, data)
    return True


def _verify_ed448(key: bytes, data: bytes, signature: bytes) -> bool:
    Ed448PublicKey.from_public_bytes(key).verify(signature, data)
    return True


# RFC 8624 section 3.1: RSASHA1 (5) and RSASHA1-NSEC3-SHA1 (7) MUST be validated:
# SHA-1 is too weak to sign with now, but many zones are still signed with it.
_VERIFIERS: dict[int, Callable[[bytes, bytes, bytes], bool]] = {
    Algorithm.DSA: _verify_dsa,
    Algorithm.RSASHA1: _verify_rsa(hashes.SHA1(), 512),
    Algorithm.DSA_NSEC3_SHA1: _verify_dsa,
    Algorithm.RSASHA1_NSEC3_SHA1: _verify_rsa(hashes.SHA1(), 512),
    Algorithm.RSASHA256: _verify_rsa(hashes.SHA256(), 512),
    Algorithm.RSASHA512: _verify_rsa(hashes.SHA512(), 1024),
    Algorithm.ECDSAP256SHA256: _verify_ecdsa(ec.SECP256R1(), hashes.SHA256(), 32),
    Algorithm.ECDSAP384SHA384: _verify_ecdsa(ec.SECP384R1(), hashes.SHA384(), 48),
    Algorithm.ED25519: _verify_ed25519,
    Algorithm.ED448: _verify_ed448,
}


def algorithm_supported(algorithm: int) -> bool:
    """Can signatures of this algorithm number be checked here?"""
    return algorithm in _VERIFIERS


def verify_signature(algorithm: int, key: bytes, data: bytes, signature: bytes) -> bool:
    """Does `signature` (an RRSIG's signature field) sign `data` with `key` (a
    DNSKEY's public key field)? False for an unusable key or an unsupported
    algorithm as well as for a forged signature; never raises."""
    verifier = _VERIFIERS.get(algorithm)
    if verifier is None:
        return False
    try:
        return verifier(key, data, signature)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False


_DIGESTS: dict[int, Callable[[bytes], bytes]] = {
    DigestType.SHA1: lambda data: hashlib.sha1(data).digest(),
    DigestType.SHA256: lambda data: hashlib.sha256(data).digest(),
    DigestType.SHA384: lambda data: hashlib.sha384(data).digest(),
}


def digest_supported(digest_type: int) -> bool:
    """Can DS records of this digest type be checked here?"""
    return digest_type in _DIGESTS


def ds_digest(owner: Name, dnskey: DNSKEY, digest_type: int) -> bytes | None:
    """The digest a DS of `digest_type` holds for `dnskey` at `owner` (RFC 4034
    section 5.1.4), or None for a digest type not supported here."""
    digest = _DIGESTS.get(digest_type)
    if digest is None:
        return None
    return digest(owner.canonical_wire() + dnskey.to_canonical_wire())

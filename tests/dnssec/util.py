"""Helpers shared by the DNSSEC tests: records from zone-file text, keys of the
old algorithms."""

from __future__ import annotations

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from trio_dns import Name, Record, RRType, read_zone
from trio_dns._dnssec import Algorithm
from trio_dns._wire.rdtypes.dnskey import DNSKEY, SEP, ZONE_KEY
from trio_dns._wire.rdtypes.rrsig import time_from_text
from trio_dns.testing import SigningKey


def records(text: str, origin: str = ".") -> list[Record]:
    """Records from zone-file lines, which may be indented."""
    lines = "\n".join(line.strip() for line in text.splitlines())
    return read_zone(lines, origin=origin, default_ttl=3600)


def of_type(found: list[Record], rtype: RRType) -> list[Record]:
    return [record for record in found if record.rtype == rtype]


def name(text: str) -> Name:
    return Name.from_text(text)


def when(text: str) -> int:
    """Seconds since 1970 from YYYYMMDDHHmmSS."""
    return time_from_text(text)


@attrs.frozen
class LegacyKey(SigningKey):
    """A key of an algorithm the test signer does not make: RSA/SHA-1 (5, 7) or
    DSA (3, 6), signed here with `cryptography` in the RFC 3110 and RFC 2536
    formats."""

    @classmethod
    def legacy(cls, zone: str, algorithm: int, *, ksk: bool = True) -> LegacyKey:
        private: rsa.RSAPrivateKey | dsa.DSAPrivateKey
        if algorithm in (Algorithm.RSASHA1, Algorithm.RSASHA1_NSEC3_SHA1):
            private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
            numbers = private.public_key().public_numbers()
            exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
            field = bytes((len(exponent),)) + exponent + numbers.n.to_bytes(128, "big")
        elif algorithm in (Algorithm.DSA, Algorithm.DSA_NSEC3_SHA1):
            private = dsa.generate_private_key(1024)  # T = 8, the largest RFC 2536 allows
            public = private.public_key().public_numbers()
            p = public.parameter_numbers
            field = bytes((8,)) + b"".join(
                value.to_bytes(size, "big")
                for value, size in ((p.q, 20), (p.p, 128), (p.g, 128), (public.y, 128))
            )
        else:
            raise ValueError(f"not a legacy algorithm: {algorithm}")
        flags = ZONE_KEY | (SEP if ksk else 0)
        return cls(Name.make(zone), private, DNSKEY(flags, 3, algorithm, field))  # type: ignore[arg-type]

    def sign(self, data: bytes) -> bytes:
        private = self.private
        if isinstance(private, rsa.RSAPrivateKey):
            return private.sign(data, padding.PKCS1v15(), hashes.SHA1())
        assert isinstance(private, dsa.DSAPrivateKey)
        r, s = decode_dss_signature(private.sign(data, hashes.SHA1()))
        return bytes((8,)) + r.to_bytes(20, "big") + s.to_bytes(20, "big")

"""Signing zones inside tests: keys, DNSKEY and DS records, RRSIGs, NSEC and NSEC3 chains.

Theory of operation: a test makes a `SigningKey` for a zone (a fresh private key
from `cryptography` and the DNSKEY record that publishes it), hands the parent
the key's `ds()` record, and calls `sign_zone` on the zone's records: the result
is the same records plus the DNSKEY RRset, an RRSIG over every authoritative RRset,
and the NSEC chain or the NSEC3 chain (with NSEC3PARAM, and opt-out if asked),
ready for `Zone.from_records` and the fake network's servers. `sign_rrset` makes
one RRSIG with any validity period, which is how tests build expired and
not-yet-valid signatures; tampering is done on the records afterwards.
`SigningKey.from_seed` makes the same key from the same seed on every run (and
with Ed25519, the same signatures), for output that must not change, like the
sandbox's and the guide's.

Which RRsets are authoritative follows RFC 4035 section 2.2: everything at and
below the apex, except below a zone cut (glue) and the NS RRset at the cut,
which belongs to the child; the DS at the cut is the parent's and is signed. With
one key split into KSK and ZSK roles (`ksk=True` sets the SEP flag), keys with SEP
sign the DNSKEY RRset and the others sign everything else; a zone with one kind
of key signs everything with it.

This is a tool for tests, not a production signer: it keeps the whole zone in
memory, generates no key rollovers and knows nothing about serial numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .._dnssec.algorithms import Algorithm, DigestType, ds_digest
from .._dnssec.nsec3 import nsec3_hash
from .._dnssec.verify import signature_labels, signed_data
from .._wire.enums import RRClass, RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdtypes.dnskey import DNSKEY, SEP, ZONE_KEY
from .._wire.rdtypes.ds import DS
from .._wire.rdtypes.nsec import NSEC
from .._wire.rdtypes.nsec3 import NSEC3, NSEC3PARAM, OPT_OUT, base32hex_text
from .._wire.rdtypes.rrsig import RRSIG
from .._wire.rdtypes.soa import SOA
from .._wire.rrset import rrsets

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)

_HASHES: dict[int, hashes.HashAlgorithm] = {
    Algorithm.RSASHA256: hashes.SHA256(),
    Algorithm.RSASHA512: hashes.SHA512(),
    Algorithm.ECDSAP256SHA256: hashes.SHA256(),
    Algorithm.ECDSAP384SHA384: hashes.SHA384(),
}
_CURVES: dict[int, tuple[ec.EllipticCurve, int]] = {
    Algorithm.ECDSAP256SHA256: (ec.SECP256R1(), 32),
    Algorithm.ECDSAP384SHA384: (ec.SECP384R1(), 48),
}
_ORDERS: dict[int, int] = {
    Algorithm.ECDSAP256SHA256: int(
        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16
    ),
    Algorithm.ECDSAP384SHA384: int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}
DEFAULT_TTL = 3600


def _generate(algorithm: int, rsa_bits: int) -> PrivateKey:
    if algorithm in (Algorithm.RSASHA256, Algorithm.RSASHA512):
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm][0])
    if algorithm == Algorithm.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == Algorithm.ED448:
        return ed448.Ed448PrivateKey.generate()
    raise ValueError(f"cannot make keys of algorithm {algorithm}")


def _derive(algorithm: int, seed: bytes) -> PrivateKey:
    """The same private key every time for the same seed (not for RSA, whose key
    generation `cryptography` cannot be made to repeat)."""
    if algorithm == Algorithm.ED25519:
        return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
    if algorithm == Algorithm.ED448:
        return ed448.Ed448PrivateKey.from_private_bytes(hashlib.shake_256(seed).digest(57))
    if algorithm in _CURVES:
        curve, size = _CURVES[algorithm]
        # Reduced into 1..n-1, the range of private values (n: the curve's order, just
        # below 2**bits for both curves, so the bias is negligible).
        value = int.from_bytes(hashlib.shake_256(seed).digest(size + 8), "big")
        order = _ORDERS[algorithm]
        return ec.derive_private_key(1 + value % (order - 1), curve)
    raise ValueError(f"cannot derive keys of algorithm {algorithm} from a seed")


def _public_key_field(private: PrivateKey) -> bytes:
    """The DNSKEY public key field (RFC 3110, RFC 6605, RFC 8080)."""
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.public_key().public_numbers()
        exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        if len(exponent) < 256:
            return bytes((len(exponent),)) + exponent + modulus
        return b"\0" + len(exponent).to_bytes(2, "big") + exponent + modulus
    if isinstance(private, ec.EllipticCurvePrivateKey):
        size = (private.curve.key_size + 7) // 8
        point = private.public_key().public_numbers()
        return point.x.to_bytes(size, "big") + point.y.to_bytes(size, "big")
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@attrs.frozen
class SigningKey:
    """A zone's private key and the DNSKEY that publishes it:
    `SigningKey.generate("example.com", Algorithm.ED25519, ksk=True)`."""

    zone: Name
    private: PrivateKey = attrs.field(repr=False)
    dnskey: DNSKEY

    @classmethod
    def generate(
        cls,
        zone: Name | str,
        algorithm: int = Algorithm.ECDSAP256SHA256,
        *,
        ksk: bool = False,
        flags: int | None = None,
        rsa_bits: int = 2048,
    ) -> SigningKey:
        """A fresh key. `ksk` sets the SEP flag; `flags` overrides the flags."""
        return cls._make(zone, _generate(algorithm, rsa_bits), algorithm, ksk, flags)

    @classmethod
    def from_seed(
        cls,
        zone: Name | str,
        seed: bytes | str,
        algorithm: int = Algorithm.ED25519,
        *,
        ksk: bool = False,
        flags: int | None = None,
    ) -> SigningKey:
        """The key `seed` stands for: the same one on every run, so DS records,
        key tags and (with Ed25519 and Ed448, whose signatures are deterministic)
        signatures do not change. Only for zones whose keys may be public, like
        the sandbox's; ECDSA and EdDSA only."""
        if isinstance(seed, str):
            seed = seed.encode()
        return cls._make(zone, _derive(algorithm, seed), algorithm, ksk, flags)

    @classmethod
    def _make(
        cls, zone: Name | str, private: PrivateKey, algorithm: int, ksk: bool, flags: int | None
    ) -> SigningKey:
        if flags is None:
            flags = ZONE_KEY | (SEP if ksk else 0)
        dnskey = DNSKEY(flags, 3, algorithm, _public_key_field(private))
        return cls(Name.make(zone), private, dnskey)

    @property
    def algorithm(self) -> int:
        return self.dnskey.algorithm

    @property
    def key_tag(self) -> int:
        return self.dnskey.key_tag()

    @property
    def ksk(self) -> bool:
        return self.dnskey.sep

    def record(self, ttl: int = DEFAULT_TTL) -> Record:
        """The DNSKEY record."""
        return Record(self.zone, RRType.DNSKEY, RRClass.IN, ttl, self.dnskey)

    def ds(self, digest_type: int = DigestType.SHA256, ttl: int = DEFAULT_TTL) -> Record:
        """The DS record the parent zone publishes for this key."""
        return make_ds(self.record(ttl), digest_type)

    def sign(self, data: bytes) -> bytes:
        """The RRSIG signature field over `data`."""
        private = self.private
        if isinstance(private, rsa.RSAPrivateKey):
            return private.sign(data, padding.PKCS1v15(), _HASHES[self.algorithm])
        if isinstance(private, ec.EllipticCurvePrivateKey):
            size = _CURVES[self.algorithm][1]
            r, s = decode_dss_signature(private.sign(data, ec.ECDSA(_HASHES[self.algorithm])))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return private.sign(data)


def make_ds(dnskey: Record, digest_type: int = DigestType.SHA256) -> Record:
    """A DS record for a DNSKEY record, with the DNSKEY record's owner and TTL."""
    rdata = dnskey.rdata
    if not isinstance(rdata, DNSKEY):
        raise TypeError("make_ds needs a DNSKEY record")
    digest = ds_digest(dnskey.name, rdata, digest_type)
    if digest is None:
        raise ValueError(f"unsupported digest type {digest_type}")
    ds = DS(rdata.key_tag(), rdata.algorithm, digest_type, digest)
    return Record(dnskey.name, RRType.DS, dnskey.rclass, dnskey.ttl, ds)


def sign_rrset(
    rrset: Sequence[Record],
    key: SigningKey,
    *,
    inception: int,
    expiration: int,
    original_ttl: int | None = None,
    labels: int | None = None,
) -> Record:
    """An RRSIG record over `rrset` by `key`, valid from `inception` to
    `expiration` (seconds since 1970; taken modulo 2**32)."""
    first = rrset[0]
    ttl = first.ttl if original_ttl is None else original_ttl
    unsigned = RRSIG(
        first.rtype,
        key.algorithm,
        signature_labels(first.name) if labels is None else labels,
        ttl,
        expiration & 0xFFFFFFFF,
        inception & 0xFFFFFFFF,
        key.key_tag,
        key.zone,
        b"",
    )
    signature = key.sign(signed_data(unsigned, rrset))
    rrsig = attrs.evolve(unsigned, signature=signature)
    return Record(first.name, RRType.RRSIG, first.rclass, first.ttl, rrsig)


@attrs.frozen
class NSEC3Parameters:
    """How `sign_zone` hashes names: RFC 9276 recommends no salt and no extra
    iterations, so those are the defaults."""

    iterations: int = 0
    salt: bytes = b""
    opt_out: bool = False


def sign_zone(
    records: Iterable[Record],
    keys: Sequence[SigningKey],
    *,
    inception: int,
    expiration: int,
    denial: Literal["nsec", "nsec3"] = "nsec",
    nsec3: NSEC3Parameters | None = None,
) -> list[Record]:
    """The zone's records with its DNSKEYs, RRSIGs and denial chain added.

    The apex is the owner of the SOA record; `keys` must all belong to it. Old
    DNSSEC records (RRSIG, NSEC, NSEC3, NSEC3PARAM) in `records` are dropped.
    """
    dropped = (RRType.RRSIG, RRType.NSEC, RRType.NSEC3, RRType.NSEC3PARAM)
    records = [r for r in records if r.rtype not in dropped]
    soas = [r for r in records if r.rtype == RRType.SOA]
    if len(soas) != 1:
        raise ValueError("sign_zone needs exactly one SOA record")
    apex = soas[0].name
    soa = soas[0].rdata
    assert isinstance(soa, SOA)
    if not keys or any(key.zone != apex for key in keys):
        raise ValueError(f"sign_zone needs keys of {apex}")
    negative_ttl = min(soas[0].ttl, soa.minimum)  # RFC 9077 section 3.
    published = [r.rdata for r in records if r.rtype == RRType.DNSKEY]
    records += [key.record(soas[0].ttl) for key in keys if key.dnskey not in published]
    if denial == "nsec3":
        nsec3 = nsec3 or NSEC3Parameters()
        records.append(
            Record(
                apex,
                RRType.NSEC3PARAM,
                RRClass.IN,
                0,
                NSEC3PARAM(1, 0, nsec3.iterations, nsec3.salt),
            )
        )

    # A record given twice is one record of its RRset (RFC 2181 section 5).
    unique: dict[tuple[Name, RRType, RRClass, object], Record] = {}
    for record in records:
        unique.setdefault((record.name, record.rtype, record.rclass, record.rdata), record)
    by_key = rrsets(unique.values())
    cuts = {name for (name, rtype, _) in by_key if rtype == RRType.NS and name != apex}

    def occluded(name: Name) -> bool:
        return any(name != cut and name.is_subdomain(cut) for cut in cuts)

    # Owner names in the chain: authoritative names and the delegation points.
    owners: dict[Name, set[RRType]] = {}
    for name, rtype, _ in by_key:
        if not name.is_subdomain(apex):
            raise ValueError(f"{name} is outside {apex}")
        if not occluded(name):
            owners.setdefault(name, set()).add(rtype)

    zsks = [key for key in keys if not key.ksk] or list(keys)
    ksks = [key for key in keys if key.ksk] or list(keys)

    def signatures(rrset: Sequence[Record]) -> list[Record]:
        signers = ksks if rrset[0].rtype == RRType.DNSKEY else zsks
        return [
            sign_rrset(rrset, key, inception=inception, expiration=expiration) for key in signers
        ]

    def signed(name: Name, rtype: RRType) -> bool:
        if occluded(name):
            return False
        return name not in cuts or rtype in (RRType.DS, RRType.NSEC)

    out = list(records)
    for (name, rtype, _), rrset in by_key.items():
        if signed(name, rtype):
            out += signatures(rrset)

    chain: list[Record] = []
    if denial == "nsec":
        ordered = sorted(owners)
        for index, name in enumerate(ordered):
            following = ordered[(index + 1) % len(ordered)]
            types = owners[name] | {RRType.NSEC, RRType.RRSIG}
            chain.append(
                Record(name, RRType.NSEC, RRClass.IN, negative_ttl, NSEC(following, types))
            )
    else:
        assert nsec3 is not None
        chain = _nsec3_chain(apex, owners, cuts, nsec3, negative_ttl)
    for record in chain:
        out.append(record)
        out += signatures([record])
    return out


def _nsec3_chain(
    apex: Name,
    owners: dict[Name, set[RRType]],
    cuts: set[Name],
    parameters: NSEC3Parameters,
    ttl: int,
) -> list[Record]:
    names: dict[Name, set[RRType]] = {}
    for name, types in owners.items():
        if parameters.opt_out and name in cuts and RRType.DS not in types:
            continue  # an unsigned delegation: left out of the chain (RFC 5155 section 7.1)
        bitmap = set(types)
        if name not in cuts or RRType.DS in types:
            bitmap.add(RRType.RRSIG)
        names[name] = bitmap
        # Empty non-terminals between the name and the apex get records too (section 7.1).
        parent = name
        while parent != apex:
            parent = parent.parent()
            names.setdefault(parent, set())
    hashed = sorted(
        (
            (nsec3_hash(name, parameters.salt, parameters.iterations), types)
            for name, types in names.items()
        ),
        key=lambda item: item[0],
    )
    flags = OPT_OUT if parameters.opt_out else 0
    chain = []
    for index, (digest, types) in enumerate(hashed):
        following = hashed[(index + 1) % len(hashed)][0]
        owner = apex.child(base32hex_text(digest).encode("ascii"))
        rdata = NSEC3(1, flags, parameters.iterations, parameters.salt, following, types)
        chain.append(Record(owner, RRType.NSEC3, RRClass.IN, ttl, rdata))
    return chain

"""Checking RRSIGs over RRsets, and DNSKEY RRsets against DS records (RFC 4035 5.2-5.3).

Theory of operation: `verify_rrset` is handed an RRset, the RRSIGs that came with
it and the DNSKEYs the caller already trusts for the zone, and tries each RRSIG
that covers the RRset in turn: one that passes every check of RFC 4035 section
5.3.1 and verifies (5.3.3) makes the RRset secure. The checks are cheap ones
first (names, label count, validity period, a key with the right tag, algorithm
and zone-key bit), then the signature itself over the RRSIG's own fields followed
by the RRset in canonical form and order (RFC 4034 sections 3.1.8.1, 6.2, 6.3).
When nothing verifies, the result says why for the RRSIG that got furthest, as an
Extended DNS Error (RFC 8914) the server can put in its SERVFAIL; when every RRSIG
is of an algorithm not supported here the result is UNSUPPORTED, which RFC 6840
section 5.2 asks callers to treat as insecure rather than bogus.

`verify_dnskeys` is the step down a chain of trust: the DNSKEY RRset of a zone is
trusted when a key that a trusted DS (or a configured trust anchor) points at has
signed it.

Times are 32-bit and compared with serial number arithmetic (RFC 4034 section
3.1.5, RFC 1982), so `now` is seconds since 1970 and may be any size. Pure: no
clock is read here.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Sequence

import attrs

from .._trust import Validation
from .._wire.enums import EdeCode, RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdtypes.dnskey import DNSKEY
from .._wire.rdtypes.ds import DS
from .._wire.rdtypes.rrsig import RRSIG
from .._wire.rrset import covering
from .algorithms import (
    DigestType,
    algorithm_supported,
    digest_supported,
    ds_digest,
    verify_signature,
)

_RR_FIXED = struct.Struct("!HHIH")
_SERIAL_HALF = 1 << 31
_SERIAL_MASK = (1 << 32) - 1
DNSSEC_PROTOCOL = 3  # RFC 4034 section 2.1.2


class VerifyStatus(enum.Enum):
    SECURE = "secure"
    BOGUS = "bogus"
    # Nothing could be checked: every signature (or DS) is of an algorithm or
    # digest type not supported here. Insecure, not bogus (RFC 6840 section 5.2).
    UNSUPPORTED = "unsupported"

    @property
    def validation(self) -> Validation:
        """The cache's word for this outcome."""
        return _VALIDATION[self]


_VALIDATION = {
    VerifyStatus.SECURE: Validation.SECURE,
    VerifyStatus.BOGUS: Validation.BOGUS,
    VerifyStatus.UNSUPPORTED: Validation.INSECURE,
}


@attrs.frozen
class VerifyResult:
    """The outcome of `verify_rrset`."""

    status: VerifyStatus
    reason: str
    # What to say in an Extended DNS Error; None when secure.
    ede: EdeCode | None = None
    # The RRSIG record that verified, and the DNSKEY record that verified it.
    rrsig: Record | None = None
    key: Record | None = None
    # For an RRset synthesised from a wildcard (RRSIG labels below the owner's
    # label count, RFC 4035 section 5.3.4): the wildcard name that was signed. The
    # caller must then prove that the queried name does not exist.
    wildcard: Name | None = None
    # How long the RRset may be cached as secure (RFC 4035 section 5.3.3).
    ttl: int | None = None

    @property
    def secure(self) -> bool:
        return self.status is VerifyStatus.SECURE


# -- serial number arithmetic -------------------------------------------------------


def serial_lt(a: int, b: int) -> bool:
    """Is 32-bit serial `a` before `b` (RFC 1982 section 3.2)?"""
    a &= _SERIAL_MASK
    b &= _SERIAL_MASK
    return (a < b and b - a < _SERIAL_HALF) or (a > b and a - b > _SERIAL_HALF)


def serial_le(a: int, b: int) -> bool:
    return (a & _SERIAL_MASK) == (b & _SERIAL_MASK) or serial_lt(a, b)


def seconds_left(expiration: int, now: int) -> int:
    """Seconds from `now` until a signature's expiration, by serial arithmetic (0 if past)."""
    diff = (expiration - now) & _SERIAL_MASK
    return 0 if diff >= _SERIAL_HALF else diff


def capped_ttl(records: Iterable[Record], rrsig: Record, now: int) -> int:
    """The TTL a validated RRset keeps: no more than its own TTL, the RRSIG's TTL,
    the original TTL it was signed with and the time the signature has left
    (RFC 4035 section 5.3.3)."""
    assert isinstance(rrsig.rdata, RRSIG)
    ttls = [record.ttl for record in records]
    return min(
        *ttls, rrsig.ttl, rrsig.rdata.original_ttl, seconds_left(rrsig.rdata.expiration, now)
    )


# -- what is signed -----------------------------------------------------------------


def signature_labels(name: Name) -> int:
    """The label count an RRSIG gives for `name`: the root and a leading `*` do not
    count (RFC 4034 section 3.1.3)."""
    return len(name) - 1 if name.is_wild() else len(name)


def signed_data(rrsig: RRSIG, records: Sequence[Record], owner: Name | None = None) -> bytes:
    """The octets an RRSIG signs (RFC 4034 section 3.1.8.1): its rdata without the
    signature, then each record of the RRset in canonical form and order, with the
    original TTL. `owner` replaces the records' owner: the wildcard name, when the
    RRset was synthesised from one."""
    unsigned = attrs.evolve(rrsig, signature=b"")
    head = (owner or records[0].name).canonical_wire()
    first = records[0]
    # Canonical order is by canonical rdata as unsigned octet strings; duplicate
    # records are signed once (RFC 4034 section 6.3).
    rdatas = sorted({record.rdata.to_canonical_wire() for record in records})
    parts = [unsigned.to_canonical_wire()]
    for rdata in rdatas:
        parts.append(head)
        parts.append(_RR_FIXED.pack(first.rtype, first.rclass, rrsig.original_ttl, len(rdata)))
        parts.append(rdata)
    return b"".join(parts)


# -- verifying one RRset ------------------------------------------------------------


class _Stage(enum.IntEnum):
    # How far an RRSIG got before it failed: the furthest one explains the failure.
    ALGORITHM = 0
    NAMES = 1
    TIME = 2
    KEY = 3
    SIGNATURE = 4


@attrs.frozen
class _Failure:
    stage: _Stage
    ede: EdeCode
    reason: str


def _check_rrset(rrset: Sequence[Record]) -> None:
    if not rrset:
        raise ValueError("cannot verify an empty RRset")
    first = rrset[0]
    for record in rrset:
        if (
            record.name != first.name
            or record.rtype != first.rtype
            or record.rclass != first.rclass
        ):
            raise ValueError("records of more than one RRset given to verify_rrset")
    if first.rtype == RRType.RRSIG:
        raise ValueError("RRSIG RRsets are not signed")


def usable_key(record: Record) -> bool:
    """May this DNSKEY record verify zone data (RFC 4034 section 2.1, RFC 5011)?"""
    rdata = record.rdata
    return (
        isinstance(rdata, DNSKEY)
        and rdata.zone_key
        and not rdata.revoked
        and rdata.protocol == DNSSEC_PROTOCOL
    )


def _try_rrsig(
    rrset: Sequence[Record], sig_record: Record, dnskeys: Sequence[Record], now: int
) -> tuple[Record, Name | None] | _Failure:
    """The DNSKEY that verifies the RRSIG (and the wildcard owner, if one was
    signed), or why the RRSIG fails."""
    rrsig = sig_record.rdata
    assert isinstance(rrsig, RRSIG)
    owner = rrset[0].name
    if not algorithm_supported(rrsig.algorithm):
        return _Failure(
            _Stage.ALGORITHM,
            EdeCode.UNSUPPORTED_DNSKEY_ALGORITHM,
            f"RRSIG algorithm {rrsig.algorithm} is not supported",
        )
    # The signer is the zone holding the RRset: the owner is at or below it.
    if not owner.is_subdomain(rrsig.signer):
        return _Failure(
            _Stage.NAMES, EdeCode.DNSSEC_BOGUS, f"signer {rrsig.signer} is not above {owner}"
        )
    owner_labels = signature_labels(owner)
    if rrsig.labels > owner_labels:
        return _Failure(
            _Stage.NAMES,
            EdeCode.DNSSEC_BOGUS,
            f"RRSIG labels {rrsig.labels} exceed the {owner_labels} labels of {owner}",
        )
    wildcard = None
    if rrsig.labels < owner_labels:
        if rrsig.labels < len(rrsig.signer):
            return _Failure(
                _Stage.NAMES,
                EdeCode.DNSSEC_BOGUS,
                f"RRSIG labels put a wildcard above {rrsig.signer}",
            )
        wildcard = owner.ancestor(rrsig.labels).child(b"*")
    if serial_lt(rrsig.expiration, rrsig.inception):
        return _Failure(
            _Stage.TIME,
            EdeCode.SIGNATURE_EXPIRED_BEFORE_VALID,
            "RRSIG expires before its inception",
        )
    if serial_lt(now, rrsig.inception):
        return _Failure(
            _Stage.TIME, EdeCode.SIGNATURE_NOT_YET_VALID, f"RRSIG over {owner} is not yet valid"
        )
    if serial_lt(rrsig.expiration, now):
        return _Failure(_Stage.TIME, EdeCode.SIGNATURE_EXPIRED, f"RRSIG over {owner} has expired")
    candidates = [
        key
        for key in dnskeys
        if isinstance(key.rdata, DNSKEY)
        and key.name == rrsig.signer
        and key.rdata.algorithm == rrsig.algorithm
        and key.rdata.key_tag() == rrsig.key_tag
    ]
    usable = [key for key in candidates if usable_key(key)]
    if not usable:
        if candidates:
            return _Failure(
                _Stage.KEY,
                EdeCode.NO_ZONE_KEY_BIT_SET,
                f"DNSKEY {rrsig.key_tag} of {rrsig.signer} is not a usable zone key",
            )
        return _Failure(
            _Stage.KEY,
            EdeCode.DNSKEY_MISSING,
            f"no trusted DNSKEY {rrsig.key_tag}/{rrsig.algorithm} of {rrsig.signer}",
        )
    data = signed_data(rrsig, rrset, wildcard)
    for key in usable:
        assert isinstance(key.rdata, DNSKEY)
        if verify_signature(rrsig.algorithm, key.rdata.key, data, rrsig.signature):
            return key, wildcard
    return _Failure(
        _Stage.SIGNATURE,
        EdeCode.DNSSEC_BOGUS,
        f"RRSIG over {owner} {rrset[0].rtype.name} by key {rrsig.key_tag} does not verify",
    )


def verify_rrset(
    rrset: Sequence[Record], rrsigs: Sequence[Record], dnskeys: Sequence[Record], now: int
) -> VerifyResult:
    """Is `rrset` signed by one of `dnskeys` (the zone's trusted DNSKEY records)?

    `rrsigs` may hold any RRSIG records: those covering other RRsets are ignored.
    `now` is the time in seconds since 1970.
    """
    _check_rrset(rrset)
    signatures = covering(rrset, rrsigs)
    if not signatures:
        return VerifyResult(
            VerifyStatus.BOGUS,
            f"no RRSIG over {rrset[0].name} {rrset[0].rtype.name}",
            EdeCode.RRSIGS_MISSING,
        )
    worst: _Failure | None = None
    for sig_record in signatures:
        outcome = _try_rrsig(rrset, sig_record, dnskeys, now)
        if isinstance(outcome, _Failure):
            if worst is None or outcome.stage > worst.stage:
                worst = outcome
            continue
        key, wildcard = outcome
        return VerifyResult(
            VerifyStatus.SECURE,
            "verified",
            rrsig=sig_record,
            key=key,
            wildcard=wildcard,
            ttl=capped_ttl(rrset, sig_record, now),
        )
    assert worst is not None
    status = VerifyStatus.UNSUPPORTED if worst.stage is _Stage.ALGORITHM else VerifyStatus.BOGUS
    return VerifyResult(status, worst.reason, worst.ede)


# -- the step from DS to DNSKEY -----------------------------------------------------


@attrs.frozen
class KeysResult:
    """The outcome of `verify_dnskeys`."""

    status: VerifyStatus
    reason: str
    ede: EdeCode | None = None
    # The whole DNSKEY RRset when secure: every key in it may now sign zone data.
    keys: tuple[Record, ...] = ()
    ttl: int | None = None

    @property
    def secure(self) -> bool:
        return self.status is VerifyStatus.SECURE


def usable_ds(ds_set: Iterable[Record]) -> list[Record]:
    """The DS records a validator can use: supported algorithm and digest type.

    When a DS with a stronger digest is present, SHA-1 ones are ignored (RFC 4509
    section 3), so a forged SHA-1 match cannot stand in for the real key.
    """
    usable = [
        r
        for r in ds_set
        if isinstance(r.rdata, DS)
        and algorithm_supported(r.rdata.algorithm)
        and digest_supported(r.rdata.digest_type)
    ]
    if any(isinstance(r.rdata, DS) and r.rdata.digest_type != DigestType.SHA1 for r in usable):
        usable = [
            r for r in usable if isinstance(r.rdata, DS) and r.rdata.digest_type != DigestType.SHA1
        ]
    return usable


def ds_matches(ds: Record, dnskey: Record) -> bool:
    """Does the DS record point at this DNSKEY record (RFC 4035 section 5.2)?"""
    if not isinstance(ds.rdata, DS) or not isinstance(dnskey.rdata, DNSKEY):
        return False
    if ds.name != dnskey.name:
        return False
    if ds.rdata.algorithm != dnskey.rdata.algorithm or ds.rdata.key_tag != dnskey.rdata.key_tag():
        return False
    return ds_digest(dnskey.name, dnskey.rdata, ds.rdata.digest_type) == ds.rdata.digest


def keys_matching_anchors(dnskeys: Iterable[Record], anchors: Sequence[Record]) -> list[Record]:
    """The usable zone keys among `dnskeys` that one of `anchors` (DS records, or
    DNSKEY records configured as trust anchors) points at. They are trusted only
    once one of them has signed the DNSKEY RRset: `verify_dnskeys` checks both."""
    return [
        key
        for key in dnskeys
        if usable_key(key)
        and any(
            ds_matches(anchor, key)
            if anchor.rtype == RRType.DS
            else anchor.name == key.name and anchor.rdata == key.rdata
            for anchor in anchors
        )
    ]


def verify_dnskeys(
    dnskeys: Sequence[Record],
    rrsigs: Sequence[Record],
    anchors: Sequence[Record],
    now: int,
) -> KeysResult:
    """Trust a zone's DNSKEY RRset through `anchors`: the zone's validated DS
    records, or trust-anchor DS or DNSKEY records.

    Secure when a DNSKEY that an anchor points at signed the RRset; UNSUPPORTED
    when no anchor has an algorithm and digest type supported here (the zone is
    then insecure, RFC 6840 section 5.2); else bogus.
    """
    if not dnskeys:
        return KeysResult(VerifyStatus.BOGUS, "no DNSKEY records", EdeCode.DNSKEY_MISSING)
    ds_anchors = usable_ds(r for r in anchors if r.rtype == RRType.DS)
    key_anchors = [
        r
        for r in anchors
        if isinstance(r.rdata, DNSKEY) and usable_key(r) and algorithm_supported(r.rdata.algorithm)
    ]
    if not ds_anchors and not key_anchors:
        return KeysResult(
            VerifyStatus.UNSUPPORTED,
            "no DS of a supported algorithm and digest type",
            EdeCode.UNSUPPORTED_DS_DIGEST_TYPE
            if any(
                isinstance(r.rdata, DS) and algorithm_supported(r.rdata.algorithm) for r in anchors
            )
            else EdeCode.UNSUPPORTED_DNSKEY_ALGORITHM,
        )
    trusted = keys_matching_anchors(dnskeys, [*ds_anchors, *key_anchors])
    if not trusted:
        return KeysResult(
            VerifyStatus.BOGUS,
            f"no DNSKEY of {dnskeys[0].name} matches its DS records",
            EdeCode.DNSKEY_MISSING,
        )
    result = verify_rrset(dnskeys, rrsigs, trusted, now)
    if not result.secure:
        # A key we cannot use signing the DNSKEYs is still a broken chain here:
        # the anchor said a supported key would.
        return KeysResult(VerifyStatus.BOGUS, result.reason, result.ede or EdeCode.DNSSEC_BOGUS)
    return KeysResult(VerifyStatus.SECURE, "verified", keys=tuple(dnskeys), ttl=result.ttl)

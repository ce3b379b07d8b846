"""The sandbox's DNSSEC: which of its zones are signed, with which keys, and how.

Theory of operation: the root, the TLD `example.` and `secure.example.` form a
signed chain, so a validating resolver given the root's DS (`trust_anchor()`)
answers `www.secure.example` with AD set. Around it, the other outcomes:
`bogus.example.` is signed and delegated with a DS like `secure.example.`, but
its `www` A record was changed after signing, as a forger would, so a validator
must refuse it (SERVFAIL); `unsigned.example.` is delegated from the signed TLD
without a DS, and every other TLD from the signed root without one, so they are
provably insecure: answered, never with AD. The root and `secure.example.` deny
with NSEC, `example.` with NSEC3 (no salt, no extra iterations: RFC 9276).

Keys come from fixed seeds (`SigningKey.from_seed`): one Ed25519 key per zone,
with the SEP flag, which signs everything. Ed25519 signatures are deterministic,
so the DS records, the trust anchor and every RRSIG are the same on every run,
in memory and on loopback: a guide's transcript stays true. The private keys are
public by construction, which is fine for a sandbox and nowhere else.

The signatures are valid from 2024-01-01 to 2056-01-01: RRSIG times are compared
by serial arithmetic (RFC 4034 section 3.1.5), which allows at most 68 years.

`sign(origin, records)` may be called again on its own output: the loopback
sandbox does so after moving the servers' addresses, because in a signed zone a
nameserver's own address (`ns1.nic.example A`) is signed data, and so is the NSEC
chain that a delegation added to a signed zone changes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

from .._dnssec.algorithms import Algorithm
from .._wire.enums import RRType
from .._wire.message import Record
from .._wire.name import ROOT, Name
from .._wire.rdtypes.address import A
from ._signing import SigningKey, sign_zone

INCEPTION = 1_704_067_200  # 2024-01-01T00:00:00Z
EXPIRATION = 2_713_910_400  # 2056-01-01T00:00:00Z
ANCHOR_TTL = 172800


@attrs.frozen
class _Plan:
    denial: Literal["nsec", "nsec3"]
    # (owner, address signed): an A record whose signature was made over
    # another address than the one served.
    forged: tuple[Name, str] | None = None


SIGNED: Mapping[Name, _Plan] = {
    ROOT: _Plan("nsec"),
    Name.from_text("example."): _Plan("nsec3"),
    Name.from_text("secure.example."): _Plan("nsec"),
    Name.from_text("bogus.example."): _Plan(
        "nsec", forged=(Name.from_text("www.bogus.example."), "198.51.100.87")
    ),
}


@functools.cache
def key(origin: Name) -> SigningKey:
    """The sandbox's key for the signed zone `origin`."""
    return SigningKey.from_seed(origin, f"trio-dns sandbox {origin}", Algorithm.ED25519, ksk=True)


def trust_anchor() -> tuple[Record, ...]:
    """The DS record of the sandbox root's key, for a validator to start from."""
    return (key(ROOT).ds(ttl=ANCHOR_TTL),)


def sign(origin: Name, records: Iterable[Record]) -> list[Record]:
    """The zone at `origin` as the sandbox serves it: signed, with the DS records
    of its signed children, if it is one of `SIGNED`; else `records` as they are."""
    plan = SIGNED.get(origin)
    if plan is None:
        return list(records)
    # The old signatures and chain go (sign_zone would drop them too, but after
    # this function has counted positions).
    old = (RRType.RRSIG, RRType.NSEC, RRType.NSEC3, RRType.NSEC3PARAM)
    records = [r for r in records if r.rtype not in old]
    cuts = {r.name for r in records if r.rtype == RRType.NS and r.name != origin}
    ds = [key(child).ds() for child in SIGNED if child in cuts]
    served: dict[int, Record] = {}
    if plan.forged is not None:
        owner, address = plan.forged
        for index, record in enumerate(records):
            if record.name == owner and record.rtype == RRType.A:
                served[index] = record
                records[index] = attrs.evolve(record, rdata=A(address))
    signed = sign_zone(
        [*records, *ds],
        [key(origin)],
        inception=INCEPTION,
        expiration=EXPIRATION,
        denial=plan.denial,
    )
    # sign_zone keeps the records it was given first, in order: the forger's
    # change goes back over the ones signed in their place.
    for index, record in served.items():
        signed[index] = record
    return signed

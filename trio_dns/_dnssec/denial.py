"""What a denial-of-existence proof concludes (shared by the NSEC and NSEC3 checks).

A proof is PROVEN (the name or type is securely absent), NOT_PROVEN (the records
given do not show it: the answer is bogus) or INSECURE: the records say the answer
cannot be secure, because an opt-out span may hide an unsigned delegation (RFC
5155 section 6) or the NSEC3 iterations are above the limit a validator will
spend on them (RFC 9276 section 3.2). Functions that prove things take records
the caller has already verified with `verify_rrset`.
"""

from __future__ import annotations

import enum

import attrs

from .._trust import Validation
from .._wire.enums import EdeCode, RRType
from .._wire.name import Name
from .._wire.rdtypes.nsec import NSEC
from .._wire.rdtypes.nsec3 import NSEC3


class ProofStatus(enum.Enum):
    PROVEN = "proven"
    NOT_PROVEN = "not proven"
    INSECURE = "insecure"

    @property
    def validation(self) -> Validation:
        """The cache's word for an answer that rests on this proof."""
        return _VALIDATION[self]


_VALIDATION = {
    ProofStatus.PROVEN: Validation.SECURE,
    ProofStatus.NOT_PROVEN: Validation.BOGUS,
    ProofStatus.INSECURE: Validation.INSECURE,
}


@attrs.frozen
class DenialResult:
    status: ProofStatus
    reason: str
    # For NOT_PROVEN, and for INSECURE when there is a code for it.
    ede: EdeCode | None = None
    # The closest encloser the proof established, when it established one.
    closest_encloser: Name | None = None
    # The proof rests on an NSEC3 record with the opt-out flag.
    opt_out: bool = False

    @property
    def proven(self) -> bool:
        return self.status is ProofStatus.PROVEN


def proven(reason: str, closest_encloser: Name | None = None) -> DenialResult:
    return DenialResult(ProofStatus.PROVEN, reason, closest_encloser=closest_encloser)


def not_proven(reason: str, ede: EdeCode = EdeCode.NSEC_MISSING) -> DenialResult:
    return DenialResult(ProofStatus.NOT_PROVEN, reason, ede)


def insecure(
    reason: str,
    ede: EdeCode | None = None,
    *,
    closest_encloser: Name | None = None,
    opt_out: bool = False,
) -> DenialResult:
    return DenialResult(ProofStatus.INSECURE, reason, ede, closest_encloser, opt_out)


def common_ancestor(a: Name, b: Name) -> Name:
    """The deepest name that both `a` and `b` are at or below."""
    depth = 0
    for left, right in zip(reversed(a.labels), reversed(b.labels), strict=False):
        if left.lower() != right.lower():
            break
        depth += 1
    return a.ancestor(depth)


def bitmap_gap(rdata: NSEC | NSEC3, qtype: RRType) -> str | None:
    """Why this NSEC or NSEC3 record's type bitmap does not deny `qtype` at its
    name, or None if it does (RFC 4035 section 5.4, RFC 5155 section 8.5)."""
    kind = rdata.rtype.name
    if rdata.has_type(qtype):
        return f"{kind} shows {qtype.name} exists"
    if qtype != RRType.CNAME and rdata.has_type(RRType.CNAME):
        return f"{kind} shows a CNAME exists"
    if qtype == RRType.DS:
        if rdata.has_type(RRType.SOA):
            return f"the child zone's apex {kind} cannot deny DS"
    elif rdata.has_type(RRType.NS) and not rdata.has_type(RRType.SOA):
        return f"a parent-side {kind} at a zone cut cannot deny child data"
    return None

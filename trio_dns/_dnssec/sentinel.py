"""The root key trust anchor sentinel (RFC 8509): which root keys does this resolver trust?

Theory of operation: a client (or a web page, through its clients' resolvers)
asks for an A or AAAA record at a name whose first label is
`root-key-sentinel-is-ta-<key tag>` or `root-key-sentinel-not-ta-<key tag>`, the
key tag in five decimal digits. The zone answers such names like any other, so
a validating resolver that does not know the mechanism returns the data; one
that does turns a SECURE answer into SERVFAIL when the label's claim is false:
"is-ta" a key tag that is not among its root trust anchors, "not-ta" one that
is (section 3.2). Comparing the answers to both labels and to a name that is
signed wrongly tells the client which root keys its resolvers trust, which is
what a root key rollover needs to know. Only the root's anchors count, and only
active ones (a revoked DNSKEY anchor is not trusted); anchors for other zones
are ignored. Other types, denials, unvalidated or insecure answers, and bogus
ones (which are SERVFAIL anyway) are never touched.

Pure: the caller has validated the answer and passes its verdict.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._trust import Validation
from .._wire.enums import RRType
from .._wire.message import Record
from .._wire.name import Name
from .._wire.rdtypes.dnskey import DNSKEY
from .._wire.rdtypes.ds import DS

IS_TA = b"root-key-sentinel-is-ta-"
NOT_TA = b"root-key-sentinel-not-ta-"
_TAG_DIGITS = 5  # RFC 8509 section 2: zero-padded decimal, 00000 to 65535
_TYPES = frozenset((RRType.A, RRType.AAAA))


def sentinel_label(qname: Name) -> tuple[bool, int] | None:
    """(True for is-ta / False for not-ta, key tag) if the first label of `qname`
    is a sentinel label, else None."""
    if not qname.labels:
        return None
    label = qname.labels[0].lower()
    for prefix, is_ta in ((IS_TA, True), (NOT_TA, False)):
        if label.startswith(prefix):
            digits = label[len(prefix) :]
            if len(digits) == _TAG_DIGITS and digits.isdigit() and int(digits) <= 0xFFFF:
                return is_ta, int(digits)
    return None


def root_key_tags(anchors: Iterable[Record]) -> frozenset[int]:
    """The key tags of the active root trust anchors, whether DS or DNSKEY."""
    tags = set()
    for anchor in anchors:
        if not anchor.name.is_root():
            continue
        if isinstance(anchor.rdata, DS):
            tags.add(anchor.rdata.key_tag)
        elif isinstance(anchor.rdata, DNSKEY) and not anchor.rdata.revoked:
            tags.add(anchor.rdata.key_tag())
    return frozenset(tags)


def sentinel_refusal(
    qname: Name,
    qtype: RRType,
    validation: Validation,
    anchors: Iterable[Record],
    *,
    has_data: bool = True,
) -> str | None:
    """Why this answer (`has_data`: it holds the A or AAAA RRset, not a denial)
    must become SERVFAIL under RFC 8509, or None to leave it."""
    if validation is not Validation.SECURE or qtype not in _TYPES or not has_data:
        return None
    found = sentinel_label(qname)
    if found is None:
        return None
    is_ta, tag = found
    trusted = tag in root_key_tags(anchors)
    if is_ta and not trusted:
        return f"root key sentinel: key {tag:05d} is not a root trust anchor here"
    if not is_ta and trusted:
        return f"root key sentinel: key {tag:05d} is a root trust anchor here"
    return None

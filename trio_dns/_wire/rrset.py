"""Records grouped into RRsets, and the signatures over one.

A message carries records one by one; DNS reasons about RRsets: every record
of one owner, class and type (RFC 2181 section 5). Caching, ranking and
signature checks all start by grouping, and DNSSEC pairs each RRset with the
RRSIG records that cover it. Both are written once, here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .enums import RRClass, RRType
from .message import Record
from .name import Name
from .rdtypes.rrsig import RRSIG

RRsetKey = tuple[Name, RRType, RRClass]


def rrsets(records: Iterable[Record], *, signatures: bool = True) -> dict[RRsetKey, list[Record]]:
    """`records` grouped by owner, type and class, in order of first appearance.

    With `signatures=False` the RRSIG records are left out: they are not an
    RRset of their own to anyone but a zone transfer.
    """
    sets: dict[RRsetKey, list[Record]] = {}
    for record in records:
        if signatures or record.rtype != RRType.RRSIG:
            sets.setdefault((record.name, record.rtype, record.rclass), []).append(record)
    return sets


def covering(rrset: Sequence[Record], rrsigs: Iterable[Record]) -> tuple[Record, ...]:
    """The RRSIG records among `rrsigs` that claim to cover `rrset`: same owner
    and class, and the RRset's type as the type covered (RFC 4034 section 3.1.1)."""
    if not rrset:
        return ()
    first = rrset[0]
    return tuple(
        r
        for r in rrsigs
        if isinstance(r.rdata, RRSIG)
        and r.rdata.type_covered == first.rtype
        and r.name == first.name
        and r.rclass == first.rclass
    )

"""What an authoritative server's reply means for iterative resolution.

Theory of operation: the resolver asks a server of `zone` about (qname, qtype) and
hands the reply to `classify_reply`, which decides, without any I/O, what kind of
reply it is and which of its records may be believed:

- only records inside the bailiwick of `zone` are considered at all, so a server
  for `example.com` cannot plant data for `bank.test` (compared label by label);
- the answer section is read as a chain from qname through in-zone CNAMEs (and
  DNAMEs, from which the CNAME is synthesised here rather than trusted) to the
  data; a chain that leaves the zone ends the reply's usefulness there;
- a referral is an NS set in the authority section strictly below `zone` and above
  the name, without AA; its glue is only A/AAAA records for its NS names that lie
  inside `zone`;
- NXDOMAIN and NODATA carry the zone's SOA for negative caching (RFC 2308);
- REFUSED, a non-authoritative answer, or a referral sideways or upwards means the
  server is lame for this zone; SERVFAIL and friends are server errors.

The result lists the RRsets worth caching with their RFC 2181 trust rank. For
DNSSEC it also keeps, from inside the bailiwick, the RRSIGs of the reply (the
caller attaches to each RRset the ones covering it), the DS set of a referral,
and the NSEC/NSEC3 records that prove a denial, a wildcard answer or an
unsigned delegation, with their RRSIGs and the SOA's (`proof`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

import attrs

from ._cache import Rank
from ._wire.enums import Flag, Rcode, RRType
from ._wire.message import Message, Record
from ._wire.name import Name
from ._wire.rdtypes.rrsig import RRSIG
from ._wire.rdtypes.single_name import CNAME, DNAME, NS

MAX_CHAIN_IN_REPLY = 16


class Outcome(enum.Enum):
    ANSWER = "answer"  # data for the name (maybe after an in-zone chain)
    CNAME = "cname"  # the chain leaves the zone: resolution restarts at `target`
    REFERRAL = "referral"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    LAME = "lame"  # the server does not serve this zone properly
    SERVER_ERROR = "server-error"


@attrs.frozen
class Referral:
    zone: Name
    ns: tuple[Record, ...]
    glue: tuple[Record, ...]

    @property
    def ns_names(self) -> tuple[Name, ...]:
        return tuple(record.rdata.target for record in self.ns if isinstance(record.rdata, NS))


@attrs.frozen
class Classification:
    outcome: Outcome
    # The CNAME/DNAME chain followed, then the data: what a client gets as answer.
    answer: tuple[Record, ...] = ()
    # The name the chain ended at (qname if there was no chain).
    target: Name | None = None
    soa: Record | None = None
    referral: Referral | None = None
    # RRsets worth caching, each with its trust rank.
    to_cache: tuple[tuple[tuple[Record, ...], Rank], ...] = ()
    reason: str = ""
    # Every in-bailiwick RRSIG of the reply (answer and authority sections).
    rrsigs: tuple[Record, ...] = ()
    # NSEC/NSEC3 records of the authority section, the RRSIGs over them and the SOA's.
    proof: tuple[Record, ...] = ()

    def rrsigs_for(self, rrset: tuple[Record, ...]) -> tuple[Record, ...]:
        """The RRSIGs of the reply that cover this RRset."""
        if not self.rrsigs:  # an unsigned reply, the usual case: nothing to scan
            return ()
        return covering(rrset, self.rrsigs)

    @property
    def chain(self) -> tuple[Record, ...]:
        """The CNAME and DNAME records of the answer."""
        return tuple(r for r in self.answer if r.rtype in (RRType.CNAME, RRType.DNAME))


def covering(rrset: Sequence[Record], rrsigs: Iterable[Record]) -> tuple[Record, ...]:
    """The RRSIG records among `rrsigs` over `rrset` (same owner, class, type covered)."""
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


def _rrsets(records: Iterable[Record]) -> dict[tuple[Name, RRType], list[Record]]:
    sets: dict[tuple[Name, RRType], list[Record]] = {}
    for record in records:
        sets.setdefault((record.name, record.rtype), []).append(record)
    return sets


def _synthesise_from_dname(dname: Record, name: Name) -> Record | None:
    """The CNAME a DNAME implies for `name` (RFC 6672 section 2.2), if it fits."""
    assert isinstance(dname.rdata, DNAME)
    prefix = name.labels[: len(name.labels) - len(dname.name.labels)]
    try:
        target = dname.rdata.target.concatenate(prefix)
    except ValueError:
        return None  # too long: the server should have said YXDOMAIN
    return Record(name, RRType.CNAME, dname.rclass, dname.ttl, CNAME(target))


def classify_reply(
    reply: Message, qname: Name, qtype: RRType, zone: Name, *, authoritative: bool = True
) -> Classification:
    """Classify a reply from a server for `zone` to the question (qname, qtype).

    With `authoritative=False` (forwarding to a recursive resolver) answers without
    AA are accepted and there are no referrals to follow.
    """
    result = _classify(reply, qname, qtype, zone, authoritative)
    if result.outcome in (Outcome.LAME, Outcome.SERVER_ERROR):
        return result
    rrsigs = tuple(
        r
        for r in (*reply.answer, *reply.authority)
        if r.rtype == RRType.RRSIG and r.name.is_subdomain(zone)
    )
    denial = tuple(
        r
        for r in reply.authority
        if r.rtype in (RRType.NSEC, RRType.NSEC3) and r.name.is_subdomain(zone)
    )
    proof = list(denial)
    for nsec in _rrsets(denial).values():
        proof.extend(covering(nsec, rrsigs))
    if result.soa is not None:
        proof.extend(covering((result.soa,), rrsigs))
    to_cache = result.to_cache
    if result.outcome == Outcome.REFERRAL and result.referral is not None:
        # The DS set at the cut comes with a signed parent's referral: worth keeping
        # for validating the child, which will need it next.
        cut = result.referral.zone
        ds = tuple(r for r in reply.authority if r.rtype == RRType.DS and r.name == cut)
        if ds and cut.is_subdomain(zone) and cut != zone:
            to_cache = (*to_cache, (ds, Rank.AUTHORITY))
    if not rrsigs and not proof and to_cache is result.to_cache:
        return result  # an unsigned reply: nothing to add, no copy to make
    return attrs.evolve(result, rrsigs=rrsigs, proof=tuple(proof), to_cache=to_cache)


def _classify(
    reply: Message, qname: Name, qtype: RRType, zone: Name, authoritative: bool
) -> Classification:
    rcode = reply.rcode
    if rcode in (Rcode.REFUSED, Rcode.NOTAUTH):
        return Classification(Outcome.LAME, reason=f"{rcode.name} for {zone}")
    if rcode not in (Rcode.NOERROR, Rcode.NXDOMAIN):
        return Classification(Outcome.SERVER_ERROR, reason=f"server answered {rcode.name}")

    def inside(record: Record) -> bool:
        return record.name.is_subdomain(zone)

    aa = Flag.AA in reply.flags
    answer_sets = _rrsets(r for r in reply.answer if inside(r))
    authority = [r for r in reply.authority if inside(r)]
    dnames = [r for r in reply.answer if r.rtype == RRType.DNAME and inside(r)]
    answer_rank = Rank.AUTH_ANSWER if aa else Rank.ANSWER
    # A recursive upstream (forwarding) answers without AA; that is its nature.
    aa = aa or not authoritative
    to_cache: list[tuple[tuple[Record, ...], Rank]] = []

    chain: list[Record] = []
    current = qname
    seen = {qname}
    data: list[Record] | None = None
    for _ in range(MAX_CHAIN_IN_REPLY):
        if qtype == RRType.ANY:
            found = [r for (name, _t), rs in answer_sets.items() if name == current for r in rs]
            data = found or None
        else:
            data = answer_sets.get((current, qtype))
        if data:
            break
        # A DNAME above the name decides where it goes; a CNAME sent alongside is
        # only the server's synthesis of it, so it is made here, not believed.
        dname = next(
            (d for d in dnames if current.is_subdomain(d.name) and current != d.name), None
        )
        cname = answer_sets.get((current, RRType.CNAME)) if qtype != RRType.CNAME else None
        if dname is not None:
            synthesised = _synthesise_from_dname(dname, current)
            if synthesised is None:
                break
            chain.append(dname)
            to_cache.append(((dname,), answer_rank))
            record = synthesised
        elif cname:
            record = cname[0]  # a CNAME RRset has one record (RFC 2181 section 10.1)
            to_cache.append(((record,), answer_rank))
        else:
            break
        chain.append(record)
        assert isinstance(record.rdata, CNAME)
        current = record.rdata.target
        if current in seen:
            # A loop: hand the chain up; the resolver sees it come round and fails.
            return Classification(
                Outcome.CNAME, tuple(chain), current, to_cache=tuple(to_cache), reason="CNAME loop"
            )
        seen.add(current)
        if not current.is_subdomain(zone):
            # Whatever the server says about the target is out of its bailiwick.
            return Classification(
                Outcome.CNAME,
                tuple(chain),
                current,
                to_cache=tuple(to_cache),
                reason="chain leaves zone",
            )
    else:
        return Classification(Outcome.SERVER_ERROR, reason="CNAME chain too long in one reply")

    if data:
        if not aa:
            return Classification(Outcome.LAME, reason=f"non-authoritative answer for {zone}")
        to_cache.append((tuple(data), answer_rank))
        to_cache.extend(_authority_ns(authority, zone, reply))
        return Classification(
            Outcome.ANSWER, tuple(chain + data), current, to_cache=tuple(to_cache)
        )

    soa = next(
        (r for r in authority if r.rtype == RRType.SOA and current.is_subdomain(r.name)), None
    )
    if rcode == Rcode.NXDOMAIN:
        if not aa and soa is None:
            return Classification(Outcome.LAME, reason="non-authoritative NXDOMAIN")
        return Classification(
            Outcome.NXDOMAIN, tuple(chain), current, soa, to_cache=tuple(to_cache)
        )

    if authoritative and Flag.AA not in reply.flags:
        referral = _referral(reply, authority, current, zone)
        if referral is not None:
            to_cache.append((referral.ns, Rank.AUTHORITY))
            to_cache.extend(_rrsets_with_rank(referral.glue, Rank.ADDITIONAL))
            return Classification(
                Outcome.REFERRAL,
                tuple(chain),
                current,
                referral=referral,
                to_cache=tuple(to_cache),
            )
    if aa or soa is not None:
        return Classification(Outcome.NODATA, tuple(chain), current, soa, to_cache=tuple(to_cache))
    if chain:
        return Classification(Outcome.CNAME, tuple(chain), current, to_cache=tuple(to_cache))
    if any(r.rtype == RRType.NS for r in reply.authority):
        return Classification(Outcome.LAME, reason=f"referral upwards or sideways from {zone}")
    return Classification(Outcome.LAME, reason=f"non-authoritative empty answer for {zone}")


def _referral(reply: Message, authority: list[Record], name: Name, zone: Name) -> Referral | None:
    ns = [
        r
        for r in authority
        if r.rtype == RRType.NS and r.name != zone and name.is_subdomain(r.name)
    ]
    if not ns:
        return None
    # One delegation only: the deepest cut named (servers send just one).
    cut = max((r.name for r in ns), key=len)
    ns = [r for r in ns if r.name == cut]
    names = {r.rdata.target for r in ns if isinstance(r.rdata, NS)}
    glue = tuple(
        r
        for r in reply.additional
        if r.rtype in (RRType.A, RRType.AAAA) and r.name in names and r.name.is_subdomain(zone)
    )
    return Referral(cut, tuple(ns), glue)


def _authority_ns(
    authority: list[Record], zone: Name, reply: Message
) -> list[tuple[tuple[Record, ...], Rank]]:
    """The zone's own NS set that authoritative answers often carry, and its glue."""
    ns = tuple(r for r in authority if r.rtype == RRType.NS and r.name == zone)
    if not ns:
        return []
    names = {r.rdata.target for r in ns if isinstance(r.rdata, NS)}
    glue = [
        r
        for r in reply.additional
        if r.rtype in (RRType.A, RRType.AAAA) and r.name in names and r.name.is_subdomain(zone)
    ]
    return [(ns, Rank.AUTH_AUTHORITY), *_rrsets_with_rank(glue, Rank.ADDITIONAL)]


def _rrsets_with_rank(
    records: Iterable[Record], rank: Rank
) -> list[tuple[tuple[Record, ...], Rank]]:
    return [(tuple(rs), rank) for rs in _rrsets(records).values()]

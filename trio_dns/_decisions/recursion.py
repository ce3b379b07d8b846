"""What an authoritative server's reply means for iterative resolution.

Theory of operation: the resolver asks a server of `zone` about (qname, qtype) and
hands the reply to `classify_reply`, which decides, without any I/O, what kind of
reply it is and which of its records may be believed:

- only records inside the bailiwick of `zone` are considered at all, so a server
  for `example.com` cannot plant data for `bank.test` (compared label by label);
  the zones in `exclude` (a forwarded or local zone below `zone`, which has a
  source of its own) are outside it too. The rule is the same for every source:
  a zone's servers, a forwarder (its forwarded zone; the root for a global
  forwarder), a local zone, and the root servers asked by priming;
- the answer section is read as a chain from qname through in-zone CNAMEs (and
  DNAMEs, from which the CNAME is synthesised here rather than trusted) to the
  data; a chain that leaves the zone ends the reply's usefulness there;
- a referral is an NS set in the authority section strictly below `zone` and above
  the name, without AA; its glue is only A/AAAA records for its NS names that lie
  inside `zone`;
- NXDOMAIN and NODATA carry the zone's SOA for negative caching (RFC 2308); a
  chain that stops inside the zone with neither data nor SOA was cut short by
  the server (Knot stops after five links), so it is followed from its last
  target rather than taken for NODATA;
- an answer that lacks only the AA bit is still the zone's data (as Knot Resolver
  and Unbound take it), ranked below authoritative data, and its authority
  section is not believed;
- REFUSED, or an NS set above the zone (or the zone's own without AA) with no
  data and no SOA, means the server is lame for this zone; SERVFAIL and friends
  are server errors.

The result lists the RRsets worth caching with their RFC 2181 trust rank;
whatever a forwarder says ranks as non-authoritative data (RFC 2181 section
5.4.1: a recursive server's reply carries no authority, AA or not), so an
authoritative answer always replaces it. An ANY answer is one RRset per type,
each cached on its own. For DNSSEC it also keeps, from inside the bailiwick,
the RRSIGs of the reply (the caller attaches to each RRset the ones covering
it), the DS set of a referral, and the NSEC/NSEC3 records that prove a denial,
a wildcard answer or an unsigned delegation, with their RRSIGs and the SOA's
(`proof`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from itertools import islice

import attrs

from .._trust import Rank
from .._wire.enums import Flag, Rcode, RRClass, RRType
from .._wire.message import Message, Record
from .._wire.name import Name, wire_and_ancestors
from .._wire.rdtypes.nsec import NSEC
from .._wire.rdtypes.single_name import CNAME, DNAME, NS
from .._wire.rrset import covering, rrsets

MAX_CHAIN_IN_REPLY = 16


class Outcome(enum.Enum):
    ANSWER = "answer"  # data for the name (maybe after an in-zone chain)
    CNAME = "cname"  # the chain leaves the zone: resolution restarts at `target`
    REFERRAL = "referral"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    LAME = "lame"  # the server does not serve this zone properly
    SERVER_ERROR = "server-error"
    # A DNAME above the name whose substitution makes a name too long (RFC 6672
    # section 2.2): YXDOMAIN, with the DNAME, is the answer.
    YXDOMAIN = "yxdomain"


@attrs.frozen
class Referral:
    zone: Name
    ns: tuple[Record, ...]
    glue: tuple[Record, ...]

    @property
    def ns_names(self) -> tuple[Name, ...]:
        return tuple(record.rdata.target for record in self.ns if isinstance(record.rdata, NS))


# The reason of a NODATA that came with nothing at all: no SOA, no NS set.
EMPTY = "an empty reply"


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
    # For NXDOMAIN and NODATA: the SOA and the zone's NS set, as the reply had them.
    authority: tuple[Record, ...] = ()
    # Every in-bailiwick RRSIG of the reply (answer and authority sections).
    rrsigs: tuple[Record, ...] = ()
    # NSEC/NSEC3 records of the authority section, the RRSIGs over them and the SOA's.
    proof: tuple[Record, ...] = ()
    # The rank of what the reply says about the name itself (its data, or its
    # absence): AUTH_ANSWER from an authoritative server that set AA, else ANSWER.
    rank: Rank = Rank.AUTH_ANSWER

    def rrsigs_for(self, rrset: tuple[Record, ...]) -> tuple[Record, ...]:
        """The RRSIGs of the reply that cover this RRset."""
        if not self.rrsigs:  # an unsigned reply, the usual case: nothing to scan
            return ()
        return covering(rrset, self.rrsigs)

    @property
    def chain(self) -> tuple[Record, ...]:
        """The CNAME and DNAME records of the answer."""
        return tuple(r for r in self.answer if r.rtype in (RRType.CNAME, RRType.DNAME))


def synthesise_from_dname(dname: Record, name: Name) -> Record | None:
    """The CNAME a DNAME implies for `name` (RFC 6672 section 2.2), if it fits."""
    assert isinstance(dname.rdata, DNAME)
    prefix = name.labels[: len(name.labels) - len(dname.name.labels)]
    try:
        target = dname.rdata.target.concatenate(prefix)
    except ValueError:
        return None  # too long: the server should have said YXDOMAIN
    return Record(name, RRType.CNAME, dname.rclass, dname.ttl, CNAME(target))


class _Bailiwick:
    """Which owner names a reply from a server of `zone` may speak for."""

    __slots__ = ("exclude", "zone")

    def __init__(self, zone: Name, exclude: Sequence[Name]) -> None:
        self.zone = zone
        # Only the zones strictly below `zone` matter; the rest are outside anyway.
        # Kept as canonical wire forms, so that a name is checked by walking up
        # it (one set lookup a label), not against each of a hundred zones.
        self.exclude = (
            frozenset(x.canonical_wire() for x in exclude if x != zone and x.is_subdomain(zone))
            if exclude
            else frozenset()
        )

    def __contains__(self, name: Name) -> bool:
        if not name.is_subdomain(self.zone):
            return False
        if not self.exclude:
            return True
        # The name and its ancestors below the zone, each one set lookup.
        below = islice(wire_and_ancestors(name.canonical_wire()), len(name) - len(self.zone))
        return not any(key in self.exclude for key in below)


def classify_reply(
    reply: Message,
    qname: Name,
    qtype: RRType,
    zone: Name,
    *,
    authoritative: bool = True,
    exclude: Sequence[Name] = (),
    minimised: bool = False,
) -> Classification:
    """Classify a reply from a server for `zone` to the question (qname, qtype).

    With `authoritative=False` (forwarding to a recursive resolver) answers without
    AA are accepted, there are no referrals to follow, and nothing the reply says
    ranks above non-authoritative data. Names at or below a zone of `exclude` are
    outside the server's bailiwick, like names outside `zone`.
    """
    bailiwick = _Bailiwick(zone, exclude)
    result = _classify(reply, qname, qtype, bailiwick, authoritative, minimised)
    if result.outcome in (Outcome.LAME, Outcome.SERVER_ERROR):
        return result
    rrsigs = tuple(
        r
        for r in (*reply.answer, *reply.authority)
        if r.rtype == RRType.RRSIG and r.name in bailiwick
    )
    denial = tuple(
        r for r in reply.authority if r.rtype in (RRType.NSEC, RRType.NSEC3) and r.name in bailiwick
    )
    proof = list(denial)
    for nsec in rrsets(denial).values():
        proof.extend(covering(nsec, rrsigs))
    if result.soa is not None:
        proof.extend(covering((result.soa,), rrsigs))
    to_cache = result.to_cache
    if result.outcome == Outcome.REFERRAL and result.referral is not None:
        # The DS set at the cut comes with a signed parent's referral: worth keeping
        # for validating the child, which will need it next. So is, when there is
        # no DS, the parent's NSEC at the cut that proves it (RFC 4035 section
        # 3.1.4.1): the validator reads it from the cache instead of asking for DS.
        cut = result.referral.zone
        at_cut = tuple(r for r in reply.authority if r.rtype == RRType.DS and r.name == cut)
        if not at_cut:
            at_cut = tuple(r for r in denial if r.rtype == RRType.NSEC and r.name == cut)
        if at_cut and cut in bailiwick and cut != zone:
            to_cache = (*to_cache, (at_cut, Rank.AUTHORITY))
    if not rrsigs and not proof and to_cache is result.to_cache:
        return result  # an unsigned reply: nothing to add, no copy to make
    return attrs.evolve(result, rrsigs=rrsigs, proof=tuple(proof), to_cache=to_cache)


def _classify(
    reply: Message,
    qname: Name,
    qtype: RRType,
    bailiwick: _Bailiwick,
    authoritative: bool,
    minimised: bool = False,
) -> Classification:
    zone = bailiwick.zone
    rcode = reply.rcode
    if rcode in (Rcode.REFUSED, Rcode.NOTAUTH):
        return Classification(Outcome.LAME, reason=f"{rcode.name} for {zone}")
    if rcode == Rcode.YXDOMAIN:
        overflowing = _overflowing_dname(reply, qname, bailiwick, authoritative)
        if overflowing is not None:
            return overflowing
    if rcode not in (Rcode.NOERROR, Rcode.NXDOMAIN):
        return Classification(Outcome.SERVER_ERROR, reason=f"server answered {rcode.name}")

    aa = Flag.AA in reply.flags
    answer_sets = rrsets(r for r in reply.answer if r.name in bailiwick)
    qclass = reply.question[0].rclass if reply.question else RRClass.IN
    authority = [r for r in reply.authority if r.name in bailiwick]
    dnames = [r for r in reply.answer if r.rtype == RRType.DNAME and r.name in bailiwick]
    # A recursive upstream's word is never authoritative data, whatever its flags
    # say: an authoritative answer must be able to replace it.
    answer_rank = Rank.AUTH_ANSWER if aa and authoritative else Rank.ANSWER
    # A recursive upstream answers without AA; that is its nature.
    aa = aa or not authoritative
    to_cache: list[tuple[tuple[Record, ...], Rank]] = []

    chain: list[Record] = []
    current = qname
    seen = {qname}
    data: list[Record] | None = None
    for _ in range(MAX_CHAIN_IN_REPLY):
        if qtype == RRType.ANY:
            # Every type at the name (a CNAME too: ANY does not follow one); the
            # RRSIGs ride with the sets they cover, as for any other answer.
            found = [
                r
                for (name, rtype, _), rs in answer_sets.items()
                if name == current and rtype != RRType.RRSIG
                for r in rs
            ]
            data = found or None
        else:
            data = answer_sets.get((current, qtype, qclass))
        if data:
            break
        # A DNAME above the name decides where it goes; a CNAME sent alongside is
        # only the server's synthesis of it, so it is made here, not believed.
        dname = next(
            (d for d in dnames if current.is_subdomain(d.name) and current != d.name), None
        )
        cname = answer_sets.get((current, RRType.CNAME, qclass)) if qtype != RRType.CNAME else None
        if dname is not None:
            synthesised = synthesise_from_dname(dname, current)
            if synthesised is None:
                break
            if dname not in chain:  # a DNAME used twice is listed once
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
                Outcome.CNAME,
                tuple(chain),
                current,
                to_cache=tuple(to_cache),
                reason="CNAME loop",
                rank=answer_rank,
            )
        seen.add(current)
        if current not in bailiwick:
            # Whatever the server says about the target is out of its bailiwick.
            return Classification(
                Outcome.CNAME,
                tuple(chain),
                current,
                to_cache=tuple(to_cache),
                reason="chain leaves zone",
                rank=answer_rank,
            )
    else:
        return Classification(Outcome.SERVER_ERROR, reason="CNAME chain too long in one reply")

    if data:
        # An answer that lacks only the AA bit is still the zone's data, as Unbound
        # and Knot Resolver take it (many servers forget AA), ranked below AA data
        # so that an authoritative answer replaces it. The NS set an answer carries
        # in its authority section is not cached, AA or not: the delegation the
        # resolver follows is the one a referral (or an NS question) gave, so a
        # child that lists fewer servers than its parent cannot hide the others,
        # and an answer cannot slip in new servers for its zone (Knot Resolver
        # does not use them either).
        to_cache.extend(_rrsets_with_rank(data, answer_rank))
        if qtype == RRType.NS:
            to_cache.extend(_rrsets_with_rank(_glue(data, bailiwick, reply), Rank.ADDITIONAL))
        return Classification(
            Outcome.ANSWER, tuple(chain + data), current, to_cache=tuple(to_cache), rank=answer_rank
        )

    soa = next(
        (r for r in authority if r.rtype == RRType.SOA and current.is_subdomain(r.name)), None
    )
    if rcode == Rcode.NXDOMAIN:
        if not aa and soa is None:
            return Classification(Outcome.LAME, reason="non-authoritative NXDOMAIN")
        return Classification(
            Outcome.NXDOMAIN,
            tuple(chain),
            current,
            soa,
            to_cache=tuple(to_cache),
            rank=answer_rank,
            authority=_negative_authority(soa, authority),
        )

    # A referral: an NS set below the zone and above the name, and no SOA. It has
    # AA clear, as a rule; servers that set it anyway (or that answer with
    # authority before a chain reaches the cut) still delegate.
    if authoritative and (soa is None or Flag.AA not in reply.flags or chain):
        referral = _referral(authority, current, bailiwick, reply)
        if referral is not None:
            to_cache.append((referral.ns, Rank.AUTHORITY))
            to_cache.extend(_rrsets_with_rank(referral.glue, Rank.ADDITIONAL))
            return Classification(
                Outcome.REFERRAL,
                tuple(chain),
                current,
                referral=referral,
                to_cache=tuple(to_cache),
                rank=answer_rank,
            )
    if soa is not None and not (chain and _proves_type_exists(reply.authority, current, qtype)):
        return Classification(
            Outcome.NODATA,
            tuple(chain),
            current,
            soa,
            to_cache=tuple(to_cache),
            rank=answer_rank,
            authority=_negative_authority(soa, authority),
        )
    if chain:
        # Neither data nor SOA at the end of the chain: the server stopped
        # following it (or cannot, the target being delegated further down), and
        # said nothing about the target; ask about the target itself.
        reason = "chain cut short" if aa else ""
        return Classification(
            Outcome.CNAME,
            tuple(chain),
            current,
            to_cache=tuple(to_cache),
            reason=reason,
            rank=answer_rank,
        )
    if any(r.rtype == RRType.NS for r in reply.authority):
        own = any(r.rtype == RRType.NS and r.name == zone for r in authority)
        if own and Flag.AA in reply.flags and authoritative:
            # An authoritative "nothing here" that names its own servers instead of
            # its SOA: NODATA, and not for long (no SOA, no minimum).
            return Classification(
                Outcome.NODATA, tuple(chain), current, to_cache=tuple(to_cache), rank=answer_rank
            )
        if minimised and own:
            # To a probe for a cut, the zone's own NS set says "no cut here"
            # (servers that send no SOA for an empty non-terminal do this).
            return Classification(
                Outcome.NODATA, tuple(chain), current, to_cache=tuple(to_cache), rank=answer_rank
            )
        # An NS set above the zone (whatever AA says), or the zone's own without
        # AA, and no data nor SOA: this server does not serve the name.
        return Classification(Outcome.LAME, reason=f"referral upwards or sideways from {zone}")
    # Nothing at all, not even an SOA: NODATA as the server says (Knot Resolver
    # and Unbound take it so), not cached for long without an SOA's minimum.
    return Classification(
        Outcome.NODATA,
        tuple(chain),
        current,
        to_cache=tuple(to_cache),
        reason=EMPTY,
        rank=answer_rank,
    )


def _referral(
    authority: list[Record], name: Name, bailiwick: _Bailiwick, reply: Message
) -> Referral | None:
    ns = [
        r
        for r in authority
        if r.rtype == RRType.NS and r.name != bailiwick.zone and name.is_subdomain(r.name)
    ]
    if not ns:
        return None
    # One delegation only: the deepest cut named (servers send just one).
    cut = max((r.name for r in ns), key=len)
    ns = [r for r in ns if r.name == cut]
    return Referral(cut, tuple(ns), tuple(_glue(ns, bailiwick, reply)))


def _glue(ns: Iterable[Record], bailiwick: _Bailiwick, reply: Message) -> list[Record]:
    """The addresses in the additional section for these NS records' names, from
    inside the bailiwick."""
    names = {r.rdata.target for r in ns if isinstance(r.rdata, NS)}
    return [
        r
        for r in reply.additional
        if r.rtype in (RRType.A, RRType.AAAA) and r.name in names and r.name in bailiwick
    ]


def _negative_authority(soa: Record | None, authority: Sequence[Record]) -> tuple[Record, ...]:
    """The SOA of a negative reply and its zone's NS set, as they came."""
    if soa is None:
        return ()
    return (soa, *(r for r in authority if r.rtype == RRType.NS and r.name == soa.name))


def _overflowing_dname(
    reply: Message, qname: Name, bailiwick: _Bailiwick, authoritative: bool
) -> Classification | None:
    """A YXDOMAIN that is true: the reply's DNAME above `qname` cannot be applied
    without making a name longer than 255 octets. Any other YXDOMAIN is an error."""
    for dname in reply.answer:
        if (
            dname.rtype == RRType.DNAME
            and dname.name in bailiwick
            and qname.is_subdomain(dname.name)
            and qname != dname.name
            and synthesise_from_dname(dname, qname) is None
        ):
            rank = Rank.AUTH_ANSWER if Flag.AA in reply.flags and authoritative else Rank.ANSWER
            return Classification(
                Outcome.YXDOMAIN, (dname,), qname, to_cache=(((dname,), rank),), rank=rank
            )
    return None


def _proves_type_exists(authority: Sequence[Record], name: Name, qtype: RRType) -> bool:
    """Does an NSEC record at `name` list `qtype`? A "no data" at the end of a
    chain that comes with it is no denial for this question (a server answering
    for another type), so the chain is followed from its target instead."""
    return any(
        isinstance(r.rdata, NSEC) and r.name == name and r.rdata.has_type(qtype) for r in authority
    )


def _rrsets_with_rank(
    records: Iterable[Record], rank: Rank
) -> list[tuple[tuple[Record, ...], Rank]]:
    return [(tuple(rs), rank) for rs in rrsets(records).values()]


def describe(result: Classification) -> str:
    """A reply's meaning in a few words, for traces."""
    if result.outcome == Outcome.REFERRAL and result.referral is not None:
        return f"referral to {result.referral.zone}"
    if result.outcome in (Outcome.LAME, Outcome.SERVER_ERROR):
        return f"{result.outcome.value}: {result.reason}"
    if result.outcome == Outcome.CNAME and result.target is not None:
        return f"CNAME to {result.target}"
    return str(result.outcome.value)

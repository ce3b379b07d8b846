"""How an authoritative server answers: zones, and the answer to one query.

Theory of operation: a `Zone` is a frozen set of records indexed by owner name
and type, plus the set of every name that exists in it (owners and the empty
non-terminals between them and the apex), because "does this name exist?" is
what separates NODATA from NXDOMAIN and decides which wildcard applies
(RFC 4592's closest encloser). `answer_query` picks the served zone that most
closely encloses the question's name and walks down from the apex towards it:
an NS RRset below the apex is a zone cut, so the answer is a referral (NS in
authority, in-bailiwick glue in additional, AA clear) unless the question is
the DS at that cut, which the parent side owns; a DNAME above the name rewrites
it (RFC 6672). At the name itself there is data of the asked type (an AA
answer), a CNAME (added, then followed inside the zone, a bounded number of
times), or nothing (NODATA). A name that does not exist is answered from the
wildcard at its closest encloser if there is one, else NXDOMAIN. Negative
answers carry the zone's SOA with the TTL RFC 2308 asks for.

Pure: no trio, no I/O; the fake network and the real server both call it.
With the DO bit set, RRSIGs stored in the zone ride along with the RRsets they
cover, and a signed zone's NSEC or NSEC3 records prove what is absent (RFC 4035
section 3.1.3, RFC 5155 section 7.2): the name and the wildcard for NXDOMAIN,
the type for NODATA, the closer names for a wildcard answer, and the missing DS
of an unsigned delegation. NSEC3 records live at hashed names that are not names
of the zone: they are kept apart, so a query for one is NXDOMAIN like any other.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping

import attrs

from .._dnssec.nsec3 import nsec3_hash
from .._errors import InvalidName, InvalidRdata, ZoneFileError
from .._wire.edns import Edns
from .._wire.enums import Flag, Opcode, Rcode, RRClass, RRType
from .._wire.message import Message, Record
from .._wire.name import Name
from .._wire.rdtypes.nsec3 import NSEC3PARAM, base32hex_decode
from .._wire.rdtypes.single_name import CNAME, DNAME, NS
from .._wire.rdtypes.soa import SOA
from .._wire.zone import read_zone

# CNAMEs (and DNAME rewrites) followed inside one zone before answering with what
# we have; a zone can contain a loop, and a reply must stay small.
MAX_CHAIN = 8

_ADDRESS_TYPES = (RRType.A, RRType.AAAA)
_TRANSFER_TYPES = (RRType.AXFR, RRType.IXFR)


@attrs.frozen(eq=False, repr=False)
class Zone:
    """The records of one zone: `Zone.from_text(text, "example.com")`.

    Records must all lie at or below `origin` and include exactly one SOA, at the
    apex; records below a zone cut are kept, as glue.
    """

    origin: Name
    records: tuple[Record, ...]
    # Unbound's transparent local zone: answers only for the names it holds (any
    # type; NODATA for the others), and every other name below its origin is
    # resolved as if the zone were not there. Inline `local_data` makes these.
    transparent: bool = attrs.field(default=False, kw_only=True)
    _rrsets: Mapping[Name, Mapping[RRType, tuple[Record, ...]]] = attrs.field(init=False)
    _names: frozenset[Name] = attrs.field(init=False)
    soa: Record = attrs.field(init=False)
    # The denial chain, in order: NSEC owners, or NSEC3 owner hashes.
    _nsec: tuple[tuple[Name, ...], tuple[Record, ...]] = attrs.field(init=False)
    _nsec3: tuple[tuple[bytes, ...], tuple[Record, ...]] = attrs.field(init=False)
    _nsec3_param: NSEC3PARAM | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        rrsets: dict[Name, dict[RRType, list[Record]]] = {}
        names = {self.origin}
        for record in self.records:
            if not record.name.is_subdomain(self.origin):
                raise ValueError(f"{record.name} is outside the zone {self.origin}")
            rrset = rrsets.setdefault(record.name, {}).setdefault(record.rtype, [])
            if not any(other.rdata == record.rdata for other in rrset):
                rrset.append(record)
            if _is_nsec3(record):
                continue  # a hashed owner is no name of the zone
            name = record.name
            while name not in names:
                names.add(name)
                name = name.parent()
        soas = rrsets.get(self.origin, {}).get(RRType.SOA, [])
        if len(soas) != 1 or any(RRType.SOA in types for types in _below_apex(rrsets, self)):
            raise ValueError(f"zone {self.origin} needs exactly one SOA, at its apex")
        object.__setattr__(
            self,
            "_rrsets",
            {name: {t: tuple(rs) for t, rs in types.items()} for name, types in rrsets.items()},
        )
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "soa", soas[0])
        nsecs = sorted((r for r in self.records if r.rtype == RRType.NSEC), key=lambda r: r.name)
        object.__setattr__(self, "_nsec", (tuple(r.name for r in nsecs), tuple(nsecs)))
        params = [r.rdata for r in rrsets.get(self.origin, {}).get(RRType.NSEC3PARAM, ())]
        param = next(
            (p for p in params if isinstance(p, NSEC3PARAM) and p.hash_algorithm == 1), None
        )
        chain: list[tuple[bytes, Record]] = []
        for record in self.records:
            if record.rtype == RRType.NSEC3 and record.name.parent() == self.origin:
                try:
                    chain.append((base32hex_decode(record.name.labels[0].decode("ascii")), record))
                except (InvalidRdata, UnicodeDecodeError):
                    continue
        chain.sort(key=lambda item: item[0])
        object.__setattr__(self, "_nsec3", (tuple(h for h, _ in chain), tuple(r for _, r in chain)))
        object.__setattr__(self, "_nsec3_param", param if chain else None)

    @classmethod
    def from_records(
        cls, origin: Name | str, records: Iterable[Record], *, transparent: bool = False
    ) -> Zone:
        return cls(Name.make(origin), tuple(records), transparent=transparent)

    @classmethod
    def from_text(
        cls, text: str, origin: Name | str | None = None, *, filename: str = "<string>"
    ) -> Zone:
        """Read zone-file text. Without `origin`, the owner of the first SOA is the
        apex (the text must then spell its names absolutely or set $ORIGIN)."""
        records = read_zone(text, origin=origin, filename=filename)
        if origin is None:
            soas = [record for record in records if record.rtype == RRType.SOA]
            if not soas:
                raise ZoneFileError("no SOA record, and no origin given", filename)
            origin = soas[0].name
        try:
            return cls.from_records(origin, records)
        except ValueError as exc:
            raise ZoneFileError(str(exc), filename) from None

    @property
    def rclass(self) -> RRClass:
        return self.soa.rclass

    def __repr__(self) -> str:
        return f"<Zone {self.origin} ({len(self.records)} records)>"

    def rrset(self, name: Name, rtype: RRType) -> tuple[Record, ...]:
        """The records of one type at one name, as stored (occluded glue included)."""
        return self._rrsets.get(name, {}).get(rtype, ())

    def exists(self, name: Name) -> bool:
        """Does the name own records, or have descendants that do (RFC 8020)?"""
        return name in self._names

    @property
    def signed(self) -> bool:
        """Does the zone carry a denial chain (NSEC or NSEC3) to prove absence with?"""
        return bool(self._nsec[1]) or self._nsec3_param is not None

    @property
    def nsec3(self) -> bool:
        """Does the zone deny with NSEC3 (an NSEC3PARAM and a chain)?"""
        return self._nsec3_param is not None

    def nsec_for(self, name: Name) -> Record | None:
        """The NSEC record at `name`, or else the one covering it (the last one
        before it in canonical order, wrapping round to the last of the zone)."""
        owners, records = self._nsec
        if not records:
            return None
        return records[bisect_right(owners, name) - 1]

    def nsec3_for(self, name: Name, *, match: bool = False) -> Record | None:
        """The NSEC3 record matching `name`'s hash, or (unless `match`) covering it."""
        hashes, records = self._nsec3
        param = self._nsec3_param
        if param is None:
            return None
        digest = nsec3_hash(name, param.salt, param.iterations, param.hash_algorithm)
        index = bisect_right(hashes, digest) - 1
        if match and hashes[index] != digest:
            return None
        return records[index]

    def negative_soa(self) -> Record:
        """The SOA for a negative answer: its TTL capped by MINIMUM (RFC 2308 section 3)."""
        soa = self.soa
        assert isinstance(soa.rdata, SOA)
        return attrs.evolve(soa, ttl=min(soa.ttl, soa.rdata.minimum))


def _is_nsec3(record: Record) -> bool:
    if record.rtype == RRType.NSEC3:
        return True
    # The type covered is the first field of RRSIG rdata, whichever class parsed it.
    return record.rtype == RRType.RRSIG and record.rdata.to_bytes()[:2] == _NSEC3_COVERED


_NSEC3_COVERED = int(RRType.NSEC3).to_bytes(2, "big")


def _below_apex(
    rrsets: Mapping[Name, Mapping[RRType, object]], zone: Zone
) -> Iterable[Mapping[RRType, object]]:
    return (types for name, types in rrsets.items() if name != zone.origin)


# -- one step of a lookup inside a zone -------------------------------------------


@attrs.frozen
class _Answer:
    records: tuple[Record, ...]
    node: Name  # where the records are stored: the wildcard, for a synthesised answer


@attrs.frozen
class _Alias:
    """A CNAME (or a DNAME with the CNAME synthesised from it) to follow."""

    records: tuple[Record, ...]
    target: Name
    node: Name | None = None


@attrs.frozen
class _Referral:
    cut: Name


@attrs.frozen
class _NoData:
    node: Name  # the name, or the wildcard that matched it


@attrs.frozen
class _NXDomain:
    encloser: Name  # the closest encloser (RFC 4592)


@attrs.frozen
class _NameTooLong:
    """A DNAME rewrite that would make a name longer than 255 octets (YXDOMAIN)."""

    dname: Record


_Step = _Answer | _Alias | _Referral | _NoData | _NXDomain | _NameTooLong


def _find(zone: Zone, qname: Name, qtype: RRType) -> _Step:
    apex_depth = len(zone.origin)
    encloser = zone.origin
    # Down from the apex: the first zone cut or DNAME on the way ends the walk.
    for depth in range(apex_depth, len(qname) + 1):
        name = qname.ancestor(depth)
        if not zone.exists(name):
            break
        encloser = name
        # The DS RRset at a cut is the parent's (RFC 4035 section 3.1.4.1).
        parent_side = name == qname and qtype == RRType.DS
        if depth > apex_depth and not parent_side and zone.rrset(name, RRType.NS):
            return _Referral(name)
        if name != qname:
            dnames = zone.rrset(name, RRType.DNAME)
            if dnames:
                return _rewrite(qname, name, dnames[0])
    if encloser == qname:
        return _at_node(zone, qname, qtype, qname)
    # The name does not exist: RFC 4592 section 3.3.1, the source of synthesis is
    # the wildcard child of the closest encloser, and only that one.
    wildcard = encloser.child(b"*")
    if zone.exists(wildcard):
        return _at_node(zone, wildcard, qtype, qname)
    return _NXDomain(encloser)


def _at_node(zone: Zone, node: Name, qtype: RRType, owner: Name) -> _Step:
    """The data at an existing name; `owner` differs from `node` for a wildcard."""
    types = zone._rrsets.get(node, {})
    if qtype == RRType.ANY:
        found = [record for rrset in types.values() for record in rrset]
    else:
        found = list(types.get(qtype, ()))
    if found:
        return _Answer(_renamed(found, owner), node)
    cnames = types.get(RRType.CNAME, ())
    if cnames:
        record = cnames[0]
        assert isinstance(record.rdata, CNAME)
        return _Alias(_renamed([record], owner), record.rdata.target, node)
    return _NoData(node)


def _rewrite(qname: Name, owner: Name, record: Record) -> _Step:
    assert isinstance(record.rdata, DNAME)
    prefix = qname.labels[: len(qname) - len(owner)]
    try:
        target = record.rdata.target.concatenate(prefix)
    except InvalidName:
        return _NameTooLong(record)
    cname = Record(qname, RRType.CNAME, record.rclass, record.ttl, CNAME(target))
    return _Alias((record, cname), target)


def _renamed(records: list[Record], owner: Name) -> tuple[Record, ...]:
    return tuple(r if r.name == owner else attrs.evolve(r, name=owner) for r in records)


# -- the whole answer -------------------------------------------------------------


@attrs.define
class _Reply:
    """The sections of a reply as they are built."""

    dnssec: bool
    rcode: Rcode = Rcode.NOERROR
    authoritative: bool = True
    answer: list[Record] = attrs.Factory(list)
    authority: list[Record] = attrs.Factory(list)
    additional: list[Record] = attrs.Factory(list)

    def add(
        self,
        section: list[Record],
        zone: Zone,
        records: Iterable[Record],
        node: Name | None = None,
    ) -> None:
        """Add records and, for DO, the RRSIGs stored at `node` (default: each
        record's owner) that cover them."""
        records = list(records)
        section.extend(records)
        if self.dnssec:
            for name, rtype in dict.fromkeys((r.name, r.rtype) for r in records):
                if rtype != RRType.RRSIG:
                    signatures = _signatures(zone, node or name, rtype)
                    section.extend(_renamed(signatures, name))

    def prove(self, zone: Zone, records: Iterable[Record | None]) -> None:
        """Add denial records (and their RRSIGs) to the authority section, once each."""
        for record in records:
            if record is not None and record not in self.authority:
                self.add(self.authority, zone, [record])


# -- denial of existence (DO set, signed zone) -------------------------------------


def _nsec3_encloser_proof(zone: Zone, name: Name) -> tuple[Name, list[Record | None]]:
    """The closest encloser proof of RFC 5155 section 7.2.1: the NSEC3 matching
    the deepest ancestor that has one, and the one covering the next closer name.
    Just the matching record when `name` itself has one."""
    for depth in range(len(name), len(zone.origin) - 1, -1):
        encloser = name.ancestor(depth)
        match = zone.nsec3_for(encloser, match=True)
        if match is None:
            continue
        if encloser == name:
            return encloser, [match]
        return encloser, [match, zone.nsec3_for(name.ancestor(depth + 1))]
    return zone.origin, []


def _nxdomain_proof(zone: Zone, qname: Name, encloser: Name) -> list[Record | None]:
    wildcard = encloser.child(b"*")
    if zone.nsec3:
        _, records = _nsec3_encloser_proof(zone, qname)
        return [*records, zone.nsec3_for(wildcard)]
    return [zone.nsec_for(qname), zone.nsec_for(wildcard)]


def _nodata_proof(zone: Zone, qname: Name, node: Name | None = None) -> list[Record | None]:
    """NODATA at `qname` (or at the wildcard `node` that matched it); also the
    proof that an unsigned delegation has no DS."""
    node = node or qname
    if zone.nsec3:
        _, records = _nsec3_encloser_proof(zone, qname)
        if node != qname:
            records.append(zone.nsec3_for(node, match=True))
        return records
    return [zone.nsec_for(qname), zone.nsec_for(node)]


def _wildcard_proof(zone: Zone, qname: Name, node: Name) -> list[Record | None]:
    """For an answer synthesised from the wildcard `node`: no closer name exists."""
    if zone.nsec3:
        encloser = node.parent()
        return [zone.nsec3_for(qname.ancestor(len(encloser) + 1))]
    return [zone.nsec_for(qname)]


def _signatures(zone: Zone, node: Name, rtype: RRType) -> list[Record]:
    covered = int(rtype).to_bytes(2, "big")
    return [r for r in zone.rrset(node, RRType.RRSIG) if r.rdata.to_bytes()[:2] == covered]


def _glue(zone: Zone, ns_records: Iterable[Record]) -> list[Record]:
    """Addresses of in-bailiwick nameservers, from wherever the zone keeps them."""
    glue: list[Record] = []
    for record in ns_records:
        if not isinstance(record.rdata, NS):
            continue
        target = record.rdata.target
        if target.is_subdomain(zone.origin):
            for rtype in _ADDRESS_TYPES:
                glue.extend(r for r in zone.rrset(target, rtype) if r not in glue)
    return glue


def choose_zone(zones: Iterable[Zone], qname: Name, qtype: RRType) -> Zone | None:
    """The served zone that most closely encloses `qname`; for DS, the closest one
    strictly above it when there is one, because DS lives on the parent side."""
    candidates = [zone for zone in zones if qname.is_subdomain(zone.origin)]
    if qtype == RRType.DS:
        parents = [zone for zone in candidates if zone.origin != qname]
        candidates = parents or candidates
    return max(candidates, key=lambda zone: len(zone.origin), default=None)


def answer_query(zones: Iterable[Zone], query: Message) -> Message:
    """The reply an authoritative server serving `zones` gives to `query`."""
    if query.opcode != Opcode.QUERY:
        return _error(query, Rcode.NOTIMP)
    if len(query.question) != 1:
        return _error(query, Rcode.FORMERR, echo_question=False)
    if query.edns is not None and query.edns.version != 0:
        return _error(query, Rcode.BADVERS)
    question = query.question[0]
    qtype = question.rtype
    if qtype in _TRANSFER_TYPES:
        return _error(query, Rcode.REFUSED)
    if qtype.is_meta() and qtype != RRType.ANY:
        return _error(query, Rcode.NOTIMP)
    zone = choose_zone(zones, question.name, qtype)
    if zone is None or zone.rclass != question.rclass:
        return _error(query, Rcode.REFUSED)

    reply = _Reply(dnssec=query.edns is not None and query.edns.dnssec_ok)
    prove = reply.dnssec and zone.signed
    qname = question.name
    seen = {qname}
    for _ in range(MAX_CHAIN + 1):
        step = _find(zone, qname, qtype)
        if isinstance(step, _Answer):
            reply.add(reply.answer, zone, step.records, step.node)
            if prove and step.node != qname:
                reply.prove(zone, _wildcard_proof(zone, qname, step.node))
            if qtype == RRType.NS:
                reply.add(reply.additional, zone, _glue(zone, step.records))
        elif isinstance(step, _Alias):
            reply.add(reply.answer, zone, step.records, step.node)
            if prove and step.node is not None and step.node != qname:
                reply.prove(zone, _wildcard_proof(zone, qname, step.node))
            if step.target in seen or not step.target.is_subdomain(zone.origin):
                break  # a loop, or out of this zone: the asker follows it from here
            seen.add(step.target)
            qname = step.target
            continue
        elif isinstance(step, _Referral):
            ns_records = zone.rrset(step.cut, RRType.NS)
            # An answer already given (a CNAME into the delegation) stays authoritative.
            reply.authoritative = bool(reply.answer)
            reply.add(reply.authority, zone, ns_records)
            if reply.dnssec:
                ds = zone.rrset(step.cut, RRType.DS)
                reply.add(reply.authority, zone, ds)
                if not ds and prove:
                    reply.prove(zone, _nodata_proof(zone, step.cut))
            reply.add(reply.additional, zone, _glue(zone, ns_records))
        elif isinstance(step, _NameTooLong):
            reply.add(reply.answer, zone, [step.dname])
            reply.rcode = Rcode.YXDOMAIN
        else:
            if isinstance(step, _NXDomain):
                reply.rcode = Rcode.NXDOMAIN
            reply.add(reply.authority, zone, [zone.negative_soa()])
            if prove and isinstance(step, _NXDomain):
                reply.prove(zone, _nxdomain_proof(zone, qname, step.encloser))
            elif prove and isinstance(step, _NoData):
                reply.prove(zone, _nodata_proof(zone, qname, step.node))
        break
    return _build(query, reply)


def _build(query: Message, reply: _Reply) -> Message:
    flags = Flag.AA if reply.authoritative else Flag(0)
    message = query.make_response(reply.rcode, flags)
    return attrs.evolve(
        message,
        answer=tuple(reply.answer),
        authority=tuple(reply.authority),
        additional=tuple(reply.additional),
        edns=_reply_edns(query),
    )


def _reply_edns(query: Message) -> Edns | None:
    # RFC 3225: the DO bit is echoed so the asker knows it was seen.
    if query.edns is None:
        return None
    return Edns(dnssec_ok=query.edns.dnssec_ok)


def _error(query: Message, rcode: Rcode, *, echo_question: bool = True) -> Message:
    message = query.make_response(rcode)
    edns = _reply_edns(query)
    if rcode > 15 and edns is None:
        edns = Edns()  # an extended rcode cannot be said without OPT
    message = attrs.evolve(message, edns=edns)
    if not echo_question:
        message = attrs.evolve(message, question=())
    return message

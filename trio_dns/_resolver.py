"""The recursive resolver: drives the pure decisions through the network.

Theory of operation: `Resolver.resolve` answers one client question. It first
looks in the cache; what is missing it finds by iteration (RFC 1034 section 5.3.3):
start at the deepest zone cut whose nameservers are cached (or the root, primed
from the hints per RFC 8109), ask one of its servers, and let `classify_reply`
say whether the reply is the answer, a referral one level down, a CNAME to
restart from, a negative answer, or a lame server. Each question to a zone's
servers is a staggered race (`_race.py`): the best-ranked address first, the next
one after a delay or a failure, first good reply wins and the rest are cancelled;
each attempt has its own timeout from the server's smoothed RTT.

Names are revealed one label at a time (QNAME minimisation, RFC 9156) until the
zone cut above the full name is found; a server that answers NXDOMAIN to a
minimised name is asked the full name instead, for broken servers do that for
empty non-terminals.

Everything that follows the network is bounded by a per-question `_Work` budget:
total upstream queries, referral steps, CNAME chain length, nameserver names
resolved per delegation (NXNSAttack) and nesting of those lookups, plus an
overall deadline. Running out gives SERVFAIL with an Extended DNS Error, never a
hang. Nameserver names without glue are resolved concurrently; a lookup that would
ask a question already being asked further up its own chain is skipped, so two
zones whose servers live in each other cannot loop. Identical client questions in
flight at once share one resolution. The query budget is 32, as Unbound's
max-sent-count, but for the whole question, sub-lookups included.

Every name has one source: a local zone (or the servers it delegates to), else
the deepest forward zone's upstreams, else the global forwarders, else the
servers found by iteration. What a source says is believed only inside its own
zone (a forwarder's is its forward zone, the root for a global one) and outside
the zones below it that have a source of their own (`_exclusions`); a forwarder's
word ranks as non-authoritative data, below what an authoritative server says.

ANY is answered as Unbound does (RFC 8482): from the cache, the RRsets of the
common types held at the name; else it goes upstream, and each RRset of the
reply is cached on its own. `deny_any` answers NOTIMP instead (Unbound's
deny-any). The other meta-types are not resolved at all.

DNSSEC (`_validation.py`): with a trust anchor (IANA's root keys when the root
hints are IANA's, or `settings.trust_anchors`), upstream queries set DO, the
RRSIGs and NSEC/NSEC3 proofs of replies are kept with the data, and the answer
to the client's question is validated at the end, the DS and DNSKEY sets it
needs being resolved like any other question. A bogus answer is SERVFAIL with
an Extended DNS Error; `cd=True` skips validation (RFC 4035 section 3.2.2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import attrs
import trio

from ._answer import Answer, TraceEvent, servfail
from ._authority import Zone, answer_query, choose_zone
from ._cache import Cache, NegativeKind, Rank, Validation
from ._errors import DNSError, UnknownType
from ._exchange import Exchanger, ExchangeSettings, ExchangeStats
from ._race import RaceFailed, race
from ._recursion import Classification, Outcome, classify_reply, covering
from ._servers import ServerSelection
from ._transport import Address, SocketTransport, Transport, normalize_address
from ._validation import BOGUS_TTL, Validator, Verdict
from ._wire.edns import Edns, ExtendedError
from ._wire.enums import EdeCode, Flag, Rcode, RRClass, RRType
from ._wire.message import Message, Record
from ._wire.name import ROOT, Name
from ._wire.rdtypes.address import AAAA, A
from ._wire.rdtypes.single_name import CNAME, NS

# Types a client may not ask a recursive resolver for: the meta-types (OPT, zone
# transfers, TSIG, TKEY, MAILA, MAILB and the unassigned 128..248), ANY aside.
_REFUSED_TYPES = frozenset(
    RRType(t) for t in (RRType.OPT, *range(128, 256)) if RRType(t) != RRType.ANY
)
# What an ANY question is answered with from the cache, as Unbound does (RFC 8482
# lets a resolver give a subset); a CNAME too, for at an alias it is all there is.
_ANY_FROM_CACHE = (
    RRType.A,
    RRType.AAAA,
    RRType.MX,
    RRType.SOA,
    RRType.NS,
    RRType.DNAME,
    RRType.CNAME,
)
MAX_MINIMISE_COUNT = 10  # RFC 9156 section 2.3: then stop minimising


@attrs.frozen
class ResolverSettings:
    qname_minimisation: bool = True
    use_ipv4: bool = True
    use_ipv6: bool = True
    deadline: float = 10.0  # seconds for one client question, start to finish
    # Upstream queries per client question, its sub-lookups included (Unbound's
    # max-sent-count is 32 too).
    max_queries: int = 32
    max_referrals: int = 30
    max_chain: int = 12  # CNAME/DNAME links followed
    max_glueless_per_delegation: int = 4  # NS names resolved for one zone cut
    max_glueless_depth: int = 4  # nameserver lookups nested inside each other
    rounds: int = 4  # times each zone's server list is gone through before giving up
    # Forwarding: send questions to these resolvers instead of iterating...
    forwarders: tuple[Address, ...] = ()
    # ...or only the questions below these zones (the deepest match wins).
    forward_zones: tuple[tuple[Name, tuple[Address, ...]], ...] = ()
    port: int = 53  # the port nameservers listen on
    edns_payload: int = 1232
    # DNSSEC validation, when there is a trust anchor to validate from.
    dnssec: bool = True
    # DS or DNSKEY records. None: IANA's root anchors if the root hints are IANA's
    # (Resolver(root_hints=None)), else none, so no validation: a private root
    # needs its own anchor.
    trust_anchors: tuple[Record, ...] | None = None
    # Negative trust anchors (RFC 7646): subtrees treated as insecure.
    insecure_domains: tuple[Name, ...] = ()
    nsec3_max_iterations: int = 150  # RFC 9276: above this, NSEC3 proofs are insecure
    # ANY questions: False answers what the cache holds of the common types, or
    # else asks upstream (Unbound's default); True answers NOTIMP at once
    # (Unbound's deny-any).
    deny_any: bool = False
    # 0x20, the unwanted-reply threshold, rebinding protection (_exchange.py).
    exchange: ExchangeSettings = attrs.Factory(ExchangeSettings)


@attrs.define
class ResolverStats:
    questions: int = 0
    cache_answers: int = 0
    upstream_queries: int = 0
    timeouts: int = 0
    # Exchanges that failed outright: unreachable, refused, a malformed reply, a
    # broken TCP connection (the exchange layer's own counters say which).
    failures: int = 0
    lame_replies: int = 0
    server_errors: int = 0
    servfails: int = 0
    shared: int = 0  # questions that joined one already in flight
    # DNSSEC verdicts on answers to client questions.
    secure: int = 0
    insecure: int = 0
    bogus: int = 0


class _OutOfBudget(DNSError):
    def __init__(self, code: EdeCode, text: str) -> None:
        self.code = code
        self.text = text
        super().__init__(text)


class _NoServers(DNSError):
    pass


@attrs.define(eq=False)
class _Work:
    """The budget and trace of one client question, shared by all its sub-lookups."""

    settings: ResolverSettings
    started: float
    trace: list[TraceEvent] | None
    queries: int = 0
    # Set once a limit is hit. Limits are often hit inside a race attempt or a
    # glueless lookup, that is, inside a nursery, where an exception would count
    # as one server failing or arrive wrapped in an ExceptionGroup; so the tasks
    # record it here and the code outside the nursery raises it.
    exhausted: _OutOfBudget | None = None

    def spend_query(self) -> None:
        self.queries += 1
        if self.queries > self.settings.max_queries:
            self.exhausted = _OutOfBudget(
                EdeCode.OTHER, f"gave up after {self.settings.max_queries} upstream queries"
            )
            raise self.exhausted

    def check(self) -> None:
        """Raise the limit that was hit, if one was."""
        if self.exhausted is not None:
            raise self.exhausted

    def note(self, event: TraceEvent) -> None:
        if self.trace is not None:
            self.trace.append(event)

    def elapsed(self) -> float:
        return trio.current_time() - self.started


@attrs.define(eq=False)
class _Flight:
    done: trio.Event = attrs.Factory(trio.Event)
    answer: Answer | None = None


@attrs.frozen
class _Step:
    """What iterating for one name found: the classified final reply."""

    result: Classification


def _hint_records(
    hints: Sequence[Record], port: int
) -> tuple[tuple[Record, ...], dict[Name, list[Address]]]:
    ns = tuple(r for r in hints if r.rtype == RRType.NS and r.name == ROOT)
    addresses: dict[Name, list[Address]] = {}
    for record in hints:
        if isinstance(record.rdata, A | AAAA):
            addresses.setdefault(record.name, []).append(
                normalize_address(record.rdata.address, port)
            )
    return ns, addresses


@attrs.define(eq=False)
class Resolver:
    """A recursive resolver with its own cache. `await resolver.resolve(name, qtype)`."""

    root_hints: Sequence[Record] | None = None
    transport: Transport = attrs.Factory(SocketTransport)
    cache: Cache = attrs.Factory(Cache)
    settings: ResolverSettings = attrs.Factory(ResolverSettings)
    stats: ResolverStats = attrs.Factory(ResolverStats)
    servers: ServerSelection = attrs.Factory(ServerSelection)
    # Zones answered authoritatively, ahead of the cache and of recursion: a home
    # network's names, a blocklist that answers NXDOMAIN.
    local_zones: Sequence[Zone] = ()
    # Wall-clock seconds since 1970, for signature validity (trio's clock is not one).
    clock: Callable[[], float] = time.time
    _exchanger: Exchanger = attrs.field(init=False)
    _edns: Edns = attrs.field(init=False)  # what every upstream query carries
    _validator: Validator = attrs.field(init=False)
    _hint_ns: tuple[Record, ...] = attrs.field(init=False)
    _hint_addresses: dict[Name, list[Address]] = attrs.field(init=False)
    _in_flight: dict[tuple[Name, RRType, RRClass], _Flight] = attrs.field(init=False, factory=dict)
    _priming: trio.Event | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        anchors: Sequence[Record] = self.settings.trust_anchors or ()
        insecure = tuple(self.settings.insecure_domains)
        if self.root_hints is None:
            from ._wire.root_data import root_hints, root_trust_anchors

            self.root_hints = root_hints()
            if self.settings.trust_anchors is None and not self.settings.forwarders:
                # IANA's keys vouch for IANA's root. Upstream resolvers that strip
                # DNSSEC, and the private names forwarded to them, would all be
                # bogus: forwarding is validated only with explicit anchors.
                anchors = root_trust_anchors()
                insecure += tuple(zone for zone, _ in self.settings.forward_zones)
        self._validator = Validator(
            tuple(anchors) if self.settings.dnssec else (),
            lambda: self.clock(),
            insecure,
            self.settings.nsec3_max_iterations,
        )
        # Unbound's defence when the unwanted-reply threshold is reached.
        self._exchanger = Exchanger(self.transport, self.settings.exchange, self.cache.flush)
        self._edns = Edns(payload=self.settings.edns_payload, dnssec_ok=self._validator.active)
        self._hint_ns, self._hint_addresses = _hint_records(self.root_hints, self.settings.port)
        if not self._hint_ns:
            raise DNSError("the root hints name no root nameservers")

    @property
    def exchange_stats(self) -> ExchangeStats:
        return self._exchanger.stats

    @property
    def validating(self) -> bool:
        """Does this resolver validate DNSSEC (enabled, and a trust anchor to start from)?"""
        return self._validator.active

    # -- the public entry point --------------------------------------------------

    async def resolve(
        self,
        name: Name | str,
        qtype: RRType | str | int = RRType.A,
        qclass: RRClass | str | int = RRClass.IN,
        *,
        trace: bool = False,
        cd: bool = False,
    ) -> Answer:
        """Resolve a question. Failure is an Answer with SERVFAIL and a reason;
        an invalid name or type raises DNSError.

        With `cd` (the client's Checking Disabled bit) the answer is not validated:
        bogus data is returned, and `validation` is INDETERMINATE."""
        qname = Name.make(name)
        rtype = RRType.make(qtype)
        rclass = RRClass.make(qclass)
        if rtype in _REFUSED_TYPES:
            raise UnknownType(f"{rtype.name} cannot be resolved recursively")
        self.stats.questions += 1
        if rtype == RRType.ANY and self.settings.deny_any:
            return _denied_any(qname, rclass)
        if cd:
            # Rare, and not to be answered by a validating flight (nor to answer one).
            return await self._resolve_with_deadline(qname, rtype, rclass, trace, cd=True)
        key = (qname, rtype, rclass)
        while not trace and (flight := self._in_flight.get(key)) is not None:
            self.stats.shared += 1
            await flight.done.wait()
            if flight.answer is not None:
                return flight.answer
            # The resolution we joined was cancelled; start our own.
        flight = _Flight()
        if not trace:
            self._in_flight[key] = flight
        try:
            flight.answer = await self._resolve_with_deadline(qname, rtype, rclass, trace)
            return flight.answer
        finally:
            if self._in_flight.get(key) is flight:
                del self._in_flight[key]
            flight.done.set()

    def cached(
        self,
        name: Name | str,
        qtype: RRType | str | int = RRType.A,
        qclass: RRClass | str | int = RRClass.IN,
    ) -> Answer | None:
        """The answer the cache alone can give (following cached CNAMEs), or None.

        What a server answers to RD=0 queries: never goes to the network. When
        validating, the answer carries the validation state cached with its
        parts (INDETERMINATE if one was never validated); bogus data is SERVFAIL."""
        qname = Name.make(name)
        rtype = RRType.make(qtype)
        rclass = RRClass.make(qclass)
        if rtype == RRType.ANY and self.settings.deny_any:
            return _denied_any(qname, rclass)
        work = _Work(self.settings, trio.current_time(), None)
        chain: list[Record] = []
        sigs: list[Record] = []
        current = qname
        for _ in range(self.settings.max_chain + 1):
            local = self._from_local_zones(qname, current, rtype, rclass, chain, work)
            if isinstance(local, Answer):
                return local
            if local is not None:
                assert local.target is not None
                chain.extend(local.answer)
                current = local.target
                continue
            found = self._from_cache(qname, current, rtype, rclass, chain, work, sigs)
            if found is None:
                return None
            if isinstance(found, Answer):
                return self._cached_validation(found, current) if self.validating else found
            chain.append(found)
            assert isinstance(found.rdata, CNAME)
            current = found.rdata.target
        return None

    async def _resolve_with_deadline(
        self, qname: Name, qtype: RRType, qclass: RRClass, trace: bool, cd: bool = False
    ) -> Answer:
        work = _Work(self.settings, trio.current_time(), [] if trace else None)
        answer: Answer | None = None
        with trio.move_on_after(self.settings.deadline):
            try:
                answer = await self._resolve_name(qname, qtype, qclass, work, ())
            except _OutOfBudget as exc:
                answer = servfail(qname, qtype, qclass, exc.code, exc.text)
            except (_NoServers, RaceFailed) as exc:
                answer = servfail(qname, qtype, qclass, EdeCode.NO_REACHABLE_AUTHORITY, str(exc))
        if answer is None:
            answer = servfail(
                qname,
                qtype,
                qclass,
                EdeCode.NO_REACHABLE_AUTHORITY,
                f"no answer within the {self.settings.deadline:g} s deadline",
            )
        if self.validating and not cd and not answer.failed and not answer.authoritative:
            # Within what is left of the same deadline and budget.
            validated: Answer | None = None
            with trio.move_on_after(self.settings.deadline - work.elapsed()):
                try:
                    validated = await self._validated(answer, work)
                except _OutOfBudget as exc:
                    validated = servfail(qname, qtype, qclass, exc.code, exc.text)
                except (_NoServers, RaceFailed) as exc:
                    validated = servfail(
                        qname, qtype, qclass, EdeCode.NO_REACHABLE_AUTHORITY, str(exc)
                    )
            answer = validated or servfail(
                qname,
                qtype,
                qclass,
                EdeCode.NO_REACHABLE_AUTHORITY,
                f"no validated answer within the {self.settings.deadline:g} s deadline",
            )
        if answer.rcode == Rcode.SERVFAIL:
            self.stats.servfails += 1
        if work.trace is not None:
            answer = attrs.evolve(answer, trace=tuple(work.trace))
        return answer

    # -- DNSSEC --------------------------------------------------------------------

    async def _validated(self, answer: Answer, work: _Work) -> Answer:
        """The answer with its DNSSEC verdict; SERVFAIL if bogus."""
        lookup = _Lookup(self, work)
        verdict = await self._validator.validate(answer, lookup)
        self._remember_negative(answer, verdict)
        if verdict.validation is Validation.SECURE:
            self.stats.secure += 1
        elif verdict.validation is Validation.INSECURE:
            self.stats.insecure += 1
        if verdict.validation is Validation.BOGUS:
            self.stats.bogus += 1
            work.note(
                TraceEvent(work.elapsed(), "dnssec", answer.qname, answer.qtype, outcome="bogus")
            )
            return servfail(
                answer.qname,
                answer.qtype,
                answer.qclass,
                verdict.ede or EdeCode.DNSSEC_BOGUS,
                verdict.reason,
                Validation.BOGUS,
            )
        return attrs.evolve(answer, validation=verdict.validation)

    def _remember_negative(self, answer: Answer, verdict: Verdict) -> None:
        """Keep a negative answer's validation state with it in the cache."""
        if answer.rcode == Rcode.NXDOMAIN:
            name, rtype, kind = answer.qname, None, NegativeKind.NXDOMAIN
        elif answer.rcode == Rcode.NOERROR and not answer.rrset():
            name, rtype, kind = answer.qname, answer.qtype, NegativeKind.NODATA
        else:
            return
        for record in answer.records:
            if isinstance(record.rdata, CNAME):
                name = record.rdata.target
        soa = answer.soa
        if verdict.validation is Validation.BOGUS and soa is not None:
            soa = attrs.evolve(soa, ttl=min(soa.ttl, BOGUS_TTL))
        # A forwarder's word stays non-authoritative, validated or not.
        forwarded = self._upstreams_for(name) is not None
        self.cache.put_negative(
            name,
            rtype,
            answer.qclass,
            soa,
            trio.current_time(),
            kind=kind,
            proof=answer.proof,
            rank=Rank.ANSWER if forwarded else Rank.AUTH_ANSWER,
            validation=verdict.validation,
        )

    def remember_validation(
        self,
        rrset: Sequence[Record],
        rrsigs: Sequence[Record],
        validation: Validation,
        ttl: int | None = None,
    ) -> None:
        """Keep an RRset's validation state in the cache; a bogus one only briefly,
        a secure one no longer than its signature allows (`ttl`)."""
        first = rrset[0]
        now = trio.current_time()
        cached = self.cache.get_rrset(first.name, first.rtype, first.rclass, now)
        if cached is None or {r.rdata for r in cached.records} != {r.rdata for r in rrset}:
            return
        records: Sequence[Record] = cached.records
        cap = BOGUS_TTL if validation is Validation.BOGUS else ttl
        if cap is not None:
            records = [attrs.evolve(r, ttl=min(r.ttl, cap)) for r in records]
        self.cache.put_rrset(
            records, cached.rank, now, rrsigs=cached.rrsigs or rrsigs, validation=validation
        )

    def _cached_validation(self, answer: Answer, final: Name) -> Answer:
        """A cached answer with the validation state its cached parts hold."""
        sets: dict[tuple[Name, RRType], list[Record]] = {}
        for record in answer.records:
            sets.setdefault((record.name, record.rtype), []).append(record)
        states = [self.known_validation(rrset) for rrset in sets.values()]
        if answer.rcode == Rcode.NXDOMAIN or not answer.rrset():
            negative = self.cache.get_negative(
                final, answer.qtype, answer.qclass, trio.current_time()
            )
            states.append(Validation.INDETERMINATE if negative is None else negative.validation)
        if Validation.BOGUS in states:
            return servfail(
                answer.qname,
                answer.qtype,
                answer.qclass,
                EdeCode.DNSSEC_BOGUS,
                "cached data failed validation",
                Validation.BOGUS,
            )
        if Validation.INDETERMINATE in states:
            return answer
        validation = Validation.INSECURE if Validation.INSECURE in states else Validation.SECURE
        return attrs.evolve(answer, validation=validation)

    def known_validation(self, rrset: Sequence[Record]) -> Validation:
        """The validation state the cache holds for exactly this RRset."""
        first = rrset[0]
        cached = self.cache.get_rrset(first.name, first.rtype, first.rclass, trio.current_time())
        if cached is None or {r.rdata for r in cached.records} != {r.rdata for r in rrset}:
            return Validation.INDETERMINATE
        return cached.validation

    # -- cache, then iteration, following CNAMEs ----------------------------------

    async def _resolve_name(
        self,
        qname: Name,
        qtype: RRType,
        qclass: RRClass,
        work: _Work,
        path: tuple[tuple[Name, RRType], ...],
    ) -> Answer:
        chain: list[Record] = []
        sigs: list[Record] = []  # the RRSIGs over the chain's records
        current = qname
        seen: set[Name] = set()
        for _ in range(self.settings.max_chain + 1):
            if current in seen:
                return servfail(qname, qtype, qclass, EdeCode.OTHER, f"CNAME loop at {current}")
            seen.add(current)
            local = self._from_local_zones(qname, current, qtype, qclass, chain, work)
            if isinstance(local, Answer):
                return local
            if local is not None:
                chain.extend(local.answer)
                if sum(1 for r in chain if r.rtype == RRType.CNAME) > self.settings.max_chain:
                    break
                assert local.target is not None
                current = local.target  # the chain left the local zone: resolve on
                continue
            cached = self._from_cache(qname, current, qtype, qclass, chain, work, sigs)
            if isinstance(cached, Answer):
                return cached
            if cached is not None:
                chain.append(cached)
                if sum(1 for r in chain if r.rtype == RRType.CNAME) > self.settings.max_chain:
                    break
                assert isinstance(cached.rdata, CNAME)
                current = cached.rdata.target
                continue

            upstreams = self._upstreams_for(current)
            if upstreams is None:
                step = await self._iterate(current, qtype, qclass, work, path)
            else:
                step = await self._forward(current, qtype, qclass, work, *upstreams)
            result = step.result
            chain.extend(result.answer if result.outcome != Outcome.ANSWER else result.chain)
            sigs.extend(_signatures(result.answer, result.rrsigs))
            if sum(1 for r in chain if r.rtype == RRType.CNAME) > self.settings.max_chain:
                break
            if result.outcome == Outcome.ANSWER:
                ttl = min(r.ttl for r in result.answer)
                return Answer(
                    qname,
                    qtype,
                    qclass,
                    Rcode.NOERROR,
                    tuple(chain) + _data(result),
                    ttl=ttl,
                    rrsigs=tuple(sigs),
                    proof=result.proof,
                )
            if result.outcome == Outcome.CNAME:
                assert result.target is not None
                current = result.target
                continue
            negative_rcode = Rcode.NXDOMAIN if result.outcome == Outcome.NXDOMAIN else Rcode.NOERROR
            final = result.target or current
            self.cache.put_negative(
                final,
                None if negative_rcode == Rcode.NXDOMAIN else qtype,
                qclass,
                result.soa,
                trio.current_time(),
                kind=NegativeKind.NXDOMAIN
                if negative_rcode == Rcode.NXDOMAIN
                else NegativeKind.NODATA,
                proof=result.proof,
                rank=result.rank,
            )
            return Answer(
                qname,
                qtype,
                qclass,
                negative_rcode,
                tuple(chain),
                soa=result.soa,
                ttl=min(_negative_ttl(result.soa), self.cache.max_negative_ttl),
                rrsigs=tuple(sigs),
                proof=result.proof,
            )
        return servfail(
            qname,
            qtype,
            qclass,
            EdeCode.OTHER,
            f"CNAME chain longer than {self.settings.max_chain}",
        )

    def _from_local_zones(
        self,
        qname: Name,
        current: Name,
        qtype: RRType,
        qclass: RRClass,
        chain: list[Record],
        work: _Work,
    ) -> Answer | Classification | None:
        """An authoritative Answer from a local zone; or the CNAME chain that leads
        out of it (a Classification whose target is where to go on); or None when
        no local zone covers the name."""
        if not self.local_zones:
            return None
        zone = choose_zone(self.local_zones, current, qtype)
        if zone is None or zone.rclass != qclass:
            return None
        query = Message.make_query(current, qtype, qclass, id=0, flags=Flag(0), edns=None)
        reply = answer_query((zone,), query)
        result = classify_reply(reply, current, qtype, zone.origin)
        work.note(
            TraceEvent(
                work.elapsed(), "local", current, qtype, zone.origin, None, _describe(result)
            )
        )
        local = not chain or all(r.name.is_subdomain(zone.origin) for r in chain)
        records = (*chain, *result.answer)
        if result.outcome == Outcome.ANSWER:
            ttl = min(r.ttl for r in result.answer)
            return Answer(
                qname, qtype, qclass, Rcode.NOERROR, records, ttl=ttl, authoritative=local
            )
        if result.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
            rcode = Rcode.NXDOMAIN if result.outcome == Outcome.NXDOMAIN else Rcode.NOERROR
            return Answer(
                qname,
                qtype,
                qclass,
                rcode,
                records,
                soa=result.soa,
                ttl=_negative_ttl(result.soa),
                authoritative=local,
            )
        if result.outcome == Outcome.CNAME:
            return result
        if result.outcome == Outcome.REFERRAL:
            # A delegation inside a local zone: the zone's word for where the
            # names below the cut are, so iteration starts there (not at the
            # root, which must neither hear private names nor answer for them).
            self._store(result)
        return None

    def _from_cache(
        self,
        qname: Name,
        current: Name,
        qtype: RRType,
        qclass: RRClass,
        chain: list[Record],
        work: _Work,
        sigs: list[Record] | None = None,
    ) -> Answer | Record | None:
        """An Answer from cache, a cached CNAME to follow, or None (go and ask).
        The RRSIGs of a cached CNAME are added to `sigs`."""
        sigs = [] if sigs is None else sigs
        now = trio.current_time()
        if qtype == RRType.ANY:
            return self._any_from_cache(qname, current, qclass, chain, work, sigs)
        hit = self.cache.get_rrset(current, qtype, qclass, now, min_rank=Rank.ANSWER)
        if hit is not None:
            work.note(TraceEvent(work.elapsed(), "cache", current, qtype, outcome="answer"))
            self.stats.cache_answers += 1
            return Answer(
                qname,
                qtype,
                qclass,
                Rcode.NOERROR,
                (*chain, *hit.records),
                ttl=hit.ttl,
                from_cache=True,
                rrsigs=(*sigs, *hit.rrsigs),
            )
        if qtype != RRType.CNAME:
            cname = self.cache.get_rrset(current, RRType.CNAME, qclass, now, min_rank=Rank.ANSWER)
            if cname is not None:
                work.note(
                    TraceEvent(work.elapsed(), "cache", current, RRType.CNAME, outcome="CNAME")
                )
                sigs.extend(cname.rrsigs)
                return cname.records[0]
        negative = self.cache.get_negative(current, qtype, qclass, now)
        if negative is not None:
            work.note(
                TraceEvent(work.elapsed(), "cache", current, qtype, outcome=negative.kind.name)
            )
            self.stats.cache_answers += 1
            rcode = Rcode.NXDOMAIN if negative.kind == NegativeKind.NXDOMAIN else Rcode.NOERROR
            return Answer(
                qname,
                qtype,
                qclass,
                rcode,
                tuple(chain),
                soa=negative.soa,
                ttl=negative.ttl,
                from_cache=True,
                rrsigs=tuple(sigs),
                proof=negative.proof,
            )
        return None

    def _any_from_cache(
        self,
        qname: Name,
        current: Name,
        qclass: RRClass,
        chain: list[Record],
        work: _Work,
        sigs: list[Record],
    ) -> Answer | None:
        """An ANY question answered from the cache: the answer-section RRsets of
        the common types at the name, if there are any (as Unbound does), or a
        cached negative answer; None sends it upstream."""
        now = trio.current_time()
        records: list[Record] = []
        rrsigs: list[Record] = list(sigs)
        ttl: int | None = None
        for rtype in _ANY_FROM_CACHE:
            hit = self.cache.get_rrset(current, rtype, qclass, now, min_rank=Rank.ANSWER)
            if hit is not None:
                records.extend(hit.records)
                rrsigs.extend(hit.rrsigs)
                ttl = hit.ttl if ttl is None else min(ttl, hit.ttl)
        if ttl is not None:
            work.note(TraceEvent(work.elapsed(), "cache", current, RRType.ANY, outcome="answer"))
            self.stats.cache_answers += 1
            return Answer(
                qname,
                RRType.ANY,
                qclass,
                Rcode.NOERROR,
                (*chain, *records),
                ttl=ttl,
                from_cache=True,
                rrsigs=tuple(rrsigs),
            )
        negative = self.cache.get_negative(current, RRType.ANY, qclass, now)
        if negative is None:
            return None
        work.note(
            TraceEvent(work.elapsed(), "cache", current, RRType.ANY, outcome=negative.kind.name)
        )
        self.stats.cache_answers += 1
        rcode = Rcode.NXDOMAIN if negative.kind == NegativeKind.NXDOMAIN else Rcode.NOERROR
        return Answer(
            qname,
            RRType.ANY,
            qclass,
            rcode,
            tuple(chain),
            soa=negative.soa,
            ttl=negative.ttl,
            from_cache=True,
            rrsigs=tuple(sigs),
            proof=negative.proof,
        )

    # -- bailiwick: which source speaks for which names ----------------------------

    def _exclusions(self, zone: Name) -> tuple[Name, ...]:
        """The zones below `zone` that have a source of their own (a forwarder, a
        local zone): a server of `zone` does not speak for them."""
        if not self.settings.forward_zones and not self.local_zones:
            return ()
        own = (
            *(forwarded for forwarded, _ in self.settings.forward_zones),
            *(local.origin for local in self.local_zones),
        )
        return tuple(x for x in own if x != zone and x.is_subdomain(zone))

    # -- forwarding --------------------------------------------------------------

    def _upstreams_for(self, qname: Name) -> tuple[Name, tuple[Address, ...]] | None:
        """The zone forwarded and its upstream resolvers, if this name is forwarded
        rather than iterated: the deepest forward zone above it, else the global
        forwarders (whose zone is the root). A name this far inside a local zone
        lies below one of its delegations, which iteration follows, unless a
        forward zone below the local zone is deeper still."""
        best: tuple[Name, tuple[Address, ...]] | None = None
        for zone, addresses in self.settings.forward_zones:
            if qname.is_subdomain(zone) and (best is None or len(zone) > len(best[0])):
                best = (zone, addresses)
        depth = -1 if best is None else len(best[0])
        if any(len(z.origin) > depth and qname.is_subdomain(z.origin) for z in self.local_zones):
            return None
        if best is not None:
            return best
        return (ROOT, self.settings.forwarders) if self.settings.forwarders else None

    async def _forward(
        self,
        qname: Name,
        qtype: RRType,
        qclass: RRClass,
        work: _Work,
        zone: Name,
        upstreams: tuple[Address, ...],
    ) -> _Step:
        """Ask upstream resolvers (RD set) instead of iterating: the same race,
        timeouts and retries, but their answers are taken without AA, ranked below
        authoritative data, and only inside the forwarded `zone` (what they say
        of other names, a chain's target or a root NS set, they were not asked)."""
        errors: list[tuple[object, BaseException]] = []
        for _ in range(self.settings.rounds):
            candidates = self.servers.rank(list(upstreams), trio.current_time())
            try:
                result = await self._race(
                    zone, candidates, qname, qtype, qclass, work, forward=True
                )
            except RaceFailed as exc:
                errors.extend(exc.errors)
                continue
            self._store(result)
            return _Step(result)
        raise RaceFailed(errors)

    # -- iteration -----------------------------------------------------------------

    async def _iterate(
        self,
        qname: Name,
        qtype: RRType,
        qclass: RRClass,
        work: _Work,
        path: tuple[tuple[Name, RRType], ...],
    ) -> _Step:
        path = (*path, (qname, qtype))
        # DS lives on the parent side of a zone cut (RFC 4035 section 3.1.4.1).
        start_name = qname.parent() if qtype == RRType.DS and not qname.is_root() else qname
        zone, ns = await self._closest_servers(start_name, qclass, work, path)
        minimise = self.settings.qname_minimisation
        depth = len(zone)
        minimised_steps = 0
        fresh_zone = True
        for _ in range(self.settings.max_referrals):
            ask_name, ask_type = qname, qtype
            # If this zone's servers have answered for the parent already, no cut
            # lies between: one look-up instead of one per label.
            look_up_parent = fresh_zone and minimise and depth < len(qname) - 1
            if look_up_parent and self._no_cut_below(qname.parent(), qclass):
                depth = len(qname) - 1
            fresh_zone = False
            if minimise and depth < len(qname) and minimised_steps < MAX_MINIMISE_COUNT:
                depth += 1
                minimised_steps += 1
                ask_name = qname.ancestor(depth)
                if ask_name != qname:
                    if self._no_cut_below(ask_name, qclass):
                        continue  # asked before: it exists, and is no zone cut
                    ask_type = RRType.A  # RFC 9156 section 2.1
            result = await self._ask_zone(zone, ns, ask_name, ask_type, qclass, work, path)
            self._store(result)
            if result.outcome == Outcome.REFERRAL:
                assert result.referral is not None
                if result.answer:
                    # An in-zone CNAME whose target is delegated further down: the
                    # referral is cached, so restarting at the target finds it.
                    return _Step(attrs.evolve(result, outcome=Outcome.CNAME))
                if not result.referral.zone.is_subdomain(zone) or result.referral.zone == zone:
                    raise _OutOfBudget(EdeCode.OTHER, f"referral loop at {zone}")
                zone, ns = result.referral.zone, result.referral.ns
                depth = len(zone)
                fresh_zone = True
                continue
            if ask_name != qname:
                if result.outcome == Outcome.NODATA:
                    # Remembered, so the next name below it skips this step.
                    self.cache.put_negative(
                        ask_name,
                        ask_type,
                        qclass,
                        result.soa,
                        trio.current_time(),
                        kind=NegativeKind.NODATA,
                        proof=result.proof,
                    )
                if result.outcome == Outcome.NXDOMAIN:
                    # Broken servers say NXDOMAIN for empty non-terminals: ask in full.
                    minimise = False
                    depth = len(zone)
                continue  # no cut at this name: reveal one more label
            return _Step(result)
        raise _OutOfBudget(EdeCode.OTHER, f"more than {self.settings.max_referrals} referrals")

    def _no_cut_below(self, name: Name, qclass: RRClass) -> bool:
        """Did the zone's own server already answer for `name` (data or NODATA)?
        Then no zone cut is there, and minimisation need not ask again."""
        now = trio.current_time()
        if self.cache.get_rrset(name, RRType.A, qclass, now, min_rank=Rank.AUTH_ANSWER):
            return True
        negative = self.cache.get_negative(name, RRType.A, qclass, now)
        return negative is not None and negative.kind == NegativeKind.NODATA

    async def _closest_servers(
        self, name: Name, qclass: RRClass, work: _Work, path: tuple[tuple[Name, RRType], ...]
    ) -> tuple[Name, tuple[Record, ...]]:
        cached = self.cache.closest_delegation(name, qclass, trio.current_time())
        if cached is not None and not cached.name.is_root():
            return cached.name, cached.records
        await self._prime(work)
        root = self.cache.get_rrset(ROOT, RRType.NS, qclass, trio.current_time())
        if root is not None:
            return ROOT, root.records
        return ROOT, self._hint_ns

    async def _prime(self, work: _Work) -> None:
        """Learn the current root NS set from the hints (RFC 8109), once at a time."""
        now = trio.current_time()
        if self.cache.get_rrset(ROOT, RRType.NS, RRClass.IN, now, min_rank=Rank.AUTH_ANSWER):
            return
        if self._priming is not None:
            await self._priming.wait()
            return
        self._priming = done = trio.Event()
        try:
            result = await self._ask_zone(
                ROOT, self._hint_ns, ROOT, RRType.NS, RRClass.IN, work, ((ROOT, RRType.NS),)
            )
            self._store(result)
        except (RaceFailed, _NoServers):
            # Fall back to the hints themselves; the next question will prime again.
            work.note(TraceEvent(work.elapsed(), "note", ROOT, RRType.NS, outcome="priming failed"))
        finally:
            self._priming = None
            done.set()

    def _store(self, result: Classification) -> None:
        now = trio.current_time()
        for records, rank in result.to_cache:
            self.cache.put_rrset(records, rank, now, rrsigs=result.rrsigs_for(records))

    # -- asking one zone's servers -------------------------------------------------

    async def _ask_zone(
        self,
        zone: Name,
        ns: Sequence[Record],
        qname: Name,
        qtype: RRType,
        qclass: RRClass,
        work: _Work,
        path: tuple[tuple[Name, RRType], ...],
    ) -> Classification:
        names = [r.rdata.target for r in ns if isinstance(r.rdata, NS)]
        addresses, missing = self._known_addresses(names, zone)
        errors: list[tuple[object, BaseException]] = []
        for round_ in range(self.settings.rounds):
            if round_ == 1 and missing:
                # The servers we had addresses for all failed (or there were none):
                # now it is worth resolving the nameserver names that came without glue.
                addresses += await self._resolve_glueless(missing, zone, work, path)
            if not addresses:
                if missing and round_ == 0:
                    continue
                break
            candidates = self.servers.rank(addresses, trio.current_time())
            try:
                return await self._race(zone, candidates, qname, qtype, qclass, work)
            except RaceFailed as exc:
                errors.extend(exc.errors)
            zone_key = zone.canonical_wire()
            if all(self.servers.is_lame(a, zone_key) for a in candidates) and not missing:
                break  # asking lame servers again will not make them serve the zone
        if errors:
            raise RaceFailed(errors)
        raise _NoServers(f"no usable address for any nameserver of {zone}")

    def _known_addresses(self, names: list[Name], zone: Name) -> tuple[list[Address], list[Name]]:
        now = trio.current_time()
        addresses: list[Address] = []
        missing: list[Name] = []
        families = []
        if self.settings.use_ipv4:
            families.append(RRType.A)
        if self.settings.use_ipv6:
            families.append(RRType.AAAA)
        for name in names:
            found = False
            for rtype in families:
                cached = self.cache.get_rrset(name, rtype, RRClass.IN, now)
                if cached is not None:
                    found = True
                    addresses.extend(self._addresses_of(cached.records))
            if not found and zone.is_root():
                hinted = self._hint_addresses.get(name, [])
                hinted = [a for a in hinted if self._family_allowed(a)]
                if hinted:
                    found = True
                    addresses.extend(hinted)
            if not found:
                missing.append(name)
        return self.servers.rank(addresses, now), missing

    def _family_allowed(self, address: Address) -> bool:
        return self.settings.use_ipv6 if ":" in address[0] else self.settings.use_ipv4

    def _addresses_of(self, records: Sequence[Record]) -> list[Address]:
        out = []
        port = self.settings.port
        for record in records:
            if isinstance(record.rdata, A | AAAA):
                # Already in canonical spelling: A is checked by inet_pton, AAAA
                # normalised, when the rdata is made.
                address = (record.rdata.address, port)
                if self._family_allowed(address):
                    out.append(address)
        return out

    async def _resolve_glueless(
        self, names: list[Name], zone: Name, work: _Work, path: tuple[tuple[Name, RRType], ...]
    ) -> list[Address]:
        """Addresses for nameserver names that came without glue, looked up concurrently."""
        if len(path) > self.settings.max_glueless_depth:
            raise _OutOfBudget(EdeCode.OTHER, "nameserver lookups nested too deeply")
        wanted = []
        for name in names:
            if name.is_subdomain(zone):
                continue  # only glue could have told us; asking the zone itself would loop
            if any(name == asked for asked, _ in path):
                continue  # already being resolved further up this chain: a cycle
            wanted.append(name)
        wanted = wanted[: self.settings.max_glueless_per_delegation]
        own = self._exclusions(zone)
        if own:
            # A name in a zone below with a source of its own (a forwarder, a local
            # zone) is not this zone's to tell, and asking that source cannot loop.
            wanted += [
                name
                for name in names
                if any(name.is_subdomain(x) for x in own)
                and not any(name == asked for asked, _ in path)
                and name not in wanted
            ]
            wanted = wanted[: self.settings.max_glueless_per_delegation]
        found: list[Address] = []

        async def lookup(name: Name, rtype: RRType) -> None:
            work.note(
                TraceEvent(work.elapsed(), "glueless", name, rtype, zone=zone, outcome="resolving")
            )
            try:
                answer = await self._resolve_name(name, rtype, RRClass.IN, work, path)
            except (RaceFailed, _NoServers):
                return
            except _OutOfBudget as exc:
                work.exhausted = exc  # raised below, outside the nursery
                return
            found.extend(self._addresses_of(answer.rrset(rtype)))

        # IPv4 first, all names at once; IPv6 only if that found nothing, which
        # halves the cost of the common case.
        for rtype, enabled in (
            (RRType.A, self.settings.use_ipv4),
            (RRType.AAAA, self.settings.use_ipv6),
        ):
            if not enabled:
                continue
            async with trio.open_nursery() as nursery:
                for name in wanted:
                    nursery.start_soon(lookup, name, rtype)
            work.check()
            if found:
                break
        return found

    async def _race(
        self,
        zone: Name,
        candidates: list[Address],
        qname: Name,
        qtype: RRType,
        qclass: RRClass,
        work: _Work,
        *,
        forward: bool = False,
    ) -> Classification:
        zone_key = zone.canonical_wire()
        usable = [a for a in candidates if not self.servers.is_lame(a, zone_key)] or candidates
        exclude = self._exclusions(zone)

        async def attempt(address: Address) -> Classification:
            work.spend_query()
            self.stats.upstream_queries += 1
            query = Message.make_query(
                qname, qtype, qclass, flags=Flag.RD if forward else Flag(0), edns=self._edns
            )
            started = trio.current_time()
            timeout = self.servers.timeout(address)
            reply: Message | None = None
            try:
                # A bare scope, not fail_after: this runs once per upstream query,
                # and fail_after's generator-based context manager costs more.
                with trio.CancelScope(deadline=started + timeout):
                    reply = await self._exchanger.exchange(address, query)
            except trio.Cancelled:
                # Another server won the race. Silence for this long is still
                # evidence: without it, a dead server keeps its "never tried"
                # estimate and stays first in line.
                waited = trio.current_time() - started
                self.servers.record_unanswered(address, waited)
                self._trace_query(
                    work,
                    zone,
                    qname,
                    qtype,
                    address,
                    f"cancelled, no reply after {waited * 1000:.0f} ms",
                    None,
                )
                raise
            except (DNSError, OSError) as exc:
                self.stats.failures += 1
                self.servers.record_failure(address, trio.current_time())
                self._trace_query(work, zone, qname, qtype, address, f"error: {exc}", None)
                raise
            if reply is None:
                self.stats.timeouts += 1
                self.servers.record_timeout(address, trio.current_time())
                self._trace_query(
                    work, zone, qname, qtype, address, f"timeout after {timeout:.2f} s", None
                )
                raise trio.TooSlowError
            rtt = trio.current_time() - started
            result = classify_reply(
                reply, qname, qtype, zone, authoritative=not forward, exclude=exclude
            )
            if forward and Flag.RA not in reply.flags and Flag.AA not in reply.flags:
                # Neither recursion nor authority: this upstream will not resolve for us.
                result = Classification(Outcome.LAME, reason="upstream does not recurse (RA clear)")
            if work.trace is not None:  # describing costs more than the rest of this step
                self._trace_query(work, zone, qname, qtype, address, _describe(result), rtt)
            if result.outcome == Outcome.LAME:
                self.stats.lame_replies += 1
                self.servers.mark_lame(address, zone_key)
                self.servers.record_failure(address, trio.current_time())
                raise _Unusable(f"{address[0]} is lame for {zone}: {result.reason}")
            if result.outcome == Outcome.SERVER_ERROR:
                self.stats.server_errors += 1
                self.servers.record_failure(address, trio.current_time())
                raise _Unusable(f"{address[0]}: {result.reason}")
            self.servers.record_success(address, rtt)
            return result

        try:
            outcome = await race(usable, attempt, self.servers.stagger)
        except RaceFailed:
            work.check()  # out of budget is not "every server failed"
            raise
        if work.trace is not None:
            for event in reversed(work.trace):
                if event.server == outcome.winner and event.kind == "query":
                    work.trace[work.trace.index(event)] = attrs.evolve(
                        event, winner=outcome.started > 1
                    )
                    break
        return outcome.value

    def _trace_query(
        self,
        work: _Work,
        zone: Name,
        qname: Name,
        qtype: RRType,
        address: Address,
        outcome: str,
        rtt: float | None,
    ) -> None:
        if work.trace is not None:
            work.note(
                TraceEvent(work.elapsed(), "query", qname, qtype, zone, address, outcome, rtt)
            )


@attrs.define(eq=False)
class _Lookup:
    """The validator's view of the resolver, for one client question."""

    resolver: Resolver
    work: _Work

    async def fetch(self, name: Name, rtype: RRType) -> Answer:
        cache = self.resolver.cache
        if rtype == RRType.DS:
            # A signed parent's referral carried the DS set: no need to ask again.
            cached = cache.get_rrset(name, rtype, RRClass.IN, trio.current_time())
            if cached is not None:
                return Answer(
                    name,
                    rtype,
                    RRClass.IN,
                    Rcode.NOERROR,
                    cached.records,
                    ttl=cached.ttl,
                    from_cache=True,
                    rrsigs=cached.rrsigs,
                )
        path = ((name, rtype),)  # not the client's question: fetched unvalidated
        return await self.resolver._resolve_name(name, rtype, RRClass.IN, self.work, path)

    def zone_of(self, name: Name) -> Name:
        found = self.resolver.cache.closest_delegation(name, RRClass.IN, trio.current_time())
        return ROOT if found is None else found.name

    def note(self, name: Name, rtype: RRType, text: str) -> None:
        self.work.note(TraceEvent(self.work.elapsed(), "dnssec", name, rtype, outcome=text))

    def known(self, rrset: Sequence[Record]) -> Validation:
        return self.resolver.known_validation(rrset)

    def remember(
        self,
        rrset: Sequence[Record],
        rrsigs: Sequence[Record],
        validation: Validation,
        ttl: int | None = None,
    ) -> None:
        self.resolver.remember_validation(rrset, rrsigs, validation, ttl)


class _Unusable(DNSError):
    """A reply that means this server cannot help (lame, SERVFAIL, ...)."""


def _describe(result: Classification) -> str:
    if result.outcome == Outcome.REFERRAL and result.referral is not None:
        return f"referral to {result.referral.zone}"
    if result.outcome in (Outcome.LAME, Outcome.SERVER_ERROR):
        return f"{result.outcome.value}: {result.reason}"
    if result.outcome == Outcome.CNAME and result.target is not None:
        return f"CNAME to {result.target}"
    return str(result.outcome.value)


def _signatures(records: Sequence[Record], rrsigs: Sequence[Record]) -> list[Record]:
    """The RRSIGs among `rrsigs` over the RRsets of `records`."""
    out: list[Record] = []
    sets: dict[tuple[Name, RRType], list[Record]] = {}
    for record in records:
        sets.setdefault((record.name, record.rtype), []).append(record)
    for rrset in sets.values():
        out.extend(covering(rrset, rrsigs))
    return out


def _denied_any(qname: Name, qclass: RRClass) -> Answer:
    """NOTIMP for ANY, as Unbound's deny-any answers (and Knot Resolver's any_notimp
    module, with the same Extended DNS Error)."""
    return Answer(
        qname,
        RRType.ANY,
        qclass,
        Rcode.NOTIMP,
        error=ExtendedError(EdeCode.NOT_SUPPORTED, "ANY is not answered here (RFC 8482)"),
    )


def _data(result: Classification) -> tuple[Record, ...]:
    chain = set(id(r) for r in result.chain)
    return tuple(r for r in result.answer if id(r) not in chain)


def _negative_ttl(soa: Record | None) -> int:
    if soa is None:
        return 0
    minimum = getattr(soa.rdata, "minimum", soa.ttl)
    return int(min(soa.ttl, minimum))


_default: Resolver | None = None


def default_resolver() -> Resolver:
    """The process-wide resolver behind `trio_dns.resolve`."""
    global _default
    if _default is None:
        _default = Resolver()
    return _default


async def resolve(
    name: Name | str, qtype: RRType | str | int = RRType.A, qclass: RRClass | str | int = RRClass.IN
) -> Answer:
    """Resolve `name` from the root servers with the process-wide resolver and cache."""
    return await default_resolver().resolve(name, qtype, qclass)

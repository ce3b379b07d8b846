"""The recursive resolver: drives the pure decisions through the network.

Theory of operation: `Resolver.resolve` answers one client question. The
decisions live in `_iteration.py`, an `Iteration` that does no I/O: it reads
the cache and the local zones (`_cache_path.py`, the one way to an answer
already known), and asks for what it needs one step at a time. This module is
its driver. It gives each step to the network: an `Ask` becomes a staggered
race (`_race.py`) between the zone's servers, best-ranked first, the next one
after a delay or a failure, first good reply wins and the rest are cancelled,
each attempt with its own timeout from the server's smoothed RTT; a `Resolve`
becomes concurrent sub-resolutions of nameserver names that came without glue;
a `Prime` the one priming query (RFC 8109) every question waiting on it shares.

The driver also owns what needs Trio: the deadline of each client question,
the sharing of identical questions in flight, and DNSSEC validation
(`_validation.py`), whose DS and DNSKEY look-ups are resolutions like any
other. With a trust anchor (IANA's root keys when the root hints are IANA's, or
`settings.trust_anchors`), upstream queries set DO, and the answer to the
client's question is validated at the end unless its parts were validated
already. A bogus answer is SERVFAIL with an Extended DNS Error; `cd=True` skips
validation (RFC 4035 section 3.2.2).

Every name has one source: a local zone (or the servers it delegates to), else
the deepest forward zone's upstreams, else the global forwarders, else the
servers found by iteration. What a source says is believed only inside its own
zone (a forwarder's is its forward zone, the root for a global one) and outside
the zones below it that have a source of their own; a forwarder's word ranks as
non-authoritative data, below what an authoritative server says.

Each client question not shared with another goes through `freshness.py`
(`Resolver.freshness`): serve-stale, which answers from expired data when the
authorities cannot be reached, and prefetch, which refreshes in the background
what is asked for shortly before it expires.

ANY is answered as Unbound does (RFC 8482): from the cache, the RRsets of the
common types held at the name; else it goes upstream, and each RRset of the
reply is cached on its own. `deny_any` answers NOTIMP instead (Unbound's
deny-any). The other meta-types are not resolved at all.

Time: the cache and the validator follow `clock`, wall-clock seconds (the
transport's own clock when it has one: the fake network's is virtual), so a
Resolver that outlives one `trio.run` keeps correct TTLs; deadlines, RTTs and
traces follow Trio's clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Sequence

import attrs
import trio

from .._address import is_loopback
from .._decisions.aggressive import AggressiveCache, remember_secure
from .._decisions.answer import Answer, TraceEvent, servfail
from .._decisions.authority import Zone
from .._decisions.cache import Cache
from .._decisions.cache_path import (
    answer_from_cache,
    denied_any,
    known_validation,
    referral_from_cache,
)
from .._decisions.iteration import (
    Addresses,
    Ask,
    Context,
    DeadlinePassed,
    Done,
    Failed,
    Iteration,
    NoServers,
    OutOfBudget,
    Prime,
    Primed,
    Replied,
    Resolve,
    Stats,
    Unreachable,
    Work,
    hint_records,
)
from .._decisions.ratelimit import TokenBuckets
from .._decisions.recursion import Classification, Outcome, describe
from .._decisions.servers import ServerSelection
from .._decisions.validation import BOGUS_TTL, Validator, Verdict
from .._errors import DNSError, UnknownType
from .._trust import NegativeKind, Rank, Validation
from .._wire.edns import Edns, EdnsOption, ExtendedError
from .._wire.enums import EdeCode, Flag, Rcode, RRClass, RRType
from .._wire.message import Message, Record
from .._wire.name import ROOT, Name
from .._wire.rdtypes.address import AAAA, A
from .._wire.rdtypes.nsec import NSEC
from .._wire.rdtypes.single_name import CNAME, NS
from .._wire.rrset import rrsets
from .exchange import Exchanger, ExchangeSettings, ExchangeStats
from .freshness import Freshness
from .lifetime import check_lifetime, within_lifetime
from .race import RaceFailed, race
from .redis_cache import RedisCache
from .transport import Address, SocketTransport, Transport

# Types a client may not ask a recursive resolver for: the meta-types (OPT, zone
# transfers, TSIG, TKEY, MAILA, MAILB and the unassigned 128..248), ANY aside.
_REFUSED_TYPES = frozenset(
    RRType(t) for t in (RRType.OPT, *range(128, 256)) if RRType(t) != RRType.ANY
)

ResolverStats = Stats


# How many times a question whose answer proved bogus is asked again, each time of
# servers other than those that gave the bogus one (Unbound retries too).
BOGUS_RETRIES = 2
# Calling an enum class costs more than the lookup it saves: made once.
_NO_FLAGS = Flag(0)


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
    # Ask nameservers at loopback addresses (127.0.0.0/8, ::1) that referrals and
    # answers name? None: only if a root hint or forwarder is on loopback itself,
    # as on a simulated internet; otherwise never (Unbound's
    # do-not-query-localhost). Hints and forwarders are always asked.
    query_loopback: bool | None = None
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
    # Serve-stale (RFC 8767; Unbound's serve-expired, off by default there too):
    # when the authorities cannot be reached, answer from data expired up to
    # stale_max_age seconds ago, with TTL stale_answer_ttl and EDE 3. A client
    # waits stale_answer_client_timeout seconds at most for a resolution that
    # would replace stale data (0: until it ends); it goes on meanwhile.
    serve_stale: bool = False
    stale_max_age: int = 86400  # Unbound's serve-expired-ttl
    stale_answer_ttl: int = 30  # RFC 8767 section 4; Unbound's serve-expired-reply-ttl
    stale_answer_client_timeout: float = 1.8  # RFC 8767 section 5's suggestion
    # Refresh in the background a cached RRset asked for in the last tenth of its
    # TTL (Unbound's prefetch; BIND and Knot Resolver prefetch by default too).
    prefetch: bool = True
    max_prefetches: int = 100  # refreshes at once; more due ones wait for the next ask
    # ANY questions: False answers what the cache holds of the common types, or
    # else asks upstream (Unbound's default); True answers NOTIMP at once
    # (Unbound's deny-any).
    deny_any: bool = False
    # RFC 8198: answer NXDOMAIN and NODATA from validated NSEC/NSEC3 ranges held
    # from earlier answers, without asking (Unbound's aggressive-nsec, Knot's default).
    aggressive_nsec: bool = True
    # 0x20, the unwanted-reply threshold, rebinding protection (_exchange.py).
    exchange: ExchangeSettings = attrs.Factory(ExchangeSettings)
    # Upstream questions a second per zone (0: no limit; Unbound's ratelimit): a
    # resolution that needs one more for a zone over it is SERVFAIL, so a flood
    # of random names below one victim zone costs that zone a bounded rate.
    ratelimit: int = attrs.field(default=0, validator=attrs.validators.ge(0))


@attrs.define(eq=False)
class _Flight:
    done: trio.Event = attrs.Factory(trio.Event)
    answer: Answer | None = None


@attrs.define(eq=False)
class Resolver:
    """A recursive resolver with its own cache. `await resolver.resolve(name, qtype)`."""

    root_hints: Sequence[Record] | None = None
    transport: Transport = attrs.Factory(SocketTransport)
    cache: Cache = attrs.Factory(Cache)
    settings: ResolverSettings = attrs.Factory(ResolverSettings)
    stats: Stats = attrs.Factory(Stats)
    servers: ServerSelection = attrs.Factory(ServerSelection)
    # Zones answered authoritatively, ahead of the cache and of recursion: a home
    # network's names, a blocklist that answers NXDOMAIN.
    local_zones: Sequence[Zone] = ()
    # Wall-clock seconds since 1970, for cache ages and signature validity. None:
    # the transport's clock if it has one (the fake network's is virtual), else
    # time.time.
    clock: Callable[[], float] | None = None
    # A cache shared by a fleet of resolvers, behind our own (whose stores it
    # receives: cache=shared_cache.sharing()). Asked before iterating.
    shared_cache: RedisCache | None = None
    # Serve-stale and prefetch; the server runs its background tasks (`run`).
    freshness: Freshness = attrs.field(
        init=False, default=attrs.Factory(Freshness, takes_self=True)
    )
    _exchanger: Exchanger = attrs.field(init=False)
    _edns: Edns = attrs.field(init=False)  # what every upstream query carries
    _validator: Validator = attrs.field(init=False)
    _context: Context = attrs.field(init=False)
    # Keyed by the name's canonical wire form, as the cache is: bytes hash in C.
    _in_flight: dict[tuple[bytes, RRType, RRClass], _Flight] = attrs.field(init=False, factory=dict)
    _priming: trio.Event | None = attrs.field(init=False, default=None)
    # Called after the cache is flushed, for caches made from it (the server's
    # encoded replies).
    _on_flush: list[Callable[[], None]] = attrs.field(init=False, factory=list)
    _zone_limit: TokenBuckets[bytes] | None = attrs.field(init=False, default=None)
    # Upstream questions not asked: their zone was over `settings.ratelimit`.
    ratelimited: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if self.clock is None:
            self.clock = getattr(self.transport, "clock", None) or time.time
        # Unbound's defence when the unwanted-reply threshold is reached.
        self._exchanger = Exchanger(self.transport, self.settings.exchange, self.flush)
        self._assemble(self.settings, self.root_hints, self.local_zones)

    def _assemble(
        self,
        settings: ResolverSettings,
        root_hints: Sequence[Record] | None,
        local_zones: Sequence[Zone],
    ) -> None:
        """Make what follows from the settings, the root hints and the local zones.

        Everything is built before anything is replaced, so a failure changes
        nothing. The cache, the server selection, the exchanger's memories and
        the statistics are kept; so are the validator's learnt keys and the
        aggressive cache's ranges while what they depend on stays the same.
        Resolutions under way keep the context they started with."""
        clock = self.clock
        assert clock is not None
        anchors: Sequence[Record] = settings.trust_anchors or ()
        insecure = tuple(settings.insecure_domains)
        if root_hints is None:
            from .._wire.root_data import root_hints as iana_hints
            from .._wire.root_data import root_trust_anchors

            root_hints = iana_hints()
            if settings.trust_anchors is None and not settings.forwarders:
                # IANA's keys vouch for IANA's root. Upstream resolvers that strip
                # DNSSEC, and the private names forwarded to them, would all be
                # bogus: forwarding is validated only with explicit anchors.
                anchors = root_trust_anchors()
                insecure += tuple(zone for zone, _ in settings.forward_zones)
        validator = Validator(
            tuple(anchors) if settings.dnssec else (),
            clock,
            insecure,
            settings.nsec3_max_iterations,
        )
        old: Validator | None = getattr(self, "_validator", None)
        if old is not None and (old.anchors, old.insecure_domains, old.nsec3_max_iterations) == (
            validator.anchors,
            validator.insecure_domains,
            validator.nsec3_max_iterations,
        ):
            validator = old
        hint_ns, hint_addresses = hint_records(root_hints, settings.port)
        query_loopback = settings.query_loopback
        if query_loopback is None:
            # A root or an upstream on loopback means the internet is on loopback.
            given = [a for addresses in hint_addresses.values() for a in addresses]
            given += settings.forwarders
            given += [a for _, addresses in settings.forward_zones for a in addresses]
            query_loopback = any(is_loopback(a[0]) for a in given)
        if not hint_ns:
            raise DNSError("the root hints name no root nameservers")
        aggressive: AggressiveCache | None = None
        if settings.aggressive_nsec and validator.active:
            context: Context | None = getattr(self, "_context", None)
            aggressive = None if context is None else context.aggressive
            if aggressive is None or (aggressive.max_iterations, aggressive.insecure_domains) != (
                settings.nsec3_max_iterations,
                validator.insecure_domains,
            ):
                aggressive = AggressiveCache(
                    max_iterations=settings.nsec3_max_iterations,
                    insecure_domains=validator.insecure_domains,
                )
        self._context = Context(
            self.cache,
            settings,
            self.servers,
            local_zones,
            hint_ns,
            hint_addresses,
            tuple(r for r in root_hints if isinstance(r.rdata, A | AAAA)),
            clock,
            self.stats,
            aggressive,
            query_loopback=query_loopback,
        )
        self._validator = validator
        self._edns = Edns(payload=settings.edns_payload, dnssec_ok=validator.active)
        self._exchanger.settings = settings.exchange
        self.settings, self.root_hints, self.local_zones = settings, root_hints, local_zones

    def reconfigure(
        self,
        settings: ResolverSettings,
        *,
        root_hints: Sequence[Record] | None = None,
        local_zones: Sequence[Zone] = (),
    ) -> None:
        """Serve with new settings, root hints (None: IANA's) and local zones from
        the next question on, keeping the cache and what was learnt of servers.
        Raises DNSError, and changes nothing, if the hints name no root server."""
        self._assemble(settings, root_hints, local_zones)
        # Serve-stale turned on (or kept longer) needs the cache to keep expired data.
        self.freshness._retain()

    # -- for operators (`trio-dns control`) -----------------------------------------

    def flush_name(self, name: Name, rtype: RRType | None = None) -> int:
        """Forget what is cached at `name` (of `rtype` only, if given); how many
        entries went. Replies made from the cache go too (`on_flush`)."""
        removed = self.cache.remove_name(name, rtype)
        self._flushed()
        return removed

    def flush_all(self) -> int:
        """Forget everything cached, the validated denial ranges too; how many
        entries went."""
        count = len(self.cache)
        self.cache.flush()
        self._flushed()
        return count

    def flush_zone(self, zone: Name) -> int:
        """Forget everything cached at `zone` and below it; how many entries went."""
        removed = self.cache.remove_subtree(zone)
        self._flushed()
        return removed

    def flush_infra(self, address: Address | None = None) -> int:
        """Forget what was learnt of `address` (or every server): smoothed RTT,
        failures, lameness, no EDNS, no 0x20. How many memories went."""
        no_edns, no_caps = self._exchanger.forget(address)
        return self.servers.forget(address) + no_edns + no_caps

    def upstreams_for(self, name: Name) -> tuple[Name, tuple[Address, ...]] | None:
        """The forward zone and upstream resolvers that `name` is sent to, if any."""
        return self._context.upstreams_for(name)

    @property
    def root_ns(self) -> tuple[Record, ...]:
        """The root NS set of the hints (before priming replaces it in the cache)."""
        return self._context.hint_ns

    def server_memory(self, address: Address) -> tuple[bool, bool]:
        """Whether `address` is remembered as refusing EDNS, and as not echoing case."""
        return self._exchanger.edns_refused(address), not self._exchanger.echoes_case(address)

    def _flushed(self) -> None:
        # Validated denial ranges can prove a flushed name away: they go too.
        if self._context.aggressive is not None:
            self._context.aggressive.flush()
        for hook in self._on_flush:
            hook()

    @property
    def exchange_stats(self) -> ExchangeStats:
        return self._exchanger.stats

    @property
    def validating(self) -> bool:
        """Does this resolver validate DNSSEC (enabled, and a trust anchor to start from)?"""
        return self._validator.active

    def flush(self) -> None:
        """Forget everything cached, and everything made from it (`on_flush`)."""
        self.cache.flush()
        for hook in self._on_flush:
            hook()

    def on_flush(self, hook: Callable[[], None]) -> None:
        """Call `hook` whenever the cache is flushed (as the unwanted-reply
        threshold does)."""
        self._on_flush.append(hook)

    def now(self) -> float:
        """The wall-clock time the cache is aged by."""
        return self._context.clock()

    # -- the public entry points -------------------------------------------------

    @classmethod
    def from_system(
        cls, resolv_conf: str | os.PathLike[str] = "/etc/resolv.conf", *, port: int = 53
    ) -> Resolver:
        """The system's stub resolver (`SystemResolver`): resolv.conf's nameservers,
        search list and options, read now; if it names no nameserver, recursion
        from the root servers, with a warning logged. `port`: the nameservers'."""
        # Here, not at the top: system.py builds on this module.
        from .system import SystemResolver

        return SystemResolver.from_file(resolv_conf, port=port)

    async def resolve(
        self,
        name: Name | str,
        qtype: RRType | str | int = RRType.A,
        qclass: RRClass | str | int = RRClass.IN,
        *,
        trace: bool = False,
        cd: bool = False,
        lifetime: float | None = None,
    ) -> Answer:
        """Resolve a question. Failure is an Answer with SERVFAIL and a reason
        (`answer.raise_for_status()` raises instead); an invalid name or type
        raises DNSError.

        With `cd` (the client's Checking Disabled bit) the answer is not validated:
        bogus data is returned, and `validation` is INDETERMINATE. `lifetime`
        bounds this call in seconds, as the `deadline` setting bounds every call."""
        qname = Name.make(name)
        rtype = RRType.make(qtype)
        rclass = RRClass.make(qclass)
        if rtype in _REFUSED_TYPES:
            raise UnknownType(f"{rtype.name} cannot be resolved recursively")
        if lifetime is not None:
            check_lifetime(lifetime)
            again = self.resolve(qname, rtype, rclass, trace=trace, cd=cd)
            return await within_lifetime(lifetime, again, qname, rtype, rclass)
        self.stats.questions += 1
        if rtype == RRType.ANY and self.settings.deny_any:
            return denied_any(qname, rclass)
        if cd:
            # Rare, and not to be answered by a validating flight (nor to answer one).
            return await self._resolve_with_deadline(qname, rtype, rclass, trace, cd=True)
        key = (qname.canonical_wire(), rtype, rclass)
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
            if trace:
                flight.answer = await self._resolve_with_deadline(qname, rtype, rclass, trace)
            else:
                flight.answer = await self.freshness.resolve(qname, rtype, rclass)
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
        """The answer local zones and the cache alone can give (following cached
        CNAMEs), or None.

        What a server answers to RD=0 queries: never goes to the network. When
        validating, the answer carries the validation state cached with its
        parts (INDETERMINATE if one was never validated); bogus data is SERVFAIL."""
        qname = Name.make(name)
        rtype = RRType.make(qtype)
        rclass = RRClass.make(qclass)
        if rtype == RRType.ANY and self.settings.deny_any:
            return denied_any(qname, rclass)
        return answer_from_cache(self._context, qname, rtype, rclass, self._work(None))

    def referral(self, name: Name) -> tuple[tuple[Record, ...], tuple[Record, ...]]:
        """The closest zone cut known above `name` (NS set, glue): for RD=0."""
        return referral_from_cache(self._context, name)

    def _work(self, trace: list[TraceEvent] | None, cd: bool = False) -> Work:
        # The run's clock itself, not trio.current_time, which looks it up again
        # on every call: a resolution reads the time a dozen times.
        monotonic = trio.lowlevel.current_clock().current_time
        now = monotonic()
        return Work(
            self.settings, now, monotonic, trace, cd=cd, deadline=now + self.settings.deadline
        )

    async def _resolve_with_deadline(
        self, qname: Name, qtype: RRType, qclass: RRClass, trace: bool, cd: bool = False
    ) -> Answer:
        work = self._work([] if trace else None, cd)
        for retry in range(BOGUS_RETRIES + 1):
            answer, made_of = await self._resolve_and_validate(qname, qtype, qclass, work, cd)
            if answer.validation is not Validation.BOGUS or not work.answered:
                break
            if retry < BOGUS_RETRIES and self._forget_bogus(made_of, work):
                self.stats.bogus -= 1  # one question, one verdict: the next attempt's
                continue
            break
        if answer.rcode == Rcode.SERVFAIL:
            self.stats.servfails += 1
        trace_events = () if work.trace is None else tuple(work.trace)
        return attrs.evolve(answer, trace=trace_events, expires=self.now() + answer.ttl)

    def _forget_bogus(self, answer: Answer, work: Work) -> bool:
        """After a bogus answer: forget what it was made of (its records, and the
        keys of zones found bogus), and ask the servers that gave it last, so the
        question can be asked again of the zone's other servers, as Unbound does.
        False if no other server is left to try."""
        avoid = work.avoid | work.answered
        if avoid == work.avoid or not self._other_servers(answer.qname, answer.qclass, avoid):
            return False
        work.event("dnssec", answer.qname, answer.qtype, outcome="bogus: asking other servers")
        work.avoid, work.answered = frozenset(avoid), set()
        cache, qclass = self.cache, answer.qclass
        cache.remove(answer.qname, None, qclass)
        cache.remove(answer.qname, answer.qtype, qclass)
        for rrset in rrsets(answer.records).values():
            cache.remove(rrset[0].name, rrset[0].rtype, qclass)
        for zone in self._validator.forget_bogus():
            cache.remove(zone, RRType.DNSKEY, qclass)
            cache.remove(zone, RRType.DS, qclass)
        if self._context.aggressive is not None:
            self._context.aggressive.flush()
        return True

    def _other_servers(self, name: Name, qclass: RRClass, asked: frozenset[Address]) -> bool:
        """Does a zone at or above `name` (below the root, whose servers are many)
        have a nameserver not in `asked`: one with an address not asked yet, or with
        none known (a lookup may find one)?"""
        cache, now = self.cache, self.now()
        zone = name
        while not zone.is_root():
            cut = cache.get_rrset(zone, RRType.NS, qclass, now)
            for record in cut.records if cut is not None else ():
                if not isinstance(record.rdata, NS):
                    continue
                found = [
                    address
                    for rtype in (RRType.A, RRType.AAAA)
                    if (cached := cache.get_rrset(record.rdata.target, rtype, qclass, now))
                    for address in self._context.addresses_of(cached.records)
                ]
                if not found or any(a not in asked for a in found):
                    return True
            zone = zone.parent()
        return False

    async def _resolve_and_validate(
        self, qname: Name, qtype: RRType, qclass: RRClass, work: Work, cd: bool
    ) -> tuple[Answer, Answer]:
        """The answer to give, and the one it was made from (before validation)."""
        # No cancel scope for the deadline: every upstream query's own ends by
        # then (work.deadline), which saves entering and leaving one scope per
        # question. DeadlinePassed says it came; _guarded makes the SERVFAIL.
        answer = await self._guarded(
            self._resolve_name(qname, qtype, qclass, work, ()), qname, qtype, qclass
        )
        made_of = answer
        needs_validation = (
            self.validating
            and not cd
            and not answer.failed
            and not answer.authoritative
            and answer.validation is Validation.INDETERMINATE
        )
        if needs_validation:
            # Within what is left of the same deadline and budget.
            validated: Answer | None = None
            with trio.move_on_after(self.settings.deadline - work.elapsed()):
                validated = await self._guarded(self._validated(answer, work), qname, qtype, qclass)
            answer = validated or servfail(
                qname,
                qtype,
                qclass,
                EdeCode.NO_REACHABLE_AUTHORITY,
                f"no validated answer within the {self.settings.deadline:g} s deadline",
                timed_out=True,
            )
        elif answer.from_cache and not answer.failed:
            self._count_verdict(answer.validation)
        return answer, made_of

    @staticmethod
    async def _guarded(
        resolution: Awaitable[Answer], qname: Name, qtype: RRType, qclass: RRClass
    ) -> Answer:
        """Await a resolution; the ways it can stop short become SERVFAIL."""
        try:
            return await resolution
        except DeadlinePassed as exc:
            return servfail(qname, qtype, qclass, exc.code, exc.text, timed_out=True)
        except OutOfBudget as exc:
            return servfail(qname, qtype, qclass, exc.code, exc.text)
        except (NoServers, Unreachable, RaceFailed) as exc:
            return _unreachable(qname, qtype, qclass, exc)

    # -- driving one Iteration ------------------------------------------------------

    async def _resolve_name(
        self,
        qname: Name,
        qtype: RRType,
        qclass: RRClass,
        work: Work,
        path: tuple[tuple[Name, RRType], ...],
    ) -> Answer:
        if self.shared_cache is not None:
            await self._from_shared_cache(qname, qtype, qclass, work)
        iteration = Iteration(self._context, qname, qtype, qclass, work, path)
        return await self._drive(iteration)

    async def _from_shared_cache(
        self, qname: Name, qtype: RRType, qclass: RRClass, work: Work
    ) -> None:
        """On a miss in our own cache, what the shared cache holds for the question
        goes into ours, where the iteration's cache path finds it."""
        assert self.shared_cache is not None
        # A look of its own (no trace): the iteration's cache path tells the story.
        look = self._work(None, work.cd)
        if answer_from_cache(self._context, qname, qtype, qclass, look) is None:
            await self.shared_cache.fill(self.cache, qname, qtype, qclass, self._context.clock)

    async def _drive(self, iteration: Iteration) -> Answer:
        work = iteration.work
        while True:
            step = iteration.next_step()
            if isinstance(step, Done):
                return step.answer
            if isinstance(step, Ask):
                try:
                    result = await self._race(step, work)
                except RaceFailed as exc:
                    iteration.receive(Failed(tuple(exc.errors)))
                else:
                    iteration.receive(Replied(result))
            elif isinstance(step, Resolve):
                found = await self._resolve_glueless(step, work)
                iteration.receive(Addresses(tuple(found)))
            elif isinstance(step, Prime):
                await self._prime(work)
                iteration.receive(Primed())

    async def _prime(self, work: Work) -> None:
        """Learn the current root NS set from the hints (RFC 8109), once at a time."""
        if self._priming is not None:
            await self._priming.wait()
            return
        self._priming = done = trio.Event()
        try:
            await self._drive(Iteration.priming(self._context, work))
        finally:
            self._priming = None
            done.set()

    async def _resolve_glueless(self, step: Resolve, work: Work) -> list[Address]:
        """Addresses for nameserver names that came without glue, looked up concurrently."""
        found: list[Address] = []

        async def lookup(name: Name, rtype: RRType) -> None:
            work.event("glueless", name, rtype, zone=step.zone, outcome="resolving")
            try:
                answer = await self._resolve_name(name, rtype, RRClass.IN, work, step.path)
            except (RaceFailed, NoServers, Unreachable):
                return
            except OutOfBudget as exc:
                work.exhausted = exc  # raised below, outside the nursery
                return
            found.extend(self._context.addresses_of(answer.rrset(rtype)))

        # IPv4 first, all names at once; IPv6 only if that found nothing, which
        # halves the cost of the common case.
        for rtype, enabled in (
            (RRType.A, self.settings.use_ipv4),
            (RRType.AAAA, self.settings.use_ipv6),
        ):
            if not enabled:
                continue
            async with trio.open_nursery() as nursery:
                for name in step.names:
                    nursery.start_soon(lookup, name, rtype)
            work.check()
            if found:
                break
        return found

    def _over_zone_limit(self, zone_key: bytes) -> bool:
        rate = self.settings.ratelimit
        if self._zone_limit is None or self._zone_limit.rate != rate:
            self._zone_limit = TokenBuckets(rate=rate, burst=rate)
        if self._zone_limit.allow(zone_key, trio.current_time()):
            return False
        self.ratelimited += 1
        return True

    async def _race(self, step: Ask, work: Work) -> Classification:
        zone, qname, qtype = step.zone, step.qname, step.qtype
        zone_key = zone.canonical_wire()
        if self.settings.ratelimit and self._over_zone_limit(zone_key):
            raise OutOfBudget(EdeCode.OTHER, f"over the ratelimit for queries to {zone}")
        servers = self.servers
        flags = Flag.RD if step.forward else _NO_FLAGS

        monotonic, deadline = work.monotonic, work.deadline

        async def attempt(address: Address) -> Classification:
            work.check()  # the deadline passed while this one waited its turn
            work.spend_query()
            self.stats.upstream_queries += 1
            query = Message.make_query(qname, qtype, step.qclass, flags=flags, edns=self._edns)
            started = monotonic()
            timeout = servers.timeout(address)
            reply: Message | None = None
            try:
                # A bare scope, not fail_after: this runs once per upstream query,
                # and fail_after's generator-based context manager costs more. It
                # ends at the question's deadline too, if that comes first.
                with trio.CancelScope(deadline=min(started + timeout, deadline)):
                    reply = await self._exchanger.exchange(address, query)
            except trio.Cancelled:
                # Another server won the race. Silence for this long is still
                # evidence: without it, a dead server keeps its "never tried"
                # estimate and stays first in line.
                waited = monotonic() - started
                servers.record_unanswered(address, waited)
                _trace_query(
                    work, step, address, f"cancelled, no reply after {waited * 1000:.0f} ms", None
                )
                raise
            except (DNSError, OSError) as exc:
                self.stats.failures += 1
                servers.record_failure(address, monotonic())
                _trace_query(work, step, address, f"error: {exc}", None)
                raise
            if reply is None and started + timeout > deadline:
                # The question ran out of time, not the server: no timeout counted.
                waited = monotonic() - started
                servers.record_unanswered(address, waited)
                _trace_query(
                    work, step, address, f"deadline, no reply after {waited * 1000:.0f} ms", None
                )
                raise work.out_of_time()
            if reply is None:
                self.stats.timeouts += 1
                servers.record_timeout(address, monotonic())
                _trace_query(work, step, address, f"timeout after {timeout:.2f} s", None)
                raise trio.TooSlowError
            rtt = monotonic() - started
            result = step.judge(reply)
            if work.trace is not None:  # describing costs more than the rest of this step
                _trace_query(work, step, address, describe(result), rtt)
            if result.outcome == Outcome.LAME:
                self.stats.lame_replies += 1
                servers.mark_lame(address, zone_key)
                servers.record_failure(address, monotonic())
                raise _Unusable(f"{address[0]} is lame for {zone}: {result.reason}")
            if result.outcome == Outcome.SERVER_ERROR:
                self.stats.server_errors += 1
                servers.record_failure(address, monotonic())
                ede = reply.edns.option(ExtendedError) if reply.edns and step.forward else None
                raise _Unusable(f"{address[0]}: {result.reason}", ede)
            servers.record_success(address, rtt)
            return result

        try:
            outcome = await race(list(step.servers), attempt, servers.stagger)
        except RaceFailed:
            work.check()  # out of budget is not "every server failed"
            raise
        work.answered.add(outcome.winner)
        if work.trace is not None:
            for event in reversed(work.trace):
                if event.server == outcome.winner and event.kind == "query":
                    work.trace[work.trace.index(event)] = attrs.evolve(
                        event, winner=outcome.started > 1
                    )
                    break
        return outcome.value

    # -- DNSSEC --------------------------------------------------------------------

    def _count_verdict(self, validation: Validation) -> None:
        if validation is Validation.SECURE:
            self.stats.secure += 1
        elif validation is Validation.INSECURE:
            self.stats.insecure += 1
        elif validation is Validation.BOGUS:
            self.stats.bogus += 1

    async def _validated(self, answer: Answer, work: Work) -> Answer:
        """The answer with its DNSSEC verdict; SERVFAIL if bogus."""
        lookup = _Lookup(self, work)
        verdict = await self._validator.validate(answer, lookup)
        self._remember_negative(answer, verdict)
        if verdict.validation is Validation.SECURE:
            remember_secure(self._context, answer, self._validator.zones)
        self._count_verdict(verdict.validation)
        if verdict.validation is Validation.BOGUS:
            work.event("dnssec", answer.qname, answer.qtype, outcome="bogus")
            return servfail(
                answer.qname,
                answer.qtype,
                answer.qclass,
                verdict.ede or EdeCode.DNSSEC_BOGUS,
                verdict.reason,
                Validation.BOGUS,
            )
        refusal = self._validator.sentinel(answer, verdict.validation)
        if refusal is not None:
            # RFC 8509: the reply changes, not the data. The RRset at the name stays
            # cached unvalidated, so that each answer from it comes back this way.
            first = tuple(r for r in answer.records if r.name == answer.qname)
            if first:
                self.remember_validation(first, (), Validation.INDETERMINATE)
            work.event("dnssec", answer.qname, answer.qtype, outcome=refusal)
            return servfail(answer.qname, answer.qtype, answer.qclass, EdeCode.OTHER, refusal)
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
        forwarded = self._context.upstreams_for(name) is not None
        self.cache.put_negative(
            name,
            rtype,
            answer.qclass,
            soa,
            self._context.clock(),
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
        now = self._context.clock()
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

    def known_validation(self, rrset: Sequence[Record]) -> Validation:
        """The validation state the cache holds for exactly this RRset."""
        return known_validation(self._context, rrset)


def _trace_query(work: Work, step: Ask, address: Address, outcome: str, rtt: float | None) -> None:
    if work.trace is not None:
        work.note(
            TraceEvent(
                work.elapsed(), "query", step.qname, step.qtype, step.zone, address, outcome, rtt
            )
        )


@attrs.define(eq=False)
class _Lookup:
    """The validator's view of the resolver, for one client question."""

    resolver: Resolver
    work: Work

    async def fetch(self, name: Name, rtype: RRType) -> Answer:
        cache = self.resolver.cache
        if rtype == RRType.DS:
            # A signed parent's referral carried the DS set, or the NSEC at the cut
            # that denies it: no need to ask. (A cached DS NODATA or NXDOMAIN is
            # answered by the cache path below.) The validator checks either.
            now = self.resolver.now()
            cached = cache.get_rrset(name, rtype, RRClass.IN, now)
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
            nsec = cache.get_rrset(name, RRType.NSEC, RRClass.IN, now)
            if nsec is not None and all(
                isinstance(r.rdata, NSEC) and not r.rdata.has_type(RRType.DS) for r in nsec.records
            ):
                return Answer(
                    name,
                    rtype,
                    RRClass.IN,
                    Rcode.NOERROR,
                    ttl=nsec.ttl,
                    from_cache=True,
                    proof=(*nsec.records, *nsec.rrsigs),
                )
            cut = cache.get_rrset(name, RRType.NS, RRClass.IN, now)
            if cut is not None and any(r.rtype == RRType.NSEC3 for r in cut.proof):
                # The NSEC3 (hashed, so not found by name) that came with the
                # referral: the validator judges whether it denies the DS.
                return Answer(
                    name,
                    rtype,
                    RRClass.IN,
                    Rcode.NOERROR,
                    ttl=cut.ttl,
                    from_cache=True,
                    proof=cut.proof,
                )
        path = ((name, rtype),)  # not the client's question: fetched unvalidated
        return await self.resolver._resolve_name(name, rtype, RRClass.IN, self.work, path)

    def zone_of(self, name: Name) -> Name:
        found = self.resolver.cache.closest_delegation(name, RRClass.IN, self.resolver.now())
        return ROOT if found is None else found.name

    def cuts_known(self, name: Name) -> bool:
        # Iteration met every zone cut above `name` as a referral; a forwarder hides them.
        return self.resolver._context.upstreams_for(name) is None

    def note(self, name: Name, rtype: RRType, text: str) -> None:
        self.work.event("dnssec", name, rtype, outcome=text)

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

    def __init__(self, text: str, ede: EdnsOption | None = None) -> None:
        super().__init__(text)
        self.ede = ede  # a forwarder's Extended DNS Error: its reason for failing


def _unreachable(
    qname: Name, qtype: RRType, qclass: RRClass, exc: NoServers | Unreachable | RaceFailed
) -> Answer:
    """SERVFAIL for a question no server could answer: with a forwarder's own
    reason if it gave one (its validator's verdict, say), and `timed_out` if every
    server stayed silent."""
    errors = () if isinstance(exc, NoServers) else tuple(exc.errors)
    for _, error in errors:
        if isinstance(error, _Unusable) and isinstance(error.ede, ExtendedError):
            text = error.ede.extra_text or str(exc)
            return servfail(qname, qtype, qclass, error.ede.info_code, text)
    silent = bool(errors) and all(isinstance(error, trio.TooSlowError) for _, error in errors)
    return servfail(
        qname, qtype, qclass, EdeCode.NO_REACHABLE_AUTHORITY, str(exc), timed_out=silent
    )


_default: Resolver | None = None


def default_resolver() -> Resolver:
    """The process-wide resolver behind `trio_dns.resolve`."""
    global _default
    if _default is None:
        _default = Resolver()
    return _default


async def resolve(
    name: Name | str,
    qtype: RRType | str | int = RRType.A,
    qclass: RRClass | str | int = RRClass.IN,
    *,
    lifetime: float | None = None,
) -> Answer:
    """Resolve `name` from the root servers with the process-wide resolver and cache
    (`Resolver.from_system()` gives the system's stub instead)."""
    return await default_resolver().resolve(name, qtype, qclass, lifetime=lifetime)

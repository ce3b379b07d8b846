"""One resolution as a pure state machine: what to ask next, and what a reply means.

Theory of operation (h11's shape, applied to iteration): an `Iteration` holds the
state of resolving one question (the zone cut it stands at, that zone's servers
and their addresses, how far QNAME minimisation has revealed the name, the
CNAME/DNAME chain so far, the shared work budget) and does no I/O at all. The
driver (`_resolver.py`) asks it `next_step()` and gets one of:

- `Ask`: send this question to these servers (best first; the driver races
  them) and `receive(Replied(...))` with the classified winning reply, or
  `receive(Failed(...))` when every one of them failed;
- `Resolve`: I need the addresses of these nameserver names that came without
  glue; `receive(Addresses(...))` with what was found;
- `Prime`: learn the root's NS set before going on; `receive(Primed())`;
- `Done`: here is the answer.

A limit that is hit, or a zone with no usable server, raises `OutOfBudget` or
`NoServers` from `next_step()`; every server of a zone failing raises
`Unreachable`. The driver turns those into SERVFAIL with an Extended DNS Error.

Inside, the resolution is written as a plain generator that yields the steps
above and is sent the events: the decisions read in order, as RFC 1034 section
5.3.3 tells them, and still nothing here can block or touch a socket. The
cache is consulted and filled as the resolution goes (`_cache_path.py` for what
is already known); `now` comes from the clocks the resolver is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from itertools import islice
from typing import Protocol

import attrs

from .._address import Address, is_loopback, never_asked, normalize_address
from .._errors import DNSError
from .._trust import NegativeKind, Rank
from .._wire.enums import EdeCode, Flag, Rcode, RRClass, RRType
from .._wire.message import Message, Record
from .._wire.name import ROOT, Name, wire_and_ancestors
from .._wire.rdtypes.address import AAAA, A
from .._wire.rdtypes.nsec import NSEC
from .._wire.rdtypes.single_name import CNAME, NS
from .._wire.rrset import covering, rrsets
from .aggressive import AggressiveCache
from .answer import Answer, TraceEvent, servfail
from .authority import Zone
from .cache import Cache
from .cache_path import Known, follow, negative_ttl
from .recursion import EMPTY, Classification, Outcome, classify_reply
from .servers import ServerSelection

MAX_MINIMISE_COUNT = 10  # RFC 9156 section 2.3: then stop minimising
# The zones whose exclusions are remembered (one entry per zone asked; most are ()).
_MAX_EXCLUSIONS_KEPT = 4096


class Limits(Protocol):
    """The settings iteration reads (`ResolverSettings` has them all)."""

    @property
    def qname_minimisation(self) -> bool: ...
    @property
    def use_ipv4(self) -> bool: ...
    @property
    def use_ipv6(self) -> bool: ...
    @property
    def max_queries(self) -> int: ...
    @property
    def max_referrals(self) -> int: ...
    @property
    def max_chain(self) -> int: ...
    @property
    def max_glueless_per_delegation(self) -> int: ...
    @property
    def max_glueless_depth(self) -> int: ...
    @property
    def rounds(self) -> int: ...
    @property
    def port(self) -> int: ...
    @property
    def forwarders(self) -> tuple[Address, ...]: ...
    @property
    def forward_zones(self) -> tuple[tuple[Name, tuple[Address, ...]], ...]: ...


# -- errors: why a resolution stopped ------------------------------------------------


class OutOfBudget(DNSError):
    def __init__(self, code: EdeCode, text: str) -> None:
        self.code = code
        self.text = text
        super().__init__(text)


class DeadlinePassed(OutOfBudget):
    """The question's deadline came before its answer."""


class NoServers(DNSError):
    """No address is known, or can be found, for any nameserver of a zone."""


class Unreachable(DNSError):
    """Every server of a zone failed, every round."""

    def __init__(self, errors: Sequence[tuple[object, BaseException]]) -> None:
        self.errors = tuple(errors)
        reasons = "; ".join(f"{who}: {why}" for who, why in self.errors[:4]) or "no server"
        super().__init__(f"no server could answer ({reasons})")


# -- steps out, events in ------------------------------------------------------------


@attrs.frozen
class Ask:
    """Send (qname, qtype) to `servers` of `zone`, best first."""

    zone: Name
    servers: tuple[Address, ...]
    qname: Name
    qtype: RRType
    qclass: RRClass
    forward: bool = False  # RD set, to a recursive upstream
    exclude: tuple[Name, ...] = ()  # zones below with a source of their own
    minimised: bool = False  # a QNAME-minimisation probe for a zone cut (qtype NS)

    def judge(self, reply: Message) -> Classification:
        """What one server's reply means; LAME and SERVER_ERROR lose the race."""
        result = classify_reply(
            reply,
            self.qname,
            self.qtype,
            self.zone,
            authoritative=not self.forward,
            exclude=self.exclude,
            minimised=self.minimised,
        )
        if self.forward and Flag.RA not in reply.flags and Flag.AA not in reply.flags:
            # Neither recursion nor authority: this upstream will not resolve for us.
            return Classification(Outcome.LAME, reason="upstream does not recurse (RA clear)")
        return result


@attrs.frozen
class Resolve:
    """Find the addresses of these nameserver names of `zone` (A, then AAAA)."""

    names: tuple[Name, ...]
    zone: Name
    path: tuple[tuple[Name, RRType], ...]


@attrs.frozen
class Prime:
    """Learn the root's NS set from the hints (RFC 8109) before going on."""


@attrs.frozen
class Done:
    answer: Answer


Step = Ask | Resolve | Prime | Done


@attrs.frozen
class Replied:
    result: Classification


@attrs.frozen
class Failed:
    errors: tuple[tuple[object, BaseException], ...]


@attrs.frozen
class Addresses:
    found: tuple[Address, ...]


@attrs.frozen
class Primed:
    pass


Event = Replied | Failed | Addresses | Primed | None


# -- what all resolutions of one resolver share --------------------------------------


@attrs.define
class Stats:
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
    # NXDOMAIN and NODATA answers made from validated NSEC/NSEC3 ranges (RFC 8198).
    aggressive_answers: int = 0


@attrs.define(eq=False)
class Context:
    """A resolver's state that every resolution reads and adds to."""

    cache: Cache
    settings: Limits
    servers: ServerSelection
    local_zones: Sequence[Zone]
    hint_ns: tuple[Record, ...]
    hint_addresses: dict[Name, list[Address]]
    hint_glue: tuple[Record, ...]  # the hints' addresses as records, for RD=0 referrals
    # Wall-clock seconds: cache ages and signature validity. Deadlines, RTTs and
    # traces follow each question's own monotonic clock, in its Work.
    clock: Callable[[], float]
    stats: Stats = attrs.Factory(Stats)
    aggressive: AggressiveCache | None = None  # validated denial ranges (RFC 8198); None: off
    # Nameservers at loopback addresses, as referrals and answers name them, are
    # asked only if this is set (a simulated internet on loopback).
    query_loopback: bool = False
    # Made from the settings and local zones once: a resolver builds a new Context
    # when they change. With the default local zones (a hundred, on the public
    # root) a scan of them all per hop cost more than the rest of a cold query's
    # decisions; these make it a walk up the name, or a lookup.
    _own_sources: tuple[Name, ...] = attrs.field(init=False)
    _local_origins: frozenset[bytes] = attrs.field(init=False)
    _exclusions: dict[bytes, tuple[Name, ...]] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._own_sources = (
            *(forwarded for forwarded, _ in self.settings.forward_zones),
            *(local.origin for local in self.local_zones),
        )
        self._local_origins = frozenset(local.origin.canonical_wire() for local in self.local_zones)

    def store(self, result: Classification) -> None:
        now = self.clock()
        # A signed referral without DS proves the cut unsigned (NSEC or NSEC3, opt-out
        # included): the proof stays with the cut's NS set, for the validator.
        cut_ns = result.referral.ns if result.referral is not None and result.proof else None
        for records, rank in result.to_cache:
            proof = result.proof if records == cut_ns else ()
            self.cache.put_rrset(records, rank, now, rrsigs=result.rrsigs_for(records), proof=proof)

    def exclusions(self, zone: Name) -> tuple[Name, ...]:
        """The zones below `zone` that have a source of their own (a forwarder, a
        local zone): a server of `zone` does not speak for them."""
        if not self._own_sources:
            return ()
        key = zone.canonical_wire()
        found = self._exclusions.get(key)
        if found is None:
            if len(self._exclusions) >= _MAX_EXCLUSIONS_KEPT:
                self._exclusions.clear()
            found = tuple(x for x in self._own_sources if x != zone and x.is_subdomain(zone))
            self._exclusions[key] = found
        return found

    def upstreams_for(self, qname: Name) -> tuple[Name, tuple[Address, ...]] | None:
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
        if self._local_origins and self._in_local_zone(qname, depth):
            return None
        if best is not None:
            return best
        return (ROOT, self.settings.forwarders) if self.settings.forwarders else None

    def _in_local_zone(self, qname: Name, depth: int) -> bool:
        """Is `qname` at or below a local zone of more than `depth` labels?"""
        # One set lookup a label, for the name and its ancestors that deep.
        ancestors = wire_and_ancestors(qname.canonical_wire())
        return any(key in self._local_origins for key in islice(ancestors, len(qname) - depth))

    def family_allowed(self, address: Address) -> bool:
        return self.settings.use_ipv6 if ":" in address[0] else self.settings.use_ipv4

    def addresses_of(self, records: Sequence[Record]) -> list[Address]:
        out = []
        port = self.settings.port
        for record in records:
            if isinstance(record.rdata, A | AAAA):
                # Already in canonical spelling: A is checked by inet_pton, AAAA
                # normalised, when the rdata is made.
                host = record.rdata.address
                if not self.family_allowed((host, port)) or never_asked(host):
                    continue
                if not self.query_loopback and is_loopback(host):
                    continue  # a blocklist's 127.0.0.2, or a lie aimed at this host
                out.append((host, port))
        return out


def hint_records(
    hints: Sequence[Record], port: int
) -> tuple[tuple[Record, ...], dict[Name, list[Address]]]:
    """The root NS set of the hints, and the addresses they give its names."""
    ns = tuple(r for r in hints if r.rtype == RRType.NS and r.name == ROOT)
    addresses: dict[Name, list[Address]] = {}
    for record in hints:
        if isinstance(record.rdata, A | AAAA):
            addresses.setdefault(record.name, []).append(
                normalize_address(record.rdata.address, port)
            )
    return ns, addresses


@attrs.define(eq=False)
class Work:
    """The budget and trace of one client question, shared by all its sub-lookups."""

    settings: Limits
    started: float
    monotonic: Callable[[], float]
    trace: list[TraceEvent] | None
    cd: bool = False  # the client's Checking Disabled: cached data as it is, unjudged
    queries: int = 0
    # Set once a limit is hit. Limits are often hit inside a race attempt or a
    # glueless lookup, that is, inside a nursery, where an exception would count
    # as one server failing or arrive wrapped in an ExceptionGroup; so the tasks
    # record it here and the code outside the nursery raises it.
    exhausted: OutOfBudget | None = None
    # The servers whose replies this question was built from, and, once an answer
    # made of them proved bogus, the ones to ask last when it is asked again: a
    # server that forges or mangles signatures is one bad server, not a bad zone.
    answered: set[Address] = attrs.Factory(set)
    avoid: frozenset[Address] = frozenset()
    # When the question must be answered by, on `monotonic`'s clock. Every wait of
    # a resolution is an upstream query, which ends by then at the latest: so the
    # deadline needs no cancel scope of its own around the whole resolution.
    deadline: float = math.inf

    def spend_query(self) -> None:
        self.queries += 1
        if self.queries > self.settings.max_queries:
            self.exhausted = OutOfBudget(
                EdeCode.OTHER, f"gave up after {self.settings.max_queries} upstream queries"
            )
            raise self.exhausted

    def check(self) -> None:
        """Raise the limit that was hit, if one was."""
        if self.exhausted is not None:
            raise self.exhausted

    def out_of_time(self) -> DeadlinePassed:
        """The deadline passed: recorded, so that `check()` raises it from now on,
        and returned."""
        seconds = self.deadline - self.started
        self.exhausted = DeadlinePassed(
            EdeCode.NO_REACHABLE_AUTHORITY, f"no answer within the {seconds:g} s deadline"
        )
        return self.exhausted

    def note(self, event: TraceEvent) -> None:
        if self.trace is not None:
            self.trace.append(event)

    def elapsed(self) -> float:
        return self.monotonic() - self.started

    def event(
        self, kind: str, name: Name, rtype: RRType, *, zone: Name | None = None, outcome: str = ""
    ) -> None:
        if self.trace is not None:
            self.trace.append(TraceEvent(self.elapsed(), kind, name, rtype, zone, outcome=outcome))


# -- the state machine ---------------------------------------------------------------

_Gen = Generator[Step, Event, Answer]


class Iteration:
    """Resolving one question (qname, qtype, qclass): `next_step()`, `receive()`.

    `path` is the chain of questions this one is a sub-lookup of (nameserver
    names without glue), so that a lookup never waits on itself."""

    def __init__(
        self,
        context: Context,
        qname: Name,
        qtype: RRType,
        qclass: RRClass,
        work: Work,
        path: tuple[tuple[Name, RRType], ...] = (),
    ) -> None:
        self.context = context
        self.qname = qname
        self.qtype = qtype
        self.qclass = qclass
        self.work = work
        self.path = path
        self._run: _Gen = self._resolve()
        self._step: Step | None = None
        self._event: Event = None
        self._started = False
        self._error: DNSError | None = None

    @classmethod
    def priming(cls, context: Context, work: Work) -> Iteration:
        """Ask the hinted root servers for the root's NS set, and cache it."""
        iteration = cls(context, ROOT, RRType.NS, RRClass.IN, work, ((ROOT, RRType.NS),))
        iteration._run = iteration._prime()
        return iteration

    def next_step(self) -> Step:
        """What the driver should do now. The same step until `receive` is called."""
        if self._error is not None:
            raise self._error
        if self._step is None:
            try:
                if not self._started:
                    self._started = True
                    self._step = next(self._run)
                else:
                    self._step = self._run.send(self._event)
            except StopIteration as stop:
                self._step = Done(stop.value)
            except DNSError as exc:
                self._error = exc  # the resolution is over: it says so again if asked
                raise
        return self._step

    def receive(self, event: Event) -> None:
        """The outcome of the step `next_step` gave."""
        if isinstance(self._step, Done):
            raise RuntimeError("the resolution is over")
        self._event = event
        self._step = None

    # -- the question, through the cache and the chain -------------------------------

    def _resolve(self) -> _Gen:
        ctx, qname, qtype, qclass = self.context, self.qname, self.qtype, self.qclass
        chain: list[Record] = []
        sigs: list[Record] = []  # the RRSIGs over the chain's records
        seen: set[Name] = set()
        current = qname
        max_chain = self.context.settings.max_chain
        while True:
            known: Known = follow(ctx, qname, qtype, qclass, current, chain, sigs, seen, self.work)
            if known.answer is not None:
                return known.answer
            current = known.current
            upstreams = ctx.upstreams_for(current)
            if upstreams is None:
                result = yield from self._iterate(current)
            else:
                result = yield from self._forward(current, *upstreams)
            chain.extend(result.answer if result.outcome != Outcome.ANSWER else result.chain)
            sigs.extend(_signatures(result.answer, result.rrsigs))
            if sum(1 for r in chain if r.rtype == RRType.CNAME) > max_chain:
                return _failure(self, EdeCode.OTHER, f"CNAME chain longer than {max_chain}")
            if result.outcome == Outcome.ANSWER:
                return Answer(
                    qname,
                    qtype,
                    qclass,
                    Rcode.NOERROR,
                    tuple(chain) + _data(result),
                    # An answer lives no longer than any link of its chain.
                    ttl=min(r.ttl for r in (*chain, *result.answer)),
                    rrsigs=tuple(sigs),
                    proof=result.proof,
                )
            if result.outcome == Outcome.CNAME:
                assert result.target is not None
                current = result.target
                continue
            if result.outcome == Outcome.YXDOMAIN:
                return Answer(
                    qname,
                    qtype,
                    qclass,
                    Rcode.YXDOMAIN,
                    tuple(chain),
                    ttl=min(r.ttl for r in chain),
                    rrsigs=tuple(sigs),
                )
            nxdomain = result.outcome == Outcome.NXDOMAIN
            remember_negative(ctx, result.target or current, qtype, qclass, result)
            return Answer(
                qname,
                qtype,
                qclass,
                Rcode.NXDOMAIN if nxdomain else Rcode.NOERROR,
                tuple(chain),
                soa=result.soa,
                ttl=min(negative_ttl(result.soa), ctx.cache.max_negative_ttl),
                rrsigs=tuple(sigs),
                proof=result.proof,
                authority=result.authority,
            )

    # -- forwarding ----------------------------------------------------------------

    def _forward(
        self, qname: Name, zone: Name, upstreams: tuple[Address, ...]
    ) -> Generator[Step, Event, Classification]:
        """Ask upstream resolvers (RD set) instead of iterating: the same race,
        timeouts and retries, but their answers are taken without AA, ranked below
        authoritative data, and only inside the forwarded `zone`."""
        ctx = self.context
        errors: list[tuple[object, BaseException]] = []
        for _ in range(ctx.settings.rounds):
            candidates = ctx.servers.rank(list(upstreams), self.work.monotonic())
            event = yield Ask(
                zone,
                tuple(candidates),
                qname,
                self.qtype,
                self.qclass,
                forward=True,
                exclude=ctx.exclusions(zone),
            )
            if isinstance(event, Replied):
                ctx.store(event.result)
                return event.result
            assert isinstance(event, Failed)
            errors.extend(event.errors)
        raise Unreachable(errors)

    # -- iteration -----------------------------------------------------------------

    def _iterate(self, qname: Name) -> Generator[Step, Event, Classification]:
        ctx, qtype, qclass = self.context, self.qtype, self.qclass
        settings = ctx.settings
        path = (*self.path, (qname, qtype))
        # DS lives on the parent side of a zone cut (RFC 4035 section 3.1.4.1).
        start_name = qname.parent() if qtype == RRType.DS and not qname.is_root() else qname
        zone, ns = yield from self._closest_servers(start_name)
        # The glue that came with the referral into `zone`: its addresses serve this
        # question even if the cache lets them go (a TTL of 1 is common) or a child's
        # answer replaced them there.
        glue: tuple[Record, ...] = ()
        minimise = settings.qname_minimisation
        depth = len(zone)
        minimised_steps = 0
        fresh_zone = True
        for _ in range(settings.max_referrals):
            ask_name, ask_type = qname, qtype
            # If this zone's servers have answered for the parent already, no cut
            # lies between: one look-up instead of one per label.
            look_up_parent = fresh_zone and minimise and depth < len(qname) - 1
            if look_up_parent and self._no_cut_below(qname.parent()):
                depth = len(qname) - 1
            fresh_zone = False
            if minimise and depth < len(qname) and minimised_steps < MAX_MINIMISE_COUNT:
                depth += 1
                minimised_steps += 1
                ask_name = qname.ancestor(depth)
                if ask_name != qname:
                    if self._no_cut_below(ask_name):
                        continue  # asked before: it exists, and is no zone cut
                    # NS, as Knot Resolver and Unbound ask (RFC 9156 section 2.1
                    # allows A too): a cut answers with a referral either way.
                    ask_type = RRType.NS
            minimised = ask_name != qname
            result = yield from self._ask_zone(zone, ns, ask_name, ask_type, path, minimised, glue)
            ctx.store(result)
            if result.outcome == Outcome.REFERRAL:
                assert result.referral is not None
                if result.answer and ask_name != qname:
                    # A probe met an alias at the probed name: it exists and is no
                    # cut, and what it aliases is not the question's concern.
                    continue
                if result.answer:
                    # An in-zone CNAME whose target is delegated further down: the
                    # referral is cached, so restarting at the target finds it.
                    return attrs.evolve(result, outcome=Outcome.CNAME)
                if not result.referral.zone.is_subdomain(zone) or result.referral.zone == zone:
                    raise OutOfBudget(EdeCode.OTHER, f"referral loop at {zone}")
                glued = _glue_for(result.referral.glue, qname, qtype)
                if glued and self.path:
                    # A nameserver's address, looked up for a delegation, and the
                    # parent's glue has it: the delegation's own word, which the
                    # child's (maybe different, maybe broken) answer must not replace.
                    return Classification(Outcome.ANSWER, glued, qname, rank=Rank.ADDITIONAL)
                zone, ns = result.referral.zone, result.referral.ns
                glue = result.referral.glue
                depth = len(zone)
                fresh_zone = True
                continue
            if ask_name != qname:
                cut = _served_cut(result, ask_name)
                if cut:
                    # The zone's servers serve the child too, and said so with
                    # authority: the child is the zone now.
                    zone, ns = ask_name, cut
                    glue = ()
                    depth = len(zone)
                    fresh_zone = True
                    continue
                if result.outcome == Outcome.NODATA:
                    # Remembered, so the next name below it skips this step.
                    ctx.cache.put_negative(
                        ask_name,
                        RRType.NS,
                        qclass,
                        result.soa,
                        ctx.clock(),
                        kind=NegativeKind.NODATA,
                        proof=result.proof,
                    )
                if result.outcome == Outcome.NXDOMAIN:
                    # Broken servers say NXDOMAIN for empty non-terminals: ask in full.
                    minimise = False
                    depth = len(zone)
                elif result.reason == EMPTY:
                    # Not even an SOA for a name on the way: a server that cannot
                    # be trusted to tell an empty non-terminal from a cut. Ask the
                    # full name, as for NXDOMAIN above.
                    minimise = False
                    depth = len(zone)
                elif _owns_dname(result, ask_name):
                    # A DNAME here redirects every name below: no cut can be
                    # below it, and what the zone says of the full name is what
                    # matters (RFC 6672 section 2.3).
                    minimise = False
                    depth = len(zone)
                continue  # no cut at this name: reveal one more label
            return result
        raise OutOfBudget(EdeCode.OTHER, f"more than {settings.max_referrals} referrals")

    def _no_cut_below(self, name: Name) -> bool:
        """Did the zone's own server already answer for `name` (data or NODATA)?
        Then no zone cut is there, and minimisation need not ask again."""
        cache, now = self.context.cache, self.context.clock()
        if cache.get_rrset(name, RRType.A, self.qclass, now, min_rank=Rank.AUTH_ANSWER):
            return True
        negative = cache.get_negative(name, RRType.NS, self.qclass, now)
        return negative is not None and negative.kind == NegativeKind.NODATA

    def _closest_servers(
        self, name: Name
    ) -> Generator[Step, Event, tuple[Name, tuple[Record, ...]]]:
        ctx = self.context
        cached = ctx.cache.closest_delegation(name, self.qclass, ctx.clock())
        if cached is not None and not cached.name.is_root():
            return cached.name, cached.records
        # Primed already: the root's NS set from a root server's own answer, with AA
        # or without (many a server forgets it), not just from the hints.
        root = ctx.cache.get_rrset(ROOT, RRType.NS, RRClass.IN, ctx.clock(), min_rank=Rank.ANSWER)
        if root is None:
            yield Prime()
            root = ctx.cache.get_rrset(ROOT, RRType.NS, self.qclass, ctx.clock())
        if root is not None:
            return ROOT, root.records
        return ROOT, ctx.hint_ns

    def _prime(self) -> _Gen:
        ctx = self.context
        try:
            result = yield from self._ask_zone(
                ROOT, ctx.hint_ns, ROOT, RRType.NS, ((ROOT, RRType.NS),)
            )
            ctx.store(result)
        except (Unreachable, NoServers):
            # Fall back to the hints themselves; the next question will prime again.
            self.work.event("note", ROOT, RRType.NS, outcome="priming failed")
        return Answer(ROOT, RRType.NS, RRClass.IN, Rcode.NOERROR)

    # -- asking one zone's servers -------------------------------------------------

    def _ask_zone(
        self,
        zone: Name,
        ns: Sequence[Record],
        qname: Name,
        qtype: RRType,
        path: tuple[tuple[Name, RRType], ...],
        minimised: bool = False,
        glue: Sequence[Record] = (),
    ) -> Generator[Step, Event, Classification]:
        ctx = self.context
        names = [r.rdata.target for r in ns if isinstance(r.rdata, NS)]
        addresses, missing = self._known_addresses(names, zone, glue)
        errors: list[tuple[object, BaseException]] = []
        zone_key = zone.canonical_wire()
        exclude = ctx.exclusions(zone)
        avoid = self.work.avoid
        for round_ in range(ctx.settings.rounds):
            trusted = [a for a in addresses if a not in avoid] if avoid else addresses
            if missing and (round_ == 1 or not trusted):
                # The servers we had addresses for all failed (or there were none):
                # now it is worth resolving the nameserver names that came without glue.
                wanted = self._glueless_wanted(missing, zone, path)
                missing = []
                if wanted:
                    event = yield Resolve(wanted, zone, path)
                    assert isinstance(event, Addresses)
                    addresses += event.found
            if not addresses:
                break
            candidates = ctx.servers.rank(addresses, self.work.monotonic())
            usable = [a for a in candidates if not ctx.servers.is_lame(a, zone_key)] or candidates
            if avoid:
                usable = [a for a in usable if a not in avoid] + [a for a in usable if a in avoid]
            event = yield Ask(
                zone, tuple(usable), qname, qtype, self.qclass, exclude=exclude, minimised=minimised
            )
            if isinstance(event, Replied):
                return event.result
            assert isinstance(event, Failed)
            errors.extend(event.errors)
            if all(ctx.servers.is_lame(a, zone_key) for a in candidates) and not missing:
                break  # asking lame servers again will not make them serve the zone
        if errors:
            raise Unreachable(errors)
        raise NoServers(f"no usable address for any nameserver of {zone}")

    def _known_addresses(
        self, names: list[Name], zone: Name, glue: Sequence[Record] = ()
    ) -> tuple[list[Address], list[Name]]:
        ctx = self.context
        glued: dict[Name, list[Record]] = {}
        for record in glue:
            glued.setdefault(record.name, []).append(record)
        now = ctx.clock()
        addresses: list[Address] = []
        missing: list[Name] = []
        families = []
        if ctx.settings.use_ipv4:
            families.append(RRType.A)
        if ctx.settings.use_ipv6:
            families.append(RRType.AAAA)
        for name in names:
            from_glue = ctx.addresses_of(glued.get(name, ()))
            if from_glue:
                addresses.extend(from_glue)
                continue
            found = False
            for rtype in families:
                cached = ctx.cache.get_rrset(name, rtype, RRClass.IN, now)
                if cached is not None:
                    found = True
                    addresses.extend(ctx.addresses_of(cached.records))
            if not found and zone.is_root():
                hinted = [a for a in ctx.hint_addresses.get(name, []) if ctx.family_allowed(a)]
                if hinted:
                    found = True
                    addresses.extend(hinted)
            if not found:
                missing.append(name)
        return ctx.servers.rank(addresses, self.work.monotonic()), missing

    def _glueless_wanted(
        self, names: list[Name], zone: Name, path: tuple[tuple[Name, RRType], ...]
    ) -> tuple[Name, ...]:
        """Which glueless nameserver names are worth looking up, and may be."""
        settings = self.context.settings
        if len(path) > settings.max_glueless_depth:
            raise OutOfBudget(EdeCode.OTHER, "nameserver lookups nested too deeply")
        wanted = []
        for name in names:
            if name.is_subdomain(zone) and not self._aliased_out_of(name, zone):
                continue  # only glue could have told us; asking the zone itself would loop
            if any(name == asked for asked, _ in path):
                continue  # already being resolved further up this chain: a cycle
            wanted.append(name)
        wanted = wanted[: settings.max_glueless_per_delegation]
        own = self.context.exclusions(zone)
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
            wanted = wanted[: settings.max_glueless_per_delegation]
        return tuple(wanted)

    def _aliased_out_of(self, name: Name, zone: Name) -> bool:
        """Does the cache know `name` (a nameserver name inside `zone`) as an alias
        for a name outside it? Then its address can be found without asking the
        zone, whose servers are what failed (a CNAME there breaks RFC 2181 section
        10.3, and happens)."""
        ctx = self.context
        cached = ctx.cache.get_rrset(name, RRType.CNAME, self.qclass, ctx.clock())
        if cached is None:
            return False
        target = cached.records[0].rdata
        return isinstance(target, CNAME) and not target.target.is_subdomain(zone)


def remember_negative(
    ctx: Context, name: Name, qtype: RRType, qclass: RRClass, result: Classification
) -> None:
    """Cache an NXDOMAIN (for every type at `name`) or a NODATA (for `qtype`),
    with its proof and the rank of the reply that said so."""
    nxdomain = result.outcome == Outcome.NXDOMAIN
    ctx.cache.put_negative(
        name,
        None if nxdomain else qtype,
        qclass,
        result.soa,
        ctx.clock(),
        kind=NegativeKind.NXDOMAIN if nxdomain else NegativeKind.NODATA,
        proof=result.proof,
        rank=result.rank,
    )


def _owns_dname(result: Classification, name: Name) -> bool:
    """Does the denial that came with this no-data show a DNAME at `name`?"""
    return any(
        isinstance(r.rdata, NSEC) and r.name == name and r.rdata.has_type(RRType.DNAME)
        for r in result.proof
    )


def _glue_for(glue: Sequence[Record], name: Name, rtype: RRType) -> tuple[Record, ...]:
    if rtype not in (RRType.A, RRType.AAAA):
        return ()
    return tuple(r for r in glue if r.name == name and r.rtype == rtype)


def _served_cut(result: Classification, name: Name) -> tuple[Record, ...]:
    """The NS set at `name` that an authoritative answer to a minimised NS probe
    gave, if it did: a zone cut whose child the same servers serve."""
    if result.outcome != Outcome.ANSWER or result.rank < Rank.AUTH_ANSWER:
        return ()
    return tuple(r for r in result.answer if r.rtype == RRType.NS and r.name == name)


def _failure(iteration: Iteration, code: EdeCode, text: str) -> Answer:
    return servfail(iteration.qname, iteration.qtype, iteration.qclass, code, text)


def _signatures(records: Sequence[Record], rrsigs: Sequence[Record]) -> list[Record]:
    """The RRSIGs among `rrsigs` over the RRsets of `records`."""
    if not rrsigs:
        return []
    return [sig for rrset in rrsets(records).values() for sig in covering(rrset, rrsigs)]


def _data(result: Classification) -> tuple[Record, ...]:
    chain = set(id(r) for r in result.chain)
    return tuple(r for r in result.answer if id(r) not in chain)

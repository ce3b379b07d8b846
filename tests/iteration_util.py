"""Hand-built resolver state and authoritative replies for the pure resolution tests.

Nothing here touches a socket or trio: a `Context` is assembled by hand (a
Cache, ResolverSettings as the Limits, a ServerSelection, root hints, clocks
that move only when told), replies are built record by record, and an
`Iteration` is walked one step at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from trio_dns._address import Address
from trio_dns._decisions.answer import Answer
from trio_dns._decisions.authority import Zone
from trio_dns._decisions.cache import Cache
from trio_dns._decisions.iteration import (
    Ask,
    Context,
    Done,
    Iteration,
    Replied,
    Resolve,
    Work,
    hint_records,
)
from trio_dns._decisions.servers import ServerSelection
from trio_dns._network.resolver import ResolverSettings
from trio_dns._trust import Rank
from trio_dns._wire.enums import Flag, Rcode, RRClass, RRType
from trio_dns._wire.message import Message, Record
from trio_dns._wire.name import Name
from trio_dns._wire.rdata import rdata_from_text
from trio_dns._wire.rdtypes.address import AAAA, A

START = 1_700_000_000.0  # wall-clock seconds the tests' cache starts at


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def n(text: str) -> Name:
    return Name.from_text(text)


def addr(host: str, port: int = 53) -> Address:
    return (host, port)


def rec(text: str) -> Record:
    """`owner ttl class type rdata` as one Record."""
    name, ttl, rclass, rtype, rdata = text.split(None, 4)
    rtype_ = RRType.from_text(rtype)
    return Record(
        Name.from_text(name),
        rtype_,
        RRClass.from_text(rclass),
        int(ttl),
        rdata_from_text(rtype_, rdata),
    )


def recs(*texts: str) -> tuple[Record, ...]:
    return tuple(rec(t) for t in texts)


def reply(
    qname: str | Name,
    qtype: str | RRType,
    *,
    aa: bool = True,
    ra: bool = False,
    rcode: Rcode = Rcode.NOERROR,
    answer: Sequence[str] = (),
    authority: Sequence[str] = (),
    additional: Sequence[str] = (),
) -> Message:
    """The reply a server gives to (qname, qtype), sections spelt as zone-file lines."""
    query = Message.make_query(qname, qtype, id=1, flags=Flag(0), edns=None)
    flags = (Flag.AA if aa else Flag(0)) | (Flag.RA if ra else Flag(0))
    response = query.make_response(rcode, flags)
    return attrs.evolve(
        response, answer=recs(*answer), authority=recs(*authority), additional=recs(*additional)
    )


# -- the hierarchy the tests resolve in ----------------------------------------------

HINTS = recs(
    ". 3600000 IN NS a.root-servers.test.",
    ". 3600000 IN NS b.root-servers.test.",
    "a.root-servers.test. 3600000 IN A 192.0.2.1",
    "a.root-servers.test. 3600000 IN AAAA 2001:db8::1",
    "b.root-servers.test. 3600000 IN A 192.0.2.2",
)
ROOT_A = addr("192.0.2.1")
ROOT_A6 = addr("2001:db8::1")
ROOT_B = addr("192.0.2.2")

COM_NS = ("com. 172800 IN NS ns.gtld.test.",)
COM_GLUE = ("ns.gtld.test. 172800 IN A 192.0.2.10",)
COM = addr("192.0.2.10")

EXAMPLE_NS = ("example.com. 86400 IN NS ns1.example.com.",)
EXAMPLE_GLUE = ("ns1.example.com. 86400 IN A 192.0.2.20",)
EXAMPLE = addr("192.0.2.20")

EXAMPLE_SOA = (
    "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300"
)
COM_SOA = "com. 900 IN SOA ns.gtld.test. nstld.gtld.test. 1 1800 900 604800 86400"
ROOT_SOA = ". 86400 IN SOA a.root-servers.test. nstld.root-servers.test. 1 1800 900 604800 86400"


@attrs.define(eq=False)
class Setup:
    """A context and the clocks it reads, which the test advances."""

    context: Context
    clock: Clock
    monotonic: Clock

    @property
    def cache(self) -> Cache:
        return self.context.cache

    @property
    def servers(self) -> ServerSelection:
        return self.context.servers

    def work(self, *, cd: bool = False) -> Work:
        return Work(self.context.settings, self.monotonic(), self.monotonic, [], cd=cd)

    def iteration(
        self,
        qname: str,
        qtype: RRType = RRType.A,
        *,
        work: Work | None = None,
        path: tuple[tuple[Name, RRType], ...] = (),
    ) -> Iteration:
        return Iteration(self.context, n(qname), qtype, RRClass.IN, work or self.work(), path)

    def put(self, *texts: str, rank: Rank = Rank.AUTH_ANSWER) -> None:
        """Cache these records, one RRset per (owner, type), at `rank`."""
        sets: dict[tuple[Name, RRType], list[Record]] = {}
        for record in recs(*texts):
            sets.setdefault((record.name, record.rtype), []).append(record)
        for records in sets.values():
            assert self.cache.put_rrset(records, rank, self.clock())

    def delegate(self, ns: Sequence[str], glue: Sequence[str] = ()) -> None:
        """Cache a delegation as a referral leaves it."""
        self.put(*ns, rank=Rank.AUTHORITY)
        if glue:
            self.put(*glue, rank=Rank.ADDITIONAL)


def setup(
    settings: ResolverSettings | None = None,
    *,
    primed: bool = True,
    local_zones: Sequence[Zone] = (),
    hints: Sequence[Record] = HINTS,
) -> Setup:
    """A resolver's context at START. `primed`: the root NS set is already cached
    with authority, as priming leaves it (the hinted addresses, as glue)."""
    settings = settings or ResolverSettings()
    clock = Clock(START)
    monotonic = Clock(100.0)
    hint_ns, hint_addresses = hint_records(hints, settings.port)
    context = Context(
        Cache(),
        settings,
        ServerSelection(),
        local_zones,
        hint_ns,
        hint_addresses,
        tuple(r for r in hints if isinstance(r.rdata, A | AAAA)),
        clock,
    )
    made = Setup(context, clock, monotonic)
    if primed:
        made.put(*(r.to_text() for r in hints if r.rtype == RRType.NS))
        made.put(*(r.to_text() for r in hints if r.rtype != RRType.NS), rank=Rank.ADDITIONAL)
    return made


# -- walking an Iteration ------------------------------------------------------------


def ask(iteration: Iteration) -> Ask:
    step = iteration.next_step()
    assert isinstance(step, Ask), step
    return step


def answer_with(iteration: Iteration, message: Message) -> Ask:
    """Take the Ask the iteration is at, judge `message` as its winning reply, feed it back."""
    step = ask(iteration)
    iteration.receive(Replied(step.judge(message)))
    return step


def resolve_step(iteration: Iteration) -> Resolve:
    step = iteration.next_step()
    assert isinstance(step, Resolve), step
    return step


def done(iteration: Iteration) -> Answer:
    step = iteration.next_step()
    assert isinstance(step, Done), step
    return step.answer


def texts(records: Sequence[Record]) -> list[str]:
    return [r.to_text() for r in records]


ROOT_SERVERS = (ROOT_A, ROOT_A6, ROOT_B)

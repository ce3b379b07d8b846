"""DNSSEC validation by the resolver, on a fake internet of zones signed in the test.

The hierarchy: a signed root (NSEC) whose DS is the trust anchor; `test.` signed
with NSEC3; below it `example.test.` (signed, NSEC), `n3.test.` (signed, NSEC3)
and `insecure.test.` (unsigned, no DS); `sub.example.test.`, unsigned, below
`example.test.`; and `opt.`, signed with NSEC3 opt-out, with the unsigned
delegation `child.opt.` inside an opt-out span.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import pytest
import trio

from tests.dnssec.util import LegacyKey, records
from trio_dns import Answer, EdeCode, Edns, Message, Name, Rcode, Record, RRType
from trio_dns._dnssec import Algorithm
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._trust import Validation
from trio_dns._wire.rdtypes.ds import DS
from trio_dns.testing import (
    Behaviour,
    FakeNetwork,
    NSEC3Parameters,
    SigningKey,
    Zone,
    answer_query,
    sign_zone,
)

NOW = 1_750_000_000
VALID = (NOW - 86400, NOW + 86400)  # inception, expiration


def _soa(origin: str) -> str:
    return f"{origin} 3600 SOA ns.{origin} hostmaster.{origin} 1 7200 900 1209600 300"


ROOT = """
. 86400 SOA a.root. hostmaster.root. 1 1800 900 604800 300
. 86400 NS a.root.
a.root. 86400 A 192.0.2.1
test. 86400 NS ns.test.
ns.test. 86400 A 192.0.2.10
opt. 86400 NS ns.opt.
ns.opt. 86400 A 192.0.2.30
"""
TEST = f"""
{_soa("test.")}
test. 3600 NS ns.test.
ns.test. 3600 A 192.0.2.10
example.test. 3600 NS ns.example.test.
ns.example.test. 3600 A 192.0.2.20
n3.test. 3600 NS ns.n3.test.
ns.n3.test. 3600 A 192.0.2.22
insecure.test. 3600 NS ns.insecure.test.
ns.insecure.test. 3600 A 192.0.2.21
"""
EXAMPLE = f"""
{_soa("example.test.")}
example.test. 3600 NS ns.example.test.
ns.example.test. 3600 A 192.0.2.20
www.example.test. 3600 A 192.0.2.80
*.wild.example.test. 3600 A 192.0.2.81
alias.example.test. 3600 CNAME www.insecure.test.
dn.example.test. 3600 DNAME example.test.
sub.example.test. 3600 NS ns.sub.example.test.
ns.sub.example.test. 3600 A 192.0.2.23
"""
SUB = f"""
{_soa("sub.example.test.")}
sub.example.test. 3600 NS ns.sub.example.test.
ns.sub.example.test. 3600 A 192.0.2.23
www.sub.example.test. 3600 A 192.0.2.93
"""
N3 = f"""
{_soa("n3.test.")}
n3.test. 3600 NS ns.n3.test.
ns.n3.test. 3600 A 192.0.2.22
www.n3.test. 3600 A 192.0.2.82
a.deep.n3.test. 3600 A 192.0.2.83
"""
INSECURE = f"""
{_soa("insecure.test.")}
insecure.test. 3600 NS ns.insecure.test.
ns.insecure.test. 3600 A 192.0.2.21
www.insecure.test. 3600 A 192.0.2.90
back.insecure.test. 3600 CNAME www.example.test.
"""
OPT = f"""
{_soa("opt.")}
opt. 3600 NS ns.opt.
ns.opt. 3600 A 192.0.2.30
child.opt. 3600 NS ns.child.opt.
ns.child.opt. 3600 A 192.0.2.31
"""
CHILD = f"""
{_soa("child.opt.")}
child.opt. 3600 NS ns.child.opt.
ns.child.opt. 3600 A 192.0.2.31
www.child.opt. 3600 A 192.0.2.91
"""
HINTS = records(". 3600000 NS a.root.\na.root. 3600000 A 192.0.2.1")


def key(zone: str) -> SigningKey:
    return SigningKey.generate(zone, Algorithm.ED25519, ksk=True)


@attrs.define
class World:
    network: FakeNetwork
    anchor: Record
    zones: dict[str, Zone]
    leaf_key: Record  # the DNSKEY that example.test.'s DS points at

    def resolver(self, **settings: object) -> Resolver:
        return Resolver(
            root_hints=HINTS,
            transport=self.network,
            settings=ResolverSettings(trust_anchors=(self.anchor,), **settings),  # type: ignore[arg-type]
            clock=lambda: NOW,
        )


def build(
    *,
    leaf_times: tuple[int, int] = VALID,
    leaf_signer: SigningKey | None = None,
    bad_ds: bool = False,
    n3_iterations: int = 0,
    leaf_handler: Callable[[Zone], Callable[[Message], Message]] | None = None,
    example_key: SigningKey | None = None,
    n3_key: SigningKey | None = None,
    second_server: bool = False,
) -> World:
    """The hierarchy, with `example.test.` signed as asked: its signatures' times,
    a key the DS does not point at, a DS with a wrong digest, or a server that
    rewrites its replies; `example.test.` and `n3.test.` with keys of their own."""
    root_key, test_key, opt_key = key("."), key("test."), key("opt.")
    example_key = example_key or key("example.test.")
    n3_key = n3_key or key("n3.test.")
    ds = example_key.ds()
    if bad_ds:
        assert isinstance(ds.rdata, DS)
        ds = attrs.evolve(ds, rdata=attrs.evolve(ds.rdata, digest=bytes(32)))
    # A second, honest server for example.test.: the leaf handler (if any) makes
    # only the first one misbehave.
    second = "ns.example.test. 3600 A 192.0.2.25\n" if second_server else ""
    zones = {
        ".": sign_zone(
            [*records(ROOT), test_key.ds(), opt_key.ds()],
            [root_key],
            inception=VALID[0],
            expiration=VALID[1],
            denial="nsec",
        ),
        "test.": sign_zone(
            [*records(TEST + second), ds, n3_key.ds()],
            [test_key],
            inception=VALID[0],
            expiration=VALID[1],
            denial="nsec3",
        ),
        "example.test.": sign_zone(
            [*records(EXAMPLE + second), *([example_key.record()] if leaf_signer else [])],
            [leaf_signer or example_key],
            inception=leaf_times[0],
            expiration=leaf_times[1],
        ),
        "n3.test.": sign_zone(
            records(N3),
            [n3_key],
            inception=VALID[0],
            expiration=VALID[1],
            denial="nsec3",
            nsec3=NSEC3Parameters(iterations=n3_iterations),
        ),
        "insecure.test.": records(INSECURE),
        "opt.": sign_zone(
            records(OPT),
            [opt_key],
            inception=VALID[0],
            expiration=VALID[1],
            denial="nsec3",
            nsec3=NSEC3Parameters(opt_out=True),
        ),
        "child.opt.": records(CHILD),
        "sub.example.test.": records(SUB),
    }
    if leaf_signer is not None:
        # The zone publishes the key the DS names, but signs with another one.
        zones["example.test."] = [
            r
            for r in zones["example.test."]
            if r.rtype != RRType.DNSKEY or r.rdata != leaf_signer.dnskey
        ]
    addresses = {
        ".": "192.0.2.1",
        "test.": "192.0.2.10",
        "example.test.": "192.0.2.20",
        "insecure.test.": "192.0.2.21",
        "n3.test.": "192.0.2.22",
        "opt.": "192.0.2.30",
        "child.opt.": "192.0.2.31",
        "sub.example.test.": "192.0.2.23",
    }
    network = FakeNetwork()
    built = {origin: Zone.from_records(origin, rs) for origin, rs in zones.items()}
    for origin, zone in built.items():
        behaviour = None
        if origin == "example.test." and leaf_handler is not None:
            behaviour = Behaviour(handler=leaf_handler(zone))
        network.add_server([addresses[origin]], [zone], behaviour=behaviour)
    if second_server:
        network.add_server(["192.0.2.25"], [built["example.test."]])
    return World(network, root_key.ds(), built, example_key.record())


def stripping(rtype: RRType) -> Callable[[Zone], Callable[[Message], Message]]:
    """A handler that drops the RRSIGs over `rtype` from every reply."""

    def make(zone: Zone) -> Callable[[Message], Message]:
        def handler(query: Message) -> Message:
            reply = answer_query((zone,), query)
            return attrs.evolve(
                reply,
                answer=tuple(
                    r
                    for r in reply.answer
                    if r.rtype != RRType.RRSIG or r.rdata.to_bytes()[:2] != rtype.to_bytes(2, "big")
                ),
            )

        return handler

    return make


def dnssec_ok(query: Message | bytes) -> bool:
    assert isinstance(query, Message)
    return query.edns is not None and query.edns.dnssec_ok


def texts(answer: object) -> list[str]:
    return [r.rdata.to_text() for r in answer.records]  # type: ignore[attr-defined]


def assert_bogus(answer: object, code: EdeCode) -> None:
    assert answer.rcode == Rcode.SERVFAIL, answer  # type: ignore[attr-defined]
    assert answer.validation is Validation.BOGUS  # type: ignore[attr-defined]
    assert answer.error is not None and answer.error.info_code == code, answer.error  # type: ignore[attr-defined]


# -- secure and insecure answers ------------------------------------------------------


async def test_secure_answer(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    assert resolver.validating
    answer = await resolver.resolve("www.example.test", "A")
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer) == ["192.0.2.80"]
    assert answer.validation is Validation.SECURE
    assert [r.rtype for r in answer.rrsigs] == [RRType.RRSIG]
    # Upstream queries asked for DNSSEC records.
    assert all(dnssec_ok(e.query) for e in world.network.exchanges)


async def test_trace_shows_the_chain_of_trust(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    answer = await world.resolver().resolve("www.example.test", "A", trace=True)
    events = [e.outcome for e in answer.trace if e.kind == "dnssec"]
    assert any(e.startswith("trust anchor for . matches key") for e in events), events
    assert any(e.startswith("DS for example.test. matches key") for e in events), events
    assert "DNSKEY example.test. verified" in events
    assert "www.example.test. A secure" in events


async def test_insecure_delegation_by_nsec3(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    answer = await world.resolver().resolve("www.insecure.test", "A", trace=True)
    assert texts(answer) == ["192.0.2.90"]
    assert answer.validation is Validation.INSECURE
    events = [e.outcome for e in answer.trace if e.kind == "dnssec"]
    assert "insecure: no DS for insecure.test. (NSEC3)" in events


async def test_insecure_delegation_in_an_opt_out_span(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    answer = await world.resolver().resolve("www.child.opt", "A")
    assert texts(answer) == ["192.0.2.91"]
    assert answer.validation is Validation.INSECURE


async def test_cname_from_secure_to_insecure_and_back(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    answer = await resolver.resolve("alias.example.test", "A")
    assert texts(answer) == ["www.insecure.test.", "192.0.2.90"]
    assert answer.validation is Validation.INSECURE
    back = await resolver.resolve("back.insecure.test", "A")
    assert texts(back) == ["www.example.test.", "192.0.2.80"]
    assert back.validation is Validation.INSECURE
    alone = await resolver.resolve("www.example.test", "A")
    assert alone.validation is Validation.SECURE


async def test_wildcard_answer_is_proven(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    answer = await world.resolver().resolve("anything.wild.example.test", "A")
    assert texts(answer) == ["192.0.2.81"]
    assert answer.validation is Validation.SECURE
    assert any(r.rtype == RRType.NSEC for r in answer.proof)


async def test_wildcard_answer_without_its_proof_is_bogus(
    autojump_clock: trio.abc.Clock,
) -> None:
    def make(zone: Zone) -> Callable[[Message], Message]:
        def handler(query: Message) -> Message:
            reply = answer_query((zone,), query)
            return attrs.evolve(reply, authority=())

        return handler

    world = build(leaf_handler=make)
    answer = await world.resolver().resolve("anything.wild.example.test", "A")
    assert_bogus(answer, EdeCode.NSEC_MISSING)


# -- denial of existence --------------------------------------------------------------


async def test_nsec_nxdomain_and_nodata(autojump_clock: trio.abc.Clock) -> None:
    resolver = build().resolver()
    nx = await resolver.resolve("nope.example.test", "A")
    assert nx.rcode == Rcode.NXDOMAIN
    assert nx.validation is Validation.SECURE
    assert any(r.rtype == RRType.NSEC for r in nx.proof)
    nodata = await resolver.resolve("www.example.test", "TXT")
    assert (nodata.rcode, nodata.validation) == (Rcode.NOERROR, Validation.SECURE)
    assert not nodata.records


async def test_nsec3_nxdomain_and_nodata(autojump_clock: trio.abc.Clock) -> None:
    resolver = build().resolver()
    nx = await resolver.resolve("nope.n3.test", "A")
    assert (nx.rcode, nx.validation) == (Rcode.NXDOMAIN, Validation.SECURE)
    assert any(r.rtype == RRType.NSEC3 for r in nx.proof)
    nodata = await resolver.resolve("www.n3.test", "MX")
    assert (nodata.rcode, nodata.validation) == (Rcode.NOERROR, Validation.SECURE)
    ent = await resolver.resolve("deep.n3.test", "A")  # an empty non-terminal
    assert (ent.rcode, ent.validation) == (Rcode.NOERROR, Validation.SECURE)


async def test_forged_unsigned_nxdomain_is_rejected(autojump_clock: trio.abc.Clock) -> None:
    def make(zone: Zone) -> Callable[[Message], Message]:
        def handler(query: Message) -> Message:
            reply = answer_query((zone,), query)
            if query.question[0].name == Name.from_text("www.example.test"):
                soa = zone.negative_soa()
                forged = query.make_response(Rcode.NXDOMAIN)
                return attrs.evolve(forged, authority=(soa,), edns=reply.edns)
            return reply

        return handler

    world = build(leaf_handler=make)
    answer = await world.resolver().resolve("www.example.test", "A")
    assert_bogus(answer, EdeCode.RRSIGS_MISSING)


async def test_nxdomain_without_proof_is_bogus(autojump_clock: trio.abc.Clock) -> None:
    def make(zone: Zone) -> Callable[[Message], Message]:
        def handler(query: Message) -> Message:
            reply = answer_query((zone,), query)
            if reply.rcode == Rcode.NXDOMAIN:
                kept = tuple(
                    r
                    for r in reply.authority
                    if r.rtype not in (RRType.NSEC, RRType.RRSIG)
                    or (r.rtype == RRType.RRSIG and r.rdata.to_bytes()[:2] == b"\x00\x06")
                )
                return attrs.evolve(reply, authority=kept)
            return reply

        return handler

    world = build(leaf_handler=make)
    answer = await world.resolver().resolve("nope.example.test", "A")
    assert_bogus(answer, EdeCode.NSEC_MISSING)


# -- bogus ------------------------------------------------------------------------------


async def test_expired_signature(autojump_clock: trio.abc.Clock) -> None:
    world = build(leaf_times=(NOW - 7200, NOW - 3600))
    resolver = world.resolver()
    answer = await resolver.resolve("www.example.test", "A")
    assert_bogus(answer, EdeCode.SIGNATURE_EXPIRED)
    assert not answer.records
    assert (resolver.stats.bogus, resolver.stats.secure) == (1, 0)


async def test_a_bogus_answer_is_asked_again_of_the_zones_other_server(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The first server strips the signatures; the zone's second one is honest.
    # A bogus reply condemns the server that sent it, not the zone.
    world = build(leaf_handler=stripping(RRType.A), second_server=True)
    resolver = world.resolver()
    answer = await resolver.resolve("www.example.test", "A", trace=True)
    assert answer.rcode == Rcode.NOERROR and answer.validation is Validation.SECURE
    assert texts(answer) == ["192.0.2.80"]
    asked = [e.server[0] for e in answer.trace if e.kind == "query" and e.qname == answer.qname]
    assert asked[0] == "192.0.2.20" and asked[-1] == "192.0.2.25"
    assert any(e.outcome == "bogus: asking other servers" for e in answer.trace)
    assert (resolver.stats.bogus, resolver.stats.secure) == (0, 1)
    # The honest answer is what the cache keeps.
    again = await resolver.resolve("www.example.test", "A")
    assert again.from_cache and again.validation is Validation.SECURE


async def test_signature_not_yet_valid(autojump_clock: trio.abc.Clock) -> None:
    world = build(leaf_times=(NOW + 3600, NOW + 7200))
    answer = await world.resolver().resolve("www.example.test", "A")
    assert_bogus(answer, EdeCode.SIGNATURE_NOT_YET_VALID)


async def test_wrong_key(autojump_clock: trio.abc.Clock) -> None:
    world = build(leaf_signer=key("example.test."))
    answer = await world.resolver().resolve("www.example.test", "A")
    assert_bogus(answer, EdeCode.DNSKEY_MISSING)


async def test_missing_rrsig(autojump_clock: trio.abc.Clock) -> None:
    world = build(leaf_handler=stripping(RRType.A))
    answer = await world.resolver().resolve("www.example.test", "A")
    assert_bogus(answer, EdeCode.RRSIGS_MISSING)


async def test_bad_ds(autojump_clock: trio.abc.Clock) -> None:
    world = build(bad_ds=True)
    answer = await world.resolver().resolve("www.example.test", "A")
    assert_bogus(answer, EdeCode.DNSKEY_MISSING)
    # The rest of the tree is unaffected.
    other = await world.resolver().resolve("www.n3.test", "A")
    assert other.validation is Validation.SECURE


async def test_cd_returns_bogus_data_unvalidated(autojump_clock: trio.abc.Clock) -> None:
    world = build(leaf_times=(NOW - 7200, NOW - 3600))
    resolver = world.resolver()
    answer = await resolver.resolve("www.example.test", "A", cd=True)
    assert answer.rcode == Rcode.NOERROR
    assert texts(answer) == ["192.0.2.80"]
    assert answer.validation is Validation.INDETERMINATE
    # Without CD, the same (now cached) data is still bogus.
    again = await resolver.resolve("www.example.test", "A")
    assert_bogus(again, EdeCode.SIGNATURE_EXPIRED)


async def test_negative_trust_anchor(autojump_clock: trio.abc.Clock) -> None:
    world = build(leaf_times=(NOW - 7200, NOW - 3600))
    resolver = world.resolver(insecure_domains=(Name.from_text("example.test"),))
    answer = await resolver.resolve("www.example.test", "A")
    assert texts(answer) == ["192.0.2.80"]
    assert answer.validation is Validation.INSECURE
    other = await resolver.resolve("www.n3.test", "A")
    assert other.validation is Validation.SECURE


async def test_bogus_is_cached_briefly_and_never_served_as_valid(
    autojump_clock: trio.abc.Clock,
) -> None:
    world = build(leaf_times=(NOW - 7200, NOW - 3600))
    resolver = world.resolver()
    first = await resolver.resolve("www.example.test", "A")
    assert_bogus(first, EdeCode.SIGNATURE_EXPIRED)
    cached = resolver.cache.get_rrset(
        Name.from_text("www.example.test"), RRType.A, first.qclass, resolver.now()
    )
    assert cached is not None and cached.validation is Validation.BOGUS
    assert cached.ttl <= 60
    world.network.clear_log()
    second = await resolver.resolve("www.example.test", "A")
    assert second.rcode == Rcode.SERVFAIL
    assert not world.network.exchanges  # from the cache, still bogus


# -- caching and defaults ---------------------------------------------------------------


async def test_validation_state_is_cached(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    await resolver.resolve("www.example.test", "A")
    world.network.clear_log()
    answer = await resolver.resolve("nope.example.test", "A")
    assert answer.validation is Validation.SECURE
    asked = {
        e.query.question[0].rtype for e in world.network.exchanges if isinstance(e.query, Message)
    }
    assert RRType.DNSKEY not in asked and RRType.DS not in asked
    again = await resolver.resolve("www.example.test", "A")
    assert again.validation is Validation.SECURE and again.from_cache
    entry = resolver.cache.get_rrset(
        Name.from_text("www.example.test"), RRType.A, again.qclass, trio.current_time()
    )
    assert entry is not None and entry.validation is Validation.SECURE


def test_default_resolver_uses_the_iana_anchors() -> None:
    resolver = Resolver()
    assert resolver.validating
    assert resolver._validator.anchors
    assert all(a.name.is_root() and a.rtype == RRType.DS for a in resolver._validator.anchors)


def test_custom_hints_without_anchors_do_not_validate() -> None:
    resolver = Resolver(root_hints=HINTS)
    assert not resolver.validating
    assert not Resolver(settings=ResolverSettings(dnssec=False)).validating


async def test_no_validation_without_anchor(autojump_clock: trio.abc.Clock) -> None:
    world = build(leaf_times=(NOW - 7200, NOW - 3600))
    resolver = Resolver(root_hints=HINTS, transport=world.network)
    answer = await resolver.resolve("www.example.test", "A")
    assert texts(answer) == ["192.0.2.80"]
    assert answer.validation is Validation.INDETERMINATE
    assert not any(dnssec_ok(e.query) for e in world.network.exchanges)


async def test_unsigned_private_root_with_anchor_is_bogus(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The anchor says the root is signed; a root without keys is an attack.
    network = FakeNetwork()
    network.add_server(["192.0.2.1"], [Zone.from_records(".", records(ROOT))])
    anchor = key(".").ds()
    resolver = Resolver(
        root_hints=HINTS,
        transport=network,
        settings=ResolverSettings(trust_anchors=(anchor,)),
        clock=lambda: NOW,
    )
    answer = await resolver.resolve("a.root", "A")
    assert_bogus(answer, EdeCode.DNSKEY_MISSING)


async def test_do_queries_get_dnssec_records_from_authority() -> None:
    world = build()
    zone = world.zones["example.test."]
    query = Message.make_query("nope.example.test", "A", edns=Edns(dnssec_ok=True))
    reply = answer_query((zone,), query)
    assert {r.rtype for r in reply.authority} >= {RRType.SOA, RRType.NSEC, RRType.RRSIG}


# -- forwarding ----------------------------------------------------------------------------


def forwarding(world: World) -> Resolver:
    """A resolver forwarding to one upstream that knows every zone of the world."""
    world.network.add_server(["192.0.2.99"], list(world.zones.values()))
    return Resolver(
        root_hints=HINTS,
        transport=world.network,
        settings=ResolverSettings(forwarders=(("192.0.2.99", 53),), trust_anchors=(world.anchor,)),
        clock=lambda: NOW,
    )


async def test_forwarded_answers_are_validated(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = forwarding(world)
    secure = await resolver.resolve("www.example.test", "A")
    assert secure.validation is Validation.SECURE
    # No referrals come through a forwarder: the unsigned zone is found by asking
    # for DS down the name.
    insecure = await resolver.resolve("www.insecure.test", "A")
    assert texts(insecure) == ["192.0.2.90"]
    assert insecure.validation is Validation.INSECURE
    nx = await resolver.resolve("nope.n3.test", "A")
    assert (nx.rcode, nx.validation) == (Rcode.NXDOMAIN, Validation.SECURE)
    assert {e.server for e in world.network.exchanges} == {("192.0.2.99", 53)}


async def test_forwarded_bogus_answer(autojump_clock: trio.abc.Clock) -> None:
    world = build(leaf_handler=stripping(RRType.A))
    world.zones["example.test."] = Zone.from_records(
        "example.test.",
        [
            r
            for r in world.zones["example.test."].records
            if not (r.rtype == RRType.RRSIG and r.rdata.to_bytes()[:2] == b"\x00\x01")
        ],
    )
    answer = await forwarding(world).resolve("www.example.test", "A")
    assert_bogus(answer, EdeCode.RRSIGS_MISSING)


async def test_anchor_below_the_root(autojump_clock: trio.abc.Clock) -> None:
    # A DNSKEY anchor for example.test. alone: names outside it are insecure,
    # and inside it nothing unsigned passes.
    world = build()
    resolver = Resolver(
        root_hints=HINTS,
        transport=world.network,
        settings=ResolverSettings(trust_anchors=(world.leaf_key,)),
        clock=lambda: NOW,
    )
    secure = await resolver.resolve("www.example.test", "A")
    assert secure.validation is Validation.SECURE
    outside = await resolver.resolve("www.n3.test", "A")
    assert outside.validation is Validation.INSECURE
    stripped = build(leaf_handler=stripping(RRType.A))
    resolver = Resolver(
        root_hints=HINTS,
        transport=stripped.network,
        settings=ResolverSettings(trust_anchors=(stripped.leaf_key,)),
        clock=lambda: NOW,
    )
    assert_bogus(await resolver.resolve("www.example.test", "A"), EdeCode.RRSIGS_MISSING)


async def test_cached_answers_carry_their_validation(autojump_clock: trio.abc.Clock) -> None:
    resolver = build().resolver()
    assert resolver.cached("www.example.test", "A") is None
    await resolver.resolve("www.example.test", "A")
    await resolver.resolve("nope.example.test", "A")
    hit = resolver.cached("www.example.test", "A")
    assert hit is not None and hit.validation is Validation.SECURE and hit.rrsigs
    negative = resolver.cached("nope.example.test", "A")
    assert negative is not None and negative.validation is Validation.SECURE
    bogus_world = build(leaf_times=(NOW - 7200, NOW - 3600))
    bogus = bogus_world.resolver()
    await bogus.resolve("www.example.test", "A")
    cached = bogus.cached("www.example.test", "A")
    assert cached is not None and cached.rcode == Rcode.SERVFAIL


async def test_dname_answer_is_validated_through_the_dname(
    autojump_clock: trio.abc.Clock,
) -> None:
    answer = await build().resolver().resolve("www.dn.example.test", "A")
    assert [r.rtype for r in answer.records] == [RRType.DNAME, RRType.CNAME, RRType.A]
    assert answer.validation is Validation.SECURE
    assert ";; dnssec: secure" in answer.to_text()


class NoLookup:
    """A Lookup for tests that must not need the network."""

    async def fetch(self, name: Name, rtype: RRType) -> Answer:
        raise AssertionError(f"unexpected lookup of {name} {rtype.name}")

    def zone_of(self, name: Name) -> Name:
        return Name.from_text(".")

    def cuts_known(self, name: Name) -> bool:
        return True

    def note(self, name: Name, rtype: RRType, text: str) -> None:
        pass

    def known(self, rrset: Sequence[Record]) -> Validation:
        return Validation.INDETERMINATE

    def remember(
        self,
        rrset: Sequence[Record],
        rrsigs: Sequence[Record],
        validation: Validation,
        ttl: int | None = None,
    ) -> None:
        pass


async def test_zone_key_memory_is_bounded(
    autojump_clock: trio.abc.Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trio_dns._decisions.validation as validation

    monkeypatch.setattr(validation, "MAX_ZONES", 3)
    # Everything is under a negative trust anchor: no lookups are needed.
    validator = validation.Validator(
        (HINTS[0],), lambda: NOW, insecure_domains=(Name.from_text("."),)
    )
    names = [Name.from_text(f"z{i}.test") for i in range(5)]
    for zone in names:
        keys = await validator.zone_keys(zone, NoLookup())
        assert keys.verdict.validation is Validation.INSECURE
    assert list(validator.zones) == names[2:]


async def test_rrsig_query_is_not_called_secure(autojump_clock: trio.abc.Clock) -> None:
    answer = await build().resolver().resolve("www.example.test", "RRSIG")
    assert answer.rcode == Rcode.NOERROR and answer.records
    assert answer.validation is Validation.INSECURE


async def test_nsec3_iterations_above_the_limit_are_insecure(
    autojump_clock: trio.abc.Clock,
) -> None:
    world = build(n3_iterations=10)
    resolver = world.resolver(nsec3_max_iterations=5)
    nx = await resolver.resolve("nope.n3.test", "A")
    assert (nx.rcode, nx.validation) == (Rcode.NXDOMAIN, Validation.INSECURE)
    # Signed data of the zone is still secure.
    www = await resolver.resolve("www.n3.test", "A")
    assert www.validation is Validation.SECURE


def asked(world: World, rtype: RRType) -> list[Name]:
    """The names the resolver asked servers about with this type."""
    return [
        e.query.question[0].name
        for e in world.network.exchanges
        if isinstance(e.query, Message) and e.query.question[0].rtype == rtype
    ]


# -- the old algorithms: RSA/SHA-1 (RFC 8624 section 3.1: MUST) and DSA ---------------------


@pytest.mark.parametrize("algorithm", [Algorithm.RSASHA1, Algorithm.DSA], ids=["RSASHA1", "DSA"])
async def test_nsec_zone_signed_with_an_old_algorithm(
    autojump_clock: trio.abc.Clock, algorithm: Algorithm
) -> None:
    signer = LegacyKey.legacy("example.test.", algorithm)
    resolver = build(example_key=signer).resolver()
    answer = await resolver.resolve("www.example.test", "A")
    assert (texts(answer), answer.validation) == (["192.0.2.80"], Validation.SECURE)
    assert {sig.rdata.algorithm for sig in answer.rrsigs} == {algorithm}  # type: ignore[attr-defined]
    nx = await resolver.resolve("nope.example.test", "A")
    assert (nx.rcode, nx.validation) == (Rcode.NXDOMAIN, Validation.SECURE)
    # And forged data under such a key is caught, not waved through as insecure.
    expired = build(example_key=signer, leaf_times=(NOW - 7200, NOW - 3600))
    assert_bogus(
        await expired.resolver().resolve("www.example.test", "A"), EdeCode.SIGNATURE_EXPIRED
    )
    stripped = build(example_key=signer, leaf_handler=stripping(RRType.A))
    assert_bogus(await stripped.resolver().resolve("www.example.test", "A"), EdeCode.RRSIGS_MISSING)


@pytest.mark.parametrize(
    "algorithm",
    [Algorithm.RSASHA1_NSEC3_SHA1, Algorithm.DSA_NSEC3_SHA1],
    ids=["RSASHA1-NSEC3-SHA1", "DSA-NSEC3-SHA1"],
)
async def test_nsec3_zone_signed_with_an_old_algorithm(
    autojump_clock: trio.abc.Clock, algorithm: Algorithm
) -> None:
    resolver = build(n3_key=LegacyKey.legacy("n3.test.", algorithm)).resolver()
    www = await resolver.resolve("www.n3.test", "A")
    assert (texts(www), www.validation) == (["192.0.2.82"], Validation.SECURE)
    nx = await resolver.resolve("nope.n3.test", "A")
    assert (nx.rcode, nx.validation) == (Rcode.NXDOMAIN, Validation.SECURE)


# -- what the referrals already said: no DS questions they answered ------------------------


async def test_a_referrals_nsec_proof_of_no_ds_is_used(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    answer = await resolver.resolve("www.sub.example.test", "A", trace=True)
    assert (texts(answer), answer.validation) == (["192.0.2.93"], Validation.INSECURE)
    events = [e.outcome for e in answer.trace if e.kind == "dnssec"]
    assert "insecure: no DS for sub.example.test. (NSEC)" in events
    # The referral from example.test. carried the signed NSEC at the cut.
    assert Name.from_text("sub.example.test") not in asked(world, RRType.DS)


@pytest.mark.parametrize("qname", ["www.insecure.test", "www.child.opt"])
async def test_a_referrals_nsec3_proof_of_no_ds_is_used(
    autojump_clock: trio.abc.Clock, qname: str
) -> None:
    world = build()
    answer = await world.resolver().resolve(qname, "A")
    assert answer.validation is Validation.INSECURE
    assert not asked(world, RRType.DS)


async def test_unsigned_data_deep_in_a_secure_zone_asks_no_ds(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Iterating, the cut above every name is known from the referrals: unsigned data
    # below example.test. is bogus, and no DS is asked for the labels in between.
    world = build(leaf_handler=stripping(RRType.A))
    answer = await world.resolver().resolve("a.b.wild.example.test", "A")
    assert_bogus(answer, EdeCode.RRSIGS_MISSING)
    assert not asked(world, RRType.DS)


def _without_soa(zone: Zone) -> Callable[[Message], Message]:
    """A handler that drops the SOA and its RRSIG from NODATA replies to A questions."""
    soa_sig = RRType.SOA.to_bytes(2, "big")

    def handler(query: Message) -> Message:
        reply = answer_query((zone,), query)
        if reply.rcode != Rcode.NOERROR or reply.answer or query.question[0].rtype != RRType.A:
            return reply
        kept = tuple(
            r
            for r in reply.authority
            if r.rtype != RRType.SOA
            and not (r.rtype == RRType.RRSIG and r.rdata.to_bytes()[:2] == soa_sig)
        )
        return attrs.evolve(reply, authority=kept)

    return handler


async def test_a_denial_without_the_zones_soa_is_bogus(autojump_clock: trio.abc.Clock) -> None:
    # The NSEC proof is there and would prove the NODATA; the SOA is not. In a
    # secure zone whose cut is known, that is no denial by the zone: bogus, and no
    # DS asked for the name to look for a zone cut nobody mentioned.
    world = build(leaf_handler=_without_soa)
    answer = await world.resolver().resolve("dn.example.test", "A")
    assert answer.rcode == Rcode.SERVFAIL and answer.validation is Validation.BOGUS
    assert answer.error is not None and "with no SOA" in answer.error.extra_text
    replies = [
        e.reply
        for e in world.network.exchanges
        if e.qname == Name.from_text("dn.example.test") and isinstance(e.reply, Message)
    ]
    assert replies and {r.rtype for r in replies[0].authority} == {RRType.NSEC, RRType.RRSIG}
    assert not asked(world, RRType.DS)


async def test_forwarded_unsigned_data_still_walks_down(autojump_clock: trio.abc.Clock) -> None:
    # Behind a forwarder no referral names the cuts: the DS walk finds the unsigned zone.
    world = build()
    answer = await forwarding(world).resolve("www.sub.example.test", "A")
    assert (texts(answer), answer.validation) == (["192.0.2.93"], Validation.INSECURE)
    assert Name.from_text("sub.example.test") in asked(world, RRType.DS)


# -- RFC 8509: the root key trust anchor sentinel -----------------------------------------


async def test_root_key_sentinel(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    assert isinstance(world.anchor.rdata, DS)
    tag = world.anchor.rdata.key_tag
    other = (tag + 1) % 65536

    async def ask(label: str, qtype: str = "A", **kwargs: object) -> Answer:
        return await resolver.resolve(f"{label}.wild.example.test", qtype, **kwargs)  # type: ignore[arg-type]

    trusted_is = await ask(f"root-key-sentinel-is-ta-{tag:05d}")
    assert (texts(trusted_is), trusted_is.validation) == (["192.0.2.81"], Validation.SECURE)
    trusted_not = await ask(f"root-key-sentinel-not-ta-{tag:05d}")
    assert trusted_not.rcode == Rcode.SERVFAIL
    assert (
        trusted_not.error is not None and "is a root trust anchor" in trusted_not.error.extra_text
    )
    # Asked again, the cached data is judged again, without a query.
    world.network.clear_log()
    assert (await ask(f"root-key-sentinel-not-ta-{tag:05d}")).rcode == Rcode.SERVFAIL
    assert not world.network.exchanges
    # Only data is judged: a denial (no AAAA at the wildcard) and other types are not.
    nodata = await ask(f"root-key-sentinel-not-ta-{tag:05d}", "AAAA")
    assert (nodata.rcode, nodata.validation) == (Rcode.NOERROR, Validation.SECURE)
    txt = await ask(f"root-key-sentinel-is-ta-{other:05d}", "TXT")
    assert (txt.rcode, txt.validation) == (Rcode.NOERROR, Validation.SECURE)
    untrusted_is = await ask(f"ROOT-KEY-SENTINEL-IS-TA-{other:05d}")
    assert untrusted_is.rcode == Rcode.SERVFAIL
    untrusted_not = await ask(f"root-key-sentinel-not-ta-{other:05d}")
    assert untrusted_not.validation is Validation.SECURE and untrusted_not.records
    # CD: nothing validated, nothing refused.
    unchecked = await ask(f"root-key-sentinel-is-ta-{other:05d}", cd=True)
    assert unchecked.rcode == Rcode.NOERROR and unchecked.records
    # Four digits is no sentinel label.
    assert (await ask(f"root-key-sentinel-is-ta-{other % 10000:04d}")).records


async def test_root_key_sentinel_leaves_insecure_answers(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver(insecure_domains=(Name.from_text("wild.example.test"),))
    answer = await resolver.resolve("root-key-sentinel-is-ta-00000.wild.example.test", "A")
    assert (texts(answer), answer.validation) == (["192.0.2.81"], Validation.INSECURE)

"""RFC 8198: denials and wildcard expansions made from validated NSEC/NSEC3 ranges.

First the store alone (`AggressiveCache`), on chains built by hand: it takes what
it is given as verified, so these records carry placeholder RRSIGs. Then
`remember_secure`, which verifies again what it keeps, on a zone signed in the
test. Last, a signed fake internet, where the resolver answers what the ranges it
holds prove without asking, and serves a cached wildcard answer with its proof.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable

import attrs
import dns.message
import dns.query
import dns.rdatatype
import pytest
import trio
from trio.testing import MockClock

from tests.dnssec.util import records
from tests.iteration_util import START, n, setup
from trio_dns._decisions.aggressive import AggressiveCache, Denial, Expansion, remember_secure
from trio_dns._decisions.answer import Answer
from trio_dns._decisions.validation import Verdict, ZoneKeys
from trio_dns._dnssec import Algorithm, nsec3_hash, nsec3_nxdomain, nsec3_wildcard, nsec_nxdomain
from trio_dns._dnssec.nsec3 import hashed_owner
from trio_dns._dnssec.verify import signature_labels
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._server.server import Server, ServerSettings
from trio_dns._trust import Rank, Validation
from trio_dns._wire.enums import Rcode, RRClass, RRType
from trio_dns._wire.message import Message, Record
from trio_dns._wire.name import Name
from trio_dns._wire.rdtypes.nsec import NSEC
from trio_dns._wire.rdtypes.nsec3 import NSEC3, OPT_OUT, base32hex_decode
from trio_dns._wire.rdtypes.rrsig import RRSIG
from trio_dns.testing import (
    Behaviour,
    FakeNetwork,
    NSEC3Parameters,
    SigningKey,
    Zone,
    answer_query,
    sign_zone,
)

IN = RRClass.IN
A, MX, TXT, DS = RRType.A, RRType.MX, RRType.TXT, RRType.DS
NOW = float(START)


# -- chains built by hand --------------------------------------------------------------


def placeholder_sig(record: Record, signer: Name) -> Record:
    """An RRSIG-shaped record: the store never checks signatures."""
    rdata = RRSIG(
        record.rtype, 13, signature_labels(record.name), record.ttl, 2**31, 0, 1, signer, b"x"
    )
    return Record(record.name, RRType.RRSIG, IN, record.ttl, rdata)


def soa(zone: str, ttl: int = 3600, minimum: int = 300) -> Record:
    (record,) = records(
        f"{zone} {ttl} SOA ns.{zone} hostmaster.{zone} 1 7200 900 1209600 {minimum}"
    )
    return record


def nsec_chain(owners: dict[str, set[RRType]], ttl: int = 300) -> dict[Name, Record]:
    """The NSEC record of each owner, linked in canonical order, last to first."""
    names = sorted(n(owner) for owner in owners)
    chain = {}
    for index, name in enumerate(names):
        following = names[(index + 1) % len(names)]
        types = owners[name.to_text()] | {RRType.NSEC, RRType.RRSIG}
        chain[name] = Record(name, RRType.NSEC, IN, ttl, NSEC(following, tuple(types)))
    return chain


def nsec3_chain(
    zone: str,
    names: dict[str, set[RRType]],
    *,
    flags: int = 0,
    salt: bytes = b"",
    iterations: int = 0,
    ttl: int = 300,
) -> dict[Name, Record]:
    """The NSEC3 record of each name, linked in hash order, last to first."""
    apex = n(zone)
    hashed = sorted((nsec3_hash(n(name), salt, iterations), name) for name in names)
    chain = {}
    for index, (_, name) in enumerate(hashed):
        following = hashed[(index + 1) % len(hashed)][0]
        owner = hashed_owner(n(name), apex, salt, iterations)
        rdata = NSEC3(1, flags, iterations, salt, following, tuple(names[name]))
        chain[n(name)] = Record(owner, RRType.NSEC3, IN, ttl, rdata)
    return chain


def holding(
    zone: str, held: Iterable[Record], *, with_soa: Record | None = None, **settings: object
) -> AggressiveCache:
    store = AggressiveCache(**settings)  # type: ignore[arg-type]
    apex = n(zone)
    the_soa = with_soa or soa(zone)
    assert store.add(apex, the_soa, (placeholder_sig(the_soa, apex),), the_soa.ttl, NOW)
    for record in held:
        assert store.add(apex, record, (placeholder_sig(record, apex),), record.ttl, NOW)
    return store


def denial(store: AggressiveCache, name: str, rtype: RRType, now: float = NOW) -> Denial | None:
    found = store.synthesise(n(name), rtype, now)
    assert not isinstance(found, Expansion)
    return found


def proof_owners(found: Denial | Expansion) -> list[str]:
    return [r.name.to_text() for r in found.proof if r.rtype in (RRType.NSEC, RRType.NSEC3)]


EXAMPLE = {
    "example.": {RRType.SOA, RRType.NS, RRType.DNSKEY},
    "a.example.": {A, TXT},
    "alias.example.": {RRType.CNAME},
    "x.ent.example.": {A},  # ent.example. is an empty non-terminal
    "m.example.": {MX},
    "sec.example.": {RRType.NS, DS},
    "unsigned.example.": {RRType.NS},
    "*.w.example.": {A},
}
CHAIN = nsec_chain(EXAMPLE)


def test_nsec_nxdomain_needs_the_cover_and_the_wildcard_denial() -> None:
    store = holding("example.", CHAIN.values())
    found = denial(store, "b.example.", A)
    assert found is not None and found.nxdomain
    # alias.example. -> x.ent.example. covers the name, example. -> a.example. the wildcard.
    assert proof_owners(found) == ["alias.example.", "example."]
    assert nsec_nxdomain([r for r in found.proof if r.rtype == RRType.NSEC], n("b.example.")).proven
    assert found.soa.name == n("example.") and found.soa.rtype == RRType.SOA
    # Each NSEC with its RRSIG, then the SOA's RRSIG.
    assert [r.rtype for r in found.proof] == [RRType.NSEC, RRType.RRSIG] * 2 + [RRType.RRSIG]
    assert found.proof[-1].rdata.type_covered == RRType.SOA  # type: ignore[attr-defined]
    # Below a name that does not exist, and for any type.
    assert denial(store, "deep.er.b.example.", RRType.AAAA) is not None
    # The last NSEC wraps to the apex: names after *.w.example. are covered too.
    wrapped = denial(store, "zz.example.", A)
    assert wrapped is not None and wrapped.nxdomain
    assert proof_owners(wrapped) == ["*.w.example.", "example."]

    without_wildcard_denial = holding("example.", [CHAIN[n("alias.example.")]])
    assert denial(without_wildcard_denial, "b.example.", A) is None


def test_nsec_nodata_from_the_names_own_bitmap() -> None:
    store = holding("example.", CHAIN.values())
    found = denial(store, "a.example.", MX)
    assert found is not None and not found.nxdomain
    assert proof_owners(found) == ["a.example."]
    assert denial(store, "a.example.", A) is None  # the type is there
    assert denial(store, "alias.example.", A) is None  # a CNAME answers every type
    assert denial(store, "alias.example.", RRType.CNAME) is None
    ent = denial(store, "ent.example.", A)  # the NSEC before it points below it
    assert ent is not None and not ent.nxdomain
    assert proof_owners(ent) == ["alias.example."]
    # No such name, and the wildcard that would answer for it has no MX.
    wildcard = denial(store, "q.w.example.", MX)
    assert wildcard is not None and not wildcard.nxdomain
    assert denial(store, "q.w.example.", A) is None  # the wildcard has A: not a denial


def test_nsec_at_a_zone_cut_denies_ds_and_nothing_of_the_child() -> None:
    store = holding("example.", CHAIN.values())
    ds = denial(store, "unsigned.example.", DS)
    assert ds is not None and not ds.nxdomain
    assert denial(store, "sec.example.", DS) is None  # it has a DS
    # The parent's NSEC at a cut speaks neither for the child's apex nor below it.
    assert denial(store, "unsigned.example.", A) is None
    assert denial(store, "www.unsigned.example.", A) is None
    # The child's own apex NSEC cannot deny the DS the parent holds (RFC 6840 4.4):
    # DS is looked up in the parent zone even when the child's ranges are held.
    child_apex = nsec_chain({"unsigned.example.": {RRType.SOA, RRType.NS, RRType.DNSKEY}})
    both = holding("example.", CHAIN.values())
    child = n("unsigned.example.")
    child_soa = soa("unsigned.example.")
    assert both.add(child, child_soa, (placeholder_sig(child_soa, child),), 3600, NOW)
    apex_nsec = child_apex[child]
    assert both.add(child, apex_nsec, (placeholder_sig(apex_nsec, child),), 300, NOW)
    ds = denial(both, "unsigned.example.", DS)
    assert ds is not None and ds.soa.name == n("example.")
    child_nodata = denial(both, "unsigned.example.", A)  # now the child speaks
    assert child_nodata is not None and child_nodata.soa.name == child


def test_ttl_is_the_least_of_soa_minimum_soa_ttl_and_nsec_ttls() -> None:
    store = holding("example.", CHAIN.values(), with_soa=soa("example.", ttl=3600, minimum=250))
    assert (found := denial(store, "b.example.", A)) is not None
    assert found.ttl == 250  # the SOA's minimum, below the NSECs' 300 and its TTL
    assert all(r.ttl == 250 for r in (*found.proof, found.soa))
    later = denial(store, "b.example.", A, NOW + 200)
    assert later is not None and later.ttl == 50
    assert denial(store, "b.example.", A, NOW + 250) is None  # the SOA has expired
    capped = store.synthesise(n("b.example."), A, NOW, max_ttl=30)
    assert capped is not None and capped.ttl == 30
    short = holding("example.", nsec_chain(EXAMPLE, ttl=100).values())
    assert (found := denial(short, "b.example.", A)) is not None and found.ttl == 100
    assert denial(short, "b.example.", A, NOW + 100) is None  # the NSECs have expired


def test_nothing_without_the_zones_soa() -> None:
    store = AggressiveCache()
    apex = n("example.")
    for record in CHAIN.values():
        assert store.add(apex, record, (placeholder_sig(record, apex),), 300, NOW)
    assert denial(store, "b.example.", A) is None


def test_what_does_not_belong_is_refused() -> None:
    store = AggressiveCache(max_iterations=10)
    apex = n("example.")
    assert not store.add(apex, soa("other."), (), 3600, NOW)  # another zone's SOA
    (outside,) = nsec_chain({"www.other.": {A}}).values()
    assert not store.add(apex, outside, (), 300, NOW)
    (a_record,) = records("a.example. 300 A 192.0.2.1")
    assert not store.add(apex, a_record, (), 300, NOW)
    assert not store.add(apex, soa("example."), (), 0, NOW)  # no life left
    n3 = nsec3_chain("example.", {"a.example.": {A}})[n("a.example.")]
    assert store.add(apex, n3, (), 300, NOW)
    assert isinstance(n3.rdata, NSEC3)
    for bad in (
        attrs.evolve(n3.rdata, iterations=11),  # above the limit: never secure
        attrs.evolve(n3.rdata, flags=2),  # unknown flags: ignored (RFC 5155 8.2)
        attrs.evolve(n3.rdata, hash_algorithm=2),
    ):
        assert not store.add(apex, attrs.evolve(n3, rdata=bad), (), 300, NOW)
    assert not store.add(n("other."), n3, (), 300, NOW)  # its owner is not in that zone
    assert len(store) == 1


def test_holds_says_whether_this_very_record_is_held_and_alive() -> None:
    store = holding("example.", CHAIN.values())
    nsec = CHAIN[n("a.example.")]
    assert store.holds(soa("example."), NOW) and store.holds(nsec, NOW)
    assert not store.holds(attrs.evolve(nsec, rdata=NSEC(n("b.example."), (A,))), NOW)
    assert not store.holds(nsec, NOW + 300)
    n3 = holding("n3.", N3_CHAIN.values())
    assert n3.holds(N3_CHAIN[n("a.n3.")], NOW)
    assert not n3.holds(attrs.evolve(N3_CHAIN[n("a.n3.")], ttl=299), NOW)
    assert not store.holds(N3_CHAIN[n("a.n3.")], NOW)


def test_negative_trust_anchors_are_not_answered() -> None:
    store = holding("example.", CHAIN.values(), insecure_domains=(n("a.example."),))
    assert denial(store, "b.example.", A) is not None
    assert denial(store, "deep.a.example.", A) is None


def test_the_oldest_records_go_first() -> None:
    store = holding("example.", list(CHAIN.values())[:3], max_records=3)
    assert len(store) == 3  # the SOA went first
    assert denial(store, "a.example.", MX) is None
    store.flush()
    assert len(store) == 0 and store.zones() == ()


def test_the_store_is_bounded_in_bytes_too() -> None:
    store = holding("example.", CHAIN.values())
    per_record = store.size_bytes // len(store)
    small = holding("example.", CHAIN.values(), max_bytes=3 * per_record)
    assert 0 < small.size_bytes <= 3 * per_record and len(small) < 4
    # A wildcard's RRset, however big, counts by its size.
    before = store.size_bytes
    big = records("\n".join(f"q.w.example. 600 TXT {'x' * 200}{i}" for i in range(40)))
    assert store.add_wildcard(
        n("example."), n("*.w.example."), big, placeholder_sig(big[0], n("example.")), 600, NOW
    )
    assert store.size_bytes - before > 40 * 200
    store.flush()
    assert store.size_bytes == 0


def test_expired_records_are_purged() -> None:
    store = holding("example.", CHAIN.values(), with_soa=soa("example.", minimum=600))
    assert len(store) == len(CHAIN) + 1
    store.purge(NOW + 299)
    assert len(store) == len(CHAIN) + 1
    store.purge(NOW + 300)
    assert len(store) == 1  # the NSECs lived 300 s, the SOA lives for its minimum
    store.purge(NOW + 600)
    assert len(store) == 0 and store.zones() == ()


N3 = {
    "n3.": {RRType.SOA, RRType.NS, RRType.DNSKEY, RRType.NSEC3PARAM, RRType.RRSIG},
    "a.n3.": {A, RRType.RRSIG},
    "sec.n3.": {RRType.NS, DS, RRType.RRSIG},
    "plain.n3.": {RRType.NS},
    "ent.n3.": set(),  # an empty non-terminal has a record of its own (RFC 5155 7.1)
    "x.ent.n3.": {A, RRType.RRSIG},
    "w.n3.": set(),
    "*.w.n3.": {A, RRType.RRSIG},
}
N3_CHAIN = nsec3_chain("n3.", N3)


def nsec3s(found: Denial | Expansion) -> list[Record]:
    return [r for r in found.proof if r.rtype == RRType.NSEC3]


def test_nsec3_nxdomain_is_a_closest_encloser_proof() -> None:
    store = holding("n3.", N3_CHAIN.values())
    for name in ("b.n3.", "deep.b.n3.", *(f"nx{i}.n3." for i in range(40))):
        found = denial(store, name, A)
        assert found is not None and found.nxdomain, name
        proof = nsec3s(found)
        assert nsec3_nxdomain(proof, n(name)).proven
        assert N3_CHAIN[n("n3.")] in proof  # the closest encloser's own record
        assert len(proof) == len(set(proof)) <= 3  # one record may do two jobs
    # Some of those hashes fell beyond the last owner hash or before the first: the
    # last record, whose range wraps around, covered them.
    owners = sorted(nsec3_hash(n(name), b"", 0) for name in N3)
    wrapped = [
        i for i in range(40) if not owners[0] < nsec3_hash(n(f"nx{i}.n3."), b"", 0) < owners[-1]
    ]
    assert wrapped
    # Without the apex's record there is no closest encloser to prove.
    no_apex = holding("n3.", [r for name, r in N3_CHAIN.items() if name != n("n3.")])
    assert denial(no_apex, "b.n3.", A) is None


def test_nsec3_nodata_and_ds() -> None:
    store = holding("n3.", N3_CHAIN.values())
    found = denial(store, "a.n3.", MX)
    assert found is not None and not found.nxdomain and nsec3s(found) == [N3_CHAIN[n("a.n3.")]]
    assert denial(store, "a.n3.", A) is None
    assert (ent := denial(store, "ent.n3.", A)) is not None and not ent.nxdomain
    assert (ds := denial(store, "plain.n3.", DS)) is not None and not ds.nxdomain
    assert denial(store, "sec.n3.", DS) is None
    assert denial(store, "plain.n3.", A) is None  # the parent's record at a cut
    assert denial(store, "www.plain.n3.", A) is None  # below a cut: the child's business
    # No such name, and the wildcard at its closest encloser has no MX.
    wildcard = denial(store, "q.w.n3.", MX)
    assert wildcard is not None and not wildcard.nxdomain
    assert N3_CHAIN[n("*.w.n3.")] in nsec3s(wildcard)
    assert denial(store, "q.w.n3.", A) is None


def test_opt_out_ranges_prove_no_absence() -> None:
    # RFC 8198 section 5.1: an opt-out range may hide an unsigned delegation.
    signed_names = {name: types for name, types in N3.items() if name != "plain.n3."}
    store = holding("n3.", nsec3_chain("n3.", signed_names, flags=OPT_OUT).values())
    assert all(denial(store, name, A) is None for name in ("b.n3.", "plain.n3.", "x.plain.n3."))
    assert denial(store, "plain.n3.", DS) is None  # perhaps an unsigned delegation
    # A record that matches the name still shows its types.
    found = denial(store, "a.n3.", MX)
    assert found is not None and not found.nxdomain


def test_nsec3_chains_with_too_many_iterations_are_not_kept() -> None:
    store = AggressiveCache(max_iterations=5)
    chain = nsec3_chain("n3.", N3, iterations=6)
    assert not any(store.add(n("n3."), r, (), 300, NOW) for r in chain.values())
    salted = holding("n3.", nsec3_chain("n3.", N3, salt=b"\xab", iterations=5).values())
    assert denial(salted, "b.n3.", A) is not None


# -- wildcards ---------------------------------------------------------------------


def wildcard_rrset(text: str) -> tuple[list[Record], Record]:
    rrset = records(text)
    owner = rrset[0].name
    sig = placeholder_sig(rrset[0], owner.ancestor(len(owner) - 2))
    return rrset, sig


def test_a_held_wildcard_answers_names_the_ranges_prove_absent() -> None:
    store = holding("example.", CHAIN.values())
    rrset, sig = wildcard_rrset("q.w.example. 600 A 192.0.2.7")
    assert store.add_wildcard(n("example."), n("*.w.example."), rrset, sig, 600, NOW)
    for name in ("other.w.example.", "deep.other.w.example."):
        found = store.synthesise(n(name), A, NOW)
        assert isinstance(found, Expansion), name
        assert [r.to_text() for r in found.records] == [f"{name}\t300\tIN\tA\t192.0.2.7"]
        assert [r.name.to_text() for r in found.rrsigs] == [name]
        assert proof_owners(found) == ["*.w.example."]  # the range covering the name
        assert found.ttl == 300  # no longer than the NSEC
    # The wildcard's NSEC shows it has no AAAA: a denial, not an expansion.
    nodata = store.synthesise(n("other.w.example."), RRType.AAAA, NOW)
    assert isinstance(nodata, Denial) and not nodata.nxdomain
    # Without the NSEC, the ranges say nothing of its other types.
    bare = AggressiveCache()
    assert bare.add_wildcard(n("example."), n("*.w.example."), rrset, sig, 600, NOW)
    assert bare.synthesise(n("other.w.example."), RRType.AAAA, NOW) is None
    assert bare.synthesise(n("other.w.example."), A, NOW) is None  # nor that the name is absent


def test_a_wildcard_is_not_the_source_when_a_closer_name_exists() -> None:
    # No SOA held, so no denials: only the expansion is tried.
    store = AggressiveCache()
    apex = n("example.")
    for record in CHAIN.values():
        assert store.add(apex, record, (placeholder_sig(record, apex),), 300, NOW)
    rrset, sig = wildcard_rrset("q.example. 600 A 192.0.2.9")
    assert store.add_wildcard(n("example."), n("*.example."), rrset, sig, 600, NOW)
    # ent.example. exists (x.ent.example. is below it): *.example. cannot match below it.
    assert store.synthesise(n("q.ent.example."), A, NOW) is None
    assert isinstance(store.synthesise(n("b.example."), A, NOW), Expansion)
    # Nothing stands for DS, DNAME or the denial records themselves.
    dname, dsig = wildcard_rrset("q.example. 600 DNAME other.")
    assert not store.add_wildcard(n("example."), n("*.example."), dname, dsig, 600, NOW)
    assert not store.add_wildcard(n("example."), n("q.example."), rrset, sig, 600, NOW)


def test_an_nsec3_wildcard_expansion_rests_on_the_next_closer_cover() -> None:
    store = holding("n3.", N3_CHAIN.values())
    rrset, sig = wildcard_rrset("q.w.n3. 600 A 192.0.2.8")
    assert store.add_wildcard(n("n3."), n("*.w.n3."), rrset, sig, 600, NOW)
    found = store.synthesise(n("other.w.n3."), A, NOW)
    assert isinstance(found, Expansion)
    (cover,) = nsec3s(found)
    assert nsec3_wildcard([cover], n("other.w.n3."), n("*.w.n3.")).proven
    assert [r.name for r in found.records] == [n("other.w.n3.")]
    # In an opt-out chain the cover may hide a delegation: no expansion.
    signed_names = {name: types for name, types in N3.items() if name != "plain.n3."}
    opt_out = holding("n3.", nsec3_chain("n3.", signed_names, flags=OPT_OUT).values())
    assert opt_out.add_wildcard(n("n3."), n("*.w.n3."), rrset, sig, 600, NOW)
    assert opt_out.synthesise(n("other.w.n3."), A, NOW) is None


# -- remember_secure: what is kept is verified again -------------------------------------

VALID_AT_START = (int(START) - 86400, int(START) + 86400)


def signed_example() -> tuple[SigningKey, list[Record]]:
    key = SigningKey.generate("example.", Algorithm.ED25519)
    zone = sign_zone(
        records(
            """
            example. 3600 SOA ns.example. hostmaster.example. 1 7200 900 1209600 300
            example. 3600 NS ns.example.
            ns.example. 3600 A 192.0.2.53
            a.example. 3600 A 192.0.2.1
            m.example. 3600 MX 10 a.example.
            *.w.example. 3600 A 192.0.2.7
            """
        ),
        [key],
        inception=VALID_AT_START[0],
        expiration=VALID_AT_START[1],
    )
    return key, zone


def trusted(key: SigningKey, validation: Validation = Validation.SECURE) -> dict[Name, ZoneKeys]:
    zone = n("example.")
    return {zone: ZoneKeys(zone, Verdict(validation), (key.record(),), START + 3600)}


def nxdomain_answer(zone: list[Record], qname: str) -> Answer:
    """What the resolver holds after a validated NXDOMAIN: SOA, the NSECs that
    cover the name and its wildcard, their RRSIGs and the SOA's."""
    nsecs = [r for r in zone if isinstance(r.rdata, NSEC)]
    cover = max((r for r in nsecs if r.name < n(qname)), key=lambda r: r.name)
    apex = next(r for r in nsecs if r.name == n("example."))
    used = [cover, apex]
    assert nsec_nxdomain(used, n(qname)).proven
    signed = {(u.name, RRType.NSEC) for u in used} | {(n("example."), RRType.SOA)}
    sigs = [
        r for r in zone if isinstance(r.rdata, RRSIG) and (r.name, r.rdata.type_covered) in signed
    ]
    (the_soa,) = [r for r in zone if r.rtype == RRType.SOA]
    return Answer(n(qname), A, IN, Rcode.NXDOMAIN, soa=the_soa, ttl=300, proof=(*used, *sigs))


def test_remember_secure_keeps_what_verifies_with_trusted_keys() -> None:
    key, zone = signed_example()
    s = setup()
    s.context.aggressive = store = AggressiveCache()
    answer = nxdomain_answer(zone, "b.example.")
    remember_secure(s.context, answer, trusted(key))
    assert len(store) == 3  # the SOA and two NSECs
    found = store.synthesise(n("c.example."), A, s.clock())
    assert isinstance(found, Denial) and found.nxdomain
    # Each record kept with the RRSIG that verified it.
    assert [r.rtype for r in found.proof].count(RRType.RRSIG) == 3

    for keys in ({}, trusted(key, Validation.INSECURE)):
        s.context.aggressive = store = AggressiveCache()
        remember_secure(s.context, answer, keys)
        assert len(store) == 0, keys
    late = {n("example."): attrs.evolve(trusted(key)[n("example.")], expires=START - 1)}
    remember_secure(s.context, answer, late)
    assert len(store) == 0


def test_remember_secure_skips_records_that_do_not_verify() -> None:
    key, zone = signed_example()
    s = setup()
    s.context.aggressive = store = AggressiveCache()
    answer = nxdomain_answer(zone, "b.example.")
    # A forged range riding along in the authority section of a secure answer.
    forged = [
        attrs.evolve(r, rdata=NSEC(n("zzz.example."), (A,)))
        if r.rtype == RRType.NSEC and r.name == n("a.example.")
        else r
        for r in answer.proof
    ]
    remember_secure(s.context, attrs.evolve(answer, proof=tuple(forged)), trusted(key))
    assert len(store) == 2  # the SOA and the apex NSEC
    assert store.synthesise(n("b.example."), A, s.clock()) is None


def test_remember_secure_keeps_a_wildcard_and_its_proof() -> None:
    key, zone = signed_example()
    s = setup()
    s.context.aggressive = store = AggressiveCache()
    wild = n("*.w.example.")
    (source,) = [r for r in zone if r.name == wild and r.rtype == A]
    (source_sig,) = [
        r
        for r in zone
        if r.name == wild and isinstance(r.rdata, RRSIG) and r.rdata.type_covered == A
    ]
    (cover,) = [r for r in zone if r.name == wild and r.rtype == RRType.NSEC]
    (cover_sig,) = [
        r
        for r in zone
        if r.name == wild and isinstance(r.rdata, RRSIG) and r.rdata.type_covered == RRType.NSEC
    ]
    expanded = attrs.evolve(source, name=n("q.w.example."))
    expanded_sig = attrs.evolve(source_sig, name=n("q.w.example."))
    assert s.cache.put_rrset(
        [expanded], Rank.AUTH_ANSWER, s.clock(), rrsigs=[expanded_sig], validation=Validation.SECURE
    )
    answer = Answer(
        n("q.w.example."),
        A,
        IN,
        Rcode.NOERROR,
        (expanded,),
        ttl=3600,
        rrsigs=(expanded_sig,),
        proof=(cover, cover_sig),
    )
    remember_secure(s.context, answer, trusted(key))
    # The cached expansion now carries its proof (RFC 4035 section 3.1.3.3).
    cached = s.cache.get_rrset(n("q.w.example."), A, IN, s.clock())
    assert cached is not None and [r.rtype for r in cached.proof] == [RRType.NSEC, RRType.RRSIG]
    # And the wildcard answers another name its NSEC covers.
    found = store.synthesise(n("other.w.example."), A, s.clock())
    assert isinstance(found, Expansion)
    assert [r.rdata.to_text() for r in found.records] == ["192.0.2.7"]


# -- on a signed fake internet --------------------------------------------------------


def _soa_text(origin: str) -> str:
    dot = "" if origin == "." else origin
    return f"{origin} 3600 SOA ns.{dot} hostmaster.{dot} 1 7200 900 1209600 300"


ROOT = f"""
{_soa_text(".")}
. 86400 NS ns.
ns. 86400 A 192.0.2.1
example. 86400 NS ns.example.
ns.example. 86400 A 192.0.2.10
insecure. 86400 NS ns.insecure.
ns.insecure. 86400 A 192.0.2.11
n3. 86400 NS ns.n3.
ns.n3. 86400 A 192.0.2.12
opt. 86400 NS ns.opt.
ns.opt. 86400 A 192.0.2.13
"""
EXAMPLE_ZONE = f"""
{_soa_text("example.")}
example. 3600 NS ns.example.
ns.example. 3600 A 192.0.2.10
a.example. 3600 A 192.0.2.20
m.example. 3600 A 192.0.2.21
www.example. 3600 A 192.0.2.22
*.w.example. 3600 A 192.0.2.23
*.c.example. 3600 CNAME www.example.
"""
N3_ZONE = f"""
{_soa_text("n3.")}
n3. 3600 NS ns.n3.
ns.n3. 3600 A 192.0.2.12
www.n3. 3600 A 192.0.2.30
"""
OPT_ZONE = f"""
{_soa_text("opt.")}
opt. 3600 NS ns.opt.
ns.opt. 3600 A 192.0.2.13
www.opt. 3600 A 192.0.2.40
child.opt. 3600 NS ns.child.opt.
ns.child.opt. 3600 A 192.0.2.14
"""
HINTS = records(". 3600000 NS ns.\nns. 3600000 A 192.0.2.1")


@attrs.define
class World:
    network: FakeNetwork
    anchor: Record
    zones: dict[str, list[Record]]

    def resolver(self, **settings: object) -> Resolver:
        return Resolver(
            root_hints=HINTS,
            transport=self.network,
            settings=ResolverSettings(trust_anchors=(self.anchor,), **settings),  # type: ignore[arg-type]
        )

    def asked(self) -> int:
        return len(self.network.exchanges)


def build(example_handler: Callable[[Zone], Callable[[Message], Message]] | None = None) -> World:
    # Signed around the fake network's wall clock (real time at virtual zero).
    now = int(time.time())
    valid = {"inception": now - 86400, "expiration": now + 30 * 86400}
    keys = {z: SigningKey.generate(z, Algorithm.ED25519) for z in (".", "example.", "n3.", "opt.")}
    zones = {
        ".": sign_zone(
            [*records(ROOT), *(keys[z].ds() for z in ("example.", "n3.", "opt."))],
            [keys["."]],
            **valid,  # type: ignore[arg-type]
        ),
        "example.": sign_zone(records(EXAMPLE_ZONE), [keys["example."]], **valid),  # type: ignore[arg-type]
        "n3.": sign_zone(records(N3_ZONE), [keys["n3."]], denial="nsec3", **valid),  # type: ignore[arg-type]
        "opt.": sign_zone(
            records(OPT_ZONE),
            [keys["opt."]],
            denial="nsec3",
            nsec3=NSEC3Parameters(opt_out=True),
            **valid,  # type: ignore[arg-type]
        ),
    }
    addresses = {
        ".": "192.0.2.1",
        "example.": "192.0.2.10",
        "n3.": "192.0.2.12",
        "opt.": "192.0.2.13",
    }
    network = FakeNetwork()
    for origin, zone_records in zones.items():
        zone = Zone.from_records(origin, zone_records)
        behaviour = None
        if origin == "example." and example_handler is not None:
            behaviour = Behaviour(handler=example_handler(zone))
        network.add_server([addresses[origin]], [zone], behaviour=behaviour)
    return World(network, keys["."].ds(), zones)


def same_nsec3_range(world: World, zone: str, name: str) -> str:
    """Another name below `zone` whose hash falls in the same NSEC3 range as `name`'s."""
    owners = sorted(
        base32hex_decode(r.name.labels[0].decode("ascii"))
        for r in world.zones[zone]
        if isinstance(r.rdata, NSEC3)
    )

    def interval(candidate: str) -> int:
        # Which record's range the hash falls in; the last one's wraps around.
        digest = nsec3_hash(n(candidate), b"", 0)
        return sum(1 for owner in owners if owner < digest) % len(owners)

    wanted = interval(name)
    for i in range(1000):
        candidate = f"s{i}.{zone}"
        if candidate != name and interval(candidate) == wanted:
            return candidate
    raise AssertionError("no other name in that range")


async def test_a_second_name_in_a_held_range_is_denied_without_asking(
    autojump_clock: trio.abc.Clock,
) -> None:
    world = build()
    resolver = world.resolver()
    first = await resolver.resolve("b.example", "A")
    assert (first.rcode, first.validation) == (Rcode.NXDOMAIN, Validation.SECURE)
    asked = world.asked()
    for name, rtype in (("ba.example", "A"), ("deep.ba.example", "AAAA"), ("b.example", "TXT")):
        answer = await resolver.resolve(name, rtype, trace=True)
        assert (answer.rcode, answer.validation) == (Rcode.NXDOMAIN, Validation.SECURE), name
        assert answer.from_cache and answer.soa is not None
        assert {r.rtype for r in answer.proof} == {RRType.NSEC, RRType.RRSIG}
        made = any("validated denials" in e.outcome for e in answer.trace)
        assert made == (name != "b.example"), name
    assert world.asked() == asked
    # b.example TXT came from the regular negative cache (RFC 8020), the rest from ranges.
    assert resolver.stats.aggressive_answers == 2


async def test_nodata_for_another_type_and_other_data_still_asked(
    autojump_clock: trio.abc.Clock,
) -> None:
    world = build()
    resolver = world.resolver()
    first = await resolver.resolve("a.example", "TXT")
    assert (first.rcode, first.records, first.validation) == (
        Rcode.NOERROR,
        (),
        Validation.SECURE,
    )
    asked = world.asked()
    nodata = await resolver.resolve("a.example", "MX")
    assert (nodata.rcode, nodata.records, nodata.validation) == (
        Rcode.NOERROR,
        (),
        Validation.SECURE,
    )
    assert world.asked() == asked
    # A type the bitmap shows is not blocked by the synthesised denial.
    data = await resolver.resolve("a.example", "A")
    assert [r.rdata.to_text() for r in data.records] == ["192.0.2.20"]
    assert world.asked() > asked


async def test_ds_denied_from_the_parents_nsec_at_the_cut(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    # insecure. -> n3. covers j.: the root's NSEC at the unsigned delegation is held.
    nx = await resolver.resolve("j", "A")
    assert (nx.rcode, nx.validation) == (Rcode.NXDOMAIN, Validation.SECURE)
    asked = world.asked()
    ds = await resolver.resolve("insecure", "DS")
    assert (ds.rcode, ds.records, ds.validation) == (Rcode.NOERROR, (), Validation.SECURE)
    assert ds.soa is not None and ds.soa.name == Name.from_text(".")
    assert [r.name.to_text() for r in ds.proof if r.rtype == RRType.NSEC] == ["insecure."]
    assert world.asked() == asked


async def test_nsec3_denials_without_asking(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    first = await resolver.resolve("nope.n3", "A")
    assert (first.rcode, first.validation) == (Rcode.NXDOMAIN, Validation.SECURE)
    asked = world.asked()
    sibling = same_nsec3_range(world, "n3.", "nope.n3.")
    for name in (sibling, f"deep.{sibling}"):
        answer = await resolver.resolve(name, "A")
        assert (answer.rcode, answer.validation) == (Rcode.NXDOMAIN, Validation.SECURE), name
        proof = [r for r in answer.proof if r.rtype == RRType.NSEC3]
        assert nsec3_nxdomain(proof, Name.from_text(name)).proven
    assert world.asked() == asked
    nodata = await resolver.resolve("www.n3", "TXT")
    asked = world.asked()
    assert (nodata.rcode, nodata.validation) == (Rcode.NOERROR, Validation.SECURE)
    again = await resolver.resolve("www.n3", "MX")
    assert (again.rcode, again.records, again.validation) == (Rcode.NOERROR, (), Validation.SECURE)
    assert world.asked() == asked


async def test_opt_out_denials_are_not_reused(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    first = await resolver.resolve("nope.opt", "A")
    assert first.rcode == Rcode.NXDOMAIN and first.validation is not Validation.SECURE
    asked = world.asked()
    sibling = await resolver.resolve(same_nsec3_range(world, "opt.", "nope.opt."), "A")
    assert sibling.rcode == Rcode.NXDOMAIN
    assert world.asked() > asked


async def test_switched_off_or_cd_asks_again(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    off = world.resolver(aggressive_nsec=False)
    await off.resolve("b.example", "A")
    asked = world.asked()
    assert (await off.resolve("ba.example", "A")).rcode == Rcode.NXDOMAIN
    assert world.asked() > asked and off.stats.aggressive_answers == 0

    on = world.resolver()
    await on.resolve("b.example", "A")
    asked = world.asked()
    unchecked = await on.resolve("ba.example", "A", cd=True)
    assert unchecked.rcode == Rcode.NXDOMAIN and world.asked() > asked


async def test_ranges_expire(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    await resolver.resolve("b.example", "A")
    await trio.sleep(301)  # the SOA's minimum and the NSECs' TTL: 300 s
    asked = world.asked()
    assert (await resolver.resolve("ba.example", "A")).rcode == Rcode.NXDOMAIN
    assert world.asked() > asked


async def test_wildcard_answers_from_held_wildcards(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    first = await resolver.resolve("q.w.example", "A")
    assert [r.rdata.to_text() for r in first.records] == ["192.0.2.23"]
    assert first.validation is Validation.SECURE
    asked = world.asked()
    other = await resolver.resolve("other.w.example", "A", trace=True)
    assert [r.to_text() for r in other.records] == ["other.w.example.\t300\tIN\tA\t192.0.2.23"]
    assert other.validation is Validation.SECURE  # validated as if it came from the network
    assert [r.name.to_text() for r in other.proof if r.rtype == RRType.NSEC] == ["*.w.example."]
    assert any("expanded a wildcard" in e.outcome for e in other.trace)
    # A CNAME from a wildcard, followed on through the cache.
    cname = await resolver.resolve("q.c.example", "A")
    assert [r.rdata.to_text() for r in cname.records] == ["www.example.", "192.0.2.22"]
    asked = world.asked()
    again = await resolver.resolve("r.c.example", "A")
    assert [r.rdata.to_text() for r in again.records] == ["www.example.", "192.0.2.22"]
    assert again.records[0].name == Name.from_text("r.c.example")
    assert again.validation is Validation.SECURE
    assert any(r.rtype == RRType.NSEC for r in again.proof)
    assert world.asked() == asked
    # The chain's end is not held: the whole question goes to the network.
    aaaa = await resolver.resolve("s.c.example", "AAAA")
    assert [r.rdata.to_text() for r in aaaa.records] == ["www.example."]
    assert world.asked() > asked


def zero_ttl_nsec(zone: Zone) -> Callable[[Message], Message]:
    """Replies as the zone would, with the NSEC records' TTLs (and RRSIGs') set to 0."""

    def handler(query: Message) -> Message:
        reply = answer_query((zone,), query)

        def zero(record: Record) -> Record:
            covered = isinstance(record.rdata, RRSIG) and record.rdata.type_covered == RRType.NSEC
            return attrs.evolve(record, ttl=0) if record.rtype == RRType.NSEC or covered else record

        return attrs.evolve(reply, authority=tuple(zero(r) for r in reply.authority))

    return handler


async def ask(address: tuple[str, int], name: str, **kwargs: object) -> dns.message.Message:
    query = dns.message.make_query(name, "A", **kwargs)  # type: ignore[arg-type]
    run = functools.partial(dns.query.udp, query, address[0], port=address[1], timeout=5.0)
    return await trio.to_thread.run_sync(run)


@pytest.fixture
def clock() -> MockClock:
    return MockClock(rate=1.0)  # real sockets for the client: keep real time


async def test_a_cached_wildcard_answer_keeps_its_proof_for_do_clients(clock: MockClock) -> None:
    # The NSEC proving the expansion has TTL 0: it lives with the answer's RRset.
    world = build(zero_ttl_nsec)
    server = Server(world.resolver(), ServerSettings(listen=(("127.0.0.1", 0),)))
    async with trio.open_nursery() as nursery:
        (address,) = await nursery.start(server.serve)
        plain = await ask(address, "q.w.example", use_edns=0)
        assert [rr.to_text() for rrset in plain.answer for rr in rrset] == ["192.0.2.23"]
        assert not plain.authority
        asked = world.asked()
        do = await ask(address, "q.w.example", want_dnssec=True)
        assert world.asked() == asked  # from the cache
        kinds = [dns.rdatatype.to_text(rrset.rdtype) for rrset in do.authority]
        assert kinds == ["NSEC", "RRSIG"], do
        assert all(rrset.ttl == 0 for rrset in do.authority)
        server.shutdown()

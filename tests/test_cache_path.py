"""The one path to an answer already known: local zones, then the cache.

`follow`, `answer_from_cache`, `cached_validation` and `referral_from_cache`
on contexts built by hand (tests/iteration_util.py): no network, no trio.
"""

from __future__ import annotations

from tests.iteration_util import (
    COM_GLUE,
    COM_NS,
    EXAMPLE_GLUE,
    EXAMPLE_NS,
    EXAMPLE_SOA,
    HINTS,
    Setup,
    n,
    rec,
    recs,
    setup,
    texts,
)
from trio_dns._decisions.answer import Answer
from trio_dns._decisions.authority import Zone
from trio_dns._decisions.cache_path import (
    answer_from_cache,
    cached_validation,
    denied_any,
    follow,
    known_validation,
    referral_from_cache,
)
from trio_dns._network.resolver import ResolverSettings
from trio_dns._trust import NegativeKind, Rank, Validation
from trio_dns._wire.enums import EdeCode, Rcode, RRClass, RRType
from trio_dns._wire.message import Record
from trio_dns._wire.name import ROOT, Name

IN = RRClass.IN
A = RRType.A

HOME = """
$ORIGIN home.arpa.
$TTL 300
@        SOA  router hostmaster 1 3600 600 86400 60
@        NS   router
router   A    192.168.1.1
nas      A    192.168.1.10
printer  CNAME nas
web      CNAME www.example.com.
lab      NS   ns.lab
ns.lab   A    192.168.1.53
"""


def home() -> Setup:
    return setup(local_zones=[Zone.from_text(HOME)])


def cached(s: Setup, qname: str, qtype: RRType = A, *, cd: bool = False) -> Answer | None:
    return answer_from_cache(s.context, n(qname), qtype, IN, s.work(cd=cd))


def known(s: Setup, qname: str, qtype: RRType = A) -> Answer:
    answer = cached(s, qname, qtype)
    assert answer is not None
    return answer


def negative(s: Setup, name: str, rtype: RRType | None, kind: NegativeKind, **kw: object) -> None:
    soa = rec(EXAMPLE_SOA)
    assert s.cache.put_negative(n(name), rtype, IN, soa, s.clock(), kind=kind, **kw)  # type: ignore[arg-type]


# -- local zones ---------------------------------------------------------------------


def test_local_zone_answers_are_authoritative_and_win_over_the_cache() -> None:
    s = home()
    s.put("nas.home.arpa. 3600 IN A 10.9.9.9")  # what the internet (or an attacker) said
    answer = known(s, "nas.home.arpa")
    assert answer.authoritative and not answer.from_cache
    assert texts(answer.records) == ["nas.home.arpa.\t300\tIN\tA\t192.168.1.10"]
    assert answer.ttl == 300

    alias = known(s, "printer.home.arpa")
    assert alias.authoritative
    assert [r.rtype for r in alias.records] == [RRType.CNAME, A]

    missing = known(s, "nope.home.arpa")
    assert (missing.rcode, missing.authoritative, missing.ttl) == (Rcode.NXDOMAIN, True, 60)
    assert missing.soa is not None and missing.soa.name == n("home.arpa")
    nodata = known(s, "nas.home.arpa", RRType.MX)
    assert (nodata.rcode, nodata.records, nodata.authoritative) == (Rcode.NOERROR, (), True)


def test_the_local_zone_is_asked_and_traced_before_the_cache() -> None:
    s = home()
    work = s.work()
    answer_from_cache(s.context, n("nas.home.arpa"), A, IN, work)
    assert work.trace is not None
    assert [(e.kind, e.zone, e.outcome) for e in work.trace] == [
        ("local", n("home.arpa"), "answer")
    ]
    assert s.context.stats.cache_answers == 0


def test_a_chain_leaving_a_local_zone_continues_from_its_target() -> None:
    s = home()
    chain: list[Record] = []
    where = follow(
        s.context, n("web.home.arpa"), A, IN, n("web.home.arpa"), chain, [], set(), s.work()
    )
    # Nothing known about the target yet: resolve on from there, the local link kept.
    assert where.answer is None and where.current == n("www.example.com")
    assert texts(chain) == ["web.home.arpa.\t300\tIN\tCNAME\twww.example.com."]
    assert cached(s, "web.home.arpa") is None

    s.put("www.example.com. 600 IN A 192.0.2.80")
    answer = known(s, "web.home.arpa")
    assert answer.from_cache and not answer.authoritative  # not wholly the local zone's
    assert texts(answer.records) == [
        "web.home.arpa.\t300\tIN\tCNAME\twww.example.com.",
        "www.example.com.\t600\tIN\tA\t192.0.2.80",
    ]


def test_a_delegation_inside_a_local_zone_is_cached_as_the_cut() -> None:
    s = home()
    where = follow(
        s.context, n("host.lab.home.arpa"), A, IN, n("host.lab.home.arpa"), [], [], set(), s.work()
    )
    assert where.answer is None and where.current == n("host.lab.home.arpa")
    ns, glue = referral_from_cache(s.context, n("host.lab.home.arpa"))
    assert [r.rdata.to_text() for r in ns] == ["ns.lab.home.arpa."]
    assert texts(glue) == ["ns.lab.home.arpa.\t300\tIN\tA\t192.168.1.53"]


# -- the cache -----------------------------------------------------------------------


def test_cached_data_ages_and_glue_is_never_an_answer() -> None:
    s = setup()
    s.put("www.example.com. 300 IN A 192.0.2.80")
    s.put("ns1.example.com. 86400 IN A 192.0.2.20", rank=Rank.ADDITIONAL)
    s.put("example.com. 86400 IN NS ns1.example.com.", rank=Rank.AUTHORITY)
    s.clock.advance(100)
    answer = known(s, "www.example.com")
    assert (answer.rcode, answer.ttl, answer.from_cache) == (Rcode.NOERROR, 200, True)
    assert texts(answer.records) == ["www.example.com.\t200\tIN\tA\t192.0.2.80"]
    assert s.context.stats.cache_answers == 1
    assert cached(s, "ns1.example.com") is None  # glue
    assert cached(s, "example.com", RRType.NS) is None  # a referral's NS set
    s.clock.advance(200)
    assert cached(s, "www.example.com") is None


def test_cached_cname_chains_are_followed() -> None:
    s = setup()
    s.put(
        "a.example.com. 3600 IN CNAME b.example.net.",
        "b.example.net. 3600 IN CNAME c.example.org.",
        "c.example.org. 300 IN A 192.0.2.7",
    )
    answer = known(s, "a.example.com")
    assert (answer.qname, answer.qtype) == (n("a.example.com"), A)
    assert [r.name for r in answer.records] == [
        n("a.example.com"),
        n("b.example.net"),
        n("c.example.org"),
    ]
    assert answer.rrset() == (rec("c.example.org. 300 IN A 192.0.2.7"),)
    # Asked for the CNAME itself, the alias is the answer: nothing is followed.
    alias = known(s, "a.example.com", RRType.CNAME)
    assert texts(alias.records) == ["a.example.com.\t3600\tIN\tCNAME\tb.example.net."]


def test_follow_stops_where_the_cached_chain_runs_out_and_keeps_its_signatures() -> None:
    s = setup()
    sig = rec(
        "a.example.com. 3600 IN RRSIG CNAME 13 3 3600 20300101000000 20200101000000 "
        "12345 example.com. AAAA"
    )
    cname = rec("a.example.com. 3600 IN CNAME b.example.net.")
    assert s.cache.put_rrset([cname], Rank.AUTH_ANSWER, s.clock(), rrsigs=[sig])
    chain: list[Record] = []
    sigs: list[Record] = []
    seen: set[Name] = set()
    where = follow(
        s.context, n("a.example.com"), A, IN, n("a.example.com"), chain, sigs, seen, s.work()
    )
    assert where.answer is None and where.current == n("b.example.net")
    assert chain == [cname] and sigs == [sig]
    assert seen == {n("a.example.com"), n("b.example.net")}
    # The signatures ride with the answer once the target is known.
    s.put("b.example.net. 300 IN A 192.0.2.8")
    assert known(s, "a.example.com").rrsigs == (sig,)


def test_a_cached_cname_loop_is_servfail() -> None:
    s = setup()
    s.put(
        "a.example.com. 300 IN CNAME b.example.com.", "b.example.com. 300 IN CNAME a.example.com."
    )
    answer = known(s, "a.example.com")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.error is not None and answer.error.info_code == EdeCode.OTHER
    assert answer.error.extra_text == "CNAME loop at a.example.com."


def test_a_cached_cname_loop_keeps_the_chain_that_came_round() -> None:
    s = setup()
    s.put(
        "a.example.com. 300 IN CNAME b.example.com.", "b.example.com. 300 IN CNAME a.example.com."
    )
    assert [r.to_text() for r in known(s, "a.example.com").records] == [
        "a.example.com.\t300\tIN\tCNAME\tb.example.com.",
        "b.example.com.\t300\tIN\tCNAME\ta.example.com.",
    ]


def test_a_cached_dname_answers_names_below_it() -> None:
    # RFC 6672 section 3.4: the CNAME is synthesised from the cached DNAME, and
    # the data at its target answers; nothing needs to be asked.
    s = setup()
    s.put("old.example. 600 IN DNAME new.example.", "www.new.example. 300 IN A 192.0.2.9")
    answer = known(s, "www.old.example")
    assert answer.rcode == Rcode.NOERROR and answer.from_cache
    assert [(str(r.name), r.rtype) for r in answer.records] == [
        ("old.example.", RRType.DNAME),
        ("www.old.example.", RRType.CNAME),
        ("www.new.example.", RRType.A),
    ]
    # Where the target is not cached, the walk stops at the target, not the alias.
    known_part = follow(
        s.context, n("ftp.old.example"), A, IN, n("ftp.old.example"), [], [], set(), s.work()
    )
    assert known_part.answer is None and known_part.current == n("ftp.new.example")
    # The DNAME's owner itself is not below it: asked as any other name.
    assert cached(s, "old.example") is None


def test_the_cname_a_cached_dname_implies_answers_a_cname_question() -> None:
    # Asked for the CNAME itself, the synthesised CNAME is the answer: its target
    # is not followed, whatever is cached there (Deckard's val_dname).
    s = setup()
    s.put("x. 3600 IN DNAME .", "shortloop. 3600 IN TXT end")
    answer = known(s, "shortloop.x", RRType.CNAME)
    assert answer.rcode == Rcode.NOERROR and answer.from_cache and answer.soa is None
    assert [r.to_text() for r in answer.records] == [
        "x.\t3600\tIN\tDNAME\t.",
        "shortloop.x.\t3600\tIN\tCNAME\tshortloop.",
    ]
    # Any other type follows it to the data.
    txt = known(s, "shortloop.x", RRType.TXT)
    assert [r.rtype for r in txt.records] == [RRType.DNAME, RRType.CNAME, RRType.TXT]


def test_a_cached_chain_longer_than_max_chain_is_servfail() -> None:
    s = setup(ResolverSettings(max_chain=2))
    s.put(
        "c0.example.com. 300 IN CNAME c1.example.com.",
        "c1.example.com. 300 IN CNAME c2.example.com.",
        "c2.example.com. 300 IN CNAME c3.example.com.",
        "c3.example.com. 300 IN A 192.0.2.3",
    )
    assert len(known(s, "c1.example.com").records) == 3  # two links: within the limit
    too_long = known(s, "c0.example.com")
    assert too_long.rcode == Rcode.SERVFAIL
    assert too_long.error is not None and too_long.error.extra_text == "CNAME chain longer than 2"


def test_a_cached_chain_answer_lives_no_longer_than_its_shortest_link() -> None:
    s = setup()
    s.put("a.example.com. 30 IN CNAME b.example.net.", "b.example.net. 3600 IN A 192.0.2.8")
    assert known(s, "a.example.com").ttl == 30


def test_cached_negative_answers() -> None:
    s = setup()
    negative(s, "nx.example.com", None, NegativeKind.NXDOMAIN)
    negative(s, "www.example.com", RRType.MX, NegativeKind.NODATA)
    s.clock.advance(100)
    for qname, qtype in (("nx.example.com", A), ("deep.nx.example.com", RRType.TXT)):
        answer = known(s, qname, qtype)
        assert (answer.rcode, answer.records, answer.from_cache) == (Rcode.NXDOMAIN, (), True)
        assert answer.ttl == 200  # the SOA's minimum, counted down
        assert answer.soa is not None and answer.soa.ttl == 200
    nodata = known(s, "www.example.com", RRType.MX)
    assert (nodata.rcode, nodata.records) == (Rcode.NOERROR, ())
    assert cached(s, "www.example.com", A) is None  # NODATA for MX says nothing of A


def test_a_cached_chain_to_a_negative_answer() -> None:
    s = setup()
    s.put("www.example.com. 300 IN CNAME gone.example.net.")
    negative(s, "gone.example.net", None, NegativeKind.NXDOMAIN)
    answer = known(s, "www.example.com")
    assert answer.rcode == Rcode.NXDOMAIN
    assert texts(answer.records) == ["www.example.com.\t300\tIN\tCNAME\tgone.example.net."]


# -- validation state ----------------------------------------------------------------


def put_validated(s: Setup, text: str, validation: Validation) -> None:
    assert s.cache.put_rrset([rec(text)], Rank.AUTH_ANSWER, s.clock(), validation=validation)


CNAME_LINK = "www.example.com. 300 IN CNAME edge.example.net."
EDGE = "edge.example.net. 300 IN A 192.0.2.9"


def test_an_answer_all_of_whose_parts_are_secure_is_secure() -> None:
    s = setup()
    put_validated(s, CNAME_LINK, Validation.SECURE)
    put_validated(s, EDGE, Validation.SECURE)
    assert known(s, "www.example.com").validation is Validation.SECURE


def test_an_insecure_part_makes_the_answer_insecure() -> None:
    s = setup()
    put_validated(s, CNAME_LINK, Validation.SECURE)
    put_validated(s, EDGE, Validation.INSECURE)
    assert known(s, "www.example.com").validation is Validation.INSECURE


def test_a_part_never_validated_leaves_the_answer_indeterminate() -> None:
    s = setup()
    put_validated(s, CNAME_LINK, Validation.INDETERMINATE)
    put_validated(s, EDGE, Validation.SECURE)
    answer = known(s, "www.example.com")
    assert answer.validation is Validation.INDETERMINATE
    assert answer.rcode == Rcode.NOERROR  # to be validated by the resolver, not refused


def test_a_bogus_part_is_servfail_unless_checking_is_disabled() -> None:
    s = setup()
    put_validated(s, CNAME_LINK, Validation.SECURE)
    put_validated(s, EDGE, Validation.BOGUS)
    answer = known(s, "www.example.com")
    assert answer.rcode == Rcode.SERVFAIL and answer.validation is Validation.BOGUS
    assert answer.error is not None and answer.error.info_code == EdeCode.DNSSEC_BOGUS
    # CD: the cached data as it is, unjudged.
    unjudged = cached(s, "www.example.com", cd=True)
    assert unjudged is not None and unjudged.rcode == Rcode.NOERROR
    assert unjudged.validation is Validation.INDETERMINATE
    assert len(unjudged.records) == 2


def test_a_negative_answers_state_comes_from_its_negative_entry() -> None:
    s = setup()
    negative(s, "secure.example.com", None, NegativeKind.NXDOMAIN, validation=Validation.SECURE)
    negative(s, "plain.example.com", None, NegativeKind.NXDOMAIN)
    negative(s, "bad.example.com", A, NegativeKind.NODATA, validation=Validation.BOGUS)
    assert known(s, "secure.example.com").validation is Validation.SECURE
    assert known(s, "plain.example.com").validation is Validation.INDETERMINATE
    assert known(s, "bad.example.com").rcode == Rcode.SERVFAIL
    # After a chain, the entry at the chain's end, and the chain's own state.
    put_validated(s, "alias.example.com. 300 IN CNAME secure.example.com.", Validation.SECURE)
    assert known(s, "alias.example.com").validation is Validation.SECURE
    put_validated(
        s, "other.example.com. 300 IN CNAME secure.example.com.", Validation.INDETERMINATE
    )
    assert known(s, "other.example.com").validation is Validation.INDETERMINATE


def test_cached_validation_leaves_local_and_failed_answers_alone() -> None:
    s = setup()
    put_validated(s, EDGE, Validation.BOGUS)
    local = Answer(n("edge.example.net"), A, IN, Rcode.NOERROR, recs(EDGE), authoritative=True)
    assert cached_validation(s.context, local, n("edge.example.net")) is local
    # The state is that of exactly the RRset cached: other data is unknown.
    other = recs("edge.example.net. 300 IN A 192.0.2.99")
    assert known_validation(s.context, other) is Validation.INDETERMINATE
    assert known_validation(s.context, recs(EDGE)) is Validation.BOGUS


# -- ANY -----------------------------------------------------------------------------


def test_any_is_answered_with_the_common_types_cached_at_the_name() -> None:
    s = setup()
    s.put(
        "host.example.com. 300 IN A 192.0.2.1",
        "host.example.com. 200 IN AAAA 2001:db8::1",
        "host.example.com. 600 IN MX 10 mail.example.com.",
        'host.example.com. 100 IN TXT "not one of the common types"',
    )
    s.put("host.example.com. 50 IN SSHFP 1 1 " + "ab" * 20, rank=Rank.ADDITIONAL)
    answer = known(s, "host.example.com", RRType.ANY)
    assert answer.qtype == RRType.ANY and answer.from_cache
    assert [r.rtype for r in answer.records] == [A, RRType.AAAA, RRType.MX]
    assert answer.ttl == 200
    assert cached(s, "nothing.example.com", RRType.ANY) is None


def test_any_at_an_alias_is_the_alias_and_a_cached_nxdomain_answers_any() -> None:
    s = setup()
    s.put(
        "alias.example.com. 300 IN CNAME target.example.net.",
        "target.example.net. 300 IN A 192.0.2.2",
    )
    alias = known(s, "alias.example.com", RRType.ANY)
    assert texts(alias.records) == ["alias.example.com.\t300\tIN\tCNAME\ttarget.example.net."]
    negative(s, "nx.example.com", None, NegativeKind.NXDOMAIN)
    assert known(s, "nx.example.com", RRType.ANY).rcode == Rcode.NXDOMAIN


def test_denied_any_is_notimp() -> None:
    answer = denied_any(n("example.com"), IN)
    assert (answer.qtype, answer.rcode) == (RRType.ANY, Rcode.NOTIMP)
    assert answer.error is not None and answer.error.info_code == EdeCode.NOT_SUPPORTED


# -- referrals from the cache --------------------------------------------------------


def test_the_closest_cached_cut_is_the_referral_with_its_glue() -> None:
    s = setup()
    s.delegate(COM_NS, COM_GLUE)
    s.delegate(
        (*EXAMPLE_NS, "example.com. 86400 IN NS ns.example.net."),
        (*EXAMPLE_GLUE, "ns1.example.com. 86400 IN AAAA 2001:db8::20"),
    )
    s.clock.advance(400)
    ns, glue = referral_from_cache(s.context, n("www.example.com"))
    assert {r.rdata.to_text() for r in ns} == {"ns1.example.com.", "ns.example.net."}
    assert {r.ttl for r in ns} == {86000}
    assert texts(glue) == [
        "ns1.example.com.\t86000\tIN\tA\t192.0.2.20",
        "ns1.example.com.\t86000\tIN\tAAAA\t2001:db8::20",
    ]
    ns, glue = referral_from_cache(s.context, n("www.example.org.com"))
    assert [r.name for r in ns] == [n("com")]
    assert [r.rdata.to_text() for r in glue] == ["192.0.2.10"]
    # Above every cached cut but the root's: the primed root.
    ns, glue = referral_from_cache(s.context, n("www.example.org"))
    assert {r.name for r in ns} == {ROOT} and len(glue) == 3


def test_with_nothing_cached_the_referral_is_the_hints() -> None:
    s = setup(primed=False)
    ns, glue = referral_from_cache(s.context, n("www.example.com"))
    assert ns == tuple(r for r in HINTS if r.rtype == RRType.NS)
    assert glue == tuple(r for r in HINTS if r.rtype != RRType.NS)

"""The pure reply classifier: what a reply from a zone's server means."""

import attrs

from trio_dns import Flag, Message, Name, Rcode, Record, RRClass, RRType, rdata_from_text
from trio_dns._decisions.recursion import Outcome, classify_reply
from trio_dns._trust import Rank


def rec(text: str) -> Record:
    name, ttl, rclass, rtype, rdata = text.split(None, 4)
    rtype_ = RRType.from_text(rtype)
    return Record(
        Name.from_text(name),
        rtype_,
        RRClass.from_text(rclass),
        int(ttl),
        rdata_from_text(rtype_, rdata),
    )


def reply(
    qname: str,
    qtype: str,
    *,
    aa: bool = True,
    rcode: Rcode = Rcode.NOERROR,
    answer: list[str] = (),  # type: ignore[assignment]
    authority: list[str] = (),  # type: ignore[assignment]
    additional: list[str] = (),  # type: ignore[assignment]
) -> Message:
    query = Message.make_query(qname, qtype, id=1, flags=Flag(0))
    response = query.make_response(rcode, Flag.AA if aa else Flag(0))

    return attrs.evolve(
        response,
        answer=tuple(rec(t) for t in answer),
        authority=tuple(rec(t) for t in authority),
        additional=tuple(rec(t) for t in additional),
    )


def n(text: str) -> Name:
    return Name.from_text(text)


def test_referral_with_in_bailiwick_glue_only() -> None:
    message = reply(
        "www.example.com",
        "A",
        aa=False,
        authority=[
            "example.com. 172800 IN NS ns1.example.com.",
            "example.com. 172800 IN NS ns.other.net.",
        ],
        additional=[
            "ns1.example.com. 172800 IN A 192.0.2.1",
            # Glue for a name outside the referring zone (com) must be ignored.
            "ns.other.net. 172800 IN A 198.51.100.66",
        ],
    )
    result = classify_reply(message, n("www.example.com"), RRType.A, n("com"))
    assert result.outcome == Outcome.REFERRAL
    assert result.referral is not None
    assert result.referral.zone == n("example.com")
    assert set(result.referral.ns_names) == {n("ns1.example.com"), n("ns.other.net")}
    assert [r.name for r in result.referral.glue] == [n("ns1.example.com")]
    ranks = {(records[0].name, records[0].rtype): rank for records, rank in result.to_cache}
    assert ranks[(n("example.com"), RRType.NS)] == Rank.AUTHORITY
    assert ranks[(n("ns1.example.com"), RRType.A)] == Rank.ADDITIONAL
    assert (n("ns.other.net"), RRType.A) not in ranks


def test_out_of_bailiwick_answer_data_is_ignored() -> None:
    # A server for example.com trying to plant an address for bank.test.
    message = reply(
        "www.example.com",
        "A",
        answer=["www.example.com. 300 IN A 192.0.2.80", "bank.test. 300 IN A 203.0.113.6"],
    )
    result = classify_reply(message, n("www.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.ANSWER
    cached_names = {records[0].name for records, _ in result.to_cache}
    assert n("bank.test") not in cached_names
    assert [r.rdata.to_text() for r in result.answer] == ["192.0.2.80"]


def test_bailiwick_is_label_by_label() -> None:
    message = reply(
        "www.example.com",
        "A",
        aa=False,
        authority=["evilexample.com. 300 IN NS ns.evilexample.com."],
        additional=["ns.evilexample.com. 300 IN A 192.0.2.9"],
    )
    result = classify_reply(message, n("www.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.LAME


def test_cname_chain_inside_and_leaving_zone() -> None:
    message = reply(
        "www.example.com",
        "A",
        answer=[
            "www.example.com. 300 IN CNAME web.example.com.",
            "web.example.com. 300 IN CNAME cdn.provider.net.",
            "cdn.provider.net. 300 IN A 203.0.113.1",
        ],
    )
    result = classify_reply(message, n("www.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.CNAME
    assert result.target == n("cdn.provider.net")
    assert len(result.chain) == 2
    # The target's address came from a server not authoritative for it.
    assert all(records[0].rtype == RRType.CNAME for records, _ in result.to_cache)


def test_cname_chain_ending_in_zone_is_an_answer() -> None:
    message = reply(
        "www.example.com",
        "A",
        answer=[
            "www.example.com. 300 IN CNAME web.example.com.",
            "web.example.com. 60 IN A 192.0.2.7",
        ],
    )
    result = classify_reply(message, n("www.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.ANSWER
    assert [r.rtype for r in result.answer] == [RRType.CNAME, RRType.A]
    assert result.target == n("web.example.com")


def test_dname_is_synthesised_not_trusted() -> None:
    message = reply(
        "a.old.example.com",
        "A",
        answer=[
            "old.example.com. 300 IN DNAME new.example.com.",
            # A forged synthesised CNAME pointing elsewhere must not be believed.
            "a.old.example.com. 300 IN CNAME evil.test.",
            "a.new.example.com. 300 IN A 192.0.2.44",
        ],
    )
    # A classifier that trusted the CNAME would leave the zone for evil.test.
    result = classify_reply(message, n("a.old.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.ANSWER
    assert result.target == n("a.new.example.com")
    assert all(r.name != n("evil.test") for r in result.answer)


def test_dname_without_cname() -> None:
    message = reply(
        "a.old.example.com",
        "A",
        answer=[
            "old.example.com. 300 IN DNAME new.example.com.",
            "a.new.example.com. 300 IN A 192.0.2.44",
        ],
    )
    result = classify_reply(message, n("a.old.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.ANSWER
    assert result.target == n("a.new.example.com")
    assert [r.rtype for r in result.answer] == [RRType.DNAME, RRType.CNAME, RRType.A]


def test_nxdomain_and_nodata_carry_the_soa() -> None:
    soa = "example.com. 3600 IN SOA ns1.example.com. host.example.com. 1 7200 900 1209600 300"
    nx = reply("nope.example.com", "A", rcode=Rcode.NXDOMAIN, authority=[soa])
    result = classify_reply(nx, n("nope.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.NXDOMAIN
    assert result.soa is not None and result.soa.rtype == RRType.SOA
    nodata = reply("www.example.com", "AAAA", authority=[soa])
    result = classify_reply(nodata, n("www.example.com"), RRType.AAAA, n("example.com"))
    assert result.outcome == Outcome.NODATA


def test_lame_and_error_replies() -> None:
    refused = reply("www.example.com", "A", rcode=Rcode.REFUSED, aa=False)
    assert (
        classify_reply(refused, n("www.example.com"), RRType.A, n("example.com")).outcome
        == Outcome.LAME
    )
    servfail = reply("www.example.com", "A", rcode=Rcode.SERVFAIL, aa=False)
    assert (
        classify_reply(servfail, n("www.example.com"), RRType.A, n("example.com")).outcome
        == Outcome.SERVER_ERROR
    )
    not_aa = reply("www.example.com", "A", aa=False, answer=["www.example.com. 300 IN A 192.0.2.1"])
    # A server that only forgets AA still gives the zone's data, ranked below
    # authoritative data (as Unbound and Knot Resolver take it).
    plain = classify_reply(not_aa, n("www.example.com"), RRType.A, n("example.com"))
    assert plain.outcome == Outcome.ANSWER
    assert {rank for _, rank in plain.to_cache} == {Rank.ANSWER}
    upward = reply("www.example.com", "A", aa=False, authority=[". 300 IN NS a.root-servers.net."])
    assert (
        classify_reply(upward, n("www.example.com"), RRType.A, n("example.com")).outcome
        == Outcome.LAME
    )


def test_non_authoritative_answers_are_accepted_when_forwarding() -> None:
    message = reply(
        "www.example.com", "A", aa=False, answer=["www.example.com. 300 IN A 192.0.2.1"]
    )
    result = classify_reply(message, n("www.example.com"), RRType.A, n("."), authoritative=False)
    assert result.outcome == Outcome.ANSWER
    # Data from a recursive upstream is not authoritative data.
    assert result.to_cache[0][1] == Rank.ANSWER


# -- DNSSEC records kept for validation ---------------------------------------------------


def _signed_com() -> list[Record]:
    from trio_dns.testing import SigningKey, Zone, sign_zone

    zone = Zone.from_text(
        """
$ORIGIN example.com.
$TTL 3600
@    SOA ns1 hostmaster 1 7200 900 1209600 300
@    NS  ns1
ns1  A   192.0.2.1
www  A   192.0.2.10
sub  NS  ns.sub
sub  DS  1 13 2 ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB
ns.sub A 192.0.2.2
"""
    )
    key = SigningKey.generate("example.com.", 15)
    return sign_zone(zone.records, [key], inception=0, expiration=2**31)


def _do_reply(records: list[Record], qname: str, qtype: str) -> Message:
    from trio_dns import Edns
    from trio_dns.testing import Zone, answer_query

    zone = Zone.from_records("example.com.", records)
    return answer_query((zone,), Message.make_query(qname, qtype, edns=Edns(dnssec_ok=True)))


def test_answer_keeps_its_rrsigs_for_the_cache() -> None:
    result = classify_reply(
        _do_reply(_signed_com(), "www.example.com", "A"),
        n("www.example.com"),
        RRType.A,
        n("example.com"),
    )
    assert result.outcome == Outcome.ANSWER
    data = next(rs for rs, _ in result.to_cache if rs[0].rtype == RRType.A)
    sigs = result.rrsigs_for(data)
    assert len(sigs) == 1 and sigs[0].name == n("www.example.com")
    assert all(r.rtype != RRType.RRSIG for r in result.answer)


def test_negative_answer_keeps_its_proof() -> None:
    result = classify_reply(
        _do_reply(_signed_com(), "nope.example.com", "A"),
        n("nope.example.com"),
        RRType.A,
        n("example.com"),
    )
    assert result.outcome == Outcome.NXDOMAIN
    kinds = {r.rtype for r in result.proof}
    assert kinds == {RRType.NSEC, RRType.RRSIG}
    covered = {r.rdata.type_covered for r in result.proof if r.rtype == RRType.RRSIG}  # type: ignore[attr-defined]
    assert covered == {RRType.NSEC, RRType.SOA}


def test_referral_keeps_the_signed_ds() -> None:
    result = classify_reply(
        _do_reply(_signed_com(), "www.sub.example.com", "A"),
        n("www.sub.example.com"),
        RRType.A,
        n("example.com"),
    )
    assert result.outcome == Outcome.REFERRAL
    ds = [rs for rs, _ in result.to_cache if rs[0].rtype == RRType.DS]
    assert len(ds) == 1 and ds[0][0].name == n("sub.example.com")
    assert len(result.rrsigs_for(ds[0])) == 1


def test_dnssec_records_out_of_bailiwick_are_dropped() -> None:
    message = _do_reply(_signed_com(), "nope.example.com", "A")
    # Asked as if the server were authoritative for a zone below the records.
    result = classify_reply(message, n("nope.example.com"), RRType.A, n("nope.example.com"))
    assert not result.proof and not result.rrsigs


# -- bailiwick, ranks and chains (issue 11) ------------------------------------------------


def test_a_chain_cut_short_is_followed_from_its_last_target() -> None:
    # Knot stops after five links: the reply ends at a CNAME whose target has
    # neither data nor an SOA. That is no NODATA; the target must be asked.
    chain = [f"c{i}.example.com. 300 IN CNAME c{i + 1}.example.com." for i in range(5)]
    message = reply("c0.example.com", "A", answer=chain)
    result = classify_reply(message, n("c0.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.CNAME and result.target == n("c5.example.com")
    assert len(result.chain) == 5 and result.reason == "chain cut short"
    # With the SOA, it is the target's NODATA.
    nodata = reply(
        "c0.example.com",
        "A",
        answer=chain,
        authority=["example.com. 300 IN SOA ns hostmaster 1 7200 900 1209600 300"],
    )
    result = classify_reply(nodata, n("c0.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.NODATA and result.target == n("c5.example.com")


def test_an_in_zone_chain_into_a_delegation_is_a_referral_despite_aa() -> None:
    message = reply(
        "www.example.com",
        "A",
        answer=["www.example.com. 300 IN CNAME www.sub.example.com."],
        authority=["sub.example.com. 300 IN NS ns.sub.example.com."],
        additional=["ns.sub.example.com. 300 IN A 192.0.2.7"],
    )
    result = classify_reply(message, n("www.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.REFERRAL and result.referral is not None
    assert result.referral.zone == n("sub.example.com") and len(result.referral.glue) == 1
    assert result.target == n("www.sub.example.com")


def test_excluded_zones_are_outside_the_bailiwick() -> None:
    # A server of the root (or a global forwarder) about a name whose chain runs
    # into a zone with a source of its own (a forwarded or local zone).
    message = reply(
        "www.example.com",
        "A",
        answer=[
            "www.example.com. 300 IN CNAME nas.home.arpa.",
            "nas.home.arpa. 300 IN A 203.0.113.66",
        ],
    )
    result = classify_reply(
        message, n("www.example.com"), RRType.A, n("."), exclude=(n("home.arpa"),)
    )
    assert result.outcome == Outcome.CNAME and result.target == n("nas.home.arpa")
    assert [rs[0].rtype for rs, _ in result.to_cache] == [RRType.CNAME]
    # The excluded zone itself is not excluded for its own servers.
    inside = classify_reply(
        message, n("nas.home.arpa"), RRType.A, n("home.arpa"), exclude=(n("home.arpa"),)
    )
    assert inside.outcome == Outcome.ANSWER


def test_a_forwarder_never_ranks_as_authoritative() -> None:
    message = reply(
        "www.corp",
        "A",
        aa=True,
        answer=["www.corp. 300 IN A 10.0.0.1"],
        authority=["corp. 300 IN NS ns.corp."],
        additional=["ns.corp. 300 IN A 10.0.0.53"],
    )
    result = classify_reply(message, n("www.corp"), RRType.A, n("corp"), authoritative=False)
    ranks = {(str(rs[0].name), rs[0].rtype): rank for rs, rank in result.to_cache}
    # Only the answer: its authority NS set and additional addresses are no
    # referral's, and a forwarder's least of all.
    assert ranks == {("www.corp.", RRType.A): Rank.ANSWER}
    assert result.rank == Rank.ANSWER


def test_an_answers_authority_ns_set_does_not_replace_the_delegation() -> None:
    # The parent delegated to two servers; the child lists only one of them (and
    # a dead one at that). Caching the child's set would hide the live server
    # for every later question of the zone (Deckard's iter_pcnamerec).
    message = reply(
        "www.example.com",
        "A",
        aa=True,
        answer=["www.example.com. 300 IN A 10.20.30.40"],
        authority=["example.com. 300 IN NS ns.example.com."],
        additional=["ns.example.com. 300 IN A 1.2.3.55"],
    )
    result = classify_reply(message, n("www.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.ANSWER
    assert [(str(rs[0].name), rs[0].rtype) for rs, _ in result.to_cache] == [
        ("www.example.com.", RRType.A)
    ]
    nx = reply(
        "nope.corp",
        "A",
        rcode=Rcode.NXDOMAIN,
        authority=["corp. 300 IN SOA ns hostmaster 1 7200 900 1209600 300"],
    )
    assert classify_reply(nx, n("nope.corp"), RRType.A, n("corp"), authoritative=False).rank == (
        Rank.ANSWER
    )


def test_any_answers_are_cached_one_rrset_per_type() -> None:
    message = reply(
        "example.com",
        "ANY",
        answer=[
            "example.com. 300 IN A 192.0.2.1",
            "example.com. 300 IN MX 10 mail.example.com.",
            "example.com. 300 IN A 192.0.2.2",
            "example.com. 300 IN TXT hello",
            "example.com. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 1 example.com. AAAA",
        ],
    )
    result = classify_reply(message, n("example.com"), RRType.ANY, n("example.com"))
    assert result.outcome == Outcome.ANSWER
    sets = {rs[0].rtype: len(rs) for rs, _ in result.to_cache}
    assert sets == {RRType.A: 2, RRType.MX: 1, RRType.TXT: 1}
    assert all(r.rtype != RRType.RRSIG for r in result.answer)
    a_set = next(rs for rs, _ in result.to_cache if rs[0].rtype == RRType.A)
    assert len(result.rrsigs_for(a_set)) == 1


def test_an_ns_answer_brings_its_in_bailiwick_glue() -> None:
    # What priming needs (RFC 8109 section 3): the root's servers' addresses.
    message = reply(
        ".",
        "NS",
        answer=[". 518400 IN NS x.root.test.", ". 518400 IN NS y.elsewhere."],
        additional=[
            "x.root.test. 518400 IN A 192.0.2.1",
            "y.elsewhere. 518400 IN A 192.0.2.2",
            "www.example.com. 518400 IN A 203.0.113.66",
        ],
    )
    result = classify_reply(message, n("."), RRType.NS, n("."), exclude=(n("elsewhere"),))
    cached = {(rs[0].name, rs[0].rtype): rank for rs, rank in result.to_cache}
    assert cached == {
        (n("."), RRType.NS): Rank.AUTH_ANSWER,
        (n("x.root.test"), RRType.A): Rank.ADDITIONAL,
    }


def test_a_no_data_whose_own_nsec_lists_the_type_is_no_denial_at_the_end_of_a_chain() -> None:
    # A server that answers every type of a name with what it has for one of
    # them: the chain, and a denial meant for CNAME, whose NSEC says TXT is there.
    message = reply(
        "shortloop.x",
        "TXT",
        aa=True,
        answer=["x. 3600 IN DNAME .", "shortloop.x. 3600 IN CNAME shortloop."],
        authority=[
            ". 86400 IN SOA . . 1 1800 900 604800 86400",
            "shortloop. 86400 IN NSEC x. TXT RRSIG NSEC",
        ],
    )
    result = classify_reply(message, n("shortloop.x"), RRType.TXT, n("."))
    assert result.outcome == Outcome.CNAME and result.target == n("shortloop")
    # Asked for a type the NSEC does not list, the same reply is a NODATA.
    cname = classify_reply(message, n("shortloop.x"), RRType.MX, n("."))
    assert cname.outcome == Outcome.NODATA and cname.target == n("shortloop")


def test_a_dname_substitution_too_long_for_a_name_is_yxdomain() -> None:
    long_target = ".".join(["x" * 63] * 3) + "."  # 193 octets on the wire
    prefix = "a" * 63 + "." + "b" * 63  # 128 more: no name may be that long
    message = reply(
        f"{prefix}.long",
        "A",
        aa=True,
        rcode=Rcode.YXDOMAIN,
        answer=[f"long. 3600 IN DNAME {long_target}"],
    )
    result = classify_reply(message, n(f"{prefix}.long"), RRType.A, n("long"))
    assert result.outcome == Outcome.YXDOMAIN
    assert [r.rtype for r in result.answer] == [RRType.DNAME]
    # A YXDOMAIN that no DNAME explains is the server's error.
    short = classify_reply(message, n("x.long"), RRType.A, n("long"))
    assert short.outcome == Outcome.SERVER_ERROR


def test_a_negative_reply_keeps_its_soa_and_ns_set_as_they_came() -> None:
    message = reply(
        "nx1.example.com",
        "A",
        rcode=Rcode.NXDOMAIN,
        authority=[
            "example.com. 3600 IN SOA a. b. 1 2 3 4 5",
            "example.com. 3600 IN NS ns.example.com.",
            "elsewhere.net. 3600 IN NS ns.elsewhere.net.",  # out of bailiwick: dropped
        ],
    )
    result = classify_reply(message, n("nx1.example.com"), RRType.A, n("example.com"))
    assert result.outcome == Outcome.NXDOMAIN
    assert [(r.rtype, r.ttl) for r in result.authority] == [(RRType.SOA, 3600), (RRType.NS, 3600)]
    # What is cached is the negative answer alone: no NS set from its authority.
    assert not result.to_cache

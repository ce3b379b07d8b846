"""Cache entries as the shared store holds them: encoded, decoded, and garbage refused.

No store here: `SharingCache` hands its entries to a list, and the tests read
them back into another cache, as a second resolver of the fleet would.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from trio_dns import Name, Record, RRClass, RRType, rdata_from_text
from trio_dns._decisions.shared_cache import (
    Kind,
    SharedEntry,
    SharingCache,
    decode_entry_untrusted,
    encode_entry,
    entry_key,
    forget_patterns,
    keys_for,
)
from trio_dns._trust import NegativeKind, Rank, Validation

IN = RRClass.IN
NOW = 1_000_000.0


def n(text: str) -> Name:
    return Name.from_text(text)


def rec(text: str) -> Record:
    name, ttl, rclass, rtype, rdata = text.split(None, 4)
    rtype_ = RRType.from_text(rtype)
    return Record(
        n(name), rtype_, RRClass.from_text(rclass), int(ttl), rdata_from_text(rtype_, rdata)
    )


SOA_TEXT = "example.com 3600 IN SOA ns.example.com host.example.com 1 7200 900 1209600 300"
RRSIG_TEXT = (
    "www.example.com 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 1234 example.com AAAA"
)
NSEC_TEXT = "nothing.example.com 300 IN NSEC zzz.example.com A RRSIG NSEC"


def shared() -> tuple[SharingCache, list[tuple[bytes, bytes, int]]]:
    written: list[tuple[bytes, bytes, int]] = []
    cache = SharingCache(
        share=lambda entry, ms: written.append((entry.key, encode_entry(entry), ms))
    )
    return cache, written


def test_every_stored_rrset_is_handed_over_with_its_rank_validation_and_lifetime() -> None:
    cache, written = shared()
    records = [rec("www.example.com 300 IN A 192.0.2.1"), rec("www.example.com 300 IN A 192.0.2.2")]
    assert cache.put_rrset(
        records,
        Rank.AUTH_ANSWER,
        NOW,
        rrsigs=[rec(RRSIG_TEXT)],
        validation=Validation.SECURE,
        proof=[rec(NSEC_TEXT)],
    )
    [(key, value, ms)] = written
    assert key == b"trio-dns:1:IN:A:www.example.com."
    assert ms == 300_000
    entry = decode_entry_untrusted(value, n("WWW.example.com"), RRType.A, IN, NOW + 100)
    assert entry is not None
    assert entry.kind is Kind.POSITIVE
    assert entry.rank is Rank.AUTH_ANSWER and entry.validation is Validation.SECURE
    assert entry.expires == NOW + 300
    assert [r.rdata.to_text() for r in entry.records] == ["192.0.2.1", "192.0.2.2"]
    assert [r.rtype for r in entry.rrsigs] == [RRType.RRSIG]
    assert [r.rtype for r in entry.proof] == [RRType.NSEC]

    # A second resolver of the fleet: what is left of the life, the state kept.
    other, echoed = shared()
    assert other.insert_shared([entry], NOW + 100) == 1
    assert echoed == []  # what came from the store is not written back
    hit = other.get_rrset(n("www.example.com"), RRType.A, IN, NOW + 100)
    assert hit is not None
    assert hit.ttl == 200 and hit.rank is Rank.AUTH_ANSWER
    assert hit.validation is Validation.SECURE
    assert [r.ttl for r in hit.rrsigs] == [200] and len(hit.proof) == 1


def test_validation_learnt_later_is_handed_over_again() -> None:
    cache, written = shared()
    record = rec("www.example.com 300 IN A 192.0.2.1")
    cache.put_rrset([record], Rank.AUTH_ANSWER, NOW)
    cache.put_rrset([record], Rank.AUTH_ANSWER, NOW + 1, validation=Validation.BOGUS)
    states = [
        decode_entry_untrusted(v, n("www.example.com"), RRType.A, IN, NOW + 1)
        for _, v, _ in written
    ]
    assert [s.validation for s in states if s] == [Validation.INDETERMINATE, Validation.BOGUS]
    # A store of the same data restarts its clock, here as in the store.
    assert [ms for _, _, ms in written] == [300_000, 300_000]
    assert [s.expires for s in states if s] == [NOW + 300, NOW + 301]


def test_negative_answers_are_handed_over_too() -> None:
    cache, written = shared()
    soa = rec(SOA_TEXT)
    assert cache.put_negative(
        n("gone.example.com"),
        RRType.A,
        IN,
        soa,
        NOW,
        kind=NegativeKind.NXDOMAIN,
        proof=[rec(NSEC_TEXT)],
        validation=Validation.SECURE,
    )
    assert cache.put_negative(
        n("www.example.com"), RRType.MX, IN, soa, NOW, kind=NegativeKind.NODATA
    )
    [(nx_key, nx_value, nx_ms), (nodata_key, nodata_value, _)] = written
    assert (
        nx_key
        == entry_key(n("gone.example.com"), None)
        == b"trio-dns:1:IN:NXDOMAIN:gone.example.com."
    )
    assert nodata_key == b"trio-dns:1:IN:MX:www.example.com."
    assert nx_ms == 300_000  # the SOA's MINIMUM (RFC 2308)
    nx = decode_entry_untrusted(nx_value, n("gone.example.com"), None, IN, NOW + 50)
    nodata = decode_entry_untrusted(nodata_value, n("www.example.com"), RRType.MX, IN, NOW + 50)
    assert nx is not None and nx.kind is Kind.NXDOMAIN and nx.validation is Validation.SECURE
    assert nodata is not None and nodata.kind is Kind.NODATA and nodata.soa is not None

    other, _ = shared()
    assert other.insert_shared([nx, nodata], NOW + 50) == 2
    # RFC 8020: below a name that does not exist, nothing does.
    below = other.get_negative(n("a.gone.example.com"), RRType.A, IN, NOW + 50)
    assert below is not None and below.kind is NegativeKind.NXDOMAIN and below.ttl == 250
    assert below.validation is Validation.SECURE and len(below.proof) == 1
    mx = other.get_negative(n("www.example.com"), RRType.MX, IN, NOW + 50)
    assert mx is not None and mx.kind is NegativeKind.NODATA and mx.ttl == 250


def test_an_entry_read_under_another_key_or_expired_is_a_miss() -> None:
    cache, written = shared()
    cache.put_rrset([rec("www.example.com 300 IN A 192.0.2.1")], Rank.AUTH_ANSWER, NOW)
    [(_, value, _)] = written
    www = n("www.example.com")
    assert decode_entry_untrusted(value, www, RRType.A, IN, NOW) is not None
    # An attacker copying one name's entry to another name's key gains nothing.
    assert decode_entry_untrusted(value, n("bank.example.com"), RRType.A, IN, NOW) is None
    assert decode_entry_untrusted(value, www, RRType.AAAA, IN, NOW) is None
    assert decode_entry_untrusted(value, www, None, IN, NOW) is None
    assert decode_entry_untrusted(value, www, RRType.A, RRClass.CH, NOW) is None
    assert decode_entry_untrusted(value, www, RRType.A, IN, NOW + 299.5) is None
    assert decode_entry_untrusted(value, www, RRType.A, IN, NOW + 301) is None


def test_header_values_that_mean_nothing_are_a_miss() -> None:
    entry = SharedEntry(
        n("www.example.com"),
        RRType.A,
        IN,
        Kind.POSITIVE,
        Rank.ANSWER,
        Validation.INSECURE,
        NOW + 300,
        (rec("www.example.com 300 IN A 192.0.2.1"),),
    )
    good = encode_entry(entry)
    www = n("www.example.com")
    assert decode_entry_untrusted(good, www, RRType.A, IN, NOW) == entry
    body = good[20:]
    for header in (
        struct.pack("!4sBBBHd", b"TDC2", 0, 3, 2, 1, NOW + 300),  # another version
        struct.pack("!4sBBBHd", b"TDC1", 7, 3, 2, 1, NOW + 300),  # no such kind
        struct.pack("!4sBBBHd", b"TDC1", 0, 9, 2, 1, NOW + 300),  # no such rank
        struct.pack("!4sBBBHd", b"TDC1", 0, 3, 9, 1, NOW + 300),  # no such validation
        struct.pack("!4sBBBHd", b"TDC1", 0, 3, 2, 28, NOW + 300),  # the type is not the key's
        struct.pack("!4sBBBHd", b"TDC1", 0, 3, 2, 1, float("nan")),
        struct.pack("!4sBBBHd", b"TDC1", 0, 3, 2, 1, float("inf")),
        struct.pack("!4sBBBHd", b"TDC1", 1, 3, 2, 1, NOW + 300),  # NXDOMAIN at an A key
    ):
        assert decode_entry_untrusted(header + body, www, RRType.A, IN, NOW) is None
    assert decode_entry_untrusted(good[:-1], www, RRType.A, IN, NOW) is None
    assert decode_entry_untrusted(good + b"\0", www, RRType.A, IN, NOW) is None
    assert decode_entry_untrusted(b"", www, RRType.A, IN, NOW) is None


def test_records_that_do_not_belong_in_an_entry_are_a_miss() -> None:
    www = n("www.example.com")
    a = rec("www.example.com 300 IN A 192.0.2.1")

    def entry(**changes: object) -> bytes:
        fields: dict[str, object] = dict(
            name=www,
            rtype=RRType.A,
            rclass=IN,
            kind=Kind.POSITIVE,
            rank=Rank.ANSWER,
            validation=Validation.SECURE,
            expires=NOW + 300,
            records=(a,),
        )
        fields.update(changes)
        return encode_entry(SharedEntry(**fields))  # type: ignore[arg-type]

    assert decode_entry_untrusted(entry(), www, RRType.A, IN, NOW) is not None
    other_name = rec("evil.example.com 300 IN A 192.0.2.66")
    assert decode_entry_untrusted(entry(records=(a, other_name)), www, RRType.A, IN, NOW) is None
    assert decode_entry_untrusted(entry(records=()), www, RRType.A, IN, NOW) is None
    # Only signatures beside the records, only denial records in the proof.
    assert decode_entry_untrusted(entry(rrsigs=(a,)), www, RRType.A, IN, NOW) is None
    assert decode_entry_untrusted(entry(proof=(other_name,)), www, RRType.A, IN, NOW) is None
    # A negative entry's SOA must be one.
    nodata = entry(rtype=RRType.MX, kind=Kind.NODATA, records=(), soa=a)
    assert decode_entry_untrusted(nodata, www, RRType.MX, IN, NOW) is None


def test_keys_that_can_answer_a_question() -> None:
    www = n("WWW.Example.com")
    assert keys_for(www, RRType.AAAA) == (
        (RRType.AAAA, b"trio-dns:1:IN:AAAA:www.example.com."),
        (RRType.CNAME, b"trio-dns:1:IN:CNAME:www.example.com."),
        (None, b"trio-dns:1:IN:NXDOMAIN:www.example.com."),
    )
    assert len(keys_for(www, RRType.CNAME)) == 2


def _valid_value() -> bytes:
    entry = SharedEntry(
        n("www.example.com"),
        RRType.A,
        IN,
        Kind.POSITIVE,
        Rank.AUTH_ANSWER,
        Validation.SECURE,
        NOW + 300,
        (rec("www.example.com 300 IN A 192.0.2.1"),),
        (rec(RRSIG_TEXT),),
        (rec(NSEC_TEXT),),
    )
    return encode_entry(entry)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_is_a_miss_never_an_exception(data: bytes) -> None:
    for prefix in (b"", _valid_value()[:20]):
        found = decode_entry_untrusted(prefix + data, n("www.example.com"), RRType.A, IN, NOW)
        assert found is None or found.name == n("www.example.com")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_entries_are_a_miss_or_still_the_entry_asked_for(data: st.DataObject) -> None:
    value = bytearray(_valid_value())
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(value) - 1))
        value[where] = data.draw(st.integers(0, 255))
    found = decode_entry_untrusted(bytes(value), n("www.example.com"), RRType.A, IN, NOW)
    if found is not None:
        assert all(r.name == n("www.example.com") and r.rtype == RRType.A for r in found.records)
        cache = SharingCache()
        cache.insert_shared([found], NOW)  # whatever survives parsing can be stored


def test_what_is_removed_is_forgotten_by_the_store_too() -> None:
    forgotten: list[tuple[Name, RRType | None, RRClass, bool]] = []
    cache = SharingCache(forget=lambda *args: forgotten.append(args))
    cache.put_rrset([rec("www.example.com 300 IN A 192.0.2.1")], Rank.AUTH_ANSWER, NOW)
    assert cache.remove_name(n("www.example.com"), RRType.A) == 1
    assert cache.remove_name(n("www.example.com")) == 0
    assert cache.remove_subtree(n("example.com")) == 0
    cache.flush()  # the whole cache: this process's own business
    assert forgotten == [
        (n("www.example.com"), RRType.A, IN, False),
        (n("www.example.com"), None, IN, False),
        (n("example.com"), None, IN, True),
    ]


def test_forget_patterns_escape_what_globs_would_read() -> None:
    assert forget_patterns(n("www.Example.com"), IN, False) == (
        b"trio-dns:1:IN:*:www.example.com.",
    )
    assert forget_patterns(n("*.example.com"), IN, True) == (
        b"trio-dns:1:IN:*:\\*.example.com.",
        b"trio-dns:1:IN:*:*.\\*.example.com.",
    )
    assert forget_patterns(n("."), IN, True) == (b"trio-dns:1:IN:*",)

"""resolv.conf read as glibc reads it, and the names res_search tries."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from trio_dns import Answer, EdeCode, InvalidName, Name, Rcode, RRClass, RRType
from trio_dns._decisions.answer import servfail
from trio_dns._decisions.resolv_conf import SystemConfig, keeps_searching, search_outcome
from trio_dns._wire.zone import read_zone


def names(*texts: str) -> tuple[Name, ...]:
    return tuple(Name.from_text(text) for text in texts)


def test_defaults_are_glibcs() -> None:
    config = SystemConfig.from_text("")
    assert config == SystemConfig(
        (), (), ndots=1, timeout=5.0, attempts=2, rotate=False, edns0=False
    )


def test_nameservers_search_and_options() -> None:
    config = SystemConfig.from_text(
        "# a comment\n"
        "; another\n"
        "nameserver 192.0.2.1\n"
        "nameserver fe80::1%eth0\n"  # a zone index cannot be used: skipped
        "nameserver not-an-address\n"
        "nameserver 2001:DB8::0:53\n"
        "nameserver 192.0.2.3\n"
        "nameserver 192.0.2.4\n"  # beyond glibc's three
        "domain ignored.example\n"
        "search corp.example lab.example corp.example\n"
        "options ndots:3 timeout:2 attempts:4 rotate edns0 no-tld-query unknown:1\n"
        "sortlist 130.155.160.0/255.255.240.0\n"
    )
    assert config.nameservers == ("192.0.2.1", "2001:db8::53", "192.0.2.3")
    assert config.search == names("corp.example", "lab.example")
    assert (config.ndots, config.timeout, config.attempts) == (3, 2.0, 4)
    assert config.rotate and config.edns0 and config.no_tld_query


def test_the_last_of_search_and_domain_wins() -> None:
    assert SystemConfig.from_text("search a.example\ndomain b.example\n").search == names(
        "b.example"
    )
    assert SystemConfig.from_text("domain b.example\nsearch a.example c.example\n").search == (
        names("a.example", "c.example")
    )
    assert SystemConfig.from_text("search a.example\nsearch .\n").search == ()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("ndots:99 timeout:999 attempts:99", (15, 30.0, 5)),
        ("ndots:0 timeout:0 attempts:0", (0, 1.0, 1)),
        ("ndots:x timeout: attempts:-3", (1, 5.0, 1)),
    ],
)
def test_options_are_clamped_as_glibc_clamps_them(
    options: str, expected: tuple[int, float, int]
) -> None:
    config = SystemConfig.from_text(f"options {options}\n")
    assert (config.ndots, config.timeout, config.attempts) == expected


def test_few_dots_search_first_then_as_typed() -> None:
    config = SystemConfig(search=names("corp.example", "lab.example"))
    assert config.candidates("www") == names("www.corp.example", "www.lab.example", "www")
    assert not config.as_typed_first("www")


def test_enough_dots_as_typed_first() -> None:
    config = SystemConfig(search=names("corp.example"), ndots=2)
    assert config.candidates("a.b.c") == names("a.b.c", "a.b.c.corp.example")
    assert config.as_typed_first("a.b.c") and not config.as_typed_first("a.b")
    assert config.candidates("a.b") == names("a.b.corp.example", "a.b")
    assert config.candidates("a") == names("a.corp.example", "a")
    # An escaped dot is part of a label, not a separator.
    assert config.candidates("a\\.b") == (
        Name.from_text("a\\.b.corp.example"),
        Name.from_text("a\\.b"),
    )


def test_a_trailing_dot_is_absolute() -> None:
    config = SystemConfig(search=names("corp.example"), ndots=5)
    assert config.candidates("www.") == names("www")
    assert config.as_typed_first("www.")


def test_no_tld_query_never_asks_a_single_label_alone() -> None:
    config = SystemConfig(search=names("corp.example"), no_tld_query=True)
    assert config.candidates("www") == names("www.corp.example")
    assert config.candidates("www.x") == names("www.x", "www.x.corp.example")


def test_a_search_domain_that_makes_the_name_too_long_is_skipped() -> None:
    long_domain = ".".join(["a" * 60] * 4)  # 244 octets
    config = SystemConfig(search=(Name.from_text(long_domain), Name.from_text("corp.example")))
    assert config.candidates("b" * 20) == names("b" * 20 + ".corp.example", "b" * 20)


def _answer(rcode: Rcode, data: bool = False) -> Answer:
    records = tuple(read_zone("x.example. 60 IN A 192.0.2.1\n")) if data else ()
    return Answer(Name.from_text("x.example"), RRType.A, RRClass.IN, rcode, records)


def test_which_answers_end_the_search() -> None:
    assert not keeps_searching(_answer(Rcode.NOERROR, data=True))
    assert keeps_searching(_answer(Rcode.NOERROR))  # NODATA
    assert keeps_searching(_answer(Rcode.NXDOMAIN))
    failure = servfail(Name.from_text("x"), RRType.A, RRClass.IN, EdeCode.OTHER, "")
    assert keeps_searching(failure)
    timeout = servfail(Name.from_text("x"), RRType.A, RRClass.IN, EdeCode.OTHER, "", timed_out=True)
    assert not keeps_searching(timeout)
    assert not keeps_searching(_answer(Rcode.REFUSED))


def test_the_answer_a_failed_search_reports() -> None:
    nx1, nx2 = _answer(Rcode.NXDOMAIN), _answer(Rcode.NXDOMAIN)
    nodata = _answer(Rcode.NOERROR)
    fail = servfail(Name.from_text("x"), RRType.A, RRClass.IN, EdeCode.OTHER, "")
    assert search_outcome([nx1, nodata, fail, nx2], as_typed_first=True) is nx1
    assert search_outcome([nx1, fail, nodata, nx2], as_typed_first=False) is nodata
    assert search_outcome([nx1, fail, nx2], as_typed_first=False) is fail
    assert search_outcome([nx1, nx2], as_typed_first=False) is nx2
    found = _answer(Rcode.NOERROR, data=True)
    assert search_outcome([nx1, found], as_typed_first=True) is found


def test_the_environment_overrides_the_file_as_in_glibc() -> None:
    text = "search corp.example\noptions ndots:2 timeout:3\n"
    environ = {"LOCALDOMAIN": "lab.example home.arpa", "RES_OPTIONS": "ndots:4 rotate"}
    config = SystemConfig.from_text(text, environ)
    assert config.search == names("lab.example", "home.arpa")
    assert (config.ndots, config.timeout, config.rotate) == (4, 3.0, True)


def test_without_a_search_list_the_hosts_domain_is_searched() -> None:
    assert SystemConfig.from_text("", hostname="box.corp.example").search == names("corp.example")
    assert SystemConfig.from_text("", hostname="box").search == ()
    listed = SystemConfig.from_text("search lab.example\n", hostname="box.corp.example")
    assert listed.search == names("lab.example")


@given(st.text(max_size=400), st.text(max_size=40))
def test_no_text_makes_the_parser_raise(text: str, typed: str) -> None:
    # resolv.conf is whatever the machine has; a broken line is ignored, as glibc does.
    config = SystemConfig.from_text(text, {"RES_OPTIONS": typed, "LOCALDOMAIN": typed}, typed)
    assert len(config.nameservers) <= 3
    assert 0 <= config.ndots <= 15 and 1 <= config.attempts <= 5


@given(st.text(max_size=80))
@example("@")
@example("www.")
def test_candidates_of_any_text_are_names_or_invalid_name(typed: str) -> None:
    config = SystemConfig(search=names("corp.example"), ndots=2)
    try:
        found = config.candidates(typed)
    except InvalidName:
        return
    assert found and len(set(found)) == len(found)
    assert config.as_typed_first(typed) == (found[0] == Name.from_text(typed))

"""Internationalised names: Unicode text in, A-labels on the wire, Unicode out."""

from __future__ import annotations

import subprocess
import sys

import dns.name
import hypothesis.strategies as st
import pytest
from hypothesis import given

from trio_dns import InvalidName, Message, Name, RRType, ZoneFileError, read_zone
from trio_dns.testing import Zone, answer_query


@pytest.mark.parametrize(
    ("text", "wire_text"),
    [
        ("bücher.example", "xn--bcher-kva.example."),
        # UTS 46 maps case: the capital is the same name.
        ("BÜCHER.example.", "xn--bcher-kva.example."),
        # Non-transitional, as browsers are: ß is its own letter, not "ss".
        ("faß.de", "xn--fa-hia.de."),
        # The ideographic full stop separates labels, as UTS 46 says.
        ("www.例え。テスト", "www.xn--r8jz45g.xn--zckzah."),
        ("münchen.xn--bcher-kva.example", "xn--mnchen-3ya.xn--bcher-kva.example."),
    ],
)
def test_unicode_text_becomes_a_labels(text: str, wire_text: str) -> None:
    name = Name.from_text(text)
    assert name.to_text() == wire_text
    assert name == Name.from_text(wire_text)


def test_a_labels_agree_with_dnspython_and_the_idna_codec() -> None:
    # dnspython's IDNA 2008 codec with UTS 46 is another implementation of the same rules.
    codec = dns.name.IDNA_2008_Practical
    for text in ["bücher.example.", "faß.de.", "ελληνικά.example.", "日本語.jp."]:
        ours = Name.from_text(text).to_wire()
        theirs = dns.name.from_unicode(text, idna_codec=codec).to_wire()
        assert ours == theirs, text


def test_to_unicode_shows_u_labels_and_leaves_the_rest() -> None:
    assert Name.from_text("xn--bcher-kva.example").to_unicode() == "bücher.example."
    assert Name.from_text("XN--BCHER-KVA.example").to_unicode(omit_final_dot=True) == (
        "bücher.example"
    )
    assert Name.from_text("www.example.com").to_unicode() == "www.example.com."
    assert Name(()).to_unicode() == "."
    # Not valid punycode, or not valid IDNA: shown as it is on the wire.
    assert Name.from_text("xn--zz.example").to_unicode() == "xn--zz.example."
    assert Name((b"a.b", b"xn--", b"com")).to_unicode() == "a\\.b.xn--.com."


@pytest.mark.parametrize(
    "text",
    [
        "☃.net",  # a symbol: IDNA 2008 allows letters and digits, not snowmen
        "a\u200db.com",  # a joiner outside the context that allows it
        "⒈com",  # maps to "1.com": a dot nobody typed
        "b\\046ü.example",  # an escape inside a Unicode label
        "\ud800.example",  # a lone surrogate
        "ü" * 60 + ".example",  # an A-label longer than 63 octets
        "-ü.example",  # a leading hyphen
    ],
)
def test_what_idna_refuses_is_an_invalid_name(text: str) -> None:
    with pytest.raises(InvalidName):
        Name.from_text(text)


@given(st.text(max_size=40))
def test_any_text_is_a_name_or_an_invalid_name(text: str) -> None:
    try:
        name = Name.from_text(text)
    except InvalidName:
        return
    # Whatever was accepted round-trips through its own presentation forms.
    assert Name.from_text(name.to_text()) == name
    assert Name.from_text(name.to_unicode()) == name or "\\" in name.to_text()


def test_a_zone_file_in_unicode_answers_the_a_label_query() -> None:
    records = read_zone(
        "$ORIGIN bücher.example.\n"
        "@ 3600 SOA ns1 hostmaster 1 7200 900 1209600 300\n"
        "@ 3600 NS ns1\n"
        "ns1 3600 A 192.0.2.1\n"
        "straße 3600 A 192.0.2.7\n"
        "www 3600 CNAME straße\n",
        origin=None,
    )
    zone = Zone.from_records("xn--bcher-kva.example.", records)
    reply = answer_query([zone], Message.make_query(Name.from_text("www.bücher.example"), RRType.A))
    assert [r.to_text() for r in reply.answer] == [
        "www.xn--bcher-kva.example.\t3600\tIN\tCNAME\txn--strae-oqa.xn--bcher-kva.example.",
        "xn--strae-oqa.xn--bcher-kva.example.\t3600\tIN\tA\t192.0.2.7",
    ]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_resolve_takes_a_unicode_name() -> None:
    # The sandbox has no such name: NXDOMAIN from example.com, asked for the A-label.
    result = _cli("resolve", "--sandbox", "bücher.example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(";; bücher.example.com. is xn--bcher-kva.example.com.\n")
    assert "status: NXDOMAIN, xn--bcher-kva.example.com. IN A" in result.stdout
    # An ASCII name gets no such line.
    assert " is " not in _cli("resolve", "--sandbox", "www.example.com").stdout


def test_an_invalid_unicode_name_is_a_usage_error_not_a_traceback() -> None:
    result = _cli("resolve", "--sandbox", "☃.example.com")
    assert result.returncode == 2
    assert "invalid name" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_idna_in_a_zone_file_is_a_zone_file_error_with_its_line() -> None:
    with pytest.raises(ZoneFileError, match=r"<string>:2: bad CNAME rdata"):
        read_zone("www 3600 IN A 192.0.2.1\nalias 3600 IN CNAME ☃.example.\n", origin="example.")

import pickle

import pytest
from hypothesis import given

from tests.wire import strategies
from trio_dns import ROOT, InvalidName, Name


def n(text: str) -> Name:
    return Name.from_text(text)


def test_equality_ignores_case_but_text_keeps_it() -> None:
    a = n("WWW.Example.COM")
    b = n("www.example.com.")
    assert a == b
    assert hash(a) == hash(b)
    assert str(a) == "WWW.Example.COM."
    assert {a: 1}[b] == 1


def test_relative_text_uses_origin() -> None:
    origin = n("example.com")
    assert Name.from_text("www", origin) == n("www.example.com")
    assert Name.from_text("@", origin) == origin
    assert Name.from_text("www.", origin) == n("www")


def test_escapes_round_trip() -> None:
    name = n(r"a\.b.c\065\255.example")
    assert name.labels[0] == b"a.b"
    assert name.labels[1] == b"cA\xff"
    assert n(name.to_text()) == name
    assert name.to_text() == r"a\.b.cA\255.example."


@pytest.mark.parametrize(
    "text",
    [
        "a..b",
        "..",
        "a" * 64 + ".com",
        ".".join(["abcdefghi"] * 26),
        "a\\",
        "a\\25",
        "a\\300",
        "☃.de",  # not valid IDNA (bü.de is: tests/wire/test_unicode_names.py)
    ],
)
def test_invalid_names_are_refused(text: str) -> None:
    with pytest.raises(InvalidName):
        n(text)


def test_length_limits_are_exact() -> None:
    assert len(Name((b"a" * 63,)).to_wire()) == 65
    # 255 octets of wire form is the most a name may have.
    labels = (b"a" * 63,) * 3 + (b"a" * 61,)
    assert len(Name(labels).to_wire()) == 255
    with pytest.raises(InvalidName):
        Name((b"a" * 63,) * 3 + (b"a" * 62,))


def test_subdomain_is_label_by_label() -> None:
    example = n("example.com")
    assert n("www.EXAMPLE.com").is_subdomain(example)
    assert example.is_subdomain(example)
    assert example.is_subdomain(ROOT)
    assert not n("evilexample.com").is_subdomain(example)
    assert not example.is_subdomain(n("www.example.com"))
    # A label holding a byte that looks like a length octet must not fool the test.
    assert not Name((b"a\x07example", b"com")).is_subdomain(example)


def test_relations() -> None:
    name = n("a.b.example.com")
    assert name.parent() == n("b.example.com")
    assert name.ancestor(2) == n("example.com")
    assert name.ancestor(0) == ROOT
    assert n("example.com").child("www") == n("www.example.com")
    assert name.relativize(n("example.com")) == "a.b"
    assert n("example.com").relativize(n("example.com")) == "@"
    assert n("example.org").relativize(n("example.com")) == "example.org."
    with pytest.raises(InvalidName):
        ROOT.parent()


def test_canonical_order_rfc4034_example() -> None:
    # The example ordering of RFC 4034 section 6.1.
    ordered = [
        "example",
        "a.example",
        "yljkjljk.a.example",
        "Z.a.example",
        "zABC.a.EXAMPLE",
        "z.example",
        "\\001.z.example",
        "*.z.example",
        "\\200.z.example",
    ]
    names = [n(text) for text in ordered]
    assert sorted(reversed(names)) == names


def test_pickle_round_trip() -> None:
    name = n("Www.Example.com")
    copy = pickle.loads(pickle.dumps(name))
    assert copy == name and str(copy) == str(name)


@given(strategies.names)
def test_every_ancestor_keys_as_a_name_built_from_its_labels(name: Name) -> None:
    # Ancestors are cut from the name's own key and wire form, never lowered again.
    for depth in range(len(name) + 1):
        ancestor = name.ancestor(depth)
        built = Name(ancestor.labels)
        assert ancestor.to_wire() == built.to_wire()
        assert ancestor.canonical_wire() == built.canonical_wire() == built.to_wire().lower()
        assert ancestor == built and hash(ancestor) == hash(built)
    if len(name):
        assert name.parent() == Name(name.labels[1:])
        assert name.parent().canonical_wire() == name.to_wire()[len(name.labels[0]) + 1 :].lower()

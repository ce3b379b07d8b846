"""Rebinding protection, the pure part: which addresses are private, for which names."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from trio_dns import Message, Name, Record, RRClass, RRType
from trio_dns._config import ConfigError, ServeConfig
from trio_dns._decisions.rebinding import PRIVATE_NETWORKS, Rebinding, parse_private_addresses
from trio_dns._wire.rdata import rdata_from_text


def record(name: str, rtype: str, text: str) -> Record:
    kind = RRType.make(rtype)
    return Record(Name.from_text(name), kind, RRClass.IN, 300, rdata_from_text(kind, text))


POLICY = Rebinding(PRIVATE_NETWORKS, [Name.from_text("corp.example.")])


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "127.0.0.1",
        "127.53.0.1",
        "0.0.0.0",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "::1",
        "::",
        "::ffff:192.168.1.1",  # IPv4-mapped: judged by its IPv4 address
        "::ffff:127.0.0.1",
    ],
)
def test_private_addresses(address: str) -> None:
    assert POLICY.is_private(address)


@pytest.mark.parametrize(
    "address",
    [
        "192.0.2.1",
        "8.8.8.8",
        "172.32.0.1",  # just past 172.16.0.0/12
        "172.15.255.255",
        "11.0.0.1",
        "2001:db8::1",
        "2606:4700::1111",
        "fec0::1",  # past fe80::/10
        "::ffff:8.8.8.8",
    ],
)
def test_public_addresses(address: str) -> None:
    assert not POLICY.is_private(address)


def test_private_domains_and_everything_below_may_hold_private_addresses() -> None:
    assert POLICY.allows(record("corp.example.", "A", "10.0.0.1"))
    assert POLICY.allows(record("db.eu.CORP.Example.", "A", "10.0.0.2"))
    assert not POLICY.allows(record("corp.example.com.", "A", "10.0.0.1"))
    assert not POLICY.allows(record("notcorp.example.", "A", "10.0.0.1"))
    assert not POLICY.allows(record("www.example.", "AAAA", "fd00::53"))


def test_only_address_records_are_judged() -> None:
    assert POLICY.allows(record("www.example.", "TXT", '"10.0.0.1"'))
    assert POLICY.allows(record("www.example.", "CNAME", "10.0.0.1.example."))
    assert POLICY.allows(record("www.example.", "A", "192.0.2.1"))


def test_filter_keeps_the_public_records_in_order() -> None:
    records = [
        record("www.example.", "A", "192.0.2.1"),
        record("www.example.", "A", "10.0.0.1"),
        record("www.example.", "A", "192.0.2.2"),
        record("corp.example.", "A", "10.0.0.2"),
    ]
    assert POLICY.filter(records) == (records[0], records[2], records[3])


def test_apply_filters_every_section_and_counts() -> None:
    query = Message.make_query("www.example.", "A")
    message = Message(
        query.make_response().header,
        query.question,
        (record("www.example.", "A", "192.168.0.1"), record("www.example.", "A", "192.0.2.1")),
        (record("example.", "NS", "ns1.example."),),
        (record("ns1.example.", "A", "10.0.0.53"), record("ns1.example.", "AAAA", "2001:db8::53")),
    )
    filtered, removed = POLICY.apply(message)
    assert removed == 2
    assert [r.rdata.to_text() for r in filtered.answer] == ["192.0.2.1"]
    assert filtered.authority == message.authority
    assert [r.rdata.to_text() for r in filtered.additional] == ["2001:db8::53"]
    assert filtered.question == message.question and filtered.header == message.header


def test_apply_returns_a_clean_message_as_it_is() -> None:
    query = Message.make_query("www.example.", "A")
    clean = Message(
        query.make_response().header, query.question, (record("www.example.", "A", "192.0.2.1"),)
    )
    assert POLICY.apply(clean) == (clean, 0)
    assert POLICY.apply(clean)[0] is clean
    assert Rebinding(()).apply(clean)[0] is clean


def test_an_rrset_with_only_private_addresses_is_gone() -> None:
    query = Message.make_query("www.example.", "A")
    message = Message(
        query.make_response().header, query.question, (record("www.example.", "A", "10.0.0.1"),)
    )
    filtered, removed = POLICY.apply(message)
    assert filtered.answer == () and removed == 1
    assert filtered.rcode == message.rcode  # NODATA, not an error


def test_parse_private_addresses() -> None:
    assert parse_private_addresses(["default"]) == PRIVATE_NETWORKS
    assert parse_private_addresses(["10.0.0.0/8", "192.0.2.1", "10.0.0.0/8"]) == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.1/32"),
    )
    # Host bits are forgiven, as a network is meant.
    assert parse_private_addresses(["192.168.1.1/16"]) == (ipaddress.ip_network("192.168.0.0/16"),)
    with pytest.raises(ValueError, match="nonsense"):
        parse_private_addresses(["10.0.0.0/8", "nonsense"])


def test_the_default_set_is_the_one_documented() -> None:
    assert [str(n) for n in PRIVATE_NETWORKS] == [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "127.0.0.0/8",
        "0.0.0.0/8",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
        "::/128",
    ]


# -- the settings of `trio-dns serve` -----------------------------------------------------


def test_off_by_default_and_0x20_on() -> None:
    settings = ServeConfig.load({}).resolver_settings().exchange
    assert settings.rebinding is None
    assert settings.case_randomisation
    assert settings.unwanted_reply_threshold == 10_000_000


def test_from_the_command_line() -> None:
    config = ServeConfig.load(
        {
            "private_address": ["default", "100.64.0.0/10"],
            "private_domain": ["home.arpa"],
            "forward_zone": ["corp.example=127.0.0.53"],
            "case_randomisation": False,
            "unwanted_reply_threshold": "0",
        }
    )
    settings = config.resolver_settings().exchange
    assert settings.rebinding is not None
    assert settings.rebinding.private_addresses == (
        *PRIVATE_NETWORKS,
        ipaddress.ip_network("100.64.0.0/10"),
    )
    # A forward zone is the operator's own: its names may hold private addresses.
    assert [str(d) for d in settings.rebinding.private_domains] == ["home.arpa.", "corp.example."]
    assert not settings.case_randomisation
    assert settings.unwanted_reply_threshold == 0


def test_from_a_file(tmp_path: Path) -> None:
    file = tmp_path / "serve.toml"
    file.write_text(
        'private_address = ["10.0.0.0/8", "fd00::/8"]\n'
        'private_domain = ["lan"]\n'
        "unwanted_reply_threshold = 1000\n"
    )
    settings = ServeConfig.load({}, file).exchange_settings()
    assert settings.rebinding is not None
    assert [str(n) for n in settings.rebinding.private_addresses] == ["10.0.0.0/8", "fd00::/8"]
    assert settings.unwanted_reply_threshold == 1000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"private_address": ["10.0.0.0/8", "ten"]}, "'ten' is not one"),
        ({"private_domain": ["bad..name"]}, "'bad..name' is not one"),
        ({"unwanted_reply_threshold": "-1"}, "a number of replies"),
        ({"unwanted_reply_threshold": "many"}, "a number of replies"),
    ],
)
def test_bad_values_are_one_line_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServeConfig.load(options)

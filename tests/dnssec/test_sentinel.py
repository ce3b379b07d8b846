"""RFC 8509's root key sentinel, decided without a network."""

from __future__ import annotations

import attrs
import pytest

from tests.dnssec.util import name, records
from trio_dns import RRType
from trio_dns._dnssec.sentinel import root_key_tags, sentinel_label, sentinel_refusal
from trio_dns._trust import Validation
from trio_dns._wire.rdtypes.dnskey import DNSKEY, REVOKE
from trio_dns.testing import SigningKey

ROOT_KEY = SigningKey.generate(".", ksk=True)
OTHER_KEY = SigningKey.generate(".", ksk=True)
ANCHORS = [ROOT_KEY.ds(), *records("example. 3600 IN DS 4759 8 2 " + "00" * 32)]
TAG = ROOT_KEY.key_tag
OTHER = OTHER_KEY.key_tag if OTHER_KEY.key_tag != TAG else (TAG + 1) % 65536


@pytest.mark.parametrize(
    ("qname", "expected"),
    [
        ("root-key-sentinel-is-ta-20326.example.", (True, 20326)),
        ("root-key-sentinel-not-ta-00000.example.", (False, 0)),
        ("Root-Key-Sentinel-IS-TA-65535.", (True, 65535)),
        ("root-key-sentinel-is-ta-65536.example.", None),  # not a key tag
        ("root-key-sentinel-is-ta-2032.example.", None),  # four digits
        ("root-key-sentinel-is-ta-203260.example.", None),  # six
        ("root-key-sentinel-is-ta-2032a.example.", None),
        ("root-key-sentinel-is-ta-.example.", None),
        ("www.root-key-sentinel-is-ta-20326.example.", None),  # not the first label
        ("kskroll-sentinel-is-ta-20326.example.", None),  # the draft's old spelling
        (".", None),
    ],
)
def test_labels(qname: str, expected: tuple[bool, int] | None) -> None:
    assert sentinel_label(name(qname)) == expected


def test_only_active_root_anchors_count() -> None:
    revoked_key = SigningKey.generate(".", ksk=True)
    revoked = attrs.evolve(
        revoked_key.record(),
        rdata=attrs.evolve(revoked_key.dnskey, flags=revoked_key.dnskey.flags | REVOKE),
    )
    assert isinstance(revoked.rdata, DNSKEY)
    dnskey = OTHER_KEY.record()
    tags = root_key_tags([*ANCHORS, dnskey, revoked])
    assert revoked.rdata.key_tag() not in (TAG, OTHER)
    assert tags == {TAG, OTHER}  # not example.'s 4759, not the revoked key


def refusal(
    label: str,
    qtype: RRType = RRType.A,
    validation: Validation = Validation.SECURE,
    *,
    has_data: bool = True,
) -> str | None:
    return sentinel_refusal(name(f"{label}.test."), qtype, validation, ANCHORS, has_data=has_data)


def test_the_decision() -> None:
    # Section 3.2: SERVFAIL when the label's claim about this resolver is false.
    assert refusal(f"root-key-sentinel-is-ta-{TAG:05d}") is None
    assert refusal(f"root-key-sentinel-not-ta-{OTHER:05d}") is None
    assert "is not a root trust anchor" in (refusal(f"root-key-sentinel-is-ta-{OTHER:05d}") or "")
    assert "is a root trust anchor" in (refusal(f"root-key-sentinel-not-ta-{TAG:05d}") or "")
    assert refusal(f"root-key-sentinel-not-ta-{TAG:05d}", RRType.AAAA) is not None
    # An anchor of another zone is no root trust anchor.
    assert refusal("root-key-sentinel-is-ta-04759") is not None
    assert refusal("root-key-sentinel-not-ta-04759") is None


@pytest.mark.parametrize(
    "validation", [Validation.INSECURE, Validation.INDETERMINATE, Validation.BOGUS]
)
def test_only_secure_answers_are_judged(validation: Validation) -> None:
    assert refusal(f"root-key-sentinel-not-ta-{TAG:05d}", RRType.A, validation) is None
    assert refusal(f"root-key-sentinel-is-ta-{OTHER:05d}", RRType.A, validation) is None


def test_only_a_and_aaaa_data_are_judged() -> None:
    for qtype in (RRType.TXT, RRType.MX, RRType.ANY):
        assert refusal(f"root-key-sentinel-not-ta-{TAG:05d}", qtype) is None
    assert refusal(f"root-key-sentinel-not-ta-{TAG:05d}", has_data=False) is None

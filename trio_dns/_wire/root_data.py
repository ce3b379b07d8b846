"""The root zone's bootstrap data, shipped inside the package.

Theory of operation: a resolver starts from the root servers' names and addresses
(the "root hints", IANA's named.root) and validates DNSSEC from the root's trust
anchor (IANA's root-anchors, as DS records). Both are public IANA files, copied
from Debian's dns-root-data into `trio_dns/data/` and read here with the zone-file
reader: no network, so a resolver can start anywhere. They change rarely, and a
resolver refreshes the hints from the root itself (RFC 8109 priming).
"""

from __future__ import annotations

import functools
from importlib import resources

from .message import Record
from .name import ROOT
from .zone import read_zone

_ROOT_DNSKEY_TTL = 172800


def root_hints() -> list[Record]:
    """The NS records of the root and the A and AAAA glue of each root server."""
    return list(_root_hints())


def root_trust_anchors() -> list[Record]:
    """The root's DS records: the trust anchors of DNSSEC validation."""
    return list(_root_trust_anchors())


def _read(name: str) -> str:
    return resources.files("trio_dns").joinpath("data").joinpath(name).read_text("ascii")


@functools.cache
def _root_hints() -> tuple[Record, ...]:
    return tuple(read_zone(_read("root.hints"), origin=ROOT, filename="root.hints"))


@functools.cache
def _root_trust_anchors() -> tuple[Record, ...]:
    text = _read("root.ds")
    # The file gives no TTL; a trust anchor does not expire, so use the TTL of the
    # root DNSKEY RRset it vouches for.
    return tuple(read_zone(text, origin=ROOT, filename="root.ds", default_ttl=_ROOT_DNSKEY_TTL))

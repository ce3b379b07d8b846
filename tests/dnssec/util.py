"""Helpers shared by the DNSSEC tests: records from zone-file text."""

from __future__ import annotations

from trio_dns import Name, Record, RRType, read_zone
from trio_dns._wire.rdtypes.rrsig import time_from_text


def records(text: str, origin: str = ".") -> list[Record]:
    """Records from zone-file lines, which may be indented."""
    lines = "\n".join(line.strip() for line in text.splitlines())
    return read_zone(lines, origin=origin, default_ttl=3600)


def of_type(found: list[Record], rtype: RRType) -> list[Record]:
    return [record for record in found if record.rtype == rtype]


def name(text: str) -> Name:
    return Name.from_text(text)


def when(text: str) -> int:
    """Seconds since 1970 from YYYYMMDDHHmmSS."""
    return time_from_text(text)

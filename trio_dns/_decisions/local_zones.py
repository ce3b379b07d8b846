"""The local zones a server answers from: the default ones, zone files, inline data.

Theory of operation: some names must never be asked of the global DNS, and a
resolver answers them itself, as Unbound does by default. `localhost.` and
every name below it is the loopback address (RFC 6761 section 6.3); the
reverse zones of loopback (127.in-addr.arpa., ::1's) hold just its PTR; and the
special-use names (`test.`, `invalid.`, `onion.`, `home.arpa.`: RFC 6761, 7686,
8375) and the reverse zones of private and special address space (RFC 1918,
RFC 6598, RFC 6303's list, link-local, ULA, documentation) are empty zones:
NXDOMAIN with their SOA for every name below their apex. Their SOA and NS are
Unbound's (`localhost. nobody.invalid.`, NS `localhost.`), so an answer looks
the same from either resolver.

Under a root of the operator's own (root hints other than IANA's) only the
loopback zones are defaults: that namespace is theirs, and in a lab or a test
bed `test.` or 10.in-addr.arpa. may well be delegated.

`local_zones` puts together what is served. A default zone gives way to any
source the operator named at or above it: a zone file, a forward zone, a
`local_zone` or a `no_default_zone` entry (a file or forward zone below a default one needs no
such rule: the deepest zone answers, and a forward zone inside a local zone
already speaks for its names). Then each inline `local_data` record (one
zone-file line, like Unbound's local-data) joins the deepest zone that holds
its name; records for names no zone holds make a transparent zone per name
(Unbound's automatic transparent local-zone): that name is answered from them,
NODATA for the types not given, and every other name is resolved as usual.
`local_zone` declares zones without a file, with Unbound's types (`ZONE_TYPES`):
a blocklist is `local_zone = ["tracker.example. static"]`.

`closest_zone` finds the zone for a name through an index of their origins,
so a hundred default zones cost no more than one at each step of a resolution.

Pure: no I/O (the index of the last zone set asked about is the only state).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from .._errors import ZoneFileError
from .._wire.enums import RRType
from .._wire.message import Record
from .._wire.name import ROOT, Name, wire_and_ancestors
from .._wire.zone import read_zone
from .authority import Zone

# Unbound's SOA and NS for the zones it serves by default.
_APEX = (
    "@ 10800 IN SOA localhost. nobody.invalid. 1 3600 1200 604800 10800\n@ 10800 IN NS localhost.\n"
)
_LOCAL_DATA_SOA = "localhost. nobody.invalid. 1 3600 1200 604800 3600"
_IP6_LOOPBACK = "1." + "0." * 31 + "ip6.arpa."
_IP6_UNSPECIFIED = "0." * 32 + "ip6.arpa."

# Zones with data: the loopback name and its reverse.
_WITH_DATA: dict[str, str] = {
    "localhost.": (
        "@ 10800 IN A 127.0.0.1\n@ 10800 IN AAAA ::1\n"
        # RFC 6761 section 6.3: names below localhost. are loopback too.
        "* 10800 IN A 127.0.0.1\n* 10800 IN AAAA ::1\n"
    ),
    "127.in-addr.arpa.": "1.0.0 10800 IN PTR localhost.\n",
    _IP6_LOOPBACK: "@ 10800 IN PTR localhost.\n",
}

# Empty zones: NXDOMAIN below the apex.
_EMPTY: tuple[str, ...] = (
    # Special-use domain names.
    "test.",  # RFC 6761 section 6.2
    "invalid.",  # RFC 6761 section 6.4
    "onion.",  # RFC 7686
    "home.arpa.",  # RFC 8375
    # RFC 1918 private address space.
    "10.in-addr.arpa.",
    *(f"{octet}.172.in-addr.arpa." for octet in range(16, 32)),
    "168.192.in-addr.arpa.",
    # RFC 6598 shared address space (100.64.0.0/10).
    *(f"{octet}.100.in-addr.arpa." for octet in range(64, 128)),
    # RFC 6303 section 4: "this" network, link-local, the documentation ranges, broadcast.
    "0.in-addr.arpa.",
    "254.169.in-addr.arpa.",
    "2.0.192.in-addr.arpa.",
    "100.51.198.in-addr.arpa.",
    "113.0.203.in-addr.arpa.",
    "255.255.255.255.in-addr.arpa.",
    # RFC 6303 section 4: IPv6 unspecified, ULA (fd00::/8), link-local (fe80::/10),
    # documentation (2001:db8::/32).
    _IP6_UNSPECIFIED,
    "d.f.ip6.arpa.",
    "8.e.f.ip6.arpa.",
    "9.e.f.ip6.arpa.",
    "a.e.f.ip6.arpa.",
    "b.e.f.ip6.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",
)


def default_zones(*, public_root: bool = True) -> tuple[Zone, ...]:
    """Every zone served by default, as Unbound serves them; only the loopback
    ones without `public_root`: a root of one's own (a lab, a test bed) is a
    namespace where `test.` or 10.in-addr.arpa. may well be delegated. Built
    once: the same objects each time."""
    return _default_zones(public_root)


@cache
def _default_zones(public_root: bool) -> tuple[Zone, ...]:
    origins = (*_WITH_DATA, *_EMPTY) if public_root else tuple(_WITH_DATA)
    zones = [
        Zone.from_text(_APEX + _WITH_DATA.get(origin, ""), origin, filename="<default zone>")
        for origin in origins
    ]
    return tuple(zones)


# Unbound's local-zone types that mean the same here. static: an empty zone
# (NXDOMAIN below the apex, NODATA at it) but for its local_data; redirect: the
# apex's local_data answers for every name below too; transparent: only names
# given local_data are answered, each from a transparent zone of its own, the
# rest resolved; nodefault: no default zone at or below the name. Each replaces
# the default zones at and below its name.
ZONE_TYPES = ("static", "redirect", "transparent", "nodefault")


def parse_local_zone(text: str) -> tuple[Name, str]:
    """`"tracker.example. static"` (Unbound's local-zone syntax, without quotes);
    ValueError if not."""
    parts = text.split()
    if len(parts) != 2 or parts[1].lower() not in ZONE_TYPES:
        raise ValueError(f"{text!r} is not 'NAME TYPE' ({', '.join(ZONE_TYPES)})")
    return Name.from_text(parts[0]), parts[1].lower()


def local_zones(
    files: Sequence[Zone],
    local_data: Sequence[Record] = (),
    *,
    defaults: bool = True,
    public_root: bool = True,
    no_default: Iterable[Name] = (),
    forward_zones: Iterable[Name] = (),
    declared: Sequence[tuple[Name, str]] = (),
) -> tuple[Zone, ...]:
    """The zones to serve: `files` (the operator's zone files), the `declared`
    ones (`local_zone`), the default zones not overridden (see the module's
    docstring), with `local_data` added. ValueError for a declared zone that a
    zone file serves too, or local_data that makes a zone impossible (a
    second SOA)."""
    overriding = [
        *(zone.origin for zone in files),
        *no_default,
        *forward_zones,
        *(name for name, _ in declared),
    ]
    zones: list[Zone] = list(files)
    redirects: set[Name] = set()
    for name, kind in declared:
        if kind in ("transparent", "nodefault"):
            continue
        if any(zone.origin == name for zone in zones):
            raise ValueError(f"local_zone: {name} is served twice (a zone file, or twice here)")
        zones.append(Zone.from_text(_APEX, name, filename="<local_zone>"))
        if kind == "redirect":
            redirects.add(name)
    if defaults:
        zones += [
            zone
            for zone in default_zones(public_root=public_root)
            if not any(zone.origin.is_subdomain(name) for name in overriding)
        ]
    added: dict[int, list[Record]] = {}
    orphans: dict[Name, list[Record]] = {}
    for record in local_data:
        holders = [i for i, zone in enumerate(zones) if record.name.is_subdomain(zone.origin)]
        if holders:
            deepest = max(holders, key=lambda i: len(zones[i].origin))
            added.setdefault(deepest, []).append(record)
        else:
            orphans.setdefault(record.name, []).append(record)
    for index, records in added.items():
        zone = zones[index]
        if zone.origin in redirects:
            # The apex's data for every name below, as a wildcard gives it.
            wildcard = zone.origin.child(b"*")
            records += [
                Record(wildcard, r.rtype, r.rclass, r.ttl, r.rdata)
                for r in records
                if r.name == zone.origin and r.rtype not in (RRType.SOA, RRType.NS)
            ]
        try:
            zones[index] = Zone.from_records(zone.origin, (*zone.records, *records))
        except ValueError as exc:
            raise ValueError(f"local_data: {exc}") from None
    for name, records in orphans.items():
        try:
            zones.append(_transparent(name, records))
        except ValueError as exc:
            raise ValueError(f"local_data: {exc}") from None
    return tuple(zones)


def closest_zone(zones: Sequence[Zone], qname: Name, qtype: RRType) -> Zone | None:
    """What `choose_zone` picks, among the zones that speak for `qname` (a
    transparent zone only for the names it holds), by walking up from `qname`
    through an index of the origins: the resolver asks at every step of every
    resolution, and a scan of a hundred default zones would cost more than
    the rest of the step. The index is kept for the last `zones` asked about
    (the resolver's, the same object every time until a reload)."""
    index = _index_of(zones)
    fallback: Zone | None = None
    for depth, key in enumerate(wire_and_ancestors(qname.canonical_wire())):
        for zone in index.get(key, ()):
            if zone.transparent and not zone.exists(qname):
                continue
            if qtype == RRType.DS and depth == 0:
                fallback = fallback or zone  # the parent side's, if one is served
                continue
            return zone
    return fallback


_last_index: list[tuple[Sequence[Zone], dict[bytes, list[Zone]]]] = []


def _index_of(zones: Sequence[Zone]) -> dict[bytes, list[Zone]]:
    if _last_index and _last_index[0][0] is zones:
        return _last_index[0][1]
    index: dict[bytes, list[Zone]] = {}
    for zone in zones:
        index.setdefault(zone.origin.canonical_wire(), []).append(zone)
    _last_index[:] = [(zones, index)]
    return index


def _transparent(name: Name, records: list[Record]) -> Zone:
    if not any(record.rtype == RRType.SOA for record in records):
        # A Zone needs an SOA: the one negative answers for the name carry.
        ttl = min(record.ttl for record in records)
        soa = read_zone(f"{name} {ttl} IN SOA {_LOCAL_DATA_SOA}\n", filename="<local_data>")
        records = [*soa, *records]
    return Zone.from_records(name, records, transparent=True)


def read_local_data(entry: str, default_ttl: int = 3600) -> Record:
    """One `local_data` entry: one record in zone-file syntax, its name absolute
    (a trailing dot optional), the TTL 3600 unless given (Unbound's default).
    Raises ValueError, with the reason."""
    try:
        records = read_zone(
            entry + "\n", origin=ROOT, filename="local_data", default_ttl=default_ttl
        )
    except ZoneFileError as exc:
        raise ValueError(" ".join(str(exc).split())) from None
    if len(records) != 1:
        raise ValueError("one record per entry")
    return records[0]

"""The settings of `trio-dns serve`, from a TOML file and the command line.

Theory of operation: one table, `_OPTIONS`, lists every setting once: its key
(the TOML key, and with dashes the command-line option), what kind of value it
takes, its default and its help. `add_arguments` turns the table into argparse
options whose default is None, so that what the user typed can be told from what
they left out; `ServeConfig.load` then starts from the defaults, applies the
`--config` file, applies the options given on the command line (which win), and
checks every value with the same converter whichever source it came from. Any
problem is a `ConfigError` whose message is one line naming the file and key (or
the option) and the bad value, so that a server with a bad configuration does
not start, and the operator sees what to fix. The root hints, trust anchor and local zone
files are read here too, so that a broken one is a configuration error rather
than a failure after start-up; a zone file's error names the file and line.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import tomllib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._address import Address, normalize_address
from ._decisions.authority import Zone
from ._decisions.rebinding import Rebinding, parse_private_addresses
from ._errors import DNSError, InvalidName
from ._network.exchange import ExchangeSettings
from ._network.resolver import ResolverSettings
from ._server.server import DEFAULT_LISTEN, LOOPBACK, Network, ServerSettings
from ._wire.enums import RRType
from ._wire.message import Record
from ._wire.name import ROOT, Name
from ._wire.zone import read_zone_file

_LOG_LEVELS = ("debug", "info", "warning", "error")
_ANCHOR_TTL = 172800  # trust anchor files often give no TTL; they do not expire


class ConfigError(DNSError):
    """A bad setting; the message is one line that names it."""


class DeprecatedKey(UserWarning):
    """A config file key with a newer spelling; the message names the new one."""


class _Bad(Exception):
    """A converter's complaint: what the value must be, and (for one bad item of a
    list) which item it was."""

    def __init__(self, what: str, item: str | None = None) -> None:
        super().__init__(what)
        self.item = item


@attrs.frozen
class ServeConfig:
    """Every setting of `trio-dns serve` (see `_OPTIONS` for their meaning)."""

    listen: tuple[Address, ...] = DEFAULT_LISTEN
    allow: tuple[Network, ...] = LOOPBACK
    root_hints: Path | None = None
    trust_anchor: Path | None = None
    sandbox: bool = False
    ipv4: bool = True
    ipv6: bool = True
    qname_minimisation: bool = True
    upstream_port: int = 53
    cache_size: int = 100_000
    max_ttl: int = 86400
    min_ttl: int = 0
    deadline: float = 10.0
    max_in_flight: int = 1000
    max_tcp_connections: int = 128
    tcp_idle_timeout: float = 10.0
    tcp_send_timeout: float = 5.0
    tcp_lifetime: float = 120.0
    grace_period: float = 5.0
    log_level: str = "warning"
    forward: tuple[Address, ...] = ()
    forward_zone: tuple[tuple[Name, tuple[Address, ...]], ...] = ()
    zone: tuple[Path, ...] = ()
    metrics: Address | None = None
    query_log: bool = False
    dnssec: bool = True
    insecure_domain: tuple[Name, ...] = ()
    max_queries: int = 32
    deny_any: bool = False
    aggressive_nsec: bool = True
    case_randomisation: bool = True
    unwanted_reply_threshold: int = 10_000_000
    private_address: tuple[Network, ...] = ()
    private_domain: tuple[Name, ...] = ()
    # Read from the files named above by `load`.
    hints: tuple[Record, ...] | None = attrs.field(default=None, repr=False)
    anchors: tuple[Record, ...] = attrs.field(default=(), repr=False)
    zones: tuple[Zone, ...] = attrs.field(default=(), repr=False)

    @classmethod
    def load(cls, options: Mapping[str, Any], config_file: Path | None = None) -> ServeConfig:
        """Defaults, then the TOML file, then `options` (argparse's, None where not given)."""
        values: dict[str, Any] = {}
        if config_file is not None:
            values.update(_read_toml(config_file))
        for key in _OPTIONS:
            given = options.get(key)
            if given is not None:
                values[key] = _convert(key, given, f"--{key.replace('_', '-')}", text=True)
        config = cls(**values)
        config._check()
        return attrs.evolve(
            config,
            hints=config._read_hints(),
            anchors=config._read_anchors(),
            zones=config._read_zones(),
        )

    def _check(self) -> None:
        if not self.ipv4 and not self.ipv6:
            raise ConfigError("ipv4 and ipv6 both off leave nothing to query over")
        if self.min_ttl > self.max_ttl:
            raise ConfigError(f"min_ttl {self.min_ttl} is above max_ttl {self.max_ttl}")
        if self.sandbox and self.root_hints is not None:
            raise ConfigError("sandbox brings its own root hints; drop root_hints")
        if self.sandbox and (self.forward or self.forward_zone):
            # The simulated internet has no resolvers to forward to.
            raise ConfigError("sandbox resolves in the simulated internet; drop forward")

    def _read_hints(self) -> tuple[Record, ...] | None:
        if self.root_hints is None:
            return None
        records = _read_zone("root_hints", self.root_hints, None)
        if not any(r.rtype == RRType.NS and r.name == ROOT for r in records):
            raise ConfigError(f"root_hints: {self.root_hints} has no NS records for the root")
        return tuple(records)

    def _read_anchors(self) -> tuple[Record, ...]:
        if self.trust_anchor is None:
            return ()
        records = _read_zone("trust_anchor", self.trust_anchor, _ANCHOR_TTL)
        if not records:
            raise ConfigError(f"trust_anchor: {self.trust_anchor} holds no DS or DNSKEY records")
        for record in records:
            if record.rtype not in (RRType.DS, RRType.DNSKEY):
                raise ConfigError(
                    f"trust_anchor: {self.trust_anchor} holds {record.name} "
                    f"{record.rtype.name}; only DS and DNSKEY records are trust anchors"
                )
        return tuple(records)

    def _read_zones(self) -> tuple[Zone, ...]:
        zones: dict[Name, tuple[Path, Zone]] = {}
        for path in self.zone:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise ConfigError(f"{path}: not UTF-8 text") from None
            try:
                zone = Zone.from_text(text, filename=str(path))
            except DNSError as exc:  # ZoneFileError: "file:line: problem"
                raise ConfigError(_one_line(str(exc))) from None
            if zone.origin in zones:
                raise ConfigError(
                    f"{path}: zone {zone.origin} is already served from {zones[zone.origin][0]}"
                )
            zones[zone.origin] = (path, zone)
        return tuple(zone for _, zone in zones.values())

    def resolver_settings(self) -> ResolverSettings:
        return ResolverSettings(
            qname_minimisation=self.qname_minimisation,
            use_ipv4=self.ipv4,
            use_ipv6=self.ipv6,
            deadline=self.deadline,
            port=self.upstream_port,
            forwarders=self.forward,
            forward_zones=self.forward_zone,
            dnssec=self.dnssec,
            trust_anchors=self.anchors or None,
            insecure_domains=self.insecure_domain,
            max_queries=self.max_queries,
            deny_any=self.deny_any,
            aggressive_nsec=self.aggressive_nsec,
            exchange=self.exchange_settings(),
        )

    def exchange_settings(self) -> ExchangeSettings:
        rebinding = None
        if self.private_address:
            # Names the operator sends somewhere of its own choosing (forward
            # zones, local zones and what they delegate) may hold private addresses.
            domains = (
                *self.private_domain,
                *(zone for zone, _ in self.forward_zone),
                *(zone.origin for zone in self.zones),
            )
            rebinding = Rebinding(self.private_address, domains)
        return ExchangeSettings(
            case_randomisation=self.case_randomisation,
            unwanted_reply_threshold=self.unwanted_reply_threshold,
            rebinding=rebinding,
        )

    def server_settings(self) -> ServerSettings:
        return ServerSettings(
            listen=self.listen,
            allow=self.allow,
            max_in_flight=self.max_in_flight,
            max_tcp_connections=self.max_tcp_connections,
            tcp_idle_timeout=self.tcp_idle_timeout,
            tcp_send_timeout=self.tcp_send_timeout,
            tcp_lifetime=self.tcp_lifetime,
            grace_period=self.grace_period,
            query_log=self.query_log,
        )

    @property
    def logging_level(self) -> int:
        level: int = getattr(logging, self.log_level.upper())
        return level


def _read_zone(key: str, path: Path, default_ttl: int | None) -> list[Record]:
    try:
        return read_zone_file(path, origin=ROOT, default_ttl=default_ttl)
    except DNSError as exc:
        raise ConfigError(f"{key}: {_one_line(str(exc))}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {_one_line(str(exc))}") from None
    values = {}
    for key, value in data.items():
        if key in _RENAMED:
            key, value = _renamed(path, key, value, data)
        if key not in _OPTIONS:
            raise ConfigError(f"{path}: unknown key {key!r}")
        if key in _FILE_KEYS:
            value = _relative_to(path.parent, value)
        values[key] = _convert(key, value, f"{path}: {key!r}", text=False)
    return values


# The negative spellings of booleans before 0.2, still read from files (Deckard's
# templates and older configs write them), each as its positive key's opposite.
_RENAMED = {
    "no_ipv4": "ipv4",
    "no_ipv6": "ipv6",
    "no_qname_minimisation": "qname_minimisation",
    "no_dnssec": "dnssec",
    "no_aggressive_nsec": "aggressive_nsec",
    "no_case_randomisation": "case_randomisation",
}


def _renamed(path: Path, old: str, value: object, data: Mapping[str, object]) -> tuple[str, bool]:
    new = _RENAMED[old]
    if new in data:
        raise ConfigError(f"{path}: {old!r} and {new!r} together; keep {new!r}")
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {old!r} must be true or false, not {value!r}")
    warnings.warn(
        f"{path}: {old!r} is deprecated; write {new} = {str(not value).lower()}",
        DeprecatedKey,
        stacklevel=1,
    )
    return new, not value


def _relative_to(directory: Path, value: object) -> object:
    """File names in a config file are relative to its directory."""
    if isinstance(value, str) and value:
        return str(directory / value)
    if isinstance(value, list):
        return [_relative_to(directory, item) for item in value]
    return value


def _convert(key: str, value: object, where: str, *, text: bool) -> object:
    option = _OPTIONS[key]
    try:
        return option.convert(value, text)
    except _Bad as exc:
        if exc.item is not None:
            raise ConfigError(f"{where} must be {exc}, and {exc.item!r} is not one") from None
        shown = value if isinstance(value, str | int | float | bool) else _one_line(repr(value))
        raise ConfigError(f"{where} must be {exc}, not {shown!r}") from None


# -- converters: (value, from command-line text?) -> setting; raise _Bad ----------------


def _integer(value: object, text: bool, minimum: int, maximum: int, what: str) -> int:
    if text and isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise _Bad(what) from None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise _Bad(what)
    return value


def _positive_int(value: object, text: bool) -> int:
    return _integer(value, text, 1, 2**31 - 1, "a positive integer")


def _ttl(value: object, text: bool) -> int:
    return _integer(value, text, 0, 2**31 - 1, "a TTL in seconds (0 or more)")


def _port(value: object, text: bool) -> int:
    return _integer(value, text, 1, 65535, "a port number (1 to 65535)")


def _seconds(value: object, text: bool, zero: bool = False) -> float:
    what = "a number of seconds" + (" (0 or more)" if zero else " above 0")
    if text and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _Bad(what) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(what)
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise _Bad(what)
    return float(value)


def _boolean(value: object, text: bool) -> bool:
    if not isinstance(value, bool):
        raise _Bad("true or false")
    return value


def _path(value: object, text: bool) -> Path:
    if not isinstance(value, str) or not value:
        raise _Bad("a file name")
    path = Path(value)
    if not path.is_file():
        raise _Bad("an existing file")
    return path


def _log_level(value: object, text: bool) -> str:
    if not isinstance(value, str) or value.lower() not in _LOG_LEVELS:
        raise _Bad("one of " + ", ".join(_LOG_LEVELS))
    return value.lower()


def _list_of(item: Callable[[str], Any], what: str) -> Callable[[object, bool], tuple[Any, ...]]:
    def convert(value: object, text: bool) -> tuple[Any, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise _Bad(f"a list of {what}")
        out = []
        for entry in items:
            if not isinstance(entry, str):
                raise _Bad(f"a list of {what}")
            try:
                out.append(item(entry))
            except ValueError:
                raise _Bad(f"a list of {what}", entry) from None
        return tuple(out)

    return convert


def parse_listen_address(text: str) -> Address:
    """`127.0.0.1:53`, `[::1]:5353`, or an address alone (port 53). Port 0 is allowed."""
    text = text.strip()
    port = "53"
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(text)
        port = rest[1:] if rest else port
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host = text
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(text)
    return normalize_address(host, int(port))


def parse_upstream_address(text: str) -> Address:
    """Like `parse_listen_address`, but port 0 is not somewhere to send queries."""
    address = parse_listen_address(text)
    if address[1] == 0:
        raise ValueError(text)
    return address


def _metrics_address(value: object, text: bool) -> Address:
    what = "an ADDR:PORT address (the port too)"
    if not isinstance(value, str):
        raise _Bad(what)
    spelled = value.strip()
    has_port = "]:" in spelled if spelled.startswith("[") else spelled.count(":") == 1
    try:
        address = parse_listen_address(spelled)
    except ValueError:
        raise _Bad(what) from None
    if not has_port:
        raise _Bad(what)
    return address


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not text or not path.is_file():
        raise ValueError(text)
    return path


def _domain_name(text: str) -> Name:
    try:
        return Name.from_text(text)
    except InvalidName as exc:
        raise ValueError(str(exc)) from None


def _forward_zones(value: object, text: bool) -> tuple[tuple[Name, tuple[Address, ...]], ...]:
    """`["corp.example=10.0.0.53,10.0.0.54:5353"]`, or a TOML table
    `{"corp.example" = ["10.0.0.53"]}`; each zone at most once."""
    what = "a list of NAME=ADDR[:PORT][,ADDR[:PORT]...]"
    pairs: list[tuple[object, object]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and value:
        for entry in value:
            if not isinstance(entry, str) or "=" not in entry:
                raise _Bad(what)
            zone, _, addresses_text = entry.partition("=")
            pairs.append((zone, addresses_text.split(",")))
    else:
        raise _Bad(what)
    out: dict[Name, tuple[Address, ...]] = {}
    for key, addresses in pairs:
        items = [addresses] if isinstance(addresses, str) else addresses
        if not isinstance(key, str) or not key.strip() or not isinstance(items, list) or not items:
            raise _Bad(what)
        try:
            name = Name.from_text(key.strip())
            upstreams = tuple(parse_upstream_address(item) for item in items)
        except (InvalidName, ValueError, TypeError, AttributeError):
            raise _Bad(what) from None
        if name in out:
            raise _Bad(f"{what}, each zone once ({name} is there twice)")
        out[name] = upstreams
    return tuple(out.items())


def _network(text: str) -> Network:
    return ipaddress.ip_network(text.strip(), strict=False)


def _private_addresses(value: object, text: bool) -> tuple[Network, ...]:
    what = "a list of CIDR networks, or default"
    try:
        return parse_private_addresses(_list_of(str, what)(value, text))
    except ValueError as exc:
        raise _Bad(what, str(exc)) from None


@attrs.frozen
class _Option:
    convert: Callable[[object, bool], Any]
    help: str
    metavar: str | None = None  # None: a flag
    repeat: bool = False


_OPTIONS: dict[str, _Option] = {
    "listen": _Option(
        _list_of(parse_listen_address, "ADDR:PORT addresses"),
        "address and port to serve on, UDP and TCP; repeatable (default 127.0.0.1:53 and [::1]:53)",
        "ADDR:PORT",
        repeat=True,
    ),
    "allow": _Option(
        _list_of(_network, "CIDR networks"),
        "clients allowed to query, as a network; repeatable (default: loopback only); "
        "others get REFUSED",
        "CIDR",
        repeat=True,
    ),
    "root_hints": _Option(_path, "zone file of the root NS records and addresses", "FILE"),
    "trust_anchor": _Option(_path, "zone file of the root's DS or DNSKEY records", "FILE"),
    "sandbox": _Option(_boolean, "resolve in the built-in simulated internet"),
    "ipv4": _Option(_boolean, "query nameservers over IPv4 (default: on)"),
    "ipv6": _Option(_boolean, "query nameservers over IPv6 (default: on)"),
    "qname_minimisation": _Option(
        _boolean,
        "send each server only the labels it needs to see (RFC 9156; default: on; "
        "off sends the full name to every server)",
    ),
    "upstream_port": _Option(_port, "port the nameservers listen on (default 53)", "PORT"),
    "cache_size": _Option(_positive_int, "most entries in the cache (default 100000)", "N"),
    "max_ttl": _Option(_ttl, "cap on cached TTLs, seconds (default 86400)", "S"),
    "min_ttl": _Option(_ttl, "floor on cached TTLs, seconds (default 0)", "S"),
    "deadline": _Option(_seconds, "seconds to answer one question (default 10)", "S"),
    "max_in_flight": _Option(
        _positive_int, "resolutions at once; more are dropped (default 1000)", "N"
    ),
    "max_tcp_connections": _Option(_positive_int, "open TCP connections (default 128)", "N"),
    "tcp_idle_timeout": _Option(
        _seconds, "seconds before an idle TCP connection is closed (default 10)", "S"
    ),
    "tcp_send_timeout": _Option(
        _seconds,
        "seconds to write one reply; a TCP client that does not read is closed (default 5)",
        "S",
    ),
    "tcp_lifetime": _Option(
        _seconds, "seconds a TCP connection is read at most, however busy (default 120)", "S"
    ),
    "grace_period": _Option(
        lambda value, text: _seconds(value, text, zero=True),
        "seconds given to queries in flight at shutdown (default 5)",
        "S",
    ),
    "log_level": _Option(_log_level, "debug, info, warning or error (default warning)", "LEVEL"),
    "forward": _Option(
        _list_of(parse_upstream_address, "ADDR[:PORT] addresses"),
        "send every question to this upstream resolver instead of iterating from the root; "
        "repeatable (they are raced)",
        "ADDR[:PORT]",
        repeat=True,
    ),
    "forward_zone": _Option(
        _forward_zones,
        "send questions at or below NAME to these upstream resolvers (comma-separated); "
        "repeatable; the deepest zone wins",
        "NAME=ADDR[:PORT]",
        repeat=True,
    ),
    "zone": _Option(
        _list_of(_existing_file, "existing zone files"),
        "answer with authority from this zone file, ahead of the cache and recursion "
        "(local names, blocklists); repeatable",
        "FILE",
        repeat=True,
    ),
    "metrics": _Option(
        _metrics_address, "serve Prometheus metrics at http://ADDR:PORT/metrics", "ADDR:PORT"
    ),
    "query_log": _Option(
        _boolean, "log one line per answered query (logger trio_dns.query, level INFO)"
    ),
    "dnssec": _Option(_boolean, "validate DNSSEC (default: on)"),
    "insecure_domain": _Option(
        _list_of(_domain_name, "domain names"),
        "treat this domain and everything below it as unsigned (a negative trust anchor, "
        "RFC 7646); repeatable",
        "NAME",
        repeat=True,
    ),
    "max_queries": _Option(
        _positive_int,
        "upstream queries one question may cost, its sub-lookups included (default 32)",
        "N",
    ),
    "deny_any": _Option(
        _boolean, "answer ANY questions NOTIMP (default: what the cache has, else ask upstream)"
    ),
    "aggressive_nsec": _Option(
        _boolean,
        "answer from validated NSEC/NSEC3 records held when they prove the answer "
        "(RFC 8198; default: on; off asks upstream)",
    ),
    "case_randomisation": _Option(
        _boolean,
        "send upstream questions in 0x20's random case (default: on; off sends them "
        "in their own case)",
    ),
    "unwanted_reply_threshold": _Option(
        lambda value, text: _integer(value, text, 0, 2**31 - 1, "a number of replies (0: off)"),
        "flush the cache after this many unwanted upstream replies (default 10000000; 0: never)",
        "N",
    ),
    "private_address": _Option(
        _private_addresses,
        "drop this network's addresses from upstream answers (rebinding protection); "
        "'default' for RFC 1918, loopback, link-local, ULA, 0.0.0.0/8; repeatable",
        "CIDR",
        repeat=True,
    ),
    "private_domain": _Option(
        _list_of(_domain_name, "domain names"),
        "this domain and everything below it may have private addresses; repeatable",
        "NAME",
        repeat=True,
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per setting, plus --config; every default is None (not given)."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file of settings (keys as the options, with underscores); "
        "options given here override it",
    )
    for key, option in _OPTIONS.items():
        flag = "--" + key.replace("_", "-")
        if option.metavar is None:
            # --x and --no-x, so the command line can undo what the file says.
            parser.add_argument(
                flag,
                dest=key,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=option.help,
            )
        elif option.repeat:
            parser.add_argument(
                flag, dest=key, action="append", metavar=option.metavar, help=option.help
            )
        else:
            parser.add_argument(flag, dest=key, metavar=option.metavar, help=option.help)


KEYS: tuple[str, ...] = tuple(_OPTIONS)
_FILE_KEYS = frozenset({"root_hints", "trust_anchor", "zone"})

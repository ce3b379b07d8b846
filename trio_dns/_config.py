"""The settings of `trio-dns serve`, from a TOML file and the command line.

Theory of operation: one table, `_OPTIONS`, lists every setting once: its key
(the TOML key, and with dashes the command-line option), what kind of value it
takes, its help, and which library setting it is (`of=(class, attribute)`). A
library setting's default is written once, in its settings class
(ResolverSettings, ExchangeSettings, ServerSettings, Cache); `ServeConfig`'s
fields take it from there, the help shows it from there, and `ServeConfig`
passes each such key on to its class as it is. Switches read positively
(`dnssec = true`) and have both forms on the command line (`--dnssec`,
`--no-dnssec`); the negative keys of old files are read with a `DeprecatedKey`
warning. `add_arguments` turns the table into argparse
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
import pwd
import sys
import tomllib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._address import Address, format_address, normalize_address
from ._decisions.access import Action, parse_rule
from ._decisions.authority import Zone
from ._decisions.cache import Cache
from ._decisions.local_zones import (
    default_zones,
    local_zones,
    parse_local_zone,
    read_local_data,
)
from ._decisions.rebinding import Rebinding, parse_private_addresses
from ._errors import DNSError, InvalidName
from ._network.exchange import ExchangeSettings
from ._network.redis_cache import BadBackend, RedisAddress
from ._network.resolver import ResolverSettings
from ._server.server import Network, ServerSettings
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


def _default(cls: type, name: str) -> Any:
    """The default of a library setting, so that it is written down once, there."""
    return attrs.fields_dict(cls)[name].default


_R, _X, _S = ResolverSettings, ExchangeSettings, ServerSettings


@attrs.frozen
class ServeConfig:
    """Every setting of `trio-dns serve` (see `_OPTIONS` for their meaning).

    Where a setting is the library's, its default is the library's: the settings
    class (ResolverSettings, ExchangeSettings, ServerSettings, Cache) states it."""

    listen: tuple[Address, ...] = _default(_S, "listen")
    allow: tuple[Network, ...] = _default(_S, "allow")
    root_hints: Path | None = None
    trust_anchor: Path | None = None
    sandbox: bool = False
    workers: int = 1
    user: str | None = None
    ipv4: bool = _default(_R, "use_ipv4")
    ipv6: bool = _default(_R, "use_ipv6")
    qname_minimisation: bool = _default(_R, "qname_minimisation")
    upstream_port: int = _default(_R, "port")
    query_loopback: bool | None = _default(_R, "query_loopback")
    cache_size: int = _default(Cache, "max_entries")
    cache_bytes: int = _default(Cache, "max_bytes")
    max_ttl: int = _default(Cache, "max_ttl")
    min_ttl: int = _default(Cache, "min_ttl")
    max_negative_ttl: int = _default(Cache, "max_negative_ttl")
    negative_ttl_without_soa: int = _default(Cache, "no_soa_negative_ttl")
    deadline: float = _default(_R, "deadline")
    max_in_flight: int = _default(_S, "max_in_flight")
    max_tcp_connections: int = _default(_S, "max_tcp_connections")
    max_tcp_queries: int = _default(_S, "max_tcp_queries")
    tcp_idle_timeout: float = _default(_S, "tcp_idle_timeout")
    tcp_send_timeout: float = _default(_S, "tcp_send_timeout")
    tcp_lifetime: float = _default(_S, "tcp_lifetime")
    grace_period: float = _default(_S, "grace_period")
    max_udp_payload: int = _default(_S, "max_udp_payload")
    answer_cache_entries: int = _default(_S, "answer_cache_entries")
    udp_batch: int = _default(_S, "batch")
    log_level: str = "warning"
    forward: tuple[Address, ...] = _default(_R, "forwarders")
    forward_zone: tuple[tuple[Name, tuple[Address, ...]], ...] = _default(_R, "forward_zones")
    zone: tuple[Path, ...] = ()
    metrics: Address | None = None
    cache_backend: str | None = None
    query_log: bool = _default(_S, "query_log")
    dnssec: bool = _default(_R, "dnssec")
    insecure_domain: tuple[Name, ...] = _default(_R, "insecure_domains")
    nsec3_max_iterations: int = _default(_R, "nsec3_max_iterations")
    edns_payload: int = _default(_R, "edns_payload")
    max_queries: int = _default(_R, "max_queries")
    max_referrals: int = _default(_R, "max_referrals")
    max_chain: int = _default(_R, "max_chain")
    max_glueless_per_delegation: int = _default(_R, "max_glueless_per_delegation")
    max_glueless_depth: int = _default(_R, "max_glueless_depth")
    server_rounds: int = _default(_R, "rounds")
    deny_any: bool = _default(_R, "deny_any")
    aggressive_nsec: bool = _default(_R, "aggressive_nsec")
    # Serve-stale and prefetch (docs/07-operating.md, "When upstreams fail").
    serve_stale: bool = _default(_R, "serve_stale")
    stale_max_age: int = _default(_R, "stale_max_age")
    stale_answer_ttl: int = _default(_R, "stale_answer_ttl")
    stale_answer_client_timeout: float = _default(_R, "stale_answer_client_timeout")
    prefetch: bool = _default(_R, "prefetch")
    max_prefetches: int = _default(_R, "max_prefetches")
    case_randomisation: bool = _default(_X, "case_randomisation")
    unwanted_reply_threshold: int = _default(_X, "unwanted_reply_threshold")
    max_remembered_servers: int = _default(_X, "max_servers")
    private_address: tuple[Network, ...] = ()
    private_domain: tuple[Name, ...] = ()
    # Policy (docs/07-operating.md, "Policy").
    local_zone_defaults: bool = True
    no_default_zone: tuple[Name, ...] = ()
    local_data: tuple[Record, ...] = ()
    local_zone: tuple[tuple[Name, str], ...] = ()
    access_control: tuple[tuple[Network, Action], ...] = _default(_S, "access_control")
    ip_ratelimit: int = _default(_S, "ip_ratelimit")
    ip_ratelimit_slip: int = _default(_S, "ip_ratelimit_slip")
    ratelimit: int = _default(_R, "ratelimit")
    control: bool = True
    control_socket: Path | None = None
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
        for old in _RENAMED.keys() & options.keys():
            # A program's own options mapping in the old spelling: not silently dropped.
            if options[old] is not None:
                new, value = _renamed(Path("options"), old, options[old], options)
                values[new] = value
        config = cls(**values)
        config._check()
        try:
            # The library's own checks too, before anything starts.
            config.cache()
            config.server_settings()
        except ValueError as exc:
            raise ConfigError(_one_line(str(exc))) from None
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
        try:
            return local_zones(
                tuple(zone for _, zone in zones.values()),
                self.local_data,
                defaults=self.local_zone_defaults,
                # A root of the operator's own: its namespace is theirs.
                public_root=self.root_hints is None,
                no_default=self.no_default_zone,
                forward_zones=[zone for zone, _ in self.forward_zone],
                declared=self.local_zone,
            )
        except ValueError as exc:  # "local_data: ..." or "local_zone: ..."
            raise ConfigError(_one_line(str(exc))) from None

    def _library(self, cls: type) -> dict[str, Any]:
        """The settings of `cls` given by keys as they are, by attribute name."""
        return {
            option.of[1]: getattr(self, key)
            for key, option in _OPTIONS.items()
            if option.of is not None and option.of[0] is cls
        }

    def resolver_settings(self) -> ResolverSettings:
        return ResolverSettings(
            **self._library(ResolverSettings),
            trust_anchors=self.anchors or None,
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
                # (The default zones delegate nothing: a hundred names less to check.)
                *(zone.origin for zone in self.zones if zone not in default_zones()),
            )
            rebinding = Rebinding(self.private_address, domains)
        return ExchangeSettings(**self._library(ExchangeSettings), rebinding=rebinding)

    def server_settings(self) -> ServerSettings:
        return ServerSettings(**self._library(ServerSettings), reuse_port=self.workers > 1)

    def cache(self) -> Cache:
        return Cache(**self._library(Cache))

    @property
    def logging_level(self) -> int:
        level: int = getattr(logging, self.log_level.upper())
        return level


def load_or_exit(
    options: Mapping[str, Any], config_file: Path | None, prog: str, *, status: int
) -> ServeConfig:
    """`ServeConfig.load` for the command line: a bad setting is one line on stderr
    and exit `status`; a deprecated key is one warning line either way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecatedKey)
        try:
            config = ServeConfig.load(options, config_file)
        except ConfigError as exc:
            error: ConfigError | None = exc
        else:
            error = None
    for warning in caught:
        print(f"{prog}: warning: {warning.message}", file=sys.stderr)
    if error is not None:
        print(f"{prog}: {error}", file=sys.stderr)
        raise SystemExit(status)
    return config


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


def _user(value: object, text: bool) -> str:
    if not isinstance(value, str) or not value:
        raise _Bad("a user name")
    try:
        pwd.getpwnam(value)
    except KeyError:
        raise _Bad("an existing user") from None
    return value


def _workers(value: object, text: bool) -> int:
    if value == "auto":
        from ._server.workers import cpu_count

        return cpu_count()
    return _integer(value, text, 1, 1024, "a number of processes (1 to 1024), or auto")


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


def _cache_backend(value: object, text: bool) -> str:
    what = "a redis://HOST[:PORT][/DB] URL"
    if not isinstance(value, str):
        raise _Bad(what)
    try:
        RedisAddress.from_url(value.strip())
    except BadBackend:
        raise _Bad(what) from None
    return value.strip()


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


def _count(value: object, text: bool) -> int:
    return _integer(value, text, 0, 2**31 - 1, "an integer (0 or more)")


def _positive_ttl(value: object, text: bool) -> int:
    return _integer(value, text, 1, 2**31 - 1, "a TTL in seconds (1 or more)")


def _payload(value: object, text: bool) -> int:
    return _integer(value, text, 512, 65535, "a payload size in bytes (512 to 65535)")


def _socket_path(value: object, text: bool) -> Path:
    what = "a file name for a Unix socket (under 100 octets)"
    if not isinstance(value, str) or not value or len(value.encode()) >= 100:
        raise _Bad(what)
    return Path(value)


@attrs.frozen
class _Option:
    convert: Callable[[object, bool], Any]
    help: str
    metavar: str | None = None  # None: a switch, --x and --no-x
    repeat: bool = False
    # What the default means, where its value (None, nothing) does not say.
    unset: str | None = None
    # The library setting it is: (settings class, attribute). Its default is the
    # class's, and `ServeConfig` passes it on as it is.
    of: tuple[type, str] | None = None


_OPTIONS: dict[str, _Option] = {
    "listen": _Option(
        _list_of(parse_listen_address, "ADDR:PORT addresses"),
        "address and port to serve on, UDP and TCP; repeatable",
        "ADDR:PORT",
        repeat=True,
        of=(_S, "listen"),
    ),
    "allow": _Option(
        _list_of(_network, "CIDR networks"),
        "clients allowed to query, as a network; repeatable; others get REFUSED",
        "CIDR",
        repeat=True,
        of=(_S, "allow"),
    ),
    "root_hints": _Option(
        _path, "zone file of the root NS records and addresses", "FILE", unset="IANA's"
    ),
    "trust_anchor": _Option(
        _path,
        "zone file of the root's DS or DNSKEY records",
        "FILE",
        unset="IANA's root anchor with IANA's root hints, else none",
    ),
    "sandbox": _Option(_boolean, "resolve in the built-in simulated internet"),
    "workers": _Option(
        _workers,
        "processes serving at once, each with its own cache, sharing the ports "
        "(SO_REUSEPORT); 'auto' for one per CPU",
        "N",
    ),
    "user": _Option(
        _user,
        "once the sockets are bound, become this user (and its group) for good; "
        "start as root to bind port 53",
        "NAME",
        unset="none: stay who started it",
    ),
    "ipv4": _Option(_boolean, "query nameservers over IPv4", of=(_R, "use_ipv4")),
    "ipv6": _Option(_boolean, "query nameservers over IPv6", of=(_R, "use_ipv6")),
    "qname_minimisation": _Option(
        _boolean,
        "send each server only the labels it needs to see (RFC 9156); "
        "off sends the full name to every server",
        of=(_R, "qname_minimisation"),
    ),
    "upstream_port": _Option(_port, "port the nameservers listen on", "PORT", of=(_R, "port")),
    "query_loopback": _Option(
        _boolean,
        "ask nameservers at loopback addresses (127.0.0.0/8, ::1) that referrals and "
        "answers name; root hints and forwarders are always asked",
        unset="only when a root hint or forwarder is on loopback",
        of=(_R, "query_loopback"),
    ),
    "cache_size": _Option(
        _positive_int, "most entries in the cache", "N", of=(Cache, "max_entries")
    ),
    "cache_bytes": _Option(
        lambda value, text: _integer(value, text, 0, 2**62, "a number of bytes (0 or more)"),
        "most bytes in the cache, counted as the records' wire size plus a fixed "
        "overhead per entry and per record",
        "BYTES",
        of=(Cache, "max_bytes"),
    ),
    "max_ttl": _Option(_positive_ttl, "cap on cached TTLs, seconds", "S", of=(Cache, "max_ttl")),
    "min_ttl": _Option(_ttl, "floor on cached TTLs, seconds", "S", of=(Cache, "min_ttl")),
    "max_negative_ttl": _Option(
        _ttl,
        "cap on how long NXDOMAIN and NODATA answers are cached, seconds",
        "S",
        of=(Cache, "max_negative_ttl"),
    ),
    "negative_ttl_without_soa": _Option(
        _ttl,
        "seconds a negative answer that carries no SOA is cached (0: not cached)",
        "S",
        of=(Cache, "no_soa_negative_ttl"),
    ),
    "deadline": _Option(_seconds, "seconds to answer one question", "S", of=(_R, "deadline")),
    "max_in_flight": _Option(
        _positive_int, "resolutions at once; more are dropped", "N", of=(_S, "max_in_flight")
    ),
    "max_tcp_connections": _Option(
        _positive_int, "open TCP connections", "N", of=(_S, "max_tcp_connections")
    ),
    "max_tcp_queries": _Option(
        _positive_int,
        "unanswered queries one TCP connection may have before it is no longer read",
        "N",
        of=(_S, "max_tcp_queries"),
    ),
    "tcp_idle_timeout": _Option(
        _seconds,
        "seconds before an idle TCP connection is closed",
        "S",
        of=(_S, "tcp_idle_timeout"),
    ),
    "tcp_send_timeout": _Option(
        _seconds,
        "seconds to write one reply; a TCP client that does not read is closed",
        "S",
        of=(_S, "tcp_send_timeout"),
    ),
    "tcp_lifetime": _Option(
        _seconds,
        "seconds a TCP connection is read at most, however busy",
        "S",
        of=(_S, "tcp_lifetime"),
    ),
    "grace_period": _Option(
        lambda value, text: _seconds(value, text, zero=True),
        "seconds given to queries in flight at shutdown",
        "S",
        of=(_S, "grace_period"),
    ),
    "max_udp_payload": _Option(
        _payload,
        "largest UDP reply sent, whatever the client's EDNS offers; larger ones are truncated (TC)",
        "BYTES",
        of=(_S, "max_udp_payload"),
    ),
    "answer_cache_entries": _Option(
        _count,
        "encoded replies the server keeps to answer repeated questions (0: none)",
        "N",
        of=(_S, "answer_cache_entries"),
    ),
    "udp_batch": _Option(
        _positive_int, "datagrams handled per wakeup of a UDP loop", "N", of=(_S, "batch")
    ),
    "log_level": _Option(_log_level, "debug, info, warning or error", "LEVEL"),
    "forward": _Option(
        _list_of(parse_upstream_address, "ADDR[:PORT] addresses"),
        "send every question to this upstream resolver instead of iterating from the root; "
        "repeatable (they are raced)",
        "ADDR[:PORT]",
        repeat=True,
        unset="none: iterate from the root",
        of=(_R, "forwarders"),
    ),
    "forward_zone": _Option(
        _forward_zones,
        "send questions at or below NAME to these upstream resolvers (comma-separated); "
        "repeatable; the deepest zone wins",
        "NAME=ADDR[:PORT]",
        repeat=True,
        of=(_R, "forward_zones"),
    ),
    "zone": _Option(
        _list_of(_existing_file, "existing zone files"),
        "answer with authority from this zone file, ahead of the cache and recursion "
        "(local names, blocklists); repeatable",
        "FILE",
        repeat=True,
    ),
    "metrics": _Option(
        _metrics_address,
        "serve Prometheus metrics at http://ADDR:PORT/metrics",
        "ADDR:PORT",
        unset="off",
    ),
    "cache_backend": _Option(
        _cache_backend,
        "share the cache with other resolvers through Redis at redis://HOST[:PORT][/DB]",
        "URL",
        unset="this process's own cache only",
    ),
    "query_log": _Option(
        _boolean,
        "log one line per answered query (logger trio_dns.query, level INFO)",
        of=(_S, "query_log"),
    ),
    "dnssec": _Option(_boolean, "validate DNSSEC", of=(_R, "dnssec")),
    "insecure_domain": _Option(
        _list_of(_domain_name, "domain names"),
        "treat this domain and everything below it as unsigned (a negative trust anchor, "
        "RFC 7646); repeatable",
        "NAME",
        repeat=True,
        of=(_R, "insecure_domains"),
    ),
    "nsec3_max_iterations": _Option(
        lambda value, text: _integer(value, text, 0, 65535, "an iteration count (0 to 65535)"),
        "NSEC3 proofs with more iterations than this are treated as insecure (RFC 9276)",
        "N",
        of=(_R, "nsec3_max_iterations"),
    ),
    "edns_payload": _Option(
        _payload,
        "UDP payload size offered to nameservers in EDNS",
        "BYTES",
        of=(_R, "edns_payload"),
    ),
    "max_queries": _Option(
        _positive_int,
        "upstream queries one question may cost, its sub-lookups included",
        "N",
        of=(_R, "max_queries"),
    ),
    "max_referrals": _Option(
        _positive_int, "referrals followed for one question", "N", of=(_R, "max_referrals")
    ),
    "max_chain": _Option(
        _positive_int, "CNAME and DNAME links followed for one question", "N", of=(_R, "max_chain")
    ),
    "max_glueless_per_delegation": _Option(
        _count,
        "nameserver names without glue looked up for one zone cut",
        "N",
        of=(_R, "max_glueless_per_delegation"),
    ),
    "max_glueless_depth": _Option(
        _count, "nameserver lookups nested inside each other", "N", of=(_R, "max_glueless_depth")
    ),
    "server_rounds": _Option(
        _positive_int,
        "times a zone's server list is gone through before giving up",
        "N",
        of=(_R, "rounds"),
    ),
    "deny_any": _Option(
        _boolean,
        "answer ANY questions NOTIMP (off: what the cache has, else ask upstream)",
        of=(_R, "deny_any"),
    ),
    "aggressive_nsec": _Option(
        _boolean,
        "answer from validated NSEC/NSEC3 records held when they prove the answer "
        "(RFC 8198); off asks upstream",
        of=(_R, "aggressive_nsec"),
    ),
    "serve_stale": _Option(
        _boolean,
        "when no authority answers, answer from expired data (RFC 8767; Unbound's "
        "serve-expired), TTL stale_answer_ttl, EDE 3",
        of=(_R, "serve_stale"),
    ),
    "stale_max_age": _Option(
        _positive_ttl,
        "seconds past expiry that data may still be served stale (Unbound's serve-expired-ttl)",
        "S",
        of=(_R, "stale_max_age"),
    ),
    "stale_answer_ttl": _Option(
        _positive_ttl,
        "TTL of stale answers, seconds (Unbound's serve-expired-reply-ttl)",
        "S",
        of=(_R, "stale_answer_ttl"),
    ),
    "stale_answer_client_timeout": _Option(
        lambda value, text: _seconds(value, text, zero=True),
        "seconds a client waits for fresh data before a stale answer, while resolution "
        "goes on (Unbound's serve-expired-client-timeout, in ms there); 0: wait until it ends",
        "S",
        of=(_R, "stale_answer_client_timeout"),
    ),
    "prefetch": _Option(
        _boolean,
        "refresh in the background a cached RRset asked for in the last tenth of its TTL "
        "(Unbound's prefetch)",
        of=(_R, "prefetch"),
    ),
    "max_prefetches": _Option(
        _positive_int, "background refreshes at once", "N", of=(_R, "max_prefetches")
    ),
    "case_randomisation": _Option(
        _boolean,
        "send upstream questions in 0x20's random case; off sends them in their own case",
        of=(_X, "case_randomisation"),
    ),
    "unwanted_reply_threshold": _Option(
        lambda value, text: _integer(value, text, 0, 2**31 - 1, "a number of replies (0: off)"),
        "flush the cache after this many unwanted upstream replies (0: never)",
        "N",
        of=(_X, "unwanted_reply_threshold"),
    ),
    "max_remembered_servers": _Option(
        _positive_int,
        "nameservers remembered as lacking EDNS or 0x20 (the least recent forgotten)",
        "N",
        of=(_X, "max_servers"),
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
    "local_zone_defaults": _Option(
        _boolean,
        "answer localhost., the private and special-use reverse zones, test., invalid., "
        "onion. and home.arpa. locally, as Unbound does",
        unset="on (with root_hints, the loopback zones only)",
    ),
    "no_default_zone": _Option(
        _list_of(_domain_name, "domain names"),
        "serve no default local zone at or below this name (Unbound's nodefault); repeatable",
        "NAME",
        repeat=True,
    ),
    "local_zone": _Option(
        _list_of(parse_local_zone, "'NAME TYPE' (static, redirect, transparent, nodefault)"),
        "serve NAME as a local zone of this Unbound type (static: NXDOMAIN below it but "
        "for local_data, a blocklist); it replaces the default zones at and below; repeatable",
        '"NAME TYPE"',
        repeat=True,
    ),
    "local_data": _Option(
        _list_of(read_local_data, "records in zone-file syntax, one each"),
        "answer with this record (one zone-file line, names absolute), in the local "
        "zone that holds its name, else from a transparent zone of its own; repeatable",
        "RECORD",
        repeat=True,
    ),
    "access_control": _Option(
        _list_of(parse_rule, "'NETWORK ACTION' rules (allow, refuse or deny)"),
        "what queries from a network get: allow, refuse (REFUSED) or deny (dropped); "
        "the most specific network wins, over allow too; repeatable",
        '"CIDR ACTION"',
        repeat=True,
        of=(_S, "access_control"),
    ),
    "ip_ratelimit": _Option(
        lambda value, text: _integer(value, text, 0, 2**31 - 1, "queries a second (0: off)"),
        "UDP queries a second from one client address; more are dropped or TC=1 (0: off)",
        "QPS",
        of=(_S, "ip_ratelimit"),
    ),
    "ip_ratelimit_slip": _Option(
        lambda value, text: _integer(value, text, 0, 2**31 - 1, "a count (0: drop all)"),
        "of the queries over ip_ratelimit, answer every Nth with TC=1 (so real clients "
        "retry over TCP) and drop the rest; 0 drops them all",
        "N",
        of=(_S, "ip_ratelimit_slip"),
    ),
    "ratelimit": _Option(
        lambda value, text: _integer(value, text, 0, 2**31 - 1, "queries a second (0: off)"),
        "upstream queries a second to one zone; a question needing more gets SERVFAIL",
        "QPS",
        of=(_R, "ratelimit"),
    ),
    "control": _Option(
        _boolean, "listen on the control socket, for `trio-dns control` (a Unix socket, 0600)"
    ),
    "control_socket": _Option(
        _socket_path,
        "where the control socket is",
        "PATH",
        unset="/run/trio-dns/control.sock as root, else in $XDG_RUNTIME_DIR or the "
        "temporary directory",
    ),
}


def default_text(key: str) -> str:
    """The default of setting `key` as the help and the settings table show it."""
    value = attrs.fields_dict(ServeConfig)[key].default
    option = _OPTIONS[key]
    if option.unset is not None and value in (None, ()):
        return option.unset
    return _show(value)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == ():
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return " ".join(_show_item(item) for item in value)
    return str(value)


def _show_item(item: object) -> str:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], int):
        return format_address(item)
    return str(item)


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
        # argparse reads % as a format; the defaults are not its own.
        shown = f"{option.help} (default: {default_text(key)})".replace("%", "%%")
        if option.metavar is None:
            # --x and --no-x, so the command line can undo what the file says.
            parser.add_argument(
                flag, dest=key, action=argparse.BooleanOptionalAction, default=None, help=shown
            )
        elif option.repeat:
            parser.add_argument(flag, dest=key, action="append", metavar=option.metavar, help=shown)
        else:
            parser.add_argument(flag, dest=key, metavar=option.metavar, help=shown)


KEYS: tuple[str, ...] = tuple(_OPTIONS)
_FILE_KEYS = frozenset({"root_hints", "trust_anchor", "zone"})

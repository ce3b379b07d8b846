"""`trio-dns serve` settings: defaults, a TOML file, and the command line over it."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from trio_dns._cli import build_parser
from trio_dns._config import (
    _OPTIONS,
    KEYS,
    ConfigError,
    DeprecatedKey,
    ServeConfig,
    default_text,
    parse_listen_address,
)
from trio_dns._decisions.cache import Cache
from trio_dns._network.exchange import ExchangeSettings
from trio_dns._network.resolver import ResolverSettings
from trio_dns._server.server import DEFAULT_LISTEN, LOOPBACK, ServerSettings

HINTS = """\
.        3600000 IN NS a.root.
a.root.  3600000 IN A  127.53.21.1
"""
ANCHOR = ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"


def parse(*argv: str) -> ServeConfig:
    args = build_parser().parse_args(["serve", *argv])
    return ServeConfig.load(vars(args), args.config)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_listen_on_loopback_and_allow_only_loopback() -> None:
    config = parse()
    assert config.listen == DEFAULT_LISTEN == (("127.0.0.1", 53), ("::1", 53))
    assert config.allow == LOOPBACK
    assert config.hints is None
    settings = config.server_settings()
    assert settings.listen == config.listen
    assert settings.max_in_flight == config.max_in_flight


def test_every_option_has_a_key_and_a_command_line_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = capsys.readouterr().out
    for key in KEYS:
        assert "--" + key.replace("_", "-") in help_text
        assert hasattr(ServeConfig(), key)


def test_file_then_command_line(tmp_path: Path) -> None:
    hints = write(tmp_path / "root.hints", HINTS)
    anchor = write(tmp_path / "anchor.ds", ANCHOR)
    config_file = write(
        tmp_path / "serve.toml",
        f"""
listen = ["127.0.0.1:5353", "[::1]:5353"]
allow = ["10.0.0.0/8", "127.0.0.1/32"]
root_hints = "root.hints"   # relative to this file
trust_anchor = "{anchor}"
cache_size = 5000
max_ttl = 3600
deadline = 4.5
ipv6 = false
log_level = "INFO"
""",
    )
    config = parse("--config", str(config_file), "--cache-size", "77", "--listen", "127.0.0.2:53")
    assert config.listen == (("127.0.0.2", 53),)  # the command line wins, whole
    assert config.allow == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    )
    assert config.root_hints == hints
    assert config.hints is not None and len(config.hints) == 2
    assert [r.rtype.name for r in config.anchors] == ["DS"]
    assert (config.cache_size, config.max_ttl, config.deadline) == (77, 3600, 4.5)
    assert not config.ipv6 and config.ipv4
    assert config.log_level == "info"


BOOLEANS = [key for key, option in _OPTIONS.items() if option.metavar is None]


@pytest.mark.parametrize("key", BOOLEANS)
def test_booleans_read_positively_and_the_command_line_undoes_the_file(
    tmp_path: Path, key: str
) -> None:
    assert not key.startswith("no_")
    default = attrs.fields_dict(ServeConfig)[key].default
    flag = key.replace("_", "-")
    if default is None:  # a switch whose default depends on the rest: true, false, or unsaid
        assert getattr(parse(), key) is None
        config_file = write(tmp_path / "serve.toml", f"{key} = true\n")
        assert getattr(parse("--config", str(config_file)), key) is True
        assert getattr(parse("--config", str(config_file), f"--no-{flag}"), key) is False
    else:
        assert isinstance(default, bool)
        config_file = write(tmp_path / "serve.toml", f"{key} = {str(not default).lower()}\n")
        assert getattr(parse("--config", str(config_file)), key) is not default
        undo = f"--{flag}" if default else f"--no-{flag}"
        assert getattr(parse("--config", str(config_file), undo), key) is default
    assert getattr(parse("--no-" + flag), key) is False
    assert getattr(parse("--" + flag), key) is True


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("no_ipv6", "ipv6"),
        ("no_qname_minimisation", "qname_minimisation"),
        ("no_dnssec", "dnssec"),
        ("no_aggressive_nsec", "aggressive_nsec"),
        ("no_case_randomisation", "case_randomisation"),
    ],
)
def test_the_old_negative_keys_still_read_with_a_warning(
    tmp_path: Path, old: str, new: str
) -> None:
    config_file = write(tmp_path / "old.toml", f"{old} = true\n")
    with pytest.warns(DeprecatedKey, match=f"'{old}' is deprecated; write {new} = false"):
        config = parse("--config", str(config_file))
    assert getattr(config, new) is False
    # The command line, in the new spelling, still wins.
    with pytest.warns(DeprecatedKey):
        assert getattr(parse("--config", str(config_file), f"--{new.replace('_', '-')}"), new)


def test_serve_prints_the_deprecation_as_one_line(tmp_path: Path) -> None:
    config_file = write(tmp_path / "old.toml", "no_ipv4 = true\nno_ipv6 = true\n")
    result = subprocess.run(
        [sys.executable, "-m", "trio_dns", "serve", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines == [
        f"trio-dns: warning: {config_file}: 'no_ipv4' is deprecated; write ipv4 = false",
        f"trio-dns: warning: {config_file}: 'no_ipv6' is deprecated; write ipv6 = false",
        "trio-dns: ipv4 and ipv6 both off leave nothing to query over",
    ], lines


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('listn = ["127.0.0.1:53"]', "unknown key 'listn'"),
        ('cache_size = "abc"', "'cache_size' must be a positive integer, not 'abc'"),
        ("cache_size = 0", "'cache_size' must be a positive integer, not 0"),
        ("max_ttl = true", "'max_ttl' must be a TTL in seconds (1 or more), not True"),
        ("max_ttl = 0", "'max_ttl' must be a TTL in seconds (1 or more), not 0"),
        ("edns_payload = 100", "'edns_payload' must be a payload size in bytes (512 to 65535)"),
        ("cache_bytes = -1", "'cache_bytes' must be a number of bytes (0 or more), not -1"),
        ('listen = ["localhost:53"]', "'listen' must be a list of ADDR:PORT addresses"),
        ('listen = ["127.0.0.1:99999"]', "'listen' must be a list of ADDR:PORT addresses"),
        ('allow = ["10.0.0.0/33"]', "'allow' must be a list of CIDR networks"),
        ('ipv4 = "yes"', "'ipv4' must be true or false, not 'yes'"),
        ('no_ipv4 = "yes"', "'no_ipv4' must be true or false, not 'yes'"),
        ("ipv4 = false\nno_ipv4 = true", "'no_ipv4' and 'ipv4' together; keep 'ipv4'"),
        ("deadline = -1", "'deadline' must be a number of seconds above 0, not -1"),
        ('log_level = "loud"', "'log_level' must be one of debug, info, warning, error"),
        ('root_hints = "missing.hints"', "'root_hints' must be an existing file"),
        ("upstream_port = 0", "'upstream_port' must be a port number (1 to 65535), not 0"),
        ("cache_size = ", "not valid TOML"),
    ],
)
def test_bad_file_values_are_one_line_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    config_file = write(tmp_path / "config.toml", text + "\n")
    with pytest.raises(ConfigError) as info:
        parse("--config", str(config_file))
    assert str(info.value).startswith(f"{config_file}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cache-size", "abc"], "--cache-size must be a positive integer, not 'abc'"),
        (["--listen", "nowhere"], "--listen must be a list of ADDR:PORT addresses"),
        (["--no-ipv4", "--no-ipv6"], "ipv4 and ipv6 both off"),
        (["--min-ttl", "100", "--max-ttl", "10"], "min_ttl 100 is above max_ttl 10"),
    ],
)
def test_bad_command_line_values(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(*argv)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("www.example. 300 IN A 192.0.2.1\n", "holds www.example. A;"),
        ("this is not a zone file\n", "trust_anchor: "),
        ("", "holds no DS or DNSKEY records"),
    ],
)
def test_trust_anchor_must_be_ds_or_dnskey(tmp_path: Path, text: str, key: str) -> None:
    anchor = write(tmp_path / "anchor", text)
    with pytest.raises(ConfigError) as info:
        parse("--trust-anchor", str(anchor))
    assert key in str(info.value)
    assert str(info.value).startswith("trust_anchor: ")
    assert "\n" not in str(info.value)


def test_root_hints_must_name_root_servers(tmp_path: Path) -> None:
    hints = write(tmp_path / "hints", "a.root. 3600 IN A 192.0.2.1\n")
    with pytest.raises(ConfigError, match=r"root_hints: .* has no NS records for the root"):
        parse("--root-hints", str(hints))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:53", ("127.0.0.1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["host:53", "[::1", "1.2.3.4:", "[::1]x", "1.2.3.4:-1"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen_address(text)


def trio_dns(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        **kwargs,
    )


def test_a_bad_config_file_stops_the_server_with_one_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.toml", 'listen = ["127.0.0.1:5353"]\ncache_sise = 10\n')
    result = trio_dns("serve", "--config", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"trio-dns: {bad}: unknown key 'cache_sise'\n"


def test_a_bad_option_value_stops_the_server_with_one_line() -> None:
    result = trio_dns("serve", "--max-in-flight", "many")
    assert result.returncode == 2
    assert result.stderr == "trio-dns: --max-in-flight must be a positive integer, not 'many'\n"


def test_dnssec_settings_reach_the_resolver(tmp_path: Path) -> None:
    anchor = write(tmp_path / "root.ds", ANCHOR)
    config = parse("--trust-anchor", str(anchor), "--insecure-domain", "corp.example")
    settings = config.resolver_settings()
    assert settings.dnssec
    assert settings.trust_anchors is not None and len(settings.trust_anchors) == 1
    assert [str(n) for n in settings.insecure_domains] == ["corp.example."]
    assert not parse("--no-dnssec").resolver_settings().dnssec
    # No anchor given: the resolver decides (IANA's with IANA's hints).
    assert parse().resolver_settings().trust_anchors is None


# Library settings no key gives as it is, and why. Every other attribute of the
# settings classes must be some key's `of` in _OPTIONS.
NOT_KEYS = {
    # Records read from the trust_anchor file.
    (ResolverSettings, "trust_anchors"),
    # Built from their own keys (case_randomisation..., private_address).
    (ResolverSettings, "exchange"),
    (ExchangeSettings, "rebinding"),
    # Set in each process of --workers, which share the ports.
    (ServerSettings, "reuse_port"),
}
LIBRARY = [ResolverSettings, ExchangeSettings, ServerSettings, Cache]
WIRED = {key: option.of for key, option in _OPTIONS.items() if option.of is not None}


def _built(config: ServeConfig, cls: type) -> object:
    if cls is ResolverSettings:
        return config.resolver_settings()
    if cls is ExchangeSettings:
        return config.exchange_settings()
    if cls is ServerSettings:
        return config.server_settings()
    return config.cache()


@pytest.mark.parametrize("cls", LIBRARY, ids=lambda cls: cls.__name__)
def test_every_library_setting_is_reachable_from_the_config(cls: type) -> None:
    settings = {(cls, field.name) for field in attrs.fields(cls) if field.init}
    missing = settings - set(WIRED.values()) - NOT_KEYS
    assert not missing, (
        "no key in trio_dns/_config.py's _OPTIONS has of=(class, attribute) for "
        f"{sorted(name for _, name in missing)}"
    )


@pytest.mark.parametrize(("key", "target"), WIRED.items(), ids=list(WIRED))
def test_each_setting_reaches_the_library_and_its_default_is_the_librarys(
    key: str, target: tuple[type, str]
) -> None:
    cls, name = target
    assert cls in LIBRARY
    library_default = attrs.fields_dict(cls)[name].default
    assert attrs.fields_dict(ServeConfig)[key].default == library_default
    assert getattr(_built(parse(), cls), name) == library_default
    flag = key.replace("_", "-")
    if isinstance(library_default, bool):
        value: object = not library_default
        config = parse(f"--{flag}" if value else f"--no-{flag}")
    elif isinstance(library_default, int | float):
        value = library_default + 1
        config = parse(f"--{flag}", str(value))
    else:
        return  # lists of addresses and names: tested with their own keys
    assert getattr(_built(config, cls), name) == value


# -- the guide's table of every setting -------------------------------------------------

SETTINGS_TABLE = "| key | command line | default | what it does | Unbound |\n"


def _settings_rows() -> dict[str, list[str]]:
    text = (Path(__file__).parent.parent / "docs" / "07-operating.md").read_text()
    assert text.count(SETTINGS_TABLE) == 1, "chapter 7 has one table of every setting"
    rows: dict[str, list[str]] = {}
    for line in text.split(SETTINGS_TABLE, 1)[1].splitlines()[1:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 5, line
        key = cells[0].strip("`")
        assert key not in rows, f"{key} is in the table twice"
        rows[key] = cells
    return rows


def test_the_settings_table_lists_every_key_and_only_keys() -> None:
    documented = set(_settings_rows())
    assert not set(KEYS) - documented, f"not in chapter 7's table: {set(KEYS) - documented}"
    assert not documented - set(KEYS), f"no such key: {documented - set(KEYS)}"


@pytest.mark.parametrize("key", KEYS)
def test_the_settings_table_shows_each_option_and_the_librarys_default(key: str) -> None:
    _, command_line, default, meaning, unbound = _settings_rows()[key]
    flag = "--" + key.replace("_", "-")
    if _OPTIONS[key].metavar is None:
        assert command_line == f"`{flag}`, `--no-{flag[2:]}`"
    else:
        assert command_line == f"`{flag} {_OPTIONS[key].metavar}`"
    assert default == default_text(key)
    assert meaning and unbound


def test_no_help_text_states_a_default_by_hand() -> None:
    # add_arguments appends the default from the settings classes; a second one
    # written into the help would drift from it.
    for key, option in _OPTIONS.items():
        assert not re.search(r"\(default", option.help), key


@pytest.mark.parametrize(
    ("argv", "attribute", "expected"),
    [
        (["resolve", "x.test", "--no-dnssec"], "dnssec", False),
        (["resolve", "x.test", "--no-dnssec", "--dnssec"], "dnssec", True),
        (["resolve", "x.test", "--no-qname-minimisation"], "qname_minimisation", False),
        (["resolve", "x.test", "--no-ipv6"], "ipv6", False),
        (["resolve", "x.test"], "ipv4", True),
        (["resolve", "x.test", "--trace", "--no-trace"], "trace", False),
        (["sandbox", "--no-ipv6"], "ipv6", False),
        (["sandbox", "--query-log"], "query_log", True),
    ],
)
def test_the_other_commands_switches_work_both_ways(
    argv: list[str], attribute: str, expected: bool
) -> None:
    assert getattr(build_parser().parse_args(argv), attribute) is expected


def test_a_programs_options_in_the_old_spelling_are_not_dropped() -> None:
    with pytest.warns(DeprecatedKey, match="'no_dnssec' is deprecated; write dnssec = false"):
        assert not ServeConfig.load({"no_dnssec": True}).dnssec
    with pytest.raises(ConfigError, match="'no_ipv6' and 'ipv6' together"):
        ServeConfig.load({"no_ipv6": True, "ipv6": True})

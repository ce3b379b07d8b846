"""Operating `trio-dns serve`: forwarding and local-zone settings, local zones
answered by the real server, and the query log.

The server tests listen on real loopback sockets and resolve in the sandbox;
dnspython asks from a worker thread, so the clock keeps real time (see
test_server.py).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
import trio
from trio.testing import MockClock

from trio_dns._address import Address
from trio_dns._cli import build_parser
from trio_dns._config import ConfigError, ServeConfig
from trio_dns._decisions.local_zones import default_zones
from trio_dns._network.resolver import Resolver
from trio_dns._server.server import Server
from trio_dns._wire.name import Name
from trio_dns.testing import build_sandbox

TIMEOUT = 5.0

HOME = """\
$ORIGIN home.arpa.
$TTL 300
@        SOA  router hostmaster 1 3600 600 86400 60
@        NS   router
router   A    192.168.1.1
nas      A    192.168.1.10
printer  CNAME nas
web      CNAME www.example.com.
*.iot    A    192.168.1.99
"""

BLOCKLIST = """\
$ORIGIN tracker.example.
@ 3600 SOA localhost. nobody.invalid. 1 3600 600 86400 3600
@ 3600 NS  localhost.
"""


def parse(*argv: str) -> ServeConfig:
    args = build_parser().parse_args(["serve", *argv])
    return ServeConfig.load(vars(args), args.config)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def trio_dns(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- settings ----------------------------------------------------------------------------


def test_forwarding_from_the_command_line() -> None:
    config = parse(
        "--forward",
        "192.0.2.1",
        "--forward",
        "[2001:DB8::1]:5353",
        "--forward-zone",
        "corp.example=10.0.0.53",
        "--forward-zone",
        "Lab.Corp.Example.=10.0.0.54:5353,[::1]",
    )
    assert config.forward == (("192.0.2.1", 53), ("2001:db8::1", 5353))
    assert config.forward_zone == (
        (Name.from_text("corp.example"), (("10.0.0.53", 53),)),
        (Name.from_text("lab.corp.example"), (("10.0.0.54", 5353), ("::1", 53))),
    )
    settings = config.resolver_settings()
    assert settings.forwarders == config.forward
    assert settings.forward_zones == config.forward_zone
    assert not config.query_log and config.metrics is None
    assert config.zones == default_zones()  # no zone file: just the defaults


def test_every_new_setting_from_a_file(tmp_path: Path) -> None:
    write(tmp_path / "home.zone", HOME)
    (tmp_path / "zones").mkdir()
    write(tmp_path / "zones" / "block.zone", BLOCKLIST)
    config_file = write(
        tmp_path / "serve.toml",
        """
forward = ["192.0.2.1", "192.0.2.2:5300"]
zone = ["home.zone", "zones/block.zone"]   # relative to this file
metrics = "[::1]:9153"
query_log = true

[forward_zone]
"corp.example" = ["10.0.0.53", "10.0.0.54:5353"]
"10.in-addr.arpa" = "10.0.0.53"
""",
    )
    config = parse("--config", str(config_file))
    assert config.forward == (("192.0.2.1", 53), ("192.0.2.2", 5300))
    assert dict(config.forward_zone) == {
        Name.from_text("corp.example"): (("10.0.0.53", 53), ("10.0.0.54", 5353)),
        Name.from_text("10.in-addr.arpa"): (("10.0.0.53", 53),),
    }
    assert config.zone == (tmp_path / "home.zone", tmp_path / "zones" / "block.zone")
    served = [str(zone.origin) for zone in config.zones if zone not in default_zones()]
    assert served == ["home.arpa.", "tracker.example."]
    # The file and the forward zone replace the default zones of their names.
    origins = {str(zone.origin) for zone in config.zones}
    assert "localhost." in origins and "10.in-addr.arpa." not in origins
    assert config.metrics == ("::1", 9153)
    assert config.query_log and config.server_settings().query_log
    # The list form of forward_zone, as the command line spells it.
    listed = write(tmp_path / "listed.toml", 'forward_zone = ["corp.example=10.0.0.53"]\n')
    assert parse("--config", str(listed)).forward_zone == (
        (Name.from_text("corp.example"), (("10.0.0.53", 53),)),
    )
    # The command line wins, whole.
    assert parse("--config", str(config_file), "--forward", "192.0.2.9").forward == (
        ("192.0.2.9", 53),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('forward = ["127.0.0.1:0"]', "'forward' must be a list of ADDR[:PORT] addresses"),
        ('forward = ["resolver.example"]', "'forward' must be a list of ADDR[:PORT] addresses"),
        ('forward_zone = ["corp.example"]', "'forward_zone' must be a list of NAME=ADDR"),
        ('forward_zone = ["=10.0.0.53"]', "'forward_zone' must be a list of NAME=ADDR"),
        ('forward_zone = ["a..b=10.0.0.53"]', "'forward_zone' must be a list of NAME=ADDR"),
        ('forward_zone = ["corp=10.0.0.53,"]', "'forward_zone' must be a list of NAME=ADDR"),
        ('forward_zone = { "corp" = [] }', "'forward_zone' must be a list of NAME=ADDR"),
        (
            'forward_zone = ["corp=10.0.0.1", "CORP.=10.0.0.2"]',
            "each zone once (CORP. is there twice)",
        ),
        ('zone = ["missing.zone"]', "'zone' must be a list of existing zone files"),
        ('metrics = "127.0.0.1"', "'metrics' must be an ADDR:PORT address (the port too)"),
        ('metrics = "[::1]"', "'metrics' must be an ADDR:PORT address (the port too)"),
        ('metrics = "localhost:9153"', "'metrics' must be an ADDR:PORT address"),
        ("metrics = 9153", "'metrics' must be an ADDR:PORT address"),
        ('query_log = "yes"', "'query_log' must be true or false, not 'yes'"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    config_file = write(tmp_path / "config.toml", text + "\n")
    with pytest.raises(ConfigError) as info:
        parse("--config", str(config_file))
    assert str(info.value).startswith(f"{config_file}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_settings_that_do_not_go_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sandbox resolves in the simulated internet"):
        parse("--sandbox", "--forward", "192.0.2.1")
    one = write(tmp_path / "one.zone", HOME)
    two = write(tmp_path / "two.zone", HOME)
    with pytest.raises(ConfigError, match=r"two.zone: zone home.arpa. is already served from"):
        parse("--zone", str(one), "--zone", str(two))


def test_bad_options_stop_the_server_with_exit_2() -> None:
    result = trio_dns("serve", "--forward", "nowhere")
    assert result.returncode == 2
    assert result.stderr.startswith("trio-dns: --forward must be a list of ADDR[:PORT] addresses")
    assert result.stderr.count("\n") == 1
    result = trio_dns("serve", "--metrics", "9153")
    assert result.returncode == 2
    assert result.stderr.startswith("trio-dns: --metrics must be an ADDR:PORT address")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (HOME.replace("192.168.1.10", "999.1.1.10"), r":6: bad A rdata: '999\.1\.1\.10'"),
        (HOME.replace("printer  CNAME", "printer  CNAMEX"), r":7: .*CNAMEX"),
        (HOME.replace("$TTL 300", "$TTL forever"), r":2: .*forever"),
    ],
)
def test_a_bad_zone_file_stops_start_up_with_one_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    bad = write(tmp_path / "home.zone", text)
    result = trio_dns("serve", "--listen", "127.0.0.1:0", "--zone", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert re.fullmatch(f"trio-dns: {re.escape(str(bad))}{problem}.*\n", result.stderr)


def test_a_zone_file_without_soa(tmp_path: Path) -> None:
    bad = write(tmp_path / "hosts.zone", "nas.home.arpa. 300 IN A 192.168.1.10\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(bad))}: no SOA record"):
        parse("--zone", str(bad))


# -- the real server -------------------------------------------------------------------


@pytest.fixture
def clock() -> MockClock:
    return MockClock(rate=1.0)


@asynccontextmanager
async def serving(config: ServeConfig) -> AsyncIterator[Address]:
    """The server `trio-dns serve` would build from `config`, in the sandbox."""
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=config.resolver_settings(),
        local_zones=config.zones,
    )
    settings = attrs.evolve(config.server_settings(), listen=(("127.0.0.1", 0),))
    server = Server(resolver, settings)
    async with trio.open_nursery() as nursery:
        (address,) = await nursery.start(server.serve)
        yield address
        server.shutdown()


async def ask(
    address: Address, name: str, rtype: str = "A", *, tcp: bool = False, **kwargs: object
) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, use_edns=0, **kwargs)  # type: ignore[arg-type]
    send = dns.query.tcp if tcp else dns.query.udp
    call = functools.partial(send, query, address[0], port=address[1], timeout=TIMEOUT)
    return await trio.to_thread.run_sync(call)


def texts(reply: dns.message.Message) -> list[str]:
    return [rdata.to_text() for rrset in reply.answer for rdata in rrset]


async def test_local_zones_are_answered_with_authority(clock: MockClock, tmp_path: Path) -> None:
    home = write(tmp_path / "home.zone", HOME)
    block = write(tmp_path / "block.zone", BLOCKLIST)
    async with serving(parse("--zone", str(home), "--zone", str(block))) as address:
        nas = await ask(address, "nas.home.arpa")
        assert nas.rcode() == dns.rcode.NOERROR
        assert nas.flags & dns.flags.AA and nas.flags & dns.flags.RA
        assert texts(nas) == ["192.168.1.10"]
        printer = await ask(address, "printer.home.arpa")
        assert texts(printer) == ["nas.home.arpa.", "192.168.1.10"]
        bulb = await ask(address, "bulb.iot.home.arpa", tcp=True)
        assert texts(bulb) == ["192.168.1.99"] and bulb.flags & dns.flags.AA

        missing = await ask(address, "nothing.home.arpa")
        assert missing.rcode() == dns.rcode.NXDOMAIN and missing.flags & dns.flags.AA
        (soa,) = missing.authority
        assert soa.rdtype == dns.rdatatype.SOA and soa.name.to_text() == "home.arpa."
        assert soa.ttl == 60  # the SOA MINIMUM (RFC 2308)
        nodata = await ask(address, "nas.home.arpa", "AAAA")
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
        assert nodata.authority and nodata.flags & dns.flags.AA
        blocked = await ask(address, "pixel.ads.tracker.example")
        assert blocked.rcode() == dns.rcode.NXDOMAIN and blocked.flags & dns.flags.AA

        # Leaving the zone: resolved on through the (simulated) internet, no AA.
        web = await ask(address, "web.home.arpa")
        assert texts(web) == ["www.example.com.", "198.51.100.80"]
        assert not web.flags & dns.flags.AA
        # The same again, from the fast path: the flags survive.
        again = await ask(address, "nas.home.arpa")
        assert again.flags & dns.flags.AA and texts(again) == ["192.168.1.10"]
        # RD=0 sees the local zone too.
        cached = await ask(address, "router.home.arpa", flags=0)
        assert texts(cached) == ["192.168.1.1"] and cached.flags & dns.flags.AA


QUERY_LINE = re.compile(r"(\S+) (udp|tcp) (\S+ \S+|-) ([A-Z0-9]+) (\w+) (\d+\.\d)ms")


def query_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, ...]]:
    lines = []
    for record in caplog.records:
        if record.name == "trio_dns.query":
            assert record.levelno == logging.INFO
            match = QUERY_LINE.fullmatch(record.getMessage())
            assert match is not None, record.getMessage()
            lines.append(match.groups()[:5])
    return lines


async def test_the_query_log(
    clock: MockClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trio_dns.query")
    home = write(tmp_path / "home.zone", HOME)
    async with serving(parse("--zone", str(home), "--query-log")) as address:
        await ask(address, "www.example.com")
        await ask(address, "WWW.example.com")
        await ask(address, "nas.home.arpa", tcp=True)
        await ask(address, "nope.example.com", "MX")
        await ask(address, "www.example.com", flags=0)
        await ask(address, "www.example.com", rdclass=dns.rdataclass.CH)
    client = "127.0.0.1"
    assert query_lines(caplog) == [
        (client, "udp", "www.example.com. A", "NOERROR", "resolved"),
        (client, "udp", "WWW.example.com. A", "NOERROR", "fast"),  # the client's spelling
        (client, "tcp", "nas.home.arpa. A", "NOERROR", "local"),
        (client, "udp", "nope.example.com. MX", "NXDOMAIN", "resolved"),
        (client, "udp", "www.example.com. A", "NOERROR", "cache"),
        (client, "udp", "www.example.com. A", "REFUSED", "error"),
    ]


async def test_no_query_log_unless_asked(
    clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(parse()) as address:
        await ask(address, "www.example.com")
        await ask(address, "www.example.com")
    assert query_lines(caplog) == []


def test_loopback_default_is_kept_with_the_new_settings() -> None:
    config = parse("--forward", "192.0.2.1", "--query-log")
    assert config.allow == (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))

"""`trio-dns serve` run as an operator runs it: forwarding to real upstream
resolvers, local zones, the metrics endpoint, the query log and the sandbox,
all as subprocesses on loopback, queried with `dig`.

No Unbound is at hand in CI, so the upstream resolvers are trio-dns itself:
`serve --sandbox` processes resolving in the simulated internet, one of them
also serving corp.example from a zone file so that per-zone forwarding can be
told from global forwarding by the answer alone. The dead upstream is a UDP
socket this test holds open and never answers from; listed first, it is asked
first, and the race must move on to the live one.
"""

from __future__ import annotations

import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import attrs
import pytest

from .servers import require_tool

NET = "127.53.30"
FRONT = f"{NET}.1"
UPSTREAM = f"{NET}.2"
DEAD = f"{NET}.3"
CORP_UPSTREAM = f"{NET}.4"

HOME = """\
$ORIGIN home.arpa.
$TTL 300
@      SOA router hostmaster 1 3600 600 86400 60
@      NS  router
router A   192.168.1.1
nas    A   192.168.1.10
web    CNAME www.example.com.
"""

CORP = """\
$ORIGIN corp.example.
$TTL 300
@        SOA ns hostmaster 1 3600 600 86400 60
@        NS  ns
ns       A   {address}
intranet A   {address}
"""


tool = require_tool


@attrs.frozen
class Running:
    process: subprocess.Popen[str]
    port: int
    metrics: int | None


def start(*args: str, metrics: bool = False) -> Running:
    """`trio-dns serve ARGS`; waits for its "serving on" (and "metrics on") lines."""
    argv = [sys.executable, "-m", "trio_dns", "serve", *args]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    port = metrics_port = None
    deadline = time.monotonic() + 15
    while port is None or (metrics and metrics_port is None):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([process.stderr], [], [], max(remaining, 0))
        line = process.stderr.readline() if ready else ""
        if not line:
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"trio-dns serve {' '.join(args)} did not start:\n{err}")
        if found := re.search(r"serving on \S+:(\d+)$", line):
            port = int(found.group(1))
        if found := re.search(r"metrics on http://\S+:(\d+)/metrics$", line):
            metrics_port = int(found.group(1))
    return Running(process, port, metrics_port)


def stop(running: Running) -> tuple[int, str]:
    process = running.process
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, err


def dig(host: str, port: int, *args: str) -> str:
    argv = [tool("dig"), f"@{host}", "-p", str(port), "+time=5", "+tries=1", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def flags(text: str) -> set[str]:
    return set(text.split("flags:")[1].split(";")[0].split())


@attrs.frozen
class Setup:
    front: Running
    upstream: Running
    corp: Running
    dead: socket.socket


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tool("dig")
    directory = tmp_path_factory.mktemp("operating")
    home = directory / "home.zone"
    home.write_text(HOME)
    corp_global = directory / "corp-global.zone"
    corp_global.write_text(CORP.format(address="10.2.2.2"))
    corp_local = directory / "corp-local.zone"
    corp_local.write_text(CORP.format(address="10.4.4.4"))
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind((DEAD, 0))
    dead.setblocking(False)
    started: list[Running] = []
    try:
        upstream = start("--sandbox", "--listen", f"{UPSTREAM}:0", "--zone", str(corp_global))
        started.append(upstream)
        corp = start("--sandbox", "--listen", f"{CORP_UPSTREAM}:0", "--zone", str(corp_local))
        started.append(corp)
        front = start(
            "--listen",
            f"{FRONT}:0",
            "--forward",
            f"{DEAD}:{dead.getsockname()[1]}",
            "--forward",
            f"{UPSTREAM}:{upstream.port}",
            "--forward-zone",
            f"corp.example={CORP_UPSTREAM}:{corp.port}",
            "--zone",
            str(home),
            "--metrics",
            f"{FRONT}:0",
            "--query-log",
            metrics=True,
        )
        started.append(front)
        yield Setup(front, upstream, corp, dead)
    finally:
        for running in started:
            if running.process.poll() is None:
                stop(running)
        dead.close()


def ask(setup: Setup, *args: str) -> str:
    return dig(FRONT, setup.front.port, *args)


def test_forwarding_races_past_a_dead_upstream(setup: Setup) -> None:
    text = ask(setup, "www.example.com", "A")
    assert "status: NOERROR" in text
    assert re.search(r"^www\.example\.com\.\s+\d+\s+IN\s+A\s+198\.51\.100\.80$", text, re.M)
    assert "aa" not in flags(text) and "ra" in flags(text)
    # The dead upstream, listed first, was asked first: the query is still in its socket.
    query, _ = setup.dead.recvfrom(4096)
    assert b"\x07example\x03com\x00" in query.lower()  # its case is randomised (0x20)
    # Through the forwarder, a CNAME chain and a negative answer.
    chain = dig(FRONT, setup.front.port, "+short", "shop.example.com", "A").split()
    assert chain == ["www.cdn.net.", "edge.cdn.net.", "198.51.100.41"]
    assert "status: NXDOMAIN" in ask(setup, "nope.example.com", "A")


def test_forward_zones_go_to_their_own_upstream(setup: Setup) -> None:
    # Both upstreams serve corp.example, with different data: the per-zone one wins.
    assert dig(FRONT, setup.front.port, "+short", "intranet.corp.example").split() == ["10.4.4.4"]
    direct = dig(UPSTREAM, setup.upstream.port, "+short", "intranet.corp.example").split()
    assert direct == ["10.2.2.2"]


def test_local_zone_answers_with_authority(setup: Setup) -> None:
    text = ask(setup, "nas.home.arpa", "A")
    assert "aa" in flags(text) and "status: NOERROR" in text
    assert re.search(r"^nas\.home\.arpa\.\s+300\s+IN\s+A\s+192\.168\.1\.10$", text, re.M)
    missing = ask(setup, "nothing.home.arpa", "A")
    assert "status: NXDOMAIN" in missing and "aa" in flags(missing)
    assert re.search(r"^home\.arpa\.\s+60\s+IN\s+SOA\s+router\.home\.arpa\. ", missing, re.M)
    # A CNAME leaving the zone is resolved on, through the forwarder.
    web = ask(setup, "web.home.arpa", "A", "+tcp")
    assert "198.51.100.80" in web and "aa" not in flags(web)


def scrape(setup: Setup) -> dict[str, float]:
    assert setup.front.metrics is not None
    url = f"http://{FRONT}:{setup.front.metrics}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        body = response.read().decode()
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, number = line.rpartition(" ")
            samples[name] = float(number)
    return samples


def test_metrics_count_what_was_asked(setup: Setup) -> None:
    before = scrape(setup)
    for _ in range(3):
        ask(setup, "metrics.home.arpa", "TXT")
    ask(setup, "www.example.com", "MX")
    after = scrape(setup)

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert grew('trio_dns_queries_total{type="TXT"}') == 3
    assert grew('trio_dns_queries_total{type="MX"}') == 1
    assert grew('trio_dns_responses_total{rcode="NXDOMAIN"}') == 3
    assert grew("trio_dns_fast_path_answers_total") == 2  # the second and third TXT
    assert grew("trio_dns_resolution_seconds_count") == 2
    assert grew("trio_dns_upstream_queries_total") >= 1  # the MX went upstream
    assert after["trio_dns_in_flight"] == 0
    assert "process_resident_memory_bytes" in after


def test_sandbox_answers_dig_on_localhost() -> None:
    sandbox = start("--sandbox", "--listen", "127.0.0.1:0")
    try:
        text = dig("127.0.0.1", sandbox.port, "www.example.com")
        assert "status: NOERROR" in text and "ra" in flags(text)
        assert re.search(r"^www\.example\.com\.\s+\d+\s+IN\s+A\s+198\.51\.100\.80$", text, re.M)
        glueless = dig("127.0.0.1", sandbox.port, "+short", "www.glueless.org")
        assert glueless.split()
    finally:
        status, err = stop(sandbox)
    assert status == 0 and "Traceback" not in err


def test_query_log_and_clean_exit(setup: Setup) -> None:
    ask(setup, "router.home.arpa", "A")
    ask(setup, "logged.example.com", "A")
    status, err = stop(setup.front)
    assert status == 0, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if " trio_dns.query INFO: " in line]
    assert any(
        re.search(r"INFO: \S+ udp router\.home\.arpa\. A NOERROR local \d+\.\dms$", line)
        for line in lines
    ), lines
    assert any(" logged.example.com. A NXDOMAIN resolved " in line for line in lines), lines

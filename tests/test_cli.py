"""`trio-dns query` as a user runs it: a subprocess against a real NSD."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from trio_dns._cli import main, system_nameserver

from .integration.servers import ServerPool
from .integration.zones import ORIGIN, ZONE

HOST = "127.53.3.1"
NOBODY = "127.53.9.9"  # nothing listens here on port 53
GARBAGE = "127.53.3.2"


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with ServerPool(tmp_path_factory.mktemp("cli")) as pool:
        yield pool.start("nsd", HOST, {ORIGIN: ZONE}).port


def trio_dns(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_query_prints_the_reply_dig_style(port: int) -> None:
    result = trio_dns("query", "www.example.test", "A", f"@{HOST}", "-p", str(port))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert "status: NOERROR" in out
    assert ";; flags: qr aa rd;" in out
    assert ";; ANSWER SECTION:\n" in out
    assert "www.example.test.\t3600\tIN\tA\t192.0.2.10\n" in out
    assert "www.example.test.\t3600\tIN\tA\t192.0.2.11\n" in out
    assert "\n;; Query time: " in out
    assert out.endswith(f";; SERVER: {HOST}#{port}(UDP)\n")


def test_query_over_tcp_with_an_error_rcode_still_succeeds(port: int) -> None:
    result = trio_dns("query", "nope.example.test", "MX", f"@{HOST}", f"--port={port}", "--tcp")
    assert result.returncode == 0, result.stderr
    assert "status: NXDOMAIN" in result.stdout
    assert ";; AUTHORITY SECTION:\nexample.test.\t300\tIN\tSOA\tns1.example.test." in result.stdout
    assert result.stdout.endswith(f"#{port}(TCP)\n")


def test_truncated_reply_is_shown_as_fetched_over_tcp(port: int) -> None:
    result = trio_dns(
        "query", "big.example.test", "txt", f"@{HOST}", "-p", str(port), "--norecurse", "--dnssec"
    )
    assert result.returncode == 0, result.stderr
    assert ";; flags: qr aa; QUERY: 1, ANSWER: 60," in result.stdout
    assert "; EDNS: version: 0, flags: do;" in result.stdout
    assert result.stdout.endswith(f"#{port}(TCP)\n")


def test_no_reply_is_one_line_and_exit_1() -> None:
    # A socket that never reads: queries vanish, as they do to a dead host.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind((NOBODY, 0))
        port = sink.getsockname()[1]
        result = trio_dns(
            "query", "www.example.test", f"@{NOBODY}", "-p", str(port), "--timeout", "0.2"
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"trio-dns: no reply from {NOBODY}:{port} after 3 attempts\n"


def test_nothing_listening_is_refused_at_once_in_one_line() -> None:
    # The kernel answers a datagram to a closed port with ICMP "port unreachable",
    # which the query's connected socket reports: no need to wait out 3 timeouts.
    result = trio_dns("query", "www.example.test", f"@{NOBODY}", "--timeout", "5")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (f"trio-dns: {NOBODY}:53 refused the query: Connection refused\n")


def test_malformed_reply_is_one_line_and_exit_1() -> None:
    # A "server" that answers with our ID and then junk.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((GARBAGE, 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
        command = [sys.executable, "-m", "trio_dns", "query", "www.example.test", f"@{GARBAGE}"]
        with subprocess.Popen(
            [*command, "-p", str(port), "--attempts", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            data, client = sock.recvfrom(65535)
            sock.sendto(data[:2] + b"\x80\x00\x00\x01junk", client)
            out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert out == ""
    assert err.startswith(f"trio-dns: {GARBAGE}:{port} sent a malformed reply")
    assert err.count("\n") == 1


def test_refused_tcp_connection_is_one_line_and_exit_1() -> None:
    result = trio_dns("query", "www.example.test", f"@{NOBODY}", "--tcp", "--timeout", "2")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"trio-dns: cannot connect to {NOBODY}:53")
    assert result.stderr.count("\n") == 1


def test_bad_type_is_a_usage_error_naming_it() -> None:
    result = trio_dns("query", "www.example.test", "BOGUS", f"@{NOBODY}")
    assert result.returncode == 2
    assert "error: unknown type 'BOGUS'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a..b"], "invalid name 'a..b'"),
        (["www", "@not-an-ip"], "invalid server 'not-an-ip'"),
        (["www", "@1.2.3.4", "@5.6.7.8"], "more than one server"),
        (["www", "A", "extra"], "unexpected argument 'extra'"),
        (["www", "-p", "65536"], "invalid port '65536'"),
        (["www", "-p", "http"], "invalid port 'http'"),
        (["www", "--timeout", "0"], "invalid timeout '0'"),
        (["www", "--attempts", "0"], "invalid attempts '0'"),
        (["@1.2.3.4"], "a NAME to query is required"),
    ],
)
def test_usage_errors_name_the_bad_argument(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["query", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: trio-dns query NAME [TYPE] [@SERVER]")
    assert message in err


def test_default_server_is_the_first_usable_resolv_conf_nameserver(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# comment\nsearch example\nnameserver fe80::1%eth0\nnameserver 2001:DB8::53\n"
        "nameserver 192.0.2.1\n"
    )
    assert system_nameserver(conf) == "2001:db8::53"
    conf.write_text("search example\n")
    assert system_nameserver(conf) == "127.0.0.1"
    assert system_nameserver(tmp_path / "missing") == "127.0.0.1"


def test_serve_tunes_the_garbage_collector_for_a_long_running_cache() -> None:
    import gc

    from trio_dns._cli import _tune_garbage_collector

    before = gc.get_threshold()
    try:
        _tune_garbage_collector()
        assert gc.get_threshold() == (20_000, *before[1:])
        assert gc.get_freeze_count() > 0  # what startup built is never rescanned
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

"""`trio-dns resolve` as a user runs it: a subprocess against a tree of real servers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .integration.hierarchy import Hierarchy
from .integration.servers import PORT, ServerPool

NET = "127.53.11"  # a /24 of its own, apart from test_recursion_real's tree


@pytest.fixture(scope="module")
def hints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The root hints file of a running tree (see integration/hierarchy.py)."""
    directory = tmp_path_factory.mktemp("resolve-cli")
    with ServerPool(directory) as pool:
        tree = Hierarchy.start(pool, NET)
        path = directory / "root.hints"
        path.write_text(tree.root_hints_text())
        yield path


def trio_dns(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", "resolve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def in_tree(hints: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return trio_dns(*args, "--root-hints", str(hints), "--port", str(PORT))


def test_noerror_prints_the_status_and_the_records(hints: Path) -> None:
    result = in_tree(hints, "www.leaf.test")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        ";; status: NOERROR, www.leaf.test. IN A",
        "www.leaf.test.\t300\tIN\tA\t192.0.2.1",
        "www.leaf.test.\t300\tIN\tA\t192.0.2.2",
    ]


def test_a_cname_chain_and_a_type_argument(hints: Path) -> None:
    result = in_tree(hints, "alias.leaf.test", "AAAA")
    assert result.returncode == 0, result.stderr
    # host.glueless.test has no AAAA: NODATA at the end of a two-link chain.
    assert result.stdout.splitlines() == [
        ";; status: NOERROR, alias.leaf.test. IN AAAA",
        "alias.leaf.test.\t300\tIN\tCNAME\tweb.other.example.",
        "web.other.example.\t300\tIN\tCNAME\thost.glueless.test.",
        "glueless.test.\t60\tIN\tSOA\tns-glueless.example. hostmaster.glueless.test. "
        "1 1800 900 604800 60",
    ]


def hops(stdout: str) -> list[str]:
    """The --trace lines before the answer, without their times."""
    trace, _, _ = stdout.partition("\n\n")
    out = []
    for line in trace.splitlines():
        # ";;      1.2 ms  query    test. NS [.] @host#port: referral to test. 0 ms"
        assert line.startswith(";; ")
        hop = line.split(" ms  ", 1)[1]
        out.append(hop.rsplit(" ", 2)[0] if hop.endswith(" ms") else hop)
    return out


def test_trace_shows_every_hop(hints: Path) -> None:
    result = in_tree(hints, "www.leaf.test", "A", "--trace")
    assert result.returncode == 0, result.stderr
    assert hops(result.stdout) == [
        f"query    . NS [.] @{NET}.1#{PORT}: answer",
        f"query    test. NS [.] @{NET}.1#{PORT}: referral to test.",
        f"query    leaf.test. NS [test.] @{NET}.2#{PORT}: referral to leaf.test.",
        f"query    www.leaf.test. A [leaf.test.] @{NET}.4#{PORT}: answer",
    ]
    assert result.stdout.partition("\n\n")[2].startswith(";; status: NOERROR, www.leaf.test.")


def test_trace_without_minimisation_sends_the_full_name_to_the_root(hints: Path) -> None:
    result = in_tree(hints, "www.leaf.test", "--trace", "--no-qname-minimisation")
    assert result.returncode == 0, result.stderr
    assert hops(result.stdout) == [
        f"query    . NS [.] @{NET}.1#{PORT}: answer",
        f"query    www.leaf.test. A [.] @{NET}.1#{PORT}: referral to test.",
        f"query    www.leaf.test. A [test.] @{NET}.2#{PORT}: referral to leaf.test.",
        f"query    www.leaf.test. A [leaf.test.] @{NET}.4#{PORT}: answer",
    ]


def test_trace_shows_the_lame_server_and_the_race_winner(hints: Path) -> None:
    result = in_tree(hints, "www.lame.test", "--trace")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"@{NET}.3#{PORT}: lame: REFUSED for lame.test." in out
    assert f"@{NET}.5#{PORT}: answer" in out
    assert "www.lame.test.\t300\tIN\tA\t192.0.2.30" in out


def test_nxdomain_exits_zero_with_the_soa(hints: Path) -> None:
    result = in_tree(hints, "nope.leaf.test", "MX")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        ";; status: NXDOMAIN, nope.leaf.test. IN MX",
        "leaf.test.\t60\tIN\tSOA\tns1.leaf.test. hostmaster.leaf.test. 1 1800 900 604800 60",
    ]


def test_servfail_exits_zero_with_the_reason(hints: Path) -> None:
    # broken.test's only server does not serve it and says REFUSED every time.
    result = in_tree(hints, "www.broken.test")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == ";; status: SERVFAIL, www.broken.test. IN A"
    assert lines[1].startswith(";; EDE: 22 (No Reachable Authority): ")
    assert "lame for broken.test." in lines[1]
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("garbage (((\n", "without"),
        ("a.root. 3600 IN A 127.0.0.1\n", "the root hints name no root nameservers"),
        (b"\xff\xfe\n", "is not UTF-8 text"),
    ],
    ids=["missing", "unparsable", "no-ns", "binary"],
)
def test_a_bad_root_hints_file_is_one_line_on_stderr(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "root.hints"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    result = trio_dns("www.example.test", "--root-hints", str(path), "--port", str(PORT))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("trio-dns: ")
    assert message in lines[0]


def test_sandbox_needs_no_server() -> None:
    result = trio_dns("--sandbox", "www.example.com", "--trace")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "query    www.example.com. A [example.com.]" in result.stdout
    assert result.stdout.endswith(
        ";; status: NOERROR, www.example.com. IN A\nwww.example.com.\t3600\tIN\tA\t198.51.100.80\n"
    )


def test_sandbox_and_root_hints_together_is_a_usage_error(tmp_path: Path) -> None:
    result = trio_dns("--sandbox", "www.example.com", "--root-hints", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "--sandbox brings its own root hints" in result.stderr
    assert "Traceback" not in result.stderr


def test_trace_shows_the_glueless_lookup(hints: Path) -> None:
    result = in_tree(hints, "www.glueless.test", "--trace")
    assert result.returncode == 0, result.stderr
    assert hops(result.stdout)[2:] == [
        f"query    glueless.test. NS [test.] @{NET}.2#{PORT}: referral to glueless.test.",
        "glueless ns-glueless.example. A [glueless.test.]: resolving",
        f"query    example. NS [.] @{NET}.1#{PORT}: referral to example.",
        f"query    ns-glueless.example. A [example.] @{NET}.3#{PORT}: answer",
        f"query    www.glueless.test. A [glueless.test.] @{NET}.6#{PORT}: answer",
    ]

"""What ships with trio-dns besides the code: the version, the licence, the
changelog, `trio-dns check-config`, the example configuration, the systemd unit."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path

import attrs
import dns.query
import pytest

import trio_dns
from trio_dns._cli import build_parser
from trio_dns._config import KEYS, DeprecatedKey, ServeConfig, default_text
from trio_dns._errors import DNSError
from trio_dns._server.privileges import drop_privileges
from trio_dns._server.systemd import notify

from .hostile.conftest import LOCAL_ANSWER, LOCAL_ZONE, Serve, make_query, random_loopback, serve
from .integration.servers import environment_gap, require_tool

__all__ = ["serve"]  # the fixture, imported for these tests

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def trio_dns_command(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_dns", *argv], capture_output=True, text=True, timeout=60
    )


def test_the_version_is_stated_once_in_pyproject() -> None:
    version = PYPROJECT["project"]["version"]
    assert trio_dns.__version__ == importlib.metadata.version("trio-dns") == version
    for path in (REPO / "trio_dns").rglob("*.py"):
        assert f'"{version}"' not in path.read_text(encoding="utf-8"), path


def test_version_option() -> None:
    result = trio_dns_command("--version")
    assert result.returncode == 0
    assert result.stdout == f"trio-dns {PYPROJECT['project']['version']}\n"


def test_the_licence_file_is_the_one_pyproject_names() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text


def test_the_changelog_has_an_unreleased_section_above_the_versions() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings[0] == "Unreleased"
    version = PYPROJECT["project"]["version"]
    assert any(heading.startswith(f"{version} - ") for heading in headings[1:])


# -- trio-dns check-config ------------------------------------------------------------


def test_check_config_accepts_a_good_file(tmp_path: Path) -> None:
    (tmp_path / "root.hints").write_text(". 3600 IN NS a.root.\na.root. 3600 IN A 127.0.0.1\n")
    config = tmp_path / "serve.toml"
    config.write_text('root_hints = "root.hints"\ndnssec = false\nlisten = ["127.0.0.1:5353"]\n')
    result = trio_dns_command("check-config", str(config))
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{config}: ok\n", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cache_size = 0", "'cache_size' must be a positive integer, not 0"),
        ("listn = []", "unknown key 'listn'"),
        ('zone = ["missing.zone"]', "'zone' must be a list of existing zone files"),
        ("min_ttl = 100\nmax_ttl = 10", "min_ttl 100 is above max_ttl 10"),
        ("dnssec = ", "not valid TOML"),
    ],
)
def test_check_config_names_the_bad_key_in_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(text + "\n")
    result = trio_dns_command("check-config", str(config))
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("trio-dns: ") and message in result.stderr


def test_check_config_warns_of_an_old_key_and_passes(tmp_path: Path) -> None:
    config = tmp_path / "old.toml"
    config.write_text("no_dnssec = true\n")
    result = trio_dns_command("check-config", str(config))
    assert result.returncode == 0
    assert result.stderr == (
        f"trio-dns: warning: {config}: 'no_dnssec' is deprecated; write dnssec = false\n"
    )


def test_check_config_without_a_file_is_a_usage_error() -> None:
    result = trio_dns_command("check-config")
    assert result.returncode == 2
    assert "FILE" in result.stderr


# -- dropping privileges after binding ------------------------------------------------


def _ids(pid: int) -> tuple[list[int], list[int], list[int]]:
    """The real, effective, saved and filesystem uids and gids of `pid`, and its groups."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Uid", "Gid", "Groups"):
            fields[key] = [int(word) for word in value.split()]
    return fields["Uid"], fields["Gid"], fields["Groups"]


def _need_root(why: str) -> None:
    # CI runs as root: there, not being root is a broken machine, not a skip.
    if os.geteuid() != 0:
        environment_gap(f"{why}: run the tests as root, as CI does")


def test_serve_binds_as_root_then_runs_as_the_user_and_still_answers(serve: Serve) -> None:
    _need_root("only root can bind port 53 and change user")
    nobody = pwd.getpwnam("nobody")
    server = serve("--user", "nobody")
    uids, gids, groups = _ids(server.pid)
    assert uids == [nobody.pw_uid] * 4  # real, effective, saved, filesystem
    assert gids == [nobody.pw_gid] * 4
    assert 0 not in groups
    assert f"running as nobody (uid {nobody.pw_uid}, gid {nobody.pw_gid})" in server.log()
    server.assert_serving()  # UDP and TCP, on the sockets bound as root
    # Recursion still works: upstream sockets are opened as nobody.
    reply = server.udp(make_query("www.example.com"))
    assert reply.answer, reply


def test_serve_on_port_53_as_nobody(tmp_path: Path) -> None:
    """The reason for --user: port 53 is privileged, and stays bound after the drop."""
    _need_root("binding port 53 needs root")
    host = random_loopback()
    zone = tmp_path / "hostile.zone"
    zone.write_text(LOCAL_ZONE)
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "trio_dns", "serve", "--sandbox", "--zone", str(zone)]
    command += ["--listen", f"{host}:53", "--user", "nobody", "--no-control"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=output)
    try:
        deadline = time.monotonic() + 20
        while "running as nobody" not in log.read_text() and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert process.poll() is None, log.read_text()
        assert _ids(process.pid)[0] == [pwd.getpwnam("nobody").pw_uid] * 4
        reply = dns.query.udp(make_query("www.hostile.test"), host, port=53, timeout=5)
        assert [r.to_text() for rrset in reply.answer for r in rrset] == [LOCAL_ANSWER]
        reply = dns.query.tcp(make_query("www.hostile.test"), host, port=53, timeout=5)
        assert [r.to_text() for rrset in reply.answer for r in rrset] == [LOCAL_ANSWER]
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        assert process.wait(20) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def _as_nobody(call: Callable[[], object]) -> str:
    """Run `call` in a child process that is already nobody (root's drop would
    succeed, for good, in this one); what it raised, as text, or ""."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, call, report, and never return
        try:
            os.close(read)
            nobody = pwd.getpwnam("nobody")
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                call()
            except Exception as exc:
                os.write(write, f"{type(exc).__name__}: {exc}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        raised = pipe.read().decode()
    os.waitpid(pid, 0)
    return raised


def test_only_root_can_change_user() -> None:
    other = "root"
    if os.geteuid() == 0:
        raised = _as_nobody(lambda: drop_privileges(other))
        assert re.fullmatch(f"DNSError: cannot become user '{other}'.*", raised), raised
        return
    with pytest.raises(DNSError, match=f"cannot become user '{other}'"):
        drop_privileges(other)


def test_dropping_to_an_unknown_user_is_an_error() -> None:
    with pytest.raises(DNSError, match="no such user"):
        drop_privileges("no-such-user-trio-dns")


def test_an_unknown_user_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('user = "no-such-user-trio-dns"\n')
    result = trio_dns_command("check-config", str(config))
    assert result.returncode == 1
    assert "'user' must be an existing user, not 'no-such-user-trio-dns'" in result.stderr


# -- systemd: readiness notification and the unit ------------------------------------


def _notify_socket(path: Path | str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30)
    return sock


def test_ready_reaches_the_notify_socket_once_serving_and_stopping_at_the_end(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify.sock"
    with _notify_socket(path) as listener:
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        server = serve()
        message, _ = listener.recvfrom(4096)
        assert message == b"READY=1"
        server.assert_serving()
        assert server.stop() == 0
        message, _ = listener.recvfrom(4096)
        assert message == b"STOPPING=1"


def test_ready_is_sent_only_after_binding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that cannot bind exits without saying it is ready."""
    path = tmp_path / "notify.sock"
    with (
        _notify_socket(path) as listener,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken,
    ):
        taken.bind(("127.0.0.1", 0))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        port = taken.getsockname()[1]
        result = trio_dns_command("serve", "--sandbox", "--listen", f"127.0.0.1:{port}")
        assert result.returncode == 1
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.recv(4096)


def test_notify_to_an_abstract_socket() -> None:
    name = f"trio-dns-test-{os.getpid()}"
    with _notify_socket("\0" + name) as listener:
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert listener.recv(4096) == b"READY=1"


def test_notify_without_systemd_or_with_a_dead_socket(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert not notify("READY=1", {})
    with caplog.at_level(logging.WARNING, logger="trio_dns.server"):
        assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert "cannot notify systemd" in caplog.text


UNIT = REPO / "contrib" / "trio-dns.service"


def _unit_settings() -> dict[str, str]:
    settings = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def test_the_unit_waits_for_readiness_and_reloads_with_sighup() -> None:
    settings = _unit_settings()
    assert settings["Type"] == "notify"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    # Its commands are ones trio-dns takes.
    for key in ("ExecStartPre", "ExecStart"):
        program, *argv = settings[key].split()
        assert program.endswith("/trio-dns")
        args = build_parser().parse_args(argv)
        assert args.command in ("check-config", "serve")
    assert "--user" in settings["ExecStart"]


def test_systemd_analyze_verify_finds_nothing_wrong_with_the_unit(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", "systemd")
    # verify also checks that the programs exist: point them at this checkout's.
    here = shutil.which("trio-dns") or str(REPO / ".venv/bin/trio-dns")
    unit = tmp_path / "trio-dns.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/trio-dns", here))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # It reports unknown keys and bad values as warnings with status 0: none allowed.
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


# -- the example configuration ----------------------------------------------------------

EXAMPLE = REPO / "examples" / "trio-dns.toml"
_KEY_LINE = re.compile(r"^(# )?(\w+) = (.*)$", re.MULTILINE)


def test_the_example_configuration_passes_check_config() -> None:
    result = trio_dns_command("check-config", str(EXAMPLE))
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{EXAMPLE}: ok\n", "")


def test_the_example_configuration_has_every_key_once() -> None:
    keys = [match.group(2) for match in _KEY_LINE.finditer(EXAMPLE.read_text())]
    assert sorted(keys) == sorted(KEYS), set(keys) ^ set(KEYS)


# Example values that need something outside the file: files beside it, a user.
_NEEDS_MORE = {"root_hints", "trust_anchor", "zone", "user"}


# The keys that need more are loaded with what they need by the tests of their
# own (zones, hints, anchors, --user); this one reads each line alone.
_ALONE = [m for m in _KEY_LINE.finditer(EXAMPLE.read_text()) if m.group(2) not in _NEEDS_MORE]


@pytest.mark.parametrize(
    ("commented", "key", "value"),
    [match.groups() for match in _ALONE],
    ids=[match.group(2) for match in _ALONE],
)
def test_each_commented_line_of_the_example_is_the_default_or_a_working_example(
    tmp_path: Path, commented: str | None, key: str, value: str
) -> None:
    one = tmp_path / "one.toml"
    one.write_text(f"{key} = {value}\n")
    config = ServeConfig.load({}, one)
    default = attrs.fields_dict(ServeConfig)[key].default
    if commented and default not in (None, ()):
        # "# key = value" states the default: uncommented, it changes nothing.
        assert getattr(config, key) == default
        # And the comment above it says so, as the help does.
        paragraph = EXAMPLE.read_text().split(f"\n# {key} = ")[0].rsplit("\n\n", 1)[1]
        said = " ".join(line.removeprefix("# ") for line in paragraph.splitlines())
        assert said.endswith(f"(default: {default_text(key)}).")


# -- Deckard's template -----------------------------------------------------------------

DECKARD_TEMPLATE = REPO.parent / "shared" / "deckard" / "templates" / "trio-dns.toml.j2"


def test_every_key_deckards_template_writes_is_read(tmp_path: Path) -> None:
    """scripts/deckard renders this template (outside the repository) into the
    configuration of every scenario: a key renamed here must still be read there."""
    if not DECKARD_TEMPLATE.exists():
        # CI always has ../shared beside the clone; a checkout on its own may not.
        environment_gap(f"no Deckard checkout beside this one ({DECKARD_TEMPLATE})")
    lines = re.findall(r"^(\w+) = (.*)$", DECKARD_TEMPLATE.read_text(), re.MULTILINE)
    assert lines
    for key, value in lines:
        if "{{" in value:  # a value Jinja fills in: the key alone matters
            value = {"forward": '["127.0.0.1"]', "insecure_domain": '["example"]'}.get(key, "1")
        one = tmp_path / f"{key}.toml"
        one.write_text(f"{key} = {value}\n")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecatedKey)  # the old no_* keys: read still
            ServeConfig.load({}, one)

"""What ships with trio-dns besides the code: the version, the licence, the
changelog, `trio-dns check-config`, the example configuration, the systemd unit."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import trio_dns

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

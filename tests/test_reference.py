"""docs/reference.md lists every public name, and only those; its examples run as doctests."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

import trio_dns
import trio_dns.testing

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"
# An entry is a bullet that starts with the name, in backticks, perhaps with its
# arguments (`- `read_zone(text, origin=...)`: ...`); a bullet may name more
# than one (`- `Opcode`, `Rcode`: ...`), and so may the text after it.
_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\([^`]*\))?`")


def _exported(module: types.ModuleType) -> set[str]:
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    }


def _documented() -> dict[str, set[str]]:
    """Names in backticks on each bullet, and in the text of the bullet, per module section."""
    text = REFERENCE.read_text(encoding="utf-8")
    sections = re.split(r"^## `(trio_dns(?:\.testing)?)`\n", text, flags=re.M)
    documented: dict[str, set[str]] = {}
    for module, body in zip(sections[1::2], sections[2::2], strict=True):
        names = documented.setdefault(module, set())
        for bullet in re.split(r"^- ", body, flags=re.M)[1:]:
            entry = bullet.split("\n\n")[0].split("\n```")[0]
            names.update(_NAME.findall(entry))
    return documented


@pytest.mark.parametrize("module", [trio_dns, trio_dns.testing], ids=lambda m: m.__name__)
def test_every_public_name_is_documented(module: types.ModuleType) -> None:
    documented = _documented()[module.__name__]
    missing = _exported(module) - documented
    assert not missing, f"docs/reference.md does not list {sorted(missing)}"


@pytest.mark.parametrize("module", [trio_dns, trio_dns.testing], ids=lambda m: m.__name__)
def test_every_documented_name_exists(module: types.ModuleType) -> None:
    # A bullet may mention a method (`raise_for_status()`) or another module's name
    # (`trio_dns.testing.FakeNetwork`); what starts an entry must be exported.
    text = REFERENCE.read_text(encoding="utf-8")
    sections = re.split(r"^## `(trio_dns(?:\.testing)?)`\n", text, flags=re.M)
    body = dict(zip(sections[1::2], sections[2::2], strict=True))[module.__name__]
    heads = set()
    for line in body.splitlines():
        if line.startswith("- "):
            lead = line[2:].split(":")[0]
            heads.update(_NAME.findall(lead))
    assert heads, "no entries found: has the page's format changed?"
    unknown = heads - _exported(module)
    assert not unknown, f"docs/reference.md lists {sorted(unknown)}, which {module.__name__} lacks"


def test_the_reference_is_a_doctest_and_in_the_guide() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert text.count(">>> ") > 20  # pytest runs docs/*.md as doctests
    assert "(reference.md)" in (REFERENCE.parent / "README.md").read_text(encoding="utf-8")

"""Public names say where to import them from: `trio_dns.Name`, `trio_dns.testing.FakeNetwork`."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
import traceback
import types
from typing import Any

import pytest

import trio_dns
import trio_dns.testing


def _exported(module: types.ModuleType) -> dict[str, Any]:
    return {
        name: getattr(module, name)
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    }


def _named(module: types.ModuleType) -> dict[str, Any]:
    """The exports that have a module of their own: classes and functions."""
    return {
        name: value
        for name, value in _exported(module).items()
        if isinstance(value, type | types.FunctionType)
    }


def test_every_class_and_function_of_trio_dns_says_trio_dns() -> None:
    named = _named(trio_dns)
    assert {"Name", "Resolver", "InvalidName", "RRType", "read_zone", "resolve"} <= set(named)
    for name, value in named.items():
        assert value.__module__ == "trio_dns", name
        # And that is where it is found, under the name it gives.
        assert getattr(trio_dns, value.__qualname__) is value, name


def test_the_testing_names_say_trio_dns_testing_unless_trio_dns_has_them() -> None:
    named = _named(trio_dns.testing)
    assert {"FakeNetwork", "build_sandbox", "SigningKey", "Zone"} <= set(named)
    for name, value in named.items():
        home = importlib.import_module(value.__module__)
        assert value.__module__ in ("trio_dns", "trio_dns.testing"), name
        assert getattr(home, value.__qualname__) is value, name
    assert trio_dns.testing.FakeNetwork.__module__ == "trio_dns.testing"
    assert trio_dns.testing.Zone.__module__ == "trio_dns"  # trio_dns exports it too


def test_methods_say_it_too() -> None:
    assert trio_dns.Name.from_text.__module__ == "trio_dns"
    assert trio_dns.Name.to_unicode.__module__ == "trio_dns"
    assert trio_dns.testing.SigningKey.from_seed.__module__ == "trio_dns.testing"


def test_values_pickle_through_the_public_names() -> None:
    record = trio_dns.Record(
        trio_dns.Name.from_text("www.example.com"),
        trio_dns.RRType.A,
        trio_dns.RRClass.IN,
        300,
        trio_dns.A("192.0.2.1"),
    )
    for value in (record, trio_dns.Name.from_text("bücher.example"), trio_dns.Rcode.NXDOMAIN):
        data = pickle.dumps(value)
        assert b"trio_dns._" not in data
        assert pickle.loads(data) == value


def test_a_traceback_names_the_public_exception() -> None:
    with pytest.raises(trio_dns.InvalidName) as caught:
        trio_dns.Name.from_text("a..b")
    (line,) = traceback.format_exception_only(caught.value)
    assert line.startswith("trio_dns.InvalidName: ")


def test_a_lazily_loaded_name_says_trio_dns_even_if_its_module_came_first() -> None:
    code = (
        "import trio_dns._network.resolver as private, trio_dns\n"
        "assert trio_dns.Resolver is private.Resolver\n"
        "print(private.Resolver.__module__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "trio_dns"

"""Public names say where to find them: `trio_dns.Name`, not `trio_dns._wire.name.Name`.

Theory of operation: the classes and functions of the public API are defined in
private modules and re-exported by `trio_dns` and `trio_dns.testing`, as Trio
does. Left alone, each reports its private module in `repr`, tracebacks and
`help()`, and a user who copies the name gets an import that may break in the
next release. `publish(namespace, module)` rewrites `__module__` (and that of
the methods defined in a class) to the public module, for every name it exports
whose module is private. Pickling follows `__module__`, so it then goes through
the public name too, which is the one that stays.

A name already published keeps its first public module: `Zone` is `trio_dns.Zone`
although `trio_dns.testing` exports it as well.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Any


def _private(module: str, package: str) -> bool:
    return module.startswith(package + ".") and any(
        part.startswith("_") for part in module.split(".")
    )


def publish_one(value: Any, module: str, package: str = "trio_dns") -> None:
    """Make one class or function report `module`, if it is from a private module."""
    if not isinstance(value, type | types.FunctionType):
        return  # instances (ROOT) and modules are not named by a module
    if not _private(getattr(value, "__module__", ""), package):
        return
    value.__module__ = module
    if isinstance(value, type):
        for attribute in vars(value).values():
            function = attribute
            if isinstance(attribute, classmethod | staticmethod):
                function = attribute.__func__
            elif isinstance(attribute, property):
                function = attribute.fget
            if isinstance(function, types.FunctionType) and _private(function.__module__, package):
                function.__module__ = module


def publish(namespace: Mapping[str, Any], module: str, names: Iterable[str] | None = None) -> None:
    """Publish every public name of `namespace` (or those of `names`) as `module`'s."""
    for name in list(namespace) if names is None else names:
        if not name.startswith("_"):
            publish_one(namespace[name], module)

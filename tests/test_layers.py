"""The layers form a line: each folder of trio_dns may import only the ones below it.

The allow-list is the architecture written as data: wire format at the bottom,
then DNSSEC, then the pure decisions, then the Trio network and the server, and
the CLI and configuration on top. A new import that crosses a layer the wrong
way fails here, named by file and line. The pure layers are also held to what
they may import from outside the package (no trio, no sockets), and a subprocess
shows what Python actually loads when they are imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import trio_dns

PACKAGE = Path(trio_dns.__file__).parent

# The foundations every layer may use: errors, the trust vocabulary, addresses,
# unpredictable numbers, the public names' module. They import nothing of the
# package but each other.
FOUNDATIONS = {"_errors", "_trust", "_address", "_unpredictable", "_public"}
BELOW: dict[str, set[str]] = {
    "_errors": set(),
    "_public": set(),
    "_trust": set(),
    "_address": set(),
    "_unpredictable": set(),
    "_wire": {"_errors", "_unpredictable"},
    "_dnssec": {"_wire", "_errors", "_trust"},
    "_decisions": {"_wire", "_dnssec", *FOUNDATIONS},
    "_network": {"_decisions", "_wire", "_dnssec", *FOUNDATIONS},
    "_server": {"_network", "_decisions", "_wire", "_dnssec", *FOUNDATIONS},
    "testing": {"_network", "_decisions", "_wire", "_dnssec", *FOUNDATIONS},
    "_config": {"_server", "_network", "_decisions", "_wire", "_dnssec", *FOUNDATIONS},
    # Reloading applies a configuration to the running server; `trio-dns control`
    # is the control socket's client.
    "_reload": {"_config", "_server", "_network", "_decisions", "_wire", "_dnssec", *FOUNDATIONS},
    "_control": {"_server", "_network", "_decisions", "_wire", "_dnssec", *FOUNDATIONS},
    # `trio-dns sandbox` runs the simulated internet of the testing package.
    "_cli": {
        "_reload",
        "_control",
        "_config",
        "testing",
        "_server",
        "_network",
        "_decisions",
        "_wire",
        "_dnssec",
    }
    | FOUNDATIONS,
}
# Anything may import the package root for its version string; nothing else.
ROOT_NAMES = {"__version__"}
PURE = [
    *("_errors", "_trust", "_address", "_unpredictable", "_public"),
    *("_wire", "_dnssec", "_decisions"),
]
# Outside the package, the pure layers may use the standard library minus I/O,
# and the libraries that do pure work for them.
IO_MODULES = {"trio", "socket", "asyncio", "selectors", "select", "ssl", "threading"}
PURE_THIRD_PARTY = {"attrs", "cryptography", "idna"}


def _layer_files(layer: str) -> list[Path]:
    path = PACKAGE / layer
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, names) for every import in the file."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts if parts[-1] == "__init__" else parts[:-1]
    if package[-1] == "__init__":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module, names))
    return found


def test_every_module_belongs_to_a_layer() -> None:
    known = set(BELOW) | {"__init__", "__main__", "py.typed", "data"}
    for path in PACKAGE.iterdir():
        if path.name.startswith("__pycache__"):
            continue
        assert path.name.removesuffix(".py") in known, f"{path.name} is in no layer"


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    allowed = BELOW[layer] | {layer}
    for path in _layer_files(layer):
        where = path.relative_to(PACKAGE)
        for line, module, names in _imports(path):
            parts = module.split(".")
            if parts[0] != "trio_dns":
                continue
            if len(parts) == 1:
                assert set(names) <= ROOT_NAMES, f"{where}:{line} imports {names} from trio_dns"
                continue
            assert parts[1] in allowed, f"{where}:{line} imports {module}, above {layer}"


@pytest.mark.parametrize("layer", PURE)
def test_the_pure_layers_import_no_io(layer: str) -> None:
    for path in _layer_files(layer):
        where = path.relative_to(PACKAGE)
        text = path.read_text()
        for line, module, _ in _imports(path):
            top = module.split(".")[0]
            if top == "trio_dns" or top == "__future__":
                continue
            if top == "socket":
                # Only for its address conversions, which touch no network.
                assert "inet_pton" in text, f"{where}:{line} imports socket"
                continue
            assert top not in IO_MODULES, f"{where}:{line} imports {module}"
            assert top in sys.stdlib_module_names or top in PURE_THIRD_PARTY, (
                f"{where}:{line} imports {module}, not known to be pure"
            )


def test_importing_the_pure_layers_loads_no_trio() -> None:
    # The import statements (above) are not all: this is what Python loads.
    modules = [f"trio_dns.{layer}" for layer in PURE]
    modules += [
        f"trio_dns._decisions.{path.stem}"
        for path in _layer_files("_decisions")
        if path.stem != "__init__"
    ]
    code = (
        f"import sys, {', '.join(modules)}\n"
        "print(sorted(m for m in ('trio', 'socket', 'asyncio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("[]", "['socket']")  # socket: only for inet_pton


def test_testing_is_not_imported_by_the_package() -> None:
    code = "import sys, trio_dns; print('trio_dns.testing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

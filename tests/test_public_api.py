"""The public surface: what `import trio_dns` offers, and the layering behind it."""

import ast
import subprocess
import sys
import types
from pathlib import Path

import trio_dns

EXPECTED = {
    # wire format
    "Name", "ROOT", "Message", "Header", "Question", "Record", "Edns", "EdnsOption",
    "Cookie", "ExtendedError", "GenericOption", "Flag", "Opcode", "Rcode", "RRType", "RRClass",
    "EdeCode", "EdnsOptionCode", "Rdata", "GenericRdata", "rdata_from_text",
    "A", "AAAA", "CAA", "CDNSKEY", "DNSKEY", "CDS", "DS", "MX", "NAPTR", "NSEC", "NSEC3",
    "NSEC3PARAM", "RRSIG", "CNAME", "DNAME", "NS", "PTR", "SOA", "SRV", "SSHFP", "HTTPS", "SVCB",
    "SvcParam", "SvcParamKey", "SMIMEA", "TLSA", "TXT",
    "read_zone", "read_zone_file", "zone_to_text", "root_hints", "root_trust_anchors",
    # errors
    "DNSError", "MalformedMessage", "InvalidName", "InvalidRdata", "UnknownType", "ZoneFileError",
    "ExchangeError", "QueryTimeout",
    # resolution
    "resolve", "Resolver", "ResolverSettings", "Answer", "TraceEvent", "Cache", "CacheStats", "Rank", "NegativeKind", "Validation", "Exchanger", "ExchangeStats",
    "StubResolver", "Transport", "SocketTransport", "Zone",
    # serving
    "Server", "ServerSettings", "ServerStats",
}  # fmt: skip


def test_exports_are_exactly_the_public_api() -> None:
    public = {
        name
        for name in dir(trio_dns)
        if not name.startswith("_") and not isinstance(getattr(trio_dns, name), types.ModuleType)
    }
    assert public == EXPECTED


def test_exports_claim_to_live_in_trio_dns() -> None:
    for name in EXPECTED:
        assert hasattr(trio_dns, name)


PACKAGE = Path(trio_dns.__file__).parent
# The layers that must stay pure: no trio, no sockets, nothing from the I/O layer.
PURE = [
    "_wire",
    "_dnssec",
    "_address",
    "_answer",
    "_authority",
    "_cache",
    "_recursion",
    "_servers",
    "_errors",
    "_unpredictable",
    "_iteration",
    "_cache_path",
    "_aggressive",
    "_rebinding",
    "_validation",
    "_answer_cache",
]
IO_MODULES = {"trio", "socket", "asyncio", "selectors"}
IO_LAYER = {"_transport", "_exchange", "_race", "_resolver", "_stub", "_cli", "_server", "testing"}


def _module_files(name: str) -> list[Path]:
    path = PACKAGE / name
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found.add("." * node.level + module)
    return found


def test_the_pure_layers_import_no_io() -> None:
    for name in PURE:
        for path in _module_files(name):
            for imported in _imports(path):
                top = imported.lstrip(".").split(".")[0]
                where = path.relative_to(PACKAGE)
                if not imported.startswith("."):
                    # socket is only allowed for its address conversions.
                    if top == "socket":
                        assert "inet_pton" in path.read_text(), f"{where} imports socket"
                        continue
                    assert top not in IO_MODULES, f"{where} imports {imported}"
                else:
                    assert top not in IO_LAYER, f"{where} imports the I/O layer: {imported}"


def test_testing_is_not_imported_by_the_package() -> None:
    code = "import sys, trio_dns; print('trio_dns.testing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_importing_the_pure_layers_loads_no_trio() -> None:
    # What the import statements say (above) is not all: this is what Python loads.
    modules = ", ".join(f"trio_dns.{name}" for name in PURE)
    code = (
        f"import sys, {modules}; print(sorted(m for m in ('trio', 'socket') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("[]", "['socket']")  # socket: only for inet_pton

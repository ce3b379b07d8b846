"""DNSSEC validation against real NSD servers serving signed zones.

Neither `ldns-signzone` nor `dnssec-signzone` is installed here, so most zones are
signed with `trio_dns.testing` and written out as zone-file text: NSD parses them,
and it is NSD that chooses which RRSIGs, NSEC and NSEC3 records go into each
reply (denial proofs, DS in referrals), so this checks our validator against a
real server's idea of DNSSEC. One zone, `knot.test.`, is signed by Knot DNS itself
(automatic signing, NSEC3, KSK and ZSK): keys, signatures and the NSEC3 chain
all made by another implementation. The tree: a signed root (NSEC) whose DS is
the trust anchor; `test.` (NSEC3) delegating to `good.test.` (NSEC, signed),
`knot.test.`, `plain.test.` (unsigned: no DS) and `bad.test.` (signed, but with
signatures that expired an hour ago: it must give SERVFAIL).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio

from trio_dns import Answer, EdeCode, Edns, Message, Rcode, Record, RRType, read_zone
from trio_dns._dnssec import Algorithm
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._network.transport import SocketTransport
from trio_dns._trust import Validation
from trio_dns.testing import SigningKey, make_ds, sign_zone

from .servers import PORT, RunningServer, ServerPool, _wait_until_answering, require

NET = "127.53.50"


def _soa(origin: str) -> str:
    return f"{origin} 3600 IN SOA ns.{origin} hostmaster.{origin} 1 7200 900 1209600 300"


ZONES = {
    ".": f"""
. 86400 IN SOA a.root. hostmaster.root. 1 1800 900 604800 300
. 86400 IN NS a.root.
a.root. 86400 IN A {NET}.1
test. 86400 IN NS ns.test.
ns.test. 86400 IN A {NET}.2
""",
    "test.": f"""
{_soa("test.")}
test. 3600 IN NS ns.test.
ns.test. 3600 IN A {NET}.2
good.test. 3600 IN NS ns.good.test.
ns.good.test. 3600 IN A {NET}.3
bad.test. 3600 IN NS ns.bad.test.
ns.bad.test. 3600 IN A {NET}.4
plain.test. 3600 IN NS ns.plain.test.
ns.plain.test. 3600 IN A {NET}.5
knot.test. 3600 IN NS ns.knot.test.
ns.knot.test. 3600 IN A {NET}.9
""",
    "good.test.": f"""
{_soa("good.test.")}
good.test. 3600 IN NS ns.good.test.
ns.good.test. 3600 IN A {NET}.3
www.good.test. 3600 IN A 192.0.2.80
*.wild.good.test. 3600 IN TXT "wild"
""",
    "bad.test.": f"""
{_soa("bad.test.")}
bad.test. 3600 IN NS ns.bad.test.
ns.bad.test. 3600 IN A {NET}.4
www.bad.test. 3600 IN A 192.0.2.81
""",
    "plain.test.": f"""
{_soa("plain.test.")}
plain.test. 3600 IN NS ns.plain.test.
ns.plain.test. 3600 IN A {NET}.5
www.plain.test. 3600 IN A 192.0.2.82
""",
}
KNOT_ZONE = f"""
{_soa("knot.test.")}
knot.test. 3600 IN NS ns.knot.test.
ns.knot.test. 3600 IN A {NET}.9
www.knot.test. 3600 IN A 192.0.2.99
"""
ADDRESSES = {".": 1, "test.": 2, "good.test.": 3, "bad.test.": 4, "plain.test.": 5}


def _records(origin: str) -> list[Record]:
    return read_zone(ZONES[origin], origin=origin)


def _text(records: list[Record]) -> str:
    return "".join(record.to_text() + "\n" for record in records)


def _knot_signing_config(directory: Path, host: str) -> str:
    d = directory
    return f"""\
server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: {host}@{PORT}
control:
    listen: "{d}/knot.sock"
log:
  - target: "{d}/server.log"
    any: info
database:
    storage: "{d}/db"
policy:
  - id: signed
    algorithm: ecdsap256sha256
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: knot.test.
    file: "{d}/knot.zone"
    dnssec-signing: on
    dnssec-policy: signed
"""


def _start_signing_knot(directory: Path) -> RunningServer:
    """Knot DNS serving knot.test., which it signs itself at load."""
    path = require("knot")
    host = f"{NET}.9"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "db").mkdir(exist_ok=True)
    (directory / "knot.zone").write_text(KNOT_ZONE)
    config = directory / "knot.conf"
    config.write_text(_knot_signing_config(directory, host))
    with (directory / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            [path, "-c", str(config)],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    return RunningServer("knot", host, PORT, directory, process)


def _ksk_ds(address: tuple[str, int]) -> Record:
    """The DS of the key-signing key a server publishes for knot.test."""
    query = Message.make_query("knot.test.", "DNSKEY", edns=Edns(dnssec_ok=True))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.connect(address)
        sock.send(query.to_wire())
        reply = Message.from_wire(sock.recv(65535))
    ksk = next(
        r for r in reply.answer if r.rtype == RRType.DNSKEY and getattr(r.rdata, "sep", False)
    )
    return make_ds(ksk)


@attrs.frozen
class Tree:
    anchor: Record


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tree]:
    require("nsd")
    now = int(time.time())

    def sign(records: list[Record], origin: str, **options: str) -> list[Record]:
        return sign_zone(
            records,
            [keys[origin]],
            inception=now - 3600,
            expiration=now + 86400,
            denial="nsec3" if options.get("denial") == "nsec3" else "nsec",
        )

    keys = {
        origin: SigningKey.generate(origin, Algorithm.ECDSAP256SHA256, ksk=True)
        for origin in (".", "test.", "good.test.", "bad.test.")
    }
    knot = _start_signing_knot(tmp_path_factory.mktemp("knot-signer"))
    try:
        _wait_until_answering(knot, ["knot.test."])
        knot_ds = _ksk_ds(knot.address)
    except BaseException:
        knot.stop()
        raise
    signed = {
        ".": sign([*_records("."), keys["test."].ds()], "."),
        "test.": sign(
            [
                *_records("test."),
                keys["good.test."].ds(),
                keys["bad.test."].ds(),
                knot_ds,
            ],
            "test.",
            denial="nsec3",
        ),
        "good.test.": sign(_records("good.test."), "good.test."),
        "bad.test.": sign_zone(
            _records("bad.test."),
            [keys["bad.test."]],
            inception=now - 7200,
            expiration=now - 3600,
        ),
        "plain.test.": _records("plain.test."),
    }
    try:
        with ServerPool(tmp_path_factory.mktemp("dnssec")) as pool:
            pool.start_many(
                ("nsd", f"{NET}.{ADDRESSES[origin]}", {origin: _text(records)})
                for origin, records in signed.items()
            )
            yield Tree(keys["."].ds())
    finally:
        knot.stop()


def make(tree: Tree) -> Resolver:
    return Resolver(
        root_hints=read_zone(f". 3600 IN NS a.root.\na.root. 3600 IN A {NET}.1\n", origin="."),
        transport=SocketTransport(),
        settings=ResolverSettings(port=PORT, deadline=5.0, trust_anchors=(tree.anchor,)),
    )


async def resolve(resolver: Resolver, name: str, qtype: str = "A", cd: bool = False) -> Answer:
    with trio.fail_after(10):
        return await resolver.resolve(name, qtype, cd=cd)


async def test_secure_answer(tree: Tree) -> None:
    answer = await resolve(make(tree), "www.good.test")
    assert answer.rcode == Rcode.NOERROR
    assert [r.rdata.to_text() for r in answer.records] == ["192.0.2.80"]
    assert answer.validation is Validation.SECURE
    assert answer.rrsigs


async def test_secure_denials(tree: Tree) -> None:
    resolver = make(tree)
    nx = await resolve(resolver, "nope.good.test")
    assert (nx.rcode, nx.validation) == (Rcode.NXDOMAIN, Validation.SECURE)
    nodata = await resolve(resolver, "www.good.test", "MX")
    assert (nodata.rcode, nodata.validation) == (Rcode.NOERROR, Validation.SECURE)
    # NSD's NSEC3 proofs from the signed TLD.
    tld_nx = await resolve(resolver, "nope.test")
    assert (tld_nx.rcode, tld_nx.validation) == (Rcode.NXDOMAIN, Validation.SECURE)


async def test_wildcard(tree: Tree) -> None:
    answer = await resolve(make(tree), "x.wild.good.test", "TXT")
    assert answer.rcode == Rcode.NOERROR
    assert answer.validation is Validation.SECURE


async def test_insecure_delegation(tree: Tree) -> None:
    answer = await resolve(make(tree), "www.plain.test")
    assert [r.rdata.to_text() for r in answer.records] == ["192.0.2.82"]
    assert answer.validation is Validation.INSECURE


async def test_bogus_zone_is_servfail(tree: Tree) -> None:
    resolver = make(tree)
    answer = await resolve(resolver, "www.bad.test")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.validation is Validation.BOGUS
    assert answer.error is not None and answer.error.info_code == EdeCode.SIGNATURE_EXPIRED
    unchecked = await resolve(resolver, "www.bad.test", cd=True)
    assert [r.rdata.to_text() for r in unchecked.records] == ["192.0.2.81"]


async def test_ds_and_dnskey_answers_are_validated(tree: Tree) -> None:
    resolver = make(tree)
    ds = await resolve(resolver, "good.test", "DS")
    assert ds.validation is Validation.SECURE and ds.rrset(RRType.DS)
    dnskey = await resolve(resolver, "good.test", "DNSKEY")
    assert dnskey.validation is Validation.SECURE and dnskey.rrset(RRType.DNSKEY)


async def test_zone_signed_by_knot(tree: Tree) -> None:
    resolver = make(tree)
    answer = await resolve(resolver, "www.knot.test")
    assert [r.rdata.to_text() for r in answer.records] == ["192.0.2.99"]
    assert answer.validation is Validation.SECURE
    nx = await resolve(resolver, "nope.knot.test")
    assert (nx.rcode, nx.validation) == (Rcode.NXDOMAIN, Validation.SECURE)
    nodata = await resolve(resolver, "www.knot.test", "TXT")
    assert (nodata.rcode, nodata.validation) == (Rcode.NOERROR, Validation.SECURE)


def _write_hints_and_anchor(directory: Path, tree: Tree) -> tuple[Path, Path]:
    hints = directory / "root.hints"
    hints.write_text(f". 3600 IN NS a.root.\na.root. 3600 IN A {NET}.1\n")
    anchor = directory / "root.ds"
    anchor.write_text(tree.anchor.to_text() + "\n")
    return hints, anchor


def test_resolve_command_traces_the_chain_of_trust(tree: Tree, tmp_path: Path) -> None:
    hints, anchor = _write_hints_and_anchor(tmp_path, tree)
    argv = [sys.executable, "-m", "trio_dns", "resolve", "www.good.test", "--trace"]
    argv += ["--root-hints", str(hints), "--trust-anchor", str(anchor), "--port", str(PORT)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert ";; dnssec: secure" in out.stdout
    dnssec_lines = [line for line in out.stdout.splitlines() if " dnssec " in line]
    assert any("DNSKEY good.test. verified" in line for line in dnssec_lines)
    bogus = subprocess.run([*argv[:4], "www.bad.test", *argv[5:]], capture_output=True, text=True)
    assert "status: SERVFAIL" in bogus.stdout and "Signature Expired" in bogus.stdout


def test_served_with_ad_to_dig(tree: Tree, tmp_path: Path) -> None:
    hints, anchor = _write_hints_and_anchor(tmp_path, tree)
    listen = f"{NET}.100"
    argv = [sys.executable, "-m", "trio_dns", "serve", "--listen", f"{listen}:{PORT}"]
    argv += [
        "--root-hints",
        str(hints),
        "--trust-anchor",
        str(anchor),
        "--upstream-port",
        str(PORT),
    ]
    argv += ["--allow", "127.0.0.0/8"]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as server:
        try:
            _check_served(server, listen)
        finally:
            server.terminate()
            server.wait(10)


def _check_served(server: subprocess.Popen[str], listen: str) -> None:
    assert server.stdout is not None
    assert "serving on" in server.stdout.readline()
    dig = ["dig", f"@{listen}", "-p", str(PORT), "+dnssec", "+tries=1", "+time=5"]
    good = subprocess.run([*dig, "www.good.test"], capture_output=True, text=True).stdout
    assert "status: NOERROR" in good and " ad" in good.split("flags:")[1].split(";")[0]
    assert "RRSIG" in good
    bad = subprocess.run([*dig, "www.bad.test"], capture_output=True, text=True).stdout
    assert "status: SERVFAIL" in bad and "EDE: 7" in bad
    unchecked = subprocess.run([*dig, "+cd", "www.bad.test"], capture_output=True, text=True)
    assert "status: NOERROR" in unchecked.stdout


def test_resolve_command_with_a_negative_trust_anchor(tree: Tree, tmp_path: Path) -> None:
    hints, anchor = _write_hints_and_anchor(tmp_path, tree)
    argv = [sys.executable, "-m", "trio_dns", "resolve", "www.bad.test", "--port", str(PORT)]
    argv += ["--root-hints", str(hints), "--trust-anchor", str(anchor)]
    bogus = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert "status: SERVFAIL" in bogus.stdout
    forgiven = subprocess.run(
        [*argv, "--insecure-domain", "bad.test"], capture_output=True, text=True, timeout=30
    )
    assert "status: NOERROR" in forgiven.stdout and ";; dnssec: insecure" in forgiven.stdout

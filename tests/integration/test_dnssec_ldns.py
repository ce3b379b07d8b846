"""Validation of zones signed by another implementation: ldns-signzone (Debian's
ldnsutils), served by NSD. Keys, signatures, NSEC and NSEC3 chains all come from
ldns; the only thing of ours is the validator.

The hierarchy: "." (NSEC) -> "ldns." (NSEC3) -> "good.ldns." (NSEC, valid) and
"bad.ldns." (NSEC, signatures that expired yesterday).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from trio_dns import EdeCode, Rcode, Record, RRType, read_zone, read_zone_file
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._network.transport import SocketTransport
from trio_dns._trust import Validation

from .servers import PORT, ServerPool, require, require_tool

NET = "127.53.51"
ADDRESSES = {".": 1, "ldns.": 2, "good.ldns.": 3, "bad.ldns.": 4}

ZONES = {
    ".": f"""
. 86400 IN SOA a.root. hostmaster.root. 1 1800 900 604800 300
. 86400 IN NS a.root.
a.root. 86400 IN A {NET}.1
ldns. 86400 IN NS ns.ldns.
ns.ldns. 86400 IN A {NET}.2
""",
    "ldns.": f"""
ldns. 3600 IN SOA ns.ldns. hostmaster.ldns. 1 7200 900 1209600 300
ldns. 3600 IN NS ns.ldns.
ns.ldns. 3600 IN A {NET}.2
good.ldns. 3600 IN NS ns.good.ldns.
ns.good.ldns. 3600 IN A {NET}.3
bad.ldns. 3600 IN NS ns.bad.ldns.
ns.bad.ldns. 3600 IN A {NET}.4
""",
    "good.ldns.": f"""
good.ldns. 3600 IN SOA ns.good.ldns. hostmaster.good.ldns. 1 7200 900 1209600 300
good.ldns. 3600 IN NS ns.good.ldns.
ns.good.ldns. 3600 IN A {NET}.3
www.good.ldns. 3600 IN A 192.0.2.80
*.wild.good.ldns. 3600 IN A 192.0.2.81
""",
    "bad.ldns.": f"""
bad.ldns. 3600 IN SOA ns.bad.ldns. hostmaster.bad.ldns. 1 7200 900 1209600 300
bad.ldns. 3600 IN NS ns.bad.ldns.
ns.bad.ldns. 3600 IN A {NET}.4
www.bad.ldns. 3600 IN A 192.0.2.66
""",
}


def _ldns(tool: str) -> str:
    return require_tool(tool, "ldnsutils")


def _stamp(seconds: float) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds))


def _sign(
    directory: Path, origin: str, text: str, *, nsec3: bool, expired: bool
) -> tuple[str, Path]:
    """Sign `text` with a fresh ECDSA P-256 key; returns (signed zone text, DS file)."""
    made = subprocess.run(
        [_ldns("ldns-keygen"), "-a", "ECDSAP256SHA256", "-k", origin],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
    )
    base = made.stdout.strip()
    unsigned = directory / f"{origin or 'root'}zone"
    unsigned.write_text(text)
    now = time.time()
    times = (now - 2 * 86400, now - 86400) if expired else (now - 3600, now + 7 * 86400)
    argv = [_ldns("ldns-signzone"), "-o", origin, "-i", _stamp(times[0]), "-e", _stamp(times[1])]
    if nsec3:
        argv += ["-n", "-t", "1", "-s", "abcd"]
    signed = directory / f"{origin or 'root'}signed"
    subprocess.run([*argv, "-f", str(signed), str(unsigned), base], cwd=directory, check=True)
    return signed.read_text(), directory / f"{base}.ds"


@pytest.fixture(scope="module")
def anchor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Record]:
    require("nsd")
    directory = tmp_path_factory.mktemp("ldns")
    # Bottom up: each parent carries its children's DS records before it is signed.
    good, good_ds = _sign(directory, "good.ldns.", ZONES["good.ldns."], nsec3=False, expired=False)
    bad, bad_ds = _sign(directory, "bad.ldns.", ZONES["bad.ldns."], nsec3=False, expired=True)
    tld_text = ZONES["ldns."] + good_ds.read_text() + bad_ds.read_text()
    tld, tld_ds = _sign(directory, "ldns.", tld_text, nsec3=True, expired=False)
    root, root_ds = _sign(
        directory, ".", ZONES["."] + tld_ds.read_text(), nsec3=False, expired=False
    )
    signed = {".": root, "ldns.": tld, "good.ldns.": good, "bad.ldns.": bad}
    (trust_anchor,) = read_zone_file(str(root_ds), default_ttl=3600)
    with ServerPool(directory / "servers") as pool:
        pool.start_many(("nsd", f"{NET}.{ADDRESSES[o]}", {o: text}) for o, text in signed.items())
        yield trust_anchor


def make(anchor: Record) -> Resolver:
    return Resolver(
        root_hints=read_zone(f". 3600 IN NS a.root.\na.root. 3600 IN A {NET}.1\n", origin="."),
        transport=SocketTransport(),
        settings=ResolverSettings(port=PORT, deadline=5.0, trust_anchors=(anchor,)),
    )


async def resolve(resolver: Resolver, name: str, qtype: str = "A"):  # type: ignore[no-untyped-def]
    with trio.fail_after(10):
        return await resolver.resolve(name, qtype)


async def test_answer_signed_by_ldns_is_secure(anchor: Record) -> None:
    answer = await resolve(make(anchor), "www.good.ldns")
    assert answer.rcode == Rcode.NOERROR
    assert answer.validation is Validation.SECURE
    assert [str(r.rdata) for r in answer.records] == ["192.0.2.80"]
    assert {r.rtype for r in answer.rrsigs} == {RRType.RRSIG}


async def test_ldns_denials_and_wildcards_are_proven(anchor: Record) -> None:
    resolver = make(anchor)
    nxdomain = await resolve(resolver, "nope.good.ldns")
    assert nxdomain.rcode == Rcode.NXDOMAIN and nxdomain.validation is Validation.SECURE
    nodata = await resolve(resolver, "www.good.ldns", "AAAA")
    assert nodata.rcode == Rcode.NOERROR and not nodata.records
    assert nodata.validation is Validation.SECURE
    wild = await resolve(resolver, "x.wild.good.ldns")
    assert wild.validation is Validation.SECURE and [str(r.rdata) for r in wild.records] == [
        "192.0.2.81"
    ]
    # An NSEC3 denial from the TLD signed by ldns.
    missing = await resolve(resolver, "nothere.ldns")
    assert missing.rcode == Rcode.NXDOMAIN and missing.validation is Validation.SECURE


async def test_expired_ldns_signatures_are_bogus(anchor: Record) -> None:
    answer = await resolve(make(anchor), "www.bad.ldns")
    assert answer.rcode == Rcode.SERVFAIL
    assert answer.validation is Validation.BOGUS
    assert answer.error is not None and answer.error.info_code == EdeCode.SIGNATURE_EXPIRED

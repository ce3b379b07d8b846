"""The sandbox's signed zones: a chain from the root that validates, and the cases beside it.

In memory, a resolver given `Sandbox.trust_anchor` validates `www.secure.example`,
refuses the forged `www.bogus.example` and answers the unsigned names as insecure.
On loopback, `trio-dns sandbox` writes the trust anchor next to the root hints, and
the real `trio-dns serve` and `trio-dns resolve` started from them set AD for the
signed name only; dig shows the RRSIGs, and BIND's delv, validating for itself,
agrees with them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import trio

from tests.integration.servers import require_tool
from tests.test_sandbox_loopback import free_port, running_sandbox, start
from trio_dns import Name, Record, RRType, Zone, read_zone_file
from trio_dns._dnssec.verify import VerifyStatus, verify_rrset
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._trust import Validation
from trio_dns._wire.rdtypes.rrsig import RRSIG
from trio_dns._wire.rrset import rrsets
from trio_dns.testing import FakeNetwork, build_sandbox
from trio_dns.testing._loopback import LoopbackSandbox
from trio_dns.testing._sandbox_dnssec import EXPIRATION, INCEPTION

PREFIX = "127.64"
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "08-dnssec.md"
PORT = free_port()
TIMEOUT = 5.0


def n(text: str) -> Name:
    return Name.from_text(text)


async def _outcomes(
    network: FakeNetwork, hints: tuple[Record, ...], anchor: tuple[Record, ...] | None
) -> dict[str, tuple[str, Validation]]:
    resolver = Resolver(
        root_hints=hints, transport=network, settings=ResolverSettings(trust_anchors=anchor)
    )
    outcomes = {}
    for name in [
        "www.secure.example",
        "nope.secure.example",
        "www.bogus.example",
        "www.unsigned.example",
        "www.example.com",
        "www.mine.example",
    ]:
        answer = await resolver.resolve(n(name), RRType.A)
        outcomes[name] = (answer.rcode.name, answer.validation)
    return outcomes


SECURE = {
    "www.secure.example": ("NOERROR", Validation.SECURE),
    "nope.secure.example": ("NXDOMAIN", Validation.SECURE),
    "www.bogus.example": ("SERVFAIL", Validation.BOGUS),
    "www.unsigned.example": ("NOERROR", Validation.INSECURE),
    "www.example.com": ("NOERROR", Validation.INSECURE),
}


async def test_the_in_memory_sandbox_validates_from_its_trust_anchor(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox = build_sandbox()
    outcomes = await _outcomes(sandbox.network, sandbox.root_hints, sandbox.trust_anchor)
    assert outcomes == {**SECURE, "www.mine.example": ("NXDOMAIN", Validation.SECURE)}


async def test_without_a_trust_anchor_the_signed_sandbox_answers_as_before(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox = build_sandbox()
    outcomes = await _outcomes(sandbox.network, sandbox.root_hints, None)
    # The forged record is served, unchecked, as any unvalidating resolver would take it.
    assert outcomes["www.bogus.example"] == ("NOERROR", Validation.INDETERMINATE)
    assert {validation for _, validation in outcomes.values()} == {Validation.INDETERMINATE}
    # Nothing asked for DNSSEC records: without DO, no server sent any.
    assert sandbox.network.exchanges
    for exchange in sandbox.network.exchanges:
        reply = exchange.reply
        if reply is None or isinstance(reply, bytes):
            continue
        for record in (*reply.answer, *reply.authority, *reply.additional):
            assert record.rtype not in (RRType.RRSIG, RRType.NSEC, RRType.NSEC3, RRType.DS)


def test_the_signatures_and_the_anchor_are_the_same_on_every_build() -> None:
    first, second = build_sandbox(), build_sandbox()

    def signed(sandbox: object) -> list[tuple[str, ...]]:
        return sorted(
            tuple(r.to_text() for r in zone.records)
            for server in sandbox.network.servers  # type: ignore[attr-defined]
            for zone in server.zones
        )

    assert signed(first) == signed(second)
    assert first.trust_anchor == second.trust_anchor
    assert LoopbackSandbox.build(prefix=PREFIX, port=PORT).trust_anchor == first.trust_anchor
    (anchor,) = first.trust_anchor
    assert anchor.name == n(".") and anchor.rtype == RRType.DS
    # The window is wide around now, and within what serial arithmetic can compare.
    rrsigs = [
        r.rdata
        for server in first.network.servers
        for zone in server.zones
        for r in zone.records
        if isinstance(r.rdata, RRSIG)
    ]
    assert rrsigs
    assert {(sig.inception, sig.expiration) for sig in rrsigs} == {(INCEPTION, EXPIRATION)}
    assert EXPIRATION - INCEPTION < 2**31


OWN = """
mine.example. 600 IN SOA ns.mine.example. me.mine.example. 1 7200 900 1209600 300
mine.example. 600 IN NS ns.elsewhere.example.
www.mine.example. 600 IN A 192.0.2.99
"""


async def test_the_loopback_zones_are_signed_again_after_the_move(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The moved nameserver addresses are signed data, and a zone added below a
    signed parent changes its NSEC3 chain: both validate, checked on the fake
    network so that only the signatures are under test."""
    sandbox = LoopbackSandbox.build(prefix=PREFIX, port=PORT, zones=[Zone.from_text(OWN)])
    moved = [
        r
        for server in sandbox.servers
        for zone in server.zones
        if zone.origin == n("example.")
        for r in zone.records
        if r.name == n("ns1.nic.example.") and r.rtype == RRType.A
    ]
    assert [r.rdata.to_text() for r in moved] == [f"{PREFIX}.2.40"]
    # Every signature in every signed zone verifies, but the forger's.
    now = (INCEPTION + EXPIRATION) // 2
    checked = set()
    for server in sandbox.servers:
        for zone in server.zones:
            keys = zone.rrset(zone.origin, RRType.DNSKEY)
            signatures = [r for r in zone.records if r.rtype == RRType.RRSIG]
            for (owner, rtype, _), rrset in rrsets(zone.records, signatures=False).items():
                covering = [
                    s for s in signatures if s.name == owner and s.rdata.type_covered == rtype
                ]
                if not covering:
                    continue
                result = verify_rrset(rrset, covering, keys, now)
                forged = (owner, rtype) == (n("www.bogus.example."), RRType.A)
                status = VerifyStatus.BOGUS if forged else VerifyStatus.SECURE
                assert result.status == status, (owner, rtype, result)
                checked.add(zone.origin)
    assert {n("."), n("example."), n("secure.example."), n("bogus.example.")} == checked
    network = FakeNetwork()
    for server in sandbox.servers:
        if server.addresses:
            network.add(server)
    settings = ResolverSettings(trust_anchors=sandbox.trust_anchor, port=PORT, use_ipv6=False)
    resolver = Resolver(root_hints=sandbox.root_hints, transport=network, settings=settings)
    outcomes = {}
    for name in [*SECURE, "www.mine.example"]:
        answer = await resolver.resolve(n(name), RRType.A)
        outcomes[name] = (answer.rcode.name, answer.validation)
    assert outcomes == {**SECURE, "www.mine.example": ("NOERROR", Validation.INSECURE)}


# -- on loopback, with the real programs ----------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    hints = tmp_path_factory.mktemp("signed") / "sandbox.hints"
    with running_sandbox(hints, "--no-ipv6", prefix=PREFIX, port=PORT) as process:
        listing = "".join(process.seen)
        anchor = hints.with_suffix(".anchor")
        assert f"trust anchor: {anchor}" in listing
        yield hints, anchor


def test_the_sandbox_writes_the_root_ds_next_to_the_hints(files: tuple[Path, Path]) -> None:
    _, anchor = files
    assert tuple(read_zone_file(anchor)) == build_sandbox().trust_anchor


def _dig(server: str, port: int, name: str, *options: str) -> str:
    path = require_tool("dig", "dnsutils")
    result = subprocess.run(
        [path, f"@{server}", "-p", str(port), name, "A", "+tries=1", "+time=5", *options],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert re.search(r"status: \w+", result.stdout), result.stdout  # dig errors on stdout
    return result.stdout


def test_trio_dns_serve_sets_ad_for_the_signed_name_only(files: tuple[Path, Path]) -> None:
    hints, anchor = files
    listen = f"{PREFIX}.0.53"
    serve = start(
        "serve",
        "--root-hints",
        str(hints),
        "--trust-anchor",
        str(anchor),
        "--upstream-port",
        str(PORT),
        "--listen",
        f"{listen}:{PORT}",
        "--allow",
        "127.0.0.0/8",
    )
    try:
        serve.wait_for("serving on", stream="stderr")

        def ask(name: str) -> dns.message.Message:
            query = dns.message.make_query(name, "A", want_dnssec=True)
            return dns.query.udp(query, listen, timeout=TIMEOUT, port=PORT)

        secure = ask("www.secure.example")
        assert secure.rcode() == dns.rcode.NOERROR and secure.flags & dns.flags.AD
        assert {dns.rdatatype.to_text(rrset.rdtype) for rrset in secure.answer} == {"A", "RRSIG"}
        denied = ask("nope.secure.example")
        assert denied.rcode() == dns.rcode.NXDOMAIN and denied.flags & dns.flags.AD
        bogus = ask("www.bogus.example")
        assert bogus.rcode() == dns.rcode.SERVFAIL and not bogus.answer
        for name in ("www.unsigned.example", "www.example.com"):
            reply = ask(name)
            assert reply.rcode() == dns.rcode.NOERROR and reply.answer, name
            assert not reply.flags & dns.flags.AD, name

        # As a reader sees it: dig +dnssec shows the ad flag and the RRSIG.
        shown = _dig(listen, PORT, "www.secure.example", "+dnssec")
        flags = re.search(r";; flags: ([a-z ]*);", shown)
        assert flags and "ad" in flags.group(1).split()
        signature = re.search(r"^www\.secure\.example\.\s+\d+\s+IN\s+RRSIG\s+(.*)$", shown, re.M)
        assert signature and signature.group(1).startswith("A 15 3 3600 20560101000000 ")
        # The guide shows the same signature: it is the same on every run.
        assert f"www.secure.example.\t3600\tIN\tRRSIG\t{signature.group(1)}\n" in GUIDE.read_text()
        assert "status: SERVFAIL" in _dig(listen, PORT, "www.bogus.example", "+dnssec")

        # delv validates by itself, through our server, from the same anchor.
        delv = shutil.which("delv")
        if delv is not None:
            (ds,) = read_zone_file(anchor)
            key_tag, algorithm, digest_type, digest = ds.rdata.to_text().split()
            config = anchor.with_name("delv.conf")
            config.write_text(
                f'trust-anchors {{ . static-ds {key_tag} {algorithm} {digest_type} "{digest}"; }};\n'
            )

            def delv_says(name: str) -> str:
                result = subprocess.run(
                    [delv, f"@{listen}", "-p", str(PORT), "-a", str(config), name, "A"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                )
                return result.stdout + result.stderr

            assert "; fully validated" in delv_says("www.secure.example")
            assert "; unsigned answer" in delv_says("www.unsigned.example")
            assert "resolution failed" in delv_says("www.bogus.example")
    finally:
        assert serve.stop() == 0


def test_trio_dns_query_asks_for_a_unicode_name_by_its_a_label(files: tuple[Path, Path]) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "trio_dns", "query", "bücher.secure.example", "A"),
            *(f"@{PREFIX}.100.60", "-p", str(PORT), "--norecurse", "--dnssec"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "status: NOERROR" in result.stdout
    answer = re.findall(
        r"^xn--bcher-kva\.secure\.example\.\s+\d+\s+IN\s+(\w+)", result.stdout, re.M
    )
    assert answer == ["A", "RRSIG"]


def test_trio_dns_resolve_validates_through_the_loopback_sandbox(
    files: tuple[Path, Path],
) -> None:
    hints, anchor = files

    def resolve(name: str) -> str:
        result = subprocess.run(
            [
                *(sys.executable, "-m", "trio_dns", "resolve", "--root-hints", str(hints)),
                *("--trust-anchor", str(anchor), "--port", str(PORT), "--no-ipv6", name),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert ";; dnssec: secure" in resolve("www.secure.example")
    # An internationalised name, typed in Unicode, validates like any other.
    books = resolve("bücher.secure.example")
    assert ";; dnssec: secure" in books
    assert "xn--bcher-kva.secure.example.\t3600\tIN\tA\t198.51.100.90" in books
    bogus = resolve("www.bogus.example")
    assert "status: SERVFAIL" in bogus and ";; dnssec: bogus" in bogus
    assert ";; dnssec: insecure" in resolve("www.unsigned.example")

    # The in-memory sandbox has the same keys: the anchor file validates it too.
    result = subprocess.run(
        [
            *(sys.executable, "-m", "trio_dns", "resolve", "--sandbox"),
            *("--trust-anchor", str(anchor), "www.secure.example"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert ";; dnssec: secure" in result.stdout

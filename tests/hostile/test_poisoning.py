"""Cache poisoning by the upstreams themselves, and the ANY flood, against the real server.

The upstreams are the sandbox's authoritative servers on loopback sockets
(`LoopbackSandbox`, run in a thread of this process), plus the test's own:

- a forwarder for `corp` that adds, to every answer, records outside `corp`: an
  address for www.example.com, a root NS set and its glue. The real server
  keeps only what lies inside `corp`, resolves the rest from the root, and the
  root keeps its servers;
- an authoritative server for example.com that adds out-of-bailiwick records to
  every section (an address for a name in another TLD, NS sets for `com` and
  the root, glue for com's servers) and stops CNAME chains after five links, as
  Knot DNS does: the chain is followed to its end, nothing outside example.com
  is believed.

The ANY flood runs on `--sandbox`: many ANY questions at once, each answered (as
Unbound does, RFC 8482) with no SERVFAIL and no traceback in the log; with
`--deny-any`, NOTIMP.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import attrs
import dns.message
import dns.rcode
import dns.rdatatype

from trio_dns import Flag, Message, Record, RRType
from trio_dns._wire.zone import read_zone
from trio_dns.testing import AuthoritativeServer, Behaviour, Zone, answer_query
from trio_dns.testing._loopback import LoopbackSandbox

from .conftest import TIMEOUT, Serve, internet, make_query

FORGED = "203.0.113.66"

CORP = """
$ORIGIN corp.
$TTL 600
@ SOA ns hostmaster 1 7200 900 1209600 300
@ NS ns
ns A 192.0.2.54
host A 10.1.2.3
alias CNAME www.example.com.
"""

# What the malicious upstreams add, section by section (the forwarder for corp
# also an address for www.example.com, which example.com's own server may give).
PLANTED = {
    "answer": f"www.bank.net. 86400 IN A {FORGED}\n",
    "authority": ". 86400 IN NS ns.evil.test.\ncom. 86400 IN NS ns.evil.test.\n",
    "additional": f"ns.evil.test. 86400 IN A {FORGED}\nns1.nic.com. 86400 IN A {FORGED}\n",
}


def planted(section: str, extra: str = "") -> tuple[Record, ...]:
    return tuple(read_zone(PLANTED[section] + extra, origin=None))


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(r.to_text() for rrset in reply.answer for r in rrset if rrset.rdtype in (1, 28))


def poisoning(
    zones: list[Zone], *, recursive: bool, cut_chains: int = 0, extra: str = ""
) -> Behaviour:
    """Answers from `zones` with every PLANTED record added, and `extra` in the
    answer section (RA set if `recursive`: a forwarder's reply); CNAME chains
    cut after `cut_chains` links (0: not cut)."""
    answer = planted("answer", extra)
    authority, additional = planted("authority"), planted("additional")

    def handler(query: Message) -> Message:
        reply = answer_query(zones, query)
        chain = reply.answer
        cnames = [r for r in chain if r.rtype == RRType.CNAME]
        if cut_chains and len(cnames) > cut_chains:
            chain = tuple(cnames[:cut_chains])  # no data, no SOA: Knot's way
        reply = attrs.evolve(
            reply,
            answer=(*chain, *answer),
            authority=(*reply.authority, *authority),
            additional=(*reply.additional, *additional),
        )
        if recursive:
            reply = reply.evolve_header(flags=reply.flags | Flag.RA)
        return reply

    return Behaviour(handler=handler)


# -- a malicious forwarder ------------------------------------------------------------


def test_a_forward_zone_upstream_cannot_poison_other_names(serve: Serve, tmp_path: Path) -> None:
    def add_forwarder(sandbox: LoopbackSandbox, prefix: str, port: int) -> LoopbackSandbox:
        evil = AuthoritativeServer.make(
            [(f"{prefix}.0.54", port)],
            behaviour=poisoning(
                [Zone.from_text(CORP)],
                recursive=True,
                extra=f"www.example.com. 86400 IN A {FORGED}\n",
            ),
            name="evil forwarder",
        )
        return attrs.evolve(sandbox, servers=(*sandbox.servers, evil))

    with internet(tmp_path, add_forwarder) as (hints, port, prefix):
        server = serve(
            "--root-hints",
            str(hints),
            "--upstream-port",
            str(port),
            "--forward-zone",
            f"corp={prefix}.0.54:{port}",
            sandbox=False,
        )
        host = server.udp(make_query("host.corp"))
        assert host.rcode() == dns.rcode.NOERROR and addresses(host) == ["10.1.2.3"]
        # The chain leaves corp: the target comes from the root, not the forwarder.
        alias = server.udp(make_query("alias.corp"))
        assert addresses(alias) == ["198.51.100.80"]
        for name, expected in [
            ("www.example.com", ["198.51.100.80"]),
            # New names after the forwarder's root NS set: the root is still the root.
            ("mail.example.com", ["198.51.100.25"]),
            ("www.cdn.net", ["198.51.100.41"]),
        ]:
            reply = server.udp(make_query(name))
            assert reply.rcode() == dns.rcode.NOERROR, name
            assert addresses(reply) == expected, name
        # Nor does the cache hand out what the forwarder planted beside its answers.
        bank = server.udp(make_query("www.bank.net", flags=0))
        assert FORGED not in addresses(bank)
        server.assert_serving()


# -- a malicious authoritative server -----------------------------------------------------


def test_an_authoritative_server_cannot_plant_records_outside_its_zone(
    serve: Serve, tmp_path: Path
) -> None:
    chain = "".join(f"k{i}.example.com. 300 IN CNAME k{i + 1}.example.com.\n" for i in range(9))
    chain += "k9.example.com. 300 IN A 198.51.100.99\n"

    def corrupt_example(sandbox: LoopbackSandbox, prefix: str, port: int) -> LoopbackSandbox:
        (example,) = [s for s in sandbox.servers if s.name == "ns1.example.com"]
        (zone,) = example.zones
        longer = Zone.from_records(zone.origin, (*zone.records, *read_zone(chain, origin=None)))
        example.set_behaviour(poisoning([longer], recursive=False, cut_chains=5))
        return sandbox

    with internet(tmp_path, corrupt_example) as (hints, port, _):
        server = serve("--root-hints", str(hints), "--upstream-port", str(port), sandbox=False)
        www = server.udp(make_query("www.example.com"))
        assert addresses(www) == ["198.51.100.80"]
        # Knot-style: the reply stops after five links; the rest is asked for.
        long = server.udp(make_query("k0.example.com"))
        assert long.rcode() == dns.rcode.NOERROR
        assert addresses(long) == ["198.51.100.99"]
        assert sum(len(rrset) for rrset in long.answer if rrset.rdtype == 5) == 9
        # com's servers and the root's are still theirs: new names in other TLDs.
        for name, expected in [
            ("www.cdn.net", ["198.51.100.41"]),
            ("www.lame.com", ["198.51.100.82"]),
        ]:
            reply = server.udp(make_query(name))
            assert addresses(reply) == expected, name
        assert FORGED not in addresses(server.udp(make_query("www.bank.net", flags=0)))
        server.assert_serving()


# -- the ANY flood ------------------------------------------------------------------------

ANY_NAMES = ["www.example.com", "example.com", "alias.example.com", "nope.example.com", "."]


def flood(address: tuple[str, int], names: list[str], rounds: int) -> dict[int, int]:
    """Send `rounds` ANY queries for each name at once over UDP; the rcodes of
    the replies, by query ID (unanswered IDs are missing). Like any client, it
    asks again what went unanswered: a burst this size can overflow a socket's
    receive buffer, in the kernel, before the server sees it."""
    queries = {}
    for index in range(rounds * len(names)):
        query = make_query(names[index % len(names)], "ANY")
        query.id = index
        queries[index] = query
    replies: dict[int, int] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        for _ in range(3):
            for query in queries.values():
                if query.id not in replies:
                    sock.send(query.to_wire())
            deadline = time.monotonic() + TIMEOUT
            while len(replies) < len(queries) and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    wire = sock.recv(65535)
                except TimeoutError:
                    break
                reply = dns.message.from_wire(wire)
                replies[reply.id] = reply.rcode()
            if len(replies) == len(queries):
                break
    return replies


def test_an_any_flood_is_answered_without_servfail_or_traceback(serve: Serve) -> None:
    server = serve()
    replies = flood(server.address, ANY_NAMES, rounds=60)
    assert len(replies) == 60 * len(ANY_NAMES)
    assert set(replies.values()) <= {dns.rcode.NOERROR, dns.rcode.NXDOMAIN}
    # Answered with data, from upstream first and then the cache.
    reply = server.udp(make_query("www.example.com", "ANY"))
    types = {rrset.rdtype for rrset in reply.answer}
    assert {dns.rdatatype.A, dns.rdatatype.AAAA} <= types
    assert "internal error" not in server.log() and "failed" not in server.log()
    server.assert_serving()


def test_with_deny_any_the_flood_gets_notimp(serve: Serve) -> None:
    server = serve("--deny-any")
    replies = flood(server.address, ANY_NAMES, rounds=20)
    assert len(replies) == 20 * len(ANY_NAMES)
    assert set(replies.values()) == {dns.rcode.NOTIMP}
    server.assert_serving()

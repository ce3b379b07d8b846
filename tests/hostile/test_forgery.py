"""Forged replies and rebinding answers against the real server, from real upstreams.

The upstreams are the sandbox's authoritative servers on loopback sockets
(`LoopbackSandbox`), run in a thread of this process, and the real `trio-dns
serve` resolves from their root hints. example.com's server is made to misbehave:

- It sends a forgery ahead of every UDP reply, from its own address and port
  and with the query's own ID: a forger who has guessed both, the 2**32 part of
  the work. With 0x20 (the default) it must guess the case of every letter too,
  and it spells the name at random, so the real answer wins; with
  `--no-case-randomisation` the same forger poisons the cache, which is what
  this test would see on a server without 0x20.
- It gives a name a home network's address; with `--private-address` the real
  server drops it (NODATA), keeps the name's public neighbours, a
  `--private-domain`'s private address, and a local zone's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import dns.message
import dns.rcode

from trio_dns import A, Flag, Message, Name, Record, RRClass, RRType
from trio_dns.testing import AuthoritativeServer, Behaviour, ForgedCase, Forgery
from trio_dns.testing._loopback import LoopbackSandbox

from .conftest import Serve, internet, make_query

FORGED = "203.0.113.66"


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(r.to_text() for rrset in reply.answer for r in rrset if rrset.rdtype in (1, 28))


@contextmanager
def upstreams(
    tmp_path: Path, misbehave: Callable[[AuthoritativeServer], None]
) -> Iterator[tuple[Path, int]]:
    """The sandbox on its own 127.x loopback addresses and a high port, with
    example.com's server changed by `misbehave`; yields the hints file and port."""

    def change(sandbox: LoopbackSandbox, prefix: str, port: int) -> LoopbackSandbox:
        (example,) = [s for s in sandbox.servers if s.name == "ns1.example.com"]
        misbehave(example)
        return sandbox

    with internet(tmp_path, change) as (hints, port, _):
        yield hints, port


def forging(server: AuthoritativeServer) -> None:
    # Right ID, right source address and port; the case is all it must guess.
    server.set_behaviour(
        Behaviour(forge=Forgery(address=FORGED, correct_id=True, case=ForgedCase.RANDOM))
    )


def test_a_forger_who_guessed_id_and_port_must_guess_the_case_too(
    serve: Serve, tmp_path: Path
) -> None:
    with upstreams(tmp_path, forging) as (hints, port):
        server = serve("--root-hints", str(hints), "--upstream-port", str(port), sandbox=False)
        for name, expected in [
            ("www.example.com", ["198.51.100.80"]),
            ("mail.example.com", ["198.51.100.25"]),
            ("example.com", ["198.51.100.80"]),
        ]:
            reply = server.udp(make_query(name))
            assert reply.rcode() == dns.rcode.NOERROR, name
            assert addresses(reply) == expected, name
        # Each forgery was right but for the case: counted, and the question asked
        # again over TCP, where the forger cannot answer.
        assert server.metric("trio_dns_upstream_ignored_datagrams") >= 3
        server.assert_serving()


def test_without_0x20_the_same_forger_poisons_the_cache(serve: Serve, tmp_path: Path) -> None:
    with upstreams(tmp_path, forging) as (hints, port):
        server = serve(
            "--root-hints",
            str(hints),
            "--upstream-port",
            str(port),
            "--no-case-randomisation",
            sandbox=False,
        )
        reply = server.udp(make_query("www.example.com"))
        assert addresses(reply) == [FORGED]
        again = server.udp(make_query("www.example.com"))  # and it stays, from the cache
        assert addresses(again) == [FORGED]


def rebinding(server: AuthoritativeServer) -> None:
    """Names of example.com that point into private networks."""
    private = {
        Name.from_text("rebind.example.com."): ["192.168.1.1"],
        Name.from_text("mixed.example.com."): ["10.0.0.1", "198.51.100.81"],
        Name.from_text("nas.intranet.example.com."): ["10.1.1.1"],
    }

    def handler(query: Message) -> Message:
        question = query.question[0]
        if question.name in private and question.rtype == RRType.A:
            records = tuple(
                Record(question.name, RRType.A, RRClass.IN, 300, A(address))
                for address in private[question.name]
            )
            return attrs.evolve(query.make_response(flags=Flag.AA), answer=records)
        return server.answer(query)

    server.set_behaviour(Behaviour(handler=handler))


def test_private_addresses_are_dropped_from_upstream_answers(serve: Serve, tmp_path: Path) -> None:
    home = tmp_path / "home.zone"
    home.write_text(
        "$ORIGIN home.\n@ 3600 SOA ns h 1 2 3 4 5\n@ 3600 NS ns\nnas 3600 A 192.168.1.10\n"
    )
    with upstreams(tmp_path, rebinding) as (hints, port):
        # Not "default": it holds 127.0.0.0/8, where these upstreams live.
        server = serve(
            "--root-hints",
            str(hints),
            "--upstream-port",
            str(port),
            "--private-address",
            "10.0.0.0/8",
            "--private-address",
            "192.168.0.0/16",
            "--private-domain",
            "intranet.example.com",
            "--zone",
            str(home),
            sandbox=False,
        )
        for name, expected in [
            ("rebind.example.com", []),  # NODATA: nothing public to give
            ("mixed.example.com", ["198.51.100.81"]),
            ("nas.intranet.example.com", ["10.1.1.1"]),  # a private domain may
            ("nas.home", ["192.168.1.10"]),  # local data is the operator's own
            ("www.example.com", ["198.51.100.80"]),
        ]:
            reply = server.udp(make_query(name))
            assert reply.rcode() == dns.rcode.NOERROR, name
            assert addresses(reply) == expected, name
        # From the cache too: what was dropped was never stored.
        assert addresses(server.udp(make_query("rebind.example.com"))) == []
        server.assert_serving()


def test_without_private_address_nothing_is_dropped(serve: Serve, tmp_path: Path) -> None:
    with upstreams(tmp_path, rebinding) as (hints, port):
        server = serve("--root-hints", str(hints), "--upstream-port", str(port), sandbox=False)
        assert addresses(server.udp(make_query("rebind.example.com"))) == ["192.168.1.1"]

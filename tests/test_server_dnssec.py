"""What the server tells clients about DNSSEC: AD, RRSIGs for DO, proofs, CD."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import trio
from prometheus_client import generate_latest
from trio.testing import MockClock

from tests.test_validation import World, build
from trio_dns._address import Address
from trio_dns._server.metrics import metrics_registry
from trio_dns._server.server import Server, ServerSettings

TIMEOUT = 5.0


@pytest.fixture
def clock() -> MockClock:
    return MockClock(rate=1.0)  # real sockets: keep real time


@asynccontextmanager
async def serving(world: World) -> AsyncIterator[Address]:
    async with serving_with_server(world) as (_, address):
        yield address


@asynccontextmanager
async def serving_with_server(world: World) -> AsyncIterator[tuple[Server, Address]]:
    server = Server(world.resolver(), ServerSettings(listen=(("127.0.0.1", 0),)))
    async with trio.open_nursery() as nursery:
        (address,) = await nursery.start(server.serve)
        yield server, address
        server.shutdown()


async def ask(
    address: Address, name: str, rtype: str = "A", **kwargs: object
) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, **kwargs)  # type: ignore[arg-type]
    run = functools.partial(dns.query.udp, query, address[0], port=address[1], timeout=TIMEOUT)
    return await trio.to_thread.run_sync(run)


def types(section: list[dns.rrset.RRset]) -> list[str]:  # type: ignore[name-defined]
    return [dns.rdatatype.to_text(rrset.rdtype) for rrset in section]


async def test_secure_answer_has_ad_and_rrsigs_for_do(clock: MockClock) -> None:
    async with serving(build()) as address:
        reply = await ask(address, "www.example.test", want_dnssec=True)
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.flags & dns.flags.AD
        assert types(reply.answer) == ["A", "RRSIG"]
        # Without DO or AD the client has not said it understands: no AD, no RRSIG.
        plain = await ask(address, "www.example.test", use_edns=0)
        assert not plain.flags & dns.flags.AD
        assert types(plain.answer) == ["A"]
        # AD alone (RFC 6840 section 5.7) asks for the AD bit without the records.
        ad = await ask(address, "www.example.test", use_edns=0, flags=dns.flags.RD | dns.flags.AD)
        assert ad.flags & dns.flags.AD and types(ad.answer) == ["A"]


async def test_insecure_answer_has_no_ad(clock: MockClock) -> None:
    async with serving(build()) as address:
        reply = await ask(address, "www.insecure.test", want_dnssec=True)
        assert reply.rcode() == dns.rcode.NOERROR
        assert not reply.flags & dns.flags.AD


async def test_denial_proof_goes_to_do_clients(clock: MockClock) -> None:
    async with serving(build()) as address:
        reply = await ask(address, "nope.example.test", want_dnssec=True)
        assert reply.rcode() == dns.rcode.NXDOMAIN
        assert reply.flags & dns.flags.AD
        assert "NSEC" in types(reply.authority) and "RRSIG" in types(reply.authority)


async def test_bogus_is_servfail_with_an_extended_error_and_cd_gets_the_data(
    clock: MockClock,
) -> None:
    world = build(leaf_times=(1_750_000_000 - 20 * 86400, 1_750_000_000 - 10 * 86400))
    async with serving(world) as address:
        reply = await ask(address, "www.example.test", want_dnssec=True)
        assert reply.rcode() == dns.rcode.SERVFAIL
        (ede,) = [o for o in reply.options if o.otype == dns.edns.OptionType.EDE]
        assert ede.code == dns.edns.EDECode.SIGNATURE_EXPIRED
        checking_disabled = await ask(
            address, "www.example.test", want_dnssec=True, flags=dns.flags.RD | dns.flags.CD
        )
        assert checking_disabled.rcode() == dns.rcode.NOERROR
        assert not checking_disabled.flags & dns.flags.AD
        (address_rrset,) = [r for r in checking_disabled.answer if r.rdtype == dns.rdatatype.A]
        assert [r.to_text() for r in address_rrset] == ["192.0.2.80"]


async def test_outcomes_are_counted_for_metrics(clock: MockClock) -> None:
    async with serving_with_server(build()) as (server, address):
        await ask(address, "www.example.test", want_dnssec=True)
        await ask(address, "www.insecure.test", want_dnssec=True)
        text = generate_latest(metrics_registry(server)).decode()
        assert 'trio_dns_dnssec_answers_total{outcome="secure"} 1.0' in text
        assert 'trio_dns_dnssec_answers_total{outcome="insecure"} 1.0' in text
        assert 'trio_dns_dnssec_answers_total{outcome="bogus"} 0.0' in text

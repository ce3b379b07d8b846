"""Zones signed by the test tooling, served by the fake network's servers: a chain
of trust from a trust anchor down to an answer, checked with the pure validator."""

from __future__ import annotations

import trio

from tests.dnssec.util import name, of_type, records
from trio_dns import Edns, Message, Record, RRType
from trio_dns._dnssec import Algorithm, VerifyStatus, verify_dnskeys, verify_rrset
from trio_dns.testing import FakeNetwork, SigningKey, Zone, sign_zone

NOW = 1_750_000_000

PARENT = """
example.        3600 IN SOA ns.example. hostmaster.example. 1 7200 900 1209600 300
example.        3600 IN NS  ns.example.
ns.example.     3600 IN A   192.0.2.1
sub.example.    3600 IN NS  ns.sub.example.
ns.sub.example. 3600 IN A   192.0.2.2
"""
CHILD = """
sub.example.     3600 IN SOA ns.sub.example. hostmaster.sub.example. 1 7200 900 1209600 300
sub.example.     3600 IN NS  ns.sub.example.
ns.sub.example.  3600 IN A   192.0.2.2
www.sub.example. 3600 IN A   192.0.2.80
"""


def build() -> tuple[FakeNetwork, SigningKey]:
    parent_key = SigningKey.generate("example.", Algorithm.ECDSAP256SHA256, ksk=True)
    child_ksk = SigningKey.generate("sub.example.", Algorithm.ED25519, ksk=True)
    child_zsk = SigningKey.generate("sub.example.", Algorithm.ECDSAP384SHA384)
    child = sign_zone(
        records(CHILD), [child_ksk, child_zsk], inception=NOW - 3600, expiration=NOW + 3600
    )
    parent = sign_zone(
        [*records(PARENT), child_ksk.ds()],
        [parent_key],
        inception=NOW - 3600,
        expiration=NOW + 3600,
        denial="nsec3",
    )
    network = FakeNetwork()
    network.add_server(["192.0.2.1"], [Zone.from_records("example.", parent)])
    network.add_server(["192.0.2.2"], [Zone.from_records("sub.example.", child)])
    return network, parent_key


def ask(network: FakeNetwork, address: str, qname: str, qtype: str) -> Message:
    server = network.server_at(address)
    assert server is not None
    return server.answer(Message.make_query(qname, qtype, edns=Edns(dnssec_ok=True)))


def split(section: tuple[Record, ...], rtype: RRType) -> tuple[list[Record], list[Record]]:
    return [r for r in section if r.rtype == rtype], of_type(list(section), RRType.RRSIG)


def test_chain_of_trust_over_the_fake_network() -> None:
    network, anchor_key = build()
    anchor = [anchor_key.ds()]
    # The parent's keys, trusted through the anchor.
    reply = ask(network, "192.0.2.1", "example.", "DNSKEY")
    keys, sigs = split(reply.answer, RRType.DNSKEY)
    parent = verify_dnskeys(keys, sigs, anchor, NOW)
    assert parent.status is VerifyStatus.SECURE, parent.reason
    # The child's DS, signed by the parent.
    reply = ask(network, "192.0.2.1", "sub.example.", "DS")
    ds, sigs = split(reply.answer, RRType.DS)
    assert verify_rrset(ds, sigs, parent.keys, NOW).secure
    # The child's keys, through the DS; then the answer.
    reply = ask(network, "192.0.2.2", "sub.example.", "DNSKEY")
    keys, sigs = split(reply.answer, RRType.DNSKEY)
    child = verify_dnskeys(keys, sigs, ds, NOW)
    assert child.status is VerifyStatus.SECURE, child.reason
    reply = ask(network, "192.0.2.2", "www.sub.example.", "A")
    answer, sigs = split(reply.answer, RRType.A)
    result = verify_rrset(answer, sigs, child.keys, NOW)
    assert result.secure and result.key is not None
    assert result.key.rdata == keys[0].rdata or result.key.rdata == keys[1].rdata
    # The answer is signed by the ZSK alone, so the parent's keys cannot vouch for it.
    assert not verify_rrset(answer, sigs, parent.keys, NOW).secure
    # The referral carries the DS with its signature.
    referral = ask(network, "192.0.2.1", "www.sub.example.", "A")
    ds_there, sigs = split(referral.authority, RRType.DS)
    assert ds_there == ds and verify_rrset(ds_there, sigs, parent.keys, NOW).secure


async def test_signed_answers_cross_the_wire() -> None:
    network, _ = build()
    query = Message.make_query("www.sub.example.", "A", edns=Edns(dnssec_ok=True))
    async with network.open_udp(("192.0.2.2", 53)) as endpoint:
        await endpoint.send(query.to_wire(), ("192.0.2.2", 53))
        with trio.fail_after(10):
            data, _ = await endpoint.receive()
    reply = Message.from_wire(data)
    answer, sigs = split(reply.answer, RRType.A)
    assert answer and sigs
    assert sigs[0].name == name("www.sub.example.")

"""Hostile packets at the server's front door: it answers FORMERR, drops, or
proceeds, and never raises, whatever the bytes."""

from __future__ import annotations

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_dns import Message
from trio_dns._network.resolver import Resolver
from trio_dns._server.server import Server, ServerSettings
from trio_dns.testing import build_sandbox

VALID = [
    Message.make_query("www.example.com", "A", id=1).to_wire(),
    Message.make_query("example.com", "MX", id=2, edns=None).to_wire(),
    Message.make_query("x.example.com", "TXT", id=3).to_wire(),
]


def handle_all(packets: list[bytes]) -> list[object]:
    sandbox = build_sandbox()
    server = Server(
        Resolver(root_hints=sandbox.root_hints, transport=sandbox.network), ServerSettings()
    )
    results: list[object] = []

    async def main() -> None:
        for packet in packets:
            for tcp in (False, True):
                results.append(server._handle(packet, "127.0.0.1", tcp))

    trio.run(main)
    return results


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_random_bytes_never_raise(packets: list[bytes]) -> None:
    for result in handle_all(packets):
        assert result is None or isinstance(result, bytes) or type(result).__name__ == "_Pending"


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 299), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 300),
)
def test_mutated_queries_never_raise(packet: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(packet)
    for position, value in edits:
        if position < len(data):
            data[position] = value
    for result in handle_all([bytes(data), bytes(data[:cut])]):
        if isinstance(result, bytes):
            # Whatever we send back parses, and answers the ID we were sent.
            reply = Message.from_wire(result)
            assert reply.id == int.from_bytes(data[:2], "big")

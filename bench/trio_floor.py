"""The floor under any Trio resolver of trio-dns's shape, for bench/serve.py.

It does the least a cold query can cost with the shape trio-dns must have: one
task per query, one cancel scope (the hop's timeout), a fresh socket on a random
port to the authoritative server, and a wait with `wait_readable`. It does no
DNS work at all: it knows where the answer lives, relays the client's query
bytes under a new ID, and relays the reply back unparsed. What this costs per
query is what Trio and the kernel take before a resolver has parsed, decided,
cached or encoded anything.

    python bench/trio_floor.py LISTEN_HOST PORT UPSTREAM_HOST
"""

from __future__ import annotations

import secrets
import socket
import sys

import trio

_TIMEOUT = 2.0
_BATCH = 64


async def relay(query: bytes, listener: socket.socket, client: object, upstream: str) -> None:
    with trio.move_on_after(_TIMEOUT):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        try:
            sock.bind(("0.0.0.0", 0))
            our_id = secrets.token_bytes(2)
            sock.sendto(our_id + query[2:], (upstream, 53))
            while True:
                await trio.lowlevel.wait_readable(sock)
                try:
                    reply, source = sock.recvfrom(65535)
                except BlockingIOError:
                    continue
                if source[0] == upstream and reply[:2] == our_id:
                    break
        finally:
            sock.close()
        listener.sendto(query[:2] + reply[2:], client)  # type: ignore[call-overload]


async def main(host: str, port: int, upstream: str) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((host, port))
    listener.setblocking(False)
    async with trio.open_nursery() as nursery:
        while True:
            await trio.lowlevel.wait_readable(listener)
            for _ in range(_BATCH):
                try:
                    query, client = listener.recvfrom(65535)
                except BlockingIOError:
                    break
                nursery.start_soon(relay, query, listener, client, upstream)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]), sys.argv[3])

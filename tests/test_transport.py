"""SocketTransport's UDP endpoints on real loopback sockets."""

from __future__ import annotations

import socket

import pytest
import trio

from tests.integration.servers import environment_gap
from trio_dns._network.exchange import ExchangeError, Exchanger
from trio_dns._network.transport import SocketTransport
from trio_dns._wire.message import Message


def _echo_socket(family: socket.AddressFamily, host: str) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


async def _echo_once(sock: socket.socket) -> tuple[str, int]:
    await trio.lowlevel.wait_readable(sock)
    data, source = sock.recvfrom(2048)
    sock.sendto(data.upper(), source)
    return source[0], source[1]


async def test_a_datagram_goes_out_from_a_random_port_and_the_reply_names_its_sender() -> None:
    with _echo_socket(socket.AF_INET, "127.0.0.1") as server:
        address = server.getsockname()
        async with SocketTransport().open_udp(address) as endpoint:
            await endpoint.send(b"hello", address)
            _, client_port = await _echo_once(server)
            data, source = await endpoint.receive()
    assert data == b"HELLO"
    assert source == address
    assert 1024 <= client_port <= 65535


async def test_ipv6_sources_come_back_as_host_and_port_only() -> None:
    try:
        server = _echo_socket(socket.AF_INET6, "::1")
    except OSError as exc:
        # Some containers have no ::1; there the IPv6 path cannot be exercised.
        environment_gap(f"this machine has no IPv6 loopback (::1): {exc.strerror or exc}")
    with server:
        port = server.getsockname()[1]
        async with SocketTransport().open_udp(("::1", port)) as endpoint:
            await endpoint.send(b"six", ("::1", port))
            await _echo_once(server)
            data, source = await endpoint.receive()
    assert data == b"SIX"
    assert source == ("::1", port)


async def test_waiting_for_a_reply_is_cancellable_and_the_socket_then_closed() -> None:
    with _echo_socket(socket.AF_INET, "127.0.0.1") as server:
        address = server.getsockname()
        opened = SocketTransport().open_udp(address)
        async with opened as endpoint:
            with trio.move_on_after(0.05) as scope:
                await endpoint.receive()
            assert scope.cancelled_caught
    with pytest.raises(trio.ClosedResourceError):
        await endpoint.send(b"late", address)
    with pytest.raises(trio.ClosedResourceError):
        await endpoint.receive()


def _closed_port() -> tuple[str, int]:
    """A loopback UDP port with nothing listening on it (just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        address: tuple[str, int] = probe.getsockname()
    return address


async def test_a_closed_port_is_refused_at_once_not_timed_out() -> None:
    address = _closed_port()
    async with SocketTransport().open_udp(address) as endpoint:
        await endpoint.send(b"anyone?", address)
        with trio.fail_after(2), pytest.raises(ConnectionRefusedError):
            await endpoint.receive()


async def test_the_exchanger_reports_a_refusal_as_one_line() -> None:
    address = _closed_port()
    exchanger = Exchanger(SocketTransport())
    with trio.fail_after(2), pytest.raises(ExchangeError, match="refused the query"):
        await exchanger.exchange(address, Message.make_query("example.com", "A"))


async def test_datagrams_from_strangers_never_reach_the_endpoint() -> None:
    with (
        _echo_socket(socket.AF_INET, "127.0.0.1") as server,
        _echo_socket(socket.AF_INET, "127.0.0.2") as stranger,
    ):
        address = server.getsockname()
        async with SocketTransport().open_udp(address) as endpoint:
            await endpoint.send(b"question", address)
            await trio.lowlevel.wait_readable(server)
            question, client = server.recvfrom(2048)
            assert question == b"question"
            # A forgery from another address reaches the port first...
            stranger.sendto(b"forged", client)
            server.sendto(b"answer", client)
            # ...but the kernel drops it: only the server's datagram arrives.
            assert await endpoint.receive() == (b"answer", address)
            with trio.move_on_after(0.1) as scope:
                await endpoint.receive()
            assert scope.cancelled_caught

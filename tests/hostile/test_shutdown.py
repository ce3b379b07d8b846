"""Shutting the real server down (SIGTERM) with clients still waiting.

Queries still unanswered when the grace period ends get SERVFAIL, over UDP and
TCP, rather than silence; and no client can hold the shutdown up beyond the
grace period and one send timeout, whatever its connection is doing."""

from __future__ import annotations

import socket
import time

import dns.edns
import dns.exception
import dns.message
import dns.query
import dns.rcode

from .conftest import TIMEOUT, Serve, frame, make_query, read_frame

# No server on port 9 in the sandbox: every resolution waits for its 30 s deadline.
SILENT_UPSTREAMS = ("--upstream-port", "9", "--deadline", "30")


def test_queries_unanswered_when_the_grace_period_ends_get_servfail(serve: Serve) -> None:
    server = serve(*SILENT_UPSTREAMS, "--grace-period", "0.5")
    udp_socks = []
    for i in range(3):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(TIMEOUT)
        sock.connect(server.address)
        sock.send(make_query(f"u{i}.example.com", id=100 + i).to_wire())
        udp_socks.append(sock)
    tcp_sock = server.connect()
    tcp_sock.sendall(b"".join(frame(make_query(f"t{i}.example.com", id=200 + i)) for i in range(3)))
    server.wait_for_metric("trio_dns_in_flight", lambda value: value == 6)

    started = time.monotonic()
    assert server.stop() == 0
    replies = [dns.message.from_wire(sock.recv(65535)) for sock in udp_socks]
    for _ in range(3):
        data = read_frame(tcp_sock)
        assert data is not None, "a TCP query was left unanswered"
        replies.append(dns.message.from_wire(data))
    assert read_frame(tcp_sock) is None  # and then the connection is closed
    assert time.monotonic() - started < TIMEOUT

    assert sorted(reply.id for reply in replies) == [100, 101, 102, 200, 201, 202]
    for reply in replies:
        assert reply.rcode() == dns.rcode.SERVFAIL
        expected = ("u" if reply.id < 200 else "t") + f"{reply.id % 100}.example.com."
        assert reply.question[0].name.to_text() == expected
        texts = [o.text for o in reply.options if isinstance(o, dns.edns.EDEOption)]
        assert texts == ["shutting down"]
    for sock in (*udp_socks, tcp_sock):
        sock.close()


def test_queries_answered_within_the_grace_period_are_answered(serve: Serve) -> None:
    server = serve("--grace-period", "5")
    sock = server.connect()
    sock.sendall(frame(make_query("www.example.com")))  # a few sandbox round trips
    assert server.stop() == 0
    data = read_frame(sock)
    assert data is not None
    reply = dns.message.from_wire(data)
    assert reply.rcode() == dns.rcode.NOERROR
    assert [r.to_text() for rrset in reply.answer for r in rrset] == ["198.51.100.80"]
    sock.close()


def test_clients_cannot_hold_the_shutdown_up(serve: Serve) -> None:
    server = serve(*SILENT_UPSTREAMS, "--grace-period", "1", "--tcp-send-timeout", "1")
    server.tcp(make_query("huge.hostile.test", "TXT"))
    idle = [server.connect() for _ in range(5)]
    # One that sends queries and never reads, and one halfway through a query.
    hog = server.connect(receive_buffer=4096)
    hog.setblocking(False)
    query = frame(make_query("huge.hostile.test", "TXT"))
    try:
        while True:
            hog.send(query)
    except BlockingIOError:
        pass
    half = server.connect()
    half.sendall(frame(make_query("www.hostile.test"))[:7])
    waiting = server.connect()
    waiting.sendall(frame(make_query("slow.example.com")))  # unanswerable within 30 s
    server.wait_for_metric("trio_dns_in_flight", lambda value: value == 1)

    started = time.monotonic()
    assert server.stop() == 0
    # The grace period, then at most one send timeout for the last replies.
    assert time.monotonic() - started < 1 + 1 + 2
    data = read_frame(waiting)
    assert data is not None and dns.message.from_wire(data).rcode() == dns.rcode.SERVFAIL
    for sock in (*idle, hog, half, waiting):
        sock.close()
    assert "Traceback" not in server.log()


def test_udp_is_not_answered_after_shutdown(serve: Serve) -> None:
    server = serve()
    server.assert_serving()
    assert server.stop() == 0
    try:
        reply = dns.query.udp(
            make_query("www.hostile.test"), server.address[0], port=server.address[1], timeout=0.5
        )
    except (dns.exception.Timeout, OSError):
        reply = None
    assert reply is None

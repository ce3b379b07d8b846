"""The metrics endpoint under abuse, on the real server: resets before, during and
after a response, requests cut short, stalled connections beyond its cap, and
query values a client chooses showing up as labels. The endpoint survives each
(so does the DNS server beside it) and a scraper is still answered."""

from __future__ import annotations

import socket
import time

import dns.message
import dns.rdataclass
import pytest

from .conftest import Serve, Served, closed_by_server, make_query, reset

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"


def connect(server: Served, *, receive_buffer: int | None = None) -> socket.socket:
    assert server.metrics_address is not None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(5.0)
    sock.connect(server.metrics_address)
    return sock


def endpoint_closed(server: Served, reason: str) -> float:
    return server.metric("trio_dns_metrics_connections_closed", reason=reason)


def test_resets_before_during_and_after_a_response(serve: Serve) -> None:
    server = serve()
    # Before: half a request, then a reset.
    for _ in range(3):
        sock = connect(server)
        sock.sendall(REQUEST[:10])
        time.sleep(0.05)
        reset(sock)
    # During: a window too small for the response, a few octets read, a reset.
    for _ in range(3):
        sock = connect(server, receive_buffer=1024)
        sock.sendall(REQUEST)
        assert sock.recv(16).startswith(b"HTTP/1.1 200")
        reset(sock)
    # After: the whole response read, then a reset instead of a FIN.
    for _ in range(3):
        sock = connect(server)
        sock.sendall(REQUEST)
        while sock.recv(65536):
            pass
        reset(sock)
    # The resets while reading the request are the endpoint's to see; the others
    # may come after it is done with the connection.
    assert (
        server.wait_for_metric(
            "trio_dns_metrics_connections_closed", lambda value: value >= 3, reason="peer_error"
        )
        >= 3
    )
    server.scrape()
    server.assert_serving()


@pytest.mark.parametrize(
    "request_",
    [
        b"GET /metrics HTTP/1.1\r\nHost:",  # cut short, then a FIN
        b"\x00\xff" * 100,  # not HTTP at all
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",  # a head too long to read
        b"POST /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000,
        b"GET /metrics HTTP/1.1\n\n",  # bare newlines
    ],
    ids=["cut-short", "binary", "huge-head", "post", "bare-newlines"],
)
def test_requests_cut_short_or_malformed(serve: Serve, request_: bytes) -> None:
    server = serve()
    for _ in range(3):
        with connect(server) as sock:
            try:
                sock.sendall(request_)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the endpoint may close first on a huge head: as it should
            assert closed_by_server(sock, within=5.0)
    server.scrape()
    server.assert_serving()


def test_stalled_connections_beyond_the_cap_do_not_lock_out_the_scraper(serve: Serve) -> None:
    server = serve()
    stalled = [connect(server) for _ in range(30)]  # more than the endpoint's 8
    try:
        for sock in stalled[:5]:
            sock.sendall(REQUEST[:5])  # and a few that started a request
        for _ in range(3):
            assert server.metric("trio_dns_metrics_connections_closed", reason="evicted") >= 22
    finally:
        for sock in stalled:
            sock.close()
    server.assert_serving()


def test_a_client_that_never_finishes_its_request_is_timed_out(serve: Serve) -> None:
    server = serve()
    with connect(server) as sock:
        sock.sendall(REQUEST[:5])
        # REQUEST_TIMEOUT is 5 s.
        assert closed_by_server(sock, within=8.0)
    assert endpoint_closed(server, "timeout") == 1


def test_labels_a_client_chooses_are_exported_safely(serve: Serve) -> None:
    server = serve()
    for qtype in range(65000, 65100):
        server.udp(make_query("www.hostile.test", qtype))
    odd = [
        make_query("www.hostile.test", 65280),  # a private-use type
        make_query("www.hostile.test", 65535),
        make_query("www.hostile.test", "ANY"),
        make_query("www.hostile.test", "A", rdclass=dns.rdataclass.CH),
        make_query('we"ird\\.hostile.test', "TXT"),
    ]
    for query in odd:
        reply = server.udp(query)
        assert isinstance(reply, dns.message.Message)
    samples = server.scrape()
    types = {
        dict(labels).get("type") for name, labels in samples if name.startswith("trio_dns_queries")
    }
    # Numbers without a mnemonic share one label: a client cannot mint new ones.
    assert "other" in types
    assert not any(label.startswith("TYPE") for label in types if label)
    server.assert_serving()

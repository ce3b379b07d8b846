"""TCP clients that reset, stall, stop reading or flood, against the real server.

Each costs its own connection only: after each attack the server is alive and a
polite client is answered over UDP and TCP (the fixture then checks the process
is still running and its log holds no traceback), and the server's counters
say what it did about it.

Attacks whose queries must stay unanswered use `--upstream-port 9`: the sandbox
has no server on that port, so every resolution waits for its deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from .conftest import (
    TIMEOUT,
    Serve,
    Served,
    closed_by_server,
    frame,
    make_query,
    read_frame,
    reset,
)

SILENT_UPSTREAMS = ("--upstream-port", "9", "--deadline", "30")


def peer_errors(server: Served) -> float:
    return server.metric("trio_dns_tcp_closed", reason="peer_error")


def wait_until_closed(server: Served, reason: str, at_least: float = 1) -> float:
    return server.wait_for_metric(
        "trio_dns_tcp_closed", lambda value: value >= at_least, reason=reason
    )


# -- resets ---------------------------------------------------------------------------


def test_reset_after_a_reply(serve: Serve) -> None:
    server = serve()
    for _ in range(3):
        sock = server.connect()
        sock.sendall(frame(make_query("www.hostile.test")))
        assert read_frame(sock)
        reset(sock)
    assert wait_until_closed(server, "peer_error", 1) >= 1
    server.assert_serving()


def test_reset_before_the_reply(serve: Serve) -> None:
    server = serve(*SILENT_UPSTREAMS)
    sock = server.connect()
    sock.sendall(frame(make_query("www.example.com")))  # resolving, for 30 s
    server.wait_for_metric("trio_dns_in_flight", lambda value: value == 1)
    reset(sock)
    assert wait_until_closed(server, "peer_error") == 1
    # The peer is gone, and so is its query: nothing left running for it.
    assert server.wait_for_metric("trio_dns_in_flight", lambda value: value == 0) == 0
    server.assert_serving()


def test_reset_while_the_server_is_writing(serve: Serve) -> None:
    server = serve()
    server.tcp(make_query("huge.hostile.test", "TXT"))  # about 30 kB
    for _ in range(3):
        sock = server.connect(receive_buffer=4096)
        # More than the socket buffers hold: the server is blocked writing when
        # the reset comes.
        sock.sendall(frame(make_query("huge.hostile.test", "TXT")) * 100)
        assert sock.recv(100)
        time.sleep(0.2)
        reset(sock)
    assert wait_until_closed(server, "peer_error", 3) == 3
    server.assert_serving()


def test_reset_with_unanswered_pipelined_queries(serve: Serve) -> None:
    server = serve(*SILENT_UPSTREAMS)
    sock = server.connect()
    names = [f"q{i}.example.com" for i in range(20)]
    sock.sendall(b"".join(frame(make_query(name)) for name in names))
    server.wait_for_metric("trio_dns_in_flight", lambda value: value == 20)
    reset(sock)
    assert wait_until_closed(server, "peer_error") == 1
    assert server.wait_for_metric("trio_dns_in_flight", lambda value: value == 0) == 0
    server.assert_serving()


@pytest.mark.parametrize("close", [reset, socket.socket.close], ids=["reset", "fin"])
def test_close_halfway_through_a_query(serve: Serve, close: object) -> None:
    server = serve()
    whole = frame(make_query("www.hostile.test"))
    for cut in (1, 2, 9, len(whole) - 1):  # inside the length prefix, and after it
        sock = server.connect()
        sock.sendall(whole[:cut])
        time.sleep(0.05)  # read by the server before the close, not with it
        close(sock)  # type: ignore[operator]
    if close is reset:
        assert wait_until_closed(server, "peer_error", 4) == 4
    else:
        assert wait_until_closed(server, "mid_message", 4) == 4
    server.assert_serving()


# -- clients that hold connections --------------------------------------------------


def test_a_client_that_never_reads_is_closed_after_the_send_timeout(serve: Serve) -> None:
    server = serve("--max-tcp-connections", "1", "--tcp-send-timeout", "1")
    server.tcp(make_query("huge.hostile.test", "TXT"))
    hog = server.connect(receive_buffer=4096)
    hog.setblocking(False)
    query = frame(make_query("huge.hostile.test", "TXT"))
    deadline = time.monotonic() + TIMEOUT
    with hog:
        # Queries until the server, unable to write its replies, stops reading them.
        while time.monotonic() < deadline:
            try:
                hog.send(query)
            except OSError:  # BlockingIOError: the server has stopped reading
                break
        # The only slot is taken by a busy connection: newcomers are refused until
        # the send timeout frees it, then served.
        started = time.monotonic()
        reply = None
        while reply is None and time.monotonic() < started + TIMEOUT:
            try:
                reply = server.tcp(make_query("www.hostile.test"), timeout=1.0)
            except (OSError, EOFError, TimeoutError):
                time.sleep(0.1)
        assert reply is not None, "the non-reading client kept the only TCP slot"
        assert server.metric("trio_dns_tcp_closed", reason="send_timeout") == 1
    server.assert_serving()


def test_a_flood_of_connections_beyond_the_cap_does_not_lock_out_a_polite_client(
    serve: Serve,
) -> None:
    server = serve("--max-tcp-connections", "16")
    stop = threading.Event()
    opened: list[socket.socket] = []

    def flood() -> None:
        # Connections that never send anything, held open, faster than the idle
        # timeout could ever close them.
        while not stop.is_set() and len(opened) < 400:
            try:
                opened.append(socket.create_connection(server.address, timeout=TIMEOUT))
            except OSError:
                time.sleep(0.01)

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        while len(opened) < 50:
            time.sleep(0.01)
        for i in range(20):
            reply = server.tcp(make_query("www.hostile.test"))
            assert reply.answer, f"polite query {i} not answered"
    finally:
        stop.set()
        flooder.join()
        for sock in opened:
            sock.close()
    assert server.metric("trio_dns_tcp_closed", reason="evicted") >= 30
    assert server.metric("trio_dns_tcp_rejected") == 0
    server.assert_serving()


def test_slowloris_holds_no_slot_from_a_polite_client(serve: Serve) -> None:
    server = serve("--max-tcp-connections", "4", "--tcp-idle-timeout", "1")
    whole = frame(make_query("www.hostile.test"))
    loris = [server.connect() for _ in range(8)]
    try:
        for octet in range(3):  # an octet at a time, never a whole query
            for sock in loris:
                with contextlib.suppress(OSError):  # closed to make room: as it should be
                    sock.sendall(whole[octet : octet + 1])
            reply = server.tcp(make_query("www.hostile.test"))
            assert reply.answer
            time.sleep(0.3)
        # Those left are closed by the idle timeout: no whole query within 1 s.
        for sock in loris:
            assert closed_by_server(sock, within=3.0)
    finally:
        for sock in loris:
            sock.close()
    assert server.metric("trio_dns_tcp_closed", reason="idle") >= 1
    server.assert_serving()


def test_a_connection_is_read_for_its_lifetime_only(serve: Serve) -> None:
    server = serve("--tcp-lifetime", "2", "--tcp-idle-timeout", "1")
    started = time.monotonic()
    with server.connect() as sock:
        answered = 0
        while time.monotonic() < started + 3 * TIMEOUT:
            try:
                sock.sendall(frame(make_query("www.hostile.test")))
            except OSError:
                break
            if read_frame(sock) is None:
                break
            answered += 1
            time.sleep(0.25)  # busy: never idle for the idle timeout
        lasted = time.monotonic() - started
    assert answered >= 4
    assert 1.5 < lasted < 2 * TIMEOUT
    assert server.metric("trio_dns_tcp_closed", reason="lifetime") == 1
    server.assert_serving()

"""Server selection: smoothed RTTs, timeouts, stagger delays and hold-down."""

from trio_dns._decisions.servers import (
    HOLD_DOWN_AFTER,
    HOLD_DOWN_SECONDS,
    MAX_STAGGER,
    MAX_TIMEOUT,
    MIN_STAGGER,
    MIN_TIMEOUT,
    UNKNOWN_RTT,
    ServerSelection,
)

A = ("192.0.2.1", 53)
B = ("192.0.2.2", 53)
C = ("192.0.2.3", 53)


def test_faster_servers_rank_first_and_unknown_ones_in_between() -> None:
    servers = ServerSelection()
    servers.record_success(A, 0.500)
    servers.record_success(B, 0.010)
    assert servers.rank([A, B, C], now=0) == [B, C, A]  # C is unknown: 376 ms guessed
    assert servers.rank([A, A, B], now=0) == [B, A]  # duplicates go


def test_smoothing_follows_rfc_6298() -> None:
    servers = ServerSelection()
    servers.record_success(A, 0.100)
    info = servers.info(A)
    assert (info.srtt, info.rttvar) == (0.100, 0.050)
    servers.record_success(A, 0.200)
    assert info.rttvar == 0.75 * 0.050 + 0.25 * 0.100
    assert info.srtt == 0.875 * 0.100 + 0.125 * 0.200


def test_timeouts_and_staggers_are_bounded() -> None:
    servers = ServerSelection()
    assert servers.timeout(A) == 1.0  # never tried: generous
    servers.record_success(A, 0.001)
    assert servers.timeout(A) == MIN_TIMEOUT
    assert servers.stagger(A) == MIN_STAGGER
    servers.record_success(B, 10.0)
    assert servers.timeout(B) == MAX_TIMEOUT
    assert servers.stagger(B) == MAX_STAGGER
    assert servers.stagger(C) == min(MAX_STAGGER, 1.5 * UNKNOWN_RTT)


def test_timeouts_back_off_and_hold_down() -> None:
    servers = ServerSelection()
    servers.record_success(A, 0.050)
    for attempt in range(HOLD_DOWN_AFTER - 1):
        servers.record_timeout(A, now=attempt)
        assert not servers.is_held_down(A, now=attempt)
    assert servers.info(A).srtt == 0.050 * 2 ** (HOLD_DOWN_AFTER - 1)
    servers.record_timeout(A, now=10)
    assert servers.is_held_down(A, now=10)
    assert servers.rank([A, B], now=10) == [B, A]  # held down: last, not gone
    assert not servers.is_held_down(A, now=10 + HOLD_DOWN_SECONDS)
    servers.record_success(A, 0.050)
    assert servers.info(A).failures == 0


def test_a_race_loser_that_stayed_silent_sinks() -> None:
    servers = ServerSelection()
    servers.record_success(B, 0.5)  # slower than an unknown server is guessed to be
    assert servers.rank([A, B], now=0) == [A, B]
    servers.record_unanswered(A, 0.4)  # A was asked first and said nothing for 400 ms
    assert servers.rank([A, B], now=0) == [B, A]
    # A quick server cancelled early keeps its good estimate.
    servers.record_success(C, 0.010)
    servers.record_unanswered(C, 0.005)
    assert servers.info(C).srtt == 0.010


def test_lame_zones_are_remembered_per_address() -> None:
    servers = ServerSelection()
    servers.mark_lame(A, b"\x07example\x03com\x00")
    assert servers.is_lame(A, b"\x07example\x03com\x00")
    assert not servers.is_lame(A, b"\x03org\x00")
    assert not servers.is_lame(B, b"\x07example\x03com\x00")

"""Which nameserver address to ask next, how long to wait for it, and when to start another.

Theory of operation: each server address keeps a smoothed round-trip time and its
variance, updated like TCP's retransmission timer (RFC 6298), and a count of
consecutive failures. Addresses are ranked by smoothed RTT; an address never
tried gets a middling estimate so it is tried early enough to learn about it.
A timeout doubles the address's estimate (backoff), and after several failures
in a row the address is held down for a while and only used when nothing else is
left. From the estimates come the two numbers the race needs: the per-attempt
timeout, and the stagger delay after which a second server is started alongside.
Pure bookkeeping: every method takes `now`.
"""

from __future__ import annotations

import attrs

from .._address import Address

UNKNOWN_RTT = 0.376  # seconds; the initial estimate of an address never heard from
MIN_TIMEOUT = 0.200
MAX_TIMEOUT = 3.0
MIN_STAGGER = 0.050
MAX_STAGGER = 0.400
HOLD_DOWN_AFTER = 3  # consecutive failures
HOLD_DOWN_SECONDS = 60.0
MAX_ENTRIES = 10_000
MAX_LAME_ZONES = 1_000  # per address


@attrs.define
class ServerInfo:
    srtt: float = UNKNOWN_RTT
    rttvar: float = UNKNOWN_RTT / 2
    tried: bool = False
    failures: int = 0
    held_until: float = 0.0
    lame_zones: set[bytes] = attrs.Factory(set)


@attrs.define(eq=False)
class ServerSelection:
    """RTT and failure bookkeeping for every upstream address."""

    _servers: dict[Address, ServerInfo] = attrs.Factory(dict)

    def info(self, address: Address) -> ServerInfo:
        info = self._servers.get(address)
        if info is None:
            if len(self._servers) >= MAX_ENTRIES:
                # Forget the oldest entries; a bounded table cannot be grown by an attacker.
                for stale in list(self._servers)[: MAX_ENTRIES // 10]:
                    del self._servers[stale]
            info = self._servers[address] = ServerInfo()
        return info

    def known(self, address: Address) -> ServerInfo | None:
        """What is remembered of `address`, if anything (unlike `info`, adds nothing)."""
        return self._servers.get(address)

    def forget(self, address: Address | None = None) -> int:
        """Forget what was learnt of `address` (RTT, failures, hold-down, lameness),
        or of every address; it starts again as never tried. How many went."""
        if address is None:
            count = len(self._servers)
            self._servers.clear()
            return count
        return 0 if self._servers.pop(address, None) is None else 1

    def is_held_down(self, address: Address, now: float) -> bool:
        info = self._servers.get(address)
        return info is not None and info.held_until > now

    def rank(self, addresses: list[Address], now: float) -> list[Address]:
        """Best first: usable addresses by smoothed RTT, held-down ones last."""

        def key(address: Address) -> tuple[bool, float]:
            info = self._servers.get(address)
            if info is None:
                return (False, UNKNOWN_RTT)
            return (info.held_until > now, info.srtt)

        return sorted(dict.fromkeys(addresses), key=key)

    def timeout(self, address: Address) -> float:
        """How long one attempt to this address may take (RFC 6298's RTO)."""
        info = self._servers.get(address)
        if info is None or not info.tried:
            return 1.0  # a first query gets a generous allowance
        return min(MAX_TIMEOUT, max(MIN_TIMEOUT, info.srtt + 4 * info.rttvar))

    def stagger(self, address: Address) -> float:
        """How long to wait for this address before also asking the next one."""
        info = self._servers.get(address)
        srtt = UNKNOWN_RTT if info is None else info.srtt
        return min(MAX_STAGGER, max(MIN_STAGGER, 1.5 * srtt))

    def record_success(self, address: Address, rtt: float) -> None:
        info = self.info(address)
        if not info.tried:
            info.srtt, info.rttvar, info.tried = rtt, rtt / 2, True
        else:
            info.rttvar = 0.75 * info.rttvar + 0.25 * abs(info.srtt - rtt)
            info.srtt = 0.875 * info.srtt + 0.125 * rtt
        info.failures = 0
        info.held_until = 0.0

    def record_unanswered(self, address: Address, waited: float) -> None:
        """An attempt given up (cancelled) after `waited` seconds without a reply:
        the address's RTT is more than that."""
        info = self.info(address)
        if waited >= info.srtt:
            # Slower than we thought, by an unknown amount: back off as a timeout
            # would, so a server that never answers sinks below the ones that do.
            info.srtt = min(MAX_TIMEOUT * 4, 2 * waited)
            info.tried = True

    def record_timeout(self, address: Address, now: float) -> None:
        info = self.info(address)
        info.tried = True
        info.srtt = min(MAX_TIMEOUT * 4, info.srtt * 2)  # back off
        self._failed(info, now)

    def record_failure(self, address: Address, now: float) -> None:
        """The server answered, but uselessly (garbage, SERVFAIL, REFUSED)."""
        info = self.info(address)
        info.tried = True
        self._failed(info, now)

    def _failed(self, info: ServerInfo, now: float) -> None:
        info.failures += 1
        if info.failures >= HOLD_DOWN_AFTER:
            info.held_until = now + HOLD_DOWN_SECONDS

    def mark_lame(self, address: Address, zone_key: bytes) -> None:
        """The address does not serve this zone (RFC 1034's lame delegation)."""
        zones = self.info(address).lame_zones
        if len(zones) >= MAX_LAME_ZONES:
            zones.clear()  # bounded: forgetting only costs one more lame reply
        zones.add(zone_key)

    def is_lame(self, address: Address, zone_key: bytes) -> bool:
        info = self._servers.get(address)
        return info is not None and zone_key in info.lame_zones

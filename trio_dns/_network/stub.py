"""The stub resolver: ask one server one question, and wait a bounded time for it.

Theory of operation: a stub resolver does no resolution of its own; it hands the
question to a server (usually a recursive one, so RD is set) and returns whatever
that server answers, NXDOMAIN and SERVFAIL included: those are answers. What it
adds to `Exchanger` is patience with a limit. UDP may lose the query or the
reply, so each attempt gets `timeout` seconds and a lost one is sent again, up to
`attempts` times, before the resolver gives up with `QueryTimeout`. Each attempt
goes out from a fresh socket with a new random source port, so a reply to an
earlier attempt that arrives late is not mistaken for an answer to this one.

A server that answers with garbage or hangs up the TCP connection raises
`ExchangeError` at once: sending the same query again would not help.

The timeout is a setting of the resolver, not an argument: inside, each attempt
is bounded by its own cancel scope, and a caller who wants an overall deadline
puts the call in one of theirs.
"""

from __future__ import annotations

import attrs
import trio

from .._address import Address, format_address, normalize_address
from .._errors import DNSError
from .._wire.edns import Edns
from .._wire.enums import Flag, RRType
from .._wire.message import Message
from .._wire.name import Name
from .exchange import ExchangeError, Exchanger
from .transport import SocketTransport, Transport


class QueryTimeout(DNSError):
    """No reply from the server within the resolver's attempts."""

    def __init__(self, server: Address, attempts: int) -> None:
        self.server = server
        self.attempts = attempts
        plural = "attempt" if attempts == 1 else "attempts"
        super().__init__(f"no reply from {format_address(server)} after {attempts} {plural}")


def _transport_or_sockets(transport: Transport | None) -> Transport:
    return SocketTransport() if transport is None else transport


@attrs.define(eq=False)
class StubResolver:
    """Sends queries to a server of the caller's choosing: `await stub.query(server, name)`."""

    transport: Transport = attrs.field(default=None, converter=_transport_or_sockets)
    timeout: float = attrs.field(default=5.0, kw_only=True, validator=attrs.validators.gt(0))
    attempts: int = attrs.field(default=3, kw_only=True, validator=attrs.validators.gt(0))
    exchanger: Exchanger = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # One exchanger for the resolver's life, so servers found not to speak
        # EDNS are remembered from one query to the next.
        self.exchanger = Exchanger(self.transport)

    @classmethod
    def make_query(
        cls,
        name: Name | str,
        rtype: RRType | str | int = RRType.A,
        *,
        dnssec: bool = False,
        recurse: bool = True,
    ) -> Message:
        """The query `query` sends: random ID, EDNS0 on, DO if `dnssec`, RD if `recurse`."""
        return Message.make_query(
            name,
            rtype,
            flags=Flag.RD if recurse else Flag(0),
            edns=Edns(dnssec_ok=dnssec),
        )

    async def query(
        self,
        server: Address,
        name: Name | str,
        rtype: RRType | str | int = RRType.A,
        *,
        tcp: bool = False,
        dnssec: bool = False,
        recurse: bool = True,
    ) -> Message:
        """Ask `server` about `name`/`rtype` and return its reply, whatever the rcode.

        Raises QueryTimeout if no attempt got a reply in time, ExchangeError if the
        server's reply was unusable or it could not be reached, and ValueError if
        `server` is not an (IP address, port) pair."""
        request = self.make_query(name, rtype, dnssec=dnssec, recurse=recurse)
        return await self.send(server, request, tcp=tcp)

    async def send(self, server: Address, request: Message, *, tcp: bool = False) -> Message:
        """Send a query built by the caller, with the resolver's timeout and retries."""
        # Replies are matched on their source address, which the network spells
        # canonically; a caller's "2001:DB8::0:1" must match it. ValueError if not an IP.
        server = normalize_address(*server)
        for _ in range(self.attempts):
            with trio.move_on_after(self.timeout):
                try:
                    return await self.exchanger.exchange(server, request, tcp=tcp)
                except OSError as exc:
                    # A UDP send can fail outright (no route, address family not
                    # supported); that is the server being unreachable, not a timeout.
                    raise ExchangeError(
                        f"cannot send to {format_address(server)}: {exc.strerror or exc}"
                    ) from None
        raise QueryTimeout(server, self.attempts)

"""The fake network's record of every query it carried.

Theory of operation: each query that reaches the network, over UDP or TCP,
becomes one frozen `Exchange` appended to the network's log at the moment it
was sent: who asked whom, when (virtual time), what, and what the network did
with it. Tests read the log to assert how many queries were sent, to whom and
in what order, without reaching into the code under test. The log keeps the
latest `FakeNetwork.log_limit` exchanges only, so a long-lived network (`serve
--sandbox`) does not grow with every query.
"""

from __future__ import annotations

import enum
from typing import Literal

import attrs

from .._network.transport import Address
from .._wire.enums import RRType
from .._wire.message import Message
from .._wire.name import Name

TransportKind = Literal["udp", "tcp"]


class Action(enum.StrEnum):
    """What became of a query."""

    ANSWERED = "answered"  # a reply (maybe garbage, maybe lame) was sent back
    LOST = "lost"  # the query or its reply was lost on the way (UDP)
    DEAD = "dead"  # the server is dead and said nothing
    DROPPED = "dropped"  # the server chose not to answer (handler, runt query)
    NO_SERVER = "no server"  # nothing listens at that address (UDP)


@attrs.frozen
class Exchange:
    time: float
    transport: TransportKind
    client: Address
    server: Address
    query: Message | bytes  # bytes when the query did not parse
    action: Action
    reply: Message | bytes | None = None  # what the server sent (before any forgery)

    @property
    def qname(self) -> Name | None:
        """The name asked about, in lower case: 0x20 makes the case on the wire
        random (`sent_name` has it as sent)."""
        name = self.sent_name
        return None if name is None else Name(tuple(label.lower() for label in name.labels))

    @property
    def sent_name(self) -> Name | None:
        """The question's name exactly as it was sent."""
        if isinstance(self.query, Message) and len(self.query.question) == 1:
            return self.query.question[0].name
        return None

    @property
    def qtype(self) -> RRType | None:
        if isinstance(self.query, Message) and len(self.query.question) == 1:
            return self.query.question[0].rtype
        return None

    @property
    def edns(self) -> bool:
        """Did the query carry an OPT record?"""
        return isinstance(self.query, Message) and self.query.edns is not None

    def __str__(self) -> str:
        host, port = self.server
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        what = f"{self.qname} {self.qtype}" if self.qname is not None else "(unparsed)"
        return f"{self.time:.3f} {self.transport} {where} {what}: {self.action}"

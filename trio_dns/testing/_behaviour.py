"""How a simulated server (or one of its addresses) misbehaves.

Theory of operation: a `Behaviour` is a frozen bundle of knobs, all off by
default, so a test says only what is unusual about a server:
`Behaviour(loss=0.3)`, `Behaviour(lame=Lame.REFUSED)`, `Behaviour(forge=Forgery())`.
Randomness (latency callables, loss, duplication, jitter) is drawn from a
`random.Random` that the network seeds per server address, so a run repeats
exactly. The knobs are applied by `AuthoritativeServer.respond`.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable

import attrs

from .._network.transport import Address
from .._wire.message import Message

# What a handler may answer: a message, raw bytes sent as they are, or None for
# no reply at all.
Handler = Callable[[Message], Message | bytes | None]
Latency = float | Callable[[random.Random], float]

DEFAULT_LATENCY = 0.020  # seconds, query to reply


class Lame(enum.StrEnum):
    """Ways a server can be lame for the zones it is asked about."""

    REFUSED = "refused"  # answers REFUSED to everything
    # No authority for the zone: AA clear, no data and no SOA, only the zone's
    # own NS set (an answer that lacks only AA is still the zone's data).
    NOT_AUTHORITATIVE = "not authoritative"
    # Its usual answers with AA and RA clear: to a forwarder, an upstream that
    # will not recurse.
    NO_FLAGS = "neither authoritative nor recursive"
    UPWARD_REFERRAL = "upward referral"  # refers the asker back to the root


class ForgedCase(enum.StrEnum):
    """How a forger spells the question it answers (what 0x20 makes it guess)."""

    LOWER = "lower"  # off-path: the name as it made the resolver ask, in lower case
    RANDOM = "random"  # off-path, guessing: each letter's case at random, per reply
    ECHO = "echo"  # on-path: copied from the query as sent, case and all


@attrs.frozen
class Forgery:
    """An off-path attacker's reply that races ahead of the real one (UDP only).

    The forged reply answers the question with an A record for `address`. By
    default it has the wrong ID and comes from the server's own address and port,
    as a blind spoofer's guess would; `correct_id`, `source` and `wrong_question`
    shape other attacks, and `case` how the forger spells the name (an off-path
    forger has not seen the query, so it cannot know the case 0x20 chose). `count`
    forged replies arrive `lead` seconds after the query (before the real reply,
    whose latency is larger), each with a different wrong ID (or, with
    `correct_id`, the same right one).
    """

    address: str = "203.0.113.66"
    ttl: int = 86400
    correct_id: bool = False
    source: Address | None = None  # None: the attacked server's address and port
    wrong_question: bool = False
    case: ForgedCase = ForgedCase.LOWER
    lead: float = 0.0
    count: int = 1


def _check_probability(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} is a probability, not {value!r}")


@attrs.frozen
class Behaviour:
    """What a server does besides answering correctly."""

    latency: Latency = DEFAULT_LATENCY
    jitter: float = 0.0  # extra uniform random delay per packet: replies reorder
    loss: float = attrs.field(default=0.0, validator=_check_probability)  # UDP only
    duplicate: float = attrs.field(default=0.0, validator=_check_probability)  # UDP only
    # Before each UDP reply, the server's reply to the query before arrives again,
    # late: what a reused port would see.
    late_replies: bool = False
    dead: bool = False  # never answers; TCP connections hang
    lame: Lame | None = None
    garbage: bool = False  # replies our ID followed by bytes that do not parse
    truncate_udp: bool = False  # every UDP reply is TC=1 with empty sections
    wrong_id: bool = False  # replies carry a different ID
    reply_from: Address | None = None  # replies come from this address instead
    forge: Forgery | None = None
    edns: bool = True  # False: FORMERR, without OPT, to any query with OPT
    # False: the reply's question (and so every name compressed against it) is in
    # lower case, whatever case was asked: a server that defeats 0x20.
    echo_case: bool = True
    tcp: bool = True  # False: TCP connections are refused
    handler: Handler | None = None  # decides the reply itself (see Handler)

    def delay(self, rng: random.Random) -> float:
        """How long after a query (or a connection attempt) its reply arrives."""
        base = self.latency(rng) if callable(self.latency) else self.latency
        if self.jitter:
            base += rng.uniform(0.0, self.jitter)
        return base

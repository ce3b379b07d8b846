"""What most programs ask: a host's addresses, an address's name.

Theory of operation: `addresses` asks AAAA and A at the same time (RFC 8305
section 3: both queries go out together) and orders what comes back for
connecting to it as RFC 8305 section 4 prefers: IPv6 first, then the families
interleaved, so a client that tries them in turn alternates. Either family
failing is not a failure while the other has addresses. `reverse` asks the PTR
of an address's in-addr.arpa or ip6.arpa name. Both raise the resolution errors
(`ResolutionError` and its kinds) rather than return an empty result, and both
use the system's resolver (resolv.conf, as the C library's getaddrinfo does)
unless given another.
"""

from __future__ import annotations

import ipaddress
import itertools

import trio

from .._address import normalize_address
from .._decisions.answer import Answer
from .._wire.enums import Rcode, RRType
from .._wire.name import Name
from .._wire.rdtypes.address import AAAA, A
from .._wire.rdtypes.single_name import PTR
from .resolver import Resolver
from .system import system_resolver


def interleave(ipv6: list[str], ipv4: list[str]) -> list[str]:
    """RFC 8305 section 4: IPv6 first, then alternate between the families."""
    mixed = itertools.zip_longest(ipv6, ipv4)
    return [address for pair in mixed for address in pair if address is not None]


async def addresses(
    host: str, *, resolver: Resolver | None = None, lifetime: float | None = None
) -> list[str]:
    """The IPv6 and IPv4 addresses of `host`, in the order to try them (RFC 8305).

    An IP address is returned as it is. Raises NoSuchName, NoData or
    ResolutionFailed (ResolutionError) when there is no address at all."""
    try:
        return [normalize_address(host, 0)[0]]
    except ValueError:
        pass
    chosen = system_resolver() if resolver is None else resolver
    answers: dict[RRType, Answer] = {}

    async def ask(rtype: RRType) -> None:
        answers[rtype] = await chosen.resolve(host, rtype, lifetime=lifetime)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, RRType.AAAA)
        nursery.start_soon(ask, RRType.A)
    ipv6 = [rdata.address for rdata in answers[RRType.AAAA] if isinstance(rdata, AAAA)]
    ipv4 = [rdata.address for rdata in answers[RRType.A] if isinstance(rdata, A)]
    if ipv6 or ipv4:
        return interleave(ipv6, ipv4)
    a, aaaa = answers[RRType.A], answers[RRType.AAAA]
    # The most telling failure: the name does not exist, then a failure, then no data.
    for answer in (a, aaaa):
        if answer.rcode == Rcode.NXDOMAIN:
            answer.raise_for_status()
    for answer in (a, aaaa):
        if answer.rcode != Rcode.NOERROR:
            answer.raise_for_status()
    a.raise_for_status()
    raise AssertionError("unreachable: an answer without addresses raises NoData")


def reverse_name(address: str) -> Name:
    """The in-addr.arpa or ip6.arpa name of an IP address (ValueError if it is not one)."""
    return Name.from_text(ipaddress.ip_address(address).reverse_pointer + ".")


async def reverse(
    address: str, *, resolver: Resolver | None = None, lifetime: float | None = None
) -> list[Name]:
    """The names an IP address's PTR records give. Raises ValueError if `address` is
    not an IP address, and ResolutionError's kinds if there is no PTR."""
    name = reverse_name(address)
    chosen = system_resolver() if resolver is None else resolver
    answer = await chosen.resolve(name, RRType.PTR, lifetime=lifetime)
    return [rdata.target for rdata in answer.raise_for_status() if isinstance(rdata, PTR)]

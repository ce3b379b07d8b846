"""What most programs ask: a host's addresses, an address's name.

Theory of operation: `addresses` asks AAAA and A at the same time (RFC 8305
section 3: both queries go out together) and orders what comes back for
connecting to it as RFC 8305 section 4 prefers: IPv6 first, then the families
interleaved, so a client that tries them in turn alternates. Either family
failing is not a failure while the other has addresses. Through the system
resolver, both families are asked for each name of the search list in turn, as
getaddrinfo does, so that the addresses all come from one name. `reverse` asks the PTR
of an address's in-addr.arpa or ip6.arpa name. Both raise the resolution errors
(`ResolutionError` and its kinds) rather than return an empty result, and both
use the system's resolver (resolv.conf, as the C library's getaddrinfo does)
unless given another.
"""

from __future__ import annotations

import ipaddress
import itertools
import math

import trio

from .._address import normalize_address
from .._decisions.answer import Answer, servfail
from .._decisions.resolution_errors import ResolutionTimeout
from .._decisions.resolv_conf import keeps_searching, search_outcome
from .._wire.enums import EdeCode, Rcode, RRClass, RRType
from .._wire.name import Name
from .._wire.rdtypes.address import AAAA, A
from .._wire.rdtypes.single_name import PTR
from .lifetime import check_lifetime
from .resolver import Resolver
from .system import SystemResolver, system_resolver


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
    check_lifetime(lifetime)
    if isinstance(chosen, SystemResolver):
        # As getaddrinfo does: both families for each name of the search list,
        # so the addresses come from one name, never half from each of two.
        names = chosen.config.candidates(host)
        as_typed_first = chosen.config.as_typed_first(host)
    else:
        names, as_typed_first = (Name.make(host),), True
    tried: list[tuple[Answer, Answer]] = []
    with trio.move_on_after(math.inf if lifetime is None else lifetime) as scope:
        for name in names:
            a, aaaa = await _both_families(chosen, name)
            found = interleave(_addresses(aaaa, AAAA), _addresses(a, A))
            if found:
                return found
            tried.append((a, aaaa))
            if not (keeps_searching(a) and keeps_searching(aaaa)):
                break
    if scope.cancelled_caught:
        late = f"no answer within the {lifetime:g} s lifetime"
        code = EdeCode.NO_REACHABLE_AUTHORITY
        raise ResolutionTimeout(
            servfail(names[0], RRType.A, RRClass.IN, code, late, timed_out=True)
        )
    a = search_outcome([a for a, _ in tried], as_typed_first)
    aaaa = search_outcome([aaaa for _, aaaa in tried], as_typed_first)
    # The most telling failure: the name does not exist, then a failure, then no data.
    for answer in (a, aaaa):
        if answer.rcode == Rcode.NXDOMAIN:
            answer.raise_for_status()
    for answer in (a, aaaa):
        if answer.rcode != Rcode.NOERROR:
            answer.raise_for_status()
    a.raise_for_status()
    raise AssertionError("unreachable: an answer without addresses raises NoData")


async def _both_families(resolver: Resolver, name: Name) -> tuple[Answer, Answer]:
    """The A and AAAA answers for `name`, asked at the same time (RFC 8305 section 3)."""
    answers: dict[RRType, Answer] = {}

    async def ask(rtype: RRType) -> None:
        answers[rtype] = await resolver.resolve(name, rtype)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, RRType.AAAA)
        nursery.start_soon(ask, RRType.A)
    return answers[RRType.A], answers[RRType.AAAA]


def _addresses(answer: Answer, rdtype: type[A] | type[AAAA]) -> list[str]:
    return [rdata.address for rdata in answer if isinstance(rdata, rdtype)]


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

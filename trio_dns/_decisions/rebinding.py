"""DNS rebinding protection: private addresses kept out of answers for public names.

Theory of operation: a DNS rebinding attack gives a name the attacker controls
a private address (a router's 192.168.1.1, a developer's 127.0.0.1) once a
browser has loaded the attacker's page from it, so that the page's scripts,
still "same origin", talk to machines behind the firewall. `Rebinding` is the
defence of Unbound's `private-address` and `private-domain`: a list of
networks whose addresses may not appear in upstream answers, and a list of
domains (with everything below them) that may hold them anyway. `apply` takes
a message as it came from upstream and returns it without the A and AAAA
records of other names that point into those networks, one record at a time: an
RRset keeps its public addresses, and one left with none is gone, so the asker
sees NODATA rather than SERVFAIL (Unbound's choice: SERVFAIL would break every
name that mixes public and private addresses). Every section is filtered, so
glue that points inside does not reach the cache either.

An AAAA record that embeds an IPv4 address as an IPv4-mapped address
(`::ffff:10.0.0.1`) is judged by that IPv4 address, which Unbound leaves to the
operator's `::ffff:0:0/96` entry.

Pure: no I/O, no clock. Applied to replies from upstream only (by the exchange
layer); local zones are the operator's own data and are never filtered.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

import attrs

from .._wire.enums import RRType
from .._wire.message import Message, Record
from .._wire.name import Name
from .._wire.rdtypes.address import AAAA, A

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# What `private_address = ["default"]` means: the ranges that are never a public
# internet host's (RFC 6890), which is what a rebinding attack aims at.
PRIVATE_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",  # RFC 1918
        "192.168.0.0/16",  # RFC 1918
        "169.254.0.0/16",  # link-local (RFC 3927)
        "127.0.0.0/8",  # loopback
        # "This network": browsers on Linux and macOS reach the machine's own
        # services through 0.0.0.0 (the "0.0.0.0 day" rebinding of 2024).
        "0.0.0.0/8",
        "fc00::/7",  # unique local (RFC 4193)
        "fe80::/10",  # link-local
        "::1/128",  # loopback
        "::/128",  # unspecified
    )
)


def _networks(values: Iterable[Network]) -> tuple[Network, ...]:
    return tuple(values)


def _names(values: Iterable[Name]) -> tuple[Name, ...]:
    return tuple(values)


@attrs.frozen
class Rebinding:
    """Addresses in `private_addresses` are dropped from answers, except for names
    at or below one of `private_domains`."""

    private_addresses: tuple[Network, ...] = attrs.field(converter=_networks)
    private_domains: tuple[Name, ...] = attrs.field(default=(), converter=_names)

    def is_private(self, address: str) -> bool:
        """Is this address (text, as A and AAAA rdata hold it) inside a private network?"""
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.private_addresses)

    def may_hold_private(self, name: Name) -> bool:
        """May this name have private addresses (is it in a private domain)?"""
        return any(name.is_subdomain(domain) for domain in self.private_domains)

    def allows(self, record: Record) -> bool:
        """Is this record free of the rebinding this policy guards against?"""
        rdata = record.rdata
        if not isinstance(rdata, A | AAAA):
            return True
        return not self.is_private(rdata.address) or self.may_hold_private(record.name)

    def filter(self, records: Sequence[Record]) -> tuple[Record, ...]:
        """`records` without those the policy does not allow (order kept)."""
        return tuple(record for record in records if self.allows(record))

    def apply(self, message: Message) -> tuple[Message, int]:
        """The message without the records the policy does not allow, and how many
        there were. A message with nothing to remove is returned as it is."""
        if not self.private_addresses or not _has_addresses(message):
            return message, 0
        answer = self.filter(message.answer)
        authority = self.filter(message.authority)
        additional = self.filter(message.additional)
        removed = (
            len(message.answer)
            + len(message.authority)
            + len(message.additional)
            - len(answer)
            - len(authority)
            - len(additional)
        )
        if not removed:
            return message, 0
        return (
            attrs.evolve(message, answer=answer, authority=authority, additional=additional),
            removed,
        )


_ADDRESS_TYPES = (RRType.A, RRType.AAAA)


def _has_addresses(message: Message) -> bool:
    for section in (message.answer, message.authority, message.additional):
        for record in section:
            if record.rtype in _ADDRESS_TYPES:
                return True
    return False


def parse_private_addresses(items: Iterable[str]) -> tuple[Network, ...]:
    """CIDR networks (an address alone is a /32 or /128), or `default` for
    `PRIVATE_NETWORKS`; raises ValueError naming the item that is neither."""
    out: list[Network] = []
    for item in items:
        text = item.strip()
        if text.lower() == "default":
            out.extend(PRIVATE_NETWORKS)
            continue
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(item) from None
    return tuple(dict.fromkeys(out))

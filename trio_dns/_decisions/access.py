"""Who may query: access control rules, each a network and an action.

Theory of operation: a rule such as `10.0.0.0/8 allow` says what happens to a
query from that network: `allow` it (answered as usual), `refuse` it (REFUSED,
header and question only), or `deny` it (dropped without a word, which tells a
scanner nothing and gives a reflection attack nothing to reflect). As in
Unbound's access-control, the most specific network that holds the client's
address decides, whatever the order the rules were written in, and an address
that no rule covers is refused. `AccessControl.build` merges the older `allow`
list (networks allowed, loopback by default) with the rules: a network named by
both takes the rule's action, so `127.0.0.0/8 refuse` can still shut loopback
out.

A decision costs a scan of the rules, most specific first; the server
remembers it per client address, so it is paid once per address, not per query.

Pure: no I/O.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable

import attrs

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Action(enum.Enum):
    ALLOW = "allow"
    REFUSE = "refuse"
    DENY = "deny"


# Unbound's names, and what each is here. allow_snoop is allow: trio-dns answers
# RD=0 queries from its cache for every allowed client.
_ACTIONS = {
    "allow": Action.ALLOW,
    "allow_snoop": Action.ALLOW,
    "refuse": Action.REFUSE,
    "deny": Action.DENY,
}


def parse_rule(text: str) -> tuple[Network, Action]:
    """`"10.0.0.0/8 allow"` (Unbound's access-control syntax); ValueError if not."""
    parts = text.split()
    if len(parts) != 2 or parts[1].lower() not in _ACTIONS:
        raise ValueError(f"{text!r} is not 'NETWORK ACTION' (allow, refuse or deny)")
    return ipaddress.ip_network(parts[0], strict=False), _ACTIONS[parts[1].lower()]


@attrs.frozen
class AccessControl:
    """`decide(address)`: the action for a query from `address`."""

    # Most specific first; of two rules for one network, the later one written.
    rules: tuple[tuple[Network, Action], ...]

    @classmethod
    def build(
        cls, allow: Iterable[Network], rules: Iterable[tuple[Network, Action]] = ()
    ) -> AccessControl:
        merged: dict[Network, Action] = {network: Action.ALLOW for network in allow}
        for network, action in rules:
            merged.pop(network, None)
            merged[network] = action
        ordered = sorted(merged.items(), key=lambda rule: rule[0].prefixlen, reverse=True)
        return cls(tuple(ordered))

    def decide(self, host: str) -> Action:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return Action.REFUSE
        for network, action in self.rules:
            if network.version == address.version and address in network:
                return action
        return Action.REFUSE

"""A small built-in internet: a root, TLDs and zones that show what resolvers meet.

Theory of operation: `build_sandbox()` puts authoritative servers for a root zone,
three TLDs and a handful of second-level zones on a `FakeNetwork`, and returns it
with root hints that point at the sandbox root. It is what the resolver's tests
run against, and what `trio-dns serve --sandbox` answers from on a machine with no
internet. Addresses come from the documentation ranges (RFC 5737, RFC 3849), so
nothing here could ever be mistaken for a real server.

What it shows:
- `www.example.com`: an answer through root -> com -> example.com with glue; one of
  example.com's two servers is dead, so a racing resolver must move on;
- `www.lame.com`: one lame server (REFUSED) beside a good one;
- `www.glueless.org`: a delegation whose nameserver name lies in another TLD
  (net), so its address must be resolved first;
- `www.double.org`: doubly glueless: its nameserver lives in glueless.org;
- `shop.example.com` -> `www.cdn.net` -> `edge.cdn.net`: a CNAME chain across zones;
- `cycle-a.com` / `cycle-b.net`: two zones whose servers live in each other (no
  answer can exist; the resolver must notice and fail cleanly);
- `big.example.com`: a TXT set too big for UDP, so it comes over TCP;
- `v6only.net`: a zone served only over IPv6;
- NXDOMAIN and NODATA anywhere, with SOAs for negative caching;
- DNSSEC: the root, the TLD `example.` and `secure.example.` are signed, so
  `www.secure.example` validates from the root's DS (`Sandbox.trust_anchor`);
  `bogus.example.` is signed but its `www` A record was changed after signing;
  `unsigned.example.` and every other zone are provably unsigned
  (`_sandbox_dnssec.py` says how); `bücher.secure.example`, an
  internationalised name, is `xn--bcher-kva.secure.example` on the wire.

Without a trust anchor a resolver asks without DO and meets none of it: the
replies are those of an unsigned internet.
"""

from __future__ import annotations

import functools

import attrs

from .._decisions.authority import Zone
from .._wire.message import Record
from .._wire.zone import read_zone
from ._behaviour import Behaviour, Lame
from ._network import FakeNetwork
from ._sandbox_dnssec import sign, trust_anchor

_SOA = "@ 3600 SOA ns1.{zone} hostmaster.{zone} 2026112501 7200 900 1209600 300"

ROOT_HINTS = """
.                   3600000 NS a.root-servers.sandbox.
.                   3600000 NS b.root-servers.sandbox.
a.root-servers.sandbox. 3600000 A 192.0.2.1
a.root-servers.sandbox. 3600000 AAAA 2001:db8::1
b.root-servers.sandbox. 3600000 A 192.0.2.2
"""

ROOT_ZONE = """
$ORIGIN .
$TTL 86400
@ 86400 SOA a.root-servers.sandbox. hostmaster.root-servers.sandbox. 2026112501 1800 900 604800 86400
@ 518400 NS a.root-servers.sandbox.
@ 518400 NS b.root-servers.sandbox.
sandbox.                NS a.root-servers.sandbox.
a.root-servers.sandbox. A 192.0.2.1
a.root-servers.sandbox. AAAA 2001:db8::1
b.root-servers.sandbox. A 192.0.2.2
com.                NS ns1.nic.com.
com.                NS ns2.nic.com.
ns1.nic.com.        A 192.0.2.10
ns2.nic.com.        A 192.0.2.11
net.                NS ns1.nic.net.
ns1.nic.net.        A 192.0.2.20
ns1.nic.net.        AAAA 2001:db8::20
org.                NS ns1.nic.org.
ns1.nic.org.        A 192.0.2.30
example.            NS ns1.nic.example.
ns1.nic.example.    A 192.0.2.40
"""

SANDBOX_ZONE = """
$ORIGIN sandbox.
$TTL 86400
@ SOA a.root-servers hostmaster.root-servers 1 7200 900 1209600 300
@ NS a.root-servers
a.root-servers A 192.0.2.1
a.root-servers AAAA 2001:db8::1
b.root-servers A 192.0.2.2
"""

COM_ZONE = """
$ORIGIN com.
$TTL 172800
@ 900 SOA ns1.nic.com. hostmaster.nic.com. 2026112501 1800 900 604800 86400
@ NS ns1.nic.com.
@ NS ns2.nic.com.
ns1.nic A 192.0.2.10
ns2.nic A 192.0.2.11
example NS ns1.example.com.
example NS ns2.example.com.
ns1.example A 198.51.100.10
ns2.example A 198.51.100.11
lame NS ns1.lame.com.
lame NS ns2.lame.com.
ns1.lame A 198.51.100.20
ns2.lame A 198.51.100.21
cycle-a NS ns.cycle-b.net.
"""

NET_ZONE = """
$ORIGIN net.
$TTL 172800
@ 900 SOA ns1.nic.net. hostmaster.nic.net. 2026112501 1800 900 604800 86400
@ NS ns1.nic.net.
ns1.nic A 192.0.2.20
ns1.nic AAAA 2001:db8::20
dns-host NS ns1.dns-host.net.
ns1.dns-host A 198.51.100.30
cdn NS ns1.cdn.net.
ns1.cdn A 198.51.100.40
cycle-b NS ns.cycle-a.com.
v6only NS ns1.v6only.net.
ns1.v6only AAAA 2001:db8:6::1
"""

ORG_ZONE = """
$ORIGIN org.
$TTL 172800
@ 900 SOA ns1.nic.org. hostmaster.nic.org. 2026112501 1800 900 604800 86400
@ NS ns1.nic.org.
ns1.nic A 192.0.2.30
glueless NS ns.dns-host.net.
double NS ns.glueless.org.
"""

EXAMPLE_TLD_ZONE = """
$ORIGIN example.
$TTL 86400
@ 900 SOA ns1.nic.example. hostmaster.nic.example. 2026112501 1800 900 604800 86400
@ NS ns1.nic.example.
ns1.nic A 192.0.2.40
secure NS ns1.secure.example.
ns1.secure A 198.51.100.60
bogus NS ns1.bogus.example.
ns1.bogus A 198.51.100.61
unsigned NS ns1.unsigned.example.
ns1.unsigned A 198.51.100.62
"""

SECURE_ZONE = (
    "$ORIGIN secure.example.\n$TTL 3600\n"
    + _SOA.format(zone="secure.example.")
    + """
@ NS ns1
@ MX 10 mail
ns1 A 198.51.100.60
www A 198.51.100.85
www AAAA 2001:db8:85::85
mail A 198.51.100.26
bücher A 198.51.100.90
"""
)

BOGUS_ZONE = (
    "$ORIGIN bogus.example.\n$TTL 3600\n"
    + _SOA.format(zone="bogus.example.")
    + "\n@ NS ns1\nns1 A 198.51.100.61\nwww A 198.51.100.88\n"
)

UNSIGNED_ZONE = (
    "$ORIGIN unsigned.example.\n$TTL 3600\n"
    + _SOA.format(zone="unsigned.example.")
    + "\n@ NS ns1\nns1 A 198.51.100.62\nwww A 198.51.100.89\n"
)

EXAMPLE_ZONE = (
    """
$ORIGIN example.com.
$TTL 3600
"""
    + _SOA.format(zone="example.com.")
    + """
@ NS ns1
@ NS ns2
@ A 198.51.100.80
@ MX 10 mail
ns1 A 198.51.100.10
ns2 A 198.51.100.11
www A 198.51.100.80
www AAAA 2001:db8:80::80
mail A 198.51.100.25
alias CNAME www
shop CNAME www.cdn.net.
loop1 CNAME loop2
loop2 CNAME loop1
*.wild A 198.51.100.99
"""
    + "\n".join(f'big TXT "{i:02d} {"x" * 180}"' for i in range(12))
)

LAME_ZONE = (
    "$ORIGIN lame.com.\n$TTL 3600\n"
    + _SOA.format(zone="lame.com.")
    + "\n@ NS ns1\n@ NS ns2\nns1 A 198.51.100.20\nns2 A 198.51.100.21\nwww A 198.51.100.82\n"
)

DNS_HOST_ZONE = (
    "$ORIGIN dns-host.net.\n$TTL 3600\n"
    + _SOA.format(zone="dns-host.net.")
    + "\n@ NS ns1\nns1 A 198.51.100.30\nns A 198.51.100.31\n"
)

GLUELESS_ZONE = (
    "$ORIGIN glueless.org.\n$TTL 3600\n"
    + _SOA.format(zone="glueless.org.")
    + "\n@ NS ns.dns-host.net.\nwww A 198.51.100.83\nns A 198.51.100.32\n"
)

DOUBLE_ZONE = (
    "$ORIGIN double.org.\n$TTL 3600\n"
    + _SOA.format(zone="double.org.")
    + "\n@ NS ns.glueless.org.\nwww A 198.51.100.84\n"
)

CDN_ZONE = (
    "$ORIGIN cdn.net.\n$TTL 300\n"
    + _SOA.format(zone="cdn.net.")
    + "\n@ NS ns1\nns1 A 198.51.100.40\nwww CNAME edge\nedge A 198.51.100.41\n"
)

V6ONLY_ZONE = (
    "$ORIGIN v6only.net.\n$TTL 3600\n"
    + _SOA.format(zone="v6only.net.")
    + "\n@ NS ns1\nns1 AAAA 2001:db8:6::1\nwww A 198.51.100.86\n"
)


@attrs.frozen
class Sandbox:
    """The sandbox internet: its network, the root hints that lead into it, and the
    trust anchor its signed zones validate from."""

    network: FakeNetwork
    root_hints: tuple[Record, ...]
    # The DS of the root's key: a validator that starts from it validates the
    # signed zones (see the module docstring).
    trust_anchor: tuple[Record, ...] = attrs.field(factory=trust_anchor)


def _zone(text: str) -> Zone:
    """A zone of the sandbox, signed if it is one of the signed ones."""
    zone = Zone.from_text(text, filename="<sandbox>")
    return Zone.from_records(zone.origin, sign(zone.origin, zone.records))


def build_sandbox(*, seed: int = 0, log_limit: int | None = 10_000) -> Sandbox:
    """A fresh sandbox internet (see the module docstring for what it holds);
    its network logs the latest `log_limit` exchanges (None: all; 0: none)."""
    net = FakeNetwork(seed=seed, log_limit=log_limit)
    root = _signed_root()
    net.add_server(["192.0.2.1", "2001:db8::1"], [root, SANDBOX_ZONE], name="a.root")
    net.add_server(["192.0.2.2"], [root, SANDBOX_ZONE], name="b.root")
    net.add_server(["192.0.2.10"], [COM_ZONE], name="ns1.nic.com")
    net.add_server(["192.0.2.11"], [COM_ZONE], name="ns2.nic.com")
    net.add_server(["192.0.2.20", "2001:db8::20"], [NET_ZONE], name="ns1.nic.net")
    net.add_server(["192.0.2.30"], [ORG_ZONE], name="ns1.nic.org")
    net.add_server(["198.51.100.10"], [EXAMPLE_ZONE], name="ns1.example.com")
    net.add_server(
        ["198.51.100.11"], [EXAMPLE_ZONE], behaviour=Behaviour(dead=True), name="ns2.example.com"
    )
    net.add_server(
        ["198.51.100.20"], [LAME_ZONE], behaviour=Behaviour(lame=Lame.REFUSED), name="ns1.lame.com"
    )
    net.add_server(["198.51.100.21"], [LAME_ZONE], name="ns2.lame.com")
    net.add_server(["198.51.100.30"], [DNS_HOST_ZONE], name="ns1.dns-host.net")
    net.add_server(["198.51.100.31"], [GLUELESS_ZONE], name="ns.dns-host.net")
    net.add_server(["198.51.100.32"], [DOUBLE_ZONE], name="ns.glueless.org")
    net.add_server(["198.51.100.40"], [CDN_ZONE], name="ns1.cdn.net")
    net.add_server(["2001:db8:6::1"], [V6ONLY_ZONE], name="ns1.v6only.net")
    tld, secure, bogus = _signed_example()
    net.add_server(["192.0.2.40"], [tld], name="ns1.nic.example")
    net.add_server(["198.51.100.60"], [secure], name="ns1.secure.example")
    net.add_server(["198.51.100.61"], [bogus], name="ns1.bogus.example")
    net.add_server(["198.51.100.62"], [UNSIGNED_ZONE], name="ns1.unsigned.example")
    return Sandbox(net, tuple(read_zone(ROOT_HINTS, origin=None, filename="<sandbox hints>")))


# Signed once per process: zones are immutable, and signing them for each of the
# many sandboxes the tests build would cost more than everything else they do.
@functools.cache
def _signed_root() -> Zone:
    return _zone(ROOT_ZONE)


@functools.cache
def _signed_example() -> tuple[Zone, Zone, Zone]:
    return _zone(EXAMPLE_TLD_ZONE), _zone(SECURE_ZONE), _zone(BOGUS_ZONE)

"""A whole DNS tree on real servers: root, two TLDs and leaf zones, NSD and Knot mixed.

Theory of operation: `Hierarchy.start(pool, net)` runs six authoritative servers
on `net.1` .. `net.6` (all on the harness PORT) and a black hole on `net.99`: a
socket that is never read, so queries to it vanish as they do to a dead host. Every zone text is built from the
network prefix, so two test modules can each run a tree on a /24 of their own.
The tree is laid out so that each server is used for one kind of scenario:

    .                 NSD   net.1   root; NS a.root. (its own address)
    test.             Knot  net.2   TLD
    example.          NSD   net.3   TLD; also the "lame" server for lame.test.
    leaf.test.        NSD   net.4   plain answers, a big TXT (needs TCP), CNAMEs
    other.example.    Knot  net.5   middle of the cross-zone CNAME chain
    lame.test.        Knot  net.5   delegated to net.3 (REFUSED) and net.5
    glueless.test.    Knot  net.6   NS ns-glueless.example.: no glue possible
    partly.test.      Knot  net.6   delegated to net.99 (dead) and net.6
    mixed.test.       Knot  net.6   NS ns1.mixed.test (glue: net.99, dead) and
                                    ns-glueless.example (no glue)
    double.example.   Knot  net.6   NS ns.glueless.test.: glueless twice over
    dead.test.        -             delegated only to net.99: times out
    broken.test.      -             delegated only to net.3, which says REFUSED
    cycle.test.       -             NS ns.cycle.example., whose zone has
    cycle.example.    -             NS ns.cycle.test.: each needs the other

`root_hints()` gives the hints naming only the root server; `root_hints_text()`
the same as a zone file for `trio-dns resolve --root-hints`.
"""

from __future__ import annotations

import attrs

from trio_dns import Record
from trio_dns._wire.zone import read_zone

from .servers import PORT, Kind, RunningServer, ServerPool

# About 60 TXT records of ~50 octets: far over the 1232-octet EDNS payload, so
# the UDP reply is truncated and the question must be asked again over TCP.
BIG_TXT = "\n".join(f'big TXT "chunk {i:02d} {"y" * 40}"' for i in range(60))
BIG_TXT_COUNT = 60


def _root_zone(net: str) -> str:
    return f"""\
$ORIGIN .
$TTL 86400
@                 SOA a.root. hostmaster.root. 1 1800 900 604800 86400
@                 NS a.root.
a.root.           A {net}.1
test.             NS ns1.nic.test.
ns1.nic.test.     A {net}.2
example.          NS ns1.nic.example.
ns1.nic.example.  A {net}.3
"""


def _test_zone(net: str) -> str:
    return f"""\
$ORIGIN test.
$TTL 86400
@                 SOA ns1.nic hostmaster.nic 1 1800 900 604800 3600
@                 NS ns1.nic
ns1.nic           A {net}.2
leaf              NS ns1.leaf
ns1.leaf          A {net}.4
lame              NS ns1.lame
lame              NS ns2.lame
ns1.lame          A {net}.3
ns2.lame          A {net}.5
partly            NS ns1.partly
partly            NS ns2.partly
ns1.partly        A {net}.99
ns2.partly        A {net}.6
glueless          NS ns-glueless.example.
dead              NS ns1.dead
ns1.dead          A {net}.99
broken            NS ns1.broken
ns1.broken        A {net}.3
mixed             NS ns1.mixed
mixed             NS ns-glueless.example.
ns1.mixed         A {net}.99
cycle             NS ns.cycle.example.
"""


def _example_zone(net: str) -> str:
    return f"""\
$ORIGIN example.
$TTL 86400
@                 SOA ns1.nic hostmaster.nic 1 1800 900 604800 3600
@                 NS ns1.nic
ns1.nic           A {net}.3
ns-glueless       A {net}.6
other             NS ns1.other
ns1.other         A {net}.5
double            NS ns.glueless.test.
cycle             NS ns.cycle.test.
"""


def _leaf_zone(net: str) -> str:
    return f"""\
$ORIGIN leaf.test.
$TTL 300
@                 SOA ns1 hostmaster 1 1800 900 604800 60
@                 NS ns1
ns1               A {net}.4
www               A 192.0.2.1
x.y               A 192.0.2.3
www               A 192.0.2.2
alias             CNAME web.other.example.
loop1             CNAME loop2
loop2             CNAME loop1
{BIG_TXT}
"""


def _other_zone(net: str) -> str:
    return f"""\
$ORIGIN other.example.
$TTL 300
@                 SOA ns1 hostmaster 1 1800 900 604800 60
@                 NS ns1
ns1               A {net}.5
web               CNAME host.glueless.test.
"""


def _lame_zone(net: str) -> str:
    return f"""\
$ORIGIN lame.test.
$TTL 300
@                 SOA ns2 hostmaster 1 1800 900 604800 60
@                 NS ns1
@                 NS ns2
ns1               A {net}.3
ns2               A {net}.5
www               A 192.0.2.30
"""


def _glueless_zone(net: str) -> str:
    return f"""\
$ORIGIN glueless.test.
$TTL 300
@                 SOA ns-glueless.example. hostmaster 1 1800 900 604800 60
@                 NS ns-glueless.example.
ns                A {net}.6
www               A 192.0.2.40
host              A 192.0.2.41
"""


def _partly_zone(net: str) -> str:
    return f"""\
$ORIGIN partly.test.
$TTL 300
@                 SOA ns2 hostmaster 1 1800 900 604800 60
@                 NS ns1
@                 NS ns2
ns1               A {net}.99
ns2               A {net}.6
www               A 192.0.2.50
"""


def _mixed_zone(net: str) -> str:
    return f"""\
$ORIGIN mixed.test.
$TTL 300
@                 SOA ns-glueless.example. hostmaster 1 1800 900 604800 60
@                 NS ns1
@                 NS ns-glueless.example.
ns1               A {net}.99
www               A 192.0.2.60
"""


_DOUBLE_ZONE = """\
$ORIGIN double.example.
$TTL 300
@                 SOA ns.glueless.test. hostmaster 1 1800 900 604800 60
@                 NS ns.glueless.test.
www               A 192.0.2.70
"""


def root_hints_text(net: str) -> str:
    return f"""\
.        3600000 IN NS a.root.
a.root.  3600000 IN A  {net}.1
"""


@attrs.frozen
class Hierarchy:
    """The addresses of a running tree; see the module docstring for the layout."""

    net: str
    servers: tuple[RunningServer, ...]

    @classmethod
    def start(cls, pool: ServerPool, net: str) -> Hierarchy:
        specs: list[tuple[Kind, str, dict[str, str]]] = [
            ("nsd", f"{net}.1", {".": _root_zone(net)}),
            ("knot", f"{net}.2", {"test.": _test_zone(net)}),
            ("nsd", f"{net}.3", {"example.": _example_zone(net)}),
            ("nsd", f"{net}.4", {"leaf.test.": _leaf_zone(net)}),
            (
                "knot",
                f"{net}.5",
                {"other.example.": _other_zone(net), "lame.test.": _lame_zone(net)},
            ),
            (
                "knot",
                f"{net}.6",
                {
                    "glueless.test.": _glueless_zone(net),
                    "partly.test.": _partly_zone(net),
                    "mixed.test.": _mixed_zone(net),
                    "double.example.": _DOUBLE_ZONE,
                },
            ),
        ]
        servers = tuple(pool.start_many(specs))
        pool.black_hole(f"{net}.99")
        return cls(net, servers)

    def address(self, last: int) -> tuple[str, int]:
        """The (host, port) of `net.last`, as the resolver's trace names it."""
        return (f"{self.net}.{last}", PORT)

    @property
    def root(self) -> tuple[str, int]:
        return self.address(1)

    @property
    def test_tld(self) -> tuple[str, int]:
        return self.address(2)

    @property
    def example_tld(self) -> tuple[str, int]:
        return self.address(3)

    @property
    def leaf(self) -> tuple[str, int]:
        return self.address(4)

    @property
    def other(self) -> tuple[str, int]:
        return self.address(5)

    @property
    def glueless(self) -> tuple[str, int]:
        return self.address(6)

    @property
    def dead(self) -> tuple[str, int]:
        return self.address(99)

    def root_hints_text(self) -> str:
        return root_hints_text(self.net)

    def root_hints(self) -> list[Record]:
        return read_zone(self.root_hints_text())

"""Zones shared by the tests that run real servers."""

from __future__ import annotations

ORIGIN = "example.test."

# ~60 TXT records of ~50 octets each: about 3.5 kB, far over a 1232-octet payload.
BIG_TXT = "\n".join(f'big TXT "record {i:02d} {"x" * 40}"' for i in range(60))

ZONE = f"""\
$ORIGIN {ORIGIN}
$TTL 3600
@       SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
@       NS ns1
ns1     A 127.53.1.1
www     A 192.0.2.10
www     A 192.0.2.11
@       MX 10 mail
@       MX 20 backup.example.net.
mail    A 192.0.2.25
txt     TXT "hello world" "second string"
txt     TXT "v=spf1 -all"
{BIG_TXT}
"""

# A parent and a child, to run as two servers: the parent refers to the child.
PARENT_ORIGIN = "test."
CHILD_ORIGIN = "child.test."
PARENT_HOST = "127.53.2.1"
CHILD_HOST = "127.53.2.2"

PARENT_ZONE = f"""\
$ORIGIN {PARENT_ORIGIN}
$TTL 86400
@        SOA ns.test. hostmaster.test. 1 7200 3600 1209600 300
@        NS ns
ns       A {PARENT_HOST}
child    NS ns.child
ns.child A {CHILD_HOST}
"""

CHILD_ZONE = f"""\
$ORIGIN {CHILD_ORIGIN}
$TTL 300
@        SOA ns hostmaster 1 7200 3600 1209600 300
@        NS ns
ns       A {CHILD_HOST}
www      A 192.0.2.80
"""

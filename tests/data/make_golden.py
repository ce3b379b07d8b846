"""Write the golden packets in tests/data/*.hex, using dnspython as the encoder.

Run once by hand (`.venv/bin/python tests/data/make_golden.py`); the .hex files are
checked in and the tests never regenerate them, so they pin the wire format even
if dnspython's encoder changes. The values are real-world ones where they exist
(the gtld-servers addresses, the Akamai CNAME chain of www.microsoft.com, the
dnssec-failed.org test zone); DNSSEC signatures are made with a fixed ECDSA P-256
key (deterministic RFC 6979 signing), whose DNSKEY is written into the header of
each signed packet so a validator test can check them.
"""

from __future__ import annotations

import base64
import datetime
import sys
from pathlib import Path

import dns.dnssec
import dns.dnssectypes
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.node
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.version
from cryptography.hazmat.primitives.asymmetric import ec

HERE = Path(__file__).parent

GTLD_SERVERS = {
    "a": ("192.5.6.30", "2001:503:a83e::2:30"),
    "b": ("192.33.14.30", "2001:503:231d::2:30"),
    "c": ("192.26.92.30", "2001:503:83eb::30"),
    "d": ("192.31.80.30", "2001:500:856e::30"),
    "e": ("192.12.94.30", "2001:502:1ca1::30"),
    "f": ("192.35.51.30", "2001:503:d414::30"),
    "g": ("192.42.93.30", "2001:503:eea3::30"),
    "h": ("192.54.112.30", "2001:502:8cc::30"),
    "i": ("192.43.172.30", "2001:503:39c1::30"),
    "j": ("192.48.79.30", "2001:502:7094::30"),
    "k": ("192.52.178.30", "2001:503:d2d::30"),
    "l": ("192.41.162.30", "2001:500:d937::30"),
    "m": ("192.55.83.30", "2001:501:b1f9::30"),
}

ZONE = dns.name.from_text("example.com.")
# A fixed key, so that regenerating gives the same signatures.
KEY = ec.derive_private_key(0x7210_DE5E_C0DE_2024_0BAD_CAFE, ec.SECP256R1())
DNSKEY = dns.dnssec.make_dnskey(
    KEY.public_key(), dns.dnssectypes.Algorithm.ECDSAP256SHA256, flags=257
)
INCEPTION = datetime.datetime(2024, 11, 1, 0, 0, tzinfo=datetime.UTC)
EXPIRATION = datetime.datetime(2024, 11, 22, 0, 0, tzinfo=datetime.UTC)
NSEC3_SALT = b""  # RFC 9276: no salt, no extra iterations
NSEC3_ITERATIONS = 0


def rrset(name: str, ttl: int, rtype: str, *rdatas: str) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(name, ttl, "IN", rtype, list(rdatas))


def sign(rrs: dns.rrset.RRset) -> dns.rrset.RRset:
    """The RRSIG RRset covering `rrs`, signed with KEY."""
    rrsig = dns.dnssec.sign(rrs, KEY, ZONE, DNSKEY, INCEPTION, EXPIRATION, deterministic=True)
    keys: dict[dns.name.Name, dns.node.Node | dns.rdataset.Rdataset] = {
        ZONE: dns.rrset.from_rdata(ZONE, 3600, DNSKEY)
    }
    dns.dnssec.validate_rrsig(rrs, rrsig, keys, now=INCEPTION.timestamp() + 1)
    out = dns.rrset.RRset(rrs.name, dns.rdataclass.IN, dns.rdatatype.RRSIG, rrsig.type_covered)
    out.add(rrsig, rrs.ttl)
    return out


def response(
    qname: str,
    qtype: str,
    msg_id: int,
    flags: int,
    *,
    dnssec: bool = False,
    payload: int = 1232,
    options: list[dns.edns.Option] | None = None,
) -> dns.message.Message:
    query = dns.message.make_query(qname, qtype, use_edns=0, want_dnssec=dnssec)
    reply = dns.message.make_response(query, our_payload=payload)
    reply.id = msg_id
    reply.flags = flags
    reply.use_edns(0, dns.flags.DO if dnssec else 0, payload, options=options or [])
    return reply


def referral() -> tuple[dns.message.Message, str]:
    """a.root-servers.net sends a resolver for www.example.com/A to the .com servers."""
    reply = response("www.example.com", "A", 0x4F1A, dns.flags.QR)
    servers = [f"{letter}.gtld-servers.net." for letter in GTLD_SERVERS]
    reply.authority.append(rrset("com.", 172800, "NS", *servers))
    for letter, (v4, v6) in GTLD_SERVERS.items():
        owner = f"{letter}.gtld-servers.net."
        reply.additional.append(rrset(owner, 172800, "A", v4))
        reply.additional.append(rrset(owner, 172800, "AAAA", v6))
    return reply, "a.root-servers.net refers www.example.com/A to the 13 .com servers, with glue"


def dnssec_answer() -> tuple[dns.message.Message, str]:
    """A validating resolver's answer to example.com/A with DO set: the A RRset, its RRSIG, AD."""
    flags = dns.flags.QR | dns.flags.RD | dns.flags.RA | dns.flags.AD
    reply = response("example.com", "A", 0xBEEF, flags, dnssec=True)
    answer = rrset("example.com.", 3600, "A", "93.184.215.14")
    reply.answer.append(answer)
    reply.answer.append(sign(answer))
    return reply, "validated example.com/A with its RRSIG (ECDSAP256SHA256), DO and AD set"


def nsec3_owner(hashed: str) -> str:
    return f"{hashed.lower()}.example.com."


def nsec3_around(name: str, matches: bool, types: str) -> tuple[str, str]:
    """(owner, rdata) of an NSEC3 that matches or covers the hash of `name`."""
    hashed = dns.dnssec.nsec3_hash(name, NSEC3_SALT, NSEC3_ITERATIONS, 1)
    value = int.from_bytes(base64.b32hexdecode(hashed), "big")
    owner = value if matches else value - 0x1000
    after = value + 0x2000

    def b32(number: int) -> str:
        return base64.b32hexencode(number.to_bytes(20, "big")).decode()

    rdata = f"1 0 {NSEC3_ITERATIONS} - {b32(after)} {types}"
    return nsec3_owner(b32(owner)), rdata


def nxdomain_nsec3() -> tuple[dns.message.Message, str]:
    """The example.com server denies doesnotexist.example.com: SOA, three NSEC3, all signed."""
    flags = dns.flags.QR | dns.flags.AA
    reply = response("doesnotexist.example.com", "A", 0x1D2C, flags, dnssec=True)
    reply.set_rcode(dns.rcode.NXDOMAIN)
    soa = rrset(
        "example.com.",
        3600,
        "SOA",
        "ns.icann.org. noc.dns.icann.org. 2024081475 7200 3600 1209600 3600",
    )
    reply.authority.append(soa)
    reply.authority.append(sign(soa))
    proofs = [
        ("example.com.", True, "A NS SOA MX TXT AAAA RRSIG DNSKEY NSEC3PARAM"),  # closest encloser
        ("doesnotexist.example.com.", False, "A AAAA RRSIG"),  # covers the next closer name
        ("*.example.com.", False, "CNAME RRSIG"),  # covers the wildcard
    ]
    for name, matches, types in proofs:
        owner, rdata = nsec3_around(name, matches, types)
        nsec3 = rrset(owner, 3600, "NSEC3", rdata)
        reply.authority.append(nsec3)
        reply.authority.append(sign(nsec3))
    return reply, "NXDOMAIN for doesnotexist.example.com/A with SOA, 3 NSEC3 and their RRSIGs"


def truncated() -> tuple[dns.message.Message, str]:
    """An authoritative server whose TXT answer does not fit in UDP: TC, no records."""
    flags = dns.flags.QR | dns.flags.AA | dns.flags.TC
    reply = response("example.com", "TXT", 0x7A7A, flags)
    return reply, "example.com/TXT too big for UDP: TC set, empty sections, OPT kept"


COOKIE_CLIENT = bytes.fromhex("24a7c3d1e5f60718")
# RFC 9018 server cookie: version 1, 3 reserved octets, timestamp, 8-octet hash.
COOKIE_SERVER = bytes.fromhex("01000000673e2f40") + bytes.fromhex("9c5e11d2a0b3c4f7")
EDE_TEXT = "no SEP matching the DS found for dnssec-failed.org."


def ede_cookie() -> tuple[dns.message.Message, str]:
    """A validating resolver refuses dnssec-failed.org: SERVFAIL, EDE 9, and a DNS cookie."""
    flags = dns.flags.QR | dns.flags.RD | dns.flags.RA
    options: list[dns.edns.Option] = [
        dns.edns.CookieOption(COOKIE_CLIENT, COOKIE_SERVER),
        dns.edns.EDEOption(dns.edns.EDECode.DNSKEY_MISSING, EDE_TEXT),
    ]
    reply = response("dnssec-failed.org", "A", 0x5EC0, flags, dnssec=True, options=options)
    reply.set_rcode(dns.rcode.SERVFAIL)
    return reply, "SERVFAIL for dnssec-failed.org/A with a DNS cookie and EDE 9 (DNSKEY Missing)"


def cname_chain() -> tuple[dns.message.Message, str]:
    """A resolver's answer for www.microsoft.com/A through Akamai's CNAME chain."""
    flags = dns.flags.QR | dns.flags.RD | dns.flags.RA
    reply = response("www.microsoft.com", "A", 0x0C4A, flags)
    reply.answer.append(
        rrset("www.microsoft.com.", 3600, "CNAME", "www.microsoft.com-c-3.edgekey.net.")
    )
    reply.answer.append(
        rrset(
            "www.microsoft.com-c-3.edgekey.net.",
            900,
            "CNAME",
            "www.microsoft.com-c-3.edgekey.net.globalredir.akadns.net.",
        )
    )
    reply.answer.append(
        rrset(
            "www.microsoft.com-c-3.edgekey.net.globalredir.akadns.net.",
            900,
            "CNAME",
            "e13678.dscb.akamaiedge.net.",
        )
    )
    reply.answer.append(rrset("e13678.dscb.akamaiedge.net.", 20, "A", "23.50.124.205"))
    return reply, "www.microsoft.com/A through three CNAMEs to an Akamai address"


GOLDEN = {
    "referral": referral,
    "dnssec_answer": dnssec_answer,
    "nxdomain_nsec3": nxdomain_nsec3,
    "truncated": truncated,
    "ede_cookie": ede_cookie,
    "cname_chain": cname_chain,
}


def write(name: str, reply: dns.message.Message, summary: str, signed: bool) -> None:
    # dnspython shuffles the records of each RRset unless told not to.
    wire = reply.to_wire(want_shuffle=False)
    lines = [
        f"# {name}.hex: {summary}",
        f"# {len(wire)} octets, written by tests/data/make_golden.py with dnspython "
        f"{dns.version.version}; do not edit by hand.",
    ]
    if signed:
        lines.append(f"# signed by: example.com. 3600 IN DNSKEY {DNSKEY.to_text()}")
    lines.extend(f"# {line}" for line in reply.to_text().splitlines())
    lines.extend(wire[i : i + 32].hex() for i in range(0, len(wire), 32))
    (HERE / f"{name}.hex").write_text("\n".join(lines) + "\n")


def main() -> None:
    for name, build in GOLDEN.items():
        reply, summary = build()
        write(name, reply, summary, signed=name in ("dnssec_answer", "nxdomain_nsec3"))
        print(f"wrote {name}.hex", file=sys.stderr)


if __name__ == "__main__":
    main()

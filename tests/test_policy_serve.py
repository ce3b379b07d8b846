"""Policy on the real server: default local zones, local_data, access actions, rate limits.

Each test runs `trio-dns serve` (tests/hostile/conftest.py's `serve`) and asks it
over loopback, from source addresses of its own choosing in 127.0.0.0/8 so that
access rules and per-client limits can tell the clients apart."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from .hostile.conftest import Serve, Served, closed_by_server, internet, make_query, serve

__all__ = ["serve"]  # the fixture, used by name

TIMEOUT = 5.0  # generous: two shared cores, and other tests running


def clients() -> list[str]:
    """Four 127.x.y.1 source addresses no other test is likely to use at once."""
    pick = random.SystemRandom()
    second = pick.randint(1, 250)
    return [f"127.{second}.{third}.1" for third in pick.sample(range(1, 250), 4)]


def ask(
    served: Served, name: str, rtype: str = "A", *, source: str = "127.0.0.1", rd: bool = True
) -> dns.message.Message:
    query = make_query(name, rtype)
    if not rd:
        query.flags &= ~dns.flags.RD
    return dns.query.udp(
        query, served.address[0], port=served.address[1], timeout=TIMEOUT, source=source
    )


def answers(reply: dns.message.Message) -> list[str]:
    return [rdata.to_text() for rrset in reply.answer for rdata in rrset]


def upstream(served: Served) -> float:
    return served.metric("trio_dns_upstream_queries")


# -- default local zones ----------------------------------------------------------------


def test_default_zones_are_answered_here_and_never_sent_upstream(serve: Serve) -> None:
    served = serve()
    before = upstream(served)
    localhost = ask(served, "localhost.")
    assert answers(localhost) == ["127.0.0.1"]
    assert localhost.flags & dns.flags.AA
    assert answers(ask(served, "app.localhost.", "AAAA")) == ["::1"]
    assert answers(ask(served, "1.0.0.127.in-addr.arpa.", "PTR")) == ["localhost."]
    for name, apex in [
        ("4.3.2.10.in-addr.arpa.", "10.in-addr.arpa."),
        ("1.1.168.192.in-addr.arpa.", "168.192.in-addr.arpa."),
        (
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa.",
            "8.e.f.ip6.arpa.",
        ),
        ("printer.home.arpa.", "home.arpa."),
        ("facebookcorewwwi.onion.", "onion."),
        ("anything.invalid.", "invalid."),
    ]:
        reply = ask(served, name, "PTR")
        assert reply.rcode() == dns.rcode.NXDOMAIN, name
        assert [rrset.name.to_text() for rrset in reply.authority] == [apex]
        assert reply.authority[0].rdtype == dns.rdatatype.SOA
    # The zone file given (hostile.test.) is deeper than test.: it still answers.
    assert answers(ask(served, "www.hostile.test.")) == ["192.0.2.80"]
    assert upstream(served) == before


def test_default_zones_can_be_switched_off_one_by_one_or_all(serve: Serve) -> None:
    some = serve(config='no_default_zone = ["onion.", "in-addr.arpa."]\n')
    before = upstream(some)
    assert answers(ask(some, "localhost.")) == ["127.0.0.1"]  # still a default
    # Asked of the (simulated) internet now, whose root knows neither.
    assert ask(some, "x.onion.").rcode() == dns.rcode.NXDOMAIN
    assert ask(some, "4.3.2.10.in-addr.arpa.", "PTR").rcode() == dns.rcode.NXDOMAIN
    assert upstream(some) > before
    none = serve("--no-local-zone-defaults")
    before = upstream(none)
    ask(none, "localhost.")
    assert upstream(none) > before


# -- local_data --------------------------------------------------------------------------


LOCAL_DATA = """
local_data = [
    "printer.example.com. 300 A 192.0.2.5",
    "printer.example.com. 300 TXT \\"second floor\\"",
    "nas.home.arpa. A 192.168.1.2",
    "go.example.net. CNAME www.example.com.",
]
"""


def test_local_data_answers_its_names_and_leaves_the_rest_to_recursion(serve: Serve) -> None:
    served = serve(config=LOCAL_DATA)
    before = upstream(served)
    printer = ask(served, "printer.example.com.")
    assert answers(printer) == ["192.0.2.5"]
    assert printer.flags & dns.flags.AA
    assert answers(ask(served, "printer.example.com.", "TXT")) == ['"second floor"']
    # A type not given: NODATA, from here (a transparent zone holds the name).
    nodata = ask(served, "printer.example.com.", "MX")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    # Inside a default zone, the record joins it; the rest of it is still NXDOMAIN.
    assert answers(ask(served, "nas.home.arpa.")) == ["192.168.1.2"]
    assert ask(served, "tv.home.arpa.").rcode() == dns.rcode.NXDOMAIN
    assert upstream(served) == before
    # Other names of example.com. are the internet's, as before.
    assert answers(ask(served, "www.example.com.")) == ["198.51.100.80"]
    assert upstream(served) > before
    # An alias of ours to a name of theirs: followed, and not all ours (no AA).
    alias = ask(served, "go.example.net.")
    assert answers(alias) == ["www.example.com.", "198.51.100.80"]
    assert not alias.flags & dns.flags.AA


def test_bad_local_data_stops_the_server_from_starting() -> None:
    command = [sys.executable, "-m", "trio_dns", "serve", "--listen", "127.0.0.1:0"]
    result = subprocess.run(
        [*command, "--local-data", "printer.example.com. A"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "local-data" in result.stderr or "local_data" in result.stderr
    assert "Traceback" not in result.stderr


# -- access control ----------------------------------------------------------------------


def test_each_access_action_and_the_most_specific_network_wins(serve: Serve) -> None:
    allowed, refused, denied, _ = clients()
    carved_out = denied.rsplit(".", 1)[0] + ".7"  # inside the denied /24
    rules = [
        f"{refused}/32 refuse",
        f"{denied.rsplit('.', 1)[0]}.0/24 deny",
        f"{carved_out}/32 allow",
    ]
    served = serve(config="access_control = [" + ", ".join(f'"{r}"' for r in rules) + "]\n")
    assert answers(ask(served, "www.hostile.test.", source=allowed)) == ["192.0.2.80"]
    refusal = ask(served, "www.hostile.test.", source=refused)
    assert refusal.rcode() == dns.rcode.REFUSED and not refusal.answer
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(
            make_query("www.hostile.test."),
            served.address[0],
            port=served.address[1],
            timeout=1.0,
            source=denied,
        )
    assert answers(ask(served, "www.hostile.test.", source=carved_out)) == ["192.0.2.80"]
    assert served.metric("trio_dns_dropped", reason="denied") == 1
    # Over TCP the same rules hold: a denied client's connection is closed unread...
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((denied, 0))
    sock.settimeout(TIMEOUT)
    sock.connect(served.address)
    assert closed_by_server(sock, within=TIMEOUT)
    sock.close()
    assert served.metric("trio_dns_dropped", reason="denied") == 2
    # ...and the refused one gets REFUSED.
    tcp = dns.query.tcp(
        make_query("www.hostile.test."),
        served.address[0],
        port=served.address[1],
        timeout=TIMEOUT,
        source=refused,
    )
    assert tcp.rcode() == dns.rcode.REFUSED
    served.assert_serving()


# -- rate limits ---------------------------------------------------------------------------


def test_a_flood_from_one_address_does_not_starve_the_others(serve: Serve) -> None:
    flooder, quiet, other, _ = clients()
    served = serve(config="ip_ratelimit = 20\nip_ratelimit_slip = 0\n")
    host, port = served.address
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind((flooder, 0))
    flood.setblocking(False)
    wire = make_query("www.hostile.test.").to_wire()
    sent = got = 0
    quiet_answered = 0
    started = time.monotonic()
    # Two seconds: the flood sends some 2,000 queries a second (a hundred times
    # its limit, and not so many that the kernel's socket buffer, rather than
    # the limit, decides who is heard), two polite clients five a second each.
    try:
        while (elapsed := time.monotonic() - started) < 2.0:
            for _ in range(10):
                try:
                    flood.sendto(wire, (host, port))
                    sent += 1
                except BlockingIOError:
                    break
            time.sleep(0.005)
            while True:
                try:
                    flood.recv(4096)
                    got += 1
                except BlockingIOError:
                    break
            if int(elapsed * 5) >= quiet_answered // 2:
                for source in (quiet, other):
                    reply = ask(served, "www.hostile.test.", source=source)
                    assert answers(reply) == ["192.0.2.80"]
                    quiet_answered += 1
        time.sleep(0.2)
        while True:
            try:
                flood.recv(4096)
                got += 1
            except BlockingIOError:
                break
    finally:
        flood.close()
    assert quiet_answered >= 10  # every polite query answered, none lost to the flood
    assert sent > 200
    # 20 a second and a burst of 20, over the time it took.
    assert got <= 20 + 20 * (time.monotonic() - started) + 1
    limited = served.metric("trio_dns_ratelimited", limit="ip")
    assert limited >= sent - got - 50  # a few may still be in the socket buffer
    assert served.metric("trio_dns_dropped", reason="ip_ratelimit") == limited


def test_over_the_limit_some_replies_slip_as_tc_and_tcp_gets_through(serve: Serve) -> None:
    (client, *_) = clients()
    served = serve(config="ip_ratelimit = 5\nip_ratelimit_slip = 1\n")
    started = time.monotonic()
    replies = [ask(served, "www.hostile.test.", source=client) for _ in range(15)]
    elapsed = time.monotonic() - started
    truncated = [reply for reply in replies if reply.flags & dns.flags.TC]
    full = [reply for reply in replies if not reply.flags & dns.flags.TC]
    assert 5 <= len(full) <= 5 + 5 * elapsed + 1  # the burst, and what the refill allows
    assert truncated and all(not reply.answer for reply in truncated)
    assert all(r.question[0].name.to_text() == "www.hostile.test." for r in truncated)
    # The client does what TC asks: TCP, which the limit does not count.
    tcp = dns.query.tcp(
        make_query("www.hostile.test."),
        served.address[0],
        port=served.address[1],
        timeout=TIMEOUT,
        source=client,
    )
    assert answers(tcp) == ["192.0.2.80"]
    assert served.metric("trio_dns_ratelimit_slipped") == len(truncated)


def test_upstream_queries_to_one_zone_are_limited_and_other_zones_are_not(
    serve: Serve, tmp_path: Path
) -> None:
    # The sandbox's servers on loopback sockets of their own: real upstream queries.
    with internet(tmp_path, lambda sandbox, prefix, port: sandbox) as (hints, port, _):
        served = serve(
            "--root-hints",
            str(hints),
            "--upstream-port",
            str(port),
            sandbox=False,
            config="ratelimit = 3\n",
        )
        _limited_by_zone(served)


def _limited_by_zone(served: Served) -> None:
    # Warm the path to com. and example.com. (root and TLD referrals).
    assert answers(ask(served, "www.example.com.")) == ["198.51.100.80"]
    time.sleep(1.2)
    rcodes = []
    tag = random.SystemRandom().randrange(10**9)
    started = time.monotonic()
    for i in range(20):  # random names: each needs example.com.'s servers
        rcodes.append(ask(served, f"n{tag}-{i}.example.com.").rcode())
    elapsed = time.monotonic() - started
    # The burst of 3, and 3 a second after it; the rest SERVFAIL at once.
    assert 3 <= rcodes.count(dns.rcode.NXDOMAIN) <= 3 + 3 * elapsed + 1
    servfails = rcodes.count(dns.rcode.SERVFAIL)
    assert servfails == 20 - rcodes.count(dns.rcode.NXDOMAIN)
    assert servfails >= 1
    assert served.metric("trio_dns_ratelimited", limit="zone") == servfails
    # Another zone's bucket is its own.
    assert answers(ask(served, "www.cdn.net.")) != []


def test_a_static_local_zone_blocks_a_domain_the_internet_has(serve: Serve) -> None:
    served = serve(config='local_zone = ["cdn.net. static"]\n')
    before = upstream(served)
    blocked = ask(served, "www.cdn.net.")
    assert blocked.rcode() == dns.rcode.NXDOMAIN and blocked.flags & dns.flags.AA
    assert upstream(served) == before
    assert answers(ask(served, "www.example.com.")) == ["198.51.100.80"]


def test_a_client_with_our_dns_cookie_is_not_rate_limited(serve: Serve) -> None:
    with_cookie, without = clients()[:2]
    served = serve(config="ip_ratelimit = 3\nip_ratelimit_slip = 0\n")
    mine = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    first = ask_with_cookie(served, mine, source=with_cookie)
    (cookie,) = [o for o in first.options if isinstance(o, dns.edns.CookieOption)]
    assert cookie.client == mine and len(cookie.server) == 8
    # Its source shown real, the client is answered however fast it asks...
    for _ in range(15):
        reply = ask_with_cookie(served, mine, cookie.server, source=with_cookie)
        assert answers(reply) == ["192.0.2.80"]
    # ...but not with a server cookie that is not ours for that address: ten at
    # once, of which the burst of three is answered.
    forged = cookie.server[:7] + bytes([cookie.server[7] ^ 1])
    query = make_query("www.hostile.test.", options=[dns.edns.CookieOption(mine, forged)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((without, 0))
    sock.settimeout(1.0)
    try:
        for _ in range(10):
            sock.sendto(query.to_wire(), served.address)
        got = 0
        while True:
            try:
                sock.recv(4096)
            except TimeoutError:
                break
            got += 1
    finally:
        sock.close()
    assert 3 <= got <= 5
    assert served.metric("trio_dns_ratelimited", limit="ip") == 10 - got


def ask_with_cookie(
    served: Served,
    client: bytes,
    server: bytes = b"",
    *,
    source: str,
    timeout: float = TIMEOUT,
) -> dns.message.Message:
    query = make_query("www.hostile.test.", options=[dns.edns.CookieOption(client, server)])
    return dns.query.udp(
        query, served.address[0], port=served.address[1], timeout=timeout, source=source
    )

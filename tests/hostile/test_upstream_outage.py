"""The real `trio-dns serve` when its upstreams go away: serve-stale (RFC 8767).

The loopback sandbox (the simulated internet on 127.x addresses) is the
internet; it is stopped halfway through. `max_ttl` and `max_negative_ttl` of 2
make the cached data expire within the test.
"""

from __future__ import annotations

import time
from pathlib import Path

import dns.edns
import dns.message
import dns.rcode

from tests.hostile.conftest import Serve, internet, make_query


def ede_codes(reply: dns.message.Message) -> list[int]:
    return [int(o.code) for o in reply.options if isinstance(o, dns.edns.EDEOption)]


def addresses(reply: dns.message.Message) -> list[str]:
    return [r.to_text() for rrset in reply.answer for r in rrset]


def test_when_the_internet_stops_answers_are_stale_with_ede_3(serve: Serve, tmp_path: Path) -> None:
    config = (
        "serve_stale = true\n"
        "stale_answer_ttl = 1\n"
        "stale_answer_client_timeout = 0.3\n"
        "max_ttl = 2\n"
        "max_negative_ttl = 2\n"
        "deadline = 3.0\n"
    )
    with internet(tmp_path, lambda sandbox, prefix, port: sandbox) as (hints, port, _):
        server = serve(
            "--root-hints", str(hints), "--upstream-port", str(port), sandbox=False, config=config
        )
        fresh = server.udp(make_query("www.example.com"))
        assert fresh.rcode() == dns.rcode.NOERROR and addresses(fresh) == ["198.51.100.80"]
        assert not ede_codes(fresh)
        missing = server.udp(make_query("nothing.example.com"))
        assert missing.rcode() == dns.rcode.NXDOMAIN
    # The internet is gone; the cached data expires.
    time.sleep(3)
    stale = server.udp(make_query("www.example.com"))
    assert stale.rcode() == dns.rcode.NOERROR and addresses(stale) == ["198.51.100.80"]
    assert ede_codes(stale) == [3]
    assert {rrset.ttl for rrset in stale.answer} == {1}
    gone = server.udp(make_query("nothing.example.com"))
    assert gone.rcode() == dns.rcode.NXDOMAIN and ede_codes(gone) == [19]
    # A name never asked before has nothing stale to give.
    unknown = server.udp(make_query("mail.example.com"))
    assert unknown.rcode() == dns.rcode.SERVFAIL
    assert server.metric("trio_dns_stale_answers") == 2
    server.assert_serving()

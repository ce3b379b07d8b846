"""ANY (RFC 8482, answered as Unbound does), and every other query type: each one
goes through resolution and the server without an internal error."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
import trio
from hypothesis import example, given, settings
from hypothesis import strategies as st
from trio.testing import MockClock

from tests.test_validation import build
from trio_dns import DNSError, EdeCode, Flag, Message, Name, Rcode, RRClass, RRType
from trio_dns._config import ServeConfig
from trio_dns._network.resolver import Resolver, ResolverSettings
from trio_dns._server.server import Server, ServerSettings
from trio_dns._trust import Validation
from trio_dns._wire.edns import Edns, ExtendedError
from trio_dns.testing import Sandbox, build_sandbox


def make(**settings: object) -> tuple[Sandbox, Resolver]:
    sandbox = build_sandbox()
    resolver = Resolver(
        root_hints=sandbox.root_hints,
        transport=sandbox.network,
        settings=ResolverSettings(**settings),  # type: ignore[arg-type]
    )
    return sandbox, resolver


def types_of(records: object) -> list[RRType]:
    return sorted({r.rtype for r in records})  # type: ignore[attr-defined]


# -- ANY ---------------------------------------------------------------------------------


async def test_any_goes_upstream_and_is_cached_one_rrset_per_type(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make()
    answer = await resolver.resolve("example.com", "ANY")
    assert answer.rcode == Rcode.NOERROR and not answer.from_cache
    assert types_of(answer.records) == [RRType.A, RRType.NS, RRType.SOA, RRType.MX]
    # Each type is its own RRset in the cache, answering its own questions.
    sent = len(sandbox.network.exchanges)
    mx = await resolver.resolve("example.com", "MX")
    assert mx.from_cache and [str(r.rdata) for r in mx.records] == ["10 mail.example.com."]
    ns = await resolver.resolve("example.com", "NS")
    assert ns.from_cache and len(ns.records) == 2
    assert len(sandbox.network.exchanges) == sent


async def test_any_is_answered_from_the_cache_with_the_common_types(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make()
    await resolver.resolve("www.example.com", "A")
    await resolver.resolve("www.example.com", "AAAA")
    sent = len(sandbox.network.exchanges)
    answer = await resolver.resolve("www.example.com", "ANY")
    assert answer.from_cache and types_of(answer.records) == [RRType.A, RRType.AAAA]
    assert len(sandbox.network.exchanges) == sent
    # RD=0 sees the same.
    cached = resolver.cached("www.example.com", "ANY")
    assert cached is not None and types_of(cached.records) == [RRType.A, RRType.AAAA]


async def test_any_at_an_alias_is_the_cname_alone(autojump_clock: trio.abc.Clock) -> None:
    _, resolver = make()
    answer = await resolver.resolve("alias.example.com", "ANY")
    assert [(r.rtype, str(r.rdata)) for r in answer.records] == [(RRType.CNAME, "www.example.com.")]
    # From the cache the same: the alias, not the chain behind it.
    again = await resolver.resolve("alias.example.com", "ANY")
    assert again.from_cache
    assert [(r.rtype, r.rdata) for r in again.records] == [
        (r.rtype, r.rdata) for r in answer.records
    ]


async def test_any_for_a_missing_name_is_nxdomain_and_cached(
    autojump_clock: trio.abc.Clock,
) -> None:
    sandbox, resolver = make()
    answer = await resolver.resolve("nope.example.com", "ANY")
    assert answer.rcode == Rcode.NXDOMAIN and answer.soa is not None
    sent = len(sandbox.network.exchanges)
    again = await resolver.resolve("nope.example.com", "ANY")
    assert again.rcode == Rcode.NXDOMAIN and again.from_cache
    assert len(sandbox.network.exchanges) == sent


async def test_any_of_signed_data_is_validated_set_by_set(autojump_clock: trio.abc.Clock) -> None:
    world = build()
    resolver = world.resolver()
    answer = await resolver.resolve("www.example.test", "ANY")
    assert answer.rcode == Rcode.NOERROR and answer.records
    assert all(r.rtype != RRType.RRSIG for r in answer.records)
    assert answer.validation is Validation.SECURE


async def test_deny_any_answers_notimp_and_asks_nobody(autojump_clock: trio.abc.Clock) -> None:
    sandbox, resolver = make(deny_any=True)
    answer = await resolver.resolve("example.com", "ANY")
    assert answer.rcode == Rcode.NOTIMP and answer.records == ()
    assert answer.error is not None and answer.error.info_code == EdeCode.NOT_SUPPORTED
    cached = resolver.cached("example.com", "ANY")
    assert cached is not None and cached.rcode == Rcode.NOTIMP
    assert sandbox.network.exchanges == ()
    server = Server(resolver, ServerSettings())
    query = Message.make_query("example.com", "ANY", id=9, edns=Edns())
    reply = Message.from_wire(await reply_to(server, query.to_wire()))
    assert reply.rcode == Rcode.NOTIMP and reply.edns is not None
    assert any(isinstance(o, ExtendedError) and o.info_code == 21 for o in reply.edns.options)


def test_the_new_settings_have_configuration_keys(tmp_path: Path) -> None:
    assert ServeConfig().resolver_settings().max_queries == 32
    config = ServeConfig.load({"max_queries": "50", "deny_any": True})
    assert config.resolver_settings().max_queries == 50
    assert config.resolver_settings().deny_any
    toml = tmp_path / "serve.toml"
    toml.write_text("max_queries = 8\ndeny_any = true\n")
    from_file = ServeConfig.load({}, toml).resolver_settings()
    assert from_file.max_queries == 8 and from_file.deny_any


# -- meta types --------------------------------------------------------------------------


@pytest.mark.parametrize("qtype", ["MAILA", "MAILB", "TYPE128", "TYPE248", "OPT", "TSIG"])
async def test_meta_types_are_refused_without_asking_anyone(
    autojump_clock: trio.abc.Clock, qtype: str
) -> None:
    sandbox, resolver = make()
    with pytest.raises(DNSError, match="cannot be resolved recursively"):
        await resolver.resolve("example.com", qtype)
    assert sandbox.network.exchanges == ()


# -- every type, through the server --------------------------------------------------------


async def reply_to(server: Server, data: bytes) -> bytes:
    """What the server sends for one UDP datagram, resolution included."""
    result = server._handle(data, "127.0.0.1", False)
    if result is None or isinstance(result, bytes):
        assert result is not None, "a well-formed query was dropped"
        return result
    return await server._resolve(result)


class _Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.found.append(record.getMessage())


NAMES = [
    ".",
    "com",
    "example.com",
    "www.example.com",
    "alias.example.com",
    "shop.example.com",
    "nope.example.com",
    "x.wild.example.com",
    "big.example.com",
    "www.glueless.org",
    "www.cycle-a.com",
    "www.lame.com",
]
# The meta-types, the obsolete types, DNSSEC's, and the edges of the number space.
SPECIAL = [0, 3, 4, 24, 25, 30, 41, 43, 46, 47, 48, 50, 99, 127, *range(128, 256), 32768, 65535]


def ask_all(questions: list[tuple[int, str, bool, bool, bool]]) -> list[tuple[int, Message]]:
    """Each (qtype, name, rd, do, cd) through a fresh server on the sandbox, and
    straight to its resolver; fails on a traceback or an error logged."""
    sandbox = build_sandbox()
    resolver = Resolver(root_hints=sandbox.root_hints, transport=sandbox.network)
    server = Server(resolver, ServerSettings())
    caught = _Tracebacks()
    logger = logging.getLogger("trio_dns")
    logger.addHandler(caught)
    replies: list[tuple[int, Message]] = []

    async def main() -> None:
        for qtype, name, rd, do, cd in questions:
            flags = (Flag.RD if rd else Flag(0)) | (Flag.CD if cd else Flag(0))
            query = Message.make_query(
                Name.from_text(name),
                RRType(qtype),
                RRClass.IN,
                id=qtype,
                flags=flags,
                edns=Edns(dnssec_ok=do),
            )
            replies.append((qtype, Message.from_wire(await reply_to(server, query.to_wire()))))
            # Straight to the resolver too: an answer, or DNSError, nothing else.
            with contextlib.suppress(DNSError):
                await resolver.resolve(name, qtype, cd=cd)

    try:
        trio.run(main, clock=MockClock(autojump_threshold=0))
    finally:
        logger.removeHandler(caught)
    assert caught.found == []
    for qtype, reply in replies:
        assert reply.id == qtype
        errors = [] if reply.edns is None else reply.edns.options
        texts = [o.extra_text for o in errors if isinstance(o, ExtendedError)]
        assert not (reply.rcode == Rcode.SERVFAIL and "internal error" in texts), (qtype, texts)
    return replies


@pytest.mark.parametrize("name", ["www.example.com", "example.com", ".", "alias.example.com"])
def test_every_special_type_is_answered_without_an_internal_error(name: str) -> None:
    replies = ask_all(
        [(qtype, name, rd, False, False) for qtype in SPECIAL for rd in (True, False)]
    )
    assert len(replies) == 2 * len(SPECIAL)
    recursive = {qtype: reply.rcode for qtype, reply in replies[0::2]}  # the RD=1 ones
    assert recursive[RRType.ANY] == Rcode.NOERROR


@settings(max_examples=100, deadline=None)
@example(qtypes=[RRType.ANY, RRType.MAILB], name="www.example.com", rd=True, do=True, cd=False)
@given(
    qtypes=st.lists(
        st.one_of(st.sampled_from(SPECIAL), st.integers(0, 65535)), min_size=1, max_size=4
    ),
    name=st.sampled_from(NAMES),
    rd=st.booleans(),
    do=st.booleans(),
    cd=st.booleans(),
)
def test_no_query_type_causes_an_internal_error(
    qtypes: list[int], name: str, rd: bool, do: bool, cd: bool
) -> None:
    ask_all([(qtype, name, rd, do, cd) for qtype in qtypes])

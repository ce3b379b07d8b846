"""The `trio-dns` command line: one subcommand per job (`query`, `resolve`, `serve`,
`sandbox`).

Theory of operation: `main` builds an argparse parser in which every subcommand
registers itself with a function that adds its arguments, a check run after
parsing, and the coroutine that runs it; adding `serve` or `resolve` is one more
such function in `_SUBCOMMANDS`. Everything the user typed is checked while parsing (names, types,
addresses, ports), so a typo is a usage error that names the bad word (exit 2)
rather than a traceback. At run time, the failures a user should expect (no
reply, unreachable server, garbage from the server) are `DNSError`s and become
one line on stderr and exit status 1; an unexpected exception still shows its
traceback, because that is a bug worth reporting.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeAlias

import trio

from . import __version__
from ._address import Address, normalize_address
from ._control import add_control, positive_seconds
from ._decisions.resolv_conf import SystemConfig
from ._errors import DNSError, InvalidName, UnknownType
from ._network.stub import StubResolver
from ._wire.enums import RRType
from ._wire.name import Name

PROG = "trio-dns"
_RESOLV_CONF = Path("/etc/resolv.conf")
_FALLBACK_SERVER = "127.0.0.1"

_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


# -- shared argument types ---------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"invalid port {text!r} (must be 1 to 65535)")
    return port


def _attempts(text: str) -> int:
    try:
        attempts = int(text)
    except ValueError:
        attempts = 0
    if not 0 < attempts <= 100:
        raise argparse.ArgumentTypeError(f"invalid attempts {text!r} (must be 1 to 100)")
    return attempts


def _address_or_none(host: str) -> str | None:
    try:
        return normalize_address(host, 0)[0]
    except ValueError:
        return None


def system_nameserver(resolv_conf: Path = _RESOLV_CONF) -> str:
    """The first usable `nameserver` in resolv.conf, else 127.0.0.1 (as the C library does)."""
    try:
        text = resolv_conf.read_text(errors="replace")
    except OSError:
        return _FALLBACK_SERVER
    return next(iter(SystemConfig.from_text(text).nameservers), _FALLBACK_SERVER)


# -- trio-dns query -----------------------------------------------------------------


def _add_query(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "query",
        usage=f"{PROG} query NAME [TYPE] [@SERVER] [-p PORT] [--tcp] [--dnssec] [--norecurse] "
        "[--timeout S] [--attempts N]",
        help="ask one server one question, like dig",
        description="Send one query to one server and print the reply in dig style.",
    )
    parser.add_argument(
        "words",
        nargs="+",
        metavar="ARG",
        help="the name to ask about, its type (default A), and the server's IP address "
        "(default: the system resolver: the nameservers, search list and options of "
        "/etc/resolv.conf)",
    )
    parser.add_argument("-p", "--port", type=_port, default=53, help="server port (default 53)")
    parser.add_argument(
        "--tcp",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="query over TCP instead of UDP",
    )
    parser.add_argument(
        "--dnssec",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="set the DO bit (ask for DNSSEC)",
    )
    parser.add_argument(
        "--recurse",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="set RD (the default); --no-recurse asks the server not to recurse",
    )
    # dig's spelling.
    parser.add_argument("--norecurse", dest="recurse", action="store_false", help=argparse.SUPPRESS)
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=5.0,
        metavar="S",
        help="seconds to wait for each attempt (default 5)",
    )
    parser.add_argument(
        "--attempts",
        type=_attempts,
        default=3,
        metavar="N",
        help="queries sent before giving up (default 3)",
    )
    parser.set_defaults(run=_run_query, check=functools.partial(_check_query, parser))


def _check_query(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Turn NAME [TYPE] [@SERVER] into args.name, args.rtype, args.server, or a usage error."""
    servers = [word[1:] for word in args.words if word.startswith("@")]
    rest = [word for word in args.words if not word.startswith("@")]
    if len(servers) > 1:
        parser.error(f"more than one server given: {', '.join('@' + s for s in servers)}")
    if not rest:
        parser.error("a NAME to query is required")
    if len(rest) > 2:
        parser.error(f"unexpected argument {rest[2]!r} (expected NAME [TYPE] [@SERVER])")
    try:
        args.name = Name.from_text(rest[0])
    except InvalidName as exc:
        parser.error(f"invalid name {rest[0]!r}: {exc}")
    try:
        args.rtype = RRType.from_text(rest[1]) if len(rest) == 2 else RRType.A
    except UnknownType:
        parser.error(f"unknown type {rest[1]!r}")
    args.typed = rest[0]  # the search list needs to know if it ends in a dot
    if servers:
        host = _address_or_none(servers[0])
        if host is None:
            parser.error(f"invalid server {servers[0]!r}: not an IP address")
        args.server = (host, args.port)
    elif args.tcp or args.dnssec or not args.recurse:
        # A query of a shape the system resolver does not send: to its first nameserver.
        args.server = (system_nameserver(), args.port)
    else:
        args.server = None  # the system resolver


async def _run_query(args: argparse.Namespace) -> int:
    if args.server is None:
        return await _run_system_query(args)
    server: Address = args.server
    stub = StubResolver(timeout=args.timeout, attempts=args.attempts)
    started = trio.current_time()
    reply = await stub.query(
        server,
        args.name,
        args.rtype,
        tcp=args.tcp,
        dnssec=args.dnssec,
        recurse=args.recurse,
    )
    elapsed_ms = round((trio.current_time() - started) * 1000)
    # A truncated UDP reply is asked again over TCP; say which one is shown.
    protocol = "TCP" if stub.exchanger.stats.queries_tcp else "UDP"
    host, port = server
    print(f"; <<>> {PROG} {__version__} <<>> {args.name} {args.rtype.name} @{host}")
    print(reply.to_text())
    print(f";; Query time: {elapsed_ms} msec")
    print(f";; SERVER: {host}#{port}({protocol})")
    return 0


async def _run_system_query(args: argparse.Namespace) -> int:
    """NAME [TYPE] as a program's look-ups go: resolv.conf's nameservers, search
    list and options (`Resolver.from_system`). Status 1 if out of time."""
    from ._network.system import SystemResolver

    resolver = SystemResolver.from_file(_RESOLV_CONF, port=args.port)
    started = trio.current_time()
    lifetime = args.timeout * args.attempts
    answer = await resolver.resolve(args.typed, args.rtype, lifetime=lifetime)
    elapsed_ms = round((trio.current_time() - started) * 1000)
    upstreams = ", ".join(f"{host}#{port}" for host, port in resolver.settings.forwarders)
    print(f"; <<>> {PROG} {__version__} <<>> {args.typed} {args.rtype.name} (system resolver)")
    print(answer.to_text())
    print(f";; Query time: {elapsed_ms} msec")
    print(f";; SERVERS: {upstreams or 'the root servers'} (from {_RESOLV_CONF})")
    return 1 if answer.timed_out else 0


# -- trio-dns resolve ---------------------------------------------------------------


def _add_resolve(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "resolve",
        usage=f"{PROG} resolve NAME [TYPE] [--root-hints FILE] [--trace] [--sandbox]",
        help="resolve a name from the root servers, in this process",
        description="Resolve NAME iteratively from the root servers, as a recursive "
        "resolver does, and print the answer in dig style.",
    )
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("type", metavar="TYPE", nargs="?", default="A")
    parser.add_argument(
        "--root-hints",
        metavar="FILE",
        type=Path,
        help="zone file with the root NS records and their addresses (default: IANA's)",
    )
    parser.add_argument(
        "--trace",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="print every step: servers asked, answers, races",
    )
    parser.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="resolve in the built-in simulated internet instead of the real one",
    )
    parser.add_argument(
        "--trust-anchor",
        metavar="FILE",
        type=Path,
        help="zone file of DS or DNSKEY records to validate from (default: IANA's root "
        "anchor with IANA's root hints, none with --root-hints)",
    )
    parser.add_argument(
        "--dnssec",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="validate DNSSEC (default: on)",
    )
    parser.add_argument(
        "--insecure-domain",
        metavar="NAME",
        action="append",
        default=[],
        help="treat this domain and everything below it as unsigned (a negative trust "
        "anchor, RFC 7646); repeatable",
    )
    parser.add_argument(
        "--qname-minimisation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send each server only the labels it needs (RFC 9156; default: on)",
    )
    parser.add_argument(
        "--ipv4",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="query over IPv4 (default: on)",
    )
    parser.add_argument(
        "--ipv6",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="query over IPv6 (default: on)",
    )
    parser.add_argument(
        "--port", type=_port, default=53, help="port the nameservers listen on (default 53)"
    )
    parser.set_defaults(run=_run_resolve, check=functools.partial(_check_resolve, parser))


def _check_resolve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    try:
        args.name = Name.from_text(args.name)
    except InvalidName as exc:
        parser.error(f"invalid name {args.name!r}: {exc}")
    try:
        args.rtype = RRType.from_text(args.type)
    except UnknownType:
        parser.error(f"unknown type {args.type!r}")
    if not args.ipv4 and not args.ipv6:
        parser.error("--no-ipv4 and --no-ipv6 together leave nothing to query over")
    insecure = []
    for text in args.insecure_domain:
        try:
            insecure.append(Name.from_text(text))
        except InvalidName as exc:
            parser.error(f"invalid --insecure-domain {text!r}: {exc}")
    args.insecure_domain = tuple(insecure)
    if args.sandbox and args.root_hints:
        parser.error("--sandbox brings its own root hints; drop --root-hints")


async def _run_resolve(args: argparse.Namespace) -> int:
    from ._network.resolver import Resolver, ResolverSettings
    from ._network.transport import SocketTransport, Transport
    from ._wire.zone import read_zone_file

    anchors = None
    if args.trust_anchor is not None:
        anchors = tuple(read_zone_file(str(args.trust_anchor), default_ttl=172800))
        if not anchors or any(r.rtype not in (RRType.DS, RRType.DNSKEY) for r in anchors):
            raise DNSError(f"{args.trust_anchor}: a trust anchor file holds DS or DNSKEY records")
    settings = ResolverSettings(
        qname_minimisation=args.qname_minimisation,
        use_ipv4=args.ipv4,
        use_ipv6=args.ipv6,
        port=args.port,
        dnssec=args.dnssec,
        trust_anchors=anchors,
        insecure_domains=args.insecure_domain,
    )
    transport: Transport = SocketTransport()
    hints = None
    if args.sandbox:
        from .testing import build_sandbox

        sandbox = build_sandbox()
        transport, hints = sandbox.network, list(sandbox.root_hints)
    elif args.root_hints is not None:
        hints = read_zone_file(str(args.root_hints))
    resolver = Resolver(root_hints=hints, transport=transport, settings=settings)
    answer = await resolver.resolve(args.name, args.rtype, trace=args.trace)
    if args.trace:
        for event in answer.trace:
            print(f";; {event.to_text()}")
        print()
    if args.name.to_unicode() != args.name.to_text():
        # An internationalised name: the form people read, beside the one on the wire.
        print(f";; {args.name.to_unicode()} is {args.name}")
    print(answer.to_text(), end="")
    return 0


# -- trio-dns serve -----------------------------------------------------------------


def _add_serve(subparsers: _Subparsers) -> None:
    from ._config import add_arguments

    parser = subparsers.add_parser(
        "serve",
        usage=f"{PROG} serve [--listen ADDR:PORT] [--allow CIDR] [--root-hints FILE] "
        "[--forward ADDR[:PORT]] [--zone FILE] [--metrics ADDR:PORT] [--query-log] "
        "[--config FILE] [options]",
        help="run a recursive resolver for other machines",
        description="Serve DNS over UDP and TCP, resolving from the root servers. "
        "Every option can also be set in a TOML file given with --config.",
    )
    add_arguments(parser)
    # A worker of `--workers N`: FD is its channel to the supervisor (workers.py).
    parser.add_argument("--worker-of", type=int, metavar="FD", help=argparse.SUPPRESS)
    parser.set_defaults(run=_run_serve, check=_check_serve)


def _check_serve(args: argparse.Namespace) -> None:
    from ._config import load_or_exit

    args.serve_config = load_or_exit(vars(args), args.config, PROG, status=2)


# -- trio-dns check-config ------------------------------------------------------------


def _add_check_config(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "check-config",
        usage=f"{PROG} check-config FILE",
        help="check a configuration file for `serve`, without serving",
        description="Read FILE as `trio-dns serve --config FILE` would, with the files it "
        "names (root hints, trust anchor, zones). Exit 0 if it is good, else print one "
        "line naming the bad key and exit 1.",
    )
    parser.add_argument("file", metavar="FILE", type=Path)
    parser.set_defaults(run=_run_check_config)


async def _run_check_config(args: argparse.Namespace) -> int:
    from ._config import load_or_exit

    load_or_exit({}, args.file, PROG, status=1)
    print(f"{args.file}: ok")
    return 0


async def _run_serve(args: argparse.Namespace) -> int:
    import logging
    import signal

    from ._address import format_address
    from ._config import ServeConfig
    from ._network.resolver import Resolver
    from ._network.transport import SocketTransport, Transport
    from ._server.server import Server
    from ._server.systemd import notify

    config: ServeConfig = args.serve_config
    link = None
    if args.worker_of is not None:
        import attrs

        from ._server.workers import WorkerLink

        link = await WorkerLink.open(args.worker_of)
        # The supervisor says where to listen, and serves the metrics itself.
        config = attrs.evolve(config, listen=link.listen, metrics=None)
    worker = "" if link is None else f"worker {link.index} "
    logging.basicConfig(
        level=config.logging_level,
        format=f"%(asctime)s {worker}%(name)s %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if link is None and config.workers > 1:
        return await _supervise(args)
    if config.query_log:
        # Its own level, so the query log shows whatever --log-level says.
        logging.getLogger("trio_dns.query").setLevel(logging.INFO)
    transport: Transport = SocketTransport()
    hints = list(config.hints) if config.hints is not None else None
    if config.sandbox:
        from .testing import build_sandbox

        # Nothing reads the simulated network's log here: keep none, so memory
        # does not grow with every upstream query.
        sandbox = build_sandbox(log_limit=0)
        transport, hints = sandbox.network, list(sandbox.root_hints)
    from ._network.redis_cache import RedisCache

    # Redis behind our own cache, shared with the rest of the fleet.
    shared = None if config.cache_backend is None else RedisCache.from_url(config.cache_backend)
    resolver = Resolver(
        root_hints=hints,
        transport=transport,
        cache=config.cache() if shared is None else shared.sharing(config.cache()),
        settings=config.resolver_settings(),
        local_zones=config.zones,
        shared_cache=shared,
    )
    server = Server(resolver, config.server_settings())
    if link is not None:
        server.share_cookie_secret(link.cookie_secret)
    _tune_garbage_collector()
    # Signals are caught before the sockets open, so a SIGTERM is never fatal.
    with (
        trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals,
        _unwrap_dns_error(),
    ):
        async with trio.open_nursery() as nursery:
            # Held until _settle: after giving up root, before the first query.
            bound = await nursery.start(functools.partial(server.serve, hold=True))
            if link is None:
                where = ", ".join(format_address(address) for address in bound)
                print(f"{PROG}: serving on {where}", file=sys.stderr, flush=True)
            else:
                await link.ready(bound)
            async with trio.open_nursery() as endpoints:
                if shared is not None:
                    await endpoints.start(shared.run)
                if config.metrics is not None:
                    from ._server.metrics import metrics_registry, serve_metrics

                    try:
                        address = await endpoints.start(
                            serve_metrics, metrics_registry(server), config.metrics
                        )
                    except DNSError:
                        server.shutdown()
                        raise
                    print(
                        f"{PROG}: metrics on http://{format_address(address)}/metrics",
                        file=sys.stderr,
                        flush=True,
                    )
                from ._reload import Reloader, start_control

                # The configuration as given (a worker's listen and metrics are the
                # supervisor's doing), so that a reload compares like with like.
                reloader = Reloader(
                    vars(args), args.config, args.serve_config, resolver, server, bound
                )
                if link is not None:
                    # The supervisor has the control socket, and relays commands here.
                    endpoints.start_soon(
                        link.serve,
                        server,
                        endpoints.cancel_scope,
                        reloader.reload,
                        reloader.describe,
                    )
                try:
                    if link is None:
                        await start_control(endpoints, reloader)
                except DNSError:
                    server.shutdown()
                    raise
                _settle(config.user, main=link is None)
                server.begin()
                async for signum in signals:
                    if signum == signal.SIGHUP:
                        # In the background: a TERM during a long reload still stops it.
                        endpoints.start_soon(reloader.reload_logged)
                        continue
                    logging.getLogger("trio_dns.server").info(
                        "%s: shutting down", signal.Signals(signum).name
                    )
                    break
                if link is None:
                    notify("STOPPING=1")
                endpoints.cancel_scope.cancel()
            server.shutdown()
    return 0


def _settle(user: str | None, *, main: bool) -> None:
    """Everything is bound: give up root if asked to, then tell systemd (the main
    process only: a worker's readiness is its supervisor's business)."""
    from ._server.systemd import notify

    if user is not None:
        from ._server.privileges import drop_privileges

        uid, gid = drop_privileges(user)
        print(f"{PROG}: running as {user} (uid {uid}, gid {gid})", file=sys.stderr, flush=True)
    if main:
        notify("READY=1")


async def _supervise(args: argparse.Namespace) -> int:
    """`--workers N`: run N copies of this very command, each told it is a worker."""
    from ._config import ServeConfig
    from ._reload import control_socket_path
    from ._server.workers import WorkerPlan, supervise

    config: ServeConfig = args.serve_config

    plan = WorkerPlan(
        command=(sys.executable, "-m", "trio_dns", *args.argv),
        count=config.workers,
        listen=config.listen,
        metrics=config.metrics,
        control=control_socket_path(config),
        control_configured=config.control_socket is not None,
        # Each worker's grace period and last replies, and room to exit.
        stop_timeout=config.grace_period + config.tcp_send_timeout + 10.0,
    )

    def announce(line: str) -> None:
        print(f"{PROG}: {line}", file=sys.stderr, flush=True)

    with _unwrap_dns_error():
        return await supervise(plan, announce)


# Young-generation collections every this many allocations instead of 700.
_GC_THRESHOLD = 20_000


def _tune_garbage_collector() -> None:
    """Collect less often, and never rescan what startup built.

    A cold query allocates a few hundred objects (messages, records, names), few
    of them in cycles, so the default threshold of 700 ran a collection every few
    queries; each one also walks whatever survived into the older generations,
    which grow with the cache. Measured on the cold-recursion benchmark, 20,000
    cut CPU per query by about 15% for a few MB more of young garbage."""
    import gc

    gc.collect()
    gc.freeze()  # the modules, zones and settings loaded so far live forever
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_GC_THRESHOLD, older, oldest)


@contextlib.contextmanager
def _unwrap_dns_error() -> Iterator[None]:
    """A DNSError (cannot listen...) out of a nursery, as itself: one line, exit 1."""
    try:
        yield
    except BaseExceptionGroup as group:
        matched, rest = group.split(DNSError)
        if matched is None or rest is not None:
            raise
        first: BaseException = matched
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


# -- trio-dns sandbox ---------------------------------------------------------------


def _prefix(text: str) -> str:
    from .testing._loopback import check_prefix

    try:
        return check_prefix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_sandbox(subparsers: _Subparsers) -> None:
    from .testing._loopback import DEFAULT_PREFIX

    parser = subparsers.add_parser(
        "sandbox",
        usage=f"{PROG} sandbox [--prefix 127.X] [--port PORT] [--hints FILE] "
        "[--trust-anchor FILE] [--no-ipv6] [--dead SERVER] [--zone FILE] [--query-log]",
        help="run the simulated internet's servers on loopback addresses",
        description="Run every authoritative server of the built-in simulated internet on "
        "its own loopback address (UDP and TCP), and write root hints that lead to them, "
        "so any resolver can walk the hierarchy offline, and the trust anchor its signed "
        "zones validate from. Ctrl-C stops it.",
    )
    parser.add_argument(
        "--prefix",
        type=_prefix,
        default=DEFAULT_PREFIX,
        help=f"first two octets of the servers' addresses (default {DEFAULT_PREFIX})",
    )
    parser.add_argument("--port", type=_port, default=53, help="port to serve on (default 53)")
    parser.add_argument(
        "--hints",
        metavar="FILE",
        type=Path,
        help="where to write the root hints (default: a file in the temporary directory, "
        "removed on exit)",
    )
    parser.add_argument(
        "--trust-anchor",
        metavar="FILE",
        type=Path,
        help="where to write the trust anchor, the DS of the sandbox root's key (default: "
        "next to the hints, named like them with .anchor)",
    )
    parser.add_argument(
        "--ipv6",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve on ::1 too (default: on; off leaves v6only.net unreachable)",
    )
    parser.add_argument(
        "--dead",
        metavar="SERVER",
        action="append",
        default=[],
        help="make this server (as listed at start, e.g. ns1.nic.com) dead too; repeatable",
    )
    parser.add_argument(
        "--zone",
        metavar="FILE",
        action="append",
        default=[],
        type=Path,
        help="serve this zone file too, from a server of its own, delegated from its "
        "parent in the sandbox; repeatable",
    )
    parser.add_argument(
        "--query-log",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="print a line for every query a server receives",
    )
    parser.set_defaults(run=_run_sandbox, check=functools.partial(_check_sandbox, parser))


def _check_sandbox(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    from ._decisions.authority import Zone
    from ._errors import ZoneFileError
    from .testing._loopback import server_names

    names = server_names()
    for name in args.dead:
        if name not in names:
            parser.error(f"--dead {name}: no such server (the servers: {', '.join(names)})")
    zones = []
    for path in args.zone:
        try:
            zones.append(Zone.from_text(path.read_text(), filename=str(path)))
        except OSError as exc:
            parser.error(f"--zone {path}: {exc.strerror}")
        except ZoneFileError as exc:
            parser.error(f"--zone {path}: {exc}")
    args.zones = zones


async def _run_sandbox(args: argparse.Namespace) -> int:
    import os
    import signal
    import tempfile

    from ._address import format_address
    from .testing._loopback import LoopbackSandbox, ipv6_loopback_available

    ipv6: str | None = None
    if args.ipv6:
        if ipv6_loopback_available():
            ipv6 = "::1"
        else:
            print(f"{PROG} sandbox: this machine has no ::1, so v6only.net is unreachable")
    try:
        sandbox = LoopbackSandbox.build(
            prefix=args.prefix, port=args.port, ipv6=ipv6, dead=args.dead, zones=args.zones
        )
    except ValueError as exc:
        raise DNSError(str(exc)) from None
    hints: Path | None = args.hints
    temporary = hints is None
    if hints is None:
        handle, name = tempfile.mkstemp(prefix="trio-dns-sandbox-", suffix=".hints")
        os.close(handle)
        hints = Path(name)
    anchor: Path = args.trust_anchor or hints.with_suffix(".anchor")
    if temporary and args.trust_anchor is None:
        handle, name = tempfile.mkstemp(prefix="trio-dns-sandbox-", suffix=".anchor")
        os.close(handle)
        anchor = Path(name)
    try:
        await trio.Path(hints).write_text(sandbox.hints_text())
    except OSError as exc:
        raise DNSError(f"cannot write the root hints to {hints}: {exc.strerror}") from None
    try:
        await trio.Path(anchor).write_text(sandbox.trust_anchor_text())
    except OSError as exc:
        raise DNSError(f"cannot write the trust anchor to {anchor}: {exc.strerror}") from None

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        with (
            trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals,
            _unwrap_dns_error(),
        ):
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    functools.partial(sandbox.serve, query_log=log if args.query_log else None)
                )
                print(f"{PROG} sandbox: {len(sandbox.servers)} servers on loopback")
                for name, addresses, zones, misbehaviour in sandbox.describe():
                    where = " ".join(format_address(a) for a in addresses) or "(not on loopback)"
                    serves = " ".join(str(zone) for zone in zones)
                    note = f" ({misbehaviour})" if misbehaviour else ""
                    print(f"  {name:<20} {where:<22} {serves}{note}")
                root = sandbox.root_addresses[0]
                port = "" if args.port == 53 else f" -p {args.port}"
                upstream = "" if args.port == 53 else f" --port {args.port}"
                print(f"root hints: {hints}")
                print(f"trust anchor: {anchor}")
                print("try:")
                print(f"  dig @{root}{port} www.example.com +norecurse")
                print(f"  {PROG} resolve --root-hints {hints}{upstream} --trace www.example.com")
                print(
                    f"  {PROG} resolve --root-hints {hints} --trust-anchor {anchor}{upstream} "
                    "www.secure.example"
                )
                upstream = "" if args.port == 53 else f" --upstream-port {args.port}"
                print(f"  {PROG} serve --root-hints {hints}{upstream} --listen 127.0.0.1:5300")
                print("Ctrl-C stops the sandbox.", flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
    finally:
        if temporary:
            hints.unlink(missing_ok=True)
            if args.trust_anchor is None:
                anchor.unlink(missing_ok=True)
    return 0


# -- trio-dns control ---------------------------------------------------------------


def _add_control(subparsers: _Subparsers) -> None:
    add_control(subparsers)  # the client's module: see there


# -- the command --------------------------------------------------------------------

# Each adds one subcommand to the parser, with defaults `run` (an async function of
# the parsed arguments returning the exit status) and optionally `check` (called
# with the arguments after parsing, to report usage errors argparse cannot see).
_SUBCOMMANDS: tuple[Callable[[_Subparsers], None], ...] = (
    _add_query,
    _add_resolve,
    _add_serve,
    _add_check_config,
    _add_sandbox,
    _add_control,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="A recursive DNS resolver and server built on Trio."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for --workers to run again
    check = getattr(args, "check", None)
    if check is not None:
        check(args)
    try:
        status: int = trio.run(args.run, args)
    except DNSError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return status

"""`trio-dns control COMMAND`: ask a running `trio-dns serve` to do something.

Theory of operation: the command sends one request line over the server's
control socket (`_server/control.py` has the protocol and the server's half),
prints the reply's lines on stdout, and exits 0 if the server said ok; the
server's error is one line on stderr and exit status 1, as are "no server
there" and a reply cut short. The socket is found as the server finds it:
`--control-socket`, else the `control_socket` key of `--config`'s file, else
the default location.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import TypeAlias

import trio

from ._errors import DNSError
from ._server.control import default_control_socket, request

_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

COMMANDS = {
    "status": "version, uptime, configuration file, listeners, workers",
    "stats": "the counters the metrics endpoint shows, one per line",
    "flush": "NAME [TYPE]: forget what is cached at NAME (of TYPE only, if given)",
    "flush-zone": "NAME: forget everything cached at NAME and below it",
    "flush-all": "forget everything cached",
    "flush-infra": "[ADDR]: forget what was learnt of a nameserver (all, by default)",
    "dump-cache": "the cache as zone-file text, with the TTLs that remain",
    "lookup": "NAME: the nameservers that would be asked about NAME",
    "reload": "read the configuration and zone files again and apply them",
}


def add_control(subparsers: _Subparsers) -> None:
    listing = "\n".join(f"  {name:<12} {what}" for name, what in COMMANDS.items())
    parser = subparsers.add_parser(
        "control",
        usage="trio-dns control [--control-socket PATH] [--config FILE] COMMAND [ARG...]",
        help="ask a running trio-dns serve to flush, reload, report...",
        description="Send one command to a running `trio-dns serve` over its control "
        "socket and print the reply.",
        epilog=f"commands:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", metavar="COMMAND", choices=list(COMMANDS))
    parser.add_argument("arguments", metavar="ARG", nargs="*")
    parser.add_argument(
        "--control-socket",
        metavar="PATH",
        type=Path,
        help="the server's control socket (default: as the server's)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="the server's TOML configuration, to find its control_socket in",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=60.0,
        metavar="S",
        help="seconds to wait for the reply (default 60)",
    )
    parser.set_defaults(run=_run_control)


def positive_seconds(text: str) -> float:
    """A positive number of seconds: an argparse type, `trio-dns query`'s too."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"invalid timeout {text!r} (must be positive seconds)")
    return seconds


def _socket_from(config: Path) -> Path | None:
    try:
        with config.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise DNSError(f"{config}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DNSError(f"{config}: not valid TOML: {' '.join(str(exc).split())}") from None
    value = data.get("control_socket")
    return Path(value) if isinstance(value, str) and value else None


async def _run_control(args: argparse.Namespace) -> int:
    path: Path | None = args.control_socket
    if path is None and args.config is not None:
        path = _socket_from(args.config)
    if path is None:
        path = default_control_socket()
    line = " ".join([args.command, *args.arguments])
    reply: tuple[list[str], str | None] | None = None
    with trio.move_on_after(args.timeout):
        reply = await request(path, line)
    if reply is None:
        raise DNSError(f"no reply from {path} within {args.timeout:g} s")
    lines, error = reply
    try:
        for text in lines:
            print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Piped into `head`, say: the reader has all it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if error is not None:
        print(f"trio-dns control: {error}", file=sys.stderr)
        return 1
    return 0

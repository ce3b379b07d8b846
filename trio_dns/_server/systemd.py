"""Telling systemd that the server is ready (sd_notify, without libsystemd).

Theory of operation: a `Type=notify` unit starts the server with NOTIFY_SOCKET
naming a Unix datagram socket; the server sends `READY=1` there once its ports
are bound and its privileges dropped, so units ordered after it start only when
it answers, and `STOPPING=1` when it begins to shut down. The protocol is one
datagram of newline-separated assignments; a name starting with "@" is in the
abstract namespace. Without NOTIFY_SOCKET (not under systemd) nothing is sent.
A socket that cannot be reached is logged, never fatal: serving matters more.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

_log = logging.getLogger("trio_dns.server")


def notify(state: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send `state` ("READY=1", "STOPPING=1"...) to systemd; False if not asked to."""
    path = environ.get("NOTIFY_SOCKET", "")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        _log.warning("cannot notify systemd at %s: %s", path, exc.strerror or exc)
        return False
    return True

"""Giving up root once the ports are open.

Theory of operation: port 53 needs root (or CAP_NET_BIND_SERVICE) to bind, and
nothing after that does, so `trio-dns serve --user NAME` binds its sockets (and
creates its control socket) as root, then becomes NAME for good: supplementary
groups first, then the group, then the user, since each step needs the
privilege the next one takes away. Afterwards getting root back must fail; if
it does not, the process stops rather than serve as root believing otherwise.
What the server opens later (zone files on a reload, new listening ports) is
opened as NAME.
"""

from __future__ import annotations

import os
import pwd

from .._errors import DNSError


def drop_privileges(user: str) -> tuple[int, int]:
    """Become `user` (and its primary group) for the rest of the process; the uid
    and gid now in force. Already `user`: nothing to do."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise DNSError(f"user {user!r}: no such user") from None
    uid, gid = entry.pw_uid, entry.pw_gid
    if os.getuid() == uid and os.geteuid() == uid:
        return uid, gid
    try:
        os.setgroups(os.getgrouplist(user, gid))
        os.setgid(gid)
        os.setuid(uid)
    except PermissionError:
        raise DNSError(f"cannot become user {user!r}: only root can change user") from None
    if uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:  # pragma: no cover - a kernel that lets it happen
            raise DNSError(f"became user {user!r} but could get root back; stopping")
    return os.getuid(), os.getgid()

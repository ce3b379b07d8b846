"""The system's resolver configuration (resolv.conf), and the names a stub tries for one.

Theory of operation: `SystemConfig.from_text` reads resolv.conf as the C library
does: `nameserver` lines (the first three usable ones, glibc's MAXNS), the search
list from `search` or `domain` (whichever comes last wins), and the `options`
that matter to a stub (`ndots:`, `timeout:`, `attempts:`, `rotate`, `edns0`,
`no-tld-query`), each clamped to glibc's bounds, and the environment variables
glibc honours over the file (`LOCALDOMAIN`, `RES_OPTIONS`). Unknown lines and options are
ignored, as glibc ignores them; nothing here raises on bad text.

`SystemConfig.candidates` is glibc's res_search order. A name typed with a
final dot is absolute: it is asked as it is and nothing else. Otherwise, with
at least `ndots` dots it is tried as it is first, then under each search
domain; with fewer, under each search domain first and as it is last (unless
`no-tld-query` and it has no dot at all). That is why it takes the text the
user typed: `Name.from_text` makes every name absolute, and the final dot is
the one thing that tells the two apart.

Pure: no file is opened here; the caller reads it (once per resolver).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from .._address import normalize_address
from .._errors import InvalidName
from .._wire.enums import Rcode
from .._wire.name import Name
from .answer import Answer

MAX_NAMESERVERS = 3  # glibc's MAXNS: later nameserver lines are ignored
# glibc's limits (resolv/res_init.c): RES_MAXNDOTS, RES_MAXRETRANS, RES_MAXRETRY.
MAX_NDOTS = 15
MAX_TIMEOUT = 30
MAX_ATTEMPTS = 5


@attrs.frozen
class SystemConfig:
    """What resolv.conf says. The defaults are glibc's for a file without options."""

    nameservers: tuple[str, ...] = ()
    search: tuple[Name, ...] = ()
    ndots: int = 1
    timeout: float = 5.0  # seconds per attempt
    attempts: int = 2  # rounds through the nameservers
    rotate: bool = False
    edns0: bool = False
    no_tld_query: bool = False

    @classmethod
    def from_text(
        cls, text: str, environ: Mapping[str, str] | None = None, hostname: str = ""
    ) -> SystemConfig:
        """Read resolv.conf's text. As glibc does, `LOCALDOMAIN` in `environ`
        replaces the search list and `RES_OPTIONS` adds options after the file's;
        without a search list, the domain of `hostname` (what follows its first
        dot) is the one search domain."""
        environ = {} if environ is None else environ
        nameservers: list[str] = []
        search: tuple[Name, ...] = ()
        options: dict[str, object] = {}
        for line in text.splitlines():
            words = line.split()
            if not words or words[0][0] in "#;":
                continue
            keyword, arguments = words[0], words[1:]
            if keyword == "nameserver" and arguments:
                host = _address_or_none(arguments[0])
                if host is not None and len(nameservers) < MAX_NAMESERVERS:
                    nameservers.append(host)
            elif keyword == "domain" and arguments:
                search = _domains(arguments[:1])
            elif keyword == "search":
                search = _domains(arguments)
            elif keyword == "options":
                options.update(_options(arguments))
        if "LOCALDOMAIN" in environ:
            search = _domains(environ["LOCALDOMAIN"].split())
        elif not search and "." in hostname.strip("."):
            search = _domains([hostname.strip(".").partition(".")[2]])
        options.update(_options(environ.get("RES_OPTIONS", "").split()))
        return cls(tuple(nameservers), search, **options)  # type: ignore[arg-type]

    def as_typed_first(self, text: str) -> bool:
        """Is the name tried as typed before the search list (final dot, or ndots)?"""
        name = Name.from_text(text)
        return text.endswith(".") or name.is_root() or _dots(name) >= self.ndots

    def candidates(self, text: str) -> tuple[Name, ...]:
        """The names to ask, in order, for what the user typed (glibc's res_search).

        Raises InvalidName if `text` is not a valid name."""
        name = Name.from_text(text)
        if text.endswith(".") or name.is_root():
            return (name,)
        dots = _dots(name)
        searched = tuple(_under(name, domain) for domain in self.search)
        as_typed = (name,)
        if dots >= self.ndots:
            ordered = as_typed + searched
        elif dots == 0 and self.no_tld_query and searched:
            ordered = searched
        else:
            ordered = searched + as_typed
        return tuple(dict.fromkeys(n for n in ordered if n is not None))


def keeps_searching(answer: Answer) -> bool:
    """Does the search go on to the next name after this answer?"""
    if answer.rcode == Rcode.NOERROR:
        return not answer.rrset()
    if answer.rcode == Rcode.SERVFAIL:
        return not answer.timed_out
    return answer.rcode == Rcode.NXDOMAIN


def search_outcome(answers: Sequence[Answer], as_typed_first: bool) -> Answer:
    """The answer a finished search reports, from the answers of the names tried."""
    last = answers[-1]
    if not keeps_searching(last) or len(answers) == 1:
        return last
    if as_typed_first:
        return answers[0]
    for rcode in (Rcode.NOERROR, Rcode.SERVFAIL):
        for answer in answers:
            if answer.rcode == rcode:
                return answer
    return last


def _dots(name: Name) -> int:
    # Not text.count("."): "a\\.b" is one label.
    return len(name.labels) - 1


def _address_or_none(text: str) -> str | None:
    try:
        return normalize_address(text, 0)[0]
    except ValueError:
        # A link-local address with a zone ("fe80::1%eth0") cannot be used here.
        return None


def _domains(words: list[str]) -> tuple[Name, ...]:
    found: list[Name] = []
    for word in words:
        try:
            name = Name.from_text(word)
        except InvalidName:
            continue
        if not name.is_root():  # "search ." means no search list
            found.append(name)
    return tuple(dict.fromkeys(found))


def _bounded(value: str, high: int) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return max(0, min(number, high))


def _options(words: list[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    for word in words:
        key, _, value = word.partition(":")
        if key == "ndots" and (n := _bounded(value, MAX_NDOTS)) is not None:
            found["ndots"] = n
        elif key == "timeout" and (n := _bounded(value, MAX_TIMEOUT)) is not None:
            found["timeout"] = float(max(n, 1))
        elif key == "attempts" and (n := _bounded(value, MAX_ATTEMPTS)) is not None:
            found["attempts"] = max(n, 1)
        elif key == "rotate":
            found["rotate"] = True
        elif key == "edns0":
            found["edns0"] = True
        elif key == "no-tld-query":
            found["no_tld_query"] = True
    return found


def _under(name: Name, domain: Name) -> Name | None:
    """`name`'s labels under `domain`, or None if the result is too long to be a name."""
    try:
        return domain.concatenate(name.labels)
    except InvalidName:
        return None

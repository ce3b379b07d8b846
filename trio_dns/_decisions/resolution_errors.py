"""The exceptions an unsuccessful resolution raises, when the caller asks for them.

Theory of operation: `Resolver.resolve` returns an `Answer` whatever happened,
because NXDOMAIN and SERVFAIL are answers a server must pass on. A program that
wants exceptions calls `answer.raise_for_status()` (or uses `addresses` and
`reverse`, which raise), and gets one of these, each carrying the answer it
came from and the Extended DNS Error (RFC 8914) when there is one:

    ResolutionError            any answer without the data asked for
      NoSuchName               NXDOMAIN: the name does not exist
      NoData                   NOERROR, but no records of that type
      ResolutionFailed         SERVFAIL (or REFUSED, ...): the reason is in `error`
        BogusAnswer            DNSSEC validation failed
        ResolutionTimeout      out of time (also a TimeoutError)

A caller catches the one it cares about, or `ResolutionError` for all of them.
"""

from __future__ import annotations

import typing

from .._errors import DNSError
from .._wire.enums import EdeCode

if typing.TYPE_CHECKING:
    from .._wire.edns import ExtendedError
    from .answer import Answer

# RFC 8914 codes that mean the data failed DNSSEC validation.
BOGUS_CODES = frozenset(
    {
        EdeCode.DNSSEC_INDETERMINATE,
        EdeCode.DNSSEC_BOGUS,
        EdeCode.SIGNATURE_EXPIRED,
        EdeCode.SIGNATURE_NOT_YET_VALID,
        EdeCode.DNSKEY_MISSING,
        EdeCode.RRSIGS_MISSING,
        EdeCode.NO_ZONE_KEY_BIT_SET,
        EdeCode.NSEC_MISSING,
    }
)


class ResolutionError(DNSError):
    """An answer without the data asked for. `answer` is the whole answer."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        detail = f": {answer.error.to_text()}" if answer.error is not None else ""
        super().__init__(
            f"{answer.qname} {answer.qtype.name}: {self._what(answer)}{detail}",
        )

    @property
    def error(self) -> ExtendedError | None:
        """The Extended DNS Error that says why, if there is one."""
        return self.answer.error

    @staticmethod
    def _what(answer: Answer) -> str:
        return answer.rcode.name


class NoSuchName(ResolutionError):
    """NXDOMAIN: the name does not exist (in any class, of any type)."""

    @staticmethod
    def _what(answer: Answer) -> str:
        return "no such name (NXDOMAIN)"


class NoData(ResolutionError):
    """The name exists, but has no records of the type asked for."""

    @staticmethod
    def _what(answer: Answer) -> str:
        return "no records of that type"


class ResolutionFailed(ResolutionError):
    """No answer could be found: SERVFAIL with its reason, or a refusal."""


class BogusAnswer(ResolutionFailed):
    """The answer failed DNSSEC validation."""

    @staticmethod
    def _what(answer: Answer) -> str:
        return "DNSSEC validation failed"


class ResolutionTimeout(ResolutionFailed, TimeoutError):
    """No answer within the time allowed (the resolver's deadline or `lifetime`)."""

    @staticmethod
    def _what(answer: Answer) -> str:
        return "out of time"

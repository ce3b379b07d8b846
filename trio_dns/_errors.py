"""The exceptions trio-dns raises.

Two families, as in h11: `DNSError` subclasses that describe a peer's misbehaviour
(`MalformedMessage`: the bytes on the wire are not a DNS message) and the ones that
describe misuse of the API (`InvalidName`, `UnknownType`, ...: the caller passed
something that is not a valid name, type or value). Both derive from `DNSError`,
so a caller that wants one `except` clause has it.

The errors of a resolution that found no data (`NoSuchName`, `NoData`,
`ResolutionFailed`, `BogusAnswer`, `ResolutionTimeout`) derive from `DNSError`
too; they live beside `Answer` in `_decisions/resolution_errors.py`, since each
carries the answer it came from.
"""

from __future__ import annotations


class DNSError(Exception):
    """Base class of every error trio-dns raises on purpose."""


class MalformedMessage(DNSError):
    """Bytes from the network that are not a valid DNS message.

    `reason` says what is wrong and `offset` where in the buffer it was found.
    Parsers of untrusted bytes raise this and nothing else.
    """

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        where = f" at offset {offset}" if offset is not None else ""
        super().__init__(f"malformed message: {reason}{where}")


class InvalidName(DNSError, ValueError):
    """Text or labels that do not make a valid domain name."""


class InvalidRdata(DNSError, ValueError):
    """Presentation-form text that does not make valid rdata of its type."""


class UnknownType(DNSError, ValueError):
    """A type, class, opcode or rcode mnemonic that is not known."""


class ZoneFileError(DNSError):
    """A zone file that cannot be read; names the file, line and problem."""

    def __init__(self, problem: str, filename: str = "<string>", line: int | None = None) -> None:
        self.problem = problem
        self.filename = filename
        self.line = line
        where = f"{filename}:{line}" if line is not None else filename
        super().__init__(f"{where}: {problem}")

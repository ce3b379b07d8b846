"""The trust vocabulary that the cache, the validator and the answers share.

How far data is believed (`Rank`), what DNSSEC found (`Validation`), and which
kind of "no" a negative answer is (`NegativeKind`). It sits below both the
cache and `trio_dns._dnssec`, so neither has to import the other to speak of
trust.
"""

from __future__ import annotations

import enum


class Rank(enum.IntEnum):
    """How far data is trusted (RFC 2181 section 5.4.1), lowest first."""

    ADDITIONAL = 1  # glue and other additional-section data
    AUTHORITY = 2  # authority section of a non-authoritative reply: a referral's NS set
    ANSWER = 3  # answer section of a non-authoritative reply
    AUTH_AUTHORITY = 4  # authority section of an authoritative reply
    AUTH_ANSWER = 5  # answer section of an authoritative reply


class Validation(enum.Enum):
    """DNSSEC state of an entry (RFC 4035 section 4.3); INDETERMINATE until checked."""

    INDETERMINATE = "indeterminate"
    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"


class NegativeKind(enum.Enum):
    """RFC 2308: the name does not exist, or it has no data of the asked type."""

    NXDOMAIN = "NXDOMAIN"
    NODATA = "NODATA"

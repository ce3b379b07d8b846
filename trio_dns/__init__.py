"""trio-dns: a recursive DNS resolver and server built on Trio.

The public API is re-exported here from private modules; see the guide in docs/.
The names that need Trio (the resolver, the server, the transports) are loaded
on first use, so that importing the pure layers (the wire format, the cache,
the decisions of iteration) loads no I/O at all.
"""

import typing as _typing

from ._decisions.answer import Answer as Answer
from ._decisions.answer import TraceEvent as TraceEvent
from ._decisions.authority import Zone as Zone
from ._decisions.cache import Cache as Cache
from ._decisions.cache import CacheStats as CacheStats
from ._decisions.resolution_errors import BogusAnswer as BogusAnswer
from ._decisions.resolution_errors import NoData as NoData
from ._decisions.resolution_errors import NoSuchName as NoSuchName
from ._decisions.resolution_errors import ResolutionError as ResolutionError
from ._decisions.resolution_errors import ResolutionFailed as ResolutionFailed
from ._decisions.resolution_errors import ResolutionTimeout as ResolutionTimeout
from ._decisions.resolv_conf import SystemConfig as SystemConfig
from ._errors import DNSError as DNSError
from ._errors import InvalidName as InvalidName
from ._errors import InvalidRdata as InvalidRdata
from ._errors import MalformedMessage as MalformedMessage
from ._errors import UnknownType as UnknownType
from ._errors import ZoneFileError as ZoneFileError
from ._public import publish as _publish
from ._public import publish_one as _publish_one
from ._trust import NegativeKind as NegativeKind
from ._trust import Rank as Rank
from ._trust import Validation as Validation
from ._wire.edns import Cookie as Cookie
from ._wire.edns import Edns as Edns
from ._wire.edns import EdnsOption as EdnsOption
from ._wire.edns import ExtendedError as ExtendedError
from ._wire.edns import GenericOption as GenericOption
from ._wire.enums import EdeCode as EdeCode
from ._wire.enums import EdnsOptionCode as EdnsOptionCode
from ._wire.enums import Flag as Flag
from ._wire.enums import Opcode as Opcode
from ._wire.enums import Rcode as Rcode
from ._wire.enums import RRClass as RRClass
from ._wire.enums import RRType as RRType
from ._wire.message import Header as Header
from ._wire.message import Message as Message
from ._wire.message import Question as Question
from ._wire.message import Record as Record
from ._wire.name import ROOT as ROOT
from ._wire.name import Name as Name
from ._wire.rdata import GenericRdata as GenericRdata
from ._wire.rdata import Rdata as Rdata
from ._wire.rdata import rdata_from_text as rdata_from_text
from ._wire.rdtypes.address import AAAA as AAAA
from ._wire.rdtypes.address import A as A
from ._wire.rdtypes.caa import CAA as CAA
from ._wire.rdtypes.dnskey import CDNSKEY as CDNSKEY
from ._wire.rdtypes.dnskey import DNSKEY as DNSKEY
from ._wire.rdtypes.ds import CDS as CDS
from ._wire.rdtypes.ds import DS as DS
from ._wire.rdtypes.mx import MX as MX
from ._wire.rdtypes.naptr import NAPTR as NAPTR
from ._wire.rdtypes.nsec import NSEC as NSEC
from ._wire.rdtypes.nsec3 import NSEC3 as NSEC3
from ._wire.rdtypes.nsec3 import NSEC3PARAM as NSEC3PARAM
from ._wire.rdtypes.rrsig import RRSIG as RRSIG
from ._wire.rdtypes.single_name import CNAME as CNAME
from ._wire.rdtypes.single_name import DNAME as DNAME
from ._wire.rdtypes.single_name import NS as NS
from ._wire.rdtypes.single_name import PTR as PTR
from ._wire.rdtypes.soa import SOA as SOA
from ._wire.rdtypes.srv import SRV as SRV
from ._wire.rdtypes.sshfp import SSHFP as SSHFP
from ._wire.rdtypes.svcb import HTTPS as HTTPS
from ._wire.rdtypes.svcb import SVCB as SVCB
from ._wire.rdtypes.svcb import SvcParam as SvcParam
from ._wire.rdtypes.svcb import SvcParamKey as SvcParamKey
from ._wire.rdtypes.tlsa import SMIMEA as SMIMEA
from ._wire.rdtypes.tlsa import TLSA as TLSA
from ._wire.rdtypes.txt import TXT as TXT
from ._wire.root_data import root_hints as root_hints
from ._wire.root_data import root_trust_anchors as root_trust_anchors
from ._wire.zone import read_zone as read_zone
from ._wire.zone import read_zone_file as read_zone_file
from ._wire.zone import zone_to_text as zone_to_text

if _typing.TYPE_CHECKING:
    from ._network.exchange import ExchangeError as ExchangeError
    from ._network.exchange import Exchanger as Exchanger
    from ._network.exchange import ExchangeStats as ExchangeStats
    from ._network.lookups import addresses as addresses
    from ._network.lookups import reverse as reverse
    from ._network.resolver import Resolver as Resolver
    from ._network.resolver import ResolverSettings as ResolverSettings
    from ._network.resolver import resolve as resolve
    from ._network.stub import QueryTimeout as QueryTimeout
    from ._network.stub import StubResolver as StubResolver
    from ._network.system import SystemResolver as SystemResolver
    from ._network.system import system_resolver as system_resolver
    from ._network.transport import SocketTransport as SocketTransport
    from ._network.transport import Transport as Transport
    from ._server.server import Server as Server
    from ._server.server import ServerSettings as ServerSettings
    from ._server.server import ServerStats as ServerStats

_LAZY = {
    "ExchangeError": "._network.exchange",
    "Exchanger": "._network.exchange",
    "ExchangeStats": "._network.exchange",
    "addresses": "._network.lookups",
    "reverse": "._network.lookups",
    "Resolver": "._network.resolver",
    "ResolverSettings": "._network.resolver",
    "resolve": "._network.resolver",
    "Server": "._server.server",
    "ServerSettings": "._server.server",
    "ServerStats": "._server.server",
    "QueryTimeout": "._network.stub",
    "StubResolver": "._network.stub",
    "SystemResolver": "._network.system",
    "system_resolver": "._network.system",
    "SocketTransport": "._network.transport",
    "Transport": "._network.transport",
}


def _installed_version() -> str:
    # pyproject.toml states the version; the installed metadata carries it here.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trio-dns")
    except PackageNotFoundError:  # imported from a source tree never installed
        return "0+unknown"


__version__ = _installed_version()


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trio_dns' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    _publish_one(value, __name__)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


# Last, so that every name above is covered: they say `trio_dns`, as Trio's do.
_publish(globals(), __name__)

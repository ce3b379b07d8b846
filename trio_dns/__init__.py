"""trio-dns: a recursive DNS resolver and server built on Trio.

The public API is re-exported here from private modules; see the guide in docs/.
"""

from ._errors import DNSError as DNSError
from ._errors import InvalidName as InvalidName
from ._errors import InvalidRdata as InvalidRdata
from ._errors import MalformedMessage as MalformedMessage
from ._errors import UnknownType as UnknownType
from ._errors import ZoneFileError as ZoneFileError
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

__version__ = "0.1.0"

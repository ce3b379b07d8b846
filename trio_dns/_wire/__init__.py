"""The DNS wire format: pure code with no I/O. See the guide's chapters 1 and 3."""

from . import rdtypes as rdtypes

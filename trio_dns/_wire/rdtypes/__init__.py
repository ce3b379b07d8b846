"""One module per family of record types; importing this registers them all."""

from . import address, mx, single_name, soa, txt

__all__ = ["address", "mx", "single_name", "soa", "txt"]

"""One module per family of record types; importing this registers them all."""

from . import (
    address,
    caa,
    dnskey,
    ds,
    mx,
    naptr,
    nsec,
    nsec3,
    rrsig,
    single_name,
    soa,
    srv,
    sshfp,
    svcb,
    tlsa,
    txt,
)

__all__ = [
    "address",
    "caa",
    "dnskey",
    "ds",
    "mx",
    "naptr",
    "nsec",
    "nsec3",
    "rrsig",
    "single_name",
    "soa",
    "srv",
    "sshfp",
    "svcb",
    "tlsa",
    "txt",
]

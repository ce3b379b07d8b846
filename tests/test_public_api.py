"""The public surface: what `import trio_dns` offers, and the layering behind it."""

import types

import trio_dns

EXPECTED = {
    # wire format
    "Name", "ROOT", "Message", "Header", "Question", "Record", "Edns", "EdnsOption",
    "Cookie", "ExtendedError", "GenericOption", "Flag", "Opcode", "Rcode", "RRType", "RRClass",
    "EdeCode", "EdnsOptionCode", "Rdata", "GenericRdata", "rdata_from_text",
    "A", "AAAA", "CAA", "CDNSKEY", "DNSKEY", "CDS", "DS", "MX", "NAPTR", "NSEC", "NSEC3",
    "NSEC3PARAM", "RRSIG", "CNAME", "DNAME", "NS", "PTR", "SOA", "SRV", "SSHFP", "HTTPS", "SVCB",
    "SvcParam", "SvcParamKey", "SMIMEA", "TLSA", "TXT",
    "read_zone", "read_zone_file", "zone_to_text", "root_hints", "root_trust_anchors",
    # errors
    "DNSError", "MalformedMessage", "InvalidName", "InvalidRdata", "UnknownType", "ZoneFileError",
    "ExchangeError", "QueryTimeout",
    "ResolutionError", "NoSuchName", "NoData", "ResolutionFailed", "BogusAnswer",
    "ResolutionTimeout",
    # resolution
    "resolve", "Resolver", "ResolverSettings", "Answer", "TraceEvent", "Cache", "CacheStats", "Rank", "NegativeKind", "Validation", "Exchanger", "ExchangeStats",
    "StubResolver", "Transport", "SocketTransport", "Zone",
    "SystemResolver", "SystemConfig", "system_resolver", "addresses", "reverse",
    # serving
    "Server", "ServerSettings", "ServerStats",
}  # fmt: skip


def test_exports_are_exactly_the_public_api() -> None:
    public = {
        name
        for name in dir(trio_dns)
        if not name.startswith("_") and not isinstance(getattr(trio_dns, name), types.ModuleType)
    }
    assert public == EXPECTED


def test_exports_claim_to_live_in_trio_dns() -> None:
    for name in EXPECTED:
        assert hasattr(trio_dns, name)

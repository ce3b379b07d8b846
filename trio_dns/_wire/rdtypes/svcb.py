"""SVCB and HTTPS: service bindings (RFC 9460).

Theory of operation: the rdata is a priority (0 is AliasMode), a target name, and
SvcParams in strictly increasing key order. Each `SvcParam` keeps its value in wire
form, checked against the format of its key when it is made, so a record always
re-encodes to the octets it came from and keys this library does not know (and
keys it does) survive unchanged. Typed views (`SVCB.alpn`, `SVCB.port`, ...)
decode on demand, and named constructors (`SvcParam.alpn(...)`) build values.

Presentation form: `1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1`. A value is a
character-string (quoted or not, with `\\DDD` escapes); lists are split on commas,
and for alpn, whose ids may themselves hold commas, a comma or backslash inside an
id is escaped with a backslash on top of the character-string escaping
(RFC 9460 Appendix A.1). The target is never compressed nor lowercased.
"""

from __future__ import annotations

import base64
import itertools
import socket
import struct
from collections.abc import Iterable
from typing import Self

import attrs

from ..._errors import InvalidRdata, MalformedMessage
from ..enums import RRType, _OpenIntEnum
from ..name import Name
from ..rdata import Rdata, register
from ..reader import WireReader
from ..text import TokenStream, escape_string, unescape
from ..writer import WireWriter
from ._fields import U16, base64_text, to_bytes


class SvcParamKey(_OpenIntEnum):
    """SvcParamKeys (IANA "Service Parameter Keys"); others print as `keyNNNNN`."""

    @classmethod
    def _prefix(cls) -> str:
        return "KEY"

    MANDATORY = 0
    ALPN = 1
    NO_DEFAULT_ALPN = 2
    PORT = 3
    IPV4HINT = 4
    ECH = 5
    IPV6HINT = 6

    def to_text(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_key_text(cls, text: str) -> SvcParamKey:
        """`alpn`, `no-default-alpn` or `key65000`, as RFC 9460 section 2.1 spells them."""
        member = cls.__members__.get(text.upper().replace("-", "_"))
        if member is not None and text == text.lower() and "_" not in text:
            return member
        digits = text[3:]
        if (
            text.startswith("key")
            and digits.isascii()
            and digits.isdigit()
            and (digits == "0" or not digits.startswith("0"))
            and int(digits) <= 0xFFFF
        ):
            return cls(int(digits))
        raise InvalidRdata(f"unknown SvcParamKey {text!r}")


_u16 = struct.Struct("!H")


def _check_value(key: int, value: bytes) -> None:
    """Raise ValueError unless `value` is well-formed wire data for `key`."""
    if key == SvcParamKey.MANDATORY:
        if not value or len(value) % 2:
            raise ValueError("mandatory must be a non-empty list of 16-bit keys")
        keys = [k for (k,) in struct.iter_unpack("!H", value)]
        if any(a >= b for a, b in itertools.pairwise(keys)):
            raise ValueError("mandatory keys must be in strictly increasing order")
        if SvcParamKey.MANDATORY in keys:
            raise ValueError("mandatory must not list itself")
    elif key == SvcParamKey.ALPN:
        if not value:
            raise ValueError("alpn must hold at least one protocol id")
        _split_alpn(value)
    elif key == SvcParamKey.NO_DEFAULT_ALPN:
        if value:
            raise ValueError("no-default-alpn takes no value")
    elif key == SvcParamKey.PORT:
        if len(value) != 2:
            raise ValueError("port must be 2 octets")
    elif key in (SvcParamKey.IPV4HINT, SvcParamKey.IPV6HINT):
        size = 4 if key == SvcParamKey.IPV4HINT else 16
        if not value or len(value) % size:
            raise ValueError(f"{SvcParamKey(key).to_text()} must be addresses of {size} octets")


def _split_alpn(value: bytes) -> tuple[bytes, ...]:
    ids = []
    position = 0
    while position < len(value):
        length = value[position]
        if length == 0 or position + 1 + length > len(value):
            raise ValueError("alpn id is empty or runs past the value")
        ids.append(value[position + 1 : position + 1 + length])
        position += 1 + length
    return tuple(ids)


def _to_key(value: int) -> SvcParamKey:
    return SvcParamKey.make(value)


@attrs.frozen
class SvcParam:
    """One SvcParam: a key and its value in wire form."""

    key: SvcParamKey = attrs.field(converter=_to_key)
    value: bytes = attrs.field(converter=to_bytes)

    def __attrs_post_init__(self) -> None:
        _check_value(self.key, self.value)

    # -- named constructors ---------------------------------------------------

    @classmethod
    def mandatory(cls, keys: Iterable[int]) -> SvcParam:
        return cls(SvcParamKey.MANDATORY, b"".join(_u16.pack(k) for k in sorted(set(keys))))

    @classmethod
    def alpn(cls, ids: Iterable[bytes]) -> SvcParam:
        value = b""
        for protocol in ids:
            if not 0 < len(protocol) <= 255:
                raise ValueError("an alpn id is 1 to 255 octets")
            value += bytes((len(protocol),)) + protocol
        return cls(SvcParamKey.ALPN, value)

    @classmethod
    def no_default_alpn(cls) -> SvcParam:
        return cls(SvcParamKey.NO_DEFAULT_ALPN, b"")

    @classmethod
    def port(cls, port: int) -> SvcParam:
        return cls(SvcParamKey.PORT, _u16.pack(port))

    @classmethod
    def ipv4hint(cls, addresses: Iterable[str]) -> SvcParam:
        return cls(SvcParamKey.IPV4HINT, b"".join(_pton(socket.AF_INET, a) for a in addresses))

    @classmethod
    def ech(cls, config_list: bytes) -> SvcParam:
        return cls(SvcParamKey.ECH, config_list)

    @classmethod
    def ipv6hint(cls, addresses: Iterable[str]) -> SvcParam:
        return cls(SvcParamKey.IPV6HINT, b"".join(_pton(socket.AF_INET6, a) for a in addresses))

    # -- presentation form ----------------------------------------------------

    @classmethod
    def from_text(cls, key: SvcParamKey, value: str | None) -> SvcParam:
        """`value` is the raw character-string text after `=`, None if there was no `=`."""
        if key == SvcParamKey.NO_DEFAULT_ALPN:
            if value:
                raise InvalidRdata("no-default-alpn takes no value")
            return cls.no_default_alpn()
        if value is None:
            if key <= SvcParamKey.IPV6HINT:
                raise InvalidRdata(f"{key.to_text()} needs a value")
            return cls(key, b"")
        octets = unescape(value)
        try:
            if key == SvcParamKey.ALPN:
                return cls.alpn(_split_escaped_list(octets))
            if key > SvcParamKey.IPV6HINT:
                return cls(key, octets)
            text = octets.decode("ascii")
            if key == SvcParamKey.ECH:
                return cls.ech(base64.b64decode(text, validate=True))
            items = text.split(",")
            if key == SvcParamKey.MANDATORY:
                keys = [SvcParamKey.from_key_text(item) for item in items]
                if len(set(keys)) != len(keys):
                    raise InvalidRdata("mandatory lists a key twice")
                return cls.mandatory(keys)
            if key == SvcParamKey.PORT:
                if not (text.isdigit() and int(text) <= 0xFFFF):
                    raise InvalidRdata(f"port: bad number {text!r}")
                return cls.port(int(text))
            if key == SvcParamKey.IPV4HINT:
                return cls.ipv4hint(items)
            return cls.ipv6hint(items)
        except InvalidRdata:
            raise
        except ValueError as exc:  # bad UTF-8, base64, address or number
            raise InvalidRdata(f"bad {key.to_text()} value {value!r}: {exc}") from None

    def to_text(self) -> str:
        key, value = self.key, self.value
        name = key.to_text()
        if key == SvcParamKey.MANDATORY:
            keys = (SvcParamKey(k).to_text() for (k,) in struct.iter_unpack("!H", value))
            return f"{name}={','.join(keys)}"
        if key == SvcParamKey.ALPN:
            items = (_escape_list_item(protocol) for protocol in _split_alpn(value))
            return f"{name}={escape_string(b','.join(items))}"
        if key == SvcParamKey.NO_DEFAULT_ALPN:
            return name
        if key == SvcParamKey.PORT:
            return f"{name}={_u16.unpack(value)[0]}"
        if key == SvcParamKey.IPV4HINT:
            return f"{name}={','.join(_ntop(socket.AF_INET, value, 4))}"
        if key == SvcParamKey.ECH:
            return f"{name}={base64_text(value)}"
        if key == SvcParamKey.IPV6HINT:
            return f"{name}={','.join(_ntop(socket.AF_INET6, value, 16))}"
        return f"{name}={escape_string(value)}" if value else name


def _pton(family: int, address: str) -> bytes:
    try:
        return socket.inet_pton(family, address)
    except (OSError, TypeError, ValueError):
        raise ValueError(f"{address!r} is not a valid address") from None


def _ntop(family: int, value: bytes, size: int) -> list[str]:
    return [socket.inet_ntop(family, value[i : i + size]) for i in range(0, len(value), size)]


def _split_escaped_list(octets: bytes) -> list[bytes]:
    """Split on commas; a backslash makes the next octet literal (`\\,` and `\\\\`)."""
    items = []
    current = bytearray()
    position = 0
    while position < len(octets):
        octet = octets[position]
        if octet == 0x5C:  # backslash
            if position + 1 >= len(octets):
                raise InvalidRdata("dangling backslash in a value list")
            current.append(octets[position + 1])
            position += 2
            continue
        if octet == 0x2C:  # comma
            items.append(bytes(current))
            current = bytearray()
        else:
            current.append(octet)
        position += 1
    items.append(bytes(current))
    if not all(items):
        raise InvalidRdata("empty item in a value list")
    return items


def _escape_list_item(item: bytes) -> bytes:
    return item.replace(b"\\", b"\\\\").replace(b",", b"\\,")


def _sort_params(params: Iterable[SvcParam]) -> tuple[SvcParam, ...]:
    return tuple(sorted(params, key=lambda param: param.key))


def _check_params(
    instance: object, attribute: attrs.Attribute[tuple[SvcParam, ...]], params: tuple[SvcParam, ...]
) -> None:
    keys = [param.key for param in params]
    if len(set(keys)) != len(keys):
        raise ValueError("a SvcParamKey appears twice")
    for param in params:
        if param.key == SvcParamKey.MANDATORY:
            for (key,) in struct.iter_unpack("!H", param.value):
                if key not in keys:
                    raise ValueError(f"mandatory key {SvcParamKey(key).to_text()} is missing")


@attrs.frozen
class _ServiceBinding(Rdata):
    priority: int = attrs.field(validator=U16)
    target: Name = attrs.field(validator=attrs.validators.instance_of(Name))
    params: tuple[SvcParam, ...] = attrs.field(
        default=(), converter=_sort_params, validator=_check_params
    )

    @property
    def alias_mode(self) -> bool:
        return self.priority == 0

    def param(self, key: int) -> bytes | None:
        """The wire-form value of `key`, or None if absent."""
        for param in self.params:
            if param.key == key:
                return param.value
        return None

    @property
    def mandatory(self) -> tuple[SvcParamKey, ...]:
        value = self.param(SvcParamKey.MANDATORY) or b""
        return tuple(SvcParamKey(k) for (k,) in struct.iter_unpack("!H", value))

    @property
    def alpn(self) -> tuple[bytes, ...]:
        value = self.param(SvcParamKey.ALPN)
        return _split_alpn(value) if value else ()

    @property
    def no_default_alpn(self) -> bool:
        return self.param(SvcParamKey.NO_DEFAULT_ALPN) is not None

    @property
    def port(self) -> int | None:
        value = self.param(SvcParamKey.PORT)
        return None if value is None else int(_u16.unpack(value)[0])

    @property
    def ipv4hint(self) -> tuple[str, ...]:
        return tuple(_ntop(socket.AF_INET, self.param(SvcParamKey.IPV4HINT) or b"", 4))

    @property
    def ipv6hint(self) -> tuple[str, ...]:
        return tuple(_ntop(socket.AF_INET6, self.param(SvcParamKey.IPV6HINT) or b"", 16))

    @property
    def ech(self) -> bytes | None:
        return self.param(SvcParamKey.ECH)

    @classmethod
    def from_wire_untrusted(cls, reader: WireReader) -> Self:
        priority = reader.u16()
        target = reader.name()
        params = []
        previous = -1
        while reader.remaining():
            start = reader.pos
            key = reader.u16()
            value = reader.read(reader.u16())
            if key <= previous:
                raise MalformedMessage("SvcParamKeys not in strictly increasing order", start)
            previous = key
            try:
                params.append(SvcParam(SvcParamKey(key), value))
            except ValueError as exc:
                raise MalformedMessage(f"bad SvcParam: {exc}", start) from None
        try:
            return cls(priority, target, tuple(params))
        except ValueError as exc:
            raise MalformedMessage(f"bad SvcParams: {exc}", reader.pos) from None

    def to_wire(self, writer: WireWriter, compress: bool = True) -> None:
        writer.u16(self.priority)
        writer.name(self.target, compress=False)
        for param in self.params:
            writer.u16(param.key)
            writer.u16(len(param.value))
            writer.write(param.value)

    @classmethod
    def from_tokens(cls, tokens: TokenStream) -> Self:
        priority = tokens.integer("priority")
        target = tokens.name("target")
        params = []
        rest = tokens.rest()
        position = 0
        while position < len(rest):
            token = rest[position]
            position += 1
            if token.quoted:
                raise InvalidRdata(f"SvcParam value {token.text!r} without a key")
            key_text, equals, value = token.text.partition("=")
            if equals and not value and position < len(rest) and rest[position].quoted:
                # `key="value"`: the tokenizer splits the quoted value off.
                value = rest[position].text
                position += 1
            key = SvcParamKey.from_key_text(key_text)
            params.append(SvcParam.from_text(key, value if equals else None))
        return cls(priority, target, tuple(params))

    def to_text(self) -> str:
        return " ".join(
            [str(self.priority), self.target.to_text()] + [p.to_text() for p in self.params]
        )


@register
@attrs.frozen
class SVCB(_ServiceBinding):
    rtype = RRType.SVCB


@register
@attrs.frozen
class HTTPS(_ServiceBinding):
    rtype = RRType.HTTPS

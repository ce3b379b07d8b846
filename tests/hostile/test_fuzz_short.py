"""A short run of the fuzzer of bench/fuzz.py: the same generator, a few thousand
packets through the server's front door and the reply parser and classifier.
The long run (a million packets) is by hand: `.venv/bin/python bench/fuzz.py`."""

from __future__ import annotations

from itertools import islice

import pytest

from bench.fuzz import KINDS, fuzz, packets
from trio_dns._wire.message import Message

SHORT = 4000


def test_a_short_fuzz_run_finds_no_crash() -> None:
    report = fuzz(SHORT, seed=11)
    assert report.crashes == 0, report.text()
    assert report.packets == SHORT
    assert set(report.kinds) == set(KINDS)
    # Every way out of the front door was taken, and of the parser.
    for outcome in ("dropped", "to the resolver", "NOERROR", "FORMERR", "REFUSED", "NOTIMP"):
        assert report.rcodes[outcome] > 0, report.text()
    assert any(name.startswith("resolved ") for name in report.rcodes), report.text()
    assert report.parser["parsed"] > 0 and report.parser["malformed"] > 0
    assert sum(n for k, n in report.parser.items() if k.startswith("classified ")) > 0


def test_the_generator_is_repeatable_and_varied() -> None:
    first = list(islice(packets(3), 500))
    assert first == list(islice(packets(3), 500))
    assert first != list(islice(packets(4), 500))
    assert len({packet for _, packet in first}) > 450


def test_the_harness_reports_what_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A parser bug (an exception other than MalformedMessage) must show as a crash.
    original = Message.from_wire.__func__  # type: ignore[attr-defined]

    def buggy(cls: type[Message], data: bytes) -> Message:
        if len(data) % 7 == 3:
            raise IndexError("a bug")
        return original(cls, data)  # type: ignore[no-any-return]

    monkeypatch.setattr(Message, "from_wire", classmethod(buggy))
    report = fuzz(300, seed=5)
    assert report.crashes > 0
    assert any("IndexError" in example for example in report.examples)

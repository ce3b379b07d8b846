"""Parse and encode speed of whole messages, trio_dns against dnspython.

Run by hand: `.venv/bin/python bench/wire.py [--repeats N] [--seconds S]`.

The corpus is the golden packets of tests/data: a root referral with glue, an
answer through a CNAME chain, a DNSSEC answer with its RRSIG and an NXDOMAIN with
SOA, NSEC3 and RRSIGs. Both libraries run in the same process on the same bytes;
each figure is the best of several repeats (the least disturbed by the rest of
the machine), and what matters is the ratio, not the absolute rate.

Targets: parse at least 2x dnspython, encode at least 1.5x.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import dns.message

from trio_dns import Message

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CORPUS = ("referral", "cname_chain", "dnssec_answer", "nxdomain_nsec3")
TARGETS = {"parse": 2.0, "encode": 1.5}


def load(name: str) -> bytes:
    lines = (DATA / f"{name}.hex").read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


def best_rate(work: Callable[[], object], count: int, repeats: int, seconds: float) -> float:
    """Calls per second of `work`, best of `repeats` runs; each run has as many
    loops of `count` calls as fit in `seconds`."""
    loops = 1
    # Calibrate: grow the loop count until one run takes long enough to time.
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            work()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4 or loops >= 1 << 20:
            break
        loops *= 2
    best = elapsed / loops
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            work()
        best = min(best, (time.perf_counter() - start) / loops)
    return count / best


def corpus_runner(function: Callable[[object], object], items: list[object]) -> Callable[[], None]:
    def run() -> None:
        for item in items:
            function(item)

    return run


def measure(repeats: int, seconds: float) -> dict[str, dict[str, float]]:
    wires = [load(name) for name in CORPUS]
    ours = [Message.from_wire(wire) for wire in wires]
    theirs = [dns.message.from_wire(wire) for wire in wires]
    # Both must agree on what they parsed, or the race is not fair.
    for message, wire in zip(ours, wires, strict=True):
        assert message.to_wire() == wire
    count = len(wires)
    cases: dict[str, dict[str, Callable[[], None]]] = {
        "parse": {
            "trio_dns": corpus_runner(Message.from_wire, wires),  # type: ignore[arg-type]
            "dnspython": corpus_runner(dns.message.from_wire, wires),  # type: ignore[arg-type]
        },
        "encode": {
            "trio_dns": corpus_runner(Message.to_wire, ours),  # type: ignore[arg-type]
            "dnspython": corpus_runner(dns.message.Message.to_wire, theirs),  # type: ignore[arg-type]
        },
    }
    return {
        operation: {
            library: best_rate(work, count, repeats, seconds) for library, work in runs.items()
        }
        for operation, runs in cases.items()
    }


def per_message(repeats: int, seconds: float) -> None:
    print(f"{'message':<16}{'octets':>8}{'parse x':>10}{'encode x':>10}")
    for name in CORPUS:
        wire = load(name)
        ours = Message.from_wire(wire)
        theirs = dns.message.from_wire(wire)
        parse = best_rate(partial(Message.from_wire, wire), 1, repeats, seconds) / best_rate(
            partial(dns.message.from_wire, wire), 1, repeats, seconds
        )
        encode = best_rate(ours.to_wire, 1, repeats, seconds) / best_rate(
            theirs.to_wire, 1, repeats, seconds
        )
        print(f"{name:<16}{len(wire):>8}{parse:>10.2f}{encode:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.2, help="length of one timed run")
    parser.add_argument("--per-message", action="store_true", help="also show each message")
    args = parser.parse_args()
    results = measure(args.repeats, args.seconds)
    print(f"corpus: {', '.join(CORPUS)}; best of {args.repeats}")
    print(f"{'':<8}{'trio_dns msg/s':>16}{'dnspython msg/s':>17}{'ratio':>8}{'target':>8}")
    for operation, rates in results.items():
        ratio = rates["trio_dns"] / rates["dnspython"]
        mark = "ok" if ratio >= TARGETS[operation] else "BELOW"
        print(
            f"{operation:<8}{rates['trio_dns']:>16,.0f}{rates['dnspython']:>17,.0f}"
            f"{ratio:>8.2f}{TARGETS[operation]:>7.1f}x {mark}"
        )
    if args.per_message:
        print()
        per_message(args.repeats, args.seconds)


if __name__ == "__main__":
    main()

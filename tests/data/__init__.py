"""Golden packets: real-world-shaped DNS messages as hex, made by make_golden.py.

Each `NAME.hex` file is comment lines (`#`, describing the message in dnspython's
text form) followed by the message's octets in hex. `load("referral")` gives the
octets.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
NAMES = tuple(sorted(path.stem for path in HERE.glob("*.hex")))


def load(name: str) -> bytes:
    lines = (HERE / f"{name}.hex").read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))

"""Compare a Deckard run (its results.txt) with the tests expected to pass.

Usage: deckard_check.py RESULTS EXPECTED DECKARD_DIR [--update]

A test is a scenario with QNAME minimisation on or off: "iter_badglue.rpl off". A
listed test that failed is run once more on its own (`DECKARD_DIR/run` with
SCENARIOS=...); if it fails again, the check fails. With --update the list is
rewritten from what passed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

_ROW = re.compile(r"^(\S+\.rpl)\s+(pass|FAIL|-)\s+(pass|FAIL|-)\s*$")


def results(path: Path) -> dict[str, str]:
    """{"name.rpl on": "pass" | "FAIL"} for every applicable test in a results file."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            name, on, off = match.groups()
            for variant, status in (("on", on), ("off", off)):
                if status != "-":
                    found[f"{name} {variant}"] = status
    return found


def expected(path: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def rerun(deckard: Path, scenario: str) -> dict[str, str]:
    work = os.environ.get("DECKARD_WORK", "/tmp/trio-dns-deckard") + "-rerun"
    env = dict(os.environ, SCENARIOS=scenario, DECKARD_WORK=work)
    subprocess.run(
        [str(deckard / "run"), "trio-dns"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return results(Path(work) / "results.txt")


def main(argv: list[str]) -> int:
    results_path, expected_path, deckard = Path(argv[1]), Path(argv[2]), Path(argv[3])
    got = results(results_path)
    passed = {test for test, status in got.items() if status == "pass"}
    total = len(got)
    on = [t for t in got if t.endswith(" on")]
    off = [t for t in got if t.endswith(" off")]
    print(
        f"deckard: {len(passed)} of {total} tests pass "
        f"(qmin on {sum(t in passed for t in on)}/{len(on)}, "
        f"off {sum(t in passed for t in off)}/{len(off)})"
    )
    if "--update" in argv:
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        header = "# Deckard tests (scenario, QNAME minimisation on/off) that must pass: scripts/deckard\n"
        expected_path.write_text(header + "".join(f"{t}\n" for t in sorted(passed)))
        print(f"deckard: wrote {len(passed)} tests to {expected_path}")
        return 0
    want = expected(expected_path)
    failed = sorted(want - passed)
    still: list[str] = []
    for test in failed:
        scenario, _ = test.split()
        again = rerun(deckard, scenario)
        status = again.get(test, "missing")
        print(f"deckard: {test} failed; alone it gives {status}")
        if status != "pass":
            still.append(test)
    new = sorted(passed - want)
    if new:
        print(f"deckard: {len(new)} tests pass that the list does not name: " + ", ".join(new))
    if still:
        print(f"deckard: {len(still)} expected tests fail: " + ", ".join(still))
        print("deckard: why is in the logs named by the run (DECKARD_WORK/log-*.txt)")
        return 1
    print(f"deckard: all {len(want)} expected tests pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

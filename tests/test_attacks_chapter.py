"""The attack chapter's program, docs/build/attacks.py, against chapter 5's resolver.

Each defence must stop exactly the attack the chapter says it stops, and the
ones before it must not: a table of outcomes, attacks by stages of defence,
that is a staircase. The runs must repeat exactly (virtual time, seeded
randomness) and must leave chapter 5's module as they found it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BUILD = Path(__file__).resolve().parent.parent / "docs" / "build"


@pytest.fixture(scope="module")
def attacks() -> ModuleType:
    if not (BUILD / "ch5_recursive.py").is_file():
        pytest.fail("docs/build/ch5_recursive.py is missing: the attack chapter attacks it")
    sys.path.insert(0, str(BUILD))
    try:
        import attacks
    finally:
        sys.path.remove(str(BUILD))
    return attacks


def test_each_defence_stops_its_own_attack(attacks: ModuleType) -> None:
    rows = attacks.table(seed=1)
    outcomes = [[result.poisoned for result in row] for row in rows]
    # Attack i succeeds until stage i + 1, where its defence comes in, and never after.
    assert outcomes == [[stage <= attack for stage in range(5)] for attack in range(4)]


@pytest.mark.parametrize("seed", [2, 3, 1234])
def test_the_staircase_does_not_depend_on_the_seed(attacks: ModuleType, seed: int) -> None:
    outcomes = [[r.poisoned for r in row] for row in attacks.table(seed=seed)]
    assert outcomes == [[stage <= attack for stage in range(5)] for attack in range(4)]


def test_runs_repeat_exactly(attacks: ModuleType) -> None:
    first = attacks.run_attack(attacks.guess_id_and_port, attacks.NAIVE)
    second = attacks.run_attack(attacks.guess_id_and_port, attacks.NAIVE)
    assert first.trace == second.trace
    assert first.cache == second.cache


def test_poisoned_means_the_cache_took_the_bait(attacks: ModuleType) -> None:
    result = attacks.run_attack(attacks.guess_id_and_port, attacks.NAIVE)
    assert result.addresses == [attacks.ATTACKER]
    assert result.cache["ns1.example.com. A"] == [attacks.ATTACKER]  # the forged glue
    glue = attacks.run_attack(attacks.out_of_bailiwick_glue, attacks.STAGES[2][1])
    assert glue.cache["www.example.com. A"] == [attacks.ATTACKER]


def test_safe_means_the_real_answer(attacks: ModuleType) -> None:
    for _, attack in attacks.ATTACKS:
        result = attacks.run_attack(attack, attacks.ALL)
        assert result.addresses == [attacks.REAL]
        example = {key: data for key, data in result.cache.items() if "example.com." in key}
        assert example
        assert attacks.ATTACKER not in str(example)


def test_random_ports_leave_forgeries_nowhere_to_land(attacks: ModuleType) -> None:
    naive = attacks.run_attack(attacks.guess_id_and_port, attacks.NAIVE)
    random = attacks.run_attack(attacks.guess_id_and_port, attacks.STAGES[1][1])
    assert naive.forgeries == random.forgeries == 10
    assert naive.reached == 10
    assert random.reached == 0


def test_why_each_forgery_was_ignored(attacks: ModuleType) -> None:
    strict = attacks.run_attack(attacks.see_the_query, attacks.STAGES[2][1])
    assert strict.ignored() == ["ignored a datagram from 203.0.113.66#53: not the server"]
    case = attacks.run_attack(attacks.know_the_port_win_the_id, attacks.ALL)
    [line] = case.ignored()
    assert line.startswith("ignored a reply from 198.51.100.10: question spelled www.example.com.")


def test_the_bailiwick_rule_alone_does_not_stop_a_forger(attacks: ModuleType) -> None:
    # The forged referral speaks for example.com about example.com: in bailiwick.
    only = attacks.Defences(bailiwick=True)
    assert attacks.run_attack(attacks.guess_id_and_port, only).poisoned


def test_chapter_5_is_left_as_it_was(attacks: ModuleType) -> None:
    ch5 = attacks.ch5
    before = {name: getattr(ch5, name) for name in attacks._ORIGINAL}
    attacks.run_attack(attacks.know_the_port_win_the_id, attacks.ALL)
    attacks.run_attack(attacks.guess_id_and_port, attacks.NAIVE)
    assert {name: getattr(ch5, name) for name in attacks._ORIGINAL} == before
    assert ch5.CACHE == {}


def test_the_program_prints_the_table(attacks: ModuleType) -> None:
    completed = subprocess.run(
        [sys.executable, str(BUILD / "attacks.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["none", "+ID/port", "+strict", "+bailiwick", "+0x20"]
    assert lines[1].endswith("POISONED    safe        safe        safe        safe")
    assert lines[4].endswith("POISONED    POISONED    POISONED    POISONED    safe")

"""Differential checks against the official code (``tests/differential_upstream.py``).

Each check is skipped with the reason when the upstream checkout it needs is absent
(``$FAMA_TAU_BENCH_DIR``, ``$FAMA_ACEBENCH_REPO``) or the FAMA data is missing; with them,
a small seeded sample must show no mismatch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.differential_upstream import (
    Section,
    check_acebench,
    check_calculate,
    check_tau_bench_gold,
    check_tau_bench_tools,
)


def assert_no_mismatch(section: Section) -> None:
    if section.skipped:
        pytest.skip(section.skipped)
    assert section.checks > 0
    assert section.mismatches == [], section.summary()


def test_tau_bench_gold_hashes(tau_trait_data_dir: Path) -> None:
    assert_no_mismatch(check_tau_bench_gold(None, tau_trait_data_dir, limit=3))


def test_tau_bench_tool_sequences(tau_trait_data_dir: Path) -> None:
    section = check_tau_bench_tools(None, tau_trait_data_dir, seed=1, sequences=3, steps=10)
    assert_no_mismatch(section)


def test_calculate() -> None:
    assert_no_mismatch(check_calculate(None, seed=1, count=200))


def test_acebench_api_sequences(acebench_data_dir: Path) -> None:
    assert_no_mismatch(check_acebench(None, acebench_data_dir, seed=1, sequences=10, steps=15))


def test_a_mismatch_is_reported() -> None:
    section = Section("demo")
    section.compare("same", 1, 1)
    section.compare("differs", "a", "b")
    assert section.summary() == "demo: 2 checks, 1 mismatches"
    assert section.mismatches == ["differs: ours 'a' != upstream 'b'"]

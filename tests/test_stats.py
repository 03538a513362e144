"""Comparison statistics: pass^k per task, bootstrap intervals and the exact sign test."""

from __future__ import annotations

import random
from math import comb

import pytest

from fama.runs.metrics import pass_hat_k
from fama.runs.stats import (
    bootstrap_means,
    paired_sign_test,
    percentile,
    sign_test_p,
    summarize,
    task_pass_hat_k,
)


def test_percentile_and_summary() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    summary = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert summary is not None
    assert (summary.count, summary.mean, summary.p50) == (5, 3.0, 3.0)
    assert summarize([]) is None
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_task_pass_hat_k_matches_the_metric() -> None:
    trials = {"a": [True, True, False, True], "b": [False, False, True, False]}
    assert task_pass_hat_k(trials["a"], 2) == comb(3, 2) / comb(4, 2)  # 0.5
    assert task_pass_hat_k(trials["b"], 2) == 0.0
    for k, value in pass_hat_k(trials).items():
        assert value == pytest.approx(sum(task_pass_hat_k(t, k) for t in trials.values()) / 2)
    with pytest.raises(ValueError, match="1 <= k <= 4"):
        task_pass_hat_k(trials["a"], 5)


@pytest.mark.parametrize(
    ("improved", "worsened", "p"),
    [
        (0, 0, 1.0),
        (3, 3, 1.0),
        (5, 0, 0.0625),  # 2 * (1/2)^5
        (0, 5, 0.0625),
        (9, 1, 22 / 1024),  # 2 * (C(10,0) + C(10,1)) / 2^10
        (8, 2, 112 / 1024),  # 2 * (1 + 10 + 45) / 2^10
        (1, 2, 1.0),  # 2 * (1 + 3) / 8 capped at 1
    ],
)
def test_sign_test_p_values(improved: int, worsened: int, p: float) -> None:
    assert sign_test_p(improved, worsened) == pytest.approx(p)


def test_paired_sign_test_counts_discordant_pairs() -> None:
    base = [True, False, False, True, False]
    run = [True, True, True, False, False]
    result = paired_sign_test(base, run)
    assert (result.improved, result.worsened, result.ties) == (2, 1, 2)
    assert result.p_value == 1.0
    with pytest.raises(ValueError, match="different lengths"):
        paired_sign_test([True], [])
    with pytest.raises(ValueError, match="non-negative"):
        sign_test_p(-1, 2)


def test_bootstrap_is_deterministic_and_bounded() -> None:
    columns = {"d": [0.0, 0.5, 1.0, -0.5, 0.25, 0.0], "const": [0.3] * 6}
    first = bootstrap_means(columns, resamples=2000, seed=7)
    assert first == bootstrap_means(columns, resamples=2000, seed=7)
    d = first["d"]
    assert d.estimate == pytest.approx(0.208333, abs=1e-6)
    assert -0.5 <= d.low < d.estimate < d.high <= 1.0
    assert first["const"].low == pytest.approx(0.3) and first["const"].high == pytest.approx(0.3)
    single = bootstrap_means({"x": [0.4]})["x"]
    assert (single.estimate, single.low, single.high) == (0.4, 0.4, 0.4)


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        bootstrap_means({"a": [1.0, 2.0], "b": [1.0]})
    with pytest.raises(ValueError, match="no tasks"):
        bootstrap_means({"a": []})
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_means({"a": [1.0]}, resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_means({"a": [1.0]}, confidence=1.0)


def synthetic_differences(rng: random.Random, tasks: int, trials: int) -> list[float]:
    """Per-task success-rate differences of two agents with success 0.7 vs 0.5 per trial."""
    diffs = []
    for _ in range(tasks):
        run = sum(rng.random() < 0.7 for _ in range(trials)) / trials
        base = sum(rng.random() < 0.5 for _ in range(trials)) / trials
        diffs.append(run - base)
    return diffs


def test_bootstrap_interval_covers_the_true_difference() -> None:
    rng = random.Random(2024)
    interval = bootstrap_means({"d": synthetic_differences(rng, 200, 4)}, resamples=3000, seed=1)[
        "d"
    ]
    assert interval.contains(0.2) and not interval.contains(0.0)
    assert interval.high - interval.low < 0.15
    covered = sum(
        bootstrap_means({"d": synthetic_differences(rng, 40, 4)}, resamples=1000, seed=i)[
            "d"
        ].contains(0.2)
        for i in range(20)
    )
    assert covered >= 17  # nominal 95% coverage; a percentile bootstrap is a bit narrow


def test_wilson_interval_matches_published_values() -> None:
    from fama.runs.stats import wilson_interval

    four = wilson_interval(4, 10)
    assert four.estimate == 0.4
    assert round(four.low, 3) == 0.168 and round(four.high, 3) == 0.687
    none, every = wilson_interval(0, 10), wilson_interval(10, 10)
    assert none.low < 1e-9 and round(none.high, 3) == 0.278
    assert round(every.low, 3) == 0.722 and every.high == 1.0
    assert round(wilson_interval(5, 20, confidence=0.90).high, 3) == 0.432
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)

"""Statistics for paired run comparisons: pass^k per task, bootstrap intervals, sign test.

All functions are pure and deterministic (the bootstrap takes an explicit seed).

* **Bootstrap over tasks.** Trials of one task are correlated (same user goal, same data), so
  the unit of resampling is the task: each resample draws tasks with replacement and averages
  a per-task value (e.g. the task's success-rate difference between two runs on the same
  trials). The interval is the percentile interval of those resampled means.
* **Exact sign test (McNemar).** On paired episodes (same task, same trial) only discordant
  pairs carry information: ``improved`` (baseline failed, run succeeded) and ``worsened``.
  Under "no difference" each discordant pair goes either way with probability 1/2, so the
  two-sided p-value is ``min(1, 2 * P(X <= min(b, c)))`` for ``X ~ Binomial(b + c, 1/2)``
  (the exact McNemar test). Trials of a task are not independent, so this p-value is
  somewhat optimistic when tasks have several trials; the task-level bootstrap is not.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb
from statistics import NormalDist

DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate (the mean over tasks) with a bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (bounds included)."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class SignTest:
    """Discordant paired episodes and the exact two-sided sign-test p-value."""

    improved: int
    worsened: int
    ties: int
    p_value: float


@dataclass(frozen=True)
class Summary:
    """Mean and percentiles of a sample."""

    count: int
    mean: float
    p50: float
    p95: float


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(values: Sequence[float]) -> Summary | None:
    """Count, mean, median and 95th percentile; None for no values."""
    if not values:
        return None
    return Summary(
        count=len(values),
        mean=sum(values) / len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
    )


def task_pass_hat_k(trials: Sequence[bool], k: int) -> float:
    """One task's pass^k: C(successes, k) / C(trials, k); the mean over tasks is pass^k."""
    if not 1 <= k <= len(trials):
        raise ValueError(f"pass^{k} needs 1 <= k <= {len(trials)} trials")
    return comb(sum(trials), k) / comb(len(trials), k)


def bootstrap_means(
    columns: Mapping[str, Sequence[float]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals of the means of per-task columns.

    Every column holds one value per task, in the same task order; all columns are resampled
    with the same task draws, so intervals of related statistics are consistent. Fewer than
    two tasks give a degenerate interval (the estimate itself).
    """
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    if n == 0:
        raise ValueError("bootstrap of no tasks")
    estimates = {name: sum(v) / n for name, v in columns.items()}
    if n == 1:
        return {name: Interval(e, e, e, confidence) for name, e in estimates.items()}
    rng = random.Random(seed)
    tasks = range(n)
    means: dict[str, list[float]] = {name: [] for name in columns}
    getters = {name: list(values).__getitem__ for name, values in columns.items()}
    for _ in range(resamples):
        draw = rng.choices(tasks, k=n)
        for name, get in getters.items():
            means[name].append(sum(map(get, draw)) / n)
    tail = (1 - confidence) / 2 * 100
    return {
        name: Interval(
            estimate=estimates[name],
            low=percentile(means[name], tail),
            high=percentile(means[name], 100 - tail),
            confidence=confidence,
        )
        for name in columns
    }


def sign_test_p(improved: int, worsened: int) -> float:
    """Exact two-sided sign-test (exact McNemar) p-value for discordant pair counts."""
    if improved < 0 or worsened < 0:
        raise ValueError("counts must be non-negative")
    n = improved + worsened
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(improved, worsened) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_sign_test(baseline: Sequence[bool], run: Sequence[bool]) -> SignTest:
    """Sign test over paired outcomes (element i of both sequences is the same episode)."""
    if len(baseline) != len(run):
        raise ValueError("paired outcomes of different lengths")
    improved = sum(1 for b, r in zip(baseline, run, strict=True) if r and not b)
    worsened = sum(1 for b, r in zip(baseline, run, strict=True) if b and not r)
    return SignTest(
        improved=improved,
        worsened=worsened,
        ties=len(run) - improved - worsened,
        p_value=sign_test_p(improved, worsened),
    )


def wilson_interval(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """The Wilson score interval of a success rate (sound at 0/n and n/n, unlike the normal
    approximation); ``ValueError`` when ``n`` < 1 or ``successes`` is outside 0..n."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), confidence)

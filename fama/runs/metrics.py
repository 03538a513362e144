"""Benchmark metrics as tau2 defines them (spec §6.8): success, pass^k, average reward."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from math import comb

SUCCESS_TOLERANCE = 1e-6


def is_success(reward: float | None) -> bool:
    """An episode succeeds when its reward is 1 (within 1e-6); an unscored one does not."""
    return reward is not None and abs(reward - 1.0) <= SUCCESS_TOLERANCE


def pass_hat_k(successes_by_task: Mapping[str, Sequence[bool]]) -> dict[int, float]:
    """pass^k for k = 1..n, n the smallest trial count of any task.

    For one task with n trials and c successes pass^k is C(c, k) / C(n, k) (the chance that k
    trials drawn without replacement all succeed); the score is the mean over tasks. Empty
    input, or a task without trials, gives an empty result.
    """
    if not successes_by_task:
        return {}
    n_min = min(len(trials) for trials in successes_by_task.values())
    scores: dict[int, float] = {}
    for k in range(1, n_min + 1):
        total = sum(
            comb(sum(trials), k) / comb(len(trials), k) for trials in successes_by_task.values()
        )
        scores[k] = total / len(successes_by_task)
    return scores


def average_reward(rewards: Iterable[float]) -> float | None:
    """Mean reward over the given episodes, or None when there are none."""
    values = list(rewards)
    return sum(values) / len(values) if values else None

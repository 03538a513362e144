"""tau2 metrics: success threshold, pass^k (hand-computed values), average reward."""

from __future__ import annotations

import pytest

from fama.runs.metrics import average_reward, is_success, pass_hat_k


@pytest.mark.parametrize(
    ("reward", "success"),
    [
        (1.0, True),
        (1.0 - 1e-7, True),
        (1.0 + 1e-7, True),
        (0.999, False),
        (0.0, False),
        (None, False),
    ],
)
def test_is_success(reward: float | None, success: bool) -> None:
    assert is_success(reward) is success


def test_pass_hat_k_single_task_two_of_four() -> None:
    scores = pass_hat_k({"t": [True, False, True, False]})
    assert list(scores) == [1, 2, 3, 4]
    assert scores[1] == pytest.approx(0.5)  # C(2,1)/C(4,1) = 2/4
    assert scores[2] == pytest.approx(1 / 6)  # C(2,2)/C(4,2) = 1/6
    assert scores[3] == 0.0 and scores[4] == 0.0


def test_pass_hat_k_averages_over_tasks() -> None:
    scores = pass_hat_k(
        {
            "a": [True, True, True, True],  # 1, 1, 1, 1
            "b": [True, True, True, False],  # 3/4, 3/6, 1/4, 0
            "c": [False, False, False, False],  # 0, 0, 0, 0
        }
    )
    assert scores[1] == pytest.approx((1 + 0.75 + 0) / 3)
    assert scores[2] == pytest.approx((1 + 0.5 + 0) / 3)
    assert scores[3] == pytest.approx((1 + 0.25 + 0) / 3)
    assert scores[4] == pytest.approx(1 / 3)


def test_pass_hat_1_is_the_mean_success_rate() -> None:
    runs = {"a": [True, False, False], "b": [True, True, False]}
    assert pass_hat_k(runs)[1] == pytest.approx(3 / 6)


def test_k_stops_at_the_smallest_trial_count() -> None:
    # "b" has 3 trials: k goes to 3; "a" keeps its own n = 4 in C(c,k)/C(n,k).
    scores = pass_hat_k({"a": [True, True, False, False], "b": [True, True, True]})
    assert list(scores) == [1, 2, 3]
    assert scores[2] == pytest.approx((1 / 6 + 1) / 2)
    assert scores[3] == pytest.approx((0 + 1) / 2)


def test_pass_hat_k_empty_inputs() -> None:
    assert pass_hat_k({}) == {}
    assert pass_hat_k({"a": [True], "b": []}) == {}


def test_average_reward() -> None:
    assert average_reward([1.0, 0.0, 0.5, 1.0]) == pytest.approx(0.625)
    assert average_reward(iter([1.0])) == 1.0
    assert average_reward([]) is None

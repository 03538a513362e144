"""Regression tests for differences from the official code found by differential testing.

ACEBench ``search_orders`` / ``search_reminders`` with a non-string keyword, tau-bench v1
``calculate`` with a non-string expression, and the bounded ``calculate`` arithmetic shared
by tau2, tau-trait and tau-bench v1 (``fama.envs.tau2.common``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from fama.envs.tau2.common import MAX_INT_BITS, calculate_expression
from fama.envs.tau_trait.retail import calculate
from fama.envs.tau_trait.runtime import run_tool
from tests.test_acebench_env import env_for, run

EVAL_TYPE_ERROR = "eval() arg 1 must be a string, bytes or code object"


# --- ACEBench: the keyword is lower-cased per comparison, as upstream ------------------------


@pytest.mark.parametrize(
    ("lang", "message"), [("en", "No matching orders found"), ("zh", "没有找到匹配的订单")]
)
@pytest.mark.parametrize("keyword", [None, 5, ["1"]])
def test_search_orders_without_orders_finds_nothing(
    acebench_data_dir: Path, lang: str, message: str, keyword: Any
) -> None:
    env = env_for(acebench_data_dir, 8, lang=lang)  # no order placed yet
    assert json.loads(run(env, "search_orders", keyword=keyword)) == {
        "status": False,
        "message": message,
    }


def test_search_orders_with_an_order_raises_like_upstream(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 8)
    run(env, "turn_on_wifi")
    run(env, "login_food_platform", username="Eve", password="password123")
    items = [{"product": "Cheese Milk Tea", "quantity": 1}]
    run(env, "add_food_delivery_order", username="Eve", merchant_name="Heytea", items=items)
    assert json.loads(run(env, "search_orders", keyword="heytea"))["status"] is True
    failed = env.execute("search_orders", {"keyword": None})
    assert failed.error
    assert failed.content.endswith("'NoneType' object has no attribute 'lower'")


def test_search_reminders_without_reminders_finds_nothing(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 16, lang="zh")
    failed = env.execute("search_reminders", {"keyword": 5})  # three reminders: upstream raises
    assert failed.error and failed.content.endswith("'int' object has no attribute 'lower'")
    for reminder_id in (1, 2, 3):
        run(env, "delete_reminder", reminder_id=reminder_id)
    assert json.loads(run(env, "search_reminders", keyword=5)) == {
        "status": False,
        "message": "没有找到包含该关键词的提醒",
    }


# --- calculate with a non-string expression --------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "content"),
    [
        ({}, f"Error: {EVAL_TYPE_ERROR}"),
        ({"1": 2}, f"Error: {EVAL_TYPE_ERROR}"),
        (["1", "2"], f"Error: {EVAL_TYPE_ERROR}"),
        ({"a": 1}, "Error: invalid characters in expression"),
        ([1, 2], "Error: 'in <string>' requires string as left operand, not int"),
        (5, "Error: 'int' object is not iterable"),
        (None, "Error: 'NoneType' object is not iterable"),
    ],
)
def test_v1_calculate_non_string_answers_like_upstream(expression: Any, content: str) -> None:
    assert run_tool(calculate, {}, "calculate", {"expression": expression}).content == content


def test_tau2_calculate_non_string_raises_evals_error() -> None:
    with pytest.raises(TypeError, match=r"eval\(\) arg 1 must be a string"):
        calculate_expression({})
    with pytest.raises(ValueError, match="Invalid characters"):
        calculate_expression(["1+2"])  # not a substring of the allowed characters


# --- bounded arithmetic ----------------------------------------------------------------------


def test_a_product_of_huge_powers_fails_at_once() -> None:
    expression = "*".join(["9**31000"] * 120)  # 1,079 characters; eval: 13 s of CPU here
    start = time.process_time()
    with pytest.raises(OverflowError, match="int too large to convert to float"):
        calculate_expression(expression)
    assert time.process_time() - start < 0.5
    assert calculate({}, expression) == "Error: int too large to convert to float"


def test_bounds_keep_normal_and_large_results() -> None:
    assert calculate_expression("2 ** 99999 // 2 ** 99998") == "2.0"  # within the bound
    assert calculate_expression("(3 ** 60000 - 3 ** 60000) * 7") == "0.0"
    with pytest.raises(OverflowError):  # one bit too many (eval would give the same text)
        calculate_expression(f"2 ** {MAX_INT_BITS - 1} * 2")


def test_long_chains_evaluate_like_eval() -> None:
    assert calculate_expression("1+" * 1500 + "1") == "1501.0"  # deeper than the recursion limit
    assert calculate_expression("-" * 1501 + "1") == "-1.0"


def test_time_limit() -> None:
    with pytest.raises(TimeoutError, match="took longer than 0 s"):
        calculate_expression("1 + 1", time_limit=0.0)
    assert calculate({}, "1+" * 2000 + "1") == "2001.0"  # far inside the default limit

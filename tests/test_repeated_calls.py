"""Repeated identical failing calls: detected, recorded, signalled to FAMA, and bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

from fama.benchmarks.acebench import load_benchmark
from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts
from fama.core.context import EpisodeContext
from fama.core.repeats import failing_repeats
from fama.core.retry import RetryPolicy
from fama.graph.episode import GREETING, run_episode
from fama.helpers.base import HelperEnv
from fama.helpers.tool_suggester import run as suggest
from fama.nodes.orchestrator import detect_signals
from fama.runs.runner import EpisodeJob, agent_setup
from tests.fake_env import FakeShopEnv, make_context, tool_call
from tests.fakes import ScriptedChatModel

PIZZA = '{"name": "order_domino_super_supreme_pizza", "arguments": {"size": "L"}}'


def batch(name: str, args: dict[str, Any], *statuses: str, n: int = 0) -> list[AnyMessage]:
    call = tool_call(name, args, call_id=f"c{n}")
    results: list[AnyMessage] = [
        ToolMessage(content="x", tool_call_id=f"c{n}", name=name, status=status)  # type: ignore[arg-type]
        for status in statuses
    ]
    return [call, *results]


def test_failing_repeats_counts_identical_failing_batches() -> None:
    fail = batch("get_price", {"item_id": "kiwi"}, "error")
    assert failing_repeats([]).count == 0
    assert failing_repeats(fail).count == 1
    assert failing_repeats([*fail, *fail, *fail]).count == 3
    # text turns in between do not break the run
    chat = [AIMessage("Let me retry."), HumanMessage("ok")]
    assert failing_repeats([*fail, *chat, *fail]).count == 2
    # other arguments, a success, or a half-failed batch do
    other = batch("get_price", {"item_id": "plum"}, "error")
    assert failing_repeats([*fail, *other]).count == 1
    assert failing_repeats([*fail, *batch("get_price", {"item_id": "kiwi"}, "success")]).count == 0
    mixed = batch("get_price", {"item_id": "kiwi"}, "error", "success")
    assert failing_repeats([*fail, *mixed]).count == 0
    assert failing_repeats([*fail, *fail]).calls == 'get_price({"item_id": "kiwi"})'
    # argument order does not make a call different
    a = batch("set_price", {"item_id": "kiwi", "price": 1}, "error")
    b = batch("set_price", {"price": 1, "item_id": "kiwi"}, "error")
    assert failing_repeats([*a, *b]).count == 2


async def test_repeated_unknown_tool_written_as_text_ends_the_episode() -> None:
    """The 0.5B failure of issue 15: a made-up tool written as JSON text, again and again."""
    ctx = make_context([PIZZA] * 8, ["a pizza please"], tool_call_mode="tolerant")
    result = await run_episode(ctx)
    assert result.termination == "repeated_call"
    assert result.error_detail == (
        'the agent sent order_domino_super_supreme_pizza({"size": "L"}) 5 times in a row'
    )
    tool_results = [r for r in result.records if r["role"] == "tool"]
    assert len(tool_results) == 5
    assert tool_results[0]["content"] == "Error: Tool 'order_domino_super_supreme_pizza' not found."
    repeats = [i for i in result.agent_issues if i["kind"] == "repeated_call"]
    assert [i["detail"].rsplit(" failed ", 1)[1] for i in repeats] == [
        f"{n} times in a row" for n in (2, 3, 4, 5)
    ]
    assert all(i["node"] == "tools" for i in repeats)
    assert repeats[0]["message_index"] == 4  # the agent's second call
    assert result.records[4]["tool_calls"][0]["name"] == "order_domino_super_supreme_pizza"
    assert len(ctx.agent_model.replies) == 3  # type: ignore[attr-defined]


async def test_the_bound_is_a_context_setting() -> None:
    ctx = make_context(
        [tool_call("get_price", {"item_id": "kiwi"})] * 12,
        ["price of kiwi?"],
        max_repeated_calls=3,
    )
    result = await run_episode(ctx)
    assert (result.termination, result.tool_errors) == ("repeated_call", 3)


async def test_without_a_bound_the_error_limit_ends_it() -> None:
    ctx = make_context(
        [tool_call("get_price", {"item_id": "kiwi"})] * 12,
        ["price of kiwi?"],
        max_repeated_calls=None,
    )
    result = await run_episode(ctx)
    assert (result.termination, result.tool_errors) == ("too_many_errors", 10)
    assert sum(i["kind"] == "repeated_call" for i in result.agent_issues) == 9


async def test_a_changed_call_resets_the_count() -> None:
    kiwi = tool_call("get_price", {"item_id": "kiwi"})
    plum = tool_call("get_price", {"item_id": "plum"})
    ctx = make_context(
        [kiwi, kiwi, plum, kiwi, kiwi, "Sorry, no kiwis."],
        ["price of kiwi?", "bye ###STOP###"],
        max_repeated_calls=3,
    )
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert result.tool_errors == 5


@pytest.mark.parametrize("value", [0, 1, True, 2.5, "3"])
def test_bad_bounds_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="max_repeated_calls must be None or >= 2"):
        make_context([], max_repeated_calls=value)


# --- FAMA: the orchestrator's signal and the tool suggester's guidance --------------------


def test_repeated_call_signal_and_guidance() -> None:
    env = FakeShopEnv()
    tools = env.agent_tools()
    pizza = batch("order_pizza", {"size": "L"}, "error")
    once = [AIMessage(GREETING), HumanMessage("pizza?"), *pizza]
    twice = [*once, *pizza]
    names = [s["name"] for s in detect_signals(once, tools, env.tool_kind)]
    assert "tool_error" in names and "repeated_call" not in names
    signals = detect_signals(twice, tools, env.tool_kind)
    assert {"name": "repeated_call", "category": "wrong_retrieval", "helper": "tool_suggester"} in (
        signals
    )


async def test_tool_suggester_names_the_real_tools_and_the_repeat() -> None:
    env = FakeShopEnv()
    pizza = batch("order_pizza", {"size": "L"}, "error")
    messages = [AIMessage(GREETING), HumanMessage("pizza?"), *pizza, *pizza]
    inp: Any = {"messages": messages, "max_chars": 2000}
    helper_env = HelperEnv(
        policy=env.policy,
        tools=env.agent_tools(),
        tool_kind=env.tool_kind,
        model=None,
        retries=RetryPolicy(),
        params={"tools": 2},
    )
    update = await suggest(inp, helper_env)
    [guidance] = update["guidance"]
    text = guidance["text"]
    assert "order_pizza is not one of your tools; they are: get_price, set_price" in text
    assert 'order_pizza({"size": "L"}) failed 2 times in a row' in text


# --- ACEBench multi_step, as in the issue ---------------------------------------------------


async def test_acebench_multi_step_made_up_tool(acebench_data_dir: Path) -> None:
    loaded = load_benchmark("multi_step", BenchmarkOptions(data_dir=acebench_data_dir))
    task = loaded.tasks[3]
    agent_model = ScriptedChatModel([PIZZA] * 20)
    execute = loaded.make_executor(
        ExecutorParts(
            agent=agent_setup("fc", agent_prompt=loaded.agent_prompt),
            agent_model=agent_model,
            user_model=ScriptedChatModel([]),
            judge_model=None,
            judge_model_name="",
            retry=RetryPolicy(attempts=1),
            context_options={**loaded.loop_defaults, "tool_call_mode": "tolerant"},
        )
    )
    outcome = await execute(EpisodeJob(loaded.task_id(task), 0, 1, task=task))
    assert outcome.termination == "repeated_call"
    errors = [r["content"] for r in outcome.records if r["role"] == "tool"]
    assert len(errors) == 5
    assert errors[0].startswith(
        "Error during execution: no API named 'order_domino_super_supreme_pizza' is available; "
        "the APIs are: "
    )
    assert "add_food_delivery_order" in errors[0]
    assert len(agent_model.replies) == 15


def test_context_default_bound() -> None:
    assert EpisodeContext.__dataclass_fields__["max_repeated_calls"].default == 5

"""Bounded, linear tool-call repair: floods, deep JSON, unknown names, a responsive loop."""

from __future__ import annotations

import ast
import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from fama.core.context import EpisodeLoopState
from fama.graph.episode import GREETING
from fama.llm import tool_call_repair
from fama.llm.brackets import scan_brackets
from fama.llm.tool_call_repair import (
    MAX_CALLS,
    MAX_DEPTH,
    MAX_REJECTED,
    MAX_REPLY_CHARS,
    constrained_decision,
    recover_tool_calls,
    recover_tool_calls_async,
)
from fama.nodes.fc_agent import fc_agent_node
from fama.nodes.react_agent import ReactParseError, parse_react_output
from tests.fake_env import make_context
from tests.fakes import ScriptedChatModel

TOOLS = {"get_order_details", "cancel_pending_order"}
CORPUS = Path(__file__).parent / "data" / "small_model_outputs"
# The quadratic scan took 28 s on a 20 KB flood; the linear one takes milliseconds. The
# bound is generous for a loaded 2-core machine and still far below the old behaviour.
WALL_BOUND_S = 3.0
CALL_SHAPE = '{"name": "get_order_details", "arguments": {'

FLOODS = {
    "open-braces": "{" * 20_000,
    "open-calls": CALL_SHAPE * (20_000 // len(CALL_SHAPE)),
    "brace-pairs": "{}" * 10_000,
    "mixed": ("{ [ ' \" } ] , : " * 1_300)[:20_000],
    "huge": "{" * 200_000,
    "huge-calls": CALL_SHAPE * (200_000 // len(CALL_SHAPE)),
}
DEEP = {
    "list": "[" * 5_000 + "]" * 5_000,
    "object": '{"a":' * 5_000 + "1" + "}" * 5_000,
    "call-arguments": '{"name": "get_order_details", "arguments": '
    + '{"a":' * 5_000
    + "1"
    + "}" * 5_001,
}


def calls_of(message: AIMessage) -> list[tuple[str, dict[str, Any]]]:
    return [(tc["name"], tc["args"]) for tc in message.tool_calls]


def timed(text: str) -> tuple[Any, float]:
    started = time.perf_counter()
    result = recover_tool_calls(AIMessage(content=text), TOOLS, unknown_tools="call")
    return result, time.perf_counter() - started


# --- the bracket pass ---------------------------------------------------------------------


def spans(text: str, max_depth: int = 8) -> list[tuple[int, int | None, bool]]:
    return list(scan_brackets(text, max_depth))


def test_scan_pairs_nested_brackets_and_ignores_prose_quotes() -> None:
    text = 'I\'ll check {"a": [1, "}"]} and [x]'
    assert spans(text) == [(11, 26, False), (17, 25, False), (31, 34, False)]
    # an apostrophe inside braces but not where a string can start is not a quote
    assert spans("{it's {}}") == [(0, 9, False), (6, 8, False)]


def test_scan_unclosed_mismatched_and_abandoned_strings() -> None:
    assert spans("{ [ }") == [(0, 5, False), (2, None, False)]  # ']' missing: '[' stays open
    assert spans("] {") == [(2, None, False)]  # stray closer ignored
    # a string that never closes ends at the newline; later brackets are still paired
    assert spans("{'oops\n} {}") == [(0, 8, False), (9, 11, False)]
    assert spans('{"a\\"}"}') == [(0, 8, False)]  # escaped quote inside a string


def test_scan_marks_regions_deeper_than_the_bound() -> None:
    text = "{" + "[" * 5 + "]" * 5 + "}"
    found = spans(text, max_depth=3)
    assert [s[0] for s in found] == [0, 1, 2]  # deeper openers are not reported
    assert all(deep for _, _, deep in found) and found[0][1] == len(text)
    unclosed = spans("{" + "[" * 10, max_depth=3)
    assert [deep for _, _, deep in unclosed] == [True, True, True]
    assert spans("{[]} {}", max_depth=1) == [(0, 4, True), (5, 7, False)]


# --- floods and deep JSON: bounded time, a recorded rejection, no exception ---------------


@pytest.mark.parametrize("shape", sorted(FLOODS))
def test_brace_flood_is_handled_in_bounded_time(shape: str) -> None:
    text = FLOODS[shape]
    result, elapsed = timed(text)
    assert elapsed < WALL_BOUND_S, f"{shape}: {elapsed:.2f} s"
    assert not result.repaired
    if len(text) > MAX_REPLY_CHARS:
        assert result.rejected == [
            f"reply of {len(text)} characters not scanned for tool calls (limit {MAX_REPLY_CHARS})"
        ]
    elif shape in ("open-braces", "open-calls"):
        assert result.rejected[0].startswith(f"JSON nested deeper than {MAX_DEPTH} levels")
    assert len(result.rejected) <= MAX_REJECTED + 1


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_5000_deep_json_is_rejected_not_raised(shape: str) -> None:
    result, elapsed = timed(DEEP[shape])
    assert elapsed < WALL_BOUND_S
    assert not result.repaired
    assert len(result.rejected) == 1
    assert result.rejected[0].startswith(f"JSON nested deeper than {MAX_DEPTH} levels")


def test_a_good_call_after_a_deep_region_is_still_found() -> None:
    text = DEEP["list"] + '\n{"name": "get_order_details", "arguments": {"order_id": "#W1"}}'
    result, _ = timed(text)
    assert calls_of(result.message) == [("get_order_details", {"order_id": "#W1"})]
    assert len(result.rejected) == 1 and "nested deeper" in result.rejected[0]


def test_parse_errors_of_every_kind_become_rejections() -> None:
    huge_int = '{"name": "get_order_details", "arguments": {"n": ' + "1" * 5_000 + "}}"
    unhashable = "{{1: {}}}"  # a Python set of a dict: TypeError in literal_eval
    for text in (huge_int, unhashable):
        result, _ = timed(text)
        assert not result.repaired
    assert "malformed tool call JSON" in timed(huge_int)[0].rejected[0]


@pytest.mark.parametrize(
    "text",
    [
        "{'a': -1, 'b': [1, (2, 3)], 'c': True, 'd': None, 'e': {''}, 'f': -2.5}",
        "{'a': 1,}",
        "{**x}",
        "{'a': x}",
        "{[1]: 2}",
        "{'a': {[]}}",
        "{'a': -True}",
        "{'a': 1 + 2}",
        "{'a': " + "(" * 300 + "1" + ")" * 300 + "}",
    ],
)
def test_python_literals_read_as_literal_eval_reads_them(text: str) -> None:
    try:
        expected = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        expected = tool_call_repair._UNPARSED
    assert tool_call_repair._python_literal(text) == expected


def test_calls_per_reply_and_reasons_are_capped() -> None:
    call = '{"name": "get_order_details", "arguments": {"order_id": "#W1"}}\n'
    result, _ = timed(call * (MAX_CALLS + 3))
    assert len(result.message.tool_calls) == MAX_CALLS
    assert len(result.rejected) == 3 and "more than 16 tool calls" in result.rejected[0]
    broken = '{"name": "get_order_details", "arguments": {"order_id": #W1}}\n'
    many, _ = timed(broken * 20)
    assert len(many.rejected) == MAX_REJECTED + 1
    assert many.rejected[-1] == f"... and {20 - MAX_REJECTED} more rejected"


async def test_constrained_and_react_parsing_survive_deep_json() -> None:
    model = ScriptedChatModel([DEEP["call-arguments"]])
    reply, _, repair = await constrained_decision(model, [HumanMessage("hi")], [])
    assert not reply.tool_calls
    assert "nested deeper" in repair.rejected[0]
    assert repair.rejected[-1].startswith("reply is not a JSON action")
    with pytest.raises(ReactParseError, match="nested too deeply"):
        parse_react_output("Thought: go\nAction: " + DEEP["call-arguments"])


# --- unknown tool names in tolerant mode --------------------------------------------------


def test_unknown_name_with_arguments_becomes_a_call_only_in_call_mode() -> None:
    text = '{"name": "order_domino_super_supreme_pizza", "arguments": {"size": "L"}}'
    rejected = recover_tool_calls(AIMessage(content=text), TOOLS)
    assert not rejected.repaired and "unknown tool" in rejected.rejected[0]
    kept = recover_tool_calls(AIMessage(content=text), TOOLS, unknown_tools="call")
    assert calls_of(kept.message) == [("order_domino_super_supreme_pizza", {"size": "L"})]
    assert kept.unknown == ["order_domino_super_supreme_pizza"] and not kept.rejected
    # a bare {"name": ...} is not a call of an unknown tool (it may be data)
    bare = recover_tool_calls(AIMessage(content='{"name": "Ada"}'), TOOLS, unknown_tools="call")
    assert not bare.repaired and "unknown tool 'Ada'" in bare.rejected[0]
    # arguments must still be an object
    bad = '{"name": "nope", "arguments": "x"}'
    bad_args = recover_tool_calls(AIMessage(content=bad), TOOLS, unknown_tools="call")
    assert not bad_args.repaired and "not a JSON object" in bad_args.rejected[0]


def _corpus() -> list[dict[str, Any]]:
    lines = (CORPUS / "outputs.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_corpus_parses_the_same_in_call_mode() -> None:
    """The one made-up name of the corpus (``list_all_user_types``) has ``{""}`` as
    arguments: still rejected in call mode, for its arguments instead of its name."""
    reasons: list[str] = []
    for sample in _corpus():
        message = AIMessage(content=sample["content"])
        tools = set(sample["tools"])
        default = recover_tool_calls(message, tools)
        kept = recover_tool_calls(message, tools, unknown_tools="call")
        assert calls_of(kept.message) == calls_of(default.message), sample["id"]
        assert len(kept.rejected) == len(default.rejected) and not kept.unknown, sample["id"]
        reasons += [r for r in kept.rejected if "list_all_user_types" in r]
    assert reasons == ["arguments of 'list_all_user_types' are not a JSON object: \"{''}\""]


# --- the agent node: recorded issues, and the event loop keeps running --------------------


def state_with(text: str) -> EpisodeLoopState:
    return {"messages": [AIMessage(GREETING), HumanMessage(text)], "steps": 0, "tool_errors": 0}


@pytest.mark.parametrize("text", [FLOODS["huge"], DEEP["object"], FLOODS["open-calls"]])
async def test_tolerant_node_records_a_rejection_for_floods(text: str) -> None:
    ctx = make_context([text], tool_call_mode="tolerant")
    update = await fc_agent_node(state_with("hi"), Runtime(context=ctx))
    [issue] = update["agent_issues"]
    assert issue["kind"] == "rejected" and issue["message_index"] == 2
    assert update["messages"][0].content == text  # the text goes on as a message


async def test_event_loop_keeps_ticking_while_a_long_reply_is_repaired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # thousands of call-like regions that fail every parser: ~0.1 s of work in all
    heavy = ('{"name": x} ' * 3_000)[:MAX_REPLY_CHARS]
    assert len(heavy) <= MAX_REPLY_CHARS
    window: list[float] = []
    real = tool_call_repair.recover_tool_calls

    def recorded(*args: Any, **kwargs: Any) -> Any:
        window.append(time.perf_counter())
        try:
            return real(*args, **kwargs)
        finally:
            window.append(time.perf_counter())

    monkeypatch.setattr(tool_call_repair, "recover_tool_calls", recorded)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    result = await recover_tool_calls_async(AIMessage(content=heavy), TOOLS)
    task.cancel()
    start, end = window
    during = [t for t in ticks if start < t < end]
    assert not result.repaired
    assert len(during) >= 3, f"{len(during)} ticks in {end - start:.3f} s of repair"
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.5

"""A failing LLM helper degrades its decision, never the episode (issue 12, item 6)."""

from __future__ import annotations

import asyncio

import httpx2 as httpx
import openai
import pytest

from fama.helpers.base import HelperEnv, HelperInput, HelperUpdate, degrading
from fama.helpers.registry import GUIDANCE_HELPERS
from fama.nodes.fc_agent import render_guidance
from fama.prompts import PromptSet
from tests.test_fama_graph import (
    ASK,
    CANCEL,
    GET,
    OrderEnv,
    agent_prompts,
    config,
    context,
    run_fama,
    system_text,
)


def server_error() -> openai.InternalServerError:
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    response = httpx.Response(500, request=request, json={"error": {"message": "boom"}})
    return openai.InternalServerError("Error code: 500 - boom", response=response, body=None)


async def test_planner_down_the_decision_goes_on_without_its_advice() -> None:
    ctx = context(
        [GET, "It is pending."],
        ["What is the status of order #W7301126?", "Thanks ###STOP###"],
        helper_replies=[server_error(), server_error()],  # one attempt per user turn
    )
    result = await run_fama(ctx, "static", config("planner", "memory"))
    assert result.termination == "user_stop"
    assert [c["node"] for c in result.llm_calls] == ["agent", "agent"]
    assert "[planner]" not in "".join(system_text(p) for p in agent_prompts(ctx))
    decisions = result.extra["fama_decisions"]
    failures = [g for d in decisions for g in d["guidance"] if g.get("error")]
    assert len(failures) == len(decisions) == 2
    assert failures[0]["helper"] == "planner" and failures[0]["text"] == ""
    assert failures[0]["error"].startswith("ModelUnavailableError: model scripted (node helper:")


async def test_verifier_down_the_write_goes_ahead_and_the_failure_is_recorded() -> None:
    env = OrderEnv()
    ctx = context(
        [GET, ASK, CANCEL, "It is cancelled."],
        ["Please cancel order #W7301126.", "Yes, it is no longer needed.", "Thanks ###STOP###"],
        env=env,
        helper_replies=[server_error()],
    )
    result = await run_fama(ctx, "static", config("decision_verifier"))
    assert result.termination == "user_stop"
    assert env.cancelled == [{"order_id": "#W7301126", "reason": "no longer needed"}]
    write = [d for d in result.extra["fama_decisions"] if d["diagnosis"]["verifier_checks"]]
    assert len(write) == 1
    assert write[0]["guidance"][-1]["helper"] == "decision_verifier"
    assert "InternalServerError" in write[0]["guidance"][-1]["error"]
    assert "verifier_blocks" not in result.extra["diagnosis"]


async def test_degrading_wraps_every_guidance_helper_and_keeps_cancellation() -> None:
    async def broken(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
        raise KeyError("k")

    update = await degrading("memory", broken)({}, None)  # type: ignore[typeddict-item, arg-type]
    assert update == {"guidance": [{"helper": "memory", "text": "", "error": "KeyError: 'k'"}]}
    assert render_guidance(update["guidance"], PromptSet.defaults()) == ""
    assert all(fn.__name__ == "run" for fn in GUIDANCE_HELPERS.values())

    async def cancelled(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):  # Ctrl-C still stops the episode
        await degrading("memory", cancelled)({}, None)  # type: ignore[typeddict-item, arg-type]

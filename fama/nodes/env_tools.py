"""The tools node: runs every tool call of the agent's last message against the environment.

Calls run in order, each giving one ``ToolMessage`` (``status="error"`` for errors). Malformed
calls (``invalid_tool_calls``, arguments that are not a JSON object) and unknown tools become
error results without touching the environment's state; every error result counts in
``tool_errors``. The batch is one step, and so is the agent message that asked for it; the
official limits are checked afterwards (no tool result is pending any more).
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.runtime import Runtime

from fama.envs.base import ToolEnvironment, ToolOutput
from fama.graph.context import EpisodeContext, EpisodeLoopState

TOOLS_NODE = "tools"


def _run(env: ToolEnvironment, name: str, args: Any) -> ToolOutput:
    if not isinstance(args, dict):
        return ToolOutput(
            f"Error: the arguments of tool '{name}' must be a JSON object.", error=True
        )
    try:
        return env.execute(name, args, requestor="assistant")
    except Exception as exc:  # a broken user-supplied env must not end the episode
        return ToolOutput(f"Error: {exc}", error=True)


def _result(output: ToolOutput, call_id: str, name: str) -> ToolMessage:
    return ToolMessage(
        content=output.content,
        tool_call_id=call_id,
        name=name,
        status="error" if output.error else "success",
        additional_kwargs={"requestor": "assistant"},
    )


def execute_tool_calls(env: ToolEnvironment, message: AIMessage) -> list[ToolMessage]:
    """Results of every (valid or malformed) tool call of one agent message, in order."""
    results: list[ToolMessage] = []
    for n, call in enumerate(message.tool_calls):
        call_id = call.get("id") or f"call_{n}"
        results.append(_result(_run(env, call["name"], call["args"]), call_id, call["name"]))
    for n, bad in enumerate(message.invalid_tool_calls, start=len(results)):
        name = bad.get("name") or ""
        why = bad.get("error") or "malformed tool call"
        output = ToolOutput(
            f"Error: could not parse the call of tool '{name}': {why}. Arguments must be a "
            "JSON object.",
            error=True,
        )
        results.append(_result(output, bad.get("id") or f"call_{n}", name))
    return results


async def tools_node(state: EpisodeLoopState, runtime: Runtime[EpisodeContext]) -> dict[str, Any]:
    """Execute the agent's tool calls; count steps and errors; check the limits."""
    started = time.perf_counter()
    ctx = runtime.context
    messages = state["messages"]
    last = messages[-1]
    if not isinstance(last, AIMessage):
        raise TypeError(f"tools node reached after a {type(last).__name__}, not an AIMessage")
    results = execute_tool_calls(ctx.env, last)
    new_agent_messages = len(messages) - state.get("messages_counted", len(messages))
    steps = state.get("steps", 0) + new_agent_messages + 1
    errors = state.get("tool_errors", 0) + sum(r.status == "error" for r in results)
    update: dict[str, Any] = {
        "messages": results,
        "steps": steps,
        "tool_errors": errors,
        "messages_counted": len(messages) + len(results),
        "node_timings": [
            {"node": TOOLS_NODE, "latency_ms": (time.perf_counter() - started) * 1000.0}
        ],
    }
    termination = ctx.limit_reached(steps, errors)
    if termination is not None:
        update["termination"] = termination
    return update

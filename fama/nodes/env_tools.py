"""The tool nodes: run the agent's (``tools``) or the user's (``user_tools``) tool calls.

Calls run in order, each giving one ``ToolMessage`` (``status="error"`` for errors, the
``requestor`` in ``additional_kwargs``). Malformed calls (``invalid_tool_calls``, arguments
that are not a JSON object) and unknown tools become error results without touching the
environment's state; every error result counts in ``tool_errors``. The batch is one step, and
so is the message that asked for it; the limits are checked afterwards (no tool result is
pending any more).

An environment with ``execute_batch(calls, requestor) -> list[ToolOutput]`` runs all the
valid calls of one agent message at once (ACEBench stops a batch at its first error); others
get one ``execute`` per call. After a batch that called one of ``ctx.terminal_tools`` the
episode ends as ``agent_stop``. An agent batch repeating the previous failing calls is recorded
as a ``repeated_call`` agent issue; after ``ctx.max_repeated_calls`` such batches in a row the
episode ends as ``repeated_call`` (``fama.core.repeats``). User tool calls (dual control, see
``fama.core.views``) run with ``requestor="user"`` and their results go back to the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.runtime import Runtime

from fama.core.context import AgentIssue, EpisodeContext, EpisodeLoopState
from fama.core.env import ToolEnvironment, ToolOutput
from fama.core.repeats import Repeats, failing_repeats
from fama.core.state import Termination
from fama.core.steps import agent_turns, count_steps
from fama.core.views import user_tool_calls

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

TOOLS_NODE = "tools"
USER_TOOLS_NODE = "user_tools"

BatchExecutor = Callable[[list[tuple[str, dict[str, Any]]], str], list[ToolOutput]]


def env_user_tools(env: ToolEnvironment) -> list[BaseTool]:
    """The simulated user's tools of an environment (none when it has no ``user_tools``)."""
    user_tools = getattr(env, "user_tools", None)
    return list(user_tools()) if callable(user_tools) else []


def _not_an_object(name: str) -> ToolOutput:
    return ToolOutput(f"Error: the arguments of tool '{name}' must be a JSON object.", error=True)


def _run(env: ToolEnvironment, name: str, args: Any, requestor: str) -> ToolOutput:
    if not isinstance(args, dict):
        return _not_an_object(name)
    try:
        return env.execute(name, args, requestor=requestor)
    except Exception as exc:  # a broken user-supplied env must not end the episode
        return ToolOutput(f"Error: {exc}", error=True)


def _run_batch(
    execute_batch: BatchExecutor, calls: Sequence[Mapping[str, Any]], requestor: str
) -> list[ToolOutput]:
    """Outputs of ``calls`` in order: the well-formed ones go to the env as one batch."""
    valid = [(c["name"], c["args"]) for c in calls if isinstance(c["args"], dict)]
    try:
        outputs = list(execute_batch(valid, requestor)) if valid else []
    except Exception as exc:  # a broken user-supplied env must not end the episode
        outputs = [ToolOutput(f"Error: {exc}", error=True)] * len(valid)
    if len(outputs) != len(valid):
        raise ValueError(
            f"execute_batch returned {len(outputs)} outputs for {len(valid)} tool calls"
        )
    ran = iter(outputs)
    return [next(ran) if isinstance(c["args"], dict) else _not_an_object(c["name"]) for c in calls]


def _outputs(
    env: ToolEnvironment, calls: Sequence[Mapping[str, Any]], requestor: str
) -> list[ToolOutput]:
    execute_batch = getattr(env, "execute_batch", None)
    if requestor == "assistant" and callable(execute_batch):
        return _run_batch(execute_batch, calls, requestor)
    return [_run(env, c["name"], c["args"], requestor) for c in calls]


def _result(output: ToolOutput, call_id: str, name: str, requestor: str) -> ToolMessage:
    return ToolMessage(
        content=output.content,
        tool_call_id=call_id,
        name=name,
        status="error" if output.error else "success",
        additional_kwargs={"requestor": requestor},
    )


def _results(
    env: ToolEnvironment, calls: Sequence[Mapping[str, Any]], requestor: str
) -> list[ToolMessage]:
    outputs = _outputs(env, calls, requestor)
    return [
        _result(output, call.get("id") or f"call_{n}", call["name"], requestor)
        for n, (call, output) in enumerate(zip(calls, outputs, strict=True))
    ]


def execute_tool_calls(env: ToolEnvironment, message: AIMessage) -> list[ToolMessage]:
    """Results of every (valid or malformed) tool call of one agent message, in order."""
    results = _results(env, message.tool_calls, "assistant")
    for n, bad in enumerate(message.invalid_tool_calls, start=len(results)):
        name = bad.get("name") or ""
        why = bad.get("error") or "malformed tool call"
        output = ToolOutput(
            f"Error: could not parse the call of tool '{name}': {why}. Arguments must be a "
            "JSON object.",
            error=True,
        )
        results.append(_result(output, bad.get("id") or f"call_{n}", name, "assistant"))
    return results


def execute_user_tool_calls(
    env: ToolEnvironment, calls: Sequence[Mapping[str, Any]]
) -> list[ToolMessage]:
    """Results of the user's tool calls (``requestor="user"``), in order."""
    return _results(env, calls, "user")


def _timing(node: str, started: float) -> list[dict[str, Any]]:
    return [{"node": node, "latency_ms": (time.perf_counter() - started) * 1000.0}]


def _batch_update(
    state: EpisodeLoopState, results: list[ToolMessage], node: str, started: float
) -> dict[str, Any]:
    """The results and the error count after one result batch (one more step)."""
    return {
        "messages": results,
        "tool_errors": state.get("tool_errors", 0) + sum(r.status == "error" for r in results),
        "node_timings": _timing(node, started),
    }


def _agent_batch_end(
    ctx: EpisodeContext,
    state: EpisodeLoopState,
    message: AIMessage,
    update: dict[str, Any],
    repeats: int,
) -> Termination | None:
    """The end condition after an agent tool batch: limits, repeated failing calls, terminal
    tools, agent turns."""
    termination = ctx.limit_reached(count_steps(state) + 1, update["tool_errors"])
    if termination is None and ctx.repeats_exhausted(repeats):
        termination = "repeated_call"
    if termination is None and any(c["name"] in ctx.terminal_tools for c in message.tool_calls):
        termination = "agent_stop"
    if termination is None and ctx.agent_turns_exhausted(agent_turns(state)):
        termination = "max_steps"
    return termination


async def tools_node(state: EpisodeLoopState, runtime: Runtime[EpisodeContext]) -> dict[str, Any]:
    """Execute the agent's tool calls; count steps and errors; check the end conditions."""
    started = time.perf_counter()
    ctx = runtime.context
    last = state["messages"][-1]
    if not isinstance(last, AIMessage):
        raise TypeError(f"tools node reached after a {type(last).__name__}, not an AIMessage")
    results = execute_tool_calls(ctx.env, last)
    update = _batch_update(state, results, TOOLS_NODE, started)
    repeats = failing_repeats([*state["messages"], *results])
    if repeats.count >= 2:
        update["agent_issues"] = [_repeat_issue(state, repeats)]
    termination = _agent_batch_end(ctx, state, last, update, repeats.count)
    if termination is not None:
        update["termination"] = termination
    if termination == "repeated_call":
        update["error_detail"] = f"the agent sent {repeats.calls} {repeats.count} times in a row"
    return update


def refuse_tool_calls(
    ctx: EpisodeContext, state: EpisodeLoopState, message: AIMessage, reason: str
) -> dict[str, Any]:
    """The update of a tool batch that is refused, not run: one error result per call of
    ``message`` saying ``reason`` (a step and errors like any batch; the limits and repeated
    failing batches are checked, terminal tools are not: nothing ran)."""
    started = time.perf_counter()
    calls = [*message.tool_calls, *message.invalid_tool_calls]
    results = [
        _result(
            ToolOutput(reason, error=True),
            c.get("id") or f"call_{n}",
            c.get("name") or "",
            "assistant",
        )
        for n, c in enumerate(calls)
    ]
    update = _batch_update(state, results, TOOLS_NODE, started)
    repeats = failing_repeats([*state["messages"], *results])
    if repeats.count >= 2:
        update["agent_issues"] = [_repeat_issue(state, repeats)]
    termination = ctx.limit_reached(count_steps(state) + 1, update["tool_errors"])
    if termination is None and ctx.repeats_exhausted(repeats.count):
        termination = "repeated_call"
    if termination is None and ctx.agent_turns_exhausted(agent_turns(state)):
        termination = "max_steps"
    if termination is not None:
        update["termination"] = termination
    return update


def _repeat_issue(state: EpisodeLoopState, repeats: Repeats) -> AgentIssue:
    """The agent issue of a repeated failing batch (it belongs to the agent's message)."""
    return {
        "node": TOOLS_NODE,
        "kind": "repeated_call",
        "detail": f"{repeats.calls} failed {repeats.count} times in a row",
        "message_index": len(state["messages"]) - 1,
    }


async def user_tools_node(
    state: EpisodeLoopState, runtime: Runtime[EpisodeContext]
) -> dict[str, Any]:
    """Execute the user's tool calls; count steps and errors; check the limits."""
    started = time.perf_counter()
    ctx = runtime.context
    last: AnyMessage = state["messages"][-1]
    calls = user_tool_calls(last)
    if not calls:
        raise TypeError(f"user_tools node reached after a {type(last).__name__} without tool calls")
    update = _batch_update(state, execute_user_tool_calls(ctx.env, calls), USER_TOOLS_NODE, started)
    termination = ctx.limit_reached(count_steps(state) + 1, update["tool_errors"])
    if termination is not None:
        update["termination"] = termination
    return update

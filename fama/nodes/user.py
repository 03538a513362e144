"""The episode loop's ``user`` node: counts the agent's turn, checks limits, asks the simulator."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.runtime import Runtime

from fama.core.context import EpisodeContext, EpisodeLoopState
from fama.core.state import Termination
from fama.core.steps import agent_turns, count_steps
from fama.core.trajectory import to_records
from fama.core.views import is_user_tool_call

USER_NODE = "user"


def _agent_stop(ctx: EpisodeContext, messages: Sequence[AnyMessage], start: int) -> bool:
    """True when the agent's new text message contains one of its stop phrases."""
    last = messages[-1]
    return (
        len(messages) > start
        and isinstance(last, AIMessage)
        and not last.tool_calls
        and ctx.is_agent_stop(last.text)
    )


def _after_reply(
    ctx: EpisodeContext, reply: HumanMessage, steps: int, errors: int, turns: int
) -> Termination | None:
    """The end condition after a user reply (none while its own tool results are pending)."""
    if is_user_tool_call(reply):
        return None
    termination = ctx.limit_reached(steps, errors)
    if termination is None and ctx.is_user_stop(reply.text):
        termination = "user_stop"
    if termination is None and ctx.agent_turns_exhausted(turns):
        termination = "max_steps"
    return termination


async def user_node(state: EpisodeLoopState, runtime: Runtime[EpisodeContext]) -> dict[str, Any]:
    """The user's turn: check the limits, then get the reply and check them again.

    Reached after an agent text message, after the user's own tool results, or at the
    start. The limits are checked before the simulator is asked (nothing is pending), then
    an agent stop phrase ends the episode without asking; after a text reply the limits are
    checked again, and a limit reached on that step wins over a stop token, as upstream.
    """
    started = time.perf_counter()
    ctx = runtime.context
    messages = state["messages"]
    steps = count_steps(state)
    turns = agent_turns(state)
    errors = state.get("tool_errors", 0)
    update: dict[str, Any] = {}
    termination: Termination | None = ctx.limit_reached(steps, errors)
    if termination is None and _agent_stop(ctx, messages, state.get("episode_start", 0)):
        termination = "agent_stop"
    if termination is None:
        reply, calls = await ctx.user.respond(to_records(messages))
        termination = _after_reply(ctx, reply, steps + 1, errors, turns)
        update.update(messages=[reply], llm_calls=calls)
    if termination is not None:
        update["termination"] = termination
    update["node_timings"] = [
        {"node": USER_NODE, "latency_ms": (time.perf_counter() - started) * 1000.0}
    ]
    return update

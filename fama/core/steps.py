"""The one place steps are counted: derived from the trajectory, never kept in a counter.

Spec section 7: every agent message, user message and tool result batch is one step; an
unusable agent reply (kept out of the trajectory, recorded as an ``agent_issues`` entry of
kind ``empty_reply``, ``unparseable`` or ``truncated``) is one step too. The messages the
episode started with (the greeting or a given history, ``episode_start`` of them) are not
steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

UNUSABLE_REPLIES: frozenset[str] = frozenset({"empty_reply", "unparseable", "truncated"})


def episode_messages(state: Any) -> Sequence[BaseMessage]:
    """The messages added since the episode started."""
    messages: Sequence[BaseMessage] = state["messages"]
    return messages[state.get("episode_start", 0) :]


def unusable_replies(state: Any) -> int:
    """Agent replies that were unusable (each one step and one error)."""
    return sum(i["kind"] in UNUSABLE_REPLIES for i in state.get("agent_issues") or ())


def count_steps(state: Any) -> int:
    """Steps taken so far: new non-tool messages, tool result batches, unusable replies."""
    steps = 0
    in_batch = False
    for message in episode_messages(state):
        is_result = isinstance(message, ToolMessage)
        if not is_result or not in_batch:
            steps += 1
        in_batch = is_result
    return steps + unusable_replies(state)


def agent_turns(state: Any) -> int:
    """Messages the agent wrote since the episode started (its turns)."""
    return sum(isinstance(m, AIMessage) for m in episode_messages(state))

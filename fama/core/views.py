"""Who sees what of the trajectory: the user's own tool use is hidden from the agent.

In dual-control domains (tau2 telecom) the simulated user has tools too. In the graph state a
user tool-call message is a ``HumanMessage`` whose ``additional_kwargs["tool_calls"]`` holds
``{"id", "name", "args"}`` dicts, and each of its results is a ``ToolMessage`` with
``additional_kwargs["requestor"] == "user"``. The agent never sees either (as upstream: a
message with text and tool calls is a tool call, its text is not shown to the other party),
so every agent and helper prompt is built from ``agent_view(messages)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage

TOOL_CALLS_KEY = "tool_calls"
REQUESTOR_KEY = "requestor"


def user_tool_calls(message: BaseMessage) -> list[dict[str, Any]]:
    """The tool calls of a user message (``[]`` for any other message or a text message)."""
    if not isinstance(message, HumanMessage):
        return []
    calls = message.additional_kwargs.get(TOOL_CALLS_KEY)
    return list(calls) if isinstance(calls, list) else []


def is_user_tool_call(message: BaseMessage) -> bool:
    """True for a user message carrying tool calls."""
    return bool(user_tool_calls(message))


def is_user_tool_result(message: BaseMessage) -> bool:
    """True for the result of one of the user's tool calls."""
    return (
        isinstance(message, ToolMessage) and message.additional_kwargs.get(REQUESTOR_KEY) == "user"
    )


def user_tool_call_message(content: str, calls: Sequence[Mapping[str, Any]]) -> HumanMessage:
    """A user message with tool calls (each with ``id``, ``name`` and ``args``)."""
    normalised = [{"id": c["id"], "name": c["name"], "args": c["args"]} for c in calls]
    if not normalised:
        return HumanMessage(content=content)
    return HumanMessage(content=content, additional_kwargs={TOOL_CALLS_KEY: normalised})


def agent_view(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The trajectory as the agent sees it: without the user's tool calls and their results."""
    return [m for m in messages if not (is_user_tool_call(m) or is_user_tool_result(m))]


def count_agent_messages(messages: Sequence[BaseMessage]) -> int:
    """How many of ``messages`` the agent wrote (its turns)."""
    return sum(isinstance(m, AIMessage) for m in messages)

"""The stored form of a conversation: plain JSON records, convertible to and from LangChain.

Inside graphs the trajectory is a list of LangChain messages: ``AIMessage`` = the agent,
``HumanMessage`` = the (simulated) user, ``ToolMessage`` = a tool result. A user's own tool
calls (dual control, see ``fama.core.views``) are stored as a user record with
``tool_calls`` and their results as tool records with ``requestor: "user"``. Records are what
the run store, the evaluator, the analysts and the viewer read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from typing_extensions import TypedDict

from fama.core.views import user_tool_call_message, user_tool_calls

Role = Literal["system", "assistant", "user", "tool"]


class ToolCallRecord(TypedDict):
    """One tool call as the model made it."""

    id: str
    name: str
    arguments: dict[str, Any]


class InvalidToolCallRecord(TypedDict):
    """A tool call the model wrote but that could not be parsed (raw argument text kept)."""

    id: str
    name: str
    arguments: str
    error: str


class MessageRecord(TypedDict):
    """One message of a trajectory."""

    role: Role
    content: str
    tool_calls: NotRequired[list[ToolCallRecord]]
    invalid_tool_calls: NotRequired[list[InvalidToolCallRecord]]
    tool_call_id: NotRequired[str]
    requestor: NotRequired[Literal["assistant", "user"]]
    error: NotRequired[bool]
    name: NotRequired[str]


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def _call_record(call: Mapping[str, Any]) -> ToolCallRecord:
    """The record of one tool call (arguments that are not an object are kept as they are)."""
    args = call.get("args")
    arguments: Any = dict(args) if isinstance(args, dict) else args
    return {"id": call.get("id") or "", "name": call.get("name") or "", "arguments": arguments}


def to_record(message: BaseMessage) -> MessageRecord:
    """Convert one LangChain message into its stored record."""
    if isinstance(message, AIMessage):
        record: MessageRecord = {"role": "assistant", "content": _text(message)}
        if message.tool_calls:
            record["tool_calls"] = [_call_record(tc) for tc in message.tool_calls]
        if message.invalid_tool_calls:
            record["invalid_tool_calls"] = [
                {
                    "id": tc.get("id") or "",
                    "name": tc.get("name") or "",
                    "arguments": tc.get("args") or "",
                    "error": tc.get("error") or "",
                }
                for tc in message.invalid_tool_calls
            ]
        return record
    if isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "content": _text(message),
            "tool_call_id": message.tool_call_id,
            "name": message.name or "",
            "requestor": message.additional_kwargs.get("requestor", "assistant"),
            "error": message.status == "error",
        }
    if isinstance(message, HumanMessage):
        user: MessageRecord = {"role": "user", "content": _text(message)}
        calls = user_tool_calls(message)
        if calls:
            user["tool_calls"] = [_call_record(c) for c in calls]
        return user
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text(message)}
    raise TypeError(f"cannot store message of type {type(message).__name__}")


def to_records(messages: list[AnyMessage] | list[BaseMessage]) -> list[MessageRecord]:
    """Convert a LangChain message list into records."""
    return [to_record(m) for m in messages]


def from_record(record: MessageRecord) -> BaseMessage:
    """Rebuild the LangChain message of a record."""
    role = record["role"]
    if role == "assistant":
        calls = [
            {"id": tc["id"], "name": tc["name"], "args": tc["arguments"], "type": "tool_call"}
            for tc in record.get("tool_calls", [])
        ]
        invalid = [
            {
                "id": tc["id"],
                "name": tc["name"],
                "args": tc["arguments"],
                "error": tc["error"],
                "type": "invalid_tool_call",
            }
            for tc in record.get("invalid_tool_calls", [])
        ]
        return AIMessage(content=record["content"], tool_calls=calls, invalid_tool_calls=invalid)
    if role == "tool":
        return ToolMessage(
            content=record["content"],
            tool_call_id=record.get("tool_call_id", ""),
            name=record.get("name") or None,
            status="error" if record.get("error") else "success",
            additional_kwargs={"requestor": record.get("requestor", "assistant")},
        )
    if role == "user":
        calls = [
            {"id": tc["id"], "name": tc["name"], "args": tc["arguments"]}
            for tc in record.get("tool_calls", [])
        ]
        return user_tool_call_message(record["content"], calls)
    return SystemMessage(content=record["content"])

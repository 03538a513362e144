"""Logged messages to LangChain messages: OpenAI chat-completions dicts and LangChain dicts.

* OpenAI: ``{"role": "system"|"developer"|"user"|"assistant"|"tool", "content": ...,
  "tool_calls": [{"id", "type": "function", "function": {"name", "arguments": "<json>"}}],
  "tool_call_id"}``; arguments that are not a JSON object are kept as an invalid call.
* LangChain: ``message.model_dump()`` (``{"type": "ai", "content": ..., "tool_calls": ...}``),
  ``messages_to_dict`` (``{"type": "ai", "data": {...}}``) or the ``dumpd`` form LangSmith
  stores (``{"lc": 1, "type": "constructor", "id": [..., "AIMessage"], "kwargs": {...}}``).

Every problem is a ``MessageError`` with a one-line reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import ValidationError

OPENAI_ROLES: dict[str, type[BaseMessage]] = {
    "system": SystemMessage,
    "developer": SystemMessage,
    "user": HumanMessage,
    "assistant": AIMessage,
    "tool": ToolMessage,
}
LANGCHAIN_TYPES: dict[str, type[BaseMessage]] = {
    "system": SystemMessage,
    "human": HumanMessage,
    "ai": AIMessage,
    "AIMessageChunk": AIMessage,
    "tool": ToolMessage,
}
_CLASS_TYPES = {
    "SystemMessage": "system",
    "HumanMessage": "human",
    "AIMessage": "ai",
    "AIMessageChunk": "ai",
    "ToolMessage": "tool",
}


class MessageError(ValueError):
    """A logged message that cannot be read."""


def _content(value: Any) -> str | list[Any]:
    if value is None:
        return ""
    if isinstance(value, str | list):
        return value
    raise MessageError(f"content must be text or a list of parts, got {type(value).__name__}")


def _openai_calls(calls: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Valid and invalid LangChain tool calls of an OpenAI ``tool_calls`` list."""
    if not isinstance(calls, list):
        raise MessageError("tool_calls must be a list")
    valid: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for n, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise MessageError(f"tool call {n} has no function name")
        call_id = str(call.get("id") or f"call_{n}")
        raw = function.get("arguments", "{}")
        error: str | None = None
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            args, error = None, f"arguments are not JSON ({exc.msg})"
        if error is None and not isinstance(args, dict):
            error = "arguments are not a JSON object"
        if error is None:
            valid.append(
                {"id": call_id, "name": function["name"], "args": args, "type": "tool_call"}
            )
        else:
            text = raw if isinstance(raw, str) else json.dumps(raw)
            invalid.append({"id": call_id, "name": function["name"], "args": text, "error": error})
    return valid, invalid


def from_openai(message: Any) -> BaseMessage:
    """One OpenAI chat-completions message as a LangChain message."""
    if not isinstance(message, Mapping):
        raise MessageError(f"a message must be an object, got {type(message).__name__}")
    role = message.get("role")
    if role not in OPENAI_ROLES:
        raise MessageError(f"unknown role {role!r} (expected one of {', '.join(OPENAI_ROLES)})")
    content = _content(message.get("content"))
    if role == "assistant":
        valid, invalid = _openai_calls(message.get("tool_calls") or [])
        return AIMessage(content=content, tool_calls=valid, invalid_tool_calls=invalid)
    if role == "tool":
        if not message.get("tool_call_id"):
            raise MessageError("a tool message needs tool_call_id")
        return ToolMessage(
            content=content, tool_call_id=str(message["tool_call_id"]), name=message.get("name")
        )
    return OPENAI_ROLES[role](content=content)


def from_langchain(message: Any) -> BaseMessage:
    """One LangChain message dict (any of the three dumped forms) as a message."""
    if not isinstance(message, Mapping):
        raise MessageError(f"a message must be an object, got {type(message).__name__}")
    if message.get("lc") == 1 and isinstance(message.get("id"), list):
        kind = _CLASS_TYPES.get(str(message["id"][-1]))
        if kind is None:
            raise MessageError(f"unknown message class {message['id'][-1]!r}")
        fields = dict(message.get("kwargs") or {})
    elif isinstance(message.get("data"), Mapping):
        kind, fields = str(message.get("type")), dict(message["data"])
    else:
        kind, fields = str(message.get("type")), dict(message)
    cls = LANGCHAIN_TYPES.get(kind)
    if cls is None:
        raise MessageError(
            f"unknown message type {kind!r} (expected one of system, human, ai, tool)"
        )
    fields.pop("type", None)
    try:
        return cls(**fields)
    except (ValidationError, TypeError) as exc:
        raise MessageError(f"bad {kind} message: {str(exc).splitlines()[0]}") from None

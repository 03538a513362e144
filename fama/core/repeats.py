"""Repeated failing tool calls: the agent sending the same call that failed, again and again.

A tool batch is one agent message's tool calls (valid and malformed) with the tool results
right after it. It *fails* when every result is an error. ``failing_repeats`` counts how many
of the agent's latest tool batches, back from the newest, are the same calls (names and
arguments, in order) and failed; agent text messages in between do not break the run, a
different or successful batch does. The episode loop ends an episode when the count reaches
``EpisodeContext.max_repeated_calls``; FAMA's orchestrator reads it as the ``repeated_call``
risk signal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

_MAX_CALL_TEXT = 160


@dataclass(frozen=True, slots=True)
class Repeats:
    """How often the latest failing batch was sent in a row (0: the latest batch did not
    fail, or there is none), and that batch as text (``name({...})``)."""

    count: int
    calls: str


def batch_key(message: AIMessage) -> str:
    """The calls of an agent message (names and arguments, in order) as one string."""
    calls: list[tuple[str, Any]] = [(c["name"], c["args"]) for c in message.tool_calls]
    calls += [(c.get("name") or "", c.get("args") or "") for c in message.invalid_tool_calls]
    return json.dumps(calls, sort_keys=True, ensure_ascii=False, default=str)


def _calls_text(message: AIMessage) -> str:
    parts = [
        f"{c['name']}({json.dumps(c['args'], ensure_ascii=False, default=str)})"
        for c in message.tool_calls
    ]
    parts += [f"{c.get('name') or '?'}({c.get('args') or ''})" for c in message.invalid_tool_calls]
    text = ", ".join(parts)
    return text if len(text) <= _MAX_CALL_TEXT else f"{text[:_MAX_CALL_TEXT]}..."


def _batches(messages: Sequence[BaseMessage]) -> Iterator[tuple[AIMessage, bool]]:
    """The agent's tool batches, newest first, each with whether it failed."""
    results: list[ToolMessage] = []  # the tool results after the message being looked at
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            results.append(message)
            continue
        if isinstance(message, AIMessage) and (message.tool_calls or message.invalid_tool_calls):
            yield message, bool(results) and all(r.status == "error" for r in results)
        results = []


def failing_repeats(messages: Sequence[BaseMessage]) -> Repeats:
    """How many times in a row (newest first) the latest tool batch was sent and failed."""
    latest: AIMessage | None = None
    key = ""
    count = 0
    for message, failed in _batches(messages):
        if not failed:
            break
        if latest is None:
            latest, key = message, batch_key(message)
        elif batch_key(message) != key:
            break
        count += 1
    return Repeats(count, "" if latest is None else _calls_text(latest))

"""Logged conversations in three formats, read into one shape (``Conversation``).

``openai`` and ``langchain``: JSONL, one conversation a line::

    {"id": "conv-17", "messages": [...], "outcome": "failure", "reason": "refunded twice",
     "policy": "...", "tools": [<OpenAI tool schemas>], "split": "train", "domain": "billing"}

``messages`` are OpenAI chat-completions messages or LangChain message dicts
(``fama.runs.imported.messages``); ``outcome`` is ``success`` / ``failure`` or an object
``{"label": ..., "reason": ...}``; the other keys are optional (``split`` defaults to
``train``, ``domain`` to ``imported``, ``policy`` to the first system message).

``langsmith-export``: LangSmith runs (JSONL, or one JSON array) as ``Client.list_runs``
gives them. Root runs only; the runs of one thread (``extra.metadata.thread_id``) are one
conversation, read from the latest run's ``outputs.messages`` (else its inputs and
outputs). The label comes from ``extra.metadata.outcome`` (and ``outcome_reason``), else
from the feedback named by ``feedback_key`` (average score >= 0.5 is a success), else a
run ``error`` makes it a failure.

A record that cannot be read gives a ``RecordError`` naming its line (or position); the
others are read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage, SystemMessage

from fama.runs.imported import Format
from fama.runs.imported.messages import MessageError, from_langchain, from_openai

DEFAULT_SPLIT = "train"
DEFAULT_DOMAIN = "imported"
SUCCESS_SCORE = 0.5


class RecordError(ValueError):
    """One unreadable record: ``str()`` is ``line N: reason``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


@dataclass
class Conversation:
    """One logged conversation with its outcome label."""

    id: str
    messages: list[BaseMessage]
    success: bool
    reason: str | None = None
    policy: str | None = None
    tools: list[dict[str, Any]] | None = None
    split: str = DEFAULT_SPLIT
    domain: str = DEFAULT_DOMAIN
    model: str | None = None
    source: str = ""  # where in the file it came from, e.g. "line 3"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadResult:
    """The conversations read and the one-line errors of the records that were not."""

    conversations: list[Conversation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _label(value: Any) -> tuple[bool, str | None]:
    reason = None
    if isinstance(value, Mapping):
        value, reason = value.get("label"), value.get("reason")
    if not isinstance(value, str) or value.lower() not in ("success", "failure"):
        raise MessageError(f"outcome must be 'success' or 'failure', got {value!r}")
    return value.lower() == "success", None if reason is None else str(reason)


def _first_system(messages: Sequence[BaseMessage]) -> str | None:
    return next((m.text for m in messages if isinstance(m, SystemMessage)), None)


def _tools(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
        raise MessageError("tools must be a list of tool schemas (objects)")
    return [dict(t) for t in value]


def _text_field(record: Mapping[str, Any], key: str, default: str | None) -> str | None:
    value = record.get(key, default)
    if value is not None and not isinstance(value, str):
        raise MessageError(f"{key} must be text, got {type(value).__name__}")
    return value


def convert_all(raw: Sequence[Any], convert: Callable[[Any], BaseMessage]) -> list[BaseMessage]:
    """Every message converted; the first bad one is an error naming its position."""
    messages = []
    for n, message in enumerate(raw):
        try:
            messages.append(convert(message))
        except MessageError as exc:
            raise MessageError(f"message {n}: {exc}") from None
    return messages


def conversation_from_line(
    record: Any, convert: Callable[[Any], BaseMessage], source: str
) -> Conversation:
    """An ``openai`` / ``langchain`` JSONL record as a conversation."""
    if not isinstance(record, Mapping):
        raise MessageError("a line must be a JSON object")
    raw = record.get("messages")
    if not isinstance(raw, list) or not raw:
        raise MessageError("messages must be a non-empty list")
    messages = convert_all(raw, convert)
    if "outcome" not in record:
        raise MessageError("no outcome label ('success' or 'failure')")
    success, reason = _label(record["outcome"])
    known = {"id", "messages", "outcome", "reason", "policy", "tools", "split", "domain", "model"}
    return Conversation(
        id=str(record.get("id") or source.replace(" ", "-")),
        messages=messages,
        success=success,
        reason=reason or _text_field(record, "reason", None),
        policy=_text_field(record, "policy", None) or _first_system(messages),
        tools=_tools(record.get("tools")),
        split=_text_field(record, "split", DEFAULT_SPLIT) or DEFAULT_SPLIT,
        domain=_text_field(record, "domain", DEFAULT_DOMAIN) or DEFAULT_DOMAIN,
        model=_text_field(record, "model", None),
        source=source,
        extra={k: v for k, v in record.items() if k not in known},
    )


def _json_records(text: str) -> Iterator[tuple[str, Any]]:
    """``(where, parsed or RecordError)`` for a JSON array, or for each non-blank line."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            yield f"line {exc.lineno}", RecordError(f"line {exc.lineno}", f"not JSON ({exc.msg})")
            return
        for n, item in enumerate(items, start=1):
            yield f"record {n}", item
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"line {number}", RecordError(f"line {number}", f"not JSON ({exc.msg})")


def read_lines(text: str, fmt: Format, feedback_key: str = "outcome") -> ReadResult:
    """Every conversation of a file's text in format ``fmt``; unreadable records are listed."""
    if fmt == "langsmith-export":
        return read_langsmith(_json_records(text), feedback_key)
    convert = from_openai if fmt == "openai" else from_langchain
    result = ReadResult()
    seen: dict[str, str] = {}
    for where, record in _json_records(text):
        if isinstance(record, RecordError):
            result.errors.append(str(record))
            continue
        try:
            conversation = conversation_from_line(record, convert, where)
        except MessageError as exc:
            result.errors.append(str(RecordError(where, str(exc))))
            continue
        if conversation.id in seen:
            result.errors.append(
                str(
                    RecordError(
                        where, f"duplicate id {conversation.id!r} ({seen[conversation.id]})"
                    )
                )
            )
            continue
        seen[conversation.id] = where
        result.conversations.append(conversation)
    return result


# ------------------------------------------------------------------------------- LangSmith


def _metadata(run: Mapping[str, Any]) -> Mapping[str, Any]:
    extra = run.get("extra") or {}
    metadata = extra.get("metadata") if isinstance(extra, Mapping) else None
    return metadata if isinstance(metadata, Mapping) else {}


def _run_label(run: Mapping[str, Any], feedback_key: str) -> tuple[bool, str | None]:
    metadata = _metadata(run)
    if "outcome" in metadata:
        success, _ = _label(metadata["outcome"])
        reason = metadata.get("outcome_reason")
        return success, None if reason is None else str(reason)
    stats = run.get("feedback_stats") or {}
    score = stats.get(feedback_key) if isinstance(stats, Mapping) else None
    if isinstance(score, Mapping) and isinstance(score.get("avg"), int | float):
        success = score["avg"] >= SUCCESS_SCORE
        return success, None if success else f"feedback {feedback_key} = {score['avg']}"
    if run.get("error"):
        return False, str(run["error"]).strip().splitlines()[0]
    raise MessageError(
        f"no outcome label (extra.metadata.outcome, feedback {feedback_key!r} or an error)"
    )


def _run_messages(run: Mapping[str, Any]) -> list[BaseMessage]:
    outputs = run.get("outputs") or {}
    inputs = run.get("inputs") or {}
    if isinstance(outputs, Mapping) and isinstance(outputs.get("messages"), list):
        raw = list(outputs["messages"])
    elif isinstance(inputs, Mapping) and isinstance(inputs.get("messages"), list):
        raw = list(inputs["messages"])
        reply = outputs.get("output") if isinstance(outputs, Mapping) else None
        if isinstance(reply, Mapping):
            raw.append(reply)
    else:
        raise MessageError("no messages in outputs.messages or inputs.messages")
    messages = convert_all(raw, _any_message)
    if not messages:
        raise MessageError("the run holds no messages")
    return messages


def _any_message(message: Any) -> BaseMessage:
    """LangSmith keeps LangChain messages (any dumped form) or OpenAI dicts."""
    if isinstance(message, Mapping) and "role" in message and "type" not in message:
        return from_openai(message)
    return from_langchain(message)


def _root_runs(records: Iterator[tuple[str, Any]], result: ReadResult) -> list[tuple[str, Any]]:
    roots = []
    for where, run in records:
        if isinstance(run, RecordError):
            result.errors.append(str(run))
        elif not isinstance(run, Mapping):
            result.errors.append(str(RecordError(where, "a run must be a JSON object")))
        elif not run.get("parent_run_id"):
            roots.append((where, run))
    return roots


def read_langsmith(records: Iterator[tuple[str, Any]], feedback_key: str) -> ReadResult:
    """Conversations from LangSmith runs (one per thread, else one per root run)."""
    result = ReadResult()
    threads: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for where, run in _root_runs(records, result):
        key = str(_metadata(run).get("thread_id") or run.get("id") or where)
        held = threads.get(key)
        if held is None or str(run.get("start_time") or "") >= str(held[1].get("start_time") or ""):
            threads[key] = (where, run)
    for key, (where, run) in threads.items():
        try:
            messages = _run_messages(run)
            success, reason = _run_label(run, feedback_key)
        except MessageError as exc:
            result.errors.append(str(RecordError(where, str(exc))))
            continue
        metadata = _metadata(run)
        result.conversations.append(
            Conversation(
                id=key,
                messages=messages,
                success=success,
                reason=reason,
                policy=metadata.get("policy") or _first_system(messages),
                tools=None,
                split=str(metadata.get("split") or DEFAULT_SPLIT),
                domain=str(metadata.get("domain") or DEFAULT_DOMAIN),
                model=metadata.get("ls_model_name"),
                source=where,
                extra={"langsmith_run_id": run.get("id"), "run_name": run.get("name")},
            )
        )
    return result

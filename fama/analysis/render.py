"""Compact text views of a failed episode for the analysts: indexed transcript, evaluation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fama.core.trajectory import MessageRecord

COMPONENT_MEANING: dict[str, str] = {
    "DB": "the final database must equal the one the expected actions produce",
    "COMMUNICATE": "the agent must tell the user certain information",
    "ACTION": "the agent must make certain tool calls",
    "NL_ASSERTION": "a judge checks natural-language expectations on the conversation",
    "ENV_ASSERTION": "checks run on the final environment state",
    "STATE": "parts of the final state must have the expected values",
    "OUTCOME": "the conversation's logged outcome label (imported run)",
}

TERMINATION_MEANING: dict[str, str] = {
    "user_stop": "the user ended the conversation",
    "agent_stop": "the agent ended the conversation",
    "max_steps": "the conversation hit the step limit (scored 0 whatever happened)",
    "too_many_errors": "the agent made too many failing tool calls (scored 0)",
    "repeated_call": "the agent kept sending the same failing tool calls (ended early)",
}


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much was dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} ...[{len(text) - limit} more chars]"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _call_text(name: str, arguments: Mapping[str, Any]) -> str:
    args = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"{name}({args})"


def render_record(
    index: int, record: MessageRecord, *, max_tool_chars: int, max_text_chars: int
) -> str:
    """One indexed transcript line (``[i] role: text``)."""
    role = record["role"]
    content = record.get("content") or ""
    if role == "tool":
        status = " (error)" if record.get("error") else ""
        name = record.get("name") or "?"
        who = " requested by user" if record.get("requestor") == "user" else ""
        return f"[{index}] tool {name}{who}{status}: {clip(_one_line(content), max_tool_chars)}"
    if role == "assistant":
        parts = [clip(content.strip(), max_text_chars)] if content.strip() else []
        parts += [
            "CALLS " + _call_text(tc["name"], tc["arguments"])
            for tc in record.get("tool_calls", [])
        ]
        return f"[{index}] assistant: " + " | ".join(parts or ["(empty)"])
    if role == "system":
        return f"[{index}] system: {clip(_one_line(content), 200)}"
    return f"[{index}] user: {clip(content.strip(), max_text_chars)}"


def render_transcript(
    records: Sequence[MessageRecord], *, max_tool_chars: int = 600, max_text_chars: int = 2000
) -> str:
    """The trajectory as indexed lines; indices are positions in ``records``."""
    return "\n".join(
        render_record(i, r, max_tool_chars=max_tool_chars, max_text_chars=max_text_chars)
        for i, r in enumerate(records)
    )


def render_evaluation(
    reward: float | None,
    reward_info: Mapping[str, Any],
    termination: str | None,
    *,
    max_detail_chars: int = 3000,
) -> str:
    """What the evaluator found wrong: reward, termination, failed components, details."""
    lines = [f"Final reward: {reward if reward is not None else reward_info.get('reward', '?')}"]
    if termination:
        meaning = TERMINATION_MEANING.get(termination, "")
        lines.append(f"Termination: {termination}" + (f" ({meaning})" if meaning else ""))
    basis = reward_info.get("reward_basis") or []
    components = reward_info.get("components") or {}
    for name, value in components.items():
        verdict = "passed" if isinstance(value, int | float) and value >= 1 else "FAILED"
        used = "" if not basis or name in basis else ", not part of the reward"
        meaning = COMPONENT_MEANING.get(name, "")
        lines.append(f"- {name}: {value} ({verdict}{used}) {meaning}".rstrip())
    if reward_info.get("nl_judge_skipped"):
        lines.append("- NL_ASSERTION was not judged (no judge model).")
    details = reward_info.get("details")
    if details:
        text = json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
        lines.append("Details: " + clip(text, max_detail_chars))
    return "\n".join(lines)

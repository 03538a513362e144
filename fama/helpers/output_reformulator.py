"""Tool-output reformulator: the latest long JSON tool result as one entry per line.

Deterministic flattening (no model call, so nothing can be invented): scalar fields on one
line, each element of a list (or of a dict of records, such as product variants keyed by
item id) on its own indexed line, deeper structures inline. Every field present is kept;
only the layout changes, so the agent can pick the right item, id, price or status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AnyMessage, ToolMessage

from fama.helpers.base import HelperEnv, HelperInput, HelperSpec, HelperUpdate, guidance
from fama.helpers.text import message_text, parse_json

NAME = "output_reformulator"
PROMPT = "helper_output_reformulator"

SPEC = HelperSpec(
    name=NAME,
    description="Tool-output reformulator: turns the latest long, nested tool output (JSON) "
    "into a compact structured view with one entry per line (every field kept, nothing "
    "added). Facilitates reading the right item, id, status or price from complex outputs.",
    addresses=frozenset({"wrong_retrieval"}),
    uses_llm=False,
    default_params={"min_chars": 300, "lookback": 6},
    typical_tokens=250,
    prompts=(PROMPT,),
)


def scalar(value: Any) -> str:
    """A JSON scalar as text (``null``, ``true``/``false``, numbers and strings as is)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def inline(value: Any) -> str:
    """Any JSON value on one line: ``{k=v, ...}``, ``[a, b]`` or the scalar."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    return scalar(value)


def record(value: dict[str, Any], skip: str | None = None) -> str:
    """A flat record: ``k=v; k2=v2`` with nested values inline (``skip`` left out)."""
    return "; ".join(f"{k}={inline(v)}" for k, v in value.items() if k != skip)


def _is_record_map(value: Any) -> bool:
    """A dict whose values are all dicts (e.g. variants keyed by item id)."""
    if not isinstance(value, dict) or not value:
        return False
    return all(isinstance(v, dict) for v in value.values())


def key_field(records: dict[str, dict[str, Any]]) -> str | None:
    """The field every record of a map repeats its key in (e.g. ``item_id``), if any."""
    first = next(iter(records.values()))
    for name in first:
        if all(str(r.get(name)) == key for key, r in records.items()):
            return name
    return None


def _collection(label: str, value: list[Any] | dict[str, Any], indent: str) -> list[str]:
    if isinstance(value, dict):
        skip = key_field(value)
        header = f"{label} by {skip}" if skip else label
        entries: list[tuple[Any, Any]] = list(value.items())
    else:
        skip, header, entries = None, label, list(enumerate(value))
    lines = [f"{indent}{header} ({len(value)}):"]
    for key, item in entries:
        text = record(item, skip) if isinstance(item, dict) else inline(item)
        lines.append(f"{indent}  [{key}] {text}")
    return lines


def flatten(value: Any) -> list[str]:
    """The lines of the structured view of a JSON value."""
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return [f"{len(value)} entries: {inline(value)}"]
        return _collection("entries", value, "")
    if not isinstance(value, dict):
        return [scalar(value)]
    simple = {k: v for k, v in value.items() if not isinstance(v, dict | list)}
    lines = [record(simple)] if simple else []
    for key, inner in value.items():
        if key in simple:
            continue
        is_list_of_records = isinstance(inner, list) and any(isinstance(v, dict) for v in inner)
        if is_list_of_records or _is_record_map(inner):
            lines.extend(_collection(str(key), inner, ""))
        elif isinstance(inner, dict):
            lines.append(f"{key}: {record(inner)}" if inner else f"{key}: {{}}")
        else:
            lines.append(f"{key} ({len(inner)}): {inline(inner)}")
    return lines


def latest_long_output(
    messages: Sequence[AnyMessage], min_chars: int, lookback: int
) -> tuple[ToolMessage, Any] | None:
    """The newest successful JSON tool result of at least ``min_chars`` in the last messages."""
    for message in reversed(messages[-lookback:]):
        if isinstance(message, ToolMessage) and message.status != "error":
            text = message_text(message)
            data = parse_json(text) if len(text) >= min_chars else None
            if isinstance(data, dict | list):
                return message, data
    return None


def fit(lines: list[str], max_chars: int) -> str:
    """As many whole lines as fit, with a note on how many were left out."""
    kept: list[str] = []
    used = 0
    for n, line in enumerate(lines):
        note = f"… ({len(lines) - n} more lines in the raw output)"
        if used + len(line) + 3 + (len(note) + 3 if n + 1 < len(lines) else 0) > max_chars:
            kept.append(note)
            break
        kept.append(line)
        used += len(line) + 3  # newline and indentation
    return "\n".join(kept)


async def run(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
    """Guidance with the structured view of the latest long tool output (if any)."""
    found = latest_long_output(
        inp["messages"], int(env.params["min_chars"]), int(env.params["lookback"])
    )
    if found is None:
        return guidance(NAME, "")
    message, data = found
    prompt = env.prompts[PROMPT]
    tool = message.name or "tool"
    budget = inp["max_chars"] - len(prompt.text) - len(tool)
    text = prompt.render(tool=tool, summary=fit(flatten(data), budget))
    return guidance(NAME, text, inp["max_chars"])

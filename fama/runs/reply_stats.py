"""How model replies ended and how their tokens were counted, per accounting role.

``truncated``: replies cut at the output limit (``finish_reason == "length"``);
``usage_missing``: calls whose server reported no usage, so their tokens are local
estimates; ``usage_unknown``: those of them stored with no estimate at all (zero tokens, by
FAMA before run-store schema 3). ``fama report`` and ``fama compare`` print these instead of
passing estimated or missing counts off as measured ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type-only: keeps fama report free of LangGraph imports
    from fama.core.state import LLMCall

KEYS = ("calls", "truncated", "usage_missing", "usage_unknown")


def reply_counts(
    calls: Iterable[LLMCall], role_of: Callable[[str], str], roles: Sequence[str]
) -> dict[str, dict[str, int]]:
    """The counts of ``KEYS`` for every role (``role_of`` maps a node name to its role)."""
    counts = {role: dict.fromkeys(KEYS, 0) for role in roles}
    for call in calls:
        bucket = counts.setdefault(role_of(call["node"]), dict.fromkeys(KEYS, 0))
        bucket["calls"] += 1
        bucket["truncated"] += call.get("finish_reason") == "length"
        if call.get("usage_missing"):
            bucket["usage_missing"] += 1
            bucket["usage_unknown"] += call["input_tokens"] + call["output_tokens"] == 0
    return counts


def _total(counts: dict[str, dict[str, int]], key: str) -> int:
    return sum(bucket[key] for bucket in counts.values())


def usage_note(counts: dict[str, dict[str, int]], subject: str = "") -> str | None:
    """One sentence on calls without server-reported usage (None when every call had it)."""
    missing = _total(counts, "usage_missing")
    if not missing:
        return None
    roles = ", ".join(f"{r} {b['usage_missing']}" for r, b in counts.items() if b["usage_missing"])
    note = (
        f"{subject}{missing} of {_total(counts, 'calls')} LLM calls had no server-reported "
        f"usage ({roles}): their tokens are local estimates (4 characters or one streamed "
        "chunk per token)"
    )
    unknown = _total(counts, "usage_unknown")
    if unknown:
        note += f"; {unknown} of them were stored without an estimate and count as 0 tokens"
    return note


def reply_lines(counts: dict[str, dict[str, int]]) -> list[str]:
    """Report lines: truncated replies per role, and the usage note when it applies."""
    lines = [
        "Replies cut at the output limit: "
        + ", ".join(f"{role} {b['truncated']} of {b['calls']}" for role, b in counts.items())
    ]
    note = usage_note(counts)
    if note:
        lines.append(f"Token usage: {note}.")
    return lines


def reply_json(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The counts with their totals, for JSON reports."""
    return {"by_role": counts, "total": {key: _total(counts, key) for key in KEYS}}

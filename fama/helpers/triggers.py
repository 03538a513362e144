"""The orchestrator's risk signals by name: the vocabulary a discovered category is tied to.

Failure analysis ties each discovered category to the signals that put it at risk (the
mitigation agent chooses them from this list); in dynamic mode the orchestrator then signals
the category whenever one of them fires. ``always`` ties it to every decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fama.core.fama_config import CategoryMitigation
from fama.core.fama_state import Signal

ALWAYS = "always"
LESSONS = "lessons"  # the helper of a category mitigated by a lesson

SIGNALS: dict[str, str] = {
    "tool_error": "the latest tool result is an error",
    "long_output": "the latest tool result is a long JSON output",
    "action_request": "the user's latest message asks for a write action",
    "confirmation": "the user's latest message confirms something",
    "multi_request": "the user has asked for two or more different write actions",
    "long_context": "the conversation is long and the user has written several messages",
    ALWAYS: "every decision",
}


def known_triggers(names: list[str]) -> list[str]:
    """The names (in order, unique) that are signals of the vocabulary."""
    return [n for n in dict.fromkeys(n.strip().lower() for n in names) if n in SIGNALS]


def describe() -> str:
    """The vocabulary as a Markdown list (for prompts)."""
    return "\n".join(f"- `{name}`: {text}" for name, text in SIGNALS.items())


def mitigating_helpers(mitigation: CategoryMitigation) -> list[str]:
    """The helpers that address a discovered category (``lessons`` for a lesson)."""
    return list(mitigation.helpers) or ([LESSONS] if mitigation.lesson else [])


def coverage_of(mitigations: Iterable[CategoryMitigation]) -> dict[str, list[str]]:
    """Discovered category -> the helpers that address it."""
    return {m.category: h for m in mitigations if (h := mitigating_helpers(m))}


def discovered_signals(
    fired: Sequence[Signal], mitigations: Iterable[CategoryMitigation]
) -> list[Signal]:
    """Signals of the discovered categories whose triggers fired (``always``: every time)."""
    names = {s["name"] for s in fired} | {ALWAYS}
    found: list[Signal] = []
    for mitigation in mitigations:
        helpers = mitigating_helpers(mitigation)
        trigger = next((t for t in mitigation.triggers if t in names), None)
        if helpers and trigger is not None:
            found.append({"name": trigger, "category": mitigation.category, "helper": helpers[0]})
    return found

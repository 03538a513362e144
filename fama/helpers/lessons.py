"""Lessons helper: the lessons failure analysis wrote for discovered categories (no model call).

When the mitigation agent finds no existing helper for a category that analysis discovered
(e.g. ``premature_closure``), it writes a lesson: two to four imperative sentences distilled
from the failed episodes, stored in the FAMA configuration. This helper injects the lessons
whose category is signalled at this decision (dynamic mode), or every lesson (static and all
modes), in the configuration's order within its share of the guidance budget.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from fama.helpers.base import HelperEnv, HelperInput, HelperSpec, HelperUpdate, guidance
from fama.helpers.text import one_line

NAME = "lessons"
PROMPT = "helper_lessons"

SPEC = HelperSpec(
    name=NAME,
    description="Lessons: injects the short lessons that failure analysis wrote for failure "
    "categories it discovered and no other helper covers. Facilitates avoiding the mistakes "
    "this backbone made before in this environment.",
    addresses=frozenset(),  # the discovered categories named by the configuration's lessons
    uses_llm=False,
    default_params={"max_lessons": 3},  # the lessons themselves come from the config
    typical_tokens=120,
    prompts=(PROMPT,),
)


def select_lessons(
    lessons: Iterable[Mapping[str, Any]], signalled: Collection[str] | None
) -> list[str]:
    """The lesson texts to inject: all (``signalled`` None), else those of signalled categories."""
    return [
        one_line(str(item["lesson"]))
        for item in lessons
        if item.get("lesson") and (signalled is None or item.get("category") in signalled)
    ]


def fit(texts: list[str], count: int, max_chars: int) -> list[str]:
    """At most ``count`` lessons, in order, whose lines fit in ``max_chars``."""
    kept: list[str] = []
    used = 0
    for text in texts[:count]:
        cost = len(text) + 6  # "- ", the newline and the indentation
        if used + cost > max_chars:
            break
        kept.append(text)
        used += cost
    return kept


async def run(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
    """Guidance with the lessons that apply to this decision."""
    record = inp["diagnosis"]
    signalled = (
        {s["category"] for s in record.get("signals", [])}
        if record.get("mode") == "dynamic"
        else None
    )
    texts = select_lessons(env.params.get("lessons", []), signalled)
    prompt = env.prompts[PROMPT]
    kept = fit(texts, int(env.params["max_lessons"]), inp["max_chars"] - len(prompt.text))
    if not kept:
        return guidance(NAME, "")
    text = prompt.render(lessons="\n".join(f"- {t}" for t in kept))
    return guidance(NAME, text, inp["max_chars"])

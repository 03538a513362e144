"""Mitigating a discovered category: map it to existing helpers, or write a lesson.

The mitigation agent (the analyst model, recorded) reads the category, the evidence of the
episodes that proposed it (the proposer's rationale and the transcript lines it pointed at)
and the helper pool, and answers with the helpers that would have prevented the failures or,
when none would, a lesson of two to four imperative sentences; either way it names the
orchestrator signals at which the help is needed. A lesson is injected by the ``lessons``
helper. An unusable answer leaves the category unmitigated (recorded with the error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from langchain_core.language_models import BaseChatModel

from fama.analysis.episodes import FailedEpisode
from fama.analysis.llm import ask_json
from fama.analysis.mitigation import normalise_helper_names
from fama.analysis.render import clip, render_record
from fama.analysis.schemas import (
    CategoryMitigationAnswer,
    CategoryMitigationRecord,
    Proposal,
    ProposedCategory,
)
from fama.core.state import LLMCall
from fama.helpers import lessons
from fama.helpers.registry import HELPERS
from fama.helpers.triggers import ALWAYS, describe, known_triggers
from fama.prompts import load_prompt

PROMPT = "category_mitigation"
MAX_EPISODES = 3
MAX_LINES = 4
MAX_LINE_CHARS = 300


def helper_pool() -> str:
    """The helpers a discovered category may be mapped to (not ``lessons`` itself)."""
    return "\n".join(
        f"- `{name}`: {spec.description}" for name, spec in HELPERS.items() if name != lessons.NAME
    )


def render_evidence(episodes: Sequence[FailedEpisode], proposals: Mapping[str, Proposal]) -> str:
    """Per proposing episode: the proposer's rationale and the lines it cited."""
    parts: list[str] = []
    for episode in episodes[:MAX_EPISODES]:
        proposal = proposals.get(episode.key)
        rationale = proposal["rationale"] if proposal else ""
        steps = proposal["evidence_steps"][:MAX_LINES] if proposal else []
        lines = [
            clip(
                render_record(
                    i, episode.records[i], max_tool_chars=MAX_LINE_CHARS, max_text_chars=500
                ),
                MAX_LINE_CHARS,
            )
            for i in steps
            if 0 <= i < len(episode.records)
        ]
        parts.append(
            "\n".join(
                [f"### Episode {episode.key}", f"Analyst: {rationale or '(no rationale)'}", *lines]
            )
        )
    return "\n\n".join(parts) or "(no evidence recorded)"


async def mitigate_category(
    category: ProposedCategory,
    episodes: Sequence[FailedEpisode],
    proposals: Mapping[str, Proposal],
    *,
    model: BaseChatModel,
    model_name: str,
    attempts: int = 2,
) -> tuple[CategoryMitigationRecord, list[LLMCall]]:
    """Ask the mitigation agent how to mitigate one discovered category."""
    prompt = load_prompt(PROMPT).render(
        category_id=category["id"],
        category_name=category["name"],
        category_definition=category["definition"] or "(no definition)",
        evidence=render_evidence(episodes, proposals),
        helpers=helper_pool(),
        triggers=describe(),
    )
    answer = await ask_json(
        model,
        prompt,
        CategoryMitigationAnswer,
        node=f"mitigation:{category['id']}",
        model_name=model_name,
        attempts=attempts,
    )
    record: CategoryMitigationRecord = {
        "category": category["id"],
        "helpers": [],
        "lesson": None,
        "triggers": [],
        "rationale": "",
        "evidence": [e.key for e in episodes],
        "error": answer.error,
    }
    value = answer.value
    if value is None:
        return record, answer.calls
    helpers = normalise_helper_names(value.helpers) if value.helpers else []
    if helpers is None or lessons.NAME in helpers:
        record["error"] = f"unknown helpers {value.helpers}"
        return record, answer.calls
    record["helpers"] = helpers
    record["lesson"] = value.lesson.strip() or None
    record["triggers"] = known_triggers(value.triggers) or [ALWAYS]
    record["rationale"] = value.rationale.strip()
    return record, answer.calls

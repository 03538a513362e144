"""Merging the category proposer's suggestions by meaning: the analyst model judges duplicates.

The distinct proposals (by slug) are numbered and shown to the model with the existing
categories; it groups the ones that name the same failure and marks those that duplicate an
existing category. A group becomes a category when it was proposed for at least
``min_episodes`` episodes. When the model's answer is unusable after its retry, the
wording-based merge of ``fama.analysis.proposals`` is used instead and the error recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import model_validator

from fama.analysis.llm import ask_json
from fama.analysis.proposals import merge_proposals, slugify
from fama.analysis.schemas import MergeAnswer, MergeGroup, Proposal, ProposedCategory
from fama.core.categories import Category
from fama.core.state import LLMCall
from fama.prompts import load_prompt

MERGER_PROMPT = "category_merger"
NODE = "merge_categories"


@dataclass
class MergeOutcome:
    """New categories, the calls made, and how the merge was decided."""

    categories: list[ProposedCategory]
    source: Literal["llm", "wording", "none"]
    calls: list[LLMCall] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class _Distinct:
    slug: str
    name: str
    definition: str
    episodes: tuple[str, ...]


def _distinct(proposals: Sequence[Proposal]) -> list[_Distinct]:
    by_slug: dict[str, list[Proposal]] = {}
    for proposal in sorted(proposals, key=lambda p: p["episode"]):
        slug = slugify(proposal["name"] or "")
        if slug:
            by_slug.setdefault(slug, []).append(proposal)
    return [
        _Distinct(
            slug,
            (group[0]["name"] or slug).strip(),
            group[0]["definition"].strip(),
            tuple(sorted({p["episode"] for p in group})),
        )
        for slug, group in sorted(by_slug.items())
    ]


def bounded_answer(count: int) -> type[MergeAnswer]:
    """``MergeAnswer`` that also checks every member is one of ``count`` proposals, once
    (so a wrong numbering gets the corrective retry)."""

    class BoundedMergeAnswer(MergeAnswer):
        @model_validator(mode="after")
        def _members_known_once(self) -> BoundedMergeAnswer:
            seen: set[int] = set()
            for group in self.groups:
                bad = [m for m in group.members if not 1 <= m <= count]
                if bad:
                    raise ValueError(f"proposal numbers out of range 1..{count}: {bad}")
                twice = seen & set(group.members)
                if twice:
                    raise ValueError(f"proposals in two groups: {sorted(twice)}")
                seen |= set(group.members)
            return self

    return BoundedMergeAnswer


def _groups(answer: MergeAnswer, count: int) -> list[MergeGroup]:
    """The answer's groups plus a singleton for every proposal it did not mention."""
    seen = {m for g in answer.groups for m in g.members}
    groups = [g for g in answer.groups if g.members]
    return groups + [MergeGroup(members=[i]) for i in range(1, count + 1) if i not in seen]


def _category(
    group: MergeGroup, items: Sequence[_Distinct], taken: set[str]
) -> ProposedCategory | None:
    members = [items[i - 1] for i in group.members]
    episodes = sorted({e for m in members for e in m.episodes})
    support = Counter({m.slug: len(m.episodes) for m in members})
    chosen = min(members, key=lambda m: (-support[m.slug], len(m.slug), m.slug))
    slug = slugify(group.name) or chosen.slug
    if slug in taken:
        return None
    return {
        "id": slug,
        "name": group.name.strip() or chosen.name,
        "definition": group.definition.strip() or chosen.definition,
        "aliases": sorted({m.slug for m in members} - {slug}),
        "episodes": episodes,
    }


async def merge_by_meaning(
    proposals: Sequence[Proposal],
    *,
    existing: Sequence[Category],
    model: BaseChatModel,
    model_name: str,
    min_episodes: int = 2,
    attempts: int = 2,
) -> MergeOutcome:
    """New categories from recurring proposals, grouped by the model; ordered by support."""
    items = _distinct(proposals)
    if len({e for item in items for e in item.episodes}) < min_episodes:
        return MergeOutcome([], "none")
    prompt = load_prompt(MERGER_PROMPT).render(
        categories="\n".join(f"- `{c.id}` ({c.name}): {c.definition}" for c in existing),
        proposals="\n".join(
            f"{n}. {item.name}: {item.definition or '(no definition)'} "
            f"({len(item.episodes)} episodes)"
            for n, item in enumerate(items, start=1)
        ),
    )
    answer = await ask_json(
        model,
        prompt,
        bounded_answer(len(items)),
        node=NODE,
        model_name=model_name,
        attempts=attempts,
    )
    if answer.value is None:
        fallback = merge_proposals(proposals, existing=existing, min_episodes=min_episodes)
        error = f"merge by meaning failed: {answer.error or 'no answer'}"
        return MergeOutcome(fallback, "wording", answer.calls, error)
    groups = _groups(answer.value, len(items))
    known = {slugify(k) for c in existing for k in (c.id, c.name)}
    taken = set(known)
    categories: list[ProposedCategory] = []
    for group in groups:
        if group.existing is not None and slugify(group.existing) in known:
            continue
        category = _category(group, items, taken)
        if category is not None and len(category["episodes"]) >= min_episodes:
            taken.add(category["id"])
            categories.append(category)
    categories.sort(key=lambda c: (-len(c["episodes"]), c["id"]))
    return MergeOutcome(categories, "llm", answer.calls)

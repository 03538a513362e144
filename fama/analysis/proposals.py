"""Merging the category proposer's suggestions into new taxonomy categories.

Proposals are normalised to slugs; near-duplicates (same significant words, one name's words
mostly contained in the other's, or near-identical spelling) are merged with a deterministic
union-find over the proposals sorted by slug. A merged group becomes a category only if it
was proposed for at least ``min_episodes`` different episodes, and only if it does not
duplicate an existing category.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

from fama.analysis.schemas import Proposal, ProposedCategory
from fama.core.categories import Category

_NON_WORD = re.compile(r"[^a-z0-9]+")
_STOPWORDS = frozenset(
    {"a", "an", "and", "by", "error", "failure", "for", "in", "of", "on", "or", "the", "to"}
)
_SUFFIXES = ("ing", "ed", "es", "s")
JACCARD_MIN = 0.5
SPELLING_MIN = 0.88


def slugify(name: str) -> str:
    """``"Premature Transfer!"`` -> ``"premature_transfer"``."""
    return _NON_WORD.sub("_", name.lower()).strip("_")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _words(slug: str) -> frozenset[str]:
    words = {_stem(w) for w in slug.split("_") if w and w not in _STOPWORDS}
    return frozenset(words or {slug})


def similar(a: str, b: str) -> bool:
    """Whether two slugs name the same failure (deterministic, symmetric)."""
    if a == b:
        return True
    wa, wb = _words(a), _words(b)
    if len(wa & wb) / len(wa | wb) >= JACCARD_MIN:
        return True
    return SequenceMatcher(None, a, b).ratio() >= SPELLING_MIN


def _clusters(slugs: Sequence[str]) -> list[list[str]]:
    parent = list(range(len(slugs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(slugs)):
        for j in range(i + 1, len(slugs)):
            if similar(slugs[i], slugs[j]):
                parent[max(root(i), root(j))] = min(root(i), root(j))
    groups: dict[int, list[str]] = {}
    for i, slug in enumerate(slugs):
        groups.setdefault(root(i), []).append(slug)
    return [groups[k] for k in sorted(groups)]


def merge_proposals(
    proposals: Iterable[Proposal], *, existing: Iterable[Category], min_episodes: int = 2
) -> list[ProposedCategory]:
    """New categories from recurring proposals, ordered by support (episodes), then id."""
    existing_slugs = [s for c in existing for s in (c.id, slugify(c.name))]
    by_slug: dict[str, list[Proposal]] = {}
    for proposal in proposals:
        slug = slugify(proposal["name"] or "")
        if slug and not any(similar(slug, s) for s in existing_slugs):
            by_slug.setdefault(slug, []).append(proposal)
    categories: list[ProposedCategory] = []
    for group in _clusters(sorted(by_slug)):
        members = sorted((p for slug in group for p in by_slug[slug]), key=lambda p: p["episode"])
        episodes = sorted({p["episode"] for p in members})
        if len(episodes) < min_episodes:
            continue
        support = Counter(slugify(p["name"] or "") for p in members)
        chosen = min(group, key=lambda s: (-support[s], len(s), s))
        first = next(p for p in members if slugify(p["name"] or "") == chosen)
        categories.append(
            {
                "id": chosen,
                "name": (first["name"] or chosen).strip(),
                "definition": first["definition"].strip(),
                "aliases": sorted(s for s in group if s != chosen),
                "episodes": episodes,
            }
        )
    categories.sort(key=lambda c: (-len(c["episodes"]), c["id"]))
    return categories

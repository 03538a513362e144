"""The helper pool: specs (for failure analysis and mitigation), run functions, minimal cover.

Category -> helper mapping (our design choice; the paper does not publish one):

=============================  =========================================
category                       helpers that address it
=============================  =========================================
policy_violation               constraints_extractor, decision_verifier
wrong_retrieval                tool_suggester, output_reformulator
contextual_misinterpretation   planner, memory
incomplete_fulfilment          planner, memory
discovered by analysis         the helpers the mitigation agent mapped it to,
                               else ``lessons`` (its lesson)
=============================  =========================================

The guidance helpers run in parallel before a decision (fanned out); the decision verifier
runs after the tool-use node, on proposed write actions only. The constraints extractor and
the tool suggester run their agent variant (``fama.helpers.llm_variants``) with ``impl: llm``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

from fama.helpers import (
    constraints_extractor,
    decision_verifier,
    lessons,
    memory,
    output_reformulator,
    planner,
    tool_suggester,
)
from fama.helpers.base import HelperFn, HelperSpec, degrading
from fama.helpers.llm_variants import by_impl, constraints_llm, tools_llm

__all__ = ["GUIDANCE_HELPERS", "HELPERS", "HelperSpec", "minimal_cover", "registry_order"]

HELPERS: dict[str, HelperSpec] = {
    spec.name: spec
    for spec in (
        constraints_extractor.SPEC,
        tool_suggester.SPEC,
        output_reformulator.SPEC,
        planner.SPEC,
        decision_verifier.SPEC,
        memory.SPEC,
        lessons.SPEC,
    )
}

# Each run function is wrapped so that a failing helper degrades its decision (no advice,
# the error recorded in the decision's guidance) instead of ending the episode.
GUIDANCE_HELPERS: dict[str, HelperFn] = {
    name: degrading(name, run)
    for name, run in (
        (constraints_extractor.NAME, by_impl(constraints_extractor.run, constraints_llm)),
        (tool_suggester.NAME, by_impl(tool_suggester.run, tools_llm)),
        (output_reformulator.NAME, output_reformulator.run),
        (planner.NAME, planner.run),
        (memory.NAME, memory.run),
        (lessons.NAME, lessons.run),
    )
}


def registry_order(names: Iterable[str]) -> list[str]:
    """Known helper names, unique, in the registry's order (unknown names dropped)."""
    wanted = set(names)
    return [name for name in HELPERS if name in wanted]


def coverage(extra: Mapping[str, Iterable[str]] | None = None) -> dict[str, set[str]]:
    """Helper -> the categories it addresses: its spec's, plus ``extra`` (category -> helpers,
    e.g. the discovered categories of a FAMA configuration)."""
    covers = {name: set(spec.addresses) for name, spec in HELPERS.items()}
    for category, helpers in (extra or {}).items():
        for helper in helpers:
            if helper in covers:
                covers[helper].add(category)
    return covers


def minimal_cover(
    categories: Iterable[str],
    *,
    prefer: Sequence[str] = (),
    extra: Mapping[str, Iterable[str]] | None = None,
    pool: Iterable[str] | None = None,
) -> list[str]:
    """The smallest set of helpers (of ``pool``, default all) addressing every category.

    Exact: candidate sets are tried by size. Among covers of the smallest size the winner
    has the fewest helpers outside ``prefer``, then the fewest model-calling helpers, then
    the earliest helpers in registry order. Categories no helper of the pool addresses (see
    ``coverage`` for ``extra``) are ignored. Returned in registry order.
    """
    allowed = set(HELPERS if pool is None else pool)
    covers = {h: c for h, c in coverage(extra).items() if h in allowed}
    addressed = {c for cats in covers.values() for c in cats}
    targets = {c for c in categories if c in addressed}
    if not targets:
        return []
    names = [h for h, cats in covers.items() if cats & targets]
    preferred = set(prefer)

    def rank(chosen: tuple[str, ...]) -> tuple[int, int, tuple[int, ...]]:
        outside = sum(name not in preferred for name in chosen)
        costly = sum(HELPERS[name].uses_llm for name in chosen)
        return outside, costly, tuple(names.index(name) for name in chosen)

    for size in range(1, len(names) + 1):
        found: list[tuple[str, ...]] = [
            chosen
            for chosen in combinations(names, size)
            if targets <= {c for name in chosen for c in covers[name]}
        ]
        if found:
            best: tuple[str, ...] = min(found, key=rank)
            return list(best)
    raise AssertionError("unreachable: every addressed category has a helper")

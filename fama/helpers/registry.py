"""The helper pool: specs (for failure analysis and mitigation), run functions, minimal cover.

Category -> helper mapping (our design choice; the paper does not publish one):

=============================  =========================================
category                       helpers that address it
=============================  =========================================
policy_violation               constraints_extractor, decision_verifier
wrong_retrieval                tool_suggester, output_reformulator
contextual_misinterpretation   planner, memory
incomplete_fulfilment          planner, memory
=============================  =========================================

Five helpers give guidance before a decision (fanned out in parallel); the decision
verifier runs after the tool-use node, on proposed write actions only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from fama.helpers import (
    constraints_extractor,
    decision_verifier,
    memory,
    output_reformulator,
    planner,
    tool_suggester,
)
from fama.helpers.base import HelperFn, HelperSpec, degrading

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
    )
}

# Each run function is wrapped so that a failing helper degrades its decision (no advice,
# the error recorded in the decision's guidance) instead of ending the episode.
GUIDANCE_HELPERS: dict[str, HelperFn] = {
    name: degrading(name, run)
    for name, run in (
        (constraints_extractor.NAME, constraints_extractor.run),
        (tool_suggester.NAME, tool_suggester.run),
        (output_reformulator.NAME, output_reformulator.run),
        (planner.NAME, planner.run),
        (memory.NAME, memory.run),
    )
}


def registry_order(names: Iterable[str]) -> list[str]:
    """Known helper names, unique, in the registry's order (unknown names dropped)."""
    wanted = set(names)
    return [name for name in HELPERS if name in wanted]


def minimal_cover(categories: Iterable[str], *, prefer: Sequence[str] = ()) -> list[str]:
    """The smallest set of helpers addressing every (addressable) category.

    Exact: candidate sets are tried by size. Among covers of the smallest size the winner
    has the fewest helpers outside ``prefer``, then the fewest model-calling helpers, then
    the earliest helpers in registry order. Categories no helper addresses are ignored.
    Returned in registry order.
    """
    addressed = {c for spec in HELPERS.values() for c in spec.addresses}
    targets = {c for c in categories if c in addressed}
    if not targets:
        return []
    names = list(HELPERS)
    preferred = set(prefer)

    def rank(chosen: tuple[str, ...]) -> tuple[int, int, tuple[int, ...]]:
        outside = sum(name not in preferred for name in chosen)
        costly = sum(HELPERS[name].uses_llm for name in chosen)
        return outside, costly, tuple(names.index(name) for name in chosen)

    for size in range(1, len(names) + 1):
        covers: list[tuple[str, ...]] = [
            chosen
            for chosen in combinations(names, size)
            if targets <= {c for name in chosen for c in HELPERS[name].addresses}
        ]
        if covers:
            best: tuple[str, ...] = min(covers, key=rank)
            return list(best)
    raise AssertionError("unreachable: every addressed category has a helper")

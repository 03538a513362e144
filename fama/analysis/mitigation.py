"""From attributed errors to helpers: per-episode minimal covers and the aggregated config."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from statistics import median
from typing import Any

from fama.analysis.proposals import slugify
from fama.analysis.schemas import Recommendation
from fama.core.fama_config import FamaConfig
from fama.helpers.memory import domain_k
from fama.helpers.registry import HELPERS, coverage, minimal_cover, registry_order

DEFAULT_THRESHOLD = 0.2
Coverage = Mapping[str, Iterable[str]]  # discovered category -> helpers that address it


def addressable(categories: Iterable[str], extra: Coverage | None = None) -> list[str]:
    """The categories (in order, unique) that at least one helper addresses."""
    known = {c for cats in coverage(extra).values() for c in cats}
    return [c for c in dict.fromkeys(categories) if c in known]


def normalise_helper_names(names: Iterable[str]) -> list[str] | None:
    """Map an LLM's helper names onto registry names; None if one cannot be matched."""
    result: list[str] = []
    for name in names:
        slug = slugify(name)
        matches = [slug] if slug in HELPERS else [h for h in HELPERS if h in slug or slug in h]
        if len(matches) != 1:
            return None
        if matches[0] not in result:
            result.append(matches[0])
    return result


def is_minimal_cover(
    chosen: Sequence[str], categories: Iterable[str], extra: Coverage | None = None
) -> bool:
    """Whether ``chosen`` covers every addressable category with the fewest helpers."""
    targets = addressable(categories, extra)
    if len(set(chosen)) != len(chosen) or any(h not in HELPERS for h in chosen):
        return False
    covers = coverage(extra)
    covered = all(any(c in covers[h] for h in chosen) for c in targets)
    return covered and len(chosen) == len(minimal_cover(targets, extra=extra))


def choose_helpers(
    proposed: Sequence[str] | None, categories: Iterable[str], extra: Coverage | None = None
) -> tuple[list[str], bool]:
    """The LLM's helper set if it is a valid minimal cover, else the registry's cover.

    The fallback cover prefers the helpers the LLM named. ``extra`` maps discovered
    categories to the helpers that address them. Returns (helpers in registry order,
    whether the LLM's proposal was used as is).
    """
    targets = addressable(categories, extra)
    names = None if proposed is None else normalise_helper_names(proposed)
    if names is not None and is_minimal_cover(names, targets, extra):
        return registry_order(names), True
    return registry_order(minimal_cover(targets, prefer=names or (), extra=extra)), False


MEMORY_K_RANGE = (2, 6)  # the paper's best windows (airline 2, retail 6) bound the estimate


def memory_k(environment: str, user_turns: Sequence[int] = ()) -> int | None:
    """Memory's window: the paper's on retail / airline, else the median number of user
    messages in the analysed failed episodes (bounded to 2..6); None without either."""
    if (k := domain_k(environment)) is not None:
        return k
    if not user_turns:
        return None
    low, high = MEMORY_K_RANGE
    return max(low, min(high, round(median(user_turns))))


def helper_params(name: str, environment: str, user_turns: Sequence[int] = ()) -> dict[str, Any]:
    """A helper's parameters for an environment (memory window k: see ``memory_k``;
    without one, the helper's default, 4)."""
    params = dict(HELPERS[name].default_params)
    if name == "memory" and (k := memory_k(environment, user_turns)) is not None:
        params["k"] = k
    return params


def select_helpers(
    recommendations: Sequence[Recommendation],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    flagged: Mapping[str, int] | None = None,
) -> tuple[list[str], Counter[str]]:
    """Helpers recommended for at least ``threshold`` of the failed episodes.

    With failures but no helper reaching the threshold, the single best one is kept: most
    recommended, then addressing the most analyst-flagged categories, then registry order.
    Returns (selected helpers in registry order, recommendation counts).
    """
    counts: Counter[str] = Counter(h for r in recommendations for h in r["helpers"])
    if not recommendations:
        return [], counts
    total = len(recommendations)
    chosen = [h for h in HELPERS if counts[h] > 0 and counts[h] / total >= threshold - 1e-9]
    if chosen:
        return chosen, counts
    flags = flagged or {}
    order = list(HELPERS)

    def rank(name: str) -> tuple[int, int, int]:
        flag_score = sum(flags.get(c, 0) for c in HELPERS[name].addresses)
        return (-counts[name], -flag_score, order.index(name))

    return [min(HELPERS, key=rank)], counts


def aggregate_config(
    recommendations: Sequence[Recommendation],
    *,
    backbone: str,
    environment: str,
    derived_from: Mapping[str, Any],
    threshold: float = DEFAULT_THRESHOLD,
    flagged: Mapping[str, int] | None = None,
    user_turns: Sequence[int] = (),
) -> FamaConfig:
    """The FAMA configuration of one (backbone, environment) from its episodes' helpers.

    ``user_turns``: user messages per failed episode (memory's window where the paper
    gives none)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    chosen, counts = select_helpers(recommendations, threshold=threshold, flagged=flagged)
    return FamaConfig(
        backbone=backbone,
        environment=environment,
        helpers=chosen,
        params={h: helper_params(h, environment, user_turns) for h in chosen},
        derived_from={
            **derived_from,
            "threshold": threshold,
            "failed_episodes": len(recommendations),
        },
        recommendation_counts={h: counts[h] for h in HELPERS},
    )

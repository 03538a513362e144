"""The FAMA decision graph's state and run settings, shared by its nodes and helpers.

``FamaState`` is the episode state plus FAMA's own keys: the mode, configuration and
taxonomy the decision runs with (initialised by the orchestrator from the graph's defaults
when the input does not carry them), the guidance budget and the re-decision counter.
``diagnosis`` is FAMA's running record of the episode (decision count, signals, helper use,
the planner's cached plan, verifier checks); in this graph it merges key by key, so every
node writes only its own entries.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NotRequired, TypedDict

from fama.core.categories import SEED_CATEGORIES
from fama.core.context import EpisodeContext, EpisodeLoopState
from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.state import NodeTiming

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


def merge_record(current: dict[str, Any] | None, update: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer of ``diagnosis``: a shallow, key-by-key merge."""
    return {**(current or {}), **(update or {})}


class TaxonomyEntry(TypedDict):
    """A failure category with its definition and how often analysis found it."""

    id: str
    name: str
    definition: str
    count: int


class FamaState(EpisodeLoopState):
    """Episode state plus the FAMA decision keys."""

    diagnosis: NotRequired[Annotated[dict[str, Any] | None, merge_record]]
    fama_mode: NotRequired[FamaMode]
    fama_config: NotRequired[dict[str, Any] | None]  # FamaConfig.model_dump()
    taxonomy: NotRequired[list[TaxonomyEntry]]
    guidance_budget: NotRequired[int]  # tokens of guidance per decision
    redecisions: NotRequired[int]  # verifier-triggered re-decisions in this decision


@dataclass(frozen=True, kw_only=True, eq=False)
class FamaContext(EpisodeContext):
    """Episode settings plus the model FAMA's helpers call (default: the agent model)."""

    helper_model: BaseChatModel | None = None


def seed_taxonomy() -> list[TaxonomyEntry]:
    """The seed categories with zero counts."""
    return [
        {"id": c.id, "name": c.name, "definition": c.definition, "count": 0}
        for c in SEED_CATEGORIES
    ]


def taxonomy_entries(categories: Iterable[Mapping[str, Any] | Any]) -> list[TaxonomyEntry]:
    """Taxonomy entries from mappings or objects with id, name, definition (and count)."""
    entries: list[TaxonomyEntry] = []
    for c in categories:
        get = c.get if isinstance(c, Mapping) else (lambda k, d=None, c=c: getattr(c, k, d))
        entries.append(
            {
                "id": str(get("id")),
                "name": str(get("name", "")),
                "definition": str(get("definition", "")),
                "count": int(get("count", 0) or 0),
            }
        )
    return entries


def config_of(state: FamaState) -> FamaConfig | None:
    """The decision's FAMA configuration, if any."""
    raw = state.get("fama_config")
    return None if raw is None else FamaConfig.model_validate(raw)


def timing(node: str, started: float) -> list[NodeTiming]:
    """A one-item ``node_timings`` update for a node started at ``started``."""
    return [{"node": node, "latency_ms": (time.perf_counter() - started) * 1000.0}]

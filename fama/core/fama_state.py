"""FAMA's per-step state and its run settings (the frozen ``FamaContext``).

Run-scoped settings (mode, configuration, taxonomy, guidance budget, each helper's
parameters, the helper model) live in ``FamaSettings`` inside the run context and are read
through ``runtime.context``; they are resolved and validated once per run
(``fama.helpers.settings.fama_settings``). Graph state holds only what changes per step:
``diagnosis`` (FAMA's running record of the episode, merged key by key so every node writes
only its own entries), the decision's active helpers and guidance, the re-decision counter
and one ``FamaDecision`` record per decision.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, NotRequired, TypedDict

from fama.core.categories import SEED_CATEGORIES
from fama.core.context import EpisodeContext, EpisodeLoopState
from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.state import FamaDecision, NodeTiming

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

DEFAULT_GUIDANCE_BUDGET = 500  # tokens (chars / 4) of guidance per decision


class TaxonomyEntry(TypedDict):
    """A failure category with its definition and how often analysis found it."""

    id: str
    name: str
    definition: str
    count: int


class Signal(TypedDict):
    """A reason to expect a failure category at this decision, and the helper that fits."""

    name: str
    category: str
    helper: str


class VerifierBlock(TypedDict):
    """A write proposal the decision verifier withdrew: which check failed, and why."""

    check: str
    problem: str


class Diagnosis(TypedDict, total=False):
    """FAMA's running record of one episode (merged key by key; each node owns its keys)."""

    mode: str  # orchestrator
    decisions: int  # orchestrator: decisions opened so far
    signals: list[Signal]  # orchestrator (dynamic mode): this decision's signals
    helper_runs: dict[str, int]  # mitigation: how often each helper was active
    plan: str  # planner: the cached plan
    plan_user_turns: int  # planner: user turns when the plan was made
    verifier_checks: int  # verifier: proposals checked so far
    verifier_blocks: list[VerifierBlock]  # verifier: proposals withdrawn so far
    drivers: dict[str, list[str]]  # mitigation (dynamic): helper -> categories it serves


def merge_diagnosis(current: Diagnosis | None, update: Diagnosis | None) -> Diagnosis:
    """Reducer of ``diagnosis``: a shallow, key-by-key merge."""
    return {**(current or {}), **(update or {})}  # type: ignore[typeddict-item]


class FamaState(EpisodeLoopState):
    """Episode state plus FAMA's per-step keys."""

    diagnosis: NotRequired[Annotated[Diagnosis, merge_diagnosis]]
    active_helpers: NotRequired[list[str]]  # this decision's helpers (mitigation)
    redecisions: NotRequired[int]  # verifier-triggered re-decisions in this decision
    fama_decisions: NotRequired[Annotated[list[FamaDecision], operator.add]]


@dataclass(frozen=True, kw_only=True)
class FamaSettings:
    """How FAMA runs for a whole run; built and validated once, never copied into state."""

    mode: FamaMode
    config: FamaConfig | None
    taxonomy: tuple[TaxonomyEntry, ...]
    guidance_budget: int = DEFAULT_GUIDANCE_BUDGET
    helper_params: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    helpers: tuple[str, ...] | None = None  # the run's helper pool when set (--helpers)
    environment: str | None = None  # e.g. tau2:retail (memory's window per domain)

    def params(self, helper: str) -> dict[str, Any]:
        """A copy of one helper's resolved parameters."""
        return dict(self.helper_params.get(helper, {}))


@dataclass(frozen=True, kw_only=True, eq=False)
class FamaContext(EpisodeContext):
    """Episode settings plus FAMA's run settings and the model its helpers call
    (default: the agent model)."""

    fama: FamaSettings
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


def timing(node: str, started: float) -> list[NodeTiming]:
    """A one-item ``node_timings`` update for a node started at ``started``."""
    return [{"node": node, "latency_ms": (time.perf_counter() - started) * 1000.0}]

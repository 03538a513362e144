"""Run the analysis graph over failed episodes and turn its output into the two artifacts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.language_models import BaseChatModel

from fama.analysis.context import AnalysisContext
from fama.analysis.discovered import PROMPT as CATEGORY_MITIGATION_PROMPT
from fama.analysis.episodes import FailedEpisode
from fama.analysis.llm import RETRY_PROMPT
from fama.analysis.meaning import MERGER_PROMPT
from fama.analysis.mitigation import DEFAULT_THRESHOLD, aggregate_config
from fama.analysis.nodes import (
    ANALYST_PROMPT,
    MITIGATION_PROMPT,
    ORCHESTRATOR_PROMPT,
    PROPOSER_PROMPT,
    AnalysisState,
)
from fama.analysis.schemas import Recommendation
from fama.analysis.taxonomy import Taxonomy, build_taxonomy
from fama.core.categories import SEED_CATEGORIES, Category
from fama.core.fama_config import CategoryCount, FamaConfig
from fama.graph.analysis_graph import build_analysis_graph
from fama.prompts import load_prompt

TAXONOMY_FILE = "taxonomy.json"
PROMPT_NAMES = (
    ANALYST_PROMPT,
    PROPOSER_PROMPT,
    ORCHESTRATOR_PROMPT,
    MITIGATION_PROMPT,
    MERGER_PROMPT,
    CATEGORY_MITIGATION_PROMPT,
    RETRY_PROMPT,
)


@dataclass(frozen=True)
class AnalysisSettings:
    """What to analyse with, and how the configuration is derived."""

    run_id: str
    split: str | None
    backbone: str
    environments: Mapping[str, str] = field(default_factory=dict)  # domain -> "tau2:retail"
    task_set: str | None = None
    analysed_task_ids: tuple[str, ...] = ()  # every task of the analysed split, passed too
    categories: tuple[Category, ...] = SEED_CATEGORIES
    propose_categories: bool = True
    merge_by_meaning: bool = True
    min_proposal_episodes: int = 2
    threshold: float = DEFAULT_THRESHOLD
    max_concurrency: int = 4
    taxonomy_file: str = TAXONOMY_FILE

    def environment(self, domain: str) -> str:
        """The environment name of a domain (``tau2:<domain>`` unless given)."""
        return self.environments.get(domain, f"tau2:{domain}")


@dataclass(frozen=True)
class AnalysisResult:
    """The taxonomy and one FAMA configuration per environment analysed."""

    taxonomy: Taxonomy
    configs: dict[str, FamaConfig]


def prompt_refs() -> list[dict[str, str]]:
    """Name, version and hash of every prompt the analysis uses."""
    return [load_prompt(name).ref for name in PROMPT_NAMES]


async def run_analysis_graph(
    episodes: Sequence[FailedEpisode],
    context: AnalysisContext,
    *,
    max_concurrency: int = 4,
    on_recommendation: Callable[[Recommendation], None] | None = None,
) -> dict[str, Any]:
    """Run the graph; returns its final state. ``on_recommendation`` sees each episode finish."""
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    graph = build_analysis_graph().compile(name="fama_analysis")
    inputs: AnalysisState = {"episodes": list(episodes)}
    final: dict[str, Any] = dict(inputs)
    async for mode, part in graph.astream(
        inputs,
        {"max_concurrency": max_concurrency},
        context=context,
        stream_mode=["updates", "values"],
    ):
        chunk = cast(dict[str, Any], part)
        if mode == "values":
            final = dict(chunk)
        elif on_recommendation is not None:
            for recommendation in chunk.get("mitigation", {}).get("recommendations", []):
                on_recommendation(recommendation)
    return final


def user_turns(episode: FailedEpisode) -> int:
    """How many user messages an episode has."""
    return sum(r["role"] == "user" for r in episode.records)


def category_counts(taxonomy: Taxonomy, domain: str) -> list[CategoryCount]:
    """Every category of the taxonomy with its primary-error count in one domain."""
    labels = [e for e in taxonomy.episodes if e.domain == domain]
    return [
        CategoryCount(
            id=c.id,
            name=c.name,
            definition=c.definition,
            source=c.source,
            count=sum(c.id in e.primary_errors for e in labels),
        )
        for c in taxonomy.categories
    ]


def build_configs(
    episodes: Sequence[FailedEpisode],
    recommendations: Sequence[Recommendation],
    flagged: Mapping[str, Counter[str]],
    settings: AnalysisSettings,
    taxonomy: Taxonomy,
) -> dict[str, FamaConfig]:
    """One configuration per environment (episodes' and settings') from its recommendations,
    with the environment's category counts, the discovered categories' mitigations and the
    provenance ``fama run`` checks (environment, task set, split, every analysed task)."""
    by_key = {r["episode"]: r for r in recommendations}
    configs: dict[str, FamaConfig] = {}
    for domain in sorted({e.domain for e in episodes} | set(settings.environments)):
        mine = [e for e in episodes if e.domain == domain]
        environment = settings.environment(domain)
        failed_tasks = sorted({e.task_id for e in mine})
        config = aggregate_config(
            [by_key[e.key] for e in mine if e.key in by_key],
            backbone=settings.backbone,
            environment=environment,
            threshold=settings.threshold,
            flagged=flagged.get(domain, Counter()),
            user_turns=[user_turns(e) for e in mine],
            derived_from={
                "run_id": settings.run_id,
                "split": settings.split,
                "task_ids": failed_tasks,
                "taxonomy": settings.taxonomy_file,
            },
        )
        counts = category_counts(taxonomy, domain)
        present = {c.id for c in counts if c.count} | {
            c.id for c in taxonomy.categories if set(c.proposed_by) & {e.key for e in mine}
        }
        configs[environment] = config.model_copy(
            update={
                "task_set": settings.task_set,
                "split": settings.split,
                "analysed_task_ids": sorted({*settings.analysed_task_ids, *failed_tasks}),
                "categories": counts,
                "mitigations": [m for m in taxonomy.mitigations if m.category in present],
            }
        )
    return configs


async def analyze_episodes(
    episodes: Sequence[FailedEpisode],
    *,
    model: BaseChatModel,
    model_name: str,
    settings: AnalysisSettings,
    on_recommendation: Callable[[Recommendation], None] | None = None,
) -> AnalysisResult:
    """Analyse failed episodes into a taxonomy and per-environment FAMA configurations."""
    keys = [e.key for e in episodes]
    if len(set(keys)) != len(keys):
        raise ValueError("episode keys must be unique")
    context = AnalysisContext(
        model=model,
        model_name=model_name,
        categories=settings.categories,
        propose_categories=settings.propose_categories,
        merge_by_meaning=settings.merge_by_meaning,
        min_proposal_episodes=settings.min_proposal_episodes,
    )
    state = await run_analysis_graph(
        episodes,
        context,
        max_concurrency=settings.max_concurrency,
        on_recommendation=on_recommendation,
    )
    verdicts = state.get("verdicts", [])
    recommendations = state.get("recommendations", [])
    domain_of = {e.key: e.domain for e in episodes}
    flagged: dict[str, Counter[str]] = {}
    for verdict in verdicts:
        if verdict["occurred"]:
            flagged.setdefault(domain_of[verdict["episode"]], Counter())[verdict["category"]] += 1
    taxonomy = build_taxonomy(
        episodes,
        categories=settings.categories,
        verdicts=verdicts,
        proposals=state.get("proposals", []),
        new_categories=state.get("new_categories", []),
        attributions=state.get("attributions", []),
        recommendations=recommendations,
        llm_calls=state.get("llm_calls", []),
        category_mitigations=state.get("category_mitigations", []),
        merge=state.get("merge"),
        run_id=settings.run_id,
        split=settings.split,
        backbone=settings.backbone,
        environments=sorted(
            {
                settings.environment(d)
                for d in {e.domain for e in episodes} | set(settings.environments)
            }
        ),
        analyst_model=model_name,
        prompts=prompt_refs(),
    )
    return AnalysisResult(
        taxonomy=taxonomy,
        configs=build_configs(episodes, recommendations, flagged, settings, taxonomy),
    )

"""The taxonomy artifact: categories with counts, per-episode labels, provenance and usage.

Saved as indented JSON (``format_version``) that a person may edit (rename or merge
categories, relabel episodes); ``recount()`` recomputes the counts from the episode labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from fama.analysis.episodes import FailedEpisode
from fama.analysis.schemas import (
    AnalystVerdict,
    Attribution,
    CategoryMitigationRecord,
    Proposal,
    ProposedCategory,
    Recommendation,
)
from fama.core.categories import SEED_CATEGORY_IDS, Category
from fama.core.fama_config import CategoryMitigation
from fama.core.state import LLMCall
from fama.core.validation import brief

FORMAT_VERSION = 1


class TaxonomyCategory(BaseModel):
    """A failure category with how often it was the primary error and was flagged."""

    id: str
    name: str
    definition: str
    source: Literal["seed", "proposed"] = "seed"
    count: int = Field(default=0, description="failed episodes where it is a primary error")
    flagged: int = Field(
        default=0, description="failed episodes where its analyst said it occurred"
    )
    aliases: list[str] = Field(default_factory=list, description="proposal names merged in")
    proposed_by: list[str] = Field(default_factory=list, description="episodes proposing it")


class AnalystLabel(BaseModel):
    """One analyst's verdict (``occurred`` None: the analysis failed, see ``error``)."""

    category: str
    occurred: bool | None
    recovered: bool = False
    rationale: str = ""
    evidence_steps: list[int] = Field(default_factory=list)
    error: str | None = None


class ProposalLabel(BaseModel):
    """The proposer's answer for an episode and the new category it was merged into."""

    name: str | None
    definition: str = ""
    rationale: str = ""
    evidence_steps: list[int] = Field(default_factory=list)
    merged_into: str | None = None
    error: str | None = None


class EpisodeLabel(BaseModel):
    """The attribution of one failed episode; evidence steps index its trajectory records."""

    episode: str
    task_id: str
    trial: int | None = None
    domain: str
    reward: float | None = None
    termination: str | None = None
    primary_errors: list[str]
    recovered_errors: list[str] = Field(default_factory=list)
    rationale: str = ""
    evidence_steps: list[int] = Field(default_factory=list)
    attribution_source: Literal["orchestrator", "analyst_fallback"] = "orchestrator"
    attribution_error: str | None = None
    analysts: list[AnalystLabel] = Field(default_factory=list)
    proposal: ProposalLabel | None = None
    helpers: list[str] = Field(default_factory=list)
    helpers_source: Literal["llm", "minimal_cover", "none"] = "none"
    helpers_rationale: str = ""


class UsageTotals(BaseModel):
    """Calls and tokens."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class Usage(UsageTotals):
    """Token usage of the analysis, in total and per kind of node."""

    by_node: dict[str, UsageTotals] = Field(default_factory=dict)


class Taxonomy(BaseModel):
    """Result of failure analysis of one run split."""

    format_version: int = FORMAT_VERSION
    created_at: str
    run_id: str
    split: str | None
    backbone: str
    environments: list[str]
    analyst_model: str
    prompts: list[dict[str, str]]
    task_ids: list[str]
    categories: list[TaxonomyCategory]
    episodes: list[EpisodeLabel]
    usage: Usage
    analysis_failures: dict[str, int] = Field(default_factory=dict)
    mitigations: list[CategoryMitigation] = Field(
        default_factory=list, description="how each discovered category is mitigated"
    )
    merge: dict[str, str | None] = Field(
        default_factory=dict, description="how proposals were merged (source, error)"
    )

    def save(self, path: Path) -> None:
        """Write as indented JSON."""
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Taxonomy:
        """Read a taxonomy file, with a clear error if it is not one (or is too new)."""
        try:
            taxonomy = cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise ValueError(f"{path} is not a valid FAMA taxonomy: {brief(exc)}") from exc
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a valid FAMA taxonomy: {exc}") from exc
        if taxonomy.format_version > FORMAT_VERSION:
            raise ValueError(
                f"{path} has taxonomy format {taxonomy.format_version}; this FAMA reads "
                f"up to {FORMAT_VERSION}"
            )
        return taxonomy

    def recount(self) -> Taxonomy:
        """A copy whose category counts are recomputed from the episode labels."""
        primary = Counter(c for e in self.episodes for c in e.primary_errors)
        flagged = Counter(a.category for e in self.episodes for a in e.analysts if a.occurred)
        categories = [
            c.model_copy(update={"count": primary[c.id], "flagged": flagged[c.id]})
            for c in self.categories
        ]
        return self.model_copy(update={"categories": categories})

    def category_objects(self) -> tuple[Category, ...]:
        """The categories as analysis inputs (to analyse another run with this taxonomy)."""
        return tuple(Category(c.id, c.name, c.definition) for c in self.categories)


def summarize_usage(calls: Iterable[LLMCall]) -> Usage:
    """Totals over calls, grouped by node kind (``analyst:policy_violation`` -> analyst)."""
    usage = Usage()
    for call in calls:
        kind = call["node"].split(":", 1)[0]
        for bucket in (usage, usage.by_node.setdefault(kind, UsageTotals())):
            bucket.calls += 1
            bucket.input_tokens += call["input_tokens"]
            bucket.output_tokens += call["output_tokens"]
    return usage


def _label(
    episode: FailedEpisode,
    verdicts: Sequence[AnalystVerdict],
    proposal: Proposal | None,
    merged_into: str | None,
    attribution: Attribution | None,
    recommendation: Recommendation | None,
) -> EpisodeLabel:
    proposal_label = (
        None
        if proposal is None
        else ProposalLabel(
            name=proposal["name"],
            definition=proposal["definition"],
            rationale=proposal["rationale"],
            evidence_steps=proposal["evidence_steps"],
            merged_into=merged_into,
            error=proposal["error"],
        )
    )
    return EpisodeLabel(
        episode=episode.key,
        task_id=episode.task_id,
        trial=episode.trial,
        domain=episode.domain,
        reward=episode.reward,
        termination=episode.termination,
        primary_errors=[] if attribution is None else attribution["primary_errors"],
        recovered_errors=[] if attribution is None else attribution["recovered_errors"],
        rationale="" if attribution is None else attribution["rationale"],
        evidence_steps=[] if attribution is None else attribution["evidence_steps"],
        attribution_source="orchestrator" if attribution is None else attribution["source"],
        attribution_error=None if attribution is None else attribution["error"],
        analysts=[AnalystLabel.model_validate(dict(v)) for v in verdicts],
        proposal=proposal_label,
        helpers=[] if recommendation is None else recommendation["helpers"],
        helpers_source="none" if recommendation is None else recommendation["source"],
        helpers_rationale="" if recommendation is None else recommendation["rationale"],
    )


def build_taxonomy(
    episodes: Sequence[FailedEpisode],
    *,
    categories: Sequence[Category],
    verdicts: Sequence[AnalystVerdict],
    proposals: Sequence[Proposal],
    new_categories: Sequence[ProposedCategory],
    attributions: Sequence[Attribution],
    recommendations: Sequence[Recommendation],
    llm_calls: Sequence[LLMCall],
    category_mitigations: Sequence[CategoryMitigationRecord] = (),
    merge: Mapping[str, str | None] | None = None,
    run_id: str,
    split: str | None,
    backbone: str,
    environments: Sequence[str],
    analyst_model: str,
    prompts: Sequence[Mapping[str, str]],
) -> Taxonomy:
    """Assemble the artifact from the analysis graph's outputs (episode order kept)."""
    merged = {e: c["id"] for c in new_categories for e in c["episodes"]}
    proposal_of = {p["episode"]: p for p in proposals}
    attribution_of = {a["episode"]: a for a in attributions}
    recommendation_of = {r["episode"]: r for r in recommendations}
    labels = [
        _label(
            e,
            [v for v in verdicts if v["episode"] == e.key],
            proposal_of.get(e.key),
            merged.get(e.key),
            attribution_of.get(e.key),
            recommendation_of.get(e.key),
        )
        for e in episodes
    ]
    taxonomy_categories = [
        TaxonomyCategory(
            id=c.id,
            name=c.name,
            definition=c.definition,
            source="seed" if c.id in SEED_CATEGORY_IDS else "proposed",
        )
        for c in categories
    ] + [
        TaxonomyCategory(
            id=c["id"],
            name=c["name"],
            definition=c["definition"],
            source="proposed",
            aliases=c["aliases"],
            proposed_by=c["episodes"],
        )
        for c in new_categories
    ]
    failures = {
        "analyst": sum(v["occurred"] is None for v in verdicts),
        "proposer": sum(p["error"] is not None for p in proposals),
        "orchestrator": sum(a["source"] == "analyst_fallback" for a in attributions),
        "merge": int(bool(merge and merge.get("error"))),
        "category_mitigation": sum(m["error"] is not None for m in category_mitigations),
    }
    mitigations = [
        CategoryMitigation(
            category=m["category"],
            helpers=m["helpers"],
            lesson=m["lesson"],
            triggers=m["triggers"],
            rationale=m["rationale"],
            evidence=m["evidence"],
        )
        for m in sorted(category_mitigations, key=lambda m: m["category"])
        if m["error"] is None
    ]
    return Taxonomy(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run_id=run_id,
        split=split,
        backbone=backbone,
        environments=list(environments),
        analyst_model=analyst_model,
        prompts=[dict(p) for p in prompts],
        task_ids=sorted({e.task_id for e in episodes}),
        categories=taxonomy_categories,
        episodes=labels,
        usage=summarize_usage(llm_calls),
        analysis_failures=failures,
        mitigations=mitigations,
        merge=dict(merge or {}),
    ).recount()


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return [line.format(*header).rstrip(), "  ".join("-" * w for w in widths)] + [
        line.format(*r).rstrip() for r in rows
    ]


def format_table(taxonomy: Taxonomy, *, examples: int = 3) -> str:
    """The taxonomy as text: header, category table, helper recommendation counts."""
    current = taxonomy.recount()
    total = len(current.episodes)
    usage = current.usage
    lines = [
        f"Taxonomy of run {current.run_id} (split {current.split or 'all'}): {total} failed "
        f"episodes, backbone {current.backbone}, analysed by {current.analyst_model}",
        f"Tokens: {usage.input_tokens} in, {usage.output_tokens} out over {usage.calls} calls",
        "",
    ]

    def share(count: int) -> str:
        return f"{100 * count / total:.1f}%" if total else "-"

    def example_keys(ids: set[str]) -> str:
        keys = [e.episode for e in current.episodes if ids & set(e.primary_errors)]
        return ", ".join(keys[:examples]) + (" ..." if len(keys) > examples else "")

    rows = [
        [c.id, c.source, str(c.count), share(c.count), str(c.flagged), example_keys({c.id})]
        for c in sorted(current.categories, key=lambda c: -c.count)
    ]
    unattributed = [e.episode for e in current.episodes if not e.primary_errors]
    if unattributed:
        shown = ", ".join(unattributed[:examples]) + (
            " ..." if len(unattributed) > examples else ""
        )
        rows.append(
            [
                "(no primary error)",
                "-",
                str(len(unattributed)),
                share(len(unattributed)),
                "-",
                shown,
            ]
        )
    lines += _table(["category", "source", "count", "share", "flagged", "example episodes"], rows)
    for m in current.mitigations:
        how = f"helpers {', '.join(m.helpers)}" if m.helpers else f"lesson: {m.lesson}"
        lines.append(f"Discovered {m.category} -> {how} (triggers {', '.join(m.triggers)})")
    helpers = Counter(h for e in current.episodes for h in e.helpers)
    if helpers:
        ranked = sorted(helpers.items(), key=lambda kv: (-kv[1], kv[0]))
        lines += ["", "Helpers recommended: " + ", ".join(f"{h} {n}" for h, n in ranked)]
    failures = {k: v for k, v in current.analysis_failures.items() if v}
    if failures:
        lines.append("Failed analyses: " + ", ".join(f"{k} {v}" for k, v in failures.items()))
    if any(len(e.primary_errors) > 1 for e in current.episodes):
        lines.append("(episodes may have several primary errors: shares can add up to over 100%)")
    return "\n".join(lines)

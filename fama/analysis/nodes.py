"""Nodes and fan-out edges of the failure-analysis graph (wired in fama.graph.analysis_graph).

Per failed episode: one analyst per category and one category proposer run in parallel
(``Send``); after all of them, the analyst model merges the proposals by meaning into new
categories, and the mitigation agent decides for each new category (``Send``) which existing
helpers address it or writes a lesson for it; then one orchestrator per episode fuses its
analysts' verdicts into the primary error(s) and hands over (``Command(goto=Send(...))``) to
that episode's mitigation step.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Literal, NotRequired, TypedDict

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from fama.analysis.causes import render_causes
from fama.analysis.context import AnalysisContext
from fama.analysis.discovered import mitigate_category
from fama.analysis.episodes import FailedEpisode
from fama.analysis.llm import ask_json
from fama.analysis.meaning import merge_by_meaning
from fama.analysis.mitigation import Coverage, addressable, choose_helpers
from fama.analysis.proposals import merge_proposals, slugify
from fama.analysis.render import render_evaluation, render_transcript
from fama.analysis.schemas import (
    AnalystAnswer,
    AnalystVerdict,
    Attribution,
    CategoryMitigationRecord,
    MitigationAnswer,
    OrchestratorAnswer,
    Proposal,
    ProposedCategory,
    ProposerAnswer,
    Recommendation,
)
from fama.core.categories import Category
from fama.core.fama_config import CategoryMitigation
from fama.core.state import LLMCall
from fama.helpers.registry import HELPERS, coverage
from fama.helpers.triggers import coverage_of
from fama.prompts import load_prompt

ANALYST_PROMPT = "analyst"
PROPOSER_PROMPT = "category_proposer"
ORCHESTRATOR_PROMPT = "analysis_orchestrator"
MITIGATION_PROMPT = "mitigation_recommender"
NO_POLICY = "(the policy text is not available)"
CATEGORIES_READY = "categories_ready"


class MergeInfo(TypedDict):
    """How the proposals were merged (``llm``, ``wording`` fallback, ``none``) and why not."""

    source: Literal["llm", "wording", "none"]
    error: str | None


class AnalysisState(TypedDict):
    """Failed episodes in; verdicts, attributions and helper recommendations out."""

    episodes: list[FailedEpisode]
    verdicts: NotRequired[Annotated[list[AnalystVerdict], operator.add]]
    proposals: NotRequired[Annotated[list[Proposal], operator.add]]
    new_categories: NotRequired[list[ProposedCategory]]
    merge: NotRequired[MergeInfo]
    category_mitigations: NotRequired[Annotated[list[CategoryMitigationRecord], operator.add]]
    attributions: NotRequired[Annotated[list[Attribution], operator.add]]
    recommendations: NotRequired[Annotated[list[Recommendation], operator.add]]
    llm_calls: NotRequired[Annotated[list[LLMCall], operator.add]]


class AnalystTask(TypedDict):
    """Payload of one analyst: an episode and the category to judge."""

    episode: FailedEpisode
    category: Category


class ProposerTask(TypedDict):
    """Payload of the category proposer for one episode."""

    episode: FailedEpisode


class CategoryTask(TypedDict):
    """Payload of the mitigation agent for one discovered category."""

    category: ProposedCategory
    episodes: list[FailedEpisode]
    proposals: dict[str, Proposal]


class OrchestratorTask(TypedDict):
    """Payload of one orchestrator: the episode, its verdicts, its merged new category, and
    which helpers address the discovered categories."""

    episode: FailedEpisode
    verdicts: list[AnalystVerdict]
    extra_category: Category | None
    coverage: dict[str, list[str]]


class MitigationTask(TypedDict):
    """Payload of one mitigation step: the attribution, the categories it names, and which
    helpers address the discovered categories."""

    episode: FailedEpisode
    attribution: Attribution
    categories: list[Category]
    coverage: dict[str, list[str]]


def _views(episode: FailedEpisode, ctx: AnalysisContext) -> dict[str, str]:
    """The texts every analysis prompt of an episode shares."""
    return {
        "policy": episode.policy.strip() or NO_POLICY,
        "evaluation": render_evaluation(episode.reward, episode.reward_info, episode.termination),
        "transcript": render_transcript(
            episode.records, max_tool_chars=ctx.max_tool_chars, max_text_chars=ctx.max_text_chars
        ),
    }


def _steps(steps: Sequence[int], episode: FailedEpisode) -> list[int]:
    """Evidence indices that point into the trajectory, sorted."""
    return sorted({s for s in steps if 0 <= s < len(episode.records)})


def _category_list(categories: Sequence[Category]) -> str:
    return "\n".join(f"- `{c.id}` ({c.name}): {c.definition}" for c in categories)


def fan_out_analyses(state: AnalysisState, runtime: Runtime[AnalysisContext]) -> list[Send] | str:
    """One analyst per (episode, category) and one proposer per episode."""
    ctx = runtime.context
    sends: list[Send] = []
    for episode in state["episodes"]:
        sends += [Send("analyst", {"episode": episode, "category": c}) for c in ctx.categories]
        if ctx.propose_categories:
            sends.append(Send("proposer", {"episode": episode}))
    return sends or END


async def analyst(state: AnalystTask, runtime: Runtime[AnalysisContext]) -> dict[str, object]:
    """Decide whether one category of error occurred in one failed trajectory.

    The prompt (``analyst`` v2) puts what every analyst of the trajectory shares (policy,
    evaluation, conversation) before the category, so a server's prompt cache reads it once.
    """
    ctx, episode, category = runtime.context, state["episode"], state["category"]
    prompt = load_prompt(ANALYST_PROMPT).render(
        category_id=category.id,
        category_name=category.name,
        category_definition=category.definition,
        causes=render_causes(category.id),
        **_views(episode, ctx),
    )
    answer = await ask_json(
        ctx.model,
        prompt,
        AnalystAnswer,
        node=f"analyst:{category.id}",
        model_name=ctx.model_name,
        attempts=ctx.attempts,
    )
    value = answer.value
    verdict: AnalystVerdict = {
        "episode": episode.key,
        "category": category.id,
        "occurred": None if value is None else value.occurred,
        "recovered": bool(value and value.recovered),
        "rationale": "" if value is None else value.rationale.strip(),
        "evidence_steps": [] if value is None else _steps(value.evidence_steps, episode),
        "error": answer.error,
    }
    return {"verdicts": [verdict], "llm_calls": answer.calls}


async def proposer(state: ProposerTask, runtime: Runtime[AnalysisContext]) -> dict[str, object]:
    """Propose a new category when the failure fits none of the existing ones."""
    ctx, episode = runtime.context, state["episode"]
    prompt = load_prompt(PROPOSER_PROMPT).render(
        categories=_category_list(ctx.categories), **_views(episode, ctx)
    )
    answer = await ask_json(
        ctx.model,
        prompt,
        ProposerAnswer,
        node="proposer",
        model_name=ctx.model_name,
        attempts=ctx.attempts,
    )
    value = answer.value
    new = None if value is None or value.covered_by_existing else value.new_category
    proposal: Proposal = {
        "episode": episode.key,
        "name": None if new is None else new.name.strip(),
        "definition": "" if new is None else new.definition.strip(),
        "rationale": "" if value is None else value.rationale.strip(),
        "evidence_steps": [] if value is None else _steps(value.evidence_steps, episode),
        "error": answer.error,
    }
    return {"proposals": [proposal], "llm_calls": answer.calls}


async def merge_categories(
    state: AnalysisState, runtime: Runtime[AnalysisContext]
) -> dict[str, object]:
    """Turn proposals recurring in enough episodes into new categories, merged by meaning
    (the analyst model judges duplicates) or, if so configured, by wording (no LLM)."""
    ctx = runtime.context
    proposals = state.get("proposals", [])
    if not ctx.merge_by_meaning:
        categories = merge_proposals(
            proposals, existing=ctx.categories, min_episodes=ctx.min_proposal_episodes
        )
        return {"new_categories": categories, "merge": {"source": "wording", "error": None}}
    outcome = await merge_by_meaning(
        proposals,
        existing=ctx.categories,
        model=ctx.model,
        model_name=ctx.model_name,
        min_episodes=ctx.min_proposal_episodes,
        attempts=ctx.attempts,
    )
    return {
        "new_categories": outcome.categories,
        "merge": {"source": outcome.source, "error": outcome.error},
        "llm_calls": outcome.calls,
    }


def fan_out_category_mitigations(state: AnalysisState) -> list[Send] | str:
    """One mitigation agent per discovered category (straight on when there is none)."""
    episodes = {e.key: e for e in state["episodes"]}
    proposals = {p["episode"]: p for p in state.get("proposals", [])}
    sends = [
        Send(
            "mitigate_category",
            {
                "category": c,
                "episodes": [episodes[k] for k in c["episodes"] if k in episodes],
                "proposals": {k: proposals[k] for k in c["episodes"] if k in proposals},
            },
        )
        for c in state.get("new_categories", [])
    ]
    return sends or CATEGORIES_READY


async def mitigate_category_node(
    state: CategoryTask, runtime: Runtime[AnalysisContext]
) -> dict[str, object]:
    """Map one discovered category to existing helpers, or write a lesson for it."""
    ctx = runtime.context
    record, calls = await mitigate_category(
        state["category"],
        state["episodes"],
        state["proposals"],
        model=ctx.model,
        model_name=ctx.model_name,
        attempts=ctx.attempts,
    )
    return {"category_mitigations": [record], "llm_calls": calls}


def categories_ready(state: AnalysisState) -> dict[str, object]:
    """Join point: every discovered category has its mitigation."""
    return {}


def discovered_coverage(records: Sequence[CategoryMitigationRecord]) -> dict[str, list[str]]:
    """Discovered category -> the helpers that address it (``lessons`` for a lesson)."""
    return coverage_of(
        CategoryMitigation(category=r["category"], helpers=r["helpers"], lesson=r["lesson"])
        for r in records
    )


def fan_out_orchestrators(state: AnalysisState) -> list[Send]:
    """One orchestrator per episode, with its verdicts and its merged new category if any."""
    extra = {
        key: Category(c["id"], c["name"], c["definition"])
        for c in state.get("new_categories", [])
        for key in c["episodes"]
    }
    verdicts = state.get("verdicts", [])
    covered = discovered_coverage(state.get("category_mitigations", []))
    return [
        Send(
            "orchestrator",
            {
                "episode": e,
                "verdicts": [v for v in verdicts if v["episode"] == e.key],
                "extra_category": extra.get(e.key),
                "coverage": covered,
            },
        )
        for e in state["episodes"]
    ]


def _report(verdict: AnalystVerdict) -> str:
    if verdict["occurred"] is None:
        return f"- `{verdict['category']}`: analysis failed ({verdict['error']})"
    said = "OCCURRED" if verdict["occurred"] else "did not occur"
    if verdict["occurred"] and verdict["recovered"]:
        said += " (analyst says the agent recovered)"
    return (
        f"- `{verdict['category']}`: {said}; evidence steps {verdict['evidence_steps']}; "
        f"{verdict['rationale']}"
    )


def _fallback(verdicts: Sequence[AnalystVerdict]) -> list[str]:
    """Analyst votes when the orchestrator failed: errors that occurred and were not recovered."""
    return [v["category"] for v in verdicts if v["occurred"] and not v["recovered"]]


def _known(ids: Sequence[str], allowed: Sequence[Category]) -> list[str]:
    """Map answer ids (or names) onto allowed category ids, dropping unknown ones."""
    lookup = {slugify(k): c.id for c in allowed for k in (c.id, c.name)}
    return list(dict.fromkeys(lookup[slugify(i)] for i in ids if slugify(i) in lookup))


async def orchestrator(
    state: OrchestratorTask, runtime: Runtime[AnalysisContext]
) -> Command[Literal["mitigation"]]:
    """Fuse the analysts' verdicts into the primary error(s); recovered errors not blamed."""
    ctx, episode, verdicts = runtime.context, state["episode"], state["verdicts"]
    allowed = [*ctx.categories, *([state["extra_category"]] if state["extra_category"] else [])]
    prompt = load_prompt(ORCHESTRATOR_PROMPT).render(
        categories=_category_list(allowed),
        reports="\n".join(_report(v) for v in verdicts) or "- (no analyst reports)",
        **_views(episode, ctx),
    )
    answer = await ask_json(
        ctx.model,
        prompt,
        OrchestratorAnswer,
        node="orchestrator",
        model_name=ctx.model_name,
        attempts=ctx.attempts,
    )
    value, error = answer.value, answer.error
    primary = [] if value is None else _known(value.primary_errors, allowed)
    if value is not None and value.primary_errors and not primary:
        error = f"orchestrator named unknown categories {value.primary_errors}"
        value = None
    attribution: Attribution = (
        {
            "episode": episode.key,
            "primary_errors": primary,
            "recovered_errors": [
                c for c in _known(value.recovered_errors, allowed) if c not in primary
            ],
            "rationale": value.rationale.strip(),
            "evidence_steps": _steps(value.evidence_steps, episode),
            "source": "orchestrator",
            "error": None,
        }
        if value is not None
        else {
            "episode": episode.key,
            "primary_errors": _fallback(verdicts),
            "recovered_errors": [],
            "rationale": "orchestrator failed; primary errors taken from the analysts' votes",
            "evidence_steps": sorted(
                {
                    s
                    for v in verdicts
                    if v["occurred"] and not v["recovered"]
                    for s in v["evidence_steps"]
                }
            ),
            "source": "analyst_fallback",
            "error": error,
        }
    )
    named = {c.id: c for c in allowed}
    payload: MitigationTask = {
        "episode": episode,
        "attribution": attribution,
        "categories": [named[c] for c in attribution["primary_errors"] if c in named],
        "coverage": state["coverage"],
    }
    return Command(
        update={"attributions": [attribution], "llm_calls": answer.calls},
        goto=Send("mitigation", payload),
    )


def _helper_list(extra: Coverage) -> str:
    """The helpers that address something, with every category they address."""
    return "\n".join(
        f"- `{name}`: {HELPERS[name].description} Addresses: {', '.join(sorted(cats))}."
        for name, cats in coverage(extra).items()
        if cats
    )


async def mitigation(state: MitigationTask, runtime: Runtime[AnalysisContext]) -> dict[str, object]:
    """Recommend the minimal helper set covering the episode's primary errors."""
    ctx, attribution, extra = runtime.context, state["attribution"], state["coverage"]
    primary = attribution["primary_errors"]
    targets = addressable(primary, extra)
    uncovered = [c for c in primary if c not in targets]
    recommendation: Recommendation = {
        "episode": attribution["episode"],
        "helpers": [],
        "source": "none",
        "rationale": "no primary error that a helper addresses",
        "uncovered": uncovered,
    }
    if not targets:
        return {"recommendations": [recommendation]}
    errors = "\n".join(f"- `{c.id}` ({c.name}): {c.definition}" for c in state["categories"])
    prompt = load_prompt(MITIGATION_PROMPT).render(
        errors=errors,
        rationale=attribution["rationale"] or "(none)",
        helpers=_helper_list(extra),
    )
    answer = await ask_json(
        ctx.model,
        prompt,
        MitigationAnswer,
        node="mitigation",
        model_name=ctx.model_name,
        attempts=ctx.attempts,
    )
    helpers, from_llm = choose_helpers(
        None if answer.value is None else answer.value.helpers, targets, extra
    )
    recommendation = {
        **recommendation,
        "helpers": helpers,
        "source": "llm" if from_llm else "minimal_cover",
        "rationale": (
            answer.value.rationale.strip()
            if from_llm and answer.value is not None
            else "the registry's minimal cover of the primary errors"
        ),
    }
    return {"recommendations": [recommendation], "llm_calls": answer.calls}

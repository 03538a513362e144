"""``fama analyze``: failure analysis of a stored run into a taxonomy and a FAMA configuration.

Examples::

    fama analyze retail-train-fc-20260101 --split train --analyst-model openai:gpt-4o
    fama analyze RUN_ID --analyst-model openai:qwen2.5-72b --base-url http://gpu:8000/v1

Failed episodes (reward < 1; infrastructure errors excluded) of one split are analysed: one
analyst per failure category and a category proposer run in parallel per episode, an
orchestrator picks the primary error(s), and a mitigation step recommends helpers. Proposed
categories are merged by meaning (the analyst model judges duplicates); each new category is
mapped to existing helpers or given a lesson by the mitigation agent. Writes
``taxonomy.json`` and ``fama_config.json`` to ``--out`` (default ``fama-analysis/RUN_ID``).
Evaluate the configuration on a different split than the one analysed. The per-episode
failure labels are also saved in the run store (``fama compare`` and ``fama view`` read them);
analysing the same episodes again replaces their labels.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.core.paths import DEFAULT_DB, safe_name

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.analysis.episodes import FailedEpisode
    from fama.analysis.schemas import Recommendation
    from fama.analysis.taxonomy import Taxonomy
    from fama.llm.models import ModelSpec
    from fama.runs.analysis import AnalysisResult
    from fama.runs.store import EpisodeLabelRow, RunInfo, RunStore

ModelFactory = Callable[["ModelSpec"], "BaseChatModel"]
ANALYST_MODEL_ENV = "FAMA_ANALYST_MODEL"
CONFIG_FILE = "fama_config.json"


class AnalyzeError(ValueError):
    """A problem with the options or the run (reported without a traceback, exit code 2)."""


def register(subparsers: Any) -> None:
    """Add the ``analyze`` sub-command."""
    parser = subparsers.add_parser(
        "analyze",
        help="analyse a run's failed episodes into a taxonomy and a FAMA configuration",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument(
        "--split", default="train", help="split to analyse (default train; 'all' for every one)"
    )
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"run store (default {DEFAULT_DB})"
    )
    parser.add_argument(
        "--analyst-model",
        help=f"provider:model of the analysts (default ${ANALYST_MODEL_ENV}, else the run's "
        "judge or user model)",
    )
    parser.add_argument("--base-url", help="OpenAI-compatible server of the analyst model")
    parser.add_argument(
        "--max-output-tokens",
        metavar="analyst=TOKENS",
        help="output-token limit of every analyst call (default analyst=1024)",
    )
    parser.add_argument("--out", type=Path, help="output folder (default fama-analysis/RUN_ID)")
    parser.add_argument("--data-dir", type=Path, help="tau2 data folder (for the policy text)")
    parser.add_argument(
        "--max-concurrency", type=int, default=4, help="parallel LLM calls (default 4)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.2,
        help="share of failed episodes a helper must be recommended for (default 0.2)",
    )
    parser.add_argument(
        "--categories",
        type=Path,
        metavar="TAXONOMY",
        help="analyse with the categories of an existing (possibly edited) taxonomy.json",
    )
    parser.add_argument("--no-propose", action="store_true", help="do not propose new categories")
    parser.add_argument("--limit", type=int, help="analyse at most this many failed episodes")
    parser.set_defaults(func=analyze_command)


def analyze_command(args: argparse.Namespace, *, model_factory: ModelFactory | None = None) -> int:
    """Run the analysis described by ``args``; returns the exit code."""
    from fama.llm.models import ModelConfigError
    from fama.runs.store import StoreError
    from fama.serving.session import LocalServingError, UnknownLocalModelError

    try:
        return _analyze(args, model_factory)
    except (AnalyzeError, ModelConfigError, UnknownLocalModelError) as exc:
        print(f"fama analyze: {exc}", file=sys.stderr)
        return 2
    except (StoreError, LocalServingError) as exc:
        print(f"fama analyze: {exc}", file=sys.stderr)
        return 1


def _analyst_spec(args: argparse.Namespace, run: RunInfo) -> ModelSpec:
    """The analyst model: the option, the environment variable, else the run's judge/user."""
    from fama.core.output_limits import OutputLimitError, OutputLimits
    from fama.llm.models import ModelSpec

    try:
        max_tokens = OutputLimits.parse(args.max_output_tokens).for_node("analyst")
    except OutputLimitError as exc:
        raise AnalyzeError(f"--max-output-tokens: {exc}") from exc
    config = run.config
    for model, base_url in (
        (args.analyst_model, args.base_url),
        (os.environ.get(ANALYST_MODEL_ENV), args.base_url),
        (config.get("judge_model"), args.base_url or config.get("judge_base_url")),
        (config.get("user_model"), args.base_url or config.get("user_base_url")),
    ):
        if model:
            return ModelSpec(model=model, base_url=base_url, temperature=0.0, max_tokens=max_tokens)
    raise AnalyzeError(f"no analyst model: pass --analyst-model or set {ANALYST_MODEL_ENV}")


def _policies(domains: set[str], run: RunInfo, data_dir: Path | None) -> dict[str, str]:
    """Each domain's policy text; missing data only costs the analysts some context."""
    from fama.benchmarks.registry import run_policy

    try:
        policy = run_policy(run.config, data_dir)
    except (OSError, ValueError) as exc:
        print(f"note: no policy text for {', '.join(sorted(domains))} ({exc})", file=sys.stderr)
        policy = ""
    return dict.fromkeys(domains, policy)


def _load_episodes(
    store: RunStore, args: argparse.Namespace, run: RunInfo
) -> tuple[list[FailedEpisode], list[str]]:
    """The failed episodes to analyse, and every task of the split (the passed ones too)."""
    from fama.analysis.episodes import from_stored

    split = None if args.split == "all" else args.split
    stored = store.episodes(args.run_id, failed_only=True, split=split)
    every = store.episodes(args.run_id, split=split, messages=False)
    if not every:
        present = sorted({str(e.split) for e in store.episodes(args.run_id, messages=False)})
        raise AnalyzeError(
            f"run {args.run_id!r} has no episodes in split {args.split!r} "
            f"(splits present: {', '.join(present) or 'none'}; --split all takes every one)"
        )
    if args.limit is not None:
        stored = stored[: args.limit]
    policies = _policies({e.domain for e in stored}, run, args.data_dir)
    task_ids = sorted({e.task_id for e in every})
    return [from_stored(e, policies[e.domain]) for e in stored], task_ids


def _progress(total: int) -> Callable[[Recommendation], None]:
    done = [0]

    def report(recommendation: Recommendation) -> None:
        done[0] += 1
        helpers = ", ".join(recommendation["helpers"]) or "none"
        print(
            f"[{done[0]}/{total}] {recommendation['episode']}: helpers {helpers}",
            file=sys.stderr,
        )

    return report


def _categories(path: Path | None) -> Sequence[Any]:
    from fama.analysis.taxonomy import Taxonomy
    from fama.core.categories import SEED_CATEGORIES

    if path is None:
        return SEED_CATEGORIES
    try:
        return Taxonomy.load(path).category_objects()
    except ValueError as exc:
        raise AnalyzeError(str(exc)) from exc


def _write(result: AnalysisResult, out: Path) -> list[Path]:
    """Save the taxonomy and the configuration(s); one file per environment if several."""
    out.mkdir(parents=True, exist_ok=True)
    taxonomy_path = out / "taxonomy.json"
    result.taxonomy.save(taxonomy_path)
    written = [taxonomy_path]
    for environment, config in result.configs.items():
        name = (
            CONFIG_FILE
            if len(result.configs) == 1
            else f"fama_config_{environment.replace(':', '_')}.json"
        )
        config.save(out / name)
        written.append(out / name)
    return written


def label_rows(taxonomy: Taxonomy) -> list[EpisodeLabelRow]:
    """The taxonomy's per-episode labels as run-store rows.

    Primary errors -> ``primary=True``; recovered errors (source ``analyze``) and categories
    an analyst flagged that the attribution did not name (source ``analyze:analyst``) ->
    ``primary=False``. Each category appears once per episode, the first reason winning.
    """
    from fama.runs.store import EpisodeLabelRow

    rows: list[EpisodeLabelRow] = []
    for label in taxonomy.episodes:
        trial = label.trial
        if trial is None:
            continue
        reasons = [
            *(
                (c, True, label.rationale, label.evidence_steps, "analyze")
                for c in label.primary_errors
            ),
            *(
                (c, False, label.rationale, label.evidence_steps, "analyze")
                for c in label.recovered_errors
            ),
            *(
                (a.category, False, a.rationale, a.evidence_steps, "analyze:analyst")
                for a in label.analysts
                if a.occurred
            ),
        ]
        seen: set[str] = set()
        for category, primary, rationale, steps, source in reasons:
            if category not in seen:
                seen.add(category)
                rows.append(
                    EpisodeLabelRow(
                        task_id=label.task_id,
                        trial=trial,
                        category=category,
                        primary=primary,
                        rationale=rationale,
                        evidence_steps=tuple(steps),
                        source=source,
                    )
                )
    return rows


def _save_labels(db: Path, run_id: str, taxonomy: Taxonomy) -> str:
    """Store the labels in the run store; a one-line summary of what was saved."""
    from fama.runs.store import RunStore

    rows = label_rows(taxonomy)
    analysed = [(e.task_id, e.trial) for e in taxonomy.episodes if e.trial is not None]
    with RunStore(db, create=False) as store:
        store.save_labels(run_id, rows, episodes=analysed)
    primary = sum(r.primary for r in rows)
    return (
        f"saved {len(rows)} failure labels ({primary} primary) of {len(analysed)} analysed "
        f"episodes to run {run_id} in {db} (read by `fama compare` and `fama view`)"
    )


def _analyze(args: argparse.Namespace, model_factory: ModelFactory | None) -> int:
    from fama.analysis.taxonomy import format_table
    from fama.llm.models import resolve_chat_model
    from fama.runs.analysis import AnalysisSettings, analyze_episodes
    from fama.runs.store import RunStore
    from fama.serving.session import served_models

    if args.max_concurrency < 1:
        raise AnalyzeError("--max-concurrency must be at least 1")
    if not 0.0 < args.threshold <= 1.0:
        raise AnalyzeError("--threshold must be in (0, 1]")
    if args.limit is not None and args.limit < 1:
        raise AnalyzeError("--limit must be at least 1")
    if not args.db.exists():
        raise AnalyzeError(f"run store {args.db} does not exist (see --db)")
    categories = tuple(_categories(args.categories))
    with RunStore(args.db) as store:
        run = store.load_run(args.run_id)
        episodes, task_ids = _load_episodes(store, args, run)
    spec = _analyst_spec(args, run)
    split = None if args.split == "all" else args.split
    environment = run.config.get("env")
    settings = AnalysisSettings(
        run_id=args.run_id,
        split=split,
        backbone=str(run.config.get("model") or "unknown"),
        environments={run.config["domain"]: environment}
        if environment and run.config.get("domain")
        else {},
        task_set=run.config.get("task_set"),
        analysed_task_ids=tuple(task_ids),
        categories=categories,
        propose_categories=not args.no_propose,
        threshold=args.threshold,
        max_concurrency=args.max_concurrency,
    )
    print(
        f"analysing {len(episodes)} failed episodes of run {args.run_id} (split {args.split}) "
        f"with {spec.model}",
        file=sys.stderr,
    )
    with ExitStack() as stack, served_models({"analyst": spec}, stack) as live:
        live_spec = live["analyst"] or spec
        model = (model_factory or resolve_chat_model)(live_spec)
        result = asyncio.run(
            analyze_episodes(
                episodes,
                model=model,
                model_name=spec.model,
                settings=settings,
                on_recommendation=_progress(len(episodes)),
            )
        )
    labels = result.taxonomy.episodes
    if labels and all(a.occurred is None for e in labels for a in e.analysts):
        print(
            "fama analyze: every analyst call failed (is the analyst model reachable?); "
            "nothing written",
            file=sys.stderr,
        )
        return 1
    out = args.out or Path("fama-analysis") / safe_name(args.run_id)
    written = _write(result, out)
    saved = _save_labels(args.db, args.run_id, result.taxonomy)
    print(format_table(result.taxonomy))
    for config in result.configs.values():
        params = "; ".join(f"{h} {p}" for h, p in config.params.items() if p)
        print(
            f"\nFAMA configuration for {config.backbone} on {config.environment}: "
            f"helpers {', '.join(config.helpers) or 'none'}" + (f" ({params})" if params else "")
        )
    print("\nwrote " + ", ".join(str(p) for p in written))
    print(saved)
    print(
        f"reminder: this configuration was derived from split {args.split!r} "
        f"({len(task_ids)} tasks); evaluate it on other tasks (e.g. --split test). "
        "`fama run` refuses it on overlapping tasks unless --allow-overlap.",
        file=sys.stderr,
    )
    return 0

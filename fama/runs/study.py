"""The paper's protocol as one resumable study: train baseline -> analysis -> four test arms.

Stages, in order (each skipped when its result is already stored):

1. ``baseline-train``: the function-calling baseline on the train tasks;
2. ``analysis``: its failures analysed into ``taxonomy.json`` and ``fama_config.json``;
3. on the test tasks: ``baseline`` (fc), ``fama-static`` and ``fama-dynamic`` (with the
   configuration) and ``all-helpers`` (every helper every decision, IRMA-like);
4. ``compare``: ``compare.html`` and ``results.md`` (a table laid out like the paper's:
   pass^1..k per agent, token overhead, latency), rewritten every time.

The stages are run by a ``StudyStages`` (the command layer calls ``fama run`` and
``fama analyze`` in-process); this module decides what is left to do, records the plan in
``study.json`` (a resumed study must have the same plan) and writes the results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from fama.core.fama_config import FamaConfig, FamaMode
from fama.runs.compare import Comparison, build_comparison
from fama.runs.compare_render import render_html, render_markdown
from fama.runs.store import RunNotFoundError, RunStore

STUDY_FILE = "study.json"
CONFIG_FILE = "fama_config.json"
TAXONOMY_FILE = "taxonomy.json"
RESULTS_FILE = "results.md"
COMPARE_FILE = "compare.html"
TRAIN_STAGE = "baseline-train"


class StudyError(RuntimeError):
    """A stage failed or the study cannot go on (the message says how to resume)."""


@dataclass(frozen=True)
class Arm:
    """One agent evaluated on the test tasks (``baseline``: the plan's backbone)."""

    stage: str
    label: str
    agent: Literal["baseline", "fama"]
    mode: FamaMode | None
    uses_config: bool


ARMS: tuple[Arm, ...] = (
    Arm("baseline", "FC (baseline)", "baseline", None, False),
    Arm("fama-static", "FAMA static", "fama", "static", True),
    Arm("fama-dynamic", "FAMA dynamic", "fama", "dynamic", True),
    Arm("all-helpers", "All helpers (IRMA-like)", "fama", "all", False),
)


class StudyPlan(BaseModel):
    """What the study runs: the same plan must be given to resume it."""

    model_config = ConfigDict(frozen=True)

    env: str
    model: str
    train_split: str | None
    test_split: str | None
    train_task_ids: list[str]
    test_task_ids: list[str]
    train_trials: int
    trials: int
    prefix: str
    run_options: list[str]  # further `fama run` options, the same for every run
    fama_options: list[str] = []  # `fama run` options of the FAMA runs only
    backbone: Literal["fc", "react"] = "fc"  # the baseline's agent and FAMA's tool use

    def run_id(self, stage: str) -> str:
        """The run id of a stage."""
        return f"{self.prefix}-{stage}"


class StudyStages(Protocol):
    """Runs the stages (``fama run`` / ``fama analyze``); each returns an exit code."""

    def run(
        self,
        run_id: str,
        *,
        split: str | None,
        task_ids: Sequence[str],
        trials: int,
        agent: str,
        mode: FamaMode | None,
        fama_config: Path | None,
    ) -> int: ...

    def analyze(self, run_id: str, *, split: str | None, out: Path) -> int: ...


@dataclass(frozen=True)
class StudyResult:
    """What the study wrote."""

    taxonomy: Path
    config: Path
    compare_html: Path
    results_md: Path
    ran: list[str]  # stages run now (the others were stored before)


def check_plan(out: Path, plan: StudyPlan) -> None:
    """Record the plan in ``out/study.json``, or check it against the recorded one."""
    path = out / STUDY_FILE
    if path.exists():
        try:
            stored = StudyPlan.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            raise StudyError(f"{path} is not a study plan ({exc}); use another --out") from exc
        if stored != plan:
            old, new = stored.model_dump(), plan.model_dump()
            changed = ", ".join(k for k in new if old.get(k) != new[k])
            raise StudyError(
                f"{out} holds a study with another plan (differs in: {changed}); resume it "
                "with the same options or use another --out"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")


def missing_episodes(store_path: Path, run_id: str, task_ids: Sequence[str], trials: int) -> int:
    """How many (task, trial) episodes of a run are not stored yet."""
    if not store_path.exists():
        return len(task_ids) * trials
    with RunStore(store_path, create=False) as store:
        try:
            store.load_run(run_id)
        except RunNotFoundError:
            return len(task_ids) * trials
        stored = store.finished_episode_keys(run_id)
    return sum((t, n) not in stored for t in task_ids for n in range(trials))


def analysis_done(out: Path, train_run: str) -> bool:
    """Whether ``out`` holds the analysis of the train run."""
    config_path = out / CONFIG_FILE
    if not (out / TAXONOMY_FILE).exists() or not config_path.exists():
        return False
    try:
        config = FamaConfig.load(config_path)
    except ValueError:
        return False
    return config.derived_from.get("run_id") == train_run


def run_study(
    plan: StudyPlan,
    out: Path,
    store_path: Path,
    stages: StudyStages,
    *,
    log: Callable[[str], None] = lambda _: None,
) -> StudyResult:
    """Run what is left of the study and write its results."""
    check_plan(out, plan)
    ran: list[str] = []

    def run(stage: str, split: str | None, ids: list[str], trials: int, arm: Arm | None) -> None:
        run_id = plan.run_id(stage)
        missing = missing_episodes(store_path, run_id, ids, trials)
        if not missing:
            log(f"[{stage}] stored: {len(ids) * trials} episodes of run {run_id}")
            return
        log(f"[{stage}] run {run_id}: {missing} of {len(ids) * trials} episodes to run")
        code = stages.run(
            run_id,
            split=split,
            task_ids=ids,
            trials=trials,
            agent=plan.backbone if arm is None or arm.agent != "fama" else "fama",
            mode=None if arm is None else arm.mode,
            fama_config=out / CONFIG_FILE if arm is not None and arm.uses_config else None,
        )
        if code != 0 or missing_episodes(store_path, run_id, ids, trials):
            raise StudyError(
                f"stage {stage} stopped (exit code {code}); run the same command again to resume"
            )
        ran.append(stage)

    train_run = plan.run_id(TRAIN_STAGE)
    run(TRAIN_STAGE, plan.train_split, plan.train_task_ids, plan.train_trials, None)
    if analysis_done(out, train_run):
        log(f"[analysis] stored: {out / TAXONOMY_FILE}, {out / CONFIG_FILE}")
    else:
        log(f"[analysis] analysing the failures of run {train_run}")
        code = stages.analyze(train_run, split=plan.train_split, out=out)
        if code != 0 or not analysis_done(out, train_run):
            raise StudyError(
                f"stage analysis stopped (exit code {code}); run the same command again to resume"
            )
        ran.append("analysis")
    for arm in ARMS:
        run(arm.stage, plan.test_split, plan.test_task_ids, plan.trials, arm)
    with RunStore(store_path, create=False) as store:
        comparison = build_comparison(
            store, [plan.run_id(a.stage) for a in ARMS], baseline=plan.run_id(ARMS[0].stage)
        )
    config = FamaConfig.load(out / CONFIG_FILE)
    compare_html = out / COMPARE_FILE
    compare_html.write_text(render_html(comparison), encoding="utf-8")
    results = out / RESULTS_FILE
    results.write_text(
        study_markdown(plan, comparison, config) + "\n" + render_markdown(comparison),
        encoding="utf-8",
    )
    return StudyResult(out / TAXONOMY_FILE, out / CONFIG_FILE, compare_html, results, ran)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def study_table(plan: StudyPlan, comparison: Comparison, config: FamaConfig) -> list[str]:
    """The paper-style table: one row per agent, pass^1..k (%), token overhead, latency."""
    rows = {r.run_id: r for r in comparison.overall.rows}
    k_max = max((len(r.metrics.pass_hat_k) for r in rows.values()), default=0)
    header = [
        "agent",
        *(f"pass^{k}" for k in range(1, k_max + 1)),
        "token overhead",
        "latency (s/episode)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm in ARMS:
        run_id = plan.run_id(arm.stage)
        row = rows.get(run_id)
        if row is None:
            continue
        label = arm.label.replace("FC", "ReAct") if plan.backbone == "react" else arm.label
        if arm.mode in ("static", "dynamic"):
            label += f" ({', '.join(config.helpers) or 'no helpers'})"
        overhead = comparison.tokens[run_id].overhead_pct.get("agent+helpers")
        latency = comparison.latency[run_id].episode_s
        cells = [
            label,
            *(_percent(row.metrics.pass_hat_k.get(k)) for k in range(1, k_max + 1)),
            "-" if arm.stage == ARMS[0].stage or overhead is None else f"{overhead:+.1f}%",
            "-" if latency is None else f"{latency.mean:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def study_markdown(plan: StudyPlan, comparison: Comparison, config: FamaConfig) -> str:
    """The study's summary: what was run, what the analysis found, the table."""
    top = sorted((c for c in config.categories if c.count), key=lambda c: -c.count)
    found = ", ".join(f"{c.id} {c.count}" for c in top) or "no attributed failures"
    lessons = config.lessons()
    lines = [
        f"# FAMA study: {plan.model} on {plan.env}",
        "",
        f"- train: {len(plan.train_task_ids)} tasks"
        + (f" (split {plan.train_split})" if plan.train_split else "")
        + f" x {plan.train_trials} trials; test: {len(plan.test_task_ids)} tasks"
        + (f" (split {plan.test_split})" if plan.test_split else "")
        + f" x {plan.trials} trials",
        f"- failure analysis (primary errors): {found}",
        f"- FAMA configuration: {', '.join(config.helpers) or 'no helpers'}"
        + (f"; {len(lessons)} lessons" if lessons else ""),
        f"- paired episodes: {comparison.episodes} on {comparison.tasks} tasks "
        f"({comparison.convention} convention)",
        "",
        "pass^k in %; token overhead: agent + helper tokens per episode over the baseline's;",
        "latency: mean wall time per episode.",
        "",
        *study_table(plan, comparison, config),
        "",
    ]
    return "\n".join(lines)

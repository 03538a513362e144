"""Baseline vs FAMA of the embedded models on each user-free or small-model-friendly setting.

Usage::

    python benchmarks/embedded_baselines.py --db embedded.sqlite \
        [--models local:qwen2.5-coder-0.5b,local:qwen2.5-coder-1.5b] \
        [--settings saas-admin,telecom-solo,...] [--arms baseline,fama] [--tasks N] \
        [--max-steps 12] [--report-only]

For every model (one local llama-server each, started once), setting and arm it runs
``fama run`` (resumable: stored episodes are kept) on the setting's test tasks, chosen like
``fama demo`` chooses them (tau2: judge-free tasks with a gold action, one per distinct gold
action sequence, shortest first, so the easier end of the split; ACEBench: the last tasks;
tau-trait and the own-domain example: the test split in order): 10 tasks of the own-domain
example, 5 of the others (a tau2 episode takes minutes here), unless ``--tasks`` says
otherwise. Arms:
``baseline``, the function-calling agent (run id ``emb-SETTING-MODEL``), and ``fama``, FAMA
dynamic with every helper in its pool and no configuration (run id ``emb-fama-SETTING-MODEL``;
the orchestrator's signals pick the helpers of each decision, so no train run or analysis is
needed), same model as helper model.
Then it prints, from the stored runs only, two Markdown tables: per setting and model, each
arm's solved episodes and pass^1 with its 95% Wilson interval, the paired comparison (better /
worse episodes, exact sign-test p, agent + helper token overhead) and seconds per episode; and
each run's terminations. ``--report-only`` prints the tables without running anything.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from fama.commands.child import run_fama
from fama.commands.demo import SETTINGS, DemoSetting, demo_task_ids
from fama.runs.compare import CompareError, build_comparison
from fama.runs.metrics import is_success
from fama.runs.stats import SignTest, wilson_interval
from fama.runs.store import EpisodeRecord, RunStore

EXTRA_SETTINGS = {
    "retail-chat": DemoSetting(
        "tau2:retail", ("--user-style", "chat"), "train", "test", "tau2 retail, chat user"
    ),
    "airline-transcript": DemoSetting(
        "tau2:airline", ("--user-style", "transcript"), "train", "test", "tau2 airline"
    ),
    # tau-trait's test split in file order: its first tasks are tau-bench's retail test tasks
    # (the last ones, 115-119, have a gold state equal to the unchanged data)
    "tau-trait-retail-chat": DemoSetting(
        "tau-trait:retail", ("--user-style", "chat"), None, "test", "tau-trait retail, chat user"
    ),
    "tau-trait-retail-transcript": DemoSetting(
        "tau-trait:retail",
        ("--user-style", "transcript"),
        None,
        "test",
        "tau-trait retail, transcript user",
    ),
}
ALL_SETTINGS = {**SETTINGS, **EXTRA_SETTINGS}
# the README's table; the other settings run when asked for
TABLE_SETTINGS = (
    "saas-admin,acebench-multi-step,retail-transcript,tau-trait-retail-transcript,telecom-solo"
)
DEFAULT_MODELS = "local:qwen2.5-coder-0.5b,local:qwen2.5-coder-1.5b"
DEFAULT_TASKS = {"saas-admin": 10}  # 5 for every other setting
ARMS = {
    "baseline": ("--agent", "fc"),
    "fama": ("--agent", "fama", "--mode", "dynamic"),
}


def run_id(setting: str, model: str, arm: str = "baseline") -> str:
    """``emb-<setting>-<model name without provider>``; ``emb-fama-...`` for the FAMA arm."""
    prefix = "emb" if arm == "baseline" else f"emb-{arm}"
    return f"{prefix}-{setting}-{model.split(':', 1)[-1]}"


def select(setting: DemoSetting, data_dir: Path | None, tasks: int) -> list[str]:
    """The setting's evaluated task ids (``fama demo``'s choice of test tasks)."""
    return demo_task_ids(setting, data_dir, 0, tasks)[1]


def run_setting(
    name: str, model: str, base_url: str, args: argparse.Namespace, arm: str = "baseline"
) -> tuple[int, str]:
    """Run (or resume) one arm on one setting; the exit code and a one-line note."""
    setting = ALL_SETTINGS[name]
    try:
        ids = select(setting, args.data_dir, args.tasks or DEFAULT_TASKS.get(name, 5))
    except (OSError, ValueError) as exc:  # missing data, unknown environment
        return 2, f"{name}: not run ({exc})"
    if not ids:  # e.g. tau2 airline: every task has NL assertions (an LLM judge)
        return 2, f"{name}: not run (no task of the split is scored without an LLM judge)"
    split = ["--split", setting.test_split] if setting.test_split else []
    data = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    argv = [
        "run", "--env", setting.env, *setting.run_options,
        *split, *data, "--task-ids", *ids, "--trials", "1", *ARMS[arm],
        "--model", model, "--base-url", base_url, "--no-judge",
        "--tool-call-mode", "constrained", "--max-steps", str(args.max_steps),
        "--concurrency", "2", "--db", str(args.db), "--run-id", run_id(name, model, arm),
        "--no-progress",
    ]  # fmt: skip
    code = run_fama(argv)
    return code, f"{name} {arm} with {model}: exit {code}"


def scored_episodes(store: RunStore, rid: str, stored: set[str]) -> list[EpisodeRecord] | None:
    """The run's scored episodes; None when the run is not among the ``stored`` run ids."""
    if rid not in stored:
        return None
    return [e for e in store.episodes(rid, messages=False) if e.reward is not None]


def arm_cells(episodes: list[EpisodeRecord] | None) -> tuple[str, str]:
    """``solved / n`` and ``pass^1 [95% Wilson CI]`` of one arm (``not run`` when absent)."""
    if episodes is None:
        return "not run", ""
    if not episodes:
        return "0 scored", ""
    solved = sum(1 for e in episodes if is_success(e.reward))
    ci = wilson_interval(solved, len(episodes))
    return f"{solved} / {len(episodes)}", f"{ci.estimate:.0%} [{ci.low:.0%}, {ci.high:.0%}]"


def seconds(episodes: list[EpisodeRecord] | None) -> str:
    """Mean wall seconds per episode, or ``-``."""
    if not episodes:
        return "-"
    return f"{sum(e.duration_s for e in episodes) / len(episodes):.0f}"


def paired_cells(store: RunStore, base: str, fama: str) -> tuple[str, str]:
    """``better / worse (p)`` and the agent + helper token overhead of FAMA on the common
    episodes, or ``-`` when the two runs have none."""
    try:
        comparison = build_comparison(store, [base, fama])
    except CompareError:
        return "-", "-"
    delta = comparison.overall.rows[1].delta
    overhead = comparison.tokens[fama].overhead_pct.get("agent+helpers")
    sign = "-" if delta is None else _sign(delta.sign_test)
    return sign, "-" if overhead is None else f"{overhead:+.1f}%"


def _sign(test: SignTest) -> str:
    return f"{test.improved} / {test.worsened} (p {test.p_value:.2f})"


def table(store: RunStore, settings: list[str], models: list[str]) -> list[str]:
    """The Markdown rows: baseline vs FAMA per stored (setting, model), then terminations."""
    rows = [
        "| setting | model | baseline solved | baseline pass^1 [95% CI] | FAMA solved "
        "| FAMA pass^1 [95% CI] | FAMA better / worse (sign p) | token overhead "
        "| s / episode (baseline / FAMA) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ends = [
        "",
        "| setting | model | baseline terminations | FAMA terminations |",
        "|---|---|---|---|",
    ]
    stored = {run.run_id for run in store.list_runs()}
    for name in settings:
        for model in models:
            base_id, fama_id = run_id(name, model), run_id(name, model, "fama")
            base = scored_episodes(store, base_id, stored)
            fama = scored_episodes(store, fama_id, stored)
            if base is None and fama is None:
                rows.append(f"| {name} | {model} | not run | | | | | | |")
                continue
            paired = paired_cells(store, base_id, fama_id) if base and fama else ("-", "-")
            rows.append(
                f"| {name} | {model} | {' | '.join(arm_cells(base))} | "
                f"{' | '.join(arm_cells(fama))} | {paired[0]} | {paired[1]} | "
                f"{seconds(base)} / {seconds(fama)} |"
            )
            ends.append(f"| {name} | {model} | {terminations(base)} | {terminations(fama)} |")
    return rows + ends


def terminations(episodes: list[EpisodeRecord] | None) -> str:
    """How the scored episodes ended, most frequent first."""
    if not episodes:
        return "-"
    counts = Counter(e.termination or e.status for e in episodes).most_common()
    return ", ".join(f"{t} {n}" for t, n in counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument(
        "--settings", default=TABLE_SETTINGS, help=f"any of {', '.join(ALL_SETTINGS)}"
    )
    parser.add_argument("--arms", default=",".join(ARMS), help="baseline, fama or both")
    parser.add_argument(
        "--tasks", type=int, help="tasks per setting (default 10 on saas-admin, else 5)"
    )
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--data-dir", type=Path, help="tau2 data (default: resolved)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    settings = [s for s in args.settings.split(",") if s]
    arms = [a for a in args.arms.split(",") if a]
    unknown = sorted(set(settings) - set(ALL_SETTINGS)) + sorted(set(arms) - set(ARMS))
    if unknown or (args.tasks is not None and args.tasks < 1) or args.max_steps < 1:
        print(f"embedded_baselines: unknown settings/arms {unknown} or bad counts", file=sys.stderr)
        return 2
    if not args.report_only:
        from fama.serving import local_server_for

        for model in models:
            with ExitStack() as stack:
                server = stack.enter_context(local_server_for(model))
                for name in settings:
                    for arm in arms:
                        _, note = run_setting(name, model, str(server.base_url), args, arm)
                        print(note, file=sys.stderr, flush=True)
    with RunStore(args.db, create=False) as store:
        print("\n".join(table(store, settings, models)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Baseline success of the embedded models on each user-free or small-model-friendly setting.

Usage::

    python benchmarks/embedded_baselines.py --db embedded.sqlite \
        [--models local:qwen2.5-coder-0.5b,local:qwen2.5-coder-1.5b] \
        [--settings saas-admin,telecom-solo,...] [--tasks 10] [--max-steps 12] [--report-only]

For every model (one local llama-server each, started once) and setting it runs the
function-calling baseline with ``fama run`` (run id ``emb-SETTING-MODEL``, resumable: stored
episodes are kept) on the setting's test tasks, chosen like ``fama demo`` chooses them (tau2:
judge-free tasks with a gold action, one per distinct gold action sequence, shortest first, so
the easier end of the split; ACEBench: the last tasks; the own-domain example: the test split
in order). Then it prints, from the stored runs only, a Markdown table: episodes, solved,
pass^1 with its 95% Wilson interval, mean seconds per episode, terminations. ``--report-only``
prints the table of what is stored without running anything.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from fama.commands.child import run_fama
from fama.commands.demo import SETTINGS, DemoSetting, demo_task_ids
from fama.runs.metrics import is_success
from fama.runs.stats import wilson_interval
from fama.runs.store import RunStore

EXTRA_SETTINGS = {
    "airline-transcript": DemoSetting(
        "tau2:airline", ("--user-style", "transcript"), "train", "test", "tau2 airline"
    ),
    "tau-trait-retail": DemoSetting("tau-trait:retail", (), None, None, "tau-trait retail"),
}
ALL_SETTINGS = {**SETTINGS, **EXTRA_SETTINGS}
DEFAULT_MODELS = "local:qwen2.5-coder-0.5b,local:qwen2.5-coder-1.5b"


def run_id(setting: str, model: str) -> str:
    """``emb-<setting>-<model name without provider>``."""
    return f"emb-{setting}-{model.split(':', 1)[-1]}"


def select(setting: DemoSetting, data_dir: Path | None, tasks: int) -> list[str]:
    """The setting's evaluated task ids (``fama demo``'s choice of test tasks)."""
    return demo_task_ids(setting, data_dir, 0, tasks)[1]


def run_setting(name: str, model: str, base_url: str, args: argparse.Namespace) -> tuple[int, str]:
    """Run (or resume) one baseline; the exit code and a one-line note."""
    setting = ALL_SETTINGS[name]
    try:
        ids = select(setting, args.data_dir, args.tasks)
    except (OSError, ValueError) as exc:  # missing data, unknown environment
        return 2, f"{name}: not run ({exc})"
    if not ids:  # e.g. tau2 airline: every task has NL assertions (an LLM judge)
        return 2, f"{name}: not run (no task of the split is scored without an LLM judge)"
    split = ["--split", setting.test_split] if setting.test_split else []
    data = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    argv = [
        "run", "--env", setting.env, *setting.run_options,
        *split, *data, "--task-ids", *ids, "--trials", "1", "--agent", "fc",
        "--model", model, "--base-url", base_url, "--no-judge",
        "--tool-call-mode", "constrained", "--max-steps", str(args.max_steps),
        "--concurrency", "2", "--db", str(args.db), "--run-id", run_id(name, model),
        "--no-progress",
    ]  # fmt: skip
    code = run_fama(argv)
    return code, f"{name} with {model}: exit {code}"


def table(store: RunStore, settings: list[str], models: list[str]) -> list[str]:
    """The Markdown rows of every stored (setting, model) run."""
    rows = [
        "| setting | model | episodes | solved | pass^1 [95% CI] | s / episode | terminations |",
        "|---|---|---|---|---|---|---|",
    ]
    stored = {run.run_id for run in store.list_runs()}
    for name in settings:
        for model in models:
            if run_id(name, model) not in stored:
                rows.append(f"| {name} | {model} | not run | | | | |")
                continue
            episodes = store.episodes(run_id(name, model), messages=False)
            scored = [e for e in episodes if e.reward is not None]
            if not scored:
                rows.append(f"| {name} | {model} | 0 scored | | | | |")
                continue
            solved = sum(1 for e in scored if is_success(e.reward))
            ci = wilson_interval(solved, len(scored))
            seconds = sum(e.duration_s for e in scored) / len(scored)
            ends = Counter(e.termination or e.status for e in scored).most_common()
            rows.append(
                f"| {name} | {model} | {len(scored)} | {solved} | {ci.estimate:.0%} "
                f"[{ci.low:.0%}, {ci.high:.0%}] | {seconds:.0f} | "
                + ", ".join(f"{t} {n}" for t, n in ends)
                + " |"
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--settings", default=",".join(ALL_SETTINGS))
    parser.add_argument("--tasks", type=int, default=10, help="tasks per setting (default 10)")
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--data-dir", type=Path, help="tau2 data (default: resolved)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    settings = [s for s in args.settings.split(",") if s]
    unknown = sorted(set(settings) - set(ALL_SETTINGS))
    if unknown or args.tasks < 1 or args.max_steps < 1:
        print(f"embedded_baselines: unknown settings {unknown} or bad counts", file=sys.stderr)
        return 2
    if not args.report_only:
        from fama.serving import local_server_for

        for model in models:
            with ExitStack() as stack:
                server = stack.enter_context(local_server_for(model))
                for name in settings:
                    _, note = run_setting(name, model, str(server.base_url), args)
                    print(note, file=sys.stderr, flush=True)
    with RunStore(args.db, create=False) as store:
        print("\n".join(table(store, settings, models)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``fama demo``: the whole FAMA loop on the embedded model, baseline vs FAMA side by side.

Steps (one local model server serves every step):

1. benchmark data (tau2: ``--data-dir`` / ``FAMA_DATA_DIR`` / pulled copy, pulled if missing);
2. the model server (first time: llama-server build and model download, cached);
3. the function-calling baseline on train tasks;
4. ``fama analyze`` of its failures with the same embedded model as analyst: a failure
   taxonomy and a FAMA configuration (the helpers recommended for the top categories);
5. the baseline on held-out test tasks;
6. FAMA (static mode, the configuration from step 4) on the same test tasks;
7. the comparison: a printed table (solved, tokens, overhead, time, helpers chosen and the
   top failure categories), the comparison report and one viewer page per run.

Settings (``--setting``): ``saas-admin`` (default: the own-domain example of the repository,
``examples/saas_admin``, with the transcript-style user simulator and the 1.5B model: its
baseline solves some tasks and fails others), ``telecom-solo`` (tau2 telecom, solo mode: no
user simulator), ``retail-transcript`` (tau2 retail, transcript-style user simulator) and
``acebench-multi-step`` (ACEBench multi_step EN: user-free; needs the ACEBench data). On the
tau2 and ACEBench settings the embedded models solved nothing in our measurements (README).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fama.commands.child import run_fama

SMALL_MODEL = "local:qwen2.5-coder-0.5b"
"""For the long tau2 / ACEBench prompts: the 1.5B reads prompts at about 21 tokens/s on these
2-core machines (4 minutes for the first 5k-token tau2 call)."""
MEDIUM_MODEL = "local:qwen2.5-coder-1.5b"
"""For the own-domain example (1.7k-token prompts): the 0.5B solved 1 of 10 train tasks there
(a refusal), the 1.5B 2 of 10 train and 4 of 10 test tasks (README, "Embedded models")."""
EXAMPLE_ENV_FILE = Path(__file__).resolve().parents[2] / "examples" / "saas_admin" / "support.py"
TRAIN_RUN, BASELINE_RUN, FAMA_RUN = "demo-train", "demo-baseline", "demo-fama"
RUNS = (TRAIN_RUN, BASELINE_RUN, FAMA_RUN)
STEPS = 7


@dataclass(frozen=True)
class DemoSetting:
    """A benchmark setting the demo can run: environment, extra run options, task splits."""

    env: str
    run_options: tuple[str, ...]
    train_split: str | None  # None: no splits (first tasks train, last tasks test)
    test_split: str | None
    summary: str
    model: str = SMALL_MODEL  # the default --model


SETTINGS: dict[str, DemoSetting] = {
    "saas-admin": DemoSetting(
        f"python:{EXAMPLE_ENV_FILE}:make_env",
        ("--user-style", "transcript"),
        "train",
        "test",
        "the own-domain example examples/saas_admin, transcript-style user simulator",
        model=MEDIUM_MODEL,
    ),
    "telecom-solo": DemoSetting(
        "tau2:telecom", ("--solo",), "train", "test", "tau2 telecom, solo mode (no user)"
    ),
    "retail-transcript": DemoSetting(
        "tau2:retail",
        ("--user-style", "transcript"),
        "train",
        "test",
        "tau2 retail, transcript-style user simulator",
    ),
    "acebench-multi-step": DemoSetting(
        "acebench:multi_step", ("--lang", "en"), None, None, "ACEBench multi_step (EN)"
    ),
}
DEFAULT_SETTING = "saas-admin"


def register(subparsers: Any) -> None:
    """Add ``fama demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="the FAMA loop on the embedded model: baseline, analysis, FAMA, comparison",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--setting", choices=sorted(SETTINGS), default=DEFAULT_SETTING)
    parser.add_argument(
        "--model", help="agent, user and analyst (default: the setting's; saas-admin: 1.5B)"
    )
    parser.add_argument("--base-url", help="use this OpenAI-compatible server (no local one)")
    parser.add_argument("--train-tasks", type=int, default=2, help="train tasks (default 2)")
    parser.add_argument("--test-tasks", type=int, default=2, help="test tasks (default 2)")
    parser.add_argument("--max-steps", type=int, default=10, help="step limit per episode")
    parser.add_argument(
        "--analyst-max-tokens",
        type=int,
        default=256,
        help="output limit of each analyst reply (default 256: the 0.5B wrote its replies to "
        "the 1024-token analyst default at about 5 tokens/s)",
    )
    parser.add_argument("--data-dir", type=Path, help="benchmark data folder (default: resolved)")
    parser.add_argument("--out", type=Path, default=Path("fama-demo"), help="output folder")
    parser.set_defaults(func=demo_command)


def _step(number: int, text: str) -> None:
    print(f"[{number}/{STEPS}] {text}", file=sys.stderr, flush=True)


def _tau2_data_dir(explicit: Path | None) -> Path:
    from fama.core.paths import pulled_data_dir
    from fama.envs.tau2.data import DataNotFoundError, resolve_data_dir
    from fama.serving.tau2_data import pull_tau2

    try:
        return resolve_data_dir(explicit)
    except DataNotFoundError:
        if explicit is not None:
            raise
    dest = pulled_data_dir("tau2")
    pull_tau2(dest)
    return dest


def demo_task_ids(
    setting: DemoSetting, data_dir: Path | None, train: int, test: int
) -> tuple[list[str], list[str]]:
    """Train and test task ids: of each split, the tasks whose score needs no LLM judge (no NL
    assertions) and that need at least one action, one per distinct gold action sequence,
    shortest first (so the demo fits its time budget and its tasks differ), in file order
    where tasks carry no such criteria (tau-trait); without splits the first ``train`` and the
    last ``test`` tasks; with a test split only, no train tasks."""
    from fama.benchmarks.registry import BenchmarkOptions, load_benchmark

    solo = "--solo" in setting.run_options

    def ids(split: str | None) -> list[str]:
        loaded = load_benchmark(
            setting.env, BenchmarkOptions(data_dir=data_dir, split=split, solo=solo)
        )
        ranked: list[tuple[int, str, tuple[str, ...]]] = []
        for task in loaded.tasks:
            criteria = getattr(task, "evaluation_criteria", None)
            actions = tuple(a.name for a in getattr(criteria, "actions", None) or [])
            if criteria is None or (actions and not getattr(criteria, "nl_assertions", None)):
                ranked.append((len(actions), loaded.task_id(task), actions))
        chosen, seen = [], set()
        for _, task_id, actions in sorted(ranked, key=lambda item: item[0]):
            if actions not in seen or not actions:  # one task per gold solution shape
                seen.add(actions)
                chosen.append(task_id)
        return chosen

    if setting.test_split is None:
        every = ids(None)
        return every[:train], every[len(every) - test :]
    train_ids = ids(setting.train_split)[:train] if setting.train_split else []
    return train_ids, ids(setting.test_split)[:test]


def _serve(stack: ExitStack, model: str) -> str:
    """Start the local server of a ``local:`` model for the rest of the demo; its base URL."""
    from fama.serving import local_server_for

    server = stack.enter_context(local_server_for(model))
    print(f"      {model} served at {server.base_url}", file=sys.stderr)
    return str(server.base_url)


def _run_options(
    args: argparse.Namespace, setting: DemoSetting, data_dir: Path | None, base_url: str
) -> list[str]:
    data = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return [
        "--env", setting.env, *setting.run_options, *data, "--trials", "1",
        "--model", args.model, "--base-url", base_url, "--no-judge",
        "--tool-call-mode", "constrained", "--max-steps", str(args.max_steps),
        "--concurrency", "2", "--db", str(args.out / "runs.sqlite"), "--no-progress",
    ]  # fmt: skip


def _split(split: str | None) -> list[str]:
    return ["--split", split] if split else []


def demo_command(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    from fama.envs.tau2.data import DataNotFoundError

    setting = SETTINGS[args.setting]
    args.model = args.model or setting.model
    if setting.env.startswith("python:") and not EXAMPLE_ENV_FILE.is_file():
        print(
            f"fama demo: --setting {args.setting} needs the repository's examples folder "
            f"({EXAMPLE_ENV_FILE} is missing): run it from a clone (pip install -e .)",
            file=sys.stderr,
        )
        return 2
    if args.train_tasks < 1 or args.test_tasks < 1 or args.max_steps < 1:
        print(
            "fama demo: --train-tasks, --test-tasks and --max-steps must be >= 1", file=sys.stderr
        )
        return 2
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    _step(1, f"data for {setting.summary}")
    try:
        data_dir = _tau2_data_dir(args.data_dir) if setting.env.startswith("tau2:") else None
        train_ids, test_ids = demo_task_ids(
            setting, data_dir or args.data_dir, args.train_tasks, args.test_tasks
        )
    except (DataNotFoundError, OSError, ValueError) as exc:
        print(f"fama demo: {exc}", file=sys.stderr)
        return 2
    data_dir = data_dir or args.data_dir
    print(f"      train tasks {train_ids}; test tasks {test_ids}", file=sys.stderr)
    analysis = args.out / "analysis"
    with ExitStack() as stack:
        _step(2, "model server (first time: build llama-server + install the model)")
        base_url = args.base_url or _serve(stack, args.model)
        common = _run_options(args, setting, data_dir, base_url)
        _step(3, f"baseline on {len(train_ids)} train tasks")
        train = [*_split(setting.train_split), "--task-ids", *train_ids]
        if run_fama(["run", *common, *train, "--agent", "fc", "--run-id", TRAIN_RUN]) != 0:
            return 1
        _step(4, f"failure analysis of the train run with {args.model} as analyst")
        analyze = [
            "analyze", TRAIN_RUN, "--split", setting.train_split or "all",
            "--db", str(args.out / "runs.sqlite"), "--analyst-model", args.model,
            "--base-url", base_url, "--out", str(analysis), "--no-propose",
            "--max-concurrency", "2",
            "--max-output-tokens", f"analyst={args.analyst_max_tokens}",
        ]  # fmt: skip
        if data_dir is not None:
            analyze += ["--data-dir", str(data_dir)]
        if run_fama(analyze) != 0 or not (analysis / "fama_config.json").is_file():
            print("fama demo: the analysis produced no FAMA configuration", file=sys.stderr)
            return 1
        test = [*_split(setting.test_split), "--task-ids", *test_ids]
        _step(5, f"baseline on {len(test_ids)} held-out test tasks")
        if run_fama(["run", *common, *test, "--agent", "fc", "--run-id", BASELINE_RUN]) != 0:
            return 1
        _step(6, "FAMA (static, configuration from the analysis) on the same test tasks")
        fama = ["--agent", "fama", "--mode", "static", "--fama-config"]
        fama.append(str(analysis / "fama_config.json"))
        if run_fama(["run", *common, *test, *fama, "--run-id", FAMA_RUN]) != 0:
            return 1
    _step(7, "comparison")
    _report(args.out, analysis, time.monotonic() - started)
    return 0


def _report(out: Path, analysis: Path, seconds: float) -> None:
    """Print the table and the pages, and where the full reports are."""
    from fama.commands.demo_report import render_side_by_side, run_summary, top_categories
    from fama.commands.demo_report import write_pages as write_demo_pages
    from fama.core.fama_config import FamaConfig
    from fama.runs.store import RunStore

    db = out / "runs.sqlite"
    config = FamaConfig.load(analysis / "fama_config.json")
    with RunStore(db, create=False) as store:
        train = run_summary(store, TRAIN_RUN)
        print(f"train baseline: {train['successes']} / {train['episodes']} solved")
        print(
            render_side_by_side(
                run_summary(store, BASELINE_RUN),
                run_summary(store, FAMA_RUN),
                chosen=config.helpers,
                categories=top_categories(analysis / "taxonomy.json"),
                failed_analysed=config.derived_from.get("failed_episodes"),
            )
        )
        pages = write_demo_pages(store, out, RUNS, (BASELINE_RUN, FAMA_RUN))
    print(f"\ndemo finished in {seconds / 60.0:.1f} min. Pages (open in a browser):")
    for page in pages:
        print(f"  {page}")
    print("Full reports:")
    print(f"  fama compare {BASELINE_RUN} {FAMA_RUN} --db {db}")
    print(f"  fama report {FAMA_RUN} --db {db} --baseline {BASELINE_RUN}")
    print(f"  less {analysis / 'taxonomy.json'}")

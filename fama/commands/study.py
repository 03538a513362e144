"""``fama study``: the paper's protocol on any model in one resumable command.

Example::

    fama study --env tau2:retail --model openai:Qwen/Qwen3-4B --base-url http://gpu:8000/v1 \\
        --trials 4 --analyst-model openai:gpt-4o

It runs the function-calling baseline on the train split, analyses its failures (taxonomy
and FAMA configuration), then runs the baseline, FAMA static, FAMA dynamic and all helpers
(IRMA-like) on the test split, and writes one folder (``--out``): ``taxonomy.json``,
``fama_config.json``, ``compare.html``, ``results.md`` (the paper-style table: pass^1..k per
agent, token overhead, latency) and the run store ``runs.sqlite``. Interrupted, the same
command resumes where it stopped: stored episodes and a finished analysis are kept.

Benchmarks without train/test splits (ACEBench) are split in two: every other task
(sorted by the benchmark's order) is a train task, the rest are test tasks; give
``--train-task-ids`` / ``--test-task-ids`` to choose yourself.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.commands.run_args import FAMA_KNOBS, UsageError, parse_traits, split_ids

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.core.fama_config import FamaMode
    from fama.llm.models import ModelSpec
    from fama.runs.study import StudyPlan

ModelFactory = Callable[["ModelSpec"], "BaseChatModel"]
STORE_FILE = "runs.sqlite"
# `fama run` options a study passes on unchanged to every run (name, takes a value)
RUN_OPTIONS: tuple[tuple[str, bool], ...] = (
    ("data_dir", True),
    ("task_set", True),
    ("lang", True),
    ("traits", True),
    ("base_url", True),
    ("user_model", True),
    ("user_base_url", True),
    ("judge_model", True),
    ("judge_base_url", True),
    ("no_judge", False),
    ("temperature", True),
    ("tool_call_mode", True),
    ("max_steps", True),
    ("max_errors", True),
    ("max_output_tokens", True),
    ("concurrency", True),
)
# `fama run` options a study passes to its FAMA runs only (its runs never overlap, and the
# helper pool is the analysis's)
FAMA_OPTIONS = tuple(k for k in FAMA_KNOBS if k not in ("allow_overlap", "helpers"))


def register(subparsers: Any) -> None:
    """Add the ``study`` sub-command."""
    parser = subparsers.add_parser(
        "study",
        help="baseline on train, analysis, then baseline / FAMA static / dynamic / all on test",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="environment, e.g. tau2:retail")
    parser.add_argument("--model", required=True, help="the backbone (provider:model)")
    parser.add_argument("--trials", type=int, default=4, help="test trials per task (default 4)")
    parser.add_argument("--train-trials", type=int, default=1, help="train trials (default 1)")
    parser.add_argument("--out", type=Path, help="study folder (default fama-study/ENV-MODEL)")
    parser.add_argument("--db", type=Path, help=f"run store (default OUT/{STORE_FILE})")
    parser.add_argument("--prefix", default="study", help="run id prefix (default study)")
    tasks = parser.add_argument_group("tasks")
    tasks.add_argument("--data-dir", type=Path, help="the benchmark's data folder")
    tasks.add_argument("--task-set", choices=["current", "legacy"], default="current")
    tasks.add_argument("--lang", choices=["en", "zh"], help="ACEBench language")
    tasks.add_argument("--traits", help="tau-trait user traits, e.g. impatience=high")
    tasks.add_argument("--train-split", default="train", help="(default train)")
    tasks.add_argument("--test-split", default="test", help="(default test)")
    tasks.add_argument("--train-tasks", type=int, help="only the first N train tasks")
    tasks.add_argument("--test-tasks", type=int, help="only the first N test tasks")
    tasks.add_argument("--train-task-ids", nargs="+", metavar="ID", help="these train tasks")
    tasks.add_argument("--test-task-ids", nargs="+", metavar="ID", help="these test tasks")
    models = parser.add_argument_group("models")
    models.add_argument("--base-url", help="OpenAI-compatible server of the models")
    models.add_argument("--user-model", help="user simulator (default --model)")
    models.add_argument("--user-base-url")
    judge = models.add_mutually_exclusive_group()
    judge.add_argument("--judge-model", help="NL-assertion judge (default: the user model)")
    judge.add_argument("--no-judge", action="store_true", help="skip NL assertions")
    models.add_argument("--judge-base-url")
    models.add_argument(
        "--analyst-model", help="failure analysts (default: $FAMA_ANALYST_MODEL, judge, user)"
    )
    models.add_argument("--analyst-base-url", help="server of the analyst model")
    models.add_argument("--temperature", type=float, default=0.0)
    loop = parser.add_argument_group("runs")
    loop.add_argument(
        "--tool-call-mode", choices=["native", "tolerant", "constrained"], default="native"
    )
    loop.add_argument("--max-steps", type=int)
    loop.add_argument("--max-errors", type=int)
    loop.add_argument(
        "--max-output-tokens",
        metavar="ROLE=N,...",
        help="output-token limits per role for the runs and the analysis, e.g. "
        "agent=512,analyst=256 (a small CPU model writes analyst replies to the cap)",
    )
    loop.add_argument("--concurrency", type=int, default=4)
    fama = parser.add_argument_group("FAMA runs")
    fama.add_argument("--helper-model", help="model of FAMA's helpers (default --model)")
    fama.add_argument("--helper-base-url", help="server of --helper-model")
    fama.add_argument("--guidance-budget", type=int, help="guidance tokens per decision")
    fama.add_argument(
        "--tool-use",
        choices=["fc", "react"],
        default="fc",
        help="the backbone: function calling or ReAct (the baseline too; default fc)",
    )
    fama.add_argument("--max-redecisions", type=int, help="before a blocked write is refused")
    parser.set_defaults(func=study_command)


def study_command(args: argparse.Namespace, *, model_factory: ModelFactory | None = None) -> int:
    """Run (or resume) the study; returns the exit code."""
    from fama.envs.tau2.data import DataNotFoundError
    from fama.runs.store import StoreError
    from fama.runs.study import StudyError, run_study

    try:
        plan = build_plan(args)
        out = args.out or default_out(args.env, args.model)
        db = args.db or out / STORE_FILE
        stages = CommandStages(plan, db, args, model_factory)
        result = run_study(plan, out, db, stages, log=lambda line: print(line, file=sys.stderr))
    except (UsageError, DataNotFoundError) as exc:
        print(f"fama study: {exc}", file=sys.stderr)
        return 2
    except (StudyError, StoreError) as exc:
        print(f"fama study: {exc}", file=sys.stderr)
        return 1
    print(result.results_md.read_text(encoding="utf-8").split("\n\n## ", 1)[0])
    print(
        f"\nwrote {result.taxonomy}, {result.config}, {result.compare_html}, {result.results_md}",
        file=sys.stderr,
    )
    return 0


def default_out(env: str, model: str) -> Path:
    """``fama-study/<env>-<model>`` with unsafe characters replaced."""
    return Path("fama-study") / re.sub(r"[^A-Za-z0-9._-]+", "_", f"{env}-{model}")


def _task_ids(args: argparse.Namespace, split: str | None) -> list[str]:
    from fama.benchmarks.registry import BenchmarkOptions, load_benchmark

    options = BenchmarkOptions(
        data_dir=args.data_dir,
        split=split,
        task_set=args.task_set,
        lang=args.lang or "en",
        traits=parse_traits(args.traits),
    )
    loaded = load_benchmark(args.env, options)
    return [loaded.task_id(t) for t in loaded.tasks]


def _first(ids: list[str], count: int | None, what: str) -> list[str]:
    if count is not None and count < 1:
        raise UsageError(f"--{what}-tasks must be at least 1")
    chosen = ids if count is None else ids[:count]
    if not chosen:
        raise UsageError(f"no {what} tasks selected")
    return chosen


def select_tasks(args: argparse.Namespace) -> tuple[str | None, list[str], str | None, list[str]]:
    """(train split, train ids, test split, test ids): the splits, or halves without them."""
    from fama.envs.tau2.data import DataNotFoundError

    train_ids, test_ids = split_ids(args.train_task_ids), split_ids(args.test_task_ids)
    try:
        train_split, test_split = args.train_split, args.test_split
        train = train_ids or _task_ids(args, train_split)
        test = test_ids or _task_ids(args, test_split)
    except DataNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        print(
            f"note: {args.env} has no {args.train_split}/{args.test_split} splits ({exc}); "
            "every other task is a train task, the rest test tasks",
            file=sys.stderr,
        )
        every = _task_ids(args, None)
        train_split = test_split = None
        train = train_ids or every[0::2]
        test = test_ids or [t for t in every[1::2] if t not in set(train)]
    overlap = sorted(set(train) & set(test))
    if overlap:
        raise UsageError(f"train and test tasks overlap: {', '.join(overlap[:8])}")
    return (
        train_split,
        _first(train, args.train_tasks, "train"),
        test_split,
        _first(test, args.test_tasks, "test"),
    )


def build_plan(args: argparse.Namespace) -> StudyPlan:
    """The study plan from the command line (task ids resolved from the benchmark)."""
    from fama.runs.study import StudyPlan

    for name in ("trials", "train_trials", "concurrency"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    try:
        train_split, train, test_split, test = select_tasks(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    options: list[str] = []
    for name, takes_value in RUN_OPTIONS:
        value = getattr(args, name)
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        options += [flag] if not takes_value else [flag, str(value)]
    fama_options: list[str] = []
    for name in FAMA_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            fama_options += ["--" + name.replace("_", "-"), str(value)]
    return StudyPlan(
        env=args.env,
        model=args.model,
        train_split=train_split,
        test_split=test_split,
        train_task_ids=train,
        test_task_ids=test,
        train_trials=args.train_trials,
        trials=args.trials,
        prefix=args.prefix,
        run_options=options,
        fama_options=fama_options,
        backbone=args.tool_use,
    )


class CommandStages:
    """Runs a study's stages with ``fama run`` and ``fama analyze``: each in a child process
    (``fama.commands.child``), or in this process when a ``model_factory`` is injected (tests
    with scripted models)."""

    def __init__(
        self,
        plan: StudyPlan,
        db: Path,
        args: argparse.Namespace,
        model_factory: ModelFactory | None,
    ) -> None:
        self.plan = plan
        self.db = db
        self.args = args
        self.model_factory = model_factory

    def _call(self, argv: list[str]) -> int:
        if self.model_factory is None:
            from fama.commands.child import run_fama

            return run_fama(argv)
        from fama.cli import build_parser

        parsed = build_parser().parse_args(argv)
        return int(parsed.func(parsed, model_factory=self.model_factory) or 0)

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
    ) -> int:
        """``fama run`` of one stage (``--no-progress`` when stderr is no terminal)."""
        argv = [
            "run",
            "--env",
            self.plan.env,
            "--model",
            self.plan.model,
            *self.plan.run_options,
            "--db",
            str(self.db),
            "--run-id",
            run_id,
            "--trials",
            str(trials),
            "--agent",
            agent,
            "--task-ids",
            *task_ids,
            *(self.plan.fama_options if agent == "fama" else []),
        ]
        if split is not None:
            argv += ["--split", split]
        if mode is not None:
            argv += ["--mode", mode]
        if fama_config is not None:
            argv += ["--fama-config", str(fama_config)]
        if not sys.stderr.isatty():
            argv.append("--no-progress")
        return self._call(argv)

    def analyze(self, run_id: str, *, split: str | None, out: Path) -> int:
        """``fama analyze`` of the train run into the study folder."""
        argv = ["analyze", run_id, "--db", str(self.db), "--out", str(out)]
        argv += ["--split", split or "all"]
        if self.args.analyst_model:
            argv += ["--analyst-model", self.args.analyst_model]
        if self.args.analyst_base_url:
            argv += ["--base-url", self.args.analyst_base_url]
        if self.args.data_dir:
            argv += ["--data-dir", str(self.args.data_dir)]
        if self.args.max_output_tokens:
            argv += ["--max-output-tokens", self.args.max_output_tokens]
        return self._call(argv)

"""fama run: run an agent on benchmark tasks concurrently and store every episode (resumable).

Environments: tau2:retail, tau2:airline, tau2:telecom (the user has phone tools),
acebench:multi_turn, acebench:multi_step (--lang en|zh), tau-trait:retail, tau-trait:airline,
tau-trait:telecom, tau-trait:telehealth (--traits impatience=high,confusion=low).

Examples:

    fama run --env tau2:retail --split test --trials 4 --agent fc --model openai:gpt-4o-mini
    fama run --env tau2:retail --split test --agent fama --mode static \\
        --fama-config fama-retail.json --model local:qwen2.5-coder-0.5b --run-id my-run
    fama run --env acebench:multi_turn --lang en --model openai:gpt-4o-mini
    fama run --env tau-trait:telehealth --traits impatience=high --model openai:gpt-4o-mini

Each episode is saved as soon as it ends. Re-running with the same --run-id and the same
options (only --concurrency and --no-progress may change) resumes: stored episodes are
skipped; --retry-errors also re-runs those that ended in an infrastructure or internal
error (the failed attempt is kept in the new episode's extra.previous_attempts).
Ctrl-C stops cleanly: finished episodes stay stored and the run is marked interrupted.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.core.paths import DEFAULT_DB
from fama.runs.spec import AGENTS, default_run_id

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.benchmarks.registry import LoadedBenchmark
    from fama.core.fama_config import FamaConfig, FamaMode
    from fama.core.output_limits import OutputLimits
    from fama.llm.models import ModelSpec
    from fama.runs.spec import RunSpec

ModelFactory = Callable[["ModelSpec"], "BaseChatModel"]


class UsageError(ValueError):
    """Invalid combination of options (reported without a traceback, exit code 2)."""


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """The task-selection options shared by every command that takes tasks."""
    group = parser.add_argument_group("tasks")
    group.add_argument(
        "--data-dir",
        type=Path,
        help="the benchmark's data folder (tau2: the folder holding domains/; default: "
        "$FAMA_DATA_DIR, $FAMA_ACEBENCH_DATA_DIR, $FAMA_TAU_TRAIT_DATA_DIR)",
    )
    group.add_argument(
        "--task-set", choices=["current", "legacy"], default="current", help="tau2 task set"
    )
    group.add_argument("--tasks-file", type=Path, help="tau2: a tasks.json replacing the set's")
    group.add_argument("--split", help="task split (base/train/test; default: all tasks)")
    group.add_argument("--lang", choices=["en", "zh"], help="ACEBench language (default en)")
    group.add_argument(
        "--traits",
        help="tau-trait user traits, e.g. impatience=high,confusion=low "
        "(impatience, confusion, skeptical, incoherence; low|medium|high)",
    )
    group.add_argument(
        "--task-ids",
        nargs="+",
        metavar="ID",
        help="only these task ids (space or comma separated)",
    )


def register(subparsers: Any) -> None:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser(
        "run",
        help="run an agent on tau2 tasks and store the episodes (resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env", required=True, help="environment, e.g. tau2:retail, acebench:multi_turn"
    )
    add_task_arguments(parser)
    parser.add_argument("--trials", type=int, default=1, help="trials per task (default 1)")
    agent = parser.add_argument_group("agent")
    agent.add_argument("--agent", choices=AGENTS, default="fc", help="agent kind (default fc)")
    agent.add_argument(
        "--mode",
        choices=["static", "dynamic", "all"],
        help="FAMA helper mode (with --agent fama; default static)",
    )
    agent.add_argument("--fama-config", type=Path, help="FAMA configuration (JSON)")
    agent.add_argument(
        "--max-steps",
        type=int,
        help="step limit (default: the benchmark's, 200 for tau2, 40 for ACEBench)",
    )
    agent.add_argument(
        "--max-errors",
        type=int,
        help="tool error limit (default: the benchmark's, 10 for tau2, 40 for ACEBench)",
    )
    agent.add_argument(
        "--tool-call-mode",
        choices=["native", "tolerant", "constrained"],
        default="native",
        help="how tool calls are read from the model (default native)",
    )
    models = parser.add_argument_group("models (provider:model, e.g. openai:gpt-4o, local:NAME)")
    models.add_argument("--model", required=True, help="agent model")
    models.add_argument("--user-model", help="user simulator model (default: --model)")
    judge = models.add_mutually_exclusive_group()
    judge.add_argument("--judge-model", help="NL-assertion judge (default: --user-model)")
    judge.add_argument(
        "--no-judge", action="store_true", help="skip NL_ASSERTION (the report says so)"
    )
    models.add_argument(
        "--base-url",
        help="OpenAI-compatible server for all three models; several replicas comma-separated "
        "(least-loaded, failover)",
    )
    models.add_argument("--user-base-url", help="server(s) of the user model (default --base-url)")
    models.add_argument("--judge-base-url", help="server(s) of the judge (default --base-url)")
    models.add_argument("--temperature", type=float, default=0.0, help="(default 0.0)")
    models.add_argument(  # bounded generation (issue 16)
        "--max-output-tokens",
        metavar="ROLE=TOKENS,...",
        help="output-token limit per role, e.g. agent=1024,user=256,helper:planner=192 "
        "(defaults: agent 1024, user 256, judge 1024, helpers 128-256)",
    )
    execution = parser.add_argument_group("execution")
    execution.add_argument("--run-id", help="run id (default: generated); reuse it to resume")
    execution.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"run store (default {DEFAULT_DB})"
    )
    execution.add_argument(
        "--concurrency", type=int, default=4, help="episodes at once (default 4)"
    )
    execution.add_argument(
        "--retry-errors",
        action="store_true",
        help="on resume, re-run episodes stored as infrastructure_error or error",
    )
    execution.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    # --- issue 14: tracing (fama.runs.tracing) ---
    execution.add_argument(
        "--trace",
        choices=["langsmith", "otel"],
        help="send traces (run/episode/decision metadata on every span): langsmith (needs "
        "LANGSMITH_API_KEY) or otel (OTLP if configured, else JSON lines in --trace-file)",
    )
    execution.add_argument(
        "--trace-file",
        type=Path,
        default=Path("fama-traces.jsonl"),
        help="span file of --trace otel without OTLP (default fama-traces.jsonl)",
    )
    parser.set_defaults(func=run_command)


def parse_traits(text: str | None) -> dict[str, str]:
    """``"impatience=high,confusion=low"`` -> ``{"impatience": "high", "confusion": "low"}``."""
    if not text:
        return {}
    traits: dict[str, str] = {}
    for part in text.split(","):
        name, sep, level = part.strip().partition("=")
        if not sep or not name.strip() or not level.strip():
            raise UsageError(f"--traits: expected TRAIT=LEVEL pairs, got {part.strip()!r}")
        traits[name.strip()] = level.strip()
    return traits


def split_ids(values: Sequence[str] | None) -> list[str] | None:
    """Task ids given space- and/or comma-separated."""
    if values is None:
        return None
    return [part for value in values for part in value.split(",") if part.strip()]


def role_model_specs(spec: RunSpec) -> dict[str, ModelSpec | None]:
    """The agent, user and judge model specs of a run (judge ``None`` when unused)."""
    from fama.core.output_limits import OutputLimits
    from fama.llm.models import ModelSpec

    limit = OutputLimits(spec.max_output_tokens).for_node
    return {
        "agent": ModelSpec(
            model=spec.model,
            base_url=spec.base_url,
            temperature=spec.temperature,
            max_tokens=limit("agent"),
        ),
        "user": ModelSpec(
            model=spec.user_model or spec.model,
            base_url=spec.user_base_url,
            temperature=spec.temperature,
            max_tokens=limit("user"),
        ),
        "judge": None
        if spec.judge_model is None
        else ModelSpec(
            model=spec.judge_model,
            base_url=spec.judge_base_url,
            temperature=0.0,
            max_tokens=limit("judge"),
        ),
    }


def run_command(args: argparse.Namespace, *, model_factory: ModelFactory | None = None) -> int:
    """Run (or resume) the episodes described by ``args``; returns the exit code."""
    from fama.envs.tau2.data import DataNotFoundError
    from fama.runs.store import RunConfigMismatchError, StoreError
    from fama.serving.session import LocalServingError, UnknownLocalModelError

    try:
        return _run(args, model_factory)
    except (UsageError, DataNotFoundError, RunConfigMismatchError, UnknownLocalModelError) as exc:
        print(f"fama run: {exc}", file=sys.stderr)
        return 2
    except (StoreError, LocalServingError) as exc:
        print(f"fama run: {exc}", file=sys.stderr)
        return 1


def load_selected(args: argparse.Namespace) -> LoadedBenchmark:
    """The benchmark domain and tasks selected by the task options of ``args``."""
    from fama.benchmarks.registry import BenchmarkOptions, load_benchmark

    options = BenchmarkOptions(
        data_dir=args.data_dir,
        split=args.split,
        task_ids=split_ids(args.task_ids),
        tasks_file=args.tasks_file,
        task_set=args.task_set,
        lang=args.lang or "en",
        traits=parse_traits(args.traits),
    )
    try:
        loaded = load_benchmark(args.env, options)
    except (OSError, ValueError) as exc:  # DataNotFoundError is an OSError
        raise UsageError(str(exc)) from exc
    if not loaded.tasks:
        raise UsageError("no tasks selected")
    return loaded


def output_limits(args: argparse.Namespace) -> OutputLimits:
    """The output-token limits of ``--max-output-tokens`` (defaults for the roles not named)."""
    from fama.core.output_limits import OutputLimitError, OutputLimits

    try:
        return OutputLimits.parse(args.max_output_tokens)
    except OutputLimitError as exc:
        raise UsageError(f"--max-output-tokens: {exc}") from exc


def loop_options(args: argparse.Namespace, loaded: LoadedBenchmark) -> dict[str, Any]:
    """Episode-loop options: the benchmark's defaults, then what the user set."""
    options: dict[str, Any] = {"max_steps": 200, "max_errors": 10, **loaded.loop_defaults}
    for name in ("max_steps", "max_errors"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    options["tool_call_mode"] = args.tool_call_mode
    return options


def build_run_spec(
    args: argparse.Namespace,
    loaded: LoadedBenchmark,
    fama_config: FamaConfig | None,
    mode: FamaMode | None,
) -> RunSpec:
    """The run's configuration from the command line and the selected benchmark."""
    from fama.runs.runner import trial_seeds
    from fama.runs.spec import RunSpec, fairness_warning, loop_config

    task_ids = [loaded.task_id(t) for t in loaded.tasks]
    loop = loop_options(args, loaded)
    user_model = args.user_model or args.model
    uses_judge = loaded.env.startswith("tau2:") and not args.no_judge
    source = str(args.fama_config) if args.fama_config else "the FAMA configuration"
    return RunSpec(
        env=args.env,
        domain=loaded.domain,
        split=args.split,
        **loaded.config,
        task_ids=task_ids,
        trials=args.trials,
        trial_seeds=trial_seeds(args.trials),
        agent=args.agent,
        mode=mode,
        fama_config=None if fama_config is None else fama_config.model_dump(mode="json"),
        model=args.model,
        base_url=args.base_url,
        user_model=user_model,
        user_base_url=args.user_base_url or args.base_url,
        judge_model=(args.judge_model or user_model) if uses_judge else None,
        judge_base_url=(args.judge_base_url or args.base_url) if uses_judge else None,
        no_judge=args.no_judge,
        temperature=args.temperature,
        loop=loop_config(loop),
        max_steps=loop["max_steps"],
        max_errors=loop["max_errors"],
        tool_call_mode=args.tool_call_mode,
        max_output_tokens=output_limits(args).table,
        fairness_warning=None
        if fama_config is None
        else fairness_warning(fama_config, source, args.split, task_ids),
        concurrency=args.concurrency,
    )


def _run(args: argparse.Namespace, model_factory: ModelFactory | None) -> int:
    import asyncio

    from fama.benchmarks.registry import ExecutorParts
    from fama.core.output_limits import OutputLimits
    from fama.core.retry import RetryPolicy
    from fama.envs.tau2.evaluation import JUDGE_PROMPT
    from fama.llm.endpoints import snapshot, usage_since
    from fama.prompts.registry import load_prompt
    from fama.runs.runner import Progress, agent_setup, plan_jobs, run_jobs
    from fama.runs.store import FAILED_STATUSES, RunStore
    from fama.runs.tracing import run_trace, trace_callbacks

    fama_config, mode = _fama_options(args)
    for name in ("trials", "concurrency", "max_steps", "max_errors"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    loaded = load_selected(args)
    spec = build_run_spec(args, loaded, fama_config, mode)
    if spec.fairness_warning:
        print(f"\n*** WARNING (fairness): {spec.fairness_warning} ***\n", file=sys.stderr)
    run_id = args.run_id or default_run_id(loaded.domain, args.split, args.agent)
    spec = spec.model_copy(update={"command": command_line(args, run_id)})
    specs = role_model_specs(spec)
    loop = loop_options(args, loaded)
    try:
        agent = agent_setup(
            args.agent, fama_config=fama_config, mode=mode, agent_prompt=loaded.agent_prompt
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    refs = [
        *agent.prompt_refs,
        *([load_prompt(JUDGE_PROMPT).ref] if specs["judge"] is not None else []),
        *loaded.data_refs,
    ]
    try:
        callbacks, close_trace = trace_callbacks(args.trace, args.trace_file)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    with RunStore(args.db) as store, ExitStack() as stack:
        stack.callback(close_trace)
        resumed = store.create_or_resume_run(
            run_id, spec.to_config(), refs, differences=spec.differences
        )
        keep = ["done"] if args.retry_errors else None
        stored = store.finished_episode_keys(run_id, statuses=keep)
        retried = (
            store.episodes(run_id, statuses=FAILED_STATUSES, messages=False)
            if args.retry_errors
            else []
        )
        jobs = plan_jobs(
            loaded.tasks, args.trials, skip=stored, retried=retried, task_id=loaded.task_id
        )
        verb = "resuming" if resumed else "starting"
        print(
            f"{verb} run {run_id}: {len(jobs)} episodes to run, {len(stored)} already stored "
            f"(db {args.db})",
            file=sys.stderr,
        )
        from fama.serving.session import served_models

        with served_models(specs, stack) as live_specs:
            factory = model_factory or _default_factory()
            execute = loaded.make_executor(
                ExecutorParts(
                    agent=agent,
                    agent_model=factory(_require(live_specs["agent"])),
                    user_model=factory(_require(live_specs["user"])),
                    judge_model=None
                    if live_specs["judge"] is None
                    else factory(live_specs["judge"]),
                    judge_model_name=spec.judge_model or "",
                    retry=RetryPolicy(),
                    context_options={
                        **loop,
                        "output_limits": OutputLimits(spec.max_output_tokens),
                    },
                )
            )
            endpoints_before = snapshot()
            stack.callback(lambda: store.add_endpoint_stats(run_id, usage_since(endpoints_before)))
            try:
                summary = asyncio.run(
                    run_jobs(
                        store,
                        run_id,
                        jobs,
                        execute,
                        domain=loaded.domain,
                        split=args.split,
                        agent_kind=args.agent,
                        concurrency=args.concurrency,
                        skipped=len(stored),
                        progress=Progress(enabled=not args.no_progress),
                        trace=run_trace(run_id, spec.to_config(), callbacks=callbacks),
                    )
                )
            except KeyboardInterrupt:
                print(
                    f"\ninterrupted: finished episodes are saved in {args.db}. Resume with the "
                    f"same options and --run-id {run_id}:\n  {command_line(args, run_id)}",
                    file=sys.stderr,
                )
                return 130
    print(
        f"run {run_id} finished: {summary.finished} run now, {summary.skipped} stored before, "
        f"{summary.infra_errors} infrastructure errors, {summary.errors} errors.\n"
        f"  fama report {run_id} --db {args.db}",
        file=sys.stderr,
    )
    if summary.infra_errors or summary.errors:
        retry = f"{command_line(args, run_id)} --retry-errors"
        print(f"  to run the failed episodes again: {retry}", file=sys.stderr)
    return 0


def _require(spec: ModelSpec | None) -> ModelSpec:
    if spec is None:
        raise UsageError("a model is missing")
    return spec


def _default_factory() -> ModelFactory:
    from fama.llm.models import resolve_chat_model

    return resolve_chat_model


def _fama_options(args: argparse.Namespace) -> tuple[FamaConfig | None, FamaMode | None]:
    """Validate the FAMA options; returns the loaded configuration and the mode."""
    from fama.core.fama_config import FamaConfig

    if args.agent != "fama":
        if args.mode is not None or args.fama_config is not None:
            raise UsageError("--mode and --fama-config need --agent fama")
        return None, None
    mode: FamaMode = args.mode or "static"
    if args.fama_config is None:
        if mode == "static":
            raise UsageError("--agent fama --mode static needs --fama-config FILE")
        return None, mode
    try:
        return FamaConfig.load(args.fama_config), mode
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def command_line(args: argparse.Namespace, run_id: str) -> str:
    """The ``fama run`` command that reproduces (and resumes) this run."""
    argv = ["fama", "run"]
    for name in _COMMAND_OPTIONS:
        value = run_id if name == "run_id" else getattr(args, name, None)
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return shlex.join(argv)


_COMMAND_OPTIONS = (
    "env",
    "data_dir",
    "task_set",
    "tasks_file",
    "split",
    "lang",
    "traits",
    "task_ids",
    "trials",
    "agent",
    "mode",
    "fama_config",
    "max_steps",
    "max_errors",
    "tool_call_mode",
    "model",
    "user_model",
    "judge_model",
    "no_judge",
    "base_url",
    "user_base_url",
    "judge_base_url",
    "temperature",
    "max_output_tokens",
    "run_id",
    "db",
    "concurrency",
)

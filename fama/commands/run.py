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
Ctrl-C (or SIGTERM) stops cleanly: finished episodes stay stored and the run is marked
interrupted. One process at a time works on a run id (a lease in the store).

Before the first episode every model endpoint gets one tiny test request; an unreachable or
misconfigured one stops the run with a one-line error. The exit code is 1 when every
episode run ended in an infrastructure error or error, or the circuit breaker stopped the run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.core.paths import DEFAULT_DB
from fama.envs.user_transcript import USER_STYLES, default_user_style
from fama.runs.spec import (
    AGENTS,
    DEFAULT_CIRCUIT_BREAKER,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_RETRIES,
    default_run_id,
)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.benchmarks.registry import LoadedBenchmark
    from fama.core.fama_config import FamaConfig, FamaMode
    from fama.core.output_limits import OutputLimits
    from fama.llm.models import ModelSpec
    from fama.runs.runner import RunSummary
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
        "--solo",
        action="store_true",
        help="tau2:telecom solo mode: no user, the agent works the task's ticket alone "
        "(official solo rules and scoring)",
    )
    group.add_argument(
        "--task-ids",
        nargs="+",
        metavar="ID",
        help="only these task ids (space or comma separated)",
    )


def add_fama_arguments(group: Any) -> None:
    """The FAMA knobs (with --agent fama); each is stored in the run's ``RunSpec``."""
    group.add_argument(
        "--allow-overlap",
        action="store_true",
        help="run a --fama-config derived from some of the evaluated tasks (flagged); "
        "refused otherwise",
    )
    group.add_argument("--helper-model", help="model of FAMA's helpers (default: --model)")
    group.add_argument("--helper-base-url", help="server of --helper-model (default --base-url)")
    group.add_argument(
        "--guidance-budget", type=int, help="guidance tokens per decision (default 500)"
    )
    group.add_argument(
        "--helpers",
        help="helper pool, e.g. constraints_extractor,memory (overrides the configuration's)",
    )
    group.add_argument(
        "--tool-use", choices=["fc", "react"], help="FAMA's tool-use node (default fc)"
    )
    group.add_argument(
        "--max-redecisions",
        type=int,
        help="re-decisions after a blocked write before it is refused (default 1)",
    )


FAMA_KNOBS = (
    "allow_overlap",
    "helper_model",
    "helper_base_url",
    "guidance_budget",
    "helpers",
    "tool_use",
    "max_redecisions",
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
    add_fama_arguments(agent)
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
    models.add_argument(
        "--user-style",
        choices=USER_STYLES,
        help="user simulator prompt: chat (official role-flipped chat) or transcript "
        "(Agent:/Customer: lines, for small models; tau2 retail/airline); default: "
        "transcript for local: user models, else chat",
    )
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
    # --- reliability (issue 12) ---
    execution.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        metavar="SECONDS",
        help=f"per model request (default {DEFAULT_REQUEST_TIMEOUT_S:.0f}: suits a CPU model)",
    )
    execution.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        help=f"retries of a failed model request, with backoff (default {DEFAULT_RETRIES})",
    )
    execution.add_argument(
        "--circuit-breaker",
        type=int,
        default=DEFAULT_CIRCUIT_BREAKER,
        metavar="N",
        help="stop the run after N consecutive infrastructure errors (default "
        f"{DEFAULT_CIRCUIT_BREAKER}; 0: never)",
    )
    agent.add_argument(
        "--force-config",
        action="store_true",
        help="run a FAMA configuration made for another environment",
    )
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
    """The agent, user, judge and FAMA helper model specs of a run (``None`` when unused)."""
    from fama.core.output_limits import OutputLimits
    from fama.llm.models import ModelSpec

    timeout = spec.request_timeout_s
    limit = OutputLimits(spec.max_output_tokens).for_node
    return {
        "helper": None
        if spec.helper_model is None
        else ModelSpec(
            model=spec.helper_model,
            base_url=spec.helper_base_url,
            temperature=spec.temperature,
            max_tokens=limit("helper"),
        ),
        "agent": ModelSpec(
            model=spec.model,
            base_url=spec.base_url,
            temperature=spec.temperature,
            timeout_s=timeout,
            max_tokens=limit("agent"),
        ),
        "user": ModelSpec(
            model=spec.user_model or spec.model,
            base_url=spec.user_base_url,
            temperature=spec.temperature,
            timeout_s=timeout,
            max_tokens=limit("user"),
        ),
        "judge": None
        if spec.judge_model is None
        else ModelSpec(
            model=spec.judge_model,
            base_url=spec.judge_base_url,
            temperature=0.0,
            timeout_s=timeout,
            max_tokens=limit("judge"),
        ),
    }


def run_command(
    args: argparse.Namespace,
    *,
    model_factory: ModelFactory | None = None,
    probe: bool | None = None,
) -> int:
    """Run (or resume) the episodes described by ``args``; returns the exit code.

    ``probe`` (default: only with the default model factory, not an injected one) sends each
    model endpoint one test request before the first episode.
    """
    from fama.envs.tau2.data import DataNotFoundError
    from fama.llm.models import ModelConfigError
    from fama.llm.probe import EndpointError
    from fama.runs.spec import SplitError
    from fama.runs.store import RunConfigMismatchError, StoreError
    from fama.serving.session import LocalServingError, UnknownLocalModelError

    try:
        return _run(args, model_factory, model_factory is None if probe is None else probe)
    except (
        UsageError,
        DataNotFoundError,
        RunConfigMismatchError,
        UnknownLocalModelError,
        ModelConfigError,
    ) as exc:
        print(f"fama run: {exc}", file=sys.stderr)
        return 2
    except SplitError as exc:
        print(f"fama run: refused: {exc}", file=sys.stderr)
        return 2
    except (StoreError, LocalServingError, EndpointError) as exc:
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
        solo=bool(getattr(args, "solo", False)),
    )
    try:
        loaded = load_benchmark(args.env, options)
    except (OSError, ValueError) as exc:  # DataNotFoundError is an OSError
        raise UsageError(str(exc)) from exc
    if not loaded.tasks:
        raise UsageError("no tasks selected")
    return loaded


def resolve_user_style(args: argparse.Namespace, loaded: LoadedBenchmark, user_model: str) -> str:
    """The user style of the run: ``--user-style``, else the default for the user model when
    the benchmark supports it, else the benchmark's own (``none`` when it has no user)."""
    styles = loaded.user_styles
    asked = getattr(args, "user_style", None)
    if asked is not None:
        if asked not in styles:
            raise UsageError(f"--user-style {asked}: {loaded.env} supports {', '.join(styles)}")
        return str(asked)
    preferred = default_user_style(user_model)
    return preferred if preferred in styles else styles[0]


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
    from fama.runs.spec import RunSpec, check_split, loop_config

    task_ids = [loaded.task_id(t) for t in loaded.tasks]
    loop = loop_options(args, loaded)
    user_model = args.user_model or args.model
    user_style = resolve_user_style(args, loaded, user_model)
    uses_judge = loaded.env.startswith("tau2:") and not args.no_judge and user_style != "none"
    source = str(args.fama_config) if args.fama_config else "the FAMA configuration"
    warning, overlap = (
        (None, [])
        if fama_config is None
        else check_split(
            fama_config,
            source,
            env=loaded.env,
            split=args.split,
            task_ids=task_ids,
            allow_overlap=args.allow_overlap,
            force_config=args.force_config,
        )
    )
    fama = args.agent == "fama"
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
        user_style=user_style,
        judge_model=(args.judge_model or user_model) if uses_judge else None,
        judge_base_url=(args.judge_base_url or args.base_url) if uses_judge else None,
        no_judge=args.no_judge,
        temperature=args.temperature,
        loop=loop_config(loop),
        max_steps=loop["max_steps"],
        max_errors=loop["max_errors"],
        tool_call_mode=args.tool_call_mode,
        max_output_tokens=output_limits(args).table,
        fairness_warning=warning,
        helper_model=args.helper_model,
        helper_base_url=(args.helper_base_url or args.base_url) if args.helper_model else None,
        guidance_budget=args.guidance_budget,
        helpers=split_ids([args.helpers]) if args.helpers else None,
        tool_use=(args.tool_use or "fc") if fama else None,
        max_redecisions=args.max_redecisions,
        allow_overlap=args.allow_overlap,
        overlap_task_ids=overlap,
        concurrency=args.concurrency,
        request_timeout_s=args.request_timeout,
        retries=args.retries,
        circuit_breaker=args.circuit_breaker,
    )


def _run(args: argparse.Namespace, model_factory: ModelFactory | None, probe: bool) -> int:
    import asyncio

    from fama.benchmarks.registry import ExecutorParts
    from fama.core.output_limits import OutputLimits
    from fama.core.retry import RetryPolicy
    from fama.envs.tau2.evaluation import JUDGE_PROMPT
    from fama.envs.tau2.user_scenario import TRANSCRIPT_PROMPT
    from fama.envs.user_transcript import FIRST_PROMPT, NEXT_PROMPT
    from fama.llm.endpoints import snapshot, usage_since
    from fama.llm.probe import probe_models
    from fama.prompts.registry import load_prompt
    from fama.runs.breaker import CircuitBreaker
    from fama.runs.interrupts import sigterm_as_interrupt
    from fama.runs.lease import held_lease
    from fama.runs.runner import Progress, agent_setup, plan_jobs, run_jobs
    from fama.runs.store import FAILED_STATUSES, RunStore
    from fama.runs.tracing import run_trace, trace_callbacks

    fama_config, mode = _fama_options(args)
    for name in ("trials", "concurrency", "max_steps", "max_errors"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    _check_reliability_options(args)
    loaded = load_selected(args)
    spec = build_run_spec(args, loaded, fama_config, mode)
    if spec.fairness_warning:
        print(f"\n*** WARNING (fairness): {spec.fairness_warning} ***\n", file=sys.stderr)
    run_id = args.run_id or default_run_id(loaded.domain, args.split, args.agent)
    spec = spec.model_copy(update={"command": command_line(args, run_id)})
    specs = role_model_specs(spec)
    loop = loop_options(args, loaded)
    if loaded.config.get("solo") and args.agent == "react":
        raise UsageError("--solo needs a function-calling agent (--agent fc or fama)")
    try:
        agent = agent_setup(
            args.agent,
            fama_config=fama_config,
            mode=mode,
            agent_prompt=loaded.agent_prompt,
            fama_options=fama_options(spec, loaded.env),
            tool_use=spec.tool_use or "fc",
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    refs = [
        *agent.prompt_refs,
        *([load_prompt(JUDGE_PROMPT).ref] if specs["judge"] is not None else []),
        *(
            [load_prompt(n).ref for n in (TRANSCRIPT_PROMPT, FIRST_PROMPT, NEXT_PROMPT)]
            if spec.user_style == "transcript"
            else []
        ),
        *loaded.data_refs,
    ]
    try:
        callbacks, close_trace = trace_callbacks(args.trace, args.trace_file)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    with (
        sigterm_as_interrupt() as terminated,
        RunStore(args.db) as store,
        ExitStack() as stack,
        asyncio.Runner() as runner,  # one event loop for the probe and the run
    ):
        stack.enter_context(held_lease(args.db, run_id))
        stack.callback(close_trace)
        from fama.serving.session import served_models

        with served_models(specs, stack) as live_specs:
            factory = model_factory or _default_factory()
            models = {
                role: (live, factory(live)) for role, live in live_specs.items() if live is not None
            }
            if probe:
                runner.run(probe_models(models, timeout_s=min(60.0, spec.request_timeout_s)))
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
                f"{verb} run {run_id}: {len(jobs)} episodes to run, {len(stored)} already "
                f"stored (db {args.db})",
                file=sys.stderr,
            )
            if resumed and not args.retry_errors:
                _note_skipped_failures(
                    len(store.finished_episode_keys(run_id, statuses=FAILED_STATUSES))
                )
            if "helper" in models:
                agent = replace(
                    agent,
                    context_options={**agent.context_options, "helper_model": models["helper"][1]},
                )
            execute = loaded.make_executor(
                ExecutorParts(
                    agent=agent,
                    agent_model=models["agent"][1],
                    user_model=models["user"][1],
                    judge_model=models["judge"][1] if "judge" in models else None,
                    judge_model_name=spec.judge_model or "",
                    retry=RetryPolicy(attempts=spec.retries + 1),
                    context_options={
                        **loop,
                        "output_limits": OutputLimits(spec.max_output_tokens),
                    },
                    user_style=spec.user_style,
                )
            )
            endpoints_before = snapshot()
            stack.callback(lambda: store.add_endpoint_stats(run_id, usage_since(endpoints_before)))
            breaker = CircuitBreaker(spec.circuit_breaker) if spec.circuit_breaker else None
            try:
                summary = runner.run(
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
                        breaker=breaker,
                    )
                )
            except KeyboardInterrupt:
                print(
                    f"\ninterrupted{' (SIGTERM)' if terminated else ''}: finished episodes are "
                    f"saved in {args.db}. Resume with the same options and --run-id {run_id}:\n"
                    f"  {command_line(args, run_id)}",
                    file=sys.stderr,
                )
                return 143 if terminated else 130
    return _finish(args, run_id, summary)


def _finish(args: argparse.Namespace, run_id: str, summary: RunSummary) -> int:
    """Print the end of run lines; the exit code (1: stopped early or every episode failed)."""
    print(
        f"run {run_id} finished: {summary.finished} run now, {summary.skipped} stored before, "
        f"{summary.infra_errors} infrastructure errors, {summary.errors} errors.\n"
        f"  fama report {run_id} --db {args.db}",
        file=sys.stderr,
    )
    if summary.infra_errors or summary.errors:
        retry = f"{command_line(args, run_id)} --retry-errors"
        print(f"  to run the failed episodes again: {retry}", file=sys.stderr)
    if summary.stopped is not None:
        print(f"fama run: stopped early: {summary.stopped}", file=sys.stderr)
        return 1
    if summary.all_failed:
        print(
            f"fama run: all {summary.finished} episodes failed ({summary.infra_errors} "
            f"infrastructure errors, {summary.errors} errors)",
            file=sys.stderr,
        )
        return 1
    return 0


def _note_skipped_failures(count: int) -> None:
    """On resume without --retry-errors: say that stored failures are not run again."""
    if count:
        print(
            f"  {count} stored episodes ended in an infrastructure error or error and are "
            "skipped; add --retry-errors to run them again",
            file=sys.stderr,
        )


def _check_reliability_options(args: argparse.Namespace) -> None:
    """Timeout, retries, breaker and temperature: clear errors for unusable values."""
    import math

    if not math.isfinite(args.request_timeout) or args.request_timeout <= 0:
        raise UsageError("--request-timeout must be a positive number of seconds")
    if args.retries < 0 or args.circuit_breaker < 0:
        raise UsageError("--retries and --circuit-breaker must be at least 0")
    if not math.isfinite(args.temperature) or not 0.0 <= args.temperature <= 2.0:
        raise UsageError(f"--temperature must be between 0 and 2, got {args.temperature}")


def _require(spec: ModelSpec | None) -> ModelSpec:
    if spec is None:
        raise UsageError("a model is missing")
    return spec


def _default_factory() -> ModelFactory:
    from fama.llm.models import resolve_chat_model

    return resolve_chat_model


def fama_options(spec: RunSpec, env: str) -> dict[str, Any]:
    """The ``fama_settings`` keywords of a run's FAMA knobs (given ones only)."""
    options: dict[str, Any] = {"environment": env}
    if spec.guidance_budget is not None:
        options["guidance_budget"] = spec.guidance_budget
    if spec.helpers is not None:
        options["helpers"] = spec.helpers
    if spec.max_redecisions is not None:
        options["max_redecisions"] = spec.max_redecisions
    return options


def _fama_options(args: argparse.Namespace) -> tuple[FamaConfig | None, FamaMode | None]:
    """Validate the FAMA options; returns the loaded configuration and the mode."""
    from fama.core.fama_config import FamaConfig

    if args.agent != "fama":
        given = [k for k in ("mode", "fama_config", *FAMA_KNOBS) if getattr(args, k, None)]
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise UsageError(f"{flags} need --agent fama")
        return None, None
    for name, least in (("guidance_budget", 1), ("max_redecisions", 0)):
        value = getattr(args, name)
        if value is not None and value < least:
            raise UsageError(f"--{name.replace('_', '-')} must be at least {least}")
    if args.helper_base_url and not args.helper_model:
        raise UsageError("--helper-base-url needs --helper-model")
    if args.allow_overlap and args.fama_config is None:
        raise UsageError("--allow-overlap needs --fama-config")
    mode: FamaMode = args.mode or "static"
    if args.fama_config is None:
        if mode == "static" and not args.helpers:
            raise UsageError("--agent fama --mode static needs --fama-config FILE (or --helpers)")
        return None, mode
    try:
        config = FamaConfig.load(args.fama_config)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    _check_fama_config(config, args)
    return config, mode


def _check_fama_config(config: FamaConfig, args: argparse.Namespace) -> None:
    """Helpers and parameters valid (the environment is checked by ``check_split``)."""
    from fama.helpers.params import config_problems

    problems = config_problems(config)
    if problems:
        shown = "\n  ".join(problems[:5]) + ("\n  ..." if len(problems) > 5 else "")
        raise UsageError(f"{args.fama_config} cannot be used:\n  {shown}")


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
    "solo",
    "task_ids",
    "trials",
    "agent",
    "mode",
    "fama_config",
    *FAMA_KNOBS,
    "max_steps",
    "max_errors",
    "tool_call_mode",
    "model",
    "user_model",
    "user_style",
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
    "request_timeout",
    "retries",
    "circuit_breaker",
    "force_config",
)

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
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fama.commands.run_args import (
    FAMA_KNOBS,
    UsageError,
    add_run_arguments,
    command_line,
    parse_traits,
    split_ids,
)
from fama.envs.user_transcript import default_user_style
from fama.runs.spec import default_run_id

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.benchmarks.registry import LoadedBenchmark
    from fama.core.fama_config import FamaConfig, FamaMode
    from fama.core.output_limits import OutputLimits
    from fama.llm.models import ModelSpec
    from fama.runs.runner import RunSummary
    from fama.runs.spec import RunSpec

ModelFactory = Callable[["ModelSpec"], "BaseChatModel"]


def register(subparsers: Any) -> None:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser(
        "run",
        help="run an agent on benchmark tasks and store the episodes (resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(parser)
    parser.set_defaults(func=run_command)


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
    from fama.envs.user_transcript import FIRST_PROMPT, NEXT_PROMPT, SYSTEM_PROMPT
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
            [load_prompt(n).ref for n in (SYSTEM_PROMPT, FIRST_PROMPT, NEXT_PROMPT)]
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

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.core.paths import DEFAULT_DB
from fama.envs.user_transcript import USER_STYLES, default_user_style

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from fama.benchmarks.registry import LoadedBenchmark
    from fama.core.fama_config import FamaConfig, FamaMode
    from fama.llm.models import ModelSpec

ModelFactory = Callable[["ModelSpec"], "BaseChatModel"]

AGENTS = ("fc", "react", "fama")


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
    models.add_argument("--base-url", help="OpenAI-compatible server for all three models")
    models.add_argument("--user-base-url", help="server of the user model (default --base-url)")
    models.add_argument("--judge-base-url", help="server of the judge (default --base-url)")
    models.add_argument("--temperature", type=float, default=0.0, help="(default 0.0)")
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


def fairness_warning(
    config: FamaConfig, config_path: Path | None, split: str | None, task_ids: Sequence[str]
) -> str | None:
    """A warning when the FAMA configuration was derived from the tasks being evaluated."""
    derived = config.derived_from
    source = str(config_path) if config_path else "the FAMA configuration"
    derived_ids = {str(i) for i in derived.get("task_ids") or []}
    overlap = sorted(derived_ids & set(task_ids))
    if overlap:
        shown = ", ".join(overlap[:8]) + (", ..." if len(overlap) > 8 else "")
        return (
            f"{source} was derived from {len(overlap)} of the {len(task_ids)} evaluated tasks "
            f"({shown}); results on them are not a held-out evaluation"
        )
    derived_split = derived.get("split")
    if derived_split is not None and derived_split == split:
        return (
            f"{source} was derived from split {derived_split!r}, the split being evaluated; "
            "results are not a held-out evaluation"
        )
    return None


def _model_specs(args: argparse.Namespace) -> dict[str, ModelSpec | None]:
    from fama.llm.models import ModelSpec

    user_model = args.user_model or args.model
    judge_model = None if args.no_judge else (args.judge_model or user_model)
    user_base = args.user_base_url or args.base_url
    judge_base = args.judge_base_url or args.base_url
    return {
        "agent": ModelSpec(model=args.model, base_url=args.base_url, temperature=args.temperature),
        "user": ModelSpec(model=user_model, base_url=user_base, temperature=args.temperature),
        "judge": None
        if judge_model is None
        else ModelSpec(model=judge_model, base_url=judge_base, temperature=0.0),
    }


class LocalServingError(RuntimeError):
    """A ``local:`` model could not be installed, built or started."""


@contextmanager
def served_models(
    specs: dict[str, ModelSpec | None], stack: ExitStack
) -> Iterator[dict[str, ModelSpec | None]]:
    """Start one local server per distinct ``local:`` model (stopped when ``stack`` closes)
    and fill in its base URL."""
    from fama.llm.models import LOCAL_PROVIDER

    local = sorted(
        {s.model for s in specs.values() if s and s.provider == LOCAL_PROVIDER and not s.base_url}
    )
    urls: dict[str, str] = {}
    if local:
        from fama.serving import BuildError, ModelInstallError, ServerStartError, local_server_for

        for model in local:
            print(f"starting local model server for {model} ...", file=sys.stderr)
            try:
                server = stack.enter_context(local_server_for(model))
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
            except (BuildError, ModelInstallError, ServerStartError, OSError) as exc:
                raise LocalServingError(f"cannot serve {model}: {exc}") from exc
            urls[model] = server.base_url
            print(f"  {model} served at {server.base_url} (pid {server.pid})", file=sys.stderr)
    yield {
        role: spec
        if spec is None or spec.model not in urls
        else spec.with_base_url(urls[spec.model])
        for role, spec in specs.items()
    }


def run_command(args: argparse.Namespace, *, model_factory: ModelFactory | None = None) -> int:
    """Run (or resume) the episodes described by ``args``; returns the exit code."""
    from fama.envs.tau2.data import DataNotFoundError
    from fama.runs.store import RunConfigMismatchError, StoreError

    try:
        return _run(args, model_factory)
    except (UsageError, DataNotFoundError, RunConfigMismatchError) as exc:
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


def loop_options(args: argparse.Namespace, loaded: LoadedBenchmark) -> dict[str, Any]:
    """Episode-loop options: the benchmark's defaults, then what the user set."""
    options: dict[str, Any] = {"max_steps": 200, "max_errors": 10, **loaded.loop_defaults}
    for name in ("max_steps", "max_errors"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    options["tool_call_mode"] = args.tool_call_mode
    return options


def _run(args: argparse.Namespace, model_factory: ModelFactory | None) -> int:
    import asyncio

    from fama.benchmarks.registry import ExecutorParts
    from fama.core.retry import RetryPolicy
    from fama.envs.tau2.evaluation import JUDGE_PROMPT
    from fama.envs.tau2.user_scenario import TRANSCRIPT_PROMPT
    from fama.prompts.registry import load_prompt
    from fama.runs.runner import Progress, agent_setup, plan_jobs, run_jobs, trial_seeds
    from fama.runs.store import FAILED_STATUSES, RunStore

    fama_config, mode = _fama_options(args)
    for name in ("trials", "concurrency", "max_steps", "max_errors"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    loaded = load_selected(args)
    task_ids = [loaded.task_id(t) for t in loaded.tasks]
    loop = loop_options(args, loaded)
    specs = _model_specs(args)
    user_style = resolve_user_style(args, loaded, _require(specs["user"]).model)
    if loaded.config.get("solo") and args.agent == "react":
        raise UsageError("--solo needs a function-calling agent (--agent fc or fama)")
    uses_judge = loaded.env.startswith("tau2:") and user_style != "none"
    if not uses_judge:
        specs["judge"] = None
    warning = (
        fairness_warning(fama_config, args.fama_config, args.split, task_ids)
        if fama_config is not None
        else None
    )
    if warning:
        print(f"\n*** WARNING (fairness): {warning} ***\n", file=sys.stderr)
    run_id = args.run_id or _default_run_id(loaded.domain, args.split, args.agent)
    config = {
        "env": args.env,
        "domain": loaded.domain,
        "split": args.split,
        **loaded.config,
        "task_ids": task_ids,
        "trials": args.trials,
        "trial_seeds": trial_seeds(args.trials),
        "seed_scheme": "official: random.seed(300); randint(0, 10**6) per trial (reference)",
        "agent": args.agent,
        "mode": mode,
        "fama_config": None if fama_config is None else fama_config.model_dump(mode="json"),
        "model": args.model,
        "base_url": specs["agent"].base_url if specs["agent"] else None,
        "user_model": specs["user"].model if specs["user"] else None,
        "user_base_url": specs["user"].base_url if specs["user"] else None,
        "user_style": user_style,
        "judge_model": specs["judge"].model if specs["judge"] else None,
        "judge_base_url": specs["judge"].base_url if specs["judge"] else None,
        "no_judge": args.no_judge,
        "temperature": args.temperature,
        "loop": {k: _jsonable(v) for k, v in sorted(loop.items())},
        "max_steps": loop["max_steps"],
        "max_errors": loop["max_errors"],
        "tool_call_mode": args.tool_call_mode,
        "fairness_warning": warning,
        "concurrency": args.concurrency,
        "command": command_line(args, run_id),
    }
    try:
        agent = agent_setup(
            args.agent, fama_config=fama_config, mode=mode, agent_prompt=loaded.agent_prompt
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    refs = [
        *agent.prompt_refs,
        *([load_prompt(JUDGE_PROMPT).ref] if specs["judge"] is not None else []),
        *([load_prompt(TRANSCRIPT_PROMPT).ref] if user_style == "transcript" else []),
        *loaded.data_refs,
    ]
    with RunStore(args.db) as store, ExitStack() as stack:
        resumed = store.create_or_resume_run(run_id, config, refs)
        keep = ["done"] if args.retry_errors else None
        stored = store.finished_episode_keys(run_id, statuses=keep)
        retried = store.episodes(run_id, statuses=FAILED_STATUSES) if args.retry_errors else []
        jobs = plan_jobs(
            loaded.tasks, args.trials, skip=stored, retried=retried, task_id=loaded.task_id
        )
        verb = "resuming" if resumed else "starting"
        print(
            f"{verb} run {run_id}: {len(jobs)} episodes to run, {len(stored)} already stored "
            f"(db {args.db})",
            file=sys.stderr,
        )
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
                    judge_model_name=config["judge_model"] or "",
                    retry=RetryPolicy(),
                    context_options=loop,
                    user_style=user_style,
                )
            )
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


def _jsonable(value: Any) -> Any:
    """Loop option values as JSON data (sets and tuples become sorted/plain lists)."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    return value


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


def _default_run_id(domain: str, split: str | None, agent: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{domain}-{split or 'all'}-{agent}-{stamp}"


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
    "run_id",
    "db",
    "concurrency",
)

"""The ``python:`` adapter of the benchmark registry: a user's own domain as a benchmark.

``--env python:TARGET`` where TARGET is ``package.module:factory``, ``path/to/file.py:factory``
or the name of an entry point in the group ``fama.envs``. The factory takes no arguments and
returns a ``fama.envs.custom.CustomDomain`` (the attribute may also be the domain itself).
The working directory is importable, as for ``python -m``. Every problem in loading (bad
path, missing attribute, a factory that raises, a bad task, an expected action that fails on
a fresh state) is one ``EnvLoadError`` line naming the target.

Episodes: the agent gets the ``tau2_agent`` prompt with the domain policy, the user simulator
plays the task's scenario (prompt ``custom_user``, or with ``--user-style transcript`` the
transcript prompts of ``fama.envs.user_transcript``) and ends with ``###STOP###``; scoring is
``fama.envs.custom.outcome``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, LoadedBenchmark, sha256_text
from fama.envs.custom.domain import CustomDomain, CustomEnvironment
from fama.envs.custom.outcome import evaluate_outcome, replay
from fama.envs.custom.tasks import CustomTask, load_tasks, select_tasks

if TYPE_CHECKING:
    from fama.core.env import ToolEnvironment
    from fama.core.scoring import RewardInfo
    from fama.core.users import UserSimulator
    from fama.graph.episode import EpisodeResult
    from fama.runs.runner import GraphEpisodeExecutor

PREFIX = "python"
ENTRY_POINT_GROUP = "fama.envs"
AGENT_PROMPT = "tau2_agent"
USER_PROMPT = "custom_user"


class EnvLoadError(ValueError):
    """A ``python:`` environment that cannot be loaded (one line, naming the target)."""


def _import_module(module: str, target: str) -> Any:
    if module.endswith(".py"):
        path = Path(module)
        if not path.is_file():
            raise EnvLoadError(f"python:{target}: no file {path}")
        spec = importlib.util.spec_from_file_location(f"fama_user_env_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise EnvLoadError(f"python:{target}: cannot load {path}")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = loaded
        spec.loader.exec_module(loaded)
        return loaded
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    return importlib.import_module(module)


def _entry_point(name: str) -> Any:
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise EnvLoadError(
            f"python:{name}: expected MODULE:FACTORY or the name of a {ENTRY_POINT_GROUP!r} "
            "entry point, and no such entry point is installed"
        )
    return next(iter(found)).load()


def resolve_target(target: str) -> Any:
    """The object TARGET names (a factory or a domain); ``EnvLoadError`` when it cannot."""
    module, sep, attribute = target.rpartition(":")
    try:
        if not sep:
            return _entry_point(target)
        if not module or not attribute:
            raise EnvLoadError(f"python:{target}: expected MODULE:FACTORY")
        loaded = _import_module(module, target)
    except EnvLoadError:
        raise
    except ModuleNotFoundError as exc:
        raise EnvLoadError(f"python:{target}: cannot import {module!r} ({exc})") from None
    except Exception as exc:  # the user's module failed while importing
        raise EnvLoadError(
            f"python:{target}: importing {module!r} raised {type(exc).__name__}: {exc}"
        ) from None
    if not hasattr(loaded, attribute):
        raise EnvLoadError(f"python:{target}: module {module!r} has no attribute {attribute!r}")
    return getattr(loaded, attribute)


def load_domain(target: str) -> CustomDomain:
    """Call the factory TARGET names and check that it returned a ``CustomDomain``."""
    found = resolve_target(target)
    if isinstance(found, CustomDomain):
        return found
    if not callable(found):
        raise EnvLoadError(f"python:{target}: {type(found).__name__} is not a factory")
    try:
        domain = found()
    except Exception as exc:
        raise EnvLoadError(
            f"python:{target}: the factory raised {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(domain, CustomDomain):
        raise EnvLoadError(
            f"python:{target}: the factory returned {type(domain).__name__}, not a CustomDomain"
        )
    return domain


def _checked(target: str, what: str, build: Callable[[], Any]) -> Any:
    """Run user code at load time; any exception becomes one ``EnvLoadError`` line."""
    try:
        return build()
    except Exception as exc:
        raise EnvLoadError(f"python:{target}: {what}: {exc}") from None


def expected_digests(domain: CustomDomain, tasks: Sequence[CustomTask]) -> dict[str, str]:
    """Each ``DB``-checked task's state hash after its expected actions (replayed now)."""
    return {t.id: replay(domain, t).digest() for t in tasks if "DB" in t.basis()}


def load_benchmark(target: str, options: BenchmarkOptions) -> LoadedBenchmark:
    """A user domain with its selected tasks and outcome checks."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from fama.envs.user_transcript import SYSTEM_PROMPT as TRANSCRIPT_SYSTEM_PROMPT
    from fama.prompts.registry import load_prompt

    domain = load_domain(target)
    source = domain.tasks if options.tasks_file is None else load_tasks(options.tasks_file)
    tasks = _checked(target, "tasks", lambda: select_tasks(source, options.split, options.task_ids))
    probe: CustomEnvironment = _checked(target, "building the tools", domain.new_environment)
    digests = _checked(
        target, "replaying the expected actions", lambda: expected_digests(domain, tasks)
    )
    schemas = [convert_to_openai_tool(t) for t in probe.agent_tools()]
    user_prompt = load_prompt(USER_PROMPT)
    transcript_prompt = load_prompt(TRANSCRIPT_SYSTEM_PROMPT)
    loop_defaults: dict[str, Any] = {}
    if domain.terminal_tools:
        loop_defaults["terminal_tools"] = frozenset(domain.terminal_tools)

    def make_executor(parts: ExecutorParts) -> GraphEpisodeExecutor:
        from fama.envs.user_simulator import LLMUserSimulator
        from fama.runs.runner import GraphEpisodeExecutor

        def make_env(task: CustomTask) -> ToolEnvironment:
            return domain.new_environment()

        def make_user(task: CustomTask, env: ToolEnvironment) -> UserSimulator:
            scenario = task.user_scenario.render()
            if parts.user_style == "transcript":
                prompt = transcript_prompt.render(scenario=scenario)
                return LLMUserSimulator(
                    parts.user_model, prompt, retries=parts.retry, style="transcript"
                )
            prompt = user_prompt.render(scenario=scenario)
            return LLMUserSimulator(parts.user_model, prompt, retries=parts.retry)

        async def evaluate(
            task: CustomTask, env: ToolEnvironment, result: EpisodeResult
        ) -> RewardInfo:
            if not isinstance(env, CustomEnvironment):
                raise TypeError(f"expected a CustomEnvironment, got {type(env).__name__}")
            return evaluate_outcome(
                task, env, result.records, result.termination, digests.get(task.id)
            )

        return GraphEpisodeExecutor(
            make_env=make_env,
            make_user=make_user,
            agent_model=parts.agent_model,
            agent=parts.agent,
            evaluate=evaluate,
            context_options={**loop_defaults, "retry": parts.retry, **parts.context_options},
        )

    return LoadedBenchmark(
        env=f"{PREFIX}:{target}",
        domain=domain.name,
        tasks=tasks,
        task_id=lambda task: task.id,
        policy=domain.policy,
        agent_prompt=AGENT_PROMPT,
        data_refs=[
            {
                "name": f"{domain.name}_policy",
                "version": "data",
                "sha256": sha256_text(domain.policy),
            },
            {
                "name": f"{domain.name}_tool_schemas",
                "version": "data",
                "sha256": sha256_text(json.dumps(schemas, sort_keys=True, default=str)),
            },
            user_prompt.ref,
        ],
        config={
            "tasks_file": None if options.tasks_file is None else str(options.tasks_file),
            "tasks_sha256": sha256_text(
                json.dumps([t.model_dump(mode="json") for t in tasks], sort_keys=True)
            ),
        },
        loop_defaults=loop_defaults,
        make_executor=make_executor,
        user_styles=("chat", "transcript"),
    )

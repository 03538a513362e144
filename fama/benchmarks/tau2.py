"""The tau2 adapter of the benchmark registry (retail, airline, telecom)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, LoadedBenchmark, sha256_text

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

    from langchain_core.language_models import BaseChatModel

    from fama.core.env import ToolEnvironment
    from fama.core.retry import RetryPolicy
    from fama.core.scoring import RewardInfo
    from fama.core.users import UserSimulator
    from fama.envs.tau2.environment import Tau2Domain
    from fama.envs.tau2.tasks import Task
    from fama.envs.user_transcript import UserStyle
    from fama.graph.episode import EpisodeResult
    from fama.runs.runner import AgentSetup, GraphEpisodeExecutor


def tasks_digest(tasks: Sequence[Task]) -> str:
    """A digest of the selected tasks, so a resumed run can tell they did not change."""
    dumped = [t.model_dump(mode="json") for t in tasks]
    return sha256_text(json.dumps(dumped, sort_keys=True, default=str))


def selected_tasks(domain: str, options: BenchmarkOptions, data_dir: Path) -> list[Task]:
    """The tasks of ``domain`` that ``options`` select (task set, split, file, ids)."""
    from fama.envs.tau2.tasks import load_tasks

    return load_tasks(
        domain,
        task_set=options.task_set,  # type: ignore[arg-type]
        split=options.split,
        data_dir=data_dir,
        tasks_file=options.tasks_file,
        task_ids=options.task_ids,
    )


def load_benchmark(domain: str, options: BenchmarkOptions) -> LoadedBenchmark:
    """A tau2 domain with its tasks; telecom's user gets the phone tools and their guidelines.

    ``options.solo`` (telecom): the solo mode of ``fama.benchmarks.tau2_solo`` (no user).
    """
    from fama.envs.tau2.data import resolve_data_dir
    from fama.envs.tau2.environment import load_domain
    from fama.envs.tau2.user_scenario import load_user_guidelines

    if options.solo:
        from fama.benchmarks.tau2_solo import load_solo_benchmark

        return load_solo_benchmark(options)

    data_dir = resolve_data_dir(options.data_dir)
    tasks = selected_tasks(domain, options, data_dir)
    loaded = load_domain(domain, data_dir)
    guidelines = load_user_guidelines(data_dir, with_tools=loaded.has_user_tools)

    def make_executor(parts: ExecutorParts) -> GraphEpisodeExecutor:
        return tau2_executor(
            loaded,
            agent=parts.agent,
            agent_model=parts.agent_model,
            user_model=parts.user_model,
            judge_model=parts.judge_model,
            judge_model_name=parts.judge_model_name,
            user_guidelines=guidelines,
            context_options=parts.context_options,
            retry=parts.retry,
            user_style="transcript" if parts.user_style == "transcript" else "chat",
        )

    return LoadedBenchmark(
        env=f"tau2:{domain}",
        domain=domain,
        tasks=tasks,
        task_id=lambda task: str(task.id),
        policy=loaded.policy,
        agent_prompt="tau2_agent",
        data_refs=[
            {"name": "tau2_policy", "version": "data", "sha256": sha256_text(loaded.policy)},
            {
                "name": "tau2_user_guidelines",
                "version": "data",
                "sha256": sha256_text(guidelines),
            },
        ],
        config={
            "task_set": options.task_set,
            "tasks_file": None if options.tasks_file is None else str(options.tasks_file),
            "data_dir": str(data_dir),
            "tasks_sha256": tasks_digest(tasks),
        },
        loop_defaults={},
        make_executor=make_executor,
        user_styles=("chat",) if loaded.has_user_tools else ("chat", "transcript"),
    )


def tau2_executor(
    domain: Tau2Domain,
    *,
    agent: AgentSetup,
    agent_model: BaseChatModel,
    user_model: BaseChatModel,
    judge_model: BaseChatModel | None,
    judge_model_name: str,
    user_guidelines: str,
    context_options: Mapping[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    user_style: UserStyle = "chat",
) -> GraphEpisodeExecutor:
    """The executor of tau2 episodes: fresh env per task, LLM user, official scoring.

    The user simulator gets the environment's user tools, if any (telecom's phone).
    ``retry`` (default: ``RetryPolicy()``) applies to the agent, user and judge model calls.
    ``user_style="transcript"`` gives the user the transcript prompt (single-control domains).
    """
    from fama.core.retry import RetryPolicy
    from fama.envs.tau2.evaluation import evaluate_episode
    from fama.envs.tau2.user_scenario import (
        render_transcript_user_prompt,
        render_user_system_prompt,
    )
    from fama.envs.user_simulator import LLMUserSimulator
    from fama.nodes.env_tools import env_user_tools
    from fama.runs.runner import GraphEpisodeExecutor

    policy = retry or RetryPolicy()

    def make_user(task: Any, env: ToolEnvironment) -> UserSimulator:
        if user_style == "transcript":
            return LLMUserSimulator(
                user_model, render_transcript_user_prompt(task), retries=policy, style="transcript"
            )
        return LLMUserSimulator(
            user_model,
            render_user_system_prompt(task, user_guidelines),
            retries=policy,
            tools=env_user_tools(env),
        )

    async def evaluate(task: Any, env: ToolEnvironment, result: EpisodeResult) -> RewardInfo:
        """Official scoring (it replays the trajectory on fresh state; ``env`` is not read)."""
        return await evaluate_episode(
            domain,
            task,
            result.records,
            result.termination,
            judge=judge_model,
            judge_model_name=judge_model_name,
            judge_retries=policy,
        )

    return GraphEpisodeExecutor(
        make_env=domain.new_environment,
        make_user=make_user,
        agent_model=agent_model,
        agent=agent,
        evaluate=evaluate,
        context_options={"retry": policy, **(context_options or {})},
    )

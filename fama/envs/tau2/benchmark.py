"""The tau2 adapter of the benchmark registry (retail, airline, telecom)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fama.envs.registry import BenchmarkOptions, ExecutorParts, LoadedBenchmark, sha256_text

if TYPE_CHECKING:
    from fama.envs.tau2.tasks import Task
    from fama.runs.runner import GraphEpisodeExecutor


def tasks_digest(tasks: Sequence[Task]) -> str:
    """A digest of the selected tasks, so a resumed run can tell they did not change."""
    dumped = [t.model_dump(mode="json") for t in tasks]
    return sha256_text(json.dumps(dumped, sort_keys=True, default=str))


def load_benchmark(domain: str, options: BenchmarkOptions) -> LoadedBenchmark:
    """A tau2 domain with its tasks; telecom's user gets the phone tools and their guidelines.

    ``options.solo`` (telecom): the solo mode of ``fama.envs.tau2.solo`` (no user).
    """
    from fama.envs.tau2.data import resolve_data_dir
    from fama.envs.tau2.environment import load_domain
    from fama.envs.tau2.tasks import load_tasks
    from fama.envs.tau2.user_scenario import load_user_guidelines

    if options.solo:
        from fama.envs.tau2.solo import load_solo_benchmark

        return load_solo_benchmark(options)

    data_dir = resolve_data_dir(options.data_dir)
    tasks = load_tasks(
        domain,
        task_set=options.task_set,  # type: ignore[arg-type]
        split=options.split,
        data_dir=data_dir,
        tasks_file=options.tasks_file,
        task_ids=options.task_ids,
    )
    loaded = load_domain(domain, data_dir)
    guidelines = load_user_guidelines(data_dir, with_tools=loaded.has_user_tools)

    def make_executor(parts: ExecutorParts) -> GraphEpisodeExecutor:
        from fama.runs.runner import tau2_executor

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

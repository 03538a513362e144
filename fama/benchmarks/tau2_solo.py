"""The ``tau2:telecom --solo`` adapter: solo tasks, domain, prompt and executor.

The rules live in ``fama.envs.tau2.solo``; this module plugs them into the registry.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, LoadedBenchmark, sha256_text
from fama.envs.tau2.solo import (
    SOLO_DOMAIN,
    SOLO_LOOP_DEFAULTS,
    SOLO_PROMPT,
    SoloTelecomDomain,
    SoloUser,
    agent_sent_text,
    render_solo_prompt,
    solo_domain,
    solo_tasks,
)
from fama.envs.tau2.telecom.domain import TelecomDomain

if TYPE_CHECKING:
    from fama.core.scoring import RewardInfo
    from fama.graph.episode import EpisodeResult
    from fama.runs.runner import GraphEpisodeExecutor


def load_solo_benchmark(options: BenchmarkOptions) -> LoadedBenchmark:
    """``tau2:telecom`` in solo mode: the solo tasks, domain, prompt and executor."""
    from fama.benchmarks.tau2 import selected_tasks, tasks_digest
    from fama.envs.tau2.data import resolve_data_dir
    from fama.envs.tau2.environment import load_domain

    data_dir = resolve_data_dir(options.data_dir)
    telecom = load_domain(SOLO_DOMAIN, data_dir)
    if not isinstance(telecom, TelecomDomain):
        raise ValueError("solo mode needs the telecom domain")
    domain = solo_domain(telecom)
    tasks = solo_tasks(selected_tasks(SOLO_DOMAIN, options, data_dir))

    def make_executor(parts: ExecutorParts) -> GraphEpisodeExecutor:
        return solo_executor(domain, parts)

    return LoadedBenchmark(
        env=f"tau2:{SOLO_DOMAIN}",
        domain=SOLO_DOMAIN,
        tasks=tasks,
        task_id=lambda task: str(task.id),
        policy=domain.policy,
        agent_prompt=SOLO_PROMPT,
        data_refs=[
            {"name": "tau2_policy", "version": "data", "sha256": sha256_text(domain.policy)}
        ],
        config={
            "solo": True,
            "task_set": options.task_set,
            "tasks_file": None if options.tasks_file is None else str(options.tasks_file),
            "data_dir": str(data_dir),
            "tasks_sha256": tasks_digest(tasks),
        },
        loop_defaults=dict(SOLO_LOOP_DEFAULTS),
        make_executor=make_executor,
        user_styles=("none",),
    )


def solo_executor(domain: SoloTelecomDomain, parts: ExecutorParts) -> GraphEpisodeExecutor:
    """Solo episodes: no user, the solo prompt with the ticket, official scoring.

    An episode in which the agent wrote a text message scores 0 (upstream's ``AGENT_ERROR``).
    """
    from fama.envs.tau2.evaluation import evaluate_episode
    from fama.runs.runner import GraphEpisodeExecutor

    if parts.agent.kind == "react":
        raise ValueError("solo mode needs a function-calling agent (fc or fama), not react")
    agent = replace(parts.agent, system_prompt=render_solo_prompt)

    async def evaluate(task: Any, env: Any, result: EpisodeResult) -> RewardInfo:
        info = await evaluate_episode(
            domain, task, result.records, result.termination, judge=None, judge_retries=parts.retry
        )
        if agent_sent_text(result.records):
            details = {**info.details, "note": "solo: the agent sent a text message (AGENT_ERROR)"}
            return info.model_copy(update={"reward": 0.0, "details": details})
        return info

    return GraphEpisodeExecutor(
        make_env=domain.new_environment,
        make_user=lambda task, env: SoloUser(),
        agent_model=parts.agent_model,
        agent=agent,
        evaluate=evaluate,
        context_options={
            **SOLO_LOOP_DEFAULTS,
            "retry": parts.retry,
            **parts.context_options,
        },
        initial_messages=lambda task: [],
    )

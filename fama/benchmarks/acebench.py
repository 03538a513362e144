"""The ACEBench adapter of the benchmark registry: ``acebench:multi_turn`` / ``multi_step``.

``multi_turn``: the agent opens with "Is there anything you need help with today?", an LLM
user plays the task's instruction and ends with "finish conversation". ``multi_step``: the
task text is the first (user) message and nobody answers questions. Both stop when the agent
says "finish conversation" and after 40 messages, as upstream. Scoring: end-to-end state
accuracy (the reward) and process accuracy (official and normalised components).
Behaviour follows chenchen0103/ACEBench (MIT).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, LoadedBenchmark, sha256_text
from fama.envs.acebench.data import (
    CATEGORIES,
    LANGS,
    AceTask,
    Category,
    Lang,
    load_initial_state,
    load_tasks,
    resolve_data_dir,
)
from fama.envs.acebench.users import (
    OPENERS,
    STOP_PHRASE,
    FixedReplyUser,
    agent_prompt_name,
    policy_prompt,
    render_user_system_prompt,
    user_prompt,
)

if TYPE_CHECKING:
    from fama.core.env import ToolEnvironment
    from fama.core.scoring import RewardInfo
    from fama.core.users import UserSimulator
    from fama.envs.acebench.environment import AceBenchEnvironment
    from fama.graph.episode import EpisodeResult
    from fama.runs.runner import GraphEpisodeExecutor

MAX_MESSAGES = 40
LOOP_DEFAULTS: dict[str, Any] = {
    "max_steps": MAX_MESSAGES,
    "max_errors": MAX_MESSAGES,  # no error limit upstream: the message cap is the bound
    "user_stop_tokens": (STOP_PHRASE,),
    "agent_stop_phrases": (STOP_PHRASE,),
}


def tasks_digest(tasks: Sequence[AceTask]) -> str:
    """A digest of the selected tasks, so a resumed run can tell they did not change."""
    dumped = json.dumps([asdict(t) for t in tasks], sort_keys=True, ensure_ascii=False)
    return sha256_text(dumped)


def initial_messages(task: AceTask) -> list[AnyMessage]:
    """multi_turn: the agent-side opener; multi_step: the task text as the user's message."""
    if task.category == "multi_step":
        return [HumanMessage(content=task.question)]
    return [AIMessage(content=OPENERS[task.lang])]


def combined_policy(tasks: Sequence[AceTask]) -> str:
    """Every distinct rule text the selected tasks use (for analysis and the run record)."""
    texts = dict.fromkeys(policy_prompt(t).text for t in tasks)
    return "\n\n".join(texts)


def prompt_refs(tasks: Sequence[AceTask]) -> list[dict[str, str]]:
    """Registry refs of the policy and user-simulator prompts the selected tasks use."""
    prompts = [policy_prompt(t) for t in tasks]
    prompts += [user_prompt(t) for t in tasks if t.category == "multi_turn"]
    return list({p.name: p.ref for p in prompts}.values())


def load_benchmark(domain: str, options: BenchmarkOptions) -> LoadedBenchmark:
    """ACEBench ``multi_turn`` or ``multi_step`` in ``options.lang`` (en|zh)."""
    if domain not in CATEGORIES:
        raise ValueError(
            f"unknown ACEBench domain {domain!r} (choose from {', '.join(CATEGORIES)})"
        )
    if options.lang not in LANGS:
        raise ValueError(f"unknown ACEBench language {options.lang!r} (choose en or zh)")
    if options.split is not None:
        raise ValueError("ACEBench has no splits; select tasks with task ids instead")
    if options.tasks_file is not None:
        raise ValueError("ACEBench does not take a tasks file; select tasks with task ids")
    category = cast(Category, domain)
    lang = cast(Lang, options.lang)
    data_dir = resolve_data_dir(options.data_dir)
    tasks = load_tasks(category, lang, data_dir=data_dir, task_ids=options.task_ids)
    seed = load_initial_state(lang, data_dir=data_dir)

    def make_executor(parts: ExecutorParts) -> GraphEpisodeExecutor:
        return acebench_executor(seed, parts)

    suffix = "_zh" if lang == "zh" else ""
    return LoadedBenchmark(
        env=f"acebench:{domain}",
        domain=f"acebench_{domain}{suffix}",
        tasks=tasks,
        task_id=lambda task: str(task.id),
        policy=combined_policy(tasks),
        agent_prompt=agent_prompt_name(lang),
        data_refs=prompt_refs(tasks),
        config={
            "data_dir": str(data_dir),
            "lang": lang,
            "category": f"agent_{domain}",
            "tasks_sha256": tasks_digest(tasks),
        },
        loop_defaults=dict(LOOP_DEFAULTS),
        make_executor=make_executor,
    )


def acebench_executor(seed: dict[str, Any], parts: ExecutorParts) -> GraphEpisodeExecutor:
    """The episode executor: fresh APIs per episode, the right user, official scoring."""
    from fama.envs.acebench.environment import AceBenchEnvironment
    from fama.envs.acebench.evaluation import evaluate_task
    from fama.envs.user_simulator import LLMUserSimulator
    from fama.runs.runner import GraphEpisodeExecutor

    def make_env(task: AceTask) -> AceBenchEnvironment:
        return AceBenchEnvironment(task, seed, policy_prompt(task).render())

    def make_user(task: AceTask, env: ToolEnvironment) -> UserSimulator:
        if task.category == "multi_step":
            return FixedReplyUser()
        return LLMUserSimulator(
            parts.user_model, render_user_system_prompt(task), retries=parts.retry
        )

    async def evaluate(task: AceTask, env: ToolEnvironment, result: EpisodeResult) -> RewardInfo:
        return evaluate_task(task, cast("AceBenchEnvironment", env))

    return GraphEpisodeExecutor(
        make_env=make_env,
        make_user=make_user,
        agent_model=parts.agent_model,
        agent=parts.agent,
        evaluate=evaluate,
        context_options={**LOOP_DEFAULTS, "retry": parts.retry, **parts.context_options},
        initial_messages=initial_messages,
    )

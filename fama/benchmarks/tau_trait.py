"""The tau-trait adapter of the benchmark registry (telecom, telehealth, retail, airline).

Episodes run like tau-bench v1's tool-calling agent: the agent's system prompt is the
domain's ``wiki.md`` (registry prompt ``tau_bench_agent`` = ``{policy}``), the user opens
after "Hi! How can I help you today?", the episode ends on ``###STOP###``, on a terminal
tool (``agent_stop``) or after 30 agent messages (``max_steps``, not scored), and the reward
is tau-bench v1's (``fama.envs.tau_trait.reward``). Behaviour follows collinear-ai/tau-trait
(MIT).
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, LoadedBenchmark, sha256_text
from fama.envs.tau_trait.data import DOMAINS, TauTraitTask, load_tasks, resolve_data_dir
from fama.envs.tau_trait.runtime import DomainTools, TauTraitDomain, TauTraitEnvironment
from fama.envs.tau_trait.traits import format_traits, validate_traits
from fama.envs.tau_trait.user import STOP_TOKEN, user_prompt_refs

if TYPE_CHECKING:
    from fama.core.env import ToolEnvironment
    from fama.core.scoring import RewardInfo
    from fama.core.users import UserSimulator
    from fama.graph.episode import EpisodeResult
    from fama.runs.runner import GraphEpisodeExecutor

AGENT_PROMPT = "tau_bench_agent"
MAX_AGENT_TURNS = 30
NO_ERROR_LIMIT = 10_000  # larger than any 30-turn episode can produce in practice


def tasks_digest(tasks: Sequence[TauTraitTask]) -> str:
    """A digest of the selected tasks, so a resumed run can tell they did not change."""
    return sha256_text(json.dumps([t.to_json() for t in tasks], sort_keys=True))


def domain_tools(domain: str) -> DomainTools:
    """The ``DOMAIN`` of ``fama.envs.tau_trait.<domain>`` (imported on demand)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown tau-trait domain {domain!r} (choose from {', '.join(DOMAINS)})")
    module = importlib.import_module(f"fama.envs.tau_trait.{domain}")
    tools: DomainTools = module.DOMAIN
    return tools


@lru_cache(maxsize=8)
def load_domain(domain: str, root: Path) -> TauTraitDomain:
    """A domain with its policy, tool schemas and initial data (cached per process and path)."""
    return TauTraitDomain(domain_tools(domain), root)


def domain_refs(prefix: str, domain: TauTraitDomain) -> list[dict[str, str]]:
    """sha256 refs of the domain's policy and tool schemas (``<prefix>_policy``, ...)."""
    return [
        {"name": f"{prefix}_policy", "version": "data", "sha256": sha256_text(domain.policy)},
        {
            "name": f"{prefix}_tool_schemas",
            "version": "data",
            "sha256": sha256_text(json.dumps(domain.schemas, sort_keys=True)),
        },
    ]


def v1_loop_defaults(tools: DomainTools) -> dict[str, Any]:
    """The episode-loop options of tau-bench v1's tool-calling agent for a domain."""
    return {
        "max_agent_turns": MAX_AGENT_TURNS,
        # tau-bench has no tool-error limit: the 30 agent turns are the bound
        "max_errors": NO_ERROR_LIMIT,
        "terminal_tools": tools.terminal_tools,
        "user_stop_tokens": (STOP_TOKEN,),
    }


def v1_executor(
    domain: TauTraitDomain,
    parts: ExecutorParts,
    loop_defaults: dict[str, Any],
    make_user: Callable[[TauTraitTask], UserSimulator],
) -> GraphEpisodeExecutor:
    """Episodes on ``domain`` scored by the v1 reward, with the user ``make_user`` builds."""
    from fama.envs.tau_trait.reward import evaluate_episode
    from fama.runs.runner import GraphEpisodeExecutor

    def make_env(task: TauTraitTask) -> ToolEnvironment:
        return domain.new_environment(task)

    def make_task_user(task: TauTraitTask, env: ToolEnvironment) -> UserSimulator:
        return make_user(task)

    async def evaluate(
        task: TauTraitTask, env: ToolEnvironment, result: EpisodeResult
    ) -> RewardInfo:
        if not isinstance(env, TauTraitEnvironment):
            raise TypeError(f"expected a TauTraitEnvironment, got {type(env).__name__}")
        # hashing large data takes a while: keep the event loop free meanwhile
        return await asyncio.to_thread(
            evaluate_episode, domain, task, env.data, result.records, result.termination
        )

    return GraphEpisodeExecutor(
        make_env=make_env,
        make_user=make_task_user,
        agent_model=parts.agent_model,
        agent=parts.agent,
        evaluate=evaluate,
        context_options={**loop_defaults, "retry": parts.retry, **parts.context_options},
    )


def load_benchmark(domain: str, options: BenchmarkOptions) -> LoadedBenchmark:
    """A tau-trait domain with its tasks, user traits and tau-bench v1 scoring."""
    from fama.envs.tau_trait.user import make_user_simulator

    tools = domain_tools(domain)
    traits = validate_traits(options.traits)
    root = resolve_data_dir(options.data_dir).resolve()
    tasks = load_tasks(
        root,
        domain,
        split=options.split,
        tasks_file=options.tasks_file,
        task_ids=options.task_ids,
    )
    loaded = load_domain(domain, root)
    loop_defaults = v1_loop_defaults(tools)

    def make_executor(parts: ExecutorParts) -> GraphEpisodeExecutor:
        def make_user(task: TauTraitTask) -> UserSimulator:
            return make_user_simulator(
                parts.user_model,
                task,
                traits,
                retries=parts.retry,
                style="transcript" if parts.user_style == "transcript" else "chat",
            )

        return v1_executor(loaded, parts, loop_defaults, make_user)

    return LoadedBenchmark(
        env=f"tau-trait:{domain}",
        domain=f"tau-trait-{domain}",
        tasks=tasks,
        task_id=lambda task: str(task.id),
        policy=loaded.policy,
        agent_prompt=AGENT_PROMPT,
        data_refs=[*domain_refs(f"tau_trait_{domain}", loaded), *user_prompt_refs(traits)],
        config={
            "data_dir": str(root),
            "tasks_file": None if options.tasks_file is None else str(options.tasks_file),
            "traits": traits,
            "traits_spec": format_traits(traits),
            "user_simulator": "tau-bench LLM user" + (" + trait persona prompt" if traits else ""),
            "tasks_sha256": tasks_digest(tasks),
        },
        loop_defaults=loop_defaults,
        make_executor=make_executor,
        user_styles=("chat", "transcript"),
    )

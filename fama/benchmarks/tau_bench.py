"""The tau-bench v1 adapter of the benchmark registry (retail, airline).

tau-bench v1 as the paper reports it: v1's task lists (retail test 115 / train 500 / dev 20,
airline test 50; ``fama.envs.tau_bench.tasks``), v1's initial data and policy, v1's LLM user
and reward. Episodes run exactly like ``tau-trait:<domain>`` without traits (tau-bench v1's
tool-calling agent: the policy as system prompt, 30 agent messages, ``###STOP###``).

Options: ``--data-dir`` is the tau-trait data folder (data, policy and tool schemas);
``$FAMA_TAU_BENCH_DIR`` names a tau-bench checkout to read the task lists from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, LoadedBenchmark
from fama.benchmarks.tau_trait import (
    AGENT_PROMPT,
    domain_refs,
    tasks_digest,
    v1_executor,
    v1_loop_defaults,
)
from fama.envs.tau_bench.domain import load_v1_domain
from fama.envs.tau_bench.tasks import UPSTREAM, load_v1_tasks
from fama.envs.tau_bench.user import make_v1_user
from fama.envs.tau_trait.data import TauTraitTask, resolve_data_dir
from fama.envs.tau_trait.user import user_prompt_refs

if TYPE_CHECKING:
    from fama.core.users import UserSimulator
    from fama.runs.runner import GraphEpisodeExecutor


def load_benchmark(domain: str, options: BenchmarkOptions) -> LoadedBenchmark:
    """A tau-bench v1 domain with its tasks, v1's user and v1's reward."""
    if options.traits:
        raise ValueError(f"tau-bench v1 has no user traits; use --env tau-trait:{domain}")
    if options.tasks_file is not None:
        raise ValueError(
            f"tau-bench v1 runs its own task lists; use --env tau-trait:{domain} --tasks-file"
        )
    root = resolve_data_dir(options.data_dir).resolve()
    selected = load_v1_tasks(domain, options.split, data_root=root, task_ids=options.task_ids)
    loaded = load_v1_domain(domain, root)
    loop_defaults = v1_loop_defaults(loaded.tools)

    def make_executor(parts: ExecutorParts) -> GraphEpisodeExecutor:
        def make_user(task: TauTraitTask) -> UserSimulator:
            return make_v1_user(parts.user_model, task, retries=parts.retry)

        return v1_executor(loaded, parts, loop_defaults, make_user)

    return LoadedBenchmark(
        env=f"tau-bench:{domain}",
        domain=f"tau-bench-{domain}",
        tasks=selected.tasks,
        task_id=lambda task: str(task.id),
        policy=loaded.policy,
        agent_prompt=AGENT_PROMPT,
        data_refs=[*domain_refs(f"tau_bench_{domain}", loaded), *user_prompt_refs()],
        config={
            "data_dir": str(root),
            "task_list": UPSTREAM if selected.pinned else selected.source,
            "task_list_sha256": selected.sha256,
            "user_simulator": "tau-bench v1 LLM user",
            "tasks_sha256": tasks_digest(selected.tasks),
        },
        loop_defaults=loop_defaults,
        make_executor=make_executor,
    )

"""Every ``--env`` loads through the registry and runs one scored episode end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from fama.benchmarks.registry import (
    ENVIRONMENTS,
    BenchmarkOptions,
    ExecutorParts,
    load_benchmark,
    options_from_config,
    parse_env,
    run_policy,
)
from fama.core.retry import RetryPolicy
from fama.runs.runner import EpisodeJob, agent_setup
from tests.fakes import ScriptedChatModel

# one task per environment (ids as the benchmark names them)
FIRST_TASK = {
    "tau2:retail": "0",
    "tau2:airline": "0",
    "tau2:telecom": None,  # the first task of the base split
    "acebench:multi_turn": "agent_multi_turn_0",
    "acebench:multi_step": "agent_multi_step_0",
    "tau-trait:retail": "test-0",
    "tau-trait:airline": "test-0",
    "tau-trait:telecom": "test-0",
    "tau-trait:telehealth": "test-0",
    "tau-bench:retail": "test-0",
    "tau-bench:airline": "test-0",
}
STOP = "finish conversation ###STOP###"  # ends the user's turn in every benchmark


def _data_dir(env: str, tau2: Path, acebench: Path, tau_trait: Path) -> Path:
    folders = {"tau2": tau2, "acebench": acebench, "tau-trait": tau_trait, "tau-bench": tau_trait}
    return folders[parse_env(env)[0]]


def test_every_environment_is_listed_once() -> None:
    assert sorted(FIRST_TASK) == sorted(ENVIRONMENTS)
    with pytest.raises(ValueError, match="unknown environment 'tau2:nowhere'"):
        parse_env("tau2:nowhere")


@pytest.mark.parametrize("kind", ["fc", "fama"])
@pytest.mark.parametrize("env", ENVIRONMENTS)
async def test_one_episode_through_the_registry(
    env: str, kind: str, tau2_data_dir: Path, acebench_data_dir: Path, tau_trait_data_dir: Path
) -> None:
    """The function-calling agent, and FAMA dynamic without a configuration (every helper in
    the pool, as ``benchmarks/embedded_baselines.py`` runs it): scored, FAMA's decisions kept."""
    task_id = FIRST_TASK[env]
    options = BenchmarkOptions(
        data_dir=_data_dir(env, tau2_data_dir, acebench_data_dir, tau_trait_data_dir),
        split="base" if env == "tau2:telecom" else None,
        task_ids=None if task_id is None else [task_id],
    )
    loaded = load_benchmark(env, options)
    task = loaded.tasks[0]
    assert loaded.env == env and loaded.policy
    agent = ScriptedChatModel(["Done. finish conversation"])
    user = ScriptedChatModel(["Hello, I need help.", STOP])
    helper = ScriptedChatModel(["1. Answer the customer."] * 20)
    setup = (
        agent_setup("fc", agent_prompt=loaded.agent_prompt)
        if kind == "fc"
        else agent_setup(
            "fama", mode="dynamic", agent_prompt=loaded.agent_prompt, helper_model=helper
        )
    )
    execute = loaded.make_executor(
        ExecutorParts(
            agent=setup,
            agent_model=agent,
            user_model=user,
            judge_model=None,
            judge_model_name="",
            retry=RetryPolicy(attempts=1),
            context_options={"max_steps": 10},
        )
    )
    outcome = await execute(EpisodeJob(loaded.task_id(task), 0, 1, task=task))
    assert outcome.status == "done", outcome.error_detail
    assert outcome.termination in ("user_stop", "agent_stop")
    assert outcome.reward is not None and 0.0 <= outcome.reward <= 1.0
    assert outcome.records[0]["role"] in ("assistant", "user")
    assert loaded.policy in str(agent.calls[0][0].content)  # the benchmark's agent prompt
    assert bool(outcome.extra.get("fama_decisions")) == (kind == "fama")


def test_policy_of_a_stored_run_is_reloaded(acebench_data_dir: Path) -> None:
    config = {
        "env": "acebench:multi_turn",
        "data_dir": str(acebench_data_dir),
        "lang": "zh",
        "task_ids": ["agent_multi_turn_20"],
    }
    options = options_from_config(config)
    assert (options.lang, options.task_ids) == ("zh", ["agent_multi_turn_20"])
    loaded = load_benchmark("acebench:multi_turn", options)
    assert run_policy(config) == loaded.policy

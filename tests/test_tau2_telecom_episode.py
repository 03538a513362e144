"""An end-to-end telecom episode: scripted agent and user models, the user fixes the phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from fama.benchmarks.tau2 import tau2_executor
from fama.envs.tau2.environment import load_domain
from fama.envs.tau2.tasks import load_tasks
from fama.envs.tau2.user_scenario import load_user_guidelines
from fama.runs.runner import EpisodeJob, agent_setup
from tests.fakes import ScriptedChatModel


def _call(name: str, call_id: str, **args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )


async def test_user_tool_calls_run_on_the_phone_and_the_episode_scores_one(
    tau2_data_dir: Path,
) -> None:
    domain = load_domain("telecom", tau2_data_dir)
    task = load_tasks("telecom", split="base", data_dir=tau2_data_dir)[0]
    agent_model = ScriptedChatModel(
        [
            _call("get_customer_by_phone", "a1", phone_number="555-123-2002"),
            "Please turn off airplane mode and turn on data roaming.",
            "Glad it works. Anything else?",
        ]
    )
    user_model = ScriptedChatModel(
        [
            "My mobile data does not work. I am John Smith, 555-123-2002.",
            _call("toggle_airplane_mode", "u1"),
            _call("toggle_roaming", "u2"),
            "Done, the speed test is excellent now.",
            "No, thanks. ###STOP###",
        ]
    )
    guidelines = load_user_guidelines(tau2_data_dir, with_tools=True)
    execute = tau2_executor(
        domain,
        agent=agent_setup("fc"),
        agent_model=agent_model,
        user_model=user_model,
        judge_model=None,
        judge_model_name="",
        user_guidelines=guidelines,
    )
    outcome = await execute(EpisodeJob(task_id=task.id, trial=0, seed=0, task=task))

    assert outcome.termination == "user_stop" and outcome.reward == 1.0
    assert outcome.reward_info is not None
    assert outcome.reward_info["components"]["ENV_ASSERTION"] == 1.0
    user_calls = [
        (r["role"], c["name"]) for r in outcome.records for c in r.get("tool_calls") or []
    ]
    assert user_calls == [
        ("assistant", "get_customer_by_phone"),
        ("user", "toggle_airplane_mode"),
        ("user", "toggle_roaming"),
    ]
    phone_results = [r for r in outcome.records if r.get("requestor") == "user"]
    assert [r["content"].splitlines()[0] for r in phone_results] == [
        "Airplane Mode is now OFF.",
        "Data Roaming is now ON.",
    ]
    assert {t.name for t in user_model.bound_tools} == set(domain.user_tool_kinds)
    # The agent never sees the user's tool calls or their results.
    last_agent_input = " ".join(str(m.content) for m in agent_model.calls[-1])
    assert "Airplane Mode is now OFF" not in last_agent_input
    assert "Done, the speed test is excellent now." in last_agent_input

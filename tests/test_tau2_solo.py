"""tau2 telecom solo mode: ticket prompt, no user, phone tools for the agent, official scoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, SystemMessage
from pydantic import Field

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, load_benchmark
from fama.core.retry import RetryPolicy
from fama.envs.tau2.solo import DONE_TOOL, STOP_TOKEN, is_solo_task
from fama.envs.tau2.tasks import Task
from fama.runs.runner import EpisodeJob, EpisodeOutcome, agent_setup
from tests.fakes import ScriptedChatModel

FAST = RetryPolicy(attempts=1, initial_backoff_s=0.0)


def _call(name: str, call_id: str, **args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )


class RecordingModel(ScriptedChatModel):
    """A scripted model that also keeps the keyword arguments of ``bind_tools``."""

    bind_kwargs: dict[str, Any] = Field(default_factory=dict)

    def bind_tools(self, tools: Any, **kwargs: Any) -> RecordingModel:  # type: ignore[override]
        self.bind_kwargs = kwargs
        super().bind_tools(tools)
        return self


async def _run(data_dir: Path, replies: list[Any]) -> tuple[EpisodeOutcome, RecordingModel]:
    loaded = load_benchmark(
        "tau2:telecom", BenchmarkOptions(data_dir=data_dir, split="base", solo=True)
    )
    task = loaded.tasks[0]
    model = RecordingModel(replies)
    execute = loaded.make_executor(
        ExecutorParts(
            agent=agent_setup("fc", agent_prompt=loaded.agent_prompt),
            agent_model=model,
            user_model=ScriptedChatModel([]),  # never asked: there is no user
            judge_model=None,
            judge_model_name="",
            retry=FAST,
            context_options={"max_steps": 30, "max_errors": 10},
        )
    )
    return await execute(EpisodeJob(task_id=task.id, trial=0, seed=0, task=task)), model


async def test_solo_agent_fixes_the_phone_itself_and_scores_one(tau2_data_dir: Path) -> None:
    outcome, model = await _run(
        tau2_data_dir,
        [
            _call("get_customer_by_phone", "a1", phone_number="555-123-2002"),
            _call("toggle_airplane_mode", "a2"),
            _call("toggle_roaming", "a3"),
            _call(DONE_TOOL, "a4"),
        ],
    )
    assert outcome.termination == "agent_stop" and outcome.reward == 1.0
    prompt = model.calls[0]
    assert len(prompt) == 1 and isinstance(prompt[0], SystemMessage)  # no greeting, no user
    assert "<ticket>" in str(prompt[0].content) and "555-123-2002" in str(prompt[0].content)
    assert "You cannot communicate with the user" in str(prompt[0].content)
    names = {t.name for t in model.bound_tools}
    assert {DONE_TOOL, "toggle_roaming", "get_customer_by_phone"} <= names
    assert model.bind_kwargs["tool_choice"] == "required"
    done = [r for r in outcome.records if r["role"] == "tool" and r.get("name") == DONE_TOOL]
    assert done and done[0]["content"] == STOP_TOKEN
    assert all(r["role"] != "user" for r in outcome.records)


async def test_a_text_message_ends_a_solo_episode_with_reward_zero(tau2_data_dir: Path) -> None:
    outcome, _ = await _run(
        tau2_data_dir,
        [
            _call("toggle_airplane_mode", "a1"),
            _call("toggle_roaming", "a2"),
            "I fixed your phone.",
        ],
    )
    assert outcome.reward == 0.0
    assert outcome.reward_info is not None
    assert "AGENT_ERROR" in outcome.reward_info["details"]["note"]
    # the same actions ended with ``done`` would have solved it: the text is what costs
    assert outcome.reward_info["components"]["ENV_ASSERTION"] == 1.0


def test_solo_task_filter_follows_upstream(tau2_data_dir: Path) -> None:
    loaded = load_benchmark(
        "tau2:telecom", BenchmarkOptions(data_dir=tau2_data_dir, split="test", solo=True)
    )
    assert len(loaded.tasks) == 40 and loaded.config["solo"] is True
    assert loaded.user_styles == ("none",) and loaded.agent_prompt == "tau2_solo_agent"
    dual = load_benchmark("tau2:telecom", BenchmarkOptions(data_dir=tau2_data_dir, split="test"))
    assert "main_policy" in loaded.policy and loaded.policy != dual.policy
    task = loaded.tasks[0]
    assert isinstance(task, Task) and is_solo_task(task)
    bare = task.model_copy(update={"initial_state": None})
    assert is_solo_task(bare) and not is_solo_task(bare.model_copy(update={"ticket": None}))
    # upstream accepts any task with an initial state whose history holds only tool calls
    assert is_solo_task(task.model_copy(update={"ticket": None}))


def test_solo_is_only_for_telecom(tau2_data_dir: Path) -> None:
    with pytest.raises(ValueError, match="solo mode is for tau2:telecom only"):
        load_benchmark("tau2:retail", BenchmarkOptions(data_dir=tau2_data_dir, solo=True))


def test_fama_run_solo_records_the_mode(tau2_data_dir: Path, tmp_path: Path) -> None:
    from fama.commands import run as run_module
    from fama.llm.models import ModelSpec
    from fama.runs.store import RunStore
    from tests.test_cli_run import parse

    first = load_benchmark(
        "tau2:telecom", BenchmarkOptions(data_dir=tau2_data_dir, split="base", solo=True)
    ).tasks[0]
    replies = [
        _call("toggle_airplane_mode", "a1"),
        _call("toggle_roaming", "a2"),
        _call(DONE_TOOL, "a3"),
    ]
    argv = [
        "--env", "tau2:telecom", "--solo", "--data-dir", str(tau2_data_dir), "--split", "base",
        "--task-ids", str(first.id),
        "--model", "scripted:agent", "--db", str(tmp_path / "r.sqlite"), "--run-id", "solo",
        "--no-progress",
    ]  # fmt: skip

    def factory(spec: ModelSpec) -> ScriptedChatModel:
        return ScriptedChatModel(list(replies) if spec.model == "scripted:agent" else [])

    assert run_module.run_command(parse(argv), model_factory=factory) == 0
    with RunStore(tmp_path / "r.sqlite") as store:
        info = store.load_run("solo")
        (episode,) = store.episodes("solo")
    assert info.config["solo"] is True and info.config["user_style"] == "none"
    assert info.config["judge_model"] is None and "solo" in info.config["command"]
    assert "tau2_solo_agent" in {r["name"] for r in info.prompt_refs}
    assert episode.termination == "agent_stop" and episode.reward == 1.0
    react = parse([*argv, "--agent", "react", "--run-id", "solo-react"])
    assert run_module.run_command(react, model_factory=factory) == 2

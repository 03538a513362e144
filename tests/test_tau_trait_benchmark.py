"""The tau-trait benchmark adapter: data folder, task selection, run config, one full episode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts
from fama.benchmarks.registry import load_benchmark as load_env
from fama.benchmarks.tau_trait import load_benchmark
from fama.envs.tau2.data import DataNotFoundError
from fama.envs.tau_trait.data import resolve_data_dir
from fama.envs.tau_trait.user import render_user_prompt
from fama.prompts.registry import load_prompt
from fama.runs.runner import EpisodeJob
from tests.fakes import ScriptedChatModel, fc_parts


def options(root: Path, **kwargs: Any) -> BenchmarkOptions:
    return BenchmarkOptions(data_dir=root, **kwargs)


def test_load_telecom(tau_trait_data_dir: Path) -> None:
    loaded = load_env("tau-trait:telecom", options(tau_trait_data_dir))
    assert (loaded.env, loaded.domain, loaded.agent_prompt) == (
        "tau-trait:telecom",
        "tau-trait-telecom",
        "tau_bench_agent",
    )
    assert [loaded.task_id(t) for t in loaded.tasks][:3] == ["test-0", "test-1", "test-2"]
    assert len(loaded.tasks) == 18
    wiki = (tau_trait_data_dir / "telecom" / "wiki.md").read_text()
    assert loaded.policy == wiki
    assert load_prompt(loaded.agent_prompt).render(policy=wiki) == wiki
    assert loaded.loop_defaults == {
        "max_agent_turns": 30,
        "max_errors": 10_000,
        "terminal_tools": frozenset(),
        "user_stop_tokens": ("###STOP###",),
    }
    names = [r["name"] for r in loaded.data_refs]
    assert names == ["tau_trait_telecom_policy", "tau_trait_telecom_tool_schemas", "tau_bench_user"]
    assert loaded.config["traits"] == {} and "split" not in loaded.config  # RunSpec has it
    assert len(loaded.config["tasks_sha256"]) == 64


def test_task_selection_and_traits(tau_trait_data_dir: Path) -> None:
    loaded = load_benchmark(
        "telecom",
        options(
            tau_trait_data_dir,
            split="dev",
            task_ids=["dev-3", "1"],
            traits={"Impatience": "HIGH", "skepticism": "low"},
        ),
    )
    assert [t.id for t in loaded.tasks] == ["dev-3", "dev-1"]
    assert loaded.config["traits"] == {"impatience": "high", "skeptical": "low"}
    assert loaded.config["traits_spec"] == "impatience=high,skeptical=low"
    assert [r["name"] for r in loaded.data_refs][-2:] == ["tau_bench_user", "tau_trait_traits"]


def test_tasks_file(tau_trait_data_dir: Path, tmp_path: Path) -> None:
    source = json.loads((tau_trait_data_dir / "telecom" / "tasks_test.json").read_text())
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(source[:2]))
    loaded = load_benchmark("telecom", options(tau_trait_data_dir, tasks_file=path))
    assert [t.id for t in loaded.tasks] == ["file-0", "file-1"]
    path.write_text(json.dumps([{"instruction": 3}]))
    with pytest.raises(ValueError, match="task 0: 'instruction' must be a string"):
        load_benchmark("telecom", options(tau_trait_data_dir, tasks_file=path))


@pytest.mark.parametrize(
    ("domain", "kwargs", "message"),
    [
        ("bank", {}, "unknown tau-trait domain 'bank'"),
        ("telecom", {"split": "holdout"}, "no split 'holdout'.*available: dev, test, train"),
        ("telecom", {"task_ids": ["test-99"]}, "unknown tau-trait task id 'test-99'"),
        ("telecom", {"traits": {"grumpy": "high"}}, "unknown trait 'grumpy'"),
    ],
)
def test_bad_options_are_clear_errors(
    tau_trait_data_dir: Path, domain: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_benchmark(domain, options(tau_trait_data_dir, **kwargs))


def test_data_dir_resolution(
    tau_trait_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAMA_TAU_TRAIT_DATA_DIR", raising=False)
    monkeypatch.delenv("FAMA_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError, match=r"--data-dir.*FAMA_TAU_TRAIT_DATA_DIR"):
        resolve_data_dir()
    with pytest.raises(DataNotFoundError, match="does not exist or has none of telecom"):
        resolve_data_dir(tmp_path / "missing")
    (tmp_path / "tau-trait" / "telecom").mkdir(parents=True)
    monkeypatch.setenv("FAMA_DATA_DIR", str(tmp_path / "tau2"))
    assert resolve_data_dir() == tmp_path / "tau-trait"
    monkeypatch.setenv("FAMA_TAU_TRAIT_DATA_DIR", str(tau_trait_data_dir))
    assert resolve_data_dir() == tau_trait_data_dir
    (tmp_path / "telecom").mkdir()
    assert resolve_data_dir(tmp_path) == tmp_path


def _call(name: str, args: dict[str, Any], n: int) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": f"c{n}", "type": "tool_call"}]
    )


def _parts(loaded: Any, agent: list[Any], user: list[Any]) -> tuple[ExecutorParts, Any, Any]:
    agent_model, user_model = ScriptedChatModel(agent), ScriptedChatModel(user)
    return fc_parts(loaded, agent_model, user_model), agent_model, user_model


async def test_full_episode_scores_like_tau_bench(tau_trait_data_dir: Path) -> None:
    loaded = load_benchmark(
        "telecom", options(tau_trait_data_dir, task_ids=["test-16"], traits={"impatience": "high"})
    )
    [task] = loaded.tasks
    payment = {
        "customer_id": "lisa_chen_3456",
        "amount": 185.5,
        "method": "credit_card",
        "date": "2025-09-18",
    }
    agent = [
        _call("find_customer_by_phone", {"phone": "(555) 234-5678"}, 1),
        "Your customer ID is lisa_chen_3456. Shall I record the $185.50 payment?",
        _call("record_payment", payment, 2),
        "Done: your new balance is $0.00.",
    ]
    user = [
        "Phone (555) 234-5678, pay $185.50 by card dated 2025-09-18, now.",
        "Yes. Hurry.",
        "###STOP###",
    ]
    parts, agent_model, user_model = _parts(loaded, agent, user)
    outcome = await loaded.make_executor(parts)(EpisodeJob(task.id, 0, 1, task=task))
    assert (outcome.status, outcome.termination, outcome.reward) == ("done", "user_stop", 1.0)
    assert outcome.reward_info["components"] == {"r_actions": 1.0, "r_outputs": 1.0}
    wiki = (tau_trait_data_dir / "telecom" / "wiki.md").read_text()
    first_agent_call: list[BaseMessage] = agent_model.calls[0]
    assert first_agent_call[0] == SystemMessage(content=wiki)
    first_user_call: list[BaseMessage] = user_model.calls[0]
    assert first_user_call[0].content == render_user_prompt(
        task.instruction, {"impatience": "high"}
    )
    assert first_user_call[1].content == "Hi! How can I help you today?"
    tool_records = [r for r in outcome.records if r["role"] == "tool"]
    assert tool_records[0]["content"] == "lisa_chen_3456"


async def test_agent_turn_limit_ends_unscored(tau_trait_data_dir: Path) -> None:
    loaded = load_benchmark("telecom", options(tau_trait_data_dir, task_ids=["test-5"]))
    [task] = loaded.tasks
    agent = [_call("think", {"thought": "hmm"}, n) for n in range(30)]
    parts, agent_model, _ = _parts(loaded, agent, ["Hi, what is ticket TICKET002?"])
    outcome = await loaded.make_executor(parts)(EpisodeJob(task.id, 0, 1, task=task))
    assert (outcome.termination, outcome.reward) == ("max_steps", 0.0)
    assert outcome.reward_info["components"] == {}
    assert len(agent_model.calls) == 30


@pytest.mark.parametrize(
    ("style", "marker"),
    [("chat", "You are a user interacting with an agent"), ("transcript", "CUSTOMER")],
)
def test_tau_trait_offers_the_transcript_user(
    tau_trait_data_dir: Path, style: str, marker: str
) -> None:
    """Small models get the transcript prompt with the task's instruction and traits."""
    from fama.envs.user_simulator import LLMUserSimulator

    loaded = load_benchmark(
        "retail", options(tau_trait_data_dir, task_ids=["test-0"], traits={"impatience": "high"})
    )
    assert loaded.user_styles == ("chat", "transcript")
    model = ScriptedChatModel([])
    executor = loaded.make_executor(fc_parts(loaded, model, model, user_style=style))
    task = loaded.tasks[0]
    user = executor.make_user(task, executor.make_env(task))
    assert isinstance(user, LLMUserSimulator)
    assert user.style == style and marker in user.system_prompt
    assert task.instruction in user.system_prompt
    assert "impatien" in user.system_prompt.lower()  # the persona block in both styles

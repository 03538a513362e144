"""The ACEBench adapter: loading options, prompts, and whole episodes through the runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from fama.benchmarks.acebench import load_benchmark
from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, LoadedBenchmark
from fama.core.retry import RetryPolicy
from fama.envs.acebench.users import NO_QUESTIONS, FixedReplyUser, render_user_system_prompt
from fama.prompts.registry import load_prompt
from fama.runs.runner import EpisodeJob, EpisodeOutcome, agent_setup
from tests.fakes import ScriptedChatModel


def call(name: str, n: int, **args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": f"c{n}", "type": "tool_call"}]
    )


def load(data_dir: Path, domain: str = "multi_turn", **options: Any) -> LoadedBenchmark:
    return load_benchmark(domain, BenchmarkOptions(data_dir=data_dir, **options))


async def run_episode(
    loaded: LoadedBenchmark, agent: list[Any], user: list[Any]
) -> tuple[EpisodeOutcome, ScriptedChatModel, ScriptedChatModel]:
    agent_model, user_model = ScriptedChatModel(agent), ScriptedChatModel(user)
    execute = loaded.make_executor(
        ExecutorParts(
            agent=agent_setup("fc", agent_prompt=loaded.agent_prompt),
            agent_model=agent_model,
            user_model=user_model,
            judge_model=None,
            judge_model_name="",
            retry=RetryPolicy(attempts=1),
            context_options=loaded.loop_defaults,
        )
    )
    [task] = loaded.tasks
    outcome = await execute(EpisodeJob(loaded.task_id(task), 0, 1, task=task))
    return outcome, agent_model, user_model


def test_load_benchmark_options(acebench_data_dir: Path) -> None:
    loaded = load(acebench_data_dir)
    assert (loaded.env, loaded.domain, len(loaded.tasks)) == (
        "acebench:multi_turn",
        "acebench_multi_turn",
        30,
    )
    assert loaded.agent_prompt == "acebench_agent"
    assert loaded.loop_defaults == {
        "max_steps": 40,
        "max_errors": 40,
        "user_stop_tokens": ("finish conversation",),
        "agent_stop_phrases": ("finish conversation",),
    }
    assert loaded.config["lang"] == "en" and len(loaded.config["tasks_sha256"]) == 64
    names = {ref["name"] for ref in loaded.data_refs}
    assert names == {
        "acebench_policy_phone",
        "acebench_policy_travel",
        "acebench_user_phone",
        "acebench_user_travel",
    }
    assert "airline agent" in loaded.policy and "mobile-phone assistant" in loaded.policy
    zh = load(acebench_data_dir, "multi_step", lang="zh", task_ids=["1", "2"])
    assert (zh.domain, zh.agent_prompt) == ("acebench_multi_step_zh", "acebench_agent_zh")
    assert [zh.task_id(t) for t in zh.tasks] == ["agent_multi_step_1", "agent_multi_step_2"]
    assert {ref["name"] for ref in zh.data_refs} == {"acebench_multi_step_zh"}
    for domain, options, message in [
        ("normal", {}, "unknown ACEBench domain"),
        ("multi_turn", {"lang": "fr"}, "unknown ACEBench language"),
        ("multi_turn", {"split": "test"}, "no splits"),
    ]:
        with pytest.raises(ValueError, match=message):
            load(acebench_data_dir, domain, **options)


def test_prompts_render(acebench_data_dir: Path) -> None:
    [phone, travel] = load(acebench_data_dir, task_ids=["0", "20"]).tasks
    assert phone.question in render_user_system_prompt(phone)
    assert "round-trip" in render_user_system_prompt(travel)
    [zh] = load(acebench_data_dir, lang="zh", task_ids=["20"]).tasks
    assert "往返航班" in render_user_system_prompt(zh)
    rendered = load_prompt("acebench_agent").render(policy="RULES")
    assert rendered.rstrip().endswith("RULES") and "finish conversation" in rendered


async def test_fixed_reply_user() -> None:
    reply, usage = await FixedReplyUser().respond([])
    assert reply.content == NO_QUESTIONS and usage == []


BOOKING_USER = [
    "I want to fly from Beijing to Shanghai; I'm user2, password password456.",
    "Economy, bank, one bag, flight CA1234 please.",
    "finish conversation",
]


def booking_agent(payment: str) -> list[Any]:
    return [
        call("get_flight_details", 1, origin="Beijing", destination="Shanghai"),
        "CA1234 departs 08:00. Which cabin, payment method and how many bags?",
        call(
            "reserve_flight",
            2,
            user_id="user2",
            password="password456",
            flight_no="CA1234",
            cabin="Economy Class",
            payment_method=payment,
            baggage_count=1,
        ),
        "Booked: reservation res_5.",
    ]


async def test_multi_turn_episode_that_solves_the_task(acebench_data_dir: Path) -> None:
    loaded = load(acebench_data_dir, task_ids=["20"])
    outcome, agent_model, user_model = await run_episode(
        loaded, booking_agent("bank"), BOOKING_USER
    )
    assert (outcome.status, outcome.termination, outcome.reward) == ("done", "user_stop", 1.0)
    assert outcome.reward_info["components"] == {
        "end_to_end": 1.0,
        "process": 1.0,
        "process_normalised": 1.0,
    }
    assert outcome.records[0] == {
        "role": "assistant",
        "content": "Is there anything you need help with today?",
    }
    booked = [r for r in outcome.records if r["role"] == "tool"][-1]
    assert booked["content"].startswith("Booking successful. Reservation ID: res_5.")
    system = agent_model.calls[0][0]
    assert isinstance(system, SystemMessage) and "airline agent" in system.text
    assert isinstance(agent_model.calls[0][1], AIMessage)  # the opener, then the user
    assert isinstance(agent_model.calls[0][2], HumanMessage)
    user_system = user_model.calls[0][0]
    assert loaded.tasks[0].question in user_system.text
    assert outcome.reward_info["details"]["process_log"] == list(loaded.tasks[0].mile_stone)


async def test_multi_turn_episode_that_fails(acebench_data_dir: Path) -> None:
    loaded = load(acebench_data_dir, task_ids=["20"])
    outcome, _, _ = await run_episode(loaded, booking_agent("cash"), BOOKING_USER)
    assert (outcome.status, outcome.reward) == ("done", 0.0)
    assert outcome.reward_info["components"] == {
        "end_to_end": 0.0,
        "process": 0.5,
        "process_normalised": 0.5,
    }
    details = outcome.reward_info["details"]
    assert any("Travel.users['user2']" in e for e in details["state_errors"])
    assert details["official_matched"] == [0]


async def test_multi_step_episode_with_the_fixed_reply(acebench_data_dir: Path) -> None:
    loaded = load(acebench_data_dir, "multi_step", task_ids=["3"])
    [task] = loaded.tasks
    agent = [
        "Which account should I use?",
        call("login_food_platform", 1, username="Jack", password="password654"),
        call(
            "add_food_delivery_order",
            2,
            username="Jack",
            merchant_name="Jiutian BBQ",
            items=[{"product": "Grilled Pork Belly", "quantity": 1}],
        ),
        "finish conversation",
    ]
    outcome, agent_model, user_model = await run_episode(loaded, agent, [])
    assert (outcome.termination, outcome.reward) == ("agent_stop", 1.0)
    assert outcome.records[0] == {"role": "user", "content": task.question}
    assert outcome.records[2] == {"role": "user", "content": NO_QUESTIONS}
    assert user_model.calls == []  # no simulator in multi_step
    assert "Do not ask the user anything" in agent_model.calls[0][0].text

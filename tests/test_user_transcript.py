"""The transcript user style: Agent:/Customer: lines, label stripping, run wiring."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from fama.benchmarks.registry import BenchmarkOptions, ExecutorParts, load_benchmark
from fama.commands.run import UsageError, resolve_user_style
from fama.core.retry import RetryPolicy
from fama.core.trajectory import MessageRecord
from fama.envs.user_simulator import LLMUserSimulator
from fama.envs.user_transcript import (
    clean_transcript_reply,
    default_user_style,
    transcript_lines,
)
from fama.runs.runner import EpisodeJob, agent_setup
from tests.fakes import ScriptedChatModel

FAST = RetryPolicy(attempts=1, initial_backoff_s=0.0)

HISTORY: list[MessageRecord] = [
    {"role": "assistant", "content": "Hi! How can I help you today?"},
    {"role": "user", "content": "I want to return a lamp."},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c1", "name": "find_user", "arguments": {"zip": "1"}}],
    },
    {"role": "tool", "content": "secret", "tool_call_id": "c1", "requestor": "assistant"},
    {"role": "assistant", "content": "What is your zip code?"},
]


def test_transcript_shows_texts_and_hides_agent_tools() -> None:
    assert transcript_lines(HISTORY) == [
        "Agent: Hi! How can I help you today?",
        "Customer: I want to return a lamp.",
        "Agent: What is your zip code?",
    ]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Customer: My zip is 12345.", "My zip is 12345."),
        ("**Customer:** Hello, I need a refund.", "Hello, I need a refund."),
        ("My zip is 12345.\nAgent: Thank you! Anything else?", "My zip is 12345."),
        ("customer : ###STOP###", "###STOP###"),
        ("I am a customer: no label here", "I am a customer: no label here"),
    ],
)
def test_reply_cleaning(raw: str, clean: str) -> None:
    assert clean_transcript_reply(raw) == clean


async def test_transcript_user_prompt_is_one_message_ending_with_customer() -> None:
    model = ScriptedChatModel(["Customer: 12345\nAgent: thanks"])
    user = LLMUserSimulator(model, "You are the customer.", retries=FAST, style="transcript")
    reply, calls = await user.respond(HISTORY)
    assert reply.content == "12345" and len(calls) == 1
    system, body = model.calls[0]
    assert isinstance(system, SystemMessage) and isinstance(body, HumanMessage)
    assert str(body.content).rstrip().endswith("Agent: What is your zip code?\nCustomer:")
    assert "secret" not in str(body.content) and "###STOP###" in str(body.content)


async def test_first_turn_asks_for_the_request_without_the_greeting() -> None:
    model = ScriptedChatModel(["I want to return a lamp."])
    user = LLMUserSimulator(model, "sys", retries=FAST, style="transcript")
    reply, _ = await user.respond(HISTORY[:1])
    assert reply.content == "I want to return a lamp."
    body = str(model.calls[0][1].content)
    assert "first chat message" in body and "How can I help" not in body


def test_echo_of_the_agent_is_empty() -> None:
    assert clean_transcript_reply("Agent: What is your zip code?", HISTORY) == ""
    assert clean_transcript_reply("Customer: What is your zip code?", HISTORY) == ""
    assert clean_transcript_reply("It is 12345.", HISTORY) == "It is 12345."


async def test_a_reply_that_is_only_a_label_is_asked_again() -> None:
    model = ScriptedChatModel(["Customer:", "Agent: How can I help?", "It is 12345."])
    user = LLMUserSimulator(model, "sys", retries=FAST, style="transcript")
    reply, calls = await user.respond(HISTORY)
    assert reply.content == "It is 12345." and len(calls) == 3


def test_default_style_by_user_model() -> None:
    assert default_user_style("local:qwen2.5-coder-0.5b") == "transcript"
    assert default_user_style("openai:gpt-4o") == "chat"


def test_run_resolves_and_checks_the_style(tau2_data_dir: Path) -> None:
    retail = load_benchmark("tau2:retail", BenchmarkOptions(data_dir=tau2_data_dir))
    telecom = load_benchmark("tau2:telecom", BenchmarkOptions(data_dir=tau2_data_dir))
    auto = argparse.Namespace(user_style=None)
    assert resolve_user_style(auto, retail, "local:qwen2.5-coder-0.5b") == "transcript"
    assert resolve_user_style(auto, retail, "openai:gpt-4o") == "chat"
    assert resolve_user_style(auto, telecom, "local:qwen2.5-coder-0.5b") == "chat"
    with pytest.raises(UsageError, match="supports chat"):
        resolve_user_style(argparse.Namespace(user_style="transcript"), telecom, "openai:x")


async def test_retail_episode_with_the_transcript_user(tau2_data_dir: Path) -> None:
    loaded = load_benchmark(
        "tau2:retail", BenchmarkOptions(data_dir=tau2_data_dir, split="test", task_ids=None)
    )
    task = loaded.tasks[0]
    user_model = ScriptedChatModel(["Customer: I need help with my order.", "###STOP###"])
    agent_model = ScriptedChatModel(["Sure, what is your order id?"])
    execute = loaded.make_executor(
        ExecutorParts(
            agent=agent_setup("fc", agent_prompt=loaded.agent_prompt),
            agent_model=agent_model,
            user_model=user_model,
            judge_model=None,
            judge_model_name="",
            retry=FAST,
            context_options={"max_steps": 10},
            user_style="transcript",
        )
    )
    outcome = await execute(EpisodeJob(task_id=str(task.id), trial=0, seed=0, task=task))
    assert outcome.termination == "user_stop"
    users = [r["content"] for r in outcome.records if r["role"] == "user"]
    assert users == ["I need help with my order.", "###STOP###"]
    system = str(user_model.calls[0][0].content)
    assert "CUSTOMER" in system and "<scenario>" in system

"""The user simulator: flipped roles, hidden agent tool use, stop tokens, scripted users."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from fama.core.retry import RetryPolicy
from fama.core.trajectory import MessageRecord
from fama.core.users import UserSimulatorError, is_user_stop
from fama.envs.user_simulator import LLMUserSimulator, ScriptedUser, user_view
from tests.fakes import ScriptedChatModel

FAST = RetryPolicy(attempts=2, initial_backoff_s=0.0)

HISTORY: list[MessageRecord] = [
    {"role": "assistant", "content": "Hi! How can I help you today?"},
    {"role": "user", "content": "What does an apple cost?"},
    {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [{"id": "c1", "name": "get_price", "arguments": {"item_id": "apple"}}],
    },
    {
        "role": "tool",
        "content": "2.0",
        "tool_call_id": "c1",
        "name": "get_price",
        "requestor": "assistant",
        "error": False,
    },
    {"role": "assistant", "content": "An apple costs 2.0 dollars."},
]


def test_view_flips_roles_and_hides_agent_tool_use() -> None:
    view = user_view(HISTORY)
    assert [type(m) for m in view] == [HumanMessage, AIMessage, HumanMessage]
    assert [m.content for m in view] == [
        "Hi! How can I help you today?",
        "What does an apple cost?",
        "An apple costs 2.0 dollars.",
    ]


def test_view_keeps_the_users_own_tool_use() -> None:
    own: list[MessageRecord] = [
        {
            "role": "user",
            "content": "",
            "tool_calls": [{"id": "u1", "name": "check_signal", "arguments": {}}],
        },
        {"role": "tool", "content": "4 bars", "tool_call_id": "u1", "requestor": "user"},
    ]
    view = user_view(own)
    assert isinstance(view[0], AIMessage) and view[0].tool_calls[0]["name"] == "check_signal"
    assert isinstance(view[1], ToolMessage) and view[1].tool_call_id == "u1"


async def test_llm_user_sees_system_prompt_and_flipped_history() -> None:
    model = ScriptedChatModel(["<think>plan</think>\nI want to change a price."])
    user = LLMUserSimulator(model, "You are a customer.", retries=FAST)
    reply, calls = await user.respond(HISTORY)
    assert isinstance(reply, HumanMessage)
    assert reply.content == "I want to change a price."
    prompt: list[BaseMessage] = model.calls[0]
    assert isinstance(prompt[0], SystemMessage) and prompt[0].content == "You are a customer."
    assert all("Let me check" not in str(m.content) for m in prompt)
    assert all(not isinstance(m, ToolMessage) for m in prompt)
    assert [c["node"] for c in calls] == ["user"]


async def test_empty_user_replies_are_retried_then_fail_clearly() -> None:
    model = ScriptedChatModel(["", "  ", "Hello"])
    reply, calls = await LLMUserSimulator(model, "sys", retries=FAST).respond(HISTORY)
    assert reply.content == "Hello" and len(calls) == 3
    silent = ScriptedChatModel(["", "", ""])
    with pytest.raises(UserSimulatorError, match="empty message 3 times"):
        await LLMUserSimulator(silent, "sys", retries=FAST).respond(HISTORY)


async def test_llm_user_with_tools_answers_with_tool_calls() -> None:
    from langchain_core.tools import StructuredTool

    def check_signal() -> str:
        """Check the phone's signal."""
        return "4 bars"

    tool = StructuredTool.from_function(func=check_signal)
    call: dict[str, Any] = {"name": "check_signal", "args": {}, "id": None, "type": "tool_call"}
    garbled = {"name": "x", "args": "{", "id": "b", "error": "bad", "type": "invalid_tool_call"}
    model = ScriptedChatModel(
        [
            AIMessage(content="", invalid_tool_calls=[garbled]),  # dropped: empty, asked again
            AIMessage(content="<think>hm</think>Checking.", tool_calls=[call]),
        ]
    )
    user = LLMUserSimulator(model, "sys", retries=FAST, tools=[tool])
    reply, calls = await user.respond(HISTORY)
    assert model.bound_tools == [tool] and len(calls) == 2
    assert reply.content == "Checking."
    assert reply.additional_kwargs["tool_calls"] == [
        {"id": f"user_{len(HISTORY)}_0", "name": "check_signal", "args": {}}
    ]


async def test_scripted_user_lines_and_exhaustion() -> None:
    message = HumanMessage(content="as a message")
    user = ScriptedUser(["first", lambda history: f"seen {len(history)}", message])
    assert (await user.respond(HISTORY))[0].content == "first"
    assert (await user.respond(HISTORY[:2]))[0].content == "seen 2"
    assert (await user.respond(HISTORY))[0] is message
    assert user.histories[1] == HISTORY[:2]
    with pytest.raises(AssertionError, match="ran out of lines"):
        await user.respond(HISTORY)


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("Thanks! ###STOP###", True),
        ("###TRANSFER###", True),
        ("bye ###OUT-OF-SCOPE###", True),
        ("STOP please", False),
        ("##STOP##", False),
    ],
)
def test_stop_tokens(text: str, stop: bool) -> None:
    assert is_user_stop(text) is stop
    assert is_user_stop(text, ("please",)) is (text == "STOP please")

"""Real-model smoke tests: the embedded 0.5B model through a real llama-server.

Opt in with ``FAMA_REAL_MODEL_TESTS=1`` (CI sets it). The first run builds llama-server and
downloads the model (several minutes, cached afterwards). Tiny-model answers are not stable
enough to assert on task success, so these tests check the mechanics: the server starts,
tool calls come back (natively, repaired, or constrained), tool results round-trip, and an
episode ends with a regular termination.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from fama.serving.server import LocalServer

MODEL = "local:qwen2.5-coder-0.5b"

# One event loop for the module: the OpenAI client's pooled connections outlive a test.
pytestmark = [
    pytest.mark.real_model,
    pytest.mark.enable_socket,
    pytest.mark.asyncio(loop_scope="module"),
]


def _skip_reason() -> str | None:
    if os.environ.get("FAMA_REAL_MODEL_TESTS") != "1":
        return "set FAMA_REAL_MODEL_TESTS=1 to run the real-model smoke tests"
    from fama.serving.build import (
        SERVER_BINARY_ENV,
        cached_server_path,
        default_build_config,
        missing_build_tools,
    )

    built = cached_server_path(default_build_config()).is_file()
    missing = missing_build_tools()
    if not built and not os.environ.get(SERVER_BINARY_ENV) and missing:
        return f"llama-server cannot be built here: missing {', '.join(missing)}"
    return None


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from fama.serving import local_server_for

    started = time.perf_counter()
    srv = local_server_for(MODEL)  # builds / downloads on first use
    print(
        f"\nsetup (build/model, cached after the first run): {time.perf_counter() - started:.1f} s"
    )
    with srv:
        print(f"server healthy after {srv.startup_seconds:.1f} s at {srv.base_url}")
        yield srv


@pytest.fixture(scope="module")
def chat_model(server: LocalServer) -> BaseChatModel:
    from fama.llm.models import ModelSpec, resolve_chat_model

    return resolve_chat_model(ModelSpec(model=MODEL, base_url=server.base_url, max_tokens=256))


def get_order_details(order_id: str) -> str:
    """Get the status and details of an order.

    Args:
        order_id: The order id, such as '#W0000000'.
    """
    return order_id


SYSTEM = (
    "You are a customer service agent of an online shop. Use the tools to look up orders. "
    "Always look an order up with get_order_details before answering about it."
)
ORDER_RESULT = '{"order_id": "#W2378156", "status": "delivered", "items": ["Headphones"]}'


def _tools() -> list[Any]:
    from langchain_core.tools import StructuredTool

    return [StructuredTool.from_function(get_order_details, parse_docstring=True)]


async def test_native_or_repaired_tool_call_round_trip(chat_model: BaseChatModel) -> None:
    from fama.llm.tool_call_repair import recover_tool_calls

    tools = _tools()
    bound = chat_model.bind_tools(tools, tool_choice="auto")
    prompt: list[Any] = [
        SystemMessage(content=SYSTEM),
        HumanMessage(content="What is the status of my order #W2378156?"),
    ]
    started = time.perf_counter()
    reply = await bound.ainvoke(prompt)
    assert isinstance(reply, AIMessage)
    assert reply.usage_metadata and reply.usage_metadata["input_tokens"] > 0
    repair = recover_tool_calls(reply, {"get_order_details"})
    message = repair.message
    print(
        f"\nfirst call {time.perf_counter() - started:.1f} s; native calls: "
        f"{len(reply.tool_calls)}; repaired: {repair.repaired}; content: {reply.text[:120]!r}"
    )
    assert message.tool_calls or message.text.strip(), "the model returned nothing"
    if not message.tool_calls:
        return  # a text answer is a legal turn; the constrained test forces a call
    call = message.tool_calls[0]
    assert call["name"] == "get_order_details"
    follow_up = [*prompt, message, ToolMessage(content=ORDER_RESULT, tool_call_id=call["id"])]
    second = await bound.ainvoke(follow_up)
    assert isinstance(second, AIMessage)
    assert second.text.strip() or second.tool_calls


async def test_constrained_decision_gives_a_valid_action(chat_model: BaseChatModel) -> None:
    from fama.llm.tool_call_repair import constrained_decision

    prompt = [
        SystemMessage(content=SYSTEM),
        HumanMessage(content="Please look up order #W2378156 with get_order_details."),
    ]
    reply, call, repair = await constrained_decision(chat_model, prompt, _tools())
    print(f"\nconstrained: {call['latency_ms']:.0f} ms, {reply.tool_calls or reply.text!r}")
    assert not repair.rejected, repair.rejected
    assert call["input_tokens"] > 0 and call["output_tokens"] > 0
    if not reply.tool_calls:
        assert reply.text.strip()
        return
    call_id = reply.tool_calls[0]["id"]
    assert reply.tool_calls[0]["name"] == "get_order_details"
    assert isinstance(reply.tool_calls[0]["args"].get("order_id"), str)
    # The tool result goes back in the history (no tools are sent in this mode).
    history = [*prompt, reply, ToolMessage(content=ORDER_RESULT, tool_call_id=call_id)]
    second, _, repair = await constrained_decision(chat_model, history, _tools())
    print(f"after the tool result: {second.tool_calls or second.text!r}")
    assert not repair.rejected, repair.rejected
    assert second.tool_calls or second.text.strip()


async def test_short_episode_on_fake_shop(chat_model: BaseChatModel) -> None:
    from fama.core.context import EpisodeContext
    from fama.core.retry import RetryPolicy
    from fama.envs.user_simulator import ScriptedUser
    from fama.graph.episode import run_episode
    from tests.fake_env import POLICY, FakeShopEnv

    env = FakeShopEnv()
    ctx = EpisodeContext(
        env=env,
        agent_model=chat_model,
        user=ScriptedUser(
            [
                "Hi! What is the price of an apple?",
                "Thanks, that's all. ###STOP###",
            ]
        ),
        system_prompt=f"You are a shop assistant. Use the tools.\n\nPolicy: {POLICY}",
        max_steps=10,
        max_errors=4,
        retry=RetryPolicy(attempts=2, initial_backoff_s=1.0),
        tool_call_mode="constrained",  # JSON actions: this 0.5B model then calls get_price
    )
    started = time.perf_counter()
    result = await run_episode(ctx)
    seconds = time.perf_counter() - started
    print(
        f"\nepisode: {seconds:.1f} s, termination {result.termination}, steps {result.steps}, "
        f"{len(result.llm_calls)} LLM calls, tool calls {[c[0] for c in env.calls]}, "
        f"issues {[i['kind'] for i in result.agent_issues]}"
    )
    assert result.termination in {"user_stop", "agent_stop", "max_steps", "too_many_errors"}
    assert result.error_detail is None
    assert result.llm_calls and all(c["input_tokens"] > 0 for c in result.llm_calls)
    assert [r["role"] for r in result.records[:2]] == ["assistant", "user"]

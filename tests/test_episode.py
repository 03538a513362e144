"""The episode loop: routing, step counting and limits like tau2's, failures recorded."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage

from fama.core.context import EpisodeContext, EpisodeLoopState
from fama.core.retry import RetryPolicy
from fama.envs.user_simulator import LLMUserSimulator
from fama.graph.episode import GREETING, build_episode_graph, run_episode
from tests.fake_env import FakeShopEnv, make_context, tool_call
from tests.fakes import ScriptedChatModel

_REQUEST = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


def down() -> openai.APIConnectionError:
    return openai.APIConnectionError(message="Connection refused", request=_REQUEST)


async def test_function_calling_episode_ends_with_user_stop() -> None:
    env = FakeShopEnv()
    ctx = make_context(
        [
            tool_call("get_price", {"item_id": "apple"}, "c1"),
            "An apple costs 2.0. Shall I change it?",
            tool_call("set_price", {"item_id": "apple", "price": 2.5}, "c2"),
            "Done, it now costs 2.5.",
        ],
        ["What does an apple cost?", "Yes, set it to 2.5.", "Great, thanks! ###STOP###"],
        env=env,
    )
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert result.error_detail is None
    assert result.records[0] == {"role": "assistant", "content": GREETING}
    assert [r["role"] for r in result.records] == [
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert result.records[-1]["content"] == "Great, thanks! ###STOP###"
    assert result.records[3]["content"] == "2.0"
    assert result.steps == 9  # the greeting is not a step
    assert result.tool_errors == 0
    assert env.prices["apple"] == 2.5
    assert [c["node"] for c in result.llm_calls] == ["agent"] * 4
    assert all(c["input_tokens"] > 0 and c["output_tokens"] > 0 for c in result.llm_calls)
    assert [t["node"] for t in result.node_timings] == [
        "user",
        "agent",
        "tools",
        "agent",
        "user",
        "agent",
        "tools",
        "agent",
        "user",
    ]


@pytest.mark.parametrize("token", ["###TRANSFER###", "###OUT-OF-SCOPE###"])
async def test_every_stop_token_ends_the_episode(token: str) -> None:
    ctx = make_context(["How can I help?"], ["hello", f"I give up {token}"])
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert result.records[-1]["content"] == f"I give up {token}"


async def test_text_with_tool_calls_is_a_tool_call_and_the_user_never_sees_it() -> None:
    ctx = make_context(
        [tool_call("get_price", {"item_id": "pear"}, text="One moment please."), "3.0 dollars."],
        ["pear price?", "ok ###STOP###"],
    )
    result = await run_episode(ctx)
    assert result.records[2]["content"] == "One moment please."
    assert result.records[3]["role"] == "tool"
    seen = ctx.user.histories[-1]  # type: ignore[attr-defined]
    assert seen[2]["tool_calls"][0]["name"] == "get_price"  # full trajectory is passed ...
    simulator_view = LLMUserSimulator(ScriptedChatModel(["x"]), "sys")
    await simulator_view.respond(seen)  # ... and the LLM user's view drops tool use
    view = simulator_view.model.calls[0]  # type: ignore[attr-defined]
    assert [m.content for m in view[1:]] == [GREETING, "pear price?", "3.0 dollars."]


async def test_max_steps_is_checked_only_when_no_tool_result_is_pending() -> None:
    ctx = make_context([tool_call("get_price", {"item_id": "apple"})], ["hi"], max_steps=2)
    result = await run_episode(ctx)
    # user (1), agent tool call (2, pending: no check), tool results (3): limit
    assert result.termination == "max_steps"
    assert result.steps == 3
    assert [r["role"] for r in result.records][-2:] == ["assistant", "tool"]


async def test_max_steps_after_an_agent_message_stops_before_the_user_answers() -> None:
    ctx = make_context(["Hello!"], ["hi"], max_steps=2)  # a second user turn would raise
    result = await run_episode(ctx)
    assert result.termination == "max_steps"
    assert result.steps == 2
    assert result.records[-1] == {"role": "assistant", "content": "Hello!"}


async def test_a_limit_reached_on_the_stop_message_wins_like_upstream() -> None:
    ctx = make_context(["Hello!"], ["hi", "bye ###STOP###"], max_steps=3)
    result = await run_episode(ctx)
    assert result.termination == "max_steps"
    assert result.records[-1]["content"] == "bye ###STOP###"


async def test_too_many_errors() -> None:
    ctx = make_context(
        [tool_call("fly", {}, "a"), tool_call("get_price", {"item_id": "kiwi"}, "b")],
        ["hi"],
        max_errors=2,
    )
    result = await run_episode(ctx)
    assert result.termination == "too_many_errors"
    assert result.tool_errors == 2
    assert result.steps == 5
    errors = [r for r in result.records if r["role"] == "tool"]
    assert [e["content"] for e in errors] == [
        "Error: Tool 'fly' not found.",
        "Error: Item not found: kiwi",
    ]
    assert all(e["error"] for e in errors)


async def test_malformed_arguments_become_counted_error_results() -> None:
    bad = AIMessage(
        content="",
        invalid_tool_calls=[
            {
                "name": "set_price",
                "args": "{'item_id': apple}",
                "id": "m1",
                "error": "Expecting property name enclosed in double quotes",
                "type": "invalid_tool_call",
            }
        ],
    )
    ctx = make_context([bad, "Sorry, which item?"], ["set apple to 3", "bye ###STOP###"])
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert result.tool_errors == 1
    tool = result.records[3]
    assert tool["role"] == "tool" and tool["error"] and tool["tool_call_id"] == "m1"
    assert "could not parse the call of tool 'set_price'" in tool["content"]
    second_prompt = ctx.agent_model.calls[1]  # type: ignore[attr-defined]
    assert isinstance(second_prompt[-1], ToolMessage) and second_prompt[-1].status == "error"


async def test_connection_errors_are_retried_within_the_decision() -> None:
    ctx = make_context([down(), down(), "Hello!"], ["hi", "bye ###STOP###"])
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert len([c for c in result.llm_calls if c["node"] == "agent"]) == 1


async def test_model_server_down_is_an_infrastructure_error_keeping_messages() -> None:
    ctx = make_context(
        [tool_call("get_price", {"item_id": "apple"}), down(), down(), down()],
        ["apple price?"],
    )
    result = await run_episode(ctx)
    assert result.termination == "infrastructure_error"
    assert result.error_detail is not None
    assert "unavailable after 3 attempt(s)" in result.error_detail
    assert "APIConnectionError" in result.error_detail
    assert [r["role"] for r in result.records] == ["assistant", "user", "assistant", "tool"]
    assert result.steps == 3
    assert len(result.llm_calls) == 1


async def test_user_model_down_is_an_infrastructure_error() -> None:
    fast = RetryPolicy(attempts=2, initial_backoff_s=0.0)
    user = LLMUserSimulator(ScriptedChatModel([down(), down()]), "sys", retries=fast)
    ctx = EpisodeContext(
        env=FakeShopEnv(),
        agent_model=ScriptedChatModel([]),
        user=user,
        system_prompt="sys",
        retry=fast,
    )
    result = await run_episode(ctx)
    assert result.termination == "infrastructure_error"
    assert result.records == [{"role": "assistant", "content": GREETING}]
    assert "node user" in (result.error_detail or "")


async def test_history_decides_who_speaks_first() -> None:
    ctx = make_context(["Sure, 2.0 dollars."], ["bye ###STOP###"])
    history: list[AnyMessage] = [AIMessage(content=GREETING), HumanMessage("Apple price?")]
    result = await run_episode(ctx, initial_messages=history)
    assert result.termination == "user_stop"
    assert result.steps == 2  # agent, user
    stopped = make_context([], [])
    done = await run_episode(stopped, initial_messages=[HumanMessage("###STOP###")])
    assert done.termination == "user_stop" and done.steps == 0


async def test_an_agent_node_that_never_answers_is_still_bounded() -> None:
    def silent(state: EpisodeLoopState) -> dict[str, Any]:
        return {}

    ctx = make_context([], ["hi"], max_steps=5)
    result = await run_episode(ctx, agent_node=silent)
    assert result.termination == "max_steps"
    assert "graph" in (result.error_detail or "")


async def test_usage_is_recorded_for_agent_and_user_calls() -> None:
    user = LLMUserSimulator(ScriptedChatModel(["hi", "bye ###STOP###"]), "You are a customer.")
    ctx = EpisodeContext(
        env=FakeShopEnv(),
        agent_model=ScriptedChatModel(["Hello, how can I help?"]),
        user=user,
        system_prompt="sys",
    )
    result = await run_episode(ctx)
    assert [c["node"] for c in result.llm_calls] == ["user", "agent", "user"]
    assert all(c["model"] == "scripted" for c in result.llm_calls)
    first_user_prompt = user.model.calls[0]  # type: ignore[attr-defined]
    assert isinstance(first_user_prompt[0], SystemMessage)
    assert isinstance(first_user_prompt[1], HumanMessage)
    assert first_user_prompt[1].content == GREETING


def test_graph_shape() -> None:
    graph = build_episode_graph().compile().get_graph()
    assert set(graph.nodes) == {"__start__", "user", "agent", "tools", "user_tools", "__end__"}
    edges = {(e.source, e.target) for e in graph.edges}
    assert {("user", "agent"), ("agent", "user"), ("agent", "tools"), ("tools", "agent")} <= edges
    assert {("user", "user_tools"), ("user_tools", "user")} <= edges
    assert ("agent", "agent") in edges


def test_context_validates_settings() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        make_context([], max_steps=0)
    with pytest.raises(ValueError, match="tool_call_mode"):
        make_context([], tool_call_mode="magic")


def test_compiled_graphs_are_reused_per_agent_node() -> None:
    from fama.graph.episode import compiled_episode_graph
    from fama.nodes.react_agent import react_agent_node

    assert compiled_episode_graph() is compiled_episode_graph()
    assert compiled_episode_graph(react_agent_node) is compiled_episode_graph(react_agent_node)
    assert compiled_episode_graph(react_agent_node) is not compiled_episode_graph()


def test_routers_are_pure_functions_of_the_state() -> None:
    from fama.graph.episode import route_after_agent, route_after_tools, route_start

    text = AIMessage(content="Hello")
    call = tool_call("get_price", {"item_id": "apple"})
    user = HumanMessage("hi")
    assert route_start({"messages": [text]}) == "user"
    assert route_start({"messages": [text, user]}) == "agent"
    assert route_start({"messages": [call]}) == "tools"
    assert route_after_agent({"messages": [user, text]}) == "user"
    assert route_after_agent({"messages": [user, call]}) == "tools"
    assert route_after_agent({"messages": [user]}) == "agent"  # unusable reply: ask again
    assert route_after_agent({"messages": [user, text], "termination": "max_steps"}) == "__end__"
    assert route_after_tools({"messages": [], "termination": "too_many_errors"}) == "__end__"

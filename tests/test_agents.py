"""The tool-use nodes (function calling, ReAct), guidance injection, and the tools node."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from fama.core.context import EpisodeContext, EpisodeLoopState
from fama.core.state import Guidance
from fama.core.steps import count_steps
from fama.graph.episode import GREETING, run_episode
from fama.nodes.env_tools import execute_tool_calls, tools_node
from fama.nodes.fc_agent import DECISION_NOTE_ID, fc_agent_node, render_guidance
from fama.nodes.react_agent import (
    ReactParseError,
    parse_react_output,
    react_agent_node,
    react_view,
    render_react_system_prompt,
)
from fama.prompts import PromptSet
from tests.fake_env import POLICY, FakeShopEnv, make_context, tool_call
from tests.fakes import ScriptedChatModel


def state_of(*messages: AnyMessage, **extra: Any) -> EpisodeLoopState:
    msgs = [AIMessage(content=GREETING), *messages]
    return {"messages": msgs, "tool_errors": 0, **extra}  # type: ignore[typeddict-item]


def prompts(ctx: EpisodeContext) -> list[list[BaseMessage]]:
    model = ctx.agent_model
    assert isinstance(model, ScriptedChatModel)
    return model.calls


# --- function-calling node --------------------------------------------------------------


async def test_fc_node_binds_tools_and_sends_system_prompt_then_trajectory() -> None:
    ctx = make_context([tool_call("get_price", {"item_id": "apple"})])
    state = state_of(HumanMessage("price of apple?"))
    update = await fc_agent_node(state, Runtime(context=ctx))
    assert update["messages"][0].tool_calls[0]["name"] == "get_price"
    model = ctx.agent_model
    assert isinstance(model, ScriptedChatModel)
    assert [t.name for t in model.bound_tools] == [
        "get_price",
        "set_price",
        "transfer_to_human_agents",
    ]
    prompt = prompts(ctx)[0]
    assert isinstance(prompt[0], SystemMessage) and prompt[0].content == ctx.system_prompt
    assert prompt[1:] == state["messages"]
    assert update["llm_calls"][0]["node"] == "agent"
    assert update["node_timings"][0]["node"] == "agent"
    assert "guidance" not in update and "steps" not in update


def test_render_guidance() -> None:
    prompts = PromptSet.defaults()
    assert render_guidance([], prompts) == ""
    text = render_guidance(
        [
            {"helper": "planner", "text": "Look up the order first."},
            {"helper": "constraints_extractor", "text": "Refunds go to the original payment."},
        ],
        prompts,
    )
    assert "- [planner] Look up the order first." in text
    assert "- [constraints_extractor] Refunds go to the original payment." in text
    assert text.startswith("<guidance>") and text.endswith("</guidance>")


async def test_guidance_reaches_the_model_for_one_decision_only() -> None:
    advice: Guidance = {"helper": "planner", "text": "Check the price before answering."}
    advised = {"done": False}

    def advise(state: EpisodeLoopState) -> dict[str, Any]:
        """Opens each decision as FAMA's orchestrator does: this decision's guidance only."""
        if advised["done"]:
            return {"guidance": Overwrite([])}
        advised["done"] = True
        return {"guidance": Overwrite([advice])}

    sub = StateGraph(EpisodeLoopState, context_schema=EpisodeContext)
    sub.add_node("advise", advise)
    sub.add_node("tool_use", fc_agent_node)
    sub.add_edge(START, "advise")
    sub.add_edge("advise", "tool_use")
    sub.add_edge("tool_use", END)

    ctx = make_context(
        [tool_call("get_price", {"item_id": "pear"}), "A pear costs 3.0."],
        ["How much is a pear?", "ok ###STOP###"],
    )
    result = await run_episode(ctx, agent_node=sub.compile())
    assert result.termination == "user_stop"
    first, second = prompts(ctx)
    assert isinstance(first[0], SystemMessage) and isinstance(second[0], SystemMessage)
    assert first[0].content == ctx.system_prompt == second[0].content  # prefix cache kept
    assert first[-1].id == DECISION_NOTE_ID
    assert "Check the price before answering." in str(first[-1].content)
    assert all("Check the price" not in str(m.content) for m in first[1:-1])
    assert all("Check the price" not in str(m.content) for m in second[1:])
    assert all("Check the price" not in r["content"] for r in result.records)


async def test_empty_reply_is_an_error_and_the_agent_is_asked_again() -> None:
    ctx = make_context(
        [AIMessage(content=""), "Hello! What do you need?"], ["hi", "bye ###STOP###"]
    )
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert [r["role"] for r in result.records] == ["assistant", "user", "assistant", "user"]
    assert result.tool_errors == 1
    assert result.steps == 4  # user, empty reply, agent text, user
    assert [i["kind"] for i in result.agent_issues] == ["empty_reply"]
    retry_prompt = prompts(ctx)[1]
    assert retry_prompt[-1].id == DECISION_NOTE_ID
    assert "could not be used: the reply was empty" in str(retry_prompt[-1].content)
    assert len([c for c in result.llm_calls if c["node"] == "agent"]) == 2


async def test_persistently_empty_replies_end_with_too_many_errors() -> None:
    ctx = make_context([AIMessage(content="")] * 3, ["hi"], max_errors=3)
    result = await run_episode(ctx)
    assert result.termination == "too_many_errors"
    assert result.tool_errors == 3
    assert len(result.agent_issues) == 3


# --- tools node ---------------------------------------------------------------------------


def test_tool_results_in_order_with_errors() -> None:
    env = FakeShopEnv()
    message = AIMessage(
        content="",
        tool_calls=[
            {"name": "get_price", "args": {"item_id": "apple"}, "id": "a", "type": "tool_call"},
            {"name": "get_price", "args": {"item_id": "kiwi"}, "id": "b", "type": "tool_call"},
            {"name": "fly_to_moon", "args": {}, "id": "c", "type": "tool_call"},
            {"name": "get_price", "args": {"wrong": 1}, "id": "d", "type": "tool_call"},
            {"name": "set_price", "args": {}, "id": "e", "type": "tool_call"},
        ],
        invalid_tool_calls=[
            {
                "name": "set_price",
                "args": '{"item_id": "apple", "price": ',
                "id": "f",
                "error": "Expecting value",
                "type": "invalid_tool_call",
            }
        ],
    )
    message.tool_calls[4]["args"] = ["apple", 5]  # type: ignore[typeddict-item]  # bypasses validation
    results = execute_tool_calls(env, message)
    assert [r.tool_call_id for r in results] == ["a", "b", "c", "d", "e", "f"]
    assert [r.status for r in results] == ["success"] + ["error"] * 5
    assert results[0].content == "2.0"
    assert results[1].content == "Error: Item not found: kiwi"
    assert results[2].content == "Error: Tool 'fly_to_moon' not found."
    assert "unexpected keyword argument 'wrong'" in str(results[3].content)
    assert "must be a JSON object" in str(results[4].content)
    assert "could not parse the call of tool 'set_price'" in str(results[5].content)
    assert all(r.additional_kwargs["requestor"] == "assistant" for r in results)
    assert env.prices["apple"] == 2.0  # malformed calls never reached the environment
    assert [c[0] for c in env.calls] == ["get_price", "get_price", "fly_to_moon", "get_price"]


def test_a_raising_environment_gives_an_error_result() -> None:
    class Broken(FakeShopEnv):
        def execute(self, name: str, arguments: dict[str, Any], requestor: str = "assistant"):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk on fire")

    [result] = execute_tool_calls(Broken(), tool_call("get_price", {"item_id": "apple"}))
    assert result.status == "error" and result.content == "Error: disk on fire"


async def test_tools_node_counts_the_agent_message_the_batch_and_errors() -> None:
    ctx = make_context([], max_errors=2)
    call = AIMessage(
        content="",
        tool_calls=[
            {"name": "nope", "args": {}, "id": "x", "type": "tool_call"},
            {"name": "nope2", "args": {}, "id": "y", "type": "tool_call"},
        ],
    )
    state = state_of(HumanMessage("hi"), call, episode_start=1)
    update = await tools_node(state, Runtime(context=ctx))
    after = {**state, "messages": [*state["messages"], *update["messages"]]}
    assert count_steps(after) == 3  # the user message, the agent message, the batch
    assert update["tool_errors"] == 2
    assert update["termination"] == "too_many_errors"
    assert all(isinstance(m, ToolMessage) for m in update["messages"])


# --- ReAct --------------------------------------------------------------------------------


def test_parse_tool_action_and_respond() -> None:
    action = parse_react_output(
        "Thought: I need the price.\n"
        'Action: {"name": "get_price", "arguments": {"item_id": "apple"}}'
    )
    assert (action.thought, action.name, action.arguments) == (
        "I need the price.",
        "get_price",
        {"item_id": "apple"},
    )
    reply = parse_react_output(
        "Thought:\nDone.\nAction:\n"
        '```json\n{"name": "respond", "arguments": {"content": "Hi"}}\n```'
    )
    assert reply.name == "respond" and reply.arguments == {"content": "Hi"}
    assert parse_react_output('Action: {"name": "think"}').arguments == {}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Sure, I can help with that.", "no 'Action:'"),
        ("Thought: x\nAction: get_price(apple)", "not a JSON object"),
        ('Action: {"name": "get_price", "arguments": {"item_id": }', "not valid JSON"),
        ('Action: ["get_price"]', "not a JSON object"),
        ('Action: {"arguments": {}}', 'no "name"'),
        ('Action: {"name": "get_price", "arguments": "apple"}', '"arguments" is not'),
        ('Action: {"name": "respond", "arguments": {"message": "hi"}}', '"content"'),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ReactParseError, match=reason.replace("(", r"\(")):
        parse_react_output(text)


def test_react_view_turns_tool_use_into_text() -> None:
    raw = 'Thought: look\nAction: {"name": "get_price", "arguments": {"item_id": "apple"}}'
    messages: list[AnyMessage] = [
        AIMessage(content=GREETING),
        HumanMessage("apple?"),
        AIMessage(
            content=raw,
            tool_calls=[{"name": "get_price", "args": {"item_id": "apple"}, "id": "r"}],
        ),
        ToolMessage(content="2.0", tool_call_id="r"),
        AIMessage(
            content="It costs 2.0", additional_kwargs={"react_raw": "Thought: ok\nAction: x"}
        ),
        AIMessage(content="", tool_calls=[{"name": "set_price", "args": {"price": 3}, "id": "s"}]),
    ]
    view = react_view(messages)
    assert [type(m) for m in view] == [
        AIMessage,
        HumanMessage,
        AIMessage,
        HumanMessage,
        AIMessage,
        AIMessage,
    ]
    greeting = json.loads(str(view[0].content).removeprefix("Action: "))
    assert greeting == {"name": "respond", "arguments": {"content": GREETING}}
    assert view[2].content == raw
    assert view[3].content == "API output: 2.0"
    assert view[4].content == "Thought: ok\nAction: x"
    assert view[5].content == 'Action: {"name": "set_price", "arguments": {"price": 3}}'
    assert all(not m.tool_calls for m in view if isinstance(m, AIMessage))


def test_react_system_prompt_lists_policy_and_tool_schemas() -> None:
    env = FakeShopEnv()
    text = render_react_system_prompt(env.policy, env.agent_tools())
    assert POLICY in text
    tools = json.loads(text.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0])
    assert [t["function"]["name"] for t in tools] == [
        "get_price",
        "set_price",
        "transfer_to_human_agents",
    ]
    assert '{"name": "respond", "arguments": {"content":' in text

    tools_with_respond = env.agent_tools()
    tools_with_respond[0].name = "respond"
    with pytest.raises(ValueError, match="may not be named 'respond'"):
        render_react_system_prompt(env.policy, tools_with_respond)


async def test_react_episode_with_a_tool_call_a_bad_output_and_a_reply() -> None:
    env = FakeShopEnv()
    ctx = make_context(
        [
            'Thought: need price\nAction: {"name": "get_price", "arguments": {"item_id": "pear"}}',
            "The pear costs 3.0!",  # no Action: unparseable
            'Thought: answer\nAction: {"name": "respond", "arguments": {"content": "3.0 dollars"}}',
        ],
        ["How much is a pear?", "thanks ###STOP###"],
        env=env,
        system_prompt=render_react_system_prompt(env.policy, env.agent_tools()),
    )
    result = await run_episode(ctx, agent_node=react_agent_node)
    assert result.termination == "user_stop"
    roles = [r["role"] for r in result.records]
    assert roles == ["assistant", "user", "assistant", "tool", "assistant", "user"]
    call_record = result.records[2]
    assert call_record["tool_calls"][0]["name"] == "get_price"
    assert call_record["content"].startswith("Thought: need price")
    assert result.records[3]["content"] == "3.0"
    assert result.records[4] == {"role": "assistant", "content": "3.0 dollars"}
    assert result.tool_errors == 1
    assert [i["kind"] for i in result.agent_issues] == ["unparseable"]
    # the model never got native tools, saw the tool output as text, and was told what failed
    third = prompts(ctx)[2]
    assert "API output: 3.0" in [m.content for m in third]
    assert "no 'Action:' line was found" in str(third[-1].content)
    assert all(not isinstance(m, ToolMessage) for m in third)
    user = ctx.user
    assert user.histories[-1][-1]["content"] == "3.0 dollars"  # type: ignore[attr-defined]


# --- tolerant and constrained tool-call modes ----------------------------------------------


async def test_tolerant_mode_recovers_text_tool_calls_and_records_the_repair() -> None:
    written = '<tool_call>{"name": "get_price", "arguments": {"item_id": "apple"}}</tool_call>'
    ctx = make_context(
        [
            written,
            "It costs 2.0.",
            '{"name": "launch_rocket", "arguments": {}}',
            "I cannot launch rockets.",
        ],
        ["apple price?", "and a rocket?", "bye ###STOP###"],
        tool_call_mode="tolerant",
    )
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    call = result.records[2]
    assert call["content"] == "" and call["tool_calls"][0]["name"] == "get_price"
    assert result.records[3]["content"] == "2.0"
    # a call of an unknown tool written as text is a call: the environment answers it
    assert result.records[6]["tool_calls"][0]["name"] == "launch_rocket"
    assert result.records[7]["content"] == "Error: Tool 'launch_rocket' not found."
    kinds = [(i["kind"], i["message_index"]) for i in result.agent_issues]
    assert kinds == [("repaired", 2), ("repaired", 6)]
    assert "launch_rocket (unknown: launch_rocket)" in result.agent_issues[1]["detail"]
    assert result.tool_errors == 1


async def test_constrained_mode_maps_json_actions() -> None:
    ctx = make_context(
        [
            '{"name": "get_price", "arguments": {"item_id": "pear"}}',
            '{"name": "respond", "arguments": {"message": "A pear costs 3.0."}}',
        ],
        ["pear price?", "bye ###STOP###"],
        tool_call_mode="constrained",
    )
    result = await run_episode(ctx)
    assert result.termination == "user_stop"
    assert result.records[2]["tool_calls"][0]["arguments"] == {"item_id": "pear"}
    assert result.records[3]["content"] == "3.0"
    assert result.records[4] == {"role": "assistant", "content": "A pear costs 3.0."}
    model = ctx.agent_model
    assert isinstance(model, ScriptedChatModel) and model.bound_tools == []
    system = prompts(ctx)[0][0]
    assert isinstance(system, SystemMessage)
    assert str(system.content).startswith(ctx.system_prompt) and "get_price" in str(system.content)
    assert [c["node"] for c in result.llm_calls] == ["agent", "agent"]
    assert result.agent_issues == []

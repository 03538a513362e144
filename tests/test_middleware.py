"""``FamaMiddleware`` on LangChain's ``create_agent``: sync and async agents and tools, guidance
for one call only, the verifier's block and remediation, a checkpointer, other middleware,
streaming, recording to the run store."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware, ToolCallLimitMiddleware
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from fama import FamaConfig, FamaMiddleware, RunRecorder
from fama.integrations.decision import GUIDANCE_ID
from fama.runs.report import build_report
from fama.runs.store import RunStore
from fama.view.model import build_view
from tests.fakes import ScriptedChatModel

POLICY = "Change a price only after the user's explicit confirmation (yes)."


def shop() -> tuple[list[Any], dict[str, float]]:
    """A sync read tool and an async-only write tool over one price list."""
    prices = {"apple": 2.0, "pear": 3.0}

    def get_price(item: str) -> str:
        """Get the price of an item.

        Args:
            item: The item.
        """
        return str(prices[item])

    async def set_price(item: str, price: float) -> str:
        """Set the price of an item.

        Args:
            item: The item.
            price: The new price.
        """
        prices[item] = price
        return f"{item} now costs {price}"

    return [get_price, set_price], prices


def call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def guidance_of(prompt: list[BaseMessage]) -> str:
    """The text of the FAMA guidance message of one model input ("" when there is none)."""
    return next((str(m.content) for m in prompt if m.id == GUIDANCE_ID), "")


def config(*helpers: str) -> FamaConfig:
    return FamaConfig(backbone="m", environment="own:shop", helpers=list(helpers))


SET_APPLE = call("set_price", {"item": "apple", "price": 3.0}, "c2")
CONFIRMED = "Price of apple? Yes, set it to 3.0."


def test_sync_agent_with_sync_and_async_tools() -> None:
    tools, prices = shop()
    model = ScriptedChatModel([call("get_price", {"item": "apple"}, "c1"), SET_APPLE, "Done."])
    helper = ScriptedChatModel(["OK"])
    seen: list[dict[str, Any]] = []
    fama = FamaMiddleware(
        policy=POLICY,
        write_tools=["set_price"],
        helper_model=helper,
        on_decision=lambda d: seen.append(dict(d)),
    )
    agent = create_agent(model, tools, middleware=[fama])
    out = agent.invoke({"messages": [HumanMessage(CONFIRMED)]})

    assert prices["apple"] == 3.0  # the async-only tool ran under invoke
    assert [m.type for m in out["messages"]] == ["human", "ai", "tool", "ai", "tool", "ai"]
    assert out["messages"][4].content == "apple now costs 3.0"
    # dynamic mode (no config): signals -> constraints extractor, guidance for that call only
    assert fama.setup.settings.mode == "dynamic"
    assert "constraints_extractor" in guidance_of(model.calls[0])
    assert all(m.id != GUIDANCE_ID for m in out["messages"])
    decisions = out["fama_decisions"]
    assert [d["diagnosis"]["decision"] for d in decisions] == [1, 2, 3] and seen == decisions
    assert [[c["node"] for c in d["llm_calls"]] for d in decisions] == [
        ["agent"],
        ["helper:decision_verifier", "agent"],
        ["agent"],
    ]
    assert [d["message_index"] for d in decisions] == [1, 3, 5]
    assert decisions[1]["diagnosis"]["verifier_checks"] == 1
    assert all(d["latency_ms"] > 0 for d in decisions)
    assert len(helper.calls) == 1


async def test_async_agent_gives_the_same_decisions() -> None:
    tools, prices = shop()
    model = ScriptedChatModel([call("get_price", {"item": "apple"}, "c1"), SET_APPLE, "Done."])
    fama = FamaMiddleware(
        policy=POLICY, write_tools=["set_price"], helper_model=ScriptedChatModel(["OK"])
    )
    agent = create_agent(model, tools, middleware=[fama])
    out = await agent.ainvoke({"messages": [HumanMessage(CONFIRMED)]})
    assert prices["apple"] == 3.0
    assert [d["diagnosis"]["decision"] for d in out["fama_decisions"]] == [1, 2, 3]
    assert out["fama_diagnosis"]["verifier_checks"] == 1


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_verifier_blocks_a_write_and_the_model_decides_again(api: str) -> None:
    tools, prices = shop()
    asked: list[str] = []

    def after_block(messages: list[BaseMessage]) -> str:
        asked.append(guidance_of(messages))
        return "Shall I set the apple to 3.0? Please confirm (yes)."

    model = ScriptedChatModel([SET_APPLE, after_block])
    fama = FamaMiddleware(
        policy=POLICY,
        config=config("decision_verifier"),
        write_tools=["set_price"],
        helper_model=ScriptedChatModel([]),  # the confirmation check needs no model call
    )
    agent = create_agent(model, tools, middleware=[fama])
    request = {"messages": [HumanMessage("Set the apple to 3.0.")]}
    out = agent.invoke(request) if api == "sync" else await agent.ainvoke(request)

    assert prices["apple"] == 2.0  # the blocked write never ran
    assert [m.type for m in out["messages"]] == ["human", "ai"]
    assert out["messages"][-1].content.startswith("Shall I set")
    assert "was NOT executed" in asked[0] and "explicit user confirmation" in asked[0]
    (decision,) = out["fama_decisions"]
    assert decision["diagnosis"]["verifier_blocks"][0]["check"] == "confirmation"
    assert [g["helper"] for g in decision["guidance"]] == ["decision_verifier"]
    assert [c["node"] for c in decision["llm_calls"]] == ["agent", "agent"]


def test_redecisions_are_bounded_and_the_llm_check_is_used() -> None:
    tools, prices = shop()
    model = ScriptedChatModel([SET_APPLE, SET_APPLE, "Done."])
    helper = ScriptedChatModel(["VIOLATION: the price may not change today."])
    fama = FamaMiddleware(
        policy=POLICY,
        config=config("decision_verifier"),
        write_tools=["set_price"],
        helper_model=helper,
    )
    agent = create_agent(model, tools, middleware=[fama])
    out = agent.invoke({"messages": [HumanMessage(CONFIRMED)]})
    # one block (max_redecisions = 1), then the second proposal goes through unchecked
    first = out["fama_decisions"][0]
    assert first["diagnosis"]["verifier_blocks"] == [
        {"check": "policy", "problem": "the price may not change today."}
    ]
    assert len(helper.calls) == 1 and prices["apple"] == 3.0
    assert [c["node"] for c in first["llm_calls"]] == ["helper:decision_verifier", "agent", "agent"]


def test_a_checkpointer_keeps_fama_state_per_thread() -> None:
    tools, _ = shop()
    model = ScriptedChatModel(
        [call("get_price", {"item": "apple"}, "c1"), "It is 2.0.", "Pears cost 3.0.", "Hello."]
    )
    planner = ScriptedChatModel(["1. Tell the apple price.", "1. Apple price. 2. Pear price."])
    fama = FamaMiddleware(
        policy=POLICY, config=config("planner"), write_tools=["set_price"], helper_model=planner
    )
    agent = create_agent(model, tools, middleware=[fama], checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t1"}}
    agent.invoke({"messages": [HumanMessage("Price of apple?")]}, thread)
    assert len(planner.calls) == 1  # the plan is cached for the second decision of the turn
    out = agent.invoke({"messages": [HumanMessage("And pears?")]}, thread)
    assert len(planner.calls) == 2  # a new user turn: a new plan
    assert [d["diagnosis"]["decision"] for d in out["fama_decisions"]] == [1, 2, 3]
    assert out["fama_diagnosis"]["plan"] == "1. Apple price. 2. Pear price."
    assert "Apple price. 2. Pear price." in guidance_of(model.calls[2])
    other = agent.invoke({"messages": [HumanMessage("Hi")]}, {"configurable": {"thread_id": "t2"}})
    assert [d["diagnosis"]["decision"] for d in other["fama_decisions"]] == [1]


def test_with_human_in_the_loop_and_a_tool_call_limit() -> None:
    tools, prices = shop()
    model = ScriptedChatModel([SET_APPLE, "Done."])
    fama = FamaMiddleware(
        policy=POLICY,
        config=config("decision_verifier"),
        write_tools=["set_price"],
        helper_model=ScriptedChatModel(["OK"]),
    )
    agent = create_agent(
        model,
        tools,
        middleware=[
            fama,
            HumanInTheLoopMiddleware(interrupt_on={"set_price": True}),
            ToolCallLimitMiddleware(run_limit=3),
        ],
        checkpointer=InMemorySaver(),
    )
    thread = {"configurable": {"thread_id": "hitl"}}
    paused = agent.invoke({"messages": [HumanMessage(CONFIRMED)]}, thread)
    assert "__interrupt__" in paused and prices["apple"] == 2.0  # FAMA passed it; a human decides
    assert paused["fama_decisions"][0]["diagnosis"]["verifier_checks"] == 1
    out = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), thread)
    assert prices["apple"] == 3.0 and out["messages"][-1].content == "Done."
    assert [d["diagnosis"]["decision"] for d in out["fama_decisions"]] == [1, 2]


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_streaming_shows_the_agent_not_the_helpers(api: str) -> None:
    tools, _ = shop()
    model = ScriptedChatModel(["The apple costs 2.0."])
    planner = ScriptedChatModel(["PLAN-SECRET"])
    fama = FamaMiddleware(policy=POLICY, config=config("planner"), helper_model=planner)
    agent = create_agent(model, tools, middleware=[fama])
    request = {"messages": [HumanMessage("Price of apple?")]}
    if api == "sync":
        chunks = list(agent.stream(request, stream_mode="messages"))
    else:
        chunks = [c async for c in agent.astream(request, stream_mode="messages")]
    texts = " ".join(str(message.content) for message, _ in chunks)
    assert "The apple costs 2.0." in texts and "PLAN-SECRET" not in texts
    assert len(planner.calls) == 1


def test_a_failing_helper_is_recorded_not_fatal() -> None:
    tools, _ = shop()
    model = ScriptedChatModel(["Hello."])
    broken = ScriptedChatModel([ValueError("helper server said no")])
    fama = FamaMiddleware(policy=POLICY, config=config("planner"), helper_model=broken)
    out = create_agent(model, tools, middleware=[fama]).invoke({"messages": [HumanMessage("hi")]})
    assert out["messages"][-1].content == "Hello."
    (decision,) = out["fama_decisions"]
    assert decision["guidance"] == [
        {"helper": "planner", "text": "", "error": "ValueError: helper server said no"}
    ]
    assert guidance_of(model.calls[0]) == ""  # a failed helper gives no advice


def test_a_failing_verifier_model_lets_the_write_through_recorded() -> None:
    tools, prices = shop()
    model = ScriptedChatModel([SET_APPLE, "Done."])
    down = ScriptedChatModel([ValueError("verifier server down")])
    fama = FamaMiddleware(
        policy=POLICY,
        config=config("decision_verifier"),
        write_tools=["set_price"],
        helper_model=down,
    )
    out = create_agent(model, tools, middleware=[fama]).invoke(
        {"messages": [HumanMessage(CONFIRMED)]}
    )
    assert prices["apple"] == 3.0
    first = out["fama_decisions"][0]
    assert first["guidance"] == [
        {"helper": "decision_verifier", "text": "", "error": "ValueError: verifier server down"}
    ]


def test_bad_settings_are_clear() -> None:
    with pytest.raises(ValueError, match="static mode needs a FamaConfig"):
        FamaMiddleware(policy=POLICY, mode="static")
    with pytest.raises(ValueError, match="not a valid FAMA configuration"):
        FamaMiddleware(policy=POLICY, config="/nonexistent/fama_config.json")
    tools, _ = shop()
    fama = FamaMiddleware(policy=POLICY, write_tools=["refund"], helper_model=ScriptedChatModel([]))
    agent = create_agent(ScriptedChatModel(["hi"]), tools, middleware=[fama])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent.invoke({"messages": [HumanMessage("hello")]})
    assert any(
        "write_tools not among the agent's tools: ['refund']" in str(w.message) for w in caught
    )


def test_recorded_conversations_work_with_report_and_view(tmp_path: Path) -> None:
    tools, _ = shop()
    db = tmp_path / "runs.sqlite"
    model = ScriptedChatModel([call("get_price", {"item": "pear"}, "c1"), "Pears cost 3.0."])
    fama = FamaMiddleware(
        policy=POLICY,
        config=config("memory"),
        write_tools=["set_price"],
        recorder=RunRecorder(db, "prod"),
    )
    agent = create_agent(model, tools, middleware=[fama], checkpointer=InMemorySaver())
    agent.invoke({"messages": [HumanMessage("Pear price?")]}, {"configurable": {"thread_id": "u7"}})
    with RunStore(db) as store:
        info = store.load_run("prod")
        (episode,) = store.episodes("prod")
        report = build_report(store, "prod")
        page = build_view(store, "prod")
    assert info.config["mode"] == "static" and info.config["agent"] == "fama-middleware"
    assert {r["name"] for r in info.prompt_refs} == {"decision_guidance", "helper_memory"}
    assert episode.task_id == "u7" and episode.reward is None
    assert [r["role"] for r in episode.records] == ["user", "assistant", "tool", "assistant"]
    assert [d["message_index"] for d in episode.extra["fama_decisions"]] == [1, 3]
    assert [c["node"] for c in episode.llm_calls] == ["agent", "agent"]
    assert report["episodes"]["stored"] == 1 and report["episode_rows"][0]["task_id"] == "u7"
    assert report["tokens"]["by_role"]["agent"]["calls"] == 2
    assert "memory" in str(page)
    assert episode.records[2]["content"] == "3.0"

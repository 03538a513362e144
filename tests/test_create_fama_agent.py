"""``create_fama_agent``: the FAMA graph in one call, as a new user tries it: ``invoke`` and
``stream``, async-only tools, the default mode, a checkpointer, per-role models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from fama import FamaConfig, create_fama_agent
from fama.graph.fama_agent import fama_agent_builder
from tests.fakes import ScriptedChatModel
from tests.test_middleware import POLICY, call, shop

SET_PEAR = call("set_price", {"item": "pear", "price": 4.0}, "c1")


def test_invoke_with_an_async_only_tool_and_no_config() -> None:
    tools, prices = shop()
    model = ScriptedChatModel([SET_PEAR, "Pears now cost 4.0."])
    helper = ScriptedChatModel(["OK"])
    agent = create_fama_agent(
        model, tools, policy=POLICY, write_tools=["set_price"], helper_model=helper
    )
    out = agent.invoke({"messages": [HumanMessage("Yes, set pears to 4.0.")]})
    assert prices["pear"] == 4.0
    assert (
        out["messages"][2].content == "pear now costs 4.0"
        and out["messages"][2].status == "success"
    )
    assert out["diagnosis"]["mode"] == "dynamic"  # chosen because no config was given
    assert [c["node"] for c in out["llm_calls"]] == ["agent", "helper:decision_verifier", "agent"]
    assert len(helper.calls) == 1  # the helpers use their own model, not the agent's replies


def test_stream_and_ainvoke_work_too() -> None:
    tools, _ = shop()
    agent = create_fama_agent(ScriptedChatModel(["Hi!"] * 2), tools, policy=POLICY)
    updates = list(agent.stream({"messages": [HumanMessage("hello")]}, stream_mode="updates"))
    assert [next(iter(u)) for u in updates][:3] == ["turn", "orchestrator", "mitigation"]
    assert updates[-1]["tool_use"]["messages"][-1].content == "Hi!"


async def test_ainvoke_with_a_config_file_runs_static_mode(tmp_path: Path) -> None:
    tools, _ = shop()
    path = tmp_path / "fama_config.json"
    FamaConfig(backbone="m", environment="own:shop", helpers=["memory"]).save(path)
    model = ScriptedChatModel([call("get_price", {"item": "apple"}, "c1"), "2.0"])
    agent = create_fama_agent(model, tools, policy=POLICY, config=path)
    out = await agent.ainvoke({"messages": [HumanMessage("apple?")]})
    assert out["diagnosis"]["mode"] == "static"
    assert out["diagnosis"]["helper_runs"] == {"memory": 2}


def test_a_checkpointer_continues_the_conversation_with_fresh_limits() -> None:
    tools, _ = shop()
    looping: list[Any] = [call("get_price", {"item": "kiwi"}, f"k{n}") for n in range(2)]
    model = ScriptedChatModel([*looping, "Apples cost 2.0."])
    agent = create_fama_agent(
        model, tools, policy=POLICY, max_steps=4, checkpointer=InMemorySaver()
    )
    thread = {"configurable": {"thread_id": "t"}}
    first = agent.invoke({"messages": [HumanMessage("kiwi?")]}, thread)
    assert first["termination"] == "max_steps"
    second = agent.invoke({"messages": [HumanMessage("apple then?")]}, thread)
    assert second["termination"] is None  # the limit counts per call
    assert second["messages"][-1].content == "Apples cost 2.0."
    assert second["diagnosis"]["decisions"] == first["diagnosis"]["decisions"] + 1
    assert (
        isinstance(second["messages"][0], HumanMessage) and second["messages"][0].content == "kiwi?"
    )


def test_plain_functions_are_tools_and_the_builder_is_public() -> None:
    tools, _ = shop()
    builder = fama_agent_builder(ScriptedChatModel(["ok"]), [], policy=POLICY)
    assert "orchestrator" in builder.nodes and "turn" in builder.nodes
    with pytest.raises(ValueError, match="static mode needs a FamaConfig"):
        create_fama_agent(ScriptedChatModel([]), tools, policy=POLICY, mode="static")
    with pytest.raises(ValueError, match="write_tools names unknown tools"):
        create_fama_agent(ScriptedChatModel([]), tools, policy=POLICY, write_tools=["refund"])
    agent = create_fama_agent(ScriptedChatModel([AIMessage("fine")]), tools, policy=POLICY)
    assert agent.invoke({"messages": [HumanMessage("hi")]})["messages"][-1].content == "fine"

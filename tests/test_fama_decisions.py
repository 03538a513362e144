"""FAMA decision records: one ``FamaDecision`` per agent decision, aligned to the message it
produced, with the mode, signals, verifier checks, active helpers and guidance."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from fama.core.fama_config import FamaMode
from fama.core.fama_state import FamaContext
from fama.core.state import FamaDecision
from fama.graph.decision import FamaDecisions
from fama.graph.episode import compiled_episode_graph, initial_state, run_episode
from fama.graph.fama_agent import build_fama_graph
from tests.fakes import ScriptedChatModel
from tests.test_fama_graph import (
    ASK,
    CANCEL,
    GET,
    OrderEnv,
    config,
    context,
    shop_tools,
    tool_call,
    with_settings,
)

STATIC_HELPERS = ["constraints_extractor", "memory"]
DECISIONS = FamaDecisions()


async def run_state(ctx: FamaContext, mode: FamaMode, *helpers: str, **params: Any) -> Any:
    """The episode graph's final state with the FAMA agent node."""
    cfg = config(*helpers, **params) if helpers else None
    graph = compiled_episode_graph(DECISIONS)
    return await graph.ainvoke(
        initial_state(None),
        {"recursion_limit": ctx.recursion_limit},
        context=with_settings(ctx, mode, cfg),
    )


def agent_indices(state: Any) -> list[int]:
    """Indices of the agent messages after the greeting."""
    return [i for i, m in enumerate(state["messages"]) if isinstance(m, AIMessage) and i > 0]


async def test_static_mode_records_one_decision_per_agent_message() -> None:
    ctx = context(
        [GET, ASK, CANCEL, "It is cancelled."],
        ["Please cancel order #W7301126.", "Yes, it is no longer needed.", "Thanks ###STOP###"],
    )
    state = await run_state(ctx, "static", *STATIC_HELPERS)
    decisions: list[FamaDecision] = state["fama_decisions"]
    assert [d["message_index"] for d in decisions] == agent_indices(state) == [2, 4, 6, 8]
    assert [d["diagnosis"]["decision"] for d in decisions] == [1, 2, 3, 4]
    for decision in decisions:
        assert decision["mode"] == "static"
        assert decision["active_helpers"] == STATIC_HELPERS
        assert decision["diagnosis"]["verifier_checks"] == 0
        assert "signals" not in decision["diagnosis"]  # static mode reads no signals
    first = decisions[0]["guidance"]
    assert [g["helper"] for g in first] == ["constraints_extractor"]  # memory: nothing yet
    assert "cancel" in first[0]["text"].lower()
    assert "memory" in {g["helper"] for g in decisions[2]["guidance"]}
    # the guidance recorded is exactly what the agent saw in its prompt
    prompt = ctx.agent_model.calls[0]  # type: ignore[attr-defined]
    assert first[0]["text"] in str(prompt[-1].content)


async def test_a_blocked_proposal_leaves_one_record_for_its_decision() -> None:
    ctx = context(
        [GET, CANCEL, ASK, CANCEL, "It is cancelled."],
        ["Cancel order #W7301126, no longer needed.", "Yes.", "Thanks ###STOP###"],
    )
    state = await run_state(
        ctx,
        "static",
        "constraints_extractor",
        "decision_verifier",
        decision_verifier={"llm_check": False},
    )
    decisions: list[FamaDecision] = state["fama_decisions"]
    assert [d["message_index"] for d in decisions] == agent_indices(state)
    assert len(decisions) == 4  # five agent replies, one withdrawn by the verifier
    redecided = decisions[1]
    assert state["messages"][redecided["message_index"]].content == ASK
    blocks = redecided["diagnosis"]["verifier_blocks"]
    assert [b["check"] for b in blocks] == ["confirmation"]
    assert redecided["diagnosis"]["verifier_checks"] == 1
    helpers = [g["helper"] for g in redecided["guidance"]]
    assert helpers == ["constraints_extractor", "decision_verifier"]  # remediation included
    confirmed = decisions[2]  # the confirmed write: checked once, let through
    assert confirmed["diagnosis"]["verifier_checks"] == 1
    assert confirmed["diagnosis"]["verifier_blocks"] == []
    assert state["messages"][confirmed["message_index"]].tool_calls[0]["name"] == (
        "cancel_pending_order"
    )


async def test_dynamic_mode_records_the_signals_and_categories() -> None:
    ctx = context(
        [GET, ASK, CANCEL, "It is cancelled."],
        ["Please cancel order #W7301126.", "Yes, it is no longer needed.", "Thanks ###STOP###"],
        env=OrderEnv(),
        helper_replies=["OK"],
    )
    state = await run_state(ctx, "dynamic")
    decisions: list[FamaDecision] = state["fama_decisions"]
    assert [d["message_index"] for d in decisions] == agent_indices(state)
    second = decisions[1]["diagnosis"]  # after the long get_order_details output
    assert "long_output" in [s["name"] for s in second["signals"]]
    assert "wrong_retrieval" in second["categories"]
    assert "output_reformulator" in decisions[1]["active_helpers"]
    write = decisions[2]
    assert write["diagnosis"]["verifier_checks"] == 1  # every write is checked in dynamic mode
    assert all(d["mode"] == "dynamic" for d in decisions)


async def test_an_unusable_reply_is_a_decision_without_a_message() -> None:
    ctx = context(
        ["", "It is pending."],
        ["What is the status of order #W7301126?", "Thanks ###STOP###"],
    )
    state = await run_state(ctx, "static", "memory")
    indices = [d["message_index"] for d in state["fama_decisions"]]
    assert indices == [2, 2]  # the empty reply produced no message; the retry did
    assert state["messages"][2].content == "It is pending."


async def test_the_embeddable_agent_records_its_decisions() -> None:
    tools, _ = shop_tools()
    model = ScriptedChatModel(
        [tool_call("set_price", {"item": "apple", "price": 3.0}, "c1"), "Done: 3.0."]
    )
    graph = build_fama_graph(
        model,
        tools,
        policy="Change a price only after the user's explicit confirmation (yes).",
        mode="dynamic",
        write_tools=["set_price"],
        helper_model=ScriptedChatModel(["OK"]),
    )
    out = await graph.ainvoke({"messages": [HumanMessage("Yes, set apple to 3.0.")]})
    decisions = out["fama_decisions"]
    assert [d["message_index"] for d in decisions] == [1, 3]
    assert decisions[0]["diagnosis"]["verifier_checks"] == 1
    assert decisions[1]["diagnosis"]["verifier_checks"] == 0


async def test_the_episode_result_carries_the_decisions() -> None:
    ctx = context(
        [GET, "It is pending."],
        ["What is the status of order #W7301126?", "Thanks ###STOP###"],
    )
    cfg = config("memory")
    result = await run_episode(with_settings(ctx, "static", cfg), agent_node=DECISIONS)
    decisions = result.extra["fama_decisions"]
    assert [d["message_index"] for d in decisions] == [2, 4]
    assert [result.records[d["message_index"]]["role"] for d in decisions] == ["assistant"] * 2

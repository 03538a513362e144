"""The FAMA decision graph: modes, routing to the selected helpers, per-decision guidance,
the decision verifier, usage records, the embeddable agent, the drawn graph and the CLI."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, tool

from fama.commands import graph as graph_command
from fama.core.env import ToolKind, ToolOutput
from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.fama_state import FamaContext, FamaState
from fama.core.retry import RetryPolicy
from fama.envs.user_simulator import ScriptedUser
from fama.graph.decision import VERIFIER, FamaDecisions
from fama.graph.episode import EpisodeResult, run_episode
from fama.graph.fama_agent import build_fama_graph
from fama.helpers.settings import fama_settings, prompt_names
from fama.nodes.fc_agent import DECISION_NOTE_ID
from fama.nodes.mitigation import active_helpers, helper_node_name, select_dynamic
from fama.nodes.orchestrator import Signal, detect_signals
from fama.prompts import PromptSet
from tests.fakes import ScriptedChatModel
from tests.test_helpers import ORDER

SNAPSHOTS = Path(__file__).parent / "snapshots"
HELPER_NODES = {
    "helper:constraints_extractor",
    "helper:tool_suggester",
    "helper:output_reformulator",
    "helper:planner",
    "helper:memory",
    "helper:decision_verifier",
}
POLICY = """# Shop policy

Authenticate the user before helping them.

## Cancel order

Only pending orders can be cancelled; check the status first.

Before cancelling, list the order details and obtain explicit user confirmation (yes).
"""


class OrderEnv:
    """One order; ``get_order_details`` reads it, ``cancel_pending_order`` writes."""

    def __init__(self) -> None:
        self.order = dict(ORDER)
        self.cancelled: list[dict[str, Any]] = []
        self._kinds: dict[str, ToolKind] = {
            "get_order_details": "read",
            "cancel_pending_order": "write",
        }

    @property
    def policy(self) -> str:
        return POLICY

    def get_order_details(self, order_id: str) -> str:
        """Get the status and details of an order.

        Args:
            order_id: The order id, such as '#W0000000'.
        """
        if order_id != self.order["order_id"]:
            raise KeyError("Order not found")
        return json.dumps(self.order)

    def cancel_pending_order(self, order_id: str, reason: str) -> str:
        """Cancel a pending order.

        Args:
            order_id: The order id, such as '#W0000000'.
            reason: 'no longer needed' or 'ordered by mistake'.
        """
        self.cancelled.append({"order_id": order_id, "reason": reason})
        self.order["status"] = "cancelled"
        return json.dumps(self.order)

    def agent_tools(self) -> list[BaseTool]:
        return [
            StructuredTool.from_function(func=getattr(self, n), name=n, parse_docstring=True)
            for n in self._kinds
        ]

    def tool_kind(self, name: str) -> ToolKind | None:
        return self._kinds.get(name)

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        if name not in self._kinds:
            return ToolOutput(f"Error: Tool '{name}' not found.", error=True)
        try:
            return ToolOutput(getattr(self, name)(**arguments))
        except KeyError as exc:
            return ToolOutput(f"Error: {exc.args[0]}", error=True)


def tool_call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


GET = tool_call("get_order_details", {"order_id": "#W7301126"}, "c1")
CANCEL = tool_call(
    "cancel_pending_order", {"order_id": "#W7301126", "reason": "no longer needed"}, "c2"
)
ASK = "Order #W7301126 is pending. Shall I cancel it because it is no longer needed? (yes/no)"


def context(
    agent_replies: list[Any],
    user_lines: list[str],
    *,
    env: OrderEnv | None = None,
    helper_replies: list[Any] | None = None,
) -> FamaContext:
    return FamaContext(
        env=env or OrderEnv(),
        agent_model=ScriptedChatModel(agent_replies),
        user=ScriptedUser(user_lines),
        system_prompt="SYSTEM",
        retry=RetryPolicy(attempts=1, initial_backoff_s=0.0),
        helper_model=None if helper_replies is None else ScriptedChatModel(helper_replies),
        fama=fama_settings("all"),  # each test's run_fama sets the mode it runs
    )


def config(*helpers: str, **params: dict[str, Any]) -> FamaConfig:
    return FamaConfig(backbone="scripted", environment="shop", helpers=list(helpers), params=params)


async def run_fama(
    ctx: FamaContext, mode: FamaMode, cfg: FamaConfig | None = None
) -> EpisodeResult:
    return await run_episode(with_settings(ctx, mode, cfg), agent_node=FamaDecisions())


def with_settings(ctx: FamaContext, mode: FamaMode, cfg: FamaConfig | None = None) -> FamaContext:
    """``ctx`` running FAMA in ``mode`` with ``cfg`` (same env, models and user)."""
    return replace(ctx, fama=fama_settings(mode, cfg))


def agent_prompts(ctx: FamaContext) -> list[list[BaseMessage]]:
    model = ctx.agent_model
    assert isinstance(model, ScriptedChatModel)
    return model.calls


def system_text(prompt: list[BaseMessage]) -> str:
    """The system prompt plus this decision's trailing note (guidance, remediation), if any."""
    assert prompt[0].type == "system"
    note = str(prompt[-1].content) if prompt[-1].id == DECISION_NOTE_ID else ""
    return f"{prompt[0].content}\n\n{note}"


def helper_nodes_that_ran(result: EpisodeResult) -> set[str]:
    return {t["node"] for t in result.node_timings} & HELPER_NODES


# --- the episode agent node -------------------------------------------------------------


async def test_static_mode_routes_only_the_configured_helpers() -> None:
    env = OrderEnv()
    ctx = context(
        [GET, ASK, CANCEL, "It is cancelled."],
        ["Please cancel order #W7301126.", "Yes, it is no longer needed.", "Thanks ###STOP###"],
        env=env,
    )
    result = await run_fama(ctx, "static", config("constraints_extractor", "memory"))
    assert result.termination == "user_stop"
    assert env.cancelled == [{"order_id": "#W7301126", "reason": "no longer needed"}]
    assert helper_nodes_that_ran(result) == {"helper:constraints_extractor", "helper:memory"}
    # static: orchestrator and mitigation are pass-throughs; no helper calls a model
    assert [c["node"] for c in result.llm_calls] == ["agent"] * 4
    assert {"orchestrator", "mitigation"} <= {t["node"] for t in result.node_timings}
    prompts = agent_prompts(ctx)
    assert len(prompts) == 4
    for prompt in prompts:
        system = system_text(prompt)
        assert system.startswith("SYSTEM")
        assert system.count("<guidance>") <= 1
        for other in ("tool_suggester", "output_reformulator", "planner", "decision_verifier"):
            assert f"[{other}]" not in system
        history = prompt[1:-1] if prompt[-1].id == DECISION_NOTE_ID else prompt[1:]
        assert all("<guidance>" not in str(m.content) for m in history)  # never in messages
    assert "[constraints_extractor]" in system_text(prompts[0])
    assert "[memory]" not in system_text(prompts[0])  # one user message: nothing to recall
    assert "[memory]" in system_text(prompts[2])
    assert all("guidance" not in r["content"] for r in result.records)
    assert result.extra["active_helpers"] == ["constraints_extractor", "memory"]
    assert result.extra["diagnosis"]["helper_runs"] == {"constraints_extractor": 4, "memory": 4}


async def test_dynamic_mode_guidance_belongs_to_one_decision() -> None:
    env = OrderEnv()
    ctx = context(
        [GET, ASK, CANCEL, "It is cancelled."],
        ["Please cancel order #W7301126.", "Yes, it is no longer needed.", "Thanks ###STOP###"],
        env=env,
        helper_replies=["OK"],  # the verifier's policy check of the write
    )
    result = await run_fama(ctx, "dynamic")
    assert env.cancelled and result.termination == "user_stop"
    prompts = [system_text(p) for p in agent_prompts(ctx)]
    # decision 2 follows the long get_order_details output; decision 3 the user's "Yes"
    assert "[output_reformulator]" in prompts[1] and "[output_reformulator]" not in prompts[2]
    assert "[constraints_extractor]" in prompts[0] and "[constraints_extractor]" in prompts[2]
    assert "[memory]" not in "".join(prompts) and "[planner]" not in "".join(prompts)
    assert [c["node"] for c in result.llm_calls] == [
        "agent",
        "agent",
        "agent",
        "helper:decision_verifier",  # every proposed write is checked in dynamic mode
        "agent",
    ]
    diagnosis = result.extra["diagnosis"]
    assert diagnosis["mode"] == "dynamic" and diagnosis["decisions"] == 4
    assert diagnosis["verifier_checks"] == 1 and "verifier_blocks" not in diagnosis


async def test_verifier_blocks_an_unconfirmed_write_once_and_the_agent_redecides() -> None:
    env = OrderEnv()
    ctx = context(
        [GET, CANCEL, ASK, CANCEL, "It is cancelled."],
        ["Cancel order #W7301126, no longer needed.", "Yes.", "Thanks ###STOP###"],
        env=env,
    )
    cfg = config(
        "constraints_extractor", "decision_verifier", decision_verifier={"llm_check": False}
    )
    result = await run_fama(ctx, "static", cfg)
    assert result.termination == "user_stop"
    assert env.cancelled == [{"order_id": "#W7301126", "reason": "no longer needed"}]
    calls = [tc["name"] for r in result.records for tc in r.get("tool_calls", [])]
    assert calls == ["get_order_details", "cancel_pending_order"]  # the blocked one is gone
    prompts = agent_prompts(ctx)
    assert len(prompts) == 5
    remediation = "[decision_verifier] Your proposed action cancel_pending_order("
    assert remediation in system_text(prompts[2])  # the re-decision
    assert "explicit user confirmation" in system_text(prompts[2])
    assert "[constraints_extractor]" in system_text(prompts[2])  # the decision's guidance stays
    assert not isinstance(prompts[2][-1], AIMessage)  # the withdrawn proposal is not shown
    assert remediation not in system_text(prompts[3])  # the next decision is clean
    blocks = result.extra["diagnosis"]["verifier_blocks"]
    assert [b["check"] for b in blocks] == ["confirmation"]
    timings = [t["node"] for t in result.node_timings]
    assert timings.count("helper:decision_verifier") == 2
    assert [c["node"] for c in result.llm_calls] == ["agent"] * 5
    assert result.steps == 9  # the withdrawn proposal is not a step


async def test_redecisions_are_bounded() -> None:
    env = OrderEnv()
    ctx = context(
        [GET, CANCEL, CANCEL, "It is cancelled."],
        ["Cancel order #W7301126, no longer needed.", "Thanks ###STOP###"],
        env=env,
    )
    cfg = config("decision_verifier", decision_verifier={"llm_check": False, "max_redecisions": 1})
    result = await run_fama(ctx, "static", cfg)
    assert env.cancelled == []  # the re-proposal is checked again and refused, never run
    assert len(result.extra["diagnosis"]["verifier_blocks"]) == 2
    refused = [r for r in result.records if r["role"] == "tool" and r.get("error")]
    assert len(refused) == 1 and "refused and NOT executed" in refused[0]["content"]
    gate = [d["diagnosis"].get("write_gate") for d in result.extra["fama_decisions"]]
    assert gate == [None, "refused", None]  # get, the refused cancel, the text answer
    blocks = result.extra["fama_decisions"][1]["diagnosis"]["verifier_blocks"]
    assert [b["check"] for b in blocks] == ["confirmation", "confirmation"]
    assert result.termination == "user_stop"  # the episode went on


async def test_all_mode_runs_every_helper_and_records_each_cost() -> None:
    ctx = context(
        [GET, "It is pending."],
        ["What is the status of order #W7301126?", "Thanks ###STOP###"],
        helper_replies=["1. Look up order #W7301126 and tell the status"],
    )
    result = await run_fama(ctx, "all")
    assert helper_nodes_that_ran(result) == HELPER_NODES - {"helper:decision_verifier"}
    nodes = [c["node"] for c in result.llm_calls]
    assert nodes == ["helper:planner", "agent", "agent"]  # plan cached within the user turn
    assert len(agent_prompts(ctx)) == nodes.count("agent")  # usage is not duplicated
    assert "[planner] Plan for the user's requests" in system_text(agent_prompts(ctx)[0])
    assert result.extra["diagnosis"]["plan_user_turns"] == 1


async def test_an_unusable_reply_is_recorded_once_and_noted_in_the_next_decision() -> None:
    ctx = context(
        ["", "It is pending."],
        ["What is the status of order #W7301126?", "Thanks ###STOP###"],
    )
    result = await run_fama(ctx, "static", config("memory"))
    assert [i["kind"] for i in result.agent_issues] == ["empty_reply"]
    assert result.tool_errors == 1
    retry = system_text(agent_prompts(ctx)[1])
    assert "empty" in retry.lower()
    assert [c["node"] for c in result.llm_calls] == ["agent", "agent"]


# --- orchestrator and mitigation --------------------------------------------------------


def signal(name: str, category: str, helper: str) -> Signal:
    return {"name": name, "category": category, "helper": helper}


def test_dynamic_mitigation_chooses_a_minimal_cover_and_nothing_more() -> None:
    assert select_dynamic([], 500) == {}
    tool_error = signal("tool_error", "wrong_retrieval", "tool_suggester")
    assert select_dynamic([tool_error], 500) == {"tool_suggester": ["wrong_retrieval"]}
    signals = [
        signal("action_request", "policy_violation", "constraints_extractor"),
        signal("long_context", "contextual_misinterpretation", "memory"),
        signal("multi_request", "incomplete_fulfilment", "planner"),
    ]
    # memory covers both of the last two categories: the planner is not added
    assert select_dynamic(signals, 500) == {
        "constraints_extractor": ["policy_violation"],
        "memory": ["contextual_misinterpretation", "incomplete_fulfilment"],
    }
    long_output = signal("long_output", "wrong_retrieval", "output_reformulator")
    confirmation = signal("confirmation", "policy_violation", "constraints_extractor")
    both = [long_output, confirmation]
    assert list(select_dynamic(both, 500)) == ["constraints_extractor", "output_reformulator"]
    # over budget: the most urgent (first) signal's helper is kept
    assert list(select_dynamic(both, 200)) == ["output_reformulator"]
    assert list(select_dynamic([confirmation, long_output], 200)) == ["constraints_extractor"]


def test_static_and_all_modes_ignore_signals() -> None:
    state: FamaState = {
        "messages": [],
        "diagnosis": {"signals": [signal("x", "policy_violation", "constraints_extractor")]},
    }
    cfg = config("memory", "planner")
    assert active_helpers(state, fama_settings("static", cfg)) == ["planner", "memory"]
    assert len(active_helpers(state, fama_settings("all", cfg))) == 6  # no lessons: no helper
    assert active_helpers(state, fama_settings("dynamic")) == ["constraints_extractor"]


def test_signals_come_from_the_current_state() -> None:
    env = OrderEnv()
    tools, kind = env.agent_tools(), env.tool_kind

    def names(*messages: AnyMessage, **kw: Any) -> list[str]:
        return [s["name"] for s in detect_signals(list(messages), tools, kind, **kw)]

    ask = HumanMessage("Please cancel order #W7301126")
    assert names(HumanMessage("hello")) == []
    assert names(ask) == ["action_request"]
    long_output = ToolMessage(json.dumps(ORDER), tool_call_id="c1")
    assert names(ask, GET, long_output) == ["long_output", "action_request"]
    bad = ToolMessage("Error: missing argument 'reason'", tool_call_id="c1", status="error")
    assert detect_signals([ask, GET, bad], tools, kind)[0]["helper"] == "tool_suggester"
    not_found = ToolMessage("Error: Order not found", tool_call_id="c2", status="error")
    found = detect_signals([ask, GET, long_output, GET, not_found], tools, kind)
    assert found[0]["helper"] == "output_reformulator"  # re-read the earlier output
    assert "confirmation" in names(ask, AIMessage(ASK), HumanMessage("Yes please"))
    chat: list[AnyMessage] = [HumanMessage("hi"), *[AIMessage("...")] * 11, HumanMessage("ok")]
    assert names(*chat) == ["confirmation", "long_context"]
    taxonomy = [
        {"id": "contextual_misinterpretation", "name": "", "definition": "", "count": 9},
        {"id": "policy_violation", "name": "", "definition": "", "count": 1},
    ]
    assert names(*chat, taxonomy=taxonomy) == ["long_context", "confirmation"]


# --- the embeddable agent ---------------------------------------------------------------


def shop_tools() -> tuple[list[BaseTool], dict[str, float]]:
    prices = {"apple": 2.0}

    @tool
    def get_price(item: str) -> str:
        """Get the price of an item."""
        return str(prices[item])

    @tool
    def set_price(item: str, price: float) -> dict[str, Any]:
        """Set the price of an item."""
        prices[item] = price
        return {"item": item, "price": price}

    return [get_price, set_price], prices


async def test_build_fama_graph_runs_plain_langchain_tools_to_an_answer() -> None:
    tools, prices = shop_tools()
    model = ScriptedChatModel(
        [
            tool_call("get_price", {"item": "apple"}, "c1"),
            tool_call("set_price", {"item": "apple", "price": 3.0}, "c2"),
            "The apple cost 2.0; it now costs 3.0.",
        ]
    )
    helper = ScriptedChatModel(["OK"])
    graph = build_fama_graph(
        model,
        tools,
        policy="Change a price only after the user's explicit confirmation (yes).",
        mode="dynamic",
        write_tools=["set_price"],
        helper_model=helper,
    )
    out = await graph.ainvoke({"messages": [HumanMessage("Price of apple? Yes, set it to 3.0.")]})
    assert prices == {"apple": 3.0}
    last = out["messages"][-1]
    assert isinstance(last, AIMessage) and last.content == "The apple cost 2.0; it now costs 3.0."
    assert [m.type for m in out["messages"]] == ["human", "ai", "tool", "ai", "tool", "ai"]
    assert out["messages"][4].content == '{"item": "apple", "price": 3.0}'
    assert [c["node"] for c in out["llm_calls"]] == [
        "agent",
        "agent",
        "helper:decision_verifier",
        "agent",
    ]
    assert out["diagnosis"]["decisions"] == 3
    assert "policy" in str(model.calls[0][0].content)  # the default system prompt has it


async def test_build_fama_graph_stops_at_max_steps_and_reports_tool_errors() -> None:
    tools, _ = shop_tools()
    looping = [tool_call("get_price", {"item": "pear"}, f"c{n}") for n in range(10)]
    graph = build_fama_graph(
        ScriptedChatModel(looping), tools, policy="", mode="all", max_steps=4, max_errors=10
    )
    out = await graph.ainvoke({"messages": [HumanMessage("pear?")]})
    assert out["termination"] == "max_steps"
    assert out["messages"][2].status == "error" and "pear" in out["messages"][2].content


def test_node_names() -> None:
    assert helper_node_name("decision_verifier") == VERIFIER
    built = graph_command.agent_graph("fama").get_graph().nodes
    assert set(built) >= {"orchestrator", "mitigation", "tool_use", VERIFIER}
    assert {n for n in built if n.startswith("helper_")} == {
        helper_node_name(h.removeprefix("helper:")) for h in HELPER_NODES
    } | {"helper_lessons"}


def test_invalid_settings_are_clear_errors() -> None:
    tools, _ = shop_tools()
    with pytest.raises(ValueError, match="static mode needs a FamaConfig"):
        build_fama_graph(ScriptedChatModel([]), tools, policy="p", mode="static")
    with pytest.raises(ValueError, match="unknown tools"):
        build_fama_graph(ScriptedChatModel([]), tools, policy="p", mode="all", write_tools=["x"])
    with pytest.raises(ValueError, match="unknown helpers"):
        fama_settings("static", config("memory", "oracle"))
    with pytest.raises(ValueError, match="mode must be one of"):
        fama_settings("sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget"):
        fama_settings("all", guidance_budget=0)


def fama_prompt_refs(mode: FamaMode, cfg: FamaConfig | None = None) -> list[dict[str, str]]:
    return PromptSet.resolve(prompt_names(fama_settings(mode, cfg))).refs


async def test_an_all_mode_run_renders_only_the_prompts_it_declared() -> None:
    settings = fama_settings("all")
    declared = PromptSet.resolve(["fc_retry_note", *prompt_names(settings)])
    ctx = replace(
        context(
            [GET, AIMessage(content=""), CANCEL, "It is cancelled."],
            ["Cancel order #W7301126, it is no longer needed.", "Thanks ###STOP###"],
            helper_replies=["1. Look up the order. 2. Cancel it."] * 4 + ["VIOLATION: no yes"],
        ),
        fama=settings,
        prompts=declared,
    )
    result = await run_episode(ctx, agent_node=FamaDecisions())
    assert result.termination is not None and result.termination != "infrastructure_error"
    assert "helper:planner" in {c["node"] for c in result.llm_calls}
    blocks = result.extra["diagnosis"]["verifier_blocks"]  # the remediation prompt rendered
    assert blocks and blocks[0]["check"]


def test_prompt_refs_follow_the_mode_and_configuration() -> None:
    refs = fama_prompt_refs("static", config("constraints_extractor", "memory"))
    assert [r["name"] for r in refs] == [
        "decision_guidance",
        "helper_constraints_extractor",
        "helper_memory",
    ]
    assert all(len(r["sha256"]) == 64 and r["version"] == "v1" for r in refs)
    every = {r["name"] for r in fama_prompt_refs("all")}
    assert {"helper_planner", "helper_decision_verifier"} <= every
    quiet = config("decision_verifier", decision_verifier={"llm_check": False})
    names = [r["name"] for r in fama_prompt_refs("static", quiet)]
    assert names == [
        "decision_guidance",
        "helper_decision_verifier_remediation",
        "helper_decision_verifier_refusal",
    ]


# --- drawing ----------------------------------------------------------------------------


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("FAMA_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"graph changed: see {path}"


def test_drawn_fama_episode_graph_matches_the_snapshot() -> None:
    check_snapshot("fama_graph.mmd", graph_command.mermaid("fama"))


def test_drawn_embeddable_agent_matches_the_snapshot() -> None:
    tools, _ = shop_tools()
    graph = build_fama_graph(ScriptedChatModel([]), tools, policy="", mode="all")
    check_snapshot("fama_agent.mmd", graph.get_graph().draw_mermaid())


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    graph_command.register(parser.add_subparsers())
    args = parser.parse_args(["graph", *argv])
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


def test_graph_command_writes_mermaid_and_needs_a_file_for_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fc.mmd"
    assert run_cli("--agent", "fc", "-o", str(out)) == 0
    text = out.read_text()
    assert "agent(agent)" in text and "orchestrator" not in text
    assert run_cli("--agent", "fama", "--format", "png") == 2
    assert "needs -o FILE" in capsys.readouterr().err

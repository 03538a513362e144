"""FAMA's decision nodes, added directly to a graph (the episode loop or the embeddable agent).

One decision::

    orchestrator -> mitigation -> helper_* (parallel, Send) -> tool_use [-> verifier]

The orchestrator opens the decision (drops the previous guidance, reads risk signals in
dynamic mode), mitigation picks the helpers (static: the configuration; all: every helper;
dynamic: minimal cover of the signalled categories within the guidance budget), the guidance
helpers run in parallel and write short ``guidance``, and the tool-use node (swappable: the
function-calling node by default, the ReAct node or any node with the same contract) makes
the decision with that guidance in its input, for this decision only; guidance never enters
``messages``. When the decision verifier is active (or in dynamic mode) every proposed write
action is checked before it runs, re-proposals included (a hard gate): a violating proposal
is withdrawn and the tool-use node decides again with the remediation, at most
``max_redecisions`` times; a proposal still violating after that is refused, never run: it
stays in the trajectory with one error result per call saying why, and the episode goes on
with the next decision.

Every decision leaves one ``FamaDecision`` in ``fama_decisions``, written when the decision is
final: by the tool-use node, or by the verifier when it lets the proposal through or refuses
it. Its diagnosis holds the verifier's blocks, the write gate's outcome (``passed`` or
``refused``; absent when no write was checked) and, in dynamic mode, the signals and which
categories drove the choice of each helper (``drivers``). The run
settings (mode, configuration, taxonomy, budget, helper parameters, prompts) are read from
``runtime.context`` (a ``FamaContext``); the state holds only per-step data.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from langchain_core.messages import AIMessage, RemoveMessage
from langgraph.graph import END, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from fama.core.fama_state import Diagnosis, FamaContext, FamaState, timing
from fama.core.state import FamaDecision
from fama.helpers import decision_verifier
from fama.helpers.base import HelperInput, failure_guidance, llm_node
from fama.helpers.registry import GUIDANCE_HELPERS
from fama.helpers.settings import helper_env
from fama.nodes.env_tools import refuse_tool_calls
from fama.nodes.mitigation import TOOL_USE, fan_out, helper_node_name, mitigation_node
from fama.nodes.orchestrator import orchestrator_node

ORCHESTRATOR: Final = "orchestrator"
MITIGATION: Final = "mitigation"
VERIFIER: Final = "helper_decision_verifier"  # helper_node_name(decision_verifier.NAME)
TOOLS: Final = "tools"

ToolUseNode = Callable[[Any, Runtime[Any]], Awaitable[dict[str, Any]]]
NodeWrapper = Callable[[Any], Any]
AfterToolUse = Literal["helper_decision_verifier", "tools", "user", "agent", "__end__"]


@dataclass(frozen=True, eq=False)
class FamaDecisions:
    """The FAMA decision nodes around a tool-use node, as an episode's agent.

    Given as ``agent_node`` to ``fama.graph.episode.run_episode``, the decision nodes are added
    to the episode graph itself (``tool_use_node`` defaults to the function-calling node);
    the episode's context must be a ``FamaContext``.
    """

    tool_use_node: ToolUseNode | None = None

    def tool_use(self) -> ToolUseNode:
        """The tool-use node to decide with."""
        if self.tool_use_node is not None:
            return self.tool_use_node
        from fama.nodes.fc_agent import fc_agent_node

        return fc_agent_node


def make_helper_node(helper: str) -> Callable[[Mapping[str, Any], Runtime[FamaContext]], Any]:
    """The graph node of one guidance helper (its input is the ``Send`` payload)."""
    run = GUIDANCE_HELPERS[helper]

    async def helper_node(
        payload: Mapping[str, Any], runtime: Runtime[FamaContext]
    ) -> dict[str, Any]:
        started = time.perf_counter()
        inp = cast(HelperInput, payload)
        update = await run(inp, helper_env(runtime.context, helper, inp["params"]))
        return {**update, "node_timings": timing(llm_node(helper), started)}

    helper_node.__name__ = helper_node_name(helper)
    return helper_node


def decision_record(
    state: FamaState,
    settings_mode: str,
    message_index: int,
    *,
    checks: int,
    gate: str | None = None,
    blocks: int | None = None,
) -> FamaDecision:
    """The record of the decision producing message ``message_index`` (``checks``: verifier
    checks made in this decision; its blocks are the last ``blocks`` ones, by default the
    ``redecisions``; ``gate``: the write gate's outcome, if a write was checked)."""
    record: Diagnosis = state.get("diagnosis") or {}
    blocked = state.get("redecisions", 0) if blocks is None else blocks
    diagnosis: dict[str, Any] = {"decision": int(record.get("decisions", 0))}
    if settings_mode == "dynamic":
        signals = list(record.get("signals", []))
        diagnosis["signals"] = signals
        diagnosis["categories"] = list(dict.fromkeys(s["category"] for s in signals))
        diagnosis["drivers"] = dict(record.get("drivers", {}))
    diagnosis["verifier_checks"] = checks
    diagnosis["verifier_blocks"] = (
        list(record.get("verifier_blocks", []))[-blocked:] if blocked else []
    )
    if gate is not None:
        diagnosis["write_gate"] = gate
    return {
        "message_index": message_index,
        "mode": settings_mode,
        "diagnosis": diagnosis,
        "active_helpers": list(state.get("active_helpers", [])),
        "guidance": list(state.get("guidance", [])),
    }


def _proposal(update: Mapping[str, Any]) -> Any:
    """The message a tool-use update adds (``None`` for an unusable reply)."""
    added = update.get("messages")
    if isinstance(added, list):
        return added[-1] if added else None
    return added


def proposal_needs_verification(
    proposal: Any, state: FamaState, runtime: Runtime[FamaContext]
) -> bool:
    """Whether the verifier checks ``proposal`` (the tool-use node's new message, if any)."""
    if not isinstance(proposal, AIMessage) or not proposal.tool_calls:
        return False
    settings = runtime.context.fama
    active = decision_verifier.NAME in state.get("active_helpers", [])
    if not active and settings.mode != "dynamic":
        return False
    kind = runtime.context.env.tool_kind
    return any(kind(call["name"]) == "write" for call in proposal.tool_calls)


def decision_tool_use(inner: ToolUseNode) -> ToolUseNode:
    """The tool-use node inside a decision; a proposal the verifier will not check ends the
    decision, so its record is written here."""

    async def tool_use(state: FamaState, runtime: Runtime[FamaContext]) -> dict[str, Any]:
        update = dict(await inner(state, runtime))
        if not proposal_needs_verification(_proposal(update), state, runtime):
            update["fama_decisions"] = [
                decision_record(
                    state,
                    runtime.context.fama.mode,
                    len(state["messages"]),
                    checks=state.get("redecisions", 0),
                )
            ]
        return update

    return tool_use


async def verifier_node(state: FamaState, runtime: Runtime[FamaContext]) -> Command[Any]:
    """Check the proposed write action: let it through to the tools, withdraw it and send
    the tool-use node back with the remediation as guidance, or, when the re-decisions are
    used up, refuse it (error results, on to the next decision)."""
    started = time.perf_counter()
    proposal = state["messages"][-1]
    if not isinstance(proposal, AIMessage):
        raise TypeError(f"verifier reached after a {type(proposal).__name__}")
    env = helper_env(runtime.context, decision_verifier.NAME)
    verdict, calls = await decision_verifier.verify(proposal, state["messages"][:-1], env)
    record: Diagnosis = state.get("diagnosis") or {}
    diagnosis: Diagnosis = {"verifier_checks": record.get("verifier_checks", 0) + 1}
    update: dict[str, Any] = {
        "llm_calls": calls,
        "node_timings": timing(llm_node(decision_verifier.NAME), started),
        "diagnosis": diagnosis,
    }
    checks = state.get("redecisions", 0) + 1
    mode = runtime.context.fama.mode
    if verdict.ok:
        decision = decision_record(
            state, mode, len(state["messages"]) - 1, checks=checks, gate="passed"
        )
        if verdict.failure:  # the model check failed: recorded, the proposal goes on
            decision["guidance"].append(failure_guidance(decision_verifier.NAME, verdict.failure))
        update["fama_decisions"] = [decision]
        return Command(goto=TOOLS, update=update)
    blocks = list(record.get("verifier_blocks", []))
    blocks.append({"check": verdict.check, "problem": verdict.problem})
    diagnosis["verifier_blocks"] = blocks
    if state.get("redecisions", 0) >= int(env.params["max_redecisions"]):
        reason = decision_verifier.remediation(
            proposal, verdict, env, decision_verifier.REFUSAL_PROMPT
        )
        refusal = refuse_tool_calls(runtime.context, state, proposal, reason)
        refusal.pop("node_timings")  # no tool ran: the time is the verifier's
        update |= refusal
        update["node_timings"] = timing(llm_node(decision_verifier.NAME), started)
        blocked = cast(FamaState, {**state, "diagnosis": {**record, **diagnosis}})
        update["fama_decisions"] = [
            decision_record(
                blocked,
                mode,
                len(state["messages"]) - 1,
                checks=checks,
                gate="refused",
                blocks=checks,
            )
        ]
        return Command(goto=END if update.get("termination") else ORCHESTRATOR, update=update)
    text = decision_verifier.remediation(proposal, verdict, env)
    update["messages"] = [RemoveMessage(id=proposal.id or "")]
    update["guidance"] = [{"helper": decision_verifier.NAME, "text": text}]
    update["redecisions"] = state.get("redecisions", 0) + 1
    return Command(goto=TOOL_USE, update=update)


def needs_verification(state: FamaState, runtime: Runtime[FamaContext]) -> bool:
    """Whether the decision verifier checks the proposal the tool-use node just made."""
    return proposal_needs_verification(state["messages"][-1], state, runtime)


def add_decision_nodes(
    builder: StateGraph[Any, Any, Any, Any],
    decisions: FamaDecisions,
    wrap: NodeWrapper = lambda node: node,
) -> None:
    """Add the decision nodes and their inner edges; the caller routes into ``orchestrator``
    and out of ``tool_use`` (``route_after_tool_use``) and provides the ``tools`` node."""
    builder.add_node(ORCHESTRATOR, wrap(orchestrator_node))
    builder.add_node(MITIGATION, wrap(mitigation_node))
    for helper in GUIDANCE_HELPERS:
        builder.add_node(helper_node_name(helper), wrap(make_helper_node(helper)))
    builder.add_node(TOOL_USE, wrap(decision_tool_use(decisions.tool_use())))
    builder.add_node(
        VERIFIER, wrap(verifier_node), destinations=(TOOL_USE, TOOLS, ORCHESTRATOR, END)
    )
    builder.add_edge(ORCHESTRATOR, MITIGATION)
    helper_nodes = [helper_node_name(h) for h in GUIDANCE_HELPERS]
    builder.add_conditional_edges(MITIGATION, wrap(fan_out), [*helper_nodes, TOOL_USE])
    for node in helper_nodes:
        builder.add_edge(node, TOOL_USE)


async def route_after_tool_use(state: FamaState, runtime: Runtime[FamaContext]) -> AfterToolUse:
    """After the tool-use node: end, decide again (unusable reply), verify, run the tools,
    or hand the text to the user."""
    if state.get("termination"):
        return "__end__"
    last = state["messages"][-1]
    if not isinstance(last, AIMessage):
        return "agent"
    if needs_verification(state, runtime):
        return VERIFIER
    return "tools" if last.tool_calls or last.invalid_tool_calls else "user"


__all__ = [
    "MITIGATION",
    "ORCHESTRATOR",
    "TOOLS",
    "VERIFIER",
    "FamaDecisions",
    "add_decision_nodes",
    "decision_record",
    "route_after_tool_use",
]

"""One FAMA decision around someone else's model call (the middleware's core, graph-free).

The same steps as FAMA's decision nodes (``fama.graph.decision``), on the messages of a
LangChain agent's model request:

1. open the decision (``open_decision``): count it and, in dynamic mode, read the risk
   signals (``fama.nodes.orchestrator.detect_signals``);
2. choose the helpers (``fama.nodes.mitigation.active_helpers``) and run the guidance
   helpers concurrently, each with its share of the guidance budget (``prepare``); a helper
   that fails gives no advice and an ``error`` item in the guidance, as in the graph;
3. the caller makes the model call with ``guidance_message`` appended for this call only;
4. a proposal calling a write tool is checked by the decision verifier (``verify``) when it
   is active (or in dynamic mode); a violation withdraws it, adds the remediation to the
   guidance and the caller asks the model again, at most ``max_redecisions`` times (a
   verifier whose model check fails lets it through, the failure recorded);
5. ``finish`` writes the decision's ``FamaDecision`` record (the graph's format) with its
   usage and latency.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import BaseTool

from fama.core.env import ToolKind
from fama.core.fama_state import Diagnosis, FamaSettings, FamaState, merge_diagnosis
from fama.core.retry import RetryPolicy
from fama.core.state import FamaDecision, Guidance, LLMCall
from fama.core.views import agent_view
from fama.graph.decision import decision_record
from fama.helpers import decision_verifier, output_reformulator
from fama.helpers.base import HelperEnv, HelperInput, failure_guidance
from fama.helpers.registry import GUIDANCE_HELPERS
from fama.nodes.fc_agent import render_guidance
from fama.nodes.mitigation import active_helpers, budget_shares
from fama.nodes.orchestrator import detect_signals

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from fama.prompts import PromptSet

GUIDANCE_ID = "fama-guidance"


class MiddlewareDecision(FamaDecision):
    """A ``FamaDecision`` plus what the decision cost (all its model calls) and took."""

    llm_calls: list[LLMCall]
    latency_ms: float


@dataclass(frozen=True)
class DecisionSetup:
    """What every decision of one middleware runs with."""

    settings: FamaSettings
    prompts: PromptSet
    policy: str
    write_tools: frozenset[str]
    helper_model: BaseChatModel | None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def tool_kind(self, tools: Sequence[BaseTool]) -> Callable[[str], ToolKind | None]:
        """The kind of a tool: ``write`` when declared so, ``read`` for the other tools."""
        names = {t.name for t in tools}

        def kind(name: str) -> ToolKind | None:
            if name in self.write_tools:
                return "write"
            return "read" if name in names else None

        return kind

    def helper_env(
        self, helper: str, tools: Sequence[BaseTool], agent_model: BaseChatModel
    ) -> HelperEnv:
        """A helper's resources; its model calls are tagged ``nostream`` so that they never
        appear in the agent's token stream."""
        model = (self.helper_model or agent_model).with_config(tags=["nostream", "fama"])
        return HelperEnv(
            policy=self.policy,
            tools=tools,
            tool_kind=self.tool_kind(tools),
            model=cast("BaseChatModel", model),  # a bound chat model: call_model takes any
            retries=self.retry,
            params=self.settings.params(helper),
            prompts=self.prompts,
        )


@dataclass
class Pending:
    """A decision in progress: the helpers' guidance and what it has used so far."""

    setup: DecisionSetup
    messages: list[AnyMessage]
    tools: list[BaseTool]
    agent_model: BaseChatModel
    diagnosis: Diagnosis
    update: Diagnosis
    active: list[str]
    guidance: list[Guidance] = field(default_factory=list)
    llm_calls: list[LLMCall] = field(default_factory=list)
    redecisions: int = 0
    passed: bool = False  # the verifier checked the final proposal and let it through
    started: float = field(default_factory=time.perf_counter)

    def guidance_message(self) -> HumanMessage | None:
        """The trailing message carrying this decision's guidance (None without any)."""
        text = render_guidance(self.guidance, self.setup.prompts)
        return HumanMessage(content=text, id=GUIDANCE_ID) if text else None

    def model_messages(self) -> list[AnyMessage]:
        """The request's messages with the guidance appended for this call only."""
        note = self.guidance_message()
        return [*self.messages, note] if note is not None else list(self.messages)

    def state(self) -> FamaState:
        """The decision as a ``FamaState`` (for the graph's record format)."""
        return {
            "messages": self.messages,
            "diagnosis": merge_diagnosis(self.diagnosis, self.update),
            "active_helpers": self.active,
            "guidance": self.guidance,
            "redecisions": self.redecisions,
        }


def open_decision(
    setup: DecisionSetup,
    messages: Sequence[AnyMessage],
    tools: Sequence[BaseTool],
    record: Diagnosis,
) -> tuple[Diagnosis, list[str]]:
    """The orchestrator's and mitigation's share: the diagnosis update and active helpers."""
    settings = setup.settings
    update: Diagnosis = {"mode": settings.mode, "decisions": record.get("decisions", 0) + 1}
    if settings.mode == "dynamic":
        update["signals"] = detect_signals(
            agent_view(messages),
            tools,
            setup.tool_kind(tools),
            settings.taxonomy,
            settings.params(output_reformulator.NAME),
        )
    active = active_helpers(cast(FamaState, {"diagnosis": {**record, **update}}), settings)
    runs: Counter[str] = Counter(record.get("helper_runs", {}))
    runs.update(active)
    update["helper_runs"] = dict(runs)
    return update, active


async def prepare(
    setup: DecisionSetup,
    messages: Sequence[AnyMessage],
    tools: Sequence[Any],
    agent_model: BaseChatModel,
    record: Diagnosis,
) -> Pending:
    """Open the decision and run its guidance helpers concurrently."""
    own_tools = [t for t in tools if isinstance(t, BaseTool)]
    update, active = open_decision(setup, messages, own_tools, record)
    pending = Pending(setup, list(messages), own_tools, agent_model, record, update, active)
    helpers = [h for h in active if h in GUIDANCE_HELPERS]
    shares = budget_shares(helpers, setup.settings.guidance_budget)
    visible = agent_view(pending.messages)
    diagnosis = merge_diagnosis(record, update)

    async def one(helper: str) -> Any:
        inp: HelperInput = {
            "messages": visible,
            "diagnosis": diagnosis,
            "max_chars": shares[helper],
            "params": setup.settings.params(helper),
        }
        return await GUIDANCE_HELPERS[helper](inp, setup.helper_env(helper, own_tools, agent_model))

    for result in await asyncio.gather(*(one(h) for h in helpers)):  # helpers never raise
        pending.guidance += result.get("guidance", [])
        pending.llm_calls += result.get("llm_calls", [])
        pending.update = merge_diagnosis(pending.update, result.get("diagnosis"))
    return pending


def needs_check(pending: Pending, proposal: AIMessage | None) -> bool:
    """Whether the verifier checks this proposal (write calls, verifier on, budget left)."""
    if proposal is None or not proposal.tool_calls:
        return False
    settings = pending.setup.settings
    if decision_verifier.NAME not in pending.active and settings.mode != "dynamic":
        return False
    limit = int(settings.params(decision_verifier.NAME)["max_redecisions"])
    if pending.redecisions >= limit:
        return False
    return any(call["name"] in pending.setup.write_tools for call in proposal.tool_calls)


async def verify(pending: Pending, proposal: AIMessage | None) -> bool:
    """Check the proposal when due; True when it was withdrawn (ask the model again, with
    the remediation now in the guidance)."""
    if not needs_check(pending, proposal):
        return False
    assert proposal is not None
    setup = pending.setup
    env = setup.helper_env(decision_verifier.NAME, pending.tools, pending.agent_model)
    verdict, calls = await decision_verifier.verify(proposal, pending.messages, env)
    pending.llm_calls += calls
    record = merge_diagnosis(pending.diagnosis, pending.update)
    pending.update["verifier_checks"] = record.get("verifier_checks", 0) + 1
    if verdict.ok:
        pending.passed = True
        if verdict.failure:  # the model check failed: recorded, the proposal goes on
            pending.guidance.append(failure_guidance(decision_verifier.NAME, verdict.failure))
        return False
    blocks = list(record.get("verifier_blocks", []))
    blocks.append({"check": verdict.check, "problem": verdict.problem})
    pending.update["verifier_blocks"] = blocks
    text = decision_verifier.remediation(proposal, verdict, env)
    pending.guidance.append({"helper": decision_verifier.NAME, "text": text})
    pending.redecisions += 1
    return True


def finish(pending: Pending, agent_calls: Sequence[LLMCall]) -> MiddlewareDecision:
    """The decision's record: the graph's ``FamaDecision`` plus its usage and latency."""
    state = pending.state()
    checks = pending.redecisions + (1 if pending.passed else 0)
    base = decision_record(state, pending.setup.settings.mode, len(pending.messages), checks=checks)
    return {
        **base,
        "llm_calls": [*pending.llm_calls, *agent_calls],
        "latency_ms": (time.perf_counter() - pending.started) * 1000.0,
    }


def agent_call(model: Runnable[Any, Any], reply: Any, latency_ms: float) -> list[LLMCall]:
    """The usage record of the agent's own model call (none when it returned no message)."""
    from fama.llm.call import model_label, usage_record

    if not isinstance(reply, AIMessage):
        return []
    record = usage_record("agent", model_label(model), reply, latency_ms)
    return [cast(LLMCall, record)]

"""FAMA orchestrator: opens each decision and, in dynamic mode, reads the risk signals.

Every decision starts here: the previous decision's guidance is dropped (``Overwrite``) and
the re-decision counter is reset; the mode, configuration, taxonomy and guidance budget are
run settings, read from ``runtime.context.fama``. In static and all modes that is all (no
model call, zero tokens). In dynamic mode the orchestrator derives deterministic signals
from the current state, each naming a failure category at risk and the helper that fits it
best; categories the failure analysis found more often come first.

Signals (all computed from the trajectory, no model call):

==================  ===========================================  ===========================
signal              when                                         category -> helper
==================  ===========================================  ===========================
tool_error          the latest tool result is an error           wrong_retrieval ->
                                                                 tool_suggester (argument
                                                                 errors) or
                                                                 output_reformulator
long_output         the latest tool result is long JSON          wrong_retrieval ->
                                                                 output_reformulator
repeated_call       the agent sent the same failing tool calls   wrong_retrieval ->
                    at least twice in a row                      tool_suggester
action_request      the user's latest message asks for a write   policy_violation ->
                    action (words of write-tool names)           constraints_extractor
confirmation        the user's latest message confirms           policy_violation ->
                                                                 constraints_extractor
multi_request       the user named two or more different write   incomplete_fulfilment ->
                    verbs in the conversation                    planner
long_context        two or more user messages and a long         contextual_misinterpretation
                    trajectory since the first                   -> memory
==================  ===========================================  ===========================

A discovered category (from the configuration's ``mitigations``) is signalled when one of
its triggers (the signal names above, or ``always``) fires, naming the helper it was mapped
to or ``lessons``. Categories are ranked by the configuration's analysed counts.

A proposed write action is itself a signal, handled after the tool-use node: in dynamic mode
the decision verifier checks every write proposal.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from fama.core.env import ToolKind
from fama.core.fama_state import (
    Diagnosis,
    FamaContext,
    FamaState,
    Signal,
    TaxonomyEntry,
    timing,
)
from fama.core.repeats import failing_repeats
from fama.core.views import agent_view
from fama.helpers import output_reformulator
from fama.helpers.decision_verifier import confirms
from fama.helpers.text import message_text, parse_json, tokens, user_messages
from fama.helpers.triggers import discovered_signals

NODE = "orchestrator"
LONG_CONTEXT_MESSAGES = 12
REPEATED_CALLS = 2  # the same failing calls this many times in a row is a signal
_ARGUMENT_ERROR = re.compile(
    r"argument|parameter|missing|unexpected keyword|required|must be|not found\.$", re.I
)


def action_words(
    tools: Sequence[BaseTool], tool_kind: Callable[[str], ToolKind | None]
) -> tuple[set[str], set[str]]:
    """Words naming write actions: (all words, leading verbs) of write-tool names.

    Only tokens found in no read/generic tool name count, e.g. retail gives the verbs
    cancel, exchange, modify and return.
    """
    write: set[str] = set()
    verbs: set[str] = set()
    other: set[str] = set()
    for tool in tools:
        names = tokens(tool.name)
        if tool_kind(tool.name) == "write":
            write.update(names)
            verbs.update(names[:1])
        else:
            other.update(names)
    return write - other, verbs - other


def _tool_error_helper(
    messages: Sequence[AnyMessage], error: ToolMessage, params: Mapping[str, Any]
) -> str:
    if _ARGUMENT_ERROR.search(message_text(error)):
        return "tool_suggester"
    earlier = output_reformulator.latest_long_output(
        messages, int(params["min_chars"]), int(params["lookback"])
    )
    return "output_reformulator" if earlier is not None else "tool_suggester"


def detect_signals(
    messages: Sequence[AnyMessage],
    tools: Sequence[BaseTool],
    tool_kind: Callable[[str], ToolKind | None],
    taxonomy: Sequence[TaxonomyEntry] = (),
    reformulator: Mapping[str, Any] = output_reformulator.SPEC.default_params,
) -> list[Signal]:
    """The risk signals of the current state, most frequent category first.

    ``reformulator`` holds the output reformulator's parameters (what counts as a long
    output, how far back to look).
    """
    signals: list[Signal] = []
    last = messages[-1] if messages else None
    if isinstance(last, ToolMessage) and last.status == "error":
        signals.append(
            {
                "name": "tool_error",
                "category": "wrong_retrieval",
                "helper": _tool_error_helper(messages, last, reformulator),
            }
        )
    elif isinstance(last, ToolMessage):
        text = message_text(last)
        if len(text) >= int(reformulator["min_chars"]) and isinstance(
            parse_json(text), dict | list
        ):
            signals.append(
                {
                    "name": "long_output",
                    "category": "wrong_retrieval",
                    "helper": "output_reformulator",
                }
            )
    if failing_repeats(messages).count >= REPEATED_CALLS:
        signals.append(
            {"name": "repeated_call", "category": "wrong_retrieval", "helper": "tool_suggester"}
        )
    users = user_messages(messages)
    words, verbs = action_words(tools, tool_kind)
    if users:
        latest = message_text(users[-1])
        if words & set(tokens(latest)):
            signals.append(
                {
                    "name": "action_request",
                    "category": "policy_violation",
                    "helper": "constraints_extractor",
                }
            )
        if words and confirms(latest):
            signals.append(
                {
                    "name": "confirmation",
                    "category": "policy_violation",
                    "helper": "constraints_extractor",
                }
            )
        asked = verbs & {t for m in users for t in tokens(message_text(m))}
        if len(asked) >= 2:
            signals.append(
                {"name": "multi_request", "category": "incomplete_fulfilment", "helper": "planner"}
            )
    first_user = next((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), None)
    if (
        len(users) >= 2
        and first_user is not None
        and len(messages) - first_user >= LONG_CONTEXT_MESSAGES
    ):
        signals.append(
            {"name": "long_context", "category": "contextual_misinterpretation", "helper": "memory"}
        )
    return rank_signals(signals, taxonomy)


def rank_signals(signals: Sequence[Signal], taxonomy: Sequence[TaxonomyEntry]) -> list[Signal]:
    """Signals of the categories failure analysis counted most often first (stable)."""
    counts = {entry["id"]: entry["count"] for entry in taxonomy}
    return sorted(signals, key=lambda s: -counts.get(s["category"], 0))


async def orchestrator_node(state: FamaState, runtime: Runtime[FamaContext]) -> dict[str, Any]:
    """Open a decision: drop the last decision's guidance and blocks; read the signals."""
    started = time.perf_counter()
    settings = runtime.context.fama
    record = state.get("diagnosis") or {}
    diagnosis: Diagnosis = {"mode": settings.mode, "decisions": record.get("decisions", 0) + 1}
    if settings.mode == "dynamic":
        ctx = runtime.context
        fired = detect_signals(
            agent_view(state["messages"]),
            ctx.agent_tools,
            ctx.env.tool_kind,
            settings.taxonomy,
            settings.params(output_reformulator.NAME),
        )
        mitigations = settings.config.mitigations if settings.config else []
        discovered = discovered_signals(fired, mitigations)
        diagnosis["signals"] = rank_signals([*fired, *discovered], settings.taxonomy)
    return {
        "guidance": Overwrite([]),
        "redecisions": 0,
        "diagnosis": diagnosis,
        "node_timings": timing(NODE, started),
    }

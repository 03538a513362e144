"""Graph state shared by the episode loop, the baseline agents and the FAMA decision graph."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

Termination = Literal[
    "user_stop",  # the user emitted ###STOP### / ###TRANSFER### / ###OUT-OF-SCOPE###
    "agent_stop",  # the agent ended the conversation itself
    "max_steps",
    "too_many_errors",
    "infrastructure_error",  # the model server failed after retries
    "context_overflow",  # the server refused the prompt as longer than the model's context
    "repeated_call",  # the agent kept sending the same failing tool calls (or unusable reply)
]


class LLMCall(TypedDict):
    """Token usage and latency of one chat-model call (usage from ``usage_metadata``).

    ``finish_reason``: why the reply ended (``stop``, ``tool_calls``, ``length`` = cut at the
    output limit; absent/None when the server did not say). ``usage_missing``: the server
    reported no usage, so the token counts are local estimates.
    """

    node: str  # graph node that made the call, e.g. "agent", "user", "helper:planner"
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    finish_reason: NotRequired[str | None]
    usage_missing: NotRequired[bool]


class NodeTiming(TypedDict):
    """Wall time of one node execution (including any LLM call inside it)."""

    node: str
    latency_ms: float


class Guidance(TypedDict):
    """Short advice one FAMA helper produced for the current decision only.

    ``error`` is set (and ``text`` empty) when the helper failed: the decision went on
    without its advice.
    """

    helper: str
    text: str
    error: NotRequired[str]


class FamaDecision(TypedDict):
    """What FAMA did before one agent decision (kept for the viewer and the reports)."""

    message_index: int  # len(messages) when the decision started: the message it produced
    mode: str  # static | dynamic | all
    diagnosis: dict[str, Any]  # the orchestrator's diagnosis (signals, categories)
    active_helpers: list[str]
    guidance: list[Guidance]


class EpisodeState(TypedDict):
    """State of one episode: the trajectory from the agent's point of view plus counters."""

    messages: Annotated[list[AnyMessage], add_messages]
    tool_errors: NotRequired[int]
    termination: NotRequired[Termination | None]
    error_detail: NotRequired[str | None]
    llm_calls: NotRequired[Annotated[list[LLMCall], operator.add]]
    node_timings: NotRequired[Annotated[list[NodeTiming], operator.add]]
    # this decision's advice from FAMA's helpers (read by the tool-use nodes, reset by
    # FAMA's orchestrator at each decision; never part of ``messages``)
    guidance: NotRequired[Annotated[list[Guidance], operator.add]]

"""The episode loop as a LangGraph graph: user <-> agent <-> tools, bounded like tau2's.

Nodes (names fixed): ``user`` (the simulated customer), ``agent`` (swappable: any node over
``EpisodeLoopState`` that returns the agent's next ``AIMessage`` as a partial update; with
``FamaDecisions`` the FAMA decision nodes, ``orchestrator`` to ``tool_use``, take its place in
the same graph, see ``fama.graph.decision``), ``tools`` (runs the agent's tool calls) and
``user_tools`` (runs the user's own tool calls in dual-control domains). Routing follows the
official half-duplex loop: agent text goes to the user, agent tool calls (a message with text
*and* tool calls is a tool call) go to the tools and back to the agent, user text goes to the
agent, user tool calls go to ``user_tools`` and back to the user. The agent never sees the
user's tool use (``fama.core.views.agent_view``).

Steps and limits (spec section 7): with no history the trajectory starts with the greeting "Hi!
How can I help you today?" (not a step); every agent message, user message and tool result
batch is one step (counted in one place, ``fama.core.steps``, from the trajectory);
``max_steps`` and ``max_errors`` (error tool results) are checked only when no tool result is
pending; a user text message with a stop token ends with ``user_stop``. The context's other end
conditions (agent stop phrases, terminal tools, the agent's turn limit) are described in
``fama.core.context``. An unusable agent reply (empty, unparseable ReAct output, or cut at the
output limit) is kept out of the trajectory, counts as one step and one error, and the agent is
asked again (see
``fama.nodes.fc_agent``).

``run_episode`` never raises for an exception inside the graph: the episode keeps the last
state the graph reached (every finished message, tool result, LLM call and node timing) and
the exception (``EpisodeResult.exception``, classified by ``fama.llm.failures``): a model
that stays unreachable after the retries or any other server fault ends it with termination
``infrastructure_error``, a prompt the server refuses as too long with ``context_overflow``,
anything else (a bug) with no termination (the runner stores it as status ``error``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Literal, TypeVar, cast

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from fama.core.context import AgentIssue, EpisodeContext, EpisodeLoopState
from fama.core.fama_state import FamaContext, FamaState
from fama.core.state import LLMCall, NodeTiming, Termination
from fama.core.steps import count_steps
from fama.core.trajectory import MessageRecord, to_records
from fama.core.users import STOP_TOKENS, is_user_stop
from fama.core.views import is_user_tool_call, is_user_tool_result
from fama.graph.decision import (
    ORCHESTRATOR,
    VERIFIER,
    FamaDecisions,
    add_decision_nodes,
    route_after_tool_use,
)
from fama.graph.tracing import decision_traced
from fama.llm.failures import FailureInfo, failure_detail, failure_info
from fama.nodes.env_tools import tools_node, user_tools_node
from fama.nodes.fc_agent import fc_agent_node
from fama.nodes.mitigation import TOOL_USE
from fama.nodes.user import user_node

GREETING = "Hi! How can I help you today?"

AgentNode = Callable[..., Any] | Runnable[Any, Any] | FamaDecisions
R = TypeVar("R")


def route_start(state: EpisodeLoopState) -> Literal["user", "agent", "tools", "user_tools"]:
    """Who speaks first, given the history (normally the greeting, so the user; no history
    at all, as in tau2 solo mode: the agent)."""
    if not state["messages"]:
        return "agent"
    last = state["messages"][-1]
    if isinstance(last, AIMessage):
        return "tools" if last.tool_calls or last.invalid_tool_calls else "user"
    if is_user_tool_call(last):
        return "user_tools"
    return "user" if is_user_tool_result(last) else "agent"


def route_after_user(state: EpisodeLoopState) -> Literal["agent", "user_tools", "__end__"]:
    """The user's text goes to the agent, its tool calls to the tools, unless it ended."""
    if state.get("termination"):
        return "__end__"
    return "user_tools" if is_user_tool_call(state["messages"][-1]) else "agent"


def route_after_agent(state: EpisodeLoopState) -> Literal["user", "tools", "agent", "__end__"]:
    """Agent tool calls go to the tools, text to the user; no new message: ask again."""
    if state.get("termination"):
        return "__end__"
    last = state["messages"][-1]
    if not isinstance(last, AIMessage):
        return "agent"
    return "tools" if last.tool_calls or last.invalid_tool_calls else "user"


def route_after_tools(state: EpisodeLoopState) -> Literal["agent", "__end__"]:
    """Tool results go back to the agent unless the episode ended."""
    return "__end__" if state.get("termination") else "agent"


def route_after_user_tools(state: EpisodeLoopState) -> Literal["user", "__end__"]:
    """The user's tool results go back to the user unless a limit was reached."""
    return "__end__" if state.get("termination") else "user"


def _on_loop(route: Callable[[EpisodeLoopState], R]) -> Callable[[EpisodeLoopState], Awaitable[R]]:
    """Run a sync router on the event loop (LangGraph sends sync callables to a thread pool)."""

    @wraps(route)
    async def run(state: EpisodeLoopState) -> R:
        return route(state)

    return run


def build_episode_graph(agent_node: AgentNode | None = None) -> StateGraph[Any, Any, Any, Any]:
    """The episode graph builder; ``agent_node`` defaults to the function-calling agent.

    With ``FamaDecisions`` the decision nodes are added instead of one ``agent`` node: the
    routes that lead to the agent lead to the ``orchestrator`` (the graph's state is then
    ``FamaState`` and its context a ``FamaContext``).
    """
    fama = isinstance(agent_node, FamaDecisions)
    state, context = (FamaState, FamaContext) if fama else (EpisodeLoopState, EpisodeContext)
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(state, context_schema=context)
    builder.add_node("user", user_node)
    builder.add_node("tools", tools_node)
    builder.add_node("user_tools", user_tools_node)
    agent = ORCHESTRATOR if fama else "agent"
    if isinstance(agent_node, FamaDecisions):
        add_decision_nodes(builder, agent_node, decision_traced)
        after_tool_use: dict[Hashable, str] = {
            VERIFIER: VERIFIER,
            "tools": "tools",
            "user": "user",
            "agent": agent,
            END: END,
        }
        builder.add_conditional_edges(TOOL_USE, route_after_tool_use, after_tool_use)
    else:
        builder.add_node("agent", agent_node if agent_node is not None else fc_agent_node)
        builder.add_conditional_edges(
            "agent", _on_loop(route_after_agent), ["user", "tools", "agent", END]
        )
    builder.add_conditional_edges(
        START,
        _on_loop(route_start),
        {"user": "user", "agent": agent, "tools": "tools", "user_tools": "user_tools"},
    )
    builder.add_conditional_edges(
        "user", _on_loop(route_after_user), {"agent": agent, "user_tools": "user_tools", END: END}
    )
    builder.add_conditional_edges("tools", _on_loop(route_after_tools), {"agent": agent, END: END})
    builder.add_conditional_edges("user_tools", _on_loop(route_after_user_tools), ["user", END])
    return builder


# id(agent_node) -> (agent_node, compiled graph); the node is kept so its id stays unique.
_COMPILED: dict[int, tuple[AgentNode | None, CompiledStateGraph[Any, Any, Any, Any]]] = {}
_COMPILED_MAX = 16


def compiled_episode_graph(
    agent_node: AgentNode | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled graph for an agent node (compiled once per node object, then reused)."""
    hit = _COMPILED.get(id(agent_node))
    if hit is not None and hit[0] is agent_node:
        return hit[1]
    graph = build_episode_graph(agent_node).compile(name="episode")
    if len(_COMPILED) >= _COMPILED_MAX:
        del _COMPILED[next(iter(_COMPILED))]
    _COMPILED[id(agent_node)] = (agent_node, graph)
    return graph


@dataclass
class EpisodeResult:
    """What one episode produced, ready to be scored and stored."""

    records: list[MessageRecord]
    termination: Termination | None
    steps: int
    tool_errors: int
    llm_calls: list[LLMCall] = field(default_factory=list)
    node_timings: list[NodeTiming] = field(default_factory=list)
    error_detail: str | None = None
    agent_issues: list[AgentIssue] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # FAMA diagnosis, helpers, decisions
    exception: FailureInfo | None = None  # what ended the episode early, if anything


_EXTRA_KEYS = ("diagnosis", "active_helpers", "fama_decisions")


def initial_state(
    initial_messages: Sequence[AnyMessage] | None, stop_tokens: Sequence[str] = STOP_TOKENS
) -> EpisodeLoopState:
    """The graph input: the history (or the greeting), where the episode's steps start.

    ``None`` starts with the greeting, an empty history with the agent (tau2 solo mode).
    A history ending with a user text message containing one of ``stop_tokens`` is already
    over (``user_stop``).
    """
    messages: list[AnyMessage] = (
        list(initial_messages) if initial_messages is not None else [AIMessage(content=GREETING)]
    )
    state: EpisodeLoopState = {
        "messages": messages,
        "tool_errors": 0,
        "episode_start": len(messages),
        "termination": None,
        "error_detail": None,
        "llm_calls": [],
        "node_timings": [],
        "agent_issues": [],
        "guidance": [],
    }
    last = messages[-1] if messages else None
    if (
        isinstance(last, HumanMessage)
        and not is_user_tool_call(last)
        and is_user_stop(last.text, stop_tokens)
    ):
        state["termination"] = "user_stop"
    return state


def episode_result(state: EpisodeLoopState) -> EpisodeResult:
    """Package a (final or last good) state."""
    extra = {k: state[k] for k in _EXTRA_KEYS if state.get(k)}  # type: ignore[literal-required]
    return EpisodeResult(
        records=to_records(state["messages"]),
        termination=state.get("termination"),
        steps=count_steps(state),
        tool_errors=state.get("tool_errors", 0),
        llm_calls=list(state.get("llm_calls", [])),
        node_timings=list(state.get("node_timings", [])),
        error_detail=state.get("error_detail"),
        agent_issues=list(state.get("agent_issues", [])),
        extra=extra,
    )


async def run_episode(
    ctx: EpisodeContext,
    *,
    agent_node: AgentNode | None = None,
    initial_messages: Sequence[AnyMessage] | None = None,
) -> EpisodeResult:
    """Run one episode to its end; an exception in the graph ends it with what was done.

    See the module docstring for the terminations; ``KeyboardInterrupt`` and cancellation
    propagate.
    """
    state = initial_state(initial_messages, ctx.user_stop_tokens)
    if state.get("termination"):
        return episode_result(state)
    graph = compiled_episode_graph(agent_node)
    config: RunnableConfig = {"recursion_limit": ctx.recursion_limit}
    try:
        async for values in graph.astream(state, config, context=ctx, stream_mode="values"):
            state = cast(EpisodeLoopState, values)
    except GraphRecursionError as exc:
        state = {**state, "termination": "max_steps", "error_detail": f"graph: {exc}"}
    except Exception as exc:  # keep everything done before the failure
        return failed_result(state, exc)
    return episode_result(state)


_FAILURE_TERMINATIONS: dict[str, Termination | None] = {
    "context_overflow": "context_overflow",
    "infrastructure": "infrastructure_error",
    "error": None,
}


def failed_result(state: EpisodeLoopState, exc: BaseException) -> EpisodeResult:
    """The result of an episode an exception ended: the last state plus the exception.

    ``error_detail`` is ``Type: message`` for server faults and the traceback for bugs.
    """
    info = failure_info(exc)
    termination = _FAILURE_TERMINATIONS[info["kind"]]
    detail = failure_detail(exc)
    result = episode_result({**state, "termination": termination, "error_detail": detail})
    result.exception = info
    return result

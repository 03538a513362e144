"""The FAMA agent as LangGraph graphs: decision graph, episode agent node, embeddable agent.

One decision::

    orchestrator -> mitigation -> helper_* (parallel, Send) -> tool_use [-> verifier]

The orchestrator opens the decision (drops the previous guidance, reads risk signals in
dynamic mode), mitigation picks the helpers (static: the configuration; all: every helper;
dynamic: minimal cover of the signalled categories within the guidance budget), the guidance
helpers run in parallel and write short ``guidance``, and the tool-use node (swappable: the
function-calling node by default, the ReAct node or any node with the same contract) makes
the decision with that guidance in its input for this decision only; guidance never enters
``messages``. When the decision verifier is active (or in dynamic mode) a proposed write
action is checked before it runs; a violating proposal is withdrawn and the tool-use node
decides again with the remediation (bounded by ``max_redecisions``).

Every decision leaves one ``FamaDecision`` in ``fama_decisions`` (the message it produced,
the mode, the orchestrator's signals and the verifier's checks of this decision, the active
helpers and the guidance the decision was made with), written when the decision is final:
by the tool-use node, or by the verifier when it lets the proposal through.

Three entry points:

* ``build_fama_decision_graph`` -- the decision graph (builder) over ``FamaState``;
* ``make_fama_agent_node`` -- the episode loop's ``agent`` node running that graph
  (``run_episode(ctx, agent_node=make_fama_agent_node(mode=..., config=...))``);
* ``build_fama_graph`` -- a complete agent over any LangChain chat model and tools:
  decisions, tool execution, looping until the model answers in text (bounded).
"""

from __future__ import annotations

import json
import operator
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Literal,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

from langchain_core.messages import AIMessage, AnyMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from fama.core.context import EpisodeContext, EpisodeLoopState
from fama.core.env import ToolKind, ToolOutput
from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.fama_state import (
    FamaContext,
    FamaState,
    config_of,
    seed_taxonomy,
    taxonomy_entries,
    timing,
)
from fama.core.state import FamaDecision
from fama.helpers import decision_verifier
from fama.helpers.base import HelperInput, llm_node
from fama.helpers.registry import GUIDANCE_HELPERS, HELPERS, registry_order
from fama.helpers.settings import DEFAULT_GUIDANCE_BUDGET, FamaDefaults, helper_env, helper_params
from fama.nodes.mitigation import TOOL_USE, fan_out, helper_node_name, mitigation_node
from fama.nodes.orchestrator import make_orchestrator_node

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph

    from fama.core.trajectory import MessageRecord

__all__ = [
    "FamaContext",
    "FamaState",
    "LangChainToolEnvironment",
    "build_fama_decision_graph",
    "build_fama_graph",
    "episode_delta",
    "fama_prompt_refs",
    "make_fama_agent_node",
]

ORCHESTRATOR: Final = "orchestrator"
MITIGATION: Final = "mitigation"
VERIFIER: Final = "helper_decision_verifier"  # helper_node_name(decision_verifier.NAME)
TOOLS: Final = "tools"
DONE: Final = "__end__"  # langgraph's END

ToolUseNode = Callable[[Any, Runtime[Any]], Awaitable[dict[str, Any]]]


def _defaults(
    mode: FamaMode,
    config: FamaConfig | None,
    taxonomy: Iterable[Mapping[str, Any] | Any] | None,
    guidance_budget: int,
) -> FamaDefaults:
    entries = seed_taxonomy() if taxonomy is None else taxonomy_entries(taxonomy)
    return FamaDefaults(mode, config, tuple(entries), guidance_budget)


def _default_tool_use() -> ToolUseNode:
    from fama.nodes.fc_agent import fc_agent_node

    return fc_agent_node


def make_helper_node(helper: str) -> Callable[[Mapping[str, Any], Runtime[EpisodeContext]], Any]:
    """The graph node of one guidance helper (its input is the ``Send`` payload)."""
    run = GUIDANCE_HELPERS[helper]

    async def helper_node(
        payload: Mapping[str, Any], runtime: Runtime[EpisodeContext]
    ) -> dict[str, Any]:
        started = time.perf_counter()
        inp = cast(HelperInput, payload)
        update = await run(inp, helper_env(runtime.context, inp["params"]))
        return {**update, "node_timings": timing(llm_node(helper), started)}

    helper_node.__name__ = helper_node_name(helper)
    return helper_node


def decision_record(state: FamaState, message_index: int, *, checks: int) -> FamaDecision:
    """The record of the decision producing message ``message_index`` (``checks``: verifier
    checks made in this decision; its blocks are the last ``redecisions`` ones)."""
    record = state.get("diagnosis") or {}
    mode = state.get("fama_mode", "static")
    blocked = state.get("redecisions", 0)
    diagnosis: dict[str, Any] = {"decision": int(record.get("decisions", 0))}
    if mode == "dynamic":
        signals = list(record.get("signals", []))
        diagnosis["signals"] = signals
        diagnosis["categories"] = list(dict.fromkeys(s["category"] for s in signals))
    diagnosis["verifier_checks"] = checks
    diagnosis["verifier_blocks"] = (
        list(record.get("verifier_blocks", []))[-blocked:] if blocked else []
    )
    return {
        "message_index": message_index,
        "mode": mode,
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


def decision_tool_use(inner: ToolUseNode) -> ToolUseNode:
    """The tool-use node inside a decision: the decision's guidance stays for a re-decision.

    Tool-use nodes clear ``guidance`` once used; here the orchestrator clears it at the start
    of the next decision instead, so a re-decision after a blocked proposal still sees it.
    A proposal the verifier will not check ends the decision: its record is written here.
    """

    async def tool_use(state: FamaState, runtime: Runtime[EpisodeContext]) -> dict[str, Any]:
        update = dict(await inner(state, runtime))
        update.pop("guidance", None)
        if not proposal_needs_verification(_proposal(update), state, runtime):
            checks = state.get("redecisions", 0)
            update["fama_decisions"] = [
                decision_record(state, len(state["messages"]), checks=checks)
            ]
        return update

    return tool_use


def _verifier_params(state: FamaState) -> dict[str, Any]:
    return helper_params(decision_verifier.NAME, config_of(state))


def needs_verification(state: FamaState, runtime: Runtime[EpisodeContext]) -> bool:
    """Whether the decision verifier checks the proposal the tool-use node just made."""
    return proposal_needs_verification(state["messages"][-1], state, runtime)


def proposal_needs_verification(
    proposal: Any, state: FamaState, runtime: Runtime[EpisodeContext]
) -> bool:
    """Whether the verifier checks ``proposal`` (the tool-use node's new message, if any)."""
    if not isinstance(proposal, AIMessage) or not proposal.tool_calls:
        return False
    active = decision_verifier.NAME in state.get("active_helpers", [])
    if not active and state.get("fama_mode") != "dynamic":
        return False
    if state.get("redecisions", 0) >= int(_verifier_params(state)["max_redecisions"]):
        return False
    kind = runtime.context.env.tool_kind
    return any(kind(call["name"]) == "write" for call in proposal.tool_calls)


def make_verifier_node(
    after: str,
) -> Callable[[FamaState, Runtime[EpisodeContext]], Awaitable[Command[Any]]]:
    """The decision verifier node; a passing proposal goes on to ``after``."""

    async def verifier(state: FamaState, runtime: Runtime[EpisodeContext]) -> Command[Any]:
        started = time.perf_counter()
        proposal = state["messages"][-1]
        if not isinstance(proposal, AIMessage):
            raise TypeError(f"verifier reached after a {type(proposal).__name__}")
        env = helper_env(runtime.context, _verifier_params(state))
        verdict, calls = await decision_verifier.verify(proposal, state["messages"][:-1], env)
        record = state.get("diagnosis") or {}
        diagnosis: dict[str, Any] = {"verifier_checks": int(record.get("verifier_checks", 0)) + 1}
        update: dict[str, Any] = {
            "llm_calls": calls,
            "node_timings": timing(llm_node(decision_verifier.NAME), started),
            "diagnosis": diagnosis,
        }
        if verdict.ok:
            checks = state.get("redecisions", 0) + 1
            update["fama_decisions"] = [
                decision_record(state, len(state["messages"]) - 1, checks=checks)
            ]
            return Command(goto=after, update=update)
        blocks = list(record.get("verifier_blocks", []))
        blocks.append({"check": verdict.check, "problem": verdict.problem})
        diagnosis["verifier_blocks"] = blocks
        text = decision_verifier.remediation(proposal, verdict, env)
        update["messages"] = [RemoveMessage(id=proposal.id or "")]
        update["guidance"] = [{"helper": decision_verifier.NAME, "text": text}]
        update["redecisions"] = state.get("redecisions", 0) + 1
        return Command(goto=TOOL_USE, update=update)

    return verifier


def _add_decision_nodes(
    builder: StateGraph[Any, Any, Any, Any],
    defaults: FamaDefaults,
    tool_use_node: ToolUseNode | None,
    after_verifier: str,
    wrap: Callable[[Any], Any],
) -> None:
    builder.add_node(ORCHESTRATOR, wrap(make_orchestrator_node(defaults)))
    builder.add_node(MITIGATION, mitigation_node)
    for helper in GUIDANCE_HELPERS:
        builder.add_node(helper_node_name(helper), wrap(make_helper_node(helper)))
    builder.add_node(TOOL_USE, wrap(decision_tool_use(tool_use_node or _default_tool_use())))
    builder.add_node(
        VERIFIER, wrap(make_verifier_node(after_verifier)), destinations=(TOOL_USE, after_verifier)
    )
    builder.add_edge(START, ORCHESTRATOR)
    builder.add_edge(ORCHESTRATOR, MITIGATION)
    helper_nodes = [helper_node_name(h) for h in GUIDANCE_HELPERS]
    builder.add_conditional_edges(MITIGATION, fan_out, [*helper_nodes, TOOL_USE])
    for node in helper_nodes:
        builder.add_edge(node, TOOL_USE)


def build_fama_decision_graph(
    *,
    tool_use_node: ToolUseNode | None = None,
    mode: FamaMode = "static",
    config: FamaConfig | None = None,
    taxonomy: Iterable[Mapping[str, Any] | Any] | None = None,
    guidance_budget: int = DEFAULT_GUIDANCE_BUDGET,
) -> StateGraph[Any, Any, Any, Any]:
    """The graph of one FAMA decision over ``FamaState`` (context: an ``EpisodeContext``).

    ``mode``, ``config``, ``taxonomy`` (categories with id, name, definition, count; the seed
    categories by default) and ``guidance_budget`` (tokens) are the defaults the orchestrator
    puts into the state when the input does not carry them. ``tool_use_node`` defaults to
    the function-calling node. A ``FamaContext`` may name a separate helper model.
    """
    defaults = _defaults(mode, config, taxonomy, guidance_budget)
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(FamaState, context_schema=EpisodeContext)
    _add_decision_nodes(builder, defaults, tool_use_node, END, lambda node: node)

    def after_tool_use(
        state: FamaState, runtime: Runtime[EpisodeContext]
    ) -> Literal["helper_decision_verifier", "__end__"]:
        return VERIFIER if needs_verification(state, runtime) else DONE

    builder.add_conditional_edges(TOOL_USE, after_tool_use, [VERIFIER, END])
    return builder


def _append_keys() -> frozenset[str]:
    """Keys of the episode state merged with ``operator.add``."""
    hints = get_type_hints(EpisodeLoopState, include_extras=True)
    found: set[str] = set()
    for key, hint in hints.items():
        while get_origin(hint) is not None and not hasattr(hint, "__metadata__"):
            hint = get_args(hint)[0]  # unwrap NotRequired[...]
        if operator.add in getattr(hint, "__metadata__", ()):
            found.add(key)
    return frozenset(found)


_APPEND_KEYS = _append_keys()
_EPISODE_KEYS = frozenset(get_type_hints(EpisodeLoopState))
_DECISION_ONLY = frozenset({"guidance"})


def episode_delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The episode-state update a decision made: new messages and records, changed values.

    The decision's guidance is left out: it belongs to that decision only.
    """
    update: dict[str, Any] = {}
    old_ids = {m.id for m in before["messages"]}
    new_ids = {m.id for m in after["messages"]}
    messages: list[AnyMessage] = [m for m in after["messages"] if m.id not in old_ids]
    removed = [RemoveMessage(id=i) for i in old_ids - new_ids if i is not None]
    if messages or removed:
        update["messages"] = [*removed, *messages]
    for key in _EPISODE_KEYS - {"messages"} - _DECISION_ONLY:
        if key not in after:
            continue
        if key in _APPEND_KEYS:
            added = list(after[key])[len(before.get(key) or []) :]
            if added:
                update[key] = added
        elif after[key] != before.get(key):
            update[key] = after[key]
    return update


def make_fama_agent_node(
    *,
    mode: FamaMode = "static",
    config: FamaConfig | None = None,
    tool_use_node: ToolUseNode | None = None,
    taxonomy: Iterable[Mapping[str, Any] | Any] | None = None,
    guidance_budget: int = DEFAULT_GUIDANCE_BUDGET,
) -> Callable[[EpisodeLoopState, Runtime[EpisodeContext]], Awaitable[dict[str, Any]]]:
    """The episode loop's ``agent`` node: one FAMA decision per call.

    It runs the compiled decision graph on the episode state and returns only what the
    decision added (a compiled subgraph used directly as the node would return whole
    ``operator.add`` lists and duplicate the usage records).
    """
    graph = build_fama_decision_graph(
        tool_use_node=tool_use_node,
        mode=mode,
        config=config,
        taxonomy=taxonomy,
        guidance_budget=guidance_budget,
    ).compile(name="fama_decision")

    async def agent(state: EpisodeLoopState, runtime: Runtime[EpisodeContext]) -> dict[str, Any]:
        """One FAMA decision (orchestrator, mitigation, helpers, tool use, verifier)."""
        number = len(state.get("fama_decisions", [])) + 1
        trace: RunnableConfig = {
            "run_name": "fama_decision",
            "metadata": {"fama_decision": number, "fama_mode": mode},
            "tags": ["fama_decision", f"decision:{number}"],
        }
        after = await graph.ainvoke(state, trace, context=runtime.context)
        return episode_delta(state, after)

    return agent


def fama_prompt_refs(mode: FamaMode, config: FamaConfig | None = None) -> list[dict[str, str]]:
    """Name, version and sha256 of every prompt the FAMA decision graph may use.

    The tool-use node's own prompts (system prompt, retry notes) are not included, except
    the guidance block it renders the helpers' advice with.
    """
    from fama.prompts import load_prompt

    if mode == "static":
        if config is None:
            raise ValueError("static mode needs a FamaConfig")
        helpers = registry_order(config.helpers)
    else:
        helpers = list(HELPERS)
    names = ["decision_guidance"]
    for helper in helpers:
        spec = HELPERS[helper]
        params = helper_params(helper, config)
        for name in spec.prompts:
            skipped = name == decision_verifier.PROMPT and not params.get("llm_check", True)
            if not skipped:
                names.append(name)
    return [load_prompt(name).ref for name in names]


# ----------------------------------------------------------------------------- embeddable agent


class LangChainToolEnvironment:
    """A ``ToolEnvironment`` over plain LangChain tools (for the embeddable agent).

    Tools named in ``write_tools`` are write tools (checked by the decision verifier and
    weighed by the orchestrator's signals); the others count as read tools. Tools are run
    synchronously with ``tool.invoke``; any exception becomes an error result.
    """

    def __init__(self, tools: Sequence[BaseTool], policy: str, write_tools: Iterable[str] = ()):
        self._tools = {t.name: t for t in tools}
        if len(self._tools) != len(tools):
            raise ValueError("tool names must be unique")
        self._writes = frozenset(write_tools)
        unknown = sorted(self._writes - self._tools.keys())
        if unknown:
            raise ValueError(f"write_tools names unknown tools: {unknown}")
        self._policy = policy

    @property
    def policy(self) -> str:
        """The policy text."""
        return self._policy

    def agent_tools(self) -> list[BaseTool]:
        """The tools, in the order given."""
        return list(self._tools.values())

    def tool_kind(self, name: str) -> ToolKind | None:
        """``write`` for the declared write tools, ``read`` for the others."""
        if name not in self._tools:
            return None
        return "write" if name in self._writes else "read"

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one tool call; errors come back as ``Error: ...`` outputs."""
        tool = self._tools.get(name)
        if tool is None:
            return ToolOutput(f"Error: Tool '{name}' not found.", error=True)
        try:
            result = tool.invoke(arguments)
        except Exception as exc:  # a tool's failure is the model's information, not a crash
            return ToolOutput(f"Error: {exc}", error=True)
        if isinstance(result, str):
            return ToolOutput(result)
        if isinstance(result, dict | list):
            return ToolOutput(json.dumps(result, default=str))
        return ToolOutput(str(result))


class NoUser:
    """The user of an embedded agent is the caller: there is no simulator to ask."""

    async def respond(self, history: list[MessageRecord]) -> Any:
        """Never called by the embeddable graph (it ends when the agent answers in text)."""
        raise RuntimeError("an embedded FAMA agent has no simulated user")


def _with_context(ctx: FamaContext) -> Callable[[Any], Any]:
    """Wrap a node so that it runs with ``ctx`` when the caller passed no context."""

    def wrap(node: Any) -> Any:
        async def bound(state: Any, runtime: Runtime[Any]) -> Any:
            if runtime.context is None:
                runtime = runtime.override(context=ctx)
            return await node(state, runtime)

        bound.__name__ = getattr(node, "__name__", "node")
        return bound

    return wrap


def build_fama_graph(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    policy: str,
    config: FamaConfig | None = None,
    mode: FamaMode = "static",
    write_tools: Iterable[str] = (),
    system_prompt: str | None = None,
    helper_model: BaseChatModel | None = None,
    max_steps: int = 50,
    max_errors: int = 10,
    tool_use_node: ToolUseNode | None = None,
    taxonomy: Iterable[Mapping[str, Any] | Any] | None = None,
    guidance_budget: int = DEFAULT_GUIDANCE_BUDGET,
) -> CompiledStateGraph[Any]:
    """A complete FAMA agent over any LangChain chat model and tools.

    Invoke it (async) with ``{"messages": [HumanMessage(...)]}``: it decides, runs the tools,
    and loops until the model answers in text, ``max_steps`` (messages) or ``max_errors``
    (error tool results) is reached. ``policy`` is the domain policy (put into the default
    system prompt and read by the helpers); ``write_tools`` names the tools that change
    state. ``mode="static"`` needs a ``config``; use ``"dynamic"`` or ``"all"`` without one.
    A ``FamaContext`` passed at invocation replaces the built-in one.
    """
    from fama.nodes.env_tools import tools_node
    from fama.prompts import load_prompt

    defaults = _defaults(mode, config, taxonomy, guidance_budget)
    ctx = FamaContext(
        env=LangChainToolEnvironment(tools, policy, write_tools),
        agent_model=model,
        user=NoUser(),
        system_prompt=system_prompt or load_prompt("tau2_agent", "v1").render(policy=policy),
        max_steps=max_steps,
        max_errors=max_errors,
        helper_model=helper_model,
    )
    wrap = _with_context(ctx)
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(FamaState, context_schema=FamaContext)
    _add_decision_nodes(builder, defaults, tool_use_node, TOOLS, wrap)
    builder.add_node(TOOLS, wrap(tools_node))

    async def after_tool_use(
        state: FamaState, runtime: Runtime[EpisodeContext]
    ) -> Literal["helper_decision_verifier", "tools", "orchestrator", "__end__"]:
        if state.get("termination"):
            return DONE
        last = state["messages"][-1]
        if not isinstance(last, AIMessage):
            return ORCHESTRATOR  # an unusable reply (counted as an error): decide again
        if not (last.tool_calls or last.invalid_tool_calls):
            return DONE
        if runtime.context is None:
            runtime = runtime.override(context=ctx)
        return VERIFIER if needs_verification(state, runtime) else TOOLS

    def after_tools(state: FamaState) -> Literal["orchestrator", "__end__"]:
        return DONE if state.get("termination") else ORCHESTRATOR

    builder.add_conditional_edges(TOOL_USE, after_tool_use, [VERIFIER, TOOLS, ORCHESTRATOR, END])
    builder.add_conditional_edges(TOOLS, after_tools, [ORCHESTRATOR, END])
    return builder.compile(name="fama")

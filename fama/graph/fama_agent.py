"""The embeddable FAMA agent: the decision nodes plus a tools node, over any chat model.

``build_fama_graph`` compiles a complete agent for plain LangChain tools: each turn runs one
FAMA decision (``fama.graph.decision``), the tools, and loops until the model answers in text
or a limit is reached. The caller is the user, so an answer in text ends the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.fama_state import DEFAULT_GUIDANCE_BUDGET, FamaContext, FamaState
from fama.envs.langchain_tools import LangChainToolEnvironment
from fama.graph.decision import (
    ORCHESTRATOR,
    TOOLS,
    VERIFIER,
    FamaDecisions,
    ToolUseNode,
    add_decision_nodes,
    route_after_tool_use,
)
from fama.graph.tracing import decision_traced
from fama.helpers.settings import fama_settings, prompt_names
from fama.nodes.mitigation import TOOL_USE

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph

    from fama.core.trajectory import MessageRecord


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
            result = node(state, runtime)
            return await result if hasattr(result, "__await__") else result

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
    from fama.prompts import PromptSet

    settings = fama_settings(mode, config, taxonomy, guidance_budget)
    prompts = PromptSet.resolve(["tau2_agent", "fc_retry_note", *prompt_names(settings)])
    ctx = FamaContext(
        env=LangChainToolEnvironment(tools, policy, write_tools),
        agent_model=model,
        user=NoUser(),
        system_prompt=system_prompt or prompts["tau2_agent"].render(policy=policy),
        max_steps=max_steps,
        max_errors=max_errors,
        prompts=prompts,
        fama=settings,
        helper_model=helper_model,
    )
    wrap = _with_context(ctx)
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(FamaState, context_schema=FamaContext)
    add_decision_nodes(builder, FamaDecisions(tool_use_node), lambda n: wrap(decision_traced(n)))
    builder.add_node(TOOLS, wrap(tools_node))
    builder.add_edge(START, ORCHESTRATOR)

    def after_tools(state: FamaState) -> Literal["orchestrator", "__end__"]:
        return "__end__" if state.get("termination") else ORCHESTRATOR

    builder.add_conditional_edges(
        TOOL_USE,
        wrap(route_after_tool_use),
        {VERIFIER: VERIFIER, TOOLS: TOOLS, "agent": ORCHESTRATOR, "user": END, END: END},
    )
    builder.add_conditional_edges(TOOLS, after_tools, [ORCHESTRATOR, END])
    return builder.compile(name="fama")

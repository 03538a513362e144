"""The embeddable FAMA agent: the decision nodes plus a tools node, over any chat model.

``fama_agent_builder`` builds (and ``build_fama_graph`` compiles) a complete agent for plain
LangChain tools: each turn runs one FAMA decision (``fama.graph.decision``), the tools, and
loops until the model answers in text or a limit is reached. The caller is the user, so an
answer in text ends the run. Every node runs under ``invoke`` / ``stream`` as well as
``ainvoke`` / ``astream`` (the sync side runs the async node with ``fama.core.sync.run_sync``);
async-only tools run in both (``fama.envs.tool_runner``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime, get_runtime

from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.fama_state import DEFAULT_GUIDANCE_BUDGET, FamaContext, FamaState
from fama.core.sync import run_sync
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
    """Wrap a node (or router) so that it runs with ``ctx`` when the caller passed no context,
    under both the sync and the async API."""

    def wrap(node: Any) -> Any:
        async def run(state: Any, runtime: Runtime[Any]) -> Any:
            if runtime.context is None:
                runtime = runtime.override(context=ctx)
            result = node(state, runtime)
            return await result if hasattr(result, "__await__") else result

        async def arun(state: Any, config: RunnableConfig) -> Any:
            return await run(state, get_runtime())

        def srun(state: Any, config: RunnableConfig) -> Any:
            return run_sync(run(state, get_runtime()))

        return RunnableLambda(srun, afunc=arun, name=getattr(node, "__name__", "node"))

    return wrap


TURN = "turn"


def new_turn(state: FamaState) -> dict[str, Any]:
    """Open a call of the agent: its limits count from the caller's new message on (a thread
    resumed from a checkpointer keeps its history, not its last call's end or errors)."""
    return {
        "episode_start": max(len(state["messages"]) - 1, 0),
        "termination": None,
        "tool_errors": 0,
    }


def default_mode(config: FamaConfig | None, mode: FamaMode | None) -> FamaMode:
    """The mode asked for, else ``static`` with a configuration and ``dynamic`` without."""
    return mode or ("static" if config is not None else "dynamic")


def fama_agent_builder(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    policy: str,
    config: FamaConfig | None = None,
    mode: FamaMode | None = None,
    write_tools: Iterable[str] = (),
    system_prompt: str | None = None,
    helper_model: BaseChatModel | None = None,
    max_steps: int = 50,
    max_errors: int = 10,
    tool_use_node: ToolUseNode | None = None,
    taxonomy: Iterable[Mapping[str, Any] | Any] | None = None,
    guidance_budget: int = DEFAULT_GUIDANCE_BUDGET,
) -> StateGraph[Any, Any, Any, Any]:
    """The builder of a complete FAMA agent over any LangChain chat model and tools (compile
    it yourself, e.g. with a checkpointer; ``build_fama_graph`` compiles it as is).

    Invoke the compiled graph with ``{"messages": [HumanMessage(...)]}``: it decides, runs
    the tools, and loops until the model answers in text, ``max_steps`` (messages) or
    ``max_errors`` (error tool results) is reached. ``policy`` is the domain policy (put into
    the default system prompt and read by the helpers); ``write_tools`` names the tools that
    change state. ``mode`` defaults to ``static`` with a ``config`` (the helper set from
    ``fama analyze``) and to ``dynamic`` without. The helpers call ``helper_model``, or the
    agent's ``model`` when none is given (their calls are recorded under ``helper:<name>``).
    A ``FamaContext`` passed at invocation replaces the built-in one.
    """
    from fama.nodes.env_tools import tools_node
    from fama.prompts import PromptSet

    settings = fama_settings(default_mode(config, mode), config, taxonomy, guidance_budget)
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
    builder.add_node(TURN, new_turn)
    builder.add_edge(START, TURN)
    builder.add_edge(TURN, ORCHESTRATOR)

    def after_tools(state: FamaState) -> Literal["orchestrator", "__end__"]:
        return "__end__" if state.get("termination") else ORCHESTRATOR

    builder.add_conditional_edges(
        TOOL_USE,
        wrap(route_after_tool_use),
        {VERIFIER: VERIFIER, TOOLS: TOOLS, "agent": ORCHESTRATOR, "user": END, END: END},
    )
    builder.add_conditional_edges(TOOLS, after_tools, [ORCHESTRATOR, END])
    return builder


def build_fama_graph(
    model: BaseChatModel, tools: Sequence[BaseTool], **options: Any
) -> CompiledStateGraph[Any]:
    """The compiled FAMA agent (``fama_agent_builder``'s options; no checkpointer)."""
    return fama_agent_builder(model, tools, **options).compile(name="fama")

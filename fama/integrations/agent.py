"""``create_fama_agent``: a complete FAMA agent in one call, from a model and tools."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.core.fama_config import FamaConfig, FamaMode
from fama.envs.tool_runner import as_tool
from fama.graph.fama_agent import fama_agent_builder
from fama.integrations.options import resolve_config, resolve_model

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.store.base import BaseStore
    from langgraph.types import Checkpointer


def create_fama_agent(
    model: str | BaseChatModel,
    tools: Sequence[Any],
    *,
    policy: str,
    config: FamaConfig | str | Path | None = None,
    mode: FamaMode | None = None,
    helper_model: str | BaseChatModel | None = None,
    write_tools: Iterable[str] = (),
    system_prompt: str | None = None,
    max_steps: int = 50,
    max_errors: int = 10,
    checkpointer: Checkpointer = None,
    store: BaseStore | None = None,
) -> CompiledStateGraph[Any]:
    """The FAMA agent graph, compiled (``fama.graph.fama_agent.fama_agent_builder`` is the
    builder, for compiling it yourself).

    ``model`` and ``helper_model`` are chat models or ``provider:model`` strings; the helpers
    call ``helper_model``, else the agent's model (recorded apart, under ``helper:<name>``).
    ``tools`` are LangChain tools or plain functions, sync or async; ``write_tools`` names the
    ones that change state. ``config`` is a ``FamaConfig`` or a ``fama_config.json`` path;
    ``mode`` defaults to ``static`` with it and ``dynamic`` without. ``max_steps`` and
    ``max_errors`` bound each call of the agent. Works with ``invoke`` / ``ainvoke`` /
    ``stream`` / ``astream``; with a ``checkpointer``, pass a ``thread_id`` and a conversation
    continues across calls with FAMA's record of it.
    """
    agent_model = resolve_model(model)
    if agent_model is None:
        raise ValueError("create_fama_agent needs a model")
    builder = fama_agent_builder(
        agent_model,
        [as_tool(t) for t in tools],
        policy=policy,
        config=resolve_config(config),
        mode=mode,
        write_tools=write_tools,
        system_prompt=system_prompt,
        helper_model=resolve_model(helper_model),
        max_steps=max_steps,
        max_errors=max_errors,
    )
    return builder.compile(checkpointer=checkpointer, store=store, name="fama")

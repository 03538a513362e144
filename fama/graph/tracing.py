"""FAMA decision numbers on the LangChain runs that decision nodes start.

``decision_traced`` wraps a decision node so that every run it starts (model calls of the
helpers, the tool-use node and the verifier) carries ``fama_decision`` (the decision's
number, ``diagnosis["decisions"]`` of the node's input) in its metadata and a
``decision:<n>`` tag, on top of the episode's metadata (``fama.runs.tracing``). The
orchestrator, which opens a decision, still sees the previous number; it calls no model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.runtime import Runtime


def _decision(state: Any) -> int | None:
    diagnosis = state.get("diagnosis") if isinstance(state, Mapping) else None
    number = diagnosis.get("decisions") if isinstance(diagnosis, Mapping) else None
    return number if isinstance(number, int) else None


def decision_traced(node: Any) -> Any:
    """``node`` (sync or async, ``(state, runtime)``) with its decision in the run metadata."""

    async def traced(state: Any, runtime: Runtime[Any]) -> Any:
        number = _decision(state)
        parent = var_child_runnable_config.get()
        token = None
        if number is not None and parent is not None:
            config: RunnableConfig = {
                **parent,
                "metadata": {**parent.get("metadata", {}), "fama_decision": number},
                "tags": [*parent.get("tags", []), f"decision:{number}"],
            }
            token = var_child_runnable_config.set(config)
        try:
            result = node(state, runtime)
            return await result if hasattr(result, "__await__") else result
        finally:
            if token is not None:
                var_child_runnable_config.reset(token)

    traced.__name__ = getattr(node, "__name__", "node")
    return traced

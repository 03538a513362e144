"""FAMA: Failure-Aware Meta-Agentic framework for small open LLM agents in multi-turn tool use.

The embeddable FAMA agent is ``fama.build_fama_graph`` (imported on first use, so that light
commands such as ``fama tau2 replay`` do not pay for LangGraph's import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["FamaConfig", "FamaDecisions", "build_fama_graph"]

if TYPE_CHECKING:
    from fama.core.fama_config import FamaConfig
    from fama.graph.decision import FamaDecisions
    from fama.graph.fama_agent import build_fama_graph

_LAZY = {
    "build_fama_graph": "fama.graph.fama_agent",
    "FamaDecisions": "fama.graph.decision",
    "FamaConfig": "fama.core.fama_config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fama' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

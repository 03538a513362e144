"""FAMA: Failure-Aware Meta-Agentic framework for small open LLM agents in multi-turn tool use.

The embeddable FAMA agent is ``fama.build_fama_graph`` (imported on first use, so that light
commands such as ``fama tau2 replay`` do not pay for LangGraph's import). For your own agent:
``fama.create_fama_agent`` (a complete FAMA agent in one call), ``fama.FamaMiddleware`` (FAMA
on a LangChain ``create_agent`` agent), ``fama.RunRecorder`` (its conversations in the run
store) and ``fama.CustomDomain`` (your domain as a benchmark: ``fama run --env python:...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "CustomDomain",
    "FamaConfig",
    "FamaDecisions",
    "FamaMiddleware",
    "RunRecorder",
    "build_fama_graph",
    "create_fama_agent",
]

if TYPE_CHECKING:
    from fama.core.fama_config import FamaConfig
    from fama.envs.custom import CustomDomain
    from fama.graph.decision import FamaDecisions
    from fama.graph.fama_agent import build_fama_graph
    from fama.integrations.agent import create_fama_agent
    from fama.integrations.middleware import FamaMiddleware
    from fama.integrations.recorder import RunRecorder

_LAZY = {
    "build_fama_graph": "fama.graph.fama_agent",
    "FamaDecisions": "fama.graph.decision",
    "FamaConfig": "fama.core.fama_config",
    "CustomDomain": "fama.envs.custom",
    "create_fama_agent": "fama.integrations.agent",
    "FamaMiddleware": "fama.integrations.middleware",
    "RunRecorder": "fama.integrations.recorder",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fama' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

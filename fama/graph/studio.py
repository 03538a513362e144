"""Graph factories for ``langgraph dev`` (listed in ``langgraph.json``).

``fama_retail_agent`` serves the embeddable FAMA agent over the tau2 retail tools (one
environment per server process, so the DB persists across threads: a playground, not a
benchmark). Settings come from the environment: ``FAMA_MODEL`` (``provider:model``, default
``openai:gpt-4o-mini``), ``FAMA_BASE_URL`` (an OpenAI-compatible server, e.g. ``fama serve``'s),
``FAMA_DATA_DIR``, ``FAMA_CONFIG`` (a ``fama_config.json`` from ``fama analyze``) and
``FAMA_MODE`` (default: ``static`` with ``FAMA_CONFIG``, else ``dynamic``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from langchain_core.tools import BaseTool, StructuredTool
from langgraph.graph.state import CompiledStateGraph

from fama.core.fama_config import FamaConfig, FamaMode
from fama.envs.tau2.environment import Tau2Environment, load_domain
from fama.graph.fama_agent import build_fama_graph, default_mode
from fama.llm.models import ModelSpec, resolve_chat_model


def executable_tools(env: Tau2Environment) -> list[BaseTool]:
    """The environment's agent tools as LangChain tools that really run (official outputs)."""
    tools: list[BaseTool] = []
    for schema in env.agent_tools():
        name = schema.name

        def run(_name: str = name, **arguments: Any) -> str:
            return env.execute(_name, arguments).content

        tools.append(
            StructuredTool.from_function(
                func=run, name=name, description=schema.description, args_schema=schema.args_schema
            )
        )
    return tools


def fama_options_from_env() -> tuple[FamaConfig | None, FamaMode]:
    """``FAMA_CONFIG`` (loaded) and ``FAMA_MODE`` (default: static with a config, else
    dynamic)."""
    path = os.environ.get("FAMA_CONFIG")
    config = FamaConfig.load(Path(path)) if path else None
    return config, default_mode(config, cast(FamaMode | None, os.environ.get("FAMA_MODE") or None))


def fama_retail_agent() -> CompiledStateGraph[Any]:
    """The FAMA agent on tau2 retail, configured from environment variables."""
    domain = load_domain("retail", os.environ.get("FAMA_DATA_DIR"))
    env = domain.new_environment()
    spec = ModelSpec(
        model=os.environ.get("FAMA_MODEL", "openai:gpt-4o-mini"),
        base_url=os.environ.get("FAMA_BASE_URL"),
    )
    config, mode = fama_options_from_env()
    return build_fama_graph(
        resolve_chat_model(spec),
        executable_tools(env),
        policy=domain.policy,
        config=config,
        mode=mode,
        write_tools=[n for n, k in domain.tool_kinds.items() if k == "write"],
    )

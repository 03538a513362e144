"""tau-bench v1 style tool runtime shared by the tau-trait domains.

A domain module (``telecom.py``, ``telehealth.py``, ``retail.py``, ``airline.py``) defines
``DOMAIN: DomainTools``: plain functions called as ``fn(data, **arguments)`` on the episode's
mutable data dict, returning strings. ``TauTraitDomain`` adds what the data folder provides
(policy ``wiki.md``, ``tool_schemas.json``, the initial data) and builds one
``TauTraitEnvironment`` per episode over a private deep copy of the data.

Behaviour follows collinear-ai/tau-trait and sierra-research/tau-bench (MIT): an unknown
tool gives ``"Unknown action <name>"``, a tool that raises gives ``"Error: <exception>"``.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fama.core.env import ToolKind, ToolOutput
from fama.envs.tau2.common import ALLOWED_CHARS, calculate_expression

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

ToolFunction = Callable[..., str]
"""A domain tool, called as ``fn(data, **arguments)``; ``data`` is the mutable episode data."""

THINK_TOOL = "think"


@dataclass(frozen=True)
class DomainTools:
    """One tau-trait domain: its tools, which write or end the episode, and its data loader."""

    name: str
    tools: Mapping[str, ToolFunction]
    write_tools: frozenset[str]
    terminal_tools: frozenset[str]
    load_data: Callable[[Path], dict[str, Any]]
    """Called with the tau-trait data root; reads ``<root>/<name>/*.json`` into a fresh dict."""

    def tool_kind(self, name: str) -> ToolKind | None:
        """``think``, ``write``, ``generic`` (terminal tools) or ``read``; None if unknown."""
        if name not in self.tools:
            return None
        if name == THINK_TOOL:
            return "think"
        if name in self.write_tools:
            return "write"
        if name in self.terminal_tools:
            return "generic"
        return "read"


def run_tool(
    fn: ToolFunction | None, data: dict[str, Any], name: str, arguments: Any
) -> ToolOutput:
    """Run one tool call on ``data`` exactly as tau-bench's ``Env.step`` does.

    ``fn`` is None for a tool the domain does not offer. The output is an error when the tool
    is unknown, raised, or returned a string starting with ``"Error"`` (the content is what
    the agent sees either way).
    """
    if fn is None:
        return ToolOutput(f"Unknown action {name}", error=True)
    if not isinstance(arguments, Mapping):
        return ToolOutput(f"Error: arguments must be an object, got {arguments!r}", error=True)
    try:
        content = fn(data, **arguments)
    except Exception as exc:
        return ToolOutput(f"Error: {exc}", error=True)
    content = content if isinstance(content, str) else str(content)
    return ToolOutput(content, error=content.startswith("Error"))


def load_json_files(root: Path, domain: str, names: Sequence[str]) -> dict[str, Any]:
    """``{name: json of <root>/<domain>/<name>.json}``; a missing or corrupt file raises clearly."""
    data: dict[str, Any] = {}
    for name in names:
        path = root / domain / f"{name}.json"
        try:
            data[name] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"tau-trait {domain} data file missing: {path}") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"tau-trait {domain} data file is not valid JSON: {path}: {exc}"
            ) from exc
    return data


def load_tool_schemas(path: Path) -> list[dict[str, Any]]:
    """The OpenAI function schemas of ``tool_schemas.json``, checked for their shape."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"tau-trait tool schemas missing: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"tau-trait tool schemas are not valid JSON: {path}: {exc}") from exc
    if not isinstance(raw, list) or not all(
        isinstance(s, dict) and isinstance(s.get("function"), dict) and "name" in s["function"]
        for s in raw
    ):
        raise ValueError(f"{path}: expected a list of {{'type': 'function', 'function': ...}}")
    return raw


def schema_tools(schemas: list[dict[str, Any]]) -> list[BaseTool]:
    """Schema-only LangChain tools with the exact names, descriptions and parameters."""
    from langchain_core.tools import StructuredTool

    def not_callable(**_: Any) -> str:
        raise RuntimeError("tau-trait tools are executed by the environment, not LangChain")

    return [
        StructuredTool.from_function(
            func=not_callable,
            name=s["function"]["name"],
            description=s["function"].get("description", ""),
            args_schema=s["function"].get("parameters", {"type": "object", "properties": {}}),
        )
        for s in schemas
    ]


class TauTraitDomain:
    """A domain's tools, data-folder texts and initial data (loaded once, copied per use)."""

    def __init__(self, tools: DomainTools, root: Path) -> None:
        folder = root / tools.name
        if not folder.is_dir():
            raise FileNotFoundError(f"tau-trait domain folder not found: {folder}")
        self.tools = tools
        self.root = root
        try:
            self.policy = (folder / "wiki.md").read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"tau-trait policy missing: {folder / 'wiki.md'}") from exc
        self.schemas = load_tool_schemas(folder / "tool_schemas.json")
        names = [s["function"]["name"] for s in self.schemas]
        missing = sorted(set(names) - set(tools.tools))
        if missing:
            raise ValueError(f"tau-trait {tools.name}: no implementation for tools {missing}")
        self.offered = frozenset(names)
        self.gold_hashes: dict[str, str] = {}  # filled by the reward (gold replay hashes)
        self._initial = pickle.dumps(tools.load_data(root), protocol=pickle.HIGHEST_PROTOCOL)

    @property
    def name(self) -> str:
        """The domain name (``telecom``, ``telehealth``, ``retail``, ``airline``)."""
        return self.tools.name

    def fresh_data(self) -> dict[str, Any]:
        """A private deep copy of the initial data."""
        data: dict[str, Any] = pickle.loads(self._initial)
        return data

    def run_tool(self, data: dict[str, Any], name: str, arguments: Any) -> ToolOutput:
        """Run one call of an offered tool on ``data`` (other names are unknown actions)."""
        fn = self.tools.tools.get(name) if name in self.offered else None
        return run_tool(fn, data, name, arguments)

    def new_environment(self, task: object = None) -> TauTraitEnvironment:
        """A fresh episode environment (the task does not change the initial state)."""
        return TauTraitEnvironment(self, self.fresh_data())


class TauTraitEnvironment:
    """One episode's world: the domain tools acting on a private copy of the data."""

    def __init__(self, domain: TauTraitDomain, data: dict[str, Any]) -> None:
        self.domain = domain
        self.data = data

    @property
    def policy(self) -> str:
        """The domain's ``wiki.md`` (the tool-calling agent's whole system prompt)."""
        return self.domain.policy

    @cached_property
    def _tools(self) -> list[BaseTool]:
        return schema_tools(self.domain.schemas)

    def agent_tools(self) -> list[BaseTool]:
        """The tools of ``tool_schemas.json``, in its order."""
        return list(self._tools)

    def tool_kind(self, name: str) -> ToolKind | None:
        """The kind of an offered tool, or None."""
        if name not in self.domain.offered:
            return None
        return self.domain.tools.tool_kind(name)

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run an agent tool call (tau-trait has no user tools: those are unknown actions)."""
        if requestor != "assistant":
            return ToolOutput(f"Unknown action {name}", error=True)
        return self.domain.run_tool(self.data, name, arguments)


def calculate_v1(expression: Any) -> str:
    """tau-bench v1 ``calculate``: arithmetic on ``0-9 + - * / ( ) .`` and spaces, rounded to 2.

    Output and error texts are upstream's, for non-string arguments too (a dict or a list of
    digit strings: ``Error: eval() arg 1 must be a string, bytes or code object``; an int or
    a list of numbers raises like upstream's character test). The arithmetic is
    ``fama.envs.tau2.common``'s, bounded in size and time (see there).
    """
    if not all(char in ALLOWED_CHARS for char in expression):
        return "Error: invalid characters in expression"
    try:
        return calculate_expression(expression)
    except Exception as exc:
        return f"Error: {exc}"

"""A tool environment over plain LangChain tools: the user's own agent's tools."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from fama.core.env import ToolKind, ToolOutput
from fama.envs.tool_runner import run_tool

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool


class LangChainToolEnvironment:
    """A ``ToolEnvironment`` over plain LangChain tools (for the embeddable agent).

    Tools named in ``write_tools`` are write tools (checked by the decision verifier and
    weighed by the orchestrator's signals); the others count as read tools. Tools run
    through ``fama.envs.tool_runner.run_tool`` (async-only tools too); any exception becomes
    an error result.
    """

    def __init__(self, tools: Sequence[BaseTool], policy: str, write_tools: Iterable[str] = ()):
        self._tools = {t.name: t for t in tools}
        if len(self._tools) != len(tools):
            given = [t.name for t in tools]
            doubled = sorted({n for n in given if given.count(n) > 1})
            raise ValueError(f"tool names must be unique: {doubled}")
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
        return run_tool(tool, arguments)

"""A tool environment over plain LangChain tools: the user's own agent's tools."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from fama.core.env import ToolKind, ToolOutput

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool


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

"""The contract every tool environment fulfils, benchmark or user-supplied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

ToolKind = Literal["read", "write", "generic", "think"]


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What one tool call returned: the exact content string and whether it was an error."""

    content: str
    error: bool = False


class ToolEnvironment(Protocol):
    """A stateful world the agent acts on through tools (one instance per episode)."""

    @property
    def policy(self) -> str:
        """The domain policy text put into the agent's system prompt."""
        ...

    def agent_tools(self) -> list[BaseTool]:
        """LangChain tools (names, schemas, descriptions) offered to the agent."""
        ...

    def tool_kind(self, name: str) -> ToolKind | None:
        """The kind of a tool, or None when no such tool exists."""
        ...

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one tool call; never raises for bad calls (errors come back as ToolOutput)."""
        ...

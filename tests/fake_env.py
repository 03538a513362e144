"""A tiny in-repo ToolEnvironment for unit tests (a price list), plus context builders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool, StructuredTool

from fama.core.context import EpisodeContext
from fama.core.env import ToolKind, ToolOutput
from fama.core.retry import RetryPolicy
from fama.envs.user_simulator import ScriptedLine, ScriptedUser
from tests.fakes import Reply, ScriptedChatModel

POLICY = "Only change a price when the user confirms. Never sell below 1 dollar."


class FakeShopEnv:
    """Items with prices; ``get_price`` reads, ``set_price`` writes, ``transfer`` is generic.

    Errors are deterministic: an unknown item gives ``Error: Item not found: <id>``, a bad
    price ``Error: Price must be at least 1``, bad arguments Python's TypeError text.
    """

    def __init__(self, prices: dict[str, float] | None = None) -> None:
        self.prices: dict[str, float] = dict(prices or {"apple": 2.0, "pear": 3.0})
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self._tools: dict[str, tuple[ToolKind, Callable[..., str]]] = {
            "get_price": ("read", self.get_price),
            "set_price": ("write", self.set_price),
            "transfer_to_human_agents": ("generic", self.transfer_to_human_agents),
        }

    @property
    def policy(self) -> str:
        """The shop's policy text."""
        return POLICY

    def get_price(self, item_id: str) -> str:
        """Get the price of an item.

        Args:
            item_id: The item's id, such as 'apple'.
        """
        if item_id not in self.prices:
            raise KeyError(f"Item not found: {item_id}")
        return str(self.prices[item_id])

    def set_price(self, item_id: str, price: float) -> str:
        """Set the price of an item.

        Args:
            item_id: The item's id.
            price: The new price in dollars.
        """
        if item_id not in self.prices:
            raise KeyError(f"Item not found: {item_id}")
        if price < 1:
            raise ValueError("Price must be at least 1")
        self.prices[item_id] = price
        return f"Price of {item_id} set to {price}"

    def transfer_to_human_agents(self, summary: str) -> str:
        """Transfer the user to a human agent.

        Args:
            summary: A summary of the user's issue.
        """
        return "Transfer successful"

    def agent_tools(self) -> list[BaseTool]:
        """Schema-only LangChain tools (parsed from the methods' signatures and docstrings)."""
        return [
            StructuredTool.from_function(func=fn, name=name, parse_docstring=True)
            for name, (_, fn) in self._tools.items()
        ]

    def tool_kind(self, name: str) -> ToolKind | None:
        """The kind of a tool, or None."""
        entry = self._tools.get(name)
        return entry[0] if entry else None

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one call; errors come back as ``Error: ...`` outputs."""
        self.calls.append((name, arguments, requestor))
        entry = self._tools.get(name)
        if entry is None:
            return ToolOutput(f"Error: Tool '{name}' not found.", error=True)
        try:
            return ToolOutput(entry[1](**arguments))
        except KeyError as exc:
            return ToolOutput(f"Error: {exc.args[0]}", error=True)
        except Exception as exc:
            return ToolOutput(f"Error: {exc}", error=True)


def tool_call(name: str, args: Any, call_id: str = "c1", text: str = "") -> AIMessage:
    """An agent message calling one tool."""
    return AIMessage(
        content=text, tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )


def make_context(
    replies: Sequence[Reply],
    user_lines: Sequence[ScriptedLine] = (),
    *,
    env: FakeShopEnv | None = None,
    **settings: Any,
) -> EpisodeContext:
    """An episode context over a fresh FakeShopEnv, a scripted agent model and user."""
    return EpisodeContext(
        env=env or FakeShopEnv(),
        agent_model=ScriptedChatModel(replies),
        user=ScriptedUser(user_lines),
        system_prompt=settings.pop("system_prompt", f"SYSTEM\n{POLICY}"),
        retry=settings.pop("retry", RetryPolicy(attempts=3, initial_backoff_s=0.0)),
        **settings,
    )

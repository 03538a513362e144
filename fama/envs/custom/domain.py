"""A user-supplied domain: tools over a per-episode state, a policy and tasks.

A factory such as ``my_pkg.support:make_env`` returns a ``CustomDomain``; ``fama run --env
python:my_pkg.support:make_env`` then runs it like a benchmark. Each episode gets a fresh
state from ``new_state()`` and the tools ``tools(state)`` builds over it (LangChain tools or
plain functions, sync or async); a domain without state gives a plain list of tools.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from fama.core.env import ToolKind, ToolOutput
from fama.envs.custom.tasks import CustomTask
from fama.envs.tool_runner import as_tool, run_tool

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

ToolLike = Any  # a LangChain BaseTool or a plain (async) function with a docstring
ToolSource = Sequence[ToolLike] | Callable[[Any], Sequence[ToolLike]]


class DomainError(ValueError):
    """A domain definition that cannot be used."""


def plain_state(state: Any) -> Any:
    """The state as JSON data (pydantic models and dataclasses are dumped)."""
    if isinstance(state, BaseModel):
        return state.model_dump(mode="json")
    if is_dataclass(state) and not isinstance(state, type):
        return json.loads(json.dumps(asdict(state), default=str))
    return json.loads(json.dumps(state, default=str))


def state_digest(state: Any) -> str:
    """SHA-256 of the state's canonical JSON form (the default state hash)."""
    text = json.dumps(plain_state(state), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CustomDomain:
    """Everything FAMA needs to run a user's domain.

    ``tools``: a list of tools, or ``tools(state)`` building them over an episode's state
    (needs ``new_state``). ``write_tools`` change the state (the decision verifier checks
    them); ``terminal_tools`` end the episode once called (e.g. a transfer to a human); the
    others read. ``state_hash(state)`` defaults to ``state_digest``.
    """

    name: str
    policy: str
    tools: ToolSource
    tasks: Sequence[CustomTask]
    write_tools: Collection[str] = ()
    terminal_tools: Collection[str] = ()
    new_state: Callable[[], Any] | None = None
    state_hash: Callable[[Any], str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise DomainError("a domain needs a non-empty name")
        if not isinstance(self.policy, str):
            raise DomainError(f"policy must be text, got {type(self.policy).__name__}")
        factory = callable(self.tools) and not isinstance(self.tools, Sequence)
        if factory and self.new_state is None:
            raise DomainError("tools is a function of the state: give new_state as well")
        if not factory and not isinstance(self.tools, Sequence):
            raise DomainError("tools must be a list of tools or a function of the state")
        if any(not isinstance(t, CustomTask) for t in self.tasks):
            raise DomainError("tasks must be CustomTask objects (see fama.envs.custom.load_tasks)")

    def new_environment(self) -> CustomEnvironment:
        """A fresh environment (new state, tools bound to it) for one episode."""
        state = None if self.new_state is None else self.new_state()
        source = self.tools
        raw = source(state) if callable(source) and not isinstance(source, Sequence) else source
        return CustomEnvironment(self, state, [as_tool(t) for t in raw])

    def digest(self, state: Any) -> str:
        """The hash of a state (the domain's ``state_hash`` or ``state_digest``)."""
        return (self.state_hash or state_digest)(state)


class CustomEnvironment:
    """The ``ToolEnvironment`` of one episode of a ``CustomDomain`` (its live state too)."""

    def __init__(self, domain: CustomDomain, state: Any, tools: Sequence[BaseTool]) -> None:
        self.domain = domain
        self.state = state
        self._tools = {t.name: t for t in tools}
        if len(self._tools) != len(tools):
            given = [t.name for t in tools]
            doubled = sorted({n for n in given if given.count(n) > 1})
            raise DomainError(f"domain {domain.name!r}: tool names are not unique: {doubled}")
        for label, names in (
            ("write_tools", domain.write_tools),
            ("terminal_tools", domain.terminal_tools),
        ):
            unknown = sorted(set(names) - self._tools.keys())
            if unknown:
                raise DomainError(f"domain {domain.name!r}: {label} names unknown tools {unknown}")

    @property
    def policy(self) -> str:
        """The domain policy."""
        return self.domain.policy

    def agent_tools(self) -> list[BaseTool]:
        """The tools, in the order the domain gave them."""
        return list(self._tools.values())

    def tool_kind(self, name: str) -> ToolKind | None:
        """``write``, ``generic`` (terminal tools) or ``read``; None for unknown tools."""
        if name not in self._tools:
            return None
        if name in self.domain.write_tools:
            return "write"
        return "generic" if name in self.domain.terminal_tools else "read"

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one call; an unknown tool or a failing tool gives an ``Error: ...`` output."""
        tool = self._tools.get(name)
        if tool is None:
            return ToolOutput(f"Error: Tool '{name}' not found.", error=True)
        return run_tool(tool, arguments)

    def digest(self) -> str:
        """The hash of the current state."""
        return self.domain.digest(self.state)

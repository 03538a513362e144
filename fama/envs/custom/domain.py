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

from fama.core.env import ToolKind
from fama.envs.custom.tasks import CustomTask
from fama.envs.langchain_tools import LangChainToolEnvironment
from fama.envs.tool_runner import as_tool

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


class CustomEnvironment(LangChainToolEnvironment):
    """The ``ToolEnvironment`` of one episode of a ``CustomDomain`` (its live state too)."""

    def __init__(self, domain: CustomDomain, state: Any, tools: Sequence[BaseTool]) -> None:
        try:
            super().__init__(tools, domain.policy, domain.write_tools)
        except ValueError as exc:
            raise DomainError(f"domain {domain.name!r}: {exc}") from None
        unknown = sorted(set(domain.terminal_tools) - {t.name for t in tools})
        if unknown:
            raise DomainError(
                f"domain {domain.name!r}: terminal_tools names unknown tools {unknown}"
            )
        self.domain = domain
        self.state = state

    def tool_kind(self, name: str) -> ToolKind | None:
        """``write``, ``generic`` (terminal tools) or ``read``; None for unknown tools."""
        kind = super().tool_kind(name)
        return "generic" if kind == "read" and name in self.domain.terminal_tools else kind

    def digest(self) -> str:
        """The hash of the current state."""
        return self.domain.digest(self.state)

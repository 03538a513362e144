"""tau2 domains and per-episode environments (the ``ToolEnvironment`` of the tau2 benchmark).

``load_domain`` parses a domain's DB once per process and data folder; every episode then gets
a ``Tau2Environment`` over a cheap copy-on-write view of it. Retail and airline are
single-control (only the agent has tools); telecom (``fama.envs.tau2.telecom``) subclasses
the domain and the environment for dual control: a user toolkit over the user's phone DB and
a sync of the two sides after every tool call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Any

from fama.core.env import ToolKind, ToolOutput
from fama.envs.tau2.data import domain_file, load_policy, resolve_data_dir
from fama.envs.tau2.db import BaseDocument, DocumentDB, clone
from fama.envs.tau2.tasks import (
    InitializationAction,
    InitializationData,
    InitialState,
    Task,
)
from fama.envs.tau2.toolkit import Toolkit

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

DocumentLoader = Callable[[Path], BaseDocument]


@dataclass(frozen=True)
class _DomainModule:
    """A single-control domain: a DB loader and a toolkit class in one module."""

    module: str
    loader: str
    toolkit: str
    db_file: str = "db.json"


@dataclass(frozen=True)
class _DomainBuilder:
    """A domain built by a module function ``(name, data_dir) -> Tau2Domain``."""

    module: str
    builder: str


_DOMAINS: dict[str, _DomainModule | _DomainBuilder] = {
    "retail": _DomainModule("fama.envs.tau2.retail", "load_retail_document", "RetailTools"),
    "airline": _DomainModule("fama.envs.tau2.airline", "load_airline_document", "AirlineTools"),
    "telecom": _DomainBuilder("fama.envs.tau2.telecom.domain", "build_telecom_domain"),
}

DOMAIN_NAMES = tuple(_DOMAINS)


@dataclass(eq=False)
class Tau2Domain:
    """A loaded domain: its policy, toolkit class and the shared initial DB."""

    name: str
    policy: str
    toolkit_class: type[Toolkit]
    base: BaseDocument
    data_dir: Path
    _tools: list[BaseTool] | None = field(default=None, init=False, repr=False)

    @cached_property
    def tool_kinds(self) -> dict[str, ToolKind]:
        """Agent tool name -> kind."""
        return self.toolkit_class.tool_kinds()

    def agent_tools(self) -> list[BaseTool]:
        """Schema-only LangChain tools of the agent (built once per domain)."""
        if self._tools is None:
            self._tools = self.toolkit_class.langchain_tools()
        return list(self._tools)

    def openai_schemas(self) -> list[dict[str, Any]]:
        """The official OpenAI function schemas of the agent tools."""
        return self.toolkit_class.openai_schemas()

    @property
    def has_user_tools(self) -> bool:
        """Whether the simulated user has tools of its own (dual control)."""
        return bool(self.user_tool_kinds)

    @property
    def user_tool_kinds(self) -> dict[str, ToolKind]:
        """User tool name -> kind (none in single-control domains)."""
        return {}

    def user_tools(self) -> list[BaseTool]:
        """Schema-only LangChain tools of the simulated user (none here)."""
        return []

    def blank_environment(self) -> Tau2Environment:
        """A fresh episode environment before any initial state."""
        return Tau2Environment(self)

    def new_environment(self, task: Task | None = None) -> Tau2Environment:
        """A fresh episode environment, with the task's initial state applied."""
        env = self.blank_environment()
        if task is not None and task.initial_state is not None:
            env.apply_initial_state(task.initial_state)
        return env


class Tau2Environment:
    """One episode's tau2 world: DB view, toolkit and dispatch by requestor."""

    def __init__(self, domain: Tau2Domain) -> None:
        self.domain = domain
        self.db: DocumentDB = domain.base.new_view()
        self.toolkit: Toolkit = domain.toolkit_class(self.db)

    @property
    def policy(self) -> str:
        """The domain policy text."""
        return self.domain.policy

    def agent_tools(self) -> list[BaseTool]:
        """LangChain tools offered to the agent."""
        return self.domain.agent_tools()

    @property
    def user_toolkit(self) -> Toolkit | None:
        """The user's toolkit (None in single-control domains)."""
        return None

    def user_tools(self) -> list[BaseTool]:
        """Schema-only LangChain tools of the simulated user (none in retail and airline)."""
        return self.domain.user_tools()

    def tool_kind(self, name: str) -> ToolKind | None:
        """The kind of an agent tool, or None when no such tool exists."""
        return self.domain.tool_kinds.get(name)

    def user_tool_kind(self, name: str) -> ToolKind | None:
        """The kind of a user tool, or None when no such tool exists."""
        return self.domain.user_tool_kinds.get(name)

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one live tool call for the agent ("assistant") or the user; never raises.

        After a successful call the two sides are synced (as upstream's ``get_response``); a
        failing sync turns the output into an error.
        """
        output = self.dispatch(name, arguments, requestor)
        if output.error:
            return output
        try:
            self.sync()
        except Exception as exc:  # upstream reports a failing sync as the call's error
            return ToolOutput(f"Error: {exc}", error=True)
        return output

    def dispatch(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one tool call without syncing (upstream's ``make_tool_call``); never raises."""
        if requestor == "assistant":
            return self.toolkit.execute(name, arguments)
        user_toolkit = self.user_toolkit
        if requestor == "user" and user_toolkit is not None:
            return user_toolkit.execute(name, arguments)
        return ToolOutput(f"Error: Tool '{name}' not found.", error=True)

    def sync(self) -> None:
        """Copy agent-side facts to the user side (nothing to do in single-control domains)."""

    def db_hash(self) -> str:
        """The official hash of the current (agent) DB."""
        return self.db.hash()

    def user_db_hash(self) -> str | None:
        """The official hash of the user DB (None in single-control domains)."""
        return None

    def apply_initial_state(self, state: InitialState) -> None:
        """Apply initialization data, then run the initialization actions, syncing after each.

        A final sync follows, as upstream's ``set_state`` does.
        """
        if state.initialization_data is not None:
            self.apply_initialization_data(state.initialization_data)
        for action in state.initialization_actions or []:
            self.run_initialization_action(action)
        self.sync()

    def apply_initialization_data(self, data: InitializationData) -> None:
        """Deep-merge ``agent_data`` into the DB (there is no user DB here)."""
        if data.user_data:
            raise ValueError(f"tau2 {self.domain.name} has no user DB to initialise")
        if data.agent_data:
            merge_into_db(self.db, data.agent_data)

    def run_initialization_action(self, action: InitializationAction) -> None:
        """Call a setup function of the agent or user toolkit, then sync.

        Raises ValueError naming the function when it does not exist or fails.
        """
        func_name = action.func_name
        toolkit = self.toolkit if action.env_type == "assistant" else self.user_toolkit
        if toolkit is None:
            raise ValueError(f"tau2 {self.domain.name} has no user-side toolkit")
        method = getattr(toolkit, func_name, None)
        if func_name.startswith("_") or not callable(method):
            raise ValueError(
                f"initialization action {func_name!r} is not a method of {type(toolkit).__name__}"
            )
        try:
            method(**clone(action.arguments))
        except Exception as exc:
            raise ValueError(f"initialization action {func_name!r} failed: {exc}") from exc
        self.sync()


def merge_into_db(db: DocumentDB, data: dict[str, Any]) -> None:
    """Deep-merge ``{table: {key: partial record}}`` into a DB view (new keys are inserted)."""
    for table, records in data.items():
        if table not in db.table_names or not isinstance(records, dict):
            raise ValueError(f"initialization data: {table!r} is not a table of records")
        for key, value in records.items():
            current = db.get_mut(table, key)
            if isinstance(current, dict) and isinstance(value, dict):
                deep_merge(current, value)
            else:
                db.insert(table, key, clone(value))


def deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Merge ``patch`` into ``target`` in place: dicts recursively, other values replaced."""
    for key, value in patch.items():
        if isinstance(target.get(key), dict) and isinstance(value, dict):
            deep_merge(target[key], value)
        else:
            target[key] = clone(value)


_cache: dict[tuple[str, Path], Tau2Domain] = {}
_cache_lock = Lock()


def load_domain(name: str, data_dir: Path | str | None = None) -> Tau2Domain:
    """A tau2 domain, loaded once per process and data folder."""
    if name not in _DOMAINS:
        known = ", ".join(DOMAIN_NAMES)
        raise ValueError(f"unknown tau2 domain {name!r} (available: {known})")
    root = resolve_data_dir(data_dir).resolve()
    with _cache_lock:
        domain = _cache.get((name, root))
        if domain is None:
            domain = _load(name, root)
            _cache[(name, root)] = domain
    return domain


def _load(name: str, root: Path) -> Tau2Domain:
    spec = _DOMAINS[name]
    module = importlib.import_module(spec.module)
    if isinstance(spec, _DomainBuilder):
        builder: Callable[[str, Path], Tau2Domain] = getattr(module, spec.builder)
        return builder(name, root)
    loader: DocumentLoader = getattr(module, spec.loader)
    toolkit_class: type[Toolkit] = getattr(module, spec.toolkit)
    base = loader(domain_file(root, name, spec.db_file))
    return Tau2Domain(
        name=name,
        policy=load_policy(root, name),
        toolkit_class=toolkit_class,
        base=base,
        data_dir=root,
    )

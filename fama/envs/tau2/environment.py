"""tau2 domains and per-episode environments (the ``ToolEnvironment`` of the tau2 benchmark).

``load_domain`` parses a domain's DB once per process and data folder; every episode then gets
a ``Tau2Environment`` over a cheap copy-on-write view of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Any

from fama.envs.base import ToolKind, ToolOutput
from fama.envs.tau2.data import domain_file, load_policy, resolve_data_dir
from fama.envs.tau2.db import BaseDocument, DocumentDB, clone
from fama.envs.tau2.tasks import InitialState, Task
from fama.envs.tau2.toolkit import Toolkit

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

DocumentLoader = Callable[[Path], BaseDocument]


@dataclass(frozen=True)
class _DomainModule:
    module: str
    loader: str
    toolkit: str
    db_file: str = "db.json"


_DOMAINS: dict[str, _DomainModule] = {
    "retail": _DomainModule("fama.envs.tau2.retail", "load_retail_document", "RetailTools"),
    "airline": _DomainModule("fama.envs.tau2.airline", "load_airline_document", "AirlineTools"),
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

    def new_environment(self, task: Task | None = None) -> Tau2Environment:
        """A fresh episode environment, with the task's initial state applied."""
        env = Tau2Environment(self)
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

    def user_tools(self) -> list[BaseTool]:
        """Tools of the simulated user (none in retail and airline)."""
        return []

    def tool_kind(self, name: str) -> ToolKind | None:
        """The kind of an agent tool, or None when no such tool exists."""
        return self.domain.tool_kinds.get(name)

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one tool call for the agent ("assistant") or the user; never raises."""
        if requestor != "assistant":
            return ToolOutput(f"Error: Tool '{name}' not found.", error=True)
        return self.toolkit.execute(name, arguments)

    def db_hash(self) -> str:
        """The official hash of the current DB."""
        return self.db.hash()

    def apply_initial_state(self, state: InitialState) -> None:
        """Deep-merge initialization data into the DB, then run the initialization actions."""
        data = state.initialization_data
        if data is not None and data.user_data:
            raise ValueError(f"tau2 {self.domain.name} has no user DB to initialise")
        if data is not None and data.agent_data:
            merge_into_db(self.db, data.agent_data)
        for action in state.initialization_actions or []:
            if action.env_type != "assistant":
                raise ValueError(f"tau2 {self.domain.name} has no user-side toolkit")
            method = getattr(self.toolkit, action.func_name, None)
            if action.func_name.startswith("_") or not callable(method):
                raise ValueError(
                    f"initialization action {action.func_name!r} is not a method of "
                    f"{type(self.toolkit).__name__}"
                )
            try:
                method(**action.arguments)
            except Exception as exc:
                raise ValueError(
                    f"initialization action {action.func_name!r} failed: {exc}"
                ) from exc


def merge_into_db(db: DocumentDB, data: dict[str, Any]) -> None:
    """Deep-merge ``{table: {key: partial record}}`` into a DB view (new keys are inserted)."""
    for table, records in data.items():
        if table not in db.table_names or not isinstance(records, dict):
            raise ValueError(f"initialization data: {table!r} is not a table of records")
        for key, value in records.items():
            current = db.get_mut(table, key)
            if isinstance(current, dict) and isinstance(value, dict):
                _deep_merge(current, value)
            else:
                db.insert(table, key, clone(value))


def _deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(target.get(key), dict) and isinstance(value, dict):
            _deep_merge(target[key], value)
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

"""The tau2 telecom domain: dual control over the agent's DB and the user's phone.

Behaviour follows sierra-research/tau2-bench (MIT), ``domains/telecom/environment.py``:

* the policy is ``<main_policy>`` (``main_policy.md``) then ``<tech_support_policy>``
  (``tech_support_manual.md``), each tag on its own line;
* the agent has 13 tools over ``db.toml``, the user 30 phone tools over ``user_db.toml``;
* after every live tool call, every setup action and every env assertion, ``sync`` copies
  agent-side facts into the user's surroundings: whether the user's line is active, whether
  roaming is allowed, whether the data limit is exceeded, and payment requests (a request the
  user paid marks the bill paid; a bill awaiting payment becomes a request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fama.core.env import ToolKind
from fama.envs.tau2.data import domain_file, read_text
from fama.envs.tau2.db import BaseDocument, clone
from fama.envs.tau2.environment import Tau2Domain, Tau2Environment, deep_merge
from fama.envs.tau2.tasks import InitializationData
from fama.envs.tau2.telecom.agent_tools import (
    ACTIVE,
    TABLE_KEYS,
    TelecomTools,
    official_hash,
)
from fama.envs.tau2.telecom.models import read_toml, validate_agent_db, validate_user_db
from fama.envs.tau2.telecom.user_tools import TelecomUserTools

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

AGENT_DB_FILE = "db.toml"
USER_DB_FILE = "user_db.toml"
MAIN_POLICY_FILE = "main_policy.md"
TECH_SUPPORT_FILE = "tech_support_manual.md"


def compose_policy(main_policy: str, tech_support_policy: str) -> str:
    """The agent policy: both texts wrapped in their tags, exactly as upstream."""
    return (
        f"<main_policy>\n{main_policy}\n</main_policy>\n"
        f"<tech_support_policy>\n{tech_support_policy}\n</tech_support_policy>"
    )


def agent_document(data: dict[str, Any], source: str) -> BaseDocument:
    """Validate agent DB data and key each table by its id (file order kept)."""
    normalised = validate_agent_db(data, source)
    tables: dict[str, dict[str, Any]] = {}
    for table, key in TABLE_KEYS.items():
        records: dict[str, Any] = {}
        for record in normalised[table]:
            if record[key] in records:
                raise ValueError(f"{source}: duplicate {key} {record[key]!r} in {table}")
            records[record[key]] = record
        tables[table] = records
    return BaseDocument(tables)


def user_document(data: dict[str, Any], source: str) -> BaseDocument:
    """Validate user DB data; its tables are ``device`` and ``surroundings`` (field -> value)."""
    return BaseDocument(validate_user_db(data, source))


@dataclass(eq=False)
class TelecomDomain(Tau2Domain):
    """The telecom domain: agent side as in ``Tau2Domain`` plus the user's toolkit and DB."""

    user_base: BaseDocument = field(kw_only=True)
    _user_tools: list[BaseTool] | None = field(default=None, init=False, repr=False)

    @property
    def user_tool_kinds(self) -> dict[str, ToolKind]:
        """User tool name -> kind (the 30 phone tools)."""
        return TelecomUserTools.tool_kinds()

    def user_tools(self) -> list[BaseTool]:
        """Schema-only LangChain tools of the simulated user (built once per domain)."""
        if self._user_tools is None:
            self._user_tools = TelecomUserTools.langchain_tools()
        return list(self._user_tools)

    def user_openai_schemas(self) -> list[dict[str, Any]]:
        """The official OpenAI function schemas of the user tools."""
        return TelecomUserTools.openai_schemas()

    def blank_environment(self) -> TelecomEnvironment:
        """A fresh telecom episode environment before any initial state."""
        return TelecomEnvironment(self)


class TelecomEnvironment(Tau2Environment):
    """One telecom episode: the agent's DB and tools, the user's phone, and their sync."""

    def __init__(self, domain: TelecomDomain) -> None:
        super().__init__(domain)
        self.user_db = domain.user_base.new_view()
        self._user_toolkit = TelecomUserTools(self.user_db)

    @property
    def agent_toolkit(self) -> TelecomTools:
        """The agent's toolkit (typed)."""
        return cast(TelecomTools, self.toolkit)

    @property
    def user_toolkit(self) -> TelecomUserTools:
        """The user's phone toolkit."""
        return self._user_toolkit

    def sync(self) -> None:
        """Copy agent-side facts into the user's surroundings (see the module doc)."""
        sync_surroundings(self.agent_toolkit, self._user_toolkit)

    def db_hash(self) -> str:
        """The official hash of the agent DB (its tables as lists, as upstream)."""
        return official_hash(self.db)

    def user_db_hash(self) -> str:
        """The official hash of the user DB."""
        return self.user_db.hash()

    def apply_initialization_data(self, data: InitializationData) -> None:
        """Deep-merge ``agent_data``/``user_data`` into the DBs and re-validate them.

        As upstream, dicts merge recursively and lists (e.g. a whole table) are replaced.
        """
        if data.agent_data:
            tables = {name: [r for _, r in self.db.items(name)] for name in self.db.table_names}
            merged = clone(tables)
            deep_merge(merged, data.agent_data)
            self.db = agent_document(merged, "telecom initialization agent_data").new_view()
            self.toolkit = TelecomTools(self.db)
        if data.user_data:
            merged = clone(self.user_db.to_dict())
            deep_merge(merged, data.user_data)
            self.user_db = user_document(merged, "telecom initialization user_data").new_view()
            self._user_toolkit = TelecomUserTools(self.user_db)


def sync_surroundings(agent: TelecomTools, user: TelecomUserTools) -> None:
    """Upstream's ``sync_tools``: line state, roaming, data limit and payment requests."""
    phone_number = user.surrounding("phone_number")
    if phone_number is None:
        return
    line = agent.line_by_phone(phone_number)
    plan = agent.plan(line["plan_id"])
    facts = {
        "line_active": line["status"] == ACTIVE,
        "roaming_allowed": bool(line["roaming_enabled"]),
        "mobile_data_usage_exceeded": bool(
            line["data_used_gb"] >= plan["data_limit_gb"] + line["data_refueling_gb"]
        ),
    }
    for name, value in facts.items():
        if user.surrounding(name) != value:
            user.set_surrounding(name, value)
    request = user.surrounding("payment_request")
    if request is not None and request["paid"]:
        agent.set_bill_paid(request["bill_id"])
        user.set_surrounding("payment_request", None)
        request = None
    if request is None:
        bills = agent.bills_awaiting_payment(agent.get_customer_by_phone(phone_number))
        if bills:
            user.set_surrounding(
                "payment_request",
                {
                    "bill_id": bills[0]["bill_id"],
                    "amount_due": float(bills[0]["total_due"]),
                    "paid": False,
                },
            )


def build_telecom_domain(name: str, root: Path) -> TelecomDomain:
    """Load the telecom domain from ``<root>/domains/telecom`` (both DBs and the policy)."""
    agent_path = domain_file(root, name, AGENT_DB_FILE)
    user_path = domain_file(root, name, USER_DB_FILE)
    policy = compose_policy(
        read_text(domain_file(root, name, MAIN_POLICY_FILE)),
        read_text(domain_file(root, name, TECH_SUPPORT_FILE)),
    )
    return TelecomDomain(
        name=name,
        policy=policy,
        toolkit_class=TelecomTools,
        base=agent_document(read_toml(agent_path), str(agent_path)),
        data_dir=root,
        user_base=user_document(read_toml(user_path), str(user_path)),
    )

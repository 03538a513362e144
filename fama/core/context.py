"""Run settings of one episode (LangGraph ``context_schema``) and the loop's extra state keys.

Besides the tau2 limits (``max_steps``, ``max_errors``) a context carries the end conditions
other benchmarks need; their defaults keep tau2's behaviour:

* ``user_stop_tokens``: a user text message containing one ends the episode (``user_stop``);
* ``agent_stop_phrases``: an agent text message containing one ends it (``agent_stop``; the
  message stays in the trajectory and the user is not asked);
* ``terminal_tools``: after a tool batch calling one of them the episode ends (``agent_stop``);
* ``max_agent_turns``: after the agent's n-th message (the messages it was given at the
  start not counted) has been handled (its tools run or the user answered it) the episode
  ends as ``max_steps`` unless it ended otherwise, like tau-bench v1's step loop;
* ``max_repeated_calls``: when the agent has sent the same failing tool calls this many times
  in a row (``fama.core.repeats``), or given this many unusable replies of one kind (empty,
  unparseable or truncated) in a row to an unchanged conversation, the episode ends as
  ``repeated_call`` (None: never).

The tau2 limits are checked first, then ``max_repeated_calls``, then the stop conditions, then
``max_agent_turns``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, TypedDict, get_args

from fama.core.output_limits import OutputLimits
from fama.core.retry import RetryPolicy
from fama.core.state import EpisodeState, Termination
from fama.core.users import STOP_TOKENS
from fama.prompts import PromptSet

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

    from fama.core.env import ToolEnvironment
    from fama.core.users import UserSimulator

ToolCallMode = Literal["native", "tolerant", "constrained"]
IssueKind = Literal[
    "empty_reply", "unparseable", "truncated", "repaired", "rejected", "repeated_call"
]


class AgentIssue(TypedDict):
    """Something wrong (or fixed) in one agent decision, kept out of the trajectory.

    ``empty_reply`` / ``unparseable`` / ``truncated`` (cut at the output limit): the reply was
    unusable; it counted as one step and one error and the agent was asked again.
    ``repaired`` / ``rejected``: the tool-call repair of the tolerant/constrained modes changed
    the reply or dropped candidate calls. ``repeated_call``: the tools node saw the agent send
    the same failing calls again, or the agent gave ``max_repeated_calls`` unusable replies of
    one kind in a row to an unchanged conversation (the episode then ends).
    """

    node: str
    kind: IssueKind
    detail: str
    message_index: int  # len(messages) when it happened: the decision it belongs to


class EpisodeLoopState(EpisodeState):
    """``EpisodeState`` plus the keys the episode loop and the tool-use nodes add."""

    agent_issues: NotRequired[Annotated[list[AgentIssue], operator.add]]
    episode_start: NotRequired[int]  # messages the episode started with (not steps)


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
    user_stop_tokens: tuple[str, ...] = STOP_TOKENS
    agent_stop_phrases: tuple[str, ...] = ()
    terminal_tools: frozenset[str] = frozenset()
    max_agent_turns: int | None = None
    max_repeated_calls: int | None = 5
    prompts: PromptSet = field(default_factory=PromptSet.defaults)
    output_limits: OutputLimits = field(default_factory=OutputLimits)
    tool_choice: Literal["auto", "required"] = "auto"  # "required": tau2 solo mode

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
        _check_optional_count("max_agent_turns", self.max_agent_turns, 1)
        _check_optional_count("max_repeated_calls", self.max_repeated_calls, 2)
        object.__setattr__(
            self, "user_stop_tokens", _phrases("user_stop_tokens", self.user_stop_tokens)
        )
        object.__setattr__(
            self, "agent_stop_phrases", _phrases("agent_stop_phrases", self.agent_stop_phrases)
        )
        object.__setattr__(
            self,
            "terminal_tools",
            frozenset(_phrases("terminal_tools", self.terminal_tools)),
        )

    def is_user_stop(self, text: str) -> bool:
        """True when a user text message ends the episode (contains a stop token)."""
        return any(token in text for token in self.user_stop_tokens)

    def is_agent_stop(self, text: str) -> bool:
        """True when an agent text message ends the episode (contains a stop phrase)."""
        return any(phrase in text for phrase in self.agent_stop_phrases)

    def agent_turns_exhausted(self, turns: int) -> bool:
        """True when the agent has used all its turns (``max_agent_turns``)."""
        return self.max_agent_turns is not None and turns >= self.max_agent_turns

    def repeats_exhausted(self, repeats: int) -> bool:
        """True when the same failing calls were sent ``max_repeated_calls`` times in a row."""
        return self.max_repeated_calls is not None and repeats >= self.max_repeated_calls

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
        """The agent model with the tools bound with ``tool_choice`` (bound once)."""
        return self.agent_model.bind_tools(self.agent_tools, tool_choice=self.tool_choice)


def _check_optional_count(name: str, value: Any, minimum: int) -> None:
    """A ``ValueError`` naming the setting unless ``value`` is None or an int >= ``minimum``."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < minimum
    ):
        raise ValueError(f"{name} must be None or >= {minimum}, got {value!r}")


def _phrases(name: str, value: Any) -> tuple[str, ...]:
    """``value`` as a tuple of non-empty strings, or a ``ValueError`` naming the setting."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a collection of strings, got {value!r}")
    items = tuple(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"{name} must hold non-empty strings, got {items!r}")
    return items

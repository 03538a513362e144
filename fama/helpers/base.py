"""What every FAMA helper shares: its registry entry, what it may read, and its output."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from fama.core.fama_state import Diagnosis
from fama.core.output_limits import OutputLimits
from fama.core.state import Guidance, LLMCall
from fama.helpers.text import clip
from fama.prompts import PromptSet

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AnyMessage
    from langchain_core.tools import BaseTool

    from fama.core.env import ToolKind
    from fama.core.retry import RetryPolicy


@dataclass(frozen=True)
class HelperSpec:
    """One helper of the pool: what it does, which failure categories it addresses, its cost.

    ``typical_tokens`` is the guidance size the helper usually needs; the guidance budget of
    a decision is shared among the active helpers in proportion to it.
    """

    name: str
    description: str
    addresses: frozenset[str]
    uses_llm: bool
    default_params: dict[str, Any] = field(default_factory=dict)
    typical_tokens: int = 100
    prompts: tuple[str, ...] = ()  # prompt templates it uses (for the run's prompt refs)


class HelperInput(TypedDict):
    """What a helper node receives (through ``Send``) for one decision."""

    messages: list[AnyMessage]
    diagnosis: Diagnosis  # the episode's FAMA record (the planner's cache lives here)
    max_chars: int  # this helper's share of the decision's guidance budget
    params: dict[str, Any]  # the helper's parameters (defaults overridden by the config)


class HelperUpdate(TypedDict):
    """What a helper returns: its guidance (empty when it has nothing useful to say)."""

    guidance: list[Guidance]
    llm_calls: NotRequired[list[LLMCall]]
    diagnosis: NotRequired[Diagnosis]


@dataclass(frozen=True)
class HelperEnv:
    """The run's resources a helper may use: policy, tools, the helper model, its params,
    and the output limits its model calls must keep."""

    policy: str
    tools: Sequence[BaseTool]
    tool_kind: Callable[[str], ToolKind | None]
    model: BaseChatModel | None
    retries: RetryPolicy
    params: Mapping[str, Any] = field(default_factory=dict)
    prompts: PromptSet = field(default_factory=PromptSet.defaults)
    output_limits: OutputLimits = field(default_factory=OutputLimits)

    def max_output_tokens(self, helper: str) -> int:
        """The output limit of ``helper``'s model calls."""
        return self.output_limits.for_node(llm_node(helper))

    def tool_names(self, kind: ToolKind) -> list[str]:
        """Names of the tools of one kind, in the environment's order."""
        return [t.name for t in self.tools if self.tool_kind(t.name) == kind]


HelperFn = Callable[[HelperInput, HelperEnv], Awaitable[HelperUpdate]]


def guidance(helper: str, text: str, max_chars: int | None = None) -> HelperUpdate:
    """A helper update with one guidance item, or none when ``text`` is blank.

    Lines after the first are indented by two spaces, so that the item nests under its
    ``- [helper]`` bullet in the tool-use node's guidance block; the result is clipped to
    ``max_chars``.
    """
    lines = text.strip().splitlines()
    body = "\n".join([*lines[:1], *(f"  {line}" for line in lines[1:])])
    if max_chars is not None:
        body = clip(body, max_chars)
    return {"guidance": [{"helper": helper, "text": body}] if body else []}


def failed(helper: str, exc: BaseException) -> HelperUpdate:
    """The update of a helper that failed: no advice, the error recorded on the decision."""
    return {"guidance": [failure_guidance(helper, failure_text(exc))]}


def failure_guidance(helper: str, error: str) -> Guidance:
    """The guidance item of a failed helper (no text; the tool-use node leaves it out)."""
    return {"helper": helper, "text": "", "error": error}


def failure_text(exc: BaseException) -> str:
    """``Type: message`` on one line, clipped."""
    return clip(f"{type(exc).__name__}: {' '.join(str(exc).split())}", 300)


def degrading(helper: str, run: HelperFn) -> HelperFn:
    """``run`` that never raises: a failure (e.g. the helper model down after its retries)
    becomes ``failed(helper, exc)`` and the decision goes on without the helper's advice."""

    async def safe(inp: HelperInput, env: HelperEnv) -> HelperUpdate:
        try:
            return await run(inp, env)
        except Exception as exc:  # a helper degrades the decision, never ends the episode
            return failed(helper, exc)

    safe.__name__ = getattr(run, "__name__", helper)
    return safe


def llm_node(helper: str) -> str:
    """The ``node`` name a helper's model calls are recorded under."""
    return f"helper:{helper}"

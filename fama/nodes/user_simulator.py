"""The simulated customer: an LLM with flipped roles, or a scripted list of lines for tests.

The simulator sees the conversation as the official tau2 user does: agent *text* messages
appear as "user" turns (``HumanMessage``) and its own messages as "assistant" turns
(``AIMessage``); agent tool calls, their text and their results are hidden from it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from fama.graph.state import LLMCall, Termination
from fama.nodes.llm_call import RetryPolicy, call_model
from fama.trajectory import MessageRecord, to_records

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

    from fama.graph.context import EpisodeContext, EpisodeLoopState

USER_NODE = "user"

STOP_TOKENS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
_THINK_BLOCK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


def is_user_stop(text: str) -> bool:
    """True when a user message ends the conversation (contains a stop token)."""
    return any(token in text for token in STOP_TOKENS)


class UserSimulatorError(RuntimeError):
    """The user simulator could not produce a usable message (not the agent's fault)."""


class UserSimulator(Protocol):
    """Produces the user's next message from the trajectory (agent point of view)."""

    async def respond(self, history: list[MessageRecord]) -> tuple[HumanMessage, list[LLMCall]]:
        """The next user message and the usage of the model calls it took."""
        ...


def user_view(history: Sequence[MessageRecord]) -> list[BaseMessage]:
    """The conversation as the user simulator sees it (roles flipped, agent tools hidden)."""
    view: list[BaseMessage] = []
    for record in history:
        role = record["role"]
        if role == "assistant":
            if not record.get("tool_calls") and record["content"]:
                view.append(HumanMessage(content=record["content"]))
        elif role == "user":
            calls = [
                {"id": c["id"], "name": c["name"], "args": c["arguments"], "type": "tool_call"}
                for c in record.get("tool_calls", [])
            ]
            view.append(AIMessage(content=record["content"], tool_calls=calls))
        elif role == "tool" and record.get("requestor") == "user":
            view.append(
                ToolMessage(
                    content=record["content"],
                    tool_call_id=record.get("tool_call_id", ""),
                    status="error" if record.get("error") else "success",
                )
            )
    return view


def _reply_text(message: AIMessage) -> str:
    return _THINK_BLOCK.sub("", message.text, count=1).strip()


class LLMUserSimulator:
    """A chat model playing the customer, given the rendered user system prompt.

    An empty reply is asked again (``empty_retries`` times); a simulator that keeps answering
    nothing raises ``UserSimulatorError``, which ends the episode as an infrastructure error.
    A leading ``<think>...</think>`` block (reasoning models) is not part of the message.
    """

    def __init__(
        self,
        model: BaseChatModel,
        system_prompt: str,
        *,
        retries: RetryPolicy | None = None,
        empty_retries: int = 2,
    ) -> None:
        self.model = model
        self.system_prompt = system_prompt
        self.retries = retries or RetryPolicy()
        self.empty_retries = empty_retries

    async def respond(self, history: list[MessageRecord]) -> tuple[HumanMessage, list[LLMCall]]:
        """Ask the model for the user's next message."""
        prompt = [SystemMessage(content=self.system_prompt), *user_view(history)]
        calls: list[LLMCall] = []
        for _ in range(self.empty_retries + 1):
            reply, call = await call_model(self.model, prompt, node="user", retries=self.retries)
            calls.append(call)
            text = _reply_text(reply)
            if text:
                return HumanMessage(content=text), calls
        raise UserSimulatorError(
            f"user simulator returned an empty message {self.empty_retries + 1} times"
        )


ScriptedLine = str | Callable[[list[MessageRecord]], str]


class ScriptedUser:
    """Replies with fixed lines in order (a line may be a function of the history).

    Raises ``AssertionError`` when the script runs out, so a test notices an extra turn.
    Every history it was shown is kept in ``histories``.
    """

    def __init__(self, lines: Sequence[ScriptedLine]) -> None:
        self.lines: list[ScriptedLine] = list(lines)
        self.histories: list[list[MessageRecord]] = []

    async def respond(self, history: list[MessageRecord]) -> tuple[HumanMessage, list[LLMCall]]:
        """The next scripted line (no model call, so no usage)."""
        self.histories.append(history)
        if not self.lines:
            raise AssertionError(f"ScriptedUser ran out of lines after {len(self.histories)} turns")
        line = self.lines.pop(0)
        text = line if isinstance(line, str) else line(history)
        return HumanMessage(content=text), []


async def user_node(state: EpisodeLoopState, runtime: Runtime[EpisodeContext]) -> dict[str, Any]:
    """The user's turn: count the agent message it answers, check limits, get the reply.

    Reached after an agent text message (or at the start, after the greeting). The limits are
    checked before the simulator is asked (nothing is pending), then again after its reply;
    a limit reached on that step wins over a stop token, as upstream.
    """
    started = time.perf_counter()
    ctx = runtime.context
    messages = state["messages"]
    steps = state.get("steps", 0) + len(messages) - state.get("messages_counted", len(messages))
    errors = state.get("tool_errors", 0)
    update: dict[str, Any] = {"steps": steps, "messages_counted": len(messages)}
    termination: Termination | None = ctx.limit_reached(steps, errors)
    if termination is None:
        reply, calls = await ctx.user.respond(to_records(messages))
        steps += 1
        termination = ctx.limit_reached(steps, errors)
        if termination is None and is_user_stop(reply.text):
            termination = "user_stop"
        update.update(
            messages=[reply], steps=steps, messages_counted=len(messages) + 1, llm_calls=calls
        )
    if termination is not None:
        update["termination"] = termination
    update["node_timings"] = [
        {"node": USER_NODE, "latency_ms": (time.perf_counter() - started) * 1000.0}
    ]
    return update

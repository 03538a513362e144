"""The simulated customer: an LLM with flipped roles, or a scripted list of lines for tests.

The simulator sees the conversation as the official tau2 user does: agent *text* messages
appear as "user" turns (``HumanMessage``) and its own messages as "assistant" turns
(``AIMessage``); agent tool calls, their text and their results are hidden from it.

Dual control (tau2 telecom): a simulator given tools (``LLMUserSimulator(..., tools=...)``)
may answer with tool calls. Such a reply is a ``HumanMessage`` carrying the calls in
``additional_kwargs`` (see ``fama.graph.views``); the loop's ``user_tools`` node runs them and
hands the results back to the user, who sees them as its own tool results. As upstream, a
reply with text and tool calls is a tool call, and stop tokens count only in text replies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from fama.graph.state import LLMCall, Termination
from fama.graph.views import count_agent_messages, is_user_tool_call, user_tool_call_message
from fama.nodes.llm_call import RetryPolicy, call_model
from fama.nodes.user_transcript import UserStyle, clean_transcript_reply, transcript_prompt
from fama.trajectory import MessageRecord, to_records

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool
    from langgraph.runtime import Runtime

    from fama.graph.context import EpisodeContext, EpisodeLoopState

USER_NODE = "user"

STOP_TOKENS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
_THINK_BLOCK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


def is_user_stop(text: str, tokens: Sequence[str] = STOP_TOKENS) -> bool:
    """True when a user text message ends the conversation (contains a stop token)."""
    return any(token in text for token in tokens)


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


def user_message(reply: AIMessage, call_id_prefix: str) -> HumanMessage | None:
    """The user message of a model reply (text and/or tool calls), or None when empty.

    Tool calls the server could not parse (``invalid_tool_calls``) are dropped; a call without
    an id gets ``<call_id_prefix>_<n>``.
    """
    text = _reply_text(reply)
    calls = [
        {"id": tc.get("id") or f"{call_id_prefix}_{n}", "name": tc["name"], "args": tc["args"]}
        for n, tc in enumerate(reply.tool_calls)
    ]
    if not text and not calls:
        return None
    return user_tool_call_message(text, calls)


class LLMUserSimulator:
    """A chat model playing the customer, given the rendered user system prompt.

    With ``tools`` (dual control) they are bound to the model (``tool_choice="auto"``) and the
    reply may carry tool calls. An empty reply (no text, no valid tool call) is asked again
    (``empty_retries`` times); a simulator that keeps answering nothing raises
    ``UserSimulatorError``, which ends the episode as an infrastructure error. A leading
    ``<think>...</think>`` block (reasoning models) is not part of the message.
    ``style="transcript"`` sends the conversation as one transcript message instead of the
    role-flipped chat (see ``fama.nodes.user_transcript``).
    """

    def __init__(
        self,
        model: BaseChatModel,
        system_prompt: str,
        *,
        retries: RetryPolicy | None = None,
        empty_retries: int = 2,
        tools: Sequence[BaseTool] = (),
        style: UserStyle = "chat",
    ) -> None:
        self.model = model
        self.style = style
        self.system_prompt = system_prompt
        self.retries = retries or RetryPolicy()
        self.empty_retries = empty_retries
        self.tools = list(tools)
        self._runnable: Runnable[Any, Any] = (
            model.bind_tools(self.tools, tool_choice="auto") if self.tools else model
        )

    async def respond(self, history: list[MessageRecord]) -> tuple[HumanMessage, list[LLMCall]]:
        """Ask the model for the user's next message."""
        transcript = self.style == "transcript"
        prompt = (
            transcript_prompt(self.system_prompt, history)
            if transcript
            else [SystemMessage(content=self.system_prompt), *user_view(history)]
        )
        calls: list[LLMCall] = []
        for _ in range(self.empty_retries + 1):
            reply, call = await call_model(
                self._runnable, prompt, node="user", retries=self.retries
            )
            calls.append(call)
            if transcript:
                reply = reply.model_copy(
                    update={"content": clean_transcript_reply(_reply_text(reply))}
                )
            message = user_message(reply, f"user_{len(history)}")
            if message is not None:
                return message, calls
        raise UserSimulatorError(
            f"user simulator returned an empty message {self.empty_retries + 1} times"
        )


ScriptedReply = str | HumanMessage
ScriptedLine = ScriptedReply | Callable[[list[MessageRecord]], ScriptedReply]


class ScriptedUser:
    """Replies with fixed lines in order (a line may be a function of the history).

    A line is a text or a whole ``HumanMessage`` (e.g. a user tool call built with
    ``fama.graph.views.user_tool_call_message``). Raises ``AssertionError`` when the script
    runs out, so a test notices an extra turn. Every history it was shown is kept in
    ``histories``.
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
        reply = line(history) if callable(line) else line
        return (HumanMessage(content=reply) if isinstance(reply, str) else reply), []


def _agent_stop(ctx: EpisodeContext, messages: Sequence[AnyMessage], counted: int) -> bool:
    """True when the agent's new text message contains one of its stop phrases."""
    last = messages[-1]
    return (
        len(messages) > counted
        and isinstance(last, AIMessage)
        and not last.tool_calls
        and ctx.is_agent_stop(last.text)
    )


def _after_reply(
    ctx: EpisodeContext, reply: HumanMessage, steps: int, errors: int, turns: int
) -> Termination | None:
    """The end condition after a user reply (none while its own tool results are pending)."""
    if is_user_tool_call(reply):
        return None
    termination = ctx.limit_reached(steps, errors)
    if termination is None and ctx.is_user_stop(reply.text):
        termination = "user_stop"
    if termination is None and ctx.agent_turns_exhausted(turns):
        termination = "max_steps"
    return termination


async def user_node(state: EpisodeLoopState, runtime: Runtime[EpisodeContext]) -> dict[str, Any]:
    """The user's turn: count the agent message it answers, check limits, get the reply.

    Reached after an agent text message, after the user's own tool results, or at the
    start. The limits are checked before the simulator is asked (nothing is pending), then
    an agent stop phrase ends the episode without asking; after a text reply the limits are
    checked again, and a limit reached on that step wins over a stop token, as upstream.
    """
    started = time.perf_counter()
    ctx = runtime.context
    messages = state["messages"]
    counted = state.get("messages_counted", len(messages))
    steps = state.get("steps", 0) + len(messages) - counted
    turns = state.get("agent_turns", 0) + count_agent_messages(messages[counted:])
    errors = state.get("tool_errors", 0)
    update: dict[str, Any] = {
        "steps": steps,
        "messages_counted": len(messages),
        "agent_turns": turns,
    }
    termination: Termination | None = ctx.limit_reached(steps, errors)
    if termination is None and _agent_stop(ctx, messages, counted):
        termination = "agent_stop"
    if termination is None:
        reply, calls = await ctx.user.respond(to_records(messages))
        steps += 1
        termination = _after_reply(ctx, reply, steps, errors, turns)
        update.update(
            messages=[reply], steps=steps, messages_counted=len(messages) + 1, llm_calls=calls
        )
    if termination is not None:
        update["termination"] = termination
    update["node_timings"] = [
        {"node": USER_NODE, "latency_ms": (time.perf_counter() - started) * 1000.0}
    ]
    return update

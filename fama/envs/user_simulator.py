"""The simulated customer: an LLM with flipped roles, or a scripted list of lines for tests.

The simulator sees the conversation as the official tau2 user does: agent *text* messages
appear as "user" turns (``HumanMessage``) and its own messages as "assistant" turns
(``AIMessage``); agent tool calls, their text and their results are hidden from it.

Dual control (tau2 telecom): a simulator given tools (``LLMUserSimulator(..., tools=...)``)
may answer with tool calls. Such a reply is a ``HumanMessage`` carrying the calls in
``additional_kwargs`` (see ``fama.core.views``); the loop's ``user_tools`` node runs them and
hands the results back to the user, who sees them as its own tool results. As upstream, a
reply with text and tool calls is a tool call, and stop tokens count only in text replies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from fama.core.retry import RetryPolicy
from fama.core.state import LLMCall
from fama.core.trajectory import MessageRecord
from fama.core.users import UserSimulatorError
from fama.core.views import user_tool_call_message
from fama.envs.user_transcript import UserStyle, clean_transcript_reply, transcript_prompt
from fama.llm.call import call_model

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool


_THINK_BLOCK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


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
    role-flipped chat (see ``fama.envs.user_transcript``).
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
                    update={"content": clean_transcript_reply(_reply_text(reply), history)}
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
    ``fama.core.views.user_tool_call_message``). Raises ``AssertionError`` when the script
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

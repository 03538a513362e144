"""Scripted chat models for unit tests: deterministic, offline, and able to fail."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

Reply = AIMessage | str | Exception | Callable[[list[BaseMessage]], AIMessage | str]


class ScriptedChatModel(BaseChatModel):
    """Returns the scripted replies in order; raises when the script runs out.

    A reply may be an AIMessage, a string, an exception (raised, to simulate a server
    failure) or a function of the prompt messages. Every call's input is kept in ``calls``.
    Usage metadata is filled in (1 token per 4 characters) when a reply has none.
    """

    calls: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[Any] = Field(default_factory=list)
    model_name: str = "scripted"
    # private, so LangChain does not serialise the script into every call's metadata
    _replies: list[Any] = PrivateAttr(default_factory=list)

    def __init__(self, replies: Sequence[Reply], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._replies = list(replies)

    @property
    def replies(self) -> list[Any]:
        """The replies not used yet."""
        return self._replies

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        self.bound_tools = list(tools)
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        if not self.replies:
            raise AssertionError(
                f"ScriptedChatModel ran out of replies after {len(self.calls)} calls"
            )
        reply = self.replies.pop(0)
        if callable(reply) and not isinstance(reply, AIMessage):
            reply = reply(messages)
        if isinstance(reply, Exception):
            raise reply
        message = AIMessage(content=reply) if isinstance(reply, str) else reply
        if message.usage_metadata is None:
            prompt_chars = sum(len(str(m.content)) for m in messages)
            out = max(1, len(str(message.content)) // 4)
            inp = max(1, prompt_chars // 4)
            message = message.model_copy(
                update={
                    "usage_metadata": {
                        "input_tokens": inp,
                        "output_tokens": out,
                        "total_tokens": inp + out,
                    }
                }
            )
        return ChatResult(generations=[ChatGeneration(message=message)])


def fc_parts(
    loaded: Any,
    agent_model: BaseChatModel,
    user_model: BaseChatModel,
    *,
    retry: Any = None,
    context_options: dict[str, Any] | None = None,
    user_style: str = "chat",
) -> Any:
    """``ExecutorParts`` of the function-calling agent on ``loaded`` with these models."""
    from fama.benchmarks.registry import ExecutorParts
    from fama.core.retry import RetryPolicy
    from fama.runs.runner import agent_setup

    return ExecutorParts(
        agent=agent_setup("fc", agent_prompt=loaded.agent_prompt),
        agent_model=agent_model,
        user_model=user_model,
        judge_model=None,
        judge_model_name="",
        retry=retry or RetryPolicy(attempts=1, initial_backoff_s=0.0),
        context_options=context_options or {},
        user_style=user_style,
    )

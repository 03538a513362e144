"""A reply the OpenAI client refuses to parse at the output limit is a truncated reply.

With ``response_format`` (the constrained tool-call mode) langchain-openai calls the client's
``parse``, which raises ``LengthFinishReasonError`` when the reply hit ``max_tokens``; seen
with the 1.5B model as a run ``error``. ``call_model`` must return it as a truncated reply.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult
from openai.types.chat import ChatCompletion

from fama.core.retry import RetryPolicy
from fama.llm.call import call_model

CUT = '{"action": "respond", "arguments": {"message": "a very long'


def _completion() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "qwen-test",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length",
                    "message": {"role": "assistant", "content": CUT},
                }
            ],
            "usage": {"prompt_tokens": 1823, "completion_tokens": 1024, "total_tokens": 2847},
        }
    )


class ParseRefusingModel(BaseChatModel):
    """Raises what ``client.beta.chat.completions.parse`` raises on a cut reply."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "parse-refusing"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls += 1
        raise openai.LengthFinishReasonError(completion=_completion())


def test_length_finish_reason_error_becomes_a_truncated_reply() -> None:
    model = ParseRefusingModel()
    reply, call = asyncio.run(
        call_model(model, [HumanMessage("hi")], node="agent", retries=RetryPolicy(attempts=3))
    )
    assert model.calls == 1  # not retried: the reply is final
    assert reply.content == CUT
    assert call["finish_reason"] == "length"
    assert (call["input_tokens"], call["output_tokens"]) == (1823, 1024)
    assert not call.get("usage_missing")


def test_other_client_errors_still_propagate() -> None:
    class Broken(ParseRefusingModel):
        def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
            raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        asyncio.run(call_model(Broken(), [HumanMessage("hi")], node="agent", retries=RetryPolicy()))

"""The one way nodes call a chat model: bounded, timed, usage recorded, failures retried.

Every call has an output limit: ``max_tokens`` if given (a helper's own share), else the
limit the model was built with (``ModelSpec.max_tokens``, set per role by ``fama run``), else
``DEFAULT_OUTPUT_LIMITS["default"]``. The reply is streamed and cut by the client when a
server goes past the limit or writes a stop sequence (``fama.llm.bounded``); the record's
``finish_reason`` is then ``length`` or ``stop``.

Connection errors, timeouts, rate limits and 5xx answers are retried with bounded exponential
backoff; any other exception (a bug, a 4xx request error) propagates at once. When the last
attempt fails, ``ModelUnavailableError`` is raised and the episode loop ends the episode with
termination ``infrastructure_error``, keeping every finished message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
import httpx2
import openai
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableBinding

from fama.core.output_limits import DEFAULT_OUTPUT_LIMITS
from fama.core.retry import RetryPolicy
from fama.core.state import LLMCall
from fama.llm.bounded import (
    BoundedReply,
    bounded_reply,
    configured_max_tokens,
    configured_stop,
)
from fama.llm.usage import usage_record


class ModelUnavailableError(RuntimeError):
    """The model server kept failing after every retry."""

    def __init__(self, node: str, model: str, attempts: int, cause: BaseException) -> None:
        super().__init__(
            f"model {model} (node {node}) unavailable after {attempts} attempt(s): "
            f"{type(cause).__name__}: {cause}"
        )
        self.node = node
        self.model = model
        self.attempts = attempts


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: connection, timeout, rate limit, server 5xx."""
    if isinstance(
        exc,
        openai.APIConnectionError  # includes APITimeoutError
        | openai.InternalServerError
        | openai.RateLimitError
        | httpx.TransportError  # connect/read/write errors and timeouts (langchain-core's
        | httpx2.TransportError  # HTTP client, and the one openai uses)
        | TimeoutError
        | ConnectionError,
    ):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500
    if isinstance(exc, httpx.HTTPStatusError | httpx2.HTTPStatusError):
        return exc.response.status_code >= 500
    return False


def length_cut_reply(exc: openai.LengthFinishReasonError) -> AIMessage:
    """The reply the OpenAI client refused to parse because it hit the output limit, as an
    ordinary truncated reply (text so far, usage, ``finish_reason`` ``length``): the caller
    scores it as a truncated agent reply, not as an infrastructure failure."""
    completion = exc.completion
    text = completion.choices[0].message.content if completion.choices else None
    usage = completion.usage
    metadata = None
    if usage is not None:
        metadata = {
            "input_tokens": usage.prompt_tokens,
            "output_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    return AIMessage(
        content=text or "",
        response_metadata={"finish_reason": "length", "model_name": completion.model},
        usage_metadata=metadata,
    )


def model_label(model: Runnable[Any, Any]) -> str:
    """A readable model name for usage records (unwraps ``bind_tools`` bindings)."""
    while isinstance(model, RunnableBinding):
        model = model.bound
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


async def call_model(
    model: Runnable[Any, Any],
    messages: Sequence[BaseMessage],
    *,
    node: str,
    retries: RetryPolicy,
    max_tokens: int | None = None,
) -> tuple[AIMessage, LLMCall]:
    """Call a chat model once, retrying transient failures; return the reply and its usage.

    ``max_tokens`` overrides the model's own output limit for this call.
    """
    label = model_label(model)
    limit = max_tokens or configured_max_tokens(model) or DEFAULT_OUTPUT_LIMITS["default"]
    stop = configured_stop(model)
    bounded = model.bind(max_tokens=limit)
    for attempt in range(retries.attempts):
        start = time.perf_counter()
        try:
            result = await bounded_reply(bounded, messages, max_tokens=limit, stop=stop)
        except openai.LengthFinishReasonError as exc:  # a parsed (response_format) reply cut
            result = BoundedReply(length_cut_reply(exc), "length", None)
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt + 1 == retries.attempts:
                raise ModelUnavailableError(node, label, retries.attempts, exc) from exc
            await asyncio.sleep(retries.backoff(attempt))
            continue
        latency_ms = (time.perf_counter() - start) * 1000.0
        record = usage_record(
            node,
            label,
            result.message,
            latency_ms,
            prompt=messages,
            finish_reason=result.finish_reason,
            streamed_tokens=result.streamed_tokens,
        )
        return result.message, record
    raise AssertionError("unreachable: RetryPolicy.attempts >= 1")

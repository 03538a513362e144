"""The one way nodes call a chat model: timed, usage recorded, transient failures retried.

Connection errors, timeouts, rate limits and 5xx answers are retried with bounded exponential
backoff; any other exception (a bug, a 4xx request error) propagates at once. When the last
attempt fails, ``ModelUnavailableError`` is raised and the episode loop ends the episode with
termination ``infrastructure_error``, keeping every finished message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, NotRequired

import httpx
import httpx2
import openai
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableBinding

from fama.core.retry import RetryPolicy
from fama.core.state import LLMCall


class ModelCall(LLMCall):
    """An ``LLMCall`` that also says when the server reported no token usage."""

    usage_missing: NotRequired[bool]


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


def model_label(model: Runnable[Any, Any]) -> str:
    """A readable model name for usage records (unwraps ``bind_tools`` bindings)."""
    while isinstance(model, RunnableBinding):
        model = model.bound
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


def usage_record(node: str, model: str, reply: AIMessage, latency_ms: float) -> ModelCall:
    """The usage record of one reply (zero tokens, flagged, when the server sent none)."""
    usage = reply.usage_metadata
    call: ModelCall = {
        "node": node,
        "model": model,
        "input_tokens": usage["input_tokens"] if usage else 0,
        "output_tokens": usage["output_tokens"] if usage else 0,
        "latency_ms": latency_ms,
    }
    if usage is None:
        call["usage_missing"] = True
    return call


async def call_model(
    model: Runnable[Any, Any],
    messages: Sequence[BaseMessage],
    *,
    node: str,
    retries: RetryPolicy,
) -> tuple[AIMessage, ModelCall]:
    """Call a chat model once, retrying transient failures; return the reply and its usage."""
    label = model_label(model)
    for attempt in range(retries.attempts):
        start = time.perf_counter()
        try:
            reply = await model.ainvoke(list(messages))
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt + 1 == retries.attempts:
                raise ModelUnavailableError(node, label, retries.attempts, exc) from exc
            await asyncio.sleep(retries.backoff(attempt))
            continue
        latency_ms = (time.perf_counter() - start) * 1000.0
        if not isinstance(reply, AIMessage):
            raise TypeError(f"model {label} returned {type(reply).__name__}, not an AIMessage")
        return reply, usage_record(node, label, reply, latency_ms)
    raise AssertionError("unreachable: RetryPolicy.attempts >= 1")

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
from fama.llm.bounded import bounded_reply, configured_max_tokens, configured_stop
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

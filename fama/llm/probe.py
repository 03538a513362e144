"""Check a model endpoint before a run: one tiny request with a short timeout.

A run whose model is unreachable or misconfigured would otherwise fail every episode after
the full retries; ``probe_model`` turns that into one clear line before the first episode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import openai
from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable

from fama.llm.failures import failure_info
from fama.llm.models import ModelSpec

PROBE_PROMPT = "Reply with the single word OK."
PROBE_MAX_TOKENS = 8
DEFAULT_PROBE_TIMEOUT_S = 60.0


class EndpointError(RuntimeError):
    """A model endpoint that does not answer a tiny request properly."""


def where(spec: ModelSpec) -> str:
    """``model`` or ``model at base_url``."""
    return f"{spec.model} at {spec.base_url}" if spec.base_url else spec.model


def _reason(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError | openai.APITimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return "cannot connect (is the server running, and is the URL right?)"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"the server refused the credentials: {failure_info(exc)['message']}"
    if isinstance(exc, openai.NotFoundError):
        return f"unknown model or URL: {failure_info(exc)['message']}"
    info = failure_info(exc)
    return f"{info['type']}: {info['message']}"


async def probe_model(
    role: str,
    spec: ModelSpec,
    model: Runnable[Any, Any],
    *,
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
) -> None:
    """Send one tiny request; raise ``EndpointError`` (one line) if it fails.

    The reply is capped at a few tokens on OpenAI-compatible servers named by a base URL
    (the official OpenAI API rejects ``max_tokens`` for some models, so it is left alone).
    """
    probe = model.bind(max_tokens=PROBE_MAX_TOKENS) if spec.base_url else model
    try:
        await asyncio.wait_for(probe.ainvoke([HumanMessage(content=PROBE_PROMPT)]), timeout_s)
    except Exception as exc:
        raise EndpointError(
            f"{role} model {where(spec)} failed a test request: {_reason(exc, timeout_s)}"
        ) from exc


async def probe_models(
    models: Mapping[str, tuple[ModelSpec, Runnable[Any, Any]]],
    *,
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
) -> None:
    """Probe each distinct (model, base URL) once, all at the same time."""
    distinct: dict[tuple[str, str | None], tuple[str, ModelSpec, Runnable[Any, Any]]] = {}
    for role, (spec, model) in models.items():
        distinct.setdefault((spec.model, spec.base_url), (role, spec, model))
    await asyncio.gather(
        *(probe_model(r, s, m, timeout_s=timeout_s) for r, s, m in distinct.values())
    )

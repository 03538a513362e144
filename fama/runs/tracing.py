"""LangChain run metadata and tags on every run, episode and FAMA decision.

``run_trace`` makes the run-level ``RunnableConfig`` (run id, benchmark, agent, FAMA mode
and helpers, models, callbacks such as an OpenTelemetry exporter); the runner wraps each
episode in ``traced(episode_trace(...))`` so the episode graph, its nodes, every model call
and FAMA's decision subgraphs inherit the metadata (task id, trial, seed) and tags through
LangChain's child-config context. Any callback handler (LangSmith, Langfuse, OpenTelemetry)
can then group traces per run, episode and decision without code: the episode graph is a
root run named ``episode <task>/<trial>``, each FAMA decision a child run ``fama_decision``
with ``fama_decision`` (its number) in its metadata. ``langfuse_session_id`` groups a run's
episodes into one Langfuse session.

``trace_callbacks`` sets up ``fama run --trace``: ``langsmith`` turns on LangChain's own
LangSmith tracer (``LANGSMITH_API_KEY`` needed; ``LANGSMITH_PROJECT`` chooses the project),
``otel`` adds the OpenTelemetry exporter of ``fama.runs.otel``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config


def run_trace(
    run_id: str,
    config: Mapping[str, Any],
    *,
    callbacks: Sequence[BaseCallbackHandler] = (),
) -> RunnableConfig:
    """The run's metadata and tags from its stored configuration (a ``RunSpec``'s JSON)."""
    fama = config.get("fama_config")
    helpers = [str(h) for h in fama.get("helpers", [])] if isinstance(fama, Mapping) else []
    metadata = {
        "fama_run_id": run_id,
        "langfuse_session_id": run_id,
        "env": config.get("env"),
        "agent": config.get("agent"),
        "fama_mode": config.get("mode"),
        "fama_helpers": helpers,
        "model": config.get("model"),
        "user_model": config.get("user_model") or config.get("model"),
    }
    tags = [
        "fama",
        f"run:{run_id}",
        f"agent:{config.get('agent')}",
        *([f"mode:{config['mode']}"] if config.get("mode") else []),
        *(f"helper:{h}" for h in helpers),
    ]
    trace: RunnableConfig = {
        "metadata": {k: v for k, v in metadata.items() if v is not None},
        "tags": tags,
    }
    if callbacks:
        trace["callbacks"] = list(callbacks)
    return trace


def episode_trace(
    base: RunnableConfig | None, *, run_id: str, task_id: str, trial: int, seed: int, domain: str
) -> RunnableConfig:
    """``base`` (a ``run_trace``; None: the run id only) plus one episode's identity."""
    base = base or {"metadata": {"fama_run_id": run_id}, "tags": ["fama", f"run:{run_id}"]}
    trace: RunnableConfig = {
        "run_name": f"episode {task_id}/{trial}",
        "metadata": {
            **base.get("metadata", {}),
            "task_id": task_id,
            "trial": trial,
            "seed": seed,
            "domain": domain,
        },
        "tags": [*base.get("tags", []), f"task:{task_id}", f"trial:{trial}"],
    }
    if base.get("callbacks"):
        trace["callbacks"] = base["callbacks"]
    return trace


@contextmanager
def traced(config: RunnableConfig) -> Iterator[None]:
    """Runnables started inside (in this task) inherit ``config``; restored on exit."""
    token = var_child_runnable_config.set(config)
    try:
        yield
    finally:
        var_child_runnable_config.reset(token)


TRACE_KINDS = ("langsmith", "otel")
LANGSMITH_KEYS = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")


def trace_callbacks(
    kind: str | None, out: Path
) -> tuple[list[BaseCallbackHandler], Callable[[], None]]:
    """The callbacks of ``--trace KIND`` and the function that flushes them at the end.

    Raises ``ValueError`` (one line) when the kind cannot work here.
    """
    if kind is None:
        return [], lambda: None
    if kind == "langsmith":
        if not any(os.environ.get(key) for key in LANGSMITH_KEYS):
            raise ValueError("--trace langsmith needs LANGSMITH_API_KEY in the environment")
        os.environ["LANGSMITH_TRACING"] = "true"  # LangChain's own tracer reads it
        return [], lambda: None
    if kind == "otel":
        try:
            from fama.runs.otel import OTelCallbackHandler, otel_tracer
        except ImportError as exc:
            raise ValueError(
                f"--trace otel needs OpenTelemetry: pip install 'fama[otel]' ({exc})"
            ) from exc
        tracer, close = otel_tracer(out)
        return [OTelCallbackHandler(tracer)], close
    raise ValueError(f"--trace must be one of {', '.join(TRACE_KINDS)}, got {kind!r}")

"""OpenTelemetry spans from LangChain callbacks: one span per graph, node, model call and tool.

``OTelCallbackHandler`` turns LangChain run events into spans of a tracer: the episode graph
is the root span, its nodes (and FAMA's decision subgraph and its nodes) are children, a
model call's span carries ``gen_ai.request.model`` and ``gen_ai.usage.input_tokens`` /
``output_tokens``, and every span carries the run's metadata (``langchain.metadata.*``:
run id, task, trial, agent, FAMA mode, decision number), tags and ``fama.latency_ms``.
Runs LangGraph marks hidden (``langsmith:hidden``: channel writes, routing) make no span;
their children attach to the nearest shown ancestor.

``otel_tracer`` builds an SDK tracer for ``fama run --trace otel``: OTLP when the
``opentelemetry-exporter-otlp`` package is installed and ``OTEL_EXPORTER_OTLP_ENDPOINT`` is
set, otherwise one JSON span per line into a file. Needs ``pip install 'fama[otel]'``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import ChatGeneration, LLMResult
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

HIDDEN_TAG = "langsmith:hidden"
_MAX_DEPTH = 1000  # bound on the walk past hidden runs to a shown ancestor
Attributes = dict[str, Any]


def _attributes(tags: Sequence[str] | None, metadata: Mapping[str, Any] | None) -> Attributes:
    """Tags and the scalar (or string-list) metadata values as span attributes."""
    attrs: Attributes = {}
    if tags:
        attrs["langchain.tags"] = tuple(str(t) for t in tags)
    for key, value in (metadata or {}).items():
        if isinstance(value, str | bool | int | float):
            attrs[f"langchain.metadata.{key}"] = value
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            attrs[f"langchain.metadata.{key}"] = tuple(value)
    return attrs


def _usage(response: LLMResult) -> Attributes:
    """Token counts of a model reply (LangChain ``usage_metadata``), if reported."""
    for generations in response.generations:
        for generation in generations:
            usage = (
                getattr(generation.message, "usage_metadata", None)
                if isinstance(generation, ChatGeneration)
                else None
            )
            if usage:
                return {
                    "gen_ai.usage.input_tokens": int(usage.get("input_tokens", 0)),
                    "gen_ai.usage.output_tokens": int(usage.get("output_tokens", 0)),
                }
    return {}


class OTelCallbackHandler(BaseCallbackHandler):
    """LangChain callbacks to OpenTelemetry spans (see the module docstring)."""

    run_inline = True  # called in the event loop's thread: no executor hop per event

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._spans: dict[UUID, tuple[Span, float]] = {}
        self._hidden: dict[UUID, UUID | None] = {}  # hidden run -> its parent

    def _parent(self, parent_run_id: UUID | None) -> Span | None:
        for _ in range(_MAX_DEPTH):
            if parent_run_id is None:
                return None
            if parent_run_id in self._spans:
                return self._spans[parent_run_id][0]
            if parent_run_id not in self._hidden:
                return None
            parent_run_id = self._hidden[parent_run_id]
        return None

    def _start(
        self,
        name: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: Sequence[str] | None,
        metadata: Mapping[str, Any] | None,
        extra: Attributes | None = None,
    ) -> None:
        if tags and HIDDEN_TAG in tags:
            self._hidden[run_id] = parent_run_id
            return
        parent = self._parent(parent_run_id)
        # a run without a shown parent is a new trace, whatever span is current
        context = trace.set_span_in_context(parent if parent else trace.INVALID_SPAN)
        attrs = {**_attributes(tags, metadata), **(extra or {})}
        span = self._tracer.start_span(name, context=context, attributes=attrs)
        self._spans[run_id] = (span, time.perf_counter())

    def _end(
        self, run_id: UUID, attrs: Attributes | None = None, error: BaseException | None = None
    ) -> None:
        self._hidden.pop(run_id, None)
        entry = self._spans.pop(run_id, None)
        if entry is None:
            return
        span, started = entry
        span.set_attributes(
            {**(attrs or {}), "fama.latency_ms": (time.perf_counter() - started) * 1000}
        )
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()

    # --- chains (graphs, nodes) -------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A graph or node starts."""
        name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
        self._start(str(name), run_id, parent_run_id, tags, metadata)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A graph or node ends."""
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A graph or node fails (or is interrupted)."""
        self._end(run_id, error=error)

    # --- model calls ------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A chat model call starts."""
        model = (metadata or {}).get("ls_model_name") or (serialized or {}).get("name") or "llm"
        extra = {"gen_ai.operation.name": "chat", "gen_ai.request.model": str(model)}
        self._start(f"chat {model}", run_id, parent_run_id, tags, metadata, extra)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """A model call ends: its token usage."""
        self._end(run_id, _usage(response))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A model call fails."""
        self._end(run_id, error=error)

    # --- tools ------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A LangChain tool starts."""
        name = kwargs.get("name") or (serialized or {}).get("name") or "tool"
        self._start(f"tool {name}", run_id, parent_run_id, tags, metadata)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A LangChain tool ends."""
        self._end(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A LangChain tool fails."""
        self._end(run_id, error=error)


def _json_lines(out: TextIO) -> Any:
    """A span exporter writing one JSON object per span to ``out``."""
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    return ConsoleSpanExporter(
        out=out, formatter=lambda span: json.dumps(json.loads(span.to_json())) + "\n"
    )


def otel_tracer(out: Path) -> tuple[Tracer, Callable[[], None]]:
    """An SDK tracer exporting over OTLP (see the module docstring) or to ``out`` as JSON
    lines, and the function that flushes and closes it."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "fama"}))
    exporter: Any = None
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            pass
        else:
            exporter = OTLPSpanExporter()
    stream: TextIO | None = None
    if exporter is None:
        out.parent.mkdir(parents=True, exist_ok=True)
        stream = out.open("a", encoding="utf-8")
        exporter = _json_lines(stream)
    provider.add_span_processor(BatchSpanProcessor(exporter))

    def close() -> None:
        provider.shutdown()
        if stream is not None:
            stream.close()

    return provider.get_tracer("fama"), close

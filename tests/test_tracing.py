"""Trace metadata on every run, episode and FAMA decision; OpenTelemetry spans from callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from fama.runs.otel import OTelCallbackHandler
from fama.runs.runner import EpisodeJob
from fama.runs.store import RunStore
from fama.runs.tracing import episode_trace, run_trace, traced
from tests.fake_env import tool_call
from tests.test_fama_graph import ASK, CANCEL, GET, config, context, run_fama
from tests.test_runner import PROMPTS, fake_executor, run

RUN_CONFIG: dict[str, Any] = {
    "env": "tau2:retail",
    "agent": "fama",
    "mode": "static",
    "model": "openai:small",
    "fama_config": {"helpers": ["constraints_extractor", "memory"]},
}


class Recorder(BaseCallbackHandler):
    """Every chain and chat-model start: (kind, name, metadata, tags, run id, parent)."""

    run_inline = True

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _add(self, kind: str, run_id: UUID, kw: dict[str, Any]) -> None:
        self.events.append(
            {
                "kind": kind,
                "name": kw.get("name") or "",
                "run_id": run_id,
                "parent": kw.get("parent_run_id"),
                "metadata": dict(kw.get("metadata") or {}),
                "tags": list(kw.get("tags") or []),
            }
        )

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kw: Any) -> None:
        self._add("chain", run_id, kw)

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        self._add("llm", run_id, kw)


def test_run_trace_takes_the_run_configuration() -> None:
    trace = run_trace("r1", RUN_CONFIG)
    meta = trace["metadata"]
    assert meta["fama_run_id"] == meta["langfuse_session_id"] == "r1"
    assert (meta["agent"], meta["fama_mode"]) == ("fama", "static")
    assert meta["fama_helpers"] == ["constraints_extractor", "memory"]
    assert "judge_model" not in meta and "callbacks" not in trace
    assert trace["tags"] == [
        "fama",
        "run:r1",
        "agent:fama",
        "mode:static",
        "helper:constraints_extractor",
        "helper:memory",
    ]
    episode = episode_trace(trace, run_id="r1", task_id="7", trial=1, seed=42, domain="retail")
    assert episode["run_name"] == "episode 7/1"
    assert episode["metadata"]["task_id"] == "7" and episode["metadata"]["seed"] == 42
    assert episode["tags"][-2:] == ["task:7", "trial:1"]
    bare = episode_trace(None, run_id="r1", task_id="7", trial=0, seed=1, domain="retail")
    assert bare["metadata"]["fama_run_id"] == "r1" and "callbacks" not in bare


async def test_every_episode_and_model_call_carries_its_metadata(tmp_path: Path) -> None:
    recorder = Recorder()
    execute = fake_executor(
        [tool_call("get_price", {"item_id": "apple"}), "An apple costs 2.0.", "Bye."],
        ["What does an apple cost?", "Thanks ###STOP###", "Hi ###STOP###"],
    )
    with RunStore(tmp_path / "runs.sqlite") as store:
        store.create_or_resume_run("r", {"trials": 1}, PROMPTS)
        trace = run_trace("r", {**RUN_CONFIG, "agent": "fc", "mode": None}, callbacks=[recorder])
        jobs = [EpisodeJob("apple", 0, 11), EpisodeJob("pear", 0, 12)]
        summary = await run(store, jobs, execute, concurrency=1, trace=trace)
    assert summary.finished == 2
    roots = [e for e in recorder.events if e["parent"] is None]
    assert [r["name"] for r in roots] == ["episode apple/0", "episode pear/0"]
    assert all(r["kind"] == "chain" for r in roots)
    by_root: dict[UUID, str] = {r["run_id"]: r["metadata"]["task_id"] for r in roots}
    calls = [e for e in recorder.events if e["kind"] == "llm"]
    assert len(calls) == 3
    for event in recorder.events:  # graph, nodes and model calls: all of them
        meta = event["metadata"]
        assert meta["fama_run_id"] == "r" and meta["agent"] == "fc", event["name"]
        assert meta["task_id"] in by_root.values() and meta["domain"] == "retail"
        assert {"fama", "run:r", f"task:{meta['task_id']}", "trial:0"} <= set(event["tags"])
    assert [c["metadata"]["task_id"] for c in calls] == ["apple", "apple", "pear"]
    assert [c["metadata"]["seed"] for c in calls] == [11, 11, 12]


def fama_episode_context() -> Any:
    return context(
        [GET, ASK, CANCEL, "It is cancelled."],
        ["Please cancel order #W7301126.", "Yes, it is no longer needed.", "Thanks ###STOP###"],
    )


async def test_every_model_call_of_a_fama_decision_carries_its_number() -> None:
    recorder = Recorder()
    base = run_trace("r", RUN_CONFIG, callbacks=[recorder])
    ctx = context(
        [GET, "It is pending."],
        ["What is the status of order #W7301126?", "Thanks ###STOP###"],
        helper_replies=["1. Look up order #W7301126 and tell the status"],
    )
    with traced(episode_trace(base, run_id="r", task_id="5", trial=0, seed=1, domain="retail")):
        result = await run_fama(ctx, "all")
    assert [c["node"] for c in result.llm_calls] == ["helper:planner", "agent", "agent"]
    calls = [e for e in recorder.events if e["kind"] == "llm"]
    # the planner and the agent in decision 1, the agent again in decision 2
    assert [c["metadata"].get("fama_decision") for c in calls] == [1, 1, 2]
    assert [f"decision:{n}" in c["tags"] for c, n in zip(calls, (1, 1, 2), strict=True)] == [
        True
    ] * 3
    assert all(c["metadata"]["task_id"] == "5" for c in calls)
    assert all(c["metadata"]["fama_helpers"] == ["constraints_extractor", "memory"] for c in calls)
    assert all("helper:memory" in c["tags"] for c in calls)
    nodes = [e for e in recorder.events if e["kind"] == "chain" and e["name"] == "tool_use"]
    assert len(nodes) == 2  # one tool-use node run per decision


def spans_of(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


@pytest.fixture
def otel() -> tuple[OTelCallbackHandler, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OTelCallbackHandler(provider.get_tracer("test")), exporter


async def test_otel_spans_per_node_with_tokens_and_latency(
    otel: tuple[OTelCallbackHandler, InMemorySpanExporter],
) -> None:
    handler, exporter = otel
    base = run_trace("r", RUN_CONFIG, callbacks=[handler])
    with traced(episode_trace(base, run_id="r", task_id="5", trial=0, seed=1, domain="retail")):
        result = await run_fama(fama_episode_context(), "static", config("memory"))
    spans = spans_of(exporter)
    [root] = spans["episode 5/0"]
    assert root.parent is None
    assert root.attributes is not None
    assert root.attributes["langchain.metadata.task_id"] == "5"
    assert root.attributes["langchain.metadata.fama_run_id"] == "r"
    assert "helper:memory" in root.attributes["langchain.tags"]  # type: ignore[operator]
    every = exporter.get_finished_spans()
    assert {s.context.trace_id for s in every} == {root.context.trace_id}  # one trace
    assert all(s.parent is not None for s in every if s is not root)
    assert {"user", "tools", "orchestrator", "mitigation", "tool_use"} <= set(spans)
    chats = [s for name, group in spans.items() if name.startswith("chat ") for s in group]
    assert len(chats) == len(result.llm_calls) == 4
    tokens = sorted(
        (s.attributes or {})["gen_ai.usage.input_tokens"]
        for s in chats  # type: ignore[misc]
    )
    assert tokens == sorted(c["input_tokens"] for c in result.llm_calls)
    ids = {s.context.span_id: s for s in every}
    for chat in chats:  # a model call sits under its node, under the episode
        parent = ids[chat.parent.span_id] if chat.parent else None
        assert parent is not None and parent.name == "tool_use"
        assert parent.parent is not None and parent.parent.span_id == root.context.span_id
    decisions = [(s.attributes or {})["langchain.metadata.fama_decision"] for s in chats]
    assert sorted(decisions) == [1, 2, 3, 4]  # type: ignore[type-var]
    assert all(float((s.attributes or {})["fama.latency_ms"]) >= 0 for s in every)  # type: ignore[arg-type]
    assert not any("ChannelWrite" in s.name for s in every)  # hidden runs make no span


async def test_otel_marks_a_failed_model_call(
    otel: tuple[OTelCallbackHandler, InMemorySpanExporter], tmp_path: Path
) -> None:
    handler, exporter = otel
    down = ConnectionError("connection refused")
    execute = fake_executor([down, down], ["What does an apple cost?"])
    with RunStore(tmp_path / "runs.sqlite") as store:
        store.create_or_resume_run("r", {"trials": 1}, PROMPTS)
        await run(
            store,
            [EpisodeJob("apple", 0, 1)],
            execute,
            trace=run_trace("r", {}, callbacks=[handler]),
        )
    chats = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]
    assert len(chats) == 2 and all(s.status.status_code is StatusCode.ERROR for s in chats)
    assert "connection refused" in (chats[0].status.description or "")
    assert handler._spans == {} and handler._hidden == {}  # nothing left open

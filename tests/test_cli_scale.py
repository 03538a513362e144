"""``fama run`` against three model replicas on 127.0.0.1, one dying mid-run, with
``--trace otel``: nothing lost, load spread, endpoint counts in ``fama report``, spans with
the run's metadata in the trace file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel

from benchmarks.scripted_server import ScriptedServer
from fama.commands import run as run_command_module
from fama.envs.tau2.tasks import load_tasks
from fama.envs.tau2.user_scenario import load_user_guidelines
from fama.llm.models import ModelSpec, resolve_chat_model
from fama.runs.report import build_report, render_report
from fama.runs.store import RunStore
from tests.fakes import ScriptedChatModel
from tests.test_cli_run import TASK_IDS, parse
from tests.test_runner import gold_agent_reply, scripted_user_reply

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture
def replicas(tau2_data_dir: Path) -> Iterator[list[ScriptedServer]]:
    agent = gold_agent_reply(load_tasks("retail", data_dir=tau2_data_dir, task_ids=TASK_IDS))
    started = [
        ScriptedServer("a", agent, delay_s=0.01),
        ScriptedServer("b", agent, delay_s=0.01, fail_after=3),  # dies mid-run
        ScriptedServer("c", agent, delay_s=0.01),
    ]
    yield started
    for server in started:
        server.stop()


def test_replicas_share_the_load_survive_a_failure_and_are_reported(
    tau2_data_dir: Path, tmp_path: Path, replicas: list[ScriptedServer]
) -> None:
    tasks = load_tasks("retail", data_dir=tau2_data_dir, task_ids=TASK_IDS)
    user = scripted_user_reply(tasks, load_user_guidelines(tau2_data_dir))

    def factory(spec: ModelSpec) -> BaseChatModel:  # the agent over HTTP, the user scripted
        if spec.model == "scripted:user":
            return ScriptedChatModel([user] * 100)
        return resolve_chat_model(spec)

    db, spans = tmp_path / "runs.sqlite", tmp_path / "spans.jsonl"
    argv = [
        "--env", "tau2:retail", "--data-dir", str(tau2_data_dir), "--split", "test",
        "--task-ids", ",".join(TASK_IDS), "--trials", "2",
        "--model", "openai:gold", "--user-model", "scripted:user", "--no-judge",
        "--base-url", ",".join(s.url for s in replicas), "--user-base-url", replicas[0].url,
        "--db", str(db), "--run-id", "scale", "--no-progress", "--concurrency", "4",
        "--trace", "otel", "--trace-file", str(spans),
    ]  # fmt: skip
    assert run_command_module.run_command(parse(argv), model_factory=factory) == 0
    with RunStore(db) as store:
        episodes = store.episodes("scale", messages=False)
        report = build_report(store, "scale")
    assert [e.reward for e in episodes] == [1.0] * 4  # nothing lost
    agent_calls = sum(c["node"] == "agent" for e in episodes for c in e.llm_calls)
    endpoints = {e["url"]: e for e in report["endpoints"]}
    assert sorted(endpoints) == sorted(s.url for s in replicas)
    assert sum(e["requests"] - e["failures"] for e in endpoints.values()) == agent_calls
    assert [s.served for s in replicas][1] == 3 and all(s.served >= 3 for s in replicas)
    dead = endpoints[replicas[1].url]
    assert dead["failures"] >= 1 and dead["taken_out"] >= 1
    text = render_report(report)
    assert "Model endpoints (replicas):" in text and replicas[1].url in text

    lines = [json.loads(line) for line in spans.read_text(encoding="utf-8").splitlines()]
    roots = sorted(s["name"] for s in lines if s["parent_id"] is None)
    assert roots == ["episode 5/0", "episode 5/1", "episode 9/0", "episode 9/1"]
    chats = [s for s in lines if s["name"] == "chat gold"]
    assert len(chats) == agent_calls
    assert all(s["attributes"]["gen_ai.usage.input_tokens"] == 3 for s in chats)
    assert all(s["attributes"]["langchain.metadata.fama_run_id"] == "scale" for s in chats)
    assert {s["attributes"]["langchain.metadata.task_id"] for s in chats} == set(TASK_IDS)

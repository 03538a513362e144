"""``fama study`` end to end on tau2 retail with scripted models: every stage, the results
folder, the paper-style table, and resuming after Ctrl-C without redoing stored stages."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from fama.cli import build_parser
from fama.commands.study import study_command
from fama.core.fama_config import FamaConfig
from fama.envs.tau2.tasks import load_tasks
from fama.envs.tau2.user_scenario import load_user_guidelines
from fama.llm.models import ModelSpec
from fama.runs.store import RunStore
from tests.fakes import ScriptedChatModel
from tests.test_runner import gold_agent_reply, scripted_user_reply

TRAIN = ["0", "1"]
TEST = ["5", "9"]
ARMS = ["baseline", "fama-static", "fama-dynamic", "all-helpers"]


def analyst_reply(messages: list[BaseMessage]) -> str:
    """Every failure is an incomplete fulfilment that memory would have prevented."""
    prompt = str(messages[0].content)
    if "The error category you judge" in prompt:
        occurred = "(`incomplete_fulfilment`)" in prompt
        return json.dumps({"occurred": occurred, "rationale": "stopped", "evidence_steps": [1]})
    if "## Existing failure categories" in prompt:
        return json.dumps({"covered_by_existing": True, "rationale": "fits"})
    if "## Analyst reports" in prompt:
        return json.dumps({"primary_errors": ["incomplete_fulfilment"], "rationale": "stopped"})
    if "## Available helpers" in prompt:
        return json.dumps({"helpers": ["memory"], "rationale": "keeps the requests in view"})
    raise AssertionError(f"unexpected analysis prompt: {prompt[:200]}")


class Factory:
    """Scripted models: the agent gives up on train tasks and replays the gold actions on
    test tasks; the helper model (--helper-model) answers every helper prompt with "OK"."""

    def __init__(self, data_dir: Path, on_agent: Callable[[int], None] | None = None) -> None:
        tasks = load_tasks("retail", data_dir=data_dir, task_ids=TRAIN + TEST)
        self.gold = gold_agent_reply(tasks)
        self.user = scripted_user_reply(tasks, load_user_guidelines(data_dir))
        self.on_agent = on_agent
        self.specs: list[str] = []

    def agent(self, run: int) -> Callable[[list[BaseMessage]], AIMessage]:
        def reply(messages: list[BaseMessage]) -> AIMessage:
            if not any(isinstance(m, SystemMessage) for m in messages):
                raise AssertionError("a helper prompt reached the agent model")
            if self.on_agent is not None:
                self.on_agent(run)
            first = next(m for m in messages if isinstance(m, HumanMessage))
            if first.text.rsplit(" ", 1)[-1] in TRAIN:
                return AIMessage(content="Sorry, I cannot help with that.")
            return self.gold(messages)

        return reply

    def __call__(self, spec: ModelSpec) -> BaseChatModel:
        self.specs.append(spec.model)
        if spec.model == "scripted:user":
            return ScriptedChatModel([self.user] * 200)
        if spec.model == "scripted:analyst":
            return ScriptedChatModel([analyst_reply] * 200)
        if spec.model == "scripted:helper":
            return ScriptedChatModel(["OK"] * 200)
        return ScriptedChatModel([self.agent(self.specs.count(spec.model))] * 400)


def study_args(data_dir: Path, out: Path, *extra: str) -> Any:
    return build_parser().parse_args(
        [
            "study",
            "--env",
            "tau2:retail",
            "--model",
            "scripted:agent",
            "--user-model",
            "scripted:user",
            "--analyst-model",
            "scripted:analyst",
            "--helper-model",
            "scripted:helper",
            "--no-judge",
            "--data-dir",
            str(data_dir),
            "--train-task-ids",
            *TRAIN,
            "--test-task-ids",
            *TEST,
            "--trials",
            "2",
            "--concurrency",
            "1",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_study_runs_every_stage_and_resumes_after_ctrl_c(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    sent: list[bool] = []

    def interrupt_fama_dynamic(run: int) -> None:
        if run == 4 and not sent:  # train, baseline, static, then the dynamic arm
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    first = Factory(tau2_data_dir, on_agent=interrupt_fama_dynamic)
    assert study_command(study_args(tau2_data_dir, out), model_factory=first) == 1
    err = capsys.readouterr().err
    assert "stage fama-dynamic stopped" in err and "run the same command again" in err
    assert first.specs.count("scripted:analyst") == 1

    config = FamaConfig.load(out / "fama_config.json")
    assert config.helpers == ["memory"] and config.params["memory"]["k"] == 6
    assert config.environment == "tau2:retail" and config.split == "train"
    assert config.analysed_task_ids == TRAIN
    assert {c.id: c.count for c in config.categories}["incomplete_fulfilment"] == 2

    second = Factory(tau2_data_dir)
    assert study_command(study_args(tau2_data_dir, out), model_factory=second) == 0
    captured = capsys.readouterr()
    for stage in ("baseline-train", "baseline", "fama-static"):
        assert f"[{stage}] stored" in captured.err
    assert "[analysis] stored" in captured.err
    assert "scripted:analyst" not in second.specs  # the analysis was not redone
    assert second.specs.count("scripted:agent") == 2  # only the dynamic and all arms ran

    with RunStore(out / "runs.sqlite") as store:
        configs = {a: store.load_run(f"study-{a}").config for a in ARMS}
        assert [(c["agent"], c["mode"], c["helper_model"]) for c in configs.values()] == [
            ("fc", None, None),
            ("fama", "static", "scripted:helper"),
            ("fama", "dynamic", "scripted:helper"),
            ("fama", "all", "scripted:helper"),
        ]
        for arm in ARMS:
            assert len(store.episodes(f"study-{arm}")) == 4
        train = store.episodes("study-baseline-train")
        assert [e.reward for e in train] == [0.0, 0.0]
    for name in ("taxonomy.json", "fama_config.json", "compare.html", "results.md"):
        assert (out / name).is_file()
    results = (out / "results.md").read_text(encoding="utf-8")
    assert "| agent | pass^1 | pass^2 | token overhead | latency (s/episode) |" in results
    assert "| FC (baseline) | 100.0 | 100.0 | - |" in results
    assert "| FAMA static (memory) |" in results
    assert "| All helpers (IRMA-like) |" in results
    assert "failure analysis (primary errors): incomplete_fulfilment 2" in results
    assert "| FC (baseline) |" in captured.out  # the table is printed too

    # a third call has nothing left to run and rewrites the results
    third = Factory(tau2_data_dir)
    assert study_command(study_args(tau2_data_dir, out), model_factory=third) == 0
    assert third.specs == []


def test_study_refuses_another_plan_in_the_same_folder(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    out.mkdir()
    (out / "study.json").write_text(
        json.dumps(
            {
                "env": "tau2:retail",
                "model": "other:model",
                "train_split": "train",
                "test_split": "test",
                "train_task_ids": TRAIN,
                "test_task_ids": TEST,
                "train_trials": 1,
                "trials": 2,
                "prefix": "study",
                "run_options": [],
            }
        )
    )
    factory = Factory(tau2_data_dir)
    assert study_command(study_args(tau2_data_dir, out), model_factory=factory) == 1
    err = capsys.readouterr().err
    assert "another plan (differs in: model, run_options, fama_options)" in err
    assert factory.specs == []


def test_study_splits_overlapping_tasks_refused(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = study_args(tau2_data_dir, tmp_path / "s", "--test-task-ids", "1", "5")
    assert study_command(args, model_factory=Factory(tau2_data_dir)) == 2
    assert "train and test tasks overlap: 1" in capsys.readouterr().err


@pytest.mark.enable_socket
def test_models_survive_a_second_event_loop_in_one_process() -> None:
    """Each stage of a study runs its own ``asyncio.run``; a model resolved for a later stage
    must not reuse a connection bound to an earlier, closed event loop."""
    import asyncio
    import http.server
    import threading

    from fama.llm.models import resolve_chat_model

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: connections would be pooled

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "m",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "hi"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = ModelSpec(model="openai:m", base_url=f"http://127.0.0.1:{server.server_port}/v1")
        for _ in range(3):  # one event loop per stage
            reply = asyncio.run(resolve_chat_model(spec).ainvoke("x"))
            assert reply.content == "hi"
    finally:
        server.shutdown()
        server.server_close()


def test_a_benchmark_without_splits_is_halved(acebench_data_dir: Path) -> None:
    from fama.commands.study import select_tasks

    data = ["--data-dir", str(acebench_data_dir)]
    argv = ["study", "--env", "acebench:multi_turn", "--model", "m:m", *data, "--test-tasks", "3"]
    args = build_parser().parse_args(argv)
    train_split, train, test_split, test = select_tasks(args)
    assert train_split is None and test_split is None
    assert len(train) == 15 and len(test) == 3 and not set(train) & set(test)


def test_output_limits_reach_every_run_and_the_analysis(
    tau2_data_dir: Path, tmp_path: Path
) -> None:
    from fama.commands.study import CommandStages, build_plan

    limits = "agent=300,analyst=200"
    argv = ["study", "--env", "tau2:retail", "--model", "m:m", "--data-dir", str(tau2_data_dir)]
    args = build_parser().parse_args([*argv, "--test-tasks", "1", "--max-output-tokens", limits])
    stages = CommandStages(build_plan(args), tmp_path / "runs.sqlite", args, None)
    calls: list[list[str]] = []

    def record(argv: list[str]) -> int:
        calls.append(argv)
        return 0

    stages._call = record  # type: ignore[method-assign]
    stages.run("r", split="test", task_ids=["1"], trials=1, agent="fc", mode=None, fama_config=None)
    stages.analyze("r", split="train", out=tmp_path)
    assert [c[0] for c in calls] == ["run", "analyze"]
    for call in calls:
        assert call[call.index("--max-output-tokens") + 1] == limits


def test_stage_children_get_the_interrupt_and_time_to_stop(tmp_path: Path) -> None:
    import signal
    import sys
    import threading
    import time

    from fama.commands.child import run_child

    assert run_child([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    marker, ready = tmp_path / "stopped", tmp_path / "ready"
    script = (
        "import signal, sys, time, pathlib\n"
        "def stop(*_):\n"
        f"    pathlib.Path({str(marker)!r}).write_text('interrupted')\n"
        "    sys.exit(130)\n"
        "signal.signal(signal.SIGINT, stop)\n"
        f"pathlib.Path({str(ready)!r}).write_text('ready')\n"
        "time.sleep(30)\n"
    )

    def ctrl_c_when_ready() -> None:
        for _ in range(300):  # at most 30 s
            if ready.exists():
                break
            time.sleep(0.1)
        main = threading.main_thread().ident
        assert main is not None
        signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C, to the parent only

    threading.Thread(target=ctrl_c_when_ready, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_child([sys.executable, "-c", script], grace_s=20.0)
    assert marker.read_text() == "interrupted"  # the child stored its state before we left

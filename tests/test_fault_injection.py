"""``fama run`` against a scripted OpenAI-compatible server with faults (issue 12).

Each case drives the real command (the real OpenAI client, retries, probe, runner and store)
on one tau2 retail task and checks the stored messages and LLM calls, the run and episode
status and the exit code. Missing usage, brace floods and deep JSON are covered with the
token accounting and tool-call repair work.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from fama.commands import run as run_command_module
from fama.core.fama_config import FamaConfig
from fama.llm.probe import PROBE_PROMPT
from fama.runs.report import build_report, render_report
from fama.runs.store import EpisodeRecord, RunStore
from fama.runs.store.leases import Lease
from tests.scripted_server import (
    Action,
    ChatRequest,
    Drop,
    Hang,
    Html,
    HttpError,
    Reply,
    ScriptedServer,
    closed_port,
    context_overflow,
)

pytestmark = pytest.mark.enable_socket

REPO = Path(__file__).resolve().parents[1]
RUN_ID = "faults"
TOOL_CALL = Reply("", (("get_order_details", {"order_id": "#W0000000"}),))
USER_TEXT = Reply("Hi, I need the status of my order #W0000000.")

Handler = Callable[[ChatRequest], Action]


def script(
    agent: Handler,
    *,
    user: Handler = lambda req: USER_TEXT,
    helper: Handler = lambda req: Reply("1. Look up the order"),
) -> Handler:
    """Route the probe, the agent (tools), the user simulator (system prompt) and helpers."""

    def respond(req: ChatRequest) -> Action:
        if req.last_text == PROBE_PROMPT:
            return Reply("OK")
        if req.role == "agent":
            return agent(req)
        if req.messages and req.messages[0].get("role") == "system":
            return user(req)
        return helper(req)

    return respond


def argv(data_dir: Path, db: Path, base_url: str, *extra: str) -> list[str]:
    return [
        "run",
        "--env",
        "tau2:retail",
        "--data-dir",
        str(data_dir),
        "--task-ids",
        "5",
        "--model",
        "openai:scripted",
        "--base-url",
        base_url,
        "--no-judge",
        "--db",
        str(db),
        "--run-id",
        RUN_ID,
        "--no-progress",
        "--retries",
        "1",
        *extra,
    ]


def fama_run(args: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="fama")
    run_command_module.register(parser.add_subparsers(dest="command", required=True))
    return run_command_module.run_command(parser.parse_args(list(args)))


def stored(db: Path) -> tuple[str, list[EpisodeRecord]]:
    with RunStore(db) as store:
        return store.load_run(RUN_ID).status, store.episodes(RUN_ID)


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a base URL needs no key


def test_http_400_after_two_tool_calls_keeps_the_trajectory(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def agent(req: ChatRequest) -> Action:
        return TOOL_CALL if req.number <= 2 else context_overflow()

    db = tmp_path / "runs.sqlite"
    with ScriptedServer(script(agent)) as server:
        code = fama_run(argv(tau2_data_dir, db, server.base_url))
    assert code == 0  # a scored episode (reward 0), not a failure of the run
    status, (episode,) = stored(db)
    assert status == "finished"
    assert (episode.status, episode.termination, episode.reward) == (
        "done",
        "context_overflow",
        0.0,
    )
    roles = [m["role"] for m in episode.records]
    assert roles == ["assistant", "user", "assistant", "tool", "assistant", "tool"]
    assert [c["node"] for c in episode.llm_calls] == ["user", "agent", "agent"]
    assert episode.extra["exception"]["kind"] == "context_overflow"
    assert "maximum context length" in episode.extra["exception"]["message"]
    assert server.count("agent") == 3  # a context overflow is not retried
    with RunStore(db) as store:
        text = render_report(build_report(store, RUN_ID))
    assert "context_overflow 1" in text and "longer than the model's context" in text


@pytest.mark.parametrize(
    ("fault", "exception"),
    [(Html(), "ValueError"), (Drop(), "ModelUnavailableError")],
    ids=["html-body", "dropped-connection"],
)
def test_server_faults_are_infrastructure_errors_and_exit_1(
    tau2_data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fault: Action,
    exception: str,
) -> None:
    def agent(req: ChatRequest) -> Action:
        return TOOL_CALL if req.number == 1 else fault

    db = tmp_path / "runs.sqlite"
    with ScriptedServer(script(agent)) as server:
        code = fama_run(argv(tau2_data_dir, db, server.base_url))
    assert code == 1
    assert "all 1 episodes failed (1 infrastructure errors, 0 errors)" in capsys.readouterr().err
    status, (episode,) = stored(db)
    assert status == "finished"
    assert (episode.status, episode.reward) == ("infrastructure_error", None)
    assert [m["role"] for m in episode.records] == ["assistant", "user", "assistant", "tool"]
    assert [c["node"] for c in episode.llm_calls] == ["user", "agent"]
    assert episode.extra["exception"]["type"] == exception
    retried = isinstance(fault, Drop)  # a dropped connection is retried (--retries 1)
    assert server.count("agent") == (3 if retried else 2)


def test_a_hung_server_costs_the_request_timeout_not_minutes(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    with ScriptedServer(script(lambda req: Hang(60))) as server:
        started = time.monotonic()
        code = fama_run(
            argv(tau2_data_dir, db, server.base_url, "--request-timeout", "0.5", "--retries", "0")
        )
        elapsed = time.monotonic() - started
    assert code == 1 and elapsed < 20
    _, (episode,) = stored(db)
    assert episode.status == "infrastructure_error"
    assert "Request timed out" in (episode.error_detail or "")
    assert server.count("agent") == 1


def test_a_hung_server_is_caught_by_the_probe(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    with ScriptedServer(lambda req: Hang(60)) as server:
        code = fama_run(argv(tau2_data_dir, db, server.base_url, "--request-timeout", "0.5"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("fama run: agent model openai:scripted at http://127.0.0.1:")
    assert err[0].endswith("failed a test request: no answer within 0.5 s")
    with RunStore(db) as store:
        assert store.list_runs() == []  # nothing left behind: the run id stays usable


def test_nothing_listening_is_one_line_and_leaves_no_run(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    code = fama_run(argv(tau2_data_dir, db, f"http://127.0.0.1:{closed_port()}/v1"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("fama run: agent model openai:scripted at http://127.0.0.1:")
    assert "cannot connect (is the server running, and is the URL right?)" in err[0]
    with RunStore(db) as store:
        assert store.list_runs() == []
    with sqlite3.connect(db) as conn:  # the lease was given back
        assert conn.execute("SELECT count(*) FROM run_leases").fetchone()[0] == 0


def test_helper_500_degrades_the_decision(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = FamaConfig(backbone="openai:scripted", environment="tau2:retail", helpers=["planner"])
    path = tmp_path / "fama.json"
    config.save(path)

    def agent(req: ChatRequest) -> Action:
        return TOOL_CALL if req.number == 1 else Reply("Done. ###STOP###")

    def user(req: ChatRequest) -> Action:
        return USER_TEXT if req.number <= 2 else Reply("Thanks ###STOP###")

    db = tmp_path / "runs.sqlite"
    responder = script(agent, user=user, helper=lambda req: HttpError(500, "helper down"))
    with ScriptedServer(responder) as server:
        extra = ("--agent", "fama", "--fama-config", str(path), "--max-steps", "8")
        code = fama_run(argv(tau2_data_dir, db, server.base_url, *extra))
    assert code == 0
    _, (episode,) = stored(db)
    assert episode.status == "done" and episode.termination is not None
    assert episode.termination != "infrastructure_error"
    failures = [g for d in episode.extra["fama_decisions"] for g in d["guidance"] if g.get("error")]
    assert failures and all(g["helper"] == "planner" for g in failures)
    assert "(node helper:planner) unavailable after 2 attempt(s)" in failures[0]["error"]
    assert "Error code: 500 - helper down" in failures[0]["error"]
    assert not any(c["node"] == "helper:planner" for c in episode.llm_calls)


def test_circuit_breaker_stops_a_run_whose_server_is_down(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    with ScriptedServer(script(lambda req: HttpError(503, "overloaded"))) as server:
        args = argv(tau2_data_dir, db, server.base_url, "--retries", "0", "--circuit-breaker", "2")
        args[args.index("5")] = "5,9,10,11"
        code = fama_run([*args, "--concurrency", "1"])
    assert code == 1
    assert "stopped early: 2 consecutive episodes ended in an infrastructure error" in (
        capsys.readouterr().err
    )
    status, episodes = stored(db)
    assert status == "interrupted" and len(episodes) == 2
    assert server.count("agent") == 2


def test_bad_settings_are_refused_at_start(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    bad_k = tmp_path / "bad.json"
    FamaConfig(
        backbone="m", environment="tau2:retail", helpers=["memory"], params={"memory": {"k": -5}}
    ).save(bad_k)
    airline = tmp_path / "airline.json"
    FamaConfig(backbone="m", environment="tau2:airline", helpers=["memory"]).save(airline)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    cases = {
        ("--temperature", "nan"): "--temperature must be between 0 and 2, got nan",
        ("--agent", "fama", "--fama-config", str(bad_k)): "memory.k: must be between 0 and",
        ("--agent", "fama", "--fama-config", str(airline)): "made for tau2:airline, not tau2:r",
        ("--request-timeout", "0"): "--request-timeout must be a positive number",
        ("--model", "anthropic:claude-x"): "needs its LangChain package",
    }
    for extra, message in cases.items():
        assert fama_run(argv(tau2_data_dir, db, url, *extra)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and "Traceback" not in "".join(err)
    with RunStore(db) as store:
        assert store.list_runs() == []
    # --force-config gets past the environment check (to the probe of the closed port)
    forced = argv(tau2_data_dir, db, url, "--agent", "fama", "--fama-config", str(airline))
    assert fama_run([*forced, "--force-config"]) == 1
    assert "cannot connect" in capsys.readouterr().err


def test_resume_says_how_many_failures_are_skipped(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    with ScriptedServer(script(lambda req: HttpError(500, "boom"))) as server:
        assert fama_run(argv(tau2_data_dir, db, server.base_url, "--retries", "0")) == 1
        capsys.readouterr()
        assert fama_run(argv(tau2_data_dir, db, server.base_url, "--retries", "0")) == 0
    err = capsys.readouterr().err
    assert "1 stored episodes ended in an infrastructure error or error and are skipped" in err
    assert "--retry-errors" in err


# --- two processes, SIGTERM ------------------------------------------------------------


def start_fama(args: Sequence[str], data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAMA_DATA_DIR": str(data_dir)}
    env.pop("OPENAI_API_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "fama.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.fixture
def slow_agent() -> Iterator[ScriptedServer]:
    """Agent requests answered after 0.5 s (tool call twice, then a stop), user instant."""

    def agent(req: ChatRequest) -> Action:
        time.sleep(0.5)
        return TOOL_CALL if req.number % 3 else Reply("Anything else?")

    def user(req: ChatRequest) -> Action:
        return USER_TEXT if req.number < 3 else Reply("No, bye ###STOP###")

    with ScriptedServer(script(agent, user=user)) as server:
        yield server


def test_a_second_process_on_the_same_run_is_refused(
    tau2_data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    slow_agent: ScriptedServer,
) -> None:
    db = tmp_path / "runs.sqlite"
    args = argv(tau2_data_dir, db, slow_agent.base_url)
    first = start_fama(args, tau2_data_dir)
    try:
        wait_for(lambda: slow_agent.count("agent") >= 1)
        before = slow_agent.count()
        assert fama_run(args) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"is being run by pid {first.pid}" in err[0]
        assert slow_agent.count() - before <= 1  # only the first process's traffic
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
        first.wait()
    status, episodes = stored(db)
    assert status == "finished" and len(episodes) == 1 and episodes[0].status == "done"
    # the lease is free again: a resume runs (nothing left to do)
    assert fama_run(args) == 0


def test_a_killed_owner_leaves_a_lease_that_is_taken_over(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    with RunStore(db) as store:
        store.acquire_lease(Lease(RUN_ID, pid=int(dead.stdout)))
    with ScriptedServer(script(lambda req: Reply("Bye ###STOP###"))) as server:
        assert fama_run(argv(tau2_data_dir, db, server.base_url)) == 0
    assert stored(db)[0] == "finished"


def test_sigterm_marks_the_run_interrupted(
    tau2_data_dir: Path, tmp_path: Path, slow_agent: ScriptedServer
) -> None:
    db = tmp_path / "runs.sqlite"
    proc = start_fama(argv(tau2_data_dir, db, slow_agent.base_url), tau2_data_dir)
    try:
        wait_for(lambda: slow_agent.count("agent") >= 1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143
    assert "interrupted (SIGTERM)" in err and "Traceback" not in err
    status, episodes = stored(db)
    assert status == "interrupted" and episodes == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM run_leases").fetchone()[0] == 0

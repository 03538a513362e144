"""Run leases, the keep-the-better-outcome rule, the circuit breaker, helper parameter checks,
validation messages and the endpoint probe (issue 12)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from fama.core.fama_config import FamaConfig
from fama.core.validation import brief
from fama.helpers.params import config_problems
from fama.llm.models import ModelSpec
from fama.llm.probe import EndpointError, probe_model
from fama.runs.breaker import CircuitBreaker
from fama.runs.lease import held_lease
from fama.runs.runner import EpisodeJob, EpisodeOutcome, run_jobs
from fama.runs.store import EpisodeRecord, RunLeaseError, RunStore
from fama.runs.store.leases import Lease
from tests.fakes import ScriptedChatModel


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_a_live_lease_refuses_a_second_owner_and_names_the_first(tmp_path: Path) -> None:
    with RunStore(tmp_path / "r.sqlite") as store:
        mine = Lease("r1")
        store.acquire_lease(mine)
        store.acquire_lease(mine)  # the owner may take it again
        with pytest.raises(RunLeaseError, match=r"run 'r1' is being run by pid \d+ on "):
            store.acquire_lease(Lease("r1"))
        store.acquire_lease(Lease("r2"))  # other runs are independent
        assert store.renew_lease(mine)
        store.release_lease(mine)
        store.acquire_lease(Lease("r1"))  # free again


def test_stale_or_orphaned_leases_are_taken_over(tmp_path: Path) -> None:
    with RunStore(tmp_path / "r.sqlite") as store:
        old = Lease("r1")
        store.acquire_lease(old)
        time.sleep(0.05)
        taker = Lease("r1")
        store.acquire_lease(taker, stale_after_s=0.01)  # no heartbeat for too long
        assert not store.renew_lease(old)  # the old owner learns it lost the lease
        store.release_lease(old)  # and cannot release someone else's
        with pytest.raises(RunLeaseError):
            store.acquire_lease(Lease("r1"))
        store.acquire_lease(Lease("r2", pid=dead_pid()))
        store.acquire_lease(Lease("r2"))  # its owner died on this host


def test_held_lease_heartbeats_and_releases(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with held_lease(db, "r1", heartbeat_s=0.05, stale_after_s=0.5), RunStore(db) as store:
        time.sleep(0.8)  # longer than stale_after_s: only the heartbeat keeps it
        with pytest.raises(RunLeaseError):
            store.acquire_lease(Lease("r1"), stale_after_s=0.5)
    with RunStore(db) as store:
        store.acquire_lease(Lease("r1"), stale_after_s=0.5)
    with (
        pytest.raises(ValueError, match="heartbeat_s"),
        held_lease(db, "r3", heartbeat_s=5, stale_after_s=1),
    ):
        pass


def record(status: str, reward: float | None) -> EpisodeRecord:
    return EpisodeRecord(
        run_id="r",
        task_id="t",
        trial=0,
        domain="d",
        split=None,
        status=status,  # type: ignore[arg-type]
        termination="user_stop" if status == "done" else None,
        reward=reward,
        records=[{"role": "assistant", "content": status}],
    )


def test_a_failure_never_overwrites_a_stored_done_episode(tmp_path: Path) -> None:
    with RunStore(tmp_path / "r.sqlite") as store:
        store.create_or_resume_run("r", {"k": 1}, [])
        assert store.save_episode("r", record("infrastructure_error", None))
        assert store.save_episode("r", record("done", 1.0))  # a success replaces a failure
        assert not store.save_episode("r", record("infrastructure_error", None))
        assert not store.save_episode("r", record("error", None))
        assert store.save_episode("r", record("done", 0.0))  # a later done replaces it
        (kept,) = store.episodes("r")
    assert (kept.status, kept.reward, kept.records[0]["content"]) == ("done", 0.0, "done")


def test_circuit_breaker_counts_consecutive_infrastructure_errors() -> None:
    breaker = CircuitBreaker(3)
    assert not breaker.record("infrastructure_error", "a")
    assert not breaker.record("infrastructure_error", "b")
    assert not breaker.record("done")  # resets
    assert not breaker.record("infrastructure_error")
    assert not breaker.record("error")
    for detail in ("x", "y"):
        assert not breaker.record("infrastructure_error", f"Traceback\n{detail}")
    assert breaker.record("infrastructure_error", "ModelUnavailableError: down")
    assert breaker.reason() == (
        "3 consecutive episodes ended in an infrastructure error; last: ModelUnavailableError: down"
    )
    with pytest.raises(ValueError):
        CircuitBreaker(0)


async def test_runner_stops_when_the_breaker_trips(tmp_path: Path) -> None:
    started: list[str] = []

    async def execute(job: EpisodeJob) -> EpisodeOutcome:
        started.append(job.task_id)
        if job.task_id == "slow":
            await asyncio.sleep(30)  # cancelled when the breaker trips
        await asyncio.sleep(0.01)
        return EpisodeOutcome("infrastructure_error", None, None, error_detail="down")

    jobs = [EpisodeJob(t, 0, 1) for t in ("slow", "a", "b", "c", "d", "e")]
    with RunStore(tmp_path / "r.sqlite") as store:
        store.create_or_resume_run("r", {}, [])
        summary = await asyncio.wait_for(
            run_jobs(
                store,
                "r",
                jobs,
                execute,
                domain="d",
                split=None,
                agent_kind="fc",
                concurrency=2,
                breaker=CircuitBreaker(2),
            ),
            timeout=10,
        )
        assert summary.stopped is not None and summary.stopped.startswith("2 consecutive")
        assert summary.finished == 2 and summary.all_failed
        assert store.load_run("r").status == "interrupted"
        assert {e.task_id for e in store.episodes("r")} == {"a", "b"}
    assert started == ["slow", "a", "b"]


def test_helper_parameters_are_checked_against_each_helpers_schema() -> None:
    config = FamaConfig(
        backbone="m",
        environment="tau2:retail",
        helpers=["memory", "oracle"],
        params={
            "memory": {"k": -5, "max_message_chars": "300", "window": 3},
            "decision_verifier": {"llm_check": 1, "rules": True},
            "planner": {"max_steps": 4},
            "ghost": {"x": 1},
        },
    )
    assert config_problems(config) == [
        "unknown helper 'oracle'",
        "memory.k: must be between 0 and 100000, got -5",
        "memory.max_message_chars: must be a whole number, got '300'",
        "memory.window: unknown parameter (known: k, max_message_chars)",
        "decision_verifier.llm_check: must be true or false",
        "decision_verifier.rules: must be a whole number, got True",
        "parameters for unknown helper 'ghost'",
    ]
    good = FamaConfig(
        backbone="m", environment="e", helpers=["memory"], params={"memory": {"k": 0}}
    )
    assert config_problems(good) == []


def test_validation_errors_are_a_few_short_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        '{"backbone": 1, "helpers": "x", "params": {"memory": 5}, "format_version": '
        '"a", "derived_from": 3, "recommendation_counts": {"a": "b"}}'
    )
    with pytest.raises(ValueError) as info:
        FamaConfig.load(path)
    lines = str(info.value).splitlines()
    assert lines[0].endswith("is not a valid FAMA configuration: 7 problem(s):")
    assert lines[1:3] == [
        "  format_version: Input should be a valid integer, unable to parse string as an integer",
        "  backbone: Input should be a valid string",
    ]
    assert lines[-1] == "  ... and 2 more" and len(lines) == 7
    assert "https://" not in str(info.value)
    with pytest.raises(ValidationError) as single:
        FamaConfig.model_validate({"backbone": "m", "environment": "e"})
    assert brief(single.value) == "1 problem(s):\n  helpers: Field required"


async def test_probe_reports_one_line_per_endpoint() -> None:
    spec = ModelSpec(model="openai:m", base_url="http://127.0.0.1:9/v1")
    await probe_model("agent", spec, ScriptedChatModel(["OK"]))

    class Slow(ScriptedChatModel):
        async def _agenerate(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            await asyncio.sleep(5)
            raise AssertionError("unreachable")

    with pytest.raises(EndpointError) as slow:
        await probe_model("user", spec, Slow([]), timeout_s=0.05)
    assert str(slow.value) == (
        "user model openai:m at http://127.0.0.1:9/v1 failed a test request: "
        "no answer within 0.05 s"
    )
    broken = ScriptedChatModel([KeyError("no such field")])
    with pytest.raises(EndpointError, match=r"failed a test request: KeyError: 'no such field'"):
        await probe_model("judge", ModelSpec(model="openai:m"), broken)

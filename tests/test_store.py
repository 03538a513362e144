"""The run store keeps runs and episodes exactly, resumes safely and rejects bad files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from fama.core.trajectory import MessageRecord
from fama.runs.store import (
    SCHEMA_VERSION,
    EpisodeRecord,
    EpisodeStatus,
    RunConfigMismatchError,
    RunNotFoundError,
    RunStore,
    StoreError,
    config_differences,
)

PROMPTS = [{"name": "tau2_agent", "version": "v1", "sha256": "a" * 64}]
CONFIG: dict[str, Any] = {"env": "tau2:retail", "model": "m", "trials": 2, "concurrency": 4}


def make_episode(
    task_id: str = "0",
    trial: int = 0,
    *,
    run_id: str = "r1",
    reward: float | None = 1.0,
    status: EpisodeStatus = "done",
    termination: str | None = "user_stop",
    calls: list[tuple[str, int, int]] | None = None,
    components: dict[str, float] | None = None,
    error_detail: str | None = None,
) -> EpisodeRecord:
    """A synthetic episode with a small trajectory, LLM calls and node timings."""
    records: list[MessageRecord] = [
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "Cancel order #W1, ünïcode"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "cancel", "arguments": {"order_id": "#W1"}}],
        },
        {
            "role": "tool",
            "content": "Error: not found",
            "tool_call_id": "c1",
            "name": "cancel",
            "requestor": "assistant",
            "error": True,
        },
    ]
    usage = calls if calls is not None else [("agent", 100, 10), ("user", 50, 5)]
    return EpisodeRecord(
        run_id=run_id,
        task_id=task_id,
        trial=trial,
        domain="retail",
        split="test",
        status=status,
        termination=termination,
        reward=reward,
        reward_info={
            "reward": reward,
            "components": components if components is not None else {"DB": reward or 0.0},
        },
        records=records,
        llm_calls=[
            {"node": n, "model": "m", "input_tokens": i, "output_tokens": o, "latency_ms": 12.5}
            for n, i, o in usage
        ],
        node_timings=[{"node": "agent", "latency_ms": 13.0}, {"node": "tools", "latency_ms": 0.5}],
        steps=4,
        tool_errors=1,
        error_detail=error_detail,
        started_at="2025-01-01T00:00:00+00:00",
        duration_s=1.5,
        agent_kind="fc",
        extra={"seed": 123},
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "runs.sqlite") as s:
        s.create_or_resume_run("r1", CONFIG, PROMPTS)
        yield s


def test_episode_round_trip_is_exact(store: RunStore) -> None:
    episode = make_episode()
    store.save_episode("r1", episode)
    [loaded] = store.episodes("r1")
    assert loaded == episode
    assert json.loads(json.dumps(loaded.to_json()))["messages"] == episode.records


def test_unparseable_tool_calls_are_kept(store: RunStore) -> None:
    episode = make_episode()
    bad = {"id": "c9", "name": "cancel", "arguments": "{order_id: ", "error": "bad JSON"}
    episode.records.append({"role": "assistant", "content": "", "invalid_tool_calls": [bad]})
    store.save_episode("r1", episode)
    [loaded] = store.episodes("r1")
    assert loaded.records[-1]["invalid_tool_calls"] == [bad]


def test_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with RunStore(path) as fresh:
        fresh.create_or_resume_run("r1", CONFIG, PROMPTS)
        fresh.save_episode("r1", make_episode())
    with closing(sqlite3.connect(path)) as conn:  # back to the version-1 layout
        conn.execute("ALTER TABLE messages DROP COLUMN invalid_tool_calls")
        conn.execute("ALTER TABLE llm_calls DROP COLUMN finish_reason")
        conn.execute("ALTER TABLE llm_calls DROP COLUMN usage_missing")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    with RunStore(path) as upgraded:
        assert upgraded.episodes("r1")[0] == make_episode()
        upgraded.save_episode("r1", make_episode("1"))
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_run_header_and_status(store: RunStore) -> None:
    info = store.load_run("r1")
    assert info.config == CONFIG and info.prompt_refs == PROMPTS and info.status == "running"
    store.set_run_status("r1", "interrupted")
    assert store.load_run("r1").status == "interrupted"
    assert [r.run_id for r in store.list_runs()] == ["r1"]


def test_unknown_run_names_known_runs(store: RunStore) -> None:
    with pytest.raises(RunNotFoundError, match="r1"):
        store.load_run("nope")
    with pytest.raises(RunNotFoundError):
        store.episodes("nope")


def test_resume_and_finished_keys(store: RunStore) -> None:
    store.save_episode("r1", make_episode("0", 0))
    store.save_episode("r1", make_episode("0", 1, status="infrastructure_error", reward=None))
    # concurrency may differ on resume; the stored value is kept
    assert store.create_or_resume_run("r1", {**CONFIG, "concurrency": 1}, PROMPTS) is True
    assert store.load_run("r1").config["concurrency"] == 4
    assert store.finished_episode_keys("r1") == {("0", 0), ("0", 1)}
    assert store.finished_episode_keys("r1", statuses=["done"]) == {("0", 0)}


def test_resume_with_other_config_or_prompt_is_rejected(store: RunStore) -> None:
    with pytest.raises(RunConfigMismatchError, match="model: stored 'm', now 'other'"):
        store.create_or_resume_run("r1", {**CONFIG, "model": "other"}, PROMPTS)
    changed = [{**PROMPTS[0], "sha256": "b" * 64}]
    with pytest.raises(RunConfigMismatchError, match="prompt tau2_agent"):
        store.create_or_resume_run("r1", CONFIG, changed)


def test_resume_on_another_endpoint_of_the_same_model_is_accepted(store: RunStore) -> None:
    """A local: model's server gets a new port at every start; the model is what counts."""
    store.create_or_resume_run("r1", {**CONFIG, "base_url": "http://127.0.0.1:1/v1"}, PROMPTS)
    moved = {**CONFIG, "base_url": "http://127.0.0.1:2/v1", "user_base_url": "http://h:3/v1"}
    store.create_or_resume_run("r1", moved, PROMPTS)
    with pytest.raises(RunConfigMismatchError, match="model: stored 'm', now 'other'"):
        store.create_or_resume_run("r1", {**moved, "model": "other"}, PROMPTS)


def test_saving_again_replaces_the_attempt(store: RunStore) -> None:
    store.save_episode("r1", make_episode("0", 0, status="error", reward=None))
    store.save_episode("r1", make_episode("0", 0, reward=0.0))
    [episode] = store.episodes("r1")
    assert episode.status == "done" and episode.reward == 0.0


def test_failed_only_split_and_status_filters(store: RunStore) -> None:
    store.save_episode("r1", make_episode("0", 0, reward=1.0))
    store.save_episode("r1", make_episode("1", 0, reward=0.0))
    store.save_episode("r1", make_episode("2", 0, status="infrastructure_error", reward=None))
    assert [e.task_id for e in store.episodes("r1", failed_only=True)] == ["1"]
    assert store.episodes("r1", split="train") == []
    assert [e.task_id for e in store.episodes("r1", statuses=["infrastructure_error"])] == ["2"]


def test_wrong_run_id_is_refused(store: RunStore) -> None:
    with pytest.raises(ValueError, match="belongs to run"):
        store.save_episode("r1", make_episode(run_id="other"))


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable FAMA run store"):
        RunStore(bad)
    with pytest.raises(StoreError, match="no run store"):
        RunStore(tmp_path / "absent.sqlite", create=False)
    other = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(StoreError, match="not a FAMA run store"):
        RunStore(other)
    with closing(sqlite3.connect(other)) as conn:  # left untouched
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]


def test_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as first:
        first.create_or_resume_run("r1", CONFIG, PROMPTS)
        first.save_episode("r1", make_episode())
    with RunStore(path, create=False) as second:
        assert len(second.episodes("r1")) == 1


def test_config_differences_treats_tuples_as_lists() -> None:
    assert config_differences({"ids": ["1", "2"]}, {"ids": ("1", "2")}) == []
    assert config_differences({"a": 1}, {"b": 1}) == [
        "a: stored 1, now '<absent>'",
        "b: stored '<absent>', now 1",
    ]

"""Loading episodes lightly: without messages, and in batches."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from fama.runs.store import RunNotFoundError, RunStore
from tests.test_store import CONFIG, PROMPTS, make_episode


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "runs.sqlite") as s:
        s.create_or_resume_run("r1", CONFIG, PROMPTS)
        for task in ("0", "1", "2"):
            for trial in (0, 1):
                s.save_episode("r1", make_episode(task, trial, reward=float(trial)))
        yield s


def test_without_messages_everything_but_the_messages_is_loaded(store: RunStore) -> None:
    full = store.episodes("r1")
    light = store.episodes("r1", messages=False)
    assert [len(e.records) for e in full] == [4] * 6
    assert all(e.records == [] for e in light)
    assert [dataclasses.replace(e, records=[]) for e in full] == light
    assert light[0].llm_calls and light[0].node_timings  # usage is still there


def test_batches_cover_the_episodes_in_order(store: RunStore) -> None:
    batches = list(store.episode_batches("r1", batch=4))
    assert [len(b) for b in batches] == [4, 2]
    assert [e for b in batches for e in b] == store.episodes("r1")
    failed = [e.key for b in store.episode_batches("r1", failed_only=True, batch=1) for e in b]
    assert failed == [("0", 0), ("1", 0), ("2", 0)]


def test_bad_batch_size_and_unknown_run_are_clear_errors(store: RunStore) -> None:
    with pytest.raises(ValueError, match="batch must be at least 1"):
        next(store.episode_batches("r1", batch=0))
    with pytest.raises(RunNotFoundError):
        next(store.episode_batches("nope"))

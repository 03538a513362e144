"""Episode failure labels in the run store, and ``fama analyze`` saving them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from fama.analysis.taxonomy import AnalystLabel, EpisodeLabel, Taxonomy, Usage
from fama.commands import analyze
from fama.runs.store import EpisodeLabelRow, EpisodeRecord, RunNotFoundError, RunStore
from tests.test_analysis import two_episode_router
from tests.test_store import CONFIG, PROMPTS, make_episode
from tests.test_taxonomy import db, parse  # noqa: F401  # the analyze fixture store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "runs.sqlite") as s:
        s.create_or_resume_run("r1", CONFIG, PROMPTS)
        for task in ("a", "b"):
            for trial in (0, 1):
                s.save_episode("r1", make_episode(task, trial, reward=0.0))
        yield s


PV = EpisodeLabelRow("a", 0, "policy_violation", True, "no confirmation", (3, 4))
WR = EpisodeLabelRow("a", 0, "wrong_retrieval", False, source="analyze:analyst")
INC = EpisodeLabelRow("b", 1, "incomplete_fulfilment", True)


def test_labels_round_trip_in_order(store: RunStore) -> None:
    assert store.episode_labels("r1") == {}
    store.save_labels("r1", [PV, WR, INC])
    assert store.episode_labels("r1") == {("a", 0): [PV, WR], ("b", 1): [INC]}
    with pytest.raises(RunNotFoundError):
        store.episode_labels("nope")


def test_replace_only_touches_the_named_episodes(store: RunStore) -> None:
    store.save_labels("r1", [PV, WR, INC])
    store.save_labels("r1", [EpisodeLabelRow("a", 0, "memory_loss", True)])
    labels = store.episode_labels("r1")
    assert [x.category for x in labels[("a", 0)]] == ["memory_loss"]
    assert labels[("b", 1)] == [INC]
    store.save_labels("r1", [PV], replace=False)
    assert [x.category for x in store.episode_labels("r1")[("a", 0)]] == [
        "memory_loss",
        "policy_violation",
    ]
    store.save_labels("r1", [], episodes=[("a", 0)])  # analysed again, nothing found
    assert list(store.episode_labels("r1")) == [("b", 1)]


def test_labels_of_unknown_episodes_are_refused(store: RunStore) -> None:
    with pytest.raises(ValueError, match="no episode"):
        store.save_labels("r1", [EpisodeLabelRow("zzz", 0, "policy_violation", True)])
    with pytest.raises(ValueError, match="no episode"):
        store.save_labels("r1", [], episodes=[("a", 9)])
    with pytest.raises(RunNotFoundError):
        store.save_labels("nope", [PV])
    assert store.episode_labels("r1") == {}


def test_rerunning_an_episode_drops_its_labels(store: RunStore) -> None:
    store.save_labels("r1", [PV, INC])
    store.save_episode("r1", make_episode("a", 0, reward=1.0))
    assert list(store.episode_labels("r1")) == [("b", 1)]


def test_stores_written_before_labels_keep_working(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with RunStore(path) as s:
        s.create_or_resume_run("r1", CONFIG, PROMPTS)
        s.save_episode("r1", make_episode("a", 0))
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP TABLE episode_labels")
        conn.commit()
    with RunStore(path, create=False) as s:
        assert s.episode_labels("r1") == {}
        s.save_labels("r1", [PV])
        assert s.episode_labels("r1") == {("a", 0): [PV]}


def test_label_rows_from_a_taxonomy() -> None:
    episode = EpisodeLabel(
        episode="7#2",
        task_id="7",
        trial=2,
        domain="retail",
        primary_errors=["policy_violation"],
        recovered_errors=["wrong_retrieval"],
        rationale="why",
        evidence_steps=[5],
        analysts=[
            AnalystLabel(category="policy_violation", occurred=True, rationale="dup"),
            AnalystLabel(category="memory", occurred=True, rationale="flag", evidence_steps=[1]),
            AnalystLabel(category="planner", occurred=False),
            AnalystLabel(category="broken", occurred=None, error="timeout"),
        ],
    )
    no_trial = episode.model_copy(update={"trial": None, "task_id": "8"})
    taxonomy = Taxonomy(
        created_at="2026-01-01T00:00:00+00:00",
        run_id="r1",
        split="train",
        backbone="m",
        environments=[],
        analyst_model="a",
        prompts=[],
        task_ids=["7"],
        categories=[],
        episodes=[episode, no_trial],
        usage=Usage(),
    )
    assert analyze.label_rows(taxonomy) == [
        EpisodeLabelRow("7", 2, "policy_violation", True, "why", (5,), "analyze"),
        EpisodeLabelRow("7", 2, "wrong_retrieval", False, "why", (5,), "analyze"),
        EpisodeLabelRow("7", 2, "memory", False, "flag", (1,), "analyze:analyst"),
    ]


def test_analyze_command_saves_the_labels(
    db: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = two_episode_router().model(14)
    args = parse(["analyze", "r1", "--db", str(db), "--out", str(tmp_path / "out")])
    assert analyze.analyze_command(args, model_factory=lambda spec: model) == 0
    assert "saved 3 failure labels (2 primary) of 2 analysed episodes" in capsys.readouterr().out
    with RunStore(db, create=False) as store:
        labels = store.episode_labels("r1")
    assert {key: [(x.category, x.primary) for x in rows] for key, rows in labels.items()} == {
        ("1", 0): [("policy_violation", True)],
        ("2", 0): [("incomplete_fulfilment", True), ("contextual_misinterpretation", False)],
    }
    assert labels[("1", 0)][0].evidence_steps == (4,)


def test_episode_records_are_unchanged_by_labels(store: RunStore) -> None:
    before = [e.to_json() for e in store.episodes("r1")]
    store.save_labels("r1", [PV, INC])
    assert [e.to_json() for e in store.episodes("r1")] == before
    assert isinstance(store.episodes("r1")[0], EpisodeRecord)

"""tau2 data-folder resolution and task loading (task sets, splits, ids, bad files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fama.envs.tau2.data import DataNotFoundError, resolve_data_dir, resolve_legacy_dir
from fama.envs.tau2.tasks import load_tasks


@pytest.fixture
def no_data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No data env vars, and an empty cache folder (so nothing is pulled)."""
    monkeypatch.delenv("FAMA_DATA_DIR", raising=False)
    monkeypatch.delenv("FAMA_LEGACY_DATA_DIR", raising=False)
    monkeypatch.setenv("FAMA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_data_dir_resolution_order(
    no_data_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(DataNotFoundError) as info:
        resolve_data_dir()
    for hint in ("--data-dir", "FAMA_DATA_DIR", "fama data pull tau2"):
        assert hint in str(info.value)
    pulled = no_data_env / "data" / "tau2"
    (pulled / "domains").mkdir(parents=True)
    assert resolve_data_dir() == pulled
    from_env = tmp_path / "env"
    from_env.mkdir()
    monkeypatch.setenv("FAMA_DATA_DIR", str(from_env))
    assert resolve_data_dir() == from_env
    assert resolve_data_dir(tmp_path) == tmp_path
    with pytest.raises(DataNotFoundError, match="--data-dir does not exist"):
        resolve_data_dir(tmp_path / "missing")


def test_legacy_dir_resolution(
    no_data_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path / "tau2"
    data.mkdir()
    with pytest.raises(DataNotFoundError, match="FAMA_LEGACY_DATA_DIR"):
        resolve_legacy_dir(data)
    nested = data / "legacy"
    (nested / "domains").mkdir(parents=True)
    assert resolve_legacy_dir(data) == nested
    sibling = tmp_path / "tau2_legacy_v0.2"
    (sibling / "domains").mkdir(parents=True)
    assert resolve_legacy_dir(data) == sibling
    monkeypatch.setenv("FAMA_LEGACY_DATA_DIR", str(nested))
    assert resolve_legacy_dir(data) == nested
    assert resolve_legacy_dir(data, sibling) == sibling


@pytest.mark.parametrize(
    ("domain", "sizes"),
    [
        ("retail", {"base": 114, "train": 74, "test": 40}),
        ("airline", {"base": 50, "train": 30, "test": 20}),
    ],
)
def test_splits(tau2_data_dir: Path, domain: str, sizes: dict[str, int]) -> None:
    for split, size in sizes.items():
        tasks = load_tasks(domain, split=split, data_dir=tau2_data_dir)
        assert len(tasks) == size
    train = {t.id for t in load_tasks(domain, split="train", data_dir=tau2_data_dir)}
    test = {t.id for t in load_tasks(domain, split="test", data_dir=tau2_data_dir)}
    assert not train & test
    with pytest.raises(ValueError, match=r"unknown split 'dev' .*available: base, test, train"):
        load_tasks(domain, split="dev", data_dir=tau2_data_dir)


def test_current_and_legacy_task_sets(tau2_data_dir: Path, tau2_legacy_dir: Path) -> None:
    current = load_tasks("retail", data_dir=tau2_data_dir)
    legacy = load_tasks(
        "retail", task_set="legacy", data_dir=tau2_data_dir, legacy_dir=tau2_legacy_dir
    )
    assert [t.id for t in current] == [str(i) for i in range(114)] == [t.id for t in legacy]
    basis = [t.evaluation_criteria.reward_basis for t in current if t.evaluation_criteria]
    assert basis.count(["DB", "NL_ASSERTION"]) == 112
    assert basis.count(["DB"]) == 2
    legacy_basis = {
        tuple(t.evaluation_criteria.reward_basis) for t in legacy if t.evaluation_criteria
    }
    assert legacy_basis == {("DB", "COMMUNICATE")}  # the default when the field is absent
    assert (
        sum(bool(t.evaluation_criteria and t.evaluation_criteria.nl_assertions) for t in current)
        == 40
    )
    first = current[0]
    assert first.initial_state is None
    assert first.evaluation_criteria is not None
    action = first.evaluation_criteria.actions[0]
    assert action.requestor == "assistant" and action.compare_args is None
    assert first.evaluation_criteria.env_assertions == []
    airline = load_tasks(
        "airline", task_set="legacy", data_dir=tau2_data_dir, legacy_dir=tau2_legacy_dir
    )
    assert len(airline) == 50  # "annotations: null" is ignored


def test_task_ids_select_in_the_given_order(tau2_data_dir: Path) -> None:
    tasks = load_tasks("airline", data_dir=tau2_data_dir, task_ids=["7", "1", "7"])
    assert [t.id for t in tasks] == ["7", "1"]
    test_ids = load_tasks("airline", split="test", data_dir=tau2_data_dir, task_ids=["6", "2"])
    assert [t.id for t in test_ids] == ["6", "2"]
    with pytest.raises(ValueError, match=r"\(split 'test'\): 1"):
        load_tasks("airline", split="test", data_dir=tau2_data_dir, task_ids=["1"])
    with pytest.raises(ValueError, match=r"task ids not found in .*tasks\.json: 999"):
        load_tasks("airline", data_dir=tau2_data_dir, task_ids=["1", "999"])


def test_tasks_file_override(tau2_data_dir: Path, tmp_path: Path) -> None:
    raw = json.loads((tau2_data_dir / "domains" / "retail" / "tasks.json").read_text())
    custom = tmp_path / "tasks.json"
    custom.write_text(json.dumps(raw[:3]))
    assert [t.id for t in load_tasks("retail", tasks_file=custom)] == ["0", "1", "2"]
    with pytest.raises(DataNotFoundError, match=r"split file not found: .*split_tasks\.json"):
        load_tasks("retail", tasks_file=custom, split="test")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{", r"task file .*tasks.json is not valid JSON: Expecting property name"),
        ('{"id": "0"}', r"must hold a JSON list of tasks, not dict"),
        ('[{"id": "0"}]', r"task #0 \(id '0'\) is invalid: user_scenario: Field required"),
        (
            '[{"id": "0", "user_scenario": {"instructions": "x"}, '
            '"evaluation_criteria": {"reward_basis": ["VIBES"]}}]',
            r"task #0 .* evaluation_criteria.reward_basis.0: Input should be",
        ),
        (
            '[{"id": "0", "user_scenario": {"instructions": "x"}}, '
            '{"id": "0", "user_scenario": {"instructions": "y"}}]',
            "duplicate task id '0'",
        ),
    ],
)
def test_corrupt_tasks_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "tasks.json"
    bad.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_tasks("retail", tasks_file=bad)


def test_missing_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"task file not found: .*nope\.json"):
        load_tasks("retail", tasks_file=tmp_path / "nope.json")
    (tmp_path / "domains").mkdir()
    with pytest.raises(DataNotFoundError, match="no tau2 domain 'retail'"):
        load_tasks("retail", data_dir=tmp_path)

"""The demo's task choice, comparison table and failure-category summary."""

from pathlib import Path

import pytest

from fama.analysis.taxonomy import Taxonomy
from fama.commands.demo import SETTINGS, demo_task_ids
from fama.commands.demo_report import render_side_by_side, top_categories
from fama.envs.tau2.tasks import load_tasks


def test_demo_tasks_are_split_and_judge_free(tau2_data_dir: Path) -> None:
    train, test = demo_task_ids(SETTINGS["retail-transcript"], tau2_data_dir, 3, 2)
    assert len(train) == 3 and len(test) == 2 and not set(train) & set(test)
    test_tasks = {t.id: t for t in load_tasks("retail", split="test", data_dir=tau2_data_dir)}
    for task_id in test:
        criteria = test_tasks[task_id].evaluation_criteria
        assert criteria is not None and not criteria.nl_assertions
    solo_train, solo_test = demo_task_ids(SETTINGS["telecom-solo"], tau2_data_dir, 2, 2)
    train_split = {t.id for t in load_tasks("telecom", split="train", data_dir=tau2_data_dir)}
    assert set(solo_train) <= train_split and not set(solo_test) & train_split


def test_side_by_side_table_shows_success_tokens_overhead_helpers_and_why() -> None:
    base = {"successes": 1, "episodes": 2, "input_tokens": 900, "output_tokens": 100,
            "seconds": 120.0, "helpers": []}  # fmt: skip
    fama = {"successes": 2, "episodes": 2, "input_tokens": 1000, "output_tokens": 150,
            "seconds": 150.0, "helpers": ["constraints_extractor", "memory"]}  # fmt: skip
    table = render_side_by_side(
        base,
        fama,
        chosen=["memory"],
        categories=[("policy_violation", 3), ("wrong_tool", 1)],
        failed_analysed=4,
    )
    assert "1 / 2" in table and "2 / 2" in table
    assert "1,000" in table and "1,150" in table
    assert "+15.0%" in table
    assert "FAMA helpers used: constraints_extractor, memory" in table
    assert "helpers chosen by the analysis: memory (from 4 failed train episodes)" in table
    assert "top failure categories (episodes): policy_violation (3), wrong_tool (1)" in table


def test_top_categories_ranks_by_primary_count(tmp_path: Path) -> None:
    assert top_categories(tmp_path / "missing.json") == []
    path = tmp_path / "taxonomy.json"
    data = {
        "created_at": "2026-01-01T00:00:00Z", "run_id": "r", "split": "train",
        "backbone": "m", "environments": ["tau2:retail"], "analyst_model": "m",
        "prompts": [], "task_ids": ["1", "2"],
        "categories": [
            {"id": "a", "name": "A", "definition": "a", "source": "seed"},
            {"id": "b", "name": "B", "definition": "b", "source": "seed"},
        ],
        "episodes": [
            {"episode": "1#0", "task_id": "1", "trial": 0, "domain": "retail",
             "primary_errors": ["b"]},
            {"episode": "2#0", "task_id": "2", "trial": 0, "domain": "retail",
             "primary_errors": ["b", "a"]},
        ],
        "usage": {"input_tokens": 0, "output_tokens": 0, "calls": 0},
    }  # fmt: skip
    Taxonomy.model_validate(data).save(path)
    assert top_categories(path) == [("b", 2), ("a", 1)]


def test_the_default_demo_setting_is_the_example_with_the_1_5b_model() -> None:
    from fama.commands.demo import DEFAULT_SETTING, EXAMPLE_ENV_FILE, MEDIUM_MODEL

    setting = SETTINGS[DEFAULT_SETTING]
    assert DEFAULT_SETTING == "saas-admin" and setting.model == MEDIUM_MODEL
    assert EXAMPLE_ENV_FILE.is_file() and setting.env == f"python:{EXAMPLE_ENV_FILE}:make_env"
    assert setting.run_options == ("--user-style", "transcript")
    train, test = demo_task_ids(setting, None, 2, 2)
    assert (train, test) == (["t01", "t02"], ["t11", "t12"])


def test_demo_without_the_example_folder_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from fama.commands import demo

    monkeypatch.setattr(demo, "EXAMPLE_ENV_FILE", tmp_path / "missing.py")
    args = argparse.Namespace(setting="saas-admin", model=None, out=tmp_path / "out")
    assert demo.demo_command(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fama demo: --setting saas-admin needs the repository's examples")
    assert "\n" not in err

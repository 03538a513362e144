"""The demo's task choice and comparison table."""

from pathlib import Path

from fama.commands.demo import demo_task_ids, render_side_by_side
from fama.envs.tau2.tasks import load_tasks


def test_demo_tasks_are_retail_test_tasks_without_nl_assertions(tau2_data_dir: Path) -> None:
    ids = demo_task_ids(tau2_data_dir, 3)
    assert len(ids) == 3
    test_tasks = {t.id: t for t in load_tasks("retail", split="test", data_dir=tau2_data_dir)}
    for task_id in ids:
        criteria = test_tasks[task_id].evaluation_criteria
        assert criteria is not None and not criteria.nl_assertions


def test_side_by_side_table_shows_success_tokens_overhead_and_helpers() -> None:
    base = {"successes": 1, "episodes": 2, "input_tokens": 900, "output_tokens": 100,
            "seconds": 120.0, "helpers": []}  # fmt: skip
    fama = {"successes": 2, "episodes": 2, "input_tokens": 1000, "output_tokens": 150,
            "seconds": 150.0, "helpers": ["constraints_extractor", "memory"]}  # fmt: skip
    table = render_side_by_side(base, fama)
    assert "1 / 2" in table and "2 / 2" in table
    assert "1,000" in table and "1,150" in table
    assert "+15.0%" in table
    assert "FAMA helpers used: constraints_extractor, memory" in table

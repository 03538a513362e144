"""The embedded-baselines table: read from stored runs only, with Wilson intervals."""

from __future__ import annotations

from pathlib import Path

from benchmarks.embedded_baselines import run_id, table
from fama.runs.store import RunStore
from tests.test_compare import add_run, episode

MODEL = "local:qwen2.5-coder-1.5b"


def test_table_rows_from_stored_runs(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.sqlite") as store:
        rid = run_id("saas-admin", MODEL)
        assert rid == "emb-saas-admin-qwen2.5-coder-1.5b"
        outcomes = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
        add_run(
            store,
            rid,
            [episode(rid, f"t{i}", 0, r) for i, r in enumerate(outcomes)]
            + [episode(rid, "t99", 0, None, status="infrastructure_error")],  # not scored
        )
        rows = table(store, ["saas-admin", "telecom-solo"], [MODEL])
    assert rows[2].startswith(f"| saas-admin | {MODEL} | 10 | 4 | 40% [17%, 69%] | 2 |")
    assert "user_stop 10" in rows[2]
    assert rows[3] == f"| telecom-solo | {MODEL} | not run | | | | |"


def test_a_setting_without_judge_free_tasks_is_reported_not_run(tau2_data_dir: Path) -> None:
    import argparse

    from benchmarks.embedded_baselines import run_setting

    args = argparse.Namespace(data_dir=tau2_data_dir, tasks=5, max_steps=4, db=Path("unused"))
    code, note = run_setting("airline-transcript", MODEL, "http://127.0.0.1:9/v1", args)
    assert code == 2 and "not run (no task of the split is scored without an LLM judge)" in note

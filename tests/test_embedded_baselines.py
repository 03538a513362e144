"""The embedded-baselines table: read from stored runs only, with Wilson intervals."""

from __future__ import annotations

from pathlib import Path

from benchmarks.embedded_baselines import run_id, table
from fama.runs.store import RunStore
from tests.test_compare import add_run, episode

MODEL = "local:qwen2.5-coder-1.5b"


def test_table_rows_from_stored_runs(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.sqlite") as store:
        base, fama = run_id("saas-admin", MODEL), run_id("saas-admin", MODEL, "fama")
        assert (base, fama) == (
            "emb-saas-admin-qwen2.5-coder-1.5b",
            "emb-fama-saas-admin-qwen2.5-coder-1.5b",
        )
        base_rewards = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
        fama_rewards = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]  # +2 -1
        add_run(
            store,
            base,
            [episode(base, f"t{i}", 0, r) for i, r in enumerate(base_rewards)]
            + [episode(base, "t99", 0, None, status="infrastructure_error")],  # not scored
        )
        fama_calls = (("agent", 100, 10), ("helper:planner", 50, 5), ("user", 50, 5))
        add_run(
            store,
            fama,
            [
                episode(fama, f"t{i}", 0, r, calls=fama_calls, duration=3.0)
                for i, r in enumerate(fama_rewards)
            ],
            agent="fama",
            mode="dynamic",
        )
        only_base = run_id("telecom-solo", MODEL)
        add_run(store, only_base, [episode(only_base, "t0", 0, 0.0)])
        rows = table(store, ["saas-admin", "telecom-solo", "acebench-multi-step"], [MODEL])
    assert rows[2] == (
        f"| saas-admin | {MODEL} | 4 / 10 | 40% [17%, 69%] | 5 / 10 | 50% [24%, 76%] "
        "| 2 / 1 (p 1.00) | +50.0% | 2 / 3 |"
    )
    assert rows[3] == (
        f"| telecom-solo | {MODEL} | 0 / 1 | 0% [0%, 79%] | not run |  | - | - | 2 / - |"
    )
    assert rows[4] == f"| acebench-multi-step | {MODEL} | not run | | | | | | |"
    assert rows[8] == f"| saas-admin | {MODEL} | user_stop 10 | user_stop 10 |"
    assert rows[9] == f"| telecom-solo | {MODEL} | user_stop 1 | - |"


def test_a_setting_without_judge_free_tasks_is_reported_not_run(tau2_data_dir: Path) -> None:
    import argparse

    from benchmarks.embedded_baselines import run_setting

    args = argparse.Namespace(data_dir=tau2_data_dir, tasks=5, max_steps=4, db=Path("unused"))
    code, note = run_setting("airline-transcript", MODEL, "http://127.0.0.1:9/v1", args)
    assert code == 2 and "not run (no task of the split is scored without an LLM judge)" in note


def test_tau_trait_settings_take_the_first_test_tasks(tau_trait_data_dir: Path) -> None:
    """Not the last ones: tau-trait retail 115-119 score 1 for an agent that changes nothing."""
    from benchmarks.embedded_baselines import ALL_SETTINGS, select

    for name in ("tau-trait-retail-chat", "tau-trait-retail-transcript"):
        setting = ALL_SETTINGS[name]
        ids = select(setting, tau_trait_data_dir, 5)
        assert ids == ["test-0", "test-1", "test-2", "test-3", "test-4"], name

"""Report numbers on a synthetic run, the report/export commands and the JSONL export."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from fama.commands import export as export_command
from fama.commands import report as report_command
from fama.runs.report import build_report, percentile, render_report, token_role
from fama.runs.store import RunStore
from tests.test_store import PROMPTS, make_episode

CONFIG = {
    "env": "tau2:retail",
    "split": "test",
    "agent": "fama",
    "mode": "static",
    "model": "m",
    "user_model": "u",
    "judge_model": None,
    "no_judge": True,
    "trials": 2,
    "task_ids": ["a", "b", "c"],
}


def main(argv: Sequence[str]) -> int:
    """Run the report/export sub-commands alone (independent of other command modules)."""
    parser = argparse.ArgumentParser(prog="fama")
    subparsers = parser.add_subparsers(dest="command", required=True)
    report_command.register(subparsers)
    export_command.register(subparsers)
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A run 'fama' (tasks a, b, c x 2 trials, one infra error, one internal error) and a
    baseline run 'base' (tasks a, b, d x 1 trial)."""
    path = tmp_path / "runs.sqlite"
    fama_calls = [("agent", 100, 10), ("helper:planner", 30, 5), ("user", 50, 5)]
    with RunStore(path) as store:
        store.create_or_resume_run("fama", CONFIG, PROMPTS)
        for ep in [
            make_episode("a", 0, run_id="fama", reward=1.0, calls=fama_calls),
            make_episode("a", 1, run_id="fama", reward=1.0, calls=fama_calls),
            make_episode("b", 0, run_id="fama", reward=1.0, calls=fama_calls),
            make_episode("b", 1, run_id="fama", reward=0.0, calls=fama_calls),
            make_episode(
                "c",
                0,
                run_id="fama",
                reward=None,
                status="infrastructure_error",
                termination="infrastructure_error",
                calls=[],
                components={},
                error_detail="ModelUnavailableError: connection refused",
            ),
            make_episode(
                "c",
                1,
                run_id="fama",
                reward=None,
                status="error",
                termination=None,
                calls=[],
                components={},
                error_detail="Traceback (most recent call last):\n  ...\nKeyError: 'x'\n",
            ),
        ]:
            store.save_episode("fama", ep)
        store.create_or_resume_run("base", {**CONFIG, "agent": "fc"}, PROMPTS)
        for task in ("a", "b", "d"):
            store.save_episode(
                "base", make_episode(task, 0, run_id="base", calls=[("agent", 80, 20)])
            )
    return path


def test_metrics_official_and_strict(db: Path) -> None:
    with RunStore(db) as store:
        report = build_report(store, "fama")
    official = report["metrics"]["official"]
    strict = report["metrics"]["strict"]
    # official: a=[T,T], b=[T,F]; task c has no scored episode -> excluded
    assert official["episodes"] == 4 and official["tasks"] == 2
    assert official["avg_reward"] == pytest.approx(0.75)
    assert official["pass_hat_k"] == {"1": pytest.approx(0.75), "2": pytest.approx(0.5)}
    # strict: c=[F,F] counted
    assert strict["episodes"] == 6 and strict["tasks"] == 3
    assert strict["avg_reward"] == pytest.approx(0.5)
    assert strict["pass_hat_k"] == {"1": pytest.approx(0.5), "2": pytest.approx(1 / 3)}
    assert report["episodes"]["by_status"] == {"done": 4, "error": 1, "infrastructure_error": 1}
    assert report["episodes"]["expected"] == 6 and report["episodes"]["missing"] == 0
    assert report["terminations"] == {
        "error": 1,
        "infrastructure_error": 1,
        "user_stop": 4,
    }
    assert [(e["task_id"], e["status"], e["detail"]) for e in report["errors"]] == [
        ("c", "infrastructure_error", "ModelUnavailableError: connection refused"),
        ("c", "error", "KeyError: 'x'"),
    ]


def test_tokens_latency_components_and_rows(db: Path) -> None:
    with RunStore(db) as store:
        report = build_report(store, "fama")
    roles = report["tokens"]["by_role"]
    assert roles["agent"] == {"calls": 4, "input_tokens": 400, "output_tokens": 40}
    assert roles["helpers"] == {"calls": 4, "input_tokens": 120, "output_tokens": 20}
    assert roles["user"]["input_tokens"] == 200 and roles["judge"]["calls"] == 0
    assert report["tokens"]["by_node"]["helper:planner"]["role"] == "helpers"
    assert report["latency_ms"]["agent"] == {
        "count": 6,
        "mean_ms": 13.0,
        "p50_ms": 13.0,
        "p95_ms": 13.0,
    }
    assert report["reward_components"]["mean"] == {"DB": pytest.approx(0.75)}
    assert report["nl_assertion_skipped"] is True and report["has_helpers"] is True
    row = report["episode_rows"][0]
    assert row == {
        "task_id": "a",
        "trial": 0,
        "status": "done",
        "termination": "user_stop",
        "reward": 1.0,
        "steps": 4,
        "tool_errors": 1,
        "input_tokens": 180,
        "output_tokens": 20,
        "duration_s": 1.5,
    }


def test_token_overhead_against_baseline(db: Path) -> None:
    with RunStore(db) as store:
        baseline = build_report(store, "fama", baseline_id="base")["baseline"]
    # common tasks a, b; fama: 110 agent + 35 helper tokens per episode; base: 100 agent
    assert baseline["common_tasks"] == 2
    assert baseline["episodes"] == 4 and baseline["baseline_episodes"] == 2
    assert baseline["ratio_pct"] == pytest.approx(145.0)
    assert baseline["overhead_pct"] == pytest.approx(45.0)


def test_text_report_mentions_everything(db: Path) -> None:
    with RunStore(db) as store:
        text = render_report(build_report(store, "fama", baseline_id="base"))
    assert "Excluding infra errors (official): 4 episodes" in text
    assert "Counting 2 infra/internal errors as failures (strict): 6 episodes" in text
    assert "pass^1=0.750  pass^2=0.500" in text
    assert "NL_ASSERTION was skipped" in text
    assert "overhead 45.0%" in text
    assert "c trial 0: infrastructure_error: ModelUnavailableError" in text


def test_report_and_export_commands(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "fama", "--db", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"]["official"]["episodes"] == 4
    assert main(["report", "fama", "--db", str(db)]) == 0
    assert "Tokens by role" in capsys.readouterr().out
    out = tmp_path / "fama.jsonl"
    assert main(["export", "fama", "--db", str(db), "-o", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["task_id"], r["trial"], r["status"]) for r in lines][-2:] == [
        ("c", 0, "infrastructure_error"),
        ("c", 1, "error"),
    ]
    assert lines[0]["messages"][1]["content"] == "Cancel order #W1, ünïcode"
    assert lines[0]["llm_calls"][0]["node"] == "agent" and lines[0]["extra"] == {"seed": 123}
    assert main(["export", "fama", "--db", str(db)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 6


def test_unknown_run_or_db_is_a_clear_error(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "nope", "--db", str(db)]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
    assert main(["export", "fama", "--db", str(tmp_path / "absent.sqlite")]) == 2
    assert "no run store" in capsys.readouterr().err


def test_helpers() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert [token_role(n) for n in ("agent", "user", "judge", "helper:memory", "orchestrator")] == [
        "agent",
        "user",
        "judge",
        "helpers",
        "helpers",
    ]

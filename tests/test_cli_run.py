"""``fama run`` end to end on real tau2 retail data with scripted models: store, resume,
config mismatch, Ctrl-C, report, and argument errors."""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from fama.cli import main
from fama.commands import run as run_command_module
from fama.core.fama_config import FamaConfig
from fama.envs.tau2.tasks import load_tasks
from fama.envs.tau2.user_scenario import load_user_guidelines
from fama.llm.models import ModelSpec
from fama.runs.report import build_report
from fama.runs.spec import RunSpec, SplitError, check_split
from fama.runs.store import RunStore
from tests.fakes import ScriptedChatModel
from tests.test_runner import gold_agent_reply, scripted_user_reply

TASK_IDS = ["5", "9"]


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fama")
    run_command_module.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["run", *argv])


def base_argv(data_dir: Path, db: Path, *extra: str) -> list[str]:
    return [
        "--env",
        "tau2:retail",
        "--data-dir",
        str(data_dir),
        "--split",
        "test",
        "--task-ids",
        ",".join(TASK_IDS),
        "--trials",
        "2",
        "--model",
        "scripted:agent",
        "--user-model",
        "scripted:user",
        "--no-judge",
        "--db",
        str(db),
        "--run-id",
        "e2e",
        "--no-progress",
        *extra,
    ]


class Factory:
    """Builds scripted models for the specs the command asks for (and remembers them)."""

    def __init__(
        self, data_dir: Path, on_agent_call: Callable[[list[BaseMessage]], None] | None = None
    ) -> None:
        tasks = load_tasks("retail", data_dir=data_dir, task_ids=TASK_IDS)
        self.agent = gold_agent_reply(tasks)
        self.user = scripted_user_reply(tasks, load_user_guidelines(data_dir))
        self.on_agent_call = on_agent_call
        self.specs: list[ModelSpec] = []

    def __call__(self, spec: ModelSpec) -> BaseChatModel:
        self.specs.append(spec)
        if spec.model == "scripted:user":
            return ScriptedChatModel([self.user] * 100)
        hook = self.on_agent_call

        def agent(messages: list[BaseMessage]) -> AIMessage:
            if hook is not None:
                hook(messages)
            return self.agent(messages)

        return ScriptedChatModel([agent] * 100)


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--env", "--trials", "--agent", "--fama-config", "--no-judge", "--task-ids"):
        assert option in out


def test_fama_cli_has_run_report_and_export(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "report", "export"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "--db" in capsys.readouterr().out


def test_run_resume_and_mismatch(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    factory = Factory(tau2_data_dir)
    args = parse(base_argv(tau2_data_dir, db, "--concurrency", "2"))
    assert run_command_module.run_command(args, model_factory=factory) == 0
    assert [s.model for s in factory.specs] == ["scripted:agent", "scripted:user"]
    with RunStore(db) as store:
        info = store.load_run("e2e")
        episodes = store.episodes("e2e")
        report = build_report(store, "e2e")
    assert [(e.task_id, e.trial, e.reward) for e in episodes] == [
        ("5", 0, 1.0),
        ("5", 1, 1.0),
        ("9", 0, 1.0),
        ("9", 1, 1.0),
    ]
    assert info.status == "finished" and info.config["task_ids"] == TASK_IDS
    assert info.config["user_model"] == "scripted:user" and info.config["judge_model"] is None
    assert len(info.config["trial_seeds"]) == 2
    assert {r["name"] for r in info.prompt_refs} >= {"tau2_agent", "tau2_policy"}
    assert report["metrics"]["official"]["pass_hat_k"] == {"1": 1.0, "2": 1.0}
    assert report["nl_assertion_skipped"] is True
    assert "fama report e2e" in capsys.readouterr().err

    # same options (other concurrency): nothing left to run
    again = parse(base_argv(tau2_data_dir, db, "--concurrency", "1"))
    assert run_command_module.run_command(again, model_factory=factory) == 0
    assert "resuming run e2e: 0 episodes to run, 4 already stored" in capsys.readouterr().err

    # a result-changing option differs: clear error, nothing touched
    other = parse(base_argv(tau2_data_dir, db, "--max-steps", "50"))
    assert run_command_module.run_command(other, model_factory=factory) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "max_steps: stored 200, now 50" in err


def test_ctrl_c_keeps_finished_episodes_and_resumes(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    sent: list[bool] = []

    def interrupt_on_second_task(messages: list[BaseMessage]) -> None:
        if not sent and any("task 9" in str(m.content) for m in messages):
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    args = parse(base_argv(tau2_data_dir, db, "--concurrency", "1"))
    factory = Factory(tau2_data_dir, on_agent_call=interrupt_on_second_task)
    assert run_command_module.run_command(args, model_factory=factory) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "--run-id e2e" in err
    with RunStore(db) as store:
        assert store.load_run("e2e").status == "interrupted"
        kept = store.finished_episode_keys("e2e")
    assert ("5", 0) in kept and len(kept) < 4

    resumed = parse(base_argv(tau2_data_dir, db, "--concurrency", "2"))
    assert run_command_module.run_command(resumed, model_factory=Factory(tau2_data_dir)) == 0
    with RunStore(db) as store:
        assert store.load_run("e2e").status == "finished"
        assert len(store.episodes("e2e", statuses=["done"])) == 4


def test_bad_options_are_clear_errors(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    cases = {
        ("--env", "tau2:nowhere"): "unknown environment",
        ("--mode", "static"): "need --agent fama",
        ("--agent", "fama"): "needs --fama-config",
        ("--task-ids", "nope"): "task ids not found",
        ("--concurrency", "0"): "--concurrency must be at least 1",
    }
    for extra, message in cases.items():
        args = parse([*base_argv(tau2_data_dir, db), *extra])
        assert run_command_module.run_command(args, model_factory=Factory(tau2_data_dir)) == 2
        assert message in capsys.readouterr().err


def test_split_check_refuses_overlap_and_other_environments() -> None:
    config = FamaConfig(
        backbone="m",
        environment="tau2:retail",
        helpers=["memory"],
        split="train",
        analysed_task_ids=["1", "5"],  # 5 passed: only every analysed task shows the overlap
        derived_from={"split": "train", "task_ids": ["1"]},
    )
    where = {"env": "tau2:retail", "split": "test"}
    with pytest.raises(SplitError, match=r"derived from 1 of the 2 evaluated tasks \(5\)"):
        check_split(config, "c.json", task_ids=["5", "9"], **where)
    warning, overlap = check_split(
        config, "c.json", task_ids=["5", "9"], allow_overlap=True, **where
    )
    assert overlap == ["5"] and warning is not None and "not a held-out" in warning
    assert check_split(config, "c.json", task_ids=["9"], **where) == (None, [])
    with pytest.raises(SplitError, match="made for tau2:retail, not tau2:airline"):
        check_split(config, "c.json", env="tau2:airline", split="test", task_ids=["9"])
    # an older file knows only its failed tasks: the same split counts as overlapping
    older = FamaConfig(
        backbone="m",
        environment="tau2:retail",
        helpers=["memory"],
        derived_from={"split": "test", "task_ids": ["1"]},
    )
    with pytest.raises(SplitError, match="split 'test', the split being evaluated"):
        check_split(older, "c.json", task_ids=["9"], **where)


def test_run_spec_resume_fills_defaults_of_new_fields() -> None:
    spec = RunSpec(
        env="tau2:retail",
        domain="retail",
        task_ids=["1"],
        trials=1,
        trial_seeds=[1],
        agent="fc",
        model="m",
        max_steps=5,
        max_errors=5,
        task_set="current",
    )
    stored = spec.to_config()
    del stored["tool_call_mode"]  # a run stored before the field existed
    assert spec.differences(stored) == []
    assert spec.model_copy(update={"concurrency": 9}).differences(stored) == []
    changed = spec.model_copy(update={"tool_call_mode": "tolerant"})
    assert changed.differences(stored) == ["tool_call_mode: stored 'native', now 'tolerant'"]
    assert spec.differences({**stored, "task_set": "legacy"}) == [
        "task_set: stored 'legacy', now 'current'"
    ]


def test_command_line_reproduces_the_run(tmp_path: Path) -> None:
    args = parse(base_argv(tmp_path, tmp_path / "x.sqlite", "--task-ids", "1", "2"))
    line = run_command_module.command_line(args, "e2e")
    assert line.startswith("fama run --env tau2:retail --data-dir")
    assert "--task-ids 1 2" in line and "--run-id e2e" in line and "--no-judge" in line


def test_fama_static_run_records_config_prompts_and_fairness(
    tau2_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = FamaConfig(
        backbone="scripted:agent",
        environment="tau2:retail",
        helpers=["memory", "tool_suggester"],
        derived_from={"run_id": "old", "split": "train", "task_ids": ["5"]},
    )
    path = tmp_path / "fama.json"
    config.save(path)
    db = tmp_path / "runs.sqlite"
    argv = base_argv(tau2_data_dir, db, "--agent", "fama", "--fama-config", str(path))
    args = parse([*argv, "--trials", "1"])
    assert run_command_module.run_command(args, model_factory=Factory(tau2_data_dir)) == 2
    assert "refused" in capsys.readouterr().err and not db.exists()
    args = parse([*argv, "--trials", "1", "--allow-overlap"])
    assert run_command_module.run_command(args, model_factory=Factory(tau2_data_dir)) == 0
    assert "WARNING (fairness)" in capsys.readouterr().err
    with RunStore(db) as store:
        info = store.load_run("e2e")
        episodes = store.episodes("e2e")
    assert info.config["agent"] == "fama" and info.config["mode"] == "static"
    assert info.config["fama_config"]["helpers"] == ["memory", "tool_suggester"]
    assert "derived from 1 of the 2 evaluated tasks (5)" in info.config["fairness_warning"]
    assert info.config["overlap_task_ids"] == ["5"] and info.config["allow_overlap"]
    names = {r["name"] for r in info.prompt_refs}
    assert {"tau2_agent", "helper_memory", "helper_tool_suggester"} <= names
    assert [(e.task_id, e.reward, e.agent_kind) for e in episodes] == [
        ("5", 1.0, "fama"),
        ("9", 1.0, "fama"),
    ]
    assert {"orchestrator", "mitigation"} <= {t["node"] for t in episodes[0].node_timings}


class FakeServer:
    """Stands in for fama.serving.LocalServer: records start and stop."""

    def __init__(self, log: list[str], spec: str) -> None:
        self.log, self.spec = log, spec
        self.base_url, self.pid = "http://127.0.0.1:1/v1", 4242

    def __enter__(self) -> FakeServer:
        self.log.append(f"start {self.spec}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.log.append(f"stop {self.spec}")


def test_local_models_are_served_once_and_stopped(
    tau2_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fama.serving

    log: list[str] = []
    monkeypatch.setattr(fama.serving, "local_server_for", lambda spec: FakeServer(log, spec))
    factory = Factory(tau2_data_dir)

    def by_role(spec: ModelSpec) -> BaseChatModel:
        log.append(f"model {spec.model} at {spec.base_url}")
        role = "scripted:user" if len(log) > 2 else "scripted:agent"
        return factory(ModelSpec(model=role))

    argv = base_argv(tau2_data_dir, tmp_path / "runs.sqlite", "--trials", "1")
    argv[argv.index("scripted:agent")] = "local:tiny"
    argv[argv.index("scripted:user")] = "local:tiny"
    assert run_command_module.run_command(parse(argv), model_factory=by_role) == 0
    assert log == [
        "start local:tiny",
        "model local:tiny at http://127.0.0.1:1/v1",
        "model local:tiny at http://127.0.0.1:1/v1",
        "stop local:tiny",
    ]
    with RunStore(tmp_path / "runs.sqlite") as store:
        config = store.load_run("e2e").config
    assert config["model"] == "local:tiny" and config["base_url"] is None

"""tau-bench v1: task lists (checkout or verified tau-trait prefix), data, user, replay, adapter."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from fama.benchmarks.registry import BenchmarkOptions, load_benchmark
from fama.cli import main
from fama.envs.tau2.data import DataNotFoundError
from fama.envs.tau_bench.domain import DATA_SHA256, TAU_TRAIT_USERS, load_v1_domain, v1_data
from fama.envs.tau_bench.replay import replay_task
from fama.envs.tau_bench.tasks import (
    CHECKOUT_ENV,
    PINNED,
    UPSTREAM,
    find_package,
    load_v1_tasks,
    read_upstream_list,
)
from fama.envs.tau_bench.user import render_v1_user_prompt
from fama.envs.tau_trait.data import GoldAction
from fama.envs.tau_trait.reward import data_hash
from fama.envs.tau_trait.runtime import DomainTools
from fama.envs.tau_trait.user import render_user_prompt
from fama.runs.runner import EpisodeJob
from tests.test_tau_trait_benchmark import _call, _parts

UPSTREAM_MODULE = """from tau_bench.types import Action, Task

TASKS_TEST = [
    Task(
        annotator="0",
        user_id="u1",
        instruction="Cancel order #W1.",
        actions=[
            Action(name="cancel_pending_order", kwargs={"order_id": "#W1", "reason": "x"}),
        ],
        outputs=["done"],
    ),
]
"""


@pytest.fixture(autouse=True)
def _no_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CHECKOUT_ENV, raising=False)


def checkout(tmp_path: Path, text: str = UPSTREAM_MODULE) -> Path:
    """A minimal tau-bench checkout holding one retail test list."""
    folder = tmp_path / "tau-bench" / "tau_bench" / "envs" / "retail"
    folder.mkdir(parents=True)
    (folder / "tasks_test.py").write_text(text)
    return tmp_path / "tau-bench"


# --- task lists ------------------------------------------------------------------------------


def test_upstream_module_is_parsed_without_running_it(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    [task] = read_upstream_list(root / "tau_bench/envs/retail/tasks_test.py", "test")
    assert (task.id, task.user_id, task.outputs) == ("test-0", "u1", ("done",))
    assert task.actions == (GoldAction("cancel_pending_order", {"order_id": "#W1", "reason": "x"}),)
    bad = tmp_path / "bad.py"
    bad.write_text("TASKS = [Task(user_id=__import__('os').getcwd())]\n")
    with pytest.raises(ValueError, match="only Task"):
        read_upstream_list(bad, "test")
    bad.write_text("X = 1\n")
    with pytest.raises(ValueError, match=r"expected one 'TASKS\.\.\. = \[\.\.\.\]' list, found 0"):
        read_upstream_list(bad, "test")
    with pytest.raises(DataNotFoundError, match="task file not found"):
        read_upstream_list(tmp_path / "missing.py", "test")


def test_checkout_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = checkout(tmp_path)
    assert find_package(root) == root / "tau_bench"
    assert find_package(root / "tau_bench") == root / "tau_bench"
    with pytest.raises(DataNotFoundError, match=r"--tau-bench-dir\).*not a tau-bench checkout"):
        find_package(tmp_path)
    monkeypatch.setenv(CHECKOUT_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match=f"\\${CHECKOUT_ENV}"):
        find_package()
    monkeypatch.setenv(CHECKOUT_ENV, str(root))
    assert find_package() == root / "tau_bench"


def test_checkout_lists_are_used_and_marked_when_not_upstreams(
    tau_trait_data_dir: Path, tmp_path: Path
) -> None:
    listed = load_v1_tasks(
        "retail", None, data_root=tau_trait_data_dir, tau_bench_dir=checkout(tmp_path)
    )
    assert [t.id for t in listed.tasks] == ["test-0"]
    assert listed.source.startswith("checkout ") and not listed.pinned


@pytest.mark.parametrize(
    ("domain", "split", "count"),
    [
        ("retail", "test", 115),
        ("retail", "train", 500),
        ("retail", "dev", 20),
        ("airline", "test", 50),
    ],
)
def test_tau_trait_prefixes_are_upstreams_lists(
    tau_trait_data_dir: Path, domain: str, split: str, count: int
) -> None:
    listed = load_v1_tasks(domain, split, data_root=tau_trait_data_dir)
    assert len(listed.tasks) == count == PINNED[(domain, split)].count
    assert listed.pinned and listed.sha256 == PINNED[(domain, split)].sha256
    assert listed.tasks[-1].id == f"{split}-{count - 1}"


def test_list_errors(tau_trait_data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tau-bench airline has no split 'train'"):
        load_v1_tasks("airline", "train", data_root=tau_trait_data_dir)
    with pytest.raises(ValueError, match="unknown tau-bench domain 'telecom'"):
        load_v1_tasks("telecom", "test", data_root=tau_trait_data_dir)
    with pytest.raises(ValueError, match="unknown tau-trait task id 'test-115'"):
        load_v1_tasks("retail", "test", data_root=tau_trait_data_dir, task_ids=["test-115"])
    # a tau-trait folder whose list is not v1's is refused, not silently used
    (tmp_path / "retail").mkdir()
    (tmp_path / "retail" / "tasks_test.json").write_text(
        json.dumps([{"user_id": "u", "instruction": "i", "actions": [], "outputs": []}])
    )
    with pytest.raises(ValueError, match=f"not tau-bench v1's retail test list \\({UPSTREAM}\\)"):
        load_v1_tasks("retail", "test", data_root=tmp_path)


# --- data, policy, user ----------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_v1_data_is_upstreams(tau_trait_data_dir: Path, domain: str) -> None:
    loaded = load_v1_domain(domain, tau_trait_data_dir)
    data = loaded.fresh_data()
    assert len(data["users"]) == 500
    assert not set(TAU_TRAIT_USERS[domain]) & set(data["users"])
    assert data_hash(data) == DATA_SHA256[domain]


def test_changed_data_is_refused(tmp_path: Path) -> None:
    def small(root: Path) -> dict[str, Any]:
        return {"users": {"sophia_martinez_7293": {}, "someone": {}}, "orders": {}}

    tools = DomainTools("retail", {}, frozenset(), frozenset(), small)
    with pytest.raises(ValueError, match=r"is not tau-bench v1's .*data hash"):
        v1_data(tools, tmp_path)


def test_v1_user_prompt_has_no_final_newline() -> None:
    text = render_v1_user_prompt("Cancel my order.")
    assert text == render_user_prompt("Cancel my order.")[:-1]
    assert text.endswith("stick to the personalities in the instruction.")
    assert "\n\nInstruction: Cancel my order.\n\nRules:\n" in text


# --- gold replay -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "task_id", "outputs"),
    [("retail", "test-88", False), ("retail", "test-16", True), ("airline", "test-8", True)],
)
def test_gold_replay_scores_one(
    tau_trait_data_dir: Path, domain: str, task_id: str, outputs: bool
) -> None:
    [task] = load_v1_tasks(domain, "test", data_root=tau_trait_data_dir, task_ids=[task_id]).tasks
    result = replay_task(load_v1_domain(domain, tau_trait_data_dir), task)
    assert (result.reward, result.skipped) == (1.0, 0)
    assert ("r_outputs" in result.components) is outputs
    assert json.loads(result.to_json())["task_id"] == task_id


def test_gold_replay_reports_errors_and_an_early_transfer(tau_trait_data_dir: Path) -> None:
    domain = load_v1_domain("retail", tau_trait_data_dir)
    listed = load_v1_tasks("retail", "test", data_root=tau_trait_data_dir, task_ids=["2", "88"])
    with_error, cancel = listed.tasks
    result = replay_task(domain, with_error)
    assert result.reward == 1.0 and result.errors == [
        "get_product_details: Error: product not found"
    ]
    # a transfer before the write ends the episode: the write is never made -> reward 0
    transfer = GoldAction("transfer_to_human_agents", {"summary": "s"})
    early = dataclasses.replace(cancel, actions=(transfer, *cancel.actions))
    result = replay_task(domain, early)
    assert (result.reward, result.skipped, result.components) == (0.0, 1, {"r_actions": 0.0})


def test_replay_command(
    tau_trait_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tau_trait_data_dir)]
    assert main(["tau-bench", "replay", "--domain", "airline", *data, "--task-ids", "0", "2"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(x["task_id"], x["reward"]) for x in lines] == [("test-0", 1.0), ("test-2", 1.0)]
    assert "airline test: 2 tasks, 2 reward 1, 0 below" in err and UPSTREAM in err
    # the checkout's one task cancels an order that does not exist: still reward 1 (no-op)
    root = checkout(tmp_path)
    args = ["tau-bench", "replay", "--domain", "retail", *data, "--tau-bench-dir", str(root)]
    assert main(args) == 0
    out, err = capsys.readouterr()
    [line] = [json.loads(x) for x in out.splitlines()]
    assert line["errors"] == ["cancel_pending_order: Error: order not found"]
    assert "NOT the pinned upstream list" in err
    assert main(["tau-bench", "replay", "--domain", "airline", "--split", "dev", *data]) == 2
    assert "no split 'dev'" in capsys.readouterr().err


# --- adapter and one episode -----------------------------------------------------------------


def test_adapter(tau_trait_data_dir: Path) -> None:
    loaded = load_benchmark("tau-bench:retail", BenchmarkOptions(data_dir=tau_trait_data_dir))
    assert (loaded.env, loaded.domain, len(loaded.tasks)) == (
        "tau-bench:retail",
        "tau-bench-retail",
        115,
    )
    assert loaded.config["task_list"] == UPSTREAM
    assert loaded.loop_defaults["max_agent_turns"] == 30
    assert [r["name"] for r in loaded.data_refs] == [
        "tau_bench_retail_policy",
        "tau_bench_retail_tool_schemas",
        "tau_bench_user",
    ]
    for bad, message in (
        ({"traits": {"impatience": "high"}}, "no user traits"),
        ({"tasks_file": Path("x.json")}, "runs its own task lists"),
    ):
        with pytest.raises(ValueError, match=message):
            load_benchmark(
                "tau-bench:airline", BenchmarkOptions(data_dir=tau_trait_data_dir, **bad)
            )


@pytest.mark.parametrize("cancels", [True, False])
async def test_episode_uses_v1_user_and_reward(tau_trait_data_dir: Path, cancels: bool) -> None:
    loaded = load_benchmark(
        "tau-bench:retail", BenchmarkOptions(data_dir=tau_trait_data_dir, task_ids=["test-88"])
    )
    [task] = loaded.tasks
    cancel = {"order_id": "#W8835847", "reason": "ordered by mistake"}
    agent: list[Any] = [_call("cancel_pending_order", cancel, 1)] if cancels else []
    agent.append("Your order is cancelled.")
    parts, _, user_model = _parts(
        loaded, agent, ["Cancel #W8835847, ordered by mistake.", "###STOP###"]
    )
    outcome = await loaded.make_executor(parts)(EpisodeJob(task.id, 0, 1, task=task))
    assert (outcome.termination, outcome.reward) == ("user_stop", 1.0 if cancels else 0.0)
    first_user_call: list[BaseMessage] = user_model.calls[0]
    assert first_user_call[0].content == render_v1_user_prompt(task.instruction)


@pytest.mark.parametrize("benchmark", ["tau-bench", "tau-trait"])  # same task: test-88
def test_fama_run_stores_an_episode(
    tau_trait_data_dir: Path, tmp_path: Path, benchmark: str
) -> None:
    from fama.commands import run as run_command
    from fama.runs.store import RunStore
    from tests.fakes import ScriptedChatModel
    from tests.test_cli_run import parse

    cancel = {"order_id": "#W8835847", "reason": "ordered by mistake"}

    def factory(spec: Any) -> ScriptedChatModel:
        if spec.model == "scripted:user":
            return ScriptedChatModel(["Cancel #W8835847, ordered by mistake.", "###STOP###"])
        return ScriptedChatModel([_call("cancel_pending_order", cancel, 1), "Cancelled."])

    db = tmp_path / "runs.sqlite"
    argv = ["--env", f"{benchmark}:retail", "--data-dir", str(tau_trait_data_dir)]
    argv += ["--task-ids", "88", "--model", "scripted:agent", "--user-model", "scripted:user"]
    argv += ["--db", str(db), "--run-id", "v1", "--no-progress"]
    assert run_command.run_command(parse(argv), model_factory=factory) == 0
    with RunStore(db) as store:
        info = store.load_run("v1")
        [episode] = store.episodes("v1")
    assert (episode.task_id, episode.reward) == ("test-88", 1.0)
    assert info.config["domain"] == f"{benchmark}-retail" and info.config["judge_model"] is None
    assert info.config.get("task_list") == (UPSTREAM if benchmark == "tau-bench" else None)

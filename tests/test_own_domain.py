"""The worked example (``examples/saas_admin``) through the unchanged CLI: baseline on the
train split -> analyze -> FAMA on the test split -> compare, with scripted models; and two of
its tasks with the embedded model (``real_model``)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from fama.cli import build_parser
from fama.commands import analyze
from fama.commands import run as run_module
from fama.envs.custom import CustomTask, load_tasks
from fama.envs.custom.tasks import ExpectedAction
from fama.llm.models import ModelSpec
from fama.prompts import load_prompt
from fama.runs.store import RunStore
from tests.fakes import ScriptedChatModel
from tests.readme_snippets import blocks, commands, section
from tests.test_analysis import Router

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = REPO / "examples" / "saas_admin"
ENV = "python:examples.saas_admin.support:make_env"
TASKS = {t.id: t for t in load_tasks(EXAMPLE_DIR / "tasks.jsonl")}
WRITES = {"invite_user", "deactivate_user", "change_role", "reset_mfa", "update_seats"}
OWNER_RULE = "only owners can grant the owner role"

# what the scripted baseline gets wrong: a forbidden write (t03, t12), a missing one (t09)
MISTAKES: dict[str, list[ExpectedAction]] = {
    "t03": [ExpectedAction(name="change_role", arguments={"user_id": "u3", "role": "admin"})],
    "t09": [],
    "t12": [ExpectedAction(name="change_role", arguments={"user_id": "u3", "role": "owner"})],
}


def visible(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The conversation without FAMA's trailing guidance note."""
    return [m for m in messages if not str(m.content).startswith("<guidance>")]


def agent_reply(messages: list[BaseMessage]) -> AIMessage | str:
    """A scripted agent: asks for confirmation before each write, then makes it; with a
    verifier remediation in its input it refuses instead. Answers the verifier's prompt."""
    first = messages[0]
    if isinstance(first, HumanMessage) and "Proposed action:" in first.text:
        proposed = first.text.split("Proposed action:", 1)[1]
        blocked = '"role":"owner"' in proposed and '"user_id":"u3"' in proposed
        return f"VIOLATION: {OWNER_RULE}; refuse." if blocked else "OK"
    if any("was NOT executed" in str(m.content) for m in messages):
        return "Sorry, I cannot do that: " + OWNER_RULE + "."
    history = visible(messages)
    opening = next(m for m in history if isinstance(m, HumanMessage))
    task = TASKS[re.findall(r"task (t\d\d)", opening.text)[0]]
    plan = MISTAKES.get(task.id, task.expected_actions or [])
    done = sum(isinstance(m, ToolMessage) for m in history)
    if done >= len(plan):
        return " ".join(["All done.", *(task.expected_phrases or [])])
    action = plan[done]
    confirmed = isinstance(history[-1], HumanMessage) and history[-1].text == "yes"
    if action.name in WRITES and not confirmed:
        return f"I will call {action.name} with {json.dumps(action.arguments)}. Please confirm."
    call = {"id": f"call_{done}", "name": action.name, "args": dict(action.arguments)}
    if action.name == "transfer_to_human_agents":
        call["args"] = {"summary": "needs a human"}
    return AIMessage(content="", tool_calls=[{**call, "type": "tool_call"}])


def user_reply(messages: list[BaseMessage]) -> str:
    """A scripted customer: names the task (found from its scenario), confirms when asked."""
    scenario = messages[0].text
    task_id = next(t for t, task in TASKS.items() if task.user_scenario.render() in scenario)
    said = [m for m in messages[1:] if isinstance(m, AIMessage)]
    if not said:
        return f"I need help with task {task_id}"
    return "yes" if "Please confirm" in messages[-1].text else "###STOP###"


def factory(spec: ModelSpec) -> BaseChatModel:
    reply: Callable[[list[BaseMessage]], Any] = (
        user_reply if spec.model == "scripted:user" else agent_reply
    )
    return ScriptedChatModel([reply] * 400)


def execute(argv: list[str], **factories: Any) -> int:
    """Run one ``fama`` command line with scripted models (``run`` and ``analyze``)."""
    args = build_parser().parse_args(argv)
    if argv[0] == "run":
        args.no_progress, args.concurrency = True, 2
        return run_module.run_command(args, model_factory=factories["run"])
    if argv[0] == "analyze":
        return analyze.analyze_command(args, model_factory=factories["analyze"])
    result: int = args.func(args)
    return result


def rewards(db: Path, run_id: str) -> dict[str, float | None]:
    with RunStore(db) as store:
        return {e.task_id: e.reward for e in store.episodes(run_id)}


def analysis_router() -> Router:
    verifier = "decision_verifier"
    answers: dict[tuple[str, str], Any] = {
        ("analyst:policy_violation", "t03#0"): {
            "occurred": True,
            "rationale": "Made a member an admin at the member's own request.",
            "evidence_steps": [4],
        },
        ("orchestrator", "t03#0"): {
            "primary_errors": ["policy_violation"],
            "recovered_errors": [],
            "rationale": "MARK-t03: a member cannot change roles.",
            "evidence_steps": [4],
        },
        ("analyst:incomplete_fulfilment", "t09#0"): {
            "occurred": True,
            "rationale": "Never reduced the seats.",
            "evidence_steps": [2],
        },
        ("orchestrator", "t09#0"): {
            "primary_errors": ["incomplete_fulfilment"],
            "recovered_errors": [],
            "rationale": "MARK-t09: the seat change was never made.",
            "evidence_steps": [2],
        },
        ("mitigation", "t03#0"): {"helpers": [verifier], "rationale": "check writes"},
        ("mitigation", "t09#0"): {"helpers": [verifier], "rationale": "check writes"},
    }
    markers = {"task t03": "t03#0", "MARK-t03": "t03#0", "task t09": "t09#0", "MARK-t09": "t09#0"}
    return Router(answers, markers)


def test_the_readme_commands_on_the_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README, "Use it on your own agent", path 2: baseline on the train split -> analyze ->
    FAMA on the test split -> compare, exactly as written there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO))  # the example package, as from a checkout
    block = blocks(section("Use it on your own agent"), "bash")[0]
    models = {"MODEL": "scripted:agent", "USER_MODEL": "scripted:user", "ANALYST_MODEL": "x:y"}
    argvs = commands(block, models)
    assert [a[0] for a in argvs] == ["run", "analyze", "run", "run", "compare"]
    router = analysis_router()
    db = tmp_path / "fama-runs.sqlite"

    assert execute(argvs[0], run=factory) == 0
    train = rewards(db, "saas-base-train")
    assert len(train) == 10 and {t for t, r in train.items() if r != 1.0} == {"t03", "t09"}

    assert execute(argvs[1], analyze=lambda spec: router.model(40)) == 0
    config = json.loads((tmp_path / "saas-analysis" / "fama_config.json").read_text())
    assert config["helpers"] == ["decision_verifier", "memory"] and config["environment"] == ENV
    assert "explicit confirmation" in router.prompt("analyst:policy_violation", "t03#0")

    assert execute(argvs[2], run=factory) == 0
    assert execute(argvs[3], run=factory) == 0
    base, fama = rewards(db, "saas-base-test"), rewards(db, "saas-fama-test")
    assert {t for t, r in base.items() if r != 1.0} == {"t12"}
    assert all(r == 1.0 for r in fama.values()) and len(fama) == 10
    with RunStore(db) as store:
        t12 = next(e for e in store.episodes("saas-fama-test") if e.task_id == "t12")
    blocks_ = [d["diagnosis"]["verifier_blocks"] for d in t12.extra["fama_decisions"]]
    assert [b for b in blocks_ if b] == [[{"check": "policy", "problem": f"{OWNER_RULE}; refuse."}]]

    capsys.readouterr()
    assert execute([*argvs[4], "--format", "json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    rows = {r["run_id"]: r["metrics"] for r in compared["overall"]["rows"]}
    assert (rows["saas-base-test"]["successes"], rows["saas-fama-test"]["successes"]) == (9, 10)
    assert compared["helpers"]["saas-fama-test"]["episodes"] == {
        "decision_verifier": 10,
        "memory": 10,
    }


# ------------------------------------------------------------------ the embedded model

MODEL = "local:qwen2.5-coder-0.5b"


@pytest.mark.real_model
@pytest.mark.enable_socket
def test_two_example_tasks_with_the_embedded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mechanics only (a 0.5B model rarely solves them): both episodes run, end normally
    and are scored by the example's outcome checks."""
    if os.environ.get("FAMA_REAL_MODEL_TESTS") != "1":
        pytest.skip("set FAMA_REAL_MODEL_TESTS=1 to run the real-model tests")
    monkeypatch.chdir(REPO)
    db = tmp_path / "runs.sqlite"
    argv = ["run", "--env", ENV, "--task-ids", "t07,t11", "--model", MODEL, "--db", str(db)]
    args = build_parser().parse_args([*argv, "--run-id", "real", "--max-steps", "20"])
    assert run_module.run_command(args) == 0
    with RunStore(db) as store:
        episodes = store.episodes("real")
    assert [e.task_id for e in episodes] == ["t07", "t11"]
    for episode in episodes:
        assert episode.status == "done", episode.error_detail
        assert episode.reward in (0.0, 1.0)
        components = set(episode.reward_info["components"])
        if episode.termination in ("user_stop", "agent_stop"):
            assert components == {"DB", "ACTION", "STATE"}
        else:  # a premature end (max_steps, too many errors) scores 0 unchecked, as tau2
            assert episode.reward == 0.0 and components == set()
        assert any(r["role"] == "assistant" for r in episode.records)


def test_the_user_prompt_holds_the_scenario() -> None:
    task: CustomTask = TASKS["t01"]
    text = load_prompt("custom_user").render(scenario=task.user_scenario.render())
    assert "###STOP###" in text and "Persona:\nDana Lee" in text and "leo@acme.io" in text

"""``fama import``: OpenAI, LangChain and LangSmith logs into the run store; malformed
records are one-line errors with their line; analyze, report and view work on the run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage, messages_to_dict

from fama.cli import build_parser
from fama.commands import analyze
from fama.commands.import_run import import_command
from fama.runs.report import build_report
from fama.runs.store import RunStore
from tests.test_analysis import Router, helper_for
from tests.test_view import view_text

POLICY = "Refunds need the receipt number. Confirm before any refund."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "refund",
            "description": "Refund an order.",
            "parameters": {"type": "object", "properties": {"order": {"type": "integer"}}},
        },
    }
]


def openai_line(conv_id: str, outcome: Any, **extra: Any) -> str:
    messages = [
        {"role": "system", "content": POLICY},
        {"role": "user", "content": f"Refund order 7 please ({conv_id})"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "refund", "arguments": '{"order": 7}'},
                },
                {
                    "id": "t2",
                    "type": "function",
                    "function": {"name": "refund", "arguments": "{oops"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "refunded"},
        {"role": "assistant", "content": "Done, refunded."},
    ]
    return json.dumps(
        {"id": conv_id, "messages": messages, "outcome": outcome, "tools": TOOLS, **extra}
    )


def run_import(path: Path, db: Path, fmt: str, *extra: str, run_id: str = "logs") -> int:
    args = build_parser().parse_args(
        ["import", str(path), "--format", fmt, "--run-id", run_id, "--db", str(db), *extra]
    )
    assert args.func is import_command
    return import_command(args)


def test_openai_logs_become_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, db = tmp_path / "chats.jsonl", tmp_path / "runs.sqlite"
    lines = [
        openai_line("c1", {"label": "failure", "reason": "no receipt asked"}),
        openai_line("c2", "success", split="test", domain="billing", model="openai:small"),
    ]
    path.write_text("\n".join(lines) + "\n")
    assert run_import(path, db, "openai") == 0
    assert "imported 2 conversations (1 failures) into run logs" in capsys.readouterr().err
    with RunStore(db) as store:
        info = store.load_run("logs")
        first, second = store.episodes("logs")
        report = build_report(store, "logs")
    assert info.status == "finished" and info.config["agent"] == "imported"
    assert info.config["policy"] == POLICY and info.config["tools"] == TOOLS
    assert info.config["source"]["format"] == "openai" and info.config["import_errors"] == []
    assert info.config["domains"] == ["billing", "imported"] and info.config["env"] == "import"
    assert (first.task_id, first.split, first.domain, first.reward) == (
        "c1",
        "train",
        "imported",
        0.0,
    )
    assert first.reward_info["details"] == {"label": "failure", "reason": "no receipt asked"}
    assert (second.split, second.domain, second.reward) == ("test", "billing", 1.0)
    assert [r["role"] for r in first.records] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    call = first.records[2]
    assert call["tool_calls"] == [{"id": "t1", "name": "refund", "arguments": {"order": 7}}]
    bad = call["invalid_tool_calls"][0]
    assert (bad["name"], bad["arguments"]) == ("refund", "{oops")
    assert "not JSON" in bad["error"]
    assert report["metrics"]["official"]["pass_hat_k"] == {"1": 0.5}

    # importing the same file again into the same run is idempotent
    assert run_import(path, db, "openai") == 0
    assert "re-imported 2 conversations" in capsys.readouterr().err
    with RunStore(db) as store:
        assert len(store.episodes("logs")) == 2


def test_langchain_dicts_in_every_dumped_form(tmp_path: Path) -> None:
    ai = AIMessage(
        content="",
        tool_calls=[{"id": "a1", "name": "refund", "args": {"order": 7}, "type": "tool_call"}],
        usage_metadata={"input_tokens": 120, "output_tokens": 8, "total_tokens": 128},
    )
    conversations = [
        [
            HumanMessage("refund 7").model_dump(),
            ai.model_dump(),
            ToolMessage("ok", tool_call_id="a1").model_dump(),
        ],
        messages_to_dict([HumanMessage("refund 8"), AIMessage("Which receipt?")]),
        [dumpd(HumanMessage("refund 9")), dumpd(AIMessage("Done."))],
    ]
    path, db = tmp_path / "lc.jsonl", tmp_path / "runs.sqlite"
    path.write_text(
        "\n".join(
            json.dumps({"id": f"k{n}", "messages": m, "outcome": "failure", "model": "m"})
            for n, m in enumerate(conversations)
        )
    )
    assert run_import(path, db, "langchain", "--policy", str(_policy(tmp_path))) == 0
    with RunStore(db) as store:
        episodes = store.episodes("logs")
        info = store.load_run("logs")
    assert info.config["policy"] == POLICY and info.config["model"] == "m"
    assert [[r["content"] for r in e.records] for e in episodes] == [
        ["refund 7", "", "ok"],
        ["refund 8", "Which receipt?"],
        ["refund 9", "Done."],
    ]
    assert episodes[0].records[1]["tool_calls"][0]["name"] == "refund"
    assert [(c["node"], c["input_tokens"], c["output_tokens"]) for c in episodes[0].llm_calls] == [
        ("agent", 120, 8)
    ]


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.md"
    path.write_text(POLICY)
    return path


def langsmith_run(run_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "name": "agent",
        "run_type": "chain",
        "start_time": "2026-01-01T10:00:00",
        "parent_run_id": None,
        "inputs": {"messages": []},
        "outputs": {},
        "extra": {"metadata": {}},
        **fields,
    }


def test_langsmith_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    turn1 = [dumpd(HumanMessage("cancel my plan"))]
    full = [*turn1, dumpd(AIMessage("Cancelled.")), dumpd(HumanMessage("thanks"))]
    runs = [
        # two turns of one thread: the latest holds the whole conversation
        langsmith_run(
            "r1",
            outputs={"messages": turn1},
            extra={"metadata": {"thread_id": "th-1", "outcome": "failure"}},
        ),
        langsmith_run(
            "r2",
            start_time="2026-01-01T10:05:00",
            outputs={"messages": full},
            extra={
                "metadata": {
                    "thread_id": "th-1",
                    "outcome": "failure",
                    "outcome_reason": "no confirmation",
                    "ls_model_name": "qwen",
                }
            },
        ),
        # a child run is not a conversation
        langsmith_run("r2-llm", parent_run_id="r2", run_type="llm"),
        # labelled by user feedback; OpenAI-style messages in inputs plus the output message
        langsmith_run(
            "r3",
            inputs={"messages": [{"role": "user", "content": "hello"}]},
            outputs={"output": {"role": "assistant", "content": "hi"}},
            feedback_stats={"user_score": {"n": 2, "avg": 1.0}},
        ),
        langsmith_run(
            "r4", outputs={"messages": full}, error="Timeout: model took too long\ntrace"
        ),
        langsmith_run("r5", outputs={"messages": full}),  # no label at all
    ]
    path, db = tmp_path / "export.json", tmp_path / "runs.sqlite"
    path.write_text(json.dumps(runs, indent=1))
    assert run_import(path, db, "langsmith-export", "--feedback-key", "user_score") == 1
    err = capsys.readouterr().err
    assert "record 6: no outcome label" in err and "2 failures" in err
    with RunStore(db) as store:
        episodes = {e.task_id: e for e in store.episodes("logs")}
    assert sorted(episodes) == ["r3", "r4", "th-1"]
    thread = episodes["th-1"]
    assert [r["content"] for r in thread.records] == ["cancel my plan", "Cancelled.", "thanks"]
    assert thread.reward_info["details"]["reason"] == "no confirmation"
    assert thread.extra["langsmith_run_id"] == "r2"
    assert episodes["r3"].reward == 1.0 and [r["role"] for r in episodes["r3"].records] == [
        "user",
        "assistant",
    ]
    assert episodes["r4"].reward_info["details"]["reason"] == "Timeout: model took too long"


def test_malformed_lines_are_reported_and_the_rest_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, db = tmp_path / "chats.jsonl", tmp_path / "runs.sqlite"
    lines = [
        openai_line("ok1", "success"),
        "{not json",
        json.dumps(
            {"id": "r", "messages": [{"role": "robot", "content": "x"}], "outcome": "success"}
        ),
        json.dumps({"id": "n", "messages": [{"role": "user", "content": "x"}]}),
        json.dumps({"id": "l", "messages": [{"role": "user", "content": "x"}], "outcome": "meh"}),
        json.dumps(
            {"id": "t", "messages": [{"role": "tool", "content": "x"}], "outcome": "success"}
        ),
        "",
        openai_line("ok1", "failure"),
        openai_line("ok2", "failure"),
    ]
    path.write_text("\n".join(lines))
    assert run_import(path, db, "openai") == 1
    err = capsys.readouterr().err.splitlines()
    problems = [line for line in err if line.startswith("fama import: ")]
    assert problems == [
        f"fama import: {path} line 2: not JSON (Expecting property name enclosed in double quotes)",
        f"fama import: {path} line 3: message 0: unknown role 'robot' (expected one of system, "
        "developer, user, assistant, tool)",
        f"fama import: {path} line 4: no outcome label ('success' or 'failure')",
        f"fama import: {path} line 5: outcome must be 'success' or 'failure', got 'meh'",
        f"fama import: {path} line 6: message 0: a tool message needs tool_call_id",
        f"fama import: {path} line 8: duplicate id 'ok1' (line 1)",
    ]
    with RunStore(db) as store:
        assert [e.task_id for e in store.episodes("logs")] == ["ok1", "ok2"]
        assert len(store.load_run("logs").config["import_errors"]) == 6


def test_unusable_inputs_are_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.sqlite"
    assert run_import(tmp_path / "missing.jsonl", db, "openai") == 2
    assert "cannot read the file" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n{}\n")
    assert run_import(empty, db, "openai") == 2
    err = capsys.readouterr().err
    assert (
        "line 2: messages must be a non-empty list" in err
        and "no conversation could be read" in err
    )
    assert not db.exists() or RunStore(db).list_runs() == []


def test_analyze_and_view_an_imported_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, db = tmp_path / "chats.jsonl", tmp_path / "runs.sqlite"
    path.write_text("\n".join([openai_line("c1", "failure"), openai_line("c2", "success")]))
    assert run_import(path, db, "openai") == 0
    helper = helper_for("policy_violation")
    router = Router(
        {
            ("analyst:policy_violation", "c1#0"): {
                "occurred": True,
                "rationale": "Refunded without asking for the receipt (step 2).",
                "evidence_steps": [2],
            },
            ("orchestrator", "c1#0"): {
                "primary_errors": ["policy_violation"],
                "recovered_errors": [],
                "rationale": "MARK-c1: refund without the receipt.",
                "evidence_steps": [2],
            },
            ("mitigation", "c1#0"): {"helpers": [helper], "rationale": "verify writes"},
        },
        {"(c1)": "c1#0", "MARK-c1": "c1#0"},
    )
    model = router.model(20)
    out = tmp_path / "analysis"
    args = build_parser().parse_args(
        ["analyze", "logs", "--db", str(db), "--out", str(out), "--analyst-model", "openai:judge"]
    )
    assert analyze.analyze_command(args, model_factory=lambda spec: model) == 0
    assert POLICY in router.prompt("analyst:policy_violation", "c1#0")
    assert "OUTCOME: 0.0 (FAILED)" in router.prompt("analyst:policy_violation", "c1#0")
    config = json.loads((out / "fama_config.json").read_text())
    assert config["helpers"] == [helper] and config["environment"] == "import:imported"
    with RunStore(db) as store:
        labels = store.episode_labels("logs")
    assert [(row.category, row.primary) for row in labels[("c1", 0)]] == [
        ("policy_violation", True)
    ]

    page = tmp_path / "view.html"
    view = build_parser().parse_args(["view", "logs", "--db", str(db), "--out", str(page)])
    assert view.func(view) == 0
    html = view_text(page)  # the page and its episode data files
    assert "policy_violation" in html and "Refund order 7 please (c1)" in html


def test_import_is_a_cli_command() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["import", "f.jsonl", "--format", "csv", "--run-id", "x"])
    args = parser.parse_args(["import", "f.jsonl", "--format", "langsmith-export", "--run-id", "x"])
    assert isinstance(args, argparse.Namespace) and args.feedback_key == "outcome"

"""README, "Use it on your own agent": the Python snippets (path 1) and the import commands
(path 3) run as written, with scripted models for ``model``, ``helper_model`` and
``$ANALYST_MODEL``. Path 2 runs in ``tests/test_own_domain.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage

from fama.cli import build_parser
from fama.commands import analyze
from fama.runs.store import RunStore
from tests.fakes import ScriptedChatModel
from tests.readme_snippets import blocks, commands, section
from tests.test_analysis import Router
from tests.test_view import view_text

SECTION = section("Use it on your own agent")
REFUND = AIMessage(
    content="", tool_calls=[{"name": "refund", "args": {"order_id": "42"}, "id": "r1"}]
)
ASK = "Shall I refund order 42? Please confirm (yes)."


def test_the_python_snippets_run(capsys: pytest.CaptureFixture[str]) -> None:
    snippets = blocks(SECTION, "python")
    assert len(snippets) == 2
    asked: list[list[BaseMessage]] = []

    def ask(messages: list[BaseMessage]) -> str:
        asked.append(messages)
        return ASK

    # each snippet: the model proposes the refund, the verifier withdraws it (no "yes" yet),
    # the model asks for confirmation; the helpers need no model call here
    model = ScriptedChatModel([REFUND, ask, REFUND, ask])
    namespace: dict[str, Any] = {"model": model, "helper_model": ScriptedChatModel([])}
    for snippet in snippets:
        exec(compile(snippet, "README.md", "exec"), namespace)
    assert capsys.readouterr().out.splitlines() == [ASK, "confirmation", ASK]
    assert not model.replies and len(asked) == 2
    assert all("was NOT executed" in str(m[-1].content) for m in asked)
    assert namespace["result"]["messages"][-1].content == ASK


def test_the_import_commands_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (line,) = blocks(SECTION, "json")
    (tmp_path / "chats.jsonl").write_text(line)
    argvs = commands(blocks(SECTION, "bash")[1], {"ANALYST_MODEL": "scripted:analyst"})
    assert [a[0] for a in argvs] == ["import", "analyze", "view"]
    router = Router(
        {
            ("analyst:policy_violation", "conv-1#0"): {
                "occurred": True,
                "rationale": "Refunded at step 2 without the customer's yes.",
                "evidence_steps": [2],
            },
            ("orchestrator", "conv-1#0"): {
                "primary_errors": ["policy_violation"],
                "recovered_errors": [],
                "rationale": "No confirmation before the refund.",
                "evidence_steps": [2],
            },
            ("mitigation", "conv-1#0"): {"helpers": ["decision_verifier"], "rationale": "gate"},
        },
        {},
        default="conv-1#0",
    )
    parser = build_parser()
    imported = parser.parse_args(argvs[0])
    assert imported.func(imported) == 0
    analysed = parser.parse_args(argvs[1])
    assert analyze.analyze_command(analysed, model_factory=lambda spec: router.model(10)) == 0
    viewed = parser.parse_args(argvs[2])
    assert viewed.func(viewed) == 0
    capsys.readouterr()
    config = (tmp_path / "fama-analysis" / "support-logs" / "fama_config.json").read_text()
    assert '"decision_verifier"' in config
    with RunStore(tmp_path / "fama-runs.sqlite") as store:
        labels = store.episode_labels("support-logs")
    assert [r.category for r in labels[("conv-1", 0)]] == ["policy_violation"]
    page = view_text(tmp_path / "support-logs.html")  # the page and its episode data files
    assert "refunded without asking" in page and "policy_violation" in page

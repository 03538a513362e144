"""The run viewer: page model and episode details from the store, the page and its data files,
XSS safety, the command."""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fama.commands import view as view_command
from fama.core.state import FamaDecision
from fama.core.trajectory import MessageRecord
from fama.runs.store import EpisodeLabelRow, EpisodeRecord, RunStore
from fama.view import (
    data_dir,
    episode_details,
    make_server,
    render_html,
    view_model,
    write_view,
)
from fama.view.model import Labels, message_views
from fama.view.render import embed_json
from fama.view.site import CALLBACK

RUN_ID = "view-demo"
HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">&amp;'
GUIDANCE = "Confirm the order details with the user before cancelling."
CONFIG: dict[str, Any] = {
    "env": "tau2:retail",
    "domain": "retail",
    "split": "test",
    "agent": "fama",
    "mode": "dynamic",
    "model": "openai:qwen-small",
    "user_model": "openai:user-sim",
    "judge_model": None,
    "trials": 2,
    "max_steps": 200,
    "fama_config": {"helpers": ["constraints_extractor", "decision_verifier"]},
    "command": "fama run --env tau2:retail --agent fama --mode dynamic",
}
PROMPTS = [{"name": "tau2_agent", "version": "v1", "sha256": "ab" * 32}]


def decision(index: int, helpers: list[str], guidance: str | None) -> FamaDecision:
    return {
        "message_index": index,
        "mode": "dynamic",
        "diagnosis": {
            "decision": 1,
            "signals": [
                {
                    "name": "action_request",
                    "category": "policy_violation",
                    "helper": "constraints_extractor",
                }
            ],
            "categories": ["policy_violation"],
            "verifier_checks": 1,
            "verifier_blocks": [{"check": "confirmation", "problem": "no explicit yes"}],
            "drivers": {h: ["policy_violation"] for h in helpers},
            "write_gate": "refused",
        },
        "active_helpers": helpers,
        "guidance": [] if guidance is None else [{"helper": helpers[0], "text": guidance}],
    }


def retail_records(result: str, error: bool, agent_text: str) -> list[MessageRecord]:
    return [
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "Please cancel order #W1."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "name": "cancel_pending_order", "arguments": {"order_id": "#W1"}}
            ],
        },
        {
            "role": "tool",
            "content": result,
            "tool_call_id": "c1",
            "name": "cancel_pending_order",
            "requestor": "assistant",
            "error": error,
        },
        {"role": "assistant", "content": agent_text},
        {"role": "user", "content": "Thanks ###STOP###"},
    ]


def telecom_records() -> list[MessageRecord]:
    return [
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {
            "role": "user",
            "content": "Let me check my phone.",
            "tool_calls": [{"id": "u1", "name": "check_status_bar", "arguments": {}}],
        },
        {
            "role": "tool",
            "content": "Airplane mode: ON",
            "tool_call_id": "u1",
            "name": "check_status_bar",
            "requestor": "user",
            "error": False,
        },
        {"role": "user", "content": "My data does not work."},
    ]


def episode(task_id: str, trial: int, domain: str, **fields: Any) -> EpisodeRecord:
    base: dict[str, Any] = {
        "split": "test",
        "status": "done",
        "termination": "user_stop",
        "reward": 1.0,
        "reward_info": {
            "reward": 1.0,
            "components": {"DB": 1.0, "COMMUNICATE": 1.0},
            "reward_basis": ["DB", "COMMUNICATE"],
            "details": {"db_match": True},
            "nl_judge_skipped": False,
        },
        "records": retail_records('{"status": "cancelled"}', False, "Your order is cancelled."),
        "llm_calls": [
            {
                "node": "agent",
                "model": "qwen",
                "input_tokens": 120,
                "output_tokens": 12,
                "latency_ms": 40.0,
            },
            {
                "node": "helper:decision_verifier",
                "model": "qwen",
                "input_tokens": 60,
                "output_tokens": 3,
                "latency_ms": 5.0,
            },
        ],
        "node_timings": [{"node": "agent", "latency_ms": 41.0}],
        "steps": 5,
        "tool_errors": 0,
        "started_at": "2025-01-01T00:00:00+00:00",
        "duration_s": 1.5,
        "agent_kind": "fama",
        "extra": {"seed": 7},
    }
    base.update(fields)
    return EpisodeRecord(run_id=RUN_ID, task_id=task_id, trial=trial, domain=domain, **base)


def sample_episodes() -> list[EpisodeRecord]:
    """Passed and failed episodes in three domains, with FAMA decisions and a hostile text."""
    failed_info = {
        "reward": 0.0,
        "components": {"DB": 0.0, "COMMUNICATE": 1.0},
        "reward_basis": ["DB", "COMMUNICATE"],
        "details": {"db_match": False, "note": HOSTILE, "ratio": float("nan")},
        "nl_judge_skipped": False,
    }
    return [
        episode(
            "r1",
            0,
            "retail",
            extra={
                "seed": 1,
                "fama_decisions": [decision(2, ["constraints_extractor"], GUIDANCE)],
            },
        ),
        episode(
            "r1",
            1,
            "retail",
            reward=0.0,
            reward_info=failed_info,
            records=retail_records("Error: order not found", True, HOSTILE),
            tool_errors=1,
            extra={
                "seed": 2,
                "fama_decisions": [
                    decision(2, ["constraints_extractor", "decision_verifier"], HOSTILE),
                    decision(4, ["memory"], None),
                ],
                "agent_issues": [
                    {"node": "agent", "kind": "empty_reply", "detail": "empty", "message_index": 4}
                ],
            },
        ),
        episode(
            "a7",
            0,
            "airline",
            reward=0.0,
            reward_info={**failed_info, "details": {}},
            records=retail_records('{"status": "pending"}', False, "Done."),
        ),
        episode(
            "t3",
            0,
            "telecom",
            status="infrastructure_error",
            termination="infrastructure_error",
            reward=None,
            reward_info={},
            records=telecom_records(),
            error_detail="ModelUnavailableError: server down",
        ),
    ]


def sample_labels() -> list[EpisodeLabelRow]:
    return [
        EpisodeLabelRow("r1", 1, "wrong_retrieval", False, "Looked up nothing first.", (2,)),
        EpisodeLabelRow(
            "r1", 1, "policy_violation", True, f"Cancelled without a yes. {HOSTILE}", (2, 3)
        ),
        EpisodeLabelRow("a7", 0, "contextual_misinterpretation", True, "Misread the date.", (4,)),
    ]


def build_sample_store(path: Path) -> Path:
    """A store with the sample run (episodes and labels); returns its path."""
    with RunStore(path) as store:
        store.create_or_resume_run(RUN_ID, CONFIG, PROMPTS)
        for ep in sample_episodes():
            store.save_episode(RUN_ID, ep)
        store.save_labels(RUN_ID, sample_labels())
        store.set_run_status(RUN_ID, "finished")
    return path


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return build_sample_store(tmp_path / "runs.sqlite")


def read_view(
    store: RunStore, labels: Labels | None = None, **selection: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sample run's page model and the details of its listed episodes."""
    rows: list[dict[str, Any]] = []
    found = store.episode_labels(RUN_ID) if labels is None else labels
    details = list(episode_details(store, RUN_ID, rows, found, **selection))
    return view_model(store.load_run(RUN_ID), rows, **selection), details


def embedded_data(page: str) -> Any:
    match = re.search(r'<script type="application/json" id="fama-data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


def view_text(page: Path) -> str:
    """A written page's text followed by its episode data files' text."""
    chunks = sorted(data_dir(page).glob("episodes-*.js"))
    return "\n".join(p.read_text(encoding="utf-8") for p in [page, *chunks])


def chunk_data(path: Path) -> list[dict[str, Any]]:
    """The episodes of one data file (``famaViewChunk([...]);``)."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"{CALLBACK}(") and text.endswith(");\n")
    episodes: list[dict[str, Any]] = json.loads(text[len(CALLBACK) + 1 : -3])
    return episodes


# --- the view model -----------------------------------------------------------------------


def test_view_model_of_a_stored_run(store_path: Path) -> None:
    with RunStore(store_path, create=False) as store:
        view, details = read_view(store)
    json.loads(embed_json([view, details]))  # the page's JSON: the stored NaN becomes null
    run = view["run"]
    assert run["run_id"] == RUN_ID and run["status"] == "finished"
    fields = dict(run["fields"])
    assert fields["Agent"] == "fama" and fields["FAMA mode"] == "dynamic"
    assert fields["FAMA helpers"] == "constraints_extractor, decision_verifier"
    assert "Judge model" not in fields  # unset entries are left out
    assert run["prompts"] == PROMPTS
    summary = view["summary"]
    assert (summary["episodes"], summary["passed"], summary["failed"], summary["errors"]) == (
        4,
        1,
        2,
        1,
    )
    assert summary["tasks"] == 3 and summary["labelled"] == 2
    assert summary["avg_reward"] == pytest.approx(1 / 3)  # the error episode is excluded
    assert summary["pass_hat_k"] == {"1": pytest.approx(0.25)}  # r1: 1/2, a7: 0
    assert summary["domains"] == {"airline": 1, "retail": 2, "telecom": 1}
    assert summary["categories"] == {
        "contextual_misinterpretation": 1,
        "policy_violation": 1,
        "wrong_retrieval": 1,
    }
    assert summary["fama_decisions"] == 3
    assert [e["index"] for e in details] == [e["index"] for e in view["episodes"]] == [0, 1, 2, 3]
    row = {(e["task_id"], e["trial"]): e for e in view["episodes"]}[("r1", 1)]
    assert row["categories"] == ["policy_violation", "wrong_retrieval"]
    assert (row["outcome"], row["input_tokens"], row["fama_decisions"]) == ("failed", 180, 2)
    assert "messages" not in row  # the list holds no conversation
    by_key = {(e["task_id"], e["trial"]): e for e in details}
    failed = by_key[("r1", 1)]
    assert failed["outcome"] == "failed"
    assert failed["categories"] == ["policy_violation", "wrong_retrieval"]  # primary first
    assert failed["labels"][0]["evidence_steps"] == [2, 3]
    assert [d["message_index"] for d in failed["fama_decisions"]] == [2, 4]
    assert failed["agent_issues"][0]["kind"] == "empty_reply"
    assert failed["extra"] == {"seed": 2}  # decisions and issues have their own sections
    call = failed["messages"][2]["tool_calls"][0]
    assert (call["result_index"], call["result_error"]) == (3, True)
    assert failed["messages"][3]["call_index"] == 2
    usage = failed["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["llm_calls"]) == (180, 15, 2)
    assert usage["by_node"]["helper:decision_verifier"]["latency_ms"] == 5.0
    assert math.isnan(failed["reward_info"]["details"]["ratio"])
    assert json.loads(embed_json(failed))["reward_info"]["details"]["ratio"] is None
    telecom = by_key[("t3", 0)]
    assert telecom["outcome"] == "error" and telecom["categories"] == []
    user_call = telecom["messages"][1]["tool_calls"][0]
    assert user_call["result_index"] == 2
    assert telecom["messages"][2]["requestor"] == "user"


def test_labels_can_be_given_instead_of_read(store_path: Path) -> None:
    labels = {("a7", 0): [EpisodeLabelRow("a7", 0, "custom_category", True, "given")]}
    with RunStore(store_path, create=False) as store:
        view, _ = read_view(store, labels)
    assert view["summary"]["categories"] == {"custom_category": 1}


def test_tool_calls_pair_with_results_in_order_even_with_reused_ids() -> None:
    records: list[MessageRecord] = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "x", "name": "a", "arguments": {}}],
            "invalid_tool_calls": [
                {"id": "bad", "name": "b", "arguments": "{oops", "error": "JSON"}
            ],
        },
        {"role": "tool", "content": "1", "tool_call_id": "x", "name": "a", "error": False},
        {"role": "tool", "content": "Error", "tool_call_id": "bad", "name": "b", "error": True},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "x", "name": "a", "arguments": {}}],
        },
        {"role": "tool", "content": "2", "tool_call_id": "x", "name": "a", "error": False},
        {"role": "tool", "content": "?", "tool_call_id": "nobody", "name": "a", "error": False},
    ]
    views = message_views(records)
    assert views[0]["tool_calls"][0]["result_index"] == 1
    invalid = views[0]["invalid_tool_calls"][0]
    assert (invalid["result_index"], invalid["result_error"], invalid["error"]) == (2, True, "JSON")
    assert views[3]["tool_calls"][0]["result_index"] == 4
    assert [v.get("call_index") for v in views[1:]] == [0, 0, None, 3, None]


def test_failed_only_and_limit_choose_the_listed_episodes(store_path: Path) -> None:
    with RunStore(store_path, create=False) as store:
        failed, failed_details = read_view(store, failed_only=True)
        first, details = read_view(store, failed_only=True, limit=2)
        with pytest.raises(ValueError, match="limit must be 0 or more"):
            read_view(store, limit=-1)
    assert [e["index"] for e in failed_details] == [0, 1, 2]
    assert [(e["task_id"], e["outcome"]) for e in failed["episodes"]] == [
        ("a7", "failed"),
        ("r1", "failed"),
        ("t3", "error"),
    ]
    assert failed["summary"]["episodes"] == 4  # the summary covers the whole run
    assert failed["selection"] == {"failed_only": True, "limit": None, "listed": 3}
    assert [e["index"] for e in first["episodes"]] == [0, 1]
    assert [(e["index"], e["task_id"], e["trial"]) for e in details] == [(0, "a7", 0), (1, "r1", 1)]


def test_the_data_files_hold_each_listed_episode_once_in_chunks(
    store_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site" / "run.html"
    with RunStore(store_path, create=False) as store:
        write_view(store, RUN_ID, out, chunk=3)
        folder = data_dir(out)
        assert folder == tmp_path / "site" / "run-data"
        assert sorted(p.name for p in folder.iterdir()) == [
            "episodes-00000.js",
            "episodes-00001.js",
        ]
        chunks = [chunk_data(p) for p in sorted(folder.iterdir())]
        assert [[e["index"] for e in c] for c in chunks] == [[0, 1, 2], [3]]
        assert chunks[0][1]["messages"][1]["content"] == "Please cancel order #W1."
        assert all(HOSTILE not in p.read_text(encoding="utf-8") for p in folder.iterdir())
        page = embedded_data(out.read_text(encoding="utf-8"))
        assert page["data"] == {"dir": "run-data", "chunk": 3}
        assert "messages" not in json.dumps(page["episodes"])
        # a smaller page later leaves no stale chunk behind
        write_view(store, RUN_ID, out, chunk=3, limit=1)
        assert [p.name for p in folder.iterdir()] == ["episodes-00000.js"]
        assert [e["task_id"] for e in chunk_data(folder / "episodes-00000.js")] == ["a7"]
        with pytest.raises(ValueError, match="chunk must be at least 1"):
            write_view(store, RUN_ID, out, chunk=0)


def test_an_empty_run_has_a_view() -> None:
    from fama.runs.store import RunInfo

    info = RunInfo("empty", {}, [], "running", "t0", "t0")
    view = view_model(info, [])
    assert view["summary"]["episodes"] == 0 and view["summary"]["avg_reward"] is None
    assert "<title>FAMA run empty</title>" in render_html(view)


# --- the page -----------------------------------------------------------------------------


def test_the_page_is_self_contained_and_embeds_the_view_safely(store_path: Path) -> None:
    with RunStore(store_path, create=False) as store:
        view, _ = read_view(store)
    page = render_html(view)
    assert embedded_data(page) == view
    # the hostile text never appears raw: only the page's own two scripts exist
    assert HOSTILE not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<img" not in page  # the hostile tag exists only as escaped JSON text
    # no network: no external references, a CSP without any remote source
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None and "default-src &#x27;none&#x27;" in csp.group(1)
    assert "script-src &#x27;sha256-" in csp.group(1)
    assert "&#x27;self&#x27;" in csp.group(1)  # the episode data files beside the page


def test_embedded_json_cannot_close_the_script_element() -> None:
    text = embed_json({"a": "</script><!-- \u2028 & >"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- \u2028 & >"}


def test_a_hostile_run_id_is_escaped_in_the_title() -> None:
    from fama.runs.store import RunInfo

    page = render_html(view_model(RunInfo("<b>x</b>", {}, [], "running", "", ""), []))
    assert "<title>FAMA run &lt;b&gt;x&lt;/b&gt;</title>" in page


# --- the command --------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    view_command.register(parser.add_subparsers())
    args = parser.parse_args(["view", *argv])
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


def test_view_command_writes_the_page_and_prints_its_path(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    out = tmp_path / "pages" / "run.html"
    assert run_cli(RUN_ID, "--db", str(store_path), "--out", str(out)) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert embedded_data(out.read_text(encoding="utf-8"))["run"]["run_id"] == RUN_ID
    assert (tmp_path / "pages" / "run-data" / "episodes-00000.js").is_file()
    assert (
        run_cli(RUN_ID, "--db", str(store_path), "-o", str(out), "--failed-only", "--limit", "1")
        == 0
    )
    listed = embedded_data(out.read_text(encoding="utf-8"))["episodes"]
    assert [(e["task_id"], e["outcome"]) for e in listed] == [("a7", "failed")]
    monkeypatch.chdir(tmp_path)
    assert run_cli(RUN_ID, "--db", str(store_path)) == 0
    assert (tmp_path / "fama-view" / f"{RUN_ID}.html").is_file()
    assert view_command.default_out("a/b c") == Path("fama-view/a_b_c.html")
    assert view_command.default_out("../x") == Path("fama-view/_x.html")


def test_view_command_errors_are_clear(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("nope", "--db", str(store_path), "--out", str(tmp_path / "x.html")) == 2
    err = capsys.readouterr().err
    assert "no run 'nope'" in err and RUN_ID in err
    assert run_cli(RUN_ID, "--db", str(tmp_path / "missing.sqlite")) == 2
    assert "no run store" in capsys.readouterr().err
    assert run_cli(RUN_ID, "--db", str(store_path), "--serve", "--port", "70000") == 2
    assert "--port" in capsys.readouterr().err
    assert run_cli(RUN_ID, "--db", str(store_path), "--limit", "-1") == 2
    assert "--limit must be 0 or more" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_the_server_serves_the_page_on_loopback_only(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "site" / "page.html"
    assert run_cli(RUN_ID, "--db", str(store_path), "--out", str(out)) == 0
    with make_server(out) as server:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1" and port > 0
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/page.html", timeout=5) as resp:
                assert embedded_data(resp.read().decode("utf-8"))["run"]["run_id"] == RUN_ID
            chunk = f"http://127.0.0.1:{port}/page-data/episodes-00000.js"
            with urllib.request.urlopen(chunk, timeout=5) as resp:  # the page's data files
                assert resp.headers["Content-Type"].startswith("text/javascript")
                assert resp.read().startswith(f"{CALLBACK}(".encode())
            (out.parent / "page-data" / "notes.txt").write_text("private", encoding="utf-8")
            for other in ("page-data/notes.txt", "page-data/", "page-data/episodes-0.js"):
                with pytest.raises(urllib.error.HTTPError) as err:  # nothing else
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/{other}", timeout=5)
                assert err.value.code == 404
        finally:
            server.shutdown()
            thread.join(timeout=5)
    with pytest.raises(ValueError, match="not a file"):
        make_server(out.parent)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_view_serve_runs_until_ctrl_c(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "served.html"
    argv = ["view", RUN_ID, "--db", str(store_path), "--out", str(out), "--serve"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fama.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(out)
        line = proc.stdout.readline()
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/served\.html)", line)
        assert match is not None, line
        with urllib.request.urlopen(match.group(1), timeout=10) as resp:
            assert embedded_data(resp.read().decode("utf-8"))["run"]["run_id"] == RUN_ID
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and "stopped" in err

"""Comparison renderings (text, Markdown, HTML, JSON) and the ``fama compare`` command."""

from __future__ import annotations

import argparse
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fama.commands import compare as compare_command
from fama.runs.compare import Comparison, build_comparison
from fama.runs.compare_render import (
    comparison_tables,
    render_html,
    render_json,
    render_markdown,
    render_text,
)
from fama.runs.store import EpisodeLabelRow, RunStore
from tests.test_compare import add_run, episode

LONG = "fama-static-qwen2.5-7b-instruct-retail-test-2026-01-01-with-a-very-long-suffix"
ODD = "base<&>|run"
VOID = {"meta", "br", "img", "input", "link", "hr"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Three runs on two domains, FAMA helpers, infra errors and failure labels."""
    path = tmp_path / "runs.sqlite"
    decisions = [
        {
            "message_index": 1,
            "mode": "static",
            "diagnosis": {},
            "active_helpers": ["constraints_extractor", "planner"],
            "guidance": [],
        }
    ]
    fama_calls = [("agent", 120, 10), ("helper:planner", 30, 5), ("user", 50, 5)]
    with RunStore(path) as store:
        for run_id, wins, agent in ((ODD, 3, "fc"), (LONG, 5, "fama"), ("dyn", 4, "fama")):
            episodes = []
            for i in range(8):
                domain = "retail" if i < 4 else "airline"
                for trial in (0, 1):
                    ok = (i + trial) % 8 < wins
                    episodes.append(
                        episode(
                            run_id,
                            f"{domain[0]}{i}",
                            trial,
                            1.0 if ok else 0.0,
                            domain=domain,
                            calls=fama_calls if agent == "fama" else [("agent", 100, 10)],
                            extra={"fama_decisions": decisions} if agent == "fama" else {},
                        )
                    )
            episodes[-1] = episode(run_id, "a7", 1, None, domain="airline", status="error")
            add_run(store, run_id, episodes, agent=agent, mode="static" if agent else None)
        for run_id in (ODD, LONG):
            failed = [e for e in store.episodes(run_id) if e.reward is not None and e.reward < 1]
            store.save_labels(
                run_id,
                [
                    EpisodeLabelRow(
                        e.task_id, e.trial, "policy_violation" if n % 2 else "x<y>", True
                    )
                    for n, e in enumerate(failed)
                ],
            )
    return path


@pytest.fixture
def comparison(db: Path) -> Comparison:
    with RunStore(db, create=False) as store:
        return build_comparison(store, [ODD, LONG, "dyn"], resamples=300)


class WellFormed(HTMLParser):
    """Checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def test_text_fits_100_columns(comparison: Comparison) -> None:
    text = render_text(comparison)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "Difference vs baseline" in text and "By domain" in text
    assert "FAMA helper activations" in text and "constraints_extractor" in text
    assert "Failure categories (primary errors)" in text
    assert "run dyn has no failure labels" in text.replace("\n    ", " ")
    assert "official: 1 paired episode(s)" in text and "up to k = 1" in text


def test_markdown_tables_have_a_consistent_shape(comparison: Comparison) -> None:
    markdown = render_markdown(comparison)
    assert markdown.startswith("# FAMA run comparison\n")
    blocks: list[list[str]] = [[]]
    for line in markdown.splitlines():
        if line.startswith("|"):
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    tables = [b for b in blocks if b]
    assert len(tables) == 1 + len(comparison_tables(comparison)) - 0  # runs + every table
    for table in tables:
        cells = [len(line.replace("\\|", "").split("|")) for line in table]
        assert len(set(cells)) == 1, table
        assert set(table[1]) <= {"|", "-"}
    assert "base&lt;&amp;&gt;\\|run" in markdown


def test_html_is_well_formed_with_three_plots(comparison: Comparison) -> None:
    html = render_html(comparison)
    parser = WellFormed()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    assert parser.tags.count("svg") == 3
    assert "script" not in parser.tags and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", ""
    )
    assert ODD not in html and "base&lt;&amp;&gt;|run" in html
    assert "x&lt;y&gt;" in html and "Failure categories (primary errors), before / after" in html


def test_json_rendering(comparison: Comparison) -> None:
    data = json.loads(render_json(comparison))
    assert data["baseline"] == ODD and data["convention"] == "official"
    assert [d["name"] for d in data["domains"]] == ["airline", "retail"]
    assert data["failures"]["dyn"] is None


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fama")
    compare_command.register(parser.add_subparsers())
    args = parser.parse_args(["compare", *argv])
    return int(args.func(args))


def test_cli_formats_and_exit_codes(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--db", str(db), "--resamples", "50"]
    assert run_cli([ODD, LONG, *common]) == 0
    assert "Success on 15 paired episodes" in capsys.readouterr().out
    assert run_cli([LONG, "dyn", "--baseline", ODD, "--format", "json", "--strict", *common]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["baseline"] == ODD and data["episodes"] == 16
    for suffix, marker in ((".html", "<!DOCTYPE html>"), (".md", "# FAMA"), (".json", "{")):
        out = tmp_path / "reports" / f"c{suffix}"
        assert run_cli([ODD, LONG, "--out", str(out), *common]) == 0
        assert out.read_text(encoding="utf-8").startswith(marker)
        assert f"wrote {out}" in capsys.readouterr().err
    assert run_cli([ODD, "nope", *common]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
    assert run_cli([ODD, *common]) == 2
    assert "at least two" in capsys.readouterr().err
    assert run_cli([ODD, LONG, "--db", str(tmp_path / "absent.sqlite")]) == 2
    assert "no run store" in capsys.readouterr().err
    assert run_cli([ODD, LONG, "--resamples", "0", "--db", str(db)]) == 2
    assert not (tmp_path / "absent.sqlite").exists()


def test_cli_reports_runs_without_common_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        add_run(store, "a", [episode("a", "1", 0, 1.0)])
        add_run(store, "b", [episode("b", "2", 0, 1.0)])
    assert run_cli(["a", "b", "--db", str(path)]) == 2
    assert "no common scored episodes" in capsys.readouterr().err

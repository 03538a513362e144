"""The taxonomy artifact (save/load/show) and the ``fama analyze`` / ``fama taxonomy`` commands."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from fama.analysis.taxonomy import Taxonomy, format_table
from fama.commands import analyze, taxonomy
from fama.core.fama_config import FamaConfig
from fama.llm.models import ModelSpec
from fama.runs.analysis import AnalysisResult, analyze_episodes
from fama.runs.store import EpisodeRecord, RunStore
from tests.fakes import ScriptedChatModel
from tests.test_analysis import (
    cancel_without_confirmation,
    recovered_then_incomplete,
    settings,
    two_episode_router,
)


async def analysed() -> AnalysisResult:
    router = two_episode_router()
    return await analyze_episodes(
        [cancel_without_confirmation(), recovered_then_incomplete()],
        model=router.model(14),
        model_name="openai:judge",
        settings=settings(),
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fama")
    subparsers = parser.add_subparsers(dest="command", required=True)
    analyze.register(subparsers)
    taxonomy.register(subparsers)
    return parser.parse_args(argv)


async def test_save_load_round_trip(tmp_path: Path) -> None:
    result = await analysed()
    path = tmp_path / "taxonomy.json"
    result.taxonomy.save(path)
    data = json.loads(path.read_text())
    assert data["format_version"] == 1 and data["run_id"] == "r1" and data["split"] == "train"
    assert data["episodes"][0]["evidence_steps"] == [4]
    loaded = Taxonomy.load(path)
    assert loaded == result.taxonomy
    assert loaded.category_objects()[0].id == "policy_violation"


async def test_counts_follow_human_edits(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.json"
    (await analysed()).taxonomy.save(path)
    data = json.loads(path.read_text())
    data["episodes"][1]["primary_errors"] = ["policy_violation"]
    path.write_text(json.dumps(data))
    counts = {c.id: c.count for c in Taxonomy.load(path).recount().categories}
    assert counts["policy_violation"] == 2 and counts["incomplete_fulfilment"] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [("not json", "not a valid FAMA taxonomy"), ('{"format_version": 1}', "not a valid")],
)
def test_invalid_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        Taxonomy.load(path)
    with pytest.raises(ValueError, match="not a valid"):
        Taxonomy.load(tmp_path / "missing.json")


async def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.json"
    taxonomy_ = (await analysed()).taxonomy
    taxonomy_.model_copy(update={"format_version": 99}).save(path)
    with pytest.raises(ValueError, match="format 99"):
        Taxonomy.load(path)


async def test_table_shows_counts_shares_and_examples() -> None:
    text = format_table((await analysed()).taxonomy)
    lines = text.splitlines()
    assert lines[0].startswith("Taxonomy of run r1 (split train): 2 failed episodes")
    header = next(line for line in lines if line.startswith("category"))
    assert header.split() == [
        "category",
        "source",
        "count",
        "share",
        "flagged",
        "example",
        "episodes",
    ]
    row = next(line for line in lines if line.startswith("policy_violation"))
    assert row.split() == ["policy_violation", "seed", "1", "50.0%", "1", "1#0"]
    row = next(line for line in lines if line.startswith("wrong_retrieval"))
    assert row.split() == ["wrong_retrieval", "seed", "0", "0.0%", "0"]
    assert "Helpers recommended:" in text


async def test_taxonomy_show_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "taxonomy.json"
    (await analysed()).taxonomy.save(path)
    args = parse(["taxonomy", "show", str(path), "--examples", "1"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "incomplete_fulfilment" in out and "2#0" in out
    args = parse(["taxonomy", "show", str(tmp_path / "nope.json")])
    assert args.func(args) == 2
    assert "not a valid FAMA taxonomy" in capsys.readouterr().err


# ------------------------------------------------------------------------ fama analyze


def stored(
    episode: Any, *, split: str, status: str = "done", reward: float | None = 0.0
) -> EpisodeRecord:
    return EpisodeRecord(
        run_id="r1",
        task_id=episode.task_id,
        trial=0,
        domain="retail",
        split=split,
        status=status,  # type: ignore[arg-type]
        termination="user_stop",
        reward=reward,
        reward_info=dict(episode.reward_info),
        records=list(episode.records),
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "runs.sqlite"
    config = {
        "env": "tau2:retail",
        "domain": "retail",
        "model": "openai:small",
        "data_dir": str(tmp_path / "no-data"),
        "judge_model": "openai:judge",
        "judge_base_url": "http://judge:8000/v1",
    }
    cancel, recovered = cancel_without_confirmation(), recovered_then_incomplete()
    with RunStore(path) as store:
        store.create_or_resume_run("r1", config, [])
        store.save_episode("r1", stored(cancel, split="train"))
        store.save_episode("r1", stored(recovered, split="train"))
        success = stored(cancel, split="train", reward=1.0)
        success.task_id = "3"
        store.save_episode("r1", success)
        infra = stored(cancel, split="train", status="infrastructure_error", reward=None)
        infra.task_id = "4"
        store.save_episode("r1", infra)
        other = stored(recovered, split="test")
        other.task_id = "5"
        store.save_episode("r1", other)
    return path


def test_analyze_command_writes_taxonomy_and_config(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    router = two_episode_router()
    model = router.model(14)
    specs: list[ModelSpec] = []

    def factory(spec: ModelSpec) -> ScriptedChatModel:
        specs.append(spec)
        return model

    out = tmp_path / "out"
    args = parse(["analyze", "r1", "--db", str(db), "--out", str(out), "--max-concurrency", "2"])
    assert analyze.analyze_command(args, model_factory=factory) == 0
    assert specs == [
        ModelSpec(model="openai:judge", base_url="http://judge:8000/v1", max_tokens=1024)
    ]
    taxonomy_ = Taxonomy.load(out / "taxonomy.json")
    assert [e.episode for e in taxonomy_.episodes] == ["1#0", "2#0"]  # train failures only
    assert taxonomy_.environments == ["tau2:retail"] and taxonomy_.backbone == "openai:small"
    config = FamaConfig.load(out / "fama_config.json")
    assert config.environment == "tau2:retail" and config.backbone == "openai:small"
    assert config.derived_from["task_ids"] == ["1", "2"]
    assert config.derived_from["split"] == "train"
    # every analysed task is recorded: the passed one (3) and the infrastructure error (4) too
    assert config.analysed_task_ids == ["1", "2", "3", "4"]
    assert config.split == "train"
    assert config.helpers
    captured = capsys.readouterr()
    assert "policy_violation" in captured.out
    assert "FAMA configuration for openai:small on tau2:retail" in captured.out
    assert "reminder" in captured.err and "[2/2]" in captured.err
    assert "no policy text for retail" in captured.err


def test_analyze_uses_the_domain_policy(db: Path, tmp_path: Path, tau2_data_dir: Path) -> None:
    router = two_episode_router()
    model = router.model(14)
    args = parse(
        [
            "analyze",
            "r1",
            "--db",
            str(db),
            "--out",
            str(tmp_path / "o"),
            "--data-dir",
            str(tau2_data_dir),
            "--analyst-model",
            "openai:other",
        ]
    )
    assert analyze.analyze_command(args, model_factory=lambda spec: model) == 0
    policy = (tau2_data_dir / "domains" / "retail" / "policy.md").read_text().strip()
    assert policy in router.prompt("analyst:policy_violation", "1#0")


def test_analyze_errors(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    down = ScriptedChatModel([ConnectionError("refused")] * 20)
    args = parse(["analyze", "r1", "--db", str(db), "--out", str(out), "--no-propose"])
    assert analyze.analyze_command(args, model_factory=lambda spec: down) == 1
    assert "every analyst call failed" in capsys.readouterr().err
    assert not out.exists()

    args = parse(["analyze", "r1", "--db", str(db), "--split", "dev"])
    assert analyze.analyze_command(args) == 2
    assert "no episodes in split 'dev' (splits present: test, train" in capsys.readouterr().err

    args = parse(["analyze", "nope", "--db", str(db)])
    assert analyze.analyze_command(args) == 1
    assert "no run 'nope'" in capsys.readouterr().err

    args = parse(["analyze", "r1", "--db", str(tmp_path / "missing.sqlite")])
    assert analyze.analyze_command(args) == 2
    assert "does not exist" in capsys.readouterr().err


def test_analyze_with_edited_categories_and_limit(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "edited.json"
    edited = asyncio.run(analysed()).taxonomy
    extra = edited.categories[0].model_copy(
        update={"id": "premature_transfer", "name": "Premature transfer", "source": "proposed"}
    )
    edited.model_copy(update={"categories": [*edited.categories, extra]}).save(source)
    router = two_episode_router()
    model = router.model(8)  # one episode: 5 analysts + proposer + orchestrator + mitigation
    out = tmp_path / "o"
    options = ["--split", "all", "--limit", "1", "--categories", str(source)]
    args = parse(["analyze", "r1", "--db", str(db), "--out", str(out), *options])
    assert analyze.analyze_command(args, model_factory=lambda spec: model) == 0
    assert len(model.calls) == 8
    assert router.prompt("analyst:premature_transfer", "1#0")
    result = Taxonomy.load(out / "taxonomy.json")
    assert result.split is None and [e.episode for e in result.episodes] == ["1#0"]
    assert [c.source for c in result.categories][-1] == "proposed"
    assert "split 'all'" in capsys.readouterr().err

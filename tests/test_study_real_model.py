"""``fama study`` on 2 train + 2 test tasks of the own-domain example (``examples/saas_admin``,
transcript-style user) with the embedded 0.5B model (analysis included): agent, user
simulator, helpers and analysts all use the one local server.

Opt in with ``FAMA_REAL_MODEL_TESTS=1`` (needs a llama-server build or build tools). About
10 short episodes (max 12 steps) plus the analysis. The example's prompts are short (1.7k
tokens; tau2 retail's are 5k and the same study took about 40 minutes on 2 cores). The test
checks that every stage runs through a real server in one process and that the results folder
is complete, not what the 0.5B solves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fama.cli import build_parser
from fama.commands.study import study_command
from fama.core.fama_config import FamaConfig
from fama.runs.store import RunStore
from fama.serving.server import LocalServer
from tests.test_real_model import server  # noqa: F401  (the module-scoped local server)

pytestmark = [pytest.mark.real_model, pytest.mark.long, pytest.mark.enable_socket]


EXAMPLE_FILE = Path(__file__).resolve().parents[1] / "examples" / "saas_admin" / "support.py"
EXAMPLE_ENV = f"python:{EXAMPLE_FILE}:make_env"


def test_fama_study_with_the_embedded_model(
    server: LocalServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    model, url = server.model_spec, server.base_url
    out = tmp_path / "study"
    argv = [
        "study",
        "--env", EXAMPLE_ENV,
        "--model", model, "--base-url", url,
        "--analyst-model", model, "--analyst-base-url", url,
        "--train-tasks", "2", "--test-tasks", "2",
        "--train-trials", "1", "--trials", "1",
        "--no-judge", "--tool-call-mode", "tolerant", "--max-steps", "12",
        "--concurrency", "2", "--max-output-tokens", "analyst=256",
        "--out", str(out),
    ]  # fmt: skip
    assert study_command(build_parser().parse_args(argv)) == 0
    for name in ("taxonomy.json", "fama_config.json", "compare.html", "results.md"):
        assert (out / name).is_file(), name
    config = FamaConfig.load(out / "fama_config.json")
    assert config.environment == EXAMPLE_ENV and len(config.analysed_task_ids) == 2
    results = (out / "results.md").read_text(encoding="utf-8")
    for row in ("| FC (baseline) |", "| FAMA static", "| FAMA dynamic", "| All helpers"):
        assert row in results
    with RunStore(out / "runs.sqlite") as store:
        runs = {r.run_id for r in store.list_runs()}
        assert {f"study-{s}" for s in ("baseline-train", "baseline", "all-helpers")} <= runs
        assert all(len(store.episodes(r)) == 2 for r in runs)
    # a second call finds everything stored and only rewrites the results
    assert study_command(build_parser().parse_args(argv)) == 0

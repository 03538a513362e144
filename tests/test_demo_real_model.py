"""``fama demo`` end to end through the real llama-server (0.5B, own-domain example).

Opt in with ``FAMA_REAL_MODEL_TESTS=1``; CI runs it (about 25 s once the server is built).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fama.serving.server import LocalServer
from tests.test_real_model import MODEL, server  # noqa: F401  (the module-scoped local server)

pytestmark = [pytest.mark.real_model, pytest.mark.enable_socket]


def test_two_task_demo_end_to_end(
    server: LocalServer,  # noqa: F811
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``fama demo`` (the own-domain example) on one train and one test task with the 0.5B
    model: every step runs and writes its output."""
    import argparse

    from fama.commands.demo import BASELINE_RUN, FAMA_RUN, TRAIN_RUN, demo_command
    from fama.runs.store import RunStore

    args = argparse.Namespace(
        setting="saas-admin",
        model=MODEL,
        base_url=server.base_url,
        train_tasks=1,
        test_tasks=1,
        max_steps=8,
        analyst_max_tokens=256,
        data_dir=None,
        out=tmp_path,
    )
    started = time.perf_counter()
    assert demo_command(args) == 0
    printed = capsys.readouterr().out
    print(f"\ndemo: {time.perf_counter() - started:.1f} s\n{printed}")
    assert "tasks solved" in printed and "helpers chosen by the analysis" in printed
    assert (tmp_path / "analysis" / "fama_config.json").is_file()
    assert (tmp_path / "compare.html").is_file()
    with RunStore(tmp_path / "runs.sqlite", create=False) as store:
        for run in (TRAIN_RUN, BASELINE_RUN, FAMA_RUN):
            (episode,) = store.episodes(run)
            assert episode.status == "done", (run, episode.error_detail)

"""Real-model acceptance of bounded generation (issue 16): one ACEBench multi_step episode.

With the embedded 1.5B model, tolerant tool calls and no output limit, 2 of 4 such episodes
were lost as ``infrastructure_error``: the model wrote fake ``<tool_response>`` blocks until
the request timed out. Now every call is bounded, so the episode must end with a regular
termination. Opt in with ``FAMA_REAL_MODEL_TESTS=1`` (the model and llama-server are
fetched on first use; the default is the 0.5B model CI already has; the issue's runs used
``FAMA_REAL_MODEL=local:qwen2.5-coder-1.5b``); ``FAMA_REAL_MODEL`` picks the model and
``FAMA_REAL_MODEL_TASK`` another task. ``--max-steps 16`` keeps the run to minutes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fama.core.output_limits import OutputLimits
from fama.runs.report import build_report, render_report
from fama.runs.store import RunStore
from tests.test_cli_run import parse
from tests.test_real_model import _skip_reason

pytestmark = [pytest.mark.real_model, pytest.mark.enable_socket]

MODEL = os.environ.get("FAMA_REAL_MODEL", "local:qwen2.5-coder-0.5b")
TASK = os.environ.get("FAMA_REAL_MODEL_TASK", "agent_multi_step_0")


def test_acebench_multi_step_episode_has_no_infrastructure_error(
    acebench_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from fama.commands.run import run_command

    db = tmp_path / "runs.sqlite"
    argv = [
        "--env", "acebench:multi_step", "--data-dir", str(acebench_data_dir),
        "--task-ids", TASK, "--model", MODEL, "--tool-call-mode", "tolerant",
        "--max-steps", "16", "--db", str(db), "--run-id", "bounded", "--no-progress",
    ]  # fmt: skip
    started = time.perf_counter()
    assert run_command(parse(argv)) == 0
    seconds = time.perf_counter() - started
    with RunStore(db) as store:
        [episode] = store.episodes("bounded")
        text = render_report(build_report(store, "bounded"))
    with capsys.disabled():
        print(f"\n{MODEL} on {TASK}: {seconds:.0f} s, {episode.status}/{episode.termination}")
        print("\n".join(line for line in text.splitlines() if "output limit" in line))
    assert episode.status == "done", episode.error_detail
    assert episode.termination in {
        "user_stop",
        "agent_stop",
        "max_steps",
        "too_many_errors",
        "repeated_call",
    }
    limits = OutputLimits()
    for call in episode.llm_calls:  # +1: a client-side cut keeps the token that went over
        assert call["output_tokens"] <= limits.for_node(call["node"]) + 1, call
        assert call.get("finish_reason") is not None, call

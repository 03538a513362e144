"""llama-server's supply chain and lifetime: pinned sdist hash, process group, parent death."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fama.serving import build
from fama.serving.build import BuildError, _eta, verified_sdist
from fama.serving.child import spawn_child, stop_child


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" not in status.read_text()
    except FileNotFoundError:
        return False


def _wait_dead(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_sdist_is_verified_against_the_pin(tmp_path: Path) -> None:
    good = tmp_path / "good.tar.gz"
    good.write_bytes(b"llama")
    assert verified_sdist(good, hashlib.sha256(b"llama").hexdigest()) == good
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"tampered")
    with pytest.raises(BuildError, match="does not match the pinned"):
        verified_sdist(bad, hashlib.sha256(b"llama").hexdigest())
    assert not bad.exists()  # a wrong file is never used again
    assert len(build.LLAMA_CPP_SHA256) == 64


def test_build_progress_has_an_eta() -> None:
    assert _eta(0, 5.0) == ""
    assert _eta(25, 60.0) == " (1m 00s, about 3m 00s left)"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_child_dies_with_the_process_that_started_it() -> None:
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from fama.serving.child import spawn_child\n"
            "p = spawn_child(['sleep', '60'])\nprint(p.pid, flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert starter.stdout is not None
    child = int(starter.stdout.readline())
    assert _alive(child)
    starter.kill()  # SIGKILL: no Python cleanup runs, only the kernel's parent-death signal
    starter.wait()
    assert _wait_dead(child), "the child outlived its killed parent"


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    proc = spawn_child(["sh", "-c", f"sleep 60 & echo $! > {pids}; exec sleep 60"])
    deadline = time.monotonic() + 5
    while not pids.exists() or not pids.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(pids.read_text())
    assert os.getpgid(grandchild) == proc.pid  # same group, led by the child
    stop_child(proc, timeout_s=5)
    assert proc.returncode is not None
    assert _wait_dead(grandchild), "a process the server started survived the stop"


def test_model_download_overlaps_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from fama.serving import local

    spans: dict[str, tuple[float, float]] = {}

    def slow(name: str, result: Path) -> Path:
        start = time.monotonic()
        time.sleep(0.4)
        spans[name] = (start, time.monotonic())
        return result

    monkeypatch.setattr(local, "ensure_llama_server", lambda p: slow("build", Path("/b")))
    monkeypatch.setattr(local, "ensure_model", lambda k, p: slow("model", Path("/m")))
    assert local.ensure_local_model("qwen2.5-coder-0.5b") == (Path("/b"), Path("/m"))
    (b0, b1), (m0, m1) = spans["build"], spans["model"]
    assert b0 < m1 and m0 < b1, "the download and the build did not run at the same time"


def test_default_threads_every_core_when_idle_else_leave_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fama.serving import server

    assert server.default_threads(cores=2, busy=0.1) == 2  # idle: every core
    assert server.default_threads(cores=2, busy=1.0) == 1  # busy: leave one
    assert server.default_threads(cores=8, busy=5.0) == 7
    assert server.default_threads(cores=1, busy=4.0) == 1
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n")
    later = "cpu  250 0 250 900 0 0 0 0 0 0\n"
    monkeypatch.setattr(server.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(server.time, "sleep", lambda s: stat.write_text(later))
    assert server.busy_cores(window_s=0.0, stat=stat) == 1.5  # 300 busy of 400 ticks, 2 cores
    monkeypatch.setattr(server.os, "getloadavg", lambda: (0.7, 0.0, 0.0))
    assert server.busy_cores(window_s=0.0, stat=tmp_path / "missing") == 0.7

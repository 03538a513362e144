"""Big runs stay light: CPU, peak memory and output size of ``fama report``, ``fama compare``
and ``fama view`` on a store of many episodes.

The store is built once (``--store``, reused when it exists): real tau2 retail episodes from
gold replays with instant models (as ``framework_overhead.py``), copied into two runs of
``--episodes`` episodes each (``big`` and ``big-b``; every third, fourth episode failed).
Each command runs in its own process; its CPU time and peak RSS come from ``os.wait4``.
``--code DIR`` runs the commands with another checkout's ``fama`` (the figures before a
change).

    .venv/bin/python benchmarks/big_runs.py [--episodes 10000] [--store big.sqlite] [--code DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from framework_overhead import DEFAULT_DATA, instant_executor, load, run_benchmark

from fama.runs.store import EpisodeRecord, RunStore

REPO = Path(__file__).resolve().parents[1]
RUNS = ("big", "big-b")


def seed_episodes(data_dir: Path) -> list[EpisodeRecord]:
    """One gold-replay episode per retail test task."""
    domain, tasks, guidelines = load(data_dir, "test")
    with tempfile.TemporaryDirectory() as tmp:
        summary, _, store = asyncio.run(
            run_benchmark(instant_executor(domain, tasks, guidelines), tasks, 1, 8, Path(tmp) / "s")
        )
        episodes = store.episodes("bench")
        store.close()
    if summary.errors or summary.infra_errors:
        raise SystemExit(f"seed run failed: {summary.line()}")
    return episodes


def build_store(path: Path, episodes: int, data_dir: Path) -> None:
    """Two runs of ``episodes`` copies of the seed episodes (trial = copy number)."""
    seed = seed_episodes(data_dir)
    with RunStore(path) as store:
        for run, every in zip(RUNS, (3, 4), strict=True):
            store.create_or_resume_run(run, {"env": "tau2:retail", "trials": 1}, [])
            for i in range(episodes):
                base = seed[i % len(seed)]
                store.save_episode(
                    run,
                    dataclasses.replace(
                        base, run_id=run, trial=i // len(seed), reward=0.0 if i % every else 1.0
                    ),
                )
            store.set_run_status(run, "finished")


def measure(argv: Sequence[str], code: Path) -> tuple[float, float, float] | None:
    """(wall s, CPU s, peak RSS MB) of ``python -m fama.cli ARGV`` with ``code``'s fama;
    ``None`` if the command failed (e.g. an option that checkout does not have)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fama.cli", *argv], env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        return None
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def size_mb(path: Path) -> float:
    """Size of a file, or of every file under a folder, in MB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--store", type=Path, help="store to build once and reuse")
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose fama runs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.store or Path(tmp) / "big.sqlite"
        if not db.exists():
            start = time.perf_counter()
            build_store(db, args.episodes, args.data_dir)
            print(f"store           built in {time.perf_counter() - start:.0f} s: {db}")
        page = Path(tmp) / "view" / "big.html"
        commands = {
            "report": ["report", "big", "--db", str(db)],
            "compare": ["compare", "big", "big-b", "--db", str(db)],
            "view": ["view", "big", "--db", str(db), "-o", str(page)],
            "view --failed-only --limit 100": [
                "view",
                "big",
                "--db",
                str(db),
                "-o",
                str(page),
                "--failed-only",
                "--limit",
                "100",
            ],
        }
        print(f"code            {args.code}")
        for name, command in commands.items():
            measured = measure(command, args.code)
            if measured is None:
                print(f"{name:<31} failed (not supported by {args.code}?)", flush=True)
                continue
            wall, cpu, rss = measured
            line = f"{name:<31} wall {wall:5.2f} s  CPU {cpu:5.2f} s  peak RSS {rss:4.0f} MB"
            if name.startswith("view"):
                data = page.with_name("big-data")
                line += f"  page {size_mb(page):5.1f} MB"
                if data.exists():
                    line += f" + data {size_mb(data):5.1f} MB"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

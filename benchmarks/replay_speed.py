"""Time the gold replay of all four tau2 task sets (retail/airline x current/legacy) in-process.

Usage: python benchmarks/replay_speed.py [--data-dir DIR] [--legacy-dir DIR]

Prints seconds per set and in total (including loading), with a breakdown: module imports,
DB parse + normalise, base serialisation (first hash), task loading, per-task environment
copy, tool execution and end-state hashing. Each domain's DB is parsed once and shared by
both task sets, as in a real run.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_start = time.perf_counter()
from fama.envs.tau2.data import resolve_data_dir, resolve_legacy_dir  # noqa: E402
from fama.envs.tau2.db import clone  # noqa: E402
from fama.envs.tau2.environment import Tau2Domain, load_domain  # noqa: E402
from fama.envs.tau2.tasks import TaskSet, load_tasks  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _start
DOMAINS = ("retail", "airline")
TASK_SETS: tuple[TaskSet, ...] = ("current", "legacy")


class Timer:
    """Accumulates seconds per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


def replay_set(
    domain: Tau2Domain, task_set: TaskSet, data_dir: Path, legacy_dir: Path, timer: Timer
) -> int:
    """Replay one task set; returns the number of gold actions run."""
    with timer.phase("task loading"):
        tasks = load_tasks(domain.name, task_set=task_set, data_dir=data_dir, legacy_dir=legacy_dir)
    actions = 0
    for task in tasks:
        with timer.phase("per-task copy"):
            env = domain.new_environment(task)
        with timer.phase("tool execution"):
            criteria = task.evaluation_criteria
            for action in criteria.actions if criteria else []:
                env.execute(action.name, clone(action.arguments), action.requestor)
                actions += 1
        with timer.phase("hashing"):
            env.db_hash()
    return actions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", help="tau2 data folder (holding domains/)")
    parser.add_argument("--legacy-dir", help="legacy v0.2 task folder")
    args = parser.parse_args()
    data_dir = resolve_data_dir(args.data_dir)
    legacy_dir = resolve_legacy_dir(data_dir, args.legacy_dir)

    timer = Timer()
    total_start = time.perf_counter()
    cpu_start = time.process_time()
    rows: list[tuple[str, int, float]] = []
    for name in DOMAINS:
        with timer.phase("DB parse + normalise"):
            domain = load_domain(name, data_dir)
        with timer.phase("base serialisation"):
            domain.base.new_view().hash()
        for task_set in TASK_SETS:
            start = time.perf_counter()
            actions = replay_set(domain, task_set, data_dir, legacy_dir, timer)
            rows.append((f"{name}/{task_set}", actions, time.perf_counter() - start))
    total = time.perf_counter() - total_start
    cpu = time.process_time() - cpu_start

    print(f"{'set':<18}{'gold actions':>14}{'seconds':>10}")
    for label, actions, seconds in rows:
        print(f"{label:<18}{actions:>14}{seconds:>10.3f}")
    print(f"{'total (with loading)':<32}{total:>10.3f}")
    print(f"{'total incl. imports':<32}{total + IMPORT_SECONDS:>10.3f}")
    print(f"{'CPU seconds (without imports)':<32}{cpu:>10.3f}")
    print("\nbreakdown (seconds):")
    print(f"  {'module imports':<24}{IMPORT_SECONDS:>8.3f}")
    for phase, seconds in timer.seconds.items():
        print(f"  {phase:<24}{seconds:>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

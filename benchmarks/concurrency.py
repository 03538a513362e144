"""100 tau2 retail episodes at concurrency 100 against instant scripted models.

Checks that every episode finishes without error (all stored, all reward 1.0) and prints
episodes per second and peak memory: the process's peak RSS (``resource.getrusage``) and,
with ``--tracemalloc``, the peak of Python allocations during the run (slower).

    .venv/bin/python benchmarks/concurrency.py [--episodes 100] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from framework_overhead import DEFAULT_DATA, instant_executor, load, run_benchmark


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations")
    args = parser.parse_args(argv)
    domain, tasks, guidelines = load(args.data_dir, None)
    trials = -(-args.episodes // len(tasks))  # enough trials to cover the episode count
    chosen = tasks if trials > 1 else tasks[: args.episodes]
    executor = instant_executor(domain, chosen, guidelines)
    rss_before = peak_rss_mb()
    if args.tracemalloc:
        tracemalloc.start()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary, _, store = asyncio.run(
            run_benchmark(executor, chosen, trials, args.concurrency, Path(tmp) / "runs.sqlite")
        )
        elapsed = time.perf_counter() - start
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        episodes = store.episodes("bench")
        store.close()
    ok = (
        len(episodes) == summary.total
        and summary.errors == 0
        and summary.infra_errors == 0
        and summary.successes == summary.total
    )
    print(
        f"episodes        {len(episodes)} at concurrency {args.concurrency}: "
        f"{'all finished, reward 1.0' if ok else 'FAILED: ' + summary.line()}"
    )
    print(f"throughput      {len(episodes) / elapsed:.1f} episodes/s ({elapsed:.2f} s)")
    print(f"peak RSS        {peak_rss_mb():.0f} MB (after loading data: {rss_before:.0f} MB)")
    if traced_peak is not None:
        print(f"tracemalloc     {traced_peak:.1f} MB peak of Python allocations during the run")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

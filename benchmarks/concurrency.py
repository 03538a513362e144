"""Many tau2 retail episodes at once against scripted models: throughput, memory, latency.

Checks that every episode finishes without error (all stored, all reward 1.0) and prints
episodes per second, CPU, the process's peak RSS (``resource.getrusage``; with
``--tracemalloc`` also the peak of Python allocations, slower) and the p50 / p99 latency of
an agent decision (node timings, as ``fama compare`` counts them). The models answer
instantly in-process, or with ``--server`` the agent is a real OpenAI-compatible client of
scripted servers on 127.0.0.1 (``scripted_server.py``, one process per ``--replicas``,
spread by ``fama.llm.endpoints`` when there are several).

    .venv/bin/python benchmarks/concurrency.py [--episodes 100] [--concurrency 100]
    .venv/bin/python benchmarks/concurrency.py --episodes 1000 --concurrency 1000 --server
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from framework_overhead import (
    DEFAULT_DATA,
    instant_executor,
    instant_models,
    load,
    run_benchmark,
)

from fama.llm.models import ModelSpec, resolve_chat_model
from fama.runs.compare import decision_latencies
from fama.runs.stats import percentile

HERE = Path(__file__).resolve().parent


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def scripted_servers(replicas: int, data_dir: Path) -> Iterator[list[str]]:
    """``replicas`` scripted gold-agent servers in their own processes; their base URLs."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "scripted_server.py"), "--data-dir", str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(replicas)
    ]
    try:
        yield [p.stdout.readline().strip() for p in procs if p.stdout is not None]
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--server", action="store_true", help="agent over HTTP (see above)")
    parser.add_argument("--replicas", type=int, default=1, help="scripted servers (--server)")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations")
    args = parser.parse_args(argv)
    domain, tasks, guidelines = load(args.data_dir, None)
    trials = -(-args.episodes // len(tasks))  # enough trials to cover the episode count
    chosen = tasks if trials > 1 else tasks[: args.episodes]
    with (
        tempfile.TemporaryDirectory() as tmp,
        scripted_servers(args.replicas if args.server else 0, args.data_dir) as urls,
    ):
        agent, user = instant_models(chosen, guidelines)
        if urls:
            spec = ModelSpec("openai:gold", base_url=",".join(urls), timeout_s=600)
            executor = instant_executor(
                domain, chosen, guidelines, (resolve_chat_model(spec), user)
            )
        else:
            executor = instant_executor(domain, chosen, guidelines, (agent, user))
        rss_before = peak_rss_mb()
        if args.tracemalloc:
            tracemalloc.start()
        start = time.perf_counter()
        summary, (_, cpu), store = asyncio.run(
            run_benchmark(executor, chosen, trials, args.concurrency, Path(tmp) / "runs.sqlite")
        )
        elapsed = time.perf_counter() - start
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        episodes = store.episodes("bench", messages=False)
        store.close()
    ok = (
        len(episodes) == summary.total
        and summary.errors == 0
        and summary.infra_errors == 0
        and summary.successes == summary.total
    )
    decisions = [ms for e in episodes for ms in decision_latencies(e.node_timings)]
    agent_kind = f"HTTP, {len(urls)} scripted server(s)" if urls else "instant, in-process"
    print(
        f"episodes        {len(episodes)} at concurrency {args.concurrency} ({agent_kind}): "
        f"{'all finished, reward 1.0' if ok else 'FAILED: ' + summary.line()}"
    )
    print(
        f"throughput      {len(episodes) / elapsed:.1f} episodes/s "
        f"({elapsed:.2f} s, CPU {cpu:.2f} s)"
    )
    print(f"peak RSS        {peak_rss_mb():.0f} MB (after loading data: {rss_before:.0f} MB)")
    print(
        f"decision        {len(decisions)} decisions, p50 {percentile(decisions, 50):.1f} ms, "
        f"p99 {percentile(decisions, 99):.1f} ms"
    )
    if traced_peak is not None:
        print(f"tracemalloc     {traced_peak:.1f} MB peak of Python allocations during the run")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

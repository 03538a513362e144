"""Fault soak: tau2 retail episodes through the real OpenAI client against a scripted server
that fails a share of requests at random (HTTP 500, dropped connection, HTML body, context
overflow, hang), checking that no episode is lost, duplicated or wrongly scored.

The server (``tests/scripted_server.py``) plays a perfect agent (it replays each task's gold
actions) and a user who names its task and then stops, so an episode that ran intact scores
1.0. Every episode is checked against its stored outcome:

* ``done`` / ``user_stop`` must score 1.0; ``done`` / ``context_overflow`` must score 0.0;
  any other ``done`` termination, or an ``error``, is wrong;
* ``infrastructure_error`` must have no reward and an error detail;
* lost: a (task, trial) with no stored episode; duplicated: an episode executed twice.

    PYTHONPATH=. python benchmarks/fault_soak.py [--episodes 200] [--concurrency 50] \\
        [--fault-rate 0.1] [--seed 12]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from framework_overhead import DEFAULT_DATA, load

from fama.benchmarks.tau2 import tau2_executor
from fama.core.retry import RetryPolicy
from fama.envs.tau2.tasks import Task
from fama.envs.tau2.user_scenario import render_user_system_prompt
from fama.llm.models import ModelSpec, resolve_chat_model
from fama.runs.runner import EpisodeJob, EpisodeOutcome, agent_setup, plan_jobs, run_jobs
from fama.runs.store import EpisodeRecord, RunStore
from tests.scripted_server import (
    Action,
    ChatRequest,
    Drop,
    Hang,
    Html,
    HttpError,
    Reply,
    ScriptedServer,
    context_overflow,
)

FAULTS = ("http_500", "drop", "html", "context_overflow", "hang")
REQUEST_TIMEOUT_S = 2.0


class FaultyGoldServer:
    """Answers as the gold agent and a one-line user; fails ``rate`` of requests at random."""

    def __init__(self, tasks: Sequence[Task], guidelines: str, rate: float, seed: int) -> None:
        self.by_id = {t.id: t for t in tasks}
        self.by_prompt = {render_user_system_prompt(t, guidelines): t.id for t in tasks}
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def fault(self) -> Action | None:
        """A random fault for ``rate`` of the requests."""
        with self.lock:
            if self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(FAULTS)
            self.injected[kind] += 1
        faults: dict[str, Action] = {
            "http_500": HttpError(500, "internal error"),
            "drop": Drop(),
            "html": Html(),
            "context_overflow": context_overflow(),
            "hang": Hang(REQUEST_TIMEOUT_S * 3),
        }
        return faults[kind]

    def __call__(self, req: ChatRequest) -> Action:
        fault = self.fault()
        if fault is not None:
            return fault
        messages = req.messages
        if req.role == "agent":
            return self.agent(messages)
        spoken = sum(m.get("role") == "assistant" for m in messages)
        task_id = self.by_prompt[messages[0]["content"]]
        return Reply(f"task {task_id}" if spoken == 0 else "###STOP###")

    def agent(self, messages: list[dict[str, Any]]) -> Action:
        first = next(m for m in messages if m.get("role") == "user")
        task = self.by_id[str(first["content"]).rsplit(" ", 1)[-1]]
        criteria = task.evaluation_criteria
        actions = criteria.actions if criteria and criteria.actions else []
        done = sum(m.get("role") == "tool" for m in messages)
        if done < len(actions):
            return Reply("", ((actions[done].name, actions[done].arguments),))
        return Reply("Done. " + " ".join(criteria.communicate_info if criteria else []))


def wrong(episode: EpisodeRecord) -> str | None:
    """Why a stored episode's outcome is wrong, or None."""
    if episode.status == "done":
        if episode.termination == "user_stop":
            return None if episode.reward == 1.0 else f"user_stop scored {episode.reward}"
        if episode.termination == "context_overflow":
            return None if episode.reward == 0.0 else f"context_overflow scored {episode.reward}"
        return f"done with termination {episode.termination}"
    if episode.status == "infrastructure_error":
        if episode.reward is not None or not episode.error_detail:
            return "infrastructure_error with a reward or without detail"
        return None
    return f"error: {(episode.error_detail or '').strip().splitlines()[-1:]}"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def soak(
    args: argparse.Namespace, db: Path
) -> tuple[list[EpisodeJob], list[EpisodeRecord], Counter[Any], int]:
    """Run the jobs; returns them, the stored episodes, executions per key, requests served."""
    domain, tasks, guidelines = load(args.data_dir, None)
    trials = -(-args.episodes // len(tasks))
    chosen = tasks if trials > 1 else tasks[: args.episodes]
    jobs = plan_jobs(chosen, trials)[: args.episodes]
    server_script = FaultyGoldServer(chosen, guidelines, args.fault_rate, args.seed)
    executions: Counter[Any] = Counter()
    with ScriptedServer(server_script) as server, RunStore(db) as store:
        spec = ModelSpec(model="openai:soak", base_url=server.base_url, timeout_s=REQUEST_TIMEOUT_S)
        executor = tau2_executor(
            domain,
            agent=agent_setup("fc"),
            agent_model=resolve_chat_model(spec),
            user_model=resolve_chat_model(spec),
            judge_model=None,
            judge_model_name="",
            user_guidelines=guidelines,
            retry=RetryPolicy(attempts=3, initial_backoff_s=0.1),
        )

        async def counted(job: EpisodeJob) -> EpisodeOutcome:
            executions[job.task_id, job.trial] += 1
            return await executor(job)

        store.create_or_resume_run("soak", {"benchmark": "fault_soak"}, [])
        await run_jobs(
            store,
            "soak",
            jobs,
            counted,
            domain="retail",
            split=None,
            agent_kind="fc",
            concurrency=args.concurrency,
        )
        episodes = store.episodes("soak")
        requests = server.count()
    print(f"faults injected {dict(sorted(server_script.injected.items()))}")
    return jobs, episodes, executions, requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        jobs, episodes, executions, requests = asyncio.run(soak(args, Path(tmp) / "runs.sqlite"))
    elapsed = time.perf_counter() - start
    lost = len({(j.task_id, j.trial) for j in jobs} - {e.key for e in episodes})
    duplicated = sum(n - 1 for n in executions.values() if n > 1)
    problems = [(e.key, why) for e in episodes if (why := wrong(e)) is not None]
    outcomes = Counter(f"{e.status}/{e.termination}" for e in episodes)
    kept = [len(e.records) for e in episodes if e.status != "done" or e.reward != 1.0]
    print(
        f"episodes        {len(episodes)} completed of {args.episodes} at concurrency "
        f"{args.concurrency}, {requests} requests, fault rate {args.fault_rate}, "
        f"{elapsed:.1f} s"
    )
    print(f"outcomes        {dict(sorted(outcomes.items()))}")
    print(f"lost            {lost}")
    print(f"wrongly scored  {len(problems)}")
    print(f"duplicated      {duplicated}")
    print(f"failed kept     {len(kept)} episodes, {sum(kept)} messages stored")
    print(f"peak RSS        {peak_rss_mb():.0f} MB")
    for key, why in problems[:10]:
        print(f"  wrong: {key}: {why}", file=sys.stderr)
    return 0 if not lost and not duplicated and not problems else 1


if __name__ == "__main__":
    sys.exit(main())

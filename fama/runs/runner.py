"""The concurrent episode runner: resume, progress on stderr, per-episode saving, Ctrl-C safety.

The core (``run_jobs``) knows nothing about tau2: it runs ``EpisodeJob``s through an
``EpisodeExecutor`` (an async function returning an ``EpisodeOutcome``) with bounded
concurrency and saves each episode in one transaction as soon as it ends. An exception in
one episode becomes that episode's ``error`` record (with the traceback); cancellation
(Ctrl-C) stops the running episodes, keeps every finished one and marks the run
``interrupted``. ``GraphEpisodeExecutor`` is the executor that builds an environment and a
user simulator per episode, runs the LangGraph episode loop and scores the result with the
live environment; each benchmark adapter in ``fama.benchmarks`` wires it to its domains.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TextIO

from fama.llm.failures import failure_info
from fama.runs.breaker import CircuitBreaker
from fama.runs.metrics import is_success
from fama.runs.progress_bar import ProgressBar
from fama.runs.store import EpisodeOutcome, EpisodeRecord, RunStore, utc_now
from fama.runs.tracing import episode_trace, traced

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AnyMessage
    from langchain_core.runnables import RunnableConfig

    from fama.core.context import EpisodeContext
    from fama.core.env import ToolEnvironment
    from fama.core.fama_config import FamaConfig, FamaMode
    from fama.core.scoring import RewardInfo
    from fama.core.users import UserSimulator
    from fama.graph.episode import EpisodeResult
    from fama.prompts import Prompt, PromptSet

OFFICIAL_SEED = 300


def trial_seeds(trials: int) -> list[int]:
    """The official per-trial seeds: ``random.seed(300)`` then ``randint(0, 10**6)`` each."""
    rng = random.Random(OFFICIAL_SEED)
    return [rng.randint(0, 10**6) for _ in range(trials)]


@dataclass(frozen=True)
class EpisodeJob:
    """One trial of one task to run."""

    task_id: str
    trial: int
    seed: int
    task: Any = None  # the task object handed to the executor (e.g. a tau2 ``Task``)
    previous_attempts: tuple[dict[str, Any], ...] = ()  # failed attempts this one replaces


EpisodeExecutor = Callable[[EpisodeJob], Awaitable[EpisodeOutcome]]


def plan_jobs(
    tasks: Sequence[Any],
    trials: int,
    *,
    skip: Iterable[tuple[str, int]] = (),
    retried: Iterable[EpisodeRecord] = (),
    task_id: Callable[[Any], str] = lambda task: str(task.id),
) -> list[EpisodeJob]:
    """Jobs for every (task, trial) not in ``skip``, trial-major so early results span tasks.

    ``retried`` are stored failed episodes being run again: a summary of each (and of its
    own earlier attempts) goes with the new attempt, so no failure is silently forgotten.
    """
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    done = set(skip)
    seeds = trial_seeds(trials)
    history = {ep.key: _attempt_history(ep) for ep in retried}
    return [
        EpisodeJob(
            task_id=task_id(task),
            trial=trial,
            seed=seeds[trial],
            task=task,
            previous_attempts=history.get((task_id(task), trial), ()),
        )
        for trial in range(trials)
        for task in tasks
        if (task_id(task), trial) not in done
    ]


def _attempt_history(episode: EpisodeRecord) -> tuple[dict[str, Any], ...]:
    earlier = tuple(episode.extra.get("previous_attempts", ()))
    last = {
        "status": episode.status,
        "termination": episode.termination,
        "error_detail": episode.error_detail,
        "started_at": episode.started_at,
    }
    return (*earlier, last)


@dataclass
class RunSummary:
    """Counts of one runner invocation (episodes skipped because already stored included)."""

    run_id: str
    total: int
    skipped: int = 0
    finished: int = 0
    successes: int = 0
    infra_errors: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    stopped: str | None = None  # why the circuit breaker stopped the run early

    @property
    def all_failed(self) -> bool:
        """True when episodes ran now and every one ended in an infrastructure error or error."""
        return self.finished > 0 and self.infra_errors + self.errors == self.finished

    def line(self) -> str:
        """A one-line progress/summary text."""
        done = self.skipped + self.finished
        minutes, seconds = divmod(int(self.elapsed_s), 60)
        return (
            f"[{self.run_id}] {done}/{self.total} episodes | {self.successes} successes | "
            f"{self.infra_errors} infra errors | {self.errors} errors | "
            f"{minutes:02d}:{seconds:02d} elapsed"
        )


class Progress:
    """Progress on a text stream: a live bar with ETA on a terminal (``ProgressBar``),
    throttled lines otherwise.

    ``tick_s`` is how often the runner refreshes it while no episode ends (so the elapsed
    time keeps moving): every second on a terminal, every ``interval_s`` otherwise.
    """

    def __init__(
        self, stream: TextIO | None = None, *, enabled: bool = True, interval_s: float = 10.0
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interval_s = interval_s
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar = ProgressBar(self.stream) if self._tty and enabled else None
        self._last = -float("inf")

    @property
    def tick_s(self) -> float:
        """Seconds between refreshes while waiting."""
        return 1.0 if self._tty else self.interval_s

    def update(self, summary: RunSummary, *, final: bool = False) -> None:
        """Show the current counts (always on a terminal or when ``final``)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(summary, final=final)
            return
        if final or now - self._last >= self.interval_s:
            self.stream.write(summary.line() + "\n")
        else:
            return
        self._last = now
        self.stream.flush()


async def run_jobs(
    store: RunStore,
    run_id: str,
    jobs: Sequence[EpisodeJob],
    execute: EpisodeExecutor,
    *,
    domain: str,
    split: str | None,
    agent_kind: str,
    concurrency: int = 4,
    skipped: int = 0,
    progress: Progress | None = None,
    trace: RunnableConfig | None = None,
    breaker: CircuitBreaker | None = None,
) -> RunSummary:
    """Run ``jobs`` with at most ``concurrency`` at once, saving each episode as it ends.

    The run must already exist in ``store``. On normal completion the run is marked
    ``finished``; on cancellation (Ctrl-C) running episodes are cancelled, the run is marked
    ``interrupted`` and ``CancelledError`` propagates; if saving fails the run is marked
    ``failed`` and the error propagates. ``skipped`` counts episodes stored before. When
    ``breaker`` trips, the episodes still running are cancelled, no new one starts, the run
    is marked ``interrupted`` (resumable) and ``summary.stopped`` says why. Each episode
    runs with ``trace`` (``fama.runs.tracing.run_trace``) plus its own identity as LangChain
    run metadata and tags.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    summary = RunSummary(run_id=run_id, total=len(jobs) + skipped, skipped=skipped)
    progress = progress or Progress(enabled=False)
    start = time.monotonic()
    queue = iter(jobs)

    async def one(job: EpisodeJob) -> None:
        started_at, t0 = utc_now(), time.perf_counter()
        config = episode_trace(
            trace, run_id=run_id, task_id=job.task_id, trial=job.trial, seed=job.seed, domain=domain
        )
        try:
            with traced(config):
                outcome = await execute(job)
        except Exception as exc:  # one broken episode must not end the run
            outcome = EpisodeOutcome(
                status="error",
                termination=None,
                reward=None,
                error_detail=traceback.format_exc(),
                extra={"exception": dict(failure_info(exc))},
            )
        store.save_episode(
            run_id,
            _episode_record(run_id, job, outcome, domain, split, agent_kind, started_at, t0),
        )
        summary.finished += 1
        summary.successes += outcome.status == "done" and is_success(outcome.reward)
        summary.infra_errors += outcome.status == "infrastructure_error"
        summary.errors += outcome.status == "error"
        summary.elapsed_s = time.monotonic() - start
        progress.update(summary)
        if (
            breaker is not None
            and summary.stopped is None
            and breaker.record(outcome.status, outcome.error_detail)
        ):
            summary.stopped = breaker.reason()
            for task in workers:  # the episodes in flight are dropped (resumable)
                if task is not asyncio.current_task():
                    task.cancel()

    async def worker() -> None:
        try:
            for job in queue:  # the shared iterator hands each job to exactly one worker
                if summary.stopped is not None:
                    return
                await one(job)
        except asyncio.CancelledError:
            if summary.stopped is None:
                raise

    async def ticker() -> None:
        while True:  # cancelled when the workers are done
            await asyncio.sleep(progress.tick_s)
            summary.elapsed_s = time.monotonic() - start
            progress.update(summary)

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(jobs)))]
    ticking = asyncio.create_task(ticker()) if progress.enabled else None
    progress.update(summary)
    try:
        await asyncio.gather(*workers)
    except asyncio.CancelledError:
        await _stop(workers)
        summary.interrupted = True
        store.set_run_status(run_id, "interrupted")
        raise
    except BaseException:
        await _stop(workers)
        store.set_run_status(run_id, "failed")
        raise
    finally:
        if ticking is not None:
            await _stop([ticking])
        summary.elapsed_s = time.monotonic() - start
        progress.update(summary, final=True)
    store.set_run_status(run_id, "finished" if summary.stopped is None else "interrupted")
    return summary


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel tasks and wait until they have all ended."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _episode_record(
    run_id: str,
    job: EpisodeJob,
    outcome: EpisodeOutcome,
    domain: str,
    split: str | None,
    agent_kind: str,
    started_at: str,
    t0: float,
) -> EpisodeRecord:
    outcome_fields = {f.name: getattr(outcome, f.name) for f in fields(EpisodeOutcome)}
    previous = {"previous_attempts": list(job.previous_attempts)} if job.previous_attempts else {}
    return EpisodeRecord(
        **{**outcome_fields, "extra": {"seed": job.seed, **outcome.extra, **previous}},
        run_id=run_id,
        task_id=job.task_id,
        trial=job.trial,
        domain=domain,
        split=split,
        started_at=started_at,
        duration_s=time.perf_counter() - t0,
        agent_kind=agent_kind,
    )


Evaluator = Callable[[Any, "ToolEnvironment", "EpisodeResult"], Awaitable["RewardInfo"]]
UserFactory = Callable[[Any, "ToolEnvironment"], "UserSimulator"]


@dataclass(frozen=True)
class AgentSetup:
    """How one agent kind plugs into the episode loop."""

    kind: str
    node: Any  # the episode graph's agent: a node, FamaDecisions, or None (function calling)
    system_prompt: Callable[[ToolEnvironment], str]
    prompts: PromptSet  # every prompt its nodes may render (what the run records)
    context_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. FAMA's settings

    @property
    def prompt_refs(self) -> tuple[dict[str, str], ...]:
        """Name, version and sha256 of every prompt of ``prompts``."""
        return tuple(self.prompts.refs)

    def context(self, **options: Any) -> EpisodeContext:
        """The episode context this agent runs with (a ``FamaContext`` for FAMA)."""
        from fama.core.context import EpisodeContext
        from fama.core.fama_state import FamaContext

        merged = {"prompts": self.prompts, **options, **self.context_options}
        return FamaContext(**merged) if "fama" in merged else EpisodeContext(**merged)


def agent_setup(
    kind: str,
    *,
    fama_config: FamaConfig | None = None,
    mode: FamaMode | None = None,
    agent_prompt: str = "tau2_agent",
    helper_model: BaseChatModel | None = None,
    fama_options: Mapping[str, Any] | None = None,
    tool_use: str = "fc",
) -> AgentSetup:
    """The agent, system prompt and prompt set of ``fc``, ``react`` or ``fama``.

    The ``fc`` and ``fama`` system prompt is the registry prompt ``agent_prompt`` rendered
    with ``policy=env.policy`` (the benchmark's official agent prompt). ``fama`` adds FAMA's
    decision nodes (orchestrator, mitigation, helpers, verifier) around the function-calling
    node, or the ReAct node with ``tool_use="react"`` (then with the ReAct system prompt);
    ``mode`` defaults to ``static``, which needs ``fama_config`` (or ``helpers`` in
    ``fama_options``, the further keywords of ``fama_settings``).
    """
    from fama.prompts import PromptSet

    if kind == "fc":
        prompts = PromptSet.resolve([agent_prompt, "fc_retry_note"])
        return AgentSetup(kind, None, _official_prompt(prompts[agent_prompt]), prompts)
    if kind not in ("react", "fama"):
        raise ValueError(f"unknown agent kind {kind!r} (fc, react or fama)")
    if tool_use not in ("fc", "react"):
        raise ValueError(f"unknown tool use {tool_use!r} (fc or react)")
    from fama.nodes.react_agent import PROMPT_NAME, react_agent_node, render_react_system_prompt

    react = kind == "react" or tool_use == "react"
    base = [PROMPT_NAME, "react_retry_note"] if react else [agent_prompt, "fc_retry_note"]
    settings = None
    if kind == "fama":
        from fama.helpers.settings import fama_settings, prompt_names

        settings = fama_settings(mode or "static", fama_config, **dict(fama_options or {}))
        base += prompt_names(settings)
    prompts = PromptSet.resolve(base)

    def react_prompt(env: ToolEnvironment) -> str:
        return render_react_system_prompt(env.policy, env.agent_tools(), prompts)

    system_prompt = react_prompt if react else _official_prompt(prompts[agent_prompt])
    node = react_agent_node if react else None
    if settings is None:
        return AgentSetup(kind, node, system_prompt, prompts)
    from fama.graph.decision import FamaDecisions

    return AgentSetup(
        kind,
        FamaDecisions(tool_use_node=node),
        system_prompt,
        prompts,
        {"fama": settings, "helper_model": helper_model},
    )


def _official_prompt(prompt: Prompt) -> Callable[[ToolEnvironment], str]:
    """The system prompt of a benchmark's official agent prompt, given the environment."""

    def render(env: ToolEnvironment) -> str:
        return prompt.render(policy=env.policy)

    return render


@dataclass(frozen=True)
class GraphEpisodeExecutor:
    """Builds the environment and user of one episode, runs the graph loop and scores it.

    ``make_env(task)`` and ``make_user(task, env)`` build per-episode objects;
    ``initial_messages(task)`` gives the opening messages (None: the tau2 greeting);
    ``evaluate(task, env, result)`` scores a finished episode with the live environment
    (ACEBench compares its final state). An episode that ends in ``infrastructure_error`` is
    not scored (reward None), nor is one a bug ended (status ``error``, the exception in
    ``extra["exception"]``); ``context_overflow`` is scored like any early end. A judge
    server that fails after its retries also makes the episode an infrastructure error, and
    an exception while scoring makes it an ``error`` (in every case the trajectory is kept).
    """

    make_env: Callable[[Any], ToolEnvironment]
    make_user: UserFactory
    agent_model: BaseChatModel
    agent: AgentSetup
    evaluate: Evaluator
    context_options: Mapping[str, Any] = field(default_factory=dict)
    initial_messages: Callable[[Any], list[AnyMessage]] | None = None

    async def __call__(self, job: EpisodeJob) -> EpisodeOutcome:
        from fama.graph.episode import run_episode
        from fama.llm.call import ModelUnavailableError

        env = self.make_env(job.task)
        ctx = self.agent.context(
            env=env,
            agent_model=self.agent_model,
            user=self.make_user(job.task, env),
            system_prompt=self.agent.system_prompt(env),
            **self.context_options,
        )
        opening = None if self.initial_messages is None else self.initial_messages(job.task)
        result = await run_episode(ctx, agent_node=self.agent.node, initial_messages=opening)
        extra = dict(result.extra)
        if result.agent_issues:
            extra["agent_issues"] = list(result.agent_issues)
        if result.exception is not None:
            extra["exception"] = dict(result.exception)
        outcome = EpisodeOutcome(
            status="done",
            termination=result.termination,
            reward=None,
            records=list(result.records),
            llm_calls=list(result.llm_calls),
            node_timings=list(result.node_timings),
            steps=result.steps,
            tool_errors=result.tool_errors,
            error_detail=result.error_detail,
            extra=extra,
        )
        if result.termination == "infrastructure_error":
            outcome.status = "infrastructure_error"
            return outcome
        if result.exception is not None and result.termination is None:
            outcome.status = "error"  # a bug: kept with its trajectory, not scored
            return outcome
        try:
            info = await self.evaluate(job.task, env, result)
        except ModelUnavailableError as exc:
            outcome.status = "infrastructure_error"
            outcome.error_detail = f"evaluation: {exc}"
            return outcome
        except Exception:  # keep the trajectory of an episode whose scoring broke
            outcome.status = "error"
            outcome.error_detail = f"evaluation failed:\n{traceback.format_exc()}"
            return outcome
        outcome.reward = info.reward
        outcome.reward_info = info.model_dump(mode="json", exclude={"judge_usage"})
        outcome.llm_calls += list(info.judge_usage)
        return outcome

"""The concurrent runner: saving, resume, errors kept per episode, Ctrl-C safety, progress."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from fama.benchmarks.tau2 import tau2_executor
from fama.core.retry import RetryPolicy
from fama.core.scoring import RewardInfo
from fama.envs.tau2.environment import load_domain
from fama.envs.tau2.tasks import Task, load_tasks
from fama.envs.tau2.user_scenario import load_user_guidelines, render_user_system_prompt
from fama.envs.user_simulator import ScriptedUser
from fama.graph.episode import EpisodeResult
from fama.runs.runner import (
    AgentSetup,
    EpisodeExecutor,
    EpisodeJob,
    EpisodeOutcome,
    GraphEpisodeExecutor,
    Progress,
    RunSummary,
    agent_setup,
    plan_jobs,
    run_jobs,
    trial_seeds,
)
from fama.runs.store import FAILED_STATUSES, RunStore
from tests.fake_env import FakeShopEnv, tool_call
from tests.fakes import Reply, ScriptedChatModel

PROMPTS = [{"name": "tau2_agent", "version": "v1", "sha256": "a" * 64}]
TASKS = [SimpleNamespace(id=str(i)) for i in range(5)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "runs.sqlite") as s:
        s.create_or_resume_run("r", {"trials": 2}, PROMPTS)
        yield s


def outcome(reward: float = 1.0) -> EpisodeOutcome:
    return EpisodeOutcome(
        status="done",
        termination="user_stop",
        reward=reward,
        records=[{"role": "assistant", "content": "bye"}],
        llm_calls=[
            {"node": "agent", "model": "m", "input_tokens": 3, "output_tokens": 1, "latency_ms": 1}
        ],
        steps=1,
    )


async def run(
    store: RunStore, jobs: list[EpisodeJob], execute: EpisodeExecutor, **kw: Any
) -> RunSummary:
    return await run_jobs(
        store, "r", jobs, execute, domain="retail", split="test", agent_kind="fc", **kw
    )


def test_trial_seeds_are_the_official_scheme() -> None:
    random.seed(300)
    assert trial_seeds(4) == [random.randint(0, 10**6) for _ in range(4)]


def test_plan_jobs_is_trial_major_and_skips_stored() -> None:
    jobs = plan_jobs(TASKS[:2], 2, skip={("0", 0)})
    assert [(j.task_id, j.trial) for j in jobs] == [("1", 0), ("0", 1), ("1", 1)]
    assert jobs[1].seed == trial_seeds(2)[1] and jobs[0].task is TASKS[1]
    with pytest.raises(ValueError, match="trials"):
        plan_jobs(TASKS, 0)


async def test_all_episodes_saved_with_errors_kept(store: RunStore) -> None:
    async def execute(job: EpisodeJob) -> EpisodeOutcome:
        await asyncio.sleep(0)
        if job.task_id == "1":
            raise KeyError("boom")
        if job.task_id == "2":
            return EpisodeOutcome(
                status="infrastructure_error",
                termination="infrastructure_error",
                reward=None,
                error_detail="server down",
            )
        return outcome(1.0 if job.task_id == "0" else 0.0)

    summary = await run(store, plan_jobs(TASKS, 2), execute, concurrency=3)
    assert (summary.finished, summary.successes, summary.infra_errors, summary.errors) == (
        10,
        2,
        2,
        2,
    )
    episodes = {e.key: e for e in store.episodes("r")}
    assert len(episodes) == 10
    error = episodes[("1", 0)]
    assert error.status == "error" and "KeyError: 'boom'" in (error.error_detail or "")
    assert "Traceback" in (error.error_detail or "")
    infra = episodes[("2", 1)]
    assert infra.status == "infrastructure_error" and infra.error_detail == "server down"
    ok = episodes[("0", 1)]
    assert ok.extra == {"seed": trial_seeds(2)[1]} and ok.llm_calls[0]["input_tokens"] == 3
    assert ok.duration_s >= 0 and ok.started_at.endswith("+00:00")
    assert store.load_run("r").status == "finished"


async def test_resume_runs_only_missing_episodes(store: RunStore) -> None:
    seen: list[tuple[str, int]] = []

    async def execute(job: EpisodeJob) -> EpisodeOutcome:
        seen.append((job.task_id, job.trial))
        return outcome()

    await run(store, plan_jobs(TASKS[:2], 1), execute)
    store.create_or_resume_run("r", {"trials": 2, "concurrency": 9}, PROMPTS)
    done = store.finished_episode_keys("r")
    summary = await run(store, plan_jobs(TASKS[:2], 2, skip=done), execute, skipped=len(done))
    assert seen == [("0", 0), ("1", 0), ("0", 1), ("1", 1)]
    assert summary.total == 4 and summary.skipped == 2 and summary.finished == 2
    assert len(store.episodes("r")) == 4


async def test_retrying_failed_episodes_keeps_their_history(store: RunStore) -> None:
    async def fail(job: EpisodeJob) -> EpisodeOutcome:
        return EpisodeOutcome(
            status="infrastructure_error",
            termination="infrastructure_error",
            reward=None,
            error_detail="server down",
        )

    async def succeed(job: EpisodeJob) -> EpisodeOutcome:
        return outcome()

    await run(store, plan_jobs(TASKS[:2], 1), fail)
    for _ in range(2):  # fails again, then succeeds: both failures are remembered
        executor = fail if _ == 0 else succeed
        jobs = plan_jobs(
            TASKS[:2],
            1,
            skip=store.finished_episode_keys("r", statuses=["done"]),
            retried=store.episodes("r", statuses=FAILED_STATUSES),
        )
        await run(store, jobs, executor)
    episodes = store.episodes("r")
    assert [e.status for e in episodes] == ["done", "done"]
    history = episodes[0].extra["previous_attempts"]
    assert [h["status"] for h in history] == ["infrastructure_error"] * 2
    assert history[0]["error_detail"] == "server down"


async def test_cancellation_keeps_finished_episodes(store: RunStore) -> None:
    """Ctrl-C: asyncio.run cancels the main task; finished work stays, the run is interrupted."""
    release = asyncio.Event()
    started: list[str] = []

    async def execute(job: EpisodeJob) -> EpisodeOutcome:
        started.append(job.task_id)
        if job.task_id in ("3", "4"):
            await release.wait()  # still running when the user presses Ctrl-C
        return outcome()

    task = asyncio.create_task(run(store, plan_jobs(TASKS, 1), execute, concurrency=2))
    for _ in range(100):  # bounded wait until both slow episodes are running
        if len(started) == 5:
            break
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(e.task_id for e in store.episodes("r")) == ["0", "1", "2"]
    assert store.load_run("r").status == "interrupted"
    assert store.finished_episode_keys("r") == {("0", 0), ("1", 0), ("2", 0)}


async def test_store_failure_marks_run_failed(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def execute(job: EpisodeJob) -> EpisodeOutcome:
        return outcome()

    def disk_full(run_id: str, episode: object) -> None:
        raise OSError("disk full")

    bad = EpisodeJob(task_id="x", trial=0, seed=1)
    monkeypatch.setattr(store, "save_episode", disk_full)
    with pytest.raises(OSError, match="disk full"):
        await run(store, [bad], execute)
    assert store.load_run("r").status == "failed"


async def test_invalid_concurrency(store: RunStore) -> None:
    async def execute(job: EpisodeJob) -> EpisodeOutcome:
        return outcome()

    with pytest.raises(ValueError, match="concurrency"):
        await run(store, [], execute, concurrency=0)


def test_progress_lines() -> None:
    stream = io.StringIO()
    progress = Progress(stream, interval_s=3600)
    summary = RunSummary(run_id="r", total=8, skipped=2, finished=3, successes=4, infra_errors=1)
    summary.elapsed_s = 65
    progress.update(summary)
    progress.update(summary)  # throttled on a non-terminal
    progress.update(summary, final=True)
    assert (
        stream.getvalue().splitlines()
        == ["[r] 5/8 episodes | 4 successes | 1 infra errors | 0 errors | 01:05 elapsed"] * 2
    )
    silent = io.StringIO()
    Progress(silent, enabled=False).update(summary, final=True)
    assert silent.getvalue() == ""


# ------------------------------------------------- graph executor on the in-repo fake env


def fake_executor(
    agent_replies: Sequence[Reply],
    user_lines: Sequence[str],
    evaluate: Callable[[object, Any, EpisodeResult], Awaitable[RewardInfo]] | None = None,
) -> GraphEpisodeExecutor:
    """The graph executor over FakeShopEnv, a scripted agent model and a scripted user."""

    async def score(task: object, env: Any, result: EpisodeResult) -> RewardInfo:
        told = any("2.0" in r["content"] for r in result.records if r["role"] == "assistant")
        return RewardInfo(reward=1.0 if told else 0.0, components={"COMMUNICATE": float(told)})

    return GraphEpisodeExecutor(
        make_env=lambda task: FakeShopEnv(),
        make_user=lambda task, env: ScriptedUser(list(user_lines)),
        agent_model=ScriptedChatModel(agent_replies),
        agent=AgentSetup("fc", None, lambda env: f"SYSTEM\n{env.policy}", ()),
        evaluate=evaluate or score,
        context_options={"retry": RetryPolicy(attempts=2, initial_backoff_s=0.0)},
    )


async def test_graph_executor_runs_scores_and_stores(store: RunStore) -> None:
    execute = fake_executor(
        [tool_call("get_price", {"item_id": "apple"}), "An apple costs 2.0."],
        ["What does an apple cost?", "Thanks ###STOP###"],
    )
    await run(store, [EpisodeJob("apple", 0, 1)], execute)
    [episode] = store.episodes("r")
    assert (episode.status, episode.termination, episode.reward) == ("done", "user_stop", 1.0)
    assert [r["role"] for r in episode.records] == [
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert episode.records[3]["content"] == "2.0"
    assert episode.reward_info["components"] == {"COMMUNICATE": 1.0}
    assert [c["node"] for c in episode.llm_calls] == ["agent", "agent"]


async def test_model_server_down_is_stored_as_infrastructure_error(store: RunStore) -> None:
    down = ConnectionError("connection refused")
    execute = fake_executor([down, down], ["What does an apple cost?"])
    summary = await run(store, [EpisodeJob("apple", 0, 1)], execute)
    [episode] = store.episodes("r")
    assert summary.infra_errors == 1 and episode.status == "infrastructure_error"
    assert episode.reward is None and "connection refused" in (episode.error_detail or "")
    assert [r["role"] for r in episode.records] == ["assistant", "user"]  # kept


async def test_scoring_failure_keeps_the_trajectory(store: RunStore) -> None:
    async def broken(task: object, env: Any, result: EpisodeResult) -> RewardInfo:
        raise ValueError("corrupt gold data")

    execute = fake_executor(["Hello."], ["Hi ###STOP###"], evaluate=broken)
    await run(store, [EpisodeJob("apple", 0, 1)], execute)
    [episode] = store.episodes("r")
    assert episode.status == "error" and "corrupt gold data" in (episode.error_detail or "")
    assert episode.records[-1] == {"role": "user", "content": "Hi ###STOP###"}


# ------------------------------------------------------------ real tau2 retail data


def gold_agent_reply(tasks: Sequence[Task]) -> Callable[[list[BaseMessage]], AIMessage]:
    """A scripted agent that replays the gold actions of the task named in the first user
    message, one tool call per decision, then says the strings it must communicate."""
    by_id = {t.id: t for t in tasks}

    def reply(messages: list[BaseMessage]) -> AIMessage:
        first = next(m for m in messages if isinstance(m, HumanMessage))
        task = by_id[first.text.rsplit(" ", 1)[-1]]
        criteria = task.evaluation_criteria
        actions = criteria.actions if criteria else []
        done = sum(isinstance(m, ToolMessage) for m in messages)
        if done < len(actions):
            action = actions[done]
            call = {"id": f"call_{done}", "name": action.name, "args": action.arguments}
            return AIMessage(content="", tool_calls=[{**call, "type": "tool_call"}])
        return AIMessage(
            content=" ".join(["Done.", *(criteria.communicate_info if criteria else [])])
        )

    return reply


def scripted_user_reply(
    tasks: Sequence[Task], guidelines: str
) -> Callable[[list[BaseMessage]], str]:
    """A scripted user model: names its task (found from its system prompt), then stops."""
    by_prompt = {render_user_system_prompt(t, guidelines): t.id for t in tasks}

    def reply(messages: list[BaseMessage]) -> str:
        task_id = by_prompt[messages[0].text]
        spoken = sum(isinstance(m, AIMessage) for m in messages)
        return f"I need help with task {task_id}" if spoken == 0 else "###STOP###"

    return reply


async def test_real_retail_episodes_are_run_scored_and_stored(
    tau2_data_dir: Path, store: RunStore
) -> None:
    tasks = load_tasks("retail", data_dir=tau2_data_dir, split="test", task_ids=["5", "9"])
    guidelines = load_user_guidelines(tau2_data_dir)
    execute = tau2_executor(
        load_domain("retail", tau2_data_dir),
        agent=agent_setup("fc"),
        agent_model=ScriptedChatModel([gold_agent_reply(tasks)] * 50),
        user_model=ScriptedChatModel([scripted_user_reply(tasks, guidelines)] * 50),
        judge_model=None,
        judge_model_name="",
        user_guidelines=guidelines,
    )
    summary = await run(store, plan_jobs(tasks, 2), execute, concurrency=2)
    assert summary.successes == 4 and summary.errors == 0
    episodes = store.episodes("r")
    assert [(e.task_id, e.trial, e.reward, e.termination) for e in episodes] == [
        ("5", 0, 1.0, "user_stop"),
        ("5", 1, 1.0, "user_stop"),
        ("9", 0, 1.0, "user_stop"),
        ("9", 1, 1.0, "user_stop"),
    ]
    first = episodes[0]
    gold = tasks[0].evaluation_criteria
    assert gold is not None
    calls = [c["name"] for m in first.records for c in m.get("tool_calls", [])]
    assert calls == [a.name for a in gold.actions]
    assert first.reward_info["components"]["DB"] == 1.0
    assert first.steps == len(first.records) - 1  # every message but the greeting
    assert {c["node"] for c in first.llm_calls} == {"agent", "user"}
    assert {t["node"] for t in first.node_timings} >= {"agent", "tools", "user"}


async def test_judge_failure_is_an_infrastructure_error(
    tau2_data_dir: Path, store: RunStore
) -> None:
    """A task needing the judge whose server is down: stored as infrastructure_error."""
    tasks = [
        t
        for t in load_tasks("retail", data_dir=tau2_data_dir)
        if t.evaluation_criteria and t.evaluation_criteria.nl_assertions
    ][:1]
    if not tasks:
        pytest.skip("no retail task with NL assertions")
    guidelines = load_user_guidelines(tau2_data_dir)
    down = ConnectionError("judge server down")
    execute = tau2_executor(
        load_domain("retail", tau2_data_dir),
        agent=agent_setup("fc"),
        agent_model=ScriptedChatModel([gold_agent_reply(tasks)] * 50),
        user_model=ScriptedChatModel([scripted_user_reply(tasks, guidelines)] * 50),
        judge_model=ScriptedChatModel([down] * 10),
        judge_model_name="judge",
        user_guidelines=guidelines,
        retry=RetryPolicy(attempts=2, initial_backoff_s=0.0),
    )
    summary = await run(store, plan_jobs(tasks, 1), execute)
    [episode] = store.episodes("r")
    assert summary.infra_errors == 1
    assert episode.status == "infrastructure_error" and episode.reward is None
    assert "evaluation:" in (episode.error_detail or "") and episode.records


async def test_progress_keeps_ticking_while_episodes_run(store: RunStore) -> None:
    async def slow(job: EpisodeJob) -> EpisodeOutcome:
        await asyncio.sleep(0.1)
        return outcome()

    stream = io.StringIO()
    await run(store, plan_jobs(TASKS[:1], 1), slow, progress=Progress(stream, interval_s=0.01))
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 3 and lines[0].startswith("[r] 0/1 episodes")
    assert lines[-1].startswith("[r] 1/1 episodes | 1 successes")

"""Framework overhead per agent decision on real tau2 retail tools, with an instant model.

Every episode replays a task's gold actions (one tool call per agent decision) and then
talks to a scripted user who stops; the models answer instantly. Overhead per decision is
the time of the whole run (graph steps, state updates, LangChain's model-call machinery,
tool execution, store writes) minus the time the scripted models spend making their reply
and minus scoring, divided by the number of agent decisions: the fake model's LangChain
call (callbacks, message conversion, usage) counts as framework time. Scoring (the
official evaluator) is reported separately per episode.

    .venv/bin/python benchmarks/framework_overhead.py [--data-dir DIR] [--split test] [--trials 1]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from fama.benchmarks.tau2 import tau2_executor
from fama.envs.tau2.environment import Tau2Domain, load_domain
from fama.envs.tau2.tasks import Task, load_tasks
from fama.envs.tau2.user_scenario import load_user_guidelines, render_user_system_prompt
from fama.runs.runner import GraphEpisodeExecutor, RunSummary, agent_setup, plan_jobs, run_jobs
from fama.runs.store import RunStore

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "tau2"
TARGET_MS = 2.0  # CPU per decision


class InstantChatModel(BaseChatModel):
    """Answers at once with ``reply(messages)`` (async without a thread hop), usage filled;
    ``spent`` holds the (wall, CPU) seconds spent making replies (the model proper)."""

    reply: Callable[[list[BaseMessage]], AIMessage]
    _spent: list[float] = PrivateAttr(default_factory=lambda: [0.0, 0.0])

    @property
    def spent(self) -> tuple[float, float]:
        """(wall, CPU) seconds inside ``reply`` so far."""
        return self._spent[0], self._spent[1]

    @property
    def _llm_type(self) -> str:
        return "instant"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> InstantChatModel:  # type: ignore[override]
        return self

    def _result(self, messages: list[BaseMessage]) -> ChatResult:
        wall, cpu = time.perf_counter(), time.process_time()
        message = self.reply(messages).model_copy(
            update={"usage_metadata": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}}
        )
        self._spent[0] += time.perf_counter() - wall
        self._spent[1] += time.process_time() - cpu
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        return self._result(messages)

    async def _agenerate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        return self._result(messages)


def gold_agent(tasks: Sequence[Task]) -> Callable[[list[BaseMessage]], AIMessage]:
    """Replays the gold actions of the task named in the first user message, then says bye."""
    by_id = {t.id: t for t in tasks}

    def reply(messages: list[BaseMessage]) -> AIMessage:
        first = next(m for m in messages if isinstance(m, HumanMessage))
        criteria = by_id[first.text.rsplit(" ", 1)[-1]].evaluation_criteria
        actions = criteria.actions if criteria else []
        done = sum(isinstance(m, ToolMessage) for m in messages)
        if done < len(actions):
            call = {"id": f"c{done}", "name": actions[done].name, "args": actions[done].arguments}
            return AIMessage(content="", tool_calls=[{**call, "type": "tool_call"}])
        return AIMessage(content="Done. " + " ".join(criteria.communicate_info if criteria else []))

    return reply


def scripted_user(
    tasks: Sequence[Task], guidelines: str
) -> Callable[[list[BaseMessage]], AIMessage]:
    """Names its task (recognised from its system prompt), then stops."""
    by_prompt = {render_user_system_prompt(t, guidelines): t.id for t in tasks}

    def reply(messages: list[BaseMessage]) -> AIMessage:
        spoken = sum(isinstance(m, AIMessage) for m in messages)
        text = f"task {by_prompt[messages[0].text]}" if spoken == 0 else "###STOP###"
        return AIMessage(content=text)

    return reply


def instant_models(
    tasks: Sequence[Task], guidelines: str
) -> tuple[InstantChatModel, InstantChatModel]:
    """The instant gold-replaying agent and scripted user models."""
    return (
        InstantChatModel(reply=gold_agent(tasks)),
        InstantChatModel(reply=scripted_user(tasks, guidelines)),
    )


def instant_executor(
    domain: Tau2Domain,
    tasks: Sequence[Task],
    guidelines: str,
    models: tuple[BaseChatModel, BaseChatModel] | None = None,
) -> GraphEpisodeExecutor:
    """The tau2 executor with the (agent, user) ``models``, by default ``instant_models``."""
    agent_model, user_model = models or instant_models(tasks, guidelines)
    return tau2_executor(
        domain,
        agent=agent_setup("fc"),
        agent_model=agent_model,
        user_model=user_model,
        judge_model=None,
        judge_model_name="",
        user_guidelines=guidelines,
    )


def timed_scoring(
    executor: GraphEpisodeExecutor, spent: list[tuple[float, float]]
) -> GraphEpisodeExecutor:
    """The executor with each scoring's (wall, CPU) seconds appended to ``spent``."""
    evaluate = executor.evaluate

    async def timed(task: Any, env: Any, result: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return await evaluate(task, env, result)
        finally:
            spent.append((time.perf_counter() - wall, time.process_time() - cpu))

    return dataclasses.replace(executor, evaluate=timed)


async def run_benchmark(
    executor: GraphEpisodeExecutor,
    tasks: Sequence[Task],
    trials: int,
    concurrency: int,
    db: Path,
    run_id: str = "bench",
) -> tuple[RunSummary, tuple[float, float], RunStore]:
    """Run every (task, trial) into a fresh store; returns summary, (wall, CPU) s, store."""
    store = RunStore(db)
    store.create_or_resume_run(run_id, {"benchmark": True}, [])
    jobs = plan_jobs(tasks, trials)
    wall, cpu = time.perf_counter(), time.process_time()
    summary = await run_jobs(
        store,
        run_id,
        jobs,
        executor,
        domain="retail",
        split=None,
        agent_kind="fc",
        concurrency=concurrency,
    )
    return summary, (time.perf_counter() - wall, time.process_time() - cpu), store


def load(data_dir: Path, split: str | None) -> tuple[Tau2Domain, list[Task], str]:
    """The retail domain, its tasks (split) and the user guidelines."""
    tasks = [
        t
        for t in load_tasks("retail", data_dir=data_dir, split=split)
        if t.evaluation_criteria is not None
    ]
    return load_domain("retail", data_dir), tasks, load_user_guidelines(data_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="test")
    parser.add_argument("--trials", type=int, default=1)
    args = parser.parse_args(argv)
    domain, tasks, guidelines = load(args.data_dir, args.split)
    scoring: list[tuple[float, float]] = []
    models = instant_models(tasks, guidelines)
    executor = timed_scoring(instant_executor(domain, tasks, guidelines, models), scoring)
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up (graph compilation, tool schemas), then the measured run
        warm = asyncio.run(run_benchmark(executor, tasks[:2], 1, 1, Path(tmp) / "warm.sqlite"))
        warm[2].close()
        scoring.clear()
        spent_before = [m.spent for m in models]
        summary, (wall, cpu), store = asyncio.run(
            run_benchmark(executor, tasks, args.trials, 1, Path(tmp) / "runs.sqlite")
        )
        episodes = store.episodes("bench")
        store.close()
    if summary.errors or summary.infra_errors or summary.successes != len(episodes):
        print(f"unexpected outcome: {summary.line()}", file=sys.stderr)
        return 1
    call_s = sum(c["latency_ms"] for e in episodes for c in e.llm_calls) / 1000
    inner_wall, inner_cpu = (
        sum(after[i] - before[i] for after, before in zip(
            (m.spent for m in models), spent_before, strict=True
        ))
        for i in (0, 1)
    )  # fmt: skip
    decisions = sum(c["node"] == "agent" for e in episodes for c in e.llm_calls)
    tool_calls = sum(len(m.get("tool_calls", [])) for e in episodes for m in e.records)
    score_wall, score_cpu = (sum(x) for x in zip(*scoring, strict=True))
    wall_ms = (wall - inner_wall - score_wall) / decisions * 1000
    cpu_ms = (cpu - inner_cpu - score_cpu) / decisions * 1000
    verdict = "OK" if cpu_ms <= TARGET_MS else "ABOVE TARGET"
    print(
        f"episodes               {len(episodes)} (all reward 1.0), {decisions} agent "
        f"decisions, {tool_calls} tool calls"
    )
    print(
        f"wall                   {wall * 1000:.0f} ms (LangChain model calls "
        f"{call_s * 1000:.0f} ms, of which the scripted replies {inner_wall * 1000:.0f} ms; "
        f"scoring {score_wall * 1000:.0f} ms); CPU {cpu * 1000:.0f} ms"
    )
    print(f"overhead/decision wall {wall_ms:.2f} ms (total minus scripted replies and scoring)")
    print(f"overhead/decision CPU  {cpu_ms:.2f} ms (process CPU minus scripted replies, scoring)")
    print(f"target <= {TARGET_MS} ms CPU: {verdict}")
    node_ms: dict[str, list[float]] = {}
    for episode in episodes:
        for timing in episode.node_timings:
            node_ms.setdefault(timing["node"], []).append(timing["latency_ms"])
    llm_ms: dict[str, list[float]] = {}
    for episode in episodes:
        for call in episode.llm_calls:
            llm_ms.setdefault(call["node"], []).append(call["latency_ms"])
    for node, values in sorted(node_ms.items()):
        inner = sum(llm_ms.get(node, [])) / len(values)
        print(
            f"  node {node:<8} {len(values):>4} runs, mean {sum(values) / len(values):6.2f} ms "
            f"(of which model call {inner:5.2f} ms)"
        )
    print(f"scoring/episode        {score_wall / len(episodes) * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

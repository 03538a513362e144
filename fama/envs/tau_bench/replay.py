"""Gold replay of v1 tasks as episodes: can a perfect agent get reward 1 on each task?

Each task's gold actions are run in a fresh environment as the agent's tool calls, in order
(a terminal tool ends the episode there, as in a real run); the agent says the task's
required outputs in one message at the end (before a terminal tool), and the episode is
scored by the v1 reward (``fama.envs.tau_trait.reward.evaluate_episode``) like a finished run.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fama.core.trajectory import MessageRecord
from fama.envs.tau_trait.data import TauTraitTask
from fama.envs.tau_trait.reward import RESPOND_ACTION, evaluate_episode
from fama.envs.tau_trait.runtime import TauTraitDomain


@dataclass(frozen=True)
class V1ReplayResult:
    """The score of one task's gold replay and the gold actions that answered an error."""

    task_id: str
    reward: float
    components: dict[str, float]
    data_hash: str
    errors: list[str]  # "<tool>: <error text>" per failing gold action
    skipped: int  # gold actions after a terminal tool (not run: the episode had ended)

    def to_json(self) -> str:
        """One JSON line: task_id, reward, components, data_hash, errors, skipped."""
        return json.dumps(
            {
                "task_id": self.task_id,
                "reward": self.reward,
                "components": self.components,
                "data_hash": self.data_hash,
                "errors": self.errors,
                "skipped": self.skipped,
            }
        )


def replay_task(domain: TauTraitDomain, task: TauTraitTask) -> V1ReplayResult:
    """Replay one task's gold actions as an episode and score it."""
    env = domain.new_environment(task)
    records: list[MessageRecord] = []
    errors: list[str] = []
    termination = "user_stop"
    ran = 0
    for index, action in enumerate(task.actions):
        ran = index + 1
        if action.name == RESPOND_ACTION:
            records.append({"role": "assistant", "content": str(action.kwargs.get("content", ""))})
            continue
        call_id = f"gold-{index}"
        arguments = copy.deepcopy(action.kwargs)
        records.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": call_id, "name": action.name, "arguments": arguments}],
            }
        )
        output = env.execute(action.name, arguments)
        records.append(
            {
                "role": "tool",
                "content": output.content,
                "tool_call_id": call_id,
                "name": action.name,
                "error": output.error,
            }
        )
        if output.error:
            errors.append(f"{action.name}: {output.content}")
        if action.name in domain.tools.terminal_tools:
            termination = "agent_stop"
            break
    if task.outputs:
        answer: MessageRecord = {"role": "assistant", "content": " ".join(task.outputs)}
        records.insert(len(records) - 2 if termination == "agent_stop" else len(records), answer)
    info = evaluate_episode(domain, task, env.data, records, termination)
    return V1ReplayResult(
        task_id=task.id,
        reward=info.reward,
        components=dict(info.components),
        data_hash=str(info.details.get("data_hash", "")),
        errors=errors,
        skipped=len(task.actions) - ran,
    )


def replay_all(domain: TauTraitDomain, tasks: Iterable[TauTraitTask]) -> Iterator[V1ReplayResult]:
    """Replay many tasks, one result per task in order."""
    for task in tasks:
        yield replay_task(domain, task)

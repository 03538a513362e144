"""Gold replay: run a task's gold actions through the environment and report the end state.

This is the gold half of the official DB check (spec §6.2): a fresh environment with the
task's initial state, every gold action dispatched in order with its requestor; failing
actions contribute their error text and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fama.envs.tau2.db import clone
from fama.envs.tau2.environment import Tau2Domain
from fama.envs.tau2.tasks import Task


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of replaying one task's gold actions."""

    task_id: str
    db_hash: str
    outputs: list[str]
    errors: list[bool]

    def to_json(self) -> str:
        """The JSON line printed by ``fama tau2 replay``."""
        return json.dumps(
            {"task_id": self.task_id, "db_hash": self.db_hash, "outputs": self.outputs}
        )


def replay_gold(domain: Tau2Domain, task: Task) -> ReplayResult:
    """Replay a task's gold actions in a fresh environment."""
    env = domain.new_environment(task)
    outputs: list[str] = []
    errors: list[bool] = []
    actions = task.evaluation_criteria.actions if task.evaluation_criteria else []
    for action in actions:
        result = env.execute(action.name, clone(action.arguments), requestor=action.requestor)
        outputs.append(result.content)
        errors.append(result.error)
    return ReplayResult(task.id, env.db_hash(), outputs, errors)


def replay_all(domain: Tau2Domain, tasks: Iterable[Task]) -> Iterator[ReplayResult]:
    """Replay many tasks, one result per task in order."""
    for task in tasks:
        yield replay_gold(domain, task)

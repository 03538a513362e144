"""Gold replay: run a task's gold actions through the environment and report the end state.

A fresh environment with the task's initial state, every gold action dispatched in order with
its requestor through the live ``execute`` (failing actions contribute their error text and
change nothing). In dual-control telecom this is "live mode": the two sides are synced after
every call, as in a real episode; the task's env assertions are then checked on the result.
(The DB check of the evaluator runs gold actions without syncs in between, as upstream.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fama.envs.tau2.db import clone
from fama.envs.tau2.environment import Tau2Domain
from fama.envs.tau2.evaluation import env_assertion_checks
from fama.envs.tau2.tasks import Task


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of replaying one task's gold actions.

    ``user_db_hash`` is set for dual-control domains; ``env_assertions`` holds whether each of
    the task's env assertions is met after the replay (empty when the task has none).
    """

    task_id: str
    db_hash: str
    outputs: list[str]
    errors: list[bool]
    user_db_hash: str | None = None
    env_assertions: list[bool] = field(default_factory=list)

    def to_json(self) -> str:
        """The JSON line printed by ``fama tau2 replay``.

        ``{"task_id", "db_hash", "outputs"}``, plus ``user_db_hash`` and ``env_assertions``
        when the domain has a user DB or the task has env assertions (telecom).
        """
        line: dict[str, Any] = {
            "task_id": self.task_id,
            "db_hash": self.db_hash,
            "outputs": self.outputs,
        }
        if self.user_db_hash is not None:
            line["user_db_hash"] = self.user_db_hash
        if self.env_assertions:
            line["env_assertions"] = self.env_assertions
        return json.dumps(line)


def replay_gold(domain: Tau2Domain, task: Task) -> ReplayResult:
    """Replay a task's gold actions in a fresh environment, then check its env assertions."""
    env = domain.new_environment(task)
    outputs: list[str] = []
    errors: list[bool] = []
    criteria = task.evaluation_criteria
    for action in criteria.actions if criteria else []:
        result = env.execute(action.name, clone(action.arguments), requestor=action.requestor)
        outputs.append(result.content)
        errors.append(result.error)
    db_hash, user_db_hash = env.db_hash(), env.user_db_hash()
    assertions = criteria.env_assertions if criteria else []
    _, checks = env_assertion_checks(env, assertions)
    return ReplayResult(
        task.id,
        db_hash,
        outputs,
        errors,
        user_db_hash=user_db_hash,
        env_assertions=[bool(check["met"]) for check in checks],
    )


def replay_all(domain: Tau2Domain, tasks: Iterable[Task]) -> Iterator[ReplayResult]:
    """Replay many tasks, one result per task in order."""
    for task in tasks:
        yield replay_gold(domain, task)

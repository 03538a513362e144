"""Users' own domains: tools over a per-episode state, a policy, JSONL tasks with checks."""

from fama.envs.custom.domain import (
    CustomDomain,
    CustomEnvironment,
    DomainError,
    plain_state,
    state_digest,
)
from fama.envs.custom.tasks import CustomTask, TaskError, load_tasks, parse_tasks

__all__ = [
    "CustomDomain",
    "CustomEnvironment",
    "CustomTask",
    "DomainError",
    "TaskError",
    "load_tasks",
    "parse_tasks",
    "plain_state",
    "state_digest",
]

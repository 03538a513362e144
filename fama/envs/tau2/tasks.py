"""tau2 task models (spec §1) and loading of task sets, splits and task-id selections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fama.envs.tau2.data import (
    DataNotFoundError,
    domain_dir,
    resolve_data_dir,
    resolve_legacy_dir,
)

TaskSet = Literal["current", "legacy"]
RewardType = Literal["DB", "ENV_ASSERTION", "NL_ASSERTION", "ACTION", "COMMUNICATE"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Description(_Model):
    """Evaluator-facing notes on a task (never shown to the agent)."""

    purpose: str | None = None
    relevant_policies: str | None = None
    notes: str | None = None


class StructuredInstructions(_Model):
    """The object form of a user scenario's instructions."""

    domain: str
    reason_for_call: str
    known_info: str | None = None
    unknown_info: str | None = None
    task_instructions: str


class UserScenario(_Model):
    """What the user simulator is told: an optional persona and the instructions."""

    persona: str | None = None
    instructions: StructuredInstructions | str


class InitializationAction(_Model):
    """A toolkit method run on one side of the environment before the episode starts."""

    env_type: Literal["user", "assistant"]
    func_name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class InitializationData(_Model):
    """Dicts deep-merged into the agent's and the user's DB."""

    agent_data: dict[str, Any] | None = None
    user_data: dict[str, Any] | None = None


class InitialState(_Model):
    """How to set up the environment before the episode (telecom only in the shipped data)."""

    initialization_data: InitializationData | None = None
    initialization_actions: list[InitializationAction] | None = None
    message_history: list[dict[str, Any]] | None = None


class GoldAction(_Model):
    """One tool call of the gold solution."""

    action_id: str
    requestor: Literal["user", "assistant"] = "assistant"
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    info: str | None = None
    compare_args: list[str] | None = None


class EnvAssertion(_Model):
    """A boolean check run on the final environment (telecom)."""

    env_type: Literal["user", "assistant"]
    func_name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    assert_value: bool = True
    message: str | None = None


def _default_reward_basis() -> list[RewardType]:
    return ["DB", "COMMUNICATE"]


class EvaluationCriteria(_Model):
    """How a task is scored."""

    actions: list[GoldAction] = Field(default_factory=list)
    env_assertions: list[EnvAssertion] = Field(default_factory=list)
    communicate_info: list[str] = Field(default_factory=list)
    nl_assertions: list[str] | None = None
    reward_basis: list[RewardType] = Field(default_factory=_default_reward_basis)

    @field_validator("actions", "env_assertions", "communicate_info", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class Task(_Model):
    """One tau2 task."""

    id: str
    description: Description | None = None
    user_scenario: UserScenario
    ticket: str | None = None
    initial_state: InitialState | None = None
    evaluation_criteria: EvaluationCriteria | None = None
    issues: list[dict[str, Any]] | None = None
    required_documents: list[Any] | None = None
    user_tools: list[str] | None = None


def task_set_dir(
    task_set: TaskSet,
    *,
    data_dir: Path | str | None = None,
    legacy_dir: Path | str | None = None,
) -> Path:
    """The folder holding ``domains/<d>/tasks.json`` for a task set."""
    root = resolve_data_dir(data_dir)
    if task_set == "current":
        return root
    if task_set == "legacy":
        return resolve_legacy_dir(root, legacy_dir)
    raise ValueError(f"unknown task set {task_set!r} (expected 'current' or 'legacy')")


def load_tasks(
    domain: str,
    *,
    task_set: TaskSet = "current",
    split: str | None = None,
    data_dir: Path | str | None = None,
    legacy_dir: Path | str | None = None,
    tasks_file: Path | str | None = None,
    task_ids: list[str] | None = None,
) -> list[Task]:
    """A domain's tasks in file order, optionally restricted to a split and/or task ids.

    ``tasks_file`` replaces the task set's ``tasks.json``; its splits are read from a
    ``split_tasks.json`` next to it (only needed when ``split`` is given).
    """
    if tasks_file is not None:
        path = Path(tasks_file)
        split_path = path.parent / "split_tasks.json"
    else:
        folder = domain_dir(
            task_set_dir(task_set, data_dir=data_dir, legacy_dir=legacy_dir), domain
        )
        path = folder / "tasks.json"
        split_path = folder / "split_tasks.json"
    tasks = parse_tasks(path)
    if split is not None:
        splits = load_splits(split_path)
        if split not in splits:
            names = ", ".join(sorted(splits))
            raise ValueError(f"unknown split {split!r} in {split_path} (available: {names})")
        wanted = set(splits[split])
        tasks = [task for task in tasks if task.id in wanted]
    if task_ids is not None:
        by_id = {task.id: task for task in tasks}
        missing = [task_id for task_id in task_ids if task_id not in by_id]
        if missing:
            where = f"{path} (split {split!r})" if split is not None else str(path)
            raise ValueError(f"task ids not found in {where}: {', '.join(missing)}")
        tasks = [by_id[task_id] for task_id in dict.fromkeys(task_ids)]
    return tasks


def parse_tasks(path: Path) -> list[Task]:
    """Read and validate a task file (a JSON list of tasks)."""
    raw = _read_json(path, "task file")
    if not isinstance(raw, list):
        raise ValueError(f"task file {path} must hold a JSON list of tasks, not {_kind(raw)}")
    tasks: list[Task] = []
    for index, item in enumerate(raw):
        try:
            tasks.append(Task.model_validate(item))
        except ValidationError as exc:
            label = item.get("id") if isinstance(item, dict) else None
            raise ValueError(
                f"task file {path}: task #{index} (id {label!r}) is invalid: {_short(exc)}"
            ) from None
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise ValueError(f"task file {path}: duplicate task id {task.id!r}")
        seen.add(task.id)
    return tasks


def load_splits(path: Path) -> dict[str, list[str]]:
    """Read a ``split_tasks.json``: ``{split name: [task id, ...]}``."""
    raw = _read_json(path, "split file")
    valid = isinstance(raw, dict) and all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in raw.values()
    )
    if not valid:
        raise ValueError(f"split file {path} must map split names to lists of task ids")
    return raw  # type: ignore[no-any-return]


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataNotFoundError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {what} {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {path} is not valid JSON: {exc}") from None


def _short(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def _kind(value: Any) -> str:
    return type(value).__name__

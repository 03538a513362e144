"""Tasks of a user-supplied domain: one JSON object a line, checked line by line.

A line::

    {"id": "t01", "split": "train",
     "user_scenario": "You are Dana, admin of Acme (dana@acme.io). Remove the user ...",
     "expected_actions": [{"name": "deactivate_user", "arguments": {"user_id": "u3"}}],
     "expected_state": {"users": {"u3": {"status": "inactive"}}},
     "expected_phrases": ["inactive"]}

``user_scenario`` is the text the user simulator plays (or an object with ``instructions``
and optional ``persona``, ``known_info``, ``unknown_info``). The outcome check is any of
``expected_actions`` (calls the agent must make, arguments matched as a subset; replayed on a
fresh state they also give the expected final state hash), ``expected_state`` (a part of the
final state that must match) and ``expected_phrases`` (texts the agent must say);
``reward_basis`` narrows which of them count (default: every one the task gives).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

OutcomeCheck = Literal["DB", "ACTION", "STATE", "COMMUNICATE"]


class TaskError(ValueError):
    """A task file or task that cannot be used (the message names the file and line)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scenario(_Model):
    """What the user simulator is told."""

    instructions: str = Field(min_length=1)
    persona: str | None = None
    known_info: str | None = None
    unknown_info: str | None = None

    def render(self) -> str:
        """The scenario block of the user simulator's prompt."""
        parts = [] if self.persona is None else [f"Persona:\n{self.persona}"]
        parts.append(f"Instructions:\n{self.instructions}")
        if self.known_info is not None:
            parts.append(f"Known info:\n{self.known_info}")
        if self.unknown_info is not None:
            parts.append(f"Unknown info:\n{self.unknown_info}")
        return "\n\n".join(parts)


class ExpectedAction(_Model):
    """A tool call the agent must make; ``arguments`` must be among the call's arguments."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class CustomTask(_Model):
    """One task: the user's scenario and how its outcome is checked."""

    id: str = Field(min_length=1)
    split: str | None = None
    user_scenario: Scenario
    expected_actions: list[ExpectedAction] | None = None
    expected_state: dict[str, Any] | None = None
    expected_phrases: list[str] | None = None
    reward_basis: list[OutcomeCheck] | None = None

    @model_validator(mode="before")
    @classmethod
    def _scenario_text(cls, data: Any) -> Any:
        """A plain-text scenario is its instructions; a numeric id becomes a string."""
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("user_scenario"), str):
                data["user_scenario"] = {"instructions": data["user_scenario"]}
            if isinstance(data.get("id"), int):
                data["id"] = str(data["id"])
        return data

    @model_validator(mode="after")
    def _has_a_check(self) -> CustomTask:
        available = self.checks_given()
        if not available:
            raise ValueError(
                "no outcome check: give expected_actions, expected_state or expected_phrases"
            )
        unknown = sorted(set(self.reward_basis or ()) - set(available))
        if unknown:
            raise ValueError(f"reward_basis names checks the task does not give: {unknown}")
        return self

    def checks_given(self) -> list[OutcomeCheck]:
        """The checks the task's fields make possible."""
        checks: list[OutcomeCheck] = []
        if self.expected_actions is not None:
            checks += ["DB", "ACTION"]
        if self.expected_state is not None:
            checks.append("STATE")
        if self.expected_phrases is not None:
            checks.append("COMMUNICATE")
        return checks

    def basis(self) -> list[OutcomeCheck]:
        """The checks whose product is the reward."""
        return list(self.reward_basis or self.checks_given())


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = first["msg"].removeprefix("Value error, ")
    return f"{where + ': ' if where else ''}{message}{more}"


def parse_tasks(lines: Iterable[str], source: str = "<tasks>") -> list[CustomTask]:
    """Tasks from JSONL text; blank lines and ``#`` comments are skipped.

    The first bad line raises ``TaskError("<source> line N: ...")``; ids must be unique.
    """
    tasks: list[CustomTask] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            task = CustomTask.model_validate(json.loads(text))
        except json.JSONDecodeError as exc:
            raise TaskError(f"{source} line {number}: not JSON ({exc.msg})") from None
        except ValidationError as exc:
            raise TaskError(f"{source} line {number}: {_error_text(exc)}") from None
        if task.id in seen:
            raise TaskError(
                f"{source} line {number}: duplicate task id {task.id!r} (line {seen[task.id]})"
            )
        seen[task.id] = number
        tasks.append(task)
    return tasks


def load_tasks(path: Path | str) -> list[CustomTask]:
    """The tasks of a JSONL file (``TaskError`` naming the file and line when one is bad)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskError(f"cannot read the tasks file {file}: {exc.strerror or exc}") from None
    return parse_tasks(text.splitlines(), str(file))


def select_tasks(
    tasks: Sequence[CustomTask], split: str | None = None, task_ids: Sequence[str] | None = None
) -> list[CustomTask]:
    """Tasks of ``split`` (all when None), restricted to ``task_ids`` (all must exist)."""
    chosen = [t for t in tasks if split is None or t.split == split]
    if split is not None and not chosen:
        present = sorted({str(t.split) for t in tasks})
        raise TaskError(f"no task in split {split!r} (splits: {', '.join(present)})")
    if task_ids is None:
        return chosen
    by_id = {t.id: t for t in chosen}
    missing = [i for i in task_ids if i not in by_id]
    if missing:
        raise TaskError(f"unknown task ids {missing}" + (f" in split {split!r}" if split else ""))
    return [by_id[i] for i in task_ids]

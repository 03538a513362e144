"""Where the tau-trait data lives, and its task lists.

Layout (as shared/data/tau-trait): ``<root>/<domain>/{wiki.md,tool_schemas.json,*.json,
tasks_<split>.json}``. Task files are JSON lists of ``{annotator, user_id, instruction,
actions: [{name, kwargs}], outputs: [str]}`` (converted from upstream's Python task lists).

Task ids are ``"<split>-<index>"`` (``"test-0"`` is the first task of ``tasks_test.json``),
stable because the task files are fixed lists; ``--task-ids`` also accepts a bare index
(``"0"``) for the selected split. Behaviour follows collinear-ai/tau-trait (MIT).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fama.envs.data_dirs import resolve_benchmark_dir
from fama.envs.tau2.data import DataNotFoundError

DATA_ENV = "FAMA_TAU_TRAIT_DATA_DIR"
FOLDER_NAME = "tau-trait"
DOMAINS = ("telecom", "telehealth", "retail", "airline")
DEFAULT_SPLIT = "test"
FILE_SPLIT = "file"  # split label of tasks read from --tasks-file


@dataclass(frozen=True)
class GoldAction:
    """One ground-truth tool call of a task (replayed for the reward)."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TauTraitTask:
    """One tau-trait task: the user's instruction and what a correct episode does."""

    id: str
    split: str
    index: int
    user_id: str
    instruction: str
    actions: tuple[GoldAction, ...]
    outputs: tuple[str, ...]
    annotator: str = ""

    def to_json(self) -> dict[str, Any]:
        """The task as stored in the task files (plus id and split)."""
        return {
            "id": self.id,
            "split": self.split,
            "annotator": self.annotator,
            "user_id": self.user_id,
            "instruction": self.instruction,
            "actions": [{"name": a.name, "kwargs": a.kwargs} for a in self.actions],
            "outputs": list(self.outputs),
        }


def resolve_data_dir(explicit: Path | str | None = None) -> Path:
    """The tau-trait data folder: ``explicit`` (``--data-dir``), ``$FAMA_TAU_TRAIT_DATA_DIR``,
    or ``<parent of $FAMA_DATA_DIR>/tau-trait``; otherwise a clear error."""
    return resolve_benchmark_dir(explicit, folder=FOLDER_NAME, env_var=DATA_ENV, markers=DOMAINS)


def available_splits(root: Path, domain: str) -> list[str]:
    """The splits with a ``tasks_<split>.json`` file (``legacy_unused`` excluded)."""
    folder = root / domain
    names = [p.stem.removeprefix("tasks_") for p in folder.glob("tasks_*.json")]
    return sorted(n for n in names if n != "legacy_unused")


def load_tasks(
    root: Path,
    domain: str,
    *,
    split: str | None = None,
    tasks_file: Path | None = None,
    task_ids: list[str] | None = None,
) -> list[TauTraitTask]:
    """The tasks of one domain and split (default ``test``), optionally a chosen subset.

    ``tasks_file`` replaces the split's file (same format; ids ``"<split or 'file'>-<i>"``).
    ``task_ids`` keeps those tasks in the given order; an unknown id is a ``ValueError``.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown tau-trait domain {domain!r} (choose from {', '.join(DOMAINS)})")
    if tasks_file is not None:
        label = split or FILE_SPLIT
        path = Path(tasks_file)
    else:
        label = split or DEFAULT_SPLIT
        path = root / domain / f"tasks_{label}.json"
        if not path.is_file():
            known = available_splits(root, domain)
            raise ValueError(
                f"tau-trait {domain} has no split {label!r} ({path} missing); "
                f"available: {', '.join(known) or 'none'}"
            )
    tasks = parse_tasks(_read_json(path), label, path)
    return select_tasks(tasks, task_ids) if task_ids else tasks


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataNotFoundError(f"tau-trait task file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"tau-trait task file is not valid JSON: {path}: {exc}") from exc


def parse_tasks(raw: Any, split: str, source: Path | str) -> list[TauTraitTask]:
    """Validate and convert a task list; a malformed entry is a ``ValueError`` naming it."""
    if not isinstance(raw, list):
        raise ValueError(f"{source}: expected a JSON list of tasks")
    return [_parse_task(item, split, i, source) for i, item in enumerate(raw)]


def _parse_task(item: Any, split: str, index: int, source: Path | str) -> TauTraitTask:
    where = f"{source}: task {index}"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object")
    instruction = item.get("instruction")
    if not isinstance(instruction, str):
        raise ValueError(f"{where}: 'instruction' must be a string")
    raw_actions = item.get("actions", [])
    if not isinstance(raw_actions, list):
        raise ValueError(f"{where}: 'actions' must be a list")
    actions = []
    for j, action in enumerate(raw_actions):
        if (
            not isinstance(action, dict)
            or not isinstance(action.get("name"), str)
            or not isinstance(action.get("kwargs", {}), dict)
        ):
            raise ValueError(f"{where}: action {j} must be {{'name': str, 'kwargs': object}}")
        actions.append(GoldAction(action["name"], dict(action.get("kwargs", {}))))
    outputs = item.get("outputs", [])
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise ValueError(f"{where}: 'outputs' must be a list of strings")
    return TauTraitTask(
        id=f"{split}-{index}",
        split=split,
        index=index,
        user_id=str(item.get("user_id", "")),
        instruction=instruction,
        actions=tuple(actions),
        outputs=tuple(outputs),
        annotator=str(item.get("annotator", "")),
    )


def select_tasks(tasks: list[TauTraitTask], task_ids: list[str]) -> list[TauTraitTask]:
    """The tasks named by ``task_ids`` (``"test-3"`` or a bare index ``"3"``), in that order."""
    by_id = {t.id: t for t in tasks}
    chosen = []
    for raw in task_ids:
        key = raw.strip()
        task = by_id.get(key)
        if task is None and key.isdigit() and int(key) < len(tasks):
            task = tasks[int(key)]
        if task is None:
            sample = ", ".join(t.id for t in tasks[:3])
            raise ValueError(
                f"unknown tau-trait task id {raw!r} (ids look like {sample}, ...; "
                f"{len(tasks)} tasks in this split)"
            )
        chosen.append(task)
    return chosen

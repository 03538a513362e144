"""ACEBench data: where it lives, the agent tasks with their answers, and the seed state.

Layout (``shared/data/acebench``): ``data_<lang>/data_agent_<category>.json`` (JSON lines),
``data_<lang>/possible_answer/data_agent_<category>.json`` (same ids: ``ground_truth`` end
state and ``mile_stone`` call lists) and ``initial_state/default_state_<lang>.json`` (the seed
database of every API class). Behaviour follows chenchen0103/ACEBench (MIT).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fama.envs.data_dirs import resolve_benchmark_dir
from fama.envs.tau2.data import DataNotFoundError

DATA_ENV = "FAMA_ACEBENCH_DATA_DIR"

Lang = Literal["en", "zh"]
Category = Literal["multi_turn", "multi_step"]
LANGS: tuple[Lang, ...] = ("en", "zh")
CATEGORIES: tuple[Category, ...] = ("multi_turn", "multi_step")
API_CLASSES = ("BaseApi", "MessageApi", "ReminderApi", "FoodPlatform", "Travel")


class AceBenchDataError(DataNotFoundError):
    """The ACEBench data (or one of its files) is missing or malformed."""


@dataclass(frozen=True)
class AceTask:
    """One agent task with its answer.

    ``mile_stone`` is a list of call-list strings, or (some multi_step tasks) a list of
    alternative such lists.
    """

    id: str
    category: Category
    lang: Lang
    question: str
    initial_config: dict[str, Any]
    involved_classes: tuple[str, ...]
    functions: tuple[dict[str, Any], ...]
    ground_truth: tuple[dict[str, Any], ...]
    mile_stone: tuple[Any, ...]

    @property
    def is_travel(self) -> bool:
        """True for the airline tasks (``Travel``), False for the phone tasks."""
        return "Travel" in self.involved_classes


def resolve_data_dir(explicit: Path | str | None = None) -> Path:
    """The ACEBench folder: explicit, ``$FAMA_ACEBENCH_DATA_DIR``, or next to ``$FAMA_DATA_DIR``."""
    return resolve_benchmark_dir(
        explicit, folder="acebench", env_var=DATA_ENV, markers=("data_en", "data_zh")
    )


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every non-empty line of a JSON-lines file, parsed (clear errors naming the file)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise AceBenchDataError(f"ACEBench file missing: {path}") from None
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object")
        rows.append(row)
    return rows


def load_tasks(
    category: Category,
    lang: Lang = "en",
    *,
    data_dir: Path | str | None = None,
    task_ids: Sequence[str] | None = None,
) -> list[AceTask]:
    """The tasks of one agent category and language, joined with their answers, in file order.

    ``task_ids`` selects tasks (full ids like ``agent_multi_turn_3``, or just the number);
    an unknown id is a ``ValueError``.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown ACEBench category {category!r} (choose from {CATEGORIES})")
    if lang not in LANGS:
        raise ValueError(f"unknown ACEBench language {lang!r} (choose from {LANGS})")
    root = resolve_data_dir(data_dir) / f"data_{lang}"
    name = f"data_agent_{category}.json"
    questions = read_json_lines(root / name)
    answers = {row.get("id"): row for row in read_json_lines(root / "possible_answer" / name)}
    tasks = [_task(row, answers, category, lang, root / name) for row in questions]
    return _select(tasks, task_ids, category)


def _task(
    row: dict[str, Any],
    answers: dict[Any, dict[str, Any]],
    category: Category,
    lang: Lang,
    path: Path,
) -> AceTask:
    task_id = row.get("id")
    if not isinstance(task_id, str) or task_id not in answers:
        raise ValueError(f"{path}: task {task_id!r} has no entry in possible_answer/")
    answer = answers[task_id]
    unknown = [c for c in row.get("involved_classes", []) if c not in API_CLASSES]
    if unknown or not row.get("involved_classes"):
        raise ValueError(f"{path}: task {task_id} involves unknown classes {unknown}")
    return AceTask(
        id=task_id,
        category=category,
        lang=lang,
        question=str(row.get("question", "")),
        initial_config=dict(row.get("initial_config") or {}),
        involved_classes=tuple(row["involved_classes"]),
        functions=tuple(row.get("function") or ()),
        ground_truth=tuple(answer.get("ground_truth") or ()),
        mile_stone=tuple(answer.get("mile_stone") or ()),
    )


def _select(
    tasks: list[AceTask], task_ids: Sequence[str] | None, category: Category
) -> list[AceTask]:
    if task_ids is None:
        return tasks
    by_id = {t.id: t for t in tasks}
    wanted = [i if i in by_id else f"agent_{category}_{i}" for i in task_ids]
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise ValueError(f"unknown ACEBench task ids: {', '.join(missing)}")
    return [by_id[i] for i in dict.fromkeys(wanted)]


def load_initial_state(lang: Lang = "en", *, data_dir: Path | str | None = None) -> dict[str, Any]:
    """The seed database of every API class (``initial_state/default_state_<lang>.json``).

    The JSON has string keys where the classes use integer ones (message and reminder ids);
    they are converted back, since the APIs look ids up as integers.
    """
    path = resolve_data_dir(data_dir) / "initial_state" / f"default_state_{lang}.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AceBenchDataError(f"ACEBench seed state missing: {path}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    missing = [c for c in API_CLASSES if c not in state]
    if missing:
        raise ValueError(f"{path}: no seed state for {missing}")
    state["MessageApi"]["inbox"] = _int_keys(state["MessageApi"]["inbox"])
    state["ReminderApi"]["reminder_list"] = _int_keys(state["ReminderApi"]["reminder_list"])
    return dict(state)


def _int_keys(table: dict[str, Any]) -> dict[int, Any]:
    return {int(key): value for key, value in table.items()}

"""tau-bench v1's task lists: read from an upstream checkout, or verified in the tau-trait data.

Upstream keeps the lists as Python modules (``tau_bench/envs/<domain>/tasks_<split>.py``:
retail test 115 / train 500 / dev 20, airline test 50). They are read without running them:
the module is parsed and only ``Task(...)`` / ``Action(...)`` calls over literals are accepted.

Where the lists come from, first found:

1. a tau-bench checkout: ``--tau-bench-dir`` or ``$FAMA_TAU_BENCH_DIR`` (the repository
   folder, or its ``tau_bench`` package folder);
2. an installed ``tau_bench`` package (located, not imported);
3. the tau-trait data folder, whose task files begin with v1's lists (``tasks_test.json``:
   v1's 115 retail / 50 airline tasks, then tau-trait's own; ``tasks_train.json`` and
   ``tasks_dev.json``: v1's). Those prefixes are used only when their digest equals the
   pinned digest of upstream's list at ``UPSTREAM``; otherwise loading fails with a clear error.

(tau-trait's ``tasks_legacy_unused.json`` is upstream's older ``tasks.py``, not the test list:
9 of its 115 retail tasks differ; it is never used.)
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from fama.envs.tau2.data import DataNotFoundError
from fama.envs.tau_trait.data import TauTraitTask, load_tasks, parse_tasks, select_tasks

UPSTREAM = "sierra-research/tau-bench@59a200c"
CHECKOUT_ENV = "FAMA_TAU_BENCH_DIR"
DEFAULT_SPLIT = "test"
SPLITS: dict[str, tuple[str, ...]] = {"retail": ("test", "train", "dev"), "airline": ("test",)}


@dataclass(frozen=True)
class PinnedList:
    """Size and ``task_list_digest`` of one upstream list at ``UPSTREAM``."""

    count: int
    sha256: str


PINNED: dict[tuple[str, str], PinnedList] = {
    ("retail", "test"): PinnedList(
        115, "ab61841fe475c572107f0f5029aa978f7c7bd994a777e6e1e818af0ba79fd7e4"
    ),
    ("retail", "train"): PinnedList(
        500, "a4f3c566e9360567a8fd3fe003dcb48e17c79e0eaf380e2363311768ee90403c"
    ),
    ("retail", "dev"): PinnedList(
        20, "af43378fb171ff19a8e6af0b632a2442bd492cc87ca8cfa200310b08d89a3c28"
    ),
    ("airline", "test"): PinnedList(
        50, "a2359cd5be3df62283412f4da67328738967d95822fe14cfb6bb6ca1014d1005"
    ),
}


@dataclass(frozen=True)
class V1TaskList:
    """One v1 task list, where it was read, and whether it is upstream's pinned list."""

    domain: str
    split: str
    tasks: list[TauTraitTask]
    source: str  # "checkout <path>" | "tau-trait data <path>"
    sha256: str
    pinned: bool  # equal to upstream's list at UPSTREAM


def task_list_digest(tasks: Sequence[TauTraitTask]) -> str:
    """SHA-256 of the fields upstream's ``Task`` model keeps (annotator and ids left out)."""
    rows = [
        {
            "user_id": t.user_id,
            "instruction": t.instruction,
            "actions": [{"name": a.name, "kwargs": a.kwargs} for a in t.actions],
            "outputs": list(t.outputs),
        }
        for t in tasks
    ]
    return sha256(json.dumps(rows, sort_keys=True).encode("utf-8")).hexdigest()


def check_split(domain: str, split: str) -> None:
    """A ``ValueError`` naming the choices when ``domain``/``split`` is not a v1 list."""
    if domain not in SPLITS:
        raise ValueError(f"unknown tau-bench domain {domain!r} (choose from retail, airline)")
    if split not in SPLITS[domain]:
        raise ValueError(
            f"tau-bench {domain} has no split {split!r} (available: {', '.join(SPLITS[domain])})"
        )


def find_package(explicit: Path | str | None = None) -> Path | None:
    """The ``tau_bench`` package folder of a checkout or installation, or None.

    ``explicit`` (an option) and ``$FAMA_TAU_BENCH_DIR`` must name a checkout (or its package
    folder); a wrong path is a ``DataNotFoundError``. Without them an installed ``tau_bench``
    is located without importing it.
    """
    for value, origin in ((explicit, "--tau-bench-dir"), (os.environ.get(CHECKOUT_ENV), None)):
        if not value:
            continue
        path = Path(value)
        for candidate in (path / "tau_bench", path):
            if (candidate / "envs" / "retail").is_dir():
                return candidate
        raise DataNotFoundError(
            f"{path} (from {origin or '$' + CHECKOUT_ENV}) is not a tau-bench checkout "
            "(no tau_bench/envs/retail); clone https://github.com/sierra-research/tau-bench"
        )
    spec = importlib.util.find_spec("tau_bench")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / "envs" / "retail").is_dir():
                return Path(location)
    return None


def read_upstream_list(path: Path, split: str) -> list[TauTraitTask]:
    """The task list of an upstream ``tasks_<split>.py``, parsed without running it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except FileNotFoundError as exc:
        raise DataNotFoundError(f"tau-bench task file not found: {path}") from exc
    except SyntaxError as exc:
        raise ValueError(f"{path}: not valid Python: {exc}") from exc
    lists = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.startswith("TASKS")
        and isinstance(node.value, ast.List)
    ]
    if len(lists) != 1:
        raise ValueError(f"{path}: expected one 'TASKS... = [...]' list, found {len(lists)}")
    try:
        raw = _literal(lists[0])
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return parse_tasks(raw, split, path)


def _literal(node: ast.expr) -> Any:
    """A literal, where ``Task(k=...)`` and ``Action(k=...)`` calls become dicts."""
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in ("Task", "Action") or node.args or any(k.arg is None for k in node.keywords):
            raise ValueError(f"line {node.lineno}: only Task(...)/Action(...) with keywords")
        return {k.arg: _literal(k.value) for k in node.keywords}
    if isinstance(node, ast.List):
        return [_literal(element) for element in node.elts]
    if isinstance(node, ast.Dict):
        if None in node.keys:
            raise ValueError(f"line {node.lineno}: '**' unpacking is not a literal")
        pairs = zip(node.keys, node.values, strict=True)
        return {_literal(k): _literal(v) for k, v in pairs if k is not None}
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise ValueError(f"line {node.lineno}: not a literal ({exc})") from exc


def load_v1_tasks(
    domain: str,
    split: str | None,
    *,
    data_root: Path,
    tau_bench_dir: Path | str | None = None,
    task_ids: list[str] | None = None,
) -> V1TaskList:
    """v1's ``domain``/``split`` list (default test), optionally the tasks ``task_ids``."""
    split = split or DEFAULT_SPLIT
    check_split(domain, split)
    pinned = PINNED[(domain, split)]
    package = find_package(tau_bench_dir)
    if package is not None:
        path = package / "envs" / domain / f"tasks_{split}.py"
        tasks = read_upstream_list(path, split)
        source = f"checkout {path}"
    else:
        tasks = load_tasks(data_root, domain, split=split)[: pinned.count]
        source = f"tau-trait data {data_root / domain / f'tasks_{split}.json'}"
    digest = task_list_digest(tasks)
    matches = digest == pinned.sha256 and len(tasks) == pinned.count
    if package is None and not matches:
        raise ValueError(
            f"the first {pinned.count} tasks of {source} are not tau-bench v1's {domain} "
            f"{split} list ({UPSTREAM}); point ${CHECKOUT_ENV} at a tau-bench checkout"
        )
    chosen = select_tasks(tasks, task_ids) if task_ids else tasks
    return V1TaskList(domain, split, chosen, source, digest, matches)

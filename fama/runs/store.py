"""The run store: one SQLite file holding runs, episodes, messages, LLM calls and node timings.

Every episode is written in a single transaction as soon as it finishes, so an interrupted
run loses nothing that was done. A run is identified by its id; creating a run whose id
already exists resumes it after checking that its configuration is the same.

Episode status values:

* ``done``: the conversation ran to a termination and was scored;
* ``infrastructure_error``: the model server failed after retries (kept, reported apart);
* ``error``: an unexpected exception in our own code (traceback in ``error_detail``).

Failure labels of episodes (written by ``fama analyze``, read by ``fama compare`` and the
viewer) live in the ``episode_labels`` table, created on first use so that stores written
before it existed keep working; a label disappears with its episode when that is re-run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:  # type-only: keeps ``fama <command> --help`` free of LangChain imports
    from fama.core.state import LLMCall, NodeTiming
    from fama.core.trajectory import InvalidToolCallRecord, MessageRecord, ToolCallRecord

EpisodeStatus = Literal["done", "infrastructure_error", "error"]
RunStatus = Literal["running", "finished", "interrupted", "failed"]
FAILED_STATUSES: frozenset[str] = frozenset({"infrastructure_error", "error"})

SCHEMA_VERSION = 2  # 2: messages.invalid_tool_calls (version-1 files are upgraded in place)
# Options that may change between the first run and a resume without changing results.
RESUME_IGNORED_KEYS: frozenset[str] = frozenset(
    {"concurrency", "progress", "retry_errors", "command"}
)

_LABELS_SCHEMA = """
CREATE TABLE IF NOT EXISTS episode_labels (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    category TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    rationale TEXT NOT NULL,
    evidence_steps TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (episode_id, idx)
);
"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    prompt_refs TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    trial INTEGER NOT NULL,
    domain TEXT NOT NULL,
    split TEXT,
    status TEXT NOT NULL,
    termination TEXT,
    reward REAL,
    reward_info TEXT NOT NULL,
    steps INTEGER NOT NULL,
    tool_errors INTEGER NOT NULL,
    error_detail TEXT,
    started_at TEXT NOT NULL,
    duration_s REAL NOT NULL,
    agent_kind TEXT NOT NULL,
    extra TEXT NOT NULL,
    UNIQUE (run_id, task_id, trial)
);
CREATE TABLE IF NOT EXISTS messages (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tool_calls TEXT,
    tool_call_id TEXT,
    name TEXT,
    requestor TEXT,
    error INTEGER,
    invalid_tool_calls TEXT,
    PRIMARY KEY (episode_id, idx)
);
CREATE TABLE IF NOT EXISTS llm_calls (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    node TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    PRIMARY KEY (episode_id, idx)
);
CREATE TABLE IF NOT EXISTS node_timings (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    node TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    PRIMARY KEY (episode_id, idx)
);
"""
    + _LABELS_SCHEMA
)

_EPISODE_COLUMNS = (
    "task_id, trial, domain, split, status, termination, reward, reward_info, steps, "
    "tool_errors, error_detail, started_at, duration_s, agent_kind, extra"
)


class StoreError(RuntimeError):
    """The store file is unusable, or a run is missing or inconsistent."""


class RunNotFoundError(StoreError, KeyError):
    """No run with this id in the store."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "run not found"


class RunConfigMismatchError(StoreError):
    """Resuming a run with a configuration different from the stored one."""


@dataclass
class EpisodeRecord:
    """Everything stored about one episode (one trial of one task)."""

    run_id: str
    task_id: str
    trial: int
    domain: str
    split: str | None
    status: EpisodeStatus
    termination: str | None
    reward: float | None
    reward_info: dict[str, Any] = field(default_factory=dict)
    records: list[MessageRecord] = field(default_factory=list)
    llm_calls: list[LLMCall] = field(default_factory=list)
    node_timings: list[NodeTiming] = field(default_factory=list)
    steps: int = 0
    tool_errors: int = 0
    error_detail: str | None = None
    started_at: str = ""
    duration_s: float = 0.0
    agent_kind: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        """The (task id, trial) pair identifying the episode inside its run."""
        return (self.task_id, self.trial)

    def to_json(self) -> dict[str, Any]:
        """Every field as plain JSON data; the trajectory is under ``messages``."""
        data = asdict(self)
        data["messages"] = data.pop("records")
        return data


@dataclass(frozen=True)
class EpisodeLabelRow:
    """One failure category attributed to an episode.

    ``primary``: the error that made the episode fail (``False``: recovered from, or only
    flagged by an analyst). ``evidence_steps`` index the episode's trajectory records.
    """

    task_id: str
    trial: int
    category: str
    primary: bool
    rationale: str = ""
    evidence_steps: tuple[int, ...] = ()
    source: str = "analyze"


@dataclass(frozen=True)
class RunInfo:
    """The stored header of a run."""

    run_id: str
    config: dict[str, Any]
    prompt_refs: list[dict[str, str]]
    status: RunStatus
    created_at: str
    updated_at: str


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (seconds precision)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def config_differences(
    stored: Mapping[str, Any], new: Mapping[str, Any], ignored: Iterable[str] = RESUME_IGNORED_KEYS
) -> list[str]:
    """Human-readable differences between two run configurations, ignoring ``ignored`` keys."""
    skip = set(ignored)
    diffs = []
    for key in sorted((stored.keys() | new.keys()) - skip):
        old_value, new_value = stored.get(key, "<absent>"), new.get(key, "<absent>")
        # Compare the JSON forms so a tuple equals the list it was stored as.
        if json.loads(_dumps(old_value)) != json.loads(_dumps(new_value)):
            diffs.append(f"{key}: stored {old_value!r}, now {new_value!r}")
    return diffs


class RunStore:
    """A run database (SQLite, WAL journal). Use as a context manager or call ``close()``."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(f"no run store at {self.path} (choose one with --db)")
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run store {self.path}: {exc}") from exc
        try:
            self._prepare(create)
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"{self.path} is not a usable FAMA run store: {exc}") from exc
            raise

    def _prepare(self, create: bool) -> None:
        """Check the schema version; create the tables in a new file."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            tables = self._conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
            if tables or not create:
                raise StoreError(f"{self.path} is an SQLite file but not a FAMA run store")
        elif version not in (1, SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: run store schema version {version}, "
                f"this FAMA reads version {SCHEMA_VERSION}"
            )
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        if version == 0:
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version == 1:
            with self._conn:
                self._conn.execute("ALTER TABLE messages ADD COLUMN invalid_tool_calls TEXT")
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ----------------------------------------------------------------- runs

    def create_or_resume_run(
        self, run_id: str, config: dict[str, Any], prompt_refs: list[dict[str, str]]
    ) -> bool:
        """Create the run, or resume it (returns True) if its stored config matches.

        Differences only in ``RESUME_IGNORED_KEYS`` are allowed (the stored config keeps its
        original values); any other difference, or different prompt texts, raises
        ``RunConfigMismatchError``.
        """
        now = utc_now()
        row = self._conn.execute(
            "SELECT config, prompt_refs FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, 'running', ?, ?)",
                    (run_id, _dumps(config), _dumps(prompt_refs), now, now),
                )
            return False
        diffs = config_differences(json.loads(row[0]), config)
        stored_refs = {r["name"]: r for r in json.loads(row[1])}
        for ref in prompt_refs:
            old = stored_refs.get(ref["name"])
            if old is not None and old != ref:
                diffs.append(
                    f"prompt {ref['name']}: stored {old['version']} ({old['sha256'][:12]}), "
                    f"now {ref['version']} ({ref['sha256'][:12]})"
                )
        if diffs:
            raise RunConfigMismatchError(
                f"run {run_id!r} exists with a different configuration:\n  "
                + "\n  ".join(diffs)
                + "\nUse the original options to resume it, or choose a new --run-id."
            )
        merged = {r["name"]: r for r in [*json.loads(row[1]), *prompt_refs]}
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = 'running', prompt_refs = ?, updated_at = ? "
                "WHERE run_id = ?",
                (_dumps(list(merged.values())), now, run_id),
            )
        return True

    def set_run_status(self, run_id: str, status: RunStatus) -> None:
        """Mark a run running, finished, interrupted or failed."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?",
                (status, utc_now(), run_id),
            )
            if cur.rowcount == 0:
                raise self._not_found(run_id)

    def load_run(self, run_id: str) -> RunInfo:
        """The run's header; ``RunNotFoundError`` naming the known runs if absent."""
        row = self._conn.execute(
            "SELECT run_id, config, prompt_refs, status, created_at, updated_at "
            "FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise self._not_found(run_id)
        return RunInfo(
            run_id=row[0],
            config=json.loads(row[1]),
            prompt_refs=json.loads(row[2]),
            status=row[3],
            created_at=row[4],
            updated_at=row[5],
        )

    def list_runs(self) -> list[RunInfo]:
        """All runs, oldest first."""
        ids = [r[0] for r in self._conn.execute("SELECT run_id FROM runs ORDER BY created_at")]
        return [self.load_run(i) for i in ids]

    def _not_found(self, run_id: str) -> RunNotFoundError:
        known = [r[0] for r in self._conn.execute("SELECT run_id FROM runs ORDER BY created_at")]
        shown = ", ".join(known[-10:]) if known else "none"
        return RunNotFoundError(f"no run {run_id!r} in {self.path} (runs: {shown})")

    # ------------------------------------------------------------- episodes

    def finished_episode_keys(
        self, run_id: str, *, statuses: Iterable[str] | None = None
    ) -> set[tuple[str, int]]:
        """(task id, trial) of every stored episode, optionally only with these statuses."""
        rows = self._conn.execute(
            "SELECT task_id, trial, status FROM episodes WHERE run_id = ?", (run_id,)
        )
        wanted = None if statuses is None else set(statuses)
        return {(r[0], r[1]) for r in rows if wanted is None or r[2] in wanted}

    def save_episode(self, run_id: str, episode: EpisodeRecord) -> None:
        """Store one episode (replacing a previous attempt of the same key) atomically."""
        if episode.run_id != run_id:
            raise ValueError(f"episode belongs to run {episode.run_id!r}, not {run_id!r}")
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM episodes WHERE run_id = ? AND task_id = ? AND trial = ?",
                (run_id, episode.task_id, episode.trial),
            )
            cur = conn.execute(
                f"INSERT INTO episodes (run_id, {_EPISODE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    episode.task_id,
                    episode.trial,
                    episode.domain,
                    episode.split,
                    episode.status,
                    episode.termination,
                    episode.reward,
                    _dumps(episode.reward_info),
                    episode.steps,
                    episode.tool_errors,
                    episode.error_detail,
                    episode.started_at,
                    episode.duration_s,
                    episode.agent_kind,
                    _dumps(episode.extra),
                ),
            )
            eid = cur.lastrowid
            conn.executemany(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_message_row(eid, i, m) for i, m in enumerate(episode.records)],
            )
            conn.executemany(
                "INSERT INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        eid,
                        i,
                        c["node"],
                        c["model"],
                        c["input_tokens"],
                        c["output_tokens"],
                        c["latency_ms"],
                    )
                    for i, c in enumerate(episode.llm_calls)
                ],
            )
            conn.executemany(
                "INSERT INTO node_timings VALUES (?, ?, ?, ?)",
                [(eid, i, t["node"], t["latency_ms"]) for i, t in enumerate(episode.node_timings)],
            )
            conn.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", (utc_now(), run_id))

    def episodes(
        self,
        run_id: str,
        *,
        failed_only: bool = False,
        split: str | None = None,
        statuses: Iterable[str] | None = None,
    ) -> list[EpisodeRecord]:
        """The run's episodes ordered by (task id, trial), with messages and usage.

        ``failed_only`` keeps scored episodes (status ``done``) whose reward is not a success
        (agent failures to analyse); infrastructure and internal errors are not agent failures.
        """
        self.load_run(run_id)  # clear error for an unknown id
        query = f"SELECT id, {_EPISODE_COLUMNS} FROM episodes WHERE run_id = ?"
        params: list[Any] = [run_id]
        if split is not None:
            query += " AND split = ?"
            params.append(split)
        if failed_only:
            query += " AND status = 'done' AND (reward IS NULL OR abs(reward - 1.0) > 1e-6)"
        if statuses is not None:
            wanted = sorted(set(statuses))
            query += f" AND status IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        rows = self._conn.execute(query + " ORDER BY task_id, trial", params).fetchall()
        ids = [r[0] for r in rows]
        messages = self._children(
            ids,
            "messages",
            "role, content, tool_calls, tool_call_id, name, requestor, error, invalid_tool_calls",
            _message_record,
        )
        calls = self._children(
            ids, "llm_calls", "node, model, input_tokens, output_tokens, latency_ms", _llm_call
        )
        timings = self._children(ids, "node_timings", "node, latency_ms", _node_timing)
        return [
            EpisodeRecord(
                run_id=run_id,
                task_id=r[1],
                trial=r[2],
                domain=r[3],
                split=r[4],
                status=r[5],
                termination=r[6],
                reward=r[7],
                reward_info=json.loads(r[8]),
                records=messages.get(r[0], []),
                llm_calls=calls.get(r[0], []),
                node_timings=timings.get(r[0], []),
                steps=r[9],
                tool_errors=r[10],
                error_detail=r[11],
                started_at=r[12],
                duration_s=r[13],
                agent_kind=r[14],
                extra=json.loads(r[15]),
            )
            for r in rows
        ]

    # --------------------------------------------------------------- labels

    def save_labels(
        self,
        run_id: str,
        labels: Sequence[EpisodeLabelRow],
        *,
        replace: bool = True,
        episodes: Iterable[tuple[str, int]] = (),
    ) -> None:
        """Store failure labels of the run's episodes atomically.

        With ``replace`` the stored labels of every episode named in ``labels`` or in
        ``episodes`` (e.g. analysed episodes that got no label) are removed first; other
        episodes keep theirs. Without it the labels are added. Naming an episode the run
        does not have raises ``ValueError``.
        """
        self.load_run(run_id)  # clear error for an unknown id
        ids = {
            (r[0], r[1]): r[2]
            for r in self._conn.execute(
                "SELECT task_id, trial, id FROM episodes WHERE run_id = ?", (run_id,)
            )
        }
        named = {(x.task_id, x.trial) for x in labels} | set(episodes)
        missing = sorted(named - ids.keys())
        if missing:
            shown = ", ".join(f"{t}/{n}" for t, n in missing[:5])
            raise ValueError(f"run {run_id!r} has no episode(s) {shown} to label")
        with self._transaction() as conn:
            conn.execute(_LABELS_SCHEMA)  # absent from stores written before labels existed
            episode_ids = sorted({ids[key] for key in named})
            if replace:
                conn.executemany(
                    "DELETE FROM episode_labels WHERE episode_id = ?", [(e,) for e in episode_ids]
                )
            next_idx = {
                e: conn.execute(
                    "SELECT coalesce(max(idx) + 1, 0) FROM episode_labels WHERE episode_id = ?",
                    (e,),
                ).fetchone()[0]
                for e in episode_ids
            }
            rows = []
            for label in labels:
                eid = ids[(label.task_id, label.trial)]
                rows.append(
                    (
                        eid,
                        next_idx[eid],
                        label.category,
                        int(label.primary),
                        label.rationale,
                        _dumps(list(label.evidence_steps)),
                        label.source,
                    )
                )
                next_idx[eid] += 1
            conn.executemany("INSERT INTO episode_labels VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def episode_labels(self, run_id: str) -> dict[tuple[str, int], list[EpisodeLabelRow]]:
        """The run's labels by (task id, trial), in stored order; episodes without labels
        are absent (and every episode is, for a run never analysed)."""
        self.load_run(run_id)
        exists = self._conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'episode_labels'"
        ).fetchone()[0]
        if not exists:
            return {}
        rows = self._conn.execute(
            "SELECT e.task_id, e.trial, l.category, l.is_primary, l.rationale, "
            "l.evidence_steps, l.source FROM episode_labels l "
            "JOIN episodes e ON e.id = l.episode_id WHERE e.run_id = ? "
            "ORDER BY e.task_id, e.trial, l.idx",
            (run_id,),
        )
        grouped: dict[tuple[str, int], list[EpisodeLabelRow]] = {}
        for task_id, trial, category, primary, rationale, steps, source in rows:
            grouped.setdefault((task_id, trial), []).append(
                EpisodeLabelRow(
                    task_id=task_id,
                    trial=trial,
                    category=category,
                    primary=bool(primary),
                    rationale=rationale,
                    evidence_steps=tuple(json.loads(steps)),
                    source=source,
                )
            )
        return grouped

    def _children(
        self,
        episode_ids: list[int],
        table: str,
        columns: str,
        convert: Callable[[tuple[Any, ...]], Any],
    ) -> dict[int, list[Any]]:
        """Rows of a child table grouped by episode id, in stored order."""
        grouped: dict[int, list[Any]] = {}
        chunk = 500  # stay below SQLite's bound-parameter limit
        for start in range(0, len(episode_ids), chunk):
            part = episode_ids[start : start + chunk]
            marks = ",".join("?" * len(part))
            rows = self._conn.execute(
                f"SELECT episode_id, {columns} FROM {table} "
                f"WHERE episode_id IN ({marks}) ORDER BY episode_id, idx",
                part,
            )
            for row in rows:
                grouped.setdefault(row[0], []).append(convert(row[1:]))
        return grouped


def _message_row(episode_id: int | None, idx: int, m: MessageRecord) -> tuple[Any, ...]:
    calls = m.get("tool_calls")
    invalid = m.get("invalid_tool_calls")
    error = m.get("error")
    return (
        episode_id,
        idx,
        m["role"],
        m["content"],
        None if calls is None else _dumps(calls),
        m.get("tool_call_id"),
        m.get("name"),
        m.get("requestor"),
        None if error is None else int(error),
        None if invalid is None else _dumps(invalid),
    )


def _message_record(row: tuple[Any, ...]) -> MessageRecord:
    role, content, calls, call_id, name, requestor, error, invalid = row
    record: MessageRecord = {"role": role, "content": content}
    if calls is not None:
        record["tool_calls"] = cast("list[ToolCallRecord]", json.loads(calls))
    if invalid is not None:
        record["invalid_tool_calls"] = cast("list[InvalidToolCallRecord]", json.loads(invalid))
    if call_id is not None:
        record["tool_call_id"] = call_id
    if name is not None:
        record["name"] = name
    if requestor is not None:
        record["requestor"] = requestor
    if error is not None:
        record["error"] = bool(error)
    return record


def _llm_call(row: tuple[Any, ...]) -> LLMCall:
    node, model, inp, out, latency = row
    return {
        "node": node,
        "model": model,
        "input_tokens": inp,
        "output_tokens": out,
        "latency_ms": latency,
    }


def _node_timing(row: tuple[Any, ...]) -> NodeTiming:
    return {"node": row[0], "latency_ms": row[1]}

"""Episodes: one transaction per finished episode; loading with messages and usage."""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Iterable, Iterator
from typing import Any

from fama.runs.store.records import (
    EPISODE_COLUMNS,
    LLM_CALL_COLUMNS,
    EpisodeRecord,
    dumps,
    llm_call_record,
    llm_call_row,
    message_record,
    message_row,
    node_timing_record,
    utc_now,
)
from fama.runs.store.runs import RunsMixin


class EpisodesMixin(RunsMixin):
    """The episode rows (and their messages, LLM calls and timings) of a ``RunStore``."""

    def finished_episode_keys(
        self, run_id: str, *, statuses: Iterable[str] | None = None
    ) -> set[tuple[str, int]]:
        """(task id, trial) of every stored episode, optionally only with these statuses."""
        rows = self._conn.execute(
            "SELECT task_id, trial, status FROM episodes WHERE run_id = ?", (run_id,)
        )
        wanted = None if statuses is None else set(statuses)
        return {(r[0], r[1]) for r in rows if wanted is None or r[2] in wanted}

    def save_episode(self, run_id: str, episode: EpisodeRecord) -> bool:
        """Store one episode (replacing a previous attempt of the same key) atomically.

        A failed episode never replaces a stored ``done`` one of the same (task, trial):
        it is dropped and False is returned.
        """
        if episode.run_id != run_id:
            raise ValueError(f"episode belongs to run {episode.run_id!r}, not {run_id!r}")
        with self._transaction() as conn:
            stored = conn.execute(
                "SELECT status FROM episodes WHERE run_id = ? AND task_id = ? AND trial = ?",
                (run_id, episode.task_id, episode.trial),
            ).fetchone()
            if stored is not None and stored[0] == "done" and episode.status != "done":
                return False
            conn.execute(
                "DELETE FROM episodes WHERE run_id = ? AND task_id = ? AND trial = ?",
                (run_id, episode.task_id, episode.trial),
            )
            cur = conn.execute(
                f"INSERT INTO episodes (run_id, {EPISODE_COLUMNS}) "
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
                    dumps(episode.reward_info),
                    episode.steps,
                    episode.tool_errors,
                    episode.error_detail,
                    episode.started_at,
                    episode.duration_s,
                    episode.agent_kind,
                    dumps(episode.extra),
                ),
            )
            eid = cur.lastrowid
            conn.executemany(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [message_row(eid, i, m) for i, m in enumerate(episode.records)],
            )
            conn.executemany(
                f"INSERT INTO llm_calls (episode_id, idx, {LLM_CALL_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [llm_call_row(eid, i, c) for i, c in enumerate(episode.llm_calls)],
            )
            conn.executemany(
                "INSERT INTO node_timings VALUES (?, ?, ?, ?)",
                [(eid, i, t["node"], t["latency_ms"]) for i, t in enumerate(episode.node_timings)],
            )
            conn.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", (utc_now(), run_id))
        return True

    def episodes(
        self,
        run_id: str,
        *,
        failed_only: bool = False,
        split: str | None = None,
        statuses: Iterable[str] | None = None,
        messages: bool = True,
    ) -> list[EpisodeRecord]:
        """The run's episodes ordered by (task id, trial), with usage and (unless
        ``messages=False``, which leaves ``records`` empty) their messages.

        ``failed_only`` keeps scored episodes (status ``done``) whose reward is not a success
        (agent failures to analyse); infrastructure and internal errors are not agent failures.
        """
        return [
            episode
            for batch in self.episode_batches(
                run_id, failed_only=failed_only, split=split, statuses=statuses, messages=messages
            )
            for episode in batch
        ]

    def episode_batches(
        self,
        run_id: str,
        *,
        failed_only: bool = False,
        split: str | None = None,
        statuses: Iterable[str] | None = None,
        messages: bool = True,
        only: Container[tuple[str, int]] | None = None,
        batch: int = 500,
    ) -> Iterator[list[EpisodeRecord]]:
        """``episodes`` in batches of at most ``batch``, each loaded only when asked for, so
        a caller that handles one batch at a time holds one batch of messages in memory;
        ``only`` keeps just these (task id, trial) keys."""
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self.load_run(run_id)  # clear error for an unknown id
        query = f"SELECT id, {EPISODE_COLUMNS} FROM episodes WHERE run_id = ?"
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
        if only is not None:
            rows = [r for r in rows if (r[1], r[2]) in only]
        for start in range(0, len(rows), batch):
            yield self._records(run_id, rows[start : start + batch], messages=messages)

    def _records(
        self, run_id: str, rows: list[tuple[Any, ...]], *, messages: bool
    ) -> list[EpisodeRecord]:
        """Episode records of ``episodes`` rows (id first), with their child rows."""
        ids = [r[0] for r in rows]
        stored = (
            self._children(
                ids,
                "messages",
                "role, content, tool_calls, tool_call_id, name, requestor, error, "
                "invalid_tool_calls",
                message_record,
            )
            if messages
            else {}
        )
        calls = self._children(ids, "llm_calls", LLM_CALL_COLUMNS, llm_call_record)
        timings = self._children(ids, "node_timings", "node, latency_ms", node_timing_record)
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
                records=stored.get(r[0], []),
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

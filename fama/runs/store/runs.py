"""Runs: create, resume (same configuration only), status, listing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from fama.runs.store.records import (
    RunConfigMismatchError,
    RunInfo,
    RunNotFoundError,
    RunStatus,
    config_differences,
    dumps,
    utc_now,
)


class RunsMixin:
    """The run rows of a ``RunStore``."""

    path: Path
    _conn: sqlite3.Connection
    _transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def create_or_resume_run(
        self,
        run_id: str,
        config: dict[str, Any],
        prompt_refs: list[dict[str, str]],
        *,
        differences: Callable[[dict[str, Any]], list[str]] | None = None,
    ) -> bool:
        """Create the run, or resume it (returns True) if its stored config matches.

        ``differences(stored_config)`` lists what differs (default: every key but
        ``RESUME_IGNORED_KEYS``; the stored config keeps its original values); any
        difference, or different prompt texts, raises ``RunConfigMismatchError``.
        """
        now = utc_now()
        row = self._conn.execute(
            "SELECT config, prompt_refs FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, 'running', ?, ?)",
                    (run_id, dumps(config), dumps(prompt_refs), now, now),
                )
            return False
        stored = json.loads(row[0])
        diffs = differences(stored) if differences else config_differences(stored, config)
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
                (dumps(list(merged.values())), now, run_id),
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

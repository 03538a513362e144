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
Run leases (one writer per run, ``fama.runs.store.leases``) are kept the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fama.runs.store.endpoints import EndpointsMixin
from fama.runs.store.episodes import EpisodesMixin
from fama.runs.store.labels import LabelsMixin
from fama.runs.store.leases import LeasesMixin, RunLeaseError
from fama.runs.store.records import (
    FAILED_STATUSES,
    RESUME_IGNORED_KEYS,
    EpisodeLabelRow,
    EpisodeOutcome,
    EpisodeRecord,
    EpisodeStatus,
    RunConfigMismatchError,
    RunInfo,
    RunNotFoundError,
    RunStatus,
    StoreError,
    config_differences,
    utc_now,
)
from fama.runs.store.schema import SCHEMA_VERSION, prepare

__all__ = [
    "FAILED_STATUSES",
    "RESUME_IGNORED_KEYS",
    "SCHEMA_VERSION",
    "EpisodeLabelRow",
    "EpisodeOutcome",
    "EpisodeRecord",
    "EpisodeStatus",
    "RunConfigMismatchError",
    "RunInfo",
    "RunLeaseError",
    "RunNotFoundError",
    "RunStatus",
    "RunStore",
    "StoreError",
    "config_differences",
    "utc_now",
]


class RunStore(EpisodesMixin, LabelsMixin, LeasesMixin, EndpointsMixin):
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
            prepare(self._conn, self.path, create=create)
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"{self.path} is not a usable FAMA run store: {exc}") from exc
            raise

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

"""Run leases: one writer per run (owner pid, host and heartbeat; the table is created on use).

A process running a run holds its lease and renews the heartbeat while it runs. A second
process asking for the same run id is refused with the owner named, unless the lease is
stale: its heartbeat is older than ``stale_after_s``, or its owner ran on this host and is
gone (a killed process leaves its lease behind).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from fama.runs.store.records import StoreError

LEASES_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_leases (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    heartbeat REAL NOT NULL
)
"""
DEFAULT_STALE_AFTER_S = 60.0


class RunLeaseError(StoreError):
    """Another live process holds the run's lease."""


@dataclass(frozen=True)
class Lease:
    """Who holds (or asks for) a run's lease."""

    run_id: str
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class LeasesMixin:
    """The run leases of a ``RunStore``."""

    _conn: sqlite3.Connection
    _transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def acquire_lease(self, lease: Lease, *, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> None:
        """Take the run's lease, or raise ``RunLeaseError`` naming its live owner."""
        now = time.time()
        with self._transaction() as conn:
            conn.execute(LEASES_SCHEMA)
            row = conn.execute(
                "SELECT owner, pid, host, heartbeat FROM run_leases WHERE run_id = ?",
                (lease.run_id,),
            ).fetchone()
            if row is not None and row[0] != lease.owner:
                pid, host, heartbeat = row[1:]
                age = now - heartbeat
                gone = host == lease.host and not pid_alive(pid)
                if age <= stale_after_s and not gone:
                    raise RunLeaseError(
                        f"run {lease.run_id!r} is being run by pid {pid} on {host} (last "
                        f"heartbeat {age:.0f} s ago); wait for it or stop it (a lease without "
                        f"a heartbeat for {stale_after_s:.0f} s is taken over)"
                    )
            conn.execute(
                "INSERT OR REPLACE INTO run_leases VALUES (?, ?, ?, ?, ?, ?)",
                (lease.run_id, lease.owner, lease.pid, lease.host, now, now),
            )

    def renew_lease(self, lease: Lease) -> bool:
        """Refresh the heartbeat; False when the lease was lost (taken over as stale)."""
        with self._transaction() as conn:
            conn.execute(LEASES_SCHEMA)
            cur = conn.execute(
                "UPDATE run_leases SET heartbeat = ? WHERE run_id = ? AND owner = ?",
                (time.time(), lease.run_id, lease.owner),
            )
            return cur.rowcount == 1

    def release_lease(self, lease: Lease) -> None:
        """Give the lease up (nothing happens if another process holds it now)."""
        with self._transaction() as conn:
            conn.execute(LEASES_SCHEMA)
            conn.execute(
                "DELETE FROM run_leases WHERE run_id = ? AND owner = ?",
                (lease.run_id, lease.owner),
            )

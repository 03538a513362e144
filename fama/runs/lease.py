"""Hold a run's lease while a command works on it: acquire, heartbeat thread, release.

The heartbeat runs in its own thread with its own store connection, so it keeps beating
while the event loop is busy or a local model server is still starting.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fama.runs.store import RunStore
from fama.runs.store.leases import DEFAULT_STALE_AFTER_S, Lease

HEARTBEAT_S = 10.0


@contextmanager
def held_lease(
    db: Path,
    run_id: str,
    *,
    heartbeat_s: float = HEARTBEAT_S,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> Iterator[Lease]:
    """Hold the lease of ``run_id`` in the store at ``db`` for the ``with`` block.

    Raises ``RunLeaseError`` (a ``StoreError``) when another live process holds it.
    """
    if not 0 < heartbeat_s < stale_after_s:
        raise ValueError(f"need 0 < heartbeat_s ({heartbeat_s}) < stale_after_s ({stale_after_s})")
    lease = Lease(run_id)
    with RunStore(db) as store:
        store.acquire_lease(lease, stale_after_s=stale_after_s)
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(db, lease, heartbeat_s, stop), name="fama-lease", daemon=True
    )
    beat.start()
    try:
        yield lease
    finally:
        stop.set()
        beat.join(timeout=heartbeat_s + 5)
        with RunStore(db) as store:
            store.release_lease(lease)


def _heartbeat(db: Path, lease: Lease, every_s: float, stop: threading.Event) -> None:
    """Renew the lease every ``every_s`` seconds until ``stop`` is set (warns once if lost)."""
    warned = False
    with RunStore(db) as store:
        while not stop.wait(every_s):
            try:
                kept = store.renew_lease(lease)
            except sqlite3.Error as exc:  # a busy store: the next beat tries again
                print(f"fama: lease heartbeat of run {lease.run_id}: {exc}", file=sys.stderr)
                continue
            if not kept and not warned:
                warned = True
                print(
                    f"fama: WARNING: the lease of run {lease.run_id} was taken over by another "
                    "process (this one looked stale); two writers may now work on the run",
                    file=sys.stderr,
                )

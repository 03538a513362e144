"""Per-endpoint request counts and latency of a run's model replicas (``fama.llm.endpoints``).

The table is created on first use, so stores written before it existed keep working; a
resumed run adds its counts to the stored ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fama.runs.store.runs import RunsMixin

ENDPOINTS_SCHEMA = """CREATE TABLE IF NOT EXISTS endpoint_stats (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    requests INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    taken_out INTEGER NOT NULL,
    PRIMARY KEY (run_id, url)
)"""


class EndpointsMixin(RunsMixin):
    """The endpoint statistics of a ``RunStore``."""

    def add_endpoint_stats(self, run_id: str, stats: Sequence[Mapping[str, Any]]) -> None:
        """Add ``Endpoint.stats()`` counts (url, requests, failures, latency_ms total,
        taken_out) to the run's stored ones."""
        self.load_run(run_id)  # clear error for an unknown id
        with self._transaction() as conn:
            conn.execute(ENDPOINTS_SCHEMA)
            conn.executemany(
                "INSERT INTO endpoint_stats VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, url) DO UPDATE SET "
                "requests = requests + excluded.requests, "
                "failures = failures + excluded.failures, "
                "latency_ms = latency_ms + excluded.latency_ms, "
                "taken_out = taken_out + excluded.taken_out",
                [
                    (
                        run_id,
                        s["url"],
                        s["requests"],
                        s["failures"],
                        s["latency_ms"],
                        s["taken_out"],
                    )
                    for s in stats
                ],
            )

    def endpoint_stats(self, run_id: str) -> list[dict[str, Any]]:
        """The run's endpoints (url order) with counts and mean latency of answered requests;
        empty when the run used a single endpoint or was made before this table existed."""
        self.load_run(run_id)
        exists = self._conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'endpoint_stats'"
        ).fetchone()[0]
        if not exists:
            return []
        rows = self._conn.execute(
            "SELECT url, requests, failures, latency_ms, taken_out FROM endpoint_stats "
            "WHERE run_id = ? ORDER BY url",
            (run_id,),
        )
        return [
            {
                "url": url,
                "requests": requests,
                "failures": failures,
                "mean_latency_ms": latency / (requests - failures) if requests > failures else None,
                "taken_out": taken_out,
            }
            for url, requests, failures, latency, taken_out in rows
        ]

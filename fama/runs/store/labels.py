"""Failure labels of episodes (written by ``fama analyze``; the table is created on first use)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from fama.runs.store.records import EpisodeLabelRow, dumps
from fama.runs.store.runs import RunsMixin
from fama.runs.store.schema import LABELS_SCHEMA


class LabelsMixin(RunsMixin):
    """The episode labels of a ``RunStore``."""

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
            conn.execute(LABELS_SCHEMA)  # absent from stores written before labels existed
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
                        dumps(list(label.evidence_steps)),
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

"""Conversations of a user's own agent, saved to the run store as a run (``fama view`` /
``fama report`` / ``fama analyze`` then read them like benchmark episodes).

``RunRecorder(db, run_id)`` creates the run (or reopens it when its configuration is the
same) and, after every agent turn, saves the whole conversation of that thread as one
episode (task id = the thread id, replaced turn after turn): its messages, the model calls
of every FAMA decision and the decision records. The episodes are not scored (reward None);
label them, or import labelled logs with ``fama import``, to analyse them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AnyMessage

from fama.core.state import FamaDecision, LLMCall, NodeTiming
from fama.core.trajectory import to_records
from fama.runs.store import EpisodeRecord, RunStore, StoreError, utc_now

AGENT_KIND = "fama-middleware"
log = logging.getLogger(__name__)


class RunRecorder:
    """Saves each thread's conversation as an episode of one run-store run."""

    def __init__(
        self, db: Path | str, run_id: str, *, domain: str = "own-agent", split: str | None = None
    ) -> None:
        self.db = Path(db)
        self.run_id = run_id
        self.domain = domain
        self.split = split
        self._lock = threading.Lock()
        self._opened = False

    def open(self, config: Mapping[str, Any], prompt_refs: Sequence[Mapping[str, str]]) -> None:
        """Create or reopen the run (``RunConfigMismatchError`` if it exists with another
        configuration: choose another run id)."""
        stored = {"env": f"own:{self.domain}", "domain": self.domain, "agent": AGENT_KIND}
        with RunStore(self.db) as store:
            store.create_or_resume_run(
                self.run_id, {**stored, **config}, [dict(r) for r in prompt_refs]
            )
        self._opened = True

    def save(
        self,
        thread_id: str,
        messages: Sequence[AnyMessage],
        decisions: Sequence[FamaDecision],
        llm_calls: Sequence[LLMCall],
        node_timings: Sequence[NodeTiming] = (),
    ) -> bool:
        """Save (replace) the thread's episode; a store failure is logged, never raised into
        the user's agent. Returns whether it was saved."""
        if not self._opened:
            raise RuntimeError("RunRecorder.open must be called before save")
        episode = EpisodeRecord(
            run_id=self.run_id,
            task_id=thread_id,
            trial=0,
            domain=self.domain,
            split=self.split,
            status="done",
            termination=None,
            reward=None,
            records=to_records(list(messages)),
            llm_calls=list(llm_calls),
            node_timings=list(node_timings),
            steps=len(messages),
            started_at=utc_now(),
            agent_kind=AGENT_KIND,
            extra={"fama_decisions": list(decisions)} if decisions else {},
        )
        try:
            with self._lock, RunStore(self.db) as store:
                store.save_episode(self.run_id, episode)
        except (StoreError, OSError, sqlite3.Error) as exc:
            log.warning("FAMA could not record thread %s in %s: %s", thread_id, self.db, exc)
            return False
        return True

"""The input of failure analysis: one failed episode, independent of where it was stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fama.core.trajectory import MessageRecord


@dataclass(frozen=True)
class FailedEpisode:
    """A failed trajectory with the evaluator's findings and the policy the agent had."""

    key: str
    domain: str
    task_id: str
    records: Sequence[MessageRecord]
    reward_info: Mapping[str, Any] = field(default_factory=dict)
    policy: str = ""
    reward: float | None = None
    trial: int | None = None
    termination: str | None = None


class StoredEpisode(Protocol):
    """The fields of a run-store episode record that analysis reads."""

    task_id: str
    trial: int
    domain: str
    reward: float | None
    reward_info: dict[str, Any]
    records: list[MessageRecord]
    termination: str | None


def episode_key(task_id: str, trial: int | None) -> str:
    """The label of an episode inside a run, e.g. ``"12#0"``."""
    return task_id if trial is None else f"{task_id}#{trial}"


def from_stored(episode: StoredEpisode, policy: str = "") -> FailedEpisode:
    """Build the analysis input from a stored episode (the store already filtered failures)."""
    return FailedEpisode(
        key=episode_key(episode.task_id, episode.trial),
        domain=episode.domain,
        task_id=episode.task_id,
        records=list(episode.records),
        reward_info=dict(episode.reward_info),
        policy=policy,
        reward=episode.reward,
        trial=episode.trial,
        termination=episode.termination,
    )

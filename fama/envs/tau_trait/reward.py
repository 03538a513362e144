"""The tau-bench v1 reward used by tau-trait: final-data hash vs. gold replay, plus outputs.

Behaviour follows sierra-research/tau-bench and collinear-ai/tau-trait (MIT):

- ``r_actions``: the episode's final data is hashed (dicts as key-sorted tuples, lists as
  tuples, SHA-256 of ``str``); a fresh copy of the initial data gets the task's gold actions
  replayed through the same tools (terminal tools skipped, errors and unknown tools are
  no-ops) and is hashed the same way. Equal hashes -> 1, else the reward is 0.
- ``r_outputs`` (only when the task has outputs): every output, lower-cased, must be a
  substring of some agent text message (a message without tool calls: tau-bench's
  ``respond`` action), lower-cased with commas removed. A miss -> reward 0.
- An episode that did not end properly (termination other than ``user_stop`` or
  ``agent_stop``) is not scored upstream: reward 0, no components.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from hashlib import sha256
from typing import Any

from fama.core.scoring import RewardInfo
from fama.core.trajectory import MessageRecord
from fama.envs.tau_trait.data import TauTraitTask
from fama.envs.tau_trait.runtime import TauTraitDomain

SCORED_TERMINATIONS = frozenset({"user_stop", "agent_stop"})
RESPOND_ACTION = "respond"


def to_hashable(item: Any) -> Any:
    """Canonical nested tuples: dicts as key-sorted (key, value) pairs, lists as tuples."""
    if isinstance(item, dict):
        return tuple((key, to_hashable(value)) for key, value in sorted(item.items()))
    if isinstance(item, list):
        return tuple(to_hashable(element) for element in item)
    if isinstance(item, set):
        return tuple(sorted(to_hashable(element) for element in item))
    return item


def consistent_hash(value: Any) -> str:
    """SHA-256 hex digest of ``str(value)``."""
    return sha256(str(value).encode("utf-8")).hexdigest()


def data_hash(data: dict[str, Any]) -> str:
    """The official hash of a domain's data."""
    return consistent_hash(to_hashable(data))


def gold_data(domain: TauTraitDomain, task: TauTraitTask) -> dict[str, Any]:
    """Fresh data with the task's gold actions replayed (terminal tools skipped)."""
    data = domain.fresh_data()
    for action in task.actions:
        if action.name in domain.tools.terminal_tools or action.name == RESPOND_ACTION:
            continue
        domain.run_tool(data, action.name, action.kwargs)
    return data


def gold_hash(domain: TauTraitDomain, task: TauTraitTask) -> str:
    """The hash of ``gold_data``, cached per domain by gold actions and today's date.

    The date is part of the key because some tools write the real date (telehealth
    ``cancel_appointment``), so the gold data can change from one day to the next.
    """
    actions = json.dumps([[a.name, a.kwargs] for a in task.actions], sort_keys=True, default=str)
    key = f"{date.today().isoformat()}|{actions}"
    cached = domain.gold_hashes.get(key)
    if cached is None:
        cached = domain.gold_hashes[key] = data_hash(gold_data(domain, task))
    return cached


def agent_texts(records: Sequence[MessageRecord]) -> list[str]:
    """The agent's text messages (what tau-bench records as ``respond`` actions)."""
    return [
        r.get("content") or ""
        for r in records
        if r["role"] == "assistant" and not r.get("tool_calls")
    ]


def check_outputs(outputs: Sequence[str], texts: Sequence[str]) -> dict[str, bool]:
    """For each required output: found (lower-case substring, commas removed from the text)."""
    normalised = [t.lower().replace(",", "") for t in texts]
    return {output: any(output.lower() in t for t in normalised) for output in outputs}


def evaluate_episode(
    domain: TauTraitDomain,
    task: TauTraitTask,
    final_data: dict[str, Any],
    records: Sequence[MessageRecord],
    termination: str | None,
) -> RewardInfo:
    """Score one finished episode exactly like tau-bench v1 (see the module docstring)."""
    if termination not in SCORED_TERMINATIONS:
        return RewardInfo(
            reward=0.0,
            details={
                "termination": termination,
                "note": "episode did not end with a user stop or a terminal tool: not scored",
            },
        )
    final_hash = data_hash(final_data)
    gt_hash = gold_hash(domain, task)
    r_actions = 1.0 if final_hash == gt_hash else 0.0
    components = {"r_actions": r_actions}
    details: dict[str, Any] = {
        "termination": termination,
        "data_hash": final_hash,
        "gt_data_hash": gt_hash,
    }
    reward = r_actions
    if task.outputs:
        found = check_outputs(task.outputs, agent_texts(records))
        components["r_outputs"] = 1.0 if all(found.values()) else 0.0
        details["outputs"] = found
        reward = min(reward, components["r_outputs"])
    return RewardInfo(
        reward=reward, components=components, reward_basis=list(components), details=details
    )

"""The outcome check of a user-domain task, scored like tau2 (a product of 0/1 checks).

* ``DB``: the final state hash equals the hash after replaying the write actions of
  ``expected_actions`` on a fresh state (so an extra or a wrong write fails it);
* ``ACTION``: every expected action appears among the agent's tool calls (same name, its
  expected arguments among the call's arguments);
* ``STATE``: ``expected_state`` matches the final state where it says something (objects
  compared key by key, lists and values exactly);
* ``COMMUNICATE``: every expected phrase appears (case-insensitively) in an agent message.

An episode that did not end by the user or the agent (``max_steps``, ``too_many_errors``)
scores 0, as in tau2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fama.core.scoring import RewardInfo
from fama.core.trajectory import MessageRecord
from fama.envs.custom.domain import CustomDomain, CustomEnvironment, DomainError, plain_state
from fama.envs.custom.tasks import CustomTask, ExpectedAction

NORMAL_ENDS = frozenset({"user_stop", "agent_stop"})


def replay(domain: CustomDomain, task: CustomTask) -> CustomEnvironment:
    """A fresh environment after the task's expected write actions (reads change nothing, so
    their arguments may be partial); ``DomainError`` if one fails."""
    env = domain.new_environment()
    for number, action in enumerate(task.expected_actions or [], start=1):
        if env.tool_kind(action.name) != "write":
            continue
        output = env.execute(action.name, dict(action.arguments))
        if output.error:
            raise DomainError(
                f"task {task.id}: expected action {number} ({action.name}) fails on a fresh "
                f"state: {output.content}"
            )
    return env


def state_mismatch(expected: Any, actual: Any, path: str = "state") -> str | None:
    """Where ``actual`` differs from ``expected`` (objects: only the expected keys), or None."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{path}: expected an object, found {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                return f"{path}.{key}: missing"
            found = state_mismatch(value, actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    return None if expected == actual else f"{path}: expected {expected!r}, found {actual!r}"


def _called(action: ExpectedAction, records: Sequence[MessageRecord]) -> bool:
    for record in records:
        if record["role"] != "assistant":
            continue
        for call in record.get("tool_calls", []):
            args = call["arguments"] if isinstance(call["arguments"], dict) else {}
            if call["name"] == action.name and all(
                key in args and args[key] == value for key, value in action.arguments.items()
            ):
                return True
    return False


def _said(phrase: str, records: Sequence[MessageRecord]) -> bool:
    needle = phrase.casefold()
    return any(r["role"] == "assistant" and needle in r["content"].casefold() for r in records)


def evaluate_outcome(
    task: CustomTask,
    env: CustomEnvironment,
    records: Sequence[MessageRecord],
    termination: str | None,
    expected_digest: str | None,
) -> RewardInfo:
    """Score a finished episode with its live environment (``expected_digest``: the hash
    after replaying the expected actions, needed when ``DB`` is in the basis)."""
    basis = task.basis()
    if termination not in NORMAL_ENDS:
        return RewardInfo(
            reward=0.0, reward_basis=list(basis), details={"termination": termination}
        )
    components: dict[str, float] = {}
    details: dict[str, Any] = {}
    if "DB" in basis:
        digest = env.digest()
        components["DB"] = float(digest == expected_digest)
        details["DB"] = {"final": digest, "expected": expected_digest}
    if "ACTION" in basis:
        missing = [a.model_dump() for a in task.expected_actions or [] if not _called(a, records)]
        components["ACTION"] = float(not missing)
        details["ACTION"] = {"missing": missing}
    if "STATE" in basis:
        mismatch = state_mismatch(task.expected_state or {}, plain_state(env.state))
        components["STATE"] = float(mismatch is None)
        details["STATE"] = {"mismatch": mismatch}
    if "COMMUNICATE" in basis:
        unsaid = [p for p in task.expected_phrases or [] if not _said(p, records)]
        components["COMMUNICATE"] = float(not unsaid)
        details["COMMUNICATE"] = {"missing": unsaid}
    reward = 1.0
    for value in components.values():
        reward *= value
    return RewardInfo(
        reward=reward, components=components, reward_basis=list(basis), details=details
    )

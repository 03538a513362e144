"""ACEBench scoring: end-to-end accuracy (end state) and process accuracy (milestones).

End-to-end follows the official checker, quirks included: a ground-truth entry whose class
name matches no captured class (typos ``Reminderpi``, ``BaseAPI``) is not checked; for dict
attributes only the ground truth's keys are compared (extra messages/reminders are
ignored); list and scalar attributes must be equal. Process accuracy is 1.0 for a passed
task, else the share of milestones found in order in the process log: ``official`` compares
the call-list texts exactly (after ``strip``), ``normalised`` compares parsed calls (name and
argument dict). Behaviour follows chenchen0103/ACEBench (MIT).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fama.core.scoring import RewardInfo
from fama.envs.acebench.calls import Call, parse_call_list

if TYPE_CHECKING:
    from fama.envs.acebench.data import AceTask
    from fama.envs.acebench.environment import AceBenchEnvironment, ProcessEntry

MAX_DETAIL_CHARS = 300


def end_to_end(
    ground_truth: Sequence[dict[str, Any]], state: Sequence[dict[str, Any]]
) -> tuple[bool, list[str]]:
    """Whether the captured end state passes the official checker, and why not."""
    if len(ground_truth) != len(state):
        return False, [
            f"wrong number of classes: expected {len(ground_truth)}, captured {len(state)}"
            + ("" if state else " (no execution completed)")
        ]
    errors: list[str] = []
    for expected in ground_truth:
        matched = next((s for s in state if set(s) == set(expected)), None)
        if matched is None:
            errors.append(f"note: ground-truth class {sorted(expected)} not captured; not checked")
            continue
        errors += _class_errors(expected, matched)
    passed = not [e for e in errors if not e.startswith("note:")]
    return passed, errors


def _class_errors(expected: dict[str, Any], captured: dict[str, Any]) -> list[str]:
    name = next(iter(expected))
    want, got = expected[name], captured[name]
    errors: list[str] = []
    for attribute, value in got.items():
        if attribute not in want:
            errors.append(f"{name}.{attribute} missing in the ground truth")
            continue
        target = want[attribute]
        if isinstance(target, dict):
            for key, item in target.items():
                if key not in value:
                    errors.append(f"{name}.{attribute}[{key!r}] missing")
                elif item != value[key]:
                    errors.append(
                        f"{name}.{attribute}[{key!r}]: expected {_short(item)}, "
                        f"got {_short(value[key])}"
                    )
        elif target != value:
            errors.append(f"{name}.{attribute}: expected {_short(target)}, got {_short(value)}")
    return errors


def _short(value: Any) -> str:
    dumped = json.dumps(value, ensure_ascii=False)
    return dumped if len(dumped) <= MAX_DETAIL_CHARS else dumped[:MAX_DETAIL_CHARS] + "..."


def milestone_lists(mile_stone: Sequence[Any]) -> list[list[str]]:
    """The alternative milestone lists of a task (most tasks have exactly one)."""
    if mile_stone and isinstance(mile_stone[0], list):
        return [list(alternative) for alternative in mile_stone]
    return [list(mile_stone)]


def official_process(texts: Sequence[str], milestones: Sequence[str]) -> tuple[float, list[int]]:
    """Share of milestones found in order in the logged texts (exact match after strip)."""
    hits: list[int] = []
    position = 0
    for index, stone in enumerate(milestones):
        while position < len(texts):
            position += 1
            if texts[position - 1].strip() == stone.strip():
                hits.append(index)
                break
    return (len(hits) / len(milestones) if milestones else 1.0), hits


def normalised_process(
    turns: Sequence[Sequence[Call]], milestones: Sequence[str]
) -> tuple[float, list[int]]:
    """Share of milestones matched in order by parsed calls.

    A single-call milestone matches any later call (calls of one agent turn count one after
    another); a milestone with several calls matches one later agent turn holding exactly
    those calls (in any order). An unparsable milestone never matches.
    """
    flat = [(turn, call) for turn, calls in enumerate(turns) for call in calls]
    starts = {turn: i for i, (turn, _) in reversed(list(enumerate(flat)))}
    hits: list[int] = []
    position = 0
    for index, stone in enumerate(milestones):
        wanted = parse_call_list(stone)
        if not wanted:
            continue
        if len(wanted) == 1:
            found = next((i for i in range(position, len(flat)) if flat[i][1] == wanted[0]), None)
            end = None if found is None else found + 1
        else:
            turn = next(
                (
                    t
                    for t, start in sorted(starts.items())
                    if start >= position and _same_calls(turns[t], wanted)
                ),
                None,
            )
            end = None if turn is None else starts[turn] + len(turns[turn])
        if end is not None:
            hits.append(index)
            position = end
    return (len(hits) / len(milestones) if milestones else 1.0), hits


def _same_calls(left: Sequence[Call], right: Sequence[Call]) -> bool:
    def key(call: Call) -> str:
        return json.dumps([call[0], call[1]], sort_keys=True, default=str)

    return sorted(map(key, left)) == sorted(map(key, right))


def process_scores(
    log: Sequence[ProcessEntry], mile_stone: Sequence[Any]
) -> tuple[float, float, dict[str, Any]]:
    """(official, normalised, details): the best alternative of each, as upstream's max."""
    texts = [entry.text for entry in log]
    turns = [entry.calls for entry in log]
    official: tuple[float, list[int], int] = (-1.0, [], 0)
    normalised: tuple[float, list[int], int] = (-1.0, [], 0)
    alternatives = milestone_lists(mile_stone)
    for number, stones in enumerate(alternatives):
        score, hits = official_process(texts, stones)
        if len(alternatives) > 1:
            score = round(score, 3)  # upstream keeps the best rounded alternative
        if score > official[0]:
            official = (score, hits, number)
        score, hits = normalised_process(turns, stones)
        if score > normalised[0]:
            normalised = (score, hits, number)
    several = len(alternatives) > 1
    details = {
        "milestones": alternatives if several else alternatives[0],
        "official_matched": official[1],  # indexes into the (chosen alternative's) milestones
        "normalised_matched": normalised[1],
        "official_alternative": official[2] if several else None,
        "normalised_alternative": normalised[2] if several else None,
    }
    return official[0], normalised[0], details


def evaluate_task(task: AceTask, env: AceBenchEnvironment) -> RewardInfo:
    """Score an episode from its live environment (end state and process log)."""
    state = env.final_state()
    passed, errors = end_to_end(task.ground_truth, state)
    details: dict[str, Any] = {
        "end_to_end_passed": passed,
        "state_errors": errors,
        "process_log": [entry.text for entry in env.process_log],
    }
    if passed:
        official = normalised = 1.0
    else:
        official, normalised, process_details = process_scores(env.process_log, task.mile_stone)
        details.update(process_details)
    return RewardInfo(
        reward=1.0 if passed else 0.0,
        components={
            "end_to_end": 1.0 if passed else 0.0,
            "process": official,
            "process_normalised": normalised,
        },
        reward_basis=["end_to_end"],
        details=details,
    )

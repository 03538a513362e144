"""ACEBench scoring: milestone replays reproduce the ground truth; checker quirks; process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fama.envs.acebench.calls import parse_call_list, render_calls
from fama.envs.acebench.data import AceTask, load_initial_state, load_tasks
from fama.envs.acebench.environment import AceBenchEnvironment
from fama.envs.acebench.evaluation import (
    end_to_end,
    evaluate_task,
    milestone_lists,
    normalised_process,
    official_process,
    process_scores,
)


def replay(task: AceTask, seed: dict[str, Any], stones: list[str]) -> AceBenchEnvironment:
    """Run milestone call lists through a fresh environment, one batch per milestone."""
    env = AceBenchEnvironment(task, seed, "policy")
    for stone in stones:
        calls = parse_call_list(stone)
        assert calls, stone
        env.execute_batch(calls)
    return env


def reproduced(data_dir: Path, category: str, lang: str, *, repair: bool = True) -> list[int]:
    """Task numbers whose milestones (any alternative) reproduce the ground-truth state.

    Without ``repair`` the milestones upstream cannot parse are skipped, as its executor does.
    """
    seed = load_initial_state(lang, data_dir=data_dir)
    passed = []
    for task in load_tasks(category, lang, data_dir=data_dir):
        for stones in milestone_lists(task.mile_stone):
            usable = [s for s in stones if parse_call_list(s, repair=repair)]
            if end_to_end(task.ground_truth, replay(task, seed, usable).final_state())[0]:
                passed.append(int(task.id.rsplit("_", 1)[1]))
                break
    return passed


def test_milestones_reproduce_the_ground_truth_multi_turn_en(acebench_data_dir: Path) -> None:
    passed = reproduced(acebench_data_dir, "multi_turn", "en")
    assert len(passed) == 29 and 6 not in passed  # task 6's milestones omit login_device()
    [task6] = load_tasks("multi_turn", "en", data_dir=acebench_data_dir, task_ids=["6"])
    seed = load_initial_state("en", data_dir=acebench_data_dir)
    env = replay(task6, seed, ["[login_device()]", *task6.mile_stone])
    assert end_to_end(task6.ground_truth, env.final_state())[0]  # -> 30/30


@pytest.mark.parametrize(
    ("category", "lang", "expected"),
    [("multi_turn", "zh", 29), ("multi_step", "en", 12), ("multi_step", "zh", 14)],
)
def test_milestone_replay_counts(
    acebench_data_dir: Path, category: str, lang: str, expected: int
) -> None:
    assert len(reproduced(acebench_data_dir, category, lang)) == expected


def test_official_multi_step_count_without_quote_repair(acebench_data_dir: Path) -> None:
    # upstream cannot parse 'Domino's' / 'Don't ...' milestones: tasks 4 and 5 then fail too
    passed = reproduced(acebench_data_dir, "multi_step", "en", repair=False)
    assert len(passed) == 10 and 4 not in passed and 5 not in passed


def test_quote_repair_and_parsing() -> None:
    stone = (
        "[add_food_delivery_order(username='Grace', merchant_name='Domino's', "
        "items=[{'product': 'Margherita Pizza', 'quantity': 1}])]"
    )
    assert parse_call_list(stone) == [
        (
            "add_food_delivery_order",
            {
                "username": "Grace",
                "merchant_name": "Domino's",
                "items": [{"product": "Margherita Pizza", "quantity": 1}],
            },
        )
    ]
    assert parse_call_list("[f(a=1, b=-2.5, c=None), g()]") == [
        ("f", {"a": 1, "b": -2.5, "c": None}),
        ("g", {}),
    ]
    assert parse_call_list("[f(x=Eve, y=a+b)]") == [("f", {"x": "Eve", "y": "a + b"})]
    assert parse_call_list("Sure, I will do that.") is None
    assert parse_call_list("[f(), 3]") is None
    assert render_calls([("f", {"b": 2, "a": "x"})], {"f": ["a", "b"]}) == "[f(a='x', b=2)]"


def state_of(
    data_dir: Path, number: int, extra: list[str], drop: int = 0
) -> tuple[AceTask, list[dict[str, Any]]]:
    [task] = load_tasks("multi_turn", "en", data_dir=data_dir, task_ids=[str(number)])
    seed = load_initial_state("en", data_dir=data_dir)
    stones = list(task.mile_stone)[: len(task.mile_stone) - drop] + extra
    return task, replay(task, seed, stones).final_state()


def test_checker_quirks(acebench_data_dir: Path) -> None:
    # extra reminders are ignored (only the ground truth's keys are compared)
    task, state = state_of(
        acebench_data_dir, 4, ["[add_reminder(title='x', description='y', time='z')]"]
    )
    assert end_to_end(task.ground_truth, state) == (True, [])
    # the wrong reminder text fails ...
    wrong = "[add_reminder(title='Meeting Reminder', description='other', time='2024-06-11 16:00')]"
    task, state = state_of(acebench_data_dir, 4, [wrong], drop=1)
    passed, errors = end_to_end(task.ground_truth, state)
    assert not passed and errors == [
        "ReminderApi.reminder_list['4']: expected "
        '{"reminder_id": 4, "title": "Meeting Reminder", '
        '"description": "Hey Frank, don\'t forget about our meeting on 2024-06-11 at 4 PM in '
        'Conference Room 1.", "time": "2024-06-11 16:00", "notified": false}, got {"reminder_id": '
        '4, "title": "Meeting Reminder", "description": "other", "time": "2024-06-11 16:00", '
        '"notified": false}'
    ]
    # ... except in task 7, whose ground truth names the class "Reminderpi" (not checked)
    task, state = state_of(acebench_data_dir, 7, [wrong], drop=1)
    passed, errors = end_to_end(task.ground_truth, state)
    assert passed and errors == [
        "note: ground-truth class ['Reminderpi'] not captured; not checked"
    ]
    # an unnecessary side effect on a compared field fails (wifi stays off in task 4's GT)
    task, state = state_of(acebench_data_dir, 4, ["[turn_on_wifi()]"])
    assert end_to_end(task.ground_truth, state) == (
        False,
        ["BaseApi.wifi: expected false, got true"],
    )
    # nothing captured -> wrong number of classes
    assert end_to_end(task.ground_truth, [])[0] is False
    # numbers compare by value after the JSON round trip
    assert end_to_end([{"C": {"a": {"1": 500}}}], [{"C": {"a": {"1": 500.0}}}])[0]
    assert not end_to_end([{"C": {"a": {"1": 5}}}], [{"C": {"a": {"1": 5}, "b": 1}}])[0]


def test_process_accuracy_official_versus_normalised() -> None:
    stones = [
        "[turn_on_wifi()]",
        "[add_food_delivery_order(username='Grace', merchant_name='Domino's', "
        "items=[{'product': 'Margherita Pizza', 'quantity': 1}])] ",
        '[add_reminder(title="T", description="d", time="t")]',
        "[f(a=1), f(a=2)]",
    ]
    order = (
        "add_food_delivery_order",
        {
            "username": "Grace",
            "merchant_name": "Domino's",
            "items": [{"product": "Margherita Pizza", "quantity": 1}],
        },
    )
    turns = [
        [("turn_on_wifi", {})],
        [order],
        [("add_reminder", {"time": "t", "title": "T", "description": "d"})],
        [("f", {"a": 2}), ("f", {"a": 1})],
    ]
    texts = [render_calls(t, {"add_reminder": ["title", "description", "time"]}) for t in turns]
    assert texts[2] == "[add_reminder(title='T', description='d', time='t')]"
    # official: exact text only -- the unparsable and the double-quoted milestones never match
    assert official_process(texts, stones) == (0.25, [0])
    assert normalised_process(turns, stones) == (1.0, [0, 1, 2, 3])
    # order matters, and a multi-call milestone needs one turn with all its calls
    assert normalised_process(list(reversed(turns)), stones)[1] == [0]  # greedy, in order
    split = [[("f", {"a": 1})], [("f", {"a": 2})]]
    assert normalised_process(split, ["[f(a=1), f(a=2)]"]) == (0.0, [])
    assert normalised_process(split, ["[f(a=2)]"]) == (1.0, [0])
    # a single-call milestone matches a call inside a parallel turn
    assert normalised_process([[("g", {}), ("f", {"a": 2})]], ["[f(a=2)]", "[g()]"]) == (0.5, [0])


def test_alternative_milestones_take_the_best(acebench_data_dir: Path) -> None:
    [task] = load_tasks("multi_step", "en", data_dir=acebench_data_dir, task_ids=["10"])
    alternatives = milestone_lists(task.mile_stone)
    assert len(alternatives) >= 2
    seed = load_initial_state("en", data_dir=acebench_data_dir)
    env = replay(task, seed, alternatives[1][:2])
    official, normalised, details = process_scores(env.process_log, task.mile_stone)
    assert normalised == max(
        normalised_process([e.calls for e in env.process_log], a)[0] for a in alternatives
    )
    assert details["normalised_matched"] and 0 < normalised < 1
    assert official == round(official, 3)


def test_evaluate_reward_and_components(acebench_data_dir: Path) -> None:
    [task] = load_tasks("multi_turn", "en", data_dir=acebench_data_dir, task_ids=["20"])
    seed = load_initial_state("en", data_dir=acebench_data_dir)
    info = evaluate_task(task, replay(task, seed, list(task.mile_stone)))
    assert info.reward == 1.0
    assert info.components == {"end_to_end": 1.0, "process": 1.0, "process_normalised": 1.0}
    assert info.reward_basis == ["end_to_end"]
    half = replay(task, seed, [task.mile_stone[0]])
    info = evaluate_task(task, half)
    assert info.reward == 0.0
    assert info.components == {"end_to_end": 0.0, "process": 0.5, "process_normalised": 0.5}
    assert info.details["state_errors"] and info.details["official_matched"] == [0]
    assert info.details["process_log"] == [task.mile_stone[0]]

"""tau-bench v1 reward: canonical hash, gold replay, outputs, episodes that did not end."""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from fama.core.trajectory import MessageRecord
from fama.envs.tau_trait.data import GoldAction, TauTraitTask, load_tasks
from fama.envs.tau_trait.reward import (
    agent_texts,
    check_outputs,
    consistent_hash,
    data_hash,
    evaluate_episode,
    gold_data,
    gold_hash,
    to_hashable,
)
from fama.envs.tau_trait.runtime import DomainTools, TauTraitDomain
from fama.envs.tau_trait.telecom import DOMAIN


@pytest.fixture(scope="module")
def telecom(tau_trait_data_dir: Path) -> TauTraitDomain:
    return TauTraitDomain(DOMAIN, tau_trait_data_dir)


def task(actions: list[tuple[str, dict[str, Any]]], outputs: tuple[str, ...] = ()) -> TauTraitTask:
    return TauTraitTask(
        id="test-0",
        split="test",
        index=0,
        user_id="u",
        instruction="do it",
        actions=tuple(GoldAction(n, k) for n, k in actions),
        outputs=outputs,
    )


def say(text: str) -> MessageRecord:
    return {"role": "assistant", "content": text, "tool_calls": []}


def test_to_hashable_is_canonical() -> None:
    assert to_hashable({"b": [1, {"d": 2, "c": 3}], "a": {3, 1}}) == (
        ("a", (1, 3)),
        ("b", (1, (("c", 3), ("d", 2)))),
    )
    assert data_hash({"x": 1, "y": 2}) == data_hash({"y": 2, "x": 1})
    assert data_hash({"x": [1, 2]}) != data_hash({"x": [2, 1]})
    expected = sha256(str((("x", 1.5),)).encode()).hexdigest()
    assert consistent_hash(to_hashable({"x": 1.5})) == expected


TICKET = ("create_support_ticket", {"customer_id": "lisa_chen_3456", "category": "billing"})


def test_gold_trajectory_scores_one(telecom: TauTraitDomain) -> None:
    gold = task([("get_customer_details", {"customer_id": "lisa_chen_3456"}), TICKET])
    env = telecom.new_environment()
    env.execute(*TICKET)
    info = evaluate_episode(telecom, gold, env.data, [say("done")], "user_stop")
    assert info.reward == 1.0
    assert info.components == {"r_actions": 1.0}
    assert info.reward_basis == ["r_actions"]
    assert info.details["data_hash"] == info.details["gt_data_hash"]


def test_wrong_or_extra_write_scores_zero(telecom: TauTraitDomain) -> None:
    gold = task([TICKET])
    wrong = telecom.new_environment()
    wrong.execute("create_support_ticket", {**TICKET[1], "priority": "urgent"})
    assert evaluate_episode(telecom, gold, wrong.data, [], "user_stop").reward == 0.0
    extra = telecom.new_environment()
    extra.execute(*TICKET)
    extra.execute(*TICKET)
    info = evaluate_episode(telecom, gold, extra.data, [], "user_stop")
    assert (info.reward, info.components["r_actions"]) == (0.0, 0.0)
    untouched = telecom.new_environment()
    assert evaluate_episode(telecom, gold, untouched.data, [], "user_stop").reward == 0.0


def test_gold_actions_that_fail_are_no_ops(telecom: TauTraitDomain) -> None:
    gold = task(
        [
            ("troubleshoot_device", {"device_id": "1", "issue": "no_service"}),  # bad kwarg
            ("manage_devices", {"customer_id": "lisa_chen_3456"}),  # retired tool
            ("add_device", {"customer_id": "nobody", "device_name": "iPhone 15"}),
        ]
    )
    assert data_hash(gold_data(telecom, gold)) == data_hash(telecom.fresh_data())


def test_outputs_are_lowercase_substrings_without_commas(telecom: TauTraitDomain) -> None:
    gold = task([], outputs=("1228.50", "TICKET002"))
    env = telecom.new_environment()
    said = [say("Your total is $1,228.50."), say("Ticket ticket002 is open.")]
    info = evaluate_episode(telecom, gold, env.data, said, "user_stop")
    assert info.reward == 1.0
    assert info.components == {"r_actions": 1.0, "r_outputs": 1.0}
    assert info.details["outputs"] == {"1228.50": True, "TICKET002": True}
    missing = evaluate_episode(telecom, gold, env.data, said[:1], "user_stop")
    assert (missing.reward, missing.components["r_outputs"]) == (0.0, 0.0)
    assert missing.details["outputs"] == {"1228.50": True, "TICKET002": False}


def test_only_agent_text_messages_count_as_outputs() -> None:
    records: list[MessageRecord] = [
        {"role": "user", "content": "is it 55.00?"},
        {
            "role": "assistant",
            "content": "55.00",
            "tool_calls": [{"id": "c", "name": "think", "arguments": {}}],
        },
        {"role": "tool", "content": "55.00", "tool_call_id": "c"},
        say("It is 60.00"),
    ]
    assert agent_texts(records) == ["It is 60.00"]
    assert check_outputs(["55.00", "60.00"], agent_texts(records)) == {
        "55.00": False,
        "60.00": True,
    }


@pytest.mark.parametrize("termination", ["max_steps", "too_many_errors", None])
def test_episodes_that_did_not_end_score_zero(
    telecom: TauTraitDomain, termination: str | None
) -> None:
    env = telecom.new_environment()
    info = evaluate_episode(telecom, task([]), env.data, [], termination)
    assert (info.reward, info.components) == (0.0, {})
    assert info.details["termination"] == termination


def test_terminal_tools_are_not_replayed(tmp_path: Path) -> None:
    def log(data: dict[str, Any], text: str) -> str:
        data["log"]["lines"].append(text)
        return "ok"

    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "wiki.md").write_text("p")
    (folder / "log.json").write_text(json.dumps({"lines": []}))
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    (folder / "tool_schemas.json").write_text(
        json.dumps(
            [
                {"type": "function", "function": {"name": n, "parameters": schema}}
                for n in ("log", "transfer")
            ]
        )
    )
    toy = TauTraitDomain(
        DomainTools(
            name="toy",
            tools={"log": log, "transfer": log},
            write_tools=frozenset({"log", "transfer"}),
            terminal_tools=frozenset({"transfer"}),
            load_data=lambda root: {"log": json.loads((root / "toy" / "log.json").read_text())},
        ),
        tmp_path,
    )
    gold = task([("log", {"text": "a"}), ("transfer", {"text": "b"})])
    assert gold_data(toy, gold) == {"log": {"lines": ["a"]}}
    env = toy.new_environment()
    env.execute("log", {"text": "a"})
    env.execute("transfer", {"text": "b"})  # the agent's own call does change the data
    assert evaluate_episode(toy, gold, env.data, [], "agent_stop").reward == 0.0


def test_every_telecom_test_task_replays(telecom: TauTraitDomain, tau_trait_data_dir: Path) -> None:
    """Gold replay runs for every task; tasks with write actions change the data."""
    initial = data_hash(telecom.fresh_data())
    for t in load_tasks(tau_trait_data_dir, "telecom"):
        changed = data_hash(gold_data(telecom, t)) != initial
        if changed:
            assert any(a.name in DOMAIN.write_tools for a in t.actions), t.id


def test_gold_hash_is_cached_per_actions(telecom: TauTraitDomain) -> None:
    gold = task([TICKET])
    first = gold_hash(telecom, gold)
    assert first == data_hash(gold_data(telecom, gold))
    assert first in telecom.gold_hashes.values()
    assert gold_hash(telecom, task([TICKET])) == first
    assert gold_hash(telecom, task([])) == data_hash(telecom.fresh_data())

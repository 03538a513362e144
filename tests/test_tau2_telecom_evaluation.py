"""Scoring telecom trajectories whose user makes tool calls (dual control), like upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fama.core.trajectory import MessageRecord
from fama.envs.tau2.db import clone
from fama.envs.tau2.environment import load_domain
from fama.envs.tau2.evaluation import evaluate_episode, trajectory_tool_calls
from fama.envs.tau2.tasks import GoldAction, Task, load_tasks
from fama.envs.tau2.telecom.domain import TelecomDomain

GREETING: MessageRecord = {"role": "assistant", "content": "Hi! How can I help you today?"}
STOP: MessageRecord = {"role": "user", "content": "It works now, thanks! ###STOP###"}


@pytest.fixture(scope="module")
def telecom(tau2_data_dir: Path) -> TelecomDomain:
    domain = load_domain("telecom", tau2_data_dir)
    assert isinstance(domain, TelecomDomain)
    return domain


@pytest.fixture(scope="module")
def base_tasks(tau2_data_dir: Path) -> list[Task]:
    return load_tasks("telecom", split="base", data_dir=tau2_data_dir)


def live_records(
    domain: TelecomDomain, task: Task, actions: list[GoldAction] | None = None
) -> list[MessageRecord]:
    """A live trajectory doing ``actions`` (default: the gold ones), each by its requestor.

    A user tool call is a user message with ``tool_calls``; its results are tool records with
    requestor "user" (the form the episode loop stores).
    """
    assert task.evaluation_criteria is not None
    env = domain.new_environment(task)
    records: list[MessageRecord] = [GREETING, {"role": "user", "content": "My phone is broken."}]
    chosen = task.evaluation_criteria.actions if actions is None else actions
    for index, action in enumerate(chosen):
        output = env.execute(action.name, clone(action.arguments), action.requestor)
        call_id = f"call_{index}"
        records.append(
            {
                "role": action.requestor,
                "content": "",
                "tool_calls": [{"id": call_id, "name": action.name, "arguments": action.arguments}],
            }
        )
        records.append(
            {
                "role": "tool",
                "content": output.content,
                "tool_call_id": call_id,
                "name": action.name,
                "requestor": action.requestor,
                "error": output.error,
            }
        )
    return [*records, {"role": "assistant", "content": "Please check again."}, STOP]


async def test_every_base_gold_trajectory_scores_one(
    telecom: TelecomDomain, base_tasks: list[Task]
) -> None:
    db_matches = 0
    for task in base_tasks:
        info = await evaluate_episode(
            telecom, task, live_records(telecom, task), "user_stop", judge=None
        )
        assert info.reward == 1.0, task.id
        assert info.components["ENV_ASSERTION"] == 1.0, task.id
        assert info.components["ACTION"] == 1.0, task.id
        db = info.details["DB"]
        assert db["replay_mismatches"] == [] and db["unknown_tools"] == [], task.id
        assert "gold_user_hash" in db
        db_matches += info.components["DB"] == 1.0
    # Spec §5: gold actions run without syncs leave a different user DB in 71 of 114 tasks;
    # DB is only a diagnostic in telecom (reward basis ENV_ASSERTION, sometimes ACTION).
    assert db_matches == 114 - 71


async def test_user_writes_are_replayed_and_a_missing_fix_fails(
    telecom: TelecomDomain, base_tasks: list[Task]
) -> None:
    task = base_tasks[0]
    assert task.evaluation_criteria is not None
    gold = task.evaluation_criteria.actions
    assert [(a.requestor, a.name) for a in gold] == [
        ("user", "toggle_airplane_mode"),
        ("user", "toggle_roaming"),
    ]
    records = live_records(telecom, task)
    calls = trajectory_tool_calls(records)
    assert [(c.requestor, c.name) for c in calls] == [
        ("user", "toggle_airplane_mode"),
        ("user", "toggle_roaming"),
    ]
    info = await evaluate_episode(telecom, task, records, "user_stop", judge=None)
    assert info.details["DB"]["replayed_writes"] == 2
    assert info.reward == 1.0

    partial = live_records(telecom, task, gold[:1])
    info = await evaluate_episode(telecom, task, partial, "user_stop", judge=None)
    assert info.reward == 0.0
    assert info.components["ENV_ASSERTION"] == 0.0
    met = [check["met"] for check in info.details["ENV_ASSERTION"]]
    assert met == [False, False]

    info = await evaluate_episode(telecom, task, records, "max_steps", judge=None)
    assert info.reward == 0.0 and info.components["ENV_ASSERTION"] == 1.0


async def test_action_tasks_need_the_transfer(
    telecom: TelecomDomain, base_tasks: list[Task]
) -> None:
    task = next(t for t in base_tasks if "ACTION" in (t.evaluation_criteria.reward_basis or []))  # type: ignore[union-attr]
    assert task.evaluation_criteria is not None
    gold = task.evaluation_criteria.actions
    assert gold[-1].name == "transfer_to_human_agents" and gold[-1].compare_args == []
    other_summary = gold[-1].model_copy(update={"arguments": {"summary": "another text"}})
    info = await evaluate_episode(
        telecom,
        task,
        live_records(telecom, task, [*gold[:-1], other_summary]),
        "user_stop",
        judge=None,
    )
    assert info.reward == 1.0 and info.components["ACTION"] == 1.0
    info = await evaluate_episode(
        telecom, task, live_records(telecom, task, gold[:-1]), "user_stop", judge=None
    )
    assert info.components["ACTION"] == 0.0 and info.reward == 0.0


async def test_hallucinated_user_tool_is_a_no_op(
    telecom: TelecomDomain, base_tasks: list[Task]
) -> None:
    task = base_tasks[0]
    records = live_records(telecom, task)
    bogus: list[MessageRecord] = [
        {
            "role": "user",
            "content": "",
            "tool_calls": [{"id": "x", "name": "fix_everything", "arguments": {}}],
        },
        {
            "role": "tool",
            "content": "Error: Tool 'fix_everything' not found.",
            "tool_call_id": "x",
            "name": "fix_everything",
            "requestor": "user",
            "error": True,
        },
    ]
    info = await evaluate_episode(
        telecom, task, [*records[:2], *bogus, *records[2:]], "user_stop", judge=None
    )
    assert info.details["DB"]["unknown_tools"] == ["fix_everything"]
    assert info.reward == 1.0


def _action(name: str, requestor: str, **arguments: Any) -> GoldAction:
    return GoldAction(action_id=name, requestor=requestor, name=name, arguments=arguments)  # type: ignore[arg-type]


async def test_payment_flow_crosses_sides(telecom: TelecomDomain, base_tasks: list[Task]) -> None:
    """The agent requests a payment, the user pays; sync marks the bill paid on replay too."""
    task = base_tasks[0]
    actions = [
        _action("send_payment_request", "assistant", customer_id="C1001", bill_id="B1002"),
        _action("check_payment_request", "user"),
        _action("make_payment", "user"),
    ]
    records = live_records(telecom, task, actions)
    assert records[5]["content"] == "You have a payment request for bill B1002 of 150.0 USD."
    env = telecom.new_environment(task)
    for action in actions:
        env.execute(action.name, clone(action.arguments), action.requestor)
    assert '"status": "Paid"' in env.execute("get_details_by_id", {"id": "B1002"}).content
    info = await evaluate_episode(telecom, task, records, "user_stop", judge=None)
    assert info.details["DB"]["predicted_hash"] == env.db_hash()
    assert info.details["DB"]["predicted_user_hash"] == env.user_db_hash()

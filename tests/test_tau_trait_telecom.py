"""tau-trait telecom tools (state changes, errors, partial writes) and the released trajectories.

The GPT-5 trajectories released with tau-trait are replayed through our tools: every tool
output must equal the recorded one and our reward must equal the recorded reward.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from fama.core.trajectory import MessageRecord, ToolCallRecord
from fama.envs.tau_trait.data import load_tasks
from fama.envs.tau_trait.reward import data_hash, evaluate_episode, gold_data
from fama.envs.tau_trait.runtime import TauTraitDomain, TauTraitEnvironment
from fama.envs.tau_trait.telecom import DOMAIN

TRAJECTORY_FILES = [
    "telecom_none",
    "impatience_telecom",
    "confusion_telecom",
    "skeptical_telecom",
    "incoherence_telecom",
]


@pytest.fixture(scope="module")
def telecom(tau_trait_data_dir: Path) -> TauTraitDomain:
    return TauTraitDomain(DOMAIN, tau_trait_data_dir)


@pytest.fixture
def env(telecom: TauTraitDomain) -> TauTraitEnvironment:
    return telecom.new_environment()


def run(env: TauTraitEnvironment, name: str, **args: Any) -> str:
    return env.execute(name, args).content


def test_lookups(env: TauTraitEnvironment) -> None:
    assert run(env, "find_customer_by_email", email="Sarah.Johnson@EMAIL.com") == (
        "sarah_johnson_5678"
    )
    assert run(env, "find_customer_by_email", email="x@y.z") == (
        "Error: No customer found with email address: x@y.z"
    )
    assert run(env, "find_customer_by_phone", phone="555.234.5678") == "lisa_chen_3456"
    assert run(env, "find_customer_by_phone", phone="(555) 123-3333") == (
        "Error: No customer found with phone number: (555) 123-3333"
    )
    details = json.loads(run(env, "get_customer_details", customer_id="lisa_chen_3456"))
    assert details["services"] == ["mobile_basic", "internet_cable_100mb"]
    assert run(env, "get_customer_details", customer_id="nobody") == (
        "Error: Customer not found: nobody"
    )
    assert json.loads(run(env, "get_service_details", service_id="tv_basic"))["price"] == 45.0
    assert run(env, "get_device_details", device_name="Nokia") == "Error: Device not found: Nokia"
    assert run(env, "get_billing_details", customer_id="x") == (
        "Error: No billing information found for customer: x"
    )
    assert json.loads(run(env, "get_support_ticket_details", ticket_id="TICKET002"))[
        "priority"
    ] == ("high")
    assert len(json.loads(run(env, "get_services"))) == 15


def test_calculators(env: TauTraitEnvironment) -> None:
    assert run(env, "get_senior_discount", original_price="95") == "90.00"
    assert run(env, "get_senior_discount", original_price="3") == "0.00"
    assert run(env, "get_senior_discount", original_price="abc") == (
        "Error: original_price must be a number"
    )
    assert run(env, "calculate", expression="(35 + 35) / 2") == "35.0"
    assert run(env, "calculate", expression="2 ** 3; x") == (
        "Error: invalid characters in expression"
    )
    assert run(env, "calculate", expression="1 / 0") == "Error: division by zero"
    assert run(env, "think", thought="hmm") == ""


def test_troubleshooting(env: TauTraitEnvironment) -> None:
    steps = run(env, "troubleshoot_device", device_name="iPhone 14", issue="battery_drain")
    assert steps.startswith("\nTroubleshooting steps: \n1) Restart device \n")
    router = run(env, "troubleshoot_device", device_name="WiFi 6 Router", issue="no_service")
    assert "3) Update firmware if available\n" in router
    assert run(env, "troubleshoot_device", device_name="WiFi 6 Router", issue="battery_drain") == (
        "Unknown issue"
    )
    assert run(env, "troubleshoot_device", device_name="iPhone 14", issue="overheating") == (
        "Error: 'overheating' is not a valid Issue"
    )
    assert run(env, "troubleshoot_device", device_name="Nokia", issue="no_service") == (
        "Error: Device not found: Nokia"
    )
    tv = "Conference Room TV"
    assert "Restart cable box" in run(
        env, "troubleshoot_device", device_name=tv, issue="no_service"
    )
    assert run(env, "troubleshoot_device", device_name=tv, issue="slow_speeds") == (
        "Error: NO_SIGNAL"
    )
    security = "Home Security System"
    assert run(env, "troubleshoot_device", device_name=security, issue="no_service") == (
        "Unknown issue"
    )


def test_manage_service_add_and_remove(env: TauTraitEnvironment) -> None:
    lisa = env.data["customers"]["lisa_chen_3456"]
    assert run(env, "add_device", customer_id="lisa_chen_3456", device_name="iPhone 15") == (
        "Success: Added device 'iPhone 15' to customer lisa_chen_3456"
    )
    assert lisa["devices"][-1] == {"device_id": "3", "name": "iPhone 15", "service": None}
    out = run(
        env,
        "manage_service",
        customer_id="lisa_chen_3456",
        action="add",
        service_id="mobile_unlimited",
        devices_ids=["3"],
    )
    assert out == "Success: Added service 'Unlimited Mobile Plan' to customer lisa_chen_3456"
    assert lisa["devices"][-1]["service"] == "mobile_unlimited"
    assert lisa["services"][-1] == "mobile_unlimited"
    assert env.data["billing"]["lisa_chen_3456"]["monthly_charges"]["mobile_unlimited"] == 85.0
    out = run(
        env,
        "manage_service",
        customer_id="lisa_chen_3456",
        action="remove",
        service_id="mobile_basic",
    )
    assert out == (
        "Success: Removed service 'Basic Mobile Plan' from customer lisa_chen_3456. "
        "Devices ['Samsung Galaxy A54'] are now no longer associated with the service."
    )
    assert "mobile_basic" not in env.data["billing"]["lisa_chen_3456"]["monthly_charges"]
    listed = json.loads(run(env, "manage_service", customer_id="lisa_chen_3456", action="list"))
    assert [s["service_id"] for s in listed["services"]] == [
        "internet_cable_100mb",
        "mobile_unlimited",
    ]


def test_manage_service_errors(env: TauTraitEnvironment) -> None:
    cid = "lisa_chen_3456"
    assert run(env, "manage_service", customer_id="x", action="list") == (
        "Error: Customer not found: x"
    )
    assert run(env, "manage_service", customer_id=cid, action="add") == (
        "Error: Service ID is required for action: add"
    )
    assert run(env, "manage_service", customer_id=cid, action="add", service_id="nope") == (
        "Error: Service not found: nope"
    )
    assert run(env, "manage_service", customer_id=cid, action="add", service_id="mobile_basic") == (
        "Error: Customer lisa_chen_3456 already has service: mobile_basic"
    )
    assert run(env, "manage_service", customer_id=cid, action="remove", service_id="tv_basic") == (
        "Error: Customer lisa_chen_3456 does not have service: tv_basic"
    )
    assert run(env, "manage_service", customer_id=cid, action="suspend", service_id="tv_basic") == (
        "Error: Invalid action: suspend. Valid actions are: add, remove, list"
    )


def test_manage_service_partial_writes(env: TauTraitEnvironment) -> None:
    lisa = env.data["customers"]["lisa_chen_3456"]
    out = run(
        env,
        "manage_service",
        customer_id="lisa_chen_3456",
        action="add",
        service_id="tv_basic",
        devices_ids=["2", "9"],
    )
    assert out.startswith("Error: Device not found: 9 in devices [{'device_id': '1'")
    assert lisa["devices"][1]["service"] == "tv_basic"  # re-linked before the bad id
    assert "tv_basic" not in lisa["services"]
    # robert is billed for internet_fiber_500mb, not the internet_fiber_1gb he has
    robert = env.data["customers"]["robert_wilson_7890"]
    out = run(
        env,
        "manage_service",
        customer_id="robert_wilson_7890",
        action="remove",
        service_id="internet_fiber_1gb",
    )
    assert out == "Error: 'internet_fiber_1gb'"
    assert "internet_fiber_1gb" not in robert["services"]
    assert robert["devices"][1]["service"] is None


def test_billing_payment_and_tickets(env: TauTraitEnvironment) -> None:
    billing = env.data["billing"]["lisa_chen_3456"]
    out = json.loads(
        run(
            env,
            "manage_billing",
            customer_id="lisa_chen_3456",
            paperless=False,
            auto_pay=True,
            billing_cycle="quarterly",
        )
    )
    assert out["billing"]["billing_cycle"] == "quarterly"
    assert (billing["paperless"], billing["billing_cycle"]) == (False, "quarterly")
    paid = run(
        env,
        "record_payment",
        customer_id="lisa_chen_3456",
        amount="200",
        method="credit_card",
        date="2025-09-18",
    )
    assert json.loads(paid) == {
        "customer_id": "lisa_chen_3456",
        "amount": "200.00",
        "method": "credit_card",
        "date": "2025-09-18",
        "current_balance": "0.00",
    }
    assert billing["payment_history"][-1] == {
        "date": "2025-09-18",
        "amount": 200.0,
        "status": "completed",
    }
    assert billing["last_payment"]["method"] == "credit_card"
    assert run(
        env, "record_payment", customer_id="lisa_chen_3456", amount="x", method="m", date="d"
    ) == ("Error: amount must be a number")
    created = run(env, "create_support_ticket", customer_id="lisa_chen_3456", category="billing")
    assert created == "Success: Created support ticket TICKET003 for customer lisa_chen_3456"
    assert env.data["support_tickets"]["TICKET003"]["priority"] == "medium"
    assert run(
        env, "create_support_ticket", customer_id="lisa_chen_3456", category="food"
    ).startswith("Error: Invalid category: food. Valid categories: mobile, internet, tv,")
    assert run(
        env,
        "create_support_ticket",
        customer_id="lisa_chen_3456",
        category="tv",
        priority="asap",
    ) == ("Error: Invalid priority: asap. Valid priorities: low, medium, high, urgent")
    assert run(
        env, "modify_support_ticket", ticket_id="TICKET003", status="closed", priority="whatever"
    ) == ("Success: Modified support ticket TICKET003 with status closed and priority whatever")
    assert env.data["support_tickets"]["TICKET003"]["priority"] == "whatever"
    assert run(env, "add_device", customer_id="lisa_chen_3456", device_name="Nokia") == (
        "Error: Invalid device name: Nokia"
    )


def _replay(
    telecom: TauTraitDomain, traj: list[dict[str, Any]]
) -> tuple[TauTraitEnvironment, list[MessageRecord], int]:
    """Run the recorded agent tool calls; return the env, records and output mismatches."""
    env = telecom.new_environment()
    records: list[MessageRecord] = []
    outputs: dict[str, str] = {}
    mismatches = 0
    for message in traj:
        if message["role"] == "assistant":
            calls: list[ToolCallRecord] = [
                {
                    "id": c["id"],
                    "name": c["function"]["name"],
                    "arguments": json.loads(c["function"]["arguments"]),
                }
                for c in message.get("tool_calls") or []
            ]
            records.append(
                {"role": "assistant", "content": message.get("content") or "", "tool_calls": calls}
            )
            for call in calls:
                outputs[call["id"]] = env.execute(call["name"], call["arguments"]).content
        elif message["role"] == "tool":
            mismatches += outputs.get(message["tool_call_id"]) != message["content"]
        elif message["role"] == "user":
            records.append({"role": "user", "content": message["content"]})
    return env, records, mismatches


@pytest.mark.parametrize("name", TRAJECTORY_FILES)
def test_released_gpt5_trajectories_score_identically(
    name: str, telecom: TauTraitDomain, tau_trait_data_dir: Path
) -> None:
    path = tau_trait_data_dir / "trajectories_gpt5" / f"{name}.json.gz"
    if not path.exists():
        pytest.skip(f"{path} not available")
    tasks = load_tasks(tau_trait_data_dir, "telecom")
    episodes = json.loads(gzip.decompress(path.read_bytes()))
    assert len(episodes) == len(tasks) == 18
    agree = 0
    for episode in episodes:
        task = tasks[episode["task_id"]]
        env, records, mismatches = _replay(telecom, episode["traj"])
        assert mismatches == 0, f"task {episode['task_id']}: tool outputs differ"
        stopped = "###STOP###" in episode["traj"][-1]["content"]
        info = evaluate_episode(
            telecom, task, env.data, records, "user_stop" if stopped else "max_steps"
        )
        assert (episode["info"].get("reward_info") is not None) == stopped
        agree += info.reward == episode["reward"]
        recorded = episode["info"].get("reward_info") or {}
        if "gt_data_hash" in recorded.get("info", {}):
            assert info.details["gt_data_hash"] == recorded["info"]["gt_data_hash"]
    assert agree == len(episodes)


def test_gold_replay_skips_retired_tools(telecom: TauTraitDomain, tau_trait_data_dir: Path) -> None:
    """Task test-2 lists the retired ``manage_devices``: an unknown action, a no-op."""
    task = load_tasks(tau_trait_data_dir, "telecom", task_ids=["test-2"])[0]
    assert "manage_devices" in [a.name for a in task.actions]
    env = telecom.new_environment()
    run(env, "add_device", customer_id="lisa_chen_3456", device_name="iPhone 15")
    assert run(env, "manage_devices", customer_id="lisa_chen_3456", action="list") == (
        "Unknown action manage_devices"
    )
    run(
        env,
        "manage_service",
        customer_id="lisa_chen_3456",
        action="add",
        service_id="mobile_unlimited",
        devices_ids=["3"],
    )
    assert data_hash(env.data) == data_hash(gold_data(telecom, task))

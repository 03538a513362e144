"""tau2 telecom: DBs and hashes, agent and user tools, sync, setup actions, assertions, prompts.

Expected strings and hashes were checked against upstream's telecom code (tau2-bench, MIT).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fama.core.env import ToolEnvironment, ToolOutput
from fama.envs.tau2.db import clone
from fama.envs.tau2.environment import DOMAIN_NAMES, Tau2Domain, load_domain
from fama.envs.tau2.evaluation import env_assertion_checks
from fama.envs.tau2.replay import replay_all, replay_gold
from fama.envs.tau2.tasks import Task, load_tasks
from fama.envs.tau2.telecom.agent_tools import TelecomTools
from fama.envs.tau2.telecom.domain import TelecomDomain, TelecomEnvironment
from fama.envs.tau2.telecom.models import read_toml
from fama.envs.tau2.user_scenario import load_user_guidelines, render_user_system_prompt
from fama.prompts.registry import load_prompt

AGENT_INITIAL_HASH = "304cf5ef059852e117ea801ab9a5efc24c9713ec887679dc2e30acceb4b6742d"
USER_INITIAL_HASH = "e1f3a8637388808221228ff3f87294444e6b64caf721f5eb243a85d0a9380b28"
BAR_5G = "Status Bar: \U0001f4f6\u2074 Excellent | 5G | \U0001f4f1 Data Enabled | \U0001f50b 80%"

AGENT_TOOLS = {
    "read": [
        "get_customer_by_phone",
        "get_customer_by_id",
        "get_customer_by_name",
        "get_details_by_id",
        "get_bills_for_customer",
        "get_data_usage",
    ],
    "write": [
        "suspend_line",
        "resume_line",
        "send_payment_request",
        "enable_roaming",
        "disable_roaming",
        "refuel_data",
    ],
    "generic": ["transfer_to_human_agents"],
}
USER_WRITE_TOOLS = {
    "toggle_airplane_mode",
    "toggle_data",
    "toggle_roaming",
    "toggle_data_saver_mode",
    "toggle_wifi",
    "toggle_wifi_calling",
    "set_network_mode_preference",
    "set_apn_settings",
    "reset_apn_settings",
    "reseat_sim_card",
    "reboot_device",
    "connect_vpn",
    "disconnect_vpn",
    "grant_app_permission",
    "make_payment",
}


@pytest.fixture(scope="module")
def telecom(tau2_data_dir: Path) -> TelecomDomain:
    domain = load_domain("telecom", tau2_data_dir)
    assert isinstance(domain, TelecomDomain)
    return domain


@pytest.fixture(scope="module")
def base_tasks(tau2_data_dir: Path) -> list[Task]:
    return load_tasks("telecom", split="base", data_dir=tau2_data_dir)


@pytest.fixture
def env(telecom: TelecomDomain) -> TelecomEnvironment:
    environment = telecom.new_environment()
    assert isinstance(environment, TelecomEnvironment)
    return environment


def john(env: TelecomEnvironment, *, abroad: bool = False) -> TelecomEnvironment:
    """The user of every shipped task: John Smith, line L1002 (customer C1001)."""
    env.user_toolkit.set_user_info("John Smith", "555-123-2002")
    env.user_toolkit.set_user_location(abroad)
    env.sync()
    return env


def ok(env: TelecomEnvironment, name: str, requestor: str = "assistant", **args: Any) -> str:
    output = env.execute(name, args, requestor)
    assert not output.error, output.content
    return output.content


def fail(env: TelecomEnvironment, name: str, requestor: str = "assistant", **args: Any) -> str:
    output = env.execute(name, args, requestor)
    assert output.error
    return output.content


def user_action(func_name: str, **arguments: Any) -> dict[str, Any]:
    return {"env_type": "user", "func_name": func_name, "arguments": arguments}


def task_with(actions: list[dict[str, Any]], data: dict[str, Any] | None = None) -> Task:
    return Task.model_validate(
        {
            "id": "t",
            "user_scenario": {"instructions": "x"},
            "initial_state": {"initialization_data": data, "initialization_actions": actions},
        }
    )


# -- domain, registry, DBs --------------------------------------------------------------------


def test_registry_policy_and_initial_hashes(telecom: TelecomDomain, tau2_data_dir: Path) -> None:
    assert "telecom" in DOMAIN_NAMES
    assert load_domain("telecom", tau2_data_dir) is telecom
    folder = tau2_data_dir / "domains" / "telecom"
    main = (folder / "main_policy.md").read_text()
    manual = (folder / "tech_support_manual.md").read_text()
    assert telecom.policy == (
        f"<main_policy>\n{main}\n</main_policy>\n"
        f"<tech_support_policy>\n{manual}\n</tech_support_policy>"
    )
    env = telecom.new_environment()
    assert env.db_hash() == AGENT_INITIAL_HASH
    assert env.user_db_hash() == USER_INITIAL_HASH
    assert telecom.has_user_tools
    tool_env: ToolEnvironment = env  # checked by mypy
    assert tool_env.policy == telecom.policy


def test_agent_system_prompt_is_byte_exact(telecom: TelecomDomain, tau2_prompts_dir: Path) -> None:
    expected = (tau2_prompts_dir / "telecom_agent_system_prompt.txt").read_text()
    assert load_prompt("tau2_agent", "v1").render(policy=telecom.policy) == expected


def test_user_system_prompt_is_byte_exact(
    base_tasks: list[Task], tau2_data_dir: Path, tau2_prompts_dir: Path
) -> None:
    expected = (tau2_prompts_dir / "telecom_user_system_prompt_first_base_task.txt").read_text()
    guidelines = load_user_guidelines(tau2_data_dir, with_tools=True)
    assert render_user_system_prompt(base_tasks[0], guidelines) == expected
    persona_task = next(t for t in base_tasks if t.user_scenario.persona)
    prompt = render_user_system_prompt(persona_task, guidelines)
    first_line = persona_task.user_scenario.persona.strip().splitlines()[0]  # type: ignore[union-attr]
    assert f"<scenario>\nPersona:\n\n\t{first_line}" in prompt


def test_tasks_and_splits(base_tasks: list[Task], tau2_data_dir: Path) -> None:
    splits = json.loads((tau2_data_dir / "domains/telecom/split_tasks.json").read_text())
    assert {name: len(ids) for name, ids in splits.items()} == {
        "small": 20,
        "train": 74,
        "test": 40,
        "full": 2285,
        "base": 114,
    }
    assert len(base_tasks) == 114
    assert {t.id for t in base_tasks} == set(splits["base"])
    bases = [t.evaluation_criteria.reward_basis for t in base_tasks if t.evaluation_criteria]
    assert bases.count(["ENV_ASSERTION"]) == 94 and bases.count(["ENV_ASSERTION", "ACTION"]) == 20
    personas = {t.id.rsplit("[PERSONA:", 1)[1][:-1] for t in base_tasks}
    assert personas == {"None", "Easy", "Hard"}


def test_corrupt_db_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "db.toml"
    bad.write_text("plans = [")
    with pytest.raises(ValueError, match="cannot read telecom DB"):
        read_toml(bad)
    with pytest.raises(FileNotFoundError, match="telecom DB file missing"):
        read_toml(tmp_path / "missing.toml")


# -- schemas ----------------------------------------------------------------------------------


def test_tool_kinds_and_schemas(telecom: TelecomDomain) -> None:
    kinds = TelecomTools.tool_kinds()
    assert {kind: [n for n, k in kinds.items() if k == kind] for kind in AGENT_TOOLS} == (
        AGENT_TOOLS
    )
    user_kinds = telecom.user_tool_kinds
    assert len(user_kinds) == 30
    assert {n for n, k in user_kinds.items() if k == "write"} == USER_WRITE_TOOLS
    assert set(user_kinds.values()) == {"read", "write"}
    assert not set(kinds) & set(user_kinds)
    # Spec §9: the schemas serialise to 6.8k (agent) and 10.8k (user) characters.
    assert len(json.dumps(TelecomTools.openai_schemas())) == 6839
    assert len(json.dumps(telecom.user_openai_schemas())) == 10823
    by_name = {s["function"]["name"]: s["function"] for s in telecom.user_openai_schemas()}
    assert by_name["toggle_airplane_mode"]["description"] == (
        "Toggles Airplane Mode ON or OFF. When ON, it disconnects all wireless communications "
        "including cellular, Wi-Fi, and Bluetooth.\n\nReturns the new state of airplane_mode."
    )
    mode = by_name["set_network_mode_preference"]["parameters"]
    assert mode["properties"]["mode"]["anyOf"][1] == {"type": "string"}
    assert mode["$defs"]["NetworkModePreference"]["enum"] == [
        "4g_5g_preferred",
        "4g_only",
        "3g_only",
        "2g_only",
    ]
    apn = by_name["set_apn_settings"]["parameters"]["$defs"]["APNSettings"]
    assert apn["description"] == (
        "Represents the configuration for a single Access Point Name (APN)."
    )
    assert apn["additionalProperties"] is False


def test_user_tools_are_schema_only_langchain_tools(env: TelecomEnvironment) -> None:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    tools = env.user_tools()
    assert [t.name for t in tools] == list(env.domain.user_tool_kinds)
    converted = {convert_to_openai_tool(t)["function"]["name"] for t in tools}
    assert converted == set(env.domain.user_tool_kinds)
    assert [t.name for t in env.agent_tools()] == list(TelecomTools.tool_kinds())
    assert env.tool_kind("toggle_data") is None and env.user_tool_kind("toggle_data") == "write"
    assert env.tool_kind("refuel_data") == "write" and env.user_tool_kind("refuel_data") is None


# -- agent tools ------------------------------------------------------------------------------


def test_agent_lookups(env: TelecomEnvironment) -> None:
    customer = json.loads(ok(env, "get_customer_by_phone", phone_number="555-123-2002"))
    assert customer["customer_id"] == "C1001"
    assert customer["created_at"] == "2025-01-15 10:30:00"
    assert list(customer)[:4] == ["customer_id", "full_name", "date_of_birth", "email"]
    by_line = json.loads(ok(env, "get_customer_by_phone", phone_number="(555) 123 2005"))
    assert by_line["customer_id"] == "C1002"
    assert fail(env, "get_customer_by_phone", phone_number="000") == (
        "Error: Customer with phone number 000 not found"
    )
    found = json.loads(ok(env, "get_customer_by_name", full_name="john SMITH", dob="1985-06-15"))
    assert [c["customer_id"] for c in found] == ["C1001"]
    assert ok(env, "get_customer_by_name", full_name="nobody", dob="x") == "[]"
    assert fail(env, "get_customer_by_id", customer_id="C9") == (
        "Error: Customer with ID C9 not found"
    )
    assert fail(env, "get_customer_by_id") == (
        "Error: TelecomTools.get_customer_by_id() missing 1 required positional argument: "
        "'customer_id'"
    )
    assert ok(env, "get_details_by_id", id="L1002") == (
        '{"line_id": "L1002", "phone_number": "555-123-2002", "status": "Active", '
        '"plan_id": "P1002", "device_id": "D1002", "data_used_gb": 8.7, '
        '"data_refueling_gb": 0.0, "roaming_enabled": true, "contract_end_date": "2026-12-31", '
        '"last_plan_change_date": "2024-12-15", "last_sim_replacement_date": "2025-01-20", '
        '"suspension_start_date": null}'
    )
    device = json.loads(ok(env, "get_details_by_id", id="D1002"))
    assert device["last_esim_transfer_date"] == "2025-01-20 09:30:00"
    assert json.loads(ok(env, "get_details_by_id", id="P1005"))["name"] == "IoT Basic"
    assert fail(env, "get_details_by_id", id="X1") == "Error: Unknown ID format or type: X1"
    assert fail(env, "get_details_by_id", id="B9") == "Error: Bill with ID B9 not found"
    bills = json.loads(ok(env, "get_bills_for_customer", customer_id="C1001"))
    assert [b["bill_id"] for b in bills] == ["B1003", "B1002", "B1001"]
    one = json.loads(ok(env, "get_bills_for_customer", customer_id="C1002", limit=1))
    assert [b["bill_id"] for b in one] == ["B1005"]
    assert ok(env, "get_data_usage", customer_id="C1001", line_id="L1002") == (
        '{"line_id": "L1002", "data_used_gb": "8.7", "data_limit_gb": "15.0", '
        '"data_refueling_gb": "0.0", "cycle_end_date": "2025-02-28"}'
    )
    assert fail(env, "get_data_usage", customer_id="C1001", line_id="L1004") == (
        "Error: Line L1004 not found for customer C1001"
    )
    assert ok(env, "transfer_to_human_agents", summary="s") == "Transfer successful"
    assert env.db_hash() == AGENT_INITIAL_HASH


def test_agent_line_and_roaming_writes(env: TelecomEnvironment) -> None:
    suspended = json.loads(
        ok(env, "suspend_line", customer_id="C1001", line_id="L1001", reason="x")
    )
    assert suspended["message"] == "Line suspended successfully. $5/month holding fee will apply."
    assert suspended["line"]["status"] == "Suspended"
    assert suspended["line"]["suspension_start_date"] == "2025-02-25"
    assert fail(env, "suspend_line", customer_id="C1001", line_id="L1001", reason="x") == (
        "Error: Line must be active to suspend"
    )
    resumed = json.loads(ok(env, "resume_line", customer_id="C1001", line_id="L1001"))
    assert resumed["message"] == "Line resumed successfully"
    assert resumed["line"]["suspension_start_date"] is None
    assert fail(env, "resume_line", customer_id="C1001", line_id="L1002") == (
        "Error: Line must be suspended to resume"
    )
    assert ok(env, "enable_roaming", customer_id="C1001", line_id="L1002") == (
        "Roaming was already enabled"
    )
    assert ok(env, "disable_roaming", customer_id="C1001", line_id="L1002") == (
        "Roaming disabled successfully"
    )
    assert ok(env, "disable_roaming", customer_id="C1001", line_id="L1002") == (
        "Roaming was already disabled"
    )
    assert ok(env, "enable_roaming", customer_id="C1001", line_id="L1002") == (
        "Roaming enabled successfully"
    )
    # the base document is untouched: a fresh environment starts from the initial DB
    assert env.domain.new_environment().db_hash() == AGENT_INITIAL_HASH


def test_refuel_and_payment_request(env: TelecomEnvironment) -> None:
    assert ok(env, "refuel_data", customer_id="C1001", line_id="L1002", gb_amount=2.0) == (
        '{"message": "Successfully added 2.0 GB of data for line L1002 for $4.00", '
        '"new_data_refueling_gb": "2.0", "charge": "4.0"}'
    )
    draft = json.loads(ok(env, "get_details_by_id", id="B1003"))
    assert draft["total_due"] == 4.0
    assert draft["line_items"] == [
        {
            "description": "Data refueling: 2.0 GB at $2.0/GB",
            "amount": 4.0,
            "date": "2025-02-25",
            "item_type": "Charge",
        }
    ]
    assert fail(env, "refuel_data", customer_id="C1001", line_id="L1002", gb_amount=0) == (
        "Error: Refuel amount must be positive"
    )
    # a customer without a draft bill gets a new one (deterministic id: "B" + 8 hex digits)
    ok(env, "refuel_data", customer_id="C1002", line_id="L1004", gb_amount=1)
    customer = json.loads(ok(env, "get_customer_by_id", customer_id="C1002"))
    new_id = customer["bill_ids"][-1]
    assert len(customer["bill_ids"]) == 3 and len(new_id) == 9 and new_id.startswith("B")
    new_bill = json.loads(ok(env, "get_details_by_id", id=new_id))
    assert (new_bill["period_start"], new_bill["period_end"], new_bill["due_date"]) == (
        "2025-03-01",
        "2025-03-31",
        "2025-03-15",
    )
    assert new_bill["total_due"] == 0.1 and new_bill["status"] == "Draft"
    again = telecom_env_like(env)
    ok(again, "refuel_data", customer_id="C1002", line_id="L1004", gb_amount=1)
    assert again.db_hash() == env.db_hash()

    assert ok(env, "send_payment_request", customer_id="C1001", bill_id="B1002") == (
        "Payment request sent to the customer for bill B1002"
    )
    assert fail(env, "send_payment_request", customer_id="C1001", bill_id="B1001") == (
        "Error: A bill is already awaiting payment for this customer"
    )
    assert fail(env, "send_payment_request", customer_id="C1002", bill_id="B1001") == (
        "Error: Bill B1001 not found for customer C1002"
    )


def telecom_env_like(env: TelecomEnvironment) -> TelecomEnvironment:
    """A fresh environment of the same domain, with the first refuel of the test replayed."""
    fresh = env.domain.new_environment()
    assert isinstance(fresh, TelecomEnvironment)
    ok(fresh, "refuel_data", customer_id="C1001", line_id="L1002", gb_amount=2.0)
    return fresh


# -- user tools -------------------------------------------------------------------------------


def test_phone_status_tools(env: TelecomEnvironment) -> None:
    assert ok(env, "check_status_bar", "user") == (
        "Status Bar: \U0001f4f6\xb3 Good | 5G | \U0001f4f1 Data Enabled | \U0001f50b 80%"
    )
    assert ok(env, "check_network_status", "user") == (
        "Airplane Mode: OFF\nSIM Card Status: active\nCellular Connection: connected\n"
        "Cellular Signal: good\nCellular Network Type: 5G\nMobile Data Enabled: Yes\n"
        "Data Roaming Enabled: No\nWi-Fi Radio: OFF\nWi-Fi Connected: No"
    )
    assert ok(env, "run_speed_test", "user") == (
        "Speed Test Result: 220.00 Mbps (Excellent). Connection is very fast."
    )
    assert ok(env, "check_network_mode_preference", "user") == (
        "Network Mode Preference: 4g_5g_preferred"
    )
    assert ok(env, "check_sim_status", "user") == "Your SIM card is active and working."
    assert ok(env, "check_data_restriction_status", "user") == "Data Saver mode is OFF."
    assert ok(env, "check_wifi_status", "user") == "Wi-Fi is turned OFF."
    assert ok(env, "check_wifi_calling_status", "user") == "Wi-Fi Calling is currently turned OFF."
    assert ok(env, "check_vpn_status", "user") == "VPN is turned OFF."
    assert ok(env, "check_installed_apps", "user") == (
        "The following apps are installed on the phone: messaging, browser"
    )
    assert ok(env, "check_app_status", "user", app_name="messaging") == (
        "Status for App: messaging\n - Permissions Granted:\n   - sms\n   - storage\n   - phone"
    )
    assert ok(env, "check_app_permissions", "user", app_name="browser") == (
        "App 'browser' has permission for: storage, network."
    )
    assert ok(env, "check_app_permissions", "user", app_name="camera") == (
        "App 'camera' not found on this phone."
    )
    assert ok(env, "can_send_mms", "user") == "Your messaging app can send MMS messages."
    assert ok(env, "check_apn_settings", "user") == (
        "Current APN Name: internet\nMMSC URL (for picture messages): "
        "http://mms.carrier.com/mms/wapenc\n(These are technical settings, usually best left "
        "unchanged.)"
    )
    assert fail(env, "check_status_bar") == "Error: Tool 'check_status_bar' not found."
    assert fail(env, "refuel_data", "user") == "Error: Tool 'refuel_data' not found."
    assert env.user_db_hash() == USER_INITIAL_HASH


def test_phone_toggles_and_network_search(env: TelecomEnvironment) -> None:
    assert ok(env, "toggle_airplane_mode", "user") == (
        "Airplane Mode is now ON.\nStatus Bar: \u2708\ufe0f Airplane Mode | \U0001f50b 80%"
    )
    assert ok(env, "toggle_wifi", "user") == (
        "Cannot change Wi-Fi settings while Airplane Mode is ON.\n"
        "Status Bar: \u2708\ufe0f Airplane Mode | \U0001f50b 80%"
    )
    assert ok(env, "run_speed_test", "user") == "Speed test failed: No Connection."
    assert ok(env, "toggle_airplane_mode", "user") == f"Airplane Mode is now OFF.\n{BAR_5G}"
    assert ok(env, "set_network_mode_preference", "user", mode="3g_only") == (
        "Preferred Network Mode set to: 3g_only\n"
        "Status Bar: \U0001f4f6\xb2 Fair | 3G | \U0001f4f1 Data Enabled | \U0001f50b 80%"
    )
    assert ok(env, "run_speed_test", "user") == (
        "Speed Test Result: 1.50 Mbps (Poor). Connection is slow. Web browsing may be "
        "sluggish, streaming difficult."
    )
    assert ok(env, "set_network_mode_preference", "user", mode="5g").startswith(
        "Failed to set network mode: '5g' is not a valid option. Please use one of: "
        "4g_5g_preferred, 4g_only, 3g_only, 2g_only\nStatus Bar: "
    )
    ok(env, "set_network_mode_preference", "user", mode="2g_only")
    assert ok(env, "can_send_mms", "user") == "Your messaging app cannot send MMS messages."
    ok(env, "set_network_mode_preference", "user", mode="4g_5g_preferred")
    assert ok(env, "toggle_data", "user") == (
        "Mobile Data is now OFF.\n"
        "Status Bar: \U0001f4f6\u2074 Excellent | 5G | \U0001f4f5 Data Disabled | \U0001f50b 80%"
    )
    ok(env, "toggle_data", "user")
    assert ok(env, "toggle_data_saver_mode", "user") == (
        "Data Saver Mode is now ON.\nStatus Bar: \U0001f4f6\u2074 Excellent | 5G | "
        "\U0001f4f1 Data Enabled | \U0001f53d Data Saver | \U0001f50b 80%"
    )
    assert ok(env, "run_speed_test", "user").startswith("Speed Test Result: 55.00 Mbps (Good).")
    assert ok(env, "toggle_wifi", "user").startswith("Wi-Fi is now ON.")
    assert ok(env, "check_wifi_status", "user") == "Wi-Fi is ON but not connected to any network."
    assert ok(env, "toggle_wifi_calling", "user").startswith("Wi-Fi Calling is now ON.")
    assert ok(env, "toggle_roaming", "user").startswith("Data Roaming is now ON.")


def test_sim_apn_vpn_apps_and_reboot(env: TelecomEnvironment) -> None:
    phone = env.user_toolkit
    assert phone.unseat_sim_card() == "SIM card un-seated successfully."
    assert ok(env, "check_sim_status", "user") == "No SIM card detected in the phone."
    assert ok(env, "reseat_sim_card", "user") == f"SIM card re-seated successfully.\n{BAR_5G}"
    assert phone.break_apn_settings().startswith("APN settings broken.")
    assert ok(env, "check_network_status", "user").startswith(
        "Airplane Mode: OFF\nSIM Card Status: active\nCellular Connection: no_service"
    )
    assert ok(env, "reset_apn_settings", "user").startswith("APN settings will reset at reboot.")
    assert ok(env, "reboot_device", "user") == (
        f"Resetting APN settings...\nRestarting network services...\n{BAR_5G}"
    )
    assert ok(env, "set_apn_settings", "user", apn_settings={"mmsc_url": None}).startswith(
        "APN settings set to: internet\n"
    )
    assert ok(env, "can_send_mms", "user") == "Your messaging app cannot send MMS messages."
    assert "validation error for APNSettings" in fail(
        env, "set_apn_settings", "user", apn_settings={"apn_name": "x"}
    )
    assert phone.break_vpn() == "VPN connection broken."
    assert ok(env, "check_vpn_status", "user") == (
        "VPN is ON and connected. Details: {'server_address': '192.168.1.1', 'protocol': "
        "'OpenVPN', 'server_performance': <PerformanceLevel.POOR: 'poor'>}"
    )
    assert ok(env, "run_speed_test", "user").startswith("Speed Test Result: 27.50 Mbps (Good).")
    assert ok(env, "connect_vpn", "user") == "VPN already connected."
    assert ok(env, "disconnect_vpn", "user").startswith("VPN disconnected successfully.\n")
    assert ok(env, "connect_vpn", "user").startswith("VPN connected successfully.\n")
    assert "'server_performance': <PerformanceLevel.EXCELLENT: 'excellent'>" in ok(
        env, "check_vpn_status", "user"
    )
    assert phone.remove_app_permission("messaging", "SMS") == (
        True,
        "Permission 'sms' removed from app 'messaging'.",
    )
    assert ok(env, "grant_app_permission", "user", app_name="browser", permission="camera") == (
        "Error. Permission 'camera' not tracked for app 'browser', available permissions: "
        "['sms', 'storage', 'phone', 'network']\nStatus Bar: \U0001f4f6\u2074 Excellent | 5G | "
        "\U0001f4f1 Data Enabled | \U0001f512 VPN Connected | \U0001f50b 80%"
    )
    assert ok(
        env, "grant_app_permission", "user", app_name="messaging", permission="sms"
    ).startswith("Success. Permission 'sms' granted to app 'messaging'.\n")
    assert fail(env, "grant_app_permission", "user", app_name="messaging") == (
        "Error: TelecomUserTools.grant_app_permission() missing 1 required positional argument: "
        "'permission'"
    )


# -- sync, setup actions, assertions ----------------------------------------------------------


def test_sync_copies_line_roaming_data_limit_and_payments(env: TelecomEnvironment) -> None:
    phone = john(env, abroad=True).user_toolkit
    assert phone.surrounding("roaming_allowed") is True
    assert phone.surrounding("line_active") is True
    ok(env, "disable_roaming", customer_id="C1001", line_id="L1002")
    assert phone.surrounding("roaming_allowed") is False
    ok(env, "toggle_roaming", "user")
    assert phone.assert_mobile_data_status(False)
    ok(env, "enable_roaming", customer_id="C1001", line_id="L1002")
    assert phone.assert_mobile_data_status(True)

    env.agent_toolkit.set_data_usage("C1001", "L1002", 15.1)
    env.sync()
    assert phone.surrounding("mobile_data_usage_exceeded") is True
    ok(env, "refuel_data", customer_id="C1001", line_id="L1002", gb_amount=2.0)
    assert phone.surrounding("mobile_data_usage_exceeded") is False

    ok(env, "suspend_line", customer_id="C1001", line_id="L1002", reason="x")
    assert phone.surrounding("line_active") is False
    ok(env, "reboot_device", "user")
    assert ok(env, "check_network_status", "user").splitlines()[2] == (
        "Cellular Connection: no_service"
    )

    assert ok(env, "check_payment_request", "user") == "No payment request has been made."
    assert ok(env, "make_payment", "user") == "You do not have a payment request."
    ok(env, "send_payment_request", customer_id="C1001", bill_id="B1002")
    assert ok(env, "check_payment_request", "user") == (
        "You have a payment request for bill B1002 of 150.0 USD."
    )
    assert ok(env, "make_payment", "user") == "Payment of 150.0 USD has been made for bill B1002."
    assert json.loads(ok(env, "get_details_by_id", id="B1002"))["status"] == "Paid"
    assert phone.surrounding("payment_request") is None


def test_dispatch_does_not_sync_but_execute_does(env: TelecomEnvironment) -> None:
    phone = john(env).user_toolkit
    assert not env.dispatch(
        "suspend_line", {"customer_id": "C1001", "line_id": "L1002", "reason": "x"}
    ).error
    assert phone.surrounding("line_active") is True
    env.sync()
    assert phone.surrounding("line_active") is False


def test_failing_sync_turns_the_output_into_an_error(env: TelecomEnvironment) -> None:
    env.user_toolkit.set_user_info("Nobody", "555-000-0000")
    assert env.execute("check_sim_status", {}, "user") == ToolOutput(
        "Error: Line with phone number 555-000-0000 not found", error=True
    )


def test_initialization_actions_on_both_sides(telecom: TelecomDomain) -> None:
    overdue = {
        "customer_id": "C1001",
        "line_id": "L1002",
        "new_bill_id": "B1234321",
        "contract_ended": True,
    }
    actions = [
        user_action("set_user_info", name="John Smith", phone_number="555-123-2002"),
        user_action("turn_airplane_mode_on"),
        user_action("lock_sim_card", mode="pin"),
        {
            "env_type": "assistant",
            "func_name": "suspend_line_for_overdue_bill",
            "arguments": overdue,
        },
    ]
    env = telecom.new_environment(task_with(actions))
    assert isinstance(env, TelecomEnvironment)
    bill = json.loads(ok(env, "get_details_by_id", id="B1234321"))
    assert (bill["status"], bill["total_due"], bill["period_start"]) == (
        "Overdue",
        65.0,
        "2025-01-01",
    )
    assert bill["line_items"][0]["description"] == "Charge for line L1002"
    line = json.loads(ok(env, "get_details_by_id", id="L1002"))
    assert (line["status"], line["contract_end_date"]) == ("Suspended", "2025-01-31")
    assert env.user_toolkit.surrounding("line_active") is False
    assert ok(env, "check_sim_status", "user") == "The SIM card is locked with a PIN code."
    assert env.agent_toolkit.assert_overdue_bill_exists("C1001", "B1234321") is True
    with pytest.raises(ValueError, match="Bill B1234321 already exists"):
        env.agent_toolkit.suspend_line_for_overdue_bill("C1001", "L1001", "B1234321", False)
    with pytest.raises(ValueError, match="initialization action 'nope' is not a method"):
        telecom.new_environment(task_with([{"env_type": "user", "func_name": "nope"}]))
    bad_line = {**overdue, "line_id": "L9"}
    failing = {
        "env_type": "assistant",
        "func_name": "suspend_line_for_overdue_bill",
        "arguments": bad_line,
    }
    with pytest.raises(ValueError, match="'suspend_line_for_overdue_bill' failed: Line with ID"):
        telecom.new_environment(task_with([failing]))


def test_initialization_data_merges_into_both_dbs(telecom: TelecomDomain) -> None:
    plan = {
        "plan_id": "P9",
        "name": "Only",
        "data_limit_gb": 1,
        "price_per_month": 1,
        "data_refueling_price_per_gb": 1,
    }
    data = {
        "user_data": {"device": {"battery_level": 15, "active_apn_settings": {"mms_apn": "x"}}},
        "agent_data": {"plans": [plan]},
    }
    env = telecom.new_environment(task_with([], data))
    assert isinstance(env, TelecomEnvironment)
    assert ok(env, "check_status_bar", "user").endswith("\U0001f50b 15%")
    assert env.user_toolkit.db.get("device", "active_apn_settings")["mmsc_url"] is not None
    loaded = json.loads(ok(env, "get_details_by_id", id="P9"))
    assert loaded["data_limit_gb"] == 1.0  # re-validated: the typed model's float
    assert fail(env, "get_details_by_id", id="P1001") == "Error: Plan with ID P1001 not found"
    with pytest.raises(ValueError, match="initialization user_data is invalid"):
        telecom.new_environment(task_with([], {"user_data": {"device": {"bogus": 1}}}))


def test_env_assertions_on_both_sides(env: TelecomEnvironment) -> None:
    john(env)
    phone = env.user_toolkit
    assert phone.assert_service_status("connected")
    with pytest.raises(ValueError, match="not a valid NetworkStatus"):
        phone.assert_service_status("online")
    assert phone.assert_internet_speed(200, "excellent")
    assert not phone.assert_internet_speed(200, "good")
    assert phone.assert_internet_not_excellent() is False
    assert phone.assert_can_send_mms(True)
    assert phone.assert_airplane_mode_status(False) and phone.assert_mobile_roaming_status(False)
    assert phone.assert_mobile_data_saver_mode_status(False)
    assert phone.assert_mobile_data_usage_exceeded(False)
    agent = env.agent_toolkit
    assert agent.assert_data_refueling_amount("C1001", "L1002", 0.0)
    assert agent.assert_line_status("C1001", "L1002", "Active")
    assert agent.assert_no_overdue_bill("B1234321")
    with pytest.raises(ValueError, match="Overdue bill B1002 is not overdue"):
        agent.assert_overdue_bill_exists("C1001", "B1002")


# -- gold replay ------------------------------------------------------------------------------


def test_gold_replay_meets_every_env_assertion_on_the_base_split(
    telecom: TelecomDomain, base_tasks: list[Task]
) -> None:
    results = list(replay_all(telecom, base_tasks))
    assert len(results) == 114
    assert sum(len(r.outputs) for r in results) == 516
    assert not any(any(r.errors) for r in results)
    assert all(r.env_assertions and all(r.env_assertions) for r in results)
    line = json.loads(results[0].to_json())
    assert set(line) == {"task_id", "db_hash", "outputs", "user_db_hash", "env_assertions"}


def test_evaluator_mode_gold_differs_from_live_mode_in_71_base_tasks(
    telecom: TelecomDomain, base_tasks: list[Task]
) -> None:
    """Spec §5: run without syncs between gold calls, the user DB differs in 71 of 114."""
    differs = 0
    for task in base_tasks:
        live, gold = telecom.new_environment(task), telecom.new_environment(task)
        assert task.evaluation_criteria is not None
        for action in task.evaluation_criteria.actions:
            live.execute(action.name, clone(action.arguments), action.requestor)
            gold.dispatch(action.name, clone(action.arguments), action.requestor)
        live.sync()
        differs += live.user_db_hash() != gold.user_db_hash()
    assert differs == 71


def test_replay_of_a_failing_assertion_is_reported(
    telecom: TelecomDomain, base_tasks: list[Task]
) -> None:
    task = base_tasks[0]
    assert task.evaluation_criteria is not None
    env = telecom.new_environment(task)
    score, checks = env_assertion_checks(env, task.evaluation_criteria.env_assertions)
    assert score == 0.0 and not all(c["met"] for c in checks)
    assert replay_gold(telecom, task).env_assertions == [True] * len(checks)


def test_single_control_domains_are_unchanged(retail_domain: Tau2Domain) -> None:
    env = retail_domain.new_environment()
    assert env.user_tools() == [] and env.user_db_hash() is None and env.user_toolkit is None
    assert not retail_domain.has_user_tools
    assert env.execute("toggle_data", {}, "user").content == "Error: Tool 'toggle_data' not found."
    assert json.loads(
        replay_gold(
            retail_domain, load_tasks("retail", data_dir=retail_domain.data_dir, task_ids=["0"])[0]
        ).to_json()
    ).keys() == {"task_id", "db_hash", "outputs"}

"""ACEBench APIs and executor: state semantics, dispatch, batches, errors, tools, process log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.utils.function_calling import convert_to_openai_tool

from fama.envs.acebench.data import AceTask, load_initial_state, load_tasks
from fama.envs.acebench.environment import ABORTED, AceBenchEnvironment, json_schema
from fama.envs.acebench.session import result_text


def task_of(data_dir: Path, number: int, category: str = "multi_turn", lang: str = "en") -> AceTask:
    [task] = load_tasks(category, lang, data_dir=data_dir, task_ids=[str(number)])
    return task


def env_for(
    data_dir: Path, number: int, category: str = "multi_turn", lang: str = "en"
) -> AceBenchEnvironment:
    task = task_of(data_dir, number, category, lang)
    return AceBenchEnvironment(task, load_initial_state(task.lang, data_dir=data_dir), "policy")


def run(env: AceBenchEnvironment, name: str, **arguments: Any) -> str:
    output = env.execute(name, arguments)
    assert not output.error, output.content
    return output.content


def test_tasks_answers_and_selection(acebench_data_dir: Path) -> None:
    tasks = load_tasks("multi_turn", "en", data_dir=acebench_data_dir)
    assert [t.id for t in tasks] == [f"agent_multi_turn_{i}" for i in range(30)]
    assert tasks[20].is_travel and not tasks[0].is_travel
    picked = load_tasks(
        "multi_step", "zh", data_dir=acebench_data_dir, task_ids=["agent_multi_step_3", "7"]
    )
    assert [t.id for t in picked] == ["agent_multi_step_3", "agent_multi_step_7"]
    assert isinstance(picked[1].mile_stone[0], list)  # alternative milestone lists
    with pytest.raises(ValueError, match="unknown ACEBench task ids: agent_multi_turn_99"):
        load_tasks("multi_turn", data_dir=acebench_data_dir, task_ids=["99"])
    with pytest.raises(ValueError, match="unknown ACEBench category"):
        load_tasks("normal", data_dir=acebench_data_dir)


def test_initial_state_loading_rules(acebench_data_dir: Path) -> None:
    # task 1: wifi off, logged out -> every phone class starts with those flags
    env = env_for(acebench_data_dir, 1)
    assert not env.session.started  # created lazily, at the first execution
    env.execute("view_messages_between_users", {"sender_name": "Eve", "receiver_name": "Frank"})
    instances = env.session.instances()
    assert [(i.wifi, i.logged_in) for i in instances.values()] == [(False, False)] * 2
    assert sorted(instances["MessageApi"].inbox) == [1, 2, 3, 4, 5, 6]
    # a typo'd class key in initial_config (ZH: "Baspi") is not read: the defaults apply
    [typo] = [
        t
        for t in load_tasks("multi_turn", "zh", data_dir=acebench_data_dir)
        if "Baspi" in t.initial_config
    ]
    env = AceBenchEnvironment(typo, load_initial_state("zh", data_dir=acebench_data_dir), "p")
    env.execute("get_earliest_message_id", {})
    flags = {(i.wifi, i.logged_in) for i in env.session.instances().values()}
    assert flags == {(False, True)}


def test_device_calls_are_broadcast_to_every_phone_class(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 11)  # BaseApi, MessageApi, FoodPlatform; wifi off
    assert json.loads(run(env, "turn_on_wifi")) == {
        "status": True,
        "message": "Wi-Fi has been turned on",
    }
    assert all(i.wifi for i in env.session.instances().values())
    assert "successfully logged in" in run(
        env, "login_food_platform", username="Grace", password="password789"
    )


def test_messages_capacity_ids_and_the_missing_time_quirk(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 3)  # wifi on, logged in, inbox full
    full = run(env, "send_message", sender_name="Grace", receiver_name="Frank", message="hi")
    assert json.loads(full)["message"].startswith("Inbox capacity is full")
    assert json.loads(run(env, "get_earliest_message_id"))["message_id"] == 3
    assert json.loads(run(env, "delete_message", message_id="3"))["message"] == (
        "Message ID does not exist"  # a string id never matches
    )
    times = json.loads(run(env, "get_all_message_times_with_ids"))  # a helper, not in schemas
    assert times["3"] == "2023-12-05"  # JSON: integer ids become strings
    run(env, "delete_message", message_id=3)
    run(env, "send_message", sender_name="Grace", receiver_name="Frank", message="hi")
    assert sorted(env.session.instances()["MessageApi"].inbox) == [1, 2, 4, 5, 6, 7]
    # a sent message has no time, so the latest/earliest lookups now fail (as upstream)
    output = env.execute("get_latest_message_id", {})
    assert output.error and output.content == "Error during execution: 'time'"


def test_result_text_conversion() -> None:
    assert result_text({1: "a", "b": [1.5]}) == '{"1": "a", "b": [1.5]}'
    assert result_text([{"product": "Tea", "price": 25.0}]) == "[{'product': 'Tea', 'price': 25.0}]"
    assert result_text(500.0) == "500.0"
    assert result_text("done") == "done"
    assert result_text({"msg": "wifi已经打开"}) == '{"msg": "wifi已经打开"}'


def test_food_orders_and_the_balance_edge_by_language(acebench_data_dir: Path) -> None:
    for lang, product, merchant, placed in [
        ("en", "Cheese Milk Tea", "Heytea", True),
        ("zh", "芝士奶茶", "喜茶", False),  # upstream zh refuses a total equal to the balance
    ]:
        env = env_for(acebench_data_dir, 8, lang=lang)
        run(env, "turn_on_wifi")
        run(env, "login_food_platform", username="Frank", password="password456")
        items = [{"product": product, "quantity": 12}]  # 12 x 25.0 = 300.0 = Frank's balance
        result = json.loads(
            run(
                env,
                "add_food_delivery_order",
                username="Frank",
                merchant_name=merchant,
                items=items,
            )
        )
        assert result["status"] is placed
        assert run(env, "check_balance", user_name="Frank") == ("0.0" if placed else "300.0")
    env = env_for(acebench_data_dir, 8)
    run(env, "turn_on_wifi")
    run(env, "login_food_platform", username="Eve", password="password123")
    bad = run(
        env,
        "add_food_delivery_order",
        username="Eve",
        merchant_name="Heytea",
        items=[{"product": "Cheese Milk Tea", "quantity": 2.0}],
    )
    assert json.loads(bad)["message"] == "Invalid quantity 2.0 for product Cheese Milk Tea"
    menu = run(env, "get_products", merchant_name="Heytea")
    assert menu.startswith("[{'product': 'Cheese Milk Tea', 'price': 25.0}")


def test_language_specific_reminder_apis(acebench_data_dir: Path) -> None:
    en = env_for(acebench_data_dir, 16)
    missing = en.execute("search_reminders", {"keyword": "list"})
    assert missing.error and "no API named 'search_reminders'" in missing.content
    zh = env_for(acebench_data_dir, 16, lang="zh")
    assert json.loads(run(zh, "mark_as_notified", reminder_id=1))["status"] is True
    assert zh.session.instances()["ReminderApi"].reminder_list[1]["notified"] is True
    crash = zh.execute("search_reminders", {"keyword": "To-do"})
    assert crash.error and "strftime" in crash.content  # upstream's string-time bug


def test_travel_booking_changes_and_cancellation(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 20)
    booked = run(
        env,
        "reserve_flight",
        user_id="user2",
        password="password456",
        flight_no="CA1234",
        cabin="Economy Class",
        payment_method="bank",
        baggage_count=3,
    )
    assert booked == (
        "Booking successful. Reservation ID: res_5. Total cost: 1250 yuan (including baggage fees)."
    )
    wrong_password = env.execute(
        "reserve_flight",
        {
            "user_id": "user2",
            "password": "nope",
            "flight_no": "CA1234",
            "cabin": "Economy Class",
            "payment_method": "bank",
            "baggage_count": 1,
        },
    )
    assert wrong_password.error and "membership_level" in wrong_password.content
    travel = env.session.instances()["Travel"]
    # cabin down-grade refunds the difference; a flight change is free
    changed = run(
        env,
        "modify_flight",
        user_id="user1",
        reservation_id="res_2",
        new_flight_no="CZ4352",
        new_cabin="Economy Class",
    )
    assert changed == (
        "Flight number has been changed. Cabin change successful. Price difference refunded: 1100."
    )
    assert travel.users["user1"]["bank_balance"] == 51100.0
    cancelled = run(env, "cancel_reservation", user_id="user1", reservation_id="res_1", reason="x")
    assert cancelled.endswith("1200 yuan has been refunded.")
    assert travel.users["user1"]["cash_balance"] == 3200.0
    assert len(travel.reservations) == 5  # nothing removed


def test_multi_turn_batch_stops_at_the_first_error(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 0)  # wifi off
    outputs = env.execute_batch(
        [
            ("get_earliest_message_id", {}),
            ("send_message", {"sender_name": "Grace"}),
            ("turn_on_wifi", {}),
        ]
    )
    assert [o.error for o in outputs] == [False, True, True]
    assert outputs[1].content.startswith("Error during execution: ")
    assert "missing 2 required positional arguments" in outputs[1].content
    assert outputs[2].content == ABORTED
    assert env.session.instances()["BaseApi"].wifi is False
    assert env.final_state() == []  # no batch completed yet -> nothing captured
    env.execute_batch([("turn_on_wifi", {})])
    assert env.final_state()[0] == {"BaseApi": {"wifi": True, "logged_in": True}}


def test_multi_step_batch_reports_each_error_and_continues(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 2, category="multi_step")
    outputs = env.execute_batch([("no_such_api", {}), ("turn_on_wifi", {})])
    assert [o.error for o in outputs] == [True, False]
    assert outputs[0].content == (
        "Error during execution: no API named 'no_such_api' is available; the APIs are: "
        "turn_on_wifi, login_device, login_food_platform, check_balance, "
        "add_food_delivery_order, get_products"
    )
    assert env.session.instances()["BaseApi"].wifi is True
    failed_only = env_for(acebench_data_dir, 2, category="multi_step")
    failed_only.execute_batch([("no_such_api", {})])
    assert failed_only.final_state() != []  # multi_step keeps the state of any executed batch


def test_process_log_renders_the_official_call_text(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 22)
    env.execute_batch(
        [
            ("get_flight_details", {"destination": "Shanghai", "origin": "Beijing"}),
            ("get_flight_details", {"origin": "Shanghai", "destination": "Beijing"}),
        ]
    )
    env.execute("turn_on_wifi", {})
    assert [e.text for e in env.process_log] == [
        "[get_flight_details(origin='Beijing', destination='Shanghai'), "
        "get_flight_details(origin='Shanghai', destination='Beijing')]",
        "[turn_on_wifi()]",
    ]
    assert env.process_log[0].calls[0] == (
        "get_flight_details",
        {"destination": "Shanghai", "origin": "Beijing"},
    )
    orders = env.execute_batch(
        [
            (
                "reserve_flight",
                {
                    "baggage_count": 1,
                    "user_id": "user2",
                    "cabin": "Economy Class",
                    "payment_method": "bank",
                    "password": "password456",
                    "flight_no": "CA1234",
                },
            )
        ]
    )
    assert not orders[0].error
    assert env.process_log[-1].text == task_of(acebench_data_dir, 20).mile_stone[1]
    # the log keeps the arguments as the agent sent them, even if an API mutates them
    user = {"cash_balance": 1.0}
    assert not env.execute(
        "update_balance", {"user": user, "payment_method": "cash", "amount": 5}
    ).error
    assert env.process_log[-1].calls[0][1]["user"] == {"cash_balance": 1.0}


def test_tools_schemas_and_kinds(acebench_data_dir: Path) -> None:
    env = env_for(acebench_data_dir, 20)
    tools = {t.name: t for t in env.agent_tools()}
    reserve = convert_to_openai_tool(tools["reserve_flight"])["function"]
    assert reserve["parameters"]["type"] == "object"
    assert "payment_method" in reserve["parameters"]["required"]
    assert "payment_methods" not in reserve["parameters"]["required"]
    assert reserve["description"] == next(
        f["description"] for f in env.task.functions if f["name"] == "reserve_flight"
    )
    phone = env_for(acebench_data_dir, 8)
    order = convert_to_openai_tool(
        {t.name: t for t in phone.agent_tools()}["add_food_delivery_order"]
    )
    items = order["function"]["parameters"]["properties"]["items"]
    assert items["type"] == "array" and items["items"]["type"] == "object"
    assert json_schema(
        {"type": "dict", "required": ["a", "b"], "properties": {"a": {"type": "float"}}}
    ) == {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "number"}},
    }
    assert phone.tool_kind("send_message") == "write"
    assert phone.tool_kind("view_messages_between_users") == "read"
    assert phone.tool_kind("get_all_message_times_with_ids") == "read"  # helper, not in schemas
    assert phone.tool_kind("search_reminders") == "read"  # in the schemas, missing in English
    assert phone.tool_kind("reserve_flight") is None
    user_call = phone.execute("turn_on_wifi", {}, requestor="user")
    assert user_call.error

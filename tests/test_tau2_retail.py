"""Retail tools: exact output strings, error texts and check order, schemas, environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fama.core.env import ToolEnvironment, ToolOutput
from fama.envs.tau2.environment import Tau2Domain, Tau2Environment, load_domain
from fama.envs.tau2.retail import RetailTools
from fama.envs.tau2.tasks import Task

PENDING_GIFT_CARD_ORDER = "#W6779827"  # ethan_lopez_6291, paid 4079.45 by gift_card_7219486
DELIVERED_ORDER = "#W4817420"  # ava_moore_2033, paid by gift_card_8168843 (balance 69.0)
OPTIONAL_ORDER_FIELDS = (
    "cancel_reason",
    "exchange_items",
    "exchange_new_items",
    "exchange_payment_method_id",
    "exchange_price_difference",
    "return_items",
    "return_payment_method_id",
)


@pytest.fixture
def env(retail_domain: Tau2Domain) -> Tau2Environment:
    return retail_domain.new_environment()


@pytest.fixture(scope="module")
def raw_db(tau2_data_dir: Path) -> dict[str, Any]:
    return json.loads((tau2_data_dir / "domains" / "retail" / "db.json").read_text())  # type: ignore[no-any-return]


def call(env: Tau2Environment, name: str, **arguments: Any) -> ToolOutput:
    return env.execute(name, arguments)


def ok(env: Tau2Environment, name: str, **arguments: Any) -> Any:
    result = call(env, name, **arguments)
    assert not result.error, result.content
    return json.loads(result.content)


def error(env: Tau2Environment, name: str, **arguments: Any) -> str:
    result = call(env, name, **arguments)
    assert result.error
    return result.content


# -- dispatch ---------------------------------------------------------------------------------


def test_dispatch_errors_use_python_texts(env: Tau2Environment) -> None:
    assert error(env, "cancel_everything") == "Error: Tool 'cancel_everything' not found."
    assert error(env, "get_order_details") == (
        "Error: RetailTools.get_order_details() missing 1 required positional argument: 'order_id'"
    )
    assert (
        error(env, "get_order_details", order_id="#W2611340", extra=1)
        == "Error: RetailTools.get_order_details() got an unexpected keyword argument 'extra'"
    )
    assert error(env, "get_order_details", order_id=12345) == "Error: Order not found"
    assert env.execute("get_order_details", {"order_id": "#W2611340"}, requestor="user") == (
        ToolOutput("Error: Tool 'get_order_details' not found.", error=True)
    )


@pytest.mark.parametrize(
    ("expression", "output"),
    [
        ("2 + 2", "4.0"),
        ("10 / 3", "3.33"),
        ("2 ** 3", "8.0"),
        ("8276.234", "8276.23"),
        ("(534.84 - 457.81) * 2", "154.06"),
        ("1 / 0", "Error: division by zero"),
        ("2 +", "Error: invalid syntax (<string>, line 1)"),
        ("import os", "Error: Invalid characters in expression"),
        ("2 ^ 3", "Error: Invalid characters in expression"),
    ],
)
def test_calculate(env: Tau2Environment, expression: str, output: str) -> None:
    result = call(env, "calculate", expression=expression)
    assert result.content == output
    assert result.error == output.startswith("Error: ")


def test_generic_tools(env: Tau2Environment) -> None:
    assert call(env, "transfer_to_human_agents", summary="x") == ToolOutput("Transfer successful")
    kinds = env.domain.tool_kinds
    assert kinds["calculate"] == kinds["transfer_to_human_agents"] == "generic"
    assert env.tool_kind("get_order_details") == "read"
    assert env.tool_kind("modify_pending_order_items") == "write"
    assert env.tool_kind("think") is None
    writes = {name for name, kind in kinds.items() if kind == "write"}
    assert writes == {
        "cancel_pending_order",
        "exchange_delivered_order_items",
        "modify_pending_order_address",
        "modify_pending_order_items",
        "modify_pending_order_payment",
        "modify_user_address",
        "return_delivered_order_items",
    }


# -- read tools -------------------------------------------------------------------------------


def test_order_output_is_the_normalised_record(
    env: Tau2Environment, raw_db: dict[str, Any]
) -> None:
    expected = dict(raw_db["orders"]["#W2611340"], **dict.fromkeys(OPTIONAL_ORDER_FIELDS))
    result = call(env, "get_order_details", order_id="#W2611340")
    assert result == ToolOutput(json.dumps(expected))


def test_user_product_and_item_outputs(env: Tau2Environment, raw_db: dict[str, Any]) -> None:
    user = call(env, "get_user_details", user_id="yusuf_rossi_9620").content
    assert user == json.dumps(raw_db["users"]["yusuf_rossi_9620"])
    product = call(env, "get_product_details", product_id="7996920482").content
    assert product == json.dumps(raw_db["products"]["7996920482"])
    item = call(env, "get_item_details", item_id="3020722515").content
    assert item == json.dumps(raw_db["products"]["7996920482"]["variants"]["3020722515"])
    assert error(env, "get_user_details", user_id="nobody") == "Error: User not found"
    assert error(env, "get_product_details", product_id="3020722515") == "Error: Product not found"
    assert error(env, "get_item_details", item_id="7996920482") == "Error: Item not found"


def test_find_user_is_case_insensitive_on_names_and_email(env: Tau2Environment) -> None:
    found = call(
        env, "find_user_id_by_name_zip", first_name="yUSUF", last_name="ROSSI", zip="19122"
    )
    assert found == ToolOutput("yusuf_rossi_9620")
    assert (
        error(env, "find_user_id_by_name_zip", first_name="Yusuf", last_name="Rossi", zip="19123")
        == "Error: User not found"
    )
    by_email = call(env, "find_user_id_by_email", email="Yusuf.Rossi7301@EXAMPLE.com")
    assert by_email == ToolOutput("yusuf_rossi_9620")
    assert (
        error(env, "find_user_id_by_email", email="nobody@example.com") == "Error: User not found"
    )


def test_list_all_product_types_is_sorted(env: Tau2Environment, raw_db: dict[str, Any]) -> None:
    output = call(env, "list_all_product_types").content
    expected = {p["name"]: p["product_id"] for p in raw_db["products"].values()}
    assert output == json.dumps(expected, sort_keys=True)
    assert list(json.loads(output)) == sorted(expected)
    assert len(expected) == 50


# -- write tools ------------------------------------------------------------------------------


def test_cancel_refunds_gift_card_and_checks_in_order(env: Tau2Environment) -> None:
    assert (
        error(env, "cancel_pending_order", order_id="#W2611340", reason="whatever")
        == "Error: Non-pending order cannot be cancelled"
    )
    assert (
        error(env, "cancel_pending_order", order_id=PENDING_GIFT_CARD_ORDER, reason="too late")
        == "Error: Invalid reason"
    )
    order = ok(
        env, "cancel_pending_order", order_id=PENDING_GIFT_CARD_ORDER, reason="no longer needed"
    )
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "no longer needed"
    assert order["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": 4079.45,
        "payment_method_id": "gift_card_7219486",
    }
    user = ok(env, "get_user_details", user_id="ethan_lopez_6291")
    assert user["payment_methods"]["gift_card_7219486"]["balance"] == round(49.0 + 4079.45, 2)
    assert (
        error(
            env, "cancel_pending_order", order_id=PENDING_GIFT_CARD_ORDER, reason="no longer needed"
        )
        == "Error: Non-pending order cannot be cancelled"
    )


def test_modify_items_reproduces_the_last_variant_quirk(env: Tau2Environment) -> None:
    args = {
        "order_id": PENDING_GIFT_CARD_ORDER,
        "item_ids": ["7896397433", "1323134954"],
        "new_item_ids": ["2444431651", "3020722515"],
        "payment_method_id": "credit_card_9789590",
    }
    order = ok(env, "modify_pending_order_items", **args)
    diff: float = 0
    diff += 534.84 - 457.81
    diff += 238.64 - 236.95
    assert order["payment_history"][-1] == {
        "transaction_type": "payment",
        "amount": abs(diff),
        "payment_method_id": "credit_card_9789590",
    }
    coffee_maker = ok(env, "get_item_details", item_id="3020722515")
    modified = [i for i in order["items"] if i["item_id"] in args["new_item_ids"]]
    assert [i["item_id"] for i in modified] == ["2444431651", "3020722515"]
    for item in modified:  # both get the last pair's (coffee maker) price and options
        assert item["price"] == 238.64
        assert item["options"] == coffee_maker["options"]
    assert order["status"] == "pending (item modified)"
    assert (
        error(env, "modify_pending_order_items", **args)
        == "Error: Non-pending order cannot be modified"
    )
    # "pending (item modified)" still allows address and payment changes (substring test).
    address = {"address1": "1 A St", "address2": "", "city": "X", "state": "CA", "country": "USA"}
    changed = ok(env, "modify_pending_order_address", order_id=args["order_id"], zip="1", **address)
    assert changed["address"] == {**address, "zip": "1"}
    assert list(changed["address"]) == ["address1", "address2", "city", "country", "state", "zip"]


def test_modify_items_errors_in_check_order(env: Tau2Environment) -> None:
    def attempt(
        item_ids: list[str], new_item_ids: list[str], method: str = "credit_card_9789590"
    ) -> str:
        return error(
            env,
            "modify_pending_order_items",
            order_id=PENDING_GIFT_CARD_ORDER,
            item_ids=item_ids,
            new_item_ids=new_item_ids,
            payment_method_id=method,
        )

    assert attempt(["7896397433", "7896397433"], ["1", "2"]) == "Error: 7896397433 not found"
    assert attempt(["7896397433"], []) == "Error: The number of items to be exchanged should match"
    assert attempt(["7896397433"], ["7896397433"]) == (
        "Error: The new item id should be different from the old item id"
    )
    assert attempt(["7896397433"], ["3020722515"]) == "Error: Variant not found"
    assert attempt(["7896397433"], ["8140269513"]) == (
        "Error: New item 8140269513 not found or available"
    )
    assert attempt(["7896397433"], ["2444431651"], "paypal_1") == "Error: Payment method not found"
    assert attempt(["7896397433"], ["2444431651"], "gift_card_7219486") == (
        "Error: Insufficient gift card balance to pay for the new item"
    )
    assert env.db_hash() == env.domain.base.new_view().hash()


def test_modify_items_with_no_pairs_records_a_zero_refund(env: Tau2Environment) -> None:
    order = ok(
        env,
        "modify_pending_order_items",
        order_id=PENDING_GIFT_CARD_ORDER,
        item_ids=[],
        new_item_ids=[],
        payment_method_id="gift_card_7219486",
    )
    assert order["payment_history"][-1]["transaction_type"] == "refund"
    assert repr(order["payment_history"][-1]["amount"]) == "0.0"


def test_modify_payment(env: Tau2Environment) -> None:
    order_id = PENDING_GIFT_CARD_ORDER
    assert error(env, "modify_pending_order_payment", order_id=order_id, payment_method_id="x") == (
        "Error: Payment method not found"
    )
    assert error(
        env,
        "modify_pending_order_payment",
        order_id=order_id,
        payment_method_id="gift_card_7219486",
    ) == ("Error: The new payment method should be different from the current one")
    order = ok(
        env,
        "modify_pending_order_payment",
        order_id=order_id,
        payment_method_id="credit_card_9789590",
    )
    assert order["payment_history"][1:] == [
        {
            "transaction_type": "payment",
            "amount": 4079.45,
            "payment_method_id": "credit_card_9789590",
        },
        {"transaction_type": "refund", "amount": 4079.45, "payment_method_id": "gift_card_7219486"},
    ]
    user = ok(env, "get_user_details", user_id="ethan_lopez_6291")
    assert user["payment_methods"]["gift_card_7219486"]["balance"] == 4128.45
    assert error(
        env,
        "modify_pending_order_payment",
        order_id=order_id,
        payment_method_id="gift_card_7219486",
    ) == ("Error: There should be exactly one payment for a pending order")


def test_exchange_rounds_and_stores_sorted_lists(env: Tau2Environment) -> None:
    base = {"order_id": DELIVERED_ORDER, "payment_method_id": "gift_card_8168843"}
    assert error(
        env, "exchange_delivered_order_items", item_ids=["1"], new_item_ids=["2"], **base
    ) == ("Error: Number of 1 not found.")
    assert error(
        env, "exchange_delivered_order_items", item_ids=["6777246137"], new_item_ids=[], **base
    ) == ("Error: The number of items to be exchanged should match.")
    empty = ok(env, "exchange_delivered_order_items", item_ids=[], new_item_ids=[], **base)
    assert repr(empty["exchange_price_difference"]) == "0"  # untyped int, as upstream
    assert empty["status"] == "exchange requested"
    assert error(env, "exchange_delivered_order_items", item_ids=[], new_item_ids=[], **base) == (
        "Error: Non-delivered order cannot be exchanged"
    )


def test_return_checks_and_result(env: Tau2Environment) -> None:
    order_id = DELIVERED_ORDER
    assert error(
        env,
        "return_delivered_order_items",
        order_id=order_id,
        item_ids=["x"],
        payment_method_id="p",
    ) == ("Error: Payment method not found")
    assert error(
        env,
        "return_delivered_order_items",
        order_id=order_id,
        item_ids=["x"],
        payment_method_id="gift_card_8168843",
    ) == ("Error: Some item not found")
    order = ok(
        env,
        "return_delivered_order_items",
        order_id=order_id,
        item_ids=["6777246137", "4900661478"],
        payment_method_id="gift_card_8168843",
    )
    assert order["status"] == "return requested"
    assert order["return_items"] == ["4900661478", "6777246137"]
    assert order["return_payment_method_id"] == "gift_card_8168843"
    assert error(
        env, "return_delivered_order_items", order_id=order_id, item_ids=[], payment_method_id="p"
    ) == ("Error: Non-delivered order cannot be returned")


def test_address_changes_validate_and_return_the_right_record(env: Tau2Environment) -> None:
    address = {"address1": "1 A St", "address2": "", "city": "X", "state": "CA", "country": "USA"}
    user = ok(env, "modify_user_address", user_id="yusuf_rossi_9620", zip="19122", **address)
    assert user["user_id"] == "yusuf_rossi_9620"
    assert user["address"]["address1"] == "1 A St"
    invalid = error(env, "modify_user_address", user_id="yusuf_rossi_9620", zip=19122, **address)
    assert invalid.startswith("Error: 1 validation error for UserAddress")
    assert error(env, "modify_user_address", user_id="nobody", zip="1", **address) == (
        "Error: User not found"
    )
    assert error(env, "modify_pending_order_address", order_id="#W2611340", zip="1", **address) == (
        "Error: Non-pending order cannot be modified"
    )


def test_writes_never_touch_the_shared_base(
    retail_domain: Tau2Domain, env: Tau2Environment
) -> None:
    ok(env, "cancel_pending_order", order_id=PENDING_GIFT_CARD_ORDER, reason="ordered by mistake")
    fresh = retail_domain.new_environment()
    assert ok(fresh, "get_order_details", order_id=PENDING_GIFT_CARD_ORDER)["status"] == "pending"
    assert fresh.db_hash() == retail_domain.base.new_view().hash() != env.db_hash()


# -- schemas ----------------------------------------------------------------------------------

ORDER_ID = {
    "description": "The order id, such as '#W0000000'. Be careful there is a '#' symbol at the "
    "beginning of the order id.",
    "title": "Order Id",
    "type": "string",
}


def _schema(name: str) -> dict[str, Any]:
    return next(s for s in RetailTools.openai_schemas() if s["function"]["name"] == name)


def test_schemas_match_the_official_generation() -> None:
    names = [s["function"]["name"] for s in RetailTools.openai_schemas()]
    assert names == [  # the official (definition) order
        "calculate",
        "cancel_pending_order",
        "exchange_delivered_order_items",
        "find_user_id_by_name_zip",
        "find_user_id_by_email",
        "get_order_details",
        "get_product_details",
        "get_item_details",
        "get_user_details",
        "list_all_product_types",
        "modify_pending_order_address",
        "modify_pending_order_items",
        "modify_pending_order_payment",
        "modify_user_address",
        "return_delivered_order_items",
        "transfer_to_human_agents",
    ]
    assert _schema("get_order_details") == {
        "type": "function",
        "function": {
            "name": "get_order_details",
            "description": "Get the status and details of an order.",
            "parameters": {
                "properties": {"order_id": ORDER_ID},
                "required": ["order_id"],
                "title": "parameters",
                "type": "object",
            },
        },
    }
    cancel = _schema("cancel_pending_order")["function"]
    assert cancel["description"] == (
        "Cancel a pending order. If the order is already processed or delivered,\n\n"
        "it cannot be cancelled. The agent needs to explain the cancellation detail\n"
        "and ask for explicit user confirmation (yes/no) to proceed. If the user confirms,\n"
        "the order status will be changed to 'cancelled' and the payment will be refunded.\n"
        "The refund will be added to the user's gift card balance immediately if the payment\n"
        "was made using a gift card, otherwise the refund would take 5-7 business days to "
        "process.\nThe function returns the order details after the cancellation."
    )
    assert cancel["parameters"]["required"] == ["order_id", "reason"]
    exchange = _schema("exchange_delivered_order_items")["function"]["parameters"]
    assert exchange["properties"]["new_item_ids"] == {
        "description": "The item ids to be exchanged for, each such as '1008292230'.\n"
        "There could be duplicate items in the list. Each new item id should match the item "
        "id\nin the same position and be of the same product.",
        "items": {"type": "string"},
        "title": "New Item Ids",
        "type": "array",
    }
    assert _schema("calculate")["function"]["description"] == (
        "Calculate the result of a mathematical expression."
    )
    assert _schema("list_all_product_types")["function"]["parameters"] == {
        "properties": {},
        "title": "parameters",
        "type": "object",
    }
    # Spec §9: the 16 retail schemas serialise to about 12.3k characters.
    assert round(len(json.dumps(RetailTools.openai_schemas())), -2) == 12300


def test_langchain_tools_mirror_the_schemas(env: Tau2Environment) -> None:
    tools = env.agent_tools()
    assert [t.name for t in tools] == list(env.domain.tool_kinds)
    by_name = {t.name: t for t in tools}
    assert by_name["get_order_details"].description == "Get the status and details of an order."
    assert env.user_tools() == []


# -- environment ------------------------------------------------------------------------------


def test_environment_implements_the_tool_environment_protocol(env: Tau2Environment) -> None:
    tool_env: ToolEnvironment = env  # checked by mypy
    assert tool_env.execute("calculate", {"expression": "1 + 1"}) == ToolOutput("2.0")
    assert env.db_hash() == env.domain.base.new_view().hash()


def test_domain_is_cached_and_carries_the_policy(
    retail_domain: Tau2Domain, tau2_data_dir: Path
) -> None:
    assert load_domain("retail", tau2_data_dir) is retail_domain
    policy = (tau2_data_dir / "domains" / "retail" / "policy.md").read_text()
    assert retail_domain.policy == policy == retail_domain.new_environment().policy
    with pytest.raises(ValueError, match="unknown tau2 domain 'banking'"):
        load_domain("banking", tau2_data_dir)


def _task_with_initial_state(initial_state: dict[str, Any]) -> Task:
    return Task.model_validate(
        {
            "id": "t",
            "user_scenario": {"instructions": "x"},
            "initial_state": initial_state,
        }
    )


def test_initial_state_merges_data_and_runs_actions(retail_domain: Tau2Domain) -> None:
    task = _task_with_initial_state(
        {
            "initialization_data": {
                "agent_data": {
                    "orders": {"#W2611340": {"status": "pending", "address": {"zip": "9"}}}
                }
            },
            "initialization_actions": [
                {
                    "env_type": "assistant",
                    "func_name": "cancel_pending_order",
                    "arguments": {"order_id": "#W2611340", "reason": "ordered by mistake"},
                }
            ],
        }
    )
    env = retail_domain.new_environment(task)
    order = ok(env, "get_order_details", order_id="#W2611340")
    assert order["status"] == "cancelled"
    assert order["address"]["zip"] == "9"
    assert order["address"]["city"] == "New York"
    assert retail_domain.base.tables["orders"]["#W2611340"]["status"] == "processed"


@pytest.mark.parametrize(
    ("initial_state", "message"),
    [
        ({"initialization_data": {"user_data": {"device": {}}}}, "no user DB"),
        ({"initialization_data": {"agent_data": {"planes": {}}}}, "'planes' is not a table"),
        (
            {"initialization_actions": [{"env_type": "user", "func_name": "x", "arguments": {}}]},
            "no user-side toolkit",
        ),
        (
            {"initialization_actions": [{"env_type": "assistant", "func_name": "_order"}]},
            "is not a method",
        ),
        (
            {
                "initialization_actions": [
                    {"env_type": "assistant", "func_name": "get_order_details", "arguments": {}}
                ]
            },
            "'get_order_details' failed",
        ),
    ],
)
def test_bad_initial_state_is_a_clear_error(
    retail_domain: Tau2Domain, initial_state: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        retail_domain.new_environment(_task_with_initial_state(initial_state))

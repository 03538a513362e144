"""tau-trait retail: the tau-bench v1 retail tools over the raw JSON data dict.

Behaviour follows sierra-research/tau-bench (MIT), whose retail tools tau-trait uses unchanged:
every tool takes the mutable episode ``data`` (``orders``, ``products``, ``users``) and returns
a string, ``json.dumps`` of the touched record (file key order) or an ``"Error: ..."`` text.
Checks, mutations and their order mirror upstream exactly, so the reward's data hash of a
replay matches the official one. The tools ``calculate``, ``think`` and
``transfer_to_human_agents`` are identical in airline, which imports them from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fama.envs.tau_trait.runtime import DomainTools, calculate_v1, load_json_files

Data = dict[str, Any]
ToolFn = TypeVar("ToolFn", bound=Callable[..., str])

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
TRANSFER_TOOL = "transfer_to_human_agents"


def upstream_named(fn: ToolFn) -> ToolFn:
    """Give ``fn`` upstream's qualified name (``CamelCase.invoke``).

    Python builds argument errors from it, so a bad call reads exactly like tau-bench's, e.g.
    ``Error: GetUserDetails.invoke() missing 1 required positional argument: 'user_id'``.
    (So the functions cannot be pickled by reference; nothing pickles them.)
    """
    camel = "".join(part.capitalize() for part in fn.__name__.split("_"))
    fn.__qualname__ = f"{camel}.invoke"
    return fn


def load_data(root: Path) -> Data:
    """Fresh retail data from ``<root>/retail/{orders,products,users}.json``."""
    return load_json_files(root, "retail", ("orders", "products", "users"))


# --- tools shared with airline ---------------------------------------------------------------


@upstream_named
def calculate(data: Data, expression: str) -> str:
    """Evaluate an arithmetic expression, rounded to 2 decimals."""
    return calculate_v1(expression)


@upstream_named
def think(data: Data, thought: str) -> str:
    """Log a thought; no effect."""
    return ""


@upstream_named
def transfer_to_human_agents(data: Data, summary: str) -> str:
    """Hand the user over to a human (ends the episode)."""
    return "Transfer successful"


# --- read tools ------------------------------------------------------------------------------


@upstream_named
def find_user_id_by_email(data: Data, email: str) -> str:
    """The id of the user with this email (case-insensitive)."""
    for user_id, profile in data["users"].items():
        if profile["email"].lower() == email.lower():
            return str(user_id)
    return "Error: user not found"


@upstream_named
def find_user_id_by_name_zip(data: Data, first_name: str, last_name: str, zip: str) -> str:
    """The id of the user with this name (case-insensitive) and zip code."""
    for user_id, profile in data["users"].items():
        if (
            profile["name"]["first_name"].lower() == first_name.lower()
            and profile["name"]["last_name"].lower() == last_name.lower()
            and profile["address"]["zip"] == zip
        ):
            return str(user_id)
    return "Error: user not found"


@upstream_named
def get_order_details(data: Data, order_id: str) -> str:
    """The order record as JSON."""
    orders = data["orders"]
    if order_id in orders:
        return json.dumps(orders[order_id])
    return "Error: order not found"


@upstream_named
def get_product_details(data: Data, product_id: str) -> str:
    """The product record (with all variants) as JSON."""
    products = data["products"]
    if product_id in products:
        return json.dumps(products[product_id])
    return "Error: product not found"


@upstream_named
def get_user_details(data: Data, user_id: str) -> str:
    """The user record as JSON."""
    users = data["users"]
    if user_id in users:
        return json.dumps(users[user_id])
    return "Error: user not found"


@upstream_named
def list_all_product_types(data: Data) -> str:
    """Product name -> product id, sorted by name."""
    names = {product["name"]: product["product_id"] for product in data["products"].values()}
    return json.dumps(dict(sorted(names.items())))


# --- write tools -----------------------------------------------------------------------------


@upstream_named
def cancel_pending_order(data: Data, order_id: str, reason: str) -> str:
    """Cancel a pending order; refunds go back, gift cards are credited at once."""
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return "Error: non-pending order cannot be cancelled"
    if reason not in CANCEL_REASONS:
        return "Error: invalid reason"

    refunds = []
    for payment in order["payment_history"]:
        payment_id = payment["payment_method_id"]
        refunds.append(
            {
                "transaction_type": "refund",
                "amount": payment["amount"],
                "payment_method_id": payment_id,
            }
        )
        if "gift_card" in payment_id:
            method = data["users"][order["user_id"]]["payment_methods"][payment_id]
            method["balance"] += payment["amount"]
            method["balance"] = round(method["balance"], 2)

    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    order["payment_history"].extend(refunds)
    return json.dumps(order)


def _check_items(order: Data, item_ids: list[str]) -> str | None:
    """The offending item id if ``item_ids`` asks for more copies than the order holds."""
    all_item_ids = [item["item_id"] for item in order["items"]]
    for item_id in item_ids:
        if item_ids.count(item_id) > all_item_ids.count(item_id):
            return item_id
    return None


def _price_difference(
    products: Data, order: Data, item_ids: list[str], new_item_ids: list[str]
) -> float | str:
    """New minus old price over the swapped items, or the error text of the first bad new item."""
    diff_price: float = 0
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=False):
        item = next(item for item in order["items"] if item["item_id"] == item_id)
        variants = products[item["product_id"]]["variants"]
        if not (new_item_id in variants and variants[new_item_id]["available"]):
            return f"Error: new item {new_item_id} not found or available"
        diff_price += variants[new_item_id]["price"] - item["price"]
    return diff_price


@upstream_named
def exchange_delivered_order_items(
    data: Data, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> str:
    """Request an exchange of delivered items for other variants of the same products."""
    products, orders, users = data["products"], data["orders"], data["users"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "delivered":
        return "Error: non-delivered order cannot be exchanged"
    missing = _check_items(order, item_ids)
    if missing is not None:
        return f"Error: {missing} not found"
    if len(item_ids) != len(new_item_ids):
        return "Error: the number of items to be exchanged should match"
    diff = _price_difference(products, order, item_ids, new_item_ids)
    if isinstance(diff, str):
        return diff
    diff_price = round(diff, 2)

    methods = users[order["user_id"]]["payment_methods"]
    if payment_method_id not in methods:
        return "Error: payment method not found"
    method = methods[payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < diff_price:
        return "Error: insufficient gift card balance to pay for the price difference"

    order["status"] = "exchange requested"
    order["exchange_items"] = sorted(item_ids)
    order["exchange_new_items"] = sorted(new_item_ids)
    order["exchange_payment_method_id"] = payment_method_id
    order["exchange_price_difference"] = diff_price
    return json.dumps(order)


@upstream_named
def modify_pending_order_address(
    data: Data,
    order_id: str,
    address1: str,
    address2: str,
    city: str,
    state: str,
    country: str,
    zip: str,
) -> str:
    """Replace the shipping address of a pending order."""
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return "Error: non-pending order cannot be modified"
    order["address"] = {
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }
    return json.dumps(order)


@upstream_named
def modify_pending_order_items(
    data: Data, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> str:
    """Swap items of a pending order for other variants; pay or refund the difference."""
    products, orders, users = data["products"], data["orders"], data["users"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return "Error: non-pending order cannot be modified"
    missing = _check_items(order, item_ids)
    if missing is not None:
        return f"Error: {missing} not found"
    if len(item_ids) != len(new_item_ids):
        return "Error: the number of items to be exchanged should match"
    diff_price = _price_difference(products, order, item_ids, new_item_ids)
    if isinstance(diff_price, str):
        return diff_price

    methods = users[order["user_id"]]["payment_methods"]
    if payment_method_id not in methods:
        return "Error: payment method not found"
    method = methods[payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < diff_price:
        return "Error: insufficient gift card balance to pay for the new item"

    order["payment_history"].append(
        {
            "transaction_type": "payment" if diff_price > 0 else "refund",
            "amount": abs(diff_price),
            "payment_method_id": payment_method_id,
        }
    )
    if method["source"] == "gift_card":
        method["balance"] -= diff_price
        method["balance"] = round(method["balance"], 2)

    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=False):
        item = next(item for item in order["items"] if item["item_id"] == item_id)
        variant = products[item["product_id"]]["variants"][new_item_id]
        item["item_id"] = new_item_id
        item["price"] = variant["price"]
        item["options"] = variant["options"]
    order["status"] = "pending (item modified)"
    return json.dumps(order)


@upstream_named
def modify_pending_order_payment(data: Data, order_id: str, payment_method_id: str) -> str:
    """Pay a pending order with another method; the old payment is refunded."""
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return "Error: non-pending order cannot be modified"
    methods = data["users"][order["user_id"]]["payment_methods"]
    if payment_method_id not in methods:
        return "Error: payment method not found"
    history = order["payment_history"]
    if len(history) > 1 or history[0]["transaction_type"] != "payment":
        return "Error: there should be exactly one payment for a pending order"
    old_method_id = history[0]["payment_method_id"]
    if old_method_id == payment_method_id:
        return "Error: the new payment method should be different from the current one"

    amount = history[0]["amount"]
    method = methods[payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < amount:
        return "Error: insufficient gift card balance to pay for the order"

    history.extend(
        [
            {
                "transaction_type": "payment",
                "amount": amount,
                "payment_method_id": payment_method_id,
            },
            {"transaction_type": "refund", "amount": amount, "payment_method_id": old_method_id},
        ]
    )
    if method["source"] == "gift_card":
        method["balance"] -= amount
        method["balance"] = round(method["balance"], 2)
    if "gift_card" in old_method_id:
        old_method = methods[old_method_id]
        old_method["balance"] += amount
        old_method["balance"] = round(old_method["balance"], 2)
    return json.dumps(order)


@upstream_named
def modify_user_address(
    data: Data,
    user_id: str,
    address1: str,
    address2: str,
    city: str,
    state: str,
    country: str,
    zip: str,
) -> str:
    """Replace a user's default address."""
    users = data["users"]
    if user_id not in users:
        return "Error: user not found"
    user = users[user_id]
    user["address"] = {
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }
    return json.dumps(user)


@upstream_named
def return_delivered_order_items(
    data: Data, order_id: str, item_ids: list[str], payment_method_id: str
) -> str:
    """Request a return of delivered items, refunded to the original method or a gift card."""
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "delivered":
        return "Error: non-delivered order cannot be returned"
    if payment_method_id not in data["users"][order["user_id"]]["payment_methods"]:
        return "Error: payment method not found"
    if (
        "gift_card" not in payment_method_id
        and payment_method_id != order["payment_history"][0]["payment_method_id"]
    ):
        return "Error: payment method should be either the original payment method or a gift card"
    if _check_items(order, item_ids) is not None:
        return "Error: some item not found"

    order["status"] = "return requested"
    order["return_items"] = sorted(item_ids)
    order["return_payment_method_id"] = payment_method_id
    return json.dumps(order)


WRITE_TOOLS = frozenset(
    {
        "cancel_pending_order",
        "exchange_delivered_order_items",
        "modify_pending_order_address",
        "modify_pending_order_items",
        "modify_pending_order_payment",
        "modify_user_address",
        "return_delivered_order_items",
    }
)

DOMAIN = DomainTools(
    name="retail",
    tools={
        fn.__name__: fn
        for fn in (
            calculate,
            cancel_pending_order,
            exchange_delivered_order_items,
            find_user_id_by_email,
            find_user_id_by_name_zip,
            get_order_details,
            get_product_details,
            get_user_details,
            list_all_product_types,
            modify_pending_order_address,
            modify_pending_order_items,
            modify_pending_order_payment,
            modify_user_address,
            return_delivered_order_items,
            think,
            transfer_to_human_agents,
        )
    },
    write_tools=WRITE_TOOLS,
    terminal_tools=frozenset({TRANSFER_TOOL}),
    load_data=load_data,
)

# ruff: noqa: E501  (tool docstrings are the official tool descriptions, kept verbatim)
"""The tau2 retail domain: typed DB loading and the 16 agent tools (spec §3, §8).

The DB is validated with pydantic models typed like upstream's (field order, null defaults,
float prices and balances, payment methods by ``source``) and then kept as plain dicts in a
``BaseDocument``. Tools read records with ``db.get`` and mutate only copies from
``db.get_mut``; every check runs before the first mutation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, Field, ValidationError

from fama.envs.tau2.common import calculate_expression
from fama.envs.tau2.db import BaseDocument, clone
from fama.envs.tau2.toolkit import Toolkit, tool

Record = dict[str, Any]


class Variant(BaseModel):
    """One purchasable item of a product."""

    item_id: str
    options: dict[str, str]
    available: bool
    price: float


class Product(BaseModel):
    """A product type and its variants."""

    name: str
    product_id: str
    variants: dict[str, Variant]


class UserName(BaseModel):
    """A user's name."""

    first_name: str
    last_name: str


class UserAddress(BaseModel):
    """A postal address (also built by the address-changing tools)."""

    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


class CreditCard(BaseModel):
    """A credit-card payment method."""

    source: Literal["credit_card"]
    id: str
    brand: str
    last_four: str


class Paypal(BaseModel):
    """A PayPal payment method."""

    source: Literal["paypal"]
    id: str


class GiftCard(BaseModel):
    """A gift-card payment method with a balance."""

    source: Literal["gift_card"]
    id: str
    balance: float


PaymentMethod = Annotated[CreditCard | Paypal | GiftCard, Field(discriminator="source")]


class User(BaseModel):
    """A customer."""

    user_id: str
    name: UserName
    address: UserAddress
    email: str
    payment_methods: dict[str, PaymentMethod]
    orders: list[str]


class OrderItem(BaseModel):
    """One item line of an order."""

    name: str
    product_id: str
    item_id: str
    price: float
    options: dict[str, str]


class OrderFulfillment(BaseModel):
    """A shipment of some of an order's items."""

    tracking_id: list[str]
    item_ids: list[str]


class OrderPayment(BaseModel):
    """A payment or refund in an order's history."""

    transaction_type: Literal["payment", "refund"]
    amount: float
    payment_method_id: str


OrderStatus = Literal[
    "processed",
    "pending",
    "pending (item modified)",
    "delivered",
    "cancelled",
    "exchange requested",
    "return requested",
]


class Order(BaseModel):
    """An order, with the optional fields the write tools fill in."""

    order_id: str
    user_id: str
    address: UserAddress
    items: list[OrderItem]
    status: OrderStatus
    fulfillments: list[OrderFulfillment]
    payment_history: list[OrderPayment]
    cancel_reason: str | None = None
    exchange_items: list[str] | None = None
    exchange_new_items: list[str] | None = None
    exchange_payment_method_id: str | None = None
    exchange_price_difference: float | None = None
    return_items: list[str] | None = None
    return_payment_method_id: str | None = None


class RetailDB(BaseModel):
    """The whole retail DB."""

    products: dict[str, Product]
    users: dict[str, User]
    orders: dict[str, Order]


def load_retail_document(db_path: Path) -> BaseDocument:
    """Load, validate and normalise the retail ``db.json`` into a BaseDocument."""
    try:
        raw = Path(db_path).read_bytes()
    except OSError as exc:
        raise FileNotFoundError(f"cannot read retail DB {db_path}: {exc}") from None
    try:
        db = RetailDB.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(f"retail DB {db_path} is invalid: {_summary(exc)}") from None
    return BaseDocument(db.model_dump())


def _summary(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "<root>"
    return f"{len(errors)} error(s), first at {where}: {first['msg']}"


_CANCEL_REASONS = {"no longer needed", "ordered by mistake"}


class RetailTools(Toolkit):
    """All the tools for the retail domain."""

    # -- lookups (read-only records) ---------------------------------------------------------

    def _record(self, table: str, key: str, missing: str) -> Record:
        record = self.db.get(table, key)
        if record is None:
            raise ValueError(missing)
        return cast(Record, record)

    def _mut(self, table: str, key: str) -> Record:
        """A record already looked up, copied for mutation."""
        return cast(Record, self.db.get_mut(table, key))

    def _order(self, order_id: str) -> Record:
        return self._record("orders", order_id, "Order not found")

    def _user(self, user_id: str) -> Record:
        return self._record("users", user_id, "User not found")

    def _product(self, product_id: str) -> Record:
        return self._record("products", product_id, "Product not found")

    def _item(self, item_id: str) -> Record:
        for _, product in self.db.items("products"):
            if item_id in product["variants"]:
                return cast(Record, product["variants"][item_id])
        raise ValueError("Item not found")

    def _variant(self, product_id: str, variant_id: str) -> Record:
        variants = self._product(product_id)["variants"]
        if variant_id not in variants:
            raise ValueError("Variant not found")
        return cast(Record, variants[variant_id])

    def _payment_method(self, user_id: str, payment_method_id: str) -> Record:
        methods = self._user(user_id)["payment_methods"]
        if payment_method_id not in methods:
            raise ValueError("Payment method not found")
        return cast(Record, methods[payment_method_id])

    @staticmethod
    def _order_item(order: Record, item_id: str) -> Record:
        for item in order["items"]:
            if item["item_id"] == item_id:
                return cast(Record, item)
        raise ValueError(f"Item {item_id} not found")

    def _gift_card_mut(self, user_id: str, payment_method_id: str) -> Record:
        user = self._mut("users", user_id)
        return cast(Record, user["payment_methods"][payment_method_id])

    @staticmethod
    def _check_counts(order: Record, item_ids: list[str], message: str) -> None:
        in_order = [item["item_id"] for item in order["items"]]
        for item_id in item_ids:
            if item_ids.count(item_id) > in_order.count(item_id):
                raise ValueError(message.format(item_id=item_id))

    @staticmethod
    def _address(
        address1: str, address2: str, city: str, state: str, country: str, zip: str
    ) -> Record:
        return UserAddress(
            address1=address1,
            address2=address2,
            city=city,
            state=state,
            country=country,
            zip=zip,
        ).model_dump()

    # -- tools -------------------------------------------------------------------------------

    @tool("generic")
    def calculate(self, expression: str) -> str:
        """
        Calculate the result of a mathematical expression.

        Args:
            expression: The mathematical expression to calculate, such as '2 + 2'. The expression can contain numbers, operators (+, -, *, /), parentheses, and spaces.

        Returns:
            The result of the mathematical expression.

        Raises:
            ValueError: If the expression is invalid.
        """
        return calculate_expression(expression)

    @tool("write")
    def cancel_pending_order(self, order_id: str, reason: str) -> Record:
        """Cancel a pending order. If the order is already processed or delivered,
        it cannot be cancelled. The agent needs to explain the cancellation detail
        and ask for explicit user confirmation (yes/no) to proceed. If the user confirms,
        the order status will be changed to 'cancelled' and the payment will be refunded.
        The refund will be added to the user's gift card balance immediately if the payment
        was made using a gift card, otherwise the refund would take 5-7 business days to process.
        The function returns the order details after the cancellation.

        Args:
            order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
            reason: The reason for cancellation, which should be either 'no longer needed' or 'ordered by mistake'.

        Returns:
            Order: The order details after the cancellation.
        """
        order = self._order(order_id)
        if order["status"] != "pending":
            raise ValueError("Non-pending order cannot be cancelled")
        if reason not in _CANCEL_REASONS:
            raise ValueError("Invalid reason")
        user_id = order["user_id"]
        refunds = []
        gift_card_refunds = []
        for payment in order["payment_history"]:
            method_id = payment["payment_method_id"]
            refunds.append(
                {
                    "transaction_type": "refund",
                    "amount": payment["amount"],
                    "payment_method_id": method_id,
                }
            )
            if self._payment_method(user_id, method_id)["source"] == "gift_card":
                gift_card_refunds.append((method_id, payment["amount"]))
        for method_id, amount in gift_card_refunds:
            card = self._gift_card_mut(user_id, method_id)
            card["balance"] = round(card["balance"] + amount, 2)
        changed = self._mut("orders", order_id)
        changed["status"] = "cancelled"
        changed["cancel_reason"] = reason
        changed["payment_history"].extend(refunds)
        return changed

    @tool("write")
    def exchange_delivered_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
    ) -> Record:
        """Exchange items in a delivered order to new items of the same product type.
        For a delivered order, return or exchange can be only done once by the agent.
        The agent needs to explain the exchange detail and ask for explicit user confirmation (yes/no) to proceed.

        Args:
            order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
            item_ids: The item ids to be exchanged, each such as '1008292230'. There could be duplicate items in the list.
            new_item_ids: The item ids to be exchanged for, each such as '1008292230'.
                         There could be duplicate items in the list. Each new item id should match the item id
                         in the same position and be of the same product.
            payment_method_id: The payment method id to pay or receive refund for the item price difference,
                             such as 'gift_card_0000000' or 'credit_card_0000000'. These can be looked up
                             from the user or order details.

        Returns:
            Order: The order details after the exchange.

        Raises:
            ValueError: If the order is not delivered.
            ValueError: If the items to be exchanged do not exist.
            ValueError: If the new items do not exist or do not match the old items.
            ValueError: If the number of items to be exchanged does not match.
        """
        order = self._order(order_id)
        if order["status"] != "delivered":
            raise ValueError("Non-delivered order cannot be exchanged")
        self._check_counts(order, item_ids, "Number of {item_id} not found.")
        if len(item_ids) != len(new_item_ids):
            raise ValueError("The number of items to be exchanged should match.")
        diff: float = 0
        for item_id, new_item_id in zip(item_ids, new_item_ids, strict=False):
            item = self._order_item(order, item_id)
            variant = self._variant(item["product_id"], new_item_id)
            if not variant["available"]:
                raise ValueError(f"New item {new_item_id} not found or available")
            diff += variant["price"] - item["price"]
        diff = round(diff, 2)
        method = self._payment_method(order["user_id"], payment_method_id)
        if method["source"] == "gift_card" and method["balance"] < diff:
            raise ValueError("Insufficient gift card balance to pay for the price difference")
        changed = self._mut("orders", order_id)
        changed["status"] = "exchange requested"
        changed["exchange_items"] = sorted(item_ids)
        changed["exchange_new_items"] = sorted(new_item_ids)
        changed["exchange_payment_method_id"] = payment_method_id
        changed["exchange_price_difference"] = diff
        return changed

    @tool("read")
    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> str:
        """Find user id by first name, last name, and zip code. If the user is not found, the function
        will return an error message. By default, find user id by email, and only call this function
        if the user is not found by email or cannot remember email.

        Args:
            first_name: The first name of the customer, such as 'John'.
            last_name: The last name of the customer, such as 'Doe'.
            zip: The zip code of the customer, such as '12345'.

        Returns:
            str: The user id if found, otherwise an error message.

        Raises:
            ValueError: If the user is not found.
        """
        first, last = first_name.lower(), last_name.lower()
        for user_id, user in self.db.items("users"):
            name = user["name"]
            if (
                name["first_name"].lower() == first
                and name["last_name"].lower() == last
                and user["address"]["zip"] == zip
            ):
                return user_id
        raise ValueError("User not found")

    @tool("read")
    def find_user_id_by_email(self, email: str) -> str:
        """Find user id by email. If the user is not found, the function will return an error message.

        Args:
            email: The email of the user, such as 'something@example.com'.

        Returns:
            str: The user id if found, otherwise an error message.

        Raises:
            ValueError: If the user is not found.
        """
        wanted = email.lower()
        for user_id, user in self.db.items("users"):
            if user["email"].lower() == wanted:
                return user_id
        raise ValueError("User not found")

    @tool("read")
    def get_order_details(self, order_id: str) -> Record:
        """Get the status and details of an order.

        Args:
            order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.

        Returns:
            Order: The order details.

        Raises:
            ValueError: If the order is not found.
        """
        return self._order(order_id)

    @tool("read")
    def get_product_details(self, product_id: str) -> Record:
        """Get the inventory details of a product.

        Args:
            product_id: The product id, such as '6086499569'. Be careful the product id is different from the item id.

        Returns:
            Product: The product details.

        Raises:
            ValueError: If the product is not found.
        """
        return self._product(product_id)

    @tool("read")
    def get_item_details(self, item_id: str) -> Record:
        """Get the inventory details of an item.

        Args:
            item_id: The item id, such as '6086499569'. Be careful the item id is different from the product id.

        Returns:
            Variant: The item details.

        Raises:
            ValueError: If the item is not found.
        """
        return self._item(item_id)

    @tool("read")
    def get_user_details(self, user_id: str) -> Record:
        """Get the details of a user, including their orders.

        Args:
            user_id: The user id, such as 'sara_doe_496'.

        Returns:
            User: The user details.

        Raises:
            ValueError: If the user is not found.
        """
        return self._user(user_id)

    @tool("read")
    def list_all_product_types(self) -> str:
        """List the name and product id of all product types.
        Each product type has a variety of different items with unique item ids and options.
        There are only 50 product types in the store.

        Returns:
            str: A JSON string mapping product names to their product IDs, sorted alphabetically by name.
        """
        names = {product["name"]: product["product_id"] for _, product in self.db.items("products")}
        return json.dumps(names, sort_keys=True)

    @tool("write")
    def modify_pending_order_address(
        self,
        order_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> Record:
        """Modify the shipping address of a pending order. The agent needs to explain the modification detail and ask for explicit user confirmation (yes/no) to proceed.

        Args:
            order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
            address1: The first line of the address, such as '123 Main St'.
            address2: The second line of the address, such as 'Apt 1' or ''.
            city: The city, such as 'San Francisco'.
            state: The state, such as 'CA'.
            country: The country, such as 'USA'.
            zip: The zip code, such as '12345'.

        Returns:
            Order: The order details after the modification.

        Raises:
            ValueError: If the order is not pending.
        """
        order = self._order(order_id)
        if "pending" not in order["status"]:
            raise ValueError("Non-pending order cannot be modified")
        address = self._address(address1, address2, city, state, country, zip)
        changed = self._mut("orders", order_id)
        changed["address"] = address
        return changed

    @tool("write")
    def modify_pending_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
    ) -> Record:
        """Modify items in a pending order to new items of the same product type. For a pending order, this function can only be called once. The agent needs to explain the exchange detail and ask for explicit user confirmation (yes/no) to proceed.

        Args:
            order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
            item_ids: The item ids to be modified, each such as '1008292230'. There could be duplicate items in the list.
            new_item_ids: The item ids to be modified for, each such as '1008292230'. There could be duplicate items in the list. Each new item id should match the item id in the same position and be of the same product.
            payment_method_id: The payment method id to pay or receive refund for the item price difference, such as 'gift_card_0000000' or 'credit_card_0000000'. These can be looked up from the user or order details.

        Returns:
            Order: The order details after the modification.

        Raises:
            ValueError: If the order is not pending.
            ValueError: If the items to be modified do not exist.
            ValueError: If the new items do not exist or do not match the old items.
            ValueError: If the number of items to be modified does not match.
        """
        order = self._order(order_id)
        if order["status"] != "pending":
            raise ValueError("Non-pending order cannot be modified")
        self._check_counts(order, item_ids, "{item_id} not found")
        if len(item_ids) != len(new_item_ids):
            raise ValueError("The number of items to be exchanged should match")
        diff: float = 0
        variant: Record = {}
        pairs = list(zip(item_ids, new_item_ids, strict=False))
        for item_id, new_item_id in pairs:
            if item_id == new_item_id:
                raise ValueError("The new item id should be different from the old item id")
            item = self._order_item(order, item_id)
            variant = self._variant(item["product_id"], new_item_id)
            if not variant["available"]:
                raise ValueError(f"New item {new_item_id} not found or available")
            diff += variant["price"] - item["price"]
        method = self._payment_method(order["user_id"], payment_method_id)
        is_gift_card = method["source"] == "gift_card"
        if is_gift_card and method["balance"] < diff:
            raise ValueError("Insufficient gift card balance to pay for the new item")
        changed = self._mut("orders", order_id)
        changed["payment_history"].append(
            {
                "transaction_type": "payment" if diff > 0 else "refund",
                "amount": float(abs(diff)),
                "payment_method_id": payment_method_id,
            }
        )
        if is_gift_card:
            card = self._gift_card_mut(order["user_id"], payment_method_id)
            card["balance"] = round(card["balance"] - diff, 2)
        # Upstream quirk (spec §8.3): every modified item takes the LAST pair's variant.
        for item_id, new_item_id in pairs:
            item = self._order_item(changed, item_id)
            item["item_id"] = new_item_id
            item["price"] = variant["price"]
            item["options"] = clone(variant["options"])
        changed["status"] = "pending (item modified)"
        return changed

    @tool("write")
    def modify_pending_order_payment(
        self,
        order_id: str,
        payment_method_id: str,
    ) -> Record:
        """Modify the payment method of a pending order. The agent needs to explain the modification detail and ask for explicit user confirmation (yes/no) to proceed.

        Args:
            order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
            payment_method_id: The payment method id to pay or receive refund for the item price difference, such as 'gift_card_0000000' or 'credit_card_0000000'. These can be looked up from the user or order details.

        Returns:
            Order: The order details after the modification.

        Raises:
            ValueError: If the order is not pending.
            ValueError: If the payment method does not exist.
            ValueError: If the payment history has more than one payment.
            ValueError: If the new payment method is the same as the current one.
        """
        order = self._order(order_id)
        if "pending" not in order["status"]:
            raise ValueError("Non-pending order cannot be modified")
        user_id = order["user_id"]
        method = self._payment_method(user_id, payment_method_id)
        history = order["payment_history"]
        if len(history) != 1 or history[0]["transaction_type"] != "payment":
            raise ValueError("There should be exactly one payment for a pending order")
        old_method_id = history[0]["payment_method_id"]
        if old_method_id == payment_method_id:
            raise ValueError("The new payment method should be different from the current one")
        amount = history[0]["amount"]
        if method["source"] == "gift_card" and method["balance"] < amount:
            raise ValueError("Insufficient gift card balance to pay for the order")
        old_method = self._payment_method(user_id, old_method_id)
        changed = self._mut("orders", order_id)
        changed["payment_history"].extend(
            [
                {
                    "transaction_type": "payment",
                    "amount": amount,
                    "payment_method_id": payment_method_id,
                },
                {
                    "transaction_type": "refund",
                    "amount": amount,
                    "payment_method_id": old_method_id,
                },
            ]
        )
        if method["source"] == "gift_card":
            card = self._gift_card_mut(user_id, payment_method_id)
            card["balance"] = round(card["balance"] - amount, 2)
        if old_method["source"] == "gift_card":
            card = self._gift_card_mut(user_id, old_method_id)
            card["balance"] = round(card["balance"] + amount, 2)
        return changed

    @tool("write")
    def modify_user_address(
        self,
        user_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> Record:
        """Modify the default address of a user. The agent needs to explain the modification detail and ask for explicit user confirmation (yes/no) to proceed.

        Args:
            user_id: The user id, such as 'sara_doe_496'.
            address1: The first line of the address, such as '123 Main St'.
            address2: The second line of the address, such as 'Apt 1' or ''.
            city: The city, such as 'San Francisco'.
            state: The state, such as 'CA'.
            country: The country, such as 'USA'.
            zip: The zip code, such as '12345'.

        Returns:
            User: The user details after the modification.

        Raises:
            ValueError: If the user is not found.
        """
        self._user(user_id)
        address = self._address(address1, address2, city, state, country, zip)
        changed = self._mut("users", user_id)
        changed["address"] = address
        return changed

    @tool("write")
    def return_delivered_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        payment_method_id: str,
    ) -> Record:
        """Return some items of a delivered order.
        The order status will be changed to 'return requested'.
        The agent needs to explain the return detail and ask for explicit user confirmation (yes/no) to proceed.
        The user will receive follow-up email for how and where to return the item.

        Args:
            order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
            item_ids: The item ids to be returned, each such as '1008292230'. There could be duplicate items in the list.
            payment_method_id: The payment method id to pay or receive refund for the item price difference, such as 'gift_card_0000000' or 'credit_card_0000000'.
                             These can be looked up from the user or order details.

        Returns:
            Order: The order details after requesting the return.

        Raises:
            ValueError: If the order is not delivered.
            ValueError: If the payment method is not the original payment method or a gift card.
            ValueError: If the items to be returned do not exist.
        """
        order = self._order(order_id)
        if order["status"] != "delivered":
            raise ValueError("Non-delivered order cannot be returned")
        user = self._user(order["user_id"])
        method = self._payment_method(user["user_id"], payment_method_id)
        if (
            method["source"] != "gift_card"
            and payment_method_id != order["payment_history"][0]["payment_method_id"]
        ):
            raise ValueError("Payment method should be the original payment method")
        self._check_counts(order, item_ids, "Some item not found")
        changed = self._mut("orders", order_id)
        changed["status"] = "return requested"
        changed["return_items"] = sorted(item_ids)
        changed["return_payment_method_id"] = payment_method_id
        return changed

    @tool("generic")
    def transfer_to_human_agents(self, summary: str) -> str:
        """
        Transfer the user to a human agent, with a summary of the user's issue.
        Only transfer if
         -  the user explicitly asks for a human agent
         -  given the policy and the available tools, you cannot solve the user's issue.

        Args:
            summary: A summary of the user's issue.

        Returns:
            A message indicating the user has been transferred to a human agent.
        """
        return "Transfer successful"

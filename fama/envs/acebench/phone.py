"""The phone platform of ACEBench: device, messages, reminders and food delivery.

Every public method is an API the agent can call (schema-listed or not); it returns a dict,
a list, a float or a string exactly as upstream, and raises where upstream raises (the
executor turns exceptions into error results). Behaviour follows chenchen0103/ACEBench (MIT):
the class names match upstream so Python's own error texts (``TypeError`` on bad arguments)
read the same.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from fama.envs.acebench.data import Lang
from fama.envs.acebench.texts import text

Result = dict[str, Any]


def _status(ok: bool, message: str) -> Result:
    return {"status": ok, "message": message}


class BaseApi:
    """The device: Wi-Fi and login flags (every phone class has a copy, synced by broadcast)."""

    # methods that exist only in one language's implementation
    only_in: ClassVar[dict[str, Lang]] = {}

    def __init__(self, seed: Mapping[str, Any], lang: Lang) -> None:
        self._lang: Lang = lang
        self.wifi: Any = seed.get("wifi", False)
        self.logged_in: Any = seed.get("logged_in", True)

    def _load_scenario(self, config: Mapping[str, Any]) -> None:
        """Apply a task's ``initial_config`` entry (only the device flags are read)."""
        self.wifi = config.get("wifi", False)
        self.logged_in = config.get("logged_in", True)

    def _t(self, key: str, **values: Any) -> str:
        return text(self._lang, key, **values)

    def turn_on_wifi(self) -> Result:
        """Turn Wi-Fi on."""
        self.wifi = True
        return _status(True, self._t("wifi_on"))

    def login_device(self) -> Result:
        """Log the device in."""
        self.logged_in = True
        return _status(True, self._t("device_login"))


class MessageApi(BaseApi):
    """The SMS inbox (capacity 6; ids keep increasing after deletions)."""

    def __init__(self, seed: Mapping[str, Any], lang: Lang) -> None:
        super().__init__(seed, lang)
        self.max_capacity: int = seed["max_capacity"]
        self.user_list: dict[str, dict[str, Any]] = copy.deepcopy(seed["user_list"])
        self.inbox: dict[int, dict[str, Any]] = copy.deepcopy(seed["inbox"])
        self.message_id_counter: int = seed["message_id_counter"]

    def send_message(self, sender_name: str, receiver_name: str, message: str) -> Result:
        """Send a message (needs login and Wi-Fi and a free inbox slot); no ``time`` is stored."""
        if not self.logged_in:
            return _status(False, self._t("send_not_logged_in"))
        if not self.wifi:
            return _status(False, self._t("send_wifi_off"))
        if len(self.inbox) >= self.max_capacity:
            return _status(False, self._t("inbox_full"))
        if sender_name not in self.user_list or receiver_name not in self.user_list:
            return _status(False, self._t("send_unknown_user"))
        self.message_id_counter += 1
        self.inbox[self.message_id_counter] = {
            "sender_id": self.user_list[sender_name]["user_id"],
            "receiver_id": self.user_list[receiver_name]["user_id"],
            "message": message,
        }
        return _status(True, self._t("sent", receiver=receiver_name))

    def delete_message(self, message_id: int) -> Result:
        """Delete a message by its (integer) id."""
        if not self.logged_in:
            return _status(False, self._t("delete_not_logged_in"))
        if message_id not in self.inbox:
            return _status(False, self._t("no_message_id"))
        del self.inbox[message_id]
        return _status(True, self._t("deleted", message_id=message_id))

    def view_messages_between_users(self, sender_name: str, receiver_name: str) -> Result:
        """Messages sent from ``sender_name`` to ``receiver_name``, in id order."""
        if not self.logged_in:
            return _status(False, self._t("view_not_logged_in"))
        if sender_name not in self.user_list:
            return _status(False, self._t("no_sender"))
        if receiver_name not in self.user_list:
            return _status(False, self._t("no_receiver"))
        sender_id = self.user_list[sender_name]["user_id"]
        receiver_id = self.user_list[receiver_name]["user_id"]
        found = [
            {
                "id": msg_id,
                "sender": sender_name,
                "receiver": receiver_name,
                "message": msg["message"],
            }
            for msg_id, msg in self.inbox.items()
            if msg["sender_id"] == sender_id and msg["receiver_id"] == receiver_id
        ]
        if not found:
            return _status(False, self._t("no_messages"))
        return {"status": True, "messages": found}

    def search_messages(self, user_name: str, keyword: str) -> Result:
        """A user's sent or received messages containing ``keyword`` (no login check)."""
        if user_name not in self.user_list:
            return _status(False, self._t("no_user"))
        user_id = self.user_list[user_name]["user_id"]
        found = [
            {
                "id": msg_id,
                "sender_id": msg["sender_id"],
                "receiver_id": msg["receiver_id"],
                "message": msg["message"],
            }
            for msg_id, msg in self.inbox.items()
            if user_id in (msg["sender_id"], msg["receiver_id"])
            and keyword.lower() in msg["message"].lower()
        ]
        if not found:
            return _status(False, self._t("no_keyword_messages"))
        return {"status": True, "messages": found}

    def get_all_message_times_with_ids(self) -> dict[Any, Any]:
        """Message id -> time (raises ``KeyError`` for a sent message, which has no time)."""
        if not self.logged_in:
            return _status(False, self._t("times_not_logged_in"))
        return {msg_id: msg["time"] for msg_id, msg in self.inbox.items()}

    def get_latest_message_id(self) -> Result:
        """The id of the newest message by time (the first one wins a tie)."""
        return self._extreme_message_id(latest=True)

    def get_earliest_message_id(self) -> Result:
        """The id of the oldest message by time (the first one wins a tie)."""
        return self._extreme_message_id(latest=False)

    def _extreme_message_id(self, *, latest: bool) -> Result:
        prefix = "latest" if latest else "earliest"
        if not self.logged_in:
            return _status(False, self._t(f"{prefix}_not_logged_in"))
        if not self.inbox:
            return _status(False, self._t("inbox_empty"))
        best_id: int | None = None
        best_time: datetime | None = None
        for msg_id, msg in self.inbox.items():
            when = datetime.strptime(msg["time"], "%Y-%m-%d")  # KeyError after a send: upstream
            if best_time is None or (when > best_time if latest else when < best_time):
                best_id, best_time = msg_id, when
        message = self._t(f"{prefix}_id", message_id=best_id)
        return {"status": True, "message": message, "message_id": best_id}


class ReminderApi(BaseApi):
    """Reminders (capacity 6; keys 1..n, while the seeds carry ``reminder_id`` 1001..1003)."""

    only_in: ClassVar[dict[str, Lang]] = {"mark_as_notified": "zh", "search_reminders": "zh"}

    def __init__(self, seed: Mapping[str, Any], lang: Lang) -> None:
        super().__init__(seed, lang)
        self.max_capacity: int = seed["max_capacity"]
        self.reminder_list: dict[int, dict[str, Any]] = copy.deepcopy(seed["reminder_list"])
        self.reminder_id_counter: int = seed["reminder_id_counter"]

    def view_reminder_by_title(self, title: str) -> Result:
        """The first reminder with exactly this title."""
        if not self.logged_in:
            return _status(False, self._t("reminder_view_not_logged_in"))
        for reminder in self.reminder_list.values():
            if reminder["title"] == title:
                return {"status": True, "reminder": reminder}
        return _status(False, self._t("no_reminder_title", title=title))

    def add_reminder(self, title: str, description: str, time: Any) -> Result:
        """Add a reminder; ``time`` is stored as given."""
        if not self.logged_in:
            return _status(False, self._t("reminder_add_not_logged_in"))
        if len(self.reminder_list) >= self.max_capacity:
            return _status(False, self._t("reminders_full"))
        self.reminder_id_counter += 1
        key = self.reminder_id_counter
        self.reminder_list[key] = {
            "reminder_id": key,
            "title": title,
            "description": description,
            "time": time,
            "notified": False,
        }
        return _status(True, self._t("reminder_added", title=title))

    def delete_reminder(self, reminder_id: int) -> Result:
        """Delete a reminder by its key (1..n, not the 1001.. ``reminder_id``)."""
        if not self.logged_in:
            return _status(False, self._t("reminder_delete_not_logged_in"))
        if reminder_id not in self.reminder_list:
            return _status(False, self._t("no_reminder_id"))
        del self.reminder_list[reminder_id]
        return _status(True, self._t("reminder_deleted", reminder_id=reminder_id))

    def view_all_reminders(self) -> Result:
        """Every reminder's title, description, time and notified flag (no login check)."""
        if not self.reminder_list:
            return _status(False, self._t("no_reminders"))
        fields = ("title", "description", "time", "notified")
        reminders = [{f: r[f] for f in fields} for r in self.reminder_list.values()]
        return {"status": True, "reminders": reminders}

    def mark_as_notified(self, reminder_id: int) -> Result:
        """(Chinese implementation only) mark a reminder as notified."""
        if reminder_id not in self.reminder_list:
            return _status(False, self._t("no_reminder_id"))
        self.reminder_list[reminder_id]["notified"] = True
        return _status(True, self._t("reminder_notified", reminder_id=reminder_id))

    def search_reminders(self, keyword: str) -> Result:
        """(Chinese implementation only) reminders whose title or description has ``keyword``.

        As upstream, a match raises: the stored time is a string and has no ``strftime``. The
        keyword is lower-cased per reminder, as upstream, so a non-string keyword raises only
        when there is a reminder to compare.
        """
        found = [
            {
                "title": r["title"],
                "description": r["description"],
                "time": r["time"].strftime("%Y-%m-%d %H:%M"),
            }
            for r in self.reminder_list.values()
            if keyword.lower() in r["title"].lower() or keyword.lower() in r["description"].lower()
        ]
        if not found:
            return _status(False, self._t("no_keyword_reminders"))
        return {"status": True, "reminders": found}


class FoodPlatform(BaseApi):
    """Food delivery: accounts with balances, merchants' menus, logins and orders."""

    def __init__(self, seed: Mapping[str, Any], lang: Lang) -> None:
        super().__init__(seed, lang)
        self.users: dict[str, dict[str, Any]] = copy.deepcopy(seed["users"])
        self.merchant_list: dict[str, dict[str, Any]] = copy.deepcopy(seed["merchant_list"])
        self.logged_in_users: list[Any] = copy.deepcopy(seed["logged_in_users"])
        self.orders: list[dict[str, Any]] = copy.deepcopy(seed["orders"])

    def _load_scenario(self, config: Mapping[str, Any]) -> None:
        super()._load_scenario(config)
        self.logged_in_users = list(config.get("logged_in_users", []))

    def login_food_platform(self, username: str, password: str) -> Result:
        """Log a platform user in (needs Wi-Fi)."""
        if not self.wifi:
            return _status(False, self._t("food_wifi_off"))
        if username not in self.users:
            return _status(False, self._t("food_no_user"))
        if self.users[username]["password"] != password:
            return _status(False, self._t("food_bad_password"))
        if username in self.logged_in_users:
            return _status(False, self._t("food_already_in", username=username))
        self.logged_in_users.append(username)
        return _status(True, self._t("food_logged_in", username=username))

    def view_logged_in_users(self) -> Result:
        """The users logged in to the platform."""
        if not self.logged_in_users:
            return _status(False, self._t("food_nobody_in"))
        return {"status": True, "logged_in_users": self.logged_in_users}

    def check_balance(self, user_name: str) -> float:
        """A user's balance (0.0 for an unknown user)."""
        if user_name in self.users:
            balance: float = self.users[user_name]["balance"]
            return balance
        return 0.0

    def add_food_delivery_order(self, username: str, merchant_name: str, items: Any) -> Result:
        """Order ``items`` ([{product, quantity}]) from one merchant and pay from the balance.

        Every item is validated first (integer quantity > 0, product on the menu); the
        English platform refuses a total above the balance, the Chinese one a total equal
        to or above it (as upstream).
        """
        if username not in self.logged_in_users:
            return _status(False, self._t("food_not_logged_in", username=username))
        if merchant_name not in self.merchant_list:
            return _status(False, self._t("no_merchant"))
        menu = self.merchant_list[merchant_name]["menu"]
        total = 0.0
        ordered: list[dict[str, Any]] = []
        for item in items:
            product = item.get("product")
            quantity = item.get("quantity", 1)
            if not isinstance(quantity, int) or quantity <= 0:
                return _status(False, self._t("bad_quantity", quantity=quantity, product=product))
            entry = next((p for p in menu if p["product"] == product), None)
            if entry is None:
                return _status(
                    False, self._t("no_product", product=product, merchant=merchant_name)
                )
            total += entry["price"] * quantity
            ordered.append(
                {"product": product, "quantity": quantity, "price_per_unit": entry["price"]}
            )
        balance = self.users[username]["balance"]
        if total > balance or (self._lang == "zh" and total == balance):
            return _status(False, self._t("food_insufficient"))
        self.users[username]["balance"] -= total
        self.orders.append(
            {
                "user_name": username,
                "merchant_name": merchant_name,
                "items": ordered,
                "total_price": total,
            }
        )
        return _status(True, self._t("ordered", merchant=merchant_name, total=total))

    def get_products(self, merchant_name: str) -> Any:
        """A merchant's menu (a list), or an error dict."""
        merchant = self.merchant_list.get(merchant_name)
        if merchant:
            return merchant["menu"]
        return _status(False, self._t("merchant_missing", merchant=merchant_name))

    def view_orders(self, user_name: str) -> Result:
        """A user's orders."""
        mine = [order for order in self.orders if order["user_name"] == user_name]
        if not mine:
            return _status(False, self._t("no_orders"))
        return {"status": True, "orders": mine}

    def search_orders(self, keyword: str) -> Result:
        """Orders whose merchant or a product contains ``keyword``.

        The Chinese implementation lower-cases the item dict itself, which raises as soon as
        an order's merchant does not match (kept as upstream). The keyword is lower-cased per
        comparison, as upstream, so a non-string keyword raises only when there is an order.
        """
        found = [
            order
            for order in self.orders
            if keyword.lower() in order["merchant_name"].lower()
            or any(
                keyword.lower() in self._item_text(item).lower() for item in order.get("items", [])
            )
        ]
        if not found:
            return _status(False, self._t("no_matching_orders"))
        return {"status": True, "orders": found}

    def _item_text(self, item: Any) -> Any:
        return item["product"] if self._lang == "en" else item

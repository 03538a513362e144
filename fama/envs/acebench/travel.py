"""The airline platform of ACEBench: flights, bookings, changes and cancellations.

Public methods are the APIs (schema-listed or helpers); results and raised errors follow
chenchen0103/ACEBench (MIT), including its quirks: a wrong password or unknown flight makes
``reserve_flight`` raise, a flight change is not charged, a cancellation refunds to cash
and keeps the reservation, and the cancellation clock is fixed at 2024-07-14 06:00.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from fama.envs.acebench.data import Lang
from fama.envs.acebench.texts import text

CANCEL_NOW = datetime(2024, 7, 14, 6, 0, 0)
EXTRA_BAG_FEE = 50
# free checked bags by membership level and cabin (economy, business)
FREE_BAGS = {"regular": (1, 2), "silver": (2, 3), "gold": (3, 3)}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_FLIGHT_FIELDS = (
    "flight_no",
    "origin",
    "destination",
    "depart_time",
    "arrival_time",
    "status",
    "seats_available",
    "economy_price",
    "business_price",
)


class Travel:
    """Users with cash/bank balances and membership, a flight list and reservations."""

    only_in: ClassVar[dict[str, Lang]] = {}

    def __init__(self, seed: Mapping[str, Any], lang: Lang) -> None:
        self._lang: Lang = lang
        self.users: dict[str, dict[str, Any]] = copy.deepcopy(seed["users"])
        self.flights: list[dict[str, Any]] = copy.deepcopy(seed["flights"])
        self.reservations: list[dict[str, Any]] = copy.deepcopy(seed["reservations"])

    def _load_scenario(self, config: Mapping[str, Any]) -> None:
        """Travel reads nothing from a task's ``initial_config``."""

    def _t(self, key: str, **values: Any) -> str:
        return text(self._lang, key, **values)

    def _cabin_table(self, economy: Any, business: Any) -> dict[str, Any]:
        return {self._t("economy"): economy, self._t("business"): business}

    def get_flight_details(self, origin: Any = None, destination: Any = None) -> Any:
        """Flights filtered by exact origin and/or destination (a sentence when none)."""
        flights = self.flights
        if origin:
            flights = [f for f in flights if f["origin"] == origin]
        if destination:
            flights = [f for f in flights if f["destination"] == destination]
        if not flights:
            return self._t("no_direct_flights")
        return [{key: f[key] for key in _FLIGHT_FIELDS} for f in flights]

    def get_user_details(self, user_id: Any, password: Any) -> dict[str, Any]:
        """A user's profile without the password, or an error dict."""
        user = self.users.get(user_id)
        if user and user["password"] == password:
            return {key: value for key, value in user.items() if key != "password"}
        return {"status": "error", "message": self._t("bad_login")}

    def get_reservation_details(self, reservation_id: Any = None, user_id: Any = None) -> Any:
        """Reservations by id (preferred) or by user, each with its first matching flight."""
        if reservation_id:
            found = [r for r in self.reservations if r["reservation_id"] == reservation_id]
        elif user_id:
            found = [r for r in self.reservations if r["user_id"] == user_id]
        else:
            return {"status": "error", "message": self._t("need_reservation_or_user")}
        return [{**r, "flight_info": self._first_flight(r["flight_no"])} for r in found]

    def _first_flight(self, flight_no: Any) -> dict[str, Any] | None:
        return next((f for f in self.flights if f["flight_no"] == flight_no), None)

    def authenticate_user(self, user_id: Any, password: Any) -> dict[str, Any]:
        """The user record when the password matches, else an error dict (never falsy)."""
        user = self.users.get(user_id)
        if user and user["password"] == password:
            return user
        return {"status": "error", "message": self._t("bad_login")}

    def get_baggage_allowance(self, membership_level: Any, cabin_class: Any) -> int:
        """Free checked bags for a membership level and cabin (0 when unknown)."""
        table = {
            level: self._cabin_table(economy, business)
            for level, (economy, business) in FREE_BAGS.items()
        }
        allowance: int = table.get(membership_level, {}).get(cabin_class, 0)
        return allowance

    def find_transfer_flights(
        self, origin_city: Any, transfer_city: Any, destination_city: Any
    ) -> Any:
        """Available two-leg connections whose first leg lands before the second departs."""
        first_legs = [
            f
            for f in self.flights
            if f["origin"] == origin_city
            and f["destination"] == transfer_city
            and f["status"] == "available"
        ]
        second_legs = [
            f
            for f in self.flights
            if f["origin"] == transfer_city
            and f["destination"] == destination_city
            and f["status"] == "available"
        ]
        pairs = [
            {"first_leg": first, "second_leg": second}
            for first in first_legs
            for second in second_legs
            if datetime.strptime(first["arrival_time"], _TIME_FORMAT)
            < datetime.strptime(second["depart_time"], _TIME_FORMAT)
        ]
        return pairs or self._t("no_transfer_flights")

    def calculate_baggage_fee(
        self, membership_level: Any, cabin_class: Any, baggage_count: Any
    ) -> Any:
        """50 per bag above the free allowance (an unknown level or cabin raises ``KeyError``)."""
        free = {
            level: self._cabin_table(economy, business)
            for level, (economy, business) in FREE_BAGS.items()
        }
        free_limit = free[membership_level][cabin_class]
        return max(baggage_count - free_limit, 0) * EXTRA_BAG_FEE

    def update_balance(self, user: Any, payment_method: Any, amount: Any) -> bool:
        """Add ``amount`` to the user's cash or bank balance; False when it would go negative.

        Any other payment method changes nothing and still reports success (as upstream).
        """
        if payment_method in ("cash", "bank"):
            key = f"{payment_method}_balance"
            if user[key] + amount < 0:
                return False
            user[key] += amount
        return True

    def reserve_flight(
        self,
        user_id: Any,
        password: Any,
        flight_no: Any,
        cabin: Any,
        payment_method: Any,
        baggage_count: Any,
    ) -> str:
        """Book a flight and pay fare plus extra-bag fees from cash or bank.

        As upstream: the authentication result is not checked (a bad login raises when the
        membership is read), an unknown or unavailable flight raises, any cabin other than
        economy is priced as business.
        """
        user = self.authenticate_user(user_id, password)
        flight: Any = next(
            (f for f in self.flights if f["flight_no"] == flight_no and f["status"] == "available"),
            None,
        )
        # an unknown flight (None) raises TypeError here, a bad login KeyError on the next line
        price = flight["economy_price"] if cabin == self._t("economy") else flight["business_price"]
        total = price + self.calculate_baggage_fee(user["membership_level"], cabin, baggage_count)
        if payment_method not in ("cash", "bank"):
            return self._t("bad_payment")
        account = self.users[user_id]
        key = f"{payment_method}_balance"
        if total > account[key]:
            return self._t(f"{payment_method}_insufficient")
        account[key] -= total
        flight["seats_available"] -= 1
        reservation_id = f"res_{len(self.reservations) + 1}"
        self.reservations.append(
            {
                "reservation_id": reservation_id,
                "user_id": user_id,
                "flight_no": flight_no,
                "payment_method": payment_method,
                "cabin": cabin,
                "baggage": baggage_count,
            }
        )
        return self._t("booked", reservation_id=reservation_id, total=total)

    def modify_flight(
        self,
        user_id: Any,
        reservation_id: Any,
        new_flight_no: Any = None,
        new_cabin: Any = None,
        add_baggage: Any = 0,
        new_payment_method: Any = None,
    ) -> str:
        """Change flight (same route, free), cabin (fare difference) and/or add bags.

        The cabin fare difference is priced on the reservation's flight before any flight
        change; the cabin is changed even when the difference cannot be paid; added bags
        are recorded even when their fee cannot be paid (as upstream).
        """
        reservation = next(
            (
                r
                for r in self.reservations
                if r["reservation_id"] == reservation_id and r["user_id"] == user_id
            ),
            None,
        )
        if not reservation:
            return self._t("reservation_mismatch")
        current = self._first_flight(reservation["flight_no"])
        if not current:
            return self._t("flight_not_found")
        payment_method = new_payment_method if new_payment_method else reservation["payment_method"]
        user = self.users[user_id]
        notes: list[str] = []
        if new_flight_no and new_flight_no != reservation["flight_no"]:
            new_flight = self._first_flight(new_flight_no)
            same_route = (
                new_flight is not None
                and new_flight["origin"] == current["origin"]
                and new_flight["destination"] == current["destination"]
            )
            if not same_route:
                return self._t("flight_change_failed")
            reservation["flight_no"] = new_flight_no
            notes.append(self._t("flight_changed"))
        if new_cabin and new_cabin != reservation.get("cabin"):
            difference = self.calculate_price_difference(current, reservation["cabin"], new_cabin)
            reservation["cabin"] = new_cabin
            if difference > 0:
                paid = self.update_balance(user, payment_method, -difference)
                notes.append(
                    self._t("cabin_paid", amount=difference) if paid else self._t("cabin_unpaid")
                )
            elif difference < 0:
                self.update_balance(user, payment_method, -difference)
                notes.append(self._t("cabin_refunded", amount=-difference))
        if add_baggage > 0:
            free = self.get_baggage_allowance(user["membership_level"], reservation["cabin"])
            total_bags = reservation.get("baggage", 0) + add_baggage
            cost = max(0, total_bags - free) * EXTRA_BAG_FEE
            if cost > 0:
                paid = self.update_balance(user, payment_method, -cost)
                notes.append(
                    self._t("baggage_paid", amount=cost) if paid else self._t("baggage_unpaid")
                )
            reservation["baggage"] = total_bags
        return " ".join(notes) if notes else self._t("modified_free")

    def cancel_reservation(self, user_id: Any, reservation_id: Any, reason: Any) -> str:
        """Refund a reservation's fare to the user's cash; the reservation itself stays."""
        user = self.users.get(user_id, None)
        if not user:
            return self._t("invalid_user_id")
        reservation = next(
            (
                r
                for r in self.reservations
                if r["reservation_id"] == reservation_id and r["user_id"] == user_id
            ),
            None,
        )
        if not reservation:
            return self._t("invalid_reservation")
        flight = self._first_flight(reservation["flight_no"])
        if not flight:
            return self._t("invalid_flight")
        departure = datetime.strptime(flight["depart_time"], _TIME_FORMAT)
        if departure < CANCEL_NOW:
            return self._t("flight_used")
        economy = reservation["cabin"] == self._t("economy")
        price = flight["economy_price"] if economy else flight["business_price"]
        if reason == self._t("airline_cancelled_reason"):
            self.process_refund(user, price)
            return self._t("cancel_airline", refund=price)
        if departure - CANCEL_NOW > timedelta(days=1):
            self.process_refund(user, price)
            return self._t("cancel_free", refund=price)
        fee = price * 0.1
        refund = price - fee
        self.process_refund(user, refund)
        return self._t("cancel_fee", fee=fee, refund=refund)

    def process_refund(self, user: Any, amount: Any) -> None:
        """Add ``amount`` to the user's cash balance."""
        user["cash_balance"] += amount

    def calculate_price_difference(self, flight: Any, old_cabin: Any, new_cabin: Any) -> Any:
        """New cabin fare minus old cabin fare on ``flight`` (an unknown cabin counts 0)."""
        prices = self._cabin_table(flight["economy_price"], flight["business_price"])
        return prices.get(new_cabin, 0) - prices.get(old_cabin, 0)

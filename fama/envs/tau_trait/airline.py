"""tau-trait airline: the tau-bench v1 airline tools over the raw JSON data dict.

Behaviour follows sierra-research/tau-bench (MIT), whose airline tools tau-trait uses unchanged,
including its quirks: ``get_reservation_details`` says "user not found" for an unknown
reservation, ``update_reservation_flights`` never changes the reservation's ``cabin``,
``search_onestop_flight`` shows the second leg's status and prices of the first leg's date,
new reservations are ``HATHAT``/``HATHAU``/``HATHAV`` created at ``2024-05-15T15:00:00`` and
gift-card amounts are not rounded. Deviations: stored passenger and payment lists are copies
of the call's arguments (upstream keeps references to them), and a fourth certificate for one
user returns an error text (upstream returns ``None`` and its episode crashes).
"""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path

from fama.envs.tau_trait.retail import (
    TRANSFER_TOOL,
    Data,
    calculate,
    think,
    transfer_to_human_agents,
    upstream_named,
)
from fama.envs.tau_trait.runtime import DomainTools, load_json_files

AIRPORTS = {
    "SFO": "San Francisco",
    "JFK": "New York",
    "LAX": "Los Angeles",
    "ORD": "Chicago",
    "DFW": "Dallas",
    "DEN": "Denver",
    "SEA": "Seattle",
    "ATL": "Atlanta",
    "MIA": "Miami",
    "BOS": "Boston",
    "PHX": "Phoenix",
    "IAH": "Houston",
    "LAS": "Las Vegas",
    "MCO": "Orlando",
    "EWR": "Newark",
    "CLT": "Charlotte",
    "MSP": "Minneapolis",
    "DTW": "Detroit",
    "PHL": "Philadelphia",
    "LGA": "LaGuardia",
}
RESERVATION_IDS = ("HATHAT", "HATHAU", "HATHAV")
CERTIFICATE_IDS = ("certificate_3221322", "certificate_3221323", "certificate_3221324")
BOOKING_TIME = "2024-05-15T15:00:00"


def load_data(root: Path) -> Data:
    """Fresh airline data from ``<root>/airline/{flights,reservations,users}.json``."""
    return load_json_files(root, "airline", ("flights", "reservations", "users"))


# --- read tools ------------------------------------------------------------------------------


@upstream_named
def get_reservation_details(data: Data, reservation_id: str) -> str:
    """The reservation record as JSON (unknown id: upstream's "user not found")."""
    reservations = data["reservations"]
    if reservation_id in reservations:
        return json.dumps(reservations[reservation_id])
    return "Error: user not found"


@upstream_named
def get_user_details(data: Data, user_id: str) -> str:
    """The user record as JSON."""
    users = data["users"]
    if user_id in users:
        return json.dumps(users[user_id])
    return "Error: user not found"


@upstream_named
def list_all_airports(data: Data) -> str:
    """Airport code -> city."""
    return json.dumps(AIRPORTS)


def _flight_on(flight: Data, date: str) -> Data:
    """A flight without its ``dates`` table, merged with that table's entry for ``date``."""
    result = {key: value for key, value in flight.items() if key != "dates"}
    result.update(flight["dates"][date])
    return result


@upstream_named
def search_direct_flight(data: Data, origin: str, destination: str, date: str) -> str:
    """Available direct flights on a date, as a JSON list."""
    results = []
    for flight in data["flights"].values():
        if (
            flight["origin"] == origin
            and flight["destination"] == destination
            and date in flight["dates"]
            and flight["dates"][date]["status"] == "available"
        ):
            results.append(_flight_on(flight, date))
    return json.dumps(results)


@upstream_named
def search_onestop_flight(data: Data, origin: str, destination: str, date: str) -> str:
    """Available one-stop connections on a date, as a JSON list of ``[leg1, leg2]``."""
    flights = data["flights"]
    results = []
    for flight1 in flights.values():
        if flight1["origin"] != origin:
            continue
        for flight2 in flights.values():
            if flight2["destination"] != destination or flight1["destination"] != flight2["origin"]:
                continue
            overnight = "+1" in flight1["scheduled_arrival_time_est"]
            date2 = f"2024-05-{int(date[-2:]) + 1}" if overnight else date
            if flight1["scheduled_arrival_time_est"] > flight2["scheduled_departure_time_est"]:
                continue
            if not (date in flight1["dates"] and date2 in flight2["dates"]):
                continue
            if (
                flight1["dates"][date]["status"] == "available"
                and flight2["dates"][date2]["status"] == "available"
            ):
                leg1 = _flight_on(flight1, date)
                leg1["date"] = date
                leg2 = _flight_on(flight2, date)
                leg2["date"] = date2
                results.append([leg1, leg2])
    return json.dumps(results)


# --- write tools -----------------------------------------------------------------------------


def _price_flight(data: Data, flight: Data, cabin: str, passengers: int) -> str | None:
    """Set a requested flight's price, origin and destination; error text if unbookable."""
    flight_number = flight["flight_number"]
    if flight_number not in data["flights"]:
        return f"Error: flight {flight_number} not found"
    flight_data = data["flights"][flight_number]
    if flight["date"] not in flight_data["dates"]:
        return f"Error: flight {flight_number} not found on date {flight['date']}"
    flight_date_data = flight_data["dates"][flight["date"]]
    if flight_date_data["status"] != "available":
        return f"Error: flight {flight_number} not available on date {flight['date']}"
    if flight_date_data["available_seats"][cabin] < passengers:
        return f"Error: not enough seats on flight {flight_number}"
    flight["price"] = flight_date_data["prices"][cabin]
    flight["origin"] = flight_data["origin"]
    flight["destination"] = flight_data["destination"]
    return None


@upstream_named
def book_reservation(
    data: Data,
    user_id: str,
    origin: str,
    destination: str,
    flight_type: str,
    cabin: str,
    flights: list[Data],
    passengers: list[Data],
    payment_methods: list[Data],
    total_baggages: int,
    nonfree_baggages: int,
    insurance: str,
) -> str:
    """Book a reservation; gift cards are debited, used certificates removed."""
    reservations, users = data["reservations"], data["users"]
    if user_id not in users:
        return "Error: user not found"
    user = users[user_id]
    reservation_id = next(
        (rid for rid in RESERVATION_IDS[:-1] if rid not in reservations), RESERVATION_IDS[-1]
    )
    reservation: Data = {
        "reservation_id": reservation_id,
        "user_id": user_id,
        "origin": origin,
        "destination": destination,
        "flight_type": flight_type,
        "cabin": cabin,
        "flights": deepcopy(flights),
        "passengers": deepcopy(passengers),
        "payment_history": deepcopy(payment_methods),
        "created_at": BOOKING_TIME,
        "total_baggages": total_baggages,
        "nonfree_baggages": nonfree_baggages,
        "insurance": insurance,
    }

    total_price = 0
    for flight in reservation["flights"]:
        error = _price_flight(data, flight, cabin, len(passengers))
        if error is not None:
            return error
        total_price += flight["price"] * len(passengers)
    if insurance == "yes":
        total_price += 30 * len(passengers)
    total_price += 50 * nonfree_baggages

    methods = user["payment_methods"]
    for payment in payment_methods:
        payment_id, amount = payment["payment_id"], payment["amount"]
        if payment_id not in methods:
            return f"Error: payment method {payment_id} not found"
        if methods[payment_id]["source"] in ("gift_card", "certificate") and (
            methods[payment_id]["amount"] < amount
        ):
            return f"Error: not enough balance in payment method {payment_id}"
    paid = sum(payment["amount"] for payment in payment_methods)
    if paid != total_price:
        return (
            f"Error: payment amount does not add up, total price is {total_price}, but paid {paid}"
        )

    for payment in payment_methods:
        payment_id, amount = payment["payment_id"], payment["amount"]
        if methods[payment_id]["source"] == "gift_card":
            methods[payment_id]["amount"] -= amount
        elif methods[payment_id]["source"] == "certificate":
            del methods[payment_id]
    reservations[reservation_id] = reservation
    user["reservations"].append(reservation_id)
    return json.dumps(reservation)


@upstream_named
def cancel_reservation(data: Data, reservation_id: str) -> str:
    """Cancel a reservation: every payment is reversed (negative amounts)."""
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    refunds = [
        {"payment_id": payment["payment_id"], "amount": -payment["amount"]}
        for payment in reservation["payment_history"]
    ]
    reservation["payment_history"].extend(refunds)
    reservation["status"] = "cancelled"
    return json.dumps(reservation)


@upstream_named
def send_certificate(data: Data, user_id: str, amount: int) -> str:
    """Add a certificate payment method (at most three per user)."""
    users = data["users"]
    if user_id not in users:
        return "Error: user not found"
    methods = users[user_id]["payment_methods"]
    for payment_id in CERTIFICATE_IDS:
        if payment_id not in methods:
            methods[payment_id] = {"source": "certificate", "amount": amount, "id": payment_id}
            return f"Certificate {payment_id} added to user {user_id} with amount {amount}."
    return f"Error: user {user_id} already has all certificates {', '.join(CERTIFICATE_IDS)}"


def _update_payment(data: Data, reservation: Data, payment_id: str, price: float) -> Data | str:
    """The payment method paying ``price`` for a reservation change, or an error text."""
    methods = data["users"][reservation["user_id"]]["payment_methods"]
    if payment_id not in methods:
        return "Error: payment method not found"
    method: Data = methods[payment_id]
    if method["source"] == "certificate":
        return "Error: certificate cannot be used to update reservation"
    if method["source"] == "gift_card" and method["amount"] < price:
        return "Error: gift card balance is not enough"
    return method


@upstream_named
def update_reservation_baggages(
    data: Data, reservation_id: str, total_baggages: int, nonfree_baggages: int, payment_id: str
) -> str:
    """Set the bag counts; extra non-free bags cost 50 each."""
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    total_price = 50 * max(0, nonfree_baggages - reservation["nonfree_baggages"])
    method = _update_payment(data, reservation, payment_id, total_price)
    if isinstance(method, str):
        return method

    reservation["total_baggages"] = total_baggages
    reservation["nonfree_baggages"] = nonfree_baggages
    if method["source"] == "gift_card":
        method["amount"] -= total_price
    if total_price != 0:
        reservation["payment_history"].append({"payment_id": payment_id, "amount": total_price})
    return json.dumps(reservation)


@upstream_named
def update_reservation_flights(
    data: Data, reservation_id: str, cabin: str, flights: list[Data], payment_id: str
) -> str:
    """Replace the flights; the price difference is charged (negative: refunded)."""
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    passengers = len(reservation["passengers"])

    total_price = 0
    flights = deepcopy(flights)
    for flight in flights:
        kept = [
            old
            for old in reservation["flights"]
            if old["flight_number"] == flight["flight_number"]
            and old["date"] == flight["date"]
            and cabin == reservation["cabin"]
        ]
        if kept:
            total_price += kept[0]["price"] * passengers
            flight["price"] = kept[0]["price"]
            flight["origin"] = kept[0]["origin"]
            flight["destination"] = kept[0]["destination"]
            continue
        error = _price_flight(data, flight, cabin, passengers)
        if error is not None:
            return error
        total_price += flight["price"] * passengers
    total_price -= sum(flight["price"] for flight in reservation["flights"]) * passengers

    method = _update_payment(data, reservation, payment_id, total_price)
    if isinstance(method, str):
        return method
    if method["source"] == "gift_card":
        method["amount"] -= total_price
    reservation["flights"] = flights
    if total_price != 0:
        reservation["payment_history"].append({"payment_id": payment_id, "amount": total_price})
    return json.dumps(reservation)


@upstream_named
def update_reservation_passengers(data: Data, reservation_id: str, passengers: list[Data]) -> str:
    """Replace the passengers (their number cannot change)."""
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    if len(passengers) != len(reservation["passengers"]):
        return "Error: number of passengers does not match"
    reservation["passengers"] = deepcopy(passengers)
    return json.dumps(reservation)


WRITE_TOOLS = frozenset(
    {
        "book_reservation",
        "cancel_reservation",
        "send_certificate",
        "update_reservation_baggages",
        "update_reservation_flights",
        "update_reservation_passengers",
    }
)

DOMAIN = DomainTools(
    name="airline",
    tools={
        fn.__name__: fn
        for fn in (
            book_reservation,
            calculate,
            cancel_reservation,
            get_reservation_details,
            get_user_details,
            list_all_airports,
            search_direct_flight,
            search_onestop_flight,
            send_certificate,
            think,
            transfer_to_human_agents,
            update_reservation_baggages,
            update_reservation_flights,
            update_reservation_passengers,
        )
    },
    write_tools=WRITE_TOOLS,
    terminal_tools=frozenset({TRANSFER_TOOL}),
    load_data=load_data,
)

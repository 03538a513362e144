"""The tau2 airline domain: typed DB loading, the 14 tools' outputs and errors, gold replay."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from fama.envs.tau2.airline import AirlineTools, load_airline_document
from fama.envs.tau2.common import calculate_expression
from fama.envs.tau2.db import BaseDocument, DocumentDB, full_hash

INITIAL_HASH = "124e39a664b56402bcd09cb8a6a9cece6acb8462337c969799d5658e3250f263"

# Real records used below (values from the shipped db.json).
USER = "mei_hernandez_8984"  # gift card 98.0, two credit cards, two certificates of 250.0
GIFT_CARD = "gift_card_5309492"
CREDIT_CARD = "credit_card_2140654"
CERTIFICATE = "certificate_7502997"
RESERVATION = "79G8A9"  # mei's: economy, 2 passengers, 4 flights, history [gift card 1400]
# anya_sanchez_5251's DGLJTR: economy, 2 passengers, HAT156 + HAT055 on 2024-05-19 (187 + 164),
# business seats left for both; gift card 143.0 and a certificate.
RESERVATION_2 = "DGLJTR"
FLIGHTS_2 = [
    {"flight_number": "HAT156", "date": "2024-05-19"},
    {"flight_number": "HAT055", "date": "2024-05-19"},
]


@pytest.fixture(scope="module")
def airline_doc(tau2_data_dir: Path) -> BaseDocument:
    return load_airline_document(tau2_data_dir / "domains" / "airline" / "db.json")


@pytest.fixture
def db(airline_doc: BaseDocument) -> DocumentDB:
    return airline_doc.new_view()


@pytest.fixture
def tools(db: DocumentDB) -> AirlineTools:
    return AirlineTools(db)


def call(tools: AirlineTools, name: str, **arguments: Any) -> str:
    """Run a tool that must succeed; its output string."""
    output = tools.execute(name, arguments)
    assert not output.error, output.content
    return output.content


def fail(tools: AirlineTools, name: str, **arguments: Any) -> str:
    """Run a tool that must fail; its error content."""
    output = tools.execute(name, arguments)
    assert output.error, output.content
    return output.content


def booking(**overrides: Any) -> dict[str, Any]:
    """A valid one-passenger economy booking of HAT001 on 2024-05-20 (price 137)."""
    arguments: dict[str, Any] = {
        "user_id": USER,
        "origin": "PHL",
        "destination": "LGA",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": [{"flight_number": "HAT001", "date": "2024-05-20"}],
        "passengers": [{"first_name": "Mei", "last_name": "Hernandez", "dob": "1981-01-01"}],
        "payment_methods": [{"payment_id": CREDIT_CARD, "amount": 137}],
        "total_baggages": 0,
        "nonfree_baggages": 0,
        "insurance": "no",
    }
    arguments.update(overrides)
    return arguments


# --- loading ------------------------------------------------------------------------------


def test_initial_hash_and_load_time(tau2_data_dir: Path) -> None:
    start = time.perf_counter()
    document = load_airline_document(tau2_data_dir / "domains" / "airline" / "db.json")
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0  # about 0.25 s; generous bound for a busy machine
    assert document.new_view().hash() == INITIAL_HASH
    assert full_hash(document.tables) == INITIAL_HASH
    assert [len(document.tables[t]) for t in ("flights", "users", "reservations")] == [
        300,
        500,
        2000,
    ]


def test_records_are_typed_and_in_field_order(airline_doc: BaseDocument) -> None:
    tables = airline_doc.tables
    reservation = tables["reservations"][RESERVATION]
    assert list(reservation) == [
        "reservation_id",
        "user_id",
        "origin",
        "destination",
        "flight_type",
        "cabin",
        "flights",
        "passengers",
        "payment_history",
        "created_at",
        "total_baggages",
        "nonfree_baggages",
        "insurance",
        "status",
    ]
    assert list(reservation["flights"][0]) == [
        "flight_number",
        "origin",
        "destination",
        "date",
        "price",
    ]
    assert all(r["status"] is None for r in tables["reservations"].values())
    user = tables["users"][USER]
    assert list(user) == [
        "user_id",
        "name",
        "address",
        "email",
        "dob",
        "payment_methods",
        "saved_passengers",
        "membership",
        "reservations",
    ]
    assert list(user["address"]) == ["address1", "address2", "city", "country", "state", "zip"]
    assert list(user["payment_methods"][GIFT_CARD]) == ["source", "id", "amount"]
    assert type(user["payment_methods"][GIFT_CARD]["amount"]) is float
    assert type(reservation["payment_history"][0]["amount"]) is int
    flight = tables["flights"]["HAT001"]
    assert list(flight) == [
        "flight_number",
        "origin",
        "destination",
        "scheduled_departure_time_est",
        "scheduled_arrival_time_est",
        "dates",
    ]
    assert list(flight["dates"]["2024-05-01"]) == [
        "status",
        "actual_departure_time_est",
        "actual_arrival_time_est",
    ]
    assert list(flight["dates"]["2024-05-20"]) == ["status", "available_seats", "prices"]


def _minimal_db(**reservation_overrides: Any) -> dict[str, Any]:
    reservation = {
        "reservation_id": "AAAAAA",
        "user_id": "u",
        "origin": "JFK",
        "destination": "LAX",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": [
            {
                "origin": "JFK",
                "destination": "LAX",
                "flight_number": "HAT001",
                "date": "2024-05-20",
                "price": 100,
            }
        ],
        "passengers": [{"first_name": "A", "last_name": "B", "dob": "1990-01-01"}],
        "payment_history": [{"payment_id": "credit_card_1", "amount": 100}],
        "created_at": "2024-05-01T00:00:00",
        "total_baggages": 0,
        "nonfree_baggages": 0,
        "insurance": "no",
    }
    reservation.update(reservation_overrides)
    return {"flights": {}, "users": {}, "reservations": {"AAAAAA": reservation}}


def test_small_valid_document_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    path.write_text(json.dumps(_minimal_db()))
    tables = load_airline_document(path).tables
    record = tables["reservations"]["AAAAAA"]
    assert record["status"] is None
    assert list(record["flights"][0])[:3] == ["flight_number", "origin", "destination"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "Invalid JSON"),
        ("[]", "document: Input should be an object"),
        (json.dumps({"flights": {}, "users": {}}), "reservations: Field required"),
        (
            json.dumps(_minimal_db(cabin="first")),
            "reservations.AAAAAA.cabin: Input should be 'business', 'economy' or 'basic_economy'",
        ),
        (
            json.dumps(_minimal_db(total_baggages="many")),
            "reservations.AAAAAA.total_baggages: Input should be a valid integer",
        ),
        (
            json.dumps(_minimal_db(payment_history=[{"payment_id": "x"}])),
            "reservations.AAAAAA.payment_history.0.amount: Field required",
        ),
    ],
)
def test_corrupt_or_misshaped_file_is_a_clear_error(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "db.json"
    path.write_text(content)
    with pytest.raises(ValueError) as info:
        load_airline_document(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a valid airline DB: ")
    assert expected in message


def test_bad_date_status_and_payment_source_are_rejected(tmp_path: Path) -> None:
    document = _minimal_db()
    document["flights"] = {
        "HAT001": {
            "flight_number": "HAT001",
            "origin": "JFK",
            "destination": "LAX",
            "scheduled_departure_time_est": "06:00:00",
            "scheduled_arrival_time_est": "07:00:00",
            "dates": {"2024-05-20": {"status": "boarding"}},
        }
    }
    path = tmp_path / "db.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"flights\.HAT001\.dates\.2024-05-20: Input tag"):
        load_airline_document(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_airline_document(tmp_path / "absent.json")


# --- tool listing and schemas -------------------------------------------------------------


def test_tool_kinds() -> None:
    assert AirlineTools.tool_kinds() == {
        "book_reservation": "write",
        "calculate": "generic",
        "cancel_reservation": "write",
        "get_flight_status": "read",
        "get_reservation_details": "read",
        "get_user_details": "read",
        "list_all_airports": "read",
        "search_direct_flight": "read",
        "search_onestop_flight": "read",
        "send_certificate": "write",
        "transfer_to_human_agents": "generic",
        "update_reservation_baggages": "write",
        "update_reservation_flights": "write",
        "update_reservation_passengers": "write",
    }


def test_tool_schemas_follow_official_annotations() -> None:
    schemas = {s["function"]["name"]: s["function"] for s in AirlineTools.openai_schemas()}
    book = schemas["book_reservation"]
    assert book["description"] == "Book a reservation."
    params = book["parameters"]
    assert params["properties"]["cabin"]["enum"] == ["business", "economy", "basic_economy"]
    assert params["properties"]["flight_type"]["enum"] == ["round_trip", "one_way"]
    assert params["properties"]["insurance"]["enum"] == ["yes", "no"]
    assert params["properties"]["flights"]["items"]["anyOf"][0] == {"$ref": "#/$defs/FlightInfo"}
    assert sorted(params["$defs"]) == ["FlightInfo", "Passenger", "Payment"]
    assert "description" not in params["$defs"]["Payment"]  # upstream models have no docstring
    assert params["$defs"]["Payment"]["properties"]["amount"]["type"] == "integer"
    assert params["required"] == list(params["properties"])
    assert schemas["update_reservation_flights"]["description"] == (
        "Update the flight information of a reservation."
    )
    assert schemas["transfer_to_human_agents"]["description"] == (
        "Transfer the user to a human agent, with a summary of the user's issue.\n\n"
        "Only transfer if\n -  the user explicitly asks for a human agent\n"
        " -  given the policy and the available tools, you cannot solve the user's issue."
    )
    assert schemas["list_all_airports"]["parameters"]["properties"] == {}


# --- read tools ---------------------------------------------------------------------------


def test_get_reservation_details_output(tools: AirlineTools, airline_doc: BaseDocument) -> None:
    content = call(tools, "get_reservation_details", reservation_id=RESERVATION)
    assert content == json.dumps(airline_doc.tables["reservations"][RESERVATION])
    assert content.startswith('{"reservation_id": "79G8A9", "user_id": "mei_hernandez_8984", ')
    assert (
        '"flights": [{"flight_number": "HAT292", "origin": "MIA", "destination": "JFK", '
        '"date": "2024-05-16", "price": 197}, ' in content
    )
    assert content.endswith('"insurance": "yes", "status": null}')
    assert fail(tools, "get_reservation_details", reservation_id="NOPE00") == (
        "Error: Reservation NOPE00 not found"
    )


def test_get_user_details_output(tools: AirlineTools) -> None:
    content = call(tools, "get_user_details", user_id=USER)
    assert content.startswith(
        '{"user_id": "mei_hernandez_8984", "name": {"first_name": "Mei", "last_name": '
    )
    assert (
        '"gift_card_5309492": {"source": "gift_card", "id": "gift_card_5309492", "amount": 98.0}'
        in content
    )
    assert fail(tools, "get_user_details", user_id="nobody") == "Error: User nobody not found"
    assert fail(tools, "get_user_details") == (
        "Error: AirlineTools.get_user_details() missing 1 required positional argument: 'user_id'"
    )
    assert fail(tools, "get_user_details", user_id=USER, extra=1) == (
        "Error: AirlineTools.get_user_details() got an unexpected keyword argument 'extra'"
    )
    assert fail(tools, "no_such_tool") == "Error: Tool 'no_such_tool' not found."


def test_list_all_airports(tools: AirlineTools) -> None:
    airports = json.loads(call(tools, "list_all_airports"))
    assert len(airports) == 20
    assert airports[0] == {"iata": "SFO", "city": "San Francisco"}
    assert airports[-1] == {"iata": "LGA", "city": "LaGuardia"}
    assert call(tools, "list_all_airports").startswith('[{"iata": "SFO", "city": "San Francisco"}')


def test_get_flight_status(tools: AirlineTools) -> None:
    assert call(tools, "get_flight_status", flight_number="HAT001", date="2024-05-20") == (
        "available"
    )
    assert call(tools, "get_flight_status", flight_number="HAT001", date="2024-05-03") == (
        "cancelled"
    )
    assert fail(tools, "get_flight_status", flight_number="HAT999", date="2024-05-20") == (
        "Error: Flight HAT999 not found"
    )
    assert fail(tools, "get_flight_status", flight_number="HAT001", date="2024-06-01") == (
        "Error: Flight HAT001 not found on date 2024-06-01"
    )


def test_search_direct_flight(tools: AirlineTools, airline_doc: BaseDocument) -> None:
    results = json.loads(
        call(tools, "search_direct_flight", origin="PHL", destination="LGA", date="2024-05-20")
    )
    first = results[0]
    assert first["flight_number"] == "HAT001"
    assert list(first) == [
        "flight_number",
        "origin",
        "destination",
        "status",
        "scheduled_departure_time_est",
        "scheduled_arrival_time_est",
        "date",
        "available_seats",
        "prices",
    ]
    assert first["date"] is None and first["status"] == "available"
    assert first["prices"] == {"basic_economy": 61, "economy": 137, "business": 411}
    expected = [
        number
        for number, flight in airline_doc.tables["flights"].items()
        if flight["origin"] == "PHL"
        and flight["destination"] == "LGA"
        and flight["dates"].get("2024-05-20", {}).get("status") == "available"
    ]
    assert [r["flight_number"] for r in results] == expected
    # Landed date: nothing to book.
    assert (
        call(tools, "search_direct_flight", origin="PHL", destination="LGA", date="2024-05-02")
        == "[]"
    )


def _onestop_oracle(tables: dict[str, Any], origin: str, destination: str, date: str) -> list[Any]:
    """Independent reading of the official rule, straight from the raw flight records."""
    flights = list(tables["flights"].values())

    def leg(flight: dict[str, Any], day: str) -> dict[str, Any]:
        status = flight["dates"][day]
        return {
            "flight_number": flight["flight_number"],
            "origin": flight["origin"],
            "destination": flight["destination"],
            "status": "available",
            "scheduled_departure_time_est": flight["scheduled_departure_time_est"],
            "scheduled_arrival_time_est": flight["scheduled_arrival_time_est"],
            "date": day,
            "available_seats": status["available_seats"],
            "prices": status["prices"],
        }

    def available(flight: dict[str, Any], day: str) -> bool:
        return flight["dates"].get(day, {}).get("status") == "available"

    pairs = []
    for first in flights:
        if first["origin"] != origin or not available(first, date):
            continue
        arrival = first["scheduled_arrival_time_est"]
        day2 = f"2024-05-{int(date[-2:]) + 1}" if "+1" in arrival else date
        for second in flights:
            if (
                second["origin"] == first["destination"]
                and second["destination"] == destination
                and available(second, day2)
                and second["scheduled_departure_time_est"] >= arrival
            ):
                pairs.append([leg(first, date), leg(second, day2)])
    return pairs


def test_search_onestop_flight_next_day_and_string_times(
    tools: AirlineTools, airline_doc: BaseDocument
) -> None:
    content = call(
        tools, "search_onestop_flight", origin="LGA", destination="SEA", date="2024-05-20"
    )
    pairs = json.loads(content)
    assert pairs == _onestop_oracle(airline_doc.tables, "LGA", "SEA", "2024-05-20")
    summary = [(a["flight_number"], b["flight_number"], b["date"]) for a, b in pairs]
    # HAT002 arrives "01:30:00+1": its second legs are searched on the next day, and
    # "07:00:00" >= "01:30:00+1" holds as a string comparison.
    assert summary[:3] == [
        ("HAT002", "HAT045", "2024-05-21"),
        ("HAT002", "HAT156", "2024-05-21"),
        ("HAT002", "HAT251", "2024-05-21"),
    ]
    assert ("HAT201", "HAT251", "2024-05-20") in summary
    assert all(a["date"] == "2024-05-20" for a, _ in pairs)
    # "2024-05-30" + 1 day is the string "2024-05-31", which no flight has.
    late = json.loads(
        call(tools, "search_onestop_flight", origin="LGA", destination="SEA", date="2024-05-30")
    )
    assert all("+1" not in a["scheduled_arrival_time_est"] for a, _ in late)
    assert late == _onestop_oracle(airline_doc.tables, "LGA", "SEA", "2024-05-30")


def test_generic_tools(tools: AirlineTools) -> None:
    assert call(tools, "transfer_to_human_agents", summary="help") == "Transfer successful"
    assert call(tools, "calculate", expression="2 + 2") == "4.0"
    assert call(tools, "calculate", expression="10 / 3") == "3.33"
    assert call(tools, "calculate", expression="2 ** 3") == "8.0"
    assert fail(tools, "calculate", expression="2 + x") == (
        "Error: Invalid characters in expression"
    )
    assert fail(tools, "calculate", expression="1 / 0") == "Error: division by zero"
    assert fail(tools, "calculate", expression="1 +") == (
        "Error: invalid syntax (<string>, line 1)"
    )


@pytest.mark.parametrize(
    "expression",
    [
        "(1200 + 35.5) * 3 - 7 / 2",
        " 1+1",
        "-(4 // 3) + .5",
        "1.0 / 0",
        "1 // 0",
        "()",
        "(1)(2)",
        "(-1) ** 0.5",
        "10 ** 400",
        "10 ** 400 / 10 ** 399",
        "2.0 ** 10000",
        "",
        "08",
        "(*1)",
    ],
)
def test_calculate_matches_python_eval(expression: str) -> None:
    def outcome(evaluate: Any) -> str:
        try:
            return str(evaluate())
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    def official() -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "(1)(2)" warns at compile time
            return str(round(float(eval(expression, {"__builtins__": None}, {})), 2))

    assert outcome(lambda: calculate_expression(expression)) == outcome(official)


def test_calculate_refuses_huge_powers_at_once() -> None:
    start = time.perf_counter()
    with pytest.raises(OverflowError, match="int too large to convert to float"):
        calculate_expression("9 ** 9 ** 9")
    assert time.perf_counter() - start < 1.0


# --- book / cancel -----------------------------------------------------------------------


def test_book_reservation_success(tools: AirlineTools, db: DocumentDB) -> None:
    arguments = booking(
        passengers=[
            {"first_name": "Mei", "last_name": "Hernandez", "dob": "1981-01-01"},
            {"first_name": "Amelia", "last_name": "Ahmed", "dob": "1957-03-21", "note": "x"},
        ],
        # 2 x 137 + 2 x 30 insurance + 50 x 1 bag = 384
        payment_methods=[
            {"payment_id": GIFT_CARD, "amount": 98},
            {"payment_id": CERTIFICATE, "amount": 200},
            {"payment_id": CREDIT_CARD, "amount": 86},
            {"payment_id": "credit_card_6082923", "amount": 0},
        ],
        total_baggages=3,
        nonfree_baggages=1,
        insurance="yes",
    )
    content = call(tools, "book_reservation", **arguments)
    expected = {
        "reservation_id": "HATHAT",
        "user_id": USER,
        "origin": "PHL",
        "destination": "LGA",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": [
            {
                "flight_number": "HAT001",
                "origin": "PHL",
                "destination": "LGA",
                "date": "2024-05-20",
                "price": 137,
            }
        ],
        "passengers": [
            {"first_name": "Mei", "last_name": "Hernandez", "dob": "1981-01-01"},
            {"first_name": "Amelia", "last_name": "Ahmed", "dob": "1957-03-21"},
        ],
        "payment_history": arguments["payment_methods"],
        "created_at": "2024-05-15T15:00:00",
        "total_baggages": 3,
        "nonfree_baggages": 1,
        "insurance": "yes",
        "status": None,
    }
    assert content == json.dumps(expected)
    assert db.get("reservations", "HATHAT") == expected
    user = db.get("users", USER)
    assert user["reservations"][-1] == "HATHAT"
    methods = user["payment_methods"]
    assert methods[GIFT_CARD]["amount"] == 0.0
    assert CERTIFICATE not in methods  # removed whatever its remainder
    assert "certificate_3321326" in methods
    seats = db.get("flights", "HAT001")["dates"]["2024-05-20"]["available_seats"]
    assert seats == {"basic_economy": 10, "economy": 15, "business": 13}
    assert db.hash() == full_hash(db.to_dict())


def test_book_ids_then_too_many(tools: AirlineTools) -> None:
    ids = [
        json.loads(call(tools, "book_reservation", **booking()))["reservation_id"] for _ in range(3)
    ]
    assert ids == ["HATHAT", "HATHAU", "HATHAV"]
    assert fail(tools, "book_reservation", **booking()) == "Error: Too many reservations"


def test_book_then_cancel_twice(tools: AirlineTools, db: DocumentDB) -> None:
    call(
        tools,
        "book_reservation",
        **booking(
            payment_methods=[
                {"payment_id": GIFT_CARD, "amount": 98},
                {"payment_id": CREDIT_CARD, "amount": 39},
            ]
        ),
    )
    first = json.loads(call(tools, "cancel_reservation", reservation_id="HATHAT"))
    assert first["status"] == "cancelled"
    assert first["payment_history"] == [
        {"payment_id": GIFT_CARD, "amount": 98},
        {"payment_id": CREDIT_CARD, "amount": 39},
        {"payment_id": GIFT_CARD, "amount": -98},
        {"payment_id": CREDIT_CARD, "amount": -39},
    ]
    # No refund to the gift card, no seat released.
    assert db.get("users", USER)["payment_methods"][GIFT_CARD]["amount"] == 0.0
    assert db.get("flights", "HAT001")["dates"]["2024-05-20"]["available_seats"]["economy"] == 16


def test_cancel_is_not_idempotent(tools: AirlineTools, airline_doc: BaseDocument) -> None:
    call(tools, "cancel_reservation", reservation_id=RESERVATION)
    content = call(tools, "cancel_reservation", reservation_id=RESERVATION)
    record = json.loads(content)
    assert [p["amount"] for p in record["payment_history"]] == [1400, -1400, -1400, 1400]
    assert record["status"] == "cancelled"
    assert content.endswith('"insurance": "yes", "status": "cancelled"}')
    assert fail(tools, "cancel_reservation", reservation_id="ZZZZZZ") == (
        "Error: Reservation ZZZZZZ not found"
    )
    # The shared base record is untouched.
    assert airline_doc.tables["reservations"][RESERVATION]["status"] is None
    assert len(airline_doc.tables["reservations"][RESERVATION]["payment_history"]) == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # conversions of dict arguments come first, even before the user lookup
        (
            {"user_id": "nobody", "flights": [{"flight_number": "HAT001"}]},
            "Error: 1 validation error for FlightInfo\ndate\n  Field required",
        ),
        (
            {"user_id": "nobody", "passengers": [{"first_name": "A"}]},
            "Error: 2 validation errors for Passenger",
        ),
        (
            {"user_id": "nobody", "payment_methods": [{"payment_id": "x", "amount": 1.5}]},
            "Error: 1 validation error for Payment\namount",
        ),
        # then the user, then the literal checks
        ({"user_id": "nobody", "cabin": "first"}, "Error: User nobody not found"),
        (
            {"cabin": "first"},
            "Error: 1 validation error for Reservation\ncabin\n"
            "  Input should be 'business', 'economy' or 'basic_economy'",
        ),
        ({"flight_type": "two_way"}, "Error: 1 validation error for Reservation\nflight_type"),
        ({"insurance": True}, "Error: 1 validation error for Reservation\ninsurance"),
        ({"passengers": "Mei"}, "Error: 1 validation error for Reservation\npassengers"),
        ({"flights": ["HAT001"]}, "Error: 'str' object has no attribute 'flight_number'"),
        ({"flights": None}, "Error: 'NoneType' object is not iterable"),
        # then each flight
        (
            {"flights": [{"flight_number": "HAT999", "date": "2024-05-20"}]},
            "Error: Flight HAT999 not found",
        ),
        (
            {"flights": [{"flight_number": "HAT001", "date": "2024-06-20"}]},
            "Error: Flight HAT001 not found on date 2024-06-20",
        ),
        (
            {"flights": [{"flight_number": "HAT001", "date": "2024-05-03"}]},
            "Error: Flight HAT001 not available on date 2024-05-03",
        ),
        (
            {"cabin": "economy", "flights": [{"flight_number": "HAT292", "date": "2024-05-16"}]},
            "Error: Not enough seats on flight HAT292",
        ),
        # then each payment, then the sum
        (
            {"payment_methods": [{"payment_id": "paypal_1", "amount": 137}]},
            "Error: Payment method paypal_1 not found",
        ),
        (
            {"payment_methods": [{"payment_id": GIFT_CARD, "amount": 137}]},
            f"Error: Not enough balance in payment method {GIFT_CARD}",
        ),
        (
            {"payment_methods": [{"payment_id": CERTIFICATE, "amount": 251}]},
            f"Error: Not enough balance in payment method {CERTIFICATE}",
        ),
        (
            {"payment_methods": [{"payment_id": CREDIT_CARD, "amount": 100}]},
            "Error: Payment amount does not add up, total price is 137, but paid 100",
        ),
        (
            {"nonfree_baggages": 1},
            "Error: Payment amount does not add up, total price is 187, but paid 137",
        ),
    ],
)
def test_book_reservation_errors_in_check_order(
    tools: AirlineTools, db: DocumentDB, overrides: dict[str, Any], expected: str
) -> None:
    assert fail(tools, "book_reservation", **booking(**overrides)).startswith(expected)
    assert db.hash() == INITIAL_HASH  # every check runs before any change


def test_book_reservation_missing_argument(tools: AirlineTools) -> None:
    arguments = booking()
    del arguments["insurance"]
    assert fail(tools, "book_reservation", **arguments) == (
        "Error: AirlineTools.book_reservation() missing 1 required positional argument: 'insurance'"
    )


# --- updates ------------------------------------------------------------------------------


def test_update_baggages(tools: AirlineTools, db: DocumentDB) -> None:
    record = json.loads(
        call(
            tools,
            "update_reservation_baggages",
            reservation_id=RESERVATION,
            total_baggages=4,
            nonfree_baggages=2,
            payment_id=CREDIT_CARD,
        )
    )
    assert record["payment_history"][-1] == {"payment_id": CREDIT_CARD, "amount": 100}
    assert (record["total_baggages"], record["nonfree_baggages"]) == (4, 2)
    # Fewer non-free bags: total 0, no payment entry, values stored exactly as passed.
    content = call(
        tools,
        "update_reservation_baggages",
        reservation_id=RESERVATION,
        total_baggages=2.0,
        nonfree_baggages=1,
        payment_id=GIFT_CARD,
    )
    assert '"total_baggages": 2.0, "nonfree_baggages": 1,' in content
    assert len(json.loads(content)["payment_history"]) == 2
    assert db.get("users", USER)["payment_methods"][GIFT_CARD]["amount"] == 98.0
    # Gift card: charged 50 per added bag.
    call(
        tools,
        "update_reservation_baggages",
        reservation_id=RESERVATION,
        total_baggages=3,
        nonfree_baggages=2,
        payment_id=GIFT_CARD,
    )
    assert db.get("users", USER)["payment_methods"][GIFT_CARD]["amount"] == 48.0
    assert db.hash() == full_hash(db.to_dict())


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"reservation_id": "NOPE00", "payment_id": "x"}, "Error: Reservation NOPE00 not found"),
        ({"payment_id": "paypal_1"}, "Error: Payment method not found"),
        # the payment checks run even when nothing is owed
        (
            {"payment_id": CERTIFICATE, "nonfree_baggages": 0},
            "Error: Certificate cannot be used to update reservation",
        ),
        (
            {"payment_id": GIFT_CARD, "nonfree_baggages": 2},
            "Error: Gift card balance is not enough",
        ),
        (
            {"payment_id": CREDIT_CARD, "nonfree_baggages": "2"},
            "Error: unsupported operand type(s) for -: 'str' and 'int'",
        ),
    ],
)
def test_update_baggages_errors(
    tools: AirlineTools, db: DocumentDB, arguments: dict[str, Any], expected: str
) -> None:
    full = {"reservation_id": RESERVATION, "total_baggages": 3, "nonfree_baggages": 1}
    full.update(arguments)
    assert fail(tools, "update_reservation_baggages", **full) == expected
    assert db.hash() == INITIAL_HASH


def _flights_of(record: dict[str, Any]) -> list[dict[str, str]]:
    return [{"flight_number": f["flight_number"], "date": f["date"]} for f in record["flights"]]


def test_update_flights_same_cabin_keeps_prices(
    tools: AirlineTools, db: DocumentDB, airline_doc: BaseDocument
) -> None:
    original = airline_doc.tables["reservations"][RESERVATION]
    # HAT292 has 0 economy seats left on 2024-05-16, but kept flights are not re-checked.
    record = json.loads(
        call(
            tools,
            "update_reservation_flights",
            reservation_id=RESERVATION,
            cabin="economy",
            flights=_flights_of(original),
            payment_id=CREDIT_CARD,
        )
    )
    assert record["flights"] == original["flights"]  # old prices, not today's
    assert record["payment_history"] == original["payment_history"]  # total 0: no entry
    assert db.get("flights", "HAT292")["dates"]["2024-05-16"]["available_seats"]["economy"] == 0


def test_update_flights_cabin_change_reprices_every_leg(
    tools: AirlineTools, db: DocumentDB
) -> None:
    seats_before = db.get("flights", "HAT156")["dates"]["2024-05-19"]["available_seats"]
    record = json.loads(
        call(
            tools,
            "update_reservation_flights",
            reservation_id=RESERVATION_2,
            cabin="business",
            flights=FLIGHTS_2,
            payment_id="credit_card_1699800",
        )
    )
    assert record["flights"] == [
        {
            "flight_number": "HAT156",
            "origin": "PHX",
            "destination": "SEA",
            "date": "2024-05-19",
            "price": 276,
        },
        {
            "flight_number": "HAT055",
            "origin": "SEA",
            "destination": "DFW",
            "date": "2024-05-19",
            "price": 375,
        },
    ]
    # (276 + 375 - 187 - 164) x 2 passengers
    assert record["payment_history"][-1] == {"payment_id": "credit_card_1699800", "amount": 600}
    assert record["cabin"] == "business"
    # Seats are never touched by a flight change.
    assert db.get("flights", "HAT156")["dates"]["2024-05-19"]["available_seats"] == seats_before


def test_update_flights_refund_to_gift_card(
    tools: AirlineTools, db: DocumentDB, airline_doc: BaseDocument
) -> None:
    original = airline_doc.tables["reservations"][RESERVATION]
    record = json.loads(
        call(
            tools,
            "update_reservation_flights",
            reservation_id=RESERVATION,
            cabin="basic_economy",
            flights=_flights_of(original),
            payment_id=GIFT_CARD,
        )
    )
    # (100 + 59 + 64 + 58 - 670) x 2 = -778: a refund, which credits the gift card.
    assert record["payment_history"][-1] == {"payment_id": GIFT_CARD, "amount": -778}
    assert db.get("users", USER)["payment_methods"][GIFT_CARD]["amount"] == 876.0
    assert db.hash() == full_hash(db.to_dict())


def test_update_flights_replacing_one_leg(tools: AirlineTools, airline_doc: BaseDocument) -> None:
    original = airline_doc.tables["reservations"][RESERVATION]
    flights = _flights_of(original)
    flights[3] = {"flight_number": "HAT126", "date": "2024-05-18"}
    record = json.loads(
        call(
            tools,
            "update_reservation_flights",
            reservation_id=RESERVATION,
            cabin="economy",
            flights=flights,
            payment_id=CREDIT_CARD,
        )
    )
    new_price = airline_doc.tables["flights"]["HAT126"]["dates"]["2024-05-18"]["prices"]["economy"]
    assert record["flights"][:3] == original["flights"][:3]
    assert record["flights"][3]["price"] == new_price
    assert record["payment_history"][-1]["amount"] == (new_price - 152) * 2


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"flights": [{"date": "2024-05-16"}], "reservation_id": "NOPE00"},
            "Error: 1 validation error for FlightInfo",
        ),
        ({"reservation_id": "NOPE00"}, "Error: Reservation NOPE00 not found"),
        ({"cabin": "first"}, "Error: 'first'"),
        (
            {"flights": [{"flight_number": "HAT999", "date": "2024-05-16"}]},
            "Error: Flight HAT999 not found",
        ),
        (
            {"flights": [{"flight_number": "HAT292", "date": "2024-06-16"}]},
            "Error: Flight HAT292 not found on date 2024-06-16",
        ),
        (
            {"flights": [{"flight_number": "HAT292", "date": "2024-05-02"}]},
            "Error: Flight HAT292 not available on date 2024-05-02",
        ),
        (
            {
                "flights": [{"flight_number": "HAT292", "date": "2024-05-16"}],
                "cabin": "business",
                "payment_id": "nope",
            },
            "Error: Payment method not found",
        ),
        (
            {"cabin": "first", "flights": FLIGHTS_2, "reservation_id": RESERVATION_2},
            "Error: 'first'",
        ),
        (
            {
                "cabin": "business",
                "flights": FLIGHTS_2,
                "reservation_id": RESERVATION_2,
                "payment_id": "certificate_1025322",
            },
            "Error: Certificate cannot be used to update reservation",
        ),
        (
            {
                "cabin": "business",
                "flights": FLIGHTS_2,
                "reservation_id": RESERVATION_2,
                "payment_id": "gift_card_1319827",
            },
            "Error: Gift card balance is not enough",
        ),
    ],
)
def test_update_flights_errors(
    tools: AirlineTools,
    db: DocumentDB,
    airline_doc: BaseDocument,
    arguments: dict[str, Any],
    expected: str,
) -> None:
    full: dict[str, Any] = {
        "reservation_id": RESERVATION,
        "cabin": "economy",
        "flights": _flights_of(airline_doc.tables["reservations"][RESERVATION]),
        "payment_id": CREDIT_CARD,
    }
    full.update(arguments)
    assert fail(tools, "update_reservation_flights", **full).startswith(expected)
    assert db.hash() == INITIAL_HASH


def test_update_flights_not_enough_seats(tools: AirlineTools) -> None:
    # HAT292 on 2024-05-16 has 0 economy seats: a new flight there is checked.
    assert (
        fail(
            tools,
            "update_reservation_flights",
            reservation_id="4WQ150",
            cabin="economy",
            flights=[{"flight_number": "HAT292", "date": "2024-05-16"}],
            payment_id="gift_card_3576581",
        )
        == "Error: Not enough seats on flight HAT292"
    )


def test_update_passengers(tools: AirlineTools, db: DocumentDB) -> None:
    new = [
        {"first_name": "Mei", "last_name": "Hernandez", "dob": "1981-01-01"},
        {"dob": "2000-02-02", "last_name": "Li", "first_name": "Yu", "extra": 1},
    ]
    record = json.loads(
        call(tools, "update_reservation_passengers", reservation_id=RESERVATION, passengers=new)
    )
    assert record["passengers"] == [
        {"first_name": "Mei", "last_name": "Hernandez", "dob": "1981-01-01"},
        {"first_name": "Yu", "last_name": "Li", "dob": "2000-02-02"},
    ]
    assert fail(
        tools, "update_reservation_passengers", reservation_id=RESERVATION, passengers=new[:1]
    ) == ("Error: Number of passengers does not match")
    assert fail(
        tools, "update_reservation_passengers", reservation_id="NOPE00", passengers=new
    ) == ("Error: Reservation NOPE00 not found")
    assert fail(
        tools,
        "update_reservation_passengers",
        reservation_id=RESERVATION,
        passengers=[{"first_name": "A"}],
    ).startswith("Error: 2 validation errors for Passenger")
    assert db.hash() == full_hash(db.to_dict())


def test_send_certificate(tools: AirlineTools, db: DocumentDB) -> None:
    assert call(tools, "send_certificate", user_id=USER, amount=100) == (
        f"Certificate certificate_3221322 added to user {USER} with amount 100."
    )
    assert call(tools, "send_certificate", user_id=USER, amount=150.0) == (
        f"Certificate certificate_3221323 added to user {USER} with amount 150.0."
    )
    call(tools, "send_certificate", user_id=USER, amount=5)
    methods = db.get("users", USER)["payment_methods"]
    assert methods["certificate_3221322"] == {
        "source": "certificate",
        "id": "certificate_3221322",
        "amount": 100.0,
    }
    assert type(methods["certificate_3221322"]["amount"]) is float
    assert list(methods)[-3:] == [
        "certificate_3221322",
        "certificate_3221323",
        "certificate_3221324",
    ]
    assert fail(tools, "send_certificate", user_id=USER, amount=5) == (
        "Error: Too many certificates"
    )
    assert fail(tools, "send_certificate", user_id="nobody", amount=5) == (
        "Error: User nobody not found"
    )
    assert db.hash() == full_hash(db.to_dict())


# --- gold replay -----------------------------------------------------------------------------


def _gold_actions(tasks_path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    tasks = json.loads(tasks_path.read_text())
    return [(task["id"], task["evaluation_criteria"]["actions"]) for task in tasks]


@pytest.mark.parametrize("task_set", ["current", "legacy"])
def test_replay_all_gold_actions(
    task_set: str, tau2_data_dir: Path, tau2_legacy_dir: Path, airline_doc: BaseDocument
) -> None:
    root = tau2_data_dir if task_set == "current" else tau2_legacy_dir
    gold = _gold_actions(root / "domains" / "airline" / "tasks.json")
    assert len(gold) == 50
    unchanged = 0
    for task_id, actions in gold:
        view = airline_doc.new_view()
        toolkit = AirlineTools(view)
        for action in actions:
            output = toolkit.execute(action["name"], action["arguments"])
            assert not output.error, (task_id, action["name"], output.content)
        digest = view.hash()
        if digest == INITIAL_HASH:
            unchanged += 1
            # Cheap proof that the incremental hash is right here: the content is the initial DB.
            assert view.to_dict() == airline_doc.tables, task_id
        else:
            assert digest == full_hash(view.to_dict()), task_id
    if task_set == "current":
        assert unchanged == 24  # "refuse / do nothing" tasks (spec section 6.2)
    # No tool wrote into a shared base record.
    assert full_hash(airline_doc.tables) == INITIAL_HASH

"""tau-trait airline tools: state changes, exact texts and upstream quirks, gold replays, and
agreement with the released GPT-5 trajectories (see ``test_tau_trait_retail.py`` for the
shared checks and ``FAMA_TAU_TRAIT_FULL_CHECK=1``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fama.envs.tau_trait.airline import AIRPORTS, DOMAIN, load_data
from fama.envs.tau_trait.runtime import TauTraitDomain
from tests.test_tau_trait_retail import call, check_episodes, check_gold_replays

# Gold actions that return an error when replayed (task index -> count); errors change nothing.
# 50-59 are tau-trait's new tasks: several name reservations/users absent from the data, task 51
# calls a misspelt tool (update_reservation_baggage) and 57 books a flight on a missing date.
GOLD_ERRORS = {50: 3, 51: 2, 52: 3, 53: 3, 54: 5, 55: 2, 56: 3, 57: 1}
GOLD_SAMPLE = (4, 9, 16, 51, 57)
EPISODE_SAMPLE = {
    "confusion_airline": (9,),
    "impatience_airline": (2,),
    "incoherence_airline": (8,),
    "skeptical_airline": (30,),
}

USER = "mei_wilson_7043"  # certificate_9801805 (250), gift_card_5107860 (176), credit_card_7535171
RESERVATION = "T2PY2S"  # james_kovacs_6640: economy, 1 passenger, HAT211 + HAT157 on 2024-05-20


@pytest.fixture(scope="module")
def domain(tau_trait_data_dir: Path) -> TauTraitDomain:
    return TauTraitDomain(DOMAIN, tau_trait_data_dir)


@pytest.fixture
def data(domain: TauTraitDomain) -> dict[str, Any]:
    return domain.fresh_data()


def booking(**changes: Any) -> dict[str, Any]:
    """A valid booking for USER: HAT001 on 2024-05-16 in economy (122) + insurance + 1 bag."""
    args: dict[str, Any] = {
        "user_id": USER,
        "origin": "PHL",
        "destination": "LGA",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": [{"flight_number": "HAT001", "date": "2024-05-16"}],
        "passengers": [{"first_name": "Mei", "last_name": "Wilson", "dob": "1990-01-01"}],
        "payment_methods": [
            {"payment_id": "certificate_9801805", "amount": 100},
            {"payment_id": "gift_card_5107860", "amount": 100},
            {"payment_id": "credit_card_7535171", "amount": 2},
        ],
        "total_baggages": 1,
        "nonfree_baggages": 1,
        "insurance": "yes",
    }
    args.update(changes)
    return args


def test_domain_offers_exactly_the_official_tools(domain: TauTraitDomain) -> None:
    names = [s["function"]["name"] for s in domain.schemas]
    assert len(names) == 14
    assert set(DOMAIN.tools) == set(names)
    assert DOMAIN.terminal_tools == {"transfer_to_human_agents"}
    assert DOMAIN.write_tools <= set(names)
    assert DOMAIN.tool_kind("book_reservation") == "write"
    assert DOMAIN.tool_kind("search_direct_flight") == "read"


def test_load_data_reads_fresh_tables(tau_trait_data_dir: Path, tmp_path: Path) -> None:
    assert list(load_data(tau_trait_data_dir)) == ["flights", "reservations", "users"]
    with pytest.raises(FileNotFoundError, match=r"flights\.json"):
        load_data(tmp_path)


def test_read_tools(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    assert json.loads(call(domain, data, "list_all_airports")) == AIRPORTS
    assert call(domain, data, "get_reservation_details", reservation_id=RESERVATION) == (
        json.dumps(data["reservations"][RESERVATION])
    )
    # upstream's text for an unknown reservation
    assert call(domain, data, "get_reservation_details", reservation_id="ZZZ") == (
        "Error: user not found"
    )
    assert call(domain, data, "get_user_details", user_id=USER) == json.dumps(data["users"][USER])
    direct = json.loads(
        call(
            domain, data, "search_direct_flight", origin="JFK", destination="SEA", date="2024-05-20"
        )
    )
    assert [f["flight_number"] for f in direct] == ["HAT069", "HAT083"]
    assert "dates" not in direct[0] and direct[0]["status"] == "available"


def test_onestop_second_leg_uses_first_leg_date_entry(
    domain: TauTraitDomain, data: dict[str, Any]
) -> None:
    results = json.loads(
        call(
            domain,
            data,
            "search_onestop_flight",
            origin="SFO",
            destination="JFK",
            date="2024-05-20",
        )
    )
    overnight = [pair for pair in results if pair[1]["date"] != "2024-05-20"]
    leg2 = overnight[0][1]
    assert leg2["date"] == "2024-05-21"
    # upstream quirk: status/prices of the second leg come from the first leg's date
    assert leg2["prices"] == data["flights"][leg2["flight_number"]]["dates"]["2024-05-20"]["prices"]


def test_book_reservation(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    methods = data["users"][USER]["payment_methods"]
    args = booking()
    out = call(domain, data, "book_reservation", **args)
    reservation = data["reservations"]["HATHAT"]
    assert out == json.dumps(reservation)
    assert reservation["created_at"] == "2024-05-15T15:00:00"
    assert reservation["flights"] == [
        {
            "flight_number": "HAT001",
            "date": "2024-05-16",
            "price": 122,
            "origin": "PHL",
            "destination": "LGA",
        }
    ]
    assert reservation["payment_history"] == args["payment_methods"]
    assert "certificate_9801805" not in methods  # a used certificate is gone
    assert methods["gift_card_5107860"]["amount"] == 76
    assert data["users"][USER]["reservations"][-1] == "HATHAT"
    assert args["flights"] == [{"flight_number": "HAT001", "date": "2024-05-16"}]

    second = booking(
        insurance="no",
        nonfree_baggages=0,
        payment_methods=[{"payment_id": "credit_card_7535171", "amount": 122}],
    )
    call(domain, data, "book_reservation", **second)
    assert "HATHAU" in data["reservations"]
    # stored lists are copies: a later cancel does not touch the caller's arguments
    call(domain, data, "cancel_reservation", reservation_id="HATHAU")
    assert second["payment_methods"] == [{"payment_id": "credit_card_7535171", "amount": 122}]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"user_id": "nobody"}, "Error: user not found"),
        (
            {"flights": [{"flight_number": "HAT999", "date": "2024-05-16"}]},
            "Error: flight HAT999 not found",
        ),
        (
            {"flights": [{"flight_number": "HAT001", "date": "2024-06-16"}]},
            "Error: flight HAT001 not found on date 2024-06-16",
        ),
        (
            {"flights": [{"flight_number": "HAT001", "date": "2024-05-03"}]},
            "Error: flight HAT001 not available on date 2024-05-03",
        ),
        (
            {
                "cabin": "basic_economy",
                "flights": [{"flight_number": "HAT001", "date": "2024-05-25"}],
                "passengers": [{"first_name": "A", "last_name": "B", "dob": "1"}] * 2,
            },
            "Error: not enough seats on flight HAT001",
        ),
        (
            {"payment_methods": [{"payment_id": "gift_card_5107860", "amount": 202}]},
            "Error: not enough balance in payment method gift_card_5107860",
        ),
        (
            {"payment_methods": [{"payment_id": "credit_card_7535171", "amount": 200}]},
            "Error: payment amount does not add up, total price is 202, but paid 200",
        ),
        (
            {"payment_methods": [{"payment_id": "paypal_1", "amount": 202}]},
            "Error: payment method paypal_1 not found",
        ),
    ],
)
def test_book_reservation_errors_change_nothing(
    domain: TauTraitDomain, data: dict[str, Any], changes: dict[str, Any], error: str
) -> None:
    assert call(domain, data, "book_reservation", **booking(**changes)) == error
    assert "HATHAT" not in data["reservations"]
    assert "certificate_9801805" in data["users"][USER]["payment_methods"]


def test_cancel_reservation_reverses_payments(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    out = call(domain, data, "cancel_reservation", reservation_id=RESERVATION)
    reservation = data["reservations"][RESERVATION]
    assert out == json.dumps(reservation)
    assert reservation["status"] == "cancelled"
    assert reservation["payment_history"] == [
        {"payment_id": "gift_card_2430236", "amount": 303},
        {"payment_id": "gift_card_2430236", "amount": -303},
    ]
    assert call(domain, data, "cancel_reservation", reservation_id="ZZZ") == (
        "Error: reservation not found"
    )


def test_update_reservation_baggages(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    card = data["users"]["james_kovacs_6640"]["payment_methods"]["gift_card_2430236"]
    args = {"reservation_id": RESERVATION, "total_baggages": 2, "nonfree_baggages": 1}
    assert call(
        domain, data, "update_reservation_baggages", payment_id="certificate_2909631", **args
    ) == ("Error: certificate cannot be used to update reservation")
    assert call(domain, data, "update_reservation_baggages", payment_id="x", **args) == (
        "Error: payment method not found"
    )
    out = call(domain, data, "update_reservation_baggages", payment_id="gift_card_2430236", **args)
    reservation = data["reservations"][RESERVATION]
    assert out == json.dumps(reservation)
    assert (reservation["total_baggages"], reservation["nonfree_baggages"]) == (2, 1)
    assert reservation["payment_history"][-1] == {"payment_id": "gift_card_2430236", "amount": 50}
    assert card["amount"] == 88
    call(
        domain,
        data,
        "update_reservation_baggages",
        reservation_id=RESERVATION,
        total_baggages=0,
        nonfree_baggages=0,
        payment_id="gift_card_2430236",
    )
    assert len(reservation["payment_history"]) == 2  # no charge, nothing recorded


def test_update_reservation_flights(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    flights = [
        {"flight_number": "HAT211", "date": "2024-05-20"},
        {"flight_number": "HAT157", "date": "2024-05-20"},
    ]
    reservation = data["reservations"][RESERVATION]
    same = call(
        domain,
        data,
        "update_reservation_flights",
        reservation_id=RESERVATION,
        cabin="economy",
        flights=flights,
        payment_id="gift_card_2430236",
    )
    assert same == json.dumps(reservation)
    assert [f["price"] for f in reservation["flights"]] == [159, 144]  # kept at booked prices
    assert len(reservation["payment_history"]) == 1

    assert call(
        domain,
        data,
        "update_reservation_flights",
        reservation_id=RESERVATION,
        cabin="business",
        flights=flights,
        payment_id="gift_card_2430236",
    ) == ("Error: gift card balance is not enough")
    call(
        domain,
        data,
        "update_reservation_flights",
        reservation_id=RESERVATION,
        cabin="business",
        flights=flights,
        payment_id="credit_card_2413934",
    )
    assert [f["price"] for f in reservation["flights"]] == [433, 384]
    assert reservation["payment_history"][-1] == {
        "payment_id": "credit_card_2413934",
        "amount": 433 + 384 - 303,
    }
    assert reservation["cabin"] == "economy"  # upstream quirk: the cabin is never updated


def test_update_reservation_passengers(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    passenger = {"first_name": "Ann", "last_name": "Lee", "dob": "1980-02-02"}
    assert call(
        domain, data, "update_reservation_passengers", reservation_id=RESERVATION, passengers=[]
    ) == ("Error: number of passengers does not match")
    out = call(
        domain,
        data,
        "update_reservation_passengers",
        reservation_id=RESERVATION,
        passengers=[passenger],
    )
    assert data["reservations"][RESERVATION]["passengers"] == [passenger]
    assert out == json.dumps(data["reservations"][RESERVATION])


def test_send_certificate(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    texts = [
        call(domain, data, "send_certificate", user_id=USER, amount=amount)
        for amount in (100, 150, 200, 250)
    ]
    assert texts[:3] == [
        f"Certificate certificate_322132{i} added to user {USER} with amount {amount}."
        for i, amount in ((2, 100), (3, 150), (4, 200))
    ]
    assert data["users"][USER]["payment_methods"]["certificate_3221323"] == {
        "source": "certificate",
        "amount": 150,
        "id": "certificate_3221323",
    }
    assert texts[3].startswith("Error:")  # upstream returns None here and its episode crashes
    assert call(domain, data, "send_certificate", user_id="nobody", amount=1) == (
        "Error: user not found"
    )


def test_gold_replays_are_deterministic(domain: TauTraitDomain, tau_trait_data_dir: Path) -> None:
    check_gold_replays(domain, tau_trait_data_dir, GOLD_ERRORS, GOLD_SAMPLE)


@pytest.mark.parametrize("name", sorted(EPISODE_SAMPLE))
def test_released_trajectories_replay_exactly(
    domain: TauTraitDomain, tau_trait_data_dir: Path, name: str
) -> None:
    check_episodes(domain, tau_trait_data_dir, name, EPISODE_SAMPLE[name])

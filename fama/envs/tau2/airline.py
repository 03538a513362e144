"""The tau2 airline domain: typed loading of its DB and the 14 agent tools.

The DB file is validated with pydantic models typed like upstream's (field order, nulls for
missing optional fields, int prices/seats/bags, float gift-card and certificate amounts) and kept
as plain dicts in a ``BaseDocument`` with the tables flights, users and reservations.
Tools reproduce the official output strings, error texts and check order (spec section 4),
including its quirks: no seat release on cancel, no idempotence, untyped assignments,
string date arithmetic in the one-stop search. "Now" is fixed at 2024-05-15T15:00:00.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import BaseModel, Field, ValidationError

from fama.envs.tau2.common import calculate_expression
from fama.envs.tau2.db import BaseDocument, clone
from fama.envs.tau2.toolkit import Toolkit, tool

FlightType = Literal["round_trip", "one_way"]
CabinClass = Literal["business", "economy", "basic_economy"]
Insurance = Literal["yes", "no"]

NOW = "2024-05-15T15:00:00"
RESERVATION_IDS = ("HATHAT", "HATHAU", "HATHAV")
CERTIFICATE_IDS = ("certificate_3221322", "certificate_3221323", "certificate_3221324")
AIRPORTS = (
    ("SFO", "San Francisco"),
    ("JFK", "New York"),
    ("LAX", "Los Angeles"),
    ("ORD", "Chicago"),
    ("DFW", "Dallas"),
    ("DEN", "Denver"),
    ("SEA", "Seattle"),
    ("ATL", "Atlanta"),
    ("MIA", "Miami"),
    ("BOS", "Boston"),
    ("PHX", "Phoenix"),
    ("IAH", "Houston"),
    ("LAS", "Las Vegas"),
    ("MCO", "Orlando"),
    ("EWR", "Newark"),
    ("CLT", "Charlotte"),
    ("MSP", "Minneapolis"),
    ("DTW", "Detroit"),
    ("PHL", "Philadelphia"),
    ("LGA", "LaGuardia"),
)


# Models that are also tool argument types: their names, field descriptions and (absent)
# docstrings shape the official tool schemas, so they carry no class docstring.
class FlightInfo(BaseModel):  # one flight of a booking or update request
    flight_number: str = Field(description="Flight number, such as 'HAT001'.")
    date: str = Field(
        description="The date for the flight in the format 'YYYY-MM-DD', such as '2024-05-01'."
    )


class Passenger(BaseModel):  # a passenger (or a user's saved passenger)
    first_name: str = Field(description="Passenger's first name")
    last_name: str = Field(description="Passenger's last name")
    dob: str = Field(description="Date of birth in YYYY-MM-DD format")


class Payment(BaseModel):  # a payment-history entry (negative = refund)
    payment_id: str = Field(description="Unique identifier for the payment")
    amount: int = Field(description="Payment amount in dollars")


# DB document models (field order = output key order).
class Name(BaseModel):
    """A user's name."""

    first_name: str
    last_name: str


class Address(BaseModel):
    """A user's address."""

    address1: str
    address2: str | None = None
    city: str
    country: str
    state: str
    zip: str


class CreditCard(BaseModel):
    """A saved credit card."""

    source: Literal["credit_card"]
    id: str
    brand: str
    last_four: str


class GiftCard(BaseModel):
    """A saved gift card with its balance."""

    source: Literal["gift_card"]
    id: str
    amount: float


class Certificate(BaseModel):
    """A saved travel certificate with its value."""

    source: Literal["certificate"]
    id: str
    amount: float


PaymentMethod = Annotated[CreditCard | GiftCard | Certificate, Field(discriminator="source")]


class FlightDateAvailable(BaseModel):
    """A bookable flight date."""

    status: Literal["available"]
    available_seats: dict[CabinClass, int]
    prices: dict[CabinClass, int]


class FlightDateOnTime(BaseModel):
    """A flight date not yet departed, on time."""

    status: Literal["on time"]
    estimated_departure_time_est: str
    estimated_arrival_time_est: str


class FlightDateFlying(BaseModel):
    """A flight date in the air."""

    status: Literal["flying"]
    actual_departure_time_est: str
    estimated_arrival_time_est: str


class FlightDateLanded(BaseModel):
    """A flown flight date."""

    status: Literal["landed"]
    actual_departure_time_est: str
    actual_arrival_time_est: str


class FlightDateCancelled(BaseModel):
    """A cancelled flight date."""

    status: Literal["cancelled"]


class FlightDateDelayed(BaseModel):
    """A delayed flight date."""

    status: Literal["delayed"]
    estimated_departure_time_est: str
    estimated_arrival_time_est: str


FlightDateStatus = Annotated[
    FlightDateAvailable
    | FlightDateOnTime
    | FlightDateFlying
    | FlightDateLanded
    | FlightDateCancelled
    | FlightDateDelayed,
    Field(discriminator="status"),
]


class Flight(BaseModel):
    """A scheduled flight and its status per date."""

    flight_number: str
    origin: str
    destination: str
    scheduled_departure_time_est: str
    scheduled_arrival_time_est: str
    dates: dict[str, FlightDateStatus]


class User(BaseModel):
    """A customer."""

    user_id: str
    name: Name
    address: Address
    email: str
    dob: str
    payment_methods: dict[str, PaymentMethod]
    saved_passengers: list[Passenger]
    membership: Literal["gold", "silver", "regular"]
    reservations: list[str]


class ReservationFlight(BaseModel):
    """One flight of a reservation, with the price paid per passenger."""

    flight_number: str
    origin: str
    destination: str
    date: str
    price: int


class Reservation(BaseModel):
    """A reservation."""

    reservation_id: str
    user_id: str
    origin: str
    destination: str
    flight_type: FlightType
    cabin: CabinClass
    flights: list[ReservationFlight]
    passengers: list[Passenger]
    payment_history: list[Payment]
    created_at: str
    total_baggages: int
    nonfree_baggages: int
    insurance: Insurance
    status: Literal["cancelled"] | None = None


class AirlineDB(BaseModel):
    """The whole airline document."""

    flights: dict[str, Flight]
    users: dict[str, User]
    reservations: dict[str, Reservation]


def load_airline_document(db_path: Path) -> BaseDocument:
    """Load, validate and normalise the airline ``db.json`` into a shared base document.

    Raises ValueError naming the file and the first problem when it is not valid JSON or not
    shaped like the airline DB; FileNotFoundError when it does not exist.
    """
    raw = Path(db_path).read_bytes()
    try:
        document = AirlineDB.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(f"{db_path}: not a valid airline DB: {_first_problem(exc)}") from None
    return BaseDocument(document.model_dump())


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


M = TypeVar("M", bound=BaseModel)


def _as_models(values: Any, model: type[M]) -> Any:
    """Convert a list of dicts into models, as upstream does; anything else is kept as is."""
    if all(isinstance(value, dict) for value in values):
        return [model(**value) for value in values]
    return values


class AirlineTools(Toolkit):
    """All the tools for the airline domain."""

    # Lookups return read-only records; every change goes through _mutable (db.get_mut).
    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.db.get("users", user_id)
        if user is None:
            raise ValueError(f"User {user_id} not found")
        return cast(dict[str, Any], user)

    def _reservation(self, reservation_id: str) -> dict[str, Any]:
        reservation = self.db.get("reservations", reservation_id)
        if reservation is None:
            raise ValueError(f"Reservation {reservation_id} not found")
        return cast(dict[str, Any], reservation)

    def _flight(self, flight_number: str) -> dict[str, Any]:
        flight = self.db.get("flights", flight_number)
        if flight is None:
            raise ValueError(f"Flight {flight_number} not found")
        return cast(dict[str, Any], flight)

    def _mutable(self, table: str, key: str) -> dict[str, Any]:
        """This episode's own copy of a record the caller has already looked up."""
        record = self.db.get_mut(table, key)
        if record is None:
            raise LookupError(f"{table}: {key} vanished")
        return cast(dict[str, Any], record)

    def _flight_date(self, flight_number: str, date: str) -> tuple[dict[str, Any], dict[str, Any]]:
        flight = self._flight(flight_number)
        if date not in flight["dates"]:
            raise ValueError(f"Flight {flight_number} not found on date {date}")
        return flight, flight["dates"][date]

    def _new_reservation_id(self) -> str:
        for reservation_id in RESERVATION_IDS:
            if not self.db.contains("reservations", reservation_id):
                return reservation_id
        raise ValueError("Too many reservations")

    def _direct_flights(
        self,
        date: str,
        origin: str | None,
        destination: str | None,
        leave_after: str | None = None,
    ) -> list[dict[str, Any]]:
        """Available flights on ``date`` in DB order (None matches anything)."""
        results = []
        for _, flight in self.db.items("flights"):
            if origin is not None and flight["origin"] != origin:
                continue
            if destination is not None and flight["destination"] != destination:
                continue
            dates = flight["dates"]
            if date not in dates or dates[date]["status"] != "available":
                continue
            # Upstream compares "HH:MM:SS" strings, "+1" suffix and all.
            if (
                leave_after is not None
                and not flight["scheduled_departure_time_est"] >= leave_after
            ):
                continue
            results.append(
                {
                    "flight_number": flight["flight_number"],
                    "origin": flight["origin"],
                    "destination": flight["destination"],
                    "status": "available",
                    "scheduled_departure_time_est": flight["scheduled_departure_time_est"],
                    "scheduled_arrival_time_est": flight["scheduled_arrival_time_est"],
                    "date": None,
                    "available_seats": dict(dates[date]["available_seats"]),
                    "prices": dict(dates[date]["prices"]),
                }
            )
        return results

    def _payment_for_update(
        self, user_id: str, payment_id: str, total: Any
    ) -> dict[str, Any] | None:
        """Check and charge an update's payment; the history entry to append (None if 0)."""
        methods = self._user(user_id)["payment_methods"]
        if payment_id not in methods:
            raise ValueError("Payment method not found")
        method = methods[payment_id]
        if method["source"] == "certificate":
            raise ValueError("Certificate cannot be used to update reservation")
        if method["source"] == "gift_card" and method["amount"] < total:
            raise ValueError("Gift card balance is not enough")
        if method["source"] == "gift_card":
            self._mutable("users", user_id)["payment_methods"][payment_id]["amount"] -= total
        if total != 0:
            return Payment(payment_id=payment_id, amount=total).model_dump()
        return None

    @tool("write")
    def book_reservation(
        self,
        user_id: str,
        origin: str,
        destination: str,
        flight_type: FlightType,
        cabin: CabinClass,
        flights: list[FlightInfo | dict],
        passengers: list[Passenger | dict],
        payment_methods: list[Payment | dict],
        total_baggages: int,
        nonfree_baggages: int,
        insurance: Insurance,
    ) -> dict[str, Any]:
        """
        Book a reservation.

        Args:
            user_id: The ID of the user to book the reservation such as 'sara_doe_496'`.
            origin: The IATA code for the origin city such as 'SFO'.
            destination: The IATA code for the destination city such as 'JFK'.
            flight_type: The type of flight such as 'one_way' or 'round_trip'.
            cabin: The cabin class such as 'basic_economy', 'economy', or 'business'.
            flights: An array of objects containing details about each piece of flight.
            passengers: An array of objects containing details about each passenger.
            payment_methods: An array of objects containing details about each payment method.
            total_baggages: The total number of baggage items to book the reservation.
            nonfree_baggages: The number of non-free baggage items to book the reservation.
            insurance: Whether the reservation has insurance.
        """
        flight_infos = _as_models(flights, FlightInfo)
        passenger_list = _as_models(passengers, Passenger)
        payments = _as_models(payment_methods, Payment)
        user = self._user(user_id)
        reservation_id = self._new_reservation_id()
        draft = Reservation(
            reservation_id=reservation_id,
            user_id=user_id,
            origin=origin,
            destination=destination,
            flight_type=flight_type,
            cabin=cabin,
            flights=[],
            passengers=passenger_list,
            payment_history=payments,
            created_at=NOW,
            total_baggages=total_baggages,
            nonfree_baggages=nonfree_baggages,
            insurance=insurance,
        )
        n_passengers = len(passenger_list)
        total_price = 0
        legs: list[dict[str, Any]] = []
        for info in flight_infos:
            number, date = info.flight_number, info.date
            flight, status = self._flight_date(number, date)
            if status["status"] != "available":
                raise ValueError(f"Flight {number} not available on date {date}")
            if status["available_seats"][cabin] < n_passengers:
                raise ValueError(f"Not enough seats on flight {number}")
            price = status["prices"][cabin]
            legs.append(
                {
                    "flight_number": number,
                    "origin": flight["origin"],
                    "destination": flight["destination"],
                    "date": date,
                    "price": price,
                }
            )
            total_price += price * n_passengers
        if insurance == "yes":
            total_price += 30 * n_passengers
        total_price += 50 * nonfree_baggages  # the raw argument, as upstream

        methods = user["payment_methods"]
        for payment in draft.payment_history:
            if payment.payment_id not in methods:
                raise ValueError(f"Payment method {payment.payment_id} not found")
            method = methods[payment.payment_id]
            if (
                method["source"] in ("gift_card", "certificate")
                and method["amount"] < payment.amount
            ):
                raise ValueError(f"Not enough balance in payment method {payment.payment_id}")
        total_payment = sum(payment.amount for payment in draft.payment_history)
        if total_payment != total_price:
            raise ValueError(
                f"Payment amount does not add up, total price is {total_price}, "
                f"but paid {total_payment}"
            )

        user_methods = self._mutable("users", user_id)["payment_methods"]
        for payment in draft.payment_history:
            method = user_methods[payment.payment_id]
            if method["source"] == "gift_card":
                method["amount"] -= payment.amount
            elif method["source"] == "certificate":
                user_methods.pop(payment.payment_id)
        for leg in legs:
            flight = self._mutable("flights", leg["flight_number"])
            flight["dates"][leg["date"]]["available_seats"][cabin] -= n_passengers
        record = draft.model_dump()
        record["flights"] = legs
        self.db.insert("reservations", reservation_id, record)
        self._mutable("users", user_id)["reservations"].append(reservation_id)
        return record

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
        """  # noqa: E501
        return calculate_expression(expression)

    @tool("write")
    def cancel_reservation(self, reservation_id: str) -> dict[str, Any]:
        """
        Cancel the whole reservation.

        Args:
            reservation_id: The reservation ID, such as 'ZFA04Y'.

        Returns:
            The updated reservation.

        Raises:
            ValueError: If the reservation is not found.
        """
        self._reservation(reservation_id)
        reservation = self._mutable("reservations", reservation_id)
        history = reservation["payment_history"]
        history.extend(
            [{"payment_id": entry["payment_id"], "amount": -entry["amount"]} for entry in history]
        )
        reservation["status"] = "cancelled"
        return reservation

    @tool("read")
    def get_reservation_details(self, reservation_id: str) -> dict[str, Any]:
        """
        Get the details of a reservation.

        Args:
            reservation_id: The reservation ID, such as '8JX2WO'.

        Returns:
            The reservation details.

        Raises:
            ValueError: If the reservation is not found.
        """
        return self._reservation(reservation_id)

    @tool("read")
    def get_user_details(self, user_id: str) -> dict[str, Any]:
        """
        Get the details of a user, including their reservations.

        Args:
            user_id: The user ID, such as 'sara_doe_496'.

        Returns:
            The user details.

        Raises:
            ValueError: If the user is not found.
        """
        return self._user(user_id)

    @tool("read")
    def list_all_airports(self) -> list[dict[str, str]]:
        """Returns a list of all available airports.

        Returns:
            A dictionary mapping IATA codes to AirportInfo objects.
        """
        return [{"iata": iata, "city": city} for iata, city in AIRPORTS]

    @tool("read")
    def search_direct_flight(
        self, origin: str, destination: str, date: str
    ) -> list[dict[str, Any]]:
        """
        Search for direct flights between two cities on a specific date.

        Args:
            origin: The origin city airport in three letters, such as 'JFK'.
            destination: The destination city airport in three letters, such as 'LAX'.
            date: The date of the flight in the format 'YYYY-MM-DD', such as '2024-01-01'.

        Returns:
            The direct flights between the two cities on the specific date.
        """
        return self._direct_flights(date, origin, destination)

    @tool("read")
    def search_onestop_flight(
        self, origin: str, destination: str, date: str
    ) -> list[list[dict[str, Any]]]:
        """
        Search for one-stop flights between two cities on a specific date.

        Args:
            origin: The origin city airport in three letters, such as 'JFK'.
            destination: The destination city airport in three letters, such as 'LAX'.
            date: The date of the flight in the format 'YYYY-MM-DD', such as '2024-05-01'.

        Returns:
            A list of pairs of DirectFlight objects.
        """
        pairs = []
        for first in self._direct_flights(date, origin, None):
            first["date"] = date
            # Upstream's next-day string: no zero padding, always May.
            next_date = (
                f"2024-05-{int(date[-2:]) + 1}"
                if "+1" in first["scheduled_arrival_time_est"]
                else date
            )
            for second in self._direct_flights(
                next_date, first["destination"], destination, first["scheduled_arrival_time_est"]
            ):
                second["date"] = next_date
                pairs.append([first, second])
        return pairs

    @tool("write")
    def send_certificate(self, user_id: str, amount: int) -> str:
        """
        Send a certificate to a user. Be careful!

        Args:
            user_id: The ID of the user to book the reservation, such as 'sara_doe_496'.
            amount: The amount of the certificate to send.

        Returns:
            A message indicating the certificate was sent.

        Raises:
            ValueError: If the user is not found.
        """
        methods = self._user(user_id)["payment_methods"]
        for certificate_id in CERTIFICATE_IDS:
            if certificate_id not in methods:
                certificate = Certificate(source="certificate", id=certificate_id, amount=amount)
                user = self._mutable("users", user_id)
                user["payment_methods"][certificate_id] = certificate.model_dump()
                return f"Certificate {certificate_id} added to user {user_id} with amount {amount}."
        raise ValueError("Too many certificates")

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

    @tool("write")
    def update_reservation_baggages(
        self,
        reservation_id: str,
        total_baggages: int,
        nonfree_baggages: int,
        payment_id: str,
    ) -> dict[str, Any]:
        """
        Update the baggage information of a reservation.

        Args:
            reservation_id: The reservation ID, such as 'ZFA04Y'
            total_baggages: The updated total number of baggage items included in the reservation.
            nonfree_baggages: The updated number of non-free baggage items included in the reservation.
            payment_id: The payment id stored in user profile, such as 'credit_card_7815826', 'gift_card_7815826', 'certificate_7815826'.

        Returns:
            The updated reservation.

        Raises:
            ValueError: If the reservation is not found.
            ValueError: If the user is not found.
            ValueError: If the payment method is not found.
            ValueError: If the certificate cannot be used to update reservation.
            ValueError: If the gift card balance is not enough.
        """  # noqa: E501
        current = self._reservation(reservation_id)
        user_id = current["user_id"]
        self._user(user_id)
        total = 50 * max(0, nonfree_baggages - current["nonfree_baggages"])
        payment = self._payment_for_update(user_id, payment_id, total)
        reservation = self._mutable("reservations", reservation_id)
        if payment is not None:
            reservation["payment_history"].append(payment)
        # Stored exactly as passed (no int coercion), as upstream.
        reservation["total_baggages"] = clone(total_baggages)
        reservation["nonfree_baggages"] = clone(nonfree_baggages)
        return reservation

    @tool("write")
    def update_reservation_flights(
        self,
        reservation_id: str,
        cabin: CabinClass,
        flights: list[FlightInfo | dict],
        payment_id: str,
    ) -> dict[str, Any]:
        """
        Update the flight information of a reservation.


        Args:
            reservation_id: The reservation ID, such as 'ZFA04Y'.
            cabin: The cabin class of the reservation
            flights: An array of objects containing details about each piece of flight in the ENTIRE new reservation. Even if the a flight segment is not changed, it should still be included in the array.
            payment_id: The payment id stored in user profile, such as 'credit_card_7815826', 'gift_card_7815826', 'certificate_7815826'.

        Returns:
            The updated reservation.

        Raises:
            ValueError: If the reservation is not found.
            ValueError: If the user is not found.
            ValueError: If the payment method is not found.
            ValueError: If the certificate cannot be used to update reservation.
            ValueError: If the gift card balance is not enough.
        """  # noqa: E501
        flight_infos = _as_models(flights, FlightInfo)
        current = self._reservation(reservation_id)
        user_id = current["user_id"]
        self._user(user_id)
        n_passengers = len(current["passengers"])
        total = 0
        legs: list[dict[str, Any]] = []
        for info in flight_infos:
            number, date = info.flight_number, info.date
            kept = next(
                (
                    leg
                    for leg in current["flights"]
                    if leg["flight_number"] == number
                    and leg["date"] == date
                    and cabin == current["cabin"]
                ),
                None,
            )
            if kept is not None:
                total += kept["price"] * n_passengers
                legs.append(dict(kept))
                continue
            flight, status = self._flight_date(number, date)
            if status["status"] != "available":
                raise ValueError(f"Flight {number} not available on date {date}")
            if status["available_seats"][cabin] < n_passengers:
                raise ValueError(f"Not enough seats on flight {number}")
            price = status["prices"][cabin]
            legs.append(
                {
                    "flight_number": number,
                    "origin": flight["origin"],
                    "destination": flight["destination"],
                    "date": date,
                    "price": price,
                }
            )
            total += price * n_passengers
        total -= sum(leg["price"] for leg in current["flights"]) * n_passengers
        payment = self._payment_for_update(user_id, payment_id, total)
        reservation = self._mutable("reservations", reservation_id)
        if payment is not None:
            reservation["payment_history"].append(payment)
        reservation["flights"] = legs
        reservation["cabin"] = clone(cabin)  # assigned without validation, as upstream
        return reservation

    @tool("write")
    def update_reservation_passengers(
        self, reservation_id: str, passengers: list[Passenger | dict]
    ) -> dict[str, Any]:
        """
        Update the passenger information of a reservation.

        Args:
            reservation_id: The reservation ID, such as 'ZFA04Y'.
            passengers: An array of objects containing details about each passenger.

        Returns:
            The updated reservation.

        Raises:
            ValueError: If the reservation is not found.
            ValueError: If the number of passengers does not match.
        """
        passenger_list = _as_models(passengers, Passenger)
        current = self._reservation(reservation_id)
        if len(passenger_list) != len(current["passengers"]):
            raise ValueError("Number of passengers does not match")
        reservation = self._mutable("reservations", reservation_id)
        reservation["passengers"] = [
            passenger.model_dump() if isinstance(passenger, Passenger) else clone(passenger)
            for passenger in passenger_list
        ]
        return reservation

    @tool("read")
    def get_flight_status(self, flight_number: str, date: str) -> str:
        """
        Get the status of a flight.

        Args:
            flight_number: The flight number.
            date: The date of the flight.

        Returns:
            The status of the flight.

        Raises:
            ValueError: If the flight is not found.
        """
        return cast(str, self._flight_date(flight_number, date)[1]["status"])

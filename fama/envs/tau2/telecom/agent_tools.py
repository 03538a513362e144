# ruff: noqa: E501  (tool docstrings are the official tool descriptions, kept verbatim)
"""The telecom agent's 13 tools, the agent-side setup functions and env assertions.

Behaviour follows sierra-research/tau2-bench (MIT), ``domains/telecom/tools.py``: the same
lookups, checks, output strings and state changes. "Today" is fixed at 2025-02-25 as
upstream. Phone numbers match on their digits (upstream's format-insensitive lookup).

The agent DB is a ``DocumentDB`` whose tables (plans, customers, lines, bills, devices) are
keyed by id in file order; upstream keeps them as lists, so ``official_hash`` rebuilds that
form. Records are the normalised dicts of ``models`` (enums as values, dates as strings).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any, cast

from fama.envs.tau2.db import DocumentDB
from fama.envs.tau2.toolkit import Toolkit, tool

Record = dict[str, Any]

TABLE_KEYS = {
    "plans": "plan_id",
    "customers": "customer_id",
    "lines": "line_id",
    "bills": "bill_id",
    "devices": "device_id",
}
TODAY = datetime.date(2025, 2, 25)

ACTIVE = "Active"
SUSPENDED = "Suspended"
PENDING_ACTIVATION = "Pending Activation"
DRAFT = "Draft"
AWAITING_PAYMENT = "Awaiting Payment"
PAID = "Paid"
OVERDUE = "Overdue"


def official_hash(db: DocumentDB) -> str:
    """The official telecom DB hash: the tables as lists (file order, then new records)."""
    tables = {name: [record for _, record in db.items(name)] for name in db.table_names}
    text = json.dumps(tables, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def phone_digits(phone_number: str) -> str:
    """The digits of a phone number, for format-insensitive matching."""
    return "".join(char for char in phone_number if char.isdigit())


def _scalars_as_text(values: dict[str, Any]) -> dict[str, Any]:
    """Upstream stringifies the plain numbers and booleans of a returned dict."""
    return {
        key: str(value) if isinstance(value, int | float) else value
        for key, value in values.items()
    }


class TelecomTools(Toolkit):
    """All the tools for the telecom domain (agent side)."""

    # -- lookups (records are read-only unless obtained through _mut) -------------------------

    def _find(self, table: str, key: Any) -> Record | None:
        if not isinstance(key, str):
            return None
        return cast(Record | None, self.db.get(table, key))

    def _mut(self, table: str, key: str) -> Record:
        return cast(Record, self.db.get_mut(table, key))

    def _customer(self, customer_id: str) -> Record:
        customer = self._find("customers", customer_id)
        if customer is None:
            raise ValueError(f"Customer with ID {customer_id} not found")
        return customer

    def _line(self, line_id: str) -> Record:
        line = self._find("lines", line_id)
        if line is None:
            raise ValueError(f"Line with ID {line_id} not found")
        return line

    def plan(self, plan_id: str) -> Record:
        """A plan by id (read-only), or ValueError."""
        plan = self._find("plans", plan_id)
        if plan is None:
            raise ValueError(f"Plan with ID {plan_id} not found")
        return plan

    def _device(self, device_id: str) -> Record:
        device = self._find("devices", device_id)
        if device is None:
            raise ValueError(f"Device with ID {device_id} not found")
        return device

    def _bill(self, bill_id: str) -> Record:
        bill = self._find("bills", bill_id)
        if bill is None:
            raise ValueError(f"Bill with ID {bill_id} not found")
        return bill

    def _target_line(self, customer_id: str, line_id: str) -> Record:
        customer = self._customer(customer_id)
        if line_id not in customer["line_ids"]:
            raise ValueError(f"Line {line_id} not found for customer {customer_id}")
        return self._line(line_id)

    def line_by_phone(self, phone_number: str) -> Record:
        """The line with this phone number (digits compared), or ValueError."""
        wanted = phone_digits(phone_number)
        for _, line in self.db.items("lines"):
            if phone_digits(line["phone_number"]) == wanted:
                return cast(Record, line)
        raise ValueError(f"Line with phone number {phone_number} not found")

    def bills_awaiting_payment(self, customer: Record) -> list[Record]:
        """The customer's bills whose status is "Awaiting Payment", in bill-list order."""
        bills = (self._bill(bill_id) for bill_id in customer["bill_ids"])
        return [bill for bill in bills if bill["status"] == AWAITING_PAYMENT]

    def set_bill_paid(self, bill_id: str) -> None:
        """Mark a bill as paid (the user paid the payment request)."""
        self._bill(bill_id)
        self._mut("bills", bill_id)["status"] = PAID

    # -- customer lookup ----------------------------------------------------------------------

    @tool("read")
    def get_customer_by_phone(self, phone_number: str) -> Record:
        """
        Finds a customer by their primary contact or line phone number.

        Args:
            phone_number: The phone number to search for.

        Returns:
            Customer object if found, None otherwise.
        """
        wanted = phone_digits(phone_number)
        for _, customer in self.db.items("customers"):
            if phone_digits(customer["phone_number"]) == wanted:
                return cast(Record, customer)
            for line_id in customer["line_ids"]:
                if phone_digits(self._line(line_id)["phone_number"]) == wanted:
                    return cast(Record, customer)
        raise ValueError(f"Customer with phone number {phone_number} not found")

    @tool("read")
    def get_customer_by_id(self, customer_id: str) -> Record:
        """
        Retrieves a customer directly by their unique ID.

        Args:
            customer_id: The unique identifier of the customer.

        Returns:
            Customer object if found, None otherwise.
        """
        return self._customer(customer_id)

    @tool("read")
    def get_customer_by_name(self, full_name: str, dob: str) -> list[Record]:
        """
        Searches for customers by name and DOB. May return multiple matches if names are similar,
        DOB helps disambiguate.

        Args:
            full_name: The full name of the customer.
            dob: Date of birth for verification, in the format YYYY-MM-DD.

        Returns:
            List of matching Customer objects.
        """
        return [
            cast(Record, customer)
            for _, customer in self.db.items("customers")
            if customer["full_name"].lower() == full_name.lower()
            and customer["date_of_birth"] == dob
        ]

    @tool("read")
    def get_details_by_id(self, id: str) -> Record:
        """
        Retrieves the details for a given ID.
        The ID must be a valid ID for a Customer, Line, Device, Bill, or Plan.

        Args:
            id: The ID of the object to retrieve.

        Returns:
            The object corresponding to the ID.

        Raises:
            ValueError: If the ID is not found or if the ID format is invalid.
        """
        if id.startswith("L"):
            return self._line(id)
        if id.startswith("D"):
            return self._device(id)
        if id.startswith("B"):
            return self._bill(id)
        if id.startswith("C"):
            return self._customer(id)
        if id.startswith("P"):
            return self.plan(id)
        raise ValueError(f"Unknown ID format or type: {id}")

    # -- lines --------------------------------------------------------------------------------

    @tool("write")
    def suspend_line(self, customer_id: str, line_id: str, reason: str) -> Record:
        """
        Suspends a specific line (max 6 months).
        Checks: Line status must be Active.
        Logic: Sets line status to Suspended, records suspension_start_date.

        Args:
            customer_id: ID of the customer who owns the line.
            line_id: ID of the line to suspend.
            reason: Reason for suspension.

        Returns:
            Dictionary with success status, message, and updated line if applicable.

        Raises:
            ValueError: If customer or line not found, or if line is not active.
        """
        if self._target_line(customer_id, line_id)["status"] != ACTIVE:
            raise ValueError("Line must be active to suspend")
        line = self._mut("lines", line_id)
        line["status"] = SUSPENDED
        line["suspension_start_date"] = str(TODAY)
        return {
            "message": "Line suspended successfully. $5/month holding fee will apply.",
            "line": line,
        }

    @tool("write")
    def resume_line(self, customer_id: str, line_id: str) -> Record:
        """
        Resumes a suspended line.
        Checks: Line status must be Suspended or Pending Activation.
        Logic: Sets line status to Active, clears suspension_start_date.

        Args:
            customer_id: ID of the customer who owns the line.
            line_id: ID of the line to resume.

        Returns:
            Dictionary with success status, message, and updated line if applicable.

        Raises:
            ValueError: If customer or line not found, or if line is not suspended or pending activation.
        """
        if self._target_line(customer_id, line_id)["status"] not in (
            SUSPENDED,
            PENDING_ACTIVATION,
        ):
            raise ValueError("Line must be suspended to resume")
        line = self._mut("lines", line_id)
        line["status"] = ACTIVE
        line["suspension_start_date"] = None
        return {"message": "Line resumed successfully", "line": line}

    # -- billing and payments -----------------------------------------------------------------

    @tool("read")
    def get_bills_for_customer(self, customer_id: str, limit: int = 12) -> list[Record]:
        """
        Retrieves a list of the customer's bills, most recent first.

        Args:
            customer_id: ID of the customer.
            limit: Maximum number of bills to return.

        Returns:
            List of Bill objects, ordered by issue date (newest first).

        Raises:
            ValueError: If the customer is not found.
        """
        customer = self._customer(customer_id)
        bills = [self._bill(bill_id) for bill_id in customer["bill_ids"]]
        ordered = sorted(bills, key=lambda bill: bill["issue_date"], reverse=True)
        return ordered[:limit]

    @tool("write")
    def send_payment_request(self, customer_id: str, bill_id: str) -> str:
        """
        Sends a payment request to the customer for a specific bill.
        Checks:
            - Customer exists
            - Bill exists and belongs to the customer
            - No other bills are already awaiting payment for this customer
        Logic: Sets bill status to AWAITING_PAYMENT and notifies customer.
        Warning: This method does not check if the bill is already PAID.
        Always check the bill status before calling this method.

        Args:
            customer_id: ID of the customer who owns the bill.
            bill_id: ID of the bill to send payment request for.

        Returns:
            Message indicating the payment request has been sent.

        Raises:
            ValueError: If customer not found, bill not found, or if another bill is already awaiting payment.
        """
        customer = self._customer(customer_id)
        if self.bills_awaiting_payment(customer):
            raise ValueError("A bill is already awaiting payment for this customer")
        if bill_id not in customer["bill_ids"]:
            raise ValueError(f"Bill {bill_id} not found for customer {customer_id}")
        self._bill(bill_id)
        bill = self._mut("bills", bill_id)
        bill["status"] = AWAITING_PAYMENT
        return f"Payment request sent to the customer for bill {bill['bill_id']}"

    def _apply_one_time_charge(self, customer_id: str, amount: float, description: str) -> None:
        """Add a charge (or credit) to the customer's draft bill, creating one if needed.

        Upstream names a new draft bill ``B`` + 8 random hex digits (uuid4); here the 8 hex
        digits are derived from the customer and its bill count, so runs are reproducible.
        """
        customer = self._customer(customer_id)
        draft_id = next(
            (bill_id for bill_id in customer["bill_ids"] if self._bill(bill_id)["status"] == DRAFT),
            None,
        )
        if draft_id is None:
            next_month = (TODAY.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
            following = next_month.replace(
                month=next_month.month + 1 if next_month.month < 12 else 1,
                year=next_month.year if next_month.month < 12 else next_month.year + 1,
            )
            draft_id = self._new_bill_id(customer_id, len(customer["bill_ids"]))
            self.db.insert(
                "bills",
                draft_id,
                _bill_record(
                    draft_id,
                    customer_id,
                    period_start=next_month,
                    period_end=following - datetime.timedelta(days=1),
                    issue_date=next_month,
                    due_date=next_month + datetime.timedelta(days=14),
                    status=DRAFT,
                ),
            )
            self._mut("customers", customer_id)["bill_ids"].append(draft_id)
        bill = self._mut("bills", draft_id)
        bill["line_items"].append(
            _line_item(description, amount, "Credit" if amount < 0 else "Charge")
        )
        bill["total_due"] += amount

    def _new_bill_id(self, customer_id: str, salt: int) -> str:
        for attempt in range(1000):
            seed = f"{customer_id}/{salt}/{attempt}".encode()
            bill_id = "B" + hashlib.sha256(seed).hexdigest()[:8]
            if not self.db.contains("bills", bill_id):
                return bill_id
        raise ValueError("Cannot create a new bill id")

    # -- usage, roaming, refuelling, transfer ---------------------------------------------------

    @tool("read")
    def get_data_usage(self, customer_id: str, line_id: str) -> Record:
        """
        Retrieves current billing cycle data usage for a line, including data
        refueling amount, data limit, and cycle end date.

        Args:
            customer_id: ID of the customer who owns the line.
            line_id: ID of the line to check usage for.

        Returns:
            Dictionary with usage information.

        Raises:
            ValueError: If customer, line, or plan not found.
        """
        line = self._target_line(customer_id, line_id)
        plan = self.plan(line["plan_id"])
        cycle_end = datetime.date(
            TODAY.year, TODAY.month + 1 if TODAY.month < 12 else 1, 1
        ) - datetime.timedelta(days=1)
        return _scalars_as_text(
            {
                "line_id": line_id,
                "data_used_gb": line["data_used_gb"],
                "data_limit_gb": plan["data_limit_gb"],
                "data_refueling_gb": line["data_refueling_gb"],
                "cycle_end_date": cycle_end.isoformat(),
            }
        )

    def set_data_usage(self, customer_id: str, line_id: str, data_used_gb: float) -> str:
        """Set a line's data usage (a setup function, not a tool; the value is stored as given)."""
        self._target_line(customer_id, line_id)
        self._mut("lines", line_id)["data_used_gb"] = data_used_gb
        return f"Data usage set to {data_used_gb} GB for line {line_id}"

    @tool("write")
    def enable_roaming(self, customer_id: str, line_id: str) -> str:
        """
        Enables international roaming on a line.

        Args:
            customer_id: ID of the customer who owns the line.
            line_id: ID of the line to enable roaming for.

        Returns:
            Message indicating the roaming has been enabled.

        Raises:
            ValueError: If customer or line not found.
        """
        if self._target_line(customer_id, line_id)["roaming_enabled"]:
            return "Roaming was already enabled"
        self._mut("lines", line_id)["roaming_enabled"] = True
        return "Roaming enabled successfully"

    @tool("write")
    def disable_roaming(self, customer_id: str, line_id: str) -> str:
        """
        Disables international roaming on a line.

        Args:
            customer_id: ID of the customer who owns the line.
            line_id: ID of the line to disable roaming for.

        Returns:
            Message indicating the roaming has been enabled.

        Raises:
            ValueError: If customer or line not found.
        """
        if not self._target_line(customer_id, line_id)["roaming_enabled"]:
            return "Roaming was already disabled"
        self._mut("lines", line_id)["roaming_enabled"] = False
        return "Roaming disabled successfully"

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
    def refuel_data(self, customer_id: str, line_id: str, gb_amount: float) -> Record:
        """
        Refuels data for a specific line, adding to the customer's bill.
        Checks: Line status must be Active, Customer owns the line.
        Logic: Adds data to the line and charges customer based on the plan's refueling rate.

        Args:
            customer_id: ID of the customer who owns the line.
            line_id: ID of the line to refuel data for.
            gb_amount: Amount of data to add in gigabytes.

        Returns:
            Dictionary with success status, message, charge amount, and updated line if applicable.

        Raises:
            ValueError: If customer, line, or plan not found, or if checks fail.
        """
        line = self._target_line(customer_id, line_id)
        if gb_amount <= 0:
            raise ValueError("Refuel amount must be positive")
        plan = self.plan(line["plan_id"])
        price = plan["data_refueling_price_per_gb"]
        charge = gb_amount * price
        line = self._mut("lines", line_id)
        line["data_refueling_gb"] += gb_amount
        self._apply_one_time_charge(
            customer_id, charge, f"Data refueling: {gb_amount} GB at ${price}/GB"
        )
        return _scalars_as_text(
            {
                "message": (
                    f"Successfully added {gb_amount} GB of data for line {line_id} "
                    f"for ${charge:.2f}"
                ),
                "new_data_refueling_gb": line["data_refueling_gb"],
                "charge": charge,
            }
        )

    # -- setup ("break") functions ------------------------------------------------------------

    def suspend_line_for_overdue_bill(
        self, customer_id: str, line_id: str, new_bill_id: str, contract_ended: bool
    ) -> str:
        """Suspend a line for an unpaid bill, adding that overdue bill (a setup function).

        A ``new_bill_id`` already in the DB is refused (upstream would add a second bill with
        the same id; ids are unique here).
        """
        if self.db.contains("bills", new_bill_id):
            raise ValueError(f"Bill {new_bill_id} already exists")
        line = self._line(line_id)
        if line["status"] != ACTIVE:
            raise ValueError("Line must be active to suspend for unpaid bill")
        amount = self.plan(line["plan_id"])["price_per_month"]
        if amount <= 0:
            raise ValueError("Amount must be positive for overdue bill")
        customer = self._customer(customer_id)
        if any(self._bill(bill_id)["status"] == OVERDUE for bill_id in customer["bill_ids"]):
            raise ValueError("Customer already has an overdue bill")
        last_day = TODAY.replace(day=1) - datetime.timedelta(days=1)
        first_day = last_day.replace(day=1)
        bill = _bill_record(
            new_bill_id,
            customer_id,
            period_start=first_day,
            period_end=last_day,
            issue_date=first_day,
            due_date=first_day + datetime.timedelta(days=14),
            status=OVERDUE,
        )
        bill["line_items"].append(
            _line_item(
                f"Charge for line {line['line_id']}", amount, "Charge" if amount > 0 else "Credit"
            )
        )
        bill["total_due"] += amount
        self.db.insert("bills", new_bill_id, bill)
        self._mut("customers", customer_id)["bill_ids"].append(new_bill_id)
        line = self._mut("lines", line_id)
        line["status"] = SUSPENDED
        line["suspension_start_date"] = str(TODAY)
        if contract_ended:
            line["contract_end_date"] = str(last_day)
        return (
            f"Line {line_id} suspended for unpaid bill {new_bill_id}. "
            f"Contract ended: {contract_ended}"
        )

    # -- env assertions -----------------------------------------------------------------------

    def assert_data_refueling_amount(
        self, customer_id: str, line_id: str, expected_amount: float
    ) -> bool:
        """Whether the line's refuelled data equals the expected amount (within 1e-6)."""
        line = self._target_line(customer_id, line_id)
        return bool(abs(line["data_refueling_gb"] - expected_amount) < 1e-6)

    def assert_line_status(self, customer_id: str, line_id: str, expected_status: str) -> bool:
        """Whether the line has the expected status."""
        return bool(self._target_line(customer_id, line_id)["status"] == expected_status)

    def assert_overdue_bill_exists(self, customer_id: str, overdue_bill_id: str) -> bool:
        """True if the customer has this bill and it is overdue; otherwise ValueError."""
        customer = self._customer(customer_id)
        if overdue_bill_id not in customer["bill_ids"]:
            raise ValueError(f"Overdue bill {overdue_bill_id} not found")
        if self._bill(overdue_bill_id)["status"] != OVERDUE:
            raise ValueError(f"Overdue bill {overdue_bill_id} is not overdue")
        return True

    def assert_no_overdue_bill(self, overdue_bill_id: str) -> bool:
        """Whether the bill is absent from the DB or paid."""
        bill = self._find("bills", overdue_bill_id)
        return bill is None or bill["status"] == PAID


def _bill_record(
    bill_id: str,
    customer_id: str,
    *,
    period_start: datetime.date,
    period_end: datetime.date,
    issue_date: datetime.date,
    due_date: datetime.date,
    status: str,
) -> Record:
    """A new empty bill, fields in model order (``total_due`` 0 becomes the float 0.0)."""
    return {
        "bill_id": bill_id,
        "customer_id": customer_id,
        "period_start": str(period_start),
        "period_end": str(period_end),
        "issue_date": str(issue_date),
        "total_due": 0.0,
        "due_date": str(due_date),
        "line_items": [],
        "status": status,
    }


def _line_item(description: str, amount: float, item_type: str) -> Record:
    """A bill line item dated today; the amount is a float as in the typed model."""
    return {
        "description": description,
        "amount": float(amount),
        "date": str(TODAY),
        "item_type": item_type,
    }

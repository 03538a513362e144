"""tau-trait telecom domain: customers, services, devices, billing and support tickets.

Behaviour follows collinear-ai/tau-trait (MIT): the same state changes (including the
partial writes of ``manage_service``), the same output and error strings, ``json.dumps``
with its default separators. Tools are called as ``fn(data, **arguments)``; errors are
returned as ``"Error: ..."`` strings, a few cases raise (the runtime then returns
``"Error: <exception>"``, as upstream's environment does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fama.envs.tau_trait.runtime import DomainTools, ToolFunction, calculate_v1, load_json_files

DATA_FILES = ("customers", "services", "devices", "billing", "support_tickets")
TICKET_CATEGORIES = (
    "mobile",
    "internet",
    "tv",
    "billing",
    "account",
    "device",
    "security",
    "phone",
)
TICKET_PRIORITIES = ("low", "medium", "high", "urgent")
ISSUES = ("no_service", "slow_speeds", "battery_drain")

_PHONE_STEPS = {
    "battery_drain": (
        "\nTroubleshooting steps: \n1) Restart device \n2) Check brightness settings and "
        "reduce if needed\n3) Close background apps\n4) Contact support if issue persists\n"
    ),
    "no_service": (
        "\nTroubleshooting steps: \n1) Restart device \n2) Check signal coverage \n"
        "3) Reset network settings \n4) Contact support if issue persists\n"
    ),
    "slow_speeds": (
        "\nTroubleshooting steps: \n1) Restart device \n2) Check data usage and plan limits\n"
        "3) Reset network settings \n4) Contact support if issue persists\n"
    ),
}
_NETWORKING_STEPS = {
    "no_service": (
        "\nTroubleshooting steps: \n1) Restart router by unplugging for 30 seconds\n"
        "2) Check all cable connections \n3) Update firmware if available\n"
        "4) Contact support if needed\n"
    ),
    "slow_speeds": (
        "\nTroubleshooting steps: \n1) Restart router by unplugging for 30 seconds\n"
        "2) Check cable connections \n3) Run speed test \n4) Contact support if needed\n"
    ),
}
_TV_NO_SERVICE = (
    "\nTroubleshooting steps: \n1) Check correct input/source \n2) Verify cable connections \n"
    "3) Restart cable box \n4) Contact support if needed\n"
)
UNKNOWN_ISSUE = "Unknown issue"


def load_data(root: Path) -> dict[str, Any]:
    """Read ``<root>/telecom/{customers,services,devices,billing,support_tickets}.json``."""
    return load_json_files(root, "telecom", DATA_FILES)


def calculate(data: dict[str, Any], expression: str) -> str:
    """Evaluate an arithmetic expression (digits, + - * / ( ) . and spaces), rounded to 2."""
    return calculate_v1(expression)


def think(data: dict[str, Any], thought: str) -> str:
    """Log a thought; no new information, no state change."""
    return ""


def find_customer_by_email(data: dict[str, Any], email: str) -> str:
    """The id of the customer with this email (case-insensitive)."""
    for customer_id, customer in data.get("customers", {}).items():
        if customer.get("demographics", {}).get("email", "").lower() == email.lower():
            return str(customer_id)
    return f"Error: No customer found with email address: {email}"


def find_customer_by_phone(data: dict[str, Any], phone: str) -> str:
    """The id of the customer with this phone number (digits compared only)."""
    wanted = "".join(filter(str.isdigit, phone))
    for customer_id, customer in data.get("customers", {}).items():
        number = customer.get("demographics", {}).get("phone", "")
        if "".join(filter(str.isdigit, number)) == wanted:
            return str(customer_id)
    return f"Error: No customer found with phone number: {phone}"


def get_customer_details(data: dict[str, Any], customer_id: str) -> str:
    """The customer record as JSON."""
    customers = data.get("customers", {})
    if customer_id not in customers:
        return f"Error: Customer not found: {customer_id}"
    return json.dumps(customers[customer_id])


def get_service_details(data: dict[str, Any], service_id: str) -> str:
    """One service plan as JSON."""
    services = data.get("services", {})
    if service_id not in services:
        return f"Error: Service not found: {service_id}"
    return json.dumps(services[service_id])


def get_services(data: dict[str, Any]) -> str:
    """Every service plan as JSON."""
    return json.dumps(data.get("services", {}))


def get_device_details(data: dict[str, Any], device_name: str) -> str:
    """One device catalog entry (by name) as JSON."""
    devices = data.get("devices", {})
    if device_name not in devices:
        return f"Error: Device not found: {device_name}"
    return json.dumps(devices[device_name])


def get_billing_details(data: dict[str, Any], customer_id: str) -> str:
    """A customer's billing record as JSON."""
    billing = data.get("billing", {})
    if customer_id not in billing:
        return f"Error: No billing information found for customer: {customer_id}"
    return json.dumps(billing[customer_id])


def get_support_ticket_details(data: dict[str, Any], ticket_id: str) -> str:
    """One support ticket as JSON."""
    tickets = data.get("support_tickets", {})
    if ticket_id not in tickets:
        return f"Error: Support ticket not found: {ticket_id}"
    return json.dumps(tickets[ticket_id])


def get_senior_discount(data: dict[str, Any], original_price: str) -> str:
    """The price minus the fixed $5 senior discount (never below 0), two decimals."""
    try:
        price = float(original_price)
    except (TypeError, ValueError):
        return "Error: original_price must be a number"
    return f"{max(price - 5.0, 0.0):.2f}"


def troubleshoot_device(data: dict[str, Any], device_name: str, issue: str) -> str:
    """Fixed troubleshooting steps for a device category and issue.

    An issue outside ``ISSUES`` raises (upstream converts it to its ``Issue`` enum); a tv
    issue other than ``no_service`` raises ``AttributeError('NO_SIGNAL')``, the error
    upstream hits on Python 3.11 when it compares against a missing enum member.
    """
    if issue not in ISSUES:
        raise ValueError(f"{issue!r} is not a valid Issue")
    devices = data.get("devices", {})
    if device_name not in devices:
        return f"Error: Device not found: {device_name}"
    category = devices[device_name].get("category", "")
    if category in ("mobile_phone", "phone"):
        return _PHONE_STEPS[issue]
    if category == "networking":
        return _NETWORKING_STEPS.get(issue, UNKNOWN_ISSUE)
    if category == "tv":
        if issue == "no_service":
            return _TV_NO_SERVICE
        raise AttributeError("NO_SIGNAL")
    return UNKNOWN_ISSUE


def manage_service(
    data: dict[str, Any],
    customer_id: str,
    action: str,
    service_id: str | None = None,
    devices_ids: list[str] | None = None,
) -> str:
    """List, add or remove a customer's services (with their devices and monthly charges).

    ``add`` re-links the listed devices one by one and stops at the first unknown id, so the
    earlier ones stay re-linked (upstream's partial write). ``remove`` unlinks devices and
    drops the service before popping its monthly charge, which raises ``KeyError`` when the
    service is not billed (the changes made before stay).
    """
    customers = data.get("customers", {})
    services = data.get("services", {})
    billing = data.get("billing", {})
    if customer_id not in customers:
        return f"Error: Customer not found: {customer_id}"
    customer = customers[customer_id]
    customer_services = customer.get("services", [])
    devices = customer.get("devices", [])

    if action == "list":
        listed = [services[s] for s in customer_services if s in services]
        return json.dumps({"customer_id": customer_id, "services": listed})
    if not service_id:
        return f"Error: Service ID is required for action: {action}"

    if action == "add":
        if service_id not in services:
            return f"Error: Service not found: {service_id}"
        if service_id in customer_services:
            return f"Error: Customer {customer_id} already has service: {service_id}"
        for device_id in devices_ids or []:
            if device_id not in [d["device_id"] for d in devices]:
                return f"Error: Device not found: {device_id} in devices {devices}"
            for device in devices:
                if device["device_id"] == device_id:
                    device["service"] = service_id
                    break
        customer_services.append(service_id)
        name = services.get(service_id, {}).get("name", service_id)
        entry = billing.get(customer_id)
        if isinstance(entry, dict):
            entry["monthly_charges"][service_id] = services.get(service_id, {}).get("price", 0.0)
        return f"Success: Added service '{name}' to customer {customer_id}"

    if action == "remove":
        if service_id not in customer_services:
            return f"Error: Customer {customer_id} does not have service: {service_id}"
        removed_devices = []
        for device in devices:
            if device.get("service") == service_id:
                device["service"] = None
                removed_devices.append(device.get("name"))
        customer_services.remove(service_id)
        name = services.get(service_id, {}).get("name", service_id)
        entry = billing.get(customer_id)
        if isinstance(entry, dict):
            entry["monthly_charges"].pop(service_id)
        return (
            f"Success: Removed service '{name}' from customer {customer_id}. "
            f"Devices {removed_devices} are now no longer associated with the service."
        )

    return f"Error: Invalid action: {action}. Valid actions are: add, remove, list"


def add_device(data: dict[str, Any], customer_id: str, device_name: str) -> str:
    """Add a catalog device to a customer (id = number of their devices + 1, no service)."""
    customers = data.get("customers", {})
    if customer_id not in customers:
        return f"Error: Customer not found: {customer_id}"
    customer_devices = customers[customer_id].get("devices", [])
    if device_name not in data.get("devices", {}):
        return f"Error: Invalid device name: {device_name}"
    customer_devices.append(
        {"device_id": str(len(customer_devices) + 1), "name": device_name, "service": None}
    )
    return f"Success: Added device '{device_name}' to customer {customer_id}"


def manage_billing(
    data: dict[str, Any], customer_id: str, paperless: bool, auto_pay: bool, billing_cycle: str
) -> str:
    """Set paperless, auto-pay and the billing cycle of a customer's billing record."""
    if customer_id not in data.get("customers", {}):
        return f"Error: Customer not found: {customer_id}"
    record = data.get("billing", {})[customer_id]
    record["paperless"] = paperless
    record["auto_pay"] = auto_pay
    record["billing_cycle"] = billing_cycle
    return json.dumps({"customer_id": customer_id, "billing": record})


def record_payment(
    data: dict[str, Any], customer_id: str, amount: float | int | str, method: str, date: str
) -> str:
    """Apply a payment: lower the balance (not below 0), log it and set the last payment."""
    billing = data.get("billing", {})
    if customer_id not in billing:
        return f"Error: No billing information found for customer: {customer_id}"
    try:
        paid = round(float(amount), 2)
    except (TypeError, ValueError):
        return "Error: amount must be a number"
    entry = billing[customer_id]
    balance = max(round(float(entry.get("current_balance", 0.0)) - paid, 2), 0.0)
    entry["current_balance"] = balance
    entry.setdefault("payment_history", []).append(
        {"date": date, "amount": paid, "status": "completed"}
    )
    entry["last_payment"] = {"amount": paid, "date": date, "method": method, "status": "completed"}
    return json.dumps(
        {
            "customer_id": customer_id,
            "amount": f"{paid:.2f}",
            "method": method,
            "date": date,
            "current_balance": f"{balance:.2f}",
        }
    )


def create_support_ticket(
    data: dict[str, Any], customer_id: str, category: str, priority: str = "medium"
) -> str:
    """Open a ticket ``TICKET<n+1:03d>`` (n = number of tickets) for a customer."""
    tickets = data.get("support_tickets", {})
    if customer_id not in data.get("customers", {}):
        return f"Error: Customer not found: {customer_id}"
    if category not in TICKET_CATEGORIES:
        return (
            f"Error: Invalid category: {category}. Valid categories: {', '.join(TICKET_CATEGORIES)}"
        )
    if priority not in TICKET_PRIORITIES:
        return (
            f"Error: Invalid priority: {priority}. Valid priorities: {', '.join(TICKET_PRIORITIES)}"
        )
    ticket_id = f"TICKET{len(tickets) + 1:03d}"
    tickets[ticket_id] = {
        "ticket_id": ticket_id,
        "customer_id": customer_id,
        "status": "open",
        "priority": priority,
        "category": category,
    }
    return f"Success: Created support ticket {ticket_id} for customer {customer_id}"


def modify_support_ticket(data: dict[str, Any], ticket_id: str, status: str, priority: str) -> str:
    """Overwrite a ticket's status and priority (free strings)."""
    tickets = data.get("support_tickets", {})
    if ticket_id not in tickets:
        return f"Error: Support ticket not found: {ticket_id}"
    tickets[ticket_id]["status"] = status
    tickets[ticket_id]["priority"] = priority
    return (
        f"Success: Modified support ticket {ticket_id} with status {status} and priority {priority}"
    )


TOOLS: dict[str, ToolFunction] = {
    "calculate": calculate,
    "think": think,
    "find_customer_by_email": find_customer_by_email,
    "find_customer_by_phone": find_customer_by_phone,
    "get_customer_details": get_customer_details,
    "get_service_details": get_service_details,
    "get_device_details": get_device_details,
    "get_billing_details": get_billing_details,
    "manage_service": manage_service,
    "troubleshoot_device": troubleshoot_device,
    "create_support_ticket": create_support_ticket,
    "get_support_ticket_details": get_support_ticket_details,
    "add_device": add_device,
    "manage_billing": manage_billing,
    "get_services": get_services,
    "get_senior_discount": get_senior_discount,
    "modify_support_ticket": modify_support_ticket,
    "record_payment": record_payment,
}

DOMAIN = DomainTools(
    name="telecom",
    tools=TOOLS,
    write_tools=frozenset(
        {
            "manage_service",
            "add_device",
            "manage_billing",
            "record_payment",
            "create_support_ticket",
            "modify_support_ticket",
        }
    ),
    # upstream lists transfer_to_human_support as terminal, but telecom has no such tool
    # (a call is an unknown action and does not end the episode), so nothing is terminal here
    terminal_tools=frozenset(),
    load_data=load_data,
)

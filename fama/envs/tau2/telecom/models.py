"""Typed models of the telecom DBs: the agent's ``db.toml`` and the user's phone ``user_db.toml``.

Field names, order, types and defaults follow upstream's telecom data models (behaviour
follows sierra-research/tau2-bench, MIT), so that a loaded DB normalises to exactly what the
official hash serialises: every default filled, model field order, enums as their values,
dates as ``str(date)`` ("2025-02-25") and date-times as ``str(datetime)``
("2025-01-20 14:30:00"). The models validate the files once; tools then work on the plain
normalised dicts. ``APNSettings`` and the enums also define the user tools' JSON schemas, so
their docstrings and field descriptions are upstream's.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_START_DATE = datetime.date(2025, 1, 1)


class _Strict(BaseModel):
    """Models that reject unknown fields, as upstream's."""

    model_config = ConfigDict(extra="forbid")


# -- agent DB ---------------------------------------------------------------------------------


class Address(_Strict):
    """A customer's billing address."""

    street: str
    city: str
    state: str
    zip_code: str


class Plan(_Strict):
    """A service plan."""

    plan_id: str
    name: str
    data_limit_gb: float
    price_per_month: float
    data_refueling_price_per_gb: float


class DeviceType(StrEnum):
    """Kinds of devices."""

    PHONE = "phone"
    ROUTER = "router"
    TABLET = "tablet"
    WATCH = "watch"
    OTHER = "other"


class Device(_Strict):
    """A device known to the carrier."""

    device_id: str
    device_type: DeviceType
    model: str
    imei: str | None = None
    is_esim_capable: bool
    activated: bool = False
    activation_date: datetime.datetime | None = None
    last_esim_transfer_date: datetime.datetime | None = None


class LineStatus(StrEnum):
    """States of a phone line."""

    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    PENDING_ACTIVATION = "Pending Activation"
    CLOSED = "Closed"


class Line(_Strict):
    """A phone/data line."""

    line_id: str
    phone_number: str
    status: LineStatus = LineStatus.PENDING_ACTIVATION
    plan_id: str
    device_id: str | None = None
    data_used_gb: float = 0.0
    data_refueling_gb: float = 0.0
    roaming_enabled: bool = False
    contract_end_date: datetime.date | None = None
    last_plan_change_date: datetime.date | None = None
    last_sim_replacement_date: datetime.date | None = None
    suspension_start_date: datetime.date | None = None


class LineItem(_Strict):
    """A charge or credit on a bill."""

    description: str
    amount: float
    date: datetime.date
    item_type: str


class BillStatus(StrEnum):
    """States of a bill."""

    DRAFT = "Draft"
    ISSUED = "Issued"
    AWAITING_PAYMENT = "Awaiting Payment"
    PAID = "Paid"
    OVERDUE = "Overdue"
    DISPUTED = "Disputed"


class Bill(_Strict):
    """A customer's bill."""

    bill_id: str
    customer_id: str
    period_start: datetime.date
    period_end: datetime.date
    issue_date: datetime.date
    total_due: float
    due_date: datetime.date
    line_items: list[LineItem] = Field(default_factory=list)
    status: BillStatus = BillStatus.DRAFT


class AccountStatus(StrEnum):
    """States of a customer account."""

    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    PENDING_VERIFICATION = "Pending Verification"
    CLOSED = "Closed"


class PaymentMethodType(StrEnum):
    """Kinds of stored payment methods."""

    CREDIT_CARD = "Credit Card"
    DEBIT_CARD = "Debit Card"
    PAYPAL = "PayPal"


class PaymentMethod(_Strict):
    """A stored payment method."""

    method_type: PaymentMethodType
    account_number_last_4: str
    expiration_date: str


class Customer(_Strict):
    """A customer account."""

    customer_id: str
    full_name: str
    date_of_birth: str
    email: str
    phone_number: str
    address: Address
    account_status: AccountStatus = AccountStatus.PENDING_VERIFICATION
    payment_methods: list[PaymentMethod] = Field(default_factory=list)
    line_ids: list[str] = Field(default_factory=list)
    bill_ids: list[str] = Field(default_factory=list)
    created_at: datetime.datetime = DEFAULT_START_DATE  # type: ignore[assignment]  # as upstream
    last_extension_date: datetime.date | None = None
    goodwill_credit_used_this_year: float = 0.0


class TelecomDB(_Strict):
    """The agent-side telecom DB (tables are lists, in file order)."""

    plans: list[Plan] = Field(default_factory=list)
    customers: list[Customer] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)
    bills: list[Bill] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)


# -- user DB (the simulated phone and the user's surroundings) --------------------------------


class SimStatus(StrEnum):
    """States of the SIM card."""

    ACTIVE = "active"
    MISSING = "missing"
    LOCKED_PIN = "locked_pin"
    LOCKED_PUK = "locked_puk"


class NetworkTechnology(StrEnum):
    """Cellular technologies."""

    NONE = "none"
    TWO_G = "2G"
    THREE_G = "3G"
    FOUR_G = "4G"
    FIVE_G = "5G"


class NetworkModePreference(StrEnum):
    # no docstring: it would become the description in the user tools' JSON schema
    FOUR_G_5G_PREFERRED = "4g_5g_preferred"
    FOUR_G_ONLY = "4g_only"
    THREE_G_ONLY = "3g_only"
    TWO_G_ONLY = "2g_only"


class SignalStrength(StrEnum):
    """Signal levels (none, then 1 to 4+ bars)."""

    NONE = "none"
    POOR = "poor"
    FAIR = "fair"
    GOOD = "good"
    EXCELLENT = "excellent"


class PerformanceLevel(StrEnum):
    """Quality levels of a VPN server."""

    UNKNOWN = "unknown"
    POOR = "poor"
    FAIR = "fair"
    GOOD = "good"
    EXCELLENT = "excellent"


class NetworkStatus(StrEnum):
    """States of the cellular connection."""

    CONNECTED = "connected"
    SEARCHING = "searching"
    NO_SERVICE = "no_service"
    EMERGENCY_ONLY = "emergency_only"


class APNNames(StrEnum):
    # no docstring: it would become the description in the user tools' JSON schema
    INTERNET = "internet"
    BROKEN = "broken"


class APNSettings(_Strict):
    """Represents the configuration for a single Access Point Name (APN)."""

    apn_name: APNNames = Field(
        default=APNNames.INTERNET,
        description="The name identifier for the APN connection.",
    )
    reset_at_reboot: bool = Field(
        default=False,
        description="Whether the APN settings will be reset at the next reboot.",
    )
    mms_apn: str | None = Field(
        default="mms",
        description="Specific APN name used for MMS traffic, if different from general data.",
    )
    mmsc_url: str | None = Field(
        default="http://mms.carrier.com/mms/wapenc",
        description="The URL of the Multimedia Messaging Service Center (MMSC). Crucial for MMS.",
    )
    mms_proxy: str | None = Field(
        default=None,
        description="The proxy server address required for MMS traffic on some networks.",
    )
    mms_port: int | None = Field(
        default=None,
        description="The proxy server port required for MMS traffic on some networks.",
    )


class VpnDetails(_Strict):
    """The connected VPN server."""

    server_address: str | None = None
    protocol: str | None = None
    server_performance: PerformanceLevel = PerformanceLevel.UNKNOWN


class AppPermissions(_Strict):
    """The permissions tracked for an app."""

    sms: bool = False
    storage: bool = False
    phone: bool = False
    network: bool = False


class AppStatus(_Strict):
    """An installed app and its permissions."""

    app_name: str
    permissions: AppPermissions = Field(default_factory=AppPermissions)


def _default_apps() -> dict[str, AppStatus]:
    return {
        "messaging": AppStatus(
            app_name="messaging",
            permissions=AppPermissions(sms=True, storage=True, phone=True),
        ),
        "browser": AppStatus(
            app_name="browser",
            permissions=AppPermissions(network=True, storage=True),
        ),
    }


class MockPhoneAttributes(_Strict):
    """The state of the user's phone."""

    sim_card_status: SimStatus = SimStatus.ACTIVE
    sim_card_missing: bool = False
    airplane_mode: bool = False
    network_signal_strength: SignalStrength = SignalStrength.GOOD
    network_technology_connected: NetworkTechnology = NetworkTechnology.FIVE_G
    network_connection_status: NetworkStatus = NetworkStatus.CONNECTED
    battery_level: int = 80
    data_enabled: bool = True
    roaming_enabled: bool = False
    network_mode_preference: NetworkModePreference = NetworkModePreference.FOUR_G_5G_PREFERRED
    active_apn_settings: APNSettings = Field(default_factory=lambda: APNSettings())
    wifi_enabled: bool = False
    wifi_connected: bool = False
    wifi_ssid: str | None = None
    wifi_signal_strength: SignalStrength = SignalStrength.NONE
    wifi_calling_enabled: bool = False
    wifi_calling_mms_over_wifi: bool = False
    data_saver_mode: bool = False
    vpn_enabled_setting: bool = False
    vpn_connected: bool = False
    vpn_details: VpnDetails | None = None
    app_statuses: dict[str, AppStatus] = Field(default_factory=_default_apps)


class PaymentRequest(_Strict):
    """A payment the agent requested from the user."""

    bill_id: str
    amount_due: float
    paid: bool = False


def _default_signal() -> dict[NetworkTechnology, SignalStrength]:
    return {
        NetworkTechnology.TWO_G: SignalStrength.POOR,
        NetworkTechnology.THREE_G: SignalStrength.FAIR,
        NetworkTechnology.FOUR_G: SignalStrength.GOOD,
        NetworkTechnology.FIVE_G: SignalStrength.EXCELLENT,
    }


class UserSurroundings(_Strict):
    """Where the user is and what the carrier allows them (synced from the agent DB)."""

    name: str | None = None
    phone_number: str | None = None
    is_abroad: bool = False
    roaming_allowed: bool = False
    signal_strength: dict[NetworkTechnology, SignalStrength] = Field(
        default_factory=_default_signal
    )
    mobile_data_usage_exceeded: bool = False
    line_active: bool = True
    payment_request: PaymentRequest | None = None


class TelecomUserDB(_Strict):
    """The user-side telecom DB: the phone and the surroundings."""

    device: MockPhoneAttributes = Field(default_factory=MockPhoneAttributes)
    surroundings: UserSurroundings = Field(default_factory=UserSurroundings)


# -- loading and normalisation ----------------------------------------------------------------


def normalise(model: BaseModel) -> dict[str, Any]:
    """A model as the plain dict the official hash sees (``json.dumps(..., default=str)``)."""
    return json.loads(json.dumps(model.model_dump(), default=str))  # type: ignore[no-any-return]


def validate_agent_db(data: Any, source: str) -> dict[str, Any]:
    """Validate agent DB data and return it normalised (a clear ValueError when invalid)."""
    return normalise(_validate(TelecomDB, data, source))


def validate_user_db(data: Any, source: str) -> dict[str, Any]:
    """Validate user DB data and return it normalised (a clear ValueError when invalid)."""
    return normalise(_validate(TelecomUserDB, data, source))


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's data, with clear errors for a missing or corrupt file."""
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"telecom DB file missing: {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read telecom DB {path}: {exc}") from None


def _validate(model: type[BaseModel], data: Any, source: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"]) or "<root>"
        raise ValueError(
            f"{source} is invalid: {len(errors)} error(s), first at {where}: {first['msg']}"
        ) from None

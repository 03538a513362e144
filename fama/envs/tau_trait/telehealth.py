"""tau-trait telehealth domain: the 23 official tools over the patient/provider/appointment data.

Behaviour follows collinear-ai/tau-trait (MIT): same state changes and output strings, so
that the final-data hash and the ``outputs`` substrings score like upstream. Each tool is a
plain function ``fn(data, **arguments) -> str`` mutating ``data`` in place. A function's
``__qualname__`` is the upstream ``<Class>.invoke`` so that Python's own TypeError text for
a missing or unexpected argument reads exactly as upstream. ``cancel_appointment`` stamps
today's real (local) date, like upstream; a gold replay on the same day stamps the same.
``calculate`` evaluates arithmetic without ``eval`` (same results and error texts); unlike
upstream it refuses integer powers of more than 100,000 bits instead of hanging.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fama.envs.tau_trait.runtime import DomainTools, ToolFunction, calculate_v1

F = TypeVar("F", bound=Callable[..., str])

_TOOLS: dict[str, ToolFunction] = {}

_REQUIRED_FILES = (
    "patients",
    "providers",
    "appointments",
    "medical_records",
    "medication_suppliers",
    "drug_interactions",
)
_OPTIONAL_FILES: dict[str, Callable[[], Any]] = {
    "telemetry_inventory": list,
    "telemetry_uploads": list,
    "regimen_plans": dict,
}


def _tool(class_name: str) -> Callable[[F], F]:
    """Register a tool under its function name; Python error texts name ``<class_name>.invoke``."""

    def register(fn: F) -> F:
        fn.__qualname__ = f"{class_name}.invoke"
        _TOOLS[fn.__name__] = fn
        return fn

    return register


def load_data(root: Path) -> dict[str, Any]:
    """Read ``<root>/telehealth/*.json`` into a fresh data dict (the telemetry/regimen files are
    optional, as upstream)."""
    folder = Path(root) / "telehealth"
    data: dict[str, Any] = {}
    for name in _REQUIRED_FILES:
        data[name] = _read_json(folder / f"{name}.json")
    for name, default in _OPTIONAL_FILES.items():
        path = folder / f"{name}.json"
        data[name] = _read_json(path) if path.exists() else default()
    return data


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"tau-trait telehealth data file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"corrupt tau-trait telehealth data file {path}: {exc}") from exc


def _today() -> str:
    """Today's local date as upstream writes it into cancelled appointments."""
    return datetime.datetime.now().strftime("%Y-%m-%d")


def _title(value: str) -> str:
    return value.replace("_", " ").title()


def _full_name(person: dict[str, Any]) -> str:
    """ "<first> <last>" with upstream's placeholders for a missing record."""
    name = person.get("name", {})
    return f"{name.get('first_name', 'Unknown')} {name.get('last_name', 'Patient')}"


def _dr_last_name(provider: dict[str, Any]) -> str:
    return f"Dr. {provider.get('name', {}).get('last_name', 'Unknown Provider')}"


# --- patients and providers -------------------------------------------------------------


@_tool("FindPatientByEmail")
def find_patient_by_email(data: dict[str, Any], email: str) -> str:
    """Patient id whose email matches exactly (case-sensitive)."""
    for patient_id, patient in data["patients"].items():
        if patient["demographics"]["email"] == email:
            return str(patient_id)
    return f"No patient found with email: {email}"


@_tool("FindPatientByNameDOB")
def find_patient_by_name_dob(
    data: dict[str, Any], first_name: str, last_name: str, date_of_birth: str
) -> str:
    """Patient id by case-insensitive full name and exact date of birth."""
    for patient_id, patient in data["patients"].items():
        if (
            patient["name"]["first_name"].lower() == first_name.lower()
            and patient["name"]["last_name"].lower() == last_name.lower()
            and patient["demographics"]["date_of_birth"] == date_of_birth
        ):
            return str(patient_id)
    return f"No patient found with name: {first_name} {last_name} and DOB: {date_of_birth}"


def _join_or_none(items: list[Any]) -> str:
    return ", ".join(items) if items else "None"


@_tool("GetPatientDetails")
def get_patient_details(data: dict[str, Any], patient_id: str) -> str:
    """Formatted patient profile."""
    patients = data["patients"]
    if patient_id not in patients:
        return f"Patient with ID {patient_id} not found."
    patient = patients[patient_id]
    demo = patient["demographics"]
    address = patient["address"]
    insurance = patient["insurance"]["primary"]
    history = patient["medical_history"]
    contact = patient["emergency_contact"]
    medications = (
        [f"{m['name']} {m['dosage']} {m['frequency']}" for m in history["medications"]]
        if history["medications"]
        else []
    )
    lines = [
        f"Patient Details for {patient['name']['first_name']} {patient['name']['last_name']}"
        f" (ID: {patient_id})",
        "",
        "Demographics:",
        f"- Date of Birth: {demo['date_of_birth']}",
        f"- Gender: {demo['gender']}",
        f"- Phone: {demo['phone']}",
        f"- Email: {demo['email']}",
        "",
        "Address:",
        f"- {address['address1']}",
        f"- {address['address2']}",
        f"- {address['city']}, {address['state']} {address['zip']}",
        f"- {address['country']}",
        "",
        "Insurance:",
        f"- Provider: {insurance['provider']}",
        f"- Policy Number: {insurance['policy_number']}",
        f"- Primary Care Copay: ${insurance['copay_primary']:.2f}",
        f"- Specialist Copay: ${insurance['copay_specialist']:.2f}",
        "",
        "Medical History:",
        f"- Conditions: {_join_or_none(history['conditions'])}",
        f"- Allergies: {_join_or_none(history['allergies'])}",
        f"- Current Medications: {_join_or_none(medications)}",
        "",
        "Emergency Contact:",
        f"- {contact['name']} ({contact['relationship']})",
        f"- Phone: {contact['phone']}",
    ]
    return "\n".join(lines)


def _provider_full_name(name: dict[str, Any]) -> str:
    return f"{name.get('title', 'Dr.')} {name['first_name']} {name['last_name']}"


@_tool("GetProviderDetails")
def get_provider_details(data: dict[str, Any], provider_id: str) -> str:
    """Formatted provider profile with the weekly schedule."""
    providers = data["providers"]
    if provider_id not in providers:
        return f"Provider with ID {provider_id} not found."
    provider = providers[provider_id]
    contact = provider["contact"]
    lines = [
        f"Provider Details (ID: {provider_id})",
        "",
        f"Name: {_provider_full_name(provider['name'])}",
        f"Specialty: {provider['specialty']}",
        f"License Number: {provider['license_number']}",
        f"Credentials: {', '.join(provider['credentials'])}",
        f"Years of Experience: {provider['years_experience']}",
        "",
        "Contact Information:",
        f"- Phone: {contact['phone']}",
        f"- Email: {contact['email']}",
        "",
        f"Languages: {', '.join(provider['languages'])}",
        f"Consultation Fee: ${provider['consultation_fee']:.2f}",
        "",
        "Weekly Schedule:",
    ]
    for day, times in provider["schedule"].items():
        lines.append(f"- {day.title()}: {', '.join(times) if times else 'Not available'}")
    return "\n".join(lines)


@_tool("ListAvailableProviders")
def list_available_providers(data: dict[str, Any], specialty: str | None = None) -> str:
    """Providers, optionally only those of one specialty (case-insensitive)."""
    matches = [
        (provider_id, provider)
        for provider_id, provider in data["providers"].items()
        if specialty is None or provider["specialty"].lower() == specialty.lower()
    ]
    if not matches:
        if specialty:
            return f"No providers found with specialty: {specialty}"
        return "No providers found."
    result = f"Available Providers{f' - {specialty}' if specialty else ''}:\n\n"
    for provider_id, provider in matches:
        result += (
            f"• {_provider_full_name(provider['name'])} (ID: {provider_id})\n"
            f"  Specialty: {provider['specialty']}\n"
            f"  Experience: {provider['years_experience']} years\n"
            f"  Languages: {', '.join(provider['languages'])}\n"
            f"  Consultation Fee: ${provider['consultation_fee']:.2f}\n"
            f"  Phone: {provider['contact']['phone']}\n\n"
        )
    return result.strip()


# --- appointments -------------------------------------------------------------------------


@_tool("GetAppointmentDetails")
def get_appointment_details(data: dict[str, Any], appointment_id: str) -> str:
    """Formatted appointment with optional prescription, referral and cancellation blocks."""
    appointments = data["appointments"]
    if appointment_id not in appointments:
        return f"Appointment with ID {appointment_id} not found."
    appt = appointments[appointment_id]
    patient = data["patients"].get(appt["patient_id"], {})
    provider = data["providers"].get(appt["provider_id"], {})
    lines = [
        f"Appointment Details (ID: {appointment_id})",
        "",
        f"Patient: {_full_name(patient)} (ID: {appt['patient_id']})",
        f"Provider: {_dr_last_name(provider)} - {provider.get('specialty', 'Unknown')}"
        f" (ID: {appt['provider_id']})",
        "",
        "Appointment Information:",
        f"- Date: {appt['date']}",
        f"- Time: {appt['time']}",
        f"- Duration: {appt['duration_minutes']} minutes",
        f"- Type: {_title(appt['type'])}",
        f"- Status: {_title(appt['status'])}",
        "",
        "Clinical Information:",
        f"- Chief Complaint: {appt['chief_complaint']}",
        f"- Notes: {appt['notes']}",
        "",
        "Billing Information:",
        f"- Insurance Authorization: {appt['insurance_authorization']}",
        f"- Copay Amount: ${appt['copay_amount']:.2f}",
        "",
        "Meeting Information:",
        f"- Meeting Link: {appt['meeting_link']}",
    ]
    result = "\n".join(lines)
    if "prescription_issued" in appt:
        rx = appt["prescription_issued"]
        result += (
            f"\n\nPrescription Issued:\n- {rx['medication']} {rx['dosage']} {rx['frequency']}"
            f"\n- Quantity: {rx['quantity']}, Refills: {rx['refills']}"
        )
    if "referral_from" in appt:
        result += f"\n\nReferral from: {appt['referral_from']}"
    if "cancellation_reason" in appt:
        result += (
            f"\n\nCancellation Details:\n- Reason: {_title(appt['cancellation_reason'])}"
            f"\n- Date: {appt['cancellation_date']}"
        )
    return result


def _appointment_sort_key(item: tuple[str, dict[str, Any]]) -> tuple[datetime.datetime, str]:
    appt_id, appt = item
    stamp = f"{appt.get('date', '0001-01-01')} {appt.get('time', '00:00')}"
    try:
        moment = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M")
    except ValueError:
        moment = datetime.datetime.min
    return moment, appt_id


@_tool("ListPatientAppointments")
def list_patient_appointments(
    data: dict[str, Any], patient_id: str, status_filter: str | None = None
) -> str:
    """A patient's appointments in date-time order, optionally of one status."""
    patients = data["patients"]
    if patient_id not in patients:
        return f"Patient with ID {patient_id} not found."
    wanted = status_filter.lower() if status_filter else None
    found = [
        (appt_id, appt)
        for appt_id, appt in data["appointments"].items()
        if appt.get("patient_id") == patient_id
        and not (wanted and appt.get("status", "").lower() != wanted)
    ]
    if not found:
        if wanted:
            return f"No appointments found for patient {patient_id} with status {status_filter}."
        return f"No appointments found for patient {patient_id}."
    found.sort(key=_appointment_sort_key)
    patient = patients[patient_id]
    header = (
        f"Appointments for {patient['name']['first_name']} {patient['name']['last_name']}"
        f" (ID: {patient_id})"
    )
    if wanted:
        header += f" with status {status_filter}"
    lines = [header]
    for appt_id, appt in found:
        provider = data["providers"].get(appt.get("provider_id", ""), {})
        name = provider.get("name", {})
        label = f"{name.get('title', 'Dr.')} {name.get('last_name', 'Unknown')}"
        specialty = provider.get("specialty", "Unknown Specialty")
        status = _title(appt.get("status", "Unknown"))
        kind = _title(appt.get("type", ""))
        lines.append(
            f"- {appt_id}: {appt.get('date')} at {appt.get('time')} with {label} ({specialty})"
            f" [{status}, Type: {kind}]"
        )
    return "\n".join(lines)


def _check_slot(
    data: dict[str, Any], provider_id: str, date: str, time: str, exclude: str | None
) -> str | None:
    """Upstream's availability and conflict checks; the refusal text, or None if free."""
    provider = data["providers"][provider_id]
    try:
        day = datetime.datetime.strptime(date, "%Y-%m-%d").strftime("%A").lower()
        if day not in provider["schedule"]:
            return f"Provider {provider_id} does not work on {day.title()}."
        available = provider["schedule"][day]
        if time not in available:
            listed = ", ".join(available) if available else "None"
            return (
                f"Provider {provider_id} is not available at {time} on {day.title()}."
                f" Available times: {listed}"
            )
    except ValueError:
        return f"Invalid date format: {date}. Please use YYYY-MM-DD format."
    for appt_id, appt in data["appointments"].items():
        if (
            appt_id != exclude
            and appt["provider_id"] == provider_id
            and appt["date"] == date
            and appt["time"] == time
            and appt["status"] in ("scheduled", "pending_approval")
        ):
            return (
                f"Provider {provider_id} already has an appointment scheduled at {time} on {date}."
            )
    return None


@_tool("ScheduleAppointment")
def schedule_appointment(
    data: dict[str, Any],
    patient_id: str,
    provider_id: str,
    date: str,
    time: str,
    appointment_type: str,
    bill_insurance: bool = True,
    voucher_id: str | None = None,
    payment_notes: str | None = None,
) -> str:
    """Book a new 30-minute appointment (id = highest APPT number + 1)."""
    patients = data["patients"]
    providers = data["providers"]
    appointments = data["appointments"]
    if patient_id not in patients:
        return f"Patient with ID {patient_id} not found."
    if provider_id not in providers:
        return f"Provider with ID {provider_id} not found."
    refusal = _check_slot(data, provider_id, date, time, exclude=None)
    if refusal is not None:
        return refusal
    patient = patients[patient_id]
    provider = providers[provider_id]
    numbers = [int(key.replace("APPT", "")) for key in appointments if key.startswith("APPT")]
    number = max(numbers) + 1 if numbers else 1
    appt_id = f"APPT{number:03d}"
    insurance = patient["insurance"]["primary"]
    primary = provider["specialty"] == "Primary Care"
    base_copay = insurance["copay_primary"] if primary else insurance["copay_specialist"]
    if bill_insurance:
        copay, method, billed, voucher = base_copay, "insurance", True, None
        authorization: str | None = f"AUTH{number:06d}"
    else:
        method = "telehealth_voucher" if voucher_id else "self_pay"
        copay, billed, voucher, authorization = 0.0, False, voucher_id, None
    link = f"https://telehealth.healthcenter.com/room/{appt_id}"
    appointments[appt_id] = {
        "appointment_id": appt_id,
        "patient_id": patient_id,
        "provider_id": provider_id,
        "date": date,
        "time": time,
        "duration_minutes": 30,
        "type": appointment_type,
        "status": "scheduled",
        "notes": payment_notes or "",
        "insurance_authorization": authorization,
        "copay_amount": copay,
        "meeting_link": link,
        "payment_method": method,
        "voucher_id": voucher,
        "insurance_billed": billed,
    }
    lines = [
        "Appointment successfully scheduled!",
        "",
        f"Appointment ID: {appt_id}",
        f"Patient: {patient['name']['first_name']} {patient['name']['last_name']}",
        f"Provider: Dr. {provider['name']['last_name']} - {provider['specialty']}",
        f"Date: {date}",
        f"Time: {time}",
        f"Type: {_title(appointment_type)}",
    ]
    if bill_insurance:
        lines += [f"Copay: ${copay:.2f}", f"Insurance Authorization: {authorization}"]
    else:
        lines += ["Insurance Billing: Skipped", f"Payment Method: {_title(method)}"]
        if voucher:
            lines.append(f"Voucher Applied: {voucher}")
        lines.append(f"Amount Due Today: ${copay:.2f}")
        if payment_notes:
            lines.append(f"Billing Notes: {payment_notes}")
    lines += [f"Meeting Link: {link}", "", "Please save your appointment ID for future reference."]
    return "\n".join(lines)


@_tool("CancelAppointment")
def cancel_appointment(data: dict[str, Any], appointment_id: str) -> str:
    """Cancel an appointment that is not cancelled or completed; stamps today's date."""
    appointments = data["appointments"]
    if appointment_id not in appointments:
        return f"Appointment with ID {appointment_id} not found."
    appt = appointments[appointment_id]
    if appt["status"] == "cancelled":
        return f"Appointment {appointment_id} is already cancelled."
    if appt["status"] == "completed":
        return (
            f"Cannot cancel appointment {appointment_id} - appointment has already been completed."
        )
    appt["status"] = "cancelled"
    appt["cancellation_reason"] = "patient_cancelled"
    appt["cancellation_date"] = _today()
    patient = data["patients"].get(appt["patient_id"], {})
    provider = data["providers"].get(appt["provider_id"], {})
    return (
        "Appointment successfully cancelled.\n\n"
        f"Appointment ID: {appointment_id}\n"
        f"Patient: {_full_name(patient)}\n"
        f"Provider: {_dr_last_name(provider)}\n"
        f"Original Date/Time: {appt['date']} at {appt['time']}\n"
        f"Cancellation Reason: {_title(appt['cancellation_reason'])}\n"
        f"Cancellation Date: {appt['cancellation_date']}\n\n"
        "The appointment slot is now available for other patients. If this was a patient"
        " cancellation, please remind them of the cancellation policy."
    )


@_tool("RescheduleAppointment")
def reschedule_appointment(
    data: dict[str, Any], appointment_id: str, new_date: str, new_time: str
) -> str:
    """Move an appointment to a free slot of the same provider (date and time only)."""
    appointments = data["appointments"]
    if appointment_id not in appointments:
        return f"Appointment with ID {appointment_id} not found."
    appt = appointments[appointment_id]
    if appt["status"] == "cancelled":
        return f"Cannot reschedule appointment {appointment_id} - appointment has been cancelled."
    if appt["status"] == "completed":
        return (
            f"Cannot reschedule appointment {appointment_id}"
            " - appointment has already been completed."
        )
    provider_id = appt["provider_id"]
    provider = data["providers"][provider_id]
    refusal = _check_slot(data, provider_id, new_date, new_time, exclude=appointment_id)
    if refusal is not None:
        return refusal
    old_date, old_time = appt["date"], appt["time"]
    appt["date"] = new_date
    appt["time"] = new_time
    patient = data["patients"].get(appt["patient_id"], {})
    return (
        "Appointment successfully rescheduled.\n\n"
        f"Appointment ID: {appointment_id}\n"
        f"Patient: {_full_name(patient)}\n"
        f"Provider: {_dr_last_name(provider)} - {provider['specialty']}\n\n"
        f"Previous Date/Time: {old_date} at {old_time}\n"
        f"New Date/Time: {new_date} at {new_time}\n\n"
        f"Meeting Link: {appt['meeting_link']}\n\n"
        "Please update your calendar with the new appointment time."
    )


# --- medical records and medications ----------------------------------------------------


@_tool("GetMedicalRecord")
def get_medical_record(
    data: dict[str, Any], record_id: str | None = None, appointment_id: str | None = None
) -> str:
    """A record by id, or the first record of an appointment, as SOAP text."""
    records = data.get("medical_records", {})
    if not record_id and not appointment_id:
        return "Please provide a record_id or appointment_id to look up the medical record."
    if record_id:
        record = records.get(record_id)
        if record is None:
            return f"Medical record with ID {record_id} not found."
    else:
        record = next(
            (rec for rec in records.values() if rec.get("appointment_id") == appointment_id),
            None,
        )
        if record is None:
            return f"No medical record found for appointment ID {appointment_id}."
    appt = data.get("appointments", {}).get(record.get("appointment_id", ""), {})
    patient = data.get("patients", {}).get(record.get("patient_id", ""), {})
    provider = data.get("providers", {}).get(record.get("provider_id", ""), {})
    patient_name = _joined_name(patient, ("first_name", "last_name")) or "Unknown Patient"
    provider_name = _joined_name(provider, ("title", "first_name", "last_name"))
    lines = [
        f"Medical Record (ID: {record['record_id']})",
        f"Patient: {patient_name} (ID: {record.get('patient_id', 'Unknown')})",
        f"Provider: {provider_name or 'Unknown Provider'}"
        f" (ID: {record.get('provider_id', 'Unknown')})",
    ]
    if appt:
        lines.append(
            f"Related Appointment: {appt.get('appointment_id', 'Unknown')} on"
            f" {appt.get('date', 'Unknown Date')} at {appt.get('time', 'Unknown Time')}"
        )
    lines.append(f"Date: {record.get('date', 'Unknown Date')}")
    lines.append(f"Type: {record.get('type', 'Unknown')}")
    for key in ("subjective", "objective", "assessment", "plan"):
        if key in record:
            lines.append(f"{key.title()}: {record[key]}")
    if record.get("recommendations"):
        lines.append("Recommendations:")
        lines += [f"- {item}" for item in record["recommendations"]]
    return "\n".join(lines)


def _joined_name(person: dict[str, Any], parts: tuple[str, ...]) -> str:
    name = person.get("name", {})
    return " ".join(filter(None, [name.get(part) for part in parts])).strip()


@_tool("ListPatientMedicalRecords")
def list_patient_medical_records(
    data: dict[str, Any], patient_id: str, limit: int | None = None
) -> str:
    """A patient's records, newest first, one summary line each."""
    found = [rec for rec in data["medical_records"].values() if rec.get("patient_id") == patient_id]
    if not found:
        return f"No medical records found for patient {patient_id}."
    found.sort(
        key=lambda rec: datetime.datetime.strptime(rec.get("date", "1900-01-01"), "%Y-%m-%d"),
        reverse=True,
    )
    if limit is not None and limit > 0:
        found = found[:limit]
    lines = []
    for rec in found:
        prescriptions = rec.get("prescriptions", [])
        medications = (
            ", ".join(item.get("medication") for item in prescriptions)
            if prescriptions
            else "None recorded"
        )
        lines.append(
            f"record_id={rec['record_id']} | date={rec['date']}"
            f" | appointment_id={rec['appointment_id']} | medications={medications}"
        )
    return "Medical records (newest first):\n" + "\n".join(lines)


@_tool("UpdatePrescriptionSupplier")
def update_prescription_supplier(
    data: dict[str, Any],
    record_id: str,
    medication: str,
    supplier_company: str,
    brand_name: str,
    price_usd: float,
    currency: str = "USD",
) -> str:
    """Set a prescription's pharmacy and supplier (medication matched exactly or by prefix)."""
    records = data["medical_records"]
    if record_id not in records:
        return "Error: medical record not found"
    record = records[record_id]
    prescriptions = record.get("prescriptions", [])
    if not prescriptions:
        return "Error: medical record has no prescriptions"
    by_name = {rx.get("medication", "").strip().lower(): rx for rx in prescriptions}
    wanted = medication.strip().lower()
    prescription = by_name.get(wanted)
    if prescription is None:
        prescription = next(
            (rx for key, rx in by_name.items() if wanted.startswith(key) or key.startswith(wanted)),
            None,
        )
    if prescription is None:
        return f"Error: medication {medication} not found in record {record_id}"
    prescription["pharmacy"] = f"{supplier_company} ({brand_name})"
    prescription["supplier"] = {
        "company": supplier_company,
        "brand_name": brand_name,
        "price_usd": float(price_usd),
        "currency": currency,
    }
    return json.dumps(record)


@_tool("UpdateMedicalRecordNote")
def update_medical_record_note(
    data: dict[str, Any], record_id: str, note: str, metadata: dict[str, Any] | None = None
) -> str:
    """Append ``{note[, metadata]}`` to a record's ``notes`` list."""
    record = data.get("medical_records", {}).get(record_id)
    if not record:
        return f"Error: medical record {record_id} not found"
    entry: dict[str, Any] = {"note": note}
    if metadata:
        entry["metadata"] = metadata
    record.setdefault("notes", []).append(entry)
    return json.dumps(record)


@_tool("ListMedicationSuppliers")
def list_medication_suppliers(
    data: dict[str, Any],
    medication: str,
    country_filter: str | None = None,
    limit: int | None = None,
) -> str:
    """Suppliers of a medication (case-insensitive), cheapest first."""
    catalog: dict[str, list[dict[str, Any]]] = data.get("medication_suppliers", {})
    key = {name.lower(): name for name in catalog}.get(medication.lower())
    suppliers = catalog.get(key) if key else None
    if not suppliers and key is None:
        return (
            f"No supplier information found for {medication}."
            " (Tip: ensure the medication name matches the catalog)"
        )
    if not suppliers:
        return f"No supplier information found for {medication}."
    chosen = suppliers
    if country_filter:
        chosen = [s for s in chosen if s.get("country", "").lower() == country_filter.lower()]
        if not chosen:
            return f"No suppliers in {country_filter} for {medication}."
    chosen = sorted(chosen, key=lambda s: s.get("price_usd", float("inf")))
    if limit is not None and limit > 0:
        chosen = chosen[:limit]
    lines = [
        f"{s.get('company')} ({s.get('country')}) | brand={s.get('brand_name')}"
        f" | price_usd={s.get('price_usd'):.2f}"
        for s in chosen
    ]
    return f"Suppliers for {medication}:\n" + "\n".join(lines)


_SEVERITY_RANK = {"low": 1, "moderate": 2, "high": 3}


@_tool("CheckDrugInteractions")
def check_drug_interactions(
    data: dict[str, Any], primary_medication: str, current_medications: list[str]
) -> str:
    """Documented interactions of a medication with a regimen, and among the regimen itself."""
    table: dict[str, dict[str, dict[str, Any]]] = data.get("drug_interactions", {})
    canonical_names: dict[str, str] = {}
    for outer, inner in table.items():
        canonical_names.setdefault(outer.lower(), outer)
        for name in inner:
            canonical_names.setdefault(name.lower(), name)

    def canonical(med: str) -> str:
        return canonical_names.get(med.lower(), med)

    def lookup(med_a: str, med_b: str) -> dict[str, Any] | None:
        key_a, key_b = canonical(med_a), canonical(med_b)
        for first, second in ((key_a, key_b), (key_b, key_a)):
            for candidate, details in table.get(first, {}).items():
                if candidate.lower() == second.lower():
                    return details
        return None

    pairs = [(primary_medication, med) for med in current_medications]
    pairs += [
        (med_a, med_b)
        for index, med_a in enumerate(current_medications)
        for med_b in current_medications[index + 1 :]
    ]
    lines: list[str] = []
    hold: set[str] = set()
    emergency: Any = False
    peak = 0
    highest = "none"
    highest_pair: str | None = None
    for med_a, med_b in pairs:
        details = lookup(med_a, med_b)
        if not details:
            continue
        severity = details.get("severity", "unknown")
        overlap = details.get("time_overlap_hours", 0)
        hold.update(details.get("skip", []))
        emergency = emergency or details.get("emergency", False)
        peak = max(peak, overlap)
        pair = f"{canonical(med_a)} + {canonical(med_b)}"
        lines.append(
            f"{pair}: severity={severity}, risk_score={details.get('risk_score')},"
            f" overlap_hours={overlap}. {details.get('action', 'Monitor.')}"
        )
        if _SEVERITY_RANK.get(severity, 0) > _SEVERITY_RANK.get(highest, 0):
            highest, highest_pair = severity, pair
    if not lines:
        return (
            "No documented high-risk interactions found for the supplied medications."
            " Continue monitoring as per care plan."
        )
    summary = [
        "Drug interaction analysis:",
        *lines,
        "",
        f"Medications to hold today: {', '.join(sorted(hold)) if hold else 'None'}",
        f"Emergency escalation required: {'Yes' if emergency else 'No'}",
        f"Peak overlap risk window (hours): {peak}",
    ]
    if highest_pair:
        summary.append(f"Highest severity interaction: {highest_pair} ({highest})")
    return "\n".join(summary)


def _regimen_component(component: dict[str, Any]) -> str:
    return (
        f"{component.get('medication')} | dosage={component.get('dosage')} | "
        f"daily_dose={component.get('daily_dose')} | "
        f"monthly_units={component.get('monthly_units')} | "
        f"unit_type={component.get('unit_type')} | brand={component.get('preferred_brand')} | "
        f"supplier={component.get('supplier')} | "
        f"unit_cost_usd={component.get('unit_cost_usd'):.2f}"
    )


def _pill_burden(burden: dict[str, Any]) -> str:
    return (
        f"tablets_per_day={burden.get('tablets_per_day')} | "
        f"devices_per_month={burden.get('devices_per_month')}"
    )


@_tool("GetRegimenOptions")
def get_regimen_options(data: dict[str, Any], patient_id: str) -> str:
    """The patient's current regimen and the optimized alternatives."""
    plan = data.get("regimen_plans", {}).get(patient_id)
    if not plan:
        return f"No regimen optimization data available for patient {patient_id}."
    current = plan.get("current_regimen", {})
    lines = ["Current regimen components:"]
    lines += [f"- {_regimen_component(c)}" for c in current.get("components", [])]
    if current.get("pill_burden"):
        lines.append(f"Current pill burden: {_pill_burden(current['pill_burden'])}")
    if current.get("notes", []):
        lines.append("Current regimen notes:")
        lines += [f"  * {note}" for note in current["notes"]]
    lines.append("Optimized regimen options:")
    for index, regimen in enumerate(plan.get("optimized_regimens", []), start=1):
        lines.append(f"Option {index}: {regimen.get('name')}")
        lines.append(f"  Focus: {regimen.get('focus')}")
        lines += [f"  - {_regimen_component(c)}" for c in regimen.get("components", [])]
        if regimen.get("pill_burden"):
            lines.append(f"  Pill burden: {_pill_burden(regimen['pill_burden'])}")
        if regimen.get("synergy_notes", []):
            lines.append("  Synergy notes:")
            lines += [f"    - {note}" for note in regimen["synergy_notes"]]
    return "\n".join(lines)


# --- telemetry --------------------------------------------------------------------------


@_tool("ListTelemetryDevices")
def list_telemetry_devices(
    data: dict[str, Any], status_filter: str | None = None, limit: int | None = None
) -> str:
    """Telemetry devices by id, optionally of one status (case-insensitive)."""
    devices: list[dict[str, Any]] = data.get("telemetry_inventory", [])
    if not devices:
        return "Telemetry inventory is empty."
    if status_filter:
        devices = [d for d in devices if d.get("status", "").lower() == status_filter.lower()]
        if not devices:
            return f"No telemetry devices with status {status_filter}."
    devices = sorted(devices, key=lambda d: d.get("device_id", ""))
    if limit is not None and limit > 0:
        devices = devices[:limit]
    lines = [
        f"{d.get('device_id')} | status={d.get('status')} | last_audit={d.get('last_audit')}"
        f" | notes={d.get('notes')}"
        for d in devices
    ]
    return "Telemetry devices:\n" + "\n".join(lines)


@_tool("ListTelemetryUploads")
def list_telemetry_uploads(
    data: dict[str, Any],
    device_id: str,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: int | None = None,
) -> str:
    """A device's uploads in an optional inclusive date window, oldest first, as JSON."""

    def in_window(entry: dict[str, Any]) -> bool:
        if entry.get("device_id") != device_id:
            return False
        day: Any = entry.get("date")
        return not (start_date and day < start_date) and not (end_date and day > end_date)

    uploads = [entry for entry in data.get("telemetry_uploads", []) if in_window(entry)]
    uploads.sort(key=lambda entry: entry.get("date"))
    if limit is not None and limit > 0:
        uploads = uploads[:limit]
    if not uploads:
        return f"No telemetry uploads found for device {device_id} in the specified window."
    return json.dumps(uploads)


@_tool("GetTelemetryUpload")
def get_telemetry_upload(data: dict[str, Any], device_id: str, date: str) -> str:
    """One upload of a device on a date, as JSON."""
    for entry in data.get("telemetry_uploads", []):
        if entry.get("device_id") == device_id and entry.get("date") == date:
            return json.dumps(entry)
    return f"No telemetry upload found for device {device_id} on {date}."


# --- generic ------------------------------------------------------------------------------


@_tool("TransferToHumanSupport")
def transfer_to_human_support(data: dict[str, Any], reason: str) -> str:
    """Hand the patient to human staff (ends the episode)."""
    return (
        "Transferring you to a human support representative.\n\n"
        f"Reason for transfer: {reason}\n\n"
        "Please hold while we connect you to a member of our support team. They will be able"
        " to assist you with your request.\n\n"
        "Estimated wait time: 2-3 minutes.\n\n"
        "Thank you for your patience."
    )


@_tool("Think")
def think(data: dict[str, Any], thought: str) -> str:
    """No-op scratchpad."""
    return ""


@_tool("Calculate")
def calculate(data: dict[str, Any], expression: str) -> str:
    """Arithmetic on digits, + - * / ( ) . and spaces, rounded to 2 decimals."""
    return calculate_v1(expression)


WRITE_TOOLS = frozenset(
    {
        "schedule_appointment",
        "cancel_appointment",
        "reschedule_appointment",
        "update_prescription_supplier",
        "update_medical_record_note",
    }
)

DOMAIN = DomainTools(
    name="telehealth",
    tools=dict(_TOOLS),
    write_tools=WRITE_TOOLS,
    terminal_tools=frozenset({"transfer_to_human_support"}),
    load_data=load_data,
)

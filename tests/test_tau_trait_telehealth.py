"""tau-trait telehealth tools: state changes, exact texts, and agreement with the released
GPT-5 trajectories (every recorded tool output and every recorded reward)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fama.core.trajectory import MessageRecord
from fama.envs.tau_trait import telehealth
from fama.envs.tau_trait.data import load_tasks
from fama.envs.tau_trait.reward import data_hash, evaluate_episode
from fama.envs.tau_trait.runtime import TauTraitDomain
from fama.envs.tau_trait.telehealth import DOMAIN, load_data

RECORDED_TODAY = "2025-10-28"  # the cancellation date in all released telehealth trajectories
TRAJECTORY_FILES = (
    "telehealth_none",
    "impatience_telehealth",
    "confusion_telehealth",
    "skeptical_telehealth",
    "incoherence_telehealth",
)
# The no-trait run used an older schedule_appointment that stored notes="" instead of the
# payment notes, so its recorded gold hash differs for the two tasks booking with payment notes.
OLDER_GOLD_HASH = {("telehealth_none", 7), ("telehealth_none", 8)}


@pytest.fixture(scope="module")
def domain(tau_trait_data_dir: Path) -> TauTraitDomain:
    return TauTraitDomain(DOMAIN, tau_trait_data_dir)


@pytest.fixture
def data(domain: TauTraitDomain) -> dict[str, Any]:
    return domain.fresh_data()


@pytest.fixture
def frozen_today(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(telehealth, "_today", lambda: RECORDED_TODAY)
    return RECORDED_TODAY


def call(domain: TauTraitDomain, data: dict[str, Any], name: str, **arguments: Any) -> str:
    return domain.run_tool(data, name, arguments).content


# -- domain and data ------------------------------------------------------------------------


def test_domain_offers_exactly_the_official_tools(domain: TauTraitDomain) -> None:
    names = [s["function"]["name"] for s in domain.schemas]
    assert len(names) == 23
    assert set(DOMAIN.tools) == set(names)
    assert DOMAIN.name == "telehealth"
    assert DOMAIN.terminal_tools == {"transfer_to_human_support"}
    assert DOMAIN.write_tools == {
        "schedule_appointment",
        "cancel_appointment",
        "reschedule_appointment",
        "update_prescription_supplier",
        "update_medical_record_note",
    }
    assert DOMAIN.tool_kind("think") == "think"
    assert DOMAIN.tool_kind("transfer_to_human_support") == "generic"
    assert DOMAIN.tool_kind("get_patient_details") == "read"


def test_load_data_reads_every_table(data: dict[str, Any]) -> None:
    assert list(data) == [
        "patients",
        "providers",
        "appointments",
        "medical_records",
        "medication_suppliers",
        "drug_interactions",
        "telemetry_inventory",
        "telemetry_uploads",
        "regimen_plans",
    ]
    assert (len(data["patients"]), len(data["providers"]), len(data["appointments"])) == (
        27,
        26,
        49,
    )
    assert isinstance(data["telemetry_inventory"], list)


def test_load_data_optional_files_and_errors(tau_trait_data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "telehealth"
    folder.mkdir()
    for name in telehealth._REQUIRED_FILES:
        shutil.copy(tau_trait_data_dir / "telehealth" / f"{name}.json", folder)
    loaded = load_data(tmp_path)
    assert loaded["telemetry_inventory"] == []
    assert loaded["telemetry_uploads"] == []
    assert loaded["regimen_plans"] == {}
    (folder / "providers.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"corrupt .*providers\.json"):
        load_data(tmp_path)
    (folder / "providers.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"providers\.json"):
        load_data(tmp_path)


def test_argument_errors_read_like_upstream(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    out = domain.run_tool(data, "schedule_appointment", {"patient_id": "x"})
    assert out.error
    assert out.content == (
        "Error: ScheduleAppointment.invoke() missing 4 required positional arguments: "
        "'provider_id', 'date', 'time', and 'appointment_type'"
    )
    assert call(domain, data, "find_patient_by_email", mail="a") == (
        "Error: FindPatientByEmail.invoke() got an unexpected keyword argument 'mail'"
    )
    assert call(domain, data, "book_room") == "Unknown action book_room"


# -- schedule / reschedule / cancel ----------------------------------------------------------


def test_schedule_with_insurance(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    out = call(
        domain,
        data,
        "schedule_appointment",
        patient_id="sarah_johnson_1234",
        provider_id="dr_smith_cardiology",
        date="2025-09-23",
        time="10:00",
        appointment_type="follow_up",
    )
    assert out == (
        "Appointment successfully scheduled!\n\nAppointment ID: APPT059\n"
        "Patient: Sarah Johnson\nProvider: Dr. Smith - Cardiology\nDate: 2025-09-23\n"
        "Time: 10:00\nType: Follow Up\nCopay: $50.00\nInsurance Authorization: AUTH000059\n"
        "Meeting Link: https://telehealth.healthcenter.com/room/APPT059\n\n"
        "Please save your appointment ID for future reference."
    )
    assert data["appointments"]["APPT059"] == {
        "appointment_id": "APPT059",
        "patient_id": "sarah_johnson_1234",
        "provider_id": "dr_smith_cardiology",
        "date": "2025-09-23",
        "time": "10:00",
        "duration_minutes": 30,
        "type": "follow_up",
        "status": "scheduled",
        "notes": "",
        "insurance_authorization": "AUTH000059",
        "copay_amount": 50.0,
        "meeting_link": "https://telehealth.healthcenter.com/room/APPT059",
        "payment_method": "insurance",
        "voucher_id": None,
        "insurance_billed": True,
    }
    assert list(data["appointments"])[-1] == "APPT059"


def test_schedule_without_insurance(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    base = {
        "patient_id": "sarah_johnson_1234",
        "provider_id": "dr_garcia_primary",
        "date": "2025-09-23",
        "appointment_type": "sick_visit",
        "bill_insurance": False,
    }
    voucher = call(
        domain,
        data,
        "schedule_appointment",
        **base,
        time="06:00",
        voucher_id="THV-1",
        payment_notes="use voucher",
    )
    assert (
        "Insurance Billing: Skipped\nPayment Method: Telehealth Voucher\nVoucher Applied: THV-1\n"
        "Amount Due Today: $0.00\nBilling Notes: use voucher\n"
    ) in voucher
    appt = data["appointments"]["APPT059"]
    assert (appt["payment_method"], appt["voucher_id"], appt["notes"]) == (
        "telehealth_voucher",
        "THV-1",
        "use voucher",
    )
    assert (appt["copay_amount"], appt["insurance_authorization"], appt["insurance_billed"]) == (
        0.0,
        None,
        False,
    )
    self_pay = call(domain, data, "schedule_appointment", **base, time="08:00")
    assert "Payment Method: Self Pay\nAmount Due Today: $0.00\nMeeting Link:" in self_pay
    assert data["appointments"]["APPT060"]["payment_method"] == "self_pay"


def test_schedule_refusals_leave_data_unchanged(
    domain: TauTraitDomain, data: dict[str, Any]
) -> None:
    before = data_hash(data)
    args = {
        "patient_id": "sarah_johnson_1234",
        "provider_id": "dr_garcia_primary",
        "appointment_type": "follow_up",
    }
    cases = {
        ("2025-09-23", "10:00", "nobody"): "Patient with ID nobody not found.",
        ("2025-09-27", "10:00", None): "Provider dr_garcia_primary does not work on Saturday.",
        ("2025-09-23", "12:00", None): (
            "Provider dr_garcia_primary is not available at 12:00 on Tuesday. Available times: "
            "06:00, 08:00, 09:00, 10:00, 11:00, 14:00, 15:00, 16:00"
        ),
        ("09/23/2025", "10:00", None): (
            "Invalid date format: 09/23/2025. Please use YYYY-MM-DD format."
        ),
        # APPT027 (pending_approval) holds this slot.
        ("2025-05-20", "11:00", None): (
            "Provider dr_garcia_primary already has an appointment scheduled at 11:00 on "
            "2025-05-20."
        ),
    }
    for (date, time, patient), expected in cases.items():
        kwargs = {**args, "date": date, "time": time}
        if patient:
            kwargs["patient_id"] = patient
        assert call(domain, data, "schedule_appointment", **kwargs) == expected
    unknown = {**args, "provider_id": "dr_who", "date": "2025-09-23", "time": "10:00"}
    assert call(domain, data, "schedule_appointment", **unknown) == (
        "Provider with ID dr_who not found."
    )
    assert data_hash(data) == before


def test_cancel_appointment(
    domain: TauTraitDomain, data: dict[str, Any], frozen_today: str
) -> None:
    out = call(domain, data, "cancel_appointment", appointment_id="APPT027")
    assert out == (
        "Appointment successfully cancelled.\n\nAppointment ID: APPT027\nPatient: Mira Desai\n"
        "Provider: Dr. Garcia\nOriginal Date/Time: 2025-05-20 at 11:00\n"
        "Cancellation Reason: Patient Cancelled\nCancellation Date: 2025-10-28\n\n"
        "The appointment slot is now available for other patients. If this was a patient "
        "cancellation, please remind them of the cancellation policy."
    )
    appt = data["appointments"]["APPT027"]
    assert (appt["status"], appt["cancellation_reason"], appt["cancellation_date"]) == (
        "cancelled",
        "patient_cancelled",
        frozen_today,
    )
    details = call(domain, data, "get_appointment_details", appointment_id="APPT027")
    assert details.endswith(
        "\n\nCancellation Details:\n- Reason: Patient Cancelled\n- Date: 2025-10-28"
    )
    assert call(domain, data, "cancel_appointment", appointment_id="APPT027") == (
        "Appointment APPT027 is already cancelled."
    )
    assert call(domain, data, "cancel_appointment", appointment_id="APPT002") == (
        "Cannot cancel appointment APPT002 - appointment has already been completed."
    )
    assert call(domain, data, "cancel_appointment", appointment_id="APPT999") == (
        "Appointment with ID APPT999 not found."
    )


def test_cancel_uses_the_real_clock(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    call(domain, data, "cancel_appointment", appointment_id="APPT001")
    assert data["appointments"]["APPT001"]["cancellation_date"] == telehealth._today()


def test_reschedule_appointment(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    conflict = call(
        domain,
        data,
        "reschedule_appointment",
        appointment_id="APPT001",
        new_date="2025-05-20",
        new_time="11:00",
    )
    assert conflict == (
        "Provider dr_garcia_primary already has an appointment scheduled at 11:00 on 2025-05-20."
    )
    # Its own slot does not conflict with itself.
    same = call(
        domain,
        data,
        "reschedule_appointment",
        appointment_id="APPT001",
        new_date="2024-01-15",
        new_time="09:00",
    )
    assert same.startswith("Appointment successfully rescheduled.")
    before = dict(data["appointments"]["APPT001"])
    out = call(
        domain,
        data,
        "reschedule_appointment",
        appointment_id="APPT001",
        new_date="2025-09-23",
        new_time="10:00",
    )
    assert out == (
        "Appointment successfully rescheduled.\n\nAppointment ID: APPT001\n"
        "Patient: Sarah Johnson\nProvider: Dr. Garcia - Primary Care\n\n"
        "Previous Date/Time: 2024-01-15 at 09:00\nNew Date/Time: 2025-09-23 at 10:00\n\n"
        "Meeting Link: https://telehealth.healthcenter.com/room/APPT001\n\n"
        "Please update your calendar with the new appointment time."
    )
    assert data["appointments"]["APPT001"] == {**before, "date": "2025-09-23", "time": "10:00"}
    assert call(
        domain,
        data,
        "reschedule_appointment",
        appointment_id="APPT005",
        new_date="2025-09-23",
        new_time="09:00",
    ) == ("Cannot reschedule appointment APPT005 - appointment has been cancelled.")
    assert call(
        domain,
        data,
        "reschedule_appointment",
        appointment_id="APPT002",
        new_date="2025-09-23",
        new_time="09:00",
    ) == ("Cannot reschedule appointment APPT002 - appointment has already been completed.")


# -- record writes ---------------------------------------------------------------------------


def test_update_prescription_supplier(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    out = call(
        domain,
        data,
        "update_prescription_supplier",
        record_id="REC010",
        medication="insulin lispro 100 units/mL",  # prefix match, case-insensitive
        supplier_company="Bengal EndoCare",
        brand_name="SwiftLis",
        price_usd="19.2",
    )
    record = data["medical_records"]["REC010"]
    assert json.loads(out) == record
    lispro = record["prescriptions"][1]
    assert lispro["pharmacy"] == "Bengal EndoCare (SwiftLis)"
    assert lispro["supplier"] == {
        "company": "Bengal EndoCare",
        "brand_name": "SwiftLis",
        "price_usd": 19.2,
        "currency": "USD",
    }
    assert "supplier" not in record["prescriptions"][0]
    args = {"supplier_company": "A", "brand_name": "B", "price_usd": 1}
    assert call(
        domain, data, "update_prescription_supplier", record_id="REC999", medication="x", **args
    ) == ("Error: medical record not found")
    assert call(
        domain, data, "update_prescription_supplier", record_id="REC002", medication="x", **args
    ) == ("Error: medical record has no prescriptions")
    assert call(
        domain,
        data,
        "update_prescription_supplier",
        record_id="REC010",
        medication="Metformin",
        **args,
    ) == ("Error: medication Metformin not found in record REC010")


def test_update_medical_record_note(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    out = call(
        domain,
        data,
        "update_medical_record_note",
        record_id="REC012",
        note="audit ok",
        metadata={"by": "agent"},
    )
    assert data["medical_records"]["REC012"]["notes"] == [
        {"note": "audit ok", "metadata": {"by": "agent"}}
    ]
    assert json.loads(out) == data["medical_records"]["REC012"]
    existing = list(data["medical_records"]["REC021"]["notes"])
    call(domain, data, "update_medical_record_note", record_id="REC021", note="n", metadata={})
    assert data["medical_records"]["REC021"]["notes"] == [*existing, {"note": "n"}]
    assert call(domain, data, "update_medical_record_note", record_id="REC999", note="n") == (
        "Error: medical record REC999 not found"
    )


# -- read tools ------------------------------------------------------------------------------


def test_patient_lookup(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    assert (
        call(domain, data, "find_patient_by_email", email="sarah.johnson@email.com")
        == "sarah_johnson_1234"
    )
    assert call(domain, data, "find_patient_by_email", email="Sarah.Johnson@email.com") == (
        "No patient found with email: Sarah.Johnson@email.com"
    )
    assert (
        call(
            domain,
            data,
            "find_patient_by_name_dob",
            first_name="SARAH",
            last_name="johnson",
            date_of_birth="1985-03-15",
        )
        == "sarah_johnson_1234"
    )
    details = call(domain, data, "get_patient_details", patient_id="sarah_johnson_1234")
    assert details.startswith("Patient Details for Sarah Johnson (ID: sarah_johnson_1234)\n\n")
    assert "- Primary Care Copay: $25.00\n- Specialist Copay: $50.00" in details
    assert call(domain, data, "get_patient_details", patient_id="x") == (
        "Patient with ID x not found."
    )


def test_provider_listing(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    details = call(domain, data, "get_provider_details", provider_id="dr_garcia_primary")
    assert "Name: MD Carlos Garcia\nSpecialty: Primary Care\n" in details
    assert details.endswith("- Friday: 06:00, 08:00, 09:00, 10:00, 11:00, 14:00")
    listing = call(domain, data, "list_available_providers", specialty="primary care")
    assert listing.startswith("Available Providers - primary care:\n\n• MD Carlos Garcia (ID: ")
    assert call(domain, data, "list_available_providers", specialty="Astrology") == (
        "No providers found with specialty: Astrology"
    )


def test_list_patient_appointments(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    out = call(domain, data, "list_patient_appointments", patient_id="sarah_johnson_1234")
    lines = out.splitlines()
    assert lines[0] == "Appointments for Sarah Johnson (ID: sarah_johnson_1234)"
    assert lines[1] == (
        "- APPT001: 2024-01-15 at 09:00 with MD Garcia (Primary Care) "
        "[Scheduled, Type: Routine Checkup]"
    )
    assert [line.split(":")[0] for line in lines[1:]] == [
        "- APPT001",
        "- APPT004",
        "- APPT012",
        "- APPT057",
    ]
    assert call(
        domain,
        data,
        "list_patient_appointments",
        patient_id="sarah_johnson_1234",
        status_filter="cancelled",
    ) == ("No appointments found for patient sarah_johnson_1234 with status cancelled.")


def test_medical_records_and_suppliers(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    records = call(domain, data, "list_patient_medical_records", patient_id="amara_osei_8834")
    assert records == (
        "Medical records (newest first):\n"
        "record_id=REC010 | date=2025-04-15 | appointment_id=APPT025 | "
        "medications=Insulin Glargine, Insulin Lispro\n"
        "record_id=REC009 | date=2025-03-02 | appointment_id=APPT026 | medications=Insulin Glargine"
    )
    record = call(domain, data, "get_medical_record", appointment_id="APPT025")
    assert record.startswith(
        "Medical Record (ID: REC010)\nPatient: Amara Osei (ID: amara_osei_8834)"
    )
    assert call(domain, data, "get_medical_record") == (
        "Please provide a record_id or appointment_id to look up the medical record."
    )
    suppliers = call(
        domain,
        data,
        "list_medication_suppliers",
        medication="atorvastatin",
        country_filter="india",
        limit=2,
    )
    assert suppliers == (
        "Suppliers for atorvastatin:\n"
        "VedaRx Labs (India) | brand=Atorveeda | price_usd=4.05\n"
        "Sunrise Biotech (India) | brand=Lipistal | price_usd=4.15"
    )
    assert call(domain, data, "list_medication_suppliers", medication="Unobtainium") == (
        "No supplier information found for Unobtainium. "
        "(Tip: ensure the medication name matches the catalog)"
    )


def test_check_drug_interactions(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    out = call(
        domain,
        data,
        "check_drug_interactions",
        primary_medication="sertraline",
        current_medications=["warfarin", "Aspirin"],
    )
    assert out == (
        "Drug interaction analysis:\n"
        "Sertraline + Warfarin: severity=high, risk_score=9, overlap_hours=36. Hold the next "
        "warfarin dose, monitor INR, and seek urgent clinical guidance.\n"
        "Sertraline + Aspirin: severity=moderate, risk_score=6, overlap_hours=24. Hold aspirin "
        "for 24 hours and observe for bleeding.\n"
        "Warfarin + Aspirin: severity=moderate, risk_score=7, overlap_hours=30. If combined with "
        "serotonergic agents, hold aspirin for one cycle and contact cardiology.\n\n"
        "Medications to hold today: Aspirin, Warfarin\n"
        "Emergency escalation required: Yes\n"
        "Peak overlap risk window (hours): 36\n"
        "Highest severity interaction: Sertraline + Warfarin (high)"
    )
    assert call(
        domain,
        data,
        "check_drug_interactions",
        primary_medication="Water",
        current_medications=["Air"],
    ).startswith("No documented high-risk interactions found")


def test_telemetry_tools(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    devices = call(domain, data, "list_telemetry_devices", status_filter="AVAILABLE", limit=1)
    assert devices.startswith("Telemetry devices:\n")
    assert "| status=available | last_audit=" in devices
    assert len(devices.splitlines()) == 2
    uploads = json.loads(
        call(domain, data, "list_telemetry_uploads", device_id="VC-449", end_date="2025-06-01")
    )
    assert [u["date"] for u in uploads] == ["2025-06-01"]
    assert call(domain, data, "get_telemetry_upload", device_id="VC-449", date="2025-06-02") == (
        json.dumps(data["telemetry_uploads"][1])
    )
    assert call(domain, data, "get_telemetry_upload", device_id="X", date="2025-06-02") == (
        "No telemetry upload found for device X on 2025-06-02."
    )


def test_generic_tools(domain: TauTraitDomain, data: dict[str, Any]) -> None:
    assert call(domain, data, "think", thought="hmm") == ""
    assert call(domain, data, "transfer_to_human_support", reason="billing").startswith(
        "Transferring you to a human support representative.\n\nReason for transfer: billing\n"
    )
    results = {
        "2 + 2": "4.0",
        "(25.50 * 3) / 2": "38.25",
        "10 / 3": "3.33",
        "-(2 ** 3) // 3": "-3.0",
        "1 / 0": "Error: division by zero",
        "2 x 3": "Error: invalid characters in expression",
        "2 +": "Error: invalid syntax (<string>, line 1)",
        "()": "Error: float() argument must be a string or a real number, not 'tuple'",
        "9 ** 9 ** 9": "Error: int too large to convert to float",  # at once, as tau2 calculate
    }
    for expression, expected in results.items():
        assert call(domain, data, "calculate", expression=expression) == expected


# -- released GPT-5 trajectories -------------------------------------------------------------


def _records(traj: list[dict[str, Any]]) -> list[MessageRecord]:
    records: list[MessageRecord] = []
    for message in traj:
        if message["role"] == "assistant":
            calls = [
                {
                    "id": c["id"],
                    "name": c["function"]["name"],
                    "arguments": json.loads(c["function"]["arguments"]),
                }
                for c in message.get("tool_calls") or []
            ]
            record: MessageRecord = {"role": "assistant", "content": message["content"] or ""}
            if calls:
                record["tool_calls"] = calls  # type: ignore[typeddict-item]
            records.append(record)
        elif message["role"] in ("user", "tool"):
            records.append({"role": message["role"], "content": message["content"] or ""})
    return records


def _with_recorded_date(output: str, today: str) -> str:
    """Our output with today's cancellation date replaced by the recorded run's date."""
    for label in ("Cancellation Date: ", "- Reason: Patient Cancelled\n- Date: "):
        output = output.replace(label + today, label + RECORDED_TODAY)
    return output


@pytest.mark.parametrize("clock", ["recorded", "real"])
@pytest.mark.parametrize("name", TRAJECTORY_FILES)
def test_released_trajectories_replay_exactly(
    name: str,
    clock: str,
    domain: TauTraitDomain,
    tau_trait_data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replaying the agent's calls reproduces every recorded tool output byte for byte (with
    the real clock: up to the cancellation date) and every recorded reward; with the recorded
    date the gold-replay hash also equals the recorded one (except the documented older run)."""
    path = tau_trait_data_dir / "trajectories_gpt5" / f"{name}.json.gz"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    domain.gold_hashes.clear()  # gold hashes are cached by the real date, not the patched one
    if clock == "recorded":
        monkeypatch.setattr(telehealth, "_today", lambda: RECORDED_TODAY)
    today = telehealth._today()
    episodes = json.loads(gzip.decompress(path.read_bytes()))
    tasks = load_tasks(tau_trait_data_dir, "telehealth", split="test")
    assert len(episodes) == 20
    calls = rewards_agree = 0
    gold_mismatches = set()
    for episode in episodes:
        data = domain.fresh_data()
        observed = {m["tool_call_id"]: m["content"] for m in episode["traj"] if m["role"] == "tool"}
        for message in episode["traj"]:
            for tool_call in message.get("tool_calls") or []:
                arguments = json.loads(tool_call["function"]["arguments"])
                output = domain.run_tool(data, tool_call["function"]["name"], arguments).content
                expected = observed[tool_call["id"]]
                assert _with_recorded_date(output, today) == expected, (
                    episode["task_id"],
                    arguments,
                )
                calls += 1
        recorded = episode["info"]["reward_info"]
        # tau-bench computes no reward when the 30-step budget runs out.
        termination = "user_stop" if recorded is not None else "max_steps"
        info = evaluate_episode(
            domain, tasks[episode["task_id"]], data, _records(episode["traj"]), termination
        )
        rewards_agree += info.reward == episode["reward"]
        recorded_gold = recorded and recorded["info"]["gt_data_hash"]
        if recorded_gold and info.details["gt_data_hash"] != recorded_gold:
            gold_mismatches.add((name, episode["task_id"]))
    assert rewards_agree == 20
    assert calls > 100
    if clock == "recorded":
        assert gold_mismatches == {key for key in OLDER_GOLD_HASH if key[0] == name}

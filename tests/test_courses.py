"""Medication records read as courses: duplicates, renewals, dose changes and concurrent
products (docs/language.md, "Courses: how records of one drug are read together").

The rule at its edges is in the conformance cases (tests/conformance/courses.json); these tests
add what a case cannot hold: several readings of one record set, record order, a FHIR bundle of
a prescription and its dispensings, the evidence in full."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from semantics_helpers import med, patient, result, rules, truth

from criteria_lang import Rules
from criteria_lang.records.fhir import UCUM, read_bundle
from criteria_lang.records.timeline import Interval

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

# One drug (no members): a capsule and a tablet product (RxNorm codes as placeholders of two
# products of one ingredient; the language matches them as any codes of the concept).
MMF = """
drug mmf = local "mmf_capsule" | local "mmf_tablet"
"""
CAPSULE = {"system": "local", "code": "mmf_capsule"}
TABLET = {"system": "local", "code": "mmf_tablet"}


def bid(mg: int) -> dict[str, Any]:
    """`mg` twice a day."""
    return {
        "dose": {"value": mg, "unit": "mg"},
        "frequency": {"count": 2, "period": 1, "unit": "d"},
    }


def per_day(mg: float) -> dict[str, Any]:
    return {"daily_dose": {"value": mg, "unit": "mg"}}


def mmf(start: str, end: str | None, dose: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return med("mmf", start, end, **dose, **extra) | {"code": CAPSULE}


def tablet(start: str, end: str | None, dose: dict[str, Any]) -> dict[str, Any]:
    return med("mmf", start, end, **dose) | {"code": TABLET}


def daily_on(day: str, *events: dict[str, Any]) -> list[str]:
    """The evidence of `daily dose mmf at screening` with screening = day, record by record."""
    found = result(
        "daily dose mmf at screening < 100000 mg/day",
        *events,
        defines=MMF,
        dates={"screening": day, "baseline": "2024-04-10"},
    )
    return [item.detail for item in found.evidence if item.event_id is not None]


def change(*events: dict[str, Any], window: str = "12 weeks") -> str:
    return truth(
        f"medication mmf with dose change within {window} before screening", *events, defines=MMF
    )


def stable(*events: dict[str, Any], window: str = "12 weeks") -> str:
    return truth(
        f"medication mmf with stable dose within {window} before screening", *events, defines=MMF
    )


# --------------------------------------------------------------------------- duplicates


def test_a_prescription_and_its_dispensing_are_one_course() -> None:
    prescription = mmf("2024-01-01", "2024-06-30", bid(1000))
    dispensed = [
        mmf("2024-01-03", "2024-02-01", per_day(2000)),
        mmf("2024-02-02", "2024-03-02", per_day(2000)),
        mmf("2024-03-04", "2024-04-02", per_day(2000)),  # a day late
    ]
    assert (
        truth("daily dose mmf at screening = 2000 mg/day", prescription, *dispensed, defines=MMF)
        == MET
    )
    assert change(prescription, *dispensed) == NOT_MET
    assert (
        truth(
            "count medication mmf ever before screening = 4", prescription, *dispensed, defines=MMF
        )
        == MET
    )


# --------------------------------------------------------------------------- renewals


def test_weekly_and_monthly_administrations_recorded_one_day_each() -> None:
    weekly = {
        "dose": {"value": 15, "unit": "mg"},
        "frequency": {"count": 1, "period": 1, "unit": "wk"},
    }
    days = ["2024-01-05", "2024-01-12", "2024-01-19", "2024-01-26", "2024-02-02", "2024-02-09",
            "2024-02-16", "2024-02-23", "2024-03-01", "2024-03-08", "2024-03-15", "2024-03-22",
            "2024-03-29"]  # fmt: skip
    administrations = [mmf(d, d, weekly) for d in days]
    assert stable(*administrations, window="4 weeks") == MET
    assert change(*administrations, window="4 weeks") == NOT_MET
    # The days between administrations are not filled: no dose on them.
    assert truth("daily dose mmf at screening = 0 mg/day", *administrations, defines=MMF) == MET
    monthly = {
        "dose": {"value": 80, "unit": "mg"},
        "frequency": {"count": 1, "period": 4, "unit": "wk"},
    }
    shots = [
        mmf(d, d, monthly)
        for d in ("2023-12-08", "2024-01-05", "2024-02-02", "2024-03-01", "2024-03-29")
    ]
    assert stable(*shots) == MET
    late = [mmf(d, d, monthly) for d in ("2023-12-08", "2024-01-05", "2024-02-20", "2024-03-19")]
    assert stable(*late) == NOT_MET  # 46 days between two shots given every 28: a stop


# --------------------------------------------------------------------------- dose changes


def test_a_real_dose_change() -> None:
    before = mmf("2023-10-01", "2024-02-29", bid(1000))
    after = mmf("2024-03-01", None, bid(750))
    assert change(before, after) == MET
    assert stable(before, after) == NOT_MET
    assert stable(before, after, window="30 days") == MET  # the change is before the 30 days
    found = result(
        "medication mmf with dose change within 12 weeks before screening",
        before,
        after,
        defines=MMF,
    )
    assert found.evidence[-1].detail == "dose differs between exposures"


def test_a_new_dose_recorded_before_the_old_one_stopped_replaces_it() -> None:
    old = mmf("2023-10-01", "2024-03-03", bid(1000))
    new = mmf("2024-03-01", None, bid(750))  # 3 days of overlap
    counted, dropped = daily_on("2024-03-02", old, new)
    assert counted == "1500 mg = 1500 mg/day"
    assert dropped == (
        "not counted: mmf 2000 mg/day 2023-10-01..2024-02-29 (replaced by the "
        "1500 mg/day course from 2024-03-01 (3 days of overlap))"
    )
    assert (
        truth(
            "daily dose mmf at screening = 1500 mg/day",
            old,
            new,
            defines=MMF,
            dates={"screening": "2024-03-02"},
        )
        == MET
    )
    assert change(old, new) == MET
    found = result(
        "medication mmf with dose change within 12 weeks before screening", old, new, defines=MMF
    )
    assert (
        "replaced by the 1500 mg/day course from 2024-03-01 (3 days of overlap)"
        in found.evidence[-1].detail
    )
    # A dose qualifier: the overlap's days are the new dose only.
    assert (
        truth(
            "medication mmf dose > 3000 mg/day within 12 weeks before screening",
            old,
            new,
            defines=MMF,
        )
        == NOT_MET
    )


def test_concurrent_products_add_up_only_when_really_concurrent() -> None:
    capsules = mmf("2023-06-01", None, bid(1000))
    tablets = tablet("2024-01-01", "2024-06-30", per_day(500))
    both = "daily dose mmf at screening = 2500 mg/day"
    assert truth(both, capsules, tablets, defines=MMF) == MET
    detail = result(both, capsules, tablets, defines=MMF).evidence
    assert any("taken together" in item.detail for item in detail)
    # The protocol's "> 2000 mg/day": met on the days both are taken.
    assert (
        truth(
            "medication mmf dose > 2000 mg/day within 1 month before screening",
            capsules,
            tablets,
            defines=MMF,
        )
        == MET
    )
    assert (
        truth(
            "medication mmf dose > 2000 mg/day within 1 month before screening",
            capsules,
            defines=MMF,
        )
        == NOT_MET
    )
    # The second product changes the daily dose on its first day.
    assert change(capsules, tablets, window="6 months") == MET
    # A short overlap with another dose is a switch, not concurrency.
    switch = [
        mmf("2023-06-01", "2024-01-03", bid(1000)),
        tablet("2024-01-01", None, per_day(1500)),
    ]
    assert truth("daily dose mmf at screening = 1500 mg/day", *switch, defines=MMF) == MET


def test_counting_records_of_a_course() -> None:
    infusions = [mmf(d, d, per_day(1000)) for d in ("2024-01-01", "2024-01-15")]
    assert truth("count medication mmf ever before screening = 2", *infusions, defines=MMF) == MET
    assert (
        truth("count medication mmf ever before screening = 2", *infusions, *infusions, defines=MMF)
        == MET
    )


def test_a_rule_file_screens_the_same_whatever_the_record_order() -> None:
    events = [
        mmf("2024-03-01", None, bid(750)),
        mmf("2023-10-01", "2024-03-03", bid(1000)),
        mmf("2023-10-01", "2024-03-03", bid(1000)),
    ]
    r = rules(
        'I1 "x": medication mmf with dose change within 12 weeks before screening',
        'I2 "y": daily dose mmf at screening = 1500 mg/day',
        defines=MMF,
    )
    forward = r.evaluate(patient(*events)).to_dict()
    backward = r.evaluate(patient(*reversed(events))).to_dict()
    assert [c["result"] for c in forward["criteria"]] == [c["result"] for c in backward["criteria"]]


def test_a_fhir_prescription_and_its_dispensings_are_one_course() -> None:
    """The same reading for FHIR data: a MedicationRequest and the MedicationDispenses of it."""
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    drug = {"coding": [{"system": rxnorm, "code": "68149"}]}
    dosage = [
        {
            "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [
                {"doseQuantity": {"value": 1000, "unit": "mg", "system": UCUM, "code": "mg"}}
            ],
        }
    ]
    request = {
        "resourceType": "MedicationRequest",
        "id": "rx",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": drug,
        "authoredOn": "2024-01-01",
        "dosageInstruction": [
            dosage[0] | {"timing": {"repeat": dosage[0]["timing"]["repeat"] | {
                "boundsPeriod": {"start": "2024-01-01", "end": "2024-06-30"}}}}
        ],
    }  # fmt: skip
    dispenses = [
        {
            "resourceType": "MedicationDispense",
            "id": f"d{n}",
            "status": "completed",
            "subject": {"reference": "Patient/p"},
            "medicationCodeableConcept": drug,
            "whenHandedOver": day,
            "daysSupply": {"value": 30, "unit": "d", "system": UCUM, "code": "d"},
            "dosageInstruction": dosage,
        }
        for n, day in enumerate(("2024-01-02", "2024-02-01", "2024-03-03"))
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": r} for r in ({"resourceType": "Patient", "id": "p"}, request, *dispenses)
        ],
    }
    (read,), problems, _ = read_bundle(bundle, dates={"screening": dt.date(2024, 3, 31)})
    assert not problems
    r = Rules.from_text(
        'trial "T"\n  dates screening\ndrug mmf = rxnorm "68149"\ninclusion\n'
        '  I1 "x": daily dose mmf at screening = 2000 mg/day\n'
        '  I2 "y": medication mmf with stable dose within 8 weeks before screening\n'
        '  I3 "z": cumulative medication mmf within 9 days before screening = 20000 mg\n'
    )
    found = r.evaluate(attrs.evolve(read, coverage=(Interval(dt.date(2023, 1, 1), None),)))
    assert [c.truth.value for c in found.criteria] == [MET, MET, MET]

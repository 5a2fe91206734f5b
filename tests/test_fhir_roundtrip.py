"""Same results in both formats: a patient written as FHIR R4 (criteria_lang/fhir_write.py) and
read back (criteria_lang/fhir.py) gives the same timeline and the same answers, criterion by
criterion, as the patient itself.

What does not go through FHIR is passed alongside, as docs/fhir.md says: the trial's named dates
(`read_bundle(..., dates=...)`) and the reviewers' answers and study visits (`attrs.evolve`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semantics_helpers import CONCEPTS

from criteria_lang import PatientResult, Rules, load_patient
from criteria_lang.core.units import get_units
from criteria_lang.records.fhir import (
    ATTRIBUTE_EXTENSION,
    COVERAGE_EXTENSION,
    STATUS_EXTENSION,
    ReadSummary,
    read_bundle,
    read_fhir,
)
from criteria_lang.records.fhir_write import event_ids, patient_to_bundle, resource_ids
from criteria_lang.records.timeline import (
    Allergy,
    Condition,
    Event,
    Fact,
    Immunization,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
)

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
# The example patients of every seed trial: examples/<trial>/ (eligibility) and
# examples/outcomes/<trial>/ (outcomes at visits, and eligibility too).
EXAMPLES = sorted(
    p
    for p in [*(ROOT / "examples").glob("*/*.json"), *(ROOT / "examples").glob("outcomes/*/*.json")]
    if (RULES / f"{p.parent.name}.crit").exists()
)
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-fhir-r4"


def round_trip(patient: Patient) -> tuple[Patient, dict[str, Any], ReadSummary]:
    """Write as FHIR (through JSON text), read back; dates, reviews and visits passed alongside."""
    bundle = patient_to_bundle(patient)
    text = orjson.dumps(bundle)
    patients, problems, summary = read_bundle(text, "round-trip.json", dates=patient.dates)
    assert problems == [], problems
    assert len(patients) == 1
    assert sum(summary.read.values()) == summary.total == 1 + len(patient.events)
    back = attrs.evolve(patients[0], reviews=patient.reviews, visits=patient.visits)
    return back, bundle, summary


# --------------------------------------------------------------------------------------------
# The same timeline


def same_unit(a: Quantity, b: Quantity) -> bool:
    units = get_units()
    parse = lambda q: units.parse_ucum(q.unit) if q.ucum else units.parse(q.unit)  # noqa: E731
    return parse(a) == parse(b)


def same_quantity(a: object, b: object) -> bool:
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return a.value == b.value and same_unit(a, b)
    return a == b


def same_range(a: ReferenceRange | None, b: ReferenceRange | None) -> bool:
    if a is None or b is None:
        return a is b
    return same_quantity(a.low, b.low) and same_quantity(a.high, b.high)


def daily_rate(q: Quantity | None) -> tuple[Fraction, Any] | None:
    """A daily dose as (value, unit per day): `150 mg` and `150 mg/d` are the same."""
    if q is None:
        return None
    units = get_units()
    unit = units.parse_ucum(q.unit) if q.ucum else units.parse(q.unit)
    if units.compatible(unit, "mg") or units.compatible(unit, "IU"):
        unit = units.divide(unit, "day")
    return q.value, unit


def assert_same_event(a: Event, b: Event, new_id: str) -> None:
    assert b.id == new_id
    assert (type(a), a.kind, a.start, a.end) == (type(b), b.kind, b.start, b.end), (a, b)
    assert [(c.system, c.code) for c in a.codes] == [(c.system, c.code) for c in b.codes]
    if isinstance(a, Condition):
        assert isinstance(b, Condition)
        assert (a.status, a.attributes) == (b.status, b.attributes)
    elif isinstance(a, MedicationExposure):
        assert isinstance(b, MedicationExposure)
        assert same_quantity(a.dose, b.dose), (a.dose, b.dose)
        assert a.per_day == b.per_day and a.route == b.route
        assert daily_rate(a.daily_dose) == daily_rate(b.daily_dose)
        # An ongoing exposure is written with FHIR's status active, which it means.
        expected = "active" if a.status is None and a.end is None else a.status
        assert b.status == expected
    elif isinstance(a, Measurement):
        assert isinstance(b, Measurement)
        assert same_quantity(a.value, b.value), (a.value, b.value)
        assert same_range(a.reference_range, b.reference_range)
        assert a.interpretation == b.interpretation
    elif isinstance(a, Procedure):
        assert isinstance(b, Procedure) and a.attributes == b.attributes
    elif isinstance(a, Immunization | Allergy):
        assert type(b) is type(a) and (a.status, a.attributes) == (b.status, b.attributes)
    else:
        assert isinstance(a, Fact) and isinstance(b, Fact) and a.value == b.value


def assert_same_timeline(a: Patient, b: Patient) -> None:
    assert (a.birth_date, a.sex, a.dates, a.coverage) == (b.birth_date, b.sex, b.dates, b.coverage)
    ids = event_ids(a)
    assert (a.id, len(a.events)) == (b.id, len(b.events))
    for x, y in zip(a.events, b.events, strict=True):
        assert_same_event(x, y, ids[x.id])


# --------------------------------------------------------------------------------------------
# The same answers


def units_as_ucum(patient: Patient) -> list[tuple[str, str]]:
    """(unit as our data writes it, its UCUM code), longest first: the unit texts that a missing
    item may quote, and how they read back from FHIR."""
    found: set[str] = set()
    for event in patient.events:
        values = [getattr(event, key, None) for key in ("value", "dose", "daily_dose")]
        ref = getattr(event, "reference_range", None)
        if ref is not None:
            values += [ref.low, ref.high]
        found |= {q.unit for q in values if isinstance(q, Quantity) and not q.ucum}
    pairs = [(unit, get_units().ucum_code(unit)) for unit in found]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def units_blank(text: str) -> str:
    """`pred 0 mg/day 2022-10-28` -> `pred 0 <unit> 2022-10-28`: the numbers and the words kept,
    the unit after each number left out. A daily dose written as an amount (`150 mg` a day) is
    stored in OMOP as a rate (`mg/d`) and reads back as one, so a text quoting it (the record's
    dose, a course's dose per day) names another unit of the same quantity."""
    return _UNIT_AFTER_NUMBER.sub(r"\1 <unit>", text)


_UNIT_AFTER_NUMBER = re.compile(r"(\d) (?!\d{4}-)[^\s\]\);,=]+")


def in_ucum(text: str, units: list[tuple[str, str]]) -> str:
    """Each unit or display as read back, where it stands as a word of its own (after a space,
    a bracket or the start; before a space, a bracket, a semicolon or the end)."""
    for ours, ucum in units:
        word = re.compile(rf"(?<![^\s(\[]){re.escape(ours)}(?=[\s)\];]|$)")
        text = word.sub(ucum.replace("\\", r"\\"), text)
    return text


def assert_same_results(
    a: PatientResult, b: PatientResult, ids: dict[str, str], patient: Patient
) -> None:
    """Criterion by criterion: the same truth, the same missing items (a unit quoted from the
    data in its UCUM form), the same evidence events (each event under its FHIR id), the same
    questions; and the same verdict."""
    units = units_as_ucum(patient)
    for x, y in zip(a.criteria, b.criteria, strict=True):
        where = (x.id, x.evidence, y.evidence, x.missing, y.missing)
        assert (x.id, x.truth) == (y.id, y.truth), where
        assert [units_blank(in_ucum(m, units)) for m in x.missing] == [
            units_blank(m) for m in y.missing
        ], where
        assert x.questions == y.questions, where
        before = [ids.get(e.event_id, e.event_id) for e in x.evidence if e.event_id]
        after = [e.event_id for e in y.evidence if e.event_id]
        assert before == after, where
    assert (a.verdict, a.deciding) == (b.verdict, b.deciding)


@pytest.fixture(scope="module")
def trial_rules() -> dict[str, Rules]:
    return {p.stem: Rules.from_file(p) for p in RULES.glob("*.crit")}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_example_patient_gives_the_same_results_through_fhir(
    path: Path, trial_rules: dict[str, Rules]
) -> None:
    patient = load_patient(path.read_bytes(), source=str(path))
    back, _, _ = round_trip(patient)
    assert_same_timeline(patient, back)
    rules = trial_rules[path.parent.name]
    assert_same_results(rules.evaluate(patient), rules.evaluate(back), event_ids(patient), patient)
    if path.parent.parent.name == "outcomes":
        assert_same_outcomes(rules, patient, back)


def assert_same_outcomes(rules: Rules, patient: Patient, back: Patient) -> None:
    """Outcomes judged at each visit (the visits passed alongside): the same result, missing
    items, questions and evidence events at every visit, and the same first visit met."""
    ids, units = event_ids(patient), units_as_ucum(patient)
    before, after = rules.outcomes(patient), rules.outcomes(back)
    assert before.visits == after.visits
    for a, b in zip(before.outcomes, after.outcomes, strict=True):
        assert (a.id, a.first_met) == (b.id, b.first_met)
        for x, y in zip(a.visits, b.visits, strict=True):
            where = (a.id, x.visit, x.missing, y.missing)
            assert (x.visit, x.result) == (y.visit, y.result), where
            assert [units_blank(in_ucum(m, units)) for m in x.missing] == [
                units_blank(m) for m in y.missing
            ], where
            assert x.questions == y.questions, where
            assert [ids.get(e.event_id, e.event_id) for e in x.evidence if e.event_id] == [
                e.event_id for e in y.evidence if e.event_id
            ], where


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason=f"no Synthea data at {SYNTHEA}")
def test_synthea_patients_read_write_and_read_again_unchanged() -> None:
    """What the reader makes of real FHIR is written back and read again to the same timeline:
    UCUM units, local codes, doses from RxNorm names, encounters, allergies, statuses."""
    kidney = Rules.from_file(RULES / "examples" / "synthea_kidney.crit")
    dates = {"screening": dt.date(2018, 6, 1)}
    patients = [p for p in read_fhir(SYNTHEA, dates=dates) if isinstance(p, Patient)]
    assert len(patients) == 37
    for patient in patients:
        back, _, _ = round_trip(patient)
        assert_same_timeline(patient, back)
        assert_same_results(
            kidney.evaluate(patient), kidney.evaluate(back), event_ids(patient), patient
        )


# --------------------------------------------------------------------------------------------
# Generated patients, on a small rule file that touches every kind of event and query

SMALL_RULES = f"""
trial "round-trip"
  dates screening, baseline
  index screening
{CONCEPTS}
procedure surgery = local "surgery"
inclusion
  I1 "age": age at screening between 18 and 70 years
  I2 "infection": condition infection within 1 year before screening
  I3 "active MI": condition mi status active ever before screening
  I4 "resolved": no condition infection status resolved within 6 months before screening
  I5 "gc dose": medication gc dose >= 10 mg/day within 3 months before screening
  I6 "aza duration": medication aza for at least 30 days within 1 year before screening
  I7 "pred oral": medication pred route oral dose < 7.5 mg within 6 months before screening
  I8 "creatinine": latest lab creatinine within 1 year before screening <= 1.2 mg/dL
  I9 "neutrophils": max lab neutrophils within 1 year before screening >= 1.5 x 10^9/L
  I10 "ast": latest lab ast within 1 year before screening <= 2 x ULN
  I11 "hbsag": lab hbsag value is negative within 1 year before screening
  I12 "ana": latest lab ana within 2 years before screening >= 1:160
  I13 "pregnant": fact pregnant at screening +/- 30 days
  I14 "biopsy": procedure biopsy where class in ("III", "IV") ever before screening
  I15 "sledai": latest score sledai within 1 year before screening >= 6
  I16 "count": count lab creatinine within 2 years before screening >= 2
  I17 "cumulative": cumulative medication gc within 1 year before screening > 1 g
  I18 "new aza": medication aza new within 6 months before screening
  I19 "crcl": value crcl at screening >= 60 mL/min
  I20 "stable": medication gc with stable dose within 3 months before screening
  I21 "per kg": medication aza dose > 2 mg/kg/day ever before screening
  I22 "egfr": latest lab egfr within 1 year before screening >= 30 mL/min/1.73m2
  I23 "surgery": no procedure surgery within 1 year before screening
  I24 "weight": latest observation body_weight within 1 year before screening > 50 kg
  I25 "status": medication aza status completed, stopped ever before screening
  I26 "sex": sex in ("female")
"""

_START = dt.date(2022, 1, 1)
days = st.integers(min_value=300, max_value=1000).map(
    lambda n: (_START + dt.timedelta(days=n)).isoformat()
)
decimals = st.sampled_from([0, 0.5, 1, 1.1, 1.2, 2.5, 5, 7.5, 10, 12.5, 20, 40, 60, 80, 150, 1000])
free_text = st.sampled_from(["on and off", "unknown", "draft", "Active"])


@st.composite
def event(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "condition",
                "medication",
                "medication",
                "lab",
                "lab",
                "lab",
                "lab",
                "observation",
                "observation",
                "score",
                "procedure",
                "fact",
            ]
        )
    )
    out: dict[str, Any] = {"type": kind}
    if kind == "condition":
        out["code"] = draw(
            st.sampled_from(
                [
                    "infection",
                    "mi",
                    {"system": "icd10", "code": "B35.1"},
                    {"system": "snomed", "code": "40733004"},
                    {"system": "icd10", "code": "A09", "display": "Gastroenteritis"},
                ]
            )
        )
        out["onset"] = draw(days)
        if draw(st.booleans()):
            out["abatement"] = max(out["onset"], draw(days))
        status = draw(
            st.one_of(st.none(), st.sampled_from(["active", "resolved", "remission"]), free_text)
        )
        if status is not None:
            out["status"] = status
        if draw(st.booleans()):
            out["attributes"] = {"severity": draw(st.sampled_from(["grade 2", 3, True, 2.5]))}
    elif kind == "medication":
        out["code"] = draw(
            st.sampled_from(
                [
                    "aza",
                    "pred",
                    "mp",
                    "ritux",
                    {"system": "rxnorm", "code": "8640", "display": "Prednisone 5 MG Oral Tablet"},
                ]
            )
        )
        out["start"] = draw(days)
        end = draw(st.one_of(st.none(), st.just("ongoing"), days))
        if end == "ongoing":
            out["ongoing"] = True
        elif end is not None:
            out["end"] = max(out["start"], end)
        if draw(st.booleans()):
            out["dose"] = {"value": draw(decimals), "unit": draw(st.sampled_from(["mg", "g"]))}
        if draw(st.booleans()):
            out["frequency"] = {
                "count": draw(st.integers(1, 3)),
                "period": draw(st.integers(1, 2)),
                "unit": draw(st.sampled_from(["h", "d", "wk", "mo"])),
            }
        if draw(st.booleans()):
            out["daily_dose"] = {
                "value": draw(decimals),
                "unit": draw(st.sampled_from(["mg", "mg/day", "g/week"])),
            }
        route = draw(st.one_of(st.none(), st.sampled_from(["oral", "intravenous"])))
        if route:
            out["route"] = route
        status = draw(
            st.one_of(
                st.none(),
                st.sampled_from(["active", "completed", "stopped", "cancelled"]),
                free_text,
            )
        )
        if status is not None:
            out["status"] = status
    elif kind == "lab":
        code, value, unit = draw(
            st.sampled_from(
                [
                    ("creatinine", decimals, st.sampled_from(["mg/dL", "umol/L", "g/L"])),
                    ("egfr", decimals, st.just("mL/min/1.73m2")),
                    ("ast", decimals, st.just("U/L")),
                    (
                        "neutrophils",
                        decimals,
                        st.sampled_from(["10^9/L", "/uL", "cells/uL", "x10^9/L"]),
                    ),
                    (
                        "hbsag",
                        st.sampled_from(["negative", "Positive", "not detected", "equivocal"]),
                        st.none(),
                    ),
                    ("ana", st.sampled_from(["1:80", "1:160", "1:320", "negative"]), st.none()),
                ]
            )
        )
        out |= {"code": code, "date": draw(days), "value": draw(value)}
        if draw(st.integers(0, 9)) == 0:
            out["value"] = None  # a test done without a result
        chosen = draw(unit)
        if chosen is not None:
            out["unit"] = chosen
        if code == "ast" and draw(st.booleans()):
            out["reference_range"] = {"low": 5, "high": draw(st.sampled_from([35, 40]))}
        if draw(st.booleans()):
            out["interpretation"] = draw(st.sampled_from(["H", "N", "high-ish"]))
    elif kind == "observation":
        code, unit = draw(st.sampled_from([("body_weight", "kg"), ("body_height", "cm")]))
        out |= {"code": code, "date": draw(days), "value": draw(decimals) + 40, "unit": unit}
    elif kind == "score":
        out |= {"code": "sledai", "date": draw(days), "value": draw(st.integers(0, 20))}
    elif kind == "procedure":
        out |= {"code": draw(st.sampled_from(["biopsy", "surgery"])), "date": draw(days)}
        if draw(st.booleans()):
            out["end"] = max(out["date"], draw(days))
        if draw(st.booleans()):
            out["attributes"] = {"class": draw(st.sampled_from(["II", "III", "IV"]))}
    else:
        out |= {
            "code": "pregnant",
            "date": draw(days),
            "value": draw(st.sampled_from([True, False, "unknown", 1])),
        }
    return out


@st.composite
def patient_doc(draw: st.DrawFn) -> dict[str, Any]:
    events = draw(st.lists(event(), min_size=3, max_size=25))
    for index, item in enumerate(events):
        # ids with characters a FHIR id cannot hold, and one shared by a condition and a fact
        item["id"] = draw(st.sampled_from([f"e{index}", f"e_{index}", f"e {index}/x"]))
    spans = draw(st.lists(st.tuples(days, st.one_of(st.none(), days)), max_size=2))
    coverage = [{"start": s, "end": None if e is None else max(s, e)} for s, e in spans]
    if draw(st.booleans()):
        coverage = [{"start": "2020-01-01", "end": None}]  # a record that covers every window
    late = st.integers(min_value=500, max_value=1000).map(
        lambda n: (_START + dt.timedelta(days=n)).isoformat()
    )
    return {
        "id": draw(st.sampled_from(["p1", "patient one", "p_1"])),
        "birth_date": draw(
            st.sampled_from([None, "1950-02-28", "1980-06-15", "1980-06-15", "2010-01-01"])
        ),
        "sex": draw(
            st.sampled_from([None, "female", "male", "female", "male", "other", "unknown"])
        ),
        "dates": {"screening": draw(late), "baseline": draw(late)},
        "coverage": coverage,
        "events": events,
    }


@pytest.fixture(scope="module")
def small_rules() -> Rules:
    return Rules.from_text(SMALL_RULES)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=patient_doc())
def test_generated_patients_give_the_same_answers_through_fhir(
    doc: dict[str, Any], small_rules: Rules
) -> None:
    # Event ids must be unique within a patient: drop the repeats the strategy drew.
    seen: set[str] = set()
    doc["events"] = [e for e in doc["events"] if not (e["id"] in seen or seen.add(e["id"]))]
    patient = load_patient(doc)
    back, _, _ = round_trip(patient)
    assert_same_timeline(patient, back)
    assert_same_results(
        small_rules.evaluate(patient), small_rules.evaluate(back), event_ids(patient), patient
    )


def test_a_creatinine_of_zero_makes_crcl_unknown_not_a_crash(small_rules: Rules) -> None:
    """Found by the property above: Cockcroft-Gault divided by a creatinine of 0."""
    doc = {
        "id": "p",
        "birth_date": "1980-06-15",
        "sex": "female",
        "dates": {"screening": "2024-01-01"},
        "events": [
            {
                "type": "lab",
                "code": "creatinine",
                "date": "2024-01-01",
                "value": 0,
                "unit": "mg/dL",
            },
            {
                "type": "observation",
                "code": "body_weight",
                "date": "2024-01-01",
                "value": 60,
                "unit": "kg",
            },
        ],
    }
    crcl = small_rules.evaluate(load_patient(doc)).criterion("I19")
    assert crcl.truth.value == "unknown" and crcl.missing == (
        "crcl cannot be computed from creatinine 0, weight 60",
    )


# --------------------------------------------------------------------------------------------
# What the writer writes


def written(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    doc = {"id": "p", "birth_date": "1980-06-15", "sex": "female", "events": list(events)} | fields
    return patient_to_bundle(load_patient(doc))


def resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def test_a_collection_bundle_with_unique_full_urls_and_references_to_the_patient() -> None:
    bundle = written(
        {"type": "condition", "id": "c", "code": "sle", "onset": "2020-01-01"},
        {
            "type": "lab",
            "id": "l",
            "code": "creatinine",
            "date": "2024-01-01",
            "value": 1,
            "unit": "mg/dL",
        },
    )
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == 3 and all(u.startswith("urn:uuid:") for u in urls)
    assert {
        r["subject"]["reference"]
        for r in resources(bundle, "Condition") + resources(bundle, "Observation")
    } == {"Patient/p"}
    assert urls == [
        e["fullUrl"]
        for e in written(
            {"type": "condition", "id": "c", "code": "sle", "onset": "2020-01-01"},
            {
                "type": "lab",
                "id": "l",
                "code": "creatinine",
                "date": "2024-01-01",
                "value": 1,
                "unit": "mg/dL",
            },
        )["entry"]
    ]  # deterministic


@pytest.mark.parametrize(
    ("ours", "ucum"),
    [
        ("10^9/L", "10*9/L"),
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
        ("IU/mL", "[iU]/mL"),
        ("mmHg", "mm[Hg]"),
        ("/HPF", "/[HPF]"),
        ("g/24h", "g/(24.h)"),
        ("%", "%"),
        ("cells/uL", "{cells}/uL"),
        ("umol/L", "umol/L"),
    ],
)
def test_units_are_written_as_ucum_codes(ours: str, ucum: str) -> None:
    bundle = written(
        {
            "type": "lab",
            "id": "l",
            "code": "x",
            "date": "2024-01-01",
            "value": 3,
            "unit": ours,
            "reference_range": {"low": 1, "high": 5},
        }
    )
    obs = resources(bundle, "Observation")[0]
    assert obs["valueQuantity"] == {
        "value": 3,
        "unit": ucum,
        "system": "http://unitsofmeasure.org",
        "code": ucum,
    }
    assert obs["referenceRange"][0]["high"]["code"] == ucum
    assert obs["category"][0]["coding"][0]["code"] == "laboratory"


def test_a_medication_request_carries_dose_timing_route_and_span() -> None:
    bundle = written(
        {
            "type": "medication",
            "id": "m",
            "code": {"system": "rxnorm", "code": "1256"},
            "start": "2024-01-01",
            "end": "2024-03-31",
            "dose": {"value": 50, "unit": "mg"},
            "frequency": {"count": 3, "period": 1, "unit": "wk"},
            "route": "oral",
        }
    )
    request = resources(bundle, "MedicationRequest")[0]
    dosage = request["dosageInstruction"][0]
    assert request["status"] == "unknown" and "extension" not in request
    assert dosage["doseAndRate"][0]["doseQuantity"]["code"] == "mg"
    # 3 a week is 3/7 a day, exactly
    assert dosage["timing"]["repeat"] == {
        "boundsPeriod": {"start": "2024-01-01", "end": "2024-03-31"},
        "frequency": 3,
        "period": 7,
        "periodUnit": "d",
    }
    assert dosage["route"] == {"text": "oral"}


def test_daily_doses_are_rates_per_day() -> None:
    bundle = written(
        {
            "type": "medication",
            "id": "m",
            "code": "pred",
            "start": "2024-01-01",
            "ongoing": True,
            "daily_dose": {"value": 7.5, "unit": "mg"},
        }
    )
    request = resources(bundle, "MedicationRequest")[0]
    assert request["status"] == "active"
    assert request["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {
        "start": "2024-01-01"
    }
    assert request["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"]["code"] == "mg/d"


def test_no_dose_is_read_from_an_rxnorm_name_when_none_was_recorded() -> None:
    name = {"system": "rxnorm", "code": "312617", "display": "Prednisone 5 MG Oral Tablet"}
    bundle = written({"type": "medication", "id": "m", "code": name, "start": "2024-01-01"})
    request = resources(bundle, "MedicationRequest")[0]
    assert request["meta"]["tag"][0]["code"] == "dose-as-recorded"
    assert (
        request["medicationCodeableConcept"]["coding"][0]["display"]
        == "Prednisone 5 MG Oral Tablet"
    )
    back = read_bundle(bundle)[0][0].events[0]
    assert isinstance(back, MedicationExposure) and back.dose is None
    del request["meta"]  # without the tag, the reader reads the strength from the name
    back = read_bundle(bundle)[0][0].events[0]
    assert isinstance(back, MedicationExposure) and back.dose == Quantity(
        Fraction(5), "mg", ucum=True
    )


def test_facts_statuses_attributes_and_coverage_use_our_extensions() -> None:
    bundle = written(
        {"type": "fact", "id": "f", "code": "pregnant", "date": "2024-01-01", "value": False},
        {
            "type": "condition",
            "id": "c",
            "code": "sle",
            "onset": "2020-01-01",
            "status": "flaring",
            "attributes": {"confirmed_by": "biopsy"},
        },
        {
            "type": "medication",
            "id": "m",
            "code": "aza",
            "start": "2024-01-01",
            "end": "2024-02-01",
            "status": "cancelled",
        },
        coverage=[{"start": "2015-01-01", "end": None}],
    )
    fact = resources(bundle, "Observation")[0]
    assert fact["category"][0]["coding"][0]["system"].endswith("/CodeSystem/observation-category")
    assert fact["valueBoolean"] is False
    assert fact["code"]["coding"][0]["system"].endswith("/CodeSystem/concept")
    condition = resources(bundle, "Condition")[0]
    assert condition["clinicalStatus"] == {"text": "flaring"}
    assert condition["extension"][0]["url"] == ATTRIBUTE_EXTENSION
    request = resources(bundle, "MedicationRequest")[0]
    # FHIR's cancelled means "not taken" (the reader skips it): written as unknown, kept as text
    assert request["status"] == "unknown"
    assert request["extension"] == [{"url": STATUS_EXTENSION, "valueString": "cancelled"}]
    patient = resources(bundle, "Patient")[0]
    assert patient["extension"] == [
        {
            "url": COVERAGE_EXTENSION,
            "extension": [{"url": "span", "valuePeriod": {"start": "2015-01-01"}}],
        }
    ]
    back = read_bundle(bundle)[0][0]
    assert [type(e).__name__ for e in back.events] == ["Fact", "Condition", "MedicationExposure"]
    assert back.events[2].status == "cancelled"  # type: ignore[attr-defined]


def test_a_record_that_covers_nothing_stays_so() -> None:
    bundle = written(
        {"type": "condition", "id": "c", "code": "sle", "onset": "2020-01-01"}, coverage=[]
    )
    assert resources(bundle, "Patient")[0]["extension"][0]["extension"] == [
        {"url": "none", "valueBoolean": True}
    ]
    assert read_bundle(bundle)[0][0].coverage == ()


def test_trial_dates_and_review_answers_are_not_written() -> None:
    doc = {
        "id": "p",
        "dates": {"screening": "2024-03-01"},
        "reviews": {"E1": {"answer": "met", "by": "Dr A"}},
        "visits": [{"name": "w4", "date": "2024-04-01"}],
    }
    text = json.dumps(patient_to_bundle(load_patient(doc)))
    assert "2024-03-01" not in text and "Dr A" not in text and "w4" not in text


def test_ids_a_fhir_id_cannot_hold_are_rewritten_and_the_map_says_how() -> None:
    patient = load_patient(
        {
            "id": "p 1",
            "events": [
                {
                    "type": "fact",
                    "id": "fact-consent_signed",
                    "code": "consent_signed",
                    "date": "2024-01-01",
                    "value": True,
                },
                {
                    "type": "fact",
                    "id": "fact-consent-signed",
                    "code": "consent_signed",
                    "date": "2024-01-02",
                    "value": True,
                },
            ],
        }
    )
    assert resource_ids(patient) == {
        "fact-consent_signed": "Observation/fact-consent-signed",
        "fact-consent-signed": "Observation/fact-consent-signed-2",
    }
    bundle = patient_to_bundle(patient)
    assert resources(bundle, "Patient")[0]["id"] == "p-1"
    assert resources(bundle, "Patient")[0]["identifier"][0]["value"] == "p 1"
    assert resources(bundle, "Observation")[0]["identifier"][0]["value"] == "fact-consent_signed"
    back = read_bundle(bundle)[0][0]
    assert back.id == "p 1"
    assert [e.id for e in back.events] == [
        "Observation/fact-consent_signed",
        "Observation/fact-consent-signed",
    ]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            # a stone (no UCUM atom) to the 18th: 6.35029318**18 kg**18, a factor longer than a
            # UCUM number may be (docs/limits.md);
            # `1.5 mg` is written exactly now, as `3.g/2000` (tests/test_fhir_write_units.py).
            {"type": "lab", "code": "x", "date": "2024-01-01", "value": 1, "unit": "stone9 stone9"},
            "no UCUM code",
        ),
        (
            {
                "type": "medication",
                "code": "x",
                "start": "2024-01-01",
                "dose": {"value": 2, "unit": "1"},
            },
            "is a count",
        ),
        (
            {
                "type": "medication",
                "code": "x",
                "start": "2024-01-01",
                "daily_dose": {"value": 2, "unit": "mL"},
            },
            "not an amount",
        ),
    ],
)
def test_what_fhir_cannot_hold_exactly_is_an_error(event: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        written(event)


def test_a_value_no_decimal_equals_is_an_error() -> None:
    patient = load_patient(
        {
            "id": "p",
            "events": [
                {
                    "type": "lab",
                    "id": "l",
                    "code": "x",
                    "date": "2024-01-01",
                    "value": 1,
                    "unit": "mg",
                }
            ],
        }
    )
    lab = patient.events[0]
    assert isinstance(lab, Measurement)
    third = attrs.evolve(lab, value=Quantity(Fraction(1, 3), "mg"))
    with pytest.raises(ValueError, match="no exact JSON number"):
        patient_to_bundle(attrs.evolve(patient, events=(third,)))

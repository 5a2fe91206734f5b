"""Same results through OMOP: a patient written as OMOP CDM rows (criteria_lang/records/
omop_write.py) and read back (criteria_lang/records/omop.py) gives the same answers, criterion
by criterion, as the patient itself: every example patient of every trial, the Synthea patients
(read from FHIR), and generated patients.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_fhir_roundtrip import SMALL_RULES, in_ucum, patient_doc, units_as_ucum, units_blank

from criteria_lang import PatientResult, Rules, load_patient
from criteria_lang.records.fhir import read_fhir
from criteria_lang.records.omop import ReadSummary, read_omop_tables
from criteria_lang.records.omop_write import (
    LOCAL_CONCEPT_START,
    OmopWriter,
    decimal,
    patients_to_omop,
)
from criteria_lang.records.patient_json import read_patients
from criteria_lang.records.timeline import Patient

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
TRIALS = sorted(
    p
    for p in [*(ROOT / "examples").glob("*/"), *(ROOT / "examples" / "outcomes").glob("*/")]
    if (RULES / f"{p.name}.crit").exists()
)
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-fhir-r4"


def through_omop(patients: list[Patient]) -> tuple[dict[str, Patient], OmopWriter]:
    """Write, read back; every row read, no problem. Returns our id -> the patient read back."""
    tables, writer = patients_to_omop(patients)
    summary = ReadSummary()
    back = [p for p in read_omop_tables(tables, summary=summary) if isinstance(p, Patient)]
    assert summary.problems == [], summary
    assert summary.total == sum(summary.read.values()) == sum(len(t) for t in tables.values())
    by_person = {p.id: p for p in back}
    return {ours: by_person[str(pid)] for ours, pid in writer.person_ids.items()}, writer


def assert_same_results(
    a: PatientResult, b: PatientResult, patient: Patient, writer: OmopWriter, back: Patient
) -> None:
    """The same truth, missing items (units quoted in UCUM), questions and evidence events (each
    under its OMOP id) for every criterion; the same verdict and deciding criteria. A code of
    OHDSI's vocabulary reads back under its concept's name (rxnorm 8640 is "Prednisone" whatever
    the record called it): missing items are compared with the names read back."""
    ids = {e: writer.event_ids[(patient.id, e)] for (p, e) in writer.event_ids if p == patient.id}
    names = {e.id: e.display for e in back.events}
    renamed = [
        (e.display, names[ids[e.id]]) for e in patient.events if e.display != names[ids[e.id]]
    ]
    units = units_as_ucum(patient) + renamed
    # One display read back under two names (a dose concept named as the record, and the real
    # concept's name) cannot be mapped back in the text: compare the missing items only when
    # every display maps to one name.
    read_as = {(e.display, names[ids[e.id]]) for e in patient.events}
    same_text = len({old for old, _ in read_as}) == len(read_as)
    for x, y in zip(a.criteria, b.criteria, strict=True):
        where = (patient.id, x.id, x.missing, y.missing)
        assert (x.id, x.truth) == (y.id, y.truth), where
        if same_text and list(x.missing) != list(y.missing):
            assert [units_blank(in_ucum(m, units)) for m in x.missing] == [
                units_blank(m) for m in y.missing
            ], where
        assert x.questions == y.questions, where
        before = [ids.get(e.event_id, e.event_id) for e in x.evidence if e.event_id]
        assert before == [e.event_id for e in y.evidence if e.event_id], where
    assert (a.verdict, a.deciding) == (b.verdict, b.deciding)


@pytest.mark.parametrize("folder", TRIALS, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_every_example_patient_gives_the_same_results_through_omop(folder: Path) -> None:
    rules = Rules.from_file(RULES / f"{folder.name}.crit")
    patients = [p for p in read_patients(folder) if isinstance(p, Patient)]
    assert patients
    back, writer = through_omop(patients)
    for patient in patients:
        again = back[patient.id]
        assert (again.birth_date, again.sex, again.dates) == (
            patient.birth_date,
            patient.sex,
            patient.dates,
        )
        assert (again.reviews, again.visits) == (patient.reviews, tuple(patient.visits))
        assert_same_results(rules.evaluate(patient), rules.evaluate(again), patient, writer, again)
        if folder.parent.name == "outcomes":
            before, after = rules.outcomes(patient), rules.outcomes(again)
            for x, y in zip(before.outcomes, after.outcomes, strict=True):
                assert (x.id, x.first_met) == (y.id, y.first_met)
                assert [v.result for v in x.visits] == [v.result for v in y.visits]


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason=f"no Synthea data at {SYNTHEA}")
def test_synthea_patients_give_the_same_results_through_omop() -> None:
    kidney = Rules.from_file(RULES / "examples" / "synthea_kidney.crit")
    dates = {"screening": dt.date(2018, 6, 1)}
    patients = [p for p in read_fhir(SYNTHEA, dates=dates) if isinstance(p, Patient)]
    assert len(patients) == 37
    back, writer = through_omop(patients)
    for patient in patients:
        assert_same_results(
            kidney.evaluate(patient),
            kidney.evaluate(back[patient.id]),
            patient,
            writer,
            back[patient.id],
        )


@pytest.fixture(scope="module")
def small_rules() -> Rules:
    return Rules.from_text(SMALL_RULES)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=patient_doc())
def test_generated_patients_give_the_same_answers_through_omop(
    doc: dict[str, Any], small_rules: Rules
) -> None:
    seen: set[str] = set()
    doc["events"] = [e for e in doc["events"] if not (e["id"] in seen or seen.add(e["id"]))]
    for item in doc["events"]:
        # An exposure has one strength in OMOP: a dose per unit, or a daily rate, not both (a
        # dose of 0 mg and a daily dose of 10 mg have no common form).
        if "dose" in item:
            item.pop("daily_dose", None)

    # The reader gives coverage spans in date order (missing items list them).
    doc["coverage"].sort(key=lambda span: (span["start"], span["end"] or "9"))
    patient = load_patient(doc)
    back, writer = through_omop([patient])
    again = back[patient.id]
    assert_same_results(
        small_rules.evaluate(patient), small_rules.evaluate(again), patient, writer, again
    )


# --------------------------------------------------------------------------------------------
# What the writer writes


def written(*events: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    doc = {
        "id": "p",
        "birth_date": "1980-06-15",
        "sex": "female",
        "coverage": [{"start": "2020-01-01", "end": None}],
        "events": list(events),
    }
    tables, _ = patients_to_omop([load_patient(doc)])
    return tables


def test_known_codes_keep_their_standard_concept_and_others_get_local_ids() -> None:
    tables = written(
        {
            "type": "lab",
            "code": {"system": "loinc", "code": "2160-0"},
            "date": "2024-01-02",
            "value": 1.1,
            "unit": "mg/dL",
        },
        {
            "type": "lab",
            "code": {"system": "loinc", "code": "99999-9"},
            "date": "2024-01-02",
            "value": 3,
            "unit": "mg/dL",
        },
    )
    first, second = tables["measurement"]
    assert first["measurement_concept_id"] == 3016723  # LOINC 2160-0 in OHDSI's vocabulary
    assert first["unit_concept_id"] == 8840 and first["value_as_number"] == Decimal("1.1")
    local = second["measurement_concept_id"]
    assert local >= LOCAL_CONCEPT_START
    (concept,) = [c for c in tables["concept"] if c["concept_id"] == local]
    assert (concept["vocabulary_id"], concept["concept_code"]) == ("LOINC", "99999-9")
    assert concept["standard_concept"] is None  # never passed off as a standard concept
    # The open coverage span ends where OMOP's vocabulary ends open spans.
    assert tables["observation_period"][0]["observation_period_end_date"] == dt.date(2099, 12, 31)


def test_a_dose_becomes_a_strength_a_quantity_and_days_supply() -> None:
    tables = written(
        {
            "type": "medication",
            "code": "azathioprine",
            "start": "2024-01-01",
            "end": "2024-01-30",
            "dose": {"value": 50, "unit": "mg"},
            "frequency": {"count": 3, "period": 1, "unit": "d"},
        },
    )
    (exposure,) = tables["drug_exposure"]
    assert (exposure["quantity"], exposure["days_supply"]) == (Decimal(90), 30)
    (strength,) = tables["drug_strength"]
    assert strength["drug_concept_id"] == exposure["drug_concept_id"]
    assert strength["amount_value"] == Decimal(50)
    # The daily dose the OHDSI way: amount x quantity / days_supply = 150 mg a day.
    assert strength["amount_value"] * exposure["quantity"] / exposure["days_supply"] == 150
    (ancestor,) = tables["concept_ancestor"]
    assert ancestor["descendant_concept_id"] == exposure["drug_concept_id"]


def test_a_regimen_with_no_decimal_quantity_is_written_as_one_cycle() -> None:
    tables = written(
        {
            "type": "medication",
            "code": "adalimumab",
            "start": "2024-01-01",
            "end": "2024-01-03",
            "dose": {"value": 40, "unit": "mg"},
            "frequency": {"count": 1, "period": 2, "unit": "wk"},
        },
    )
    (exposure,) = tables["drug_exposure"]
    assert (exposure["quantity"], exposure["days_supply"]) == (Decimal(1), 14)


def test_numbers_without_a_decimal_form_are_refused() -> None:
    assert decimal(Fraction(1, 8), "x") == Decimal("0.125")
    with pytest.raises(ValueError, match="no exact decimal"):
        decimal(Fraction(1, 3), "x")


def test_a_patient_that_cannot_be_written_leaves_no_rows() -> None:
    good = load_patient(
        {"id": "1", "events": [{"type": "condition", "code": "sle", "onset": "2020-01-01"}]}
    )
    bad = load_patient(
        {
            "id": "2",
            "events": [
                {
                    "type": "condition",
                    "code": "sle",
                    "onset": "2020-01-01",
                    "status": "in remission since the spring",
                },
                {
                    "type": "lab",
                    "code": "creatinine",
                    "date": "2020-01-02",
                    "value": 1,
                    "unit": "mg/dL",
                },
            ],
        }
    )
    writer = OmopWriter()
    writer.write_patient(good)
    with pytest.raises(ValueError, match="stop_reason"):
        writer.write_patient(bad)
    assert [r["person_id"] for r in writer.tables["person"]] == [1]
    assert len(writer.tables["condition_occurrence"]) == 1
    assert list(writer.person_ids) == ["1"]

"""One table per fact (issue 11): every place that names event kinds, code systems, time units or
the units data carry reads the one table, so they cannot disagree."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from criteria_lang.core import codes, data_units, dates, kinds
from criteria_lang.core.units import get_units
from criteria_lang.records import fhir, fhir_write, omop, omop_write, patient_json

ROOT = Path(__file__).resolve().parents[1]
GRAMMAR = (ROOT / "criteria_lang" / "syntax" / "criteria.lark").read_text(encoding="utf-8")
SCHEMA = json.loads((ROOT / "criteria_lang" / "schema" / "patient.schema.json").read_text())


def grammar_words(rule: str) -> set[str]:
    # The rule and its continuation lines (`| ...`).
    match = re.search(rf"^!{rule}:(.*(?:\n\s+\|.*)*)", GRAMMAR, re.M)
    assert match, rule
    return set(re.findall(r'"([^"]+)"', match.group(1)))


# ---------------------------------------------------------------------- event kinds


def test_the_grammar_knows_exactly_the_kinds_of_the_table() -> None:
    # `medication` is also a concept keyword: `medication x = ...` declares a drug.
    assert grammar_words("kind") == set(kinds.CONCEPT_KINDS) | set(kinds.EVENT_KINDS)


def test_the_patient_format_knows_exactly_the_event_kinds() -> None:
    assert set(SCHEMA["$defs"]["event"]["properties"]["type"]["enum"]) == set(kinds.EVENT_KINDS)


def test_drug_and_medication_name_one_kind() -> None:
    assert kinds.event_kind("drug") == kinds.event_kind("medication") == "medication"
    assert kinds.concept_kind("medication") == "drug"
    assert all(kinds.event_kind(k.concept) == k.event for k in kinds.KINDS)
    # Inside the coverage, no record is evidence of none (docs: "Unknown and absence",
    # "Immunizations and allergies").
    assert kinds.ABSENCE_IS_EVIDENCE == {
        "condition",
        "medication",
        "procedure",
        "immunization",
        "allergy",
    }
    with pytest.raises(ValueError):
        kinds.event_kind("vaccination")


# ---------------------------------------------------------------------- code systems


def test_the_grammar_and_the_patient_format_know_the_code_systems_of_the_table() -> None:
    assert grammar_words("code_system") == set(codes.RULE_CODE_SYSTEMS)
    enum = SCHEMA["$defs"]["code"]["anyOf"][1]["properties"]["system"]["enum"]
    assert set(enum) == set(codes.CODE_SYSTEMS)


def test_every_reader_and_writer_maps_systems_through_the_table() -> None:
    for system in codes.CODE_SYSTEM_TABLE:
        # FHIR: every URI reads as the system, and the writer writes the first.
        assert all(fhir.SYSTEMS[uri] == system.name for uri in system.uris)
        assert fhir_write.SYSTEM_URIS[system.name] == system.uris[0]
        # OMOP: every vocabulary reads as the system, whatever its case; the writer writes the
        # first.
        for vocabulary in system.omop_vocabularies:
            assert omop.VOCABULARIES[vocabulary.casefold()] == system.name
        written = {**omop_write._VOCABULARY_IDS, **omop_write.LOCAL_VOCABULARIES}
        if system.omop_vocabularies:
            assert written[system.name] == system.omop_vocabularies[0]


# ---------------------------------------------------------------------- time


def test_one_month_length_everywhere() -> None:
    units = get_units()
    assert dates.DAYS_PER_UNIT["mo"] == dates.DAYS_PER_MONTH == Fraction("30.4375")
    assert dates.DAYS_PER_UNIT["a"] == dates.DAYS_PER_YEAR == 12 * dates.DAYS_PER_MONTH
    assert units.factor("months", "days") == dates.DAYS_PER_MONTH
    assert units.factor("years", "days") == dates.DAYS_PER_YEAR
    assert dates.approximate_days(Fraction(1), "months") == dates.DAYS_PER_MONTH
    assert fhir._DAYS_PER_UNIT == dates.DAYS_PER_UNIT
    assert fhir._TIMING_CODES["MO"] == 1 / dates.DAYS_PER_MONTH
    for unit, days in patient_json.FREQUENCY_UNITS.items():
        assert dates.DAYS_PER_UNIT[unit] == days


def test_once_a_month_is_the_same_daily_dose_from_fhir_and_from_our_json() -> None:
    """Before issue 11, FHIR said 1/30 a day and our JSON 1/30.4375."""
    ours = patient_json.load_patient(
        {
            "id": "p",
            "events": [
                {
                    "type": "medication",
                    "code": "x",
                    "start": "2024-01-01",
                    "end": "2024-06-01",
                    "dose": {"value": 500, "unit": "mg"},
                    "frequency": {"count": 1, "period": 1, "unit": "mo"},
                }
            ],
        }
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "id": "m",
                    "status": "active",
                    "subject": {"reference": "Patient/p"},
                    "medicationCodeableConcept": {"coding": [{"system": "x", "code": "x"}]},
                    "effectivePeriod": {"start": "2024-01-01", "end": "2024-06-01"},
                    "dosage": [
                        {
                            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "mo"}},
                            "doseAndRate": [
                                {"doseQuantity": {"value": 500, "unit": "mg", "code": "mg"}}
                            ],
                        }
                    ],
                }
            },
        ],
    }
    patients, problems, _ = fhir.read_bundle(json.dumps(bundle), "b.json")
    assert not problems and len(patients) == 1
    events = ours.events + patients[0].events
    assert [type(e).__name__ for e in events] == ["MedicationExposure"] * 2
    assert {getattr(e, "per_day", None) for e in events} == {1 / dates.DAYS_PER_MONTH}


# ---------------------------------------------------------------------- units data carry


@pytest.mark.parametrize("row", data_units.DATA_UNITS, ids=lambda r: r.ours)
def test_each_data_unit_means_the_same_in_ucum(row: data_units.DataUnit) -> None:
    units = get_units()
    assert units.parse_ucum(row.ucum) == units.parse(row.ours)


def test_omop_unit_concepts_come_from_the_table() -> None:
    known = {u.omop_concept_id: u.ucum for u in data_units.DATA_UNITS if u.omop_concept_id}
    assert omop._UNITS == known
    assert {v: k for k, v in omop_write._KNOWN_UNITS.items()} == known


# ---------------------------------------------------------------------- normalisations


def test_every_reader_reads_an_egfr_in_ml_per_min_per_1_73_m2() -> None:
    """records/normalise.py: the FHIR reader relabelled such results; our JSON did not, so the
    same result decided from FHIR and stayed unknown from our JSON."""
    from criteria_lang import Rules
    from criteria_lang.records.normalise import measurement_value
    from criteria_lang.records.timeline import Code, Quantity, ReferenceRange

    loinc = (Code("loinc", "33914-3"),)
    value, ref, note = measurement_value(
        loinc, Quantity(Fraction(45), "mL/min"), ReferenceRange(Quantity(Fraction(60), "mL/min"))
    )
    assert value == Quantity(Fraction(45), "mL/min/1.73m2") and note is not None
    assert ref is not None and ref.low == Quantity(Fraction(60), "mL/min/1.73m2")
    ucum, _, _ = measurement_value(loinc, Quantity(Fraction(45), "mL/min", ucum=True), None)
    assert ucum == Quantity(Fraction(45), "mL/min/{1.73_m2}", ucum=True)
    # A creatinine clearance in mL/min is left alone; so is an eGFR already per 1.73 m2.
    clearance = (Code("loinc", "2164-2"),)
    assert measurement_value(clearance, Quantity(Fraction(45), "mL/min"), None)[2] is None
    per_bsa = Quantity(Fraction(45), "mL/min/1.73m2")
    assert measurement_value(loinc, per_bsa, None) == (per_bsa, None, None)

    rules = Rules.from_text(
        'trial "T"\n  dates screening\nimport labs\ninclusion\n'
        '  I1 "eGFR": latest lab labs.egfr within 30 days before screening >= 30 mL/min/1.73m2\n'
    )
    doc = {
        "id": "p",
        "dates": {"screening": "2024-03-01"},
        "events": [
            {
                "type": "lab",
                "code": {"system": "loinc", "code": "33914-3"},
                "date": "2024-02-20",
                "value": 45,
                "unit": "mL/min",
            }
        ],
    }
    assert rules.evaluate(doc).criteria[0].truth.value == "met"

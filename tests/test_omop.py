"""The OMOP CDM reader (criteria_lang/omop.py): one table at a time, then bad rows and fuzzing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_lang import Rules
from criteria_lang.records.omop import (
    ERA_TABLE,
    IGNORED,
    NOT_READABLE,
    OUTSIDE_OBSERVATION,
    PERSON_NOT_READABLE,
    ReadSummary,
    read_omop_tables,
)
from criteria_lang.records.patient_json import RecordError
from criteria_lang.records.timeline import (
    Code,
    Condition,
    Interval,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
)

D = dt.date

# A small vocabulary: SNOMED type 2 diabetes under SNOMED diabetes mellitus, its ICD-10-CM
# source code, an RxNorm clinical drug under its ingredient, LOINC creatinine and body weight,
# UCUM units, a route, and a value concept.
CONCEPTS = [
    (201826, "Type 2 diabetes mellitus", "SNOMED", "44054006", "Clinical Finding"),
    (201820, "Diabetes mellitus", "SNOMED", "73211009", "Clinical Finding"),
    (
        45576876,
        "Type 2 diabetes mellitus without complications",
        "ICD10CM",
        "E11.9",
        "5-char billing code",
    ),
    (1118084, "celecoxib", "RxNorm", "140587", "Ingredient"),
    (1118088, "celecoxib 200 MG Oral Capsule", "RxNorm", "205323", "Clinical Drug"),
    (3016723, "Creatinine [Mass/volume] in Serum or Plasma", "LOINC", "2160-0", "Lab Test"),
    (3025315, "Body weight", "LOINC", "29463-7", "Clinical Observation"),
    (8840, "milligram per deciliter", "UCUM", "mg/dL", "Unit"),
    (9529, "kilogram", "UCUM", "kg", "Unit"),
    (4132161, "Oral", "SNOMED", "26643006", "Route"),
    (45884084, "Positive", "LOINC", "LA6576-8", "Answer"),
    (9201, "Inpatient Visit", "Visit", "IP", "Visit"),
]
VOCABULARY = {
    "concept": [
        {
            "concept_id": cid,
            "concept_name": name,
            "vocabulary_id": vocab,
            "concept_code": code,
            "concept_class_id": cls,
        }
        for cid, name, vocab, code, cls in CONCEPTS
    ],
    "concept_ancestor": [
        {"ancestor_concept_id": 201820, "descendant_concept_id": 201826},
        {"ancestor_concept_id": 201826, "descendant_concept_id": 201826},  # self: ignored
        {"ancestor_concept_id": 1118084, "descendant_concept_id": 1118088},
    ],
}


def person(**extra: Any) -> dict[str, Any]:
    return {
        "person_id": 1,
        "gender_concept_id": 8532,
        "year_of_birth": 1960,
        "month_of_birth": 5,
        "day_of_birth": 17,
    } | extra


def database(**tables: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    base: dict[str, list[dict[str, Any]]] = {
        "person": [person()],
        "observation_period": [
            {
                "observation_period_id": 1,
                "person_id": 1,
                "observation_period_start_date": "2000-01-01",
                "observation_period_end_date": "2024-12-31",
            }
        ],
    }
    return base | tables


def read_one(tables: dict[str, Any], **options: Any) -> tuple[Patient, ReadSummary]:
    summary = ReadSummary()
    records = list(read_omop_tables(tables, summary=summary, **options))
    assert len(records) == 1, records
    (patient,) = records
    assert isinstance(patient, Patient), patient
    return patient, summary


def only_event(tables: dict[str, Any], **options: Any) -> Any:
    patient, summary = read_one(tables, **options)
    assert not summary.problems, summary.problems
    (event,) = patient.events
    return event


def systems(codes: tuple[Code, ...]) -> list[tuple[str, str]]:
    return [(c.system, c.code) for c in codes]


# --------------------------------------------------------------------------------------------
# Persons and observation periods


def test_person_and_coverage() -> None:
    patient, summary = read_one(database())
    assert patient.id == "1"
    assert patient.birth_date == D(1960, 5, 17)
    assert patient.sex == "female"
    assert patient.coverage == (Interval(D(2000, 1, 1), D(2024, 12, 31)),)
    assert patient.source == "person/1"
    assert summary.read == {"person": 1, "observation_period": 1}
    assert summary.total == 2


@pytest.mark.parametrize(
    ("fields", "birth", "note"),
    [
        ({"birth_datetime": "1960-05-17T08:00:00"}, D(1960, 5, 17), None),
        ({"month_of_birth": None, "day_of_birth": None}, D(1960, 1, 1), "year_of_birth alone"),
        ({"year_of_birth": 0}, None, "without year_of_birth"),
        ({"year_of_birth": None}, None, "without year_of_birth"),
    ],
)
def test_birth_dates(fields: dict[str, Any], birth: dt.date | None, note: str | None) -> None:
    patient, summary = read_one(database(person=[person(**fields)]))
    assert patient.birth_date == birth
    notes = " ".join(n for (_, n) in summary.notes)
    assert (note in notes) if note else not notes


@pytest.mark.parametrize(
    ("gender", "sex"), [(8507, "male"), (8532, "female"), (8551, "unknown"), (0, None), (1, None)]
)
def test_gender(gender: int, sex: str | None) -> None:
    patient, _ = read_one(database(person=[person(gender_concept_id=gender)]))
    assert patient.sex == sex


def test_a_person_whose_birth_cannot_be_read_is_a_record_error_and_its_rows_are_counted() -> None:
    tables = database(
        person=[person(month_of_birth=13), person(person_id=2)],
        condition_occurrence=[
            {
                "condition_occurrence_id": 1,
                "person_id": 1,
                "condition_concept_id": 201826,
                "condition_start_date": "2020-01-01",
            },
            {
                "condition_occurrence_id": 2,
                "person_id": 2,
                "condition_concept_id": 201826,
                "condition_start_date": "2020-01-01",
            },
        ],
    )
    summary = ReadSummary()
    first, second = read_omop_tables(tables, summary=summary)
    assert isinstance(first, RecordError) and first.source == "person/1"
    assert "1960-13-17 is not a calendar date" in first.problems[0].message
    assert isinstance(second, Patient) and len(second.events) == 1
    assert summary.skipped[("condition_occurrence", PERSON_NOT_READABLE)] == 1
    assert summary.skipped[("observation_period", PERSON_NOT_READABLE)] == 1
    assert (summary.persons, summary.record_errors) == (1, 1)


def test_dates_are_given_to_every_patient() -> None:
    patient, _ = read_one(database(), dates={"screening": D(2024, 3, 1)})
    assert patient.dates == {"screening": D(2024, 3, 1)}


# --------------------------------------------------------------------------------------------
# Codes


def test_codes_from_the_concept_table_source_concept_and_ancestors() -> None:
    event = only_event(
        database(
            **VOCABULARY,
            condition_occurrence=[
                {
                    "condition_occurrence_id": 7,
                    "person_id": 1,
                    "condition_concept_id": 201826,
                    "condition_source_concept_id": 45576876,
                    "condition_start_date": "2020-02-03",
                }
            ],
        )
    )
    assert systems(event.codes) == [
        ("omop", "201826"),
        ("snomed", "44054006"),
        ("omop", "201820"),  # the ancestor, so `omop "201820"` matches descendants
        ("snomed", "73211009"),
        ("omop", "45576876"),  # the source concept
        ("icd10", "E11.9"),
    ]
    assert event.display == "Type 2 diabetes mellitus"


def test_without_a_vocabulary_only_the_concept_id() -> None:
    event = only_event(
        database(
            condition_occurrence=[
                {
                    "condition_occurrence_id": 7,
                    "person_id": 1,
                    "condition_concept_id": 201826,
                    "condition_start_date": "2020-02-03",
                }
            ]
        )
    )
    assert event.codes == (Code("omop", "201826"),)


def test_concept_map_adds_to_and_overrides_the_concept_table() -> None:
    concept_map = {
        201826: {"concept_name": "T2DM", "vocabulary_id": "ICD10CM", "concept_code": "E11"}
    }
    event = only_event(
        database(
            condition_occurrence=[
                {
                    "condition_occurrence_id": 7,
                    "person_id": 1,
                    "condition_concept_id": 201826,
                    "condition_start_date": "2020-02-03",
                }
            ]
        ),
        concept_map=concept_map,
    )
    assert systems(event.codes) == [("omop", "201826"), ("icd10", "E11")]


def test_a_stdlib_style_rule_matches_omop_data_through_the_vocabulary() -> None:
    tables = database(
        **VOCABULARY,
        drug_exposure=[
            {
                "drug_exposure_id": 1,
                "person_id": 1,
                "drug_concept_id": 1118088,
                "drug_exposure_start_date": "2024-01-10",
                "days_supply": 30,
            }
        ],
        condition_occurrence=[
            {
                "condition_occurrence_id": 1,
                "person_id": 1,
                "condition_concept_id": 201826,
                "condition_source_concept_id": 45576876,  # ICD-10-CM E11.9
                "condition_start_date": "2015-01-01",
            }
        ],
    )
    patient, _ = read_one(tables)
    rules = Rules.from_text(
        'trial "T"\n  dates screening\n'
        'drug celecoxib = rxnorm "140587"\n'  # the ingredient, an ancestor of the clinical drug
        'condition diabetes = snomed "73211009"\n'  # diabetes mellitus, an ancestor of type 2
        'condition t2dm_icd = icd10 "E11*"\n'
        "inclusion\n"
        '  I1 "celecoxib": medication celecoxib within 3 months before screening\n'
        '  I2 "diabetes": condition diabetes ever before screening\n'
        '  I3 "no diabetes by ICD-10": no condition t2dm_icd ever before screening\n'
    )
    result = rules.evaluate(patient, dates={"screening": D(2024, 3, 1)})
    assert [c.truth.value for c in result.criteria] == ["met", "met", "not_met"]


# --------------------------------------------------------------------------------------------
# One table at a time


def test_condition_occurrence() -> None:
    event = only_event(
        database(
            condition_occurrence=[
                {
                    "condition_occurrence_id": 3,
                    "person_id": 1,
                    "condition_concept_id": 201826,
                    "condition_start_date": "2020-02-03",
                    "condition_end_date": "2020-03-01",
                    "condition_type_concept_id": 32020,
                    "visit_occurrence_id": 9,
                }
            ]
        )
    )
    assert isinstance(event, Condition) and event.kind == "condition"
    assert (event.id, event.start, event.end, event.status) == (
        "condition_occurrence/3",
        D(2020, 2, 3),
        D(2020, 3, 1),
        None,
    )
    assert event.attributes == {
        "omop_table": "condition_occurrence",
        "condition_type_concept_id": "32020",
        "visit_occurrence_id": "9",
    }


def test_condition_without_end_is_its_onset_day() -> None:
    event = only_event(
        database(
            condition_occurrence=[
                {
                    "condition_occurrence_id": 3,
                    "person_id": 1,
                    "condition_concept_id": 201826,
                    "condition_start_datetime": "2020-02-03 10:00:00",
                }
            ]
        )
    )
    assert (event.start, event.end) == (D(2020, 2, 3), None)


@pytest.mark.parametrize(
    ("fields", "end", "note"),
    [
        ({"drug_exposure_end_date": "2020-01-20", "days_supply": 30}, D(2020, 1, 20), None),
        ({"days_supply": 30}, D(2020, 1, 30), "from days_supply"),
        ({"days_supply": 0}, D(2020, 1, 1), "one day"),
        ({}, D(2020, 1, 1), "one day"),
    ],
)
def test_drug_exposure_end(fields: dict[str, Any], end: dt.date, note: str | None) -> None:
    row = {
        "drug_exposure_id": 1,
        "person_id": 1,
        "drug_concept_id": 1118088,
        "drug_exposure_start_date": "2020-01-01",
        **fields,
    }
    patient, summary = read_one(database(drug_exposure=[row]))
    (event,) = patient.events
    assert isinstance(event, MedicationExposure) and event.kind == "medication"
    assert event.end == end
    notes = " ".join(n for (_, n) in summary.notes)
    assert (note in notes) if note else not notes


def test_drug_route_from_the_concept_name() -> None:
    event = only_event(
        database(
            **VOCABULARY,
            drug_exposure=[
                {
                    "drug_exposure_id": 1,
                    "person_id": 1,
                    "drug_concept_id": 1118088,
                    "drug_exposure_start_date": "2020-01-01",
                    "route_concept_id": 4132161,
                }
            ],
        )
    )
    assert event.route == "oral"


def test_measurement_value_unit_range_and_kind() -> None:
    event = only_event(
        database(
            **VOCABULARY,
            measurement=[
                {
                    "measurement_id": 5,
                    "person_id": 1,
                    "measurement_concept_id": 3016723,
                    "measurement_date": "2024-02-01",
                    "value_as_number": 1.1,
                    "unit_concept_id": 8840,
                    "range_low": 0.5,
                    "range_high": 1.2,
                    "operator_concept_id": 4172703,
                }
            ],
        )
    )
    assert isinstance(event, Measurement) and event.kind == "lab"
    assert event.value == Quantity(Fraction(11, 10), "mg/dL", ucum=True)
    assert event.reference_range == ReferenceRange(
        Quantity(Fraction(1, 2), "mg/dL", ucum=True), Quantity(Fraction(6, 5), "mg/dL", ucum=True)
    )
    assert (event.start, event.end) == (D(2024, 2, 1), D(2024, 2, 1))


def test_body_weight_is_an_observation_and_known_units_need_no_concept_table() -> None:
    tables = database(
        concept=[r for r in VOCABULARY["concept"] if r["concept_id"] == 3025315],
        measurement=[
            {
                "measurement_id": 5,
                "person_id": 1,
                "measurement_concept_id": 3025315,
                "measurement_date": "2024-02-01",
                "value_as_number": 71,
                "unit_concept_id": 9529,
            }
        ],
    )
    event = only_event(tables)
    assert event.kind == "observation"
    assert event.value == Quantity(Fraction(71), "kg", ucum=True)


@pytest.mark.parametrize(
    ("fields", "value"),
    [
        # A bound, never the number (docs/language.md, "Results reported as bounds").
        (
            {"value_as_number": 0.5, "operator_concept_id": 4171756},
            Quantity(Fraction(1, 2), "mg/dL", ucum=True, comparator="<"),
        ),
        (
            {"value_as_number": 3, "operator_concept_id": 4172704},
            Quantity(Fraction(3), "mg/dL", ucum=True, comparator=">"),
        ),
        (
            {"value_as_number": 3, "operator_concept_id": 4171754},
            Quantity(Fraction(3), "mg/dL", ucum=True, comparator="<="),
        ),
        (
            {"value_as_number": 3, "operator_concept_id": 4171755},
            Quantity(Fraction(3), "mg/dL", ucum=True, comparator=">="),
        ),
        (
            {"value_as_number": 3, "operator_concept_id": 4172703},
            Quantity(Fraction(3), "mg/dL", ucum=True),
        ),
        # An export's text in value_source_value when there is no number.
        (
            {"value_source_value": "<0.5"},
            Quantity(Fraction(1, 2), "mg/dL", ucum=True, comparator="<"),
        ),
        ({"value_source_value": "see note"}, None),
        ({"value_as_number": 3, "operator_concept_id": 99}, "(operator concept 99) 3 mg/dL"),
        ({"value_as_concept_id": 45884084, "unit_concept_id": None}, "Positive"),
        ({"value_as_concept_id": 12345, "unit_concept_id": None}, "12345"),
        ({"unit_concept_id": None}, None),
    ],
)
def test_measurement_values(fields: dict[str, Any], value: object) -> None:
    row = {
        "measurement_id": 5,
        "person_id": 1,
        "measurement_concept_id": 3016723,
        "measurement_date": "2024-02-01",
        "unit_concept_id": 8840,
    } | fields
    assert only_event(database(**VOCABULARY, measurement=[row])).value == value


def test_a_value_whose_unit_is_unknown_is_a_problem() -> None:
    row = {
        "measurement_id": 5,
        "person_id": 1,
        "measurement_concept_id": 3016723,
        "measurement_date": "2024-02-01",
        "value_as_number": 1,
        "unit_concept_id": 777,
    }
    patient, summary = read_one(database(measurement=[row]))
    assert patient.events == ()
    assert summary.skipped[("measurement", NOT_READABLE)] == 1
    (problem,) = summary.problems
    assert problem.path == "measurement[0].unit_concept_id"
    assert "unit concept 777" in problem.message


def test_observation_table() -> None:
    event = only_event(
        database(
            observation=[
                {
                    "observation_id": 2,
                    "person_id": 1,
                    "observation_concept_id": 4275495,
                    "observation_date": "2023-05-05",
                    "value_as_string": "never smoker",
                }
            ]
        )
    )
    assert isinstance(event, Measurement) and event.kind == "observation"
    assert event.value == "never smoker"


@pytest.mark.parametrize(
    ("table", "row", "start", "end"),
    [
        (
            "procedure_occurrence",
            {
                "procedure_occurrence_id": 1,
                "procedure_concept_id": 4,
                "procedure_date": "2020-01-01",
                "quantity": 2,
            },
            D(2020, 1, 1),
            D(2020, 1, 1),
        ),
        (
            "procedure_occurrence",
            {
                "procedure_occurrence_id": 1,
                "procedure_concept_id": 4,
                "procedure_date": "2020-01-01",
                "procedure_end_date": "2020-01-03",
            },
            D(2020, 1, 1),
            D(2020, 1, 3),
        ),
        (
            "device_exposure",
            {
                "device_exposure_id": 1,
                "device_concept_id": 4,
                "device_exposure_start_date": "2020-01-01",
            },
            D(2020, 1, 1),
            D(2020, 1, 1),
        ),
        (
            "specimen",
            {"specimen_id": 1, "specimen_concept_id": 4, "specimen_date": "2020-01-01"},
            D(2020, 1, 1),
            D(2020, 1, 1),
        ),
        (
            "visit_occurrence",
            {
                "visit_occurrence_id": 1,
                "visit_concept_id": 9201,
                "visit_start_date": "2020-01-01",
                "visit_end_date": "2020-01-05",
            },
            D(2020, 1, 1),
            D(2020, 1, 5),
        ),
        (
            "visit_detail",
            {
                "visit_detail_id": 1,
                "visit_detail_concept_id": 9201,
                "visit_detail_start_date": "2020-01-01",
                "visit_detail_end_date": "2020-01-02",
            },
            D(2020, 1, 1),
            D(2020, 1, 2),
        ),
    ],
)
def test_procedure_like_tables(
    table: str, row: dict[str, Any], start: dt.date, end: dt.date
) -> None:
    event = only_event(database(**{table: [{"person_id": 1, **row}]}))
    assert isinstance(event, Procedure) and event.kind == "procedure"
    assert (event.start, event.end) == (start, end)
    assert event.attributes["omop_table"] == table


def test_visits_carry_provider_specialty_and_place_of_service() -> None:
    event = only_event(
        database(
            provider=[{"provider_id": 5, "specialty_concept_id": 38004456}],
            care_site=[{"care_site_id": 6, "place_of_service_concept_id": 8717}],
            visit_occurrence=[
                {
                    "visit_occurrence_id": 1,
                    "person_id": 1,
                    "visit_concept_id": 9201,
                    "visit_start_date": "2020-01-01",
                    "visit_end_date": "2020-01-05",
                    "provider_id": 5,
                    "care_site_id": 6,
                }
            ],
        )
    )
    assert event.attributes["provider_specialty_concept_id"] == "38004456"
    assert event.attributes["place_of_service_concept_id"] == "8717"


def test_death() -> None:
    event = only_event(
        database(death=[{"person_id": 1, "death_date": "2023-07-01", "cause_concept_id": 201826}])
    )
    assert isinstance(event, Condition)
    assert (event.id, event.start, event.end) == ("death/1", D(2023, 7, 1), None)
    assert event.codes == (Code("omop", "4306655"),)
    assert event.display == "Death"
    assert event.attributes["cause_concept_id"] == "201826"


def test_era_tables_are_read_only_when_asked() -> None:
    eras = {
        "drug_era": [
            {
                "drug_era_id": 1,
                "person_id": 1,
                "drug_concept_id": 1118084,
                "drug_era_start_date": "2020-01-01",
                "drug_era_end_date": "2020-02-01",
            }
        ],
        "dose_era": [
            {
                "dose_era_id": 1,
                "person_id": 1,
                "drug_concept_id": 1118084,
                "unit_concept_id": 8576,
                "dose_value": 200,
                "dose_era_start_date": "2020-01-01",
                "dose_era_end_date": "2020-02-01",
            }
        ],
        "condition_era": [
            {
                "condition_era_id": 1,
                "person_id": 1,
                "condition_concept_id": 201826,
                "condition_era_start_date": "2020-01-01",
                "condition_era_end_date": "2020-03-01",
                "condition_occurrence_count": 3,
            }
        ],
    }
    patient, summary = read_one(database(**eras))
    assert patient.events == ()
    assert summary.skipped_for(ERA_TABLE) == 3
    concept_map = {8576: {"vocabulary_id": "UCUM", "concept_code": "mg"}}
    patient, _ = read_one(database(**eras), eras=True, concept_map=concept_map)
    condition, drug, dose = patient.events  # in the order the tables are read
    assert isinstance(drug, MedicationExposure) and drug.end == D(2020, 2, 1)
    assert isinstance(dose, MedicationExposure) and dose.daily_dose == Quantity(
        200, "mg", ucum=True
    )
    assert isinstance(condition, Condition) and condition.end == D(2020, 3, 1)
    assert condition.attributes["condition_occurrence_count"] == 3


def test_outside_observation_drop() -> None:
    rows = [
        {
            "condition_occurrence_id": i,
            "person_id": 1,
            "condition_concept_id": 2,
            "condition_start_date": day,
        }
        for i, day in enumerate(["1999-12-31", "2000-01-01", "2024-12-31", "2025-01-01"])
    ]
    patient, _ = read_one(database(condition_occurrence=rows))
    assert len(patient.events) == 4
    patient, summary = read_one(database(condition_occurrence=rows), outside_observation="drop")
    assert [e.start for e in patient.events] == [D(2000, 1, 1), D(2024, 12, 31)]
    assert summary.skipped[("condition_occurrence", OUTSIDE_OBSERVATION)] == 2


# --------------------------------------------------------------------------------------------
# Row shapes: JSON, a database driver, CSV


def test_rows_from_a_database_driver_and_from_csv_read_the_same() -> None:
    json_rows = database(
        measurement=[
            {
                "measurement_id": 5,
                "person_id": 1,
                "measurement_concept_id": 3016723,
                "measurement_date": "2024-02-01",
                "value_as_number": 1.1,
                "unit_concept_id": 8840,
            }
        ]
    )
    driver_rows = {
        "CDM.PERSON": [
            {
                "PERSON_ID": 1.0,
                "GENDER_CONCEPT_ID": 8532,
                "YEAR_OF_BIRTH": 1960,
                "MONTH_OF_BIRTH": 5,
                "DAY_OF_BIRTH": Decimal("17"),
            }
        ],
        "cdm.Observation_Period": [
            {
                "OBSERVATION_PERIOD_ID": 1,
                "PERSON_ID": 1,
                "OBSERVATION_PERIOD_START_DATE": D(2000, 1, 1),
                "OBSERVATION_PERIOD_END_DATE": dt.datetime(2024, 12, 31, 0, 0),
            }
        ],
        "MEASUREMENT": [
            {
                "MEASUREMENT_ID": 5.0,
                "PERSON_ID": 1,
                "MEASUREMENT_CONCEPT_ID": 3016723,
                "MEASUREMENT_DATE": D(2024, 2, 1),
                "VALUE_AS_NUMBER": Decimal("1.1"),
                "UNIT_CONCEPT_ID": 8840,
            }
        ],
    }
    csv_rows = {
        "person": [
            {
                "person_id": "1",
                "gender_concept_id": "8532",
                "year_of_birth": "1960",
                "month_of_birth": "5",
                "day_of_birth": "17",
                "birth_datetime": "",
            }
        ],
        "observation_period": [
            {
                "observation_period_id": "1",
                "person_id": "1",
                "observation_period_start_date": "2000-01-01",
                "observation_period_end_date": "2024-12-31",
            }
        ],
        "measurement": [
            {
                "measurement_id": "5",
                "person_id": "1",
                "measurement_concept_id": "3016723",
                "measurement_date": "2024-02-01",
                "value_as_number": "1.1",
                "unit_concept_id": "8840",
                "range_low": "",
                "operator_concept_id": "",
            }
        ],
    }
    first, second, third = (read_one(t)[0] for t in (json_rows, driver_rows, csv_rows))
    assert first == second == third
    assert first.events[0].value == Quantity(Fraction(11, 10), "mg/dL", ucum=True)


def test_unknown_tables_are_counted_as_ignored() -> None:
    _, summary = read_one(database(payer_plan_period=[{"person_id": 1}], cost=[{}, {}]))
    assert summary.skipped[("payer_plan_period", IGNORED)] == 1
    assert summary.skipped[("cost", IGNORED)] == 2


# --------------------------------------------------------------------------------------------
# Bad rows: a problem each, counted, the person still read


BAD_ROWS = [
    (
        {"condition_concept_id": 2, "condition_start_date": "2020-02-30"},
        "condition_start_date",
        'a calendar date, got the text "2020-02-30"',
    ),
    ({"condition_concept_id": 2}, "condition_start_date", "no date"),
    (
        {
            "condition_concept_id": 2,
            "condition_start_date": "2020-02-03",
            "condition_end_date": "2020-01-01",
        },
        "condition_end_date",
        "is before the start",
    ),
    ({"condition_start_date": "2020-02-03"}, "condition_concept_id", "what it is cannot be told"),
    (
        {"condition_concept_id": "two", "condition_start_date": "2020-02-03"},
        "condition_concept_id",
        'an integer, got the text "two"',
    ),
    (
        {"person_id": 9, "condition_concept_id": 2, "condition_start_date": "2020-02-03"},
        "person_id",
        "person_id 9 is not in the person table",
    ),
    (
        {"person_id": None, "condition_concept_id": 2, "condition_start_date": "2020-02-03"},
        "person_id",
        "no person_id",
    ),
]


@pytest.mark.parametrize(("fields", "column", "message"), BAD_ROWS)
def test_a_bad_row_is_one_problem(fields: dict[str, Any], column: str, message: str) -> None:
    good = {
        "condition_occurrence_id": 1,
        "person_id": 1,
        "condition_concept_id": 2,
        "condition_start_date": "2020-01-01",
    }
    bad = {"condition_occurrence_id": 2, "person_id": 1} | fields
    patient, summary = read_one(database(condition_occurrence=[good, bad]))
    assert [e.id for e in patient.events] == ["condition_occurrence/1"]
    (problem,) = summary.problems
    assert problem.path == f"condition_occurrence[1].{column}"
    assert message in problem.message
    assert summary.read["condition_occurrence"] == 1
    assert summary.skipped[("condition_occurrence", NOT_READABLE)] == 1


def test_rows_that_are_not_mappings_and_tables_that_fail_midway() -> None:
    def failing() -> Any:
        yield {
            "condition_occurrence_id": 1,
            "person_id": 1,
            "condition_concept_id": 2,
            "condition_start_date": "2020-01-01",
        }
        raise OSError("connection lost")

    tables = database(condition_occurrence=failing(), observation=["not a row", 3])  # type: ignore[arg-type]
    patient, summary = read_one(tables)
    assert len(patient.events) == 1
    assert summary.skipped[("observation", NOT_READABLE)] == 2
    messages = [p.message for p in summary.problems]
    assert "condition_occurrence: reading stopped after 1 rows: connection lost" in messages
    assert 'observation row 0: expected a row of columns, got the text "not a row"' in messages


COLUMNS = [
    "person_id",
    "condition_occurrence_id",
    "condition_concept_id",
    "condition_start_date",
    "condition_end_date",
    "drug_exposure_id",
    "drug_concept_id",
    "drug_exposure_start_date",
    "days_supply",
    "measurement_id",
    "measurement_concept_id",
    "measurement_date",
    "value_as_number",
    "unit_concept_id",
    "operator_concept_id",
    "range_low",
    "death_date",
    "year_of_birth",
    "month_of_birth",
    "gender_concept_id",
    "observation_period_start_date",
    "observation_period_end_date",
    "visit_start_date",
    "visit_end_date",
    "concept_id",
]
VALUES = st.one_of(
    st.none(),
    st.integers(-5, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["2020-01-01", "1999-12-31T23:59:59Z", "2020-13-01", "", "1", "8840", "1.5"]),
    st.dates(),
    st.decimals(allow_nan=True),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
TABLES = st.sampled_from(
    [
        "person",
        "observation_period",
        "condition_occurrence",
        "drug_exposure",
        "measurement",
        "observation",
        "death",
        "visit_occurrence",
        "concept",
        "concept_ancestor",
        "provider",
        "drug_era",
        "note",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        TABLES,
        st.lists(
            st.one_of(st.dictionaries(st.sampled_from(COLUMNS), VALUES, max_size=8), VALUES),
            max_size=4,
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_never_raises_and_accounts_for_every_row(tables: dict[str, list[Any]], eras: bool) -> None:
    summary = ReadSummary()
    records = list(read_omop_tables(tables, summary=summary, eras=eras))
    assert summary.total == sum(len(rows) for rows in tables.values())
    assert len(records) == summary.persons + summary.record_errors
    assert not any("internal error" in p.message for p in summary.problems), summary.problems
    for record in records:
        assert isinstance(record, Patient | RecordError)


def test_omop_codes_survive_a_round_trip_through_fhir() -> None:
    """`omop` codes are written with the OHDSI vocabularies' URI and read back as `omop`."""
    from criteria_lang.records.fhir import read_bundle
    from criteria_lang.records.fhir_write import patient_to_bundle

    patient, _ = read_one(
        database(
            **VOCABULARY,
            condition_occurrence=[
                {
                    "condition_occurrence_id": 7,
                    "person_id": 1,
                    "condition_concept_id": 201826,
                    "condition_start_date": "2020-02-03",
                }
            ],
        )
    )
    (back,), problems, _ = read_bundle(patient_to_bundle(patient))
    assert not problems
    assert systems(back.events[0].codes) == systems(patient.events[0].codes)


def test_a_bound_keeps_its_reference_range_in_its_unit() -> None:
    row = {
        "measurement_id": 5,
        "person_id": 1,
        "measurement_concept_id": 3016723,
        "measurement_date": "2024-02-01",
        "value_as_number": 0.5,
        "unit_concept_id": 8840,
        "operator_concept_id": 4171756,
        "range_high": 1.2,
    }
    event = only_event(database(measurement=[row]))
    assert event.value == Quantity(Fraction(1, 2), "mg/dL", ucum=True, comparator="<")
    assert event.reference_range == ReferenceRange(
        None, Quantity(Fraction(6, 5), "mg/dL", ucum=True)
    )

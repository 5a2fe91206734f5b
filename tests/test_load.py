"""The patient JSON format: loader, batch reading, writer, and agreement with the JSON Schema."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria_lang.records.patient_json import (
    DATE_PATTERN,
    FORMAT,
    PatientDataError,
    Problem,
    RecordError,
    dump_patient,
    iter_patients_from_lines,
    load_patient,
    read_patients,
)
from criteria_lang.records.timeline import (
    CODE_SYSTEMS,
    Code,
    Condition,
    Event,
    Fact,
    Interval,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
    ReviewAnswer,
    Visit,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads(
    (ROOT / "criteria_lang" / "schema" / "patient.schema.json").read_text(encoding="utf-8")
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
D = dt.date


def patient(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": "p1", **fields, "events": list(events)}


def one(event: dict[str, Any]) -> Event:
    return load_patient(patient(event)).events[0]


def problems(doc: Any) -> list[tuple[str, str]]:
    with pytest.raises(PatientDataError) as info:
        load_patient(doc)
    return [(p.path, p.message) for p in info.value.problems]


def paths(doc: Any) -> list[str]:
    return [path for path, _ in problems(doc)]


def docs_example() -> dict[str, Any]:
    text = (ROOT / "docs" / "patient-format.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block is not None
    doc: dict[str, Any] = json.loads(block.group(1))
    return doc


# ---------------------------------------------------------------------------------------------
# Reading each kind of event


def test_docs_example_loads_completely() -> None:
    p = load_patient(json.dumps(docs_example()), source="example")
    assert p.id == "p001"
    assert p.source == "example"
    assert p.birth_date == D(1985, 4, 12)
    assert p.sex == "female"
    assert p.dates == {"screening": D(2024, 3, 1), "baseline": D(2024, 3, 15)}
    assert p.coverage == (Interval(D(2015, 1, 1), D(2024, 3, 15)),)
    assert len(p.events) == 13
    assert p.reviews == {
        "E9": ReviewAnswer(
            met=False,
            by="Dr A",
            date=D(2024, 3, 1),
            note="No uncontrolled seizures in the last 12 months per neurology letter.",
        )
    }
    assert p.visits == (Visit("week 24", D(2024, 9, 1)),)
    assert [e.id for e in p.events][:4] == ["dx1", "condition-1", "rx1", "medication-3"]


def test_condition() -> None:
    ev = one(
        {
            "type": "condition",
            "code": "type_2_diabetes",
            "onset": "2019-05-01",
            "abatement": "2020-01-31",
            "status": "resolved",
            "attributes": {"stage": "II", "severity": 2.5, "confirmed": True},
        }
    )
    assert isinstance(ev, Condition)
    assert ev == Condition(
        id="condition-0",
        kind="condition",
        codes=(Code("concept", "type_2_diabetes"),),
        start=D(2019, 5, 1),
        end=D(2020, 1, 31),
        status="resolved",
    )
    assert ev.attributes == {"stage": "II", "severity": Fraction(5, 2), "confirmed": True}
    assert type(ev.attributes["severity"]) is Fraction
    assert ev.source == "$.events[0]"
    still = one({"type": "condition", "code": "asthma", "onset": "2019-05-01"})
    assert still.end is None


def test_medication_per_day_is_exact() -> None:
    def per_day(count: Any, period: Any, unit: str) -> Fraction | None:
        frequency: dict[str, Any] = {"count": count, "unit": unit}
        if period is not None:
            frequency["period"] = period
        ev = one(
            {"type": "medication", "code": "mtx", "start": "2024-01-01", "frequency": frequency}
        )
        assert isinstance(ev, MedicationExposure)
        return ev.per_day

    assert per_day(1, 1, "wk") == Fraction(1, 7)
    assert per_day(1, None, "wk") == Fraction(1, 7)
    assert per_day(2, 1, "d") == 2
    assert per_day(3, 2, "d") == Fraction(3, 2)
    assert per_day(1, 8, "h") == 3
    assert per_day(2, 1, "h") == 48
    assert per_day(1, 1, "mo") == Fraction(1200, 36525)  # 1/12 of 365.25 days
    assert per_day(0.5, 1, "d") == Fraction(1, 2)
    assert type(per_day(1, 1, "wk")) is Fraction


def test_medication_doses_and_daily_amount() -> None:
    ev = one(
        {
            "type": "medication",
            "code": {"system": "rxnorm", "code": "6809", "display": "metformin"},
            "start": "2024-01-01",
            "end": "2024-03-31",
            "dose": {"value": 500, "unit": "mg"},
            "frequency": {"count": 2, "period": 1, "unit": "d"},
            "route": "oral",
            "status": "active",
        }
    )
    assert isinstance(ev, MedicationExposure)
    assert ev.codes == (Code("rxnorm", "6809"),)
    assert ev.codes[0].display == "metformin"
    assert ev.display == "metformin"
    assert (ev.start, ev.end) == (D(2024, 1, 1), D(2024, 3, 31))
    assert ev.dose == Quantity(Fraction(500), "mg")
    assert ev.daily_amount() == Quantity(Fraction(1000), "mg")
    assert (ev.route, ev.status) == ("oral", "active")
    daily = one(
        {
            "type": "medication",
            "code": "prednisone",
            "start": "2024-01-01",
            "daily_dose": {"value": 7.5, "unit": "mg"},
        }
    )
    assert isinstance(daily, MedicationExposure)
    assert daily.daily_dose == Quantity(Fraction(15, 2), "mg")


def test_medication_end_ongoing_and_the_missing_end_rule() -> None:
    base = {"type": "medication", "code": "x", "start": "2024-01-10"}
    assert one({**base, "ongoing": True}).end is None
    assert one({**base, "ongoing": True, "end": None}).end is None
    # Neither end nor ongoing: one day, end = start (OHDSI Circe's rule).
    assert one(base).end == D(2024, 1, 10)
    assert one({**base, "ongoing": False}).end == D(2024, 1, 10)
    assert one({**base, "end": "2024-02-01"}).end == D(2024, 2, 1)
    assert one({**base, "end": "2024-02-01", "ongoing": False}).end == D(2024, 2, 1)
    assert paths(patient({**base, "end": "2024-02-01", "ongoing": True})) == ["$.events[0].end"]


def test_lab_values_are_exact_fractions() -> None:
    ev = one(
        {
            "type": "lab",
            "code": [{"system": "loinc", "code": "4548-4"}, "hba1c"],
            "date": "2024-02-20T08:15:00+01:00",
            "value": 1.1,
            "unit": "%",
            "reference_range": {"low": 4, "high": 5.6},
            "interpretation": "L",
        }
    )
    assert isinstance(ev, Measurement)
    assert ev.codes == (Code("loinc", "4548-4"), Code("concept", "hba1c"))
    assert (ev.start, ev.end) == (D(2024, 2, 20), D(2024, 2, 20))
    assert ev.value == Quantity(Fraction(11, 10), "%")
    assert ev.value.value != Fraction(1.1)  # not the binary double nearest 1.1
    assert type(ev.value.value) is Fraction
    assert ev.reference_range == ReferenceRange(
        Quantity(Fraction(4), "%"), Quantity(Fraction(28, 5), "%")
    )
    assert ev.interpretation == "L"
    for text, exact in [
        ("0.1", Fraction(1, 10)),
        ("1e-7", Fraction(1, 10**7)),
        ("2.5e3", Fraction(2500)),
    ]:
        doc = '{"id": "p", "events": [{"type": "lab", "code": "x", "date": "2024-01-01", '
        doc += f'"value": {text}, "unit": "g"}}]}}'
        assert load_patient(doc).events[0].value == Quantity(exact, "g")  # type: ignore[attr-defined]


def test_integers_beyond_64_bits_stay_exact() -> None:
    big = 123456789012345678901234567890
    text = (
        '{"id": "p", "events": [{"type": "lab", "code": "x", "date": "2024-01-01", '
        f'"value": {big}, "unit": "1", "reference_range": {{"low": {big}}}}}]}}'
    )
    ev = load_patient(text).events[0]
    assert isinstance(ev, Measurement)
    assert ev.value == Quantity(Fraction(big), "1")
    assert ev.reference_range == ReferenceRange(Quantity(Fraction(big), "1"))
    assert load_patient(text.encode()).events[0] == ev


def test_textual_boolean_and_missing_results() -> None:
    base = {"type": "lab", "code": "ana", "date": "2024-01-01"}
    assert one({**base, "value": "1:160"}).value == "1:160"  # type: ignore[attr-defined]
    assert one({**base, "value": "positive"}).value == "positive"  # type: ignore[attr-defined]
    assert one({**base, "value": True}).value is True  # type: ignore[attr-defined]
    assert one({**base, "value": False}).value is False  # type: ignore[attr-defined]
    assert one(base).value is None  # type: ignore[attr-defined]
    ranged = one({**base, "value": "neg", "reference_range": {"high": 40, "unit": "titer"}})
    assert ranged.reference_range == ReferenceRange(high=Quantity(Fraction(40), "titer"))  # type: ignore[attr-defined]


def test_observation_needs_a_unit_and_a_score_defaults_to_one() -> None:
    assert paths(
        patient({"type": "observation", "code": "sbp", "date": "2024-01-01", "value": 142})
    ) == ["$.events[0].unit"]
    assert paths(patient({"type": "lab", "code": "x", "date": "2024-01-01", "value": 1})) == [
        "$.events[0].unit"
    ]
    score = one(
        {
            "type": "score",
            "code": "ecog",
            "date": "2024-01-01",
            "value": 1,
            "reference_range": {"high": 2},
        }
    )
    assert isinstance(score, Measurement)
    assert score.kind == "score"
    assert score.value == Quantity(Fraction(1), "1")
    assert score.reference_range == ReferenceRange(high=Quantity(Fraction(2), "1"))
    nyha = one({"type": "score", "code": "nyha", "date": "2024-01-01", "value": "III"})
    assert nyha.value == "III"  # type: ignore[attr-defined]


def test_procedure_and_fact() -> None:
    proc = one({"type": "procedure", "code": "colonoscopy", "date": "2022-09-14"})
    assert isinstance(proc, Procedure)
    assert (proc.start, proc.end) == (D(2022, 9, 14), D(2022, 9, 14))
    stay = one(
        {
            "type": "procedure",
            "code": "icu_stay",
            "date": "2022-09-14",
            "end": "2022-09-20",
            "attributes": {"ward": "B"},
        }
    )
    assert stay.end == D(2022, 9, 20)
    assert stay.attributes == {"ward": "B"}  # type: ignore[attr-defined]
    for value, expected in [
        (False, False),
        ("yes", "yes"),
        (3, Fraction(3)),
        (0.25, Fraction(1, 4)),
    ]:
        fact = one({"type": "fact", "code": "pregnant", "date": "2024-03-01", "value": value})
        assert isinstance(fact, Fact)
        assert fact.value == expected and type(fact.value) is type(expected)
        assert fact.start == fact.end == D(2024, 3, 1)
    assert paths(patient({"type": "fact", "code": "pregnant", "date": "2024-03-01"})) == [
        "$.events[0].value"
    ]


def test_codes_in_every_form() -> None:
    assert one({"type": "fact", "code": "smoker", "date": "2024-01-01", "value": True}).codes == (
        Code("concept", "smoker"),
    )
    many = one(
        {
            "type": "condition",
            "onset": "2024-01-01",
            "code": [
                "asthma",
                {"system": "snomed", "code": "195967001"},
                {"system": "icd10", "code": "J45"},
            ],
        }
    )
    assert many.codes == (
        Code("concept", "asthma"),
        Code("snomed", "195967001"),
        Code("icd10", "J45"),
    )
    assert paths(patient({"type": "condition", "onset": "2024-01-01", "code": []})) == [
        "$.events[0].code"
    ]
    assert paths(
        patient(
            {
                "type": "condition",
                "onset": "2024-01-01",
                "code": ["a", {"system": "mesh", "code": "D1"}, 3],
            }
        )
    ) == ["$.events[0].code[1].system", "$.events[0].code[2]"]


def test_dates_accept_datetimes_and_check_the_calendar() -> None:
    def read(text: Any) -> dt.date:
        return load_patient({"id": "p", "birth_date": text}).birth_date  # type: ignore[return-value]

    assert read("2024-02-29") == D(2024, 2, 29)
    assert read("2000-02-29") == D(2000, 2, 29)
    assert read("2024-03-01T23:30:00-05:00") == D(2024, 3, 1)  # the date as written
    assert read("2024-03-01T09:30Z") == D(2024, 3, 1)
    assert read("2024-03-01T09:30:15.123456") == D(2024, 3, 1)
    for bad in [
        "2024-02-30",
        "2023-02-29",
        "1900-02-29",
        "2024-04-31",
        "2024-13-01",
        "0000-01-01",
        "2024-3-1",
        "20240301",
        "2024-W10-1",
        "03/01/2024",
        "2024-03-01 09:30",
        "2024-03-01T25:00",
        "2024-02-30T10:00:00Z",
        "2024-03-01T10:00:00+1",
        " 2024-03-01",
        "",
        20240301,
        True,
        ["2024-01-01"],
    ]:
        assert paths({"id": "p", "birth_date": bad}) == ["$.birth_date"], bad
    message = dict(problems({"id": "p", "birth_date": "2024-02-30"}))["$.birth_date"]
    assert message.startswith(
        '"2024-02-30" is not a valid date or date-time; expected a date as YYYY-MM-DD'
    )


def test_optional_fields_may_be_null() -> None:
    p = load_patient(
        {
            "id": "p",
            "birth_date": None,
            "sex": None,
            "dates": {"baseline": None},
            "coverage": None,
            "events": [
                {
                    "type": "lab",
                    "id": None,
                    "code": "x",
                    "date": "2024-01-01",
                    "value": None,
                    "unit": None,
                    "reference_range": None,
                    "interpretation": None,
                }
            ],
            "reviews": None,
            "visits": None,
        }
    )
    assert p.dates == {} and p.coverage == () and p.reviews == {} and p.visits == ()
    assert p.events[0].id == "lab-0"
    assert paths({"id": "p", "format": None}) == ["$.format"]
    assert paths({"id": None}) == ["$.id"]


# ---------------------------------------------------------------------------------------------
# Problems: all of them, each at its path


def test_four_mistakes_give_four_problems_at_four_paths() -> None:
    doc = {
        "id": "p017",
        "sex": "F",
        "events": [
            {"type": "condition", "code": "asthma", "onset": "2019-01-01"},
            {"type": "lab", "code": "x", "date": "2024-01-01", "value": 1, "unit": "g"},
            {"type": "medication", "code": "m", "start": "2024-01-01", "dose_unit": "mg"},
            {"type": "lab", "code": "x", "date": "2024-02-30", "value": "neg"},
            {
                "type": "medication",
                "code": "m",
                "start": "2024-01-01",
                "dose": {"value": 5, "unit": 5},
            },
        ],
    }
    found = problems(doc)
    assert [path for path, _ in found] == [
        "$.sex",
        "$.events[2].dose_unit",
        "$.events[3].date",
        "$.events[4].dose.unit",
    ]
    assert found[0][1] == 'Expected "female", "male", "other", "unknown" or null, got the text "F".'
    assert found[1][1].startswith(
        'Unknown key "dose_unit" in a medication event. Did you mean "dose"?'
    )
    assert found[3][1] == "Expected non-empty text, got the number 5."


def test_the_error_carries_problems_and_source_and_renders_them() -> None:
    with pytest.raises(PatientDataError) as info:
        load_patient({"id": "", "events": "none"}, source="p017.json")
    error = info.value
    assert isinstance(error, ValueError)
    assert error.source == "p017.json"
    assert error.problems == (
        Problem("$.id", 'Expected non-empty text, got the text "".'),
        Problem("$.events", 'Expected an array of event objects, got the text "none".'),
    )
    assert str(error) == (
        "p017.json: 2 problems in the patient data\n"
        '  $.id: Expected non-empty text, got the text "".\n'
        '  $.events: Expected an array of event objects, got the text "none".'
    )
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == error.problems and again.source == error.source


def test_missing_required_fields() -> None:
    assert problems({"events": [{"type": "condition"}, {"code": "x"}]}) == [
        (
            "$.id",
            'A patient needs "id" (its identifier as non-empty text), but it is missing or null.',
        ),
        (
            "$.events[0].code",
            'A condition event needs "code" (a concept name, a code object '
            '{"system", "code", "display"} or a non-empty array of those), '
            "but it is missing or null.",
        ),
        (
            "$.events[0].onset",
            'A condition needs "onset" (a date as YYYY-MM-DD (or an ISO 8601 '
            "date-time such as 2024-03-01T09:30:00Z)), but it is missing or null.",
        ),
        (
            "$.events[1].type",
            'An event needs "type" (one of condition, medication, lab, '
            "observation, score, procedure, fact, immunization, allergy), but it is missing or "
            "null.",
        ),
    ]


def test_duplicate_event_ids() -> None:
    doc = patient(
        {"type": "fact", "id": "a", "code": "x", "date": "2024-01-01", "value": 1},
        {"type": "fact", "id": "a", "code": "x", "date": "2024-01-01", "value": 2},
        {"type": "fact", "id": "fact-3", "code": "x", "date": "2024-01-01", "value": 3},
        {"type": "fact", "code": "x", "date": "2024-01-01", "value": 4},
    )
    assert problems(doc) == [
        (
            "$.events[1].id",
            'The event id "a" is already used by $.events[0]; event ids must be '
            "unique within a patient.",
        ),
        (
            "$.events[3]",
            'The event id "fact-3" (the default id of this event) is already used by '
            "$.events[2]; event ids must be unique within a patient.",
        ),
    ]


def test_unknown_keys_are_errors_except_notes() -> None:
    doc = {
        "id": "p",
        "x-site": {"anything": [1, 2]},
        "_comment": "fine",
        "_comment_2": "also fine",
        "birthdate": "1980-01-01",
        "dates": {"x-note": 5, "baseline": "2024-01-01"},
        "events": [
            {
                "type": "lab",
                "code": {"system": "loinc", "code": "1", "sytem": "x"},
                "date": "2024-01-01",
                "x-raw": "7,1",
                "reference_range": {"low": 1, "units": "g", "unit": "g"},
            },
            {
                "type": "medication",
                "code": "m",
                "start": "2024-01-01",
                "frequency": {"count": 1, "unit": "d", "every": 2},
            },
        ],
        "reviews": {"E1": {"answer": "met", "reviewer": "A"}, "_comment": "x"},
        "visits": [{"name": "v1", "date": "2024-01-01", "day": 1}],
        "coverage": [{"start": "2024-01-01", "stop": "2024-02-01"}],
    }
    found = problems(doc)
    assert [p for p, _ in found] == [
        "$.birthdate",
        "$.coverage[0].stop",
        "$.events[0].code.sytem",
        "$.events[0].reference_range.units",
        "$.events[1].frequency.every",
        "$.reviews.E1.reviewer",
        "$.visits[0].day",
    ]
    assert 'Did you mean "birth_date"?' in found[0][1]
    assert 'Did you mean "system"?' in found[2][1]


def test_numbers_are_not_booleans_or_text() -> None:
    med = {"type": "medication", "code": "m", "start": "2024-01-01"}
    # Load a valid dose of 1 first: the memo of built values must not let `true` find it.
    load_patient(patient({**med, "dose": {"value": 1, "unit": "mg"}}))
    assert paths(patient({**med, "dose": {"value": True, "unit": "mg"}})) == [
        "$.events[0].dose.value"
    ]
    assert paths(patient({**med, "dose": {"value": "5", "unit": "mg"}})) == [
        "$.events[0].dose.value"
    ]
    assert paths(patient({**med, "dose": {"value": -1, "unit": "mg"}})) == [
        "$.events[0].dose.value"
    ]
    assert paths(patient({**med, "frequency": {"count": True, "unit": "d"}})) == [
        "$.events[0].frequency.count"
    ]
    assert paths(patient({**med, "frequency": {"count": 1, "period": 0, "unit": "d"}})) == [
        "$.events[0].frequency.period"
    ]
    lab = {"type": "lab", "code": "x", "date": "2024-01-01", "unit": "g"}
    load_patient(patient({**lab, "reference_range": {"low": 1, "high": 2}}))
    assert paths(patient({**lab, "reference_range": {"low": True, "high": 2}})) == [
        "$.events[0].reference_range.low"
    ]
    assert paths(patient({**lab, "value": float("nan")})) == ["$.events[0].value"]
    assert paths(patient({**lab, "value": float("inf")})) == ["$.events[0].value"]


def test_ends_before_starts_and_inverted_ranges() -> None:
    doc = {
        "id": "p",
        "coverage": [{"start": "2024-01-01", "end": "2023-01-01"}],
        "events": [
            {"type": "condition", "code": "x", "onset": "2024-01-01", "abatement": "2023-12-31"},
            {"type": "medication", "code": "x", "start": "2024-01-01", "end": "2023-12-31"},
            {"type": "procedure", "code": "x", "date": "2024-01-01", "end": "2023-12-31"},
            {
                "type": "lab",
                "code": "x",
                "date": "2024-01-01",
                "reference_range": {"low": 5, "high": 1, "unit": "g"},
            },
        ],
    }
    assert paths(doc) == [
        "$.coverage[0].end",
        "$.events[0].abatement",
        "$.events[1].end",
        "$.events[2].end",
        "$.events[3].reference_range.high",
    ]


@pytest.mark.parametrize(
    "text",
    ["", "{", "[1, 2", "NaN", '{"id": "p",}', "\ud800", b"\xff\xfe", b'{"id": "p"} x'],
)
def test_text_that_is_not_json_is_one_problem(text: str | bytes) -> None:
    with pytest.raises(PatientDataError) as info:
        load_patient(text)
    [problem] = info.value.problems
    assert problem.path == "$"
    assert problem.message.startswith("The text is not valid JSON")


@pytest.mark.parametrize("doc", [[], "[]", 5, None, "null", '"p1"', object()])
def test_a_patient_must_be_an_object(doc: Any) -> None:
    assert paths(doc) == ["$"]


# ---------------------------------------------------------------------------------------------
# Batch reading


def good(pid: str) -> dict[str, Any]:
    return {
        "id": pid,
        "events": [{"type": "fact", "code": "x", "date": "2024-01-01", "value": True}],
    }


def outcome(record: Patient | RecordError) -> tuple[str, str | None, Any]:
    if isinstance(record, Patient):
        return ("patient", record.source, record.id)
    return ("error", record.source, [p.path for p in record.problems])


def test_read_patients_accounts_for_every_record_in_order(tmp_path: Path) -> None:
    (tmp_path / "a_good.json").write_bytes(orjson.dumps(good("a")))
    (tmp_path / "b_bad_json.json").write_text('{"id": "b", ', encoding="utf-8")
    (tmp_path / "c_many.json").write_bytes(orjson.dumps([good("c1"), {"id": ""}, good("c3")]))
    sub = tmp_path / "d_sub"
    sub.mkdir()
    lines = [
        orjson.dumps(good("d1")),
        b"",
        b"   ",
        b'{"id": "d2", "sex": 1}',
        b"not json",
        orjson.dumps(good("d3")),
    ]
    (sub / "lines.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (sub / "more.NDJSON").write_bytes(b"\xef\xbb\xbf" + orjson.dumps(good("e1")) + b"\n")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    (tmp_path / "z_dangling.json").symlink_to(tmp_path / "nowhere")

    got = [outcome(r) for r in read_patients(tmp_path)]
    t = str(tmp_path)
    assert got == [
        ("patient", f"{t}/a_good.json", "a"),
        ("error", f"{t}/b_bad_json.json", ["$"]),
        ("patient", f"{t}/c_many.json[0]", "c1"),
        ("error", f"{t}/c_many.json[1]", ["$.id"]),
        ("patient", f"{t}/c_many.json[2]", "c3"),
        ("patient", f"{t}/d_sub/lines.jsonl:1", "d1"),
        ("error", f"{t}/d_sub/lines.jsonl:4", ["$.sex"]),
        ("error", f"{t}/d_sub/lines.jsonl:5", ["$"]),
        ("patient", f"{t}/d_sub/lines.jsonl:6", "d3"),
        ("patient", f"{t}/d_sub/more.NDJSON:1", "e1"),
        ("error", f"{t}/z_dangling.json", ["$"]),
    ]
    records = list(read_patients(tmp_path))
    assert records[1].problems[0].message.startswith("The text is not valid JSON")  # type: ignore[union-attr]
    assert "cannot be read" in records[-1].problems[0].message  # type: ignore[union-attr]


def test_read_patients_on_single_files_and_missing_paths(tmp_path: Path) -> None:
    file = tmp_path / "one.json"
    file.write_bytes(orjson.dumps(good("x")))
    assert [outcome(r) for r in read_patients(str(file))] == [("patient", str(file), "x")]
    scalar = tmp_path / "scalar.json"
    scalar.write_text("42", encoding="utf-8")
    assert [outcome(r) for r in read_patients(scalar)] == [("error", str(scalar), ["$"])]
    missing = tmp_path / "missing.jsonl"
    assert [outcome(r) for r in read_patients(missing)] == [("error", str(missing), ["$"])]
    other = tmp_path / "data.csv"
    other.write_text("id\n", encoding="utf-8")
    assert [outcome(r) for r in read_patients(other)] == [("error", str(other), ["$"])]
    assert list(read_patients(tmp_path / "empty_dir_does_not_exist")) != []
    empty = tmp_path / "empty"
    empty.mkdir()
    assert list(read_patients(empty)) == []


def test_iter_patients_from_lines_takes_text_or_bytes() -> None:
    lines: list[Any] = [
        "\ufeff" + json.dumps(good("a")) + "\n",
        "\n",
        b'{"id": 5}\n',
        17,
        json.dumps(good("b")),
    ]
    got = [outcome(r) for r in iter_patients_from_lines(lines, "<stdin>")]
    assert got == [
        ("patient", "<stdin>:1", "a"),
        ("error", "<stdin>:3", ["$.id"]),
        ("error", "<stdin>:4", ["$"]),
        ("patient", "<stdin>:5", "b"),
    ]

    def broken() -> Any:
        yield json.dumps(good("a"))
        raise OSError(5, "Input/output error")

    got = [outcome(r) for r in iter_patients_from_lines(broken(), "<stdin>")]
    assert got == [("patient", "<stdin>:1", "a"), ("error", "<stdin>:2", ["$"])]


# ---------------------------------------------------------------------------------------------
# Nothing but PatientDataError, whatever the input

KNOWN_KEYS = sorted(
    {
        "format",
        "id",
        "birth_date",
        "sex",
        "dates",
        "coverage",
        "events",
        "reviews",
        "visits",
        "type",
        "code",
        "system",
        "display",
        "onset",
        "abatement",
        "status",
        "attributes",
        "start",
        "end",
        "ongoing",
        "dose",
        "frequency",
        "daily_dose",
        "route",
        "date",
        "value",
        "unit",
        "reference_range",
        "low",
        "high",
        "interpretation",
        "count",
        "period",
        "answer",
        "by",
        "note",
        "name",
        "x-note",
        "_comment",
    }
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "2024-02-29",
            "2024-02-30",
            "2024-03-01T10:00:00Z",
            "condition",
            "medication",
            "lab",
            "observation",
            "score",
            "procedure",
            "fact",
            "loinc",
            "concept",
            "mg",
            "d",
            "wk",
            "h",
            "mo",
            "met",
            "not_met",
            "female",
            FORMAT,
            "",
        ]
    ),
)
JSONISH = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=6), inner, max_size=6)
    ),
    max_leaves=30,
)
# Events made of known keys, so that the fuzzing reaches every field reader. Values are mostly
# leaves and small objects of known keys (a dose, a range, a code): small enough to be quick.
FIELDS = (
    LEAVES
    | st.lists(LEAVES, max_size=3)
    | st.dictionaries(
        st.sampled_from(KNOWN_KEYS), LEAVES | st.lists(LEAVES, max_size=2), max_size=4
    )
)
EVENTISH = st.dictionaries(st.sampled_from(KNOWN_KEYS), FIELDS, max_size=8) | LEAVES


def only_patient_data_errors(doc: Any) -> None:
    try:
        result = load_patient(doc)
    except PatientDataError as error:
        assert error.problems
        for problem in error.problems:
            assert isinstance(problem.path, str) and problem.path.startswith("$")
            assert isinstance(problem.message, str) and problem.message
        assert str(error)
    else:
        assert isinstance(result, Patient)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(JSONISH)
def test_arbitrary_values_raise_only_patient_data_error(doc: Any) -> None:
    only_patient_data_errors(doc)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"id": LEAVES, "events": st.lists(EVENTISH, max_size=5)},
        optional={
            k: JSONISH for k in ["dates", "coverage", "reviews", "visits", "sex", "birth_date"]
        },
    )
)
def test_patient_shaped_garbage_raises_only_patient_data_error(doc: Any) -> None:
    only_patient_data_errors(doc)
    try:
        text = json.dumps(doc, allow_nan=False)
    except ValueError:
        return
    only_patient_data_errors(text)
    only_patient_data_errors(text.encode())


@settings(deadline=None, max_examples=200)
@given(st.text() | st.binary())
def test_arbitrary_text_raises_only_patient_data_error(text: str | bytes) -> None:
    only_patient_data_errors(text)


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    only_patient_data_errors("[" * 100_000)
    only_patient_data_errors('{"id": "p", "x-deep": ' + "[" * 1000 + "]" * 1000 + "}")
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    only_patient_data_errors({"id": "p", "events": [{"type": "lab", "code": deep}]})


# ---------------------------------------------------------------------------------------------
# dump_patient: load(dump(p)) == p

NAMES = st.text(min_size=1, max_size=10).filter(lambda s: not s.startswith(("x-", "_comment")))
DAYS = st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 12, 31))
NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(Fraction),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: Fraction(repr(f))),
    st.decimals(places=3, min_value=-(10**6), max_value=10**6, allow_nan=False).map(Fraction),
)
AMOUNTS = NUMBERS.map(abs)
TEXT = st.text(max_size=10)
CODES = st.lists(
    st.builds(
        Code, st.sampled_from(CODE_SYSTEMS), st.text(min_size=1, max_size=8), st.none() | TEXT
    ),
    min_size=1,
    max_size=3,
).map(tuple)
ATTRIBUTES = st.dictionaries(
    NAMES, st.booleans() | st.text(min_size=1, max_size=5) | NUMBERS, max_size=3
)


@st.composite
def spans(draw: Any, open_end: bool = True) -> tuple[dt.date, dt.date | None]:
    start = draw(DAYS)
    if open_end and draw(st.booleans()):
        return start, None
    return start, start + dt.timedelta(days=draw(st.integers(0, 4000)))


@st.composite
def events(draw: Any, event_id: str) -> Event:
    kind = draw(
        st.sampled_from(
            ["condition", "medication", "lab", "observation", "score", "procedure", "fact"]
        )
    )
    codes = draw(CODES)
    if kind == "condition":
        start, end = draw(spans())
        return Condition(
            id=event_id,
            kind=kind,
            codes=codes,
            start=start,
            end=end,
            status=draw(st.none() | TEXT),
            attributes=draw(ATTRIBUTES),
        )
    if kind == "medication":
        start, end = draw(spans())
        quantities = st.none() | st.builds(Quantity, AMOUNTS, NAMES)
        return MedicationExposure(
            id=event_id,
            kind=kind,
            codes=codes,
            start=start,
            end=end,
            dose=draw(quantities),
            per_day=draw(
                st.none()
                | st.fractions(min_value=Fraction(1, 10**4), max_denominator=10**4).filter(bool)
            ),
            daily_dose=draw(quantities),
            route=draw(st.none() | TEXT),
            status=draw(st.none() | TEXT),
        )
    if kind in ("lab", "observation", "score"):
        day = draw(DAYS)
        unit = draw(NAMES)
        value = draw(
            st.none()
            | st.booleans()
            | st.text(min_size=1, max_size=8)
            | st.builds(Quantity, NUMBERS, st.just(unit))
        )
        bound = st.none() | st.builds(Quantity, NUMBERS, st.just(unit))
        low, high = draw(bound), draw(bound)
        if low is not None and high is not None and high.value < low.value:
            low, high = high, low
        ref = draw(st.none() | st.just(ReferenceRange(low, high)))
        return Measurement(
            id=event_id,
            kind=kind,
            codes=codes,
            start=day,
            end=day,
            value=value,
            reference_range=ref,
            interpretation=draw(st.none() | TEXT),
        )
    if kind == "procedure":
        start, end = draw(spans(open_end=False))
        return Procedure(
            id=event_id, kind=kind, codes=codes, start=start, end=end, attributes=draw(ATTRIBUTES)
        )
    day = draw(DAYS)
    value = draw(st.booleans() | st.text(min_size=1, max_size=8) | NUMBERS)
    return Fact(id=event_id, kind=kind, codes=codes, start=day, end=day, value=value)


@st.composite
def patients(draw: Any) -> Patient:
    ids = draw(st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=8))
    return Patient(
        id=draw(st.text(min_size=1, max_size=10)),
        birth_date=draw(st.none() | DAYS),
        sex=draw(st.sampled_from(["female", "male", "other", "unknown", None])),
        dates=draw(st.dictionaries(NAMES, DAYS, max_size=3)),
        events=tuple(draw(events(event_id)) for event_id in ids),
        coverage=tuple(Interval(*draw(spans())) for _ in range(draw(st.integers(0, 2)))),
        reviews=draw(
            st.dictionaries(
                NAMES,
                st.builds(
                    ReviewAnswer,
                    st.booleans(),
                    st.none() | TEXT,
                    st.none() | DAYS,
                    st.none() | TEXT,
                ),
                max_size=2,
            )
        ),
        visits=tuple(
            draw(st.lists(st.builds(Visit, st.text(min_size=1, max_size=8), DAYS), max_size=2))
        ),
    )


def assert_same(loaded: Patient, original: Patient) -> None:
    assert loaded == original
    # Fields compared with eq=False: attributes and code display texts.
    for got, want in zip(loaded.events, original.events, strict=True):
        assert [c.display for c in got.codes] == [c.display for c in want.codes]
        assert getattr(got, "attributes", None) == getattr(want, "attributes", None)
        assert got.source is not None


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(patients())
def test_dump_then_load_gives_the_same_patient(p: Patient) -> None:
    doc = dump_patient(p)
    assert_same(load_patient(doc), p)
    # Through JSON text too: json.dumps writes integers of any size, and the loader keeps them
    # exact (orjson alone would turn those beyond 64 bits into floats).
    assert_same(load_patient(json.dumps(doc)), p)
    assert VALIDATOR.is_valid(doc)


def test_dump_writes_our_format() -> None:
    p = load_patient(docs_example())
    doc = dump_patient(p)
    assert doc["format"] == FORMAT
    assert doc["events"][2] == {
        "type": "medication",
        "id": "rx1",
        "code": {"system": "rxnorm", "code": "6809", "display": "metformin"},
        "start": "2019-05-01",
        "ongoing": True,
        "dose": {"value": 500, "unit": "mg"},
        "frequency": {"count": 2, "period": 1, "unit": "d"},
        "route": "oral",
        "status": "active",
    }
    assert load_patient(doc) == p


def test_dump_refuses_what_the_format_cannot_hold() -> None:
    day = D(2024, 1, 1)
    lab = Measurement(
        id="l",
        kind="lab",
        codes=(Code("concept", "x"),),
        start=day,
        end=day,
        value=Quantity(Fraction(1, 3), "g"),
    )
    with pytest.raises(ValueError, match="1/3 has no exact JSON number"):
        dump_patient(Patient(id="p", birth_date=None, sex=None, events=(lab,)))
    no_codes = Fact(id="f", kind="fact", codes=(), start=day, end=day, value=True)
    with pytest.raises(ValueError, match="at least one code"):
        dump_patient(Patient(id="p", birth_date=None, sex=None, events=(no_codes,)))


# ---------------------------------------------------------------------------------------------
# The JSON Schema describes the same format

VALID = {
    "minimal": {"id": "p"},
    "docs example": docs_example(),
    "nulls everywhere": {"id": "p", "birth_date": None, "sex": None, "dates": None, "events": None},
    "date-times": {
        "id": "p",
        "birth_date": "2000-02-29T23:59:59.5-11:00",
        "dates": {"b": "2024-01-01T00:00Z"},
    },
    "score without unit": patient(
        {
            "type": "score",
            "code": "ecog",
            "date": "2024-01-01",
            "value": 2,
            "reference_range": {"high": 1},
        }
    ),
    "text lab with its own range unit": patient(
        {
            "type": "lab",
            "code": "x",
            "date": "2024-01-01",
            "value": "neg",
            "reference_range": {"low": 1, "unit": "g"},
        }
    ),
    "empty range": patient(
        {"type": "lab", "code": "x", "date": "2024-01-01", "reference_range": {}}
    ),
    "ongoing with null end": patient(
        {"type": "medication", "code": "m", "start": "2024-01-01", "ongoing": True, "end": None}
    ),
    "notes everywhere": {
        "id": "p",
        "x-a": 1,
        "_comment": [],
        "dates": {"x-b": []},
        "events": [{"type": "fact", "code": "f", "date": "2024-01-01", "value": 0, "_comment": {}}],
    },
    "code list": patient(
        {
            "type": "condition",
            "code": ["a", {"system": "local", "code": "1", "display": ""}],
            "onset": "2024-01-01",
        }
    ),
}

FACT = {"type": "fact", "code": "f", "date": "2024-01-01", "value": True}
LAB = {"type": "lab", "code": "x", "date": "2024-01-01"}
MED = {"type": "medication", "code": "m", "start": "2024-01-01"}
INVALID = {
    "no id": {"events": []},
    "empty id": {"id": ""},
    "wrong format": {"id": "p", "format": "criteria-lang/patient@2"},
    "unknown top-level key": {"id": "p", "birthdate": "2000-01-01"},
    "bad sex": {"id": "p", "sex": "F"},
    "impossible date": {"id": "p", "birth_date": "2024-02-30"},
    "not a leap year": {"id": "p", "birth_date": "2023-02-29"},
    "impossible date-time": {"id": "p", "birth_date": "2023-02-29T10:00:00Z"},
    "US date": {"id": "p", "birth_date": "03/01/2024"},
    "hour 24": {"id": "p", "birth_date": "2024-03-01T24:00"},
    "named date not a date": {"id": "p", "dates": {"baseline": 20240101}},
    "empty date name": {"id": "p", "dates": {"": "2024-01-01"}},
    "coverage without start": {"id": "p", "coverage": [{"end": "2024-01-01"}]},
    "events not an array": {"id": "p", "events": {}},
    "event not an object": {"id": "p", "events": ["lab"]},
    "unknown event type": patient({**FACT, "type": "diagnosis"}),
    "event without type": patient({"code": "x", "date": "2024-01-01"}),
    "unknown event key": patient({**FACT, "valeu": 1}),
    "empty event id": patient({**FACT, "id": ""}),
    "no code": patient({"type": "fact", "date": "2024-01-01", "value": True}),
    "empty code list": patient({**FACT, "code": []}),
    "unknown code system": patient({**FACT, "code": {"system": "mesh", "code": "D1"}}),
    "code object without code": patient({**FACT, "code": {"system": "loinc"}}),
    "condition without onset": patient({"type": "condition", "code": "x"}),
    "null attribute": patient(
        {"type": "condition", "code": "x", "onset": "2024-01-01", "attributes": {"a": None}}
    ),
    "ongoing and end": patient({**MED, "ongoing": True, "end": "2024-02-01"}),
    "ongoing not boolean": patient({**MED, "ongoing": "yes"}),
    "boolean dose": patient({**MED, "dose": {"value": True, "unit": "mg"}}),
    "negative dose": patient({**MED, "dose": {"value": -5, "unit": "mg"}}),
    "dose without unit": patient({**MED, "daily_dose": {"value": 5}}),
    "frequency unit": patient({**MED, "frequency": {"count": 1, "unit": "yr"}}),
    "zero count": patient({**MED, "frequency": {"count": 0, "unit": "d"}}),
    "numeric lab without unit": patient({**LAB, "value": 5.2}),
    "numeric observation with null unit": patient(
        {**LAB, "type": "observation", "value": 5, "unit": None}
    ),
    "empty unit": patient({**LAB, "value": 5, "unit": ""}),
    "empty text value": patient({**LAB, "value": ""}),
    "array value": patient({**LAB, "value": [1]}),
    "range without any unit": patient({**LAB, "value": "neg", "reference_range": {"high": 3}}),
    "range low as text": patient({**LAB, "value": 1, "unit": "g", "reference_range": {"low": "1"}}),
    "fact without value": patient({"type": "fact", "code": "f", "date": "2024-01-01"}),
    "fact with null value": patient({**FACT, "value": None}),
    "procedure end not a date": patient(
        {"type": "procedure", "code": "x", "date": "2024-01-01", "end": 5}
    ),
    "review answer": {"id": "p", "reviews": {"E9": {"answer": "yes"}}},
    "review without answer": {"id": "p", "reviews": {"E9": {"by": "A"}}},
    "visit without date": {"id": "p", "visits": [{"name": "week 1"}]},
}

# What JSON Schema cannot say, which only the loader checks (documented in the schema and docs).
LOADER_ONLY = {
    "duplicate event ids": patient({**FACT, "id": "a"}, {**FACT, "id": "a"}),
    "end before start": patient({**MED, "end": "2023-12-31"}),
    "high below low": patient({**LAB, "reference_range": {"low": 2, "high": 1, "unit": "g"}}),
}


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_schema_shares_the_loaders_lists() -> None:
    # The schema is a static file: when timeline.py gains a code system, or the date grammar
    # changes, the schema must follow.
    assert SCHEMA["$defs"]["code"]["anyOf"][1]["properties"]["system"]["enum"] == list(CODE_SYSTEMS)
    assert SCHEMA["$defs"]["date"]["pattern"] == DATE_PATTERN


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_documents_pass_both(name: str) -> None:
    doc = VALID[name]
    assert list(VALIDATOR.iter_errors(doc)) == []
    load_patient(doc)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_documents_fail_both(name: str) -> None:
    doc = INVALID[name]
    assert list(VALIDATOR.iter_errors(doc)) != [], "the schema accepts it"
    assert len(problems(doc)) == 1, "each invalid document has exactly one mistake"


@pytest.mark.parametrize("name", sorted(LOADER_ONLY))
def test_what_only_the_loader_checks(name: str) -> None:
    doc = LOADER_ONLY[name]
    assert list(VALIDATOR.iter_errors(doc)) == []
    assert len(problems(doc)) == 1


def _mutations(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _mutations(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _mutations(value, (*path, index))
    return found


EXAMPLE = docs_example()
EXAMPLE_PATHS = _mutations(EXAMPLE)[1:]
JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["2024-02-30", "2024-03-01", "lab", "mg", "d", "met", ""]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)
LOADER_ONLY_MESSAGES = ("is already used by", "is before", "is below low")


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_schema_and_loader_agree_on_mutated_documents(data: Any) -> None:
    doc = copy.deepcopy(EXAMPLE)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(EXAMPLE_PATHS))
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            action = data.draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif action == "add" and isinstance(parent, dict):
                parent[data.draw(st.sampled_from(KNOWN_KEYS))] = data.draw(JSON_VALUES)
            else:
                parent[path[-1]] = data.draw(JSON_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or reshaped this path
    schema_ok = VALIDATOR.is_valid(doc)
    try:
        load_patient(doc)
        loader_ok, messages = True, []
    except PatientDataError as error:
        loader_ok, messages = False, [p.message for p in error.problems]
    if schema_ok and not loader_ok:
        assert all(any(m in message for m in LOADER_ONLY_MESSAGES) for message in messages), (
            messages
        )
    else:
        assert schema_ok == loader_ok, (schema_ok, messages)

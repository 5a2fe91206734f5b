"""Every record accounted, in every reader (issue 10): a record in is a row out, a patient whose
data is broken is an error row that says so, hostile values are problems (never internal errors),
and each file of a folder is read in its own format."""

from __future__ import annotations

import copy
import functools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hostile import example, json_values, numbers, texts, unit_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fhir import PID, bundle, med_request, observation, patient, ucum
from test_omop import database, person

from criteria_lang import Rules
from criteria_lang.core.results import PatientResult
from criteria_lang.records.detect import read_any
from criteria_lang.records.fhir import DUPLICATE, NOT_READABLE, ReadSummary, read_bundle, read_fhir
from criteria_lang.records.omop import ReadSummary as OmopSummary
from criteria_lang.records.omop import read_omop_tables
from criteria_lang.records.patient_json import PatientDataError, RecordError, load_patient
from criteria_lang.records.timeline import Patient

ROOT = Path(__file__).resolve().parent.parent
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


def no_internal_error(messages: list[str]) -> None:
    for message in messages:
        assert "internal error" not in message, message


# --------------------------------------------------------------------------- NDJSON


def write_export(folder: Path, patients: list[str], observations: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Patient.ndjson").write_text("\n".join(patients) + "\n")
    (folder / "Observation.ndjson").write_text("\n".join(observations) + "\n")


def test_a_broken_patient_line_is_an_error_row(tmp_path: Path) -> None:
    good = json.dumps(patient("a"))
    broken = json.dumps(patient("b"))[:-7]  # cut short: not JSON
    unnamed = '{"id": "c", "birthDate": "1970-01-01", "gender": '  # no resourceType, broken
    obs = json.dumps(observation("o1", ucum(1.1, "mg/dL"), pid="a"))
    write_export(tmp_path / "export", [good, broken, unnamed], [obs, "{not json"])
    summary = ReadSummary()
    records = list(read_fhir(tmp_path / "export", summary=summary))
    patients = [r for r in records if isinstance(r, Patient)]
    errors = [r for r in records if isinstance(r, RecordError)]
    assert [p.id for p in patients] == ["a"]
    assert len(errors) == 2, "each broken Patient line is a row"
    for error in errors:
        assert "Patient.ndjson:" in error.source
        assert "a Patient that cannot be read" in error.problems[0].message
    assert summary.record_errors == 2
    assert "2 not readable" in summary.render()
    # The broken Observation line is counted as a not-readable Observation, not lost.
    assert summary.skipped[("Observation", NOT_READABLE)] == 1


# --------------------------------------------------------------------------- folders


def test_each_file_of_a_folder_is_read_in_its_own_format(tmp_path: Path) -> None:
    ours = example("nct03917797")
    (tmp_path / "a-ours.json").write_text(json.dumps(ours))
    (tmp_path / "b-bundle.json").write_text(json.dumps(bundle(patient("f1"))))
    (tmp_path / "c-ours.jsonl").write_text(json.dumps(ours | {"id": "line"}) + "\n")
    export = tmp_path / "d-export"
    write_export(
        export, [json.dumps(patient("n1"))], [json.dumps(observation("o", None, pid="n1"))]
    )
    (export / "e-ours.json").write_text(json.dumps(ours | {"id": "next-to-export"}))
    summary = ReadSummary()
    records = list(read_any(tmp_path, {}, summary))
    ids = sorted(r.id for r in records if isinstance(r, Patient))
    assert [r for r in records if isinstance(r, RecordError)] == []
    assert ids == sorted([ours["id"], "f1", "line", "n1", "next-to-export"])
    # The other way round: a FHIR file first does not make our format be read as FHIR.
    (tmp_path / "0-first.json").write_text(json.dumps(bundle(patient("f0"))))
    again = list(read_any(tmp_path, {}, ReadSummary()))
    assert len([r for r in again if isinstance(r, Patient)]) == 6


def test_the_cli_reads_a_mixed_folder_and_counts_add_up(tmp_path: Path) -> None:
    from criteria_lang.cli.main import main

    ours = example("nct03917797")
    (tmp_path / "a.json").write_text("this is not JSON")
    (tmp_path / "b.json").write_text(json.dumps(ours))
    (tmp_path / "c.json").write_text(json.dumps(bundle(patient("f1"), patient("f2", gender=""))))
    out = tmp_path / "out.csv"
    main(["screen", str(ROOT / "rules" / "nct03917797.crit"), str(tmp_path), "-o", str(out),
          "--format", "csv"])  # fmt: skip
    rows = out.read_text().splitlines()[1:]
    assert len(rows) == 4, rows  # a.json (error), b.json, f1, f2 (error: empty gender)
    verdicts = [row.split(",")[2] for row in rows]
    assert verdicts.count("error") == 2


# --------------------------------------------------------------------------- FHIR values


def test_an_empty_gender_is_a_record_error_not_unrecorded() -> None:
    patients, problems, summary = read_bundle(bundle(patient(gender="")), "t")
    assert patients == [] and summary.record_errors == 1
    assert "empty text" in problems[0].message


def test_an_empty_string_in_a_resource_is_a_problem_for_that_resource() -> None:
    bad = observation("o", ucum(1.0, "mg/dL"))
    bad["status"] = ""
    patients, problems, _ = read_bundle(bundle(patient(), bad), "t")
    assert len(patients) == 1 and patients[0].events == ()
    assert any("empty text" in p.message for p in problems)


@pytest.mark.parametrize(
    ("supply", "handed"), [(1e10, "2023-03-01"), (90, "9999-12-01"), (10**30, "2023-01-01")]
)
def test_a_supply_past_the_calendar_is_a_problem(supply: float, handed: str) -> None:
    dispense = {
        "resourceType": "MedicationDispense",
        "id": "d",
        "status": "completed",
        "medicationCodeableConcept": med_request("x")["medicationCodeableConcept"],
        "subject": {"reference": f"Patient/{PID}"},
        "whenHandedOver": handed,
        "daysSupply": {"value": supply, "system": "http://unitsofmeasure.org", "code": "d"},
    }
    patients, problems, _ = read_bundle(bundle(patient(), dispense), "t")
    assert len(patients) == 1
    no_internal_error([p.message for p in problems])
    assert problems, "the dispense cannot be read"


@pytest.mark.parametrize(
    "code", ["10*99999999/L", "mg999999", "m" * 1_000_000, "mg^999999/dL^999999", "{" * 50_000]
)
def test_pathological_ucum_codes_are_problems_with_short_messages(code: str) -> None:
    start = time.process_time()
    patients, problems, _ = read_bundle(bundle(patient(), observation("o", ucum(5, code))), "t")
    assert time.process_time() - start < 5  # generous: each is refused before any parser runs
    assert len(patients) == 1 and problems
    assert all(len(str(p)) < 600 for p in problems), [len(str(p)) for p in problems]


# --------------------------------------------------------------------------- numbers at entry


@pytest.mark.parametrize("value", [10**400, -(10**400)])
def test_our_format_refuses_numbers_beyond_a_double(value: int) -> None:
    doc = example("nct03917797")
    doc["events"][3]["value"] = value
    with pytest.raises(PatientDataError, match="between -1e308 and 1e308"):
        load_patient(doc)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("value_as_number", "1e999999999"),
        ("value_as_number", "1e-999999999"),
        ("value_as_number", 10**400),
        ("measurement_id", "9" * 100_000),
    ],
)
def test_omop_numbers_are_range_checked_before_they_are_built(column: str, value: Any) -> None:
    row = {
        "measurement_id": 1,
        "person_id": 1,
        "measurement_concept_id": 3016723,
        "measurement_date": "2024-01-01",
        "value_as_number": 1,
    } | {column: value}
    summary = OmopSummary()
    start = time.process_time()
    records = list(read_omop_tables(database(measurement=[row]), summary=summary))
    assert time.process_time() - start < 5
    assert len(records) == 1
    messages = [str(p) for p in summary.problems]
    assert messages and all(len(m) < 600 for m in messages), messages
    no_internal_error(messages)


def test_omop_days_supply_past_the_calendar() -> None:
    row = {
        "drug_exposure_id": 1,
        "person_id": 1,
        "drug_concept_id": 1118088,
        "drug_exposure_start_date": "2024-01-01",
        "days_supply": 10**12,
    }
    summary = OmopSummary()
    records = list(read_omop_tables(database(drug_exposure=[row]), summary=summary))
    assert len(records) == 1
    messages = [str(p) for p in summary.problems]
    assert any("calendar" in m for m in messages), messages


def test_an_omop_person_is_always_a_row() -> None:
    tables = database(person=[person(), person(person_id="x" * 100_000), person(person_id=3)])
    records = list(read_omop_tables(tables, summary=OmopSummary()))
    assert len(records) == 3


# --------------------------------------------------------------------------- FHIR fuzz

# FHIR elements we read, with what hostile values to put there.
FHIR_ELEMENTS: dict[str, list[tuple[tuple[Any, ...], st.SearchStrategy[Any]]]] = {
    "Patient": [
        (("gender",), st.one_of(texts, numbers)),
        (("birthDate",), texts),
        (("id",), st.one_of(texts, numbers)),
    ],
    "Observation": [
        (("valueQuantity", "value"), numbers),
        (("valueQuantity", "code"), unit_texts),
        (("valueQuantity", "unit"), unit_texts),
        (("valueQuantity", "system"), texts),
        (("effectiveDateTime",), texts),
        (("status",), texts),
        (("code", "coding", 0, "code"), texts),
        (("code", "coding", 0, "system"), texts),
        (("subject", "reference"), texts),
        (("referenceRange",), st.just([{"low": {"value": 1e308, "code": "mg/0"}}])),
        (("valueString",), texts),
    ],
    "MedicationRequest": [
        (("authoredOn",), texts),
        (("status",), texts),
        (("dosageInstruction",), st.just([{"doseAndRate": [{"doseQuantity": {"value": 1e308}}]}])),
        (
            ("dosageInstruction",),
            st.builds(
                lambda unit, value: [
                    {
                        "timing": {"repeat": {"frequency": value, "period": 1, "periodUnit": "d"}},
                        "doseAndRate": [
                            {
                                "doseQuantity": {
                                    "value": value,
                                    "system": "http://unitsofmeasure.org",
                                    "code": unit,
                                }
                            }  # fmt: skip
                        ],
                    }
                ],
                unit_texts,
                numbers,
            ),
        ),
        (("medicationCodeableConcept", "coding", 0, "display"), texts),
    ],
    "Condition": [
        (("onsetDateTime",), texts),
        (("abatementDateTime",), texts),
        (("clinicalStatus", "coding", 0, "code"), texts),
        (("code", "coding", 0, "code"), texts),
        (("code", "coding"), json_values),
    ],
    "Procedure": [
        (("performedDateTime",), texts),
        (("performedPeriod",), st.fixed_dictionaries({"start": texts, "end": texts})),
        (("status",), texts),
    ],
    "MedicationDispense": [
        (("daysSupply", "value"), numbers),
        (("daysSupply", "code"), unit_texts),
        (("whenHandedOver",), texts),
        (("quantity",), json_values),
    ],
}


def set_in(target: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@st.composite
def hostile_bundle(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    subject = {"reference": f"Patient/{PID}"}
    snomed = {"coding": [{"system": "http://snomed.info/sct", "code": "22298006"}]}
    resources = {
        "Patient": patient(),
        "Observation": observation("o", ucum(1.1, "mg/dL")),
        "MedicationRequest": med_request("m"),
        "Condition": {"resourceType": "Condition", "id": "c", "subject": subject,
                      "code": snomed, "onsetDateTime": "2020-01-01",
                      "clinicalStatus": {"coding": [{"code": "active"}]}},
        "Procedure": {"resourceType": "Procedure", "id": "pr", "status": "completed",
                      "subject": subject, "code": snomed, "performedDateTime": "2021-01-01"},
        "MedicationDispense": {"resourceType": "MedicationDispense", "id": "d",
                               "status": "completed", "subject": subject,
                               "medicationCodeableConcept": med_request("x")[
                                   "medicationCodeableConcept"],
                               "whenHandedOver": "2022-01-01",
                               "daysSupply": {"value": 30, "system": "http://unitsofmeasure.org",
                                              "code": "d"}},
    }  # fmt: skip
    rtype = draw(st.sampled_from(sorted(FHIR_ELEMENTS)))
    path, values = draw(st.sampled_from(FHIR_ELEMENTS[rtype]))
    value = draw(values)
    resource = copy.deepcopy(resources[rtype])
    set_in(resource, path, value)
    resources[rtype] = resource
    return bundle(*resources.values()), f"{rtype}.{'.'.join(map(str, path))} = {value!r:.80}"


@functools.cache
def kidney_rules() -> Rules:
    return Rules.from_file(ROOT / "rules" / "nct03917797.crit")


@FUZZ
@given(case=hostile_bundle())
def test_no_fhir_element_makes_an_internal_error_or_loses_the_patient(
    case: tuple[dict[str, Any], str],
) -> None:
    doc, what = case
    for data in (doc, json.dumps(doc)):
        summary = ReadSummary()
        patients, problems, summary = read_bundle(data, "fuzz")
        no_internal_error([f"{what}: {p.message}" for p in problems])
        assert len(patients) + summary.record_errors == 1, f"{what}: the patient was lost"
        assert all(len(p.message) < 1000 for p in problems), what
        for row in kidney_rules().screen(patients):
            assert isinstance(row, PatientResult), f"{what}: {row}"


@FUZZ
@given(lines=st.lists(st.one_of(texts, st.builds(json.dumps, st.just(patient("z")))), max_size=4))
def test_every_ndjson_line_is_accounted_for(lines: list[str], tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("ndjson")
    text = "\n".join([json.dumps(patient("a")), *(line.replace("\n", " ") for line in lines)])
    (folder / "Patient.ndjson").write_text(text, encoding="utf-8", errors="surrogatepass")
    summary = ReadSummary()
    records = list(read_fhir(folder, summary=summary))
    no_internal_error([p.problem.message for p in summary.problems])
    # Each line is a patient read, a duplicate, a blank, or an error row: none is lost.
    blank = sum(1 for line in lines if not line.strip())
    duplicates = summary.skipped[("Patient", DUPLICATE)]
    assert len(records) + duplicates + blank == 1 + len(lines), (records, lines)


def test_a_gzip_bomb_is_not_read_whole(tmp_path: Path) -> None:
    import gzip

    from criteria_lang.records.patient_json import read_patients

    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        handle.write(b'{"id": "x", "events": [], "note": "')
        for _ in range(200):
            handle.write(b" " * (1 << 20))  # 200 MiB of blanks, about 200 KB compressed
        handle.write(b'"}')
    assert bomb.stat().st_size < 1 << 20
    (record,) = list(read_patients(bomb))
    assert isinstance(record, RecordError)
    assert "expands to more than" in record.problems[0].message

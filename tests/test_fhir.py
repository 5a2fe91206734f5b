"""The FHIR R4 reader (criteria_lang/fhir.py): real Synthea bundles, then one feature at a time."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_lang.core.units import get_units
from criteria_lang.records.fhir import (
    FHIR_BASE,
    IGNORED,
    NOT_READABLE,
    ReadSummary,
    read_bundle,
    read_fhir,
    read_ndjson,
    rxnorm_strength_mg,
)
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.timeline import (
    Allergy,
    Code,
    Condition,
    Immunization,
    Interval,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
)

SYNTHEA = Path(__file__).parents[2] / "shared" / "data" / "synthea-fhir-r4"
needs_synthea = pytest.mark.skipif(not SYNTHEA.is_dir(), reason=f"no Synthea data at {SYNTHEA}")

# The hand-checked patient: values below were read from the raw JSON of this file by eye.
BARRETT = "Barrett_Cummings_512a3be0-5653-496b-bf4a-20c6a0e71d88.json"


# --------------------------------------------------------------------------------------------
# Building test bundles

PID = "p1"


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [{"fullUrl": f"urn:uuid:{r.get('id')}", "resource": r} for r in resources],
    }


def patient(pid: str = PID, **extra: Any) -> dict[str, Any]:
    base = {"resourceType": "Patient", "id": pid, "birthDate": "1960-05-17", "gender": "female"}
    return base | extra


def loinc(code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": "http://loinc.org", "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def observation(
    rid: str, value: dict[str, Any] | None, *, code: str = "2160-0", pid: str = PID, **extra: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": loinc(code),
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2024-02-01T08:30:00+01:00",
    }
    if value is not None:
        res["valueQuantity"] = value
    return res | extra


def ucum(value: float | int, code: str) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": "http://unitsofmeasure.org", "code": code}


def med_request(rid: str, *, pid: str = PID, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "312615",
                    "display": "Prednisone 20 MG Oral Tablet",
                }
            ]
        },
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": "2024-01-10",
    } | extra


def read_one(*resources: dict[str, Any]) -> tuple[Patient, list[Problem], ReadSummary]:
    patients, problems, summary = read_bundle(bundle(patient(), *resources), "test")
    assert len(patients) == 1
    return patients[0], problems, summary


def event(p: Patient, event_id: str) -> Any:
    found = [e for e in p.events if e.id == event_id]
    assert len(found) == 1, [e.id for e in p.events]
    return found[0]


# --------------------------------------------------------------------------------------------
# The Synthea bundles


def _raw_entries(file: Path) -> list[dict[str, Any]]:
    return json.loads(file.read_text(encoding="utf-8"))["entry"]  # type: ignore[no-any-return]


@needs_synthea
def test_every_synthea_bundle_reads_and_every_resource_is_accounted_for() -> None:
    files = sorted(SYNTHEA.glob("*.json"))
    assert len(files) == 37
    summary = ReadSummary()
    records = list(read_fhir(SYNTHEA, summary=summary))
    assert [type(r) for r in records] == [Patient] * 37
    assert summary.files == 37 and summary.patients == 37 and summary.record_errors == 0

    by_type: Counter[str] = Counter()
    for file in files:
        by_type.update(e["resource"]["resourceType"] for e in _raw_entries(file))
    total = sum(by_type.values())
    assert summary.total == total == 13617
    assert sum(summary.read.values()) + summary.ignored + summary.not_readable == total
    for rtype, count in by_type.items():
        skipped = sum(n for (t, _), n in summary.skipped.items() if t == rtype)
        assert summary.read[rtype] + skipped == count, rtype
    # What these bundles hold that eligibility never uses is ignored, not a problem.
    for rtype in ("Claim", "ExplanationOfBenefit", "Organization", "Practitioner", "CarePlan",
                  "Goal", "ImagingStudy", "DiagnosticReport"):  # fmt: skip
        assert summary.skipped[(rtype, IGNORED)] == by_type[rtype] > 0
    # The only resources not read: three scores whose unit "(score)" is not UCUM (body
    # temperatures in Cel are read: docs/units.md, affine temperatures).
    assert summary.not_readable == len(summary.problems) == 3
    reasons = Counter(
        "Cel" if "'Cel'" in p.problem.message else "(score)" for p in summary.problems
    )
    assert reasons == {"(score)": 3}
    assert all(p.problem.path.endswith(".valueQuantity.code") for p in summary.problems)
    assert all(p.problem.message.startswith("Observation/") for p in summary.problems)


@needs_synthea
@pytest.mark.parametrize("name", sorted(p.name for p in SYNTHEA.glob("*.json")))
def test_read_bundle_on_each_synthea_file(name: str) -> None:
    raw = (SYNTHEA / name).read_bytes()
    patients, problems, summary = read_bundle(raw, name)
    assert len(patients) == 1
    assert summary.total == len(orjson.loads(raw)["entry"])
    assert len(problems) == summary.not_readable
    p = patients[0]
    assert p.coverage and p.coverage[0].start <= p.coverage[0].end  # type: ignore[operator]
    assert len({e.id for e in p.events}) == len(p.events)  # event ids are unique


@needs_synthea
def test_hand_checked_patient() -> None:
    [p] = list(read_fhir(SYNTHEA / BARRETT))
    assert isinstance(p, Patient)
    assert p.id == "494743a2-fea5-4827-8f02-c2b91e4a4c9e"
    assert (p.birth_date, p.sex) == (dt.date(1972, 7, 30), "male")
    assert p.dates == {}

    # entry[49]: eGFR 33914-3 on 2012-01-29T19:22:39+00:00, 145.29719640901152 mL/min/{1.73_m2}
    egfr = event(p, "Observation/64fab1f1-8cf8-424d-99ad-7f067272490b")
    assert isinstance(egfr, Measurement) and egfr.kind == "lab"
    assert egfr.codes == (Code("loinc", "33914-3"),)
    assert egfr.start == egfr.end == dt.date(2012, 1, 29)
    assert egfr.value == Quantity(Fraction("145.29719640901152"), "mL/min/{1.73_m2}", ucum=True)

    # entry[28]: creatinine 38483-4, same day, 1.382705778887746 mg/dL
    creatinine = event(p, "Observation/d7ea14cf-1bea-486d-a837-183aaa8e1ecc")
    assert creatinine.codes == (Code("loinc", "38483-4"),)
    assert creatinine.value == Quantity(Fraction("1.382705778887746"), "mg/dL", ucum=True)

    # entry[306]: acute viral pharyngitis, onset 2019-07-06, abatement 2019-07-13, resolved
    pharyngitis = event(p, "Condition/e5bc1eb8-d650-46b1-998f-57a154d524c8")
    assert isinstance(pharyngitis, Condition)
    assert pharyngitis.codes == (Code("snomed", "195662009"),)
    assert (pharyngitis.start, pharyngitis.end) == (dt.date(2019, 7, 6), dt.date(2019, 7, 13))
    assert pharyngitis.status == "resolved"
    # entry[4]: hypertension since 1990-09-23, active, no abatement
    hypertension = event(p, "Condition/f887712b-8e59-40bb-8ad4-7dad21dcaf94")
    assert (hypertension.start, hypertension.end) == (dt.date(1990, 9, 23), None)

    # entry[105]: "Simvistatin 10 MG", stopped, authoredOn 2014-02-23, 1 unit once a day
    simva = event(p, "MedicationRequest/70301e88-0421-4192-8eb1-92dcab243067")
    assert isinstance(simva, MedicationExposure)
    assert simva.codes == (Code("rxnorm", "316672"),)
    # A standing order (daily, no end) renewed a year later lasts until the renewal (issue 14:
    # yearly renewals were one day each).
    assert (simva.start, simva.end, simva.status) == (
        dt.date(2014, 2, 23),
        dt.date(2015, 2, 22),
        "stopped",
    )
    assert simva.dose == Quantity(Fraction(10), "mg", ucum=True)
    assert simva.per_day == 1
    assert simva.daily_amount() == Quantity(Fraction(10), "mg", ucum=True)
    # entry[385]: the same drug, active since 2021-02-21: ongoing
    assert event(p, "MedicationRequest/78617adf-bd86-4e79-8843-56a4c49ec6a6").end is None
    # entry[6]: "Hydrochlorothiazide 25 MG", active, no dosage: 25 mg from the name, no rate
    hctz = event(p, "MedicationRequest/d24d8fab-a820-408b-9e17-68837772a812")
    assert (hctz.start, hctz.end) == (dt.date(1990, 9, 23), None)
    assert (hctz.dose, hctz.per_day) == (Quantity(Fraction(25), "mg", ucum=True), None)

    # The record spans its first to its last event.
    assert p.coverage == (Interval(dt.date(1990, 9, 23), dt.date(2021, 2, 21)),)


# --------------------------------------------------------------------------------------------
# Observations


@pytest.mark.parametrize(
    ("value", "code"),
    [(72, "mL/min/{1.73_m2}"), (0.9, "10*9/L"), (1.10, "mg/dL"), (183.1482561587424, "cm")],
)
def test_ucum_quantities_are_exact(value: float, code: str) -> None:
    p, problems, _ = read_one(observation("o1", ucum(value, code)))
    assert problems == []
    measured = event(p, "Observation/o1")
    assert measured.value == Quantity(Fraction(repr(value)), code, ucum=True)
    assert measured.start == dt.date(2024, 2, 1)  # the day written, in its own time zone
    get_units().parse_ucum(measured.value.unit)  # what the evaluator will do with it


def test_ucum_units_mean_what_they_should() -> None:
    units = get_units()
    # UCUM (FHIR) against our rule syntax: the same units.
    assert units.factor(units.parse_ucum("10*9/L"), "10^9/L") == 1
    assert units.factor(units.parse_ucum("mL/min/{1.73_m2}"), "mL/min/1.73m2") == 1
    assert units.factor(units.parse_ucum("mg/dL"), "mg/L") == 10


def test_unit_text_is_used_when_there_is_no_code() -> None:
    p, problems, _ = read_one(observation("o1", {"value": 5, "unit": "mmol/L"}))
    assert problems == [] and event(p, "Observation/o1").value == Quantity(
        Fraction(5), "mmol/L", True
    )


def test_a_number_without_a_unit_is_a_pure_number() -> None:
    p, problems, _ = read_one(observation("o1", {"value": 1.2}))
    assert problems == [] and event(p, "Observation/o1").value == Quantity(
        Fraction(6, 5), "1", True
    )


def test_reference_range_and_interpretation() -> None:
    obs = observation(
        "o1",
        ucum(1.9, "mg/dL"),
        referenceRange=[{"low": ucum(0.6, "mg/dL"), "high": {"value": 1.2}}],
        interpretation=[{"coding": [{"code": "H"}], "text": "High"}],
    )
    p, problems, _ = read_one(obs)
    assert problems == []
    measured = event(p, "Observation/o1")
    assert measured.reference_range == ReferenceRange(
        Quantity(Fraction("0.6"), "mg/dL", True), Quantity(Fraction("1.2"), "mg/dL", True)
    )
    assert measured.interpretation == "H"


def test_components_are_measurements_of_their_own() -> None:
    bp = observation(
        "bp",
        None,
        code="85354-9",
        category=[{"coding": [{"code": "vital-signs"}]}],
        component=[
            {"code": loinc("8480-6", "Systolic"), "valueQuantity": ucum(142, "mm[Hg]")},
            {"code": loinc("8462-4", "Diastolic"), "valueQuantity": ucum(91.5, "mm[Hg]")},
        ],
    )
    p, problems, summary = read_one(bp)
    assert problems == [] and summary.read["Observation"] == 1
    systolic, diastolic = p.events
    assert isinstance(systolic, Measurement) and isinstance(diastolic, Measurement)
    assert (systolic.id, systolic.kind) == ("Observation/bp/component/0", "observation")
    assert systolic.codes == (Code("loinc", "8480-6"),)
    assert systolic.value == Quantity(Fraction(142), "mm[Hg]", ucum=True)
    assert diastolic.codes == (Code("loinc", "8462-4"),)
    assert diastolic.value == Quantity(Fraction("91.5"), "mm[Hg]", ucum=True)
    assert diastolic.source == "Observation/bp#component[1]"


def test_other_values_and_kinds() -> None:
    coded = observation("o1", None, valueCodeableConcept={"text": "Never smoker"},
                        category=[{"coding": [{"code": "survey"}]}])  # fmt: skip
    text = observation("o2", None, valueString="IV")
    flag = observation("o3", None, valueBoolean=True, category=[])
    bound = observation("o4", {"value": 0.5, "comparator": "<", "code": "mg/dL",
                               "system": "http://unitsofmeasure.org"})  # fmt: skip
    issued = observation("o5", ucum(7, "%"), issued="2024-03-01T10:00:00.123Z")
    del issued["effectiveDateTime"]
    p, problems, _ = read_one(coded, text, flag, bound, issued)
    assert problems == []
    values = {e.id: (e.kind, e.value) for e in p.events if isinstance(e, Measurement)}
    assert values == {
        "Observation/o1": ("score", "Never smoker"),
        "Observation/o2": ("lab", "IV"),
        "Observation/o3": ("observation", True),
        # a bound, never the number 0.5 (docs/language.md, "Results reported as bounds")
        "Observation/o4": ("lab", Quantity(Fraction(1, 2), "mg/dL", True, comparator="<")),
        "Observation/o5": ("lab", Quantity(Fraction(7), "%", True)),
    }
    assert event(p, "Observation/o5").start == dt.date(2024, 3, 1)


# --------------------------------------------------------------------------------------------
# Broken resources


def test_broken_resources_are_problems_with_paths_and_the_patient_is_still_read() -> None:
    no_date = observation("nodate", ucum(1, "mg/dL"))
    del no_date["effectiveDateTime"]
    bad_unit = observation("badunit", {"value": 1, "unit": "mg/dLL"})
    text_value = observation("textvalue", ucum(1, "mg/dL"))
    text_value["valueQuantity"]["value"] = "1.4"
    good = observation("good", ucum(1.4, "mg/dL"))
    doc = bundle(patient(), no_date, bad_unit, text_value, good)
    patients, problems, summary = read_bundle(doc, "test")

    assert [e.id for e in patients[0].events] == ["Observation/good"]
    assert [p.path for p in problems] == [
        "$.entry[1].resource.effectiveDateTime",
        "$.entry[2].resource.valueQuantity.unit",
        "$.entry[3].resource.valueQuantity.value",
    ]
    assert problems[0].message.startswith("Observation/nodate: no date")
    assert problems[1].message.startswith('Observation/badunit: unit "mg/dLL"')
    assert problems[2].message == ('Observation/textvalue: expected a number, got the text "1.4"')
    assert summary.read["Observation"] == 1
    assert summary.skipped[("Observation", NOT_READABLE)] == 3
    assert [p.patient for p in summary.problems] == [PID] * 3
    assert "3 not readable (see problems)" in str(summary)


def test_temperature_is_a_reading_and_a_rate_of_it_a_problem() -> None:
    read, problems, _ = read_one(observation("t", ucum(37.2, "Cel"), code="8310-5"))
    assert not problems
    assert event(read, "Observation/t").value == Quantity(Fraction("37.2"), "Cel", ucum=True)
    _, problems, _ = read_one(observation("t", ucum(1, "Cel/h")))
    assert len(problems) == 1 and "temperature" in problems[0].message


def test_unknown_patient_and_missing_subject_are_problems() -> None:
    stray = observation("stray", ucum(1, "mg/dL"), pid="nobody")
    orphan = observation("orphan", ucum(1, "mg/dL"))
    del orphan["subject"]
    _, problems, _ = read_one(stray, orphan)
    assert [(p.path, p.message) for p in problems] == [
        ("$.entry[1].resource.subject.reference",
         "Observation/stray: the Patient Patient/nobody is not in the input"),
        ("$.entry[2].resource.subject",
         "Observation/orphan: no subject: whose Observation this is cannot be told"),
    ]  # fmt: skip


def test_a_patient_that_cannot_be_read_is_a_record_error() -> None:
    doc = bundle(patient("ok"), patient("bad", birthDate="17/05/1960"),
                 observation("o1", ucum(1, "mg/dL"), pid="bad"))  # fmt: skip
    records = list(read_fhir_data(doc))
    assert isinstance(records[0], Patient) and records[0].id == "ok"
    error = records[1]
    assert isinstance(error, RecordError) and error.source == "test.json#Patient/bad"
    assert [p.path for p in error.problems] == ["$.entry[1].resource.birthDate"]
    patients, problems, summary = read_bundle(doc, "test.json")
    assert [p.id for p in patients] == ["ok"] and len(problems) == 1
    assert summary.skipped[("Observation", "its Patient is not readable")] == 1
    assert summary.record_errors == 1


def read_fhir_data(doc: dict[str, Any], tmp: Path | None = None) -> list[Patient | RecordError]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "test.json"
        file.write_bytes(orjson.dumps(doc))
        records = list(read_fhir(file))
    for record in records:
        if isinstance(record, RecordError):
            object.__setattr__(record, "source", record.source.replace(str(file), "test.json"))
    return records


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (b"{not json", "$"),
        (b"[1, 2]", "$"),
        (b'{"resourceType": 7}', "$.resourceType"),
        (b'{"resourceType": "Bundle", "entry": {}}', "$.entry"),
    ],
)
def test_a_file_that_is_no_bundle_is_one_record_error(
    tmp_path: Path, text: bytes, path: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_bytes(text)
    summary = ReadSummary()
    [record] = list(read_fhir(file, summary=summary))
    assert isinstance(record, RecordError) and record.source == str(file)
    assert [p.path for p in record.problems] == [path]
    assert summary.record_errors == 1 and len(summary.problems) == 1
    _, problems, _ = read_bundle(text, "x")
    assert [p.path for p in problems] == [path]


def test_missing_path_is_a_record_error(tmp_path: Path) -> None:
    [record] = list(read_fhir(tmp_path / "nothing-here"))
    assert isinstance(record, RecordError)


def test_bad_entries_are_counted() -> None:
    doc = bundle(patient())
    doc["entry"] += [None, 5, {"request": {"method": "DELETE", "url": "Patient/x"}},
                     {"resource": {"id": "x"}}]  # fmt: skip
    patients, problems, summary = read_bundle(doc, "t")
    assert len(patients) == 1
    assert summary.total == 5
    assert [p.path for p in problems] == ["$.entry[1]", "$.entry[2]",
                                          "$.entry[4].resource.resourceType"]  # fmt: skip
    assert summary.skipped[("(no resource)", "entry without a resource")] == 1


def test_more_resources_that_are_not_read() -> None:
    ratio = observation("ratio", None, valueRatio={"numerator": {"value": 1}})
    backwards = {"resourceType": "Procedure", "id": "pr", "subject": {"reference": "Patient/p1"},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
                 "performedPeriod": {"start": "2020-02-02", "end": "2020-01-01"}}  # fmt: skip
    huge = observation("huge", {"value": 1e30, "code": "mg"})
    text_only = observation("text", ucum(1, "mg/dL"), code="x")
    text_only["code"] = {"text": "Creatinine"}
    _, problems, _ = read_one(ratio, backwards, huge, text_only)
    assert [(p.path.removeprefix("$.entry["), p.message.split(": ", 1)[1]) for p in problems] == [
        ("1].resource.valueRatio", "valueRatio is not read by criteria_lang (see docs/fhir.md)"),
        ("2].resource.performedPeriod.start", "ends (2020-01-01) before it starts (2020-02-02)"),
        ("3].resource.valueQuantity.value", "the number is too large to be read exactly"),
        ("4].resource.code",
         'code has no coding with a code (text "Creatinine"): no rule can match it'),
    ]  # fmt: skip


def test_skipped_with_a_reason() -> None:
    about_a_group = observation("g", ucum(1, "mg/dL")) | {"subject": {"reference": "Group/7"}}
    twice = observation("o", ucum(1, "mg/dL"))
    error = observation("e", ucum(1, "mg/dL"), status="entered-in-error")
    absent = observation("absent", None, dataAbsentReason={"text": "not performed"})
    p, problems, summary = read_one(about_a_group, twice, twice, error, absent)
    assert problems == []
    assert [e.id for e in p.events] == ["Observation/o", "Observation/absent"]
    assert event(p, "Observation/absent").value is None  # a test without a result
    assert dict(summary.skipped) == {
        ("Observation", "about a Group, not a patient"): 1,
        ("Observation", "duplicate of an earlier resource with the same type and id"): 1,
        ("Observation", "status entered-in-error"): 1,
    }
    assert summary.total == 6


def test_decimals_from_a_caller_stay_exact() -> None:
    from decimal import Decimal

    doc = json.loads(
        orjson.dumps(bundle(patient(), observation("o", ucum(0.1, "mg/dL")))),
        parse_float=Decimal,
    )
    doc["entry"][1]["resource"]["valueQuantity"]["value"] = Decimal("0.10000000000000000001")
    [p], problems, _ = read_bundle(doc)
    assert event(p, "Observation/o").value.value == Fraction("0.10000000000000000001")


def test_a_patient_with_a_bad_gender_is_a_record_error() -> None:
    records = read_fhir_data(bundle(patient(gender="F")))
    assert isinstance(records[0], RecordError)
    assert records[0].problems[0].message == (
        'Patient/p1: expected one of female, male, other, unknown, got the text "F"'
    )


# --------------------------------------------------------------------------------------------
# Medications


def test_medication_reference_to_a_bundled_medication() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                             "code": "861007", "display": "Metformin 500 MG Oral Tablet"}]},
    }  # fmt: skip
    by_uuid = med_request("r1", medicationReference={"reference": "urn:uuid:m1"})
    by_id = med_request("r2", medicationReference={"reference": "Medication/m1"})
    for request in (by_uuid, by_id):
        del request["medicationCodeableConcept"]
    p, problems, summary = read_one(by_uuid, by_id, medication)
    assert problems == []
    for rid in ("r1", "r2"):
        exposure = event(p, f"MedicationRequest/{rid}")
        assert exposure.codes == (Code("rxnorm", "861007"),)
        assert exposure.dose == Quantity(Fraction(500), "mg", ucum=True)
    assert summary.read["Medication"] == 1 and summary.read["MedicationRequest"] == 2


def test_medication_reference_to_a_contained_medication_and_a_missing_one() -> None:
    contained = med_request(
        "r1",
        medicationReference={"reference": "#med"},
        contained=[{"resourceType": "Medication", "id": "med",
                    "code": {"coding": [{"system": "http://www.whocc.no/atc",
                                         "code": "L04AX03"}]}}],
    )  # fmt: skip
    missing = med_request("r2", medicationReference={"reference": "Medication/gone"})
    for request in (contained, missing):
        del request["medicationCodeableConcept"]
    p, problems, _ = read_one(contained, missing)
    assert event(p, "MedicationRequest/r1").codes == (Code("atc", "L04AX03"),)
    assert [(pr.path, pr.message) for pr in problems] == [
        ("$.entry[2].resource.medicationReference.reference",
         "MedicationRequest/r2: the Medication Medication/gone is not in the input"),
    ]  # fmt: skip


def test_dosage_dates_dose_frequency_and_route() -> None:
    dosed = med_request(
        "r1",
        status="active",
        dosageInstruction=[
            {
                "timing": {"repeat": {"frequency": 1, "period": 8, "periodUnit": "h",
                                      "boundsPeriod": {"start": "2024-01-12",
                                                       "end": "2024-01-19"}}},
                "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006",
                                      "display": "Oral route (qualifier value)"}]},
                "doseAndRate": [{"doseQuantity": ucum(7.5, "mg")}],
            }
        ],
    )  # fmt: skip
    course = med_request("r2", dosageInstruction=[
        {"timing": {"repeat": {"boundsDuration": {"value": 10, "code": "d"}}, "code": {
            "coding": [{"code": "BID"}]}},
         "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "TAB", "system":
                          "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                          "code": "TAB"}}]}])  # fmt: skip
    as_needed = med_request("r3", status="active", dosageInstruction=[
        {"asNeededBoolean": True, "timing": {"repeat": {"frequency": 4, "period": 1,
                                                         "periodUnit": "d"}}}])  # fmt: skip
    p, problems, _ = read_one(dosed, course, as_needed)
    assert problems == []
    first = event(p, "MedicationRequest/r1")
    assert (first.start, first.end) == (dt.date(2024, 1, 12), dt.date(2024, 1, 19))
    assert first.dose == Quantity(Fraction("7.5"), "mg", ucum=True)  # given: not from the name
    assert (first.per_day, first.route) == (3, "oral")
    second = event(p, "MedicationRequest/r2")
    assert (second.start, second.end) == (dt.date(2024, 1, 10), dt.date(2024, 1, 19))
    assert second.dose == Quantity(Fraction(40), "mg", ucum=True)  # 2 tablets of 20 mg
    assert second.per_day == 2
    third = event(p, "MedicationRequest/r3")
    assert (third.end, third.per_day) == (None, None)  # active: ongoing; as needed: no rate


def test_missing_end_is_one_day_unless_active() -> None:
    p, _, _ = read_one(med_request("done"), med_request("now", status="active"),
                       med_request("gone", status="entered-in-error"))  # fmt: skip
    assert event(p, "MedicationRequest/done").end == dt.date(2024, 1, 10)
    assert event(p, "MedicationRequest/now").end is None
    assert [e.id for e in p.events] == ["MedicationRequest/done", "MedicationRequest/now"]


def test_statement_administration_dispense_and_immunization() -> None:
    rxnorm = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                          "code": "197361", "display": "Amlodipine 5 MG Oral Tablet"}]}  # fmt: skip
    subject = {"reference": f"Patient/{PID}"}
    statement = {"resourceType": "MedicationStatement", "id": "s", "status": "completed",
                 "medicationCodeableConcept": rxnorm, "subject": subject,
                 "effectivePeriod": {"start": "2023-01-01", "end": "2023-06-30"}}  # fmt: skip
    given = {"resourceType": "MedicationAdministration", "id": "a", "status": "completed",
             "medicationCodeableConcept": rxnorm, "subject": subject,
             "effectiveDateTime": "2023-02-03T10:00:00Z",
             "dosage": {"dose": ucum(5, "mg"), "route": {"text": "Oral"}}}  # fmt: skip
    dispensed = {
        "resourceType": "MedicationDispense",
        "id": "d",
        "status": "completed",
        "medicationCodeableConcept": rxnorm,
        "subject": subject,
        "whenHandedOver": "2023-03-01",
        "daysSupply": {"value": 30, "unit": "days"},
    }
    cvx = {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]}
    vaccine = {"resourceType": "Immunization", "id": "i", "status": "completed",
               "vaccineCode": cvx, "patient": subject, "occurrenceDateTime": "2022-10-01",
               "route": {"coding": [{"display": "Intramuscular route"}]}}  # fmt: skip
    p, problems, _ = read_one(statement, given, dispensed, vaccine)
    assert problems == []
    spans = {e.id: (e.start, e.end) for e in p.events}
    assert spans == {
        "MedicationStatement/s": (dt.date(2023, 1, 1), dt.date(2023, 6, 30)),
        "MedicationAdministration/a": (dt.date(2023, 2, 3), dt.date(2023, 2, 3)),
        "MedicationDispense/d": (dt.date(2023, 3, 1), dt.date(2023, 3, 30)),
        "Immunization/i": (dt.date(2022, 10, 1), dt.date(2022, 10, 1)),
    }
    assert event(p, "MedicationAdministration/a").route == "oral"
    shot = event(p, "Immunization/i")
    assert isinstance(shot, Immunization) and shot.kind == "immunization"  # its own kind now
    assert (shot.codes, shot.route) == ((Code("cvx", "140"),), "intramuscular")


@pytest.mark.parametrize(
    ("name", "mg"),
    [
        ("Prednisone 5 MG Oral Tablet", Fraction(5)),
        ("24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", Fraction(500)),
        ("1 ML Medroxyprogesterone acetate 150 MG/ML Injection", Fraction(150)),
        ("0.4 ML Enoxaparin sodium 100 MG/ML Prefilled Syringe", Fraction(40)),
        ("Colchicine 0.6 MG [Colcrys]", Fraction("0.6")),
        ("Lasix 40mg", Fraction(40)),
        ("Acetaminophen 325 MG / oxyCODONE Hydrochloride 5 MG Oral Tablet", None),
        ("Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", None),
        ("Hydrocortisone 10 MG/ML Topical Cream", None),
        ("120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler", None),
        ("NuvaRing 0.12/0.015 MG per 24HR 21 Day Vaginal Ring", None),
        ("Levora 0.15/30 28 Day Pack", None),
        ("NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector", None),
        ("3 ML insulin glargine 100 UNT/ML Pen Injector", None),
        ("{21 (Ethinyl Estradiol 0.03 MG Oral Tablet) } Pack", None),
        ("Carbamazepine[Tegretol]", None),
    ],
)
def test_strength_from_rxnorm_names(name: str, mg: Fraction | None) -> None:
    assert rxnorm_strength_mg(name) == mg


# --------------------------------------------------------------------------------------------
# Conditions, procedures, encounters


def test_condition_allergy_procedure_and_encounter() -> None:
    subject = {"reference": f"Patient/{PID}"}
    condition = {"resourceType": "Condition", "id": "c", "subject": subject,
                 "clinicalStatus": {"coding": [{"code": "remission"}]},
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                      "code": "C50.911"},
                                     {"system": "http://example.org/local", "code": "BC1",
                                      "display": "Breast cancer"}]},
                 "onsetPeriod": {"start": "2019-03"}, "abatementDateTime": "2021"}  # fmt: skip
    refuted = condition | {"id": "r", "verificationStatus": {"coding": [{"code": "refuted"}]}}
    allergy = {"resourceType": "AllergyIntolerance", "id": "al", "patient": subject,
               "clinicalStatus": {"coding": [{"code": "active"}]}, "category": ["food"],
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91935009"}]},
               "recordedDate": "2010-05-05"}  # fmt: skip
    procedure = {"resourceType": "Procedure", "id": "pr", "status": "completed",
                 "subject": subject, "code": {"coding": [{"system": "http://snomed.info/sct",
                                                          "code": "387713003"}]},
                 "performedPeriod": {"start": "2020-01-05T10:00:00Z",
                                     "end": "2020-01-05T12:00:00Z"}}  # fmt: skip
    stay = {"resourceType": "Encounter", "id": "e", "status": "finished", "subject": subject,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "IMP", "display": "inpatient encounter"},
            "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "32485007"}]}],
            "period": {"start": "2020-01-04", "end": "2020-01-09"}}  # fmt: skip
    p, problems, summary = read_one(condition, refuted, allergy, procedure, stay)
    assert problems == []
    cancer = event(p, "Condition/c")
    assert cancer.codes == (Code("icd10", "C50.911"), Code("local", "BC1"))
    assert cancer.codes[1].display == "Breast cancer (http://example.org/local)"
    # A partial date covers its whole month or year: onset on its first day, abatement its last.
    assert (cancer.start, cancer.end, cancer.status) == (
        dt.date(2019, 3, 1), dt.date(2021, 12, 31), "remission")  # fmt: skip
    assert summary.skipped[("Condition", "status refuted")] == 1
    allergic = event(p, "AllergyIntolerance/al")
    assert isinstance(allergic, Allergy) and allergic.status == "active"  # its own kind now
    assert allergic.attributes["category"] == "food"
    assert (allergic.start, allergic.end) == (dt.date(2010, 5, 5), None)
    surgery = event(p, "Procedure/pr")
    assert (surgery.start, surgery.end) == (dt.date(2020, 1, 5),) * 2
    hospital = event(p, "Encounter/e")
    assert isinstance(hospital, Procedure) and hospital.attributes == {"class": "IMP"}
    assert hospital.codes == (Code("snomed", "32485007"), Code("local", "encounter-IMP"))
    assert (hospital.start, hospital.end) == (dt.date(2020, 1, 4), dt.date(2020, 1, 9))
    assert p.coverage == (Interval(dt.date(2010, 5, 5), dt.date(2021, 12, 31)),)


def test_ignored_resources_are_counted_not_problems() -> None:
    claim = {"resourceType": "Claim", "id": "cl"}
    org = {"resourceType": "Organization", "id": "o"}
    _, problems, summary = read_one(claim, org)
    assert problems == [] and summary.ignored == 2
    assert summary.skipped[("Claim", IGNORED)] == 1


# --------------------------------------------------------------------------------------------
# Patients, bundles, NDJSON


def test_a_bundle_with_two_patients_gives_two() -> None:
    doc = bundle(
        patient("a"),
        patient("b", gender="male", birthDate="1971"),
        observation("oa", ucum(1, "mg/dL"), pid="a"),
        observation("ob", ucum(2, "mg/dL"), pid="b"),
        kind="searchset",
    )
    screening = {"screening": dt.date(2024, 3, 1)}
    patients, problems, summary = read_bundle(doc, "two", dates=screening)
    assert problems == [] and summary.patients == 2
    a, b = patients
    assert (a.id, [e.id for e in a.events]) == ("a", ["Observation/oa"])
    assert (b.id, b.sex, b.birth_date) == ("b", "male", dt.date(1971, 1, 1))
    assert [e.id for e in b.events] == ["Observation/ob"]
    assert a.dates == b.dates == screening


def test_a_transaction_bundle_joins_by_full_url() -> None:
    doc = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:aaa", "resource": {"resourceType": "Patient"}},
            {"fullUrl": "urn:uuid:bbb",
             "resource": observation("", ucum(1, "mg/dL"))
             | {"id": None, "subject": {"reference": "urn:uuid:aaa"}}},
        ],
    }  # fmt: skip
    [p], problems, _ = read_bundle(doc, "t")
    assert problems == [] and p.id == "aaa"
    assert [e.id for e in p.events] == ["Observation/bbb"]


def test_ndjson_export_joined_by_reference(tmp_path: Path) -> None:
    def write(name: str, *resources: dict[str, Any]) -> None:
        (tmp_path / name).write_bytes(b"\n".join(orjson.dumps(r) for r in resources) + b"\n")

    write("Patient.ndjson", patient("a"), patient("b"))
    write(
        "Observation.ndjson",
        observation("o1", ucum(1.5, "mg/dL"), pid="a"),
        observation("o2", ucum(80, "mL/min/{1.73_m2}"), code="33914-3", pid="b")
        | {"subject": {"reference": "urn:uuid:b"}},
        observation("o3", ucum(1, "mg/dL"), pid="zzz"),
    )
    write("Condition.ndjson", {"resourceType": "Condition", "id": "c1",
                               "subject": {"reference": "https://x.org/fhir/Patient/a"},
                               "code": {"coding": [{"system": "http://snomed.info/sct",
                                                    "code": "44054006"}]},
                               "onsetDateTime": "2015-06-01"})  # fmt: skip
    (tmp_path / "Claim.ndjson").write_text('{"resourceType": "Claim", "id": "x"}\nnot json\n')
    summary = ReadSummary()
    records = list(read_fhir(tmp_path, summary=summary))
    a, b = records
    assert isinstance(a, Patient) and isinstance(b, Patient)
    assert sorted(e.id for e in a.events) == ["Condition/c1", "Observation/o1"]
    assert [e.id for e in b.events] == ["Observation/o2"]
    assert summary.files == 4 and summary.total == 8
    sources = [(p.source.rsplit("/", 1)[-1], p.problem.path) for p in summary.problems]
    assert sources == [("Claim.ndjson:2", "$"), ("Observation.ndjson:3", "$.subject.reference")]
    assert list(read_ndjson([tmp_path / "Patient.ndjson"]))[0].id == "a"  # type: ignore[union-attr]


def test_a_single_resource_file_and_a_folder_of_bundles(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_bytes(orjson.dumps(patient("solo")))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.json").write_bytes(orjson.dumps(bundle(patient("x"), patient("y"))))
    (tmp_path / "notes.txt").write_text("not read")
    ids = [r.id for r in read_fhir(tmp_path) if isinstance(r, Patient)]
    assert ids == ["solo", "x", "y"]


def test_summary_render_lists_types_and_problems() -> None:
    _, _, summary = read_one(observation("o", ucum(1, "mg/dLL")), {"resourceType": "Claim"})
    text = summary.render()
    assert "Claim: 1 ignored (not used for eligibility)" in text
    assert "Observation: 1 not readable (see problems)" in text
    assert "$.entry[1].resource.valueQuantity.code" in text


# --------------------------------------------------------------------------------------------
# Never an exception

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                   max_size=4),
    max_leaves=12,
)  # fmt: skip
_types = st.sampled_from(
    ["Patient", "Observation", "Condition", "MedicationRequest", "MedicationStatement",
     "MedicationAdministration", "MedicationDispense", "Immunization", "Procedure",
     "Encounter", "AllergyIntolerance", "Medication", "Claim"]
)  # fmt: skip
_keys = st.sampled_from(
    ["id", "subject", "patient", "code", "status", "valueQuantity", "valueCodeableConcept",
     "component", "effectiveDateTime", "effectivePeriod", "onsetDateTime", "abatementPeriod",
     "authoredOn", "dosageInstruction", "medicationReference", "medicationCodeableConcept",
     "period", "class", "type", "birthDate", "gender", "referenceRange", "category",
     "verificationStatus", "clinicalStatus", "performedPeriod", "occurrenceDateTime",
     "contained", "dosage", "daysSupply", "whenHandedOver", "issued", "interpretation"]
)  # fmt: skip
_leaves = (
    _json
    | st.sampled_from(["Patient/p1", "urn:uuid:p1", "#m", "2024-01-02", "2024-13", "active", "d"])
    | st.fixed_dictionaries({"reference": st.sampled_from(["Patient/p1", "Medication/m", "#m"])})
    | st.fixed_dictionaries({"value": _json, "code": st.sampled_from(["mg", "Cel", "{x", "1"])})
    | st.fixed_dictionaries({"coding": st.lists(st.dictionaries(
        st.sampled_from(["system", "code", "display"]), _json), max_size=2)})
)  # fmt: skip
_resources = st.builds(
    lambda rtype, rid, body: {**body, "resourceType": rtype, "id": rid},
    _types,
    st.sampled_from(["p1", "m", "x", ""]) | _json,
    st.dictionaries(_keys, _leaves, max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _json, max_size=5))
def test_arbitrary_json_never_raises(doc: dict[str, Any]) -> None:
    for data in (doc, doc | {"resourceType": "Bundle"}, {"resourceType": "Bundle", "entry": [doc]}):
        patients, problems, summary = read_bundle(data, "fuzz")
        assert all(isinstance(p, Patient) for p in patients)
        assert all(isinstance(p, Problem) for p in problems)


@settings(max_examples=400, deadline=None)
@given(st.lists(_resources | _json, max_size=6))
def test_arbitrary_resources_never_raise(resources: list[Any]) -> None:
    doc = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    patients, problems, summary = read_bundle(doc, "fuzz")
    assert summary.total == len(resources)
    assert not any("internal error" in p.message for p in problems), problems
    assert len({e.id for p in patients for e in p.events}) == sum(len(p.events) for p in patients)
    # The same document as JSON text reads the same (when JSON can carry it: no NaN, no
    # non-text keys).
    try:
        text = orjson.dumps(doc)
    except (TypeError, orjson.JSONEncodeError):
        return
    if orjson.loads(text) == doc:
        assert read_bundle(text, "fuzz")[0] == patients


# --------------------------------------------------------------------------------------------
# eGFR units, daily doses, statuses (and what criteria_lang.records.fhir_write writes, which
# tests/test_fhir_roundtrip.py reads back)


def test_egfr_in_ml_per_min_is_read_per_1_73_m2_and_counted() -> None:
    p, problems, summary = read_one(
        observation("g1", ucum(42.5, "mL/min"), code="33914-3"),
        observation("g2", ucum(50, "mL/min/{1.73_m2}"), code="33914-3"),
        observation("cl", ucum(80, "mL/min"), code="2164-2"),  # a clearance: mL/min it is
    )
    assert problems == []
    per_bsa = "mL/min/{1.73_m2}"
    assert event(p, "Observation/g1").value == Quantity(Fraction("42.5"), per_bsa, ucum=True)
    assert event(p, "Observation/g2").value == Quantity(Fraction(50), "mL/min/{1.73_m2}", ucum=True)
    assert event(p, "Observation/cl").value == Quantity(Fraction(80), "mL/min", ucum=True)
    assert sum(summary.notes.values()) == 1


def test_a_rate_in_amount_per_day_is_the_daily_dose() -> None:
    def with_rate(rid: str, rate: dict[str, Any]) -> dict[str, Any]:
        return med_request(rid, dosageInstruction=[{"doseAndRate": [{"rateQuantity": rate}]}])

    p, problems, summary = read_one(
        with_rate("r1", ucum(7.5, "mg/d")), with_rate("r2", ucum(50, "mL/h"))
    )
    assert problems == []
    daily = event(p, "MedicationRequest/r1")
    assert daily.daily_dose == Quantity(Fraction("7.5"), "mg/d", ucum=True)
    assert daily.dose is None  # no dose read from the name when a daily dose is given
    infusion = event(p, "MedicationRequest/r2")
    assert infusion.daily_dose is None  # a volume per hour is not a dose
    assert infusion.dose == Quantity(Fraction(20), "mg", ucum=True)  # from the name, as before


def test_status_unknown_is_no_status_and_our_extension_is_the_recorded_one() -> None:
    p, _, _ = read_one(
        med_request("u", status="unknown"),
        med_request(
            "x",
            status="unknown",
            extension=[{"url": f"{FHIR_BASE}/StructureDefinition/status", "valueString": "paused"}],
        ),
    )
    assert event(p, "MedicationRequest/u").status is None
    assert event(p, "MedicationRequest/x").status == "paused"

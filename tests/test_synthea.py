"""rules/examples/synthea_kidney.crit over the 37 Synthea FHIR R4 bundles, checked by hand.

For every patient, `expected()` reads the raw JSON with plain `json` and `Fraction` (not the
project's reader, units or evaluator): it finds the observations by LOINC code, keeps those dated
in the window, takes the latest, and compares it with the threshold. The evaluator must give the
same answer (met, not met, unknown) for every criterion of every patient, pick the same
observation as its evidence, and so the same verdict.
"""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from criteria_lang import Rules
from criteria_lang.cli.main import main
from criteria_lang.records.fhir import read_fhir
from criteria_lang.records.timeline import Patient

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules" / "examples" / "synthea_kidney.crit"
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-fhir-r4"
BUNDLES = sorted(SYNTHEA.glob("*.json")) if SYNTHEA.is_dir() else []
pytestmark = pytest.mark.skipif(not BUNDLES, reason=f"no Synthea data at {SYNTHEA}")

SCREENING = dt.date(2018, 6, 1)  # the date docs/fhir.md uses; it gives every kind of answer
WINDOW_START = dt.date(2017, 6, 1)  # 12 months before screening

# The codes the criteria mean, written out here rather than read from the stdlib.
EGFR_LOINC = {"33914-3", "48642-3", "48643-1", "62238-1", "88293-6", "88294-4", "98979-8"}
ACR_LOINC = {"9318-7", "14959-1"}
CKD_4_5_SNOMED = {"431857002", "433146000", "714152005", "714153000", "46177005"}
CKD_4_5_ICD10 = ("N18.4", "N18.5", "N18.6")
LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
ICD10 = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm")
# Resource types whose dates make up the record's span (its coverage, docs/fhir.md).
CLINICAL = {
    "Condition",
    "AllergyIntolerance",
    "Observation",
    "Procedure",
    "Encounter",
    "MedicationRequest",
    "Immunization",
}

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"


def day(text: str) -> dt.date:
    """The day a FHIR date or dateTime is written on (its local day)."""
    return dt.date.fromisoformat(text[:10])


def codes(concept: dict[str, Any] | None, system: str | tuple[str, ...]) -> set[str]:
    systems = (system,) if isinstance(system, str) else system
    return {c["code"] for c in (concept or {}).get("coding", []) if c.get("system") in systems}


def resource_days(res: dict[str, Any]) -> list[dt.date]:
    """Every day a clinical resource is dated on (start and end)."""
    keys = (
        "onsetDateTime",
        "abatementDateTime",
        "recordedDate",
        "effectiveDateTime",
        "performedDateTime",
        "authoredOn",
        "occurrenceDateTime",
    )
    found = [day(res[k]) for k in keys if isinstance(res.get(k), str)]
    for key in ("period", "performedPeriod", "onsetPeriod", "abatementPeriod"):
        found += [day(v) for v in (res.get(key) or {}).values() if isinstance(v, str)]
    return found


def latest(observations: list[dict[str, Any]], wanted: set[str]) -> dict[str, Any] | None:
    """The latest observation with one of the LOINC codes, dated in the window; ties on the day
    go to the larger id, as `latest` orders by date, then id."""
    found = [
        o
        for o in observations
        if codes(o.get("code"), LOINC) & wanted
        and o.get("status") not in ("cancelled", "entered-in-error")
        and WINDOW_START <= day(o["effectiveDateTime"]) <= SCREENING
    ]
    return max(
        found, key=lambda o: (day(o["effectiveDateTime"]), "Observation/" + o["id"]), default=None
    )


def value_of(observation: dict[str, Any], units: set[str]) -> Fraction:
    quantity = observation["valueQuantity"]
    assert quantity["code"] in units, quantity  # every result of this data set is in these units
    return Fraction(quantity["value"])


def expected(path: Path) -> tuple[str, dict[str, tuple[str, str | None]]]:
    """(patient id, criterion -> (answer, id of the deciding observation or None))."""
    bundle = json.loads(path.read_text(encoding="utf-8"), parse_float=Fraction)
    resources = [entry["resource"] for entry in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    out: dict[str, tuple[str, str | None]] = {}

    born = day(patient["birthDate"])
    age = SCREENING.year - born.year - ((SCREENING.month, SCREENING.day) < (born.month, born.day))
    out["I1"] = (MET if age >= 18 else NOT_MET, None)

    egfr = latest(observations, EGFR_LOINC)
    if egfr is None:
        out["I2"] = (UNKNOWN, None)
    else:
        # Synthea writes 33914-3 in mL/min/{1.73_m2} and in plain mL/min: the same rate per 1.73 m2.
        value = value_of(egfr, {"mL/min/{1.73_m2}", "mL/min"})
        out["I2"] = (MET if value >= 30 else NOT_MET, "Observation/" + egfr["id"])

    acr = latest(observations, ACR_LOINC)
    if acr is None:
        out["I3"] = (UNKNOWN, None)
    else:
        value = value_of(acr, {"mg/g"})
        out["I3"] = (MET if value < 300 else NOT_MET, "Observation/" + acr["id"])

    ckd = [
        r
        for r in resources
        if r["resourceType"] == "Condition"
        and (
            codes(r["code"], SNOMED) & CKD_4_5_SNOMED
            or any(c.startswith(CKD_4_5_ICD10) for c in codes(r["code"], ICD10))
        )
        and day(r["onsetDateTime"]) <= SCREENING
    ]
    if ckd:
        out["E1"] = (MET, "Condition/" + ckd[0]["id"])
    else:
        # No such condition: not met if the record's span (first to last day of its clinical
        # resources) holds the screening day, else unknown.
        days = [d for r in resources if r["resourceType"] in CLINICAL for d in resource_days(r)]
        out["E1"] = (NOT_MET if min(days) <= SCREENING <= max(days) else UNKNOWN, None)
    return patient["id"], out


def verdict_of(answers: dict[str, tuple[str, str | None]]) -> str:
    inclusion = [answers[c][0] for c in ("I1", "I2", "I3")]
    exclusion = [answers["E1"][0]]
    if NOT_MET in inclusion or MET in exclusion:
        return "ineligible"
    if all(a == MET for a in inclusion) and all(a == NOT_MET for a in exclusion):
        return "eligible"
    return "undetermined"


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    rules = Rules.from_file(RULES)
    out = {}
    for record in read_fhir(SYNTHEA, dates={"screening": SCREENING}):
        assert isinstance(record, Patient)
        out[record.id] = rules.evaluate(record)
    return out


@pytest.mark.parametrize(
    "path", BUNDLES, ids=lambda p: p.name.split("_")[0] + "_" + p.name.split("_")[1]
)
def test_every_criterion_as_computed_by_hand(path: Path, results: dict[str, Any]) -> None:
    pid, answers = expected(path)
    result = results[pid]
    for criterion in result.criteria:
        answer, event_id = answers[criterion.id]
        assert criterion.truth.value == answer, (
            criterion.id,
            criterion.evidence,
            criterion.missing,
        )
        if event_id is not None:
            assert event_id in {e.event_id for e in criterion.evidence}, (
                criterion.id,
                criterion.evidence,
            )
    assert result.verdict.value == verdict_of(answers)


def test_the_screen_has_every_kind_of_answer(results: dict[str, Any]) -> None:
    """The screening date is chosen so that the check covers met, not met and unknown."""
    answers = {(c.id, c.truth.value) for r in results.values() for c in r.criteria}
    assert {("I1", MET), ("I1", NOT_MET), ("I2", MET), ("I2", NOT_MET), ("I2", UNKNOWN)} <= answers
    assert {("I3", MET), ("I3", UNKNOWN), ("E1", NOT_MET), ("E1", UNKNOWN)} <= answers
    verdicts = sorted(r.verdict.value for r in results.values())
    assert {v: verdicts.count(v) for v in set(verdicts)} == {
        "eligible": 4,
        "ineligible": 7,
        "undetermined": 26,
    }


def test_the_cli_screen_prints_verdicts_and_the_reader_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # --read-all: every resource read and checked, also those the rules cannot use.
    date = f"screening={SCREENING}"
    status = main(["screen", str(RULES), str(SYNTHEA), "--date", date, "--read-all"])
    out = capsys.readouterr().out
    assert status == 0
    assert "37 records: 4 eligible, 7 ineligible, 26 undetermined, 0 error" in out
    assert "FHIR: 37 file(s), 13617 resources: 10521 read, 3096 not read; 37 patient(s) read" in out
    # Body temperatures (Cel) are read; three scores in "(score)", which is not UCUM, are not.
    assert "Observation: 8181 read, 3 not readable (see problems)" in out
    assert "Claim: 1126 ignored (not used for eligibility)" in out
    assert "3 problem(s):" in out and "... and" not in out
    assert out.index("records:") < out.index("FHIR:")  # the summary comes after the verdicts
    assert "no record has the date" not in out  # the date was given
    # By default the resources the rules cannot use are skipped unread, counted as such; the
    # verdicts are the same.
    assert main(["screen", str(RULES), str(SYNTHEA), "--date", date]) == 0
    skipped = capsys.readouterr().out
    assert "37 records: 4 eligible, 7 ineligible, 26 undetermined, 0 error" in skipped
    assert "Observation: 504 read, 7680 not used by these rules" in skipped
    assert "Procedure: 392 not used by these rules" in skipped


# The stdlib concepts that match codes in the Synthea data (docs/fhir.md, "Codes and the
# stdlib"): a rule written with these names decides on Synthea's coded data unchanged.
STDLIB_MATCHES = [
    ("labs", "egfr", "loinc", "33914-3"),
    ("labs", "creatinine", "loinc", "38483-4"),
    ("labs", "urine_albumin_creatinine_ratio", "loinc", "14959-1"),
    ("labs", "hemoglobin", "loinc", "718-7"),
    ("labs", "platelets", "loinc", "777-3"),
    ("labs", "leukocytes", "loinc", "6690-2"),
    ("labs", "alt", "loinc", "1742-6"),
    ("labs", "ast", "loinc", "1920-8"),
    ("labs", "albumin", "loinc", "1751-7"),
    ("observations", "body_weight", "loinc", "29463-7"),
    ("observations", "body_height", "loinc", "8302-2"),
    ("observations", "bmi", "loinc", "39156-5"),
    ("observations", "systolic_bp", "loinc", "8480-6"),
    ("observations", "diastolic_bp", "loinc", "8462-4"),
    ("observations", "lvef", "loinc", "10230-1"),
    ("conditions", "ckd_stage_1", "snomed", "431855005"),
    ("conditions", "ckd_stage_2", "snomed", "431856006"),
    ("conditions", "chronic_kidney_disease", "snomed", "431855005"),
    ("conditions", "heart_failure", "snomed", "88805009"),
    ("conditions", "myocardial_infarction", "snomed", "22298006"),
    ("conditions", "myocardial_infarction", "snomed", "399211009"),
    ("conditions", "stroke", "snomed", "230690007"),
    ("conditions", "atrial_fibrillation", "snomed", "49436004"),
    ("conditions", "epilepsy", "snomed", "84757009"),
    ("conditions", "seizures", "snomed", "128613002"),
    ("conditions", "malignant_neoplasm", "snomed", "363406005"),
    ("conditions", "asthma", "snomed", "233678006"),
    ("conditions", "pregnancy", "snomed", "72892002"),
    ("drugs", "captopril", "rxnorm", "833036"),
    ("drugs", "carbamazepine", "rxnorm", "308971"),
    ("vaccines", "mmr_vaccines", "cvx", "03"),
    ("vaccines", "varicella_vaccine", "cvx", "21"),
    ("vaccines", "zoster_vaccine_live", "cvx", "121"),
    ("vaccines", "rotavirus_vaccine", "cvx", "119"),
    ("procedures", "hospitalization", "local", "encounter-IMP"),
    ("procedures", "chest_xray", "snomed", "399208008"),
    ("procedures", "echocardiography", "snomed", "433236007"),
]


def test_stdlib_concepts_match_the_codes_synthea_uses() -> None:
    from criteria_lang.check.checker import compile_file
    from criteria_lang.core.kinds import event_kind

    modules = {
        m: compile_file(ROOT / "criteria_lang" / "stdlib" / f"{m}.crit").module
        for m, *_ in STDLIB_MATCHES
    }
    events = {}
    for record in read_fhir(SYNTHEA):
        assert isinstance(record, Patient)
        for event in record.events:
            for code in event.codes:
                events.setdefault((code.system, code.code), event)
    for module, name, system, code in STDLIB_MATCHES:
        event = events.get((system, code))
        assert event is not None, f"Synthea has no {system} {code}"
        concept = modules[module].exports[name].concept  # type: ignore[attr-defined]
        kind = event_kind(concept.kind)  # a vaccine's events are immunizations
        assert event.kind == kind and concept.matches(event.codes), (module, name, system, code)

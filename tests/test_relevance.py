"""Reading only what the rules can use (records/relevance.py, engine/relevance.py, fhir.py
`wanted` and `settle`): FHIR resources none of whose codes the rules hold are skipped unread and
counted, and no answer, evidence or coverage changes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from golden import SYNTHEA

from criteria_lang import Rules, load_patient
from criteria_lang.core.codes import Code
from criteria_lang.engine.relevance import relevance_of
from criteria_lang.records.fhir import COVERAGE_EXTENSION, read_bundle, read_fhir, wanted
from criteria_lang.records.fhir_write import patient_to_bundle
from criteria_lang.records.relevance import SKIPPED, Relevance

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
NOISE = "https://noise.example/codes"  # a code system no concept uses
TRIALS = sorted(p for p in RULES.glob("*.crit") if (ROOT / "examples" / p.stem).is_dir())


def without_declared_coverage(bundle: dict[str, Any]) -> dict[str, Any]:
    """The same bundle with the Patient's coverage left to be computed from the events."""
    bundle = copy.deepcopy(bundle)
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "Patient":
            res["extension"] = [
                e for e in res.get("extension", []) if e["url"] != COVERAGE_EXTENSION
            ]
    return bundle


@pytest.mark.parametrize("trial", TRIALS, ids=lambda p: p.stem)
@pytest.mark.parametrize("policy", ["coverage", "closed-world"])
def test_skipping_changes_nothing_on_the_example_patients(trial: Path, policy: str) -> None:
    rules = Rules.from_file(trial, policy=policy)  # type: ignore[arg-type]
    relevance = relevance_of(rules.plan, policy)  # type: ignore[arg-type]
    checked = skipped = 0
    for path in sorted((ROOT / "examples" / trial.stem).glob("*.json")):
        patient = load_patient(path.read_bytes())
        try:
            bundle = patient_to_bundle(patient)
        except ValueError:
            continue  # a value FHIR cannot hold (tests/test_fhir_roundtrip.py says which)
        # Two resources no rule can use: one in the middle of the record, one long before it.
        pid = bundle["entry"][0]["resource"]["id"]
        for rid, day in (
            ("noise-in", patient.events[0].start.isoformat()),
            ("noise-old", "1990-01-01"),
        ):
            res = observation(rid, "noise-xyz", day, 70, "/min", system=NOISE)
            res["subject"] = {"reference": f"Patient/{pid}"}
            bundle["entry"].append({"resource": res})
        for doc in (bundle, without_declared_coverage(bundle)):
            full, _, _ = read_bundle(doc, dates=patient.dates)
            some, _, summary = read_bundle(doc, dates=patient.dates, relevance=relevance)
            if policy == "coverage":  # closed-world judges no absence by coverage
                assert [p.coverage for p in some] == [p.coverage for p in full]
            assert [rules.evaluate(p).to_dict() for p in some] == [
                rules.evaluate(p).to_dict() for p in full
            ]
            skipped += summary.skipped_for(SKIPPED)
            checked += 1
    assert checked
    assert skipped  # something was skipped, or this tests nothing


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="needs the shared Synthea bundles")
@pytest.mark.parametrize(
    "rule_file", [RULES / "examples" / "synthea_kidney.crit", RULES / "nct03562065.crit"]
)
def test_skipping_changes_nothing_on_synthea(rule_file: Path) -> None:
    import datetime as dt

    dates = {"screening": dt.date(2018, 6, 1), "baseline": dt.date(2018, 6, 15)}
    dates["consent"] = dt.date(2018, 5, 30)
    rules = Rules.from_file(rule_file)
    relevance = relevance_of(rules.plan, "coverage")
    full = list(read_fhir(SYNTHEA, dates=dates))
    some = list(read_fhir(SYNTHEA, dates=dates, relevance=relevance))
    assert len(full) == len(some) == 37
    for a, b in zip(full, some, strict=True):
        assert a.coverage == b.coverage  # type: ignore[union-attr]
        assert rules.evaluate(a).to_dict() == rules.evaluate(b).to_dict()  # type: ignore[arg-type]


def observation(
    rid: str, loinc: str, day: str, value: float, unit: str, system: str = "http://loinc.org"
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"code": "vital-signs"}]}],
        "code": {"coding": [{"system": system, "code": loinc}]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": day,
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def test_a_skipped_resource_that_widens_the_coverage_is_read() -> None:
    """The coverage computed from the events is that of reading everything: a resource the
    rules cannot use but that lies outside the span of those read is read after all; one inside
    it stays unread."""
    rules = Rules.from_file(RULES / "examples" / "synthea_kidney.crit")
    relevance = relevance_of(rules.plan, "coverage")
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01"}},
            {"resource": observation("egfr", "33914-3", "2020-03-01", 40, "mL/min/{1.73_m2}")},
            {"resource": observation("egfr2", "33914-3", "2021-03-01", 42, "mL/min/{1.73_m2}")},
            {"resource": observation("hr-old", "8867-4", "2010-05-01", 70, "/min")},
            {"resource": observation("hr-in", "8867-4", "2020-09-01", 72, "/min")},
        ],
    }
    full, _, _ = read_bundle(bundle)
    some, _, summary = read_bundle(bundle, relevance=relevance)
    assert full[0].coverage == some[0].coverage
    assert str(some[0].coverage[0].start) == "2010-05-01"
    assert summary.read["Observation"] == 3 and summary.skipped_for(SKIPPED) == 1
    # Under the closed-world policy the coverage is not used: both stay unread.
    closed = relevance_of(rules.plan, "closed-world")
    _, _, summary = read_bundle(bundle, relevance=closed)
    assert summary.read["Observation"] == 2 and summary.skipped_for(SKIPPED) == 2


def test_wanted_looks_where_each_reader_takes_codes_from() -> None:
    holds = Relevance(
        [lambda c: (c.system, c.code) in {("local", "encounter-AMB"), ("loinc", "1-1")}],
        coverage=False,
    )
    encounter = {"resourceType": "Encounter", "class": {"code": "AMB"}, "type": []}
    assert wanted(encounter, holds)
    assert not wanted({**encounter, "class": {"code": "EMER"}}, holds)
    by_reference = {
        "resourceType": "MedicationRequest",
        "medicationReference": {"reference": "Medication/m"},
    }
    assert wanted(by_reference, holds)  # its codes are in the Medication
    component = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "0-0"}]},
        "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "1-1"}]}}],
    }
    assert wanted(component, holds)
    assert wanted({"resourceType": "SomethingNew"}, holds)  # unknown: read as before
    assert not wanted({"resourceType": "Condition", "code": {"coding": [{"code": "x"}]}}, holds)
    assert Relevance([lambda c: c == Code("loinc", "1-1")], coverage=True).wants_code(
        Code("loinc", "1-1")
    )

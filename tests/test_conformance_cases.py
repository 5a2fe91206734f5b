"""The conformance cases (tests/conformance/*.json), run by every engine.

Each case is a rule (one expression, or a whole rule file), a patient in our JSON format, and the
expected result of each criterion (or outcome): its truth, and what its evidence and missing
items must say. The format is tests/conformance/README.md. The same files are the contract of
every engine: the Python engine here; the SQL engine registers itself in ENGINES (or skips a case
by raising NotSupported with the reason it reports).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from criteria_lang import Rules, load_patient
from criteria_lang.core.results import OutcomeReport, PatientResult
from criteria_lang.records.timeline import Patient

HERE = Path(__file__).resolve().parent / "conformance"
PRELUDE = (HERE / "prelude.crit").read_text(encoding="utf-8")
CASE_KEYS = {
    "id",
    "doc",
    "rules",
    "defines",
    "patient",
    "formats",
    "policy",
    "expect",
    "expect_outcomes",
    "note",
    "fhir_bundle",
}
CRITERION_KEYS = {
    "truth",
    "evidence",
    "evidence_contains",
    "evidence_events",
    "missing",
    "missing_contains",
    "questions",
}
DEFAULT_PATIENT: dict[str, Any] = {
    "id": "p",
    "birth_date": "1980-06-15",
    "sex": "female",
    "dates": {"screening": "2024-03-31", "baseline": "2024-04-10"},
    "coverage": [{"start": "2000-01-01", "end": "2024-12-31"}],
    "events": [],
}


class NotSupported(Exception):
    """An engine cannot run a case yet; the message says which construct and why."""


Case = dict[str, Any]
Engine = Callable[[Case, Patient], PatientResult | OutcomeReport]


def rule_text(case: Case) -> str:
    """A case's rules: a whole rule file, or one expression -- criterion I1, or, for a case that
    expects outcomes, outcome O1 judged at every visit compared to baseline -- of a trial with
    the prelude's concepts (tests/conformance/prelude.crit)."""
    rules: str = case["rules"]
    if rules.lstrip().startswith("trial"):
        return rules
    if "expect_outcomes" in case:
        body = f'outcomes compared to baseline\n  O1 "the case": {rules}\n'
    else:
        body = f'inclusion\n  I1 "the case": {rules}\n'
    defines = case.get("defines", "")
    return (
        'trial "conformance"\n  dates screening, baseline\n  index screening\n'
        f"{PRELUDE}\n{defines}\n{body}"
    )


def patient_doc(case: Case) -> dict[str, Any]:
    """The case's patient: what it gives, over the defaults of README.md."""
    doc = dict(DEFAULT_PATIENT)
    doc.update(case.get("patient", {}))
    return doc


def python_engine(case: Case, patient: Patient) -> PatientResult | OutcomeReport:
    rules = Rules.from_text(rule_text(case), policy=case.get("policy", "coverage"))
    if "expect_outcomes" in case:
        return rules.outcomes(patient)
    return rules.evaluate(patient)


def sql_engine(case: Case, patient: Patient) -> PatientResult | OutcomeReport:
    from conformance_sql import SqlNotSupported
    from conformance_sql import sql_engine as run

    try:
        return run(case, rule_text(case), patient)
    except SqlNotSupported as why:
        raise NotSupported(str(why)) from None


# Engines that run the cases: name -> function of (case, patient).
ENGINES: dict[str, Engine] = {"python": python_engine, "sql": sql_engine}


# ---------------------------------------------------------------------- readers


def through(
    doc: dict[str, Any], fmt: str, bundle: dict[str, Any] | None = None
) -> tuple[Patient, dict[str, str]]:
    """The patient as a reader reads it from `fmt` -- our JSON, or written to FHIR or OMOP by
    our writers and read back, so that every reader is held to the same cases -- and the ids its
    events get there (OMOP numbers them). A case's own FHIR `bundle` is read instead of the
    written one (for what our writer never writes, such as a date-time with its zone)."""
    patient = load_patient(doc)
    same = {e.id: e.id for e in patient.events}
    if fmt == "json":
        return patient, same
    if fmt == "fhir":
        from criteria_lang.records.fhir import read_bundle
        from criteria_lang.records.fhir_write import patient_to_bundle

        # FHIR has no place for a trial's dates: they are given to the reader, as `--date` does;
        # nor for study visits and review answers, which are kept beside the bundle.
        if bundle is None:
            bundle = patient_to_bundle(patient)
            same = {**same, **case_resource_ids(bundle)}  # the writer names a resource by its event
        else:
            same = case_resource_ids(bundle)
        patients, problems, _ = read_bundle(bundle, "case", dates=patient.dates)
        assert not problems and len(patients) == 1, problems
        read = attrs.evolve(patients[0], visits=patient.visits, reviews=patient.reviews)
        return read, same
    if fmt == "omop":
        from criteria_lang.records.omop import read_omop_tables
        from criteria_lang.records.omop_write import patients_to_omop

        tables, writer = patients_to_omop([patient])
        back = [p for p in read_omop_tables(tables) if isinstance(p, Patient)]
        assert len(back) == 1, back
        ids = {e: str(writer.event_ids[(p, e)]) for (p, e) in writer.event_ids if p == patient.id}
        return back[0], ids
    raise ValueError(f"unknown format {fmt!r}")


def case_resource_ids(bundle: dict[str, Any]) -> dict[str, str]:
    """A case bundle's resource ids -> the event ids the FHIR reader gives (`Observation/o1`)."""
    resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
    return {r["id"]: f"{r['resourceType']}/{r['id']}" for r in resources if "id" in r}


# ---------------------------------------------------------------------- the cases


def cases() -> Iterator[tuple[str, Case, str]]:
    seen: set[str] = set()
    for path in sorted(HERE.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for case in data["cases"] if "cases" in data else [data]:
            unknown = set(case) - CASE_KEYS
            assert not unknown, f"{path.name}: {case.get('id')}: unknown keys {sorted(unknown)}"
            assert case["id"] not in seen, f"case id {case['id']} is used twice"
            seen.add(case["id"])
            for fmt in case.get("formats", ["json"]):
                yield path.relative_to(HERE).as_posix(), case, fmt


CASES = list(cases())


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize(
    ("source", "case", "fmt"), CASES, ids=[f"{c['id']}[{f}]" for _, c, f in CASES]
)
def test_case(source: str, case: Case, fmt: str, engine: str) -> None:
    bundle = case.get("fhir_bundle") if fmt == "fhir" else None
    patient, ids = through(patient_doc(case), fmt, bundle)
    try:
        result = ENGINES[engine](case, patient)
    except NotSupported as why:
        pytest.skip(f"{engine} engine: {why}")
    where = f"{source}: {case['id']} ({fmt}, {engine} engine)"
    if isinstance(result, OutcomeReport):
        check_outcomes(result, case["expect_outcomes"], where)
        return
    for ident, expected in case["expect"].items():
        if engine == "sql":
            check_sql_criterion(result, ident, expected, where)
        else:
            check_criterion(result, ident, expected, where, ids)


def check_criterion(
    result: PatientResult, ident: str, expected: dict[str, Any], where: str, ids: dict[str, str]
) -> None:
    unknown = set(expected) - CRITERION_KEYS
    assert not unknown, f"{where}: unknown expectation keys {sorted(unknown)}"
    got = result.criterion(ident)
    shown = {"truth": got.truth.value, "evidence": lines(got), "missing": got.missing}
    assert got.truth.value == expected["truth"], f"{where}: {ident}: {shown}"
    evidence = lines(got)
    if "evidence" in expected:
        assert evidence == expected["evidence"], f"{where}: {ident}: {shown}"
    for text in expected.get("evidence_contains", []):
        assert any(text in line for line in evidence), f"{where}: {ident}: {text!r} {shown}"
    cited = {e.event_id for e in got.evidence if e.event_id}
    for event in expected.get("evidence_events", []):
        assert ids[event] in cited, f"{where}: {ident}: event {event} not cited: {shown}"
    if "missing" in expected:
        assert list(got.missing) == expected["missing"], f"{where}: {ident}: {shown}"
    for text in expected.get("missing_contains", []):
        assert any(text in m for m in got.missing), f"{where}: {ident}: {text!r} {shown}"
    if "questions" in expected:
        assert list(got.questions) == expected["questions"], f"{where}: {ident}: {shown}"


def check_sql_criterion(
    result: PatientResult, ident: str, expected: dict[str, Any], where: str
) -> None:
    """The SQL engine gives truths only (no evidence text, no missing items): the truth must be
    the case's (tests/conformance_sql.py)."""
    got = result.criterion(ident)
    assert got.truth.value == expected["truth"], f"{where}: {ident}: {got.truth.value}"


def lines(criterion: Any) -> list[str]:
    return [f"{e.what}: {e.detail}" for e in criterion.evidence]


def check_outcomes(report: OutcomeReport, expected: dict[str, Any], where: str) -> None:
    """Per outcome: the result at each named visit -- a word, or `{"result": word,
    "evidence_contains": [...], "missing_contains": [...]}` -- and `first_met`."""
    for ident, visits in expected.items():
        series = report.outcome(ident)
        want = dict(visits)
        first = want.pop("first_met", "(not given)")
        got = {v.visit: v for v in series.visits}
        results = {k: got[k].result if k in got else None for k in want}
        words = {k: w["result"] if isinstance(w, dict) else w for k, w in want.items()}
        assert results == words, f"{where}: {ident}: {results}"
        for name, wanted in want.items():
            if isinstance(wanted, dict):
                check_visit_words(got[name], wanted, f"{where}: {ident} at {name}")
        if first != "(not given)":
            assert series.first_met == first, f"{where}: {ident}: first met {series.first_met}"


def check_visit_words(visit: Any, expected: dict[str, Any], where: str) -> None:
    shown = f"evidence {lines(visit)}, missing {list(visit.missing)}"
    for text in expected.get("evidence_contains", []):
        assert any(text in line for line in lines(visit)), f"{where}: {text!r} {shown}"
    for text in expected.get("missing_contains", []):
        assert any(text in m for m in visit.missing), f"{where}: {text!r} {shown}"


def test_every_case_cites_the_rule_it_pins() -> None:
    """Each case names the section of docs/language.md it pins; the section exists."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text("utf-8")
    anchors = {anchor(line) for line in doc.splitlines() if line.startswith("#")}
    for _, case, _ in CASES:
        page, _, section = case["doc"].partition("#")
        assert page == "docs/language.md" and section in anchors, (case["id"], case["doc"])


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.lstrip("#").strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def test_every_section_of_the_language_has_a_case() -> None:
    """Every construct of docs/language.md is pinned by at least one case (issue 11)."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text("utf-8")
    sections = [anchor(line) for line in doc.splitlines() if line.startswith("##")]
    pinned = {case["doc"].partition("#")[2] for _, case, _ in CASES}
    assert [s for s in sections if s not in pinned] == []


def test_the_language_cites_only_cases_that_exist() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text("utf-8")
    cited = set(re.findall(r"`\[([a-z0-9]+(?:-[a-z0-9]+)+)\]`", doc))
    assert cited - {case["id"] for _, case, _ in CASES} == set()

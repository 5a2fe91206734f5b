"""One meaning, two engines: the SQL engine (criteria_lang/sql/) and the Python engine give the
same truth for every criterion the SQL engine compiles, on the same OMOP data (docs/sql.md).

* every example patient of every trial, written to OMOP (records/omop_write.py), through DuckDB;
  and the screen of those (SQL, and Python for the criteria left to it) gives exactly the verdicts
  of the Python engine on the patients themselves (`criteria screen rules/ examples/`);
* the Synthea patients (read from FHIR, written to OMOP);
* generated patients: thousands, in batches, against a rule file that touches every kind of query;
* the same example patients on Spark and PostgreSQL (tests/warehouse_helpers.py: skipped on a
  machine without them, required in CI).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fhir_roundtrip import SMALL_RULES, patient_doc
from warehouse_helpers import open_written

from criteria_lang import Rules, load_patient
from criteria_lang.core.results import PatientResult, Truth
from criteria_lang.records.fhir import read_fhir
from criteria_lang.records.omop import read_omop_tables
from criteria_lang.records.omop_write import patients_to_omop
from criteria_lang.records.patient_json import read_patients
from criteria_lang.records.timeline import Patient
from criteria_lang.screen_sql import screen_warehouse
from criteria_lang.sql.run import compile_for, omop_rows, run_screen
from criteria_lang.sql.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
TRIALS = sorted(p.stem for p in RULES.glob("*.crit") if (ROOT / "examples" / p.stem).is_dir())
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-fhir-r4"


def disagreements(rules: Rules, warehouse: Warehouse) -> tuple[list[str], int]:
    """Criterion by criterion, SQL against Python on the patients the OMOP reader reads from the
    same warehouse: the differences (described), and how many truths were compared."""
    compiled = compile_for(rules.plan, warehouse)
    sql = {row.person_id: row for row in run_screen(rules.plan, warehouse, compiled)}
    patients = [p for p in read_omop_tables(omop_rows(warehouse)) if isinstance(p, Patient)]
    assert sorted(p.id for p in patients) == sorted(sql)
    found: list[str] = []
    compared = 0
    for patient in patients:
        row = sql[patient.id]
        for criterion in rules.evaluate(patient).criteria:
            if criterion.id in compiled.fallback:
                continue
            compared += 1
            truth = row.truths[criterion.id]
            if truth is not criterion.truth:
                found.append(
                    f"person {patient.id} {criterion.id}: python {criterion.truth.value}, "
                    f"sql {truth.value} ({'; '.join(criterion.missing)[:200]})"
                )
    return found, compared


@pytest.mark.parametrize("trial", TRIALS)
def test_every_example_patient_gets_the_same_truths_from_both_engines(
    trial: str, tmp_path: Path
) -> None:
    rules = Rules.from_file(RULES / f"{trial}.crit")
    patients = [p for p in read_patients(ROOT / "examples" / trial) if isinstance(p, Patient)]
    tables, writer = patients_to_omop(patients)
    warehouse = open_written("duckdb-file", tables, tmp_path)
    found, compared = disagreements(rules, warehouse)
    assert found == []
    assert compared >= len(patients)
    # The whole screen (SQL, and Python for what SQL leaves) gives the verdicts and deciding
    # criteria of the Python engine on the patients themselves.
    screen = screen_warehouse(rules, warehouse)
    results = {r.patient_id: r for r in screen.results() if isinstance(r, PatientResult)}
    for patient in patients:
        expected = rules.evaluate(patient)
        got = results[str(writer.person_ids[patient.id])]
        assert (got.verdict, got.deciding) == (expected.verdict, expected.deciding), patient.id
        assert [c.truth for c in got.criteria] == [c.truth for c in expected.criteria]
    assert screen.attrition.persons == len(patients)


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason=f"no Synthea data at {SYNTHEA}")
def test_the_synthea_patients_get_the_same_truths_from_both_engines(tmp_path: Path) -> None:
    rules = Rules.from_file(RULES / "examples" / "synthea_kidney.crit")
    dates = {"screening": dt.date(2018, 6, 1)}
    patients = [p for p in read_fhir(SYNTHEA, dates=dates) if isinstance(p, Patient)]
    tables, _ = patients_to_omop(patients)
    found, compared = disagreements(rules, open_written("duckdb-file", tables, tmp_path))
    assert found == []
    assert compared >= len(patients)


@pytest.mark.parametrize("engine", ["spark", "postgres"])
def test_spark_and_postgresql_give_the_truths_of_duckdb(engine: str, tmp_path: Path) -> None:
    rules = Rules.from_file(RULES / "nct03562065.crit")
    patients = [
        p for p in read_patients(ROOT / "examples" / "nct03562065") if isinstance(p, Patient)
    ]
    tables, _ = patients_to_omop(patients)
    duck = open_written("duckdb-file", tables, tmp_path / "duck")
    other = open_written(engine, tables, tmp_path / engine)
    try:
        expected = {r.person_id: r.truths for r in run_screen(rules.plan, duck)}
        got = {r.person_id: r.truths for r in run_screen(rules.plan, other)}
    finally:
        other.close()
    assert got == expected
    assert len(got) == len(patients)


# --------------------------------------------------------------------------------------------
# Generated patients


def unique_ids(doc: dict[str, Any], number: int) -> dict[str, Any]:
    seen: set[str] = set()
    doc["events"] = [e for e in doc["events"] if not (e["id"] in seen or seen.add(e["id"]))]
    for item in doc["events"]:
        if "dose" in item:  # one strength an exposure in OMOP (tests/test_omop_write.py)
            item.pop("daily_dose", None)
    doc["id"] = str(number)
    return doc


@pytest.fixture(scope="module")
def small_rules() -> Rules:
    return Rules.from_text(SMALL_RULES)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(docs=st.lists(patient_doc(), min_size=20, max_size=50))
def test_generated_patients_get_the_same_truths_from_both_engines(
    docs: list[dict[str, Any]], small_rules: Rules, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """40 batches of 20-50 generated patients (about 1,400), one DuckDB database a batch."""
    patients = [load_patient(unique_ids(doc, i + 1)) for i, doc in enumerate(docs)]
    tables, _ = patients_to_omop(patients)
    warehouse = open_written("duckdb-file", tables, tmp_path_factory.mktemp("generated"))
    found, compared = disagreements(small_rules, warehouse)
    assert found == []
    assert compared > 0


def truths(results: Iterable[PatientResult]) -> Mapping[str, list[Truth]]:
    return {r.patient_id: [c.truth for c in r.criteria] for r in results}

"""OMOP rows written where each SQL engine reads them (a DuckDB file, Parquet and CSV folders read
in place, Spark, PostgreSQL) and read back through SQL give the patients that were written: the
same answers, criterion by criterion. The loaders and the column types (exact decimals, dates) are
what is tested here; docs/sql.md."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from warehouse_helpers import ENGINES, open_written

from criteria_lang import Rules
from criteria_lang.records.omop import ReadSummary, read_omop_tables
from criteria_lang.records.omop_write import patients_to_omop
from criteria_lang.records.patient_json import read_patients
from criteria_lang.records.timeline import Patient
from criteria_lang.sql.cdm import CDM_TABLES
from criteria_lang.sql.warehouse import Warehouse, WarehouseError, open_warehouse, table_files

ROOT = Path(__file__).resolve().parents[1]
TRIAL = "nct03562065"


@pytest.fixture(scope="module")
def patients() -> list[Patient]:
    return [p for p in read_patients(ROOT / "examples" / TRIAL) if isinstance(p, Patient)]


def dump(warehouse: Warehouse) -> dict[str, list[dict[str, object]]]:
    """Every CDM table as rows, through SQL."""
    out: dict[str, list[dict[str, object]]] = {}
    for table, columns in CDM_TABLES.items():
        names = list(columns)
        rows: Iterator[tuple[object, ...]] = warehouse.rows(
            f"SELECT {', '.join(names)} FROM {table}"
        )
        out[table] = [dict(zip(names, row, strict=True)) for row in rows]
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_written_patients_read_back_through_sql_give_the_same_answers(
    engine: str, patients: list[Patient], tmp_path: Path
) -> None:
    tables, writer = patients_to_omop(patients)
    warehouse = open_written(engine, tables, tmp_path)
    try:
        present = warehouse.columns()
        assert set(CDM_TABLES) <= set(present)
        assert present["measurement"] >= {"value_as_number", "unit_concept_id"}
        rows = dump(warehouse)
        # Numbers come back as the decimals written, never through a float.
        values = [r["value_as_number"] for r in rows["measurement"] if r["value_as_number"]]
        assert values and all(
            isinstance(v, Decimal) or isinstance(v, str) and Decimal(v) for v in values
        )
    finally:
        warehouse.close()
    summary = ReadSummary()
    back = {p.id: p for p in read_omop_tables(rows, summary=summary) if isinstance(p, Patient)}
    assert summary.problems == []
    rules = Rules.from_file(ROOT / "rules" / f"{TRIAL}.crit")
    for patient in patients:
        again = back[str(writer.person_ids[patient.id])]
        before, after = rules.evaluate(patient), rules.evaluate(again)
        assert [c.truth for c in before.criteria] == [c.truth for c in after.criteria]
        assert before.verdict == after.verdict


def test_a_folder_of_files_names_its_tables_by_file(tmp_path: Path) -> None:
    (tmp_path / "PERSON.csv").write_text("person_id\n1\n")
    (tmp_path / "measurement").mkdir()
    (tmp_path / "measurement" / "part-0.parquet").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a table")
    found = table_files(tmp_path)
    assert set(found) == {"person", "measurement"}
    assert found["person"][0] == "csv" and found["measurement"][0] == "parquet"


def test_what_cannot_be_opened_says_why(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="expected duckdb:PATH"):
        open_warehouse("mysql://x")
    with pytest.raises(WarehouseError, match="no such DuckDB file or folder"):
        open_warehouse(f"duckdb:{tmp_path / 'missing.duckdb'}")
    with pytest.raises(WarehouseError, match="no person table"):
        open_warehouse(f"duckdb:{tmp_path}")

"""`criteria sql` and `criteria screen --omop` (docs/sql.md, "Command line")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from criteria_lang.cli.main import main
from criteria_lang.records.omop_write import patients_to_omop
from criteria_lang.records.patient_json import read_patients
from criteria_lang.records.timeline import Patient
from criteria_lang.sql.warehouse import write_omop

ROOT = Path(__file__).resolve().parents[1]
TRIAL = "nct03562065"
RULES = ROOT / "rules" / f"{TRIAL}.crit"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    patients = [p for p in read_patients(ROOT / "examples" / TRIAL) if isinstance(p, Patient)]
    tables, writer = patients_to_omop(patients)
    folder = tmp_path_factory.mktemp("omop") / "parquet"
    write_omop(tables, folder, "parquet")
    return folder, writer.person_ids


def test_sql_prints_one_query_per_dialect_and_names_what_it_leaves_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for dialect in ("duckdb", "spark", "postgres"):
        assert main(["sql", str(RULES), "--dialect", dialect]) == 0
        out, err = capsys.readouterr()
        assert out.startswith(
            f"-- NCT03562065: screening query (criteria-lang SQL engine, {dialect})"
        )
        assert "WITH persons AS" in out and out.rstrip().endswith(";")
        for line in err.splitlines():
            assert " is not compiled to SQL: " in line
    assert main(["sql", str(RULES), "--dialect", "no-such-dialect"]) == 2


def test_screen_omop_gives_the_verdicts_of_screening_the_patients(
    warehouse: tuple[Path, dict[str, int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, person_ids = warehouse
    attrition = tmp_path / "attrition.json"
    status = main(
        [
            "screen",
            str(RULES),
            "--omop",
            f"duckdb:{folder}",
            "--format",
            "jsonl",
            "--attrition",
            str(attrition),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0
    sql = {r["patient"]: r for r in map(json.loads, out.splitlines()) if "patient" in r}
    assert main(["screen", str(RULES), str(ROOT / "examples" / TRIAL), "--format", "jsonl"]) == 0
    out, _ = capsys.readouterr()
    python = {r["patient"]: r for r in map(json.loads, out.splitlines()) if "patient" in r}
    assert len(sql) == len(python) == len(person_ids)
    for ours, person in person_ids.items():
        a, b = python[ours], sql[str(person)]
        assert (a["verdict"], a["deciding"]) == (b["verdict"], b["deciding"])
    assert "SQL engine on DuckDB over the files in" in err
    assert "attrition: 16 persons" in err
    data = json.loads(attrition.read_text())
    assert data["persons"] == 16
    rows = data["criteria"]
    assert [r["id"] for r in rows][:3] == ["I1", "I2", "I3"]
    assert all(sum(r["counts"].values()) == 16 for r in rows)
    remaining = [r["remaining"] for r in rows]
    assert remaining == sorted(remaining, reverse=True)  # nobody comes back
    eligible = sum(1 for row in sql.values() if row["verdict"] == "eligible")
    assert rows[-1]["remaining_for_certain"] == eligible


def test_screen_omop_without_fallback_stops_and_says_which_criteria(
    warehouse: tuple[Path, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = warehouse
    status = main(["screen", str(RULES), "--omop", f"duckdb:{folder}", "--no-fallback"])
    _, err = capsys.readouterr()
    if status == 0:
        assert "judged by the Python engine" not in err  # everything compiled
    else:
        assert status == 1 and "not compiled to SQL:" in err


def test_screen_omop_usage_errors(
    warehouse: tuple[Path, dict[str, int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = warehouse
    assert main(["screen", str(RULES), str(folder), "--omop", f"duckdb:{folder}"]) == 2
    assert main(["screen", str(RULES), "--omop", f"duckdb:{tmp_path / 'none.duckdb'}"]) == 2
    assert main(["screen", str(RULES), "--omop", "oracle://x"]) == 2
    assert main(["screen", str(RULES)]) == 2
    capsys.readouterr()


def test_the_sql_engine_is_imported_only_by_its_commands() -> None:
    code = (
        "import sys, criteria_lang.cli.main as m; m.build_parser(); "
        "print(sorted(n for n in ('sqlglot', 'duckdb', 'pyspark', 'psycopg') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

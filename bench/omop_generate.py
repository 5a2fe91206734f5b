"""A synthetic OMOP CDM v5.4 database for the SQL engine's benchmarks (docs/sql.md, "Scale").

    python bench/omop_generate.py --persons 1000000 --out /work/cache/omop-1m [--events 100]

Writes one Parquet file per OMOP table (and the criteria_* tables) into `--out`, generated inside
DuckDB: fast (about a minute for 1M persons on 2 cores) and in bounded memory.

How: `--templates` patients of bench/generate.py (the lupus clinic around NCT03562065's
screening: labs in several units, overlapping medication exposures with doses, scores, facts,
reviews) are written to OMOP by criteria_lang.records.omop_write. Person i is template i mod T,
every date of it (birth, coverage, events, trial dates) moved back by the same number of days
(0-729, from i), so that its answers stay its template's. Measurements are kept at random so
that a person has about `--events` events on average. The vocabulary (concept, concept_ancestor,
drug_strength) is the templates'. Nothing is committed: the output lives under /work/cache or
bench/out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
import generate  # noqa: E402

from criteria_lang.records.omop_write import OmopWriter  # noqa: E402
from criteria_lang.records.patient_json import load_patient  # noqa: E402
from criteria_lang.sql.cdm import CDM_TABLES  # noqa: E402
from criteria_lang.sql.warehouse import write_omop  # noqa: E402

# Event tables: (table, id column, date columns shifted).
EVENTS = {
    "condition_occurrence": (
        "condition_occurrence_id",
        ("condition_start_date", "condition_end_date"),
    ),
    "drug_exposure": ("drug_exposure_id", ("drug_exposure_start_date", "drug_exposure_end_date")),
    "measurement": ("measurement_id", ("measurement_date",)),
    "observation": ("observation_id", ("observation_date",)),
    "procedure_occurrence": ("procedure_occurrence_id", ("procedure_date", "procedure_end_date")),
}
PER_PERSON = {
    "observation_period": (
        "observation_period_id",
        ("observation_period_start_date", "observation_period_end_date"),
    ),
    "criteria_date": (None, ("date_value",)),
    "criteria_review": (None, ("answer_date",)),
}
VOCABULARY = ("concept", "concept_ancestor", "drug_strength")
OPEN_END = "DATE '2099-12-31'"


def templates(count: int) -> tuple[dict[str, list[dict[str, object]]], int]:
    """`count` bench/generate.py patients written to OMOP; those OMOP cannot hold are skipped."""
    writer = OmopWriter()
    skipped = 0
    for index in range(count):
        try:
            writer.write_patient(load_patient(generate.make_patient(generate.DEFAULT_SEED, index)))
        except ValueError:
            skipped += 1
    return writer.tables, skipped


def shifted(column: str) -> str:
    """A date moved back by the person's shift; the open end 2099-12-31 stays open."""
    return (
        f"CASE WHEN t.{column} = {OPEN_END} THEN t.{column} "
        f"ELSE CAST(t.{column} - INTERVAL (r.shift) DAY AS DATE) END"
    )


def build(
    con: duckdb.DuckDBPyConnection, persons: int, n_templates: int, keep: float, out: Path
) -> None:
    con.execute(
        f"CREATE TEMP TABLE r AS SELECT i AS person_id, (i % {n_templates}) + 1 AS tpl, "
        f"(hash(i) % 730)::INTEGER AS shift FROM range(1, {persons} + 1) AS g(i)"
    )
    out.mkdir(parents=True, exist_ok=True)

    def copy(table: str, select: str) -> None:
        con.execute(
            f"COPY ({select}) TO '{out / (table + '.parquet')}' (FORMAT PARQUET, COMPRESSION ZSTD)"
        )

    cols = {table: list(CDM_TABLES[table]) for table in CDM_TABLES}
    # person: the birth date moves with the rest.
    person = ", ".join(
        {
            "person_id": "r.person_id",
            "year_of_birth": "year(b)",
            "month_of_birth": "month(b)",
            "day_of_birth": "day(b)",
            "birth_datetime": "CAST(b AS TIMESTAMP)",
            "person_source_value": "CAST(r.person_id AS VARCHAR)",
        }.get(c, f"t.{c}")
        + f" AS {c}"
        for c in cols["person"]
    )
    copy(
        "person",
        f"SELECT {person} FROM r "
        "JOIN (SELECT *, CAST(birth_datetime AS DATE) AS b0 FROM tpl_person) t "
        "ON t.person_id = r.tpl, "
        "LATERAL (SELECT CAST(t.b0 - INTERVAL (r.shift) DAY AS DATE) AS b) ORDER BY r.person_id",
    )
    for table, (ident, dates) in {**EVENTS, **PER_PERSON}.items():
        exprs = []
        for c in cols[table]:
            if c == "person_id":
                exprs.append("r.person_id AS person_id")
            elif c == ident:
                # A new id per row, in the template's order (ties between same-day events).
                exprs.append(f"r.person_id * 10000 + t.rk AS {c}")
            elif c in dates:
                exprs.append(f"{shifted(c)} AS {c}")
            else:
                exprs.append(f"t.{c} AS {c}")
        order = ident or "person_id"
        ranked = (
            f"(SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY {order}) AS rk "
            f"FROM tpl_{table})"
        )
        where = (
            f"WHERE hash(r.person_id, t.rk) % 1000 < {int(keep * 1000)}"
            if table == "measurement"
            else ""
        )
        joined = f"FROM r JOIN {ranked} t ON t.person_id = r.tpl {where}"
        copy(table, f"SELECT {', '.join(exprs)} {joined} ORDER BY 1")
    for table in VOCABULARY:
        copy(table, f"SELECT * FROM tpl_{table}")
    for table in CDM_TABLES:
        if not (out / f"{table}.parquet").exists():
            copy(table, f"SELECT * FROM tpl_{table} WHERE FALSE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100, help="mean events a person")
    parser.add_argument("--templates", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--memory", default="4GB", help="DuckDB memory_limit")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tables, skipped = templates(args.templates)
    n = len(tables["person"])
    events = sum(len(tables.get(t, ())) for t in EVENTS)
    measurements = len(tables.get("measurement", ()))
    other = events - measurements
    keep = min(1.0, max(0.0, (args.events * n - other) / measurements)) if measurements else 1.0
    with tempfile.TemporaryDirectory() as scratch:
        source = write_omop(tables, Path(scratch) / "templates.duckdb")
        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{args.memory}'")
        con.execute(f"ATTACH '{source}' AS tpl (READ_ONLY)")
        for table in CDM_TABLES:
            con.execute(f"CREATE VIEW tpl_{table} AS SELECT * FROM tpl.{table}")
        made = time.perf_counter()
        build(con, args.persons, n, keep, args.out)
        counts = {
            t: con.execute(f"SELECT count(*) FROM '{args.out / (t + '.parquet')}'").fetchone()[0]  # type: ignore[index]
            for t in EVENTS
        }
    total = sum(counts.values())
    size = sum(f.stat().st_size for f in args.out.glob("*.parquet"))
    print(
        f"{args.out}: {args.persons:,} persons from {n} templates ({skipped} skipped: not writable "
        f"to OMOP), {total:,} events ({total / args.persons:.1f} a person; measurements kept "
        f"{keep:.0%}), {size / 1e9:.2f} GB Parquet; templates {made - started:.1f} s, "
        f"generation {time.perf_counter() - made:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

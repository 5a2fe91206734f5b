"""Where OMOP data lives: DuckDB (a `.duckdb` file, or a folder of CSV or Parquet files read in
place), Spark (local or a cluster) and PostgreSQL; and writing OMOP rows to each (docs/sql.md).

`open_warehouse("duckdb:omop/")` gives a `Warehouse`: its SQL dialect (for sqlglot), the tables
and columns present, and `rows(sql)` to run a query. The drivers (duckdb, pyspark, psycopg) are
imported only when a warehouse of theirs is opened.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import attrs

from criteria_lang.sql.cdm import CDM_TABLES

__all__ = [
    "Warehouse",
    "WarehouseError",
    "load_postgres",
    "open_warehouse",
    "table_files",
    "write_omop",
]

_NULL = "\\N"
_FILE = re.compile(r"^(?P<table>[A-Za-z_][A-Za-z0-9_]*)\.(?P<ext>parquet|csv|csv\.gz)$", re.I)


class WarehouseError(Exception):
    """A warehouse that cannot be opened or read; the message says which and why."""


class Warehouse(Protocol):
    """An OMOP database the SQL engine queries."""

    dialect: str  # a sqlglot dialect name: duckdb, spark, postgres
    description: str

    def columns(self) -> Mapping[str, frozenset[str]]:
        """The OMOP tables present (lower case) and their columns (lower case)."""
        ...

    def rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        """Run one query; its rows."""
        ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Files


def table_files(folder: Path) -> dict[str, tuple[str, list[Path]]]:
    """OMOP tables in a folder: `person.parquet`, `person.csv(.gz)`, or `person/` holding Parquet
    or CSV parts (a Spark or Hive-style output). Table -> (format, files). Names are matched
    without regard to case (Eunomia's CSVs are `PERSON.csv`)."""
    found: dict[str, tuple[str, list[Path]]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            parquet = sorted(p for p in entry.iterdir() if p.name.lower().endswith(".parquet"))
            texts = sorted(
                p for p in entry.iterdir() if p.name.lower().endswith((".csv", ".csv.gz"))
            )
            if parquet or texts:
                found[entry.name.lower()] = ("parquet", parquet) if parquet else ("csv", texts)
            continue
        match = _FILE.match(entry.name)
        if match:
            fmt = "parquet" if match["ext"].lower() == "parquet" else "csv"
            found.setdefault(match["table"].lower(), (fmt, []))[1].append(entry)
    return found


def _csv_value(value: object) -> str:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | Decimal | int):
        return str(value)
    text = str(value)
    if text == _NULL:
        raise ValueError(f"the text {_NULL!r} cannot be written")
    return text


def _write_csv(path: Path, table: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns = list(CDM_TABLES[table])
    unknown = {c for row in rows for c in row} - set(columns)
    if unknown:
        raise ValueError(f"{table}: columns not in OMOP CDM v5.4: {sorted(unknown)}")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in columns])
    return columns


def _ddl(table: str) -> str:
    return ", ".join(f"{c} {t}" for c, t in CDM_TABLES[table].items())


def write_omop(
    tables: Mapping[str, Sequence[Mapping[str, Any]]], target: Path, fmt: str = "duckdb"
) -> Path:
    """Write OMOP rows (`omop_write.OmopWriter.tables`) with the CDM's column types: a DuckDB file
    (`fmt="duckdb"`, `target` the file), or a folder of one Parquet or CSV file per table
    (`fmt="parquet"` / `"csv"`, `target` the folder). Every table of CDM_TABLES is written, empty
    when there are no rows, so that a query finds every table it names."""
    import duckdb

    unknown = set(tables) - set(CDM_TABLES)
    if unknown:
        raise ValueError(f"not OMOP CDM tables criteria-lang writes: {sorted(unknown)}")
    if fmt not in ("duckdb", "parquet", "csv"):
        raise ValueError(f"unknown format {fmt!r}: duckdb, parquet or csv")
    if fmt == "duckdb":
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        con = duckdb.connect(str(target))
    else:
        target.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for table in CDM_TABLES:
                rows = tables.get(table, ())
                con.execute(f"CREATE TABLE {table} ({_ddl(table)})")
                if rows:
                    path = Path(scratch) / f"{table}.csv"
                    _write_csv(path, table, rows)
                    options = f"HEADER, NULLSTR '{_NULL}', QUOTE '\"'"
                    con.execute(f"COPY {table} FROM '{_quote(path)}' ({options})")
                if fmt != "duckdb":
                    out = target / f"{table}.{fmt}"
                    options = "FORMAT PARQUET" if fmt == "parquet" else "HEADER, FORMAT CSV"
                    con.execute(f"COPY {table} TO '{_quote(out)}' ({options})")
    finally:
        con.close()
    return target


def _quote(path: Path | str) -> str:
    return str(path).replace("'", "''")


# --------------------------------------------------------------------------------------------
# Opening


def open_warehouse(spec: str) -> Warehouse:
    """`duckdb:PATH` (a .duckdb file or a folder of OMOP CSV / Parquet files), `spark:PATH` (a
    folder) or `spark:DATABASE` (tables of the Spark catalog), `postgresql://...` (libpq URL;
    `?options=-csearch_path%3Dcdm` selects the schema)."""
    if spec.startswith(("postgresql://", "postgres://")):
        return PostgresWarehouse.open(spec)
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in ("duckdb", "spark"):
        raise WarehouseError(
            f"{spec!r}: expected duckdb:PATH, spark:PATH, spark:DATABASE or postgresql://..."
        )
    if kind == "duckdb":
        return DuckDBWarehouse.open(Path(rest))
    return SparkWarehouse.open(rest)


@attrs.define
class DuckDBWarehouse:
    con: Any
    description: str
    dialect: str = "duckdb"

    @classmethod
    def open(cls, path: Path) -> DuckDBWarehouse:
        warehouse = cls._open(path)
        # The screen's query is one wide tree of common table expressions; DuckDB's
        # projection pull-up pass spends seconds on it and gains nothing there.
        warehouse.con.execute("SET disabled_optimizers = 'projection_pullup'")
        return warehouse

    @classmethod
    def _open(cls, path: Path) -> DuckDBWarehouse:
        import duckdb

        if path.is_dir():
            files = table_files(path)
            if "person" not in files:
                raise WarehouseError(f"{path}: no person table (person.parquet, person.csv ...)")
            con = duckdb.connect()
            for table, (fmt, paths) in files.items():
                listed = ", ".join(f"'{_quote(p)}'" for p in paths)
                if fmt == "parquet":
                    source = f"read_parquet([{listed}])"
                else:
                    # Every column as text, cast by the engine to its CDM type: a number is read
                    # as the decimal written, never through a float.
                    source = f"read_csv([{listed}], header = true, all_varchar = true)"
                con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM {source}')
            return cls(con, f"DuckDB over the files in {path}")
        if not path.is_file():
            raise WarehouseError(f"{path}: no such DuckDB file or folder")
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as error:
            raise WarehouseError(f"{path}: {error}") from None
        return cls(con, f"DuckDB file {path}")

    def columns(self) -> Mapping[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        query = (
            "SELECT lower(table_name), lower(column_name) FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = current_schema()"
        )
        for table, column in self.con.execute(query).fetchall():
            out.setdefault(table, set()).add(column)
        return {t: frozenset(c) for t, c in out.items()}

    def rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        cursor = self.con.execute(sql)
        while batch := cursor.fetchmany(10_000):
            yield from batch

    def close(self) -> None:
        self.con.close()


@attrs.define
class SparkWarehouse:
    session: Any
    description: str
    dialect: str = "spark"
    database: str | None = None

    @classmethod
    def open(cls, where: str) -> SparkWarehouse:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise WarehouseError(
                "spark: needs pyspark (pip install 'criteria-lang[spark]')"
            ) from None
        builder = SparkSession.builder.appName("criteria-lang")
        if not os.environ.get("SPARK_REMOTE") and "MASTER" not in os.environ:
            builder = builder.master(os.environ.get("CRITERIA_SPARK_MASTER", "local[*]"))
        session = (
            builder.config("spark.sql.session.timeZone", "UTC")
            # A decimal product that does not fit is an error, never rounded (docs/sql.md).
            .config("spark.sql.decimalOperations.allowPrecisionLoss", "false")
            .config("spark.sql.ansi.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        path = Path(where)
        if where and path.is_dir():
            for table, (fmt, paths) in table_files(path).items():
                names = [str(p) for p in paths]
                frame = (
                    session.read.parquet(*names)
                    if fmt == "parquet"
                    else session.read.option("header", True).csv(names)
                )
                frame.createOrReplaceTempView(table)
            return cls(session, f"Spark ({session.sparkContext.master}) over the files in {path}")
        if where:
            session.catalog.setCurrentDatabase(where)
        return cls(session, f"Spark ({session.sparkContext.master}) database {where or 'default'}")

    def columns(self) -> Mapping[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        current = self.session.catalog.currentDatabase()
        for table in self.session.catalog.listTables():
            if table.isTemporary or table.database == current:
                names = self.session.table(table.name).columns  # the schema, no job
                out[table.name.lower()] = frozenset(n.lower() for n in names)
        return out

    def rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        # collect() runs one job; toLocalIterator() one per partition, several times slower. A
        # screen's result is one row per person, which the driver holds.
        for row in self.session.sql(sql).collect():
            yield tuple(row)

    def close(self) -> None:
        pass  # the session is shared by the process; Spark stops it at exit


@attrs.define
class PostgresWarehouse:
    con: Any
    description: str
    dialect: str = "postgres"

    @classmethod
    def open(cls, url: str) -> PostgresWarehouse:
        try:
            import psycopg
        except ImportError:
            raise WarehouseError(
                "postgresql: needs psycopg (pip install 'criteria-lang[postgres]')"
            ) from None
        try:
            con = psycopg.connect(url, autocommit=True)
        except psycopg.Error as error:
            raise WarehouseError(f"{_redact(url)}: {error}") from None
        return cls(con, f"PostgreSQL {_redact(url)}")

    def columns(self) -> Mapping[str, frozenset[str]]:
        query = (
            "SELECT lower(table_name), lower(column_name) FROM information_schema.columns "
            "WHERE table_schema = ANY (current_schemas(false))"
        )
        out: dict[str, set[str]] = {}
        with self.con.cursor() as cursor:
            for table, column in cursor.execute(query):
                out.setdefault(table, set()).add(column)
        return {t: frozenset(c) for t, c in out.items()}

    def rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        with self.con.cursor() as cursor:
            cursor.execute(sql)
            while batch := cursor.fetchmany(10_000):
                yield from batch

    def close(self) -> None:
        self.con.close()


def _redact(url: str) -> str:
    """A connection URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def load_postgres(url: str, tables: Mapping[str, Sequence[Mapping[str, Any]]], schema: str) -> None:
    """Create `schema` (dropped first) with every CDM table and copy the rows in (for tests and
    for loading a small OMOP extract)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con, con.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        cursor.execute(f"CREATE SCHEMA {schema}")
        for table, spec in CDM_TABLES.items():
            columns = ", ".join(f"{c} {t.replace('DECIMAL', 'NUMERIC')}" for c, t in spec.items())
            cursor.execute(f"CREATE TABLE {schema}.{table} ({columns})")
            rows = tables.get(table, ())
            if not rows:
                continue
            names = list(spec)
            with cursor.copy(f"COPY {schema}.{table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row.get(c) for c in names])

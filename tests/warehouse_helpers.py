"""Opening the warehouses the SQL tests run on: DuckDB always; Spark and PostgreSQL when this
machine has them. Without them a test skips and says why, unless CI asks for them
(`CRITERIA_REQUIRE_SPARK=1`, `CRITERIA_REQUIRE_POSTGRES=1`, set by .ci/run): then it fails."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from criteria_lang.sql.warehouse import Warehouse, load_postgres, open_warehouse, write_omop

ENGINES = ("duckdb-file", "duckdb-parquet", "duckdb-csv", "spark", "postgres")


def _unavailable(name: str, reason: str) -> None:
    if os.environ.get(f"CRITERIA_REQUIRE_{name.upper()}") == "1":
        pytest.fail(f"{name} is required here (CRITERIA_REQUIRE_{name.upper()}=1): {reason}")
    pytest.skip(reason)


def open_written(
    engine: str, tables: Mapping[str, Sequence[Mapping[str, Any]]], tmp: Path
) -> Warehouse:
    """Write `tables` where `engine` reads them, and open that warehouse."""
    if engine == "duckdb-file":
        return open_warehouse(f"duckdb:{write_omop(tables, tmp / 'omop.duckdb')}")
    if engine in ("duckdb-parquet", "duckdb-csv"):
        fmt = engine.split("-")[1]
        return open_warehouse(f"duckdb:{write_omop(tables, tmp / fmt, fmt)}")
    if engine == "spark":
        try:
            import pyspark  # noqa: F401
        except ImportError:
            _unavailable("spark", "pyspark is not installed (pip install 'criteria-lang[spark]')")
        if shutil.which("java") is None:
            _unavailable("spark", "no java on PATH (apt-get install default-jre-headless)")
        return open_warehouse(f"spark:{write_omop(tables, tmp / 'parquet', 'parquet')}")
    assert engine == "postgres"
    url = os.environ.get("CRITERIA_POSTGRES_URL")
    if not url:
        _unavailable(
            "postgres", "no server: set CRITERIA_POSTGRES_URL (.ci/postgres.sh starts one)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("postgres", "psycopg is not installed (pip install 'criteria-lang[postgres]')")
    assert url is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    load_postgres(url, tables, schema)
    sep = "&" if "?" in url else "?"
    return open_warehouse(f"{url}{sep}options=-csearch_path%3D{schema}")

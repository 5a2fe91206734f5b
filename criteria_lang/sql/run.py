"""Run a compiled screen on a warehouse (docs/sql.md, "Running").

`run_screen(plan, warehouse)` compiles the plan for the tables the warehouse has and the units its
data carry, runs the query, and yields one `SqlRow` per person: each compiled criterion's truth,
the verdict and the deciding criteria as the SQL made them. Criteria the engine does not compile
are listed in `CompiledScreen.fallback`; `omop_rows(warehouse, person_ids)` fetches those persons'
rows for the OMOP reader, so that a caller can judge them with the Python engine
(criteria_lang/screen_sql.py does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
from sqlglot import exp

from criteria_lang.core.data_units import DATA_UNITS
from criteria_lang.core.results import Truth
from criteria_lang.plan import model as p
from criteria_lang.sql.cdm import CDM_TABLES
from criteria_lang.sql.compile import CompiledScreen, CompileOptions, compile_plan
from criteria_lang.sql.events import BUILTIN_UNITS, OPERATOR_EQUALS
from criteria_lang.sql.warehouse import Warehouse

__all__ = ["SqlRow", "compile_for", "data_units", "omop_rows", "run_screen"]


@attrs.frozen
class SqlRow:
    person_id: str
    record_error: bool
    truths: Mapping[str, Truth]  # compiled criteria only
    verdict: str | None  # None when some criterion was left to the Python engine
    deciding: tuple[str, ...]


def data_units(warehouse: Warehouse) -> set[str]:
    """The UCUM codes of the unit concepts the data use (measurement, observation and
    drug_strength units), as the reader reads them: the concept table's code, else its built-in
    list."""
    columns = warehouse.columns()
    codes = {row.ucum for row in DATA_UNITS} | set(BUILTIN_UNITS.values())
    if "concept" in columns:
        uses = [
            (table, column)
            for table, column in (
                ("measurement", "unit_concept_id"),
                ("observation", "unit_concept_id"),
                ("drug_strength", "amount_unit_concept_id"),
                ("drug_strength", "numerator_unit_concept_id"),
                ("drug_strength", "denominator_unit_concept_id"),
            )
            if column in columns.get(table, ())
        ]
        if uses:
            ids = " UNION ".join(f"SELECT DISTINCT {c} AS unit_id FROM {t}" for t, c in uses)
            sql = (
                f"SELECT DISTINCT c.concept_code FROM concept c JOIN ({ids}) u "
                "ON c.concept_id = u.unit_id WHERE LOWER(c.vocabulary_id) = 'ucum'"
            )
            codes |= {str(row[0]) for row in warehouse.rows(sql) if row[0] is not None}
    return codes


def compile_for(
    plan: p.Plan, warehouse: Warehouse, options: CompileOptions | None = None
) -> CompiledScreen:
    return compile_plan(
        plan,
        warehouse.columns(),
        options=options,
        units=data_units(warehouse),
        bounds=has_bounds(warehouse),
    )


def has_bounds(warehouse: Warehouse) -> bool:
    """Whether some result carries an operator other than '=' (OMOP's 4172703): a bound, or
    text naming the operator. Without any, the compiled comparisons leave out interval logic."""
    columns = warehouse.columns()
    tables = [
        t for t in ("measurement", "observation") if "operator_concept_id" in columns.get(t, ())
    ]
    for table in tables:
        operator = exp.Cast(this=exp.column("operator_concept_id"), to=exp.DataType.build("BIGINT"))
        probe = (
            exp.select(exp.Literal.number(1))
            .from_(table)
            .where(
                exp.and_(
                    exp.Not(this=exp.Is(this=operator, expression=exp.Null())),
                    exp.Not(
                        this=operator.copy().isin(
                            exp.Literal.number(0), exp.Literal.number(OPERATOR_EQUALS)
                        )
                    ),
                )
            )
            .limit(1)
        )
        if list(warehouse.rows(probe.sql(dialect=warehouse.dialect))):
            return True
    return False


def run_screen(
    plan: p.Plan, warehouse: Warehouse, compiled: CompiledScreen | None = None
) -> Iterator[SqlRow]:
    compiled = compiled or compile_for(plan, warehouse)
    sql = compiled.sql(warehouse.dialect, pretty=False)
    ids = [c.id for c in plan.criteria]
    for row in warehouse.rows(sql):
        person, error, *values = row
        truths = {
            ident: Truth(value)
            for ident, value in zip(ids, values[: len(ids)], strict=True)
            if value is not None
        }
        verdict, deciding = values[len(ids)], values[len(ids) + 1]
        yield SqlRow(
            str(person),
            bool(error),
            truths,
            verdict,
            tuple(d for d in (deciding or "").split(",") if d),
        )


_ID_COLUMNS = {
    "condition_occurrence": "condition_occurrence_id",
    "drug_exposure": "drug_exposure_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "device_exposure": "device_exposure_id",
    "measurement": "measurement_id",
    "observation": "observation_id",
    "specimen": "specimen_id",
    "visit_occurrence": "visit_occurrence_id",
    "visit_detail": "visit_detail_id",
}
_VOCABULARY = ("concept", "concept_ancestor", "drug_strength")


def omop_rows(
    warehouse: Warehouse, person_ids: Iterable[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of the tables the OMOP reader reads, for these persons (all when None), each
    table's rows in the order of their ids as text: the order in which the SQL engine breaks
    ties between same-day events. The vocabulary tables come whole."""
    present = warehouse.columns()
    wanted = None if person_ids is None else sorted({int(i) for i in person_ids})
    out: dict[str, list[dict[str, Any]]] = {}
    for table, spec in CDM_TABLES.items():
        if table not in present:
            continue
        names = [c for c in spec if c in present[table]]
        select = exp.select(*names).from_(table)
        if wanted is not None and "person_id" in names and table not in _VOCABULARY:
            if not wanted:
                out[table] = []
                continue
            select = select.where(
                exp.column("person_id").isin(*(exp.Literal.number(i) for i in wanted))
            )
        ident = _ID_COLUMNS.get(table)
        if ident in names:
            select = select.order_by(
                exp.Cast(this=exp.column(ident), to=exp.DataType.build("VARCHAR"))
            )
        rows = warehouse.rows(select.sql(dialect=warehouse.dialect))
        out[table] = [dict(zip(names, row, strict=True)) for row in rows]
    return out

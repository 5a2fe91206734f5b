"""Screen an OMOP warehouse with the SQL engine, and the Python engine where SQL cannot go yet.

`screen_warehouse(rules, "duckdb:omop/")` runs the rule file's plan as one SQL query on the
warehouse (criteria_lang/sql/), one result per person. A criterion the SQL engine does not compile
(`fallback`, with the reason) is judged by the Python engine on the person's rows read through
criteria_lang.records.omop, in batches, and the result says so (`WarehouseScreen.fallback`);
with `fallback=False` the screen stops with those reasons instead (NotCompiled). Never a silent
different answer: both engines implement docs/language.md, and tests/test_sql_engine.py holds them
to the same truths. The attrition table (`Attrition`) counts, in the file's order, how many persons
each criterion leaves and its met / not met / unknown / needs review counts (docs/sql.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from criteria_lang.api import Rules
from criteria_lang.core.results import CriterionResult, PatientResult, Truth, overall
from criteria_lang.records.omop import read_omop_tables
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.timeline import Patient
from criteria_lang.sql.compile import CompiledScreen, CompileOptions
from criteria_lang.sql.run import SqlRow, compile_for, omop_rows, run_screen
from criteria_lang.sql.warehouse import Warehouse, open_warehouse

__all__ = ["Attrition", "NotCompiled", "WarehouseScreen", "screen_warehouse"]

FALLBACK_BATCH = 2_000


class NotCompiled(Exception):
    """Criteria the SQL engine does not compile, with why (the screen was asked not to fall
    back to the Python engine)."""

    def __init__(self, reasons: Mapping[str, str]) -> None:
        self.reasons = dict(reasons)
        lines = [f"{ident}: {why}" for ident, why in self.reasons.items()]
        super().__init__("not compiled to SQL:\n  " + "\n  ".join(lines))


@attrs.define
class Attrition:
    """Per criterion in file order: its counts, and how many persons remain after it."""

    criteria: Sequence[tuple[str, str]]  # (id, section)
    counts: dict[str, Counter[str]] = attrs.field(factory=dict)
    # Persons not ruled out by any criterion so far (unknown or review keep a person), and
    # persons who pass every criterion so far for certain.
    remaining: list[int] = attrs.field(factory=list)
    certain: list[int] = attrs.field(factory=list)
    persons: int = 0

    def add(self, result: PatientResult) -> None:
        if not self.remaining:
            self.remaining = [0] * len(self.criteria)
            self.certain = [0] * len(self.criteria)
        self.persons += 1
        open_, sure = True, True
        for index, c in enumerate(result.criteria):
            self.counts.setdefault(c.id, Counter())[c.truth.value] += 1
            open_ = open_ and not c.blocks
            sure = sure and c.passes
            self.remaining[index] += open_
            self.certain[index] += sure

    def to_dict(self) -> dict[str, Any]:
        return {
            "persons": self.persons,
            "criteria": [
                {
                    "id": ident,
                    "section": section,
                    "counts": {t.value: self.counts.get(ident, Counter())[t.value] for t in Truth},
                    "remaining": self.remaining[i] if self.remaining else 0,
                    "remaining_for_certain": self.certain[i] if self.certain else 0,
                }
                for i, (ident, section) in enumerate(self.criteria)
            ],
        }


@attrs.define
class WarehouseScreen:
    rules: Rules
    warehouse: Warehouse
    compiled: CompiledScreen
    dates: Mapping[str, dt.date]
    attrition: Attrition
    fallback_persons: int = 0

    @property
    def fallback(self) -> Mapping[str, str]:
        return self.compiled.fallback

    def results(self) -> Iterator[PatientResult | RecordError]:
        """One result per person (or a RecordError), in person_id order of the warehouse."""
        rows = run_screen(self.rules.plan, self.warehouse, self.compiled)
        batch: list[SqlRow] = []
        for row in rows:
            if row.record_error:
                yield RecordError(
                    f"person/{row.person_id}",
                    (Problem(f"person[{row.person_id}]", "its birth date is not a calendar date"),),
                )
                continue
            if not self.fallback:
                yield self._record(self._result(row, {}))
                continue
            batch.append(row)
            if len(batch) >= FALLBACK_BATCH:
                yield from self._judge(batch)
                batch = []
        if batch:
            yield from self._judge(batch)

    def _record(self, result: PatientResult) -> PatientResult:
        self.attrition.add(result)
        return result

    def _judge(self, batch: list[SqlRow]) -> Iterator[PatientResult | RecordError]:
        """The criteria left to the Python engine, on these persons' OMOP rows."""
        tables = omop_rows(self.warehouse, [row.person_id for row in batch])
        patients: dict[str, Patient | RecordError] = {}
        for record in read_omop_tables(tables, dates=self.dates):
            key = record.id if isinstance(record, Patient) else record.source.rsplit("/", 1)[-1]
            patients[key] = record
        self.fallback_persons += len(batch)
        for row in batch:
            found = patients.get(row.person_id)
            if isinstance(found, RecordError):
                yield found
                continue
            python = self.rules.evaluate(found) if found is not None else None
            extra = {c.id: c for c in python.criteria} if python is not None else {}
            yield self._record(self._result(row, extra))

    def _result(self, row: SqlRow, python: Mapping[str, CriterionResult]) -> PatientResult:
        criteria = []
        for criterion in self.rules.plan.criteria:
            if criterion.id in row.truths:
                criteria.append(
                    CriterionResult(
                        criterion.id, criterion.section, criterion.text, row.truths[criterion.id]
                    )
                )
            elif criterion.id in python:
                criteria.append(python[criterion.id])
            else:
                why = self.fallback.get(criterion.id, "no result")
                criteria.append(
                    CriterionResult(
                        criterion.id,
                        criterion.section,
                        criterion.text,
                        Truth.UNKNOWN,
                        missing=(f"not judged: {why}",),
                    )
                )
        found = tuple(criteria)
        verdict, deciding = overall(found)
        return PatientResult(
            row.person_id,
            self.rules.trial_id,
            verdict,
            deciding,
            found,
            source=f"person/{row.person_id}",
        )


def screen_warehouse(
    rules: Rules,
    warehouse: str | Warehouse,
    *,
    dates: Mapping[str, dt.date] | None = None,
    fallback: bool = True,
) -> WarehouseScreen:
    """Compile `rules` for the warehouse (`duckdb:PATH`, `spark:PATH`, `postgresql://...`, or an
    open Warehouse) and prepare the screen; `results()` runs it."""
    opened = open_warehouse(warehouse) if isinstance(warehouse, str) else warehouse
    options = CompileOptions(policy=rules.policy, dates=dict(dates or {}))
    compiled = compile_for(rules.plan, opened, options)
    if compiled.fallback and not fallback:
        raise NotCompiled(compiled.fallback)
    criteria = [(c.id, c.section) for c in rules.plan.criteria]
    return WarehouseScreen(rules, opened, compiled, dict(dates or {}), Attrition(criteria))


def ids(records: Iterable[PatientResult | RecordError]) -> list[str]:
    return [r.patient_id if isinstance(r, PatientResult) else r.source for r in records]

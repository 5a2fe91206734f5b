"""The SQL engine as an engine of the conformance cases (tests/test_conformance_cases.py).

A case's patient (as each of the case's formats reads it) is written to OMOP by our writer
(records/omop_write.py) into a DuckDB database, its rules are compiled by the SQL engine
(criteria_lang/sql/) and run there; each expected criterion must have the expected truth. A case
whose criterion the compiler does not compile is skipped with the compiler's own reason
(NotSupported: the construct), never by a list kept here. The SQL engine gives truths only: no
evidence text and no missing items, so those expectations are the Python engine's alone.

`python tests/conformance_sql.py` runs every case through the SQL engine and prints, per topic,
how many run and how many skip, and which constructs the skips need (docs/sql.md quotes it).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from criteria_lang import Rules
from criteria_lang.core.results import CriterionResult, PatientResult, Truth, overall
from criteria_lang.records.omop_write import patients_to_omop
from criteria_lang.records.timeline import Patient
from criteria_lang.sql.compile import CompileOptions
from criteria_lang.sql.run import compile_for, run_screen
from criteria_lang.sql.warehouse import open_warehouse, write_omop

Case = dict[str, Any]


class SqlNotSupported(Exception):
    """Raised with the SQL compiler's (or the OMOP writer's) reason; the runner skips."""


def sql_engine(case: Case, rule_text: str, patient: Patient) -> PatientResult:
    rules = Rules.from_text(rule_text, policy=case.get("policy", "coverage"))
    wanted = list(case.get("expect", {})) or [c.id for c in rules.plan.criteria]
    try:
        tables, writer = patients_to_omop([patient])
    except ValueError as why:
        raise SqlNotSupported(f"the OMOP writer cannot hold this patient: {why}") from None
    with tempfile.TemporaryDirectory() as scratch:
        warehouse = open_warehouse(f"duckdb:{write_omop(tables, Path(scratch) / 'case.duckdb')}")
        try:
            options = CompileOptions(policy=rules.policy)
            compiled = compile_for(rules.plan, warehouse, options)
            if "expect_outcomes" in case:
                raise SqlNotSupported("outcomes")
            for ident in wanted:
                if ident in compiled.fallback:
                    raise SqlNotSupported(f"{ident}: {compiled.fallback[ident]}")
            rows = list(run_screen(rules.plan, warehouse, compiled))
        finally:
            warehouse.close()
    assert [r.person_id for r in rows] == [str(writer.person_ids[patient.id])], rows
    row = rows[0]
    criteria = tuple(
        CriterionResult(
            c.id,
            c.section,
            c.text,
            row.truths.get(c.id, Truth.UNKNOWN),
            missing=(),
        )
        for c in rules.plan.criteria
    )
    verdict, deciding = overall(criteria)
    return PatientResult(patient.id, rules.trial_id, verdict, deciding, criteria)


def summary() -> tuple[list[tuple[str, int, int, int, int]], Counter[str]]:
    """Per topic file: (topic, cases, case x format runs, run through SQL, skipped), and the
    skips' reasons with their counts. Every run case is checked as the test checks it."""
    import pytest
    import test_conformance_cases as runner

    rows: dict[str, list[int]] = {}
    reasons: Counter[str] = Counter()
    seen: set[str] = set()
    for source, case, fmt in runner.CASES:
        row = rows.setdefault(source, [0, 0, 0, 0])
        if case["id"] not in seen:
            seen.add(case["id"])
            row[0] += 1
        row[1] += 1
        try:
            runner.test_case(source, case, fmt, "sql")
        except pytest.skip.Exception as why:
            row[3] += 1
            reasons[_construct(str(why.msg))] += 1
        else:
            row[2] += 1
    table = [(topic, c[0], c[1], c[2], c[3]) for topic, c in sorted(rows.items())]
    return table, reasons


def _construct(message: str) -> str:
    """`sql engine: I1: dose filters` -> `dose filters`."""
    text = message.removeprefix("sql engine: ")
    head, sep, tail = text.partition(": ")
    return tail if sep and head.isalnum() and len(head) <= 4 else text


def main() -> None:
    rows, reasons = summary()
    print(f"{'topic':<18} {'cases':>5} {'runs':>5} {'SQL':>5} {'skip':>5}")
    for topic, cases, runs, ran, skipped in rows:
        print(f"{topic:<18} {cases:>5} {runs:>5} {ran:>5} {skipped:>5}")
    total = [sum(c) for c in zip(*(r[1:] for r in rows), strict=True)]
    print(f"{'all':<18} {total[0]:>5} {total[1]:>5} {total[2]:>5} {total[3]:>5}")
    print("\nruns: a case x each format it is read from (json, fhir, omop); SQL: run through")
    print("DuckDB with the expected truth; skip: the SQL engine does not compile the construct:")
    for reason, count in reasons.most_common():
        print(f"  {count:>4}  {reason}")


if __name__ == "__main__":
    main()

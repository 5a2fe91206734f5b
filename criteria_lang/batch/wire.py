"""Results and read summaries as JSON bytes, between the worker processes and the parent.

Worker processes send what they computed as JSON (orjson), never as pickles: the bytes are the
same `json_record` a `--format jsonl` run prints, so the parent writes a JSON Lines row exactly as
it arrived, and rebuilds the result objects for the other formats with `row_from_json`. The
round trip is exact (tests/test_batch.py checks it on every example and Synthea patient).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from criteria_lang.core.results import (
    CriterionResult,
    Evidence,
    PatientResult,
    Truth,
    Verdict,
)
from criteria_lang.records.fhir import ReadSummary, ResourceProblem
from criteria_lang.records.patient_json import Problem, RecordError

Row = PatientResult | RecordError


def json_record(row: Row) -> dict[str, Any]:
    """A row as JSON data: `PatientResult.to_dict()`, or a record that could not be read
    (report/tables.py writes JSON Lines with it; kept here so that workers need no tables)."""
    if isinstance(row, RecordError):
        return {
            "verdict": "error",
            "source": row.source,
            "problems": [{"path": p.path, "message": p.message} for p in row.problems],
        }
    return row.to_dict()


def row_json(row: Row) -> bytes:
    """One row as JSON: exactly the line `criteria screen --format jsonl` writes for it."""
    return orjson.dumps(json_record(row))


def _evidence(doc: Mapping[str, Any]) -> Evidence:
    return Evidence(doc["what"], doc["detail"], doc["event_id"], doc["date"])


def _criterion(doc: Mapping[str, Any]) -> CriterionResult:
    return CriterionResult(
        id=doc["id"],
        section=doc["section"],
        text=doc["text"],
        truth=Truth(doc["result"]),
        evidence=tuple(_evidence(e) for e in doc["evidence"]),
        missing=tuple(doc["missing"]),
        questions=tuple(doc["questions"]),
    )


def row_from_record(doc: Mapping[str, Any]) -> Row:
    """The row whose `json_record` is `doc`."""
    if doc.get("verdict") == "error":
        problems = tuple(Problem(p["path"], p["message"]) for p in doc["problems"])
        return RecordError(doc["source"], problems)
    return PatientResult(
        patient_id=doc["patient"],
        trial=doc["trial"],
        verdict=Verdict(doc["verdict"]),
        deciding=tuple(doc["deciding"]),
        criteria=tuple(_criterion(c) for c in doc["criteria"]),
        source=doc["source"],
    )


def row_from_json(data: bytes) -> Row:
    return row_from_record(orjson.loads(data))


# ---------------------------------------------------------------------------- FHIR summaries


def _problem_record(item: ResourceProblem) -> list[Any]:
    return [item.source, item.problem.path, item.problem.message, item.patient]


def summary_record(summary: ReadSummary) -> dict[str, Any]:
    """A `ReadSummary` as JSON data (its counters as lists of pairs)."""
    return {
        "read": sorted(summary.read.items()),
        "skipped": [[t, why, n] for (t, why), n in sorted(summary.skipped.items())],
        "notes": [[t, note, n] for (t, note), n in sorted(summary.notes.items())],
        "problems": [_problem_record(p) for p in summary.problems],
        "files": summary.files,
        "patients": summary.patients,
        "record_errors": summary.record_errors,
    }


def _problems(items: Sequence[Sequence[Any]]) -> list[ResourceProblem]:
    return [
        ResourceProblem(s, Problem(path, message), patient) for s, path, message, patient in items
    ]


def summary_from_record(doc: Mapping[str, Any]) -> ReadSummary:
    return ReadSummary(
        read=Counter({t: n for t, n in doc["read"]}),
        skipped=Counter({(t, why): n for t, why, n in doc["skipped"]}),
        notes=Counter({(t, note): n for t, note, n in doc["notes"]}),
        problems=_problems(doc["problems"]),
        files=doc["files"],
        patients=doc["patients"],
        record_errors=doc["record_errors"],
    )

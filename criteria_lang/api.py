"""The Python API for applications that embed the evaluator.

    from criteria_lang import Rules
    rules = Rules.from_file("rules/nct03562065.crit")     # raises CompileError on a bad file
    result = rules.evaluate("examples/nct03562065/eligible.json")
    result.verdict, result.deciding, result.to_dict()

`Rules.screen` runs many records and yields a result or a `RecordError` for each, never losing one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from .check import CompiledRules, compile_file, compile_text
from .diagnostics import CompileError
from .evaluate import AbsencePolicy, Evaluator
from .load import PatientDataError, Problem, RecordError, load_patient, read_patients
from .outcomes import OutcomeEvaluator
from .results import OutcomeReport, PatientResult
from .timeline import Patient

PatientInput = Patient | Mapping[str, Any] | str | bytes | Path


class Rules:
    """A compiled, checked rule file, ready to evaluate patients."""

    def __init__(self, program: CompiledRules, *, policy: AbsencePolicy = "coverage") -> None:
        if not program.ok:
            raise CompileError(program.diagnostics, program.sources)
        self.program = program
        self.evaluator = Evaluator(program, policy=policy)
        self.policy = policy
        self._outcome_evaluator: OutcomeEvaluator | None = None

    @classmethod
    def from_file(
        cls, path: str | Path, *, policy: AbsencePolicy = "coverage", search_path: Iterable[Path] = ()
    ) -> Rules:
        return cls(compile_file(path, search_path=tuple(search_path)), policy=policy)

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        path: str = "<string>",
        policy: AbsencePolicy = "coverage",
        search_path: Iterable[Path] = (),
    ) -> Rules:
        return cls(compile_text(text, path, search_path=tuple(search_path)), policy=policy)

    @property
    def trial_id(self) -> str:
        return self.evaluator.trial_id

    def evaluate(
        self, patient: PatientInput, *, dates: Mapping[str, dt.date] | None = None
    ) -> PatientResult:
        """Evaluate one patient (a Patient, a dict in our JSON format, JSON text or a path).

        Raises PatientDataError when the patient data cannot be read.
        """
        return self.evaluator.evaluate(with_dates(to_patient(patient), dates))

    def screen(
        self,
        records: Iterable[Patient | RecordError],
        *,
        dates: Mapping[str, dt.date] | None = None,
    ) -> Iterator[PatientResult | RecordError]:
        for record in records:
            if isinstance(record, RecordError):
                yield record
                continue
            try:
                yield self.evaluator.evaluate(with_dates(record, dates))
            except Exception as error:  # noqa: BLE001 - a batch never stops for one record
                problem = Problem("$", f"internal error while evaluating: {error!r}")
                yield RecordError(record.source or record.id, (problem,))


    # ------------------------------------------------------------------ outcomes
    @property
    def outcome_evaluator(self) -> OutcomeEvaluator:
        if self._outcome_evaluator is None:
            self._outcome_evaluator = OutcomeEvaluator(self.program, policy=self.policy)
        return self._outcome_evaluator

    def outcomes(
        self, patient: PatientInput, *, dates: Mapping[str, dt.date] | None = None
    ) -> OutcomeReport:
        """Judge every outcome of the rule file at each of the patient's visits
        (docs/language.md, "Outcomes"). Raises PatientDataError for unreadable patient data."""
        return self.outcome_evaluator.evaluate(with_dates(to_patient(patient), dates))

    def screen_outcomes(
        self,
        records: Iterable[Patient | RecordError],
        *,
        dates: Mapping[str, dt.date] | None = None,
    ) -> Iterator[OutcomeReport | RecordError]:
        """`outcomes` for many records: a report or a `RecordError` for each, never losing one."""
        for record in records:
            if isinstance(record, RecordError):
                yield record
                continue
            try:
                yield self.outcome_evaluator.evaluate(with_dates(record, dates))
            except Exception as error:  # noqa: BLE001 - a batch never stops for one record
                problem = Problem("$", f"internal error while judging outcomes: {error!r}")
                yield RecordError(record.source or record.id, (problem,))


def to_patient(patient: PatientInput) -> Patient:
    if isinstance(patient, Patient):
        return patient
    if isinstance(patient, Path):
        return load_patient(patient.read_bytes(), source=str(patient))
    if isinstance(patient, str) and not patient.lstrip().startswith("{"):
        path = Path(patient)
        return load_patient(path.read_bytes(), source=str(path))
    return load_patient(patient)  # type: ignore[arg-type]


def with_dates(patient: Patient, dates: Mapping[str, dt.date] | None) -> Patient:
    """Fill in trial dates the record does not carry (the record's own dates win)."""
    if not dates:
        return patient
    merged = dict(dates)
    merged.update(patient.dates)
    return attrs.evolve(patient, dates=merged)


__all__ = [
    "CompileError",
    "PatientDataError",
    "RecordError",
    "Rules",
    "read_patients",
    "to_patient",
]

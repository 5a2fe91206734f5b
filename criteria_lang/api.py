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

from criteria_lang.check.checker import CompiledRules, compile_file, compile_text
from criteria_lang.core.diagnostics import CompileError
from criteria_lang.core.results import OutcomeReport, PatientResult
from criteria_lang.engine.evaluate import AbsencePolicy, Evaluator
from criteria_lang.engine.outcomes import OutcomeEvaluator
from criteria_lang.plan.lower import lower
from criteria_lang.records.patient_json import (
    PatientDataError,
    Problem,
    RecordError,
    load_patient,
    read_patients,
)
from criteria_lang.records.timeline import Patient
from criteria_lang.syntax.nodes import Age, Define, DerivedValue, Name, Ref, Window, walk

PatientInput = Patient | Mapping[str, Any] | str | bytes | Path


class Rules:
    """A compiled, checked rule file, ready to evaluate patients."""

    def __init__(self, program: CompiledRules, *, policy: AbsencePolicy = "coverage") -> None:
        if not program.ok:
            raise CompileError(program.diagnostics, program.sources)
        self.program = program
        # What the rule file means (docs/plan.md): the engines run this, never the tree.
        self.plan = lower(program)
        self.evaluator = Evaluator(self.plan, policy=policy)
        self.policy = policy
        self._outcome_evaluator: OutcomeEvaluator | None = None

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        policy: AbsencePolicy = "coverage",
        search_path: Iterable[Path] = (),
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

    def dates_needed(self) -> dict[str, tuple[str, ...]]:
        """The trial dates the criteria count from, each with the ids of the criteria that
        need it (through their windows, ages and derived values, and the definitions they use),
        in the order the trial lists its dates."""
        return dates_needed(self.program)

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
            self._outcome_evaluator = OutcomeEvaluator(self.plan, policy=self.policy)
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


def dates_needed(program: CompiledRules) -> dict[str, tuple[str, ...]]:
    """Trial date name -> ids of the criteria that need it (see `Rules.dates_needed`)."""
    index = program.index_date
    defines = {d.name.text: d for d in program.rule_file.defines}

    def names(node: object, seen: frozenset[str]) -> set[str]:
        found: set[str] = set()
        for item in walk(node):
            if isinstance(item, Window):
                if item.anchor is not None:
                    found |= trial_date(item.anchor)
                elif item.kind != "any_time" and index is not None:
                    found.add(index)
                if item.anchor_end is not None:
                    found |= trial_date(item.anchor_end)
            elif isinstance(item, Age | DerivedValue):
                found |= trial_date(item.anchor)
            elif isinstance(item, Ref) and len(item.parts) == 1:
                define: Define | None = defines.get(item.parts[0])
                if define is not None and item.parts[0] not in seen:
                    found |= names(define.expr, seen | {item.parts[0]})
        return found

    def trial_date(anchor: Name) -> set[str]:
        """A plain name is a trial date (or a definition's); visits, birth, events (their own
        windows are walked), `it` and `end of` are not."""
        if type(anchor) is not Name or anchor.text in defines:
            return set()
        return {anchor.text}

    by_date: dict[str, list[str]] = {}
    for criterion in program.criteria:
        for name in names(criterion.expr, frozenset()):
            by_date.setdefault(name, []).append(criterion.id.text)
    order = {name: i for i, name in enumerate(program.dates)}
    return {
        name: tuple(by_date[name])
        for name in sorted(by_date, key=lambda n: (order.get(n, len(order)), n))
    }


def to_patient(patient: PatientInput) -> Patient:
    if isinstance(patient, Patient):
        return patient
    if isinstance(patient, Path):
        return load_patient(patient.read_bytes(), source=str(patient))
    if isinstance(patient, str) and not patient.lstrip().startswith("{"):
        path = Path(patient)
        return load_patient(path.read_bytes(), source=str(path))
    return load_patient(patient)


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

"""Outcomes: a rule file's endpoints judged at each of a patient's visits.

An outcome is compiled once, like a criterion (`evaluate.Compiler`); this module decides which
visits each outcome is judged at, runs it with the visit as the `visit` date, and works out when
it was first met (docs/language.md, "Outcomes"). Results are the typed `OutcomeReport` of
`results.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs

from criteria_lang.check.checker import CompiledRules
from criteria_lang.core.results import OutcomeReport, OutcomeSeries, Truth, VisitOutcome
from criteria_lang.engine.evaluate import (
    AbsencePolicy,
    Compiler,
    Context,
    ExprFn,
    MissingData,
    Outcome,
    describe_window,
)
from criteria_lang.records.timeline import Event, Patient, Visit, visit_key
from criteria_lang.syntax import nodes as n

EVERY_VISIT = n.Timepoints(every=True)
WindowFn = Callable[[Context, Event | None], tuple[dt.date | None, dt.date | None]]


@attrs.frozen
class CompiledOutcome:
    outcome: n.Outcome
    fn: ExprFn
    timepoints: n.Timepoints
    baseline: str  # the name of the baseline date
    # Resolves `at every visit WINDOW`'s window for a patient (no visit is judged then).
    window: WindowFn | None

    @property
    def timepoints_text(self) -> str:
        if not self.timepoints.every:
            return "at visits " + ", ".join(f'"{v}"' for v in self.timepoints.visits)
        if self.timepoints.window is None:
            return "at every visit"
        return f"at every visit {describe_window(self.timepoints.window)}"


class OutcomeEvaluator:
    """Runs a rule file's outcomes against patients. Build once, call `evaluate` per patient."""

    def __init__(self, program: CompiledRules, *, policy: AbsencePolicy = "coverage") -> None:
        if not program.ok:
            raise ValueError("cannot evaluate a rule file with errors; run `criteria check`")
        self.program = program
        self.policy = policy
        self.trial_id = program.trial.registry_id if program.trial else program.path
        compiler = Compiler(program)
        compiled = []
        for section in program.outcome_sections:
            for outcome in section.outcomes:
                timepoints = outcome.timepoints or section.timepoints or EVERY_VISIT
                baseline = outcome.baseline or section.baseline
                baseline_name = baseline.text if baseline else program.index_date
                assert baseline_name is not None, "the checker requires a baseline date"
                window = None
                if timepoints.window is not None:
                    # Timepoint windows count plain durations (checked), so no concept is needed.
                    window = compiler.window(timepoints.window, None)  # type: ignore[arg-type]
                compiled.append(
                    CompiledOutcome(
                        outcome,
                        compiler.expr(outcome.expr, program.module),
                        timepoints,
                        baseline_name,
                        window,
                    )
                )
        self.outcomes = tuple(compiled)

    def evaluate(self, patient: Patient) -> OutcomeReport:
        visits = sorted(patient.visits, key=lambda v: v.date)  # stable: ties keep record order
        contexts: dict[int, Context] = {}

        def context(index: int) -> Context:
            # One context per visit, shared by the outcomes judged at it (queries are memoized
            # per context, and their windows may count from the visit).
            if index not in contexts:
                previous = visits[index - 1] if index > 0 else None
                contexts[index] = Context(
                    patient, self.policy, visit=visits[index], previous_visit=previous
                )
            return contexts[index]

        series = tuple(
            self.series(patient, compiled, visits, context) for compiled in self.outcomes
        )
        return OutcomeReport(
            patient_id=patient.id,
            trial=self.trial_id,
            visits=tuple((v.name, v.date) for v in visits),
            outcomes=series,
            source=patient.source,
        )

    def series(
        self,
        patient: Patient,
        compiled: CompiledOutcome,
        visits: list[Visit],
        context: Callable[[int], Context],
    ) -> OutcomeSeries:
        outcome = compiled.outcome
        baseline_date = patient.dates.get(compiled.baseline)
        judged = self.judged_visits(patient, compiled, visits, baseline_date)
        results: list[VisitOutcome] = []
        for index, visit in enumerate(visits):
            verdict = judged[index]
            if verdict is False:
                results.append(VisitOutcome(visit.name, visit.date, None))
                continue
            if isinstance(verdict, str):  # cannot tell whether the visit is judged
                results.append(
                    VisitOutcome(visit.name, visit.date, Truth.UNKNOWN, missing=(verdict,))
                )
                continue
            ctx = context(index)
            ctx.criterion_id = outcome.id.text
            try:
                result: Outcome = compiled.fn(ctx)
            except MissingData as missing:
                result = Outcome(Truth.UNKNOWN, missing=(missing.reason,))
            results.append(
                VisitOutcome(
                    visit.name,
                    visit.date,
                    result.truth,
                    evidence=result.evidence,
                    missing=tuple(dict.fromkeys(result.missing)),
                    questions=tuple(dict.fromkeys(result.questions)),
                )
            )
        first = next((r for r in results if r.truth is Truth.MET), None)
        before = results if first is None else results[: results.index(first)]
        open_before = tuple(r.visit for r in before if r.judged and not r.truth.decided)  # type: ignore[union-attr]
        days = None
        if first is not None and baseline_date is not None:
            days = (first.date - baseline_date).days
        return OutcomeSeries(
            id=outcome.id.text,
            text=outcome.text,
            timepoints=compiled.timepoints_text,
            baseline=compiled.baseline,
            baseline_date=baseline_date,
            visits=tuple(results),
            first_met=first.visit if first else None,
            first_met_date=first.date if first else None,
            days_to_first_met=days,
            open_before=open_before,
        )

    def judged_visits(
        self,
        patient: Patient,
        compiled: CompiledOutcome,
        visits: list[Visit],
        baseline_date: dt.date | None,
    ) -> list[bool | str]:
        """Per visit: judged (True), not judged (False), or why it cannot be told (text)."""
        timepoints = compiled.timepoints
        if not timepoints.every:
            wanted = {visit_key(name) for name in timepoints.visits}
            return [visit_key(v.name) in wanted for v in visits]
        if baseline_date is None:
            reason = (
                f"the patient's {compiled.baseline} date is not recorded, so it is not known "
                "which visits follow it"
            )
            return [reason for _ in visits]
        start: dt.date | None = None
        end: dt.date | None = None
        if compiled.window is not None:
            try:
                start, end = compiled.window(Context(patient, self.policy), None)
            except MissingData as missing:
                return [f"the visits to judge are not known: {missing.reason}" for _ in visits]
        out: list[bool | str] = []
        for visit in visits:
            inside = (start is None or visit.date >= start) and (end is None or visit.date <= end)
            out.append(visit.date > baseline_date and inside)
        return out

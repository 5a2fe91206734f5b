"""Outcomes: a plan's endpoints judged at each of a patient's visits.

An outcome is compiled once, like a criterion (engine/compile.py); this module decides which
visits each outcome is judged at, runs it with the visit as the `visit` date, and works out when
it was first met (docs/language.md, "Outcomes"). Results are the typed `OutcomeReport` of
core/results.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs

from criteria_lang.core.results import (
    Evidence,
    OutcomeReport,
    OutcomeSeries,
    Truth,
    VisitOutcome,
)
from criteria_lang.core.visits import visit_key
from criteria_lang.engine.compile import Compiler
from criteria_lang.engine.context import AbsencePolicy, Context
from criteria_lang.engine.evaluate import judge
from criteria_lang.engine.index import ConceptIndex
from criteria_lang.engine.schedule import OnTime, on_time, schedule_of
from criteria_lang.engine.values import MissingData, Outcome
from criteria_lang.engine.windows import resolve
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Patient, Visit


@attrs.frozen
class CompiledOutcome:
    outcome: p.OutcomePlan
    fn: Callable[[Context], Outcome]


class OutcomeEvaluator:
    """Runs a plan's outcomes against patients. Build once, call `evaluate` per patient."""

    def __init__(self, plan: p.Plan, *, policy: AbsencePolicy = "coverage") -> None:
        self.plan = plan
        self.policy = policy
        self.trial_id = plan.trial
        compiler = Compiler(plan)
        self.outcomes = tuple(CompiledOutcome(o, compiler.expr(o.expr)) for o in plan.outcomes)
        self.find_event = compiler.event_finder
        self.index = ConceptIndex()  # shared by every patient (engine/index.py)
        self.schedule = schedule_of(plan)

    def evaluate(self, patient: Patient) -> OutcomeReport:
        visits = sorted(patient.visits, key=lambda v: v.date)  # stable: ties keep record order
        contexts: dict[int, Context] = {}

        def context(index: int) -> Context:
            # One context per visit, shared by the outcomes judged at it (queries are memoized
            # per context, and their windows may count from the visit).
            if index not in contexts:
                previous = visits[index - 1] if index > 0 else None
                contexts[index] = Context(
                    patient,
                    self.policy,
                    visit=visits[index],
                    previous_visit=previous,
                    index=self.index,
                    find_event=self.find_event,
                    schedule=self.schedule,
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
        baseline_date = patient.dates.get(outcome.baseline)
        judged = self.judged_visits(patient, outcome, visits, baseline_date)
        results: list[VisitOutcome] = []
        for index, visit in enumerate(visits):
            verdict = judged[index]
            timing = on_time(self.schedule, patient, visit)
            if verdict is False:  # not one of this outcome's timepoints
                results.append(VisitOutcome(visit.name, visit.date, None))
                continue
            if isinstance(verdict, str):  # cannot tell whether the visit is judged
                results.append(
                    VisitOutcome(visit.name, visit.date, Truth.UNKNOWN, missing=(verdict,))
                )
                continue
            if timing is not None and timing.inside is not True:
                results.append(off_schedule(visit, timing))
                continue
            ctx = context(index)
            ctx.criterion_id = outcome.id
            result = judge(compiled.fn, ctx)
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
        return summarise(outcome, baseline_date, results)

    def judged_visits(
        self,
        patient: Patient,
        outcome: p.OutcomePlan,
        visits: list[Visit],
        baseline_date: dt.date | None,
    ) -> list[bool | str]:
        """Per visit: judged (True), not judged (False), or why it cannot be told (text)."""
        timepoints = outcome.timepoints
        if not timepoints.every:
            wanted = {visit_key(name) for name in timepoints.visits}
            return [visit_key(v.name) in wanted for v in visits]
        if baseline_date is None:
            reason = (
                f"the patient's {outcome.baseline} date is not recorded, so it is not known "
                "which visits follow it"
            )
            return [reason for _ in visits]
        start: dt.date | None = None
        end: dt.date | None = None
        if timepoints.window is not None:
            try:
                start, end = resolve(
                    timepoints.window, Context(patient, self.policy, index=self.index), None
                )
            except MissingData as missing:
                return [f"the visits to judge are not known: {missing.reason}" for _ in visits]
        return [
            visit.date > baseline_date
            and (start is None or visit.date >= start)
            and (end is None or visit.date <= end)
            for visit in visits
        ]


def off_schedule(visit: Visit, timing: OnTime) -> VisitOutcome:
    """A visit done outside its scheduled window is not used for that visit: not judged, saying
    why; when it cannot be told, unknown (docs/language.md, "The visit schedule")."""
    if timing.inside is None:
        return VisitOutcome(visit.name, visit.date, Truth.UNKNOWN, missing=(timing.why,))
    note = Evidence(f"visit {visit.name}", f"not used: {timing.why}")
    return VisitOutcome(visit.name, visit.date, None, evidence=(note,))


def summarise(
    outcome: p.OutcomePlan, baseline_date: dt.date | None, results: list[VisitOutcome]
) -> OutcomeSeries:
    """The series, with its first met visit and the open visits before it."""
    first = next((r for r in results if r.truth is Truth.MET), None)
    before = results if first is None else results[: results.index(first)]
    open_before = tuple(r.visit for r in before if r.truth is not None and not r.truth.decided)
    days = None
    if first is not None and baseline_date is not None:
        days = (first.date - baseline_date).days
    return OutcomeSeries(
        id=outcome.id,
        text=outcome.text,
        timepoints=outcome.timepoints.text,
        baseline=outcome.baseline,
        baseline_date=baseline_date,
        visits=tuple(results),
        first_met=first.visit if first else None,
        first_met_date=first.date if first else None,
        days_to_first_met=days,
        open_before=open_before,
    )

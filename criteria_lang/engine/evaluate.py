"""The Python engine: a plan (plan/model.py) run against patients, in three-valued logic.

`Evaluator(plan)` compiles each criterion once into small closures (engine/compile.py); running
it on a patient calls them with a per-patient context (engine/context.py). Every result
carries its evidence, and an undecided one says what is missing or what to ask. The engine
reads only the plan, the records and core/: it never sees the rule file's tree or the checker
(docs/architecture.md). The semantics are docs/language.md's.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from criteria_lang.core.results import CriterionResult, PatientResult, overall
from criteria_lang.engine.compile import Compiler
from criteria_lang.engine.context import AbsencePolicy, Context
from criteria_lang.engine.index import ConceptIndex
from criteria_lang.engine.schedule import schedule_of
from criteria_lang.engine.values import UNKNOWN, MissingData, Outcome
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Patient

__all__ = ["AbsencePolicy", "Evaluator"]


@attrs.frozen
class CompiledCriterion:
    criterion: p.Criterion
    fn: Callable[[Context], Outcome]


def judge(fn: Callable[[Context], Outcome], ctx: Context) -> Outcome:
    """Run a compiled criterion or outcome: a date it needs that is missing makes it unknown."""
    try:
        return fn(ctx)
    except MissingData as missing:
        return Outcome(UNKNOWN, missing=(missing.reason,))


class Evaluator:
    """Runs one plan's criteria against patients. Build once, call `evaluate` per patient."""

    def __init__(self, plan: p.Plan, *, policy: AbsencePolicy = "coverage") -> None:
        self.plan = plan
        self.policy = policy
        compiler = Compiler(plan)
        self.criteria = tuple(CompiledCriterion(c, compiler.expr(c.expr)) for c in plan.criteria)
        self.find_event = compiler.event_finder
        self.trial_id = plan.trial
        self.index = ConceptIndex()  # shared by every patient (engine/index.py)
        self.schedule = schedule_of(plan)

    def evaluate(self, patient: Patient) -> PatientResult:
        ctx = Context(
            patient,
            self.policy,
            index=self.index,
            find_event=self.find_event,
            schedule=self.schedule,
        )
        results = []
        for compiled in self.criteria:
            criterion = compiled.criterion
            ctx.criterion_id = criterion.id
            outcome = judge(compiled.fn, ctx)
            results.append(
                CriterionResult(
                    id=criterion.id,
                    section=criterion.section,
                    text=criterion.text,
                    truth=outcome.truth,
                    evidence=outcome.evidence,
                    missing=tuple(dict.fromkeys(outcome.missing)),
                    questions=tuple(dict.fromkeys(outcome.questions)),
                )
            )
        criteria = tuple(results)
        verdict, deciding = overall(criteria)
        return PatientResult(
            patient_id=patient.id,
            trial=self.trial_id,
            verdict=verdict,
            deciding=deciding,
            criteria=criteria,
            source=patient.source,
        )

"""Typed results of an evaluation: per criterion and per patient, serialisable to JSON."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from criteria_lang.core.visits import visit_key


class Truth(str, enum.Enum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"  # the data cannot decide; `missing` says what would
    REVIEW = "needs_review"  # a person must judge; `questions` says what to ask

    @property
    def decided(self) -> bool:
        return self in (Truth.MET, Truth.NOT_MET)


class Verdict(str, enum.Enum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    UNDETERMINED = "undetermined"


@attrs.frozen
class Evidence:
    """One fact that decided (part of) a result: an event, or a computed value."""

    what: str  # e.g. "latest lab egfr"
    detail: str  # e.g. "35 mL/min/1.73m2 on 2024-02-01 (from 0.35 L/min/1.73m2)"
    event_id: str | None = None
    date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "detail": self.detail,
            "event_id": self.event_id,
            "date": self.date,
        }


@attrs.frozen
class CriterionResult:
    id: str
    section: str  # inclusion | exclusion
    text: str
    truth: Truth
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()

    @property
    def blocks(self) -> bool:
        """Does this result make the patient ineligible on its own?"""
        if self.section == "inclusion":
            return self.truth is Truth.NOT_MET
        return self.truth is Truth.MET

    @property
    def passes(self) -> bool:
        if self.section == "inclusion":
            return self.truth is Truth.MET
        return self.truth is Truth.NOT_MET

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "section": self.section,
            "text": self.text,
            "result": self.truth.value,
            "evidence": [e.to_dict() for e in self.evidence],
            "missing": list(self.missing),
            "questions": list(self.questions),
        }


@attrs.frozen
class PatientResult:
    patient_id: str
    trial: str
    verdict: Verdict
    deciding: tuple[str, ...]  # criterion ids that decided the verdict
    criteria: tuple[CriterionResult, ...]
    source: str | None = None

    def criterion(self, ident: str) -> CriterionResult:
        for result in self.criteria:
            if result.id == ident:
                return result
        raise KeyError(ident)

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient": self.patient_id,
            "trial": self.trial,
            "verdict": self.verdict.value,
            "deciding": list(self.deciding),
            "criteria": [c.to_dict() for c in self.criteria],
            "source": self.source,
        }


def overall(criteria: tuple[CriterionResult, ...]) -> tuple[Verdict, tuple[str, ...]]:
    """Eligible when every inclusion is met and no exclusion is; ineligible when one criterion
    decides against; otherwise undetermined, naming the criteria still open."""
    blocking = tuple(c.id for c in criteria if c.blocks)
    if blocking:
        return Verdict.INELIGIBLE, blocking
    open_ = tuple(c.id for c in criteria if not c.passes)
    if open_:
        return Verdict.UNDETERMINED, open_
    return Verdict.ELIGIBLE, ()


# ---------------------------------------------------------------------- outcomes
# Per patient, outcome and visit (docs/language.md, "Outcomes").

NOT_JUDGED = "not_judged"


@attrs.frozen
class VisitOutcome:
    """One outcome at one visit. `truth` is None when the visit is not one of the outcome's
    timepoints: the visit is then not used."""

    visit: str
    date: dt.date
    truth: Truth | None
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()

    @property
    def judged(self) -> bool:
        return self.truth is not None

    @property
    def result(self) -> str:
        """met, not_met, unknown, needs_review or not_judged."""
        return self.truth.value if self.truth is not None else NOT_JUDGED

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit": self.visit,
            "date": self.date.isoformat(),
            "result": self.result,
            "evidence": [e.to_dict() for e in self.evidence],
            "missing": list(self.missing),
            "questions": list(self.questions),
        }


@attrs.frozen
class OutcomeSeries:
    """One outcome over a patient's visits, and when it was first met."""

    id: str
    text: str
    timepoints: str  # e.g. 'at visits "week 24"', 'at every visit within 24 weeks after baseline'
    baseline: str  # the name of the baseline date
    baseline_date: dt.date | None
    visits: tuple[VisitOutcome, ...]
    first_met: str | None = None  # the first judged visit at which the outcome is met
    first_met_date: dt.date | None = None
    days_to_first_met: int | None = None  # first_met_date - baseline_date
    # Judged visits before `first_met` (or, when never met, all judged visits) still open:
    # the first response may have come earlier (or at all).
    open_before: tuple[str, ...] = ()

    def at(self, visit: str) -> VisitOutcome:
        for result in self.visits:
            if visit_key(result.visit) == visit_key(visit):
                return result
        raise KeyError(visit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "timepoints": self.timepoints,
            "baseline": self.baseline,
            "baseline_date": self.baseline_date.isoformat() if self.baseline_date else None,
            "visits": [v.to_dict() for v in self.visits],
            "first_met": self.first_met,
            "first_met_date": self.first_met_date.isoformat() if self.first_met_date else None,
            "days_to_first_met": self.days_to_first_met,
            "open_before": list(self.open_before),
        }


@attrs.frozen
class OutcomeReport:
    """Every outcome of a rule file for one patient, visit by visit."""

    patient_id: str
    trial: str
    visits: tuple[tuple[str, dt.date], ...]  # the patient's visits, in date order
    outcomes: tuple[OutcomeSeries, ...]
    source: str | None = None

    def outcome(self, ident: str) -> OutcomeSeries:
        for series in self.outcomes:
            if series.id == ident:
                return series
        raise KeyError(ident)

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient": self.patient_id,
            "trial": self.trial,
            "visits": [{"name": name, "date": day.isoformat()} for name, day in self.visits],
            "outcomes": [o.to_dict() for o in self.outcomes],
            "source": self.source,
        }

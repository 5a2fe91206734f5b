"""Typed results of an evaluation: per criterion and per patient, serialisable to JSON."""

from __future__ import annotations

import enum
from typing import Any

import attrs


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
        return {"what": self.what, "detail": self.detail, "event_id": self.event_id, "date": self.date}


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

"""The patient timeline: what the evaluator reads.

Every data source (our JSON format, FHIR, OMOP) is turned into these classes. They are plain,
frozen and typed; nothing here knows about rules. Values are `Fraction`s so that a threshold
comparison is exact whatever unit the data came in (see docs/language.md, "Numbers").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import attrs

from criteria_lang.core.bounds import BoundComparator
from criteria_lang.core.codes import CODE_SYSTEMS, Code
from criteria_lang.core.diagnostics import clip
from criteria_lang.core.kinds import EVENT_KINDS, EventKind
from criteria_lang.core.visits import visit_key

__all__ = [
    "CODE_SYSTEMS",
    "DETECTION_LIMITS",
    "EVENT_KINDS",
    "BoundComparator",
    "DetectionLimit",
    "Code",
    "Condition",
    "Event",
    "EventKind",
    "Fact",
    "Interval",
    "Measurement",
    "MedicationExposure",
    "Patient",
    "Procedure",
    "Quantity",
    "ReferenceRange",
    "ReviewAnswer",
    "Visit",
    "find_visit",
    "format_number",
    "visit_key",
]

# Re-exported: readers and the engine format numbers from here.
from criteria_lang.core.numbers import format_number as format_number

# What a result's bound is the limit of (docs/language.md, "Results reported as bounds").
DetectionLimit = Literal["detection", "quantification"]
DETECTION_LIMITS: tuple[DetectionLimit, ...] = ("detection", "quantification")


@attrs.frozen
class Quantity:
    """A value with the unit text it came with (parsed by `units.py` when it is compared).

    With a `comparator` the value is a bound, not the result: `<0.5 mg/dL` says the result is
    below 0.5 mg/dL (FHIR's Quantity.comparator). `limit` says the bound is the assay's limit of
    detection or quantification, for evidence.
    """

    value: Fraction
    unit: str
    # True when `unit` is a UCUM code (FHIR data) rather than our own unit syntax (docs/units.md).
    ucum: bool = False
    comparator: BoundComparator | None = None
    limit: DetectionLimit | None = None

    def __str__(self) -> str:
        text = f"{self.comparator or ''}{format_number(self.value)} {clip(self.unit, 60)}".strip()
        if self.limit is not None:
            side = "below" if self.comparator in ("<", "<=") else "above"
            text += f" ({side} the limit of {self.limit})"
        return text


@attrs.frozen
class ReferenceRange:
    low: Quantity | None = None
    high: Quantity | None = None


@attrs.frozen
class Interval:
    """A closed span of days [start, end]; `end is None` means open-ended (ongoing)."""

    start: dt.date
    end: dt.date | None

    def contains(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@attrs.frozen(kw_only=True)
class Event:
    """Fields every event has. `start` is the event date (onset, exposure start, result date)."""

    id: str
    kind: str
    codes: tuple[Code, ...]
    start: dt.date
    # Last day of the event, inclusive. For point events (labs, procedures, scores, facts) it is
    # the same day as `start`. `None` means ongoing with no known end.
    end: dt.date | None
    # Where in the source this event came from (a JSON path or a FHIR reference), for evidence.
    source: str | None = attrs.field(default=None, eq=False)

    @property
    def display(self) -> str:
        """The event's name for people, cut short (a record may carry a 1 MB display text)."""
        for code in self.codes:
            if code.display:
                return clip(code.display, 100)
        return clip(self.codes[0].code if self.codes else self.id, 100)


@attrs.frozen(kw_only=True)
class Condition(Event):
    status: str | None = None  # e.g. active, resolved, remission (FHIR clinicalStatus)
    attributes: dict[str, str | Fraction | bool] = attrs.field(factory=dict, eq=False)


@attrs.frozen(kw_only=True)
class MedicationExposure(Event):
    """A span of exposure to one drug at one dosing regimen.

    `dose` is the amount per administration and `per_day` the administrations per day, so the
    daily dose is `dose * per_day`. A record that only knows the daily amount gives `daily_dose`.
    """

    dose: Quantity | None = None
    per_day: Fraction | None = None
    daily_dose: Quantity | None = None
    route: str | None = None
    status: str | None = None

    def daily_amount(self) -> Quantity | None:
        if self.daily_dose is not None:
            return self.daily_dose
        if self.dose is not None and self.per_day is not None:
            # Keep `ucum`: a FHIR dose unit such as `[iU]` is not in our own unit syntax.
            return Quantity(self.dose.value * self.per_day, self.dose.unit, self.dose.ucum)
        return None


@attrs.frozen(kw_only=True)
class Measurement(Event):
    """A lab result, an observation (vital signs, body measures) or a score.

    `value` is a Quantity (numeric, with unit; a score has unit "1"), a string for a coded or
    textual result ("positive", "IV") or a bool.
    """

    value: Quantity | str | bool | None = None
    reference_range: ReferenceRange | None = None
    interpretation: str | None = None


@attrs.frozen(kw_only=True)
class Procedure(Event):
    attributes: dict[str, str | Fraction | bool] = attrs.field(factory=dict, eq=False)


@attrs.frozen(kw_only=True)
class Fact(Event):
    """Something site staff record: pregnant, consent signed, contraception agreed."""

    value: str | bool | Fraction | None = None


@attrs.frozen
class ReviewAnswer:
    """A person's answer to a needs-review criterion, recorded in the patient's file."""

    met: bool
    by: str | None = None
    date: dt.date | None = None
    note: str | None = None


@attrs.frozen
class Visit:
    """A study visit (for outcomes): its name and date."""

    name: str
    date: dt.date


def find_visit(visits: Iterable[Visit], name: str) -> Visit | None:
    """The patient's visit of that name: the earliest if several share it."""
    key = visit_key(name)
    found = [v for v in visits if visit_key(v.name) == key]
    return min(found, key=lambda v: v.date) if found else None


@attrs.frozen(kw_only=True)
class Patient:
    id: str
    birth_date: dt.date | None
    sex: str | None
    dates: dict[str, dt.date] = attrs.field(factory=dict)
    events: tuple[Event, ...] = ()
    # The spans the record covers. Absence of an event is only evidence of absence inside them.
    coverage: tuple[Interval, ...] = ()
    reviews: dict[str, ReviewAnswer] = attrs.field(factory=dict)
    visits: tuple[Visit, ...] = ()
    source: str | None = attrs.field(default=None, eq=False)


# Numbers read from data lie within a double's range (docs/limits.md): no clinical value lies
# beyond it, and a text such as 1e999999999 would otherwise cost a billion-digit integer.
MAX_EXPONENT = 308
MIN_EXPONENT = -400
NUMBER_RANGE = "a finite number between -1e308 and 1e308"


def decimal_in_range(value: Decimal) -> bool:
    """Can `value` be read as an exact Fraction at bounded cost? (Checked before converting.)"""
    return value.is_finite() and (value == 0 or MIN_EXPONENT <= value.adjusted() <= MAX_EXPONENT)


_INT_LIMIT: int = 10 ** (MAX_EXPONENT + 1)


def int_in_range(value: int) -> bool:
    return -_INT_LIMIT < value < _INT_LIMIT

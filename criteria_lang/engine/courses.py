"""Medication records read as courses: duplicates, renewals, dose changes and concurrent
products of one drug (docs/language.md, "Courses: how records of one drug are read together").

Sites record what they handle -- a prescription and its dispensings, monthly renewals, the same
course twice, a new record when the dose changes. Doses are added and compared per *course*:

* records of one drug (the most specific member of the queried concept) with the same daily dose
  form one course when each starts within the renewal allowance after the course so far ends;
* a course of another dose that starts while one runs, which ends at most RENEWAL_DAYS later,
  replaces it from its first day (a dose change recorded before the old record was stopped);
* courses of different doses that overlap longer are concurrent: their doses add up.

This module finds the courses and, for any day or span, which records count (one per course).
What a record's dose is in a threshold's unit is the caller's (engine/doses.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction

import attrs

from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.dates import add_days
from criteria_lang.core.units import Unit, UnitError, get_units
from criteria_lang.engine.context import Context
from criteria_lang.engine.evidence import daily_unit
from criteria_lang.engine.values import fmt_date, fmt_quantity
from criteria_lang.records.timeline import Event, MedicationExposure

# A renewal continues a course when it starts at most this many days after the course's last
# day; an overlap of at most this many days between two doses is a replacement, not concurrency.
RENEWAL_DAYS = 7


@attrs.frozen(eq=False)
class Course:
    """Records of one drug at one daily dose, read as one treatment (docs: "Courses").

    `dose` is the daily dose in `unit` (None: not known, a course of one record). `last` is the
    last day of its records (None: ongoing). `cut` is the day a course of another dose replaced
    it: from that day on it is not counted. `note` says how it was read, for evidence.
    """

    drug: str
    records: tuple[MedicationExposure, ...]
    dose: Fraction | None
    unit: Unit | None
    first: dt.date
    last: dt.date | None
    cut: dt.date | None = None
    note: str = ""

    @property
    def end(self) -> dt.date | None:
        """Its last counted day: the day before it was replaced, else its last day."""
        if self.cut is not None:
            return add_days(self.cut, -1)
        return self.last

    @property
    def runs_to(self) -> dt.date | None:
        """The day the treatment runs to: its last day; when that is a single administration of
        a dose given less than daily (a one-day record), the day before the next dose was due (a
        weekly dose given 2 days ago has not stopped). A record with its own end ends there."""
        if self.cut is not None or self.last is None:
            return self.end
        doses = [r for r in self.records if r.end == self.last and r.start == r.end]
        if not doses or any(r.end == self.last and r.start != r.end for r in self.records):
            return self.last
        return add_days(self.last, max(interval_days(r) for r in doses) - 1)

    def counts_on(self, record: MedicationExposure, day: dt.date) -> bool:
        if self.cut is not None and day >= self.cut:
            return False
        return record.start <= day and (record.end is None or day <= record.end)

    @property
    def text(self) -> str:
        """`mycophenolate 2000 mg/day 2024-01-01..2024-06-30 (2 records, one course: a, b)`."""
        dose = fmt_quantity(self.dose, self.unit) if self.dose is not None else "dose unknown"
        span = f"{fmt_date(self.first)}..{fmt_date(self.end) if self.end else 'ongoing'}"
        # No ids: the text must read the same whichever format the records came in.
        words = [f"{len(self.records)} records, one course"] if len(self.records) > 1 else []
        words += [self.note] if self.note else []
        return f"{self.drug} {dose} {span}" + (f" ({'; '.join(words)})" if words else "")


def drug_courses(ctx: Context, concept: ConceptSet, drug: ConceptSet) -> list[Course]:
    """The courses of `drug` (a member of `concept`, or `concept` itself) in the patient's record,
    by first day; memoized per patient."""
    key = ("courses", concept.name, drug.name)
    found: list[Course] | None = ctx.memo.get(key)
    if found is None:
        records = [
            e
            for e in ctx.events("medication", concept)
            if isinstance(e, MedicationExposure) and concept.leaf_for(e.codes) is drug
        ]
        found = ctx.memo[key] = courses_of(drug.short_name, records)
    return found


def courses_by_drug(
    ctx: Context, concept: ConceptSet, events: Iterable[Event]
) -> dict[str, tuple[ConceptSet, list[Course]]]:
    """The courses of each drug (most specific member of `concept`) that `events` belong to."""
    out: dict[str, tuple[ConceptSet, list[Course]]] = {}
    for event in events:
        drug = concept.leaf_for(event.codes)
        if drug.name not in out:
            out[drug.name] = (drug, drug_courses(ctx, concept, drug))
    return out


def course_of(courses: Sequence[Course], record: Event) -> Course | None:
    for course in courses:
        if any(r is record for r in course.records):
            return course
    return None


# --------------------------------------------------------------------------- forming courses


def daily_key(record: MedicationExposure, unit: Unit | None) -> tuple[Fraction, Unit] | None:
    """The record's daily dose in `unit` (or in its own unit per day when `unit` is None), or
    None when it is not known or cannot be read."""
    daily = record.daily_amount()
    if daily is None:
        return None
    try:
        own = daily_unit(daily)
        if unit is None:
            return daily.value, own
        return get_units().convert(daily.value, own, unit), unit
    except UnitError:
        return None


def interval_days(record: MedicationExposure) -> int:
    """Days between two doses of a record given less than daily (once a week: 7), else 1."""
    per_day = record.per_day
    if per_day is not None and 0 < per_day < 1:
        return math.ceil(1 / per_day)
    return 1


def allowance(record: MedicationExposure) -> int:
    """Days after a record's last day within which a renewal continues it: RENEWAL_DAYS, or the
    record's dosing interval when longer (once every 4 weeks: 28)."""
    return max(RENEWAL_DAYS, interval_days(record))


def courses_of(drug: str, records: list[MedicationExposure]) -> list[Course]:
    """Chain the records of one drug into courses, then mark replacements."""
    unit: Unit | None = None
    by_dose: dict[Fraction, list[MedicationExposure]] = {}
    unknown: list[MedicationExposure] = []
    for record in records:
        key = daily_key(record, unit)
        if key is None:
            unknown.append(record)
            continue
        unit = key[1]
        by_dose.setdefault(key[0], []).append(record)
    courses = [
        course for dose, group in by_dose.items() for course in chain(drug, dose, unit, group)
    ]
    # Records whose daily dose is not known: one course only with records of the same days.
    same_days: dict[tuple[dt.date, dt.date | None], list[MedicationExposure]] = {}
    for record in unknown:
        same_days.setdefault((record.start, record.end), []).append(record)
    courses += [
        Course(drug, tuple(g), None, None, first, last, note="its daily dose is not known")
        for (first, last), g in same_days.items()
    ]
    courses.sort(key=lambda c: (c.first, c.records[0].id))
    return mark_replacements(courses)


def chain(
    drug: str, dose: Fraction, unit: Unit | None, records: list[MedicationExposure]
) -> list[Course]:
    """Records of one dose, joined while each starts within the allowance after the last."""
    ordered = sorted(records, key=lambda r: (r.start, r.id))
    groups: list[list[MedicationExposure]] = []
    last: dt.date | None = None  # the course's last day so far (None: ongoing)
    reach = 0  # its renewal allowance, in days
    for record in ordered:
        # A gap of up to `reach` days: the record starts at most reach + 1 days after `last`.
        if groups and (last is None or (record.start - last).days <= reach + 1):
            groups[-1].append(record)
            last = None if last is None or record.end is None else max(last, record.end)
            reach = max(reach, allowance(record))
        else:
            groups.append([record])
            last, reach = record.end, allowance(record)
    return [Course(drug, tuple(g), dose, unit, g[0].start, _last_day(g)) for g in groups]


def _last_day(records: list[MedicationExposure]) -> dt.date | None:
    ends = [r.end for r in records]
    if any(e is None for e in ends):
        return None
    return max(e for e in ends if e is not None)


def mark_replacements(courses: list[Course]) -> list[Course]:
    """A course whose last day falls at most RENEWAL_DAYS after a course of another dose began
    (and before that one ends) is replaced by it from that day (docs: "Courses")."""
    out = list(courses)
    for index, old in enumerate(out):
        if old.dose is None or old.last is None:
            continue  # an ongoing course is never replaced: a later dose runs beside it
        for new in out:
            if new is old or new.dose is None or new.dose == old.dose:
                continue
            overlap = (old.last - new.first).days + 1
            if not (old.first < new.first and 0 < overlap <= RENEWAL_DAYS):
                continue
            if new.last is not None and new.last < old.last:
                continue
            note = (
                f"replaced by the {fmt_quantity(new.dose, new.unit)} course from "
                f"{fmt_date(new.first)} ({overlap} days of overlap)"
            )
            out[index] = attrs.evolve(old, cut=new.first, note=note)
            break
    return out


# --------------------------------------------------------------------------- what counts when

Part = tuple[Course, MedicationExposure]


def counted_on(courses: Iterable[Course], day: dt.date) -> list[Part]:
    """The records counted on `day`: per course, its latest-starting record covering the day."""
    parts: list[Part] = []
    for course in courses:
        covering = [r for r in course.records if course.counts_on(r, day)]
        if covering:
            parts.append((course, max(covering, key=lambda r: (r.start, r.id))))
    return parts


@attrs.frozen
class Segment:
    """Days from `first` to `last` (None: open) on which the same records count."""

    first: dt.date
    last: dt.date | None
    parts: tuple[Part, ...]

    @property
    def days(self) -> int | None:
        return None if self.last is None else (self.last - self.first).days + 1


def segments(
    courses: Sequence[Course], start: dt.date | None, end: dt.date | None
) -> list[Segment]:
    """The spans inside [start, end] on which the same records count, in order; days on which
    nothing counts are left out."""
    points: set[dt.date] = set()
    for course in courses:
        for record in course.records:
            points.add(record.start)
            if record.end is not None:
                points.add(add_days(record.end, 1))
        if course.cut is not None:
            points.add(course.cut)
    if start is not None:
        points = {p for p in points if p > start} | {start}
    if end is not None:
        points = {p for p in points if p <= end}
    ordered = sorted(points)
    out: list[Segment] = []
    for index, first in enumerate(ordered):
        parts = counted_on(courses, first)
        if not parts:
            continue
        nxt = ordered[index + 1] if index + 1 < len(ordered) else None
        last = add_days(nxt, -1) if nxt is not None else end
        if last is None and all(r.end is not None for _, r in parts):
            last = max(r.end for _, r in parts if r.end is not None)
        out.append(Segment(first, last, tuple(parts)))
    return out


def total_of(
    parts: Iterable[Part], amount: Callable[[MedicationExposure], Fraction | str]
) -> tuple[Fraction, list[str]]:
    """The day's total over `parts`, and why any part's amount is not known."""
    total = Fraction(0)
    unknown: list[str] = []
    for _, record in parts:
        value = amount(record)
        if isinstance(value, str):
            unknown.append(value)
        else:
            total += value
    return total, unknown


def parts_text(parts: Sequence[Part]) -> str:
    """How a day's records were read, for evidence: `taken together: ...`, one course, ..."""
    texts = [course.text for course, _ in parts]
    if len(texts) > 1:
        return "taken together: " + "; ".join(texts)
    return texts[0] if texts else "none"


def identical(a: MedicationExposure, b: MedicationExposure) -> bool:
    """Records of one drug with the same days and the same daily dose (count once)."""
    if a.start != b.start or a.end != b.end:
        return False
    key_a = daily_key(a, None)
    if key_a is None:
        return False
    key_b = daily_key(b, key_a[1])
    return key_b is not None and key_a[0] == key_b[0]


def without_duplicates(ctx: Context, concept: ConceptSet, events: list[Event]) -> list[Event]:
    """`count` of medications: records of one drug with the same days and daily dose once."""
    kept: list[Event] = []
    for event in events:
        if not isinstance(event, MedicationExposure):
            kept.append(event)
            continue
        drug = concept.leaf_for(event.codes)
        twin = any(
            isinstance(other, MedicationExposure)
            and concept.leaf_for(other.codes) is drug
            and identical(other, event)
            for other in kept
        )
        if not twin:
            kept.append(event)
    return kept

"""Doses over courses: the daily dose of a drug on a day, cumulative doses, dose changes and
stable doses, daily-dose qualifiers and `ended`, with duplicates counted once, replaced doses
dropped and concurrent doses added up (docs/language.md, "Courses: how records of one drug are
read together"). Courses are formed in engine/courses.py; one record's dose in a threshold's
unit is engine/doses.py's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from fractions import Fraction

import attrs

from criteria_lang.core.bounds import End, Range, holds, inside
from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.results import Evidence
from criteria_lang.core.units import Unit, UnitError
from criteria_lang.engine.context import Context
from criteria_lang.engine.courses import (
    Course,
    Part,
    Segment,
    counted_on,
    course_of,
    courses_by_drug,
    courses_of,
    drug_courses,
    parts_text,
    segments,
)
from criteria_lang.engine.doses import dose_amount
from criteria_lang.engine.evidence import daily_unit, describe_event, event_evidence, is_amount
from criteria_lang.engine.values import Converter, Value, fmt_date, fmt_quantity, unit_of
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Event, MedicationExposure, format_number

Amount = Callable[[MedicationExposure], "tuple[Fraction, str] | str"]


def evidence_note(parts: Sequence[Part], shown: str) -> str:
    """A record's dose as shown, with how its records were read when it is not one record alone:
    duplicates, renewals, a replaced dose, doses taken together."""
    if len(parts) == 1 and len(parts[0][0].records) == 1 and not parts[0][0].note:
        return shown
    return f"{shown} [{parts_text(parts)}]"


# --------------------------------------------------------------------------- daily dose on a day


def daily_total(
    ctx: Context, concept: ConceptSet, day: dt.date, per_day: Unit, basis: str | None, label: str
) -> tuple[Fraction, list[Evidence]] | str:
    """`daily dose DRUG at DATE`: per drug of `concept`, its courses' doses on the day (a
    duplicate once, a replaced course not at all, concurrent courses added up), in `per_day`.
    Evidence in the record's order."""
    events = ctx.events("medication", concept)
    on_day = [e for e in events if counts_that_day(e, day)]
    found: list[tuple[MedicationExposure, tuple[Fraction, str], Sequence[Part]]] = []
    dropped: list[Evidence] = []
    for _, courses in courses_by_drug(ctx, concept, on_day).values():
        parts = counted_on(courses, day)
        for _, record in parts:
            amount = dose_amount(ctx, record, "daily", per_day, basis, concept)
            if isinstance(amount, str):
                return amount
            found.append((record, amount, parts))
        dropped.extend(
            event_evidence(course.records[0], label, f"not counted: {course.text}")
            for course in courses
            if course.cut is not None
            and course.cut <= day
            and any(counts_that_day(r, day) for r in course.records)
        )
    order = {id(e): i for i, e in enumerate(events)}
    found.sort(key=lambda item: order[id(item[0])])
    total = sum((amount[0] for _, amount, _ in found), Fraction(0))
    evidence = [
        event_evidence(record, label, evidence_note(parts, amount[1]))
        for record, amount, parts in found
    ]
    return total, evidence + dropped


def counts_that_day(event: Event, day: dt.date) -> bool:
    return event.start <= day and (event.end is None or day <= event.end)


# --------------------------------------------------------------------------- cumulative dose


def cumulative_dose(
    ctx: Context,
    events: list[Event],
    window: tuple[dt.date | None, dt.date | None],
    label: str,
    concept: ConceptSet,
) -> Value:
    """Sum over the days inside the window of each drug's daily dose that day, in mg (docs:
    "Cumulative dose"): duplicates once, replaced courses not, concurrent ones added up."""
    target = ctx.units.parse("mg")
    start, end = window
    total = Fraction(0)
    evidence: list[Evidence] = []
    kept = {id(e) for e in events}
    for _, courses in courses_by_drug(ctx, concept, events).values():
        for segment in segments(only(courses, kept), start, end):
            days = segment.days
            if days is None:
                record = segment.parts[0][1]
                reason = f"{describe_event(record)} has no end inside the window"
                return Value(None, missing=(reason,), label=label)
            for _, record in segment.parts:
                amount = days_amount(ctx, record, days, target)
                if isinstance(amount, str):
                    return Value(None, missing=(amount,), label=label)
                total += amount
                detail = f"{describe_event(record)}: {days} days -> {fmt_quantity(amount, target)}"
                detail = evidence_note(segment.parts, detail)
                evidence.append(event_evidence(record, label, detail))
    order = {e.id: i for i, e in enumerate(events)}
    merged = sorted(merge_days(evidence), key=lambda item: order.get(item.event_id or "", 0))
    return Value(total, target, tuple(merged), label=label, concept=concept)


def only(courses: list[Course], kept: set[int]) -> list[Course]:
    """The courses with only the records a query kept."""
    out = []
    for course in courses:
        records = tuple(r for r in course.records if id(r) in kept)
        if records:
            out.append(attrs.evolve(course, records=records))
    return out


def days_amount(
    ctx: Context, record: MedicationExposure, days: int, target: Unit
) -> Fraction | str:
    daily = record.daily_amount()
    if daily is None:
        return f"{describe_event(record)}: no daily dose"
    try:
        unit = unit_of(daily)
        amount_unit = unit if is_amount(daily) else ctx.units.multiply(unit, "day")
        return ctx.units.convert(daily.value * days, amount_unit, target)
    except UnitError as error:
        return f"{describe_event(record)}: the dose cannot be read: {error}"


def merge_days(evidence: list[Evidence]) -> list[Evidence]:
    """One evidence line per record: its days in several segments added up."""
    by_event: dict[str | None, Evidence] = {}
    for item in evidence:
        known = by_event.get(item.event_id)
        if known is None:
            by_event[item.event_id] = item
        else:
            by_event[item.event_id] = attrs.evolve(known, detail=f"{known.detail}; {item.detail}")
    return list(by_event.values())


# --------------------------------------------------------------------------- dose change, stable


def dose_pattern(
    ctx: Context,
    kept: list[Event],
    concept: ConceptSet,
    pattern: str,
    start: dt.date | None,
    end: dt.date | None,
) -> tuple[list[Event], list[Evidence], list[tuple[Event, str]]]:
    """`with dose change` / `with stable dose` over the window, per drug, over the drug's courses
    that hold a record the query kept (docs: "Dose change / stable dose")."""
    matched: list[Event] = []
    details: list[Evidence] = []
    undecided: list[tuple[Event, str]] = []
    held = {id(e) for e in kept}
    for drug, courses in courses_by_drug(ctx, concept, kept).values():
        mine = sorted((e for e in kept if concept.leaf_for(e.codes) is drug), key=lambda e: e.start)
        relevant = [
            c
            for c in courses
            if overlaps_window(c, start, end) and any(id(r) in held for r in c.records)
        ]
        unknown = [(e, dose_problem(e)) for e in mine if course_dose_unknown(courses, e)]
        if unknown:
            undecided.extend(unknown)
            continue
        change = why_changed(relevant, start, end)
        first = mine[0]
        if pattern == "change" and change is not None:
            matched.extend(mine)
            details.append(
                Evidence(f"dose change {first.display}", change, first.id, fmt_date(first.start))
            )
        elif pattern != "change" and change is None:
            matched.extend(mine)
            details.append(
                Evidence(
                    f"stable dose {first.display}",
                    stable_text(relevant),
                    first.id,
                    fmt_date(first.start),
                )
            )
    return matched, details, undecided


def course_dose_unknown(courses: list[Course], record: Event) -> bool:
    course = course_of(courses, record)
    return course is None or course.dose is None


def dose_problem(record: Event) -> str:
    """Why a record's daily dose is not known."""
    assert isinstance(record, MedicationExposure)
    daily = record.daily_amount()
    if daily is None:
        return f"{describe_event(record)}: no daily dose recorded"
    try:
        daily_unit(daily)
    except UnitError as error:
        return f"{describe_event(record)}: the dose cannot be read: {error}"
    return f"{describe_event(record)}: the daily dose cannot be compared with the others"


def simple(courses: Sequence[Course]) -> bool:
    """One record a course, none replaced: nothing to say about how records were read."""
    return all(len(c.records) == 1 and c.cut is None for c in courses)


def stable_text(courses: list[Course]) -> str:
    course = courses[0]
    text = (
        f"{fmt_quantity(course.dose, None) if course.dose is not None else '?'} per day throughout"
    )
    if not simple(courses):
        text += f" [{'; '.join(c.text for c in courses)}]"
    return text


def overlaps_window(course: Course, start: dt.date | None, end: dt.date | None) -> bool:
    last = course.end
    if start is not None and last is not None and last < start:
        return False
    return end is None or course.first <= end


def why_changed(courses: list[Course], start: dt.date | None, end: dt.date | None) -> str | None:
    """Why the drug's daily dose is not one dose through the window, or None. The words of the
    record-by-record reading are kept ("dose differs between exposures", "started or stopped
    inside the window"); how the records were read is added when there is more to say."""
    change = dose_goes(courses, start, end)
    if change is not None:
        return "dose differs between exposures" + ("" if simple(courses) else f": {change}")
    for course in courses:
        if start is not None and course.first > start:
            edge = f"a course starts inside the window: {course.text}"
        elif end is not None and course.runs_to is not None and course.runs_to < end:
            edge = f"a course ends inside the window: {course.text}"
        else:
            continue
        return "started or stopped inside the window" + ("" if simple(courses) else f": {edge}")
    return None


def dose_goes(courses: list[Course], start: dt.date | None, end: dt.date | None) -> str | None:
    """The first day the drug's daily dose (its courses' doses added up) changes inside the
    window, and how, or None."""
    before: tuple[Fraction, Segment] | None = None
    unit = courses[0].unit if courses else None
    for segment in segments(courses, start, end):
        amount = sum((c.dose or Fraction(0) for c, _ in segment.parts), Fraction(0))
        if before is not None and amount != before[0]:
            return (
                f"{fmt_quantity(before[0], unit)} -> {fmt_quantity(amount, unit)} on "
                f"{fmt_date(segment.first)} [{parts_text(before[1].parts)}; then "
                f"{parts_text(segment.parts)}]"
            )
        before = amount, segment
    return None


# --------------------------------------------------------------------------- ended


def course_ended(
    ctx: Context, concept: ConceptSet, event: Event, start: dt.date | None, end: dt.date | None
) -> bool:
    """`ended`: the record's course's last day is inside the window (a renewed record has not
    ended; docs: "Ended")."""
    if not isinstance(event, MedicationExposure):
        last = event.end
    else:
        course = course_of(drug_courses(ctx, concept, concept.leaf_for(event.codes)), event)
        last = course.last if course is not None else event.end
    if last is None:
        return False
    if start is not None and last < start:
        return False
    return end is None or last <= end


# --------------------------------------------------------------------------- daily-dose qualifiers


@attrs.frozen
class DailyDoseCheck:
    """`dose OP Q` in an amount per day (per kg, per m2): for each record, the drug's daily dose
    on some day of the record inside the window, its courses read together (docs: "Courses")."""

    dose: p.DoseFilter
    threshold: Unit
    converter: Converter | None
    concept: ConceptSet

    def check_all(
        self, ctx: Context, events: list[Event], window: tuple[dt.date | None, dt.date | None]
    ) -> dict[int, tuple[bool | None, str]]:
        """Per event (by id()): passes, fails or undecided (None), with the evidence note."""
        out: dict[int, tuple[bool | None, str]] = {}
        groups: dict[str, list[MedicationExposure]] = {}
        for event in events:
            assert isinstance(event, MedicationExposure)
            groups.setdefault(self.concept.leaf_for(event.codes).name, []).append(event)
        for name, records in groups.items():
            courses = courses_of(name, records)
            amounts = self.amounts(ctx, records)
            for record in records:
                out[id(record)] = self.verdict(record, courses, amounts, window)
        return out

    def amounts(
        self, ctx: Context, records: list[MedicationExposure]
    ) -> dict[int, tuple[Fraction, str] | str]:
        d = self.dose
        return {
            id(r): dose_amount(
                ctx, r, d.shape, self.threshold, d.basis, self.concept, self.converter
            )
            for r in records
        }

    def verdict(
        self,
        record: MedicationExposure,
        courses: list[Course],
        amounts: dict[int, tuple[Fraction, str] | str],
        window: tuple[dt.date | None, dt.date | None],
    ) -> tuple[bool | None, str]:
        start, end = window
        first = max(record.start, start) if start is not None else record.start
        last = record.end if end is None else (min(record.end, end) if record.end else end)
        results: list[tuple[bool | None, str]] = []
        for segment in segments(courses, first, last):
            if not any(c is course_of(courses, record) for c, _ in segment.parts):
                continue
            results.append(self.segment_verdict(segment, amounts))
        if not results:  # replaced on all its days: judged on its own dose
            own = amounts[id(record)]
            if isinstance(own, str):
                return None, own
            return self.compare(Range.point(own[0]), own[1])
        for wanted in (True, None, False):
            for found in results:
                if found[0] is wanted:
                    return found
        return results[0]

    def segment_verdict(
        self, segment: Segment, amounts: dict[int, tuple[Fraction, str] | str]
    ) -> tuple[bool | None, str]:
        total = Fraction(0)
        shown: list[str] = []
        unknown: list[str] = []
        for _, record in segment.parts:
            amount = amounts[id(record)]
            if isinstance(amount, str):
                unknown.append(amount)
                continue
            total += amount[0]
            shown.append(amount[1])
        if unknown and not shown:
            return None, "; ".join(dict.fromkeys(unknown))  # nothing known: why, as on its own
        if len(segment.parts) == 1:
            text = shown[0]
        else:
            text = f"{' + '.join(shown) or 'none known'} = {fmt_quantity(total, self.threshold)}"
        # A part whose dose is not known leaves the total at least the rest (doses are >= 0).
        values = Range(End(total, True), None) if unknown else Range.point(total)
        verdict, note = self.compare(values, evidence_note(segment.parts, text))
        if verdict is None and unknown:
            note += " (" + "; ".join(unknown) + ")"
        return verdict, note

    def compare(self, values: Range, shown: str) -> tuple[bool | None, str]:
        d, unit = self.dose, self.threshold.text
        if d.op == "between":
            assert d.high is not None
            verdict = inside(values, d.low, d.high, d.bounds)
            text = f"{shown} between {d.low} and {format_number(d.high)} {unit}"
        else:
            verdict = holds(values, d.op, Range.point(d.low))
            text = f"{shown} {d.op} {format_number(d.low)} {unit}"
        answer = {True: "yes", False: "no", None: "unknown"}[verdict]
        return verdict, f"{text}: {answer}"


def is_daily_shape(dose: p.DoseFilter) -> bool:
    return dose.shape in ("daily", "per_kg_daily", "per_m2_daily")


__all__ = [
    "DailyDoseCheck",
    "course_ended",
    "cumulative_dose",
    "daily_total",
    "daily_unit",
    "dose_pattern",
    "is_daily_shape",
]

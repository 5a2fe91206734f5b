"""The protocol's visit schedule: whether a patient's visit was done inside its window
(docs/language.md, "The visit schedule: visits done outside their window")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from criteria_lang.core.dates import OutOfCalendar, shift
from criteria_lang.core.visits import visit_key
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Patient, Visit, format_number

Schedule = Mapping[str, p.ScheduledVisit]


def schedule_of(plan: p.Plan) -> Schedule:
    """The plan's scheduled visits by name (names compared as `at visits` compares them)."""
    return {visit_key(v.name): v for v in plan.schedule}


@attrs.frozen
class OnTime:
    """A visit's place in its window: `inside` True or False, or None when it cannot be told
    (the date the target counts from is not recorded); `why` says so in words."""

    inside: bool | None
    why: str


def on_time(schedule: Schedule, patient: Patient, visit: Visit) -> OnTime | None:
    """Was the visit done inside its scheduled window? None when the schedule does not name it."""
    scheduled = schedule.get(visit_key(visit.name))
    if scheduled is None:
        return None
    target = target_date(scheduled, patient)
    if isinstance(target, str):
        return OnTime(None, f"it is not known whether {visit.name} was on time: {target}")
    days = (visit.date - target).days
    tolerance = scheduled.tolerance
    try:
        first = shift(target, tolerance.amount, tolerance.unit, -1) if tolerance else target
        last = shift(target, tolerance.amount, tolerance.unit, 1) if tolerance else target
    except OutOfCalendar as outside:
        return OnTime(None, f"the window of {visit.name} cannot be placed: {outside}")
    where = f"{abs(days)} days {'after' if days > 0 else 'before'} the target date"
    if days == 0:
        where = "on the target date"
    inside = first <= visit.date <= last
    window = window_words(tolerance)
    place = "inside" if inside else "outside"
    why = f"{visit.name} assessments {where} ({target.isoformat()}): {place} {window}"
    return OnTime(inside, why)


def target_date(scheduled: p.ScheduledVisit, patient: Patient) -> dt.date | str:
    """The visit's target date, or why it is not known."""
    edge = scheduled.target
    anchor = edge.anchor
    if not isinstance(anchor, p.TrialDate):
        return "the schedule counts from a date that is not the trial's"
    day = patient.dates.get(anchor.name)
    if day is None:
        return f"the patient's {anchor.name} date is not recorded"
    offset = edge.offset
    if not isinstance(offset, p.Duration):
        return day
    try:
        return shift(day, offset.amount, offset.unit, edge.sign)
    except OutOfCalendar as outside:
        return f"the target date cannot be placed: {outside}"


def window_words(tolerance: p.Duration | None) -> str:
    """`the 14-day window`; `the target day` without a tolerance."""
    if tolerance is None:
        return "the target day"
    return f"the {format_number(tolerance.amount)}-{tolerance.unit[:-1]} window"

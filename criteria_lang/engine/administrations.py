"""Administrations, not records (docs/language.md, "Administrations and cumulative doses"): the
days a medication exposure was given on, from its start, end and frequency, so that one record of
"375 mg/m2 once a week for four weeks" counts as four infusions, as four one-day records do."""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.dates import OutOfCalendar, add_days
from criteria_lang.core.results import Evidence
from criteria_lang.core.units import Unit, UnitError
from criteria_lang.engine.context import Context
from criteria_lang.engine.evidence import daily_unit, describe_event, event_evidence, is_amount
from criteria_lang.engine.values import Value, convert_quantity, fmt_quantity
from criteria_lang.records.timeline import Event, MedicationExposure, format_number

# An upper bound on the administrations listed for one record, so that a record of "every hour
# for 30 years" costs no more than counting does.
MAX_LISTED = 10_000


def administration_days(
    event: Event, start: dt.date | None, end: dt.date | None
) -> tuple[list[dt.date], str | None]:
    """The days of the exposure's administrations inside [start, end] (None: open), one entry
    per administration, and, when they cannot all be known, why (the list is then a lower
    bound: those certainly given).

    With a frequency (`per_day`), administration k is given k / per_day days after the start
    (once a week: days 0, 7, 14 ...; 3 a day: 3 on each day), up to the exposure's last day. With
    no frequency, a one-day record is one administration; a longer one is at least one, given on
    its first day, and how many is not recorded. An ongoing exposure runs to the window's end; in
    a window with no end its administrations cannot be counted.
    """
    if not isinstance(event, MedicationExposure):
        return [event.start], None
    first = event.start if start is None else max(event.start, start)
    last = event.end if end is None else (end if event.end is None else min(event.end, end))
    if last is not None and last < first:
        return [], None
    per_day = event.per_day
    if per_day is None or per_day <= 0:
        if event.end == event.start:
            return [event.start], None
        found = [event.start] if first == event.start else []
        why = (
            f"{describe_event(event)}: its frequency is not recorded, so how many "
            "administrations it holds is not known"
        )
        return found, why
    if last is None:
        found = days_between(event.start, first, first, per_day)
        return found, f"{describe_event(event)} is ongoing and the window has no end"
    return days_between(event.start, first, last, per_day), None


def days_between(
    origin: dt.date, first: dt.date, last: dt.date, per_day: Fraction
) -> list[dt.date]:
    """The days of the administrations k / per_day days after `origin` that fall in
    [first, last] (exactly: k with first <= origin + floor(k / per_day) <= last)."""
    low = (first - origin).days
    high = (last - origin).days
    k_first = math.ceil(low * per_day)
    k_after = math.ceil((high + 1) * per_day)
    out: list[dt.date] = []
    for k in range(k_first, min(k_after, k_first + MAX_LISTED)):
        offset = math.floor(Fraction(k) / per_day)
        try:
            out.append(add_days(origin, offset))
        except OutOfCalendar:
            break
    return out


def cumulative_dose(
    ctx: Context,
    events: list[Event],
    window: tuple[dt.date | None, dt.date | None],
    label: str,
    concept: ConceptSet,
    basis: str | None = None,
) -> Value:
    """The total dose given in the window (docs: "Administrations and cumulative doses"): for
    each exposure, its dose times its administrations in the window when both are recorded,
    else its daily dose times its days in the window; `as BASIS` multiplies by each drug's
    factor first. In mg; what cannot be computed makes the total unknown, saying why."""
    target = ctx.units.parse("mg")
    total = Fraction(0)
    evidence: list[Evidence] = []
    for event in events:
        assert isinstance(event, MedicationExposure)
        given = given_in(ctx, event, window, target)
        if isinstance(given, str):
            return Value(None, evidence=tuple(evidence), missing=(given,), label=label)
        amount, how = given
        if basis is not None:
            factor = concept.attribute_for(event.codes, basis)
            if not isinstance(factor, Fraction):
                reason = f"{event.display} has no {basis} factor in the stdlib"
                return Value(None, evidence=tuple(evidence), missing=(reason,), label=label)
            amount *= factor
            how += f" x {format_number(factor)} ({basis})"
        total += amount
        detail = f"{describe_event(event)}: {how} -> {fmt_quantity(amount, target)}"
        evidence.append(event_evidence(event, label, detail))
    return Value(total, target, tuple(evidence), label=label, concept=concept)


def given_in(
    ctx: Context,
    event: MedicationExposure,
    window: tuple[dt.date | None, dt.date | None],
    target: Unit,
) -> tuple[Fraction, str] | str:
    """(the amount in `target` the exposure gave in the window, how it was worked out), or why
    it cannot be known."""
    start, end = window
    try:
        if event.dose is not None and event.per_day is not None and is_amount(event.dose):
            days, unknown = administration_days(event, start, end)
            if unknown is not None:
                return unknown
            dose = convert_quantity(event.dose, target, None)
            return dose * len(days), f"{len(days)} administrations"
        daily = event.daily_amount()
        if daily is None:
            return f"{describe_event(event)}: no dose recorded"
        first = event.start if start is None else max(event.start, start)
        ends = [d for d in (event.end, end) if d is not None]
        if not ends:
            return f"{describe_event(event)} has no end inside the window"
        count = (min(ends) - first).days + 1
        if count <= 0:
            return Fraction(0), "no day in the window"
        per_day = daily_unit(daily)
        amount = ctx.units.convert(daily.value * count, ctx.units.multiply(per_day, "day"), target)
        return amount, f"{count} days"
    except UnitError as error:
        return f"{describe_event(event)}: the dose cannot be read: {error}"

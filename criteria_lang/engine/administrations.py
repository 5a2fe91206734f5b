"""Administrations, not records (docs/language.md, "Administrations and cumulative doses"): the
days a medication exposure was given on, from its start, end and frequency, so that one record of
"375 mg/m2 once a week for four weeks" counts as four infusions, as four one-day records do."""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.dates import OutOfCalendar, add_days
from criteria_lang.core.units import Unit, UnitError
from criteria_lang.engine.context import Context
from criteria_lang.engine.evidence import describe_event, is_amount
from criteria_lang.engine.values import convert_quantity, unit_of
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


def given_in(
    ctx: Context, record: MedicationExposure, first: dt.date, last: dt.date, target: Unit
) -> tuple[Fraction, str] | str:
    """(the amount in `target` the record gave from `first` to `last`, how it was worked out),
    or why it cannot be known: its dose times its administrations on those days when both are
    recorded (docs: "Administrations and cumulative doses"), else its daily dose times the days."""
    try:
        if record.dose is not None and record.per_day is not None and is_amount(record.dose):
            days, unknown = administration_days(record, first, last)
            if unknown is not None:
                return unknown
            dose = convert_quantity(record.dose, target, None)
            return dose * len(days), f"{len(days)} administrations"
        daily = record.daily_amount()
        if daily is None:
            return f"{describe_event(record)}: no daily dose"
        count = (last - first).days + 1
        unit = unit_of(daily)
        amount_unit = unit if is_amount(daily) else ctx.units.multiply(unit, "day")
        return ctx.units.convert(daily.value * count, amount_unit, target), f"{count} days"
    except UnitError as error:
        return f"{describe_event(record)}: the dose cannot be read: {error}"


def basis_amount(
    concept: ConceptSet, record: MedicationExposure, amount: Fraction, basis: str | None
) -> tuple[Fraction, str] | str:
    """`cumulative ... as BASIS`: the amount times the drug's BASIS factor (from the stdlib),
    with how, or why it has none."""
    if basis is None:
        return amount, ""
    factor = concept.attribute_for(record.codes, basis)
    if not isinstance(factor, Fraction):
        return f"{record.display} has no {basis} factor in the stdlib"
    return amount * factor, f" x {format_number(factor)} ({basis})"

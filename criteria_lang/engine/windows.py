"""Windows in days for one patient, and which events a window holds (docs/language.md, "Time"
and "Which events a window holds")."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from fractions import Fraction
from typing import assert_never

from criteria_lang.core.concepts import QuantityAttr
from criteria_lang.core.dates import OutOfCalendar, add_days, shift
from criteria_lang.core.units import get_units
from criteria_lang.engine.context import Context
from criteria_lang.engine.values import MissingData, UnknownHalfLife, fmt_date
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Event, format_number

Notes = list[tuple[int, str]]
Span = tuple[dt.date | None, dt.date | None]


WindowFn = Callable[[Context, Event | None, Notes | None], Span]
DayFn = Callable[[dt.date, Event | None, Notes | None], dt.date]


def resolve(
    window: p.Window, ctx: Context, event: Event | None, notes: Notes | None = None
) -> Span:
    """The window's first and last day for this patient (see `compile_window`)."""
    return compile_window(window)(ctx, event, notes)


def compile_window(window: p.Window) -> WindowFn:
    """A function giving the window's first and last day for a patient (None: open), for one
    event when the window depends on the event's own half-life. With `notes`, an end that an
    unknown half-life cannot place is given as far as the other options reach, and noted
    (sign, reason); without, it raises UnknownHalfLife. A date that is not recorded, or a day
    outside the calendar, raises MissingData. Built once per window: this runs per query."""
    first, last = window.start, window.end
    first_anchor = first.anchor if first is not None else None
    last_anchor = last.anchor if last is not None else None
    shared = first_anchor is not None and first_anchor == last_anchor
    move_first = edge_fn(window, first)
    move_last = edge_fn(window, last)
    either_order = window.either_order
    exclusive = not (window.start_inclusive and window.end_inclusive)

    def days(ctx: Context, event: Event | None, notes: Notes | None = None) -> Span:
        start = end = None
        if first_anchor is not None:
            day = ctx.date(first_anchor)
            start = day if move_first is None else move_first(day, event, notes)
            if last_anchor is not None:
                day = day if shared else ctx.date(last_anchor)
                end = day if move_last is None else move_last(day, event, notes)
        elif last_anchor is not None:
            day = ctx.date(last_anchor)
            end = day if move_last is None else move_last(day, event, notes)
        if either_order and start is not None and end is not None and end < start:
            start, end = end, start
        if exclusive:
            return exclusive_ends(window, start, end)
        return start, end

    return days


def exclusive_ends(window: p.Window, start: dt.date | None, end: dt.date | None) -> Span:
    try:
        if start is not None and not window.start_inclusive:
            start = add_days(start, 1)
        if end is not None and not window.end_inclusive:
            end = add_days(end, -1)
    except OutOfCalendar as outside:
        raise MissingData(f"the window {window.text} cannot be placed: {outside}") from None
    return start, end


def edge_fn(window: p.Window, edge: p.Edge | None) -> DayFn | None:
    """Moves the anchor's day by the edge's offset; None when the edge has no offset."""
    if edge is None or edge.offset is None:
        return None
    offset, sign = edge.offset, edge.sign

    def move(day: dt.date, event: Event | None, notes: Notes | None) -> dt.date:
        try:
            return shift_by(day, offset, sign, event)
        except UnknownHalfLife as unknown:
            if notes is None:
                raise
            notes.append((sign, unknown.reason))
            return unknown.day
        except OutOfCalendar as outside:
            # A window that leaves the calendar (screening 9999-12-31 and a window after it):
            # what needs it is unknown, with the reason (docs: "Values that cannot be read").
            raise MissingData(f"the window {window.text} cannot be placed: {outside}") from None

    return move


def shift_by(day: dt.date, offset: p.Offset, sign: int, event: Event | None) -> dt.date:
    match offset:
        case p.Duration():
            return shift(day, offset.amount, offset.unit, sign)
        case p.Longest():
            return longest(day, offset, sign, event)
        case p.HalfLives():
            return add_days(day, sign * half_life_days(day, offset, event))
        case _:
            assert_never(offset)


def longest(day: dt.date, offset: p.Longest, sign: int, event: Event | None) -> dt.date:
    """`max(D1, D2, ...)`: the option that reaches furthest; with one unknown half-life, as
    far as the others reach, raised as UnknownHalfLife."""
    options: list[dt.date] = []
    unknown: UnknownHalfLife | None = None
    for option in offset.options:
        try:
            options.append(shift_by(day, option, sign, event))
        except UnknownHalfLife as missing:
            unknown = missing
    if unknown is not None:
        reached = (min(options) if sign < 0 else max(options)) if options else day
        raise UnknownHalfLife(reached, unknown.reason)
    return min(options) if sign < 0 else max(options)


def half_life_days(day: dt.date, offset: p.HalfLives, event: Event | None) -> int:
    """N half-lives in whole days: of the named drug (fixed in the plan), or of the matched
    event's own drug (rounded up)."""
    if not offset.own or event is None:
        return offset.days
    value = offset.drug.attribute_for(event.codes, "half_life")
    if not isinstance(value, QuantityAttr):
        raise UnknownHalfLife(
            day,
            f"the half-life of {event.display} (taken from {fmt_date(event.start)}) is not "
            f"declared, so its {format_number(offset.count)} half-lives cannot be computed",
        )
    days = get_units().convert(value.value, value.unit, "days")
    return math.ceil(offset.count * max(Fraction(0), days))


def depends_on_event(window: p.Window) -> bool:
    """Does the window depend on each event's own half-life?"""
    return any(
        edge is not None and edge.offset is not None and _own_half_life(edge.offset)
        for edge in (window.start, window.end)
    )


def _own_half_life(offset: p.Offset) -> bool:
    match offset:
        case p.HalfLives():
            return offset.own
        case p.Longest():
            return any(_own_half_life(o) for o in offset.options)
        case p.Duration():
            return False
        case _:
            assert_never(offset)


def overlaps(
    event: Event, start: dt.date | None, end: dt.date | None, kind: str, active_only: bool
) -> bool:
    """Window membership (docs/language.md, "Which events a window holds").

    Medication exposures and procedures with an end occupy their days from start to end (an
    exposure with no end is ongoing). A condition occupies onset..abatement; with no abatement,
    only its onset day, unless the query asks `status active`, when it continues. Everything
    else is a point on its date.
    """
    first, last = event.start, event.end
    if kind == "medication":
        pass
    elif kind == "condition":
        if last is None and not active_only:
            last = first
    elif last is None or last == first:
        last = first
    if start is not None and last is not None and last < start:
        return False
    return end is None or first <= end

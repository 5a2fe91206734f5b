"""Trends in a series of results (docs/language.md, "Trends in a series"): the percent change from
the first result of a window to its last, the doubling time of the results, and the longest run
of consecutive rises."""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

from criteria_lang.core.results import Evidence
from criteria_lang.core.units import Unit, UnitError, get_units
from criteria_lang.engine.evidence import describe_event, event_evidence, event_value
from criteria_lang.engine.values import UNBOUNDED, Value, fmt_quantity
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Event, format_number

Point = tuple[Event, Fraction]  # a result and its value in the series' unit


def series_points(
    node: p.Aggregate, events: tuple[Event, ...], ordered: bool = True
) -> tuple[list[Point], str | None]:
    """The window's results in time order (day, then time of day), each value in one unit (the
    concept's, else the first result's); or why the series cannot be read (a value that is not
    a number, a unit that does not convert, a bound such as "<0.1"; when the order matters,
    results of one day with different values that the time of day cannot order)."""
    label, concept = node.label, node.query.concept
    in_time = sorted(events, key=lambda e: (e.start, e.time is not None, e.time or dt.time.min))
    unit: Unit | None = get_units().parse(node.unit) if node.unit else None
    points: list[Point] = []
    for event in in_time:
        value = event_value(event, label, concept)
        if not isinstance(value.value, Fraction) or value.range is not None:
            why = value.missing[0] if value.missing else f"{describe_event(event)} is not a number"
            return [], why
        try:
            if unit is None:
                unit = value.unit
            number = value.value
            if value.unit is not None and unit is not None and value.unit != unit:
                number = get_units().convert(
                    number, value.unit, unit, molar_mass=node.query.molar_mass
                )
        except UnitError as error:
            return [], f"{describe_event(event)}: {error}"
        points.append((event, number))
    return in_order(points) if ordered else (points, None)


def in_order(points: list[Point]) -> tuple[list[Point], str | None]:
    """The points with repeats of one value at one time dropped; or why results of one day with
    different values cannot be put in order (no time of day, or the same one)."""
    kept: list[Point] = []
    for event, value in points:
        if kept:
            before, last = kept[-1]
            same_time = before.time is None or event.time is None or before.time == event.time
            if before.start == event.start and same_time:
                if last != value:
                    shown = f"{describe_event(before)} and {describe_event(event)}"
                    return [], f"{shown}: the time of day cannot order them"
                continue
        kept.append((event, value))
    return kept, None


def percent_change(node: p.Aggregate, events: tuple[Event, ...]) -> Value:
    """(last - first) / first x 100, in %, from the first result of the window to its last."""
    points, why = series_points(node, events)
    label = node.label
    if why is not None:
        return Value(None, missing=(why,), label=label)
    if len(points) < 2:
        return too_few(node, points, 2)
    (first_event, first), (last_event, last) = points[0], points[-1]
    evidence = (event_evidence(first_event, label), event_evidence(last_event, label))
    if first == 0:
        reason = f"{describe_event(first_event)}: a change from 0 is not a percentage"
        return Value(None, evidence=evidence, missing=(reason,), label=label)
    change = (last - first) / first * 100
    percent = get_units().parse("%")
    note = Evidence(
        label, f"{format_number(first)} -> {format_number(last)}: {format_number(change)} %"
    )
    return Value(change, percent, evidence + (note,), label=label)


def doubling_time(node: p.Aggregate, events: tuple[Event, ...]) -> Value:
    """ln 2 / the slope of ln(value) against time in days, by least squares over the window's
    results (the PSA doubling time of the Prostate Cancer Working Group: Scher HI et al., J Clin
    Oncol 2016;34:1402, PCWG3; Pound CR et al., JAMA 1999;281:1591). Values at or below 0 cannot
    be logged; a series that does not rise has no doubling time (unbounded: longer than any)."""
    points, why = series_points(node, events, ordered=False)
    label = node.label
    if why is not None:
        return Value(None, missing=(why,), label=label)
    if len(points) < 2:
        return too_few(node, points, 2)
    evidence = tuple(event_evidence(e, label) for e, _ in points)
    if any(v <= 0 for _, v in points):
        reason = f"{label}: a result at or below 0 cannot be read on a log scale"
        return Value(None, evidence=evidence, missing=(reason,), label=label)
    origin = points[0][0].start
    xs = [float((e.start - origin).days) for e, _ in points]
    ys = [math.log(float(v)) for _, v in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        reason = f"{label}: the results are all on one day"
        return Value(None, evidence=evidence, missing=(reason,), label=label)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    days = get_units().parse("days")
    if slope <= 0:
        note = Evidence(label, f"not rising over {len(points)} results: no doubling time")
        return Value(None, days, evidence + (note,), label=label, kind=UNBOUNDED)
    value = Fraction(repr(math.log(2) / slope))
    note = Evidence(label, f"{fmt_quantity(value, days)} over {len(points)} results (log-linear)")
    return Value(value, days, evidence + (note,), label=label)


def consecutive_rises(node: p.Aggregate, events: tuple[Event, ...]) -> Value:
    """The longest run of results each higher than the one before (2: rising on two consecutive
    measurements)."""
    points, why = series_points(node, events)
    label = node.label
    if why is not None:
        return Value(None, missing=(why,), label=label)
    if not points:
        return too_few(node, points, 1)
    best = run = 0
    best_end = 0
    for i in range(1, len(points)):
        run = run + 1 if points[i][1] > points[i - 1][1] else 0
        if run > best:
            best, best_end = run, i
    evidence = tuple(event_evidence(e, label) for e, _ in points)
    shown = " -> ".join(format_number(v) for _, v in points[best_end - best : best_end + 1])
    note = Evidence(label, f"{best} consecutive rises" + (f" ({shown})" if best else ""))
    return Value(Fraction(best), None, evidence + (note,), label=label)


def too_few(node: p.Aggregate, points: list[Point], needed: int) -> Value:
    query = node.query
    reason = (
        f"{node.label} needs at least {needed} results {query.window.text}; {len(points)} recorded"
    )
    return Value(None, missing=(reason,), label=node.label)

"""Checks of values a rule writes that can never match (docs/diagnostics.md): a sex the record
never holds (C306), a reversed range (C307), an unknown route (C308), a period of no days (C125),
`around` at one end of a window (C126), and `is positive` on whether an event exists (C312)."""

from __future__ import annotations

from fractions import Fraction

from criteria_lang.check.context import CheckContext
from criteria_lang.core import messages as m
from criteria_lang.core.diagnostics import Span, did_you_mean
from criteria_lang.core.routes import ROUTE_GROUPS, ROUTE_NAMES, is_route_word
from criteria_lang.core.units import UnitError
from criteria_lang.syntax import nodes as n

# The values of `sex` (docs/language.md, "Values and comparisons"), and what protocols and data
# abbreviate them to, for the fix of C306.
SEXES = ("female", "male", "other")
SEX_ABBREVIATIONS = {"f": "female", "w": "female", "woman": "female", "women": "female",
                     "m": "male", "man": "male", "men": "male"}  # fmt: skip
# Words that read a result's value; on a query used as a value they would read its existence.
VALUE_WORDS = ("positive", "negative", "true", "false")


def check_sexes(cx: CheckContext, expr: n.InValues) -> None:
    """`sex in ("F")`: the recorded sex is one of SEXES, and nothing else ever matches."""
    if not isinstance(expr.operand, n.Sex):
        return
    sexes = ", ".join(SEXES)
    for value in expr.values:
        if value.casefold() in SEXES:
            continue
        hint = SEX_ABBREVIATIONS.get(value.casefold()) or did_you_mean(value, SEXES)
        if hint:
            cx.report(m.NEVER_THE_SEX, expr.span, value=value, sexes=sexes, hint=hint)
        else:
            cx.report(m.NEVER_THE_SEX_NO_HINT, expr.span, value=value, sexes=sexes)


def check_range(cx: CheckContext, low: n.Operand, high: n.Operand, span: Span) -> None:
    """`between 75 and 25`: a range whose low end is above its high end holds nothing."""
    if not (isinstance(low, n.QuantityLit) and isinstance(high, n.QuantityLit)):
        return
    high_value = high.value
    if low.unit is not None and high.unit is not None and low.unit != high.unit:
        try:
            high_value = cx.units.convert(high.value, high.unit, low.unit)
        except UnitError:
            return  # reported as a unit problem
    if low.value > high_value:
        high_unit = f" {high.unit}" if high.unit and high.unit != low.unit else ""
        low_unit = f" {low.unit}" if low.unit else ""
        cx.report(
            m.REVERSED_RANGE,
            span,
            low=number(low.value),
            high=number(high.value),
            fixed_low=f"{number(high.value)}{high_unit}",
            fixed_high=f"{number(low.value)}{low_unit}",
        )


def check_routes(cx: CheckContext, query: n.Query) -> None:
    """`route X`: X must be a route (or group) of core/routes.py."""
    known = (*ROUTE_NAMES, *ROUTE_GROUPS)
    for route in query.routes:
        if is_route_word(route):
            continue
        hint = did_you_mean(route, known)
        if hint:
            cx.report(m.UNKNOWN_ROUTE, query.span, route=route, hint=hint)
        else:
            cx.report(m.UNKNOWN_ROUTE_NO_HINT, query.span, route=route, routes=", ".join(known))


def check_period(cx: CheckContext, period: n.Duration) -> None:
    """`in any 0 days` holds no case."""
    if period.amount == 0:
        cx.report(m.PERIOD_OF_NO_DAYS, period.span, unit=period.unit)


def check_shift_directions(cx: CheckContext, window: n.Window) -> None:
    """`from 4 weeks before A to B`: each shifted end of a span lies before or after its date."""
    for shift in (window.start_shift, window.end_shift):
        if shift is not None and shift.direction == "around":
            cx.report(m.AROUND_AT_AN_END, shift.span)


def check_word_on_existence(cx: CheckContext, expr: n.IsValue) -> None:
    """`lab x ... is positive`: a query used as a value is whether such an event exists, so a
    negative result would read as "positive" (a silent wrong answer): say what to write."""
    operand = expr.operand
    if not isinstance(operand, n.Exists) or operand.negated or expr.word not in VALUE_WORDS:
        return
    query = f"{operand.query.kind} {operand.query.concept.dotted}"
    cx.report(
        m.WORD_ON_EXISTENCE,
        expr.span,
        query=query,
        word=expr.word,
        query_value=f"{query} value is {expr.word} <window>",
    )


def number(value: Fraction) -> str:
    """A literal number as written back in a message (`75`, `0.5`)."""
    if value.denominator == 1:
        return str(value.numerator)
    return format(float(value), "g")

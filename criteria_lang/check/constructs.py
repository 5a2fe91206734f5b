"""Checks of values a rule writes that can never match (docs/diagnostics.md): a sex the record
never holds (C306), a reversed range (C307), an unknown route (C308), a period of no days (C125),
`around` at one end of a window (C126).

The checker (check/checker.py) calls these; they report through it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from criteria_lang.core.diagnostics import Span, did_you_mean
from criteria_lang.core.routes import ROUTE_GROUPS, ROUTE_NAMES, is_route_word
from criteria_lang.core.units import UnitError
from criteria_lang.syntax import nodes as n

if TYPE_CHECKING:
    from criteria_lang.check.checker import Checker

# The values of `sex` (docs/language.md, "Values and comparisons"), and what protocols and data
# abbreviate them to, for the fix of C306.
SEXES = ("female", "male", "other")
SEX_ABBREVIATIONS = {"f": "female", "w": "female", "woman": "female", "women": "female",
                     "m": "male", "man": "male", "men": "male"}  # fmt: skip


def check_sexes(checker: Checker, expr: n.InValues) -> None:
    """`sex in ("F")`: the recorded sex is one of SEXES, and nothing else ever matches."""
    if not isinstance(expr.operand, n.Sex):
        return
    for value in expr.values:
        if value.casefold() in SEXES:
            continue
        hint = SEX_ABBREVIATIONS.get(value.casefold()) or did_you_mean(value, SEXES)
        checker.error(
            "C306",
            f"'{value}' is never the patient's sex, which is one of: {', '.join(SEXES)}",
            f'write "{hint}"' if hint else f"use one of: {', '.join(SEXES)}",
            expr.span,
        )


def check_range(checker: Checker, low: n.Operand, high: n.Operand, span: Span) -> None:
    """`between 75 and 25`: a range whose low end is above its high end holds nothing."""
    if not (isinstance(low, n.QuantityLit) and isinstance(high, n.QuantityLit)):
        return
    high_value = high.value
    if low.unit is not None and high.unit is not None and low.unit != high.unit:
        try:
            high_value = checker.units.convert(high.value, high.unit, low.unit)
        except UnitError:
            return  # reported as a unit problem
    if low.value > high_value:
        shown = f"between {number(low.value)} and {number(high.value)}"
        high_unit = f" {high.unit}" if high.unit and high.unit != low.unit else ""
        low_unit = f" {low.unit}" if low.unit else ""
        checker.error(
            "C307",
            f"`{shown}` is a range whose low end is above its high end: nothing is in it",
            f"write the low end first: `between {number(high.value)}{high_unit} and "
            f"{number(low.value)}{low_unit}`",
            span,
        )


def check_routes(checker: Checker, query: n.Query) -> None:
    """`route X`: X must be a route (or group) of core/routes.py."""
    known = (*ROUTE_NAMES, *ROUTE_GROUPS)
    for route in query.routes:
        if not is_route_word(route):
            hint = did_you_mean(route, known)
            checker.error(
                "C308",
                f"'{route}' is not a route the language knows",
                f"did you mean '{hint}'?" if hint else f"use one of: {', '.join(known)}",
                query.span,
            )


def check_period(checker: Checker, period: n.Duration) -> None:
    """`in any 0 days` holds no case."""
    if period.amount == 0:
        checker.error(
            "C125",
            f"`in any 0 {period.unit}`: a period of no days holds no case",
            "write the period the protocol gives, e.g. `in any 12 months`",
            period.span,
        )


def check_shifts(checker: Checker, window: n.Window) -> None:
    """`from 4 weeks before A to B`: each shifted end of a span, before or after its date."""
    for shift in (window.start_shift, window.end_shift):
        if shift is None:
            continue
        checker.check_duration(shift.duration, None)
        if shift.direction == "around":
            checker.error(
                "C126",
                "`around` cannot place one end of a window",
                "write `before` or `after`, e.g. `from 4 weeks before screening to randomization`",
                shift.span,
            )


def number(value: Fraction) -> str:
    """A literal number as written back in a message (`75`, `0.5`)."""
    if value.denominator == 1:
        return str(value.numerator)
    return format(float(value), "g")

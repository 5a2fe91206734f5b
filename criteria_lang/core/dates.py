"""Calendar arithmetic for windows and durations (docs/language.md, "Time").

Months and years are calendar months and years: 31 March minus 1 month is 28 (or 29) February,
29 February 2024 plus 1 year is 28 February 2025 (clamped to the last day of the month, as
dateutil's relativedelta does). Days and weeks are exact day counts.
"""

from __future__ import annotations

import calendar
import datetime as dt
from fractions import Fraction

# The one month and year length, in days, of every place where a month must become a number of
# days: the average Gregorian year (365.25 days) and a twelfth of it (30.4375 days), the same as
# the unit registry's (so 500 mg once a month is exactly 500 mg/month). Used for daily rates
# (a frequency "once per month"), course lengths and `for at least ... total`; never for window
# edges, which are calendar months (docs/language.md, "Time").
DAYS_PER_MONTH = Fraction(36525, 1200)
DAYS_PER_YEAR = Fraction(36525, 100)

# Days in one unit of a duration or of a frequency's period, as UCUM writes the unit (FHIR
# `Timing.repeat.periodUnit` and `Duration.code`, our JSON's `frequency.unit`). Every reader
# turns periods into days with this table.
DAYS_PER_UNIT: dict[str, Fraction] = {
    "s": Fraction(1, 86400),
    "min": Fraction(1, 1440),
    "h": Fraction(1, 24),
    "d": Fraction(1),
    "wk": Fraction(7),
    "mo": DAYS_PER_MONTH,
    "a": DAYS_PER_YEAR,
}


# The longest duration a rule file may write (docs/limits.md): ten lifetimes, so that a window
# from any date of years 1000 to 8999 stays inside the calendar (`ever` has no limit at all).
MAX_DURATION_YEARS = 1000
MAX_DURATION_DAYS = MAX_DURATION_YEARS * Fraction(36525, 100)


class OutOfCalendar(ValueError):
    """Date arithmetic that leaves the calendar (years 1 to 9999): a window after 9999-12-31,
    `within 9000 years`, an exposure of 1e10 days. Callers turn it into an unknown with this
    reason (data) or a diagnostic (rule file); it is never an internal error."""


def add_days(day: dt.date, days: int) -> dt.date:
    """`day + days`, or OutOfCalendar when that leaves years 1..9999."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        direction = "after" if days > 0 else "before"
        raise OutOfCalendar(
            f"{abs(days)} days {direction} {day.isoformat()} is outside the calendar "
            "(years 1 to 9999)"
        ) from None


def shift(day: dt.date, amount: Fraction, unit: str, sign: int) -> dt.date:
    """`day` moved by `amount` `unit`s, forwards (sign 1) or backwards (sign -1).
    Raises OutOfCalendar when the result is not a date of years 1..9999."""
    whole = int(amount)
    if unit == "days":
        return add_days(day, sign * whole)
    if unit == "weeks":
        return add_days(day, sign * int(amount * 7))
    if unit == "months":
        return add_months(day, sign * whole)
    if unit == "years":
        return add_months(day, sign * whole * 12)
    raise ValueError(f"unknown time unit {unit!r}")


def add_months(day: dt.date, months: int) -> dt.date:
    """`day + relativedelta(months=months)`, the same date (the day clamped to the month's
    length), without building a relativedelta: windows are computed for every query.
    Raises OutOfCalendar when the result is not a date of years 1..9999."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        direction = "after" if months > 0 else "before"
        raise OutOfCalendar(
            f"{abs(months)} months {direction} {day.isoformat()} is outside the calendar "
            "(years 1 to 9999)"
        )
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def approximate_days(amount: Fraction, unit: str) -> Fraction:
    if unit == "days":
        return amount
    if unit == "weeks":
        return amount * 7
    if unit == "months":
        return amount * DAYS_PER_MONTH
    return amount * DAYS_PER_YEAR


def completed_years(birth: dt.date, on: dt.date) -> int:
    """Age in completed years: the birthday counts from its day (29 Feb -> 28 Feb, see the
    module doc)."""
    years = on.year - birth.year
    if shift(birth, Fraction(years), "years", 1) > on:
        years -= 1
    return years


def completed_months(birth: dt.date, on: dt.date) -> int:
    months = (on.year - birth.year) * 12 + (on.month - birth.month)
    if shift(birth, Fraction(months), "months", 1) > on:
        months -= 1
    return months


def run_reaches(start: dt.date, end: dt.date, amount: Fraction, unit: str) -> bool:
    """Does the inclusive run [start, end] last at least `amount` `unit`s?

    A run of N days counts its first and last day (1 Jan..30 Jan is 30 days); N months from
    15 Jan are reached on 14 Apr for 3 months (the day before the same date N months later).
    """
    if unit in ("days", "weeks"):
        return (end - start).days + 1 >= approximate_days(amount, unit)
    try:
        return end >= add_days(shift(start, amount, unit, 1), -1)
    except OutOfCalendar:
        return False  # the run would have to end after 9999-12-31


def period_last_day(start: dt.date, amount: Fraction, unit: str) -> dt.date:
    """The last day of a period of `amount` `unit`s from `start`: a run of that length, as
    `run_reaches` counts it (12 months from 15 Jan 2023 end on 14 Jan 2024; 30 days from 1 Jan end
    on 30 Jan)."""
    if unit in ("days", "weeks"):
        return add_days(start, int(approximate_days(amount, unit)) - 1)
    return add_days(shift(start, amount, unit, 1), -1)

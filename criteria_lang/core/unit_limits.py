"""Limits on unit texts, checked before pint or ucumvert sees one (docs/limits.md).

Unit texts come from data we do not control (patient JSON, FHIR, OMOP) and from rule files.
pint's name lookup is quadratic in the name's length, and a power such as mg^999999 or
10^99999999 makes it (or us) build numbers with millions of digits: one such record would
stall a whole batch. So every text is checked against these limits before pint or ucumvert
sees it. They are far above any clinical unit: the longest UCUM code in LOINC's example units
is under 40 characters, no clinical unit has a power above 3, and SI prefixes stop at 10^24.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import attrs


class UnitError(ValueError):
    """A unit text we cannot read. The message is written for a rule author."""

    def __init__(self, message: str, *, text: str | None = None, suggestions: tuple[str, ...] = ()):
        super().__init__(message)
        self.text = text
        self.suggestions = suggestions


MAX_UNIT_LENGTH = 100  # characters in one unit text
MAX_UNIT_POWER = 9  # |n| in m^n, m**n, m2 (a unit name's power)
MAX_TEN_POWER = 24  # |n| in 10^n, 10*n (a power of ten written in the unit)
MAX_UNIT_NUMBER_DIGITS = 40  # digits in a number written in the unit (24, 1.73, exact factors)
# How much of an offending text a message quotes (a 1 MB code must not become a 1 MB message).
QUOTE_LIMIT = 60


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` as repr() shows it, cut to about `limit` characters (saying how long it was)."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


def check_length(text: str) -> None:
    if len(text) > MAX_UNIT_LENGTH:
        raise UnitError(
            f"unit text of {len(text)} characters is longer than the limit of "
            f"{MAX_UNIT_LENGTH}: {quote(text)}",
            text=text[:QUOTE_LIMIT],
        )


def bounded_int(digits: str, limit: int, what: str, text: str) -> int:
    """`int(digits)` when |value| <= limit; the length is checked before converting, so a
    million-digit exponent costs nothing."""
    body = digits.lstrip("+-").lstrip("0")
    if len(body) > len(str(limit)) or int(digits) > limit or int(digits) < -limit:
        raise UnitError(
            f"unit {quote(text)}: {what} {quote(digits, 12)} is beyond the limit of "
            f"{limit} (see docs/limits.md)",
            text=text,
        )
    return int(digits)


def bounded_number(digits: str, text: str) -> Fraction:
    """A number written in a unit (24, 1.73): at most MAX_UNIT_NUMBER_DIGITS digits, not 0."""
    if sum(c.isdigit() for c in digits) > MAX_UNIT_NUMBER_DIGITS:
        raise UnitError(
            f"unit {quote(text)}: the number {quote(digits, 20)} has more than "
            f"{MAX_UNIT_NUMBER_DIGITS} digits (see docs/limits.md)",
            text=text,
        )
    number = Fraction(digits)
    if number == 0:
        raise UnitError(f"unit {quote(text)} is multiplied or divided by 0", text=text)
    return number


# A digit run in a UCUM code (outside annotations), with what comes just before it: `10*` or
# `10^` makes it a power of ten, a letter or `]` a unit's power, anything else a number.
_UCUM_DIGITS = re.compile(r"(?P<before>10[*^]|[A-Za-z\]])?(?P<digits>[+-]?\d+)")
_UCUM_ANNOTATION = re.compile(r"\{[^{}]*\}")


def check_ucum_limits(code: str) -> None:
    check_length(code)
    bare = _UCUM_ANNOTATION.sub("{}", code)
    for match in _UCUM_DIGITS.finditer(bare):
        before, digits = match["before"], match["digits"]
        if before in ("10*", "10^"):
            bounded_int(digits, MAX_TEN_POWER, "the power of ten", code)
        elif before:
            bounded_int(digits, MAX_UNIT_POWER, "the power", code)
        elif len(digits.lstrip("+-")) > MAX_UNIT_NUMBER_DIGITS:
            bounded_number(digits.lstrip("+-"), code)


# Each cache holds at most this many entries, then starts again: hostile data with millions of
# distinct unit texts must not grow memory without bound (clinical data has a few dozen).
_CACHE_LIMIT = 10_000


def remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


@attrs.frozen
class Failure:
    """A remembered `UnitError`; raised afresh each time (re-raising one exception object
    would chain a traceback per use)."""

    message: str
    text: str | None
    suggestions: tuple[str, ...]
    # The UnitError subclass (AmbiguousUnit, TemperatureUnit: callers tell them apart).
    kind: type[UnitError] = UnitError

    @classmethod
    def of(cls, error: UnitError) -> Failure:
        return cls(str(error), error.text, error.suggestions, type(error))

    def error(self) -> UnitError:
        return self.kind(self.message, text=self.text, suggestions=self.suggestions)

"""The values inside one patient document in our JSON format (docs/patient-format.md):
numbers, dates, quantities, codes, ranges, attributes, read by `_ValueReader` with a problem
for each mistake (records/patient_json.py reads the document's events and the rest).

Moved out of patient_json.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
from fractions import Fraction
from typing import Any

from criteria_lang.core.dates import DAYS_PER_UNIT
from criteria_lang.records.problems import Problem, _at, _describe, _is_free_key
from criteria_lang.records.timeline import (
    CODE_SYSTEMS,
    NUMBER_RANGE,
    AttributeValue,
    Code,
    Quantity,
    ReferenceRange,
    int_in_range,
)

FORMAT = "criteria-lang/patient@1"

SEXES = ("female", "male", "other", "unknown")
REVIEW_ANSWERS = {"met": True, "not_met": False}

# Days per unit of a medication frequency: the one table (core/dates.py), whose month is 1/12 of
# 365.25 days, the same month the unit system uses (docs/units.md), so "500 mg once a month" is
# exactly 500 mg/month.
FREQUENCY_UNITS: dict[str, Fraction] = {
    unit: DAYS_PER_UNIT[unit] for unit in ("h", "d", "wk", "mo")
}

# The same date grammar as schema/patient.schema.json ("date" in $defs), so that the loader and the
# schema cannot disagree about a date. The date part is checked against the calendar (month
# lengths, leap years) by the pattern itself, because JSON Schema cannot check it any other way
# for date-times. The time part of a date-time is checked for shape and range, then ignored.
_YMD = (
    r"(?!0000)[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29"
)
_TIME = (
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)
DATE_PATTERN = f"^(?:{_YMD})(?:{_TIME})?$"
_DATE_RE = re.compile(f"(?:{_YMD})(?:{_TIME})?")

_DATE_EXPECTED = "a date as YYYY-MM-DD (or an ISO 8601 date-time such as 2024-03-01T09:30:00Z)"
# First characters of a text value that may be a bound ("<0.5", "≥ 60").
_BOUND_STARTS = frozenset("<>=≤≥")
_FLOAT_INT_LIMIT = 2.0**63
_MEMO_NUMBER_LIMIT = 2**53


# --------------------------------------------------------------------------------------------
# Numbers and dates


def _float_fraction(value: float) -> Fraction:
    """The exact value of the shortest decimal text that reads back as `value` (1.1 -> 11/10).

    Same result as `Fraction(repr(value))`, three times faster: this runs for every lab value.
    """
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, decimals = mantissa.partition(".")
    digits = int(whole + decimals) if decimals else int(whole)
    shift = (int(exponent) if exponent else 0) - len(decimals)
    if shift >= 0:
        return Fraction(digits * 10**shift)
    return Fraction(digits, 10**-shift)


def _time_of(value: object) -> dt.time | None:
    """The time of day a date-time writes, as written (no zone conversion), or None for a date:
    it orders the events of one day (docs/patient-format.md, "Dates")."""
    if type(value) is not str or len(value) < 16 or value[10] != "T":
        return None
    found = _TIMES.get(value)
    if found is None:
        clock = value[11:].rstrip("Z").split("+")[0].split("-")[0]
        try:
            found = dt.time.fromisoformat(clock)
        except ValueError:
            return None  # the date is reported by the date reader
        _TIMES[value] = found
    return found


def _parse_date(text: str) -> dt.date | None:
    if not _DATE_RE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:  # pragma: no cover - the pattern already checked the calendar
        return None


# --------------------------------------------------------------------------------------------
# Reading one patient

_COMMON_KEYS = frozenset({"type", "id", "code"})
_MEASUREMENT_KEYS = _COMMON_KEYS | {
    "date",
    "value",
    "unit",
    "comparator",
    "limit",
    "reference_range",
    "interpretation",
    "attributes",
}
_EVENT_KEYS: dict[str, frozenset[str]] = {
    "condition": _COMMON_KEYS | {"onset", "abatement", "status", "attributes"},
    "medication": _COMMON_KEYS
    | {"start", "end", "ongoing", "dose", "frequency", "daily_dose", "route", "status"}
    | {"attributes", "reason"},
    "lab": _MEASUREMENT_KEYS,
    "observation": _MEASUREMENT_KEYS,
    "score": _MEASUREMENT_KEYS,
    "procedure": _COMMON_KEYS | {"date", "end", "attributes", "reason"},
    "fact": _COMMON_KEYS | {"date", "value"},
    "immunization": _COMMON_KEYS | {"date", "dose", "route", "status", "attributes", "reason"},
    "allergy": _COMMON_KEYS | {"onset", "abatement", "status", "attributes"},
}
_EVENT_TYPES = ", ".join(_EVENT_KEYS)
_PATIENT_KEYS = frozenset(
    {"format", "id", "birth_date", "sex", "dates", "coverage", "events", "reviews", "visits"}
)
_CODE_KEYS = frozenset({"system", "code", "display"})
_AMOUNT_KEYS = frozenset({"value", "unit"})
_FREQUENCY_KEYS = frozenset({"count", "period", "unit"})
_RANGE_KEYS = frozenset({"low", "high", "unit"})
_SPAN_KEYS = frozenset({"start", "end"})
_REVIEW_KEYS = frozenset({"answer", "by", "date", "note"})
_VISIT_KEYS = frozenset({"name", "date"})
_CODE_EXPECTED = (
    'a concept name, a code object {"system", "code", "display"} or a non-empty array of those'
)


# Immutable values already built, shared by every document read in this process.
#
# Real records repeat themselves: a few thousand distinct days, a few hundred codes, lab values
# with one or two decimals. Looking a value up is several times cheaper than parsing it and
# building its Fraction and Quantity again, and the loader has to read more than a thousand
# 300-event patients a second. Only immutable objects are kept (attrs frozen classes, Fractions,
# dates), and each table is emptied when it grows past _MEMO_LIMIT entries, to bound memory.
# Numeric keys are raw JSON numbers whose type was checked first, so that `true` never finds
# the entry of `1` (the two are equal as dict keys). Plain module dicts: a global lookup is the
# cheapest access Python has, and this is the innermost loop.
_MEMO_LIMIT = 200_000
_DATES: dict[str, dt.date] = {}
_TIMES: dict[str, dt.time] = {}
_NUMBERS: dict[int | float, Fraction] = {}
_QUANTITIES: dict[tuple[int | float, str], Quantity] = {}
_CODES: dict[Any, Code] = {}
_RANGES: dict[tuple[Any, Any, Any], ReferenceRange] = {}
_PER_DAY: dict[tuple[Any, Any, Any], Fraction] = {}
# "$.events[0]", "$.events[1]", ...: replaced by a longer tuple when needed, never changed.
_EVENT_PATHS: list[tuple[str, ...]] = [()]
_MEMO_EVENT_PATHS = 20_000


def _trim_memo() -> None:
    for table in (_DATES, _TIMES, _NUMBERS, _QUANTITIES, _CODES, _RANGES, _PER_DAY):
        if len(table) > _MEMO_LIMIT:
            table.clear()


def _event_paths(count: int) -> tuple[str, ...]:
    paths = _EVENT_PATHS[0]
    if len(paths) < count:
        paths = tuple(f"$.events[{i}]" for i in range(max(count, 2 * len(paths), 512)))
        if count <= _MEMO_EVENT_PATHS:  # keep the usual sizes; an outlier pays for its own
            _EVENT_PATHS[0] = paths
    return paths


class _ValueReader:
    """One pass over one patient document, collecting problems as it converts.

    Every reader has a fast path for well-formed data (type checks and a memo lookup) and falls
    back to a slower path that names each mistake. JSON paths are only built when something is
    wrong.
    """

    __slots__ = ("problems", "saw_big_float", "big_number")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        # A float beyond 2**63 may be an integer that orjson could not hold exactly.
        self.saw_big_float = False
        # A number beyond 2**53 was read: stop remembering values made of numbers (see number).
        self.big_number = False

    # -- reporting -------------------------------------------------------------------------

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def wrong(self, base: str, key: object, expected: str, value: object) -> None:
        self.problem(_at(base, key), f"Expected {expected}, got {_describe(value)}.")

    def missing(self, base: str, key: str, what: str, expected: str) -> None:
        self.problem(
            _at(base, key), f'{what} needs "{key}" ({expected}), but it is missing or null.'
        )

    def check_keys(
        self, obj: dict[Any, Any], allowed: frozenset[str], base: str, what: str
    ) -> None:
        if obj.keys() <= allowed:
            return
        for key in obj:
            if key in allowed or _is_free_key(key):
                continue
            if not isinstance(key, str):
                self.problem(base, f"Keys must be text, but {what} has the key {_describe(key)}.")
                continue
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f' Did you mean "{close[0]}"?' if close else ""
            self.problem(
                _at(base, key),
                f"Unknown key {json.dumps(key[:40], ensure_ascii=False)} in {what}.{hint} "
                "Expected one of: "
                + ", ".join(sorted(allowed))
                + ' (keys starting with "x-" or "_comment" are free for notes).',
            )

    def as_object(self, value: object, base: str, key: object, what: str) -> dict[Any, Any] | None:
        if isinstance(value, dict):
            return value
        self.wrong(base, key, what, value)
        return None

    # -- scalars ---------------------------------------------------------------------------

    def date(self, value: object, base: str, key: object) -> dt.date | None:
        if isinstance(value, str):
            value = str(value)
            day = _DATES.get(value)
            if day is not None:
                return day
            day = _parse_date(value)
            if day is not None:
                _DATES[value] = day
                return day
            if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T.*)?", value, re.S):
                self.problem(
                    _at(base, key),
                    f"{json.dumps(value[:40], ensure_ascii=False)} is not a valid date or "
                    f"date-time; expected {_DATE_EXPECTED}.",
                )
                return None
        self.wrong(base, key, _DATE_EXPECTED, value)
        return None

    def required_date(self, obj: dict[Any, Any], base: str, key: str, what: str) -> dt.date | None:
        value = obj.get(key)
        if value is None:
            self.missing(base, key, what, _DATE_EXPECTED)
            return None
        return self.date(value, base, key)

    def end_date(
        self, obj: dict[Any, Any], base: str, key: str, start: dt.date | None, after: str
    ) -> dt.date | None:
        value = obj.get(key)
        if value is None:
            return None
        end = _DATES.get(value) if type(value) is str else None
        if end is None:
            end = self.date(value, base, key)
        if end is not None and start is not None and end < start:
            self.problem(
                _at(base, key),
                f"{key} {end.isoformat()} is before {after} {start.isoformat()}; "
                f"expected a date on or after {after}.",
            )
        return end

    def number(
        self, value: object, base: str, key: object, what: str = "a number"
    ) -> Fraction | None:
        if type(value) is int or type(value) is float:
            exact = _NUMBERS.get(value)
            if exact is not None:
                return exact
            if type(value) is int:
                if not int_in_range(value):
                    self.problem(
                        _at(base, key), f"Expected {NUMBER_RANGE}, got {_describe(value)}."
                    )
                    return None
                exact = Fraction(value)
            elif math.isfinite(value):
                exact = _float_fraction(value)
            else:
                self.problem(
                    _at(base, key), f"Expected {what}, got {value!r}; numbers must be finite."
                )
                return None
            if -_MEMO_NUMBER_LIMIT < value < _MEMO_NUMBER_LIMIT:
                _NUMBERS[value] = exact
            else:
                # Beyond 2**53 an int and a float can be equal dict keys with different exact
                # values (the float's is its shortest decimal text): never remember these.
                self.big_number = True
                if type(value) is float and abs(value) >= _FLOAT_INT_LIMIT:
                    self.saw_big_float = True
            return exact
        if isinstance(value, int) and not isinstance(value, bool):
            return self.number(int(value), base, key, what)
        if isinstance(value, float):
            return self.number(float(value), base, key, what)
        self.wrong(base, key, what, value)
        return None

    def quantity(self, value: object, unit: str, base: str, key: str) -> Quantity | None:
        """`value` in `unit`, where `unit` is non-empty text already."""
        if type(value) is int or type(value) is float:
            found = _QUANTITIES.get((value, unit))
            if found is not None:
                return found
        number = self.number(value, base, key)
        if number is None:
            return None
        made = Quantity(number, unit)
        if (type(value) is int or type(value) is float) and not self.big_number:
            _QUANTITIES[(value, unit)] = made
        return made

    def text(self, value: object, base: str, key: object, *, empty_ok: bool = False) -> str | None:
        if isinstance(value, str) and (value or empty_ok):
            return str(value)
        self.wrong(base, key, "text" if empty_ok else "non-empty text", value)
        return None

    def optional_text(self, obj: dict[Any, Any], base: str, key: str) -> str | None:
        value = obj.get(key)
        if value is None or type(value) is str:
            return value
        return self.text(value, base, key, empty_ok=True)

    def scalar(
        self, value: object, base: str, key: object, expected: str
    ) -> str | Fraction | bool | None:
        """A text, number or true/false value (attributes, facts); None means reported."""
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            if value:
                return str(value)
            self.wrong(base, key, expected, value)
            return None
        if isinstance(value, int | float):
            return self.number(value, base, key, expected)
        self.wrong(base, key, expected, value)
        return None

    def attributes(self, value: object, base: str) -> dict[str, AttributeValue]:
        out: dict[str, AttributeValue] = {}
        obj = self.as_object(value, base, "attributes", "an object of named values")
        if obj is None:
            return out
        where = _at(base, "attributes")
        for key, raw in obj.items():
            if _is_free_key(key):
                continue
            if not isinstance(key, str) or not key:
                self.problem(
                    where, f"Attribute names must be non-empty text, got {_describe(key)}."
                )
                continue
            if isinstance(raw, dict):  # a quantity: {"value": 5, "unit": "d"}
                quantity = self.amount(raw, where, str(key))
                if quantity is not None:
                    out[str(key)] = quantity
                continue
            item = self.scalar(raw, where, key, 'text, a number, true/false or {"value", "unit"}')
            if item is not None:
                out[str(key)] = item
        return out

    def optional_attributes(self, obj: dict[Any, Any], base: str) -> dict[str, AttributeValue]:
        raw = obj.get("attributes")
        return {} if raw is None else self.attributes(raw, base)

    def reasons(self, obj: dict[Any, Any], base: str) -> tuple[Code, ...]:
        """`"reason"`: the codes of why it was given or done, as `code` is written."""
        raw = obj.get("reason")
        if raw is None:
            return ()
        found = self.codes(raw, base, key="reason")
        return found

    # -- small objects ---------------------------------------------------------------------

    def amount(self, value: object, base: str, key: str) -> Quantity | None:
        """A {"value", "unit"} object (dose, daily dose)."""
        if type(value) is dict and value.keys() <= _AMOUNT_KEYS:
            number, unit = value.get("value"), value.get("unit")
            if (type(number) is int or type(number) is float) and type(unit) is str and unit:
                if number >= 0:
                    found = _QUANTITIES.get((number, unit))
                    if found is not None:
                        return found
                    return self.quantity(number, unit, base, key)
        obj = self.as_object(value, base, key, 'an object {"value": number, "unit": text}')
        if obj is None:
            return None
        where = _at(base, key)
        self.check_keys(obj, _AMOUNT_KEYS, where, f'"{key}"')
        raw = obj.get("value")
        amount = None
        if raw is None:
            self.missing(where, "value", f'"{key}"', "a number of at least 0")
        else:
            amount = self.number(raw, where, "value", "a number of at least 0")
            if amount is not None and amount < 0:
                self.wrong(where, "value", "a number of at least 0", raw)
        raw_unit = obj.get("unit")
        unit = None
        if raw_unit is None:
            self.missing(where, "unit", f'"{key}"', 'its unit as text, such as "mg"')
        else:
            unit = self.text(raw_unit, where, "unit")
        if amount is None or unit is None:
            return None
        return Quantity(amount, unit)

    def frequency(self, value: object, base: str) -> Fraction | None:
        if type(value) is dict and value.keys() <= _FREQUENCY_KEYS:
            key = (value.get("count"), value.get("period"), value.get("unit"))
            # Only ints, floats and text make a key: true must not find the entry of 1.
            if (
                type(key[0]) in (int, float)
                and type(key[1]) in (int, float, type(None))
                and type(key[2]) is str
            ):
                found = _PER_DAY.get(key)
                if found is not None:
                    return found
                before = len(self.problems)
                made = self.frequency_checked(value, base)
                if made is not None and len(self.problems) == before and not self.big_number:
                    _PER_DAY[key] = made
                return made
        return self.frequency_checked(value, base)

    def frequency_checked(self, value: object, base: str) -> Fraction | None:
        obj = self.as_object(
            value, base, "frequency", 'an object {"count": n, "period": p, "unit": "d"}'
        )
        if obj is None:
            return None
        where = _at(base, "frequency")
        self.check_keys(obj, _FREQUENCY_KEYS, where, '"frequency"')
        positive = "a number greater than 0"
        raw = obj.get("count")
        count = None
        if raw is None:
            self.missing(where, "count", '"frequency"', "the number of administrations per period")
        else:
            count = self.number(raw, where, "count", positive)
            if count is not None and count <= 0:
                self.wrong(where, "count", positive, raw)
                count = None
        raw = obj.get("period")
        period: Fraction | None = Fraction(1)
        if raw is not None:
            period = self.number(raw, where, "period", positive)
            if period is not None and period <= 0:
                self.wrong(where, "period", positive, raw)
                period = None
        raw = obj.get("unit")
        days = FREQUENCY_UNITS.get(raw) if isinstance(raw, str) else None
        if raw is None:
            self.missing(where, "unit", '"frequency"', 'the period unit: "h", "d", "wk" or "mo"')
        elif days is None:
            self.wrong(where, "unit", 'one of "h", "d", "wk", "mo"', raw)
        if count is None or period is None or days is None:
            return None
        return count / (period * days)

    def reference_range(
        self, value: object, base: str, result_unit: str | None, raw_result_unit: object
    ) -> ReferenceRange | None:
        if type(value) is dict and value.keys() <= _RANGE_KEYS:
            low, high, unit = value.get("low"), value.get("high"), value.get("unit")
            if (
                (low is None or type(low) is int or type(low) is float)
                and (high is None or type(high) is int or type(high) is float)
                and (unit is None or type(unit) is str)
            ):
                key = (low, high, result_unit if unit is None else unit)
                found = _RANGES.get(key)
                if found is not None:
                    return found
                before = len(self.problems)
                made = self.range_checked(value, base, result_unit, raw_result_unit)
                if made is not None and len(self.problems) == before and not self.big_number:
                    _RANGES[key] = made
                return made
        return self.range_checked(value, base, result_unit, raw_result_unit)

    def range_checked(
        self, value: object, base: str, result_unit: str | None, raw_result_unit: object
    ) -> ReferenceRange | None:
        obj = self.as_object(value, base, "reference_range", 'an object {"low", "high", "unit"}')
        if obj is None:
            return None
        where = _at(base, "reference_range")
        self.check_keys(obj, _RANGE_KEYS, where, '"reference_range"')
        raw = obj.get("unit")
        unit = result_unit if raw is None else self.text(raw, where, "unit")
        raw_low, raw_high = obj.get("low"), obj.get("high")
        low = None if raw_low is None else self.number(raw_low, where, "low")
        high = None if raw_high is None else self.number(raw_high, where, "high")
        if low is not None and high is not None and high < low:
            self.problem(
                _at(where, "high"),
                f"high {raw_high!r} is below low {raw_low!r}; expected high >= low.",
            )
        if raw_low is None and raw_high is None:
            return ReferenceRange()
        if unit is None:
            if raw is None and raw_result_unit is None:
                self.missing(where, "unit", '"reference_range"', "a unit; the result has none")
            return None
        return ReferenceRange(
            None if low is None else Quantity(low, unit),
            None if high is None else Quantity(high, unit),
        )

    # -- codes -----------------------------------------------------------------------------

    def codes(self, value: object, base: str, key: str = "code") -> tuple[Code, ...]:
        if isinstance(value, str) and value:
            return (self.concept(str(value)),)
        if isinstance(value, dict):
            one = self.code_object(value, _at(base, key))
            return () if one is None else (one,)
        if isinstance(value, list | tuple) and value:
            where = _at(base, key)
            found: list[Code] = []
            for i, item in enumerate(value):
                if isinstance(item, str) and item:
                    found.append(self.concept(str(item)))
                elif isinstance(item, dict):
                    one = self.code_object(item, _at(where, i))
                    if one is not None:
                        found.append(one)
                else:
                    self.wrong(where, i, "a concept name or a code object", item)
            return tuple(found)
        self.wrong(base, key, _CODE_EXPECTED, value)
        return ()

    def concept(self, name: str) -> Code:
        code = _CODES.get(name)
        if code is None:
            code = _CODES[name] = Code("concept", name)
        return code

    def code_object(self, obj: dict[Any, Any], where: str) -> Code | None:
        system, code, display = obj.get("system"), obj.get("code"), obj.get("display")
        key = (system, code, display)
        if (
            type(system) is str
            and type(code) is str
            and (display is None or type(display) is str)
            and obj.keys() <= _CODE_KEYS
        ):
            found = _CODES.get(key)
            if found is not None:
                return found
        before = len(self.problems)
        self.check_keys(obj, _CODE_KEYS, where, "a code")
        ok = True
        if system is None:
            self.missing(where, "system", "A code", "one of " + ", ".join(CODE_SYSTEMS))
            ok = False
        elif not isinstance(system, str) or system not in CODE_SYSTEMS:
            self.wrong(where, "system", "one of " + ", ".join(CODE_SYSTEMS), system)
            ok = False
        if code is None:
            self.missing(where, "code", "A code", "the code itself as non-empty text")
            ok = False
        elif self.text(code, where, "code") is None:
            ok = False
        if display is not None and self.text(display, where, "display", empty_ok=True) is None:
            ok = False
        if not ok:
            return None
        made = Code(str(system), str(code), None if display is None else str(display))
        if len(self.problems) == before and type(system) is str and type(code) is str:
            if type(display) in (str, type(None)):
                _CODES[key] = made
        return made

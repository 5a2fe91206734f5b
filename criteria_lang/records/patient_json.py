"""Read and write our patient timeline JSON format (docs/patient-format.md).

`load_patient` checks and converts a document in one pass. It does not stop at the first mistake:
every problem is collected with its JSON path and raised together in one `PatientDataError`,
so a data manager fixes a file in one round. Nothing else is ever raised, whatever the input.

The checks are written by hand rather than run through `jsonschema`: screening has to read
more than a thousand 300-event patients a second on one core, and a generic validator followed
by a separate conversion would walk every document twice. `schema/patient.schema.json` describes
the same format for other tools; `tests/test_load.py` checks that the two agree.

`read_patients` reads files and directories of patients for batch screening; a bad record comes
out as a `RecordError` instead of stopping the batch. `dump_patient` writes a `Patient` back into
this format, exactly: `load_patient(dump_patient(p)) == p`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import orjson

from criteria_lang.core.bounds import BoundComparator, is_bound_comparator
from criteria_lang.core.dates import DAYS_PER_UNIT
from criteria_lang.records.bounds_text import read_bound_text
from criteria_lang.records.files import data_suffix, open_binary, read_bytes
from criteria_lang.records.normalise import measurement_value
from criteria_lang.records.timeline import (
    CODE_SYSTEMS,
    DETECTION_LIMITS,
    NUMBER_RANGE,
    Code,
    Condition,
    DetectionLimit,
    Event,
    Fact,
    Interval,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
    ReviewAnswer,
    Visit,
    int_in_range,
)

__all__ = [
    "FORMAT",
    "PatientDataError",
    "Problem",
    "RecordError",
    "dump_patient",
    "iter_patients_from_lines",
    "load_patient",
    "read_patients",
]

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

# Keys that are never data: notes inside examples and extensions for other tools.
_FREE_PREFIXES = ("x-", "_comment")

_DATE_EXPECTED = "a date as YYYY-MM-DD (or an ISO 8601 date-time such as 2024-03-01T09:30:00Z)"
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# First characters of a text value that may be a bound ("<0.5", "≥ 60").
_BOUND_STARTS = frozenset("<>=≤≥")
_FLOAT_INT_LIMIT = 2.0**63
_MEMO_NUMBER_LIMIT = 2**53

# --------------------------------------------------------------------------------------------
# Problems


@attrs.frozen
class Problem:
    """One mistake in a patient document: where it is (a JSON path) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PatientDataError(ValueError):
    """A patient document that cannot be read; `problems` lists every mistake found in it."""

    def __init__(self, problems: Iterable[Problem], source: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        super().__init__(self.problems, source)

    def __str__(self) -> str:
        where = self.source or "patient"
        count = len(self.problems)
        head = f"{where}: {count} problem{'s' if count != 1 else ''} in the patient data"
        return "\n  ".join([head, *(str(p) for p in self.problems)])

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable, so that batch screening can hand errors between processes.
        return (type(self), (self.problems, self.source))


@attrs.frozen
class RecordError:
    """A record of a batch that could not be read, in place of the Patient it should have been."""

    source: str
    problems: tuple[Problem, ...]


def _at(base: str, key: object) -> str:
    """The JSON path of `key` inside the value at `base`."""
    if type(key) is int:
        return f"{base}[{key}]"
    text = key if isinstance(key, str) else str(type(key).__name__)
    if _IDENT_RE.fullmatch(text):
        return f"{base}.{text}"
    quoted = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"{base}['{quoted}']"


def _describe(value: object) -> str:
    """How a value is named in a message: short, in JSON terms."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return "the text " + json.dumps(text, ensure_ascii=False)
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**30 else "with more than 30 digits"
        return f"the number {text}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a Python {type(value).__name__}"


def _is_free_key(key: object) -> bool:
    return isinstance(key, str) and key.startswith(_FREE_PREFIXES)


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
}
_EVENT_KEYS: dict[str, frozenset[str]] = {
    "condition": _COMMON_KEYS | {"onset", "abatement", "status", "attributes"},
    "medication": _COMMON_KEYS
    | {"start", "end", "ongoing", "dose", "frequency", "daily_dose", "route", "status"},
    "lab": _MEASUREMENT_KEYS,
    "observation": _MEASUREMENT_KEYS,
    "score": _MEASUREMENT_KEYS,
    "procedure": _COMMON_KEYS | {"date", "end", "attributes"},
    "fact": _COMMON_KEYS | {"date", "value"},
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
_NUMBERS: dict[int | float, Fraction] = {}
_QUANTITIES: dict[tuple[int | float, str], Quantity] = {}
_CODES: dict[Any, Code] = {}
_RANGES: dict[tuple[Any, Any, Any], ReferenceRange] = {}
_PER_DAY: dict[tuple[Any, Any, Any], Fraction] = {}
# "$.events[0]", "$.events[1]", ...: replaced by a longer tuple when needed, never changed.
_EVENT_PATHS: list[tuple[str, ...]] = [()]
_MEMO_EVENT_PATHS = 20_000


def _trim_memo() -> None:
    for table in (_DATES, _NUMBERS, _QUANTITIES, _CODES, _RANGES, _PER_DAY):
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

    def attributes(self, value: object, base: str) -> dict[str, str | Fraction | bool]:
        out: dict[str, str | Fraction | bool] = {}
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
            item = self.scalar(raw, where, key, "text, a number or true/false")
            if item is not None:
                out[str(key)] = item
        return out

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

    def codes(self, value: object, base: str) -> tuple[Code, ...]:
        if isinstance(value, str) and value:
            return (self.concept(str(value)),)
        if isinstance(value, dict):
            one = self.code_object(value, _at(base, "code"))
            return () if one is None else (one,)
        if isinstance(value, list | tuple) and value:
            where = _at(base, "code")
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
        self.wrong(base, "code", _CODE_EXPECTED, value)
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



class _Reader(_ValueReader):
    """One patient document: its events, named dates, coverage, review answers and visits (the
    values inside them read by _ValueReader)."""

    __slots__ = ()

    # -- events ----------------------------------------------------------------------------

    def events(self, value: object) -> tuple[Event, ...]:
        items = self.array(value, "events", "an array of event objects")
        paths = _event_paths(len(items))
        owners: dict[str, str] = {}
        out = []
        for index, obj in enumerate(items):
            base = paths[index]
            if type(obj) is not dict:
                if not isinstance(obj, dict):
                    self.wrong("$.events", index, "an event object", obj)
                    continue
            kind: Any = obj.get("type")
            allowed = _EVENT_KEYS.get(kind) if type(kind) is str else None
            if allowed is None:
                if kind is None:
                    self.missing(base, "type", "An event", "one of " + _EVENT_TYPES)
                elif isinstance(kind, str) and str(kind) in _EVENT_KEYS:
                    kind = str(kind)
                    allowed = _EVENT_KEYS[kind]
                else:
                    self.wrong(base, "type", "one of " + _EVENT_TYPES, kind)
                if allowed is None:
                    continue
            if not obj.keys() <= allowed:
                self.check_keys(obj, allowed, base, f"a {kind} event")
            raw = obj.get("id")
            if raw is None:
                event_id = f"{kind}-{index}"
            elif type(raw) is str and raw:
                event_id = raw
            else:
                event_id = self.text(raw, base, "id") or ""
            if event_id:
                first = owners.setdefault(event_id, base)
                if first is not base:
                    named = "" if raw is not None else " (the default id of this event)"
                    self.problem(
                        base if raw is None else _at(base, "id"),
                        f'The event id "{event_id}"{named} is already used by {first}; '
                        "event ids must be unique within a patient.",
                    )
            raw = obj.get("code")
            code: Code | None = None
            if type(raw) is str:
                code = _CODES.get(raw)
            elif type(raw) is dict and raw.keys() <= _CODE_KEYS:
                try:  # the memo only holds text keys: anything else misses or is unhashable
                    code = _CODES.get((raw.get("system"), raw.get("code"), raw.get("display")))
                except TypeError:
                    code = None
            if code is not None:
                codes: tuple[Code, ...] = (code,)
            elif raw is None:
                self.missing(base, "code", f"A {kind} event", _CODE_EXPECTED)
                codes = ()
            else:
                codes = self.codes(raw, base)
            out.append(_EVENT_READERS[kind](self, obj, base, kind, event_id, codes))
        return tuple(out)

    def condition(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        get = obj.get
        raw = get("onset")
        onset = _DATES.get(raw) if type(raw) is str else None
        if onset is None:
            onset = self.required_date(obj, base, "onset", "A condition")
        abatement = (
            None
            if get("abatement") is None
            else self.end_date(obj, base, "abatement", onset, "onset")
        )
        raw = get("status")
        if raw is not None and type(raw) is not str:
            raw = self.text(raw, base, "status", empty_ok=True)
        attributes = get("attributes")
        return Condition(
            id=eid,
            kind=kind,
            codes=codes,
            start=onset,  # type: ignore[arg-type]
            end=abatement,
            source=base,
            status=raw,
            attributes={} if attributes is None else self.attributes(attributes, base),
        )

    def medication(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        get = obj.get
        raw = get("start")
        start = _DATES.get(raw) if type(raw) is str else None
        if start is None:
            start = self.required_date(obj, base, "start", "A medication event")
        end = None if get("end") is None else self.end_date(obj, base, "end", start, "start")
        ongoing = get("ongoing")
        if ongoing is not None and ongoing is not True and ongoing is not False:
            self.wrong(base, "ongoing", "true or false", ongoing)
            ongoing = None
        if ongoing:
            if get("end") is not None:
                self.problem(
                    _at(base, "end"),
                    'An ongoing medication has no end; give either "ongoing": true or "end", '
                    "not both.",
                )
                end = None
        elif end is None:
            # No end and not ongoing: one day of exposure, as OHDSI Circe does for a missing end.
            end = start
        raw = get("dose")
        dose = None if raw is None else self.amount(raw, base, "dose")
        raw = get("daily_dose")
        daily = None if raw is None else self.amount(raw, base, "daily_dose")
        raw = get("frequency")
        per_day = None if raw is None else self.frequency(raw, base)
        route = get("route")
        if route is not None and type(route) is not str:
            route = self.text(route, base, "route", empty_ok=True)
        status = get("status")
        if status is not None and type(status) is not str:
            status = self.text(status, base, "status", empty_ok=True)
        return MedicationExposure(
            id=eid,
            kind=kind,
            codes=codes,
            start=start,  # type: ignore[arg-type]
            end=end,
            source=base,
            dose=dose,
            per_day=per_day,
            daily_dose=daily,
            route=route,
            status=status,
        )

    def measurement(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        get = obj.get
        raw = get("date")
        day = _DATES.get(raw) if type(raw) is str else None
        if day is None:
            day = self.required_date(obj, base, "date", f"A {kind} result")
        raw_unit = get("unit")
        if type(raw_unit) is str and raw_unit:
            unit: str | None = raw_unit
        elif raw_unit is None:
            unit = "1" if kind == "score" else None  # scores are counts and scales
        else:
            unit = self.text(raw_unit, base, "unit")
        raw = get("value")
        value: Quantity | str | bool | None
        if type(raw) is float or type(raw) is int:
            value = _QUANTITIES.get((raw, unit)) if unit is not None else None
            if value is None:
                if unit is not None:
                    value = self.quantity(raw, unit, base, "value")
                elif raw_unit is None:
                    self.missing(
                        base, "unit", f"A numeric {kind} result", 'its unit, such as "mg/dL"'
                    )
        elif raw is None or raw is True or raw is False:
            value = raw
        elif type(raw) is str and raw:
            value = raw
        else:
            value = self.other_value(raw, base, unit)
        if (
            get("comparator") is not None
            or get("limit") is not None
            or (type(value) is str and value.lstrip()[:1] in _BOUND_STARTS)
        ):
            value = self.bound(obj, base, kind, value, unit, raw_unit is not None)
        raw = get("reference_range")
        ref = None if raw is None else self.reference_range(raw, base, unit, raw_unit)
        raw = get("interpretation")
        if raw is not None and type(raw) is not str:
            raw = self.text(raw, base, "interpretation", empty_ok=True)
        if isinstance(value, Quantity):  # the normalisations every reader applies
            normalised, ref, _ = measurement_value(codes, value, ref)
            value = normalised  # type: ignore[assignment]
        return Measurement(
            id=eid,
            kind=kind,
            codes=codes,
            start=day,  # type: ignore[arg-type]
            end=day,
            source=base,
            value=value,
            reference_range=ref,
            interpretation=raw,
        )

    def bound(
        self,
        obj: dict[Any, Any],
        base: str,
        kind: str,
        value: Quantity | str | bool | None,
        unit: str | None,
        unit_given: bool,
    ) -> Quantity | str | bool | None:
        """A result reported as a bound: a number with `comparator` (and perhaps `limit`), or
        text such as "<0.5" (docs/patient-format.md, "Results reported as bounds"). `unit` is
        the result's unit (a score's default "1" when `unit_given` is false)."""
        raw_comparator, raw_limit = obj.get("comparator"), obj.get("limit")
        comparator: BoundComparator | None = None
        if raw_comparator is not None:
            if is_bound_comparator(raw_comparator):
                comparator = raw_comparator
            elif raw_comparator != "=":
                self.wrong(base, "comparator", '"<", "<=", ">", ">=" or "="', raw_comparator)
                return value
        limit: DetectionLimit | None = None
        if raw_limit is not None:
            if raw_limit not in DETECTION_LIMITS:
                self.wrong(base, "limit", '"detection" or "quantification"', raw_limit)
                return value
            limit = raw_limit
        if isinstance(value, str):
            if raw_comparator is not None or raw_limit is not None:
                self.problem(
                    _at(base, "value"),
                    f"A {kind} result with a comparator or a limit needs a numeric value, got "
                    f'{_describe(value)}; write the bound\'s number as "value" and its side as '
                    '"comparator".',
                )
                return value
            written = read_bound_text(value)
            if written is None:
                return value
            if written.unit is not None and unit_given and written.unit != unit:
                self.problem(
                    _at(base, "unit"),
                    f'{_describe(value).capitalize()} is in "{written.unit}" but "unit" says '
                    f'"{unit}"; give the unit once.',
                )
                return value
            unit = written.unit or unit
            if unit is None:
                self.missing(
                    base, "unit", f"A {kind} result given as a bound", 'its unit, such as "mg/dL"'
                )
                return None
            comparator = written.comparator
            value = Quantity(written.value, unit)
        if not isinstance(value, Quantity):
            if value is not None:
                self.problem(
                    _at(base, "comparator"),
                    f"A comparator or a limit applies to a numeric {kind} result, not to "
                    f"{_describe(value)}.",
                )
            return value
        if limit is not None and comparator is None:
            self.problem(
                _at(base, "limit"),
                'A limit of detection or quantification is a bound: give the number as "value" '
                'and the side as "comparator" (usually "<").',
            )
            return value
        return Quantity(value.value, value.unit, value.ucum, comparator, limit)

    def other_value(self, raw: object, base: str, unit: str | None) -> Quantity | str | bool | None:
        """A measurement value of an unusual Python type (a dict given by a caller)."""
        if isinstance(raw, bool):
            return bool(raw)
        if isinstance(raw, str) and raw:
            return str(raw)
        if isinstance(raw, int | float):
            number = self.number(raw, base, "value")
            return None if number is None or unit is None else Quantity(number, unit)
        self.wrong(base, "value", "a number, non-empty text or true/false", raw)
        return None

    def procedure(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        raw = obj.get("date")
        day = _DATES.get(raw) if type(raw) is str else None
        if day is None:
            day = self.required_date(obj, base, "date", "A procedure")
        end = self.end_date(obj, base, "end", day, "date")
        raw = obj.get("attributes")
        return Procedure(
            id=eid,
            kind=kind,
            codes=codes,
            start=day,  # type: ignore[arg-type]
            end=day if end is None else end,
            source=base,
            attributes={} if raw is None else self.attributes(raw, base),
        )

    def fact(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        raw = obj.get("date")
        day = _DATES.get(raw) if type(raw) is str else None
        if day is None:
            day = self.required_date(obj, base, "date", "A fact")
        raw = obj.get("value")
        expected = "true/false, non-empty text or a number"
        value = None
        if raw is None:
            self.missing(base, "value", "A fact", expected)
        else:
            value = self.scalar(raw, base, "value", expected)
        return Fact(
            id=eid,
            kind=kind,
            codes=codes,
            start=day,  # type: ignore[arg-type]
            end=day,
            source=base,
            value=value,
        )

    # -- the patient -----------------------------------------------------------------------

    def patient(self, doc: object, source: str | None) -> Patient | None:
        if not isinstance(doc, dict):
            self.problem("$", f"Expected a patient object {{...}}, got {_describe(doc)}.")
            return None
        self.check_keys(doc, _PATIENT_KEYS, "$", "a patient")
        get = doc.get
        if "format" in doc and get("format") != FORMAT:
            self.wrong("$", "format", f'"{FORMAT}" (or no "format" at all)', get("format"))
        raw = get("id")
        pid = None
        if raw is None:
            self.missing("$", "id", "A patient", "its identifier as non-empty text")
        else:
            pid = self.text(raw, "$", "id")
        raw = get("birth_date")
        birth = None if raw is None else self.date(raw, "$", "birth_date")
        sex = get("sex")
        if sex is not None:
            if isinstance(sex, str) and sex in SEXES:
                sex = str(sex)
            else:
                self.wrong("$", "sex", '"female", "male", "other", "unknown" or null', sex)
        dates = self.named_dates(get("dates"))
        coverage = self.coverage(get("coverage"))
        events = self.events(get("events"))
        reviews = self.reviews(get("reviews"))
        visits = self.visits(get("visits"))
        if self.problems:
            return None
        return Patient(
            id=pid,  # type: ignore[arg-type]
            birth_date=birth,
            sex=sex,
            dates=dates,
            events=events,
            coverage=coverage,
            reviews=reviews,
            visits=visits,
            source=source,
        )

    def array(self, value: object, key: str, what: str) -> list[Any] | tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, list | tuple):
            return value
        self.wrong("$", key, what, value)
        return ()

    def named_dates(self, value: object) -> dict[str, dt.date]:
        out: dict[str, dt.date] = {}
        if value is None:
            return out
        obj = self.as_object(value, "$", "dates", "an object of named dates")
        for key, raw in (obj or {}).items():
            if _is_free_key(key):
                continue
            if not isinstance(key, str) or not key:
                self.problem("$.dates", f"Date names must be non-empty text, got {_describe(key)}.")
            elif raw is not None:  # null: a trial date not known yet
                day = self.date(raw, "$.dates", key)
                if day is not None:
                    out[str(key)] = day
        return out

    def coverage(self, value: object) -> tuple[Interval, ...]:
        out = []
        for index, item in enumerate(self.array(value, "coverage", "an array of spans")):
            where = f"$.coverage[{index}]"
            obj = self.as_object(item, "$.coverage", index, 'a span {"start": date, "end": date}')
            if obj is None:
                continue
            self.check_keys(obj, _SPAN_KEYS, where, "a coverage span")
            start = self.required_date(obj, where, "start", "A coverage span")
            end = self.end_date(obj, where, "end", start, "start")
            if start is not None:
                out.append(Interval(start, end))
        return tuple(out)

    def reviews(self, value: object) -> dict[str, ReviewAnswer]:
        out: dict[str, ReviewAnswer] = {}
        if value is None:
            return out
        obj = self.as_object(value, "$", "reviews", "an object of answers keyed by criterion id")
        for key, raw in (obj or {}).items():
            if _is_free_key(key):
                continue
            if not isinstance(key, str) or not key:
                self.problem(
                    "$.reviews", f"Criterion ids must be non-empty text, got {_describe(key)}."
                )
                continue
            where = _at("$.reviews", key)
            item = self.as_object(
                raw, "$.reviews", key, 'an answer {"answer": "met" or "not_met", ...}'
            )
            if item is None:
                continue
            self.check_keys(item, _REVIEW_KEYS, where, "a review answer")
            answer = item.get("answer")
            met = REVIEW_ANSWERS.get(answer) if isinstance(answer, str) else None
            if answer is None:
                self.missing(where, "answer", "A review", '"met" or "not_met"')
            elif met is None:
                self.wrong(where, "answer", '"met" or "not_met"', answer)
            raw_date = item.get("date")
            day = None if raw_date is None else self.date(raw_date, where, "date")
            by = self.optional_text(item, where, "by")
            note = self.optional_text(item, where, "note")
            if met is not None:
                out[str(key)] = ReviewAnswer(met=met, by=by, date=day, note=note)
        return out

    def visits(self, value: object) -> tuple[Visit, ...]:
        out = []
        for index, item in enumerate(self.array(value, "visits", "an array of visits")):
            where = f"$.visits[{index}]"
            obj = self.as_object(item, "$.visits", index, 'a visit {"name": text, "date": date}')
            if obj is None:
                continue
            self.check_keys(obj, _VISIT_KEYS, where, "a visit")
            raw = obj.get("name")
            name = None
            if raw is None:
                self.missing(where, "name", "A visit", "its name as non-empty text")
            else:
                name = self.text(raw, where, "name")
            day = self.required_date(obj, where, "date", "A visit")
            if name is not None and day is not None:
                out.append(Visit(name, day))
        return tuple(out)


_EventReader = Callable[[_Reader, dict[Any, Any], str, str, str, tuple[Code, ...]], Event]
_EVENT_READERS: dict[str, _EventReader] = {
    "condition": _Reader.condition,
    "medication": _Reader.medication,
    "lab": _Reader.measurement,
    "observation": _Reader.measurement,
    "score": _Reader.measurement,
    "procedure": _Reader.procedure,
    "fact": _Reader.fact,
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_text(data: str | bytes | bytearray | memoryview) -> tuple[Any, Problem | None]:
    try:
        return orjson.loads(data), None
    except (orjson.JSONDecodeError, ValueError, TypeError, RecursionError) as exc:
        return None, Problem("$", f"The text is not valid JSON ({exc}); expected one JSON object.")


def _exact_reparse(data: str | bytes | bytearray | memoryview) -> Any:
    """Parse again with the standard library, which keeps integers beyond 64 bits exact."""
    try:
        return json.loads(
            bytes(data) if isinstance(data, bytearray | memoryview) else data,
            parse_constant=_reject_constant,
        )
    except (ValueError, TypeError, RecursionError):
        return None


def _convert(doc: Any, source: str | None, exact: Callable[[], Any] | None) -> Patient:
    _trim_memo()
    reader = _Reader()
    patient = reader.patient(doc, source)
    if reader.saw_big_float and exact is not None:
        # orjson reads an integer beyond 64 bits as a float, which is not exact. That is rare, so
        # only then pay for a second, exact parse of the text.
        again = exact()
        if again is not None:
            reader = _Reader()
            patient = reader.patient(again, source)
    if patient is None:
        raise PatientDataError(reader.problems, source)
    return patient


def load_patient(data: Any, *, source: str | None = None) -> Patient:
    """Read one patient from a parsed document (a dict) or from JSON text (str or bytes).

    Raises PatientDataError, listing every problem found with its JSON path, and nothing else.
    """
    if isinstance(data, str | bytes | bytearray | memoryview):
        text = data
        doc, bad = _parse_text(text)
        if bad is not None:
            raise PatientDataError((bad,), source)
        return _convert(doc, source, lambda: _exact_reparse(text))
    return _convert(data, source, None)


# --------------------------------------------------------------------------------------------
# Batch reading

_BOM = b"\xef\xbb\xbf"
_JSON_SUFFIXES = frozenset({".json"})
_LINE_SUFFIXES = frozenset({".jsonl", ".ndjson"})


def _record(doc: Any, source: str, exact: Callable[[], Any] | None = None) -> Patient | RecordError:
    try:
        return _convert(doc, source, exact)
    except PatientDataError as exc:
        return RecordError(source, exc.problems)
    except Exception as exc:  # noqa: BLE001 - a batch must account for every record
        return RecordError(source, (_internal(exc),))


def _internal(exc: BaseException) -> Problem:
    return Problem(
        "$",
        f"The record could not be read because of an internal error ({type(exc).__name__}: "
        f"{exc}); this is a bug in criteria_lang, please report it.",
    )


def _unreadable(source: str, exc: BaseException, what: str = "file") -> RecordError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return RecordError(source, (Problem("$", f"The {what} cannot be read: {reason}."),))


def iter_patients_from_lines(
    lines: Iterable[bytes | str], source: str, *, first_line: int = 1
) -> Iterator[Patient | RecordError]:
    """Read JSON Lines: one patient object a line, blank lines skipped (e.g. from stdin).

    Each record's source is `source:line`, counting from `first_line` (a part of a file read on
    its own: criteria_lang.batch). A line that cannot be read becomes a RecordError.
    """
    lineno = first_line - 1
    iterator: Iterator[bytes | str] | None = None
    while True:
        try:
            if iterator is None:
                iterator = iter(lines)
            line = next(iterator)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - e.g. an I/O or decoding error mid-stream
            yield _unreadable(f"{source}:{lineno + 1}", exc, "line")
            return
        lineno += 1
        where = f"{source}:{lineno}"
        if isinstance(line, bytes | bytearray | memoryview):
            text: str | bytes = bytes(line).strip()
            if lineno == 1:
                text = text.removeprefix(_BOM)  # type: ignore[arg-type]
        elif isinstance(line, str):
            text = line.strip()
            if lineno == 1:
                text = text.removeprefix("\ufeff")
        else:
            problem = Problem("$", f"Expected a line of text, got {_describe(line)}.")
            yield RecordError(where, (problem,))
            continue
        if not text:
            continue
        doc, bad = _parse_text(text)
        if bad is not None:
            yield RecordError(where, (bad,))
        else:
            yield _record(doc, where, lambda text=text: _exact_reparse(text))  # type: ignore[misc]


def _read_json_file(file: Path) -> Iterator[Patient | RecordError]:
    source = str(file)
    try:
        raw = read_bytes(file).removeprefix(_BOM)
    except OSError as exc:
        yield _unreadable(source, exc)
        return
    doc, bad = _parse_text(raw)
    if bad is not None:
        yield RecordError(source, (bad,))
        return
    if not isinstance(doc, list):
        yield _record(doc, source, lambda: _exact_reparse(raw))
        return
    exact_doc: list[Any] = []

    def exact_item(index: int) -> Any:
        if not exact_doc:
            exact_doc.append(_exact_reparse(raw))
        whole = exact_doc[0]
        return whole[index] if isinstance(whole, list) and index < len(whole) else None

    for index, item in enumerate(doc):
        yield _record(item, f"{source}[{index}]", lambda index=index: exact_item(index))  # type: ignore[misc]


def _read_lines_file(file: Path) -> Iterator[Patient | RecordError]:
    try:
        handle = open_binary(file)
    except OSError as exc:
        yield _unreadable(str(file), exc)
        return
    with handle:
        yield from iter_patients_from_lines(handle, str(file))


def read_patient_file(file: Path) -> Iterator[Patient | RecordError]:
    """The records of one file of our format, by its suffix (.json, or .jsonl/.ndjson, each
    perhaps gzipped)."""
    suffix = data_suffix(file)
    if suffix in _LINE_SUFFIXES:
        yield from _read_lines_file(file)
    elif suffix in _JSON_SUFFIXES:
        yield from _read_json_file(file)
    else:
        problem = Problem(
            "$",
            f'Cannot tell the format of "{file.name}"; expected a .json, .jsonl or .ndjson file '
            "(or one of them compressed: .json.gz, ...) or a directory of them.",
        )
        yield RecordError(str(file), (problem,))


def read_patients(path: str | Path) -> Iterator[Patient | RecordError]:
    """Read every patient record under `path`, in order; each is a Patient or a RecordError.

    `path` is a .json file (one patient object or an array of them; sources `file` and
    `file[i]`), a .jsonl/.ndjson file (one patient a line; source `file:line`), either of them
    gzip-compressed (`.json.gz`, `.jsonl.gz`, `.ndjson.gz`), or a directory, read recursively:
    its files of those kinds in sorted order. No record is lost
    and nothing is raised: an unreadable file or directory is one RecordError.
    """
    try:
        yield from _read_path(Path(path))
    except Exception as exc:  # noqa: BLE001 - a bug, not bad data; still account for it
        yield RecordError(str(path), (_internal(exc),))


def _read_path(root: Path) -> Iterator[Patient | RecordError]:
    try:
        is_dir = root.is_dir()
        exists = is_dir or root.exists()
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        yield _unreadable(str(root), exc)
        return
    if not exists:
        yield RecordError(str(root), (Problem("$", "No such file or directory."),))
    elif not is_dir:
        yield from read_patient_file(root)
    else:
        yield from _read_directory(root)


def _read_directory(root: Path) -> Iterator[Patient | RecordError]:
    found: list[tuple[tuple[str, ...], Path, OSError | None]] = []

    def failed(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        found.append((where.relative_to(root).parts if where != root else (), where, exc))

    for folder, dirs, files in os.walk(root, onerror=failed):
        dirs.sort()
        for name in files:
            if data_suffix(name) in _JSON_SUFFIXES | _LINE_SUFFIXES:
                file = Path(folder, name)
                found.append((file.relative_to(root).parts, file, None))
    found.sort(key=lambda entry: entry[0])
    for _, file, error in found:
        if error is not None:
            yield _unreadable(str(file), error, "directory")
        else:
            yield from read_patient_file(file)


# --------------------------------------------------------------------------------------------
# Writing


def _dump_number(value: Fraction, where: str) -> int | float:
    if value.denominator == 1:
        return value.numerator
    try:
        approx = float(value)
    except OverflowError:
        approx = math.inf
    if math.isfinite(approx) and _float_fraction(approx) == value:
        return approx
    raise ValueError(
        f"{where}: {value} has no exact JSON number (only decimals that round-trip through a "
        "float can be written exactly)"
    )


def _dump_scalar(value: str | Fraction | bool, where: str) -> str | bool | int | float:
    if isinstance(value, bool | str):
        return value
    return _dump_number(value, where)


def _dump_codes(codes: tuple[Code, ...], where: str) -> Any:
    if not codes:
        raise ValueError(f"{where}: an event needs at least one code")
    out: list[Any] = []
    for code in codes:
        if code.system == "concept" and code.display is None:
            out.append(code.code)
        else:
            item = {"system": code.system, "code": code.code}
            if code.display is not None:
                item["display"] = code.display
            out.append(item)
    return out[0] if len(out) == 1 else out


def _dump_quantity(q: Quantity, where: str) -> dict[str, Any]:
    return {"value": _dump_number(q.value, where), "unit": q.unit}


def _dump_event(ev: Event) -> dict[str, Any]:
    where = f"event {ev.id!r}"
    out: dict[str, Any] = {"type": ev.kind, "id": ev.id, "code": _dump_codes(ev.codes, where)}
    if isinstance(ev, Condition):
        out["type"] = "condition"
        out["onset"] = ev.start.isoformat()
        if ev.end is not None:
            out["abatement"] = ev.end.isoformat()
        if ev.status is not None:
            out["status"] = ev.status
        if ev.attributes:
            out["attributes"] = {k: _dump_scalar(v, where) for k, v in ev.attributes.items()}
    elif isinstance(ev, MedicationExposure):
        out["type"] = "medication"
        out["start"] = ev.start.isoformat()
        if ev.end is None:
            out["ongoing"] = True
        else:
            out["end"] = ev.end.isoformat()
        if ev.dose is not None:
            out["dose"] = _dump_quantity(ev.dose, where)
        if ev.per_day is not None:
            # n administrations every p days, with n/p the exact fraction per day.
            out["frequency"] = {
                "count": ev.per_day.numerator,
                "period": ev.per_day.denominator,
                "unit": "d",
            }
        if ev.daily_dose is not None:
            out["daily_dose"] = _dump_quantity(ev.daily_dose, where)
        if ev.route is not None:
            out["route"] = ev.route
        if ev.status is not None:
            out["status"] = ev.status
    elif isinstance(ev, Measurement):
        out |= _dump_measurement(ev, where)
    elif isinstance(ev, Procedure):
        out["type"] = "procedure"
        if ev.end is None:
            raise ValueError(f"{where}: a procedure needs an end date (its date if one day)")
        out["date"] = ev.start.isoformat()
        if ev.end != ev.start:
            out["end"] = ev.end.isoformat()
        if ev.attributes:
            out["attributes"] = {k: _dump_scalar(v, where) for k, v in ev.attributes.items()}
    elif isinstance(ev, Fact):
        out["type"] = "fact"
        if ev.end != ev.start:
            raise ValueError(f"{where}: a fact is one day; its end must be its start")
        if ev.value is None:
            raise ValueError(f"{where}: a fact needs a value")
        out["date"] = ev.start.isoformat()
        out["value"] = _dump_scalar(ev.value, where)
    else:
        raise ValueError(f"{where}: {type(ev).__name__} has no form in the patient format")
    return out


def _dump_measurement(ev: Measurement, where: str) -> dict[str, Any]:
    if ev.kind not in ("lab", "observation", "score"):
        raise ValueError(f"{where}: a Measurement must be a lab, observation or score")
    if ev.end != ev.start:
        raise ValueError(f"{where}: a {ev.kind} result is one day; its end must be its start")
    out: dict[str, Any] = {"date": ev.start.isoformat()}
    if isinstance(ev.value, Quantity):
        out["value"] = _dump_number(ev.value.value, where)
        out["unit"] = ev.value.unit
        if ev.value.comparator is not None:  # a bound (docs: "Results reported as bounds")
            out["comparator"] = ev.value.comparator
        if ev.value.limit is not None:
            out["limit"] = ev.value.limit
    elif ev.value is not None:
        out["value"] = ev.value
    if ev.reference_range is not None:
        out["reference_range"] = _dump_range(ev.reference_range, where)
    if ev.interpretation is not None:
        out["interpretation"] = ev.interpretation
    return out


def _dump_range(ref: ReferenceRange, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    units = {q.unit for q in (ref.low, ref.high) if q is not None}
    if len(units) > 1:
        raise ValueError(f"{where}: the reference range has two units, {sorted(units)}")
    if ref.low is not None:
        out["low"] = _dump_number(ref.low.value, where)
    if ref.high is not None:
        out["high"] = _dump_number(ref.high.value, where)
    if units:
        out["unit"] = units.pop()
    return out


def dump_patient(p: Patient) -> dict[str, Any]:
    """Write a patient in our format, so that `load_patient(dump_patient(p)) == p`.

    Raises ValueError for a patient the format cannot hold exactly (a value such as 1/3 that
    no JSON number equals, an event without codes, a one-day event with a different end).
    """
    doc: dict[str, Any] = {
        "format": FORMAT,
        "id": p.id,
        "birth_date": None if p.birth_date is None else p.birth_date.isoformat(),
        "sex": p.sex,
    }
    if p.dates:
        doc["dates"] = {name: day.isoformat() for name, day in p.dates.items()}
    if p.coverage:
        doc["coverage"] = [
            {
                "start": span.start.isoformat(),
                "end": None if span.end is None else span.end.isoformat(),
            }
            for span in p.coverage
        ]
    doc["events"] = [_dump_event(ev) for ev in p.events]
    if p.reviews:
        reviews: dict[str, Any] = {}
        for key, review in p.reviews.items():
            item: dict[str, Any] = {"answer": "met" if review.met else "not_met"}
            if review.by is not None:
                item["by"] = review.by
            if review.date is not None:
                item["date"] = review.date.isoformat()
            if review.note is not None:
                item["note"] = review.note
            reviews[key] = item
        doc["reviews"] = reviews
    if p.visits:
        doc["visits"] = [{"name": v.name, "date": v.date.isoformat()} for v in p.visits]
    return doc

"""What the OMOP reader (records/omop.py) knows before it reads a person: the vocabulary it
maps (genders, operators, units, measurement kinds), the tables it reads, the reasons a row is
not read, `ReadSummary`, readers of column values (each raises _Bad with what was expected),
concepts, and one row being read.

Moved out of omop.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import attrs

from criteria_lang.core.codes import SYSTEM_OF_VOCABULARY
from criteria_lang.core.data_units import DATA_UNITS
from criteria_lang.records.patient_json import Problem
from criteria_lang.records.timeline import (
    NUMBER_RANGE,
    Code,
    decimal_in_range,
    int_in_range,
)

# --------------------------------------------------------------------------------------------
# Vocabulary

# OMOP vocabulary_id -> our code system, compared without regard to case (core/codes.py). A
# concept of another vocabulary is matched by its OMOP concept id alone.
VOCABULARIES: dict[str, str] = SYSTEM_OF_VOCABULARY

# The OMOP standard concept "Death" (SNOMED 419620001): the code every death row carries.
DEATH_CONCEPT_ID = 4306655

# An end date of 2099-12-31 (how OMOP's vocabulary tables write "no end") on an observation period
# or a drug exposure is open: still covered, still taken (what omop_write.py writes for them).
OPEN_END = dt.date(2099, 12, 31)

# gender_concept_id -> Patient.sex. OMOP Gender vocabulary: 8507 MALE, 8532 FEMALE, 8551 UNKNOWN.
# Any other id is looked up by its concept_name in the concept table; else the sex is unknown.
_GENDERS = {8507: "male", 8532: "female", 8551: "unknown"}
_SEX_NAMES = frozenset({"male", "female", "other", "unknown"})

# Measurement operator_concept_id (OMOP "Meas Value Operator" concepts) -> symbol. With "=" or no
# operator the value is a number; with another it is a bound such as "<0.5" (docs/language.md,
# "Results reported as bounds"). The ids are those OHDSI's ETL-LambdaBuilder writes for the
# symbols (its Optum Panther builder: "<=" 4171754, ">=" 4171755, "<" 4171756, "=" 4172703,
# ">" 4172704; https://github.com/OHDSI/ETL-LambdaBuilder), as in Athena
# (https://athena.ohdsi.org/search-terms/terms/4172704).
OPERATORS: dict[int, str] = {
    4172703: "=",
    4171756: "<",
    4171754: "<=",
    4171755: ">=",
    4172704: ">",
}
_OPERATORS = OPERATORS

# UCUM unit concepts common in lab data, used when the concept table does not give the unit
# (its concept_code, vocabulary UCUM, always wins).
_UNITS = {u.omop_concept_id: u.ucum for u in DATA_UNITS if u.omop_concept_id is not None}

# Measurement concept class -> event kind: body measures and vital signs ("Clinical Observation",
# LOINC 29463-7 body weight) are observations, survey instruments are scores, the rest are labs.
_MEASUREMENT_KINDS = {"clinical observation": "observation", "survey": "score", "lab test": "lab"}

# --------------------------------------------------------------------------------------------
# Reasons a row is not read (ReadSummary.skipped)

IGNORED = "ignored (not used for eligibility)"
NOT_READABLE = "not readable (see problems)"
PERSON_NOT_READABLE = "its person is not readable"
ERA_TABLE = "era table, derived from other tables (read with eras=True)"
OUTSIDE_OBSERVATION = "starts outside every observation period (outside_observation='drop')"
DUPLICATE_PERSON = "duplicate person_id (the first row is read)"

# Tables read into events, in the order they are read; lookups; era tables.
_EVENT_TABLES = (
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "device_exposure",
    "measurement",
    "observation",
    "specimen",
    "visit_occurrence",
    "visit_detail",
    "death",
)
_ERA_TABLES = ("condition_era", "drug_era", "dose_era")
_LOOKUP_TABLES = ("concept", "concept_ancestor", "drug_strength", "provider", "care_site")

# --------------------------------------------------------------------------------------------
# The summary


@attrs.define
class ReadSummary:
    """What a read did with every row: read, or skipped with a reason; and the problems.

    `read` counts rows per table, `skipped` (table, reason) pairs, `notes` (table, note) pairs:
    what was derived rather than read (an end date from days_supply, a birth date from the year
    alone). `read + skipped` counts every row of every table exactly once.
    """

    read: Counter[str] = attrs.field(factory=Counter)
    skipped: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    notes: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    problems: list[Problem] = attrs.field(factory=list)
    persons: int = 0
    record_errors: int = 0

    @property
    def total(self) -> int:
        return sum(self.read.values()) + sum(self.skipped.values())

    def skipped_for(self, reason: str) -> int:
        return sum(n for (_, why), n in self.skipped.items() if why == reason)

    def tables(self) -> list[str]:
        return sorted({*self.read, *(table for table, _ in self.skipped)})

    def render(self, max_problems: int = 20) -> str:
        read = sum(self.read.values())
        lines = [
            f"OMOP: {self.total} rows: {read} read, {self.total - read} not read; "
            f"{self.persons} person(s) read, {self.record_errors} not readable"
        ]
        for table in self.tables():
            parts = [f"{self.read[table]} read"] if self.read[table] else []
            reasons = sorted((why, n) for (t, why), n in self.skipped.items() if t == table)
            parts += [f"{n} {why}" for why, n in reasons]
            lines.append(f"  {table}: " + ", ".join(parts))
        for (table, note), n in sorted(self.notes.items()):
            lines.append(f"  note: {table}: {n} {note}")
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s):")
            lines += [f"  {p}" for p in self.problems[:max_problems]]
            if len(self.problems) > max_problems:
                lines.append(f"  ... and {len(self.problems) - max_problems} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


# --------------------------------------------------------------------------------------------
# Values. Each reader returns the value, None for NULL, or raises _Bad with what was expected.


class _Bad(Exception):
    """A value that is not what its column holds; the message says what was expected."""


def _describe(value: object) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f'the text "{text}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    return f"a Python {type(value).__name__}"


def _is_null(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_MAX_INT_DIGITS = 19  # a bigint, the widest integer column of the CDM


def _int(value: object) -> int | None:
    """An integer column (ids, concept ids, days): 17, 17.0, Decimal("17"), "17"."""
    if _is_null(value):
        return None
    if isinstance(value, bool):
        raise _Bad(f"an integer, got {_describe(value)}")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        digits = value.strip().split(".")[0]
        if len(digits.lstrip("+-")) > _MAX_INT_DIGITS:
            raise _Bad(f"an integer of at most {_MAX_INT_DIGITS} digits (a bigint)")
        return int(digits)
    raise _Bad(f"an integer, got {_describe(value)}")


def _number(value: object) -> Fraction | None:
    """A numeric column as the exact decimal written: 1.1 is 11/10, never the float's value."""
    if _is_null(value):
        return None
    if isinstance(value, bool):
        raise _Bad(f"a number, got {_describe(value)}")
    if isinstance(value, int):
        if not int_in_range(value):
            raise _Bad(f"{NUMBER_RANGE}, got {_describe(value)}")
        return Fraction(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad(f"a finite number, got {value!r}")
        return Fraction(repr(float(value)))  # the shortest decimal that reads back as the float
    if isinstance(value, Decimal | str):
        try:
            exact = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise _Bad(f"a number, got {_describe(value)}") from None
        if not decimal_in_range(exact):
            raise _Bad(f"{NUMBER_RANGE}, got {_describe(value)}")
        return Fraction(exact)
    raise _Bad(f"a number, got {_describe(value)}")


_DATE_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?")


def _date(value: object) -> dt.date | None:
    """A date column: a date, a datetime (its day), or text "YYYY-MM-DD" (a time may follow)."""
    if _is_null(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        match = _DATE_TEXT.fullmatch(value.strip())
        if match is not None:
            try:
                return dt.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                raise _Bad(f"a calendar date, got {_describe(value)}") from None
    raise _Bad(f"a date as YYYY-MM-DD, got {_describe(value)}")


def _time(value: object) -> dt.time | None:
    """The time of day of a datetime column (a datetime, or text with a time), as written; None
    when there is none (a date, or midnight written by a database for a date-only value is
    still read as a time: the column says a time was recorded)."""
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, str):
        match = _TIME_TEXT.search(value.strip())
        if match is not None:
            try:
                return dt.time.fromisoformat(match[1])
            except ValueError:
                return None
    return None


_TIME_TEXT = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)"
)


def _text(value: object) -> str | None:
    if _is_null(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    raise _Bad(f"text, got {_describe(value)}")


# --------------------------------------------------------------------------------------------
# Concepts


@attrs.frozen
class _Concept:
    name: str | None
    vocabulary: str | None
    code: str | None
    concept_class: str | None


class _Vocabulary:
    """Concepts (for names, source codes, units), ancestors (for hierarchy) and their codes."""

    def __init__(self) -> None:
        self.concepts: dict[int, _Concept] = {}
        self.ancestors: dict[int, list[int]] = {}
        self._codes: dict[tuple[int | None, int | None], tuple[Code, ...]] = {}

    def add(self, concept_id: int, row: Mapping[str, Any]) -> None:
        def text(key: str) -> str | None:
            value = row.get(key)
            return None if _is_null(value) else str(value).strip()

        self.concepts[concept_id] = _Concept(
            text("concept_name"),
            text("vocabulary_id"),
            text("concept_code"),
            text("concept_class_id"),
        )

    def name(self, concept_id: int | None) -> str | None:
        concept = self.concepts.get(concept_id) if concept_id is not None else None
        return concept.name if concept is not None else None

    def _own(self, concept_id: int) -> list[Code]:
        concept = self.concepts.get(concept_id)
        name = concept.name if concept is not None else None
        out = [Code("omop", str(concept_id), name)]
        if concept is not None and concept.vocabulary and concept.code:
            system = VOCABULARIES.get(concept.vocabulary.casefold())
            if system is not None:
                out.append(Code(system, concept.code, name))
        return out

    def codes(self, concept_id: int | None, source_id: int | None) -> tuple[Code, ...]:
        """The standard concept's codes, its ancestors' codes, then the source concept's."""
        key = (concept_id, source_id)
        found = self._codes.get(key)
        if found is not None:
            return found
        out: list[Code] = []
        if concept_id is not None:
            out += self._own(concept_id)
            for ancestor in self.ancestors.get(concept_id, ()):
                out += self._own(ancestor)
        if source_id and source_id != concept_id:
            out += self._own(source_id)
        codes = tuple(dict.fromkeys(out))
        if len(self._codes) > 200_000:
            self._codes.clear()
        self._codes[key] = codes
        return codes

    def unit(self, concept_id: int) -> str | None:
        """The UCUM code of a unit concept: from the concept table, else the built-in list."""
        concept = self.concepts.get(concept_id)
        if concept is not None and concept.code and (concept.vocabulary or "").casefold() == "ucum":
            return concept.code
        return _UNITS.get(concept_id)

    def operator(self, concept_id: int) -> str | None:
        if concept_id in _OPERATORS:
            return _OPERATORS[concept_id]
        name = self.name(concept_id)
        return name if name in ("=", "<", "<=", ">", ">=") else None


# --------------------------------------------------------------------------------------------
# One row being read


class _Row:
    """A row of one table: its columns (lower-cased), where it is, and its problems so far."""

    __slots__ = ("table", "index", "data", "problems", "label")

    def __init__(self, table: str, index: int, data: Mapping[str, Any]) -> None:
        self.table = table
        self.index = index
        self.data = data
        self.problems: list[Problem] = []
        self.label = f"{table} row {index}"

    def problem(self, column: str | None, message: str) -> None:
        path = f"{self.table}[{self.index}]" + (f".{column}" if column else "")
        self.problems.append(Problem(path, f"{self.label}: {message}"))

    def _read(self, column: str, reader: Callable[[object], Any]) -> Any:
        try:
            return reader(self.data.get(column))
        except _Bad as bad:
            self.problem(column, f"expected {bad}")
            return None

    def int(self, column: str) -> int | None:
        return self._read(column, _int)  # type: ignore[no-any-return]

    def number(self, column: str) -> Fraction | None:
        return self._read(column, _number)  # type: ignore[no-any-return]

    def text(self, column: str) -> str | None:
        return self._read(column, _text)  # type: ignore[no-any-return]

    def date(self, *columns: str) -> dt.date | None:
        """The first of the columns that holds a value (a date column, then its datetime)."""
        for column in columns:
            if not _is_null(self.data.get(column)):
                return self._read(column, _date)  # type: ignore[no-any-return]
        return None

    def required_date(self, *columns: str) -> dt.date | None:
        day = self.date(*columns)
        if day is None and not self.problems:
            self.problem(columns[0], "no date: when it happened cannot be told")
        return day

    def end_date(self, start: dt.date | None, *columns: str) -> dt.date | None:
        end = self.date(*columns)
        if end is not None and start is not None and end < start:
            self.problem(
                columns[0], f"the end {end.isoformat()} is before the start {start.isoformat()}"
            )
        return end


def _lower_keys(row: Mapping[Any, Any]) -> Mapping[str, Any]:
    if all(isinstance(k, str) and k.islower() for k in row):
        return row
    return {str(k).lower(): v for k, v in row.items()}

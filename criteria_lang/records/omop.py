"""Read OMOP CDM v5.3/v5.4 rows into patient timelines (docs/omop.md).

`read_omop_tables(tables)` takes the rows of an OMOP CDM database, one iterable of row mappings per
table (`{"person": [...], "condition_occurrence": [...], "concept": [...]}`; a schema prefix such
as `cdm.person` and upper-case column names are accepted), and yields one `Patient` per row of
`person`, or a `RecordError` when that row cannot be read. Nothing is ever raised for bad input:
a row that cannot be read becomes a `Problem` (its table, row and column, and the reason), is
counted in the `ReadSummary`, and its person is still read. Every input row is counted exactly
once: read, or skipped with a reason.

Rows may come from JSON (dates as "YYYY-MM-DD" text), from a database driver (`datetime.date`,
`Decimal`, ids as floats) or from CSV (every value text, "" for NULL); all three read the same.

The choices made for each table, and how they line up with OHDSI Circe's, are in docs/omop.md;
the conformance cases that check them are in docs/conformance.md.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal

import attrs

from criteria_lang.core.bounds import is_bound_comparator
from criteria_lang.core.codes import SYSTEM_OF_VOCABULARY
from criteria_lang.core.data_units import DATA_UNITS
from criteria_lang.core.dates import OutOfCalendar, add_days
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.bounds_text import read_bound_text
from criteria_lang.records.normalise import measurement_value
from criteria_lang.records.omop_extensions import (
    CRITERIA_TABLES,
    PersonExtras,
    fact_value,
    read_extension_rows,
)
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.timeline import (
    DETECTION_LIMITS,
    NUMBER_RANGE,
    Code,
    Condition,
    Event,
    Fact,
    Interval,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
    decimal_in_range,
    int_in_range,
)

__all__ = [
    "DEATH_CONCEPT_ID",
    "ERA_TABLE",
    "IGNORED",
    "NOT_READABLE",
    "OUTSIDE_OBSERVATION",
    "PERSON_NOT_READABLE",
    "VOCABULARIES",
    "ReadSummary",
    "read_omop_tables",
]

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


# --------------------------------------------------------------------------------------------
# Per person


@attrs.define
class _Person:
    id: str
    birth_date: dt.date | None
    sex: str | None
    events: list[Event] = attrs.field(factory=list)
    ids: set[str] = attrs.field(factory=set)
    coverage: list[Interval] = attrs.field(factory=list)
    extras: PersonExtras = attrs.field(factory=PersonExtras)
    error: RecordError | None = None


class _Reader:
    def __init__(
        self,
        tables: dict[str, list[tuple[int, Mapping[str, Any]]]],
        vocabulary: _Vocabulary,
        summary: ReadSummary,
        *,
        eras: bool,
        outside_observation: str,
    ) -> None:
        self.tables = tables
        self.vocabulary = vocabulary
        self.summary = summary
        self.eras = eras
        self.outside_observation = outside_observation
        self.persons: dict[int, _Person] = {}
        self.order: list[_Person] = []
        self.providers: dict[int, int] = {}
        self.care_sites: dict[int, int] = {}
        # drug_concept_id -> its drug_strength rows
        self.strengths: dict[int, list[_Strength]] = {}
        # (event table, event id) -> attributes from criteria_attribute
        self.attributes: dict[tuple[str, int], dict[str, str | Fraction | bool]] = {}

    # -- bookkeeping -------------------------------------------------------------------------

    def skip(self, table: str, reason: str, count: int = 1) -> None:
        self.summary.skipped[(table, reason)] += count

    def note(self, table: str, note: str) -> None:
        self.summary.notes[(table, note)] += 1

    def fail(self, row: _Row) -> None:
        self.summary.problems.extend(row.problems)
        self.skip(row.table, NOT_READABLE)

    def internal(self, row: _Row, error: BaseException) -> None:
        row.problem(
            None,
            f"could not be read because of an internal error ({type(error).__name__}: {error}); "
            "this is a bug in criteria_lang",
        )
        self.fail(row)

    # -- the whole read ------------------------------------------------------------------------

    def run(self) -> Iterator[Patient | RecordError]:
        """Persons, coverage, then events; `read_lookups` must have been called first."""
        self.read_persons()
        self.read_rows("observation_period", _Reader.observation_period)
        read_extension_rows(self)
        for table in _EVENT_TABLES:
            self.read_rows(table, _READERS[table])
        for table in _ERA_TABLES:
            if self.eras:
                self.read_rows(table, _READERS[table])
            elif self.tables.get(table):
                self.skip(table, ERA_TABLE, len(self.tables[table]))
        known = {
            *_EVENT_TABLES,
            *_ERA_TABLES,
            *_LOOKUP_TABLES,
            *CRITERIA_TABLES,
            "person",
            "observation_period",
        }
        for table, rows in self.tables.items():
            if table not in known and rows:
                self.skip(table, IGNORED, len(rows))
        for person in self.order:
            if person.error is not None:
                self.summary.record_errors += 1
                yield person.error
                continue
            self.summary.persons += 1
            yield Patient(
                id=person.id,
                birth_date=person.birth_date,
                sex=person.sex,
                dates=person.extras.dates,
                events=tuple(person.events),
                coverage=tuple(sorted(person.coverage, key=lambda s: (s.start, s.end or s.start))),
                reviews=person.extras.reviews,
                visits=tuple(sorted(person.extras.visits, key=lambda v: v.date)),
                source=f"person/{person.id}",
            )

    # -- lookups -----------------------------------------------------------------------------

    def read_lookups(self) -> None:
        for index, data in self.tables.get("concept", ()):
            row = _Row("concept", index, data)
            concept_id = row.int("concept_id")
            if concept_id is None:
                if not row.problems:
                    row.problem("concept_id", "no concept_id")
                self.fail(row)
                continue
            self.vocabulary.add(concept_id, data)
            self.summary.read["concept"] += 1
        for index, data in self.tables.get("concept_ancestor", ()):
            row = _Row("concept_ancestor", index, data)
            ancestor, descendant = row.int("ancestor_concept_id"), row.int("descendant_concept_id")
            if ancestor is None or descendant is None:
                if not row.problems:
                    row.problem(None, "needs ancestor_concept_id and descendant_concept_id")
                self.fail(row)
                continue
            if ancestor != descendant:
                self.vocabulary.ancestors.setdefault(descendant, []).append(ancestor)
            self.summary.read["concept_ancestor"] += 1
        for index, data in self.tables.get("drug_strength", ()):
            row = _Row("drug_strength", index, data)
            drug = row.int("drug_concept_id")
            strength = _Strength(
                row.number("amount_value"),
                row.int("amount_unit_concept_id"),
                row.number("numerator_value"),
                row.int("numerator_unit_concept_id"),
                row.number("denominator_value"),
                row.int("denominator_unit_concept_id"),
            )
            if drug is None or row.problems:
                if not row.problems:
                    row.problem("drug_concept_id", "no drug_concept_id")
                self.fail(row)
                continue
            self.strengths.setdefault(drug, []).append(strength)
            self.summary.read["drug_strength"] += 1
        for table, key, column, target in (
            ("provider", "provider_id", "specialty_concept_id", self.providers),
            ("care_site", "care_site_id", "place_of_service_concept_id", self.care_sites),
        ):
            for index, data in self.tables.get(table, ()):
                row = _Row(table, index, data)
                ident, value = row.int(key), row.int(column)
                if ident is None or row.problems:
                    if not row.problems:
                        row.problem(key, f"no {key}")
                    self.fail(row)
                    continue
                if value is not None:
                    target[ident] = value
                self.summary.read[table] += 1

    # -- persons -----------------------------------------------------------------------------

    def read_persons(self) -> None:
        for index, data in self.tables.get("person", ()):
            row = _Row("person", index, data)
            try:
                self.person(row)
            except Exception as error:  # noqa: BLE001 - a batch must account for every row
                self.internal(row, error)
                self.unreadable_person(row)

    def unreadable_person(self, row: _Row) -> None:
        """A person row that cannot be read at all is still a row of the output: an error."""
        lost = _Person(f"person[{row.index}]", None, None)
        lost.error = RecordError(f"person[{row.index}]", tuple(row.problems))
        self.order.append(lost)

    def person(self, row: _Row) -> None:
        person_id = row.int("person_id")
        if person_id is None:
            if not row.problems:
                row.problem("person_id", "no person_id")
            self.fail(row)
            self.unreadable_person(row)
            return
        if person_id in self.persons:
            self.skip("person", DUPLICATE_PERSON)
            return
        row.label = f"person {person_id}"
        birth = self.birth_date(row)
        sex = self.sex(row)
        person = _Person(str(person_id), birth, sex)
        if row.problems:
            # Age and sex are read by many criteria: a person whose birth or gender cannot be
            # read is not guessed at. Its rows are counted as PERSON_NOT_READABLE.
            person.error = RecordError(f"person/{person_id}", tuple(row.problems))
            self.summary.problems.extend(row.problems)
            self.skip("person", NOT_READABLE)
        else:
            self.summary.read["person"] += 1
        self.persons[person_id] = person
        self.order.append(person)

    def birth_date(self, row: _Row) -> dt.date | None:
        exact = row.date("birth_datetime")
        if exact is not None or row.problems:
            return exact
        year, month, day = (
            row.int("year_of_birth"),
            row.int("month_of_birth"),
            row.int("day_of_birth"),
        )
        if row.problems:
            return None
        if not year:  # NULL or 0: not recorded
            self.note("person", "without year_of_birth: age unknown")
            return None
        if month is None or day is None:
            # Circe's age is YEAR(index) - year_of_birth: the age on 1 January of the birth year.
            self.note(
                "person", "birth date from year_of_birth alone: 1 January (or the 1st) assumed"
            )
        try:
            return dt.date(year, month or 1, day or 1)
        except ValueError:
            row.problem("year_of_birth", f"{year}-{month or 1}-{day or 1} is not a calendar date")
            return None

    def sex(self, row: _Row) -> str | None:
        gender = row.int("gender_concept_id")
        if gender is None or gender == 0:
            return None
        if gender in _GENDERS:
            return _GENDERS[gender]
        name = (self.vocabulary.name(gender) or "").casefold()
        if name in _SEX_NAMES:
            return name
        self.note("person", "gender_concept_id not a known gender: sex unknown")
        return None

    def owner(self, row: _Row) -> _Person | None:
        """The person a row is about: None (with a problem, or counted) when there is none."""
        person_id = row.int("person_id")
        if person_id is None:
            if not row.problems:
                row.problem("person_id", "no person_id: whose row this is cannot be told")
            self.fail(row)
            return None
        person = self.persons.get(person_id)
        if person is None:
            row.problem("person_id", f"person_id {person_id} is not in the person table")
            self.fail(row)
            return None
        if person.error is not None:
            self.skip(row.table, PERSON_NOT_READABLE)
            return None
        return person

    # -- rows of the other tables ----------------------------------------------------------------

    def read_rows(self, table: str, reader: Callable[[_Reader, _Row, _Person], Any]) -> None:
        for index, data in self.tables.get(table, ()):
            row = _Row(table, index, data)
            try:
                person = self.owner(row)
                if person is None:
                    continue
                result = reader(self, row, person)
            except Exception as error:  # noqa: BLE001 - a batch must account for every row
                self.internal(row, error)
                continue
            if row.problems or result is None:
                if not row.problems:
                    row.problem(None, "could not be read")
                self.fail(row)
                continue
            if isinstance(result, Event):
                ident = row.int(_ID_COLUMNS[table]) if table in _ID_COLUMNS else None
                extra = self.attributes.get((table, ident)) if ident is not None else None
                if extra and isinstance(result, Condition | Procedure):
                    result.attributes.update(extra)
                elif extra and isinstance(result, Measurement):
                    result = _measurement_extras(result, extra)
                if self.outside_observation == "drop" and not any(
                    span.contains(result.start) for span in person.coverage
                ):
                    self.skip(table, OUTSIDE_OBSERVATION)
                    continue
                if result.id in person.ids:
                    self.note(table, "with an id already used for this person: '#<row>' added")
                    result = attrs.evolve(result, id=f"{result.id}#{index}")
                person.ids.add(result.id)
                person.events.append(result)
            self.summary.read[table] += 1

    def observation_period(self, row: _Row, person: _Person) -> Interval | None:
        ident = row.int("observation_period_id")
        if ident is not None:
            row.label = f"observation_period {ident}"
        start = row.required_date("observation_period_start_date")
        end = row.end_date(start, "observation_period_end_date")
        if end is None and not row.problems:
            row.problem("observation_period_end_date", "no end date")
        if row.problems or start is None or end is None:
            return None
        span = Interval(start, None if end == OPEN_END else end)
        person.coverage.append(span)
        return span

    # -- shared pieces of the event readers --------------------------------------------------

    def start(
        self, row: _Row, person: _Person, id_column: str | None, *date_columns: str
    ) -> tuple[str, dt.date | None]:
        """The event id (`table/id`) and the start date, which is required."""
        ident = row.int(id_column) if id_column else None
        if id_column is None:
            event_id = f"{row.table}/{person.id}"  # death: one per person, no id of its own
        elif ident is None:
            event_id = f"{row.table}/row-{row.index}"  # an id is not needed to read the row
        else:
            event_id = f"{row.table}/{ident}"
        row.label = event_id.replace("/", " ", 1)
        return event_id, row.required_date(*date_columns)

    def codes(self, row: _Row, concept_column: str, source_column: str | None) -> tuple[Code, ...]:
        concept_id = row.int(concept_column)
        source_id = row.int(source_column) if source_column else None
        if concept_id is None:
            if not row.problems:
                row.problem(concept_column, f"no {concept_column}: what it is cannot be told")
            return ()
        return self.vocabulary.codes(concept_id, source_id)

    def concept_attr(
        self, row: _Row, attributes: dict[str, str | Fraction | bool], *columns: str
    ) -> None:
        """Concept and id columns, kept as text (`where visit_occurrence_id = "3"`)."""
        for column in columns:
            value = row.int(column)
            if value is not None:
                attributes[column] = str(value)

    def quantity(self, row: _Row, value_column: str, unit_column: str) -> Quantity | str | None:
        """A number with its unit concept; with a comparison operator, a bound ("<0.5"); with an
        operator that is no comparison, text naming it (no number compares with it)."""
        number = row.number(value_column)
        if number is None:
            return None
        unit_id = row.int(unit_column)
        unit = "1"
        if unit_id:
            code = self.vocabulary.unit(unit_id)
            if code is None:
                row.problem(
                    unit_column,
                    f"unit concept {unit_id} is neither a UCUM concept of the concept table nor a "
                    "unit criteria_lang knows: the value cannot be compared",
                )
                return None
            try:
                get_units().parse_ucum(code)
            except UnitError as error:
                row.problem(unit_column, f'unit "{code}" (concept {unit_id}): {error}')
                return None
            unit = code
        operator_id = row.int("operator_concept_id") if "operator_concept_id" in row.data else None
        if operator_id:
            symbol = self.vocabulary.operator(operator_id)
            if is_bound_comparator(symbol):
                self.note(row.table, "values with a comparison operator, read as bounds")
                return Quantity(number, unit, ucum=True, comparator=symbol)
            if symbol != "=":
                shown = Quantity(number, "" if unit == "1" else unit)
                self.note(row.table, "values with an unknown operator, read as text")
                return f"(operator concept {operator_id}) {shown}"
        return Quantity(number, unit, ucum=True)


# --------------------------------------------------------------------------------------------
# The tables. Each reader returns an Event (or None with a problem on the row).


def _condition(self: _Reader, row: _Row, person: _Person) -> Event | None:
    event_id, start = self.start(
        row, person, "condition_occurrence_id", "condition_start_date", "condition_start_datetime"
    )
    end = row.end_date(start, "condition_end_date", "condition_end_datetime")
    codes = self.codes(row, "condition_concept_id", "condition_source_concept_id")
    attributes: dict[str, str | Fraction | bool] = {"omop_table": "condition_occurrence"}
    self.concept_attr(
        row,
        attributes,
        "condition_type_concept_id",
        "condition_status_concept_id",
        "visit_occurrence_id",
    )
    status = row.text("stop_reason")
    if row.problems or start is None:
        return None
    return Condition(
        id=event_id,
        kind="condition",
        codes=codes,
        start=start,
        end=end,
        source=event_id,
        status=status or None,
        attributes=attributes,
    )


def _drug_exposure(self: _Reader, row: _Row, person: _Person) -> Event | None:
    event_id, start = self.start(
        row, person, "drug_exposure_id", "drug_exposure_start_date", "drug_exposure_start_datetime"
    )
    end = row.end_date(start, "drug_exposure_end_date", "drug_exposure_end_datetime")
    days_supply = row.int("days_supply")
    codes = self.codes(row, "drug_concept_id", "drug_source_concept_id")
    route_id = row.int("route_concept_id")
    if row.problems or start is None:
        return None
    if end is None:
        # OMOP's own convention (THEMIS): end = start + days_supply - 1, the last day of supply;
        # Circe's start + days_supply is the day after it. Without days_supply: the start day.
        if days_supply is not None and days_supply > 0:
            try:
                end = add_days(start, days_supply - 1)
            except OutOfCalendar as outside:
                row.problem("days_supply", f"the supply runs past the calendar: {outside}")
                return None
            self.note("drug_exposure", "end date from days_supply (start + days_supply - 1)")
        else:
            end = start
            self.note("drug_exposure", "without end date or days_supply: one day")
    if end == OPEN_END:
        end = None  # ongoing (omop_write.py)
    route = self.vocabulary.name(route_id) if route_id else None
    dose, per_day, daily = _dose(self, row, days_supply)
    if row.problems:
        return None
    return MedicationExposure(
        id=event_id,
        kind="medication",
        codes=codes,
        start=start,
        end=end,
        source=event_id,
        route=_route_text(route),
        status=row.text("stop_reason") or None,
        dose=dose,
        per_day=per_day,
        daily_dose=daily,
    )


@attrs.frozen
class _Strength:
    """A drug_strength row: an amount per unit, or a numerator per denominator (a rate)."""

    amount: Fraction | None
    amount_unit: int | None
    numerator: Fraction | None
    numerator_unit: int | None
    denominator: Fraction | None
    denominator_unit: int | None


def _dose(
    self: _Reader, row: _Row, days_supply: int | None
) -> tuple[Quantity | None, Fraction | None, Quantity | None]:
    """(dose per administration, administrations a day, daily dose) from the drug's strength.

    An amount (`amount_value`, the drug's one ingredient): one unit of the drug is one
    administration, and `quantity / days_supply` units are taken a day, so the daily dose is
    amount x quantity / days_supply. A rate (`numerator_value` per `denominator_value` of a time
    unit: 150 mg per day, a patch's 25 ug per hour) is the daily dose itself. A drug with no
    strength row, or several ingredients, or a concentration (mg per mL), has no dose
    (docs/omop.md, "Doses").
    """
    drug = row.int("drug_concept_id")
    quantity = row.number("quantity")
    per_day = None
    if quantity is not None and quantity > 0 and days_supply is not None and days_supply > 0:
        per_day = quantity / days_supply
    strengths = self.strengths.get(drug, []) if drug is not None else []
    if len(strengths) != 1 or row.problems:
        if len(strengths) > 1:
            self.note("drug_exposure", "drug of several ingredients: no dose")
        return None, per_day, None
    strength = strengths[0]
    if strength.amount is None:
        return None, per_day, _rate(self, strength)
    unit = self.vocabulary.unit(strength.amount_unit) if strength.amount_unit else None
    if unit is None:
        self.note("drug_exposure", "strength in an unknown unit: no dose")
        return None, per_day, None
    return Quantity(strength.amount, unit, ucum=True), per_day, None


def _rate(self: _Reader, strength: _Strength) -> Quantity | None:
    """A numerator per denominator of time as a daily dose (`mg/d`), else None."""
    numerator, denominator = strength.numerator, strength.denominator or Fraction(1)
    top = self.vocabulary.unit(strength.numerator_unit) if strength.numerator_unit else None
    bottom = self.vocabulary.unit(strength.denominator_unit) if strength.denominator_unit else None
    if numerator is None or top is None or bottom is None or denominator <= 0:
        return None
    units = get_units()
    try:
        if not units.compatible(units.parse_ucum(bottom), units.parse_ucum("d")):
            self.note("drug_exposure", "strength by concentration: no dose")
            return None
        per_day = units.convert(
            numerator / denominator,
            units.parse_ucum(f"{top}/{bottom}"),
            units.parse_ucum(f"{top}/d"),
        )
    except UnitError:
        self.note("drug_exposure", "strength in an unknown unit: no dose")
        return None
    return Quantity(per_day, f"{top}/d", ucum=True)


def _route_text(name: str | None) -> str | None:
    if not name:
        return None
    text = re.sub(r"\s*\(qualifier value\)$", "", name.strip(), flags=re.I)
    text = re.sub(r"\s+(route|use)$", "", text, flags=re.I)
    return text.casefold() or None


def _procedure_like(
    table: str,
    id_column: str | None,
    concept_column: str,
    source_column: str | None,
    start_columns: tuple[str, ...],
    end_columns: tuple[str, ...],
    concept_columns: tuple[str, ...] = (),
    number_columns: tuple[str, ...] = (),
) -> Callable[[_Reader, _Row, _Person], Event | None]:
    """Procedures, devices, specimens and visits: a Procedure from start to end (else one day)."""

    def read(self: _Reader, row: _Row, person: _Person) -> Event | None:
        event_id, start = self.start(row, person, id_column, *start_columns)
        end = row.end_date(start, *end_columns) if end_columns else None
        codes = self.codes(row, concept_column, source_column)
        attributes: dict[str, str | Fraction | bool] = {"omop_table": table}
        self.concept_attr(row, attributes, *concept_columns)
        for column in number_columns:
            number = row.number(column)
            if number is not None:
                attributes[column] = number
        if table in ("visit_occurrence", "visit_detail"):
            provider, site = row.int("provider_id"), row.int("care_site_id")
            if provider is not None and provider in self.providers:
                attributes["provider_specialty_concept_id"] = str(self.providers[provider])
            if site is not None and site in self.care_sites:
                attributes["place_of_service_concept_id"] = str(self.care_sites[site])
        if row.problems or start is None:
            return None
        return Procedure(
            id=event_id,
            kind="procedure",
            codes=codes,
            start=start,
            end=end or start,
            source=event_id,
            attributes=attributes,
        )

    return read


def _measurement(self: _Reader, row: _Row, person: _Person) -> Event | None:
    event_id, start = self.start(
        row, person, "measurement_id", "measurement_date", "measurement_datetime"
    )
    concept_id = row.int("measurement_concept_id")
    codes = self.codes(row, "measurement_concept_id", "measurement_source_concept_id")
    value = _value(self, row)
    reference = None
    if not row.problems:
        low, high = row.number("range_low"), row.number("range_high")
        unit: str | None = "1"
        if isinstance(value, Quantity):
            unit = value.unit
        elif unit_id := row.int("unit_concept_id"):
            unit = self.vocabulary.unit(unit_id)  # a text value ("<0.5 mg/dL") or none
        if unit is None:
            self.note("measurement", "reference ranges in an unknown unit, not read")
        elif (low is not None or high is not None) and not row.problems:
            reference = ReferenceRange(
                None if low is None else Quantity(low, unit, ucum=True),
                None if high is None else Quantity(high, unit, ucum=True),
            )
    if row.problems or start is None:
        return None
    # The normalisations every reader applies (records/normalise.py).
    normalised, reference, note = measurement_value(codes, value, reference)
    value = normalised  # type: ignore[assignment]
    if note is not None:
        self.note("measurement", note)
    concept = self.vocabulary.concepts.get(concept_id) if concept_id is not None else None
    kind = (
        _MEASUREMENT_KINDS.get((concept.concept_class or "").casefold(), "lab")
        if concept
        else "lab"
    )
    return Measurement(
        id=event_id,
        kind=kind,
        codes=codes,
        start=start,
        end=start,
        source=event_id,
        value=value,
        reference_range=reference,
    )


def _observation(self: _Reader, row: _Row, person: _Person) -> Event | None:
    event_id, start = self.start(
        row, person, "observation_id", "observation_date", "observation_datetime"
    )
    codes = self.codes(row, "observation_concept_id", "observation_source_concept_id")
    value = _value(self, row)
    if value is None and not row.problems:
        value = row.text("value_as_string")
    if row.problems or start is None:
        return None
    concept_id = row.int("observation_concept_id")
    concept = self.vocabulary.concepts.get(concept_id) if concept_id is not None else None
    if concept is not None and (concept.concept_class or "").casefold() == "fact":
        return Fact(
            id=event_id,
            kind="fact",
            codes=codes,
            start=start,
            end=start,
            source=event_id,
            value=fact_value(value),
        )
    return Measurement(
        id=event_id,
        kind="observation",
        codes=codes,
        start=start,
        end=start,
        source=event_id,
        value=value,
    )


def _value(self: _Reader, row: _Row) -> Quantity | str | bool | None:
    """value_as_number with its unit; else value_as_concept_id as its concept's name."""
    value = self.quantity(row, "value_as_number", "unit_concept_id")
    if value is not None or row.problems:
        return value
    concept_id = row.int("value_as_concept_id")
    if concept_id:
        concept = self.vocabulary.concepts.get(concept_id)
        if concept is not None and (concept.concept_class or "").casefold() == "boolean":
            return (concept.name or "").casefold() == "true"  # omop_write.py's yes / no
        return self.vocabulary.name(concept_id) or str(concept_id)
    return _source_bound(self, row)


def _measurement_extras(result: Measurement, extra: Mapping[str, object]) -> Measurement:
    """What omop_write.py keeps in criteria_attribute for a result: its interpretation, and
    whether its bound is a limit of detection or quantification."""
    if "interpretation" in extra:
        result = attrs.evolve(result, interpretation=str(extra["interpretation"]))
    limit = extra.get("detection_limit")
    value = result.value
    if isinstance(value, Quantity) and value.comparator is not None and limit in DETECTION_LIMITS:
        result = attrs.evolve(result, value=attrs.evolve(value, limit=limit))
    return result


def _source_bound(self: _Reader, row: _Row) -> Quantity | None:
    """A result with no value_as_number whose value_source_value is a bound such as "<0.5" (as
    exports write it): that bound, in the row's unit concept; None for any other text."""
    if "value_source_value" not in row.data:
        return None
    text = row.text("value_source_value")
    written = read_bound_text(text) if text else None
    if written is None or row.problems:
        return None
    unit_id = row.int("unit_concept_id")
    if unit_id:  # the row's unit concept, whatever the text says
        unit = self.vocabulary.unit(unit_id)
        ucum = True
    else:  # the unit written after the number, in our syntax (docs/units.md), else none
        unit, ucum = written.unit or "1", False
        try:
            get_units().parse(unit)
        except UnitError:
            unit = None
    if unit is None:
        return None
    self.note(row.table, "bounds read from value_source_value (no value_as_number)")
    return Quantity(written.value, unit, ucum=ucum, comparator=written.comparator)


def _death(self: _Reader, row: _Row, person: _Person) -> Event | None:
    event_id, start = self.start(row, person, None, "death_date", "death_datetime")
    attributes: dict[str, str | Fraction | bool] = {"omop_table": "death"}
    self.concept_attr(row, attributes, "cause_concept_id", "death_type_concept_id")
    if row.problems or start is None:
        return None
    codes = self.vocabulary.codes(DEATH_CONCEPT_ID, None)
    if codes[0].display is None:
        codes = (Code("omop", str(DEATH_CONCEPT_ID), "Death"), *codes[1:])
    return Condition(
        id=event_id,
        kind="condition",
        codes=codes,
        start=start,
        end=None,
        source=event_id,
        attributes=attributes,
    )


def _condition_era(self: _Reader, row: _Row, person: _Person) -> Event | None:
    event_id, start = self.start(row, person, "condition_era_id", "condition_era_start_date")
    end = row.end_date(start, "condition_era_end_date")
    codes = self.codes(row, "condition_concept_id", None)
    attributes: dict[str, str | Fraction | bool] = {"omop_table": "condition_era"}
    count = row.number("condition_occurrence_count")
    if count is not None:
        attributes["condition_occurrence_count"] = count
    if row.problems or start is None:
        return None
    return Condition(
        id=event_id,
        kind="condition",
        codes=codes,
        start=start,
        end=end or start,
        source=event_id,
        attributes=attributes,
    )


def _drug_era(self: _Reader, row: _Row, person: _Person) -> Event | None:
    table = row.table
    event_id, start = self.start(row, person, f"{table}_id", f"{table}_start_date")
    end = row.end_date(start, f"{table}_end_date")
    codes = self.codes(row, "drug_concept_id", None)
    daily = None
    if table == "dose_era" and not row.problems:
        dose = self.quantity(row, "dose_value", "unit_concept_id")
        daily = dose if isinstance(dose, Quantity) and dose.unit != "1" else None
    if row.problems or start is None:
        return None
    return MedicationExposure(
        id=event_id,
        kind="medication",
        codes=codes,
        start=start,
        end=end or start,
        source=event_id,
        daily_dose=daily,
    )


# Each event table's id column, for criteria_attribute rows.
_ID_COLUMNS = {
    "condition_occurrence": "condition_occurrence_id",
    "drug_exposure": "drug_exposure_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "device_exposure": "device_exposure_id",
    "measurement": "measurement_id",
    "observation": "observation_id",
    "specimen": "specimen_id",
    "visit_occurrence": "visit_occurrence_id",
    "visit_detail": "visit_detail_id",
}

_READERS: dict[str, Callable[[_Reader, _Row, _Person], Event | None]] = {
    "condition_occurrence": _condition,
    "drug_exposure": _drug_exposure,
    "procedure_occurrence": _procedure_like(
        "procedure_occurrence",
        "procedure_occurrence_id",
        "procedure_concept_id",
        "procedure_source_concept_id",
        ("procedure_date", "procedure_datetime"),
        ("procedure_end_date", "procedure_end_datetime"),
        ("procedure_type_concept_id", "modifier_concept_id", "visit_occurrence_id"),
        ("quantity",),
    ),
    "device_exposure": _procedure_like(
        "device_exposure",
        "device_exposure_id",
        "device_concept_id",
        "device_source_concept_id",
        ("device_exposure_start_date", "device_exposure_start_datetime"),
        ("device_exposure_end_date", "device_exposure_end_datetime"),
        ("device_type_concept_id", "visit_occurrence_id"),
        ("quantity",),
    ),
    "specimen": _procedure_like(
        "specimen",
        "specimen_id",
        "specimen_concept_id",
        None,
        ("specimen_date", "specimen_datetime"),
        (),
        ("specimen_type_concept_id", "anatomic_site_concept_id", "disease_status_concept_id"),
        ("quantity",),
    ),
    "visit_occurrence": _procedure_like(
        "visit_occurrence",
        "visit_occurrence_id",
        "visit_concept_id",
        "visit_source_concept_id",
        ("visit_start_date", "visit_start_datetime"),
        ("visit_end_date", "visit_end_datetime"),
        ("visit_type_concept_id", "visit_occurrence_id"),
    ),
    "visit_detail": _procedure_like(
        "visit_detail",
        "visit_detail_id",
        "visit_detail_concept_id",
        "visit_detail_source_concept_id",
        ("visit_detail_start_date", "visit_detail_start_datetime"),
        ("visit_detail_end_date", "visit_detail_end_datetime"),
        ("visit_detail_type_concept_id", "visit_occurrence_id"),
    ),
    "measurement": _measurement,
    "observation": _observation,
    "death": _death,
    "condition_era": _condition_era,
    "drug_era": _drug_era,
    "dose_era": _drug_era,
}


# --------------------------------------------------------------------------------------------
# The entry point


def _collect(
    tables: Mapping[str, Iterable[Mapping[str, Any]]], summary: ReadSummary
) -> dict[str, list[tuple[int, Mapping[str, Any]]]]:
    """Rows per table name (schema prefix dropped, lower case), each with its index in the input.

    A row that is not a mapping, and a table whose rows cannot be iterated, are problems.
    """
    out: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    seen: Counter[str] = Counter()  # rows per name so far: two keys may name one table
    for key, rows in tables.items():
        name = str(key).rsplit(".", 1)[-1].strip().lower()
        bucket = out.setdefault(name, [])
        try:
            for row in rows:
                index = seen[name]
                seen[name] += 1
                if isinstance(row, Mapping):
                    bucket.append((index, _lower_keys(row)))
                    continue
                message = f"{name} row {index}: expected a row of columns, got {_describe(row)}"
                summary.problems.append(Problem(f"{name}[{index}]", message))
                summary.skipped[(name, NOT_READABLE)] += 1
        except Exception as error:  # noqa: BLE001 - e.g. a database cursor failing mid-way
            message = f"{name}: reading stopped after {seen[name]} rows: {error}"
            summary.problems.append(Problem(name, message))
    return out


def read_omop_tables(
    tables: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    concept_map: Mapping[int | str, Mapping[str, Any]] | None = None,
    dates: Mapping[str, dt.date] | None = None,
    summary: ReadSummary | None = None,
    eras: bool = False,
    outside_observation: Literal["keep", "drop"] = "keep",
) -> Iterator[Patient | RecordError]:
    """Read OMOP CDM rows into patients: one `Patient` (or `RecordError`) per `person` row.

    * `tables`: table name -> rows (mappings of column -> value). `cdm.person` and `PERSON` are
      read as `person`. Tables other than those in docs/omop.md are counted as ignored.
    * `concept_map`: concept_id -> a concept row (`concept_name`, `vocabulary_id`,
      `concept_code`, `concept_class_id`), added to (and overriding) the `concept` table.
    * `dates`: the trial's named dates, given to every patient.
    * `summary`: a `ReadSummary` to fill with counts and problems.
    * `eras`: also read `condition_era`, `drug_era` and `dose_era` as events (they are derived
      from the occurrence tables, so by default they are counted and not read).
    * `outside_observation`: "keep" (default) reads events wherever they fall; "drop" skips an
      event whose start lies in none of its person's observation periods, as Circe does.

    Nothing is raised for bad input; the patients are built when the first is asked for.
    """
    summary = summary if summary is not None else ReadSummary()
    named = dict(dates or {})
    try:
        rows = _collect(tables, summary)
        vocabulary = _Vocabulary()
        reader = _Reader(
            rows, vocabulary, summary, eras=eras, outside_observation=outside_observation
        )
        reader.read_lookups()
        for key, row in (concept_map or {}).items():  # after the table: the map wins
            try:
                concept_id = _int(key)
            except _Bad:
                concept_id = None
            if concept_id is None or not isinstance(row, Mapping):
                summary.problems.append(
                    Problem(f"concept_map[{key!r}]", "expected a concept id and a concept row")
                )
                continue
            vocabulary.add(concept_id, _lower_keys(row))
        records = list(reader.run())
    except Exception as error:  # noqa: BLE001 - never raise for input, whatever it is
        problem = Problem(
            "$",
            f"could not be read because of an internal error ({type(error).__name__}: {error}); "
            "this is a bug in criteria_lang",
        )
        summary.problems.append(problem)
        summary.record_errors += 1
        yield RecordError("omop", (problem,))
        return
    for record in records:
        if isinstance(record, Patient) and named:
            # The person's own dates (criteria_date) win; `dates` gives those it lacks.
            record = attrs.evolve(record, dates={**named, **record.dates})
        yield record

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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

import attrs

from criteria_lang.core.bounds import is_bound_comparator
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.omop_extensions import (
    CRITERIA_TABLES,
    PersonExtras,
    read_extension_rows,
)
from criteria_lang.records.omop_tables import _ID_COLUMNS, _READERS, _measurement_extras, _Strength
from criteria_lang.records.omop_values import (
    _ERA_TABLES,
    _EVENT_TABLES,
    _GENDERS,
    _LOOKUP_TABLES,
    _SEX_NAMES,
    DUPLICATE_PERSON,
    _Bad,
    _describe,
    _int,
    _lower_keys,
    _Vocabulary,
)
from criteria_lang.records.omop_values import _UNITS as _UNITS
from criteria_lang.records.omop_values import DEATH_CONCEPT_ID as DEATH_CONCEPT_ID
from criteria_lang.records.omop_values import ERA_TABLE as ERA_TABLE
from criteria_lang.records.omop_values import IGNORED as IGNORED
from criteria_lang.records.omop_values import NOT_READABLE as NOT_READABLE
from criteria_lang.records.omop_values import OPEN_END as OPEN_END
from criteria_lang.records.omop_values import OPERATORS as OPERATORS
from criteria_lang.records.omop_values import OUTSIDE_OBSERVATION as OUTSIDE_OBSERVATION
from criteria_lang.records.omop_values import PERSON_NOT_READABLE as PERSON_NOT_READABLE
from criteria_lang.records.omop_values import VOCABULARIES as VOCABULARIES
from criteria_lang.records.omop_values import ReadSummary as ReadSummary
from criteria_lang.records.omop_values import _Row as _Row
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.timeline import (
    AttributeValue,
    Code,
    Event,
    Interval,
    Measurement,
    Patient,
    Quantity,
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
        self.attributes: dict[tuple[str, int], dict[str, AttributeValue]] = {}

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
        """The tables events refer to: concepts and their ancestors, drug strengths, providers'
        specialties and care sites' places of service."""
        self.read_concepts()
        self.read_strengths_and_places()

    def read_concepts(self) -> None:
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

    def read_strengths_and_places(self) -> None:
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
                if extra and isinstance(result, Measurement):
                    result = _measurement_extras(result, extra)
                elif extra:
                    result.attributes.update(extra)
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

    def concept_attr(self, row: _Row, attributes: dict[str, AttributeValue], *columns: str) -> None:
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

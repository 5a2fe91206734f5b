"""criteria-lang's own tables beside an OMOP CDM database (docs/omop.md, "Writing OMOP").

OMOP has no place for a trial's named dates, a reviewer's answer to a criterion's question, a
study visit, or an attribute of an event that is not one of its columns (a biopsy's ISN/RPS
class). `omop_write.py` writes them to four tables named `criteria_*`, keyed by `person_id` (or by
the event's table and id), and `omop.py` reads them back with this module:

* criteria_date: person_id, date_name, date_value;
* criteria_review: person_id, criterion_id, answer (met / not_met), answered_by, answer_date, note,
  question (optional: the answer is to that question of the criterion only);
* criteria_visit: person_id, visit_name, visit_date;
* criteria_attribute: event_table, event_id, attribute_name, and one of value_as_string,
  value_as_number, value_as_boolean.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import TYPE_CHECKING

import attrs

from criteria_lang.records.timeline import AttributeValue, Quantity, ReviewAnswer, Visit

if TYPE_CHECKING:
    from criteria_lang.records.omop import _Reader, _Row

__all__ = ["CRITERIA_TABLES", "PersonExtras", "fact_value", "read_extension_rows"]

CRITERIA_TABLES = ("criteria_date", "criteria_review", "criteria_visit", "criteria_attribute")

_YES = frozenset({"yes", "true", "y"})
_NO = frozenset({"no", "false", "n"})


@attrs.define
class PersonExtras:
    dates: dict[str, dt.date] = attrs.field(factory=dict)
    reviews: dict[str, ReviewAnswer] = attrs.field(factory=dict)
    visits: list[Visit] = attrs.field(factory=list)


def fact_value(value: Quantity | str | bool | None) -> str | bool | Fraction | None:
    """A fact's value: yes / no (a Yes or No answer concept, or our true / false) as a bool."""
    if isinstance(value, Quantity):
        return value.value
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in _YES:
            return True
        if word in _NO:
            return False
    return value


def read_extension_rows(reader: _Reader) -> None:
    """Dates, reviews and visits onto their persons; attributes into `reader.attributes`."""
    from criteria_lang.records.omop import _Row  # noqa: F811 - at run time (import cycle)

    for index, data in reader.tables.get("criteria_attribute", ()):
        row = _Row("criteria_attribute", index, data)
        table, ident, name = (
            row.text("event_table"),
            row.int("event_id"),
            row.text("attribute_name"),
        )
        text, number = row.text("value_as_string"), row.number("value_as_number")
        flag = data.get("value_as_boolean")
        if row.problems or not table or ident is None or not name:
            if not row.problems:
                row.problem(None, "needs event_table, event_id and attribute_name")
            reader.fail(row)
            continue
        value: AttributeValue | None = text if text is not None else number
        unit = row.text("value_unit")
        if number is not None and unit:  # a quantity (a half-life), its unit written as UCUM
            value = Quantity(number, unit, ucum=True)
        if value is None and isinstance(flag, bool | int | str) and str(flag) != "":
            value = str(flag).strip().casefold() in ("true", "1", "t")
        if value is None:
            row.problem(None, "no value")
            reader.fail(row)
            continue
        reader.attributes.setdefault((table.lower(), ident), {})[name] = value
        reader.summary.read["criteria_attribute"] += 1
    for table in ("criteria_date", "criteria_review", "criteria_visit"):
        for index, data in reader.tables.get(table, ()):
            row = _Row(table, index, data)
            person = reader.owner(row)
            if person is None:
                continue
            if _read_person_row(row, person.extras):
                reader.summary.read[table] += 1
            else:
                reader.fail(row)


def _read_person_row(row: _Row, extras: PersonExtras) -> bool:
    if row.table == "criteria_date":
        name, day = row.text("date_name"), row.date("date_value")
        if name and day and not row.problems:
            extras.dates[name] = day
            return True
    elif row.table == "criteria_visit":
        name, day = row.text("visit_name"), row.date("visit_date")
        if name and day and not row.problems:
            extras.visits.append(Visit(name, day))
            return True
    else:
        criterion, answer = row.text("criterion_id"), row.text("answer")
        by, day, note = row.text("answered_by"), row.date("answer_date"), row.text("note")
        question = row.text("question")
        if criterion and answer in ("met", "not_met") and not row.problems:
            one = ReviewAnswer(answer == "met", by, day, note)
            known = extras.reviews.get(criterion, ReviewAnswer(None))
            if question:  # an answer to one question of the criterion
                questions = {**known.questions, question: one}
                extras.reviews[criterion] = attrs.evolve(known, questions=questions)
            else:
                extras.reviews[criterion] = attrs.evolve(one, questions=known.questions)
            return True
    if not row.problems:
        row.problem(None, f"a {row.table} row needs its columns (docs/omop.md)")
    return False

"""The concept ids, vocabularies and tables the OMOP writer (records/omop_write.py) uses
beyond the standard vocabularies (our local concepts, the criteria_* tables), and the small
conversions of one value to a column (decimals, UCUM units, dates, ids, quantities).

Moved out of omop_write.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from typing import Any

from criteria_lang.core.codes import VOCABULARY_OF_SYSTEM
from criteria_lang.core.data_units import DATA_UNITS
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.timeline import (
    Event,
    Quantity,
)

# OMOP's convention: concept ids from 2,000,000,000 up are local to an institution.
LOCAL_CONCEPT_START = 2_000_000_000
# An open end (a coverage span still open; an ongoing exposure): OMOP needs a date, and its
# vocabulary tables write "no end" as 2099-12-31 (valid_end_date); the reader reads it as open.

# Our code systems -> OMOP vocabulary_id. The reader maps these back (omop.VOCABULARIES).
_VOCABULARY_IDS = {
    system: vocabulary
    for system, vocabulary in VOCABULARY_OF_SYSTEM.items()
    if system not in ("concept", "local")
}
# Our own vocabularies, for codes no OMOP vocabulary has: a stdlib concept named directly
# (system "concept"), a site's local code (system "local"), and values with no code system
# (routes, result words, yes/no).
LOCAL_VOCABULARIES = {system: VOCABULARY_OF_SYSTEM[system] for system in ("concept", "local")}
VALUE_VOCABULARY = "Criteria value"

# The tables of ours (docs/omop.md, "Writing OMOP"): what OMOP has no place for.
CRITERIA_TABLES = ("criteria_date", "criteria_review", "criteria_visit", "criteria_attribute")

# Event kind -> the concept class the reader turns back into that kind (omop._MEASUREMENT_KINDS),
# and the table the event is written to.
_MEASUREMENT_CLASSES = {"lab": "Lab Test", "observation": "Clinical Observation", "score": "Survey"}
FACT_CLASS = "Fact"  # an observation row whose concept has this class is read as a fact
BOOLEAN_CLASS = "Boolean"  # a value concept of this class is read as true / false

_TABLE_IDS = {
    "condition_occurrence": "condition_occurrence_id",
    "drug_exposure": "drug_exposure_id",
    "measurement": "measurement_id",
    "observation": "observation_id",
    "procedure_occurrence": "procedure_occurrence_id",
}

OmopTables = dict[str, list[dict[str, Any]]]

# Event ids start here: ten digits, so that they sort as text as they do as numbers.
EVENT_ID_START = 1_000_000_000


def _known_concepts() -> dict[tuple[str, str], dict[str, Any]]:
    """(our system, code) -> the real concept row, from omop_vocabulary.tsv."""
    text = resources.files("criteria_lang.records").joinpath("omop_vocabulary.tsv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = lines[0].split("\t")
    systems = {v.casefold(): k for k, v in _VOCABULARY_IDS.items()} | {"icd10cm": "icd10"}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for line in lines[1:]:
        row: dict[str, Any] = dict(zip(header, line.split("\t"), strict=True))
        row["concept_id"] = int(row["concept_id"])
        system = systems.get(row["vocabulary_id"].casefold())
        if system is not None:
            out[(system, row["concept_code"])] = row
    return out


# UCUM code -> the OMOP unit concept the reader knows without a concept table (omop._UNITS).
_KNOWN_UNITS = {u.ucum: u.omop_concept_id for u in DATA_UNITS if u.omop_concept_id is not None}


def decimal(value: Fraction, where: str) -> Decimal:
    """The exact decimal of `value`; ValueError when there is none (1/3)."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        raise ValueError(f"{where}: {value} has no exact decimal form")
    places = max(twos, fives)
    scaled = value * 10**places
    assert scaled.denominator == 1
    return Decimal(scaled.numerator).scaleb(-places)


def _ucum(quantity: Quantity, where: str) -> str:
    if quantity.ucum:
        return quantity.unit
    try:
        return get_units().ucum_code(quantity.unit)
    except UnitError as error:
        raise ValueError(f"{where}: {error}") from None


def _moment(event: Event) -> dt.datetime | None:
    """A result's date-time when the record gave its time of day (it orders one day's results)."""
    return None if event.time is None else dt.datetime.combine(event.start, event.time)


def _id(event: Event) -> str:
    return event.id


def _units_a_day(daily: Quantity, dose: Quantity, where: str) -> Fraction:
    units = get_units()
    source, target = units.parse_ucum(daily.unit), units.parse_ucum(_ucum(dose, where))
    if dose.value == 0 or not units.compatible(source, target):
        raise ValueError(f"{where}: a daily dose of {daily} is not a number of doses of {dose}")
    return units.convert(daily.value, source, target) / dose.value


def _status(status: str | None, where: str) -> str | None:
    """A recorded status in `stop_reason` (varchar(20)), the column OMOP has for whether and why
    a condition or an exposure ended; the reader reads it back as the status."""
    if status is not None and not 0 < len(status) <= 20:
        raise ValueError(f"{where}: status {status!r} does not fit stop_reason (20 characters)")
    return status


def _quantity(per_day: Fraction, days: int, where: str) -> tuple[Decimal, int]:
    """(quantity, days_supply) with quantity / days_supply = per_day exactly: the administrations
    over the exposure's days when they are a decimal number, else one cycle of the regimen (once
    every 2 weeks over 335 days is quantity 1, days_supply 14). The end date is written, so the
    reader never derives it from days_supply."""
    total = per_day * days
    try:
        return decimal(total, where), days
    except ValueError:
        return decimal(Fraction(per_day.numerator), where), per_day.denominator

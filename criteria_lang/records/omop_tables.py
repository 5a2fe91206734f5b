"""The OMOP CDM tables the reader (records/omop.py) turns into events: one function per table,
each returning an Event (or None with a problem on the row), and which function reads which
table.

Moved out of omop.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING

import attrs

from criteria_lang.core.dates import OutOfCalendar, add_days
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.bounds_text import read_bound_text
from criteria_lang.records.normalise import measurement_value
from criteria_lang.records.omop_extensions import (
    fact_value,
)
from criteria_lang.records.omop_values import (
    _MEASUREMENT_KINDS,
    DEATH_CONCEPT_ID,
    OPEN_END,
    _Row,
    _time,
)
from criteria_lang.records.timeline import (
    DETECTION_LIMITS,
    AttributeValue,
    Code,
    Condition,
    Event,
    Fact,
    Measurement,
    MedicationExposure,
    Procedure,
    Quantity,
    ReferenceRange,
)

if TYPE_CHECKING:
    from criteria_lang.records.omop import _Person, _Reader


# --------------------------------------------------------------------------------------------
# The tables. Each reader returns an Event (or None with a problem on the row).


def _condition(self: _Reader, row: _Row, person: _Person) -> Event | None:
    event_id, start = self.start(
        row, person, "condition_occurrence_id", "condition_start_date", "condition_start_datetime"
    )
    end = row.end_date(start, "condition_end_date", "condition_end_datetime")
    codes = self.codes(row, "condition_concept_id", "condition_source_concept_id")
    attributes: dict[str, AttributeValue] = {"omop_table": "condition_occurrence"}
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
    stop_reason = row.text("stop_reason") or None
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
        status=stop_reason,
        dose=dose,
        per_day=per_day,
        daily_dose=daily,
        # stop_reason says whether and why the exposure ended: the status (as written back by
        # omop_write) and the `stop_reason` attribute (core/attributes.py).
        attributes={"stop_reason": stop_reason} if stop_reason else {},
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
        attributes: dict[str, AttributeValue] = {"omop_table": table}
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
        time=_time(row.data.get("measurement_datetime")),
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
            time=_time(row.data.get("observation_datetime")),
            value=fact_value(value),
        )
    return Measurement(
        id=event_id,
        kind="observation",
        codes=codes,
        start=start,
        end=start,
        source=event_id,
        time=_time(row.data.get("observation_datetime")),
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
    attributes: dict[str, AttributeValue] = {"omop_table": "death"}
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
    attributes: dict[str, AttributeValue] = {"omop_table": "condition_era"}
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

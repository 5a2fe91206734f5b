"""Events as evidence and as values: how an event is described in a result, what value it
gives an aggregate, and why a value cannot be used (docs/language.md, "Results")."""

from __future__ import annotations

from fractions import Fraction

from criteria_lang.core.concepts import ConceptSet, QuantityAttr, basis_of
from criteria_lang.core.diagnostics import clip
from criteria_lang.core.results import Evidence
from criteria_lang.core.units import IncompatibleUnits, Unit, UnitError, get_units
from criteria_lang.engine.values import (
    UNREADABLE,
    Value,
    compare_quantity,
    convert_quantity,
    fmt_date,
    fmt_quantity,
    quantity_range,
    unit_of,
)
from criteria_lang.records.timeline import (
    Condition,
    Event,
    Fact,
    Measurement,
    MedicationExposure,
    Quantity,
    format_number,
)


def describe_event(event: Event) -> str:
    if isinstance(event, Measurement):
        value = event.value
        text = clip(str(value), 100) if value is not None else "no value"
        return f"{event.display} {text} on {fmt_date(event.start)}"
    if isinstance(event, MedicationExposure):
        dose = f" {event.dose}" if event.dose else ""
        per_day = f" x{format_number(event.per_day)}/day" if event.per_day else ""
        end = fmt_date(event.end) if event.end else "ongoing"
        return f"{event.display}{dose}{per_day} {fmt_date(event.start)}..{end}"
    if isinstance(event, Condition):
        end = f" to {fmt_date(event.end)}" if event.end else ""
        return f"{event.display} from {fmt_date(event.start)}{end}"
    if isinstance(event, Fact):
        return f"{event.display} = {clip(str(event.value), 100)} on {fmt_date(event.start)}"
    return f"{event.display} on {fmt_date(event.start)}"


def event_evidence(event: Event, label: str, detail: str | None = None) -> Evidence:
    if detail is None:
        detail = describe_event(event)
    return Evidence(label, detail, event.id, fmt_date(event.start))


def note_evidence(event: Event, note: str) -> Evidence:
    return Evidence(describe_event(event), note, event.id, fmt_date(event.start))


def unit_problem(event: Event, error: UnitError, what: str) -> str:
    """Why an event's value cannot be used: its unit cannot be read, or does not convert."""
    if isinstance(error, IncompatibleUnits):
        return f"{describe_event(event)}: {error}"
    return f"{describe_event(event)}: {what} cannot be read: {error}"


def event_value(event: Event, label: str, concept: ConceptSet | None) -> Value:
    """The value an event gives `latest`, `min`, ...: a lab's result, a medication's daily dose,
    or `true` for an event that has no value (a condition happened)."""
    evidence = (event_evidence(event, label),)

    def unreadable(what: str, error: UnitError) -> Value:
        reason = f"{describe_event(event)}: {what} cannot be read: {error}"
        return Value(None, evidence=evidence, missing=(reason,), label=label, kind=UNREADABLE)

    def absent(what: str) -> Value:
        reason = f"{describe_event(event)} has no {what}"
        return Value(None, evidence=evidence, missing=(reason,), label=label)

    if isinstance(event, Measurement | Fact):
        raw = event.value
        if isinstance(raw, Quantity):
            try:
                unit = unit_of(raw)
            except UnitError as error:
                return unreadable("the value", error)
            return Value(
                raw.value,
                unit,
                evidence,
                event=event,
                concept=concept,
                label=label,
                ucum=raw.ucum,
                range=None if raw.comparator is None else quantity_range(raw),
            )
        if raw is None:
            return absent("value")
        return Value(raw, None, evidence, event=event, concept=concept, label=label)
    if isinstance(event, MedicationExposure):
        daily = event.daily_amount()
        if daily is None:
            return absent("dose")
        try:
            unit = daily_unit(daily)
        except UnitError as error:
            return unreadable("the dose", error)
        return Value(daily.value, unit, evidence, event=event, concept=concept, label=label)
    return Value(True, None, evidence, event=event, concept=concept, label=label)


def daily_unit(daily: Quantity) -> Unit:
    """The unit of a daily amount: `mg` given per day is `mg/day`; `mg/d` stays. Raises
    UnitError for a unit that cannot be read."""
    unit = unit_of(daily)
    if is_amount(daily):
        return get_units().divide(unit, "day")
    return unit


def is_amount(quantity: Quantity) -> bool:
    """An amount (mg, IU, mL), not already an amount per time (mg/day, mL/d, IU/week)."""
    return is_amount_unit(unit_of(quantity))


def is_amount_unit(unit: Unit) -> bool:
    """A unit with no time in it: a daily dose recorded in it is an amount given each day."""
    return "[time]" not in unit.dimensionality


def numeric_word(
    event: Measurement, raw: Quantity, concept: ConceptSet | None, word: str
) -> bool | str:
    """`is positive` / `is negative` (`present` / `absent`) on a numeric result: positive when
    above the upper limit of its reference range (the result's own, else the concept's
    `upper_limit`), negative at or below it. Without a limit, or for `true` / `false`, the result
    cannot say: the reason is returned instead (docs/language.md, "Positive and negative")."""
    if word not in ("positive", "negative", "present", "absent"):
        return f"{describe_event(event)} is a number, not {word}"
    bound = event.reference_range.high if event.reference_range is not None else None
    if bound is None and concept is not None:
        attr = concept.attribute_for(event.codes, "upper_limit")
        if isinstance(attr, QuantityAttr):
            bound = Quantity(attr.value, attr.unit)
    if bound is None:
        return (
            # the value's unit is left out: it is spelt as the source spelt it (UCUM in FHIR)
            f"{event.display} on {fmt_date(event.start)} is a number with no upper reference "
            f"limit, so it is neither {word} nor its opposite"
        )
    try:
        limit = convert_quantity(bound, unit_of(raw), basis_of(concept))
    except UnitError as error:
        return unit_problem(event, error, "the value or its reference range")
    positive = compare_quantity(raw, raw.value, ">", limit)
    if positive is None:  # a bound on both sides of the limit (docs: "Results reported as bounds")
        return (
            f"{describe_event(event)} may be above or below the upper reference limit "
            f"{format_number(limit)}, so it is neither {word} nor its opposite"
        )
    return positive if word in ("positive", "present") else not positive


def change_evidence(value: Value, threshold: Value) -> tuple[Evidence, ...]:
    """Comparing with `P % of V`: the change from V to the value, absolute and relative
    (docs/language.md, "Values relative to other values")."""
    base = threshold.base
    if base is None or not isinstance(base.value, Fraction) or base.range is not None:
        return ()
    if not isinstance(value.value, Fraction) or value.range is not None:
        return ()  # a change from or to a bound has no one number
    now = value.value
    try:
        if value.unit is not None and base.unit is not None and value.unit != base.unit:
            basis = basis_of(value.concept or base.concept)
            now = get_units().convert(now, value.unit, base.unit, basis=basis)
    except UnitError:
        return ()
    delta = now - base.value

    def when(v: Value) -> str:
        return f" on {fmt_date(v.event.start)}" if v.event is not None else ""

    text = (
        f"{fmt_quantity(base.value, base.unit)}{when(base)} -> "
        f"{fmt_quantity(now, base.unit)}{when(value)}: "
        f"{'+' if delta >= 0 else '-'}{fmt_quantity(abs(delta), base.unit)}"
    )
    if base.value != 0:
        relative = delta / base.value * 100
        text += f" ({'+' if relative >= 0 else '-'}{format_number(abs(relative))} %)"
    return (Evidence(f"change in {base.label}", text),)

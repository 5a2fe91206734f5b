"""Medication arithmetic: doses in a threshold's unit, derived values, cumulative doses, dose
changes and exposure runs (docs/language.md, "Medications and doses", "Derived values")."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.conversions import Basis
from criteria_lang.core.dates import approximate_days, completed_years, run_reaches
from criteria_lang.core.derived import BODY_MEASURE_TOLERANCE_DAYS, BUILTINS, WEIGHT, Builtin
from criteria_lang.core.results import Evidence
from criteria_lang.core.units import Unit, UnitError
from criteria_lang.engine.context import Context
from criteria_lang.engine.evidence import describe_event, event_evidence, is_amount
from criteria_lang.engine.values import (
    Converter,
    Value,
    convert_value,
    fmt_date,
    fmt_quantity,
    unit_of,
)
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Event, MedicationExposure, format_number

DAILY_SHAPES = ("daily", "per_kg_daily", "per_m2_daily")


def dose_amount(
    ctx: Context,
    event: MedicationExposure,
    shape: p.DoseShape,
    threshold: Unit,
    basis: str | None,
    concept: ConceptSet,
    converter: Converter | None = None,
) -> tuple[Fraction, str] | str:
    """The exposure's dose in the threshold's unit, or why it cannot be known (a dose whose
    unit cannot be read costs only the criteria that need the dose)."""
    try:
        return _dose_amount(ctx, event, shape, threshold, basis, concept, converter)
    except UnitError as error:
        return f"{describe_event(event)}: the dose cannot be read: {error}"


def _dose_amount(
    ctx: Context,
    event: MedicationExposure,
    shape: p.DoseShape,
    threshold: Unit,
    basis: str | None,
    concept: ConceptSet,
    converter: Converter | None,
) -> tuple[Fraction, str] | str:
    units = ctx.units
    if shape in DAILY_SHAPES:
        quantity = event.daily_amount()
        if quantity is None:
            return f"{describe_event(event)}: no daily dose recorded (dose and frequency)"
        amount_unit = unit_of(quantity)
        if is_amount(quantity):
            amount_unit = units.divide(amount_unit, "day")
    else:
        quantity = event.dose
        if quantity is None:
            return f"{describe_event(event)}: no dose per administration recorded"
        amount_unit = unit_of(quantity)
    value = quantity.value
    factor_note = ""
    if basis is not None:
        factor = concept.attribute_for(event.codes, basis)
        if not isinstance(factor, Fraction):
            return f"{event.display} has no {basis} factor in the stdlib"
        value = value * factor
        factor_note = f" x {format_number(factor)} ({basis})"
    divided = per_body(ctx, event, shape, value, amount_unit)
    if isinstance(divided, str):
        return divided
    value, amount_unit, divisor_note = divided
    try:
        # The plan's factor for the recorded unit includes the shape's divisions.
        listed = (
            converter.lookup(quantity.unit, quantity.ucum, threshold.text, Basis())
            if converter is not None
            else None
        )
        if listed is not None:
            converted = listed(value)
        else:
            converted = convert_value(value, amount_unit, None, threshold, Basis(), None)
    except UnitError as error:
        return f"{describe_event(event)}: {error}"
    shown = (
        f"{fmt_quantity(quantity.value, unit_of(quantity))}{factor_note}{divisor_note} = "
        f"{fmt_quantity(converted, threshold)}"
    )
    return converted, shown


def per_body(
    ctx: Context, event: MedicationExposure, shape: p.DoseShape, value: Fraction, unit: Unit
) -> tuple[Fraction, Unit, str] | str:
    """A dose per kg of the body weight, or per m2 of the body surface area, nearest the
    exposure's start; unchanged for other shapes."""
    units = ctx.units
    if shape in ("per_kg", "per_kg_daily"):
        weight = ctx.nearest_measure(WEIGHT, event.start, BODY_MEASURE_TOLERANCE_DAYS)
        if weight is None:
            return (
                f"{describe_event(event)}: no body weight within "
                f"{BODY_MEASURE_TOLERANCE_DAYS} days of the dose"
            )
        if isinstance(weight, str):
            return f"{describe_event(event)}: {weight}"
        if weight[0] <= 0:
            return (
                f"{describe_event(event)}: the body weight {format_number(weight[0])} kg "
                f"({describe_event(weight[1])}) is not above 0"
            )
        note = f" / {format_number(weight[0])} kg ({fmt_date(weight[1].start)})"
        return value / weight[0], units.divide(unit, "kg"), note
    if shape in ("per_m2", "per_m2_daily"):
        bsa = compute_builtin(
            ctx, BUILTINS["bsa"], event.start, BODY_MEASURE_TOLERANCE_DAYS, units.parse("m2"), "bsa"
        )
        if not isinstance(bsa.value, Fraction):
            return f"{describe_event(event)}: body surface area unknown ({'; '.join(bsa.missing)})"
        if bsa.value <= 0:
            return (
                f"{describe_event(event)}: the body surface area is {format_number(bsa.value)} m2"
            )
        note = f" / {format_number(bsa.value)} m2 (Mosteller)"
        return value / bsa.value, units.divide(unit, "m2"), note
    return value, unit, ""


def compute_builtin(
    ctx: Context, builtin: Builtin, on: dt.date, tolerance: int, unit: Unit, label: str
) -> Value:
    """A derived value (`value bsa at screening`): the formula over the measurements nearest
    the date, or missing, naming each input that is."""
    values: dict[str, Fraction] = {}
    evidence: list[Evidence] = []
    missing: list[str] = []
    for spec in builtin.inputs:
        found = ctx.nearest_measure(spec, on, tolerance)
        if found is None:
            missing.append(
                f"no {spec.concept_names[0]} within {tolerance} days of {fmt_date(on)} "
                f"(for {builtin.name})"
            )
            continue
        if isinstance(found, str):
            missing.append(f"{found} (for {builtin.name})")
            continue
        values[spec.key] = found[0]
        evidence.append(event_evidence(found[1], spec.concept_names[0]))
    age: int | None = None
    if builtin.needs_age:
        if ctx.patient.birth_date is None:
            missing.append(f"the birth date is not recorded (for {builtin.name})")
        else:
            age = completed_years(ctx.patient.birth_date, on)
    if builtin.needs_sex and ctx.patient.sex not in ("female", "male"):
        missing.append(f"sex is not recorded as female or male (for {builtin.name})")
    if missing:
        return Value(None, missing=tuple(missing), evidence=tuple(evidence), label=label)
    try:
        result = builtin.compute(values, age, ctx.patient.sex)
    except (ArithmeticError, ValueError):  # a float overflow or a root of a negative number
        result = None
    if result is None:
        shown = ", ".join(f"{key} {format_number(value)}" for key, value in values.items())
        reason = f"{builtin.name} cannot be computed from {shown or 'these values'}"
        return Value(None, missing=(reason,), evidence=tuple(evidence), label=label)
    evidence.append(
        Evidence(label, f"{fmt_quantity(result, unit)} ({builtin.title}; {builtin.source})")
    )
    return Value(result, unit, tuple(evidence), label=label)


Run = tuple[dt.date, dt.date, list[Event]]


def runs(
    events: list[Event], start: dt.date | None, end: dt.date | None, gap_days: int
) -> list[Run]:
    """The exposures clipped to the window and joined across gaps of at most `gap_days`."""
    spans = []
    for e in sorted(events, key=lambda e: e.start):
        s = max(e.start, start) if start else e.start
        last = e.end if e.end is not None else end
        if last is None:
            last = e.start
        if end is not None:
            last = min(last, end)
        if last >= s:
            spans.append((s, last, e))
    merged: list[Run] = []
    for s, last, e in spans:
        if merged and (s - merged[-1][1]).days - 1 <= gap_days:
            ps, pl, pe = merged[-1]
            merged[-1] = (ps, max(pl, last), pe + [e])
        else:
            merged.append((s, last, [e]))
    return merged


def run_satisfied(requirement: p.RunFilter, merged: list[Run]) -> tuple[bool, list[Event], str]:
    duration = requirement.duration
    if requirement.mode == "total":
        days = sum((last - s).days + 1 for s, last, _ in merged)
        needed = approximate_days(duration.amount, duration.unit)
        return days >= needed, [e for _, _, es in merged for e in es], f"{days} days in total"
    best = None
    for s, last, es in merged:
        if run_reaches(s, last, duration.amount, duration.unit):
            return True, es, f"{fmt_date(s)}..{fmt_date(last)} ({(last - s).days + 1} days)"
        if best is None or (last - s) > (best[1] - best[0]):
            best = (s, last)
    longest = (
        f"longest run {(best[1] - best[0]).days + 1} days" if best else "no qualifying exposure"
    )
    return False, [], longest


def duration_runs(
    kept: list[Event],
    undecided: list[Event],
    requirement: p.RunFilter,
    start: dt.date | None,
    end: dt.date | None,
) -> tuple[list[Event], list[Evidence], bool]:
    """Does exposure (clipped to the window) last long enough? (docs: "Dose x duration").
    Returns the events of the run, the evidence, and whether undecided events could decide."""
    gap = requirement.gap
    gap_days = int(approximate_days(gap.amount, gap.unit)) if gap is not None else 0
    ok, events, text = run_satisfied(requirement, runs(kept, start, end, gap_days))
    duration = requirement.duration
    need = f"{format_number(duration.amount)} {duration.unit} ({requirement.mode})"
    if ok:
        return events, [Evidence("exposure run", f"{text}, needs {need}: yes")], False
    if undecided:
        ok_all, _, _ = run_satisfied(requirement, runs(kept + undecided, start, end, gap_days))
        if ok_all:
            return (
                [],
                [Evidence("exposure run", f"{text} with the decided doses, needs {need}")],
                True,
            )
    return [], [Evidence("exposure run", f"{text}, needs {need}: no")], False

"""Reported and computed values (docs/language.md, "Reported and computed values"):
`value F reported first at DATE` takes the value a site reports for F (a lab's eGFR) and
computes F from the record only when none is reported; `computed first` the other way round."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import attrs

from criteria_lang.core.derived import Builtin, Input
from criteria_lang.core.results import Evidence
from criteria_lang.core.units import Unit
from criteria_lang.engine.context import Context
from criteria_lang.engine.doses import compute_builtin
from criteria_lang.engine.evidence import event_value
from criteria_lang.engine.values import Value, fmt_date
from criteria_lang.plan import model as p


def derived_value(
    ctx: Context, node: p.Derived, builtin: Builtin, on: dt.date, unit: Unit, label: str
) -> Value:
    """`value F [reported first | computed first] at DATE [+/- D]` on the day `on`."""
    tolerance = node.tolerance_days
    if node.precedence is None or node.reported is None:
        return compute_builtin(ctx, builtin, on, tolerance, unit, label)
    reported = reported_value(ctx, node.reported, on, tolerance, label)
    if node.precedence == "reported" and isinstance(reported, Value):
        return noted(reported, f"the reported value, taken before computing {builtin.name}")
    computed = compute_builtin(ctx, builtin, on, tolerance, unit, label)
    if isinstance(computed.value, Fraction):
        if node.precedence == "reported":
            return noted(computed, f"{reported}: computed")
        return computed
    if isinstance(reported, Value):  # computed first, and it cannot be computed
        why = "; ".join(computed.missing)
        return noted(reported, f"{builtin.name} cannot be computed ({why}): the reported value")
    missing = (*computed.missing, reported)
    return Value(None, evidence=computed.evidence, missing=missing, label=label)


def reported_value(
    ctx: Context, spec: Input, on: dt.date, tolerance: int, label: str
) -> Value | str:
    """The reported measurement nearest `on` within `tolerance` days (ties: the earlier), as
    reported -- a bound stays a bound --, or why there is none to use. One that cannot be read
    is not a value, and a farther one is not taken in its place."""
    near = [e for e in ctx.measures(spec) if abs((e.start - on).days) <= tolerance]
    if not near:
        return f"no reported {spec.concept_names[0]} within {tolerance} days of {fmt_date(on)}"
    chosen = min(near, key=lambda e: (abs((e.start - on).days), e.start, e.id))
    value = event_value(chosen, label, None)
    if value.value is None:
        return "; ".join(value.missing)
    return value


def noted(value: Value, note: str) -> Value:
    """The value with a line saying where it came from (`reported first`, `computed first`)."""
    return attrs.evolve(value, evidence=(*value.evidence, Evidence(value.label, note)))

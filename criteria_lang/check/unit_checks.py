"""Units with meaning, at compile time (docs/units.md, "Units with meaning").

Two checks the checker asks of this module: that a concept's conversion attributes (`valence`,
`scales`) can be read and agree with its canonical unit (C310), and, when a threshold's unit
cannot convert to a concept's, which units *can*: the fix of C301 names units of the concept's
kind (its canonical unit, its declared scales, the units data carry that convert), not the
closest spelling.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fractions import Fraction

from criteria_lang.core.concepts import AttributeValue, ConceptSet, UnitAttr, basis_of
from criteria_lang.core.conversions import ScaleError, parse_scales
from criteria_lang.core.data_units import DATA_UNITS
from criteria_lang.core.units import IncompatibleUnits, Unit, UnitError, UnitSystem

__all__ = ["conversion_problems", "units_of_kind", "why_not", "wrong_unit_fix"]

MAX_SUGGESTED = 4


def conversion_problems(
    attributes: Mapping[str, AttributeValue], units: UnitSystem
) -> Iterator[tuple[str, str, str]]:
    """(attribute, message, fix) for each conversion attribute that cannot be used."""
    valence = attributes.get("valence")
    if valence is not None and not (isinstance(valence, Fraction) and valence > 0):
        yield (
            "valence",
            "valence must be the ion's charge number: a plain number above 0, without a unit",
            "write e.g. `valence = 1` for Na+ or K+, `valence = 2` for Ca2+ or Mg2+",
        )
    text = attributes.get("scales")
    if text is None:
        return
    unit = attributes.get("unit")
    if not isinstance(text, str):
        yield "scales", "`scales` is text", 'write e.g. `scales = "mmol/mol: 0.09148 x + 2.152"`'
        return
    if not isinstance(unit, UnitAttr):
        yield (
            "scales",
            "a concept with `scales` needs a canonical `unit`, which its scales map into",
            "declare the unit too, e.g. `with unit = %, scales = ...`",
        )
        return
    try:
        scales = parse_scales(text, unit.unit)
        canonical = units.parse(unit.unit)
    except (ScaleError, UnitError) as error:
        yield "scales", str(error), 'write e.g. `scales = "mmol/mol: 0.09148 x + 2.152"`'
        return
    for scale in scales:
        try:
            own = units.parse(scale.unit)
        except UnitError as error:
            yield "scales", str(error), "write a unit from docs/units.md"
            continue
        if units.compatible(own, canonical):
            yield (
                "scales",
                f"the scale in {scale.unit} is not another scale: {scale.unit} already converts "
                f"to {unit.unit} by a factor",
                "remove it; a scale is for units of another kind (IFCC mmol/mol against NGSP %)",
            )


def units_of_kind(concept: ConceptSet, canonical: Unit, units: UnitSystem) -> list[str]:
    """The units a value of `concept` may be written in: its canonical unit, its declared
    scales, then the units data carry that convert to it (with its molar mass, valence)."""
    basis = basis_of(concept)
    candidates = [canonical.text, *(scale.unit for scale in basis.scales)]
    candidates += [row.ours for row in DATA_UNITS]
    out: list[Unit] = []
    for text in candidates:
        try:
            parsed = units.parse(text)
            fits = units.compatible(parsed, canonical, basis=basis)
        except UnitError:
            continue
        if fits and all(seen != parsed for seen in out):  # one spelling per unit
            out.append(parsed)
        if len(out) == MAX_SUGGESTED:
            break
    return [unit.text for unit in out]


def wrong_unit_fix(concept: ConceptSet | None, own: Unit, units: UnitSystem) -> str:
    """The fix of C301: units of the concept's kind, named."""
    if concept is None:
        return f"use a unit of {units.describe(own)}, e.g. {own.text}"
    listed = units_of_kind(concept, own, units)
    names = " or ".join(listed) if len(listed) < 3 else ", ".join(listed[:-1]) + " or " + listed[-1]
    return f"use a unit of {concept.short_name} ({units.describe(own)}): {names}"


def why_not(units: UnitSystem, own: Unit, other: Unit, concept: ConceptSet | None) -> str:
    """The reason two units do not convert, when there is more to say than their dimensions
    (a valence or molar mass the concept lacks, ratios of different kinds); else ""."""
    try:
        units.affine(other, own, basis=basis_of(concept))
    except IncompatibleUnits as error:
        _, _, reason = str(error).partition("): ")
        return reason
    return ""

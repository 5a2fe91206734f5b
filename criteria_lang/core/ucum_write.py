"""UCUM codes for units in our syntax, for writing FHIR (`UnitSystem.ucum_code`).

The writer must write every unit the readers accept (issue 10): `lb` as `[lb_av]`, `inch` as
`[in_i]`, `milligram` as `mg`. A unit is written atom by atom where UCUM has an atom for each
name (the readable code); a unit with no such atoms (a factor UCUM cannot write as a number,
a pint name UCUM lacks) is written as an exact integer factor times UCUM base units
(`45359237.g/100000` is exactly 1 lb). Either way the code is read back and must mean the same
unit, or UnitError is raised.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from criteria_lang.core.unit_limits import UnitError, quote
from criteria_lang.core.units import _Factor, _tokenize

if TYPE_CHECKING:
    from criteria_lang.core.units import UnitSystem

# Our unit names (docs/units.md) -> UCUM atoms. Names not listed are looked up through pint's
# name (below), else written as they are (mg, dL, umol, kU: SI prefixes and atoms UCUM shares).
_TO_UCUM_ATOMS: dict[str, str] = {
    "IU": "[iU]",
    "iU": "[iU]",
    "HPF": "[HPF]",
    "hpf": "[HPF]",
    "LPF": "[LPF]",
    "lpf": "[LPF]",
    "mmHg": "mm[Hg]",
    "titer": "{titer}",
    "titre": "{titer}",
    "cell": "{cells}",
    "cells": "{cells}",
    "mcg": "ug",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "minute": "min",
    "minutes": "min",
    "hour": "h",
    "hours": "h",
    "hr": "h",
    "day": "d",
    "days": "d",
    "week": "wk",
    "weeks": "wk",
    "month": "mo",
    "months": "mo",
    "year": "a",
    "years": "a",
    "yr": "a",
    "mEq": "meq",  # UCUM is case-sensitive: its equivalent is `eq`
    "Eq": "eq",
    "degC": "Cel",
    "°C": "Cel",
    "degF": "[degF]",
    "°F": "[degF]",
}
_SI_PREFIXES = ("k", "m", "u", "n", "p", "d", "c")

# pint's canonical unit names -> UCUM atoms (UCUM: unitsofmeasure.org, "The Unified Code for
# Units of Measure", tables of base and derived units; the customary units are its [lb_av],
# [oz_av], [in_i], [ft_i]).
_UCUM_BY_PINT_NAME: dict[str, str] = {
    "gram": "g",
    "liter": "L",
    "meter": "m",
    "mole": "mol",
    "second": "s",
    "minute": "min",
    "hour": "h",
    "day": "d",
    "week": "wk",
    "month": "mo",
    "year": "a",
    "pound": "[lb_av]",
    "ounce": "[oz_av]",
    "inch": "[in_i]",
    "foot": "[ft_i]",
    "international_unit": "[iU]",
    "enzyme_unit": "U",
    "katal": "kat",
    "high_power_field": "[HPF]",
    "low_power_field": "[LPF]",
    "meter_Hg": "m[Hg]",
    "cell": "{cells}",
    "titer": "{titer}",
    "equivalent": "eq",
    "degree_Celsius": "Cel",
    "degree_Fahrenheit": "[degF]",
    "kelvin": "K",
}
# pint's prefix names -> UCUM prefixes (UCUM table 1, the prefixes of the metric units).
_UCUM_PREFIX: dict[str, str] = {
    "": "",
    "deca": "da",
    "hecto": "h",
    "kilo": "k",
    "mega": "M",
    "giga": "G",
    "deci": "d",
    "centi": "c",
    "milli": "m",
    "micro": "u",
    "nano": "n",
    "pico": "p",
    "femto": "f",
}
# Root dimensions -> the UCUM base unit whose factor to pint's root unit is 1 (pint's roots are
# the gram, metre, second, mole; our own dimensions are their own atoms).
_UCUM_BASE: dict[str, str] = {
    "[mass]": "g",
    "[length]": "m",
    "[time]": "s",
    "[substance]": "mol",
    "[current]": "A",
    "[luminosity]": "cd",
    "[international_unit]": "[iU]",
    "[high_power_field]": "[HPF]",
    "[low_power_field]": "[LPF]",
    "[equivalent]": "eq",
}


def ucum_code(units: UnitSystem, text: str) -> str:
    """The UCUM code that means exactly the unit `text` (our syntax), or UnitError."""
    unit = units.parse(text)
    for build in (_atom_by_atom, _as_written, _from_base_units):
        try:
            code = build(units, text)
        except UnitError:
            continue
        try:
            if units.parse_ucum(code) == unit:
                return code
        except UnitError:
            continue
    raise UnitError(f"unit {quote(text)} has no UCUM code that criteria_lang can write", text=text)


def _as_written(units: UnitSystem, text: str) -> str:
    """A unit our syntax does not read is read as UCUM (`[degF]`, `mm[Hg]`): its own code."""
    return text


def _atom_by_atom(units: UnitSystem, text: str) -> str:
    """The readable code: `10^9/L` -> `10*9/L`, `mL/min/1.73m2` -> `mL/min/{1.73_m2}`,
    `IU/mL` -> `[iU]/mL`, `g/24h` -> `g/(24.h)`, `lb` -> `[lb_av]`."""
    terms: list[str] = []
    for index, segment in enumerate(_tokenize(text)):
        if index > 0 and len(segment) == 2 and segment[0].number == Fraction("1.73"):
            second = segment[1]
            if second.name is not None and second.name in ("m", "meter") and second.power == 2:
                terms.append("{1.73_m2}")  # per 1.73 m2 of body surface (LOINC's eGFR unit)
                continue
        parts = [_factor(units, factor, text) for factor in segment]
        if index > 0 and len(parts) > 1:
            terms.append("(" + ".".join(parts) + ")")
        else:
            terms.append(".".join(parts))
    return "/".join(terms) or "1"


def _factor(units: UnitSystem, factor: _Factor, text: str) -> str:
    if factor.number is not None:
        number = factor.number
        if number == Fraction(1, 100):
            return "%"
        exponent = 0
        while number > 1 and number % 10 == 0:
            number, exponent = number / 10, exponent + 1
        if number == 1 and exponent > 1:
            return f"10*{exponent}"
        if factor.number.denominator == 1:
            return str(factor.number.numerator)
        raise UnitError(f"unit {quote(text)}: UCUM has no decimal factors", text=text)
    assert factor.name is not None
    name = _TO_UCUM_ATOMS.get(factor.name)
    if name is None and factor.name[:1] in _SI_PREFIXES and factor.name[1:] in ("IU", "iU"):
        name = factor.name[0] + "[iU]"
    name = name or _through_pint(units, factor.name) or factor.name
    return name if factor.power == 1 else f"{name}{factor.power}"


def _through_pint(units: UnitSystem, name: str) -> str | None:
    """The UCUM atom for a name pint knows under another spelling (`lbs`, `milligram`)."""
    try:
        candidates = units.registry.parse_unit_name(name)
    except Exception:  # noqa: BLE001 - not a name pint can split: no atom
        return None
    if not candidates:
        return None
    prefix, unit, suffix = candidates[0]  # pint's own reading of the name
    atom = _UCUM_BY_PINT_NAME.get(unit)
    if atom is None or suffix or prefix not in _UCUM_PREFIX:
        return None
    if prefix and (atom.startswith("[") or atom.startswith("{") or atom in ("min", "h", "d")):
        return None  # UCUM does not prefix these
    return _UCUM_PREFIX[prefix] + atom


def _from_base_units(units: UnitSystem, text: str) -> str:
    """`p.<base units>/q` with p/q the unit's exact factor to UCUM's base units."""
    unit = units.parse(text)
    up: list[str] = []
    down: list[str] = []
    for dimension, power in unit.dimensions:
        atom = _UCUM_BASE.get(dimension)
        if atom is None or power.denominator != 1:
            raise UnitError(f"unit {quote(text)}: no UCUM base unit for {dimension}", text=text)
        written = atom if abs(power) == 1 else f"{atom}{abs(power.numerator)}"
        (up if power > 0 else down).append(written)
    factor = unit.base_factor
    numerator = [str(factor.numerator)] if factor.numerator != 1 or not up else []
    denominator = [str(factor.denominator)] if factor.denominator != 1 else []
    return "/".join([".".join(numerator + up), *denominator, *down])

"""Dimensions in words and in canonical text, temperatures as readings, and the small exact
arithmetic on dimensions that core/units.py's parsing and conversion share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from criteria_lang.core.unit_limits import UnitError, quote

if TYPE_CHECKING:
    import pint


class TemperatureUnit(UnitError):
    """A temperature unit in a place only a reading can be (`Cel/min`)."""


# Words for the dimensions of one unit component (mL is a volume even though mL/m2 is a length).
DIMENSION_WORDS: dict[tuple[tuple[str, int], ...], str] = {
    (("[length]", 1),): "length",
    (("[length]", 2),): "area",
    (("[length]", 3),): "volume",
    (("[mass]", 1),): "mass",
    (("[time]", 1),): "time",
    (("[substance]", 1),): "amount of substance",
    (("[international_unit]", 1),): "international units",
    (("[high_power_field]", 1),): "high-power field",
    (("[low_power_field]", 1),): "low-power field",
    (("[substance]", 1), ("[time]", -1)): "catalytic activity",
    (("[length]", -1), ("[mass]", 1), ("[time]", -2)): "pressure",
    (("[temperature]", 1),): "temperature",
    (("[equivalent]", 1),): "equivalents (amount of charge)",
    (("[current]", 1),): "electric current",
}


def add_power(terms: dict[str, Fraction], name: str, power: Fraction) -> None:
    """As pint's UnitsContainer multiplies: a name whose power comes to 0 is dropped, so that
    it goes last if it comes back (the order of the terms is the order `describe` words them)."""
    total = terms.get(name, Fraction(0)) + power
    if total:
        terms[name] = total
    else:
        terms.pop(name, None)


def add_dimensions(
    into: dict[str, Fraction],
    dimensions: Iterable[tuple[str, Fraction]],
    power: int | Fraction,
    positive_only: bool | None,
) -> None:
    """Add `dimensions ** power` to `into`; with `positive_only`, only when power > 0 (the
    numerator's dimensions, which give a ratio its kind)."""
    if positive_only and power <= 0:
        return
    for name, exponent in dimensions:
        into[name] = into.get(name, Fraction(0)) + exponent * power
        if not into[name]:
            del into[name]


EQUIVALENT = "[equivalent]"
SUBSTANCE = "[substance]"

# Temperature scales, by pint's name: (kelvin per degree, kelvin at the scale's zero). Exact by
# definition: t/degC = T/K - 273.15 and t/degF = 1.8 t/degC + 32 (NIST SP 811, 2008, 4.2.1.1 and
# B.8), so 0 degF is 459.67 x 5/9 K; UCUM defines Cel and [degF] the same way.
TEMPERATURES: dict[str, tuple[Fraction, Fraction]] = {
    "kelvin": (Fraction(1), Fraction(0)),
    "degree_Celsius": (Fraction(1), Fraction(27315, 100)),
    "degree_Fahrenheit": (Fraction(5, 9), Fraction(45967, 180)),
    "degree_Rankine": (Fraction(5, 9), Fraction(0)),
}


# The spellings of a temperature reading, in our syntax and UCUM's, read without pint.
TEMPERATURE_NAMES = {
    "Cel": "degree_Celsius",
    "degC": "degree_Celsius",
    "°C": "degree_Celsius",
    "[degF]": "degree_Fahrenheit",
    "degF": "degree_Fahrenheit",
    "°F": "degree_Fahrenheit",
    "K": "kelvin",
}


def temperature(
    text: str, scale: Fraction, terms: Mapping[str, Fraction]
) -> tuple[Fraction, Fraction]:
    """(base_factor, origin) of a temperature reading; one temperature unit alone, nothing else."""
    names = [name for name, power in terms.items() if power]
    if scale != 1 or len(names) != 1 or terms[names[0]] != 1 or names[0] not in TEMPERATURES:
        raise temperature_error(text)
    return TEMPERATURES[names[0]]


def temperature_error(text: str) -> UnitError:
    # A reading on a scale with its own zero converts by an offset; a temperature divided or
    # multiplied (per minute, per degree) or a difference of temperatures has no meaning here.
    return TemperatureUnit(
        f"temperature unit {quote(text)} is not supported: a temperature is a reading in one "
        f"unit alone (Cel, [degF], degC, degF, K)",
        text=text,
    )


def exact_number(number: object) -> Fraction:
    """Guard the exactness promise: pint hands back Fractions or ints, never a float."""
    if isinstance(number, Fraction | int):
        return Fraction(number)
    raise TypeError(f"inexact number {number!r} from pint; expected a Fraction")


def dimensions_of(pint_unit: pint.Unit) -> dict[str, Fraction]:
    dimensions = pint_unit.dimensionality
    return {name: exact_number(dimensions[name]) for name in dimensions if dimensions[name]}


def molar_power(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> int | None:
    """n when `a` is `b` with mass**n replaced by substance**n (a molar mass converts them)."""
    power = a.get("[substance]", 0) - b.get("[substance]", 0)
    if power == 0 or a.get("[mass]", 0) + power != b.get("[mass]", 0):
        return None
    others = {"[substance]", "[mass]"}
    if {k: v for k, v in a.items() if k not in others} != {
        k: v for k, v in b.items() if k not in others
    }:
        return None
    return int(power)


def format_kind(up: Mapping[str, Fraction]) -> str:
    """The dimensionality of a ratio of like quantities: `[mass] / [mass]` for mg/g."""
    side = format_dimensions(up)
    return f"{side} / {side}"


def format_power(name: str, power: Fraction) -> str:
    return name if power == 1 else f"{name} ** {power}"


def format_dimensions(dimensions: Mapping[str, Fraction]) -> str:
    """Canonical text (sorted, no pint formatting: it fails on Fraction exponents)."""
    if not dimensions:
        return "dimensionless"
    up = [format_power(k, v) for k, v in sorted(dimensions.items()) if v > 0]
    down = [format_power(k, -v) for k, v in sorted(dimensions.items()) if v < 0]
    return " / ".join([" * ".join(up) or "1", *down])


def words(dimensions: Mapping[str, Any]) -> str:
    key = tuple(sorted((k, v) for k, v in dimensions.items() if v))
    words = DIMENSION_WORDS.get(key)
    if words is not None:
        return words
    if len(key) == 1:
        single = DIMENSION_WORDS.get(((key[0][0], 1),))
        if single is not None:
            return f"{single} ** {key[0][1]}"
    return format_dimensions({k: Fraction(v) for k, v in key})

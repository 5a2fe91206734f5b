"""Our unit syntax (docs/units.md, "Syntax"): the tokenizer, and the names suggested when a
unit is unknown. core/units.py gives the tokens their meaning; what this syntax cannot read is
read as UCUM there.
"""

from __future__ import annotations

import difflib
import re
from fractions import Fraction

import attrs

from criteria_lang.core.unit_limits import (
    MAX_TEN_POWER,
    MAX_UNIT_POWER,
    UnitError,
    bounded_int,
    bounded_number,
    quote,
)

__all__ = [
    "COMMON_NAMES",
    "COMMON_UNITS",
    "AmbiguousUnit",
    "Factor",
    "did_you_mean",
    "suggest",
    "tokenize",
]


class AmbiguousUnit(UnitError):
    """A unit text our syntax refuses because readers disagree on what it means (`mg/kg*day`);
    it is not read as UCUM instead."""


# Units that rule files and our patient JSON use. Unknown-unit suggestions are drawn from these
# and from `COMMON_NAMES`; keep both in step with docs/units.md.
COMMON_UNITS: tuple[str, ...] = (
    "mg/dL", "g/L", "g/dL", "umol/L", "mmol/L", "mg/mmol", "g/g", "mg/g", "mg/mg",
    "g/24h", "g/day", "mg/day", "mg/week", "mg/month", "mg/kg/day", "mg/kg", "mg/m2",
    "g", "mg", "mL/min", "mL/min/1.73m2", "mL/min/m2", "10^9/L", "10^6/L", "10^12/L",
    "cells/uL", "/uL", "/mm3", "/HPF", "cells/HPF", "%", "mmHg", "mm", "cm", "m", "kg",
    "kg/m2", "IU/mL", "IU/L", "U/L", "kU/L", "titer", "1", "years", "months", "weeks",
    "days", "hours", "h", "min",
)  # fmt: skip

COMMON_NAMES: tuple[str, ...] = (
    "g", "mg", "ug", "mcg", "ng", "kg", "L", "dL", "mL", "uL", "nL", "fL", "mol", "mmol",
    "umol", "nmol", "pmol", "IU", "mIU", "kIU", "U", "kU", "mU", "m", "cm", "mm", "m2",
    "mm3", "mmHg", "HPF", "LPF", "cells", "titer", "min", "h", "hour", "hours", "d", "day",
    "days", "week", "weeks", "month", "months", "year", "years",
)  # fmt: skip

# --- Our unit syntax --------------------------------------------------------------------------

# Spellings folded before tokenizing: both micro signs (U+00B5, U+03BC), superscript powers.
FOLD = str.maketrans({"µ": "u", "μ": "u", "²": "2", "³": "3", "×": "x", "·": "*"})

TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    # 10*9 is UCUM for 10^9 (labs and FHIR write it so); nobody means "ten times nine".
    | (?:x\s*)?10\*(?P<ucum_exp>[+-]?\d+)
    # 24, 1.73, 10^9, x10^9 (the x reads "times", as printed on lab reports)
    | (?:x\s*)?(?P<number>\d+(?:\.\d+)?)(?:(?:\^|\*\*)(?P<number_exp>[+-]?\d+))?
    # mg, m2, m^2, mm3: digits right after a name are its power, as in UCUM
    | (?P<name>[A-Za-z_°]+)(?:(?:\^|\*\*)(?P<name_exp>[+-]?\d+)|(?P<name_digits>\d+))?
    | (?P<percent>%)
    | (?P<op>[/*.])
    """,
    re.VERBOSE,
)


@attrs.frozen
class Factor:
    number: Fraction | None  # a pure number, or
    name: str | None  # a unit name ...
    power: int = 1  # ... to this power


def tokenize(text: str) -> list[list[Factor]]:
    """Split our unit syntax into segments: the numerator, then one segment per '/'.

    Juxtaposition binds tighter than '/', so `mL/min/1.73 m2` is mL / min / (1.73 m2) and
    `g/24h` is g / (24 h): that is how these units are read clinically.
    """
    folded = text.translate(FOLD).strip()
    segments: list[list[Factor]] = [[]]
    position = 0
    while position < len(folded):
        match = TOKEN.match(folded, position)
        if match is None:
            raise UnitError(
                f"cannot read unit {quote(text)}: unexpected {folded[position]!r} "
                f"at character {position + 1}",
                text=text,
            )
        position = match.end()
        if match["space"]:
            continue
        if match["ucum_exp"] is not None:
            exponent = bounded_int(match["ucum_exp"], MAX_TEN_POWER, "the power of ten", text)
            segments[-1].append(Factor(Fraction(10) ** exponent, None))
        elif match["number"] is not None:
            number = bounded_number(match["number"], text)
            if match["number_exp"] is not None:
                limit, what = (
                    (MAX_TEN_POWER, "the power of ten")
                    if number == 10
                    else (MAX_UNIT_POWER, "the power")
                )
                number = number ** bounded_int(match["number_exp"], limit, what, text)
            segments[-1].append(Factor(number, None))
        elif match["name"] is not None:
            power = bounded_int(
                match["name_exp"] or match["name_digits"] or "1", MAX_UNIT_POWER, "the power", text
            )
            segments[-1].append(Factor(None, match["name"], power))
        elif match["percent"]:
            segments[-1].append(Factor(Fraction(1, 100), None))
        elif match["op"] == "/":
            if len(segments) > 1 and not segments[-1]:
                raise UnitError(f"cannot read unit {quote(text)}: nothing between '/'", text=text)
            segments.append([])
        elif len(segments) > 1:
            # mg/kg*day is mg/(kg day) to some readers and mg day/kg to others (and to UCUM).
            raise AmbiguousUnit(
                f"ambiguous unit {quote(text)}: write 'a/b/c' to divide by b and c, or put "
                f"multiplied units before the first '/'",
                text=text,
            )
    if len(segments) > 1 and not segments[-1]:
        raise UnitError(f"cannot read unit {quote(text)}: nothing after '/'", text=text)
    return segments


def suggest(name: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
    """Close matches, case-insensitive equals first (`Mg` -> `mg`)."""
    same_letters = [c for c in candidates if c.lower() == name.lower() and c != name]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    return tuple(dict.fromkeys(same_letters + close))[:3]


def did_you_mean(suggestions: tuple[str, ...]) -> str:
    if not suggestions:
        return ""
    return "; did you mean " + " or ".join(repr(s) for s in suggestions) + "?"

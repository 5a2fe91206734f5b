"""Results written as bounds in text ("<0.5", ">= 60 mL/min/1.73m2", "≤ 40 %"), as exports and
free-text fields carry them; every reader reads them alike (docs/language.md, "Results reported
as bounds"; docs/patient-format.md, docs/fhir.md, docs/omop.md)."""

from __future__ import annotations

import re
from fractions import Fraction

import attrs

from criteria_lang.core.bounds import COMPARATOR_SPELLINGS, BoundComparator

# A comparator, a decimal number (no exponent: laboratories do not write one), an optional unit:
# one that starts as units do (`mg/dL`, `%`, `[iU]/L`), or anything after a space (`10*9/L`).
# Not a titer (`<1:40`) nor a range (`<0.5-1`): those are not one bound of a number.
_BOUND_TEXT = re.compile(
    r"\s*(<=|>=|=<|=>|<|>|≤|≥)\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:\s*([A-Za-z%µμ\[{/](?:.*\S)?)|\s+([0-9](?:.*\S)?))?\s*",
    re.S,
)
# Longer texts are not bounds (and are not worth a regular expression's time).
_MAX_BOUND_TEXT = 80


@attrs.frozen
class BoundText:
    comparator: BoundComparator
    value: Fraction
    unit: str | None  # the unit written after the number, if any


def read_bound_text(text: str) -> BoundText | None:
    """`<0.5` -> (<, 0.5, None); `>60 mL/min/1.73m2` -> (>, 60, "mL/min/1.73m2"); None for text
    that is not a bound (a word, a titer `1:80`, a range `0.5-1`)."""
    if len(text) > _MAX_BOUND_TEXT or not text or text.lstrip()[:1] not in "<>=≤≥":
        return None
    match = _BOUND_TEXT.fullmatch(text)
    if match is None:
        return None
    spelling, number, unit, numeric_unit = match.groups()
    return BoundText(COMPARATOR_SPELLINGS[spelling], Fraction(number), unit or numeric_unit)


def read_comparator(text: str) -> BoundComparator | None:
    """A comparator as written (`<`, `<=`, `≤`, `=<`...); None for anything else."""
    return COMPARATOR_SPELLINGS.get(text.strip())

"""Normalisations of what the data say, applied by every reader alike (our JSON, FHIR, OMOP).

A reader turns its source into timeline events, then passes each measurement through
`measurement_value`, so that the same result reads the same from every source. One normalisation
today: an eGFR written in plain mL/min.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from criteria_lang.core.codes import Code
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.timeline import Quantity, ReferenceRange

# LOINC terms of a glomerular filtration rate per 1.73 m2 of body surface (property VRat/Area,
# "GFR/1.73 sq M.predicted"): the eGFR codes of stdlib/labs.crit. The unit of such a result is
# mL/min/1.73m2; a result written in plain mL/min under one of these codes is the same normalised
# rate with the annotation left out (in UCUM an annotation has no meaning, so `mL/min` and
# `mL/min/{1.73_m2}` even denote the same unit), not an absolute clearance: it is read per
# 1.73 m2. Synthea writes 33914-3 in both units. https://loinc.org/33914-3/
GFR_PER_BSA_LOINC = frozenset(
    {"33914-3", "48642-3", "48643-1", "62238-1", "88293-6", "88294-4", "98979-8"}
)
GFR_NOTE = "eGFR results in mL/min read as per 1.73 m2: their LOINC code is per 1.73 m2"
_PER_BSA = {True: "mL/min/{1.73_m2}", False: "mL/min/1.73m2"}  # UCUM, our syntax


def is_gfr_per_bsa(codes: Iterable[Code]) -> bool:
    return any(code.system == "loinc" and code.code in GFR_PER_BSA_LOINC for code in codes)


def gfr_per_bsa(quantity: Quantity | None) -> Quantity | None:
    """A quantity in plain mL/min as per 1.73 m2 (in its own unit syntax); None when it is in
    any other unit."""
    if quantity is None or quantity.unit == _PER_BSA[quantity.ucum]:
        return None
    units = get_units()
    try:
        unit = units.parse_ucum(quantity.unit) if quantity.ucum else units.parse(quantity.unit)
        plain = units.parse_ucum("mL/min") if quantity.ucum else units.parse("mL/min")
    except UnitError:
        return None
    if unit != plain:
        return None
    return attrs.evolve(quantity, unit=_PER_BSA[quantity.ucum])  # keeps a comparator


def measurement_value(
    codes: Iterable[Code], value: object, reference: ReferenceRange | None
) -> tuple[object, ReferenceRange | None, str | None]:
    """The value and reference range a reader keeps for a measurement, and the note it counts
    when a normalisation applied (None when none did)."""
    if not isinstance(value, Quantity) or not is_gfr_per_bsa(codes):
        return value, reference, None
    per_bsa = gfr_per_bsa(value)
    if per_bsa is None:
        return value, reference, None
    if reference is not None:
        reference = ReferenceRange(
            gfr_per_bsa(reference.low) or reference.low,
            gfr_per_bsa(reference.high) or reference.high,
        )
    return per_bsa, reference, GFR_NOTE

"""Derived values: numbers computed from a patient's record (`value bsa at screening`).

Each builtin names the measurements it reads (by LOINC code and by stdlib concept name), the unit
of its result, and a pure function of exact inputs. Formulas cite their sources. Results that
need a root or a non-integer power are computed in floating point and then read back as the
shortest decimal (docs/language.md, "Derived values"): they are estimates, not measurements.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import attrs

# How far from the date a measurement a derived value reads may be, unless the rule says
# (`value bsa at screening +/- 30 days`); also the weight and height for doses per kg and per m2
# (docs/language.md, "Derived values", "Medications and doses").
BODY_MEASURE_TOLERANCE_DAYS = 365


@attrs.frozen
class Input:
    """A measurement a builtin reads: the nearest one to the date, within the tolerance."""

    key: str
    kind: str  # lab | observation
    concept_names: tuple[str, ...]
    codes: tuple[tuple[str, str], ...]
    unit: str  # the unit the formula wants the value in
    molar_mass: Fraction | None = None


@attrs.frozen
class Builtin:
    name: str
    title: str
    unit: str
    inputs: tuple[Input, ...]
    needs_age: bool
    needs_sex: bool
    compute: Callable[[dict[str, Fraction], int | None, str | None], Fraction | None]
    source: str
    # The same quantity as a site reports it (`value F reported first at ...`, docs/language.md
    # "Reported and computed values"); None: the builtin has no reported counterpart.
    reported: Input | None = None


def _decimal(x: float) -> Fraction:
    return Fraction(repr(x))


# LOINC 29463-7 Body weight; 3141-9 Body weight Measured. https://loinc.org/29463-7/
WEIGHT = Input(
    "weight",
    "observation",
    ("body_weight",),
    (("loinc", "29463-7"), ("loinc", "3141-9")),
    "kg",
)
# LOINC 8302-2 Body height. https://loinc.org/8302-2/
HEIGHT = Input("height", "observation", ("body_height",), (("loinc", "8302-2"),), "cm")
# LOINC 2160-0 Creatinine [Mass/volume] in Serum or Plasma; 38483-4 Creatinine [Mass/volume] in
# Blood; 14682-9 Creatinine [Moles/volume] in Serum or Plasma. Molar mass 113.12 g/mol
# (PubChem CID 588, C4H7N3O).
CREATININE = Input(
    "creatinine",
    "lab",
    ("creatinine",),
    (("loinc", "2160-0"), ("loinc", "38483-4"), ("loinc", "14682-9")),
    "mg/dL",
    molar_mass=Fraction("113.12"),
)


# A reported eGFR: LOINC's creatinine-based GFR/1.73 sq M.predicted terms, one per equation
# (98979-8 CKD-EPI 2021, 62238-1 CKD-EPI 2009, 33914-3 MDRD) and the older race-specific ones
# (88293-6, 88294-4, 48642-3, 48643-1): the codes of the stdlib's `labs.egfr`, which cites each.
# https://loinc.org/98979-8/
REPORTED_EGFR = Input(
    "egfr",
    "lab",
    ("egfr",),
    tuple(
        ("loinc", code)
        for code in ("98979-8", "62238-1", "33914-3", "88293-6", "88294-4", "48642-3", "48643-1")
    ),
    "mL/min/1.73m2",
)
# A reported BMI: LOINC 39156-5 Body mass index (BMI) [Ratio] (the stdlib's observations.bmi).
REPORTED_BMI = Input("bmi", "observation", ("bmi",), (("loinc", "39156-5"),), "kg/m2")


def mosteller_bsa(values: dict[str, Fraction], age: int | None, sex: str | None) -> Fraction:
    """Body surface area, m2 = sqrt(height cm x weight kg / 3600).
    Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317(17):1098."""
    return _decimal(math.sqrt(float(values["height"] * values["weight"] / 3600)))


def bmi(values: dict[str, Fraction], age: int | None, sex: str | None) -> Fraction | None:
    """Body mass index, kg/m2 = weight kg / (height m)^2 (WHO definition). Exact."""
    height_m = values["height"] / 100
    if height_m <= 0:
        return None  # a height of 0: not a measurement to divide by
    return values["weight"] / (height_m * height_m)


def cockcroft_gault(
    values: dict[str, Fraction], age: int | None, sex: str | None
) -> Fraction | None:
    """Creatinine clearance, mL/min = (140 - age) x weight kg / (72 x serum creatinine mg/dL),
    x 0.85 for women. Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum
    creatinine. Nephron 1976;16(1):31-41. Exact (no roots)."""
    if age is None or sex not in ("female", "male") or values["creatinine"] <= 0:
        return None
    clearance = (140 - age) * values["weight"] / (72 * values["creatinine"])
    if sex == "female":
        clearance *= Fraction("0.85")
    return clearance


def ckd_epi_2021(values: dict[str, Fraction], age: int | None, sex: str | None) -> Fraction | None:
    """eGFR, mL/min/1.73m2, race-free CKD-EPI 2021 creatinine equation:
    142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 [female],
    k = 0.7 (female) / 0.9 (male), a = -0.241 (female) / -0.302 (male).
    Inker LA et al. New creatinine- and cystatin C-based equations to estimate GFR without race.
    N Engl J Med 2021;385(19):1737-49."""
    if age is None or sex not in ("female", "male") or values["creatinine"] <= 0:
        return None
    female = sex == "female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = float(values["creatinine"]) / kappa
    egfr = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age
    if female:
        egfr *= 1.012
    return _decimal(round(egfr, 6))


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "bsa",
            "body surface area (Mosteller)",
            "m2",
            (HEIGHT, WEIGHT),
            False,
            False,
            mosteller_bsa,
            "Mosteller RD. N Engl J Med 1987;317(17):1098",
        ),
        Builtin(
            "bmi",
            "body mass index",
            "kg/m2",
            (HEIGHT, WEIGHT),
            False,
            False,
            bmi,
            "WHO",
            reported=REPORTED_BMI,
        ),
        Builtin(
            "crcl",
            "creatinine clearance (Cockcroft-Gault)",
            "mL/min",
            (CREATININE, WEIGHT),
            True,
            True,
            cockcroft_gault,
            "Cockcroft DW, Gault MH. Nephron 1976;16(1):31-41",
        ),
        Builtin(
            "egfr_ckd_epi_2021",
            "eGFR from creatinine (CKD-EPI 2021)",
            "mL/min/1.73m2",
            (CREATININE,),
            True,
            True,
            ckd_epi_2021,
            "Inker LA et al. N Engl J Med 2021;385(19):1737-49",
            reported=REPORTED_EGFR,
        ),
        Builtin(
            "weight",
            "body weight",
            "kg",
            (WEIGHT,),
            False,
            False,
            lambda v, a, s: v["weight"],
            "LOINC 29463-7",
        ),
        Builtin(
            "height",
            "body height",
            "cm",
            (HEIGHT,),
            False,
            False,
            lambda v, a, s: v["height"],
            "LOINC 8302-2",
        ),
    )
}

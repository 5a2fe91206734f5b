"""Units with meaning (docs/units.md, "Units with meaning"; issue 15 item 1).

The engine's answers at the edges are conformance cases (tests/conformance/units.json: HbA1c
both ways, mEq through a valence, temperatures, bare thresholds, UCUM in our JSON), run by every
engine. Here: the stdlib's declarations, the unit system itself (kinds of ratio, affine maps,
scales, one parser), C301/C310 at compile time, round trips (hypothesis) and the plan's maps.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from semantics_helpers import lab, patient, rules, truth

from criteria_lang import Rules
from criteria_lang.check.checker import compile_text
from criteria_lang.core.conversions import Affine, Basis, ScaleError, parse_scales
from criteria_lang.core.units import IncompatibleUnits, UnitError, get_units
from criteria_lang.plan import model as p
from criteria_lang.plan.lower import lower
from criteria_lang.plan.serial import dumps, loads
from criteria_lang.plan.show import show

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

# The stdlib's declarations, as a rule file writes them (the stdlib tests below use the modules).
UNIT_CONCEPTS = """
lab a1c = loinc "4548-4" | loinc "59261-8" with unit = %, scales = "mmol/mol: 0.09148 x + 2.152"
lab a1c_ifcc = loinc "59261-8" with unit = mmol/mol, scales = "%: 10000/914.8 x - 21520/914.8"
lab a1c_plain = local "a1c_plain" with unit = %
lab k = loinc "2823-3" with unit = mmol/L, valence = 1
lab na_no_valence = loinc "2951-2" with unit = mmol/L
lab ca = loinc "17861-6" with unit = mg/dL, molar_mass = 40.078 g/mol, valence = 2
observation temp = loinc "8310-5" with unit = Cel
observation ratio = local "ratio" with unit = 1
observation sbp = loinc "8480-6" with unit = mmHg
observation weight = loinc "3141-9" with unit = kg
"""
WINDOW = "within 3 months before screening"
NGSP = Affine(Fraction("0.09148"), Fraction("2.152"))  # IFCC mmol/mol -> NGSP %


def on(expr: str, *events: dict[str, Any]) -> str:
    return truth(expr, *events, defines=UNIT_CONCEPTS)


def stdlib_rules(module: str, **criteria: str) -> Rules:
    """Rules over one stdlib module: criteria by id, each `"ID": expression`."""
    body = "".join(f'  {ident} "{ident}": {expr}\n' for ident, expr in criteria.items())
    header = 'trial "T"\n  dates screening\n  index screening\n'
    return Rules.from_text(f"{header}import {module}\ninclusion\n{body}")


def result(code: str, value: Any, unit: str, kind: str = "lab") -> dict[str, Any]:
    """A result coded in LOINC ("4548-4") or by a concept's name ("ratio")."""
    event = lab(code, "2024-03-01", value, unit)
    if code[:1].isdigit():
        event["code"] = {"system": "loinc", "code": code}
    event["type"] = kind
    return event


# --------------------------------------------------------------------------- HbA1c scales


def test_hba1c_scale_declared_on_the_ifcc_side() -> None:
    # A concept in mmol/mol whose scale maps % into it (the exact inverse, written as fractions).
    expr = f"latest lab a1c_ifcc {WINDOW} >= 53 mmol/mol"
    assert on(expr, result("59261-8", 7.00044, "%")) == MET
    assert on(expr, result("59261-8", 7.0004, "%")) == NOT_MET


def test_hba1c_stdlib_declares_the_master_equation() -> None:
    rules_ = stdlib_rules(
        "chemistry",
        I1=f"latest lab chemistry.hba1c {WINDOW} between 7.0 % and 10.0 %",
        I2=f"latest lab chemistry.hba1c {WINDOW} >= 53 mmol/mol",
    )
    ifcc = rules_.evaluate(patient(result("59261-8", 62, "mmol/mol"))).criteria
    assert [c.truth.value for c in ifcc] == [MET, MET]
    ngsp = rules_.evaluate(patient(result("4548-4", 7.0, "%"))).criteria
    assert [c.truth.value for c in ngsp] == [MET, NOT_MET]  # 7.0 % is 52.99... mmol/mol
    shown = " ".join(e.detail for e in ifcc[0].evidence)
    assert "7.82376 % (from 62 mmol/mol)" in shown


def test_dimensionless_mix_without_a_declared_scale() -> None:
    # At compile time: C301, whose fix names the concept's units (not the nearest spelling).
    text = (
        'trial "T"\n  dates screening\n  index screening\n'
        f"{UNIT_CONCEPTS}\ninclusion\n"
        f'  I1 "x": latest lab a1c_plain {WINDOW} >= 53 mmol/mol\n'
    )
    diagnostics = compile_text(text).diagnostics
    assert [d.code for d in diagnostics] == ["C301"]
    assert "ratios of different kinds" in diagnostics[0].message
    assert "%" in diagnostics[0].fix and "mmol/mol" not in diagnostics[0].fix
    assert diagnostics[0].edits and diagnostics[0].edits[0].text == "%"
    # In data: unknown, naming the unit, never 5.3 %.
    outcome = rules(
        f'I1 "x": latest lab a1c_plain {WINDOW} >= 5 %', defines=UNIT_CONCEPTS
    ).evaluate(patient(result("a1c_plain", 53, "mmol/mol")))
    assert outcome.criteria[0].truth.value == UNKNOWN
    assert "mmol/mol" in " ".join(outcome.criteria[0].missing)


# --------------------------------------------------------------------------- equivalents


def test_meq_without_a_valence() -> None:
    text = (
        'trial "T"\n  dates screening\n  index screening\n'
        f"{UNIT_CONCEPTS}\ninclusion\n"
        f'  I1 "x": latest lab na_no_valence {WINDOW} > 140 mEq/L\n'
    )
    (diagnostic,) = compile_text(text).diagnostics
    assert diagnostic.code == "C301" and "valence" in diagnostic.message


def test_stdlib_electrolytes_declare_valences() -> None:
    outcome = stdlib_rules(
        "chemistry",
        I1=f"latest lab chemistry.potassium {WINDOW} = 4.9 mmol/L",
        I2=f"latest lab chemistry.sodium {WINDOW} >= 135 mEq/L",
    ).evaluate(patient(result("2823-3", 4.9, "mEq/L"), result("2951-2", 135, "mmol/L")))
    assert [c.truth.value for c in outcome.criteria] == [MET, MET]


# --------------------------------------------------------------------------- temperatures


def test_stdlib_body_temperature() -> None:
    evaluate = stdlib_rules(
        "observations",
        I1=f"latest observation observations.body_temperature {WINDOW} > 100.4 [degF]",
    ).evaluate
    hot = evaluate(patient(result("8331-1", 38.1, "Cel", "observation"))).criteria[0]
    warm = evaluate(patient(result("8310-5", 38, "Cel", "observation"))).criteria[0]
    assert (hot.truth.value, warm.truth.value) == (MET, NOT_MET)


# --------------------------------------------------------------------------- bare numbers


# --------------------------------------------------------------------------- compile time


def test_wrong_kind_fix_names_units_of_the_concept() -> None:
    text = (
        'trial "T"\n  dates screening\n  index screening\nimport chemistry\ninclusion\n'
        f'  I1 "x": latest lab chemistry.hba1c {WINDOW} >= 7 mg/dL\n'
    )
    (diagnostic,) = compile_text(text).diagnostics
    assert diagnostic.code == "C301"
    assert "%" in diagnostic.fix and "mmol/mol" in diagnostic.fix
    assert "mg/dL" not in diagnostic.fix
    after = text.replace("7 mg/dL", "7 " + diagnostic.edits[0].text)
    assert compile_text(after).ok


@pytest.mark.parametrize(
    ("attributes", "words"),
    [
        ('unit = %, scales = "mmol/mol 0.09 x"', "cannot read the scale"),
        ('unit = %, scales = "permille: 0.1 x"', "already converts"),
        ('scales = "mmol/mol: 0.09 x"', "needs a canonical `unit`"),
        ("unit = mmol/L, valence = 0", "valence must be"),
        ("unit = mmol/L, valence = 1 mmol", "valence must be"),
        ('unit = %, scales = "mmol/mol: 0 x + 1"', "slope of 0"),
    ],
)
def test_unusable_conversion_attributes_are_c310(attributes: str, words: str) -> None:
    header = 'trial "T"\n  dates screening\n  index screening\n'
    text = f'{header}lab thing = local "thing" with {attributes}\n'
    diagnostics = compile_text(text).diagnostics
    assert [d.code for d in diagnostics] == ["C310"], diagnostics
    assert words in diagnostics[0].message


# --------------------------------------------------------------------------- the unit system


def test_kinds_of_ratio() -> None:
    units = get_units()
    assert units.factor("mg/g", "g/g") == Fraction(1, 1000)
    assert units.factor("mmol/mol", "umol/mol") == 1000
    assert units.factor("%", "1") == Fraction(1, 100)
    assert units.parse("mg/g") != units.parse("mmol/mol")  # both 1/1000, different kinds
    assert units.parse_ucum("g/g{creat}") == units.parse("g/g")  # cancelled terms keep the kind
    for a, b in [("mg/g", "mmol/mol"), ("%", "mmol/mol"), ("%", "g/g"), ("mL/mL", "g/g")]:
        assert not units.compatible(a, b)
        with pytest.raises(IncompatibleUnits, match="ratios of different kinds"):
            units.factor(a, b)
    assert units.describe("g/g") == "mass / mass"


def test_temperatures_are_affine_and_exact() -> None:
    units = get_units()
    assert units.convert(Fraction(38), "Cel", "[degF]") == Fraction("100.4")
    assert units.convert(Fraction(-40), "degC", "degF") == -40
    assert units.convert(Fraction(0), "Cel", "K") == Fraction("273.15")
    assert units.affine("Cel", "[degF]") == Affine(Fraction(9, 5), Fraction(32))
    with pytest.raises(IncompatibleUnits, match="offset"):
        units.factor("Cel", "[degF]")
    assert units.factor("Cel", "degC") == 1


def test_scales_are_read_exactly() -> None:
    (scale,) = parse_scales("mmol/mol: 0.09148 x + 2.152", "%")
    assert (scale.slope, scale.offset) == (Fraction("0.09148"), Fraction("2.152"))
    assert str(scale) == "mmol/mol: 0.09148 x + 2.152"
    (negative,) = parse_scales("%: 9/5 x - 32", "x")
    assert negative.offset == -32 and negative.slope == Fraction(9, 5)
    for bad in ("", "mmol/mol", "mmol/mol: x", "a: 1 x; " * 9):
        with pytest.raises(ScaleError):
            parse_scales(bad, "%")


def test_one_parser_for_units() -> None:
    units = get_units()
    assert units.parse("mm[Hg]") == units.parse("mmHg")
    assert units.parse("mL/min/{1.73_m2}") == units.parse("mL/min/1.73m2")
    assert units.parse("meq/L") == units.parse("mEq/L")
    with pytest.raises(UnitError, match="ambiguous"):  # our refusal is not re-read as UCUM
        units.parse("mg/kg*day")
    with pytest.raises(UnitError, match="did you mean"):  # neither reads it: our message
        units.parse("mgg/dL")
    # ... and written back to FHIR as UCUM
    for ours, code in [("Cel", "Cel"), ("[degF]", "[degF]"), ("degC", "Cel"), ("mEq/L", "meq/L")]:
        assert units.ucum_code(ours) == code
        assert units.parse_ucum(code) == units.parse(ours)
    assert units.ucum_code("mm[Hg]") == "mm[Hg]"


# --------------------------------------------------------------------------- properties

exact = st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**6)
TEMPERATURES = ("Cel", "degC", "[degF]", "degF", "K")
HBA1C = Basis(scales=parse_scales("mmol/mol: 0.09148 x + 2.152", "%"))
HBA1C_UNITS = ("%", "1", "mmol/mol", "umol/mol")


@given(value=exact, a=st.sampled_from(TEMPERATURES), b=st.sampled_from(TEMPERATURES))
def test_temperatures_round_trip_exactly(value: Fraction, a: str, b: str) -> None:
    units = get_units()
    assert units.convert(units.convert(value, a, b), b, a) == value


@given(value=exact, a=st.sampled_from(HBA1C_UNITS), b=st.sampled_from(HBA1C_UNITS))
def test_scales_round_trip_exactly(value: Fraction, a: str, b: str) -> None:
    units = get_units()
    there = units.convert(value, a, b, basis=HBA1C)
    assert units.convert(there, b, a, basis=HBA1C) == value


@given(value=exact, valence=st.sampled_from([Fraction(1), Fraction(2), Fraction(3)]))
def test_equivalents_round_trip_exactly(value: Fraction, valence: Fraction) -> None:
    units = get_units()
    basis = Basis(molar_mass=Fraction("40.078"), valence=valence)
    for target in ("mmol/L", "mg/dL", "umol/L"):
        there = units.convert(value, "mEq/L", target, basis=basis)
        assert units.convert(there, target, "mEq/L", basis=basis) == value


@given(ifcc=st.fractions(min_value=20, max_value=200, max_denominator=1000))
def test_a_threshold_on_one_scale_is_met_exactly_by_its_value_on_the_other(ifcc: Fraction) -> None:
    # Whatever the IFCC value, its NGSP equivalent written as the threshold is equal to it.
    ngsp = NGSP(ifcc)
    units = get_units()
    assert units.convert(ifcc, "mmol/mol", "%", basis=HBA1C) == ngsp
    assert units.convert(ngsp, "%", "mmol/mol", basis=HBA1C) == ifcc


# --------------------------------------------------------------------------- the plan


def plan_of(*criteria: str) -> p.Plan:
    body = "\n".join(f"  {c}" for c in criteria)
    text = f'trial "T"\n  dates screening\n  index screening\n{UNIT_CONCEPTS}\ninclusion\n{body}\n'
    return lower(compile_text(text))


def test_plan_carries_affine_maps_valences_and_scales() -> None:
    plan = plan_of(
        f'I1 "a": latest lab a1c {WINDOW} >= 7 %',
        f'I2 "b": latest observation temp {WINDOW} > 100.4 [degF]',
        f'I3 "c": latest lab k {WINDOW} > 5 mmol/L',
        f'I4 "d": latest observation ratio {WINDOW} < 0.7',
    )
    conversions = [c.expr.conversion for c in plan.criteria]  # type: ignore[attr-defined]
    a1c, temp, k, ratio = conversions
    by_unit = {f.unit: f for f in a1c.factors}
    assert (by_unit["mmol/mol"].factor, by_unit["mmol/mol"].offset) == (
        Fraction("0.09148"),
        Fraction("2.152"),
    )
    assert a1c.scales and a1c.scales[0].unit == "mmol/mol"
    cel = {f.unit: f for f in temp.factors}["Cel"]
    assert (cel.factor, cel.offset) == (Fraction(9, 5), Fraction(32))
    assert k.valence == 1 and {f.unit: f.factor for f in k.factors}["mEq/L"] == 1
    assert ratio.target == "1" and {f.unit: f.factor for f in ratio.factors}["%"] == Fraction(
        1, 100
    )
    assert loads(dumps(plan)) == plan
    text = show(plan)
    assert "scale mmol/mol: 0.09148 x + 2.152" in text and "Cel x 1.8 + 32" in text
    assert "valence 1" in text

"""Tests for criteria_lang.core.units: syntax, exact conversions, molar bridges, UCUM, errors."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st

from criteria_lang.core.units import (
    COMMON_UNITS,
    IncompatibleUnits,
    Unit,
    UnitError,
    UnitSystem,
    get_units,
)

# PubChem CID 588, creatinine C4H7N3O: 113.12 g/mol. The clinical factor 88.4 umol/L per mg/dL
# is 10000/113.12 rounded.
CREATININE = Fraction("113.12")

# Every unit our rule files and patient JSON use (docs/units.md).
OUR_SYNTAX = (
    "mg/dL, g/L, g/dL, umol/L, µmol/L, μmol/L, mmol/L, mg/mmol, g/g, mg/g, mg/mg, g/24h, "
    "g/day, g/d, mg/day, mg/d, mg/week, mg/month, mg/kg/day, mg/kg, mg/m2, mg/m^2, g, mg, "
    "mL/min, ml/min, mL/min/1.73m2, ml/min/1.73 m2, mL/min/m2, 10^9/L, x10^9/L, 10^6/L, "
    "10^12/L, cells/uL, /uL, /mm3, /HPF, /hpf, cells/HPF, %, mmHg, mm, cm, m, kg, kg/m2, "
    "IU/mL, IU/L, U/L, kU/L, titer, 1, years, year, months, month, weeks, week, days, day, "
    "hours, h, min"
).split(", ")

# Units within a group convert to each other without a molar mass.
GROUPS = (
    ("mg/dL", "g/L", "g/dL", "mg/L", "ug/mL"),
    ("umol/L", "µmol/L", "μmol/L", "mmol/L"),
    ("10^9/L", "x10^9/L", "10^6/L", "10^12/L", "cells/uL", "/uL", "/mm3", "10*9/L"),
    ("mL/min", "ml/min", "L/h"),
    ("mL/min/1.73m2", "ml/min/1.73 m2", "mL/min/m2"),
    ("g/24h", "g/day", "g/d", "mg/day", "mg/d", "mg/week", "mg/month"),
    # Ratios keep their kind (docs/units.md, "Kinds of ratio"): numbers, mass ratios, amount
    # ratios convert within their kind only.
    ("%", "1", "titer", "cells"),
    ("g/g", "mg/g", "mg/mg", "mg/kg"),
    ("mmol/mol", "umol/mol", "mol/mol", "mmol/mmol"),
    ("mg/kg/day", "mg/kg/week", "/day"),
    ("mm", "cm", "m"),
    ("g", "mg", "kg"),
    ("kg/m2", "mg/m2", "mg/m^2"),
    ("IU/mL", "IU/L", "mIU/mL"),
    ("U/L", "kU/L"),
    ("years", "year", "months", "month", "weeks", "week", "days", "day", "hours", "h", "min"),
    ("/HPF", "/hpf", "cells/HPF"),
)

# (a, b): a converts to b only with a molar mass.
MOLAR_PAIRS = (
    ("umol/L", "mg/dL"),
    ("mmol/L", "g/L"),
    ("mg/mmol", "g/g"),
    ("mg/mmol", "mg/g"),
    ("mmol/day", "g/24h"),
)


@pytest.fixture(scope="module")
def units() -> UnitSystem:
    return get_units()


# --- Syntax -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", OUR_SYNTAX)
def test_every_unit_of_our_syntax_parses(units: UnitSystem, text: str) -> None:
    unit = units.parse(text)
    assert unit.text == text
    assert isinstance(unit.scale, Fraction)
    assert isinstance(unit.base_factor, Fraction)


@pytest.mark.parametrize("text", COMMON_UNITS)
def test_every_suggestable_unit_parses(units: UnitSystem, text: str) -> None:
    units.parse(text)


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("10^9/L", Fraction(10**9)),
        ("x10^9/L", Fraction(10**9)),
        ("10*9/L", Fraction(10**9)),
        ("mL/min/1.73m2", 1 / Fraction("1.73")),
        ("ml/min/1.73 m2", 1 / Fraction("1.73")),
        ("g/24h", Fraction(1, 24)),
        ("%", Fraction(1, 100)),
        ("mg/dL", Fraction(1)),
    ],
)
def test_scale_is_the_number_written_in_the_unit(
    units: UnitSystem, text: str, scale: Fraction
) -> None:
    assert units.parse(text).scale == scale


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ml/min", "mL/min"),
        ("mg/dl", "mg/dL"),
        ("µmol/L", "umol/L"),
        ("μmol/L", "umol/L"),
        ("x10^9/L", "10^9/L"),
        ("mL/min/1.73m2", "ml/min/1.73 m2"),
        ("mg/m2", "mg/m^2"),
        ("mg/m²", "mg/m2"),
        ("/HPF", "/hpf"),
        ("cells/HPF", "/HPF"),
        ("cells/uL", "/uL"),
        ("/uL", "/mm3"),
        ("g/day", "g/d"),
        ("g/day", "g/24h"),
        ("years", "year"),
        ("titer", "1"),
        ("g/g", "mg/mg"),
        ("mmol/mol", "umol/mmol"),
        ("%", "percent"),
        ("Cel", "degC"),
        ("[degF]", "°F"),
        ("mEq/L", "meq/L"),
    ],
)
def test_units_that_denote_the_same_thing_are_equal(units: UnitSystem, a: str, b: str) -> None:
    assert units.parse(a) == units.parse(b)
    assert hash(units.parse(a)) == hash(units.parse(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [("mg/dL", "g/L"), ("mL/min/1.73m2", "mL/min/m2"), ("%", "1"), ("mg", "IU"), ("/HPF", "1")],
)
def test_different_units_are_not_equal(units: UnitSystem, a: str, b: str) -> None:
    assert units.parse(a) != units.parse(b)


def test_parse_is_cached(units: UnitSystem) -> None:
    assert units.parse("mg/dL") is units.parse("mg/dL")
    assert units.parse_ucum("mg/dL") is units.parse_ucum("mg/dL")


def test_get_units_is_one_shared_system_with_one_registry() -> None:
    assert get_units() is get_units()
    assert UnitSystem().registry is get_units().registry


def test_empty_unit_is_dimensionless(units: UnitSystem) -> None:
    assert units.parse("") == units.parse("1")


@pytest.mark.parametrize(
    ("text", "dimensionality"),
    [
        ("mg/dL", "[mass] / [length] ** 3"),
        ("10^9/L", "1 / [length] ** 3"),
        ("mL/min/1.73m2", "[length] / [time]"),
        ("IU/mL", "[international_unit] / [length] ** 3"),
        ("/HPF", "1 / [high_power_field]"),
        ("%", "dimensionless"),
    ],
)
def test_dimensionality_is_canonical_text(
    units: UnitSystem, text: str, dimensionality: str
) -> None:
    assert units.parse(text).dimensionality == dimensionality


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("mg/dL", "mass / volume"),
        ("umol/L", "amount of substance / volume"),
        ("mL/min", "volume / time"),
        ("mL/min/1.73m2", "volume / time / area"),
        ("mg/kg/day", "mass / mass / time"),
        ("10^9/L", "1 / volume"),
        ("cells/HPF", "1 / high-power field"),
        ("IU/L", "international units / volume"),
        ("U/L", "catalytic activity / volume"),
        ("mmHg", "pressure"),
        ("%", "dimensionless"),
        ("titer", "dimensionless"),
        ("kg/m2", "mass / area"),
    ],
)
def test_describe_names_the_dimension_in_words(units: UnitSystem, text: str, words: str) -> None:
    assert units.describe(text) == words


# --- Errors -----------------------------------------------------------------------------------


def test_unknown_unit_suggests_a_common_one(units: UnitSystem) -> None:
    with pytest.raises(UnitError) as caught:
        units.parse("mgg/dL")
    assert str(caught.value) == "unknown unit 'mgg' in 'mgg/dL'; did you mean 'mg' or 'mcg'?"
    assert caught.value.suggestions[0] == "mg"
    assert isinstance(caught.value, ValueError)


def test_unknown_unit_suggests_a_different_case_first(units: UnitSystem) -> None:
    with pytest.raises(UnitError, match=r"^unknown unit 'Hpf'; did you mean 'HPF'\?$"):
        units.parse("Hpf")


def test_unknown_unit_without_close_match_has_no_suggestion(units: UnitSystem) -> None:
    with pytest.raises(UnitError, match=r"^unknown unit 'zzzz'$"):
        units.parse("zzzz")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mg//dL", "cannot read unit 'mg//dL': nothing between '/'"),
        ("mg/", "cannot read unit 'mg/': nothing after '/'"),
        ("mg/dL?", "cannot read unit 'mg/dL?': unexpected '?' at character 6"),
        (
            "mg/kg*day",
            "ambiguous unit 'mg/kg*day': write 'a/b/c' to divide by b and c, "
            "or put multiplied units before the first '/'",
        ),
    ],
)
def test_malformed_units(units: UnitSystem, text: str, message: str) -> None:
    with pytest.raises(UnitError) as caught:
        units.parse(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("text", ["Cel/min", "degC/h", "2 degF", "mg/degC", "K2"])
def test_temperatures_other_than_a_reading_are_rejected_clearly(
    units: UnitSystem, text: str
) -> None:
    with pytest.raises(UnitError, match="temperature unit .* is not supported"):
        units.parse(text)


def test_incompatible_units_name_both_dimensions(units: UnitSystem) -> None:
    with pytest.raises(IncompatibleUnits) as caught:
        units.factor("mL/min", "mg/dL")
    assert str(caught.value) == (
        "cannot convert 'mL/min' (volume / time) to 'mg/dL' (mass / volume)"
    )
    assert caught.value.source == units.parse("mL/min")
    assert caught.value.target == units.parse("mg/dL")
    assert isinstance(caught.value, UnitError)


def test_international_units_do_not_convert_to_mass(units: UnitSystem) -> None:
    with pytest.raises(IncompatibleUnits) as caught:
        units.factor("mg", "IU")
    assert str(caught.value) == (
        "cannot convert 'mg' (mass) to 'IU' (international units): "
        "international units measure biological activity, not an amount"
    )


def test_molar_units_need_a_molar_mass(units: UnitSystem) -> None:
    with pytest.raises(IncompatibleUnits) as caught:
        units.factor("umol/L", "mg/dL")
    assert str(caught.value) == (
        "cannot convert 'umol/L' (amount of substance / volume) to 'mg/dL' (mass / volume): "
        "converting between amount of substance and mass needs a molar mass"
    )
    assert not units.compatible("umol/L", "mg/dL")
    assert units.compatible("umol/L", "mg/dL", molar_mass=CREATININE)


def test_a_molar_mass_does_not_bridge_other_dimensions(units: UnitSystem) -> None:
    with pytest.raises(IncompatibleUnits, match=r"\(mass / mass\)$"):
        units.factor("umol/L", "mg/kg", molar_mass=CREATININE)


@pytest.mark.parametrize(
    ("a", "b"),
    [("/HPF", "/uL"), ("/HPF", "1"), ("IU/mL", "U/L"), ("mg/kg/day", "mg/day"), ("%", "mg")],
)
def test_incompatible(units: UnitSystem, a: str, b: str) -> None:
    assert not units.compatible(a, b)
    with pytest.raises(IncompatibleUnits):
        units.factor(a, b)


def test_molar_mass_must_be_positive(units: UnitSystem) -> None:
    with pytest.raises(ValueError, match="molar mass must be positive"):
        units.factor("umol/L", "mg/dL", molar_mass=Fraction(0))


def test_convert_refuses_floats(units: UnitSystem) -> None:
    with pytest.raises(TypeError, match="needs a Fraction"):
        units.convert(1.1, "mg/dL", "g/L")  # type: ignore[arg-type]


# --- Known conversions, exactly ---------------------------------------------------------------


def test_exact_mg_dl_to_g_l(units: UnitSystem) -> None:
    assert units.convert(Fraction("1.1"), "mg/dL", "g/L") == Fraction("0.011")
    assert units.convert(Fraction("0.011"), "g/L", "mg/dL") == Fraction("1.1")


def test_why_fractions_plain_float_pint_is_inexact() -> None:
    # The same conversion with floats in a default registry misses 0.011 by one ulp, enough
    # to put a value on the wrong side of an eligibility threshold of exactly 0.011 g/L.
    plain: pint.UnitRegistry[float] = pint.UnitRegistry(cache_folder=None)
    in_floats = plain.Quantity(1.1, "mg/dL").to("g/L").magnitude
    assert in_floats != 0.011
    assert in_floats == 0.011000000000000001
    assert get_units().convert(Fraction("1.1"), "mg/dL", "g/L") == Fraction("0.011")


def test_creatinine_umol_per_l_to_mg_per_dl(units: UnitSystem) -> None:
    converted = units.convert(Fraction("88.4"), "umol/L", "mg/dL", molar_mass=CREATININE)
    assert converted == Fraction("88.4") * Fraction("113.12") / 10000
    assert units.factor("mg/dL", "umol/L", molar_mass=CREATININE) == 10000 / Fraction("113.12")
    assert units.factor("µmol/L", "mg/dL", molar_mass=CREATININE) == Fraction("0.011312")


def test_a_float_molar_mass_is_refused(units: UnitSystem) -> None:
    with pytest.raises(TypeError, match="molar mass must be a Fraction"):
        units.factor("mg/dL", "umol/L", molar_mass=113.12)  # type: ignore[arg-type]


def test_urine_protein_creatinine_ratio_mg_per_mmol_to_g_per_g(units: UnitSystem) -> None:
    # mg protein per mmol creatinine -> g protein per g creatinine: divide by creatinine's
    # molar mass (mg/mmol is g/mol). 113.12 mg/mmol is exactly 1 g/g.
    assert units.factor("mg/mmol", "g/g", molar_mass=CREATININE) == 1 / CREATININE
    assert units.convert(Fraction("113.12"), "mg/mmol", "g/g", molar_mass=CREATININE) == 1
    assert units.convert(Fraction(1), "g/g", "mg/mmol", molar_mass=CREATININE) == CREATININE
    assert units.factor("mg/mmol", "mg/g", molar_mass=CREATININE) == 1000 / CREATININE


@pytest.mark.parametrize(
    ("source", "target", "factor"),
    [
        ("mg/dL", "g/L", Fraction(1, 100)),
        ("g/dL", "g/L", Fraction(10)),
        ("mmol/L", "umol/L", Fraction(1000)),
        ("10^9/L", "10^3/uL", Fraction(1)),
        ("10^9/L", "/uL", Fraction(1000)),
        ("/uL", "10^9/L", Fraction(1, 1000)),
        ("10^12/L", "10^6/uL", Fraction(1)),
        ("cells/uL", "/mm3", Fraction(1)),
        # A value per 1.73 m2 of body surface is 1/1.73 of that value per m2.
        ("mL/min/1.73m2", "mL/min/m2", 1 / Fraction("1.73")),
        ("mL/min/m2", "mL/min/1.73m2", Fraction("1.73")),
        ("g/24h", "mg/day", Fraction(1000)),
        ("mg/day", "mg/week", Fraction(7)),
        ("%", "1", Fraction(1, 100)),
        ("1", "%", Fraction(100)),
        ("mg/g", "g/g", Fraction(1, 1000)),
        ("%", "1", Fraction(1, 100)),
        ("IU/mL", "IU/L", Fraction(1000)),
        ("kU/L", "U/L", Fraction(1000)),
        ("kg", "mg", Fraction(10**6)),
        ("years", "months", Fraction(12)),
        ("year", "days", Fraction("365.25")),
        ("weeks", "days", Fraction(7)),
        ("days", "hours", Fraction(24)),
        ("h", "min", Fraction(60)),
        ("cm", "mm", Fraction(10)),
        ("mmHg", "mmHg", Fraction(1)),
        ("titer", "1", Fraction(1)),
    ],
)
def test_known_factors(units: UnitSystem, source: str, target: str, factor: Fraction) -> None:
    assert units.factor(source, target) == factor
    assert units.convert(Fraction(3), source, target) == 3 * factor


def test_factor_is_cached_and_accepts_units_or_texts(units: UnitSystem) -> None:
    first = units.factor("mg/dL", "g/L")
    assert units.factor("mg/dL", "g/L") is first
    assert units.factor(units.parse("mg/dL"), "g/L") == first
    assert units.factor(units.parse_ucum("mg/dL"), units.parse_ucum("g/L")) == first


# --- UCUM -------------------------------------------------------------------------------------

UCUM_TO_OURS = [
    ("10*9/L", "10^9/L"),
    ("10*3/uL", "10^3/uL"),
    ("10*3/uL", "10^9/L"),
    ("mL/min/{1.73_m2}", "mL/min/1.73m2"),
    ("[iU]/mL", "IU/mL"),
    ("m[iU]/mL", "mIU/mL"),
    ("/[HPF]", "/HPF"),
    ("%", "%"),
    ("{titer}", "titer"),
    ("mm[Hg]", "mmHg"),
    ("kg/m2", "kg/m2"),
    ("umol/L", "umol/L"),
    ("mmol/L", "mmol/L"),
    ("mg/dL", "mg/dL"),
    ("g/dL", "g/dL"),
    ("/min", "/min"),
    ("[lb_av]", "lb"),
    ("[in_i]", "inch"),
    ("mg{creat}/mmol", "mg/mmol"),
    ("{cells}/uL", "cells/uL"),
    ("g/(24.h)", "g/24h"),
    ("a", "year"),
    ("mo", "month"),
    ("wk", "week"),
    ("d", "day"),
    ("U/L", "U/L"),
]


@pytest.mark.parametrize(("code", "ours"), UCUM_TO_OURS)
def test_ucum_codes_mean_what_our_syntax_means(units: UnitSystem, code: str, ours: str) -> None:
    unit = units.parse_ucum(code)
    assert unit == units.parse(ours)
    assert unit.text == code
    assert isinstance(unit.scale, Fraction)


def test_ucum_magnitudes_stay_exact(units: UnitSystem) -> None:
    # ucumvert on its own computes /min as 1 / x with int 1, which gives a float magnitude.
    assert type(units.parse_ucum("/min").scale) is Fraction
    assert units.parse_ucum("10*-3").scale == Fraction(1, 1000)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("Cel/min", "temperature unit 'Cel/min' is not supported"),
        ("[arb'U]", 'UCUM unit "[arb\'U]" is not supported: criteria_lang gives "[arb\'U]"'),
        ("mg/dl/", "'mg/dl/' is not a valid UCUM unit: unexpected end of input."),
    ],
)
def test_ucum_errors(units: UnitSystem, code: str, message: str) -> None:
    with pytest.raises(UnitError) as caught:
        units.parse_ucum(code)
    assert str(caught.value).startswith(message)


# --- Properties -------------------------------------------------------------------------------

same_group = st.sampled_from(GROUPS).flatmap(
    lambda g: st.tuples(st.sampled_from(g), st.sampled_from(g))
)
molar_masses = st.fractions(min_value=Fraction(1, 1000), max_value=10**6).filter(lambda m: m > 0)


@given(pair=same_group, value=st.fractions())
def test_there_and_back_is_the_identity(pair: tuple[str, str], value: Fraction) -> None:
    units = get_units()
    a, b = pair
    assert units.convert(units.convert(value, a, b), b, a) == value


@given(pair=same_group)
def test_factors_are_reciprocal(pair: tuple[str, str]) -> None:
    units = get_units()
    a, b = pair
    assert units.factor(a, b) * units.factor(b, a) == 1


@given(pair=st.sampled_from(MOLAR_PAIRS), molar_mass=molar_masses, value=st.fractions())
def test_molar_there_and_back_is_the_identity(
    pair: tuple[str, str], molar_mass: Fraction, value: Fraction
) -> None:
    units = get_units()
    a, b = pair
    there = units.convert(value, a, b, molar_mass=molar_mass)
    assert units.convert(there, b, a, molar_mass=molar_mass) == value
    assert (
        units.factor(a, b, molar_mass=molar_mass) * units.factor(b, a, molar_mass=molar_mass) == 1
    )


@given(a=st.sampled_from(OUR_SYNTAX), b=st.sampled_from(OUR_SYNTAX))
def test_equal_units_convert_by_one_and_compatibility_is_symmetric(a: str, b: str) -> None:
    units = get_units()
    assert units.compatible(a, b) == units.compatible(b, a)
    if units.parse(a) == units.parse(b):
        assert units.factor(a, b) == 1


@given(pair=same_group, value=st.fractions())
def test_factor_is_transitive_through_the_first_unit_of_the_group(
    pair: tuple[str, str], value: Fraction
) -> None:
    units = get_units()
    a, b = pair
    pivot = next(g for g in GROUPS if a in g)[0]
    via_pivot = units.convert(units.convert(value, a, pivot), pivot, b)
    assert via_pivot == units.convert(value, a, b)


def test_unit_is_hashable_and_usable_as_a_key() -> None:
    units = get_units()
    table: dict[Unit, str] = {units.parse("mL/min"): "flow"}
    assert table[units.parse("ml/min")] == "flow"


def test_importing_does_no_work() -> None:
    # The registry takes ~0.3 s to build: only the first parse may pay for it.
    code = "import criteria_lang.core.units as u; assert u._registry is None and u._units is None"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_the_table_of_common_ucum_codes_is_what_ucumvert_gives() -> None:
    """core/ucum_known.json (parse results made ahead of time) equals parsing each code now;
    regenerate with `python -m criteria_lang.core.ucum_known` when this fails."""
    import json

    from criteria_lang.core import ucum_known

    stored = json.loads(
        (Path(ucum_known.__file__).with_name("ucum_known.json")).read_text(encoding="utf-8")
    )
    assert stored == ucum_known.generate()
    assert set(stored) == set(ucum_known.CODES)
    units = get_units()
    for code, entry in stored.items():
        if "error" in entry:
            with pytest.raises(UnitError, match=re.escape(entry["error"])):
                units.parse_ucum(code)
        else:
            fast, live = units.parse_ucum(code), units.parse_ucum_uncached(code)
            assert fast == live and fast.text == live.text and fast.scale == live.scale
            assert fast.terms == live.terms and fast.dimensions == live.dimensions

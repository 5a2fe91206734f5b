"""The unit table (core/unit_table.py) answers for pint without importing it: for every name pint
knows, every prefixed name and every plural, it gives pint's canonical name, exact factor and
dimensions, or leaves the name to pint. And a unit read through the table is the unit read
through pint, for every unit text of the stdlib, the rule files and the documented list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pint
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_lang.core.unit_syntax import COMMON_NAMES
from criteria_lang.core.unit_table import NameMeaning, UnitTable, unit_table
from criteria_lang.core.units import (
    COMMON_UNITS,
    CUSTOM_DEFINITIONS,
    Unit,
    UnitError,
    UnitSystem,
    _get_registry,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def table() -> UnitTable:
    found = unit_table(CUSTOM_DEFINITIONS)
    assert found is not None, (
        "pint_definitions.json is stale: python -m criteria_lang.core.unit_registry"
    )
    return found


@pytest.fixture(scope="module")
def registry() -> pint.UnitRegistry[Any]:
    return _get_registry()


def pints_meaning(registry: pint.UnitRegistry[Any], name: str) -> NameMeaning | None:
    """What our pint path makes of one unit name: None when it is not an exact unit."""
    try:
        unit = registry.Unit(name)
        factor, _ = registry.get_root_units(unit)
        dims = unit.dimensionality
    except Exception:  # noqa: BLE001 - pint rejects it one way or another
        return None
    if not isinstance(factor, Fraction | int) or len(unit._units) != 1:  # noqa: SLF001
        return None
    ((canonical, power),) = unit._units.items()  # noqa: SLF001
    if power != 1:
        return None
    dimensions = tuple(sorted((k, Fraction(str(v))) for k, v in dims.items() if v))
    return NameMeaning(canonical, Fraction(factor), dimensions)


# The names our unit syntax can pass on (core/units.py _TOKEN).
NAME = re.compile(r"[A-Za-z_°]+")


def agrees(table: UnitTable, registry: pint.UnitRegistry[Any], name: str) -> bool:
    if not NAME.fullmatch(name):
        return True  # never asked
    mine = table.resolve(name)
    return mine is None or mine == pints_meaning(registry, name)


def test_every_name_pint_knows(table: UnitTable, registry: pint.UnitRegistry[Any]) -> None:
    names = sorted(registry._units)  # noqa: SLF001
    assert len(names) > 1000
    resolved = 0
    for name in names:
        assert agrees(table, registry, name), name
        resolved += table.resolve(name) is not None
    # Left to pint: units with an offset or a logarithm (degC, dB), and units defined through a
    # square root (gauss, the Planck units), whose factor may not be exact.
    assert resolved > 0.85 * len(names)


def test_every_plural(table: UnitTable, registry: pint.UnitRegistry[Any]) -> None:
    for name in sorted(registry._units):  # noqa: SLF001
        assert agrees(table, registry, name + "s"), name + "s"


def test_every_prefix_on_common_units(table: UnitTable, registry: pint.UnitRegistry[Any]) -> None:
    stems = "g gram L l liter m meter mol s second U IU iU Hg mHg min h day a cal J Pa bar eq"
    stems_list = [*stems.split(), "kat"]
    for prefix in sorted(registry._prefixes):  # noqa: SLF001
        for stem in stems_list:
            for name in (prefix + stem, prefix + stem + "s"):
                assert agrees(table, registry, name), name


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abcdgiklmnostuLUMGHI_", min_size=1, max_size=7))
def test_any_name(table: UnitTable, registry: pint.UnitRegistry[Any], name: str) -> None:
    assert agrees(table, registry, name)


def test_the_names_clinical_units_use_are_in_the_table(table: UnitTable) -> None:
    names = COMMON_NAMES + ("IU", "mIU", "HPF", "titer", "cells", "mmHg", "mEq", "meq")
    for name in names:
        if NAME.fullmatch(name):  # `m2` is the name m, squared
            assert table.resolve(name) is not None, name


# ---------------------------------------------------------------------------- whole units


def unit_texts() -> Iterator[str]:
    yield from COMMON_UNITS
    pattern = re.compile(
        r"unit = ([^,\n#]+)|\d(?:\.\d+)? ?([A-Za-z%µμ/][A-Za-z0-9_%µμ/^.\[\]{}*]*)"
    )
    files = [*(ROOT / "criteria_lang" / "stdlib").glob("*.crit"), *(ROOT / "rules").rglob("*.crit")]
    for path in sorted(files):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            text = (match.group(1) or match.group(2) or "").strip()
            if text:
                yield text


def described(system: UnitSystem, text: str) -> tuple[object, ...]:
    try:
        unit = system.parse(text)
    except UnitError as error:
        return ("error", str(error))
    return (unit, unit.dimensions, unit.base_factor, sorted(unit.terms), system.describe(unit))


def test_units_read_through_the_table_are_the_units_read_through_pint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = sorted(set(unit_texts()))
    assert len(texts) > 60
    through_table = {text: described(UnitSystem(), text) for text in texts}
    monkeypatch.setattr("criteria_lang.core.units.unit_table", lambda custom: None)
    through_pint = {text: described(UnitSystem(), text) for text in texts}
    assert through_table == through_pint


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "mg",
                "g",
                "kg",
                "dL",
                "L",
                "mL",
                "umol",
                "mol",
                "min",
                "h",
                "day",
                "m2",
                "IU",
                "U",
                "kU",
                "cells",
                "HPF",
                "titer",
                "%",
                "10^9",
                "1.73",
                "mmHg",
                "weeks",
                "x",
                "degC",
                "K",
                "Mg",
                "inch",
                "lb",
            ]
        ),  # fmt: skip
        min_size=1,
        max_size=4,
    ),
    st.lists(st.sampled_from(["/", " ", "*"]), min_size=3, max_size=3),
)
def test_any_composition_reads_the_same_through_both(parts: list[str], ops: list[str]) -> None:
    text = parts[0] + "".join(op + part for op, part in zip(ops, parts[1:], strict=False))
    table_side = described(UnitSystem(), text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("criteria_lang.core.units.unit_table", lambda custom: None)
        pint_side = described(UnitSystem(), text)
    assert table_side == pint_side, text


def test_divide_and_multiply_need_no_pint(monkeypatch: pytest.MonkeyPatch) -> None:
    system = UnitSystem()
    mg_per_day = system.divide("mg", "day")
    assert mg_per_day == system.parse("mg/day")
    assert system.multiply(mg_per_day, "day") == system.parse("mg")
    assert system.describe(system.divide("mg/kg", "day")) == "mass / mass / time"
    assert isinstance(mg_per_day, Unit)

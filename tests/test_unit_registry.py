"""The pint registry built from definitions parsed ahead of time (core/unit_registry.py) is the
registry pint builds from its own files: the same units, prefixes and aliases, and for every
unit the same exact factor to the root units and the same dimensionality."""

from __future__ import annotations

import pickle
from fractions import Fraction
from typing import Any

import pint
import pytest
from pint.delegates.txt_defparser.defparser import DefParser

from criteria_lang.core import unit_registry
from criteria_lang.core.units import CUSTOM_DEFINITIONS, get_units


@pytest.fixture(scope="module")
def pints_own() -> pint.UnitRegistry[Any]:
    registry: pint.UnitRegistry[Any] = pint.UnitRegistry(non_int_type=Fraction, cache_folder=None)
    for definition in CUSTOM_DEFINITIONS:
        registry.define(definition)
    return registry


@pytest.fixture(scope="module")
def ours() -> pint.UnitRegistry[Any]:
    return unit_registry.build_registry(CUSTOM_DEFINITIONS)


def root(registry: pint.UnitRegistry[Any], name: str) -> tuple[object, dict[str, object]]:
    try:
        factor, units = registry.get_root_units(name)
    except Exception as error:  # noqa: BLE001 - the same failure counts as the same answer
        return type(error).__name__, {}
    return factor, dict(units._units)


def test_the_definitions_file_is_up_to_date_with_pint() -> None:
    assert unit_registry.main(["--check"]) == 0, "run: python -m criteria_lang.core.unit_registry"


def test_the_shipped_definitions_are_used(ours: pint.UnitRegistry[Any]) -> None:
    assert unit_registry._load_definitions(CUSTOM_DEFINITIONS) is not None  # noqa: SLF001
    assert ours._filename == "<parsed definitions>"  # noqa: SLF001


def test_same_names_as_pints_own(
    ours: pint.UnitRegistry[Any], pints_own: pint.UnitRegistry[Any]
) -> None:
    # pint's eager pass also enters the prefixed units the definitions refer to (kilometer,
    # microliter...); ours enters them when they are first used, with the same meaning.
    ours_names, theirs = set(ours._units), set(pints_own._units)  # noqa: SLF001
    assert ours_names <= theirs
    for name in sorted(theirs - ours_names):
        assert root(ours, name) == root(pints_own, name), name
    assert set(ours._prefixes) == set(pints_own._prefixes)  # noqa: SLF001
    assert set(ours._suffixes) == set(pints_own._suffixes)  # noqa: SLF001
    assert set(ours._dimensions) == set(pints_own._dimensions)  # noqa: SLF001
    assert ours.default_system == pints_own.default_system


def test_every_unit_has_the_same_exact_root_factor(
    ours: pint.UnitRegistry[Any], pints_own: pint.UnitRegistry[Any]
) -> None:
    names = sorted(pints_own._units)  # noqa: SLF001
    assert len(names) > 900
    for name in names:
        assert root(ours, name) == root(pints_own, name), name
    for prefixed in ("mg", "umol", "kU", "mL", "dL", "nmol", "mmHg", "ug"):
        mine, theirs = root(ours, prefixed), root(pints_own, prefixed)
        assert mine == theirs
        assert isinstance(mine[0], Fraction | int)


def test_exact_fractions_survive(ours: pint.UnitRegistry[Any]) -> None:
    assert ours.get_root_units("mmHg")[0] == Fraction(26664477483, 200000)
    assert get_units().convert(Fraction("1.1"), "mg/dL", "g/L") == Fraction(11, 1000)
    assert get_units().factor("umol/L", "mg/dL", molar_mass=Fraction("113.12")) == Fraction(
        707, 62500
    )


def test_the_registry_is_built_without_pickle_or_pints_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("not expected here")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(DefParser, "parse_file", refuse)
    monkeypatch.setattr(DefParser, "parse_string", refuse)
    registry = unit_registry.build_registry(CUSTOM_DEFINITIONS)
    assert registry.get_root_units("mg")[0] == Fraction(1, 1000)
    assert registry.get_root_units("mIU")[0] == Fraction(1, 1000)  # ours, from the file too


def test_another_pint_falls_back_to_pints_own_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Definitions from other pint files are not used: pint parses its own."""
    monkeypatch.setattr(unit_registry, "pint_sources_sha256", lambda: "0" * 64)
    assert unit_registry._load_definitions(CUSTOM_DEFINITIONS) is None  # noqa: SLF001
    registry = unit_registry.build_registry(CUSTOM_DEFINITIONS)
    assert registry._filename == ""  # noqa: SLF001
    assert registry.get_root_units("mmHg")[0] == Fraction(26664477483, 200000)
    assert registry.get_dimensionality("IU") == {"[international_unit]": 1}


def test_edited_custom_units_are_not_taken_from_the_file() -> None:
    edited = (*CUSTOM_DEFINITIONS, "drop = 1")
    assert unit_registry._load_definitions(edited) is None  # noqa: SLF001
    assert unit_registry.build_registry(edited).get_root_units("drop")[0] == 1


def test_only_pints_definition_records_are_decoded() -> None:
    classes = {"UnitDefinition": object}
    with pytest.raises(KeyError):
        unit_registry._decode({"$": "os.system", "v": 1}, classes)  # noqa: SLF001

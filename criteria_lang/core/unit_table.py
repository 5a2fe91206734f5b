"""pint's unit names answered without importing pint: for a rule file's `mg/dL`, `umol/L` or
`mL/min/1.73m2`, what each name is and its exact factor and dimension.

Importing pint costs a quarter of `criteria check`'s start-up, and checking a rule file needs only
that answer for a few dozen unit names. This table reads the definitions pint parsed
ahead of time (`pint_definitions.json`, see unit_registry.py: pint's own files plus our custom
units) and resolves a name the way pint's registry does: an exact name, symbol or alias; else
pint's prefix and plural rules, in pint's order of preference; then the factor to the root units
and the base dimensions through the definitions' references. Anything it does not cover (a unit
with an offset or a logarithm, a name it cannot place) it leaves to pint: `resolve` returns None
and the caller asks pint, which then imports. tests/test_unit_table.py compares it with pint's
registry for every name, every prefixed name and every plural.

The table is used only when the installed pint's definition files are the ones the JSON was
made from (found without importing pint), and when our custom units are those in the file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

__all__ = ["NameMeaning", "UnitTable", "unit_table"]

PACKAGE = "criteria_lang.core"
DEFINITIONS_FILE = "pint_definitions.json"
PINT_FILES = ("default_en.txt", "constants_en.txt")
# pint's plural rule: `days` is `day`; a one-letter name takes no plural (`ms` is not `m`+s).
_SUFFIXES = ("", "s")

Dimensions = tuple[tuple[str, Fraction], ...]


@attrs.frozen
class NameMeaning:
    """What pint makes of one unit name."""

    name: str  # pint's canonical name, prefix included: `milligram` for `mg`
    factor: Fraction  # a value in this unit times this is in pint's root units (g, m, s, mol...)
    dimensions: Dimensions  # base dimensions with their exponents, sorted, none zero


@attrs.frozen
class _Unit:
    name: str
    scale: Fraction | None  # None: an offset or logarithmic unit, which pint converts otherwise
    reference: tuple[tuple[str, Fraction], ...]
    is_base: bool  # refers to dimensions only (`meter = [length]`)


class UnitTable:
    def __init__(self, definitions: Sequence[Mapping[str, Any]]) -> None:
        # As pint's registry: every name, symbol and alias -> its definition, and the prefixes
        # in the order pint tries them (the empty prefix first).
        self._units: dict[str, _Unit] = {}
        self._prefixes: dict[str, tuple[str, Fraction]] = {"": ("", Fraction(1))}
        self._derived: dict[str, tuple[tuple[str, Fraction], ...]] = {}
        self._base_dimensions: set[str] = set()
        self._add(definitions)
        self._meanings: dict[str, NameMeaning | None] = {}

    def _add(self, definitions: Iterable[Mapping[str, Any]]) -> None:
        for item in definitions:
            kind = item["$"]
            if kind == "UnitDefinition":
                self._add_unit(item)
            elif kind == "PrefixDefinition":
                value = _number(item["value"])
                if value is not None:
                    for key in _keys(item):
                        self._prefixes[key] = (item["name"], value)
            elif kind == "DerivedDimensionDefinition":
                reference = _container(item["reference"])
                self._derived[item["name"]] = reference
                self._base_dimensions.update(
                    key for key, _ in reference if key not in self._derived
                )
            elif kind == "DimensionDefinition":
                self._base_dimensions.add(item["name"])
            elif kind == "GroupDefinition":
                self._add(item["definitions"])
            elif kind == "AliasDefinition":
                unit = self._units[item["name"]]
                for alias in item["aliases"]:
                    self._units[alias] = unit

    def _add_unit(self, item: Mapping[str, Any]) -> None:
        converter = item["converter"]
        scale = _number(converter["scale"]) if converter["$"] == "ScaleConverter" else None
        reference = _container(item["reference"])
        is_base = bool(reference) and all(_is_dimension(key) for key, _ in reference)
        unit = _Unit(item["name"], scale, reference, is_base)
        for key in _keys(item):
            self._units[key] = unit
        if is_base:  # pint makes the dimensions of a base unit base dimensions
            self._base_dimensions.update(key for key, _ in reference)

    # ------------------------------------------------------------------ names

    def resolve(self, name: str) -> NameMeaning | None:
        """pint's meaning of a unit name, or None: not a name pint knows as a multiplicative
        unit with an exact factor (pint will say what it is)."""
        if name not in self._meanings:
            self._meanings[name] = self._resolve(name)
        return self._meanings[name]

    def _resolve(self, name: str) -> NameMeaning | None:
        canonical = self._canonical(name)
        if canonical is None:
            return None
        prefix, unit = canonical
        factor = Fraction(1) if not prefix else self._prefixes[prefix][1]
        if prefix and unit.scale is None:
            return None  # pint refuses a prefix on a unit with an offset
        root = self._root(unit.name, Fraction(1))
        if root is None:
            return None
        scale, dimensions = root
        full_name = self._prefixes[prefix][0] + unit.name if prefix else unit.name
        return NameMeaning(full_name, factor * scale, dimensions)

    def _canonical(self, name: str) -> tuple[str, _Unit] | None:
        """(prefix key, unit) as pint's `get_name` finds them."""
        if name == "dimensionless" or not name:
            return None
        unit = self._units.get(name)
        if unit is not None:
            return "", unit
        candidates: dict[tuple[str, str], tuple[str, _Unit]] = {}
        for suffix in _SUFFIXES:
            if not name.endswith(suffix):
                continue
            for prefix in self._prefixes:
                if not name.startswith(prefix):
                    continue
                stem = name[len(prefix) :]
                if suffix:
                    stem = stem[: -len(suffix)]
                    if len(stem) == 1:
                        continue
                found = self._units.get(stem)
                if found is not None:
                    key = (self._prefixes[prefix][0], found.name)
                    candidates.setdefault(key, (prefix, found))
        # pint prefers a prefixed reading: ("kilo", "gram") over ("", "kilogram").
        for prefix_name, unit_name in list(candidates):
            if prefix_name:
                candidates.pop(("", prefix_name + unit_name), None)
        if not candidates:
            return None
        return next(iter(candidates.values()))

    def _root(self, name: str, power: Fraction) -> tuple[Fraction, Dimensions] | None:
        """The factor to the root units and the base dimensions of `name ** power`."""
        factor = Fraction(1)
        dimensions: dict[str, Fraction] = {}
        stack: list[tuple[str, Fraction]] = [(name, power)]
        steps = 0
        while stack:
            steps += 1
            if steps > 10_000:  # a definition cycle: not for this table to decide
                return None
            key, exponent = stack.pop()
            if _is_dimension(key):
                if not self._dimension(key, exponent, dimensions):
                    return None
                continue
            canonical = self._canonical(key)
            if canonical is None:
                return None
            prefix, unit = canonical
            if unit.scale is None:
                return None
            if exponent.denominator != 1:
                return None  # a root of a factor may not be exact: pint's business
            if prefix:  # pint makes `prefix+unit` a unit of the prefix's factor times `unit`
                factor *= self._prefixes[prefix][1] ** exponent.numerator
            if not unit.is_base:
                factor *= unit.scale**exponent.numerator
            stack.extend((ref, exponent * ref_power) for ref, ref_power in unit.reference)
        return factor, tuple(sorted((k, v) for k, v in dimensions.items() if v))

    def _dimension(self, key: str, exponent: Fraction, into: dict[str, Fraction]) -> bool:
        derived = self._derived.get(key)
        if derived is None:
            if key not in self._base_dimensions and key != "[]":
                return False
            if key != "[]":
                into[key] = into.get(key, Fraction(0)) + exponent
            return True
        return all(self._dimension(part, exponent * power, into) for part, power in derived)


def _is_dimension(key: str) -> bool:
    return key.startswith("[") and key.endswith("]")


def _keys(item: Mapping[str, Any]) -> list[str]:
    """The keys pint files a definition under: name, symbol (when it has one), aliases."""
    keys = [item["name"]]
    if item.get("defined_symbol"):
        keys.append(item["defined_symbol"])
    keys.extend(item.get("aliases", ()))
    return keys


def _number(value: Any) -> Fraction | None:
    if isinstance(value, dict) and value.get("$") == "Fraction":
        numerator, denominator = value["v"]
        return Fraction(numerator, denominator)
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    return None  # a float: not exact, pint's business


def _container(value: Mapping[str, Any]) -> tuple[tuple[str, Fraction], ...]:
    items = []
    for key, power in value["v"]:
        exact = _number(power)
        if exact is None:
            raise ValueError(f"inexact exponent {power!r} of {key}")
        items.append((key, exact))
    return tuple(items)


def _pint_sources_sha256() -> str | None:
    """The SHA-256 of the installed pint's definition files, found without importing pint."""
    spec = importlib.util.find_spec("pint")
    if spec is None or not spec.submodule_search_locations:
        return None
    digest = hashlib.sha256()
    try:
        for name in PINT_FILES:
            found = [Path(p) / name for p in spec.submodule_search_locations]
            digest.update(next(p for p in found if p.is_file()).read_bytes())
    except (OSError, StopIteration):
        return None
    return digest.hexdigest()


@functools.cache
def unit_table(custom: tuple[str, ...]) -> UnitTable | None:
    """The table for the installed pint and these custom definitions (pint's syntax), or None
    when pint_definitions.json was made from other ones."""
    try:
        text = resources.files(PACKAGE).joinpath(DEFINITIONS_FILE).read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, ValueError):
        return None
    if document.get("custom_source") != list(custom):
        return None
    if document.get("pint_sha256") != _pint_sources_sha256():
        return None
    try:
        return UnitTable([*document["definitions"], *document["custom"]])
    except (KeyError, TypeError, ValueError):
        return None

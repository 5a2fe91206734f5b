"""Units: parsing unit texts, and the exact factor between two units.

This is the one place that knows about pint. The rest of the program asks three questions:
what does a unit text mean (`UnitSystem.parse`, `UnitSystem.parse_ucum`), can two units be
compared (`compatible`), and what number turns a value in one into a value in the other
(`factor`, `convert`). Answers are exact `Fraction`s, cached, so converting a lab value on the
evaluator's hot path is one dict lookup and one multiplication.

See docs/units.md for the accepted syntax and the custom units.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any, cast

import attrs

from criteria_lang.core import ucum_known
from criteria_lang.core.conversions import Affine, Basis, via_scales
from criteria_lang.core.ucum_read import UnsupportedUcumAtom, make_ucum_transformer, ucum_numerator
from criteria_lang.core.unit_dimensions import (
    EQUIVALENT,
    SUBSTANCE,
    TEMPERATURE_NAMES,
    TemperatureUnit,
    add_dimensions,
    add_power,
    dimensions_of,
    exact_number,
    format_dimensions,
    format_kind,
    molar_power,
    temperature,
    temperature_error,
    words,
)
from criteria_lang.core.unit_limits import (
    Failure,
    UnitError,
    check_length,
    check_ucum_limits,
    quote,
    remember,
)
from criteria_lang.core.unit_syntax import (
    COMMON_NAMES,
    COMMON_UNITS,
    AmbiguousUnit,
    Factor,
    did_you_mean,
    suggest,
    tokenize,
)
from criteria_lang.core.unit_table import Dimensions, UnitTable, unit_table

# Kept importable from here under their former names (core/ucum_write.py reads our syntax).
_Factor = Factor
_tokenize = tokenize

if TYPE_CHECKING:
    import pint
    from lark import Tree

__all__ = [
    "COMMON_UNITS",
    "AmbiguousUnit",
    "IncompatibleUnits",
    "TemperatureUnit",
    "Unit",
    "UnitError",
    "UnitSystem",
    "get_units",
]


class IncompatibleUnits(UnitError):
    """Two units that no factor converts between; the message names both dimensions in words."""

    def __init__(self, message: str, *, source: Unit, target: Unit):
        super().__init__(message, text=source.text)
        self.source = source
        self.target = target


@attrs.frozen(cache_hash=True)
class Unit:
    """A parsed unit.

    `scale` is the pure number written in the unit (10**9 in `10^9/L`, 1/1.73 in `mL/min/1.73m2`,
    1/100 in `%`); `terms` is the rest, as pint's unit names with their powers. Equality is by
    meaning: two units are equal when they have the same dimension and the same `base_factor`,
    so `ml/min == mL/min`, `10*9/L == 10^9/L == /nL` and `titer == 1`, whatever was written.

    A ratio of like quantities keeps its kind (docs/units.md, "Kinds of ratio"): `mg/g` is a
    mass ratio, `mmol/mol` an amount ratio, `%` a number; `dimensionality` says which
    (`[mass] / [mass]`), so they are not equal and no factor converts one into another. A
    temperature (`Cel`, `[degF]`) has an `origin`: in kelvin, a value is `value x base_factor +
    origin`.
    """

    text: str = attrs.field(eq=False)
    scale: Fraction = attrs.field(eq=False)
    # pint's canonical unit names and powers: (("milligram", 1), ("deciliter", -1)) for mg/dL.
    terms: tuple[tuple[str, Fraction], ...] = attrs.field(eq=False, repr=False)
    # The base dimensions and their powers, sorted: (("[length]", -3), ("[mass]", 1)).
    dimensions: Dimensions = attrs.field(eq=False, repr=False)
    # Canonical, e.g. "[mass] / [length] ** 3"; "dimensionless" for pure numbers; a ratio of
    # like quantities is written as such: "[mass] / [mass]" for mg/g.
    dimensionality: str
    # Multiply a value in this unit by this to get it in pint's root units (g, m, s, mol, ...).
    base_factor: Fraction
    # Added after the factor, for temperatures only (kelvin of 0 degC): 0 for every other unit.
    origin: Fraction = Fraction(0)
    # The base dimensions of the terms with positive powers, before any cancel: the kind of a
    # ratio (mass for g/g, whose terms cancel).
    up: Dimensions = attrs.field(default=(), eq=False, repr=False)

    @property
    def is_dimensionless(self) -> bool:
        """A ratio of any kind or a plain number (`%`, `mg/g`, `mmol/mol`, `1`)."""
        return not self.dimensions

    def __str__(self) -> str:
        return self.text


# Units pint does not have, in pint's definition syntax; loaded once into the one registry (and
# into core/pint_definitions.json: `python -m criteria_lang.core.unit_registry` after a change).
CUSTOM_DEFINITIONS: tuple[str, ...] = (
    # International units are defined per substance by a WHO reference preparation and a
    # bioassay (WHO Expert Committee on Biological Standardization), so an IU of one drug has no
    # fixed mass: its own base dimension makes "IU vs mg" an error instead of a wrong number.
    "international_unit = [international_unit] = IU = iU",
    # A microscope high-power field (about 400x) is not a fixed area across microscopes; urine
    # sediment is reported as a count per field (UCUM [HPF], [LPF]), so each is its own dimension.
    "high_power_field = [high_power_field] = HPF = hpf",
    "low_power_field = [low_power_field] = LPF = lpf",
    # A titer is the reciprocal of the highest positive dilution (1:80 is 80): a pure number.
    "titer = 1 = _ = titre",
    # An equivalent is the amount of an ion that carries one mole of charge: mmol times the ion's
    # charge number (valence). Its own dimension, so that mEq converts to mmol only through the
    # valence the concept declares (docs/units.md; UCUM's `eq`, defined as 1 mol, is read as
    # this unit too, since 1 mol holds only for ions of charge 1).
    "equivalent = [equivalent] = eq = Eq",
    # "cells/uL" is a count per volume; UCUM writes the word as the annotation {cells}, i.e. 1.
    "cell = 1",
)

# --- The one registry -------------------------------------------------------------------------

_registry: pint.UnitRegistry[Any] | None = None
_registry_lock = threading.Lock()


def _get_registry() -> pint.UnitRegistry[Any]:
    """The program's only pint registry, built on first use (unit_registry.py makes it cheap).

    non_int_type=Fraction makes pint read every number in its definition files, and in our
    expressions, as an exact Fraction, so 1 mmHg is exactly 26664477483/200000 g/(m s2). pint is
    imported here, when a unit needs it (UCUM, a name the unit table leaves to pint), not when
    this module is: `criteria check` usually never needs it.
    """
    global _registry
    if _registry is None:
        from criteria_lang.core.unit_registry import build_registry

        # Two registries would make quantities that cannot be combined: build exactly one.
        with _registry_lock:
            if _registry is None:
                _registry = build_registry(CUSTOM_DEFINITIONS)
    return _registry


# --- The unit system --------------------------------------------------------------------------

UnitLike = Unit | str
_MapKey = tuple[UnitLike, UnitLike, Basis]


class UnitSystem:
    """Parses units and converts between them, with caches. Get the shared one with `get_units()`.

    Construction does no work; the registry and the UCUM parser are built on first use.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, Unit | Failure] = {}
        self._parsed_ucum: dict[str, Unit | Failure] = {}
        self._maps: dict[_MapKey, Affine] = {}
        self._compatible: dict[_MapKey, bool] = {}
        self._composed: dict[tuple[str, UnitLike, UnitLike], Unit] = {}
        self._ucum: tuple[Any, Any] | None = None  # (lark parser, transformer)
        self._ucum_codes: dict[str, str] = {}

    @property
    def registry(self) -> pint.UnitRegistry[Any]:
        """The program's one pint registry (non_int_type=Fraction)."""
        return _get_registry()

    # Parsing

    def parse(self, text: str) -> Unit:
        """Read a unit in our rule and patient-JSON syntax (docs/units.md). Cached, failures too
        (a batch repeats the same bad unit on every record). Raises only `UnitError`."""
        return self._cached(self._parsed, text, self._parse)

    @staticmethod
    def _cached(cache: dict[str, Unit | Failure], text: str, parse: Callable[[str], Unit]) -> Unit:
        found = cache.get(text)
        if found is None:
            try:
                found = parse(text)
            except UnitError as error:
                found = Failure.of(error)
            remember(cache, text, found)
        if isinstance(found, Failure):
            raise found.error()
        return found

    def _parse(self, text: str) -> Unit:
        check_length(text)
        temperature = TEMPERATURE_NAMES.get(text.strip())
        if temperature is not None:  # a reading: no pint needed (`criteria check` stays pint-free)
            dims = {"[temperature]": Fraction(1)}
            return self._unit_of(
                text, Fraction(1), Fraction(1), {temperature: Fraction(1)}, dims, dims
            )
        try:
            segments = tokenize(text)
            table = unit_table(CUSTOM_DEFINITIONS)
            unit = self._from_table(text, segments, table) if table is not None else None
            return unit if unit is not None else self._parse_with_pint(text, segments)
        except AmbiguousUnit:
            raise
        except UnitError as error:
            # One parser for units everywhere (docs/units.md): what our syntax cannot read is
            # read as UCUM, as FHIR data write it (`mm[Hg]`, `[lb_av]`, `Cel`); if UCUM cannot
            # read it either, our syntax's message (with its suggestions) is the one to show.
            try:
                return self.parse_ucum(text)
            except TemperatureUnit:
                raise
            except UnitError:
                raise error from None

    def _from_table(self, text: str, segments: list[list[Factor]], table: UnitTable) -> Unit | None:
        """The unit from the names the unit table knows, without pint (unit_table.py says
        why); None when a name is not one of them (pint will say what it is)."""
        scale = Fraction(1)
        factor = Fraction(1)
        terms: dict[str, Fraction] = {}
        dimensions: dict[str, Fraction] = {}
        up: dict[str, Fraction] = {}
        for index, segment in enumerate(segments):
            sign = 1 if index == 0 else -1
            for item in segment:
                if item.number is not None:
                    scale = scale * item.number if sign > 0 else scale / item.number
                    continue
                assert item.name is not None
                meaning = table.resolve(item.name)
                if meaning is None:
                    return None
                power = sign * item.power
                factor *= meaning.factor**power
                add_power(terms, meaning.name, Fraction(power))
                add_dimensions(dimensions, meaning.dimensions, power, None)
                add_dimensions(up, meaning.dimensions, power, True)
        return self._unit_of(text, scale, scale * factor, terms, dimensions, up)

    def _unit_of(
        self,
        text: str,
        scale: Fraction,
        base_factor: Fraction,
        terms: Mapping[str, Fraction],
        dimensions: Mapping[str, Fraction],
        up: Mapping[str, Fraction],
    ) -> Unit:
        dims = {k: v for k, v in dimensions.items() if v}
        kind = {k: v for k, v in up.items() if v}
        origin = Fraction(0)
        if "[temperature]" in dims:
            base_factor, origin = temperature(text, scale, terms)
        return Unit(
            text=text,
            scale=scale,
            terms=tuple((k, v) for k, v in terms.items() if v),
            dimensions=tuple(sorted(dims.items())),
            dimensionality=format_dimensions(dims) if dims or not kind else format_kind(kind),
            base_factor=base_factor,
            origin=origin,
            up=tuple(sorted(kind.items())),
        )

    def _parse_with_pint(self, text: str, segments: list[list[Factor]]) -> Unit:
        import pint

        scale = Fraction(1)
        pint_unit = self.registry.Unit("")
        up: dict[str, Fraction] = {}
        for index, segment in enumerate(segments):
            for factor in segment:
                if factor.number is not None:
                    scale = scale * factor.number if index == 0 else scale / factor.number
                else:
                    assert factor.name is not None
                    name = self._unit_name(factor.name, text)
                    power = factor.power if index == 0 else -factor.power
                    add_dimensions(up, tuple(dimensions_of(name).items()), power, True)
                    term = name**factor.power
                    pint_unit = cast(
                        pint.Unit, pint_unit * term if index == 0 else pint_unit / term
                    )
        return self._make_unit(text, scale, pint_unit, up)

    def _unit_name(self, name: str, text: str) -> pint.Unit:
        try:
            unit = self.registry.Unit(name)
            # pint also reads `nan`, `inf` and units defined by inexact numbers (`MG`, a
            # megagauss): a name is ours only when its factor to the root units is exact.
            exact_number(self.registry.get_root_units(unit)[0])
            return unit
        except Exception:  # noqa: BLE001 - whatever pint makes of a name, it is not a unit we know
            suggestions = suggest(name, COMMON_NAMES)
            whole = suggest(text, COMMON_UNITS) if name != text else ()
            where = f"unknown unit {quote(name)}" + (f" in {quote(text)}" if name != text else "")
            raise UnitError(
                where + did_you_mean(suggestions or whole),
                text=text,
                suggestions=suggestions or whole,
            ) from None

    def parse_ucum(self, code: str) -> Unit:
        """Read a UCUM code as FHIR carries it (`10*9/L`, `mL/min/{1.73_m2}`, `[iU]/mL`). Cached,
        failures too. Raises only `UnitError`.

        Annotations in braces mean nothing, except `{1.73_m2}`: per 1.73 m2 of body surface.
        """
        return self._cached(self._parsed_ucum, code, self._parse_ucum)

    def _parse_ucum(self, code: str) -> Unit:
        # Common codes come parsed ahead of time (core/ucum_known.py): no ucumvert, no pint.
        entry = ucum_known.known(code)
        if entry is not None:
            if "error" in entry:
                raise ucum_known.error_kind(entry)(entry["error"], text=code)
            return ucum_known.unit_of(entry["unit"])
        return self.parse_ucum_uncached(code)

    def parse_ucum_uncached(self, code: str) -> Unit:
        """`parse_ucum` with ucumvert's parser, always (core/ucum_known.py's table is made
        with it)."""
        from lark.exceptions import VisitError

        check_ucum_limits(code)
        if self._ucum is None:
            try:
                from ucumvert import get_ucum_parser  # type: ignore[import-untyped]
            except ImportError:
                raise UnitError(
                    "reading UCUM units needs the 'ucumvert' package (a dependency of "
                    "criteria-lang): pip install ucumvert",
                    text=code,
                ) from None
            self._ucum = (get_ucum_parser(), make_ucum_transformer(self.registry))
        from ucumvert import InvalidUcumError, parse_ucum

        parser, transformer = self._ucum
        try:
            tree: Tree[Any] = parse_ucum(code, parser)
        except InvalidUcumError as error:
            raise UnitError(str(error).splitlines()[0], text=code) from None
        try:
            quantity = transformer.transform(tree)
            scale = exact_number(quantity.magnitude)
            up = ucum_numerator(tree, lambda leaf: dimensions_of(transformer.transform(leaf).units))
        except VisitError as error:
            if type(error.orig_exc).__name__ == "OffsetUnitCalculusError":  # pint's: Cel/min
                raise temperature_error(code) from None
            atom = error.orig_exc.args[0] if error.orig_exc.args else "?"
            if isinstance(error.orig_exc, UnsupportedUcumAtom):
                raise UnitError(
                    f"UCUM unit {quote(code)} is not supported: criteria_lang gives "
                    f"{quote(str(atom))} no meaning (see docs/units.md)",
                    text=code,
                ) from None
            raise UnitError(f"UCUM unit {quote(code)} cannot be read", text=code) from None
        except (TypeError, ValueError, ArithmeticError):
            raise UnitError(f"UCUM unit {quote(code)} cannot be read", text=code) from None
        if scale == 0:
            raise UnitError(f"UCUM unit {quote(code)} is multiplied by 0", text=code)
        return self._make_unit(code, scale, quantity.units, up)

    def ucum_code(self, text: str) -> str:
        """The UCUM code of a unit in our syntax, for FHIR: `10^9/L` -> `10*9/L`, `mL/min/1.73m2`
        -> `mL/min/{1.73_m2}`, `IU/mL` -> `[iU]/mL`, `g/24h` -> `g/(24.h)`. The code is checked
        to mean exactly the same unit (`parse_ucum(code) == parse(text)`); a unit UCUM cannot
        write (a decimal factor other than the 1.73 m2 of body surface) raises UnitError. Cached.
        """
        code = self._ucum_codes.get(text)
        if code is None:
            from criteria_lang.core.ucum_write import ucum_code

            code = ucum_code(self, text)
            remember(self._ucum_codes, text, code)
        return code

    def _make_unit(
        self, text: str, scale: Fraction, pint_unit: pint.Unit, up: Mapping[str, Fraction]
    ) -> Unit:
        from pint.util import to_units_container

        dimensions = dimensions_of(pint_unit)
        terms = {k: exact_number(v) for k, v in to_units_container(pint_unit).items()}
        if "[temperature]" in dimensions:  # the factor and origin come from _temperature
            return self._unit_of(text, scale, scale, terms, dimensions, up)
        root_factor, _ = self.registry.get_root_units(pint_unit)
        try:
            exact = exact_number(root_factor)
        except TypeError:
            raise UnitError(f"unit {quote(text)} has no exact factor", text=text) from None
        return self._unit_of(text, scale, scale * exact, terms, dimensions, up)

    # Composition: the evaluator builds dose units (mg -> mg/day -> mg/kg/day) from data units.

    def divide(self, numerator: UnitLike, denominator: UnitLike) -> Unit:
        """`numerator / denominator` as one Unit (cached), e.g. mg and day -> mg/day."""
        key = ("/", numerator, denominator)
        cached = self._composed.get(key)
        if cached is None:
            a, b = self._unit(numerator), self._unit(denominator)
            cached = self._compose(f"{a.text}/{b.text}", a, b, -1)
            remember(self._composed, key, cached)
        return cached

    def multiply(self, left: UnitLike, right: UnitLike) -> Unit:
        """`left * right` as one Unit (cached), e.g. mg/day and day -> mg."""
        key = ("*", left, right)
        cached = self._composed.get(key)
        if cached is None:
            a, b = self._unit(left), self._unit(right)
            cached = self._compose(f"{a.text}.{b.text}", a, b, 1)
            remember(self._composed, key, cached)
        return cached

    def _compose(self, text: str, a: Unit, b: Unit, sign: int) -> Unit:
        """`a * b` (sign 1) or `a / b` (sign -1): powers add, factors multiply."""
        if a.origin or b.origin:
            raise temperature_error(text)
        terms = dict(a.terms)
        for name, power in b.terms:
            add_power(terms, name, sign * power)
        dimensions = dict(a.dimensions)
        add_dimensions(dimensions, b.dimensions, sign, None)
        # What b brings above the line: its numerator when multiplying, its denominator when
        # dividing (its dimensions taken from its numerator).
        up = dict(a.up)
        if sign > 0:
            add_dimensions(up, b.up, 1, None)
        else:
            down = dict(b.up)
            add_dimensions(down, b.dimensions, -1, None)
            add_dimensions(up, tuple(down.items()), 1, None)
        return self._unit_of(
            text,
            a.scale * b.scale**sign,
            a.base_factor * b.base_factor**sign,
            terms,
            dimensions,
            up,
        )

    # Conversion

    def affine(
        self,
        source: UnitLike,
        target: UnitLike,
        *,
        molar_mass: Fraction | None = None,
        basis: Basis | None = None,
    ) -> Affine:
        """The exact map from a value in `source` to the value in `target`: `value x slope +
        offset`, the offset 0 except for temperatures and a concept's declared scales.

        `basis` is what the value's concept declares (core/conversions.py): a molar mass
        (g/mol) bridges amount of substance and mass (`umol/L` to `mg/dL`, `mg/mmol` to `g/g`),
        a valence equivalents and amount of substance (`mEq/L` to `mmol/L`), and scales map
        another scale of the analyte into its canonical unit (HbA1c `mmol/mol` to `%`).
        `molar_mass` alone is `Basis(molar_mass=...)`. Raises `IncompatibleUnits`. Cached.
        """
        full = _basis(molar_mass, basis)
        key = (source, target, full)
        cached = self._maps.get(key)
        if cached is None:
            cached = self._affine(self._unit(source), self._unit(target), full)
            remember(self._maps, key, cached)
        return cached

    def factor(
        self,
        source: UnitLike,
        target: UnitLike,
        *,
        molar_mass: Fraction | None = None,
        basis: Basis | None = None,
    ) -> Fraction:
        """The exact number to multiply a value in `source` by to get it in `target`. Raises
        `IncompatibleUnits`, also when no factor alone converts them (`Cel` and `[degF]`, whose
        zero points differ: `affine` and `convert` handle those)."""
        found = self.affine(source, target, molar_mass=molar_mass, basis=basis)
        if not found.is_factor:
            a, b = self._unit(source), self._unit(target)
            raise IncompatibleUnits(
                f"{a.text!r} converts to {b.text!r} with an offset as well as a factor",
                source=a,
                target=b,
            )
        return found.slope

    def convert(
        self,
        value: Fraction,
        source: UnitLike,
        target: UnitLike,
        *,
        molar_mass: Fraction | None = None,
        basis: Basis | None = None,
    ) -> Fraction:
        """`value` in `source`, expressed in `target`, exactly."""
        if isinstance(value, float):
            # A float times a Fraction is a float: the exactness would be lost silently.
            raise TypeError(f"convert() needs a Fraction, not the float {value!r}")
        return self.affine(source, target, molar_mass=molar_mass, basis=basis)(value)

    def compatible(
        self,
        a: UnitLike,
        b: UnitLike,
        *,
        molar_mass: Fraction | None = None,
        basis: Basis | None = None,
    ) -> bool:
        """Whether `a` converts to `b`. Texts that do not parse still raise `UnitError`. Cached,
        the answer "no" too (working it out again would build an error message each time)."""
        key = (a, b, _basis(molar_mass, basis))
        known = self._compatible.get(key)
        if known is None:
            try:
                self.affine(a, b, basis=key[2])
                known = True
            except IncompatibleUnits:
                known = False
            remember(self._compatible, key, known)
        return known

    def describe(self, unit: UnitLike) -> str:
        """The dimension in words, per written component: `mL/min/1.73m2` is
        "volume / time / area", `10^9/L` is "1 / volume", `mg/g` "mass / mass", `%` is
        "dimensionless"."""
        parsed = self._unit(unit)
        if parsed.is_dimensionless and parsed.up:  # a ratio of one kind, even when terms cancel
            said = words(dict(parsed.up))
            return f"{said} / {said}"
        numerator: list[str] = []
        denominator: list[str] = []
        for name, power in parsed.terms:
            dimensions = self._namedimensions_of(name)
            if not dimensions:
                continue  # cells, titer, percent: numbers, not dimensions
            said = words({dim: exp * abs(power) for dim, exp in dimensions.items()})
            (numerator if power > 0 else denominator).append(said)
        if not numerator and not denominator:
            return "dimensionless"
        return " / ".join([" * ".join(numerator) or "1", *denominator])

    def _namedimensions_of(self, name: str) -> dict[str, Fraction]:
        """The base dimensions of one of pint's unit names (a term of a Unit)."""
        table = unit_table(CUSTOM_DEFINITIONS)
        meaning = table.resolve(name) if table is not None else None
        if meaning is not None:
            return dict(meaning.dimensions)
        found = self.registry.get_dimensionality(name)
        return {dim: exact_number(found[dim]) for dim in found if found[dim]}

    def _unit(self, unit: UnitLike) -> Unit:
        return unit if isinstance(unit, Unit) else self.parse(unit)

    def _affine(self, source: Unit, target: Unit, basis: Basis) -> Affine:
        try:
            return self._direct(source, target, basis)
        except IncompatibleUnits:
            if not basis.scales:
                raise
            scales = [
                (self.parse(scale.unit), self.parse(scale.into), scale.to_canonical)
                for scale in basis.scales
            ]
            found = via_scales(
                source,
                target,
                scales,
                lambda a, b: self._direct(a, b, basis),
                IncompatibleUnits,
            )
            if found is None:
                raise
            return found

    def _direct(self, source: Unit, target: Unit, basis: Basis) -> Affine:
        """Without declared scales: a factor within one kind (with an offset between
        temperatures), through the valence and the molar mass."""
        if source.dimensionality == target.dimensionality:
            return Affine(
                source.base_factor / target.base_factor,
                (source.origin - target.origin) / target.base_factor,
            )
        a, b = dict(source.dimensions), dict(target.dimensions)
        factor = source.base_factor / target.base_factor
        charge = int(a.get(EQUIVALENT, 0) - b.get(EQUIVALENT, 0))
        if charge and basis.valence is not None:
            # An amount in equivalents is the amount of substance times the valence.
            add_dimensions(a, ((EQUIVALENT, Fraction(-charge)),), 1, None)
            add_dimensions(a, ((SUBSTANCE, Fraction(charge)),), 1, None)
            factor /= basis.valence**charge
            if a == b:
                return Affine(factor)
        power = molar_power(a, b)
        if power is not None and basis.molar_mass is not None:
            # Each mole of substance in the source is molar_mass grams in the target; pint's
            # root unit for mass is the gram, so g/mol needs no further scaling.
            return Affine(factor * basis.molar_mass**power)
        raise IncompatibleUnits(
            self._incompatible(source, target, charge, basis, power),
            source=source,
            target=target,
        )

    def _incompatible(
        self, source: Unit, target: Unit, charge: int, basis: Basis, power: int | None
    ) -> str:
        message = (
            f"cannot convert {source.text!r} ({self.describe(source)}) "
            f"to {target.text!r} ({self.describe(target)})"
        )
        a, b = dict(source.dimensions), dict(target.dimensions)
        if charge and basis.valence is None:
            return message + (
                ": converting equivalents (mEq) needs the ion's valence, which this value's "
                "concept does not declare"
            )
        if power is not None:
            return message + ": converting between amount of substance and mass needs a molar mass"
        if ("[international_unit]" in a) != ("[international_unit]" in b):
            return message + ": international units measure biological activity, not an amount"
        if source.is_dimensionless and target.is_dimensionless:
            return message + (
                ": ratios of different kinds do not convert into each other unless the "
                "concept declares a scale (docs/units.md, 'Kinds of ratio')"
            )
        return message


def _molar_mass(molar_mass: object) -> Fraction | None:
    if molar_mass is None:
        return None
    if not isinstance(molar_mass, Fraction | int) or isinstance(molar_mass, bool):
        # As for values: a float would make every factor through it inexact.
        raise TypeError(f"molar mass must be a Fraction (g/mol), not {molar_mass!r}")
    if molar_mass <= 0:
        raise ValueError(f"molar mass must be positive, not {molar_mass}")
    return Fraction(molar_mass)


def _basis(molar_mass: object, basis: Basis | None) -> Basis:
    """One Basis from the keyword arguments, checked: exact and positive numbers only."""
    found = basis if basis is not None else Basis()
    mass = _molar_mass(molar_mass if molar_mass is not None else found.molar_mass)
    valence = found.valence
    if valence is not None and (not isinstance(valence, Fraction | int) or valence <= 0):
        raise ValueError(f"valence must be a positive number, not {valence!r}")
    if mass != found.molar_mass:
        return Basis(mass, found.valence, found.scales)
    return found


_units: UnitSystem | None = None


def get_units() -> UnitSystem:
    """The program's shared `UnitSystem` (one registry, shared caches)."""
    global _units
    if _units is None:
        _units = UnitSystem()
    return _units

"""Units: parsing unit texts, and the exact factor between two units.

This is the one place that knows about pint. The rest of the program asks three questions:
what does a unit text mean (`UnitSystem.parse`, `UnitSystem.parse_ucum`), can two units be
compared (`compatible`), and what number turns a value in one into a value in the other
(`factor`, `convert`). Answers are exact `Fraction`s, cached, so converting a lab value on the
evaluator's hot path is one dict lookup and one multiplication.

See docs/units.md for the accepted syntax and the custom units.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any, cast

import attrs

from criteria_lang.core import ucum_known
from criteria_lang.core.unit_limits import (
    MAX_TEN_POWER,
    MAX_UNIT_POWER,
    Failure,
    UnitError,
    bounded_int,
    bounded_number,
    check_length,
    check_ucum_limits,
    quote,
    remember,
)
from criteria_lang.core.unit_table import Dimensions, UnitTable, unit_table

if TYPE_CHECKING:
    import pint
    from lark import Tree

__all__ = [
    "COMMON_UNITS",
    "IncompatibleUnits",
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
    """

    text: str = attrs.field(eq=False)
    scale: Fraction = attrs.field(eq=False)
    # pint's canonical unit names and powers: (("milligram", 1), ("deciliter", -1)) for mg/dL.
    terms: tuple[tuple[str, Fraction], ...] = attrs.field(eq=False, repr=False)
    # The base dimensions and their powers, sorted: (("[length]", -3), ("[mass]", 1)).
    dimensions: Dimensions = attrs.field(eq=False, repr=False)
    # Canonical, e.g. "[mass] / [length] ** 3"; "dimensionless" for pure numbers.
    dimensionality: str
    # Multiply a value in this unit by this to get it in pint's root units (g, m, s, mol, ...).
    base_factor: Fraction

    def __str__(self) -> str:
        return self.text


# Units that rule files and our patient JSON use. Unknown-unit suggestions are drawn from these
# and from `_COMMON_NAMES`; keep both in step with docs/units.md.
COMMON_UNITS: tuple[str, ...] = (
    "mg/dL", "g/L", "g/dL", "umol/L", "mmol/L", "mg/mmol", "g/g", "mg/g", "mg/mg",
    "g/24h", "g/day", "mg/day", "mg/week", "mg/month", "mg/kg/day", "mg/kg", "mg/m2",
    "g", "mg", "mL/min", "mL/min/1.73m2", "mL/min/m2", "10^9/L", "10^6/L", "10^12/L",
    "cells/uL", "/uL", "/mm3", "/HPF", "cells/HPF", "%", "mmHg", "mm", "cm", "m", "kg",
    "kg/m2", "IU/mL", "IU/L", "U/L", "kU/L", "titer", "1", "years", "months", "weeks",
    "days", "hours", "h", "min",
)  # fmt: skip

_COMMON_NAMES: tuple[str, ...] = (
    "g", "mg", "ug", "mcg", "ng", "kg", "L", "dL", "mL", "uL", "nL", "fL", "mol", "mmol",
    "umol", "nmol", "pmol", "IU", "mIU", "kIU", "U", "kU", "mU", "m", "cm", "mm", "m2",
    "mm3", "mmHg", "HPF", "LPF", "cells", "titer", "min", "h", "hour", "hours", "d", "day",
    "days", "week", "weeks", "month", "months", "year", "years",
)  # fmt: skip

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
    # "cells/uL" is a count per volume; UCUM writes the word as the annotation {cells}, i.e. 1.
    "cell = 1",
)

# Words for the dimensions of one unit component (mL is a volume even though mL/m2 is a length).
_DIMENSION_WORDS: dict[tuple[tuple[str, int], ...], str] = {
    (("[length]", 1),): "length",
    (("[length]", 2),): "area",
    (("[length]", 3),): "volume",
    (("[mass]", 1),): "mass",
    (("[time]", 1),): "time",
    (("[substance]", 1),): "amount of substance",
    (("[international_unit]", 1),): "international units",
    (("[high_power_field]", 1),): "high-power field",
    (("[low_power_field]", 1),): "low-power field",
    (("[substance]", 1), ("[time]", -1)): "catalytic activity",
    (("[length]", -1), ("[mass]", 1), ("[time]", -2)): "pressure",
    (("[temperature]", 1),): "temperature",
    (("[current]", 1),): "electric current",
}

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


# --- Our unit syntax --------------------------------------------------------------------------

# Spellings folded before tokenizing: both micro signs (U+00B5, U+03BC), superscript powers.
_FOLD = str.maketrans({"µ": "u", "μ": "u", "²": "2", "³": "3", "×": "x", "·": "*"})

_TOKEN = re.compile(
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
class _Factor:
    number: Fraction | None  # a pure number, or
    name: str | None  # a unit name ...
    power: int = 1  # ... to this power


def _tokenize(text: str) -> list[list[_Factor]]:
    """Split our unit syntax into segments: the numerator, then one segment per '/'.

    Juxtaposition binds tighter than '/', so `mL/min/1.73 m2` is mL / min / (1.73 m2) and
    `g/24h` is g / (24 h): that is how these units are read clinically.
    """
    folded = text.translate(_FOLD).strip()
    segments: list[list[_Factor]] = [[]]
    position = 0
    while position < len(folded):
        match = _TOKEN.match(folded, position)
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
            segments[-1].append(_Factor(Fraction(10) ** exponent, None))
        elif match["number"] is not None:
            number = bounded_number(match["number"], text)
            if match["number_exp"] is not None:
                limit, what = (
                    (MAX_TEN_POWER, "the power of ten")
                    if number == 10
                    else (MAX_UNIT_POWER, "the power")
                )
                number = number ** bounded_int(match["number_exp"], limit, what, text)
            segments[-1].append(_Factor(number, None))
        elif match["name"] is not None:
            power = bounded_int(
                match["name_exp"] or match["name_digits"] or "1", MAX_UNIT_POWER, "the power", text
            )
            segments[-1].append(_Factor(None, match["name"], power))
        elif match["percent"]:
            segments[-1].append(_Factor(Fraction(1, 100), None))
        elif match["op"] == "/":
            if len(segments) > 1 and not segments[-1]:
                raise UnitError(f"cannot read unit {quote(text)}: nothing between '/'", text=text)
            segments.append([])
        elif len(segments) > 1:
            # mg/kg*day is mg/(kg day) to some readers and mg day/kg to others (and to UCUM).
            raise UnitError(
                f"ambiguous unit {quote(text)}: write 'a/b/c' to divide by b and c, or put "
                f"multiplied units before the first '/'",
                text=text,
            )
    if len(segments) > 1 and not segments[-1]:
        raise UnitError(f"cannot read unit {quote(text)}: nothing after '/'", text=text)
    return segments


def _suggest(name: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
    """Close matches, case-insensitive equals first (`Mg` -> `mg`)."""
    same_letters = [c for c in candidates if c.lower() == name.lower() and c != name]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    return tuple(dict.fromkeys(same_letters + close))[:3]


def _did_you_mean(suggestions: tuple[str, ...]) -> str:
    if not suggestions:
        return ""
    return "; did you mean " + " or ".join(repr(s) for s in suggestions) + "?"


# --- UCUM -------------------------------------------------------------------------------------
#
# ucumvert parses UCUM (its Lark grammar is generated from the official ucum-essence.xml) and
# turns atoms into pint units. We use its parser and its atom-by-atom transformer, fed with OUR
# registry, but not its pint definition file: that file defines [iU], [HPF] and the arbitrary
# units as plain numbers (= 1), which would let IU convert to a count and HPF vanish. What we
# override, and why:
# - numbers: its transformer builds 1 / x with int 1, so `/min` gets a float magnitude, and
#   `10*` becomes a unit `_10`; ours keeps every magnitude a Fraction and makes 10* a number.
# - annotations: UCUM says {...} means 1, and ucumvert drops them (a lone `{titer}` even comes
#   back as a bare lark Token). `{1.73_m2}` in `mL/min/{1.73_m2}` (the LOINC eGFR unit) is
#   clinically "per 1.73 m2 of body surface", so we give it that value.
# - atoms it leaves to pint's default names, which are missing or wrong in a plain registry.

_UCUM_BODY_SURFACE = {"{1.73_m2}": Fraction(173, 100)}

# UCUM atom (with prefix if any) -> a number or an expression in our registry.
_UCUM_ATOMS: dict[str, Fraction | str] = {
    "10*": Fraction(10),
    "10^": Fraction(10),
    "%": Fraction(1, 100),
    "[iU]": "international_unit",
    "[IU]": "international_unit",
    "[HPF]": "high_power_field",
    "[LPF]": "low_power_field",
    "mm[Hg]": "millimeter_Hg",
    "cm[H2O]": "centimeter_H2O",
    "[lb_av]": "pound",
    "[oz_av]": "ounce",
    "[in_i]": "inch",
    "[ft_i]": "foot",
    "Cel": "degree_Celsius",  # rejected with a clear message by _make_unit
    "[degF]": "degree_Fahrenheit",
    "mo": "month",
    "wk": "week",
    "g%": "gram / deciliter",  # UCUM: "gram percent" = 1 g/dL, not 1/100 g
    "'": "arcminute",  # ucumvert maps these to time minute and second
    "''": "arcsecond",
}


class _UnsupportedUcumAtom(Exception):
    """Raised inside the transformer (lark wraps it in VisitError); carries the UCUM atom."""


def _make_ucum_transformer(registry: pint.UnitRegistry[Any]) -> Any:
    """Build the transformer lazily: only FHIR and OMOP input need UCUM."""
    import pint
    from lark import Token
    from ucumvert import UcumToPintTransformer  # type: ignore[import-untyped]

    Quantity = registry.Quantity
    one = Quantity(Fraction(1))

    class _UcumToUnits(UcumToPintTransformer):  # type: ignore[misc]
        def _operand(self, arg: Any) -> Any:
            if isinstance(arg, Token) and arg.type == "ANNOTATION":
                area = _UCUM_BODY_SURFACE.get(str(arg))
                return one if area is None else Quantity(area, "meter ** 2")
            return arg

        def main_term(self, args: list[Any]) -> Any:
            if len(args) == 2:  # leading '/'
                return one / self._operand(args[1])
            return self._operand(args[0])

        def term(self, args: list[Any]) -> Any:
            if len(args) == 3:
                left, right = self._operand(args[0]), self._operand(args[2])
                return left * right if args[1] == "." else left / right
            return self._operand(args[0])

        def simple_unit(self, args: list[Any]) -> Any:
            atom = "".join(str(a) for a in args)
            meaning = _UCUM_ATOMS.get(atom)
            if meaning is None and len(args) == 2 and str(args[1]) in _UCUM_ATOMS:
                base = _UCUM_ATOMS[str(args[1])]
                if isinstance(base, str):
                    meaning = f"{args[0]}{base}"  # pint applies the prefix: m + IU = mIU
            if isinstance(meaning, Fraction):
                return Quantity(meaning)
            try:
                if isinstance(meaning, str):
                    quantity = Quantity(Fraction(1), meaning)
                else:
                    quantity = super().simple_unit(args)
            except pint.UndefinedUnitError:
                raise _UnsupportedUcumAtom(atom) from None
            return Quantity(_exact_number(quantity.magnitude), quantity.units)

    return _UcumToUnits(ureg=registry)


# --- The unit system --------------------------------------------------------------------------

UnitLike = Unit | str
_FactorKey = tuple[UnitLike, UnitLike, Fraction | None]


class UnitSystem:
    """Parses units and converts between them, with caches. Get the shared one with `get_units()`.

    Construction does no work; the registry and the UCUM parser are built on first use.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, Unit | Failure] = {}
        self._parsed_ucum: dict[str, Unit | Failure] = {}
        self._factors: dict[_FactorKey, Fraction] = {}
        self._compatible: dict[_FactorKey, bool] = {}
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
        segments = _tokenize(text)
        table = unit_table(CUSTOM_DEFINITIONS)
        unit = self._from_table(text, segments, table) if table is not None else None
        return unit if unit is not None else self._parse_with_pint(text, segments)

    def _from_table(
        self, text: str, segments: list[list[_Factor]], table: UnitTable
    ) -> Unit | None:
        """The unit from the names the unit table knows, without pint (unit_table.py says
        why); None when a name is not one of them (pint will say what it is)."""
        scale = Fraction(1)
        factor = Fraction(1)
        terms: dict[str, Fraction] = {}
        dimensions: dict[str, Fraction] = {}
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
                _add_power(terms, meaning.name, Fraction(power))
                for dimension, exponent in meaning.dimensions:
                    dimensions[dimension] = (
                        dimensions.get(dimension, Fraction(0)) + exponent * power
                    )
        return self._unit_of(text, scale, scale * factor, terms, dimensions)

    def _unit_of(
        self,
        text: str,
        scale: Fraction,
        base_factor: Fraction,
        terms: Mapping[str, Fraction],
        dimensions: Mapping[str, Fraction],
    ) -> Unit:
        dims = {k: v for k, v in dimensions.items() if v}
        if "[temperature]" in dims:
            raise _temperature_error(text)
        return Unit(
            text=text,
            scale=scale,
            terms=tuple((k, v) for k, v in terms.items() if v),
            dimensions=tuple(sorted(dims.items())),
            dimensionality=_format_dimensions(dims),
            base_factor=base_factor,
        )

    def _parse_with_pint(self, text: str, segments: list[list[_Factor]]) -> Unit:
        import pint

        scale = Fraction(1)
        pint_unit = self.registry.Unit("")
        for index, segment in enumerate(segments):
            for factor in segment:
                if factor.number is not None:
                    scale = scale * factor.number if index == 0 else scale / factor.number
                else:
                    assert factor.name is not None
                    term = self._unit_name(factor.name, text) ** factor.power
                    pint_unit = cast(
                        pint.Unit, pint_unit * term if index == 0 else pint_unit / term
                    )
        return self._make_unit(text, scale, pint_unit)

    def _unit_name(self, name: str, text: str) -> pint.Unit:
        try:
            unit = self.registry.Unit(name)
            # pint also reads `nan`, `inf` and units defined by inexact numbers (`MG`, a
            # megagauss): a name is ours only when its factor to the root units is exact.
            _exact_number(self.registry.get_root_units(unit)[0])
            return unit
        except Exception:  # noqa: BLE001 - whatever pint makes of a name, it is not a unit we know
            if name == "Cel":  # UCUM's Celsius, written in our syntax
                raise _temperature_error(text) from None
            suggestions = _suggest(name, _COMMON_NAMES)
            whole = _suggest(text, COMMON_UNITS) if name != text else ()
            where = f"unknown unit {quote(name)}" + (f" in {quote(text)}" if name != text else "")
            raise UnitError(
                where + _did_you_mean(suggestions or whole),
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
                raise UnitError(entry["error"], text=code)
            fields = entry["unit"]
            return Unit(
                text=fields["text"],
                scale=Fraction(fields["scale"]),
                terms=tuple((name, Fraction(power)) for name, power in fields["terms"]),
                dimensions=tuple((name, Fraction(power)) for name, power in fields["dimensions"]),
                dimensionality=fields["dimensionality"],
                base_factor=Fraction(fields["base_factor"]),
            )
        return self.parse_ucum_uncached(code)

    def parse_ucum_uncached(self, code: str) -> Unit:
        """`parse_ucum` with ucumvert's parser, always (core/ucum_known.py's table is made
        with it)."""
        from lark.exceptions import VisitError

        check_ucum_limits(code)
        if self._ucum is None:
            try:
                from ucumvert import get_ucum_parser
            except ImportError:
                raise UnitError(
                    "reading UCUM units needs the 'ucumvert' package (a dependency of "
                    "criteria-lang): pip install ucumvert",
                    text=code,
                ) from None
            self._ucum = (get_ucum_parser(), _make_ucum_transformer(self.registry))
        from ucumvert import InvalidUcumError, parse_ucum

        parser, transformer = self._ucum
        try:
            tree: Tree[Any] = parse_ucum(code, parser)
        except InvalidUcumError as error:
            raise UnitError(str(error).splitlines()[0], text=code) from None
        try:
            quantity = transformer.transform(tree)
            scale = _exact_number(quantity.magnitude)
        except VisitError as error:
            atom = error.orig_exc.args[0] if error.orig_exc.args else "?"
            if isinstance(error.orig_exc, _UnsupportedUcumAtom):
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
        return self._make_unit(code, scale, quantity.units)

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

    def _make_unit(self, text: str, scale: Fraction, pint_unit: pint.Unit) -> Unit:
        from pint.util import to_units_container

        dimensions = _dimensions(pint_unit)
        if "[temperature]" in dimensions:
            raise _temperature_error(text)
        root_factor, _ = self.registry.get_root_units(pint_unit)
        try:
            exact = _exact_number(root_factor)
        except TypeError:
            raise UnitError(f"unit {quote(text)} has no exact factor", text=text) from None
        terms = {k: _exact_number(v) for k, v in to_units_container(pint_unit).items()}
        return self._unit_of(text, scale, scale * exact, terms, dimensions)

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
        terms = dict(a.terms)
        for name, power in b.terms:
            _add_power(terms, name, sign * power)
        dimensions = dict(a.dimensions)
        for name, power in b.dimensions:
            dimensions[name] = dimensions.get(name, Fraction(0)) + sign * power
        return self._unit_of(
            text, a.scale * b.scale**sign, a.base_factor * b.base_factor**sign, terms, dimensions
        )

    # Conversion

    def factor(
        self, source: UnitLike, target: UnitLike, *, molar_mass: Fraction | None = None
    ) -> Fraction:
        """The exact number to multiply a value in `source` by to get it in `target`.

        `molar_mass` (g/mol) bridges amount of substance and mass: `umol/L` to `mg/dL`,
        `mg/mmol` to `g/g`. Raises `IncompatibleUnits`. Cached per (source, target, molar_mass).
        """
        key = (source, target, molar_mass)
        cached = self._factors.get(key)
        if cached is not None:
            return cached
        result = self._factor(self._unit(source), self._unit(target), _molar_mass(molar_mass))
        remember(self._factors, key, result)
        return result

    def convert(
        self,
        value: Fraction,
        source: UnitLike,
        target: UnitLike,
        *,
        molar_mass: Fraction | None = None,
    ) -> Fraction:
        """`value` in `source`, expressed in `target`, exactly."""
        if isinstance(value, float):
            # A float times a Fraction is a float: the exactness would be lost silently.
            raise TypeError(f"convert() needs a Fraction, not the float {value!r}")
        return value * self.factor(source, target, molar_mass=molar_mass)

    def compatible(self, a: UnitLike, b: UnitLike, *, molar_mass: Fraction | None = None) -> bool:
        """Whether `a` converts to `b`. Texts that do not parse still raise `UnitError`. Cached,
        the answer "no" too (working it out again would build an error message each time)."""
        key = (a, b, molar_mass)
        known = self._compatible.get(key)
        if known is None:
            try:
                self.factor(a, b, molar_mass=molar_mass)
                known = True
            except IncompatibleUnits:
                known = False
            remember(self._compatible, key, known)
        return known

    def describe(self, unit: UnitLike) -> str:
        """The dimension in words, per written component: `mL/min/1.73m2` is
        "volume / time / area", `10^9/L` is "1 / volume", `%` is "dimensionless"."""
        numerator: list[str] = []
        denominator: list[str] = []
        for name, power in self._unit(unit).terms:
            dimensions = self._name_dimensions(name)
            if not dimensions:
                continue  # cells, titer, percent: numbers, not dimensions
            words = _words({dim: exp * abs(power) for dim, exp in dimensions.items()})
            (numerator if power > 0 else denominator).append(words)
        if not numerator and not denominator:
            return "dimensionless"
        return " / ".join([" * ".join(numerator) or "1", *denominator])

    def _name_dimensions(self, name: str) -> dict[str, Fraction]:
        """The base dimensions of one of pint's unit names (a term of a Unit)."""
        table = unit_table(CUSTOM_DEFINITIONS)
        meaning = table.resolve(name) if table is not None else None
        if meaning is not None:
            return dict(meaning.dimensions)
        found = self.registry.get_dimensionality(name)
        return {dim: _exact_number(found[dim]) for dim in found if found[dim]}

    def _unit(self, unit: UnitLike) -> Unit:
        return unit if isinstance(unit, Unit) else self.parse(unit)

    def _factor(self, source: Unit, target: Unit, molar_mass: Fraction | None) -> Fraction:
        if source.dimensionality == target.dimensionality:
            return source.base_factor / target.base_factor
        a, b = dict(source.dimensions), dict(target.dimensions)
        power = _molar_power(a, b)
        if power is not None and molar_mass is not None:
            # Each mole of substance in the source is molar_mass grams in the target; pint's
            # root unit for mass is the gram, so g/mol needs no further scaling.
            return source.base_factor * molar_mass**power / target.base_factor
        message = (
            f"cannot convert {source.text!r} ({self.describe(source)}) "
            f"to {target.text!r} ({self.describe(target)})"
        )
        if power is not None:
            message += ": converting between amount of substance and mass needs a molar mass"
        elif ("[international_unit]" in a) != ("[international_unit]" in b):
            message += ": international units measure biological activity, not an amount"
        raise IncompatibleUnits(message, source=source, target=target)


def _add_power(terms: dict[str, Fraction], name: str, power: Fraction) -> None:
    """As pint's UnitsContainer multiplies: a name whose power comes to 0 is dropped, so that
    it goes last if it comes back (the order of the terms is the order `describe` words them)."""
    total = terms.get(name, Fraction(0)) + power
    if total:
        terms[name] = total
    else:
        terms.pop(name, None)


def _temperature_error(text: str) -> UnitError:
    # Celsius and Fahrenheit have offset zero points, so no factor converts them (and kelvin is
    # not used clinically). Eligibility criteria here do not need temperatures.
    return UnitError(
        f"temperature unit {text!r} is not supported: temperatures need an offset, "
        f"not a factor, to convert",
        text=text,
    )


def _exact_number(number: object) -> Fraction:
    """Guard the exactness promise: pint hands back Fractions or ints, never a float."""
    if isinstance(number, Fraction | int):
        return Fraction(number)
    raise TypeError(f"inexact number {number!r} from pint; expected a Fraction")


def _molar_mass(molar_mass: object) -> Fraction | None:
    if molar_mass is None:
        return None
    if not isinstance(molar_mass, Fraction | int) or isinstance(molar_mass, bool):
        # As for values: a float would make every factor through it inexact.
        raise TypeError(f"molar mass must be a Fraction (g/mol), not {molar_mass!r}")
    if molar_mass <= 0:
        raise ValueError(f"molar mass must be positive, not {molar_mass}")
    return Fraction(molar_mass)


def _dimensions(pint_unit: pint.Unit) -> dict[str, Fraction]:
    dimensions = pint_unit.dimensionality
    return {name: _exact_number(dimensions[name]) for name in dimensions if dimensions[name]}


def _molar_power(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> int | None:
    """n when `a` is `b` with mass**n replaced by substance**n (a molar mass converts them)."""
    power = a.get("[substance]", 0) - b.get("[substance]", 0)
    if power == 0 or a.get("[mass]", 0) + power != b.get("[mass]", 0):
        return None
    others = {"[substance]", "[mass]"}
    if {k: v for k, v in a.items() if k not in others} != {
        k: v for k, v in b.items() if k not in others
    }:
        return None
    return int(power)


def _format_power(name: str, power: Fraction) -> str:
    return name if power == 1 else f"{name} ** {power}"


def _format_dimensions(dimensions: Mapping[str, Fraction]) -> str:
    """Canonical text (sorted, no pint formatting: it fails on Fraction exponents)."""
    if not dimensions:
        return "dimensionless"
    up = [_format_power(k, v) for k, v in sorted(dimensions.items()) if v > 0]
    down = [_format_power(k, -v) for k, v in sorted(dimensions.items()) if v < 0]
    return " / ".join([" * ".join(up) or "1", *down])


def _words(dimensions: Mapping[str, Any]) -> str:
    key = tuple(sorted((k, v) for k, v in dimensions.items() if v))
    words = _DIMENSION_WORDS.get(key)
    if words is not None:
        return words
    if len(key) == 1:
        single = _DIMENSION_WORDS.get(((key[0][0], 1),))
        if single is not None:
            return f"{single} ** {key[0][1]}"
    return _format_dimensions({k: Fraction(v) for k, v in key})


_units: UnitSystem | None = None


def get_units() -> UnitSystem:
    """The program's shared `UnitSystem` (one registry, shared caches)."""
    global _units
    if _units is None:
        _units = UnitSystem()
    return _units

"""Reading UCUM (FHIR, OMOP) into our unit system: ucumvert's parser and atom-by-atom
transformer, fed with our one pint registry, and the kind of a UCUM ratio (docs/units.md,
"FHIR and UCUM", "Kinds of ratio"). core/units.py calls these lazily: only FHIR and OMOP data
and texts our syntax cannot read need them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from criteria_lang.core.unit_dimensions import exact_number

if TYPE_CHECKING:
    import pint

__all__ = ["UnsupportedUcumAtom", "make_ucum_transformer", "ucum_numerator"]


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
    "Cel": "degree_Celsius",  # a temperature reading: _make_unit gives it its origin
    "[degF]": "degree_Fahrenheit",
    "eq": "equivalent",  # not UCUM's 1 mol: converts to mol only through a valence
    "mo": "month",
    "wk": "week",
    "g%": "gram / deciliter",  # UCUM: "gram percent" = 1 g/dL, not 1/100 g
    "'": "arcminute",  # ucumvert maps these to time minute and second
    "''": "arcsecond",
}


class UnsupportedUcumAtom(Exception):
    """Raised inside the transformer (lark wraps it in VisitError); carries the UCUM atom."""


def make_ucum_transformer(registry: pint.UnitRegistry[Any]) -> Any:
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
                raise UnsupportedUcumAtom(atom) from None
            return Quantity(exact_number(quantity.magnitude), quantity.units)

    return _UcumToUnits(ureg=registry)


# The kind of a UCUM ratio. pint, like UCUM's own arithmetic, cancels `g/g` to a plain 1, so a
# mass ratio, an amount ratio and a percentage would all be the same number; the kind is read
# off ucumvert's parse tree instead: every simple unit with its sign (below a `/` or not,
# exponents included). Annotations mean nothing, except `{1.73_m2}` (an area).

_AREA = {"[length]": Fraction(2)}


def ucum_numerator(
    tree: Any, dimensions_of: Callable[[Any], Mapping[str, Fraction]]
) -> dict[str, Fraction]:
    """The dimensions of the terms with a positive power in a parsed UCUM code; `dimensions_of`
    gives those of one `simple_unit` subtree."""
    from lark import Token, Tree

    up: dict[str, Fraction] = {}
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, power = stack.pop()
        if isinstance(node, Token):
            if node.type == "ANNOTATION" and str(node) == "{1.73_m2}":
                _add(up, _AREA, power)
            continue
        if not isinstance(node, Tree):
            continue
        children = node.children
        if node.data == "simple_unit":
            _add(up, dimensions_of(node), power)
        elif node.data == "main_term" and len(children) == 2:  # a leading '/'
            stack.append((children[1], -power))
        elif node.data == "term" and len(children) == 3:
            stack.append((children[0], power))
            stack.append((children[2], -power if str(children[1]) == "/" else power))
        elif node.data == "annotatable" and len(children) == 2:
            exponent = children[1]
            if isinstance(exponent, Token) and exponent.type == "EXPONENT":
                stack.append((children[0], power * int(str(exponent))))
            else:
                stack.extend((child, power) for child in children)
        else:
            stack.extend((child, power) for child in children)
    return up


def _add(into: dict[str, Fraction], dimensions: Mapping[str, Fraction], power: int) -> None:
    if power <= 0:
        return
    for name, exponent in dimensions.items():
        into[name] = into.get(name, Fraction(0)) + exponent * power
        if not into[name]:
            del into[name]

"""Exact numbers in SQL (docs/sql.md, "Numbers").

A value in unit U compared with a threshold T in unit V: our unit registry gives the exact factor
f = p/q (a Fraction) from U to V, and the threshold is a Fraction a/b. Then

    value * f  OP  a/b    <=>    value * p * b  OP  a * q     (p, q, b > 0)

which is DECIMAL multiplication only: no division, no float, in every dialect (a product too wide
for DECIMAL(38) is an error, never a rounded answer). The factors are generated per query from the
units the data carry (their UCUM codes, read from the warehouse's `concept` table by sql/run.py),
so that a unit the Python engine converts is converted here by the same number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

import attrs
from sqlglot import exp

from criteria_lang.core.data_units import DATA_UNITS
from criteria_lang.core.units import IncompatibleUnits, UnitError, get_units
from criteria_lang.sql.events import and_, eq, num, or_, string

__all__ = ["Numbers", "compare_op", "fraction_literal"]


def fraction_literal(value: int) -> exp.Expr:
    return num(value) if value >= 0 else exp.Neg(this=num(-value))


def compare_op(op: str, left: exp.Expr, right: exp.Expr) -> exp.Expr:
    classes: dict[str, type[exp.Binary]] = {
        "<": exp.LT,
        "<=": exp.LTE,
        ">": exp.GT,
        ">=": exp.GTE,
        "=": exp.EQ,
        "!=": exp.NEQ,
    }
    return classes[op](this=left, expression=right)


@attrs.frozen
class Numbers:
    """The UCUM codes the data may carry that our registry reads (`valid`)."""

    valid: frozenset[str]

    @classmethod
    def for_units(cls, units: Iterable[str] | Mapping[str, object] | None) -> Numbers:
        codes = set(units) if units is not None else {row.ucum for row in DATA_UNITS}
        registry = get_units()
        readable = set()
        for code in codes:
            try:
                registry.parse_ucum(code)
            except UnitError:
                continue
            readable.add(code)
        return cls(frozenset(readable | {"1"}))

    def factors(self, target: str, molar_mass: Fraction | None) -> dict[str, Fraction]:
        """UCUM code -> exact factor into `target` (our unit syntax), for the codes that convert."""
        registry = get_units()
        goal = registry.parse(target)
        out: dict[str, Fraction] = {}
        for code in sorted(self.valid):
            try:
                out[code] = registry.factor(registry.parse_ucum(code), goal, molar_mass=molar_mass)
            except (IncompatibleUnits, UnitError):
                continue
        return out

    def compare(
        self,
        value: exp.Expr,
        unit_code: exp.Expr,
        op: str,
        threshold: Fraction,
        factors: Mapping[str, Fraction] | None,
    ) -> tuple[exp.Expr, exp.Expr]:
        """(value OP threshold, the value's unit converts). `factors` None: compare the number as
        it is (a threshold without a unit)."""
        a, b = threshold.numerator, threshold.denominator
        if factors is None:
            scaled = exp.Mul(this=value.copy(), expression=num(b))
            return compare_op(op, scaled, fraction_literal(a)), exp.true()
        if not factors:
            return exp.false(), exp.false()
        branches = []
        for code, factor in factors.items():
            left = exp.Mul(this=value.copy(), expression=num(factor.numerator * b))
            right = fraction_literal(a * factor.denominator)
            branches.append(and_(eq(unit_code.copy(), string(code)), compare_op(op, left, right)))
        convertible = exp.In(this=unit_code.copy(), expressions=[string(c) for c in factors])
        return or_(*branches), convertible

    @staticmethod
    def scale(
        value: exp.Expr, unit_code: exp.Expr, factors: Mapping[str, Fraction]
    ) -> tuple[exp.Expr, exp.Expr]:
        """(value x p, q) with p/q the factor of the value's unit: a fraction kept as two
        decimals, for comparisons by cross-multiplication."""
        top = exp.Case()
        bottom = exp.Case()
        for code, factor in factors.items():
            top = top.when(
                eq(unit_code.copy(), string(code)),
                exp.Mul(this=value.copy(), expression=num(factor.numerator)),
            )
            bottom = bottom.when(eq(unit_code.copy(), string(code)), num(factor.denominator))
        return top, bottom

    @staticmethod
    def in_bounds(
        scaled: exp.Expr,
        denominator: exp.Expr,
        low: Fraction,
        high: Fraction,
        bounds: str,
    ) -> exp.Expr:
        """scaled/denominator between low and high, by cross-multiplication."""

        def side(op: str, bound: Fraction) -> exp.Expr:
            left = exp.Mul(this=scaled.copy(), expression=num(bound.denominator))
            right = exp.Mul(this=denominator.copy(), expression=fraction_literal(bound.numerator))
            return compare_op(op, left, right)

        low_op = ">=" if bounds in ("inclusive", "left-inclusive") else ">"
        high_op = "<=" if bounds in ("inclusive", "right-inclusive") else "<"
        return and_(side(low_op, low), side(high_op, high))

    @staticmethod
    def cross(op: str, a: tuple[exp.Expr, exp.Expr], b: Fraction) -> exp.Expr:
        """a[0]/a[1] OP b, a[1] > 0."""
        left = exp.Mul(this=a[0].copy(), expression=num(b.denominator))
        right = exp.Mul(this=a[1].copy(), expression=fraction_literal(b.numerator))
        return compare_op(op, left, right)

"""Exact numbers in SQL (docs/sql.md, "Numbers").

A value in unit U compared with a threshold T in unit V: our unit registry gives the exact map
from U to V, `value x p/q + r/s` (the offset r/s is 0 except between temperature scales and
through a concept's declared scales, HbA1c mmol/mol to %), and the threshold is a Fraction a/b.
Then

    value * p/q + r/s  OP  a/b    <=>    value * (p*s*b) + r*q*b  OP  a*q*s     (p, q, s, b > 0)

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

from criteria_lang.core.conversions import Affine, Basis
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

    def factors(self, target: str, basis: Basis) -> dict[str, Affine]:
        """UCUM code -> the exact map into `target` (our unit syntax), for the codes that
        convert through what the value's concept declares (`basis`: molar mass, valence,
        scales). Every map keeps order (a positive slope)."""
        registry = get_units()
        goal = registry.parse(target)
        out: dict[str, Affine] = {}
        for code in sorted(self.valid):
            try:
                found = registry.affine(registry.parse_ucum(code), goal, basis=basis)
            except (IncompatibleUnits, UnitError):
                continue
            if found.slope > 0:
                out[code] = found
        return out

    def compare(
        self,
        value: exp.Expr,
        unit_code: exp.Expr,
        op: str,
        threshold: Fraction,
        factors: Mapping[str, Affine] | None,
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
        for code, found in factors.items():
            p, q = found.slope.numerator, found.slope.denominator
            r, s = found.offset.numerator, found.offset.denominator
            left: exp.Expr = exp.Mul(this=value.copy(), expression=num(p * s * b))
            if r:
                left = exp.Add(this=left, expression=fraction_literal(r * q * b))
            right = fraction_literal(a * q * s)
            branches.append(and_(eq(unit_code.copy(), string(code)), compare_op(op, left, right)))
        convertible = exp.In(this=unit_code.copy(), expressions=[string(c) for c in factors])
        return or_(*branches), convertible

    @staticmethod
    def scale(
        value: exp.Expr, unit_code: exp.Expr, factors: Mapping[str, Affine]
    ) -> tuple[exp.Expr, exp.Expr]:
        """(top, bottom) with top / bottom the value in the target unit: value x p/q + r/s is
        (value * p*s + r*q) / (q*s), a fraction kept as two decimals, for comparisons by
        cross-multiplication."""
        top = exp.Case()
        bottom = exp.Case()
        for code, found in factors.items():
            p, q = found.slope.numerator, found.slope.denominator
            r, s = found.offset.numerator, found.offset.denominator
            scaled: exp.Expr = exp.Mul(this=value.copy(), expression=num(p * s))
            if r:
                scaled = exp.Add(this=scaled, expression=fraction_literal(r * q))
            top = top.when(eq(unit_code.copy(), string(code)), scaled)
            bottom = bottom.when(eq(unit_code.copy(), string(code)), num(q * s))
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

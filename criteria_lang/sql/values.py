"""Values in SQL: ages, sex, the value an aggregate picks, and comparisons (docs/sql.md).

A value is a `SqlValue`: a number with its unit's UCUM code (None for a plain number, an age or a
count), a text or a yes/no, and `missing` when there is none. Comparisons follow the Python
engine's rules (engine/): a missing value is unknown, a value whose unit does not convert to the
threshold's is unknown, a count in a window the record does not cover is a lower bound.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import attrs
from sqlglot import exp

from criteria_lang.core.concepts import ConceptSet, QuantityAttr, basis_of
from criteria_lang.core.kinds import ABSENCE_IS_EVIDENCE
from criteria_lang.plan import model as p
from criteria_lang.sql import bounds
from criteria_lang.sql import truth as t
from criteria_lang.sql.events import (
    NotExpressible,
    and_,
    case,
    cast,
    col,
    eq,
    is_null,
    not_,
    not_null,
    null,
    num,
    or_,
    string,
)
from criteria_lang.sql.numbers import compare_op, fraction_literal

if TYPE_CHECKING:
    from criteria_lang.sql.queries import QueryCompiler

__all__ = ["SqlValue", "ValueCompiler"]


@attrs.frozen
class SqlValue:
    """A value as SQL: a number (with its unit's UCUM code, None for a plain number or an age),
    a text or a yes/no; `missing` when there is none."""

    number: exp.Expr | None = None
    unit: exp.Expr | None = None
    text: exp.Expr | None = None
    flag: exp.Expr | None = None
    missing: exp.Expr = attrs.field(factory=exp.false)
    lower_bound: exp.Expr | None = None
    age: bool = False
    high: exp.Expr | None = None
    low: exp.Expr | None = None
    concept: ConceptSet | None = None
    exact: Fraction | None = None
    # A result's comparator when it is reported as a bound (NULL: a number); None: never a bound.
    comparator: exp.Expr | None = None

    def need_number(self) -> exp.Expr:
        return self.number.copy() if self.number is not None else null()

    def need_text(self) -> exp.Expr:
        return self.text.copy() if self.text is not None else null()


@attrs.define
class ValueCompiler:
    q: QueryCompiler

    def value(self, node: p.Value) -> SqlValue:
        if isinstance(node, p.Number):
            value = node.value
            return SqlValue(
                number=exp.Div(this=num(value.numerator), expression=num(value.denominator)),
                exact=value,
            )
        if isinstance(node, p.Age):
            on = self.q.edge(p.Edge(node.anchor), "persons")[0]
            birth = col("birth_date", "persons")
            years = exp.Sub(
                this=exp.Extract(this=exp.var("YEAR"), expression=on.copy()),
                expression=exp.Extract(this=exp.var("YEAR"), expression=birth.copy()),
            )
            reached = exp.GT(
                this=cast(
                    exp.DateAdd(
                        this=birth.copy(),
                        expression=exp.Mul(this=years.copy(), expression=num(12)),
                        unit=exp.var("MONTH"),
                    ),
                    "DATE",
                ),
                expression=on.copy(),
            )
            age = exp.Sub(this=years, expression=case((reached, num(1)), default=num(0)))
            return SqlValue(
                number=age, missing=or_(is_null(birth.copy()), is_null(on.copy())), age=True
            )
        if isinstance(node, p.Sex):
            sex = col("sex", "persons")
            return SqlValue(
                text=sex, missing=or_(is_null(sex.copy()), eq(sex.copy(), string("unknown")))
            )
        if isinstance(node, p.UseValue):
            body = self.q.c.plan.definition(node.definition).body
            return self.value(body)  # type: ignore[arg-type]
        if isinstance(node, p.Aggregate):
            return self.aggregate(node)
        raise NotExpressible(f"the value {type(node).__name__}")

    def aggregate(self, node: p.Aggregate) -> SqlValue:
        query = node.query
        missing_date = self.q.bounds(query.window, "persons").missing
        if node.op == "count":
            if node.same_type or node.period is not None or node.distinct:
                raise NotExpressible("count distinct / of the same type / in any period")
            if query.kind == "medication":
                # Records of one drug with the same days and daily dose count once
                # (docs/language.md, "Courses"): needs daily doses, not compiled yet.
                raise NotExpressible("count of medication records (duplicates count once)")
            info = self.q.query(query)
            kept, undec, n_in = (
                coalesce0(col(c, info.name)) for c in ("n_kept", "n_undec", "n_in")
            )
            lower = or_(
                not_(self.coverage_any(query.window)), exp.GT(this=undec, expression=num(0))
            )
            if query.kind not in ABSENCE_IS_EVIDENCE:
                # No result in the window: the count of those that would qualify is not known
                # to be 0 (docs/language.md, "Unknown and absence").
                lower = or_(lower, exp.EQ(this=n_in, expression=num(0)))
            return SqlValue(number=kept, missing=missing_date, lower_bound=lower)
        if node.op not in ("latest", "earliest", "nearest") or query.kind == "medication":
            raise NotExpressible(f"{node.op} {query.kind}")
        info = self.q.query(query, node.op if node.op != "nearest" else self.nearest_key(node))
        kept = coalesce0(col("n_kept", info.name))

        def pick(column: str) -> exp.Expr:
            return col(f"pick_{column}", info.name)

        number, text, flag = pick("value_number"), pick("value_text"), pick("value_bool")
        none = and_(is_null(number.copy()), is_null(text.copy()), is_null(flag.copy()))
        return SqlValue(
            number=number,
            unit=pick("unit_code"),
            text=text,
            flag=flag,
            missing=or_(missing_date, eq(kept, num(0)), none, eq(pick("tie_differs"), num(1))),
            high=pick("range_high"),
            low=pick("range_low"),
            concept=query.concept,
            comparator=pick("value_op") if self.q.c.sources.bounds else None,
        )

    def nearest_key(self, node: p.Aggregate) -> str:
        if node.nearest_to is None or not isinstance(node.nearest_to, p.TrialDate):
            raise NotExpressible("nearest without a trial date")
        return f"nearest:{node.nearest_to.name}"

    def coverage_any(self, window: p.Window) -> exp.Expr:
        """Coverage as the count of a query sees it: the record's, even in closed-world."""
        return self.q.coverage(window)

    def compare(self, node: p.Compare) -> exp.Expr:
        left = self.value(node.left)
        right = node.right
        if isinstance(right, p.Limit):
            return self.compare_limit(left, node.op, right)
        if isinstance(right, p.Titer):
            titer, ok, comparator = self.q.titer(
                left.need_number(), left.need_text(), left.comparator
            )
            dilution = right.dilution

            def against(op: str) -> exp.Expr:
                scaled = exp.Mul(this=titer.copy(), expression=num(dilution.denominator))
                return compare_op(op, scaled, fraction_literal(dilution.numerator))

            decided = bounds.compare(node.op, comparator, against)
            return t.truth_case(
                [
                    (left.missing, t.UNKNOWN),
                    (not_(ok), t.UNKNOWN),
                    (decided.met, t.MET),
                    (decided.not_met, t.NOT_MET),
                ],
                t.UNKNOWN,
            )
        if not isinstance(right, p.Number):
            raise NotExpressible(f"comparing with {type(right).__name__}")
        return self.decide(left, node.op, right, node.conversion)

    def decide(
        self, left: SqlValue, op: str, right: p.Number, conversion: p.Conversion | None
    ) -> exp.Expr:
        if left.age and right.unit not in (None, "years", "year"):
            raise NotExpressible(f"an age compared in {right.unit}")
        number = left.need_number()
        factors = None
        if conversion is not None and left.unit is not None:
            factors = self.q.c.numbers.factors(conversion.target, conversion.basis)
        unit = left.unit
        threshold = right.value

        def against(op: str) -> exp.Expr:
            if unit is None:
                return compare_op(
                    op,
                    exp.Mul(this=number.copy(), expression=num(threshold.denominator)),
                    fraction_literal(threshold.numerator),
                )
            return self.q.c.numbers.compare(number, unit, op, threshold, factors)[0]

        convertible: exp.Expr = exp.true()
        if unit is not None:
            convertible = self.q.c.numbers.compare(number, unit, op, threshold, factors)[1]
        branches: list[tuple[exp.Expr, int | exp.Expr]] = [
            (left.missing, t.UNKNOWN),
            (is_null(number.copy()), t.UNKNOWN),
            (not_(convertible), t.UNKNOWN),
        ]
        if left.lower_bound is not None:
            bounded: list[tuple[exp.Expr, int | exp.Expr]] = []
            if op in (">", ">="):
                bounded.append((against(op), t.MET))
            elif op in ("<", "<="):
                bounded.append((not_(against(op)), t.NOT_MET))
            elif op == "=":
                bounded.append((against(">"), t.NOT_MET))
            branches.append(
                (left.lower_bound, t.truth_case(bounded, t.UNKNOWN) if bounded else num(t.UNKNOWN))
            )
        decided = bounds.compare(op, left.comparator, against)
        branches += [(decided.met, t.MET), (decided.not_met, t.NOT_MET)]
        return t.truth_case(branches, t.UNKNOWN)

    def compare_limit(self, left: SqlValue, op: str, limit: p.Limit) -> exp.Expr:
        if left.concept is None or left.high is None:
            raise NotExpressible("a limit of normal of a value that is not a result")
        own = left.high if limit.limit == "ULN" else left.low
        assert own is not None
        number = left.need_number()
        m = limit.multiple

        def against_own(op: str) -> exp.Expr:
            return compare_op(
                op,
                exp.Mul(this=number.copy(), expression=num(m.denominator)),
                exp.Mul(this=own.copy(), expression=fraction_literal(m.numerator)),
            )

        name = "upper_limit" if limit.limit == "ULN" else "lower_limit"
        limits = [v for v in left.concept.all_attribute_values(name) if isinstance(v, QuantityAttr)]
        stdlib = bounds.Decided(exp.false(), exp.false())
        has_stdlib: exp.Expr = exp.false()
        if limits:
            if len({(v.value, v.unit) for v in limits}) > 1 or (
                left.concept.members and name not in left.concept.attributes
            ):
                raise NotExpressible(f"a {name} that differs between the members of a class")
            factors = self.q.c.numbers.factors(limits[0].unit, basis_of(left.concept))
            unit = left.unit
            assert unit is not None

            def against_stdlib(op: str) -> exp.Expr:
                return self.q.c.numbers.compare(number, unit, op, m * limits[0].value, factors)[0]

            has_stdlib = self.q.c.numbers.compare(number, unit, op, m * limits[0].value, factors)[1]
            stdlib = bounds.compare(op, left.comparator, against_stdlib)
        by_own = bounds.compare(op, left.comparator, against_own)
        return t.truth_case(
            [
                (left.missing, t.UNKNOWN),
                (is_null(number.copy()), t.UNKNOWN),
                (
                    not_null(own.copy()),
                    t.truth_case([(by_own.met, t.MET), (by_own.not_met, t.NOT_MET)], t.UNKNOWN),
                ),
                (not_(has_stdlib), t.UNKNOWN),
                (stdlib.met, t.MET),
                (stdlib.not_met, t.NOT_MET),
            ],
            t.UNKNOWN,
        )

    def between(self, node: p.Between) -> exp.Expr:
        left = self.value(node.operand)
        low, high = node.low, node.high
        if not isinstance(low, p.Number) or not isinstance(high, p.Number):
            raise NotExpressible("between values that are not numbers")
        if low.unit != high.unit:
            raise NotExpressible("between bounds in two units")
        if left.age and low.unit not in (None, "years", "year"):
            raise NotExpressible(f"an age compared in {low.unit}")
        number = left.need_number()
        if left.unit is None or node.conversion is None:
            scaled: exp.Expr = number
            den: exp.Expr = num(1)
            convertible: exp.Expr = exp.true()
        else:
            factors = self.q.c.numbers.factors(node.conversion.target, node.conversion.basis)
            if not factors:
                return num(t.UNKNOWN)
            scaled, den = self.q.c.numbers.scale(number, left.unit, factors)
            convertible = exp.In(this=left.unit.copy(), expressions=[string(c) for c in factors])
        numbers = self.q.c.numbers
        inside = numbers.in_bounds(scaled, den, low.value, high.value, node.bounds)
        empty = high.value < low.value or (high.value == low.value and node.bounds != "inclusive")
        decided = bounds.between(
            left.comparator,
            inside,
            lambda op: numbers.cross(op, (scaled, den), low.value),
            lambda op: numbers.cross(op, (scaled, den), high.value),
            node.bounds,
            empty=empty,
        )
        return t.truth_case(
            [
                (left.missing, t.UNKNOWN),
                (is_null(number.copy()), t.UNKNOWN),
                (not_(convertible), t.UNKNOWN),
                (decided.met, t.MET),
                (decided.not_met, t.NOT_MET),
            ],
            t.UNKNOWN,
        )

    def is_value(self, node: p.IsValue) -> exp.Expr:
        left = self.value(node.operand)
        word = node.word.casefold()
        if word in ("present", "absent"):
            present = not_(left.missing)
            ok = present if word == "present" else not_(present.copy())
        else:
            if left.concept is None:
                raise NotExpressible(f"is {word} on a value that is not a result")
            passes, decided = self.q.word(
                word,
                left.need_number(),
                left.unit or string("1"),
                left.need_text(),
                left.flag or null(),
                left.concept,
                high=left.high,
                comparator=left.comparator,
            )
            ok = exp.func("COALESCE", passes, exp.false())
            result = t.truth_case(
                [
                    (left.missing, t.UNKNOWN),
                    (not_(exp.func("COALESCE", decided, exp.false())), t.UNKNOWN),
                    (ok, t.MET),
                ],
                t.NOT_MET,
            )
            return t.negate(result) if node.negated else result
        result = t.truth_case([(ok, t.MET)], t.NOT_MET)
        return t.negate(result) if node.negated else result

    def in_values(self, node: p.InValues) -> exp.Expr:
        left = self.value(node.operand)
        text = left.need_text()
        wanted = [string(v.casefold()) for v in node.values]
        return t.truth_case(
            [
                (left.missing, t.UNKNOWN),
                (is_null(text.copy()), t.UNKNOWN),
                (exp.In(this=exp.func("LOWER", text), expressions=wanted), t.MET),
            ],
            t.NOT_MET,
        )


def coalesce0(value: exp.Expr) -> exp.Expr:
    return exp.func("COALESCE", value, num(0))

"""Four-valued truth in SQL, as small integers (docs/sql.md, "Truth").

Met, not met, unknown and needs review are the integers 3, 0, 1 and 2, so that `and` is LEAST:
not met if any operand is not met, else unknown if any is unknown (missing data comes first), else
needs review if any needs review, else met (docs/language.md, "Three-valued logic"). `or`, `not`,
`at least N of` and `if` are CASE expressions. Every expression here is NULL-free: a NULL truth
would be a fifth value no engine has.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

__all__ = [
    "MET",
    "NOT_MET",
    "REVIEW",
    "TRUTH_NAMES",
    "UNKNOWN",
    "all_of",
    "any_of",
    "at_least",
    "if_then",
    "lit",
    "negate",
    "truth_case",
]

NOT_MET, UNKNOWN, REVIEW, MET = 0, 1, 2, 3
TRUTH_NAMES = {MET: "met", NOT_MET: "not_met", UNKNOWN: "unknown", REVIEW: "needs_review"}


def lit(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _eq(a: exp.Expr, value: int) -> exp.Expr:
    return exp.EQ(this=a.copy(), expression=lit(value))


def _any_eq(items: Sequence[exp.Expr], value: int) -> exp.Expr:
    out: exp.Expr = _eq(items[0], value)
    for item in items[1:]:
        out = exp.Or(this=out, expression=_eq(item, value))
    return exp.Paren(this=out)


def truth_case(
    branches: Sequence[tuple[exp.Expr, int | exp.Expr]],
    default: int | exp.Expr,
) -> exp.Expr:
    """CASE WHEN cond THEN truth ... ELSE default END."""
    case = exp.Case()
    for condition, value in branches:
        case = case.when(condition, lit(value) if isinstance(value, int) else value)
    return case.else_(lit(default) if isinstance(default, int) else default)


def all_of(items: Sequence[exp.Expr]) -> exp.Expr:
    if len(items) == 1:
        return items[0]
    return exp.Least(this=items[0], expressions=list(items[1:]))


def any_of(items: Sequence[exp.Expr]) -> exp.Expr:
    """Met if any is met; else unknown if any is unknown; else review if any; else not met."""
    if len(items) == 1:
        return items[0]
    return truth_case(
        [
            (_any_eq(items, MET), MET),
            (_any_eq(items, UNKNOWN), UNKNOWN),
            (_any_eq(items, REVIEW), REVIEW),
        ],
        NOT_MET,
    )


def negate(item: exp.Expr) -> exp.Expr:
    return truth_case([(_eq(item, MET), NOT_MET), (_eq(item, NOT_MET), MET)], item.copy())


def _count(items: Sequence[exp.Expr], values: tuple[int, ...]) -> exp.Expr:
    terms = [
        truth_case([(exp.In(this=i.copy(), expressions=[lit(v) for v in values]), 1)], 0)
        for i in items
    ]
    out = terms[0]
    for term in terms[1:]:
        out = exp.Add(this=out, expression=term)
    return exp.Paren(this=out)


def at_least(count: int, items: Sequence[exp.Expr]) -> exp.Expr:
    """Met when `count` or more are met; not met when fewer than `count` can still be met."""
    met = _count(items, (MET,))
    open_ = _count(items, (UNKNOWN, REVIEW))
    return truth_case(
        [
            (exp.GTE(this=met, expression=lit(count)), MET),
            (
                exp.LT(this=exp.Add(this=met.copy(), expression=open_), expression=lit(count)),
                NOT_MET,
            ),
            (exp.GT(this=_count(items, (UNKNOWN,)), expression=lit(0)), UNKNOWN),
        ],
        REVIEW,
    )


def if_then(condition: exp.Expr, then: exp.Expr, otherwise: exp.Expr) -> exp.Expr:
    """`then` when met, `otherwise` when not; undecided: their common answer if both are decided
    and agree, else the condition's own (unknown or needs review)."""
    decided = exp.And(
        this=exp.In(this=then.copy(), expressions=[lit(MET), lit(NOT_MET)]),
        expression=exp.EQ(this=then.copy(), expression=otherwise.copy()),
    )
    return truth_case(
        [(_eq(condition, MET), then), (_eq(condition, NOT_MET), otherwise), (decided, then.copy())],
        condition.copy(),
    )

"""Results reported as bounds, compared in SQL (docs/language.md, "Results reported as bounds").

A result `<0.5` is the number 0.5 with the comparator `<` (the event column `value_op`): it allows
every value below 0.5. A comparison with it is met when every value it allows meets it, not met
when none does, and unknown otherwise -- `core/bounds.py` (`holds`, `inside`) is the reference.
Against one number T (the threshold, or N x the result's own limit) that reduces to comparing the
bound's number v with T, which is what these tables say: `<v` meets `< T` exactly when v <= T.
Every unit conversion keeps order, so the comparator survives the conversion unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from sqlglot import exp

from criteria_lang.sql.events import and_, eq, is_null, not_, or_, string

__all__ = ["Decided", "between", "compare"]

Compare = Callable[[str], exp.Expr]  # op -> `the bound's number (converted) op T`

# `VALUE op T` for a bound: (comparator of the bound, how its number must compare with T).
_MET: dict[str, tuple[tuple[str, str], ...]] = {
    "<": (("<", "<="), ("<=", "<")),
    "<=": (("<", "<="), ("<=", "<=")),
    ">": ((">", ">="), (">=", ">")),
    ">=": ((">", ">="), (">=", ">=")),
    "=": (),
}
_NOT_MET: dict[str, tuple[tuple[str, str], ...]] = {
    "<": ((">", ">="), (">=", ">=")),
    "<=": ((">", ">="), (">=", ">")),
    ">": (("<", "<="), ("<=", "<=")),
    ">=": (("<", "<="), ("<=", "<")),
    "=": (("<", "<="), ("<=", "<"), (">", ">="), (">=", ">")),
}
_MET["!="] = _NOT_MET["="]
_NOT_MET["!="] = ()


@attrs.frozen
class Decided:
    """`met`: every value the result allows meets the comparison; `not_met`: none does. Both
    FALSE: unknown. Both assume the value is there and converts (the caller tests that first)."""

    met: exp.Expr
    not_met: exp.Expr


def compare(op: str, comparator: exp.Expr | None, cmp: Compare) -> Decided:
    """`value op T`, the value a number or a bound with `comparator` (None: never a bound)."""
    point = cmp(op)
    if comparator is None:
        return Decided(point, not_(point.copy()))
    exact = is_null(comparator.copy())

    def side(table: tuple[tuple[str, str], ...]) -> exp.Expr:
        return or_(exp.false(), *(and_(eq(comparator.copy(), string(c)), cmp(o)) for c, o in table))

    return Decided(
        _sure(or_(and_(exact, point), side(_MET[op]))),
        _sure(or_(and_(exact.copy(), not_(point.copy())), side(_NOT_MET[op]))),
    )


def _sure(condition: exp.Expr) -> exp.Expr:
    """The condition, FALSE where SQL's NULL would leave it open."""
    return exp.func("COALESCE", condition, exp.false())


def between(
    comparator: exp.Expr | None,
    inside: exp.Expr,
    low: Compare,
    high: Compare,
    bounds: str,
    *,
    empty: bool = False,
) -> Decided:
    """`value between L and H`: a number inside (`inside`); a bound is never wholly inside a
    band with two ends, and none of it is when it lies beyond one end. `low(op)` is `v op L`,
    `high(op)` is `v op H`. An `empty` band (H < L) holds nothing."""
    if empty:
        return Decided(exp.false(), exp.true())
    if comparator is None:
        return Decided(inside, not_(inside.copy()))
    low_closed = bounds in ("inclusive", "left-inclusive")
    high_closed = bounds in ("inclusive", "right-inclusive")
    # core/bounds.py `_disjoint`: the bound's open end at or beyond the band's end.
    beyond = or_(
        and_(eq(comparator.copy(), string("<")), low("<=")),
        and_(eq(comparator.copy(), string("<=")), low("<" if low_closed else "<=")),
        and_(eq(comparator.copy(), string(">")), high(">=")),
        and_(eq(comparator.copy(), string(">=")), high(">" if high_closed else ">=")),
    )
    exact = is_null(comparator.copy())
    return Decided(
        _sure(and_(exact, inside)), _sure(or_(and_(exact.copy(), not_(inside.copy())), beyond))
    )

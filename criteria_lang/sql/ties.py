"""Ties of `latest` / `earliest`: one day's results that nothing orders (docs/language.md, "Values
and comparisons"). Split from queries.py, which builds the ranked events this column joins."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from criteria_lang.sql.events import and_, case, cast, col, eq, is_null, null, num, or_, string


def tie_differs(pick: str) -> exp.Expr:
    """1 when other events of the same state on the event's day have another value (`latest`
    and `earliest` of one day's results that nothing orders are unknown: docs/language.md,
    "Values and comparisons"); results with different recorded times are ordered by them."""
    if pick not in ("latest", "earliest"):
        return num(0)
    parts: list[exp.Expr] = []
    for column in ("value_number", "unit_code", "value_text", "value_bool"):
        parts += [exp.func("COALESCE", cast(col(column), "VARCHAR"), string("~")), string("|")]
    key = exp.func("CONCAT", *parts)
    day = [col("person_id"), col("state"), col("start_date")]
    same_time = [*(c.copy() for c in day), col("start_time")]
    untimed = case((is_null(col("start_time")), key.copy()), default=null())

    def over(function: str, value: exp.Expr, group: Sequence[exp.Expr]) -> exp.Expr:
        return exp.Window(this=exp.func(function, value), partition_by=[g.copy() for g in group])

    # The events of the picked one's time, and those of its day with no time (which nothing
    # orders against it), all have one value.
    low, high = over("MIN", key, same_time), over("MAX", key, same_time)
    u_low, u_high = over("MIN", untimed, day), over("MAX", untimed.copy(), day)
    agree = and_(
        eq(low, high),
        or_(is_null(u_low), and_(eq(u_low.copy(), low.copy()), eq(u_high, low.copy()))),
    )
    return case((agree, num(0)), default=num(1))

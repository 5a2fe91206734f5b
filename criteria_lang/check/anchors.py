"""Checks of dates that are events (docs/language.md, "Windows anchored at events"): an inline
event anchor `(earliest condition x ever before screening)`, a definition that picks an event,
`it` inside `with (...)`, `end of` and `during`."""

from __future__ import annotations

from criteria_lang.check.context import CheckContext
from criteria_lang.check.symbols import DefineSymbol
from criteria_lang.core import messages as m
from criteria_lang.core.diagnostics import Span
from criteria_lang.syntax import nodes as n

EVENT_PICKS = ("earliest", "latest")


def event_define(cx: CheckContext, name: n.Name) -> n.Define | None:
    """The definition a date names when it picks an event (`define first_dx = earliest condition
    x ever before screening`), else None."""
    symbol = cx.module.lookup(tuple(name.text.split(".")))
    if not isinstance(symbol, DefineSymbol):
        return None
    body = symbol.define.expr
    if isinstance(body, n.Aggregate) and body.op in EVENT_PICKS:
        if symbol.module is cx.module:
            from criteria_lang.check.types import define_type

            define_type(cx, symbol.define.name.text)  # checks it (once) and its cycles
        return symbol.define
    return None


def is_event(cx: CheckContext, name: n.Name) -> bool:
    """Does the date stand for an event (so that it has a last day)?"""
    if isinstance(name, n.EventAnchor | n.ItAnchor):
        return True
    if isinstance(name, n.VisitAnchor | n.BirthAnchor | n.EndOf):
        return False
    return event_define(cx, name) is not None


def check_event_date(cx: CheckContext, name: n.Name, span: Span) -> bool:
    """Check a date that is an event; False when `name` is a plain name (a trial date or an
    event definition, which the caller resolves)."""
    if isinstance(name, n.EventAnchor):
        if name.query is not None:
            from criteria_lang.check.queries import check_counting, check_query

            check_query(cx, name.query)
            check_counting(cx, name.query, name.pick)
        return True
    if isinstance(name, n.ItAnchor):
        if cx.relating == 0:
            cx.report(m.IT_OUTSIDE_WITH, name.span)
        return True
    if isinstance(name, n.EndOf):
        inner = name.of
        if inner is not None:
            cx.date_name(inner, span)
            if not is_event(cx, inner):
                cx.report(m.NOT_AN_EVENT, inner.span, what="end of", name=inner.text)
        return True
    return False


def check_during(cx: CheckContext, window: n.Window) -> None:
    """`during A`: the days of an event."""
    anchor = window.anchor
    if window.kind == "during" and anchor is not None and not is_event(cx, anchor):
        cx.report(m.NOT_AN_EVENT, anchor.span, what="during", name=anchor.text)


def check_related(cx: CheckContext, query: n.Query) -> None:
    """`with [no] (QUERY)`: the query is checked with `it` naming the outer event."""
    from criteria_lang.check.queries import check_query

    for related in query.related:
        cx.relating += 1
        try:
            check_query(cx, related.query)
        finally:
            cx.relating -= 1

"""Checks of dates that are events (docs/language.md, "Windows anchored at events"): an inline
event anchor `(earliest condition x ever before screening)`, a definition that picks an event,
`it` inside `with (...)`, `end of` and `during`.

The checker (check/checker.py) calls these from its date check; they report through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from criteria_lang.core.diagnostics import Span
from criteria_lang.syntax import nodes as n

if TYPE_CHECKING:
    from criteria_lang.check.checker import Checker

EVENT_PICKS = ("earliest", "latest")


def event_define(checker: Checker, name: n.Name) -> n.Define | None:
    """The definition a date names when it picks an event (`define first_dx = earliest condition
    x ever before screening`), else None."""
    from criteria_lang.check.checker import DefineSymbol

    symbol = checker.module.lookup(tuple(name.text.split(".")))
    if not isinstance(symbol, DefineSymbol):
        return None
    body = symbol.define.expr
    if isinstance(body, n.Aggregate) and body.op in EVENT_PICKS:
        if symbol.module is checker.module:
            checker.define_type(symbol.define.name.text)  # checks it (once) and its cycles
        return symbol.define
    return None


def is_event(checker: Checker, name: n.Name) -> bool:
    """Does the date stand for an event (so that it has a last day)?"""
    if isinstance(name, n.EventAnchor | n.ItAnchor):
        return True
    if isinstance(name, n.VisitAnchor | n.BirthAnchor | n.EndOf):
        return False
    return event_define(checker, name) is not None


def check_event_date(checker: Checker, name: n.Name, span: Span) -> bool:
    """Check a date that is an event; False when `name` is a plain name (a trial date or an
    event definition, which the caller resolves)."""
    if isinstance(name, n.EventAnchor):
        if name.query is not None:
            checker.check_query(name.query)
            if name.query.same_type or name.query.period is not None:
                checker.check_counting(name.query, name.pick)
        return True
    if isinstance(name, n.ItAnchor):
        if checker.relating == 0:
            checker.error(
                "C410",
                "`it` is the event a `with (...)` query relates to; there is none here",
                "use `it` inside `with (...)`, e.g. `procedure hospitalization with "
                "(condition heart_failure during it) within 12 months before screening`",
                name.span,
            )
        return True
    if isinstance(name, n.EndOf):
        inner = name.of
        if inner is not None:
            checker.date_name(inner, span)
            if not is_event(checker, inner):
                not_an_event(checker, inner, "end of")
        return True
    return False


def not_an_event(checker: Checker, name: n.Name, what: str) -> None:
    checker.error(
        "C409",
        f"`{what} {name.text}`: '{name.text}' is a date, not an event, and has no last day",
        "name an event: `(earliest procedure x ever before screening)`, a definition that "
        "picks one with `earliest`/`latest`, or `it`",
        name.span,
    )


def check_during(checker: Checker, window: n.Window) -> None:
    """`during A`: the days of an event."""
    anchor = window.anchor
    if anchor is not None and not is_event(checker, anchor):
        not_an_event(checker, anchor, "during")


def check_related(checker: Checker, query: n.Query) -> None:
    """`with [no] (QUERY)`: the query is checked with `it` naming the outer event."""
    for related in query.related:
        checker.relating += 1
        try:
            checker.check_query(related.query)
        finally:
            checker.relating -= 1

"""The checks of a module, as a tuple of passes run in order (as sqlglot's optimizer runs its
`RULES`): each is a function of the module's `CheckContext` that reports what it finds, so one
run reports every problem. To add a check, write a function here (or in a module of check/) and
put it in `PASSES` where what it needs is known; `run` runs them."""

from __future__ import annotations

from collections.abc import Callable

from criteria_lang.check.context import CheckContext
from criteria_lang.check.declarations import check_imports, check_trial, declare, declare_outcomes
from criteria_lang.check.depth import DepthCounter, too_deep
from criteria_lang.check.queries import check_window
from criteria_lang.check.symbols import DefineSymbol
from criteria_lang.check.types import check_bool, check_outcome, define_type
from criteria_lang.core import messages as m
from criteria_lang.syntax import nodes as n
from criteria_lang.syntax.limits import MAX_DEPTH

Pass = Callable[[CheckContext], None]


def check_depth(cx: CheckContext) -> None:
    """Every definition, criterion and outcome within MAX_DEPTH levels, counting the
    definitions it uses (C007; docs/limits.md). The passes after this recurse once per level:
    past the limit they are not run."""
    counter = DepthCounter(
        lambda s: (s.define.expr, s.module.lookup) if isinstance(s, DefineSymbol) else None
    )
    rule_file = cx.rule_file
    bodies = [(d.expr, d.name.span, f"definition '{d.name.text}'") for d in rule_file.defines]
    bodies += [(c.expr, c.id.span, f"criterion {c.id.text}") for c in rule_file.criteria]
    bodies += [(o.expr, o.id.span, f"outcome {o.id.text}") for o in rule_file.outcomes]
    for expr, span, what in bodies:
        depth = counter.depth((expr, cx.module.lookup))
        if too_deep(depth):
            # The first only: what uses it is too deep because of it.
            cx.report(m.DEFINITIONS_TOO_DEEP, span, what=what, depth=depth, limit=MAX_DEPTH)
            cx.stopped = True
            return


def check_definitions(cx: CheckContext) -> None:
    """Every definition typed, so that uses of it know what it is."""
    for define in cx.rule_file.defines:
        define_type(cx, define.name.text)


def check_criteria(cx: CheckContext) -> None:
    """Criterion ids are unique; every criterion is a condition."""
    seen: dict[str, n.Criterion] = {}
    for criterion in cx.rule_file.criteria:
        ident = criterion.id.text
        first = seen.get(ident)
        if first is not None:
            cx.report(
                m.DUPLICATE_CRITERION, criterion.id.span, ident=ident, line=first.id.span.line
            )
        else:
            seen[ident] = criterion
        check_bool(cx, criterion.expr)


def check_outcomes(cx: CheckContext) -> None:
    """The `outcomes` sections: their timepoints, baseline dates and outcomes
    (docs/language.md, "Outcomes")."""
    rule_file = cx.rule_file
    if rule_file.outcome_sections and rule_file.trial is None:
        cx.report(m.OUTCOMES_WITHOUT_TRIAL, rule_file.outcome_sections[0].span)
        return
    for section in rule_file.outcome_sections:
        check_timepoints(cx, section.timepoints)
        if section.baseline is not None:
            cx.date_name(section.baseline, section.baseline.span)
        for outcome in section.outcomes:
            check_timepoints(cx, outcome.timepoints)
            if outcome.baseline is not None:
                cx.date_name(outcome.baseline, outcome.baseline.span)
            elif section.baseline is None:
                cx.date_name(None, outcome.id.span)  # the index date must exist
            check_outcome(cx, outcome)


def check_timepoints(cx: CheckContext, timepoints: n.Timepoints | None) -> None:
    if timepoints is None or timepoints.window is None:
        return
    window = timepoints.window
    # Judged outside any outcome: `visit` here has no meaning (C403).
    check_window(cx, window, None)
    for duration in (window.near, window.far):
        if duration is not None and any(
            isinstance(d, n.HalfLives) for d in [duration, *getattr(duration, "options", ())]
        ):
            cx.report(m.HALF_LIVES_IN_TIMEPOINTS, window.span)


PASSES: tuple[Pass, ...] = (
    check_imports,  # bind imported modules and names
    declare,  # this module's concepts (resolved) and definitions
    declare_outcomes,  # outcome ids
    check_trial,  # the trial header
    check_depth,  # nothing nested too deep to walk (else the passes below are skipped)
    check_definitions,  # type every definition
    check_criteria,  # ids and expressions of the criteria
    check_outcomes,  # the outcomes sections
)


def run(cx: CheckContext) -> None:
    """Every pass, in order, until one stops the walk."""
    for check in PASSES:
        check(cx)
        if cx.stopped:
            return

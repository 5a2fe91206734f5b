"""Event queries: the events of a kind and concept that a window holds and that pass the
filters, and what their existence (or absence) says (docs/language.md, "Queries", "Unknown
and absence")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction

import attrs

from criteria_lang.core.bounds import Range, holds
from criteria_lang.core.concepts import ConceptSet, QuantityAttr
from criteria_lang.core.conversions import Basis
from criteria_lang.core.dates import OutOfCalendar, period_last_day
from criteria_lang.core.diagnostics import clip
from criteria_lang.core.kinds import ABSENCE_IS_EVIDENCE, RESULT_KINDS
from criteria_lang.core.results import Evidence
from criteria_lang.core.routes import route_of_text
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.engine.context import Context
from criteria_lang.engine.course_doses import (
    DailyDoseCheck,
    course_ended,
    dose_pattern,
    is_daily_shape,
)
from criteria_lang.engine.doses import dose_amount, duration_runs
from criteria_lang.engine.evidence import (
    describe_event,
    event_evidence,
    note_evidence,
    numeric_word,
    unit_problem,
)
from criteria_lang.engine.series import persisting, pick_one
from criteria_lang.engine.values import (
    MET,
    NOT_MET,
    UNKNOWN,
    Converter,
    MissingData,
    NoEvent,
    Outcome,
    compare_quantity,
    compare_values,
    convert_quantity,
    decided,
    fmt_date,
    in_bounds,
    matches_word,
    quantity_range,
    titer_range,
    unit_of,
)
from criteria_lang.engine.windows import (
    Notes,
    WindowFn,
    compile_window,
    depends_on_event,
    overlaps,
)
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import (
    Event,
    Fact,
    Measurement,
    MedicationExposure,
    Quantity,
    format_number,
)

Filter = Callable[[Context, Event], bool | str]  # kept, dropped, or undecided (why)
DoseCheck = Callable[[Context, Event], tuple[bool | None, str]]


@attrs.frozen(slots=True)
class QueryResult:
    matched: tuple[Event, ...]
    undecided: tuple[tuple[Event, str], ...]
    measured: bool  # any event of the concept in the window, before the filters
    covered: bool
    start: dt.date | None
    end: dt.date | None
    details: tuple[Evidence, ...] = ()  # evidence computed by filters (doses, runs)


QueryFn = Callable[[Context], QueryResult]


def compile_query(query: p.Query) -> QueryFn:
    """A function of a patient's context giving the query's result, memoized per context (a
    query shared through a definition runs once per patient)."""
    filters = [where_filter(w) for w in query.where]
    value_check = value_filter(query.value, query) if query.value is not None else None
    if value_check is not None:
        filters.append(value_check)
    filters.extend(related_filter(r) for r in query.related)
    if query.reasons:
        filters.append(reason_filter(query.reasons))
    dose_check = dose_filter(query.dose, query.concept) if query.dose is not None else None
    window = compile_window(query.window)
    per_event = depends_on_event(query.window)
    filtering = bool(query.routes or query.statuses or filters or dose_check or per_event)
    qualifying = bool(query.new_start or query.ended or query.dose_pattern or query.run)
    about_it = names_this_event(query)

    def run(ctx: Context) -> QueryResult:
        # A query that names `it` has a result for each event it is asked about.
        key = ("query", id(query), id(ctx.related[-1]) if about_it and ctx.related else None)
        cached: QueryResult | None = ctx.memo.get(key)
        if cached is not None:
            return cached
        start, end = window(ctx, None, None)
        in_window, pending = events_in_window(ctx, query, window, per_event, start, end)
        if filtering:
            kept, undecided, details = filtered(
                ctx, query, in_window, pending, filters, dose_check, (start, end)
            )
        else:
            kept, undecided, details = in_window, [], []
        if query.run is not None and query.kind in RESULT_KINDS:
            kept, undecided = persistence(query, in_window, kept, undecided, details, (start, end))
        elif qualifying:
            kept, undecided = after_filters(
                ctx, query, kept, undecided, details, (start, end), value_check
            )
        result = QueryResult(
            tuple(kept),
            tuple(undecided),
            bool(in_window),
            ctx.covered(start, end),
            start,
            end,
            tuple(details),
        )
        ctx.memo[key] = result
        return result

    return run


def events_in_window(
    ctx: Context,
    query: p.Query,
    window: WindowFn,
    per_event: bool,
    start: dt.date | None,
    end: dt.date | None,
) -> tuple[list[Event], dict[str, str]]:
    """The events the window holds, and (by id) those only an unknown half-life could bring
    into it: they go through the filters and end up undecided rather than kept ("Time")."""
    kind = query.kind
    active_only = "active" in query.statuses
    candidates = ctx.query_events(kind, query.concept)
    if not per_event:
        return [e for e in candidates if overlaps(e, start, end, kind, active_only)], {}
    in_window: list[Event] = []
    pending: dict[str, str] = {}
    for event in candidates:
        notes: Notes = []
        s, e = window(ctx, event, notes)
        if overlaps(event, s, e, kind, active_only):
            in_window.append(event)
        elif notes:
            wide_s = None if any(sign < 0 for sign, _ in notes) else s
            wide_e = None if any(sign > 0 for sign, _ in notes) else e
            if overlaps(event, wide_s, wide_e, kind, active_only):
                in_window.append(event)
                pending[event.id] = notes[0][1]
    return in_window, pending


def filtered(
    ctx: Context,
    query: p.Query,
    events: list[Event],
    pending: dict[str, str],
    filters: list[Filter],
    dose_check: DoseChecker | None,
    window: tuple[dt.date | None, dt.date | None],
) -> tuple[list[Event], list[tuple[Event, str]], list[Evidence]]:
    """The events that pass every filter; those a filter cannot decide, with why; the evidence
    the dose filter computed. The dose filter sees every event the other filters keep (a daily
    dose is the drug's, over its courses: docs/language.md, "Courses")."""
    first: list[tuple[Event, bool | str | None]] = []
    for event in events:
        if query.routes:
            route = route_ok(event, query.routes)
            if isinstance(route, str):  # no route recorded: undecided (docs: "Routes")
                first.append((event, route))
                continue
            if not route:
                continue
        if query.statuses and not status_ok(event, query.statuses):
            continue
        first.append((event, first_failure(ctx, event, filters)))
    doses: dict[int, tuple[bool | None, str]] = {}
    if dose_check is not None:
        candidates = [event for event, verdict in first if verdict is None]
        doses = dose_check.check_all(ctx, candidates, window)
    kept: list[Event] = []
    undecided: list[tuple[Event, str]] = []
    details: list[Evidence] = []
    for event, verdict in first:
        if verdict is not None:
            if isinstance(verdict, str):
                undecided.append((event, verdict))
            continue
        if dose_check is not None:
            ok, note = doses[id(event)]
            if ok is None:
                undecided.append((event, note))
                continue
            details.append(note_evidence(event, note))
            if not ok:
                continue
        if event.id in pending:
            undecided.append((event, pending[event.id]))
            continue
        kept.append(event)
    return kept, undecided, details


def related_filter(related: p.Related) -> Filter:
    """`with [no] (QUERY)`: keep the event when the query, with `it` naming the event, finds a
    match (none, with `no`), judged as an `any` query is; undecided says why."""
    inner = compile_query(related.query)
    negated = related.negated

    def check(ctx: Context, event: Event) -> bool | str:
        ctx.related.append(event)
        try:
            outcome = exists_outcome(ctx, inner(ctx), related.query)
        except NoEvent:
            outcome = Outcome(NOT_MET)
        except MissingData as missing:
            return f"{describe_event(event)}: {missing.reason}"
        finally:
            ctx.related.pop()
        if not outcome.truth.decided:
            why = "; ".join(outcome.missing) or "undecided"
            return f"{describe_event(event)}: {related.query.label} {why}"
        found = outcome.truth is MET
        return not found if negated else found

    return check


def names_this_event(query: p.Query) -> bool:
    """Does the query's window (or a related query's) count from `it`?"""
    edges = (query.window.start, query.window.end)
    anchors = [e.anchor for e in edges if e is not None]
    mentions = any(
        isinstance(a, p.ThisEvent) or (isinstance(a, p.EndOf) and isinstance(a.of, p.ThisEvent))
        for a in anchors
    )
    return mentions or any(names_this_event(r.query) for r in query.related)


def first_failure(ctx: Context, event: Event, filters: list[Filter]) -> bool | str | None:
    """None when every filter keeps the event; else False (dropped) or why it is undecided."""
    for check in filters:
        result = check(ctx, event)
        if result is False or isinstance(result, str):
            return result
    return None


def persistence(
    query: p.Query,
    in_window: list[Event],
    kept: list[Event],
    undecided: list[tuple[Event, str]],
    details: list[Evidence],
    window: tuple[dt.date | None, dt.date | None],
) -> tuple[list[Event], list[tuple[Event, str]]]:
    """`lab x value is positive for at least D`: the results of a run that persisted for D
    (docs/language.md, "Persistence of results"). Every result of the window takes part: one
    that fails the query's qualifiers ends a run."""
    assert query.run is not None
    passed = {id(e) for e in kept}
    reasons = {id(e): why for e, why in undecided}
    verdicts: list[bool | str] = [
        True if id(e) in passed else reasons.get(id(e), False) for e in in_window
    ]
    run, doubtful, note = persisting(in_window, verdicts, query.run.duration, window)
    duration = query.run.duration
    need = f"needs {format_number(duration.amount)} {duration.unit}"
    details.append(Evidence(f"{query.label} persisting", f"{note} ({need})"))
    return run, doubtful


def after_filters(
    ctx: Context,
    query: p.Query,
    kept: list[Event],
    undecided: list[tuple[Event, str]],
    details: list[Evidence],
    window: tuple[dt.date | None, dt.date | None],
    value_check: Filter | None,
) -> tuple[list[Event], list[tuple[Event, str]]]:
    """`new`, `ended`, dose patterns and exposure runs: qualifiers over the kept events."""
    start, end = window
    if query.new_start:
        firsts: list[Event] = []
        for event in kept:
            first = is_first(ctx, event, query, start, value_check)
            if isinstance(first, str):
                undecided.append((event, first))
            elif first:
                firsts.append(event)
        kept = firsts
    if query.ended:
        kept = [e for e in kept if course_ended(ctx, query.concept, e, start, end)]
    if query.dose_pattern is not None:
        kept, pattern_details, pattern_undecided = dose_pattern(
            ctx, kept, query.concept, query.dose_pattern, start, end
        )
        details.extend(pattern_details)
        undecided.extend(pattern_undecided)
    if query.run is not None:
        kept, run_details, run_undecided = duration_runs(
            kept, [e for e, _ in undecided], query.run, start, end
        )
        details.extend(run_details)
        if not run_undecided:
            undecided = []
    return kept, undecided


# --------------------------------------------------------------------------- filters


def route_ok(event: Event, routes: tuple[str, ...]) -> bool | str:
    """Is the event's route one of `routes` (names of core/routes.py)? A record with no route, or
    a route the table does not know, cannot say: undecided, with why (docs: "Routes")."""
    recorded = getattr(event, "route", None)
    if recorded is None or not recorded.strip():
        return f"{describe_event(event)}: no route recorded (route {' or '.join(routes)} asked)"
    route = route_of_text(recorded)
    if route is None:
        shown = clip(recorded, 60)
        return f"{describe_event(event)}: the route '{shown}' is not one the language knows"
    return route in routes


def status_ok(event: Event, statuses: tuple[str, ...]) -> bool:
    status = getattr(event, "status", None)
    if status is None:
        # "active" asks whether the condition is still going: no abatement recorded.
        return "active" in statuses and event.end is None
    return status.casefold() in statuses


def attribute_equal(actual: object, wanted: str | p.Number | bool) -> bool:
    if isinstance(wanted, bool):
        return actual is wanted
    if isinstance(wanted, p.Number):
        return isinstance(actual, Fraction) and actual == wanted.value
    return str(actual).casefold() == wanted.casefold()


def where_filter(where: p.AttributeFilter) -> Filter:
    name, op, wanted = where.name, where.op, where.values

    def check(ctx: Context, event: Event) -> bool | str:
        attributes = getattr(event, "attributes", {}) or {}
        if name not in attributes:
            return f"{event.display} on {fmt_date(event.start)} does not record {name}"
        actual = attributes[name]
        if op == "in":
            return any(attribute_equal(actual, w) for w in wanted)
        target = wanted[0]
        if isinstance(actual, Quantity) and isinstance(target, p.Number):
            return quantity_attribute(event, name, actual, op, target)
        if op in ("=", "!="):
            equal = attribute_equal(actual, target)
            return equal if op == "=" else not equal
        if isinstance(target, p.Number) and isinstance(actual, Fraction):
            return compare_values(actual, op, target.value)
        return f"{name} '{clip(str(actual), 100)}' cannot be compared with {op}"

    return check


def quantity_attribute(
    event: Event, name: str, actual: Quantity, op: str, target: p.Number
) -> bool | str:
    """`where size >= 5 mm` on an attribute recorded with its unit: compared in the threshold's
    unit (a bare-number threshold compares the recorded number as it is)."""
    value = actual.value
    if target.unit is not None:
        try:
            value = convert_quantity(actual, target.unit, None)
        except UnitError as error:
            return unit_problem(event, error, f"the {name}")
    return compare_values(value, op, target.value)


def reason_filter(reasons: tuple[ConceptSet, ...]) -> Filter:
    """`for CONCEPT`: the reason the record gives for the event matches each concept; a record
    that gives no reason cannot say (docs: "Attributes")."""

    def check(ctx: Context, event: Event) -> bool | str:
        if not event.reasons:
            names = " and ".join(r.short_name for r in reasons)
            return f"{describe_event(event)}: no reason recorded (for {names} asked)"
        return all(concept.matches(event.reasons) for concept in reasons)

    return check


def value_filter(vf: p.ValueFilter, query: p.Query) -> Filter:
    op, target, concept, basis = vf.op, vf.target, query.concept, query.basis
    converter = Converter.of(vf.conversion)
    # A bare number is in the concept's canonical unit (the plan's conversion target).
    unit = target.unit if isinstance(target, p.Number) else None
    unit = unit or (converter.target if converter is not None else None)

    def check(ctx: Context, event: Event) -> bool | str:
        raw = getattr(event, "value", None)
        if raw is None:
            return f"{event.display} on {fmt_date(event.start)} has no value"
        if op == "is":
            return word_filter(event, raw, concept, str(target))
        if isinstance(target, p.Titer):
            titer = titer_range(raw) if not isinstance(raw, Quantity) else quantity_range(raw)
            if titer is None:
                return f"'{clip(str(raw), 100)}' is not a titer"
            return undecided_bound(event, holds(titer, op, Range.point(target.dilution)))
        if isinstance(target, p.Limit):
            return limit_filter(event, raw, op, target, concept, basis)
        assert isinstance(target, p.Number)
        if not isinstance(raw, Quantity):
            return f"'{clip(str(raw), 100)}' is not a number"
        try:
            value = raw.value
            if unit:
                found = converter.lookup(raw.unit, raw.ucum, unit, basis) if converter else None
                if found is not None:
                    value = found(raw.value)
                else:
                    value = convert_quantity(raw, unit, basis)
        except UnitError as error:
            return unit_problem(event, error, "the value")
        return undecided_bound(event, compare_quantity(raw, value, op, target.value))

    return check


def undecided_bound(event: Event, verdict: bool | None) -> bool | str:
    """A filter's verdict; a bound that cannot decide leaves the event undecided, saying so."""
    if verdict is None:
        return f"{describe_event(event)} is a bound that may or may not qualify"
    return verdict


def word_filter(event: Event, raw: object, concept: ConceptSet, word: str) -> bool | str:
    if isinstance(raw, Quantity) and isinstance(event, Measurement):
        return numeric_word(event, raw, concept, word)
    found = matches_word(raw.value if isinstance(raw, Quantity) else raw, word)
    if found is None:
        return f"'{clip(str(raw), 100)}' is neither {word} nor its opposite"
    return found


def limit_filter(
    event: Event, raw: object, op: str, target: p.Limit, concept: ConceptSet, basis: Basis
) -> bool | str:
    if not isinstance(raw, Quantity) or not isinstance(event, Measurement):
        return "no numeric value"
    rr = event.reference_range
    bound = (rr.high if target.limit == "ULN" else rr.low) if rr else None
    if bound is None:
        attr = concept.attribute_for(
            event.codes, "upper_limit" if target.limit == "ULN" else "lower_limit"
        )
        if isinstance(attr, QuantityAttr):
            bound = Quantity(attr.value, attr.unit)
    if bound is None:
        return f"{event.display} on {fmt_date(event.start)} has no reference range"
    try:
        limit = convert_quantity(bound, unit_of(raw), basis)
    except UnitError as error:
        return unit_problem(event, error, "the value or its reference range")
    return undecided_bound(event, compare_quantity(raw, raw.value, op, target.multiple * limit))


def dose_filter(dose: p.DoseFilter, concept: ConceptSet) -> DoseChecker:
    threshold = get_units().parse(dose.unit)
    converter = Converter.of(dose.conversion)
    if is_daily_shape(dose):
        # A dose per day: the drug's courses on the record's days, read together.
        return DailyDoseCheck(dose, threshold, converter, concept)
    low, high = dose.low, dose.high

    def check(ctx: Context, event: Event) -> tuple[bool | None, str]:
        assert isinstance(event, MedicationExposure)
        amount = dose_amount(ctx, event, dose.shape, threshold, dose.basis, concept, converter)
        if isinstance(amount, str):
            return None, amount
        value, shown = amount
        if dose.op == "between":
            assert high is not None
            ok = in_bounds(value, low, high, dose.bounds)
            text = f"{shown} between {low} and {format_number(high)} {threshold.text}"
        else:
            ok = compare_values(value, dose.op, low)
            text = f"{shown} {dose.op} {format_number(low)} {threshold.text}"
        return ok, f"{text}: {'yes' if ok else 'no'}"

    return PerRecordDoseCheck(check)


@attrs.frozen
class PerRecordDoseCheck:
    """A dose per administration (per kg, per m2): each record on its own."""

    check: DoseCheck

    def check_all(
        self, ctx: Context, events: list[Event], window: tuple[dt.date | None, dt.date | None]
    ) -> dict[int, tuple[bool | None, str]]:
        return {id(event): self.check(ctx, event) for event in events}


DoseChecker = PerRecordDoseCheck | DailyDoseCheck


def is_first(
    ctx: Context,
    event: Event,
    query: p.Query,
    window_start: dt.date | None,
    value_check: Filter | None,
) -> bool | str:
    """`new` (docs: "First occurrences"): the event begins inside the window and the record has
    no earlier event of the same type -- the same drug, condition, test...; for results, an
    earlier one counts only if it passes the query's `value` qualifier (a first positive result
    may follow negative ones). An earlier result the qualifier cannot decide leaves the event
    undecided (why is returned): it may have been the first."""
    if window_start is not None and event.start < window_start:
        return False
    concept = query.concept
    leaf = concept.leaf_for(event.codes)
    doubt: str | None = None
    for other in ctx.query_events(query.kind, concept):
        if other is event or other.start >= event.start or not leaf.matches(other.codes):
            continue
        earlier = True if value_check is None else value_check(ctx, other)
        if earlier is True:
            return False
        if isinstance(earlier, str) and doubt is None:
            doubt = f"{describe_event(event)} may not be the first: {earlier}"
    return doubt if doubt is not None else True


# --------------------------------------------------------------------------- truth of a query


def exists_outcome(ctx: Context, result: QueryResult, query: p.Query) -> Outcome:
    """`any` query: met when an event matches; absence judged by coverage (docs: "Unknown")."""
    label, window_text = query.label, query.window.text
    if result.matched:
        if query.kind == "fact":
            return fact_outcome(result, label)
        evidence = tuple(event_evidence(e, label) for e in result.matched) + result.details
        return Outcome(MET, evidence)
    if result.undecided:
        missing = tuple(reason for _, reason in result.undecided)
        return Outcome(UNKNOWN, result.details, missing)
    if query.kind in ABSENCE_IS_EVIDENCE:
        if result.covered:
            return Outcome(NOT_MET, result.details + (Evidence(label, f"none {window_text}"),))
        return Outcome(
            UNKNOWN,
            result.details,
            (f"no {label} recorded {window_text}, but {ctx.coverage_text()}",),
        )
    if result.measured:
        return Outcome(NOT_MET, result.details + (Evidence(label, f"none matching {window_text}"),))
    return Outcome(UNKNOWN, result.details, (f"no {label} recorded {window_text}",))


def fact_outcome(result: QueryResult, label: str) -> Outcome:
    """A fact is met when its latest record in the window says yes (docs: "Facts")."""
    latest, tied = pick_one(result.matched, latest=True)
    answers = [fact_answer(e) for e in (latest, *tied)]
    evidence = tuple(event_evidence(e, label) for e in (latest, *tied))
    truthy = answers[0]
    if truthy is None:
        shown = clip(str(getattr(latest, "value", None)), 100)
        return Outcome(UNKNOWN, evidence, (f"{label} is recorded as '{shown}', not yes/no",))
    if any(answer != truthy for answer in answers):
        day = fmt_date(latest.start)
        reason = f"{label} is recorded as yes and as no on {day}, with no times to order them"
        return Outcome(UNKNOWN, evidence, (reason,))
    return Outcome(decided(truthy), evidence)


def fact_answer(event: Event) -> bool | None:
    """A fact record's yes or no (None: neither)."""
    assert isinstance(event, Fact)
    value = event.value
    return matches_word(value, "true") if not isinstance(value, Fraction) else value != 0


# --------------------------------------------------------------------------- counting


def case_type(event: Event, concept: ConceptSet) -> str:
    """The type of a case for `of the same type` (docs: "Counting by type and in any period"):
    the most specific member it matches when that member has no members of its own, else the
    event's code that matched."""
    leaf = concept.leaf_for(event.codes)
    if leaf is not concept and not leaf.members:
        return leaf.short_name
    for code in event.codes:
        if leaf.matches_code(code):
            return f"{code.system} {code.code}"
    return leaf.short_name


Case = tuple[Event, dt.date]  # an event (an administration of an exposure) on its day


def count_cases(
    cases: list[Case], concept: ConceptSet, same_type: bool, period: p.Duration | None
) -> tuple[list[Case], Evidence]:
    """The largest set of cases of one type (with `same_type`) in one period of `period`
    (when given), and a note saying which."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        key = case_type(case[0], concept) if same_type else ""
        groups.setdefault(key, []).append(case)
    best: list[Case] = []
    best_type = ""
    best_last: dt.date | None = None
    for kind, group in groups.items():
        group.sort(key=lambda c: (c[1], c[0].id))
        if period is None:
            if len(group) > len(best):
                best, best_type = group, kind
            continue
        for i, first in enumerate(group):
            last_day = period_end(first[1], period)
            inside = [c for c in group[i:] if c[1] <= last_day]
            if len(inside) > len(best):
                best, best_type, best_last = inside, kind, last_day
    what = f"of type {best_type}" if same_type and best else "cases"
    if not best:
        detail = "no cases"
    elif period is None:
        detail = f"{len(best)} {what}"
    else:
        span = f"{format_number(period.amount)} {period.unit}"
        detail = (
            f"{len(best)} {what} in one period of {span} "
            f"({fmt_date(best[0][1])}..{fmt_date(best_last)})"
        )
    return best, Evidence("count", detail)


def period_end(start: dt.date, period: p.Duration) -> dt.date:
    try:
        return period_last_day(start, period.amount, period.unit)
    except OutOfCalendar:
        return dt.date.max  # the period runs past 9999-12-31: it holds the rest

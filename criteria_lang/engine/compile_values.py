"""Values of a plan compiled into functions of a patient's context: literals, ages, derived
values, aggregates over queries, percentages, differences, daily doses and new grades
(docs/language.md, "Values and comparisons", "Outcomes")."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from fractions import Fraction
from typing import Any, assert_never

import attrs

from criteria_lang.core.bounds import Range, extreme, total
from criteria_lang.core.concepts import ConceptSet, basis_of
from criteria_lang.core.conversions import Basis
from criteria_lang.core.dates import completed_years
from criteria_lang.core.derived import BUILTINS
from criteria_lang.core.kinds import ABSENCE_IS_EVIDENCE
from criteria_lang.core.results import Evidence
from criteria_lang.core.units import Unit, UnitError, get_units
from criteria_lang.engine.administrations import administration_days
from criteria_lang.engine.context import Context
from criteria_lang.engine.course_doses import cumulative_dose, daily_total
from criteria_lang.engine.courses import without_duplicates
from criteria_lang.engine.evidence import describe_event, event_evidence, event_value
from criteria_lang.engine.queries import (
    Case,
    QueryFn,
    QueryResult,
    case_type,
    compile_query,
    count_cases,
)
from criteria_lang.engine.reported import derived_value
from criteria_lang.engine.series import pick_one
from criteria_lang.engine.trends import consecutive_rises, doubling_time, percent_change
from criteria_lang.engine.values import (
    AGE,
    MET,
    UNREADABLE,
    MissingData,
    NoEvent,
    Outcome,
    Value,
    fmt_date,
    fmt_quantity,
)
from criteria_lang.engine.windows import overlaps, resolve
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Event, format_number

ExprFn = Callable[[Context], Outcome]
ValueFn = Callable[[Context], Value]


class ValueCompiler(ABC):
    """Compiles a plan's values; `Compiler` (compile.py) adds its conditions."""

    def __init__(self, plan: p.Plan) -> None:
        self.plan = plan
        self.units = get_units()
        self.queries: dict[int, QueryFn] = {}
        self.values: dict[str, ValueFn] = {}
        self.events: dict[p.EventDate, Callable[[Context], Event]] = {}

    @abstractmethod
    def expr(self, node: p.Expr) -> ExprFn: ...

    @abstractmethod
    def definition_truth(self, ident: str) -> ExprFn: ...

    def query(self, query: p.Query) -> QueryFn:
        found = self.queries.get(id(query))
        if found is None:
            found = self.queries[id(query)] = compile_query(query)
        return found

    def event_finder(self, anchor: p.EventDate) -> Callable[[Context], Event]:
        """The function that finds the event an EventDate picks for a patient, compiled once
        (docs/language.md, "Windows anchored at events")."""
        found = self.events.get(anchor)
        if found is None:
            found = self.events[anchor] = find_event(self.query(anchor.event.query), anchor)
        return found

    def value(self, node: p.Value) -> ValueFn:
        match node:
            case p.Number():
                unit = self.units.parse(node.unit) if node.unit else None
                constant = Value(node.value, unit, label=fmt_quantity(node.value, unit))
                return lambda ctx: constant
            case p.Titer() | p.Limit():
                # Thresholds stand on the right of a comparison (compile.py reads them there).
                missing = Value(None, missing=("a titer or a multiple of a limit is a threshold",))
                return lambda ctx: missing
            case p.Age():
                return self.age(node)
            case p.Sex():
                return sex
            case p.Derived():
                return self.derived(node)
            case p.Aggregate():
                return self.aggregate(node)
            case p.PercentOf():
                return self.percent_of(node)
            case p.Difference():
                return self.difference(node)
            case p.DailyDose():
                return self.daily_dose(node)
            case p.NewGrades():
                return self.new_grades(node)
            case p.UseValue():
                return self.definition_value(node.definition)
            case p.TruthValue():
                return truth_value(self.expr(node.condition))
            case _:
                assert_never(node)

    def definition_value(self, ident: str) -> ValueFn:
        """A definition's value, compiled once (shared by every use)."""
        found = self.values.get(ident)
        if found is None:
            body = self.plan.definition(ident).body
            if isinstance(body, p.Expr):  # a condition used as a value
                fn = truth_value(self.definition_truth(ident))
            else:
                fn = self.value(body)
            found = self.values[ident] = fn
        return found

    # ------------------------------------------------------------------ simple values
    def age(self, node: p.Age) -> ValueFn:
        anchor = node.anchor
        years = self.units.parse("years")

        def age(ctx: Context) -> Value:
            birth = ctx.patient.birth_date
            if birth is None:
                return Value(None, missing=("the birth date is not recorded",), label="age")
            try:
                on = ctx.date(anchor)
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label="age")
            value = Fraction(completed_years(birth, on))
            evidence = Evidence(
                f"age at {anchor.text}",
                f"{value} years (born {fmt_date(birth)}, {anchor.text} {fmt_date(on)})",
            )
            return Value(
                value,
                years,
                (evidence,),
                label=f"age at {anchor.text}",
                kind=AGE,
                birth=birth,
                on=on,
            )

        return age

    def derived(self, node: p.Derived) -> ValueFn:
        builtin = BUILTINS[node.formula]
        anchor = node.anchor
        unit = self.units.parse(node.unit)
        label = f"{node.formula} at {anchor.text}"

        def derived(ctx: Context) -> Value:
            try:
                on = ctx.date(anchor)
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label=label)
            return derived_value(ctx, node, builtin, on, unit, label)

        return derived

    # ------------------------------------------------------------------ aggregates
    def aggregate(self, node: p.Aggregate) -> ValueFn:
        query_fn = self.query(node.query)
        concept = node.query.concept
        label = node.label
        canonical = self.units.parse(node.unit) if node.unit else None
        summarise = self.summary(node, canonical)

        def aggregate(ctx: Context) -> Value:
            try:
                result = query_fn(ctx)
            except NoEvent as none:
                if node.op == "count":  # a window at an event that did not happen: none in it
                    note = Evidence(label, f"0: {none.reason}")
                    return Value(Fraction(0), None, (note,), label=label, concept=concept)
                return Value(None, missing=(none.reason,), label=label, concept=concept)
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label=label, concept=concept)
            return summarise(ctx, result)

        return aggregate

    def summary(
        self, node: p.Aggregate, canonical: Unit | None
    ) -> Callable[[Context, QueryResult], Value]:
        op, query = node.op, node.query
        if op == "count":
            return lambda ctx, result: count_value(ctx, node, result)
        if op == "cumulative":
            return lambda ctx, result: cumulative_dose(
                ctx,
                list(result.matched),
                (result.start, result.end),
                node.label,
                query.concept,
                node.basis,
            )
        if op in ("latest", "earliest", "nearest"):
            return lambda ctx, result: one_event_value(ctx, node, result)
        trend = TRENDS.get(op)
        if trend is not None:
            return lambda ctx, result: trend_value(trend, node, result)
        return lambda ctx, result: over_values(node, result, canonical)

    # ------------------------------------------------------------------ values of values
    def percent_of(self, node: p.PercentOf) -> ValueFn:
        inner = self.value(node.operand)
        factor = node.percent / 100
        percent = format_number(node.percent)

        def percent_of(ctx: Context) -> Value:
            base = inner(ctx)
            label = f"{percent} % of {base.label}"
            if not isinstance(base.value, Fraction):
                missing = base.missing or (f"{base.label} is not a number",)
                return Value(None, evidence=base.evidence, missing=missing, label=label)
            value = base.value * factor
            scaled = None if base.range is None else base.range.scaled(factor)
            result = Value(
                value,
                base.unit,
                base.evidence,
                concept=base.concept,
                label=label,
                base=base,
                range=scaled,
            )
            detail = f"{percent} % of {base.shown()} = {result.shown()}"
            return attrs.evolve(result, evidence=base.evidence + (Evidence(label, detail),))

        return percent_of

    def difference(self, node: p.Difference) -> ValueFn:
        left_fn, right_fn = self.value(node.left), self.value(node.right)
        return lambda ctx: difference(left_fn(ctx), right_fn(ctx))

    def daily_dose(self, node: p.DailyDose) -> ValueFn:
        concept, anchor, basis = node.drug, node.anchor, node.basis
        per_day = self.units.parse(node.unit)

        def daily_dose(ctx: Context) -> Value:
            try:
                day = ctx.date(anchor)
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label=node.label, concept=concept)
            at = f"{node.label} on {fmt_date(day)}"
            found = daily_total(ctx, concept, day, per_day, basis, at)
            if isinstance(found, str):
                return Value(None, missing=(found,), label=at, concept=concept)
            total, evidence = found
            if not evidence:
                if not ctx.covered(day, day):
                    reason = (
                        f"no {concept.short_name} recorded on {fmt_date(day)}, "
                        f"but {ctx.coverage_text()}"
                    )
                    return Value(None, missing=(reason,), label=at, concept=concept)
                evidence.append(Evidence(at, f"no {concept.short_name} that day: 0 mg/day"))
            return Value(total, per_day, tuple(evidence), label=at, concept=concept, on=day)

        return daily_dose

    def new_grades(self, node: p.NewGrades) -> ValueFn:
        wanted = tuple(g.casefold() for g in node.grades)

        def new_grades(ctx: Context) -> Value:
            count = 0
            evidence: list[Evidence] = []
            undecided: list[str] = []
            try:
                for domain in node.domains:
                    found = new_grade(ctx, node, domain, wanted)
                    if isinstance(found, Evidence):
                        count += 1
                        evidence.append(found)
                    elif found is not None:
                        undecided.append(found)
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label=node.label)
            summary = (
                f"{count} of {len(node.domains)} domains newly graded {', '.join(node.grades)}"
            )
            if undecided:
                summary += f"; {len(undecided)} undecided"
            evidence.insert(0, Evidence(node.label, summary))
            return Value(
                Fraction(count),
                None,
                tuple(evidence),
                missing=tuple(undecided),
                lower_bound=bool(undecided),
                label=node.label,
            )

        return new_grades


# --------------------------------------------------------------------------- helpers


def find_event(query_fn: QueryFn, anchor: p.EventDate) -> Callable[[Context], Event]:
    """The earliest (latest) event of the anchor's query; NoEvent when the record shows there
    is none (absence is evidence for its kind and the window is covered), else MissingData."""
    node = anchor.event
    query = node.query

    def find(ctx: Context) -> Event:
        result = query_fn(ctx)
        if result.matched:
            return pick_one(result.matched, latest=node.op == "latest")[0]
        if result.undecided:
            raise MissingData("; ".join(reason for _, reason in result.undecided))
        if query.kind in ABSENCE_IS_EVIDENCE and result.covered:
            raise NoEvent(f"there is no {query.label} {query.window.text}")
        why = f", but {ctx.coverage_text()}" if query.kind in ABSENCE_IS_EVIDENCE else ""
        raise MissingData(f"no {query.label} recorded {query.window.text}{why}")

    return find


def sex(ctx: Context) -> Value:
    recorded = ctx.patient.sex
    if recorded is None or recorded == "unknown":
        return Value(None, missing=("the patient's sex is not recorded",), label="sex")
    return Value(recorded, evidence=(Evidence("sex", recorded),), label="sex")


def truth_value(condition: ExprFn) -> ValueFn:
    """A condition as a value: true or false when decided, missing otherwise."""

    def value(ctx: Context) -> Value:
        outcome = condition(ctx)
        if not outcome.truth.decided:
            return Value(None, evidence=outcome.evidence, missing=outcome.missing)
        return Value(outcome.truth is MET, evidence=outcome.evidence)

    return value


def count_value(ctx: Context, node: p.Aggregate, result: QueryResult) -> Value:
    """`count`: the matched events (the largest group, for `of the same type` / `in any`), a
    lower bound when the window is not covered or some events are undecided."""
    label, concept, query = node.label, node.query.concept, node.query
    cases, uncounted = counted_cases(ctx, node, result)
    notes: tuple[Evidence, ...] = ()
    if node.distinct:
        cases, note = distinct_types(cases, concept)
        notes = (note,)
    elif node.same_type or node.period is not None:
        cases, note = count_cases(cases, concept, node.same_type, node.period)
        notes = (note,)
    evidence = case_evidence(cases, label) + notes + result.details
    lower = not result.covered or bool(result.undecided) or bool(uncounted)
    # Events that could not be decided (a value that cannot be read) say why.
    undecided = tuple(dict.fromkeys(reason for _, reason in result.undecided)) + uncounted
    if query.kind not in ABSENCE_IS_EVIDENCE and not result.measured:
        # Results are measured or missing: with none in the window, the count of those that
        # would qualify is not known to be 0, as `any` is unknown there (docs: "Unknown").
        lower = True
        undecided += (f"no {query.label} recorded {query.window.text}",)
    return Value(
        Fraction(len(cases)),
        None,
        evidence,
        undecided,
        lower_bound=lower,
        label=label,
        concept=concept,
    )


TRENDS: dict[str, Callable[[p.Aggregate, tuple[Event, ...]], Value]] = {
    "percent change": percent_change,
    "doubling time": doubling_time,
    "consecutive rises": consecutive_rises,
}


def trend_value(
    trend: Callable[[p.Aggregate, tuple[Event, ...]], Value], node: p.Aggregate, result: QueryResult
) -> Value:
    """A trend over the window's results; one that cannot be decided (a value that cannot be
    read) leaves it missing, as for `min` and `max`."""
    if result.undecided:
        return Value(None, missing=tuple(r for _, r in result.undecided), label=node.label)
    if not result.matched:
        return no_events(node, result)
    return trend(node, result.matched)


def distinct_types(cases: list[Case], concept: ConceptSet) -> tuple[list[Case], Evidence]:
    """`count distinct`: one case per type -- the drug (condition, test...) of the queried class,
    as `of the same type` tells them apart (docs: "Counting by type and in any period")."""
    first: dict[str, Case] = {}
    for case in sorted(cases, key=lambda c: (c[1], c[0].id)):
        first.setdefault(case_type(case[0], concept), case)
    detail = ", ".join(first) if first else "none"
    return list(first.values()), Evidence("count distinct", f"{len(first)}: {detail}")


def counted_cases(
    ctx: Context, node: p.Aggregate, result: QueryResult
) -> tuple[list[Case], tuple[str, ...]]:
    """What a `count` counts: events, one on its start day -- but a medication exposure counts
    its administrations in the window (docs: "Administrations and cumulative doses"), records of
    one drug with the same days and daily dose once (docs: "Courses"); when the administrations
    cannot all be known, why (the count is then a lower bound). `count distinct` counts types,
    so an exposure is one case however many administrations it holds."""
    if node.query.kind != "medication" or node.distinct:
        return [(e, e.start) for e in result.matched], ()
    cases: list[Case] = []
    why: list[str] = []
    for event in without_duplicates(ctx, node.query.concept, list(result.matched)):
        days, unknown = administration_days(event, result.start, result.end)
        cases.extend((event, day) for day in days)
        if unknown is not None:
            why.append(unknown)
    return cases, tuple(why)


def case_evidence(cases: list[Case], label: str) -> tuple[Evidence, ...]:
    """One line per event counted; an exposure with several administrations says how many."""
    per_event: dict[str, list[Case]] = {}
    for case in cases:
        per_event.setdefault(case[0].id, []).append(case)
    out: list[Evidence] = []
    for group in per_event.values():
        event = group[0][0]
        if len(group) == 1 and group[0][1] == event.start:
            out.append(event_evidence(event, label))
        else:
            days = ", ".join(fmt_date(day) for _, day in group[:8])
            more = f" and {len(group) - 8} more" if len(group) > 8 else ""
            detail = f"{describe_event(event)}: {len(group)} administrations ({days}{more})"
            out.append(event_evidence(event, label, detail))
    return tuple(out)


def no_events(node: p.Aggregate, result: QueryResult) -> Value:
    query = node.query
    reason = f"no {query.kind} {query.concept.short_name} {query.window.text}"
    if result.undecided:
        reason += " that could be decided (" + "; ".join(r for _, r in result.undecided) + ")"
    return Value(None, missing=(reason,), label=node.label, concept=query.concept)


def one_event_value(ctx: Context, node: p.Aggregate, result: QueryResult) -> Value:
    """`latest` / `earliest` (by date, then id) / `nearest` (to the window's date)."""
    events = result.matched
    if not events:
        return no_events(node, result)
    if node.op in ("latest", "earliest"):
        chosen, tied = pick_one(events, latest=node.op == "latest")
        value = event_value(chosen, node.label, node.query.concept)
        return value if not tied else untied(node, value, tied)
    else:
        target = ctx.date(node.nearest_to) if node.nearest_to is not None else None
        chosen = min(
            events,
            key=lambda e: (abs((e.start - target).days) if target else 0, e.start),
        )
    return event_value(chosen, node.label, node.query.concept)


def untied(node: p.Aggregate, value: Value, tied: tuple[Event, ...]) -> Value:
    """The latest (earliest) value when other events of its day cannot be ordered against it:
    the same value decides; different values leave it unknown, naming them."""
    others = [event_value(e, node.label, node.query.concept) for e in tied]
    if all(o.value == value.value and o.unit == value.unit for o in others):
        return value
    events = [value.event, *tied]
    shown = "; ".join(describe_event(e) for e in events if e is not None)
    day = fmt_date(events[0].start if events[0] is not None else None)
    reason = (
        f"{len(events)} results of {node.query.concept.short_name} on {day} with different "
        f"values and no times to order them ({shown}): which is the {node.op} is not recorded"
    )
    evidence = tuple(event_evidence(e, node.label) for e in events if e is not None)
    return Value(None, evidence=evidence, missing=(reason,), label=node.label)


def over_values(node: p.Aggregate, result: QueryResult, canonical: Unit | None) -> Value:
    """`min` / `max` / `sum` over the events' numeric values, in one unit."""
    query, label = node.query, node.label
    concept = query.concept
    if not result.matched:
        return no_events(node, result)
    values: list[tuple[Range, Event]] = []
    unreadable: list[str] = []
    unit = canonical
    for event in result.matched:
        v = event_value(event, label, concept)
        if v.kind == UNREADABLE:
            unreadable.extend(v.missing)
        if not isinstance(v.value, Fraction):
            continue
        if unit is None:
            unit = v.unit
        try:
            converted = converted_range(v, unit, query.basis)
        except UnitError:
            continue
        values.append((converted, event))
    if unreadable:
        # The min, max or sum depends on every value in the window, so one that cannot be read
        # leaves it unknown (docs: "Values that cannot be read").
        return Value(None, missing=tuple(unreadable), label=label, concept=concept)
    if not values:
        missing = (f"no numeric {query.kind} {concept.short_name} {query.window.text}",)
        return Value(None, missing=missing, label=label)
    if any(r.exact is None for r, _ in values):
        return over_bounds(node, values, unit)
    numbers = [(r.exact, e) for r, e in values if r.exact is not None]
    if node.op == "sum":
        total = sum((v for v, _ in numbers), Fraction(0))
        evidence = tuple(event_evidence(e, label) for _, e in numbers)
        return Value(total, unit, evidence, label=label, concept=concept)
    pick = min if node.op == "min" else max
    value, event = pick(numbers, key=lambda item: item[0])
    return Value(
        value, unit, (event_evidence(event, label),), event=event, label=label, concept=concept
    )


def converted_range(value: Value, unit: Unit | None, basis: Basis) -> Range:
    """The values `value` allows, in `unit` (a bound converts end by end: every conversion
    keeps the order of values, docs/units.md)."""
    source = value.unit
    if source is None or unit is None or source == unit:
        return value.values()
    units = get_units()
    return value.values().map(lambda x: units.convert(x, source, unit, basis=basis))


def over_bounds(node: p.Aggregate, values: list[tuple[Range, Event]], unit: Unit | None) -> Value:
    """`min` / `max` / `sum` where some results are bounds: the range the answer lies in
    (docs: "Results reported as bounds"): the largest of `<0.5` and 0.3 is in [0.3, 0.5)."""
    label, concept = node.label, node.query.concept
    ranges = [r for r, _ in values]
    found = total(ranges) if node.op == "sum" else extreme(ranges, largest=node.op == "max")
    evidence = tuple(event_evidence(e, label) for _, e in values)
    if found.low is None and found.high is None:
        missing = (f"{label}: the bounds reported leave it at any value",)
        return Value(None, evidence=evidence, missing=missing, label=label, concept=concept)
    ends = [end.value for end in (found.high, found.low) if end is not None]
    result = Value(ends[0], unit, evidence, label=label, concept=concept, range=found)
    detail = f"{node.op} of {len(values)} results, some reported as bounds: {result.shown()}"
    return attrs.evolve(result, evidence=evidence + (Evidence(label, detail),))


def difference(a: Value, b: Value) -> Value:
    """`A - B`, in A's unit (docs: "Values relative to other values")."""
    label = f"{a.label} - {b.label}"
    evidence = tuple(dict.fromkeys(a.evidence + b.evidence))
    if a.value is None or b.value is None:
        return Value(None, evidence=evidence, missing=a.missing + b.missing, label=label)
    if not isinstance(a.value, Fraction) or not isinstance(b.value, Fraction):
        return Value(None, evidence=evidence, missing=(f"{label}: not numbers",), label=label)
    if b.lower_bound:
        missing = (f"{b.label} is only known to be at least {format_number(b.value)}",)
        return Value(None, evidence=evidence, missing=missing, label=label)
    try:
        right, right_range = b.value, b.range
        if a.unit is not None and b.unit is not None and a.unit != b.unit:
            basis = basis_of(a.concept or b.concept)
            source, target = b.unit, a.unit

            def convert(x: Fraction) -> Fraction:
                return get_units().convert(x, source, target, basis=basis)

            right = convert(b.value)
            right_range = None if right_range is None else right_range.map(convert)
    except UnitError as error:
        return Value(None, evidence=evidence, missing=(f"{label}: {error}",), label=label)
    value = a.value - right
    both = None
    if a.range is not None or right_range is not None:
        # Bounds subtract as ranges (docs: "Results reported as bounds"): `<5 - 2` is `<3`.
        right_values = right_range or Range.point(right)
        both = a.values().minus(right_values)
        if both.low is None and both.high is None:
            missing = (f"{label}: {a.shown()} - {b.shown()} can be any value",)
            return Value(None, evidence=evidence, missing=missing, label=label)
    result = Value(
        value,
        a.unit,
        evidence,
        missing=a.missing,
        lower_bound=a.lower_bound,
        concept=a.concept or b.concept,
        label=label,
        range=both,
    )
    shown_right = (right_range or Range.point(right)).text(lambda x: fmt_quantity(x, a.unit))
    detail = f"{a.shown()} - {shown_right} = {result.shown()}"
    return attrs.evolve(result, evidence=evidence + (Evidence(label, detail),))


Grade = tuple[str | None, Event | None, str]


def grade_in(
    ctx: Context,
    node: p.NewGrades,
    domain: p.GradeDomain,
    window: p.Window,
    nearest_to: p.Anchor | None,
) -> Grade:
    """A domain's grade in a window: the result nearest the date of an `at` window, else the
    latest; or why there is none (docs: "New grades")."""
    start, end = resolve(window, ctx, None)
    kind = node.kind
    events = [e for e in ctx.events(kind, domain.concept) if overlaps(e, start, end, kind, False)]
    if not events:
        return None, None, f"no {domain.concept.short_name} {window.text}"
    if nearest_to is not None:
        target = ctx.date(nearest_to)
        chosen = min(events, key=lambda e: (abs((e.start - target).days), e.start, e.id))
    else:
        chosen = max(events, key=lambda e: (e.start, e.id))
    raw: Any = getattr(chosen, "value", None)
    grade = str(raw).strip().casefold() if isinstance(raw, str) else None
    if grade is None or grade not in domain.grades:
        return None, chosen, f"{describe_event(chosen)}: not a grade"
    return grade, chosen, ""


def new_grade(
    ctx: Context, node: p.NewGrades, domain: p.GradeDomain, wanted: tuple[str, ...]
) -> Evidence | str | None:
    """Evidence when the domain is newly graded one of `wanted`; why it is undecided; or None
    when it is decided not new."""
    order = domain.grades
    now, now_event, now_why = grade_in(ctx, node, domain, node.window, node.window_nearest_to)
    then, then_event, then_why = grade_in(
        ctx, node, domain, node.reference, node.reference_nearest_to
    )
    name = domain.concept.short_name
    if now is not None and then is not None:
        if now in wanted and order.index(then) > order.index(now):
            assert now_event is not None and then_event is not None
            return Evidence(
                f"new {now.upper()} {name}",
                f"{then.upper()} on {fmt_date(then_event.start)} -> "
                f"{now.upper()} on {fmt_date(now_event.start)}",
                now_event.id,
                fmt_date(now_event.start),
            )
        return None
    if now is not None and now not in wanted:
        return None  # not graded any of the wanted grades now: not new
    if then is not None and all(order.index(then) <= order.index(g) for g in wanted):
        return None  # already at least as severe at the reference: cannot be new
    return f"{name}: {now_why or then_why}"

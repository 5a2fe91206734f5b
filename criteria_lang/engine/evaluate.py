"""The evaluator: compiled rules against one patient timeline, in three-valued logic.

Each node of the checked tree is compiled once into a small closure (no eval, no exec); running a
trial on a patient calls the closures with a per-patient context. Every result carries its
evidence, and an undecided one says what is missing or what to ask. The semantics are those of
docs/language.md; the section names there are cited in comments here.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Any, Literal

import attrs

from criteria_lang.check.checker import (
    BuiltinSymbol,
    CompiledRules,
    ConceptSymbol,
    DefineSymbol,
    Module,
    OutcomeSymbol,
    dose_shape,
    grade_domains,
    grade_order,
    molar_mass_of,
)
from criteria_lang.core.concepts import ConceptSet, QuantityAttr, UnitAttr
from criteria_lang.core.dates import (
    OutOfCalendar,
    add_days,
    approximate_days,
    completed_months,
    completed_years,
    period_last_day,
    run_reaches,
    shift,
)
from criteria_lang.core.derived import Builtin, Input
from criteria_lang.core.diagnostics import clip
from criteria_lang.core.results import CriterionResult, Evidence, PatientResult, Truth, overall
from criteria_lang.core.units import IncompatibleUnits, Unit, UnitError, get_units
from criteria_lang.records.timeline import (
    Code,
    Condition,
    Event,
    Fact,
    Measurement,
    MedicationExposure,
    Patient,
    Quantity,
    Visit,
    find_visit,
    format_number,
)
from criteria_lang.syntax import nodes as n

MET, NOT_MET, UNKNOWN, REVIEW = Truth.MET, Truth.NOT_MET, Truth.UNKNOWN, Truth.REVIEW

AbsencePolicy = Literal["coverage", "closed-world"]

# How far from a dose the weight/height used for mg/kg and mg/m2 may be (docs: "Doses").
BODY_MEASURE_TOLERANCE_DAYS = 365
# Kinds whose absence inside the covered span means "did not happen" (docs: "Unknown").
ABSENCE_IS_EVIDENCE = frozenset({"condition", "medication", "procedure"})

# --------------------------------------------------------------------------- values


@attrs.frozen(slots=True)
class Outcome:
    truth: Truth
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class Value:
    """An operand's value. `value is None` means missing (see `missing`)."""

    value: Fraction | str | bool | None
    unit: Unit | None = None
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()
    lower_bound: bool = False  # a count in a window the record does not fully cover
    event: Event | None = None
    concept: ConceptSet | None = None
    label: str = ""
    kind: str = ""  # "age" for ages (compared in completed units); UNREADABLE
    birth: dt.date | None = None
    on: dt.date | None = None
    base: Value | None = None  # `P % of V`: V, for the change shown in evidence


# `Value.kind` of an event's value whose unit cannot be read (docs: "Values that cannot be read").
UNREADABLE = "unreadable"


class MissingData(Exception):
    """Raised inside compiled closures when a named date or the birth date is absent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownHalfLife(Exception):
    """An `N half-lives` window end for a drug that declares no half-life (docs: "Time").

    `day` is the end the other options of `max(...)` give (the anchor when there are none).
    """

    def __init__(self, day: dt.date, reason: str) -> None:
        super().__init__(reason)
        self.day = day
        self.reason = reason


def fmt_date(day: dt.date | None) -> str:
    return day.isoformat() if day else "?"


def fmt_quantity(value: Fraction, unit: Unit | None) -> str:
    text = unit.text if unit is not None and unit.text not in ("1", "") else ""
    return f"{format_number(value)} {text}".strip()


# --------------------------------------------------------------------------- context


class Context:
    """Per-patient state: the record, indexes built once, memoized query results."""

    __slots__ = (
        "patient",
        "policy",
        "by_kind",
        "memo",
        "criterion_id",
        "units",
        "visit",
        "previous_visit",
    )

    def __init__(
        self,
        patient: Patient,
        policy: AbsencePolicy,
        *,
        visit: Visit | None = None,
        previous_visit: Visit | None = None,
    ) -> None:
        # `visit` is the visit being judged when an outcome is evaluated (docs: "Outcomes").
        self.visit = visit
        self.previous_visit = previous_visit
        self.patient = patient
        self.policy = policy
        by_kind: dict[str, list[Event]] = {}
        for event in patient.events:
            by_kind.setdefault(event.kind, []).append(event)
        for events in by_kind.values():
            events.sort(key=lambda e: e.start)
        self.by_kind = by_kind
        self.memo: dict[Any, Any] = {}
        self.criterion_id = ""
        self.units = get_units()

    def date(self, name: str) -> dt.date:
        if name == n.VISIT or name == n.PREVIOUS_VISIT or name.startswith('visit "'):
            return self.visit_date(name)
        day = self.patient.dates.get(name)
        if day is None:
            raise MissingData(f"the patient's {name} date is not recorded")
        return day

    def visit_date(self, text: str) -> dt.date:
        """The date a `VisitAnchor` names: the judged visit, the one before it, or a named one."""
        if text == n.VISIT:
            if self.visit is None:
                raise MissingData("no visit is being judged (`visit` is for outcomes)")
            return self.visit.date
        if text == n.PREVIOUS_VISIT:
            if self.visit is None:
                raise MissingData("no visit is being judged (`previous visit` is for outcomes)")
            if self.previous_visit is None:
                visit = self.visit
                raise MissingData(
                    f"the patient has no visit before {visit.name} ({fmt_date(visit.date)})"
                )
            return self.previous_visit.date
        wanted = json.loads(text[len("visit ") :])
        found = find_visit(self.patient.visits, wanted)
        if found is None:
            raise MissingData(f"the patient has no visit named '{wanted}'")
        return found.date

    def events(self, kind: str, concept: ConceptSet) -> list[Event]:
        """The patient's events of `kind` that match `concept`, by date (then record order)."""
        key = (kind, concept.name)
        found = self.memo.get(key)
        if found is None:
            # Match each distinct set of codes once, not each event (see `code_groups`).
            hits = concept.select(self.code_groups(kind))
            events = self.by_kind.get(kind, [])
            if not hits:
                found = []
            elif len(hits) == 1:
                found = [events[i] for i in hits[0]]
            else:
                found = [events[i] for i in sorted(i for places in hits for i in places)]
            self.memo[key] = found
        return found

    def covered(self, start: dt.date | None, end: dt.date | None) -> bool:
        """Does the record cover [start, end]? An open start means "since the record began"
        (only the end must be covered); see docs/language.md, "Unknown"."""
        if self.policy == "closed-world":
            return True
        spans = self.patient.coverage
        if not spans:
            return False
        if start is None and end is None:
            return True
        if start is None:
            return any(s.contains(end) for s in spans)  # type: ignore[arg-type]
        if end is None:
            end = max((s.end for s in spans if s.end is not None), default=start)
            if any(s.end is None and s.start <= start for s in spans):
                return True
        # Walk the spans in order, extending the covered prefix from `start` (in day numbers:
        # the day before 0001-01-01 and after 9999-12-31 are no dates).
        reach, last = start.toordinal() - 1, end.toordinal()
        for span in sorted(spans, key=lambda s: s.start):
            if span.start.toordinal() <= reach + 1:
                if span.end is None:
                    return True
                reach = max(reach, span.end.toordinal())
            if reach >= last:
                return True
        return reach >= last

    def coverage_text(self) -> str:
        spans = self.patient.coverage
        if not spans:
            return "the record declares no coverage span"
        return "the record covers " + ", ".join(
            f"{fmt_date(s.start)}..{fmt_date(s.end) if s.end else 'open'}" for s in spans
        )

    def code_groups(self, kind: str) -> list[tuple[object, tuple[Code, ...], list[int]]]:
        key = ("code groups", kind)
        groups = self.memo.get(key)
        if groups is None:
            groups = self.memo[key] = code_groups(self.by_kind.get(kind, ()))
        return groups  # type: ignore[no-any-return]

    def measures(self, spec: Input) -> list[Measurement]:
        """The patient's numeric measurements of `spec` (weight, creatinine...), by date."""
        key = ("measures", spec.key)
        found = self.memo.get(key)
        if found is None:
            groups = self.code_groups(spec.kind)
            places = sorted(
                i for _, codes, ps in groups if _input_codes_match(spec, codes) for i in ps
            )
            events = self.by_kind.get(spec.kind, [])
            found = [
                e
                for e in (events[i] for i in places)
                if isinstance(e, Measurement) and isinstance(e.value, Quantity)
            ]
            self.memo[key] = found
        return found

    def nearest_measure(
        self, spec: Input, day: dt.date, tolerance_days: int
    ) -> tuple[Fraction, Event] | str | None:
        """The measurement of `spec` nearest to `day` (ties: the earlier), in spec.unit; or why
        the nearest one cannot be used (its unit cannot be read or converted: a farther one is
        not taken in its place, docs: "Values that cannot be read")."""
        key = ("nearest", spec.key, day, tolerance_days)
        if key in self.memo:
            return self.memo[key]  # type: ignore[no-any-return]
        best: tuple[int, Fraction | str, Event] | None = None
        for event in self.measures(spec):
            distance = abs((event.start - day).days)
            if distance > tolerance_days:
                continue
            if best is not None and distance >= best[0]:
                continue
            value: Fraction | str
            if not isinstance(event.value, Quantity):
                continue
            try:
                value = convert_quantity(event.value, spec.unit, spec.molar_mass)
            except UnitError as error:
                value = unit_problem(event, error, "the value")
            best = (distance, value, event)
        result: tuple[Fraction, Event] | str | None = None
        if best is not None:
            result = best[1] if isinstance(best[1], str) else (best[1], best[2])
        self.memo[key] = result
        return result


def _input_codes_match(spec: Input, codes: tuple[Code, ...]) -> bool:
    for code in codes:
        if code.system == "concept" and code.code in spec.concept_names:
            return True
        if (code.system, code.code) in spec.codes:
            return True
    return False


def code_groups(events: Sequence[Event]) -> list[tuple[object, tuple[Code, ...], list[int]]]:
    """The events' distinct codes, each with the places of the events that carry them, in the
    form `ConceptSet.select` takes.

    Readers share one Code object per distinct code, so identity groups them without hashing
    (codes that are equal but not shared only make more groups, never a wrong one).
    """
    groups: dict[object, tuple[object, tuple[Code, ...], list[int]]] = {}
    for place, event in enumerate(events):
        codes = event.codes
        key = id(codes[0]) if len(codes) == 1 else tuple(map(id, codes))
        group = groups.get(key)
        if group is None:
            groups[key] = (key, codes, [place])
        else:
            group[2].append(place)
    return list(groups.values())


def unit_of(quantity: Quantity) -> Unit:
    units = get_units()
    return units.parse_ucum(quantity.unit) if quantity.ucum else units.parse(quantity.unit)


def convert_quantity(
    quantity: Quantity, target: str | Unit, molar_mass: Fraction | None
) -> Fraction:
    return get_units().convert(quantity.value, unit_of(quantity), target, molar_mass=molar_mass)


# --------------------------------------------------------------------------- three-valued logic


def combine_and(outcomes: Sequence[Outcome]) -> Outcome:
    failed = [o for o in outcomes if o.truth is NOT_MET]
    if failed:
        return Outcome(NOT_MET, _evidence(failed))
    return _undecided_or(outcomes, MET)


def combine_or(outcomes: Sequence[Outcome]) -> Outcome:
    passed = [o for o in outcomes if o.truth is MET]
    if passed:
        return Outcome(MET, _evidence(passed))
    return _undecided_or(outcomes, NOT_MET)


def _undecided_or(outcomes: Sequence[Outcome], decided: Truth) -> Outcome:
    unknown = [o for o in outcomes if o.truth is UNKNOWN]
    review = [o for o in outcomes if o.truth is REVIEW]
    if unknown or review:
        # Missing data comes first: a reviewer should see the record complete.
        truth = UNKNOWN if unknown else REVIEW
        return Outcome(
            truth,
            _evidence(outcomes),
            tuple(m for o in unknown for m in o.missing),
            tuple(q for o in unknown + review for q in o.questions),
        )
    return Outcome(decided, _evidence(outcomes))


def _evidence(outcomes: Iterable[Outcome]) -> tuple[Evidence, ...]:
    seen: dict[Evidence, None] = {}
    for outcome in outcomes:
        for item in outcome.evidence:
            seen[item] = None
    return tuple(seen)


def negate(outcome: Outcome) -> Outcome:
    if outcome.truth is MET:
        return attrs.evolve(outcome, truth=NOT_MET)
    if outcome.truth is NOT_MET:
        return attrs.evolve(outcome, truth=MET)
    return outcome


def compare_values(left: Fraction, op: str, right: Fraction) -> bool:
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    raise ValueError(op)


def in_bounds(value: Fraction, low: Fraction, high: Fraction, bounds: str) -> bool:
    low_ok = value >= low if bounds in ("inclusive", "left-inclusive") else value > low
    high_ok = value <= high if bounds in ("inclusive", "right-inclusive") else value < high
    return low_ok and high_ok


def parse_titer(value: object) -> Fraction | None:
    if isinstance(value, str) and ":" in value:
        head, _, tail = value.strip().partition(":")
        if head.strip() == "1":
            try:
                return Fraction(tail.strip())
            except ValueError:
                return None
    return None


# --------------------------------------------------------------------------- queries


@attrs.frozen(slots=True)
class QueryResult:
    matched: tuple[Event, ...]
    undecided: tuple[tuple[Event, str], ...]
    measured: bool  # any event of the concept in the window, before the filters
    covered: bool
    start: dt.date | None
    end: dt.date | None
    details: tuple[Evidence, ...] = ()  # evidence computed by filters (doses, runs)


ExprFn = Callable[[Context], Outcome]
ValueFn = Callable[[Context], Value]
QueryFn = Callable[[Context], QueryResult]


class Compiler:
    """Compiles checked nodes into closures. One per CompiledRules; reusable for any patient."""

    def __init__(self, program: CompiledRules) -> None:
        self.program = program
        self.units = get_units()
        self.define_cache: dict[tuple[int, str], Any] = {}

    # ------------------------------------------------------------------ names
    def concept(self, ref: n.Ref, module: Module) -> ConceptSet:
        symbol = module.lookup(ref.parts)
        assert isinstance(symbol, ConceptSymbol), f"unchecked reference {ref.dotted}"
        return symbol.concept

    def index_date(self, module: Module) -> str:
        index = self.program.index_date
        assert index is not None
        return index

    # ------------------------------------------------------------------ expressions
    def expr(self, node: n.Expr, module: Module) -> ExprFn:
        if isinstance(node, n.And):
            parts = [self.expr(o, module) for o in node.operands]

            def and_(ctx: Context) -> Outcome:
                outcomes = []
                for part in parts:
                    outcome = part(ctx)
                    outcomes.append(outcome)
                return combine_and(outcomes)

            return and_
        if isinstance(node, n.Or):
            parts = [self.expr(o, module) for o in node.operands]
            return lambda ctx: combine_or([p(ctx) for p in parts])
        if isinstance(node, n.Not):
            inner = self.expr(node.operand, module)
            return lambda ctx: negate(inner(ctx))
        if isinstance(node, n.AtLeast):
            return self.at_least(node, module)
        if isinstance(node, n.Review):
            return self.review(node)
        if isinstance(node, n.Conditional):
            return self.conditional(node, module)
        if isinstance(node, n.Truth):
            return self.truth(node.operand, module)
        if isinstance(node, n.Compare):
            return self.compare(node, module)
        if isinstance(node, n.Between):
            return self.between(node, module)
        if isinstance(node, n.IsValue):
            return self.is_value(node, module)
        if isinstance(node, n.InValues):
            return self.in_values(node, module)
        raise AssertionError(f"cannot evaluate {type(node).__name__}")

    def at_least(self, node: n.AtLeast, module: Module) -> ExprFn:
        parts = [self.expr(o, module) for o in node.operands]
        needed = node.count

        def at_least(ctx: Context) -> Outcome:
            outcomes = [p(ctx) for p in parts]
            met = [o for o in outcomes if o.truth is MET]
            open_ = [o for o in outcomes if not o.truth.decided]
            if len(met) >= needed:
                return Outcome(MET, _evidence(met))
            if len(met) + len(open_) < needed:
                return Outcome(NOT_MET, _evidence(outcomes))
            outcome = _undecided_or(open_, UNKNOWN)
            note = Evidence(
                f"at least {needed} of {len(parts)}", f"{len(met)} met, {len(open_)} open"
            )
            return attrs.evolve(outcome, evidence=(note,) + _evidence(met))

        return at_least

    def review(self, node: n.Review) -> ExprFn:
        question = node.question

        def review(ctx: Context) -> Outcome:
            answer = ctx.patient.reviews.get(ctx.criterion_id)
            if answer is None:
                return Outcome(REVIEW, questions=(question,))
            who = f" by {answer.by}" if answer.by else ""
            when = f" on {fmt_date(answer.date)}" if answer.date else ""
            note = f": {answer.note}" if answer.note else ""
            evidence = Evidence(
                "review", f"answered {'yes' if answer.met else 'no'}{who}{when}{note}"
            )
            return Outcome(MET if answer.met else NOT_MET, (evidence,))

        return review

    def conditional(self, node: n.Conditional, module: Module) -> ExprFn:
        cond = self.expr(node.condition, module)
        then = self.expr(node.then, module)
        other = self.expr(node.otherwise, module)

        def conditional(ctx: Context) -> Outcome:
            c = cond(ctx)
            if c.truth is MET:
                result = then(ctx)
                return attrs.evolve(result, evidence=c.evidence + result.evidence)
            if c.truth is NOT_MET:
                result = other(ctx)
                return attrs.evolve(result, evidence=c.evidence + result.evidence)
            a, b = then(ctx), other(ctx)
            if a.truth.decided and a.truth is b.truth:
                return Outcome(a.truth, _evidence([a, b]))
            return Outcome(c.truth, c.evidence, c.missing + a.missing + b.missing, c.questions)

        return conditional

    def truth(self, operand: n.Operand, module: Module) -> ExprFn:
        if isinstance(operand, n.Exists):
            return self.exists(operand, module)
        if isinstance(operand, n.Ref) and isinstance(module.lookup(operand.parts), DefineSymbol):
            symbol = module.lookup(operand.parts)
            assert isinstance(symbol, DefineSymbol)
            body = symbol.define.expr
            key = (id(symbol.module), symbol.define.name.text)
            if key not in self.define_cache:
                self.define_cache[key] = None  # cycles are rejected by the checker
                if isinstance(body, n.Exists):
                    self.define_cache[key] = self.exists(body, symbol.module)
                else:
                    self.define_cache[key] = self.expr(body, symbol.module)  # type: ignore[arg-type]
            fn = self.define_cache[key]
            return lambda ctx: fn(ctx)
        if isinstance(operand, n.Ref):
            return self.outcome_reference(operand, module)
        raise AssertionError("checker lets only queries and definitions be conditions")

    # ------------------------------------------------------------------ comparisons
    def compare(self, node: n.Compare, module: Module) -> ExprFn:
        left = self.operand(node.left, module)
        op = node.op
        right_node = node.right
        if isinstance(right_node, n.LimitLit):
            return self.compare_limit(left, op, right_node)
        if isinstance(right_node, n.TiterLit):
            threshold = right_node.dilution
            text = f"1:{format_number(threshold)}"

            def compare_titer(ctx: Context) -> Outcome:
                value = left(ctx)
                if value.value is None:
                    return Outcome(UNKNOWN, value.evidence, value.missing)
                titer = parse_titer(value.value)
                if titer is None and isinstance(value.value, Fraction):
                    titer = value.value
                if titer is None:
                    return Outcome(
                        UNKNOWN,
                        value.evidence,
                        (f"{value.label} '{clip(str(value.value), 100)}' is not a titer",),
                    )
                ok = compare_values(titer, op, threshold)
                detail = f"1:{format_number(titer)} {op} {text}: {'yes' if ok else 'no'}"
                return Outcome(
                    MET if ok else NOT_MET, value.evidence + (Evidence(value.label, detail),)
                )

            return compare_titer
        right = self.operand(right_node, module)

        def compare(ctx: Context) -> Outcome:
            return self.decide(left(ctx), op, right(ctx), ctx)

        return compare

    def decide(self, a: Value, op: str, b: Value, ctx: Context) -> Outcome:
        evidence = a.evidence + b.evidence
        if a.value is None or b.value is None:
            return Outcome(UNKNOWN, evidence, a.missing + b.missing)
        if a.kind == "age" and b.unit is not None:
            a = self.age_in(a, b.unit)
        try:
            left, right, shown = self.aligned(a, b)
        except (UnitError, IncompatibleUnits) as error:
            return Outcome(UNKNOWN, evidence, (f"cannot compare {a.label}: {error}",))
        except TypeError:
            shown = clip(str(a.value), 100)
            return Outcome(
                UNKNOWN, evidence, (f"{a.label} '{shown}' cannot be compared with {b.value}",)
            )
        if a.lower_bound and not b.lower_bound:
            # A count in a partly covered window: the true count is at least `left`.
            if op in (">", ">=") and compare_values(left, op, right):
                return Outcome(
                    MET,
                    evidence
                    + (Evidence(a.label, f"{shown} {op} {fmt_quantity(right, b.unit)}: yes"),),
                )
            if op in ("<", "<=") and not compare_values(left, op, right):
                return Outcome(
                    NOT_MET,
                    evidence
                    + (Evidence(a.label, f"{shown} {op} {fmt_quantity(right, b.unit)}: no"),),
                )
            if op == "=" and left > right:  # a lower bound already above the target
                detail = f"{shown} {op} {fmt_quantity(right, b.unit)}: no"
                return Outcome(NOT_MET, evidence + (Evidence(a.label, detail),))
            why = "; ".join(a.missing) if a.missing else ctx.coverage_text()
            return Outcome(
                UNKNOWN,
                evidence,
                (f"{a.label} is at least {shown}, but {why}",),
            )
        ok = compare_values(left, op, right)
        detail = f"{shown} {op} {fmt_quantity(right, b.unit)}: {'yes' if ok else 'no'}"
        evidence = evidence + change_evidence(a, b)
        return Outcome(MET if ok else NOT_MET, evidence + (Evidence(a.label or "value", detail),))

    def aligned(self, a: Value, b: Value) -> tuple[Fraction, Fraction, str]:
        """Both values as Fractions in the threshold's unit (b's), exactly."""
        if not isinstance(a.value, Fraction) or not isinstance(b.value, Fraction):
            raise TypeError
        left = a.value
        shown = fmt_quantity(left, a.unit)
        if a.unit is not None and b.unit is not None and a.unit != b.unit:
            molar = molar_mass_of(a.concept or b.concept)
            left = self.units.convert(left, a.unit, b.unit, molar_mass=molar)
            shown = f"{fmt_quantity(left, b.unit)} (from {fmt_quantity(a.value, a.unit)})"
        return left, b.value, shown

    def age_in(self, age: Value, unit: Unit) -> Value:
        """An age compared with months or days is counted in completed months/days."""
        assert age.birth is not None and age.on is not None
        for name, fn in (("months", completed_months),):
            if unit == self.units.parse(name):
                return attrs.evolve(age, value=Fraction(fn(age.birth, age.on)), unit=unit)
        for name in ("days", "weeks"):
            if unit == self.units.parse(name):
                days = Fraction((age.on - age.birth).days)
                return attrs.evolve(age, value=days, unit=self.units.parse("days"))
        return age

    def compare_limit(self, left: ValueFn, op: str, limit: n.LimitLit) -> ExprFn:
        multiple, which = limit.multiple, limit.limit
        attr_name = "upper_limit" if which == "ULN" else "lower_limit"

        def compare_limit(ctx: Context) -> Outcome:
            value = left(ctx)
            if value.value is None:
                return Outcome(UNKNOWN, value.evidence, value.missing)
            event = value.event
            bound: Quantity | None = None
            source = "the result's reference range"
            if isinstance(event, Measurement) and event.reference_range is not None:
                rr = event.reference_range
                bound = rr.high if which == "ULN" else rr.low
            if bound is None and value.concept is not None:
                attr = value.concept.attribute_for(event.codes if event else (), attr_name)
                if isinstance(attr, QuantityAttr):
                    bound = Quantity(attr.value, attr.unit)
                    source = f"the stdlib's {attr_name} for {value.concept.short_name}"
            if bound is None:
                return Outcome(
                    UNKNOWN,
                    value.evidence,
                    (
                        f"{value.label} has no reference range and the stdlib declares no "
                        f"{attr_name}",
                    ),
                )
            try:
                limit_value = (
                    convert_quantity(bound, value.unit, molar_mass_of(value.concept))
                    if value.unit
                    else bound.value
                )
            except UnitError as error:
                if event is None:
                    reason = f"{value.label}: reference range: {error}"
                else:
                    reason = unit_problem(event, error, "the reference range")
                return Outcome(UNKNOWN, value.evidence, (reason,))
            threshold = multiple * limit_value
            assert isinstance(value.value, Fraction)
            ok = compare_values(value.value, op, threshold)
            detail = (
                f"{fmt_quantity(value.value, value.unit)} {op} {format_number(multiple)} x {which} "
                f"({fmt_quantity(threshold, value.unit)}, "
                f"{which} {fmt_quantity(limit_value, value.unit)} "
                f"from {source}): {'yes' if ok else 'no'}"
            )
            return Outcome(
                MET if ok else NOT_MET, value.evidence + (Evidence(value.label, detail),)
            )

        return compare_limit

    def between(self, node: n.Between, module: Module) -> ExprFn:
        value_fn = self.operand(node.operand, module)
        low_fn = self.operand(node.low, module)
        high_fn = self.operand(node.high, module)
        bounds = node.bounds

        def between(ctx: Context) -> Outcome:
            value, low, high = value_fn(ctx), low_fn(ctx), high_fn(ctx)
            evidence = value.evidence
            if value.value is None or low.value is None or high.value is None:
                return Outcome(UNKNOWN, evidence, value.missing + low.missing + high.missing)
            if value.kind == "age" and low.unit is not None:
                value = self.age_in(value, low.unit)
            try:
                v_low, lo, shown = self.aligned(value, low)
                hi = high.value
                if isinstance(hi, Fraction) and high.unit is not None and low.unit is not None:
                    hi = self.units.convert(hi, high.unit, low.unit)
                if not isinstance(hi, Fraction):
                    raise TypeError
            except (UnitError, IncompatibleUnits, TypeError) as error:
                return Outcome(UNKNOWN, evidence, (f"cannot compare {value.label}: {error}",))
            ok = in_bounds(v_low, lo, hi, bounds)
            detail = (
                f"{shown} between {fmt_quantity(lo, low.unit)} and {fmt_quantity(hi, low.unit)} "
                f"({bounds}): {'yes' if ok else 'no'}"
            )
            evidence = tuple(dict.fromkeys(evidence + low.evidence + high.evidence))
            evidence = evidence + change_evidence(value, low)
            return Outcome(MET if ok else NOT_MET, evidence + (Evidence(value.label, detail),))

        return between

    def is_value(self, node: n.IsValue, module: Module) -> ExprFn:
        value_fn = self.operand(node.operand, module)
        word, negated = node.word, node.negated

        def is_value(ctx: Context) -> Outcome:
            value = value_fn(ctx)
            if word in ("present", "absent"):
                present = value.value is not None
                ok = present if word == "present" else not present
            else:
                if value.value is None:
                    return Outcome(UNKNOWN, value.evidence, value.missing)
                event = value.event
                if isinstance(event, Measurement) and isinstance(event.value, Quantity):
                    # A numeric result: positive above its reference range (docs: "Values").
                    judged = numeric_word(event, event.value, value.concept, word)
                    if isinstance(judged, str):
                        return Outcome(UNKNOWN, value.evidence, (judged,))
                    ok_maybe: bool | None = judged
                else:
                    ok_maybe = matches_word(value.value, word)
                if ok_maybe is None:
                    return Outcome(
                        UNKNOWN,
                        value.evidence,
                        (
                            f"{value.label} '{clip(str(value.value), 100)}' is neither {word} "
                            "nor its opposite",
                        ),
                    )
                ok = ok_maybe
            if negated:
                ok = not ok
            shown = clip(str(value.value), 100)
            detail = f"{shown} is {'not ' if negated else ''}{word}: {'yes' if ok else 'no'}"
            return Outcome(
                MET if ok else NOT_MET, value.evidence + (Evidence(value.label, detail),)
            )

        return is_value

    def in_values(self, node: n.InValues, module: Module) -> ExprFn:
        value_fn = self.operand(node.operand, module)
        wanted = {v.casefold() for v in node.values}

        def in_values(ctx: Context) -> Outcome:
            value = value_fn(ctx)
            if value.value is None:
                return Outcome(UNKNOWN, value.evidence, value.missing)
            ok = str(value.value).casefold() in wanted
            shown = clip(str(value.value), 100)
            detail = f"{shown} in ({', '.join(node.values)}): {'yes' if ok else 'no'}"
            return Outcome(
                MET if ok else NOT_MET, value.evidence + (Evidence(value.label, detail),)
            )

        return in_values

    # ------------------------------------------------------------------ operands
    def operand(self, node: n.Operand, module: Module) -> ValueFn:
        if isinstance(node, n.QuantityLit):
            unit = self.units.parse(node.unit) if node.unit else None
            constant = Value(node.value, unit, label=fmt_quantity(node.value, unit))
            return lambda ctx: constant
        if isinstance(node, n.Age):
            return self.age(node)
        if isinstance(node, n.Sex):

            def sex(ctx: Context) -> Value:
                recorded = ctx.patient.sex
                if recorded is None or recorded == "unknown":
                    return Value(None, missing=("the patient's sex is not recorded",), label="sex")
                return Value(recorded, evidence=(Evidence("sex", recorded),), label="sex")

            return sex
        if isinstance(node, n.DerivedValue):
            return self.derived(node, module)
        if isinstance(node, n.Aggregate):
            return self.aggregate(node, module)
        if isinstance(node, (n.PercentOf, n.Difference, n.DailyDose, n.NewGrades)):
            return self.relative_operand(node, module)
        if isinstance(node, n.Exists):
            exists = self.exists(node, module)

            def exists_value(ctx: Context) -> Value:
                outcome = exists(ctx)
                if not outcome.truth.decided:
                    return Value(None, evidence=outcome.evidence, missing=outcome.missing)
                return Value(outcome.truth is MET, evidence=outcome.evidence)

            return exists_value
        if isinstance(node, n.Ref):
            symbol = module.lookup(node.parts)
            if isinstance(symbol, DefineSymbol):
                body = symbol.define.expr
                key = (id(symbol.module), "value:" + symbol.define.name.text)
                if key not in self.define_cache:
                    self.define_cache[key] = self.operand(body, symbol.module)  # type: ignore[arg-type]
                fn = self.define_cache[key]
                return lambda ctx: fn(ctx)
        raise AssertionError(f"cannot evaluate operand {type(node).__name__}")

    def age(self, node: n.Age) -> ValueFn:
        anchor = node.anchor.text
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
                f"age at {anchor}",
                f"{value} years (born {fmt_date(birth)}, {anchor} {fmt_date(on)})",
            )
            return Value(
                value, years, (evidence,), label=f"age at {anchor}", kind="age", birth=birth, on=on
            )

        return age

    def derived(self, node: n.DerivedValue, module: Module) -> ValueFn:
        symbol = module.lookup(node.function.parts)
        assert isinstance(symbol, BuiltinSymbol)
        builtin: Builtin = symbol.builtin
        anchor = node.anchor.text
        tolerance = BODY_MEASURE_TOLERANCE_DAYS
        if isinstance(node.tolerance, n.Duration):
            tolerance = int(approximate_days(node.tolerance.amount, node.tolerance.unit))
        unit = self.units.parse(builtin.unit)
        label = f"{builtin.name} at {anchor}"

        def derived(ctx: Context) -> Value:
            try:
                on = ctx.date(anchor)
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label=label)
            return compute_builtin(ctx, builtin, on, tolerance, unit, label)

        return derived

    # ------------------------------------------------------------------ aggregates
    def aggregate(self, node: n.Aggregate, module: Module) -> ValueFn:
        query_fn = self.query(node.query, module)
        concept = self.concept(node.query.concept, module)
        op = node.op
        kind = node.query.kind
        label = f"{op} {kind} {concept.short_name}"
        canonical: Unit | None = None
        unit_attr = concept.attributes.get("unit")
        if isinstance(unit_attr, UnitAttr):
            canonical = self.units.parse(unit_attr.unit)
        molar = molar_mass_of(concept)
        window_text = describe_window(node.query.window)
        anchor_name = node.query.window.anchor.text if node.query.window.anchor else None
        same_type = node.query.same_type
        period = node.query.period if isinstance(node.query.period, n.Duration) else None
        grouped = same_type or period is not None

        def aggregate(ctx: Context) -> Value:
            try:
                result = query_fn(ctx)
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label=label, concept=concept)
            events = list(result.matched)
            if op == "count":
                if grouped:
                    events, note = count_cases(events, concept, same_type, period)
                    evidence = (
                        tuple(event_evidence(e, label) for e in events) + (note,) + result.details
                    )
                else:
                    evidence = tuple(event_evidence(e, label) for e in events) + result.details
                count = Fraction(len(events))
                lower = not result.covered
                if result.undecided:
                    lower = True
                # Events that could not be decided (a value that cannot be read) say why.
                undecided = tuple(dict.fromkeys(reason for _, reason in result.undecided))
                return Value(
                    count,
                    None,
                    evidence,
                    undecided,
                    lower_bound=lower,
                    label=label,
                    concept=concept,
                )
            if op == "cumulative":
                return cumulative_dose(ctx, events, result, label, concept)
            if not events:
                reason = f"no {kind} {concept.short_name} {window_text}"
                if result.undecided:
                    reason += (
                        " that could be decided (" + "; ".join(r for _, r in result.undecided) + ")"
                    )
                return Value(None, missing=(reason,), label=label, concept=concept)
            if op in ("latest", "earliest", "nearest"):
                if op == "latest":
                    chosen = max(events, key=lambda e: (e.start, _order(e)))
                elif op == "earliest":
                    chosen = min(events, key=lambda e: (e.start, _order(e)))
                else:
                    target = ctx.date(anchor_name) if anchor_name else None
                    chosen = min(
                        events,
                        key=lambda e: (abs((e.start - target).days) if target else 0, e.start),
                    )
                return event_value(ctx, chosen, label, concept)
            # min / max / sum over values, in one unit
            values: list[tuple[Fraction, Event]] = []
            unreadable: list[str] = []
            unit = canonical
            for event in events:
                v = event_value(ctx, event, label, concept)
                if v.kind == UNREADABLE:
                    unreadable.extend(v.missing)
                if not isinstance(v.value, Fraction):
                    continue
                if unit is None:
                    unit = v.unit
                try:
                    converted = (
                        self.units.convert(v.value, v.unit, unit, molar_mass=molar)
                        if v.unit is not None and unit is not None and v.unit != unit
                        else v.value
                    )
                except (UnitError, IncompatibleUnits):
                    continue
                values.append((converted, event))
            if unreadable:
                # The min, max or sum depends on every value in the window, so one that cannot
                # be read leaves it unknown (docs: "Values that cannot be read").
                return Value(None, missing=tuple(unreadable), label=label, concept=concept)
            if not values:
                return Value(
                    None,
                    missing=(f"no numeric {kind} {concept.short_name} {window_text}",),
                    label=label,
                )
            if op == "sum":
                total = sum((v for v, _ in values), Fraction(0))
                evidence = tuple(event_evidence(e, label) for _, e in values)
                return Value(total, unit, evidence, label=label, concept=concept)
            pick = min if op == "min" else max
            value, event = pick(values, key=lambda item: item[0])
            return Value(
                value,
                unit,
                (event_evidence(event, label),),
                event=event,
                label=label,
                concept=concept,
            )

        return aggregate

    # ------------------------------------------------------------------ exists
    def exists(self, node: n.Exists, module: Module) -> ExprFn:
        query_fn = self.query(node.query, module)
        concept = self.concept(node.query.concept, module)
        kind = node.query.kind
        negated = node.negated
        label = f"{kind} {concept.short_name}"
        window_text = describe_window(node.query.window)

        def exists(ctx: Context) -> Outcome:
            try:
                result = query_fn(ctx)
            except MissingData as missing:
                return Outcome(UNKNOWN, missing=(missing.reason,))
            outcome = exists_outcome(ctx, result, kind, label, window_text)
            return negate(outcome) if negated else outcome

        return exists

    # ------------------------------------------------------------------ the query itself
    def query(self, node: n.Query, module: Module) -> QueryFn:
        concept = self.concept(node.concept, module)
        kind = node.kind
        window_fn = self.window(node.window, concept)
        filters = self.filters(node, concept)
        per_event_window = _has_own_half_life(node.window)
        routes = frozenset(r.casefold() for r in node.routes)
        statuses = frozenset(s.casefold() for s in node.statuses)
        active_only = "active" in statuses
        dose_fn = self.dose_filter(node, concept) if node.dose is not None else None
        duration = node.duration
        new_start = node.new_start
        ended = node.ended
        pattern = node.dose_pattern
        key = ("query", id(node))

        def query(ctx: Context) -> QueryResult:
            cached = ctx.memo.get(key)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
            start, end = window_fn(ctx, None)
            candidates = ctx.events(kind, concept)
            in_window: list[Event] = []
            # Events that only an unknown half-life could bring into the window: they go through
            # the filters, and end up undecided rather than kept (docs: "Time").
            pending: dict[str, str] = {}
            for event in candidates:
                if not per_event_window:
                    if overlaps(event, start, end, kind, active_only):
                        in_window.append(event)
                    continue
                notes: list[tuple[int, str]] = []
                s, e = window_fn(ctx, event, notes)
                if overlaps(event, s, e, kind, active_only):
                    in_window.append(event)
                elif notes:
                    wide_s = None if any(sign < 0 for sign, _ in notes) else s
                    wide_e = None if any(sign > 0 for sign, _ in notes) else e
                    if overlaps(event, wide_s, wide_e, kind, active_only):
                        in_window.append(event)
                        pending[event.id] = notes[0][1]
            measured = bool(in_window)
            kept: list[Event] = []
            undecided: list[tuple[Event, str]] = []
            details: list[Evidence] = []
            for event in in_window:
                if routes and not _route_ok(event, routes):
                    continue
                if statuses and not _status_ok(event, statuses):
                    continue
                verdict = True
                for f in filters:
                    r = f(ctx, event)
                    if r is False:
                        verdict = False
                        break
                    if isinstance(r, str):
                        undecided.append((event, r))
                        verdict = False
                        break
                if not verdict:
                    continue
                if dose_fn is not None:
                    r, note = dose_fn(ctx, event)
                    if r is None:
                        undecided.append((event, note))
                        continue
                    details.append(note_evidence(event, note))
                    if not r:
                        continue
                if event.id in pending:
                    undecided.append((event, pending[event.id]))
                    continue
                kept.append(event)
            if new_start:
                kept = [e for e in kept if _is_new_start(ctx, e, concept, start)]
            if ended:
                kept = [e for e in kept if _ends_inside(e, start, end)]
            if pattern is not None:
                kept, pattern_details, pattern_undecided = dose_pattern(
                    ctx, kept, concept, pattern, start, end
                )
                details.extend(pattern_details)
                undecided.extend(pattern_undecided)
            if duration is not None:
                kept, run_details, run_undecided = duration_runs(
                    ctx, kept, [e for e, _ in undecided], duration, start, end
                )
                details.extend(run_details)
                if run_undecided:
                    undecided = [(e, r) for e, r in undecided]
                else:
                    undecided = []
            covered = ctx.covered(start, end)
            result = QueryResult(
                tuple(kept), tuple(undecided), measured, covered, start, end, tuple(details)
            )
            ctx.memo[key] = result
            return result

        return query

    def filters(
        self, node: n.Query, concept: ConceptSet
    ) -> list[Callable[[Context, Event], bool | str]]:
        out: list[Callable[[Context, Event], bool | str]] = []
        for where in node.where:
            out.append(self.where_filter(where))
        if node.value is not None:
            out.append(self.value_filter(node.value, concept))
        return out

    def where_filter(self, where: n.AttributeFilter) -> Callable[[Context, Event], bool | str]:
        name = where.name
        wanted = where.values

        def where_fn(ctx: Context, event: Event) -> bool | str:
            attributes = getattr(event, "attributes", {}) or {}
            if name not in attributes:
                return f"{event.display} on {fmt_date(event.start)} does not record {name}"
            actual = attributes[name]
            if where.op == "in":
                return any(_attr_equal(actual, w) for w in wanted)
            target = wanted[0]
            if where.op in ("=", "!="):
                equal = _attr_equal(actual, target)
                return equal if where.op == "=" else not equal
            if isinstance(target, n.QuantityLit) and isinstance(actual, Fraction):
                return compare_values(actual, where.op, target.value)
            return f"{name} '{clip(str(actual), 100)}' cannot be compared with {where.op}"

        return where_fn

    def value_filter(
        self, vf: n.ValueFilter, concept: ConceptSet
    ) -> Callable[[Context, Event], bool | str]:
        op = vf.op
        target = vf.value
        molar = molar_mass_of(concept)

        def value_fn(ctx: Context, event: Event) -> bool | str:
            raw = getattr(event, "value", None)
            if raw is None:
                return f"{event.display} on {fmt_date(event.start)} has no value"
            if op == "is":
                if isinstance(raw, Quantity) and isinstance(event, Measurement):
                    return numeric_word(event, raw, concept, str(target))
                m = matches_word(raw.value if isinstance(raw, Quantity) else raw, str(target))
                if m is None:
                    return f"'{clip(str(raw), 100)}' is neither {target} nor its opposite"
                return m
            if isinstance(target, n.TiterLit):
                titer = parse_titer(raw) if not isinstance(raw, Quantity) else raw.value
                if titer is None:
                    return f"'{clip(str(raw), 100)}' is not a titer"
                return compare_values(titer, op, target.dilution)
            if isinstance(target, n.LimitLit):
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
                    limit = convert_quantity(bound, unit_of(raw), molar)
                except UnitError as error:
                    return unit_problem(event, error, "the value or its reference range")
                return compare_values(raw.value, op, target.multiple * limit)
            assert isinstance(target, n.QuantityLit)
            if not isinstance(raw, Quantity):
                return f"'{clip(str(raw), 100)}' is not a number"
            try:
                value = convert_quantity(raw, target.unit, molar) if target.unit else raw.value
            except UnitError as error:
                return unit_problem(event, error, "the value")
            return compare_values(value, op, target.value)

        return value_fn

    def dose_filter(
        self, node: n.Query, concept: ConceptSet
    ) -> Callable[[Context, Event], tuple[bool | None, str]]:
        dose = node.dose
        assert dose is not None
        threshold_unit = self.units.parse(dose.value.unit or "mg")
        shape = dose_shape(threshold_unit)
        high_unit = (
            self.units.parse(dose.high.unit) if dose.high and dose.high.unit else threshold_unit
        )
        basis = dose.basis

        def dose_fn(ctx: Context, event: Event) -> tuple[bool | None, str]:
            assert isinstance(event, MedicationExposure)
            amount = dose_amount(ctx, event, shape, threshold_unit, basis, concept)
            if isinstance(amount, str):
                return None, amount
            value, shown = amount
            if dose.op == "between":
                assert dose.high is not None
                high = dose.high.value * self.units.factor(high_unit, threshold_unit)
                ok = in_bounds(value, dose.value.value, high, dose.bounds)
                text = (
                    f"{shown} between {dose.value.value} and {format_number(high)} "
                    f"{threshold_unit.text}"
                )
            else:
                ok = compare_values(value, dose.op, dose.value.value)
                text = f"{shown} {dose.op} {format_number(dose.value.value)} {threshold_unit.text}"
            return ok, f"{text}: {'yes' if ok else 'no'}"

        return dose_fn

    # ------------------------------------------------------------------ windows
    def window(
        self, window: n.Window, concept: ConceptSet
    ) -> Callable[..., tuple[dt.date | None, dt.date | None]]:
        """`resolve(ctx, event, notes=None)`: the window's days, for one event when the window
        depends on the event's own half-life. With `notes`, an end that an unknown half-life
        cannot place is given as far as the other options reach, and noted (sign, reason)."""
        kind = window.kind
        anchor = window.anchor.text if window.anchor else self.program.index_date
        direction = window.direction or "before"
        near, far = window.near, window.far
        anchor_end = window.anchor_end.text if window.anchor_end else None
        window_text = describe_window(window)

        def offset(
            ctx: Context,
            day: dt.date,
            duration: n.DurationLike | None,
            sign: int,
            event: Event | None,
            notes: list[tuple[int, str]] | None = None,
        ) -> dt.date:
            if duration is None:
                return day
            try:
                return shift_by(day, duration, sign, concept, event)
            except UnknownHalfLife as unknown:
                if notes is None:
                    raise
                notes.append((sign, unknown.reason))
                return unknown.day
            except OutOfCalendar as outside:
                # A window that leaves the calendar (screening 9999-12-31 and a window after
                # it): what needs it is unknown, with the reason (docs/language.md, "Values that
                # cannot be read").
                raise MissingData(f"the window {window_text} cannot be placed: {outside}") from None

        def resolve(
            ctx: Context, event: Event | None, notes: list[tuple[int, str]] | None = None
        ) -> tuple[dt.date | None, dt.date | None]:
            if kind == "any_time":
                return None, None
            assert anchor is not None
            day = ctx.date(anchor)
            if kind == "ever":
                return None, day
            if kind == "span":
                assert anchor_end is not None
                return day, ctx.date(anchor_end)
            if kind == "at":
                return (
                    offset(ctx, day, near, -1, event, notes),
                    offset(ctx, day, near, 1, event, notes),
                )
            if kind == "within":
                if direction == "before":
                    return offset(ctx, day, far, -1, event, notes), day
                if direction == "after":
                    return day, offset(ctx, day, far, 1, event, notes)
                return (
                    offset(ctx, day, far, -1, event, notes),
                    offset(ctx, day, far, 1, event, notes),
                )
            # between N and D before/after A: the two offsets in either order
            sign = -1 if direction == "before" else 1
            a = offset(ctx, day, near, sign, event, notes)
            b = offset(ctx, day, far, sign, event, notes)
            return min(a, b), max(a, b)

        return resolve

    # ------------------------------------------------------------------ outcomes
    # Values that compare values, and outcomes used by outcomes (docs/language.md, "Outcomes").
    def outcome_reference(self, ref: n.Ref, module: Module) -> ExprFn:
        symbol = module.lookup(ref.parts)
        assert isinstance(symbol, OutcomeSymbol), f"unchecked reference {ref.dotted}"
        name = symbol.outcome.id.text
        key = (id(symbol.module), "outcome:" + name)
        if key not in self.define_cache:
            self.define_cache[key] = None  # cycles are rejected by the checker
            self.define_cache[key] = self.expr(symbol.outcome.expr, symbol.module)
        fn = self.define_cache[key]

        def outcome(ctx: Context) -> Outcome:
            result: Outcome = fn(ctx)
            note = Evidence(f"outcome {name}", result.truth.value.replace("_", " "))
            return attrs.evolve(result, evidence=(note,) + result.evidence)

        return outcome

    def relative_operand(
        self, node: n.PercentOf | n.Difference | n.DailyDose | n.NewGrades, module: Module
    ) -> ValueFn:
        if isinstance(node, n.PercentOf):
            return self.percent_of(node, module)
        if isinstance(node, n.Difference):
            return self.difference(node, module)
        if isinstance(node, n.DailyDose):
            return self.daily_dose(node, module)
        return self.new_grades(node, module)

    def percent_of(self, node: n.PercentOf, module: Module) -> ValueFn:
        inner = self.operand(node.operand, module)
        factor = node.percent / 100
        percent = format_number(node.percent)

        def percent_of(ctx: Context) -> Value:
            base = inner(ctx)
            label = f"{percent} % of {base.label}"
            if not isinstance(base.value, Fraction):
                missing = base.missing or (f"{base.label} is not a number",)
                return Value(None, evidence=base.evidence, missing=missing, label=label)
            value = base.value * factor
            detail = (
                f"{percent} % of {fmt_quantity(base.value, base.unit)} = "
                f"{fmt_quantity(value, base.unit)}"
            )
            return Value(
                value,
                base.unit,
                base.evidence + (Evidence(label, detail),),
                concept=base.concept,
                label=label,
                base=base,
            )

        return percent_of

    def difference(self, node: n.Difference, module: Module) -> ValueFn:
        left_fn = self.operand(node.left, module)
        right_fn = self.operand(node.right, module)

        def difference(ctx: Context) -> Value:
            a, b = left_fn(ctx), right_fn(ctx)
            label = f"{a.label} - {b.label}"
            evidence = tuple(dict.fromkeys(a.evidence + b.evidence))
            if a.value is None or b.value is None:
                return Value(None, evidence=evidence, missing=a.missing + b.missing, label=label)
            if not isinstance(a.value, Fraction) or not isinstance(b.value, Fraction):
                missing = (f"{label}: not numbers",)
                return Value(None, evidence=evidence, missing=missing, label=label)
            if b.lower_bound:
                return Value(
                    None,
                    evidence=evidence,
                    missing=(f"{b.label} is only known to be at least {format_number(b.value)}",),
                    label=label,
                )
            try:
                right = b.value
                if a.unit is not None and b.unit is not None and a.unit != b.unit:
                    molar = molar_mass_of(a.concept or b.concept)
                    right = self.units.convert(b.value, b.unit, a.unit, molar_mass=molar)
            except (UnitError, IncompatibleUnits) as error:
                return Value(None, evidence=evidence, missing=(f"{label}: {error}",), label=label)
            value = a.value - right
            detail = (
                f"{fmt_quantity(a.value, a.unit)} - {fmt_quantity(right, a.unit)} = "
                f"{fmt_quantity(value, a.unit)}"
            )
            return Value(
                value,
                a.unit,
                evidence + (Evidence(label, detail),),
                missing=a.missing,
                lower_bound=a.lower_bound,
                concept=a.concept or b.concept,
                label=label,
            )

        return difference

    def daily_dose(self, node: n.DailyDose, module: Module) -> ValueFn:
        concept = self.concept(node.drug, module)
        anchor = node.anchor.text
        basis = node.basis
        per_day = self.units.parse("mg/day")
        label = f"daily dose {concept.short_name}" + (f" as {basis}" if basis else "")

        def daily_dose(ctx: Context) -> Value:
            try:
                day = ctx.date(anchor)
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label=label, concept=concept)
            at = f"{label} on {fmt_date(day)}"
            total = Fraction(0)
            evidence: list[Evidence] = []
            for event in ctx.events("medication", concept):
                if not overlaps(event, day, day, "medication", False):
                    continue
                assert isinstance(event, MedicationExposure)
                amount = dose_amount(ctx, event, "daily", per_day, basis, concept)
                if isinstance(amount, str):
                    return Value(
                        None, evidence=tuple(evidence), missing=(amount,), label=at, concept=concept
                    )
                total += amount[0]
                evidence.append(event_evidence(event, at, amount[1]))
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

    def new_grades(self, node: n.NewGrades, module: Module) -> ValueFn:
        concept = self.concept(node.concept, module)
        kind = node.kind
        domains = grade_domains(concept)
        orders = {d.name: grade_order(d, concept) or () for d in domains}
        wanted = tuple(g.casefold() for g in node.grades)
        now_window = self.window(node.window, concept)
        then_window = self.window(node.reference, concept)
        grades_text = ", ".join(node.grades)
        label = f"new {grades_text} in {concept.short_name}"

        def grade_in(
            ctx: Context, domain: ConceptSet, resolve: Any, window: n.Window
        ) -> tuple[str | None, Event | None, str]:
            start, end = resolve(ctx, None)
            events = [e for e in ctx.events(kind, domain) if overlaps(e, start, end, kind, False)]
            where = describe_window(window)
            if not events:
                return None, None, f"no {domain.short_name} {where}"
            if window.kind == "at" and window.anchor is not None:
                target = ctx.date(window.anchor.text)
                chosen = min(events, key=lambda e: (abs((e.start - target).days), e.start, e.id))
            else:
                chosen = max(events, key=lambda e: (e.start, e.id))
            raw = getattr(chosen, "value", None)
            grade = str(raw).strip().casefold() if isinstance(raw, str) else None
            if grade is None or grade not in orders[domain.name]:
                return None, chosen, f"{describe_event(chosen)}: not a grade"
            return grade, chosen, ""

        def new_grades(ctx: Context) -> Value:
            try:
                count = 0
                evidence: list[Evidence] = []
                undecided: list[str] = []
                for domain in domains:
                    order = orders[domain.name]
                    now, now_event, now_why = grade_in(ctx, domain, now_window, node.window)
                    then, then_event, then_why = grade_in(ctx, domain, then_window, node.reference)
                    if now is not None and then is not None:
                        if now in wanted and order.index(then) > order.index(now):
                            count += 1
                            assert now_event is not None and then_event is not None
                            evidence.append(
                                Evidence(
                                    f"new {now.upper()} {domain.short_name}",
                                    f"{then.upper()} on {fmt_date(then_event.start)} -> "
                                    f"{now.upper()} on {fmt_date(now_event.start)}",
                                    now_event.id,
                                    fmt_date(now_event.start),
                                )
                            )
                        continue
                    if now is not None and now not in wanted:
                        continue  # not graded any of the wanted grades now: not new
                    if then is not None and all(
                        order.index(then) <= order.index(g) for g in wanted
                    ):
                        continue  # already at least as severe at the reference: cannot be new
                    undecided.append(f"{domain.short_name}: {now_why or then_why}")
            except MissingData as missing:
                return Value(None, missing=(missing.reason,), label=label)
            summary = f"{count} of {len(domains)} domains newly graded {grades_text}"
            if undecided:
                summary += f"; {len(undecided)} undecided"
            evidence.insert(0, Evidence(label, summary))
            return Value(
                Fraction(count),
                None,
                tuple(evidence),
                missing=tuple(undecided),
                lower_bound=bool(undecided),
                label=label,
            )

        return new_grades


# --------------------------------------------------------------------------- helpers


def _order(event: Event) -> str:
    return event.id


def _has_own_half_life(window: n.Window) -> bool:
    def walk(d: n.DurationLike | None) -> bool:
        if isinstance(d, n.HalfLives):
            return d.drug is None
        if isinstance(d, n.LongestDuration):
            return any(walk(o) for o in d.options)
        return False

    return walk(window.near) or walk(window.far)


def shift_by(
    day: dt.date, duration: n.DurationLike, sign: int, concept: ConceptSet, event: Event | None
) -> dt.date:
    if isinstance(duration, n.Duration):
        return shift(day, duration.amount, duration.unit, sign)
    if isinstance(duration, n.LongestDuration):
        options: list[dt.date] = []
        unknown: UnknownHalfLife | None = None
        for option in duration.options:
            try:
                options.append(shift_by(day, option, sign, concept, event))
            except UnknownHalfLife as missing:
                unknown = missing
        if unknown is not None:
            reached = (min(options) if sign < 0 else max(options)) if options else day
            raise UnknownHalfLife(reached, unknown.reason)
        return min(options) if sign < 0 else max(options)
    # N half-lives: of the named drug, or of the matched event's own drug; rounded up to days.
    source = concept
    codes = event.codes if event is not None else ()
    values: list[Any]
    if event is not None:
        values = [source.attribute_for(codes, "half_life")]
        if not isinstance(values[0], QuantityAttr):
            raise UnknownHalfLife(
                day,
                f"the half-life of {event.display} (taken from {fmt_date(event.start)}) is not "
                f"declared, so its {format_number(duration.count)} half-lives cannot be computed",
            )
    else:
        values = source.all_attribute_values("half_life")
    longest = Fraction(0)
    for value in values:
        if isinstance(value, QuantityAttr):
            longest = max(longest, get_units().convert(value.value, value.unit, "days"))
    days = math.ceil(duration.count * longest)
    return add_days(day, sign * days)


def overlaps(
    event: Event, start: dt.date | None, end: dt.date | None, kind: str, active_only: bool
) -> bool:
    """Window membership (docs/language.md, "Which events a window holds").

    Medication exposures and procedures with an end occupy their days from start to end (an
    exposure with no end is ongoing). A condition occupies onset..abatement; with no abatement,
    only its onset day, unless the query asks `status active`, when it continues. Everything
    else is a point on its date.
    """
    first, last = event.start, event.end
    if kind == "medication":
        pass
    elif kind == "condition":
        if last is None and not active_only:
            last = first
    elif last is None or last == first:
        last = first
    if start is not None and last is not None and last < start:
        return False
    if end is not None and first > end:
        return False
    return True


def _route_ok(event: Event, routes: frozenset[str]) -> bool:
    route = getattr(event, "route", None)
    return route is not None and route.casefold() in routes


def _status_ok(event: Event, statuses: frozenset[str]) -> bool:
    status = getattr(event, "status", None)
    if status is None:
        # "active" asks whether the condition is still going: no abatement recorded.
        return "active" in statuses and event.end is None
    return status.casefold() in statuses


def _attr_equal(actual: object, wanted: object) -> bool:
    if isinstance(wanted, n.QuantityLit):
        return isinstance(actual, Fraction) and actual == wanted.value
    return str(actual).casefold() == str(wanted).casefold()


_POSITIVE = {"positive", "pos", "detected", "reactive", "true", "yes", "present", "abnormal"}
_NEGATIVE = {
    "negative",
    "neg",
    "not detected",
    "non-reactive",
    "nonreactive",
    "false",
    "no",
    "absent",
    "normal",
}
# Urine sediment reports say "none seen" for no casts or cells (docs: "Values and comparisons").
_NEGATIVE |= {"none", "none seen", "not seen"}


def matches_word(value: object, word: str) -> bool | None:
    """`is positive` on a coded or boolean result; None when the value is neither."""
    if isinstance(value, bool):
        truthy = value
    else:
        text = str(value).strip().casefold()
        if text in _POSITIVE:
            truthy = True
        elif text in _NEGATIVE:
            truthy = False
        else:
            return None
    if word in ("positive", "true", "present"):
        return truthy
    return not truthy


def numeric_word(
    event: Measurement, raw: Quantity, concept: ConceptSet | None, word: str
) -> bool | str:
    """`is positive` / `is negative` (`present` / `absent`) on a numeric result: positive when
    above the upper limit of its reference range (the result's own, else the concept's
    `upper_limit`), negative at or below it. Without a limit, or for `true` / `false`, the result
    cannot say: the reason is returned instead (docs/language.md, "Values and comparisons")."""
    if word not in ("positive", "negative", "present", "absent"):
        return f"{describe_event(event)} is a number, not {word}"
    bound = event.reference_range.high if event.reference_range is not None else None
    if bound is None and concept is not None:
        attr = concept.attribute_for(event.codes, "upper_limit")
        if isinstance(attr, QuantityAttr):
            bound = Quantity(attr.value, attr.unit)
    if bound is None:
        return (
            # the value's unit is left out: it is spelt as the source spelt it (UCUM in FHIR)
            f"{event.display} on {fmt_date(event.start)} is a number with no upper reference "
            f"limit, so it is neither {word} nor its opposite"
        )
    try:
        limit = convert_quantity(bound, unit_of(raw), molar_mass_of(concept))
    except UnitError as error:
        return unit_problem(event, error, "the value or its reference range")
    positive = raw.value > limit
    return positive if word in ("positive", "present") else not positive


def unit_problem(event: Event, error: UnitError, what: str) -> str:
    """Why an event's value cannot be used: its unit cannot be read, or does not convert."""
    if isinstance(error, IncompatibleUnits):
        return f"{describe_event(event)}: {error}"
    return f"{describe_event(event)}: {what} cannot be read: {error}"


def event_evidence(event: Event, label: str, detail: str | None = None) -> Evidence:
    if detail is None:
        detail = describe_event(event)
    return Evidence(label, detail, event.id, fmt_date(event.start))


def note_evidence(event: Event, note: str) -> Evidence:
    return Evidence(describe_event(event), note, event.id, fmt_date(event.start))


def describe_event(event: Event) -> str:
    if isinstance(event, Measurement):
        value = event.value
        text = clip(str(value), 100) if value is not None else "no value"
        return f"{event.display} {text} on {fmt_date(event.start)}"
    if isinstance(event, MedicationExposure):
        dose = f" {event.dose}" if event.dose else ""
        per_day = f" x{format_number(event.per_day)}/day" if event.per_day else ""
        end = fmt_date(event.end) if event.end else "ongoing"
        return f"{event.display}{dose}{per_day} {fmt_date(event.start)}..{end}"
    if isinstance(event, Condition):
        end = f" to {fmt_date(event.end)}" if event.end else ""
        return f"{event.display} from {fmt_date(event.start)}{end}"
    if isinstance(event, Fact):
        return f"{event.display} = {clip(str(event.value), 100)} on {fmt_date(event.start)}"
    return f"{event.display} on {fmt_date(event.start)}"


def event_value(ctx: Context, event: Event, label: str, concept: ConceptSet) -> Value:
    evidence = (event_evidence(event, label),)

    def unreadable(what: str, error: UnitError) -> Value:
        reason = f"{describe_event(event)}: {what} cannot be read: {error}"
        return Value(None, evidence=evidence, missing=(reason,), label=label, kind=UNREADABLE)

    def absent(what: str) -> Value:
        reason = f"{describe_event(event)} has no {what}"
        return Value(None, evidence=evidence, missing=(reason,), label=label)

    if isinstance(event, (Measurement, Fact)):
        raw = event.value
        if isinstance(raw, Quantity):
            try:
                unit = unit_of(raw)
            except UnitError as error:
                return unreadable("the value", error)
            return Value(raw.value, unit, evidence, event=event, concept=concept, label=label)
        if raw is None:
            return absent("value")
        return Value(raw, None, evidence, event=event, concept=concept, label=label)
    if isinstance(event, MedicationExposure):
        daily = event.daily_amount()
        if daily is None:
            return absent("dose")
        try:
            unit = daily_unit(daily)
        except UnitError as error:
            return unreadable("the dose", error)
        return Value(daily.value, unit, evidence, event=event, concept=concept, label=label)
    return Value(True, None, evidence, event=event, concept=concept, label=label)


def daily_unit(daily: Quantity) -> Unit:
    """The unit of a daily amount: `mg` given per day is `mg/day`; `mg/d` stays. Raises
    UnitError for a unit that cannot be read."""
    unit = unit_of(daily)
    if _is_amount(daily):
        return get_units().divide(unit, "day")
    return unit


def _is_amount(quantity: Quantity) -> bool:
    units = get_units()
    unit = unit_of(quantity)
    return not units.compatible(unit, "mg/day") and not units.compatible(unit, "IU/day")


def exists_outcome(
    ctx: Context, result: QueryResult, kind: str, label: str, window_text: str
) -> Outcome:
    if result.matched:
        if kind == "fact":
            return fact_outcome(result, label)
        evidence = tuple(event_evidence(e, label) for e in result.matched) + result.details
        return Outcome(MET, evidence)
    if result.undecided:
        missing = tuple(reason for _, reason in result.undecided)
        return Outcome(UNKNOWN, result.details, missing)
    if kind in ABSENCE_IS_EVIDENCE:
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
    latest = max(result.matched, key=lambda e: (e.start, e.id))
    assert isinstance(latest, Fact)
    value = latest.value
    evidence = (event_evidence(latest, label),)
    truthy = matches_word(value, "true") if not isinstance(value, Fraction) else value != 0
    if truthy is None:
        shown = clip(str(value), 100)
        return Outcome(UNKNOWN, evidence, (f"{label} is recorded as '{shown}', not yes/no",))
    return Outcome(MET if truthy else NOT_MET, evidence)


def describe_window(window: n.Window) -> str:
    def d(duration: n.DurationLike | None) -> str:
        if isinstance(duration, n.Duration):
            return f"{format_number(duration.amount)} {duration.unit}"
        if isinstance(duration, n.LongestDuration):
            return "max(" + ", ".join(d(o) for o in duration.options) + ")"
        if isinstance(duration, n.HalfLives):
            of = f" of {duration.drug.dotted}" if duration.drug else ""
            return f"{format_number(duration.count)} half-lives{of}"
        return ""

    anchor = window.anchor.text if window.anchor else "the index date"
    if window.kind == "within":
        return f"within {d(window.far)} {window.direction or 'before'} {anchor}"
    if window.kind == "between":
        return f"between {d(window.near)} and {d(window.far)} {window.direction} {anchor}"
    if window.kind == "at":
        return f"at {anchor}" + (f" +/- {d(window.near)}" if window.near else "")
    if window.kind == "ever":
        return f"ever before {anchor}" if window.anchor else "ever"
    if window.kind == "span":
        return f"from {anchor} to {window.anchor_end.text if window.anchor_end else '?'}"
    return "at any time"


# --------------------------------------------------------------------------- doses


def dose_amount(
    ctx: Context,
    event: MedicationExposure,
    shape: str | None,
    threshold: Unit,
    basis: str | None,
    concept: ConceptSet,
) -> tuple[Fraction, str] | str:
    """The exposure's dose in the threshold's unit, or why it cannot be known (a dose whose
    unit cannot be read costs only the criteria that need the dose)."""
    try:
        return _dose_amount(ctx, event, shape, threshold, basis, concept)
    except UnitError as error:
        return f"{describe_event(event)}: the dose cannot be read: {error}"


def _dose_amount(
    ctx: Context,
    event: MedicationExposure,
    shape: str | None,
    threshold: Unit,
    basis: str | None,
    concept: ConceptSet,
) -> tuple[Fraction, str] | str:
    units = ctx.units
    daily_shapes = ("daily", "per_kg_daily", "per_m2_daily")
    if shape in daily_shapes:
        quantity = event.daily_amount()
        if quantity is None:
            return f"{describe_event(event)}: no daily dose recorded (dose and frequency)"
        amount_unit = unit_of(quantity)
        if _is_amount(quantity):
            amount_unit = units.divide(amount_unit, "day")
    else:
        quantity = event.dose
        if quantity is None:
            return f"{describe_event(event)}: no dose per administration recorded"
        amount_unit = unit_of(quantity)
    value = quantity.value
    factor_note = ""
    if basis is not None:
        factor = concept.attribute_for(event.codes, basis)
        if not isinstance(factor, Fraction):
            return f"{event.display} has no {basis} factor in the stdlib"
        value = value * factor
        factor_note = f" x {format_number(factor)} ({basis})"
    divisor_note = ""
    if shape in ("per_kg", "per_kg_daily"):
        weight = ctx.nearest_measure(_weight(), event.start, BODY_MEASURE_TOLERANCE_DAYS)
        if weight is None:
            return (
                f"{describe_event(event)}: no body weight within "
                f"{BODY_MEASURE_TOLERANCE_DAYS} days of the dose"
            )
        if isinstance(weight, str):
            return f"{describe_event(event)}: {weight}"
        if weight[0] <= 0:
            return (
                f"{describe_event(event)}: the body weight {format_number(weight[0])} kg "
                f"({describe_event(weight[1])}) is not above 0"
            )
        value = value / weight[0]
        amount_unit = units.divide(amount_unit, "kg")
        divisor_note = f" / {format_number(weight[0])} kg ({fmt_date(weight[1].start)})"
    elif shape in ("per_m2", "per_m2_daily"):
        from criteria_lang.core.derived import BUILTINS

        bsa = compute_builtin(
            ctx, BUILTINS["bsa"], event.start, BODY_MEASURE_TOLERANCE_DAYS, units.parse("m2"), "bsa"
        )
        if not isinstance(bsa.value, Fraction):
            return f"{describe_event(event)}: body surface area unknown ({'; '.join(bsa.missing)})"
        if bsa.value <= 0:
            return (
                f"{describe_event(event)}: the body surface area is {format_number(bsa.value)} m2"
            )
        value = value / bsa.value
        amount_unit = units.divide(amount_unit, "m2")
        divisor_note = f" / {format_number(bsa.value)} m2 (Mosteller)"
    try:
        converted = units.convert(value, amount_unit, threshold)
    except (UnitError, IncompatibleUnits) as error:
        return f"{describe_event(event)}: {error}"
    shown = (
        f"{fmt_quantity(quantity.value, unit_of(quantity))}{factor_note}{divisor_note} = "
        f"{fmt_quantity(converted, threshold)}"
    )
    return converted, shown


def _weight() -> Input:
    from criteria_lang.core.derived import WEIGHT

    return WEIGHT


def compute_builtin(
    ctx: Context, builtin: Builtin, on: dt.date, tolerance: int, unit: Unit, label: str
) -> Value:
    values: dict[str, Fraction] = {}
    evidence: list[Evidence] = []
    missing: list[str] = []
    for spec in builtin.inputs:
        found = ctx.nearest_measure(spec, on, tolerance)
        if found is None:
            missing.append(
                f"no {spec.concept_names[0]} within {tolerance} days of {fmt_date(on)} "
                f"(for {builtin.name})"
            )
            continue
        if isinstance(found, str):
            missing.append(f"{found} (for {builtin.name})")
            continue
        values[spec.key] = found[0]
        evidence.append(event_evidence(found[1], spec.concept_names[0]))
    age: int | None = None
    if builtin.needs_age:
        if ctx.patient.birth_date is None:
            missing.append(f"the birth date is not recorded (for {builtin.name})")
        else:
            age = completed_years(ctx.patient.birth_date, on)
    if builtin.needs_sex and ctx.patient.sex not in ("female", "male"):
        missing.append(f"sex is not recorded as female or male (for {builtin.name})")
    if missing:
        return Value(None, missing=tuple(missing), evidence=tuple(evidence), label=label)
    try:
        result = builtin.compute(values, age, ctx.patient.sex)
    except (ArithmeticError, ValueError):  # a float overflow or a root of a negative number
        result = None
    if result is None:
        shown = ", ".join(f"{key} {format_number(value)}" for key, value in values.items())
        reason = f"{builtin.name} cannot be computed from {shown or 'these values'}"
        return Value(None, missing=(reason,), evidence=tuple(evidence), label=label)
    evidence.append(
        Evidence(label, f"{fmt_quantity(result, unit)} ({builtin.title}; {builtin.source})")
    )
    return Value(result, unit, tuple(evidence), label=label)


def cumulative_dose(
    ctx: Context, events: list[Event], result: QueryResult, label: str, concept: ConceptSet
) -> Value:
    """Sum over exposures of daily dose x days inside the window (docs: "Cumulative dose")."""
    units = ctx.units
    total = Fraction(0)
    evidence: list[Evidence] = []
    target = units.parse("mg")
    for event in events:
        assert isinstance(event, MedicationExposure)
        daily = event.daily_amount()
        if daily is None:
            return Value(None, missing=(f"{describe_event(event)}: no daily dose",), label=label)
        first = max(event.start, result.start) if result.start else event.start
        last_candidates = [d for d in (event.end, result.end) if d is not None]
        if not last_candidates:
            return Value(
                None,
                missing=(f"{describe_event(event)} has no end inside the window",),
                label=label,
            )
        last = min(last_candidates)
        days = (last - first).days + 1
        if days <= 0:
            continue
        try:
            unit = unit_of(daily)
            amount_unit = unit if _is_amount(daily) else units.multiply(unit, "day")
            amount = units.convert(daily.value * days, amount_unit, target)
        except UnitError as error:
            reason = f"{describe_event(event)}: the dose cannot be read: {error}"
            return Value(None, missing=(reason,), label=label)
        total += amount
        evidence.append(
            event_evidence(
                event,
                label,
                f"{describe_event(event)}: {days} days -> {fmt_quantity(amount, target)}",
            )
        )
    return Value(total, target, tuple(evidence), label=label, concept=concept)


def _is_new_start(
    ctx: Context, event: Event, concept: ConceptSet, window_start: dt.date | None
) -> bool:
    """A new start begins inside the window with no earlier exposure to the same drug."""
    if window_start is not None and event.start < window_start:
        return False
    leaf = concept.leaf_for(event.codes)
    for other in ctx.events("medication", concept):
        if other is event or other.start >= event.start:
            continue
        if leaf.matches(other.codes):
            return False
    return True


def _ends_inside(event: Event, window_start: dt.date | None, window_end: dt.date | None) -> bool:
    """`ended`: the exposure's last day is inside the window (an ongoing one has not ended)."""
    last = event.end
    if last is None:
        return False
    if window_start is not None and last < window_start:
        return False
    return window_end is None or last <= window_end


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


def count_cases(
    events: list[Event], concept: ConceptSet, same_type: bool, period: n.Duration | None
) -> tuple[list[Event], Evidence]:
    """The largest set of cases of one type (with `same_type`) in one period of `period`
    (when given), and a note saying which."""
    groups: dict[str, list[Event]] = {}
    for event in events:
        groups.setdefault(case_type(event, concept) if same_type else "", []).append(event)
    best: list[Event] = []
    best_type = ""
    best_last: dt.date | None = None
    for kind, group in groups.items():
        group.sort(key=lambda e: (e.start, e.id))
        if period is None:
            if len(group) > len(best):
                best, best_type = group, kind
            continue
        for i, first in enumerate(group):
            try:
                last_day = period_last_day(first.start, period.amount, period.unit)
            except OutOfCalendar:
                last_day = dt.date.max  # the period runs past 9999-12-31: it holds the rest
            inside = [e for e in group[i:] if e.start <= last_day]
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
            f"({fmt_date(best[0].start)}..{fmt_date(best_last)})"
        )
    return best, Evidence("count", detail)


def dose_pattern(
    ctx: Context,
    kept: list[Event],
    concept: ConceptSet,
    pattern: str,
    start: dt.date | None,
    end: dt.date | None,
) -> tuple[list[Event], list[Evidence], list[tuple[Event, str]]]:
    """`with dose change` / `with stable dose` over the window, per drug (docs: "Doses")."""
    by_leaf: dict[str, list[MedicationExposure]] = {}
    for event in kept:
        assert isinstance(event, MedicationExposure)
        by_leaf.setdefault(concept.leaf_for(event.codes).name, []).append(event)
    matched: list[Event] = []
    details: list[Evidence] = []
    undecided: list[tuple[Event, str]] = []
    for exposures in by_leaf.values():
        doses: list[Fraction] = []
        unknown = False
        for exposure in exposures:
            daily = exposure.daily_amount()
            if daily is None:
                undecided.append((exposure, f"{describe_event(exposure)}: no daily dose recorded"))
                unknown = True
                continue
            try:
                doses.append(convert_quantity(daily, unit_of(daily), None))
            except UnitError as error:
                reason = f"{describe_event(exposure)}: the dose cannot be read: {error}"
                undecided.append((exposure, reason))
                unknown = True
        if unknown:
            continue
        exposures.sort(key=lambda e: e.start)
        starts_inside = any(start is not None and e.start > start for e in exposures)
        stops_inside = any(e.end is not None and end is not None and e.end < end for e in exposures)
        varies = len(set(doses)) > 1
        if pattern == "change":
            if varies or starts_inside or stops_inside:
                matched.extend(exposures)
                why = (
                    "dose differs between exposures"
                    if varies
                    else "started or stopped inside the window"
                )
                details.append(
                    Evidence(
                        f"dose change {exposures[0].display}",
                        why,
                        exposures[0].id,
                        fmt_date(exposures[0].start),
                    )
                )
        else:
            if not varies and not starts_inside and not stops_inside:
                matched.extend(exposures)
                details.append(
                    Evidence(
                        f"stable dose {exposures[0].display}",
                        f"{fmt_quantity(doses[0], None) if doses else '?'} per day throughout",
                        exposures[0].id,
                        fmt_date(exposures[0].start),
                    )
                )
    return matched, details, undecided


def duration_runs(
    ctx: Context,
    kept: list[Event],
    undecided: list[Event],
    requirement: n.DurationRequirement,
    start: dt.date | None,
    end: dt.date | None,
) -> tuple[list[Event], list[Evidence], bool]:
    """Does exposure (clipped to the window) last long enough? (docs: "Dose x duration")."""
    gap_days = 0
    if isinstance(requirement.gap, n.Duration):
        gap_days = int(approximate_days(requirement.gap.amount, requirement.gap.unit))
    duration = requirement.duration
    assert isinstance(duration, n.Duration), "checker allows only plain durations here"

    def runs(events: list[Event]) -> list[tuple[dt.date, dt.date, list[Event]]]:
        spans = []
        for e in sorted(events, key=lambda e: e.start):
            s = max(e.start, start) if start else e.start
            last = e.end if e.end is not None else end
            if last is None:
                last = e.start
            if end is not None:
                last = min(last, end)
            if last >= s:
                spans.append((s, last, e))
        merged: list[tuple[dt.date, dt.date, list[Event]]] = []
        for s, last, e in spans:
            if merged and (s - merged[-1][1]).days - 1 <= gap_days:
                ps, pl, pe = merged[-1]
                merged[-1] = (ps, max(pl, last), pe + [e])
            else:
                merged.append((s, last, [e]))
        return merged

    def satisfied(events: list[Event]) -> tuple[bool, list[Event], str]:
        merged = runs(events)
        if requirement.mode == "total":
            days = sum((last - s).days + 1 for s, last, _ in merged)
            needed = approximate_days(duration.amount, duration.unit)
            return days >= needed, [e for _, _, es in merged for e in es], f"{days} days in total"
        best = None
        for s, last, es in merged:
            if run_reaches(s, last, duration.amount, duration.unit):
                return True, es, f"{fmt_date(s)}..{fmt_date(last)} ({(last - s).days + 1} days)"
            if best is None or (last - s) > (best[1] - best[0]):
                best = (s, last)
        longest = (
            f"longest run {(best[1] - best[0]).days + 1} days" if best else "no qualifying exposure"
        )
        return False, [], longest

    ok, events, text = satisfied(kept)
    need = f"{format_number(duration.amount)} {duration.unit} ({requirement.mode})"
    if ok:
        return events, [Evidence("exposure run", f"{text}, needs {need}: yes")], False
    if undecided:
        ok_all, _, _ = satisfied(kept + undecided)
        if ok_all:
            return (
                [],
                [Evidence("exposure run", f"{text} with the decided doses, needs {need}")],
                True,
            )
    return [], [Evidence("exposure run", f"{text}, needs {need}: no")], False


# --------------------------------------------------------------------------- running a trial


@attrs.frozen
class CompiledCriterion:
    criterion: n.Criterion
    fn: ExprFn


class Evaluator:
    """Runs one compiled rule file against patients. Build once, call `evaluate` per patient."""

    def __init__(self, program: CompiledRules, *, policy: AbsencePolicy = "coverage") -> None:
        if not program.ok:
            raise ValueError("cannot evaluate a rule file with errors; run `criteria check`")
        self.program = program
        self.policy = policy
        compiler = Compiler(program)
        self.criteria = tuple(
            CompiledCriterion(c, compiler.expr(c.expr, program.module)) for c in program.criteria
        )
        self.trial_id = program.trial.registry_id if program.trial else program.path

    def evaluate(self, patient: Patient) -> PatientResult:
        ctx = Context(patient, self.policy)
        results = []
        for compiled in self.criteria:
            criterion = compiled.criterion
            ctx.criterion_id = criterion.id.text
            try:
                outcome = compiled.fn(ctx)
            except MissingData as missing:
                outcome = Outcome(UNKNOWN, missing=(missing.reason,))
            results.append(
                CriterionResult(
                    id=criterion.id.text,
                    section=criterion.section,
                    text=criterion.text,
                    truth=outcome.truth,
                    evidence=outcome.evidence,
                    missing=tuple(dict.fromkeys(outcome.missing)),
                    questions=tuple(dict.fromkeys(outcome.questions)),
                )
            )
        criteria = tuple(results)
        verdict, deciding = overall(criteria)
        return PatientResult(
            patient_id=patient.id,
            trial=self.trial_id,
            verdict=verdict,
            deciding=deciding,
            criteria=criteria,
            source=patient.source,
        )


# --------------------------------------------------------------------------- outcomes


def change_evidence(value: Value, threshold: Value) -> tuple[Evidence, ...]:
    """Comparing with `P % of V`: the change from V to the value, absolute and relative."""
    base = threshold.base
    if base is None or not isinstance(base.value, Fraction):
        return ()
    if not isinstance(value.value, Fraction):
        return ()
    now = value.value
    try:
        if value.unit is not None and base.unit is not None and value.unit != base.unit:
            molar = molar_mass_of(value.concept or base.concept)
            now = get_units().convert(now, value.unit, base.unit, molar_mass=molar)
    except (UnitError, IncompatibleUnits):
        return ()
    delta = now - base.value

    def when(v: Value) -> str:
        return f" on {fmt_date(v.event.start)}" if v.event is not None else ""

    text = (
        f"{fmt_quantity(base.value, base.unit)}{when(base)} -> "
        f"{fmt_quantity(now, base.unit)}{when(value)}: "
        f"{'+' if delta >= 0 else '-'}{fmt_quantity(abs(delta), base.unit)}"
    )
    if base.value != 0:
        relative = delta / base.value * 100
        text += f" ({'+' if relative >= 0 else '-'}{format_number(abs(relative))} %)"
    return (Evidence(f"change in {base.label}", text),)

"""A plan compiled into functions of a patient's context: each node once, into a small closure
(no eval, no exec). This module compiles conditions and comparisons; compile_values.py the
values they compare (docs/language.md, "Expressions", "Values and comparisons")."""

from __future__ import annotations

from fractions import Fraction
from typing import assert_never

import attrs

from criteria_lang.core.bounds import Range, holds, inside
from criteria_lang.core.concepts import QuantityAttr, basis_of
from criteria_lang.core.dates import completed_months
from criteria_lang.core.diagnostics import clip
from criteria_lang.core.results import Evidence
from criteria_lang.core.units import Unit, UnitError, get_units
from criteria_lang.engine.compile_values import ExprFn, ValueCompiler, ValueFn
from criteria_lang.engine.context import Context
from criteria_lang.engine.evidence import change_evidence, numeric_word, unit_problem
from criteria_lang.engine.queries import QueryResult, exists_outcome
from criteria_lang.engine.values import (
    AGE,
    MET,
    NOT_MET,
    REVIEW,
    UNBOUNDED,
    UNKNOWN,
    Converter,
    MissingData,
    NoEvent,
    Outcome,
    Value,
    combine_and,
    combine_or,
    compare_values,
    convert_quantity,
    convert_value,
    decided,
    evidence_of,
    fmt_date,
    fmt_quantity,
    in_bounds,
    matches_word,
    negate,
    range_verdict,
    titer_range,
    undecided_or,
)
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Measurement, Quantity, format_number


class Compiler(ValueCompiler):
    """Compiles a plan's conditions. One per plan; the functions serve any patient."""

    def __init__(self, plan: p.Plan) -> None:
        super().__init__(plan)
        self.truths: dict[str, ExprFn] = {}

    def expr(self, node: p.Expr) -> ExprFn:
        match node:
            case p.And():
                parts = [self.expr(o) for o in node.operands]
                return lambda ctx: combine_and([part(ctx) for part in parts])
            case p.Or():
                parts = [self.expr(o) for o in node.operands]
                return lambda ctx: combine_or([part(ctx) for part in parts])
            case p.Not():
                inner = self.expr(node.operand)
                return lambda ctx: negate(inner(ctx))
            case p.AtLeast():
                return self.at_least(node)
            case p.Conditional():
                return self.conditional(node)
            case p.Constant():
                constant = Outcome(decided(node.value))
                return lambda ctx: constant
            case p.Review():
                return review(node.question)
            case p.Exists():
                return self.exists(node)
            case p.UseDefinition():
                return self.definition_truth(node.definition)
            case p.UseOutcome():
                return self.outcome(node.outcome)
            case p.Compare():
                return self.compare(node)
            case p.Between():
                return self.between(node)
            case p.IsValue():
                return self.is_value(node)
            case p.InValues():
                return self.in_values(node)
            case _:
                assert_never(node)

    # ------------------------------------------------------------------ shared nodes
    def definition_truth(self, ident: str) -> ExprFn:
        """A definition's truth, compiled once (shared by every use; the checker rejects
        cycles)."""
        found = self.truths.get(ident)
        if found is None:
            body = self.plan.definition(ident).body
            if not isinstance(body, p.Expr):
                raise TypeError(f"definition {ident!r} is a value, not a condition")
            found = self.truths[ident] = self.expr(body)
        return found

    def outcome(self, ident: str) -> ExprFn:
        """Another outcome, judged at the same visit (docs: "Outcomes that use outcomes")."""
        key = "outcome " + ident
        fn = self.truths.get(key)
        if fn is None:
            fn = self.truths[key] = self.expr(self.plan.outcome(ident).expr)

        def outcome(ctx: Context) -> Outcome:
            result = fn(ctx)
            note = Evidence(f"outcome {ident}", result.truth.value.replace("_", " "))
            return attrs.evolve(result, evidence=(note,) + result.evidence)

        return outcome

    # ------------------------------------------------------------------ combinators
    def at_least(self, node: p.AtLeast) -> ExprFn:
        parts = [self.expr(o) for o in node.operands]
        needed = node.count

        def at_least(ctx: Context) -> Outcome:
            outcomes = [part(ctx) for part in parts]
            met = [o for o in outcomes if o.truth is MET]
            open_ = [o for o in outcomes if not o.truth.decided]
            if len(met) >= needed:
                return Outcome(MET, evidence_of(met))
            if len(met) + len(open_) < needed:
                return Outcome(NOT_MET, evidence_of(outcomes))
            outcome = undecided_or(open_, UNKNOWN)
            note = Evidence(
                f"at least {needed} of {len(parts)}", f"{len(met)} met, {len(open_)} open"
            )
            return attrs.evolve(outcome, evidence=(note,) + evidence_of(met))

        return at_least

    def conditional(self, node: p.Conditional) -> ExprFn:
        cond, then, other = (
            self.expr(node.condition),
            self.expr(node.then),
            self.expr(node.otherwise),
        )

        def conditional(ctx: Context) -> Outcome:
            c = cond(ctx)
            if c.truth.decided:
                result = (then if c.truth is MET else other)(ctx)
                return attrs.evolve(result, evidence=c.evidence + result.evidence)
            a, b = then(ctx), other(ctx)
            if a.truth.decided and a.truth is b.truth:
                return Outcome(a.truth, evidence_of([a, b]))
            return Outcome(c.truth, c.evidence, c.missing + a.missing + b.missing, c.questions)

        return conditional

    def exists(self, node: p.Exists) -> ExprFn:
        query_fn = self.query(node.query)
        query, negated, known = node.query, node.negated, node.known

        def exists(ctx: Context) -> Outcome:
            try:
                result = query_fn(ctx)
            except NoEvent as none:
                # A window anchored at an event that did not happen holds nothing.
                empty = Outcome(NOT_MET, (Evidence(query.label, f"none: {none.reason}"),))
                return negate(empty) if negated else empty
            except MissingData as missing:
                return Outcome(UNKNOWN, missing=(missing.reason,))
            outcome = exists_outcome(ctx, result, query)
            if known and not outcome.truth.decided:
                outcome = known_outcome(result, query, outcome)
            return negate(outcome) if negated else outcome

        return exists

    # ------------------------------------------------------------------ comparisons
    def compare(self, node: p.Compare) -> ExprFn:
        left = self.value(node.left)
        op, right_node = node.op, node.right
        if isinstance(right_node, p.Limit):
            return compare_limit(left, op, right_node)
        if isinstance(right_node, p.Titer):
            return compare_titer(left, op, right_node)
        right = self.value(right_node)
        converter = Converter.of(node.conversion)
        return lambda ctx: decide(left(ctx), op, right(ctx), ctx, converter)

    def between(self, node: p.Between) -> ExprFn:
        value_fn, low_fn, high_fn = (
            self.value(node.operand),
            self.value(node.low),
            self.value(node.high),
        )
        bounds = node.bounds
        converter = Converter.of(node.conversion)

        def between(ctx: Context) -> Outcome:
            value, low, high = value_fn(ctx), low_fn(ctx), high_fn(ctx)
            evidence = value.evidence
            if value.value is None or low.value is None or high.value is None:
                return Outcome(UNKNOWN, evidence, value.missing + low.missing + high.missing)
            if value.kind == AGE and low.unit is not None:
                value = age_in(value, low.unit)
            if value.range is not None or low.range is not None or high.range is not None:
                return between_bounds(value, low, high, bounds, ctx, converter)
            try:
                v_low, lo, shown = aligned(value, low, converter)
                hi = high.value
                if isinstance(hi, Fraction) and high.unit is not None and low.unit is not None:
                    hi = ctx.units.convert(hi, high.unit, low.unit)
                if not isinstance(hi, Fraction):
                    raise TypeError
            except (UnitError, TypeError) as error:
                return Outcome(UNKNOWN, evidence, (f"cannot compare {value.label}: {error}",))
            ok = in_bounds(v_low, lo, hi, bounds)
            range_text = (
                f"between {fmt_quantity(lo, low.unit)} and {fmt_quantity(hi, low.unit)} ({bounds})"
            )
            evidence = tuple(dict.fromkeys(evidence + low.evidence + high.evidence))
            if value.lower_bound and not (low.lower_bound or high.lower_bound):
                return between_lower_bound(
                    value, v_low, hi, bounds, shown, range_text, evidence, ctx
                )
            detail = f"{shown} {range_text}: {'yes' if ok else 'no'}"
            evidence = evidence + change_evidence(value, low)
            return Outcome(decided(ok), evidence + (Evidence(value.label, detail),))

        return between

    def is_value(self, node: p.IsValue) -> ExprFn:
        value_fn = self.value(node.operand)
        word, negated = node.word, node.negated

        def is_value(ctx: Context) -> Outcome:
            value = value_fn(ctx)
            if word in ("present", "absent"):
                present = value.value is not None
                ok = present if word == "present" else not present
            else:
                judged = judge_word(value, word)
                if isinstance(judged, Outcome):
                    return judged
                ok = judged
            if negated:
                ok = not ok
            shown = clip(str(value.value), 100)
            detail = f"{shown} is {'not ' if negated else ''}{word}: {'yes' if ok else 'no'}"
            return Outcome(decided(ok), value.evidence + (Evidence(value.label, detail),))

        return is_value

    def in_values(self, node: p.InValues) -> ExprFn:
        value_fn = self.value(node.operand)
        wanted = {v.casefold() for v in node.values}
        listed = ", ".join(node.values)

        def in_values(ctx: Context) -> Outcome:
            value = value_fn(ctx)
            if value.value is None:
                return Outcome(UNKNOWN, value.evidence, value.missing)
            ok = str(value.value).casefold() in wanted
            shown = clip(str(value.value), 100)
            detail = f"{shown} in ({listed}): {'yes' if ok else 'no'}"
            return Outcome(decided(ok), value.evidence + (Evidence(value.label, detail),))

        return in_values


# --------------------------------------------------------------------------- helpers


def known_outcome(result: QueryResult, query: p.Query, open_: Outcome) -> Outcome:
    """`known`: what the record does not show is not so (docs: "Known"). A fact recorded as
    neither yes nor no stays unknown: the record shows something, but not which."""
    if result.matched:
        return open_
    shown = "; ".join(reason for _, reason in result.undecided)
    detail = f"none recorded {query.window.text}" + (f" (not usable: {shown})" if shown else "")
    return Outcome(NOT_MET, open_.evidence + (Evidence(f"known {query.label}", detail),))


def between_bounds(
    value: Value, low: Value, high: Value, bounds: str, ctx: Context, converter: Converter | None
) -> Outcome:
    """`between` where the value (or an end) is a bound: met when every value it allows is
    inside, not met when none is (docs: "Results reported as bounds")."""
    evidence = tuple(dict.fromkeys(value.evidence + low.evidence + high.evidence))
    if low.range is not None or high.range is not None:
        reason = f"the ends of between for {value.label} are bounds, not numbers"
        return Outcome(UNKNOWN, evidence, (reason,))
    try:
        values, shown = range_aligned(value, low, converter)
        lo, hi = low.value, high.value
        if isinstance(hi, Fraction) and high.unit is not None and low.unit is not None:
            hi = ctx.units.convert(hi, high.unit, low.unit)
        if not isinstance(lo, Fraction) or not isinstance(hi, Fraction):
            raise TypeError
    except (UnitError, TypeError) as error:
        return Outcome(UNKNOWN, evidence, (f"cannot compare {value.label}: {error}",))
    verdict = inside(values, lo, hi, bounds)
    band = f"between {fmt_quantity(lo, low.unit)} and {fmt_quantity(hi, low.unit)} ({bounds})"
    detail = range_verdict(shown, band, verdict, value.shown())
    evidence = evidence + (Evidence(value.label, detail),)
    if verdict is None:
        return Outcome(UNKNOWN, evidence, (f"{value.label}: {detail}",))
    return Outcome(decided(verdict), evidence)


def review(question: str) -> ExprFn:
    """A question for a person: the patient's answer to it (or to every question of the
    criterion) decides it (docs/language.md, "Review answers")."""

    def review(ctx: Context) -> Outcome:
        answers = ctx.patient.reviews.get(ctx.criterion_id)
        answer = answers.answer_to(question) if answers is not None else None
        if answer is None or answer.met is None:
            return Outcome(REVIEW, questions=(question,))
        who = f" by {answer.by}" if answer.by else ""
        when = f" on {fmt_date(answer.date)}" if answer.date else ""
        note = f": {answer.note}" if answer.note else ""
        what = "answered" if answer is answers else f'"{clip(question, 80)}" answered'
        evidence = Evidence("review", f"{what} {'yes' if answer.met else 'no'}{who}{when}{note}")
        return Outcome(decided(answer.met), (evidence,))

    return review


def decide(a: Value, op: str, b: Value, ctx: Context, converter: Converter | None) -> Outcome:
    """`a op b`, exactly, in b's unit; a count in a partly covered window is a lower bound."""
    evidence = a.evidence + b.evidence
    if a.kind == UNBOUNDED and isinstance(b.value, Fraction):
        # Longer than any number (a series that does not rise has no doubling time).
        ok = op in (">", ">=", "!=")
        detail = f"longer than any {op} {fmt_quantity(b.value, b.unit)}: {'yes' if ok else 'no'}"
        return Outcome(decided(ok), evidence + (Evidence(a.label or "value", detail),))
    if a.value is None or b.value is None:
        return Outcome(UNKNOWN, evidence, a.missing + b.missing)
    if a.kind == AGE and b.unit is not None:
        a = age_in(a, b.unit)
    if a.range is not None or b.range is not None:
        return decide_bounds(a, op, b, converter, evidence)
    try:
        left, right, shown = aligned(a, b, converter)
    except UnitError as error:
        return Outcome(UNKNOWN, evidence, (f"cannot compare {a.label}: {error}",))
    except TypeError:
        shown = clip(str(a.value), 100)
        return Outcome(
            UNKNOWN, evidence, (f"{a.label} '{shown}' cannot be compared with {b.value}",)
        )
    threshold = fmt_quantity(right, b.unit)
    if a.lower_bound and not b.lower_bound:
        return decide_lower_bound(a, op, left, right, shown, threshold, evidence, ctx)
    ok = compare_values(left, op, right)
    detail = f"{shown} {op} {threshold}: {'yes' if ok else 'no'}"
    evidence = evidence + change_evidence(a, b)
    return Outcome(decided(ok), evidence + (Evidence(a.label or "value", detail),))


def decide_bounds(
    a: Value, op: str, b: Value, converter: Converter | None, evidence: tuple[Evidence, ...]
) -> Outcome:
    """`a op b` where either is reported as a bound: by interval logic, met when every value
    the bounds allow meets it, not met when none does (docs: "Results reported as bounds")."""
    try:
        left, shown = range_aligned(a, b, converter)
    except UnitError as error:
        return Outcome(UNKNOWN, evidence, (f"cannot compare {a.label}: {error}",))
    except TypeError:
        return Outcome(
            UNKNOWN, evidence, (f"{a.label} '{a.shown()}' cannot be compared with {b.shown()}",)
        )
    if a.lower_bound or b.lower_bound:
        return Outcome(UNKNOWN, evidence, (f"{a.label} is only known to be at least {shown}",))
    verdict = holds(left, op, b.values())
    detail = range_verdict(shown, f"{op} {b.shown()}", verdict, a.shown())
    evidence = evidence + (Evidence(a.label or "value", detail),)
    if verdict is None:
        return Outcome(UNKNOWN, evidence, (f"{a.label}: {detail}",))
    return Outcome(decided(verdict), evidence)


def range_aligned(a: Value, b: Value, converter: Converter | None) -> tuple[Range, str]:
    """a's values in b's unit (a bound converts end by end), and a as evidence shows it."""
    if not isinstance(a.value, Fraction) or not isinstance(b.value, Fraction):
        raise TypeError
    values, shown = a.values(), a.shown()
    target = threshold_unit(b, converter)
    if a.unit is not None and target is not None and a.unit != target:
        basis, source = basis_of(a.concept or b.concept), a.unit
        values = values.map(lambda x: convert_value(x, source, a.ucum, target, basis, converter))
        shown = f"{values.text(lambda x: fmt_quantity(x, target))} (from {shown})"
    return values, shown


def threshold_unit(b: Value, converter: Converter | None) -> Unit | None:
    """The unit a comparison is made in: the threshold's, or, for a bare number, the unit the
    plan's conversion names (the value's canonical unit): a value in another unit is converted
    into it, never compared raw (docs/units.md, "Bare numbers")."""
    if b.unit is not None:
        return b.unit
    return converter.unit if converter is not None else None


def decide_lower_bound(
    a: Value,
    op: str,
    left: Fraction,
    right: Fraction,
    shown: str,
    threshold: str,
    evidence: tuple[Evidence, ...],
    ctx: Context,
) -> Outcome:
    """A count in a partly covered window: the true count is at least `left`."""
    if op in (">", ">=") and compare_values(left, op, right):
        return Outcome(MET, evidence + (Evidence(a.label, f"{shown} {op} {threshold}: yes"),))
    if op in ("<", "<=") and not compare_values(left, op, right):
        return Outcome(NOT_MET, evidence + (Evidence(a.label, f"{shown} {op} {threshold}: no"),))
    if op == "=" and left > right:  # a lower bound already above the target
        return Outcome(NOT_MET, evidence + (Evidence(a.label, f"{shown} {op} {threshold}: no"),))
    why = "; ".join(a.missing) if a.missing else ctx.coverage_text()
    return Outcome(UNKNOWN, evidence, (f"{a.label} is at least {shown}, but {why}",))


def between_lower_bound(
    value: Value,
    at_least: Fraction,
    high: Fraction,
    bounds: str,
    shown: str,
    range_text: str,
    evidence: tuple[Evidence, ...],
    ctx: Context,
) -> Outcome:
    """`count ... between A and B` where the count is only a lower bound (a window the record
    does not fully cover, undecided events): past the upper bound it is not met; otherwise
    more events could lie outside what is known (docs: "Values and comparisons")."""
    above = at_least > high if bounds in ("inclusive", "right-inclusive") else at_least >= high
    if above:
        return Outcome(NOT_MET, evidence + (Evidence(value.label, f"{shown} {range_text}: no"),))
    why = "; ".join(value.missing) if value.missing else ctx.coverage_text()
    return Outcome(UNKNOWN, evidence, (f"{value.label} is at least {shown}, but {why}",))


def aligned(a: Value, b: Value, converter: Converter | None) -> tuple[Fraction, Fraction, str]:
    """Both values as Fractions in the threshold's unit (`threshold_unit`), exactly."""
    if not isinstance(a.value, Fraction) or not isinstance(b.value, Fraction):
        raise TypeError
    left = a.value
    shown = fmt_quantity(left, a.unit)
    target = threshold_unit(b, converter)
    if a.unit is not None and target is not None and a.unit != target:
        basis = basis_of(a.concept or b.concept)
        left = convert_value(left, a.unit, a.ucum, target, basis, converter)
        shown = f"{fmt_quantity(left, target)} (from {fmt_quantity(a.value, a.unit)})"
    return left, b.value, shown


def age_in(age: Value, unit: Unit) -> Value:
    """An age compared with months or days is counted in completed months/days."""
    assert age.birth is not None and age.on is not None
    registry = get_units()
    if unit == registry.parse("months"):
        return attrs.evolve(age, value=Fraction(completed_months(age.birth, age.on)), unit=unit)
    if unit in (registry.parse("days"), registry.parse("weeks")):
        days = Fraction((age.on - age.birth).days)
        return attrs.evolve(age, value=days, unit=registry.parse("days"))
    return age


def compare_titer(left: ValueFn, op: str, titer: p.Titer) -> ExprFn:
    threshold = titer.dilution
    text = f"1:{format_number(threshold)}"

    def compare_titer(ctx: Context) -> Outcome:
        value = left(ctx)
        if value.value is None:
            return Outcome(UNKNOWN, value.evidence, value.missing)
        found = titer_range(value.value)
        if found is None and isinstance(value.value, Fraction):
            found = value.values()
        if found is None:
            shown = clip(str(value.value), 100)
            return Outcome(UNKNOWN, value.evidence, (f"{value.label} '{shown}' is not a titer",))
        shown = found.text(lambda x: f"1:{format_number(x)}")
        verdict = holds(found, op, Range.point(threshold))
        if found.exact is not None:
            detail = f"{shown} {op} {text}: {'yes' if verdict else 'no'}"
        else:
            detail = range_verdict(shown, f"{op} {text}", verdict)
        evidence = value.evidence + (Evidence(value.label, detail),)
        if verdict is None:
            return Outcome(UNKNOWN, evidence, (f"{value.label}: {detail}",))
        return Outcome(decided(verdict), evidence)

    return compare_titer


def compare_limit(left: ValueFn, op: str, limit: p.Limit) -> ExprFn:
    """`x ULN`: against the result's own reference range, else the concept's limit."""
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
            reason = f"{value.label} has no reference range and the stdlib declares no {attr_name}"
            return Outcome(UNKNOWN, value.evidence, (reason,))
        try:
            limit_value = (
                convert_quantity(bound, value.unit, basis_of(value.concept))
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
        if not isinstance(value.value, Fraction):
            shown = clip(str(value.value), 100)
            return Outcome(UNKNOWN, value.evidence, (f"{value.label} '{shown}' is not a number",))
        verdict = holds(value.values(), op, Range.point(threshold))
        answer = {True: "yes", False: "no", None: "unknown"}[verdict]
        detail = (
            f"{value.shown()} {op} {format_number(multiple)} x {which} "
            f"({fmt_quantity(threshold, value.unit)}, "
            f"{which} {fmt_quantity(limit_value, value.unit)} "
            f"from {source}): {answer}"
        )
        evidence = value.evidence + (Evidence(value.label, detail),)
        if verdict is None:
            return Outcome(UNKNOWN, evidence, (f"{value.label}: {detail}",))
        return Outcome(decided(verdict), evidence)

    return compare_limit


def judge_word(value: Value, word: str) -> bool | Outcome:
    """`is positive` and the like on a value: a truth, or the unknown outcome saying why."""
    if value.value is None:
        return Outcome(UNKNOWN, value.evidence, value.missing)
    event = value.event
    if isinstance(event, Measurement) and isinstance(event.value, Quantity):
        # A numeric result: positive above its reference range (docs: "Positive and negative").
        judged = numeric_word(event, event.value, value.concept, word)
        if isinstance(judged, str):
            return Outcome(UNKNOWN, value.evidence, (judged,))
        return judged
    found = matches_word(value.value, word)
    if found is None:
        shown = clip(str(value.value), 100)
        reason = f"{value.label} '{shown}' is neither {word} nor its opposite"
        return Outcome(UNKNOWN, value.evidence, (reason,))
    return found

"""Lowering: the checked tree of a rule file -> its plan (plan/model.py).

Every name is resolved here, once: concept references become concept sets, definition and
outcome references become ids of plan nodes, a window's missing anchor becomes the trial's index
date, units become their exact conversion factors, half-lives become days, grade names their
order. After lowering nothing is looked up by name again; engines read only the plan.

A program with errors cannot be lowered (`lower` raises ValueError); a checked program always
can, so a `LoweringError` is a bug in the checker or here.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TypeVar, assert_never, get_args

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
)
from criteria_lang.core.concepts import (
    ConceptSet,
    QuantityAttr,
    UnitAttr,
    basis_of,
)
from criteria_lang.core.conversions import Affine, Basis
from criteria_lang.core.data_units import DATA_UNITS
from criteria_lang.core.dates import approximate_days
from criteria_lang.core.derived import BODY_MEASURE_TOLERANCE_DAYS
from criteria_lang.core.routes import expand
from criteria_lang.core.units import IncompatibleUnits, Unit, UnitError, get_units
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import format_number
from criteria_lang.syntax import nodes as n

EXPR_NODES = (
    n.And,
    n.Or,
    n.Not,
    n.AtLeast,
    n.Review,
    n.Conditional,
    n.Constant,
    n.Truth,
    n.Compare,
    n.Between,
    n.IsValue,
    n.InValues,
)
EVERY_VISIT = n.Timepoints(every=True)
# Flipping a comparison so that the threshold is on the right: `2 x ULN < x` is `x > 2 x ULN`.
FLIPPED: dict[str, p.Comparator] = {
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
    "=": "=",
    "!=": "!=",
}
DAILY_SHAPES = ("daily", "per_kg_daily", "per_m2_daily")


class LoweringError(Exception):
    """A checked tree that cannot be lowered: a bug, never a user's error."""


def lower(program: CompiledRules) -> p.Plan:
    """The plan of a checked rule file. Raises ValueError if the file has errors."""
    if not program.ok:
        raise ValueError("cannot lower a rule file with errors; run `criteria check`")
    return Lowering(program).plan()


class Lowering:
    def __init__(self, program: CompiledRules) -> None:
        self.program = program
        self.units = get_units()
        self.index = program.index_date
        self.definitions: dict[str, p.Definition] = {}
        self.lowering: set[str] = set()
        self.definition_ids: dict[tuple[int, str], str] = {}
        self.conversions: dict[tuple[str, Basis], p.Conversion] = {}

    # ------------------------------------------------------------------ the file
    def plan(self) -> p.Plan:
        program = self.program
        module = program.module
        criteria = tuple(
            p.Criterion(c.id.text, c.section, c.text, self.expr(c.expr, module))
            for c in program.criteria
        )
        outcomes = tuple(
            self.outcome(outcome, section)
            for section in program.outcome_sections
            for outcome in section.outcomes
        )
        trial = program.trial
        return p.Plan(
            source=program.path,
            trial=trial.registry_id if trial else program.path,
            dates=program.dates,
            index_date=self.index,
            definitions=tuple(self.definitions.values()),
            criteria=criteria,
            outcomes=outcomes,
            schedule=tuple(self.scheduled(v) for v in trial.schedule) if trial else (),
        )

    def scheduled(self, visit: n.ScheduledVisit) -> p.ScheduledVisit:
        """A visit of the schedule: its target date and window (plain durations: the checker)."""
        if not isinstance(visit.offset, n.Duration):
            raise LoweringError("a scheduled visit not in plain durations passed the checker")
        tolerance = visit.tolerance
        if tolerance is not None and not isinstance(tolerance, n.Duration):
            raise LoweringError("a scheduled visit not in plain durations passed the checker")
        sign: p.Sign = -1 if visit.direction == "before" else 1
        target = p.Edge(p.TrialDate(visit.anchor.text), self.duration(visit.offset), sign)
        return p.ScheduledVisit(
            visit.name, target, self.duration(tolerance) if tolerance is not None else None
        )

    def outcome(self, outcome: n.Outcome, section: n.OutcomeSection) -> p.OutcomePlan:
        timepoints = outcome.timepoints or section.timepoints or EVERY_VISIT
        baseline = outcome.baseline or section.baseline
        baseline_name = baseline.text if baseline else self.index
        if baseline_name is None:
            raise LoweringError("an outcome without a baseline date passed the checker")
        return p.OutcomePlan(
            id=outcome.id.text,
            text=outcome.text,
            expr=self.expr(outcome.expr, self.program.module),
            timepoints=self.timepoints(timepoints),
            baseline=baseline_name,
        )

    def timepoints(self, timepoints: n.Timepoints) -> p.Timepoints:
        window = None
        if timepoints.window is not None:
            window = self.window(timepoints.window, None, self.program.module)
        if not timepoints.every:
            text = "at visits " + ", ".join(f'"{v}"' for v in timepoints.visits)
        elif window is None:
            text = "at every visit"
        else:
            text = f"at every visit {window.text}"
        return p.Timepoints(timepoints.visits, timepoints.every, window, text)

    # ------------------------------------------------------------------ names
    def concept(self, ref: n.Ref, module: Module) -> ConceptSet:
        symbol = module.lookup(ref.parts)
        if not isinstance(symbol, ConceptSymbol):
            raise LoweringError(f"'{ref.dotted}' is not a concept")
        return symbol.concept

    def define(self, symbol: DefineSymbol) -> str:
        """The id of a definition's plan node, lowering it on first use."""
        key = (id(symbol.module), symbol.define.name.text)
        ident = self.definition_ids.get(key)
        if ident is not None:
            return ident
        name = symbol.define.name.text
        ident = f"{symbol.module.name}.{name}" if symbol.module.name else name
        while ident in self.lowering or ident in self.definitions:
            ident += "'"  # two modules of one name: keep the ids apart
        self.definition_ids[key] = ident
        self.lowering.add(ident)
        body = symbol.define.expr
        lowered: p.Expr | p.Value
        if isinstance(body, EXPR_NODES):
            lowered = self.expr(body, symbol.module)
        elif isinstance(body, n.Exists):
            lowered = self.exists(body, symbol.module)
        else:
            lowered = self.value(body, symbol.module)
        self.lowering.discard(ident)
        # Added when lowered: a definition comes after the definitions it uses.
        self.definitions[ident] = p.Definition(ident, lowered)
        return ident

    def anchor(self, name: n.Name | None, module: Module | None = None) -> p.Anchor:
        module = module or self.program.module
        if isinstance(name, n.VisitAnchor):
            return p.VisitDate(name.which, name.visit_name)
        if isinstance(name, n.BirthAnchor):
            return p.BirthDate()
        if isinstance(name, n.ItAnchor):
            return p.ThisEvent()
        if isinstance(name, n.EndOf):
            inner = self.anchor(name.of, module)
            if not isinstance(inner, p.EventDate | p.ThisEvent):
                raise LoweringError(f"`{name.text}` is not of an event")
            return p.EndOf(inner)
        if isinstance(name, n.EventAnchor):
            if name.query is None:
                raise LoweringError("an event anchor without its query")
            return p.EventDate(self.aggregate(n.Aggregate(name.pick, name.query), module))
        if name is not None:
            if name.text in self.program.dates:
                return p.TrialDate(name.text)
            symbol = module.lookup(tuple(name.text.split(".")))
            if isinstance(symbol, DefineSymbol) and isinstance(symbol.define.expr, n.Aggregate):
                return p.EventDate(self.aggregate(symbol.define.expr, symbol.module))
            return p.TrialDate(name.text)
        if self.index is None:
            raise LoweringError("a window without a date passed the checker")
        return p.TrialDate(self.index)

    # ------------------------------------------------------------------ conditions
    def expr(self, node: n.Expr, module: Module) -> p.Expr:
        match node:
            case n.And():
                return p.And(tuple(self.expr(o, module) for o in node.operands))
            case n.Or():
                return p.Or(tuple(self.expr(o, module) for o in node.operands))
            case n.Not():
                return p.Not(self.expr(node.operand, module))
            case n.AtLeast():
                return p.AtLeast(node.count, tuple(self.expr(o, module) for o in node.operands))
            case n.Review():
                return p.Review(node.question)
            case n.Conditional():
                return p.Conditional(
                    self.expr(node.condition, module),
                    self.expr(node.then, module),
                    self.expr(node.otherwise, module),
                )
            case n.Constant():
                return p.Constant(node.value)
            case n.Truth():
                return self.truth(node.operand, module)
            case n.Compare():
                return self.compare(node, module)
            case n.Between():
                return self.between(node, module)
            case n.IsValue():
                return p.IsValue(self.value(node.operand, module), node.word, node.negated)
            case n.InValues():
                return p.InValues(self.value(node.operand, module), node.values)
            case _:
                assert_never(node)

    def truth(self, operand: n.Operand, module: Module) -> p.Expr:
        if isinstance(operand, n.Exists):
            return self.exists(operand, module)
        if isinstance(operand, n.Ref):
            symbol = module.lookup(operand.parts)
            if isinstance(symbol, DefineSymbol):
                return p.UseDefinition(self.define(symbol))
            if isinstance(symbol, OutcomeSymbol):
                return p.UseOutcome(symbol.outcome.id.text)
        raise LoweringError(f"{type(operand).__name__} is not a condition")

    def exists(self, node: n.Exists, module: Module) -> p.Exists:
        return p.Exists(self.query(node.query, module), node.negated, node.closed)

    def compare(self, node: n.Compare, module: Module) -> p.Compare:
        left, op, right = node.left, node.op, node.right
        if isinstance(left, n.TiterLit | n.LimitLit) and not isinstance(
            right, n.TiterLit | n.LimitLit
        ):
            left, op, right = right, FLIPPED[op], left
        lowered_left = self.value(left, module)
        lowered_right = self.value(right, module)
        conversion = self.threshold_conversion(lowered_left, lowered_right)
        return p.Compare(lowered_left, comparator(op), lowered_right, conversion)

    def between(self, node: n.Between, module: Module) -> p.Between:
        operand = self.value(node.operand, module)
        low = self.value(node.low, module)
        conversion = self.threshold_conversion(operand, low)
        return p.Between(
            operand, low, self.value(node.high, module), bounds(node.bounds), conversion
        )

    def threshold_conversion(self, value: p.Value, threshold: p.Value) -> p.Conversion | None:
        """How `value` reaches a literal threshold's unit; a bare number borrows the unit the
        value is measured in, so data in another unit are converted, never compared raw
        (docs/units.md, "Bare numbers")."""
        if not isinstance(threshold, p.Number):
            return None
        target = threshold.unit or self.measured_in(value)
        if target is None:
            return None
        return self.conversion(target, basis_of(self.value_concept(value)))

    def measured_in(self, value: p.Value) -> str | None:
        """The unit a value is compared in when its threshold has none: its concept's
        canonical unit, a derived value's or a daily dose's unit."""
        if isinstance(value, p.Aggregate):
            return value.unit if value.op not in ("count", "cumulative") else None
        if isinstance(value, p.Derived | p.DailyDose):
            return value.unit
        if isinstance(value, p.PercentOf):
            return self.measured_in(value.operand)
        if isinstance(value, p.Difference):
            return self.measured_in(value.left)
        if isinstance(value, p.UseValue):
            body = self.definitions[value.definition].body
            if isinstance(body, p.Aggregate | p.Derived | p.DailyDose | p.PercentOf | p.Difference):
                return self.measured_in(body)
        return None

    # ------------------------------------------------------------------ values
    def value(self, node: n.Operand, module: Module) -> p.Value:
        match node:
            case n.QuantityLit():
                return p.Number(node.value, node.unit)
            case n.TiterLit():
                return p.Titer(node.dilution)
            case n.LimitLit():
                return p.Limit(node.multiple, node.limit)
            case n.Aggregate():
                return self.aggregate(node, module)
            case n.Exists():
                return p.TruthValue(self.exists(node, module))
            case n.Age():
                return p.Age(self.anchor(node.anchor, module))
            case n.Sex():
                return p.Sex()
            case n.DerivedValue():
                return self.derived(node, module)
            case n.Ref():
                return self.reference_value(node, module)
            case n.PercentOf():
                return p.PercentOf(node.percent, self.value(node.operand, module))
            case n.Difference():
                return p.Difference(self.value(node.left, module), self.value(node.right, module))
            case n.DailyDose():
                return self.daily_dose(node, module)
            case n.NewGrades():
                return self.new_grades(node, module)
            case _:
                assert_never(node)

    def reference_value(self, ref: n.Ref, module: Module) -> p.Value:
        symbol = module.lookup(ref.parts)
        if isinstance(symbol, DefineSymbol):
            return p.UseValue(self.define(symbol))
        if isinstance(symbol, OutcomeSymbol):
            return p.TruthValue(p.UseOutcome(symbol.outcome.id.text))
        raise LoweringError(f"'{ref.dotted}' is not a value")

    def value_concept(self, value: p.Value) -> ConceptSet | None:
        """The concept a value is of, whose molar mass converts it (as the engine's values
        carry it: an aggregate's, a daily dose's, the left side's of a difference)."""
        if isinstance(value, p.Aggregate):
            return value.query.concept
        if isinstance(value, p.DailyDose):
            return value.drug
        if isinstance(value, p.PercentOf):
            return self.value_concept(value.operand)
        if isinstance(value, p.Difference):
            return self.value_concept(value.left) or self.value_concept(value.right)
        if isinstance(value, p.UseValue):
            body = self.definitions[value.definition].body
            if isinstance(body, p.Aggregate | p.DailyDose | p.PercentOf | p.Difference):
                return self.value_concept(body)
        return None

    def aggregate(self, node: n.Aggregate, module: Module) -> p.Aggregate:
        query = self.query(node.query, module)
        concept = query.concept
        unit_attr = concept.attributes.get("unit")
        window = query.window
        period = node.query.period if isinstance(node.query.period, n.Duration) else None
        return p.Aggregate(
            op=node.op,
            query=query,
            label=f"{'count distinct' if node.distinct else node.op} {node.query.kind} "
            f"{concept.short_name}" + (f" as {node.basis}" if node.basis else ""),
            unit=unit_attr.unit if isinstance(unit_attr, UnitAttr) else None,
            nearest_to=window.anchor if node.op == "nearest" else None,
            same_type=node.query.same_type,
            period=self.duration(period) if period is not None else None,
            basis=node.basis,
            distinct=node.distinct,
        )

    def derived(self, node: n.DerivedValue, module: Module) -> p.Derived:
        symbol = module.lookup(node.function.parts)
        if not isinstance(symbol, BuiltinSymbol):
            raise LoweringError(f"'{node.function.dotted}' is not a derived value")
        builtin = symbol.builtin
        tolerance = BODY_MEASURE_TOLERANCE_DAYS
        if isinstance(node.tolerance, n.Duration):
            tolerance = int(approximate_days(node.tolerance.amount, node.tolerance.unit))
        return p.Derived(
            formula=builtin.name,
            inputs=builtin.inputs,
            unit=builtin.unit,
            anchor=self.anchor(node.anchor, module),
            tolerance_days=tolerance,
            needs_age=builtin.needs_age,
            needs_sex=builtin.needs_sex,
            title=builtin.title,
            source=builtin.source,
            precedence=one_of(node.precedence, PRECEDENCES) if node.precedence else None,
            reported=builtin.reported if node.precedence else None,
        )

    def daily_dose(self, node: n.DailyDose, module: Module) -> p.DailyDose:
        concept = self.concept(node.drug, module)
        label = f"daily dose {concept.short_name}" + (f" as {node.basis}" if node.basis else "")
        return p.DailyDose(concept, self.anchor(node.anchor, module), node.basis, "mg/day", label)

    def new_grades(self, node: n.NewGrades, module: Module) -> p.NewGrades:
        concept = self.concept(node.concept, module)
        domains = tuple(
            p.GradeDomain(d, grade_order(d, concept) or ()) for d in grade_domains(concept)
        )
        window = self.window(node.window, concept, module)
        reference = self.window(node.reference, concept, module)
        return p.NewGrades(
            grades=node.grades,
            kind=node.kind,
            concept=concept,
            domains=domains,
            window=window,
            reference=reference,
            label=f"new {', '.join(node.grades)} in {concept.short_name}",
            window_nearest_to=self.nearest_anchor(node.window, module),
            reference_nearest_to=self.nearest_anchor(node.reference, module),
        )

    def nearest_anchor(self, window: n.Window, module: Module) -> p.Anchor | None:
        """A grade `at DATE [+/- T]` is the one nearest DATE; in any other window, the latest."""
        if window.kind == "at" and window.anchor is not None:
            return self.anchor(window.anchor, module)
        return None

    # ------------------------------------------------------------------ queries
    def query(self, node: n.Query, module: Module) -> p.Query:
        concept = self.concept(node.concept, module)
        basis = basis_of(concept)
        return p.Query(
            kind=node.kind,
            concept=concept,
            window=self.window(node.window, concept, module),
            label=f"{node.kind} {concept.short_name}",
            routes=expand(node.routes),
            statuses=tuple(dict.fromkeys(s.casefold() for s in node.statuses)),
            where=tuple(self.attribute_filter(w) for w in node.where),
            value=self.value_filter(node.value, concept) if node.value is not None else None,
            dose=self.dose_filter(node.dose) if node.dose is not None else None,
            new_start=node.new_start,
            ended=node.ended,
            dose_pattern=node.dose_pattern,
            run=self.run_filter(node.duration) if node.duration is not None else None,
            molar_mass=basis.molar_mass,
            valence=basis.valence,
            scales=basis.scales,
            related=tuple(p.Related(self.query(r.query, module), r.negated) for r in node.related),
            reasons=tuple(self.concept(r, module) for r in node.reasons),
        )

    @staticmethod
    def attribute_filter(where: n.AttributeFilter) -> p.AttributeFilter:
        values = tuple(
            p.Number(v.value, v.unit) if isinstance(v, n.QuantityLit) else v for v in where.values
        )
        return p.AttributeFilter(where.name, one_of(where.op, ATTRIBUTE_OPS), values)

    def value_filter(self, vf: n.ValueFilter, concept: ConceptSet) -> p.ValueFilter:
        target = vf.value
        lowered: p.Number | p.Titer | p.Limit | str
        conversion = None
        if isinstance(target, n.QuantityLit):
            lowered = p.Number(target.value, target.unit)
            canonical = concept.attributes.get("unit")
            unit = target.unit or (canonical.unit if isinstance(canonical, UnitAttr) else None)
            if unit is not None:  # a bare number borrows the concept's unit
                conversion = self.conversion(unit, basis_of(concept))
        elif isinstance(target, n.TiterLit):
            lowered = p.Titer(target.dilution)
        elif isinstance(target, n.LimitLit):
            lowered = p.Limit(target.multiple, target.limit)
        else:
            lowered = target
        return p.ValueFilter(one_of(vf.op, VALUE_OPS), lowered, conversion)

    def dose_filter(self, dose: n.DoseFilter) -> p.DoseFilter:
        threshold = self.units.parse(dose.value.unit or "mg")
        shape = dose_shape(threshold)
        if shape is None:
            raise LoweringError(f"'{threshold.text}' is not a dose unit")
        high = None
        if dose.high is not None:
            high_unit = self.units.parse(dose.high.unit) if dose.high.unit else threshold
            high = dose.high.value * self.units.factor(high_unit, threshold)
        return p.DoseFilter(
            op=one_of(dose.op, DOSE_OPS),
            low=dose.value.value,
            high=high,
            bounds=bounds(dose.bounds),
            unit=threshold.text,
            shape=shape,
            basis=dose.basis,
            conversion=self.dose_conversion(threshold, shape),
        )

    def run_filter(self, requirement: n.DurationRequirement) -> p.RunFilter:
        duration, gap = requirement.duration, requirement.gap
        if not isinstance(duration, n.Duration) or not isinstance(gap, n.Duration | None):
            raise LoweringError("`for at least` with a duration that is not plain")
        return p.RunFilter(
            self.duration(duration),
            requirement.mode,
            self.duration(gap) if gap is not None else None,
        )

    # ------------------------------------------------------------------ windows
    def window(self, window: n.Window, concept: ConceptSet | None, module: Module) -> p.Window:
        text = describe_window(window)
        if window.kind == "any_time":
            return p.Window(None, None, text)
        anchor = self.anchor(window.anchor, module)
        if window.kind == "ever":
            return p.Window(None, p.Edge(anchor), text)
        if window.kind == "span":
            start = self.shifted(anchor, window.start_shift, concept, module)
            last = self.anchor(window.anchor_end, module)
            end = self.shifted(last, window.end_shift, concept, module)
            return p.Window(start, end, text)
        if window.kind == "during":
            if not isinstance(anchor, p.EventDate | p.ThisEvent):
                raise LoweringError(f"`during {anchor.text}` is not of an event")
            return p.Window(p.Edge(anchor), p.Edge(p.EndOf(anchor)), text)
        near = self.offset(window.near, concept, module)
        far = self.offset(window.far, concept, module)
        if window.kind in ("open", "age"):
            # `at least D before A`: open towards the past, ending D before A (`more than`: the
            # day before); `before age N`: ending the day before the Nth birthday.
            before = window.direction == "before"
            edge = p.Edge(anchor, far, -1 if before and window.kind == "open" else 1)
            inclusive = not window.strict and not (window.kind == "age" and before)
            if before:
                return p.Window(None, edge, text, end_inclusive=inclusive)
            return p.Window(edge, None, text, start_inclusive=inclusive)
        if window.kind == "at":
            return p.Window(p.Edge(anchor, near, -1), p.Edge(anchor, near, 1), text)
        direction = window.direction or "before"
        if window.kind == "within":
            start = p.Edge(anchor, far, -1) if direction in ("before", "around") else p.Edge(anchor)
            end = p.Edge(anchor, far, 1) if direction in ("after", "around") else p.Edge(anchor)
            return p.Window(start, end, text)
        sign: p.Sign = -1 if direction == "before" else 1
        return p.Window(
            p.Edge(anchor, near, sign), p.Edge(anchor, far, sign), text, either_order=True
        )

    def shifted(
        self, anchor: p.Anchor, shift: n.Shift | None, concept: ConceptSet | None, module: Module
    ) -> p.Edge:
        """An end of `from A to B`, moved by its offset when it has one."""
        if shift is None:
            return p.Edge(anchor)
        if shift.direction == "around":
            raise LoweringError("`around` in a span's end passed the checker")
        sign: p.Sign = -1 if shift.direction == "before" else 1
        return p.Edge(anchor, self.offset(shift.duration, concept, module), sign)

    def offset(
        self, duration: n.DurationLike | None, concept: ConceptSet | None, module: Module
    ) -> p.Offset | None:
        if duration is None:
            return None
        if isinstance(duration, n.Duration):
            return self.duration(duration)
        if isinstance(duration, n.LongestDuration):
            options = tuple(self.offset(o, concept, module) for o in duration.options)
            return p.Longest(tuple(o for o in options if o is not None))
        drug = concept if duration.drug is None else self.concept(duration.drug, module)
        if drug is None:
            raise LoweringError("half-lives outside a query passed the checker")
        return p.HalfLives(
            duration.count,
            drug,
            duration.drug is None,
            self.half_lives(duration.count, drug),
            declared=bool(drug.all_attribute_values("half_life")),
        )

    def half_lives(self, count: Fraction, drug: ConceptSet) -> int:
        """N times the longest half-life declared in `drug` (its members'), in whole days."""
        longest = Fraction(0)
        for value in drug.all_attribute_values("half_life"):
            if isinstance(value, QuantityAttr):
                longest = max(longest, self.units.convert(value.value, value.unit, "days"))
        return math.ceil(count * longest)

    @staticmethod
    def duration(duration: n.Duration) -> p.Duration:
        return p.Duration(duration.amount, duration.unit)

    # ------------------------------------------------------------------ units
    def conversion(self, target: str, basis: Basis) -> p.Conversion:
        """The exact map from each known data unit that converts to `target`, through the
        concept's molar mass, valence and scales."""
        key = (target, basis)
        found = self.conversions.get(key)
        if found is None:
            goal = self.units.parse(target)
            factors = tuple(
                p.UnitFactor(row.ours, row.ucum, m.slope, row.omop_concept_id, m.offset)
                for row in DATA_UNITS
                if (m := self.affine(self.units.parse(row.ours), goal, basis)) is not None
            )
            found = self.conversions[key] = p.Conversion(
                target, basis.molar_mass, factors, basis.valence, basis.scales
            )
        return found

    def dose_conversion(self, threshold: Unit, shape: p.DoseShape) -> p.Conversion:
        """Factors from each recorded dose unit to the threshold, through the shape's divisions
        (an amount per administration becomes per day for a daily shape; per kg, per m2)."""
        key = (f"dose {shape} {threshold.text}", Basis())
        known = self.conversions.get(key)
        if known is not None:
            return known
        factors = []
        for row in DATA_UNITS:
            unit = self.units.parse(row.ours)
            if unit.origin:
                continue  # a temperature is no dose (and cannot be divided)
            if shape in DAILY_SHAPES and self.is_amount(unit):
                unit = self.units.divide(unit, "day")
            if shape in ("per_kg", "per_kg_daily"):
                unit = self.units.divide(unit, "kg")
            elif shape in ("per_m2", "per_m2_daily"):
                unit = self.units.divide(unit, "m2")
            mapped = self.affine(unit, threshold, Basis())
            if mapped is not None and mapped.is_factor:
                factors.append(p.UnitFactor(row.ours, row.ucum, mapped.slope, row.omop_concept_id))
        found = self.conversions[key] = p.Conversion(threshold.text, None, tuple(factors))
        return found

    @staticmethod
    def is_amount(unit: Unit) -> bool:
        """Not already an amount per time (as the engine reads a recorded dose: mL/d too)."""
        return "[time]" not in unit.dimensionality

    def affine(self, source: Unit, target: Unit, basis: Basis) -> Affine | None:
        # Most pairs differ in dimension: say no without building the registry's error message.
        if source.dimensionality != target.dimensionality and not basis:
            return None
        try:
            return self.units.affine(source, target, basis=basis)
        except (IncompatibleUnits, UnitError):
            return None


T = TypeVar("T", bound=str)
COMPARATORS: dict[str, p.Comparator] = {op: op for op in get_args(p.Comparator)}
ATTRIBUTE_OPS: dict[str, p.AttributeOp] = {op: op for op in get_args(p.AttributeOp)}
VALUE_OPS: dict[str, p.ValueOp] = {op: op for op in get_args(p.ValueOp)}
DOSE_OPS: dict[str, p.DoseOp] = {op: op for op in get_args(p.DoseOp)}
BOUNDS: dict[str, p.Bounds] = {b: b for b in get_args(p.Bounds)}
PRECEDENCES: dict[str, p.Precedence] = {w: w for w in get_args(p.Precedence)}


def one_of(text: str, allowed: dict[str, T]) -> T:
    """`text` as the Literal it is (the tree keeps operators as plain text)."""
    found = allowed.get(text)
    if found is None:
        raise LoweringError(f"{text!r} is not one of {sorted(allowed)}")
    return found


def comparator(op: str) -> p.Comparator:
    return one_of(op, COMPARATORS)


def bounds(text: str) -> p.Bounds:
    return one_of(text, BOUNDS)


def describe_window(window: n.Window) -> str:
    """The window in the rule's words, for evidence: `within 6 months before screening`."""
    anchor = window.anchor.text if window.anchor else "the index date"
    if window.kind == "within":
        return f"within {describe_offset(window.far)} {window.direction or 'before'} {anchor}"
    if window.kind == "between":
        near, far = describe_offset(window.near), describe_offset(window.far)
        return f"between {near} and {far} {window.direction} {anchor}"
    if window.kind == "at":
        return f"at {anchor}" + (f" +/- {describe_offset(window.near)}" if window.near else "")
    if window.kind == "ever":
        return f"ever before {anchor}" if window.anchor else "ever"
    if window.kind == "span":
        end = window.anchor_end.text if window.anchor_end else "?"
        start = shifted_text(anchor, window.start_shift)
        return f"from {start} to {shifted_text(end, window.end_shift)}"
    if window.kind == "open":
        how = "more than" if window.strict else "at least"
        return f"{how} {describe_offset(window.far)} {window.direction} {anchor}"
    if window.kind == "age":
        how = "before" if window.direction == "before" else "from"
        return f"{how} age {describe_offset(window.far)}"
    if window.kind == "during":
        return f"during {anchor}"
    return "at any time"


def shifted_text(anchor: str, shift: n.Shift | None) -> str:
    if shift is None:
        return anchor
    return f"{describe_offset(shift.duration)} {shift.direction} {anchor}"


def describe_offset(duration: n.DurationLike | None) -> str:
    if isinstance(duration, n.Duration):
        return f"{format_number(duration.amount)} {duration.unit}"
    if isinstance(duration, n.LongestDuration):
        return "max(" + ", ".join(describe_offset(o) for o in duration.options) + ")"
    if isinstance(duration, n.HalfLives):
        of = f" of {duration.drug.dotted}" if duration.drug else ""
        return f"{format_number(duration.count)} half-lives{of}"
    return ""

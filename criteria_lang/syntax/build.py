"""Lark parse tree to the typed tree of `nodes.py`, once, with spans.

Shape errors the grammar cannot express (a duration in mg, `at least 1.5 of`) become
diagnostics here; the builder never raises for a bad rule file.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import attrs
import lark
from lark import Token, Tree

from criteria_lang.core import messages as m
from criteria_lang.core.diagnostics import NO_SPAN, Diagnostic, Span
from criteria_lang.core.kinds import concept_kind, event_kind
from criteria_lang.syntax import nodes as n

TIME_UNITS: dict[str, n.TimeUnit] = {
    "day": "days",
    "days": "days",
    "d": "days",
    "week": "weeks",
    "weeks": "weeks",
    "wk": "weeks",
    "month": "months",
    "months": "months",
    "mo": "months",
    "year": "years",
    "years": "years",
    "y": "years",
}


_RATIO = re.compile(r"/[0-9]+(\.[0-9]+)?")


def split_quantity(text: str) -> tuple[Fraction, str | None]:
    """`40 mL/min` -> (40, "mL/min"); `3` -> (3, None). The grammar guarantees the shape."""
    i = 0
    while i < len(text) and (text[i].isdigit() or text[i] == "."):
        i += 1
    number = Fraction(text[:i])
    unit = text[i:].strip()
    return number, (unit or None)


class Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []

    # -------------------------------------------------------------- helpers
    def report(self, message: m.Message, span: Span, **fields: Any) -> None:
        self.diagnostics.append(message.at(self.path, span, **fields))

    @staticmethod
    def span(item: Tree[Any] | Token) -> Span:
        if isinstance(item, Token):
            return Span.from_token(item)
        return Span.from_meta(item.meta)

    @staticmethod
    def string(token: Token | Tree[Any]) -> str:
        assert isinstance(token, Token), "the grammar puts a STRING here"
        raw = str(token)
        if raw.startswith('"""'):
            return raw[3:-3]
        body = raw[1:-1]
        # Only \" and \\ are escapes; the rest is kept as written.
        return body.replace('\\"', '"').replace("\\\\", "\\")

    def name(self, token: Token | Tree[Any]) -> n.Name:
        assert isinstance(token, Token), "the grammar puts a name here"
        return n.Name(str(token), span=self.span(token))

    @staticmethod
    def word(tree: Tree[Any] | Token) -> str:
        """The keyword(s) of a `!rule` of literals, e.g. `direction` -> "before"."""
        if isinstance(tree, Token):
            return str(tree)
        return " ".join(str(t) for t in tree.children)

    # -------------------------------------------------------------- file
    def build_file(self, tree: Tree[Any]) -> n.RuleFile:
        trial: n.Trial | None = None
        imports: list[n.Import] = []
        concepts: list[n.ConceptDecl] = []
        defines: list[n.Define] = []
        criteria: list[n.Criterion] = []
        outcome_sections: list[n.OutcomeSection] = []
        for item in tree.children:
            kind = item.data
            if kind == "trial":
                built = self.trial(item)
                if trial is not None:
                    self.report(m.SECOND_TRIAL, built.span)
                else:
                    trial = built
            elif kind in ("import_module", "import_names"):
                imports.append(self.import_stmt(item))
            elif kind == "concept_decl":
                concepts.append(self.concept_decl(item))
            elif kind == "define":
                defines.append(self.define(item))
            elif kind == "section":
                criteria.extend(self.section(item))
            elif kind == "outcome_section":
                outcome_sections.append(self.outcome_section(item))
        return n.RuleFile(
            path=self.path,
            trial=trial,
            imports=tuple(imports),
            concepts=tuple(concepts),
            defines=tuple(defines),
            criteria=tuple(criteria),
            outcome_sections=tuple(outcome_sections),
        )

    def trial(self, tree: Tree[Any]) -> n.Trial:
        registry_id = self.string(tree.children[0])
        title: str | None = None
        dates: list[n.Name] = []
        index: n.Name | None = None
        schedule: list[n.ScheduledVisit] = []
        for field in tree.children[1:]:
            if field.data == "title":
                title = self.string(field.children[0])
            elif field.data == "dates":
                dates.extend(self.name(t) for t in field.children)
            elif field.data == "index_date":
                index = self.name(field.children[0])
            elif field.data == "scheduled_visit":
                schedule.append(self.scheduled_visit(field))
        return n.Trial(
            registry_id, title, tuple(dates), index, span=self.span(tree), schedule=tuple(schedule)
        )

    def scheduled_visit(self, tree: Tree[Any]) -> n.ScheduledVisit:
        name, offset, direction, anchor, *rest = tree.children
        assert isinstance(name, Token) and isinstance(anchor, Token)
        assert isinstance(offset, Tree) and all(isinstance(r, Tree) for r in rest)
        return n.ScheduledVisit(
            self.string(name),
            self.duration(offset),
            self.word(direction),
            self.name(anchor),
            self.tolerance(rest[0]) if rest else None,
            span=self.span(tree),
        )

    def import_stmt(self, tree: Tree[Any]) -> n.Import:
        module = tuple(str(t) for t in tree.children[0].children)
        rest = tree.children[1:]
        if tree.data == "import_module":
            alias = self.name(rest[0]) if rest else None
            return n.Import(module, alias=alias, span=self.span(tree))
        return n.Import(module, names=tuple(self.name(t) for t in rest), span=self.span(tree))

    # -------------------------------------------------------------- declarations
    def concept_decl(self, tree: Tree[Any]) -> n.ConceptDecl:
        children = list(tree.children)
        kind = concept_kind(self.word(children.pop(0)))
        name = self.name(children.pop(0))
        title = None
        if children and isinstance(children[0], Token) and children[0].type == "STRING":
            title = self.string(children.pop(0))
        expr = children.pop(0)
        include = self.concept_union(expr.children[0])
        exclude = self.concept_union(expr.children[1]) if len(expr.children) > 1 else ()
        attributes: tuple[n.ConceptAttr, ...] = ()
        if children:
            attributes = tuple(self.concept_attr(a) for a in children[0].children)
        return n.ConceptDecl(
            kind=kind,
            name=name,
            title=title,
            include=include,
            exclude=exclude,
            attributes=attributes,
            span=self.span(tree),
        )

    def concept_union(self, tree: Tree[Any]) -> tuple[n.ConceptTerm, ...]:
        terms: list[n.ConceptTerm] = []
        for term in tree.children:
            if term.data == "code_term":
                system = self.word(term.children[0])
                terms.append(
                    n.CodeTerm(system, self.string(term.children[1]), span=self.span(term))
                )
            elif term.data == "ref_term":
                terms.append(n.RefTerm(self.ref(term.children[0]), span=self.span(term)))
            # empty_term: `{}` adds nothing (an open class a trial extends)
        return tuple(terms)

    def concept_attr(self, tree: Tree[Any]) -> n.ConceptAttr:
        name = self.name(tree.children[0])
        raw = tree.children[1]
        value: n.QuantityLit | n.UnitLit | str
        if isinstance(raw, Token) and raw.type == "STRING":
            value = self.string(raw)
        elif isinstance(raw, Tree) and raw.data == "unit_only":
            value = n.UnitLit(str(raw.children[0]), span=self.span(raw))
        else:
            value = self.quantity(raw)
            if value.unit is not None and _RATIO.fullmatch(value.unit):
                # `prednisone_equivalent = 20/3`: an exact ratio, not a unit.
                value = n.QuantityLit(value.value / Fraction(value.unit[1:]), None, span=value.span)
            elif name.text == "unit" and value.unit is None:
                # `unit = 1`: the dimensionless unit, not the number one.
                value = n.UnitLit(
                    str(raw.children[0] if isinstance(raw, Tree) else raw), span=value.span
                )
        return n.ConceptAttr(name, value, span=self.span(tree))

    def define(self, tree: Tree[Any]) -> n.Define:
        children = list(tree.children)
        name = self.name(children.pop(0))
        title = None
        if isinstance(children[0], Token) and children[0].type == "STRING":
            title = self.string(children.pop(0))
        body = children[0]
        expr: Any
        if isinstance(body, Tree) and body.data == "truth":
            # A define of a bare operand is a value (or a boolean query): keep the operand.
            expr = self.operand(body.children[0])
        else:
            expr = self.expr(body)
        return n.Define(name, title, expr, span=self.span(tree))

    def section(self, tree: Tree[Any]) -> list[n.Criterion]:
        section = self.word(tree.children[0])
        out = []
        for crit in tree.children[1:]:
            ident, text, body = crit.children
            out.append(
                n.Criterion(
                    section=section,  # type: ignore[arg-type]
                    id=self.name(ident),
                    text=self.string(text),
                    expr=self.expr(body),
                    span=self.span(crit),
                )
            )
        return out

    # -------------------------------------------------------------- expressions
    def expr(self, tree: Tree[Any]) -> n.Expr:
        kind = tree.data
        span = self.span(tree)
        if kind == "or_expr":
            return n.Or(tuple(self.expr(c) for c in tree.children), span=span)
        if kind == "and_expr":
            return n.And(tuple(self.expr(c) for c in tree.children), span=span)
        if kind == "not_":
            return n.Not(self.expr(tree.children[0]), span=span)
        if kind == "at_least":
            count_token = tree.children[0]
            count = Fraction(str(count_token))
            if count.denominator != 1 or count < 0:
                self.report(m.AT_LEAST_NOT_WHOLE, self.span(count_token), count=count_token)
            operands = tuple(self.expr(c) for c in tree.children[1:])
            return n.AtLeast(int(count), operands, span=span)
        if kind == "review":
            return n.Review(self.string(tree.children[0]), span=span)
        if kind == "conditional":
            cond, then, other = (self.expr(c) for c in tree.children)
            return n.Conditional(cond, then, other, span=span)
        if kind == "boolean":
            return n.Constant(self.word(tree) == "true", span=span)
        if kind == "truth":
            return n.Truth(self.operand(tree.children[0]), span=span)
        if kind == "compare":
            left, op, right = tree.children
            return n.Compare(self.operand(left), str(op), self.operand(right), span=span)
        if kind == "between":
            operand, low, high, *rest = tree.children
            bounds = self.word(rest[0]) if rest else "inclusive"
            low_node, high_node = self.borrow_unit(self.operand(low), self.operand(high))
            return n.Between(self.operand(operand), low_node, high_node, bounds, span=span)
        if kind == "is_value":
            operand = self.operand(tree.children[0])
            words = tree.children[1:]
            negated = any(isinstance(w, Tree) and w.data == "is_not" for w in words)
            word = self.word(words[-1])
            return n.IsValue(operand, word, negated, span=span)
        if kind == "in_values":
            operand = self.operand(tree.children[0])
            values = tuple(self.string(t) for t in tree.children[1:])
            return n.InValues(operand, values, span=span)
        raise AssertionError(f"unhandled expression {kind}")  # grammar and builder disagree

    @staticmethod
    def borrow_unit(low: n.Operand, high: n.Operand) -> tuple[n.Operand, n.Operand]:
        """`between 18 and 70 years`: a bare-number bound takes the other bound's unit."""
        if isinstance(low, n.QuantityLit) and isinstance(high, n.QuantityLit):
            if low.unit is None and high.unit is not None:
                low = n.QuantityLit(low.value, high.unit, span=low.span)
            elif high.unit is None and low.unit is not None:
                high = n.QuantityLit(high.value, low.unit, span=high.span)
        return low, high

    # -------------------------------------------------------------- operands
    def quantity(self, item: Tree[Any] | Token) -> n.QuantityLit:
        if isinstance(item, Tree):
            if item.data == "scaled_quantity":
                number, unit = item.children
                return n.QuantityLit(
                    Fraction(str(number)),
                    str(unit),
                    span=self.span(item),
                    unit_span=self.span(unit),
                )
            item = item.children[0]
        value, unit = split_quantity(str(item))
        span = self.span(item)
        unit_span = NO_SPAN
        if unit is not None and span.line == span.end_line:
            # The token ends with its unit (the grammar's QUANTITY).
            unit_span = Span(
                span.end - len(unit),
                span.end,
                span.line,
                span.end_column - len(unit),
                span.end_line,
                span.end_column,
            )
        return n.QuantityLit(value, unit, span=span, unit_span=unit_span)

    def operand(self, tree: Tree[Any] | Token) -> n.Operand:
        if isinstance(tree, Token):
            raise AssertionError(f"unexpected token {tree!r}")
        kind = tree.data
        span = self.span(tree)
        if kind in ("quantity", "scaled_quantity"):
            return self.quantity(tree)
        if kind == "negative":  # `percent change ... <= -50 %`
            literal = self.quantity(tree.children[0])
            return attrs.evolve(literal, value=-literal.value, span=span)
        if kind == "titer":
            dilution = Fraction(str(tree.children[0]).split(":", 1)[1])
            return n.TiterLit(dilution, span=span)
        if kind == "uln":
            number, limit = tree.children
            return n.LimitLit(Fraction(str(number)), self.word(limit), span=span)  # type: ignore[arg-type]
        if kind in ("aggregate", "count_distinct", "cumulative"):
            return self.aggregate(tree)
        if kind == "exists":
            return self.exists(tree)
        if kind == "age":
            return n.Age(self.anchor(tree.children[0]), span=span)
        if kind in ("derived", "derived_at_visit"):
            return self.derived(tree)
        if kind in ("difference", "percent_of", "daily_dose", "new_grades"):
            return self.relative_operand(tree)
        if kind == "sex":
            return n.Sex(span=span)
        if kind == "ref":
            return self.ref(tree)
        raise AssertionError(f"unhandled operand {kind}")

    def aggregate(self, tree: Tree[Any]) -> n.Aggregate:
        span = self.span(tree)
        if tree.data == "count_distinct":
            return n.Aggregate("count", self.query(tree.children[0]), span=span, distinct=True)
        if tree.data == "cumulative":
            basis = None
            if len(tree.children) > 1:
                basis = str(tree.children[1].children[0])
            return n.Aggregate("cumulative", self.query(tree.children[0]), span=span, basis=basis)
        op = self.word(tree.children[0])
        return n.Aggregate(op, self.query(tree.children[1]), span=span)  # type: ignore[arg-type]

    def exists(self, tree: Tree[Any]) -> n.Exists:
        children = tree.children
        negated = closed = False
        if len(children) == 2:
            negated = self.word(children[0]) == "no"
            closed = self.word(children[0]) == "known"
        return n.Exists(negated, self.query(children[-1]), span=self.span(tree), closed=closed)

    def derived(self, tree: Tree[Any]) -> n.DerivedValue:
        """`value F [reported|computed first] at DATE|visit [+/- D]`."""
        function, *rest = tree.children
        precedence = None
        if isinstance(rest[0], Tree) and rest[0].data == "precedence":
            precedence = self.word(rest.pop(0)).split()[0]  # reported | computed
        where, *tail = rest
        anchor: n.Name
        if isinstance(where, Tree):
            anchor = self.visit_anchor(where)
        else:
            anchor = self.name(where)
        tolerance = self.tolerance(tail[0]) if tail and isinstance(tail[0], Tree) else None
        assert isinstance(function, Tree)
        return n.DerivedValue(
            self.ref(function), anchor, tolerance, span=self.span(tree), precedence=precedence
        )

    def ref(self, tree: Tree[Any]) -> n.Ref:
        return n.Ref(tuple(str(t) for t in tree.children), span=self.span(tree))

    # -------------------------------------------------------------- queries
    def query(self, tree: Tree[Any]) -> n.Query:
        children = list(tree.children)
        kind = event_kind(self.word(children.pop(0)))
        concept = self.ref(children.pop(0))
        window_tree = children.pop()
        fields: dict[str, Any] = {}
        for qualifier in children:
            q = qualifier.data
            if q == "route":
                fields["routes"] = tuple(str(t) for t in qualifier.children)
            elif q in ("dose", "dose_between"):
                fields["dose"] = self.dose(qualifier)
            elif q == "new_start":
                fields["new_start"] = True
            elif q == "ended":
                fields["ended"] = True
            elif q == "same_type":
                fields["same_type"] = True
            elif q == "any_period":
                token = qualifier.children[0]
                fields["period"] = self.plain_duration(str(token), self.span(token))
            elif q == "dose_change":
                word = self.word(qualifier.children[0])
                fields["dose_pattern"] = "change" if word == "dose change" else "stable"
            elif q == "duration_req":
                fields["duration"] = self.duration_requirement(qualifier)
            elif q in ("where", "where_in"):
                fields.setdefault("where", ())
                fields["where"] = fields["where"] + (self.where(qualifier),)
            elif q == "status":
                fields["statuses"] = tuple(str(t) for t in qualifier.children)
            elif q in ("value_filter", "value_is"):
                fields["value"] = self.value_filter(qualifier)
            elif q == "reason_for":
                fields["reasons"] = fields.get("reasons", ()) + (self.ref(qualifier.children[0]),)
            elif q == "related":
                negated = qualifier.children[0].data == "related_no"
                inner = self.query(qualifier.children[-1])
                related = n.Related(inner, negated, span=self.span(qualifier))
                fields["related"] = fields.get("related", ()) + (related,)
        return n.Query(
            kind=kind,
            concept=concept,
            window=self.window(window_tree),
            span=self.span(tree),
            **fields,
        )

    def dose(self, tree: Tree[Any]) -> n.DoseFilter:
        children = list(tree.children)
        basis = None
        if children and isinstance(children[-1], Tree) and children[-1].data == "dose_basis":
            basis = str(children.pop().children[0])
        if tree.data == "dose":
            op, value = children
            return n.DoseFilter(str(op), self.quantity(value), basis=basis, span=self.span(tree))
        low, high, *rest = children
        bounds = self.word(rest[0]) if rest else "inclusive"
        low_q, high_q = self.borrow_unit(self.quantity(low), self.quantity(high))
        assert isinstance(low_q, n.QuantityLit) and isinstance(high_q, n.QuantityLit)
        return n.DoseFilter(
            "between", low_q, high=high_q, bounds=bounds, basis=basis, span=self.span(tree)
        )

    def duration_requirement(self, tree: Tree[Any]) -> n.DurationRequirement:
        children = list(tree.children)
        duration = self.duration(children.pop(0))
        mode = "continuous"
        gap = None
        for child in children:
            if child.data == "continuity":
                mode = self.word(child)
            elif child.data == "gap":
                gap = self.duration(child.children[0])
        return n.DurationRequirement(duration, mode, gap, span=self.span(tree))  # type: ignore[arg-type]

    def where(self, tree: Tree[Any]) -> n.AttributeFilter:
        name = str(tree.children[0])
        if tree.data == "where_in":
            values = tuple(self.attr_literal(v) for v in tree.children[1:])
            return n.AttributeFilter(name, "in", values, span=self.span(tree))
        op = str(tree.children[1])
        return n.AttributeFilter(
            name, op, (self.attr_literal(tree.children[2]),), span=self.span(tree)
        )

    def attr_literal(self, item: Tree[Any] | Token) -> str | n.QuantityLit | bool:
        if isinstance(item, Token) and item.type == "STRING":
            return self.string(item)
        if isinstance(item, Tree) and item.data == "boolean":
            return self.word(item) == "true"
        return self.quantity(item)

    def value_filter(self, tree: Tree[Any]) -> n.ValueFilter:
        if tree.data == "value_is":
            return n.ValueFilter("is", self.word(tree.children[0]), span=self.span(tree))
        op, value = tree.children
        return n.ValueFilter(str(op), self.operand(value), span=self.span(tree))  # type: ignore[arg-type]

    # -------------------------------------------------------------- windows
    def window(self, tree: Tree[Any]) -> n.Window:
        kind = tree.data
        span = self.span(tree)
        c = tree.children
        if kind == "within":
            duration, direction, anchor = c
            return n.Window(
                "within",
                anchor=self.anchor(anchor),
                direction=self.word(direction),  # type: ignore[arg-type]
                far=self.duration(duration),
                span=span,
            )
        if kind == "within_default":
            return n.Window("within", far=self.duration(c[0]), span=span)
        if kind == "between_window":
            near_tree, far_tree, direction, anchor = c
            far = self.duration(far_tree)
            near_value, near_unit = split_quantity(str(near_tree.children[0]))
            unit = TIME_UNITS.get(near_unit or "", None)
            if near_unit is None and isinstance(far, n.Duration):
                unit = far.unit
            near: n.DurationLike
            if unit is None:
                self.report(m.NOT_A_NEAR_DURATION, self.span(near_tree), text=near_tree.children[0])
                near = n.Duration(near_value, "days", span=self.span(near_tree))
            else:
                near = n.Duration(near_value, unit, span=self.span(near_tree))
            return n.Window(
                "between",
                anchor=self.anchor(anchor),
                direction=self.word(direction),  # type: ignore[arg-type]
                near=near,
                far=far,
                span=span,
            )
        if kind == "at":
            anchor = self.anchor(c[0])
            tolerance = self.tolerance(c[1]) if len(c) > 1 else None
            return n.Window("at", anchor=anchor, near=tolerance, span=span)
        if kind == "ever":
            anchor = self.anchor(c[0]) if c else None
            return n.Window("ever", anchor=anchor, span=span)
        if kind == "span":
            start, start_shift = self.span_end(c[0])
            end, end_shift = self.span_end(c[1])
            return n.Window(
                "span",
                anchor=start,
                anchor_end=end,
                start_shift=start_shift,
                end_shift=end_shift,
                span=span,
            )
        if kind == "any_time":
            return n.Window("any_time", span=span)
        if kind in ("at_least_window", "more_than_window"):
            duration, side_word, anchor = c
            return n.Window(
                "open",
                anchor=self.anchor(anchor),
                direction=self.word(side_word),  # type: ignore[arg-type]
                far=self.duration(duration),
                strict=kind == "more_than_window",
                span=span,
            )
        if kind == "during":
            return n.Window("during", anchor=self.anchor(c[0]), span=span)
        if kind in ("before_age", "from_age"):
            text = str(c[0])
            if split_quantity(text)[1] is None:
                text += " years"  # `before age 16`: an age is in years unless it says otherwise
            age = self.plain_duration(text, self.span(c[0]))
            birth = n.birth_anchor(span=span)
            age_side: n.Direction = "before" if kind == "before_age" else "after"
            return n.Window("age", anchor=birth, direction=age_side, far=age, span=span)
        raise AssertionError(f"unhandled window {kind}")

    def anchor(self, tree: Tree[Any]) -> n.Name:
        span = self.span(tree)
        if tree.data == "birth_anchor":
            return n.birth_anchor(span=span)
        if tree.data == "it_anchor":
            return n.ItAnchor("it", span=span)
        if tree.data == "end_of":
            inner = self.anchor(tree.children[0])
            return n.EndOf(f"end of {inner.text}", of=inner, span=span)
        if tree.data == "event_anchor":
            pick = self.word(tree.children[0])
            query = self.query(tree.children[1])
            text = f"{pick} {query.kind} {query.concept.dotted}"
            return n.EventAnchor(text, pick=pick, query=query, span=span)  # type: ignore[arg-type]
        child = tree.children[0]
        if isinstance(child, Tree):
            return self.visit_anchor(child)
        return self.name(child)

    def span_end(self, tree: Tree[Any]) -> tuple[n.Name, n.Shift | None]:
        """An end of `from A to B`: a date, or a date moved by an offset."""
        if tree.data != "shifted":
            return self.anchor(tree), None
        duration, direction, anchor = tree.children
        shift = n.Shift(
            self.duration(duration),
            self.word(direction),  # type: ignore[arg-type]
            span=self.span(tree),
        )
        return self.anchor(anchor), shift

    def tolerance(self, tree: Tree[Any]) -> n.DurationLike:
        return self.duration(tree.children[0])

    def duration(self, tree: Tree[Any]) -> n.DurationLike:
        span = self.span(tree)
        if tree.data == "longest":
            return n.LongestDuration(tuple(self.duration(c) for c in tree.children), span=span)
        if tree.data == "half_lives":
            count = Fraction(str(tree.children[0]))
            drug = self.ref(tree.children[1]) if len(tree.children) > 1 else None
            return n.HalfLives(count, drug, span=span)
        return self.plain_duration(str(tree.children[0]), span)

    def plain_duration(self, text: str, span: Span) -> n.Duration:
        value, unit = split_quantity(text)
        time_unit = TIME_UNITS.get(unit or "")
        if time_unit is None:
            self.report(m.NOT_A_DURATION, span, text=text)
            return n.Duration(value, "days", span=span)
        return n.Duration(value, time_unit, span=span)

    # -------------------------------------------------------------- outcomes
    # The `outcomes` section and the operands that compare a value with another
    # (docs/language.md, "Outcomes").
    def visit_anchor(self, tree: Tree[Any]) -> n.VisitAnchor:
        span = self.span(tree)
        if tree.data == "previous_visit":
            return n.visit_anchor("previous", span=span)
        if tree.children:
            return n.visit_anchor("named", self.string(tree.children[0]), span=span)
        return n.visit_anchor("current", span=span)

    def relative_operand(self, tree: Tree[Any]) -> n.Operand:
        kind = tree.data
        span = self.span(tree)
        c = tree.children
        if kind == "difference":
            return n.Difference(self.operand(c[0]), self.operand(c[1]), span=span)
        if kind == "percent_of":
            value, unit = split_quantity(str(c[0]))
            if unit != "%":
                self.report(m.NOT_A_PERCENTAGE, self.span(c[0]), text=c[0])
            return n.PercentOf(value, self.operand(c[1]), span=span)
        if kind == "daily_dose":
            drug = self.ref(c[0])
            basis = None
            rest = list(c[1:])
            if isinstance(rest[0], Tree) and rest[0].data == "dose_basis":
                basis = str(rest.pop(0).children[0])
            return n.DailyDose(drug, self.anchor(rest[0]), basis, span=span)
        # new_grades: STRING+ kind ref window anchor tolerance?
        grades: list[str] = []
        index = 0
        while isinstance(token := c[index], Token) and token.type == "STRING":
            grades.append(self.string(token))
            index += 1
        query_kind = event_kind(self.word(c[index]))
        concept = self.ref(c[index + 1])
        window = self.window(c[index + 2])
        anchor_tree = c[index + 3]
        tolerance = self.tolerance(c[index + 4]) if len(c) > index + 4 else None
        reference_span = self.span(anchor_tree)
        if tolerance is not None:
            reference_span = reference_span.join(self.span(c[index + 4]))
        reference = n.Window(
            "at", anchor=self.anchor(anchor_tree), near=tolerance, span=reference_span
        )
        return n.NewGrades(
            tuple(grades),
            query_kind,
            concept,
            window,
            reference,
            span=span,
        )

    def timepoints(
        self, options: list[Tree[Any]], where: str
    ) -> tuple[n.Timepoints | None, n.Name | None]:
        timepoints: n.Timepoints | None = None
        baseline: n.Name | None = None
        for option in options:
            span = self.span(option)
            if option.data == "compared_to":
                if baseline is not None:
                    self.report(m.TWO_BASELINES, span, where=where)
                    continue
                baseline = self.name(option.children[0])
                continue
            if timepoints is not None:
                self.report(m.TWO_TIMEPOINTS, span, where=where)
                continue
            if option.data == "at_visits":
                timepoints = n.Timepoints(
                    visits=tuple(self.string(t) for t in option.children), span=span
                )
            else:
                window = self.window(option.children[0]) if option.children else None
                timepoints = n.Timepoints(every=True, window=window, span=span)
        return timepoints, baseline

    def outcome_section(self, tree: Tree[Any]) -> n.OutcomeSection:
        options = [c for c in tree.children if c.data != "outcome"]
        timepoints, baseline = self.timepoints(options, "the `outcomes` section")
        outcomes = []
        for item in tree.children:
            if item.data != "outcome":
                continue
            ident, text, *rest = item.children
            body = rest.pop()
            own_timepoints, own_baseline = self.timepoints(rest, f"outcome {ident}")
            outcomes.append(
                n.Outcome(
                    id=self.name(ident),
                    text=self.string(text),
                    expr=self.expr(body),
                    timepoints=own_timepoints,
                    baseline=own_baseline,
                    span=self.span(item),
                )
            )
        return n.OutcomeSection(tuple(outcomes), timepoints, baseline, span=self.span(tree))


def build(tree: lark.ParseTree, path: str) -> tuple[n.RuleFile, list[Diagnostic]]:
    builder = Builder(path)
    rule_file = builder.build_file(tree)
    return rule_file, builder.diagnostics

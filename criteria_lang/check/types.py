"""Typing the expressions of criteria, definitions and outcomes: every condition is a condition,
every comparison compares comparable values in compatible units (docs/language.md,
"Expressions", "Values and comparisons", "Outcomes").

`check_bool` walks a condition and `operand_type` works out what a value is (`ValueType`: its
kind, canonical unit and concept); both are a `match` over the node classes with `assert_never`,
so a node added to syntax/nodes.py is a type error here until it is checked.
"""

from __future__ import annotations

from typing import Any, assert_never

import attrs

from criteria_lang.check.constructs import check_range, check_sexes, check_word_on_existence
from criteria_lang.check.context import CheckContext
from criteria_lang.check.queries import (
    QUERY_KEYWORD,
    check_counting,
    check_duration,
    check_query,
    check_window,
    grade_domains,
    grade_order,
    unit_edit,
)
from criteria_lang.check.symbols import (
    ANY,
    BOOL,
    BuiltinSymbol,
    ConceptSymbol,
    DefineSymbol,
    OutcomeSymbol,
    TypeKind,
    ValueType,
)
from criteria_lang.check.unit_checks import why_not, wrong_unit_fix
from criteria_lang.core import messages as m
from criteria_lang.core.concepts import ConceptSet, UnitAttr, basis_of
from criteria_lang.core.derived import BUILTINS
from criteria_lang.core.diagnostics import Span
from criteria_lang.core.kinds import RESULT_KINDS
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


def define_type(cx: CheckContext, name: str) -> ValueType:
    """A definition of this module, typed once (and its uses of itself reported)."""
    if name in cx.define_types:
        return cx.define_types[name]
    symbol = cx.module.symbols.get(name)
    if not isinstance(symbol, DefineSymbol) or symbol.module is not cx.module:
        return ANY
    if name in cx.checking_defines:
        cx.report(m.DEFINITION_REFERS_TO_ITSELF, symbol.define.name.span, name=name)
        return ANY
    cx.checking_defines.append(name)
    body = symbol.define.expr
    if isinstance(body, EXPR_NODES):
        check_bool(cx, body)
        result = BOOL
    else:
        result = operand_type(cx, body)
    cx.checking_defines.pop()
    cx.define_types[name] = result
    return result


# ---------------------------------------------------------------------- conditions


def check_bool(cx: CheckContext, expr: n.Expr) -> None:
    match expr:
        case n.And() | n.Or():
            for operand in expr.operands:
                check_bool(cx, operand)
        case n.AtLeast():
            check_at_least(cx, expr)
        case n.Not():
            check_bool(cx, expr.operand)
        case n.Conditional():
            for part in (expr.condition, expr.then, expr.otherwise):
                check_bool(cx, part)
        case n.Review() | n.Constant():
            pass
        case n.Truth():
            check_truth(cx, expr)
        case n.Compare():
            left, right = operand_type(cx, expr.left), operand_type(cx, expr.right)
            check_comparable(cx, left, right, expr.left, expr.right, expr.span)
        case n.Between():
            value = operand_type(cx, expr.operand)
            for bound in (expr.low, expr.high):
                check_comparable(cx, value, operand_type(cx, bound), expr.operand, bound, expr.span)
            check_range(cx, expr.low, expr.high, expr.span)
        case n.IsValue():
            check_is_value(cx, expr)
        case n.InValues():
            check_in_values(cx, expr)
        case _:
            assert_never(expr)


def check_at_least(cx: CheckContext, expr: n.AtLeast) -> None:
    for operand in expr.operands:
        check_bool(cx, operand)
    if expr.count > len(expr.operands):
        cx.report(m.AT_LEAST_NEVER_MET, expr.span, count=expr.count, items=len(expr.operands))


def check_truth(cx: CheckContext, expr: n.Truth) -> None:
    kind = operand_type(cx, expr.operand)
    if kind.kind not in ("bool", "any"):
        cx.report(m.NOT_A_CONDITION, expr.span, what=kind.describe or "this value")


def check_in_values(cx: CheckContext, expr: n.InValues) -> None:
    kind = operand_type(cx, expr.operand)
    if kind.kind in ("quantity", "number", "bool"):
        cx.report(m.IN_ON_A_NUMBER, expr.span, what=kind.describe)
    check_sexes(cx, expr)


def check_is_value(cx: CheckContext, expr: n.IsValue) -> None:
    kind = operand_type(cx, expr.operand)
    # A lab or observation result is read against its reference range (docs: "Positive and
    # negative").
    numeric_result = expr.word in ("positive", "negative") and kind.query_kind in (
        "lab",
        "observation",
    )
    if kind.kind == "quantity" and not numeric_result:
        cx.report(m.WORD_ON_A_NUMBER, expr.span, word=expr.word, what=kind.describe)
    check_word_on_existence(cx, expr)


def check_comparable(
    cx: CheckContext, left: ValueType, right: ValueType, lnode: Any, rnode: Any, span: Span
) -> None:
    if "any" in (left.kind, right.kind):
        return
    if left.kind == "bool" or right.kind == "bool":
        cx.report(m.CONDITION_COMPARED, span)
        return
    if isinstance(rnode, n.LimitLit) or isinstance(lnode, n.LimitLit):
        other = left if isinstance(rnode, n.LimitLit) else right
        if other.query_kind not in ("lab", "observation"):
            cx.report(m.LIMIT_NOT_ON_RESULT, span)
        return
    if isinstance(rnode, n.TiterLit) or isinstance(lnode, n.TiterLit):
        return
    if left.kind == "text" or right.kind == "text":
        return
    lunit, runit = left.unit, right.unit
    concept = left.concept or right.concept
    if lunit is None or runit is None:
        return
    if cx.units.compatible(lunit, runit, basis=basis_of(concept)):
        return
    node = rnode if isinstance(rnode, n.QuantityLit) else lnode
    reason = why_not(cx.units, lunit, runit, concept)
    cx.report(
        m.UNIT_OF_OTHER_KIND,
        getattr(node, "span", span),
        edits=unit_edit(node, lunit),
        what=f"'{concept.short_name}'" if concept else "the value",
        unit=lunit.text,
        dimension=cx.units.describe(lunit),
        other=runit.text if node is rnode else lunit.text,
        other_dimension=cx.units.describe(runit),
        why=f": {reason}" if reason else "",
        fix=wrong_unit_fix(concept, lunit, cx.units),
    )


# ---------------------------------------------------------------------- values


def operand_type(cx: CheckContext, operand: n.Operand) -> ValueType:
    match operand:
        case n.QuantityLit():
            return quantity_type(cx, operand)
        case n.TiterLit() | n.LimitLit():
            return ValueType("number", describe="a threshold")
        case n.Age():
            cx.date_name(operand.anchor, operand.span)
            return ValueType("quantity", unit=cx.units.parse("years"), describe="an age")
        case n.Sex():
            return ValueType("text", describe="the patient's sex")
        case n.DerivedValue():
            return derived_type(cx, operand)
        case n.Exists():
            check_query(cx, operand.query)
            check_counting(cx, operand.query, None)
            return BOOL
        case n.Aggregate():
            return aggregate_type(cx, operand)
        case n.Ref():
            return reference_type(cx, operand)
        case n.PercentOf():
            return percent_type(cx, operand)
        case n.Difference():
            return difference_type(cx, operand)
        case n.DailyDose():
            return daily_dose_type(cx, operand)
        case n.NewGrades():
            return new_grades_type(cx, operand)
        case _:
            assert_never(operand)


def quantity_type(cx: CheckContext, operand: n.QuantityLit) -> ValueType:
    if operand.unit is None:
        return ValueType("number", describe="a number")
    unit = cx.parse_unit(operand.unit, operand.span)
    if unit is None:
        return ANY
    return ValueType("quantity", unit=unit, describe=f"a quantity in {operand.unit}")


def derived_type(cx: CheckContext, operand: n.DerivedValue) -> ValueType:
    cx.date_name(operand.anchor, operand.span)
    check_duration(cx, operand.tolerance, None)
    symbol = cx.module.lookup(operand.function.parts)
    if not isinstance(symbol, BuiltinSymbol):
        cx.unknown_name(operand.function, "derived value")
        return ANY
    builtin = symbol.builtin
    if operand.precedence is not None and builtin.reported is None:
        reported = ", ".join(sorted(b.name for b in BUILTINS.values() if b.reported))
        name, precedence = builtin.name, operand.precedence
        cx.report(
            m.NOTHING_REPORTED, operand.span, name=name, precedence=precedence, reported=reported
        )
    unit = cx.units.parse(builtin.unit)
    return ValueType("quantity", unit=unit, describe=builtin.title)


def aggregate_type(cx: CheckContext, operand: n.Aggregate) -> ValueType:
    concept = check_query(cx, operand.query)
    check_counting(cx, operand.query, operand.op, operand.distinct)
    kind = operand.query.kind
    if operand.op == "count":
        return ValueType("number", describe="a count")
    if operand.op == "cumulative":
        if kind != "medication":
            cx.report(m.CUMULATIVE_OF_OTHER_KIND, operand.span)
        if operand.basis is not None and concept is not None:
            if not concept.all_attribute_values(operand.basis):
                cx.report(
                    m.NO_DRUG_DECLARES,
                    operand.span,
                    name=concept.short_name,
                    attribute=operand.basis,
                )
        mg = cx.units.parse("mg")
        return ValueType("quantity", unit=mg, concept=concept, query_kind="medication")
    if kind == "medication" and operand.op == "sum":
        cx.report(m.SUM_OF_DOSES, operand.span)
    if operand.op in TREND_OPS:
        return trend_type(cx, operand, concept)
    if kind in ("condition", "procedure") and operand.op in ("min", "max", "sum"):
        cx.report(m.NO_VALUES_TO_AGGREGATE, operand.span, op=operand.op, kind=kind)
    unit = None
    if concept is not None:
        attr = concept.attributes.get("unit")
        if isinstance(attr, UnitAttr):
            unit = cx.units.parse(attr.unit)
    type_kind: TypeKind = "quantity" if unit is not None else "any"
    described = f"the {operand.op} {concept.short_name if concept else 'value'}"
    return ValueType(type_kind, unit=unit, concept=concept, query_kind=kind, describe=described)


TREND_OPS = ("percent change", "doubling time", "consecutive rises")


def trend_type(cx: CheckContext, operand: n.Aggregate, concept: ConceptSet | None) -> ValueType:
    """A trend reads the numeric results of a series (docs/language.md, "Trends in a series")."""
    if operand.query.kind not in RESULT_KINDS:
        cx.report(m.TREND_OF_OTHER_KIND, operand.span, op=operand.op, kind=operand.query.kind)
    described = f"the {operand.op} of {concept.short_name if concept else 'the results'}"
    if operand.op == "percent change":
        return ValueType("quantity", unit=cx.units.parse("%"), concept=None, describe=described)
    if operand.op == "doubling time":
        return ValueType("quantity", unit=cx.units.parse("days"), concept=None, describe=described)
    return ValueType("number", describe=described)


def reference_type(cx: CheckContext, operand: n.Ref) -> ValueType:
    symbol = cx.module.lookup(operand.parts)
    match symbol:
        case None:
            cx.unknown_name(operand, "name")
            return ANY
        case DefineSymbol():
            if symbol.module is not cx.module:  # typed where it is declared
                cx.uses_define(symbol, operand.span)
                return ANY
            result = define_type(cx, operand.parts[0])
            cx.uses_define(symbol, operand.span)
            return result
        case OutcomeSymbol():
            return outcome_reference(cx, symbol, operand)
        case ConceptSymbol():
            keyword = QUERY_KEYWORD[symbol.concept.kind]
            cx.report(m.CONCEPT_AS_CONDITION, operand.span, name=operand.dotted, keyword=keyword)
            return ANY
        case _:
            cx.report(m.NOT_USABLE_HERE, operand.span, name=operand.dotted)
            return ANY


# ---------------------------------------------------------------------- values of values
# docs/language.md, "Values relative to other values", "Daily dose on a day", "New grades".


def percent_type(cx: CheckContext, operand: n.PercentOf) -> ValueType:
    inner = operand_type(cx, operand.operand)
    if inner.kind in ("bool", "text"):
        cx.report(m.PERCENT_OF_NON_NUMBER, operand.span, what=inner.describe)
        return ANY
    return attrs.evolve(inner, describe=f"{operand.percent} % of {inner.describe or 'a value'}")


def difference_type(cx: CheckContext, operand: n.Difference) -> ValueType:
    left, right = operand_type(cx, operand.left), operand_type(cx, operand.right)
    for side in (left, right):
        if side.kind in ("bool", "text"):
            cx.report(m.CANNOT_SUBTRACT, operand.span, what=side.describe)
            return ANY
    check_comparable(cx, left, right, operand.left, operand.right, operand.span)
    return attrs.evolve(left, describe="a difference")


def daily_dose_type(cx: CheckContext, operand: n.DailyDose) -> ValueType:
    concept = drug_concept(cx, operand.drug)
    cx.date_name(operand.anchor, operand.span)
    if operand.basis is not None and concept is not None:
        if not concept.all_attribute_values(operand.basis):
            cx.report(
                m.NO_DRUG_DECLARES, operand.span, name=concept.short_name, attribute=operand.basis
            )
    return ValueType(
        "quantity",
        unit=cx.units.parse("mg/day"),
        concept=concept,
        query_kind="medication",
        describe="a daily dose",
    )


def drug_concept(cx: CheckContext, ref: n.Ref) -> ConceptSet | None:
    symbol = cx.module.lookup(ref.parts)
    if symbol is None:
        cx.unknown_name(ref, "drug")
        return None
    if not isinstance(symbol, ConceptSymbol) or symbol.concept.kind != "drug":
        cx.report(m.NOT_A_DRUG, ref.span, name=ref.dotted)
        return None
    return symbol.concept


def new_grades_type(cx: CheckContext, operand: n.NewGrades) -> ValueType:
    """`count new "A" in score bilag.domains ...`: graded results with declared grades."""
    query = n.Query(operand.kind, operand.concept, operand.window, span=operand.span)
    concept = check_query(cx, query)
    check_window(cx, operand.reference, concept)
    if operand.kind not in ("score", "observation", "lab"):
        cx.report(m.NEW_GRADES_WITHOUT_GRADES, operand.span, kind=operand.kind)
    elif concept is not None:
        check_grades(cx, operand, concept)
    return ValueType("number", describe="a count of newly graded domains")


def check_grades(cx: CheckContext, operand: n.NewGrades, concept: ConceptSet) -> None:
    for domain in grade_domains(concept):
        order = grade_order(domain, concept)
        if order is None:
            cx.report(
                m.NO_ORDER_OF_GRADES,
                operand.concept.span,
                name=domain.short_name,
                whole=concept.short_name,
            )
            continue
        unknown = [g for g in operand.grades if g.casefold() not in order]
        if unknown:
            cx.report(
                m.NOT_A_GRADE,
                operand.span,
                grade=unknown[0],
                name=domain.short_name,
                grades=", ".join(order),
            )
            return


# ---------------------------------------------------------------------- outcomes


def check_outcome(cx: CheckContext, outcome: n.Outcome) -> None:
    ident = outcome.id.text
    if ident in cx.checked_outcomes:
        return
    if ident in cx.checking_outcomes:
        cx.report(m.OUTCOME_REFERS_TO_ITSELF, outcome.id.span, name=ident)
        return
    cx.checking_outcomes.append(ident)
    check_bool(cx, outcome.expr)
    cx.checking_outcomes.pop()
    cx.checked_outcomes.add(ident)


def outcome_reference(cx: CheckContext, symbol: OutcomeSymbol, ref: n.Ref) -> ValueType:
    if not cx.checking_outcomes or cx.checking_defines:
        cx.report(m.OUTCOME_OUTSIDE_OUTCOMES, ref.span, name=ref.dotted)
        return ANY
    check_outcome(cx, symbol.outcome)
    return BOOL

"""Checks of the attributes and reasons a query reads (docs/language.md, "Attributes"): `where
NAME` must name an attribute the query's kind carries (core/attributes.py) or its concept
declares (`with attributes = "..."`), else it could never be decided (C311); `for CONCEPT`
names a concept, on a kind that records a reason (C304)."""

from __future__ import annotations

from criteria_lang.check.context import CheckContext
from criteria_lang.check.symbols import ConceptSymbol
from criteria_lang.core import messages as m
from criteria_lang.core.attributes import REASON, attributes_of, declared_names
from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.diagnostics import did_you_mean
from criteria_lang.syntax import nodes as n

# Where a concept declares the attributes its data record beyond the kind's own.
DECLARED = "attributes"


def concept_attributes(concept: ConceptSet | None) -> tuple[str, ...]:
    """The attribute names a concept (or one of its members) declares."""
    if concept is None:
        return ()
    names: list[str] = []
    for value in concept.all_attribute_values(DECLARED):
        if isinstance(value, str):
            names.extend(declared_names(value))
    return tuple(dict.fromkeys(names))


def check_attributes(cx: CheckContext, query: n.Query, concept: ConceptSet | None) -> None:
    """Every `where NAME` reads an attribute the kind carries or the concept declares."""
    standard = attributes_of(query.kind)
    declared = concept_attributes(concept)
    for where in query.where:
        if where.name == REASON and REASON in standard:
            cx.report(m.REASON_IS_FOR, where.span, kind=query.kind, concept=query.concept.dotted)
            continue
        if where.name in standard or where.name in declared:
            continue
        known = sorted((set(standard) - {REASON}) | set(declared))
        hint = did_you_mean(where.name, known)
        cx.report(
            m.UNDECLARED_ATTRIBUTE,
            where.span,
            kind=query.kind,
            name=where.name,
            concept=query.concept.dotted,
            hint=f"did you mean '{hint}'? " if hint else "",
            carried=f"{query.kind}s carry: {', '.join(known)}; " if known else "",
        )


def check_reasons(cx: CheckContext, query: n.Query) -> None:
    """`for CONCEPT`: a known concept, on a kind that records a reason."""
    if query.reasons and REASON not in attributes_of(query.kind):
        cx.report(m.NO_REASON_RECORDED, query.reasons[0].span, kind=query.kind)
    for ref in query.reasons:
        symbol = cx.module.lookup(ref.parts)
        if symbol is None:
            cx.unknown_name(ref, "concept")
        elif not isinstance(symbol, ConceptSymbol):
            cx.report(m.NOT_A_CONCEPT, ref.span, name=ref.dotted)

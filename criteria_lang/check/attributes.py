"""Checks of the attributes and reasons a query reads (docs/language.md, "Attributes"): `where
NAME` must name an attribute the query's kind carries (core/attributes.py) or its concept
declares (`with attributes = "..."`), else it could never be decided (C311); `for CONCEPT`
names a concept of any kind, and only kinds that record a reason take it (C304).

The checker (check/checker.py) calls these; they report through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from criteria_lang.core.attributes import REASON, attributes_of, declared_names
from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.diagnostics import did_you_mean
from criteria_lang.syntax import nodes as n

if TYPE_CHECKING:
    from criteria_lang.check.checker import Checker

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


def check_attributes(checker: Checker, query: n.Query, concept: ConceptSet | None) -> None:
    """Every `where NAME` reads an attribute the kind carries or the concept declares."""
    standard = attributes_of(query.kind)
    declared = concept_attributes(concept)
    for where in query.where:
        if where.name == REASON and REASON in standard:
            checker.error(
                "C311",
                "a reason is a coded concept, read by `for`, not by `where reason`",
                f"write `for <concept>`, e.g. `{query.kind} {query.concept.dotted} for "
                "conditions.heart_failure ...`",
                where.span,
            )
            continue
        if where.name in standard or where.name in declared:
            continue
        known = sorted(set(standard) - {REASON} | set(declared))
        hint = did_you_mean(where.name, known)
        concept_name = query.concept.dotted
        checker.error(
            "C311",
            f"no {query.kind} records an attribute '{where.name}': neither the kind nor "
            f"'{concept_name}' declares it",
            (f"did you mean '{hint}'? " if hint else "")
            + (f"{query.kind}s carry: {', '.join(known)}; " if known else "")
            + f'or declare it on the concept: `with attributes = "{where.name}"`',
            where.span,
        )


def check_reasons(checker: Checker, query: n.Query) -> None:
    """`for CONCEPT`: a known concept, on a kind that records a reason."""
    if query.reasons and REASON not in attributes_of(query.kind):
        checker.error(
            "C304",
            f"`for` reads the reason a record gives, and a {query.kind} has none",
            "use `for` on a medication, procedure or immunization; relate other events with "
            "`with (...)`",
            query.reasons[0].span,
        )
    from criteria_lang.check.checker import ConceptSymbol

    for ref in query.reasons:
        symbol = checker.module.lookup(ref.parts)
        if symbol is None:
            checker.unknown_name(ref, "concept")
        elif not isinstance(symbol, ConceptSymbol):
            checker.error(
                "C208",
                f"'{ref.dotted}' is not a concept",
                "name the concept the reason should match, e.g. `for conditions.heart_failure`",
                ref.span,
            )

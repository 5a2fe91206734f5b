"""Checks of queries, windows and durations: the concept queried and its kind, what each
qualifier applies to, dose units, dates, and half-lives (docs/language.md, "Queries", "Time",
"Medications and doses")."""

from __future__ import annotations

from typing import Literal, assert_never

from criteria_lang.check.anchors import check_during, check_related
from criteria_lang.check.attributes import check_attributes, check_reasons
from criteria_lang.check.constructs import (
    check_period,
    check_range,
    check_routes,
    check_shift_directions,
)
from criteria_lang.check.context import CheckContext
from criteria_lang.check.symbols import ConceptSymbol
from criteria_lang.check.unit_checks import why_not, wrong_unit_fix
from criteria_lang.core import messages as m
from criteria_lang.core.concepts import ConceptSet, UnitAttr, basis_of
from criteria_lang.core.dates import MAX_DURATION_DAYS, MAX_DURATION_YEARS, approximate_days
from criteria_lang.core.diagnostics import NO_SPAN, Edit
from criteria_lang.core.kinds import (
    CONCEPT_KIND_OF,
    CONCEPT_KINDS_READ,
    EVENT_KIND_OF,
    RESULT_KINDS,
)
from criteria_lang.core.numbers import format_number
from criteria_lang.core.units import Unit, get_units
from criteria_lang.syntax import nodes as n

DoseShape = Literal["amount", "daily", "per_kg", "per_kg_daily", "per_m2", "per_m2_daily"]
# Query keyword -> the concept kind it reads, and concept kind -> the query keyword that reads
# it (`drug` -> `medication`): the table of kinds (core/kinds.py).
QUERY_CONCEPT_KIND: dict[str, str] = {k: v for k, v in CONCEPT_KIND_OF.items()}
QUERY_KEYWORD: dict[str, str] = {k: v for k, v in EVENT_KIND_OF.items()}


def check_query(cx: CheckContext, query: n.Query) -> ConceptSet | None:
    """A query's concept (None when it is not one) and its qualifiers."""
    concept = queried_concept(cx, query)
    check_window(cx, query.window, concept)
    check_related(cx, query)
    check_attributes(cx, query, concept)
    check_reasons(cx, query)
    check_routes(cx, query)
    if query.dose is not None:
        check_dose(cx, query, query.dose, concept)
    if query.duration is not None:
        check_run(cx, query, query.duration, concept)
    if query.routes and query.kind != "medication":
        cx.report(m.ONLY_FOR_MEDICATIONS, query.window.span, qualifier="route")
    if query.ended and query.kind != "medication":
        cx.report(m.ENDED_ONLY_FOR_MEDICATIONS, query.window.span)
    if query.value is not None and isinstance(query.value.value, n.QuantityLit):
        check_value_unit(cx, query.value.value, concept)
    return concept


def queried_concept(cx: CheckContext, query: n.Query) -> ConceptSet | None:
    symbol = cx.module.lookup(query.concept.parts)
    if symbol is None:
        cx.unknown_name(query.concept, "concept")
        return None
    if not isinstance(symbol, ConceptSymbol):
        cx.report(m.NOT_A_CONCEPT, query.concept.span, name=query.concept.dotted)
        return None
    concept = symbol.concept
    expected = QUERY_CONCEPT_KIND[query.kind]
    if concept.kind not in CONCEPT_KINDS_READ[query.kind]:
        cx.report(
            m.QUERY_OF_OTHER_KIND,
            query.concept.span,
            name=query.concept.dotted,
            kind=concept.kind,
            expected=expected,
            keyword=QUERY_KEYWORD[concept.kind],
        )
    return concept


def check_run(
    cx: CheckContext, query: n.Query, run: n.DurationRequirement, concept: ConceptSet | None
) -> None:
    if query.kind in RESULT_KINDS:
        # A result persisting over a period (docs: "Persistence of results"): one run.
        if run.mode != "continuous" or run.gap is not None:
            cx.report(m.PERSISTENCE_IS_ONE_RUN, run.span)
    elif query.kind != "medication":
        cx.report(m.RUN_ONLY_FOR_MEDICATIONS, run.span)
    check_duration(cx, run.duration, concept)
    check_duration(cx, run.gap, concept)
    for part in (run.duration, run.gap):
        if part is not None and not isinstance(part, n.Duration):
            cx.report(m.RUN_NOT_PLAIN, part.span)


def check_value_unit(cx: CheckContext, value: n.QuantityLit, concept: ConceptSet | None) -> None:
    """`value OP Q`: Q's unit must be of the concept's kind of unit (C301)."""
    if value.unit is None:
        return
    threshold = cx.parse_unit(value.unit, value.span)
    unit_attr = concept.attributes.get("unit") if concept else None
    if threshold is None or concept is None or not isinstance(unit_attr, UnitAttr):
        return
    own = cx.units.parse(unit_attr.unit)
    if cx.units.compatible(own, threshold, basis=basis_of(concept)):
        return
    reason = why_not(cx.units, own, threshold, concept)
    cx.report(
        m.VALUE_UNIT_OF_OTHER_KIND,
        value.span,
        edits=unit_edit(value, own),
        name=concept.short_name,
        unit=own.text,
        dimension=cx.units.describe(own),
        other_dimension=cx.units.describe(threshold),
        why=f": {reason}" if reason else "",
        fix=wrong_unit_fix(concept, own, cx.units),
    )


def check_counting(
    cx: CheckContext, query: n.Query, op: str | None, distinct: bool = False
) -> None:
    """`of the same type` and `in any D` shape a count (docs: "Counting by type")."""
    if not query.same_type and query.period is None:
        return
    if isinstance(query.period, n.Duration):
        check_duration(cx, query.period, None)
        check_period(cx, query.period)
    if op != "count":
        cx.report(m.COUNTING_WITHOUT_COUNT, query.span)
    elif distinct:
        cx.report(m.DISTINCT_WITH_SAME_TYPE, query.span)


def check_dose(
    cx: CheckContext, query: n.Query, dose: n.DoseFilter, concept: ConceptSet | None
) -> None:
    if query.kind != "medication":
        cx.report(m.ONLY_FOR_MEDICATIONS, dose.span, qualifier="dose")
        return
    if dose.high is not None:
        check_range(cx, dose.value, dose.high, dose.span)
    for quantity in (dose.value, dose.high):
        if quantity is None:
            continue
        if quantity.unit is None:
            cx.report(m.DOSE_WITHOUT_UNIT, quantity.span)
            continue
        unit = cx.parse_unit(quantity.unit, quantity.span)
        if unit is not None and dose_shape(unit) is None:
            cx.report(
                m.NOT_A_DOSE_UNIT,
                quantity.span,
                unit=quantity.unit,
                dimension=cx.units.describe(unit),
            )
    if dose.basis is not None and concept is not None:
        if not concept.all_attribute_values(dose.basis):
            cx.report(m.NO_DRUG_DECLARES, dose.span, name=concept.short_name, attribute=dose.basis)


def check_window(cx: CheckContext, window: n.Window, concept: ConceptSet | None) -> None:
    if window.kind in ("within", "between", "at", "ever", "span", "open", "during"):
        cx.date_name(window.anchor, window.span)
    if window.anchor_end is not None:
        cx.date_name(window.anchor_end, window.span)
    check_during(cx, window)
    check_duration(cx, window.near, concept)
    check_duration(cx, window.far, concept)
    for shift in (window.start_shift, window.end_shift):
        if shift is not None:
            check_duration(cx, shift.duration, concept)
    check_shift_directions(cx, window)


def check_duration(
    cx: CheckContext, duration: n.DurationLike | None, concept: ConceptSet | None
) -> None:
    match duration:
        case None:
            return
        case n.Duration():
            days = duration.amount * (7 if duration.unit == "weeks" else 1)
            if approximate_days(duration.amount, duration.unit) > MAX_DURATION_DAYS:
                # Dates are years 1 to 9999: a window of thousands of years from any real
                # screening date leaves them, and every patient would be unknown. Said here,
                # once, instead (docs/limits.md).
                cx.report(
                    m.DURATION_TOO_LONG,
                    duration.span,
                    amount=format_number(duration.amount),
                    unit=duration.unit,
                    years=MAX_DURATION_YEARS,
                )
            elif days.denominator != 1:
                whole = "days" if duration.unit in ("days", "weeks") else duration.unit
                cx.report(
                    m.NOT_WHOLE_DURATION,
                    duration.span,
                    amount=duration.amount,
                    unit=duration.unit,
                    whole=whole,
                )
        case n.LongestDuration():
            for option in duration.options:
                check_duration(cx, option, concept)
        case n.HalfLives():
            check_half_lives(cx, duration, concept)
        case _:
            assert_never(duration)


def check_half_lives(cx: CheckContext, duration: n.HalfLives, concept: ConceptSet | None) -> None:
    """`N half-lives [of DRUG]`: the drug (the queried one without `of`) declares a half-life."""
    target = concept
    if duration.drug is not None:
        symbol = cx.module.lookup(duration.drug.parts)
        if not isinstance(symbol, ConceptSymbol):
            cx.unknown_name(duration.drug, "drug")
            return
        target = symbol.concept
    if target is None:
        return
    # An open class (one that includes `{}`) holds agents the stdlib cannot know: their
    # half-lives are unknown at run time, or given by their records (docs: "Time", "Attributes").
    open_class = is_open_class(target)
    if not target.all_attribute_values("half_life") and not open_class:
        cx.report(m.NO_HALF_LIFE, duration.span, name=target.short_name)


# ---------------------------------------------------------------------- helpers


def unit_edit(node: object, unit: Unit) -> tuple[Edit, ...]:
    """The fix of a wrong unit as data: write `unit` where the literal's unit is written."""
    if isinstance(node, n.QuantityLit) and node.unit_span is not NO_SPAN:
        return (Edit(node.unit_span, unit.text),)
    return ()


def grade_domains(concept: ConceptSet) -> tuple[ConceptSet, ...]:
    """The domains `count new` judges: the members of a class, or the concept itself."""
    return concept.members or (concept,)


def grade_order(domain: ConceptSet, whole: ConceptSet) -> tuple[str, ...] | None:
    """A domain's grades, most severe first, casefolded: its own `grades`, else the class's."""
    value = domain.attributes.get("grades", whole.attributes.get("grades"))
    if not isinstance(value, str):
        return None
    grades = tuple(g.strip().casefold() for g in value.replace(",", " ").split() if g.strip())
    return grades or None


def is_open_class(concept: ConceptSet) -> bool:
    """Does the concept include an empty set `{}` (an open class a trial extends)?"""
    return any(
        not node.own_codes and not node.own_prefixes and not node.members
        for node in concept.reachable()
    )


def dose_shape(unit: Unit) -> DoseShape | None:
    """What a dose threshold measures, from its dimension (see docs/language.md, "Doses")."""
    units = get_units()
    for amount in ("mg", "IU", "mmol", "mL"):  # mL: oral solutions, dosed by volume
        shapes: list[tuple[str, DoseShape]] = [
            (amount, "amount"),
            (f"{amount}/day", "daily"),
            (f"{amount}/kg", "per_kg"),
            (f"{amount}/kg/day", "per_kg_daily"),
            (f"{amount}/m2", "per_m2"),
            (f"{amount}/m2/day", "per_m2_daily"),
        ]
        for text, shape in shapes:
            if units.compatible(unit, text):
                return shape
    return None

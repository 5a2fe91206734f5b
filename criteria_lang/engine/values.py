"""What the Python engine computes: three-valued outcomes, values with their evidence, and the
small exact operations on them (comparisons, words, unit conversion).

The semantics are docs/language.md's; the section names there are cited in comments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from fractions import Fraction

import attrs

from criteria_lang.core.bounds import BOUND_COMPARATORS, Range, holds
from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.conversions import Affine, Basis
from criteria_lang.core.results import Evidence, Truth
from criteria_lang.core.units import Unit, UnitError, get_units
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Event, Quantity, format_number

MET, NOT_MET, UNKNOWN, REVIEW = Truth.MET, Truth.NOT_MET, Truth.UNKNOWN, Truth.REVIEW

# `Value.kind` of an event's value whose unit cannot be read (docs: "Values that cannot be read").
UNREADABLE = "unreadable"
AGE = "age"
# `Value.kind` of a quantity longer than any (a doubling time of a series that does not rise):
# `value` is None and it compares as above every number (docs: "Trends in a series").
UNBOUNDED = "unbounded"


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
    kind: str = ""  # AGE for ages (compared in completed units); UNREADABLE
    birth: dt.date | None = None
    on: dt.date | None = None
    base: Value | None = None  # `P % of V`: V, for the change shown in evidence
    # How `unit` was written in the data: as a UCUM code (True, FHIR and OMOP data), in our
    # syntax (False), or None when it was composed here (mg given per day is mg/day).
    ucum: bool | None = None
    # A result reported as a bound (`<40 %`) or a range of such (the max of `<0.5` and 0.3):
    # the values it allows, in `unit`; `value` is then the bound as reported, never the result
    # (docs/language.md, "Results reported as bounds"). None: `value` is exact.
    range: Range | None = None

    def values(self) -> Range:
        """The values this one allows: its range, or its number."""
        if self.range is not None:
            return self.range
        assert isinstance(self.value, Fraction)
        return Range.point(self.value)

    def shown(self) -> str:
        """The value for evidence, a bound as reported (`<40 %`)."""
        if self.range is not None:
            return self.range.text(lambda x: fmt_quantity(x, self.unit))
        if isinstance(self.value, Fraction):
            return fmt_quantity(self.value, self.unit)
        return str(self.value)


class MissingData(Exception):
    """Raised inside compiled closures when a named date or the birth date is absent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoEvent(MissingData):
    """A date that is an event the record shows did not happen (docs: "Windows anchored at
    events"): a window anchored at it holds nothing. Where that cannot decide (an age at it),
    it is missing data like any other."""


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


# --------------------------------------------------------------------------- three-valued logic
# docs/language.md, "Expressions": three-valued logic, with needs review as a fourth value.


def combine_and(outcomes: Sequence[Outcome]) -> Outcome:
    failed = [o for o in outcomes if o.truth is NOT_MET]
    if failed:
        return Outcome(NOT_MET, evidence_of(failed))
    return undecided_or(outcomes, MET)


def combine_or(outcomes: Sequence[Outcome]) -> Outcome:
    passed = [o for o in outcomes if o.truth is MET]
    if passed:
        return Outcome(MET, evidence_of(passed))
    return undecided_or(outcomes, NOT_MET)


def undecided_or(outcomes: Sequence[Outcome], decided: Truth) -> Outcome:
    unknown = [o for o in outcomes if o.truth is UNKNOWN]
    review = [o for o in outcomes if o.truth is REVIEW]
    if unknown or review:
        # Missing data comes first: a reviewer should see the record complete.
        truth = UNKNOWN if unknown else REVIEW
        return Outcome(
            truth,
            evidence_of(outcomes),
            tuple(m for o in unknown for m in o.missing),
            tuple(q for o in unknown + review for q in o.questions),
        )
    return Outcome(decided, evidence_of(outcomes))


def evidence_of(outcomes: Iterable[Outcome]) -> tuple[Evidence, ...]:
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


def decided(ok: bool) -> Truth:
    return MET if ok else NOT_MET


# --------------------------------------------------------------------------- comparisons


def compare_values(left: Fraction, op: str, right: Fraction) -> bool:
    match op:
        case "<":
            return left < right
        case "<=":
            return left <= right
        case ">":
            return left > right
        case ">=":
            return left >= right
        case "=":
            return left == right
        case "!=":
            return left != right
    raise ValueError(op)


def range_verdict(shown: str, claim: str, verdict: bool | None, bound: str | None = None) -> str:
    """Evidence for a bound compared by interval logic: `<40 % < 50 %: yes (...)`, where `claim`
    is what is asked of it (`< 50 %`) and `bound` the bound as reported (default: `shown`)
    (docs: "Results reported as bounds")."""
    bound = bound or shown
    if verdict is True:
        return f"{shown} {claim}: yes (every value {bound} allows is)"
    if verdict is False:
        return f"{shown} {claim}: no (no value {bound} allows is)"
    return f"{shown} {claim}: unknown ({bound} allows values that are and values that are not)"


def quantity_range(quantity: Quantity) -> Range:
    """The values a data quantity allows: its number, or the bound its comparator gives."""
    return Range.bound(quantity.comparator, quantity.value)


def compare_quantity(
    quantity: Quantity, value: Fraction, op: str, threshold: Fraction
) -> bool | None:
    """A data quantity (`value` is its number in the threshold's unit) against a threshold, by
    interval logic when it is a bound: None when the bound cannot decide."""
    if quantity.comparator is None:
        return compare_values(value, op, threshold)
    return holds(Range.bound(quantity.comparator, value), op, Range.point(threshold))


def in_bounds(value: Fraction, low: Fraction, high: Fraction, bounds: str) -> bool:
    low_ok = value >= low if bounds in ("inclusive", "left-inclusive") else value > low
    high_ok = value <= high if bounds in ("inclusive", "right-inclusive") else value < high
    return low_ok and high_ok


def titer_range(value: object) -> Range | None:
    """A titer as text, `1:160`, or reported as a bound, `<1:40` (docs: "Results reported as
    bounds"): the reciprocal dilutions it allows."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    comparator = next((c for c in _LONGEST_FIRST if text.startswith(c)), None)
    dilution = parse_titer(text[len(comparator) :] if comparator else text)
    if dilution is None:
        return None
    return Range.bound(comparator, dilution)


_LONGEST_FIRST = sorted(BOUND_COMPARATORS, key=len, reverse=True)


def parse_titer(value: object) -> Fraction | None:
    if isinstance(value, str) and ":" in value:
        head, _, tail = value.strip().partition(":")
        if head.strip() == "1":
            try:
                return Fraction(tail.strip())
            except ValueError:
                return None
    return None


# docs/language.md, "Positive and negative".
POSITIVE = frozenset({"positive", "pos", "detected", "reactive", "true", "yes", "present"})
POSITIVE |= {"abnormal"}
NEGATIVE = frozenset(
    {"negative", "neg", "not detected", "non-reactive", "nonreactive", "false", "no", "absent"}
)
NEGATIVE |= {"normal"}
# Urine sediment reports say "none seen" for no casts or cells.
NEGATIVE |= {"none", "none seen", "not seen"}


def matches_word(value: object, word: str) -> bool | None:
    """`is positive` on a coded or boolean result; None when the value is neither."""
    if isinstance(value, bool):
        truthy = value
    else:
        text = str(value).strip().casefold()
        if text in POSITIVE:
            truthy = True
        elif text in NEGATIVE:
            truthy = False
        else:
            return None
    if word in ("positive", "true", "present"):
        return truthy
    return not truthy


# --------------------------------------------------------------------------- units


def unit_of(quantity: Quantity) -> Unit:
    units = get_units()
    return units.parse_ucum(quantity.unit) if quantity.ucum else units.parse(quantity.unit)


def convert_quantity(quantity: Quantity, target: str | Unit, basis: Basis | None) -> Fraction:
    """A recorded quantity in `target`, through its concept's `basis` (molar mass, valence,
    scales); raises UnitError when it does not convert (it is never compared raw)."""
    return get_units().convert(quantity.value, unit_of(quantity), target, basis=basis)


@attrs.frozen
class Converter:
    """A plan's `Conversion`, for lookups: the exact map for a data unit written in our syntax
    or in UCUM. A unit the plan does not list is converted by the unit registry, which computes
    the same exact map (docs/plan.md, "Units")."""

    target: str
    unit: Unit  # `target`, parsed: what a bare threshold is measured in
    basis: Basis
    ours: dict[str, Affine]
    ucum: dict[str, Affine]

    @classmethod
    def of(cls, conversion: p.Conversion | None) -> Converter | None:
        if conversion is None:
            return None
        maps = [(f, Affine(f.factor, f.offset)) for f in conversion.factors]
        return cls(
            conversion.target,
            get_units().parse(conversion.target),
            conversion.basis,
            {f.unit: m for f, m in maps},
            {f.ucum: m for f, m in maps},
        )

    def lookup(self, text: str, ucum: bool | None, target: str, basis: Basis) -> Affine | None:
        """The listed map from the data unit `text` to `target`, or None."""
        if ucum is None or target != self.target or basis != self.basis:
            return None
        return (self.ucum if ucum else self.ours).get(text)


def convert_value(
    value: Fraction,
    unit: Unit,
    ucum: bool | None,
    target: Unit,
    basis: Basis,
    converter: Converter | None,
) -> Fraction:
    """`value` in `unit` expressed in `target`: by the plan's map when it lists the unit,
    else by the registry (which raises UnitError for units that do not convert)."""
    if converter is not None:
        found = converter.lookup(unit.text, ucum, target.text, basis)
        if found is not None:
            return found(value)
    return get_units().convert(value, unit, target, basis=basis)


__all__ = [
    "MET",
    "NOT_MET",
    "REVIEW",
    "UNKNOWN",
    "Converter",
    "MissingData",
    "Outcome",
    "UnitError",
    "UnknownHalfLife",
    "Value",
]

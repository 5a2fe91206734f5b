"""Results reported as bounds: the interval logic (core/bounds.py), every reader and writer, and
the engine (docs/language.md, "Results reported as bounds")."""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from semantics_helpers import lab, result, truth

from criteria_lang.core.bounds import BOUND_COMPARATORS, End, Range, extreme, holds, inside, total
from criteria_lang.records.fhir import read_bundle
from criteria_lang.records.fhir_write import patient_to_bundle
from criteria_lang.records.omop import read_omop_tables
from criteria_lang.records.omop_write import patients_to_omop
from criteria_lang.records.patient_json import PatientDataError, dump_patient, load_patient
from criteria_lang.records.timeline import Measurement, Patient, Quantity

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

# --------------------------------------------------------------------------- interval logic

# Ends on whole numbers; values sampled on a grid of quarters: at least two inside every gap
# between whole numbers, and beyond the ends.
ENDS = st.integers(-3, 3).map(Fraction)
GRID = [Fraction(n, 4) for n in range(-20, 21)]


@st.composite
def ranges(draw: st.DrawFn) -> Range:
    shape = draw(st.sampled_from(["point", "bound", "interval"]))
    if shape == "point":
        return Range.point(draw(ENDS))
    if shape == "bound":
        return Range.bound(draw(st.sampled_from(BOUND_COMPARATORS)), draw(ENDS))
    low, high = sorted((draw(ENDS), draw(ENDS)))
    closed = draw(st.tuples(st.booleans(), st.booleans()))
    if low == high:
        closed = (True, True)
    return Range(End(low, closed[0]), End(high, closed[1]))


def members(r: Range) -> list[Fraction]:
    def ok(x: Fraction) -> bool:
        if r.low is not None and (x < r.low.value or (x == r.low.value and not r.low.closed)):
            return False
        return not (
            r.high is not None and (x > r.high.value or (x == r.high.value and not r.high.closed))
        )

    return [x for x in GRID if ok(x)]


def truthy(x: Fraction, op: str, y: Fraction) -> bool:
    return {
        "<": x < y,
        "<=": x <= y,
        ">": x > y,
        ">=": x >= y,
        "=": x == y,
        "!=": x != y,
    }[op]


@given(ranges(), st.sampled_from(["<", "<=", ">", ">=", "=", "!="]), ranges())
def test_holds_is_decided_exactly_when_every_pair_agrees(a: Range, op: str, b: Range) -> None:
    answers = {truthy(x, op, y) for x, y in itertools.product(members(a), members(b))}
    verdict = holds(a, op, b)
    if verdict is None:
        assert answers == {True, False}
    else:
        assert answers == {verdict}


@given(
    ranges(),
    ENDS,
    ENDS,
    st.sampled_from(["inclusive", "exclusive", "left-inclusive", "right-inclusive"]),
)
def test_inside_is_decided_exactly_when_every_value_agrees(
    a: Range, low: Fraction, high: Fraction, bounds: str
) -> None:
    low, high = sorted((low, high))
    left = bounds in ("inclusive", "left-inclusive")
    right = bounds in ("inclusive", "right-inclusive")

    def within(x: Fraction) -> bool:
        return (x >= low if left else x > low) and (x <= high if right else x < high)

    answers = {within(x) for x in members(a)}
    verdict = inside(a, low, high, bounds)
    if verdict is None:
        assert answers == {True, False}
    elif answers:  # an empty band ((1, 1) exclusive) holds nothing
        assert answers == {verdict}


@given(st.lists(ranges(), min_size=1, max_size=3), st.booleans())
def test_extreme_and_total_hold_every_possible_answer(items: list[Range], largest: bool) -> None:
    found, summed = extreme(items, largest), total(items)
    for values in itertools.product(*(members(r)[::3] or members(r) for r in items)):
        pick = max(values) if largest else min(values)
        assert holds(Range.point(pick), "=", found) is not False
        assert holds(Range.point(sum(values, Fraction(0))), "=", summed) is not False


def test_range_arithmetic_and_text() -> None:
    below = Range.bound("<", Fraction(5))
    assert below.minus(Range.point(Fraction(2))) == Range.bound("<", Fraction(3))
    above = Range.bound(">", Fraction(60))
    assert above.minus(Range.bound(">", Fraction(50))) == Range(None, None)
    assert below.scaled(Fraction(-1)) == Range.bound(">", Fraction(-5))
    show = str
    assert below.text(show) == "<5"
    assert Range(End(Fraction(3, 10), True), End(Fraction(1, 2), False)).text(show) == "3/10..<1/2"
    assert Range.point(Fraction(2)).exact == 2 and below.exact is None


# --------------------------------------------------------------------------- our JSON format


def measured(**fields: Any) -> Any:
    event = {"type": "lab", "id": "x", "code": "egfr", "date": "2024-03-01"} | fields
    return load_patient({"id": "p", "events": [event]}).events[0].value


def problems(**fields: Any) -> list[str]:
    event = {"type": "lab", "id": "x", "code": "egfr", "date": "2024-03-01"} | fields
    with pytest.raises(PatientDataError) as error:
        load_patient({"id": "p", "events": [event]})
    return [f"{p.path}: {p.message}" for p in error.value.problems]


def test_our_format_reads_a_comparator_and_text_bounds() -> None:
    half = Fraction(1, 2)
    assert measured(value=60, unit="mL/min", comparator=">") == Quantity(
        Fraction(60), "mL/min", comparator=">"
    )
    assert measured(value=3, unit="mg", comparator="=") == Quantity(Fraction(3), "mg")
    assert measured(value="<0.5", unit="mg/dL") == Quantity(half, "mg/dL", comparator="<")
    assert measured(value="≤ 0.5 mg/dL") == Quantity(half, "mg/dL", comparator="<=")
    assert measured(value=">=60 mL/min/1.73m2") == Quantity(
        Fraction(60), "mL/min/1.73m2", comparator=">="
    )
    assert measured(value=20, unit="IU/mL", comparator="<", limit="quantification") == Quantity(
        Fraction(20), "IU/mL", comparator="<", limit="quantification"
    )
    # Not bounds: a titer, a range, a word, and a bound of a score keeps the score's unit.
    assert measured(value="<1:40") == "<1:40"
    assert measured(value="<0.5-1", unit="mg") == "<0.5-1"
    assert measured(value="below the limit of quantification") == (
        "below the limit of quantification"
    )
    score = {"type": "score", "code": "sledai", "date": "2024-03-01", "value": "<4"}
    assert load_patient({"id": "p", "events": [score]}).events[0].value == Quantity(
        Fraction(4), "1", comparator="<"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"value": 1, "unit": "mg", "comparator": "~"}, '$.events[0].comparator: Expected "<"'),
        ({"value": "<5"}, '$.events[0].unit: A lab result given as a bound needs "unit"'),
        ({"value": "<5 mg", "unit": "g"}, '$.events[0].unit: The text "<5 mg" is in "mg"'),
        ({"value": "<5", "unit": "mg", "comparator": "<"}, "$.events[0].value: A lab result with"),
        ({"value": "pos", "comparator": "<"}, "$.events[0].value: A lab result with a comparator"),
        ({"value": True, "comparator": "<"}, "$.events[0].comparator: A comparator or a limit"),
        ({"value": 5, "unit": "mg", "limit": "detection"}, "$.events[0].limit: A limit of"),
        ({"value": 5, "unit": "mg", "limit": "lod", "comparator": "<"}, "$.events[0].limit: Exp"),
    ],
)
def test_our_format_says_what_is_wrong_with_a_bound(fields: dict[str, Any], message: str) -> None:
    found = problems(**fields)
    assert len(found) == 1 and found[0].startswith(message), found


def bounded_patient() -> Any:
    return load_patient(
        {
            "id": "p",
            "events": [
                {"type": "lab", "id": "a", "code": {"system": "loinc", "code": "33914-3"},
                 "date": "2024-03-01", "value": 60, "unit": "mL/min/1.73m2", "comparator": ">"},
                {"type": "lab", "id": "b", "code": {"system": "loinc", "code": "2160-0"},
                 "date": "2024-03-01", "value": "<0.5", "unit": "mg/dL"},
                {"type": "lab", "id": "c", "code": {"system": "loinc", "code": "29615-2"},
                 "date": "2024-03-01", "value": 20, "unit": "IU/mL", "comparator": "<=",
                 "limit": "detection"},
                {"type": "lab", "id": "d", "code": {"system": "loinc", "code": "2160-0"},
                 "date": "2024-03-02", "value": 1.1, "unit": "mg/dL"},
            ],
        }
    )  # fmt: skip


def bounds_of(patient: Any) -> dict[str, tuple[Fraction, str | None, str | None]]:
    out = {}
    for event in patient.events:
        assert isinstance(event, Measurement) and isinstance(event.value, Quantity)
        key = event.id.rsplit("/", 1)[-1].rsplit("-", 1)[0]
        out[key] = (event.value.value, event.value.comparator, event.value.limit)
    return out


def test_bounds_round_trip_through_our_format() -> None:
    patient = bounded_patient()
    back = load_patient(dump_patient(patient))
    assert back == patient
    assert dump_patient(patient)["events"][2] | {} == {
        "type": "lab", "id": "c", "code": {"system": "loinc", "code": "29615-2"},
        "date": "2024-03-01", "value": 20, "unit": "IU/mL", "comparator": "<=",
        "limit": "detection",
    }  # fmt: skip


def test_bounds_round_trip_through_fhir() -> None:
    patient = bounded_patient()
    bundle = patient_to_bundle(patient)
    quantities = [e["resource"].get("valueQuantity") for e in bundle["entry"][1:]]
    assert [q.get("comparator") for q in quantities] == [">", "<", "<=", None]
    (back,), found, _ = read_bundle(bundle)
    assert not found
    assert [bounds_of_event(e) for e in back.events] == [bounds_of_event(e) for e in patient.events]


def bounds_of_event(event: Any) -> tuple[Fraction, str | None, str | None]:
    return event.value.value, event.value.comparator, event.value.limit


def test_bounds_round_trip_through_omop() -> None:
    patient = bounded_patient()
    tables, _ = patients_to_omop([patient])
    operators = [row.get("operator_concept_id") for row in tables["measurement"]]
    assert operators == [4172704, 4171756, 4171754, None]
    (back,) = list(read_omop_tables(tables))
    assert isinstance(back, Patient)
    assert [bounds_of_event(e) for e in back.events] == [bounds_of_event(e) for e in patient.events]


def fhir_observation(value: dict[str, Any]) -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": "p"}
    observation = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}]},
        "effectiveDateTime": "2024-03-01",
    } | value
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient}, {"resource": observation}],
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueQuantity": {"value": 5, "comparator": "ad", "system": "http://unitsofmeasure.org",
                            "code": "mg"}}, "ad 5 mg"),
        ({"valueString": "<0.5 mg/dL"}, Quantity(Fraction(1, 2), "mg/dL", comparator="<")),
        ({"valueString": "<0.5"}, "<0.5"),  # no unit: no number can be assumed
        ({"valueString": "<0.5 blorps"}, "<0.5 blorps"),
    ],
)  # fmt: skip
def test_fhir_values_that_are_or_are_not_bounds(value: dict[str, Any], expected: object) -> None:
    (patient,), found, _ = read_bundle(fhir_observation(value))
    assert not found
    assert patient.events[0].value == expected


# --------------------------------------------------------------------------- the engine

# The table of docs/language.md and the bound in every other comparison are conformance cases
# (tests/conformance/bounds.json); what follows are the values made of several results.


def test_aggregates_of_bounds() -> None:
    cr = "lab creatinine within 1 year before screening"
    only = "lab creatinine {} within 1 year before screening"
    events = (
        lab("creatinine", "2024-03-01", "<0.5", "mg/dL"),
        lab("creatinine", "2024-02-01", 0.3, "mg/dL"),
    )
    assert truth(f"max {cr} < 0.5 mg/dL", *events) == MET
    assert truth(f"max {cr} >= 0.3 mg/dL", *events) == MET
    assert truth(f"max {cr} > 0.4 mg/dL", *events) == UNKNOWN
    assert truth(f"min {cr} <= 0.3 mg/dL", *events) == MET
    assert truth(f"sum {cr} < 0.8 mg/dL", *events) == MET
    assert truth(f"sum {cr} < 0.7 mg/dL", *events) == UNKNOWN
    # A count: a bound that cannot decide is undecided, so the count is a lower bound.
    below = only.format("value < 0.4 mg/dL")
    assert truth(f"count {below} >= 1", *events) == MET
    assert truth(f"count {below} = 1", *events) == UNKNOWN
    assert truth(f"count {only.format('value < 0.6 mg/dL')} = 2", *events) == MET


def test_values_made_of_bounds() -> None:
    up = "latest lab upcr at baseline +/- 3 days"
    now = "latest lab upcr at screening +/- 3 days"
    before = lab("upcr", "2024-04-10", 3, "g/g")
    after = lab("upcr", "2024-03-31", "<1", "g/g")
    assert truth(f"{now} < 50 % of {up}", before, after) == MET
    assert truth(f"{now} < 30 % of {up}", before, after) == UNKNOWN
    assert truth(f"{up} - {now} > 2 g/g", before, after) == MET
    assert truth(f"{up} - {now} > 2.5 g/g", before, after) == UNKNOWN


def test_a_derived_value_needs_numbers() -> None:
    found = result(
        "value egfr_ckd_epi_2021 at screening +/- 30 days < 60 mL/min/1.73m2",
        lab("creatinine", "2024-03-01", "<0.5", "mg/dL"),
    )
    assert found.truth.value == UNKNOWN
    assert found.missing == (
        "creatinine <0.5 mg/dL on 2024-03-01 is reported as a bound, not a number "
        "(for egfr_ckd_epi_2021)",
    )

"""A bad value costs only what depends on it (issue 10).

Each seed trial's eligible patient gets one field replaced by a hostile value (tests/hostile.py):
reading it may fail (an error for that record), but evaluating it never raises, `screen` never
makes an "internal error" row, and a dose or lab unit that cannot be read changes only criteria
that become unknown, saying which event and why.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hostile import BAD_UNITS, ROOT, TRIALS, example, hostile_patient, set_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semantics_helpers import daily, lab, med, result, truth

from criteria_lang import Rules
from criteria_lang.core.results import PatientResult, Truth
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.patient_json import PatientDataError, RecordError, load_patient

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@functools.cache
def trial_rules(trial: str) -> Rules:
    return Rules.from_file(ROOT / "rules" / f"{trial}.crit")


def screen_one(trial: str, doc: dict[str, Any]) -> PatientResult | RecordError:
    """What `criteria screen` does with one record: read it, then evaluate it."""
    try:
        record: Any = load_patient(doc, source="fuzz")
    except PatientDataError as error:
        record = RecordError("fuzz", error.problems)
    (row,) = trial_rules(trial).screen([record])
    return row


def assert_no_internal_error(row: PatientResult | RecordError, what: str) -> None:
    if isinstance(row, RecordError):
        text = " ".join(p.message for p in row.problems)
        assert "internal error" not in text, f"{what}: {text}"


@pytest.mark.parametrize("trial", TRIALS)
@FUZZ
@given(data=st.data())
def test_no_field_makes_an_internal_error(trial: str, data: st.DataObject) -> None:
    doc, what = data.draw(hostile_patient(trial))
    assert_no_internal_error(screen_one(trial, doc), what)


def unreadable(text: object) -> bool:
    if not isinstance(text, str) or not text:
        return False
    try:
        get_units().parse(text)
    except UnitError:
        return True
    return False


def changed_only_to_unknown(
    base: PatientResult, row: PatientResult | RecordError, what: str
) -> list[str]:
    """The criteria whose result changed; each must now be unknown, saying it cannot read."""
    assert isinstance(row, PatientResult), f"{what}: the record was lost: {row}"
    before = {c.id: c for c in base.criteria}
    changed = []
    for criterion in row.criteria:
        if criterion.truth is before[criterion.id].truth:
            continue
        changed.append(criterion.id)
        assert criterion.truth is Truth.UNKNOWN, f"{what}: {criterion.id} became {criterion.truth}"
        assert any("cannot be read" in m for m in criterion.missing), (
            f"{what}: {criterion.id} is unknown without saying what cannot be read: "
            f"{criterion.missing}"
        )
    return changed


@pytest.mark.parametrize("trial", TRIALS)
@FUZZ
@given(data=st.data())
def test_an_unreadable_unit_costs_only_the_criteria_that_need_it(
    trial: str, data: st.DataObject
) -> None:
    doc, what = data.draw(hostile_patient(trial, kind="unit"))
    units = [
        e.get("unit") or (e.get("dose") or {}).get("unit")
        for e in doc["events"]
        if isinstance(e, dict)
    ]
    base = screen_one(trial, example(trial))
    assert isinstance(base, PatientResult)
    row = screen_one(trial, doc)
    if not any(unreadable(u) for u in units):
        return  # the drawn unit is one we read (or the field was not a unit): another test's job
    changed_only_to_unknown(base, row, what)


# --------------------------------------------------------------------------- the cases

# ("{tbl}" is a UCUM count, readable since units in our JSON are read as UCUM too: a dose of
# tablets is unknown because it does not convert to mg, tests/test_units_meaning.py.)
DOSE_UNITS = ("tab", "MG", "mgs", "{tbl", "mg/0", "NaN mg")
LAB_UNITS = ("mg/0", "1/0", "NaN mg")


def with_unit(trial: str, event_type: str, unit: str) -> dict[str, Any]:
    doc = example(trial)
    for event in doc["events"]:
        if event.get("type") != event_type:
            continue
        if event_type == "medication" and "dose" in event:
            event["dose"]["unit"] = unit
        elif event_type == "lab" and isinstance(event.get("value"), int | float):
            event["unit"] = unit
    return doc


@pytest.mark.parametrize("unit", DOSE_UNITS)
@pytest.mark.parametrize("trial", TRIALS)
def test_a_dose_unit_that_cannot_be_read(trial: str, unit: str) -> None:
    base = screen_one(trial, example(trial))
    row = screen_one(trial, with_unit(trial, "medication", unit))
    assert isinstance(base, PatientResult)
    changed = changed_only_to_unknown(base, row, f"dose unit {unit!r}")
    assert isinstance(row, PatientResult)
    # The rest of the patient is evaluated: most criteria keep their result.
    assert len(changed) < len(row.criteria) / 2
    for criterion in row.criteria:
        if criterion.id in changed:
            assert any(repr(unit)[:20].strip("'") in m for m in criterion.missing)


def test_the_reason_names_the_event_and_why() -> None:
    row = screen_one("msv_allo", with_unit("msv_allo", "medication", "tab"))
    assert isinstance(row, PatientResult)
    reasons = [m for c in row.criteria for m in c.missing if "cannot be read" in m]
    assert reasons, "a dose in tablets must make a dose criterion unknown"
    assert any("enalapril" in r and "unknown unit 'tab'" in r for r in reasons), reasons


@pytest.mark.parametrize("unit", LAB_UNITS)
@pytest.mark.parametrize("trial", TRIALS)
def test_a_lab_unit_that_cannot_be_read(trial: str, unit: str) -> None:
    base = screen_one(trial, example(trial))
    assert isinstance(base, PatientResult)
    changed_only_to_unknown(base, screen_one(trial, with_unit(trial, "lab", unit)), unit)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("dates", "screening"), "9999-12-31"),
        (("dates", "screening"), "0001-01-01"),
        (("dates", "baseline"), "9999-12-31"),
        (("birth_date",), "9999-12-31"),
        (("birth_date",), "0001-01-01"),
    ],
)
@pytest.mark.parametrize("trial", TRIALS)
def test_dates_at_the_ends_of_the_calendar(trial: str, path: tuple[str, ...], value: str) -> None:
    doc = example(trial)
    set_path(doc, path, value)
    row = screen_one(trial, doc)
    assert isinstance(row, PatientResult), row
    reasons = [m for c in row.criteria for m in c.missing]
    assert not any("internal" in r for r in reasons)


@pytest.mark.parametrize("value", [1e308, -1e308, 5e-324, 10**400, 0, -5])
@pytest.mark.parametrize("field", ["dose", "lab", "weight"])
def test_huge_tiny_and_negative_numbers(field: str, value: float) -> None:
    trial = "nct03917797"
    doc = example(trial)
    for event in doc["events"]:
        if field == "dose" and "dose" in event:
            event["dose"]["value"] = value
        elif field == "lab" and isinstance(event.get("value"), int | float):
            event["value"] = value
    if field == "weight":
        doc["events"].append(
            {
                "id": "w",
                "type": "observation",
                "code": "body_weight",
                "date": doc["dates"]["screening"],
                "value": value,
                "unit": "kg",
            }
        )
    for name in TRIALS:
        row = screen_one(name, doc)
        assert_no_internal_error(row, f"{field} = {value}")


def test_the_cli_prints_no_traceback(tmp_path: Path) -> None:
    """`eval` and `screen` over the issue's records: answers, no tracebacks, no internal errors."""
    folder = tmp_path / "records"
    folder.mkdir()
    for index, unit in enumerate(BAD_UNITS[:16]):
        for kind in ("medication", "lab"):
            doc = with_unit("nct03917797", kind, unit)
            doc["id"] = f"{kind}-{index}"
            (folder / f"{kind}-{index}.json").write_text(json.dumps(doc))
    doc = example("nct03917797")
    doc["dates"]["screening"] = "9999-12-31"
    (folder / "calendar-end.json").write_text(json.dumps(doc))
    (folder / "msv-tab.json").write_text(json.dumps(with_unit("msv_allo", "medication", "tab")))
    cli = [sys.executable, "-m", "criteria_lang.cli.main"]
    screen = subprocess.run(
        [*cli, "screen", str(ROOT / "rules" / "nct03917797.crit"), str(folder), "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in screen.stderr, screen.stderr
    assert "internal error" not in screen.stdout
    rows = [line for line in screen.stdout.splitlines()[1:] if line and "," in line]
    assert len(rows) == 34, "one row per record"
    one = subprocess.run(
        [*cli, "eval", str(ROOT / "rules" / "msv_allo.crit"), str(folder / "msv-tab.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in one.stderr, one.stderr
    assert "cannot be read" in one.stdout


# ------------------------------------------------------------------ the rules at their edges
# docs/language.md, "Values that cannot be read".


def weight(value: Any, unit: str = "kg", date: str = "2023-01-01") -> dict[str, Any]:
    return {
        "type": "observation",
        "code": "body_weight",
        "date": date,
        "value": value,
        "unit": unit,
    }


def test_an_unreadable_dose_leaves_the_exposure_and_another_dose_decides() -> None:
    dose = "medication aza dose > 2 mg/kg/day ever"
    tab = med("aza", "2023-01-01", "2023-06-01", **daily(2, "tab"))
    good = med("aza", "2023-07-01", "2023-09-01", **daily(300))
    assert truth("medication aza ever", tab) == "met"
    unknown = result(dose, weight(75), tab)
    assert unknown.truth.value == "unknown"
    assert any("aza" in m and "unknown unit 'tab'" in m for m in unknown.missing), unknown.missing
    assert truth(dose, weight(75), tab, good) == "met"


def test_min_max_and_sum_need_every_value() -> None:
    readable = lab("creatinine", "2024-03-01", 1.0, "mg/dL")
    broken = lab("creatinine", "2024-03-02", 9.0, "mg/0")
    for op in ("max", "min"):
        expr = f"{op} lab creatinine within 3 months before screening < 2 mg/dL"
        assert truth(expr, readable) == "met"
        outcome = result(expr, readable, broken)
        assert outcome.truth.value == "unknown"
        assert any("mg/0" in m and "cannot be read" in m for m in outcome.missing)
    latest = "latest lab creatinine within 3 months before screening < 2 mg/dL"
    assert truth(latest, broken, lab("creatinine", "2024-03-03", 1.0, "mg/dL")) == "met"
    assert truth(latest, readable, broken) == "unknown"


def test_the_nearest_measurement_is_not_replaced_by_a_farther_one() -> None:
    dose = "medication aza dose > 2 mg/kg/day ever"
    exposure = med("aza", "2023-01-01", "2023-06-01", **daily(151))
    assert truth(dose, weight(75, date="2022-06-01"), exposure) == "met"
    outcome = result(dose, weight(75, date="2022-06-01"), weight(75, "kgs"), exposure)
    assert outcome.truth.value == "unknown"
    assert any("kgs" in m for m in outcome.missing), outcome.missing


@pytest.mark.parametrize("value", [0, -70])
def test_a_weight_of_zero_or_less_divides_no_dose(value: int) -> None:
    exposure = med("aza", "2023-01-01", "2023-06-01", **daily(151))
    outcome = result("medication aza dose > 2 mg/kg/day ever", weight(value), exposure)
    assert outcome.truth.value == "unknown"
    assert any("not above 0" in m for m in outcome.missing), outcome.missing


def test_a_window_past_the_calendar_is_unknown() -> None:
    expr = "condition mi within 30 days after screening"
    dates = {"screening": "9999-12-20", "baseline": "9999-12-21"}
    outcome = result(expr, dates=dates)
    assert outcome.truth.value == "unknown"
    assert any("outside the calendar" in m for m in outcome.missing), outcome.missing


def test_a_rule_duration_past_the_calendar_is_a_diagnostic() -> None:
    from criteria_lang.check.checker import compile_text

    text = (ROOT / "rules" / "nct03917797.crit").read_text()
    program = compile_text(
        text.replace("within 6 months before randomization", "within 9000 years after screening"),
        "x.crit",
    )
    assert [d.code for d in program.diagnostics if d.severity == "error"] == ["C124"]

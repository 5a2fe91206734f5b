"""Writer symmetry (issue 10): the FHIR writer writes every unit the readers accept, and a patient
written and read back is the same patient, whatever units its values came in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fhir_roundtrip import assert_same_timeline, round_trip

from criteria_lang import load_patient
from criteria_lang.core.units import COMMON_UNITS, UnitError, get_units

ROOT = Path(__file__).resolve().parent.parent
STDLIB = ROOT / "criteria_lang" / "stdlib"


def written_and_read(text: str) -> str:
    units = get_units()
    code = units.ucum_code(text)
    assert units.parse_ucum(code) == units.parse(text), (text, code)
    return code


def stdlib_units() -> list[str]:
    found: set[str] = set()
    for module in STDLIB.glob("*.crit"):
        text = module.read_text()
        found |= set(re.findall(r"\bunit = ([^\s,)]+)", text))
        found |= set(re.findall(r"= -?[0-9][0-9.]* ([A-Za-z%/^0-9.]+[A-Za-z%])", text))
    return sorted(found)


@pytest.mark.parametrize("text", sorted({*COMMON_UNITS, *stdlib_units()}))
def test_every_unit_of_the_stdlib_and_the_docs_is_written(text: str) -> None:
    written_and_read(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("lb", "[lb_av]"),
        ("lbs", "[lb_av]"),
        ("pound", "[lb_av]"),
        ("oz", "[oz_av]"),
        ("inch", "[in_i]"),
        ("ft", "[ft_i]"),
        ("milligram/deciliter", "mg/dL"),
        ("mg/lb", "mg/[lb_av]"),
        ("cmHg", "cm[Hg]"),
    ],
)
def test_customary_units_as_ucum_writes_them(text: str, code: str) -> None:
    assert written_and_read(text) == code


def test_a_unit_with_no_ucum_atom_is_written_exactly_from_base_units() -> None:
    assert written_and_read("stone") == "317514659.g/50000"  # 6.35029318 kg: no UCUM atom
    assert written_and_read("1.5 mg") == "3.g/2000"  # UCUM numbers are integers


# Names the reader accepts: SI prefixes on the metric units, the times, the customary units,
# with powers and per-units. (A prefixed time such as `ph`, a pico-hour, is read too, but
# combinations of them can need an exact factor longer than the 40 digits a UCUM number may
# have in our reader, docs/limits.md: the writer then raises UnitError. No clinical unit does.)
PREFIXES = st.sampled_from(["", "m", "u", "n", "k", "d", "c", "p"])
NAMES = st.sampled_from(["g", "L", "mol", "m", "IU", "U"])
OTHERS = st.sampled_from(
    ["lb", "oz", "inch", "ft", "h", "min", "s", "day", "week", "month", "year", "mcg", "cells"]
)


@st.composite
def unit_text(draw: st.DrawFn) -> str:
    def one() -> str:
        if draw(st.booleans()):
            name = draw(PREFIXES) + draw(NAMES)
        else:
            name = draw(OTHERS)
        power = draw(st.sampled_from(["", "", "", "2", "3", "^2"]))
        return name + power

    parts = [one() for _ in range(draw(st.integers(1, 3)))]
    factor = draw(st.sampled_from(["", "", "10^9", "24", "x10^6", "100"]))
    head = parts[0] if not factor else f"{factor}/{parts[0]}"
    return "/".join([head, *parts[1:]])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=unit_text())
def test_every_unit_the_reader_accepts_is_written(text: str) -> None:
    units = get_units()
    try:
        unit = units.parse(text)
    except UnitError:
        return  # not a unit we read (e.g. a prefixed minute): nothing to write
    try:
        code = units.ucum_code(text)
    except UnitError:
        # Only a unit whose exact factor needs a number longer than a UCUM code may carry
        # (docs/limits.md) cannot be written: `lb3/lb3/cells3` is 453.59237**6 g**6.
        factor = unit.base_factor
        assert max(len(str(factor.numerator)), len(str(factor.denominator))) >= 30, text
        return
    assert units.parse_ucum(code) == unit, (text, code)


# Generated patients whose body measures, labs and doses come in any unit we read.
WEIGHTS = st.sampled_from([("kg", 70), ("lb", 154), ("g", 70_000), ("oz", 2469), ("stone", 11)])
HEIGHTS = st.sampled_from([("cm", 170), ("in", 67), ("m", 1.7), ("ft", 5.5), ("mm", 1700)])
CREATININE = st.sampled_from([("mg/dL", 1.1), ("umol/L", 97), ("mg/L", 11), ("g/dL", 0.0011)])
DOSES = st.sampled_from([("mg", 10), ("g", 0.5), ("ug", 400), ("mcg", 400), ("milligram", 5)])


@st.composite
def patient_doc(draw: st.DrawFn) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["weight", "height", "creatinine", "dose"]))
        date = f"2023-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}"
        if kind == "dose":
            unit, value = draw(DOSES)
            events.append(
                {
                    "id": f"e{index}",
                    "type": "medication",
                    "code": "prednisone",
                    "start": date,
                    "end": date,
                    "dose": {"value": value, "unit": unit},
                    "frequency": {"count": 1, "period": 1, "unit": "d"},
                }  # fmt: skip
            )
            continue
        code, strategy, kind_ = {
            "weight": ("body_weight", WEIGHTS, "observation"),
            "height": ("body_height", HEIGHTS, "observation"),
            "creatinine": ("creatinine", CREATININE, "lab"),
        }[kind]
        unit, value = draw(strategy)
        events.append(
            {
                "id": f"e{index}",
                "type": kind_,
                "code": code,
                "date": date,
                "value": value,
                "unit": unit,
            }  # fmt: skip
        )
    return {
        "id": "p",
        "birth_date": "1970-01-01",
        "sex": draw(st.sampled_from(["female", "male"])),
        "dates": {"screening": "2024-01-01"},
        "coverage": [{"start": "2020-01-01", "end": "2024-12-31"}],
        "events": events,
    }


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(doc=patient_doc())
def test_generated_patients_in_any_unit_are_written_and_read_back(doc: dict[str, Any]) -> None:
    patient = load_patient(doc)
    back, _, _ = round_trip(patient)
    assert_same_timeline(patient, back)

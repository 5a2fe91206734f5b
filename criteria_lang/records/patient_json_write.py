"""Writing a patient in our JSON format (docs/patient-format.md): `dump_patient`, the exact
inverse of reading (numbers as exact decimals, dates as ISO text).

Moved out of patient_json.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from criteria_lang.records.patient_json_values import FORMAT, _float_fraction
from criteria_lang.records.timeline import (
    Allergy,
    AttributeValue,
    Code,
    Condition,
    Event,
    Fact,
    Immunization,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
    ReviewAnswer,
)

# --------------------------------------------------------------------------------------------
# Writing


def _dump_number(value: Fraction, where: str) -> int | float:
    if value.denominator == 1:
        return value.numerator
    try:
        approx = float(value)
    except OverflowError:
        approx = math.inf
    if math.isfinite(approx) and _float_fraction(approx) == value:
        return approx
    raise ValueError(
        f"{where}: {value} has no exact JSON number (only decimals that round-trip through a "
        "float can be written exactly)"
    )


def _dump_scalar(value: str | Fraction | bool, where: str) -> str | bool | int | float:
    if isinstance(value, bool | str):
        return value
    return _dump_number(value, where)


def _dump_codes(codes: tuple[Code, ...], where: str) -> Any:
    if not codes:
        raise ValueError(f"{where}: an event needs at least one code")
    out: list[Any] = []
    for code in codes:
        if code.system == "concept" and code.display is None:
            out.append(code.code)
        else:
            item = {"system": code.system, "code": code.code}
            if code.display is not None:
                item["display"] = code.display
            out.append(item)
    return out[0] if len(out) == 1 else out


def _dump_quantity(q: Quantity, where: str) -> dict[str, Any]:
    return {"value": _dump_number(q.value, where), "unit": q.unit}


def _dump_event(ev: Event) -> dict[str, Any]:
    where = f"event {ev.id!r}"
    out: dict[str, Any] = {"type": ev.kind, "id": ev.id, "code": _dump_codes(ev.codes, where)}
    for cls, dump in _DUMPERS:
        if isinstance(ev, cls):
            dump(ev, out, where)
            break
    else:
        raise ValueError(f"{where}: {type(ev).__name__} has no form in the patient format")
    if ev.attributes:
        if isinstance(ev, Fact):
            raise ValueError(f"{where}: a fact has no attributes in the patient format")
        out["attributes"] = {k: _dump_attribute(v, where) for k, v in ev.attributes.items()}
    if ev.reasons:
        if not isinstance(ev, MedicationExposure | Procedure | Immunization):
            raise ValueError(f"{where}: only medications, procedures and vaccinations have reasons")
        out["reason"] = _dump_codes(ev.reasons, where)
    return out


def _optional(out: dict[str, Any], **fields: Any) -> None:
    """Write the fields that are not None."""
    out.update({key: value for key, value in fields.items() if value is not None})


def _dump_onset(ev: Any, out: dict[str, Any], where: str) -> None:
    """A condition or an allergy: an onset, an abatement, a status."""
    out["type"] = ev.kind
    out["onset"] = ev.start.isoformat()
    _optional(out, abatement=ev.end and ev.end.isoformat(), status=ev.status)


def _dump_medication(ev: Any, out: dict[str, Any], where: str) -> None:
    out["type"] = "medication"
    out["start"] = ev.start.isoformat()
    if ev.end is None:
        out["ongoing"] = True
    else:
        out["end"] = ev.end.isoformat()
    if ev.dose is not None:
        out["dose"] = _dump_quantity(ev.dose, where)
    if ev.per_day is not None:
        # n administrations every p days, with n/p the exact fraction per day.
        out["frequency"] = {
            "count": ev.per_day.numerator,
            "period": ev.per_day.denominator,
            "unit": "d",
        }
    if ev.daily_dose is not None:
        out["daily_dose"] = _dump_quantity(ev.daily_dose, where)
    _optional(out, route=ev.route, status=ev.status)


def _dump_measurement(ev: Any, out: dict[str, Any], where: str) -> None:
    if ev.kind not in ("lab", "observation", "score"):
        raise ValueError(f"{where}: a Measurement must be a lab, observation or score")
    if ev.end != ev.start:
        raise ValueError(f"{where}: a {ev.kind} result is one day; its end must be its start")
    out["date"] = _dump_moment(ev)
    if isinstance(ev.value, Quantity):
        out["value"] = _dump_number(ev.value.value, where)
        out["unit"] = ev.value.unit
        _optional(out, comparator=ev.value.comparator, limit=ev.value.limit)
    elif ev.value is not None:
        out["value"] = ev.value
    if ev.reference_range is not None:
        out["reference_range"] = _dump_range(ev.reference_range, where)
    _optional(out, interpretation=ev.interpretation)


def _dump_procedure(ev: Any, out: dict[str, Any], where: str) -> None:
    out["type"] = "procedure"
    if ev.end is None:
        raise ValueError(f"{where}: a procedure needs an end date (its date if one day)")
    out["date"] = ev.start.isoformat()
    if ev.end != ev.start:
        out["end"] = ev.end.isoformat()


def _dump_immunization(ev: Any, out: dict[str, Any], where: str) -> None:
    out["type"] = "immunization"
    if ev.end != ev.start:
        raise ValueError(f"{where}: a vaccination is one day; its end must be its start")
    out["date"] = ev.start.isoformat()
    if ev.dose is not None:
        out["dose"] = _dump_quantity(ev.dose, where)
    _optional(out, route=ev.route, status=ev.status)


def _dump_fact(ev: Any, out: dict[str, Any], where: str) -> None:
    out["type"] = "fact"
    if ev.end != ev.start:
        raise ValueError(f"{where}: a fact is one day; its end must be its start")
    if ev.value is None:
        raise ValueError(f"{where}: a fact needs a value")
    out["date"] = _dump_moment(ev)
    out["value"] = _dump_scalar(ev.value, where)


_DUMPERS: tuple[tuple[type, Callable[[Any, dict[str, Any], str], None]], ...] = (
    (Condition, _dump_onset),
    (MedicationExposure, _dump_medication),
    (Measurement, _dump_measurement),
    (Procedure, _dump_procedure),
    (Immunization, _dump_immunization),
    (Allergy, _dump_onset),
    (Fact, _dump_fact),
)


def _dump_attribute(value: AttributeValue, where: str) -> Any:
    if isinstance(value, Quantity):
        return _dump_quantity(value, where)
    return _dump_scalar(value, where)


def _dump_moment(ev: Event) -> str:
    """A result's date, with its time of day when the record gave one."""
    day = ev.start.isoformat()
    return day if ev.time is None else f"{day}T{ev.time.isoformat()}"


def _dump_range(ref: ReferenceRange, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    units = {q.unit for q in (ref.low, ref.high) if q is not None}
    if len(units) > 1:
        raise ValueError(f"{where}: the reference range has two units, {sorted(units)}")
    if ref.low is not None:
        out["low"] = _dump_number(ref.low.value, where)
    if ref.high is not None:
        out["high"] = _dump_number(ref.high.value, where)
    if units:
        out["unit"] = units.pop()
    return out


def _dump_review(review: ReviewAnswer) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if review.met is not None:
        item["answer"] = "met" if review.met else "not_met"
    if review.by is not None:
        item["by"] = review.by
    if review.date is not None:
        item["date"] = review.date.isoformat()
    if review.note is not None:
        item["note"] = review.note
    if review.questions:
        item["questions"] = {text: _dump_review(one) for text, one in review.questions.items()}
    return item


def dump_patient(p: Patient) -> dict[str, Any]:
    """Write a patient in our format, so that `load_patient(dump_patient(p)) == p`.

    Raises ValueError for a patient the format cannot hold exactly (a value such as 1/3 that
    no JSON number equals, an event without codes, a one-day event with a different end).
    """
    doc: dict[str, Any] = {
        "format": FORMAT,
        "id": p.id,
        "birth_date": None if p.birth_date is None else p.birth_date.isoformat(),
        "sex": p.sex,
    }
    if p.dates:
        doc["dates"] = {name: day.isoformat() for name, day in p.dates.items()}
    if p.coverage:
        doc["coverage"] = [
            {
                "start": span.start.isoformat(),
                "end": None if span.end is None else span.end.isoformat(),
            }
            for span in p.coverage
        ]
    doc["events"] = [_dump_event(ev) for ev in p.events]
    if p.reviews:
        doc["reviews"] = {key: _dump_review(review) for key, review in p.reviews.items()}
    if p.visits:
        doc["visits"] = [{"name": v.name, "date": v.date.isoformat()} for v in p.visits]
    return doc

"""Small builders for semantics tests: a rule file around one expression, a patient dict."""

from __future__ import annotations

from typing import Any

from criteria_lang import Rules
from criteria_lang.core.results import CriterionResult

CONCEPTS = """
lab creatinine = loinc "2160-0" | loinc "14682-9" with unit = mg/dL, molar_mass = 113.12 g/mol
lab egfr = loinc "62238-1" with unit = mL/min/1.73m2
lab ast = loinc "1920-8" with unit = U/L, upper_limit = 40 U/L
lab alt = loinc "1742-6" with unit = U/L
lab ana = loinc "5048-4" with unit = titer
lab hbsag = loinc "5196-1"
lab upcr = loinc "2890-2" with unit = g/g, molar_mass = 113.12 g/mol
lab neutrophils = loinc "751-8" with unit = 10^9/L
observation body_weight = loinc "29463-7" with unit = kg
observation body_height = loinc "8302-2" with unit = cm
score sledai = local "sledai" with unit = 1
drug aza = rxnorm "1256"
drug pred = rxnorm "8640" with prednisone_equivalent = 1, half_life = 3 h
drug mp = rxnorm "6902" with prednisone_equivalent = 1.25, half_life = 30 h
drug gc = pred | mp
drug ritux = rxnorm "121191" with half_life = 21 days
drug acei = rxnorm "29046" | rxnorm "3827"
condition infection = snomed "40733004" | icd10 "A*" | icd10 "B*" except onychomycosis
condition onychomycosis = snomed "414941008" | icd10 "B35.1"
condition mi = snomed "22298006"
procedure biopsy = snomed "36576007"
fact pregnant = local "pregnant"
"""


def rules(*criteria: str, defines: str = "", dates: str = "screening, baseline") -> Rules:
    """A rule file with the test concepts and the given `ID "text": expr` criteria."""
    body = "\n".join(f"  {c}" for c in criteria)
    text = (
        f'trial "T"\n  dates {dates}\n  index screening\n{CONCEPTS}\n{defines}\ninclusion\n{body}\n'
    )
    return Rules.from_text(text)


def patient(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": fields.pop("id", "p"),
        "birth_date": fields.pop("birth_date", "1980-06-15"),
        "sex": fields.pop("sex", "female"),
        "dates": fields.pop("dates", {"screening": "2024-03-31", "baseline": "2024-04-10"}),
        "coverage": fields.pop("coverage", [{"start": "2000-01-01", "end": "2024-12-31"}]),
        "events": list(events),
    }
    doc.update(fields)
    return doc


def truth(expr: str, *events: dict[str, Any], defines: str = "", **fields: Any) -> str:
    """Evaluate one expression as criterion I1 and return its result ("met", ...)."""
    return result(expr, *events, defines=defines, **fields).truth.value


def result(expr: str, *events: dict[str, Any], defines: str = "", **fields: Any) -> CriterionResult:
    r = rules(f'I1 "test": {expr}', defines=defines)
    return r.evaluate(patient(*events, **fields)).criteria[0]


def lab(code: str, date: str, value: Any, unit: str | None = None, **extra: Any) -> dict[str, Any]:
    event = {"type": "lab", "code": code, "date": date, "value": value}
    if unit is not None:
        event["unit"] = unit
    event.update(extra)
    return event


def med(code: str, start: str, end: str | None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "medication", "code": code, "start": start}
    if end is None:
        event["ongoing"] = True
    else:
        event["end"] = end
    event.update(extra)
    return event


def daily(value: Any, unit: str = "mg") -> dict[str, Any]:
    return {
        "dose": {"value": value, "unit": unit},
        "frequency": {"count": 1, "period": 1, "unit": "d"},
    }


def cond(code: str, onset: str, abatement: str | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "condition", "code": code, "onset": onset}
    if abatement is not None:
        event["abatement"] = abatement
    event.update(extra)
    return event

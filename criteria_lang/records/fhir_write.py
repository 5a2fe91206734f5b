"""Write a patient timeline as a FHIR R4 collection Bundle (docs/fhir.md, "Writing FHIR").

`patient_to_bundle(patient)` gives one Bundle (a dict, ready for `orjson.dumps`) holding the
Patient and one resource per event: Condition, MedicationRequest, Observation (labs, vital signs,
scores, and facts under a category of ours) and Procedure. What `criteria_lang.records.fhir`
reads back from it is the same timeline for the evaluator: the same answers, criterion by criterion
(tests/test_fhir_roundtrip.py). Standard FHIR is used wherever it holds a value exactly; the rest
(a record's coverage, event attributes, free-text statuses, stdlib concept names as codes, facts)
uses the code systems and extensions of `criteria_lang.records.fhir` (our namespace `FHIR_BASE`).

Not written, because they are not clinical data: the trial's named dates (`Patient.dates`), the
reviewers' answers (`Patient.reviews`) and study visits (`Patient.visits`). Pass the dates to the
reader (`read_bundle(..., dates=...)`, `criteria screen --date`) and keep the answers beside the
bundle (`attrs.evolve(patient, reviews=...)`, or our JSON format).

A value FHIR cannot hold exactly raises ValueError, as `load.dump_patient` does: a number that no
JSON decimal equals (1/3), a unit with no UCUM code, a dose that is a count rather than an amount.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from criteria_lang.core.codes import URI_OF_SYSTEM
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.fhir import (
    ATTRIBUTE_EXTENSION,
    CATEGORY_SYSTEM,
    COVERAGE_EXTENSION,
    DETECTION_LIMIT_EXTENSION,
    DOSE_AS_RECORDED,
    FACT_CATEGORY,
    ID_SYSTEM,
    STATUS_EXTENSION,
    TAG_SYSTEM,
    UCUM,
)
from criteria_lang.records.patient_json import _dump_number
from criteria_lang.records.timeline import (
    Allergy,
    AttributeValue,
    Code,
    Condition,
    Event,
    Fact,
    Immunization,
    Interval,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
)

__all__ = ["event_ids", "patient_to_bundle", "resource_ids"]

# Our code systems -> FHIR coding system URIs (the first URI of each, core/codes.py).
SYSTEM_URIS: dict[str, str] = URI_OF_SYSTEM
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

# Event kind -> the Observation category it is written under (docs/fhir.md: the reader reads
# laboratory as lab, survey as score, and any other category as observation).
_CATEGORIES = {"lab": "laboratory", "observation": "vital-signs", "score": "survey"}
_CLINICAL_STATUSES = frozenset(
    {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}
)
# MedicationRequest.status codes the reader keeps (draft, cancelled, entered-in-error say the
# drug was not taken: the reader skips them, so they are written through STATUS_EXTENSION).
_REQUEST_STATUSES = frozenset({"active", "on-hold", "completed", "stopped", "unknown"})
# v3 ObservationInterpretation codes written as codings; other interpretations go in `text`.
_INTERPRETATIONS = frozenset(
    {"L", "H", "LL", "HH", "N", "A", "AA", "LU", "HU", "<", ">", "POS", "NEG", "IND", "DET", "ND"}
)
# Qualitative results written as a coded value (SNOMED CT qualifier values); the reader reads
# the CodeableConcept's text, which keeps the result's own words.
_QUALIFIERS = {
    "positive": "10828004",
    "negative": "260385009",
    "detected": "260373001",
    "not detected": "260415000",
}

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NAMESPACE = uuid.UUID("3f8a1a52-6c1e-5b8e-9d1e-6b3c2a9f0e71")  # fullUrls: uuid5 under this


def event_ids(patient: Patient) -> dict[str, str]:
    """Event id -> the id the reader gives the event read back: `Type/<event id>`."""
    return {event.id: f"{_resource_type(event)}/{event.id}" for event in patient.events}


def resource_ids(patient: Patient) -> dict[str, str]:
    """Event id -> the `Type/id` its resource is written as.

    A FHIR id is 1-64 letters, digits, '-' and '.': an event id that is not one (`fact-consent_
    signed`) is written with '-' for every other character, made unique with a suffix, and kept
    in an identifier (system ID_SYSTEM) from which the reader names the event.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for event in patient.events:
        rtype = _resource_type(event)
        rid = _fhir_id(event.id)
        n = 1
        while f"{rtype}/{rid}" in taken:
            n += 1
            rid = _fhir_id(f"{event.id}-{n}")
        taken.add(f"{rtype}/{rid}")
        out[event.id] = f"{rtype}/{rid}"
    return out


def patient_to_bundle(patient: Patient) -> dict[str, Any]:
    """The patient as a FHIR R4 collection Bundle (see the module docstring)."""
    pid = _fhir_id(patient.id)
    ids = resource_ids(patient)
    resources = [_patient(patient, pid)]
    for event in patient.events:
        rtype, rid = ids[event.id].split("/", 1)
        res = _resource(event, rtype, rid, pid)
        if rid != event.id:
            res = {
                "resourceType": rtype,
                "id": rid,
                "identifier": [{"system": ID_SYSTEM, "value": event.id}],
            } | res
        resources.append(res)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": _full_url(patient.id, res), "resource": res} for res in resources],
    }


# --------------------------------------------------------------------------------------------
# Small writers


def _fhir_id(text: str) -> str:
    if _FHIR_ID.fullmatch(text):
        return text
    return re.sub(r"[^A-Za-z0-9\-.]", "-", text)[:64] or "x"


def _full_url(patient_id: str, res: dict[str, Any]) -> str:
    return "urn:uuid:" + str(
        uuid.uuid5(_NAMESPACE, f"{patient_id}\0{res['resourceType']}/{res['id']}")
    )


def _resource_type(event: Event) -> str:
    if isinstance(event, Immunization):
        return "Immunization"
    if isinstance(event, Allergy):
        return "AllergyIntolerance"
    if isinstance(event, Condition):
        return "Condition"
    if isinstance(event, MedicationExposure):
        return "MedicationRequest"
    if isinstance(event, Measurement | Fact):
        return "Observation"
    if isinstance(event, Procedure):
        return "Procedure"
    raise ValueError(f"event {event.id!r}: {type(event).__name__} has no FHIR form")


def _date(day: dt.date) -> str:
    return day.isoformat()


def _number(value: Fraction, where: str) -> int | float:
    return _dump_number(value, where)


def _concept(codes: tuple[Code, ...], where: str) -> dict[str, Any]:
    if not codes:
        raise ValueError(f"{where}: an event needs at least one code")
    codings = []
    for code in codes:
        coding = {"system": SYSTEM_URIS[code.system], "code": code.code}
        if code.display:
            coding["display"] = code.display
        codings.append(coding)
    return {"coding": codings}


def _ucum(quantity: Quantity, where: str) -> str:
    if quantity.ucum:
        return quantity.unit
    try:
        return get_units().ucum_code(quantity.unit)
    except UnitError as error:
        raise ValueError(f"{where}: {error}") from None


def _quantity(quantity: Quantity, where: str) -> dict[str, Any]:
    code = _ucum(quantity, where)
    out: dict[str, Any] = {"value": _number(quantity.value, where)}
    if code != "1":
        out["unit"] = code
    out["system"] = UCUM
    out["code"] = code
    return out


def _scalar(value: AttributeValue, where: str) -> dict[str, Any]:
    if isinstance(value, Quantity):
        return {"valueQuantity": _quantity(value, where)}
    """An attribute or fact value as value[x]."""
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{where}: FHIR has no empty strings")
        return {"valueString": value}
    return {"valueDecimal": _number(value, where)}


def _attributes(attributes: Mapping[str, AttributeValue], where: str) -> list[dict[str, Any]]:
    return [
        {
            "url": ATTRIBUTE_EXTENSION,
            "extension": [
                {"url": "name", "valueString": name},
                {"url": "value", **_scalar(value, f"{where}: attribute {name!r}")},
            ],
        }
        for name, value in attributes.items()
    ]


def _status_extension(status: str, where: str) -> dict[str, Any]:
    if not status:
        raise ValueError(f"{where}: FHIR has no empty strings (status)")
    return {"url": STATUS_EXTENSION, "valueString": status}


def _period(span: Interval) -> dict[str, str]:
    out = {"start": _date(span.start)}
    if span.end is not None:
        out["end"] = _date(span.end)
    return out


# --------------------------------------------------------------------------------------------
# Resources


def _patient(patient: Patient, pid: str) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if pid != patient.id:
        res["identifier"] = [{"system": ID_SYSTEM, "value": patient.id}]
    # The spans the record covers; with none, the extension still says so (covers nothing), so
    # that the reader does not compute a span from the events.
    spans = [{"url": "span", "valuePeriod": _period(span)} for span in patient.coverage]
    res["extension"] = [
        {"url": COVERAGE_EXTENSION, "extension": spans or [{"url": "none", "valueBoolean": True}]}
    ]
    if patient.sex is not None:
        res["gender"] = patient.sex
    if patient.birth_date is not None:
        res["birthDate"] = _date(patient.birth_date)
    return res


def _resource(event: Event, rtype: str, rid: str, pid: str) -> dict[str, Any]:
    where = f"event {event.id!r}"
    subject = {"reference": f"Patient/{pid}"}
    if isinstance(event, Immunization):
        return _immunization(event, rid, pid, where)
    if isinstance(event, Allergy):
        return _allergy(event, rid, pid, where)
    if isinstance(event, Condition):
        return _condition(event, rid, subject, where)
    if isinstance(event, MedicationExposure):
        return _medication(event, rid, subject, where)
    if isinstance(event, Measurement | Fact):
        return _observation(event, rid, subject, where)
    assert isinstance(event, Procedure)
    return _procedure(event, rid, subject, where)


ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_ALLERGY_STATUSES = frozenset({"active", "inactive", "resolved"})


def _immunization(event: Immunization, rid: str, pid: str, where: str) -> dict[str, Any]:
    """A vaccination: vaccineCode, occurrenceDateTime, doseQuantity, route (text), reasonCode;
    attributes in our extension (dose_number too, read back from it)."""
    res: dict[str, Any] = {"resourceType": "Immunization", "id": rid}
    if event.attributes:
        res["extension"] = _attributes(event.attributes, where)
    res["status"] = "completed"
    if event.status is not None and event.status != "completed":
        res.setdefault("extension", []).append(_status_extension(event.status, where))
    res["vaccineCode"] = _concept(event.codes, where)
    res["patient"] = {"reference": f"Patient/{pid}"}
    res["occurrenceDateTime"] = _date(event.start)
    if event.dose is not None:
        res["doseQuantity"] = _quantity(event.dose, where)
    if event.route is not None:
        if not event.route:
            raise ValueError(f"{where}: FHIR has no empty strings (route)")
        res["route"] = {"text": event.route}
    if event.reasons:
        res["reasonCode"] = [_concept(event.reasons, where)]
    return res


def _allergy(event: Allergy, rid: str, pid: str, where: str) -> dict[str, Any]:
    """An allergy or intolerance: code, onsetDateTime, clinicalStatus; its attributes in our
    extension. AllergyIntolerance has no abatement: an allergy with an end has no FHIR form."""
    if event.end is not None:
        raise ValueError(f"{where}: an allergy's end has no FHIR AllergyIntolerance element")
    res: dict[str, Any] = {"resourceType": "AllergyIntolerance", "id": rid}
    if event.attributes:
        res["extension"] = _attributes(event.attributes, where)
    if event.status is not None:
        if event.status in _ALLERGY_STATUSES:
            res["clinicalStatus"] = {"coding": [{"system": ALLERGY_CLINICAL, "code": event.status}]}
        elif event.status:
            res["clinicalStatus"] = {"text": event.status}
        else:
            raise ValueError(f"{where}: FHIR has no empty strings (status)")
    res["code"] = _concept(event.codes, where)
    res["patient"] = {"reference": f"Patient/{pid}"}
    res["onsetDateTime"] = _date(event.start)
    return res


def _condition(event: Condition, rid: str, subject: dict[str, str], where: str) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Condition", "id": rid}
    if event.attributes:
        res["extension"] = _attributes(event.attributes, where)
    if event.status is not None:
        if event.status in _CLINICAL_STATUSES:
            res["clinicalStatus"] = {
                "coding": [{"system": CONDITION_CLINICAL, "code": event.status}]
            }
        elif event.status:
            res["clinicalStatus"] = {"text": event.status}
        else:
            raise ValueError(f"{where}: FHIR has no empty strings (status)")
    res["code"] = _concept(event.codes, where)
    res["subject"] = subject
    res["onsetDateTime"] = _date(event.start)
    if event.end is not None:
        res["abatementDateTime"] = _date(event.end)
    return res


def _medication(
    event: MedicationExposure, rid: str, subject: dict[str, str], where: str
) -> dict[str, Any]:
    # An exposure with no end is ongoing: FHIR status active, and a bounds period with no end.
    status = "active" if event.end is None else (event.status or "unknown")
    if status not in _REQUEST_STATUSES:
        status = "unknown"
    res: dict[str, Any] = {"resourceType": "MedicationRequest", "id": rid}
    # The dose is as recorded: the reader must not read one from an RxNorm name.
    res["meta"] = {"tag": [{"system": TAG_SYSTEM, "code": DOSE_AS_RECORDED}]}
    if event.status is not None and (event.status != status or status == "unknown"):
        # Read back from the extension; FHIR's own `unknown` is read as no status at all.
        res["extension"] = [_status_extension(event.status, where)]
    if event.attributes:
        res.setdefault("extension", []).extend(_attributes(event.attributes, where))
    res["status"] = status
    res["intent"] = "order"
    res["medicationCodeableConcept"] = _concept(event.codes, where)
    res["subject"] = subject
    res["authoredOn"] = _date(event.start)
    dosage: dict[str, Any] = {}
    repeat: dict[str, Any] = {"boundsPeriod": _period(Interval(event.start, event.end))}
    if event.per_day is not None:
        if event.per_day <= 0:
            raise ValueError(f"{where}: FHIR frequencies are positive")
        # n administrations every p days, n/p exactly the administrations a day.
        repeat |= {
            "frequency": event.per_day.numerator,
            "period": event.per_day.denominator,
            "periodUnit": "d",
        }
    dosage["timing"] = {"repeat": repeat}
    if event.route is not None:
        if not event.route:
            raise ValueError(f"{where}: FHIR has no empty strings (route)")
        dosage["route"] = {"text": event.route}
    dose_and_rate: dict[str, Any] = {}
    if event.dose is not None:
        unit = get_units()
        parsed = unit.parse_ucum(_ucum(event.dose, where))
        if parsed.dimensionality == "dimensionless":
            raise ValueError(
                f"{where}: a dose in {event.dose.unit!r} is a count, not an amount; FHIR "
                "readers (ours too) read a unitless dose as a number of units"
            )
        dose_and_rate["doseQuantity"] = _quantity(event.dose, where)
    if event.daily_dose is not None:
        dose_and_rate["rateQuantity"] = _daily_rate(event.daily_dose, where)
    if dose_and_rate:
        dosage["doseAndRate"] = [dose_and_rate]
    res["dosageInstruction"] = [dosage]
    if event.reasons:
        res["reasonCode"] = [_concept(event.reasons, where)]
    return res


def _daily_rate(daily: Quantity, where: str) -> dict[str, Any]:
    """Our daily dose (an amount a day, `150 mg`, or a rate, `150 mg/day`) as a rateQuantity in
    amount per day (`mg/d`), which the reader reads back as the daily dose."""
    units = get_units()
    code = _ucum(daily, where)
    parsed = units.parse_ucum(code)
    if units.compatible(parsed, "mg") or units.compatible(parsed, "IU"):
        code = units.ucum_code(f"{daily.unit}/day") if not daily.ucum else f"{code}/d"
    elif not (units.compatible(parsed, "mg/day") or units.compatible(parsed, "IU/day")):
        raise ValueError(f"{where}: a daily dose in {daily.unit!r} is not an amount (mg, IU) a day")
    return {"value": _number(daily.value, where), "unit": code, "system": UCUM, "code": code}


def _observation(
    event: Measurement | Fact, rid: str, subject: dict[str, str], where: str
) -> dict[str, Any]:
    if event.end != event.start:
        raise ValueError(f"{where}: a result is one day; its end must be its start")
    if isinstance(event, Fact):
        category = {"coding": [{"system": CATEGORY_SYSTEM, "code": FACT_CATEGORY}]}
    else:
        kind = _CATEGORIES.get(event.kind)
        if kind is None:
            raise ValueError(f"{where}: a Measurement must be a lab, observation or score")
        category = {"coding": [{"system": OBSERVATION_CATEGORY, "code": kind}]}
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [category],
        "code": _concept(event.codes, where),
        "subject": subject,
        # The date only: a FHIR dateTime with a time of day needs a zone, which the timeline
        # does not keep (it keeps the record's local clock), so `Event.time` is not written.
        "effectiveDateTime": _date(event.start),
    }
    if isinstance(event, Fact):
        fact = event.value
        if fact is None:
            raise ValueError(f"{where}: a fact needs a value")
        if isinstance(fact, Fraction):
            res["valueQuantity"] = {"value": _number(fact, where), "system": UCUM, "code": "1"}
        else:
            res |= _scalar(fact, where)
        return res
    res |= _result_value(event.value, where)
    if event.interpretation is not None:
        if event.interpretation in _INTERPRETATIONS:
            coding = {"system": INTERPRETATION, "code": event.interpretation}
            res["interpretation"] = [{"coding": [coding]}]
        elif event.interpretation:
            res["interpretation"] = [{"text": event.interpretation}]
        else:
            raise ValueError(f"{where}: FHIR has no empty strings (interpretation)")
    if event.reference_range is not None:
        res["referenceRange"] = [_reference_range(event.reference_range, where)]
    if event.attributes:
        res["extension"] = _attributes(event.attributes, where)
    return res


def _result_value(value: Quantity | bool | str | None, where: str) -> dict[str, Any]:
    """The value[x] element of an Observation holding a result (dataAbsentReason when none)."""
    res: dict[str, Any] = {}
    if isinstance(value, Quantity):
        res["valueQuantity"] = _quantity(value, where)
        if value.comparator is not None:  # a bound: Quantity.comparator (docs/fhir.md, "Values")
            res["valueQuantity"]["comparator"] = value.comparator
        if value.limit is not None:
            limit = {"url": DETECTION_LIMIT_EXTENSION, "valueCode": value.limit}
            res["valueQuantity"]["extension"] = [limit]
    elif isinstance(value, bool):
        res["valueBoolean"] = value
    elif isinstance(value, str):
        if not value:
            raise ValueError(f"{where}: FHIR has no empty strings")
        snomed = _QUALIFIERS.get(value.lower())
        if snomed is not None:
            coding = {"system": SYSTEM_URIS["snomed"], "code": snomed}
            res["valueCodeableConcept"] = {"coding": [coding], "text": value}
        else:
            res["valueString"] = value
    else:
        res["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown"}]}
    return res


def _reference_range(ref: ReferenceRange, where: str) -> dict[str, Any]:
    if ref.low is None and ref.high is None:
        raise ValueError(f"{where}: a reference range needs a low or a high bound")
    out: dict[str, Any] = {}
    if ref.low is not None:
        out["low"] = _quantity(ref.low, where)
    if ref.high is not None:
        out["high"] = _quantity(ref.high, where)
    return out


def _procedure(event: Procedure, rid: str, subject: dict[str, str], where: str) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Procedure", "id": rid}
    if event.attributes:
        res["extension"] = _attributes(event.attributes, where)
    res["status"] = "completed" if event.end is not None else "in-progress"
    res["code"] = _concept(event.codes, where)
    res["subject"] = subject
    if event.end == event.start:
        res["performedDateTime"] = _date(event.start)
    else:
        res["performedPeriod"] = _period(Interval(event.start, event.end))
    if event.reasons:
        res["reasonCode"] = [_concept(event.reasons, where)]
    return res

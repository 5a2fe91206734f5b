"""Reading a FHIR medication resource (MedicationRequest, -Statement, -Administration,
-Dispense, Immunization) into medication exposures: codes, dose, frequency, route, dates.

Moved out of fhir.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
from typing import Any

from criteria_lang.core.dates import OutOfCalendar, add_days
from criteria_lang.core.routes import route_of_code
from criteria_lang.core.units import get_units
from criteria_lang.records.fhir_elements import (
    _array,
    _attribute_extensions,
    _check_order,
    _codes,
    _concept_label,
    _concept_word,
    _Ctx,
    _date,
    _duration_days,
    _event_id,
    _extensions,
    _labels,
    _number,
    _obj,
    _period,
    _quantity,
    _reasons,
    _Scope,
    _status,
    _text,
    _ucum,
    rxnorm_strength_mg,
)
from criteria_lang.records.fhir_summary import (
    _DAYS_PER_UNIT,
    _TIMING_CODES,
    _TYPED_REF,
    DOSE_AS_RECORDED,
    STATUS_EXTENSION,
    TAG_SYSTEM,
)
from criteria_lang.records.timeline import (
    AttributeValue,
    Code,
    Event,
    Immunization,
    MedicationExposure,
    Quantity,
)


def _medication_codes(
    ctx: _Ctx, res: dict[str, Any], scope: _Scope
) -> tuple[tuple[Code, ...] | None, str | None]:
    """The drug's codes, and the name to read a strength from (its RxNorm display)."""
    concept: object = res.get("medicationCodeableConcept")
    path = ".medicationCodeableConcept"
    if concept is None and res.get("medicationReference") is not None:
        path = ".medicationReference"
        ref = _obj(ctx, res.get(path[1:]), path)
        target = _text(ctx, ref.get("reference"), path + ".reference") if ref else None
        if target is None:
            if ref is not None and not ctx.problems:
                ctx.problem(path, "the medicationReference has no reference")
            return None, None
        medication: object = None
        if target.startswith("#"):  # a contained resource
            for item in _array(ctx, res.get("contained"), ".contained"):
                if isinstance(item, dict) and item.get("id") == target[1:]:
                    medication = item
        else:
            medication = scope.medications.get(target)
            match = _TYPED_REF.search(target)
            if medication is None and match is not None and match[1] == "Medication":
                medication = scope.medications.get(target[match.start(1) :].split("/_history")[0])
        if not isinstance(medication, dict) or medication.get("resourceType") != "Medication":
            ctx.problem(path + ".reference", f"the Medication {target} is not in the input")
            return None, None
        concept = medication.get("code")
        path = f"{path}.reference({target}).code"
    elif concept is None:
        ctx.problem(path, "no medicationCodeableConcept or medicationReference")
        return None, None
    codes = _codes(ctx, concept, path, "medication code")
    name = None
    if codes is not None and any(c.system == "rxnorm" for c in codes):
        name = next((c.display for c in codes if c.system == "rxnorm" and c.display), None)
        if name is None and isinstance(concept, dict) and isinstance(concept.get("text"), str):
            name = concept["text"]
    return codes, name


def _dose(ctx: _Ctx, value: object, path: str) -> tuple[Quantity | None, Fraction | None]:
    """A dose quantity: (an amount with a UCUM unit, None), or (None, a count of unit doses)
    when it has no unit, a pure-number UCUM unit (`1`, `{tbl}`) or a non-UCUM system (a dose
    form such as TAB)."""
    quantity = _obj(ctx, value, path)
    if quantity is None:
        return None, None
    before = len(ctx.problems)
    number = _number(ctx, quantity.get("value"), path + ".value")
    code, ucum = _ucum(ctx, quantity, path)
    if number is None or len(ctx.problems) > before:
        return None, None
    if number < 0:
        ctx.wrong(path + ".value", "a dose of at least 0", quantity.get("value"))
        return None, None
    if not ucum or code is None:
        return None, number
    unit = get_units().parse_ucum(code)
    if unit.dimensionality == "dimensionless" and unit.base_factor == 1:
        return None, number
    return Quantity(number, code, ucum=True), None


def _frequency(ctx: _Ctx, dosage: dict[str, Any], path: str) -> Fraction | None:
    """Administrations a day, from Timing.repeat (frequency every period periodUnit) or from
    Timing.code; None for as-needed dosing, whose count is a ceiling, not what was taken."""
    if dosage.get("asNeededBoolean") is True or dosage.get("asNeededCodeableConcept") is not None:
        return None
    timing = _obj(ctx, dosage.get("timing"), path + ".timing")
    if timing is None:
        return None
    where = path + ".timing.repeat"
    repeat = _obj(ctx, timing.get("repeat"), where)
    if repeat is not None and repeat.get("period") is not None:
        raw = repeat.get("frequency")
        count = Fraction(1) if raw is None else _number(ctx, raw, where + ".frequency")
        period = _number(ctx, repeat.get("period"), where + ".period")
        unit = _text(ctx, repeat.get("periodUnit"), where + ".periodUnit")
        days = _DAYS_PER_UNIT.get(unit or "")
        if count is None or period is None:
            return None
        if days is None:
            ctx.wrong(where + ".periodUnit", "one of " + ", ".join(_DAYS_PER_UNIT), unit)
            return None
        if period <= 0 or count < 0:
            ctx.problem(where, "the period must be above 0 and the frequency at least 0")
            return None
        return count / (period * days)
    code = _concept_word(ctx, timing.get("code"), path + ".timing.code")
    return _TIMING_CODES.get(code.upper()) if code is not None else None


def _dose_as_recorded(res: dict[str, Any]) -> bool:
    meta = res.get("meta")
    tags = meta.get("tag") if isinstance(meta, dict) else None
    return isinstance(tags, list) and any(
        isinstance(tag, dict)
        and tag.get("system") == TAG_SYSTEM
        and tag.get("code") == DOSE_AS_RECORDED
        for tag in tags
    )


def _daily_dose(ctx: _Ctx, value: object, path: str) -> Quantity | None:
    """A rateQuantity in an amount per time (`mg/d`, `[iU]/wk`): the daily dose. An infusion
    rate in a volume per time (`mL/h`) is not a dose and is not read."""
    quantity = _quantity(ctx, value, path, default_unit=None)
    if quantity is None:
        return None
    units = get_units()
    unit = units.parse_ucum(quantity.unit)
    if units.compatible(unit, "mg/day") or units.compatible(unit, "IU/day"):
        return quantity
    return None


# Route codings read through core/routes.py: SNOMED CT, and the EDQM Standard Terms, whose FHIR
# system URI is `https://standardterms.edqm.eu` (HL7 Europe's UNICOM guide, input/fsh/aliases.fsh;
# the http form is read too).
_ROUTE_SYSTEMS = {
    "http://snomed.info/sct": "snomed",
    "urn:oid:2.16.840.1.113883.6.96": "snomed",
    "https://standardterms.edqm.eu": "edqm",
    "http://standardterms.edqm.eu": "edqm",
}


def _route(ctx: _Ctx, value: object, path: str) -> str | None:
    """A route: the name of core/routes.py for a SNOMED CT or EDQM coding it knows, else its
    text as a lowercased word ("Oral route (qualifier value)" -> "oral")."""
    concept = value if isinstance(value, dict) else None
    codings = concept.get("coding") if concept is not None else None
    for coding in codings if isinstance(codings, list) else ():
        if isinstance(coding, dict):
            system, code = coding.get("system"), coding.get("code")
            short = _ROUTE_SYSTEMS.get(system) if isinstance(system, str) else None
            named = route_of_code(short, code) if short and isinstance(code, str) else None
            if named is not None:
                return named
    label = _concept_label(ctx, value, path)
    if label is None:
        return None
    word = re.sub(r"\s*\([^)]*\)\s*$", "", label).strip().lower()
    return re.sub(r"\s+(?:route|use)$", "", word) or None


_NOTE_STRENGTH = "doses from the strength in the RxNorm name, one unit a dose assumed"
_NOTE_STRENGTH_COUNT = "doses from the strength in the RxNorm name times the units a dose"


def _dosage(ctx: _Ctx, res: dict[str, Any], rtype: str) -> tuple[dict[str, Any] | None, str]:
    if rtype == "MedicationAdministration":
        return _obj(ctx, res.get("dosage"), ".dosage"), ".dosage"
    key = "dosage" if rtype == "MedicationStatement" else "dosageInstruction"
    items = _array(ctx, res.get(key), "." + key)
    path = f".{key}[0]"
    return (_obj(ctx, items[0], path) if items else None), path


def _medication_dates(
    ctx: _Ctx, res: dict[str, Any], rtype: str, dosage: dict[str, Any] | None, dosage_path: str
) -> tuple[dt.date | None, dt.date | None, int | None, str]:
    """(start, end, days of supply or course, JSON path of the start) of an exposure."""
    start = end = None
    days = None
    if rtype == "MedicationRequest":
        where = dosage_path + ".timing.repeat"
        repeat = None
        if dosage is not None:
            timing = _obj(ctx, dosage.get("timing"), dosage_path + ".timing")
            repeat = _obj(ctx, timing.get("repeat"), where) if timing else None
        if repeat is not None and repeat.get("boundsPeriod") is not None:
            span = _period(ctx, repeat.get("boundsPeriod"), where + ".boundsPeriod")
            start, end = span or (None, None)
            if start is not None:
                return start, end, None, where + ".boundsPeriod.start"
        if repeat is not None and repeat.get("boundsDuration") is not None:
            days = _duration_days(ctx, repeat.get("boundsDuration"), where + ".boundsDuration")
        return _date(ctx, res.get("authoredOn"), ".authoredOn"), end, days, ".authoredOn"
    if rtype in ("MedicationStatement", "MedicationAdministration"):
        if res.get("effectiveDateTime") is not None:
            start = _date(ctx, res.get("effectiveDateTime"), ".effectiveDateTime")
            # One administration is one day; a statement at a date-time has no end of its own.
            end = start if rtype == "MedicationAdministration" else None
            return start, end, None, ".effectiveDateTime"
        if res.get("effectivePeriod") is not None:
            span = _period(ctx, res.get("effectivePeriod"), ".effectivePeriod")
            start, end = span or (None, None)
            if start is not None or rtype == "MedicationAdministration":
                return start, end, None, ".effectivePeriod.start"
        if rtype == "MedicationStatement" and res.get("dateAsserted") is not None:
            return _date(ctx, res.get("dateAsserted"), ".dateAsserted"), end, None, ".dateAsserted"
        return None, end, None, ".effectiveDateTime"
    if rtype == "MedicationDispense":
        if res.get("daysSupply") is not None:
            days = _duration_days(ctx, res.get("daysSupply"), ".daysSupply")
        if res.get("whenHandedOver") is None and res.get("whenPrepared") is not None:
            return _date(ctx, res.get("whenPrepared"), ".whenPrepared"), None, days, ".whenPrepared"
        return (
            _date(ctx, res.get("whenHandedOver"), ".whenHandedOver"),
            None,
            days,
            (".whenHandedOver"),
        )
    start = _date(ctx, res.get("occurrenceDateTime"), ".occurrenceDateTime")  # Immunization
    return start, start, None, ".occurrenceDateTime"


def _dosage_amounts(
    ctx: _Ctx, rtype: str, dosage: dict[str, Any] | None, dosage_path: str
) -> tuple[str | None, Quantity | None, Fraction | None, Quantity | None, Fraction | None]:
    """(route, dose, units a dose, daily dose, doses a day) of a medication's dosage: an
    administration's `dose`, or the first `doseAndRate` and the timing of the others."""
    daily: Quantity | None = None
    dose: Quantity | None = None
    count: Fraction | None = None
    per_day: Fraction | None = None
    if dosage is None:
        return None, dose, count, daily, per_day
    route = _route(ctx, dosage.get("route"), dosage_path + ".route")
    if rtype == "MedicationAdministration":
        if dosage.get("dose") is not None:
            dose, count = _dose(ctx, dosage.get("dose"), dosage_path + ".dose")
        return route, dose, count, daily, per_day
    rates = _array(ctx, dosage.get("doseAndRate"), dosage_path + ".doseAndRate")
    first = _obj(ctx, rates[0], dosage_path + ".doseAndRate[0]") if rates else None
    if first is not None and first.get("doseQuantity") is not None:
        where = dosage_path + ".doseAndRate[0].doseQuantity"
        dose, count = _dose(ctx, first.get("doseQuantity"), where)
    if first is not None and first.get("rateQuantity") is not None:
        where = dosage_path + ".doseAndRate[0].rateQuantity"
        daily = _daily_dose(ctx, first.get("rateQuantity"), where)
    per_day = _frequency(ctx, dosage, dosage_path)
    return route, dose, count, daily, per_day


def _read_medication(ctx: _Ctx, res: dict[str, Any], rid: str, scope: _Scope) -> list[Event]:
    """MedicationRequest/-Statement/-Administration/-Dispense and Immunization: an exposure."""
    rtype = res["resourceType"]
    status = _status(ctx, rtype, res.get("status"), ".status")
    # FHIR's "unknown" means the status is not known: no status, as in our format; a status
    # FHIR's value set cannot hold comes in our extension (criteria_lang.records.fhir_write).
    recorded = None if status == "unknown" else status
    for index, ext in _extensions(ctx, res, STATUS_EXTENSION, ""):
        recorded = _text(ctx, ext.get("valueString"), f".extension[{index}].valueString")
    codes, name = _medication_codes(ctx, res, scope)
    dosage, dosage_path = _dosage(ctx, res, rtype)
    start, end, days, date_path = _medication_dates(ctx, res, rtype, dosage, dosage_path)
    attributes = _medication_attributes(ctx, res, dosage)
    reasons = _reasons(ctx, res, scope)
    route, dose, count, daily, per_day = _dosage_amounts(ctx, rtype, dosage, dosage_path)
    if ctx.problems or codes is None:
        return []
    if start is None:
        ctx.problem(date_path, "no date to start the exposure at")
        return []
    if end is None and days is not None:
        try:
            end = add_days(start, days - 1)
        except OutOfCalendar as outside:
            ctx.problem(".daysSupply", f"the supply runs past the calendar: {outside}")
            return []
    ongoing = status == "active" or (
        rtype == "MedicationAdministration" and status == "in-progress"
    )
    if end is None and not ongoing:
        # The missing-end rule of docs/patient-format.md (as OHDSI Circe): one day of exposure,
        # unless a later order of the same drug renews this one (`_renewed`).
        end = start
        if rtype == "MedicationRequest" and per_day is not None:
            scope.standing_orders.add(_event_id(rtype, rid))
    _check_order(ctx, start, end, date_path)
    if ctx.problems:
        return []
    if dose is None and daily is None and name is not None and not _dose_as_recorded(res):
        strength = rxnorm_strength_mg(name)
        if strength is not None:
            note = _NOTE_STRENGTH if count is None else _NOTE_STRENGTH_COUNT
            dose = Quantity(strength * (1 if count is None else count), "mg", ucum=True)
            scope.summary.notes[(rtype, note)] += 1
    return [
        MedicationExposure(
            id=_event_id(rtype, rid),
            kind="medication",
            codes=codes,
            start=start,
            end=end,
            source=_event_id(rtype, rid),
            dose=dose,
            per_day=per_day,
            daily_dose=daily,
            route=route,
            status=recorded,
            attributes=attributes,
            reasons=reasons,
        )
    ]


def _read_immunization(ctx: _Ctx, res: dict[str, Any], rid: str, scope: _Scope) -> list[Event]:
    """An Immunization: a vaccination on one day, coded by its vaccineCode (CVX)."""
    status = _status(ctx, "Immunization", res.get("status"), ".status")
    codes = _codes(ctx, res.get("vaccineCode"), ".vaccineCode", "vaccineCode")
    day = _date(ctx, res.get("occurrenceDateTime"), ".occurrenceDateTime")
    dose = None
    if res.get("doseQuantity") is not None:
        dose = _dose(ctx, res.get("doseQuantity"), ".doseQuantity")[0]
    route = _route(ctx, res.get("route"), ".route")
    attributes: dict[str, AttributeValue] = {}
    applied = _array(ctx, res.get("protocolApplied"), ".protocolApplied")
    number = (
        applied[0].get("doseNumberPositiveInt")
        if applied and isinstance(applied[0], dict)
        else None
    )
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        attributes["dose_number"] = Fraction(number)
    _attribute_extensions(ctx, res, attributes)
    reasons = _reasons(ctx, res, scope)
    if ctx.problems or codes is None:
        return []
    if day is None:
        ctx.problem(".occurrenceDateTime", "no date of the vaccination")
        return []
    return [
        Immunization(
            id=_event_id("Immunization", rid),
            kind="immunization",
            codes=codes,
            start=day,
            end=day,
            source=_event_id("Immunization", rid),
            dose=dose,
            route=route,
            status=None if status in (None, "completed") else status,
            attributes=attributes,
            reasons=reasons,
        )
    ]


def _medication_attributes(
    ctx: _Ctx, res: dict[str, Any], dosage: dict[str, Any] | None
) -> dict[str, AttributeValue]:
    """stop_reason (statusReason), as_needed (Dosage.asNeeded[x]) and our attribute extension
    (intent, a half-life) of an exposure (core/attributes.py)."""
    attributes: dict[str, AttributeValue] = {}
    _labels(ctx, res, attributes, stop_reason="statusReason")
    if dosage is not None:
        if isinstance(dosage.get("asNeededBoolean"), bool):
            attributes["as_needed"] = dosage["asNeededBoolean"]
        elif dosage.get("asNeededCodeableConcept") is not None:
            attributes["as_needed"] = True  # as needed for a stated reason
    _attribute_extensions(ctx, res, attributes)
    return attributes

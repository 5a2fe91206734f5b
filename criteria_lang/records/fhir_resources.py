"""Reading one clinical FHIR resource into events (Condition, Observation, Procedure,
Encounter; medications in fhir_medications.py), and which reader reads which resource type.

Moved out of fhir.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any, cast

import attrs

from criteria_lang.core.bounds import BoundComparator, is_bound_comparator
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.bounds_text import read_bound_text
from criteria_lang.records.fhir_elements import (
    _allergy_attributes,
    _array,
    _attribute_extensions,
    _check_order,
    _codes,
    _concept_label,
    _concept_word,
    _Ctx,
    _date,
    _event_id,
    _extensions,
    _labels,
    _obj,
    _period,
    _quantity,
    _Reader,
    _reasons,
    _reference_text,
    _Scope,
    _status,
    _text,
)
from criteria_lang.records.fhir_medications import _read_immunization, _read_medication
from criteria_lang.records.fhir_summary import (
    CATEGORY_SYSTEM,
    DETECTION_LIMIT_EXTENSION,
    FACT_CATEGORY,
)
from criteria_lang.records.normalise import measurement_value
from criteria_lang.records.timeline import (
    DETECTION_LIMITS,
    Allergy,
    AttributeValue,
    Code,
    Condition,
    DetectionLimit,
    Event,
    Fact,
    Measurement,
    Procedure,
    Quantity,
    ReferenceRange,
)


def _read_condition(ctx: _Ctx, res: dict[str, Any], rid: str, scope: _Scope) -> list[Event]:
    """Condition and AllergyIntolerance: a condition from its onset (or recorded date) on."""
    rtype = res["resourceType"]
    verification = _status(ctx, rtype, res.get("verificationStatus"), ".verificationStatus")
    status = _concept_word(ctx, res.get("clinicalStatus"), ".clinicalStatus")
    codes = _codes(ctx, res.get("code"), ".code", "code")
    start = end = None
    onset_path = ".onsetDateTime"
    if res.get("onsetDateTime") is not None:
        start = _date(ctx, res.get("onsetDateTime"), onset_path)
    elif res.get("onsetPeriod") is not None:
        onset_path = ".onsetPeriod.start"
        start = (_period(ctx, res.get("onsetPeriod"), ".onsetPeriod") or (None, None))[0]
    if start is None and res.get("recordedDate") is not None:
        onset_path = ".recordedDate"
        start = _date(ctx, res.get("recordedDate"), onset_path)
    end_path = ".abatementDateTime"
    if rtype == "Condition":
        if res.get("abatementDateTime") is not None:
            end = _date(ctx, res.get("abatementDateTime"), end_path, last=True)
        elif res.get("abatementPeriod") is not None:
            end_path = ".abatementPeriod"
            span = _period(ctx, res.get("abatementPeriod"), end_path) or (None, None)
            end = span[1] or span[0]
    attributes: dict[str, AttributeValue] = {}
    if verification is not None:
        attributes["verification"] = verification
    if rtype == "AllergyIntolerance":
        _allergy_attributes(ctx, res, attributes)
    else:
        _labels(ctx, res, attributes, severity="severity", stage="stage", body_site="bodySite")
    _attribute_extensions(ctx, res, attributes)
    if ctx.problems or codes is None:
        return []
    if start is None:
        ctx.problem(onset_path, "no onset date (onsetDateTime, onsetPeriod.start or recordedDate)")
        return []
    _check_order(ctx, start, end, end_path)
    if ctx.problems:
        return []
    # An AllergyIntolerance is an allergy event (docs/language.md, "Immunizations and
    # allergies").
    cls = Allergy if rtype == "AllergyIntolerance" else Condition
    return [
        cls(
            id=_event_id(rtype, rid),
            kind="allergy" if cls is Allergy else "condition",
            codes=codes,
            start=start,
            end=end,
            source=_event_id(rtype, rid),
            status=status,
            attributes=attributes,
        )
    ]


def _observation_kind(ctx: _Ctx, res: dict[str, Any]) -> str:
    """`lab` for the laboratory category, `score` for survey (or score), `fact` for our fact
    category (CATEGORY_SYSTEM), else `observation`."""
    words: set[str] = set()
    fact = False
    for index, item in enumerate(_array(ctx, res.get("category"), ".category")):
        concept = _obj(ctx, item, f".category[{index}]")
        if concept is None:
            continue
        where = f".category[{index}].coding"
        for jndex, coding in enumerate(_array(ctx, concept.get("coding"), where)):
            coding = _obj(ctx, coding, f"{where}[{jndex}]")
            code = _text(ctx, coding.get("code"), f"{where}[{jndex}].code") if coding else None
            if code is not None:
                words.add(code.lower())
                system = coding.get("system") if coding is not None else None
                fact = fact or (system == CATEGORY_SYSTEM and code == FACT_CATEGORY)
    if fact:
        return "fact"
    if "laboratory" in words:
        return "lab"
    if words & {"survey", "score"}:
        return "score"
    return "observation"


_VALUE_KEYS = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueDateTime",
    "valueTime",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valuePeriod",
)


def _value(
    ctx: _Ctx, obj: dict[str, Any], path: str
) -> tuple[Quantity | str | bool | None, str | None]:
    """An Observation's (or a component's) value[x], and the unit its reference range takes
    when a bound has none."""
    for key in _VALUE_KEYS:
        raw = obj.get(key)
        if raw is None:
            continue
        where = path + "." + key
        if key == "valueQuantity":
            # A number without a unit is a pure number (a score, an INR, a specific gravity).
            quantity = _quantity(ctx, raw, where, default_unit="1")
            if quantity is None:
                return None, None
            return _bound(ctx, raw, quantity, where), quantity.unit
        if key == "valueCodeableConcept":
            label = _concept_label(ctx, raw, where)
            if label is None and not ctx.problems:
                ctx.problem(where, "the coded value has no text, display or code")
            return label, None
        if key == "valueString":
            return _string_value(ctx, raw, where)
        if key in ("valueDateTime", "valueTime"):
            return _text(ctx, raw, where), None
        if key == "valueBoolean":
            if isinstance(raw, bool):
                return raw, None
            ctx.wrong(where, "true or false", raw)
            return None, None
        if key == "valueInteger":
            if isinstance(raw, bool) or not isinstance(raw, int):
                ctx.wrong(where, "an integer", raw)
                return None, None
            return Quantity(Fraction(raw), "1", ucum=True), "1"
        ctx.problem(where, f"{key} is not read by criteria_lang (see docs/fhir.md)")
        return None, None
    return None, None


def _bound(ctx: _Ctx, raw: dict[str, Any], quantity: Quantity, where: str) -> Quantity | str:
    """A valueQuantity with its `comparator` (<, <=, >=, >: the result is a bound, docs/fhir.md)
    and our detection-limit extension. R5's `ad` ("sufficient to achieve this total") is no
    bound of the result: it is kept as text, which no number compares with."""
    written = raw.get("comparator")
    comparator: BoundComparator | None = None
    if written is not None:
        text = _text(ctx, written, where + ".comparator")
        if text is None:
            return quantity
        if not is_bound_comparator(text):
            return f"{text} {quantity}"
        comparator = text
    limit = _detection_limit(ctx, raw, where)
    if comparator is None and limit is None:
        return quantity
    if comparator is None:
        ctx.problem(
            where + ".extension", "a limit of detection or quantification needs a comparator"
        )
        return quantity
    return attrs.evolve(quantity, comparator=comparator, limit=limit)


def _detection_limit(ctx: _Ctx, raw: dict[str, Any], where: str) -> DetectionLimit | None:
    for _, found in _extensions(ctx, raw, DETECTION_LIMIT_EXTENSION, where):
        code = found.get("valueCode")
        if code in DETECTION_LIMITS:
            return cast(DetectionLimit, code)
        ctx.wrong(where + ".extension.valueCode", '"detection" or "quantification"', code)
    return None


def _string_value(ctx: _Ctx, raw: object, where: str) -> tuple[Quantity | str | None, str | None]:
    """A valueString; one that is a bound with its unit ("<0.5 mg/dL", as exports write them)
    is read as that bound (the unit in our syntax, docs/units.md). Without a unit it stays
    text: no unit could be assumed."""
    text = _text(ctx, raw, where)
    if text is None:
        return None, None
    written = read_bound_text(text)
    if written is None or written.unit is None:
        return text, None
    try:
        get_units().parse(written.unit)
    except UnitError:
        return text, None
    return Quantity(written.value, written.unit, comparator=written.comparator), written.unit


def _reference_range(
    ctx: _Ctx, obj: dict[str, Any], path: str, unit: str | None
) -> ReferenceRange | None:
    """The first referenceRange with a low or a high bound; a bound without a unit takes the
    value's unit."""
    for index, item in enumerate(_array(ctx, obj.get("referenceRange"), path + ".referenceRange")):
        where = f"{path}.referenceRange[{index}]"
        ref = _obj(ctx, item, where)
        if ref is None or (ref.get("low") is None and ref.get("high") is None):
            continue
        low = _quantity(ctx, ref.get("low"), where + ".low", default_unit=unit)
        high = _quantity(ctx, ref.get("high"), where + ".high", default_unit=unit)
        return ReferenceRange(low, high)
    return None


def _interpretation(ctx: _Ctx, obj: dict[str, Any], path: str) -> str | None:
    items = _array(ctx, obj.get("interpretation"), path + ".interpretation")
    return _concept_word(ctx, items[0], path + ".interpretation[0]") if items else None


def _time_of_day(value: object) -> dt.time | None:
    """The time of day a dateTime writes, on the local clock of the record (its zone is not
    applied, as for its day): it orders the results of one day."""
    if not isinstance(value, str) or len(value) < 16 or value[10] != "T":
        return None
    clock = value[11:].rstrip("Z").split("+")[0].split("-")[0]
    try:
        return dt.time.fromisoformat(clock)
    except ValueError:
        return None


def _observation_time(res: dict[str, Any]) -> dt.time | None:
    """The time of day of the Observation's date (the first of its date elements given)."""
    for key in ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"):
        raw = res.get(key)
        if raw is None:
            continue
        if key == "effectivePeriod":
            raw = raw.get("start") if isinstance(raw, dict) else None
        return _time_of_day(raw)
    return None


def _observation_date(ctx: _Ctx, res: dict[str, Any]) -> dt.date | None:
    for key in ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"):
        raw = res.get(key)
        if raw is None:
            continue
        if key == "effectivePeriod":
            day = (_period(ctx, raw, "." + key) or (None, None))[0]
        else:
            day = _date(ctx, raw, "." + key)
        if day is not None:
            return day
    if not ctx.problems:
        ctx.problem(
            ".effectiveDateTime",
            "no date (effectiveDateTime, effectivePeriod.start, effectiveInstant or issued)",
        )
    return None


def _read_observation(ctx: _Ctx, res: dict[str, Any], rid: str, scope: _Scope) -> list[Event]:
    """An Observation: one measurement for its value, and one for each component's value."""
    _status(ctx, "Observation", res.get("status"), ".status")  # skips cancelled results
    kind = _observation_kind(ctx, res)
    codes = _codes(ctx, res.get("code"), ".code", "code")
    day = _observation_date(ctx, res)
    value, unit = _value(ctx, res, "")
    reference = _reference_range(ctx, res, "", unit)
    interpretation = _interpretation(ctx, res, "")
    parts = []
    for index, item in enumerate(_array(ctx, res.get("component"), ".component")):
        where = f".component[{index}]"
        component = _obj(ctx, item, where)
        if component is None:
            if item is None:
                ctx.wrong(where, "an object", item)
            continue
        part_codes = _codes(ctx, component.get("code"), where + ".code", "component code")
        part_value, part_unit = _value(ctx, component, where)
        part_reference = _reference_range(ctx, component, where, part_unit)
        part_interpretation = _interpretation(ctx, component, where)
        parts.append((index, part_codes, part_value, part_reference, part_interpretation))
    if ctx.problems or codes is None or day is None:
        return []
    event_id = _event_id("Observation", rid)
    time = _observation_time(res)
    attributes: dict[str, AttributeValue] = {}
    _labels(ctx, res, attributes, method="method", body_site="bodySite")
    for name, element in (("specimen", "specimen"), ("performer", "performer")):
        text = _reference_text(res.get(element))
        if text is not None:
            attributes[name] = text
    _attribute_extensions(ctx, res, attributes)
    if kind == "fact":
        # A fact (criteria_lang.records.fhir_write): yes/no, text, or a pure number.
        fact_value: str | bool | Fraction | None
        if isinstance(value, Quantity):
            units = get_units()
            if units.parse_ucum(value.unit) != units.parse_ucum("1"):
                ctx.problem(".valueQuantity", "a fact's value is yes/no, text or a pure number")
                return []
            fact_value = value.value
        else:
            fact_value = value
        fact = Fact(
            id=event_id,
            kind="fact",
            codes=codes,
            start=day,
            end=day,
            source=event_id,
            time=time,
            value=fact_value,
        )
        return [fact]
    normalised, reference, note = measurement_value(codes, value, reference)
    value = normalised  # type: ignore[assignment]
    if note is not None:
        scope.summary.notes[("Observation", note)] += 1
    events: list[Event] = []
    if value is not None or not parts:
        # A panel with components and no value of its own (blood pressure) gives only its
        # components; an observation with no value at all (dataAbsentReason) is still a test done.
        events.append(
            Measurement(
                id=event_id,
                kind=kind,
                codes=codes,
                start=day,
                end=day,
                source=event_id,
                time=time,
                value=value,
                reference_range=reference,
                interpretation=interpretation,
                attributes=attributes,
            )
        )
    for index, part_codes, part_value, part_reference, part_interpretation in parts:
        assert part_codes is not None  # a component without codes is a problem, seen above
        events.append(
            Measurement(
                id=f"{event_id}/component/{index}",
                kind=kind,
                codes=part_codes,
                start=day,
                end=day,
                source=f"{event_id}#component[{index}]",
                time=time,
                value=part_value,
                reference_range=part_reference,
                interpretation=part_interpretation,
                attributes=attributes,
            )
        )
    return events


def _encounter_codes(ctx: _Ctx, res: dict[str, Any]) -> tuple[tuple[Code, ...] | None, str | None]:
    """An Encounter's type codings plus `local encounter-<class code>`, and the class code."""
    codes: list[Code] = []
    for index, item in enumerate(_array(ctx, res.get("type"), ".type")):
        codes.extend(_codes(ctx, item, f".type[{index}]", "type", required=False) or ())
    cls = _obj(ctx, res.get("class"), ".class")
    code = None
    if cls is not None:
        code = _text(ctx, cls.get("code"), ".class.code")
        display = _text(ctx, cls.get("display"), ".class.display")
        if code is not None:
            label = f"encounter class {code}" + (f" ({display})" if display else "")
            codes.append(Code("local", f"encounter-{code}", label))
    if not codes and not ctx.problems:
        ctx.problem(".class", "the encounter has neither a class code nor a coded type")
        return None, None
    return tuple(dict.fromkeys(codes)), code


def _read_procedure(ctx: _Ctx, res: dict[str, Any], rid: str, scope: _Scope) -> list[Event]:
    """Procedure, and Encounter as a procedure coded `encounter-<class>` (a hospital stay)."""
    rtype = res["resourceType"]
    status = _status(ctx, rtype, res.get("status"), ".status")
    attributes: dict[str, AttributeValue] = {}
    start = end = None
    reasons = _reasons(ctx, res, scope)
    if rtype == "Encounter":
        codes, cls = _encounter_codes(ctx, res)
        if cls is not None:
            attributes["class"] = cls
        date_path = ".period.start"
        start, end = _period(ctx, res.get("period"), ".period") or (None, None)
    else:
        _attribute_extensions(ctx, res, attributes)
        _labels(ctx, res, attributes, body_site="bodySite")
        codes = _codes(ctx, res.get("code"), ".code", "code")
        date_path = ".performedDateTime"
        if res.get("performedDateTime") is not None:
            start = end = _date(ctx, res.get("performedDateTime"), date_path)
        elif res.get("performedPeriod") is not None:
            date_path = ".performedPeriod.start"
            start, end = _period(ctx, res.get("performedPeriod"), ".performedPeriod") or (
                None,
                None,
            )
    if ctx.problems or codes is None:
        return []
    if start is None:
        ctx.problem(date_path, "no start date")
        return []
    if end is None and status != "in-progress":
        end = start
    _check_order(ctx, start, end, date_path)
    if ctx.problems:
        return []
    return [
        Procedure(
            id=_event_id(rtype, rid),
            kind="procedure",
            codes=codes,
            start=start,
            end=end,
            source=_event_id(rtype, rid),
            attributes=attributes,
            reasons=reasons,
        )
    ]


_READERS: dict[str, _Reader] = {
    "Condition": _read_condition,
    "AllergyIntolerance": _read_condition,
    "MedicationRequest": _read_medication,
    "MedicationStatement": _read_medication,
    "MedicationAdministration": _read_medication,
    "MedicationDispense": _read_medication,
    "Immunization": _read_immunization,
    "Observation": _read_observation,
    "Procedure": _read_procedure,
    "Encounter": _read_procedure,
}
# The element that says whose a resource is.
_SUBJECT_KEY = {"Immunization": "patient", "AllergyIntolerance": "patient"}

"""Small readers of FHIR data types and elements for the FHIR reader (records/fhir.py): each
reports a problem on `_Ctx` (the JSON path and why) and returns None when the value cannot be
read. Also the scope a resource is read in (`_Scope`), its extensions, and the medication
strength in an RxNorm name.

Moved out of fhir.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
import orjson

from criteria_lang.core.diagnostics import clip
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.fhir_summary import (
    _DAYS_PER_UNIT,
    _DURATION_WORDS,
    _SKIP_STATUS,
    ATTRIBUTE_EXTENSION,
    SYSTEMS,
    UCUM,
    ReadSummary,
)
from criteria_lang.records.patient_json import Problem
from criteria_lang.records.relevance import Relevance
from criteria_lang.records.timeline import (
    NUMBER_RANGE,
    AttributeValue,
    Code,
    Event,
    Quantity,
    decimal_in_range,
    int_in_range,
)

# --------------------------------------------------------------------------------------------
# Small readers of FHIR data types. Each reports a problem on `_Ctx` and returns None when the
# value cannot be read; the caller then gives up on the resource.


class _Skip(Exception):
    """The resource is deliberately not read (a status that means it did not happen)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Ctx:
    """The resource being read: its JSON path, its `Type/id` label, and its problems so far."""

    __slots__ = ("base", "label", "problems")

    def __init__(self, base: str, label: str) -> None:
        self.base = base
        self.label = clip(label, 120)  # a 1 MB id must not be repeated in every problem
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.base + path, f"{self.label}: {message}"))

    def wrong(self, path: str, expected: str, value: object) -> None:
        self.problem(path, f"expected {expected}, got {_describe(value)}")


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return str(value).lower()
    if isinstance(value, str):
        return "the text " + _quote(value)
    if isinstance(value, int | float):
        return f"the number {value!r}" if abs(value) < 1e30 else "a very large number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a Python {type(value).__name__}"


def _quote(text: str) -> str:
    """Text as JSON shows it, cut short: "mg/dLL"."""
    return orjson.dumps(text if len(text) <= 40 else text[:37] + "...").decode()


def _obj(ctx: _Ctx, value: object, path: str) -> dict[str, Any] | None:
    """An optional JSON object: None when absent (no problem) or of the wrong type (problem)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value if type(value) is dict else dict(value)
    ctx.wrong(path, "an object", value)
    return None


def _array(ctx: _Ctx, value: object, path: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    ctx.wrong(path, "an array", value)
    return []


def _text(ctx: _Ctx, value: object, path: str) -> str | None:
    """A FHIR string, code or other text-valued primitive. An empty string is invalid FHIR
    (json.html: a property is either absent or has at least one character; a code also has no
    leading or trailing whitespace), so it is a problem, never taken as "not recorded"."""
    if value is None:
        return None
    if isinstance(value, str):
        if value:
            return str(value)
        ctx.problem(path, "an empty text, which FHIR does not allow (leave the element out)")
        return None
    ctx.wrong(path, "text", value)
    return None


# Memo of numbers already converted: lab values repeat, and Fraction(repr(x)) is not free.
_NUMBERS: dict[float, Fraction] = {}


def _number(ctx: _Ctx, value: object, path: str) -> Fraction | None:
    """A JSON number as an exact Fraction of the decimal text it was written as.

    orjson gives floats; `repr` is the shortest text that reads back as the same float. That is
    the text written in the file whenever the writer also wrote the shortest text, as JSON
    writers do, and always for up to 15 significant digits: Fraction(repr(x)) is then the
    written decimal exactly (1.1 -> 11/10). All 14,514 decimals of the Synthea bundles, most of
    17 digits, come back exactly. A longer text than its float needs is rounded; a caller who
    needs those can parse with json.loads(parse_float=Decimal), which is read exactly.
    """
    if isinstance(value, Decimal) and decimal_in_range(value):
        return Fraction(value)  # from a caller's json.loads(parse_float=Decimal): exact
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        ctx.wrong(path, "a number", value)
        return None
    if isinstance(value, Decimal) or (isinstance(value, int) and not int_in_range(value)):
        ctx.wrong(path, NUMBER_RANGE, value)
        return None
    if isinstance(value, int):
        return Fraction(int(value))
    value = float(value)
    found = _NUMBERS.get(value)
    if found is not None:
        return found
    if not math.isfinite(value):
        ctx.wrong(path, "a finite number", value)
        return None
    if value.is_integer() and not -(2**63) <= value < 2**64:
        # orjson reads an integer beyond 64 bits as a float, which is no longer exact.
        ctx.problem(path, "the number is too large to be read exactly")
        return None
    number = Fraction(repr(value))
    if len(_NUMBERS) > 100_000:
        _NUMBERS.clear()
    _NUMBERS[value] = number
    return number


_DATE_RE = re.compile(
    r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})"
    r"(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::(?:[0-5][0-9]|60)(?:\.[0-9]+)?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?)?)?"
)
_DATES: dict[str, tuple[dt.date, dt.date] | None] = {}


def _day_span(text: str) -> tuple[dt.date, dt.date] | None:
    """First and last day of a FHIR date/dateTime/instant; None when it is not one.

    A date-time is taken on the day written, in its own time zone: the local day of the record.
    A partial date (`2019`, `2019-04`) covers every day of its year or month.
    """
    if text in _DATES:
        return _DATES[text]
    span: tuple[dt.date, dt.date] | None = None
    match = _DATE_RE.fullmatch(text)
    if match is not None:
        year, month, day = match.groups()
        try:
            if day is not None:
                first = dt.date(int(year), int(month), int(day))
                span = (first, first)
            elif month is not None:
                last = calendar.monthrange(int(year), int(month))[1]
                span = (dt.date(int(year), int(month), 1), dt.date(int(year), int(month), last))
            else:
                span = (dt.date(int(year), 1, 1), dt.date(int(year), 12, 31))
        except ValueError:
            span = None
    if len(_DATES) > 100_000:
        _DATES.clear()
    _DATES[text] = span
    return span


def _date(ctx: _Ctx, value: object, path: str, *, last: bool = False) -> dt.date | None:
    """A FHIR date: its first day, or its last day with `last` (for ends of partial dates)."""
    if value is None:
        return None
    if isinstance(value, str):
        span = _day_span(str(value))
        if span is not None:
            return span[1] if last else span[0]
    ctx.wrong(path, "a FHIR date (YYYY-MM-DD, YYYY-MM, YYYY or a dateTime)", value)
    return None


_CODES: dict[tuple[str | None, str, str | None], Code] = {}


def _coding(system: str | None, code: str, display: str | None) -> Code:
    key = (system, code, display)
    found = _CODES.get(key)
    if found is None:
        short = SYSTEMS.get(system) if system is not None else None
        if short is None:
            # Codes of other systems are kept as `local`; the URI goes into the display so that
            # evidence shows where the code came from. Matching uses the code only.
            short = "local"
            if system is not None:
                display = f"{display} ({system})" if display else system
        found = Code(short, code, display)
        if len(_CODES) > 100_000:
            _CODES.clear()
        _CODES[key] = found
    return found


def _codes(
    ctx: _Ctx, value: object, path: str, what: str, *, required: bool = True
) -> tuple[Code, ...] | None:
    """The codings of a CodeableConcept as Codes. None, with a problem, when it cannot be read
    or (if `required`) has no coding with a code: no rule could match such an event."""
    concept = _obj(ctx, value, path)
    if concept is None:
        if value is None and required:
            ctx.problem(path, f"no {what} (a CodeableConcept with a coding)")
        return None
    before = len(ctx.problems)
    out: list[Code] = []
    for index, item in enumerate(_array(ctx, concept.get("coding"), path + ".coding")):
        where = f"{path}.coding[{index}]"
        coding = _obj(ctx, item, where)
        if coding is None:
            continue
        system = _text(ctx, coding.get("system"), where + ".system")
        code = _text(ctx, coding.get("code"), where + ".code")
        display = _text(ctx, coding.get("display"), where + ".display")
        if code is not None:
            out.append(_coding(system, code, display))
    if len(ctx.problems) > before:
        return None
    if not out:
        if required:
            text = concept.get("text")
            shown = f" (text {_quote(text)})" if isinstance(text, str) and text else ""
            ctx.problem(path, f"{what} has no coding with a code{shown}: no rule can match it")
        return None
    return tuple(dict.fromkeys(out))


def _concept_word(ctx: _Ctx, value: object, path: str) -> str | None:
    """A CodeableConcept as one word: its first coding's code, else its text (for statuses)."""
    concept = _obj(ctx, value, path)
    if concept is None:
        return None
    for index, item in enumerate(_array(ctx, concept.get("coding"), path + ".coding")):
        coding = _obj(ctx, item, f"{path}.coding[{index}]")
        if coding is not None:
            code = _text(ctx, coding.get("code"), f"{path}.coding[{index}].code")
            if code is not None:
                return code
    return _text(ctx, concept.get("text"), path + ".text")


def _concept_label(ctx: _Ctx, value: object, path: str) -> str | None:
    """A CodeableConcept as text for people: its text, else its first coding's display/code."""
    concept = _obj(ctx, value, path)
    if concept is None:
        return None
    text = _text(ctx, concept.get("text"), path + ".text")
    if text is not None:
        return text
    for index, item in enumerate(_array(ctx, concept.get("coding"), path + ".coding")):
        coding = _obj(ctx, item, f"{path}.coding[{index}]")
        if coding is not None:
            for key in ("display", "code"):
                found = _text(ctx, coding.get(key), f"{path}.coding[{index}].{key}")
                if found is not None:
                    return found
    return None


def _ucum(ctx: _Ctx, quantity: dict[str, Any], path: str) -> tuple[str | None, bool]:
    """The unit of a Quantity as UCUM: (code, True); (None, True) when it has no unit at all;
    (None, False) when its system is not UCUM (a dose form such as TAB), or when the unit cannot
    be read (then with a problem)."""
    system = _text(ctx, quantity.get("system"), path + ".system")
    code = _text(ctx, quantity.get("code"), path + ".code")
    unit = _text(ctx, quantity.get("unit"), path + ".unit")
    if system is not None and system != UCUM:
        return None, False
    # `code` is the computable unit; `unit` is for people, but often the only one given.
    key, text = (".code", code) if code is not None else (".unit", unit)
    if text is None:
        return None, True
    try:
        get_units().parse_ucum(text)
    except UnitError as error:
        ctx.problem(path + key, f"unit {_quote(text)}: {error}")
        return None, False
    except Exception as error:  # noqa: BLE001 - the UCUM parser's own failures
        ctx.problem(path + key, f"unit {_quote(text)} cannot be read ({error})")
        return None, False
    return text, True


def _quantity(ctx: _Ctx, value: object, path: str, *, default_unit: str | None) -> Quantity | None:
    """A FHIR Quantity with a UCUM unit; one without a unit gets `default_unit`. A unit of
    another system is a problem: only UCUM units can be compared."""
    quantity = _obj(ctx, value, path)
    if quantity is None:
        return None
    before = len(ctx.problems)
    if quantity.get("value") is None:
        ctx.problem(path + ".value", "the quantity has no value")
        return None
    number = _number(ctx, quantity.get("value"), path + ".value")
    code, ucum = _ucum(ctx, quantity, path)
    if number is None or len(ctx.problems) > before:
        return None
    if not ucum:
        ctx.problem(
            path + ".system",
            f"the unit is not UCUM (system "
            f"{_quote(str(quantity.get('system')))}): only UCUM units can be compared",
        )
        return None
    if code is None:
        if default_unit is None:
            ctx.problem(path + ".code", "the quantity has no unit")
            return None
        code = default_unit
    return Quantity(number, code, ucum=True)


def _period(ctx: _Ctx, value: object, path: str) -> tuple[dt.date | None, dt.date | None] | None:
    period = _obj(ctx, value, path)
    if period is None:
        return None
    start = _date(ctx, period.get("start"), path + ".start")
    end = _date(ctx, period.get("end"), path + ".end", last=True)
    return start, end


def _duration_days(ctx: _Ctx, value: object, path: str) -> int | None:
    """A Duration as whole days, rounded up (a 36-hour course touches 2 days)."""
    duration = _obj(ctx, value, path)
    if duration is None:
        return None
    number = _number(ctx, duration.get("value"), path + ".value")
    unit = _text(ctx, duration.get("code"), path + ".code") or _text(
        ctx, duration.get("unit"), path + ".unit"
    )
    unit = _DURATION_WORDS.get(unit or "", unit)
    factor = _DAYS_PER_UNIT.get(unit or "")
    if number is None:
        return None
    if factor is None:
        ctx.problem(
            path + ".code",
            f"duration unit {_describe(unit)}: expected one of " + ", ".join(_DAYS_PER_UNIT),
        )
        return None
    if number < 0:
        ctx.wrong(path + ".value", "a duration of at least 0", duration.get("value"))
        return None
    return max(1, math.ceil(number * factor))


def _check_order(ctx: _Ctx, start: dt.date, end: dt.date | None, path: str) -> None:
    if end is not None and end < start:
        ctx.problem(path, f"ends ({end}) before it starts ({start})")


def _status(ctx: _Ctx, rtype: str, value: object, path: str) -> str | None:
    """The status word; raises _Skip when it says the thing did not happen."""
    status = _concept_word(ctx, value, path) if isinstance(value, dict) else _text(ctx, value, path)
    if status is not None and status in _SKIP_STATUS.get(rtype, ()):
        raise _Skip(f"status {status}")
    return status


# --------------------------------------------------------------------------------------------
# Medication strength from RxNorm names

# A leading quantity factor of an RxNorm clinical drug name: "1 ML ...", "24 HR ...".
_QUANTITY_FACTOR = re.compile(r"(\d+(?:\.\d+)?) ([A-Za-z]+) (?=\S)")
# Any "<number> <unit>" in the name: "500 MG", "150 MG/ML", "0.044 MG/ACTUAT", "28 Day", "40mg".
_STRENGTH = re.compile(r"(?<![\w./])(\d+(?:\.\d+)?) ?([A-Za-z]+(?:/[A-Za-z0-9]+)?)(?![\w/])")
_PACK = re.compile(r"[{}]|\b(?:pack|kit)\b", re.IGNORECASE)


def rxnorm_strength_mg(text: str) -> Fraction | None:
    """The milligrams in one unit of a single-ingredient product, read from its RxNorm name.

    RxNorm names a clinical drug "[quantity factor] ingredient strength dose form" (RxNorm
    Technical Documentation, "Normalized forms"). Read only when the name has exactly one
    "<number> MG" strength and nothing else that looks like one: "Prednisone 5 MG Oral Tablet"
    is 5; "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet" is 500 (24 HR is
    the release period); "1 ML Medroxyprogesterone acetate 150 MG/ML Injection" is 150 (1 mL
    times 150 mg/mL). Not read (None): combinations ("A 325 MG / B 5 MG"), packs and kits,
    concentrations without a volume ("Hydrocortisone 10 MG/ML Topical Cream"), strengths per
    actuation, per hour or in other units (UNT, MCG).
    """
    if " / " in text or _PACK.search(text):
        return None
    factor: tuple[Fraction, str] | None = None
    rest = text
    match = _QUANTITY_FACTOR.match(text)
    if match is not None:
        factor = (Fraction(match[1]), match[2].upper())
        rest = text[match.end() :]
    found = _STRENGTH.findall(rest)
    if len(found) != 1:
        return None
    number, unit = found[0][0], found[0][1].upper()
    if unit == "MG":
        return Fraction(number)
    if unit == "MG/ML" and factor is not None and factor[1] == "ML":
        return Fraction(number) * factor[0]
    return None


# --------------------------------------------------------------------------------------------
# Reading one clinical resource into events


@attrs.define
class _Scope:
    """What resources of one bundle (or one NDJSON export) can refer to."""

    source: str
    summary: ReadSummary
    # Medication resources by every key a reference may use (fullUrl, Medication/id, urn:uuid).
    medications: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    # fullUrl -> resource type, to tell a reference to a Group from one to a Patient.
    types_by_url: dict[str, str] = attrs.field(factory=dict)
    # Conditions by every key a reference may use, for reasons (reasonReference, diagnosis).
    conditions: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    # MedicationRequests with a repeating dosage and no end: standing orders, which last until
    # the drug is ordered again (docs/fhir.md, "Dates"): the ids of their exposures.
    standing_orders: set[str] = attrs.field(factory=set)
    # What the rules can use: resources none of whose codes they hold are skipped (unread).
    relevance: Relevance | None = None


_Reader = Callable[[_Ctx, dict[str, Any], str, _Scope], list[Event]]


def _event_id(rtype: str, rid: str) -> str:
    return f"{rtype}/{rid}"


def _extensions(
    ctx: _Ctx, obj: dict[str, Any], url: str, path: str
) -> list[tuple[int, dict[str, Any]]]:
    """The extensions of `obj` with this url, with their index."""
    out = []
    for index, item in enumerate(_array(ctx, obj.get("extension"), path + ".extension")):
        if isinstance(item, dict) and item.get("url") == url:
            out.append((index, item))
    return out


def _attribute_extensions(
    ctx: _Ctx, res: dict[str, Any], attributes: dict[str, AttributeValue]
) -> None:
    """Event attributes written by criteria_lang.records.fhir_write (ATTRIBUTE_EXTENSION)."""
    for index, ext in _extensions(ctx, res, ATTRIBUTE_EXTENSION, ""):
        where = f".extension[{index}]"
        parts = {
            item.get("url"): item
            for item in _array(ctx, ext.get("extension"), where + ".extension")
            if isinstance(item, dict)
        }
        name = _text(ctx, (parts.get("name") or {}).get("valueString"), where + "(name)")
        value_ext = parts.get("value") or {}
        value: AttributeValue | None = None
        if isinstance(value_ext.get("valueBoolean"), bool):
            value = value_ext["valueBoolean"]
        elif value_ext.get("valueString") is not None:
            value = _text(ctx, value_ext.get("valueString"), where + "(value)")
        elif value_ext.get("valueDecimal") is not None:
            value = _number(ctx, value_ext.get("valueDecimal"), where + "(value)")
        elif value_ext.get("valueQuantity") is not None:
            value = _quantity(
                ctx, value_ext.get("valueQuantity"), where + "(value)", default_unit=None
            )
        if name is None or value is None:
            if not ctx.problems:
                ctx.problem(where, "an attribute extension needs a name and a value")
            continue
        attributes[name] = value


def _labels(
    ctx: _Ctx, res: dict[str, Any], attributes: dict[str, AttributeValue], **keys: str
) -> None:
    """Attributes from CodeableConcepts as text (their text, else a coding's display or code):
    `attribute=element` (core/attributes.py)."""
    for name, element in keys.items():
        value = res.get(element)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict) and "summary" in value and "coding" not in value:
            value = value.get("summary")  # Condition.stage
        if value is not None:
            label = _concept_label(ctx, value, "." + element)
            if label is not None:
                attributes[name] = label


def _reference_text(value: object) -> str | None:
    """A Reference (or the first of a list) as text for people: its display, else its target."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict):
        return None
    for key in ("display", "reference"):
        text = value.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def _reasons(ctx: _Ctx, res: dict[str, Any], scope: _Scope) -> tuple[Code, ...]:
    """Why it was given or done (`for CONCEPT`): reasonCode codings, and the codes of the
    Conditions reasonReference (an Encounter's diagnosis too) points to in the input. A reference
    to nothing in the input adds nothing."""
    found: list[Code] = []
    for index, item in enumerate(_array(ctx, res.get("reasonCode"), ".reasonCode")):
        path = f".reasonCode[{index}]"
        found.extend(_codes(ctx, item, path, "reasonCode", required=False) or ())
    references = list(_array(ctx, res.get("reasonReference"), ".reasonReference"))
    for item in _array(ctx, res.get("diagnosis"), ".diagnosis"):
        if isinstance(item, dict):
            references.append(item.get("condition"))
    for ref in references:
        target = ref.get("reference") if isinstance(ref, dict) else None
        condition = scope.conditions.get(target) if isinstance(target, str) else None
        if condition is not None:
            codes = _codes(ctx, condition.get("code"), ".reasonReference", "code", required=False)
            found.extend(codes or ())
    return tuple(dict.fromkeys(found))


def _allergy_attributes(
    ctx: _Ctx, res: dict[str, Any], attributes: dict[str, AttributeValue]
) -> None:
    """type, criticality, category (when there is one) and the first reaction's severity."""
    for key in ("type", "criticality"):
        word = _text(ctx, res.get(key), "." + key)
        if word is not None:
            attributes[key] = word
    categories = _array(ctx, res.get("category"), ".category")
    if len(categories) == 1 and isinstance(categories[0], str):
        attributes["category"] = categories[0]
    reactions = _array(ctx, res.get("reaction"), ".reaction")
    first = reactions[0] if reactions and isinstance(reactions[0], dict) else {}
    if isinstance(first.get("severity"), str) and first["severity"]:
        attributes["severity"] = first["severity"]

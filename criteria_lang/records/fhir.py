"""Read FHIR R4 data (bundles, NDJSON bulk exports) into patient timelines (docs/fhir.md).

`read_fhir(path)` yields one `Patient` or one `RecordError` per FHIR Patient found under `path`;
`read_bundle(data, source)` reads one bundle. Nothing is ever raised for bad input. A clinical
resource is read whole or not at all: one that cannot be read becomes a `Problem` (its JSON path
and the reason, prefixed with `Type/id`), is counted in the `ReadSummary`, and its patient is
still read. Resources that eligibility never uses (Claim, Organization, ...) are counted as
ignored. Every resource in the input is counted exactly once: read, or skipped with a reason.

Why the JSON is parsed here and not with the `fhir.resources` package (pydantic models), measured
on the 37 Synthea bundles in shared/data/synthea-fhir-r4 (13,617 resources, 2-core machine, load
from other work varying; docs/fhir.md, "Speed", has the commands):
- speed: `fhir.resources` 8.3.0 (`R4B.bundle.Bundle.model_validate_json`) only validates, at
  1,400-2,200 resources/s, and the models would still have to be converted to our timeline;
  this module parses (orjson) and converts everything at 14,000-21,000 resources/s.
- bad input: pydantic rejects a whole bundle at its first bad element (one Observation with a
  text `value` loses the patient) and checks FHIR's shape, not what we need: it accepted an
  Observation with no effective date and a `valueQuantity.code` of "mg/dLL". We need problems
  per resource, the patient kept, and the UCUM and date checks it does not make.
- exactness: both keep decimals (pydantic as Decimal; here through the float's shortest repr).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import attrs
import orjson

from criteria_lang.core.bounds import BoundComparator, is_bound_comparator
from criteria_lang.core.codes import CONCEPT_SYSTEM, FHIR_BASE, LOCAL_SYSTEM, SYSTEM_OF_URI
from criteria_lang.core.dates import DAYS_PER_MONTH, DAYS_PER_UNIT, OutOfCalendar, add_days
from criteria_lang.core.diagnostics import clip
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.records.bounds_text import read_bound_text
from criteria_lang.records.files import data_suffix, open_binary, read_bytes
from criteria_lang.records.normalise import measurement_value
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.relevance import SKIPPED, Relevance
from criteria_lang.records.timeline import (
    DETECTION_LIMITS,
    NUMBER_RANGE,
    Code,
    Condition,
    DetectionLimit,
    Event,
    Fact,
    Interval,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReferenceRange,
    decimal_in_range,
    int_in_range,
)

__all__ = [
    "ATTRIBUTE_EXTENSION",
    "CATEGORY_SYSTEM",
    "CONCEPT_SYSTEM",
    "COVERAGE_EXTENSION",
    "DETECTION_LIMIT_EXTENSION",
    "DUPLICATE",
    "FACT_CATEGORY",
    "FHIR_BASE",
    "LOCAL_SYSTEM",
    "ID_SYSTEM",
    "STATUS_EXTENSION",
    "TAG_SYSTEM",
    "DOSE_AS_RECORDED",
    "IGNORED",
    "NOT_READABLE",
    "NO_RESOURCE",
    "PATIENT_NOT_READABLE",
    "SYSTEMS",
    "ReadSummary",
    "ResourceProblem",
    "read_bundle",
    "read_fhir",
    "read_fhir_bundle_file",
    "read_ndjson",
    "rxnorm_strength_mg",
]

# --------------------------------------------------------------------------------------------
# Vocabulary

# Our namespace for the code systems and extensions that carry what standard FHIR has no place
# for (docs/fhir.md, "Writing FHIR"). `.example` is reserved (RFC 2606): these URIs identify and are
# never fetched. criteria_lang.records.fhir_write writes them; this reader reads them back.
# FHIR_BASE, and the URIs of codes naming a stdlib concept directly (`Code("concept", "sle")`)
# and of our `local` codes, are in the table of code systems (core/codes.py).
# Observation.category: an Observation in this category is a `fact` event (pregnant, consent).
CATEGORY_SYSTEM = f"{FHIR_BASE}/CodeSystem/observation-category"
FACT_CATEGORY = "fact"
# Patient extension: the spans the record covers (sub-extensions `span`, valuePeriod; or `none`).
COVERAGE_EXTENSION = f"{FHIR_BASE}/StructureDefinition/record-coverage"
# Condition/Procedure extension: one event attribute (sub-extensions `name` and `value`).
ATTRIBUTE_EXTENSION = f"{FHIR_BASE}/StructureDefinition/attribute"
# Medication extension: the status as recorded, when FHIR's status value set has no code for it.
STATUS_EXTENSION = f"{FHIR_BASE}/StructureDefinition/status"
# valueQuantity extension (valueCode `detection` or `quantification`): the bound given by the
# comparator is the assay's limit of detection or quantification (docs/fhir.md, "Values").
DETECTION_LIMIT_EXTENSION = f"{FHIR_BASE}/StructureDefinition/detection-limit"
# Resource.identifier: the event's (or patient's) id in our format, when a FHIR id cannot hold it
# (`fact-consent_signed` is written `fact-consent-signed`). The reader names the event after it.
ID_SYSTEM = f"{FHIR_BASE}/id"
# Medication meta.tag: the dose is as recorded (none: not recorded), so no dose is read from the
# drug's RxNorm name (see "Medication strength from the RxNorm name" in docs/fhir.md).
TAG_SYSTEM = f"{FHIR_BASE}/CodeSystem/tag"
DOSE_AS_RECORDED = "dose-as-recorded"

# Coding system URIs -> our short names: the one table of code systems (core/codes.py).
SYSTEMS: dict[str, str] = SYSTEM_OF_URI
UCUM = "http://unitsofmeasure.org"

IGNORED = "ignored (not used for eligibility)"
NOT_READABLE = "not readable (see problems)"
PATIENT_NOT_READABLE = "its Patient is not readable"
NO_RESOURCE = "entry without a resource"
DUPLICATE = "duplicate of an earlier resource with the same type and id"

GENDERS = frozenset({"male", "female", "other", "unknown"})

# Statuses that mean the thing did not happen (or was recorded in error): such a resource is
# skipped with the reason "status <code>" rather than read. Value sets of FHIR R4 for each
# resource's `status` (Condition/AllergyIntolerance: `verificationStatus`).
_SKIP_STATUS: dict[str, frozenset[str]] = {
    "Condition": frozenset({"refuted", "entered-in-error"}),
    "AllergyIntolerance": frozenset({"refuted", "entered-in-error"}),
    "Observation": frozenset({"cancelled", "entered-in-error"}),
    "Procedure": frozenset({"preparation", "not-done", "entered-in-error"}),
    "Immunization": frozenset({"not-done", "entered-in-error"}),
    "MedicationRequest": frozenset({"draft", "cancelled", "entered-in-error"}),
    "MedicationStatement": frozenset({"intended", "not-taken", "entered-in-error"}),
    "MedicationAdministration": frozenset({"not-done", "entered-in-error"}),
    "MedicationDispense": frozenset({"cancelled", "declined", "entered-in-error"}),
    "Encounter": frozenset({"planned", "cancelled", "entered-in-error"}),
}

# Days in one unit of a FHIR `Timing.repeat.periodUnit` / a UCUM duration: the one table
# (core/dates.py), whose month is 30.4375 days, as in our JSON format and the unit registry.
_DAYS_PER_UNIT: dict[str, Fraction] = DAYS_PER_UNIT
_DURATION_WORDS = {"day": "d", "days": "d", "week": "wk", "weeks": "wk", "hour": "h", "hours": "h"}

# Administrations per day for the FHIR R4 timing abbreviations (value set timing-abbreviation,
# code system v3-GTSAbbreviation), read from `Timing.code` when `Timing.repeat` gives none.
_TIMING_CODES: dict[str, Fraction] = {
    "QD": Fraction(1),
    "AM": Fraction(1),
    "PM": Fraction(1),
    "BED": Fraction(1),
    "BID": Fraction(2),
    "TID": Fraction(3),
    "QID": Fraction(4),
    "QOD": Fraction(1, 2),
    "Q1H": Fraction(24),
    "Q2H": Fraction(12),
    "Q3H": Fraction(8),
    "Q4H": Fraction(6),
    "Q6H": Fraction(4),
    "Q8H": Fraction(3),
    "WK": Fraction(1, 7),
    "MO": 1 / DAYS_PER_MONTH,
}

# References: `Patient/123`, `https://server/fhir/Patient/123/_history/2`; `urn:uuid:...` ones
# are looked up among the bundle's fullUrls (or, in NDJSON, the resources' ids) instead.
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([^/]+)(?:/_history/[^/]*)?$")
_TYPED_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/[^/]+(?:/_history/[^/]*)?$")

# --------------------------------------------------------------------------------------------
# The summary


@attrs.frozen
class ResourceProblem:
    """A problem with where it was found: the file (or `file:line`) and the patient, if known."""

    source: str
    problem: Problem
    patient: str | None = None

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


@attrs.define
class ReadSummary:
    """What a read did with every resource: read, or skipped with a reason; and the problems.

    Pass one to `read_fhir(..., summary=...)` to collect it over a whole folder; print it with
    `str(summary)`. Counts are per FHIR resource type. `read + skipped` counts every entry of
    every bundle and every NDJSON line exactly once.
    """

    read: Counter[str] = attrs.field(factory=Counter)
    # (resource type, reason) -> count; reasons: IGNORED, NOT_READABLE, "status ...", ...
    skipped: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    # (resource type, note) -> count: what was derived rather than read (doses from text).
    notes: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    problems: list[ResourceProblem] = attrs.field(factory=list)
    files: int = 0
    patients: int = 0
    record_errors: int = 0

    @property
    def total(self) -> int:
        return sum(self.read.values()) + sum(self.skipped.values())

    def skipped_for(self, reason: str) -> int:
        return sum(n for (_, why), n in self.skipped.items() if why == reason)

    @property
    def ignored(self) -> int:
        return self.skipped_for(IGNORED)

    @property
    def not_readable(self) -> int:
        return self.skipped_for(NOT_READABLE)

    def types(self) -> list[str]:
        return sorted({*self.read, *(rtype for rtype, _ in self.skipped)})

    def merge(self, other: ReadSummary) -> None:
        self.read.update(other.read)
        self.skipped.update(other.skipped)
        self.notes.update(other.notes)
        self.problems.extend(other.problems)
        self.files += other.files
        self.patients += other.patients
        self.record_errors += other.record_errors

    def render(self, max_problems: int = 20) -> str:
        read = sum(self.read.values())
        lines = [
            f"FHIR: {self.files} file(s), {self.total} resources: {read} read, "
            f"{self.total - read} not read; {self.patients} patient(s) read, "
            f"{self.record_errors} not readable"
        ]
        for rtype in self.types():
            parts = [f"{self.read[rtype]} read"] if self.read[rtype] else []
            reasons = sorted((why, n) for (t, why), n in self.skipped.items() if t == rtype)
            parts += [f"{n} {why}" for why, n in reasons]
            lines.append(f"  {rtype}: " + ", ".join(parts))
        for (rtype, note), n in sorted(self.notes.items()):
            lines.append(f"  note: {rtype}: {n} {note}")
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s):")
            lines += [f"  {p}" for p in self.problems[:max_problems]]
            if len(self.problems) > max_problems:
                lines.append(f"  ... and {len(self.problems) - max_problems} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


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
    ctx: _Ctx, res: dict[str, Any], attributes: dict[str, str | Fraction | bool]
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
        value: str | Fraction | bool | None = None
        if isinstance(value_ext.get("valueBoolean"), bool):
            value = value_ext["valueBoolean"]
        elif value_ext.get("valueString") is not None:
            value = _text(ctx, value_ext.get("valueString"), where + "(value)")
        elif value_ext.get("valueDecimal") is not None:
            value = _number(ctx, value_ext.get("valueDecimal"), where + "(value)")
        if name is None or value is None:
            if not ctx.problems:
                ctx.problem(where, "an attribute extension needs a name and a value")
            continue
        attributes[name] = value


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
    attributes: dict[str, str | Fraction | bool] = {}
    if verification is not None:
        attributes["verification"] = verification
    if rtype == "AllergyIntolerance":
        attributes["resource"] = "AllergyIntolerance"
        for key in ("type", "criticality"):
            word = _text(ctx, res.get(key), "." + key)
            if word is not None:
                attributes[key] = word
        categories = _array(ctx, res.get("category"), ".category")
        if len(categories) == 1 and isinstance(categories[0], str):
            attributes["category"] = categories[0]
    _attribute_extensions(ctx, res, attributes)
    if ctx.problems or codes is None:
        return []
    if start is None:
        ctx.problem(onset_path, "no onset date (onsetDateTime, onsetPeriod.start or recordedDate)")
        return []
    _check_order(ctx, start, end, end_path)
    if ctx.problems:
        return []
    return [
        Condition(
            id=_event_id(rtype, rid),
            kind="condition",
            codes=codes,
            start=start,
            end=end,
            source=_event_id(rtype, rid),
            status=status,
            attributes=attributes,
        )
    ]


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


def _route(ctx: _Ctx, value: object, path: str) -> str | None:
    """A route as a lowercased word: "Oral route (qualifier value)" -> "oral"."""
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
    if rtype == "Immunization":
        return None, ""
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


def _read_medication(ctx: _Ctx, res: dict[str, Any], rid: str, scope: _Scope) -> list[Event]:
    """MedicationRequest/-Statement/-Administration/-Dispense and Immunization: an exposure."""
    rtype = res["resourceType"]
    status = _status(ctx, rtype, res.get("status"), ".status")
    # FHIR's "unknown" means the status is not known: no status, as in our format; a status
    # FHIR's value set cannot hold comes in our extension (criteria_lang.records.fhir_write).
    recorded = None if status == "unknown" else status
    for index, ext in _extensions(ctx, res, STATUS_EXTENSION, ""):
        recorded = _text(ctx, ext.get("valueString"), f".extension[{index}].valueString")
    daily: Quantity | None = None
    if rtype == "Immunization":
        codes = _codes(ctx, res.get("vaccineCode"), ".vaccineCode", "vaccineCode")
        name = None
    else:
        codes, name = _medication_codes(ctx, res, scope)
    dosage, dosage_path = _dosage(ctx, res, rtype)
    start, end, days, date_path = _medication_dates(ctx, res, rtype, dosage, dosage_path)
    dose: Quantity | None = None
    count: Fraction | None = None
    per_day: Fraction | None = None
    route: str | None = None
    if rtype == "Immunization":
        if res.get("doseQuantity") is not None:
            dose, count = _dose(ctx, res.get("doseQuantity"), ".doseQuantity")
        route = _route(ctx, res.get("route"), ".route")
    elif dosage is not None:
        route = _route(ctx, dosage.get("route"), dosage_path + ".route")
        if rtype == "MedicationAdministration":
            if dosage.get("dose") is not None:
                dose, count = _dose(ctx, dosage.get("dose"), dosage_path + ".dose")
        else:
            rates = _array(ctx, dosage.get("doseAndRate"), dosage_path + ".doseAndRate")
            first = _obj(ctx, rates[0], dosage_path + ".doseAndRate[0]") if rates else None
            if first is not None and first.get("doseQuantity") is not None:
                where = dosage_path + ".doseAndRate[0].doseQuantity"
                dose, count = _dose(ctx, first.get("doseQuantity"), where)
            if first is not None and first.get("rateQuantity") is not None:
                where = dosage_path + ".doseAndRate[0].rateQuantity"
                daily = _daily_dose(ctx, first.get("rateQuantity"), where)
            per_day = _frequency(ctx, dosage, dosage_path)
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
        # The missing-end rule of docs/patient-format.md (as OHDSI Circe): one day of exposure.
        end = start
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
                value=value,
                reference_range=reference,
                interpretation=interpretation,
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
                value=part_value,
                reference_range=part_reference,
                interpretation=part_interpretation,
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
    attributes: dict[str, str | Fraction | bool] = {}
    start = end = None
    if rtype == "Encounter":
        codes, cls = _encounter_codes(ctx, res)
        if cls is not None:
            attributes["class"] = cls
        date_path = ".period.start"
        start, end = _period(ctx, res.get("period"), ".period") or (None, None)
    else:
        _attribute_extensions(ctx, res, attributes)
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
        )
    ]


_READERS: dict[str, _Reader] = {
    "Condition": _read_condition,
    "AllergyIntolerance": _read_condition,
    "MedicationRequest": _read_medication,
    "MedicationStatement": _read_medication,
    "MedicationAdministration": _read_medication,
    "MedicationDispense": _read_medication,
    "Immunization": _read_medication,
    "Observation": _read_observation,
    "Procedure": _read_procedure,
    "Encounter": _read_procedure,
}
# The element that says whose a resource is.
_SUBJECT_KEY = {"Immunization": "patient", "AllergyIntolerance": "patient"}


# --------------------------------------------------------------------------------------------
# Assembling patients from the resources of one bundle or one NDJSON export


@attrs.define
class _Entry:
    resource: object
    source: str  # the file, or file:line
    base: str  # the JSON path of the resource in its document
    full_url: str | None = None
    # What was expected instead, when this is not an entry (or not a resource) at all.
    bad: str | None = None
    # Its place among all the entries of its scope, when they are not read in one run
    # (records/ndjson_export.py reads a large export bucket by bucket); else its place in the run.
    index: int | None = None


@attrs.define
class _PatientBuild:
    id: str
    source: str
    birth_date: dt.date | None
    sex: str | None
    events: list[Event] = attrs.field(factory=list)
    error: RecordError | None = None
    # The spans the record declares it covers (COVERAGE_EXTENSION); None: computed from events.
    coverage: tuple[Interval, ...] | None = None
    order: int = 0  # the place of its Patient entry in the scope (see _Entry.index)
    # Resources the rules cannot use, kept unread until the patient is finished (`settle`).
    deferred: list[tuple[_Entry, dict[str, Any], str, str]] = attrs.field(factory=list)


def _our_id(res: dict[str, Any]) -> str | None:
    """The id in our format that criteria_lang.records.fhir_write kept in an identifier
    (ID_SYSTEM)."""
    identifiers = res.get("identifier")
    if isinstance(identifiers, list):
        for item in identifiers:
            if isinstance(item, dict) and item.get("system") == ID_SYSTEM:
                value = item.get("value")
                if isinstance(value, str) and value:
                    return value
    return None


def _resource_id(res: dict[str, Any], full_url: str | None, fallback: str) -> str:
    rid = res.get("id")
    if isinstance(rid, str) and rid:
        return rid
    if full_url is not None:
        return full_url.removeprefix("urn:uuid:").rstrip("/").rsplit("/", 1)[-1] or fallback
    return fallback


def _coverage_extension(ctx: _Ctx, res: dict[str, Any]) -> tuple[Interval, ...] | None:
    """The record's coverage as criteria_lang.records.fhir_write declares it, or None when not
    declared: sub-extensions `span` (valuePeriod, no end: still open), or `none` (covers
    nothing)."""
    found = _extensions(ctx, res, COVERAGE_EXTENSION, "")
    if not found:
        return None
    spans: list[Interval] = []
    for index, ext in found:
        where = f".extension[{index}].extension"
        for jndex, part in enumerate(_array(ctx, ext.get("extension"), where)):
            if not isinstance(part, dict) or part.get("url") != "span":
                continue
            span = _period(ctx, part.get("valuePeriod"), f"{where}[{jndex}].valuePeriod")
            if span is None or span[0] is None:
                ctx.problem(f"{where}[{jndex}]", "a coverage span needs a start")
                continue
            _check_order(ctx, span[0], span[1], f"{where}[{jndex}].valuePeriod")
            spans.append(Interval(span[0], span[1]))
    return tuple(spans)


def _read_patient(res: dict[str, Any], entry: _Entry, rid: str) -> _PatientBuild:
    """Patient.id, birthDate and gender; a Patient that cannot be read is a RecordError."""
    source = f"{entry.source}#Patient/{clip(rid, 120)}"
    ctx = _Ctx(entry.base, f"Patient/{rid}")
    if "id" in res and not (isinstance(res["id"], str) and res["id"]):
        ctx.wrong(".id", "the Patient's id as non-empty text", res["id"])
    birth = _date(ctx, res.get("birthDate"), ".birthDate")
    sex = _text(ctx, res.get("gender"), ".gender")
    if sex is not None and sex not in GENDERS:
        ctx.wrong(".gender", "one of " + ", ".join(sorted(GENDERS)), sex)
    build = _PatientBuild(rid, source, birth, sex, coverage=_coverage_extension(ctx, res))
    if ctx.problems:
        build.error = RecordError(source, tuple(ctx.problems))
    return build


class _Assembler:
    """Joins the resources of one scope (a bundle, an NDJSON export) into patients."""

    def __init__(self, scope: _Scope, dates: Mapping[str, dt.date] | None) -> None:
        self.scope = scope
        self.summary = scope.summary
        self.dates = dict(dates or {})
        self.patients: list[_PatientBuild] = []
        self.by_key: dict[str, _PatientBuild] = {}
        self.seen: set[tuple[str, str]] = set()

    def skip(self, rtype: str, reason: str) -> None:
        self.summary.skipped[(rtype, reason)] += 1

    def report(
        self, rtype: str, source: str, problems: Iterable[Problem], patient: str | None = None
    ) -> None:
        self.skip(rtype, NOT_READABLE)
        self.summary.problems.extend(ResourceProblem(source, p, patient) for p in problems)

    def run(self, entries: Iterable[_Entry]) -> Iterator[Patient | RecordError]:
        for _, record in self.run_ordered(entries):
            yield record

    def run_ordered(self, entries: Iterable[_Entry]) -> Iterator[tuple[int, Patient | RecordError]]:
        """Each patient with the place of its Patient entry (`_Entry.index`, else its place in
        `entries`), in that order."""
        pending: list[tuple[_Entry, dict[str, Any], str, str]] = []
        for place, entry in enumerate(entries):
            self.take(entry, entry.index if entry.index is not None else place, pending)
        # Resources are read once every Patient and Medication of the scope is known, so that
        # a reference may point forwards.
        for entry, res, rtype, rid in pending:
            self.add_events(entry, res, rtype, rid)
        for build in self.patients:
            self.settle(build)
            if build.error is not None:
                self.summary.record_errors += 1
                yield build.order, build.error
            else:
                self.summary.patients += 1
                yield build.order, _finish(build, self.dates)

    def take(
        self, entry: _Entry, index: int, pending: list[tuple[_Entry, dict[str, Any], str, str]]
    ) -> None:
        """One entry: a Patient or Medication is taken in now, a clinical resource is put in
        `pending` (read once all patients are known), anything else is counted."""
        res = entry.resource
        if entry.bad is not None or (res is not None and not isinstance(res, dict)):
            expected = entry.bad or "a FHIR resource (a JSON object)"
            problem = Problem(entry.base, f"expected {expected}, got {_describe(res)}")
            self.report("(not a resource)", entry.source, [problem])
            return
        if res is None:
            self.skip("(no resource)", NO_RESOURCE)
            return
        assert isinstance(res, dict)
        rtype = res.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            problem = Problem(
                entry.base + ".resourceType",
                f"expected a FHIR resource type as text, got {_describe(rtype)}",
            )
            self.report("(no resourceType)", entry.source, [problem])
            return
        rid = _resource_id(res, entry.full_url, f"entry-{index}")
        if isinstance(res.get("id"), str) and res.get("id"):
            if (rtype, rid) in self.seen:
                self.skip(rtype, DUPLICATE)
                return
            self.seen.add((rtype, rid))
        if entry.full_url is not None:
            self.scope.types_by_url[entry.full_url] = rtype
        if rtype == "Patient":
            self.add_patient(res, entry, rid).order = index
        elif rtype == "Medication":
            # Read through the references to it; counted as read whether used or not.
            for key in (entry.full_url, f"Medication/{rid}", f"urn:uuid:{rid}"):
                if key is not None:
                    self.scope.medications.setdefault(key, res)
            self.summary.read[rtype] += 1
        elif rtype in _READERS:
            pending.append((entry, res, rtype, rid))
        else:
            self.skip(rtype, IGNORED)

    def add_patient(self, res: dict[str, Any], entry: _Entry, rid: str) -> _PatientBuild:
        build = _read_patient(res, entry, rid)
        build.id = _our_id(res) or build.id
        if build.error is not None:
            self.report("Patient", entry.source, build.error.problems, rid)
        else:
            self.summary.read["Patient"] += 1
        self.patients.append(build)
        for key in (entry.full_url, f"Patient/{rid}", f"urn:uuid:{rid}"):
            if key is not None:
                self.by_key.setdefault(key, build)
        return build

    def owner(self, ctx: _Ctx, res: dict[str, Any], rtype: str) -> _PatientBuild | None:
        """The patient a resource is about; None with a problem, or _Skip, when there is none."""
        key = _SUBJECT_KEY.get(rtype, "subject")
        ref = _obj(ctx, res.get(key), "." + key)
        if ref is None:
            if res.get(key) is None:
                ctx.problem("." + key, f"no {key}: whose {rtype} this is cannot be told")
            return None
        target = _text(ctx, ref.get("reference"), f".{key}.reference")
        if target is None:
            if not ctx.problems:
                ctx.problem(f".{key}.reference", f"the {key} has no reference to a Patient")
            return None
        build = self.by_key.get(target)
        if build is None:
            match = _PATIENT_REF.search(target)
            if match is not None:
                build = self.by_key.get(f"Patient/{match[1]}")
        if build is None:
            typed = _TYPED_REF.search(target)
            other = self.scope.types_by_url.get(target) or (typed[1] if typed else None)
            if other is not None and other != "Patient":
                raise _Skip(f"about a {other}, not a patient")
            ctx.problem(f".{key}.reference", f"the Patient {target} is not in the input")
        return build

    def add_events(self, entry: _Entry, res: dict[str, Any], rtype: str, rid: str) -> None:
        ctx = _Ctx(entry.base, f"{rtype}/{rid}")
        build = None
        try:
            build = self.owner(ctx, res, rtype)
            if build is not None and build.error is not None:
                self.skip(rtype, PATIENT_NOT_READABLE)
                return
            relevance = self.scope.relevance
            if build is not None and relevance is not None and not wanted(res, relevance):
                build.deferred.append((entry, res, rtype, rid))
                return
            events = _READERS[rtype](ctx, res, _our_id(res) or rid, self.scope)
        except _Skip as skip:
            self.skip(rtype, skip.reason)
            return
        except Exception as error:  # noqa: BLE001 - a batch must account for every resource
            ctx.problems.append(
                Problem(
                    entry.base,
                    f"{ctx.label}: could not be read because of an internal error "
                    f"({type(error).__name__}: {error}); this is a bug in criteria_lang",
                )
            )
        if ctx.problems or build is None:
            self.report(rtype, entry.source, ctx.problems, build.id if build else None)
            return
        self.summary.read[rtype] += 1
        build.events.extend(events)

    def settle(self, build: _PatientBuild) -> None:
        """The resources the rules cannot use stay unread (counted as skipped), unless the
        record's coverage is computed from its events (no coverage declared, and the rules
        judge absence by it) and one of them may lie outside the span of those read: then it is
        read, so that the coverage is what reading everything gives (`_finish`)."""
        deferred, build.deferred = build.deferred, []
        relevance = self.scope.relevance
        spans = relevance is not None and relevance.coverage and build.coverage is None
        for entry, res, rtype, rid in deferred:
            if spans and (rtype in _EXTENDED_SPANS or not _inside(res, _event_span(build))):
                self.scope.relevance = None  # read it as any resource
                try:
                    self.add_events(entry, res, rtype, rid)
                finally:
                    self.scope.relevance = relevance
            else:
                self.skip(rtype, SKIPPED)


# Resources whose event may end past every date they hold (a supply's days, a duration).
_EXTENDED_SPANS = frozenset(
    {
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "MedicationDispense",
        "Immunization",
    }
)
_DATE_TEXT = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)?)?")


def wanted(res: dict[str, Any], relevance: Relevance) -> bool:
    """Can the rules use this resource: does one of the codes its reader would give it name a
    code one of their concepts holds? Looked up in the elements each reader takes codes from;
    a drug given by reference, or a type without such elements, is always wanted."""
    rtype = res.get("resourceType")
    if rtype == "Encounter":
        cls = res.get("class")
        code = cls.get("code") if isinstance(cls, dict) else None
        if isinstance(code, str) and code and relevance.wants_code(_coding_of_class(code)):
            return True
        types = res.get("type")
        concepts = types if isinstance(types, list) else []
    else:
        element = _CODE_ELEMENT.get(rtype) if isinstance(rtype, str) else None
        if element is None or (element == "medicationCodeableConcept" and element not in res):
            return True
        concepts = [res.get(element)]
        if rtype == "Observation" and isinstance(res.get("component"), list):
            concepts += [c.get("code") for c in res["component"] if isinstance(c, dict)]
    for concept in concepts:
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings if isinstance(codings, list) else ():
            if not isinstance(coding, dict):
                continue
            system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
            if not isinstance(code, str) or not code:
                continue
            found = _coding(
                system if isinstance(system, str) else None,
                code,
                display if isinstance(display, str) else None,
            )
            if relevance.wants_code(found):
                return True
    return False


# The element each reader takes a resource's codes from (_read_condition, _medication_codes,
# _read_observation, _read_procedure); Encounter: its type and class (_encounter_codes).
_CODE_ELEMENT = {
    "Condition": "code",
    "AllergyIntolerance": "code",
    "Observation": "code",
    "Procedure": "code",
    "Immunization": "vaccineCode",
    "MedicationRequest": "medicationCodeableConcept",
    "MedicationStatement": "medicationCodeableConcept",
    "MedicationAdministration": "medicationCodeableConcept",
    "MedicationDispense": "medicationCodeableConcept",
}


_CLASS_CODES: dict[str, Code] = {}


def _coding_of_class(code: str) -> Code:
    """The code _encounter_codes gives an Encounter's class (matching uses system and code),
    one object per class code."""
    found = _CLASS_CODES.get(code)
    if found is None:
        if len(_CLASS_CODES) > 10_000:
            _CLASS_CODES.clear()
        found = _CLASS_CODES[code] = Code("local", f"encounter-{code}")
    return found


def _event_span(build: _PatientBuild) -> tuple[dt.date, dt.date] | None:
    if not build.events:
        return None
    first = min(event.start for event in build.events)
    last = max(max(event.start, event.end or event.start) for event in build.events)
    return first, last


def _inside(res: dict[str, Any], span: tuple[dt.date, dt.date] | None) -> bool:
    """Do all the dates the resource holds (anywhere in it, each as the whole period a partial
    date names) lie within `span`? A resource with no date, or one that cannot be read as a
    date, is not known to be inside."""
    if span is None:
        return False
    low, high = span
    found = False
    stack: list[Any] = [res]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) >= 4 and item[:4].isdigit():
            match = _DATE_TEXT.fullmatch(item)
            if match is None:
                continue
            bounds = _date_bounds(match)
            if bounds is None or bounds[0] < low or bounds[1] > high:
                return False
            found = True
    return found


def _date_bounds(match: re.Match[str]) -> tuple[dt.date, dt.date] | None:
    year, month, day = match[1], match[2], match[3]
    try:
        if day is not None:
            exact = dt.date(int(year), int(month), int(day))
            return exact, exact
        if month is not None:
            last = calendar.monthrange(int(year), int(month))[1]
            return dt.date(int(year), int(month), 1), dt.date(int(year), int(month), last)
        return dt.date(int(year), 1, 1), dt.date(int(year), 12, 31)
    except ValueError:
        return None


def _finish(build: _PatientBuild, dates: Mapping[str, dt.date]) -> Patient:
    events = tuple(build.events)
    coverage: tuple[Interval, ...] = ()
    if build.coverage is not None:
        coverage = build.coverage
    elif events:
        # The span of the record, from its first to its last dated event, as an OMOP CDM
        # observation period is built from the data when the source declares none: a FHIR
        # bundle declares nothing better.
        first = min(event.start for event in events)
        last = max(max(event.start, event.end or event.start) for event in events)
        coverage = (Interval(first, last),)
    return Patient(
        id=build.id,
        birth_date=build.birth_date,
        sex=build.sex,
        dates=dict(dates),
        events=events,
        coverage=coverage,
        source=build.source,
    )


# --------------------------------------------------------------------------------------------
# Bundles


def _parse_json(data: bytes | str) -> tuple[Any, Problem | None]:
    try:
        return orjson.loads(data), None
    except (orjson.JSONDecodeError, ValueError, TypeError, RecursionError) as error:
        return None, Problem("$", f"the text is not valid JSON ({error})")


def _bundle_entries(doc: object, source: str) -> tuple[list[_Entry], Problem | None]:
    """The entries of a Bundle; a single resource other than a Bundle is a bundle of one."""
    if not isinstance(doc, dict):
        return [], Problem("$", f"expected a FHIR Bundle (a JSON object), got {_describe(doc)}")
    rtype = doc.get("resourceType")
    if rtype != "Bundle":
        if isinstance(rtype, str) and rtype:
            return [_Entry(doc, source, "$")], None
        return [], Problem("$.resourceType", f'expected "Bundle", got {_describe(rtype)}')
    raw = doc.get("entry")
    if raw is None:
        return [], None
    if not isinstance(raw, list | tuple):
        return [], Problem("$.entry", f"expected an array of entries, got {_describe(raw)}")
    entries = []
    for index, item in enumerate(raw):
        base = f"$.entry[{index}]"
        if not isinstance(item, dict):
            entries.append(_Entry(item, source, base, bad="a bundle entry (a JSON object)"))
            continue
        url = item.get("fullUrl")
        url = url if isinstance(url, str) and url else None
        entries.append(_Entry(item.get("resource"), source, base + ".resource", url))
    return entries, None


def _file_error(summary: ReadSummary, source: str, problem: Problem) -> RecordError:
    """A file (or bundle) that is not readable at all: one RecordError, also in the summary."""
    summary.record_errors += 1
    summary.problems.append(ResourceProblem(source, problem))
    return RecordError(source, (problem,))


def _read_bundle_records(
    data: object,
    source: str,
    summary: ReadSummary,
    dates: Mapping[str, dt.date] | None,
    relevance: Relevance | None = None,
) -> Iterator[Patient | RecordError]:
    if isinstance(data, bytes | bytearray | memoryview | str):
        text = bytes(data) if isinstance(data, bytearray | memoryview) else data
        text = text.removeprefix(b"\xef\xbb\xbf") if isinstance(text, bytes) else text
        data, bad = _parse_json(text)
        if bad is not None:
            yield _file_error(summary, source, bad)
            return
    entries, bad = _bundle_entries(data, source)
    if bad is not None:
        yield _file_error(summary, source, bad)
        return
    try:
        scope = _Scope(source, summary, relevance=relevance)
        yield from _Assembler(scope, dates).run(entries)
    except Exception as error:  # noqa: BLE001 - never raise for input, whatever it is
        yield _file_error(summary, source, _internal(error))


def read_bundle(
    data: dict[str, Any] | bytes | str,
    source: str = "<bundle>",
    *,
    dates: Mapping[str, dt.date] | None = None,
    relevance: Relevance | None = None,
) -> tuple[list[Patient], list[Problem], ReadSummary]:
    """Read one FHIR R4 Bundle, parsed or as JSON text: its patients, problems and summary.

    Never raises for bad input. A Patient resource that cannot be read gives no Patient: its
    problems are in the list and `summary.record_errors` counts it; so is a document that is no
    bundle at all. A single resource other than a Bundle is read as a bundle of one.
    """
    summary = ReadSummary(files=1)
    patients = [
        record
        for record in _read_bundle_records(data, source, summary, dates, relevance)
        if isinstance(record, Patient)
    ]
    return patients, [p.problem for p in summary.problems], summary


def _internal(error: BaseException) -> Problem:
    return Problem(
        "$",
        f"could not be read because of an internal error ({type(error).__name__}: {error}); "
        "this is a bug in criteria_lang",
    )


# --------------------------------------------------------------------------------------------
# NDJSON bulk export


def _ndjson_entries(
    files: Iterable[Path], summary: ReadSummary, failed: list[RecordError]
) -> Iterator[_Entry]:
    """One entry a non-blank line; a line that is not JSON is counted and reported."""
    for file in files:
        summary.files += 1
        try:
            handle = open_binary(file)
        except OSError as error:
            problem = Problem("$", f"the file cannot be read: {error.strerror or error}")
            failed.append(_file_error(summary, str(file), problem))
            continue
        with handle:
            lineno = 0
            try:
                for line in handle:
                    lineno += 1
                    entry = ndjson_line(file, lineno, line, summary, failed)
                    if entry is not None:
                        yield entry
            except OSError as error:
                problem = Problem("$", f"reading stopped at line {lineno + 1}: {error}")
                failed.append(_file_error(summary, str(file), problem))


def ndjson_line(
    file: Path, lineno: int, line: bytes, summary: ReadSummary, failed: list[RecordError]
) -> _Entry | None:
    """One line of an NDJSON file: its entry, or None when it is blank or is no resource at all
    (then counted and reported, or, when it was meant to be a Patient, an error in `failed`)."""
    text = line.strip()
    if lineno == 1:
        text = text.removeprefix(b"\xef\xbb\xbf")
    if not text:
        return None
    where = f"{file}:{lineno}"
    doc, bad = _parse_json(text)
    if bad is None and not _is_resource(doc):
        bad = Problem(
            "$",
            "expected a FHIR resource (a JSON object with a resourceType), got " + _describe(doc),
        )
    meant = _meant_type(file, text) if bad is not None else ""
    if meant == "Patient":
        # A patient whose line is broken is a patient that cannot be read: an error row, not a
        # line counted away.
        assert bad is not None
        summary.skipped[("Patient", NOT_READABLE)] += 1
        problem = Problem("$", f"a Patient that cannot be read: {bad.message}")
        failed.append(_file_error(summary, where, problem))
        return None
    if bad is not None and doc is None:
        summary.problems.append(ResourceProblem(where, bad))
        summary.skipped[(meant, NOT_READABLE)] += 1
        return None
    if bad is not None:
        return _Entry(doc, where, "$", bad="a FHIR resource (a JSON object)")
    return _Entry(doc, where, "$")


def owner_key(res: object) -> str | None:
    """The id of the Patient a resource belongs to, as `_Assembler` would find it: a Patient's
    own id; else the id its subject (or patient) reference names (`Patient/<id>`, `urn:uuid:<id>`
    or an URL ending in `Patient/<id>`). None when it names none (records/ndjson_export.py groups
    a large export by it)."""
    if not isinstance(res, dict):
        return None
    rtype = res.get("resourceType")
    if rtype == "Patient":
        rid = res.get("id")
        return rid if isinstance(rid, str) and rid else None
    ref = res.get(_SUBJECT_KEY.get(rtype, "subject")) if isinstance(rtype, str) else None
    if ref is None:
        ref = res.get("patient")
    target = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(target, str) or not target:
        return None
    if target.startswith("urn:uuid:"):
        return target[len("urn:uuid:") :]
    match = _PATIENT_REF.search(target)
    return match[1] if match is not None else None


def _is_resource(doc: object) -> bool:
    if not isinstance(doc, dict):
        return False
    rtype = doc.get("resourceType")
    return isinstance(rtype, str) and bool(rtype)


_NAMED_TYPE = re.compile(rb'"resourceType"\s*:\s*"([A-Za-z]{1,64})"')


def _meant_type(file: Path, line: bytes) -> str:
    """The resource type a line that is not JSON was meant to hold: the one it names, else the
    one its file is named after (a bulk export writes one type a file: Patient.ndjson,
    Patient.001.ndjson, 1.Patient.ndjson), else "(not JSON)"."""
    named = _NAMED_TYPE.search(line)
    if named is not None:
        return named[1].decode()
    words = re.split(r"[^A-Za-z]+", file.name)
    types = [w for w in words if w[:1].isupper() and w not in ("NDJSON", "JSON")]
    return types[0] if len(types) == 1 else "(not JSON)"


def read_ndjson(
    files: Iterable[str | Path],
    *,
    dates: Mapping[str, dt.date] | None = None,
    summary: ReadSummary | None = None,
    relevance: Relevance | None = None,
) -> Iterator[Patient | RecordError]:
    """Read the NDJSON files of one bulk export together (Patient.ndjson, Observation.ndjson,
    ...; one resource a line), joining resources to patients by their subject/patient reference
    (`Patient/<id>`, `urn:uuid:<id>` or an absolute URL ending in `Patient/<id>`).

    The whole export is held in memory while it is joined.
    """
    summary = summary if summary is not None else ReadSummary()
    paths = [Path(f) for f in files]
    source = str(paths[0].parent) if paths else "<ndjson>"
    failed: list[RecordError] = []
    try:
        scope = _Scope(source, summary, relevance=relevance)
        yield from _Assembler(scope, dates).run(_ndjson_entries(paths, summary, failed))
    except Exception as error:  # noqa: BLE001 - never raise for input
        yield _file_error(summary, source, _internal(error))
    # Files that could not be read, after the patients: they are only known once all is read.
    yield from failed


# --------------------------------------------------------------------------------------------
# Files and folders

_BUNDLE_SUFFIXES = frozenset({".json"})
_NDJSON_SUFFIXES = frozenset({".ndjson", ".jsonl"})


def read_fhir(
    path: str | Path,
    *,
    dates: Mapping[str, dt.date] | None = None,
    summary: ReadSummary | None = None,
    relevance: Relevance | None = None,
) -> Iterator[Patient | RecordError]:
    """Read every patient under `path`: a Bundle .json file, an .ndjson file (either may be
    gzip-compressed: .json.gz, .ndjson.gz), or a folder.

    In a folder (read recursively, in sorted order) each .json file is a bundle read on its own,
    and the .ndjson files of each folder are one bulk export, joined across files. Each FHIR
    Patient comes out as a `Patient` or, when its Patient resource cannot be read, a
    `RecordError`; a file that is not a bundle at all is one `RecordError`. `dates` (the trial's
    named dates) is given to every patient. Pass a `ReadSummary` to get the counts and the
    problems of resources that could not be read; nothing is raised for bad input. With a
    `relevance` (records/relevance.py), resources the rules cannot use are skipped unread.
    """
    summary = summary if summary is not None else ReadSummary()
    root = Path(path)
    try:
        is_dir = root.is_dir()
        exists = is_dir or root.exists()
    except OSError as error:
        yield _file_error(summary, str(root), Problem("$", f"cannot be read: {error}"))
        return
    if not exists:
        yield _file_error(summary, str(root), Problem("$", "no such file or directory"))
    elif is_dir:
        yield from _read_folder(root, dates, summary, relevance)
    elif data_suffix(root) in _NDJSON_SUFFIXES:
        yield from read_ndjson([root], dates=dates, summary=summary, relevance=relevance)
    else:
        yield from read_fhir_bundle_file(root, dates, summary, relevance)


def read_fhir_bundle_file(
    file: Path,
    dates: Mapping[str, dt.date] | None,
    summary: ReadSummary,
    relevance: Relevance | None = None,
) -> Iterator[Patient | RecordError]:
    """The patients of one bundle file (records.detect reads a mixed folder file by file)."""
    summary.files += 1
    try:
        raw = read_bytes(file)
    except OSError as error:
        reason = error.strerror or str(error)
        yield _file_error(summary, str(file), Problem("$", f"cannot be read: {reason}"))
        return
    try:
        yield from _read_bundle_records(raw, str(file), summary, dates, relevance)
    except Exception as error:  # noqa: BLE001 - never raise for input
        yield _file_error(summary, str(file), _internal(error))


def _read_folder(
    root: Path,
    dates: Mapping[str, dt.date] | None,
    summary: ReadSummary,
    relevance: Relevance | None,
) -> Iterator[Patient | RecordError]:
    errors: list[OSError] = []
    folders: list[tuple[Path, list[str]]] = []
    for folder, dirs, files in os.walk(root, onerror=errors.append):
        dirs.sort()
        folders.append((Path(folder), sorted(files)))
    for error in errors:
        where = str(error.filename or root)
        yield _file_error(summary, where, Problem("$", f"cannot be read: {error.strerror}"))
    for here, names in folders:
        for name in names:
            if data_suffix(name) in _BUNDLE_SUFFIXES:
                yield from read_fhir_bundle_file(here / name, dates, summary, relevance)
        ndjson = [here / n for n in names if data_suffix(n) in _NDJSON_SUFFIXES]
        if ndjson:
            yield from read_ndjson(ndjson, dates=dates, summary=summary, relevance=relevance)

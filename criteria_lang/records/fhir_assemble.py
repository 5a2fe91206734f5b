"""Assembling patients from the resources of one FHIR bundle or one NDJSON export: each
resource to its patient, read whole or counted with a reason (records/fhir.py reads the
files).

Moved out of fhir.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from criteria_lang.core.diagnostics import clip
from criteria_lang.records.fhir_elements import (
    _array,
    _check_order,
    _coding,
    _Ctx,
    _date,
    _describe,
    _extensions,
    _obj,
    _period,
    _Scope,
    _Skip,
    _text,
)
from criteria_lang.records.fhir_resources import _READERS, _SUBJECT_KEY
from criteria_lang.records.fhir_summary import (
    _PATIENT_REF,
    _TYPED_REF,
    COVERAGE_EXTENSION,
    DUPLICATE,
    GENDERS,
    ID_SYSTEM,
    IGNORED,
    NO_RESOURCE,
    NOT_READABLE,
    PATIENT_NOT_READABLE,
    ResourceProblem,
)
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.relevance import SKIPPED, Relevance
from criteria_lang.records.timeline import (
    Code,
    Condition,
    Event,
    Interval,
    MedicationExposure,
    Patient,
)

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
    died = res.get("deceasedDateTime")
    if died is not None:
        day = _date(ctx, died, ".deceasedDateTime")
        if day is not None:
            build.events.append(_death(rid, day))
    if ctx.problems:
        build.error = RecordError(source, tuple(ctx.problems))
    return build


# SNOMED CT 419620001 "Death (event)", the code of OMOP's standard Death concept (4306655): the
# OMOP reader reads a death row as a condition with it, and so does this reader a Patient's
# deceasedDateTime (stdlib `conditions.death`). deceasedBoolean gives no date and is not read.
_DEATH = Code("snomed", "419620001", "Death")


def _death(rid: str, day: dt.date) -> Condition:
    event_id = f"Patient/{rid}/deceased"
    return Condition(
        id=event_id, kind="condition", codes=(_DEATH,), start=day, end=None, source=event_id
    )


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
                yield build.order, _finish(build, self.dates, self.scope.standing_orders)

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
            if rtype == "Condition":  # a reason other resources may refer to
                for key in (entry.full_url, f"Condition/{rid}", f"urn:uuid:{rid}"):
                    if key is not None:
                        self.scope.conditions.setdefault(key, res)
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


def _renewed(events: list[Event], standing: set[str]) -> list[Event]:
    """Standing orders (a MedicationRequest with a repeating dosage and no end) that the same
    drug's next order renews last until the day before that order: a chronic drug ordered again
    every year is taken all year, not one day a year (Synthea writes such renewals). The last
    order of a series, with no renewal, keeps the missing-end rule (one day; ongoing if active).
    """
    if not standing:
        return events
    later: dict[tuple[tuple[str, str], ...], list[MedicationExposure]] = {}
    for event in events:
        if isinstance(event, MedicationExposure) and event.id.startswith("MedicationRequest/"):
            key = tuple(sorted((c.system, c.code) for c in event.codes))
            later.setdefault(key, []).append(event)
    renewals: dict[str, dt.date] = {}
    for orders in later.values():
        orders.sort(key=lambda e: e.start)
        for order, renewal in zip(orders, orders[1:], strict=False):
            if order.id in standing and renewal.start > order.start:
                renewals[order.id] = renewal.start - dt.timedelta(days=1)
    if not renewals:
        return events
    return [attrs.evolve(e, end=renewals[e.id]) if e.id in renewals else e for e in events]


def _finish(
    build: _PatientBuild, dates: Mapping[str, dt.date], standing: set[str] | None = None
) -> Patient:
    events = tuple(_renewed(build.events, standing or set()))
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

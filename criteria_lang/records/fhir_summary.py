"""What the FHIR reader names and counts (docs/fhir.md): the extension URLs and code systems
of our own FHIR profile, the reasons a resource is not read, and `ReadSummary`, the count of
every resource read or skipped.

Moved out of fhir.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

import attrs

from criteria_lang.core.codes import FHIR_BASE, SYSTEM_OF_URI
from criteria_lang.core.dates import DAYS_PER_MONTH, DAYS_PER_UNIT
from criteria_lang.records.patient_json import Problem

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

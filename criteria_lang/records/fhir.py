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

import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from criteria_lang.core.codes import CONCEPT_SYSTEM, FHIR_BASE, LOCAL_SYSTEM
from criteria_lang.records.fhir_assemble import _Assembler as _Assembler
from criteria_lang.records.fhir_assemble import _Entry as _Entry
from criteria_lang.records.fhir_assemble import wanted as wanted
from criteria_lang.records.fhir_elements import _describe
from criteria_lang.records.fhir_elements import _Scope as _Scope
from criteria_lang.records.fhir_elements import rxnorm_strength_mg as rxnorm_strength_mg
from criteria_lang.records.fhir_resources import _SUBJECT_KEY
from criteria_lang.records.fhir_summary import _DAYS_PER_UNIT as _DAYS_PER_UNIT
from criteria_lang.records.fhir_summary import _PATIENT_REF, NO_RESOURCE, PATIENT_NOT_READABLE
from criteria_lang.records.fhir_summary import _TIMING_CODES as _TIMING_CODES
from criteria_lang.records.fhir_summary import ATTRIBUTE_EXTENSION as ATTRIBUTE_EXTENSION
from criteria_lang.records.fhir_summary import CATEGORY_SYSTEM as CATEGORY_SYSTEM
from criteria_lang.records.fhir_summary import COVERAGE_EXTENSION as COVERAGE_EXTENSION
from criteria_lang.records.fhir_summary import (
    DETECTION_LIMIT_EXTENSION as DETECTION_LIMIT_EXTENSION,
)
from criteria_lang.records.fhir_summary import DOSE_AS_RECORDED as DOSE_AS_RECORDED
from criteria_lang.records.fhir_summary import DUPLICATE as DUPLICATE
from criteria_lang.records.fhir_summary import FACT_CATEGORY as FACT_CATEGORY
from criteria_lang.records.fhir_summary import ID_SYSTEM as ID_SYSTEM
from criteria_lang.records.fhir_summary import IGNORED as IGNORED
from criteria_lang.records.fhir_summary import NOT_READABLE as NOT_READABLE
from criteria_lang.records.fhir_summary import STATUS_EXTENSION as STATUS_EXTENSION
from criteria_lang.records.fhir_summary import SYSTEMS as SYSTEMS
from criteria_lang.records.fhir_summary import TAG_SYSTEM as TAG_SYSTEM
from criteria_lang.records.fhir_summary import UCUM as UCUM
from criteria_lang.records.fhir_summary import ReadSummary as ReadSummary
from criteria_lang.records.fhir_summary import ResourceProblem as ResourceProblem
from criteria_lang.records.files import data_suffix, open_binary, read_bytes
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.relevance import Relevance
from criteria_lang.records.timeline import (
    Patient,
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

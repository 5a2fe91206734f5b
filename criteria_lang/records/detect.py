"""Which reader reads a file: our patient format or FHIR R4, decided file by file.

A folder may hold both (an export next to hand-written records). Each file is sniffed on its
own, so a folder whose first file is of one format does not make the rest be read in it. FHIR
NDJSON files of one folder are one bulk export and are joined together (records.fhir).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from criteria_lang.records.fhir import (
    ReadSummary,
    read_fhir,
    read_fhir_bundle_file,
    read_ndjson,
)
from criteria_lang.records.files import data_suffix, open_binary
from criteria_lang.records.patient_json import (
    Problem,
    RecordError,
    read_patient_file,
    read_patients,
)
from criteria_lang.records.relevance import Relevance
from criteria_lang.records.timeline import Patient

SUFFIXES = frozenset({".json", ".jsonl", ".ndjson"})
_LINE_SUFFIXES = frozenset({".jsonl", ".ndjson"})
# Enough of a file to find `"resourceType"`, which FHIR writes first or nearly so.
_SNIFF_BYTES = 4096


def is_fhir_file(file: Path) -> bool:
    """FHIR when the start of the file (decompressed) names a `resourceType` (no file of our
    format does)."""
    try:
        with open_binary(file) as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, ValueError):  # ValueError: a NUL character in the path
        return False
    return b'"resourceType"' in head


def _data_files(root: Path, errors: list[OSError]) -> list[Path]:
    """The data files under `root`, recursively, in the order records.patient_json reads a
    folder (sorted by their path inside it)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, onerror=errors.append):
        dirs.sort()
        found.extend(Path(folder, n) for n in files if data_suffix(n) in SUFFIXES)
    return sorted(found, key=lambda file: file.relative_to(root).parts)


def any_fhir(path: Path) -> bool:
    """Does `path` (a file, or any data file under a folder) hold FHIR?"""
    if not path.is_dir():
        return is_fhir_file(path)
    return any(is_fhir_file(file) for file in _data_files(path, []))


# What a folder holds, file by file, in reading order: a file of our format, a FHIR bundle
# file, or the FHIR NDJSON files of one folder (one bulk export, where its first file comes).
Item = (
    tuple[Literal["patient"], Path]
    | tuple[Literal["bundle"], Path]
    | tuple[Literal["export"], tuple[Path, ...]]
)


def plan_folder(root: Path, errors: list[OSError]) -> list[Item]:
    """The data files under `root`, each with the reader its content calls for, in the order
    records.patient_json reads a folder (the batch planner cuts the same plan into units)."""
    files = _data_files(root, errors)
    kinds = {file: is_fhir_file(file) for file in files}
    exports: dict[Path, list[Path]] = {}
    for file, fhir in kinds.items():
        if fhir and data_suffix(file) in _LINE_SUFFIXES:
            exports.setdefault(file.parent, []).append(file)
    items: list[Item] = []
    for file, fhir in kinds.items():
        if not fhir:
            items.append(("patient", file))
        elif data_suffix(file) not in _LINE_SUFFIXES:
            items.append(("bundle", file))
        elif file == exports[file.parent][0]:
            items.append(("export", tuple(exports[file.parent])))
    return items


def read_any(
    path: Path,
    dates: Mapping[str, dt.date],
    summary: ReadSummary | None,
    relevance: Relevance | None = None,
) -> Iterator[Patient | RecordError]:
    """Every record under `path`, each file read by the reader its content calls for. FHIR
    patients get `dates`; `summary` collects what the FHIR reader did; `relevance`: FHIR
    resources the rules cannot use are skipped (records/relevance.py). Nothing is raised."""
    summary = summary if summary is not None else ReadSummary()
    if not path.is_dir():
        if is_fhir_file(path):
            yield from read_fhir(path, dates=dates, summary=summary, relevance=relevance)
        else:
            yield from read_patients(path)
        return
    errors: list[OSError] = []
    items = plan_folder(path, errors)
    for error in errors:
        where = str(error.filename or path)
        reason = error.strerror or str(error)
        yield RecordError(where, (Problem("$", f"The directory cannot be read: {reason}."),))
    for kind, what in items:
        if kind == "patient":
            assert isinstance(what, Path)
            yield from read_patient_file(what)
        elif kind == "bundle":
            assert isinstance(what, Path)
            yield from read_fhir_bundle_file(what, dates, summary, relevance)
        else:
            assert isinstance(what, tuple)
            yield from read_ndjson(what, dates=dates, summary=summary, relevance=relevance)

"""The input of a screening run cut into units of work, in the order the readers read it.

A unit is what one worker reads and evaluates at a time: a file (a patient .json file, a FHIR
bundle), a run of lines of a JSON Lines file (about `CHUNK_BYTES`, cut at a line end), or a FHIR
NDJSON bulk export. The units come in the order in which the sequential readers of
criteria_lang.records would read the same input, and reading a unit with `read_unit` yields
exactly the records that reader would yield for that part of it, so the rows of all units, in
unit order, are the rows of the sequential run. The cut depends only on the input, never on the
number of workers: the output is the same whatever `--jobs` is.

Input the planner does not cut (a path that does not exist, a folder with an unreadable part)
is one `whole` unit: the sequential reader over the whole path, so that its errors are exactly
the sequential reader's.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Literal, Protocol

import attrs
import orjson

from criteria_lang.records.fhir import ReadSummary, read_fhir
from criteria_lang.records.files import data_suffix, open_binary
from criteria_lang.records.patient_json import (
    RecordError,
    iter_patients_from_lines,
    read_patients,
)
from criteria_lang.records.relevance import Relevance
from criteria_lang.records.timeline import Patient

UnitKind = Literal["patient-file", "patient-lines", "fhir-file", "fhir-export", "whole"]
CHUNK_BYTES = 1 << 20
STDIN = "<stdin>"
_LINE_SUFFIXES = frozenset({".jsonl", ".ndjson"})
_DATA_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson"})


@attrs.frozen
class Unit:
    """One unit of work. `size` is its share of the input in bytes (for progress)."""

    kind: UnitKind
    source: str  # the file (or `<stdin>`) the unit comes from
    size: int = 0
    paths: tuple[str, ...] = ()
    # for `whole`: read the path as FHIR; None: each file in the format its content calls for
    fhir: bool | None = False
    first_line: int = 1  # patient-lines: the line number of the first line of `data`
    data: bytes = attrs.field(default=b"", repr=False)

    def lines(self) -> list[bytes]:
        """patient-lines: the lines of `data`, as iterating over the file would give them."""
        lines = self.data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        return lines

    def encode(self) -> bytes:
        header = orjson.dumps(
            {
                "kind": self.kind,
                "source": self.source,
                "size": self.size,
                "paths": self.paths,
                "fhir": self.fhir,
                "first_line": self.first_line,
            }
        )
        return len(header).to_bytes(4, "big") + header + self.data

    @staticmethod
    def decode(payload: bytes) -> Unit:
        length = int.from_bytes(payload[:4], "big")
        doc = orjson.loads(payload[4 : 4 + length])
        return Unit(
            kind=doc["kind"],
            source=doc["source"],
            size=doc["size"],
            paths=tuple(doc["paths"]),
            fhir=doc["fhir"],
            first_line=doc["first_line"],
            data=payload[4 + length :],
        )


# ---------------------------------------------------------------------------- reading a unit


def read_unit(
    unit: Unit,
    dates: Mapping[str, dt.date],
    summary: ReadSummary,
    relevance: Relevance | None = None,
) -> Iterator[Patient | RecordError]:
    """The records of one unit, as the sequential reader yields them for that part of the
    input. FHIR patients get `dates`; `summary` collects what the FHIR reader did; FHIR
    resources `relevance` does not want are skipped."""
    if unit.kind == "patient-lines":
        yield from iter_patients_from_lines(unit.lines(), unit.source, first_line=unit.first_line)
    elif unit.kind == "patient-file":
        yield from read_patients(unit.source)
    elif unit.kind == "fhir-file":
        yield from read_fhir(unit.source, dates=dates, summary=summary, relevance=relevance)
    elif unit.kind == "fhir-export":
        from criteria_lang.records.fhir import read_ndjson

        yield from read_ndjson(unit.paths, dates=dates, summary=summary, relevance=relevance)
    else:
        if unit.fhir is None:
            from criteria_lang.records.detect import read_any

            yield from read_any(Path(unit.source), dates, summary, relevance)
        elif unit.fhir:
            yield from read_fhir(unit.source, dates=dates, summary=summary, relevance=relevance)
        else:
            yield from read_patients(unit.source)


# ---------------------------------------------------------------------------- planning


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def line_chunks(handle: Readable, source: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Unit]:
    """A JSON Lines stream as `patient-lines` units of about `chunk_bytes`, cut after a line
    end (a longer line is one unit of its own)."""
    first_line = 1
    carry = b""
    while True:
        block = handle.read(chunk_bytes)
        if not block:
            break
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        chunk, carry = data[: cut + 1], data[cut + 1 :]
        yield Unit("patient-lines", source, len(chunk), first_line=first_line, data=chunk)
        first_line += chunk.count(b"\n")
    if carry:
        yield Unit("patient-lines", source, len(carry), first_line=first_line, data=carry)


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _patient_file_units(file: Path, chunk_bytes: int) -> Iterator[Unit]:
    if data_suffix(file) not in _LINE_SUFFIXES:
        yield Unit("patient-file", str(file), _size(file))
        return
    try:
        handle = open_binary(file)
    except OSError:
        yield Unit("patient-file", str(file), 0)  # the reader reports it
        return
    with handle:
        try:
            yield from line_chunks(handle, str(file), chunk_bytes)
        except OSError:  # reading stopped: the sequential reader says where
            yield Unit("whole", str(file), 0)


def _walk(root: Path) -> tuple[list[tuple[Path, list[str]]], bool]:
    """The folders under root (sorted walk) with their sorted file names; and whether any part
    of it could not be read."""
    failed: list[OSError] = []
    folders: list[tuple[Path, list[str]]] = []
    for folder, dirs, files in os.walk(root, onerror=failed.append):
        dirs.sort()
        folders.append((Path(folder), sorted(files)))
    return folders, bool(failed)


def _patient_units(root: Path, chunk_bytes: int) -> Iterator[Unit]:
    folders, failed = _walk(root)
    if failed:
        yield Unit("whole", str(root), _tree_size(folders))
        return
    found = [
        folder / name
        for folder, names in folders
        for name in names
        if data_suffix(name) in _DATA_SUFFIXES
    ]
    found.sort(key=lambda file: file.relative_to(root).parts)
    for file in found:
        yield from _patient_file_units(file, chunk_bytes)


def _fhir_units(root: Path) -> Iterator[Unit]:
    folders, failed = _walk(root)
    if failed:
        yield Unit("whole", str(root), _tree_size(folders), fhir=True)
        return
    for folder, names in folders:
        for name in names:
            if data_suffix(name) == ".json":
                yield Unit("fhir-file", str(folder / name), _size(folder / name))
        export = [folder / n for n in names if data_suffix(n) in _LINE_SUFFIXES]
        if export:
            size = sum(_size(f) for f in export)
            yield Unit("fhir-export", str(folder), size, paths=tuple(str(f) for f in export))


def _mixed_units(root: Path, chunk_bytes: int) -> Iterator[Unit]:
    """A folder whose files are read each in the format its content calls for (records.detect),
    in the same order as records.detect.read_any."""
    from criteria_lang.records.detect import plan_folder

    errors: list[OSError] = []
    items = plan_folder(root, errors)
    if errors:
        yield Unit("whole", str(root), _tree_size(_walk(root)[0]), fhir=None)
        return
    for kind, what in items:
        if kind == "patient":
            assert isinstance(what, Path)
            yield from _patient_file_units(what, chunk_bytes)
        elif kind == "bundle":
            assert isinstance(what, Path)
            yield Unit("fhir-file", str(what), _size(what))
        else:
            assert isinstance(what, tuple)
            size = sum(_size(f) for f in what)
            yield Unit("fhir-export", str(what[0].parent), size, paths=tuple(map(str, what)))


def _tree_size(folders: Iterable[tuple[Path, list[str]]]) -> int:
    return sum(
        _size(folder / name)
        for folder, names in folders
        for name in names
        if data_suffix(name) in _DATA_SUFFIXES
    )


def plan_units(
    path: Path,
    fhir: bool | None,
    *,
    stdin: IO[bytes] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[Unit]:
    """The units of the input at `path` (`-`: `stdin`, our JSON Lines), in reading order; `fhir`:
    the input is FHIR (as the caller found it to be), or None: each file is read in the format
    its content calls for (records.detect)."""
    if str(path) == "-":
        if stdin is not None:
            yield from line_chunks(stdin, STDIN, chunk_bytes)
        return
    try:
        is_dir = path.is_dir()
        is_file = not is_dir and path.is_file()
    except (OSError, ValueError):
        is_dir = is_file = False
    if fhir is None and is_file:
        from criteria_lang.records.detect import is_fhir_file

        fhir = is_fhir_file(path)
    if not (is_dir or is_file):
        yield Unit("whole", str(path), 0, fhir=fhir)
    elif fhir is None:
        yield from _mixed_units(path, chunk_bytes)
    elif is_file and fhir:
        if data_suffix(path) in _LINE_SUFFIXES:
            yield Unit("fhir-export", str(path), _size(path), paths=(str(path),))
        else:
            yield Unit("fhir-file", str(path), _size(path))
    elif is_file:
        yield from _patient_file_units(path, chunk_bytes)
    elif fhir:
        yield from _fhir_units(path)
    else:
        yield from _patient_units(path, chunk_bytes)


def input_size(path: Path) -> int | None:
    """The bytes of data under `path` (None for standard input): the total for progress."""
    if str(path) == "-":
        return None
    if path.is_dir():
        folders, _ = _walk(path)
        return _tree_size(folders)
    return _size(path)

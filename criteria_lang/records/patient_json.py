"""Read and write our patient timeline JSON format (docs/patient-format.md).

`load_patient` checks and converts a document in one pass. It does not stop at the first mistake:
every problem is collected with its JSON path and raised together in one `PatientDataError`,
so a data manager fixes a file in one round. Nothing else is ever raised, whatever the input.

The checks are written by hand rather than run through `jsonschema`: screening has to read
more than a thousand 300-event patients a second on one core, and a generic validator followed
by a separate conversion would walk every document twice. `schema/patient.schema.json` describes
the same format for other tools; `tests/test_load.py` checks that the two agree.

`read_patients` reads files and directories of patients for batch screening; a bad record comes
out as a `RecordError` instead of stopping the batch. `dump_patient` writes a `Patient` back into
this format, exactly: `load_patient(dump_patient(p)) == p`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from criteria_lang.records.files import data_suffix, open_binary, read_bytes
from criteria_lang.records.patient_json_events import _Reader
from criteria_lang.records.patient_json_values import DATE_PATTERN as DATE_PATTERN
from criteria_lang.records.patient_json_values import FORMAT as FORMAT
from criteria_lang.records.patient_json_values import FREQUENCY_UNITS as FREQUENCY_UNITS
from criteria_lang.records.patient_json_values import _trim_memo
from criteria_lang.records.patient_json_write import _dump_number as _dump_number
from criteria_lang.records.patient_json_write import dump_patient as dump_patient
from criteria_lang.records.problems import PatientDataError as PatientDataError
from criteria_lang.records.problems import Problem as Problem
from criteria_lang.records.problems import RecordError as RecordError
from criteria_lang.records.problems import _describe
from criteria_lang.records.timeline import (
    Patient,
)

__all__ = [
    "FORMAT",
    "PatientDataError",
    "Problem",
    "RecordError",
    "dump_patient",
    "iter_patients_from_lines",
    "load_patient",
    "read_patients",
]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_text(data: str | bytes | bytearray | memoryview) -> tuple[Any, Problem | None]:
    try:
        return orjson.loads(data), None
    except (orjson.JSONDecodeError, ValueError, TypeError, RecursionError) as exc:
        return None, Problem("$", f"The text is not valid JSON ({exc}); expected one JSON object.")


def _exact_reparse(data: str | bytes | bytearray | memoryview) -> Any:
    """Parse again with the standard library, which keeps integers beyond 64 bits exact."""
    try:
        return json.loads(
            bytes(data) if isinstance(data, bytearray | memoryview) else data,
            parse_constant=_reject_constant,
        )
    except (ValueError, TypeError, RecursionError):
        return None


def _convert(doc: Any, source: str | None, exact: Callable[[], Any] | None) -> Patient:
    _trim_memo()
    reader = _Reader()
    patient = reader.patient(doc, source)
    if reader.saw_big_float and exact is not None:
        # orjson reads an integer beyond 64 bits as a float, which is not exact. That is rare, so
        # only then pay for a second, exact parse of the text.
        again = exact()
        if again is not None:
            reader = _Reader()
            patient = reader.patient(again, source)
    if patient is None:
        raise PatientDataError(reader.problems, source)
    return patient


def load_patient(data: Any, *, source: str | None = None) -> Patient:
    """Read one patient from a parsed document (a dict) or from JSON text (str or bytes).

    Raises PatientDataError, listing every problem found with its JSON path, and nothing else.
    """
    if isinstance(data, str | bytes | bytearray | memoryview):
        text = data
        doc, bad = _parse_text(text)
        if bad is not None:
            raise PatientDataError((bad,), source)
        return _convert(doc, source, lambda: _exact_reparse(text))
    return _convert(data, source, None)


# --------------------------------------------------------------------------------------------
# Batch reading

_BOM = b"\xef\xbb\xbf"
_JSON_SUFFIXES = frozenset({".json"})
_LINE_SUFFIXES = frozenset({".jsonl", ".ndjson"})


def _record(doc: Any, source: str, exact: Callable[[], Any] | None = None) -> Patient | RecordError:
    try:
        return _convert(doc, source, exact)
    except PatientDataError as exc:
        return RecordError(source, exc.problems)
    except Exception as exc:  # noqa: BLE001 - a batch must account for every record
        return RecordError(source, (_internal(exc),))


def _internal(exc: BaseException) -> Problem:
    return Problem(
        "$",
        f"The record could not be read because of an internal error ({type(exc).__name__}: "
        f"{exc}); this is a bug in criteria_lang, please report it.",
    )


def _unreadable(source: str, exc: BaseException, what: str = "file") -> RecordError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return RecordError(source, (Problem("$", f"The {what} cannot be read: {reason}."),))


def iter_patients_from_lines(
    lines: Iterable[bytes | str], source: str, *, first_line: int = 1
) -> Iterator[Patient | RecordError]:
    """Read JSON Lines: one patient object a line, blank lines skipped (e.g. from stdin).

    Each record's source is `source:line`, counting from `first_line` (a part of a file read on
    its own: criteria_lang.batch). A line that cannot be read becomes a RecordError.
    """
    lineno = first_line - 1
    iterator: Iterator[bytes | str] | None = None
    while True:
        try:
            if iterator is None:
                iterator = iter(lines)
            line = next(iterator)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - e.g. an I/O or decoding error mid-stream
            yield _unreadable(f"{source}:{lineno + 1}", exc, "line")
            return
        lineno += 1
        where = f"{source}:{lineno}"
        if isinstance(line, bytes | bytearray | memoryview):
            text: str | bytes = bytes(line).strip()
            if lineno == 1:
                text = text.removeprefix(_BOM)  # type: ignore[arg-type]
        elif isinstance(line, str):
            text = line.strip()
            if lineno == 1:
                text = text.removeprefix("\ufeff")
        else:
            problem = Problem("$", f"Expected a line of text, got {_describe(line)}.")
            yield RecordError(where, (problem,))
            continue
        if not text:
            continue
        doc, bad = _parse_text(text)
        if bad is not None:
            yield RecordError(where, (bad,))
        else:
            yield _record(doc, where, lambda text=text: _exact_reparse(text))  # type: ignore[misc]


def _read_json_file(file: Path) -> Iterator[Patient | RecordError]:
    source = str(file)
    try:
        raw = read_bytes(file).removeprefix(_BOM)
    except OSError as exc:
        yield _unreadable(source, exc)
        return
    doc, bad = _parse_text(raw)
    if bad is not None:
        yield RecordError(source, (bad,))
        return
    if not isinstance(doc, list):
        yield _record(doc, source, lambda: _exact_reparse(raw))
        return
    exact_doc: list[Any] = []

    def exact_item(index: int) -> Any:
        if not exact_doc:
            exact_doc.append(_exact_reparse(raw))
        whole = exact_doc[0]
        return whole[index] if isinstance(whole, list) and index < len(whole) else None

    for index, item in enumerate(doc):
        yield _record(item, f"{source}[{index}]", lambda index=index: exact_item(index))  # type: ignore[misc]


def _read_lines_file(file: Path) -> Iterator[Patient | RecordError]:
    try:
        handle = open_binary(file)
    except OSError as exc:
        yield _unreadable(str(file), exc)
        return
    with handle:
        yield from iter_patients_from_lines(handle, str(file))


def read_patient_file(file: Path) -> Iterator[Patient | RecordError]:
    """The records of one file of our format, by its suffix (.json, or .jsonl/.ndjson, each
    perhaps gzipped)."""
    suffix = data_suffix(file)
    if suffix in _LINE_SUFFIXES:
        yield from _read_lines_file(file)
    elif suffix in _JSON_SUFFIXES:
        yield from _read_json_file(file)
    else:
        problem = Problem(
            "$",
            f'Cannot tell the format of "{file.name}"; expected a .json, .jsonl or .ndjson file '
            "(or one of them compressed: .json.gz, ...) or a directory of them.",
        )
        yield RecordError(str(file), (problem,))


def read_patients(path: str | Path) -> Iterator[Patient | RecordError]:
    """Read every patient record under `path`, in order; each is a Patient or a RecordError.

    `path` is a .json file (one patient object or an array of them; sources `file` and
    `file[i]`), a .jsonl/.ndjson file (one patient a line; source `file:line`), either of them
    gzip-compressed (`.json.gz`, `.jsonl.gz`, `.ndjson.gz`), or a directory, read recursively:
    its files of those kinds in sorted order. No record is lost
    and nothing is raised: an unreadable file or directory is one RecordError.
    """
    try:
        yield from _read_path(Path(path))
    except Exception as exc:  # noqa: BLE001 - a bug, not bad data; still account for it
        yield RecordError(str(path), (_internal(exc),))


def _read_path(root: Path) -> Iterator[Patient | RecordError]:
    try:
        is_dir = root.is_dir()
        exists = is_dir or root.exists()
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        yield _unreadable(str(root), exc)
        return
    if not exists:
        yield RecordError(str(root), (Problem("$", "No such file or directory."),))
    elif not is_dir:
        yield from read_patient_file(root)
    else:
        yield from _read_directory(root)


def _read_directory(root: Path) -> Iterator[Patient | RecordError]:
    found: list[tuple[tuple[str, ...], Path, OSError | None]] = []

    def failed(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        found.append((where.relative_to(root).parts if where != root else (), where, exc))

    for folder, dirs, files in os.walk(root, onerror=failed):
        dirs.sort()
        for name in files:
            if data_suffix(name) in _JSON_SUFFIXES | _LINE_SUFFIXES:
                file = Path(folder, name)
                found.append((file.relative_to(root).parts, file, None))
    found.sort(key=lambda entry: entry[0])
    for _, file, error in found:
        if error is not None:
            yield _unreadable(str(file), error, "directory")
        else:
            yield from read_patient_file(file)

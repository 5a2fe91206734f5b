"""The files a command is given: checked before any work, and the output written safely.

Every mistake here is a usage error (exit 2) with one clear line on stderr, never a traceback:
a path that does not exist, an output file that is one of the inputs (or would be read as one),
an output folder that does not exist. The output is written to a temporary file beside the
target and moved over it only when the run finishes, so a run that fails leaves the previous
output as it was, never a truncated file. The records of each input are counted: an input with
no record at all is an input error, and a patient id seen twice in one input is reported.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from criteria_lang.batch.screen import ReadRecord
    from criteria_lang.records.patient_json import RecordError
    from criteria_lang.records.timeline import Patient

__all__ = ["OutputFile", "RecordCount", "UsageError", "check_output", "require_paths"]

RULE_SUFFIX = ".crit"
DATA_SUFFIXES = (".json", ".jsonl", ".ndjson")
MAX_LISTED = 10  # duplicate ids named one by one; the rest are counted


class UsageError(Exception):
    """A mistake in what the command was given; the message is for the user."""


def require_paths(paths: Iterable[Path]) -> None:
    """Each path exists (`-`, standard input, always does)."""
    missing = [p for p in paths if str(p) != "-" and not p.exists()]
    if missing:
        raise UsageError("; ".join(f"no such file or folder: {p}" for p in missing))


def _is_read_as_input(output: Path, source: Path, suffixes: Sequence[str]) -> bool:
    """Whether `output` is `source`, or a file under the folder `source` that a reader of it
    would take as input."""
    if output == source or (output.is_file() and source.is_file() and output.samefile(source)):
        return True
    if not source.is_dir() or not output.is_relative_to(source):
        return False
    from criteria_lang.records.files import data_suffix

    return data_suffix(output) in suffixes


def check_output(output: Path, rules: Path, inputs: Iterable[Path]) -> None:
    """`output` can be written and is none of the inputs (the rule file or folder, the data)."""
    target = output.resolve()
    if target.is_dir():
        raise UsageError(f"-o {output}: is a folder; name a file")
    if not target.parent.is_dir():
        raise UsageError(f"-o {output}: the folder {output.parent} does not exist")
    sources: list[tuple[Path, tuple[str, ...]]] = [(rules.resolve(), (RULE_SUFFIX,))]
    sources += [(p.resolve(), DATA_SUFFIXES) for p in inputs if str(p) != "-"]
    for source, suffixes in sources:
        if _is_read_as_input(target, source, suffixes):
            raise UsageError(
                f"-o {output}: is an input of this run ({source}), or would be read as one: "
                "name a file outside the inputs"
            )


class OutputFile:
    """A text file written in full or not at all: a temporary file in the target's folder,
    moved over the target by `commit()`; closed without `commit()`, it is removed.

    A target that exists and is not a regular file (`/dev/null`, a FIFO, a terminal) is written
    directly: moving a file over it would replace the device itself (as root, `-o /dev/null`
    once left /dev/null a regular file that other users could not open)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._temporary: Path | None = None
        if path.exists() and not path.is_file():
            try:
                self.handle: IO[str] = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            except OSError as error:
                raise UsageError(f"-o {path}: cannot write there: {error.strerror}") from error
            return
        try:
            descriptor, name = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
            )
        except OSError as error:
            raise UsageError(f"-o {path}: cannot write there: {error.strerror}") from error
        self._temporary = Path(name)
        self.handle = open(descriptor, "w", encoding="utf-8", newline="")  # noqa: SIM115

    def commit(self) -> None:
        self.handle.close()
        if self._temporary is not None:
            os.replace(self._temporary, self.path)

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.handle.closed:
            self.handle.close()
        if self._temporary is not None and self._temporary.exists():
            self._temporary.unlink()


class RecordCount:
    """Counts the records of one input as they pass, and the patient ids seen more than once."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.records = 0
        self._ids: Counter[str] = Counter()
        self._where: defaultdict[str, list[str]] = defaultdict(list)

    def watch(self, records: Iterable[Patient | RecordError]) -> Iterator[Patient | RecordError]:
        from criteria_lang.records.timeline import Patient

        for record in records:
            if isinstance(record, Patient):
                self.add(record.id, record.source)
            else:
                self.add(None, None)
            yield record

    def add(self, patient: str | None, source: str | None) -> None:
        """One record: a patient's id and source, or None for a record that was not read."""
        self.records += 1
        if patient is not None:
            self._ids[patient] += 1
            if len(self._where[patient]) < 3:
                self._where[patient].append(source or "?")

    def note(self, record: ReadRecord) -> None:
        """One record read by criteria_lang.batch (screen)."""
        self.add(record.patient, record.source)

    @property
    def duplicates(self) -> dict[str, int]:
        return {ident: count for ident, count in self._ids.items() if count > 1}

    def problems(self) -> list[str]:
        """What is wrong with this input as a whole (each a line for stderr)."""
        if self.records == 0:
            where = "standard input" if str(self.source) == "-" else str(self.source)
            return [
                f"{where}: no patient records (a .json, .jsonl or .ndjson file, compressed or "
                "not, FHIR bundles or NDJSON, or a folder of them)"
            ]
        lines = []
        duplicates = sorted(self.duplicates.items())
        for ident, count in duplicates[:MAX_LISTED]:
            sources = ", ".join(self._where[ident]) + (", ..." if count > 3 else "")
            lines.append(
                f"{self.source}: patient id '{ident}' appears {count} times ({sources}); "
                "each is screened, but results by id are ambiguous"
            )
        if len(duplicates) > MAX_LISTED:
            lines.append(f"{self.source}: ... and {len(duplicates) - MAX_LISTED} more ids")
        return lines


def fail(command: str, error: UsageError) -> int:
    print(f"criteria {command}: {error}", file=sys.stderr)
    return 2

"""Screening an input on every core: the rows of `Rules.screen`, in the same order, from
worker processes.

    run = ScreenRun(rules, dates=dates, needed=("screening",), jobs=None)
    for item in run.rows(Path("export/"), fhir=True):
        item.row           # PatientResult | RecordError, in input order
        item.line          # its JSON Lines text, when a worker made it (else None)
        item.record        # what was read: the patient's id, source and the dates it lacks
    run.summary            # what the FHIR reader did, over all units (ReadSummary)

The input is cut into units (criteria_lang.batch.units); each unit is read and evaluated in a
worker (criteria_lang.batch.pool), or in this process with `jobs=1`. Units and their rows come
back in input order, so the rows are those of the sequential run, whatever `jobs` is; every
record comes out as a result or an error, also when a worker dies (each record of its unit is
then an error row saying so).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import orjson

from criteria_lang.api import Rules
from criteria_lang.batch import wire
from criteria_lang.batch.pool import Failure, OrderedPool, available_cores, can_fork
from criteria_lang.batch.units import CHUNK_BYTES, Unit, input_size, plan_units, read_unit
from criteria_lang.records.fhir import ReadSummary
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.timeline import Patient

Row = wire.Row
# Inputs smaller than this are screened in this process unless --jobs asks otherwise: starting
# workers would cost more than it saves.
SMALL_INPUT = 2 << 20


@attrs.frozen
class ReadRecord:
    """What was read for a row: a patient (its id, source and the needed trial dates it lacks),
    or, when all three are None, a record that could not be read."""

    patient: str | None = None
    source: str | None = None
    lacking: tuple[str, ...] | None = None

    @staticmethod
    def of(record: Patient | RecordError, needed: Sequence[str]) -> ReadRecord:
        if isinstance(record, RecordError):
            return NOT_A_PATIENT
        lacking = tuple(n for n in needed if n not in record.dates)
        return ReadRecord(record.id, record.source, lacking)

    def to_json(self) -> list[Any] | None:
        return None if self.patient is None else [self.patient, self.source, self.lacking]

    @staticmethod
    def from_json(doc: list[Any] | None) -> ReadRecord:
        if doc is None:
            return NOT_A_PATIENT
        return ReadRecord(doc[0], doc[1], tuple(doc[2]))


NOT_A_PATIENT = ReadRecord()


@attrs.frozen
class Screened:
    """One output row, with what the caller may want beside it."""

    row: Row
    line: bytes | None = None  # the row's JSON Lines text when a worker wrote it
    record: ReadRecord = NOT_A_PATIENT


@attrs.frozen
class UnitDone:
    """Progress: one unit finished (its bytes, its records and how many were errors)."""

    size: int
    records: int
    errors: int


@attrs.define
class _UnitResult:
    rows: list[Row]
    records: list[ReadRecord]
    summary: ReadSummary


class ScreenRun:
    """One rule file over one input, on `jobs` processes (None: every core, but in this
    process for small inputs)."""

    def __init__(
        self,
        rules: Rules,
        *,
        dates: Mapping[str, dt.date] | None = None,
        needed: Sequence[str] = (),
        jobs: int | None = None,
        on_unit: Callable[[UnitDone], None] | None = None,
        stdin: IO[bytes] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.rules = rules
        self.chunk_bytes = chunk_bytes
        self.dates = dict(dates or {})
        self.needed = tuple(needed)
        self.jobs = jobs
        self.on_unit = on_unit
        self.stdin = stdin
        self.summary = ReadSummary()
        self.workers_used = 0

    # ------------------------------------------------------------------ one unit
    def _screen_unit(self, unit: Unit) -> _UnitResult:
        summary = ReadSummary()
        read: list[ReadRecord] = []

        def watch(records: Iterator[Patient | RecordError]) -> Iterator[Patient | RecordError]:
            for record in records:
                read.append(ReadRecord.of(record, self.needed))
                yield record

        records = watch(read_unit(unit, self.dates, summary))
        rows = list(self.rules.screen(records, dates=self.dates))
        return _UnitResult(rows, read, summary)

    def _work(self, payload: bytes) -> bytes:
        """In a worker: one encoded unit in, its rows out (the header line, then a row a line)."""
        result = self._screen_unit(Unit.decode(payload))
        header = orjson.dumps(
            {
                "records": [r.to_json() for r in result.records],
                "summary": wire.summary_record(result.summary),
            }
        )
        return b"\n".join([header, *(wire.row_json(row) for row in result.rows)])

    # ------------------------------------------------------------------ the run
    def workers_for(self, path: Path) -> int:
        """How many worker processes to use for this input (0: this process)."""
        if not can_fork():
            return 0
        if self.jobs is None:
            size = input_size(path)
            if size is not None and size < SMALL_INPUT:
                return 0
            jobs = available_cores()
        else:
            jobs = self.jobs
        return 0 if jobs <= 1 else jobs

    def rows(self, path: Path, *, fhir: bool | None = False) -> Iterator[Screened]:
        """The rows of the input at `path` (`-`: standard input), in input order; `fhir`: read it
        as FHIR (else as our patient format; None: each file as its content calls for)."""
        units = plan_units(path, fhir, stdin=self.stdin, chunk_bytes=self.chunk_bytes)
        workers = self.workers_for(path)
        self.workers_used = workers
        if workers == 0:
            yield from self._rows_here(units)
        else:
            yield from self._rows_in_workers(units, workers)

    def _rows_here(self, units: Iterator[Unit]) -> Iterator[Screened]:
        for unit in units:
            result = self._screen_unit(unit)
            self.summary.merge(result.summary)
            for row, record in zip(result.rows, result.records, strict=True):
                yield Screened(row, None, record)
            self._done(unit, result.rows)

    def _rows_in_workers(self, units: Iterator[Unit], workers: int) -> Iterator[Screened]:
        pool: OrderedPool[Unit] = OrderedPool(self._work, jobs=workers)
        # Objects built so far (rules, parser, unit registry) are shared with the forked
        # workers: frozen, the collector neither scans them nor copies their pages.
        gc.freeze()
        try:
            for unit, reply in pool.run((unit.encode(), unit) for unit in units):
                if isinstance(reply, Failure):
                    rows = lost_unit(unit, reply.reason)
                    for row in rows:
                        yield Screened(row)
                else:
                    lines = reply.split(b"\n")
                    header = orjson.loads(lines[0])
                    self.summary.merge(wire.summary_from_record(header["summary"]))
                    rows = [wire.row_from_json(line) for line in lines[1:]]
                    records = map(ReadRecord.from_json, header["records"])
                    for row, line, record in zip(rows, lines[1:], records, strict=True):
                        yield Screened(row, line, record)
                self._done(unit, rows)
        finally:
            pool.close()
            gc.unfreeze()

    def _done(self, unit: Unit, rows: Sequence[Row]) -> None:
        if self.on_unit is not None:
            errors = sum(1 for row in rows if isinstance(row, RecordError))
            self.on_unit(UnitDone(unit.size, len(rows), errors))


def lost_unit(unit: Unit, reason: str) -> list[Row]:
    """Error rows for a unit whose worker gave no result: one per record it held (each
    non-blank line of a run of lines), or one for the file or export."""
    problem = Problem("$", f"The record was not screened: {reason}.")
    if unit.kind == "patient-lines":
        return [
            RecordError(f"{unit.source}:{unit.first_line + index}", (problem,))
            for index, line in enumerate(unit.lines())
            if line.strip()
        ]
    return [RecordError(unit.source, (problem,))]

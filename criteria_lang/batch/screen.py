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

import contextlib
import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import orjson

from criteria_lang.api import Rules
from criteria_lang.batch import export, wire
from criteria_lang.batch.pool import Failure, OrderedPool, available_cores, can_fork
from criteria_lang.batch.units import CHUNK_BYTES, Unit, input_size, plan_units, read_unit
from criteria_lang.engine.relevance import relevance_of
from criteria_lang.records import ndjson_export
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
        read_all: bool = False,
    ) -> None:
        self.rules = rules
        # FHIR resources none of whose codes the rules hold are skipped unread (read_all: read
        # and check every resource).
        self.relevance = None if read_all else relevance_of(rules.plan, rules.policy)
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
        return self._screen(read_unit(unit, self.dates, summary, self.relevance), summary)

    def _screen(
        self, records: Iterable[Patient | RecordError], summary: ReadSummary
    ) -> _UnitResult:
        read: list[ReadRecord] = []

        def watch(records: Iterable[Patient | RecordError]) -> Iterator[Patient | RecordError]:
            for record in records:
                read.append(ReadRecord.of(record, self.needed))
                yield record

        with paused_gc():
            rows = list(self.rules.screen(watch(records), dates=self.dates))
        return _UnitResult(rows, read, summary)

    def _work(self, payload: bytes) -> bytes:
        """In a worker: one task in (a unit, or a step of a large export: batch/export.py), its
        result out (for a unit: a header line, then a row a line)."""
        kind, body = payload[:1], payload[1:]
        if kind == export.SPLIT:
            with paused_gc():
                return export.work_split(body)
        orders: list[int] | None = None
        if kind == export.BUCKET:
            doc = orjson.loads(body)
            layout, medications = export.load_export(doc["spill"])
            summary = ReadSummary()
            ordered = ndjson_export.read_bucket(
                doc["spill"],
                doc["bucket"],
                layout,
                medications,
                self.dates,
                summary,
                self.relevance,
            )
            orders = [order for order, _ in ordered]
            result = self._screen((record for _, record in ordered), summary)
        else:
            result = self._screen_unit(Unit.decode(body))
        header = orjson.dumps(
            {
                "records": [r.to_json() for r in result.records],
                "summary": wire.summary_record(result.summary),
                "orders": orders,
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
        units = iter(plan_units(path, fhir, stdin=self.stdin, chunk_bytes=self.chunk_bytes))
        workers = self.workers_for(path)
        self.workers_used = workers
        pool: OrderedPool[Any] | None = None
        if workers:
            pool = OrderedPool(self._work, jobs=workers)
            # Objects built so far (rules, parser, unit registry) are shared with the forked
            # workers: frozen, the collector neither scans them nor copies their pages.
            gc.freeze()
        try:
            while True:
                large: list[Unit] = []
                plain = _until_large(units, large)  # the units before the next large export
                if pool is None:
                    yield from self._rows_here(plain)
                else:
                    yield from self._rows_in_workers(plain, pool)
                if not large:
                    return
                yield from self._large_export(large[0], pool)
        finally:
            if pool is not None:
                pool.close()
                gc.unfreeze()

    def _execute(
        self, pool: OrderedPool[Any] | None
    ) -> Callable[[Iterable[tuple[bytes, Any]]], Iterator[tuple[Any, bytes | Failure]]]:
        if pool is not None:
            return pool.run

        def here(tasks: Iterable[tuple[bytes, Any]]) -> Iterator[tuple[Any, bytes | Failure]]:
            for payload, tag in tasks:
                yield tag, self._work(payload)

        return here

    def _large_export(self, unit: Unit, pool: OrderedPool[Any] | None) -> Iterator[Screened]:
        """A FHIR NDJSON export too large to hold: split to disk, joined bucket by bucket,
        merged back into order (batch/export.py)."""

        def progress(size: int, records: int) -> None:
            if self.on_unit is not None:
                self.on_unit(UnitDone(size, records, 0))

        job = export.ExportJob(unit, self._execute(pool), progress)
        try:
            for record, line in job.run():
                row = wire.row_from_json(line)
                yield Screened(row, line, ReadRecord.from_json(orjson.loads(record)))
        finally:
            self.summary.merge(job.summary)

    def _rows_here(self, units: Iterator[Unit]) -> Iterator[Screened]:
        for unit in units:
            result = self._screen_unit(unit)
            self.summary.merge(result.summary)
            for row, record in zip(result.rows, result.records, strict=True):
                yield Screened(row, None, record)
            self._done(unit, result.rows)

    def _rows_in_workers(self, units: Iterator[Unit], pool: OrderedPool[Any]) -> Iterator[Screened]:
        for unit, reply in pool.run((b"U" + unit.encode(), unit) for unit in units):
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

    def _done(self, unit: Unit, rows: Sequence[Row]) -> None:
        if self.on_unit is not None:
            errors = sum(1 for row in rows if isinstance(row, RecordError))
            self.on_unit(UnitDone(unit.size, len(rows), errors))


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a unit is read and evaluated. Parsing a bundle makes
    hundreds of thousands of containers, each allocation counting towards a collection that
    walks every live object, the parsed bundle included (about a third of the reading time on
    the Synthea bundles); what a unit makes is freed by reference counting when it is done, and
    a collection of the youngest generation after it takes the rare cycles."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


def _until_large(units: Iterator[Unit], large: list[Unit]) -> Iterator[Unit]:
    """The units up to the next large export (put in `large`), or to the end."""
    for unit in units:
        if export.is_large(unit):
            large.append(unit)
            return
        yield unit


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

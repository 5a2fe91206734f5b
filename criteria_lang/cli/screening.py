"""`criteria screen`'s run and output: every core, a progress bar, the summary first.

- The rows come from criteria_lang.batch (worker processes, `--jobs`, default all cores), in
  input order: the output is the same whatever `--jobs` is.
- On a terminal: a progress bar on stderr while it runs; then the summary (and the notes), and
  the table after it when it is short. A longer table is shown with `--table`, through the pager
  when it is taller than the screen; otherwise a line says how to see it.
- Not on a terminal (a file, a pipe, a log): nothing extra; the table, CSV or JSON Lines as
  before, the summary after the table (or on stderr for CSV and JSON Lines).
- Memory stays bounded: CSV and JSON Lines rows are written as they come; only what the table
  needs is kept of each row (the deciding criteria), and on a terminal without `--table` only
  the first rows.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import attrs

from criteria_lang.api import Rules
from criteria_lang.batch.screen import ReadRecord, Row, ScreenRun, UnitDone
from criteria_lang.batch.units import input_size
from criteria_lang.batch.wire import row_json
from criteria_lang.cli.progress import ProgressBar
from criteria_lang.core.results import PatientResult
from criteria_lang.records.fhir import ReadSummary
from criteria_lang.records.patient_json import RecordError

# On a terminal, a table of at most this many rows follows the summary without --table.
SHORT_TABLE = 25


def compact(row: Row) -> Row:
    """What the table and CSV use of a row: its deciding criteria, not the others."""
    if isinstance(row, PatientResult):
        kept = tuple(c for c in row.criteria if c.id in row.deciding)
        if len(kept) != len(row.criteria):
            return attrs.evolve(row, criteria=kept)
    return row


class Output:
    """Writes rows as they come (JSON Lines, CSV) or keeps them for the table."""

    def __init__(
        self,
        handle: IO[str],
        output_format: str,
        *,
        terminal: bool,
        whole_table: bool,
    ) -> None:
        self.handle = handle
        self.format = output_format
        self.terminal = terminal
        self.whole_table = whole_table
        self.counts: Counter[str] = Counter()
        self.kept: list[Row] = []
        self.csv: csv.DictWriter[str] | None = None
        # Also told every row, in order (`--html` builds its report from them).
        self.listeners: list[Callable[[Row, bytes | None], None]] = []
        if output_format == "csv":
            from criteria_lang.report.plain import CSV_FIELDS

            self.csv = csv.DictWriter(handle, fieldnames=CSV_FIELDS, lineterminator="\n")
            self.csv.writeheader()

    @property
    def errors(self) -> int:
        return self.counts["error"]

    def add(self, row: Row, line: bytes | None) -> None:
        self.counts["error" if isinstance(row, RecordError) else row.verdict.value] += 1
        for listener in self.listeners:
            listener(row, line)
        if self.format == "jsonl":
            # The line a worker wrote, or the same made here (rich, for tables, is not needed).
            self.handle.write((line if line is not None else row_json(row)).decode())
            self.handle.write("\n")
        elif self.csv is not None:
            from criteria_lang.report.plain import csv_row

            self.csv.writerow(csv_row(row))
        elif not self.terminal or self.whole_table or len(self.kept) <= SHORT_TABLE:
            self.kept.append(compact(row))

    def summary(self) -> str:
        from criteria_lang.report.plain import counts_line

        return counts_line(self.counts)

    def finish(self, title: str, notes: Sequence[str], stderr: IO[str]) -> None:
        if self.format != "table":
            print(self.summary(), file=stderr)
            for note in notes:
                print(note, file=stderr)
            return
        from criteria_lang.report import tables as report

        out = report.console(self.handle)
        if not self.terminal:
            out.print(report.screen_table(self.kept, title))
            out.print(self.summary())
            for note in notes:
                out.print(note, markup=False, highlight=False, soft_wrap=True)
            return
        # A terminal: the summary first, then the table when it is short or asked for.
        out.print(self.summary())
        for note in notes:
            out.print(note, markup=False, highlight=False, soft_wrap=True)
        total = sum(self.counts.values())
        if self.whole_table:
            table = report.screen_table(self.kept, title)
            if total * 3 > out.size.height:  # about three lines a row: taller than the screen
                with out.pager(styles=True):
                    out.print(table)
            else:
                out.print(table)
        elif total <= SHORT_TABLE:
            out.print(report.screen_table(self.kept, title))
        else:
            out.print(
                f"{total:,} rows: --table shows them all (paged); -o FILE --format csv or "
                "jsonl writes them to a file",
                markup=False,
                highlight=False,
            )


def screen_one(
    rules: Rules,
    input_path: Path,
    *,
    fhir: bool | None,
    dates: Mapping[str, dt.date],
    needed: Sequence[str],
    jobs: int | None,
    output: Output,
    watch: Sequence[Callable[[ReadRecord], None]],
    progress: bool,
    read_all: bool = False,
    stdin: IO[bytes],
    stderr: IO[str],
) -> ReadSummary:
    """Screen one input against one rule file into `output`, telling each of `watch` what was
    read for each row; returns what the FHIR reader did."""
    bar: ProgressBar | None = None
    if progress and ProgressBar.wanted(stderr):
        label = f"{rules.trial_id} {input_path.name or input_path}"
        bar = ProgressBar(stderr, label, input_size(input_path))
    base_errors = output.errors

    def unit_done(done: UnitDone) -> None:
        if bar is not None:
            bar.advance(done.size, done.records, 0)
            bar.errors = output.errors - base_errors

    run = ScreenRun(
        rules,
        dates=dates,
        needed=needed,
        jobs=jobs,
        on_unit=unit_done,
        stdin=stdin,
        read_all=read_all,
    )
    try:
        for item in run.rows(input_path, fhir=fhir):
            for watcher in watch:
                watcher(item.record)
            output.add(item.row, item.line)
    finally:
        if bar is not None:
            bar.close()
    return run.summary

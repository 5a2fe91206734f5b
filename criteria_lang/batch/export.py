"""A large FHIR NDJSON bulk export screened on every core with bounded memory.

records/ndjson_export.py reads an export in two passes over files on disk; here those passes
run as tasks in the worker processes (or in this process with one job), and their results come
back in the order the sequential reader gives:

1. split: one task a piece of a file (about 8 MB) writes each line to its patient's bucket;
2. join: one task a bucket reads its patients, evaluates them and sends back their rows, each
   with the place of its Patient resource in the export;
3. merge: the parent writes each bucket's rows to a file as they come and, when all are in,
   merges the files by that place (heapq.merge: one row of each file in memory), then gives the
   rows of the files that could not be read.

Tasks are bytes, as for every unit (criteria_lang.batch.pool): a first byte saying which, then
JSON. The spill folder is removed at the end, also when the run stops early.
"""

from __future__ import annotations

import heapq
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from criteria_lang.batch import wire
from criteria_lang.batch.pool import Failure
from criteria_lang.batch.units import Unit
from criteria_lang.records import ndjson_export as nd
from criteria_lang.records.fhir import ReadSummary
from criteria_lang.records.patient_json import Problem, RecordError

SPLIT, BUCKET = b"S", b"B"
Executor = Callable[[Iterable[tuple[bytes, Any]]], Iterator[tuple[Any, bytes | Failure]]]
# What a worker has loaded for an export it joins buckets of: spill folder -> layout, medications.
_LOADED: dict[str, tuple[nd.Layout, dict[str, Any]]] = {}


def is_large(unit: Unit) -> bool:
    return unit.kind == "fhir-export" and nd.bucket_count(unit.size) > 1


# ---------------------------------------------------------------------------- in a worker


def work_split(payload: bytes) -> bytes:
    doc = orjson.loads(payload)
    chunk = nd.Chunk(doc["path"], doc["offset"], doc["length"], doc["first_line"])
    split = nd.split_chunk(chunk, doc["number"], doc["spill"], doc["buckets"])
    return orjson.dumps(
        {
            "entries": split.entries,
            "lines": split.lines,
            "summary": wire.summary_record(split.summary),
            "failed": [orjson.loads(wire.row_json(row)) for row in split.failed],
        }
    )


def load_export(spill: str) -> tuple[nd.Layout, dict[str, Any]]:
    """The layout and the Medications of the export being joined (written by the parent after
    pass 1), loaded once per process."""
    known = _LOADED.get(spill)
    if known is None:
        nd.close_writers(spill)  # what this process split is complete on disk
        _LOADED.clear()
        doc = orjson.loads(Path(spill, "layout.json").read_bytes())
        chunks = tuple(nd.Chunk(*c) for c in doc["chunks"])
        layout = nd.Layout(chunks, tuple(doc["entry_starts"]))
        medications = orjson.loads(Path(spill, "medications.json").read_bytes())
        known = _LOADED[spill] = (layout, medications)
    return known


# ---------------------------------------------------------------------------- in the parent


class ExportJob:
    """One large export: the three steps of the module docstring. `screen` turns a bucket's
    patients into the worker's reply (ScreenRun does it: evaluate, then encode)."""

    def __init__(self, unit: Unit, execute: Executor, on_progress: Callable[[int, int], None]):
        self.unit = unit
        self.execute = execute
        self.on_progress = on_progress  # (bytes, records) done
        self.summary = ReadSummary()
        self.failed: list[RecordError] = []

    def run(self) -> Iterator[tuple[bytes, bytes]]:
        """(the reply's record JSON, the row's JSON) for each patient in order, then the errors
        of what could not be read (with a null record)."""
        paths = [Path(p) for p in self.unit.paths]
        chunks = nd.plan_chunks(paths, self.summary, self.failed)
        buckets = nd.bucket_count(self.unit.size)
        spill = tempfile.mkdtemp(prefix="criteria-export-")
        try:
            layout = self.split(chunks, spill, buckets)
            medications = nd.gather_medications(spill, layout, self.summary)
            self.write_shared(spill, layout, medications)
            results = self.join(spill, buckets)
            yield from merge(results)
            for row in self.failed:
                yield b"null", wire.row_json(row)
        finally:
            shutil.rmtree(spill, ignore_errors=True)
            _LOADED.pop(spill, None)
            nd.close_writers(spill)

    def split(self, chunks: Sequence[nd.Chunk], spill: str, buckets: int) -> nd.Layout:
        tasks = (
            (
                SPLIT
                + orjson.dumps(
                    {
                        "path": c.path,
                        "offset": c.offset,
                        "length": c.length,
                        "first_line": c.first_line,
                        "number": n,
                        "spill": spill,
                        "buckets": buckets,
                    }
                ),
                c,
            )
            for n, c in enumerate(chunks)
        )
        splits: list[nd.Split] = []
        for chunk, reply in self.execute(tasks):
            if isinstance(reply, Failure):
                problem = Problem("$", f"this part of the file was not read: {reply.reason}")
                where = f"{chunk.path} (bytes {chunk.offset}..)"
                self.failed.append(RecordError(where, (problem,)))
                self.summary.record_errors += 1
                splits.append(nd.Split(0, 0, ReadSummary(), []))
                continue
            doc = orjson.loads(reply)
            self.summary.merge(wire.summary_from_record(doc["summary"]))
            failed = [wire.row_from_record(r) for r in doc["failed"]]
            self.failed.extend(r for r in failed if isinstance(r, RecordError))
            splits.append(nd.Split(doc["entries"], doc["lines"], ReadSummary(), []))
            self.on_progress(max(0, chunk.length) // 2, 0)
        nd.close_writers(spill)  # what this process split (with one job) is on disk
        return nd.Layout.of(chunks, splits)

    @staticmethod
    def write_shared(spill: str, layout: nd.Layout, medications: dict[str, Any]) -> None:
        chunks = [[c.path, c.offset, c.length, c.first_line] for c in layout.chunks]
        Path(spill, "layout.json").write_bytes(
            orjson.dumps({"chunks": chunks, "entry_starts": layout.entry_starts})
        )
        Path(spill, "medications.json").write_bytes(orjson.dumps(medications))

    def join(self, spill: str, buckets: int) -> list[Path]:
        """Run every bucket; each one's replies go to a file of its own, in its order."""
        names = [f"b{i:04d}" for i in range(buckets)] + ["unowned"]
        tasks = ((BUCKET + orjson.dumps({"spill": spill, "bucket": n}), n) for n in names)
        share = self.unit.size // 2 // len(names)
        files: list[Path] = []
        for name, reply in self.execute(tasks):
            out = Path(spill, f"result.{name}")
            if isinstance(reply, Failure):
                problem = f"the patients of this part of the export were not read: {reply.reason}"
                self.failed.append(
                    nd.unreadable(self.summary, f"{self.unit.source} ({name})", problem)
                )
                continue
            lines = reply.split(b"\n")
            header = orjson.loads(lines[0])
            self.summary.merge(wire.summary_from_record(header["summary"]))
            with out.open("wb") as handle:
                for order, record, line in zip(
                    header["orders"], header["records"], lines[1:], strict=True
                ):
                    handle.write(b"%d\t%s\t%s\n" % (order, orjson.dumps(record), line))
            files.append(out)
            self.on_progress(share, len(lines) - 1)
        return files


def _read_results(path: Path) -> Iterator[tuple[int, bytes, bytes]]:
    with path.open("rb") as handle:
        for line in handle:
            order, record, row = line.rstrip(b"\n").split(b"\t", 2)
            yield int(order), record, row


def merge(files: Sequence[Path]) -> Iterator[tuple[bytes, bytes]]:
    """The rows of every bucket in the order of their Patient resources in the export."""
    for _, record, row in heapq.merge(*(_read_results(f) for f in files)):
        yield record, row

"""A FHIR NDJSON bulk export of any size, read with bounded memory: partitioned by patient on
disk, then joined one bucket at a time.

A bulk export writes one file a resource type (Patient.ndjson, Observation.ndjson, ...), each
ordered by the server, so one patient's resources are spread over every file. `read_ndjson`
(records/fhir.py) joins them by holding the whole export in memory: about nine times its size
in Python objects. Past `BUCKET_BYTES` of input, this module does the same work in two passes
over files on disk instead (an external hash partition, as a database joins tables larger than
its memory):

1. Split (`split_chunk`, one call per piece of a file, any order, any process): each line is
   parsed once and written, unchanged, to the bucket of its patient (`owner_key`: a Patient's id,
   or the id its subject reference names; resources that name no patient go to one bucket of
   their own, Medication resources to a list shared by all buckets). Lines that are no resource
   are counted and reported here, as `read_ndjson` does.
2. Join (`read_bucket`, one call per bucket): a bucket's lines are grouped by patient and each
   group is joined by the same `_Assembler` as `read_ndjson` uses, with every Medication known.

Memory is one bucket's lines and one patient's resources at a time, whatever the export's size;
disk is about the export's size again (in the system's temporary folder, `TMPDIR`, removed after
the run). The patients come out in the order of their Patient resources, as from `read_ndjson`,
and the files that could not be read after them; each patient is read exactly as `read_ndjson`
reads it, except that a resource repeated (same type and id) under two different patients is
read twice (`read_ndjson` skips the second), and the problems of the summary come bucket by
bucket rather than in file order (criteria_lang.batch runs the buckets on every core and merges
the patients back into order; docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import orjson

from criteria_lang.records.fhir import (
    NOT_READABLE,
    ReadSummary,
    _Assembler,
    _Entry,
    _file_error,
    _Scope,
    ndjson_line,
    owner_key,
)
from criteria_lang.records.files import COMPRESSED_SUFFIX, open_binary
from criteria_lang.records.patient_json import Problem, RecordError
from criteria_lang.records.relevance import Relevance
from criteria_lang.records.timeline import Patient

# An export larger than this is partitioned (one bucket is about this much of it).
BUCKET_BYTES = 16 << 20
MAX_BUCKETS = 512  # files each splitting process keeps open
SPLIT_BYTES = 8 << 20  # the piece of a file one split call reads
_RECORD = struct.Struct("<IIQHI")  # chunk, entry in chunk, line number, key bytes, line bytes
_UNOWNED = "unowned"
_MEDICATIONS = "medications"


def bucket_count(total_bytes: int) -> int:
    """1 (read the export in memory, as read_ndjson does) for a small export; else one bucket
    for about every BUCKET_BYTES, at most MAX_BUCKETS."""
    if total_bytes <= BUCKET_BYTES:
        return 1
    return min(MAX_BUCKETS, max(2, math.ceil(total_bytes / BUCKET_BYTES)))


@attrs.frozen
class Chunk:
    """A piece of one file of the export: `length` bytes from `offset`, cut at line ends, whose
    first line is line `first_line` of the file (a compressed file is one piece)."""

    path: str
    offset: int
    length: int  # -1: to the end
    first_line: int


def plan_chunks(
    paths: Sequence[Path], summary: ReadSummary, failed: list[RecordError]
) -> list[Chunk]:
    """The pieces to split, in file order; files that cannot be opened are errors in `failed`,
    as read_ndjson reports them."""
    chunks: list[Chunk] = []
    for path in paths:
        summary.files += 1
        try:
            if path.suffix.lower() == COMPRESSED_SUFFIX:
                with open_binary(path):
                    pass
                chunks.append(Chunk(str(path), 0, -1, 1))
                continue
            chunks.extend(_cut(path))
        except OSError as error:
            problem = Problem("$", f"the file cannot be read: {error.strerror or error}")
            failed.append(_file_error(summary, str(path), problem))
    return chunks


def _cut(path: Path) -> Iterator[Chunk]:
    """Pieces of about SPLIT_BYTES, cut after a line end; read once here to number the lines."""
    with path.open("rb") as handle:
        offset, first_line, carry = 0, 1, b""
        while True:
            block = handle.read(SPLIT_BYTES)
            data = carry + block
            if not block:
                if data or offset == 0:
                    yield Chunk(str(path), offset, len(data), first_line)
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # no line end yet: the line goes on
                carry = data
                continue
            yield Chunk(str(path), offset, cut, first_line)
            first_line += data.count(b"\n", 0, cut)
            offset += cut
            carry = data[cut:]


# ---------------------------------------------------------------------------- pass 1: split


@attrs.define
class Split:
    """What splitting one chunk found: entries (lines that hold a resource) and lines."""

    entries: int
    lines: int
    summary: ReadSummary
    failed: list[RecordError]


_WRITERS: dict[str, dict[str, IO[bytes]]] = {}


def _writer(spill: str, name: str) -> IO[bytes]:
    handles = _WRITERS.setdefault(spill, {})
    handle = handles.get(name)
    if handle is None:
        path = os.path.join(spill, f"{name}.{os.getpid()}")
        handle = handles[name] = open(path, "ab", buffering=1 << 15)  # noqa: SIM115
    return handle


def close_writers(spill: str) -> None:
    """Flush and close what this process wrote under `spill` (before its buckets are read)."""
    for handle in _WRITERS.pop(spill, {}).values():
        handle.close()


def bucket_of(key: str | None, buckets: int) -> str:
    if key is None:
        return _UNOWNED
    return f"b{zlib.crc32(key.encode()) % buckets:04d}"


def split_chunk(chunk: Chunk, number: int, spill: str, buckets: int) -> Split:
    """Read one chunk and write each of its lines to its bucket under `spill` (see the module
    docstring); `number` is the chunk's place in the export."""
    summary = ReadSummary()
    failed: list[RecordError] = []
    path = Path(chunk.path)
    entries = lines = 0
    pack = _RECORD.pack
    lineno = chunk.first_line - 1
    try:
        for line in _chunk_lines(path, chunk):
            lineno += 1
            lines += 1
            entry = ndjson_line(path, lineno, line, summary, failed)
            if entry is None:
                continue
            res = entry.resource
            if isinstance(res, dict) and res.get("resourceType") == "Medication":
                name, key = _MEDICATIONS, b""
            else:
                owner = owner_key(res) if entry.bad is None else None
                if owner is not None and len(owner) > 10_000:
                    owner = None  # no patient has an id that long; joined among the unowned
                name = bucket_of(owner, buckets)
                key = owner.encode() if owner is not None else b""
            text = line.strip()
            if lineno == 1:
                text = text.removeprefix(b"\xef\xbb\xbf")
            handle = _writer(spill, name)
            handle.write(pack(number, entries, lineno, len(key), len(text)))
            handle.write(key)
            handle.write(text)
            entries += 1
    except OSError as error:
        problem = Problem("$", f"reading stopped at line {lineno + 1}: {error}")
        failed.append(_file_error(summary, chunk.path, problem))
    for handle in _WRITERS.get(spill, {}).values():
        handle.flush()
    return Split(entries, lines, summary, failed)


def _chunk_lines(path: Path, chunk: Chunk) -> Iterator[bytes]:
    """The lines of a chunk as iterating over the file gives them (split at b"\\n" only); a
    compressed file is read line by line, the rest a chunk at once."""
    with open_binary(path) as handle:
        if chunk.length < 0:
            yield from handle
            return
        handle.seek(chunk.offset)  # type: ignore[union-attr]
        data = handle.read(chunk.length)
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    yield from lines


# ---------------------------------------------------------------------------- pass 2: join


@attrs.frozen
class Layout:
    """The export's chunks and where each one's entries start among all of the export's (known
    after pass 1): an entry's place in the export, as read_ndjson numbers them."""

    chunks: tuple[Chunk, ...]
    entry_starts: tuple[int, ...]

    @staticmethod
    def of(chunks: Sequence[Chunk], splits: Sequence[Split]) -> Layout:
        starts, entries = [], 0
        for split in splits:
            starts.append(entries)
            entries += split.entries
        return Layout(tuple(chunks), tuple(starts))

    @property
    def source(self) -> str:
        return str(Path(self.chunks[0].path).parent) if self.chunks else "<ndjson>"


def _records(spill: str, name: str) -> Iterator[tuple[int, int, int, bytes, bytes]]:
    """The records written to one bucket, by every process: (chunk, entry, line, key, line)."""
    size = _RECORD.size
    unpack = _RECORD.unpack_from
    prefix = name + "."
    for file in sorted(os.listdir(spill)):
        if not file.startswith(prefix):
            continue
        with open(os.path.join(spill, file), "rb") as handle:
            data = handle.read()
        at = 0
        while at < len(data):
            chunk, entry, line, key_len, line_len = unpack(data, at)
            at += size
            key = data[at : at + key_len]
            at += key_len
            yield chunk, entry, line, key, data[at : at + line_len]
            at += line_len


def _entry(layout: Layout, chunk: int, entry: int, lineno: int, text: bytes) -> _Entry:
    made = _Entry(orjson.loads(text), f"{layout.chunks[chunk].path}:{lineno}", "$")
    made.index = layout.entry_starts[chunk] + entry
    return made


def gather_medications(spill: str, layout: Layout, summary: ReadSummary) -> dict[str, Any]:
    """Every Medication of the export by the keys a reference may use, read and counted (with
    duplicates skipped) as read_ndjson does; shared by every bucket."""
    records = sorted(_records(spill, _MEDICATIONS), key=lambda r: (r[0], r[1]))
    entries = [_entry(layout, c, e, ln, text) for c, e, ln, _, text in records]
    scope = _Scope(layout.source, summary)
    for _ in _Assembler(scope, None).run(entries):
        pass  # Medications only: no patient comes out
    return scope.medications


def read_bucket(
    spill: str,
    bucket: str,
    layout: Layout,
    medications: dict[str, Any],
    dates: Mapping[str, dt.date] | None,
    summary: ReadSummary,
    relevance: Relevance | None = None,
) -> list[tuple[int, Patient | RecordError]]:
    """The patients of one bucket, each with the place of its Patient resource in the export,
    in that order; what was read is counted in `summary`."""
    groups: dict[bytes, list[tuple[int, int, int, int, bytes]]] = {}
    for chunk, entry, lineno, key, text in _records(spill, bucket):
        place = layout.entry_starts[chunk] + entry
        groups.setdefault(key, []).append((place, chunk, entry, lineno, text))
    scope = _Scope(layout.source, summary, medications, relevance=relevance)
    out: list[tuple[int, Patient | RecordError]] = []
    # One patient's resources at a time; groups in the order of their first entry, so that the
    # summary's problems come in a fixed order.
    for group in sorted(groups.values(), key=lambda g: min(g)[0]):
        group.sort()
        entries = [_entry(layout, c, e, ln, text) for _, c, e, ln, text in group]
        out.extend(_Assembler(scope, dates).run_ordered(entries))
    out.sort(key=lambda item: item[0])
    return out


def unreadable(summary: ReadSummary, where: str, reason: str) -> RecordError:
    """A part of the export that could not be joined (an internal error): one error row."""
    summary.skipped[("(export)", NOT_READABLE)] += 1
    return _file_error(summary, where, Problem("$", reason))

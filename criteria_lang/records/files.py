"""Input files as every reader sees them: the format by name, gzip undone on the way.

A file `x.json.gz`, `x.jsonl.gz` or `x.ndjson.gz` is read as `x.json`, `x.jsonl` or `x.ndjson`
(FHIR bulk exports and large patient files are often kept compressed). A damaged or truncated
compressed file raises `OSError`, like any other file that cannot be read, so each reader reports
it the way it reports an unreadable file.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["COMPRESSED_SUFFIX", "CompressedFile", "data_suffix", "open_binary", "read_bytes"]

COMPRESSED_SUFFIX = ".gz"


def data_suffix(path: Path | str) -> str:
    """The suffix that names the data format, lower case: `.json` for `a.JSON` and `a.json.gz`."""
    path = Path(path)
    if path.suffix.lower() == COMPRESSED_SUFFIX:
        path = path.with_suffix("")
    return path.suffix.lower()


def _damaged(error: Exception) -> OSError:
    detail = "it ends too early" if isinstance(error, EOFError) else str(error)
    return OSError(f"not a readable gzip file ({detail})")


class CompressedFile:
    """A gzip file read as bytes, line by line or whole, whose damage is an OSError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = gzip.open(path, "rb")

    def __enter__(self) -> CompressedFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._file
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise _damaged(error) from error

    def read(self, size: int = -1) -> bytes:
        try:
            return self._file.read(size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise _damaged(error) from error

    def close(self) -> None:
        self._file.close()


def open_binary(path: Path) -> IO[bytes] | CompressedFile:
    """`path` opened for reading bytes; decompressed when its name ends in `.gz`."""
    if path.suffix.lower() == COMPRESSED_SUFFIX:
        return CompressedFile(path)
    return path.open("rb")


# A whole file is decompressed to at most this many times its compressed size (and never less
# than the floor): JSON compresses 10 to 30 times, a gzip bomb a thousand times and more, so a
# 1 MB file cannot cost gigabytes of memory (docs/limits.md).
MAX_EXPANSION = 100
EXPANSION_FLOOR = 64 << 20


def read_bytes(path: Path) -> bytes:
    """The whole content of `path`; decompressed when its name ends in `.gz`, refused (OSError)
    when it expands more than MAX_EXPANSION times."""
    if path.suffix.lower() != COMPRESSED_SUFFIX:
        return path.read_bytes()
    limit = max(EXPANSION_FLOOR, MAX_EXPANSION * path.stat().st_size)
    with CompressedFile(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(
            f"it expands to more than {limit:,} bytes ({MAX_EXPANSION} times its size): "
            "not read (docs/limits.md)"
        )
    return data

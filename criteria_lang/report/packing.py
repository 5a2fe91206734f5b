"""Patient data inside the HTML report: JSON, gzip, base64, in chunks.

A report of 100,000 patients cannot carry its table and every drill-down as HTML elements: the
file would be hundreds of megabytes and the browser would lay out millions of nodes before
showing anything. The rows and the drill-downs are JSON compressed with gzip and written as
base64 text; the page decodes them with the browser's DecompressionStream. The table index is
one blob, decoded when the page opens; drill-downs come in chunks of CHUNK patients, each decoded
only when one of its patients is opened, so the time to open does not grow with the evidence.

base64 text is letters, digits, `+`, `/` and `=`: it cannot close the element it sits in or
start markup, whatever the patient data says.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from typing import Any

import orjson

CHUNK = 500  # patients per drill-down chunk: small enough to decode in a few milliseconds


def pack(data: Any) -> str:
    """JSON -> gzip -> base64 text (the page's `unpack` reverses it)."""
    raw = orjson.dumps(data)
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def unpack(text: str) -> Any:
    """The inverse of `pack` (for tests and tools that read a report)."""
    return orjson.loads(gzip.decompress(base64.b64decode(text)))


class Chunks:
    """Drill-down records, appended one per patient in table order and packed CHUNK at a time,
    so only the packed text stays in memory. `layout` arranges a chunk's records before packing
    (e.g. column by column, which compresses better: alike values sit together)."""

    def __init__(self, size: int = CHUNK, layout: Callable[[list[Any]], Any] = list) -> None:
        self.size = size
        self.layout = layout
        self.packed: list[str] = []
        self.pending: list[Any] = []
        self.count = 0

    def add(self, record: Any) -> int:
        """Append one record; its number (the patient's row in the table)."""
        self.pending.append(record)
        self.count += 1
        if len(self.pending) >= self.size:
            self.flush()
        return self.count - 1

    def flush(self) -> None:
        if self.pending:
            self.packed.append(pack(self.layout(self.pending)))
            self.pending = []

    def finish(self) -> list[str]:
        self.flush()
        return self.packed

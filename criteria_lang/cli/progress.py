"""A one-line progress bar on a terminal: records done, their rate, time left, errors so far.

It is drawn on stderr only when stderr is a terminal (`ProgressBar.wanted`), redrawn at most ten
times a second, and erased when the run ends, so that what follows (the summary) starts on a
clean line and nothing of it lands in a log or a pipe. The fraction done and the time left come
from the bytes of input read, which are known before the run starts (not for standard input:
then only the count and the rate are shown).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import IO

_CLEAR = "\r\x1b[K"
_BAR = 24


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Call `advance` as work finishes and `close` at the end."""

    def __init__(
        self,
        stream: IO[str],
        label: str,
        total_bytes: int | None,
        *,
        interval: float = 0.1,
        clock: object = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.total = total_bytes if total_bytes else None
        self.interval = interval
        self._clock = clock if callable(clock) else time.monotonic
        self.started = self._clock()
        self.drawn_at = 0.0
        self.done_bytes = 0
        self.records = 0
        self.errors = 0
        self.visible = False

    @staticmethod
    def wanted(stream: IO[str]) -> bool:
        """A terminal that can take the bar (not a dumb one)."""
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            return False
        return tty and os.environ.get("TERM", "") != "dumb"

    def advance(self, size: int, records: int, errors: int) -> None:
        self.done_bytes += size
        self.records += records
        self.errors += errors
        now = self._clock()
        if now - self.drawn_at >= self.interval:
            self.drawn_at = now
            self.draw(now)

    def text(self, now: float, width: int) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.records / elapsed
        parts = [self.label]
        if self.total:
            fraction = min(1.0, self.done_bytes / self.total)
            filled = int(fraction * _BAR)
            parts.append("━" * filled + "╺" * (_BAR - filled) + f" {fraction:4.0%}")
        parts.append(f"{self.records:,} records")
        parts.append(f"{rate:,.0f}/s")
        if self.total and 0 < self.done_bytes < self.total:
            left = elapsed * (self.total - self.done_bytes) / self.done_bytes
            parts.append(f"ETA {format_duration(left)}")
        parts.append(f"{self.errors:,} error{'s' if self.errors != 1 else ''}")
        line = "  ".join(parts)
        return line if len(line) < width else line[: max(0, width - 2)] + "…"

    def draw(self, now: float | None = None) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        now = self._clock() if now is None else now
        try:
            self.stream.write(_CLEAR + self.text(now, width))
            self.stream.flush()
        except (OSError, ValueError):
            return
        self.visible = True

    def close(self) -> None:
        """Erase the bar."""
        if self.visible:
            try:
                self.stream.write(_CLEAR)
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self.visible = False

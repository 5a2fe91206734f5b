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
_BAR = 20


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
        """The bar's line, at most `width - 1` characters: the figures first; the label as far
        as room is left; then the bar itself when there is room."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.records / elapsed
        figures = []
        fraction = min(1.0, self.done_bytes / self.total) if self.total else None
        if fraction is not None:
            figures.append(f"{fraction:4.0%}")
        figures.append(f"{self.records:,} records")
        figures.append(f"{rate:,.0f}/s")
        if self.total and 0 < self.done_bytes < self.total:
            left = elapsed * (self.total - self.done_bytes) / self.done_bytes
            figures.append(f"ETA {format_duration(left)}")
        figures.append(f"{self.errors:,} error{'s' if self.errors != 1 else ''}")
        line = "  ".join(figures)
        room = width - 1 - len(line)
        if fraction is not None and room >= _BAR + 2:
            filled = int(fraction * _BAR)
            line = "━" * filled + "╺" * (_BAR - filled) + " " + line
            room -= _BAR + 1
        if room > 4:
            label = self.label if len(self.label) <= room - 2 else self.label[: room - 3] + "…"
            line = f"{label}  {line}"
        return line[: max(0, width - 1)]

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

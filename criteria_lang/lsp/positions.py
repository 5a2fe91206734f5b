"""Character offsets <-> LSP positions.

Our spans count characters (Python string indices); LSP positions are a line and an offset in
code units of the negotiated encoding: UTF-16 unless the client offers another (`≥` and `µ` are
one UTF-16 unit, `𝛍` is two). LSP lines end at `\\n`, `\\r\\n` or `\\r`.
"""

from __future__ import annotations

import bisect
import re
from typing import Literal

Encoding = Literal["utf-8", "utf-16", "utf-32"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def code_units(text: str, encoding: Encoding) -> int:
    """How many code units of `encoding` the text takes."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


class LineIndex:
    """Where each line of a text starts, to convert offsets and positions both ways."""

    def __init__(self, text: str, encoding: Encoding = "utf-16") -> None:
        self.text = text
        self.encoding = encoding
        self.starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]

    def line_end(self, line: int) -> int:
        """The offset of the line's last character + 1 (its line break excluded)."""
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        while end > self.starts[line] and self.text[end - 1] in "\r\n":
            end -= 1
        return end

    def position(self, offset: int) -> tuple[int, int]:
        """The (line, character) of a character offset (clamped to the text)."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        # An offset between the \r and \n of one break belongs to the line's end.
        start = self.starts[line]
        upto = min(offset, self.line_end(line))
        return line, code_units(self.text[start:upto], self.encoding)

    def offset(self, line: int, character: int) -> int:
        """The character offset of an LSP position; positions past a line's end are clamped
        to it, and one inside a character (half of a surrogate pair) to that character's
        start."""
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start, end = self.starts[line], self.line_end(line)
        units = 0
        for index in range(start, end):
            units += code_units(self.text[index], self.encoding)
            if units > character:
                return index
        return end

"""Limits on rule files, checked before and after the parser (docs/limits.md).

Rule files come through pull requests from people we do not know. Before Lark sees a text it is
scanned once, in linear time, for what would make parsing or building cost more than the file
is worth: its size, its longest line, its longest quoted text, its longest number. A file past
a limit gets a diagnostic there and is not parsed at all. After parsing, the tree's depth is
measured without recursion: the builder, the checker and the evaluator recurse once per level,
so a thousand nested `not` is a diagnostic, never a RecursionError.

The limits are far above any real rule file: the largest stdlib module is 26 KB, the longest
line of the seed trials 984 characters, the deepest tree 13 levels.
"""

from __future__ import annotations

import re

import lark

from criteria_lang.core import messages as m
from criteria_lang.core.diagnostics import Diagnostic, Span

MAX_FILE_CHARS = 1_048_576  # characters in one rule file (1 MiB of ASCII)
MAX_LINE_CHARS = 10_000  # characters in one line
MAX_TEXT_CHARS = 20_000  # characters in one quoted text ("...", or """...""")
MAX_NUMBER_DIGITS = 30  # digits in one number (the integer part and the decimals together)
MAX_DEPTH = 100  # levels of the parse tree: nested `not`, `and`/`or`, parentheses, ...
# Past this many problems a scan stops: the file is not parsed anyway.
MAX_REPORTED = 10


def _span(text: str, start: int, end: int) -> Span:
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    end_line = text.count("\n", start, end) + line
    end_column = end - (text.rfind("\n", 0, end) + 1) + 1
    return Span(start, end, line, column, end_line, end_column)


def check_text(text: str, path: str) -> list[Diagnostic]:
    """What makes `text` too costly to parse; empty when it is within every limit."""
    if len(text) > MAX_FILE_CHARS:
        return [
            m.TOO_MANY_CHARACTERS.at(path, _span(text, 0, 0), chars=len(text), limit=MAX_FILE_CHARS)
        ]
    found = _long_lines(text, path)
    found += _long_tokens(text, path)
    return found[:MAX_REPORTED]


def _long_lines(text: str, path: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    start = 0
    while start <= len(text) and len(found) < MAX_REPORTED:
        end = text.find("\n", start)
        end = len(text) if end == -1 else end
        if end - start > MAX_LINE_CHARS:
            found.append(
                m.LINE_TOO_LONG.at(
                    path, _span(text, start, start + 1), chars=end - start, limit=MAX_LINE_CHARS
                )
            )
        start = end + 1
    return found


# Comments, quoted texts (triple-quoted first) and numbers, in one pass. A number starts where
# no name or number runs into it (`m2`, `10^9` and `ICD M32.1` hold digits that are not one).
_TOKENS = re.compile(
    r"(?P<comment>\#[^\n]*)"
    r'|(?P<text>"""[\s\S]*?(?:"""|\Z)|"(?:[^"\\\n]|\\.)*"?)'
    r"|(?<![\w.])(?P<number>\d[\d.]*)"
)


def _long_tokens(text: str, path: str) -> list[Diagnostic]:
    """Quoted texts and numbers past their limits."""
    found: list[Diagnostic] = []
    for match in _TOKENS.finditer(text):
        if len(found) >= MAX_REPORTED:
            break
        if match["text"] is not None and len(match["text"]) > MAX_TEXT_CHARS:
            found.append(
                m.TEXT_TOO_LONG.at(
                    path,
                    _span(text, match.start(), match.start() + 1),
                    chars=len(match["text"]),
                    limit=MAX_TEXT_CHARS,
                )
            )
        elif match["number"] is not None:
            digits = sum(c.isdigit() for c in match["number"])
            if digits > MAX_NUMBER_DIGITS:
                found.append(
                    m.NUMBER_TOO_LONG.at(
                        path,
                        _span(text, match.start(), match.end()),
                        digits=digits,
                        limit=MAX_NUMBER_DIGITS,
                    )
                )
    return found


def check_depth(tree: lark.Tree[lark.Token], path: str) -> list[Diagnostic]:
    """A diagnostic at the first node deeper than MAX_DEPTH (measured without recursion)."""
    stack: list[tuple[lark.Tree[lark.Token] | lark.Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, lark.Tree):
            continue
        if depth > MAX_DEPTH:
            meta = node.meta
            span = Span.from_meta(meta)
            return [m.NESTED_TOO_DEEP.at(path, span, limit=MAX_DEPTH)]
        stack.extend((child, depth + 1) for child in node.children)
    return []

"""Text to Lark parse tree, with syntax errors turned into diagnostics.

The parser is loaded on first use from the tables generated ahead of time (tables.py): no
grammar analysis at run time, no work at import, nothing read by pickle. A syntax error does not
stop the run: the statement that holds it is blanked out (positions kept) and the file is parsed
again, so one run reports the syntax errors of every statement.
"""

from __future__ import annotations

import functools
import re
from contextvars import ContextVar

import attrs
import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from criteria_lang.core import messages as m
from criteria_lang.core.diagnostics import Diagnostic, Span, clip
from criteria_lang.core.kinds import CONCEPT_KINDS
from criteria_lang.syntax import limits
from criteria_lang.syntax.tables import load_parser

MAX_SYNTAX_ERRORS = 50

# A line that starts a top-level statement or a criterion: where recovery resumes.
_STATEMENT_START = re.compile(
    r"^[ \t]*(?:"
    # keywords that only start statements
    r"(?:trial|import|from|define|inclusion|exclusion|outcomes)\b"
    rf"|(?:{'|'.join(CONCEPT_KINDS)})"
    r"[ \t]+\w+[ \t]*(?:\"[^\"\n]*\"[ \t]*)?="
    r"|(?!review\b)[A-Za-z_]\w*[ \t]+\"[^\"\n]*\"[ \t]*:"  # a criterion: ID "text":
    # an outcome with options: ID "text" at visits ... / at every visit / compared to DATE
    r"|[A-Za-z_]\w*[ \t]+\"[^\"\n]*\"[ \t]+(?:at[ \t]+(?:every|visits)|compared[ \t]+to)\b"
    r")",
    re.MULTILINE,
)

# How terminals read in messages.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": 'a quoted text ("...")',
    "NUMBER": "a number",
    "QUANTITY": "a number with a unit (e.g. 40 mL/min)",
    "TITER": "a titer (e.g. 1:80)",
    "COMPARATOR": "a comparison (<, <=, >, >=, =, !=)",
    "SCALED_UNIT": "a scaled unit (e.g. 10^9/L)",
    "UNIT_TEXT": "a unit",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "DOT": "'.'",
    "VBAR": "'|'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "$END": "the end of the file",
}


@attrs.frozen
class Comment:
    """A `# ...` comment: its text (trailing blanks removed) and where it is. `own_line` when only
    blanks precede it on its line (otherwise it trails code)."""

    text: str
    span: Span
    own_line: bool


# Where the lexer puts the comments it skips, while `parse_text` is asked to collect them.
_COMMENT_SINK: ContextVar[list[lark.Token] | None] = ContextVar("_COMMENT_SINK", default=None)


def _on_comment(token: lark.Token) -> lark.Token:
    sink = _COMMENT_SINK.get()
    if sink is not None:
        sink.append(token)
    return token


@functools.cache
def parser() -> lark.Lark:
    """The one parser of this process (thread-safe to use: lark keeps no state between parses;
    the comment sink is a context variable)."""
    return load_parser(lexer_callbacks={"COMMENT": _on_comment})


def describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = parser().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"'{pattern.value}'"
    return name.lower()


def _expected_list(expected: set[str] | frozenset[str]) -> str:
    words = sorted({describe_terminal(name) for name in expected})
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words)


def _syntax_diagnostic(error: UnexpectedInput, path: str, text: str) -> Diagnostic:
    line = max(1, error.line) if error.line and error.line > 0 else 1
    column = max(1, error.column) if error.column and error.column > 0 else 1
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        lines = text.splitlines() or [""]
        line = len(lines)
        column = len(lines[-1]) + 1
        span = Span(len(text), len(text), line, column, line, column + 1)
        return m.FILE_ENDS_IN_STATEMENT.at(path, span, expected=_expected_list(error.expected))
    if isinstance(error, UnexpectedToken):
        token = error.token
        width = max(1, len(str(token)))
        span = Span(
            token.start_pos or 0, (token.start_pos or 0) + width, line, column, line, column + width
        )
        described = describe_terminal(token.type)
        what = described if described.startswith("'") else f"{described} '{clip(str(token), 60)}'"
        return m.UNEXPECTED.at(path, span, what=what, expected=_expected_list(error.expected))
    if isinstance(error, UnexpectedCharacters):
        pos = error.pos_in_stream or 0  # always set for a character Lark cannot read
        char = text[pos] if pos < len(text) else ""
        span = Span(pos, pos + 1, line, column, line, column + 1)
        allowed = error.allowed or set()
        if allowed:
            return m.UNEXPECTED_CHARACTER.at(
                path, span, char=repr(char), expected=_expected_list(allowed)
            )
        return m.STRAY_CHARACTER.at(path, span, char=repr(char))
    assert isinstance(error, UnexpectedEOF)
    span = Span(len(text), len(text), line, column, line, column + 1)
    return m.FILE_ENDS_EARLY.at(path, span)


def _statement_starts(text: str) -> list[int]:
    return [m.start() for m in _STATEMENT_START.finditer(text)]


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _starts_statement(text: str, offset: int) -> int | None:
    """If the token at `offset` belongs to the header of a statement (`E2 "..."`), that
    statement's start: the error is then the previous statement running on into this one."""
    line_start = _line_start(text, offset)
    for start in _statement_starts(text):
        if line_start <= start <= offset and not text[start:offset].strip().count(" ") > 1:
            header_end = text.find(":", start)
            if header_end == -1 or offset <= header_end:
                return start
    return None


def _blank(text: str, begin: int, end: int) -> str | None:
    if end <= begin:
        return None
    chunk = text[begin:end]
    blanked = re.sub(r"[^\n]", " ", chunk)
    if blanked == chunk:
        return None
    return text[:begin] + blanked + text[end:]


def _blank_statement(text: str, offset: int) -> str | None:
    """Blank (keep newlines) the statement around `offset`; None if nothing could be blanked."""
    starts = _statement_starts(text)
    begin = 0
    for s in starts:
        if s <= offset:
            begin = s
    following = [s for s in starts if s > offset]
    end = following[0] if following else len(text)
    return _blank(text, begin, end)


def _unfinished_previous(text: str, path: str, offset: int) -> tuple[Diagnostic, str] | None:
    """A statement header reached while an expression was still open: blame the statement
    before it (where the mistake is), and blank that one."""
    header = _starts_statement(text, offset)
    if header is None:
        return None
    previous = [s for s in _statement_starts(text) if s < header]
    if not previous:
        return None
    begin = previous[-1]
    body = text[begin:header].rstrip()
    end_offset = begin + len(body)
    line = text.count("\n", 0, end_offset) + 1
    column = end_offset - _line_start(text, end_offset) + 1
    span = Span(end_offset, end_offset + 1, line, column, line, column + 1)
    diagnostic = m.STATEMENT_ENDS_EARLY.at(path, span)
    blanked = _blank(text, begin, header)
    if blanked is None:
        return None
    return diagnostic, blanked


def parse_text(
    text: str, path: str = "<string>", *, comments: list[Comment] | None = None
) -> tuple[lark.ParseTree | None, list[Diagnostic]]:
    """Parse a rule file. Returns the tree of what parsed and a diagnostic per syntax error.

    Given a list as `comments`, fills it with the file's comments in order (the formatter and
    the lint's inline `# criteria: ignore` read them)."""
    # A UTF-8 byte order mark is not text: read as a blank, so every position stays the same.
    text = " " + text[1:] if text.startswith("\ufeff") else text
    # Limits first: a file past them is not handed to Lark at all (docs/limits.md).
    too_costly = limits.check_text(text, path)
    if too_costly:
        return None, too_costly
    if comments is None:
        return _within_depth(_parse_text(text, path), path)
    tokens: list[lark.Token] = []
    reset = _COMMENT_SINK.set(tokens)
    try:
        result = _parse_text(text, path)
    finally:
        _COMMENT_SINK.reset(reset)
    comments.extend(_comments(text, tokens))
    return _within_depth(result, path)


def _within_depth(
    result: tuple[lark.ParseTree | None, list[Diagnostic]], path: str
) -> tuple[lark.ParseTree | None, list[Diagnostic]]:
    """No tree deeper than the builder and checker can walk (they recurse once per level)."""
    tree, diagnostics = result
    if tree is not None:
        too_deep = limits.check_depth(tree, path)
        if too_deep:
            return None, diagnostics + too_deep
    return result


def _comments(text: str, tokens: list[lark.Token]) -> list[Comment]:
    """One `Comment` per position (recovery re-parses the file, so a comment can be seen twice)."""
    seen: dict[int, Comment] = {}
    for token in tokens:
        start = token.start_pos or 0
        if start in seen or text[start : start + 1] != "#":
            continue
        line_start = _line_start(text, start)
        seen[start] = Comment(
            text=str(token).rstrip(),
            span=Span.from_token(token),
            own_line=not text[line_start:start].strip(),
        )
    return [seen[k] for k in sorted(seen)]


def _parse_text(text: str, path: str) -> tuple[lark.ParseTree | None, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    current = text
    for _ in range(MAX_SYNTAX_ERRORS):
        try:
            return parser().parse(current), diagnostics
        except UnexpectedInput as error:
            offset = getattr(error, "pos_in_stream", None)
            if isinstance(error, UnexpectedToken):
                offset = error.token.start_pos if error.token.type != "$END" else len(current) - 1
                # `ID "text":` read as the tail of an open expression: the fault is above.
                if error.token.type in ("STRING", "COLON") and offset is not None:
                    previous = _unfinished_previous(current, path, offset)
                    if previous is not None:
                        diagnostics.append(previous[0])
                        current = previous[1]
                        continue
            diagnostics.append(_syntax_diagnostic(error, path, text))
            if offset is None or offset < 0:
                return None, diagnostics
            blanked = _blank_statement(current, max(0, min(offset, len(current) - 1)))
            if blanked is None or blanked == current:
                return None, diagnostics
            current = blanked
    return None, diagnostics

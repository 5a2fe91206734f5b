"""Source spans, diagnostics and their rendering: the one error type of the compiler.

Every problem in a rule file becomes a `Diagnostic` with a stable code (see docs/diagnostics.md),
a message saying what is wrong, and a `fix` sentence saying what to do about it. The compiler
collects them all and reports them together; it never raises for a bad rule file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Literal

import attrs

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


@attrs.frozen
class Span:
    """Where a node sits in its file. Lines and columns are 1-based; columns count characters."""

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def from_meta(cls, meta: object) -> Span:
        if getattr(meta, "empty", True):
            return NO_SPAN
        return cls(
            start=meta.start_pos,  # type: ignore[attr-defined]
            end=meta.end_pos,  # type: ignore[attr-defined]
            line=meta.line,  # type: ignore[attr-defined]
            column=meta.column,  # type: ignore[attr-defined]
            end_line=meta.end_line,  # type: ignore[attr-defined]
            end_column=meta.end_column,  # type: ignore[attr-defined]
        )

    @classmethod
    def from_token(cls, token: object) -> Span:
        return cls(
            start=token.start_pos or 0,  # type: ignore[attr-defined]
            end=token.end_pos or 0,  # type: ignore[attr-defined]
            line=token.line or 1,  # type: ignore[attr-defined]
            column=token.column or 1,  # type: ignore[attr-defined]
            end_line=token.end_line or token.line or 1,  # type: ignore[attr-defined]
            end_column=token.end_column or token.column or 1,  # type: ignore[attr-defined]
        )

    def join(self, other: Span) -> Span:
        if self is NO_SPAN:
            return other
        if other is NO_SPAN:
            return self
        first, last = (self, other) if self.start <= other.start else (other, self)
        return Span(first.start, last.end, first.line, first.column, last.end_line, last.end_column)


NO_SPAN = Span(0, 0, 1, 1, 1, 1)

# How much of a value or source line a message shows (docs/limits.md): a 5 MB line or a 1 MB
# code in a record must not become a 5 MB message.
CLIP_LIMIT = 200


def _short(text: str) -> str:
    return clip(text, 2 * CLIP_LIMIT)


def clip(text: str, limit: int = CLIP_LIMIT) -> str:
    """`text` cut to `limit` characters, saying how long it was when it was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


@attrs.frozen
class Edit:
    """A fix as data: replace the text at `span` with `text` (an empty span inserts). Editors
    offer it as a quick fix; the `fix` sentence of the diagnostic says the same in words."""

    span: Span
    text: str

    def to_dict(self) -> dict[str, object]:
        return {
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "text": self.text,
        }


def end_of(span: Span) -> Span:
    """The empty span just after `span` (where an `Edit` inserts text)."""
    return Span(span.end, span.end, span.end_line, span.end_column, span.end_line, span.end_column)


@attrs.frozen
class Diagnostic:
    code: str
    severity: Severity
    # Cut to a few hundred characters: a message that quotes a 9,000-character name (or a
    # value from data) must not repeat it whole, in text or JSON output (docs/limits.md).
    message: str = attrs.field(converter=_short)
    fix: str = attrs.field(converter=_short)
    file: str
    span: Span
    edits: tuple[Edit, ...] = attrs.field(default=(), kw_only=True)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.span.line, self.span.column, self.code)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "file": self.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "edits": [edit.to_dict() for edit in self.edits],
        }


class CompileError(Exception):
    """Raised by the API when a rule file has errors; carries every diagnostic of the run."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = sources or {}
        super().__init__(render_all(self.diagnostics, self.sources))


def render(diagnostic: Diagnostic, source: str | None) -> str:
    """`file:line:col: error C201: message`, the source line, a caret line and the fix."""
    span = diagnostic.span
    head = (
        f"{diagnostic.file}:{span.line}:{span.column}: "
        f"{diagnostic.severity} {diagnostic.code}: {diagnostic.message}"
    )
    lines = [head]
    if source is not None:
        source_lines = source.splitlines()
        if 1 <= span.line <= len(source_lines):
            text = source_lines[span.line - 1].expandtabs(1)
            width = 1
            if span.end_line == span.line and span.end_column > span.column:
                width = span.end_column - span.column
            width = max(1, min(width, len(text) - span.column + 1))
            shown, column, width = _window(text, span.column, width)
            gutter = f"{span.line:>5} | "
            lines.append(gutter + shown)
            lines.append(" " * (len(gutter) + column - 1) + "^" * width)
    if diagnostic.fix:
        lines.append(f"      = help: {diagnostic.fix}")
    return "\n".join(lines)


def _window(text: str, column: int, width: int) -> tuple[str, int, int]:
    """At most CLIP_LIMIT characters of a source line around the caret (a 5 MB line must not
    be printed whole), with the caret's column and width in what is shown."""
    if len(text) <= CLIP_LIMIT:
        return text, column, width
    start = max(0, min(column - 1 - CLIP_LIMIT // 3, len(text) - CLIP_LIMIT))
    end = start + CLIP_LIMIT
    before = "..." if start > 0 else ""
    after = "..." if end < len(text) else ""
    shown_width = max(1, min(width, end - (column - 1)))
    return before + text[start:end] + after, len(before) + column - start, shown_width


def render_all(diagnostics: Iterable[Diagnostic], sources: dict[str, str]) -> str:
    return "\n\n".join(render(d, sources.get(d.file)) for d in diagnostics)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return matches[0] if matches else None


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)

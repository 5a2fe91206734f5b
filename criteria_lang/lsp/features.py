"""What the language server answers, as plain functions of an analysed document.

Hover, definition, references and the outline work on character offsets and our spans; the
server converts them to LSP positions. Each takes an `Analysis` (adapter.py) and its
`DocumentIndex` (index.py) and never raises for what a document holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import attrs

from criteria_lang.core.diagnostics import Span
from criteria_lang.lsp.adapter import Analysis, Target, importable_modules, unit_dimension
from criteria_lang.lsp.index import DocumentIndex, Occurrence, index_document
from criteria_lang.syntax import nodes as n

MAX_CODES_SHOWN = 12


@attrs.frozen(eq=False)
class Document:
    """An analysed document and the index of what is written in it."""

    analysis: Analysis
    index: DocumentIndex

    @classmethod
    def of(cls, analysis: Analysis) -> Document:
        return cls(analysis, index_document(analysis.rule_file, analysis.text))

    @property
    def path(self) -> str:
        return self.analysis.path


@attrs.frozen
class Location:
    """A place in a file: character offsets (`start` = `end` = 0 for the file's top)."""

    path: str
    start: int
    end: int


@attrs.frozen
class Hover:
    markdown: str
    start: int
    end: int


# ---------------------------------------------------------------------------- resolution


def target_of(document: Document, occurrence: Occurrence) -> Target | None:
    if occurrence.kind in ("name", "declaration"):
        return document.analysis.resolve(occurrence.parts)
    if occurrence.kind == "module":
        return _module_target(document.path, occurrence.parts)
    return None


def _module_target(path: str, parts: tuple[str, ...]) -> Target | None:
    wanted = ".".join(parts)
    for name, file in importable_modules(path):
        if name == wanted:
            return Target("module", name, file, _TOP)
    return None


_TOP = Span(0, 0, 1, 1, 1, 1)


def _date_declaration(document: Document, name: str) -> n.Name | None:
    for date in document.analysis.dates:
        if date.text == name:
            return date
    return None


# ---------------------------------------------------------------------------- hover


def hover(document: Document, offset: int) -> Hover | None:
    occurrence = document.index.at(offset)
    if occurrence is None:
        return None
    text = _hover_text(document, occurrence)
    return None if text is None else Hover(text, occurrence.start, occurrence.end)


def _hover_text(document: Document, occurrence: Occurrence) -> str | None:
    if occurrence.kind == "criterion" and occurrence.criterion is not None:
        criterion = occurrence.criterion
        return f"**{criterion.section} criterion {criterion.id.text}**\n\n> {criterion.text}"
    if occurrence.kind == "unit":
        dimension = unit_dimension(occurrence.text)
        if dimension is None:
            return f"`{occurrence.text}`: not a unit criteria-lang knows (see docs/units.md)"
        return f"unit `{occurrence.text}`: {dimension}"
    if occurrence.kind == "date":
        return _date_hover(document, occurrence.text)
    target = target_of(document, occurrence)
    return None if target is None else describe(target, document.path)


def _date_hover(document: Document, name: str) -> str:
    declared = _date_declaration(document, name)
    index = " (the index date)" if document.analysis.index_date == name else ""
    if declared is None:
        return f"`{name}`: not one of the trial's dates"
    return f"trial date `{name}`{index}\n\ndeclared in the trial header, line {declared.span.line}"


def describe(target: Target, here: str) -> str:
    """A target in Markdown: what it is, its codes and unit, where it is defined."""
    if target.kind == "concept":
        head = f"**{target.concept_kind} concept** `{target.name}`"
    else:
        head = f"**{target.kind}** `{target.name}`"
    lines = [head]
    if target.title:
        lines.append(f"{target.title}")
    if target.codes:
        shown = ", ".join(target.codes[:MAX_CODES_SHOWN])
        more = len(target.codes) - MAX_CODES_SHOWN
        lines.append(f"codes: {shown}" + (f" and {more} more" if more > 0 else ""))
    if target.members:
        lines.append("includes: " + ", ".join(f"`{m}`" for m in target.members))
    if target.excluded:
        lines.append("except: " + ", ".join(target.excluded[:MAX_CODES_SHOWN]))
    if target.unit:
        dimension = unit_dimension(target.unit)
        lines.append(f"unit: {target.unit}" + (f" ({dimension})" if dimension else ""))
    for key, value in target.attributes:
        lines.append(f"{key}: {value}")
    lines.append(_where(target, here))
    return "\n\n".join(lines)


def _where(target: Target, here: str) -> str:
    if target.path is None:
        return "built into criteria-lang"
    if target.path == here:
        return f"defined in this file, line {target.span.line}"
    if target.kind == "module":
        return f"module file `{Path(target.path).name}`"
    return f"defined in `{Path(target.path).name}`, line {target.span.line}"


# ---------------------------------------------------------------------------- definition


def definition(document: Document, offset: int) -> list[Location]:
    occurrence = document.index.at(offset)
    if occurrence is None:
        return []
    if occurrence.kind == "date":
        declared = _date_declaration(document, occurrence.text)
        if declared is None:
            return []
        return [Location(document.path, declared.span.start, declared.span.end)]
    if occurrence.kind == "criterion":
        return [Location(document.path, occurrence.start, occurrence.end)]
    target = target_of(document, occurrence)
    if target is None or target.path is None:
        return []
    return [Location(target.path, target.span.start, target.span.end)]


# ---------------------------------------------------------------------------- references


def references(
    document: Document, offset: int, others: Iterable[Document], include_declaration: bool
) -> list[Location]:
    """Where the thing under the cursor is used: in this document and in `others` (the other
    open documents and the workspace's rule files) for a declaration; in this document for a
    date."""
    occurrence = document.index.at(offset)
    if occurrence is None:
        return []
    if occurrence.kind in ("date", "criterion"):
        same = [
            o
            for o in document.index.of_kind(occurrence.kind)
            if o.text == occurrence.text
            and (include_declaration or not _declares_date(document, o))
        ]
        return [Location(document.path, o.start, o.end) for o in same]
    target = target_of(document, occurrence)
    if target is None:
        return []
    out: list[Location] = []
    seen: set[str] = set()
    for doc in (document, *others):
        if doc.path in seen:
            continue
        seen.add(doc.path)
        for other in doc.index.occurrences:
            if other.kind not in ("name", "declaration", "module") or (
                other.parts and other.parts[-1] != target.name.split(".")[-1]
            ):
                continue
            if other.kind == "declaration" and not include_declaration:
                continue
            found = target_of(doc, other)
            if found is not None and found.key == target.key:
                out.append(Location(doc.path, other.start, other.end))
    if include_declaration and target.path is not None and target.kind != "module":
        declaration = Location(target.path, target.span.start, target.span.end)
        if declaration not in out:
            out.insert(0, declaration)
    return out


def _declares_date(document: Document, occurrence: Occurrence) -> bool:
    declared = _date_declaration(document, occurrence.text)
    return declared is not None and declared.span.start == occurrence.start


# ---------------------------------------------------------------------------- outline

SymbolKind = Literal[
    "trial", "date", "import", "concept", "definition", "section", "criterion", "outcome"
]


@attrs.frozen
class Symbol:
    """An entry of the document's outline. `start`/`end` cover the whole statement;
    `name_start`/`name_end` its name."""

    name: str
    detail: str
    kind: SymbolKind
    start: int
    end: int
    name_start: int
    name_end: int
    children: tuple[Symbol, ...] = ()


def document_symbols(document: Document) -> list[Symbol]:
    rf = document.analysis.rule_file
    text = document.analysis.text
    out: list[Symbol] = []
    if rf.trial is not None:
        trial = rf.trial
        dates = tuple(_named("date", date, "trial date", date.span) for date in trial.dates)
        out.append(
            Symbol(
                f"trial {trial.registry_id}",
                trial.title or "",
                "trial",
                trial.span.start,
                trial.span.end,
                trial.span.start,
                trial.span.start + len("trial"),
                dates,
            )
        )
    for imp in rf.imports:
        name = ".".join(imp.module)
        out.append(
            Symbol(
                name, "import", "import", imp.span.start, imp.span.end, imp.span.start, imp.span.end
            )
        )
    for concept in rf.concepts:
        out.append(
            _named("concept", concept.name, f"{concept.kind} {concept.title or ''}", concept.span)
        )
    for define in rf.defines:
        out.append(_named("definition", define.name, define.title or "definition", define.span))
    for section in ("inclusion", "exclusion"):
        criteria = [c for c in rf.criteria if c.section == section]
        if criteria:
            out.append(_section(section, criteria, text))
    for outcome_section in rf.outcome_sections:
        outcomes = tuple(_named("outcome", o.id, o.text, o.span) for o in outcome_section.outcomes)
        span = outcome_section.span
        keyword = len("outcomes")
        out.append(
            Symbol(
                "outcomes",
                "",
                "section",
                span.start,
                span.end,
                span.start,
                span.start + keyword,
                outcomes,
            )
        )
    return sorted(out, key=lambda s: s.start)


def _named(kind: SymbolKind, name: n.Name, detail: str, span: Span) -> Symbol:
    start = min(span.start, name.span.start)
    end = max(span.end, name.span.end)
    return Symbol(name.text, detail.strip(), kind, start, end, name.span.start, name.span.end)


def _section(section: str, criteria: list[n.Criterion], text: str) -> Symbol:
    children = tuple(_named("criterion", c.id, c.text, c.span) for c in criteria)
    first, last = children[0], children[-1]
    keyword = text.rfind(section, 0, first.start)
    start = keyword if keyword != -1 else first.start
    name_end = start + len(section) if keyword != -1 else first.name_end
    return Symbol(
        section, f"{len(children)} criteria", "section", start, last.end, start, name_end, children
    )

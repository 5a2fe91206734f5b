"""Every name, date, criterion id and unit written in a document, with its span.

Hover, go to definition and find references all start by finding what is under the cursor: the
smallest occurrence whose span holds it. Occurrences come from the typed tree (syntax/nodes.py),
so a document that does not parse has only the occurrences of the statements that did.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import Literal

import attrs

from criteria_lang.core.diagnostics import NO_SPAN, Span
from criteria_lang.syntax import nodes as n

OccurrenceKind = Literal["name", "declaration", "date", "criterion", "unit", "module"]

# Fields of a `Name` that hold a trial date.
_DATE_FIELDS = frozenset({"anchor", "anchor_end", "dates", "index", "baseline"})


@attrs.frozen
class Occurrence:
    """One thing written in the document. For a dotted name (`labs.creatinine`) there is one
    occurrence per part, `parts` being the name up to that part (`("labs",)`, then
    `("labs", "creatinine")`): the cursor on `labs` means the module."""

    kind: OccurrenceKind
    start: int
    end: int
    text: str
    parts: tuple[str, ...] = ()
    criterion: n.Criterion | None = None


@attrs.frozen(eq=False)
class DocumentIndex:
    occurrences: tuple[Occurrence, ...]  # sorted by start

    def at(self, offset: int) -> Occurrence | None:
        """The innermost occurrence under `offset` (its end counts: the cursor just after a
        word is still on it)."""
        best: Occurrence | None = None
        stop = bisect.bisect_right([o.start for o in self.occurrences], offset)
        for occurrence in self.occurrences[:stop]:
            if occurrence.start <= offset <= occurrence.end:
                if best is None or occurrence.end - occurrence.start < best.end - best.start:
                    best = occurrence
        return best

    def of_kind(self, kind: OccurrenceKind) -> Iterator[Occurrence]:
        return (o for o in self.occurrences if o.kind == kind)


def index_document(rule_file: n.RuleFile, text: str) -> DocumentIndex:
    found: list[Occurrence] = []
    tops: list[object] = [rule_file.trial] if rule_file.trial is not None else []
    tops += [
        *rule_file.concepts,
        *rule_file.defines,
        *rule_file.criteria,
        *rule_file.outcome_sections,
    ]
    for top in tops:
        _visit(top, None, "", text, found)
    for imp in rule_file.imports:
        found.extend(_import(imp, text))
    return DocumentIndex(tuple(sorted(found, key=lambda o: (o.start, o.end))))


def _visit(node: object, parent: object, field: str, text: str, out: list[Occurrence]) -> None:
    if isinstance(node, n.Ref):
        out.extend(_ref_parts(node.parts, node.span, text, "name"))
        return
    if isinstance(node, n.VisitAnchor):
        return  # `visit`, `previous visit`: keywords, not trial dates
    if isinstance(node, n.Name):
        out.extend(_name(node, parent, field))
        return
    if isinstance(node, n.QuantityLit) and node.unit is not None:
        if node.unit_span is not NO_SPAN:
            out.append(_occurrence("unit", node.unit_span, node.unit))
    elif isinstance(node, n.UnitLit):
        out.append(_occurrence("unit", node.span, node.unit))
    if not attrs.has(type(node)):
        return
    for attribute in attrs.fields(type(node)):  # type: ignore[arg-type]
        if attribute.name == "span":
            continue
        value = getattr(node, attribute.name)
        for child in value if isinstance(value, tuple) else (value,):
            if attrs.has(type(child)):
                _visit(child, node, attribute.name, text, out)


def _name(name: n.Name, parent: object, field: str) -> Iterator[Occurrence]:
    if name.span is NO_SPAN:
        return
    if isinstance(parent, n.Criterion) and field == "id":
        yield attrs.evolve(_occurrence("criterion", name.span, name.text), criterion=parent)
    elif isinstance(parent, (n.ConceptDecl, n.Define, n.Outcome)) and field in ("name", "id"):
        yield _occurrence("declaration", name.span, name.text, (name.text,))
    elif field in _DATE_FIELDS:
        yield _occurrence("date", name.span, name.text)


def _occurrence(
    kind: OccurrenceKind, span: Span, text: str, parts: tuple[str, ...] = ()
) -> Occurrence:
    return Occurrence(kind, span.start, span.end, text, parts)


def _ref_parts(
    parts: tuple[str, ...], span: Span, text: str, kind: OccurrenceKind
) -> Iterator[Occurrence]:
    """One occurrence per part of a dotted name, found in the text the span covers (the
    grammar allows blanks around the dots)."""
    if span is NO_SPAN:
        return
    position = span.start
    for i, part in enumerate(parts):
        match = re.compile(rf"\b{re.escape(part)}\b").search(
            text, position, max(span.end, position)
        )
        if match is None:
            return
        yield Occurrence(kind, match.start(), match.end(), part, parts[: i + 1])
        position = match.end()


_IMPORT_HEAD = re.compile(r"(import|from)\s+")


def _import(imp: n.Import, text: str) -> Iterator[Occurrence]:
    """`import labs as l`: the module's name (each part), the alias; `from labs import a, b`:
    the module and each imported name."""
    if imp.span is NO_SPAN:
        return
    head = _IMPORT_HEAD.match(text, imp.span.start)
    if head is None:
        return
    dotted = re.compile(r"\s*\.\s*".join(re.escape(p) for p in imp.module))
    match = dotted.match(text, head.end())
    if match is not None:
        spot = Span(match.start(), match.end(), 1, 1, 1, 1)
        yield from _ref_parts(imp.module, spot, text, "module")
    if imp.alias is not None:
        yield _occurrence("name", imp.alias.span, imp.alias.text, (imp.alias.text,))
    for name in imp.names:
        yield _occurrence("name", name.span, name.text, (name.text,))

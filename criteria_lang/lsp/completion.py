"""Completion: what may be typed at the cursor.

The context is read from the text before the cursor (the buffer being typed is usually broken),
and the names from the last analysis of the document that compiled (`Analysis`):

* after `import` / `from`: the modules the search path finds; after `from m import`: m's names;
* after `labs.`: the module's declarations (only concepts of the right kind after `lab`, etc.);
* after a number compared with a concept's value: units that convert to the concept's unit
  (`latest lab labs.creatinine ... > 1.5 ` offers mg/dL, g/L, umol/L, ...); after a dose: dose
  units; after a duration: days, weeks, months, years;
* after `before`, `after`, `around`, `at`, `from`, `to`: the trial's dates;
* elsewhere: keywords and the names in scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import attrs

from criteria_lang.lsp.adapter import (
    Analysis,
    Target,
    importable_modules,
    module_members,
    unit_dimension,
    units_like,
)
from criteria_lang.syntax.keywords import keyword_categories, keywords

ItemKind = Literal["module", "concept", "definition", "date", "unit", "keyword", "value", "outcome"]

# The shapes of a dose (docs/language.md, "Doses"): an amount, per day/week/month, per kg, per m2.
DOSE_UNITS: tuple[str, ...] = (
    "mg", "g", "mg/day", "g/day", "mg/week", "mg/month", "mg/kg", "mg/kg/day", "mg/m2", "IU",
    "IU/day", "IU/kg",
)  # fmt: skip
TIME_UNITS = ("days", "weeks", "months", "years")
AGE_UNITS = ("years", "months")
# Query keyword -> the kind of concept it reads (`medication` reads drugs).
QUERY_KINDS = {"medication": "drug", "drug": "drug"} | {
    k: k for k in keywords("kind") if k not in ("medication", "drug")
}


@attrs.frozen
class Item:
    label: str
    kind: ItemKind
    detail: str = ""
    documentation: str = ""
    start: int = 0  # the text from `start` to the cursor is replaced by `label`
    sort: str = "5"


# What the line before the cursor ends with. `WORD` is the partial word being typed.
_PARTIAL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$|$")
_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_]\w*)*\.?)?$")
_FROM_IMPORT = re.compile(
    r"^\s*from\s+([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s+import\s+(?:[A-Za-z_]\w*\s*,\s*)*\w*$"
)
_KINDS = "|".join(sorted(QUERY_KINDS))
_MEMBER = re.compile(rf"(?:\b({_KINDS})\s+)?\b([A-Za-z_]\w*)\s*\.\s*(\w*)$")
_NUMBER_UNIT = re.compile(
    r"(?P<before>[^\s\d.]*)\s*(?P<number>\b[0-9]+(?:\.[0-9]+)?)[ \t]*"
    r"(?P<unit>[A-Za-z%µμ/\[{][\w%µμ/^.\[\]{}*]*)?$"
)
_DATE_WORD = re.compile(r"\b(before|after|around|at|from|to)\s+(\w*)$")
_DURATION_WORDS = ("within", "least", "of", "+/-", "±", "any", "and")
_QUERY = re.compile(rf"\b({_KINDS})\s+([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)")
_DERIVED = re.compile(r"\bvalue\s+([A-Za-z_]\w*)")
_STATEMENT_START = re.compile(r"^\S", re.MULTILINE)  # statements start at column 1
_CRITERION = re.compile(r'^[ \t]+[A-Za-z_]\w*[ \t]+"[^"\n]*"[ \t]*:', re.MULTILINE)


def complete(analysis: Analysis | None, text: str, offset: int, path: str) -> list[Item]:
    offset = max(0, min(offset, len(text)))
    line = text[text.rfind("\n", 0, offset) + 1 : offset]
    if _in_string_or_comment(line):
        return []
    partial = _PARTIAL.search(line)
    start = offset - (len(partial.group(0)) if partial else 0)
    if match := _IMPORT.match(line):
        return _modules(path, offset - len(match.group(1) or ""))
    if match := _FROM_IMPORT.match(line):
        module = tuple(match.group(1).split("."))
        return [_item(name, target, start) for name, target in module_members(path, module)]
    if match := _MEMBER.search(line):
        return _members(analysis, match, offset)
    statement = _statement(text, offset)
    if match := _NUMBER_UNIT.search(line):
        return _units(analysis, statement, match, offset)
    items = _keywords(start)
    if match := _DATE_WORD.search(line):
        items = _dates(analysis, text, start) + (items if match.group(1) == "at" else [])
        return items
    return items + _names(analysis, start)


def _in_string_or_comment(line: str) -> bool:
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return True
    return quoted


def _statement(text: str, offset: int) -> str:
    """The text of the statement (or criterion) the cursor is in, up to the cursor."""
    starts = [m.start() for m in _STATEMENT_START.finditer(text, 0, offset)]
    starts += [m.end() for m in _CRITERION.finditer(text, 0, offset)]
    begin = max([s for s in starts if s <= offset], default=0)
    return text[begin:offset]


def _item(name: str, target: Target, start: int, sort: str = "3") -> Item:
    kind: ItemKind
    if target.kind == "concept":
        kind, detail = "concept", f"{target.concept_kind} concept"
    elif target.kind == "definition":
        kind, detail = "definition", "definition"
    elif target.kind == "module":
        kind, detail = "module", "module"
    elif target.kind == "outcome":
        kind, detail = "outcome", "outcome"
    else:
        kind, detail = "value", "derived value"
    if target.unit:
        detail += f", {target.unit}"
    return Item(name, kind, detail, target.title or "", start, sort)


def _modules(path: str, start: int) -> list[Item]:
    return [
        Item(name, "module", "module", file, start, "1") for name, file in importable_modules(path)
    ]


def _members(analysis: Analysis | None, match: re.Match[str], offset: int) -> list[Item]:
    if analysis is None:
        return []
    query, head, partial = match.group(1), match.group(2), match.group(3)
    wanted = QUERY_KINDS.get(query) if query else None
    items = []
    for name, target in analysis.module_members(head):
        if wanted is not None and target.concept_kind != wanted:
            continue
        items.append(_item(name, target, offset - len(partial), "1"))
    return items


def _units(
    analysis: Analysis | None, statement: str, match: re.Match[str], offset: int
) -> list[Item]:
    start = offset - len(match.group("unit") or "")
    before = statement[: len(statement) - len(match.group(0))].rstrip()
    word = match.group("before") or (before.split()[-1] if before.split() else "")
    candidates: Iterable[str]
    if word in _DURATION_WORDS and not re.search(r"\b(between|value)\b[^:]*$", before):
        candidates = TIME_UNITS
    elif re.search(r"\bdose\s*(?:[<>=!]=?|between)?\s*(?:[0-9.]+\s*\w*\s+and)?\s*$", before):
        candidates = DOSE_UNITS
    elif re.search(r"\bage\s+at\s+\w+[^:]*$", before) and not _QUERY.search(before):
        candidates = AGE_UNITS
    else:
        candidates = _units_of_compared(analysis, before)
    items = []
    for rank, unit in enumerate(candidates):
        dimension = unit_dimension(unit) or ""
        items.append(Item(unit, "unit", dimension, "", start, f"0{rank:03d}"))
    return items


def _units_of_compared(analysis: Analysis | None, before: str) -> list[str]:
    """Units for the value the statement compares: the last queried concept's (or derived
    value's) unit and the units that convert to it."""
    queries = list(_QUERY.finditer(before))
    derived = list(_DERIVED.finditer(before))
    if analysis is not None:
        last = max(queries + derived, key=lambda m: m.start(), default=None)
        if last is not None:
            name = last.group(last.lastindex or 1)
            parts = tuple(p.strip() for p in name.split("."))
            target = analysis.resolve(parts)
            if target is not None and target.unit:
                return units_like(target.unit, target.molar_mass)
    from criteria_lang.core.units import COMMON_UNITS

    return list(COMMON_UNITS)


def _dates(analysis: Analysis | None, text: str, start: int) -> list[Item]:
    names: list[str] = []
    index: str | None = None
    if analysis is not None and analysis.dates:
        names = [d.text for d in analysis.dates]
        index = analysis.index_date
    else:  # the header as written, when the file has not compiled yet
        header = re.search(r"^\s*dates\s+([\w\s,]+?)\s*$", text, re.MULTILINE)
        if header:
            names = [p.strip() for p in header.group(1).split(",") if p.strip()]
    return [
        Item(name, "date", "index date" if name == index else "trial date", "", start, "0")
        for name in names
    ]


def _keywords(start: int) -> list[Item]:
    return [
        Item(word, "keyword", category.replace("_", " "), "", start, "9")
        for word, category in keyword_categories().items()
    ]


def _names(analysis: Analysis | None, start: int) -> list[Item]:
    if analysis is None:
        return []
    return [_item(name, target, start, "2") for name, target in analysis.names_in_scope()]

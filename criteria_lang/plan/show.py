"""The plan in words, for people reviewing a rule file (`criteria plan RULEFILE`).

One line per node, indented by depth: the node's name and its simple fields, then its parts.
Windows show their edges (`[screening - 6 months, screening]`), conversions their exact factors,
concept sets their name (and, at the end, their codes by system). The JSON form (`--json`,
plan/serial.py) is the complete one; this is the same plan, shorter.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import attrs

from criteria_lang.core.concepts import ConceptSet, QuantityAttr, UnitAttr
from criteria_lang.plan import model as p
from criteria_lang.plan.serial import fraction_text

INDENT = "  "


def show(plan: p.Plan) -> str:
    return "\n".join(_plan_lines(plan)) + "\n"


def _plan_lines(plan: p.Plan) -> Iterator[str]:
    yield f"plan (version {plan.version}) of {plan.source}"
    index = f"; index {plan.index_date}" if plan.index_date else ""
    yield f"trial {plan.trial}; dates {', '.join(plan.dates) or '(none)'}{index}"
    for visit in plan.schedule:
        window = f" +/- {_scalar(visit.tolerance)}" if visit.tolerance is not None else ""
        yield f'visit "{visit.name}" at {_edge(visit.target, "")}{window}'
    concepts: dict[str, ConceptSet] = {}
    if plan.definitions:
        yield ""
        yield "definitions"
        for definition in plan.definitions:
            yield f"{INDENT}{definition.id} ="
            yield from _node(definition.body, 2, concepts)
    if plan.criteria:
        yield ""
        yield "criteria"
        for criterion in plan.criteria:
            yield f'{INDENT}{criterion.section} {criterion.id} "{_clip(criterion.text)}"'
            yield from _node(criterion.expr, 2, concepts)
    if plan.outcomes:
        yield ""
        yield "outcomes"
        for outcome in plan.outcomes:
            yield (
                f'{INDENT}{outcome.id} "{_clip(outcome.text)}" {outcome.timepoints.text}, '
                f"compared to {outcome.baseline}"
            )
            if outcome.timepoints.window is not None:
                yield f"{INDENT * 2}visits in {_window(outcome.timepoints.window)}"
            yield from _node(outcome.expr, 2, concepts)
    if concepts:
        yield ""
        yield "concepts"
        seen: set[str] = set()
        pending = sorted(concepts)
        while pending:
            name = pending.pop(0)
            if name in seen:
                continue
            seen.add(name)
            concept = concepts[name]
            yield from _concept(concept)
            for other in concept.members + concept.excluded:
                if other.name not in seen:
                    concepts[other.name] = other
                    pending.append(other.name)
            pending.sort()


def _node(node: object, depth: int, concepts: dict[str, ConceptSet]) -> Iterator[str]:
    pad = INDENT * depth
    if isinstance(node, p.Window):
        yield f"{pad}{_window(node)}"
        return
    if isinstance(node, p.Conversion):
        yield f"{pad}{_conversion(node)}"
        return
    cls = type(node)
    if not attrs.has(cls):
        yield f"{pad}{_scalar(node)}"
        return
    simple: list[str] = []
    parts: list[tuple[str, object]] = []
    for field in attrs.fields(cls):
        value = getattr(node, field.name)
        if value is None or (field.default is not attrs.NOTHING and value == field.default):
            continue
        if isinstance(value, ConceptSet):
            concepts[value.name] = value
            simple.append(f"{field.name}={value.name}")
        elif _is_simple(value):
            simple.append(f"{field.name}={_scalar(value)}")
        else:
            parts.append((field.name, value))
    yield f"{pad}{cls.__name__}" + (" " + " ".join(simple) if simple else "")
    for name, value in parts:
        if isinstance(value, tuple):
            yield f"{pad}{INDENT}{name}:"
            for item in value:
                yield from _node(item, depth + 2, concepts)
        elif isinstance(value, p.Window | p.Conversion):
            yield f"{pad}{INDENT}{name}: " + (
                _window(value) if isinstance(value, p.Window) else _conversion(value)
            )
        else:
            yield f"{pad}{INDENT}{name}:"
            yield from _node(value, depth + 2, concepts)


def _is_simple(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_is_simple(v) for v in value)
    if isinstance(value, p.TrialDate | p.VisitDate | p.Duration | ConceptSet):
        return True
    return value is None or isinstance(value, str | int | Fraction)


def _scalar(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_scalar(v) for v in value) + ")"
    if isinstance(value, Fraction):
        return fraction_text(value)
    if isinstance(value, p.TrialDate | p.VisitDate):
        return value.text
    if isinstance(value, ConceptSet):
        return value.name
    if isinstance(value, p.Duration):
        return f"{fraction_text(value.amount)} {value.unit}"
    if isinstance(value, str):
        return repr(value) if " " in value or not value else value
    return str(value)


def _offset(offset: p.Offset) -> str:
    if isinstance(offset, p.Duration):
        return _scalar(offset)
    if isinstance(offset, p.Longest):
        return "max(" + ", ".join(_offset(o) for o in offset.options) + ")"
    whose = "each matched drug's own" if offset.own else offset.drug.name
    return f"{fraction_text(offset.count)} half-lives of {whose} ({offset.days} days at most)"


def _edge(edge: p.Edge | None, open_end: str) -> str:
    if edge is None:
        return open_end
    if edge.offset is None:
        return edge.anchor.text
    return f"{edge.anchor.text} {'-' if edge.sign < 0 else '+'} {_offset(edge.offset)}"


def _window(window: p.Window) -> str:
    left = "[" if window.start_inclusive else "("
    right = "]" if window.end_inclusive else ")"
    order = " (ends in either order)" if window.either_order else ""
    start = _edge(window.start, "start of record")
    end = _edge(window.end, "end of record")
    return f"{window.text}: {left}{start}, {end}{right}{order}"


def _conversion(conversion: p.Conversion) -> str:
    declared = []
    if conversion.molar_mass is not None:
        declared.append(f"molar mass {fraction_text(conversion.molar_mass)} g/mol")
    if conversion.valence is not None:
        declared.append(f"valence {fraction_text(conversion.valence)}")
    declared.extend(f"scale {scale}" for scale in conversion.scales)
    through = f" ({'; '.join(declared)})" if declared else ""
    factors = ", ".join(_unit_map(f) for f in conversion.factors)
    return f"to {conversion.target}{through}, from {factors or 'no listed unit'}"


def _unit_map(factor: p.UnitFactor) -> str:
    """`mg/dL x 10` for a factor; `Cel x 9/5 + 32` with an offset."""
    text = f"{factor.unit} x {fraction_text(factor.factor)}"
    if factor.offset:
        sign = "-" if factor.offset < 0 else "+"
        text += f" {sign} {fraction_text(abs(factor.offset))}"
    return text


def _concept(concept: ConceptSet) -> Iterator[str]:
    title = f' "{concept.title}"' if concept.title else ""
    yield f"{INDENT}{concept.name}: {concept.kind}{title}"
    for label, codes in (
        ("codes", concept.codes_by_system()),
        ("prefixes", _group(concept.prefixes)),
        ("except codes", concept.excluded_codes_by_system()),
        ("except prefixes", _group(concept.excluded_prefixes)),
    ):
        if codes:
            text = "; ".join(f"{system} {', '.join(c)}" for system, c in codes.items())
            yield f"{INDENT * 2}{label}: {text}"
    if concept.names:
        yield f"{INDENT * 2}names: {', '.join(sorted(concept.names))}"
    if concept.members:
        yield f"{INDENT * 2}members: {', '.join(m.name for m in concept.members)}"
    if concept.excluded:
        yield f"{INDENT * 2}except: {', '.join(m.name for m in concept.excluded)}"
    for name in sorted(concept.attributes):
        value = concept.attributes[name]
        if isinstance(value, UnitAttr):
            shown = value.unit
        elif isinstance(value, QuantityAttr):
            shown = f"{fraction_text(value.value)} {value.unit}"
        elif isinstance(value, Fraction):
            shown = fraction_text(value)
        else:
            shown = repr(value)
        yield f"{INDENT * 2}{name} = {shown}"


def _group(pairs: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for system, code in pairs:
        grouped.setdefault(system, []).append(code + "*")
    return {system: tuple(grouped[system]) for system in sorted(grouped)}


def _clip(text: str, width: int = 70) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 3] + "..."

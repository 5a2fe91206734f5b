"""The plan as JSON: versioned, exact, and read back into the same plan.

    {"format": "criteria-lang-plan", "version": 1, "source": ..., "trial": ...,
     "criteria": [{"node": "Criterion", "id": "I1", ..., "expr": {"node": "Between", ...}}],
     "definitions": [...], "outcomes": [...], "concepts": {"drugs.rituximab": {...}}}

Every node is an object whose `node` names its class (plan/model.py), with its fields in
declaration order. Numbers that are exact rationals (thresholds, factors, molar masses) are
strings: a terminating decimal as such ("113.12"), any other as "numerator/denominator"
("1/3"), so no reader loses exactness to floating point. Concept sets are written once, in
`concepts` (by qualified name, sorted), and referred to by that name. docs/plan.md describes
each node. `loads(dumps(plan)) == plan` for every plan (tests/test_plan.py).
"""

from __future__ import annotations

import json
import types
import typing
from fractions import Fraction
from typing import Any

import attrs

from criteria_lang.core.concepts import AttributeValue, ConceptSet, QuantityAttr, UnitAttr
from criteria_lang.plan import model as p

FORMAT = "criteria-lang-plan"
_NODES: dict[str, type] = {cls.__name__: cls for cls in p.NODE_TYPES}
_HINTS: dict[type, dict[str, Any]] = {}


class PlanFormatError(ValueError):
    """JSON that is not a plan this version can read; the message says where."""


# ---------------------------------------------------------------------- numbers


def fraction_text(value: Fraction) -> str:
    """Exact text: "113.12" when the decimal terminates, else "1/3"."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value.numerator) * (10**places // value.denominator)
    digits = str(scaled).rjust(places + 1, "0")
    text = digits if places == 0 else f"{digits[:-places]}.{digits[-places:]}"
    return ("-" if value < 0 else "") + text


def _fraction(value: object, where: str) -> Fraction:
    if not isinstance(value, str):
        raise PlanFormatError(f"{where}: expected an exact number as text, got {value!r}")
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise PlanFormatError(f"{where}: {value!r} is not an exact number") from None


# ---------------------------------------------------------------------- writing


def to_dict(plan: p.Plan) -> dict[str, Any]:
    concepts: dict[str, ConceptSet] = {}
    body = _encode(plan, concepts)
    assert isinstance(body, dict)
    body.pop("node")
    table: dict[str, Any] = {}
    pending = sorted(concepts)
    while pending:  # members and exclusions are concepts too
        name = pending.pop(0)
        if name in table:
            continue
        table[name] = _encode_concept(concepts[name], concepts)
        pending.extend(sorted(set(concepts) - set(table) - set(pending)))
    out: dict[str, Any] = {"format": FORMAT}
    out.update(body)
    out["concepts"] = {name: table[name] for name in sorted(table)}
    return out


def dumps(plan: p.Plan, *, indent: int | None = 1) -> str:
    return json.dumps(to_dict(plan), indent=indent, ensure_ascii=False) + "\n"


def _encode(value: object, concepts: dict[str, ConceptSet]) -> object:
    if isinstance(value, ConceptSet):
        known = concepts.setdefault(value.name, value)
        if known is not value and known != value:
            raise ValueError(f"two different concept sets are called {value.name!r}")
        return value.name
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, Fraction):
        return fraction_text(value)
    if isinstance(value, tuple):
        return [_encode(v, concepts) for v in value]
    cls = type(value)
    if attrs.has(cls) and cls.__name__ in _NODES:
        out: dict[str, object] = {"node": cls.__name__}
        for field in attrs.fields(cls):
            out[field.name] = _encode(getattr(value, field.name), concepts)
        return out
    raise TypeError(f"cannot write {type(value).__name__} in a plan")


def _encode_concept(concept: ConceptSet, concepts: dict[str, ConceptSet]) -> dict[str, Any]:
    for other in concept.members + concept.excluded:
        _encode(other, concepts)
    return {
        "name": concept.short_name,
        "kind": concept.kind,
        "title": concept.title,
        "codes": _by_system(concept.codes),
        "prefixes": _by_system(concept.prefixes),
        "names": sorted(concept.names),
        "excluded_codes": _by_system(concept.excluded_codes),
        "excluded_prefixes": _by_system(concept.excluded_prefixes),
        "excluded_names": sorted(concept.excluded_names),
        "members": [m.name for m in concept.members],
        "excluded": [m.name for m in concept.excluded],
        "attributes": {
            name: _encode_attribute(concept.attributes[name]) for name in sorted(concept.attributes)
        },
    }


def _by_system(pairs: typing.Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for system, code in pairs:
        grouped.setdefault(system, []).append(code)
    return {system: sorted(grouped[system]) for system in sorted(grouped)}


def _encode_attribute(value: AttributeValue) -> dict[str, str]:
    if isinstance(value, UnitAttr):
        return {"unit": value.unit}
    if isinstance(value, QuantityAttr):
        return {"quantity": fraction_text(value.value), "unit": value.unit}
    if isinstance(value, Fraction):
        return {"number": fraction_text(value)}
    return {"text": value}


# ---------------------------------------------------------------------- reading


def loads(text: str | bytes) -> p.Plan:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanFormatError(f"not JSON: {error}") from None
    return from_dict(data)


def from_dict(data: object) -> p.Plan:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PlanFormatError(f'not a plan: expected {{"format": "{FORMAT}", ...}}')
    if data.get("version") != p.PLAN_VERSION:
        raise PlanFormatError(
            f"plan version {data.get('version')!r}; this criteria-lang reads version "
            f"{p.PLAN_VERSION}"
        )
    table = data.get("concepts")
    if not isinstance(table, dict):
        raise PlanFormatError("$.concepts: expected an object of concept sets")
    reader = _Reader(table)
    body = {k: v for k, v in data.items() if k not in ("format", "concepts")}
    body["node"] = "Plan"
    plan = reader.node(body, p.Plan, "$")
    assert isinstance(plan, p.Plan)
    return plan


class _Reader:
    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.concepts: dict[str, ConceptSet] = {}
        self.building: set[str] = set()

    def concept(self, name: object, where: str) -> ConceptSet:
        if not isinstance(name, str) or name not in self.table:
            raise PlanFormatError(f"{where}: {name!r} is not in $.concepts")
        found = self.concepts.get(name)
        if found is not None:
            return found
        if name in self.building:
            raise PlanFormatError(f"$.concepts.{name}: includes itself")
        self.building.add(name)
        data = self.table[name]
        at = f"$.concepts.{name}"
        if not isinstance(data, dict):
            raise PlanFormatError(f"{at}: expected an object")
        try:
            concept = ConceptSet(
                name=name,
                short_name=_text(data["name"], f"{at}.name"),
                kind=_text(data["kind"], f"{at}.kind"),
                title=data["title"] if data["title"] is None else _text(data["title"], at),
                # The written codes are the flattened ones (members' included): as a concept's
                # own codes they match the same events (core/concepts.py keeps own codes only).
                own_codes=frozenset(_pairs(data["codes"], f"{at}.codes")),
                own_prefixes=tuple(sorted(_pairs(data["prefixes"], f"{at}.prefixes"))),
                members=tuple(self.concept(m, f"{at}.members") for m in data["members"]),
                excluded=tuple(self.concept(m, f"{at}.excluded") for m in data["excluded"]),
                own_excluded_codes=frozenset(_pairs(data["excluded_codes"], at)),
                own_excluded_prefixes=tuple(sorted(_pairs(data["excluded_prefixes"], at))),
                attributes={
                    key: _attribute(value, f"{at}.attributes.{key}")
                    for key, value in data["attributes"].items()
                },
            )
            # Names follow from the members; the written ones are checked to agree.
            names_ok = concept.names == frozenset(_texts(data["names"], f"{at}.names"))
            excluded_ok = concept.excluded_names == frozenset(_texts(data["excluded_names"], at))
        except (KeyError, TypeError, AttributeError) as error:
            raise PlanFormatError(f"{at}: malformed concept set ({error})") from None
        if not (names_ok and excluded_ok):
            raise PlanFormatError(f"{at}: names do not agree with the members")
        self.building.discard(name)
        self.concepts[name] = concept
        return concept

    def node(self, data: object, expected: object, where: str) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("node"), str):
            raise PlanFormatError(f"{where}: expected a plan node")
        cls = _NODES.get(data["node"])
        if cls is None or not _allowed(cls, expected):
            raise PlanFormatError(f"{where}: a {data['node']!r} node cannot stand here")
        hints = _hints(cls)
        values = {}
        for field in attrs.fields(cls):
            if field.name not in data:
                if field.default is attrs.NOTHING:
                    raise PlanFormatError(f"{where}: {cls.__name__} needs {field.name!r}")
                continue
            values[field.name] = self.value(
                data[field.name], hints[field.name], f"{where}.{field.name}"
            )
        unknown = set(data) - {"node"} - {f.name for f in attrs.fields(cls)}
        if unknown:
            raise PlanFormatError(f"{where}: {cls.__name__} has no {sorted(unknown)[0]!r}")
        return cls(**values)

    def value(self, data: object, hint: Any, where: str) -> object:
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            return self.union(data, typing.get_args(hint), where)
        if origin is typing.Literal:
            if data not in typing.get_args(hint) or isinstance(data, bool) != any(
                isinstance(a, bool) for a in typing.get_args(hint)
            ):
                raise PlanFormatError(f"{where}: {data!r} is not one of {typing.get_args(hint)}")
            return data
        if origin is tuple:
            args = typing.get_args(hint)
            if not isinstance(data, list):
                raise PlanFormatError(f"{where}: expected a list")
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(self.value(v, args[0], f"{where}[{i}]") for i, v in enumerate(data))
            if len(args) != len(data):
                raise PlanFormatError(f"{where}: expected {len(args)} items")
            return tuple(
                self.value(v, a, f"{where}[{i}]")
                for i, (v, a) in enumerate(zip(data, args, strict=True))
            )
        return self.simple(data, hint, where)

    def union(self, data: object, args: tuple[Any, ...], where: str) -> object:
        if data is None:
            if type(None) in args:
                return None
            raise PlanFormatError(f"{where}: may not be null")
        if isinstance(data, dict):
            return self.node(data, args, where)
        if isinstance(data, bool) and bool in args:  # `where as_needed = false`
            return data
        for arg in args:
            if arg is not type(None) and not (isinstance(arg, type) and arg.__name__ in _NODES):
                return self.value(data, arg, where)
        raise PlanFormatError(f"{where}: expected a plan node")

    def simple(self, data: object, hint: Any, where: str) -> object:
        if hint is Fraction:
            return _fraction(data, where)
        if hint is ConceptSet:
            return self.concept(data, where)
        if hint is bool:
            if not isinstance(data, bool):
                raise PlanFormatError(f"{where}: expected true or false")
            return data
        if hint is int:
            if not isinstance(data, int) or isinstance(data, bool):
                raise PlanFormatError(f"{where}: expected a whole number")
            return data
        if hint is str:
            return _text(data, where)
        if isinstance(hint, type) and hint.__name__ in _NODES:
            return self.node(data, hint, where)
        raise PlanFormatError(f"{where}: cannot read a {hint!r}")


def _allowed(cls: type, expected: object) -> bool:
    if isinstance(expected, tuple):
        return any(_allowed(cls, e) for e in expected)
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        return cls in typing.get_args(expected)
    return cls is expected


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise PlanFormatError(f"{where}: expected text, got {value!r}")
    return value


def _texts(value: object, where: str) -> list[str]:
    if not isinstance(value, list):
        raise PlanFormatError(f"{where}: expected a list of texts")
    return [_text(v, where) for v in value]


def _pairs(value: object, where: str) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        raise PlanFormatError(f"{where}: expected codes by system")
    return [(system, code) for system, codes in value.items() for code in _texts(codes, where)]


def _attribute(value: object, where: str) -> AttributeValue:
    if not isinstance(value, dict):
        raise PlanFormatError(f"{where}: expected an attribute object")
    if set(value) == {"unit"}:
        return UnitAttr(_text(value["unit"], where))
    if set(value) == {"quantity", "unit"}:
        return QuantityAttr(_fraction(value["quantity"], where), _text(value["unit"], where))
    if set(value) == {"number"}:
        return _fraction(value["number"], where)
    if set(value) == {"text"}:
        return _text(value["text"], where)
    raise PlanFormatError(f"{where}: unknown attribute form {sorted(value)}")

"""Resolved concept sets: what a concept name means in codes, and how an event is matched.

`check.py` builds a `ConceptSet` for every concept declaration (local or imported); the evaluator
and a later SQL back end both read them. Matching is by code (system + code, or a code prefix for
`"M32*"`-style hierarchies) or by the concept's own name when the data names stdlib concepts
directly (`{"code": "prednisone"}`).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import TypeVar, Union

import attrs

from criteria_lang.core.codes import Code
from criteria_lang.core.units import get_units

AttributeValue = Union[Fraction, str, "UnitAttr", "QuantityAttr"]
_MATCH_MEMO_LIMIT = 50_000
T = TypeVar("T")


@attrs.frozen
class UnitAttr:
    unit: str


@attrs.frozen
class QuantityAttr:
    value: Fraction
    unit: str


@attrs.frozen(eq=False)
class ConceptSet:
    """One concept, resolved: its codes (its members' included), exclusions, members and
    attributes. Part of the plan (docs/plan.md, "Concept sets"): engines match events with it.

    Equal when every field is equal; hashed by the qualified name (`labs.creatinine`), which is
    unique in a compiled program.
    """

    name: str  # qualified: module.name, or the local name in a rule file
    short_name: str
    kind: str  # condition | drug | lab | procedure | observation | score | fact
    title: str | None
    codes: frozenset[tuple[str, str]]
    prefixes: tuple[tuple[str, str], ...]
    names: frozenset[str]  # concept names an event may carry as Code("concept", name)
    members: tuple[ConceptSet, ...]
    excluded: tuple[ConceptSet, ...]
    excluded_codes: frozenset[tuple[str, str]]
    excluded_prefixes: tuple[tuple[str, str], ...]
    excluded_names: frozenset[str]
    attributes: dict[str, AttributeValue] = attrs.field(factory=dict)
    # `matches` remembered per codes: a batch meets the same few hundred codes again and again,
    # and readers share one Code object per code. Keyed by the codes' identities, which cost
    # nothing to hash; each entry keeps its codes alive, so no other object can take their ids
    # while it exists. Bounded; a cache, not part of the concept's meaning.
    _matched: dict[object, tuple[tuple[Code, ...], bool]] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if not isinstance(other, ConceptSet):
            return NotImplemented
        return self._fields() == other._fields()

    def _fields(self) -> tuple[object, ...]:
        return (
            self.name,
            self.short_name,
            self.kind,
            self.title,
            self.codes,
            self.prefixes,
            self.names,
            self.members,
            self.excluded,
            self.excluded_codes,
            self.excluded_prefixes,
            self.excluded_names,
            self.attributes,
        )

    def codes_by_system(self) -> dict[str, tuple[str, ...]]:
        """The included codes grouped by code system, each sorted (for SQL and for people)."""
        return _by_system(self.codes)

    def excluded_codes_by_system(self) -> dict[str, tuple[str, ...]]:
        return _by_system(self.excluded_codes)

    # ---------------------------------------------------------------- matching
    def matches_code(self, code: Code) -> bool:
        key = (code.system, code.code)
        if code.system == "concept":
            if code.code in self.excluded_names:
                return False
            return code.code in self.names
        if key in self.excluded_codes or _prefix_match(key, self.excluded_prefixes):
            return False
        return key in self.codes or _prefix_match(key, self.prefixes)

    def matches(self, codes: tuple[Code, ...]) -> bool:
        """An event matches when one of its codes is in the set and none is excluded."""
        key = id(codes[0]) if len(codes) == 1 else tuple(map(id, codes))
        known = self._matched.get(key)
        if known is not None:
            return known[1]
        return self._remember(key, codes)

    def select(self, groups: Iterable[tuple[object, tuple[Code, ...], T]]) -> list[T]:
        """The payloads of the groups whose codes match; `groups` holds (key, codes, payload)
        with key = `codes_key(codes)`. One call for all of a patient's distinct codes."""
        memo = self._matched
        out = []
        for key, codes, payload in groups:
            known = memo.get(key)
            if known is None:
                if self._remember(key, codes):
                    out.append(payload)
            elif known[1]:
                out.append(payload)
        return out

    def _remember(self, key: object, codes: tuple[Code, ...]) -> bool:
        found = self._match(codes)
        if len(self._matched) < _MATCH_MEMO_LIMIT:
            self._matched[key] = (codes, found)
        return found

    def _match(self, codes: tuple[Code, ...]) -> bool:
        hit = False
        for code in codes:
            if self._excluded(code):
                return False
            if not hit and self.matches_code(code):
                hit = True
        return hit

    def _excluded(self, code: Code) -> bool:
        if code.system == "concept":
            return code.code in self.excluded_names
        key = (code.system, code.code)
        return key in self.excluded_codes or _prefix_match(key, self.excluded_prefixes)

    # ---------------------------------------------------------------- attributes
    def attribute_for(self, codes: tuple[Code, ...], name: str) -> AttributeValue | None:
        """The attribute of the most specific member that matches `codes`, else our own."""
        for member in self.members:
            if member.matches(codes):
                found = member.attribute_for(codes, name)
                if found is not None:
                    return found
        return self.attributes.get(name)

    def leaf_for(self, codes: tuple[Code, ...]) -> ConceptSet:
        """The most specific member concept the codes match (for evidence and dose basis)."""
        for member in self.members:
            if member.matches(codes):
                return member.leaf_for(codes)
        return self

    def all_attribute_values(self, name: str) -> list[AttributeValue]:
        out: list[AttributeValue] = []
        if name in self.attributes:
            out.append(self.attributes[name])
        for member in self.members:
            out.extend(member.all_attribute_values(name))
        return out


def _by_system(codes: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for system, code in codes:
        grouped.setdefault(system, []).append(code)
    return {system: tuple(sorted(grouped[system])) for system in sorted(grouped)}


def codes_key(codes: tuple[Code, ...]) -> object:
    """A key for `ConceptSet.select`: the identities of the codes (see `_matched`)."""
    return id(codes[0]) if len(codes) == 1 else tuple(map(id, codes))


def _prefix_match(key: tuple[str, str], prefixes: tuple[tuple[str, str], ...]) -> bool:
    system, code = key
    for p_system, prefix in prefixes:
        if system == p_system and code.startswith(prefix):
            return True
    return False


def molar_mass_of(concept: ConceptSet | None) -> Fraction | None:
    if concept is None:
        return None
    attr = concept.attributes.get("molar_mass")
    if isinstance(attr, QuantityAttr):
        # Declared in g/mol in the stdlib (checked there); convert defensively.
        return get_units().convert(attr.value, attr.unit, "g/mol")
    if isinstance(attr, Fraction):
        return attr
    return None

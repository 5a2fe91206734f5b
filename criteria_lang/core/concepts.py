"""Resolved concept sets: what a concept name means in codes, and how an event is matched.

`check.py` builds a `ConceptSet` for every concept declaration (local or imported); the evaluator
and a later SQL back end both read them. Matching is by code (system + code, or a code prefix for
`"M32*"`-style hierarchies) or by the concept's own name when the data names stdlib concepts
directly (`{"code": "prednisone"}`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from typing import TypeVar, Union

import attrs

from criteria_lang.core.codes import Code
from criteria_lang.core.conversions import Basis, Scale, ScaleError, parse_scales
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

    A concept keeps only what its own declaration lists (`own_codes`, `own_prefixes`, its member
    and excluded concepts), never a copy of its members' codes: a chain of 10,000 definitions,
    each including the one before, is 10,000 small objects, not 50 million codes
    (docs/limits.md). Matching walks the members (without recursion) and remembers each answer
    per concept; the flattened views (`codes`, `names`, ...) are built only when asked for.
    """

    name: str  # qualified: module.name, or the local name in a rule file
    short_name: str
    kind: str  # condition | drug | lab | procedure | observation | score | fact
    title: str | None
    own_codes: frozenset[tuple[str, str]]
    own_prefixes: tuple[tuple[str, str], ...]
    members: tuple[ConceptSet, ...]
    excluded: tuple[ConceptSet, ...]
    own_excluded_codes: frozenset[tuple[str, str]]
    own_excluded_prefixes: tuple[tuple[str, str], ...]
    attributes: dict[str, AttributeValue] = attrs.field(factory=dict)
    # `matches` remembered per codes: a batch meets the same few hundred codes again and again,
    # and readers share one Code object per code. Keyed by the codes' identities, which cost
    # nothing to hash; each entry keeps its codes alive, so no other object can take their ids
    # while it exists. Bounded; a cache, not part of the concept's meaning.
    _matched: dict[object, tuple[tuple[Code, ...], bool]] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )
    # Whether the concept or one of its members (transitively) includes a code, per code.
    _includes: dict[tuple[str, str], bool] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )
    _flat: dict[str, object] = attrs.field(factory=dict, init=False, repr=False, eq=False)

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

    # ---------------------------------------------------------------- the concept's extent
    def reachable(self) -> list[ConceptSet]:
        """This concept and every member of its members, once each, in declaration order."""
        found: dict[int, ConceptSet] = {}
        stack = [self]
        while stack:
            node = stack.pop()
            if id(node) not in found:
                found[id(node)] = node
                stack.extend(reversed(node.members))
        return list(found.values())

    @property
    def codes(self) -> frozenset[tuple[str, str]]:
        """Every code the concept includes, its members' too (built on first use)."""
        return self._flattened(
            "codes", lambda: frozenset(c for n in self.reachable() for c in n.own_codes)
        )  # type: ignore[return-value]

    @property
    def prefixes(self) -> tuple[tuple[str, str], ...]:
        return self._flattened(  # type: ignore[return-value]
            "prefixes", lambda: tuple(sorted({p for n in self.reachable() for p in n.own_prefixes}))
        )

    @property
    def names(self) -> frozenset[str]:
        """The concept names an event may carry as Code("concept", name): its own, its members'."""
        return self._flattened(  # type: ignore[return-value]
            "names", lambda: frozenset(n.short_name for n in self.reachable())
        )

    @property
    def excluded_codes(self) -> frozenset[tuple[str, str]]:
        return self._flattened(  # type: ignore[return-value]
            "excluded_codes",
            lambda: self.own_excluded_codes | {c for e in self.excluded for c in e.codes},
        )

    @property
    def excluded_prefixes(self) -> tuple[tuple[str, str], ...]:
        return self._flattened(  # type: ignore[return-value]
            "excluded_prefixes",
            lambda: tuple(
                sorted(
                    set(self.own_excluded_prefixes) | {p for e in self.excluded for p in e.prefixes}
                )
            ),
        )

    @property
    def excluded_names(self) -> frozenset[str]:
        return self._flattened(  # type: ignore[return-value]
            "excluded_names", lambda: frozenset(n for e in self.excluded for n in e.names)
        )

    def _flattened(self, what: str, build: Callable[[], object]) -> object:
        found = self._flat.get(what)
        if found is None:
            found = self._flat[what] = build()
        return found

    # ---------------------------------------------------------------- matching
    def matches_code(self, code: Code) -> bool:
        if self._excluded(code):
            return False
        return self.includes(code)

    def includes(self, code: Code) -> bool:
        """Does the concept or a member (transitively) include `code`, exclusions aside?

        Post-order over the members with an explicit stack (no recursion, however deep the
        chain), each concept's answer remembered, so a code costs each concept once."""
        key = (code.system, code.code)
        known = self._includes.get(key)
        if known is not None:
            return known
        answers: dict[int, bool] = {}
        stack = [self]
        while stack:
            node = stack[-1]
            if id(node) in answers:
                stack.pop()
                continue
            remembered = node._includes.get(key)
            if remembered is None and node._own_includes(code, key):
                remembered = True
            if remembered is not None:
                answers[id(node)] = remembered
                stack.pop()
                continue
            pending = [m for m in node.members if id(m) not in answers]
            if pending:
                stack.extend(pending)
                continue
            answers[id(node)] = any(answers[id(m)] for m in node.members)
            if len(node._includes) < _MATCH_MEMO_LIMIT:
                node._includes[key] = answers[id(node)]
            stack.pop()
        return answers[id(self)]

    def _own_includes(self, code: Code, key: tuple[str, str]) -> bool:
        if code.system == "concept":
            return code.code == self.short_name
        return key in self.own_codes or _prefix_match(key, self.own_prefixes)

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
            if not hit and self.includes(code):
                hit = True
        return hit

    def _excluded(self, code: Code) -> bool:
        if code.system != "concept":
            key = (code.system, code.code)
            if key in self.own_excluded_codes or _prefix_match(key, self.own_excluded_prefixes):
                return True
        return any(e.includes(code) for e in self.excluded)

    # ---------------------------------------------------------------- attributes
    def attribute_for(self, codes: tuple[Code, ...], name: str) -> AttributeValue | None:
        """The attribute of the most specific member that matches `codes`, else our own: depth
        first through the matching members, in order (without recursion; a member already
        searched is not searched again)."""
        searched: set[int] = set()
        stack: list[tuple[ConceptSet, Iterator[ConceptSet]]] = [(self, iter(self.members))]
        while stack:
            node, rest = stack[-1]
            for member in rest:
                if id(member) not in searched and member.matches(codes):
                    stack.append((member, iter(member.members)))
                    break
            else:
                stack.pop()
                searched.add(id(node))
                found = node.attributes.get(name)
                if found is not None:
                    return found
        return None

    def leaf_for(self, codes: tuple[Code, ...]) -> ConceptSet:
        """The most specific member concept the codes match (for evidence and dose basis)."""
        node = self
        while True:
            deeper = next((m for m in node.members if m.matches(codes)), None)
            if deeper is None:
                return node
            node = deeper

    def all_attribute_values(self, name: str) -> list[AttributeValue]:
        return [n.attributes[name] for n in self.reachable() if name in n.attributes]


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


def valence_of(concept: ConceptSet | None) -> Fraction | None:
    """The ion's charge number a concept declares (`valence = 1`), for equivalents."""
    if concept is None:
        return None
    attr = concept.attributes.get("valence")
    if isinstance(attr, Fraction) and attr > 0:
        return attr
    return None


def scales_of(concept: ConceptSet | None) -> tuple[Scale, ...]:
    """The other scales a concept declares (`scales = "mmol/mol: 0.09148 x + 2.152"`), into its
    canonical unit; none when it has no unit or the text cannot be read (the checker says so)."""
    if concept is None:
        return ()
    text, unit = concept.attributes.get("scales"), concept.attributes.get("unit")
    if not isinstance(text, str) or not isinstance(unit, UnitAttr):
        return ()
    try:
        return parse_scales(text, unit.unit)
    except ScaleError:
        return ()


@functools.lru_cache(maxsize=4096)
def basis_of(concept: ConceptSet | None) -> Basis:
    """What a concept says about converting its values: molar mass, valence, scales
    (docs/units.md, "Units with meaning"); `Basis()` when nothing."""
    if concept is None:
        return Basis()
    return Basis(molar_mass_of(concept), valence_of(concept), scales_of(concept))

"""What a plan can use from a record, for readers that skip the rest (records/relevance.py).

Every concept set anywhere in the plan (queries, daily doses, new grades, their members) and
every measurement a derived value reads (weight, height, creatinine, ...; weight and height also
for doses per kg or per m2) makes the codes it holds wanted; nothing else can be matched by the
engine, so a record part none of whose codes is wanted cannot change a result. The records'
coverage is kept exact by the reader (records/fhir.py, `settle`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from criteria_lang.core.codes import Code
from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.derived import BUILTINS, WEIGHT, Input
from criteria_lang.engine.context import AbsencePolicy, input_codes_match
from criteria_lang.plan import model as p
from criteria_lang.records.relevance import Relevance


def relevance_of(plan: p.Plan, policy: AbsencePolicy) -> Relevance:
    concepts: dict[str, ConceptSet] = {}
    inputs: dict[str, Input] = {}
    for node in _walk(plan):
        if isinstance(node, ConceptSet):
            concepts.setdefault(node.name, node)
        elif isinstance(node, Input):
            inputs.setdefault(node.key, node)
        elif isinstance(node, p.DoseFilter) and node.shape != "amount":
            # Per kg: the weight nearest the exposure; per m2: the body surface area.
            inputs.setdefault(WEIGHT.key, WEIGHT)
            for spec in BUILTINS["bsa"].inputs:
                inputs.setdefault(spec.key, spec)
    matchers: list[Callable[[Code], bool]] = [c.matches_code for c in concepts.values()]
    matchers += [_input_matcher(spec) for spec in inputs.values()]
    return Relevance(matchers, coverage=policy != "closed-world")


def _input_matcher(spec: Input) -> Callable[[Code], bool]:
    return lambda code: input_codes_match(spec, (code,))


def _walk(node: Any) -> Iterator[Any]:
    """Every attrs node, concept set and tuple item under `node` (members included)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend(item)
            continue
        if not attrs.has(type(item)) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        for field in attrs.fields(type(item)):
            if field.name.startswith("_"):
                continue
            stack.append(getattr(item, field.name))

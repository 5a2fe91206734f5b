"""What the rules can use, for readers that skip the rest before building it.

A reader given a `Relevance` (criteria_lang.engine.relevance builds one from a plan) may skip a
record part none of whose codes any of the rules' concepts (or the inputs of their derived
values) holds: no query can match it, so reading it (units, numbers, dates) would be wasted.
Skipped parts are still counted (records/fhir.py: "not used by these rules"). The answer is
remembered per Code object (the readers share one per distinct code).

A Relevance answers conservatively: a code is wanted when any concept holds it, whatever the
event's kind and even if another of the event's codes is excluded; only events none of whose
codes could match anything are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from criteria_lang.core.codes import Code

SKIPPED = "not used by these rules"
_LIMIT = 200_000


class Relevance:
    """A set of predicates over codes; a code is wanted when one of them holds."""

    __slots__ = ("matchers", "memo", "coverage")

    def __init__(self, matchers: Sequence[Callable[[Code], bool]], *, coverage: bool) -> None:
        self.matchers = tuple(matchers)
        # Does the rules' judging of absence use the record's coverage? (Not under the
        # closed-world policy.) A FHIR record's coverage is computed from its events' dates,
        # so then a skipped resource that may lie outside them is read after all.
        self.coverage = coverage
        # id(code) -> (the code, the answer): the entry keeps the code alive, so its id is its.
        self.memo: dict[int, tuple[Code, bool]] = {}

    def wants_code(self, code: Code) -> bool:
        known = self.memo.get(id(code))
        if known is not None:
            return known[1]
        answer = any(matches(code) for matches in self.matchers)
        if len(self.memo) >= _LIMIT:
            self.memo.clear()
        self.memo[id(code)] = (code, answer)
        return answer

"""Codes matched to the rules' concepts once per distinct code for a whole run, not per event.

A screening run meets the same few hundred codes in every patient. `ConceptIndex` (one per
Evaluator, shared by every patient's Context) remembers, for each distinct set of codes an event
carries, which of the concepts the rules ask about (per event kind) it belongs to. A patient's
events are then indexed by concept in one pass: one dictionary lookup an event, whatever the
number of concepts (docs/performance.md).

Keys are the identities of the codes (the readers share one Code object per distinct code, see
records/patient_json.py and records/fhir.py); each entry keeps its codes alive, so no other
object can take their ids while the entry exists. Equal codes that are not shared only make more
entries, never a wrong one. The table is bounded: past `LIMIT` entries it starts again.
"""

from __future__ import annotations

from collections.abc import Callable

from criteria_lang.core.codes import Code

LIMIT = 100_000
Matcher = Callable[[tuple[Code, ...]], bool]


def codes_key(codes: tuple[Code, ...]) -> object:
    """The identities of the codes (an event without codes: the empty tuple)."""
    if len(codes) == 1:
        return id(codes[0])
    return tuple(map(id, codes))


class ConceptIndex:
    """For each event kind: the matchers (concepts, derived-value inputs) asked about so far,
    and which of them each distinct set of codes matches."""

    __slots__ = ("matchers", "memo")

    def __init__(self) -> None:
        self.matchers: dict[str, dict[str, Matcher]] = {}
        self.memo: dict[str, dict[object, tuple[tuple[Code, ...], tuple[str, ...]]]] = {}

    def knows(self, kind: str, name: str) -> bool:
        found = self.matchers.get(kind)
        return found is not None and name in found

    def add(self, kind: str, name: str, matches: Matcher) -> None:
        """Ask about one more concept: what is remembered for its kind is worked out again."""
        self.matchers.setdefault(kind, {})[name] = matches
        self.memo.pop(kind, None)

    def memo_for(self, kind: str) -> dict[object, tuple[tuple[Code, ...], tuple[str, ...]]]:
        """What is remembered for `kind`: codes key -> (the codes, the names they match)."""
        memo = self.memo.get(kind)
        if memo is None:
            memo = self.memo[kind] = {}
        return memo

    def names(self, kind: str, codes: tuple[Code, ...]) -> tuple[str, ...]:
        """The names of the matchers of `kind` that `codes` match."""
        memo = self.memo_for(kind)
        key = codes_key(codes)
        known = memo.get(key)
        if known is not None:
            return known[1]
        found = tuple(
            name
            for name, matches in self.matchers.get(kind, {}).items()
            if codes and matches(codes)
        )
        if len(memo) >= LIMIT:
            memo.clear()
        memo[key] = (codes, found)
        return found

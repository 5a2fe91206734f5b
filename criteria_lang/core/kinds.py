"""The kinds of events: one table for the language, the records and the engines.

Events and queries name a kind `medication`; a concept declaration names its kind `drug` (a
drug concept is queried with `medication`). Everything else that knows kinds -- the grammar's
recovery pattern, the builder, the checker's messages, the timeline, the plan, the engine's
absence rule -- reads this table (docs/language.md, "Queries", "Unknown and absence").
"""

from __future__ import annotations

from typing import Literal

import attrs

EventKind = Literal[
    "condition",
    "medication",
    "lab",
    "procedure",
    "observation",
    "score",
    "fact",
    "immunization",
    "allergy",
]
ConceptKind = Literal[
    "condition",
    "drug",
    "lab",
    "procedure",
    "observation",
    "score",
    "fact",
    "vaccine",
    "allergy",
]


@attrs.frozen
class Kind:
    event: EventKind  # as events and queries name it
    concept: ConceptKind  # as concept declarations name it
    # Inside the record's coverage, no event means it did not happen (docs: "Unknown and
    # absence"); for the others (measured or recorded by staff) no event is unknown.
    absence_is_evidence: bool
    # Other concept kinds a query of this kind may name: an allergy is to a substance, which
    # may be a drug or a vaccine (docs/language.md, "Immunizations and allergies").
    also_reads: tuple[ConceptKind, ...] = ()
    # Other event kinds a query of this kind reads: a vaccination recorded as a medication is a
    # vaccination.
    also_matches: tuple[EventKind, ...] = ()
    # Its events carry results (values): series, trends and persistence read them.
    results: bool = False


KINDS: tuple[Kind, ...] = (
    Kind("condition", "condition", True),
    Kind("medication", "drug", True),
    Kind("lab", "lab", False, results=True),
    Kind("procedure", "procedure", True),
    Kind("observation", "observation", False, results=True),
    Kind("score", "score", False, results=True),
    Kind("fact", "fact", False),
    Kind("immunization", "vaccine", True, also_matches=("medication",)),
    # An allergy recorded on the problem list, as a condition, is an allergy too.
    Kind("allergy", "allergy", True, also_reads=("drug", "vaccine"), also_matches=("condition",)),
)

EVENT_KINDS: tuple[EventKind, ...] = tuple(k.event for k in KINDS)
CONCEPT_KINDS: tuple[ConceptKind, ...] = tuple(k.concept for k in KINDS)
# Query kind -> the concept kind it reads, and back.
CONCEPT_KIND_OF: dict[EventKind, ConceptKind] = {k.event: k.concept for k in KINDS}
EVENT_KIND_OF: dict[ConceptKind, EventKind] = {k.concept: k.event for k in KINDS}
ABSENCE_IS_EVIDENCE: frozenset[str] = frozenset(k.event for k in KINDS if k.absence_is_evidence)
RESULT_KINDS: frozenset[str] = frozenset(k.event for k in KINDS if k.results)
# Query kind -> every concept kind it may name, and every event kind it reads.
CONCEPT_KINDS_READ: dict[EventKind, tuple[ConceptKind, ...]] = {
    k.event: (k.concept, *k.also_reads) for k in KINDS
}
EVENT_KINDS_READ: dict[EventKind, tuple[EventKind, ...]] = {
    k.event: (k.event, *k.also_matches) for k in KINDS
}


def event_kind(word: str) -> EventKind:
    """The event kind a word names: `drug` and `medication` are both medications."""
    for kind in KINDS:
        if word in (kind.event, kind.concept):
            return kind.event
    raise ValueError(f"{word!r} is not a kind of event")


def concept_kind(word: str) -> ConceptKind:
    """The concept kind a word names (`medication` is `drug`)."""
    return CONCEPT_KIND_OF[event_kind(word)]

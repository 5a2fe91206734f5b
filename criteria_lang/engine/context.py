"""Per-patient state while a plan runs: the record indexed once, dates, coverage, memo."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Literal, assert_never

from criteria_lang.core.codes import Code
from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.conversions import Basis
from criteria_lang.core.derived import Input
from criteria_lang.core.kinds import EVENT_KINDS_READ, EventKind
from criteria_lang.core.units import UnitError, get_units
from criteria_lang.engine.evidence import describe_event, unit_problem
from criteria_lang.engine.index import ConceptIndex, Matcher
from criteria_lang.engine.schedule import Schedule, on_time
from criteria_lang.engine.values import MissingData, convert_quantity, fmt_date
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import (
    Event,
    Measurement,
    Patient,
    Quantity,
    Visit,
    find_visit,
)

# docs/language.md, "Unknown and absence": the default judges absence inside the record's
# coverage; closed-world treats every absent condition, medication and procedure as absent.
AbsencePolicy = Literal["coverage", "closed-world"]
CodeGroup = tuple[object, tuple[Code, ...], list[int]]
# The event an EventDate picks for a patient (raises MissingData / NoEvent when there is none):
# compiled by the engine's Compiler, which the context asks for each such date.
EventFinder = Callable[[p.EventDate], Callable[["Context"], Event]]


def no_finder(anchor: p.EventDate) -> Callable[[Context], Event]:
    raise MissingData(f"the date of {anchor.text} cannot be worked out here")


class Context:
    """Per-patient state: the record, indexes built once, memoized query results."""

    __slots__ = (
        "patient",
        "policy",
        "by_kind",
        "memo",
        "criterion_id",
        "units",
        "visit",
        "previous_visit",
        "find_event",
        "related",
        "index",
        "by_concept",
        "schedule",
    )

    def __init__(
        self,
        patient: Patient,
        policy: AbsencePolicy,
        *,
        visit: Visit | None = None,
        previous_visit: Visit | None = None,
        find_event: EventFinder = no_finder,
        index: ConceptIndex | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        self.find_event = find_event
        # The events `it` names, innermost last (docs: "Events related to events").
        self.related: list[Event] = []
        # `visit` is the visit being judged when an outcome is evaluated (docs: "Outcomes").
        self.visit = visit
        self.previous_visit = previous_visit
        self.patient = patient
        self.policy = policy
        by_kind: dict[str, list[Event]] = {}
        for event in patient.events:
            by_kind.setdefault(event.kind, []).append(event)
        for events in by_kind.values():
            events.sort(key=lambda e: e.start)
        self.by_kind = by_kind
        self.memo: dict[Any, Any] = {}
        self.criterion_id = ""
        self.units = get_units()
        # Shared by every patient of a run (the Evaluator's): codes matched once per code.
        self.index = index if index is not None else ConceptIndex()
        self.by_concept: dict[str, dict[str, list[Event]]] = {}
        # The protocol's visit schedule: a visit done outside its window is not that visit.
        self.schedule: Schedule = schedule or {}

    # ------------------------------------------------------------------ dates
    def date(self, anchor: p.Anchor) -> dt.date:
        match anchor:
            case p.TrialDate(name=name):
                day = self.patient.dates.get(name)
                if day is None:
                    raise MissingData(f"the patient's {name} date is not recorded")
                return day
            case p.VisitDate():
                return self.visit_date(anchor)
            case p.BirthDate():
                if self.patient.birth_date is None:
                    raise MissingData("the birth date is not recorded")
                return self.patient.birth_date
            case p.EventDate() | p.ThisEvent():
                return self.event_of(anchor).start
            case p.EndOf():
                last = self.last_day(anchor)
                if last is None:
                    raise MissingData(f"{anchor.of.text} has no end recorded (it is ongoing)")
                return last
            case _:
                assert_never(anchor)

    def event_of(self, anchor: p.EventDate | p.ThisEvent) -> Event:
        """The event a date stands for: `it`, or the one an EventDate picks (once per context)."""
        if isinstance(anchor, p.ThisEvent):
            if not self.related:
                raise MissingData("`it` names no event here")
            return self.related[-1]
        key = ("event date", anchor)
        found = self.memo.get(key)
        if found is None:
            try:
                found = self.find_event(anchor)(self)
            except MissingData as missing:
                found = missing
            self.memo[key] = found
        if isinstance(found, MissingData):
            raise found
        event: Event = found
        return event

    def last_day(self, anchor: p.EndOf) -> dt.date | None:
        """The event's last day; None when it has none (an ongoing exposure, a condition with
        no abatement recorded): a window's end there is open."""
        event = self.event_of(anchor.of)
        return event.end

    def visit_date(self, anchor: p.VisitDate) -> dt.date:
        """The date a visit anchor names: the judged visit, the one before it, or a named one
        (docs/language.md, "The visit as a date")."""
        if anchor.which == "current":
            if self.visit is None:
                raise MissingData("no visit is being judged (`visit` is for outcomes)")
            return self.visit.date
        if anchor.which == "previous":
            if self.visit is None:
                raise MissingData("no visit is being judged (`previous visit` is for outcomes)")
            if self.previous_visit is None:
                visit = self.visit
                raise MissingData(
                    f"the patient has no visit before {visit.name} ({fmt_date(visit.date)})"
                )
            return self.previous_visit.date
        wanted = anchor.name or ""
        found = find_visit(self.patient.visits, wanted)
        if found is None:
            raise MissingData(f"the patient has no visit named '{wanted}'")
        timing = on_time(self.schedule, self.patient, found)
        if timing is not None and timing.inside is not True:
            raise MissingData(timing.why)  # docs: "The visit schedule"
        return found.date

    # ------------------------------------------------------------------ events
    def query_events(self, kind: EventKind, concept: ConceptSet) -> list[Event]:
        """The events a query of `kind` reads: of that kind, and of the kinds it also reads (a
        vaccination recorded as a medication; core/kinds.py), by date."""
        kinds = EVENT_KINDS_READ.get(kind, (kind,))
        if len(kinds) == 1:
            return self.events(kind, concept)
        key = ("query events", kind, concept.name)
        found: list[Event] | None = self.memo.get(key)
        if found is None:
            merged = [e for k in kinds for e in self.events(k, concept)]
            found = self.memo[key] = sorted(merged, key=lambda e: e.start)
        return found

    def events(self, kind: str, concept: ConceptSet) -> list[Event]:
        """The patient's events of `kind` that match `concept`, by date (then record order)."""
        key = (kind, concept.name)
        found: list[Event] | None = self.memo.get(key)
        if found is None:
            table = self.indexed(kind, concept.name, concept.matches)
            found = self.memo[key] = table.get(concept.name, [])
        return found

    def indexed(self, kind: str, name: str, matches: Matcher) -> dict[str, list[Event]]:
        """The patient's events of `kind` by the name of each concept they match, in one pass
        over them (engine/index.py); `name` (matched by `matches`) is one of the concepts."""
        index = self.index
        if not index.knows(kind, name):
            index.add(kind, name, matches)
            self.by_concept.pop(kind, None)
        table = self.by_concept.get(kind)
        if table is None:
            table = {}
            known = index.memo_for(kind)  # inlined `index.names`: this runs once an event
            for event in self.by_kind.get(kind, ()):
                codes = event.codes
                key = id(codes[0]) if len(codes) == 1 else tuple(map(id, codes))
                entry = known.get(key)
                hits = entry[1] if entry is not None else index.names(kind, codes)
                for hit in hits:
                    events = table.get(hit)
                    if events is None:
                        table[hit] = [event]
                    else:
                        events.append(event)
            self.by_concept[kind] = table
        return table

    # ------------------------------------------------------------------ coverage
    def covered(self, start: dt.date | None, end: dt.date | None) -> bool:
        """Does the record cover [start, end]? An open start means "since the record began"
        (only the end must be covered); see docs/language.md, "Unknown and absence"."""
        if self.policy == "closed-world":
            return True
        spans = self.patient.coverage
        if not spans:
            return False
        if start is None:
            return end is None or any(s.contains(end) for s in spans)
        if end is None:
            end = max((s.end for s in spans if s.end is not None), default=start)
            if any(s.end is None and s.start <= start for s in spans):
                return True
        # Walk the spans in order, extending the covered prefix from `start` (in day numbers:
        # the day before 0001-01-01 and after 9999-12-31 are no dates).
        reach, last = start.toordinal() - 1, end.toordinal()
        for span in sorted(spans, key=lambda s: s.start):
            if span.start.toordinal() <= reach + 1:
                if span.end is None:
                    return True
                reach = max(reach, span.end.toordinal())
            if reach >= last:
                return True
        return reach >= last

    def coverage_text(self) -> str:
        spans = self.patient.coverage
        if not spans:
            return "the record declares no coverage span"
        # By start, then end (an open span last): the text reads the same whichever order the
        # source listed its spans in (OMOP observation periods have no order).
        ordered = sorted(spans, key=lambda s: (s.start, s.end is None, s.end or s.start))
        return "the record covers " + ", ".join(
            f"{fmt_date(s.start)}..{fmt_date(s.end) if s.end else 'open'}" for s in ordered
        )

    # ------------------------------------------------------------------ measurements
    def measures(self, spec: Input) -> list[Measurement]:
        """The patient's numeric measurements of `spec` (weight, creatinine...), by date."""
        key = ("measures", spec.key)
        found: list[Measurement] | None = self.memo.get(key)
        if found is None:
            name = f"input {spec.key}"
            table = self.indexed(spec.kind, name, lambda codes: input_codes_match(spec, codes))
            found = [
                e
                for e in table.get(name, ())
                if isinstance(e, Measurement) and isinstance(e.value, Quantity)
            ]
            self.memo[key] = found
        return found

    def nearest_measure(
        self, spec: Input, day: dt.date, tolerance_days: int
    ) -> tuple[Fraction, Event] | str | None:
        """The measurement of `spec` nearest to `day` (ties: the earlier), in spec.unit; or why
        the nearest one cannot be used (its unit cannot be read or converted: a farther one is
        not taken in its place, docs: "Values that cannot be read")."""
        key = ("nearest", spec.key, day, tolerance_days)
        if key in self.memo:
            known: tuple[Fraction, Event] | str | None = self.memo[key]
            return known
        best: tuple[int, Fraction | str, Event] | None = None
        for event in self.measures(spec):
            distance = abs((event.start - day).days)
            if distance > tolerance_days or (best is not None and distance >= best[0]):
                continue
            if not isinstance(event.value, Quantity):
                continue
            value: Fraction | str
            try:
                value = convert_quantity(event.value, spec.unit, Basis(spec.molar_mass))
            except UnitError as error:
                value = unit_problem(event, error, "the value")
            if event.value.comparator is not None:
                # A formula needs a number (docs: "Results reported as bounds").
                value = f"{describe_event(event)} is reported as a bound, not a number"
            best = (distance, value, event)
        result: tuple[Fraction, Event] | str | None = None
        if best is not None:
            result = best[1] if isinstance(best[1], str) else (best[1], best[2])
        self.memo[key] = result
        return result


def input_codes_match(spec: Input, codes: tuple[Code, ...]) -> bool:
    for code in codes:
        if code.system == "concept" and code.code in spec.concept_names:
            return True
        if (code.system, code.code) in spec.codes:
            return True
    return False

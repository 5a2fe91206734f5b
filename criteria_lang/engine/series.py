"""Events in order of time: which of a query's events is the latest or the earliest when a day
holds several (docs/language.md, "Values and comparisons"), and results that persist over a
period ("Persistence of results")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from criteria_lang.core.dates import OutOfCalendar, shift
from criteria_lang.plan import model as p
from criteria_lang.records.timeline import Event


def pick_one(events: Sequence[Event], latest: bool) -> tuple[Event, tuple[Event, ...]]:
    """The latest (or earliest) event, and the others that time cannot order against it.

    Events are ordered by day, then by time of day where the record gives one. On the chosen
    day, an event whose time is not recorded could lie before or after any other of that day,
    and events at the same time cannot be ordered at all: those are returned as `tied` (empty
    when the choice is certain), so that a caller can say when their values disagree. The
    chosen event is the last (first) in the record's own order among them.
    """
    day = (max if latest else min)(e.start for e in events)
    same = [e for e in events if e.start == day]
    if len(same) == 1:
        return same[0], ()
    timed = [e for e in same if e.time is not None]
    untimed = [e for e in same if e.time is None]
    candidates = untimed
    if timed:
        edge: dt.time = (max if latest else min)(e.time for e in timed if e.time is not None)
        candidates = [e for e in same if e.time == edge or e.time is None]
    chosen = candidates[-1] if latest else candidates[0]
    return chosen, tuple(e for e in candidates if e is not chosen)


# --------------------------------------------------------------------------- persistence


def persisting(
    events: Sequence[Event],
    verdicts: Sequence[bool | str],
    duration: p.Duration,
    window: tuple[dt.date | None, dt.date | None],
) -> tuple[list[Event], list[tuple[Event, str]], str]:
    """`lab x value is positive for at least D` (docs/language.md, "Persistence of results"):
    consecutive results (by date and time) each passing the query's qualifiers (verdict True),
    the first and the last at least D apart, with none between that fails them (False). Returns
    the results of such a stretch (none: not met), the results that leave it undecided, and a
    note. Undecided: a stretch that reaches D only through results the qualifiers cannot decide
    (a verdict that is a reason), or one with no failing result before it (after it) that would
    reach D if it began at the window's start (lasted to the window's end): not tested is not
    "not present"."""
    order = sorted(
        range(len(events)),
        key=lambda i: (events[i].start, events[i].time is not None, events[i].time or dt.time.min),
    )
    runs: list[list[int]] = [[]]  # stretches between failing results
    for i in order:
        if verdicts[i] is False:
            runs.append([])
        else:
            runs[-1].append(i)
    doubtful: list[tuple[Event, str]] = []
    for number, run in enumerate(runs):
        if not run:
            continue
        certain = _certain_stretches(run, verdicts)
        for stretch in certain:
            if _reaches(events[stretch[0]].start, events[stretch[-1]].start, duration):
                first, last = events[stretch[0]].start, events[stretch[-1]].start
                shown = f"{first.isoformat()}..{last.isoformat()} ({len(stretch)} results)"
                return [events[i] for i in stretch], [], f"{shown}: yes"
        doubtful.extend(_open_ends(events, verdicts, run, certain, duration, window, number, runs))
    if doubtful:
        return [], doubtful, "not shown by the results: it may have persisted"
    return [], [], "no run of results reaches it: no"


def _certain_stretches(run: list[int], verdicts: Sequence[bool | str]) -> list[list[int]]:
    stretches: list[list[int]] = [[]]
    for i in run:
        if verdicts[i] is True:
            stretches[-1].append(i)
        else:
            stretches.append([])
    return [s for s in stretches if s]


def _open_ends(
    events: Sequence[Event],
    verdicts: Sequence[bool | str],
    run: list[int],
    certain: list[list[int]],
    duration: p.Duration,
    window: tuple[dt.date | None, dt.date | None],
    number: int,
    runs: list[list[int]],
) -> list[tuple[Event, str]]:
    """Why a run that does not reach D from its own results still might."""
    first, last = events[run[0]], events[run[-1]]
    why = [(events[i], str(verdicts[i])) for i in run if verdicts[i] is not True]
    if why and _reaches(first.start, last.start, duration):
        return why
    start, end = window
    open_before = number == 0  # no failing result before it in the window
    open_after = number == len(runs) - 1
    out: list[tuple[Event, str]] = []
    if open_before and certain and certain[0][0] == run[0]:
        reach = events[certain[0][-1]].start
        if start is None or _reaches(start, reach, duration):
            out.append(
                (first, f"{describe(first)}: no earlier result, so it may have begun before")
            )
    if open_after and certain and certain[-1][-1] == run[-1]:
        since = events[certain[-1][0]].start
        if end is None or _reaches(since, end, duration):
            out.append((last, f"{describe(last)}: no later result, so it may have lasted after"))
    return out


def describe(event: Event) -> str:
    return f"the result of {event.start.isoformat()}"


def _reaches(first: dt.date, last: dt.date, duration: p.Duration) -> bool:
    """Is `last` at least `duration` after `first` (calendar arithmetic)?"""
    try:
        return last >= shift(first, duration.amount, duration.unit, 1)
    except OutOfCalendar:
        return False

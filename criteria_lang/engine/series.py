"""Events in order of time: which of a query's events is the latest or the earliest, when a day
holds several (docs/language.md, "Values and comparisons": `latest` / `earliest`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

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

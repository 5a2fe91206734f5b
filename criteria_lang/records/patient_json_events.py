"""Reading one patient document in our JSON format (docs/patient-format.md): its events (one
reader per event type), named dates, coverage, review answers and visits.

Moved out of patient_json.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from criteria_lang.core.bounds import BoundComparator, is_bound_comparator
from criteria_lang.records.bounds_text import read_bound_text
from criteria_lang.records.normalise import measurement_value
from criteria_lang.records.patient_json_values import (
    _BOUND_STARTS,
    _CODE_EXPECTED,
    _CODE_KEYS,
    _CODES,
    _DATES,
    _EVENT_KEYS,
    _EVENT_TYPES,
    _PATIENT_KEYS,
    _QUANTITIES,
    _REVIEW_KEYS,
    _SPAN_KEYS,
    _VISIT_KEYS,
    FORMAT,
    REVIEW_ANSWERS,
    SEXES,
    _event_paths,
    _time_of,
    _ValueReader,
)
from criteria_lang.records.problems import _at, _describe, _is_free_key
from criteria_lang.records.timeline import (
    DETECTION_LIMITS,
    Allergy,
    Code,
    Condition,
    DetectionLimit,
    Event,
    Fact,
    Immunization,
    Interval,
    Measurement,
    MedicationExposure,
    Patient,
    Procedure,
    Quantity,
    ReviewAnswer,
    Visit,
)


class _Reader(_ValueReader):
    """One patient document: its events, named dates, coverage, review answers and visits (the
    values inside them read by _ValueReader)."""

    __slots__ = ()

    # -- events ----------------------------------------------------------------------------

    def events(self, value: object) -> tuple[Event, ...]:
        items = self.array(value, "events", "an array of event objects")
        paths = _event_paths(len(items))
        owners: dict[str, str] = {}
        out = []
        for index, obj in enumerate(items):
            base = paths[index]
            if type(obj) is not dict:
                if not isinstance(obj, dict):
                    self.wrong("$.events", index, "an event object", obj)
                    continue
            kind: Any = obj.get("type")
            allowed = _EVENT_KEYS.get(kind) if type(kind) is str else None
            if allowed is None:
                if kind is None:
                    self.missing(base, "type", "An event", "one of " + _EVENT_TYPES)
                elif isinstance(kind, str) and str(kind) in _EVENT_KEYS:
                    kind = str(kind)
                    allowed = _EVENT_KEYS[kind]
                else:
                    self.wrong(base, "type", "one of " + _EVENT_TYPES, kind)
                if allowed is None:
                    continue
            if not obj.keys() <= allowed:
                self.check_keys(obj, allowed, base, f"a {kind} event")
            event_id = self.event_id(obj.get("id"), base, kind, index, owners)
            codes = self.event_codes(obj.get("code"), base, kind)
            out.append(_EVENT_READERS[kind](self, obj, base, kind, event_id, codes))
        return tuple(out)

    def event_id(
        self, raw: object, base: str, kind: str, index: int, owners: dict[str, str]
    ) -> str:
        """An event's id (by default `<type>-<index>`), unique within the patient."""
        if raw is None:
            event_id = f"{kind}-{index}"
        elif type(raw) is str and raw:
            event_id = raw
        else:
            event_id = self.text(raw, base, "id") or ""
        if event_id:
            first = owners.setdefault(event_id, base)
            if first is not base:
                named = "" if raw is not None else " (the default id of this event)"
                self.problem(
                    base if raw is None else _at(base, "id"),
                    f'The event id "{event_id}"{named} is already used by {first}; '
                    "event ids must be unique within a patient.",
                )
        return event_id

    def event_codes(self, raw: object, base: str, kind: str) -> tuple[Code, ...]:
        """An event's codes: one code (text naming a concept, or a code object) or a list."""
        code: Code | None = None
        if type(raw) is str:
            code = _CODES.get(raw)
        elif type(raw) is dict and raw.keys() <= _CODE_KEYS:
            try:  # the memo only holds text keys: anything else misses or is unhashable
                code = _CODES.get((raw.get("system"), raw.get("code"), raw.get("display")))
            except TypeError:
                code = None
        if code is not None:
            codes: tuple[Code, ...] = (code,)
        elif raw is None:
            self.missing(base, "code", f"A {kind} event", _CODE_EXPECTED)
            codes = ()
        else:
            codes = self.codes(raw, base)
        return codes

    def condition(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        get = obj.get
        raw = get("onset")
        onset = _DATES.get(raw) if type(raw) is str else None
        if onset is None:
            onset = self.required_date(obj, base, "onset", "A condition")
        abatement = (
            None
            if get("abatement") is None
            else self.end_date(obj, base, "abatement", onset, "onset")
        )
        raw = get("status")
        if raw is not None and type(raw) is not str:
            raw = self.text(raw, base, "status", empty_ok=True)
        attributes = get("attributes")
        return Condition(
            id=eid,
            kind=kind,
            codes=codes,
            start=onset,  # type: ignore[arg-type]
            end=abatement,
            source=base,
            status=raw,
            attributes={} if attributes is None else self.attributes(attributes, base),
        )

    def immunization(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        """A vaccination on one day (docs/patient-format.md, "immunization")."""
        day = self.required_date(obj, base, "date", "An immunization")
        raw = obj.get("dose")
        return Immunization(
            id=eid,
            kind=kind,
            codes=codes,
            start=day,  # type: ignore[arg-type]
            end=day,
            source=base,
            dose=None if raw is None else self.amount(raw, base, "dose"),
            route=self.optional_text(obj, base, "route"),
            status=self.optional_text(obj, base, "status"),
            attributes=self.optional_attributes(obj, base),
            reasons=self.reasons(obj, base),
        )

    def allergy(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        """An allergy or intolerance from its onset (docs/patient-format.md, "allergy")."""
        onset = self.required_date(obj, base, "onset", "An allergy")
        abatement = self.end_date(obj, base, "abatement", onset, "onset")
        return Allergy(
            id=eid,
            kind=kind,
            codes=codes,
            start=onset,  # type: ignore[arg-type]
            end=abatement,
            source=base,
            status=self.optional_text(obj, base, "status"),
            attributes=self.optional_attributes(obj, base),
        )

    def medication(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        get = obj.get
        raw = get("start")
        start = _DATES.get(raw) if type(raw) is str else None
        if start is None:
            start = self.required_date(obj, base, "start", "A medication event")
        end = None if get("end") is None else self.end_date(obj, base, "end", start, "start")
        ongoing = get("ongoing")
        if ongoing is not None and ongoing is not True and ongoing is not False:
            self.wrong(base, "ongoing", "true or false", ongoing)
            ongoing = None
        if ongoing:
            if get("end") is not None:
                self.problem(
                    _at(base, "end"),
                    'An ongoing medication has no end; give either "ongoing": true or "end", '
                    "not both.",
                )
                end = None
        elif end is None:
            # No end and not ongoing: one day of exposure, as OHDSI Circe does for a missing end.
            end = start
        raw = get("dose")
        dose = None if raw is None else self.amount(raw, base, "dose")
        raw = get("daily_dose")
        daily = None if raw is None else self.amount(raw, base, "daily_dose")
        raw = get("frequency")
        per_day = None if raw is None else self.frequency(raw, base)
        route = get("route")
        if route is not None and type(route) is not str:
            route = self.text(route, base, "route", empty_ok=True)
        status = get("status")
        if status is not None and type(status) is not str:
            status = self.text(status, base, "status", empty_ok=True)
        return MedicationExposure(
            id=eid,
            kind=kind,
            codes=codes,
            start=start,  # type: ignore[arg-type]
            end=end,
            source=base,
            dose=dose,
            per_day=per_day,
            daily_dose=daily,
            route=route,
            status=status,
            attributes={}
            if get("attributes") is None
            else self.attributes(get("attributes"), base),
            reasons=self.reasons(obj, base),
        )

    def measurement(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        get = obj.get
        raw = get("date")
        day = _DATES.get(raw) if type(raw) is str else None
        if day is None:
            day = self.required_date(obj, base, "date", f"A {kind} result")
        raw_unit = get("unit")
        if type(raw_unit) is str and raw_unit:
            unit: str | None = raw_unit
        elif raw_unit is None:
            unit = "1" if kind == "score" else None  # scores are counts and scales
        else:
            unit = self.text(raw_unit, base, "unit")
        raw = get("value")
        value: Quantity | str | bool | None
        if type(raw) is float or type(raw) is int:
            value = _QUANTITIES.get((raw, unit)) if unit is not None else None
            if value is None:
                if unit is not None:
                    value = self.quantity(raw, unit, base, "value")
                elif raw_unit is None:
                    self.missing(
                        base, "unit", f"A numeric {kind} result", 'its unit, such as "mg/dL"'
                    )
        elif raw is None or raw is True or raw is False:
            value = raw
        elif type(raw) is str and raw:
            value = raw
        else:
            value = self.other_value(raw, base, unit)
        if (
            get("comparator") is not None
            or get("limit") is not None
            or (type(value) is str and value.lstrip()[:1] in _BOUND_STARTS)
        ):
            value = self.bound(obj, base, kind, value, unit, raw_unit is not None)
        raw = get("reference_range")
        ref = None if raw is None else self.reference_range(raw, base, unit, raw_unit)
        raw = get("interpretation")
        if raw is not None and type(raw) is not str:
            raw = self.text(raw, base, "interpretation", empty_ok=True)
        if isinstance(value, Quantity):  # the normalisations every reader applies
            normalised, ref, _ = measurement_value(codes, value, ref)
            value = normalised  # type: ignore[assignment]
        return Measurement(
            id=eid,
            kind=kind,
            codes=codes,
            start=day,  # type: ignore[arg-type]
            end=day,
            source=base,
            time=_time_of(get("date")),
            value=value,
            reference_range=ref,
            interpretation=raw,
            attributes={}
            if get("attributes") is None
            else self.attributes(get("attributes"), base),
        )

    def bound(
        self,
        obj: dict[Any, Any],
        base: str,
        kind: str,
        value: Quantity | str | bool | None,
        unit: str | None,
        unit_given: bool,
    ) -> Quantity | str | bool | None:
        """A result reported as a bound: a number with `comparator` (and perhaps `limit`), or
        text such as "<0.5" (docs/patient-format.md, "Results reported as bounds"). `unit` is
        the result's unit (a score's default "1" when `unit_given` is false)."""
        raw_comparator, raw_limit = obj.get("comparator"), obj.get("limit")
        comparator: BoundComparator | None = None
        if raw_comparator is not None:
            if is_bound_comparator(raw_comparator):
                comparator = raw_comparator
            elif raw_comparator != "=":
                self.wrong(base, "comparator", '"<", "<=", ">", ">=" or "="', raw_comparator)
                return value
        limit: DetectionLimit | None = None
        if raw_limit is not None:
            if raw_limit not in DETECTION_LIMITS:
                self.wrong(base, "limit", '"detection" or "quantification"', raw_limit)
                return value
            limit = raw_limit
        if isinstance(value, str):
            if raw_comparator is not None or raw_limit is not None:
                self.problem(
                    _at(base, "value"),
                    f"A {kind} result with a comparator or a limit needs a numeric value, got "
                    f'{_describe(value)}; write the bound\'s number as "value" and its side as '
                    '"comparator".',
                )
                return value
            written = read_bound_text(value)
            if written is None:
                return value
            if written.unit is not None and unit_given and written.unit != unit:
                self.problem(
                    _at(base, "unit"),
                    f'{_describe(value).capitalize()} is in "{written.unit}" but "unit" says '
                    f'"{unit}"; give the unit once.',
                )
                return value
            unit = written.unit or unit
            if unit is None:
                self.missing(
                    base, "unit", f"A {kind} result given as a bound", 'its unit, such as "mg/dL"'
                )
                return None
            comparator = written.comparator
            value = Quantity(written.value, unit)
        if not isinstance(value, Quantity):
            if value is not None:
                self.problem(
                    _at(base, "comparator"),
                    f"A comparator or a limit applies to a numeric {kind} result, not to "
                    f"{_describe(value)}.",
                )
            return value
        if limit is not None and comparator is None:
            self.problem(
                _at(base, "limit"),
                'A limit of detection or quantification is a bound: give the number as "value" '
                'and the side as "comparator" (usually "<").',
            )
            return value
        return Quantity(value.value, value.unit, value.ucum, comparator, limit)

    def other_value(self, raw: object, base: str, unit: str | None) -> Quantity | str | bool | None:
        """A measurement value of an unusual Python type (a dict given by a caller)."""
        if isinstance(raw, bool):
            return bool(raw)
        if isinstance(raw, str) and raw:
            return str(raw)
        if isinstance(raw, int | float):
            number = self.number(raw, base, "value")
            return None if number is None or unit is None else Quantity(number, unit)
        self.wrong(base, "value", "a number, non-empty text or true/false", raw)
        return None

    def procedure(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        raw = obj.get("date")
        day = _DATES.get(raw) if type(raw) is str else None
        if day is None:
            day = self.required_date(obj, base, "date", "A procedure")
        end = self.end_date(obj, base, "end", day, "date")
        raw = obj.get("attributes")
        return Procedure(
            id=eid,
            kind=kind,
            codes=codes,
            start=day,  # type: ignore[arg-type]
            end=day if end is None else end,
            source=base,
            attributes={} if raw is None else self.attributes(raw, base),
            reasons=self.reasons(obj, base),
        )

    def fact(
        self, obj: dict[Any, Any], base: str, kind: str, eid: str, codes: tuple[Code, ...]
    ) -> Event:
        raw = obj.get("date")
        day = _DATES.get(raw) if type(raw) is str else None
        if day is None:
            day = self.required_date(obj, base, "date", "A fact")
        raw = obj.get("value")
        expected = "true/false, non-empty text or a number"
        value = None
        if raw is None:
            self.missing(base, "value", "A fact", expected)
        else:
            value = self.scalar(raw, base, "value", expected)
        return Fact(
            id=eid,
            kind=kind,
            codes=codes,
            start=day,  # type: ignore[arg-type]
            end=day,
            source=base,
            time=_time_of(obj.get("date")),
            value=value,
        )

    # -- the patient -----------------------------------------------------------------------

    def patient(self, doc: object, source: str | None) -> Patient | None:
        if not isinstance(doc, dict):
            self.problem("$", f"Expected a patient object {{...}}, got {_describe(doc)}.")
            return None
        self.check_keys(doc, _PATIENT_KEYS, "$", "a patient")
        get = doc.get
        if "format" in doc and get("format") != FORMAT:
            self.wrong("$", "format", f'"{FORMAT}" (or no "format" at all)', get("format"))
        raw = get("id")
        pid = None
        if raw is None:
            self.missing("$", "id", "A patient", "its identifier as non-empty text")
        else:
            pid = self.text(raw, "$", "id")
        raw = get("birth_date")
        birth = None if raw is None else self.date(raw, "$", "birth_date")
        sex = get("sex")
        if sex is not None:
            if isinstance(sex, str) and sex in SEXES:
                sex = str(sex)
            else:
                self.wrong("$", "sex", '"female", "male", "other", "unknown" or null', sex)
        dates = self.named_dates(get("dates"))
        coverage = self.coverage(get("coverage"))
        events = self.events(get("events"))
        reviews = self.reviews(get("reviews"))
        visits = self.visits(get("visits"))
        if self.problems:
            return None
        return Patient(
            id=pid,  # type: ignore[arg-type]
            birth_date=birth,
            sex=sex,
            dates=dates,
            events=events,
            coverage=coverage,
            reviews=reviews,
            visits=visits,
            source=source,
        )

    def array(self, value: object, key: str, what: str) -> list[Any] | tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, list | tuple):
            return value
        self.wrong("$", key, what, value)
        return ()

    def named_dates(self, value: object) -> dict[str, dt.date]:
        out: dict[str, dt.date] = {}
        if value is None:
            return out
        obj = self.as_object(value, "$", "dates", "an object of named dates")
        for key, raw in (obj or {}).items():
            if _is_free_key(key):
                continue
            if not isinstance(key, str) or not key:
                self.problem("$.dates", f"Date names must be non-empty text, got {_describe(key)}.")
            elif raw is not None:  # null: a trial date not known yet
                day = self.date(raw, "$.dates", key)
                if day is not None:
                    out[str(key)] = day
        return out

    def coverage(self, value: object) -> tuple[Interval, ...]:
        out = []
        for index, item in enumerate(self.array(value, "coverage", "an array of spans")):
            where = f"$.coverage[{index}]"
            obj = self.as_object(item, "$.coverage", index, 'a span {"start": date, "end": date}')
            if obj is None:
                continue
            self.check_keys(obj, _SPAN_KEYS, where, "a coverage span")
            start = self.required_date(obj, where, "start", "A coverage span")
            end = self.end_date(obj, where, "end", start, "start")
            if start is not None:
                out.append(Interval(start, end))
        return tuple(out)

    def reviews(self, value: object) -> dict[str, ReviewAnswer]:
        out: dict[str, ReviewAnswer] = {}
        if value is None:
            return out
        obj = self.as_object(value, "$", "reviews", "an object of answers keyed by criterion id")
        for key, raw in (obj or {}).items():
            if _is_free_key(key):
                continue
            if not isinstance(key, str) or not key:
                self.problem(
                    "$.reviews", f"Criterion ids must be non-empty text, got {_describe(key)}."
                )
                continue
            answer = self.review_answer(raw, "$.reviews", key, questions_allowed=True)
            if answer is not None:
                out[str(key)] = answer
        return out

    def review_answer(
        self, raw: object, base: str, key: str, *, questions_allowed: bool
    ) -> ReviewAnswer | None:
        """`{"answer": "met", "by": ..., "questions": {"text": {"answer": ...}}}`: an answer to
        every question of a criterion, to single questions, or both (docs/patient-format.md)."""
        where = _at(base, key)
        item = self.as_object(raw, base, key, 'an answer {"answer": "met" or "not_met", ...}')
        if item is None:
            return None
        allowed = _REVIEW_KEYS | {"questions"} if questions_allowed else _REVIEW_KEYS
        self.check_keys(item, allowed, where, "a review answer")
        questions: dict[str, ReviewAnswer] = {}
        raw_questions = item.get("questions") if questions_allowed else None
        if raw_questions is not None:
            asked = self.as_object(
                raw_questions, where, "questions", "an object of answers keyed by question"
            )
            for text, one in (asked or {}).items():
                if _is_free_key(text):
                    continue
                if not isinstance(text, str) or not text.strip():
                    self.problem(
                        _at(where, "questions"),
                        f"Questions must be non-empty text, got {_describe(text)}.",
                    )
                    continue
                found = self.review_answer(
                    one, _at(where, "questions"), str(text), questions_allowed=False
                )
                if found is not None:
                    questions[str(text)] = found
        answer = item.get("answer")
        met = REVIEW_ANSWERS.get(answer) if isinstance(answer, str) else None
        if answer is None:
            if raw_questions is None:
                self.missing(where, "answer", "A review", '"met" or "not_met"')
        elif met is None:
            self.wrong(where, "answer", '"met" or "not_met"', answer)
        raw_date = item.get("date")
        day = None if raw_date is None else self.date(raw_date, where, "date")
        by = self.optional_text(item, where, "by")
        note = self.optional_text(item, where, "note")
        if met is None and not questions:
            return None
        return ReviewAnswer(met=met, by=by, date=day, note=note, questions=questions)

    def visits(self, value: object) -> tuple[Visit, ...]:
        out = []
        for index, item in enumerate(self.array(value, "visits", "an array of visits")):
            where = f"$.visits[{index}]"
            obj = self.as_object(item, "$.visits", index, 'a visit {"name": text, "date": date}')
            if obj is None:
                continue
            self.check_keys(obj, _VISIT_KEYS, where, "a visit")
            raw = obj.get("name")
            name = None
            if raw is None:
                self.missing(where, "name", "A visit", "its name as non-empty text")
            else:
                name = self.text(raw, where, "name")
            day = self.required_date(obj, where, "date", "A visit")
            if name is not None and day is not None:
                out.append(Visit(name, day))
        return tuple(out)


_EventReader = Callable[[_Reader, dict[Any, Any], str, str, str, tuple[Code, ...]], Event]
_EVENT_READERS: dict[str, _EventReader] = {
    "condition": _Reader.condition,
    "medication": _Reader.medication,
    "lab": _Reader.measurement,
    "observation": _Reader.measurement,
    "score": _Reader.measurement,
    "procedure": _Reader.procedure,
    "fact": _Reader.fact,
    "immunization": _Reader.immunization,
    "allergy": _Reader.allergy,
}

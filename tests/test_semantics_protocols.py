"""The language for protocols beyond lupus (issue 14): each rule of docs/language.md that the
issue added, pinned at its edges. Test names are those docs/language.md cites."""

from __future__ import annotations

from typing import Any

import pytest

from criteria_lang import Rules
from criteria_lang.core.results import Truth
from criteria_lang.records.patient_json import dump_patient, load_patient
from tests.semantics_helpers import (
    cond,
    daily,
    lab,
    med,
    patient,
    result,
    rules,
    truth,
)

MET, NOT_MET, UNKNOWN, REVIEW = "met", "not_met", "unknown", "needs_review"


def codes_of(text: str) -> list[str]:
    """The diagnostic codes `criteria check` reports for a rule file's text."""
    from criteria_lang.check.checker import compile_text

    return [d.code for d in compile_text(text, "t.crit").diagnostics]


def one_criterion(expr: str, concepts: str = "") -> str:
    return (
        'trial "T"\n  dates screening, baseline\n  index screening\n'
        'lab alt = loinc "1742-6" with unit = U/L\n'
        'drug pred = rxnorm "8640"\n'
        'lab hiv = loinc "7917-8"\n'
        f'{concepts}\ninclusion\n  I1 "x": {expr}\n'
    )


# --------------------------------------------------------------------------- review answers


def test_review_answers_per_question() -> None:
    r = rules('I1 "x": review "a?" and review "b?"')
    by_question = {"I1": {"questions": {"a?": {"answer": "not_met", "by": "Dr A"}}}}
    answered = r.evaluate(patient(reviews=by_question)).criteria[0]
    assert answered.truth is Truth.NOT_MET
    assert any('"a?" answered no by Dr A' in e.detail for e in answered.evidence)
    one_yes = {"I1": {"questions": {"A?": {"answer": "met"}}}}  # case does not matter
    pending = r.evaluate(patient(reviews=one_yes)).criteria[0]
    assert pending.truth is Truth.REVIEW and pending.questions == ("b?",)
    both = {"I1": {"questions": {"a?": {"answer": "met"}, "b?  ": {"answer": "met"}}}}
    assert r.evaluate(patient(reviews=both)).criteria[0].truth is Truth.MET
    # The criterion's own answer covers the questions not answered one by one.
    mixed = {"I1": {"answer": "met", "questions": {"b?": {"answer": "not_met"}}}}
    assert r.evaluate(patient(reviews=mixed)).criteria[0].truth is Truth.NOT_MET


def test_review_answers_per_question_round_trip() -> None:
    doc = patient(reviews={"I1": {"answer": "met", "questions": {"b?": {"answer": "not_met"}}}})
    loaded = load_patient(doc)
    assert load_patient(dump_patient(loaded)) == loaded


def test_review_answer_needs_an_answer_or_questions() -> None:
    from criteria_lang.records.patient_json import PatientDataError

    with pytest.raises(PatientDataError, match="answer"):
        load_patient(patient(reviews={"I1": {"by": "Dr A"}}))


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize(("expr", "expected"), [("true", MET), ("false", NOT_MET)])
def test_true_and_false(expr: str, expected: str) -> None:
    assert truth(expr) == expected
    assert truth(f'{expr} or review "q?"') == (MET if expr == "true" else REVIEW)


BIOPSY_ATTRIBUTES = (
    'procedure checked_biopsy = snomed "36576007" with attributes = "done_by_pathologist, size"'
)


def test_where_true() -> None:
    biopsy = {"type": "procedure", "code": "checked_biopsy", "date": "2024-01-01"}
    expr = (
        "procedure checked_biopsy where done_by_pathologist = true within 1 year before screening"
    )
    yes = {**biopsy, "attributes": {"done_by_pathologist": True}}
    assert truth(expr, yes, defines=BIOPSY_ATTRIBUTES) == MET
    no = {**biopsy, "attributes": {"done_by_pathologist": False}}
    assert truth(expr, no, defines=BIOPSY_ATTRIBUTES) == NOT_MET


# --------------------------------------------------------------------------- diagnostics


def test_sex_values_are_checked() -> None:
    assert "C306" in codes_of(one_criterion('sex in ("F")'))
    assert "C306" not in codes_of(one_criterion('sex in ("female", "Male")'))


def test_reversed_ranges_are_errors() -> None:
    assert "C307" in codes_of(one_criterion("age at screening between 75 and 25 years"))
    assert "C307" in codes_of(one_criterion("latest lab alt within 1 year between 2 and 1 U/L"))
    assert "C307" not in codes_of(one_criterion("age at screening between 25 and 75 years"))
    # A window's two offsets may be given in either order: not a range of values.
    assert "C307" not in codes_of(one_criterion("lab alt between 12 and 4 weeks before screening"))
    dose = "medication pred dose between 10 and 5 mg/day within 1 year before screening"
    assert "C307" in codes_of(one_criterion(dose))


def test_count_in_any_zero_days() -> None:
    expr = "count lab alt in any 0 days within 1 year before screening >= 2"
    assert "C125" in codes_of(one_criterion(expr))
    assert "C125" not in codes_of(one_criterion(expr.replace("0 days", "1 days")))


# --------------------------------------------------------------------------- small bugs


def test_latest_same_day_ties() -> None:
    expr = "latest lab alt within 1 month before screening > 40 U/L"
    early = lab("alt", "2024-03-30T08:00", 30, "U/L", id="a")
    late = lab("alt", "2024-03-30T17:30", 60, "U/L", id="b")
    assert truth(expr, late, early) == MET  # by time, not by id or record order
    untimed = lab("alt", "2024-03-30", 60, "U/L", id="c")
    ambiguous = result(expr, early, untimed)
    assert ambiguous.truth is Truth.UNKNOWN
    assert "no times to order them" in ambiguous.missing[0]
    same = lab("alt", "2024-03-30", 30, "U/L", id="d")
    assert truth(expr, early, same) == NOT_MET  # both say 30 U/L: no doubt
    earlier_day = lab("alt", "2024-03-01", 90, "U/L", id="e")
    assert truth(expr, earlier_day, lab("alt", "2024-03-02", 10, "U/L", id="f")) == NOT_MET


def test_latest_fact_same_day_ties() -> None:
    expr = "fact pregnant within 1 month before screening"
    yes = {"type": "fact", "code": "pregnant", "date": "2024-03-30", "value": True}
    no = {"type": "fact", "code": "pregnant", "date": "2024-03-30", "value": False}
    assert truth(expr, yes, no) == UNKNOWN
    timed_no = {**no, "date": "2024-03-30T18:00"}
    timed_yes = {**yes, "date": "2024-03-30T09:00"}
    assert truth(expr, timed_yes, timed_no) == NOT_MET


def test_time_of_day_round_trips() -> None:
    doc = patient(lab("alt", "2024-03-30T17:30:05+02:00", 60, "U/L"))
    loaded = load_patient(doc)
    assert str(loaded.events[0].time) == "17:30:05"
    assert loaded.events[0].start.isoformat() == "2024-03-30"
    assert load_patient(dump_patient(loaded)) == loaded


@pytest.mark.parametrize(
    ("found", "expr", "expected"),
    [
        (2, "between 2 and 5", UNKNOWN),  # at least 2: could be 6
        (6, "between 2 and 5", NOT_MET),  # at least 6: above the range
        (5, "between 2 and 5 right-inclusive", UNKNOWN),
        (5, "between 2 and 5 exclusive", NOT_MET),
        (1, "between 2 and 5", UNKNOWN),
    ],
)
def test_between_lower_bound_count(found: int, expr: str, expected: str) -> None:
    # The window reaches before the record's coverage: the count is a lower bound.
    events = [med("aza", f"2023-0{i + 1}-01", f"2023-0{i + 1}-01") for i in range(found)]
    partly = [{"start": "2023-01-01", "end": "2024-12-31"}]
    got = truth(
        f"count medication aza within 5 years before screening {expr}", *events, coverage=partly
    )
    assert got == expected
    covered = [{"start": "2000-01-01", "end": "2024-12-31"}]
    decided = truth(
        f"count medication aza within 5 years before screening {expr}", *events, coverage=covered
    )
    assert decided in (MET, NOT_MET)


def test_daily_dose_in_ml_per_day() -> None:
    solution = med("aza", "2024-01-01", None, daily_dose={"value": 10, "unit": "mL/d"})
    expr = "medication aza dose >= 10 mL/day within 1 month before screening"
    assert truth(expr, solution) == MET
    assert truth(expr.replace(">= 10", "> 10"), solution) == NOT_MET
    per_day = med("aza", "2024-01-01", None, daily_dose={"value": 10, "unit": "mL"})
    assert truth(expr, per_day) == MET  # an amount given each day


# --------------------------------------------------------------------------- missing is not no


def test_count_agrees_with_any_for_untested() -> None:
    any_ = "any lab hbsag value is positive within 1 year before screening"
    count = "count lab hbsag value is positive within 1 year before screening >= 1"
    for events, expected in (
        ((), UNKNOWN),
        ((lab("hbsag", "2024-01-01", "negative"),), NOT_MET),
        ((lab("hbsag", "2024-01-01", "positive"),), MET),
    ):
        assert truth(any_, *events) == expected
        assert truth(count, *events) == expected
    assert truth(count.replace(">= 1", "= 0")) == UNKNOWN


def test_known_is_closed_world() -> None:
    known = "known lab hbsag value is positive within 1 year before screening"
    assert truth(known) == NOT_MET  # never tested
    assert truth(known, lab("hbsag", "2024-01-01", "negative")) == NOT_MET
    assert truth(known, lab("hbsag", "2024-01-01", "positive")) == MET
    assert truth(known, lab("hbsag", "2024-01-01", "equivocal")) == NOT_MET
    # Conditions too, whatever the coverage.
    mi = "known condition mi within 1 year before screening"
    assert truth(mi, coverage=[]) == NOT_MET
    assert truth(mi, cond("mi", "2024-01-01"), coverage=[]) == MET
    assert truth("not " + mi, coverage=[]) == MET


def test_route_missing_is_not_no() -> None:
    expr = "medication aza route oral within 1 month before screening"
    assert truth(expr, med("aza", "2024-03-01", None, route="PO")) == MET
    assert truth(expr, med("aza", "2024-03-01", None, route="Oral route (qualifier value)")) == MET
    assert truth(expr, med("aza", "2024-03-01", None, route="iv")) == NOT_MET
    unknown = result(expr, med("aza", "2024-03-01", None))
    assert unknown.truth is Truth.UNKNOWN and "no route recorded" in unknown.missing[0]
    odd = result(expr, med("aza", "2024-03-01", None, route="per tube"))
    assert odd.truth is Truth.UNKNOWN and "not one the language knows" in odd.missing[0]
    both = (med("aza", "2024-03-01", None), med("aza", "2024-03-02", None, route="oral"))
    assert truth(expr, *both) == MET


def test_route_names() -> None:
    assert "C308" in codes_of(one_criterion("medication pred route orall within 1 year"))
    for ok in ("oral", "iv", "parenteral", "systemic", "intra_articular", "SC"):
        assert "C308" not in codes_of(one_criterion(f"medication pred route {ok} within 1 year"))
    expr = "medication aza route parenteral within 1 month before screening"
    assert truth(expr, med("aza", "2024-03-01", None, route="sc")) == MET
    assert truth(expr, med("aza", "2024-03-01", None, route="oral")) == NOT_MET


def test_route_codes_from_fhir() -> None:
    from criteria_lang.core.routes import route_of_code, route_of_text

    assert route_of_code("snomed", "47625008") == "intravenous"
    assert route_of_code("edqm", "20053000") == "oral"
    assert route_of_text("Subcutaneous use") == "subcutaneous"
    assert route_of_text("I.V.") == "intravenous"
    assert route_of_text("unknown") is None


def _unused(*_: Any) -> None:  # keep helpers imported for later sections
    _ = (Rules, daily)


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("onset", "window", "expected"),
    [
        # screening is 2024-03-31; 6 calendar months before it is 2023-09-30
        ("2023-09-30", "at least 6 months before screening", MET),
        ("2023-10-01", "at least 6 months before screening", NOT_MET),
        ("2023-09-30", "more than 6 months before screening", NOT_MET),
        ("2023-09-29", "more than 6 months before screening", MET),
        ("2001-01-01", "at least 6 months before screening", MET),
        ("2024-10-01", "at least 6 months after screening", MET),  # 31 March + 6 months = 30 Sep
        ("2024-09-30", "at least 6 months after screening", MET),
        ("2024-09-29", "at least 6 months after screening", NOT_MET),
        ("2024-09-30", "more than 6 months after screening", NOT_MET),
    ],
)
def test_open_ended_windows(onset: str, window: str, expected: str) -> None:
    assert truth(f"condition mi {window}", cond("mi", onset)) == expected


def test_open_ended_window_absence_is_decided_where_covered() -> None:
    expr = "no condition mi at least 6 months before screening"
    covered = [{"start": "2020-01-01", "end": "2024-12-31"}]
    assert truth(expr, coverage=covered) == MET
    assert truth(expr, cond("mi", "2023-01-01"), coverage=covered) == NOT_MET
    # A recent diagnosis is not one "at least 6 months before": decided, not unknown.
    assert truth(expr, cond("mi", "2024-03-01"), coverage=covered) == MET
    late = [{"start": "2024-01-01", "end": "2024-12-31"}]  # the window's end is not covered
    assert truth(expr, coverage=late) == UNKNOWN


def test_span_with_offsets() -> None:
    window = "from 4 weeks before screening to baseline"  # 2024-03-03 .. 2024-04-10
    for day, expected in (("2024-03-03", MET), ("2024-03-02", NOT_MET), ("2024-04-10", MET)):
        assert truth(f"medication aza {window}", med("aza", day, day)) == expected
    after = "from screening to 2 weeks after baseline"  # .. 2024-04-24
    assert truth(f"medication aza {after}", med("aza", "2024-04-24", "2024-04-24")) == MET
    assert truth(f"medication aza {after}", med("aza", "2024-04-25", "2024-04-25")) == NOT_MET
    assert "C126" in codes_of(one_criterion("lab alt from 2 weeks around screening to baseline"))


@pytest.mark.parametrize(
    ("onset", "window", "expected"),
    [
        # born 1980-06-15
        ("1996-06-14", "before age 16", MET),
        ("1996-06-15", "before age 16", NOT_MET),  # the 16th birthday
        ("1996-06-15", "from age 16", MET),
        ("1981-12-14", "before age 18 months", MET),
        ("1981-12-15", "before age 18 months", NOT_MET),
        ("1990-01-01", "within 10 years after birth", MET),
        ("1990-06-16", "within 10 years after birth", NOT_MET),
    ],
)
def test_windows_from_birth(onset: str, window: str, expected: str) -> None:
    since_birth = [{"start": "1980-06-15", "end": "2024-12-31"}]
    assert truth(f"condition mi {window}", cond("mi", onset), coverage=since_birth) == expected


def test_windows_from_birth_need_the_birth_date() -> None:
    unknown = result("condition mi before age 16", cond("mi", "1990-01-01"), birth_date=None)
    assert unknown.truth is Truth.UNKNOWN and "birth date" in unknown.missing[0]


def test_new_for_every_kind() -> None:
    newly = "condition mi new within 6 months before screening"
    assert truth(newly, cond("mi", "2024-01-10")) == MET
    assert truth(newly, cond("mi", "2020-01-10"), cond("mi", "2024-01-10")) == NOT_MET
    first_positive = "lab hbsag value is positive new within 6 months before screening"
    negative_then_positive = (
        lab("hbsag", "2023-01-01", "negative"),
        lab("hbsag", "2024-01-01", "positive"),
    )
    assert truth(first_positive, *negative_then_positive) == MET
    positive_before = (lab("hbsag", "2022-01-01", "positive"), lab("hbsag", "2024-01-01", "pos"))
    assert truth(first_positive, *positive_before) == NOT_MET
    unreadable_before = (lab("hbsag", "2022-01-01", "equivocal"), lab("hbsag", "2024-01-01", "pos"))
    assert truth(first_positive, *unreadable_before) == UNKNOWN
    # medications as before: a new start
    new_start = "medication aza new within 6 months before screening"
    assert truth(new_start, med("aza", "2024-01-01", None)) == MET
    assert (
        truth(new_start, med("aza", "2020-01-01", "2020-02-01"), med("aza", "2024-01-01", None))
        == NOT_MET
    )


def test_new_windows_format_and_round_trip() -> None:
    from criteria_lang.tools.fmt import format_text

    for window in (
        "at least 6 months before screening",
        "more than 4 weeks after baseline",
        "before age 16",
        "from age 18 months",
        "from 4 weeks before screening to baseline",
        "from screening to 2 weeks after baseline",
        "within 16 years after birth",
    ):
        text = one_criterion(f"lab alt {window}")
        assert codes_of(text) == [], window
        assert f"lab alt {window}" in format_text(text)


# --------------------------------------------------------------------------- events as dates

ALT_AFTER_MI = "medication aza within 12 months after (earliest condition mi ever before screening)"
STAY = {"type": "procedure", "code": "biopsy", "date": "2024-01-01", "end": "2024-01-05"}


def test_windows_anchored_at_events() -> None:
    alt = med("aza", "2024-01-01", "2024-01-01")
    assert truth(ALT_AFTER_MI, cond("mi", "2023-06-01"), alt) == MET
    assert truth(ALT_AFTER_MI, cond("mi", "2022-06-01"), alt) == NOT_MET  # 19 months after
    # The earliest of two diagnoses counts.
    assert truth(ALT_AFTER_MI, cond("mi", "2021-01-01"), cond("mi", "2023-06-01"), alt) == NOT_MET
    latest = ALT_AFTER_MI.replace("earliest", "latest")
    assert truth(latest, cond("mi", "2021-01-01"), cond("mi", "2023-06-01"), alt) == MET
    # No such event, in a record that covers the query's window: the window holds nothing.
    none = result(ALT_AFTER_MI, alt)
    assert none.truth is Truth.NOT_MET and "there is no condition mi" in none.evidence[0].detail
    assert truth("no " + ALT_AFTER_MI, alt) == MET
    assert truth(f"count {ALT_AFTER_MI} >= 1", alt) == NOT_MET
    # A result in it that was never measured: unknown (results are measured or missing).
    lab_after = "lab alt within 12 months after (earliest condition mi ever before screening)"
    assert truth(lab_after, cond("mi", "2022-06-01"), lab("alt", "2024-01-01", 1, "U/L")) == UNKNOWN
    # Not covered: the date is missing, and the answer unknown.
    open_ = result(ALT_AFTER_MI, alt, coverage=[{"start": "2020-01-01", "end": "2021-12-31"}])
    assert open_.truth is Truth.UNKNOWN and "no condition mi recorded" in open_.missing[0]


def test_event_definitions_and_ages_at_events() -> None:
    define = "define first_mi = earliest condition mi ever before screening"
    alt = lab("alt", "2024-01-01", 30, "U/L")
    expr = "lab alt within 12 months after first_mi"
    assert truth(expr, cond("mi", "2023-06-01"), alt, defines=define) == MET
    age = "age at (earliest condition mi ever before screening) < 43 years"  # born 1980-06-15
    assert truth(age, cond("mi", "2023-06-14")) == MET
    assert truth(age, cond("mi", "2023-06-15")) == NOT_MET
    assert truth(age) == UNKNOWN  # no onset: no age at it


def test_end_of_and_during() -> None:
    after_end = (
        "medication aza within 30 days after end of (latest medication pred ever before screening)"
    )
    assert (
        truth(
            after_end,
            med("pred", "2023-01-01", "2023-06-01"),
            med("aza", "2023-06-20", "2023-06-25"),
        )
        == MET
    )
    assert (
        truth(
            after_end,
            med("pred", "2023-01-01", "2023-06-01"),
            med("aza", "2023-07-20", "2023-07-25"),
        )
        == NOT_MET
    )
    during = "medication aza during (latest medication pred ever before screening)"
    ongoing = med("pred", "2023-01-01", None)
    assert truth(during, ongoing, med("aza", "2024-06-20", "2024-06-25")) == MET  # open end
    assert truth(after_end, ongoing, med("aza", "2024-06-20", "2024-06-25")) == UNKNOWN
    assert "C409" in codes_of(one_criterion("lab alt during screening"))
    assert "C409" in codes_of(one_criterion("lab alt within 3 days after end of screening"))


def test_events_related_to_events() -> None:
    related = "procedure biopsy with (condition mi during it) within 12 months before screening"
    assert truth(related, STAY, cond("mi", "2024-01-03")) == MET
    assert truth(related, STAY, cond("mi", "2024-01-07")) == NOT_MET
    without = related.replace("with (", "with no (")
    assert truth(without, STAY, cond("mi", "2024-01-07")) == MET
    assert truth(without, STAY, cond("mi", "2024-01-05")) == NOT_MET
    # Each stay is asked on its own: only the second had an MI during it.
    second = {**STAY, "id": "second", "date": "2024-02-01", "end": "2024-02-03"}
    found = result(f"count {related} = 1", STAY, second, cond("mi", "2024-02-02"))
    assert found.truth is Truth.MET
    # A result never measured cannot say: the stay is undecided.
    with_lab = (
        "procedure biopsy with (lab alt value > 40 U/L during it) within 12 months before screening"
    )
    assert truth(with_lab, STAY) == UNKNOWN
    assert truth(with_lab, STAY, lab("alt", "2024-01-02", 90, "U/L")) == MET
    assert truth(with_lab, STAY, lab("alt", "2024-01-02", 20, "U/L")) == NOT_MET
    # Windows before and after it
    before = (
        "procedure biopsy with (medication aza within 7 days before it) "
        "within 1 year before screening"
    )
    assert truth(before, STAY, med("aza", "2023-12-26", "2023-12-26")) == MET
    assert truth(before, STAY, med("aza", "2023-12-20", "2023-12-20")) == NOT_MET
    assert "C410" in codes_of(one_criterion("lab alt within 3 days after it"))


def test_event_anchors_format() -> None:
    from criteria_lang.tools.fmt import format_text

    for expr in (
        "lab alt within 12 months after (earliest lab alt ever before screening)",
        "lab alt within 3 days after end of (latest medication pred ever before screening)",
        "lab alt during (latest medication pred any time)",
        "medication pred with (lab alt during it) with no (lab hiv within 3 days before it) ever",
        "age at (earliest lab alt ever before screening) > 18 years",
    ):
        text = one_criterion(expr)
        assert codes_of(text) == [], expr
        assert expr in format_text(text), format_text(text)


# --------------------------------------------------------------------------- attributes

PROSTATE = 'condition prostate_cancer = icd10 "C61"\ndrug ip "an investigational product" = {}\n'


def test_attributes_are_declared() -> None:
    assert "C311" in codes_of(one_criterion('lab alt where colour = "red" within 1 year'))
    for ok in ("method", "specimen", "performer", "body_site"):
        assert "C311" not in codes_of(one_criterion(f'lab alt where {ok} = "x" within 1 year'))
    declared = 'lab special = loinc "1-8" with attributes = "colour, lot"'
    assert codes_of(one_criterion('lab special where colour = "red" within 1 year', declared)) == []
    reason = one_criterion('medication pred where reason = "x" within 1 year')
    assert "C311" in codes_of(reason)
    # The stdlib's renal biopsy declares the ISN/RPS class.
    biopsy = "import procedures\n"
    text = one_criterion(
        'procedure procedures.renal_biopsy where isn_rps_class = "IV" within 1 year', biopsy
    )
    assert codes_of(text) == []


def test_attributes_of_results_and_medications() -> None:
    method = 'lab alt where method = "HPLC" within 1 year before screening'
    assert truth(method, lab("alt", "2024-01-01", 1, "U/L", attributes={"method": "hplc"})) == MET
    assert truth(method, lab("alt", "2024-01-01", 1, "U/L", attributes={"method": "x"})) == NOT_MET
    assert truth(method, lab("alt", "2024-01-01", 1, "U/L")) == UNKNOWN  # not recorded
    stop = (
        'medication aza where stop_reason in ("inefficacy", "adverse event") ever before screening'
    )
    failed = med("aza", "2020-01-01", "2020-06-01", attributes={"stop_reason": "Inefficacy"})
    assert truth(stop, failed) == MET
    size = "procedure checked_biopsy where size >= 5 mm within 1 year before screening"
    sized = {
        "type": "procedure",
        "code": "checked_biopsy",
        "date": "2024-01-01",
        "attributes": {"size": {"value": 0.6, "unit": "cm"}},
    }
    assert truth(size, sized, defines=BIOPSY_ATTRIBUTES) == MET


def test_reasons() -> None:
    expr = "medication aza for prostate_cancer within 1 year before screening"
    c61 = {"system": "icd10", "code": "C61"}
    assert truth(expr, med("aza", "2024-01-01", None, reason=c61), defines=PROSTATE) == MET
    c50 = {"system": "icd10", "code": "C50"}
    assert truth(expr, med("aza", "2024-01-01", None, reason=c50), defines=PROSTATE) == NOT_MET
    missing = result(expr, med("aza", "2024-01-01", None), defines=PROSTATE)
    assert missing.truth is Truth.UNKNOWN and "no reason recorded" in missing.missing[0]
    assert "C304" in codes_of(one_criterion("lab alt for alt within 1 year"))


def test_half_life_from_the_record() -> None:
    own = "medication ip within 5 half-lives before screening"  # screening 2024-03-31
    week = {"half_life": {"value": 7, "unit": "d"}}  # 35 days: from 2024-02-25
    assert (
        truth(own, med("ip", "2024-03-01", "2024-03-10", attributes=week), defines=PROSTATE) == MET
    )
    assert (
        truth(own, med("ip", "2024-02-01", "2024-02-10", attributes=week), defines=PROSTATE)
        == NOT_MET
    )
    assert truth(own, med("ip", "2024-02-01", "2024-02-10"), defines=PROSTATE) == UNKNOWN
    of_ip = "medication aza within 5 half-lives of ip before screening"
    ip = med("ip", "2023-02-01", "2023-02-10", attributes=week)
    recent = med("aza", "2024-03-01", "2024-03-01")
    assert truth(of_ip, ip, recent, defines=PROSTATE) == MET
    assert truth(of_ip, ip, med("aza", "2024-01-01", "2024-01-01"), defines=PROSTATE) == NOT_MET
    assert truth(of_ip, recent, defines=PROSTATE) == UNKNOWN  # no half-life anywhere


def test_is_positive_on_an_existence_query_is_an_error() -> None:
    # `lab x ... is positive` would be met by a negative result (it exists): C312, with the fix.
    text = one_criterion("lab hiv within 1 year before screening is positive")
    assert "C312" in codes_of(text)
    for ok in (
        "lab hiv value is positive within 1 year before screening",
        "latest lab hiv within 1 year before screening is positive",
        "lab hiv within 1 year before screening is present",
    ):
        assert "C312" not in codes_of(one_criterion(ok)), ok


# --------------------------------------------------------------------------- administrations


def weekly(mg: float) -> dict[str, Any]:
    return {
        "dose": {"value": mg, "unit": "mg"},
        "frequency": {"count": 1, "period": 1, "unit": "wk"},
    }


def test_administrations() -> None:
    four = "count medication ritux within 1 year before screening >= 4"
    course = med("ritux", "2024-01-01", "2024-01-22", **weekly(700))  # days 0, 7, 14, 21
    assert truth(four, course) == MET
    short = med("ritux", "2024-01-01", "2024-01-21", **weekly(700))  # the 4th is on day 21
    assert truth(four, short) == NOT_MET
    ones = [
        med("ritux", d, d, id=f"r{i}")
        for i, d in enumerate(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"])
    ]
    assert truth(four, *ones) == MET
    # No frequency and several days: at least one administration, how many is not known.
    vague = result(four, med("ritux", "2024-01-01", "2024-01-22"))
    assert vague.truth is Truth.UNKNOWN and "frequency is not recorded" in vague.missing[0]
    assert truth(four.replace(">= 4", ">= 1"), med("ritux", "2024-01-01", "2024-01-22")) == MET
    # Only the administrations inside the window count: from 2024-01-10, two are left.
    window = "count medication ritux from 2024 to screening"
    two = "count medication ritux within 81 days before screening = 2"  # from 2024-01-10
    assert truth(two, course) == MET
    daily_three = med(
        "aza",
        "2024-03-01",
        "2024-03-02",
        dose={"value": 1, "unit": "mg"},
        frequency={"count": 3, "period": 1, "unit": "d"},
    )
    assert truth("count medication aza within 1 month before screening = 6", daily_three) == MET
    del window


def test_cumulative_dose() -> None:
    expr = "cumulative medication ritux within 1 year before screening"
    course = med("ritux", "2024-01-01", "2024-01-22", **weekly(700))
    assert truth(f"{expr} = 2800 mg", course) == MET
    pred = med("pred", "2024-03-01", "2024-03-10", **daily(10))  # 10 days x 10 mg
    assert truth("cumulative medication pred within 1 year before screening = 100 mg", pred) == MET
    mp = med("mp", "2024-03-01", "2024-03-10", **daily(8))  # 80 mg x 1.25 prednisone-equivalent
    basis = "cumulative medication gc within 1 year before screening as prednisone_equivalent"
    assert truth(f"{basis} = 200 mg", pred, mp) == MET
    assert truth(f"{basis} > 0.2 g", pred, mp) == NOT_MET
    per_week = med("pred", "2024-03-01", "2024-03-07", daily_dose={"value": 70, "unit": "mg/week"})
    assert (
        truth("cumulative medication pred within 1 year before screening = 70 mg", per_week) == MET
    )
    ongoing = med("pred", "2024-03-01", None, **daily(10))
    assert truth("cumulative medication pred any time > 1 mg", ongoing) == UNKNOWN
    assert "C302" in codes_of(one_criterion("sum medication pred within 1 year > 10 mg"))
    assert codes_of(one_criterion("cumulative medication pred within 1 year > 10 mg")) == []


# --------------------------------------------------------------------------- immunizations

VACCINES = (
    'vaccine flu = cvx "140" | atc "J07BB02"\n'
    'drug penicillin = rxnorm "7980"\n'
    'allergy peanut = snomed "91935009"\n'
)


def test_immunizations_and_allergies() -> None:
    shot = {"type": "immunization", "code": {"system": "cvx", "code": "140"}, "date": "2023-10-01"}
    flu = "immunization flu within 12 months before screening"
    assert truth(flu, shot, defines=VACCINES) == MET
    # The same vaccination recorded as a medication (ATC) is a vaccination too.
    as_drug = med({"system": "atc", "code": "J07BB02"}, "2023-10-01", "2023-10-01")  # type: ignore[arg-type]
    assert truth(flu, as_drug, defines=VACCINES) == MET
    assert truth(flu, defines=VACCINES) == NOT_MET  # covered: none given
    assert truth(flu, defines=VACCINES, coverage=[]) == UNKNOWN
    allergy = {
        "type": "allergy",
        "code": {"system": "rxnorm", "code": "7980"},
        "onset": "2010-01-01",
        "status": "active",
        "attributes": {"criticality": "high"},
    }
    known = "known allergy penicillin ever before screening"
    assert truth(known, allergy, defines=VACCINES) == MET
    assert truth(known, defines=VACCINES, coverage=[]) == NOT_MET
    high = 'allergy penicillin where criticality = "high" ever before screening'
    assert truth(high, allergy, defines=VACCINES) == MET
    # An allergy on the problem list (a condition) with the allergy's code is an allergy too.
    nut = "allergy peanut ever before screening"
    listed = cond({"system": "snomed", "code": "91935009"}, "2015-01-01")  # type: ignore[arg-type]
    assert truth(nut, listed, defines=VACCINES) == MET
    # A drug is not a vaccine: the kinds are checked.
    assert "C205" in codes_of(one_criterion("immunization pred within 1 year"))
    assert codes_of(one_criterion("allergy pred ever before screening")) == []


def test_trends_persistence_and_distinct_counts_are_checked() -> None:
    # Item 9 and issue 15b's notes: trends read results; persistence is one run; `count distinct`
    # counts types on its own. Their meaning is pinned by tests/conformance/protocols.json.
    assert "C302" in codes_of(
        one_criterion("doubling time medication pred within 1 year <= 6 months")
    )
    assert "C301" in codes_of(one_criterion("percent change lab alt within 1 year <= 5 U/L"))
    assert codes_of(one_criterion("percent change lab alt within 1 year <= -50 %")) == []
    assert codes_of(one_criterion("consecutive rises lab alt within 1 year >= 2")) == []
    gaps = "lab hiv value is positive for at least 6 months allowing gaps of 1 month ever"
    assert "C304" in codes_of(one_criterion(gaps))
    total = "lab hiv value is positive for at least 6 months total ever"
    assert "C304" in codes_of(one_criterion(total))
    assert codes_of(one_criterion("lab hiv value is positive for at least 6 months ever")) == []
    assert "C304" in codes_of(
        one_criterion("condition lupus for at least 6 months ever", 'condition lupus = icd10 "M32"')
    )
    same = "count distinct medication pred of the same type ever <= 1"
    assert "C305" in codes_of(one_criterion(same))
    assert codes_of(one_criterion("count distinct medication pred ever <= 1")) == []

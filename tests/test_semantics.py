"""Each rule of docs/language.md, pinned at its edges. Test names are cited in the doc."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from semantics_helpers import cond, daily, lab, med, patient, result, rules, truth

from criteria_lang.core.dates import completed_years, run_reaches, shift
from criteria_lang.core.results import Truth
from criteria_lang.engine.values import Outcome, combine_and, combine_or, negate

MET, NOT_MET, UNKNOWN, REVIEW = "met", "not_met", "unknown", "needs_review"


# --------------------------------------------------------------------------- logic


def test_unknown_propagation() -> None:
    t, f, u, r = (
        Outcome(Truth.MET),
        Outcome(Truth.NOT_MET),
        Outcome(Truth.UNKNOWN),
        Outcome(Truth.REVIEW),
    )
    assert combine_and([f, u]).truth is Truth.NOT_MET  # false and unknown = false
    assert combine_or([t, u]).truth is Truth.MET  # true or unknown = true
    assert combine_and([t, u]).truth is Truth.UNKNOWN
    assert combine_or([f, u]).truth is Truth.UNKNOWN
    assert negate(u).truth is Truth.UNKNOWN
    assert combine_and([t, r]).truth is Truth.REVIEW
    assert combine_and([u, r]).truth is Truth.UNKNOWN  # missing data first
    # the same through the language: no creatinine at all is unknown
    assert truth("latest lab creatinine within 3 months before screening < 2 mg/dL") == UNKNOWN
    no_cr_but_false = "latest lab creatinine within 3 months before screening < 2 mg/dL and latest lab ast within 3 months before screening > 100 U/L"
    assert truth(no_cr_but_false, lab("ast", "2024-03-01", 20, "U/L")) == NOT_MET
    true_or_unknown = "latest lab creatinine within 3 months before screening < 2 mg/dL or latest lab ast within 3 months before screening < 100 U/L"
    assert truth(true_or_unknown, lab("ast", "2024-03-01", 20, "U/L")) == MET


def test_at_least_n_of() -> None:
    expr = "at least 2 of (latest lab ast within 1 year before screening > 50 U/L, latest lab alt within 1 year before screening > 50 U/L, latest lab creatinine within 1 year before screening > 2 mg/dL)"
    ast_hi = lab("ast", "2024-03-01", 60, "U/L")
    alt_hi = lab("alt", "2024-03-01", 60, "U/L")
    alt_lo = lab("alt", "2024-03-01", 10, "U/L")
    cr_lo = lab("creatinine", "2024-03-01", 1, "mg/dL")
    assert truth(expr, ast_hi, alt_hi) == MET  # 2 met, third unknown
    assert truth(expr, ast_hi, alt_lo) == UNKNOWN  # 1 met, 1 open
    assert truth(expr, ast_hi, alt_lo, cr_lo) == NOT_MET


def test_conditional() -> None:
    expr = "if fact pregnant at screening then latest lab ast within 1 year before screening > 50 U/L else latest lab alt within 1 year before screening > 50 U/L end"
    fact_yes = {"type": "fact", "code": "pregnant", "date": "2024-03-31", "value": True}
    fact_no = {"type": "fact", "code": "pregnant", "date": "2024-03-31", "value": False}
    ast_hi, alt_lo = lab("ast", "2024-03-01", 60, "U/L"), lab("alt", "2024-03-01", 10, "U/L")
    assert truth(expr, fact_yes, ast_hi, alt_lo) == MET
    assert truth(expr, fact_no, ast_hi, alt_lo) == NOT_MET
    assert truth(expr, ast_hi, alt_lo) == UNKNOWN  # branches disagree
    alt_hi = lab("alt", "2024-03-01", 70, "U/L")
    assert truth(expr, ast_hi, alt_hi) == MET  # both branches agree


def test_review_answer() -> None:
    r = rules('I1 "x": review "Is the patient compliant?"')
    pending = r.evaluate(patient()).criteria[0]
    assert pending.truth is Truth.REVIEW and pending.questions == ("Is the patient compliant?",)
    answered = r.evaluate(
        patient(reviews={"I1": {"answer": "not_met", "by": "Dr A", "date": "2024-03-30"}})
    ).criteria[0]
    assert answered.truth is Truth.NOT_MET
    assert "Dr A" in answered.evidence[0].detail


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2023-09-30", MET),  # 31 March - 6 months = 30 September (clamped): first day in
        ("2023-09-29", NOT_MET),  # one day before the window
        ("2024-03-31", MET),  # the anchor itself is inside
        ("2024-04-01", NOT_MET),  # one day after
    ],
)
def test_window_edges(day: str, expected: str) -> None:
    expr = "medication aza within 6 months before screening"
    assert truth(expr, med("aza", day, day)) == expected


def test_window_between_either_order() -> None:
    a = "any lab ast between 12 and 4 weeks before screening"
    b = "any lab ast between 4 and 12 weeks before screening"
    # screening 2024-03-31: 12 weeks before = 2024-01-07, 4 weeks before = 2024-03-03
    for expr in (a, b):
        assert truth(expr, lab("ast", "2024-01-07", 20, "U/L")) == MET
        assert truth(expr, lab("ast", "2024-03-03", 20, "U/L")) == MET
        assert truth(expr, lab("ast", "2024-03-04", 20, "U/L")) == UNKNOWN  # none measured
        assert truth(expr, lab("ast", "2024-01-06", 20, "U/L")) == UNKNOWN


def test_at_with_tolerance() -> None:
    expr = "nearest score sledai at screening +/- 7 days >= 6"
    far = {"type": "score", "code": "sledai", "date": "2024-03-20", "value": 10}
    near = {"type": "score", "code": "sledai", "date": "2024-04-05", "value": 4}
    assert truth(expr, far, near) == NOT_MET  # the nearest (5 days after) is 4
    assert truth(expr, far) == UNKNOWN  # 11 days away: outside the tolerance


def test_calendar_months() -> None:
    assert shift(dt.date(2024, 3, 31), Fraction(1), "months", -1) == dt.date(2024, 2, 29)
    assert shift(dt.date(2023, 3, 31), Fraction(1), "months", -1) == dt.date(2023, 2, 28)
    assert shift(dt.date(2024, 2, 29), Fraction(1), "years", 1) == dt.date(2025, 2, 28)
    assert shift(dt.date(2024, 1, 31), Fraction(1), "months", 1) == dt.date(2024, 2, 29)
    # the 31st minus one month, through the language: 29 Feb 2024 is in, 28 Feb is not
    expr = "medication aza within 1 months before screening"
    assert truth(expr, med("aza", "2024-02-29", "2024-02-29")) == MET
    assert truth(expr, med("aza", "2024-02-28", "2024-02-28")) == NOT_MET


def test_age() -> None:
    assert completed_years(dt.date(2000, 2, 29), dt.date(2018, 2, 28)) == 18  # leap-day birthday
    assert completed_years(dt.date(2000, 2, 29), dt.date(2018, 2, 27)) == 17
    assert completed_years(dt.date(2000, 3, 1), dt.date(2018, 2, 28)) == 17
    expr = "age at screening between 18 and 70 years exclusive"
    assert truth(expr, birth_date="2006-03-31") == NOT_MET  # 18 completed years: not > 18
    assert truth(expr, birth_date="2005-04-01") == NOT_MET  # still 18
    assert truth(expr, birth_date="2005-03-30") == MET  # 19
    assert truth(expr, birth_date=None) == UNKNOWN
    assert truth("age at screening >= 216 months", birth_date="2006-03-31") == MET


def test_age_exactly_19_on_screening() -> None:
    # born 2005-03-31, screening 2024-03-31: 19 completed years, inside (18, 70)
    assert (
        truth("age at screening between 18 and 70 years exclusive", birth_date="2005-03-31") == MET
    )


def test_run_reaches_months() -> None:
    assert run_reaches(dt.date(2024, 1, 15), dt.date(2024, 4, 14), Fraction(3), "months")
    assert not run_reaches(dt.date(2024, 1, 15), dt.date(2024, 4, 13), Fraction(3), "months")
    assert run_reaches(dt.date(2024, 1, 1), dt.date(2024, 1, 30), Fraction(30), "days")
    assert not run_reaches(dt.date(2024, 1, 1), dt.date(2024, 1, 29), Fraction(30), "days")


# --------------------------------------------------------------------------- window membership


def test_window_membership() -> None:
    expr = "medication aza within 30 days before screening"
    # an exposure that started long before and ends inside the window overlaps it
    assert truth(expr, med("aza", "2023-01-01", "2024-03-01")) == MET
    assert truth(expr, med("aza", "2023-01-01", "2024-02-29")) == NOT_MET  # ends the day before
    assert truth(expr, med("aza", "2023-01-01", None)) == MET  # ongoing
    # conditions: onset day only without abatement, unless `status active`
    assert (
        truth("condition mi within 6 months before screening", cond("mi", "2022-01-01")) == NOT_MET
    )
    assert (
        truth(
            "condition mi status active within 6 months before screening", cond("mi", "2022-01-01")
        )
        == MET
    )
    assert (
        truth(
            "condition mi within 6 months before screening", cond("mi", "2022-01-01", "2024-01-10")
        )
        == MET
    )


def test_except_removes_codes() -> None:
    expr = "condition infection within 1 year before screening"
    onycho = {
        "type": "condition",
        "onset": "2024-01-01",
        "code": [{"system": "icd10", "code": "B35.1"}],
    }
    flu = {
        "type": "condition",
        "onset": "2024-01-01",
        "code": [{"system": "icd10", "code": "J10.1"}],
    }
    herpes = {
        "type": "condition",
        "onset": "2024-01-01",
        "code": [{"system": "icd10", "code": "B00.1"}],
    }
    assert truth(expr, onycho) == NOT_MET  # B35.1 matches B* but is excepted
    assert truth(expr, herpes) == MET
    assert truth(expr, flu) == NOT_MET
    assert truth(expr, cond("onychomycosis", "2024-01-01")) == NOT_MET


# --------------------------------------------------------------------------- numbers and units


def test_threshold_exact_across_units() -> None:
    cr = lambda v, u: lab("creatinine", "2024-03-01", v, u)  # noqa: E731
    expr = "latest lab creatinine within 3 months before screening <= 0.011 g/L"
    assert truth(expr, cr(1.1, "mg/dL")) == MET  # plain floats in pint say 0.011000000000000001
    assert (
        truth(
            "latest lab creatinine within 3 months before screening > 1.2 mg/dL", cr(1.2, "mg/dL")
        )
        == NOT_MET
    )
    assert (
        truth(
            "latest lab creatinine within 3 months before screening > 1.2 mg/dL", cr(0.012, "g/L")
        )
        == NOT_MET
    )
    assert (
        truth("latest lab creatinine within 3 months before screening > 1.2 mg/dL", cr(12, "mg/L"))
        == NOT_MET
    )
    assert (
        truth(
            "latest lab creatinine within 3 months before screening > 1.2 mg/dL",
            cr(12.000001, "mg/L"),
        )
        == MET
    )


def test_molar_conversion() -> None:
    # 1.2 mg/dL creatinine = 1.2 * 10000 / 113.12 umol/L = 106.082...; exactly that is not above
    exact = Fraction("1.2") * 10000 / Fraction("113.12")
    expr = "latest lab creatinine within 3 months before screening > 1.2 mg/dL"
    assert truth(expr, lab("creatinine", "2024-03-01", 106.08, "umol/L")) == NOT_MET
    assert truth(expr, lab("creatinine", "2024-03-01", 106.09, "umol/L")) == MET
    assert Fraction("106.08") < exact < Fraction("106.09")
    # UPCR in mg/mmol against a g/g threshold (creatinine's molar mass in the denominator)
    expr2 = "latest lab upcr within 3 months before screening >= 1 g/g"
    assert truth(expr2, lab("upcr", "2024-03-01", 113.12, "mg/mmol")) == MET
    assert truth(expr2, lab("upcr", "2024-03-01", 113.11, "mg/mmol")) == NOT_MET


def test_uln() -> None:
    expr = "latest lab ast within 3 months before screening > 2 x ULN"
    own = {"reference_range": {"high": 35}}
    assert truth(expr, lab("ast", "2024-03-01", 71, "U/L", **own)) == MET
    assert truth(expr, lab("ast", "2024-03-01", 70, "U/L", **own)) == NOT_MET  # exactly 2 x 35
    assert truth(expr, lab("ast", "2024-03-01", 80, "U/L")) == NOT_MET  # stdlib ULN 40: 80 = 2x
    assert truth(expr, lab("ast", "2024-03-01", 81, "U/L")) == MET
    assert (
        truth(
            "latest lab alt within 3 months before screening > 2 x ULN",
            lab("alt", "2024-03-01", 500, "U/L"),
        )
        == UNKNOWN
    )


def test_titer_and_coded_values() -> None:
    expr = "latest lab ana ever >= 1:80"
    assert truth(expr, lab("ana", "2020-01-01", "1:160")) == MET
    assert truth(expr, lab("ana", "2020-01-01", "1:40")) == NOT_MET
    assert truth(expr, lab("ana", "2020-01-01", "1:80")) == MET
    coded = "latest lab hbsag within 3 months before screening is positive"
    assert truth(coded, lab("hbsag", "2024-03-01", "negative")) == NOT_MET
    assert truth(coded, lab("hbsag", "2024-03-01", "Positive")) == MET
    assert truth(coded, lab("hbsag", "2024-03-01", "equivocal")) == UNKNOWN


# --------------------------------------------------------------------------- doses


def test_dose_shapes() -> None:
    weight = {
        "type": "observation",
        "code": "body_weight",
        "date": "2023-01-01",
        "value": 75,
        "unit": "kg",
    }
    expr = "medication aza dose > 2 mg/kg/day ever"
    assert (
        truth(expr, weight, med("aza", "2023-01-01", "2023-06-01", **daily(150))) == NOT_MET
    )  # exactly 2
    assert truth(expr, weight, med("aza", "2023-01-01", "2023-06-01", **daily(151))) == MET
    assert truth(expr, med("aza", "2023-01-01", "2023-06-01", **daily(151))) == UNKNOWN  # no weight
    weekly = {
        "dose": {"value": 25, "unit": "mg"},
        "frequency": {"count": 1, "period": 1, "unit": "wk"},
    }
    assert (
        truth(
            "medication aza dose > 20 mg/week ever",
            med("aza", "2023-01-01", "2023-06-01", **weekly),
        )
        == MET
    )
    assert (
        truth(
            "medication aza dose > 25 mg/week ever",
            med("aza", "2023-01-01", "2023-06-01", **weekly),
        )
        == NOT_MET
    )
    equiv = "medication gc dose >= 6 mg/day as prednisone_equivalent ever"
    assert truth(equiv, med("mp", "2023-01-01", "2023-02-01", **daily(4))) == NOT_MET  # 5 mg pred
    assert truth(equiv, med("mp", "2023-01-01", "2023-02-01", **daily(4.8))) == MET  # 6 mg pred
    height = {
        "type": "observation",
        "code": "body_height",
        "date": "2023-01-01",
        "value": 180,
        "unit": "cm",
    }
    # Mosteller BSA sqrt(180*80/3600) = 2 m2 exactly: 750 mg is 375 mg/m2
    w80 = {
        "type": "observation",
        "code": "body_weight",
        "date": "2023-01-01",
        "value": 80,
        "unit": "kg",
    }
    single = {"dose": {"value": 750, "unit": "mg"}}
    assert (
        truth(
            "medication ritux dose >= 375 mg/m2 ever",
            height,
            w80,
            med("ritux", "2023-01-05", "2023-01-05", **single),
        )
        == MET
    )
    assert (
        truth(
            "medication ritux dose > 375 mg/m2 ever",
            height,
            w80,
            med("ritux", "2023-01-05", "2023-01-05", **single),
        )
        == NOT_MET
    )


def test_dose_duration() -> None:
    weight = {
        "type": "observation",
        "code": "body_weight",
        "date": "2023-01-01",
        "value": 50,
        "unit": "kg",
    }
    expr = "medication aza dose > 2 mg/kg/day for at least 90 days ever"
    e = lambda s, t: med("aza", s, t, **daily(150))  # noqa: E731  3 mg/kg/day
    assert truth(expr, weight, e("2023-01-01", "2023-03-31")) == MET  # 90 days inclusive
    assert truth(expr, weight, e("2023-01-01", "2023-03-30")) == NOT_MET  # 89 days
    # two exposures back to back join; with a gap they do not, unless gaps are allowed
    assert truth(expr, weight, e("2023-01-01", "2023-02-14"), e("2023-02-15", "2023-03-31")) == MET
    assert (
        truth(expr, weight, e("2023-01-01", "2023-02-14"), e("2023-02-20", "2023-04-30")) == NOT_MET
    )
    gaps = "medication aza dose > 2 mg/kg/day for at least 90 days allowing gaps of 7 days ever"
    assert truth(gaps, weight, e("2023-01-01", "2023-02-14"), e("2023-02-20", "2023-04-30")) == MET
    total = "medication aza dose > 2 mg/kg/day for at least 90 days total ever"
    assert truth(total, weight, e("2023-01-01", "2023-02-14"), e("2023-06-01", "2023-07-15")) == MET
    months = "medication aza for at least 3 months ever"
    assert truth(months, med("aza", "2023-01-15", "2023-04-14")) == MET
    assert truth(months, med("aza", "2023-01-15", "2023-04-13")) == NOT_MET
    # a window clips the run: 90 days ending after screening count only up to screening
    clipped = "medication aza for at least 90 days within 60 days before screening"
    assert truth(clipped, med("aza", "2023-01-01", "2024-12-31")) == NOT_MET


def test_dose_change_and_stable() -> None:
    change = "medication acei with dose change within 2 months before screening"
    stable = "medication acei with stable dose within 30 days before screening"
    same = [
        med("acei", "2023-01-01", "2024-02-15", **daily(10)),
        med("acei", "2024-02-16", None, **daily(10)),
    ]
    varied = [
        med("acei", "2023-01-01", "2024-02-15", **daily(10)),
        med("acei", "2024-02-16", None, **daily(20)),
    ]
    assert truth(change, *varied) == MET
    assert truth(stable, med("acei", "2023-01-01", None, **daily(10))) == MET
    assert truth(stable, *varied) == MET  # the change on 16 Feb is before the 30 days
    recent = [
        med("acei", "2023-01-01", "2024-03-09", **daily(10)),
        med("acei", "2024-03-10", None, **daily(20)),
    ]
    assert truth(stable, *recent) == NOT_MET
    assert truth(stable, med("acei", "2024-03-05", None, **daily(10))) == NOT_MET  # started inside
    assert truth(change, med("acei", "2023-01-01", None, **daily(10))) == NOT_MET
    assert truth(change, med("acei", "2024-03-10", None, **daily(10))) == MET  # a start inside
    # A renewal the day after at the same dose is one course: no stop, no start, no change
    # (docs/language.md, "Courses"; it was read as a stop and a start before issue 18).
    assert truth(change, *same) == NOT_MET
    assert truth(stable, *same) == MET
    stopped = [
        med("acei", "2023-01-01", "2024-02-15", **daily(10)),
        med("acei", "2024-02-24", None, **daily(10)),  # 8 days without: a stop and a restart
    ]
    assert truth(change, *stopped) == MET


def test_new_start() -> None:
    expr = "medication aza new within 3 months before screening"
    assert truth(expr, med("aza", "2024-02-01", None)) == MET
    assert (
        truth(expr, med("aza", "2020-01-01", "2020-06-01"), med("aza", "2024-02-01", None))
        == NOT_MET
    )
    assert truth(expr, med("aza", "2023-01-01", None)) == NOT_MET  # continuing use


def test_half_lives_window() -> None:
    # ritux half-life 21 days: 5 half-lives = 105 days > 3 months (91 days before 2024-03-31)
    expr = "medication ritux within max(3 months, 5 half-lives) before screening"
    assert truth(expr, med("ritux", "2023-12-20", "2023-12-20")) == MET  # 102 days before
    assert truth(expr, med("ritux", "2023-12-16", "2023-12-16")) == NOT_MET  # 106 days before
    # pred half-life 3 h: 3 months wins
    expr2 = "medication pred within max(3 months, 5 half-lives) before screening"
    assert truth(expr2, med("pred", "2023-12-31", "2023-12-31")) == MET
    assert truth(expr2, med("pred", "2023-12-30", "2023-12-30")) == NOT_MET


# --------------------------------------------------------------------------- absence


def test_absence_and_coverage() -> None:
    expr = "no medication aza within 6 months before screening"
    assert truth(expr) == MET  # covered, nothing recorded
    assert truth(expr, coverage=[{"start": "2024-01-01", "end": "2024-12-31"}]) == UNKNOWN
    assert truth(expr, coverage=[]) == UNKNOWN
    r = result(expr, coverage=[{"start": "2024-01-01", "end": "2024-12-31"}])
    assert "covers" in r.missing[0]
    # found inside a partly covered window: decided
    assert (
        truth(
            expr,
            med("aza", "2024-02-01", "2024-02-10"),
            coverage=[{"start": "2024-01-01", "end": "2024-12-31"}],
        )
        == NOT_MET
    )
    # ever is judged within the record
    assert (
        truth("no condition mi ever", coverage=[{"start": "2020-01-01", "end": "2024-12-31"}])
        == MET
    )
    # labs are measured or missing: coverage does not make them known
    assert truth("latest lab ast within 3 months before screening < 40 U/L") == UNKNOWN
    # a value filter over existing measurements is decided
    assert (
        truth(
            "any lab ast value > 100 U/L within 3 months before screening",
            lab("ast", "2024-03-01", 20, "U/L"),
        )
        == NOT_MET
    )
    # facts: no record is unknown, a recorded no is not met
    assert truth("fact pregnant at screening") == UNKNOWN
    assert (
        truth(
            "fact pregnant at screening",
            {"type": "fact", "code": "pregnant", "date": "2024-03-31", "value": False},
        )
        == NOT_MET
    )


def test_count_in_partly_covered_window() -> None:
    expr = "count condition infection within 12 months before screening >= 3"
    three = [cond("infection", f"2023-{m:02d}-01") for m in (6, 8, 10)]
    two = three[:2]
    part = [{"start": "2023-07-01", "end": "2024-12-31"}]
    assert truth(expr, *three) == MET
    assert truth(expr, *two) == NOT_MET
    assert truth(expr, *two, coverage=part) == UNKNOWN  # there could be a third before July
    assert truth(expr, *three, coverage=part) == MET


def test_missing_named_date() -> None:
    r = result("medication aza within 6 months before baseline", dates={"screening": "2024-03-31"})
    assert r.truth is Truth.UNKNOWN and "baseline" in r.missing[0]


def test_closed_world_policy() -> None:
    from criteria_lang import Rules

    base = rules('I1 "x": no medication aza within 6 months before screening')
    closed = Rules(base.program, policy="closed-world")
    doc = patient(coverage=[])
    assert base.evaluate(doc).criteria[0].truth is Truth.UNKNOWN
    assert closed.evaluate(doc).criteria[0].truth is Truth.MET


# --------------------------------------------------------------------------- results


def test_verdict() -> None:
    text = """
trial "T"
  dates screening
lab ast = loinc "1920-8" with unit = U/L
inclusion
  I1 "ast measured": any lab ast within 1 year before screening
exclusion
  E1 "ast high": latest lab ast within 1 year before screening > 100 U/L
  E2 "review": review "ok?"
"""
    from criteria_lang import Rules, Verdict

    r = Rules.from_text(text)
    answered = {"E2": {"answer": "not_met"}}
    ok = r.evaluate(patient(lab("ast", "2024-01-01", 20, "U/L"), reviews=answered))
    assert ok.verdict is Verdict.ELIGIBLE and ok.deciding == ()
    bad = r.evaluate(patient(lab("ast", "2024-01-01", 200, "U/L")))
    assert bad.verdict is Verdict.INELIGIBLE and bad.deciding == ("E1",)
    open_ = r.evaluate(patient(lab("ast", "2024-01-01", 20, "U/L")))
    assert open_.verdict is Verdict.UNDETERMINED and open_.deciding == ("E2",)
    none = r.evaluate(patient(reviews=answered))
    assert none.verdict is Verdict.UNDETERMINED and set(none.deciding) == {"I1", "E1"}

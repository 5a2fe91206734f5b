"""What docs/language.md says that is not a case of tests/conformance/: the three-valued
combinators, calendar arithmetic and the verdict. The rules of the language themselves are pinned
by the conformance cases, which every engine runs. Test names are cited in the doc."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from semantics_helpers import lab, patient

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
    # through the language: tests/conformance/logic.json


# --------------------------------------------------------------------------- time


def test_calendar_months() -> None:
    assert shift(dt.date(2024, 3, 31), Fraction(1), "months", -1) == dt.date(2024, 2, 29)
    assert shift(dt.date(2023, 3, 31), Fraction(1), "months", -1) == dt.date(2023, 2, 28)
    assert shift(dt.date(2024, 2, 29), Fraction(1), "years", 1) == dt.date(2025, 2, 28)
    assert shift(dt.date(2024, 1, 31), Fraction(1), "months", 1) == dt.date(2024, 2, 29)
    # through the language: tests/conformance/windows.json (calendar-month-*)


def test_age() -> None:
    assert completed_years(dt.date(2000, 2, 29), dt.date(2018, 2, 28)) == 18  # leap-day birthday
    assert completed_years(dt.date(2000, 2, 29), dt.date(2018, 2, 27)) == 17
    assert completed_years(dt.date(2000, 3, 1), dt.date(2018, 2, 28)) == 17
    # through the language: tests/conformance/values.json (age-*)


def test_run_reaches_months() -> None:
    assert run_reaches(dt.date(2024, 1, 15), dt.date(2024, 4, 14), Fraction(3), "months")
    assert not run_reaches(dt.date(2024, 1, 15), dt.date(2024, 4, 13), Fraction(3), "months")
    assert run_reaches(dt.date(2024, 1, 1), dt.date(2024, 1, 30), Fraction(30), "days")
    assert not run_reaches(dt.date(2024, 1, 1), dt.date(2024, 1, 29), Fraction(30), "days")


# --------------------------------------------------------------------------- window membership


# --------------------------------------------------------------------------- numbers and units


# --------------------------------------------------------------------------- doses


# --------------------------------------------------------------------------- absence


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

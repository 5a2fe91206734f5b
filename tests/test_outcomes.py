"""docs/language.md, "Outcomes": each rule pinned at its edges. Test names are cited in the doc."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from semantics_helpers import CONCEPTS, daily, lab, med, patient

from criteria_lang import OutcomeReport, Rules, compile_text
from criteria_lang.cli.main import main
from criteria_lang.core.results import VisitOutcome

EXTRA = """
lab prot24 = loinc "2889-4" with unit = g/24h
score renal = local "bilag_renal" with grades = "A, B, C, D, E"
score skin = local "bilag_skin" with grades = "A, B, C, D, E"
score joints = local "bilag_joints"
score domains = renal | skin | joints with grades = "A B C D E"
score ungraded = local "ungraded"
"""

VISITS = [
    {"name": "baseline", "date": "2024-04-10"},
    {"name": "week 12", "date": "2024-07-03"},
    {"name": "week 24", "date": "2024-09-25"},
]


def rules_text(
    *outcomes: str,
    section: str = "outcomes compared to baseline",
    defines: str = "",
    criteria: str = "",
) -> str:
    body = "\n".join(f"  {o}" for o in outcomes)
    inclusion = f"inclusion\n{criteria}\n" if criteria else ""
    return (
        'trial "T"\n  dates screening, baseline\n  index screening\n'
        f"{CONCEPTS}{EXTRA}\n{defines}\n{inclusion}{section}\n{body}\n"
    )


def outcome_rules(*outcomes: str, **kw: Any) -> Rules:
    return Rules.from_text(rules_text(*outcomes, **kw))


def report(r: Rules, *events: dict[str, Any], **fields: Any) -> OutcomeReport:
    fields.setdefault("visits", VISITS)
    return r.outcomes(patient(*events, **fields))


def cell(
    expr: str,
    *events: dict[str, Any],
    visit: str = "week 24",
    options: str = "",
    defines: str = "",
    **fields: Any,
) -> VisitOutcome:
    """Judge one outcome `O1` with `expr` and return its result at `visit`."""
    r = outcome_rules(f'O1 "test"{options}: {expr}', defines=defines)
    return report(r, *events, **fields).outcome("O1").at(visit)


def result(expr: str, *events: dict[str, Any], **kw: Any) -> str:
    return cell(expr, *events, **kw).result


def codes(text: str) -> list[str]:
    return [d.code for d in compile_text(text).diagnostics]


UPCR_AT_VISIT = "latest lab upcr at visit +/- 14 days"
UPCR_AT_BASELINE = "latest lab upcr at baseline +/- 14 days"


# --------------------------------------------------------------------------- options


def test_outcome_options() -> None:
    # Section defaults apply to every outcome; an outcome's own option replaces them.
    r = outcome_rules(
        'A "a": any lab upcr at visit',
        'B "b" at visits "week 12": any lab upcr at visit',
        'C "c" compared to screening: any lab upcr at visit',
        section='outcomes compared to baseline at visits "week 24"',
    )
    events = [lab("upcr", d, 1, "g/g") for d in ("2024-04-10", "2024-07-03", "2024-09-25")]
    rep = report(r, *events)
    judged = {s.id: [v.visit for v in s.visits if v.judged] for s in rep.outcomes}
    assert judged == {"A": ["week 24"], "B": ["week 12"], "C": ["week 24"]}
    assert rep.outcome("A").baseline == "baseline"
    assert rep.outcome("A").days_to_first_met == 168  # 2024-04-10 -> 2024-09-25
    assert rep.outcome("C").baseline == "screening"
    assert rep.outcome("C").days_to_first_met == 178  # from screening, 2024-03-31
    # No options anywhere: every visit after the trial's index date (screening here).
    bare = outcome_rules('A "a": any lab upcr at visit', section="outcomes")
    series = report(bare, *events).outcome("A")
    assert series.baseline == "screening"
    assert [v.judged for v in series.visits] == [True, True, True]  # all after 2024-03-31
    # Two options of one kind: C211.
    assert "C211" in codes(rules_text('A "a" at visits "x" at every visit: any lab upcr at visit'))
    assert "C211" in codes(
        rules_text('A "a" compared to baseline compared to screening: sex in ("female")')
    )
    # The baseline date must be a trial date.
    assert "C201" in codes(rules_text('A "a" compared to selection: any lab upcr at visit'))


# --------------------------------------------------------------------------- timepoints


def test_outcome_timepoints() -> None:
    upcr = lab("upcr", "2024-09-25", 1, "g/g")
    # Names match ignoring case and repeated spaces.
    assert result("any lab upcr at visit", upcr, options=' at visits "Week  24"') == "met"
    assert result("any lab upcr at visit", upcr, options=' at visits "week 12"') == "not_judged"
    # Every visit: not the one on the baseline date, but the day after it.
    every = " at every visit"
    on_baseline = [{"name": "v0", "date": "2024-04-10"}, {"name": "v1", "date": "2024-04-11"}]
    series = report(outcome_rules(f'O1 "t"{every}: sex in ("female")'), visits=on_baseline).outcome(
        "O1"
    )
    assert [v.result for v in series.visits] == ["not_judged", "met"]
    # A window: its ends are included (baseline 2024-04-10 + 24 weeks = 2024-09-25).
    window = " at every visit within 24 weeks after baseline"
    edge = [{"name": "in", "date": "2024-09-25"}, {"name": "out", "date": "2024-09-26"}]
    series = report(outcome_rules(f'O1 "t"{window}: sex in ("female")'), visits=edge).outcome("O1")
    assert [v.result for v in series.visits] == ["met", "not_judged"]
    between = " at every visit between 20 and 24 weeks after baseline"
    early = [{"name": "w19", "date": "2024-08-27"}, {"name": "w20", "date": "2024-08-28"}]
    series = report(outcome_rules(f'O1 "t"{between}: sex in ("female")'), visits=early).outcome(
        "O1"
    )
    assert [v.result for v in series.visits] == ["not_judged", "met"]
    # Baseline date missing: `every visit` cannot tell which visits follow it.
    no_baseline = {"screening": "2024-03-31"}
    missing = cell('sex in ("female")', options=every, dates=no_baseline)
    assert missing.result == "unknown" and "baseline date is not recorded" in missing.missing[0]
    # ... while a named visit is still judged (and what needs the baseline says so).
    named = cell(
        f"{UPCR_AT_VISIT} < 50 % of {UPCR_AT_BASELINE}",
        upcr,
        options=' at visits "week 24"',
        dates=no_baseline,
    )
    assert named.result == "unknown" and "baseline date is not recorded" in named.missing[0]
    # A visit that is not judged is never used, not even for the first response.
    r = outcome_rules('O1 "t" at visits "week 24": any lab upcr at visit')
    early_hit = [lab("upcr", "2024-07-03", 1, "g/g"), upcr]
    series = report(r, *early_hit).outcome("O1")
    assert series.first_met == "week 24" and series.at("week 12").result == "not_judged"
    # Timepoint windows count calendar time, not half-lives; `visit` has no meaning there.
    assert "C405" in codes(
        rules_text(
            'A "a" at every visit within 5 half-lives of ritux after baseline: sex in ("female")'
        )
    )
    assert "C403" in codes(
        rules_text('A "a" at every visit within 4 weeks after visit: sex in ("female")')
    )


# --------------------------------------------------------------------------- visit dates


def test_visit_anchors() -> None:
    # `at visit +/- 14 days`: 14 days after the visit is in, 15 days is out (and says so).
    assert result(f"{UPCR_AT_VISIT} < 1 g/g", lab("upcr", "2024-10-09", 0.5, "g/g")) == "met"
    out = cell(f"{UPCR_AT_VISIT} < 1 g/g", lab("upcr", "2024-10-10", 0.5, "g/g"))
    assert out.result == "unknown" and out.missing == ("no lab upcr at visit +/- 14 days",)
    # previous visit: the visit before the judged one, whatever its name; none before the first.
    prev = "latest lab upcr at previous visit > latest lab upcr at visit"
    events = [lab("upcr", "2024-07-03", 2, "g/g"), lab("upcr", "2024-09-25", 1, "g/g")]
    assert result(prev, *events) == "met"
    first = cell(prev, *events, visit="baseline", options=' at visits "baseline"')
    assert first.result == "unknown" and "no visit before baseline" in first.missing[0]
    # visit "name": anywhere, in criteria too; a patient without it makes it unknown.
    crit = rules_text(
        'O1 "t": sex in ("female")', criteria='  I1 "x": any lab upcr at visit "week 12" +/- 7 days'
    )
    r = Rules.from_text(crit)
    doc = patient(lab("upcr", "2024-07-10", 1, "g/g"), visits=VISITS)
    assert r.evaluate(doc).criteria[0].truth.value == "met"
    gone = r.evaluate(patient(visits=VISITS[:1])).criteria[0]
    assert gone.truth.value == "unknown" and "no visit named 'week 12'" in gone.missing[0]
    # The earliest of several visits with one name.
    twice = VISITS + [{"name": "Week 12", "date": "2024-07-20"}]
    assert (
        result('any lab upcr at visit "week 12"', lab("upcr", "2024-07-03", 1, "g/g"), visits=twice)
        == "met"
    )
    # age and derived values at the visit.
    assert result("age at visit >= 44 years", birth_date="1980-09-25") == "met"
    assert result("age at visit >= 44 years", birth_date="1980-09-26") == "not_met"
    weight = {
        "type": "observation",
        "code": "body_weight",
        "date": "2024-09-20",
        "value": 72,
        "unit": "kg",
    }
    assert result("value weight at visit +/- 7 days = 72 kg", weight) == "met"
    assert result("value weight at visit +/- 4 days = 72 kg", weight) == "unknown"
    # `visit` means nothing in a criterion, directly or through a definition (C403) ...
    assert "C403" in codes(
        rules_text('O1 "t": sex in ("female")', criteria='  I1 "x": any lab upcr at visit')
    )
    two = "define upcr_now = latest lab upcr at visit\ndefine wrapped = upcr_now"
    via = rules_text('O1 "t": upcr_now < 1 g/g', defines=two, criteria='  I1 "x": wrapped < 1 g/g')
    assert codes(via) == ["C403"]
    # ... and is fine in a definition that only outcomes use.
    assert codes(rules_text('O1 "t": wrapped < 1 g/g', defines=two)) == []
    assert "C403" in codes(
        rules_text(
            'O1 "t": sex in ("female")', criteria='  I1 "x": age at previous visit > 18 years'
        )
    )


# --------------------------------------------------------------------------- relative values


def test_percent_and_difference() -> None:
    base = lab("upcr", "2024-04-10", 3, "g/g")
    halved = f"{UPCR_AT_VISIT} < 50 % of {UPCR_AT_BASELINE}"
    assert result(halved, base, lab("upcr", "2024-09-25", 1.5, "g/g")) == "not_met"  # exactly 50 %
    assert result(halved, base, lab("upcr", "2024-09-25", 1.49, "g/g")) == "met"
    # in another unit: 1.49 g/g is 168.5488 mg/mmol (creatinine's molar mass)
    assert result(halved, base, lab("upcr", "2024-09-25", 168.5488, "mg/mmol")) == "met"
    # the change is in the evidence
    met = cell(halved, base, lab("upcr", "2024-09-25", 1.2, "g/g"))
    change = [e.detail for e in met.evidence if e.what.startswith("change")]
    assert change == ["3 g/g on 2024-04-10 -> 1.2 g/g on 2024-09-25: -1.8 g/g (-60 %)"]
    # +/- 15 %: both ends included
    egfr0 = lab("egfr", "2024-04-10", 50, "mL/min/1.73m2")
    band = (
        "latest lab egfr at visit +/- 14 days between 85 % of latest lab egfr at baseline"
        " +/- 14 days"
        " and 115 % of latest lab egfr at baseline +/- 14 days"
    )
    for value, expected in ((42.5, "met"), (42.49, "not_met"), (57.5, "met"), (57.51, "not_met")):
        assert result(band, egfr0, lab("egfr", "2024-09-25", value, "mL/min/1.73m2")) == expected
    # Baseline missing: unknown, and it says which value.
    alone = cell(halved, lab("upcr", "2024-09-25", 1, "g/g"))
    assert alone.result == "unknown" and alone.missing == ("no lab upcr at baseline +/- 14 days",)
    # A baseline value outside its window is not used.
    assert (
        result(halved, lab("upcr", "2024-03-26", 3, "g/g"), lab("upcr", "2024-09-25", 1, "g/g"))
        == "unknown"
    )
    assert (
        result(halved, lab("upcr", "2024-03-27", 3, "g/g"), lab("upcr", "2024-09-25", 1, "g/g"))
        == "met"
    )
    # Differences: "> 4-point reduction".
    s0 = {"type": "score", "code": "sledai", "date": "2024-04-10", "value": 10}
    drop = "latest score sledai at baseline - latest score sledai at visit > 4"
    assert (
        result(drop, s0, {"type": "score", "code": "sledai", "date": "2024-09-25", "value": 6})
        == "not_met"
    )
    assert (
        result(drop, s0, {"type": "score", "code": "sledai", "date": "2024-09-25", "value": 5})
        == "met"
    )
    assert result(drop, s0) == "unknown"
    # In the left's unit, the right converted: 1 mg/dL creatinine is 88.4017 umol/L, so 115 umol/L
    # is 26.598 umol/L (0.30088 mg/dL) above it, and 114 umol/L 25.598 (0.28956 mg/dL).
    cr = "latest lab creatinine at visit - latest lab creatinine at baseline <= 0.3 mg/dL"
    c0 = lab("creatinine", "2024-04-10", 1.0, "mg/dL")
    assert result(cr, c0, lab("creatinine", "2024-09-25", 1.3, "mg/dL")) == "met"
    assert result(cr, c0, lab("creatinine", "2024-09-25", 114, "umol/L")) == "met"
    assert result(cr, c0, lab("creatinine", "2024-09-25", 115, "umol/L")) == "not_met"
    # `%` binds tighter than `-`, and `-` groups to the left.
    assert result("10 - 50 % of 4 = 8", visit="week 24") == "met"
    assert result("10 - 4 - 3 = 3") == "met"
    # Shapes the builder and checker refuse.
    assert "C123" in codes(
        rules_text('O1 "t": latest lab upcr at visit < 50 mg of latest lab upcr at baseline')
    )
    assert "C302" in codes(rules_text('O1 "t": 50 % of any lab upcr at visit > 1'))
    assert "C301" in codes(
        rules_text('O1 "t": latest lab upcr at visit - latest lab egfr at visit > 1')
    )


# --------------------------------------------------------------------------- daily dose


def test_daily_dose() -> None:
    expr = "daily dose gc as prednisone_equivalent at visit <= 10 mg/day"
    # No exposure on a covered day: 0 mg/day.
    none = cell(expr)
    assert none.result == "met" and "0 mg/day" in none.evidence[0].detail
    # Not covered: unknown.
    assert result(expr, coverage=[{"start": "2000-01-01", "end": "2024-09-24"}]) == "unknown"
    # Exposures covering the day add up, each times its factor: 5 mg pred + 4 mg mp (x 1.25) = 10.
    pred = med("pred", "2024-01-01", None, **daily(5))
    mp = med("mp", "2024-09-01", "2024-09-25", **daily(4))
    assert result(expr, pred, mp) == "met"
    assert result(expr, pred, med("mp", "2024-09-01", "2024-09-25", **daily(4.1))) == "not_met"
    # An exposure that ended the day before does not count.
    assert result(expr, pred, med("mp", "2024-09-01", "2024-09-24", **daily(40))) == "met"
    # An exposure with no computable daily dose makes the total unknown.
    assert result(expr, med("pred", "2024-09-01", None)) == "unknown"
    # "reduced by >= 25 % compared to baseline"
    reduced = (
        "daily dose gc as prednisone_equivalent at visit <= 75 % of daily dose gc as "
        "prednisone_equivalent at baseline"
    )
    taper = [
        med("pred", "2024-01-01", "2024-06-30", **daily(20)),
        med("pred", "2024-07-01", None, **daily(15)),
    ]
    assert result(reduced, *taper) == "met"  # 15 is exactly 75 % of 20
    assert (
        result(
            reduced,
            med("pred", "2024-01-01", "2024-06-30", **daily(20)),
            med("pred", "2024-07-01", None, **daily(15.5)),
        )
        == "not_met"
    )
    # A named visit, and the basis must be declared.
    assert result('daily dose pred at visit "week 12" <= 10 mg/day', *taper) == "not_met"
    assert "C402" in codes(
        rules_text('O1 "t": daily dose aza as prednisone_equivalent at visit < 1 mg/day')
    )
    assert "C205" in codes(rules_text('O1 "t": daily dose upcr at visit < 1 mg/day'))


# --------------------------------------------------------------------------- new grades


def grade(domain: str, day: str, value: str) -> dict[str, Any]:
    return {"type": "score", "code": domain, "date": day, "value": value}


def baseline_grades(renal: str = "C", skin: str = "C", joints: str = "C") -> list[dict[str, Any]]:
    return [
        grade("renal", "2024-04-10", renal),
        grade("skin", "2024-04-10", skin),
        grade("joints", "2024-04-10", joints),
    ]


def visit_grades(
    renal: str = "C", skin: str = "C", joints: str = "C", day: str = "2024-09-25"
) -> list[dict[str, Any]]:
    return [grade("renal", day, renal), grade("skin", day, skin), grade("joints", day, joints)]


NEW = "count new {g} in score domains at visit +/- 14 days compared to baseline +/- 14 days {op}"


def test_new_grades() -> None:
    new_a = NEW.format(g='"A"', op="= 0")
    new_b = NEW.format(g='"B"', op="<= 1")
    # B -> A is a new A; A -> A is not.
    assert result(new_a, *baseline_grades(renal="B"), *visit_grades(renal="A")) == "not_met"
    assert result(new_a, *baseline_grades(renal="A"), *visit_grades(renal="A")) == "met"
    # C -> B is a new B; A -> B is better, not new; two new Bs are too many.
    assert (
        result(new_b, *baseline_grades(renal="C", skin="A"), *visit_grades(renal="B", skin="B"))
        == "met"
    )
    assert (
        result(new_b, *baseline_grades(renal="C", skin="D"), *visit_grades(renal="B", skin="B"))
        == "not_met"
    )
    # Several grades: newly A or newly B (E -> A counts once).
    both = NEW.format(g='"A", "B"', op="= 2")
    assert (
        result(both, *baseline_grades(renal="E", skin="D"), *visit_grades(renal="A", skin="B"))
        == "met"
    )
    # A domain missing at baseline is undecided ... unless the visit grade settles it.
    partial = [grade("skin", "2024-04-10", "C"), grade("joints", "2024-04-10", "C")]
    open_ = cell(new_a, *partial, *visit_grades(renal="A"))
    assert (
        open_.result == "unknown" and "renal: no renal at baseline +/- 14 days" in open_.missing[0]
    )
    assert result(new_a, *partial, *visit_grades(renal="C")) == "met"  # C now: not newly A
    # ... or the baseline grade does: A at baseline cannot become newly A.
    visit_partial = [grade("skin", "2024-09-25", "C"), grade("joints", "2024-09-25", "C")]
    assert result(new_a, *baseline_grades(renal="A"), *visit_partial) == "met"
    assert result(new_a, *baseline_grades(renal="B"), *visit_partial) == "unknown"
    # The count is a lower bound: `>= 1` is met by one new domain even with another undecided,
    # `= 0` is not met, `<= 1` is not met with two.
    one = NEW.format(g='"A"', op=">= 1")
    assert result(one, *partial, *visit_grades(renal="A", skin="A")) == "met"
    assert result(new_a, *partial, *visit_grades(renal="A", skin="A")) == "not_met"
    two_b = [grade("skin", "2024-04-10", "C"), grade("joints", "2024-04-10", "D")]
    assert result(new_b, *two_b, *visit_grades(renal="B", skin="B", joints="B")) == "not_met"
    # A grade that is not one of the grades is undecided.
    odd = cell(new_a, *baseline_grades(), *visit_grades(renal="X"))
    assert odd.result == "unknown" and "not a grade" in odd.missing[0]
    # The grade nearest the visit is used (ties: the earlier).
    near = [
        *baseline_grades(),
        *visit_grades(),
        grade("renal", "2024-09-20", "A"),
        grade("renal", "2024-10-05", "C"),
    ]
    assert result(new_a, *near) == "met"  # renal: C on 2024-09-25 is nearest
    ties = [*baseline_grades(), *visit_grades(day="2024-09-30"), grade("renal", "2024-09-20", "A")]
    assert result(new_a, *ties) == "not_met"  # 5 days before and after: the earlier (A)
    # Grades must be declared (most severe first) and named by the rule.
    assert "C404" in codes(
        rules_text('O1 "t": count new "A" in score ungraded at visit compared to baseline = 0')
    )
    assert "C404" in codes(
        rules_text('O1 "t": count new "F" in score domains at visit compared to baseline = 0')
    )
    assert "C302" in codes(
        rules_text('O1 "t": count new "A" in medication aza at visit compared to baseline = 0')
    )


# --------------------------------------------------------------------------- results


def test_outcome_report() -> None:
    r = outcome_rules(
        f'CR "complete" at every visit: {UPCR_AT_VISIT} < 0.5 g/g',
        f'PR "partial" at every visit: {UPCR_AT_VISIT} < 50 % of {UPCR_AT_BASELINE}',
        'GR "global" at visits "week 12", "week 24": CR or PR',
        'RV "reviewed" at visits "week 24": review "Any other sign of deterioration?"',
    )
    visits = [*VISITS, {"name": "week 36", "date": "2024-12-18"}]
    events = [
        lab("upcr", "2024-04-10", 3, "g/g"),
        lab("upcr", "2024-09-25", 1.2, "g/g"),  # week 12 has none: open
        lab("upcr", "2024-12-18", 0.4, "g/g"),
    ]
    rep = report(r, *events, visits=visits)
    cr, pr, gr = rep.outcome("CR"), rep.outcome("PR"), rep.outcome("GR")
    assert [v.result for v in pr.visits] == ["not_judged", "unknown", "met", "met"]
    assert (pr.first_met, pr.days_to_first_met, pr.open_before) == ("week 24", 168, ("week 12",))
    assert [v.result for v in cr.visits] == ["not_judged", "unknown", "not_met", "met"]
    assert (cr.first_met, cr.days_to_first_met) == ("week 36", 252)
    # GR uses PR at the same visit; its own timepoints decide where it is judged.
    assert [v.result for v in gr.visits] == ["not_judged", "unknown", "met", "not_judged"]
    assert gr.at("week 24").evidence[0].what == "outcome PR"  # the one that decided
    # Never met with an open visit: no first visit, and the open one is named.
    never = report(
        r, lab("upcr", "2024-04-10", 3, "g/g"), lab("upcr", "2024-09-25", 2, "g/g")
    ).outcome("PR")
    assert never.first_met is None and never.open_before == ("week 12",)
    # Reviews in outcomes take the answer keyed by the outcome's id.
    assert rep.outcome("RV").at("week 24").result == "needs_review"
    answered = (
        report(r, reviews={"RV": {"answer": "met", "by": "Dr B"}}).outcome("RV").at("week 24")
    )
    assert answered.result == "met" and "Dr B" in answered.evidence[0].detail
    # The typed report serialises.
    data = rep.to_dict()
    assert data["outcomes"][1]["visits"][2] == {
        "visit": "week 24",
        "date": "2024-09-25",
        "result": "met",
        "evidence": [e.to_dict() for e in pr.at("week 24").evidence],
        "missing": [],
        "questions": [],
    }
    assert data["outcomes"][1]["days_to_first_met"] == 168
    assert json.dumps(data)
    # Outcome ids: not in criteria, not in cycles, not twice.
    assert "C208" in codes(rules_text('A "a": sex in ("female")', criteria='  I1 "x": A'))
    assert "C206" in codes(rules_text('A "a": B', 'B "b": A'))
    assert "C203" in codes(rules_text('A "a": sex in ("female")', 'A "b": sex in ("female")'))
    assert "C208" in codes(rules_text('A "a": sex in ("female")', defines="define d = A"))


def test_outcomes_cli(tmp_path: Path) -> None:
    rule_file = tmp_path / "t.crit"
    rule_file.write_text(
        rules_text(
            f'PR "partial": {UPCR_AT_VISIT} < 50 % of {UPCR_AT_BASELINE}',
            'CR "complete": sex in ("female")',
        )
    )
    folder = tmp_path / "patients"
    folder.mkdir()
    for name in ("a", "b"):
        doc = patient(
            lab("upcr", "2024-04-10", 3, "g/g"),
            lab("upcr", "2024-09-25", 1, "g/g"),
            id=name,
            visits=VISITS,
        )
        (folder / f"{name}.json").write_text(json.dumps(doc))

    def run(*args: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["outcomes", str(rule_file), str(folder), *args])
        return code, out.getvalue()

    code, text = run()
    assert (
        code == 0
        and "patient a: outcomes" in text
        and "week 24 (<= 168 d)" in text
        and "week 12 (84 d)" in text
    )
    code, text = run("--format", "csv")
    lines = text.strip().splitlines()
    assert code == 0 and len(lines) == 1 + 2 * 2 * 3  # header + patients x outcomes x visits
    assert lines[0].startswith("patient,trial,outcome,visit,visit_date,result")
    assert "a,T,PR,week 24,2024-09-25,met,baseline,2024-04-10,week 24,168," in text
    code, text = run("--format", "jsonl")
    header, *rows = [json.loads(line) for line in text.splitlines()]
    assert header["header"] == "outcomes" and [o["id"] for o in header["outcomes"]] == ["PR", "CR"]
    assert len(rows) == 12 and {r["result"] for r in rows} == {"met", "unknown", "not_judged"}
    # A rule file without outcomes is refused.
    plain = tmp_path / "plain.crit"
    plain.write_text('trial "T"\n  dates screening\ninclusion\n  I1 "x": sex in ("female")\n')
    with redirect_stderr(io.StringIO()) as err:
        assert main(["outcomes", str(plain), str(folder)]) == 1
    assert "defines no outcomes" in err.getvalue()


@pytest.mark.parametrize(
    "source",
    [
        'outcomes\n  A "a": latest lab upcr at visit - latest lab upcr at baseline > 1 g/g',
        "outcomes at every visit within 24 weeks after baseline compared to baseline\n"
        '  A "a": sex in ("female")',
        'outcomes\n  A "a" at visits "week 24", "month 12" compared to screening:'
        ' sex in ("female")',
    ],
)
def test_outcome_syntax_compiles(source: str) -> None:
    text = (
        'trial "T"\n  dates screening, baseline\nlab upcr = loinc "2890-2" with unit = g/g\n'
        + source
        + "\n"
    )
    assert codes(text) == []


def test_outcomes_format_and_lint() -> None:
    from criteria_lang.tools.fmt import format_text
    from criteria_lang.tools.lint import lint_text

    source = rules_text(
        'CR "c"   at visits "week 24",  "month 12" compared to screening:'
        f"  {UPCR_AT_VISIT} < 50.0 % of {UPCR_AT_BASELINE} and daily dose gc as"
        ' prednisone_equivalent at visit "week 24" <= 10 mg/day',
        'GR "g": CR or count new "A" in score domains at visit +/- 14 days compared to'
        " baseline +/- 14 days >= 1 or age at previous visit - age at baseline > 1 years",
        section="outcomes   at every visit within 24 weeks after baseline",
    )
    out = format_text(source)
    assert format_text(out) == out
    assert '  CR "c" at visits "week 24", "month 12" compared to screening:\n' in out
    assert "outcomes at every visit within 24 weeks after baseline\n" in out
    assert "< 50.0 % of latest lab upcr at baseline +/- 14 days" in out
    # A concept used only by an outcome is used.
    unused = {d.message for d in lint_text(out) if d.code == "W105"}
    assert not any("'domains'" in m or "'gc'" in m or "'upcr'" in m for m in unused)


def test_a_visit_name_written_over_lines_is_a_date_not_a_crash() -> None:
    """Issue 11: `visit \"\"\"week\\n24\"\"\"` compiled, then `Rules.outcomes` raised
    JSONDecodeError (the anchor was text re-read with json.loads). The plan carries the name."""
    rules = outcome_rules(
        'W "w" at visits "week 24": any lab upcr at visit """week\n24""" +/- 3 days'
    )
    upcr = lab("upcr", "2024-09-26", 0.4, "g/g")
    series = report(rules, upcr).outcome("W")
    assert series.at("week 24").result == "met"  # the name matches ignoring repeated spaces
    missing = report(rules, upcr, visits=VISITS[:2]).outcome("W")
    assert [v.result for v in missing.visits] == ["not_judged", "not_judged"]
    elsewhere = outcome_rules('W "w" at visits "week 12": any lab upcr at visit """week\n24"""')
    unknown = report(elsewhere, upcr, visits=VISITS[:2]).outcome("W").at("week 12")
    assert unknown.result == "unknown"
    assert unknown.missing == ("the patient has no visit named 'week\n24'",)

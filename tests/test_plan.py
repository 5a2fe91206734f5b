"""The plan (docs/plan.md): lowering resolves everything, and the JSON form reads back equal."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from semantics_helpers import CONCEPTS

from criteria_lang.check.checker import compile_file, compile_text
from criteria_lang.cli.main import main
from criteria_lang.core.units import get_units
from criteria_lang.plan import model as p
from criteria_lang.plan.lower import lower
from criteria_lang.plan.serial import PlanFormatError, dumps, fraction_text, loads, to_dict
from criteria_lang.plan.show import show

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "rules").rglob("*.crit")) + sorted(
    (ROOT / "criteria_lang" / "stdlib").glob("*.crit")
)


def plan_of(*criteria: str, defines: str = "", outcomes: str = "") -> p.Plan:
    body = "\n".join(f"  {c}" for c in criteria)
    text = (
        f'trial "T"\n  dates screening, baseline\n  index screening\n{CONCEPTS}\n{defines}\n'
        f"inclusion\n{body}\n{outcomes}"
    )
    program = compile_text(text)
    assert program.ok, [d.message for d in program.diagnostics]
    return lower(program)


def first_query(plan: p.Plan) -> p.Query:
    found = [n for n in walk(plan) if isinstance(n, p.Query)]
    assert found
    return found[0]


def walk(node: object) -> list[object]:
    import attrs

    out = [node]
    if isinstance(node, tuple):
        for item in node:
            out.extend(walk(item))
    elif attrs.has(type(node)) and type(node) in p.NODE_TYPES:
        for field in attrs.fields(type(node)):
            out.extend(walk(getattr(node, field.name)))
    return out


# ---------------------------------------------------------------------- the JSON form


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_rule_file_round_trips(path: Path) -> None:
    plan = lower(compile_file(path))
    text = dumps(plan)
    again = loads(text)
    assert again == plan
    assert dumps(again) == text  # stable: the same text every time


@given(st.fractions())
def test_fraction_text_is_exact(value: Fraction) -> None:
    text = fraction_text(value)
    assert Fraction(text) == value
    assert "e" not in text.lower()


def test_fraction_text_reads_as_people_write() -> None:
    assert fraction_text(Fraction("113.12")) == "113.12"
    assert fraction_text(Fraction(1, 3)) == "1/3"
    assert fraction_text(Fraction(-1, 8)) == "-0.125"
    assert fraction_text(Fraction(7)) == "7"


# Expressions built from the test concepts (tests/semantics_helpers.py), to round-trip plans
# of shapes the seed rule files do not have.
DATES = st.sampled_from(["screening", "baseline"])
AMOUNTS = st.integers(min_value=1, max_value=400)
UNITS = st.sampled_from(["days", "weeks", "months", "years"])


@st.composite
def windows(draw: st.DrawFn, half_life: bool = False) -> str:
    n, m = draw(AMOUNTS), draw(AMOUNTS)
    unit, date = draw(UNITS), draw(DATES)
    forms = [
        f"within {n} {unit} before {date}",
        f"within {n} {unit} after {date}",
        f"within {n} {unit} around {date}",
        f"within {n} days",
        f"between {n} and {m} days before {date}",
        f"between {n} and {m} weeks after {date}",
        f"at {date}",
        f"at {date} +/- {n} days",
        "ever",
        f"ever before {date}",
        "any time",
        "from screening to baseline",
    ]
    if half_life:
        forms += [f"within max({n} {unit}, 5 half-lives) before {date}", f"within {n} half-lives"]
    return draw(st.sampled_from(forms))


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> str:
    n = draw(AMOUNTS)
    leaves = [
        f"condition infection {draw(windows())}",
        f"no condition mi {draw(windows())}",
        f"medication gc route oral dose >= {n} mg/day as prednisone_equivalent "
        f"{draw(windows(True))}",
        f"medication aza dose > {n} mg/kg/day for at least 90 days {draw(windows())}",
        f"medication ritux new {draw(windows(True))}",
        f"latest lab creatinine {draw(windows())} > {fraction_text(Fraction(n, 100))} mg/dL",
        f"latest lab creatinine {draw(windows())} <= {n} umol/L",
        f"min lab egfr {draw(windows())} < {n} mL/min/1.73m2",
        f"count condition infection of the same type in any 12 months {draw(windows())} >= 2",
        f"age at {draw(DATES)} between 18 and 70 years",
        f"any lab hbsag value is positive {draw(windows())}",
        f"medication gc where as_needed = false {draw(windows())}",
        f"latest lab ast {draw(windows())} > 2 x ULN",
        f"latest lab ana {draw(windows())} >= 1:80",
        f"value bmi at {draw(DATES)} +/- 30 days >= 30 kg/m2",
        f"daily dose gc as prednisone_equivalent at {draw(DATES)} <= 10 mg/day",
        'sex in ("female")',
        'review "is it so?"',
        "recent",
    ]
    if depth >= 2:
        return draw(st.sampled_from(leaves))
    inner = conditions(depth + 1)
    a, b = draw(inner), draw(inner)
    return draw(
        st.sampled_from(
            [
                *leaves,
                f"({a} and {b})",
                f"({a} or {b})",
                f"not ({a})",
                f"at least 1 of ({a}, {b})",
                f"if {a} then {b} else {a} end",
            ]
        )
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(conditions(), min_size=1, max_size=3))
def test_generated_rule_files_round_trip(exprs: list[str]) -> None:
    criteria = [f'I{i} "c{i}": {e}' for i, e in enumerate(exprs)]
    plan = plan_of(*criteria, defines="define recent = medication ritux within 6 months\n")
    assert loads(dumps(plan)) == plan


def test_bad_json_is_a_plan_format_error_that_says_where() -> None:
    plan = plan_of('I1 "x": latest lab creatinine within 30 days > 1 mg/dL')
    data = to_dict(plan)
    with pytest.raises(PlanFormatError, match="version"):
        loads(json.dumps({**data, "version": 99}))
    broken: dict[str, Any] = json.loads(json.dumps(data))
    broken["criteria"][0]["expr"]["node"] = "Frobnicate"
    with pytest.raises(PlanFormatError, match=r"\$\.criteria\[0\]\.expr"):
        loads(json.dumps(broken))
    broken = json.loads(json.dumps(data))
    broken["concepts"].pop("creatinine")
    with pytest.raises(PlanFormatError, match="not in"):
        loads(json.dumps(broken))
    with pytest.raises(PlanFormatError, match="exact number"):
        bad = json.loads(json.dumps(data))
        bad["criteria"][0]["expr"]["right"]["value"] = 1.5
        loads(json.dumps(bad))
    with pytest.raises(PlanFormatError, match="not a plan"):
        loads("{}")


# ---------------------------------------------------------------------- lowering resolves


def test_a_window_without_a_date_counts_from_the_index_date() -> None:
    window = first_query(plan_of('I1 "x": condition mi within 6 months')).window
    assert window.start == p.Edge(p.TrialDate("screening"), p.Duration(Fraction(6), "months"), -1)
    assert window.end == p.Edge(p.TrialDate("screening"))
    assert window.text == "within 6 months before the index date"
    assert window.start_inclusive and window.end_inclusive


def test_windows_as_anchor_and_offsets() -> None:
    between = first_query(plan_of('I1 "x": condition mi between 4 and 12 weeks before baseline'))
    assert between.window.either_order
    assert between.window.start == p.Edge(p.TrialDate("baseline"), p.Duration(Fraction(4), "weeks"))
    assert between.window.end == p.Edge(p.TrialDate("baseline"), p.Duration(Fraction(12), "weeks"))
    ever = first_query(plan_of('I1 "x": condition mi ever')).window
    assert ever.start is None and ever.end == p.Edge(p.TrialDate("screening"))
    anytime = first_query(plan_of('I1 "x": condition mi any time')).window
    assert anytime.start is None and anytime.end is None


def test_half_lives_are_days_of_the_named_drug() -> None:
    # ritux declares 21 days, pred 3 h: 5 half-lives of ritux is 105 days whatever is queried
    # (the tree evaluator used the queried drug's half-life: issue 14's "known bug").
    query = first_query(plan_of('I1 "x": medication pred within 5 half-lives of ritux'))
    assert query.window.start is not None
    offset = query.window.start.offset
    assert isinstance(offset, p.HalfLives)
    assert (offset.own, offset.days, offset.drug.short_name) == (False, 105, "ritux")
    own = first_query(plan_of('I1 "x": medication gc within 5 half-lives'))
    assert own.window.start is not None and isinstance(own.window.start.offset, p.HalfLives)
    # gc = pred (3 h) | mp (30 h): the longest, 150 h, is 6.25 days, rounded up.
    assert own.window.start.offset.own and own.window.start.offset.days == 7


def test_comparisons_carry_exact_factors_from_every_listed_unit() -> None:
    plan = plan_of('I1 "x": latest lab creatinine within 30 days > 1.2 mg/dL')
    compare = plan.criteria[0].expr
    assert isinstance(compare, p.Compare) and compare.conversion is not None
    conversion = compare.conversion
    assert conversion.target == "mg/dL" and conversion.molar_mass == Fraction("113.12")
    factors = {f.unit: f for f in conversion.factors}
    # 1 umol/L of creatinine = 113.12e-6 g/L = 0.011312 mg/dL, exactly
    assert factors["umol/L"].factor == Fraction("0.011312")
    assert factors["mg/dL"].factor == 1 and factors["mg/dL"].omop_unit_concept_id == 8840
    assert factors["g/L"].factor == 100
    units = get_units()
    for f in conversion.factors:
        assert f.factor == units.factor(f.unit, "mg/dL", molar_mass=Fraction("113.12"))
        assert units.parse_ucum(f.ucum) == units.parse(f.unit)
    assert "mmHg" not in factors  # only units that convert are listed


def test_doses_have_a_canonical_per_day_unit_and_factors_per_recorded_unit() -> None:
    query = first_query(plan_of('I1 "x": medication pred dose >= 6 mg/day within 30 days'))
    assert query.dose is not None
    dose = query.dose
    assert (dose.shape, dose.unit, dose.low) == ("daily", "mg/day", 6)
    factors = {f.unit: f.factor for f in dose.conversion.factors}
    assert factors["mg"] == 1  # an amount per administration, times per day: mg/day
    assert factors["g"] == 1000 and factors["mg/week"] == Fraction(1, 7)
    weekly = first_query(plan_of('I1 "x": medication pred dose > 20 mg/week within 30 days'))
    assert (
        weekly.dose is not None
        and {f.unit: f.factor for f in weekly.dose.conversion.factors}["mg"] == 7
    )


def test_definitions_are_shared_nodes_referred_to_by_id() -> None:
    plan = plan_of(
        'I1 "x": recent and latest lab egfr within 30 days > 30 mL/min/1.73m2',
        'I2 "y": not recent',
        defines="define recent = medication ritux within 6 months\n",
    )
    assert [d.id for d in plan.definitions] == ["recent"]
    uses = [n for n in walk(plan.criteria) if isinstance(n, p.UseDefinition)]
    assert [u.definition for u in uses] == ["recent", "recent"]
    assert isinstance(plan.definitions[0].body, p.Exists)


def test_a_named_visit_is_a_structured_anchor() -> None:
    outcomes = (
        'outcomes\n  R "r": latest lab egfr at visit """week\n24""" +/- 14 days'
        " > 60 mL/min/1.73m2\n"
    )
    plan = plan_of('I1 "x": age at screening >= 18 years', outcomes=outcomes)
    query = first_query(plan.outcomes[0])
    assert query.window.anchor == p.VisitDate("named", "week\n24")
    assert loads(dumps(plan)) == plan


def test_every_plan_node_is_documented() -> None:
    doc = (ROOT / "docs" / "plan.md").read_text(encoding="utf-8")
    for cls in p.NODE_TYPES:
        assert f"### {cls.__name__}" in doc, f"docs/plan.md has no section for {cls.__name__}"


# ---------------------------------------------------------------------- the command


def test_criteria_plan_json_shows_resolved_codes_doses_and_windows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", str(ROOT / "rules" / "nct03562065.crit"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "criteria-lang-plan" and data["version"] == p.PLAN_VERSION
    i4 = next(c for c in data["criteria"] if c["id"] == "I4")
    text = json.dumps(i4)
    assert '"unit": "mg/dL"' not in text and '"shape": "daily"' in text
    steroid = i4["expr"]["operands"][0]["query"]
    assert steroid["dose"]["unit"] == "mg/day" and steroid["dose"]["basis"]
    assert steroid["window"]["end"]["anchor"] == {"node": "TrialDate", "name": "baseline"}
    glucocorticoids = data["concepts"][steroid["concept"]]
    assert "rxnorm" in glucocorticoids["codes"] and "atc" in glucocorticoids["codes"]
    assert data["concepts"]["drugs.prednisone"]["attributes"]["prednisone_equivalent"] == {
        "number": "1"
    }
    assert loads(json.dumps(data)).trial == "NCT03562065"


def test_criteria_plan_prints_it_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(ROOT / "rules" / "nct03562065.crit")]) == 0
    out = capsys.readouterr().out
    assert "inclusion I4" in out
    assert "ever before baseline: [start of record, baseline]" in out
    assert "drugs.glucocorticoids: drug" in out


def test_criteria_plan_of_a_broken_file_prints_the_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.crit"
    bad.write_text('trial "T"\n  dates screening\ninclusion\n  I1 "x": condition nope ever\n')
    assert main(["plan", str(bad)]) == 1
    assert "C200" in capsys.readouterr().err
    assert main(["plan", str(tmp_path)]) == 2


def test_show_covers_every_criterion_of_every_seed_file() -> None:
    for path in RULE_FILES:
        plan = lower(compile_file(path))
        text = show(plan)
        for criterion in plan.criteria:
            assert f"{criterion.section} {criterion.id} " in text

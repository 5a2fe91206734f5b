"""The visit schedule in the trial header (docs/language.md, "The visit schedule: visits done
outside their window"): what conformance cases cannot hold -- the checker's diagnostics, the
formatter, the plan, and how `criteria outcomes` shows a visit done outside its window. The
meaning itself is pinned by tests/conformance/schedule.json."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from fractions import Fraction
from pathlib import Path

import pytest

from criteria_lang import Rules, compile_text, load_patient
from criteria_lang.cli.main import main
from criteria_lang.plan import model as p
from criteria_lang.plan.lower import lower
from criteria_lang.plan.serial import dumps, loads
from criteria_lang.plan.show import show
from criteria_lang.tools.fmt import format_text

ROOT = Path(__file__).resolve().parents[1]
LATE = ROOT / "examples" / "outcomes" / "nct03917797" / "month-12-late.json"

HEADER = 'trial "T"\n  dates screening, baseline\n'
BODY = (
    'lab upcr = loinc "2890-2" with unit = g/g\n'
    'outcomes compared to baseline at visits "month 12"\n'
    '  CR "cr": latest lab upcr at visit +/- 14 days < 0.5 g/g\n'
)


def codes(schedule: str) -> list[tuple[str, int]]:
    result = compile_text(HEADER + schedule + BODY, "t.crit")
    return [(d.code, d.span.line) for d in result.diagnostics]


def test_a_well_formed_schedule_compiles() -> None:
    assert (
        codes(
            '  visit "week 24" at 24 weeks after baseline +/- 14 days\n'
            '  visit "month 12" at 12 months after baseline ± 2 weeks\n'
            '  visit "screening" at 28 days before baseline\n'
        )
        == []
    )


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ('  visit "month 12" at 12 months around baseline +/- 14 days\n', [("C420", 3)]),
        ('  visit "m" at 5 half-lives of upcr after baseline\n', [("C420", 3)]),
        (
            '  visit "Month  12" at 12 months after baseline\n'
            '  visit "month 12" at 52 weeks after baseline\n',
            [("C421", 4)],
        ),
        ('  visit "month 12" at 12 months after randomisation\n', [("C201", 3)]),
    ],
)
def test_schedule_mistakes_are_diagnostics(schedule: str, expected: list[tuple[str, int]]) -> None:
    assert codes(schedule) == expected


def test_the_twice_scheduled_visit_names_the_first_line() -> None:
    schedule = '  visit "month 12" at 12 months after baseline\n' * 2
    result = compile_text(HEADER + schedule + BODY, "t.crit")
    (diagnostic,) = result.diagnostics
    assert "first at line 3" in diagnostic.message and diagnostic.fix


def test_the_formatter_keeps_the_schedule() -> None:
    source = (
        HEADER
        + '  visit   "month 12"  at 12  months after baseline   +/-  14 days\n'
        + '  visit "week 24" at 24 weeks after baseline\n'
        + BODY
    )
    out = format_text(source)
    assert format_text(out) == out
    assert '  visit "month 12" at 12 months after baseline +/- 14 days\n' in out
    assert '  visit "week 24" at 24 weeks after baseline\n' in out
    assert compile_text(out, "t.crit").diagnostics == ()


def test_the_plan_carries_the_schedule() -> None:
    schedule = '  visit "month 12" at 12 months after baseline +/- 14 days\n'
    result = compile_text(HEADER + schedule + BODY, "t.crit")
    assert result.ok
    plan = lower(result)
    (visit,) = plan.schedule
    offset, tolerance = visit.target.offset, visit.tolerance
    assert isinstance(offset, p.Duration) and tolerance is not None
    assert (visit.name, visit.target.sign, visit.target.anchor) == (
        "month 12",
        1,
        p.TrialDate("baseline"),
    )
    assert (offset.amount, offset.unit) == (Fraction(12), "months")
    assert (tolerance.amount, tolerance.unit) == (Fraction(14), "days")
    assert loads(dumps(plan)) == plan
    assert 'visit "month 12" at baseline + 12 months +/- 14 days' in show(plan)


def test_a_late_visit_says_why_in_every_output(tmp_path: Path) -> None:
    """The issue's words: "month 12 assessments 32 days after the target date: outside the
    14-day window", in the table, the CSV and the JSON Lines of `criteria outcomes`."""
    rules = ROOT / "rules" / "nct03917797.crit"
    report = Rules.from_file(rules).outcomes(load_patient(LATE.read_bytes(), source=str(LATE)))
    month12 = report.outcome("CR").at("month 12")
    assert month12.result == "not_judged"
    words = "month 12 assessments 32 days after the target date (2025-02-05): outside the 14-day"
    assert any(words in e.detail for e in month12.evidence)

    def run(*args: str) -> str:
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["outcomes", str(rules), str(LATE), *args]) == 0
        return out.getvalue()

    assert "outside window" in run() and f"CR at month 12: not used: {words}" in run()
    csv_rows = [r for r in run("--format", "csv").splitlines() if ",CR,month 12," in r]
    assert len(csv_rows) == 1 and words in csv_rows[0]
    rows = [json.loads(line) for line in run("--format", "jsonl").splitlines()]
    (cr,) = [r for r in rows if r.get("outcome") == "CR" and r.get("visit") == "month 12"]
    assert cr["result"] == "not_judged" and words in cr["evidence"][0]["detail"]

"""Reported and computed values (docs/language.md, "Reported and computed values"): what the
conformance cases (tests/conformance/derived.json) cannot hold -- the checker's C422, the
formatter, the plan, and that a builtin's reported codes are the stdlib concept's."""

from __future__ import annotations

from pathlib import Path

import pytest

from criteria_lang import compile_text
from criteria_lang.check.checker import compile_file
from criteria_lang.core.derived import BUILTINS
from criteria_lang.plan import model as p
from criteria_lang.plan.lower import lower
from criteria_lang.plan.serial import dumps, loads
from criteria_lang.tools.fmt import format_text

ROOT = Path(__file__).resolve().parents[1]
HEADER = 'trial "T"\n  dates screening\ninclusion\n'


def diagnostics(expr: str) -> list[tuple[str, str]]:
    result = compile_text(f'{HEADER}  I1 "x": {expr}\n', "t.crit")
    return [(d.code, d.message) for d in result.diagnostics]


@pytest.mark.parametrize("formula", ["egfr_ckd_epi_2021", "bmi"])
@pytest.mark.parametrize("which", ["reported", "computed"])
def test_precedence_compiles_where_a_site_reports_the_value(formula: str, which: str) -> None:
    unit = BUILTINS[formula].unit
    assert diagnostics(f"value {formula} {which} first at screening +/- 30 days >= 1 {unit}") == []


@pytest.mark.parametrize("formula", ["crcl", "bsa", "weight", "height"])
def test_precedence_on_a_value_no_site_reports_is_c422(formula: str) -> None:
    unit = BUILTINS[formula].unit
    (found,) = diagnostics(f"value {formula} reported first at screening >= 1 {unit}")
    assert found[0] == "C422" and f"'{formula}' has no reported counterpart" in found[1]


def test_the_words_are_keywords_and_round_trip_through_the_formatter() -> None:
    source = (
        HEADER + '  I1 "x": value   egfr_ckd_epi_2021 reported   first at screening +/- 30 days'
        " >= 60 mL/min/1.73m2\n"
        '  I2 "y": value bmi computed first at screening < 40 kg/m2\n'
    )
    out = format_text(source)
    assert format_text(out) == out
    assert "value egfr_ckd_epi_2021 reported first at screening +/- 30 days >= 60" in out
    assert "value bmi computed first at screening < 40 kg/m2" in out
    # The three words are keywords: never names of concepts.
    for word in ("reported", "computed", "first"):
        text = f'trial "T"\n  dates screening\nlab {word} = loinc "2160-0"\n'
        codes = [d.code for d in compile_text(text, "t.crit").diagnostics]
        assert codes == ["C100"], (word, codes)


def test_the_plan_carries_the_precedence_and_the_reported_measurement() -> None:
    result = compile_file(ROOT / "rules" / "nct03917797.crit")
    assert result.ok
    plan = lower(result)
    assert loads(dumps(plan)) == plan
    derived = [
        node for definition in plan.definitions if isinstance(node := definition.body, p.Derived)
    ]
    assert derived and all(d.precedence == "computed" for d in derived)
    assert all(d.reported is BUILTINS["egfr_ckd_epi_2021"].reported for d in derived)
    plain = lower(compile_text(f'{HEADER}  I1 "x": value bmi at screening < 40 kg/m2\n'))
    (criterion,) = plain.criteria
    assert isinstance(criterion.expr, p.Compare) and isinstance(criterion.expr.left, p.Derived)
    assert (criterion.expr.left.precedence, criterion.expr.left.reported) == (None, None)


def stdlib_codes(module: str, name: str) -> set[tuple[str, str]]:
    text = f'trial "T"\n  dates screening\nimport {module}\ninclusion\n'
    text += f'  I1 "x": any lab {module}.{name} ever\n'
    if module == "observations":
        text = text.replace("any lab", "any observation")
    (criterion,) = lower(compile_text(text)).criteria
    assert isinstance(criterion.expr, p.Exists)
    concept = criterion.expr.query.concept
    return {(system, code) for system, code in concept.codes}


@pytest.mark.parametrize(
    ("formula", "module", "name"),
    [("egfr_ckd_epi_2021", "labs", "egfr"), ("bmi", "observations", "bmi")],
)
def test_reported_codes_are_the_stdlib_concepts(formula: str, module: str, name: str) -> None:
    """core/derived.py lists a reported value's codes itself (the compiler needs no stdlib to
    run a builtin); they must be the stdlib concept's, which cites each."""
    reported = BUILTINS[formula].reported
    assert reported is not None
    assert set(reported.codes) == stdlib_codes(module, name)

"""Fixes as data (`Diagnostic.edits`): applying a diagnostic's edits removes that diagnostic.

Editors offer the edits as quick fixes (criteria lsp); `criteria check --format json` lists them.
"""

from __future__ import annotations

from pathlib import Path

from criteria_lang.check.checker import compile_text
from criteria_lang.core.diagnostics import Diagnostic, Edit
from criteria_lang.tools.lint import lint_text

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "rules" / "nct03562065.crit"

HEADER = """trial "NCT0"
  dates screening, baseline
  index baseline

import labs
"""


def apply(text: str, edits: tuple[Edit, ...]) -> str:
    for edit in sorted(edits, key=lambda e: e.span.start, reverse=True):
        text = text[: edit.span.start] + edit.text + text[edit.span.end :]
    return text


def only(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...], code: str) -> Diagnostic:
    found = [d for d in diagnostics if d.code == code]
    assert len(found) == 1, diagnostics
    return found[0]


def fixed(text: str, code: str, lint: bool = False) -> tuple[Diagnostic, str]:
    diagnostics = lint_text(text) if lint else compile_text(text).diagnostics
    diagnostic = only(diagnostics, code)
    assert diagnostic.edits, f"{code} carries no edit"
    for edit in diagnostic.edits:  # the edit's line/column agree with its offsets
        lines = text.splitlines(keepends=True)
        offset = sum(len(line) for line in lines[: edit.span.line - 1]) + edit.span.column - 1
        assert offset == edit.span.start
    return diagnostic, apply(text, diagnostic.edits)


def test_misspelt_concept_is_corrected() -> None:
    text = HEADER + 'inclusion\n  I1 "x":\n    latest lab labs.creatinin at baseline > 1 mg/dL\n'
    diagnostic, after = fixed(text, "C200")
    assert diagnostic.edits[0].text == "labs.creatinine"
    assert "labs.creatinine at" in after
    assert compile_text(after).ok


def test_wrong_unit_changes_only_the_unit() -> None:
    text = HEADER + 'inclusion\n  I1 "x":\n    latest lab labs.creatinine at baseline > 1.5 mmHg\n'
    diagnostic, after = fixed(text, "C301")
    assert diagnostic.edits[0].text == "mg/dL"
    assert "> 1.5 mg/dL" in after  # the number is kept as written
    assert compile_text(after).ok


def test_wrong_unit_in_a_value_filter() -> None:
    text = HEADER + 'inclusion\n  I1 "x":\n    any lab labs.creatinine value > 2 mmHg ever\n'
    _, after = fixed(text, "C301")
    assert "value > 2 mg/dL" in after
    assert compile_text(after).ok


def test_misspelt_date_and_imported_name() -> None:
    text = HEADER + 'inclusion\n  I1 "x":\n    age at baselin >= 18 years\n'
    _, after = fixed(text, "C201")
    assert compile_text(after).ok
    text = HEADER.replace("import labs", "from labs import creatinin") + "\n"
    _, after = fixed(text, "C207")
    assert "from labs import creatinine" in after


def test_non_ascii_before_the_mistake() -> None:
    """Offsets count characters: a `≥` or `µ` earlier on the line does not shift the edit."""
    text = (
        HEADER + 'inclusion\n  I1 "Creatinine ≥ 1.5 µmol":\n'
        "    latest lab labs.creatinin at baseline > 1 mg/dL\n"
    )
    _, after = fixed(text, "C200")
    assert compile_text(after).ok


def test_lint_fixes() -> None:
    text = HEADER + 'inclusion\n  I1 "x":\n    latest lab labs.creatinine within 3 months > 1.5\n'
    w101, after = fixed(text, "W101", lint=True)
    assert "> 1.5 mg/dL" in after
    w102, after = fixed(after, "W102", lint=True)
    assert "within 3 months before baseline > 1.5 mg/dL" in after
    assert not [d for d in lint_text(after) if d.code in ("W101", "W102")]


def test_edits_in_json() -> None:
    text = HEADER + 'inclusion\n  I1 "x":\n    latest lab labs.creatinin at baseline > 1 mg/dL\n'
    record = only(compile_text(text).diagnostics, "C200").to_dict()
    assert record["edits"] == [
        {"line": 8, "column": 16, "end_line": 8, "end_column": 30, "text": "labs.creatinine"}
    ]


def test_seed_rules_have_no_edits() -> None:
    assert compile_text(SEED.read_text(encoding="utf-8"), str(SEED)).ok

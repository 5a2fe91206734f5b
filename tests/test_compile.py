"""The compiler: diagnostics with positions and codes, every mistake in one run, never a crash."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria_lang import compile_text
from criteria_lang.core.diagnostics import render

ROOT = Path(__file__).resolve().parents[1]

HEADER = """trial "T"
  dates screening
lab creatinine = loinc "2160-0" with unit = mg/dL
"""

THREE_MISTAKES = (
    HEADER
    + """inclusion
  I1 "a": latest lab creatinine within 3 months before screening < 30 mL/min
  I2 "b": latest lab creatinin within 3 months before screening < 2 mg/dL
  I1 "c": latest lab creatinine within 3 months before screening < 2 mg/dL
"""
)


def codes(text: str) -> list[tuple[str, int, int]]:
    result = compile_text(text, "t.crit")
    return [(d.code, d.span.line, d.span.column) for d in result.diagnostics]


def test_three_mistakes_three_diagnostics() -> None:
    assert codes(THREE_MISTAKES) == [("C301", 5, 68), ("C200", 6, 22), ("C202", 7, 3)]


def test_check_command_reports_all_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.crit"
    bad.write_text(THREE_MISTAKES, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "criteria_lang.cli.main", "check", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    found = re.findall(r":(\d+):(\d+): error (C\d+):", run.stdout)
    assert found == [("5", "68", "C301"), ("6", "22", "C200"), ("7", "3", "C202")]
    assert "did you mean 'creatinine'?" in run.stdout
    assert run.stdout.count("^") >= 3


def test_rendered_diagnostic_has_caret_under_the_spot() -> None:
    result = compile_text(THREE_MISTAKES, "t.crit")
    text = render(result.diagnostics[0], result.source)
    lines = text.splitlines()
    assert lines[0] == (
        "t.crit:5:68: error C301: 'creatinine' is measured in mg/dL (mass / volume) "
        "but is compared with mL/min (volume / time)"
    )
    source_line, caret_line = lines[1], lines[2]
    column = source_line.index("30 mL/min")
    assert caret_line.index("^") == column and caret_line.strip() == "^" * len("30 mL/min")
    assert lines[3].strip().startswith("= help:")


def test_syntax_errors_in_several_statements_are_all_reported() -> None:
    text = (
        HEADER
        + """inclusion
  I1 "a": latest lab creatinine within 3 months before screening <
  I2 "b": latest lab creatinine within 3 mnths before screening < 2 mg/dL
  I3 "c": latest lab creatinine within 3 months before screening < 2 mg/dL and or x
  I4 "d": latest lab creatinine within 3 months before screening < 2 mg/dL
"""
    )
    assert codes(text) == [("C103", 5, 67), ("C120", 6, 40), ("C100", 7, 80)]


def test_units_checked_at_compile_time() -> None:
    body = (
        'inclusion\n  I1 "a": latest lab creatinine within 3 months before screening < 88 umol/L\n'
    )
    # umol/L against mg/dL needs the molar mass: without one it is an error...
    assert [c for c, _, _ in codes(HEADER + body)] == ["C301"]
    with_molar = HEADER.replace("unit = mg/dL", "unit = mg/dL, molar_mass = 113.12 g/mol")
    assert codes(with_molar + body) == []  # ...with it, fine
    bad_unit = (
        HEADER
        + 'inclusion\n  I1 "a": latest lab creatinine within 3 months before screening < 2 mgg/dL\n'
    )
    assert [c for c, _, _ in codes(bad_unit)] == ["C300"]


def test_windows_and_dates() -> None:
    text = HEADER + 'inclusion\n  I1 "a": any lab creatinine within 1.5 months before screenin\n'
    assert [c for c, _, _ in codes(text)] == ["C121", "C201"]


def test_kinds_and_imports() -> None:
    text = HEADER + 'import nosuchmodule\ninclusion\n  I1 "a": medication creatinine ever\n'
    assert [c for c, _, _ in codes(text)] == ["C204", "C205"]


def test_every_code_is_documented() -> None:
    used = set()
    for path in (ROOT / "criteria_lang").glob("*.py"):
        used |= set(re.findall(r'"(C\d{3})"', path.read_text(encoding="utf-8")))
    documented = set(re.findall(r"\| (C\d{3}) \|", (ROOT / "docs" / "diagnostics.md").read_text()))
    assert used <= documented, f"undocumented: {sorted(used - documented)}"


def test_seed_rule_files_compile_clean() -> None:
    for path in sorted((ROOT / "rules").rglob("*.crit")):
        result = compile_text(path.read_text(encoding="utf-8"), str(path))
        assert result.ok, [d.message for d in result.diagnostics]


# ---------------------------------------------------------------------------- never a crash

WORDS = st.sampled_from(
    [
        "trial",
        '"T"',
        "dates",
        "screening",
        "inclusion",
        "exclusion",
        "I1",
        '"x":',
        "lab",
        "creatinine",
        "latest",
        "within",
        "3 months",
        "before",
        "<",
        ">=",
        "2 mg/dL",
        "and",
        "or",
        "not",
        "(",
        ")",
        ",",
        "at least",
        "of",
        "review",
        "ever",
        "medication",
        "dose",
        "for",
        "at",
        "+/-",
        "7 days",
        "x",
        "ULN",
        "1:80",
        "between",
        "if",
        "then",
        "else",
        "end",
        "define",
        "=",
        "|",
        "except",
        "import",
        "from",
        "{",
        "}",
        "#",
        "\n",
        " ",
        "1.5",
        '"',
        "drug",
        "with",
        "unit",
        "@",
        "é",
        "\t",
        "0.5 x 10^9/L",
        "count",
        "no",
        "any",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WORDS, max_size=40).map(" ".join))
def test_token_soup_gives_only_diagnostics(text: str) -> None:
    result = compile_text(text, "soup.crit")
    for diagnostic in result.diagnostics:
        assert diagnostic.code.startswith("C")
        render(diagnostic, text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_gives_only_diagnostics(text: str) -> None:
    result = compile_text(text, "any.crit")
    for diagnostic in result.diagnostics:
        render(diagnostic, text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_seed_file_gives_only_diagnostics(data: st.DataObject) -> None:
    source = (ROOT / "rules" / "nct03562065.crit").read_text(encoding="utf-8")
    start = data.draw(st.integers(0, len(source) - 1))
    length = data.draw(st.integers(0, 40))
    insert = data.draw(st.sampled_from(["", "(", ")", " and", "<", '"', "\n", "x", "9", "::"]))
    mutated = source[:start] + insert + source[start + length :]
    result = compile_text(mutated, str(ROOT / "rules" / "mutated.crit"))
    for diagnostic in result.diagnostics:
        render(diagnostic, mutated)

"""`criteria fmt`: the one layout, comments kept, meaning never changed, `--check` and `--diff`."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from semantics_helpers import lab, truth

from criteria_lang.cli.main import main
from criteria_lang.syntax.build import build
from criteria_lang.syntax.parse import parse_text
from criteria_lang.tools.fmt import FormatError, format_text

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = sorted((ROOT / "rules").glob("*.crit"))


def tree(text: str) -> object:
    parsed, diagnostics = parse_text(text, "x.crit")
    assert parsed is not None and not diagnostics, diagnostics
    rule_file, built = build(parsed, "x.crit")
    assert not built
    return rule_file


def fmt(text: str) -> str:
    out = format_text(text, "x.crit")
    assert format_text(out, "x.crit") == out, "not idempotent"
    assert tree(out) == tree(text), "meaning changed"
    return out


HEAD = 'trial "T"\n  dates s, b\n  index s\n\n'
FACTS = 'fact a\n  = local "a"\nfact b2\n  = local "b"\n\n'


def crit(expr: str) -> str:
    return f'{HEAD}{FACTS}inclusion\n  I1 "x":\n{expr}'


CASES = [
    # header fields, imports, spacing
    (
        'trial   "T"  title "A title"   dates s,b index s\n'
        "import labs   as l\nfrom conditions import sle ,  ckd\n",
        'trial "T"\n  title "A title"\n  dates s, b\n  index s\n'
        "import labs as l\nfrom conditions import sle, ckd\n",
    ),
    # a criterion on one line goes under its header; operators get single spaces
    (
        HEAD
        + 'lab c = loinc "1" with unit = mg/dL\ninclusion I1 "x" : latest lab c at s>=1.20mg/dL\n',
        HEAD + 'lab c\n  = loinc "1"\n  with unit = mg/dL\n'
        'inclusion\n  I1 "x":\n    latest lab c at s >= 1.20 mg/dL\n',
    ),
    # long expressions break before top-level and/or; groups break inside their parenthesis
    (
        crit(
            "    fact a within 3 months before s and (fact b2 within 12 months before s or "
            "fact a within 24 months before b or fact b2 within 36 months before b)\n"
        ),
        crit(
            "    fact a within 3 months before s\n"
            "    and (fact b2 within 12 months before s\n"
            "         or fact a within 24 months before b\n"
            "         or fact b2 within 36 months before b)\n"
        ),
    ),
    # an `and` inside an `or` is parenthesised; `not` keeps its parentheses
    (
        crit("    fact a at s or fact b2 at s and fact a at b\n"),
        crit("    fact a at s or (fact b2 at s and fact a at b)\n"),
    ),
    (
        crit("    not (fact a at s or fact b2 at s)\n"),
        crit("    not (fact a at s or fact b2 at s)\n"),
    ),
    # at least N of: one item a line
    (
        crit("    at least 1 of (fact a at s, fact b2 at s)\n"),
        crit("    at least 1 of (\n      fact a at s,\n      fact b2 at s\n    )\n"),
    ),
    # if ... end stays on one line when it fits
    (
        crit("    if fact a at s then fact b2 at s else fact a at b end\n"),
        crit("    if fact a at s then fact b2 at s else fact a at b end\n"),
    ),
    # strings and numbers exactly as written; words the author chose
    (
        crit('    review "a \\"quoted\\" word"  and  any  fact a  at s ± 7 d\n'),
        crit('    review "a \\"quoted\\" word" and any fact a at s +/- 7 d\n'),
    ),
    # comments: own-line before their node, trailing at the end of their line
    (
        crit("    # why a\n    fact a at s  # trailing a\n      or # inside\n    fact b2 at s\n"),
        # a second comment for the same line goes on a line of its own, before the next one
        crit("    # why a\n    fact a at s  # trailing a\n    # inside\n    or fact b2 at s\n"),
    ),
    # blank lines between statements kept (at most one), dropped inside expressions
    (
        HEAD
        + FACTS
        + '\n\n\ninclusion\n  I1 "x":\n\n    fact a at s\n\n\n  I2 "y": fact b2 at s\n',
        HEAD + FACTS + 'inclusion\n  I1 "x":\n    fact a at s\n\n  I2 "y":\n    fact b2 at s\n',
    ),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_layout(source: str, expected: str) -> None:
    assert fmt(source) == expected


def test_concepts() -> None:
    source = (
        'lab creatinine "Creatinine" = loinc "2160-0" # mass\n | loinc "14682-9" # moles\n'
        "  with unit = mg/dL, molar_mass = 113.12 g/mol\n"
        'condition infection = snomed "1" | icd10 "A*" except onychomycosis\n'
        'condition onychomycosis = snomed "2"\ndrug open = {}\n'
    )
    assert fmt(source) == (
        'lab creatinine "Creatinine"\n'
        '  = loinc "2160-0"   # mass\n'
        '  | loinc "14682-9"  # moles\n'
        "  with unit = mg/dL, molar_mass = 113.12 g/mol\n"
        "condition infection\n"
        '  = snomed "1" | icd10 "A*"\n'
        "  except onychomycosis\n"
        "condition onychomycosis\n"
        '  = snomed "2"\n'
        "drug open\n"
        "  = {}\n"
    )


def test_query_qualifiers_keep_their_order() -> None:
    source = crit(
        "    medication m status active route oral new dose between 1 and 2 mg/day inclusive"
        " for at least 90 days continuous within 6 months before s\n"
    ).replace("fact a\n", 'drug m = rxnorm "1"\nfact a\n')
    out = fmt(source)
    assert (
        "medication m status active route oral new dose between 1 and 2 mg/day inclusive "
        "for at least 90 days continuous within 6 months before s" in out
    )


def test_is_not_survives() -> None:
    # the builder used to drop the `not` of `is not` (an anonymous keyword): the formatter would
    # then have printed `is positive`, and the evaluator read it so
    out = fmt(
        crit("    latest lab l at s is not positive\n").replace(
            "fact a\n", 'lab l = loinc "1"\nfact a\n'
        )
    )
    assert "is not positive" in out
    hbsag_positive = lab("hbsag", "2024-03-01", "positive")
    expr = "latest lab hbsag within 1 year before screening is not positive"
    assert truth(expr, hbsag_positive) == "not_met"


def test_syntax_errors_are_refused() -> None:
    with pytest.raises(FormatError) as error:
        format_text('trial "T"\n  dates s\ninclusion\n  I1 "x": fact\n')
    assert error.value.diagnostics


# ---------------------------------------------------------------------------- the rules folder


def scramble(text: str, seed: int) -> str:
    """Re-indent, join continuation lines and add spaces, never inside strings or comments."""
    rnd = random.Random(seed)
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if '"' not in stripped and "#" not in stripped:
            stripped = re.sub(
                r" (and|or|>=|<=|<|>|\|) ",
                lambda m: " " * rnd.randint(1, 3) + m.group(1) + " " * rnd.randint(1, 3),
                stripped,
            )
        joinable = re.match(r"(and|or|\|)\b", stripped) and out and "#" not in out[-1]
        if joinable and rnd.random() < 0.6:
            out[-1] += " " + stripped
        else:
            out.append(" " * rnd.randint(0, 6) + stripped + " " * rnd.randint(0, 2))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_files_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text, str(path)) == text, f"run `criteria fmt {path}`"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_scrambled_rule_files(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = path.read_text(encoding="utf-8")
    copy = tmp_path / path.name
    copy.write_text(scramble(text, 1), encoding="utf-8")
    assert main(["fmt", "--check", str(copy)]) == 1
    diff = capsys.readouterr().out
    assert diff.startswith(f"--- {copy}\n+++ {copy} (formatted)\n")
    assert main(["fmt", str(copy)]) == 0
    assert main(["fmt", "--check", str(copy)]) == 0
    assert tree(copy.read_text(encoding="utf-8")) == tree(text)
    assert copy.read_text(encoding="utf-8") == text  # the same canonical text


def test_stdlib_formats_idempotently_and_keeps_every_comment() -> None:
    for path in sorted((ROOT / "criteria_lang" / "stdlib").glob("*.crit")):
        text = path.read_text(encoding="utf-8")
        out = fmt(text)
        assert sorted(re.findall(r"#[^\n]*", out)) == sorted(
            c.rstrip() for c in re.findall(r"#[^\n]*", text)
        )


def test_cli_diff_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ugly = tmp_path / "a.crit"
    ugly.write_text(crit("    fact a at s  or fact b2 at s\n"), encoding="utf-8")
    before = ugly.read_text(encoding="utf-8")
    assert main(["fmt", "--diff", str(ugly)]) == 0
    captured = capsys.readouterr()
    assert "+    fact a at s or fact b2 at s" in captured.out
    assert "1 file would be reformatted." in captured.err
    assert ugly.read_text(encoding="utf-8") == before
    broken = tmp_path / "b.crit"
    broken.write_text('trial "T"\n  dates s\ninclusion\n  I1 "x": fact\n', encoding="utf-8")
    assert main(["fmt", str(broken)]) == 2
    assert "cannot format" in capsys.readouterr().err
    assert main(["fmt", str(tmp_path / "empty-folder-that-is-missing")]) == 2


# ---------------------------------------------------------------------- comments on code lists


def test_a_comment_ending_a_line_of_codes_stays_with_all_of_them() -> None:
    source = (
        'condition stroke "Stroke"\n'
        '  = snomed "230690007"  # Cerebrovascular accident\n'
        '  | icd10 "I60*" | icd10 "I61*"  # unverified\n'
        '  | icd10 "I63*"\n'
    )
    out = fmt(source)
    assert '  | icd10 "I60*" | icd10 "I61*"  # unverified\n' in out
    assert out.count("# unverified") == 1


def test_trailing_comments_of_one_declaration_share_a_column() -> None:
    out = fmt(
        'lab k "Potassium"\n  = loinc "2823-3" # serum\n  | loinc "77142-8"     # any\n'
        "  with unit = mmol/L\n"
        'lab n "Sodium"\n  = loinc "2951-2"  # serum\n  | loinc "2947-0" # blood\n'
    )
    assert out == (
        'lab k "Potassium"\n'
        '  = loinc "2823-3"   # serum\n'
        '  | loinc "77142-8"  # any\n'
        "  with unit = mmol/L\n"
        'lab n "Sodium"\n'
        '  = loinc "2951-2"  # serum\n'
        '  | loinc "2947-0"  # blood\n'
    )


def test_a_long_line_of_codes_without_a_comment_is_split_term_by_term() -> None:
    codes = " | ".join(f'icd10 "C{n:02d}*"' for n in range(10, 22))
    out = fmt(f'condition c "C"\n  = snomed "363346000"  # x\n  | {codes}\n')
    assert '  | icd10 "C10*"\n' in out and '  | icd10 "C21*"\n' in out


def test_a_long_annotated_line_of_codes_is_kept_whole() -> None:
    codes = " | ".join(f'icd10 "C{n:02d}*"' for n in range(10, 22))
    out = fmt(f'condition c "C"\n  = snomed "363346000"\n  | {codes}  # unverified\n')
    assert f"  | {codes}  # unverified\n" in out


def test_the_stdlib_is_formatted() -> None:
    stdlib = ROOT / "criteria_lang" / "stdlib"
    assert main(["fmt", "--check", str(stdlib)]) == 0

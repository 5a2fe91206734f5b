"""`criteria lint`: every W rule, its configuration, the four output formats and exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from criteria_lang.cli.main import main
from criteria_lang.tools.lint import (
    RULES,
    ConfigError,
    LintConfig,
    find_config,
    lint_text,
    parse_codes,
)
from criteria_lang.tools.lint_output import escape_data, escape_property

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ONE_OF_EACH = DATA / "lint" / "one_of_each.crit"
SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def expected_findings(path: Path) -> list[tuple[str, int]]:
    """`# expect: CODE` comments: the code and the line it marks."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for code in re.findall(r"# expect: ([WC]\d{3})", line):
            out.append((code, number))
    return sorted(out, key=lambda item: (item[1], item[0]))


def run_lint(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "criteria_lang.cli.main", "lint", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


# ---------------------------------------------------------------------------- one of each


def test_fixture_holds_every_code_once() -> None:
    codes = [code for code, _ in expected_findings(ONE_OF_EACH)]
    assert sorted(codes) == sorted(r.code for r in RULES)


@pytest.fixture(scope="module")
def outputs() -> dict[str, subprocess.CompletedProcess[str]]:
    relative = str(ONE_OF_EACH.relative_to(ROOT))
    return {fmt: run_lint("--format", fmt, relative) for fmt in ("text", "json", "github", "sarif")}


def test_text_format(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = outputs["text"]
    assert result.returncode == 1, result.stderr
    found = re.findall(
        r"^tests/data/lint/one_of_each\.crit:(\d+):\d+: \w+ (W\d+):", result.stdout, re.M
    )
    assert sorted((code, int(line)) for line, code in found) == sorted(
        expected_findings(ONE_OF_EACH)
    )
    # the source line and a caret under the finding, then the help line
    assert (
        "   20 |     latest lab creatinine within 3 months before screening <= 1.5" in result.stdout
    )
    assert "^^^" in result.stdout and "= help: write the unit, e.g. `1.5 mg/dL`" in result.stdout
    assert result.stdout.rstrip().endswith("Found 10 findings (9 warnings, 1 info) in 1 file.")


def test_json_format(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    records = json.loads(outputs["json"].stdout)
    assert sorted((r["code"], r["line"]) for r in records) == sorted(expected_findings(ONE_OF_EACH))
    first = records[0]
    assert set(first) >= {"code", "severity", "message", "fix", "file", "line", "column", "url"}
    assert first["url"].endswith("docs/lint.md#w110")


def test_github_format(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    lines = outputs["github"].stdout.splitlines()
    pattern = re.compile(
        r"^::(warning|notice|error) file=tests/data/lint/one_of_each\.crit,line=(\d+),col=\d+,"
        r"endLine=\d+,endColumn=\d+,title=(W\d+)::(.+)$"
    )
    matches = [pattern.match(line) for line in lines]
    assert all(matches), lines
    assert sorted((m.group(3), int(m.group(2))) for m in matches if m) == sorted(
        expected_findings(ONE_OF_EACH)
    )
    w108 = next(m for m in matches if m and m.group(3) == "W108")
    assert w108.group(1) == "notice"
    assert "%0Ahelp: " in w108.group(4)  # the help goes on a second line of the annotation


def test_github_escaping() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("C:\\rules,a.crit") == "C%3A\\rules%2Ca.crit"


def test_sarif_format_validates(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    log = json.loads(outputs["sarif"].stdout)
    validator = jsonschema.Draft4Validator(
        SARIF_SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(log), key=str)
    assert not errors, errors[0]
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules][: len(RULES)] == [r.code for r in RULES]
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["helpUri"].endswith(f"docs/lint.md#{rule['id'].lower()}")
        assert rule["defaultConfiguration"]["level"] in ("warning", "note", "error")
    results = run["results"]
    assert sorted(
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results
    ) == sorted(expected_findings(ONE_OF_EACH))
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "tests/data/lint/one_of_each.crit"
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = location["region"]
        assert region["endLine"] >= region["startLine"] and region["startColumn"] >= 1


def test_sarif_uri_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.crit").write_text(ONE_OF_EACH.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_lint("--format", "sarif", "rules", cwd=tmp_path)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(result.stdout)["runs"][0]["results"]
    }
    assert uris == {"rules/a.crit"}


# ---------------------------------------------------------------------------- the rules, one by one

HEADER = """trial "T"
  dates screening, baseline
  index baseline
lab creatinine = loinc "2160-0" with unit = mg/dL, molar_mass = 113.12 g/mol
lab albumin = loinc "1751-7"
score sledai = local "sledai" with unit = 1
fact pregnant = local "pregnant"
"""


def codes(body: str, header: str = HEADER) -> list[str]:
    findings = lint_text(header + body, "t.crit")
    errors = [f for f in findings if f.code.startswith("C")]
    assert not errors, errors
    return [f.code for f in findings if f.code not in ("W105",)]


ALB = "latest lab albumin at screening"
CR = "latest lab creatinine at screening"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (f"{ALB} < 5 g/dL and {ALB} > 10 g/dL", "W103"),
        (f"{ALB} <= 5 g/dL and {ALB} >= 5 g/dL", None),  # exactly 5
        (f"{ALB} < 5 g/dL and {ALB} >= 50 g/L", "W103"),  # 50 g/L is 5 g/dL
        (f"{ALB} between 5 and 5 g/dL exclusive", "W103"),
        (f"{ALB} between 5 and 5 g/dL", None),
        (f"{ALB} = 5 g/dL and {ALB} != 5 g/dL", "W103"),
        (f"{ALB} < 5 g/dL and not ({ALB} < 6 g/dL)", "W103"),
        (f"{ALB} < 5 g/dL or {ALB} >= 5 g/dL", "W104"),
        (f"{ALB} < 5 g/dL or {ALB} > 5 g/dL", None),  # 5 itself is not met
        (f"{ALB} != 5 g/dL or {ALB} = 5 g/dL", "W104"),
        (f"{ALB} < 5 g/dL or {ALB} > 4 g/dL", "W104"),
        ("fact pregnant at screening and not fact pregnant at screening", "W103"),
        ("not (fact pregnant at screening or not fact pregnant at screening)", "W103"),
        ("fact pregnant at screening or not fact pregnant at screening", "W104"),
        ("any fact pregnant at screening or no fact pregnant at screening", "W104"),
        ("fact pregnant at screening or no fact pregnant at baseline", None),  # two dates
        (f"{ALB} is positive and {ALB} is negative", "W103"),
        (f"{ALB} is positive or {ALB} is not positive", "W104"),
        (f"{ALB} is present or {ALB} is absent", "W104"),
        (f"{ALB} is positive or {ALB} is present", None),
        ("at least 0 of (fact pregnant at screening)", "W104"),
        ('at least 2 of (fact pregnant at screening, review "x?")', None),
        ('at least 1 of (review "x?", fact pregnant at screening)', None),
        ('at least 2 of (review "x?", 3 > 5)', "W103"),
        ("3 > 5", "W103"),
        ("5 mg/dL = 0.05 g/L", "W104"),
        ("if fact pregnant at screening then 3 > 5 else 1 > 2 end", "W103"),
        (f"{CR} < 1 mg/dL and {CR} > 100 umol/L", None),  # a molar conversion: not assumed
        ("age at screening < 18 years and age at screening > 216 months", None),  # ages: one unit
        ("age at screening < 18 years and age at screening > 65 years", "W103"),
        ("latest score sledai at screening < 4 and latest score sledai at screening > 6", "W103"),
    ],
)
def test_constant_conditions(expr: str, expected: str | None) -> None:
    found = [c for c in codes(f'inclusion\n  I1 "x":\n    {expr}\n') if c in ("W103", "W104")]
    assert found == ([expected] if expected else [])


def test_constant_sub_expression_is_reported_where_it_is() -> None:
    body = (
        'inclusion\n  I1 "x":\n    fact pregnant at screening\n'
        f"    or ({ALB} < 5 g/dL and {ALB} > 6 g/dL)\n"
    )
    findings = [f for f in lint_text(HEADER + body, "t.crit") if f.code == "W103"]
    assert [(f.span.line, f.message) for f in findings] == [(11, "this condition can never be met")]


def test_constant_definition_is_reported_at_the_definition() -> None:
    body = (
        f"define impossible = {ALB} < 5 g/dL and {ALB} > 6 g/dL\n"
        'exclusion\n  E1 "x":\n    impossible\n'
    )
    findings = [f for f in lint_text(HEADER + body, "t.crit") if f.code == "W103"]
    assert [f.message for f in findings] == ["definition 'impossible' can never be met"]


def test_threshold_without_unit() -> None:
    assert codes(f'inclusion\n  I1 "x":\n    {CR} > 1.2\n') == ["W101"]
    assert codes(f'inclusion\n  I1 "x":\n    {CR} between 1 and 2\n') == ["W101", "W101"]
    assert codes(f'inclusion\n  I1 "x":\n    {CR} between 1 and 2 mg/dL\n') == []
    assert codes('inclusion\n  I1 "x":\n    any lab creatinine value > 1.2 at screening\n') == [
        "W101"
    ]
    # a score's unit is a plain number; a concept without a unit has nothing to say
    assert codes('inclusion\n  I1 "x":\n    latest score sledai at screening > 4\n') == []
    assert codes(f'inclusion\n  I1 "x":\n    {ALB} > 4\n') == []


def test_window_without_date() -> None:
    assert codes('inclusion\n  I1 "x":\n    fact pregnant within 6 months\n') == ["W102"]
    assert codes('inclusion\n  I1 "x":\n    fact pregnant within 6 months before baseline\n') == []
    assert codes('inclusion\n  I1 "x":\n    fact pregnant ever\n') == []


def test_unused_declarations_and_imports() -> None:
    body = (
        "import labs\nfrom conditions import sle\n"
        "define used = fact pregnant at screening\ndefine unused = used\n"
        'inclusion\n  I1 "x":\n    used and condition sle ever before screening\n'
    )
    findings = lint_text(HEADER + body, "t.crit")
    named = sorted((f.code, f.message) for f in findings if f.code in ("W105", "W110"))
    assert named == [
        ("W105", "concept 'albumin' is declared but never used"),
        ("W105", "concept 'creatinine' is declared but never used"),
        ("W105", "concept 'sledai' is declared but never used"),
        ("W105", "definition 'unused' is never used"),
        ("W110", "module 'labs' is imported but never used"),
    ]


def test_modules_are_not_checked_for_unused_declarations() -> None:
    assert (
        lint_text(
            'lab creatinine = loinc "2160-0"\ndefine y = fact f any time\nfact f = local "f"\n',
            "m.crit",
        )
        == []
    )


def test_duplicate_and_empty_text() -> None:
    body = (
        'inclusion\n  I1 "":\n    fact pregnant at screening\n'
        'exclusion\n  E1 "y":\n    (fact pregnant at screening)\n'
    )
    assert codes(body) == ["W107", "W106"]


def test_review_the_data_could_decide() -> None:
    assert codes('exclusion\n  E1 "x":\n    review "Is she pregnant?"\n') == ["W108"]
    assert codes('exclusion\n  E1 "x":\n    review "Is she breastfeeding?"\n') == []
    # the criterion already queries the concept: the review asks for a judgement about it
    both = (
        'exclusion\n  E1 "x":\n'
        '    fact pregnant at screening and review "Is the pregnancy wanted?"\n'
    )
    assert codes(both) == []


STDLIB_HEADER = (
    'import drugs\nimport conditions\nimport facts\nimport vaccines\ntrial "T"\n  dates screening\n'
)


def w108(body: str) -> list[str]:
    return [code for code in codes(body, STDLIB_HEADER) if code == "W108"]


def test_review_generic_words_name_no_concept() -> None:
    # `tb_treatment` is not named by "treatment" alone, nor `in_other_study` by "other study".
    for question in (
        "Does this comorbidity require treatment with systemic corticosteroids?",
        "Is the patient in any other study?",
        "Has there been no response to first-line treatment?",
    ):
        body = f'exclusion\n  E1 "x":\n    review "{question}"\n'
        assert w108(body) == [], question
    # The short word of the name must be there, whole: "TB treatment" names it.
    body = 'exclusion\n  E1 "x":\n    review "Is the TB treatment adequate?"\n'
    assert w108(body) == ["W108"]


def test_review_about_a_queried_class_or_its_members() -> None:
    # The criterion queries a class holding the concept the review names (through a definition):
    # the review asks a judgement about what is queried.
    body = (
        'condition infection_e4 "x" = conditions.infection\n'
        "define recent = condition infection_e4 within 4 weeks before screening\n"
        'vaccine lv "x" = vaccines.live_vaccines except vaccines.herpes_zoster_vaccine\n'
        'exclusion\n  E1 "x":\n    recent and review "Is the infection severe?"\n'
        '  E2 "y":\n    immunization lv within 12 weeks before screening\n'
        '    or review "Is a live vaccine other than a herpes zoster vaccine planned?"\n'
    )
    assert w108(body) == []
    unrelated = (
        'exclusion\n  E1 "x":\n    condition conditions.sle ever before screening\n'
        '    and review "Is there a herpes zoster infection?"\n'
    )
    assert w108(unrelated) == ["W108"]


def test_unit_kinds_differ_only_without_a_declared_unit() -> None:
    body = (
        f'inclusion\n  I1 "x":\n    {ALB} > 3 g/dL\n  I2 "y":\n    {ALB} > 600 umol/L\n'
        f'  I3 "z":\n    {ALB} > 30 g/L\n'
    )
    assert codes(body) == ["W109"]
    # a declared unit is the checker's business (C301)
    findings = lint_text(HEADER + f'inclusion\n  I1 "x":\n    {CR} > 3 mg\n', "t.crit")
    assert [f.code for f in findings if f.code.startswith(("C3", "W109"))] == ["C301"]


def test_compile_errors_are_findings_and_rules_wait_for_a_clean_parse() -> None:
    findings = lint_text(HEADER + 'inclusion\n  I1 "x":\n    fact pregnnt at screening\n', "t.crit")
    c200 = [f for f in findings if f.code == "C200"]
    assert c200 and "did you mean 'pregnant'" in c200[0].fix
    syntax = lint_text(HEADER + 'inclusion\n  I1 "x":\n    fact pregnant at\n', "t.crit")
    assert {f.code[:2] for f in syntax} == {"C1"}


# ---------------------------------------------------------------------------- configuration


def test_inline_ignores() -> None:
    body = (
        f'inclusion\n  I1 "x":\n    {CR} > 1.2  # criteria: ignore[W101]\n'
        f'  I2 "y":\n    {CR} > 1.3  # criteria: ignore\n'
        f'  I3 "z":\n    {CR} > 1.4  # criteria: ignore[W102, W103]\n'
    )
    assert codes(body) == ["W101"]


def test_select_ignore_and_prefixes() -> None:
    text = HEADER + f'inclusion\n  I1 "":\n    {CR} > 1.2\n'
    only = lint_text(text, "t.crit", LintConfig(select=("W101",)))
    assert [f.code for f in only] == ["W101"]
    without = lint_text(text, "t.crit", LintConfig(ignore=("W10",)))
    assert [f.code for f in without] == []
    assert parse_codes(["W101, w1", "ALL"], "x") == ("W101", "W1", "W")


def test_bad_codes_are_configuration_errors() -> None:
    with pytest.raises(ConfigError):
        parse_codes(["W999"], "--select")
    with pytest.raises(ConfigError):
        parse_codes(["X1"], "--select")


def test_pyproject_is_found_by_walking_up(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.criteria.lint]\nselect = ["W1"]\nignore = ["W101"]\nseverity = "error"\n',
        encoding="utf-8",
    )
    folder = tmp_path / "rules" / "nested"
    folder.mkdir(parents=True)
    rule = folder / "a.crit"
    rule.write_text(HEADER + f'inclusion\n  I1 "x":\n    {CR} > 1.2\n', encoding="utf-8")
    config = find_config(rule)
    assert (config.select, config.ignore, config.fail_on) == (("W1",), ("W101",), "error")
    # warnings only, severity "error": exit 0; the command line overrides the file
    assert main(["lint", str(rule)]) == 0
    assert main(["lint", "--fail-on", "warning", str(rule)]) == 1
    assert main(["lint", "--ignore", "W105", "--fail-on", "warning", str(rule)]) == 1


def test_pyproject_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.criteria.lint]\nselct = ["W1"]\n', encoding="utf-8"
    )
    rule = tmp_path / "a.crit"
    rule.write_text(HEADER, encoding="utf-8")
    assert main(["lint", str(rule)]) == 2
    assert "unknown setting(s) selct" in capsys.readouterr().err


def test_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.criteria.lint]\nignore = ["W"]\n', encoding="utf-8"
    )
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert find_config(inner / "a.crit").ignore == ("W",)


# ---------------------------------------------------------------------------- exit codes


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = DATA / "lint" / "good.crit"
    assert main(["lint", str(good)]) == 0
    assert main(["lint", str(ONE_OF_EACH)]) == 1
    assert main(["lint", "--fail-on", "error", str(ONE_OF_EACH)]) == 0
    assert main(["lint", "--select", "W108", str(ONE_OF_EACH)]) == 0  # info < warning
    assert main(["lint", "--select", "W108", "--fail-on", "info", str(ONE_OF_EACH)]) == 1
    assert main(["lint", "--select", "W999", str(ONE_OF_EACH)]) == 2
    assert main(["lint", str(tmp_path)]) == 2  # no rule files
    assert main(["lint", "--format", "yaml", str(good)]) == 2  # argparse usage error
    broken = tmp_path / "broken.crit"
    broken.write_text('trial "T"\n  dates s\ninclusion\n  I1 "x": fact\n', encoding="utf-8")
    assert main(["lint", "--fail-on", "error", str(broken)]) == 1  # compile errors are errors
    capsys.readouterr()


def test_help_documents_codes_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        from criteria_lang.cli.main import build_parser

        build_parser().parse_args(["lint", "--help"])
    text = capsys.readouterr().out
    for rule in RULES:
        assert rule.code in text
    assert "exit codes:" in text and "2  usage" in text


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "lint.sarif"
    assert main(["lint", "--format", "sarif", "--output", str(out), str(ONE_OF_EACH)]) == 1
    assert json.loads(out.read_text(encoding="utf-8"))["version"] == "2.1.0"


# ---------------------------------------------------------------------------- docs


def _doc_examples() -> dict[str, dict[str, str]]:
    text = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        code = section.split()[0]
        if not re.fullmatch(r"W\d{3}", code):
            continue
        blocks = re.findall(r"^(Bad|Good):\s*\n\s*```\w*\n(.*?)```", section, flags=re.M | re.S)
        out[code] = {kind.lower(): body for kind, body in blocks}
    return out


def test_every_code_is_documented_with_a_bad_and_a_good_example() -> None:
    examples = _doc_examples()
    assert sorted(examples) == sorted(r.code for r in RULES)
    header = re.search(
        r"```crit\n(# The examples.*?)```", (ROOT / "docs" / "lint.md").read_text(), re.S
    )
    assert header, "docs/lint.md has the examples' shared header"
    header_lines = header.group(1).count("\n")
    for code, pair in examples.items():
        assert set(pair) == {"bad", "good"}, code
        # findings in the header itself (its concepts unused by one example) do not count
        bad = [
            f
            for f in lint_text(header.group(1) + pair["bad"], "bad.crit")
            if f.span.line > header_lines
        ]
        good = [
            f
            for f in lint_text(header.group(1) + pair["good"], "good.crit")
            if f.span.line > header_lines
        ]
        assert not [f for f in bad + good if f.code.startswith("C")], (code, bad + good)
        assert code in {f.code for f in bad}, (code, bad)
        assert code not in {f.code for f in good}, (code, good)

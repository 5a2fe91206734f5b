"""Highlighting: the Pygments lexer and the VS Code extension's TextMate grammar, both checked
against the grammar's keywords (syntax/keywords.py) so that they cannot drift from it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Keyword, Name, Number, Operator, String

from criteria_lang.syntax.keywords import keyword_categories
from criteria_lang.tools.highlight import CATEGORY_STYLE, CriteriaLexer, textmate_json

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "editors" / "vscode"
GRAMMAR_FILE = EXTENSION / "syntaxes" / "criteria.tmLanguage.json"
RULE_FILES = sorted((ROOT / "rules").glob("*.crit")) + sorted(
    (ROOT / "criteria_lang" / "stdlib").glob("*.crit")
)


def tokens(text: str) -> list[tuple[Any, str]]:
    return [(t, v) for t, v in CriteriaLexer().get_tokens(text) if v.strip()]


def test_the_textmate_grammar_file_is_generated_from_the_grammar() -> None:
    assert GRAMMAR_FILE.read_text(encoding="utf-8") == textmate_json(), (
        "regenerate it: python -m criteria_lang.tools.highlight textmate > "
        "editors/vscode/syntaxes/criteria.tmLanguage.json"
    )


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_rule_file_lexes_without_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lexed = list(CriteriaLexer().get_tokens(text))
    assert "".join(v for _, v in lexed).rstrip("\n") == text.rstrip("\n")
    assert [v for t, v in lexed if t is Error] == []


@pytest.mark.parametrize("word", sorted(keyword_categories()))
def test_each_keyword_is_highlighted_by_its_category(word: str) -> None:
    token, _ = CATEGORY_STYLE[keyword_categories()[word]]
    assert (token, word) in tokens(f"x {word} y"), tokens(f"x {word} y")
    if "-" not in word:  # a name that starts like a keyword is a name
        assert (Name, f"{word}_y") in tokens(f"x {word}_y")


def test_quantities_names_and_criteria() -> None:
    lexed = tokens(
        '  E2 "Creatinine ≥ 2 µmol":\n    latest lab labs.creatinine at screening > 2 mg/dL'
    )
    assert (Name.Label, "E2") in lexed
    assert (String, '"Creatinine ≥ 2 µmol"') in lexed
    assert (Number, "2") in lexed and (Name.Constant, "mg/dL") in lexed
    assert (Name, "creatinine") in lexed and (Operator, ">") in lexed
    # a number followed by a keyword is a number, not a quantity with the unit `and`
    lexed = tokens("age at screening between 18 and 70 years")
    assert (Number, "18") in lexed and (Keyword, "and") not in lexed
    assert (Operator.Word, "and") in lexed and (Name.Constant, "years") in lexed
    assert (Keyword.Declaration, "lab") in tokens('lab egfr "eGFR" = loinc "98979-8"')


def test_the_lexer_is_found_by_name_and_file_name() -> None:
    assert isinstance(get_lexer_by_name("criteria"), CriteriaLexer)
    assert isinstance(get_lexer_for_filename("rules/nct03562065.crit"), CriteriaLexer)


def test_rich_highlights_rule_files() -> None:
    from rich.console import Console
    from rich.syntax import Syntax

    console = Console(record=True, force_terminal=True, color_system="truecolor", width=100)
    console.print(Syntax('inclusion\n  I1 "x": age at screening >= 18 years', "criteria"))
    styled = console.export_text(styles=True, clear=False)
    assert "\x1b[" in styled  # coloured
    plain = console.export_text()
    assert "age at screening" in plain


# ---------------------------------------------------------------------------- TextMate


def _rules(grammar: dict[str, Any], patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pattern in patterns:
        if "include" in pattern:
            out.extend(_rules(grammar, [grammar["repository"][pattern["include"][1:]]]))
        else:
            out.append(pattern)
    return out


def scope_at(grammar: dict[str, Any], line: str, position: int) -> str | None:
    """A minimal TextMate matcher for one line (the first rule that matches wins, as in
    vscode-textmate): the scope the grammar gives the text at `position`."""
    rules = _rules(grammar, grammar["patterns"])
    at = 0
    while at < len(line):
        best: tuple[int, re.Match[str], dict[str, Any]] | None = None
        for rule in rules:
            match = re.compile(rule.get("match") or rule["begin"]).search(line, at)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), match, rule)
        if best is None:
            return None
        start, match, rule = best
        end = match.end()
        if "begin" in rule:  # to its end pattern, or the line's end
            closing = re.compile(rule["end"]).search(line, match.end())
            end = closing.end() if closing else len(line)
        if start <= position < end:
            for group, capture in rule.get("captures", {}).items():
                if match.start(int(group)) <= position < match.end(int(group)):
                    return str(capture["name"])
            return rule.get("name")
        at = max(end, at + 1)
    return None


@pytest.mark.parametrize("word", sorted(keyword_categories()))
def test_the_textmate_grammar_scopes_each_keyword_by_its_category(word: str) -> None:
    grammar = json.loads(GRAMMAR_FILE.read_text(encoding="utf-8"))
    _, scope = CATEGORY_STYLE[keyword_categories()[word]]
    assert scope_at(grammar, f"  x {word} y", 4) == scope
    if "-" not in word:
        assert scope_at(grammar, f"  x {word}_y", 4) is None  # part of a name


def test_the_textmate_grammar_on_a_criterion() -> None:
    grammar = json.loads(GRAMMAR_FILE.read_text(encoding="utf-8"))
    line = '  E2 "≥ 2": latest lab labs.creatinine at screening > 2 mg/dL # why'
    assert scope_at(grammar, line, line.index("E2")) == "entity.name.label.criteria"
    assert scope_at(grammar, line, line.index("≥")) == "string.quoted.double.criteria"
    assert scope_at(grammar, line, line.index("mg/dL")) == "keyword.other.unit.criteria"
    assert scope_at(grammar, line, line.index("2 mg")) == "constant.numeric.criteria"
    assert scope_at(grammar, line, line.index("why")) == "comment.line.number-sign.criteria"
    assert scope_at(grammar, line, line.index("latest")) == "support.function.aggregate.criteria"
    declaration = 'lab egfr "eGFR" = loinc "98979-8"'
    assert scope_at(grammar, declaration, 5) == "entity.name.type.criteria"


# ---------------------------------------------------------------------------- the extension


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_vscode_extension() -> None:
    """The extension's own tests (no `npm install` needed: the VS Code API is faked)."""
    done = subprocess.run(
        ["node", "--test", "test/"], cwd=EXTENSION, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout

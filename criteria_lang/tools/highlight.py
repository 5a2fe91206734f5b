"""Syntax highlighting of rule files: a Pygments lexer and the VS Code extension's TextMate grammar.

Both are made from one table of token classes whose keywords come from the grammar itself
(syntax/keywords.py), so a keyword added to criteria.lark is highlighted everywhere at once:

* `CriteriaLexer` is registered as the `criteria` Pygments lexer (entry point
  `pygments.lexers`), so Sphinx/MkDocs code blocks and `rich.syntax.Syntax(code, "criteria")`
  highlight rule files;
* `textmate_grammar()` is the grammar of editors/vscode/syntaxes/criteria.tmLanguage.json,
  written by `python -m criteria_lang.tools.highlight textmate` (tests/test_highlight.py checks
  that the file is up to date).

Pygments is imported here only (it comes with `rich`); nothing else imports this module.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, cast

from pygments.lexer import RegexLexer
from pygments.lexer import bygroups as _bygroups
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
    _TokenType,
)

from criteria_lang.syntax.keywords import Category, keywords

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# A unit right after a number (the grammar's QUANTITY): letters, %, µ, /, ^, brackets, digits.
_UNIT = r"[A-Za-z%µμ/\[{][A-Za-z0-9_%µμ/^.\[\]{}*]*"
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
# A concept attribute that is a unit: `with unit = mg/dL, ...` (the grammar's `unit_only`).
_UNIT_ATTRIBUTE = rf"(=)([ \t]*)({_UNIT})(?=[ \t]*(?:,|#|$))"
_STRING = r'"(?:\\.|[^"\\\n])*"'
_BOUNDARY_BEFORE = r"(?<![A-Za-z0-9_-])"
_BOUNDARY_AFTER = r"(?![A-Za-z0-9_-])"

bygroups = cast(Callable[..., Any], _bygroups)  # untyped in types-Pygments


def _not_a_keyword() -> str:
    """Look-ahead: what follows is not a keyword (`18 and` is a number, `18 mg` a quantity)."""
    return f"(?!{_alternation(keywords())}{_BOUNDARY_AFTER})"


# Each keyword category: its Pygments token and its TextMate scope.
CATEGORY_STYLE: dict[Category, tuple[_TokenType, str]] = {
    "kind": (Keyword.Type, "storage.type.kind.criteria"),
    "code_system": (Name.Builtin, "support.constant.code-system.criteria"),
    "aggregate": (Name.Builtin, "support.function.aggregate.criteria"),
    "operator": (Operator.Word, "keyword.operator.logical.criteria"),
    "constant": (Keyword.Constant, "constant.language.criteria"),
    "keyword": (Keyword, "keyword.control.criteria"),
}
# Most specific first: a word is highlighted by its own category.
CATEGORY_ORDER: tuple[Category, ...] = (
    "kind",
    "code_system",
    "aggregate",
    "operator",
    "constant",
    "keyword",
)


def keyword_pattern(words_: Iterable[str]) -> str:
    """One regular expression for whole keywords (longest first: `left-inclusive` before
    `left`), valid both in Python and in Oniguruma (TextMate)."""
    return _BOUNDARY_BEFORE + _alternation(words_) + _BOUNDARY_AFTER


def _alternation(words_: Iterable[str]) -> str:
    """`(?:a|b)`, longest first. Keywords are letters, digits and hyphens, which need no
    escaping (an escaped hyphen is an error in JavaScript's Unicode mode)."""
    ordered = sorted(words_, key=lambda w: (-len(w), w))
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", w) for w in ordered), ordered
    return "(?:" + "|".join(ordered) + ")"


# ---------------------------------------------------------------------------- Pygments


def _keyword_rules() -> list[tuple[str, _TokenType]]:
    return [
        (keyword_pattern(keywords(category)), CATEGORY_STYLE[category][0])
        for category in CATEGORY_ORDER
        if keywords(category)
    ]


class CriteriaLexer(RegexLexer):
    """Rule files of criteria-lang (clinical-trial eligibility criteria)."""

    name = "Criteria"
    aliases: ClassVar[list[str]] = ["criteria", "crit"]
    filenames: ClassVar[list[str]] = ["*.crit"]
    mimetypes: ClassVar[list[str]] = ["text/x-criteria"]
    url = "https://github.com/criteria-lang/criteria-lang"

    tokens: ClassVar[dict[str, Any]] = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"""[\s\S]*?"""', String.Doc),
            # `I1 "the protocol's words":` (a criterion or an outcome)
            (
                rf"({_NAME})(\s+)({_STRING})(\s*)(:)",
                bygroups(Name.Label, Whitespace, String, Whitespace, Punctuation),
            ),
            # declarations: `lab creatinine "..." =`, `define x =`
            (
                rf"^({keyword_pattern(keywords('kind'))})([ \t]+)({_NAME})",
                bygroups(Keyword.Declaration, Whitespace, Name.Class),
            ),
            (
                rf"^(define)([ \t]+)({_NAME})",
                bygroups(Keyword.Declaration, Whitespace, Name.Function),
            ),
            (_STRING, String),
            (_UNIT_ATTRIBUTE, bygroups(Operator, Whitespace, Name.Constant)),
            (r"1:[0-9]+", Number),  # a titer
            (rf"{_NUMBER}(?=[ \t]*x[ \t]*(?:10|ULN|LLN))", Number),  # `2 x ULN`, `0.5 x 10^9/L`
            (r"10[\^*][0-9]+/[A-Za-z]+", Name.Constant),  # the unit of `0.5 x 10^9/L`
            (
                rf"({_NUMBER})([ \t]*){_not_a_keyword()}({_UNIT})",
                bygroups(Number, Whitespace, Name.Constant),
            ),
            (_NUMBER, Number),
            *_keyword_rules(),
            (_NAME, Name),
            (r"<=|>=|!=|\+/-|[<>=±|%/-]", Operator),
            (r"[().,:{}]", Punctuation),
        ]
    }


# ---------------------------------------------------------------------------- TextMate


def textmate_grammar() -> dict[str, Any]:
    """The TextMate grammar of the VS Code extension (and of any editor that reads one)."""
    repository: dict[str, Any] = {
        "comment": {"name": "comment.line.number-sign.criteria", "match": "#.*$"},
        "docstring": {"name": "string.quoted.triple.criteria", "begin": '"""', "end": '"""'},
        "string": {
            "name": "string.quoted.double.criteria",
            "begin": '"',
            "end": '"|$',
            "patterns": [{"name": "constant.character.escape.criteria", "match": r"\\."}],
        },
        "criterion": {
            "match": rf"^\s+({_NAME})(?=\s+{_STRING}\s*:)",
            "captures": {"1": {"name": "entity.name.label.criteria"}},
        },
        "declaration": {
            "match": rf"^({keyword_pattern(keywords('kind'))}|define)[ \t]+({_NAME})",
            "captures": {
                "1": {"name": "storage.type.declaration.criteria"},
                "2": {"name": "entity.name.type.criteria"},
            },
        },
        "quantity": {
            "match": rf"\b({_NUMBER})[ \t]*{_not_a_keyword()}({_UNIT})",
            "captures": {
                "1": {"name": "constant.numeric.criteria"},
                "2": {"name": "keyword.other.unit.criteria"},
            },
        },
        "unit-attribute": {
            "match": _UNIT_ATTRIBUTE,
            "captures": {
                "1": {"name": "keyword.operator.comparison.criteria"},
                "3": {"name": "keyword.other.unit.criteria"},
            },
        },
        "scaled-unit": {
            "name": "keyword.other.unit.criteria",
            "match": r"\b10[\^*][0-9]+/[A-Za-z]+",
        },
        "number": {"name": "constant.numeric.criteria", "match": rf"\b(?:1:[0-9]+|{_NUMBER})\b"},
        "operator": {
            "name": "keyword.operator.comparison.criteria",
            "match": r"<=|>=|!=|\+/-|[<>=±|%/-]",
        },
    }
    keyword_includes = []
    for category in CATEGORY_ORDER:
        key = f"keywords-{category.replace('_', '-')}"
        repository[key] = {
            "name": CATEGORY_STYLE[category][1],
            "match": keyword_pattern(keywords(category)),
        }
        keyword_includes.append({"include": f"#{key}"})
    order = [
        "comment",
        "docstring",
        "string",
        "criterion",
        "declaration",
        "unit-attribute",
        "scaled-unit",
        "quantity",
        "number",
    ]
    patterns = [{"include": f"#{k}"} for k in order] + keyword_includes + [{"include": "#operator"}]
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "Criteria",
        "scopeName": "source.criteria",
        "fileTypes": ["crit"],
        "comment": "Generated by `python -m criteria_lang.tools.highlight textmate` from the "
        "keywords of criteria_lang/syntax/criteria.lark; do not edit by hand.",
        "patterns": patterns,
        "repository": repository,
    }


def textmate_json() -> str:
    return json.dumps(textmate_grammar(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if argv != ["textmate"]:
        print(
            "usage: python -m criteria_lang.tools.highlight textmate > criteria.tmLanguage.json",
            file=sys.stderr,
        )
        return 2
    sys.stdout.write(textmate_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The language's keywords, read from the grammar (criteria.lark) itself.

Highlighters (the Pygments lexer, the TextMate grammar of the VS Code extension) and the language
server's completion take their words from here, so a keyword added to the grammar reaches them
without a second list to keep in step; tests/test_grammar.py checks that the words the `NAME`
terminal refuses are exactly these.

A keyword's category is the grammar rule it is written in: the words of `code_system` are code
systems, those of `kind` concept kinds, and so on (`CATEGORY_OF_RULE`); every other word is a
plain keyword.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from criteria_lang.syntax.tables import grammar_text

Category = Literal["keyword", "kind", "code_system", "aggregate", "operator", "constant"]

# Rules whose words are a category of their own (the rest are plain keywords).
CATEGORY_OF_RULE: dict[str, Category] = {
    "kind": "kind",
    "code_system": "code_system",
    "aggregate_op": "aggregate",
    "aggregate": "aggregate",  # `cumulative`
    "value_word": "constant",
    "boolean": "constant",
    "limit_word": "constant",
    "bounds": "constant",
    "or_expr": "operator",
    "and_expr": "operator",
    "not_expr": "operator",
}

# `name:` / `!name:` / `?name:` at the start of a line begins a rule; `NAME:` or `NAME.2:` a
# terminal.
_DEFINITION = re.compile(r"^[!?]?([A-Za-z_][A-Za-z0-9_]*)(?:\.\d+)?\s*:", re.MULTILINE)
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_REGEX = re.compile(r"/(?:[^/\\\n]|\\.)+/[imslux]*")  # a terminal's /regex/: no keywords in it
_TERMINAL_REF = re.compile(r"\b([A-Z][A-Z0-9_]*)\b")
_NAME_EXCLUSIONS = re.compile(r"^NAME:\s*/\(\?!\(([^)]*)\)", re.MULTILINE)


def _strip_comments(text: str) -> str:
    """The grammar without `//` comments (quoted words in comments are not keywords)."""
    out = []
    for line in text.splitlines():
        position = line.find("//")
        while position != -1 and line.count('"', 0, position) % 2 == 1:
            position = line.find("//", position + 2)
        out.append(line if position == -1 else line[:position])
    return "\n".join(out)


def definitions(text: str | None = None) -> dict[str, str]:
    """Each rule's and terminal's name -> its body (comments removed)."""
    source = _strip_comments(grammar_text() if text is None else text)
    matches = list(_DEFINITION.finditer(source))
    out: dict[str, str] = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following is not None else len(source)
        out[match.group(1)] = source[match.end() : end]
    return out


@functools.cache
def keyword_categories() -> dict[str, Category]:
    """Every word written in quotes in a grammar rule (or a keyword terminal such as
    LEFT_INCLUSIVE) -> its category."""
    rules = definitions()
    out: dict[str, Category] = {}
    for name, body in rules.items():
        category = CATEGORY_OF_RULE.get(name, "keyword")
        # A keyword terminal a rule names (`bounds` names LEFT_INCLUSIVE) is in its category.
        named = [rules[t] for t in _TERMINAL_REF.findall(body) if t in rules]
        plain = _REGEX.sub(" ", " ".join([body, *named]))
        for literal in _LITERAL.findall(plain):
            if _WORD.fullmatch(literal):
                # A word used in several rules keeps its most specific category.
                if out.get(literal, "keyword") == "keyword":
                    out[literal] = category
    return dict(sorted(out.items()))


def keywords(category: Category | None = None) -> tuple[str, ...]:
    """The keywords (of one category), sorted."""
    return tuple(w for w, c in keyword_categories().items() if category in (None, c))


def reserved_names(text: str | None = None) -> tuple[str, ...]:
    """The words the grammar's NAME terminal refuses (its look-ahead list)."""
    match = _NAME_EXCLUSIONS.search(grammar_text() if text is None else text)
    if match is None:
        return ()
    return tuple(match.group(1).split("|"))

"""The grammar's keyword lists agree with each other (criteria.lark keeps two by hand: the quoted
words of its rules and the look-ahead of the NAME terminal), and keywords are never names."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from criteria_lang.syntax import nodes as n
from criteria_lang.syntax.keywords import definitions, keyword_categories, keywords, reserved_names
from criteria_lang.syntax.parse import parse_text

SINGLE_WORDS = tuple(w for w in keywords() if "-" not in w)  # NAME cannot hold a hyphen anyway


def test_name_refuses_exactly_the_keywords() -> None:
    reserved = reserved_names()
    assert len(reserved) == len(set(reserved)), "a word is listed twice in NAME's look-ahead"
    missing = sorted(set(SINGLE_WORDS) - set(reserved))
    extra = sorted(set(reserved) - set(SINGLE_WORDS))
    assert not missing, f"keywords that NAME would accept as names: {missing}"
    assert not extra, f"words NAME refuses that no rule uses: {extra}"


def test_name_list_is_sorted_for_review() -> None:
    reserved = list(reserved_names())
    assert reserved == sorted(reserved)


def test_words_kept_out_of_a_quantity_are_keywords() -> None:
    """QUANTITY's look-ahead lists the words that may follow a bare number; a typo there would
    read `18 adn` as the quantity 18 adn."""
    body = definitions()["QUANTITY"]
    match = re.search(r"\(\?!\(([^)]*)\)", body)
    assert match is not None
    words = match.group(1).split("|")
    assert sorted(set(words) - set(keywords())) == []


def test_kind_keywords_are_the_tree_kinds() -> None:
    tree_kinds = set(get_args(n.QueryKind)) | set(get_args(n.ConceptKind))
    assert set(keywords("kind")) == tree_kinds


def test_categories_cover_the_highlighted_groups() -> None:
    categories = keyword_categories()
    assert categories["rxnorm"] == "code_system"
    assert categories["latest"] == "aggregate"
    assert categories["and"] == categories["not"] == "operator"
    assert categories["left-inclusive"] == categories["positive"] == "constant"
    assert categories["within"] == "keyword"


@pytest.mark.parametrize("word", SINGLE_WORDS)
def test_a_keyword_is_never_a_name(word: str) -> None:
    tree, diagnostics = parse_text(f'define {word} = sex in ("male")\n')
    assert diagnostics, f"'{word}' was accepted as a definition's name"
    tree, diagnostics = parse_text(f'define {word}_x = sex in ("male")\n')
    assert tree is not None and not diagnostics, f"'{word}_x' should be a name"

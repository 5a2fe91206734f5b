"""The parser shipped as generated tables (criteria_lang/syntax/parser.json): up to date with the
grammar, the same parser as one built from the grammar with lark's strict checks, loaded without
pickle and without reading anything from the temp folder; and the STRING terminal, rewritten so
that the collision check stays fast, accepts exactly what the old one did."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import lark
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_lang.syntax import parse, tables

ROOT = Path(__file__).resolve().parent.parent

# The STRING terminal before issue 9, as lark combined its two alternatives.
OLD_STRING = r'(?:"""(.|' + "\n" + r')*?"""|"([^"\\' + "\n" + r']|\\.)*")'


@pytest.fixture(scope="module")
def strict_parser() -> lark.Lark:
    """Built from the grammar with strict=True: a collision between terminals is an error."""
    return tables.build_parser(strict=True)


def rule_texts() -> Iterator[tuple[str, str]]:
    folders = [ROOT / "rules", ROOT / "criteria_lang" / "stdlib", ROOT / "tests" / "data"]
    for folder in folders:
        for path in sorted(folder.rglob("*.crit")):
            yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


def test_tables_are_up_to_date_with_the_grammar() -> None:
    document = json.loads((ROOT / "criteria_lang/syntax/parser.json").read_text(encoding="utf-8"))
    assert document["grammar_sha256"] == tables.grammar_sha256(), (
        "run: python -m criteria_lang.syntax.tables"
    )
    assert tables.main(["--check"]) == 0


def test_shipped_tables_parse_as_a_strict_build(strict_parser: lark.Lark) -> None:
    shipped = tables.load_parser()
    texts = list(rule_texts())
    assert len(texts) > 10
    for name, text in texts:
        try:
            expected: object = strict_parser.parse(text)
        except lark.exceptions.UnexpectedInput as error:
            expected = (type(error), error.line, error.column)
        try:
            got: object = shipped.parse(text)
        except lark.exceptions.UnexpectedInput as error:
            got = (type(error), error.line, error.column)
        assert got == expected, name


FRAGMENTS = [
    "trial", "inclusion", "exclusion", "import", "labs", "lab", "drug", "medication", "define",
    "latest", "within", "3 months", "before", "screening", "and", "or", "not", "any", "ever",
    "between", "x", "ULN", "2", "1.5", "mg/dL", "10^9/L", "1:80", "<", ">=", "=", "(", ")", ",",
    ":", ".", "|", "{", "}", '"text"', '"""a\nb"""', '"', "left-inclusive", "age at", "years",
    "I1", "value", "is", "positive", "# note", "\n", " ", "  ", "review", "count", "of", "the",
]  # fmt: skip


def outcome(parser: lark.Lark, text: str) -> object:
    try:
        return parser.parse(text)
    except lark.exceptions.UnexpectedInput as error:
        return (type(error).__name__, error.line, error.column)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30))
def test_shipped_parser_lexes_and_parses_like_lark_built_one(
    strict_parser: lark.Lark, fragments: list[str]
) -> None:
    """The shipped parser matches a state's terminals one by one (tables.py); lark's matches
    their alternation. Same tokens, same trees, same errors, on any text."""
    text = " ".join(fragments)
    for prefix in ("", 'trial "T"\n  dates screening\ninclusion\n  I1 "x": '):
        assert outcome(parse.parser(), prefix + text) == outcome(strict_parser, prefix + text)


def test_a_fresh_build_serializes_to_the_shipped_tables(strict_parser: lark.Lark) -> None:
    """The shipped file holds what the generator writes today, up to lark's numbering of
    states (which follows set order): same rules, terminals and number of states."""
    fresh = json.loads(tables.tables_json(strict_parser, tables.grammar_sha256()))
    shipped = json.loads((ROOT / "criteria_lang/syntax/parser.json").read_text(encoding="utf-8"))
    assert fresh["grammar_sha256"] == shipped["grammar_sha256"]
    assert fresh["data"]["options"] == shipped["data"]["options"]
    fresh_states = fresh["data"]["parser"]["parser"]["states"]["<int-keys>"]
    shipped_states = shipped["data"]["parser"]["parser"]["states"]["<int-keys>"]
    assert len(fresh_states) == len(shipped_states)
    assert _terminals(fresh) == _terminals(shipped)


def _terminals(document: dict[str, object]) -> list[tuple[str, str]]:
    memo = document["memo"]["<int-keys>"]  # type: ignore[index]
    found = [
        (item["name"], item["pattern"]["value"])
        for _, item in memo
        if item.get("__type__") == "TerminalDef"
    ]
    return sorted(found)


# ---------------------------------------------------------------------------- STRING


def new_string() -> str:
    return parse.parser().get_terminal("STRING").pattern.to_regexp()


def match_end(pattern: str, text: str) -> int | None:
    found = re.compile(pattern).match(text)
    return None if found is None else found.end()


@pytest.mark.parametrize(
    "text",
    [
        '""""""',  # empty triple-quoted text
        '"""a"""',
        '"""a""""',  # ends in one quote: the text ends at the first """, one " is left over
        '"""a"""""',  # ends in two quotes
        '"""a""""""',
        '"""a"b""c"""',  # one and two quotes inside
        '"""line one\nline two\n"""',  # newlines
        '"""back\\slash\\"""',  # no escapes in a triple-quoted text: it ends at the first """
        '"""\\""""',
        '"""unterminated',  # falls back to the one-line form: the empty text ""
        '"""unterminated""',
        '""',
        '"a\\"b"',
        '"a\nb"',
        '"',
        "",
    ],
)
def test_string_terminal_edges(text: str) -> None:
    assert match_end(new_string(), text) == match_end(OLD_STRING, text)


def test_string_terminal_lexes_edges_as_before() -> None:
    tokens = [(t.type, str(t)) for t in parse.parser().lex('trial """a"" ""b\nc\\""" title "x"')]
    assert tokens == [
        ("TRIAL", "trial"),
        ("STRING", '"""a"" ""b\nc\\"""'),
        ("TITLE", "title"),
        ("STRING", '"x"'),
    ]


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet='"\\\na #', max_size=24))
def test_string_terminal_matches_what_the_old_one_matched(tail: str) -> None:
    for text in (tail, '"' + tail, '"""' + tail):
        assert match_end(new_string(), text) == match_end(OLD_STRING, text), repr(text)


# ---------------------------------------------------------------------------- no pickle


def test_loading_the_parser_uses_no_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("pickle used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    parser = tables.load_parser()
    assert parser.parse('trial "NCT1"\n').data == "start"


def test_a_planted_cache_in_the_temp_folder_is_never_read(tmp_path: Path) -> None:
    """A fresh process with a malicious lark cache file in its temp folder checks a rule file:
    nothing in the temp folder is opened and nothing is unpickled."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    planted = pickle.dumps(Payload())
    for name in (".lark_cache_root_0_3_11.tmp", ".lark_cache.tmp", "criteria.pickle"):
        (temp / name).write_bytes(b"0" * 64 + b"\n" + planted)
    script = textwrap.dedent(
        """
        import os, pickle, sys, tempfile
        temp = os.path.realpath(tempfile.gettempdir())
        opened = []
        def audit(event, args):
            if event == "open" and isinstance(args[0], str):
                if os.path.realpath(args[0]).startswith(temp + os.sep):
                    opened.append(args[0])
            if event == "pickle.find_class":
                opened.append("unpickled " + repr(args))
        sys.addaudithook(audit)
        def refuse(*a, **k):
            raise AssertionError("pickle used")
        pickle.load = pickle.loads = refuse
        from criteria_lang.cli.main import main
        code = main(["check", sys.argv[1]])
        assert not opened, opened
        sys.exit(code)
        """
    )
    env = dict(os.environ, TMPDIR=str(temp), PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "rules" / "nct03562065.crit")],
        env=env,
        cwd=tmp_path,  # not the checkout: the package comes from PYTHONPATH
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


def test_stale_tables_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables from another grammar: a warning, and the parser is built from the grammar."""
    built: list[bool] = []

    def fake_build(**kwargs: object) -> str:
        built.append(True)
        return "built"

    monkeypatch.setattr(tables, "grammar_sha256", lambda text=None: "0" * 64)
    monkeypatch.setattr(tables, "build_parser", fake_build)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tables.load_parser() == "built"  # type: ignore[comparison-overlap]
    assert built == [True]
    assert any(issubclass(w.category, tables.StaleTablesWarning) for w in caught)
    assert tables.main(["--check"]) == 1

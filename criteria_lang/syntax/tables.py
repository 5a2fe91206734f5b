"""The parser of `criteria.lark`, generated ahead of time and loaded as plain data.

Building an LALR parser from the grammar (the tables, then lark's check that no two terminals
collide) takes seconds. So the parser is built once, by the developer who changes the grammar:

    python -m criteria_lang.syntax.tables           # rewrite criteria_lang/syntax/parser.json
    python -m criteria_lang.syntax.tables --check   # exit 1 when the file is out of date

and shipped in the package beside the grammar as JSON (lark's own serialization, which only
instantiates lark's grammar and table classes). Loading it takes milliseconds, reads nothing but
that file (through `importlib.resources`, so it works from a wheel or a zip), writes nothing, and
never unpickles: lark's `cache=True` kept a pickle in the shared temp folder under a predictable
name, and loaded whatever file had that name.

The file records the SHA-256 of the grammar it was built from. When the grammar was edited and
the file not regenerated (in a checkout), `load_parser` warns and builds the parser from the
grammar in memory, so the program stays right, only slower; tests/test_parser_tables.py fails
until the file is regenerated.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

import lark
from lark.grammar import Rule
from lark.lark import _LOAD_ALLOWED_OPTIONS
from lark.lexer import BasicLexer, CallChain, ContextualLexer, Scanner, TerminalDef, _create_unless

from criteria_lang.core.generated import generator_main

__all__ = [
    "TABLES_FILE",
    "StaleTablesWarning",
    "build_parser",
    "grammar_sha256",
    "grammar_text",
    "load_parser",
    "tables_json",
]

PACKAGE = "criteria_lang.syntax"
GRAMMAR_FILE = "criteria.lark"
TABLES_FILE = "parser.json"
FORMAT = 1
# JSON object keys are strings; lark's tables are maps keyed by integers (states, memo ids).
# Such a map is written as {INT_KEYS: [[key, value], ...]}.
_INT_KEYS = "<int-keys>"

LexerCallbacks = Mapping[str, Callable[[lark.Token], lark.Token]]


class StaleTablesWarning(UserWarning):
    """parser.json was built from another grammar than criteria.lark."""


def grammar_text() -> str:
    return resources.files(PACKAGE).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


def grammar_sha256(text: str | None = None) -> str:
    return hashlib.sha256((grammar_text() if text is None else text).encode("utf-8")).hexdigest()


def build_parser(
    *, strict: bool = False, lexer_callbacks: LexerCallbacks | None = None
) -> lark.Lark:
    """The parser, built from the grammar (seconds). `strict=True` makes a collision between
    two terminals an error (the test suite and the generator build it so)."""
    return lark.Lark(
        grammar_text(),
        parser="lalr",
        strict=strict,
        propagate_positions=True,
        maybe_placeholders=False,
        lexer_callbacks=dict(lexer_callbacks or {}),
    )


def tables_json(parser: lark.Lark, sha256: str) -> str:
    """`parser` as the JSON text of parser.json."""
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    # As lark's own save(): options that are given again at load time are not stored (they
    # hold functions).
    data["options"] = {
        name: value for name, value in data["options"].items() if name not in _LOAD_ALLOWED_OPTIONS
    }
    document = {
        "format": FORMAT,
        "grammar_sha256": sha256,
        "lark_version": lark.__version__,
        "data": _encode(data),
        "memo": _encode(memo),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        if any(not isinstance(key, str) for key in value):
            return {_INT_KEYS: [[key, _encode(item)] for key, item in value.items()]}
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def _decode_object(pairs: dict[str, Any]) -> Any:
    if len(pairs) == 1 and _INT_KEYS in pairs:
        return {key: item for key, item in pairs[_INT_KEYS]}
    return pairs


class _OneByOneScanner(Scanner):
    """Matches the terminals of a lexer state one after another, in lark's order.

    lark's Scanner compiles one alternation of all the terminals a parser state accepts, afresh
    for each of the ~70 states a file meets: a third of the time of the first compile, as the
    keyword-excluding NAME pattern is compiled again into each. An alternation takes its first
    alternative that matches, so trying each terminal's own pattern in the same order yields the
    same token; and each pattern is compiled once per process (`re` keeps it).
    """

    def _build_mres(self, terminals: list[TerminalDef], max_size: int) -> list[Any]:
        flags = self.g_regex_flags
        return [
            self.re_.compile(f"(?P<{t.name}>{t.pattern.to_regexp()})", flags) for t in terminals
        ]


class _OneByOneBasicLexer(BasicLexer):
    def _build_scanner(self) -> Scanner:
        # lark's BasicLexer._build_scanner, with the scanner above.
        terminals, self.callback = _create_unless(  # type: ignore[no-untyped-call]
            self.terminals, self.g_regex_flags, self.re, self.use_bytes
        )
        for name, function in self.user_callbacks.items():
            if name in self.callback:
                self.callback[name] = CallChain(  # type: ignore[no-untyped-call]
                    self.callback[name], function, lambda t, name=name: t.type == name
                )
            else:
                self.callback[name] = function
        scanner: Scanner = _OneByOneScanner(  # type: ignore[no-untyped-call]
            terminals, self.g_regex_flags, self.re, self.use_bytes
        )
        return scanner


class _OneByOneContextualLexer(ContextualLexer):
    BasicLexer = _OneByOneBasicLexer


def load_parser(lexer_callbacks: LexerCallbacks | None = None) -> lark.Lark:
    """The parser from parser.json; built from the grammar if that file is stale or missing."""
    callbacks = dict(lexer_callbacks or {})
    reason = None
    try:
        text = resources.files(PACKAGE).joinpath(TABLES_FILE).read_text(encoding="utf-8")
        document = json.loads(text, object_hook=_decode_object)
    except (OSError, ValueError) as error:
        reason = f"cannot read {TABLES_FILE} ({error})"
    else:
        if document.get("format") != FORMAT:
            reason = f"{TABLES_FILE} has format {document.get('format')!r}, not {FORMAT}"
        elif document.get("grammar_sha256") != grammar_sha256():
            reason = f"{TABLES_FILE} was generated from another version of {GRAMMAR_FILE}"
        else:
            # lark's documented loader for its serialized form (what its standalone tool uses)
            parser: lark.Lark = lark.Lark._load_from_dict(  # type: ignore[no-untyped-call]
                document["data"],
                document["memo"],
                propagate_positions=True,
                lexer_callbacks=callbacks,
                _plugins={"ContextualLexer": _OneByOneContextualLexer},
            )
            return parser
    warnings.warn(
        f"{reason}: building the parser from the grammar (slow); "
        f"run `python -m criteria_lang.syntax.tables` to regenerate it",
        StaleTablesWarning,
        stacklevel=2,
    )
    return build_parser(lexer_callbacks=callbacks)


def _recorded_sha256(text: str) -> str | None:
    try:
        found = json.loads(text).get("grammar_sha256")
    except ValueError:
        return None
    return found if isinstance(found, str) else None


def main(argv: Sequence[str] | None = None) -> int:
    return generator_main(
        argv,
        module=f"{PACKAGE}.tables",
        target=(PACKAGE, TABLES_FILE),
        description=f"Generate {TABLES_FILE} (the LALR parser) from {GRAMMAR_FILE}.",
        is_current=lambda text: _recorded_sha256(text) == grammar_sha256(),
        # strict: a collision between two terminals is an error here, once, not at every run.
        generate=lambda: tables_json(build_parser(strict=True), grammar_sha256()),
    )


if __name__ == "__main__":
    sys.exit(main())

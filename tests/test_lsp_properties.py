"""The language server's answers on any buffer, and its position arithmetic.

Arbitrary edits of a seed rule file (text typed, deleted, pasted, quotes and brackets left open,
non-ASCII characters) never make the analysis or a feature raise; offsets and LSP positions
convert both ways in every encoding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria_lang.lsp.adapter import analyse
from criteria_lang.lsp.completion import complete
from criteria_lang.lsp.features import Document, definition, document_symbols, hover, references
from criteria_lang.lsp.positions import LineIndex, code_units

ROOT = Path(__file__).resolve().parent.parent
SEED_PATH = str((ROOT / "rules" / "nct03562065.crit").resolve())
SEED = Path(SEED_PATH).read_text(encoding="utf-8")

# Pieces that matter to the language, and characters that are hard for positions.
PIECES = st.sampled_from(
    [
        "labs.",
        "labs.creatinine",
        " and ",
        " or ",
        "(",
        ")",
        '"',
        '"""',
        ":",
        "\n",
        "\r\n",
        "\r",
        "≥",
        "µ",
        "𝛍",
        "é",
        "#",
        " > 2 mg/dL",
        "1:80",
        "10^9/L",
        "within 3 months before ",
        "at least 2 of (",
        "inclusion\n",
        "define x = ",
        "import ",
        "from labs import ",
        "\t",
        "\x00",
    ]
)
INSERT = st.one_of(PIECES, st.text(max_size=12))


@st.composite
def edited(draw: st.DrawFn) -> str:
    text = SEED
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + draw(st.integers(0, 400)))))
        text = text[:start] + draw(INSERT) + text[end:]
    return text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=edited(), cursors=st.lists(st.integers(0, len(SEED) + 50), min_size=1, max_size=4))
def test_any_edit_is_answered(text: str, cursors: list[int]) -> None:
    document = Document.of(analyse(text, SEED_PATH))
    document_symbols(document)
    for cursor in cursors:
        offset = min(cursor, len(text))
        hover(document, offset)
        definition(document, offset)
        references(document, offset, [], include_declaration=True)
        complete(document.analysis, text, offset, SEED_PATH)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab≥µ𝛍é\r\n\t\"'"), max_size=40),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]),
)
def test_offsets_and_positions_round_trip(text: str, encoding: str) -> None:
    lines = LineIndex(text, encoding)  # type: ignore[arg-type]
    for offset in range(len(text) + 1):
        line, character = lines.position(offset)
        back = lines.offset(line, character)
        if text[offset - 1 : offset + 1] == "\r\n":
            assert back == offset - 1  # between \r and \n: the end of the line
        else:
            assert back == offset
        prefix = text[lines.starts[line] : back]
        assert character == code_units(prefix, encoding)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "offset", "utf16", "utf8"),
    [
        ("≥ x", 2, (0, 2), (0, 4)),  # ≥ is one UTF-16 unit, three UTF-8 bytes
        ("µmol x", 5, (0, 5), (0, 6)),
        ("𝛍 x", 2, (0, 3), (0, 5)),  # outside the BMP: a surrogate pair, four UTF-8 bytes
        ("a\r\nb≥c", 5, (1, 2), (1, 4)),
        ("a\rb", 2, (1, 0), (1, 0)),
    ],
)
def test_positions_of_non_ascii(
    text: str, offset: int, utf16: tuple[int, int], utf8: tuple[int, int]
) -> None:
    assert LineIndex(text, "utf-16").position(offset) == utf16
    assert LineIndex(text, "utf-8").position(offset) == utf8
    assert LineIndex(text, "utf-16").offset(*utf16) == offset


def test_positions_past_the_end_are_clamped() -> None:
    lines = LineIndex("ab\ncd", "utf-16")
    assert lines.offset(0, 99) == 2
    assert lines.offset(9, 0) == 5
    assert lines.offset(-1, 0) == 0
    assert lines.offset(0, 0) == 0
    # inside a surrogate pair: the character's start
    assert LineIndex("𝛍x", "utf-16").offset(0, 1) == 0


def test_without_pygls_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from criteria_lang.cli.main import main

    monkeypatch.delitem(sys.modules, "criteria_lang.lsp.server", raising=False)
    monkeypatch.setitem(sys.modules, "pygls.lsp.server", None)  # as if not installed
    assert main(["lsp"]) == 2
    assert "pip install 'criteria-lang[lsp]'" in capsys.readouterr().err


def test_the_cli_does_not_import_the_server() -> None:
    import subprocess
    import sys

    code = (
        "import sys, criteria_lang.cli.main\n"
        "heavy = ('pygls', 'lsprotocol', 'pygments', 'criteria_lang.lsp')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

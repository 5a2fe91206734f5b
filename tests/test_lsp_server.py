"""`criteria lsp` driven as an editor drives it: the real command, over stdio (pytest-lsp).

The client announces VS Code's capabilities (UTF-16 positions) unless a test says otherwise.
Expected positions are computed here from the text, independently of the server's converter.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from criteria_lang.tools.fmt import format_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "rules" / "nct03562065.crit"
LABS = ROOT / "criteria_lang" / "stdlib" / "labs.crit"
CRITERIA = shutil.which("criteria", path=str(Path(sys.executable).parent)) or "criteria"

pytestmark = pytest.mark.asyncio(loop_scope="module")


def server_config() -> ClientServerConfig:
    return ClientServerConfig(server_command=[CRITERIA, "lsp", "--stdio"])


async def start(client: LanguageClient, editor: str) -> None:
    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities(editor),
            root_uri=ROOT.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=ROOT.as_uri(), name="criteria-lang")],
        )
    )


@pytest_lsp.fixture(config=server_config(), scope="module")  # type: ignore[untyped-decorator]
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await start(lsp_client, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=server_config(), scope="module")  # type: ignore[untyped-decorator]
async def neovim(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await start(lsp_client, "neovim@v0.11.0")  # asks for UTF-8 positions first
    yield
    await lsp_client.shutdown_session()


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def position_of(text: str, needle: str, units: str = "utf-16", after: int = 0) -> lsp.Position:
    offset = text.index(needle, after)
    line = text.count("\n", 0, offset)
    before = text[text.rfind("\n", 0, offset) + 1 : offset]
    if units == "utf-8":
        return lsp.Position(line, len(before.encode("utf-8")))
    return lsp.Position(line, utf16(before))


def range_of(text: str, needle: str, units: str = "utf-16", after: int = 0) -> lsp.Range:
    start = position_of(text, needle, units, after)
    return lsp.Range(start, lsp.Position(start.line, start.character + len(needle)))


async def published(
    client: LanguageClient, uri: str, predicate: Callable[[list[lsp.Diagnostic]], bool]
) -> list[lsp.Diagnostic]:
    """Wait (up to 60 s) for diagnostics of `uri` that satisfy `predicate`."""

    async def wait() -> list[lsp.Diagnostic]:
        while uri not in client.diagnostics or not predicate(list(client.diagnostics[uri])):
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(client.diagnostics[uri])

    return await asyncio.wait_for(wait(), 60)


async def open_document(
    client: LanguageClient, text: str, name: str, version: int = 1
) -> tuple[str, list[lsp.Diagnostic]]:
    """Open a document (each test its own name) and wait for its first diagnostics."""
    uri = (ROOT / "rules" / name).as_uri()
    assert uri not in client.diagnostics
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "criteria", version, text))
    )
    return uri, await published(client, uri, lambda _: True)


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    """Send the document's new text (as a whole)."""
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


# A line with characters of one, two (the mathematical µ, U+1D6CD) and three UTF-8 bytes before
# each mistake: positions must count UTF-16 code units, not characters or bytes.
THREE_MISTAKES = """trial "NCT0"
  dates screening, baseline
  index baseline

import labs

inclusion
  I1 "Creatinine ≥ 1.5 𝛍mol, µ": latest lab labs.creatinine at baseline > 1.5 mmHg
  I2 "Éligible ≥ 18": latest lab labs.creatinin at baseline > 1 mg/dL
  I3 "≥": age at screning >= 18 years
"""


async def test_three_mistakes_three_diagnostics_at_their_ranges(client: LanguageClient) -> None:
    uri, diagnostics = await open_document(client, THREE_MISTAKES, "three_mistakes.crit")
    by_code = {str(d.code): d for d in diagnostics}
    assert sorted(by_code) == ["C200", "C201", "C301"], diagnostics
    assert by_code["C301"].range == range_of(THREE_MISTAKES, "1.5 mmHg")  # the quantity
    second = THREE_MISTAKES.index("I2")
    assert by_code["C200"].range == range_of(THREE_MISTAKES, "labs.creatinin", after=second)
    assert by_code["C201"].range == range_of(THREE_MISTAKES, "screning")
    assert all(d.severity == lsp.DiagnosticSeverity.Error for d in diagnostics)
    assert "did you mean 'labs.creatinine'" in by_code["C200"].message


async def test_quick_fixes_correct_the_unit_and_the_name(client: LanguageClient) -> None:
    uri, diagnostics = await open_document(client, THREE_MISTAKES, "quick_fixes.crit")
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri),
            lsp.Range(lsp.Position(0, 0), lsp.Position(12, 0)),
            lsp.CodeActionContext(diagnostics=diagnostics),
        )
    )
    assert actions is not None
    titles = sorted(a.title for a in actions if isinstance(a, lsp.CodeAction))
    assert titles == [
        "Change 'labs.creatinin' to 'labs.creatinine'",
        "Change 'mmHg' to 'mg/dL'",
        "Change 'screning' to 'screening'",
    ]
    text = THREE_MISTAKES
    edits = [
        e
        for a in actions
        if isinstance(a, lsp.CodeAction) and a.edit and a.edit.changes
        for e in a.edit.changes[uri]
    ]
    lines = text.split("\n")
    for edit in sorted(
        edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
    ):
        line = lines[edit.range.start.line]
        units = line.encode("utf-16-le")
        start, end = edit.range.start.character * 2, edit.range.end.character * 2
        lines[edit.range.start.line] = (
            units[:start].decode("utf-16-le") + edit.new_text + units[end:].decode("utf-16-le")
        )
    fixed = "\n".join(lines)
    change(client, uri, 2, fixed)
    assert await published(client, uri, lambda found: not found) == []
    assert "> 1.5 mg/dL" in fixed and "labs.creatinine at baseline > 1 mg/dL" in fixed


async def test_the_issue_check(client: LanguageClient) -> None:
    """Open the seed file with a unit error and a misspelt concept: both diagnostics, a hover
    with codes, a definition in stdlib/labs.crit, unit completions for labs.creatinine."""
    seed = SEED.read_text(encoding="utf-8")
    text = seed.replace(
        "labs.pao2 within 3 months before screening < 70 mmHg",
        "labs.pao2 within 3 months before screening < 70 mg/dL",
    )
    text = text.replace("labs.paco2 within", "labs.paco within")
    assert text.count("< 70 mg/dL") == 1 and "labs.paco " in text
    uri, diagnostics = await open_document(client, text, SEED.name)
    errors = {str(d.code): d for d in diagnostics if d.severity == lsp.DiagnosticSeverity.Error}
    assert sorted(errors) == ["C200", "C301"]
    assert errors["C301"].range == range_of(text, "70 mg/dL")
    assert errors["C200"].range == range_of(text, "labs.paco", after=text.index("labs.paco "))

    hover = await client.text_document_hover_async(
        lsp.HoverParams(lsp.TextDocumentIdentifier(uri), position_of(text, "pao2 within"))
    )
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert "LOINC 2703-7" in hover.contents.value and "mmHg" in hover.contents.value

    definition = await client.text_document_definition_async(
        lsp.DefinitionParams(lsp.TextDocumentIdentifier(uri), position_of(text, "pao2 within"))
    )
    assert isinstance(definition, list) and len(definition) == 1
    assert definition[0].uri == LABS.resolve().as_uri()
    labs = LABS.read_text(encoding="utf-8")
    assert definition[0].range == range_of(labs, "pao2", after=labs.index("lab pao2"))

    typed = text.replace(
        "  E6 ",
        '  E5b "x":\n    latest lab labs.creatinine within 3 months before screening > 2 \n\n  E6 ',
        1,
    )
    change(client, uri, 2, typed)
    cursor = position_of(typed, " \n\n  E6 ")
    cursor = lsp.Position(cursor.line, cursor.character + 1)
    completion = await client.text_document_completion_async(
        lsp.CompletionParams(lsp.TextDocumentIdentifier(uri), cursor)
    )
    assert isinstance(completion, lsp.CompletionList)
    labels = [i.label for i in completion.items]
    assert labels[0] == "mg/dL"  # the declared unit first
    assert {"mg/dL", "g/L", "umol/L"} <= set(labels)
    assert "mmHg" not in labels and "mL/min" not in labels
    assert all(i.kind == lsp.CompletionItemKind.Unit for i in completion.items)


async def test_hover_definition_references_on_a_seed_file(client: LanguageClient) -> None:
    text = SEED.read_text(encoding="utf-8")
    uri, diagnostics = await open_document(client, text, "seed_copy.crit", version=10)
    assert not [d for d in diagnostics if d.severity == lsp.DiagnosticSeverity.Error]
    ident = lsp.TextDocumentIdentifier(uri)

    hover = await client.text_document_hover_async(lsp.HoverParams(ident, position_of(text, "I3 ")))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert "SLEDAI SLE activity index ≥ 6 at baseline" in hover.contents.value

    hover = await client.text_document_hover_async(
        lsp.HoverParams(ident, position_of(text, "mL/min\n"))
    )
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert "volume / time" in hover.contents.value

    hover = await client.text_document_hover_async(
        lsp.HoverParams(ident, position_of(text, "screening", after=text.index("inclusion")))
    )
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert "trial date `screening`" in hover.contents.value and "line 8" in hover.contents.value

    # a local definition
    use = position_of(text, "mycophenolate_failure,")
    found = await client.text_document_definition_async(lsp.DefinitionParams(ident, use))
    assert isinstance(found, list) and found[0].uri == uri
    assert found[0].range == range_of(text, "mycophenolate_failure")

    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            context=lsp.ReferenceContext(include_declaration=True),
            text_document=ident,
            position=use,
        )
    )
    assert refs is not None
    assert sorted(r.range.start.line for r in refs if r.uri == uri) == [
        position_of(text, "mycophenolate_failure").line,
        use.line,
    ]


async def test_completion_of_modules_members_dates_and_keywords(client: LanguageClient) -> None:
    text = 'trial "NCT0"\n  dates screening, baseline\n\nimport \n'
    uri, _ = await open_document(client, text, "completion.crit")
    ident = lsp.TextDocumentIdentifier(uri)

    async def labels(at: lsp.Position) -> list[str]:
        result = await client.text_document_completion_async(lsp.CompletionParams(ident, at))
        assert isinstance(result, lsp.CompletionList)
        return [i.label for i in result.items]

    assert {"labs", "drugs", "conditions"} <= set(await labels(lsp.Position(3, 7)))
    body = text.replace("import \n", 'import labs\n\ninclusion\n  I1 "x": lab labs.\n')
    change(client, uri, 2, body)
    members = await labels(lsp.Position(6, 19))
    assert "creatinine" in members and "egfr" in members
    dated = body.replace("lab labs.", "age at ")
    change(client, uri, 3, dated)
    found = await labels(lsp.Position(6, 17))
    assert found[:2] == ["screening", "baseline"]
    everywhere = await labels(lsp.Position(6, 10))
    assert {"latest", "within", "rxnorm", "labs"} <= set(everywhere)


async def test_document_symbols_and_formatting(client: LanguageClient) -> None:
    text = SEED.read_text(encoding="utf-8")
    uri, _ = await open_document(client, text, "symbols_" + SEED.name)
    ident = lsp.TextDocumentIdentifier(uri)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(ident))
    assert symbols is not None
    by_name = {s.name: s for s in symbols if isinstance(s, lsp.DocumentSymbol)}
    assert len(by_name["inclusion"].children or []) == 9
    assert len(by_name["exclusion"].children or []) == 16
    assert by_name["mycophenolate_failure"].kind == lsp.SymbolKind.Function
    assert by_name["sle_treatment"].kind == lsp.SymbolKind.Constant
    assert by_name["trial NCT03562065"].kind == lsp.SymbolKind.Namespace

    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(ident, options)
    )
    assert edits is not None and not edits  # the seed file is formatted already
    messy = text.replace(
        '  I8 "Signed Informed Consent.":\n    fact', '  I8   "Signed Informed Consent."  :   fact'
    )
    change(client, uri, 2, messy)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(ident, options)
    )
    assert edits is not None and len(edits) == 1
    assert edits[0].new_text == format_text(messy) == text


async def test_changes_are_debounced_and_broken_buffers_answered(client: LanguageClient) -> None:
    text = SEED.read_text(encoding="utf-8")
    uri, _ = await open_document(client, text, "broken.crit")
    ident = lsp.TextDocumentIdentifier(uri)
    broken = text[: len(text) // 2] + ' ( ≥ "unterminated\n  ))) labs. at least of ('
    last = broken.replace("ever before screening", "ever before screnning", 1)
    for version in range(2, 12):  # a burst of typing: only the last text is published
        change(client, uri, version, broken[: len(broken) - 11 + version] if version < 11 else last)
    found = await published(client, uri, lambda found: any(d.code == "C201" for d in found))
    assert any(d.code in ("C100", "C101", "C102", "C103") for d in found)
    await asyncio.sleep(3 * 0.3)  # no publication of an older text comes after it
    assert any(d.code == "C201" for d in client.diagnostics[uri])
    broken = last
    end = lsp.Position(broken.count("\n"), 10)
    for request in (
        client.text_document_hover_async(lsp.HoverParams(ident, end)),
        client.text_document_definition_async(lsp.DefinitionParams(ident, end)),
        client.text_document_completion_async(lsp.CompletionParams(ident, end)),
        client.text_document_document_symbol_async(lsp.DocumentSymbolParams(ident)),
        client.text_document_formatting_async(
            lsp.DocumentFormattingParams(ident, lsp.FormattingOptions(2, True))
        ),
    ):
        await request  # answered (formatting: None, the file does not parse)
    hover = await client.text_document_hover_async(
        lsp.HoverParams(ident, position_of(broken, "I3 "))
    )
    assert hover is not None  # what still parses is still understood


async def test_utf8_positions_for_a_client_that_asks(neovim: LanguageClient) -> None:
    uri, diagnostics = await open_document(neovim, THREE_MISTAKES, "utf8.crit")
    by_code = {str(d.code): d for d in diagnostics}
    assert by_code["C301"].range == range_of(THREE_MISTAKES, "1.5 mmHg", units="utf-8")
    assert by_code["C201"].range == range_of(THREE_MISTAKES, "screning", units="utf-8")


async def test_references_reach_the_workspace_rule_files(client: LanguageClient) -> None:
    text = THREE_MISTAKES.replace("labs.creatinin ", "labs.creatinine ")
    uri, _ = await open_document(client, text, "workspace_refs.crit")
    use = position_of(text, "creatinine at baseline > 1.5")
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            context=lsp.ReferenceContext(include_declaration=True),
            text_document=lsp.TextDocumentIdentifier(uri),
            position=use,
        )
    )
    assert refs is not None
    files = {Path(r.uri).name for r in refs}
    assert {"workspace_refs.crit", "labs.crit", "nct05631717.crit"} <= files
    other = (ROOT / "rules" / "nct05631717.crit").read_text(encoding="utf-8")
    lines = other.split("\n")
    for ref in refs:
        if ref.uri.endswith("nct05631717.crit"):
            line = lines[ref.range.start.line]
            assert line[ref.range.start.character : ref.range.end.character] == "creatinine"


def apply_change(text: str, change: lsp.TextDocumentContentChangePartial) -> str:
    """Apply an incremental change as an editor does (UTF-16 positions)."""

    def offset(position: lsp.Position) -> int:
        lines = text.split("\n")
        before = sum(len(line) + 1 for line in lines[: position.line])
        units = lines[position.line].encode("utf-16-le")[: position.character * 2]
        return before + len(units.decode("utf-16-le"))

    start, end = offset(change.range.start), offset(change.range.end)
    return text[:start] + change.text + text[end:]


async def test_random_incremental_edits_keep_the_server_in_step(client: LanguageClient) -> None:
    """Random typing, deleting and pasting as incremental changes, with requests in between:
    every request is answered, and the last diagnostics are those of the text the editor has."""
    import random

    from criteria_lang.lsp.adapter import analyse

    chooser = random.Random(17)
    text = SEED.read_text(encoding="utf-8")
    uri, _ = await open_document(client, text, "incremental.crit")
    ident = lsp.TextDocumentIdentifier(uri)
    pieces = ["labs.", " and ", "(", ")", '"', ":", "\n", "≥", "µ", "𝛍", "# x", " > 2 mg/dL", ""]
    for version in range(2, 42):
        lines = text.split("\n")
        line = chooser.randrange(len(lines))
        chars = lines[line]
        a, b = sorted(chooser.randrange(len(chars) + 1) for _ in range(2))
        start = lsp.Position(line, utf16(chars[:a]))
        end = lsp.Position(line, utf16(chars[:b]))
        edit = lsp.TextDocumentContentChangePartial(
            range=lsp.Range(start, end), text=chooser.choice(pieces)
        )
        text = apply_change(text, edit)
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=version), [edit]
            )
        )
        if version % 5 == 0:
            await client.text_document_hover_async(lsp.HoverParams(ident, start))
            await client.text_document_completion_async(lsp.CompletionParams(ident, end))
    expected = [
        d.code
        for d in analyse(text, str((ROOT / "rules" / "incremental.crit").resolve())).diagnostics
    ]
    found = await published(client, uri, lambda ds: [d.code for d in ds] == expected)
    assert [d.code for d in found] == expected

"""`criteria lsp`: the Language Server Protocol over stdio, on pygls.

This module is the only one that speaks LSP: it keeps the open documents' analyses, turns the
plain answers of features.py and completion.py into lsprotocol types, and converts positions
(positions.py). Diagnostics are published on open and on save at once, and on change after a
pause in typing (`DEBOUNCE_SECONDS`). Compiling runs in one worker thread, so the server keeps
reading messages while it works and never compiles two documents at once.

A request never fails because of what a document holds: the analysis and every feature are
tested on arbitrary edits (tests/test_lsp_properties.py); should one still raise, the request
answers "nothing" and the error goes to the log (stderr), not to the editor.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import attrs
from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from criteria_lang.core.diagnostics import Diagnostic
from criteria_lang.lsp import features
from criteria_lang.lsp.adapter import Analysis, analyse, format_document
from criteria_lang.lsp.completion import Item, complete
from criteria_lang.lsp.features import Document, Location, Symbol
from criteria_lang.lsp.positions import Encoding, LineIndex

DEBOUNCE_SECONDS = 0.3
MAX_WORKSPACE_FILES = 200  # rule files read for "find references" beyond the open documents
log = logging.getLogger("criteria.lsp")
T = TypeVar("T")

_SEVERITY = {
    "error": lsp.DiagnosticSeverity.Error,
    "warning": lsp.DiagnosticSeverity.Warning,
    "info": lsp.DiagnosticSeverity.Information,
}
_COMPLETION_KIND = {
    "module": lsp.CompletionItemKind.Module,
    "concept": lsp.CompletionItemKind.Constant,
    "definition": lsp.CompletionItemKind.Function,
    "date": lsp.CompletionItemKind.Event,
    "unit": lsp.CompletionItemKind.Unit,
    "keyword": lsp.CompletionItemKind.Keyword,
    "value": lsp.CompletionItemKind.Value,
    "outcome": lsp.CompletionItemKind.Event,
}
_SYMBOL_KIND = {
    "trial": lsp.SymbolKind.Namespace,
    "date": lsp.SymbolKind.Event,
    "import": lsp.SymbolKind.Module,
    "concept": lsp.SymbolKind.Constant,
    "definition": lsp.SymbolKind.Function,
    "section": lsp.SymbolKind.Namespace,
    "criterion": lsp.SymbolKind.Boolean,
    "outcome": lsp.SymbolKind.Event,
}


@attrs.define(eq=False)
class Open:
    """An open document's last analysis, of the text at `version`."""

    version: int | None
    document: Document


class CriteriaServer(LanguageServer):
    def __init__(self) -> None:
        try:
            version = metadata.version("criteria-lang")
        except metadata.PackageNotFoundError:
            version = "unknown"
        super().__init__("criteria-lsp", version)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="criteria-compile")
        self.open: dict[str, Open] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.files: dict[str, tuple[float, Document]] = {}  # closed rule files, by mtime

    # ------------------------------------------------------------------ documents
    @property
    def encoding(self) -> Encoding:
        chosen = str(self.workspace.position_encoding or "utf-16").lower()
        return chosen if chosen in ("utf-8", "utf-32") else "utf-16"  # type: ignore[return-value]

    def lines(self, text: str) -> LineIndex:
        return LineIndex(text, self.encoding)

    async def compile(self, text: str, path: str) -> Document:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker, _document, text, path)

    async def document(self, uri: str) -> Document:
        """The analysis of the document's current text (compiled now if it is stale)."""
        doc = self.workspace.get_text_document(uri)
        known = self.open.get(uri)
        if known is not None and known.version == doc.version and doc.version is not None:
            return known.document
        document = await self.compile(doc.source, path_of(uri))
        self.open[uri] = Open(doc.version, document)
        return document

    async def publish(self, uri: str) -> None:
        doc = self.workspace.get_text_document(uri)
        version = doc.version
        document = await self.document(uri)
        if self.workspace.get_text_document(uri).version != version:
            return  # edited meanwhile: the newer text will be published
        lines = self.lines(document.analysis.text)
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(
                uri=uri,
                version=version,
                diagnostics=[to_lsp_diagnostic(d, lines) for d in document.analysis.diagnostics],
            )
        )

    def schedule(self, uri: str, delay: float) -> None:
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()

        async def later() -> None:
            await asyncio.sleep(delay)
            await guarded(self.publish(uri), None)

        self.pending[uri] = asyncio.ensure_future(later())

    def text_of(self, path: str) -> str | None:
        for uri, known in self.open.items():
            if known.document.path == path:
                return self.workspace.get_text_document(uri).source
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def location(self, location: Location) -> lsp.Location | None:
        text = self.text_of(location.path)
        if text is None:
            return None
        lines = self.lines(text)
        return lsp.Location(
            from_fs_path(location.path) or location.path,
            to_range(lines, location.start, location.end),
        )

    async def workspace_documents(self, exclude: str, word: str) -> list[Document]:
        """The other open documents and the workspace's rule files that contain `word` (the
        closed ones compiled once per modification)."""
        out = [o.document for uri, o in self.open.items() if uri != exclude]
        seen = {d.path for d in out} | {path_of(exclude)}
        for path in self.workspace_rule_files():
            if path in seen:
                continue
            try:
                mtime = os.stat(path).st_mtime
                cached = self.files.get(path)
                if cached is None or cached[0] != mtime:
                    text = Path(path).read_text(encoding="utf-8")
                    if word not in text:
                        continue  # cannot refer to it: not worth compiling
                    cached = (mtime, await self.compile(text, path))
                    self.files[path] = cached
            except (OSError, UnicodeDecodeError):
                continue
            out.append(cached[1])
        return out

    def workspace_rule_files(self) -> list[str]:
        roots = [path_of(f.uri) for f in self.workspace.folders.values()]
        if not roots and self.workspace.root_path:
            roots = [self.workspace.root_path]
        found: list[str] = []
        for root in roots:
            for folder, subfolders, names in os.walk(root):
                subfolders[:] = sorted(
                    s for s in subfolders if not s.startswith(".") and s != "node_modules"
                )
                found += [
                    str(Path(folder, n).resolve()) for n in sorted(names) if n.endswith(".crit")
                ]
                if len(found) >= MAX_WORKSPACE_FILES:
                    return found[:MAX_WORKSPACE_FILES]
        return found


def _document(text: str, path: str) -> Document:
    return Document.of(analyse(text, path))


def path_of(uri: str) -> str:
    """The file a URI names, resolved as the checker resolves imported modules; an untitled
    buffer gets a `<...>` name (no file, no local stdlib/ folder)."""
    path = to_fs_path(uri)
    if path is None or not uri.startswith("file:"):
        return f"<{uri}>"
    return str(Path(path).resolve())


async def guarded(work: Awaitable[T], default: T) -> T:
    """Run a request's work; an exception is logged and answered with `default`."""
    try:
        return await work
    except asyncio.CancelledError:
        raise
    except Exception:  # a bug must not take the editor's session down
        log.exception("request failed")
        return default


# ---------------------------------------------------------------------------- conversions


def to_range(lines: LineIndex, start: int, end: int) -> lsp.Range:
    (l1, c1), (l2, c2) = lines.position(start), lines.position(end)
    return lsp.Range(lsp.Position(l1, c1), lsp.Position(l2, c2))


def to_lsp_diagnostic(diagnostic: Diagnostic, lines: LineIndex) -> lsp.Diagnostic:
    span = diagnostic.span
    end = span.end if span.end > span.start else span.start + 1
    edits = [
        {
            "range": _range_json(to_range(lines, e.span.start, e.span.end)),
            "newText": e.text,
        }
        for e in diagnostic.edits
    ]
    return lsp.Diagnostic(
        range=to_range(lines, span.start, end),
        message=diagnostic.message + (f"\n= help: {diagnostic.fix}" if diagnostic.fix else ""),
        severity=_SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        source="criteria",
        data={"fix": diagnostic.fix, "edits": edits} if edits else None,
    )


def _range_json(r: lsp.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def _range_from_json(data: Any) -> lsp.Range:
    start, end = data["start"], data["end"]
    return lsp.Range(
        lsp.Position(int(start["line"]), int(start["character"])),
        lsp.Position(int(end["line"]), int(end["character"])),
    )


def to_completion(item: Item, lines: LineIndex, offset: int) -> lsp.CompletionItem:
    return lsp.CompletionItem(
        label=item.label,
        kind=_COMPLETION_KIND[item.kind],
        detail=item.detail or None,
        documentation=item.documentation or None,
        sort_text=f"{item.sort}{item.label}",
        filter_text=item.label,
        text_edit=lsp.TextEdit(to_range(lines, item.start, offset), item.label),
    )


def to_symbol(symbol: Symbol, lines: LineIndex) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(
        name=symbol.name,
        detail=symbol.detail or None,
        kind=_SYMBOL_KIND[symbol.kind],
        range=to_range(lines, symbol.start, symbol.end),
        selection_range=to_range(lines, symbol.name_start, symbol.name_end),
        children=[to_symbol(child, lines) for child in symbol.children] or None,
    )


def quick_fixes(
    uri: str, text: str, lines: LineIndex, params: lsp.CodeActionParams
) -> list[lsp.CodeAction]:
    """A quick fix for each diagnostic in the request that carries its fix as edits."""
    actions = []
    for diagnostic in params.context.diagnostics:
        data = diagnostic.data
        if not isinstance(data, dict) or not data.get("edits"):
            continue
        edits = [
            lsp.TextEdit(_range_from_json(e["range"]), str(e["newText"])) for e in data["edits"]
        ]
        first = edits[0]
        start = lines.offset(first.range.start.line, first.range.start.character)
        end = lines.offset(first.range.end.line, first.range.end.character)
        old = text[start:end]
        title = (
            f"Change '{old}' to '{first.new_text}'" if old else f"Insert '{first.new_text.strip()}'"
        )
        actions.append(
            lsp.CodeAction(
                title=title,
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                is_preferred=True,
                edit=lsp.WorkspaceEdit(changes={uri: edits}),
            )
        )
    return actions


# ---------------------------------------------------------------------------- the server


def build_server() -> CriteriaServer:
    server = CriteriaServer()
    _serve_documents(server)
    _serve_navigation(server)
    _serve_editing(server)
    return server


def _serve_documents(server: CriteriaServer) -> None:
    """Open, change, save, close: diagnostics are published as documents change."""

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(params: lsp.DidOpenTextDocumentParams) -> None:
        await guarded(server.publish(params.text_document.uri), None)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: lsp.DidChangeTextDocumentParams) -> None:
        server.schedule(params.text_document.uri, DEBOUNCE_SECONDS)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: lsp.DidSaveTextDocumentParams) -> None:
        server.schedule(params.text_document.uri, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        server.open.pop(uri, None)
        pending = server.pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        server.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )


def _at(
    server: CriteriaServer, document: Document, position: lsp.Position
) -> tuple[LineIndex, int]:
    """The document's line index and the offset of an LSP position in its text."""
    lines = server.lines(document.analysis.text)
    return lines, lines.offset(position.line, position.character)


def _serve_navigation(server: CriteriaServer) -> None:
    """Hover, go to definition, find references."""

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def hover(params: lsp.HoverParams) -> lsp.Hover | None:
        async def work() -> lsp.Hover | None:
            document = await server.document(params.text_document.uri)
            lines, offset = _at(server, document, params.position)
            found = features.hover(document, offset)
            if found is None:
                return None
            return lsp.Hover(
                contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=found.markdown),
                range=to_range(lines, found.start, found.end),
            )

        return await guarded(work(), None)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    async def definition(params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        async def work() -> list[lsp.Location] | None:
            document = await server.document(params.text_document.uri)
            _, offset = _at(server, document, params.position)
            found = [server.location(x) for x in features.definition(document, offset)]
            return [x for x in found if x is not None] or None

        return await guarded(work(), None)

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    async def references(params: lsp.ReferenceParams) -> list[lsp.Location] | None:
        async def work() -> list[lsp.Location] | None:
            uri = params.text_document.uri
            document = await server.document(uri)
            _, offset = _at(server, document, params.position)
            under = document.index.at(offset)
            if under is None:
                return None
            others = await server.workspace_documents(uri, under.text)
            include = params.context.include_declaration
            found = features.references(document, offset, others, include)
            located = [server.location(x) for x in found]
            return [x for x in located if x is not None] or None

        return await guarded(work(), None)


def _serve_editing(server: CriteriaServer) -> None:
    """Completion, document symbols, formatting, quick fixes."""

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["."]))
    async def completion(params: lsp.CompletionParams) -> lsp.CompletionList | None:
        async def work() -> lsp.CompletionList | None:
            uri = params.text_document.uri
            text = server.workspace.get_text_document(uri).source
            lines = server.lines(text)
            offset = lines.offset(params.position.line, params.position.character)
            known = server.open.get(uri)
            analysis: Analysis | None = known.document.analysis if known else None
            if analysis is None or not analysis.rule_file.imports:
                analysis = (await server.document(uri)).analysis
            items = complete(analysis, text, offset, path_of(uri))
            return lsp.CompletionList(
                is_incomplete=False, items=[to_completion(i, lines, offset) for i in items]
            )

        return await guarded(work(), None)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def symbols(params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
        async def work() -> list[lsp.DocumentSymbol] | None:
            document = await server.document(params.text_document.uri)
            lines = server.lines(document.analysis.text)
            return [to_symbol(s, lines) for s in features.document_symbols(document)]

        return await guarded(work(), None)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    async def formatting(params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        async def work() -> list[lsp.TextEdit] | None:
            uri = params.text_document.uri
            text = server.workspace.get_text_document(uri).source
            loop = asyncio.get_running_loop()
            formatted = await loop.run_in_executor(
                server.worker, format_document, text, path_of(uri)
            )
            if formatted is None:
                return None  # syntax errors: the diagnostics say where
            if formatted == text:
                return []
            lines = server.lines(text)
            return [lsp.TextEdit(to_range(lines, 0, len(text)), formatted)]

        return await guarded(work(), None)

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
    )
    async def code_action(params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
        async def work() -> list[lsp.CodeAction] | None:
            uri = params.text_document.uri
            text = server.workspace.get_text_document(uri).source
            return quick_fixes(uri, text, server.lines(text), params) or None

        return await guarded(work(), None)


def serve() -> None:
    """Run the server on stdin/stdout until the client says exit."""
    logging.basicConfig(level=logging.WARNING, format="criteria lsp: %(levelname)s %(message)s")
    build_server().start_io()

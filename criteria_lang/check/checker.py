"""Compiling a rule file: parse (syntax/parse.py) -> build the typed tree (syntax/build.py) ->
check it (the passes of check/passes.py) -> `CompiledRules`.

`compile_text` / `compile_file` never raise for a bad rule file: every problem is a diagnostic
(core/messages.py), and a file with errors still yields a `CompiledRules` (`ok == False`) for
tools. The lowering (plan/lower.py) turns a checked program into the plan engines run. This
module is also where tools find the results of checking: the symbols, the module scopes, the
loader of imported modules (re-exported from check/symbols.py and check/loader.py).
"""

from __future__ import annotations

from pathlib import Path

from criteria_lang.check import sources
from criteria_lang.check.context import CheckContext
from criteria_lang.check.loader import RULE_SUFFIX, Loader, rule_files, stdlib_search_path
from criteria_lang.check.passes import run
from criteria_lang.check.queries import (
    QUERY_CONCEPT_KIND,
    QUERY_KEYWORD,
    DoseShape,
    dose_shape,
    grade_domains,
    grade_order,
    is_open_class,
)
from criteria_lang.check.symbols import (
    ANY,
    BOOL,
    BuiltinSymbol,
    CompiledRules,
    ConceptSymbol,
    DefineSymbol,
    Module,
    ModuleSymbol,
    OutcomeSymbol,
    Symbol,
    TypeKind,
    ValueType,
)
from criteria_lang.core.concepts import molar_mass_of
from criteria_lang.core.diagnostics import Diagnostic
from criteria_lang.syntax import nodes as n
from criteria_lang.syntax.build import build
from criteria_lang.syntax.parse import parse_text

__all__ = [
    "ANY",
    "BOOL",
    "QUERY_CONCEPT_KIND",
    "QUERY_KEYWORD",
    "RULE_SUFFIX",
    "BuiltinSymbol",
    "CheckContext",
    "CompiledRules",
    "ConceptSymbol",
    "DefineSymbol",
    "DoseShape",
    "Loader",
    "Module",
    "ModuleSymbol",
    "OutcomeSymbol",
    "Symbol",
    "TypeKind",
    "ValueType",
    "compile_file",
    "compile_module",
    "compile_text",
    "dose_shape",
    "grade_domains",
    "grade_order",
    "is_open_class",
    "molar_mass_of",
    "rule_files",
    "stdlib_search_path",
]


def compile_module(text: str, path: str, name: str, loader: Loader) -> Module:
    """Parse, build and check one module's text; its diagnostics go to the loader."""
    loader.sources[path] = text
    tree, diagnostics = parse_text(text, path)
    if tree is None:
        rule_file = n.RuleFile(path, None, (), (), (), ())
    else:
        rule_file, built = build(tree, path)
        diagnostics.extend(built)
    module = Module(path=path, name=name, rule_file=rule_file)
    cx = CheckContext(module, loader)
    run(cx)
    loader.diagnostics.extend(diagnostics)
    loader.diagnostics.extend(cx.diagnostics)
    return module


def compile_text(
    text: str,
    path: str = "<string>",
    *,
    search_path: tuple[Path, ...] | list[Path] = (),
) -> CompiledRules:
    """Compile rule-file text. Never raises for a bad file: see `.diagnostics` and `.ok`."""
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark is not part of the text
    loader = Loader(stdlib_search_path(path, tuple(Path(p) for p in search_path)), compile_module)
    # A rule file's own concepts are named without a module prefix.
    module = compile_module(text, path, "", loader)
    diagnostics = sorted(set(loader.diagnostics), key=Diagnostic.sort_key)
    return CompiledRules(
        path=path,
        source=text,
        rule_file=module.rule_file,
        module=module,
        diagnostics=tuple(diagnostics),
        sources=dict(loader.sources),
    )


def compile_file(
    path: str | Path, *, search_path: tuple[Path, ...] | list[Path] = ()
) -> CompiledRules:
    path_text = str(path)
    try:
        text = sources.read_source(Path(path))
    except sources.SourceError as error:
        diagnostic = error.diagnostic(path_text)
        empty = n.RuleFile(path_text, None, (), (), (), ())
        return CompiledRules(path_text, "", empty, Module(path_text, "", empty), (diagnostic,), {})
    return compile_text(text, path_text, search_path=search_path)

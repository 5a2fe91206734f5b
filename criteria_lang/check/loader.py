"""Finding the modules a rule file imports, and loading each once (check/modules.py keeps the
compiled modules for the process, so the stdlib is compiled once)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from criteria_lang.check import sources as source_files
from criteria_lang.check.modules import CachedModule, ModuleRoot, module_cache, shipped_stdlib
from criteria_lang.check.symbols import Module
from criteria_lang.core.diagnostics import Diagnostic

RULE_SUFFIX = ".crit"

# Compiles a module's text (parse, build, check): `compile(text, path, name, loader)`.
CompileModule = Callable[[str, str, str, "Loader"], Module]


@attrs.define
class Loader:
    """Finds, compiles and caches the modules a rule file imports."""

    search_path: tuple[ModuleRoot, ...]
    compile: CompileModule
    modules: dict[str, Module] = attrs.field(factory=dict)
    loading: set[str] = attrs.field(factory=set)
    sources: dict[str, str] = attrs.field(factory=dict)
    diagnostics: list[Diagnostic] = attrs.field(factory=list)
    # The modules loaded by each compile under way (innermost last), to record what a cached
    # module imported.
    imported: list[list[Module]] = attrs.field(factory=list)

    def find(self, parts: tuple[str, ...]) -> ModuleRoot | None:
        found = self.locate(parts)
        return found.path if found is not None and found.refused is None else None

    def locate(self, parts: tuple[str, ...]) -> source_files.Found | None:
        """Where `import parts` finds its file, or why the file found is refused."""
        return source_files.find_module(self.search_path, parts, RULE_SUFFIX)

    def load(self, location: ModuleRoot, name: str) -> Module | source_files.SourceError | None:
        key = str(location)
        module = self.modules.get(key)
        if module is None:
            if key in self.loading:
                return None  # an import cycle: reported by the importer
            try:
                text = source_files.read_module(location)
            except source_files.SourceError as error:
                return error
            module = self._cached(key, name, text) or self._compile(key, name, text)
            self.modules[key] = module
        if self.imported:
            self.imported[-1].append(module)
        return module

    def _compile(self, key: str, name: str, text: str) -> Module:
        self.loading.add(key)
        self.imported.append([])
        diagnostics_before = len(self.diagnostics)
        try:
            module = self.compile(text, key, name, self)
        finally:
            imported = self.imported.pop()
            self.loading.discard(key)
        if len(self.diagnostics) == diagnostics_before:
            cache_key = module_cache().key(self.search_path, key, name, text)
            module_cache().put(cache_key, CachedModule(module, tuple(imported)))
        return module

    def _cached(self, key: str, name: str, text: str) -> Module | None:
        entry = module_cache().get(module_cache().key(self.search_path, key, name, text))
        if entry is None:
            return None
        imports = entry.module.rule_file.imports
        if len(imports) != len(entry.imports):
            return None
        self.loading.add(key)
        self.imported.append([])  # what this check loads is not the importer's import
        try:
            for statement, expected in zip(imports, entry.imports, strict=True):
                location = self.find(statement.module)
                if location is None or self.load(location, statement.module[-1]) is not expected:
                    return None
        finally:
            self.imported.pop()
            self.loading.discard(key)
        self.sources[key] = text
        return entry.module


def stdlib_search_path(
    rule_path: str | None, extra: tuple[Path, ...] = ()
) -> tuple[ModuleRoot, ...]:
    """Where `import x` looks: the rule file's own folder's `stdlib/`, the given folders and
    the configured ones, then the stdlib that ships with criteria-lang (check/sources.py)."""
    return source_files.search_path(rule_path, extra, shipped_stdlib())


def rule_files(path: str | Path) -> Iterator[Path]:
    """A rule file, or every rule file under a folder (sorted)."""
    p = Path(path)
    if p.is_dir():
        yield from sorted(p.rglob(f"*{RULE_SUFFIX}"))
    else:
        yield p

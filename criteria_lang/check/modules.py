"""Where imported modules come from, and the per-process cache of compiled modules.

The stdlib ships inside the package (`criteria_lang/stdlib/*.crit`) and is found through
`importlib.resources`: a real folder in an ordinary install, a `zipfile.Path` when the package is
imported from a zip. Either is a `ModuleRoot`, searched the same way.

Compiling a module (parse, build, check) costs milliseconds, and every rule file imports the same
stdlib modules. A compiled module is therefore kept for the life of the process, keyed by its
location, its module name, the search path, and the SHA-256 of its text: an edited file has a new
key, so a stale module is never used. A module is cached only when its compile, imports
included, produced no diagnostic at all (so replaying it reports nothing that a fresh compile
would), and a cached module is used only when each of its imports still resolves to the same
compiled module (a file added earlier on the search path, or an edited imported module, makes it
compile afresh).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from criteria_lang.check.symbols import Module

__all__ = ["ModuleCache", "ModuleRoot", "module_cache", "shipped_stdlib", "source_key"]

# A folder of modules: a directory, or a folder inside the package's own resources (a zip too).
ModuleRoot = Path | Traversable

# Enough for every stdlib module under many search paths; a language server that sees a module
# edited many times drops the oldest versions.
MAX_CACHED_MODULES = 256


def shipped_stdlib() -> ModuleRoot:
    """The stdlib modules that ship with criteria-lang."""
    return resources.files("criteria_lang").joinpath("stdlib")


def source_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


CacheKey = tuple[tuple[str, ...], str, str, str]


@attrs.frozen(eq=False)
class CachedModule:
    module: Module
    # The module each of its imports resolved to, in the order of its `import` statements.
    imports: tuple[Module, ...]


class ModuleCache:
    """Compiled modules by (search path, location, name, text hash); least recently used out."""

    def __init__(self, capacity: int = MAX_CACHED_MODULES) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[CacheKey, CachedModule] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(search_path: Sequence[ModuleRoot], location: str, name: str, text: str) -> CacheKey:
        return (tuple(str(root) for root in search_path), location, name, source_key(text))

    def get(self, key: CacheKey) -> CachedModule | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: CacheKey, entry: CachedModule) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


_cache = ModuleCache()


def module_cache() -> ModuleCache:
    """The process's cache of compiled modules."""
    return _cache

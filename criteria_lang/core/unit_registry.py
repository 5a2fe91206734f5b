"""Building the pint registry in milliseconds instead of a quarter of a second.

pint's `UnitRegistry()` spends its time in two places: parsing its definition files
(`default_en.txt`, `constants_en.txt`: some 1,000 lines through flexparser) and then working out,
eagerly, the root units and dimensionality of every unit it knows. pint can keep both in a disk
cache, but that cache is pickled; we load nothing by pickle. Instead:

- the definitions are parsed once, by the developer, into `pint_definitions.json` (shipped in the
  package; `python -m criteria_lang.core.unit_registry` writes it, `--check` tests it). The file
  holds pint's own parsed definition objects as plain data, with our custom units
  (core/units.py CUSTOM_DEFINITIONS), and records the SHA-256 of the pint definition files it
  came from. When the installed pint's files or our custom units differ, the registry is built
  from pint's files as before: slower, never wrong. (core/unit_table.py reads the same file to
  answer most unit names without importing pint at all.)
- the eager pass is skipped: pint memoizes root units and dimensionality on demand
  (`_get_root_units`, `_get_dimensionality`) in the same cache the eager pass fills, so every
  answer is the same. The one thing only the eager pass provides, the table behind
  `get_compatible_units`, is not used by criteria-lang.

Exactness is unchanged: the numbers are pint's own `Fraction`s (the registry is built with
`non_int_type=Fraction`), written as numerator and denominator. tests/test_unit_registry.py
compares the resulting registry with one pint builds itself, unit by unit.

Contexts (`@context` blocks: spectroscopy, chemistry, ...) are left out; criteria-lang does its
own molar conversions (core/units.py) and never activates a pint context.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from importlib import resources
from typing import Any

import pint
from pint.facets.plain.registry import RegistryCache
from pint.util import UnitsContainer

from criteria_lang.core.generated import generator_main

__all__ = ["DEFINITIONS_FILE", "build_registry", "definitions_json", "pint_sources_sha256"]

PACKAGE = "criteria_lang.core"
DEFINITIONS_FILE = "pint_definitions.json"
FORMAT = 2
PINT_FILES = ("default_en.txt", "constants_en.txt")

# The classes a definitions file may name: pint's definition records (never anything else).
_CLASSES = (
    "pint.facets.plain.definitions:DefaultsDefinition",
    "pint.facets.plain.definitions:PrefixDefinition",
    "pint.facets.plain.definitions:UnitDefinition",
    "pint.facets.plain.definitions:DimensionDefinition",
    "pint.facets.plain.definitions:DerivedDimensionDefinition",
    "pint.facets.plain.definitions:AliasDefinition",
    "pint.facets.plain.definitions:ScaleConverter",
    "pint.facets.nonmultiplicative.definitions:OffsetConverter",
    "pint.facets.nonmultiplicative.definitions:LogarithmicConverter",
    "pint.facets.group.definitions:GroupDefinition",
    "pint.facets.system.definitions:SystemDefinition",
    "pint.facets.system.definitions:BaseUnitRule",
)
# Parsed but not kept: pint contexts (see the module docstring).
_LEFT_OUT = ("ContextDefinition",)


def pint_sources_sha256() -> str:
    """The SHA-256 of the installed pint's definition files, together."""
    digest = hashlib.sha256()
    for name in PINT_FILES:
        digest.update(resources.files("pint").joinpath(name).read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------- the registry


class _Registry(pint.UnitRegistry[Any]):
    """pint's UnitRegistry, fed with already parsed definitions, memoizing units on demand."""

    def __init__(self, definitions: Sequence[Any] | None, **options: Any) -> None:
        self._parsed_definitions = definitions
        # A filename pint never opens: `load_definitions` below takes the parsed ones instead.
        super().__init__("" if definitions is None else "<parsed definitions>", **options)

    def load_definitions(self, file: Any, is_resource: bool = False) -> Any:
        if self._parsed_definitions is None:
            return super().load_definitions(file, is_resource)
        for definition in self._parsed_definitions:
            self._helper_dispatch_adder(definition)
        return None

    def _build_cache(self, loaded_files: Any = None) -> None:
        # What pint's PlainRegistry and ContextRegistry do, without the eager pass.
        self._cache = RegistryCache()
        self._caches[()] = self._cache


def build_registry(custom: Sequence[str] = ()) -> pint.UnitRegistry[Any]:
    """The pint registry criteria-lang uses: pint's units and the `custom` definitions (pint's
    syntax), exact (non_int_type=Fraction), no disk cache. From pint_definitions.json when it
    was made from the installed pint and these custom definitions."""
    definitions = _load_definitions(custom)
    registry: pint.UnitRegistry[Any] = _Registry(
        definitions, non_int_type=Fraction, cache_folder=None, on_redefinition="raise"
    )
    if definitions is None:
        for definition in custom:
            registry.define(definition)
    return registry


def _load_definitions(custom: Sequence[str]) -> list[Any] | None:
    try:
        text = resources.files(PACKAGE).joinpath(DEFINITIONS_FILE).read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, ValueError):
        return None
    if document.get("format") != FORMAT or document.get("pint_sha256") != pint_sources_sha256():
        return None
    if document.get("custom_source") != list(custom):
        return None
    classes = {name.partition(":")[2]: _class(name) for name in _CLASSES}
    items = [*document["definitions"], *document["custom"]]
    return [_decode(item, classes) for item in items]


def _class(name: str) -> type:
    module, _, qualname = name.partition(":")
    found = getattr(importlib.import_module(module), qualname)
    assert isinstance(found, type)
    return found


# ---------------------------------------------------------------------------- the JSON form


def parse_pint_files() -> list[Any]:
    """pint's definition files, parsed by pint (what a default UnitRegistry loads)."""
    registry: pint.UnitRegistry[Any] = pint.UnitRegistry(
        None, non_int_type=Fraction, cache_folder=None
    )
    parser = registry._def_parser
    assert parser is not None
    path = resources.files("pint").joinpath(PINT_FILES[0])
    with resources.as_file(path) as file:
        project = parser.parse_file(file)
    return [
        definition
        for definition in parser.iter_parsed_project(project)
        if type(definition).__name__ not in _LEFT_OUT
    ]


def parse_custom(custom: Sequence[str]) -> list[Any]:
    """Our own definitions (pint's syntax), parsed by pint."""
    registry: pint.UnitRegistry[Any] = pint.UnitRegistry(
        None, non_int_type=Fraction, cache_folder=None
    )
    parser = registry._def_parser
    assert parser is not None
    return list(parser.iter_parsed_project(parser.parse_string("\n".join(custom))))


def definitions_json(definitions: Iterable[Any], custom: Sequence[str], sha256: str) -> str:
    document = {
        "format": FORMAT,
        "pint_version": pint.__version__,
        "pint_sha256": sha256,
        "definitions": [_encode(d) for d in definitions],
        # Ours (core/units.py CUSTOM_DEFINITIONS), as written and as parsed.
        "custom_source": list(custom),
        "custom": [_encode(d) for d in parse_custom(custom)],
    }
    return json.dumps(document, indent=None, separators=(",", ":"), ensure_ascii=True) + "\n"


def _record_class(value: Any) -> str:
    """pint's own record class (pint.facets...), not the parser's subclass of it that also
    carries line numbers."""
    allowed = {name.partition(":")[2]: name for name in _CLASSES}
    for cls in type(value).__mro__:
        name = allowed.get(cls.__qualname__)
        if name is not None and name.partition(":")[0] == cls.__module__:
            return cls.__qualname__
    raise TypeError(f"no JSON form for pint's {type(value).__module__}.{type(value).__name__}")


def _encode(value: Any) -> Any:
    if isinstance(value, Fraction):
        return {"$": "Fraction", "v": [value.numerator, value.denominator]}
    if isinstance(value, UnitsContainer):
        return {"$": "UnitsContainer", "v": [[k, _encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = _record_class(value)
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        record_fields = {f.name for f in dataclasses.fields(_class(_qualified(name))) if f.init}
        return {"$": name, **{k: v for k, v in fields.items() if k in record_fields}}
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"no JSON form for {type(value).__name__}: {value!r}")


def _qualified(qualname: str) -> str:
    return next(name for name in _CLASSES if name.partition(":")[2] == qualname)


def _decode(value: Any, classes: Mapping[str, type]) -> Any:
    if isinstance(value, list):
        # Every sequence in pint's definition records is a tuple.
        return tuple(_decode(item, classes) for item in value)
    if not isinstance(value, dict):
        return value
    kind = value["$"]
    if kind == "Fraction":
        return Fraction(*value["v"])
    if kind == "UnitsContainer":
        items = {k: _decode(v, classes) for k, v in value["v"]}
        return UnitsContainer(items, non_int_type=Fraction)
    cls = classes[kind]  # KeyError: not one of pint's definition records
    return cls(**{k: _decode(v, classes) for k, v in value.items() if k != "$"})


# ---------------------------------------------------------------------------- generation


def main(argv: Sequence[str] | None = None) -> int:
    from criteria_lang.core.units import CUSTOM_DEFINITIONS

    def generate() -> str:
        return definitions_json(parse_pint_files(), CUSTOM_DEFINITIONS, pint_sources_sha256())

    return generator_main(
        argv,
        module=f"{PACKAGE}.unit_registry",
        target=(PACKAGE, DEFINITIONS_FILE),
        description=f"Write {DEFINITIONS_FILE} from the installed pint's definition files.",
        is_current=lambda text: text == generate(),
        generate=generate,
    )


if __name__ == "__main__":
    sys.exit(main())

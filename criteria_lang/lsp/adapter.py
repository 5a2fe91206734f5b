"""The language server's one view of the checker, the lint and the formatter.

Everything the server knows about a file comes from `check.checker`'s public results (the
compiled file, its module scope, the symbols names resolve to and their spans) and from the
tools (`lint`, `fmt`), read here and nowhere else in `lsp/`: when check/ changes shape, this
module is the one to follow it. What leaves this module is our own small types (`Target`,
`Analysis`) and the typed tree of syntax/nodes.py.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from fractions import Fraction
from typing import Literal

import attrs

from criteria_lang.check import checker
from criteria_lang.check.modules import ModuleRoot
from criteria_lang.core.concepts import QuantityAttr, UnitAttr
from criteria_lang.core.derived import BUILTINS, Builtin
from criteria_lang.core.diagnostics import NO_SPAN, Diagnostic, Span
from criteria_lang.core.units import COMMON_UNITS, UnitError, get_units
from criteria_lang.syntax import nodes as n
from criteria_lang.tools import lint
from criteria_lang.tools.fmt import FormatError, format_text

TargetKind = Literal["concept", "definition", "module", "derived value", "outcome"]


@attrs.frozen
class Target:
    """What a name refers to, and where it is defined (`path` None: built into the language)."""

    kind: TargetKind
    name: str  # as the file that uses it writes it: `labs.creatinine`, `crcl`
    path: str | None
    span: Span
    title: str | None = None
    concept_kind: str | None = None  # condition, drug, lab, ... (concepts only)
    codes: tuple[str, ...] = ()  # `LOINC 2160-0`, `ICD10 M32*`, `member: drugs.prednisone`
    excluded: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # the concepts a class is made of
    unit: str | None = None
    molar_mass: Fraction | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str | None, int]:
        """Two references name the same thing when their targets have the same key."""
        return (self.path, self.span.start) if self.path is not None else (self.name, -1)


@attrs.frozen(eq=False)
class Analysis:
    """One document, compiled and linted."""

    path: str
    text: str
    rule_file: n.RuleFile
    diagnostics: tuple[Diagnostic, ...]  # the document's own (not its imports')
    _program: checker.CompiledRules

    @property
    def dates(self) -> tuple[n.Name, ...]:
        trial = self.rule_file.trial
        return trial.dates if trial is not None else ()

    @property
    def index_date(self) -> str | None:
        return self._program.index_date

    def resolve(self, parts: tuple[str, ...]) -> Target | None:
        """What a (dotted) name used in this file refers to."""
        if not parts:
            return None
        symbol = self._program.module.lookup(parts)
        return None if symbol is None else _target(symbol, ".".join(parts))

    def names_in_scope(self) -> Iterator[tuple[str, Target]]:
        """The bare names a rule in this file can use: its own and imported declarations,
        module aliases and the derived values."""
        for name, symbol in self._program.module.symbols.items():
            yield name, _target(symbol, name)
        for name, builtin in _builtins().items():
            if name not in self._program.module.symbols:
                yield name, _target(checker.BuiltinSymbol(builtin), name)

    def module_members(self, alias: str) -> Iterator[tuple[str, Target]]:
        """What `alias.` offers when `alias` is an imported module."""
        symbol = self._program.module.symbols.get(alias)
        if isinstance(symbol, checker.ModuleSymbol):
            for name, inner in symbol.module.exports.items():
                yield name, _target(inner, f"{alias}.{name}")


def analyse(text: str, path: str) -> Analysis:
    """Compile and lint a document. Never raises for what the text holds."""
    program = checker.compile_text(text, path)
    try:
        config = lint.find_config(path) if not path.startswith("<") else lint.LintConfig()
    except lint.ConfigError:
        config = lint.LintConfig()
    findings = lint.lint(program, config)
    own = tuple(d for d in findings if d.file == path)
    return Analysis(path, text, program.rule_file, own, program)


def module_members(path: str, module: tuple[str, ...]) -> Iterator[tuple[str, Target]]:
    """The declarations of a module found from `path` (for `from labs import ...`), through
    the checker: a one-line file that imports it."""
    alias = "_m"
    if not module or not all(part.isidentifier() for part in module):
        return
    program = analyse(f"import {'.'.join(module)} as {alias}\n", path)
    for name, target in program.module_members(alias):
        yield name, attrs.evolve(target, name=name)


def importable_modules(path: str) -> list[tuple[str, str]]:
    """(module name, file) for each module `import` finds from `path`: the folders of the
    module search path, the first of a name winning, as the checker looks them up."""
    found: dict[str, str] = {}
    for root in checker.stdlib_search_path(path if not path.startswith("<") else None):
        if not root.is_dir():
            continue
        for parts, file in _rule_files(root, ()):
            if all(part.isidentifier() for part in parts):
                found.setdefault(".".join(parts), file)
    return sorted(found.items())


def _rule_files(
    folder: ModuleRoot, parts: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str]]:
    """(module name parts, file) of every rule file under a folder, sorted by name. A folder of
    the package's own resources (the shipped stdlib, perhaps in a zip) has no rglob: walked."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _rule_files(entry, (*parts, entry.name))
        elif entry.name.endswith(checker.RULE_SUFFIX):
            yield (*parts, entry.name[: -len(checker.RULE_SUFFIX)]), str(entry)


def format_document(text: str, path: str) -> str | None:
    """The document in `criteria fmt`'s layout, or None when it cannot be formatted (syntax
    errors)."""
    try:
        return format_text(text, path)
    except (FormatError, RecursionError):
        return None


# ---------------------------------------------------------------------------- units


def unit_dimension(text: str) -> str | None:
    """A unit's dimension in words (`mL/min`: "volume / time"), None if it is not a unit."""
    units = get_units()
    try:
        return units.describe(units.parse(text))
    except (UnitError, ValueError, ArithmeticError):
        return None


def units_like(unit: str, molar_mass: Fraction | None = None) -> list[str]:
    """The commonly written units that convert to `unit` (`mg/dL`: mg/dL, g/L, umol/L with a
    molar mass, ...): what a threshold for that concept may be written in. The declared unit
    comes first."""
    units = get_units()
    out = [unit]
    for candidate in COMMON_UNITS:
        if candidate == unit:
            continue
        try:
            if units.compatible(unit, candidate, molar_mass=molar_mass):
                out.append(candidate)
        except (UnitError, ValueError, ArithmeticError):
            continue
    return out


# ---------------------------------------------------------------------------- symbols


@functools.cache
def _builtins() -> dict[str, Builtin]:
    return dict(BUILTINS)


def _target(symbol: checker.Symbol, name: str) -> Target:
    if isinstance(symbol, checker.ConceptSymbol):
        return _concept_target(symbol, name)
    if isinstance(symbol, checker.DefineSymbol):
        define = symbol.define
        return Target("definition", name, symbol.module.path, define.name.span, title=define.title)
    if isinstance(symbol, checker.ModuleSymbol):
        module = symbol.module
        concepts = sum(1 for s in module.exports.values() if isinstance(s, checker.ConceptSymbol))
        return Target(
            "module",
            name,
            module.path,
            NO_SPAN,
            title=f"{concepts} concepts, {len(module.exports) - concepts} definitions",
        )
    if isinstance(symbol, checker.OutcomeSymbol):
        outcome = symbol.outcome
        return Target("outcome", name, symbol.module.path, outcome.id.span, title=outcome.text)
    builtin = symbol.builtin
    return Target(
        "derived value",
        name,
        None,
        NO_SPAN,
        title=builtin.title,
        unit=builtin.unit,
        attributes=(("source", builtin.source),),
    )


def _concept_target(symbol: checker.ConceptSymbol, name: str) -> Target:
    concept = symbol.concept
    unit = concept.attributes.get("unit")
    molar = concept.attributes.get("molar_mass")
    molar_mass = None
    if isinstance(molar, QuantityAttr):
        molar_mass = get_units().convert(molar.value, molar.unit, "g/mol")
    elif isinstance(molar, Fraction):
        molar_mass = molar
    return Target(
        "concept",
        name,
        symbol.module.path,
        symbol.decl.name.span,
        title=concept.title,
        concept_kind=concept.kind,
        codes=_codes(concept.codes, concept.prefixes),
        excluded=_codes(concept.excluded_codes, concept.excluded_prefixes),
        members=tuple(member.name for member in concept.members),
        unit=unit.unit if isinstance(unit, UnitAttr) else None,
        molar_mass=molar_mass,
        attributes=tuple(
            (key, _attribute_text(value))
            for key, value in sorted(concept.attributes.items())
            if key not in ("unit",)
        ),
    )


def _codes(
    codes: frozenset[tuple[str, str]], prefixes: tuple[tuple[str, str], ...]
) -> tuple[str, ...]:
    own = sorted(f"{system.upper()} {code}" for system, code in codes)
    own += sorted(f"{system.upper()} {code}*" for system, code in prefixes)
    return tuple(own)


def _attribute_text(value: object) -> str:
    if isinstance(value, QuantityAttr):
        return f"{_number(value.value)} {value.unit}"
    if isinstance(value, UnitAttr):
        return value.unit
    if isinstance(value, Fraction):
        return _number(value)
    return str(value)


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):g}"
